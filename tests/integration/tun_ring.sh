#!/bin/bash
# TUN reads through io_uring (VPND_IO_URING=1, tun/tun_ring.h) in the real
# worker, under its seccomp filter: the log says the ring is in use, the
# worker holds it, lone pings cross both ways, bulk TCP arrives intact
# (sha256) both ways, a burst of small UDP datagrams arrives in the order
# it was sent, and the TUN going away is still seen: vpnd down deletes the
# interface at once (the ring lets go of the TUN file), and ip link del
# stops the other daemon. vr-a reads its TUN without offloads
# (VPND_NO_OFFLOAD=1: each packet copied into the send batch), vr-b with
# them (super-packets split from the ring's buffer): both ways of
# ring_packet. Without VPND_IO_URING the same daemons read() as before.
# Under make asan, both workers' leak checks at exit must come out clean.
#
#   [ns a] vr-a 198.19.12.1, 2001:db8:12::1 ---- veth 198.18.12.1 <-> 198.18.12.2 ---- [ns b] vr-b 198.19.12.2, 2001:db8:12::2
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname vr-a) IFB=$(ifname vr-b)

ns_new a; ns_new b
veth "$a" 198.18.12.1/24 "$b" 198.18.12.2/24
keypair ka; keypair kb
pair_confs 12
export VPND_IO_URING=1
VPND_NO_OFFLOAD=1 vpnd_up "$a" "$WORK/${IFA}.conf"
vpnd_up "$b" "$WORK/${IFB}.conf"
pid_a=$(cat "$WORK/${IFA}.pidfile") pid_b=$(cat "$WORK/${IFB}.pidfile")

pid_gone() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	'' | Z*) return 0 ;;
	*) return 1 ;;
	esac
}

# The io_uring may be unavailable here (kernel.io_uring_disabled, a kernel
# older than 6.7): then the daemons say so and read() as before.
ring=1
wait_for 3 grep -q "TUN reads" "$WORK/${IFB}.log" || true
if ! grep -q "TUN reads batched through io_uring" "$WORK/${IFB}.log"; then
	ring=0
	echo "# no io_uring here: $(grep -o 'TUN reads: .*' "$WORK/${IFB}.log" | head -1)"
fi
if [ "$ring" = 1 ]; then
	check "vr-a says its TUN reads go through io_uring" \
		grep -q "${IFA}: TUN reads batched through io_uring" "$WORK/${IFA}.log"
	worker_b=$(pgrep -P "$pid_b")
	check "vr-b's worker holds the ring" \
		sh -c "ls -l /proc/$worker_b/fd | grep -q 'anon_inode:\[io_uring\]'"
	if [ -z "$VPND_SANITIZED" ]; then
		check "vr-b's worker runs under its seccomp filter" \
			grep -Eq '^Seccomp:[[:space:]]+2$' "/proc/$worker_b/status"
	fi
fi

check "ping a -> b (IPv4 inside)" ip netns exec "$a" ping -c 3 -i 0.2 -W 2 198.19.12.2
check "ping b -> a (IPv4 inside)" ip netns exec "$b" ping -c 3 -i 0.2 -W 2 198.19.12.1
check "ping a -> b (IPv6 inside)" ip netns exec "$a" ping -6 -c 3 -i 0.2 -W 2 2001:db8:12::2

head -c 16M /dev/urandom > "$WORK/blob"
want=$(sha256sum < "$WORK/blob" | cut -d' ' -f1)
check "16 MiB a -> b (no offloads on a), sha256 equal" sha_one "$a" "$b" 198.19.12.2 7101
check "16 MiB b -> a (TSO super-packets on b), sha256 equal" sha_one "$b" "$a" 198.19.12.1 7102

# in_order FROM_NS TO_NS TO_ADDR PORT: 3000 numbered 64-byte datagrams in
# bursts of 50 (each burst queues in the TUN and is read as a batch);
# whatever arrives arrives in the order sent (some may be lost on a busy
# machine, none reordered), and at least half arrive.
in_order() {
	ip netns exec "$2" timeout 20 python3 - "$4" > "$WORK/order" <<'EOP' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(3)
got = []
try:
    while len(got) < 3000:
        got.append(int.from_bytes(s.recv(2048)[:4], "big"))
except socket.timeout:
    pass
print(len(got), int(all(a < b for a, b in zip(got, got[1:]))))
EOP
	local pid=$!
	PIDS+=("$pid")
	sleep 0.5
	ip netns exec "$1" python3 - "$3" "$4" <<'EOP'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3000):
    s.sendto(i.to_bytes(4, "big") + bytes(60), (sys.argv[1], int(sys.argv[2])))
    if i % 50 == 49:
        time.sleep(0.002)
EOP
	wait "$pid"
	read -r n ordered < "$WORK/order"
	echo "received $n of 3000, in order: $ordered"
	[ "$ordered" = 1 ] && [ "$n" -ge 1500 ]
}
check "3000 small datagrams a -> b arrive in the order sent" in_order "$a" "$b" 198.19.12.2 7103
check "3000 small datagrams b -> a arrive in the order sent" in_order "$b" "$a" 198.19.12.1 7104

# The ring held the TUN file: down must still delete the interface now.
check "vpnd down vr-b" ip netns exec "$b" "$VPND" down "$IFB"
check "vr-b's daemon is gone" wait_for 3 pid_gone "$pid_b"
check "interface vr-b is gone at once" sh -c "! ip -n $b link show $IFB"
# Deleted under the daemon: the TUN says so (EPOLLERR, or EBADFD to the
# ring's read), the daemon stops.
check "ip link del vr-a" ip -n "$a" link del "$IFA"
check "vr-a's daemon exits within 5 s" wait_for 5 pid_gone "$pid_a"
check "vr-a's log says the TUN was closed by the kernel" \
	grep -q "${IFA}: TUN closed by the kernel" "$WORK/${IFA}.log"
# Sanitizer builds (make asan): each worker's LeakSanitizer scan at exit
# found nothing left of the ring (its read cancelled, its buffers freed).
if [ -n "$VPND_SANITIZED" ]; then
	check "vr-b's worker: no leak after down" \
		grep -q "${IFB}: leak check done, no leak" "$WORK/${IFB}.log"
	check "vr-a's worker: no leak after the link went" \
		wait_for 3 grep -q "${IFA}: leak check done, no leak" "$WORK/${IFA}.log"
fi
finish
