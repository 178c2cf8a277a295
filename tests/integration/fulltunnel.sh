#!/bin/bash
# Full tunnel (AllowedIPs = 0.0.0.0/0, ::/0): the client's only uplink is the
# server; everything but the tunnel's own UDP goes through the tunnel, a
# kill switch holds when the daemon dies, and down / a crash / a failed up
# leave rules, routes, nftables and the sysctl exactly as they were.
#
#   [ns cli]                          [ns srv]                          [ns net] ("internet")
#   veth0 198.18.5.2/24 ----------- veth0 198.18.5.1/24
#         2001:db8:4::2/64                2001:db8:4::1/64
#     default via 198.18.5.1          veth1 198.18.6.1/24 ------------ veth0 198.18.6.2/24
#     default via 2001:db8:4::1
#                                         2001:db8:6::1/64                   2001:db8:6::2/64
#   FC 198.19.5.2/24                  FS 198.19.5.1/24                 default via srv
#      2001:db8:5::2/64                  2001:db8:5::1/64, forwarding on
#   AllowedIPs 0.0.0.0/0, ::/0        AllowedIPs 198.19.5.2/32, 2001:db8:5::2/128
set -e
. "$(dirname "$0")/lib.sh"
FC=$(ifname ft-c) FS=$(ifname ft-s)

ns_new cli; ns_new srv; ns_new net
veth "$cli" 198.18.5.2/24 "$srv" 198.18.5.1/24 veth0 veth0
veth "$srv" 198.18.6.1/24 "$net" 198.18.6.2/24 veth1 veth0
ip -n "$srv" addr add 2001:db8:6::1/64 dev veth1 nodad
ip -n "$net" addr add 2001:db8:6::2/64 dev veth0 nodad
ip -n "$cli" route add default via 198.18.5.1
# An IPv6 uplink too, so that "IPv6 outside unreachable" under the kill
# switch is a finding, not a given (checked reachable before any tunnel).
ip -n "$cli" addr add 2001:db8:4::2/64 dev veth0 nodad
ip -n "$srv" addr add 2001:db8:4::1/64 dev veth0 nodad
ip -n "$cli" -6 route add default via 2001:db8:4::1
ip -n "$net" route add default via 198.18.6.1
ip -n "$net" -6 route add default via 2001:db8:6::1
ip netns exec "$srv" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$srv" sysctl -qw net.ipv6.conf.all.forwarding=1
# Counts what the client sends past the server outside the tunnel (a leak):
# IPv4 and IPv6 for anything but the server's uplink addresses (IPv6 in the
# test prefix).
ip netns exec "$srv" nft -f - <<'EON'
table inet leak {
	chain in {
		type filter hook prerouting priority 0;
		iifname "veth0" ip daddr != 198.18.5.1 counter
		iifname "veth0" ip6 daddr 2001:db8::/32 ip6 daddr != 2001:db8:4::1 counter
	}
}
EON
leaks() { ip netns exec "$srv" nft list table inet leak | grep -o 'packets [0-9]*' | awk '{n += $2} END {print n}'; }

keypair kc; keypair ks
cat > "$WORK/$FS.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.5.1/24, 2001:db8:5::1/64
ListenPort = 51820

[Peer]
PublicKey = $kc_pub
AllowedIPs = 198.19.5.2/32, 2001:db8:5::2/128
EOC
client_conf() {	# client_conf [EXTRA-INTERFACE-LINE [ALLOWED-IPS]]
	cat > "$WORK/$FC.conf" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.5.2/24, 2001:db8:5::2/64
$1

[Peer]
PublicKey = $ks_pub
AllowedIPs = ${2:-0.0.0.0/0, ::/0}
Endpoint = 198.18.5.1:51820
PersistentKeepalive = 1
EOC
	chmod 600 "$WORK/$FC.conf"
}
chmod 600 "$WORK/$FS.conf"
vpnd_up "$srv" "$WORK/$FS.conf"

