#!/bin/bash
# Running a fleet: `vpnd peer add|remove|list`, `vpnd reload` and SIGHUP on
# a server whose clients keep talking. Configs live in $WORK/etc
# (VPND_CONFIG_DIR), so the server is brought up by name.
#
#                        veth 198.18.40.2/24          veth 198.18.40.1/24
#   [ns c1] flc1 198.19.40.2/32, 2001:db8:40::2/128 -----------+
#     ($WORK/flc1.conf: from `vpnd peer add c1`, server down)   |
#                                                               |   [ns s] flsrv 198.19.40.1/24
#   [ns c2] flc2 198.19.40.3/24 ---------------------------------+--        2001:db8:40::1/64
#     lo 198.19.121.1/32, 198.19.122.1/32                       |     ListenPort 51840
#     (peer file c2.conf written by hand:                       |     $WORK/etc/flsrv.conf
#      AllowedIPs 198.19.40.3/32, 198.19.121.0/24 -> .122.0/24) |     $WORK/etc/flsrv.d/c1.conf ...
#                        veth 198.18.41.2/24          veth 198.18.41.1/24
#                                                               |
#   [ns c3] flc3 (config printed by `vpnd peer add c3` live,   |
#     Endpoint from the "# Endpoint = 198.18.42.1" hint) -------+
#                        veth 198.18.42.2/24          veth 198.18.42.1/24
#
# c1 and c2 carry traffic from the start; their sessions (latest handshake,
# rx/tx in `wg show flsrv dump`) must never reset across: peer add c3,
# idempotent reloads, c2's AllowedIPs changed by reload, the change undone
# by SIGHUP, a broken peer file (reload and SIGHUP refused, state intact),
# a QR peer c4 added and removed, and peer remove c3.
#
# The QR check decodes what `vpnd peer add --qr` printed (not a second
# rendering): the half-block text is turned back into modules, written as a
# PBM image and read by zbarimg; the text must equal the --output config.
set -e
. "$(dirname "$0")/lib.sh"
SRV=$(ifname flsrv) C1=$(ifname flc1) C2=$(ifname flc2) C3=$(ifname flc3)

export VPND_CONFIG_DIR="$WORK/etc"
ETC=$VPND_CONFIG_DIR
PORT=51840

ns_new s; ns_new c1; ns_new c2; ns_new c3
# vpnd reload and vpnd peer run in the server's namespace: routes are there.
S="ip netns exec $s"
veth "$s" 198.18.40.1/24 "$c1" 198.18.40.2/24 veth1 veth0
veth "$s" 198.18.41.1/24 "$c2" 198.18.41.2/24 veth2 veth0
veth "$s" 198.18.42.1/24 "$c3" 198.18.42.2/24 veth3 veth0
ip -n "$c2" addr add 198.19.121.1/32 dev lo
ip -n "$c2" addr add 198.19.122.1/32 dev lo
keypair ks; keypair k2

mkdir -m 700 "$ETC"
(umask 077; cat > "$ETC/${SRV}.conf") <<EOC
# The address clients reach the server at (vpnd peer add's default):
# Endpoint = 198.18.42.1
[Interface]
PrivateKey = $ks_priv
Address = 198.19.40.1/24, 2001:db8:40::1/64
ListenPort = $PORT
EOC

# --- c1: vpnd peer add while the server is down (file only) ---
check "peer add c1 with the server down" \
	$S "$VPND" peer add c1 --iface ${SRV} --endpoint 198.18.40.1 --output "$WORK/${C1}.conf"
check "c1's peer file is mode 0600" \
	sh -c "[ \$(stat -c %a '$ETC/${SRV}.d/c1.conf') = 600 ]"
check "c1 got the first free address (.2 and ::2)" \
	grep -qx 'AllowedIPs = 198.19.40.2/32, 2001:db8:40::2/128' "$ETC/${SRV}.d/c1.conf"
