#!/bin/bash
# The smallest tunnel: two vpnd daemons, ping both ways, IPv4 and IPv6 inside.
#
#   [ns a] vb-a 198.19.1.1, 2001:db8:1::1 ---- UDP over veth 198.18.1.1 <-> 198.18.1.2 ---- [ns b] vb-b 198.19.1.2, 2001:db8:1::2
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname vb-a) IFB=$(ifname vb-b)

ns_new a; ns_new b
veth "$a" 198.18.1.1/24 "$b" 198.18.1.2/24
keypair ka; keypair kb
cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.1.1/24, 2001:db8:1::1/64
ListenPort = 51820

[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.1.2/32, 2001:db8:1::2/128
Endpoint = 198.18.1.2:51820
EOC
cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.1.2/24, 2001:db8:1::2/64
ListenPort = 51820

[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.1.1/32, 2001:db8:1::1/128
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$a" "$WORK/${IFA}.conf"
vpnd_up "$b" "$WORK/${IFB}.conf"

check "ping a -> b (IPv4 inside)" ip netns exec "$a" ping -c 3 -i 0.2 -W 2 198.19.1.2
check "ping b -> a (IPv4 inside)" ip netns exec "$b" ping -c 3 -i 0.2 -W 2 198.19.1.1
check "ping a -> b (IPv6 inside)" ip netns exec "$a" ping -6 -c 3 -i 0.2 -W 2 2001:db8:1::2
check "vpnd show reports a handshake" sh -c "ip netns exec $a $VPND show ${IFA} | grep -q 'latest handshake: [0-9]'"
check "vpnd down" ip netns exec "$a" "$VPND" down ${IFA}
check "interface gone after down" sh -c "! ip -n $a link show ${IFA}"
check "vpnd down again fails" sh -c "! ip netns exec $a $VPND down ${IFA}"
finish