# Everything a full tunnel touches, in the client's namespace.
snap() {
	{
		ip -n "$cli" link; ip -n "$cli" addr
		ip -n "$cli" rule; ip -n "$cli" -6 rule
		ip -n "$cli" route show table all; ip -n "$cli" -6 route show table all
		ip netns exec "$cli" nft list ruleset
		ip netns exec "$cli" sysctl net.ipv4.conf.all.src_valid_mark
	} > "$1" 2>&1
}
same_as() { snap "$WORK/now"; diff -u "$1" "$WORK/now"; }
gone() { for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
# IPv6 duplicate address detection changes "ip addr" on its own: done first.
wait_for 10 sh -c "! ip -n $cli addr | grep -q tentative"
check "without a tunnel, IPv6 beyond the server is reachable by the uplink" \
	ip netns exec "$cli" ping -6 -c 1 -W 2 2001:db8:6::2
check "without a tunnel, IPv4 too" ip netns exec "$cli" ping -c 1 -W 2 198.18.6.2
leaks0=$(leaks)	# those two pings
snap "$WORK/before"

# --- up, traffic, down --------------------------------------------------------
client_conf ""
vpnd_up "$cli" "$WORK/$FC.conf"
check "outside address routed through the tunnel" \
	sh -c "ip -n $cli route get 198.18.6.2 | grep -q 'dev $FC'"
check "outside IPv6 address routed through the tunnel" \
	sh -c "ip -n $cli -6 route get 2001:db8:6::2 | grep -q 'dev $FC'"
check "the tunnel's own UDP (fwmark 51820) still leaves by the uplink" \
	sh -c "ip -n $cli route get 198.18.6.2 mark 51820 | grep -q 'dev veth0'"
check "rules: not fwmark 51820 lookup 51820, main suppress_prefixlength 0" \
	sh -c "ip -n $cli rule | grep -q 'not from all fwmark 0xca6c lookup 51820' &&
	       ip -n $cli rule | grep -q 'lookup main suppress_prefixlength 0' &&
	       ip -n $cli -6 rule | grep -q 'not from all fwmark 0xca6c lookup 51820'"
check "src_valid_mark = 1 while up" \
	test "$(ip netns exec "$cli" sysctl -n net.ipv4.conf.all.src_valid_mark)" = 1
check "nftables table inet vpnd-$FC with the anti-spoof rule" \
	sh -c "ip netns exec $cli nft list table inet vpnd-$FC | grep -q 'ip daddr 198.19.5.2 fib saddr type != local drop'"
check "wg show: fwmark 0xca6c on the socket" \
	sh -c "ip netns exec $cli wg show $FC fwmark | grep -qx 0xca6c"
check "ping the server through the tunnel" ip netns exec "$cli" ping -c 2 -i 0.2 -W 2 198.19.5.1
check "ping the internet beyond the server (IPv4)" \
	ip netns exec "$cli" ping -c 2 -i 0.2 -W 2 198.18.6.2
check "ping the internet beyond the server (IPv6)" \
	ip netns exec "$cli" ping -6 -c 2 -i 0.2 -W 2 2001:db8:6::2
check "nothing left the uplink outside the tunnel" test "$(leaks)" = "$leaks0"
check "vpnd reload keeps the full tunnel's fwmark" \
	sh -c "ip netns exec $cli $VPND reload $WORK/$FC.conf && ip netns exec $cli wg show $FC fwmark | grep -qx 0xca6c"
check "after reload: ping the internet beyond the server" \
	ip netns exec "$cli" ping -c 2 -i 0.2 -W 2 198.18.6.2
check "vpnd down" ip netns exec "$cli" "$VPND" down "$FC"
check "down leaves rules, routes, nftables, sysctl exactly as before" same_as "$WORK/before"

# --- a /0 of one family alone (no /1 pair needed) ---------------------------------
client_conf "" "0.0.0.0/0, 2001:db8:5::1/128"
vpnd_up "$cli" "$WORK/$FC.conf"
check "IPv4 /0 alone: outside address through the tunnel" \
	sh -c "ip -n $cli route get 198.18.6.2 | grep -q 'dev $FC'"
check "IPv4 /0 alone: ping the internet beyond the server" \
	ip netns exec "$cli" ping -c 2 -i 0.2 -W 2 198.18.6.2
check "IPv4 /0 alone: no IPv6 rule" sh -c "! ip -n $cli -6 rule | grep -q 51820"
check "vpnd down" ip netns exec "$cli" "$VPND" down "$FC"
check "... exactly as before" same_as "$WORK/before"
client_conf ""

# --- the worker crashes: the monitor cleans up -------------------------------------
vpnd_up "$cli" "$WORK/$FC.conf"
monitor=$(cat "/var/run/vpnd/$FC.pid")
worker=$(pgrep -P "$monitor")
kill -9 "$worker"
check "worker killed: the monitor removes everything" \
	sh -c "$(declare -f gone); gone $monitor"
check "... exactly as before" same_as "$WORK/before"

# --- table 51820 in use (someone's route), 51821 too (a rule): the next free one, as wg-quick
ip -n "$cli" route add blackhole default table 51820
ip -n "$cli" rule add from 198.18.99.1 lookup 51821
snap "$WORK/blocked"
ip -n "$cli" route show table 51820 > "$WORK/t51820.before"
vpnd_up "$cli" "$WORK/$FC.conf"
check "tables 51820 and 51821 in use: fwmark and table 51822 (0xca6e)" \
	sh -c "ip netns exec $cli wg show $FC fwmark | grep -qx 0xca6e &&
	       ip -n $cli rule | grep -q 'not from all fwmark 0xca6e lookup 51822' &&
	       ip -n $cli route show table 51822 | grep -q '^default dev $FC'"
check "table 51822: ping the internet beyond the server" \
	ip netns exec "$cli" ping -c 2 -i 0.2 -W 2 198.18.6.2
check "vpnd reload keeps the picked fwmark 51822, not 51820" \
	sh -c "ip netns exec $cli $VPND reload $WORK/$FC.conf && ip netns exec $cli wg show $FC fwmark | grep -qx 0xca6e"
check "table 51820 untouched while up" \
	sh -c "ip -n $cli route show table 51820 | cmp - $WORK/t51820.before"
check "vpnd down" ip netns exec "$cli" "$VPND" down "$FC"
check "... exactly as before (the other tables' route and rule kept)" same_as "$WORK/blocked"
ip -n "$cli" rule del from 198.18.99.1 lookup 51821
ip -n "$cli" route del blackhole default table 51820

# --- KillSwitch: the daemon dies, nothing leaks, down removes it -----------------------
client_conf "KillSwitch = true"
vpnd_up "$cli" "$WORK/$FC.conf"
check "kill switch: ping through the tunnel" \
	ip netns exec "$cli" ping -c 2 -i 0.2 -W 2 198.18.6.2
monitor=$(cat "/var/run/vpnd/$FC.pid")
kill -9 "$monitor"
check "monitor killed: the interface goes" \
	sh -c "for i in \$(seq 50); do ip -n $cli link show $FC >/dev/null 2>&1 || exit 0; sleep 0.1; done; exit 1"
before_leaks=$(leaks)
check "kill switch: an outside address is unreachable" \
	sh -c "! ip -n $cli route get 198.18.6.2"
check "kill switch: ping outside fails" \
	sh -c "! ip netns exec $cli ping -c 2 -i 0.2 -W 1 198.18.6.2"
check "kill switch: IPv6 outside unreachable too (reachable by the uplink without it)" \
	sh -c "! ip netns exec $cli ping -6 -c 1 -W 1 2001:db8:6::2"
check "kill switch: nothing leaked out of the uplink" test "$(leaks)" = "$before_leaks"
check "kill switch: the uplink's own subnet still works" \
	ip netns exec "$cli" ping -c 1 -W 2 198.18.5.1
check "vpnd down removes the kill switch of a dead daemon" \
	ip netns exec "$cli" "$VPND" down "$FC"
check "... exactly as before" same_as "$WORK/before"
check "vpnd down again: not up" sh -c "! ip netns exec $cli $VPND down $FC"

# --- KillSwitch, the worker crashes: the monitor leaves the switch on ----------------
vpnd_up "$cli" "$WORK/$FC.conf"
monitor=$(cat "/var/run/vpnd/$FC.pid")
kill -9 "$(pgrep -P "$monitor")"
check "worker killed: the monitor ends" sh -c "$(declare -f gone); gone $monitor"
before_leaks=$(leaks)
check "kill switch after a worker crash: ping outside fails" \
	sh -c "! ip netns exec $cli ping -c 2 -i 0.2 -W 1 198.18.6.2"
check "kill switch after a worker crash: nothing leaked" test "$(leaks)" = "$before_leaks"
check "vpnd down removes it" ip netns exec "$cli" "$VPND" down "$FC"
check "... exactly as before" same_as "$WORK/before"

# --- two full tunnels at once: src_valid_mark stays 1 until the last one goes -----------
FC2=$(ifname ft-d)
keypair kd
cat > "$WORK/$FC2.conf" <<EOC
[Interface]
PrivateKey = $kd_priv
Address = 198.19.7.2/24

[Peer]
PublicKey = $ks_pub
AllowedIPs = 0.0.0.0/0
Endpoint = 198.18.5.1:51820
EOC
chmod 600 "$WORK/$FC2.conf"
client_conf
vpnd_up "$cli" "$WORK/$FC.conf"
vpnd_up "$cli" "$WORK/$FC2.conf"
check "second full tunnel: its own table (51821)" \
	sh -c "ip netns exec $cli wg show $FC2 fwmark | grep -qx 0xca6d"
check "vpnd down of the first" ip netns exec "$cli" "$VPND" down "$FC"
check "src_valid_mark still 1: the second full tunnel needs it" \
	test "$(ip netns exec "$cli" sysctl -n net.ipv4.conf.all.src_valid_mark)" = 1
check "the second still reaches the server's uplink through its rules" \
	sh -c "ip -n $cli rule | grep -q 'not from all fwmark 0xca6d lookup 51821'"
check "vpnd down of the second" ip netns exec "$cli" "$VPND" down "$FC2"
check "... exactly as before (src_valid_mark back to its old value)" same_as "$WORK/before"

# --- a full tunnel whose name cannot name an nftables table: refused before anything
BADN="f=$TOKEN"
cp "$WORK/$FC.conf" "$WORK/$BADN.conf"
check "full tunnel on '$BADN' refused, naming the name" \
	sh -c "! ip netns exec $cli $VPND up $WORK/$BADN.conf 2> $WORK/badn.err &&
	       grep -qF \"nftables table): '$BADN'\" $WORK/badn.err || { cat $WORK/badn.err; exit 1; }"
check "... nothing touched" same_as "$WORK/before"
# --- nft cannot delete the table at down: said, and the next down retries
mkdir -p "$WORK/fakebin"
cat > "$WORK/fakebin/nft" <<'EOS'
#!/bin/sh
[ "$1 $2" = "-f -" ] && exit 1	# vpnd's delete transaction (fulltunnel.c)
exec /usr/sbin/nft "$@"
EOS
chmod 755 "$WORK/fakebin/nft"
PATH="$WORK/fakebin:$PATH" vpnd_up "$cli" "$WORK/$FC.conf"
check "vpnd down with an nft that fails to delete" ip netns exec "$cli" "$VPND" down "$FC"
check "the failure is logged, naming the table" \
	grep -q "nft delete table inet vpnd-$FC failed: the table may be still there" "$WORK/$FC.log"
check "the state stays for a retry" test -e "/var/run/vpnd/$FC.fulltunnel"
check "vpnd down again (nft works now) removes what is left" \
	ip netns exec "$cli" "$VPND" down "$FC"
check "... exactly as before" same_as "$WORK/before"
client_conf "KillSwitch = true"

# --- KillSwitch, the next up replaces what the dead daemon left -----------------------
vpnd_up "$cli" "$WORK/$FC.conf"
kill -9 "$(cat "/var/run/vpnd/$FC.pid")"
sleep 0.5
vpnd_up "$cli" "$WORK/$FC.conf"
check "up after a crash: traffic through the tunnel again" \
	ip netns exec "$cli" ping -c 2 -i 0.2 -W 2 198.18.6.2
check "up after a crash: one rule each, not two" \
	test "$(ip -n "$cli" rule | grep -c 'lookup 51820')" = 1
check "vpnd down" ip netns exec "$cli" "$VPND" down "$FC"
check "... exactly as before" same_as "$WORK/before"
finish