check "c1's client config: address, server subnets, endpoint with ListenPort, keepalive" \
	sh -c "grep -qx 'Address = 198.19.40.2/32, 2001:db8:40::2/128' '$WORK/${C1}.conf' &&
	       grep -qx 'AllowedIPs = 198.19.40.0/24, 2001:db8:40::/64' '$WORK/${C1}.conf' &&
	       grep -qx 'Endpoint = 198.18.40.1:$PORT' '$WORK/${C1}.conf' &&
	       grep -qx 'PersistentKeepalive = 25' '$WORK/${C1}.conf' &&
	       grep -qx 'PublicKey = $ks_pub' '$WORK/${C1}.conf'"
check "c1's client and server files share one preshared key" \
	sh -c "[ \"\$(grep PresharedKey '$WORK/${C1}.conf')\" = \"\$(grep PresharedKey '$ETC/${SRV}.d/c1.conf')\" ]"
k1_pub=$(sed -n 's/^PrivateKey = //p' "$WORK/${C1}.conf" | "$VPND" pubkey)
check "c1's peer file holds the public key of its client's private key" \
	grep -qx "PublicKey = $k1_pub" "$ETC/${SRV}.d/c1.conf"

# --- c2: a hand-written peer file ---
c2_file() {
	(umask 077; cat > "$ETC/${SRV}.d/c2.conf") <<EOC
# c2, by hand
[Peer]
PublicKey = $k2_pub
AllowedIPs = 198.19.40.3/32, $1
EOC
}
c2_file 198.19.121.0/24
(umask 077; cat > "$WORK/${C2}.conf") <<EOC
[Interface]
PrivateKey = $k2_priv
Address = 198.19.40.3/24

