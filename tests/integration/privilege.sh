#!/bin/bash
# Least privilege: after set-up the packet-handling worker runs as vpnd
# (nobody, said in the log, where the host has no such user)
# with no capability at all, no new privileges, no netlink socket and a
# seccomp filter; the root monitor keeps no device fd (the interface dies
# with the worker), makes and marks the worker's UDP sockets (a listen-port
# or fwmark change goes through it), watches the link, runs hooks and
# removes files; neither process writes a core file. A forbidden system
# call is refused (the same filter, installed by tests/tools/seccomp_probe).
# vp-a runs with two crypto threads: its helper thread is made under the
# filter, as that user, and carries traffic. vp-c comes up where a vpnd
# user exists (a private /etc/passwd bind-mounted in its own mount namespace,
# the host's untouched): its worker runs as vpnd, nothing said.
#
#   [ns a] vp-a 198.19.8.1 --- veth 198.18.8.1 <-> 198.18.8.2 --- [ns b] vp-b 198.19.8.2
#                                                                 [ns b] vp-c (no peer)
set -e
. "$(dirname "$0")/lib.sh"
IFA=$(ifname vp-a) IFB=$(ifname vp-b) IFC=$(ifname vp-c)
# The worker's user here: vpnd if the host has one, else nobody.
wuid=$(id -u vpnd 2>/dev/null || echo 65534)

