#!/bin/bash
# make bench-flood: what a handshake flood costs an established tunnel
# (issue 13's goal: >= 0.8 of the closed-port baseline), vpnd as the server
# and wireguard-go as the anchor, in one run. A benchmark, not a test: it
# prints figures and asserts nothing about them.
#
#   [ns c1] bfu1 198.18.61.2/24 ======== veth ======== bfv<ID>1 198.18.61.1/24 [ns srv]
#     bfa<ID> vpnd 198.19.61.11 --- UDP 51820 ---> bfs<ID> vpnd         198.19.61.1/24
#     bfb<ID> vpnd 198.19.62.11 --- UDP 51821 ---> bfw<ID> wireguard-go 198.19.62.1/24
#     (tunnels up before the first run; iperf3 -c)                      (configured with wg;
#                                                                         iperf3 -s)
#   [ns c2] bfu2 198.18.62.2/24 ======== veth ======== bfv<ID>2 198.18.62.1/24 [ns srv]
#     bfc<ID> vpnd 198.19.61.12 -> bfs<ID>; bfd<ID> vpnd 198.19.62.12 -> bfw<ID>
#     (the new client: brought up during each flood, down after it)
#   [ns atk] bfu3 198.18.100.2/24  ===== veth ======== bfv<ID>3 198.18.100.1/24 [ns srv]
#                 2001:db8:60::2/64                            2001:db8:60::1/64
#     + 1024 IPv4 sources 198.18.128.1 .. 198.18.132.0 (/32 each)  srv: route 198.18.128.0/20
#     + 1024 IPv6 sources 2001:db8:100:0::1 .. 2001:db8:100:3ff::1      via 198.18.100.2,
#       (/128 each, one per /64)                                     2001:db8:100::/48
#     two tests/tools/hsflood (IPv4, IPv6), RATE/2 each                  via 2001:db8:60::2
#
# For each server (vpnd, wireguard-go) and repetition, three runs of DUR
# seconds of iperf3 TCP from c1 through that server's tunnel, with the
# attacker sending the same packets per second (RATE, split over the two
# families, one socket per source) in each:
#   (a) to a closed UDP port of the server (51999): the baseline, which costs
#       the server's kernel what any packet flood costs;
#   (b) valid-mac1 initiations to the server's port (hsflood);
#   (c) the same, answering cookie replies and sending mac2 (hsflood -m).
# The flood starts 1 s before iperf3 and runs at least 14 s; 1 s in, the
# new client's tunnel (c2) comes up, and its time to connect is how long
# after `vpnd up` returned its first ping through the tunnel was answered
# (pings every second, each waiting 1 s: under load the first initiation
# gets a cookie reply and the retry with mac2 follows REKEY_TIMEOUT later).
# Per run it records throughput, what hsflood sent and got back (cookie
# replies), and for vpnd the server's counters (get=stats: cookie replies
# sent, DHs = handshakes answered + bad_handshake, ratelimited, dh_budget,
# hs_queue_full) and the worker's CPU by thread over the iperf3 window
# (the handshake thread is the one at nice 19); for wireguard-go its CPU.
# At the end: per server, median throughput per run kind, the ratios
# (b)/(a) and (c)/(a) per repetition (median and range), beside each other.
#
# Environment: VPND (binary), TOOLS (hsflood's directory), REPS (default 2),
# DUR (seconds of iperf3 per run, default 10), RATE (attack packets per
# second, both families together, default 40000), FLOOD_SECS (how long each
# flood runs, default DUR + 2 and at least 14: the new client waits up to
# FLOOD_SECS - 2 s), ONLY="vpnd" or "wggo"
# (one server), PERF=1 (perf record -g on vpnd's worker during (b) and (c)
# of the first repetition: the top symbols are printed), KEEP=1 (keep logs).
# Needs root, iperf3, wireguard-go, wg, ncat, jq, python3. Addresses:
# 198.18.0.0/15 and 2001:db8::/32 only. Everything started is tracked by
# PID and stopped on exit (Ctrl-C too), and the namespaces are deleted.
set -eu

