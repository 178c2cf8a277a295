# Shared helpers for integration tests. Source it, then use:
#   ns_new NAME            create a namespace (deleted on exit), lo up
#   veth NS1 IP1 NS2 IP2   join two namespaces with a veth pair (IPs with /len)
#   keypair VAR            sets VAR_priv and VAR_pub
#   vpnd_up NS CONF        vpnd up in NS (daemon's pid tracked and killed on exit)
#   wggo_up NS IFNAME      wireguard-go -f in NS (pid tracked)
#   check "what" cmd...    run cmd, count pass/fail, print a line
#   finish                 print "N passed, N failed" and exit non-zero on failure
# Namespaces are named vt-<test>-<pid>-<name> and interfaces must be unique
# across namespaces, because /var/run/wireguard is shared by all of them.
# Test addresses: 198.18.0.0/15 and 2001:db8::/32 only.

VPND=${VPND:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/vpnd}
TOOLS=${TOOLS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/tools}
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/vpnd-$TEST_NAME.XXXXXX")
NAMESPACES=()
PIDS=()
PASS=0
FAIL=0

cleanup() {
	set +e
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for f in "$WORK"/*.pidfile; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	sleep 0.2
	for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
	for f in "$WORK"/*.pidfile; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns_new() {
	local ns="vt-${TEST_NAME:0:8}-$$-$1"
	ip netns add "$ns"
	NAMESPACES+=("$ns")
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
