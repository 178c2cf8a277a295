#!/bin/bash
# The real wg(8) and wg-quick(8) against vpnd over the cross-platform UAPI.
#
#   part 1: wg show / showconf / set / setconf / addconf / syncconf on `vpnd up`
#
#   [ns a] vpnd up "wita"                               [ns b] vpnd up "witb"
#     198.19.10.1/24, 2001:db8:10::1/64                   198.19.10.2/24, 2001:db8:10::2/64
#     veth0 198.18.10.1/24 -------- UDP 51820 -------- veth0 198.18.10.2/24
#
#   part 2: bare daemons configured only through wg + ip, one wireguard-go hub
#
#   [ns c] vpnd daemon -f "witc"                        [ns d] wireguard-go "witg"
#     198.19.11.1/24, 2001:db8:11::1/64                   198.19.11.2/24, 2001:db8:11::2/64
#     veth0 198.18.11.1/24 -------- UDP 51820 -------- veth0 198.18.11.2/24
#                                                        veth1 198.18.12.2/24
#   [ns e] wg-quick up wiq.conf (then wiw.conf)               |
#     via $WORK/vpnd-daemon -> vpnd (then                     |
#     scripts/vpnd-daemon-wrapper)                            |
#     198.19.11.3/24                                          |
#     veth0 198.18.12.1/24 ----------- UDP 51820 -------------+
#
# witc, wiq and wiw initiate; witg knows no endpoints and learns them.
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname wita) IFB=$(ifname witb) IFC=$(ifname witc) IFG=$(ifname witg) IFQ=$(ifname wiq) IFW=$(ifname wiw)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

ns_new a; ns_new b; ns_new c; ns_new d; ns_new e
veth "$a" 198.18.10.1/24 "$b" 198.18.10.2/24
veth "$c" 198.18.11.1/24 "$d" 198.18.11.2/24
veth "$e" 198.18.12.1/24 "$d" 198.18.12.2/24 veth0 veth1
keypair ka; keypair kb; keypair kc; keypair kg; keypair ke
keypair kn; keypair kx; keypair ky; keypair kz; keypair kp

# --- helpers ----------------------------------------------------------------

wgn() { local ns=$1; shift; ip netns exec "$ns" wg "$@"; }
ping4() { ip netns exec "$1" ping -c 3 -i 0.2 -W 2 "$2"; }

# wg_is NS WG-ARGS... -- EXPECTED: the output of `wg ARGS` is exactly EXPECTED.
wg_is() {
	local ns=$1 args=() out
	shift
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	out=$(wgn "$ns" "${args[@]}")
	echo "got:    $out"
	echo "wanted: $2"
	[ "$out" = "$2" ]
}

# has_line FILE LINE: FILE holds LINE (whole line, fixed string).
has_line() { cat "$1"; grep -qxF -- "$2" "$1"; }

# field FILE LINENO FIELDNO (tab-separated)
field() { sed -n "$2p" "$1" | cut -f"$3"; }

# gone PID: no such process, or only a zombie left.
gone() { local s; s=$(ps -o stat= -p "$1") || return 0; [[ $s == Z* ]]; }

# dump_peer NS IF KEY FIELDNO: one field of KEY's line in `wg show IF dump`.
dump_peer() { wgn "$1" show "$2" dump | awk -F'\t' -v k="$3" -v f="$4" '$1 == k { print $f }'; }

# --- part 1: wg against `vpnd up` ----------------------------------------------

cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.10.1/24, 2001:db8:10::1/64
ListenPort = 51820

