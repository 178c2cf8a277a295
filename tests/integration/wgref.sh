#!/bin/bash
# vpnd against an independent WireGuard implementation on the wire:
# tests/tools/wgref.py (Python, python3-cryptography + hashlib, written from
# the protocol description) as the initiating peer.
#
#   [ns ref] wgref.py                           [ns srv] vpnd "wgrs-TOKEN", UDP 51820
#     peer 1: 198.19.70.2 (no psk)                198.19.70.1/24
#     peer 2: 198.19.70.3 (PresharedKey)          AllowedIPs 198.19.70.2/32 (peer 1),
#     veth0 198.18.70.2/24 ---------------------- wgr-v1 198.18.70.1/24   198.19.70.3/32 (peer 2)
#                                                 |
#   [ns atk] veth0 198.18.71.2/24 --------------- wgr-v2 198.18.71.1/24
#     hsflood -> 198.18.71.1:51820 (valid mac1, no mac2): puts vpnd under load
#
#   (a) each wgref peer: handshake, 3 ICMP echoes wgref -> vpnd's address
#       (answered by srv's kernel through the tunnel), and 3 pings from srv
#       to the peer's address, answered by wgref: data both ways, checked
#   (b) the same for peer 1 while hsflood keeps vpnd under load: vpnd answers
#       wgref's initiation with a cookie reply, wgref decrypts it, retries
#       with mac2 and gets in
#   (c) wgref probe: malformed handshake and transport messages (wrong mac1,
#       bad lengths, flipped ciphertext, unknown key, unknown index, replays)
#       go unanswered while valid controls are answered, and each lands in
#       its `get=stats` drop counter
set -e
. "$(dirname "$0")/lib.sh"

WGREF=("${PYTHON:-python3}" "$(cd "$(dirname "$0")/../tools" && pwd)/wgref.py")
FLOOD_RATE=${FLOOD_RATE:-4000}

ns_new srv; ns_new ref; ns_new atk
SRV=$(ifname wgrs)
veth "$ref" 198.18.70.2/24 "$srv" 198.18.70.1/24 veth0 wgr-v1
veth "$atk" 198.18.71.2/24 "$srv" 198.18.71.1/24 veth0 wgr-v2
keypair ks; keypair k1; keypair k2
psk2=$("$VPND" genpsk)
echo "$k1_priv" > "$WORK/k1"; echo "$k2_priv" > "$WORK/k2"; echo "$psk2" > "$WORK/psk2"
cat > "$WORK/$SRV.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.70.1/24
ListenPort = 51820

[Peer]
PublicKey = $k1_pub
AllowedIPs = 198.19.70.2/32

[Peer]
PublicKey = $k2_pub
PresharedKey = $psk2
AllowedIPs = 198.19.70.3/32
EOC
chmod 600 "$WORK"/*

# srv_stat KEY: a device-wide counter from the server's get=stats.
srv_stat() {
	printf 'get=stats\n\n' | ip netns exec "$srv" ncat -U /var/run/wireguard/$SRV.sock |
		sed -n "s/^$1=//p" | head -1
}
# field OUT KEY: a key=value from wgref's closing line.
field() { sed -n "s/^wgref: handshake=.* $2=\([0-9]*\).*/\1/p" "$WORK/$1.out"; }

# ref_peer NAME N [ARGS...]: wgref peer N in the background (peer N's key,
# address 198.19.70.(N+1)), pinging vpnd's address and answering echoes.
ref_peer() {
	local name=$1 n=$2; shift 2
	rm -f "$WORK/$name.ready"
	ip netns exec "$ref" "${WGREF[@]}" peer --endpoint 198.18.70.1:51820 \
		--private-key-file "$WORK/k$n" --peer-public-key "$ks_pub" \
		--address "198.19.70.$((n + 1))" --ping 198.19.70.1 --count 3 --answer-echo \
		--linger 4 --ready-file "$WORK/$name.ready" "$@" > "$WORK/$name.out" 2>&1 &
	REF_PID=$!
	PIDS+=("$REF_PID")
}
ref_wait() {
	local rc=0
	wait "$REF_PID" || rc=$?
	sed 's/^/  /' "$WORK/$1.out"
	return $rc
}

# both_ways NAME N: the data checks of one wgref run (see (a)).
both_ways() {
	local name=$1 n=$2 ready=0 rc=0
	wait_for 15 [ -f "$WORK/$name.ready" ] && ready=1
	check "$name: wgref completed a handshake with vpnd" [ "$ready" = 1 ]
	check "$name: vpnd -> wgref: ping 198.19.70.$((n + 1)) answered by wgref" \
		ip netns exec "$srv" ping -c 3 -i 0.2 -W 2 "198.19.70.$((n + 1))"
	ref_wait "$name" || rc=$?
	check "$name: wgref exited 0 (handshake, all its pings answered)" [ "$rc" = 0 ]
	check "$name: wgref -> vpnd: 3 echo replies checked by wgref" [ "$(field "$name" pings_ok)" = 3 ]
	check "$name: wgref answered vpnd's echo requests (>= 3)" [ "$(field "$name" echo_answered)" -ge 3 ]
	check "$name: wgref refused nothing vpnd sent" [ "$(field "$name" rejected)" = 0 ]
}

