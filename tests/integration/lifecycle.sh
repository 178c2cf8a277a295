#!/bin/bash
# Life cycle of a vpnd interface: a server whose peers live in NAME.d/, a
# client found as /etc/vpnd/NAME.conf, a config readable by others (warning),
# `vpnd up` twice, `vpnd down`, `ip link del`, and configs that must fail.
#
#                        veth 198.18.11.2/24          veth 198.18.11.1/24
#   [ns c1] vvlc1 198.19.11.2/24 ---------------------+
#     (/etc/vpnd/vvlc1.conf, `vpnd up vvlc1`)          |
#     AllowedIPs also 198.19.111.0/24,                 +-- [ns s] vvlsrv 198.19.11.1/24
#     2001:db8:111::/48 -> routes via vvlc1            |     ListenPort 51820
#                                                      |     $WORK/vvlsrv.conf
#   [ns c2] vvlc2 198.19.11.3/24 ---------------------+     $WORK/vvlsrv.d/c1.conf, c2.conf
#     ($WORK/vvlc2.conf, mode 0644: warning)
#                        veth 198.18.12.2/24          veth 198.18.12.1/24
#
# Then, in order: `vpnd up` again on vvlc2 must fail and leave it working;
# `vpnd down vvlc1` removes the daemon, interface, routes, socket, pid file;
# `ip link del vvlsrv` makes the server's daemon exit and remove its socket;
# bad configs (vvlbad, vvlbadd) fail with FILE:LINE and create nothing.
set -e
. "$(dirname "$0")/lib.sh"
C1=$(ifname vvlc1) C2=$(ifname vvlc2) SRV=$(ifname vvlsrv) BAD=$(ifname vvlbad) BADD=$(ifname vvlbadd)

# /etc/vpnd/vvlc1.conf is outside $WORK: remove it on any exit, then let
# lib.sh's cleanup do the rest.
ETC_DIR=/etc/vpnd
ETC_CREATED=
lifecycle_cleanup() {
	rm -f "$ETC_DIR/${C1}.conf"
	[ -n "$ETC_CREATED" ] && rmdir "$ETC_DIR" 2>/dev/null
	cleanup
}
trap lifecycle_cleanup EXIT

# A zombie counts as gone: PID 1 here reaps orphans only now and then.
pid_gone() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	'' | Z*) return 0 ;;
	*) return 1 ;;
	esac
}

ns_new s; ns_new c1; ns_new c2
veth "$s" 198.18.11.1/24 "$c1" 198.18.11.2/24 veth1 veth0
veth "$s" 198.18.12.1/24 "$c2" 198.18.12.2/24 veth2 veth0
keypair ks; keypair k1; keypair k2

# --- the server: its own file plus one peer file per client in NAME.d/ ---
mkdir "$WORK/${SRV}.d"
cat > "$WORK/${SRV}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.11.1/24
ListenPort = 51820
EOC
cat > "$WORK/${SRV}.d/c1.conf" <<EOC
# client 1
[Peer]
PublicKey = $k1_pub
AllowedIPs = 198.19.11.2/32
EOC
cat > "$WORK/${SRV}.d/c2.conf" <<EOC
# client 2
[Peer]
PublicKey = $k2_pub
AllowedIPs = 198.19.11.3/32
EOC
chmod 600 "$WORK/${SRV}.conf"

# --- client 1: /etc/vpnd/vvlc1.conf, brought up by name ---
if [ ! -d "$ETC_DIR" ]; then
	mkdir -p "$ETC_DIR"
	ETC_CREATED=1
fi
(umask 077; cat > "$ETC_DIR/${C1}.conf") <<EOC
[Interface]
PrivateKey = $k1_priv
Address = 198.19.11.2/24, 2001:db8:11::2/64

