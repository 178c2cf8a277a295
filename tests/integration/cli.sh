#!/bin/bash
# The operator's command line: --version, help for every command (from the
# subcommand table), unknown options refused, non-root refused with the
# reason, peer list IFACE, up -f (foreground, timestamped log on stderr) and
# -v, a config with a UTF-8 byte-order mark, an Endpoint host name that
# resolves only after a while (retried), vpnd-daemon-wrapper from the build
# tree, bash completion; peer add --dns/--allowed-ips/--keepalive; peer
# names in show, --json, --prometheus.
#
#   [ns cli] cli0 198.19.60.1/24 (vpnd up: BOM, -f, -v)
#   [ns cli] cli2 198.19.63.1/24 (peer names: NAME.d/ files, # Name =)
#   [ns cli] cli1 198.19.61.1/24 (Endpoint late.vpnd.test, resolved by a
#                                 hosts file of the namespace written later:
#                                 /etc/netns/NS/hosts)
# Most checks need no namespace at all; nothing is sent anywhere.
set -e
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
C0=$(ifname cli0) C1=$(ifname cli1) C2=$(ifname cli2)
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

echo "# version and help"
check "vpnd --version and vpnd version print 'vpnd X.Y.Z'" \
	sh -c "$VPND --version | grep -qx 'vpnd [0-9][0-9.]*' && [ \"\$($VPND --version)\" = \"\$($VPND version)\" ]"
commands=$("$VPND" help | sed -n 's/^  \([a-z][a-z]*\)\( .*\)\?$/\1/p' | sort -u)
check "vpnd help lists the commands ($(echo $commands))" \
	sh -c "for c in up down reload peer show daemon genkey pubkey genpsk version help; do
	           echo '$commands' | grep -qx \$c || exit 1; done"
bad=""
for c in $commands; do
	for form in "help $c" "$c --help" "$c -h"; do
		# shellcheck disable=SC2086
		out=$("$VPND" $form 2>&1) && echo "$out" | head -1 | grep -q "^Usage: vpnd $c\\b" ||
			bad="$bad [$form]"
	done
done
check "for every command: vpnd help CMD, CMD --help, CMD -h print its usage, exit 0" [ -z "$bad" ]
[ -z "$bad" ] || echo "       wrong:$bad"
check "vpnd up --help opens no config (its usage, not /etc/vpnd/--help.conf)" \
	sh -c "out=\$(VPND_CONFIG_DIR=$WORK/none $VPND up --help 2>&1) && ! echo \"\$out\" | grep -q 'help.conf'"
check "vpnd help's usage lines are the table's: the same as help up's" \
	sh -c "$VPND help | grep -qF \"\$($VPND help up | head -1 | sed 's/^Usage: vpnd //')\""
check "vpnd help bogus: exit 1, says so" \
	sh -c "! $VPND help bogus 2> $WORK/e && grep -q \"unknown command: 'bogus'\" $WORK/e"
refused() { # refused ARGS...: exit 1 and "unknown option" or "takes"
	! "$VPND" "$@" > "$WORK/r.out" 2>&1 && grep -q "unknown option\|takes\|unexpected argument" "$WORK/r.out" &&
		grep -q "^Usage: vpnd" "$WORK/r.out"
}
check "unknown options are errors: up --bogus" refused up --bogus x
check "  ... down -x NAME" refused down -x x
check "  ... reload --now NAME" refused reload --now x
check "  ... show --bogus" refused show --bogus
check "  ... daemon --bogus" refused daemon --bogus x
check "  ... peer list --bogus" refused peer list --bogus x
check "  ... genkey --bogus, genkey extra" sh -c "$(declare -f refused); VPND=$VPND WORK=$WORK; refused genkey --bogus && refused genkey extra"
check "  ... a global --bogus" sh -c "$VPND --bogus 2>&1 | grep -q \"unknown option: '--bogus'\" && ! $VPND --bogus 2>/dev/null"

echo "# not root"
for c in "up $C0" "down $C0" "show" "show $C0"; do
	# shellcheck disable=SC2086
	check "vpnd $c as nobody: 'must be run as root (CAP_NET_ADMIN)', exit 1" \
		sh -c "! ${AS_NOBODY[*]} $VPND $c > $WORK/nr 2>&1 && grep -q 'must be run as root (CAP_NET_ADMIN)' $WORK/nr"
done
check "vpnd genkey as nobody still works" sh -c "${AS_NOBODY[*]} $VPND genkey | $VPND pubkey > /dev/null"

