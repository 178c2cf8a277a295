# Shared helpers for integration tests. Source it, then use:
#   ns_new NAME            create a namespace (deleted on exit), lo up
#   veth NS1 IP1 NS2 IP2   join two namespaces with a veth pair (IPs with /len)
#   keypair VAR            sets VAR_priv and VAR_pub
#   vpnd_up NS CONF        vpnd up in NS (daemon's pid tracked and killed on exit)
#   wggo_up NS IFNAME      wireguard-go -f in NS (pid tracked)
#   $SNIFF                 tests/tools/sniff.py: captures WireGuard messages
#   ifname BASE            prints BASE-<token>: a per-run interface name
#   pair_confs N           configs of two dual-stack peers IFA and IFB (see above the function)
#   sha_two FROM TO A4 A6 PORT  $WORK/blob sent twice at once, sha256 checked
#   hub_topology N [opts]  a server namespace and N clients, configs, vpnd up
#                          (see above the function)
#   check "what" cmd...    run cmd, count pass/fail, print a line
#   finish                 print "N passed, N failed" and exit non-zero on failure
# Namespaces are named vt-<test>-<token>-<name>. Interface names must be
# unique across namespaces and across runs, because /var/run/wireguard and
# /var/run/vpnd are shared by all of them (vpnd up NAME.conf: interface NAME,
# NAME.sock, NAME.pid): name every tunnel interface with ifname, so that
# what a killed earlier run left behind can never collide with this one.
# Test addresses: 198.18.0.0/15 and 2001:db8::/32 only.
#
# Under tests/run-integration.sh, VPND_TEST_TOKEN is the run's token and
# VPND_TEST_STATE a directory where this file records what the runner must
# sweep if the test dies without its cleanup (kill -9 on timeout): the WORK
# directory and each namespace with its inode.

VPND=${VPND:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/vpnd}
TOOLS=${TOOLS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/tools}
SNIFF=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)/sniff.py	# see its --help
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/vpnd-$TEST_NAME.XXXXXX")
[ -n "$VPND_TEST_STATE" ] && echo "$WORK" > "$VPND_TEST_STATE/work"

# The run's token: 4 characters of [a-z0-9], not used by anything present.
new_token() {
	local t c
	while :; do
		t=""
		for c in $(od -An -N4 -tu1 /dev/urandom); do
			t=$t${TOKEN_CHARS:$((c % 36)):1}
		done
		compgen -G "/var/run/wireguard/*-$t.sock" > /dev/null ||
			compgen -G "/var/run/vpnd/*-$t.pid" > /dev/null ||
			compgen -G "/var/run/netns/vt-*-$t-*" > /dev/null ||
			break
	done
	echo "$t"
}
TOKEN_CHARS=abcdefghijklmnopqrstuvwxyz0123456789
TOKEN=${VPND_TEST_TOKEN:-$(new_token)}
NAMESPACES=()
PIDS=()
PASS=0
FAIL=0

