#!/bin/bash
# Network namespaces, as WireGuard does them: an interface made in one
# namespace and moved into another keeps working, its UDP socket staying
# where it was made; a "container" whose only interface is the tunnel.
#
#   [ns srv] nsrv 198.19.41.1/24          [ns host] (vpnd runs here)
#     ListenPort 51820                      ncli: made here, UDP socket here
#     veth 198.18.41.1/24 ------------------- veth 198.18.41.2/24
#                                              |
#                                              | ip link set ncli netns ctr
#                                              v
#                                         [ns ctr] lo + ncli 198.19.41.2/24 only
#
# In order:
#  1. vpnd up in host, then ncli moved into ctr: the daemon stays; ctr
#     reaches 198.19.41.1 through the tunnel and nothing else (no route to
#     the underlay); wg show works from inside ctr (the socket is global).
#  2. renamed in ctr, moved back into host with a new ifindex (a veth
#     holds the old one), renamed back: traffic again, and a later link
#     event does not stop the daemon (the watch follows index and name).
#  3. moved into ctr again and deleted there: monitor and worker exit,
#     IF.sock and IF.pid removed.
#  4. vpnd up --netns ctr with AllowedIPs 0.0.0.0/0: the interface is
#     configured in ctr (address, default route), traffic flows; reload
#     applies peer changes, refuses route changes (not here); renamed
#     there and moved back it is recognised (the watch follows it from the
#     start); vpnd down stops it; DNS = with --netns is refused.
#  5. up --netns again, then ip netns del ctr: the kernel deletes the
#     interface with the namespace and the daemon ends cleanly.
set -e
. "$(dirname "$0")/lib.sh"
CLI=$(ifname ncli) SRV=$(ifname nsrv)

pid_gone() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	'' | Z*) return 0 ;;
	*) return 1 ;;
	esac
}

ns_new srv; ns_new host; ns_new ctr
veth "$srv" 198.18.41.1/24 "$host" 198.18.41.2/24
keypair ks; keypair kc

cat > "$WORK/$SRV.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.41.1/24
ListenPort = 51820

[Peer]
PublicKey = $kc_pub
AllowedIPs = 198.19.41.2/32
EOC
cat > "$WORK/$CLI.conf" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.41.2/24

[Peer]
PublicKey = $ks_pub
Endpoint = 198.18.41.1:51820
AllowedIPs = 198.19.41.0/24
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$srv" "$WORK/$SRV.conf"
vpnd_up "$host" "$WORK/$CLI.conf"
MON=$(cat "/var/run/vpnd/$CLI.pid")
WORKER=$(ps -o pid= --ppid "$MON" | head -1 | tr -d ' ')

