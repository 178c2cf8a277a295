#!/bin/bash
# Handshake flood (the SYN flood of our protocol). An attacker who knows the
# server's public key (so mac1 verifies) but is no peer sends initiations
# with random contents from 64 addresses (tests/tools/hsflood). The server
# must go under load and answer with cookie replies instead of doing a DH
# per message, keep the established tunnel carrying traffic, let a new
# legitimate client in during the flood (cookie reply, retry with mac2 after
# REKEY_TIMEOUT, accepted), and keep its memory bounded. Then an attacker
# that uses its cookies (mac2 valid) from 64 addresses must be held by the
# per-source rate limit; then one that uses them from 8256 addresses (more
# than the rate limiter's 8192 entries) must not lock new clients out (the
# table evicts the least recently used) and gets no more DHs than the global
# budget.
#
#   [ns c1] hfu0 198.18.41.2/24 -------- hfv-c1 198.18.41.1/24 ---+
#     hf-c1 198.19.41.11, 2001:db8:41::11                         |
#     (tunnel up before the flood; iperf3 client)                 |
#                                                                 |   [ns srv]
#   [ns c2] hfu0 198.18.42.2/24 -------- hfv-c2 198.18.42.1/24 ---+-- hf-srv 198.19.41.1/24
#     hf-c2 198.19.41.12 (starts during flood 1)                  |        2001:db8:41::1/64
#                                                                 |   UDP 51820, iperf3 -s
#   [ns c3] hfu0 198.18.43.2/24 -------- hfv-c3 198.18.43.1/24 ---+   route 198.18.128.0/18
#     hf-c3 198.19.41.13 (starts after flood 3)                   |     via 198.18.100.1
#                                                                 |
#   [ns atk] hfu0 198.18.100.1-64/24 --- hfv-atk 198.18.100.254/24 +
#     local route 198.18.128.0/18 (any address in it is ours)
#     hsflood -> 198.18.100.254:51820
#       flood 1: 64 addresses x 4 ports, no mac2,   FLOOD_RATE/s, 12 s
#       flood 2: 64 addresses x 1 port, with mac2,  5000/s, 4 s
#       flood 3: 8256 addresses of 198.18.128.0/18, with mac2, 10000/s, 3 s
#       flood 4: as flood 1, 2000/s, while c3 joins
#
#   server AllowedIPs: c1 198.19.41.11/32, 2001:db8:41::11/128; c2 .12; c3 .13
#   clients' AllowedIPs for the server: 198.19.41.0/24, 2001:db8:41::/64
#   (lib.sh's hub_topology; interface names carry the run's token)
set -e
. "$(dirname "$0")/lib.sh"

FLOOD_RATE=${FLOOD_RATE:-30000}
FLOOD_SECS=10
MEM_LIMIT_KB=$((20 * 1024))

hub_topology 3 -p hf -u 198.18.4 -4 198.19.41 -6 2001:db8:41 -s hfv- -S -c hfu0 -0
SRV=$HUB_SRV_IF
ns_new atk
veth "$srv" 198.18.100.254/24 "$atk" 198.18.100.1/24 hfv-atk hfu0
for i in $(seq 2 64); do echo "addr add 198.18.100.$i/24 dev hfu0"; done |
	ip -n "$atk" -b -
ip -n "$atk" route add local 198.18.128.0/18 dev lo
ip -n "$srv" route add 198.18.128.0/18 via 198.18.100.1

