#!/bin/bash
# One server, three clients (hub and spoke; lib.sh's hub_topology). The
# server keeps one peer file per client in hs-srv.d/ (client1.conf ...);
# each client routes the whole tunnel subnet to the server, so
# client-to-client traffic goes up the server's TUN and is forwarded back
# down it (ip_forward / IPv6 forwarding on in the server ns).
#
#                 UDP underlay: one veth per client into the server ns
#
#   [ns c1] veth0 198.18.11.2/24 ---- hsv1 198.18.11.1/24 ---+
#     hs-c1 198.19.0.11, 2001:db8:19::11                     |
#                                                            |   [ns srv]
#   [ns c2] veth0 198.18.12.2/24 ---- hsv2 198.18.12.1/24 ---+-- hs-srv 198.19.0.1/24
#     hs-c2 198.19.0.12, 2001:db8:19::12                     |          2001:db8:19::1/64
#                                                            |   listens on UDP 51820
#   [ns c3] veth0 198.18.13.2/24 ---- hsv3 198.18.13.1/24 ---+   forwarding on
#     hs-c3 198.19.0.13, 2001:db8:19::13
#
#   server AllowedIPs per client: 198.19.0.1N/32, 2001:db8:19::1N/128
#   (interface names carry the run's token: hs-srv-<token>, ...)
#   client AllowedIPs for the server: 198.19.0.0/24, 2001:db8:19::/64
set -e
. "$(dirname "$0")/lib.sh"

hub_topology 3 -p hs -u 198.18.1 -4 198.19.0 -6 2001:db8:19 -d -P client -s hsv -f
SRV=$HUB_SRV_IF

check "server config from hs-srv.d/ has three peers" \
	sh -c "[ \$(ip netns exec $srv $VPND show $SRV | grep -c '^peer: ') -eq 3 ]"

for i in 1 2 3; do
	eval "ns=\$c$i"
	check "client $i pings the server (IPv4 inside)" \
		ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 198.19.0.1
	check "client $i pings the server (IPv6 inside)" \
		ip netns exec "$ns" ping -6 -c 3 -i 0.2 -W 2 2001:db8:19::1
done

# Client to client: up the server's TUN, forwarded, back down to the other peer.
check "client 1 pings client 2 through the server (IPv4)" \
	ip netns exec "$c1" ping -c 3 -i 0.2 -W 2 198.19.0.12
check "client 1 pings client 3 through the server (IPv4)" \
	ip netns exec "$c1" ping -c 3 -i 0.2 -W 2 198.19.0.13
check "client 1 pings client 2 through the server (IPv6)" \
	ip netns exec "$c1" ping -6 -c 3 -i 0.2 -W 2 2001:db8:19::12
check "client 1 pings client 3 through the server (IPv6)" \
	ip netns exec "$c1" ping -6 -c 3 -i 0.2 -W 2 2001:db8:19::13
check "client 3 pings client 2 through the server (IPv4)" \
	ip netns exec "$c3" ping -c 3 -i 0.2 -W 2 198.19.0.12

# A bulk TCP transfer client to client (through the server's forwarding):
# 8 MB must arrive intact. FROM_NS TO_NS TO_ADDR
transfer() {
	local pid
	rm -f "$WORK/blob.out"
	ip netns exec "$2" timeout 20 ncat -l "$3" 5001 --recv-only > "$WORK/blob.out" &
	pid=$!
	PIDS+=($pid)
	wait_for 5 sh -c "ip netns exec $2 ss -Hltn | grep -q ':5001 '"
	ip netns exec "$1" timeout 20 ncat --send-only "$3" 5001 < "$WORK/blob"
	wait "$pid"
	cmp "$WORK/blob" "$WORK/blob.out"
}
head -c 8000000 /dev/urandom > "$WORK/blob"
check "8 MB over TCP client 1 -> client 2 through the server arrive intact (IPv4)" \
	transfer "$c1" "$c2" 198.19.0.12
check "8 MB over TCP client 1 -> client 3 through the server arrive intact (IPv6)" \
	transfer "$c1" "$c3" 2001:db8:19::13
check "the server can reach a client by its tunnel address" \
	ip netns exec "$srv" ping -c 2 -i 0.2 -W 2 198.19.0.12

# The block of one peer in a `vpnd show` output: FILE PUBKEY.
peer_block() { awk -v p="peer: $2" '$0 == p { on = 1; next } /^peer: / { on = 0 } on' "$1"; }
# A drop counter from vpnd's get=stats UAPI request: NS IFNAME REASON.
drops() {
	printf 'get=stats\n\n' | ip netns exec "$1" ncat -U "/var/run/wireguard/$2.sock" |
		sed -n "s/^drop_$3=//p"
}

ip netns exec "$srv" "$VPND" show $SRV > "$WORK/show.srv"
check "vpnd show on the server: three peers with a handshake" \
	sh -c "[ \$(grep -c 'latest handshake: [0-9]' $WORK/show.srv) -eq 3 ]"
for i in 1 2 3; do
	eval "pub=\$k${i}_pub"
	peer_block "$WORK/show.srv" "$pub" > "$WORK/peer$i"
	check "vpnd show: client $i's peer: handshake, endpoint learnt, its allowed ips" \
		sh -c "grep -q 'latest handshake: [0-9]' $WORK/peer$i &&
		       grep -q '^  endpoint: 198.18.1$i.2:[0-9]*$' $WORK/peer$i &&
		       grep '^  allowed ips: ' $WORK/peer$i | grep -qF '198.19.0.1$i/32' &&
		       grep '^  allowed ips: ' $WORK/peer$i | grep -qF '2001:db8:19::1$i/128'"
done
check "no inner-source drops on the server" [ "$(drops "$srv" "$SRV" bad_inner_source)" = 0 ]
finish
