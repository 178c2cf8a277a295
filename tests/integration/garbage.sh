#!/bin/bash
# Garbage at the server's UDP port while its tunnel carries traffic: bounded
# bursts (2000 datagrams each) of random bytes, truncated messages, wrong
# types and non-zero reserved bytes, initiations/responses of the right
# length with a bad mac1, cookie replies for unknown indices, transport
# messages for unknown receiver indices, and replays of real transport
# messages captured from the underlay. The daemon must stay up, the ping
# running through the tunnel meanwhile must barely notice (its loss is
# printed), and each drop counter must grow by exactly what was sent of its
# kind: the sender classifies every datagram with a model of receive_packet's
# rules (vpnd/datapath/receive.c), independent of the daemon. The only slack allowed
# is datagrams the kernel dropped for a full socket buffer (RcvbufErrors).
# A last burst floods bad-mac1 initiations (which also puts the server
# "under load") during an iperf3 run, which must complete.
#
#   [ns cli] hdg-cli 198.19.42.2/24           [ns srv] hdg-srv 198.19.42.1/24, UDP 51820
#     veth0 198.18.42.2/24 ---------------------- hdg-v1 198.18.42.1/24
#     ping -i 0.05 to 198.19.42.1                 (python AF_PACKET capture of the
#                                                  client's transport messages here,
#                                                  tests/tools/sniff.py)
#   [ns atk] veth0 198.18.43.2/24 --------------- hdg-v2 198.18.43.1/24
#     python3 sends the garbage to 198.18.43.1:51820
set -e
. "$(dirname "$0")/lib.sh"
SRV=$(ifname hdg-srv) CLI=$(ifname hdg-cli)

ns_new cli; ns_new srv; ns_new atk
veth "$cli" 198.18.42.2/24 "$srv" 198.18.42.1/24 veth0 hdg-v1
veth "$atk" 198.18.43.2/24 "$srv" 198.18.43.1/24 veth0 hdg-v2
keypair ks; keypair kc
cat > "$WORK/${SRV}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.42.1/24
ListenPort = 51820

[Peer]
PublicKey = $kc_pub
AllowedIPs = 198.19.42.2/32
EOC
cat > "$WORK/${CLI}.conf" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.42.2/24

