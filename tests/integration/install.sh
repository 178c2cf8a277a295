#!/bin/bash
# make install DESTDIR=$tmp PREFIX=/usr: every file where it belongs with
# its mode; the systemd unit names the installed binary and, with
# vpnd.target, passes systemd-analyze verify with no ordering cycle; the man page renders without a warning (man -l)
# and documents every command, config key, JSON field, metric and drop
# reason the code has; the example config, keys filled in, comes up. Then
# the unit's own command lines, run as systemd would run them (no systemd
# here): Type=forking with the PIDFile, ExecReload, ExecStop; logging to a
# journal stream with priorities, --verbose and VPND_LOG_LEVEL.
#
#   [ns svc] is-svc 198.19.50.1/24 (from $WORK/etc/is-svc.conf, as the unit's
#            "vpnd up %i" finds it through VPND_CONFIG_DIR)
#   [ns svc] isx0   198.19.51.1/24 (the installed example config)
#   [ns svc] is-vb  198.19.52.1/24 (verbose / log levels)
set -e
. "$(dirname "$0")/lib.sh"
X0=$(ifname isx0) SVC=$(ifname is-svc) VB=$(ifname is-vb)

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=$WORK/root
# The binary under test is installed as it is (-o: never rebuilt here).
BUILD_DIR=$(dirname "$VPND")
# Run from make integration: none of the outer make's flags or variables.
install_to() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		make -C "$ROOT" --no-print-directory install BUILD="$BUILD_DIR" -o "$BUILD_DIR/vpnd" "$@"
}
install_to DESTDIR="$DEST" PREFIX=/usr > "$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; exit 1; }

mode() { stat -c %a "$1"; }
UNIT=$DEST/usr/lib/systemd/system/vpnd@.service
MAN=$DEST/usr/share/man/man8/vpnd.8
EXAMPLE=$DEST/usr/share/doc/vpnd/example-server.conf
check "the binary: /usr/bin/vpnd, 755, the one under test" \
	sh -c "[ $(mode "$DEST/usr/bin/vpnd") = 755 ] && cmp $DEST/usr/bin/vpnd $VPND"
check "the wrapper: /usr/bin/vpnd-daemon-wrapper, 755, naming the installed binary" \
	sh -c "[ $(mode "$DEST/usr/bin/vpnd-daemon-wrapper") = 755 ] && grep -qx 'VPND=/usr/bin/vpnd' $DEST/usr/bin/vpnd-daemon-wrapper"
check "the bash completion: /usr/share/bash-completion/completions/vpnd, 644" \
	[ "$(mode "$DEST/usr/share/bash-completion/completions/vpnd")" = 644 ]
check "the unit: /usr/lib/systemd/system/vpnd@.service, 644" [ "$(mode "$UNIT")" = 644 ]
check "the target: /usr/lib/systemd/system/vpnd.target, 644" [ "$(mode "$DEST/usr/lib/systemd/system/vpnd.target")" = 644 ]
check "the worker's user: /usr/lib/sysusers.d/vpnd.conf, 644, a system user vpnd" \
	sh -c "[ \"\$(stat -c %a $DEST/usr/lib/sysusers.d/vpnd.conf)\" = 644 ] &&
		grep -Eq '^u vpnd - ' $DEST/usr/lib/sysusers.d/vpnd.conf"
check "the man page: /usr/share/man/man8/vpnd.8, 644" [ "$(mode "$MAN")" = 644 ]
check "the example: /usr/share/doc/vpnd/example-server.conf, 644" [ "$(mode "$EXAMPLE")" = 644 ]
check "nothing else is installed" \
	sh -c "[ \$(find $DEST -type f | wc -l) -eq 8 ]"

check "unit: Type=forking with PIDFile=/run/vpnd/%i.pid" \
	sh -c "grep -qx 'Type=forking' $UNIT && grep -qx 'PIDFile=/run/vpnd/%i.pid' $UNIT"
check "unit: up, down and reload through the installed binary" \
	sh -c "grep -qx 'ExecStart=/usr/bin/vpnd up %i' $UNIT &&
	       grep -qx 'ExecStop=/usr/bin/vpnd down %i' $UNIT &&
	       grep -qx 'ExecReload=/usr/bin/vpnd reload %i' $UNIT && ! grep -q /usr/local $UNIT"
