#!/bin/bash
# README's client walk-through, taken from README.md itself and run step by
# step as written, each step on the machine its "# N. on the MACHINE:" line
# names, as in an operator's shell that stays open between steps (the
# working directory and umask 077 carry over). Only three things differ,
# by substitution: /etc/vpnd is a scratch directory per machine
# (VPND_CONFIG_DIR too), and the interfaces "wg0", "laptop" and "box" (and
# the namespace "box") are "wg0-<token>", ... (/var/run/vpnd,
# /var/run/wireguard and namespace names are shared by all tests and runs). The public keys the README says to send
# are copied from one directory to the other between steps. Besides the
# steps' own output, the test counts what leaves the laptop outside the
# tunnel and what the internet receives from the server.
#
#   [ns lap] "laptop"                 [ns srv] "server"                  [ns net] "the internet"
#   eth0 198.18.0.2/24 ------------- eth0 198.18.0.1/24
#     default via 198.18.0.1           eth1 198.18.2.1/24 -------------- eth0 198.18.2.2/24
#                                           2001:db8:2::1/64                  2001:db8:2::2/64
#   laptop 198.19.5.2/24,            wg0 198.19.5.1/24, 2001:db8:5::1/64
#          2001:db8:5::2/64            udp 51820, forwarding, masquerade on eth1
#   AllowedIPs 0.0.0.0/0, ::/0, DNS, KillSwitch
#   [ns box] (step 7, made by the step) "box" 198.19.5.2/24: the laptop's tunnel,
#   moved there, its UDP socket staying in ns lap
set -e
. "$(dirname "$0")/lib.sh"
README=$(cd "$(dirname "$0")/../.." && pwd)/README.md
WG=$(ifname wg0) LT=$(ifname laptop) BOX=$(ifname box)

ns_new lap; ns_new srv; ns_new net
# /etc/netns/NAME is ours to remove (ip netns del leaves it).
trap 'rm -rf "/etc/netns/$lap"; cleanup' EXIT
veth "$lap" 198.18.0.2/24 "$srv" 198.18.0.1/24 eth0 eth0
veth "$srv" 198.18.2.1/24 "$net" 198.18.2.2/24 eth1 eth0
ip -n "$srv" addr add 2001:db8:2::1/64 dev eth1 nodad
ip -n "$net" addr add 2001:db8:2::2/64 dev eth0 nodad
ip -n "$lap" route add default via 198.18.0.1
# The laptop's own resolv.conf and resolvconf state (ip netns exec mounts
# /etc/netns/NAME/* over /etc), as in dns.sh.
mkdir -p "/etc/netns/$lap" "$WORK/resolvconf"
echo "nameserver 198.18.0.1" > "/etc/netns/$lap/resolv.conf"
printf 'resolv_conf=/etc/resolv.conf\nstate_dir=%s/resolvconf\n' "$WORK" > "/etc/netns/$lap/resolvconf.conf"
# Leaks: what the laptop sends the server outside the tunnel, to anything
# but the server itself. Pings: what reaches the internet from the server.
ip netns exec "$srv" nft -f - <<'EON'
table inet leak {
	chain in {
		type filter hook prerouting priority 0;
		iifname "eth0" ip daddr != 198.18.0.1 counter
		iifname "eth0" ip6 daddr 2001:db8::/32 counter
	}
}
EON
ip netns exec "$net" nft -f - <<'EON'
table inet seen {
	chain in {
		type filter hook input priority 0;
		ip saddr 198.18.2.1 icmp type echo-request counter
		ip6 saddr 2001:db8:2::1 icmpv6 type echo-request counter
	}
}
EON
counters() { ip netns exec "$1" nft list table inet "$2" | grep -o 'packets [0-9]*' | awk '{print $2}' | paste -sd' '; }
leaks() { counters "$srv" leak | awk '{print $1 + $2}'; }

# The walk-through: the sh block of README's "Client walk-through".
awk '/^## Client walk-through/ {s = 1} s && /^```sh/ {b = 1; next} b && /^```/ {exit} b' \
	"$README" > "$WORK/walk.sh"
step_text() { awk -v n="$1" '/^# [0-9]+\. / {cur = $2 + 0} cur == n' "$WORK/walk.sh"; }
step_machine() { step_text "$1" | head -1 | sed -n 's/^# [0-9]*\. on the \([a-z]*\):.*/\1/p'; }
declare -A NS=([laptop]=$lap [server]=$srv) DIR=([laptop]=$WORK/etc-laptop [server]=$WORK/etc-server)
BIN=$(dirname "$VPND")

