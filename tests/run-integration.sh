#!/bin/bash
# Runs every tests/integration/*.sh (each builds its own namespaces and cleans
# up on exit). Needs root. VPND is the binary under test, TOOLS the helper
# programs. ONLY=pattern runs a subset; TEST_TIMEOUT (seconds, default 300)
# bounds each test.
#
# Each test runs under `timeout -k`, which puts it in a process group of its
# own and, on timeout, signals the whole group (SIGTERM, then SIGKILL 10 s
# later). A test that dies that way (or any other way) may leave behind what
# its cleanup would have removed, so after each test the runner sweeps what it
# left: every process still in its process group, every process in one of the
# namespaces it created (lib.sh records each namespace's name and inode under
# VPND_TEST_STATE: a daemon is found even once its namespace's name is gone),
# those namespaces and their /etc/netns/NAME directories, its WORK directory,
# /etc/vpnd/*-TOKEN.conf,
# and the /var/run/wireguard/*-TOKEN.sock and /var/run/vpnd/*-TOKEN.pid files
# of its interfaces (VPND_TEST_TOKEN is in every interface name it creates).
# Processes are killed by PID, never by name. A test that left processes,
# namespaces or its WORK directory behind is reported as FAILED.
cd "$(dirname "$0")/integration" || exit 1
: "${VPND:?VPND must name the vpnd binary}"
export VPND TOOLS
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
STATE_ROOT=$(mktemp -d /tmp/vpnd-it-state.XXXXXX)
current=""	# pid (= process group) of the running test
trap '[ -n "$current" ] && kill -9 -- "-$current" 2>/dev/null; rm -rf "$STATE_ROOT"; exit 130' INT TERM

# A per-test token of 4 characters of [a-z0-9] that nothing present carries.
new_token() {
	local chars=abcdefghijklmnopqrstuvwxyz0123456789 t c
	while :; do
		t=""
		for c in $(od -An -N4 -tu1 /dev/urandom); do t=$t${chars:$((c % 36)):1}; done
		compgen -G "/var/run/wireguard/*-$t.sock" > /dev/null ||
			compgen -G "/var/run/vpnd/*-$t.pid" > /dev/null ||
			compgen -G "/var/run/netns/vt-*-$t-*" > /dev/null ||
			break
	done
	echo "$t"
}

# sweep PGID TOKEN STATE: removes what the test left; prints one line per
# thing swept; returns 1 if a process, a namespace or the WORK directory was
# left (stale socket and pid files alone are removed silently: a daemon the
# test killed with -9 on purpose leaves them).
# leftovers PGID TOKEN STATE: the pids of live processes in the test's process
# group (daemons leave it: setsid) or in one of its namespaces (by inode), and
# with VPND_TEST_TOKEN=TOKEN in their environment (so that a pid, process
# group or namespace inode reused by someone else's test is never touched).
leftovers() {
	local pgid=$1 token=$2 state=$3 inodes="" f link inode pid pids ours=""
	pids=" $(ps -e -o pid=,pgid=,stat= | awk -v g="$pgid" '$2 == g && $3 !~ /^Z/ { print $1 }' | tr "\n" " ")"
	[ -f "$state/netns" ] && inodes=$(awk '{ print $2 }' "$state/netns")
	if [ -n "$inodes" ]; then
		while read -r f link; do
			for inode in $inodes; do
				[ "$link" = "'net:[$inode]'" ] || continue
				pid=${f#\'/proc/}; pid=${pid%%/*}
				case " $pids " in *" $pid "*) ;; *) pids="$pids $pid" ;; esac
			done
		done < <(stat -c '%N' /proc/[0-9]*/ns/net 2>/dev/null | sed 's/ -> / /')
	fi
	for pid in $pids; do
		tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qxF "VPND_TEST_TOKEN=$token" &&
			ours="$ours $pid"
	done
	echo $ours
}

