#!/bin/bash
# vpnd up is all or nothing: a failing PreUp/PostUp hook, a route in the
# way, a port in use: up exits non-zero and the host is as before (links,
# addresses, all routing tables, rules, nftables, sysctl, run files). A
# failed PostUp runs PreDown and PostDown; a failed PreUp runs PostDown only
# (there is no interface yet).
#
#   [ns a] veth0 198.18.9.1/24 ------------ [ns b] veth0 198.18.9.2/24
#   UF 198.19.9.1/24, AllowedIPs 0.0.0.0/0 (full tunnel) or 198.19.10.0/24
#   a python socket holds UDP port 51840 (the port-in-use case)
set -e
. "$(dirname "$0")/lib.sh"
UF=$(ifname uf)
CONF=$WORK/$UF.conf

ns_new a; ns_new b
veth "$a" 198.18.9.1/24 "$b" 198.18.9.2/24
ip -n "$a" route add default via 198.18.9.2
keypair ka; keypair kb
conf() {	# conf ALLOWED-IPS [EXTRA-INTERFACE-LINES...]
	local aips=$1; shift
	{
		printf '[Interface]\nPrivateKey = %s\nAddress = 198.19.9.1/24\n' "$ka_priv"
		printf '%s\n' "$@"
		printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = %s\nEndpoint = 198.18.9.2:51820\n' \
			"$kb_pub" "$aips"
	} > "$CONF"
	chmod 600 "$CONF"
}
snap() {
	{
		ip -n "$a" link; ip -n "$a" addr
		ip -n "$a" route show table all; ip -n "$a" -6 route show table all
		ip -n "$a" rule; ip -n "$a" -6 rule
		ip netns exec "$a" nft list ruleset
		ip netns exec "$a" sysctl net.ipv4.conf.all.src_valid_mark
		ls /var/run/vpnd /var/run/wireguard 2>/dev/null | grep -F "$UF" || true
	} > "$1" 2>&1
}
# up_fails WHAT: up must exit non-zero and leave the snapshot unchanged.
up_fails() {
	rm -f "$WORK"/ran-*
	snap "$WORK/before"
	check "$1: up exits non-zero" \
		sh -c "! VPND_LOG=$WORK/up.log ip netns exec $a $VPND up $CONF 2> $WORK/up.err"
	snap "$WORK/after"
	check "$1: everything as before" diff -u "$WORK/before" "$WORK/after"
}
wait_for 10 sh -c "! ip -n $a addr | grep -q tentative"
hooks=("PreUp = touch $WORK/ran-preup" "PostUp = touch $WORK/ran-postup"
       "PreDown = touch $WORK/ran-predown" "PostDown = touch $WORK/ran-postdown")

conf "0.0.0.0/0" "PreUp = exit 3" "${hooks[@]}"
up_fails "failing PreUp"
check "failing PreUp: says which hook and why" \
	grep -q "PreUp hook 1 of 2 failed (exit status 3)" "$WORK/up.err"
check "failing PreUp: PostDown ran, not the rest" \
	sh -c "[ -e $WORK/ran-postdown ] && [ ! -e $WORK/ran-preup ] && [ ! -e $WORK/ran-postup ] && [ ! -e $WORK/ran-predown ]"

conf "0.0.0.0/0" "${hooks[@]}" "PostUp = false" "PostUp = touch $WORK/ran-after"
up_fails "failing PostUp (full tunnel)"
check "failing PostUp: says which hook" \
	grep -q "PostUp hook 2 of 3 failed (exit status 1)" "$WORK/up.err"
check "failing PostUp: PreDown and PostDown ran, later PostUp did not" \
	sh -c "[ -e $WORK/ran-predown ] && [ -e $WORK/ran-postdown ] && [ ! -e $WORK/ran-after ]"

ip -n "$a" route add blackhole 198.19.10.0/24 table 1234
conf "198.19.10.0/24" "Table = 1234" "${hooks[@]}"
up_fails "route in the way (Table = 1234)"
check "route in the way: the message names it" \
	grep -q "198.19.10.0/24: table 1234 already routes it, not replacing its route: .blackhole 198.19.10.0/24" "$WORK/up.err"
ip -n "$a" route del blackhole 198.19.10.0/24 table 1234

# A socket without SO_REUSEADDR holds the port (IPv4 and IPv6).
ip netns exec "$a" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 51840))
open("'"$WORK/held"'", "w").close()
time.sleep(600)' &
PIDS+=($!)
wait_for 10 test -e "$WORK/held"
conf "0.0.0.0/0" "ListenPort = 51840" "${hooks[@]}"
up_fails "port in use (full tunnel)"
check "port in use: the message says so" grep -q "in use" "$WORK/up.err"

conf "0.0.0.0/0" "KillSwitch = true" "PostUp = false"
up_fails "failing PostUp with KillSwitch"

conf "198.19.10.0/24" "KillSwitch = true" "${hooks[@]}"
up_fails "KillSwitch without a full tunnel"
check "KillSwitch without a full tunnel: refused before any hook, saying why" \
	sh -c "grep -q 'KillSwitch = true needs a full tunnel' $WORK/up.err && ! ls $WORK | grep -q ran-"
finish