# deps.sh installs systemd (systemd-analyze), man-db and groff-base: a check
# that cannot run is a failure, never a silent skip.
need_tool() { command -v "$1" > /dev/null || { echo "FAIL: $1 missing (scripts/deps.sh installs $2)"; exit 1; }; }
need_tool systemd-analyze systemd
# An instance of the unit, its binary pointed at one that exists here, and a
# boot-like target that pulls in network.target too: the old
# Before=network.target with After=network-online.target is an ordering
# cycle only in a transaction that has both (verifying the unit alone misses
# it).
sed "s|/usr/bin/vpnd|$DEST/usr/bin/vpnd|" "$UNIT" > "$WORK/vpnd@is0.service"
cp "$DEST/usr/lib/systemd/system/vpnd.target" "$WORK/vpnd.target"
printf '[Unit]\nDescription=boot\nWants=network.target network-online.target vpnd@is0.service vpnd.target\n' \
	> "$WORK/vpnd-boot-test.target"
check "systemd-analyze verify: the unit, vpnd.target and a boot with network.target: no warning, no cycle" \
	sh -c "cd $WORK && out=\$(systemd-analyze verify --man=no vpnd@is0.service vpnd.target vpnd-boot-test.target 2>&1) &&
	       [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
check "unit: PartOf=vpnd.target, vpnd.target wanted by multi-user.target" \
	sh -c "grep -qx 'PartOf=vpnd.target' $UNIT && grep -qx 'WantedBy=multi-user.target' $WORK/vpnd.target"
install_to DESTDIR="$WORK/root2" > /dev/null 2>&1
check "the default PREFIX is /usr/local, the unit follows it" \
	grep -qx 'ExecStart=/usr/local/bin/vpnd up %i' "$WORK/root2/usr/local/lib/systemd/system/vpnd@.service"
install_to DESTDIR="$WORK/root3" PREFIX=/usr UNITDIR=/lib/systemd/system > /dev/null 2>&1
check "UNITDIR=/lib/systemd/system puts the unit there" [ -f "$WORK/root3/lib/systemd/system/vpnd@.service" ]

echo "# the man page"
need_tool man man-db
need_tool groff groff-base
check "man -l renders it without a warning" \
	sh -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l $MAN > $WORK/man.txt 2> $WORK/man.err &&
	       [ ! -s $WORK/man.err ] && [ \$(wc -l < $WORK/man.txt) -gt 300 ] || { cat $WORK/man.err; false; }"
check "groff renders it without a warning" \
	sh -c "groff -man -Tutf8 -ww -P-cbou $MAN > /dev/null 2> $WORK/groff.err && [ ! -s $WORK/groff.err ] ||
	       { cat $WORK/groff.err; false; }"
if [ -s "$WORK/man.txt" ]; then
	# Sections, then everything the code has that the page must name.
	for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS CONFIGURATION "PEER TO PEER" \
		"MOVING ENDPOINTS" UAPI "JSON OUTPUT" "PROMETHEUS METRICS" "DROP REASONS" SIGNALS \
		ENVIRONMENT FILES SYSTEMD "SECURITY MODEL"; do
		grep -qx "$s" "$WORK/man.txt" || missing_sections="$missing_sections [$s]"
	done
	check "the page has every section" [ -z "$missing_sections" ]
	commands=$("$VPND" help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | sort -u)
	missing=""
	for c in $commands; do grep -Eq "^       (vpnd )?$c( |$)" "$WORK/man.txt" || missing="$missing $c"; done
	check "every command of vpnd help is described ($(echo $commands))" [ -z "$missing" ]
	if [ -n "$missing" ]; then echo "       missing:$missing"; fi
	keys=$(sed -n 's/.*{ SECTION_[A-Z]*, "\([A-Za-z]*\)", .*/\1/p' "$ROOT/vpnd/control/config.c")
	missing=""
	for k in $keys; do grep -q "^       $k\\b\|^       .*, $k\\b\|^       $k, " "$WORK/man.txt" || missing="$missing $k"; done
	check "every config key of the parser is described ($(echo $keys | wc -w) keys)" [ -z "$missing" ]
	if [ -n "$missing" ]; then echo "       missing:$missing"; fi
	reasons=$(sed -n 's/.*\[DROP_[A-Z0-9_]*\] = "\([a-z0-9_]*\)".*/\1/p' "$ROOT/vpnd/datapath/device.c")
	missing=""
	for r in $reasons; do grep -Eq "^       $r( |$)" "$WORK/man.txt" || missing="$missing $r"; done
	check "every drop reason of the code is described ($(echo $reasons | wc -w) reasons)" [ -z "$missing" ]
	if [ -n "$missing" ]; then echo "       missing:$missing"; fi
fi
# In the page's source (its JSON section) and in the README.
json_fields="interface public_key listen_port fwmark peer_to_peer under_load cookie_replies_sent
	handshakes_answered drops peers endpoint allowed_ips latest_handshake rx_bytes tx_bytes
	rx_packets tx_packets persistent_keepalive handshakes_sent handshakes_received name"
metrics=$(sed -n 's/.*"\(vpnd_[a-z_]*\)".*/\1/p' "$ROOT/vpnd/control/metrics.c" | sort -u)
missing=""
for f in $json_fields; do
	sed -n '/^\.SH JSON OUTPUT/,/^\.SH PROMETHEUS METRICS/p' "$MAN" | grep -q "\\b$f\\b" || missing="$missing man:$f"
	grep -q "\`$f\`" "$ROOT/README.md" || missing="$missing README:$f"
done
for m in $metrics; do
	grep -q "$m" "$MAN" || missing="$missing man:$m"
	grep -q "$m" "$ROOT/README.md" || missing="$missing README:$m"
done
check "every JSON field and every metric ($(echo $metrics | wc -w)) is in the page and the README" [ -z "$missing" ]
if [ -n "$missing" ]; then echo "       missing:$missing"; fi

echo "# the installed example config, keys filled in, comes up"
ns_new svc
keypair kx
keypair kp
sed -e "s|REPLACE_WITH_THE_OUTPUT_OF_vpnd_genkey|$kx_priv|" \
    -e "s|REPLACE_WITH_THE_CLIENT_PUBLIC_KEY|$kp_pub|" \
    -e "s|198.19.0.1/24|198.19.51.1/24|" "$EXAMPLE" > "$WORK/${X0}.conf"
chmod 600 "$WORK/${X0}.conf"
check "vpnd up on the example" vpnd_up "$svc" "$WORK/${X0}.conf"
check "it runs with the example's port, policy and peer" \
	sh -c "ip netns exec $svc $VPND show ${X0} --json | python3 -c '
import json, sys
i = json.load(sys.stdin)[0]
assert i[\"listen_port\"] == 51820 and i[\"peer_to_peer\"] == \"kernel\", i
assert [p[\"public_key\"] for p in i[\"peers\"]] == [\"$kp_pub\"], i'"
ip netns exec "$svc" "$VPND" down ${X0}

echo "# the unit's command lines, as systemd runs them"
mkdir -p "$WORK/etc"
cat > "$WORK/etc/${SVC}.conf" <<EOC
[Interface]
PrivateKey = $kx_priv
Address = 198.19.50.1/24
ListenPort = 51850

[Peer]
PublicKey = $kp_pub
AllowedIPs = 198.19.50.2/32
EOC
chmod 600 "$WORK/etc/${SVC}.conf"
# unit_cmd KEY: the unit's KEY= command line for instance is-svc.
unit_cmd() { sed -n "s/^$1=//p" "$UNIT" | sed -e "s|%i|${SVC}|g" -e "s|^/usr/bin/vpnd|$DEST/usr/bin/vpnd|"; }
pidfile=$(sed -n 's/^PIDFile=//p' "$UNIT" | sed "s|%i|${SVC}|; s|^/run/|/var/run/|")
# A journal stream: stderr is a file whose dev:inode JOURNAL_STREAM names.
: > "$WORK/journal"
journal_stream=$(stat -c '%d:%i' "$WORK/journal")
run_unit() {
	ip netns exec "$svc" env VPND_CONFIG_DIR="$WORK/etc" JOURNAL_STREAM="$journal_stream" \
		$(unit_cmd "$1") 2>> "$WORK/journal"
}
check "ExecStart returns 0 with the interface up" run_unit ExecStart
cp "$pidfile" "$WORK/${SVC}.pidfile" 2>/dev/null || true	# for lib.sh's cleanup
main=$(cat "$pidfile" 2>/dev/null || echo 0)
check "PIDFile exists and names the running monitor, whose child is the worker" \
	sh -c "kill -0 $main && pgrep -P $main > /dev/null && [ -S /var/run/wireguard/${SVC}.sock ]"
check "the monitor's pid is not ExecStart's (it forked, as Type=forking expects)" \
	sh -c "[ \"\$(ps -o ppid= -p $main | tr -d ' ')\" = 1 ] || [ \"\$(ps -o sid= -p $main | tr -d ' ')\" = $main ]"
check "ExecReload (vpnd reload) returns 0" run_unit ExecReload
check "ExecStop (vpnd down) returns 0, the monitor is gone, and so are the PIDFile and the socket" \
	sh -c "$(declare -f run_unit unit_cmd); UNIT=$UNIT DEST=$DEST WORK=$WORK svc=$svc SVC=$SVC
	       journal_stream=$journal_stream; run_unit ExecStop && ! kill -0 $main 2>/dev/null &&
	       [ ! -e $pidfile ] && [ ! -e /var/run/wireguard/${SVC}.sock ]"
cat "$WORK/journal"
check "after detaching, the daemon kept logging to the journal stream, with priorities" \
	sh -c "grep -qx '<6>vpnd: info: ${SVC}: signal 15, shutting down' $WORK/journal &&
	       grep -qx '<6>vpnd: info: ${SVC}: down' $WORK/journal"

echo "# log levels"
sed -e "s/${SVC}/${VB}/; s/51850/51852/; s/198.19.50/198.19.52/" "$WORK/etc/${SVC}.conf" > "$WORK/${VB}.conf"
echo "Endpoint = localhost:51999" >> "$WORK/${VB}.conf"	# something to re-resolve
chmod 600 "$WORK/${VB}.conf"
# up_logged NAME ARGS...: vpnd ARGS up, its detached log in $WORK/NAME.log.
up_logged() {
	local log=$WORK/$1.log; shift
	: > "$log"
	ip netns exec "$svc" env VPND_LOG="$log" VPND_RESOLVE_INTERVAL=1 "$@" up "$WORK/${VB}.conf" 2> /dev/null
	cp /var/run/vpnd/${VB}.pid "$WORK/${VB}.pidfile"
	sleep 1.5
	ip netns exec "$svc" "$VPND" down ${VB}
}
up_logged verbose "$VPND" --verbose
# Not the journal: every line starts with its UTC time.
TS='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]\{3\}Z'
check "not under systemd: every log line starts with a timestamp" \
	sh -c "[ -s $WORK/verbose.log ] && ! grep -v '^$TS vpnd: ' $WORK/verbose.log"
check "--verbose: debug lines from the monitor (worker pid, re-resolution)" \
	sh -c "grep -q '^$TS vpnd: debug: ${VB}: monitor pid [0-9]* (root), worker pid [0-9]* (\\(vpnd\\|nobody\\))' $WORK/verbose.log &&
	       grep -q '^$TS vpnd: debug: ${VB}: peer .*: localhost:51999 is ' $WORK/verbose.log"
up_logged plain "$VPND"
check "by default: info lines, no debug" \
	sh -c "grep -q '^$TS vpnd: info: ${VB}: down' $WORK/plain.log && ! grep -q debug: $WORK/plain.log"
up_logged quiet env VPND_LOG_LEVEL=warning "$VPND"
check "VPND_LOG_LEVEL=warning: no info lines" sh -c "! grep -q 'info:' $WORK/quiet.log"
up_logged envverbose env VPND_VERBOSE=1 "$VPND"
check "VPND_VERBOSE=1 is --verbose" grep -q "^$TS vpnd: debug: " "$WORK/envverbose.log"
check "an unknown VPND_LOG_LEVEL is warned about" \
	sh -c "VPND_LOG_LEVEL=chatty $VPND help 2>&1 >/dev/null | grep -q \"VPND_LOG_LEVEL: unknown level 'chatty'\""
check "vpnd help lists --verbose" sh -c "$VPND help | grep -q -- '-v, --verbose'"
finish
