#!/bin/bash
# vpnd <-> vpnd: ping and iperf3 (TCP and UDP) through the tunnel, IPv4 and
# IPv6 inside, over an IPv4 and over an IPv6 underlay; a jumbo MTU; and a
# persistent keepalive that keeps an idle tunnel talking.
#
#   1. IPv4 underlay                     (veth 198.18.4.1/24 <-> .2)
#      [ns a] vva4 198.19.4.1, 2001:db8:4::1 ====UDP 51820==== [ns b] vvb4 198.19.4.2, 2001:db8:4::2
#
#   2. IPv6 underlay                     (veth 2001:db8:ffff::1/64 <-> ::2)
#      [ns c] vva6 198.19.6.1, 2001:db8:6::1 ====UDP 51820==== [ns d] vvb6 198.19.6.2, 2001:db8:6::2
#
#   3. Jumbo MTU: tunnels MTU 8920, veth MTU 9000 (veth 198.18.7.1/24 <-> .2)
#      [ns e] vvja 198.19.7.1, 2001:db8:7::1  ====UDP 51820==== [ns f] vvjb 198.19.7.2, 2001:db8:7::2
#
#   4. Persistent keepalive, no traffic  (veth 198.18.8.1/24 <-> .2)
#      [ns g] vvka 198.19.8.1                 ====UDP 51820==== [ns h] vvkb 198.19.8.2
#      PersistentKeepalive = 1 on vvka (which knows vvkb's endpoint); vvkb
#      must see a handshake and growing rx bytes without any ping.
#
# In each pair the left side has the Endpoint, the right side learns it.
# iperf3 servers run with -1 -D --pidfile $WORK/*.pidfile (killed on exit).
set -e
. "$(dirname "$0")/lib.sh"
A4=$(ifname vva4) B4=$(ifname vvb4) A6=$(ifname vva6) B6=$(ifname vvb6) JA=$(ifname vvja) JB=$(ifname vvjb) KA=$(ifname vvka) KB=$(ifname vvkb)

# pair LEFT_IF RIGHT_IF LEFT_NS RIGHT_NS LEFT_V4 RIGHT_V4 LEFT_V6 RIGHT_V6 ENDPOINT [EXTRA_IFACE [EXTRA_PEER_LEFT]]
# Writes $WORK/LEFT_IF.conf and $WORK/RIGHT_IF.conf and brings both up, right
# then left. EXTRA_IFACE goes in both [Interface]s, EXTRA_PEER_LEFT in the
# left side's [Peer].
pair() {
	local lif=$1 rif=$2 lns=$3 rns=$4 l4=$5 r4=$6 l6=$7 r6=$8 ep=$9
	local extra_if=${10} extra_peer=${11}
	local laddr raddr lallowed rallowed
	keypair kl; keypair kr
	laddr="$l4/24${l6:+, $l6/64}"; raddr="$r4/24${r6:+, $r6/64}"
	lallowed="$l4/32${l6:+, $l6/128}"; rallowed="$r4/32${r6:+, $r6/128}"
	cat > "$WORK/$lif.conf" <<-EOC
		[Interface]
		PrivateKey = $kl_priv
		Address = $laddr
		ListenPort = 51820
		$extra_if

		[Peer]
		PublicKey = $kr_pub
		AllowedIPs = $rallowed
		Endpoint = $ep
		$extra_peer
	EOC
	cat > "$WORK/$rif.conf" <<-EOC
		[Interface]
		PrivateKey = $kr_priv
		Address = $raddr
		ListenPort = 51820
		$extra_if

		[Peer]
		PublicKey = $kl_pub
		AllowedIPs = $lallowed
	EOC
	chmod 600 "$WORK/$lif.conf" "$WORK/$rif.conf"
	# The passive side first: an initiation sent to a port nobody listens
	# on yet is only retried after REKEY_TIMEOUT (5 s).
	vpnd_up "$rns" "$WORK/$rif.conf"
	vpnd_up "$lns" "$WORK/$lif.conf"
}