# srv_stat KEY: a device-wide counter from the server's get=stats.
srv_stat() {
	printf 'get=stats\n\n' | ip netns exec "$srv" ncat -U /var/run/wireguard/$SRV.sock |
		sed -n "s/^$1=//p" | head -1
}
# srv_rx_total: bytes received from all peers by the server (UAPI rx_bytes).
# "%.0f", not "%d": mawk's %d stops at 2^31 - 1, which a run's total passes.
srv_rx_total() {
	printf 'get=1\n\n' | ip netns exec "$srv" ncat -U /var/run/wireguard/$SRV.sock |
		awk -F= '$1 == "rx_bytes" { n += $2 } END { printf "%.0f\n", n }'
}
# peer_stat NS IFNAME KEY: a per-peer counter (clients have one peer).
peer_stat() {
	printf 'get=stats\n\n' | ip netns exec "$1" ncat -U "/var/run/wireguard/$2.sock" |
		sed -n "s/^$3=//p" | head -1
}
# mem KEY: VmHWM or VmRSS of the server daemon, in kB.
mem() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$srv_pid/status"; }
# Snapshot of the server's counters into S_<name>_<key>.
snap() {
	local k
	for k in handshakes_answered cookie_replies_sent drop_cookie_sent drop_ratelimited \
		drop_bad_handshake drop_bad_mac1 drop_cookie_ratelimited drop_dh_budget; do
		eval "S_$1_$k=$(srv_stat "$k")"
	done
}
delta() { eval "echo \$((S_$2_$3 - S_$1_$3))"; }
# flood NAME ARGS...: hsflood in the attacker namespace, in the background.
flood() {
	local name=$1; shift
	ip netns exec "$atk" "$TOOLS/hsflood" -t 198.18.100.254:51820 -k "$ks_pub" "$@" \
		> "$WORK/$name.out" 2> "$WORK/$name.err" &
	FLOOD_PID=$!
	PIDS+=("$FLOOD_PID")
}
# flood_field NAME KEY: a counter from hsflood's closing line.
flood_field() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" "$WORK/$1.out"; }
flood_wait() {
	local i
	for i in $(seq 150); do kill -0 "$FLOOD_PID" 2>/dev/null || break; sleep 0.2; done
	wait "$FLOOD_PID" || { echo "hsflood failed:"; cat "$WORK/$1.err"; return 1; }
	echo "  $(cat "$WORK/$1.out")"
}
# iperf NAME: 3 s of TCP from c1 to the server through the tunnel; sets
# NAME_bps and NAME_bytes (0 when nothing got through).
iperf() {
	ip netns exec "$c1" timeout 15 iperf3 -c 198.19.41.1 -t 3 -J --connect-timeout 5000 \
		> "$WORK/$1.json" 2>&1 || true
	eval "$1_bps=$(jq -r '.end.sum_received.bits_per_second // 0 | floor' "$WORK/$1.json" 2>/dev/null || echo 0)"
	eval "$1_bytes=$(jq -r '.end.sum_received.bytes // 0' "$WORK/$1.json" 2>/dev/null || echo 0)"
}
mbit() { echo "$(($1 / 1000000)) Mbit/s"; }

vpnd_up "$srv" "$HUB_SRV_CONF"
srv_monitor=$(cat "$WORK/$SRV.pidfile")
# The worker (the monitor's child) runs the event loop: its memory counts.
wait_for 5 pgrep -P "$srv_monitor"
srv_pid=$(pgrep -P "$srv_monitor")
hub_up 1
ip netns exec "$srv" iperf3 -s -B 198.19.41.1 > "$WORK/iperf3-server.log" 2>&1 &
PIDS+=($!)

check "c1's tunnel is up (ping IPv4 inside)" ip netns exec "$c1" ping -c 3 -i 0.2 -W 2 198.19.41.1
check "c1's tunnel is up (ping IPv6 inside)" \
	ip netns exec "$c1" ping -6 -c 2 -i 0.2 -W 2 2001:db8:41::1
check "server not under load before the flood" [ "$(srv_stat under_load)" = 0 ]
wait_for 5 sh -c "ip netns exec $srv ss -Hltn 'sport = :5201' | grep -q 5201" || true

# --- baseline ---------------------------------------------------------------------
iperf base
mem_hwm_before=$(mem VmHWM); mem_rss_before=$(mem VmRSS)
echo "  throughput without flood: $(mbit "$base_bps") ($base_bytes bytes in 3 s)"
echo "  server memory before the floods: VmHWM $mem_hwm_before kB, VmRSS $mem_rss_before kB"
check "iperf3 through the tunnel without flood" [ "$base_bytes" -gt 0 ]

