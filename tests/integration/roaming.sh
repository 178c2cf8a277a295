#!/bin/bash
# Roaming: the server has no Endpoint for the client and learns it only from
# the client's authenticated packets. When the client's underlay address
# changes (a new address on the same link, then a second link, then an IPv6
# underlay and back, then a NAT rebinding its source port), traffic resumes
# without restarting anything and the server's endpoint follows; a replayed
# or forged copy of the client's packets sent from elsewhere does not move it.
#
#   [ns cli]                                                [ns srv]
#   hsr-cli 198.19.0.2/24                                   hsr-srv 198.19.0.1/24
#           2001:db8:19::2/64                                       2001:db8:19::1/64
#                                                           UDP 51820, no Endpoint for cli
#   veth0 198.18.5.2/24 ----------- link 1 ---------------- veth0 198.18.5.1/24
#         (then 198.18.5.20/24, old one deleted)
#   veth1 198.18.6.2/24 ----------- link 2 ---------------- hsr-v2 198.18.6.1/24
#         2001:db8:6::2/64    (added later; veth0 goes down)        2001:db8:6::1/64
#         route 198.18.5.0/24 via 198.18.6.1
#         finally an nft snat on veth1: UDP source port -> 40000
set -e
. "$(dirname "$0")/lib.sh"
SRV=$(ifname hsr-srv) CLI=$(ifname hsr-cli)

ns_new srv; ns_new cli
veth "$srv" 198.18.5.1/24 "$cli" 198.18.5.2/24
keypair ks; keypair kc
cat > "$WORK/${SRV}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.0.1/24, 2001:db8:19::1/64
ListenPort = 51820

[Peer]
PublicKey = $kc_pub
AllowedIPs = 198.19.0.2/32, 2001:db8:19::2/128
EOC
cat > "$WORK/${CLI}.conf" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.0.2/24, 2001:db8:19::2/64

[Peer]
PublicKey = $ks_pub
AllowedIPs = 198.19.0.0/24, 2001:db8:19::/64
Endpoint = 198.18.5.1:51820
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$srv" "$WORK/${SRV}.conf"
vpnd_up "$cli" "$WORK/${CLI}.conf"
srv_pid=$(cat "$WORK/${SRV}.pidfile"); cli_pid=$(cat "$WORK/${CLI}.pidfile")
cport=$(ip netns exec "$cli" wg show ${CLI} listen-port)

# The server's endpoint for the client, as `wg show NAME endpoints` prints it.
endpoint() { ip netns exec "$srv" wg show ${SRV} endpoints | awk -v k="$kc_pub" '$1 == k { print $2 }'; }
# A counter from vpnd's get=stats UAPI request on the server: KEY.
srv_stat() {
	printf 'get=stats\n\n' | ip netns exec "$srv" ncat -U /var/run/wireguard/${SRV}.sock |
		sed -n "s/^$1=//p"
}

# capture IFACE TYPE MINLEN FILE: in the background, saves (as hex) the first
# WireGuard message of TYPE (1 initiation, 4 transport) longer than MINLEN
# bytes that reaches the server on IFACE (tests/tools/sniff.py); sets
# $sniffer to its pid.
capture() {
	rm -f "$4" "$4.ready"
	ip netns exec "$srv" /usr/bin/python3 "$SNIFF" "$1" "$4" --type "$2" --min-len "$3" \
		--ready "$4.ready" --timeout 10 &
	sniffer=$!
	PIDS+=($sniffer)
	wait_for 5 test -e "$4.ready"
}

# --- the server knows no endpoint until the client speaks ---------------------
check "server has no endpoint for the client at start" [ "$(endpoint)" = "(none)" ]
check "vpnd show on the server prints no endpoint line" \
	sh -c "! ip netns exec $srv $VPND show ${SRV} | grep -q 'endpoint:'"
before=$(srv_stat drop_no_endpoint)
check "the server cannot reach the client first" \
	sh -c "! ip netns exec $srv ping -c 2 -i 0.2 -W 1 198.19.0.2"
check "... and counts no_endpoint drops ($before -> $(srv_stat drop_no_endpoint))" \
	[ "$(srv_stat drop_no_endpoint)" -gt "$before" ]

capture veth0 1 0 "$WORK/initiation"
check "client pings the server" ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.0.1
wait "$sniffer" || true
check "captured the client's handshake initiation" test -s "$WORK/initiation"
check "server learnt the client's endpoint from its packets: 198.18.5.2:$cport" \
	[ "$(endpoint)" = "198.18.5.2:$cport" ]
check "now the server reaches the client" ip netns exec "$srv" ping -c 2 -i 0.2 -W 2 198.19.0.2

# --- roam 1: new address on the same link, old one deleted --------------------
ip netns exec "$cli" sysctl -qw net.ipv4.conf.veth0.promote_secondaries=1
ip -n "$cli" addr add 198.18.5.20/24 dev veth0
ip -n "$cli" addr del 198.18.5.2/24 dev veth0
check "client's underlay address is now only 198.18.5.20" \
	sh -c "ip -n $cli -4 -o addr show dev veth0 | grep -q 198.18.5.20/24 &&
	       ! ip -n $cli -4 -o addr show dev veth0 | grep -q 198.18.5.2/"
check "until the client speaks, the server still has the old endpoint" \
	[ "$(endpoint)" = "198.18.5.2:$cport" ]
check "client pings the server from its new address (IPv4 inside)" \
	ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.0.1
check "client pings the server from its new address (IPv6 inside)" \
	ip netns exec "$cli" ping -6 -c 3 -i 0.2 -W 2 2001:db8:19::1