echo "# peer list IFACE"
mkdir -p "$WORK/etc"
keypair ks
keypair kc
printf '[Interface]\nPrivateKey = %s\nAddress = 198.19.62.1/24\nListenPort = 51862\n' "$ks_priv" > "$WORK/etc/plist.conf"
chmod 600 "$WORK/etc/plist.conf"
VPND_CONFIG_DIR=$WORK/etc "$VPND" peer add alice --iface plist --endpoint 198.19.62.1 > /dev/null 2>&1
check "peer list plist is peer list --iface plist" \
	sh -c "VPND_CONFIG_DIR=$WORK/etc $VPND peer list plist > $WORK/l1 2>&1 &&
	       VPND_CONFIG_DIR=$WORK/etc $VPND peer list --iface plist > $WORK/l2 2>&1 &&
	       cmp $WORK/l1 $WORK/l2 && grep -q alice $WORK/l1"

echo "# peer add --dns, --allowed-ips, --keepalive"
padd() { VPND_CONFIG_DIR=$WORK/etc "$VPND" peer add "$@" --endpoint 198.19.62.1 2> "$WORK/padd.err"; }
padd full plist --dns "198.19.62.53, corp.test" --allowed-ips "0.0.0.0/0, ::/0" --keepalive 0 > "$WORK/full.conf" || true
check "a full-tunnel client: DNS line, AllowedIPs 0.0.0.0/0, ::/0, no keepalive" \
	sh -c "grep -qx 'DNS = 198.19.62.53, corp.test' $WORK/full.conf &&
	       grep -qx 'AllowedIPs = 0.0.0.0/0, ::/0' $WORK/full.conf && ! grep -q Keepalive $WORK/full.conf"
padd dflt plist > "$WORK/dflt.conf" || true
check "defaults: no DNS, the server's subnet, keepalive 25" \
	sh -c "! grep -q DNS $WORK/dflt.conf && grep -qx 'AllowedIPs = 198.19.62.0/24' $WORK/dflt.conf &&
	       grep -qx 'PersistentKeepalive = 25' $WORK/dflt.conf"
padd ka plist --keepalive=10 > "$WORK/ka.conf" || true
check "--keepalive=10" grep -qx 'PersistentKeepalive = 10' "$WORK/ka.conf"
check "bad --allowed-ips, --keepalive, --dns: refused, no peer file left" \
	sh -c "$(declare -f padd); VPND=$VPND WORK=$WORK
	       ! padd b1 plist --allowed-ips 198.19.0.0/33 && grep -q 'invalid --allowed-ips' $WORK/padd.err &&
	       ! padd b2 plist --keepalive 70000 && grep -q 'invalid --keepalive' $WORK/padd.err &&
	       ! padd b3 plist --dns 'x;rm' && grep -q 'invalid --dns' $WORK/padd.err &&
	       ! ls $WORK/etc/plist.d/b?.conf 2>/dev/null"

echo "# up: a byte-order mark, -v, -f"
ns_new cli
conf0() {
	printf '\357\273\277[Interface]\nPrivateKey = %s\nAddress = 198.19.60.1/24\nListenPort = 51860\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.19.60.2/32\n' \
		"$ks_priv" "$kc_pub" > "$WORK/${C0}.conf"
	chmod 600 "$WORK/${C0}.conf"
}
conf0
check "a config starting with a UTF-8 byte-order mark comes up" vpnd_up "$cli" "$WORK/${C0}.conf"
ip netns exec "$cli" "$VPND" down "$C0"
check "vpnd up -v: debug lines; without: none" \
	sh -c "ip netns exec $cli env VPND_LOG=/dev/null $VPND up -v $WORK/${C0}.conf 2> $WORK/v.err &&
	       cp /var/run/vpnd/${C0}.pid $WORK/${C0}.pidfile && ip netns exec $cli $VPND down $C0 &&
	       grep -q 'vpnd: debug: ${C0}: reading ' $WORK/v.err &&
	       ip netns exec $cli env VPND_LOG=/dev/null $VPND up $WORK/${C0}.conf 2> $WORK/nv.err &&
	       cp /var/run/vpnd/${C0}.pid $WORK/${C0}.pidfile && ip netns exec $cli $VPND down $C0 &&
	       ! grep -q debug: $WORK/nv.err"
ip netns exec "$cli" "$VPND" up -f "$WORK/${C0}.conf" 2> "$WORK/fg.err" &
fg=$!
PIDS+=("$fg")
check "vpnd up -f: stays in the foreground (same pid) with the interface up" \
	sh -c "$(declare -f wait_for); wait_for 5 test -S /var/run/wireguard/${C0}.sock && kill -0 $fg &&
	       ip -n $cli link show $C0 > /dev/null"
