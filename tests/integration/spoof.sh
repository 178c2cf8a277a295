#!/bin/bash
# Inner-source filtering (cryptokey routing, inbound): a client that sends a
# packet whose inner source is not in its AllowedIPs on the server gets it
# dropped (counted as bad_inner_source) before it reaches the server's TUN;
# its legitimate traffic still flows. Two spoofed sources: an address nobody
# owns (198.19.0.66 / 2001:db8:19::66) and client b's own address.
#
#   [ns a] veth0 198.18.21.2/24 ---- hsv-a 198.18.21.1/24 ---+
#     hsp-a 198.19.0.11/24, 2001:db8:19::11/64               |   [ns srv]
#     (+ spoofed 198.19.0.66/32, 2001:db8:19::66/128,        +-- hsp-srv 198.19.0.1/24
#        then 198.19.0.12/32, 2001:db8:19::12/128)           |           2001:db8:19::1/64
#                                                            |   UDP 51820; nft counts what
#   [ns b] veth0 198.18.22.2/24 ---- hsv-b 198.18.22.1/24 ---+   arrives on hsp-srv by source
#     hsp-b 198.19.0.12/24, 2001:db8:19::12/64
#
#   server AllowedIPs: a = 198.19.0.11/32, 2001:db8:19::11/128
#                      b = 198.19.0.12/32, 2001:db8:19::12/128
#   clients' AllowedIPs for the server: 198.19.0.0/24, 2001:db8:19::/64
#   (lib.sh's hub_topology; interface names carry the run's token)
set -e
. "$(dirname "$0")/lib.sh"

hub_topology 2 -p hsp -u 198.18.2 -4 198.19.0 -6 2001:db8:19 -n "a b" -d -s hsv- -S -0
SRV=$HUB_SRV_IF A=${HUB_IF[1]}

# What reaches the server's stack from the tunnel, by inner source.
ip netns exec "$srv" nft -f - <<EON
table inet hs_spoof {
	counter from66 { }
	counter from66v6 { }
	counter fromb { }
	counter frombv6 { }
	chain input {
		type filter hook input priority 0;
		iifname "$SRV" ip saddr 198.19.0.66 counter name from66
		iifname "$SRV" ip6 saddr 2001:db8:19::66 counter name from66v6
		iifname "$SRV" ip saddr 198.19.0.12 counter name fromb
		iifname "$SRV" ip6 saddr 2001:db8:19::12 counter name frombv6
	}
}
EON
nft_packets() {
	ip netns exec "$srv" nft list counter inet hs_spoof "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
# A drop counter from vpnd's get=stats UAPI request: NS IFNAME REASON.
drops() {
	printf 'get=stats\n\n' | ip netns exec "$1" ncat -U "/var/run/wireguard/$2.sock" |
		sed -n "s/^drop_$3=//p"
}
spoofed() { drops "$srv" "$SRV" bad_inner_source; }

hub_up

check "a pings the server from its own address (IPv4)" \
	ip netns exec "$a" ping -c 2 -i 0.2 -W 2 198.19.0.1
check "a pings the server from its own address (IPv6)" \
	ip netns exec "$a" ping -6 -c 2 -i 0.2 -W 2 2001:db8:19::1
check "b pings the server (session up before a spoofs b)" \
	ip netns exec "$b" ping -c 1 -W 2 198.19.0.1
check "no bad_inner_source drops yet" [ "$(spoofed)" = 0 ]

# --- a source nobody owns --------------------------------------------------
ip -n "$a" addr add 198.19.0.66/32 dev "$A"
ip -n "$a" addr add 2001:db8:19::66/128 dev "$A" nodad
before=$(spoofed)
check "ping from 198.19.0.66 gets no reply" \
	sh -c "! ip netns exec $a ping -c 3 -i 0.2 -W 1 -I 198.19.0.66 198.19.0.1"
after=$(spoofed)
check "server counted the 3 IPv4 packets as bad_inner_source ($before -> $after)" \
	[ $((after - before)) -eq 3 ]
check "nothing from 198.19.0.66 reached the server's stack" [ "$(nft_packets from66)" = 0 ]

before=$(spoofed)
check "ping from 2001:db8:19::66 gets no reply" \
	sh -c "! ip netns exec $a ping -6 -c 3 -i 0.2 -W 1 -I 2001:db8:19::66 2001:db8:19::1"
after=$(spoofed)
check "server counted the 3 IPv6 packets as bad_inner_source ($before -> $after)" \
	[ $((after - before)) -eq 3 ]
check "nothing from 2001:db8:19::66 reached the server's stack" [ "$(nft_packets from66v6)" = 0 ]
ip -n "$a" addr del 198.19.0.66/32 dev "$A"
ip -n "$a" addr del 2001:db8:19::66/128 dev "$A"

# --- legitimate traffic is unaffected ----------------------------------------
before=$(spoofed)
check "a still pings the server from its own address (IPv4)" \
	ip netns exec "$a" ping -c 3 -i 0.2 -W 2 198.19.0.1
check "a still pings the server from its own address (IPv6)" \
	ip netns exec "$a" ping -6 -c 3 -i 0.2 -W 2 2001:db8:19::1
check "legitimate pings add no bad_inner_source drops" [ "$(spoofed)" = "$before" ]

# --- a source that belongs to another peer (b) ---------------------------------
ip -n "$a" addr add 198.19.0.12/32 dev "$A"
ip -n "$a" addr add 2001:db8:19::12/128 dev "$A" nodad
before=$(spoofed)
b_before="$(nft_packets fromb)/$(nft_packets frombv6)"	# b's own first ping
check "a pinging as b (198.19.0.12) gets no reply" \
	sh -c "! ip netns exec $a ping -c 3 -i 0.2 -W 1 -I 198.19.0.12 198.19.0.1"
check "a pinging as b (2001:db8:19::12) gets no reply" \
	sh -c "! ip netns exec $a ping -6 -c 3 -i 0.2 -W 1 -I 2001:db8:19::12 2001:db8:19::1"
after=$(spoofed)
check "server counted a's 6 packets as bad_inner_source ($before -> $after)" \
	[ $((after - before)) -eq 6 ]
check "nothing with b's source reached the server's stack" \
	[ "$(nft_packets fromb)/$(nft_packets frombv6)" = "$b_before" ]
ip -n "$a" addr del 198.19.0.12/32 dev "$A"
ip -n "$a" addr del 2001:db8:19::12/128 dev "$A"

before=$(spoofed)
check "b itself still pings the server (IPv4)" ip netns exec "$b" ping -c 2 -i 0.2 -W 2 198.19.0.1
check "b itself still pings the server (IPv6)" \
	ip netns exec "$b" ping -6 -c 2 -i 0.2 -W 2 2001:db8:19::1
check "b's packets reach the server's stack (the nft counters do count)" \
	[ "$(nft_packets fromb)/$(nft_packets frombv6)" = "$((${b_before%/*} + 2))/$((${b_before#*/} + 2))" ]
check "b's pings add no bad_inner_source drops" [ "$(spoofed)" = "$before" ]
check "vpnd show on the server reports the drops" \
	sh -c "ip netns exec $srv $VPND show $SRV | grep -Eq 'drops:.*bad_inner_source=$before(,|$)'"
check "b's endpoint on the server is still b's" \
	sh -c "ip netns exec $srv wg show $SRV endpoints | grep -F '$kb_pub' | grep -q '198.18.22.2:'"
finish
