#!/bin/bash
# Endpoints that move: the client's Endpoint is a host name; the server
# changes address and the name follows it; the client's root monitor
# re-resolves the name and pushes the new endpoint to its worker over the
# UAPI (resolve.h), so the tunnel comes back without a restart.
#
# The name lives in /etc/netns/<client ns>/hosts, which `ip netns exec`
# bind-mounts over /etc/hosts for the processes it starts (the daemon
# included); it is rewritten in place (same inode) to move the name. The
# real /etc/hosts is never touched; the directory is removed on exit.
#
#   [ns srv] veth0 198.18.41.1/24 (then 198.18.42.1/24) ---- veth0 [ns cli]
#                                                       198.18.41.2/24 and 198.18.42.2/24
#     rs-srv 198.19.40.1/24  UDP 51820                   rs-cli 198.19.40.2/24
#                                                        Endpoint = rs-server.test:51820
#
# Phase 1, periodic (VPND_RESOLVE_INTERVAL=1): 198.18.41.1 -> 198.18.42.1.
# Phase 2, on demand (interval 3600, SIGUSR1 to the monitor): back again.
set -e
. "$(dirname "$0")/lib.sh"
SRV=$(ifname rs-srv) CLI=$(ifname rs-cli)

ns_new srv
ns_new cli
HOSTS_DIR="/etc/netns/$cli"
trap 'rm -rf "$HOSTS_DIR"; rmdir /etc/netns 2>/dev/null; cleanup' EXIT
mkdir -p "$HOSTS_DIR"
set_name() { echo "$1 rs-server.test" > "$HOSTS_DIR/hosts"; }	# in place: same inode
set_name 198.18.41.1

veth "$srv" 198.18.41.1/24 "$cli" 198.18.41.2/24
ip -n "$cli" addr add 198.18.42.2/24 dev veth0
keypair ks
keypair kc

cat > "$WORK/${SRV}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.40.1/24
ListenPort = 51820

[Peer]
PublicKey = $kc_pub
AllowedIPs = 198.19.40.2/32
EOC
cat > "$WORK/${CLI}.conf" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.40.2/24

[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.40.0/24
Endpoint = rs-server.test:51820
EOC
chmod 600 "$WORK"/*.conf

check "the client namespace resolves the name through its own hosts file" \
	sh -c "ip netns exec $cli getent hosts rs-server.test | grep -q '^198.18.41.1 '"
check "the host's own /etc/hosts does not have it" \
	sh -c "! grep -q rs-server.test /etc/hosts"

vpnd_up "$srv" "$WORK/${SRV}.conf"
export VPND_RESOLVE_INTERVAL=1 VPND_VERBOSE=1
vpnd_up "$cli" "$WORK/${CLI}.conf"
unset VPND_RESOLVE_INTERVAL VPND_VERBOSE

client_endpoint() { ip netns exec "$cli" "$VPND" show ${CLI} | sed -n 's/^  endpoint: //p'; }
endpoint_is() { [ "$(client_endpoint)" = "$1" ]; }
ping_srv() { ip netns exec "$cli" ping -c 1 -W 1 198.19.40.1; }

check "the client pings the server at the name's first address" \
	ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.40.1
check "the client's endpoint is 198.18.41.1:51820" endpoint_is 198.18.41.1:51820
sleep 2
check "with the name unchanged, the monitor leaves the endpoint alone" \
	sh -c "endpoint_is() { [ \"\$(ip netns exec $cli $VPND show ${CLI} | sed -n 's/^  endpoint: //p')\" = \$1 ]; };
	       endpoint_is 198.18.41.1:51820 && ! grep -q 'endpoint .* -> ' $WORK/${CLI}.log"

echo "# the server moves to 198.18.42.1, and so does the name"
ip -n "$srv" addr add 198.18.42.1/24 dev veth0
ip -n "$srv" addr del 198.18.41.1/24 dev veth0
check "the old address is dead" sh -c "! ip netns exec $cli ping -c 1 -W 1 198.18.41.1"
set_name 198.18.42.1
check "within a few seconds the monitor pushes the new endpoint" \
	wait_for 5 endpoint_is 198.18.42.1:51820
check "the client's log says why" \
	grep -q "${CLI}: peer .*: endpoint 198.18.41.1:51820 -> 198.18.42.1:51820 (rs-server.test:51820)" \
	"$WORK/${CLI}.log"
check "the tunnel works again, without a restart" wait_for 15 ping_srv
check "pings through it" ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.40.1
check "the server sees the client at its new source address" \
	sh -c "ip netns exec $srv $VPND show ${SRV} | grep -qx '  endpoint: 198.18.42.2:[0-9]*'"

echo "# on demand: interval 3600, SIGUSR1 to the monitor"
ip netns exec "$cli" "$VPND" down ${CLI}
export VPND_RESOLVE_INTERVAL=3600
vpnd_up "$cli" "$WORK/${CLI}.conf"
unset VPND_RESOLVE_INTERVAL
monitor=$(cat /var/run/vpnd/${CLI}.pid)
worker=$(pgrep -P "$monitor" | head -1)
check "the restarted client reaches the server at 198.18.42.1" wait_for 10 ping_srv
ip -n "$srv" addr add 198.18.41.1/24 dev veth0
ip -n "$srv" addr del 198.18.42.1/24 dev veth0
set_name 198.18.41.1
sleep 2
check "without a signal nothing moves (next periodic run in an hour)" \
	endpoint_is 198.18.42.1:51820
kill -USR1 "$worker"
sleep 0.5
check "SIGUSR1 to the worker (as systemctl kill sends it to all) is ignored" \
	sh -c "kill -0 $worker && [ -S /var/run/wireguard/${CLI}.sock ]"
kill -USR1 "$monitor"
check "SIGUSR1 to the monitor re-resolves at once" wait_for 3 endpoint_is 198.18.41.1:51820
check "the tunnel works again" wait_for 15 ping_srv
check "the monitor and its worker are still up" sh -c "kill -0 $monitor && kill -0 $worker"
finish