# --- flood 1: no mac2, 64 addresses ------------------------------------------------
# Cookie replies that reach c2: UDP from port 51820, 64 bytes, type 3.
ip netns exec "$c2" nft -f - <<'EON'
table inet hf_flood {
	counter cookies { }
	chain input {
		type filter hook input priority 0;
		iifname "hfu0" udp sport 51820 udp length 72 @th,64,8 3 counter name cookies
	}
}
EON
snap f1a
flood flood1 -a 198.18.100.1 -n 64 -s 4 -r "$FLOOD_RATE" -d "$FLOOD_SECS"
under=0
for _ in $(seq 50); do
	[ "$(srv_stat under_load)" = 1 ] && { under=1; break; }
	sleep 0.1
done
check "the server goes under load during the flood (under_load=1)" [ "$under" = 1 ]

# The late client: its tunnel comes up while the flood runs.
hub_up 2
c2_start=$(date +%s.%N)
(
	for _ in $(seq 25); do
		if ip netns exec "$c2" ping -c 1 -W 1 198.19.41.1 > /dev/null 2>&1; then
			date +%s.%N > "$WORK/c2.ok"
			kill -0 "$FLOOD_PID" 2>/dev/null && echo during > "$WORK/c2.when"
			exit 0
		fi
	done
	exit 1
) &
c2_waiter=$!
PIDS+=("$c2_waiter")

echo "  server memory at the flood's start: VmHWM $(mem VmHWM) kB, VmRSS $(mem VmRSS) kB"
srv_rx_before=$(srv_rx_total)
iperf flood
flood_alive=0; kill -0 "$FLOOD_PID" 2>/dev/null && flood_alive=1
srv_rx_during=$(( $(srv_rx_total) - srv_rx_before ))
echo "  server memory after iperf3 under flood: VmHWM $(mem VmHWM) kB, VmRSS $(mem VmRSS) kB"
echo "  throughput during the flood: $(mbit "$flood_bps") ($flood_bytes bytes in 3 s)"
check "the established tunnel carries TCP during the flood (iperf3 > 0 bytes)" \
	[ "$flood_bytes" -gt 0 ]
# Not only iperf3's word: the server itself counted the tunnel's bytes
# (each message with its 32 bytes of header and tag: ~1.06x iperf3's
# payload), and the flood was still running when the measurement ended.
check "the server received tunnel traffic during the flood ($srv_rx_during >= $flood_bytes > 0)" \
	[ "$flood_bytes" -gt 0 -a "$srv_rx_during" -ge "$flood_bytes" ]
check "  ... while the flood was still running" [ "$flood_alive" = 1 ]
check "c1 pings the server during the flood" \
	ip netns exec "$c1" ping -c 5 -i 0.2 -W 2 198.19.41.1
check "still under load mid-flood" [ "$(srv_stat under_load)" = 1 ]

c2_ok=0
wait "$c2_waiter" && c2_ok=1
c2_secs=$([ -f "$WORK/c2.ok" ] && echo "$(cat "$WORK/c2.ok") - $c2_start" | bc || echo never)
echo "  late client c2: tunnel up after ${c2_secs} s"
check "late client c2 gets in during the flood (ping within 25 s)" [ "$c2_ok" = 1 ]
check "  ... while the flood was still running" [ -f "$WORK/c2.when" ]
c2_cookies=$(ip netns exec "$c2" nft list counter inet hf_flood cookies |
	sed -n 's/.*packets \([0-9]*\).*/\1/p')
c2_hs_sent=$(peer_stat "$c2" "${HUB_IF[2]}" handshakes_sent)
echo "  c2: $c2_cookies cookie replies received, $c2_hs_sent initiations sent"
check "  ... after a cookie reply (so its retry carried mac2)" [ "$c2_cookies" -ge 1 ]

flood_wait flood1
echo "  server memory after flood 1: VmHWM $(mem VmHWM) kB, VmRSS $(mem VmRSS) kB"
snap f1b
sent1=$(flood_field flood1 sent)
valid1=$(flood_field flood1 cookie_valid)
answered1=$(delta f1a f1b handshakes_answered)
cookies1=$(delta f1a f1b cookie_replies_sent)
dh1=$(delta f1a f1b drop_bad_handshake)
echo "  flood 1: $sent1 initiations sent; server: $cookies1 cookie replies sent," \
	"$(delta f1a f1b drop_cookie_sent) drop_cookie_sent, $answered1 handshakes answered," \
	"$dh1 flood initiations given a DH (bad_handshake), $(delta f1a f1b drop_ratelimited) ratelimited;" \
	"attacker received $valid1 valid cookie replies"
