#!/bin/bash
# vpnd against the real wireguard-go, one fresh pair of namespaces per case.
#
#   [ns aN] vpnd "wioNv"                             [ns bN] wireguard-go "wioNg"
#     198.19.N.1/24, 2001:db8:N::1/64                  198.19.N.2/24, 2001:db8:N::2/64
#     veth0 198.18.N.1/24 ------- UDP 51820 -------- veth0 198.18.N.2/24
#
#   pair 1: vpnd initiates,        no PresharedKey   (+ iperf3 TCP 3 s each way,
#                                  and two sha256-checked transfers at once
#                                  wireguard-go -> vpnd)
#   pair 2: vpnd initiates,        PresharedKey
#   pair 3: wireguard-go initiates, no PresharedKey
#   pair 4: wireguard-go initiates, PresharedKey
#   pair 5: PresharedKeys differ: no handshake, no traffic
#
# vpnd is started with `vpnd up CONF`; wireguard-go with wggo_up and
# configured with `wg set` / `ip addr` / `ip link set up`. Only the initiator
# knows the other's endpoint: the responder must learn it from the handshake.
set -e
. "$(dirname "$0")/lib.sh"

# The wireguard-go side of pair N: wggo_side N ENDPOINT|"" PSKFILE|"" NS
wggo_side() {
	local n=$1 ep=$2 psk=$3 ns=$4 ifname=$(ifname wio$1g)
	local args=(peer "$kv_pub" allowed-ips "198.19.$n.1/32,2001:db8:$n::1/128")
	[ -n "$ep" ] && args+=(endpoint "$ep")
	[ -n "$psk" ] && args+=(preshared-key "$psk")
	wggo_up "$ns" "$ifname"
	echo "$kg_priv" > "$WORK/g$n.key"
	ip netns exec "$ns" wg set "$ifname" private-key "$WORK/g$n.key" listen-port 51820 "${args[@]}"
	ip -n "$ns" addr add "198.19.$n.2/24" dev "$ifname"
	ip -n "$ns" addr add "2001:db8:$n::2/64" dev "$ifname" nodad
	ip -n "$ns" link set "$ifname" up
}

# The vpnd side of pair N: vpnd_side N ENDPOINT|"" PSK-BASE64|"" NS
vpnd_side() {
	local n=$1 ep=$2 psk=$3 ns=$4
	{
		echo "[Interface]"
		echo "PrivateKey = $kv_priv"
		echo "Address = 198.19.$n.1/24, 2001:db8:$n::1/64"
		echo "ListenPort = 51820"
		echo
		echo "[Peer]"
		echo "PublicKey = $kg_pub"
		echo "AllowedIPs = 198.19.$n.2/32, 2001:db8:$n::2/128"
		[ -n "$ep" ] && echo "Endpoint = $ep"
		[ -n "$psk" ] && echo "PresharedKey = $psk"
	} > "$WORK/$(ifname wio${n}v).conf"
	chmod 600 "$WORK/$(ifname wio${n}v).conf"
	vpnd_up "$ns" "$WORK/$(ifname wio${n}v).conf"
}

ping4() { ip netns exec "$1" ping -c 3 -i 0.2 -W 2 "$2"; }
ping6() { ip netns exec "$1" ping -6 -c 3 -i 0.2 -W 2 "$2"; }

# has_handshake NS IF: every peer of IF shows a non-zero latest handshake.
has_handshake() {
	local out
	out=$(ip netns exec "$1" wg show "$2" latest-handshakes)
	echo "$out"
	[ -n "$out" ] && ! echo "$out" | awk '{ print $2 }' | grep -qx 0
}

no_handshake() {
	ip netns exec "$1" wg show "$2" latest-handshakes
	! has_handshake "$@" > /dev/null
}

# field_is NS IF WHAT VALUE: `wg show IF WHAT` prints "<peer>\tVALUE" once.
field_is() {
	local out
	out=$(ip netns exec "$1" wg show "$2" "$3")
	echo "$out"
	[ "$(echo "$out" | cut -f2)" = "$4" ]
}

transfer_nonzero() {
	local out
	out=$(ip netns exec "$1" wg show "$2" transfer)
	echo "$out"
	echo "$out" | awk '{ exit !($2 > 0 && $3 > 0) }'
}

# iperf_run CLIENT-NS SERVER-IP LABEL [-R]: 3 s of TCP; records the receiver's rate.
iperf_run() {
	local client_ns=$1 server_ip=$2 what=$3 reverse=$4 out
	out=$(ip netns exec "$client_ns" iperf3 -c "$server_ip" -t 3 -f m $reverse 2>&1) || {
		echo "$out"; return 1; }
	echo "$out" | grep -E 'sender|receiver'
	echo "iperf3 $what: $(echo "$out" | awk '/receiver/ { print $(NF-2), $(NF-1) }')" >> "$WORK/numbers"
}

