#!/bin/bash
# make bench: throughput, packet rate, latency and CPU cost of vpnd next to
# the userspace VPNs a user would otherwise pick (wireguard-go, fastd,
# tinc 1.0) and plain veth, in one topology, back to back, repeated (REPS)
# and summarised.
#
#   netns bn-ID-a (client side: iperf3 -c, ping)           netns bn-ID-b (server side: iperf3 -s)
#   bnv<ID>a 198.18.0.1/24 <============ veth ============> bnv<ID>b 198.18.0.2/24     "veth": no tunnel
#   bnw<ID>a wireguard-go 198.19.1.1/24 -- UDP :51821 -- bnw<ID>b wireguard-go 198.19.1.2/24  "wg"
#   bnd<ID>a vpnd         198.19.2.1/24 -- UDP :51822 -- bnd<ID>b vpnd         198.19.2.2/24  "vpnd"
#   bnx<ID>a vpnd         198.19.3.1/24 -- UDP :51823 -- bnx<ID>b wireguard-go 198.19.3.2/24  "mix"
#   bnf<ID>a fastd        198.19.5.1/24 -- UDP :51825 -- bnf<ID>b fastd        198.19.5.2/24  "fastd"
#   bnt<ID>a tincd        198.19.6.1/24 -- UDP :51826 -- bnt<ID>b tincd        198.19.6.2/24  "tinc"
#   (every tunnel's UDP runs over the one veth; all tunnels have MTU 1420;
#    fastd: salsa2012+umac, tun mode; tinc 1.0: its default cipher, router
#    mode, tun device, its TCP meta connection on the same port)
#
# For each set-up, in every repetition: ping RTT (min, avg, 99th
# percentile, max; PINGS pings 5 ms apart), TCP 1 stream with the CPU
# time (utime+stime from /proc/PID/stat, child processes included) both
# tunnel daemons used
# meanwhile, TCP 4 streams, TCP reverse (server -> client), UDP 64-byte
# packets at full speed (received packets/s and loss, and where the lost
# ones went: the sender's interface queue, i.e. the sending daemon did not
# read its TUN fast enough; the receiving daemon's socket; the receiving
# iperf3's socket, i.e. the tunnel delivered them but iperf3 did not read
# them in time). The set-ups take
# turns within each repetition (a different one first each time), so drift
# and outside load spread over all of them. At the end: medians with
# min-max; vpnd<->vpnd against the best of wireguard-go, fastd and tinc for
# each metric (the ratio of the medians, and in how many repetitions vpnd
# beat all of them); UDP 64 B delivered as a share of plain veth in the same
# repetition; the ratios against wireguard-go.
#
# In the mixed pair vpnd is the client side: TCP 1 stream and UDP are vpnd
# encrypting and wireguard-go decrypting; TCP reverse is the other way round.
#
# Then (when TOOLS names build/tools, as `make bench` does; MICRO=0 skips
# them) the in-process micro-benchmarks bench_packet, bench_handshake and
# bench_pool (AEAD batches across 1..N threads).
#
# Environment: VPND (binary), TOOLS, REPS (default 3), QUICK=1 (2 s tests, 20 pings:
# about 3 minutes with REPS=1), T (seconds per iperf3 test, default 5),
# PINGS (default 200), ONLY="veth vpnd ..." (measure only these set-ups),
# TESTS="ping tcp1 tcp4 tcpr udp" (the default: all; a subset skips the rest,
# shown as nan, e.g. TESTS=ping for a latency-only run),
# KEEP=1 (keep the logs and the last iperf3 JSON of each kind in /tmp).
# VPND_B=PATH adds a set-up "vpndB": vpnd<->vpnd again with another binary
# (bnB<ID>a/b, 198.19.7.0/24, UDP :51827), to compare a change before and
# after in one interleaved run.
# The environment reaches every `vpnd up`: VPND_CRYPTO_THREADS=N sets the
# AEAD threads of all vpnd daemons. THREADS1=1 adds a set-up, "vpnd1":
# vpnd<->vpnd again (bne<ID>a/b, 198.19.4.0/24, UDP :51824) with
# VPND_CRYPTO_THREADS=1, to compare the threaded and single-threaded paths
# in one run.
# Needs root, iperf3, wireguard-go, wg, fastd, tincd, ping, ss, jq, python3
# (`scripts/deps.sh bench` installs them). Addresses: 198.18.0.0/15
# only. Everything started is tracked by PID and stopped on exit (Ctrl-C too),
# and the namespaces are deleted.
set -u

