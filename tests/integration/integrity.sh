#!/bin/bash
# Bulk TCP transfers through the tunnel arrive intact: the offload path
# splits TUN super-packets into segments (TSO) and merges received segments
# back (GRO) with computed checksums, so content is checked end to end with
# sha256, both directions, IPv4 and IPv6 inside. vi-a runs its AEADs on two
# threads (VPND_CRYPTO_THREADS=2), vi-b on its event loop alone: both paths,
# sending and receiving, whatever the machine's default.
#
#   [ns a] vi-a 198.19.2.1, 2001:db8:2::1 ---- veth 198.18.2.1 <-> 198.18.2.2 ---- [ns b] vi-b 198.19.2.2, 2001:db8:2::2
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname vi-a) IFB=$(ifname vi-b)

ns_new a; ns_new b
veth "$a" 198.18.2.1/24 "$b" 198.18.2.2/24
keypair ka; keypair kb
cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.2.1/24, 2001:db8:2::1/64
ListenPort = 51820
[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.2.2/32, 2001:db8:2::2/128
Endpoint = 198.18.2.2:51820
EOC
cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.2.2/24, 2001:db8:2::2/64
ListenPort = 51820
[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.2.1/32, 2001:db8:2::1/128
EOC
chmod 600 "$WORK"/*.conf
VPND_CRYPTO_THREADS=2 vpnd_up "$a" "$WORK/${IFA}.conf"
VPND_CRYPTO_THREADS=1 vpnd_up "$b" "$WORK/${IFB}.conf"
head -c 64M /dev/urandom > "$WORK/blob"
want=$(sha256sum < "$WORK/blob" | cut -d' ' -f1)

# transfer FROM_NS TO_NS TO_ADDR PORT: sha256 of what arrived
transfer() {
	ip netns exec "$2" timeout 60 ncat -l "$4" > "$WORK/recv" &
	local pid=$!
	PIDS+=("$pid")
	wait_for 5 ip netns exec "$2" ss -ltn "sport = :$4" -H | grep -q . || true
	sleep 0.3
	ip netns exec "$1" timeout 60 ncat --send-only "$3" "$4" < "$WORK/blob"
	wait "$pid"
	[ "$(sha256sum < "$WORK/recv" | cut -d' ' -f1)" = "$want" ]
}
check "64 MiB a -> b over IPv4 inside, sha256 equal" transfer "$a" "$b" 198.19.2.2 7001
check "64 MiB b -> a over IPv4 inside, sha256 equal" transfer "$b" "$a" 198.19.2.1 7002
check "64 MiB a -> b over IPv6 inside, sha256 equal" transfer "$a" "$b" 2001:db8:2::2 7003
check "64 MiB b -> a over IPv6 inside, sha256 equal" transfer "$b" "$a" 2001:db8:2::1 7004
finish
