#!/bin/bash
# The outer IP header as the kernel's WireGuard writes it: DF cleared on
# transport and handshake packets (udp_tunnel_xmit_skb with df 0), so a
# smaller MTU on the way fragments the outer packet instead of dropping it;
# handshake messages marked DSCP AF41 (HANDSHAKE_DSCP, TOS byte 0x88), data
# not. ECN as the kernel's WireGuard (RFC 6040): a transport packet's outer
# TOS is its inner packet's ECN field (CE as ECT(0)), DSCP 0, keepalives 0;
# on the way in an outer CE marks an ECN-capable inner packet CE, an outer
# ECT(1) turns an inner ECT(0) into ECT(1), and a Not-ECT inner packet is
# delivered unchanged (not dropped) under an outer CE.
#
#   [ns a] oh-a 198.19.7.1 --- veth0 198.18.7.1 <-> veth0 198.18.7.2 --- [ns b] oh-b 198.19.7.2
#          2001:db8:7::1      2001:db8:7:ff::1    2001:db8:7:ff::2 (last)    2001:db8:7::2
#                                                   ^ sniff.py --with-ip
#                                                   (outer header, before netfilter)
#                                                   nft prerouting: outer ECN set (CE/ECT(1))
#                                                   nft input on oh-b: inner ECN counted
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname oh-a) IFB=$(ifname oh-b)

ns_new a; ns_new b
veth "$a" 198.18.7.1/24 "$b" 198.18.7.2/24
keypair ka; keypair kb
cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.7.1/24, 2001:db8:7::1/64
ListenPort = 51820