# iperf LABEL SERVER_NS CLIENT_NS SERVER_ADDR CLIENT_ARGS...: one iperf3 run
# (server -1 -D bound to SERVER_ADDR); output kept in $WORK/iperf-LABEL.out.
iperf() {
	local label=$1 sns=$2 cns=$3 addr=$4
	local pf="$WORK/iperf-$label.pidfile" out="$WORK/iperf-$label.out"
	shift 4
	ip netns exec "$sns" iperf3 -s -1 -D -B "$addr" --pidfile "$pf"
	wait_for 5 sh -c "ip netns exec '$sns' ss -Hltn 'sport = :5201' | grep -q LISTEN"
	if ! timeout 20 ip netns exec "$cns" iperf3 -c "$addr" "$@" > "$out" 2>&1; then
		cat "$out"
		return 1
	fi
	grep -q receiver "$out"
}

# Prints the receiver summary of an iperf run (never asserted on).
rate() {
	local line
	line=$(grep receiver "$WORK/iperf-$1.out" 2>/dev/null | tail -1 | sed 's/^\[ *[0-9]*\] *//')
	echo "     throughput $1: ${line:-(none)}"
}

# traffic NS_LEFT NS_RIGHT RIGHT_V4 RIGHT_V6 TAG: the ping/iperf3 battery.
traffic() {
	local lns=$1 rns=$2 r4=$3 r6=$4 tag=$5
	check "$tag: ping IPv4 inside" ip netns exec "$lns" ping -c 3 -i 0.2 -W 2 "$r4"
	check "$tag: ping IPv6 inside" ip netns exec "$lns" ping -6 -c 3 -i 0.2 -W 2 "$r6"
	check "$tag: iperf3 TCP, IPv4 inside" iperf "$tag-tcp4" "$rns" "$lns" "$r4" -t 3
	rate "$tag-tcp4"
	check "$tag: iperf3 TCP, IPv6 inside" iperf "$tag-tcp6" "$rns" "$lns" "$r6" -6 -t 3
	rate "$tag-tcp6"
	check "$tag: iperf3 UDP 200M, IPv4 inside" iperf "$tag-udp4" "$rns" "$lns" "$r4" -u -b 200M -t 2
	rate "$tag-udp4"
	check "$tag: iperf3 UDP 200M, IPv6 inside" iperf "$tag-udp6" "$rns" "$lns" "$r6" -6 -u -b 200M -t 2
	rate "$tag-udp6"
	# The tunnel still works after the load.
	check "$tag: ping IPv4 inside after load" ip netns exec "$lns" ping -c 2 -i 0.2 -W 2 "$r4"
}

# rx_bytes NS IF: bytes received from all peers, per wg(8). "%.0f": mawk
# prints a sum over 2^31 as 2.1e+09, and its %d stops at 2^31 - 1.
rx_bytes() {
	ip netns exec "$1" wg show "$2" transfer | awk '{ s += $2 } END { printf "%.0f\n", s }'
}

ns_new a; ns_new b; ns_new c; ns_new d; ns_new e; ns_new f; ns_new g; ns_new h

# --- 1. IPv4 underlay ---
veth "$a" 198.18.4.1/24 "$b" 198.18.4.2/24
pair ${A4} ${B4} "$a" "$b" 198.19.4.1 198.19.4.2 2001:db8:4::1 2001:db8:4::2 198.18.4.2:51820
traffic "$a" "$b" 198.19.4.2 2001:db8:4::2 v4under
# Bulk from the side that only learned its peer's endpoint.
check "v4under: iperf3 TCP reverse (-R), IPv4 inside" iperf v4under-tcp4R "$b" "$a" 198.19.4.2 -R -t 2
rate v4under-tcp4R
check "v4under: ping back b -> a (endpoint learned)" ip netns exec "$b" ping -c 2 -i 0.2 -W 2 198.19.4.1
check "v4under: vpnd show reports a handshake and transfer" \
	sh -c "ip netns exec $a $VPND show ${A4} | tee /dev/stderr | grep -q 'latest handshake: [0-9]' &&
	       ip netns exec $a $VPND show ${A4} | grep -q 'transfer: '"
check "v4under: b learned a's endpoint 198.18.4.1:51820" \
	sh -c "ip netns exec $b wg show ${B4} endpoints | grep -q '198.18.4.1:51820'"

