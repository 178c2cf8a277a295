#!/bin/bash
# A control-socket client that trickles its request (or never sends one)
# must not stall the tunnel nor other control clients: the UAPI is served
# without blocking the packet loop, each exchange with one deadline.
#
#   [ns a] us-a 198.19.3.1 ---- UDP over veth 198.18.3.1 <-> 198.18.3.2 ---- [ns b] us-b 198.19.3.2
#
#   a's /var/run/wireguard/us-a.sock: 12 idle clients (more than the slots)
#   and one that writes a byte of "get=1\n" every 0.5 s; meanwhile ping
#   a -> b every 0.1 s must lose nothing, and wg show must answer.
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname us-a) IFB=$(ifname us-b)

ns_new a; ns_new b
veth "$a" 198.18.3.1/24 "$b" 198.18.3.2/24
keypair ka; keypair kb
cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.3.1/24
ListenPort = 51820

[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.3.2/32
Endpoint = 198.18.3.2:51820
EOC
cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.3.2/24
ListenPort = 51820

[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.3.1/32
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$a" "$WORK/${IFA}.conf"
vpnd_up "$b" "$WORK/${IFB}.conf"
check "the tunnel works" ip netns exec "$a" ping -c 2 -i 0.2 -W 2 198.19.3.2

# Idle and trickling clients, for 6 s (past the 5 s deadline).
python3 - "/var/run/wireguard/$IFA.sock" > "$WORK/trickle.out" 2>&1 <<'EOP' &
import socket, sys, time
idle = []
for _ in range(12):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); idle.append(s)
t = socket.socket(socket.AF_UNIX); t.connect(sys.argv[1])
start = time.time()
try:
    for ch in "get=1\n":
        t.send(ch.encode()); time.sleep(0.5)
    while time.time() - start < 6:
        time.sleep(0.5)
        t.send(b"x")
except OSError:
    print("trickler cut off after %.1f s" % (time.time() - start))
EOP
PIDS+=($!)
trickler=$!
sleep 0.5
check "ping through the tunnel loses nothing while clients stall" \
	ip netns exec "$a" ping -c 30 -i 0.1 -W 1 198.19.3.2
check "wg show answers meanwhile" timeout 3 ip netns exec "$a" wg show "$IFA" latest-handshakes
check "vpnd show answers meanwhile" timeout 3 ip netns exec "$a" "$VPND" show "$IFA"
wait "$trickler" || true
check "the trickler was cut off" grep -q "cut off" "$WORK/trickle.out"
# At its deadline (5 s), not before: the newest client is not the one the
# slot limit evicts, and a slow but live client gets its whole exchange
# time (lenient lower bound; the upper one is the trickler's own 6 s).
check "... at its deadline, not early (>= 4 s)" \
	sh -c "cat $WORK/trickle.out; awk '/cut off after/ { exit !(\$5 + 0 >= 4.0) }' $WORK/trickle.out"
check "the daemon is still up and serving" ip netns exec "$a" wg show "$IFA" listen-port
check "vpnd down" ip netns exec "$a" "$VPND" down "$IFA"
finish