HERE=$(cd "$(dirname "$0")/.." && pwd)
VPND=${VPND:-$HERE/build/vpnd}
REPS=${REPS:-3}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then T=${T:-2}; PINGS=${PINGS:-20}; else T=${T:-5}; PINGS=${PINGS:-200}; fi
ID=$(printf %05d $(($$ % 100000)))
NS_A=bn-$ID-a
NS_B=bn-$ID-b
PORT=5201
WORK=$(mktemp -d /tmp/vpnd-bench.XXXXXX)
RESULTS=$WORK/results.tsv
CLK_TCK=$(getconf CLK_TCK)
NAMESPACES=()
declare -A TRACKED=()	# pid -> the command name it should have
IFNAMES=()		# tunnel interfaces (their /var/run sockets and pid files)
declare -A DPID=()	# tunnel interface -> its daemon's pid
WGGO_ENV=(env WG_PROCESS_FOREGROUND=1 WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1)

die() { echo "bench: $*" >&2; exit 1; }

BENCH_NAME=bench
. "$(dirname "$0")/bench_lib.sh"
bench_traps

# Runs a command in the background, tracked, and waits for it: a signal to
# this script is then handled at once rather than after the command.
run() {
	local pid rc
	"$@" &
	pid=$!
	TRACKED[$pid]=$(basename "$1")
	wait "$pid"
	rc=$?
	unset "TRACKED[$pid]"
	return "$rc"
}

# --- checks --------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
for c in ip iperf3 wireguard-go wg fastd tincd ping ss jq python3 timeout; do
	command -v "$c" > /dev/null || die "missing $c"
done
[ -x "$VPND" ] || die "no vpnd binary at $VPND (make first)"
case "$REPS" in '' | *[!0-9]* | 0) die "REPS must be a positive integer" ;; esac

# --- topology ----------------------------------------------------------------

ns_new() {
	ip netns add "$1" || die "cannot create namespace $1"
	NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}

ns_new "$NS_A"
ns_new "$NS_B"
ip link add "bnv${ID}a" netns "$NS_A" type veth peer name "bnv${ID}b" netns "$NS_B" ||
	die "cannot create the veth"
ip -n "$NS_A" addr add 198.18.0.1/24 dev "bnv${ID}a"
ip -n "$NS_B" addr add 198.18.0.2/24 dev "bnv${ID}b"
ip -n "$NS_A" link set "bnv${ID}a" up
ip -n "$NS_B" link set "bnv${ID}b" up

own_addr() { if [ "$1" = "$NS_A" ]; then echo 198.18.0.1; else echo 198.18.0.2; fi; }

# genkey KIND NS NAME PORT: the key of a tunnel end; prints its public key.
# wireguard-go and vpnd: $WORK/NAME.key; fastd: its own key format; tinc:
# an RSA pair in $WORK/NAME.tinc, the public half in the hosts/ directory
# both ends share (made before either starts, so the first connect works).
genkey() {
	local kind=$1 ns=$2 name=$3 port=$4 dir
	case $kind in
	fastd)
		(umask 077 && fastd --generate-key --machine-readable > "$WORK/$name.key") &&
			printf 'secret "%s";\n' "$(cat "$WORK/$name.key")" > "$WORK/$name.pubconf" &&
			fastd --show-key --machine-readable -c "$WORK/$name.pubconf" &&
			rm -f "$WORK/$name.pubconf"
		;;
	tinc)
		dir=$WORK/$name.tinc
		mkdir -p "$dir" "$WORK/tinc-hosts-$port"
		ln -sfn "$WORK/tinc-hosts-$port" "$dir/hosts"
		printf 'Name = node%s\n' "${name: -1}" > "$dir/tinc.conf"
		printf 'Address = %s %s\n' "$(own_addr "$ns")" "$port" > "$dir/hosts/node${name: -1}"
		tincd -c "$dir" -K 2048 < /dev/null > "$WORK/$name.keygen.log" 2>&1 ||
			die "tincd -K failed: $(cat "$WORK/$name.keygen.log")"
		echo unused
		;;
	*)
		(umask 077 && wg genkey > "$WORK/$name.key") && wg pubkey < "$WORK/$name.key"
		;;
	esac
}