vpnd_up "$srv" "$WORK/$SRV.conf"

check "wgref selftest (its own primitives, handshake, cookie, refusals)" "${WGREF[@]}" selftest

# --- (a) handshake and data both ways, no load ------------------------------------
echo "--- (a) no load"
ref_peer a1 1
both_ways a1 1
check "a1: no cookie reply without load" [ "$(field a1 cookie_replies)" = 0 ]
ref_peer a2 2 --psk-file "$WORK/psk2"
both_ways a2 2
# Peer 2 without its PresharedKey: vpnd's response does not authenticate.
nopsk_refused() {
	local rc=0
	ip netns exec "$ref" "${WGREF[@]}" peer --endpoint 198.18.70.1:51820 --private-key-file "$WORK/k2" \
		--peer-public-key "$ks_pub" --address 198.19.70.3 --linger 0 --timeout 1 --retries 2 \
		> "$WORK/a2-nopsk.out" 2>&1 || rc=$?
	cat "$WORK/a2-nopsk.out"
	[ "$rc" != 0 ]
}
check "a2: wgref refuses vpnd's response when it lacks peer 2's PresharedKey" nopsk_refused
check "  ... because the response did not authenticate (wgref refused it)" \
	grep -q "handshake=failed.* rejected=[1-9]" "$WORK/a2-nopsk.out"
hs=$(ip netns exec "$srv" wg show "$SRV" latest-handshakes)
echo "$hs" | sed 's/^/  /'
check "vpnd shows a latest handshake for both wgref peers" \
	sh -c "[ \$(echo '$hs' | awk '\$2 > 0' | wc -l) = 2 ]"

# --- (b) under load: cookie reply, retry with mac2 ---------------------------------
echo "--- (b) under load"
cookies_before=$(srv_stat cookie_replies_sent)
ip netns exec "$atk" "$TOOLS/hsflood" -t 198.18.71.1:51820 -k "$ks_pub" -a 198.18.71.2 \
	-n 1 -s 4 -r "$FLOOD_RATE" -d 12 > "$WORK/flood.out" 2> "$WORK/flood.err" &
FLOOD_PID=$!
PIDS+=("$FLOOD_PID")
check "vpnd goes under load (hsflood $FLOOD_RATE/s)" wait_for 5 sh -c "[ \"\$(printf 'get=stats\n\n' | ip netns exec $srv ncat -U /var/run/wireguard/$SRV.sock | sed -n 's/^under_load=//p')\" = 1 ]"
ref_peer b1 1 --retries 8
both_ways b1 1
check "b1: vpnd answered wgref with a cookie reply that wgref decrypted" \
	[ "$(field b1 cookie_replies)" -ge 1 ]
check "b1: wgref's accepted initiation carried mac2" [ "$(field b1 mac2_sent)" -ge 1 ]
check "vpnd still under load after b1 got in" [ "$(srv_stat under_load)" = 1 ]
check "vpnd's cookie_replies_sent grew" [ "$(srv_stat cookie_replies_sent)" -gt "$cookies_before" ]
for _ in $(seq 100); do kill -0 "$FLOOD_PID" 2>/dev/null || break; sleep 0.2; done
kill "$FLOOD_PID" 2>/dev/null || true
wait "$FLOOD_PID" || true
echo "  $(cat "$WORK/flood.out")"

# --- (c) malformed variants ----------------------------------------------------------
echo "--- (c) malformed"
check "vpnd leaves under-load mode after the flood" wait_for 5 sh -c "[ \"\$(printf 'get=stats\n\n' | ip netns exec $srv ncat -U /var/run/wireguard/$SRV.sock | sed -n 's/^under_load=//p')\" = 0 ]"
KINDS="short bad_mac1 bad_handshake bad_decrypt unknown_index replay"
for k in $KINDS; do eval "before_$k=$(srv_stat "drop_$k")"; done
rc=0
ip netns exec "$ref" "${WGREF[@]}" probe --endpoint 198.18.70.1:51820 --private-key-file "$WORK/k1" \
	--peer-public-key "$ks_pub" --address 198.19.70.2 --ping 198.19.70.1 \
	> "$WORK/probe.out" 2>&1 || rc=$?
sed 's/^/  /' "$WORK/probe.out"
check "wgref probe: every malformed variant unanswered, every control answered" [ "$rc" = 0 ]
# What probe sends: 147- and 149-byte initiations and a 31-byte transport
# (short); one wrong mac1; flipped static, flipped timestamp, unknown key and
# a replayed initiation (bad_handshake); one flipped transport (bad_decrypt),
# one for an unknown index, one replayed transport.
expect() {
	local got
	eval "got=\$(( \$(srv_stat drop_$1) - before_$1 ))"
	check "vpnd counted $2 drop_$1 from the probe (got $got)" [ "$got" = "$2" ]
}
expect short 3
expect bad_mac1 1
expect bad_handshake 4
expect bad_decrypt 1
expect unknown_index 1
expect replay 1
check "the vpnd daemon is still running" kill -0 "$(cat "$WORK/$SRV.pidfile")"
finish
