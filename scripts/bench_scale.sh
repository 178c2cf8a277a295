#!/bin/bash
# Scale benchmark: one config of PEERS peers (default 10,000) with 13 allowed
# IPs each (10 IPv4 /32 from 198.18.0.0/15, 3 IPv6 /128 from 2001:db8::/32,
# 130,000 in all) loaded with `wg setconf` into vpnd (vpnd daemon) and into
# wireguard-go, back to back in one namespace: load time and resident memory.
# Then route lookups per second at 10, 1,000 and 100,000 prefixes
# (build/tools/bench_allowedips).
#
#   [ns bs-<pid>]  bsv<pid> (vpnd daemon -f)   bsw<pid> (wireguard-go -f)
#                  no traffic: configuration only
set -e
VPND=${VPND:-$(cd "$(dirname "$0")/.." && pwd)/build/vpnd}
TOOLS=${TOOLS:-$(cd "$(dirname "$0")/.." && pwd)/build/tools}
PEERS=${PEERS:-10000}
NS=bs-$$
WORK=$(mktemp -d /tmp/vpnd-bench-scale.XXXXXX)
PIDS=()

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
echo "generating a config with $PEERS peers and $((PEERS * 13)) allowed IPs"
priv=$("$VPND" genkey 2>/dev/null)
python3 - "$PEERS" "$priv" > "$WORK/scale.conf" <<'PY'
import base64, ipaddress, os, sys
n, priv = int(sys.argv[1]), sys.argv[2]
print("[Interface]\nPrivateKey = %s\nListenPort = 0\n" % priv)
v4 = int(ipaddress.IPv4Address("198.18.0.0"))
v6 = int(ipaddress.IPv6Address("2001:db8::"))
for i in range(n):
    pub = base64.b64encode(os.urandom(32)).decode()
    ips = [str(ipaddress.IPv4Address(v4 + i * 10 + k)) + "/32" for k in range(10)]
    ips += [str(ipaddress.IPv6Address(v6 + (i << 16) + k)) + "/128" for k in range(3)]
    print("[Peer]\nPublicKey = %s\nAllowedIPs = %s\n" % (pub, ", ".join(ips)))
PY

# load NAME CMD...: starts the daemon, times wg setconf, prints RSS
load() {
	local name=$1; shift
	ip netns exec "$NS" "$@" > "$WORK/$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	for _ in $(seq 100); do [ -S "/var/run/wireguard/$name.sock" ] && break; sleep 0.05; done
	local t0 t1 worker
	t0=$(date +%s.%N)
	ip netns exec "$NS" wg setconf "$name" "$WORK/scale.conf"
	t1=$(date +%s.%N)
	# vpnd's pid is its monitor; the worker (its child) holds the state.
	worker=$(pgrep -P "$pid" | head -1)
	[ -n "$worker" ] || worker=$pid
	local n
	n=$(ip netns exec "$NS" wg show "$name" peers | wc -l)
	printf '%-14s setconf %6.2f s  peers %6d  VmRSS %7d kB  VmHWM %7d kB\n' "$name" \
		"$(echo "$t1 - $t0" | bc -l)" "$n" \
		"$(awk '/^VmRSS/ {print $2}' "/proc/$worker/status")" \
		"$(awk '/^VmHWM/ {print $2}' "/proc/$worker/status")"
	echo "$(echo "$t1 - $t0" | bc -l)" > "$WORK/$name.time"
}

load "bsv$$" "$VPND" daemon -f "bsv$$"
load "bsw$$" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "bsw$$"
printf 'setconf time ratio vpnd / wireguard-go: %.2f (lower is better)\n' \
	"$(echo "$(cat "$WORK/bsv$$.time") / $(cat "$WORK/bsw$$.time")" | bc -l)"
if [ -x "$TOOLS/bench_allowedips" ]; then
	echo
	echo "route lookups (build/tools/bench_allowedips):"
	"$TOOLS/bench_allowedips"
fi