# wggo_up NS IFNAME ADDR PORT PEER_PUB PEER_ALLOWED PEER_ENDPOINT
wggo_up() {
	local ns=$1 ifn=$2 pid
	IFNAMES+=("$ifn")
	ip netns exec "$ns" "${WGGO_ENV[@]}" wireguard-go -f "$ifn" > "$WORK/$ifn.log" 2>&1 &
	pid=$!
	TRACKED[$pid]=wireguard-go
	DPID[$ifn]=$pid
	for _ in $(seq 100); do [ -S "/var/run/wireguard/$ifn.sock" ] && break; sleep 0.05; done
	[ -S "/var/run/wireguard/$ifn.sock" ] || die "wireguard-go $ifn did not start: $(cat "$WORK/$ifn.log")"
	ip netns exec "$ns" wg set "$ifn" private-key "$WORK/$ifn.key" listen-port "$4" \
		peer "$5" allowed-ips "$6" endpoint "$7" || die "wg set $ifn failed"
	ip -n "$ns" addr add "$3" dev "$ifn"
	ip -n "$ns" link set "$ifn" mtu 1420 up || die "cannot bring $ifn up"
}

# vpnd_up NS IFNAME ADDR PORT PEER_PUB PEER_ALLOWED PEER_ENDPOINT
vpnd_up() {
	local ns=$1 ifn=$2 pid
	IFNAMES+=("$ifn")
	cat > "$WORK/$ifn.conf" <<-EOC
	[Interface]
	PrivateKey = $(cat "$WORK/$ifn.key")
	Address = $3
	ListenPort = $4
	MTU = 1420

	[Peer]
	PublicKey = $5
	AllowedIPs = $6
	Endpoint = $7
	EOC
	chmod 600 "$WORK/$ifn.conf"
	# shellcheck disable=SC2086 # VPND_UP_ENV: NAME=VALUE words, or nothing
	env ${VPND_UP_ENV:-} VPND_LOG="$WORK/$ifn.log" ip netns exec "$ns" "${VPND_BIN:-$VPND}" up "$WORK/$ifn.conf" \
		> "$WORK/$ifn.up.log" 2>&1 ||
		die "vpnd up $ifn failed: $(cat "$WORK/$ifn.up.log" "$WORK/$ifn.log" 2>/dev/null)"
	pid=$(cat "/var/run/vpnd/$ifn.pid" 2>/dev/null)
	if [ -z "$pid" ] || [ ! -e "/proc/$pid" ]; then die "vpnd $ifn: no daemon pid"; fi
	TRACKED[$pid]=vpnd
	DPID[$ifn]=$pid
}

# wait_link NS IFNAME DAEMON_PID: until the daemon has made its interface
wait_link() {
	for _ in $(seq 100); do
		ip -n "$1" link show "$2" > /dev/null 2>&1 && return 0
		[ -e "/proc/$3" ] || return 1
		sleep 0.05
	done
	return 1
}

# fastd_up NS IFNAME ADDR PORT PEER_PUB PEER_ALLOWED PEER_ENDPOINT
# (salsa2012+umac, its fastest secure method; tun mode, one peer)
fastd_up() {
	local ns=$1 ifn=$2 pid
	IFNAMES+=("$ifn")
	cat > "$WORK/$ifn.conf" <<-EOC
	log level warn;
	interface "$ifn";
	mode tun;
	method "salsa2012+umac";
	bind $(own_addr "$ns"):$4;
	secret "$(cat "$WORK/$ifn.key")";
	mtu 1420;
	peer "other" {
		key "$5";
		remote ${7%:*}:$4;
	}
	EOC
	chmod 600 "$WORK/$ifn.conf"
	ip netns exec "$ns" fastd -c "$WORK/$ifn.conf" > "$WORK/$ifn.log" 2>&1 &
	pid=$!
	TRACKED[$pid]=fastd
	DPID[$ifn]=$pid
	wait_link "$ns" "$ifn" "$pid" || die "fastd $ifn did not start: $(cat "$WORK/$ifn.log")"
	ip -n "$ns" addr add "$3" dev "$ifn"
	ip -n "$ns" link set "$ifn" mtu 1420 up || die "cannot bring $ifn up"
}

# tinc_up NS IFNAME ADDR PORT PEER_PUB PEER_ALLOWED PEER_ENDPOINT
# (tinc 1.0 with its default cipher and digest, router mode, tun device).
# genkey made its directory and the shared hosts/ (each node's address and
# RSA public key); here each node adds its subnet. PEER_PUB is unused.
tinc_up() {
	local ns=$1 ifn=$2 dir=$WORK/$2.tinc me=${2: -1} other pid
	if [ "$me" = a ]; then other=b; else other=a; fi
	IFNAMES+=("$ifn")
	cat > "$dir/tinc.conf" <<-EOC
	Name = node$me
	ConnectTo = node$other
	DeviceType = tun
	Interface = $ifn
	AddressFamily = ipv4
	BindToAddress = $(own_addr "$ns")
	Port = $4
	EOC
	echo "Subnet = ${3%/*}/32" >> "$dir/hosts/node$me"
	ip netns exec "$ns" tincd -c "$dir" -D --pidfile="$dir/pid" \
		--logfile="$WORK/$ifn.log" > "$WORK/$ifn.out" 2>&1 &
	pid=$!
	TRACKED[$pid]=tincd
	DPID[$ifn]=$pid
	wait_link "$ns" "$ifn" "$pid" || die "tincd $ifn did not start: $(cat "$WORK/$ifn.log" "$WORK/$ifn.out")"
	ip -n "$ns" addr add "$3" dev "$ifn"
	ip -n "$ns" link set "$ifn" mtu 1420 up || die "cannot bring $ifn up"
}