ping_from() {
	ip netns exec "$1" ping -c 1 -W 1 198.19.41.1
}
only_lo_and_tunnel() {
	local links
	links=$(ip -n "$ctr" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
	[ "$links" = "$(printf '%s\n' lo "$CLI" | sort | tr '\n' ' ')" ] || { echo "links: $links"; return 1; }
}
no_underlay() {
	! ip netns exec "$ctr" ping -c 1 -W 1 198.18.41.1
}
alive() {
	! pid_gone "$MON" && ! pid_gone "$WORKER" && [ -S "/var/run/wireguard/$CLI.sock" ]
}
ended() {
	pid_gone "$MON" && pid_gone "$WORKER" && [ ! -e "/var/run/wireguard/$CLI.sock" ] &&
		[ ! -e "/var/run/vpnd/$CLI.pid" ]
}

check "tunnel works before the move" wait_for 5 ping_from "$host"
check "bash completion: up --netns offers the namespaces" bash -c '
	. "$1"; COMP_WORDS=(vpnd up --netns ""); COMP_CWORD=3; _vpnd
	printf "%s\n" "${COMPREPLY[@]}" | grep -qx "$2"' _ \
	"$(dirname "$0")/../../scripts/vpnd.bash-completion" "$ctr"

# --- 1. into the container ---
ip -n "$host" link set "$CLI" netns "$ctr"
ip -n "$ctr" addr add 198.19.41.2/24 dev "$CLI"
ip -n "$ctr" link set "$CLI" up
sleep 0.5
check "daemon still running after the move" alive
check "the container has only lo and the tunnel" only_lo_and_tunnel
check "container reaches the server through the tunnel" wait_for 5 ping_from "$ctr"
check "container reaches nothing else (no underlay)" no_underlay
check "wg show from inside the container" \
	bash -c "ip netns exec '$ctr' wg show '$CLI' | grep -q 'latest handshake'"
check "vpnd show from inside the container" \
	bash -c "ip netns exec '$ctr' '$VPND' show '$CLI' | grep -q 'latest handshake'"
check "daemon log says moved, followed there" \
	grep -q "moved to another network namespace (followed there)" "$WORK/$CLI.log"

# --- 2. back home, with a new ifindex ---
OLD=$(ip netns exec "$ctr" cat "/sys/class/net/$CLI/ifindex")
# Its old index taken in host: the kernel must give it a new one on the way back.
ip -n "$host" link add dmold index "$OLD" type veth peer name dmoldp
# Renamed over there: recognised on its way back by the name the watch
# saw there (it follows the link into ctr), then renamed back here.
ip -n "$ctr" link set "$CLI" name "${CLI}x"
ip -n "$ctr" link set "${CLI}x" netns "$host"
NEW=$(ip netns exec "$host" cat "/sys/class/net/${CLI}x/ifindex")
check "daemon log says back, under the name it got in ctr" wait_for 5 \
	grep -q "back in this network namespace as ifindex $NEW" "$WORK/$CLI.log"
ip -n "$host" link set "${CLI}x" name "$CLI"
ip -n "$host" addr add 198.19.41.2/24 dev "$CLI"
ip -n "$host" link set "$CLI" up
check "back home with a new ifindex ($OLD -> $NEW)" [ "$OLD" != "$NEW" ]
check "traffic again after moving back" wait_for 5 ping_from "$host"
ip -n "$host" link add dmlate type veth peer name dmlatep	# a link event: the watch re-checks
sleep 0.5
check "a later link event does not stop it" alive
check "traffic still flows" ping_from "$host"

# --- 3. deleted in the container ---
ip -n "$host" link set "$CLI" netns "$ctr"
sleep 0.3
check "still running in the container" alive
ip -n "$ctr" link del "$CLI"
check "deleted in the container: monitor, worker, socket and pid file gone" wait_for 5 ended
check "daemon log says why it ended" grep -Eq "TUN closed by the kernel|interface deleted" "$WORK/$CLI.log"

# --- 4. vpnd up --netns ---
sed -i 's|^AllowedIPs = 198.19.41.0/24|AllowedIPs = 0.0.0.0/0|' "$WORK/$CLI.conf"
VPND_LOG="$WORK/$CLI.log" ip netns exec "$host" "$VPND" up --netns "$ctr" "$WORK/$CLI.conf"
cp "/var/run/vpnd/$CLI.pid" "$WORK/$CLI.pidfile"
MON=$(cat "/var/run/vpnd/$CLI.pid")
WORKER=$(ps -o pid= --ppid "$MON" | head -1 | tr -d ' ')
check "--netns: not in host" bash -c "! ip -n '$host' link show '$CLI'"
check "--netns: address in the container" \
	bash -c "ip -n '$ctr' -4 addr show dev '$CLI' | grep -q 198.19.41.2/24"
check "--netns: default route in the container via the tunnel" \
	bash -c "ip -n '$ctr' route get 198.18.99.1 | grep -q 'dev $CLI'"
check "--netns: the UDP socket is in host" \
	bash -c "ip netns exec '$host' ss -uanp | grep -q 'pid=$WORKER,'"
check "--netns: container reaches the server" wait_for 5 ping_from "$ctr"
check "--netns: container has only lo and the tunnel" only_lo_and_tunnel
# Reload while the link is away: peers over the UAPI, routes refused.
sed -i 's|^Endpoint = .*|&\nPersistentKeepalive = 25|' "$WORK/$CLI.conf"
check "--netns: reload of a peer change applies" bash -c "
	ip netns exec '$host' '$VPND' reload '$WORK/$CLI.conf' &&
	ip netns exec '$ctr' wg show '$CLI' persistent-keepalive | grep -q '\s25$'"
sed -i 's|^AllowedIPs = 0.0.0.0/0|AllowedIPs = 0.0.0.0/0, 198.19.99.0/24|' "$WORK/$CLI.conf"
check "--netns: reload that would change routes is refused, says where" bash -c "
	! ip netns exec '$host' '$VPND' reload '$WORK/$CLI.conf' 2> '$WORK/reload.err' &&
	grep -q 'not in this network namespace' '$WORK/reload.err'"
check "--netns: ... run in the container it adds the route there" bash -c "
	ip netns exec '$ctr' '$VPND' reload '$WORK/$CLI.conf' &&
	ip -n '$ctr' route show 198.19.99.0/24 | grep -q 'dev $CLI'"

# Followed from the start: renamed there and moved back, it is recognised.
backs() { grep -c "back in this network namespace" "$WORK/$CLI.log" || true; }
BEFORE=$(backs)
ip -n "$ctr" link set "$CLI" name "${CLI}y"
ip -n "$ctr" link set "${CLI}y" netns "$host"
check "--netns: renamed in the container and moved back, recognised" wait_for 5 \
	bash -c "[ \$(grep -c 'back in this network namespace' '$WORK/$CLI.log') -gt $BEFORE ]"
check "--netns: vpnd down" ip netns exec "$host" "$VPND" down "$WORK/$CLI.conf"
check "--netns: down ended everything" wait_for 5 ended
check "--netns: interface gone from the container" \
	bash -c "! ip -n '$ctr' link show '$CLI' 2>/dev/null"

check "--netns with a namespace that does not exist: refused, nothing left" bash -c "
	! ip netns exec '$host' '$VPND' up --netns 'nosuch-$TOKEN' '$WORK/$CLI.conf' 2> '$WORK/ns.err' &&
	grep -q 'ip netns add nosuch-$TOKEN' '$WORK/ns.err' &&
	! ip -n '$host' link show '$CLI' 2>/dev/null && [ ! -e /var/run/wireguard/$CLI.sock ]"

printf 'DNS = 198.19.41.1\n' > "$WORK/dns.part"
sed -i "/^Address/r $WORK/dns.part" "$WORK/$CLI.conf"
check "--netns with DNS = is refused, nothing left" bash -c "
	! ip netns exec '$host' '$VPND' up --netns '$ctr' '$WORK/$CLI.conf' 2> '$WORK/dns.err' &&
	grep -q 'DNS = with --netns' '$WORK/dns.err' &&
	! ip -n '$ctr' link show '$CLI' 2>/dev/null && ! ip -n '$host' link show '$CLI' 2>/dev/null &&
	[ ! -e /var/run/wireguard/$CLI.sock ]"

# --- 5. the container's namespace deleted: the interface goes with it ---
sed -i '/^DNS = /d' "$WORK/$CLI.conf"
VPND_LOG="$WORK/$CLI.log" ip netns exec "$host" "$VPND" up --netns "$ctr" "$WORK/$CLI.conf"
cp "/var/run/vpnd/$CLI.pid" "$WORK/$CLI.pidfile"
MON=$(cat "/var/run/vpnd/$CLI.pid")
WORKER=$(ps -o pid= --ppid "$MON" | head -1 | tr -d ' ')
check "--netns again: container reaches the server" wait_for 5 ping_from "$ctr"
ip netns del "$ctr"
check "namespace deleted: the daemon ends cleanly" wait_for 10 ended
finish
