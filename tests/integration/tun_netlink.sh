#!/bin/bash
# tun/ against the real kernel: tests/tools/tunctl opens a TUN inside a
# private network namespace and configures it over rtnetlink (tun/netlink.c);
# ip(8) only inspects. The host's own interfaces are never touched.
#
#   host (untouched)
#   ----------------------------------------------------------------------
#   netns vpnd-tun-$$
#
#     tunctl --fd--> /dev/net/tun
#                        |
#                  +-----------+   mtu 1420 (run 1) / 8920 (run 2), UP
#     lo (down)    |   vpnt0   |   198.18.0.1/24, 2001:db8::1/64 (nodad)
#                  +-----------+
#                        |
#                        +--> 198.19.0.0/16     dev vpnt0 proto static
#                        +--> 2001:db8:ff::/48  dev vpnt0 proto static
#
# Run 1 ends by closing tunctl's stdin (it deletes everything through
# netlink), run 2 by `ip link del` (tunctl's nl_watch must notice). Failed
# set-ups (duplicate address, bad MTU) must print a readable error and leave
# no interface. Addresses only from 198.18.0.0/15 and 2001:db8::/32.
set -e

NS=vpnd-tun-$$
TOOLS=${TOOLS:-$(dirname "$0")/../../build/tools}
TUNCTL=$TOOLS/tunctl
TMP=
TOOL_PID=
RC=
PASS=0

cleanup() {
	local rc=$?

	set +e
	exec 3>&- 2>/dev/null
	# Only the process we started, by its pid.
	if [ -n "$TOOL_PID" ] && kill -0 "$TOOL_PID" 2>/dev/null; then
		kill "$TOOL_PID"
		wait "$TOOL_PID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
# So that a timeout's SIGTERM or a ^C still runs cleanup.
trap 'exit 143' TERM
trap 'exit 130' INT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	PASS=$((PASS + 1))
	echo "ok $PASS - $*"
}

# check DESCRIPTION COMMAND...: the command must succeed.
check() {
	local desc=$1

	shift
	"$@" || fail "$desc"
	ok "$desc"
}

# Polls up to 5 s for PATTERN in FILE; gives up early once the tool is dead.
wait_for() {
	for _ in $(seq 50); do
		grep -q -- "$1" "$2" && return 0
		kill -0 "$TOOL_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q -- "$1" "$2" && return 0
	echo "--- $2:" >&2
	cat "$2" >&2
	return 1
}

# Waits up to 5 s for the tool to exit and sets RC to its exit code (not in
# a subshell: only this shell can wait for its child).
wait_tool() {
	RC=timeout
	for _ in $(seq 50); do
		kill -0 "$TOOL_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$TOOL_PID" 2>/dev/null && return 0
	RC=0
	wait "$TOOL_PID" || RC=$?
	TOOL_PID=
}

# start_tool OUTFILE ARGS...: runs tunctl in the namespace with its stdin on a
# fifo held open through fd 3, and waits for "ready".
start_tool() {
	local out=$1

	shift
	rm -f "$TMP/stdin"
	mkfifo "$TMP/stdin"
	ip netns exec "$NS" "$TUNCTL" "$@" <"$TMP/stdin" >"$out" 2>&1 &
	TOOL_PID=$!
	# Opening the write end releases the tool's open of the read end.
	exec 3>"$TMP/stdin"
	wait_for '^ready ' "$out" || fail "tunctl $* did not get ready"
}

link_has() {
	ip -n "$NS" -o link show dev "$1" | grep -Eq -- "$2"
}

addr_has() {
	ip -n "$NS" -o "$1" addr show dev "$2" | grep -Eq -- "$3"
}

# route_is FAMILY PREFIX DEV: exactly one static, link-scope route.
route_is() {
	local routes

	routes=$(ip -n "$NS" "$1" route show "$2")
	[ "$(printf '%s\n' "$routes" | grep -c .)" -eq 1 ] &&
		printf '%s\n' "$routes" | grep -q "dev $3 proto static" &&
		{ [ "$1" = -6 ] || printf '%s\n' "$routes" | grep -q 'scope link'; }
}

no_link() {
	! ip -n "$NS" link show dev "$1" >/dev/null 2>&1
}

# Only lo in the namespace, and no route left in either family.
ns_is_empty() {
	[ "$(ip -n "$NS" -o link show | grep -vc ': lo:')" -eq 0 ] &&
		[ -z "$(ip -n "$NS" -4 route show)" ] &&
		[ -z "$(ip -n "$NS" -6 route show)" ]
}