[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.10.2/32, 2001:db8:10::2/128
Endpoint = 198.18.10.2:51820
EOC
cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.10.2/24, 2001:db8:10::2/64
ListenPort = 51820

[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.10.1/32, 2001:db8:10::1/128
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$a" "$WORK/${IFA}.conf"
vpnd_up "$b" "$WORK/${IFB}.conf"
check "ping a -> b through vpnd (for a handshake and transfer)" ping4 "$a" 198.19.10.2

# wg show IF (the human format)
wgn "$a" show ${IFA} > "$WORK/show.out"
sed 's/^/    /' "$WORK/show.out"
show_has() { grep -qE "$1" "$WORK/show.out"; }
check "wg show: interface line" show_has "^interface: ${IFA}$"
check "wg show: public key" show_has "^  public key: ${ka_pub//+/\\+}$"
check "wg show: private key hidden" show_has "^  private key: \(hidden\)$"
check "wg show: listening port" show_has "^  listening port: 51820$"
check "wg show: peer" show_has "^peer: ${kb_pub//+/\\+}$"
check "wg show: endpoint" show_has "^  endpoint: 198\.18\.10\.2:51820$"
check "wg show: allowed ips, in config order" \
	show_has "^  allowed ips: 198\.19\.10\.2/32, 2001:db8:10::2/128$"
check "wg show: latest handshake" show_has "^  latest handshake: [0-9]+ seconds? ago$|^  latest handshake: Now$"
check "wg show: transfer" show_has "^  transfer: [0-9.]+ [KMG]?i?B received, [0-9.]+ [KMG]?i?B sent$"

# wg show IF dump
wgn "$a" show ${IFA} dump > "$WORK/dump.out"
cat "$WORK/dump.out"
now=$(date +%s)
check "dump: two lines (interface, one peer)" test "$(wc -l < "$WORK/dump.out")" -eq 2
check "dump: private key" test "$(field "$WORK/dump.out" 1 1)" = "$ka_priv"
check "dump: public key" test "$(field "$WORK/dump.out" 1 2)" = "$ka_pub"
check "dump: listen port" test "$(field "$WORK/dump.out" 1 3)" = 51820
check "dump: fwmark off" test "$(field "$WORK/dump.out" 1 4)" = off
check "dump: peer public key" test "$(field "$WORK/dump.out" 2 1)" = "$kb_pub"
check "dump: no preshared key" test "$(field "$WORK/dump.out" 2 2)" = "(none)"
check "dump: endpoint" test "$(field "$WORK/dump.out" 2 3)" = 198.18.10.2:51820
check "dump: allowed ips" test "$(field "$WORK/dump.out" 2 4)" = "198.19.10.2/32,2001:db8:10::2/128"
hs=$(field "$WORK/dump.out" 2 5)
check "dump: latest handshake within the last minute ($hs, now $now)" \
	test "$hs" -gt $((now - 60)) -a "$hs" -le $((now + 1))
check "dump: rx bytes > 0" test "$(field "$WORK/dump.out" 2 6)" -gt 0
check "dump: tx bytes > 0" test "$(field "$WORK/dump.out" 2 7)" -gt 0
check "dump: persistent keepalive off" test "$(field "$WORK/dump.out" 2 8)" = off

# wg showconf IF: holds the secrets and parses back (into a bare vpnd daemon).
wgn "$a" showconf ${IFA} > "$WORK/showconf.out"
check "showconf: [Interface] with the private key" has_line "$WORK/showconf.out" "PrivateKey = $ka_priv"
check "showconf: listen port" has_line "$WORK/showconf.out" "ListenPort = 51820"
check "showconf: the peer" has_line "$WORK/showconf.out" "PublicKey = $kb_pub"
check "showconf: allowed ips" has_line "$WORK/showconf.out" "AllowedIPs = 198.19.10.2/32, 2001:db8:10::2/128"
check "showconf: endpoint" has_line "$WORK/showconf.out" "Endpoint = 198.18.10.2:51820"

ip netns exec "$c" env VPND_LOG="$WORK/${IFC}.log" "$VPND" daemon -f ${IFC} > "$WORK/${IFC}.out" 2>&1 &
witc_pid=$!
PIDS+=("$witc_pid")
check "vpnd daemon -f ${IFC}: control socket appears" wait_for 5 test -S /var/run/wireguard/${IFC}.sock
check "vpnd daemon -f ${IFC}: bare interface exists, down" \
	sh -c "ip -n $c link show ${IFC} && ! ip -n $c link show ${IFC} | grep -q ',UP'"
check "wg setconf accepts wg showconf's output" wgn "$c" setconf ${IFC} "$WORK/showconf.out"
wgn "$c" showconf ${IFC} > "$WORK/showconf2.out"
check "showconf after setconf is identical" diff "$WORK/showconf.out" "$WORK/showconf2.out"

# wg set: add and remove a peer
check "wg set IF peer NEW allowed-ips adds a peer" \
	wgn "$a" set ${IFA} peer "$kn_pub" allowed-ips 198.19.9.0/24
check "  ... wg show IF peers lists both" wg_is "$a" show ${IFA} peers -- "$kb_pub
$kn_pub"
check "  ... with its allowed ips" test "$(dump_peer "$a" ${IFA} "$kn_pub" 4)" = 198.19.9.0/24
check "  ... and no endpoint" test "$(dump_peer "$a" ${IFA} "$kn_pub" 3)" = "(none)"
check "wg set IF peer KEY remove" wgn "$a" set ${IFA} peer "$kn_pub" remove
check "  ... the peer is gone" wg_is "$a" show ${IFA} peers -- "$kb_pub"
check "  ... and so are its allowed ips" wg_is "$a" show ${IFA} allowed-ips -- \
	"$kb_pub	198.19.10.2/32 2001:db8:10::2/128"

# wg set: listen port
check "wg set IF listen-port 51821" wgn "$a" set ${IFA} listen-port 51821
check "  ... wg show IF listen-port" wg_is "$a" show ${IFA} listen-port -- 51821
check "  ... the UDP socket moved" sh -c "ip netns exec $a ss -Huln | grep -q ':51821 ' &&
	! ip netns exec $a ss -Huln | grep -q ':51820 '"
check "  ... the tunnel still carries a ping" ping4 "$a" 198.19.10.2
check "  ... and the peer learned the new port" wg_is "$b" show ${IFB} endpoints -- \
	"$ka_pub	198.18.10.1:51821"
# A port in use: refused with EADDRINUSE (wg prints its strerror), old port kept.
ip netns exec "$a" python3 -c 'import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 51900))
time.sleep(30)' &
blocker=$!
PIDS+=("$blocker")
wait_for 5 sh -c "ip netns exec $a ss -Huln | grep -q ':51900 '"
busy_port() {
	local out
	if out=$(wgn "$a" set ${IFA} listen-port 51900 2>&1); then return 1; fi
	echo "$out"
	echo "$out" | grep -q "Address already in use"
}
check "wg set IF listen-port BUSY fails with 'Address already in use'" busy_port
check "  ... and the old port stays" wg_is "$a" show ${IFA} listen-port -- 51821
kill "$blocker" 2>/dev/null || true

# wg set: keepalive, preshared key
check "wg set IF peer K persistent-keepalive 25" wgn "$a" set ${IFA} peer "$kb_pub" persistent-keepalive 25
check "  ... wg show IF persistent-keepalive" wg_is "$a" show ${IFA} persistent-keepalive -- "$kb_pub	25"
check "  ... dump field 8" test "$(dump_peer "$a" ${IFA} "$kb_pub" 8)" = 25
"$VPND" genpsk > "$WORK/psk"
check "wg set IF peer K preshared-key FILE" wgn "$a" set ${IFA} peer "$kb_pub" preshared-key "$WORK/psk"
check "  ... wg show IF preshared-keys" wg_is "$a" show ${IFA} preshared-keys -- "$kb_pub	$(cat "$WORK/psk")"
check "wg set IF peer K preshared-key /dev/null clears it" \
	wgn "$a" set ${IFA} peer "$kb_pub" preshared-key /dev/null
check "  ... wg show IF preshared-keys" wg_is "$a" show ${IFA} preshared-keys -- "$kb_pub	(none)"
check "wg set IF peer K persistent-keepalive off" wgn "$a" set ${IFA} peer "$kb_pub" persistent-keepalive off
check "  ... wg show IF persistent-keepalive" wg_is "$a" show ${IFA} persistent-keepalive -- "$kb_pub	off"

# wg addconf: adds a peer, touches nothing else.
hs_before=$(dump_peer "$a" ${IFA} "$kb_pub" 5)
cat > "$WORK/add.conf" <<EOC
[Peer]
PublicKey = $ky_pub
AllowedIPs = 198.19.20.0/24
EOC
check "wg addconf" wgn "$a" addconf ${IFA} "$WORK/add.conf"
check "  ... both peers" wg_is "$a" show ${IFA} peers -- "$kb_pub
$ky_pub"
check "  ... the new peer's allowed ips" test "$(dump_peer "$a" ${IFA} "$ky_pub" 4)" = 198.19.20.0/24
check "  ... the old peer's handshake untouched" test "$(dump_peer "$a" ${IFA} "$kb_pub" 5)" = "$hs_before"

# wg syncconf: drops ky, adds kz, extends kb's allowed ips; kb's session lives on.
cat > "$WORK/sync.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
ListenPort = 51821

[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.10.2/32, 2001:db8:10::2/128, 198.19.30.0/24
Endpoint = 198.18.10.2:51820

[Peer]
PublicKey = $kz_pub
AllowedIPs = 198.19.31.0/24
EOC
sleep 1	# a new handshake would show as a different second
check "wg syncconf" wgn "$a" syncconf ${IFA} "$WORK/sync.conf"
check "  ... peers are kb and kz" wg_is "$a" show ${IFA} peers -- "$kb_pub
$kz_pub"
check "  ... kb's allowed ips updated" \
	test "$(dump_peer "$a" ${IFA} "$kb_pub" 4)" = "198.19.10.2/32,2001:db8:10::2/128,198.19.30.0/24"
check "  ... kz's allowed ips" test "$(dump_peer "$a" ${IFA} "$kz_pub" 4)" = 198.19.31.0/24
check "  ... the tunnel still carries a ping" ping4 "$a" 198.19.10.2
check "  ... on the same session: no new handshake (was $hs_before)" \
	test "$(dump_peer "$a" ${IFA} "$kb_pub" 5)" = "$hs_before"

# wg setconf: replaces everything.
cat > "$WORK/set.conf" <<EOC
[Interface]
PrivateKey = $kx_priv
ListenPort = 51822

[Peer]
PublicKey = $kp_pub
AllowedIPs = 198.19.40.0/24, 2001:db8:40::/48
Endpoint = [2001:db8:10::9]:51820
PersistentKeepalive = 15
EOC
check "wg setconf" wgn "$a" setconf ${IFA} "$WORK/set.conf"
check "  ... new private key" wg_is "$a" show ${IFA} private-key -- "$kx_priv"
check "  ... new public key" wg_is "$a" show ${IFA} public-key -- "$kx_pub"
check "  ... new listen port" wg_is "$a" show ${IFA} listen-port -- 51822
check "  ... only the new peer" wg_is "$a" show ${IFA} peers -- "$kp_pub"
check "  ... its allowed ips" wg_is "$a" show ${IFA} allowed-ips -- "$kp_pub	198.19.40.0/24 2001:db8:40::/48"
check "  ... its IPv6 endpoint" wg_is "$a" show ${IFA} endpoints -- "$kp_pub	[2001:db8:10::9]:51820"
check "  ... its keepalive" wg_is "$a" show ${IFA} persistent-keepalive -- "$kp_pub	15"
check "vpnd show agrees" sh -c "ip netns exec $a $VPND show ${IFA} | grep -qF '$kp_pub'"

# --- part 2: bare daemons ----------------------------------------------------------

wggo_up "$d" ${IFG}
echo "$kg_priv" > "$WORK/kg.key"
wgn "$d" set ${IFG} private-key "$WORK/kg.key" listen-port 51820 \
	peer "$kc_pub" allowed-ips 198.19.11.1/32,2001:db8:11::1/128 \
	peer "$ke_pub" allowed-ips 198.19.11.3/32
ip -n "$d" addr add 198.19.11.2/24 dev ${IFG}
ip -n "$d" addr add 2001:db8:11::2/64 dev ${IFG} nodad
ip -n "$d" link set ${IFG} up

# vpnd daemon -f, configured entirely with wg setconf + ip
cat > "$WORK/${IFC}.wg" <<EOC
[Interface]
PrivateKey = $kc_priv
ListenPort = 51820

[Peer]
PublicKey = $kg_pub
AllowedIPs = 198.19.11.2/32, 2001:db8:11::2/128
Endpoint = 198.18.11.2:51820
EOC
check "wg setconf on the bare vpnd daemon" wgn "$c" setconf ${IFC} "$WORK/${IFC}.wg"
ip -n "$c" addr add 198.19.11.1/24 dev ${IFC}
ip -n "$c" addr add 2001:db8:11::1/64 dev ${IFC} nodad
ip -n "$c" link set ${IFC} up
check "vpnd daemon -f: ping -> wireguard-go (IPv4)" ping4 "$c" 198.19.11.2
check "vpnd daemon -f: ping -> wireguard-go (IPv6)" ip netns exec "$c" ping -6 -c 3 -i 0.2 -W 2 2001:db8:11::2
check "vpnd daemon -f: wireguard-go pings back" ping4 "$d" 198.19.11.1
check "ip link del ${IFC}" ip -n "$c" link del ${IFC}
check "  ... the daemon exits" wait_for 5 gone "$witc_pid"
check "  ... with status 0" wait "$witc_pid"
check "  ... and removes its control socket" test ! -e /var/run/wireguard/${IFC}.sock

# wg-quick with vpnd as the userspace implementation (argv[0] contains "daemon").
ln -s "$VPND" "$WORK/vpnd-daemon"
cat > "$WORK/${IFQ}.conf" <<EOC
[Interface]
PrivateKey = $ke_priv
Address = 198.19.11.3/24
ListenPort = 51820

[Peer]
PublicKey = $kg_pub
AllowedIPs = 198.19.11.2/32
Endpoint = 198.18.12.2:51820
EOC
cp "$WORK/${IFQ}.conf" "$WORK/${IFW}.conf"
chmod 600 "$WORK"/*.conf

# quick_up IF IMPL: wg-quick up $WORK/IF.conf with IMPL as the userspace daemon.
quick_up() {
	ip netns exec "$e" env PATH="$(dirname "$VPND"):$PATH" \
		WG_QUICK_USERSPACE_IMPLEMENTATION="$2" wg-quick up "$WORK/$1.conf" \
		> "$WORK/$1.quick.log" 2>&1 || { cat "$WORK/$1.quick.log"; return 1; }
	cat "$WORK/$1.quick.log"
	# Track the daemon for cleanup.
	cp "/var/run/vpnd/$1.pid" "$WORK/$1.pidfile"
	grep -q "Falling back to slow userspace implementation" "$WORK/$1.quick.log"
}
quick_down() {
	local pid
	pid=$(cat "$WORK/$1.pidfile")
	ip netns exec "$e" wg-quick down "$WORK/$1.conf" 2>&1
	! ip -n "$e" link show "$1" 2>/dev/null || { echo "interface still there"; return 1; }
	wait_for 5 gone "$pid" || { echo "daemon $pid still running"; return 1; }
	rm -f "$WORK/$1.pidfile"
	test ! -e "/var/run/wireguard/$1.sock"
}
for impl in "$WORK/vpnd-daemon" "$ROOT/scripts/vpnd-daemon-wrapper"; do
	ifn=${IFQ}
	[ "$impl" = "$WORK/vpnd-daemon" ] || ifn=${IFW}
	check "wg-quick up $ifn.conf (userspace: ${impl##*/})" quick_up "$ifn" "$impl"
	check "  ... $ifn is up with its address" \
		sh -c "ip -n $e addr show $ifn | grep -q 'inet 198.19.11.3/24' && ip -n $e link show $ifn | grep -q ',UP'"
	check "  ... wg show $ifn private-key" wg_is "$e" show "$ifn" private-key -- "$ke_priv"
	check "  ... ping -> wireguard-go" ping4 "$e" 198.19.11.2
	check "  ... $ifn shows a handshake" sh -c "ip netns exec $e wg show $ifn latest-handshakes | grep -qv '	0$'"
	check "wg-quick down $ifn.conf: interface, daemon and socket gone" quick_down "$ifn"
done
wrapper_usage() {
	local out
	if out=$(PATH="$(dirname "$VPND"):$PATH" "$ROOT/scripts/vpnd-daemon-wrapper" 2>&1); then return 1; fi
	echo "$out"
	echo "$out" | grep -q "Usage: vpnd daemon"
}
check "vpnd-daemon-wrapper without arguments: usage, failure" wrapper_usage
finish
