#!/bin/bash
# As the kernel's WireGuard (wg_xmit): a packet from the host that no peer's
# allowed IPs cover, or whose peer has no endpoint, gets an ICMP/ICMPv6
# "destination unreachable" at once, instead of silence and a timeout.
#
#   [ns a] un-a 198.19.6.1/24, 2001:db8:6::1/64   (no underlay: no peer is reachable)
#     peer P: AllowedIPs 198.19.6.2/32, 2001:db8:6::2/128, no Endpoint
#     198.19.6.9, 2001:db8:6::9: routed to un-a (the /24, /64), no peer
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname un-a)

ns_new a
keypair ka; keypair kb
cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.6.1/24, 2001:db8:6::1/64

[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.6.2/32, 2001:db8:6::2/128
EOC
chmod 600 "$WORK/${IFA}.conf"
vpnd_up "$a" "$WORK/${IFA}.conf"
ip netns exec "$a" sysctl -qw net.ipv6.conf.all.accept_dad=0 || true
sleep 2	# IPv6 address past DAD

# unreachable NS ADDR [-6]: ping once; it must fail with ICMP's message.
unreachable() {
	local out
	out=$(ip netns exec "$1" ping $3 -c 1 -W 5 "$2" 2>&1 || true)
	echo "$out"
	echo "$out" | grep -Eq "Destination (Host Unreachable|unreachable: Address unreachable)"
}
check "no peer for 198.19.6.9: host unreachable" unreachable "$a" 198.19.6.9
check "peer without endpoint (198.19.6.2): host unreachable" unreachable "$a" 198.19.6.2
check "no peer for 2001:db8:6::9: address unreachable" unreachable "$a" 2001:db8:6::9 -6
check "peer without endpoint (2001:db8:6::2): address unreachable" \
	unreachable "$a" 2001:db8:6::2 -6
check "a UDP sender gets ECONNREFUSED/EHOSTUNREACH, not silence" \
	ip netns exec "$a" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
s.connect(("198.19.6.9", 9)); s.settimeout(3)
s.send(b"x")
try:
    s.recv(10)
except OSError as e:
    sys.exit(0 if e.errno in (113, 111) else 1)
sys.exit(1)'
check "vpnd down" ip netns exec "$a" "$VPND" down "$IFA"
finish