# tunnel KIND_A KIND_B IFPREFIX SUBNET PORT
tunnel() {
	local ka=$1 kb=$2 ia="${3}${ID}a" ib="${3}${ID}b" net=$4 port=$5 pa pb
	pa=$(genkey "$ka" "$NS_A" "$ia" "$port"); pb=$(genkey "$kb" "$NS_B" "$ib" "$port")
	"${ka}_up" "$NS_A" "$ia" "$net.1/24" "$port" "$pb" "$net.2/32" "198.18.0.2:$port"
	"${kb}_up" "$NS_B" "$ib" "$net.2/24" "$port" "$pa" "$net.1/32" "198.18.0.1:$port"
}

echo "== setting up: namespaces $NS_A, $NS_B; wireguard-go, vpnd, mixed, fastd and tinc tunnels"
tunnel wggo wggo bnw 198.19.1 51821
tunnel vpnd vpnd bnd 198.19.2 51822
tunnel vpnd wggo bnx 198.19.3 51823
tunnel fastd fastd bnf 198.19.5 51825
tunnel tinc tinc bnt 198.19.6 51826

CONFIGS=(veth wg vpnd mix fastd tinc)
declare -A TARGET=([veth]=198.18.0.2 [wg]=198.19.1.2 [vpnd]=198.19.2.2 [mix]=198.19.3.2
	[fastd]=198.19.5.2 [tinc]=198.19.6.2)
declare -A DAEMONS=([veth]="" [wg]="${DPID[bnw${ID}a]} ${DPID[bnw${ID}b]}"
	[vpnd]="${DPID[bnd${ID}a]} ${DPID[bnd${ID}b]}" [mix]="${DPID[bnx${ID}a]} ${DPID[bnx${ID}b]}"
	[fastd]="${DPID[bnf${ID}a]} ${DPID[bnf${ID}b]}" [tinc]="${DPID[bnt${ID}a]} ${DPID[bnt${ID}b]}")
# The client side's interface (its TX drops: the sending daemon did not
# read the TUN fast enough) and the tunnel's UDP port (the receiving
# daemon's socket drops) of each set-up, for where UDP 64 B packets are lost.
declare -A IFA=([veth]=bnv${ID}a [wg]=bnw${ID}a [vpnd]=bnd${ID}a [mix]=bnx${ID}a
	[fastd]=bnf${ID}a [tinc]=bnt${ID}a [vpndB]=bnB${ID}a [vpnd1]=bne${ID}a)
declare -A UPORT=([veth]=0 [wg]=51821 [vpnd]=51822 [mix]=51823 [fastd]=51825
	[tinc]=51826 [vpndB]=51827 [vpnd1]=51824)
# ONLY="veth vpnd ...": measure only these set-ups (all are still set up)
if [ -n "${ONLY:-}" ]; then
	read -r -a CONFIGS <<< "$ONLY"
fi
if [ -n "${VPND_B:-}" ]; then
	[ -x "$VPND_B" ] || die "VPND_B is not an executable: '$VPND_B'"
	VPND_BIN=$VPND_B tunnel vpnd vpnd bnB 198.19.7 51827
	CONFIGS+=(vpndB)
	TARGET[vpndB]=198.19.7.2
	DAEMONS[vpndB]="${DPID[bnB${ID}a]} ${DPID[bnB${ID}b]}"
fi
if [ "${THREADS1:-0}" = 1 ]; then
	VPND_UP_ENV=VPND_CRYPTO_THREADS=1 tunnel vpnd vpnd bne 198.19.4 51824
	CONFIGS+=(vpnd1)
	TARGET[vpnd1]=198.19.4.2
	DAEMONS[vpnd1]="${DPID[bne${ID}a]} ${DPID[bne${ID}b]}"
fi

# Handshakes happen here, not inside a measurement.
for c in "${CONFIGS[@]}"; do
	ok=0
	for _ in $(seq 20); do
		if ip netns exec "$NS_A" ping -c 1 -W 1 "${TARGET[$c]}" > /dev/null 2>&1; then
			ok=1; break
		fi
	done
	[ "$ok" = 1 ] || die "no connectivity over $c to ${TARGET[$c]}"
