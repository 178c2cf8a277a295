#!/bin/bash
# Conformance with the kernel's WireGuard (issue 12, points 2 and 3), on the wire:
#  - padding follows the interface's current MTU (RTM_NEWLINK): with
#    `ip link set mtu 1412`, a 1410-byte ping leaves as a 1444-byte UDP
#    payload (16 header + 1412 padded + 16 tag), not 1456 (padded to 1424);
#  - interface admin down stops every packet (here: persistent keepalives),
#    admin up starts a handshake at once (the kernel's wg_stop / wg_open).
#
#   [ns a] cf-a 198.19.2.1 ---- UDP over veth 198.18.2.1 <-> 198.18.2.2 ---- [ns b] cf-b 198.19.2.2
#                                       sniff.py on b's veth0
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname cf-a) IFB=$(ifname cf-b)
SNIFF="$(dirname "$0")/../tools/sniff.py"

ns_new a; ns_new b
veth "$a" 198.18.2.1/24 "$b" 198.18.2.2/24
keypair ka; keypair kb
cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.2.1/24
ListenPort = 51820

[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.2.2/32
Endpoint = 198.18.2.2:51820
PersistentKeepalive = 1
EOC
cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.2.2/24
ListenPort = 51820

[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.2.1/32
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$a" "$WORK/${IFA}.conf"
vpnd_up "$b" "$WORK/${IFB}.conf"
# a sent its first initiation (persistent keepalive) before b was up:
# the next may wait for REKEY_TIMEOUT.
check "tunnel up (ping a -> b)" wait_for 15 ip netns exec "$a" ping -c 1 -W 1 198.19.2.2

# --- padding to the current MTU ---
ip -n "$a" link set "$IFA" mtu 1412
sleep 0.3	# the link event reaches the daemon's loop
ip netns exec "$b" python3 "$SNIFF" veth0 "$WORK/mtu.hex" --type 4 --min-len 1000 \
	--ready "$WORK/mtu.ready" --timeout 10 &
SNIFF_PID=$!; PIDS+=("$SNIFF_PID")
wait_for 5 test -f "$WORK/mtu.ready"
ip netns exec "$a" ping -c 1 -W 2 -s 1382 -M do 198.19.2.2 > /dev/null || true
wait "$SNIFF_PID" || true
len=$(awk '{ print length($0) / 2; exit }' "$WORK/mtu.hex" 2>/dev/null)
echo "  outer UDP payload of a 1410-byte packet at MTU 1412: ${len:-none} bytes"
check "padded to the current MTU: 1444-byte UDP payload" [ "${len:-0}" = 1444 ]

# --- admin down: nothing leaves; admin up: a handshake at once ---
ip -n "$a" link set "$IFA" down
sleep 1.5	# what was in flight has left
# sniff.py exits 3 when nothing came (a broken sniffer exits otherwise).
rc=0; ip netns exec "$b" python3 "$SNIFF" veth0 "$WORK/down.hex" --timeout 3 || rc=$?
check "interface down: no keepalive or handshake leaves for 3 s (sniffer timed out: 3)" [ "$rc" = 3 ]
ip netns exec "$b" python3 "$SNIFF" veth0 "$WORK/up.hex" --type 1 --ready "$WORK/up.ready" \
	--timeout 10 &
SNIFF_PID=$!; PIDS+=("$SNIFF_PID")
wait_for 5 test -f "$WORK/up.ready"
ip -n "$a" link set "$IFA" up
if wait "$SNIFF_PID"; then hs=yes; else hs=no; fi
check "interface up: a handshake initiation leaves (persistent keepalive peer)" [ "$hs" = yes ]
ip -n "$a" route add 198.19.2.0/24 dev "$IFA" 2>/dev/null || true
check "tunnel carries traffic again after down/up" \
	wait_for 10 ip netns exec "$a" ping -c 1 -W 1 198.19.2.2

finish
