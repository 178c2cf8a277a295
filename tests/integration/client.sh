#!/bin/bash
# Client conveniences as wg-quick has them: Table = off | N, vpnd strip
# (for wg syncconf), vpnd showconf, SaveConfig = true.
#
#   [ns a] veth0 198.18.7.1/24 ---------------- [ns b] veth0 198.18.7.2/24
#   CL 198.19.7.1/24                             (nothing listens: only routes,
#   peer kp: AllowedIPs 198.19.8.0/24 (+ /0)      files and UAPI are looked at)
set -e
. "$(dirname "$0")/lib.sh"
CL=$(ifname cl)
CONF=$WORK/$CL.conf

ns_new a; ns_new b
veth "$a" 198.18.7.1/24 "$b" 198.18.7.2/24
keypair kc; keypair kp; keypair kn
conf() {	# conf EXTRA-INTERFACE-LINES ALLOWED-IPS
	cat > "$CONF" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.7.1/24
ListenPort = 51830
$1

[Peer]
PublicKey = $kp_pub
AllowedIPs = $2
Endpoint = 198.18.7.2:51820
EOC
	chmod 600 "$CONF"
}
routes() { ip -n "$a" route show table all | grep -v ' table local ' || true; }
wait_for 10 sh -c "! ip -n $a addr | grep -q tentative"
ip -n "$a" rule > "$WORK/rules.before"
routes > "$WORK/routes.before"

# --- Table = off: no route at all ----------------------------------------------
conf "Table = off" "198.19.8.0/24, 0.0.0.0/0"
vpnd_up "$a" "$CONF"
check "Table = off: no route for the allowed IPs" \
	sh -c "! ip -n $a route show table all | grep -q '198.19.8.0/24\|default dev $CL'"
check "Table = off: no rule" sh -c "ip -n $a rule | diff -u $WORK/rules.before -"
check "Table = off: the tunnel's own subnet (the address's route) is there" \
	sh -c "ip -n $a route show dev $CL | grep -q '198.19.7.0/24'"
ip netns exec "$a" "$VPND" down "$CL"

# --- Table = 1234: every allowed IP, /0 included, in table 1234, no rules -------------
conf "Table = 1234" "198.19.8.0/24, 0.0.0.0/0"
vpnd_up "$a" "$CONF"
check "Table = 1234: 198.19.8.0/24 and default in table 1234" \
	sh -c "ip -n $a route show table 1234 | grep -q '^198.19.8.0/24 dev $CL' &&
	       ip -n $a route show table 1234 | grep -q '^default dev $CL'"
check "Table = 1234: nothing in main for them" \
	sh -c "! ip -n $a route show table main | grep -q '198.19.8.0/24\|default dev $CL'"
check "Table = 1234: no rule" sh -c "ip -n $a rule | diff -u $WORK/rules.before -"
check "Table = 1234: no fwmark on the socket" \
	sh -c "ip netns exec $a wg show $CL fwmark | grep -qx off"
ip netns exec "$a" "$VPND" down "$CL"
routes > "$WORK/routes.after"
check "down: routes as before" diff -u "$WORK/routes.before" "$WORK/routes.after"

# --- Table = 1234 that already routes an allowed IP elsewhere: refused, as in main ------
# Another metric than vpnd's (0), so NLM_F_EXCL alone would let both in.
ip -n "$a" route add 198.19.8.0/24 via 198.18.7.2 metric 7 table 1234
ip -n "$a" route show table 1234 > "$WORK/t1234.before"
ip -n "$a" link > "$WORK/links.before"
conf "Table = 1234" "198.19.8.0/24"
check "Table = 1234 routing 198.19.8.0/24 elsewhere: up refused" \
	sh -c "! VPND_LOG=$WORK/t1234.log ip netns exec $a $VPND up $CONF 2> $WORK/t1234.err"