# expect_error WANT ARGS...: tunctl must fail with exactly this message.
expect_error() {
	local want=$1 got rc=0

	shift
	got=$(ip netns exec "$NS" "$TUNCTL" "$@" </dev/null 2>&1) || rc=$?
	[ "$rc" -eq 1 ] && [ "$got" = "tunctl: $want" ] && return 0
	echo "want rc 1 and 'tunctl: $want'; got rc $rc and '$got'" >&2
	return 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root"
[ -x "$TUNCTL" ] || fail "no $TUNCTL (make build/tools/tunctl, or set TOOLS)"
TMP=$(mktemp -d /tmp/vpnd-tun.XXXXXX)
ip netns add "$NS"

# --- run 1: MTU 1420, both families, ends by stdin close ---------------
# The IPv4 route is given twice: the second add must be EEXIST (NLM_F_EXCL,
# never replace); tunctl fails otherwise.
start_tool "$TMP/run1" vpnt0 1420 198.18.0.1/24 2001:db8::1/64 \
	-- 198.19.0.0/16 2001:db8:ff::/48 198.19.0.0/16
check "ready line names the interface" grep -qx 'ready vpnt0' "$TMP/run1"
check "mtu 1420" link_has vpnt0 ' mtu 1420 '
check "link is UP" link_has vpnt0 '<([^>]*,)?UP[,>]'
check "IPv4 address 198.18.0.1/24" addr_has -4 vpnt0 'inet 198\.18\.0\.1/24 '
check "IPv6 address 2001:db8::1/64" addr_has -6 vpnt0 'inet6 2001:db8::1/64 '
check "IPv6 address is nodad, not tentative" \
	eval '! addr_has -6 vpnt0 "2001:db8::1/64 .*tentative" && addr_has -6 vpnt0 "2001:db8::1/64 .*nodad"'
check "route 198.19.0.0/16 once, static, scope link" route_is -4 198.19.0.0/16 vpnt0
check "route 2001:db8:ff::/48 once, static" route_is -6 2001:db8:ff::/48 vpnt0

exec 3>&-
wait_tool
check "stdin close: tunctl exits 0 (got $RC)" [ "$RC" = 0 ]
check "stdin close: tunctl removed what it added" grep -qx removed "$TMP/run1"
check "stdin close: vpnt0 is deleted" no_link vpnt0
check "stdin close: namespace is empty again" ns_is_empty

# --- run 2: name pattern, MTU 8920, ends by ip link del --------------------
start_tool "$TMP/run2" 'vpnt%d' 8920 198.18.0.1/24 2001:db8::1/64 \
	-- 198.19.0.0/16 2001:db8:ff::/48
NAME=$(sed -n 's/^ready //p' "$TMP/run2")
check "pattern vpnt%d expanded (got '$NAME')" grep -qxE 'vpnt[0-9]+' <<<"$NAME"
check "mtu 8920" link_has "$NAME" ' mtu 8920 '
check "link is UP" link_has "$NAME" '<([^>]*,)?UP[,>]'
check "IPv4 address present" addr_has -4 "$NAME" 'inet 198\.18\.0\.1/24 '
check "IPv6 address present" addr_has -6 "$NAME" 'inet6 2001:db8::1/64 '
check "route 198.19.0.0/16" route_is -4 198.19.0.0/16 "$NAME"
check "route 2001:db8:ff::/48" route_is -6 2001:db8:ff::/48 "$NAME"

ip -n "$NS" link del "$NAME"
wait_tool
check "link del: tunctl exits 0 (got $RC)" [ "$RC" = 0 ]
check "link del: tunctl says link gone" grep -qx 'link gone' "$TMP/run2"
exec 3>&-
check "link del: namespace is empty again" ns_is_empty

# --- failed set-ups: readable errors, nothing left -------------------------
check "duplicate IPv4 address gives a readable error" expect_error \
	"add address 198.18.1.1/24 to vpnt1: File exists" \
	vpnt1 1420 198.18.1.1/24 198.18.1.1/24
check "duplicate IPv6 address gives a readable error" expect_error \
	"add address 2001:db8:1::1/64 to vpnt1: File exists" \
	vpnt1 1420 2001:db8:1::1/64 2001:db8:1::1/64
check "oversized MTU gives a readable error" expect_error \
	"set mtu 70000 on vpnt1: Invalid argument" vpnt1 70000
check "failed set-ups leave nothing in the namespace" ns_is_empty

# --- nothing escaped to the host ------------------------------------------
check "no vpnt interface on the host" eval '! ip -o link show | grep -q ": vpnt"'

echo "tun_netlink: $PASS passed, 0 failed"