# --- 2. IPv6 underlay ---
veth "$c" 2001:db8:ffff::1/64 "$d" 2001:db8:ffff::2/64
check "v6under: underlay ping" wait_for 5 ip netns exec "$c" ping -6 -c 1 -W 1 2001:db8:ffff::2
pair ${A6} ${B6} "$c" "$d" 198.19.6.1 198.19.6.2 2001:db8:6::1 2001:db8:6::2 '[2001:db8:ffff::2]:51820'
traffic "$c" "$d" 198.19.6.2 2001:db8:6::2 v6under
check "v6under: ping back d -> c, IPv6 inside" ip netns exec "$d" ping -6 -c 2 -i 0.2 -W 2 2001:db8:6::1
check "v6under: d learned c's endpoint [2001:db8:ffff::1]:51820" \
	sh -c "ip netns exec $d wg show ${B6} endpoints | grep -qF '[2001:db8:ffff::1]:51820'"

# --- 3. Jumbo MTU ---
veth "$e" 198.18.7.1/24 "$f" 198.18.7.2/24
ip -n "$e" link set veth0 mtu 9000
ip -n "$f" link set veth0 mtu 9000
pair ${JA} ${JB} "$e" "$f" 198.19.7.1 198.19.7.2 2001:db8:7::1 2001:db8:7::2 198.18.7.2:51820 "MTU = 8920"
check "jumbo: ${JA} has MTU 8920" sh -c "ip -n $e link show ${JA} | grep -q 'mtu 8920 '"
check "jumbo: ${JB} has MTU 8920" sh -c "ip -n $f link show ${JB} | grep -q 'mtu 8920 '"
check "jumbo: ping -s 8000 -M do, IPv4 inside" \
	ip netns exec "$e" ping -c 3 -i 0.2 -W 2 -s 8000 -M do 198.19.7.2
check "jumbo: ping -s 8000 -M do back, IPv4 inside" \
	ip netns exec "$f" ping -c 3 -i 0.2 -W 2 -s 8000 -M do 198.19.7.1
check "jumbo: ping -s 8000 -M do, IPv6 inside" \
	ip netns exec "$e" ping -6 -c 3 -i 0.2 -W 2 -s 8000 -M do 2001:db8:7::2
# 8920 - 28 = 8892 is the largest IPv4 ping payload that fits; one more must
# be refused locally (-M do), not fragmented.
check "jumbo: ping -s 8892 -M do (exactly the MTU) works" \
	ip netns exec "$e" ping -c 2 -i 0.2 -W 2 -s 8892 -M do 198.19.7.2
check "jumbo: ping -s 8893 -M do is refused (larger than the MTU)" \
	sh -c "! ip netns exec $e ping -c 1 -W 1 -s 8893 -M do 198.19.7.2"
check "jumbo: iperf3 TCP, IPv4 inside" iperf jumbo-tcp4 "$f" "$e" 198.19.7.2 -t 3
rate jumbo-tcp4

# --- 4. Persistent keepalive without traffic ---
veth "$g" 198.18.8.1/24 "$h" 198.18.8.2/24
pair ${KA} ${KB} "$g" "$h" 198.19.8.1 198.19.8.2 "" "" 198.18.8.2:51820 "" "PersistentKeepalive = 1"
check "keepalive: vpnd show on ${KA} reports the keepalive" \
	sh -c "ip netns exec $g $VPND show ${KA} | grep -q 'persistent keepalive: every 1 second'"
sleep 3
rx1=$(rx_bytes "$h" ${KB})
echo "     keepalive: ${KB} rx bytes after 3 s: $rx1"
check "keepalive: ${KB} has a handshake after ~3 s without traffic" \
	sh -c "ip netns exec $h wg show ${KB} latest-handshakes | awk '{ exit !(\$2 > 0) }'"
check "keepalive: ${KB} received bytes after ~3 s without traffic" test "$rx1" -gt 0
sleep 2.5
rx2=$(rx_bytes "$h" ${KB})
echo "     keepalive: ${KB} rx bytes 2.5 s later: $rx2"
check "keepalive: ${KB}'s received bytes keep increasing ($rx1 -> $rx2)" test "$rx2" -gt "$rx1"
check "keepalive: ${KB} learned ${KA}'s endpoint" \
	sh -c "ip netns exec $h wg show ${KB} endpoints | grep -q '198.18.8.1:51820'"

finish