# step N: runs step N on its machine; its output in $WORK/stepN.out.
step() {
	local m text
	m=$(step_machine "$1")
	[ -n "${NS[$m]}" ] || { echo "step $1: no 'on the laptop|server' line"; return 1; }
	text=$(step_text "$1" | sed -e "s/\bwg0\b/$WG/g" -e "s/\blaptop\b/$LT/g" \
		-e "s/\bbox\b/$BOX/g" \
		-e "s|/etc/vpnd|${DIR[$m]}|g")
	ip netns exec "${NS[$m]}" env VPND_CONFIG_DIR="${DIR[$m]}" PATH="$BIN:$PATH" \
		VPND_LOG="$WORK/$m.log" bash -e -c "if [ -d ${DIR[$m]} ]; then cd ${DIR[$m]}; fi; umask 077
$text" \
		> "$WORK/step$1.out" 2>&1 || { tail -20 "$WORK/step$1.out"; return 1; }
}
out() { grep -q -- "$2" "$WORK/step$1.out"; }
check "README: seven steps, each on the laptop or the server" \
	sh -c "[ \$(grep -c '^# [0-9]*\. on the \(laptop\|server\):' $WORK/walk.sh) = 7 ]"

# 1. the laptop's keys
check "1. laptop: keys" step 1
check "1. laptop.key is 0600" test "$(stat -c %a "${DIR[laptop]}/$LT.key")" = 600
mkdir -p "${DIR[server]}"
cp "${DIR[laptop]}/$LT.pub" "${DIR[server]}/"		# "send laptop.pub to the server"

# 2. the server
check "2. server: config, vpnd up, forwarding, masquerade" step 2
cp "/var/run/vpnd/$WG.pid" "$WORK/$WG.pidfile"
cp "${DIR[server]}/server.pub" "${DIR[laptop]}/"	# "send server.pub to the laptop"

# 3. the laptop's full tunnel
wait_for 10 sh -c "! ip -n $lap addr | grep -q tentative"
snap() { ip -n "$lap" link; ip netns exec "$lap" nft list ruleset; ip netns exec "$lap" sysctl net.ipv4.conf.all.src_valid_mark; }
snap > "$WORK/lap.before" 2>&1
check "3. laptop: config, vpnd up" step 3
[ -f "/var/run/vpnd/$LT.pid" ] && cp "/var/run/vpnd/$LT.pid" "$WORK/$LT.pidfile"

# 4. everything through the tunnel
check "4. laptop: the checks run" step 4
check "4. ip route get: the internet through the tunnel, table 51820" \
	out 4 "^198.18.2.2 dev $LT table 51820 src 198.19.5.2"
check "4. ip -6 route get: through the tunnel too" out 4 "^2001:db8:2::2 .*dev $LT table 51820"
check "4. the tunnel's own packets (mark 51820) leave by eth0" \
	out 4 "^198.18.2.2 via 198.18.0.1 dev eth0 .*mark 0xca6c"
check "4. resolv.conf: the server's DNS and search domain" \
	sh -c "grep -qx 'nameserver 198.19.5.1' $WORK/step4.out && grep -qx 'search example.test' $WORK/step4.out"
check "4. both pings answered" sh -c "[ \$(grep -c ' 2 received' $WORK/step4.out) = 2 ]"
check "4. vpnd show: a handshake" out 4 "latest handshake: "
check "4. the internet got the pings from the server's address (IPv4, IPv6)" \
	sh -c "$(declare -f counters); [ \"\$(counters $net seen)\" = '2 2' ]"
check "4. nothing left the laptop outside the tunnel" test "$(leaks)" = 0

# 5. the kill switch
check "5. laptop: daemon killed, ping refused" step 5
check "5. the kill switch held (ping failed)" out 5 "nothing leaves: the kill switch holds"
check "5. the interface went with the daemon" sh -c "! ip -n $lap link show $LT"
check "5. nothing left the laptop outside the tunnel" test "$(leaks)" = 0
rm -f "$WORK/$LT.pidfile"	# dead: its pid is not ours to kill any more

# 6. down, as before
check "6. laptop: vpnd down, diff" step 6
check "6. rules, routes and resolv.conf as before (the README's diff)" out 6 "^as before$"
check "6. links, nftables and src_valid_mark as before too" \
	sh -c "$(declare -f snap); lap=$lap; snap 2>&1 | diff -u $WORK/lap.before -"
nothing_left() { ! ls /var/run/vpnd /var/run/wireguard | grep -F "$LT."; }
check "6. nothing of the laptop's left in /var/run/vpnd, /var/run/wireguard" nothing_left

# 7. a container's only network
NAMESPACES+=("$BOX")	# made by the step; deleted at exit should the step fail
check "7. laptop: vpnd up --netns, ping from the container, down" step 7
[ -f "/var/run/vpnd/$BOX.pid" ] && cp "/var/run/vpnd/$BOX.pid" "$WORK/$BOX.pidfile"
check "7. the container's only route is the tunnel" out 7 "^default dev $BOX"
check "7. the container reached the internet" out 7 " 2 received"
check "7. nothing left the laptop outside the tunnel" test "$(leaks)" = 0
check "7. the container's namespace is gone" test ! -e "/var/run/netns/$BOX"
check "the server is still up" ip netns exec "$srv" wg show "$WG"
cd /
finish
