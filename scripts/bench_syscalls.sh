#!/bin/bash
# System calls of the receiving vpnd per fixed transfer: how many writes
# to the TUN (write, writev), UDP batches (recvmmsg) and TUN reads the
# receiving daemon (all its processes and threads) makes while iperf3
# moves a fixed amount through it, counted with perf's syscall tracepoints
# (cheap, unlike strace). Counts, not times: on a shared machine they
# compare two builds better than throughput does.
#
#   netns bs-ID-a: sender                                   netns bs-ID-b: receiver
#   bsIDa 198.19.9.1/24 (vpnd, or wireguard-go with WGGO=1) bsIDb 198.19.9.2/24 (vpnd: counted)
#   bva 198.18.9.1/24 <=============== veth ===============> bvb 198.18.9.2/24
#
# Environment: VPND (binary, default build/vpnd), VPND_B (a second binary,
# measured after the first with the same transfers), WGGO=1 (the sender
# is wireguard-go), BYTES (TCP, default 512M), PACKETS (UDP 64 B, default
# 100000). Per binary: TCP 1 stream, TCP 4 streams, UDP 64-byte flood.
# Needs root, iperf3, perf, wg (and wireguard-go for WGGO=1).
set -eu

HERE=$(cd "$(dirname "$0")/.." && pwd)
VPND=${VPND:-$HERE/build/vpnd}
BYTES=${BYTES:-512M}
PACKETS=${PACKETS:-100000}
ID=$(printf %04d $(($$ % 10000)))
A=bs-$ID-a B=bs-$ID-b IA=bs${ID}a IB=bs${ID}b
WORK=$(mktemp -d /tmp/vpnd-bsys.XXXXXX)
PIDS=()
UP=()	# "BINARY NETNS IFNAME" of each vpnd up, for vpnd down

die() { echo "bench_syscalls: $*" >&2; exit 1; }

# Every vpnd this run started, down by its interface (the daemon's own
# pid file and socket go with it).
down_all() {
	local u bin ns ifn
	for u in "${UP[@]}"; do
		read -r bin ns ifn <<< "$u"
		ip netns exec "$ns" "$bin" down "$ifn" > /dev/null 2>&1 || true
	done
	UP=()
}

cleanup() {
	local p
	down_all
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for t in iperf3 perf wg; do command -v $t > /dev/null || die "needs $t"; done
[ -z "${WGGO:-}" ] || command -v wireguard-go > /dev/null || die "needs wireguard-go"

# tunnel BIN: a fresh pair of namespaces with the tunnel up, one ping through
tunnel() {
	local bin=$1 ka kb
	down_all
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	ip netns add "$A"; ip netns add "$B"
	ip -n "$A" link add bva type veth peer name bvb netns "$B"
	ip -n "$A" addr add 198.18.9.1/24 dev bva; ip -n "$B" addr add 198.18.9.2/24 dev bvb
	ip -n "$A" link set bva up; ip -n "$B" link set bvb up
	ip -n "$A" link set lo up; ip -n "$B" link set lo up
	ka=$(wg genkey); kb=$(wg genkey)
	printf '[Interface]\nPrivateKey = %s\nAddress = 198.19.9.2/24\nListenPort = 51820\nMTU = 1420\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.19.9.1/32\n' \
		"$kb" "$(echo "$ka" | wg pubkey)" > "$WORK/$IB.conf"
	chmod 600 "$WORK/$IB.conf"
	UP+=("$bin $B $IB")
	VPND_LOG=$WORK/b.log ip netns exec "$B" "$bin" up "$WORK/$IB.conf" > /dev/null ||
		die "vpnd up failed: $(cat "$WORK/b.log")"
	if [ -n "${WGGO:-}" ]; then
		echo "$ka" > "$WORK/ka"
		WG_PROCESS_FOREGROUND=1 WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
			ip netns exec "$A" wireguard-go -f "$IA" > "$WORK/wggo.log" 2>&1 &
		PIDS+=($!)
		for _ in $(seq 50); do ip -n "$A" link show "$IA" > /dev/null 2>&1 && break; sleep 0.1; done
		ip netns exec "$A" wg set "$IA" private-key "$WORK/ka" listen-port 51820 \
			peer "$(echo "$kb" | wg pubkey)" allowed-ips 198.19.9.2/32 endpoint 198.18.9.2:51820
		ip -n "$A" addr add 198.19.9.1/24 dev "$IA"
		ip -n "$A" link set "$IA" mtu 1420 up
	else
		printf '[Interface]\nPrivateKey = %s\nAddress = 198.19.9.1/24\nListenPort = 51820\nMTU = 1420\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.19.9.2/32\nEndpoint = 198.18.9.2:51820\n' \
			"$ka" "$(echo "$kb" | wg pubkey)" > "$WORK/$IA.conf"
		chmod 600 "$WORK/$IA.conf"
		UP+=("$bin $A $IA")
		VPND_LOG=$WORK/a.log ip netns exec "$A" "$bin" up "$WORK/$IA.conf" > /dev/null ||
			die "vpnd up failed: $(cat "$WORK/a.log")"
	fi
	ip netns exec "$A" ping -c 3 -i 0.2 -q 198.19.9.2 > /dev/null || die "no ping through the tunnel"
}

# measure LABEL IPERF-ARGS...: one transfer, the receiving daemon counted
measure() {
	local label=$1 pids perf srv p
	shift
	ip netns exec "$B" iperf3 -s -1 -B 198.19.9.2 > /dev/null 2>&1 &
	srv=$!
	PIDS+=("$srv")
	sleep 0.5
	pids=$(for p in $(ip netns pids "$B"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = vpnd ] && echo "$p"; done | paste -sd,)
	[ -n "$pids" ] || die "no vpnd process in $B"
	perf stat -x, -o "$WORK/perf" -p "$pids" -e raw_syscalls:sys_enter,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_read,syscalls:sys_enter_recvmmsg,task-clock &
	perf=$!
	PIDS+=("$perf")
	sleep 0.3
	ip netns exec "$A" iperf3 -c 198.19.9.2 -f m "$@" > "$WORK/iperf" || die "iperf3 failed"
	kill -INT "$perf"; wait "$perf" || true
	wait "$srv" 2>/dev/null || true
	got=$(awk '/receiver/ { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") r = $(i - 1) " Mbit/s";
		if ($0 ~ /%/) r = r " lost " $(NF - 2) " " $(NF - 1) } END { print r }' "$WORK/iperf")
	awk -F, -v label="$label" -v got="$got" '
		NF > 3 { v[$3] = $1 }
		END { printf "  %-18s %-36s syscalls %7d  write %6d  writev %6d  read %6d  recvmmsg %6d  cpu %5.0f ms\n",
			label, got, v["raw_syscalls:sys_enter"], v["syscalls:sys_enter_write"],
			v["syscalls:sys_enter_writev"], v["syscalls:sys_enter_read"],
			v["syscalls:sys_enter_recvmmsg"], v["task-clock"] }' "$WORK/perf"
}

for bin in "$VPND" ${VPND_B:+"$VPND_B"}; do
	[ -x "$bin" ] || die "not an executable: '$bin'"
	sender="vpnd (the same binary)"
	[ -z "${WGGO:-}" ] || sender=wireguard-go
	echo "== receiver $bin, sender $sender"
	tunnel "$bin"
	measure "TCP 1 x $BYTES" -n "$BYTES"
	measure "TCP 4 x $BYTES" -n "$BYTES" -P 4
	measure "UDP 64 B x $PACKETS" -u -l 64 -b 0 -n $((PACKETS * 64))
done
