#!/bin/bash
# The VPN's UDP port is its own (issue 10, point 2): no SO_REUSEADDR, so
# neither another local user nor a second vpnd interface can bind it and
# take the tunnel's datagrams.
#
#   [ns c] vpc 198.18.60.2/24                     [ns s] vpa 198.18.60.1/24, ListenPort 51830
#     Endpoint 198.18.61.1:51830                    vpb 198.18.62.1/24, ListenPort 51830 -> refused
#     veth0 198.18.61.2/24 ------------------------ veth0 198.18.61.1/24
#                                                   nobody: bind(51830, SO_REUSEADDR) -> refused
#
# Then: the first interface is untouched (still there, same port, same
# address) and still carries traffic (ping through it).
set -e
. "$(dirname "$0")/lib.sh"
A=$(ifname vpa) B=$(ifname vpb) C=$(ifname vpc)
PORT=51830
ns_new s; ns_new c
veth "$s" 198.18.61.1/24 "$c" 198.18.61.2/24
keypair ka; keypair kb; keypair kc

conf() {	# FILE KEY ADDRESS [LISTENPORT]: an interface; peers appended after
	(umask 077; cat > "$1") <<EOC
[Interface]
PrivateKey = $2
Address = $3
${4:+ListenPort = $4}
EOC
}
conf "$WORK/$A.conf" "$ka_priv" 198.18.60.1/24 $PORT
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 198.18.60.2/32\n' "$kc_pub" >> "$WORK/$A.conf"
conf "$WORK/$C.conf" "$kc_priv" 198.18.60.2/24
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 198.18.60.1/32\nEndpoint = 198.18.61.1:%s\n' \
	"$ka_pub" $PORT >> "$WORK/$C.conf"
conf "$WORK/$B.conf" "$kb_priv" 198.18.62.1/24 $PORT

vpnd_up "$s" "$WORK/$A.conf"
vpnd_up "$c" "$WORK/$C.conf"
check "ping through the first interface" ip netns exec "$c" ping -c 2 -W 2 198.18.60.1

# A local user binding the port (IPv4 and IPv6, SO_REUSEADDR set on its
# side too, as an attacker would) must get EADDRINUSE.
bind_as_nobody() {	# FAMILY ADDR
	ip netns exec "$s" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		/usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.$1, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(('$2', $PORT))
except OSError as e:
    print('refused:', e); sys.exit(1)
print('bound: another user now shares the tunnel port'); sys.exit(0)
"
}
bind_refused() { ! bind_as_nobody "$@"; }
check "nobody cannot bind the port over IPv4" bind_refused AF_INET 0.0.0.0
check "nobody cannot bind the port over IPv6" bind_refused AF_INET6 ::

links_before=$(ip -n "$s" -o link show "$A" | sed 's/^[0-9]*: //')
show_before=$(ip netns exec "$s" "$VPND" show "$A" | grep -i "listening port")
second_up() {
	if VPND_LOG="$WORK/b.log" ip netns exec "$s" "$VPND" up "$WORK/$B.conf" > "$WORK/b.out" 2>&1; then
		cp "/var/run/vpnd/$B.pid" "$WORK/$B.pidfile"	# for cleanup
		echo "second vpnd up succeeded"; cat "$WORK/b.out"; return 1
	fi
	cat "$WORK/b.out"
	grep -q "$PORT" "$WORK/b.out" && grep -q "in use" "$WORK/b.out"
}
check "vpnd up of a second config on the same ListenPort fails, naming the port" second_up
check "the refusal names the owner" grep -q "held by pid" "$WORK/b.out"
check "the second interface was torn down" bash -c "! ip -n $s link show $B"
check "no socket or pid file left for the second" \
	bash -c "[ ! -e /var/run/wireguard/$B.sock ] && [ ! -e /var/run/vpnd/$B.pid ]"
check "the first interface is untouched" \
	bash -c "[ \"\$(ip -n $s -o link show $A | sed 's/^[0-9]*: //')\" = '$links_before' ]"
check "the first interface still listens on $PORT" \
	bash -c "[ \"\$(ip netns exec $s $VPND show $A | grep -i 'listening port')\" = '$show_before' ]"
check "ping through the first interface still works" ip netns exec "$c" ping -c 2 -W 2 198.18.60.1
finish
