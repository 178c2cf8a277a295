#!/bin/bash
# [Interface] PeerToPeer on a hub: what the server does with a packet from
# one client to another client.
#
#   [ns c1] veth0 198.18.21.2/24 ---- ppv1 198.18.21.1/24 --+
#     pp-c1 198.19.20.11/24, 2001:db8:20::11/64             |   [ns srv]
#                                                           +-- pp-srv 198.19.20.1/24
#   [ns c2] veth0 198.18.22.2/24 ---- ppv2 198.18.22.1/24 --+          2001:db8:20::1/64
#     pp-c2 198.19.20.12/24, 2001:db8:20::12/64                 UDP 51820
#
#   server AllowedIPs per client: 198.19.20.1N/32, 2001:db8:20::1N/128
#   clients: AllowedIPs 198.19.20.0/24, 2001:db8:20::/64 via the server,
#            PersistentKeepalive so the server learns their endpoints at once
#   (lib.sh's hub_topology; interface names carry the run's token)
#   nft on the server: table inet pptest, forward chain, a counted drop of
#            pp-srv -> pp-srv (client to client through the kernel)
#
#   kernel (default): c1 -> c2 goes up the server's TUN and the kernel
#            forwards it: works only with ip_forward=1, and the nft rule
#            blocks it
#   direct:  vpnd re-encrypts c1 -> c2 itself: works with ip_forward=0, the
#            nft rule never sees it, nor does the server's TUN
#   refuse:  dropped and counted as peer_to_peer_refused; the server itself
#            is still reachable
set -e
. "$(dirname "$0")/lib.sh"

hub_topology 2 -p pp -u 198.18.2 -4 198.19.20 -6 2001:db8:20 -s ppv -k 25 -0
SRV=$HUB_SRV_IF

forwarding() {
	ip netns exec "$srv" sysctl -qw net.ipv4.ip_forward="$1"
	ip netns exec "$srv" sysctl -qw net.ipv6.conf.all.forwarding="$1"
}

handshakes_on_server() {
	[ "$(ip netns exec "$srv" "$VPND" show $SRV | grep -c 'latest handshake: [0-9]')" -eq 2 ]
}

# start MODE: (re)starts the server with PeerToPeer = MODE and both clients,
# so that every session is fresh, and waits for both handshakes.
start() {
	local i ns name
	for i in 0 1 2; do	# HUB_NS[0], HUB_IF[0] are empty: the server
		ns=${HUB_NS[i]:-$srv} name=${HUB_IF[i]:-$SRV}
		[ -S "/var/run/wireguard/$name.sock" ] && ip netns exec "$ns" "$VPND" down "$name"
	done
	hub_server_conf ${1:+"PeerToPeer = $1"}
	hub_up
	wait_for 10 handshakes_on_server
}

nft_on() {
	ip netns exec "$srv" nft -f - <<EON
table inet pptest {
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "$SRV" oifname "$SRV" counter drop
	}
}
EON
}
nft_off() { ip netns exec "$srv" nft delete table inet pptest 2>/dev/null || true; }
nft_dropped() {
	ip netns exec "$srv" nft list chain inet pptest forward |
		sed -n 's/.*counter packets \([0-9]*\) .*/\1/p'
}

# Packets the server's TUN handed to its kernel (RX of pp-srv).
tun_rx() { ip netns exec "$srv" cat /sys/class/net/$SRV/statistics/rx_packets; }

drops() {
	printf 'get=stats\n\n' | ip netns exec "$srv" ncat -U "/var/run/wireguard/$SRV.sock" |
		sed -n "s/^drop_$1=//p"
}

ping4() { ip netns exec "$1" ping -c "${3:-3}" -i 0.2 -W 2 "$2"; }
ping6() { ip netns exec "$1" ping -6 -c "${3:-3}" -i 0.2 -W 2 "$2"; }
no_ping() { ! ip netns exec "$1" ping -c 2 -i 0.2 -W 1 "$2"; }
no_ping6() { ! ip netns exec "$1" ping -6 -c 2 -i 0.2 -W 1 "$2"; }

# 8 MB over TCP from c1 to c2 must arrive intact: TO_ADDR
transfer() {
	local pid
	rm -f "$WORK/blob.out"
	ip netns exec "$c2" timeout 20 ncat -l "$1" 5001 --recv-only > "$WORK/blob.out" &
	pid=$!
	PIDS+=($pid)
	wait_for 5 sh -c "ip netns exec $c2 ss -Hltn | grep -q ':5001 '"
	ip netns exec "$c1" timeout 20 ncat --send-only "$1" 5001 < "$WORK/blob"
	wait "$pid"
	cmp "$WORK/blob" "$WORK/blob.out"
}
head -c 8000000 /dev/urandom > "$WORK/blob"

