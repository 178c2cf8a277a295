#!/bin/bash
# Restarts: a daemon killed with -9 and started again, with a ping loop
# running through the tunnel and no action on the other side. Prints how
# long traffic took to come back (measured from the kill).
#
#   [ns cli] hdr-cli 198.19.44.2/24                [ns srv] hdr-srv 198.19.44.1/24
#     ListenPort 51821                               ListenPort 51820
#     Endpoint 198.18.44.1:51820                     no Endpoint for the client (phases 1, 2, 6),
#     veth0 198.18.44.2/24 ------------------------- veth0 198.18.44.1/24
#     ping -D -i 0.2 198.19.44.1 all along           Endpoint 198.18.44.2:51821 + PersistentKeepalive
#                                                    (phase 3 on: $WORK/ep/hdr-srv.conf)
#
# 1. Server killed (-9) and restarted, the server has no endpoint for the
#    client. The new server has no session: the client's packets hit an
#    unknown receiver index and are dropped, and the server cannot start a
#    handshake (nothing to send, no endpoint). The client notices only
#    through its timers: data sent and nothing authenticated received for
#    KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (10 + 5 s, + up to 333 ms jitter),
#    counted from the first unanswered packet, starts a new handshake.
#    Expected recovery: about 15 s.
# 2. The same with PersistentKeepalive = 1 on the client. Expected: no
#    better. A persistent keepalive is sent only after N seconds with
#    nothing sent (the ping sends every 0.2 s), and a keepalive is not data,
#    so it does not arm the new-handshake timer anyway (as in WireGuard).
# 3. The same, but the server knows the client's endpoint and has a
#    PersistentKeepalive for it: at start it sends a keepalive at once,
#    which needs a session, so the server itself initiates. Expected:
#    recovery within about a second.
# 4. Client killed (-9) and restarted: the new client has no session, stages
#    the first ping and initiates at once. Expected: immediate.
# Each kill -9 leaves /var/run/wireguard/NAME.sock and /var/run/vpnd/NAME.pid
# behind (nobody unlinks them); `vpnd up` must cope: it checks whether the
# socket answers, and nobody does. The TUN interface goes with the process.
#
# 5. and 6. Clocks. The responder accepts an initiation only if its TAI64N
# timestamp is greater than the greatest one it has accepted from that peer
# (the replay defence: a captured initiation can never be replayed). So a
# client whose clock jumps backwards (its clock was ahead, then NTP or a
# reboot set it right) is locked out: every initiation it sends carries a
# timestamp the server considers old and is refused (counted as
# bad_handshake, no response). It stays locked out until its clock passes
# the greatest timestamp the server saw, OR until the server forgets it:
# that value lives only in the server's memory, so a server restart (or
# removing and re-adding the peer) clears it. We cannot move the client's
# clock in a namespace (CLOCK_REALTIME is not namespaced), so
# tests/tools/initiate plays a client with a shifted clock: it sends, with
# the client's key, an initiation whose timestamp is now + OFFSET.
#   5. replaying the client's real, captured, older initiation is refused;
#      initiate -3600 (clock an hour behind) is refused; initiate +0 is
#      accepted (answered with a response).
#   6. initiate +3 (clock 3 s ahead) is accepted: the server's latest
#      timestamp is now 3 s in the future. The real client restarts (its
#      clock is right): its initiation is refused, and its retry 5 s later
#      (REKEY_TIMEOUT) carries a timestamp past the old value: accepted,
#      traffic resumes by itself. Then initiate +600 and a client restart
#      again: locked out (refused, no traffic) until the server restarts
#      (`vpnd down` + `vpnd up`): the client's next retry gets in.
set -e
. "$(dirname "$0")/lib.sh"
SRV=$(ifname hdr-srv) CLI=$(ifname hdr-cli)