HERE=$(cd "$(dirname "$0")/.." && pwd)
VPND=${VPND:-$HERE/build/vpnd}
TOOLS=${TOOLS:-$HERE/build/tools}
REPS=${REPS:-2}
DUR=${DUR:-10}
RATE=${RATE:-40000}
PERF=${PERF:-0}
ID=$(printf %05d $(($$ % 100000)))
NS_SRV=bf-$ID-srv
NS_C1=bf-$ID-c1
NS_C2=bf-$ID-c2
NS_ATK=bf-$ID-atk
WORK=$(mktemp -d /tmp/vpnd-bench-flood.XXXXXX)
RESULTS=$WORK/results.tsv
NSRC=1024		# sources per family
CLOSED_PORT=51999
FLOOD_SECS=${FLOOD_SECS:-$((DUR + 2 > 14 ? DUR + 2 : 14))}
NAMESPACES=()
declare -A TRACKED=()	# pid -> the command name it should have
IFNAMES=()		# tunnel interfaces (their /var/run sockets and pid files)
WGGO_ENV=(env WG_PROCESS_FOREGROUND=1 WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1)

die() { echo "bench-flood: $*" >&2; exit 1; }

BENCH_NAME=bench-flood
. "$(dirname "$0")/bench_lib.sh"
bench_traps

# --- checks --------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
for c in ip iperf3 wireguard-go wg ncat jq python3 ping; do
	command -v "$c" > /dev/null || die "missing $c"
done
[ -x "$VPND" ] || die "no vpnd binary at $VPND (make first)"
[ -x "$TOOLS/hsflood" ] || die "no hsflood at $TOOLS/hsflood (make first)"
for v in REPS DUR RATE; do
	case ${!v} in '' | *[!0-9]* | 0) die "$v must be a positive integer" ;; esac
done
SERVERS=(vpnd wggo)
[ -n "${ONLY:-}" ] && read -r -a SERVERS <<< "$ONLY"
for s in "${SERVERS[@]}"; do
	case $s in vpnd | wggo) ;; *) die "ONLY: vpnd and/or wggo, not '$s'" ;; esac
done

# --- topology ------------------------------------------------------------

ns_new() {
	ip netns add "$1" || die "cannot create namespace $1"
	NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}
# veth NS_OUTER ADDR_OUTER IF_INNER_NS IF ADDR_INNER: srv side bfv<ID>N
veth() {
	ip link add "$2" netns "$NS_SRV" type veth peer name "$4" netns "$1" ||
		die "cannot create veth $2"
	ip -n "$NS_SRV" addr add "$3" dev "$2"
	ip -n "$1" addr add "$5" dev "$4"
	ip -n "$NS_SRV" link set "$2" up
	ip -n "$1" link set "$4" up
}

for ns in "$NS_SRV" "$NS_C1" "$NS_C2" "$NS_ATK"; do ns_new "$ns"; done
veth "$NS_C1" "bfv${ID}1" 198.18.61.1/24 bfu1 198.18.61.2/24
veth "$NS_C2" "bfv${ID}2" 198.18.62.1/24 bfu2 198.18.62.2/24
veth "$NS_ATK" "bfv${ID}3" 198.18.100.1/24 bfu3 198.18.100.2/24
ip -n "$NS_SRV" addr add 2001:db8:60::1/64 dev "bfv${ID}3" nodad
ip -n "$NS_ATK" addr add 2001:db8:60::2/64 dev bfu3 nodad
# The sources: added to the attacker's interface, so hsflood binds them
# and cookie replies come back to them.
python3 - "$NSRC" > "$WORK/atk-addrs" <<'EOF'
import ipaddress, sys
n = int(sys.argv[1])
v4 = ipaddress.ip_address("198.18.128.1")
v6 = ipaddress.ip_address("2001:db8:100::1")
for i in range(n):
    print(f"addr add {v4 + i}/32 dev bfu3")
    print(f"addr add {v6 + (i << 64)}/128 dev bfu3 nodad")
EOF
ip -n "$NS_ATK" -b "$WORK/atk-addrs" || die "cannot add the attacker's sources"
ip -n "$NS_SRV" route add 198.18.128.0/20 via 198.18.100.2
ip -n "$NS_SRV" -6 route add 2001:db8:100::/48 via 2001:db8:60::2

for k in srv wsrv c1 c1w c2 c2w; do
	(umask 077 && wg genkey > "$WORK/$k.key")
	wg pubkey < "$WORK/$k.key" > "$WORK/$k.pub"
done
pub() { cat "$WORK/$1.pub"; }