echo "# kernel (no PeerToPeer line: the default)"
forwarding 0
start ""
check "kernel: both clients have a handshake with the server" handshakes_on_server
check "kernel: client 1 pings the server" ping4 "$c1" 198.19.20.1
check "kernel: without ip_forward, client 1 cannot reach client 2" no_ping "$c1" 198.19.20.12
forwarding 1
check "kernel: with ip_forward, client 1 pings client 2 (IPv4)" ping4 "$c1" 198.19.20.12
check "kernel: with ip_forward, client 1 pings client 2 (IPv6)" ping6 "$c1" 2001:db8:20::12
before=$(tun_rx)
ping4 "$c1" 198.19.20.12 5 > /dev/null
check "kernel: the pings went up the server's TUN" [ $(( $(tun_rx) - before )) -ge 10 ]
nft_on
check "kernel: the server's nft forward rule blocks client to client (IPv4)" \
	no_ping "$c1" 198.19.20.12
check "kernel: the server's nft forward rule blocks client to client (IPv6)" \
	no_ping6 "$c1" 2001:db8:20::12
check "kernel: the nft rule counted the drops" [ "$(nft_dropped)" -ge 4 ]
check "kernel: no peer_to_peer_refused drops" [ "$(drops peer_to_peer_refused)" = 0 ]

echo "# direct"
forwarding 0
nft_off
nft_on
start direct
check "direct: vpnd show on the server reports the policy" \
	sh -c "ip netns exec $srv $VPND show $SRV | grep -qx '  peer to peer: direct'"
check "direct: client 1 pings the server (the TUN still serves the server)" \
	ping4 "$c1" 198.19.20.1
before=$(tun_rx)
check "direct: client 1 pings client 2 with ip_forward=0 and the nft drop rule (IPv4)" \
	ping4 "$c1" 198.19.20.12 5
check "direct: client 2 pings client 1 (IPv4)" ping4 "$c2" 198.19.20.11
check "direct: client 1 pings client 2 (IPv6)" ping6 "$c1" 2001:db8:20::12
check "direct: none of it went through the server's TUN" [ "$(tun_rx)" -eq "$before" ]
check "direct: nor through its nft forward chain" [ "$(nft_dropped)" -eq 0 ]
check "direct: 8 MB over TCP client 1 -> client 2 arrive intact (IPv4)" transfer 198.19.20.12
check "direct: 8 MB over TCP client 1 -> client 2 arrive intact (IPv6)" transfer 2001:db8:20::12
check "direct: still no TUN traffic, no forwarding, no refused drops" \
	sh -c "[ $(tun_rx) -eq $before ] && [ $(nft_dropped) -eq 0 ] &&
	       [ $(drops peer_to_peer_refused) = 0 ]"
check "direct: no inner-source drops" [ "$(drops bad_inner_source)" = 0 ]
# Client 1's tunnel MTU above the server's: its 2028-byte packets reach the
# server whole, which must not forward (nor stage) more than its own MTU.
ip -n "$c1" link set "${HUB_IF[1]}" mtu 3000
check "direct: a packet above the server's MTU is not forwarded" \
	sh -c "! ip netns exec $c1 ping -c 2 -i 0.2 -W 1 -s 2000 -M do 198.19.20.12"
check "direct: ... and is counted as too_big" [ "$(drops too_big)" -ge 2 ]
ip -n "$c1" link set "${HUB_IF[1]}" mtu 1420
check "direct: packets within the MTU still cross" ping4 "$c1" 198.19.20.12 2
nft_off

echo "# refuse"
forwarding 1
start refuse
check "refuse: client 1 pings the server" ping4 "$c1" 198.19.20.1
check "refuse: client 1 cannot reach client 2, even with ip_forward=1 (IPv4)" \
	no_ping "$c1" 198.19.20.12
check "refuse: nor over IPv6" no_ping6 "$c1" 2001:db8:20::12
check "refuse: the drops are counted as peer_to_peer_refused" \
	[ "$(drops peer_to_peer_refused)" -ge 4 ]
check "refuse: vpnd show lists them" \
	sh -c "ip netns exec $srv $VPND show $SRV | grep -Eq 'drops:.*peer_to_peer_refused=[0-9]+'"
check "refuse: client 2 pings the server" ping4 "$c2" 198.19.20.1

echo "# live switch over the UAPI: refuse -> direct"
printf 'set=1\npeer_to_peer=direct\n\n' |
	ip netns exec "$srv" ncat -U "/var/run/wireguard/$SRV.sock" > "$WORK/set.out"
check "set peer_to_peer=direct answers errno=0" grep -qx 'errno=0' "$WORK/set.out"
forwarding 0
check "direct after the switch: client 1 pings client 2" ping4 "$c1" 198.19.20.12
printf 'set=1\npeer_to_peer=sideways\n\n' |
	ip netns exec "$srv" ncat -U "/var/run/wireguard/$SRV.sock" > "$WORK/set.out"
check "an unknown policy is refused with EINVAL" grep -qx 'errno=-22' "$WORK/set.out"
finish
