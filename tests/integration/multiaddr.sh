#!/bin/bash
# Replies leave from the address the peer wrote to (issue 12 point 1; the
# kernel's wg_socket_endpoint_from_skb and send4/send6). The server has two
# addresses on one link; routing would pick the first as the source of
# anything sent to the client, but the client writes to the second and its
# firewall drops everything from the first (as a NAT or a stateful firewall
# would drop a reply from the wrong address). The handshake and the traffic
# must still work, the cached source must be dropped when its address goes
# away (sendmsg refuses it: the "source address no longer valid" retry), and
# it must follow the client when the client writes to the other address.
# Then the same over an IPv6 underlay: the client writes to whichever of
# the server's two IPv6 addresses routing would not pick as the source,
# and drops everything from the other.
#
#   [ns cli]                                       [ns srv]
#   MULTI-cli 198.19.60.2/24                       MULTI-srv 198.19.60.1/24, UDP 51820
#   veth0 198.18.60.2/24 ------------------------- veth0 198.18.60.1/24  (primary)
#         2001:db8:60::2/64                              198.18.60.10/24 (secondary)
#         nft input: drop ip saddr 198.18.60.1           2001:db8:60::1/64
#         (later the rules swap, see below)               2001:db8:60::10/64
#   Endpoint = 198.18.60.10:51820 (later the primary, then IPv6)
set -e
. "$(dirname "$0")/lib.sh"
SRV=$(ifname multi-srv) CLI=$(ifname multi-cli)

ns_new srv; ns_new cli
veth "$srv" 198.18.60.1/24 "$cli" 198.18.60.2/24
ip -n "$srv" addr add 198.18.60.10/24 dev veth0
ip -n "$srv" addr add 2001:db8:60::1/64 dev veth0 nodad
ip -n "$srv" addr add 2001:db8:60::10/64 dev veth0 nodad
ip -n "$cli" addr add 2001:db8:60::2/64 dev veth0 nodad
keypair ks; keypair kc
cat > "$WORK/${SRV}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.60.1/24
ListenPort = 51820

[Peer]
PublicKey = $kc_pub
AllowedIPs = 198.19.60.2/32
EOC
cat > "$WORK/${CLI}.conf" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.60.2/24

[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.60.0/24
Endpoint = 198.18.60.10:51820
EOC
chmod 600 "$WORK"/*.conf

# drop_from ADDR: the client's firewall drops every packet from ADDR (and
# only that one: the rule set is replaced).
drop_from() {
	local fam=ip
	case "$1" in *:*) fam=ip6 ;; esac
	ip netns exec "$cli" nft -f - <<EON
table inet multiaddr_fw
delete table inet multiaddr_fw
table inet multiaddr_fw {
	chain input {
		type filter hook input priority 0;
		$fam saddr $1 counter drop
	}
}
EON
}
dropped() { ip netns exec "$cli" nft list table inet multiaddr_fw | grep -o 'packets [0-9]*' | awk '{print $2}'; }
endpoint() { ip netns exec "$srv" wg show ${SRV} endpoints | awk -v k="$kc_pub" '$1 == k { print $2 }'; }
cli_ping() { ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.60.1; }
# tries N cmd...: cmd until it succeeds, at most N times (a ping waits for
# the handshake on its first try).
tries() { local n=$1; shift; for _ in $(seq "$n"); do "$@" && return 0; done; return 1; }
srv_ping() { ip netns exec "$srv" ping -c 3 -i 0.2 -W 2 198.19.60.2; }

drop_from 198.18.60.1
check "routing alone would answer from the primary address" \
	sh -c "ip -n $srv route get 198.18.60.2 | grep -q 'src 198.18.60.1 '"
vpnd_up "$srv" "$WORK/${SRV}.conf"
vpnd_up "$cli" "$WORK/${CLI}.conf"
srv_pid=$(cat "$WORK/${SRV}.pidfile"); cli_pid=$(cat "$WORK/${CLI}.pidfile")
cport=$(ip netns exec "$cli" wg show ${CLI} listen-port)

# --- 1: the client writes to the secondary address ------------------------------
check "handshake and ping through the tunnel (client to the secondary address)" \
	tries 3 cli_ping
check "the server reaches the client" srv_ping
check "nothing from the primary address reached the client (dropped: $(dropped))" \
	[ "$(dropped)" = 0 ]
check "the UAPI endpoint is the client's address only: 198.18.60.2:$cport" \
	[ "$(endpoint)" = "198.18.60.2:$cport" ]

# --- 2: the secondary address goes away --------------------------------------------
# The server's cached source is no longer local: its next send is refused,
# the source is forgotten and the send retried from what routing picks. The
# server speaks first (the client says nothing that would move the source):
# without the retry it would stay silent until the client spoke.
drop_from 198.18.60.10
ip -n "$srv" addr del 198.18.60.10/24 dev veth0
check "after the secondary address is removed, the server reaches the client" \
	tries 3 srv_ping
check "... and the client reaches the server" cli_ping

# --- 3: it comes back and the client writes to it again ---------------------------
ip -n "$srv" addr add 198.18.60.10/24 dev veth0
drop_from 198.18.60.1
ip netns exec "$cli" wg set ${CLI} peer "$ks_pub" endpoint 198.18.60.10:51820
check "the client writes to the secondary address again: ping" tries 3 cli_ping
check "the server's source followed (replies from the secondary again)" srv_ping
check "nothing from the primary address reached the client (dropped: $(dropped))" \
	[ "$(dropped)" = 0 ]

# --- 4: the client moves to the primary address -----------------------------------
drop_from 198.18.60.10
ip netns exec "$cli" wg set ${CLI} peer "$ks_pub" endpoint 198.18.60.1:51820
check "the client writes to the primary address: ping" tries 3 cli_ping
check "the server's source followed to the primary" srv_ping

# --- 5: IPv6 underlay, the client writes to the address routing would not pick --
# (Which of two addresses of one /64 routing picks is the kernel's choice:
# the test asks it and takes the other.)
v6_routed=$(ip -n "$srv" -6 route get 2001:db8:60::2 | sed -n 's/.* src \([^ ]*\).*/\1/p')
case "$v6_routed" in
2001:db8:60::1) v6_other=2001:db8:60::10 ;;
*) v6_other=2001:db8:60::1 ;;
esac
check "routing alone would answer from one of the two IPv6 addresses ($v6_routed)" \
	[ "$v6_routed" = 2001:db8:60::1 -o "$v6_routed" = 2001:db8:60::10 ]
drop_from "$v6_routed"
ip netns exec "$cli" wg set ${CLI} peer "$ks_pub" endpoint "[$v6_other]:51820"
check "IPv6 underlay to $v6_other: ping" tries 3 cli_ping
check "the server reaches the client over IPv6" srv_ping
check "the UAPI endpoint is the client's IPv6 address: [2001:db8:60::2]:$cport" \
	[ "$(endpoint)" = "[2001:db8:60::2]:$cport" ]
check "nothing from $v6_routed reached the client (dropped: $(dropped))" \
	[ "$(dropped)" = 0 ]
drop_from "$v6_other"
ip -n "$srv" addr del "$v6_other/64" dev veth0
check "after $v6_other is removed, the server reaches the client" \
	tries 3 srv_ping

check "neither daemon was restarted" kill -0 "$srv_pid" "$cli_pid"
finish