[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.11.0/24, 198.19.111.0/24, 2001:db8:111::/48
Endpoint = 198.18.11.1:51820
EOC

# --- client 2: a config readable by everyone ---
cat > "$WORK/${C2}.conf" <<EOC
[Interface]
PrivateKey = $k2_priv
Address = 198.19.11.3/24

[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.11.0/24
Endpoint = 198.18.12.1:51820
EOC
chmod 644 "$WORK/${C2}.conf"

vpnd_up "$s" "$WORK/${SRV}.conf"
vpnd_up "$c1" ${C1}
check "vpnd up NAME found /etc/vpnd/${C1}.conf (interface ${C1} exists)" ip -n "$c1" link show ${C1}
vpnd_up "$c2" "$WORK/${C2}.conf" 2> "$WORK/c2.err"
sed 's/^/     c2 stderr: /' "$WORK/c2.err"
check "mode 0644 config: warning on stderr naming the file" \
	grep -qF "vpnd: $WORK/${C2}.conf: warning: file holding a private key is readable by group or others" "$WORK/c2.err"
check "mode 0644 config: still comes up" ip -n "$c2" link show ${C2}
check "server has both NAME.d peers" \
	sh -c "[ \$(ip netns exec $s wg show ${SRV} peers | wc -l) -eq 2 ]"
check "client 1 (NAME.d peer c1.conf) pings the server" ip netns exec "$c1" ping -c 3 -i 0.2 -W 2 198.19.11.1
check "client 2 (NAME.d peer c2.conf) pings the server" ip netns exec "$c2" ping -c 3 -i 0.2 -W 2 198.19.11.1
check "server pings both clients" \
	sh -c "ip netns exec $s ping -c 2 -i 0.2 -W 2 198.19.11.2 && ip netns exec $s ping -c 2 -i 0.2 -W 2 198.19.11.3"

# --- vpnd up twice ---
pid_c2=$(cat "$WORK/${C2}.pidfile")
set +e
ip netns exec "$c2" "$VPND" up "$WORK/${C2}.conf" > "$WORK/twice.out" 2> "$WORK/twice.err"
rc=$?
set -e
sed 's/^/     second up stderr: /' "$WORK/twice.err"
check "second vpnd up on the same config exits non-zero (rc=$rc)" test "$rc" -ne 0
check "second vpnd up says the interface is already up" grep -q "^vpnd: ${C2} is already up" "$WORK/twice.err"
check "second vpnd up prints nothing on stdout" test ! -s "$WORK/twice.out"
check "first ${C2} daemon still runs" eval "! pid_gone $pid_c2"
check "pid file still names the first daemon" \
	sh -c "[ \"\$(cat /var/run/vpnd/${C2}.pid)\" = $pid_c2 ]"
check "${C2}'s UAPI socket still answers" ip netns exec "$c2" wg show ${C2}
check "client 2 still pings the server" ip netns exec "$c2" ping -c 3 -i 0.2 -W 2 198.19.11.1
check "only one ${C2} interface, still with its address" \
	sh -c "ip -n $c2 -o addr show dev ${C2} | grep -q '198.19.11.3/24'"

# --- vpnd down NAME ---
pid_c1=$(cat "$WORK/${C1}.pidfile")
check "route 198.19.111.0/24 via ${C1} before down" \
	sh -c "ip -n $c1 route show 198.19.111.0/24 | grep -q 'dev ${C1}'"
check "route 2001:db8:111::/48 via ${C1} before down" \
	sh -c "ip -n $c1 -6 route show 2001:db8:111::/48 | grep -q 'dev ${C1}'"
check "vpnd down ${C1} succeeds" ip netns exec "$c1" "$VPND" down ${C1}
check "${C1} daemon's pid is gone" wait_for 3 pid_gone "$pid_c1"
check "interface ${C1} is gone" sh -c "! ip -n $c1 link show ${C1}"
check "route 198.19.111.0/24 is gone" sh -c "[ -z \"\$(ip -n $c1 route show 198.19.111.0/24)\" ]"
check "route 2001:db8:111::/48 is gone" sh -c "[ -z \"\$(ip -n $c1 -6 route show 2001:db8:111::/48)\" ]"
check "no route through the tunnel subnet is left" sh -c "! ip -n $c1 route | grep -q '198.19.'"
check "/var/run/wireguard/${C1}.sock is gone" test ! -e /var/run/wireguard/${C1}.sock
check "/var/run/vpnd/${C1}.pid is gone" test ! -e /var/run/vpnd/${C1}.pid
check "client 2 still pings the server" ip netns exec "$c2" ping -c 2 -i 0.2 -W 2 198.19.11.1

# --- ip link del ends the daemon ---
pid_srv=$(cat "$WORK/${SRV}.pidfile")
check "server socket exists before ip link del" test -S /var/run/wireguard/${SRV}.sock
check "ip link del ${SRV}" ip -n "$s" link del ${SRV}
check "server daemon exits within 5 s" wait_for 5 pid_gone "$pid_srv"
check "/var/run/wireguard/${SRV}.sock removed" wait_for 2 test ! -e /var/run/wireguard/${SRV}.sock
check "/var/run/vpnd/${SRV}.pid removed" wait_for 2 test ! -e /var/run/vpnd/${SRV}.pid
check "client 2 no longer reaches the server" sh -c "! ip netns exec $c2 ping -c 1 -W 1 198.19.11.1"

# --- bad configs: FILE:LINE on stderr, non-zero exit, nothing created ---
# bad_up NAME CONF FILE LINE TEXT: `vpnd up CONF` in ns s must fail with the
# single line "vpnd: FILE:LINE: ...: 'TEXT'" (FILE: the file holding the error)
# and leave no interface, socket or pid file named NAME.
error_is() {
	[[ $1 == "vpnd: $2:$3: "*": '$4'" ]] && [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ]
}
bad_up() {
	local name=$1 conf=$2 file=$3 line=$4 text=$5 rc msg
	set +e
	ip netns exec "$s" "$VPND" up "$conf" > "$WORK/$name.out" 2> "$WORK/$name.err"
	rc=$?
	set -e
	sed "s/^/     $name stderr: /" "$WORK/$name.err"
	check "$name: exits non-zero (rc=$rc)" test "$rc" -ne 0
	msg=$(grep -v ': warning: ' "$WORK/$name.err" || true)
	check "$name: stderr is one line 'vpnd: ${file#"$WORK"/}:$line: ...: '$text''" \
		error_is "$msg" "$file" "$line" "$text"
	check "$name: nothing on stdout" test ! -s "$WORK/$name.out"
	check "$name: no interface created" sh -c "! ip -n $s link show $name"
	check "$name: no socket, no pid file" \
		sh -c "[ ! -e /var/run/wireguard/$name.sock ] && [ ! -e /var/run/vpnd/$name.pid ]"
}

cat > "$WORK/${BAD}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.12.1/24

[Peer]
PublicKey = $k1_pub
AllowedIPs = 198.19.12.2/32
AllowedIPs = 198.19.0.0/33
EOC
chmod 600 "$WORK/${BAD}.conf"
bad_line=$(grep -n '/33' "$WORK/${BAD}.conf" | cut -d: -f1)
bad_up ${BAD} "$WORK/${BAD}.conf" "$WORK/${BAD}.conf" "$bad_line" 198.19.0.0/33

# The same error in a NAME.d peer file names that file and its line.
cat > "$WORK/${BADD}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.13.1/24
EOC
chmod 600 "$WORK/${BADD}.conf"
mkdir "$WORK/${BADD}.d"
cat > "$WORK/${BADD}.d/peer.conf" <<EOC
[Peer]
PublicKey = $k2_pub

AllowedIPs = 198.19.13.2/32, 198.19.0.0/33
EOC
bad_up ${BADD} "$WORK/${BADD}.conf" "$WORK/${BADD}.d/peer.conf" 4 198.19.0.0/33

finish
