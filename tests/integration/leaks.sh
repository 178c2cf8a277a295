#!/bin/bash
# No leak at clean shutdown. Meaningful in `make asan` (VPND_SANITIZED=1):
# vpnd is built with ASan/UBSan/LeakSanitizer; both daemons carry traffic,
# go down with `vpnd down`, and their logs must show the worker's leak scan
# ran and found nothing, and no sanitizer report from either process (the
# monitor is scanned at its normal exit). In a plain build it checks only
# that a clean shutdown logs no error.
#
#   [ns a] vk-a 198.19.9.1 --- veth 198.18.9.1 <-> 198.18.9.2 --- [ns b] vk-b 198.19.9.2
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname vk-a) IFB=$(ifname vk-b)

ns_new a; ns_new b
veth "$a" 198.18.9.1/24 "$b" 198.18.9.2/24
keypair ka; keypair kb
cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.9.1/24
ListenPort = 51820
[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.9.2/32
Endpoint = 198.18.9.2:51820
EOC
cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.9.2/24
ListenPort = 51820
[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.9.1/32
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$b" "$WORK/${IFB}.conf"
vpnd_up "$a" "$WORK/${IFA}.conf"
check "traffic through the tunnel" ip netns exec "$a" ping -c 20 -i 0.05 -W 2 198.19.9.2
check "a staged burst before the handshake (queue freed later)" \
	ip netns exec "$a" ping -c 3 -i 0.01 -W 2 198.19.9.2
ip netns exec "$a" wg set ${IFA} peer "$(echo "$kb_priv" | "$VPND" pubkey)" persistent-keepalive 1
ip netns exec "$a" "$VPND" down ${IFA}
ip netns exec "$b" "$VPND" down ${IFB}
sleep 0.5
no_reports() { ! grep -E "ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:|error:" "$WORK"/vk-*.log; }
check "no sanitizer report and no error in either daemon's log" no_reports
if [ -n "$VPND_SANITIZED" ]; then
	check "${IFA}'s worker ran its leak scan at shutdown: no leak" \
		grep -q "${IFA}: leak check done, no leak" "$WORK/${IFA}.log"
	check "${IFB}'s worker ran its leak scan at shutdown: no leak" \
		grep -q "${IFB}: leak check done, no leak" "$WORK/${IFB}.log"
fi
finish