ns_new cli; ns_new srv
veth "$cli" 198.18.44.2/24 "$srv" 198.18.44.1/24
keypair ks; keypair kc
mkdir "$WORK/ep"
cat > "$WORK/${SRV}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.44.1/24
ListenPort = 51820

[Peer]
PublicKey = $kc_pub
AllowedIPs = 198.19.44.2/32
EOC
sed 's/^AllowedIPs.*/&\nEndpoint = 198.18.44.2:51821\nPersistentKeepalive = 25/' \
	"$WORK/${SRV}.conf" > "$WORK/ep/${SRV}.conf"
cat > "$WORK/${CLI}.conf" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.44.2/24
ListenPort = 51821

[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.44.0/24
Endpoint = 198.18.44.1:51820
EOC
chmod 600 "$WORK"/*.conf "$WORK"/ep/*.conf
(umask 077; echo "$kc_priv" > "$WORK/kc.key")
vpnd_up "$srv" "$WORK/${SRV}.conf"
vpnd_up "$cli" "$WORK/${CLI}.conf"

now() { date +%s.%N; }
secs() { printf '%.2f' "$(echo "$1" | bc)"; }
# A zombie counts as gone: PID 1 here reaps orphans only now and then.
pid_gone() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	'' | Z*) return 0 ;;
	*) return 1 ;;
	esac
}
srv_stat() {
	printf 'get=stats\n\n' | ip netns exec "$srv" ncat -U /var/run/wireguard/${SRV}.sock |
		sed -n "s/^$1=//p"
}

# The ping loop: -D stamps each reply with the time it arrived.
ip netns exec "$cli" ping -D -i 0.2 -W 1 198.19.44.1 > "$WORK/ping.out" 2>&1 &
pinger=$!
PIDS+=("$pinger")
# first_reply_after T: arrival time of the first reply after T.
first_reply_after() {
	awk -F'[][]' -v t="$1" '/bytes from/ && $2 + 0 > t + 0 { print $2; exit }' "$WORK/ping.out"
}
reply_after() { [ -n "$(first_reply_after "$1")" ]; }
no_reply_after() { ! reply_after "$1"; }
check "the ping loop gets replies" wait_for 5 reply_after "$(now)"

# kill9 NS NAME: kill -9 the daemon (the pid in its pid file: the root
# monitor), check that its worker (the unprivileged child that owns the TUN
# and the sockets) died with it, that the interface went with them (removed
# if not) and that the socket and pid file were left behind.
kill9() {
	local pid workers w
	pid=$(cat "$WORK/$2.pidfile")
	workers=$(ps -o pid= --ppid "$pid" | tr -d ' ')
	PIDS+=($workers)	# killed on exit should one survive
	kill -9 "$pid"
	wait_for 5 pid_gone "$pid" || true
	check "$2: daemon (pid $pid) gone after kill -9" pid_gone "$pid"
	for w in $workers; do
		wait_for 5 pid_gone "$w" || true
		check "$2: its worker (pid $w) died with it" pid_gone "$w"
	done
	if wait_for 2 sh -c "! ip -n $1 link show $2"; then
		check "$2: the interface went with the process" true
	else
		check "$2: the interface went with the process" false
		ip -n "$1" link del "$2"
	fi
	check "$2: kill -9 left a stale socket and pid file behind" \
		test -S "/var/run/wireguard/$2.sock" -a -f "/var/run/vpnd/$2.pid"
}
# restart NS CONF T0 BOUND WHAT [T0-EVENT]: vpnd up over the stale files,
# then waits up to BOUND s for the ping loop to get a reply again; prints
# the time it took, from T0 (the kill, or T0-EVENT) and from the restart.
# Only replies after the restart count: until kill9 saw it gone, the dying
# worker may still have answered.
restart() {
	local name t_up t_rep
	name=$(basename "$2" .conf)
	t_up=$(now)
	check "$name: vpnd up over the stale socket and pid file" vpnd_up "$1" "$2"
	check "$5: traffic resumes with no action on the other side (within $4 s)" \
		wait_for "$4" reply_after "$t_up"
	t_rep=$(first_reply_after "$t_up")
	if [ -n "$t_rep" ]; then
		echo "     recovery ($5): $(secs "$t_rep - $3") s after ${6:-the kill}, $(secs "$t_rep - $t_up") s after vpnd up"
	fi
}

# --- 1. server restart, no keepalive -----------------------------------------
t0=$(now)
kill9 "$srv" ${SRV}
restart "$srv" "$WORK/${SRV}.conf" "$t0" 30 "server restart"
check "the new server dropped the client's old-session packets as unknown_index ($(srv_stat drop_unknown_index))" \
	[ "$(srv_stat drop_unknown_index)" -gt 0 ]

# --- 2. server restart, PersistentKeepalive 1 on the client ----------------------
ip netns exec "$cli" wg set ${CLI} peer "$ks_pub" persistent-keepalive 1
check "ping loop still answered" wait_for 5 reply_after "$(now)"
t0=$(now)
kill9 "$srv" ${SRV}
restart "$srv" "$WORK/${SRV}.conf" "$t0" 30 "server restart, client keepalive 1 s"
ip netns exec "$cli" wg set ${CLI} peer "$ks_pub" persistent-keepalive 0

# --- 3. server restart, the server knows the client's endpoint ---------------------
check "ping loop still answered" wait_for 5 reply_after "$(now)"
t0=$(now)
kill9 "$srv" ${SRV}
restart "$srv" "$WORK/ep/${SRV}.conf" "$t0" 5 "server restart, server has Endpoint + keepalive"

# --- 4. client restart (and a capture of its fresh initiation) -------------------------
check "ping loop still answered" wait_for 5 reply_after "$(now)"
rm -f "$WORK/initiation" "$WORK/initiation.ready"
ip netns exec "$srv" python3 "$SNIFF" veth0 "$WORK/initiation" --type 1 --len 148 \
	--ready "$WORK/initiation.ready" --timeout 10 &
sniffer=$!
PIDS+=("$sniffer")
wait_for 5 test -e "$WORK/initiation.ready"
t0=$(now)
kill9 "$cli" ${CLI}
restart "$cli" "$WORK/${CLI}.conf" "$t0" 5 "client restart"
wait "$sniffer" || true
check "captured the new client's initiation" test -s "$WORK/initiation"

# --- 5. the server refuses initiations that are not newer than the last -----------
# initiate OFFSET: the client's key, a clock shifted by OFFSET seconds.
initiate() {
	ip netns exec "$cli" "$TOOLS/initiate" -p "$ks_pub" -e 198.18.44.1:51820 -b 198.18.44.2 \
		-o "$1" -w 1000 < "$WORK/kc.key"
}
# initiate_says OFFSET ANSWER
initiate_says() { [ "$(initiate "$1")" = "$2" ]; }
bad_handshake_above() { [ "$(srv_stat drop_bad_handshake)" -gt "$1" ]; }
bad=$(srv_stat drop_bad_handshake); answered=$(srv_stat handshakes_answered)
ip netns exec "$cli" python3 - "$WORK/initiation" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.44.2", 0))
s.sendto(bytes.fromhex(open(sys.argv[1]).read()), ("198.18.44.1", 51820))
EOP
sleep 0.3
check "the replayed (older) captured initiation is refused: bad_handshake +1" \
	[ "$(srv_stat drop_bad_handshake)" = $((bad + 1)) ]
check "... and not answered" [ "$(srv_stat handshakes_answered)" = "$answered" ]
check "an initiation from a clock an hour behind gets no response" \
	initiate_says -3600 "no response"
check "... and is counted as bad_handshake" [ "$(srv_stat drop_bad_handshake)" = $((bad + 2)) ]
check "an initiation with the clock right is answered" initiate_says 0 response
check "... as the server's count of answered handshakes shows" \
	[ "$(srv_stat handshakes_answered)" = $((answered + 1)) ]
check "ping loop still answered (the real session survived all this)" \
	wait_for 5 reply_after "$(now)"

# --- 6. a client whose clock went back is locked out ... ---------------------------
check "an initiation from a clock 3 s ahead is answered (the server's latest is now 3 s ahead)" \
	initiate_says 3 response
bad=$(srv_stat drop_bad_handshake)
kill9 "$cli" ${CLI}
t0=$(now)
check "${CLI}: vpnd up (its clock is right, i.e. 3 s behind the last timestamp)" \
	vpnd_up "$cli" "$WORK/${CLI}.conf"
check "its first initiation is refused (bad_handshake grew)" wait_for 3 bad_handshake_above "$bad"
check "... until its clock passes the old value: its retry gets in (within 10 s)" \
	wait_for 10 reply_after "$t0"
echo "     recovery (client clock 3 s behind the server's latest): $(secs "$(first_reply_after "$t0") - $t0") s after vpnd up"

check "an initiation from a clock 10 minutes ahead is answered" initiate_says 600 response
bad=$(srv_stat drop_bad_handshake)
kill9 "$cli" ${CLI}
t0=$(now)
check "${CLI}: vpnd up (its clock 10 minutes behind the last timestamp)" \
	vpnd_up "$cli" "$WORK/${CLI}.conf"
sleep 3
check "locked out: no reply for 3 s" no_reply_after "$t0"
check "locked out: its initiation was refused (bad_handshake $bad -> $(srv_stat drop_bad_handshake))" \
	[ "$(srv_stat drop_bad_handshake)" -gt "$bad" ]
t0=$(now)
check "... until the server forgets: vpnd down" ip netns exec "$srv" "$VPND" down ${SRV}
restart "$srv" "$WORK/${SRV}.conf" "$t0" 10 "server restart unlocks a client whose clock went back" \
	"vpnd down"
check "the client's endpoint on the server is the client's own" \
	sh -c "ip netns exec $srv wg show ${SRV} endpoints | grep -q '198.18.44.2:51821$'"
# --- 7. a server whose clock jumps backwards locks no client out -------------------
# The server's clock matters only for the timestamps of the initiations the
# server itself sends: a client refuses those once they are older than the
# newest it accepted from the server. Initiations from clients carry the
# clients' clocks, and the server compares them only with what those same
# clients sent before. So after a backwards jump the server's own
# initiations fail (until its clock catches up), but every client can still
# initiate, and does: a client whose session needs a handshake starts one
# itself (data without answer, rekey, expiry, or a responder's keys going
# stale), so traffic never stops for good. Played here with tools/initiate
# and the server's key: the client accepts an initiation with the server's
# clock right, refuses one from an hour earlier, and the client's own
# initiations and traffic go on.
(umask 077; echo "$ks_priv" > "$WORK/ks.key")
server_initiates() {
	ip netns exec "$srv" "$TOOLS/initiate" -p "$kc_pub" -e 198.18.44.2:51821 -b 198.18.44.1 \
		-o "$1" -w 1000 < "$WORK/ks.key"
}
server_initiates_says() { [ "$(server_initiates "$1")" = "$2" ]; }
check "the client answers the server's initiation (server clock right)" \
	server_initiates_says 0 response
check "the server's clock jumps back an hour: the client refuses its initiation" \
	server_initiates_says -3600 "no response"
# The tool sent from its own port, and the client (rightly) roamed to it
# on the authenticated initiation: point the client back at the real server.
ip netns exec "$cli" wg set ${CLI} peer "$ks_pub" endpoint 198.18.44.1:51820
check "... but the client's own initiation to the server is still answered" \
	initiate_says 0 response
check "... and traffic still flows: no client is locked out" \
	wait_for 10 reply_after "$(now)"

kill "$pinger"
finish