kill -TERM "$fg"
wait "$fg" || true
TS='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]\{3\}Z'
check "  ... logs to stderr, each line with a timestamp (no JOURNAL_STREAM)" \
	sh -c "grep -q \"^$TS vpnd: info: ${C0}: down\" $WORK/fg.err && ! grep -v '^$TS vpnd: ' $WORK/fg.err"

echo "# an Endpoint host name that resolves late"
mkdir -p "/etc/netns/$cli"
trap 'rm -rf "/etc/netns/$cli"; cleanup' EXIT
printf '127.0.0.1 localhost\n' > "/etc/netns/$cli/hosts"
printf '[Interface]\nPrivateKey = %s\nAddress = 198.19.61.1/24\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.19.61.2/32\nEndpoint = late-%s.vpnd.test:51861\n' \
	"$ks_priv" "$kc_pub" "$TOKEN" > "$WORK/${C1}.conf"
chmod 600 "$WORK/${C1}.conf"
check "retries exhausted (VPND_ENDPOINT_RESOLUTION_RETRIES=1): refused, after one retry" \
	sh -c "! ip netns exec $cli env VPND_ENDPOINT_RESOLUTION_RETRIES=1 $VPND up $WORK/${C1}.conf 2> $WORK/r1.err &&
	       grep -q 'retry 1 of 1' $WORK/r1.err && ! grep -q 'retry 2' $WORK/r1.err &&
	       grep -q \"cannot resolve Endpoint: 'late-$TOKEN.vpnd.test:51861'\" $WORK/r1.err"
check "retries 0: refused at once" \
	sh -c "! ip netns exec $cli env VPND_ENDPOINT_RESOLUTION_RETRIES=0 $VPND up $WORK/${C1}.conf 2> $WORK/r0.err &&
	       ! grep -q retry $WORK/r0.err"
ip netns exec "$cli" env VPND_LOG="$WORK/${C1}.log" VPND_ENDPOINT_RESOLUTION_RETRIES=infinity \
	"$VPND" up "$WORK/${C1}.conf" 2> "$WORK/late.err" &
late=$!
PIDS+=("$late")
wait_for 10 grep -q 'retry 2 of infinity' "$WORK/late.err" || true
echo "198.19.99.7 late-$TOKEN.vpnd.test" >> "/etc/netns/$cli/hosts"
late_ok() {
	wait "$late" && cp "/var/run/vpnd/${C1}.pid" "$WORK/${C1}.pidfile" &&
		ip netns exec "$cli" "$VPND" show "$C1" --json | grep -q '"endpoint": *"198.19.99.7:51861"'
}
check "a name that resolves after two retries: up, with its endpoint" late_ok
ip netns exec "$cli" "$VPND" down "$C1" 2>/dev/null || true

echo "# peer names in show, --json, --prometheus"
keypair kh
keypair kb
printf '[Interface]\nPrivateKey = %s\nAddress = 198.19.63.1/24\nListenPort = 51863\n\n[Peer]\n# Name = hq\nPublicKey = %s\nAllowedIPs = 198.19.63.0/28\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.19.63.20/32\n' \
	"$ks_priv" "$kh_pub" "$kc_pub" > "$WORK/etc/${C2}.conf"
chmod 600 "$WORK/etc/${C2}.conf"
VPND_CONFIG_DIR=$WORK/etc "$VPND" peer add alice "$C2" --endpoint 198.19.63.1 > /dev/null 2>&1
mkdir -p "$WORK/etc/${C2}.d"
printf '[Peer]\n# Name = bobs-phone\nPublicKey = %s\nAllowedIPs = 198.19.63.30/32\n' "$kb_pub" > "$WORK/etc/${C2}.d/bob.conf"
alice_pub=$(sed -n 's/^PublicKey = //p' "$WORK/etc/${C2}.d/alice.conf")
ip netns exec "$cli" env VPND_CONFIG_DIR="$WORK/etc" VPND_LOG="$WORK/${C2}.log" "$VPND" up "$C2"
cp "/var/run/vpnd/${C2}.pid" "$WORK/${C2}.pidfile"
check "show: a 'name:' line under each named peer" \
	sh -c "ip netns exec $cli env VPND_CONFIG_DIR=$WORK/etc $VPND show $C2 > $WORK/names.txt &&
	       grep -A1 'peer: $kh_pub' $WORK/names.txt | grep -qx '  name: hq' &&
	       grep -A1 'peer: $alice_pub' $WORK/names.txt | grep -qx '  name: alice' &&
	       grep -A1 'peer: $kb_pub' $WORK/names.txt | grep -qx '  name: bobs-phone' &&
	       ! grep -A1 'peer: $kc_pub' $WORK/names.txt | grep -q name:"