# pair N INITIATOR(vpnd|wggo) PSK(yes|no|mismatch)
pair() {
	local n=$1 init=$2 psk=$3 na nb psk_file="" psk_b64="" vif=$(ifname wio$1v) gif=$(ifname wio$1g)
	local vep="" gep=""
	ns_new "a$n"; ns_new "b$n"
	eval "na=\$a$n nb=\$b$n"
	veth "$na" "198.18.$n.1/24" "$nb" "198.18.$n.2/24"
	keypair kv; keypair kg
	if [ "$psk" != no ]; then
		psk_b64=$("$VPND" genpsk)
		psk_file=$WORK/psk$n
		if [ "$psk" = mismatch ]; then "$VPND" genpsk > "$psk_file"; else echo "$psk_b64" > "$psk_file"; fi
	fi
	if [ "$init" = vpnd ]; then vep=198.18.$n.2:51820; else gep=198.18.$n.1:51820; fi
	echo "--- pair $n: $init initiates, psk $psk"
	wggo_side "$n" "$gep" "$psk_file" "$nb"
	vpnd_side "$n" "$vep" "$psk_b64" "$na"

	if [ "$psk" = mismatch ]; then
		check "pair $n: differing PresharedKeys: no ping" \
			sh -c "! ip netns exec $na ping -c 2 -i 0.3 -W 1 198.19.$n.2"
		check "pair $n: differing PresharedKeys: no handshake on vpnd" no_handshake "$na" "$vif"
		check "pair $n: differing PresharedKeys: no handshake on wireguard-go" no_handshake "$nb" "$gif"
		return
	fi

	if [ "$init" = vpnd ]; then
		check "pair $n: ping vpnd -> wireguard-go (IPv4, vpnd initiates)" ping4 "$na" "198.19.$n.2"
		check "pair $n: wireguard-go learned vpnd's endpoint" \
			field_is "$nb" "$gif" endpoints "198.18.$n.1:51820"
		check "pair $n: ping wireguard-go -> vpnd (IPv4)" ping4 "$nb" "198.19.$n.1"
	else
		check "pair $n: ping wireguard-go -> vpnd (IPv4, wireguard-go initiates)" ping4 "$nb" "198.19.$n.1"
		check "pair $n: vpnd learned wireguard-go's endpoint" \
			field_is "$na" "$vif" endpoints "198.18.$n.2:51820"
		check "pair $n: ping vpnd -> wireguard-go (IPv4)" ping4 "$na" "198.19.$n.2"
	fi
	check "pair $n: ping vpnd -> wireguard-go (IPv6 inside)" ping6 "$na" "2001:db8:$n::2"
	check "pair $n: ping wireguard-go -> vpnd (IPv6 inside)" ping6 "$nb" "2001:db8:$n::1"
	check "pair $n: wg show on vpnd shows a latest handshake" has_handshake "$na" "$vif"
	check "pair $n: wg show on wireguard-go shows a latest handshake" has_handshake "$nb" "$gif"
	check "pair $n: transfer counted both ways on vpnd" transfer_nonzero "$na" "$vif"
	check "pair $n: transfer counted both ways on wireguard-go" transfer_nonzero "$nb" "$gif"
	if [ "$psk" = yes ]; then
		check "pair $n: vpnd reports the preshared key" field_is "$na" "$vif" preshared-keys "$psk_b64"
		check "pair $n: wireguard-go reports the preshared key" field_is "$nb" "$gif" preshared-keys "$psk_b64"
	else
		check "pair $n: no preshared key on vpnd" field_is "$na" "$vif" preshared-keys "(none)"
	fi
	if [ "$n" = 1 ]; then
		ip netns exec "$nb" iperf3 -s -B "198.19.$n.2" > "$WORK/iperf-server.log" 2>&1 &
		local spid=$!
		PIDS+=("$spid")
		wait_for 5 sh -c "ip netns exec $nb ss -ltn | grep -q 198.19.$n.2:5201"
		check "pair $n: iperf3 TCP 3 s vpnd -> wireguard-go" \
			iperf_run "$na" "198.19.$n.2" "vpnd -> wireguard-go" ""
		check "pair $n: iperf3 TCP 3 s wireguard-go -> vpnd" \
			iperf_run "$na" "198.19.$n.2" "wireguard-go -> vpnd" -R
		kill "$spid" 2>/dev/null || true
		head -c 16M /dev/urandom > "$WORK/blob"
		check "pair $n: 16 MiB twice at once wireguard-go -> vpnd (IPv4 and IPv6 inside), sha256 equal" \
			sha_two "$nb" "$na" "198.19.$n.1" "2001:db8:$n::1" 7001
		cat "$WORK/numbers"
	fi
}

pair 1 vpnd no
pair 2 vpnd yes
pair 3 wggo no
pair 4 wggo yes
pair 5 vpnd mismatch
echo "--- wg show on both sides of pair 4"
ip netns exec "$a4" wg show "$(ifname wio4v)" | sed 's/^/    /'
ip netns exec "$b4" wg show "$(ifname wio4g)" | sed 's/^/    /'
echo "--- throughput (over veth, informational only)"
cat "$WORK/numbers"
finish