# sweep PGID TOKEN STATE: removes what the test left; prints one line per
# thing swept; returns 1 if a process, a namespace or the WORK directory was
# left (stale socket and pid files alone are removed silently: a daemon the
# test killed with -9 on purpose leaves them).
sweep() {
	local pgid=$1 token=$2 state=$3 left=0 pid pids ns work f
	# A process on its way out (a worker whose monitor was just killed) gets
	# two seconds to go by itself.
	for _ in $(seq 20); do
		pids=$(leftovers "$pgid" "$token" "$state")
		[ -z "$pids" ] && break
		sleep 0.1
	done
	for pid in $pids; do
		[ -e "/proc/$pid" ] || continue
		echo "sweep: killing pid $pid ($(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-100))"
		kill -9 "$pid" 2>/dev/null
		left=1
	done
	# Its namespaces: those it recorded, and any carrying its token.
	for ns in $( { [ -f "$state/netns" ] && awk '{ print $1 }' "$state/netns"
		       ip netns list | awk -v t="-$token-" '$1 ~ /^vt-/ && index($1, t) { print $1 }'; } | sort -u); do
		if [ -e "/var/run/netns/$ns" ]; then
			echo "sweep: deleting namespace $ns"
			ip netns del "$ns" 2>/dev/null
			left=1
		fi
		if [ -d "/etc/netns/$ns" ]; then
			echo "sweep: removing /etc/netns/$ns"
			rm -rf "/etc/netns/$ns"
			rmdir /etc/netns 2>/dev/null
			left=1
		fi
	done
	work=$(cat "$state/work" 2>/dev/null)
	case $work in
	/tmp/vpnd-*)
		if [ -d "$work" ]; then
			echo "sweep: removing $work"
			rm -rf "$work"
			left=1
		fi ;;
	esac
	# A config the test put under /etc/vpnd (vpnd up NAME), named with the token.
	for f in /etc/vpnd/*-"$token".conf; do
		[ -e "$f" ] || continue
		echo "sweep: removing $f"
		rm -f "$f"
		left=1
	done
	# (.fulltunnel/.dns: what a killed daemon left for the next up/down;
	# the namespace it described is gone.)
	for f in /var/run/wireguard/*-"$token".sock /var/run/vpnd/*-"$token".pid \
		 /var/run/vpnd/*-"$token".fulltunnel /var/run/vpnd/*-"$token".dns; do
		[ -e "$f" ] && rm -f "$f"
	done
	return $left
}

pass=0; fail=0; failed=""
for t in ./*.sh; do
	[ "$t" = ./lib.sh ] && continue
	[ -n "$ONLY" ] && case "$t" in *$ONLY*) ;; *) continue ;; esac
	echo "=== $t"
	start=$(date +%s)
	token=$(new_token)
	# Per run (token): two runs at once (make check and make asan, say)
	# must not write into each other's log.
	log="/tmp/vpnd-it-$(basename "$t" .sh)-$token.log"
	state="$STATE_ROOT/$(basename "$t" .sh)"
	mkdir -p "$state"
	VPND_TEST_TOKEN=$token VPND_TEST_STATE=$state \
		timeout -k 10 "$TEST_TIMEOUT" bash "$t" > "$log" 2>&1 < /dev/null &
	current=$!
	wait "$current" 2>/dev/null; rc=$?
	[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo "(killed after ${TEST_TIMEOUT}s: exit $rc)" >> "$log"
	if ! sweep "$current" "$token" "$state" >> "$log" 2>&1; then
		echo "(the test left processes, namespaces or files behind: swept, see above)" >> "$log"
		[ "$rc" -eq 0 ] && rc=1
	fi
	current=""
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $t ($(( $(date +%s) - start ))s) log: $log"
	else
		fail=$((fail + 1)); failed="$failed $t"
		echo "FAIL $t; last lines of its log ($log):"; tail -40 "$log"
	fi
done
rm -rf "$STATE_ROOT"
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