SRV_IF=bfs$ID; WSRV_IF=bfw$ID
IFNAMES+=("bfc$ID" "bfd$ID")	# c2's, started in a background subshell
# client interface, its namespace, key, tunnel address and server, per
# server kind: c1 (established) and c2 (the new client)
declare -A C1_IF=([vpnd]=bfa$ID [wggo]=bfb$ID) C2_IF=([vpnd]=bfc$ID [wggo]=bfd$ID)
declare -A TUN_NET=([vpnd]=198.19.61 [wggo]=198.19.62) PORT=([vpnd]=51820 [wggo]=51821)
declare -A C1_KEY=([vpnd]=c1 [wggo]=c1w) C2_KEY=([vpnd]=c2 [wggo]=c2w)
declare -A SRV_KEY=([vpnd]=srv [wggo]=wsrv)

# vpnd_conf NAME KEY ADDRESS PORT|"" [PEER_PUB ALLOWED ENDPOINT|""]...
vpnd_conf() {
	local f=$WORK/$1.conf
	{
		echo "[Interface]"
		echo "PrivateKey = $(cat "$WORK/$2.key")"
		echo "Address = $3"
		[ -n "$4" ] && echo "ListenPort = $4"
		echo "MTU = 1420"
		shift 4
		while [ $# -ge 3 ]; do
			printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = %s\n' "$1" "$2"
			[ -n "$3" ] && echo "Endpoint = $3"
			shift 3
		done
	} > "$f"
	chmod 600 "$f"
}
# vpnd_start NS NAME: vpnd up $WORK/NAME.conf in NS, tracked; the
# monitor's pid in STARTED_PID (not printed: a $(...) subshell would lose
# the tracking)
vpnd_start() {
	local pid
	IFNAMES+=("$2")
	VPND_LOG="$WORK/$2.log" ip netns exec "$1" "$VPND" up "$WORK/$2.conf" \
		> "$WORK/$2.up.log" 2>&1 ||
		die "vpnd up $2 failed: $(cat "$WORK/$2.up.log" "$WORK/$2.log" 2>/dev/null)"
	pid=$(cat "/var/run/vpnd/$2.pid" 2>/dev/null)
	if [ -z "$pid" ] || [ ! -e "/proc/$pid" ]; then die "vpnd $2: no daemon pid"; fi
	TRACKED[$pid]=vpnd
	STARTED_PID=$pid
}
vpnd_stop() {
	local pid
	pid=$(cat "/var/run/vpnd/$2.pid" 2>/dev/null) || return 0
	ip netns exec "$1" "$VPND" down "$2" > /dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.05; done
	unset "TRACKED[$pid]"
}

echo "== setting up: namespaces bf-$ID-{srv,c1,c2,atk}; $NSRC IPv4 sources and $NSRC IPv6 /64s"
vpnd_conf "$SRV_IF" srv 198.19.61.1/24 51820 \
	"$(pub c1)" 198.19.61.11/32 "" "$(pub c2)" 198.19.61.12/32 ""
vpnd_start "$NS_SRV" "$SRV_IF"
SRV_MON=$STARTED_PID
for _ in $(seq 50); do pgrep -P "$SRV_MON" > /dev/null && break; sleep 0.1; done
SRV_WORKER=$(pgrep -P "$SRV_MON" | head -1)
[ -n "$SRV_WORKER" ] || die "vpnd server: no worker under the monitor $SRV_MON"

IFNAMES+=("$WSRV_IF")
ip netns exec "$NS_SRV" "${WGGO_ENV[@]}" wireguard-go -f "$WSRV_IF" > "$WORK/$WSRV_IF.log" 2>&1 &
WGGO_PID=$!
TRACKED[$WGGO_PID]=wireguard-go
for _ in $(seq 100); do [ -S "/var/run/wireguard/$WSRV_IF.sock" ] && break; sleep 0.05; done
[ -S "/var/run/wireguard/$WSRV_IF.sock" ] || die "wireguard-go did not start"
ip netns exec "$NS_SRV" wg set "$WSRV_IF" private-key "$WORK/wsrv.key" listen-port 51821 \
	peer "$(pub c1w)" allowed-ips 198.19.62.11/32 peer "$(pub c2w)" allowed-ips 198.19.62.12/32 ||
	die "wg set $WSRV_IF failed"
ip -n "$NS_SRV" addr add 198.19.62.1/24 dev "$WSRV_IF"
ip -n "$NS_SRV" link set "$WSRV_IF" mtu 1420 up

for s in vpnd wggo; do
	vpnd_conf "${C1_IF[$s]}" "${C1_KEY[$s]}" "${TUN_NET[$s]}.11/24" "" \
		"$(pub "${SRV_KEY[$s]}")" "${TUN_NET[$s]}.0/24" "198.18.61.1:${PORT[$s]}"
	vpnd_start "$NS_C1" "${C1_IF[$s]}"
	vpnd_conf "${C2_IF[$s]}" "${C2_KEY[$s]}" "${TUN_NET[$s]}.12/24" "" \
		"$(pub "${SRV_KEY[$s]}")" "${TUN_NET[$s]}.0/24" "198.18.62.1:${PORT[$s]}"
	ok=0
	for _ in $(seq 20); do
		ip netns exec "$NS_C1" ping -c 1 -W 1 "${TUN_NET[$s]}.1" > /dev/null 2>&1 && { ok=1; break; }
	done
	[ "$ok" = 1 ] || die "c1 has no tunnel to the $s server"
done
ip netns exec "$NS_SRV" iperf3 -s > "$WORK/iperf3-server.log" 2>&1 &
TRACKED[$!]=iperf3
for _ in $(seq 50); do
	ip netns exec "$NS_SRV" ss -Hltn 'sport = :5201' | grep -q 5201 && break
	sleep 0.1
done

# --- one run ---------------------------------------------------------------

stats() {
	printf 'get=stats\n\n' | ip netns exec "$NS_SRV" ncat -U "/var/run/wireguard/$SRV_IF.sock"
}
stat_of() { sed -n "s/^$2=//p" "$1" | head -1; }
# thread_ticks PID: "tid role utime+stime" per thread; role: loop (the
# main thread, vpnd's event loop), handshake (vpnd's: 10 or more nicer
# than the loop), helper
thread_ticks() {
	local pid=$1 t f role base
	f=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
	f=${f##*) }
	# shellcheck disable=SC2086 # split the fields
	set -- $f
	base=${17}
	for t in /proc/"$pid"/task/*; do
		f=$(cat "$t/stat" 2>/dev/null) || continue
		f=${f##*) }
		# shellcheck disable=SC2086
		set -- $f
		role=helper
		[ "${17}" -ge $((base + 10)) ] && role=handshake
		[ "${t##*/}" = "$pid" ] && role=loop
		echo "${t##*/} $role $((${12} + ${13}))"
	done
}
# cpu_split BEFORE AFTER SECONDS [total]: "total P%", then unless "total"
# per thread "ROLE: P%", busiest first (% of one core)
cpu_split() {
	local hz
	hz=$(getconf CLK_TCK)
	awk -v hz="$hz" -v secs="$3" 'NR == FNR { b[$1] = $3; next }
		{ d = $3 - b[$1]; t += d
		  if (d > 0) printf "%d %s: %d%%\n", d, $2, 100 * d / hz / secs }
		END { printf "999999999 total %d%%\n", 100 * t / hz / secs }' "$1" "$2" |
		sort -rn | cut -d' ' -f2- | { if [ "${4:-}" = total ]; then head -1; else cat; fi; } |
		paste -sd, - | sed 's/,/, /g'
}
# flood KIND SERVER NAME: both hsflood processes, in the background
flood() {
	local port=${PORT[$2]} extra=() pid
	[ "$1" = a ] && port=$CLOSED_PORT
	[ "$1" = c ] && extra=(-m)
	FLOOD_PIDS=()
	ip netns exec "$NS_ATK" "$TOOLS/hsflood" -t "198.18.100.1:$port" -k "$(pub "${SRV_KEY[$2]}")" \
		-a 198.18.128.1 -n "$NSRC" -s 1 -r $((RATE / 2)) -d "$FLOOD_SECS" "${extra[@]}" \
		> "$WORK/$3.f4" 2> "$WORK/$3.f4.err" &
	pid=$!; TRACKED[$pid]=hsflood; FLOOD_PIDS+=("$pid")
	ip netns exec "$NS_ATK" "$TOOLS/hsflood" -t "[2001:db8:60::1]:$port" -k "$(pub "${SRV_KEY[$2]}")" \
		-a 2001:db8:100::1 -p 64 -n "$NSRC" -s 1 -r $((RATE / 2)) -d "$FLOOD_SECS" "${extra[@]}" \
		> "$WORK/$3.f6" 2> "$WORK/$3.f6.err" &
	pid=$!; TRACKED[$pid]=hsflood; FLOOD_PIDS+=("$pid")
}
flood_sum() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" "$WORK/$1.f4" "$WORK/$1.f6" | awk '{ n += $1 } END { print n + 0 }'; }
# new_client SERVER NAME: c2's tunnel comes up; seconds until a ping through it
# is answered (or "none" within the flood) into $WORK/NAME.c2
new_client() {
	local s=$1 ifn=${C2_IF[$1]} t0 deadline
	vpnd_start "$NS_C2" "$ifn"	# tracked by its pid file (IFNAMES)
	t0=$(date +%s.%N)
	deadline=$(( $(date +%s) + FLOOD_SECS - 2 ))
	echo none > "$WORK/$2.c2"
	while [ "$(date +%s)" -lt "$deadline" ]; do
		if ip netns exec "$NS_C2" ping -c 1 -W 1 "${TUN_NET[$s]}.1" > /dev/null 2>&1; then
			echo "$(date +%s.%N) $t0" | awk '{ printf "%.2f\n", $1 - $2 }' > "$WORK/$2.c2"
			break
		fi
	done
}

# run SERVER KIND REP: one measurement; appends a line to $RESULTS
run() {
	local s=$1 k=$2 rep=$3 name="$1-$2-$3" bps c2 pid perf_pid="" cpu=""
	local sent cookies_atk valid mac2 st0 st1 dh=- cookies_srv=- rl=- budget=- qfull=- answered=-
	if [ "$s" = vpnd ]; then
		for _ in $(seq 50); do
			[ "$(stats | sed -n 's/^under_load=//p')" = 0 ] && break
			sleep 0.1
		done
		stats > "$WORK/$name.st0"
	fi
	flood "$k" "$s" "$name"
	sleep 1
	new_client "$s" "$name" &
	pid=$!; TRACKED[$pid]=bash
	if [ "$s" = vpnd ]; then thread_ticks "$SRV_WORKER" > "$WORK/$name.t0"
	else thread_ticks "$WGGO_PID" > "$WORK/$name.t0"; fi
	if [ "$PERF" = 1 ] && [ "$s" = vpnd ] && [ "$k" != a ] && [ "$rep" = 1 ]; then
		perf record -q -F 499 -g -p "$SRV_WORKER" -o "$WORK/$name.perf" -- sleep "$DUR" \
			> /dev/null 2>&1 &
		perf_pid=$!; TRACKED[$perf_pid]=perf
	fi
	ip netns exec "$NS_C1" timeout $((DUR + 10)) iperf3 -c "${TUN_NET[$s]}.1" -t "$DUR" -J \
		--connect-timeout 5000 > "$WORK/$name.json" 2>&1 || true
	if [ "$s" = vpnd ]; then thread_ticks "$SRV_WORKER" > "$WORK/$name.t1"
	else thread_ticks "$WGGO_PID" > "$WORK/$name.t1"; fi
	bps=$(jq -r '.end.sum_received.bits_per_second // 0 | floor' "$WORK/$name.json" 2>/dev/null || echo 0)
	[ -n "$perf_pid" ] && { wait "$perf_pid" || true; unset "TRACKED[$perf_pid]"; }
	wait "$pid" || true; unset "TRACKED[$pid]"
	for pid in "${FLOOD_PIDS[@]}"; do wait "$pid" || true; unset "TRACKED[$pid]"; done
	vpnd_stop "$NS_C2" "${C2_IF[$s]}"
	c2=$(cat "$WORK/$name.c2")
	sent=$(flood_sum "$name" sent); cookies_atk=$(flood_sum "$name" cookie_replies)
	valid=$(flood_sum "$name" cookie_valid); mac2=$(flood_sum "$name" mac2_sent)
	if [ "$s" = vpnd ]; then
		stats > "$WORK/$name.st1"
		st0=$WORK/$name.st0; st1=$WORK/$name.st1
		d() { echo $(( $(stat_of "$st1" "$1") - $(stat_of "$st0" "$1") )); }
		cookies_srv=$(d cookie_replies_sent); answered=$(d handshakes_answered)
		dh=$(( answered + $(d drop_bad_handshake) )); rl=$(d drop_ratelimited)
		budget=$(d drop_dh_budget); qfull=$(d drop_hs_queue_full)
	fi
	cpu=$(cpu_split "$WORK/$name.t0" "$WORK/$name.t1" "$DUR" "$([ "$s" = vpnd ] || echo total)")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$k" "$rep" \
		"$bps" "$c2" "$sent" "$cookies_atk" "$valid" "$mac2" "$cookies_srv" "$dh" "$answered" \
		"$rl" "$budget" "$qfull" "$cpu" >> "$RESULTS"
	printf '  %-4s (%s) rep %s: %6.0f Mbit/s; new client %s s; attacker sent %s (%s with mac2), got %s cookie replies (%s valid)' \
		"$s" "$k" "$rep" "$(echo "$bps / 1000000" | bc -l)" "$c2" "$sent" "$mac2" "$cookies_atk" "$valid"
	[ "$s" = vpnd ] && printf '; server: %s cookie replies, %s DHs (%s answered), %s ratelimited, %s dh_budget, %s hs_queue_full' \
		"$cookies_srv" "$dh" "$answered" "$rl" "$budget" "$qfull"
	printf '\n        server CPU (%% of a core) over the iperf3 window: %s\n' "$cpu"
	if [ -f "$WORK/$name.perf" ]; then
		echo "        perf (worker, no children, >= 2%):"
		perf report -i "$WORK/$name.perf" --stdio --no-children --sort comm,dso,sym \
			--percent-limit 2 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' |
			head -25 | sed 's/^/          /' || true
	fi
}

echo "== $REPS repetition(s): DUR=$DUR s of iperf3 per run, RATE=$RATE attack packets/s" \
	"($((RATE / 2)) IPv4 + $((RATE / 2)) IPv6, one socket per source), flood $FLOOD_SECS s;" \
	"servers: ${SERVERS[*]}"
for rep in $(seq "$REPS"); do
	order=("${SERVERS[@]}")
	# the other server first in every second repetition
	[ $((rep % 2)) = 0 ] && [ "${#order[@]}" = 2 ] && order=("${order[1]}" "${order[0]}")
	for s in "${order[@]}"; do
		for k in a b c; do run "$s" "$k" "$rep"; done
	done
done

# --- summary ---------------------------------------------------------------

echo
echo "== summary (median over $REPS repetition(s), range in brackets)"
python3 - "$RESULTS" "$FLOOD_SECS" "${SERVERS[@]}" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
flood_secs = float(sys.argv[2])
servers = sys.argv[3:]
label = {"vpnd": "vpnd", "wggo": "wireguard-go"}
kinds = {"a": "(a) closed port", "b": "(b) mac1 flood", "c": "(c) mac2 flood"}
def runs(s, k): return [r for r in rows if r[0] == s and r[1] == k]
def med(v): return statistics.median(v) if v else float("nan")
def rng(v): return f"[{min(v):.2f}-{max(v):.2f}]" if len(v) > 1 else ""
def num(x):
    try: return float(x)
    except ValueError: return None
cols = {}
for s in servers:
    c = []
    base = {r[2]: float(r[3]) for r in runs(s, "a")}
    for k in "abc":
        rs = runs(s, k)
        mbit = med([float(r[3]) / 1e6 for r in rs])
        if k == "a":
            c.append(f"{mbit:7.0f} Mbit/s")
        else:
            ratios = [float(r[3]) / base[r[2]] for r in rs if base.get(r[2])]
            c.append(f"{mbit:7.0f} Mbit/s  ratio {med(ratios):.2f} {rng(ratios)}")
    for k in "bc":
        rs = runs(s, k)
        c.append("%d / %d" % (med([num(r[6]) for r in rs]), med([num(r[9]) for r in rs]))
                 if s == "vpnd" else "%d / -" % med([num(r[6]) for r in rs]))
    for k in "bc":
        rs = runs(s, k)
        c.append("%d (%d/s of flood)" % (med([num(r[10]) for r in rs]),
                 med([num(r[10]) for r in rs]) / flood_secs) if s == "vpnd" else "-")
    for k in "abc":
        t = [num(r[4]) for r in runs(s, k)]
        c.append("/".join("%.2f" % x if x is not None else "none" for x in t) + " s")
    cols[s] = c
names = ["(a) closed port", "(b) mac1 flood", "(c) mac2 flood",
         "cookie replies (b) atk got / srv sent", "cookie replies (c) atk got / srv sent",
         "DHs (b)", "DHs (c)", "new client (a)", "new client (b)", "new client (c)"]
w = max(len(n) for n in names) + 2
print(" " * w + "".join(f"{label[s]:<40}" for s in servers))
for i, n in enumerate(names):
    print(f"{n:<{w}}" + "".join(f"{cols[s][i]:<40}" for s in servers))
EOF