ns_new a; ns_new b
veth "$a" 198.18.8.1/24 "$b" 198.18.8.2/24
keypair ka; keypair kb
cat > "$WORK/${IFA}.conf" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.8.1/24
ListenPort = 51820
PostUp = touch $WORK/postup-ran-as-\$(id -u)
PostDown = touch $WORK/postdown-ran-as-\$(id -u)
[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.8.2/32
Endpoint = 198.18.8.2:51820
EOC
cat > "$WORK/${IFB}.conf" <<EOC
[Interface]
PrivateKey = $kb_priv
Address = 198.19.8.2/24
ListenPort = 51820
[Peer]
PublicKey = $ka_pub
AllowedIPs = 198.19.8.1/32
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$b" "$WORK/${IFB}.conf"
VPND_CRYPTO_THREADS=2 vpnd_up "$a" "$WORK/${IFA}.conf"
monitor=$(cat "$WORK/${IFA}.pidfile")
wait_for 5 pgrep -P "$monitor"
worker=$(pgrep -P "$monitor")
field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

check "tunnel works" ip netns exec "$a" ping -c 2 -W 2 198.19.8.2
# The loop, one crypto helper thread, the handshake thread (hs_queue.h).
check "worker made its crypto and handshake threads under the filter (3 threads)" \
	test "$(field "$worker" Threads)" = 3
check "log says so" grep -q "${IFA}: AEAD on 2 thread(s)" "$WORK/${IFA}.log"
check "bursts through the threaded path (ping -f, 64 in flight, 1400 bytes)" \
	ip netns exec "$a" ping -q -f -l 64 -c 3000 -s 1400 -W 2 198.19.8.2
seccomp_field=Seccomp	# Sanitizer builds skip seccomp (see below): Uid only
[ -n "$VPND_SANITIZED" ] && seccomp_field=Uid
check "every thread of the worker runs as uid $wuid under the filter" sh -c "
	for t in /proc/$worker/task/*; do
		grep -q '^Uid:.*$wuid' \$t/status &&
			grep -Eq '^$seccomp_field:.*(2|65534)' \$t/status || exit 1
	done"
check "worker runs as its user (uid $wuid)" test "$(field "$worker" Uid)" = $wuid
if ! getent passwd vpnd > /dev/null; then
	check "log says the worker falls back to nobody, and why" \
		grep -q "no user 'vpnd' (make install creates it): the worker runs as the shared user 'nobody'" \
		"$WORK/${IFA}.log"
fi

# vp-c: a host with the vpnd user.
{ grep -v '^vpnd:' /etc/passwd; echo 'vpnd:x:64999:64999:vpnd:/:/usr/sbin/nologin'; } \
	> "$WORK/passwd"
printf '[Interface]\nPrivateKey = %s\n' "$kb_priv" > "$WORK/${IFC}.conf"
chmod 600 "$WORK/${IFC}.conf"
ip netns exec "$b" unshare -m sh -c "mount --bind $WORK/passwd /etc/passwd &&
	VPND_LOG=$WORK/${IFC}.log exec $VPND up $WORK/${IFC}.conf"
cp "/var/run/vpnd/${IFC}.pid" "$WORK/${IFC}.pidfile"
monitor_c=$(cat "$WORK/${IFC}.pidfile")
wait_for 5 pgrep -P "$monitor_c"
worker_c=$(pgrep -P "$monitor_c")
check "with a vpnd user, the worker runs as vpnd (uid 64999)" \
	test "$(field "$worker_c" Uid)" = 64999
check "and the log says nothing of nobody" sh -c "! grep -q nobody $WORK/${IFC}.log"
check "worker has no effective capability (CapEff 0)" \
	test "$(field "$worker" CapEff)" = 0000000000000000
check "worker has no permitted capability (CapPrm 0)" \
	test "$(field "$worker" CapPrm)" = 0000000000000000
check "worker has an empty bounding set" test "$(field "$worker" CapBnd)" = 0000000000000000
check "worker has no_new_privs" test "$(field "$worker" NoNewPrivs)" = 1
# Sanitizer builds skip seccomp: their runtime needs system calls we forbid.
# (and the sanitizers' own runtime cannot run under the probe's filter).
if [ -z "$VPND_SANITIZED" ]; then
	check "worker runs under a seccomp filter" test "$(field "$worker" Seccomp)" = 2
	# In ns a: a probe that wrongly succeeds (RTM_NEWROUTE) changes ns a only.
	check "forbidden syscalls refused (killed or EPERM) under the worker's filter" \
		ip netns exec "$a" "$TOOLS/seccomp_probe"
fi
check "worker writes no core file (RLIMIT_CORE 0)" \
	sh -c "grep -Eq '^Max core file size +0 +0 ' /proc/$worker/limits"
check "monitor writes no core file (RLIMIT_CORE 0)" \
	sh -c "grep -Eq '^Max core file size +0 +0 ' /proc/$monitor/limits"
# Not dumpable: the kernel makes /proc/PID/* root's (the worker is not
# root, so a dumpable worker's files are its own). Sanitizer builds stay
# dumpable for LeakSanitizer's ptrace.
if [ -z "$VPND_SANITIZED" ]; then
	check "worker is not dumpable (its /proc files are root's)" \
		test "$(stat -c %u /proc/$worker/environ)" = 0
fi
# The device's secret arena (crypto/arena.h): 64 KiB chunks, never dumped
# (dd) and locked (lo), in the worker too (locks do not survive fork).
# AddressSanitizer makes mlock a no-op: sanitizer builds check dd only.
lo=' lo'; [ -n "$VPND_SANITIZED" ] && lo=' dd'
check "worker's keys and handshakes in a locked, never-dumped 64 KiB arena" \
	awk -v lo="$lo" '/^Size:/ { size = $2 }
	     /^VmFlags:/ { if (size == 64 && / dd/ && index($0, lo)) f = 1 } END { exit !f }' \
	/proc/$worker/smaps
check "monitor's stdin is /dev/null" test "$(readlink /proc/$monitor/fd/0)" = /dev/null
# Every descriptor the worker holds, by kind: no netlink socket, nothing
# unexpected (a file, a raw socket, another process's pipe). The io_uring is
# the TUN's batched reads, locked down to reading the TUN (seccomp_probe).
worker_fds_ok() {
	local fd target inode
	for fd in /proc/$worker/fd/*; do
		target=$(readlink "$fd") || continue
		case $target in
		/dev/null|/dev/net/tun|"$WORK/${IFA}.log") ;;
		anon_inode:\[eventpoll\]|anon_inode:\[signalfd\]|anon_inode:\[eventfd\]) ;;
		anon_inode:\[io_uring\]) ;;
		socket:\[*\])
			inode=${target#socket:[}; inode=${inode%]}
			if awk -v i="$inode" 'NR > 1 && $NF == i { f = 1 } END { exit !f }' \
				/proc/$worker/net/netlink; then
				echo "netlink socket: $fd"; return 1
			fi
			awk -v i="$inode" 'NR > 1 && ($10 == i || $7 == i) { f = 1 } END { exit !f }' \
				/proc/$worker/net/udp /proc/$worker/net/udp6 /proc/$worker/net/unix ||
				{ echo "unexpected socket: $fd -> $target"; return 1; }
			;;
		*) echo "unexpected descriptor: $fd -> $target"; return 1 ;;
		esac
	done
}
check "worker holds no netlink socket and no unexpected descriptor" worker_fds_ok
check "monitor holds no TUN fd" sh -c "! ls -l /proc/$monitor/fd | grep -q tun"
check "hooks run as root" test -e "$WORK/postup-ran-as-0"
check "UAPI still works for root: wg set listen-port" \
	ip netns exec "$a" wg set ${IFA} listen-port 51821
check "UAPI port change took effect" \
	sh -c "ip netns exec $a wg show ${IFA} listen-port | grep -qx 51821"
check "the new socket is bound (made by the monitor, passed to the worker)" \
	sh -c "ip netns exec $a ss -Hulnp | grep ':51821 ' | grep -q 'pid=$worker,'"
check "tunnel works on the new port" ip netns exec "$a" ping -c 2 -W 2 198.19.8.2
check "UAPI fwmark change: set on the socket by the monitor" \
	ip netns exec "$a" wg set ${IFA} fwmark 0x1234
check "the worker's socket carries the mark" \
	sh -c "ip netns exec $a ss -Huln -e | grep ':51821 ' | grep -q 'fwmark:0x1234'"
check "still no netlink socket after the rebind" worker_fds_ok
# reload_to_port PORT: the config's ListenPort becomes PORT, SIGHUP, and
# the worker listens there (within 5 s).
reload_to_port() {
	sed -i "s/^ListenPort = .*/ListenPort = $1/" "$WORK/${IFA}.conf"
	kill -HUP "$monitor"
	wait_for 5 sh -c "ip netns exec $a wg show ${IFA} listen-port | grep -qx $1"
}
worker_socket_on() { ip netns exec "$a" ss -Hulnpe | grep ":$1 " | grep -q "pid=$worker,"; }
check "reload (SIGHUP) with a new ListenPort: the monitor rebinds for the worker" \
	reload_to_port 51822