check "flood 1 sent a flood (>= 50% of its target)" [ "$sent1" -ge $((FLOOD_RATE * FLOOD_SECS / 2)) ]
check "the server sent cookie replies (cookie_replies_sent grew)" [ "$cookies1" -gt 0 ]
check "drop_cookie_sent grew" [ "$(delta f1a f1b drop_cookie_sent)" -gt 0 ]
check "the attacker received valid cookie replies" [ "$valid1" -gt 0 ]
nodh1=$(( cookies1 + $(delta f1a f1b drop_cookie_ratelimited) + $(delta f1a f1b drop_ratelimited) ))
check "most flood messages got a cookie or were limited, not a DH ($nodh1 >= 50% of sent)" \
	[ "$nodh1" -ge $((sent1 / 2)) ]
# The cookie-reply limiter: one reply per source address per 250 ms (no
# reflector), 64 addresses for FLOOD_SECS plus slack for the ends.
check "cookie replies limited per source ($cookies1 <= 64 x 4 x ($FLOOD_SECS + 2))" \
	[ "$cookies1" -le $((64 * 4 * (FLOOD_SECS + 2))) ]
check "cookie replies owed but not sent are counted (drop_cookie_ratelimited grew)" \
	[ "$(delta f1a f1b drop_cookie_ratelimited)" -gt 0 ]
check "handshakes answered: only legitimate ones ($answered1 <= 5)" [ "$answered1" -le 5 ]
# Not under load, valid-mac1 messages get DHs until the second's budget
# (1000) runs out; that puts the server under load for 1 s after, where they
# need mac2: at most one budget per 2 s of flood, plus the start.
check "DH work on the flood bounded by the DH budget ($dh1 <= 1000 x ($FLOOD_SECS / 2 + 1))" \
	[ "$dh1" -le $((1000 * (FLOOD_SECS / 2 + 1))) ]

# --- flood 2: the attacker uses its cookies (mac2), 64 addresses --------------------
snap f2a
flood flood2 -a 198.18.100.1 -n 64 -s 1 -r 5000 -d 4 -m
flood_wait flood2
echo "  server memory after flood 2: VmHWM $(mem VmHWM) kB, VmRSS $(mem VmRSS) kB"
snap f2b
sent2=$(flood_field flood2 sent)
mac2_2=$(flood_field flood2 mac2_sent)
dh2=$(delta f2a f2b drop_bad_handshake)
rl2=$(delta f2a f2b drop_ratelimited)
echo "  flood 2: $sent2 sent ($mac2_2 with mac2); server: $(delta f2a f2b cookie_replies_sent)" \
	"cookie replies, $rl2 ratelimited, $dh2 given a DH"
check "flood 2 sent messages with mac2" [ "$mac2_2" -gt 0 ]
check "messages with a valid mac2 are rate-limited per source (drop_ratelimited grew)" \
	[ "$rl2" -gt 0 ]
# 64 sources x (burst 5 + 20/s x 4 s), plus slack for the start and the end.
check "DH work bounded by the per-source rate ($dh2 <= 64 x (5 + 20 x 5) + 512)" \
	[ "$dh2" -le $((64 * (5 + 20 * 5) + 512)) ]
check "c1 pings the server after flood 2" ip netns exec "$c1" ping -c 2 -i 0.2 -W 2 198.19.41.1

# --- flood 3 + 4: more sources than the rate limiter has entries -------------------
# Each of 8256 addresses gets a cookie and spends it, so each takes an entry
# in the rate limiter's table (8192). A new client must still get in once
# those sources have gone quiet, while the server is under load again.
snap f3a
flood flood3 -a 198.18.128.1 -n 8256 -s 1 -r 10000 -d 3 -m
flood_wait flood3
echo "  server memory after flood 3: VmHWM $(mem VmHWM) kB, VmRSS $(mem VmRSS) kB"
snap f3b
echo "  flood 3: $(flood_field flood3 sent) sent ($(flood_field flood3 mac2_sent) with mac2);" \
	"server: $(delta f3a f3b drop_ratelimited) ratelimited, $(delta f3a f3b drop_bad_handshake) given a DH"
