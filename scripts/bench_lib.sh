# Shared by scripts/bench.sh and scripts/bench_flood.sh (sourced): killing
# only what the benchmark started, and the cleanup on exit. The sourcing
# script sets BENCH_NAME (for messages), WORK, and the arrays NAMESPACES,
# IFNAMES (tunnel interfaces: their /var/run sockets and pid files) and the
# associative TRACKED (pid -> the command name it should have), then calls
# bench_traps.

# Kills a tracked pid, but only while it is still the process we started
# (our child, or a process of the expected name: vpnd daemonises away).
kill_pid() {
	local pid=$1 sig=$2 comm ppid
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
	ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
	if [ "$comm" = "${TRACKED[$pid]}" ] || [ "$ppid" = $$ ]; then
		kill "-$sig" "$pid" 2>/dev/null
	fi
}

cleanup() {
	local pid ppid alive name ns
	set +e
	trap '' INT TERM
	exec 1>&3 2>&4
	# a vpnd that `vpnd up` started just before an interrupt: its pid file
	for name in "${IFNAMES[@]}"; do
		pid=$(cat "/var/run/vpnd/$name.pid" 2>/dev/null) && [ -n "$pid" ] && TRACKED[$pid]=vpnd
	done
	# and the children of what we track (vpnd's worker under its monitor)
	while read -r pid ppid name; do
		[ -n "${TRACKED[$ppid]:-}" ] && [ -z "${TRACKED[$pid]:-}" ] && TRACKED[$pid]=$name
	done < <(ps -eo pid=,ppid=,comm=)
	for pid in "${!TRACKED[@]}"; do kill_pid "$pid" TERM; done
	for _ in $(seq 30); do
		alive=0
		for pid in "${!TRACKED[@]}"; do [ -e "/proc/$pid" ] && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for pid in "${!TRACKED[@]}"; do kill_pid "$pid" KILL; done
	for pid in "${!TRACKED[@]}"; do wait "$pid" 2>/dev/null; done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	for name in "${IFNAMES[@]}"; do
		rm -f "/var/run/wireguard/$name.sock" "/var/run/vpnd/$name.pid"
	done
	if [ "${KEEP:-0}" = 1 ]; then
		rm -f "$WORK"/*.key "$WORK"/*.conf
		echo "$BENCH_NAME: logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
	for ns in "${NAMESPACES[@]}"; do
		ip netns list 2>/dev/null | grep -qw "$ns" &&
			echo "$BENCH_NAME: WARNING: namespace $ns is still there" >&2
	done
	for pid in "${!TRACKED[@]}"; do
		[ -e "/proc/$pid" ] &&
			echo "$BENCH_NAME: WARNING: pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) is still running" >&2
	done
	return 0
}

# fds 3 and 4: the script's own stdout and stderr, for the traps, which may
# fire inside a function whose output is redirected to a file.
bench_traps() {
	exec 3>&1 4>&2
	trap cleanup EXIT
	trap 'printf "\n%s: interrupted, cleaning up\n" "$BENCH_NAME" >&4; exit 130' INT
	trap 'exit 143' TERM
}
