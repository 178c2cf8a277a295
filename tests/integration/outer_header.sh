#!/bin/bash
# The outer IP header as the kernel's WireGuard writes it: DF cleared on
# transport and handshake packets (udp_tunnel_xmit_skb with df 0), so a
# smaller MTU on the way fragments the outer packet instead of dropping it;
# handshake messages marked DSCP AF41 (HANDSHAKE_DSCP, TOS byte 0x88), data
# not (ECN aside).
#
#   [ns a] oh-a 198.19.7.1 --- veth0 198.18.7.1 <-> veth0 198.18.7.2 --- [ns b] oh-b 198.19.7.2
#                                                   ^ sniff.py --with-ip (outer header)
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname oh-a) IFB=$(ifname oh-b)

ns_new a; ns_new b
veth "$a" 198.18.7.1/24 "$b" 198.18.7.2/24
keypair ka; keypair kb
cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.7.1/24
ListenPort = 51820

[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.7.2/32
Endpoint = 198.18.7.2:51820
EOC
cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.7.2/24
ListenPort = 51820

[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.7.1/32
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$b" "$WORK/${IFB}.conf"
vpnd_up "$a" "$WORK/${IFA}.conf"

# capture TYPE OUT: the next 3 messages of TYPE from a arriving at b.
capture() {
	ip netns exec "$b" python3 "$SNIFF" veth0 "$2" --type "$1" --count "${3:-3}" --with-ip \
		--ready "$2.ready" --timeout 15 &
	PIDS+=($!)
	wait_for 5 test -e "$2.ready"
}
capture 1 "$WORK/init" 1
capture 4 "$WORK/data"
ip netns exec "$a" ping -c 5 -i 0.2 -W 2 198.19.7.2 > /dev/null
check "captured the initiation" wait_for 10 test -s "$WORK/init"
check "captured transport packets" wait_for 10 test -s "$WORK/data"
check "transport packets: outer DF cleared" sh -c "! grep -v ' df=0 ' $WORK/data"
check "initiation: outer DF cleared" sh -c "! grep -v ' df=0 ' $WORK/init"
check "initiation: DSCP AF41 (TOS 0x88)" grep -q '^tos=88 ' "$WORK/init"
check "transport: no DSCP" sh -c "! grep -Ev '^tos=0[0-3] ' $WORK/data"
finish
