#!/bin/bash
# make demo: a server and a client in two network namespaces, joined by a
# veth; keys and configs generated; both brought up with `vpnd up`; ping and
# a short iperf3 across the tunnel; `vpnd show` on both; then teardown.
#
#   [vd-server]  vpnd-srv 198.19.0.1/24  --UDP 51820 over veth 198.18.0.1 <-> 198.18.0.2--  [vd-client]  vpnd-cli 198.19.0.2/24
set -e
VPND=${VPND:-$(cd "$(dirname "$0")/.." && pwd)/build/vpnd}
SRV=vd-server-$$
CLI=vd-client-$$
WORK=$(mktemp -d /tmp/vpnd-demo.XXXXXX)
IPERF_PID=

cleanup() {
	set +e
	[ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null
	for n in vpnd-srv vpnd-cli; do
		[ -f "$WORK/$n.pid" ] && kill "$(cat "$WORK/$n.pid")" 2>/dev/null
	done
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "two network namespaces joined by a veth (198.18.0.1 <-> 198.18.0.2)"
ip netns add "$SRV"
ip netns add "$CLI"
ip link add veth0 netns "$SRV" type veth peer name veth0 netns "$CLI"
ip -n "$SRV" addr add 198.18.0.1/24 dev veth0
ip -n "$CLI" addr add 198.18.0.2/24 dev veth0
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set veth0 up; ip -n "$ns" link set lo up; done

step "keys: vpnd genkey | vpnd pubkey"
srv_priv=$("$VPND" genkey 2>/dev/null); srv_pub=$(echo "$srv_priv" | "$VPND" pubkey)
cli_priv=$("$VPND" genkey 2>/dev/null); cli_pub=$(echo "$cli_priv" | "$VPND" pubkey)
psk=$("$VPND" genpsk)
echo "server public key: $srv_pub"
echo "client public key: $cli_pub"

step "configs (wg-quick format; the server keeps one file per peer in vpnd-srv.d/)"
mkdir -p "$WORK/vpnd-srv.d"
cat > "$WORK/vpnd-srv.conf" <<EOC
[Interface]
PrivateKey = $srv_priv
Address = 198.19.0.1/24, 2001:db8:19::1/64
ListenPort = 51820
EOC
cat > "$WORK/vpnd-srv.d/client.conf" <<EOC
[Peer]
PublicKey = $cli_pub
PresharedKey = $psk
AllowedIPs = 198.19.0.2/32, 2001:db8:19::2/128
EOC
cat > "$WORK/vpnd-cli.conf" <<EOC
[Interface]
PrivateKey = $cli_priv
Address = 198.19.0.2/24, 2001:db8:19::2/64

[Peer]
PublicKey = $srv_pub
PresharedKey = $psk
AllowedIPs = 198.19.0.0/24, 2001:db8:19::/64
Endpoint = 198.18.0.1:51820
PersistentKeepalive = 25
EOC
chmod 600 "$WORK"/*.conf "$WORK"/vpnd-srv.d/*.conf
sed 's/PrivateKey = .*/PrivateKey = (hidden)/; s/PresharedKey = .*/PresharedKey = (hidden)/' "$WORK/vpnd-cli.conf"

step "vpnd up (server, then client)"
ip netns exec "$SRV" "$VPND" up "$WORK/vpnd-srv.conf"
cp /var/run/vpnd/vpnd-srv.pid "$WORK/"
ip netns exec "$CLI" "$VPND" up "$WORK/vpnd-cli.conf"
cp /var/run/vpnd/vpnd-cli.pid "$WORK/"

step "ping across the tunnel (IPv4 and IPv6 inside)"
ip netns exec "$CLI" ping -c 3 -i 0.3 198.19.0.1
ip netns exec "$CLI" ping -6 -c 3 -i 0.3 2001:db8:19::1

step "iperf3, 3 seconds, client -> server through the tunnel"
ip netns exec "$SRV" iperf3 -s -1 -B 198.19.0.1 > /dev/null 2>&1 &
IPERF_PID=$!
sleep 0.5
ip netns exec "$CLI" iperf3 -c 198.19.0.1 -t 3 | grep -E "sender|receiver"
wait "$IPERF_PID" 2>/dev/null || true
IPERF_PID=

step "vpnd show (server)"
ip netns exec "$SRV" "$VPND" show vpnd-srv
step "vpnd show (client)"
ip netns exec "$CLI" "$VPND" show vpnd-cli

step "vpnd down (both)"
ip netns exec "$CLI" "$VPND" down vpnd-cli
ip netns exec "$SRV" "$VPND" down vpnd-srv
echo "done: the interfaces are gone; namespaces are removed on exit"