[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.42.0/24
Endpoint = 198.18.42.1:51820
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$srv" "$WORK/${SRV}.conf"
vpnd_up "$cli" "$WORK/${CLI}.conf"
srv_pid=$(cat "$WORK/${SRV}.pidfile")
cport=$(ip netns exec "$cli" wg show ${CLI} listen-port)

# The server's get=stats answer, saved: snap FILE. get FILE KEY.
snap() { printf 'get=stats\n\n' | ip netns exec "$srv" ncat -U /var/run/wireguard/${SRV}.sock > "$1"; }
get() { sed -n "s/^$2=//p" "$1"; }
rcvbuf_errors() {
	ip netns exec "$srv" awk '/^Udp:/ { if (h) { print $6; exit } else h = 1 }' /proc/net/snmp
}
endpoint() { ip netns exec "$srv" wg show ${SRV} endpoints | awk -v k="$kc_pub" '$1 == k { print $2 }'; }

# The generator: garbage.py MODE COUNT SEED [CAPTURED-HEX-FILE]. Sends COUNT
# datagrams to the server and prints, per drop reason, how many of them the
# model says must be dropped for it ("short=12" ...).
cat > "$WORK/garbage.py" <<'EOP'
import random, socket, sys, time
mode, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
captured = [bytes.fromhex(l) for l in open(sys.argv[4])] if len(sys.argv) > 4 else []
known = {int.from_bytes(p[4:8], "little") for p in captured}	# live receiver indices
SIZE = {1: 148, 2: 92, 3: 64}

def rnd(n):
    return bytes(rng.getrandbits(8) for _ in range(n))

def classify(p):	# vpnd/datapath/receive.c: receive_packet and what it calls
    if len(p) < 4:
        return "short"
    t = int.from_bytes(p[:4], "little")	# type byte and 3 reserved zero bytes
    if t in SIZE:
        if len(p) != SIZE[t]:
            return "short"
        return "bad_handshake" if t == 3 else "bad_mac1"
    if t == 4:
        if len(p) < 32:
            return "short"
        return "replay" if int.from_bytes(p[4:8], "little") in known else "unknown_index"
    return "bad_type"

def index():	# a receiver index no session has
    while True:
        i = rng.getrandbits(32)
        if i not in known:
            return i.to_bytes(4, "little")

def make(i):
    if mode == "random":
        return rnd(rng.randrange(0, 1501))
    if mode == "truncated":
        if i % 10 == 0:
            return rnd(rng.randrange(0, 4))	# no room for a type
        t = rng.randrange(1, 5)
        n = rng.randrange(4, 32) if t == 4 else rng.choice(
            [rng.randrange(4, SIZE[t]), SIZE[t] + rng.randrange(1, 200)])
        return bytes([t, 0, 0, 0]) + rnd(n - 4)
    if mode == "badtype":
        if i % 2:	# a known type and length, a reserved byte not zero
            t = rng.randrange(1, 5)
            res = bytearray(3)
            res[rng.randrange(3)] = rng.randrange(1, 256)
            return bytes([t]) + bytes(res) + rnd(SIZE.get(t, 128) - 4)
        t = rng.choice([0] + list(range(5, 256)))
        return bytes([t, 0, 0, 0]) + rnd(rng.randrange(0, 200))
    if mode == "badmac1":
        t = rng.choice([1, 2])
        return bytes([t, 0, 0, 0]) + rnd(SIZE[t] - 4)
    if mode == "cookie":
        return bytes([3, 0, 0, 0]) + index() + rnd(56)
    if mode == "unknown":
        return bytes([4, 0, 0, 0]) + index() + rnd(24 + 16 * rng.randrange(0, 90))
    if mode == "replay":
        return captured[i % len(captured)]
    raise SystemExit("unknown mode " + mode)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.43.2", 0))
expect = {}
for i in range(count):
    p = make(i)
    s.sendto(p, ("198.18.43.1", 51820))
    expect[classify(p)] = expect.get(classify(p), 0) + 1
    if i % 50 == 49:
        time.sleep(0.002)	# paced: a burst, not a socket-buffer test
for k, v in sorted(expect.items()):
    print(f"{k}={v}")
EOP

REASONS="short bad_type bad_mac1 cookie_sent ratelimited bad_handshake unknown_index bad_decrypt
	replay key_expired bad_inner_source bad_inner_packet"
# burst MODE SEED: sends 2000 datagrams of MODE, then checks every drop
# counter against the model's expectation.
burst() {
	local r want got slack bad=""
	snap "$WORK/before"
	slack=$(rcvbuf_errors)
	ip netns exec "$atk" python3 "$WORK/garbage.py" "$1" 2000 "$2" "$WORK/captured" > "$WORK/expect"
	sleep 0.3
	snap "$WORK/after"
	slack=$(($(rcvbuf_errors) - slack))
	echo "     $1: sent $(tr '\n' ' ' < "$WORK/expect")(socket-buffer drops: $slack)"
	for r in $REASONS; do
		want=$(get "$WORK/expect" "$r"); want=${want:-0}
		got=$(($(get "$WORK/after" "drop_$r") - $(get "$WORK/before" "drop_$r")))
		if [ "$got" -gt "$want" ] || [ "$got" -lt $((want - slack)) ]; then
			bad="$bad drop_$r+$got (expected $want)"
		fi
	done
	check "$1: each drop counter grew by what was sent of its kind${bad:+:$bad}" [ -z "$bad" ]
	check "$1: the server is still running" kill -0 "$srv_pid"
}

check "client pings the server" ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.42.1

# Capture, as hex lines, 40 transport messages from the client carrying
# pings (84-byte IP packets padded to 96: 128 bytes on the wire).
ip netns exec "$srv" python3 "$SNIFF" hdg-v1 "$WORK/captured" --type 4 --len 128 --count 40 \
	--unique --timeout 15 &
sniffer=$!
PIDS+=("$sniffer")
sleep 0.5

# The traffic that must go on: pings every 50 ms until the bursts are over
# (SIGINT below; -w 60 bounds it anyway).
ip netns exec "$cli" ping -i 0.05 -w 60 -W 1 198.19.42.1 > "$WORK/ping.out" 2>&1 &
pinger=$!
PIDS+=("$pinger")
wait "$sniffer" || true
check "captured 40 transport messages from the client" \
	[ "$(wc -l < "$WORK/captured" 2>/dev/null || echo 0)" = 40 ]

burst random 1
burst truncated 2
burst badtype 3
burst badmac1 4
burst cookie 5
burst unknown 6
burst replay 7
check "the ping was still running after the last burst (all bursts hit live traffic)" \
	kill -0 "$pinger"
sleep 0.2
kill -INT "$pinger"
wait "$pinger" || true
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$WORK/ping.out")
echo "     ping during the bursts: $(grep 'packet loss' "$WORK/ping.out")"
check "ping loss during the bursts stays low: ${loss:-?}% (at most 5%)" \
	sh -c "[ -n '$loss' ] && echo '$loss <= 5' | bc | grep -qx 1"
check "the server still has the client at 198.18.42.2:$cport (garbage moved nothing)" \
	[ "$(endpoint)" = "198.18.42.2:$cport" ]

# --- a bad-mac1 flood during an iperf3 run ---------------------------------------
ip netns exec "$srv" iperf3 -s -1 -B 198.19.42.1 -p 5201 > /dev/null 2>&1 &
PIDS+=($!)
wait_for 5 sh -c "ip netns exec $srv ss -ltnH 'sport = :5201' | grep -q ."
ip netns exec "$cli" timeout 20 iperf3 -c 198.19.42.1 -p 5201 -t 3 > "$WORK/iperf.out" 2>&1 &
iperf=$!
PIDS+=("$iperf")
sleep 0.5
snap "$WORK/before"
ip netns exec "$atk" python3 "$WORK/garbage.py" badmac1 6000 8 > "$WORK/expect"
snap "$WORK/after"
check "iperf3 through the tunnel completed during a flood of 6000 bad-mac1 handshakes" wait "$iperf"
echo "     iperf3: $(grep -E 'receiver$' "$WORK/iperf.out" | tr -s ' ')"
echo "     bad_mac1 drops during it: $(($(get "$WORK/after" drop_bad_mac1) - $(get "$WORK/before" drop_bad_mac1)))"

check "afterwards the client pings the server" ip netns exec "$cli" ping -c 5 -i 0.1 -W 2 198.19.42.1
check "afterwards the server pings the client" ip netns exec "$srv" ping -c 5 -i 0.1 -W 2 198.19.42.2
check "the server daemon never restarted (pid $srv_pid)" kill -0 "$srv_pid"
snap "$WORK/after"
check "one handshake for all of this" [ "$(get "$WORK/after" handshakes_answered)" = 1 ]
echo "     server: $(ip netns exec "$srv" "$VPND" show ${SRV} | grep 'drops:' | sed 's/^ *//')"
finish
