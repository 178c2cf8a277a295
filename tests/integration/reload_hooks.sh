#!/bin/bash
# Hooks belong to the interface, like Address and MTU: a reload (SIGHUP to
# the monitor) that finds other PreDown/PostDown lines in the file warns
# and keeps those of `vpnd up`, so the PreDown that runs at `vpnd down` is
# the one that undoes what PostUp did. Peers still change.
#
#   [ns a] rh-a 198.19.4.1/24 (no underlay needed: no traffic)
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname rh-a)

ns_new a
keypair ka; keypair kb; keypair kc
conf() {	# conf N PEERKEY: hooks of generation N, one peer
	cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.4.1/24
ListenPort = 51820
PostUp = touch $WORK/postup-$1
PreDown = touch $WORK/predown-$1
PostDown = touch $WORK/postdown-$1

[Peer]
PublicKey = $2
AllowedIPs = 198.19.4.2/32
EOC
	chmod 600 "$WORK/${IFA}.conf"
}
conf 1 "$kb_pub"
vpnd_up "$a" "$WORK/${IFA}.conf"
monitor=$(cat "$WORK/${IFA}.pidfile")
check "PostUp of up ran" test -e "$WORK/postup-1"

conf 2 "$kc_pub"
kill -HUP "$monitor"
peer_is_c() { ip netns exec "$a" wg show "$IFA" peers | grep -qx "$kc_pub"; }
check "the reload applied the new peer" wait_for 5 peer_is_c
check "the reload warned that the hooks differ" \
	grep -q "differ from those of vpnd up" "$WORK/${IFA}.log"
check "vpnd down" ip netns exec "$a" "$VPND" down "$IFA"
check "down ran up's PreDown and PostDown" \
	test -e "$WORK/predown-1" -a -e "$WORK/postdown-1"
check "not the file's new ones" test ! -e "$WORK/predown-2" -a ! -e "$WORK/postdown-2"
finish