check "--json: \"name\" per peer (file name, # Name comment, null)" \
	sh -c "ip netns exec $cli env VPND_CONFIG_DIR=$WORK/etc $VPND show $C2 --json | python3 -c '
import json, sys
names = {p[\"public_key\"]: p[\"name\"] for p in json.load(sys.stdin)[0][\"peers\"]}
assert names == {\"$kh_pub\": \"hq\", \"$alice_pub\": \"alice\", \"$kb_pub\": \"bobs-phone\", \"$kc_pub\": None}, names'"
check "--prometheus: vpnd_peer_info carries a name label" \
	sh -c "ip netns exec $cli env VPND_CONFIG_DIR=$WORK/etc $VPND show $C2 --prometheus > $WORK/names.prom &&
	       grep -q 'vpnd_peer_info{.*public_key=\"$alice_pub\",name=\"alice\"' $WORK/names.prom &&
	       grep -q 'vpnd_peer_info{.*public_key=\"$kc_pub\",name=\"\"' $WORK/names.prom"
ip netns exec "$cli" "$VPND" down "$C2"

echo "# PeerToPeer = kernel on a hub without forwarding: warned, with the fix"
ip netns exec "$cli" sysctl -qw net.ipv4.ip_forward=0
warned() { grep -q "warning: ${C2}: PeerToPeer = kernel, but this host does not forward IPv4: .*fix: sysctl -w net.ipv4.ip_forward=1" "$1"; }
check "peer add: the second client brings the warning" \
	sh -c "$(declare -f warned); C2=$C2; ip netns exec $cli env VPND_CONFIG_DIR=$WORK/etc $VPND peer add carol $C2 \
	       --endpoint 198.19.63.1 > /dev/null 2> $WORK/fw.err; warned $WORK/fw.err"
check "up: warned" \
	sh -c "$(declare -f warned); C2=$C2; ip netns exec $cli env VPND_CONFIG_DIR=$WORK/etc VPND_LOG=/dev/null \
	       $VPND up $C2 2> $WORK/fwup.err && cp /var/run/vpnd/${C2}.pid $WORK/${C2}.pidfile; warned $WORK/fwup.err"
ip netns exec "$cli" "$VPND" down "$C2"
ip netns exec "$cli" sysctl -qw net.ipv4.ip_forward=1
check "with net.ipv4.ip_forward=1: no warning" \
	sh -c "ip netns exec $cli env VPND_CONFIG_DIR=$WORK/etc VPND_LOG=/dev/null $VPND up $C2 2> $WORK/fwok.err &&
	       cp /var/run/vpnd/${C2}.pid $WORK/${C2}.pidfile && ! grep -q PeerToPeer $WORK/fwok.err"
ip netns exec "$cli" "$VPND" down "$C2"

echo "# vpnd-daemon-wrapper, bash completion"
mkdir -p "$WORK/bin"
cp "$ROOT/scripts/vpnd-daemon-wrapper" "$WORK/bin/"
ln -s "$VPND" "$WORK/bin/vpnd"
check "the wrapper finds the vpnd next to it (not on PATH)" \
	sh -c "env PATH=/usr/bin:/bin $WORK/bin/vpnd-daemon-wrapper --help | grep -q '^Usage: vpnd daemon'"
if [ "$VPND" -ef "$ROOT/build/vpnd" ]; then
	check "scripts/vpnd-daemon-wrapper in the source tree finds build/vpnd" \
		sh -c "env PATH=/usr/bin:/bin $ROOT/scripts/vpnd-daemon-wrapper --help | grep -q '^Usage: vpnd daemon'"
fi
complete_words() { # complete_words WORDS...: what _vpnd offers for the last word
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vpnd; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$ROOT/scripts/vpnd.bash-completion" "$@"
}
vpnd_up "$cli" "$WORK/${C0}.conf"
check "completion: commands" sh -c "$(declare -f complete_words); ROOT=$ROOT
	complete_words $VPND r | grep -qx reload && complete_words $VPND '' | grep -qx version"
check "completion: vpnd down offers the running interface" \
	sh -c "$(declare -f complete_words); ROOT=$ROOT; complete_words $VPND down '' | grep -qx $C0"
check "completion: vpnd up offers config names" \
	sh -c "$(declare -f complete_words); ROOT=$ROOT; VPND_CONFIG_DIR=$WORK/etc complete_words $VPND up '' | grep -qx plist"
check "completion: vpnd up - offers its options" \
	sh -c "$(declare -f complete_words); ROOT=$ROOT; complete_words $VPND up - | grep -qx -- --foreground"
ip netns exec "$cli" "$VPND" down "$C0"
finish