check "the socket on 51822 is the worker's; the config's (no) FwMark cleared the mark" \
	sh -c "ip netns exec $a ss -Hulnpe | grep ':51822 ' | grep 'pid=$worker,' | grep -vq fwmark"
check "tunnel works after the reload" ip netns exec "$a" ping -c 2 -W 2 198.19.8.2
# A privileged port the config does not name: the root monitor refuses to
# bind it on the worker's word (a taken-over worker could not impersonate
# a host service on port 53); the config's own privileged port is bound.
check "UAPI listen-port 53 (privileged, not the config's) refused" \
	sh -c "! ip netns exec $a wg set ${IFA} listen-port 53"
check "the refusal is logged with the port" \
	grep -q "refused the worker a socket on privileged port 53" "$WORK/${IFA}.log"
check "nothing bound on 53; still on 51822" \
	sh -c "! ip netns exec $a ss -Huln | grep -q ':53 ' && ip netns exec $a wg show ${IFA} listen-port | grep -qx 51822"
check "reload with ListenPort = 500 (the config's privileged port): bound" \
	reload_to_port 500
check "the socket on 500 is the worker's" worker_socket_on 500
check "the worker never tripped the filter" \
	sh -c "! grep -q 'forbidden system call' $WORK/${IFA}.log"
check "the worker is still running" test -d "/proc/$worker"
check "killing the worker takes the interface down and the monitor cleans up" \
	sh -c "kill -9 $worker; for i in \$(seq 50); do [ -e /var/run/wireguard/${IFA}.sock ] || break; sleep 0.1; done; ! ip -n $a link show ${IFA} && [ ! -e /var/run/wireguard/${IFA}.sock ] && [ -e $WORK/postdown-ran-as-0 ]"
finish
