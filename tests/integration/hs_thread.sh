#!/bin/bash
# The responder's Diffie-Hellman work runs on the handshake thread, not on
# the event loop that carries the data (vpnd/datapath/hs_queue.h). An
# attacker that knows the server's public key sends initiations with a
# valid mac1 at a rate below the DH budget (so the server is never under
# load and every one of them gets its DH: es, then the static key fails to
# decrypt). Over that flood the worker's handshake thread (the one at nice
# 19) must have used more CPU than its event loop: each message costs the
# loop a copy into the queue and the thread an X25519.
# A client's tunnel then still comes up and carries traffic (its
# initiation computed on the thread and committed on the loop). CPU is
# read from /proc/PID/task/TID/stat (utime + stime, ticks); the test
# compares the two threads with each other, never with a clock.
#
#   [ns c1] htu0 198.18.51.2/24 ------ htv-c1 198.18.51.1/24 ---+   [ns srv]
#     ht-c1 198.19.51.11, 2001:db8:51::11 (up after the flood)  +-- ht-srv 198.19.51.1/24
#                                                               |        2001:db8:51::1/64
#   [ns atk] htu0 198.18.100.1/24 ----- htv-atk 198.18.100.254/24 +      UDP 51820
#     hsflood -> 198.18.100.254:51820, 800/s, 8 s, one address
#
#   (lib.sh's hub_topology; interface names carry the run's token)
set -e
. "$(dirname "$0")/lib.sh"

RATE=800	# below the DH budget (1000/s): no load, a DH each
SECS=8

hub_topology 1 -p ht -u 198.18.5 -4 198.19.51 -6 2001:db8:51 -s htv- -S -c htu0 -0
SRV=$HUB_SRV_IF
ns_new atk
veth "$srv" 198.18.100.254/24 "$atk" 198.18.100.1/24 htv-atk htu0

srv_stat() {
	printf 'get=stats\n\n' | ip netns exec "$srv" ncat -U /var/run/wireguard/$SRV.sock |
		sed -n "s/^$1=//p" | head -1
}
# ticks TID: utime + stime of one thread of the worker (fields 14 and 15;
# the name in field 2 has no spaces: "vpnd").
ticks() { awk '{ print $14 + $15 }' "/proc/$srv_pid/task/$1/stat"; }
# The handshake thread: the worker's thread with nice 19 (field 19).
hs_tid() {
	local t
	for t in /proc/"$srv_pid"/task/*; do
		[ "$(awk '{ print $19 }' "$t/stat")" = 19 ] && { basename "$t"; return; }
	done
}

vpnd_up "$srv" "$HUB_SRV_CONF"
srv_monitor=$(cat "$WORK/$SRV.pidfile")
wait_for 5 pgrep -P "$srv_monitor"
srv_pid=$(pgrep -P "$srv_monitor")
wait_for 5 sh -c "[ -n \"\$(ls /proc/$srv_pid/task | sed -n 2p)\" ]"
hst=$(hs_tid)
check "the worker has a handshake thread at nice 19" [ -n "$hst" ]
[ -n "$hst" ] || finish

loop0=$(ticks "$srv_pid"); hs0=$(ticks "$hst"); bad0=$(srv_stat drop_bad_handshake)
ip netns exec "$atk" "$TOOLS/hsflood" -t 198.18.100.254:51820 -k "$ks_pub" \
	-a 198.18.100.1 -r "$RATE" -d "$SECS" > "$WORK/flood.out" 2> "$WORK/flood.err" &
FLOOD_PID=$!
PIDS+=("$FLOOD_PID")
wait "$FLOOD_PID" || { echo "hsflood failed:"; cat "$WORK/flood.err"; exit 1; }
echo "  $(cat "$WORK/flood.out")"
loop1=$(ticks "$srv_pid"); hs1=$(ticks "$hst"); bad1=$(srv_stat drop_bad_handshake)
dhs=$((bad1 - bad0)); loop_d=$((loop1 - loop0)); hs_d=$((hs1 - hs0))
echo "  $dhs flood initiations given a DH; CPU ticks over the flood: loop $loop_d, handshake thread $hs_d"

check "server never under load (below the DH budget)" [ "$(srv_stat under_load)" = 0 ]
check "most flood initiations got their DH ($dhs >= $((RATE * SECS / 2)))" \
	[ "$dhs" -ge $((RATE * SECS / 2)) ]
# Per message the thread does mac1 and an X25519 (~45 us), the loop a
# wake-up, a recvmmsg and a copy (~15 us at this rate, one message a
# wake-up): about 3:1 (29 to 10 ticks when written). With the DH on the loop
# it was the other way round (about 1:13).
check "the handshake thread did the DHs: more CPU than the loop ($hs_d > $loop_d)" \
	[ "$hs_d" -gt "$loop_d" ]

hub_up 1
check "a client gets in afterwards (ping IPv4 inside)" \
	ip netns exec "$c1" ping -c 3 -i 0.2 -W 2 198.19.51.1
check "... and IPv6" ip netns exec "$c1" ping -6 -c 2 -i 0.2 -W 2 2001:db8:51::1
check "its handshake was answered" [ "$(srv_stat handshakes_answered)" -ge 1 ]
check "nothing stale" [ "$(srv_stat drop_hs_stale)" = 0 ]
finish