check "server's endpoint followed: 198.18.5.20:$cport" [ "$(endpoint)" = "198.18.5.20:$cport" ]
check "vpnd show on the server shows the new endpoint" \
	sh -c "ip netns exec $srv $VPND show ${SRV} | grep -qx '  endpoint: 198.18.5.20:$cport'"
check "server reaches the client at its new address" \
	ip netns exec "$srv" ping -c 2 -i 0.2 -W 2 198.19.0.2

# --- roam 2: the client moves behind a second link ----------------------------
veth "$srv" 198.18.6.1/24 "$cli" 198.18.6.2/24 hsr-v2 veth1
ip -n "$srv" addr add 2001:db8:6::1/64 dev hsr-v2 nodad
ip -n "$cli" addr add 2001:db8:6::2/64 dev veth1 nodad
ip -n "$cli" link set veth0 down
ip -n "$cli" route add 198.18.5.0/24 via 198.18.6.1 dev veth1
check "client pings the server over link 2" ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.0.1
check "server's endpoint followed: 198.18.6.2:$cport" [ "$(endpoint)" = "198.18.6.2:$cport" ]
check "server reaches the client over link 2" ip netns exec "$srv" ping -c 2 -i 0.2 -W 2 198.19.0.2

# --- roam 3: IPv6 underlay, then back to IPv4 ---------------------------------
ip netns exec "$cli" wg set ${CLI} peer "$ks_pub" endpoint "[2001:db8:6::1]:51820"
check "client pings the server over an IPv6 underlay" \
	ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.0.1
check "server's endpoint followed: [2001:db8:6::2]:$cport" \
	[ "$(endpoint)" = "[2001:db8:6::2]:$cport" ]
check "server reaches the client over IPv6" \
	ip netns exec "$srv" ping -6 -c 2 -i 0.2 -W 2 2001:db8:19::2
ip netns exec "$cli" wg set ${CLI} peer "$ks_pub" endpoint "198.18.6.1:51820"
check "client pings the server over IPv4 again" \
	ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.0.1
check "server's endpoint followed back: 198.18.6.2:$cport" [ "$(endpoint)" = "198.18.6.2:$cport" ]
check "server reaches the client over IPv4 again" \
	ip netns exec "$srv" ping -c 2 -i 0.2 -W 2 198.19.0.2

# --- only authenticated, fresh packets move the endpoint ----------------------
# Send again, from another address (the server's own 198.18.6.1, a local
# source), the client's first handshake initiation (captured above) and one
# of its transport messages (captured now), and a forged copy of the latter
# (counter far ahead, one byte of the tag flipped): none may move the
# endpoint (TAI64N timestamp, replay window, AEAD), nor the forgery move the
# replay window.
capture hsr-v2 4 32 "$WORK/captured"
ip netns exec "$cli" ping -c 2 -i 0.2 -W 2 198.19.0.1 > /dev/null || true
wait "$sniffer" || true
check "captured a transport message from the client" test -s "$WORK/captured"
replay=$(srv_stat drop_replay); bad=$(srv_stat drop_bad_decrypt); bad_hs=$(srv_stat drop_bad_handshake)
ip netns exec "$srv" /usr/bin/python3 - "$WORK/captured" "$WORK/initiation" <<'EOP'
import socket, sys
pkt = bytes.fromhex(open(sys.argv[1]).read())
init = bytes.fromhex(open(sys.argv[2]).read())
# A forgery: a counter far ahead of the window (passes the cheap replay
# pre-check, must fail the AEAD and leave the window where it was).
bad = bytearray(pkt)
bad[8:16] = (int.from_bytes(pkt[8:16], "little") + 1000000).to_bytes(8, "little")
bad[-1] ^= 1
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.6.1", 0))
s.sendto(init, ("198.18.6.1", 51820))
s.sendto(pkt, ("198.18.6.1", 51820))
s.sendto(bytes(bad), ("198.18.6.1", 51820))
EOP
sleep 0.3
check "the replayed initiation was dropped (old timestamp) as bad_handshake" \
	[ "$(srv_stat drop_bad_handshake)" -eq $((bad_hs + 1)) ]
check "the replayed transport message was dropped as a replay" \
	[ "$(srv_stat drop_replay)" -eq $((replay + 1)) ]
check "the forged message was dropped as bad_decrypt" \
	[ "$(srv_stat drop_bad_decrypt)" -eq $((bad + 1)) ]
check "none moved the endpoint: still 198.18.6.2:$cport" [ "$(endpoint)" = "198.18.6.2:$cport" ]
check "server still reaches the client (the forgery did not move the window)" \
	ip netns exec "$srv" ping -c 2 -i 0.2 -W 2 198.19.0.2
check "no replay drops from the client's own packets after that" \
	[ "$(srv_stat drop_replay)" -eq $((replay + 1)) ]

# --- roam 4: a NAT in the client's namespace rebinds its source port -----------
natport=$((cport == 40000 ? 40001 : 40000))
ip netns exec "$cli" nft -f - <<EON
table ip hs_roam_nat {
	chain post {
		type nat hook postrouting priority 100;
		oifname "veth1" udp dport 51820 snat to 198.18.6.2:$natport
	}
}
EON
check "client pings the server through a NAT that changed its source port" \
	ip netns exec "$cli" ping -c 3 -i 0.2 -W 2 198.19.0.1
check "server's endpoint followed the new port: 198.18.6.2:$natport" \
	[ "$(endpoint)" = "198.18.6.2:$natport" ]
check "server reaches the client through the NAT" \
	ip netns exec "$srv" ping -c 2 -i 0.2 -W 2 198.19.0.2

check "neither daemon was restarted" kill -0 "$srv_pid" "$cli_pid"
check "one handshake on the server for all of this" \
	[ "$(srv_stat handshakes_answered)" = 1 ]
finish