# The table evicts its least recently used sources instead of refusing new
# ones, so what 8256 sources with cookies buy is bounded by the global DH
# budget (1000/s), not by the table.
dh3=$(( $(delta f3a f3b drop_bad_handshake) + $(delta f3a f3b handshakes_answered) ))
check "flood 3's DH work within the global DH budget ($dh3 <= 1000 x (3 + 2))" \
	[ "$dh3" -le $((1000 * 5)) ]
sleep 1.5	# the flood-3 sources are now idle for more than a second
flood flood4 -a 198.18.100.1 -n 64 -s 4 -r 2000 -d 12
sleep 0.5
hub_up 3
c3_start=$(date +%s.%N)
snap f4a
c3_ok=0; c3_during=0; c3_under=0
for _ in $(seq 10); do
	if ip netns exec "$c3" ping -c 1 -W 1 198.19.41.1 > /dev/null 2>&1; then
		c3_ok=1
		kill -0 "$FLOOD_PID" 2>/dev/null && c3_during=1
		[ "$(srv_stat under_load)" = 1 ] && c3_under=1
		break
	fi
done
c3_secs=$([ "$c3_ok" = 1 ] && echo "$(date +%s.%N) - $c3_start" | bc || echo never)
snap f4b
echo "  c3: tunnel up after $c3_secs s; $(delta f4a f4b drop_ratelimited) handshake messages" \
	"ratelimited on the server meanwhile"
check "new client c3 gets in after flood 3 filled the rate limiter (ping within 10 s)" \
	[ "$c3_ok" = 1 ]
check "  ... while flood 4 kept the server under load" [ "$c3_during$c3_under" = 11 ]
kill "$FLOOD_PID" 2>/dev/null || true
flood_wait flood4

# --- after ----------------------------------------------------------------------------
mem_hwm_after=$(mem VmHWM); mem_rss_after=$(mem VmRSS)
echo "  server memory after the floods: VmHWM $mem_hwm_after kB (before $mem_hwm_before)," \
	"VmRSS $mem_rss_after kB (before $mem_rss_before)"
check "server peak memory grew by less than 20 MB" \
	[ $((mem_hwm_after - mem_hwm_before)) -lt "$MEM_LIMIT_KB" ]
check "the server leaves under-load mode after the flood" \
	wait_for 4 sh -c "[ \"\$(printf 'get=stats\n\n' | ip netns exec $srv ncat -U /var/run/wireguard/$SRV.sock | sed -n 's/^under_load=//p')\" = 0 ]"
iperf after
echo "  throughput after the floods: $(mbit "$after_bps")"
check "c1's tunnel still carries TCP after the floods" [ "$after_bytes" -gt 0 ]
check "the server daemon (monitor and worker) is still running" \
	kill -0 "$srv_monitor" "$srv_pid"

ratio=$(echo "scale=2; $flood_bps * 100 / ($base_bps + 1)" | bc)
snap end
cat <<EOS
  --- figures ---
  throughput without flood : $(mbit "$base_bps")
  throughput during flood 1: $(mbit "$flood_bps") (${ratio}% of baseline; flood $FLOOD_RATE/s from 64 x 4 sources)
  throughput after floods  : $(mbit "$after_bps")
  flood 1: sent $sent1, cookie replies sent $cookies1, valid cookies at the attacker $valid1,
           handshakes answered $answered1, flood initiations given a DH $dh1
  flood 2 (mac2): sent $sent2, ratelimited $rl2, given a DH $dh2
  late client c2: up after ${c2_secs} s, $c2_cookies cookie replies, $c2_hs_sent initiations
  new client c3 (after flood 3 filled the rate limiter, under flood 4): up after $c3_secs s
  server totals: handshakes_answered=$S_end_handshakes_answered cookie_replies_sent=$S_end_cookie_replies_sent drop_ratelimited=$S_end_drop_ratelimited drop_bad_handshake=$S_end_drop_bad_handshake
  server memory: VmHWM $mem_hwm_before -> $mem_hwm_after kB, VmRSS $mem_rss_before -> $mem_rss_after kB
EOS
finish