# Should it come up after all, its daemon is ours to stop at exit.
[ -f "/var/run/vpnd/$CL.pid" ] && cp "/var/run/vpnd/$CL.pid" "$WORK/t1234.pidfile"
check "the refusal names the table and the route in the way" \
	grep -q "AllowedIPs 198.19.8.0/24: table 1234 already routes it, not replacing its route: '198.19.8.0/24 via 198.18.7.2 dev veth0 proto boot metric 7'" "$WORK/t1234.err"
check "table 1234 byte for byte as before" \
	sh -c "ip -n $a route show table 1234 | cmp - $WORK/t1234.before"
check "no interface left" sh -c "ip -n $a link | diff -u $WORK/links.before -"
ip -n "$a" route del 198.19.8.0/24 via 198.18.7.2 metric 7 table 1234

# --- strip, showconf, wg syncconf ---------------------------------------------------
conf "SaveConfig = true
KillSwitch = false
MTU = 1380
PostUp = true %i" "198.19.8.0/24"
ip netns exec "$a" "$VPND" strip "$CONF" > "$WORK/stripped"
check "strip: no vpnd/wg-quick-only key left" \
	sh -c "! grep -Eiq '^(Address|SaveConfig|KillSwitch|MTU|PostUp|Table|DNS|PeerToPeer)' $WORK/stripped"
check "strip: keys, port, peer and endpoint kept" \
	sh -c "grep -qx 'PrivateKey = $kc_priv' $WORK/stripped && grep -qx 'ListenPort = 51830' $WORK/stripped &&
	       grep -qx 'PublicKey = $kp_pub' $WORK/stripped && grep -qx 'Endpoint = 198.18.7.2:51820' $WORK/stripped"
check "strip: a broken config is refused, nothing printed" \
	sh -c "echo 'Bogus = 1' > $WORK/bad.conf; ! $VPND strip $WORK/bad.conf > $WORK/bad.out 2>/dev/null && [ ! -s $WORK/bad.out ]"
vpnd_up "$a" "$CONF"
check "wg syncconf IF <(vpnd strip FILE) accepts it" \
	sh -c "ip netns exec $a wg syncconf $CL $WORK/stripped"
check "showconf: the running peer and its endpoint" \
	sh -c "ip netns exec $a $VPND showconf $CL > $WORK/show && grep -qx 'PublicKey = $kp_pub' $WORK/show &&
	       grep -qx 'Endpoint = 198.18.7.2:51820' $WORK/show && grep -qx 'ListenPort = 51830' $WORK/show"
check "showconf: wg syncconf takes it back unchanged" \
	sh -c "ip netns exec $a wg syncconf $CL $WORK/show && ip netns exec $a $VPND showconf $CL | diff -u $WORK/show -"

# --- SaveConfig: the running peers go back into the file at down -------------------------
ip netns exec "$a" wg set "$CL" peer "$kn_pub" allowed-ips 198.19.9.0/24 endpoint 198.18.7.9:51821
check "down with SaveConfig" ip netns exec "$a" "$VPND" down "$CL"
check "SaveConfig: the new peer is in the file" \
	sh -c "grep -qx 'PublicKey = $kn_pub' $CONF && grep -qx 'Endpoint = 198.18.7.9:51821' $CONF &&
	       grep -qx 'AllowedIPs = 198.19.9.0/24' $CONF"
check "SaveConfig: the file's own keys are kept" \
	sh -c "grep -qx 'Address = 198.19.7.1/24' $CONF && grep -qx 'SaveConfig = true' $CONF &&
	       grep -qx 'MTU = 1380' $CONF && grep -qx 'PostUp = true %i' $CONF"
check "SaveConfig: mode 0600" test "$(stat -c %a "$CONF")" = 600
check "SaveConfig: no temporary file left" sh -c "! ls $WORK | grep -q '$CL.conf.'"
vpnd_up "$a" "$CONF"
check "up from the saved file: both peers" \
	sh -c "ip netns exec $a wg show $CL peers | grep -qx '$kn_pub' && ip netns exec $a wg show $CL peers | grep -qx '$kp_pub'"
ip netns exec "$a" "$VPND" down "$CL"
finish