cleanup() {
	set +e
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for f in "$WORK"/*.pidfile; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	# A daemon that came up where the test expected a refusal was never
	# recorded: every interface of this run carries the token in its name.
	for f in /var/run/vpnd/*-"$TOKEN".pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	sleep 0.2
	for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
	for f in "$WORK"/*.pidfile; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns_new() {
	local ns="vt-${TEST_NAME:0:8}-$TOKEN-$1"
	ip netns add "$ns"
	NAMESPACES+=("$ns")
	[ -n "$VPND_TEST_STATE" ] && echo "$ns $(stat -L -c %i "/var/run/netns/$ns")" >> "$VPND_TEST_STATE/netns"
	ip -n "$ns" link set lo up
	eval "$1=$ns"
}

# veth NS1 ADDR1 NS2 ADDR2 [IF1 [IF2]]
veth() {
	local if1=${5:-veth0} if2=${6:-veth0}
	ip link add "$if1" netns "$1" type veth peer name "$if2" netns "$3"
	ip -n "$1" addr add "$2" dev "$if1" nodad 2>/dev/null || ip -n "$1" addr add "$2" dev "$if1"
	ip -n "$3" addr add "$4" dev "$if2" nodad 2>/dev/null || ip -n "$3" addr add "$4" dev "$if2"
	ip -n "$1" link set "$if1" up
	ip -n "$3" link set "$if2" up
}

# ifname BASE: BASE-<token>, the run's name for interface BASE (at most 15
# characters: BASE at most 10).
ifname() {
	local n="$1-$TOKEN"
	if ! [[ $n =~ ^[a-zA-Z0-9_=+.-]{1,15}$ ]]; then
		echo "ifname: '$n' is not a valid interface name (BASE at most 10 characters)" >&2
		return 1
	fi
	echo "$n"
}

keypair() {
	local priv
	priv=$("$VPND" genkey 2>/dev/null)
	eval "$1_priv=$priv"
	eval "$1_pub=$(echo "$priv" | "$VPND" pubkey)"
}

# vpnd_up NS CONFFILE: the interface is named after the file.
vpnd_up() {
	local name
	name=$(basename "$2" .conf)
	VPND_LOG="$WORK/$name.log" ip netns exec "$1" "$VPND" up "$2"
	cp "/var/run/vpnd/$name.pid" "$WORK/$name.pidfile"
}

wggo_up() {
	ip netns exec "$1" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$2" > "$WORK/$2.wggo.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do [ -S "/var/run/wireguard/$2.sock" ] && return 0; sleep 0.1; done
	echo "wireguard-go did not start"; return 1
}

check() {
	local what=$1; shift
	if "$@" > "$WORK/check.out" 2>&1; then
		PASS=$((PASS + 1)); echo "ok   - $what"
	else
		FAIL=$((FAIL + 1)); echo "FAIL - $what"; sed 's/^/       /' "$WORK/check.out" | tail -20
	fi
}

# Waits up to N seconds for a command to succeed.
wait_for() {
	local n=$1; shift
	for _ in $(seq $((n * 10))); do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

finish() {
	echo "$TEST_NAME: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

# sha_one FROM_NS TO_NS TO_ADDR PORT: $WORK/blob sent once with ncat; true
# when what arrived has the blob's sha256.
sha_one() {
	local pid want
	want=$(sha256sum < "$WORK/blob" | cut -d' ' -f1)
	ip netns exec "$2" timeout 60 ncat -l "$4" > "$WORK/recv" &
	pid=$!
	PIDS+=("$pid")
	wait_for 5 sh -c "ip netns exec $2 ss -ltnH 'sport = :$4' | grep -q ."
	ip netns exec "$1" timeout 60 ncat --send-only "$3" "$4" < "$WORK/blob"
	wait "$pid"
	[ "$(sha256sum < "$WORK/recv" | cut -d' ' -f1)" = "$want" ]
}

# sha_two FROM_NS TO_NS ADDR4 ADDR6 PORT: $WORK/blob (the caller's) sent
# twice at once with ncat, over IPv4 inside to PORT and over IPv6 inside to
# PORT+1, so that the two flows' segments interleave in the receiver's
# batches (its GRO merges each flow around the other's); true when both
# arrive with the blob's sha256.
sha_two() {
	local pids=() p want
	want=$(sha256sum < "$WORK/blob" | cut -d' ' -f1)
	for p in 0 1; do
		ip netns exec "$2" timeout 60 ncat -l "$(($5 + p))" > "$WORK/recv$p" &
		pids+=($!)
		PIDS+=($!)
		wait_for 5 sh -c "ip netns exec $2 ss -ltnH 'sport = :$(($5 + p))' | grep -q ."
	done
	ip netns exec "$1" timeout 60 ncat --send-only "$3" "$5" < "$WORK/blob" &
	pids+=($!)
	PIDS+=($!)
	ip netns exec "$1" timeout 60 ncat --send-only "$4" "$(($5 + 1))" < "$WORK/blob"
	for p in "${pids[@]}"; do wait "$p"; done
	[ "$(sha256sum < "$WORK/recv0" | cut -d' ' -f1)" = "$want" ] &&
		[ "$(sha256sum < "$WORK/recv1" | cut -d' ' -f1)" = "$want" ]
}

# pair_confs N: $WORK/$IFA.conf and $WORK/$IFB.conf for two peers across
# the veth 198.18.N.1 <-> 198.18.N.2, inside 198.19.N.1/2 and
# 2001:db8:N::1/2; a knows b's endpoint (port 51820), b learns a's. Needs
# IFA, IFB and the keypairs ka and kb (keypair).
pair_confs() {
	local n=$1
	cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.$n.1/24, 2001:db8:$n::1/64
ListenPort = 51820
[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.$n.2/32, 2001:db8:$n::2/128
Endpoint = 198.18.$n.2:51820
EOC
	cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.$n.2/24, 2001:db8:$n::2/64
ListenPort = 51820
[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.$n.1/32, 2001:db8:$n::1/128
EOC
	chmod 600 "$WORK/${IFA}.conf" "$WORK/${IFB}.conf"
}

# hub_topology N [options]: a hub with N clients (N at most 9).
#
#   [ns CLIENT i] CIF A.B.Ci.2/24 ------ SIF<i> A.B.Ci.1/24 ---+   [ns srv]
#     NAME-<client i> X.Y.Z.1i/24, P::1i/64                     +-- NAME-srv X.Y.Z.1/24, P::1/64
#                                                                   UDP PORT
#   server AllowedIPs per client: X.Y.Z.1i/32, P::1i/128
#   clients: AllowedIPs X.Y.Z.0/24, P::/64 via the server, Endpoint A.B.Ci.1:PORT
#
# Options:
#   -p NAME    interfaces NAME-srv and NAME-<client> (through ifname), required
#   -u A.B.C   underlay prefix: client i's veth is A.B.Ci.2/24, required
#   -4 X.Y.Z   tunnel IPv4 /24, required
#   -6 P       tunnel IPv6 /64 (e.g. 2001:db8:19): none without it
#   -n "a b"   client names (default c1 .. cN): namespace variables $a, keys
#              ka_priv/ka_pub (default k1 .. kN), interfaces NAME-a
#   -d         the server's peers in NAME-srv.d/, one file <client>.conf each
#              (default: [Peer] sections in NAME-srv.conf)
#   -P PREFIX  peer file names in NAME-srv.d/: PREFIX<i>.conf
#   -s SIF     the server's veth to client i: SIF<i> (default hubv)
#   -S         ... named SIF<client> instead
#   -c CIF     the clients' veth (default veth0)
#   -l PORT    the server's ListenPort (default 51820)
#   -k SECS    PersistentKeepalive on the clients
#   -x LINE    an extra line for the server's [Interface] (repeatable)
#   -f         IPv4 and IPv6 forwarding on in the server namespace
#   -0         write the configs, bring nothing up (hub_up does)
#
# Sets: $srv and one variable per client (namespaces, as ns_new), keys ks and
# k<client> (as keypair), and arrays indexed 1..N: HUB_NAME (client names),
# HUB_NS, HUB_IF, HUB_CONF, HUB_ADDR4, HUB_ADDR6 (no prefix length),
# HUB_UNDER (the client's underlay address), HUB_EP (the server's address on
# that link), HUB_PUB, HUB_PRIV; and HUB_SRV_IF, HUB_SRV_CONF, HUB_SRV_DIR
# (the .d directory, if -d), HUB_SRV_ADDR4, HUB_SRV_ADDR6, HUB_PORT.
hub_topology() {
	local n=$1 name="" under="" net4="" net6="" names="" dir="" pfx="" sif=hubv sbyname=""
	local cif=veth0 port=51820 ka="" fwd="" noup="" opt i c
	HUB_EXTRA=()
	shift
	OPTIND=1
	while getopts "p:u:4:6:n:dP:s:Sc:l:k:x:f0" opt; do
		case $opt in
		p) name=$OPTARG ;; u) under=$OPTARG ;; 4) net4=$OPTARG ;; 6) net6=$OPTARG ;;
		n) names=$OPTARG ;; d) dir=1 ;; P) pfx=$OPTARG ;; s) sif=$OPTARG ;; S) sbyname=1 ;;
		c) cif=$OPTARG ;; l) port=$OPTARG ;; k) ka=$OPTARG ;; x) HUB_EXTRA+=("$OPTARG") ;;
		f) fwd=1 ;; 0) noup=1 ;;
		*) echo "hub_topology: bad option" >&2; return 1 ;;
		esac
	done
	if [ -z "$name" ] || [ -z "$under" ] || [ -z "$net4" ] || [ "$n" -lt 1 ] || [ "$n" -gt 9 ]; then
		echo "hub_topology: N (1-9), -p, -u and -4 are required" >&2; return 1
	fi
	[ -n "$names" ] || names=$(for i in $(seq "$n"); do echo "c$i"; done)
	HUB_NAME=(""); HUB_NS=(""); HUB_IF=(""); HUB_CONF=(""); HUB_ADDR4=(""); HUB_ADDR6=("")
	HUB_UNDER=(""); HUB_EP=(""); HUB_PUB=(""); HUB_PRIV=("")
	HUB_PORT=$port
	HUB_SRV_IF=$(ifname "$name-srv")
	HUB_SRV_CONF=$WORK/$HUB_SRV_IF.conf
	HUB_SRV_DIR=""
	HUB_SRV_ADDR4=$net4.1
	HUB_SRV_ADDR6=${net6:+$net6::1}
	HUB_NET4=$net4; HUB_NET6=$net6
	[ -n "$dir" ] && { HUB_SRV_DIR=$WORK/$HUB_SRV_IF.d; mkdir -p "$HUB_SRV_DIR"; }

	ns_new srv
	if [ -n "$fwd" ]; then
		ip netns exec "$srv" sysctl -qw net.ipv4.ip_forward=1
		ip netns exec "$srv" sysctl -qw net.ipv6.conf.all.forwarding=1
	fi
	keypair ks
	i=0
	for c in $names; do
		i=$((i + 1))
		ns_new "$c"
		keypair "k$c"
		[ "$c" = "c$i" ] && eval "k${i}_priv=\$kc${i}_priv k${i}_pub=\$kc${i}_pub"
		HUB_NAME[i]=$c
		eval "HUB_NS[i]=\$$c HUB_PRIV[i]=\$k${c}_priv HUB_PUB[i]=\$k${c}_pub"
		HUB_IF[i]=$(ifname "$name-$c")
		HUB_CONF[i]=$WORK/${HUB_IF[i]}.conf
		HUB_ADDR4[i]=$net4.1$i
		HUB_ADDR6[i]=${net6:+$net6::1$i}
		HUB_UNDER[i]=$under$i.2
		HUB_EP[i]=$under$i.1
		veth "$srv" "${HUB_EP[i]}/24" "${HUB_NS[i]}" "${HUB_UNDER[i]}/24" \
			"$sif$([ -n "$sbyname" ] && echo "$c" || echo "$i")" "$cif"
		{
			echo "[Interface]"
			echo "PrivateKey = ${HUB_PRIV[i]}"
			echo "Address = ${HUB_ADDR4[i]}/24${net6:+, ${HUB_ADDR6[i]}/64}"
			echo
			echo "[Peer]"
			echo "PublicKey = $ks_pub"
			echo "AllowedIPs = $net4.0/24${net6:+, $net6::/64}"
			echo "Endpoint = ${HUB_EP[i]}:$port"
			[ -n "$ka" ] && echo "PersistentKeepalive = $ka"
		} > "${HUB_CONF[i]}"
		chmod 600 "${HUB_CONF[i]}"
		if [ -n "$dir" ]; then
			hub_peer "$i" > "$HUB_SRV_DIR/${pfx:-$c}$([ -n "$pfx" ] && echo "$i").conf"
			chmod 600 "$HUB_SRV_DIR"/*.conf
		fi
	done
	HUB_N=$i
	hub_server_conf "${HUB_EXTRA[@]}"
	[ -n "$noup" ] || hub_up
}

# hub_peer I: client I's [Peer] section for the server.
hub_peer() {
	echo "[Peer]"
	echo "PublicKey = ${HUB_PUB[$1]}"
	echo "AllowedIPs = ${HUB_ADDR4[$1]}/32${HUB_NET6:+, ${HUB_ADDR6[$1]}/128}"
}

# hub_server_conf [LINE...]: (re)writes the server's config, the LINEs added
# to its [Interface].
hub_server_conf() {
	local i
	{
		echo "[Interface]"
		echo "PrivateKey = $ks_priv"
		echo "Address = $HUB_SRV_ADDR4/24${HUB_NET6:+, $HUB_SRV_ADDR6/64}"
		echo "ListenPort = $HUB_PORT"
		for i in "$@"; do echo "$i"; done
		if [ -z "$HUB_SRV_DIR" ]; then
			for i in $(seq "$HUB_N"); do echo; hub_peer "$i"; done
		fi
	} > "$HUB_SRV_CONF"
	chmod 600 "$HUB_SRV_CONF"
}

# hub_up [I...]: vpnd up on the server and the clients (all of them, or the
# clients I...; the server only when no I is given).
hub_up() {
	local i
	if [ $# -eq 0 ]; then
		vpnd_up "$srv" "$HUB_SRV_CONF"
		set -- $(seq "$HUB_N")
	fi
	for i in "$@"; do vpnd_up "${HUB_NS[i]}" "${HUB_CONF[i]}"; done
}
