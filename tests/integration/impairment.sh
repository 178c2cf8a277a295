#!/bin/bash
# A bad underlay: TCP through the tunnel survives loss, reordering,
# duplication and delay, with content checked end to end (sha256). The
# client's Endpoint is an impairment relay (tests/tools/impair) in a middle
# namespace that forwards to the server and relays replies back, impairing
# both directions; the last case drops at random with nftables instead, on
# routed packets. Transfer times are printed, never asserted.
#
#   [ns cli]                    [ns mid]                              [ns srv]
#   hdi-cli 198.19.40.2/24      impair: listens 198.18.40.1:51820     hdi-srv 198.19.40.1/24
#           2001:db8:40::2/64           sends to 198.18.41.2:51820            2001:db8:40::1/64
#   Endpoint 198.18.40.1:51820          (a socket per client)         UDP 51820, no Endpoint
#   veth0 198.18.40.2/24 ------ hdi-v1 198.18.40.1/24                        for the client
#                               hdi-v2 198.18.41.1/24 ------ veth0 198.18.41.2/24
#   route 198.18.41.0/24        ip_forward=1 for the nft case:        route 198.18.40.0/24
#     via 198.18.40.1           forward chain drops 5% of UDP 51820     via 198.18.41.1
#                               (client Endpoint -> 198.18.41.2:51820)
#
# Cases (16 MiB client -> server with ncat, relay seeded, both directions):
#   loss 5%; reorder 30% in a window of 32 (+ no replay drops: the replay
#   window absorbs it); duplication 10% (each duplicate dropped exactly once
#   as a replay by the receiver); delay 10 ms +- 3 ms (jitter reorders too);
#   nftables `numgen random mod 100 < 5 drop` both ways. Loss and
#   duplication also run server -> client (IPv6 inside).
# vpnd sends bulk data with UDP GSO: on the routed path the forward hook sees
# super-packets of up to 64 KiB (one skb, many datagrams), so nftables drops
# 5% of skbs, i.e. bursts of datagrams; the relay sees single datagrams.
# The server decrypts on two threads (VPND_CRYPTO_THREADS=2: receive runs
# checked, opened in parallel and delivered in order, so duplicates within
# one run are still refused once), the client on its event loop alone.
set -e
. "$(dirname "$0")/lib.sh"
SRV=$(ifname hdi-srv) CLI=$(ifname hdi-cli)

ns_new cli; ns_new mid; ns_new srv
veth "$cli" 198.18.40.2/24 "$mid" 198.18.40.1/24 veth0 hdi-v1
veth "$mid" 198.18.41.1/24 "$srv" 198.18.41.2/24 hdi-v2 veth0
ip -n "$cli" route add 198.18.41.0/24 via 198.18.40.1
ip -n "$srv" route add 198.18.40.0/24 via 198.18.41.1
keypair ks; keypair kc
cat > "$WORK/${SRV}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.40.1/24, 2001:db8:40::1/64
ListenPort = 51820

[Peer]
PublicKey = $kc_pub
AllowedIPs = 198.19.40.2/32, 2001:db8:40::2/128
EOC
cat > "$WORK/${CLI}.conf" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.40.2/24, 2001:db8:40::2/64