[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.7.2/32, 2001:db8:7::2/128
Endpoint = 198.18.7.2:51820
EOC
cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.7.2/24, 2001:db8:7::2/64
ListenPort = 51820

[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.7.1/32, 2001:db8:7::1/128
EOC
chmod 600 "$WORK"/*.conf
VPND_CRYPTO_THREADS=2 vpnd_up "$b" "$WORK/${IFB}.conf"
vpnd_up "$a" "$WORK/${IFA}.conf"

# capture TYPE OUT [COUNT [SNIFF-OPTIONS]]: the next COUNT (3) messages of
# TYPE from a arriving at b.
capture() {
	ip netns exec "$b" python3 "$SNIFF" veth0 "$2" --type "$1" --count "${3:-3}" --with-ip \
		--ready "$2.ready" --timeout 15 ${4:+$4} &
	PIDS+=($!)
	wait_for 5 test -e "$2.ready"
}
capture 1 "$WORK/init" 1
capture 4 "$WORK/data"
ip netns exec "$a" ping -c 5 -i 0.2 -W 2 198.19.7.2 > /dev/null
check "captured the initiation" wait_for 10 test -s "$WORK/init"
check "captured transport packets" wait_for 10 test -s "$WORK/data"
check "transport packets: outer DF cleared" sh -c "! grep -v ' df=0 ' $WORK/data"
check "initiation: outer DF cleared" sh -c "! grep -v ' df=0 ' $WORK/init"
check "initiation: DSCP AF41 (TOS 0x88)" grep -q '^tos=88 ' "$WORK/init"
check "transport: no DSCP" sh -c "! grep -Ev '^tos=0[0-3] ' $WORK/data"

# --- ECN on the way out -------------------------------------------------------
# Transport messages longer than a keepalive (32 bytes) carry the pings.
# ping_out NAME PING-ARGS...: 3 pings from a, their transport packets kept.
ping_out() {
	local name=$1; shift
	capture 4 "$WORK/out-$name" 3 "--min-len 32"
	ip netns exec "$a" ping -c 3 -i 0.2 -W 2 "$@" > /dev/null
	wait_for 10 test -s "$WORK/out-$name"
}
# outer_tos NAME: the TOS bytes of the captured packets, sorted, unique.
outer_tos() { sed 's/ .*//' "$WORK/out-$1" | sort -u | tr '\n' ' '; }
for q in 00:00 01:01 02:02 03:02 b8:00 bb:02 8a:02; do
	inner=${q%:*} want=${q#*:}
	ping_out "v4-$inner" -Q "0x$inner" 198.19.7.2 || true
	check "IPv4 inner TOS 0x$inner: outer TOS 0x$want ($(outer_tos "v4-$inner"))" \
		test "$(outer_tos "v4-$inner")" = "tos=$want "
done
for q in 02:02 03:02 b9:01; do
	inner=${q%:*} want=${q#*:}
	ping_out "v6-$inner" -6 -Q "0x$inner" 2001:db8:7::2 || true
	check "IPv6 inner traffic class 0x$inner: outer TOS 0x$want ($(outer_tos "v6-$inner"))" \
		test "$(outer_tos "v6-$inner")" = "tos=$want "
done
# Keepalives (persistent, every second on a once the pings stop): TOS 0.
capture 4 "$WORK/keepalive" 2 "--len 32"
ip netns exec "$a" wg set "$IFA" peer "$kb_pub" persistent-keepalive 1
check "captured keepalives" wait_for 15 test -s "$WORK/keepalive"
check "keepalives: outer TOS 0" sh -c "! grep -v '^tos=00 ' $WORK/keepalive"
ip netns exec "$a" wg set "$IFA" peer "$kb_pub" persistent-keepalive 0

# --- ECN on the way in --------------------------------------------------------
# The receiver's prerouting sets the outer ECN field of every transport
# packet; its input chain counts the echo requests coming out of the tunnel
# by their inner ECN field. b decrypts on its crypto pool's batch path
# (VPND_CRYPTO_THREADS=2), a one message at a time: both carry the field.
# ecn_table NS IFACE: the table in NS, counting on the tunnel IFACE.
ecn_table() {
	ip netns exec "$1" nft -f - <<EON
table inet oh_ecn {
	counter v4_ce { }
	counter v4_ect1 { }
	counter v4_notect { }
	counter v6_ce { }
	counter out6_ect0 { }
	counter out6_ect1 { }
	chain seen {
		type filter hook prerouting priority -400;
		iifname veth0 udp dport 51820 @th,64,8 4 ip6 ecn ect0 counter name out6_ect0
		iifname veth0 udp dport 51820 @th,64,8 4 ip6 ecn ect1 counter name out6_ect1
	}
	chain pre {
		type filter hook prerouting priority -300;
	}
	chain in {
		type filter hook input priority 0;
		iifname "$2" icmp type echo-request ip ecn ce counter name v4_ce
		iifname "$2" icmp type echo-request ip ecn ect1 counter name v4_ect1
		iifname "$2" icmp type echo-request ip ecn not-ect counter name v4_notect
		iifname "$2" icmpv6 type echo-request ip6 ecn ce counter name v6_ce
	}
}
EON
}
ecn_table "$a" "$IFA"
ecn_table "$b" "$IFB"
check "b runs the crypto pool's batch path" grep -q "AEAD on 2 thread" "$WORK/${IFB}.log"
# outer_set NS ECN: the outer ECN field NS's prerouting writes from now on
# into transport messages (UDP port 51820, first byte 4).
outer_set() {
	ip netns exec "$1" nft flush chain inet oh_ecn pre
	ip netns exec "$1" nft add rule inet oh_ecn pre iifname veth0 udp dport 51820 \
		@th,64,8 4 ip ecn set "$2"
	ip netns exec "$1" nft add rule inet oh_ecn pre iifname veth0 udp dport 51820 \
		@th,64,8 4 ip6 ecn set "$2"
}
# count NS NAME: packets counted by counter NAME in NS.
count() {
	ip netns exec "$1" nft list counter inet oh_ecn "$2" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
outer_set "$b" ce
check "outer CE, inner ECT(0): pings answered" \
	ip netns exec "$a" ping -c 3 -i 0.2 -W 2 -Q 0x02 198.19.7.2
check "  ... and they reach b's stack marked CE ($(count "$b" v4_ce) of 3)" \
	test "$(count "$b" v4_ce)" -ge 3
check "outer CE, inner Not-ECT: pings answered (delivered, as the kernel's WireGuard)" \
	ip netns exec "$a" ping -c 3 -i 0.2 -W 2 -Q 0x00 198.19.7.2
check "  ... unchanged, Not-ECT ($(count "$b" v4_notect) of 3)" \
	test "$(count "$b" v4_notect)" -ge 3
check "outer CE, inner IPv6 ECT(0): pings answered" \
	ip netns exec "$a" ping -6 -c 3 -i 0.2 -W 2 -Q 0x02 2001:db8:7::2
check "  ... and they reach b's stack marked CE ($(count "$b" v6_ce) of 3)" \
	test "$(count "$b" v6_ce)" -ge 3
outer_set "$b" ect1
check "outer ECT(1), inner ECT(0): pings answered" \
	ip netns exec "$a" ping -c 3 -i 0.2 -W 2 -Q 0x02 198.19.7.2
check "  ... and they reach b's stack as ECT(1) ($(count "$b" v4_ect1) of 3)" \
	test "$(count "$b" v4_ect1)" -ge 3
outer_set "$a" ce
check "b to a, outer CE, inner ECT(0): pings answered" \
	ip netns exec "$b" ping -c 3 -i 0.2 -W 2 -Q 0x02 198.19.7.1
check "  ... and they reach a's stack marked CE ($(count "$a" v4_ce) of 3)" \
	test "$(count "$a" v4_ce)" -ge 3

# --- an IPv6 path outside -----------------------------------------------------
# a's peer moves to b's IPv6 address (b follows: roaming). The outer traffic
# class is seen by b's prerouting before its rule rewrites it (chain seen).
ip -n "$a" addr add 2001:db8:7:ff::1/64 dev veth0 nodad
ip -n "$b" addr add 2001:db8:7:ff::2/64 dev veth0 nodad
ip netns exec "$a" wg set "$IFA" peer "$kb_pub" endpoint "[2001:db8:7:ff::2]:51820"
outer_set "$b" ce
ip netns exec "$a" ping -c 3 -i 0.2 -W 2 -Q 0x03 198.19.7.2 > /dev/null || true
check "IPv6 outside, inner CE: outer traffic class ECT(0) ($(count "$b" out6_ect0) of 3)" \
	test "$(count "$b" out6_ect0)" -ge 3
ip netns exec "$a" ping -6 -c 3 -i 0.2 -W 2 -Q 0x01 2001:db8:7::2 > /dev/null || true
check "IPv6 outside, inner IPv6 ECT(1): outer traffic class ECT(1) ($(count "$b" out6_ect1) of 3)" \
	test "$(count "$b" out6_ect1)" -ge 3
ce_before=$(count "$b" v4_ce)
check "IPv6 outside, outer CE, inner ECT(0): pings answered" \
	ip netns exec "$a" ping -c 3 -i 0.2 -W 2 -Q 0x02 198.19.7.2
check "  ... and they reach b's stack marked CE ($(($(count "$b" v4_ce) - ce_before)) of 3)" \
	test "$(($(count "$b" v4_ce) - ce_before))" -ge 3
finish