[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.40.0/24
Endpoint = 198.18.41.1:$PORT
PersistentKeepalive = 25
EOC

vpnd_up "$s" ${SRV}
vpnd_up "$c1" "$WORK/${C1}.conf"
vpnd_up "$c2" "$WORK/${C2}.conf"
check "server came up by name from \$VPND_CONFIG_DIR" ip -n "$s" link show ${SRV}
check "c1 pings the server" ip netns exec "$c1" ping -c 3 -i 0.2 -W 2 198.19.40.1
check "c1 pings the server over IPv6" wait_for 5 ip netns exec "$c1" ping -6 -c 1 -W 1 2001:db8:40::1
check "c2 pings the server" ip netns exec "$c2" ping -c 3 -i 0.2 -W 2 198.19.40.1
check "server pings 198.19.121.1 behind c2" ip netns exec "$s" ping -c 2 -i 0.2 -W 2 198.19.121.1

# --- sessions: "handshake rx tx" of a peer on the server ---
session() {
	ip netns exec "$s" wg show ${SRV} dump | awk -v k="$1" '$1 == k { print $5, $6, $7 }'
}
# survived WHAT KEY BEFORE: same peer object: the handshake is still there
# (not 0) and nothing went backwards.
survived() {
	local now h0 r0 t0 h1 r1 t1
	now=$(session "$2")
	read -r h0 r0 t0 <<< "$3"
	read -r h1 r1 t1 <<< "$now"
	check "$1: ${4:-peer} session survived ($3 -> $now)" \
		test -n "$h1" -a "${h1:-0}" -ne 0 -a "${h1:-0}" -ge "$h0" -a "${r1:-0}" -ge "$r0" -a "${t1:-0}" -ge "$t0"
}
traffic() {
	ip netns exec "$c1" ping -c 2 -i 0.2 -W 2 198.19.40.1 > /dev/null &&
	ip netns exec "$c2" ping -c 2 -i 0.2 -W 2 198.19.40.1 > /dev/null
}
# snap: remember both sessions; both_survived WHAT: compare, then traffic.
snap() { s1=$(session "$k1_pub"); s2=$(session "$k2_pub"); }
both_survived() {
	survived "$1" "$k1_pub" "$s1" c1
	survived "$1" "$k2_pub" "$s2" c2
	check "$1: c1 and c2 still reach the server" traffic
	snap
}
peer_config() {	# the configured columns of every peer: key, psk, endpoint-less
	ip netns exec "$s" wg show ${SRV} dump | awk 'NR > 1 { print $1, $2, $4, $8 }' | sort
}
snap
first1=$s1; first2=$s2
echo "     sessions: c1 [$s1] c2 [$s2]"

# --- an idempotent reload right after up ---
before=$(peer_config)
check "reload with nothing changed succeeds" $S "$VPND" reload ${SRV}
out=$($S "$VPND" reload ${SRV})
echo "     $out"
check "reload with nothing changed sends nothing" \
	test "$out" = "${SRV}: up to date, nothing sent (2 peers unchanged)"
check "peers' configuration unchanged" test "$(peer_config)" = "$before"
both_survived "idempotent reload"

# --- peer add c3, live ---
$S "$VPND" peer add c3 --iface ${SRV} > "$WORK/${C3}.conf" 2> "$WORK/add3.err"
sed 's/^/     peer add c3: /' "$WORK/add3.err"
check "peer add c3 applied it live" grep -q "^vpnd: ${SRV}: peers: 1 added, 0 removed, 0 changed, 2 unchanged" "$WORK/add3.err"
# c2 has no IPv6 address: each family takes its own next free one.
check "c3 got the next free addresses (.4; ::3)" grep -qx 'Address = 198.19.40.4/32, 2001:db8:40::3/128' "$WORK/${C3}.conf"
check "c3's endpoint comes from the '# Endpoint' hint plus ListenPort" \
	grep -qx "Endpoint = 198.18.42.1:$PORT" "$WORK/${C3}.conf"
k3_pub=$(sed -n 's/^PrivateKey = //p' "$WORK/${C3}.conf" | "$VPND" pubkey)
check "server runs c3 as a peer" sh -c "ip netns exec $s wg show ${SRV} peers | grep -qx '$k3_pub'"
both_survived "peer add c3"
chmod 600 "$WORK/${C3}.conf"
vpnd_up "$c3" "$WORK/${C3}.conf"
check "c3 (printed config) pings the server" ip netns exec "$c3" ping -c 3 -i 0.2 -W 2 198.19.40.1
check "c3 pings the server over IPv6" wait_for 5 ip netns exec "$c3" ping -6 -c 1 -W 1 2001:db8:40::1
check "server pings c3" ip netns exec "$s" ping -c 2 -i 0.2 -W 2 198.19.40.4
out=$($S "$VPND" reload ${SRV})
check "reload after peer add: nothing to send ($out)" \
	test "$out" = "${SRV}: up to date, nothing sent (3 peers unchanged)"
both_survived "reload after peer add"

# --- peer list ---
$S "$VPND" peer list --iface ${SRV} > "$WORK/list.out"
sed 's/^/     /' "$WORK/list.out"
check "peer list: header with live columns" grep -q '^NAME .*PUBLIC KEY .*ALLOWED IPS .*ENDPOINT .*LATEST HANDSHAKE .*TRANSFER' "$WORK/list.out"
check "peer list: c1 with key, addresses, endpoint, handshake" \
	grep -qE "^c1 +$(printf '%s' "$k1_pub" | sed 's/[+/]/\\&/g') +198\.19\.40\.2/32, 2001:db8:40::2/128 +198\.18\.40\.2:[0-9]+ +[0-9]+s ago" "$WORK/list.out"
check "peer list: c2 and c3" sh -c "grep -q '^c2 .*198.19.121.0/24' '$WORK/list.out' && grep -q '^c3 .*198.18.42.2:' '$WORK/list.out'"

# --- reload with c2's AllowedIPs changed ---
check "route 198.19.121.0/24 via ${SRV} before the change" \
	sh -c "ip -n $s route show 198.19.121.0/24 | grep -q 'dev ${SRV}'"
c2_file 198.19.122.0/24
out=$($S "$VPND" reload ${SRV})
echo "     $out"
check "reload: one peer changed, one route added, one deleted" \
	test "$out" = "${SRV}: peers: 0 added, 0 removed, 1 changed, 2 unchanged; routes: 1 added, 1 deleted"
check "new route 198.19.122.0/24 via ${SRV}" sh -c "ip -n $s route show 198.19.122.0/24 | grep -q 'dev ${SRV}'"
check "old route 198.19.121.0/24 gone" sh -c "[ -z \"\$(ip -n $s route show 198.19.121.0/24)\" ]"
check "server pings the new address 198.19.122.1 behind c2" ip netns exec "$s" ping -c 2 -i 0.2 -W 2 198.19.122.1
check "the old address 198.19.121.1 is no longer reached" \
	sh -c "! ip netns exec $s ping -c 1 -W 1 198.19.121.1"
check "c2's allowed IPs on the server are the new ones" \
	sh -c "ip netns exec $s wg show ${SRV} allowed-ips | grep '^$k2_pub' | grep -q '198.19.122.0/24' &&
	       ! ip netns exec $s wg show ${SRV} allowed-ips | grep '^$k2_pub' | grep -q '198.19.121.0/24'"
both_survived "AllowedIPs change"
out=$($S "$VPND" reload ${SRV})
check "the same reload again sends nothing ($out)" \
	test "$out" = "${SRV}: up to date, nothing sent (3 peers unchanged)"

# --- SIGHUP to the monitor undoes it ---
mon=$(cat /var/run/vpnd/${SRV}.pid)
c2_file 198.19.121.0/24
kill -HUP "$mon"
check "SIGHUP: route 198.19.121.0/24 back" wait_for 5 sh -c "ip -n $s route show 198.19.121.0/24 | grep -q 'dev ${SRV}'"
check "SIGHUP: route 198.19.122.0/24 gone" wait_for 5 sh -c "[ -z \"\$(ip -n $s route show 198.19.122.0/24)\" ]"
check "SIGHUP: the monitor logged the reload" \
	wait_for 5 grep -q "${SRV}: peers: 0 added, 0 removed, 1 changed, 2 unchanged; routes: 1 added, 1 deleted" "$WORK/${SRV}.log"
check "SIGHUP: server pings 198.19.121.1 again" ip netns exec "$s" ping -c 2 -i 0.2 -W 2 198.19.121.1
check "SIGHUP: the daemon is still the same one" kill -0 "$mon"
both_survived "SIGHUP"
# The worker (the monitor's child) ignores SIGHUP: reload is the monitor's.
worker=$(pgrep -P "$mon" | head -1)
check "the worker runs (pid ${worker:-none})" test -n "$worker"
[ -n "$worker" ] && kill -HUP "$worker"
sleep 0.3
check "SIGHUP to the worker: ignored, it still runs" kill -0 "${worker:-0}"
both_survived "SIGHUP to the worker"

# --- a broken peer file: refused whole, state intact ---
peers_before=$(ip netns exec "$s" wg show ${SRV} peers | sort)
before=$(peer_config)
(umask 077; cat > "$ETC/${SRV}.d/broken.conf") <<EOC
[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.40.9/33
EOC
set +e
$S "$VPND" reload ${SRV} > "$WORK/broken.out" 2> "$WORK/broken.err"
rc=$?
set -e
sed 's/^/     broken reload: /' "$WORK/broken.err"
check "broken peer file: reload exits non-zero (rc=$rc)" test "$rc" -ne 0
check "broken peer file: the error is FILE:LINE: what: 'text'" \
	test "$(cat "$WORK/broken.err")" = "vpnd: $ETC/${SRV}.d/broken.conf:3: invalid AllowedIPs: '198.19.40.9/33'"
check "broken peer file: nothing on stdout" test ! -s "$WORK/broken.out"
check "broken peer file: same peers running" test "$(ip netns exec "$s" wg show ${SRV} peers | sort)" = "$peers_before"
check "broken peer file: same peer configuration" test "$(peer_config)" = "$before"
kill -HUP "$mon"
check "broken peer file: SIGHUP logs the error" \
	wait_for 5 grep -q "${SRV}: reload: $ETC/${SRV}.d/broken.conf:3: invalid AllowedIPs: '198.19.40.9/33'" "$WORK/${SRV}.log"
check "broken peer file: still the same peers after SIGHUP" test "$(ip netns exec "$s" wg show ${SRV} peers | sort)" = "$peers_before"
set +e
$S "$VPND" peer add c9 --iface ${SRV} > "$WORK/c9.out" 2> "$WORK/c9.err"
rc=$?
set -e
check "broken peer file: peer add refused (rc=$rc), no file written" \
	sh -c "[ $rc -ne 0 ] && grep -q 'broken.conf:3' '$WORK/c9.err' && [ ! -e '$ETC/${SRV}.d/c9.conf' ] && [ ! -s '$WORK/c9.out' ]"
check "broken peer file: c3 still pings the server" ip netns exec "$c3" ping -c 2 -i 0.2 -W 2 198.19.40.1
both_survived "broken peer file"
rm "$ETC/${SRV}.d/broken.conf"

# --- house-style errors ---
err_is() {	# err_is "WHAT" WANT CMD...: fails with exactly WANT on stderr
	local what=$1 want=$2 rc; shift 2
	set +e
	"$@" > /dev/null 2> "$WORK/err.out"
	rc=$?
	set -e
	check "$what (rc=$rc)" sh -c "[ $rc -ne 0 ] && [ \"\$(cat '$WORK/err.out')\" = \"\$1\" ]" _ "$want"
}
err_is "peer add: an existing name" "vpnd: peer already exists: '$ETC/${SRV}.d/c1.conf'" \
	$S "$VPND" peer add c1 --iface ${SRV}
err_is "peer add: a used --ip" "vpnd: address already in use: '198.19.40.3'" \
	$S "$VPND" peer add c9 --iface ${SRV} --ip 198.19.40.3
err_is "peer add: --ip outside the subnet" \
	"vpnd: --ip is not a host address of the interface's subnet: '198.19.41.9'" \
	$S "$VPND" peer add c9 --iface ${SRV} --ip 198.19.41.9
err_is "peer add: a bad name" \
	"vpnd: invalid peer name (letters, digits, '-', '_', '.'; at most 64): '../x'" \
	$S "$VPND" peer add ../x --iface ${SRV}
err_is "peer add: a bad endpoint" "vpnd: invalid endpoint (HOST[:PORT]): '198.18.42.1:0'" \
	$S "$VPND" peer add c9 --iface ${SRV} --endpoint 198.18.42.1:0
err_is "peer remove: no such peer" "vpnd: no such peer: '$ETC/${SRV}.d/c9.conf'" \
	$S "$VPND" peer remove c9 --iface ${SRV}
check "no c9 file was left by the refused commands" sh -c "! ls -A '$ETC/${SRV}.d' | grep -q c9"

# --- a QR peer: decode what was printed, compare with the config ---
$S "$VPND" peer add c4 --iface ${SRV} --ip 198.19.40.44 --qr --output "$WORK/c4.conf" \
	> "$WORK/c4.qr" 2> "$WORK/c4.err"
check "peer add --qr prints only half blocks and spaces" \
	python3 -c "import sys; t = open(sys.argv[1], encoding='utf-8').read(); sys.exit(1 if not t or set(t) - set(' \u2580\u2584\u2588\n') else 0)" "$WORK/c4.qr"
check "peer add --ip 198.19.40.44: used as given, IPv6 picked (::4)" \
	grep -qx 'Address = 198.19.40.44/32, 2001:db8:40::4/128' "$WORK/c4.conf"
k4_pub=$(sed -n 's/^PrivateKey = //p' "$WORK/c4.conf" | "$VPND" pubkey)
check "c4 is live on the server" sh -c "ip netns exec $s wg show ${SRV} peers | grep -qx '$k4_pub'"
if command -v zbarimg > /dev/null; then
	cat > "$WORK/qr2pbm.py" <<'EOF'
# UTF-8 half blocks (light modules drawn, ANSI colours ignored) -> PBM.
import re, sys
SCALE = 4
CELL = {' ': (0, 0), '\u2580': (1, 0), '\u2584': (0, 1), '\u2588': (1, 1)}
text = re.sub(r'\x1b\[[0-9;]*m', '', open(sys.argv[1], encoding='utf-8').read())
rows = []
for line in filter(None, text.split('\n')):
    rows += [[CELL[c][0] for c in line], [CELL[c][1] for c in line]]
width = max(len(r) for r in rows)
with open(sys.argv[2], 'w') as f:
    f.write('P1\n%d %d\n' % (width * SCALE, len(rows) * SCALE))
    for r in rows:
        line = ' '.join('0' if light else '1' for light in r for _ in range(SCALE))
        f.write((line + '\n') * SCALE)
EOF
	python3 "$WORK/qr2pbm.py" "$WORK/c4.qr" "$WORK/c4.pbm"
	zbarimg --raw -q "$WORK/c4.pbm" 2> /dev/null | sed '$ { /^$/d }' > "$WORK/c4.decoded" || true
	check "QR decodes (zbarimg) to exactly the client config" cmp "$WORK/c4.decoded" "$WORK/c4.conf"
else
	echo "     skip: zbarimg not installed (Debian zbar-tools): QR not decoded"
fi
both_survived "peer add c4 (QR)"
check "peer remove c4" $S "$VPND" peer remove c4 --iface ${SRV}
check "c4 gone from the server" sh -c "! ip netns exec $s wg show ${SRV} peers | grep -qx '$k4_pub'"
both_survived "peer remove c4"

# --- peer remove c3: its file and peer go, its pings fail ---
check "peer remove c3" $S "$VPND" peer remove c3 --iface ${SRV}
check "c3's peer file is gone" test ! -e "$ETC/${SRV}.d/c3.conf"
check "c3 gone from wg show" sh -c "! ip netns exec $s wg show ${SRV} peers | grep -qx '$k3_pub'"
check "c3 no longer reaches the server" sh -c "! ip netns exec $c3 ping -c 2 -i 0.2 -W 1 198.19.40.1"
check "peer list no longer shows c3" sh -c "! $S '$VPND' peer list --iface ${SRV} | grep -q '^c3 '"
both_survived "peer remove c3"
out=$($S "$VPND" reload ${SRV})
check "reload after peer remove: nothing to send ($out)" \
	test "$out" = "${SRV}: up to date, nothing sent (2 peers unchanged)"

# --- peer add whose reader is gone: SIGPIPE at its first line of output ---
# (`| grep -q`, a closed pager): the peer must be live by then, not only in
# its file. The reader's end is closed before vpnd starts: deterministic.
closed_stdout() {
	python3 -c 'import os, subprocess, sys
r, w = os.pipe(); os.close(r)
sys.exit(subprocess.run(sys.argv[1:], stdout=w).returncode)' "$@"
}
closed_stdout $S "$VPND" peer add c5 --iface ${SRV} --endpoint 198.18.41.1:51820 2> /dev/null || true
check "peer add c5 killed by SIGPIPE while printing: c5 is live all the same (3 peers)" \
	sh -c "[ \$(ip netns exec $s wg show ${SRV} peers | wc -l) -eq 3 ]"
check "peer remove c5" $S "$VPND" peer remove c5 --iface ${SRV}

# --- over the whole run: the first sessions never reset, traffic counted ---
read -r h0 r0 t0 <<< "$first1"; read -r h1 r1 t1 <<< "$(session "$k1_pub")"
check "c1: rx and tx grew over the whole run ($first1 -> $h1 $r1 $t1)" test "$r1" -gt "$r0" -a "$t1" -gt "$t0" -a "$h1" -ge "$h0"
read -r h0 r0 t0 <<< "$first2"; read -r h1 r1 t1 <<< "$(session "$k2_pub")"
check "c2: rx and tx grew over the whole run ($first2 -> $h1 $r1 $t1)" test "$r1" -gt "$r0" -a "$t1" -gt "$t0" -a "$h1" -ge "$h0"

finish