done

# --- measurements ------------------------------------------------------------

# CPU time of daemons, in clock ticks: utime + stime of each pid and of all
# its live descendants (vpnd may run a worker process under a monitor), plus
# cutime + cstime (children already reaped). Prints -1 if a pid is gone.
cpu_ticks() {
	python3 - "$@" <<'EOF'
import os, sys
procs = {}	# pid -> (ppid, own ticks, reaped children's ticks)
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        stat = open(f"/proc/{d}/stat").read()
    except OSError:
        continue
    f = stat[stat.rindex(")") + 2:].split()	# f[0] is field 3 (state)
    procs[int(d)] = (int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14]))
total = 0
for root in map(int, sys.argv[1:]):
    if root not in procs:
        print(-1)
        sys.exit()
    todo = [root]
    while todo:
        pid = todo.pop()
        total += procs[pid][1] + procs[pid][2]
        todo += [p for p, v in procs.items() if v[0] == pid]
print(total)
EOF
}

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"; }

# Extracts numbers from iperf3 -J output: tcp -> "bits/s bytes"; udp ->
# "received_pps loss_percent". Prints "nan" fields when the test failed.
iperf_json() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
kind, path = sys.argv[1], sys.argv[2]
try:
    j = json.load(open(path))
    if j.get("error"):
        raise ValueError(j["error"])
    end = j["end"]
    if kind == "tcp":
        r = end["sum_received"]
        print(r["bits_per_second"], r["bytes"])
    else:
        # the receiver's view: packets it got over its own duration
        s = end.get("sum_received") or end["sum"]
        received = s["packets"] - s["lost_packets"]
        print(received / s["seconds"], s["lost_percent"])
except Exception as e:
    print("iperf3:", e, file=sys.stderr)
    print("nan nan")
EOF
}

# iperf NAME ARGS...: one client run against a fresh one-shot server in B;
# the JSON lands in $WORK/NAME.json.
iperf() {
	local name=$1 srv rc=0
	shift
	ip netns exec "$NS_B" iperf3 -s -1 -p "$PORT" > "$WORK/iperf-server.log" 2>&1 &
	srv=$!
	TRACKED[$srv]=iperf3
	for _ in $(seq 100); do
		ip netns exec "$NS_B" ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	run ip netns exec "$NS_A" timeout -k 2 $((T + 20)) \
		iperf3 -c "$TARGET_IP" -p "$PORT" -t "$T" -J "$@" > "$WORK/$name.json" 2>&1 || rc=$?
	for _ in $(seq 50); do [ -e "/proc/$srv" ] || break; sleep 0.1; done
	kill_pid "$srv" TERM
	wait "$srv" 2>/dev/null
	unset "TRACKED[$srv]"
	[ "$rc" = 0 ] || echo "  (iperf3 $name exited $rc: $(head -c 300 "$WORK/$name.json"))" >&2
	return 0
}

TESTS=${TESTS:-ping tcp1 tcp4 tcpr udp}
# wanted TEST: true if TEST is in TESTS, else its metrics are recorded as nan.
wanted() {
	case " $TESTS " in *" $1 "*) return 0 ;; esac
	local m
	for m in "${@:2}"; do record "$c" "$m" "$rep" nan; done
	return 1
}