[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.40.0/24, 2001:db8:40::/64
Endpoint = 198.18.40.1:51820
EOC
chmod 600 "$WORK"/*.conf
VPND_CRYPTO_THREADS=2 vpnd_up "$srv" "$WORK/${SRV}.conf"
VPND_CRYPTO_THREADS=1 vpnd_up "$cli" "$WORK/${CLI}.conf"
head -c 16M /dev/urandom > "$WORK/blob"
want=$(sha256sum < "$WORK/blob" | cut -d' ' -f1)

# A counter from vpnd's get=stats UAPI request: NS IFNAME KEY.
vstat() {
	printf 'get=stats\n\n' | ip netns exec "$1" ncat -U "/var/run/wireguard/$2.sock" |
		sed -n "s/^$3=//p"
}
# UDP datagrams the kernel dropped for a full socket buffer in NS.
rcvbuf_errors() {
	ip netns exec "$1" awk '/^Udp:/ { if (h) { print $6; exit } else h = 1 }' /proc/net/snmp
}

# relay_start IMPAIR-OPTIONS...: (re)starts the relay; $relay is its pid.
relay=
relay_start() {
	ip netns exec "$mid" "$TOOLS/impair" -l 198.18.40.1:51820 -t 198.18.41.2:51820 -s 42 \
		"$@" > "$WORK/relay.out" 2>&1 &
	relay=$!
	PIDS+=("$relay")
	wait_for 5 grep -q '^impair: ready' "$WORK/relay.out"
}
# relay_stop: SIGTERM, then prints the relay's counters.
relay_stop() {
	kill "$relay"
	wait "$relay" || true
	sed -n 's/^impair: \(up\|down\) /     relay \1: /p' "$WORK/relay.out"
}
# relay_count DIR KEY: a counter printed by the stopped relay.
relay_count() { sed -n "s/^impair: $1 .* $2=\([0-9]*\).*/\1/p" "$WORK/relay.out"; }

# transfer FROM_NS TO_NS TO_ADDR PORT: 16 MiB through the tunnel; true if
# the sha256 matches. The time it took goes to $WORK/time.
transfer() {
	local pid t0
	rm -f "$WORK/recv" "$WORK/time"
	ip netns exec "$2" timeout 40 ncat -l "$3" "$4" > "$WORK/recv" &
	pid=$!
	PIDS+=("$pid")
	wait_for 5 sh -c "ip netns exec $2 ss -ltnH 'sport = :$4' | grep -q ."
	t0=$(date +%s.%N)
	ip netns exec "$1" timeout 40 ncat --send-only "$3" "$4" < "$WORK/blob"
	wait "$pid"
	echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.2f s\n' > "$WORK/time"
	[ "$(sha256sum < "$WORK/recv" | cut -d' ' -f1)" = "$want" ]
}
# run_case PORT WHAT [down]: a 16 MiB transfer as a check, client -> server
# over IPv4 inside (or server -> client over IPv6 inside), then its time.
run_case() {
	if [ "$3" = down ]; then
		check "$2: 16 MiB server -> client (IPv6 inside), sha256 equal" \
			transfer "$srv" "$cli" 2001:db8:40::2 "$1"
	else
		check "$2: 16 MiB client -> server (IPv4 inside), sha256 equal" \
			transfer "$cli" "$srv" 198.19.40.1 "$1"
	fi
	echo "     transfer time ($2, ${3:-up}): $(cat "$WORK/time" 2>/dev/null || echo '?')"
}

# --- an unimpaired relay first: the tunnel works through it ------------------
relay_start
check "client pings the server through the relay (IPv4 inside)" \
	ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.40.1
check "client pings the server through the relay (IPv6 inside)" \
	ip netns exec "$cli" ping -6 -c 3 -i 0.2 -W 2 2001:db8:40::1
check "the server's endpoint for the client is the relay's outside address" \
	sh -c "ip netns exec $srv wg show ${SRV} endpoints | grep -q '198.18.41.1:'"
run_case 7001 "no impairment"
relay_stop

# --- 5% loss -----------------------------------------------------------------
replay0=$(vstat "$srv" ${SRV} drop_replay)
relay_start -d 5
run_case 7002 "5% loss"
run_case 7012 "5% loss" down
relay_stop
check "the relay dropped datagrams both ways (up $(relay_count up drop), down $(relay_count down drop))" \
	[ "$(relay_count up drop)" -gt 0 -a "$(relay_count down drop)" -gt 0 ]
check "loss alone causes no replay drops on the server" \
	[ "$(vstat "$srv" ${SRV} drop_replay)" = "$replay0" ]

# --- heavy reordering: 30% held back by up to 32 datagrams -------------------
replay0=$(vstat "$srv" ${SRV} drop_replay)
relay_start -r 30 -w 32
run_case 7003 "reorder 30%, window 32"
relay_stop
check "the relay reordered datagrams (up $(relay_count up held), down $(relay_count down held))" \
	[ "$(relay_count up held)" -gt 0 -a "$(relay_count down held)" -gt 0 ]
check "reordering within the window causes no replay drops on the server" \
	[ "$(vstat "$srv" ${SRV} drop_replay)" = "$replay0" ]

# --- 10% duplication -----------------------------------------------------------
# Each duplicate must be dropped once, as a replay, by its receiver: the
# server's drop_replay grows by the relay's up-duplicates, the client's by
# the down-duplicates. Only a full socket buffer (RcvbufErrors) can lose one
# of a pair, so that is the only slack allowed.
s_replay0=$(vstat "$srv" ${SRV} drop_replay); c_replay0=$(vstat "$cli" ${CLI} drop_replay)
s_rcvbuf0=$(rcvbuf_errors "$srv"); c_rcvbuf0=$(rcvbuf_errors "$cli")
relay_start -u 10
run_case 7004 "10% duplication"
run_case 7014 "10% duplication" down
relay_stop
sleep 0.2
s_dups=$(relay_count up dup); c_dups=$(relay_count down dup)
s_replay=$(($(vstat "$srv" ${SRV} drop_replay) - s_replay0))
c_replay=$(($(vstat "$cli" ${CLI} drop_replay) - c_replay0))
s_slack=$(($(rcvbuf_errors "$srv") - s_rcvbuf0)); c_slack=$(($(rcvbuf_errors "$cli") - c_rcvbuf0))
check "server dropped each duplicate once as a replay: $s_replay drops for $s_dups duplicates (rcvbuf losses $s_slack)" \
	[ "$s_dups" -gt 0 -a "$s_replay" -le "$s_dups" -a "$s_replay" -ge $((s_dups - s_slack)) ]
check "client dropped each duplicate once as a replay: $c_replay drops for $c_dups duplicates (rcvbuf losses $c_slack)" \
	[ "$c_dups" -gt 0 -a "$c_replay" -le "$c_dups" -a "$c_replay" -ge $((c_dups - c_slack)) ]

# --- delay 10 ms +- 3 ms each way ----------------------------------------------
relay_start -D 10 -j 3
ip netns exec "$cli" ping -c 5 -i 0.2 -W 2 198.19.40.1 > "$WORK/ping.out" || true
min_rtt=$(sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/.*|\1|p' "$WORK/ping.out")
echo "     ping through the delayed relay: $(tail -1 "$WORK/ping.out")"
check "ping RTT through the delayed relay is at least 2 x (10 - 3) ms (min $min_rtt ms)" \
	sh -c "[ -n '$min_rtt' ] && echo '$min_rtt >= 14' | bc | grep -qx 1"
run_case 7005 "delay 10 ms +- 3 ms"
relay_stop

# --- nftables random loss on routed packets, no relay --------------------------
ip netns exec "$mid" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$mid" nft -f - <<'EON'
table inet hd_impair {
	counter lost_up { }
	counter lost_down { }
	counter seen_up { }
	counter seen_down { }
	chain forward {
		type filter hook forward priority 0;
		udp dport 51820 counter name seen_up
		udp sport 51820 counter name seen_down
		udp dport 51820 numgen random mod 100 < 5 counter name lost_up drop
		udp sport 51820 numgen random mod 100 < 5 counter name lost_down drop
	}
}
EON
nft_packets() {
	ip netns exec "$mid" nft list counter inet hd_impair "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
ip netns exec "$cli" wg set ${CLI} peer "$ks_pub" endpoint 198.18.41.2:51820
check "client pings the server over the routed path" \
	ip netns exec "$cli" ping -c 5 -i 0.2 -W 2 198.19.40.1
replay0=$(vstat "$srv" ${SRV} drop_replay)
run_case 7006 "nftables numgen 5% loss"
run_case 7016 "nftables numgen 5% loss" down
check "nftables dropped packets both ways (up $(nft_packets lost_up) of $(nft_packets seen_up), down $(nft_packets lost_down) of $(nft_packets seen_down))" \
	[ "$(nft_packets lost_up)" -gt 0 -a "$(nft_packets lost_down)" -gt 0 ]
check "the server's endpoint followed the client to its own address" \
	sh -c "ip netns exec $srv wg show ${SRV} endpoints | grep -q '198.18.40.2:'"
check "no replay drops on the server from loss" [ "$(vstat "$srv" ${SRV} drop_replay)" = "$replay0" ]
check "both daemons still running" kill -0 "$(cat "$WORK/${SRV}.pidfile")" "$(cat "$WORK/${CLI}.pidfile")"
echo "     server drops: $(ip netns exec "$srv" "$VPND" show ${SRV} | grep 'drops:' || echo none)"
echo "     client drops: $(ip netns exec "$cli" "$VPND" show ${CLI} | grep 'drops:' || echo none)"
finish
