#!/bin/bash
# README's operator's walk-through, step by step, as written: only
# VPND_CONFIG_DIR differs (a scratch directory instead of /etc/vpnd), the
# server lives in a namespace and Alice in another, and the interfaces are
# "wk0-<token>" instead of "wg0" and "alice-<token>" instead of "alice" (Alice
# brings up a copy of alice.conf with that name): /var/run/wireguard and
# /var/run/vpnd are shared by all tests and runs.
#
#   [ns srv] wk0 198.19.0.1/24, udp 51820 --- veth 198.18.0.1 <-> 198.18.0.2 --- [ns al] alice 198.19.0.2
set -e
. "$(dirname "$0")/lib.sh"

ns_new srv; ns_new al
veth "$srv" 198.18.0.1/24 "$al" 198.18.0.2/24
export VPND_CONFIG_DIR="$WORK/etc"
mkdir -p "$VPND_CONFIG_DIR"
# vpnd in the server's namespace, as the operator runs it there
vpnd() { ip netns exec "$srv" env VPND_CONFIG_DIR="$VPND_CONFIG_DIR" "$VPND" "$@"; }
IF=$(ifname wk0) AL=$(ifname alice)

# 2. create the server
cd "$VPND_CONFIG_DIR"
umask 077
cat > $IF.conf <<EOF
[Interface]
PrivateKey = $(vpnd genkey 2>/dev/null)
Address = 198.19.0.1/24
ListenPort = 51820
EOF
check "vpnd up $IF" vpnd up $IF
cp /var/run/vpnd/$IF.pid "$WORK/$IF.pidfile"

# 3. add two people
add_alice() { vpnd peer add alice --iface $IF --endpoint 198.18.0.1:51820 > alice.conf; }
check "vpnd peer add alice > alice.conf" add_alice
check "vpnd peer add bob --qr prints a QR code" \
	sh -c "ip netns exec $srv env VPND_CONFIG_DIR=$VPND_CONFIG_DIR $VPND peer add bob --iface $IF --endpoint 198.18.0.1:51820 --qr | grep -q '█'"
check "alice.conf is a complete client config" \
	sh -c "grep -q '^PrivateKey' alice.conf && grep -q '^Endpoint = 198.18.0.1:51820' alice.conf"
cp alice.conf "$AL.conf"
VPND_LOG="$WORK/$AL.log" ip netns exec "$al" "$VPND" up "$VPND_CONFIG_DIR/$AL.conf"
cp "/var/run/vpnd/$AL.pid" "$WORK/$AL.pidfile"
check "alice reaches the server" ip netns exec "$al" ping -c 2 -W 2 198.19.0.1

# 4. see them
peers_shown() { [ "$(vpnd show $IF | grep -c '^peer: ')" = "$1" ]; }
check "vpnd show lists alice and bob" peers_shown 2
listed() { local l; l=$(vpnd peer list --iface $IF); echo "$l" | grep -q alice && echo "$l" | grep -q bob; }
check "vpnd peer list names both" listed
hs_before=$(ip netns exec "$srv" wg show $IF latest-handshakes | awk '$2 != 0')

# 5. remove one
check "vpnd peer remove bob" vpnd peer remove bob --iface $IF
check "bob is gone, alice stays" peers_shown 1

# 6. edit a peer file and reload
sed -i '/^AllowedIPs/s|$|, 198.19.100.0/24|' $IF.d/alice.conf
check "vpnd reload" vpnd reload $IF
check "the new allowed IP is routed" sh -c "ip -n $srv route show dev $IF | grep -q '198.19.100.0/24'"
same_handshake() { [ -n "$hs_before" ] && ip netns exec "$srv" wg show $IF latest-handshakes | grep -qxF "$hs_before"; }
check "alice's session survived it all (same latest handshake)" same_handshake
check "alice still reaches the server" ip netns exec "$al" ping -c 2 -W 2 198.19.0.1
cd /
finish