# udp_drops CONFIG: "TXDROPS RCVBUFERRS TUNNELSOCKDROPS": the client-side
# interface's TX drops, the server namespace's UDP receive-buffer errors
# (IPv4 and IPv6) and the drops of the server daemon's sockets on the
# tunnel's port (0 for plain veth).
udp_drops() {
	local q r t=0
	q=$(ip -n "$NS_A" -s -j link show "${IFA[$1]}" | jq '.[0].stats64.tx.dropped // 0')
	r=$(ip netns exec "$NS_B" awk '$1 ~ /^Udp6?:$/ && $2 ~ /^[0-9]+$/ { n += $6 }
		$1 == "Udp6RcvbufErrors" { n += $2 } END { printf "%.0f\n", n }' \
		/proc/net/snmp /proc/net/snmp6)
	if [ "${UPORT[$1]}" != 0 ]; then
		t=$(ip netns exec "$NS_B" ss -uanmH "sport = :${UPORT[$1]}" |
			sed -n 's/.*skmem:(.*,d\([0-9]*\)).*/\1/p' | awk '{ n += $1 } END { printf "%.0f\n", n }')
	fi
	echo "$q $r $t"
}
# pct PART WHOLE: PART in % of WHOLE, nan when WHOLE is 0.
pct() { python3 -c "w = $2; print(100.0 * $1 / w if w else float('nan'))"; }

measure() {	# measure CONFIG REP
	local c=$1 rep=$2 rtt min avg max t0 t1 bps bytes pps loss cpu mbcpu q0 q1 r0 r1 s0 s1 sent
	TARGET_IP=${TARGET[$c]}

	# ping: idle RTT, 5 ms apart
	wanted ping rtt_min rtt_avg rtt_p99 rtt_max && {
	run ip netns exec "$NS_A" ping -c "$PINGS" -i 0.005 -W 1 "$TARGET_IP" > "$WORK/ping.out" 2>&1
	rtt=$(sed -n 's|.* = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p' "$WORK/ping.out")
	read -r min avg max <<< "${rtt:-nan nan nan}"
	record "$c" rtt_min "$rep" "$min"
	record "$c" rtt_avg "$rep" "$avg"
	record "$c" rtt_max "$rep" "$max"
	# The 99th percentile of the replies' times: the tail without the
	# worst 1 %, which this VM's scheduler sets (with QUICK's 20 pings it
	# is the maximum).
	record "$c" rtt_p99 "$rep" "$(python3 -c '
import re, sys
t = sorted(float(x) for x in re.findall(r"time=([0-9.]+) ms", open(sys.argv[1]).read()))
print(t[min(len(t) - 1, int(0.99 * len(t)))] if t else float("nan"))' "$WORK/ping.out")"
	}

	# TCP 1 stream, with the daemons' CPU time around it
	wanted tcp1 tcp1 cpu mbcpu && {
	# shellcheck disable=SC2086 # a list of pids
	t0=$(cpu_ticks ${DAEMONS[$c]})
	iperf tcp1
	# shellcheck disable=SC2086
	t1=$(cpu_ticks ${DAEMONS[$c]})
	read -r bps bytes <<< "$(iperf_json tcp "$WORK/tcp1.json")"
	record "$c" tcp1 "$rep" "$bps"
	if [ -n "${DAEMONS[$c]}" ] && [ "$t0" -ge 0 ] && [ "$t1" -ge 0 ]; then
		cpu=$(python3 -c "print(($t1 - $t0) / $CLK_TCK)")
		mbcpu=$(python3 -c "c = $cpu; print(float('$bytes') / 1e6 / c if c > 0 else float('nan'))")
	else
		cpu=nan; mbcpu=nan
	fi
	record "$c" cpu "$rep" "$cpu"
	record "$c" mbcpu "$rep" "$mbcpu"
	}

	wanted tcp4 tcp4 && {
	iperf tcp4 -P 4
	read -r bps _ <<< "$(iperf_json tcp "$WORK/tcp4.json")"
	record "$c" tcp4 "$rep" "$bps"
	}

	wanted tcpr tcpr && {
	iperf tcpr -R
	read -r bps _ <<< "$(iperf_json tcp "$WORK/tcpr.json")"
	record "$c" tcpr "$rep" "$bps"
	}

	wanted udp udp_pps udp_loss udp_lost_tunq udp_lost_tsock udp_lost_app && {
	read -r q0 r0 s0 <<< "$(udp_drops "$c")"
	iperf udp -u -l 64 -b 0
	read -r q1 r1 s1 <<< "$(udp_drops "$c")"
	read -r pps loss <<< "$(iperf_json udp "$WORK/udp.json")"
	record "$c" udp_pps "$rep" "$pps"
	record "$c" udp_loss "$rep" "$loss"
	# Where the lost ones went, in % of what iperf3 sent: the client
	# side's interface queue (TX drops), the receiving daemon's socket,
	# the receiving iperf3's socket (UDP receive-buffer errors in the
	# server namespace that were not the daemon's).
	sent=$(jq -r '.end.sum.packets // 0' "$WORK/udp.json" 2>/dev/null || echo 0)
	record "$c" udp_lost_tunq "$rep" "$(pct $((q1 - q0)) "$sent")"
	record "$c" udp_lost_tsock "$rep" "$(pct $((s1 - s0)) "$sent")"
	# (the daemon's socket drops are receive-buffer errors too, as a
	# rule; a negative difference means they were something else)
	record "$c" udp_lost_app "$rep" "$(pct $(((r1 - r0) - (s1 - s0))) "$sent")"
	}

	python3 - "$RESULTS" "$c" "$rep" <<'EOF'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
v = {m: float(x) for c, m, r, x in rows if c == sys.argv[2] and r == sys.argv[3]}
print(f"  {sys.argv[2]:<6} tcp1 {v['tcp1']/1e6:7.0f}  tcp4 {v['tcp4']/1e6:7.0f}  "
      f"rev {v['tcpr']/1e6:7.0f} Mbit/s   udp64 {v['udp_pps']/1e3:6.1f} kpkt/s "
      f"loss {v['udp_loss']:5.1f}%   rtt {v['rtt_min']:.3f}/{v['rtt_avg']:.3f}/{v['rtt_max']:.3f} ms   "
      f"cpu {v['cpu']:.2f} s  {v['mbcpu']:.0f} MB/cpu-s")
EOF
}

echo "== $(uname -sr), $(nproc) CPUs, iperf3 $(iperf3 --version | awk 'NR==1 {print $2}'),"\
     "wireguard-go $(wireguard-go --version 2>&1 | awk '{print $NF; exit}'), vpnd $VPND"
echo "== REPS=$REPS, $T s per iperf3 test, $PINGS pings; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
# (ours are tracked, or children of tracked ones: vpnd's worker)
others=$(ps -eo pid=,ppid=,comm= | awk '$3 ~ /^(vpnd|wireguard-go|iperf3)$/' |
	while read -r pid ppid comm; do
		[ -z "${TRACKED[$pid]:-}" ] && [ -z "${TRACKED[$ppid]:-}" ] && echo "$comm"
	done | sort | uniq -c |
	awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
[ -n "$others" ] && echo "== WARNING: other tunnel/iperf3 processes are running ($others): numbers will be noisy"

START=$(date +%s)
for rep in $(seq "$REPS"); do
	echo "== repetition $rep/$REPS"
	# a different set-up goes first each time
	for i in "${!CONFIGS[@]}"; do
		measure "${CONFIGS[$(((i + rep - 1) % ${#CONFIGS[@]}))]}" "$rep"
	done
done
echo "== measured in $(($(date +%s) - START)) s; load average now: $(cut -d" " -f1-3 /proc/loadavg)"

# --- summary ---------------------------------------------------------------------

python3 - "$RESULTS" "$REPS" "${CONFIGS[*]}" <<'EOF'
import math, statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
data = {}	# (config, metric) -> {rep: value}
for c, m, r, x in rows:
    data.setdefault((c, m), {})[r] = float(x)
measured = sys.argv[3].split()

labels = {"veth": "veth (no tunnel)", "wg": "wg-go<->wg-go", "vpnd": "vpnd<->vpnd",
          "mix": "vpnd<->wg-go", "fastd": "fastd<->fastd", "tinc": "tinc<->tinc",
          "vpnd1": "vpnd 1 thread", "vpndB": "vpnd B<->vpnd B"}
configs = [(c, labels[c]) for c in labels if c in measured]
# the other userspace VPNs vpnd is held against
PEERS = [c for c in ("wg", "fastd", "tinc") if c in measured]
# key, label, scale, format, higher is better
metrics = [
    ("tcp1", "TCP 1 stream Mbit/s", 1e-6, "{:.0f}", True),
    ("tcp4", "TCP 4 streams Mbit/s", 1e-6, "{:.0f}", True),
    ("tcpr", "TCP reverse Mbit/s", 1e-6, "{:.0f}", True),
    ("udp_pps", "UDP 64 B rx kpkt/s", 1e-3, "{:.1f}", True),
    ("udp_loss", "UDP 64 B loss %", 1, "{:.1f}", False),
    ("udp_lost_tunq", " lost: sender queue %", 1, "{:.1f}", False),
    ("udp_lost_tsock", " lost: tunnel sock %", 1, "{:.1f}", False),
    ("udp_lost_app", " lost: rcv iperf3 %", 1, "{:.1f}", False),
    ("rtt_min", "ping RTT min ms", 1, "{:.3f}", False),
    ("rtt_avg", "ping RTT avg ms", 1, "{:.3f}", False),
    ("rtt_p99", "ping RTT p99 ms", 1, "{:.3f}", False),
    ("rtt_max", "ping RTT max ms", 1, "{:.3f}", False),
    ("cpu", "daemon CPU s, TCP 1", 1, "{:.2f}", False),
    ("mbcpu", "MB per CPU-second", 1, "{:.0f}", True),
]

def by_rep(c, m):
    return {r: v for r, v in data.get((c, m), {}).items() if not math.isnan(v)}

def values(c, m):
    return list(by_rep(c, m).values())

def median(c, m):
    v = values(c, m)
    return statistics.median(v) if v else float("nan")

def cell(c, m, scale, fmt):
    v = [x * scale for x in values(c, m)]
    if not v:
        return "-"
    s = fmt.format(statistics.median(v))
    if len(v) > 1:
        s += " (" + fmt.format(min(v)) + "-" + fmt.format(max(v)) + ")"
    return s

def ratio(a, b):
    if math.isnan(a) or math.isnan(b) or b == 0:
        return "-"
    return f"{a / b:.2f}"

print()
print(f"== results: median (min-max) of {sys.argv[2]} repetition(s)")
w = [22] + [24] * len(configs)
print("".join(f"{h:<{w[i]}}" for i, h in enumerate(["metric"] + [l for _, l in configs])))
for m, label, scale, fmt, _ in metrics:
    cells = [label] + [cell(c, m, scale, fmt) for c, _ in configs]
    print("".join(f"{x:<{w[i]}}" for i, x in enumerate(cells)))

if "vpnd" in measured and PEERS:
    print()
    print("== vpnd<->vpnd against the best peer (" + ", ".join(labels[p] for p in PEERS) +
          ") of the medians; 'wins' counts the repetitions where vpnd beat every peer")
    print(f"{'metric':<22}{'better':<8}{'vpnd':<10}{'best peer':<24}{'vpnd/best':<11}{'wins':<6}")
    for m, label, scale, fmt, higher in metrics:
        if m == "cpu":
            continue
        meds = {p: median(p, m) for p in PEERS if not math.isnan(median(p, m))}
        if not meds:
            continue
        best = (max if higher else min)(meds, key=meds.get)
        wins = 0
        reps = by_rep("vpnd", m)
        for r, v in reps.items():
            others = [by_rep(p, m).get(r) for p in PEERS]
            others = [o for o in others if o is not None]
            if others and all((v > o) if higher else (v < o) for o in others):
                wins += 1
        print(f"{label:<22}{'higher' if higher else 'lower':<8}"
              f"{fmt.format(median('vpnd', m) * scale):<10}"
              f"{labels[best] + ' ' + fmt.format(meds[best] * scale):<24}"
              f"{ratio(median('vpnd', m), meds[best]):<11}{wins}/{len(reps)}")

if "veth" in measured:
    print()
    print("== UDP 64 B delivered as a share of plain veth (per repetition: same run)")
    for c, label in configs:
        if c == "veth":
            continue
        shares = []
        for r, v in by_rep(c, "udp_pps").items():
            base = by_rep("veth", "udp_pps").get(r)
            if base:
                shares.append(v / base)
        if shares:
            print(f"  {label:<22}{statistics.median(shares):.2f} (" +
                  " ".join(f"{x:.2f}" for x in shares) + ")")

if "wg" in measured:
    print()
    print("== ratios against wireguard-go (of the medians; 1.00 = parity)")
    others = [c for c, _ in configs if c not in ("veth", "wg")]
    print(f"{'metric':<22}{'better':<9}" + "".join(f"{labels[c] + ' / wg':<24}" for c in others))
    for m, label, _, _, higher in metrics:
        base = median("wg", m)
        print(f"{label:<22}{'higher' if higher else 'lower':<9}" +
              "".join(f"{ratio(median(c, m), base):<24}" for c in others))
if "vpnd1" in measured:
    print()
    print("== vpnd threaded (VPND_CRYPTO_THREADS as set, default: online CPUs) / one thread")
    for m, label, _, _, higher in metrics:
        print(f"{label:<22}{'higher' if higher else 'lower':<9}"
              f"{ratio(median('vpnd', m), median('vpnd1', m))}")
if "vpndB" in measured:
    print()
    print("== vpnd (VPND) / vpnd B (VPND_B), of the medians and per repetition")
    for m, label, _, _, higher in metrics:
        a, b = by_rep("vpnd", m), by_rep("vpndB", m)
        per = " ".join(ratio(a[r], b[r]) for r in sorted(a) if r in b)
        print(f"{label:<22}{'higher' if higher else 'lower':<9}"
              f"{ratio(median('vpnd', m), median('vpndB', m)):<8}({per})")
EOF

# --- in-process micro-benchmarks (one core, no network) ---------------------

if [ "${MICRO:-1}" = 1 ] && [ -x "${TOOLS:-}/bench_packet" ] && [ -x "${TOOLS:-}/bench_handshake" ]; then
	if [ "$QUICK" = 1 ]; then secs=0.5; else secs=2; fi
	echo
	run "$TOOLS/bench_packet" "$secs"
	echo
	run "$TOOLS/bench_handshake" "$secs"
	if [ -x "$TOOLS/bench_pool" ]; then
		echo
		run "$TOOLS/bench_pool" "$secs"
	fi
fi
