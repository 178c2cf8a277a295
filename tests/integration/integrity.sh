#!/bin/bash
# Bulk TCP transfers through the tunnel arrive intact: the offload path
# splits TUN super-packets into segments (TSO) and merges received segments
# back (GRO) with computed checksums, so content is checked end to end with
# sha256, both directions, IPv4 and IPv6 inside, one at a time and two at
# once (interleaved flows, merged each on its own). vi-a runs its AEADs on two
# threads (VPND_CRYPTO_THREADS=2), vi-b on its event loop alone: both paths,
# sending and receiving, whatever the machine's default.
# Then UDP: bursts of datagrams of one flow (which the receiving vpnd
# writes to its TUN merged, as one UDP GSO packet per run) arrive each
# byte for byte and with its own length, both directions, IPv4 and IPv6.
#
#   [ns a] vi-a 198.19.2.1, 2001:db8:2::1 ---- veth 198.18.2.1 <-> 198.18.2.2 ---- [ns b] vi-b 198.19.2.2, 2001:db8:2::2
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname vi-a) IFB=$(ifname vi-b)

ns_new a; ns_new b
veth "$a" 198.18.2.1/24 "$b" 198.18.2.2/24
keypair ka; keypair kb
pair_confs 2
VPND_CRYPTO_THREADS=2 vpnd_up "$a" "$WORK/${IFA}.conf"
VPND_CRYPTO_THREADS=1 vpnd_up "$b" "$WORK/${IFB}.conf"
head -c 64M /dev/urandom > "$WORK/blob"
want=$(sha256sum < "$WORK/blob" | cut -d' ' -f1)

check "64 MiB a -> b over IPv4 inside, sha256 equal" sha_one "$a" "$b" 198.19.2.2 7001
check "64 MiB b -> a over IPv4 inside, sha256 equal" sha_one "$b" "$a" 198.19.2.1 7002
check "64 MiB a -> b over IPv6 inside, sha256 equal" sha_one "$a" "$b" 2001:db8:2::2 7003
check "64 MiB b -> a over IPv6 inside, sha256 equal" sha_one "$b" "$a" 2001:db8:2::1 7004
# Two at once (lib.sh sha_two): the receiver's GRO merges each flow around
# the other's.
check "64 MiB twice at once a -> b (IPv4 and IPv6 inside), both sha256 equal" \
	sha_two "$a" "$b" 198.19.2.2 2001:db8:2::2 7005
check "64 MiB twice at once b -> a (IPv4 and IPv6 inside), both sha256 equal" \
	sha_two "$b" "$a" 198.19.2.1 2001:db8:2::1 7007
# udp_bursts FROM_NS TO_NS TO_ADDR PORT: bursts of 40 datagrams of one size
# (64, 1000, 1200 bytes; the last of a burst shorter, as a run may end),
# each carrying its number and bytes derived from it; the receiver counts
# intact and damaged ones. Passes when none is damaged and most arrived.
udp_bursts() {
	ip netns exec "$2" timeout 30 python3 - "$3" "$4" > "$WORK/udp.out" <<'PY' &
import hashlib, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(3)
good = bad = 0
try:
    while True:
        d = s.recv(2000)
        n = int.from_bytes(d[:4], "big")
        want = (n.to_bytes(4, "big") + hashlib.sha256(n.to_bytes(4, "big")).digest() * 40)
        size = int.from_bytes(d[4:6], "big")
        if len(d) == size and d[6:] == want[6:size]:
            good += 1
        else:
            bad += 1
except socket.timeout:
    pass
print(good, bad)
PY
	local pid=$! good bad
	PIDS+=("$pid")
	sleep 0.5
	ip netns exec "$1" python3 - "$3" "$4" <<'PY'
import hashlib, socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
n = 0
for burst in range(150):
    size = (64, 1000, 1200)[burst % 3]
    for i in range(40):
        sz = size - 17 if i == 39 else size
        head = n.to_bytes(4, "big")
        body = head + hashlib.sha256(head).digest() * 40
        s.sendto(head + sz.to_bytes(2, "big") + body[6:sz], (sys.argv[1], int(sys.argv[2])))
        n += 1
    time.sleep(0.005)
PY
	wait "$pid"
	read -r good bad < "$WORK/udp.out"
	echo "    $good intact, $bad damaged of 6000"
	[ "$bad" = 0 ] && [ "$good" -ge 3000 ]
}
check "UDP bursts a -> b over IPv4 inside, every datagram intact" udp_bursts "$a" "$b" 198.19.2.2 7011
check "UDP bursts b -> a over IPv4 inside, every datagram intact" udp_bursts "$b" "$a" 198.19.2.1 7012
check "UDP bursts a -> b over IPv6 inside, every datagram intact" udp_bursts "$a" "$b" 2001:db8:2::2 7013
check "UDP bursts b -> a over IPv6 inside, every datagram intact" udp_bursts "$b" "$a" 2001:db8:2::1 7014
finish
