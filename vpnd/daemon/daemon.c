/* The daemon: creates the interface, applies a config (vpnd up) or waits
 * for UAPI (vpnd daemon), runs one epoll loop over the TUN, the UDP socket,
 * the control socket, link events and signals, and tears down on SIGTERM or
 * when the interface is deleted. */
#include "vpnd/daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/udp.h>
#include <netinet/in.h>
#include <unistd.h>

#include "tun/netlink.h"
#include "tun/offload.h"
#include "tun/tun.h"
#include "tun/tun_ring.h"
#include "vpnd/datapath/crypto_pool.h"
#include "vpnd/datapath/hs_queue.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/packet_io.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"
#include "vpnd/control/dns.h"
#include "vpnd/control/fulltunnel.h"
#include "vpnd/control/reload.h"
#include "vpnd/control/reload_apply.h"
#include "vpnd/control/saveconf.h"
#include "vpnd/common/log.h"
#include "vpnd/control/resolve.h"
#include "vpnd/control/routes.h"
#include "vpnd/daemon/broker.h"
#include "vpnd/daemon/hooks.h"
#include "vpnd/daemon/netns.h"
#include "vpnd/daemon/sandbox.h"
#include "vpnd/control/interface.h"

#ifdef VPND_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif
#include "vpnd/control/uapi.h"
#include "vpnd/control/uapi_server.h"

/* epoll's data.u32: a loop event, or EV_UAPI_CONN + the slot of a UAPI
 * connection (uapi_server.h). */
enum loop_event { EV_TUN = 1, EV_UDP, EV_UAPI, EV_WATCH, EV_SIGNAL, EV_HSQ, EV_TUN_RING,
		  EV_UAPI_CONN = 16 };

struct daemon {
	struct device dev;
	const struct daemon_opts *opts;
	struct nl *nl;
	/* Where the interface is (it may move: netns); the monitor's watch
	 * (broker.h) starts from it. */
	struct nl_link link;
	int epoll_fd, uapi_fd, signal_fd, registered_udp_fd;
	/* The monitor <-> worker channel (broker.h): [0] the monitor's end,
	 * [1] the worker's; each process closes the other's after the fork. */
	int chan[2];
	int events[2];		/* link events, monitor -> worker (broker.h) */
	struct uapi_server uapi;
	bool running;
	bool owns_ifname;	/* past the "already up" check: its state is ours */
	bool pre_up_ran;	/* a failed up then runs PostDown */
	char pid_path[128];
};

/* --- event loop -------------------------------------------------------- */

static int epoll_add(int epfd, int fd, enum loop_event ev)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = ev };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
}

/* The UAPI may rebind the UDP socket (listen_port): follow it. */
static void sync_udp_registration(struct daemon *d)
{
	if (d->dev.udp_fd == d->registered_udp_fd)
		return;
	if (d->dev.udp_fd >= 0)
		epoll_add(d->epoll_fd, d->dev.udp_fd, EV_UDP);
	d->registered_udp_fd = d->dev.udp_fd;
}

/* New control connections: each gets a slot and waits in epoll for its
 * request; none is served here, so none can hold the loop. */
static void handle_uapi(struct daemon *d, uint64_t now)
{
	int fd, slot;

	while ((fd = accept4(d->uapi_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		slot = uapi_server_add(&d->uapi, fd, now);
		if (slot >= 0)
			epoll_add(d->epoll_fd, fd, EV_UAPI_CONN + (unsigned)slot);
	}
}

static void handle_uapi_conn(struct daemon *d, unsigned slot, uint64_t now)
{
	int fd = d->uapi.conn[slot].fd;
	struct epoll_event e = { .events = EPOLLOUT, .data.u32 = EV_UAPI_CONN + slot };

	if (uapi_server_ready(&d->uapi, slot, &d->dev, now) == UAPI_CONN_WANTS_WRITE)
		epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, fd, &e);
	sync_udp_registration(d);	/* a set may have rebound the socket */
	send_flush(&d->dev);
}

static void handle_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	if (read(d->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	/* Only SIGTERM, from the monitor (or the parent-death signal): a
	 * Ctrl-C reaches the whole process group, and the monitor must run
	 * PreDown before the interface goes away. */
	if (si.ssi_signo == SIGTERM) {
		log_info("%s: signal %u, shutting down", d->dev.ifname, si.ssi_signo);
		d->running = false;
	}
	/* SIGHUP (a hang-up of a foreground run's terminal) is ignored: reload
	 * is the monitor's, which reads the config files as root. */
}

/* Until the next peer timer or UAPI deadline (which it also enforces). */
static int loop_timeout_ms(struct daemon *d, uint64_t now)
{
	uint64_t next = timer_heap_next(&d->dev);
	uint64_t uapi_next = uapi_server_expire(&d->uapi, now);

	if (uapi_next && (!next || uapi_next < next))
		next = uapi_next;

	if (!next)
		return -1;
	if (next <= now)
		return 0;
	return (int)((next - now + MSEC_NS - 1) / MSEC_NS);
}

/* Link events, relayed by the monitor (broker.h; the worker has no
 * netlink socket): admin down/up and MTU changes go to the device as the
 * kernel's wg_stop/wg_open and padding do. Deletion is the monitor's: it
 * stops the worker. */
static void watch_event(struct daemon *d)
{
	bool up;
	unsigned mtu;

	while (broker_read_link(d->events[1], &up, &mtu)) {
		device_set_mtu(&d->dev, mtu);
		if (up)
			device_link_up(&d->dev);
		else
			device_link_down(&d->dev);
	}
}

/* TUN reads through io_uring (tun_ring.h), with VPND_IO_URING=1: the
 * ring's fd is polled for them, the TUN fd only for its errors
 * (EPOLLERR/EPOLLHUP are always reported, even with no event asked). Set
 * up before the seccomp filter, which allows io_uring_enter but neither
 * io_uring_setup nor registering; decided once, here, and said. Off by
 * default: on the 2-core PVM guest it was measured on, it takes the
 * sender's system calls per packet from ~1.25 to ~0.3, but delivers fewer
 * 64-byte packets and less TCP (README.md, Performance: the worker is
 * woken more often, and the sender pays for it). */
static void start_tun_ring(struct daemon *d)
{
	const char *want = getenv("VPND_IO_URING");
	struct epoll_event errors_only = { .events = 0, .data.u32 = EV_TUN };
	struct epoll_event ring = { .events = EPOLLIN, .data.u32 = EV_TUN_RING };
	size_t buf_len = d->dev.tun_vnet_hdr ? PACKET_BUF_LEN : TX_BUF_LEN - 64;
	char err[256];

	if (!want || strcmp(want, "1")) {
		log_debug("%s: TUN reads: one read() per packet (VPND_IO_URING=1: io_uring)",
			  d->dev.ifname);
		return;
	}
	d->dev.tun_ring = tun_ring_open(d->dev.tun_fd, buf_len, TUN_RING_BUFS, err, sizeof(err));
	if (!d->dev.tun_ring) {
		log_info("%s: TUN reads: one read() per packet (%s)", d->dev.ifname, err);
		return;
	}
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, tun_ring_fd(d->dev.tun_ring), &ring) < 0 ||
	    epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, d->dev.tun_fd, &errors_only) < 0) {
		log_warn("%s: TUN reads: cannot poll the io_uring: one read() per packet",
			 d->dev.ifname);
		tun_ring_close(d->dev.tun_ring);
		d->dev.tun_ring = NULL;
		return;
	}
	log_info("%s: TUN reads batched through io_uring (multishot read, %d buffers, "
		 "restricted ring)", d->dev.ifname, TUN_RING_BUFS);
}

/* The ring's read could not be armed again: back to read() on the TUN
 * fd, for the rest of the run. */
static void stop_tun_ring(struct daemon *d)
{
	struct epoll_event readable = { .events = EPOLLIN, .data.u32 = EV_TUN };

	log_warn("%s: TUN reads: io_uring read failed, one read() per packet from now on",
		 d->dev.ifname);
	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, tun_ring_fd(d->dev.tun_ring), NULL);
	tun_ring_close(d->dev.tun_ring);
	d->dev.tun_ring = NULL;
	epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, d->dev.tun_fd, &readable);
}

static void tun_readable(struct daemon *d, uint32_t events, uint64_t now)
{
	enum io_result res = IO_OK;

	/* The interface deleted, wherever it is now (EPOLLERR: the kernel
	 * detached the TUN; or the read says so). */
	if (!(events & (EPOLLERR | EPOLLHUP)))
		res = packet_io_tun_readable(&d->dev, now);
	if (res == IO_RING_FAILED) {
		stop_tun_ring(d);
	} else if (res == IO_LINK_GONE || (events & (EPOLLERR | EPOLLHUP))) {
		log_info("%s: TUN closed by the kernel (interface deleted), shutting down",
			 d->dev.ifname);
		d->running = false;
	}
}

/* The answer to what was just written to the TUN is read in the same
 * turn when it is likely there (packet_io_tun_answer_due): a ping through
 * the tunnel saves an epoll_wait on its way back. */
static void udp_readable(struct daemon *d, uint64_t now)
{
	packet_io_udp_readable(&d->dev, now);
	if (packet_io_tun_answer_due(&d->dev))
		tun_readable(d, 0, now);
}

static void run_loop(struct daemon *d)
{
	struct epoll_event evs[8];

	d->running = true;
	while (d->running) {
		uint64_t now = now_monotonic_ns();
		int n = epoll_wait(d->epoll_fd, evs, 8, loop_timeout_ms(d, now));

		now = now_monotonic_ns();
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EV_TUN: tun_readable(d, evs[i].events, now); break;
			case EV_TUN_RING: tun_readable(d, 0, now); break;
			case EV_UDP: udp_readable(d, now); break;
			case EV_UAPI: handle_uapi(d, now); break;
			case EV_WATCH: watch_event(d); break;
			case EV_SIGNAL: handle_signal(d); break;
			case EV_HSQ: hs_queue_drain(&d->dev, now); break;
			default:
				if (evs[i].data.u32 >= EV_UAPI_CONN &&
				    evs[i].data.u32 < EV_UAPI_CONN + UAPI_CONN_MAX)
					handle_uapi_conn(d, evs[i].data.u32 - EV_UAPI_CONN, now);
			}
		}
		timer_heap_run(&d->dev, now_monotonic_ns());
		send_flush(&d->dev);
	}
}

/* --- start and stop ------------------------------------------------------ */

static int open_loop_fds(struct daemon *d)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->signal_fd < 0 || d->epoll_fd < 0)
		return -1;
	epoll_add(d->epoll_fd, d->dev.tun_fd, EV_TUN);
	epoll_add(d->epoll_fd, d->uapi_fd, EV_UAPI);
	epoll_add(d->epoll_fd, d->signal_fd, EV_SIGNAL);
	if (d->events[1] >= 0)
		epoll_add(d->epoll_fd, d->events[1], EV_WATCH);
	sync_udp_registration(d);
	return 0;
}

static void write_pid_file(struct daemon *d, pid_t pid)
{
	FILE *f;

	mkdir(PID_DIR, 0755);
	snprintf(d->pid_path, sizeof(d->pid_path), "%s/%s.pid", PID_DIR, d->dev.ifname);
	f = fopen(d->pid_path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)pid);
		fclose(f);
	}
}

/* Detach: the parent returns at once (everything is already up) and the
 * child carries on as the monitor. stdout and stderr go to /dev/null, or to
 * $VPND_LOG if set; stdout and stderr stay where they are if they are the journal. */
static bool daemonize(struct daemon *d)
{
	const char *log = getenv("VPND_LOG");
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		return false;
	if (pid > 0) {
		write_pid_file(d, pid);
		_exit(0);
	}
	snprintf(d->pid_path, sizeof(d->pid_path), "%s/%s.pid", PID_DIR, d->dev.ifname);
	setsid();
	fd = open(log ? log : "/dev/null", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		/* Under systemd, stdout and stderr are the journal: kept. */
		bool keep = !log && log_stderr_is_journal();

		/* stdin is already /dev/null (sandbox_close_inherited). */
		if (!keep) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return true;
}

/* The worker's end: closing a non-persistent TUN deletes the interface,
 * its addresses and its routes with it. Files and hooks are the monitor's. */
static void close_everything(struct daemon *d)
{
	uapi_server_close_all(&d->uapi);
	if (d->uapi_fd >= 0)
		close(d->uapi_fd);
	/* First the ring (its read cancelled, its hold on the TUN file
	 * dropped), so that closing the fd deletes the interface now. */
	tun_ring_close(d->dev.tun_ring);
	d->dev.tun_ring = NULL;
	if (d->dev.tun_fd >= 0)
		close(d->dev.tun_fd);
	d->uapi_fd = d->dev.tun_fd = -1;
	if (d->dev.peer_buckets)
		device_destroy(&d->dev);
	for (int i = 0; i < 2; i++)
		if (d->chan[i] >= 0)
			close(d->chan[i]);
	d->chan[0] = d->chan[1] = -1;
	if (d->nl)
		nl_close(d->nl);
	if (d->epoll_fd >= 0)
		close(d->epoll_fd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	d->nl = NULL;
	d->epoll_fd = d->signal_fd = -1;
}

/* The monitor's end: hooks run as root, files removed. */
static void remove_files(struct daemon *d)
{
	uapi_unlink(d->dev.ifname);
	if (d->pid_path[0])
		unlink(d->pid_path);
}

/* Sanitizer builds: the worker leaves through _exit, so LeakSanitizer's
 * exit-time scan would never see it: scan here, after a clean shutdown
 * (everything freed). A leak makes LSan report and exit non-zero; the log
 * line says the scan ran. The scan ptraces this process: dumpable again. */
static void worker_leak_check(struct daemon *d)
{
#ifdef VPND_SANITIZED
	prctl(PR_SET_DUMPABLE, 1);
	__lsan_do_leak_check();
	log_info("%s: leak check done, no leak", d->dev.ifname);
#else
	(void)d;
#endif
}

/* The handshake queue and its thread (hs_queue.h), under the filter like
 * the crypto pool; without it, handshakes are done on the loop. */
static void start_handshake_thread(struct daemon *d)
{
	d->dev.hsq = hs_queue_start(&d->dev);
	if (!d->dev.hsq) {
		log_warn("%s: cannot start the handshake thread (%s): handshakes on the event loop",
			 d->dev.ifname, strerror(errno));
		return;
	}
	if (epoll_add(d->epoll_fd, hs_queue_fd(d->dev.hsq), EV_HSQ) < 0) {
		hs_queue_stop(d->dev.hsq);
		d->dev.hsq = NULL;
		log_warn("%s: cannot poll the handshake queue: handshakes on the event loop",
			 d->dev.ifname);
		return;
	}
	log_info("%s: handshakes gated on their own thread (queue of %d, nice 19)",
		 d->dev.ifname, HS_QUEUE_CAPACITY);
}

/* The packet-handling process: unprivileged, sandboxed, runs the loop. */
static int worker_main(struct daemon *d, pid_t monitor)
{
	const char *user = getenv("VPND_USER");
	const char *why;
	/* Counted now: the sandbox forbids what sysconf reads. */
	unsigned threads = crypto_threads_wanted(&why);
	char err[512] = "";

	prctl(PR_SET_PDEATHSIG, SIGTERM);	/* never outlive the monitor */
	/* fork() does not carry memory locks over: lock the secrets again
	 * while still root (no RLIMIT_MEMLOCK). */
	wg_arena_relock(d->dev.secrets);
	/* Set-up is over: the worker keeps no route-netlink socket (the
	 * monitor watches the link) and asks the monitor for UDP sockets. */
	nl_close(d->nl);
	d->nl = NULL;
	close(d->chan[0]);
	close(d->events[0]);
	d->chan[0] = d->events[0] = -1;
	d->dev.udp_ops = &broker_udp_ops;
	d->dev.udp_ops_ctx = &d->chan[1];
	/* A signalfd polled through epoll wakes only the process that made it:
	 * the loop's fds are opened here, after the fork. */
	if (open_loop_fds(d) < 0 ||
	    sandbox_drop_privileges(user, err, sizeof(err)) != SANDBOX_OK)
		goto fail;
	/* Changing uid clears the parent-death signal (the kernel's
	 * commit_creds): set it again, then make sure the monitor did not die
	 * before that, or a kill -9 of the monitor would leave the worker,
	 * the interface and the socket running with a dead pid file. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sandbox_no_core();	/* the uid change made it dumpable again */
	if (getppid() != monitor) {
		snprintf(err, sizeof(err), "monitor gone");
		goto fail;
	}
	start_tun_ring(d);
#ifndef VPND_SANITIZED	/* the sanitizers' runtime needs more system calls */
	if (!getenv("VPND_NO_SECCOMP") &&
	    sandbox_install_seccomp(d->dev.tun_ring != NULL, err, sizeof(err)) != SANDBOX_OK)
		goto fail;
#endif
	/* Made here, under the filter (which they inherit) and without
	 * privileges; if they cannot be made, one thread does everything. */
	if (why)
		log_warn("%s: %s", d->dev.ifname, why);
	d->dev.pool = crypto_pool_new(threads);
	if (threads > 1 && !d->dev.pool)
		log_warn("%s: cannot start %u crypto threads: AEAD on the event loop only",
			 d->dev.ifname, threads - 1);
	log_info("%s: AEAD on %u thread(s)", d->dev.ifname, crypto_pool_threads(d->dev.pool));
	start_handshake_thread(d);
	run_loop(d);
	close_everything(d);
	worker_leak_check(d);
	return 0;
fail:
	log_error("%s: %s", d->dev.ifname, err[0] ? err : strerror(errno));
	close_everything(d);
	return 1;
}

static void log_warn_msg(const char *msg)
{
	log_warn("%s", msg);
}

/* SIGHUP: vpnd reload, run by the monitor (root; the worker cannot read
 * config files). On success the new config replaces *cfg (hooks, endpoint
 * re-resolution); a config with an error changes nothing but the log. */
static void monitor_reload(struct daemon *d, struct config *held, const struct config **cfg)
{
	struct config fresh = { 0 };
	struct reload_report rep;
	char err[PATH_MAX + 512], line[256];

	if (!d->opts->config_path) {
		log_warn("%s: SIGHUP: no config file to reload (vpnd daemon)", d->dev.ifname);
		return;
	}
	if (reload_apply(d->dev.ifname, d->opts->config_path, log_warn_msg, &rep, &fresh, err,
			 sizeof(err)) < 0) {
		log_error("%s: reload: %s", d->dev.ifname, err);
		return;
	}
	reload_report_format(line, sizeof(line), d->dev.ifname, &rep);
	log_info("%s", line);
	config_wipe_secrets(&fresh);	/* applied: only hooks and endpoints stay */
	if (!reload_hooks_equal(*cfg, &fresh))
		log_warn("%s: warning: PreUp/PostUp/PreDown/PostDown differ from those of vpnd up; "
			 "those of up stay until vpnd down (needs vpnd down and up)",
			 d->opts->config_path);
	/* A swap, not a copy: the old config (the caller's at the first
	 * reload, held's later) is freed by its owner with fresh's hooks. */
	reload_keep_hooks(&fresh, (struct config *)*cfg);
	config_free(held);
	*held = fresh;
	*cfg = held;
}

/* After the interface is gone: its policy rules, nftables table, sysctl
 * and DNS. A kill switch stays when the daemon died unasked, and the DNS
 * with it (queries to other servers would leak). */
static void full_tunnel_down(const char *ifname, bool keep_kill_switch)
{
	char err[512] = "";

	switch (fulltunnel_undo(ifname, keep_kill_switch, err, sizeof(err))) {
	case FULLTUNNEL_FAILED:
		log_error("%s: full tunnel: %s", ifname, err);
		break;
	case FULLTUNNEL_KEPT:
		log_warn("%s: daemon gone: kill switch holds (no traffic outside the "
			 "tunnel) until vpnd down %s", ifname, ifname);
		return;
	default:
		break;
	}
	dns_undo(ifname);
}

/* SaveConfig = true, at vpnd down after PreDown (as wg-quick): the
 * running peers and endpoints back into the config file. */
static void save_config(struct daemon *d, const struct config *cfg)
{
	struct running_state rs;
	char err[PATH_MAX + 256];

	if (!cfg || !cfg->save_config || !d->opts->config_path)
		return;
	if (saveconf_fetch(d->dev.ifname, &rs, err, sizeof(err)) < 0 ||
	    saveconf_write(d->opts->config_path, cfg, &rs, err, sizeof(err)) < 0)
		log_error("%s: %s", d->dev.ifname, err);
	else
		log_info("%s: SaveConfig: wrote %s", d->dev.ifname, d->opts->config_path);
	running_state_free(&rs);
}

/* The port the broker may bind below 1024: the config's own (broker.h). */
static void allow_config_port(struct broker *b, const struct config *cfg)
{
	broker_allow_port(b, cfg && cfg->has_listen_port ? cfg->listen_port : 0);
}

/* Before a reload: the new config's privileged port may be bound while it
 * is applied (the old one stays allowed if the file has an error). */
static void allow_reloaded_port(struct broker *b, const char *path)
{
	struct config next = { 0 };
	char err[256];

	if (path && config_load(&next, path, err, sizeof(err), NULL) == CONFIG_OK &&
	    next.has_listen_port && next.listen_port < 1024)
		broker_allow_port(b, next.listen_port);
	config_free(&next);
}

/* Waits for the worker; SIGTERM/SIGINT run PreDown while the interface is
 * still there, then stop the worker; SIGHUP reloads. */
static int monitor_main(struct daemon *d, pid_t worker, int chan, int events)
{
	const struct config *cfg = d->opts->cfg;
	struct config reloaded = { 0 };
	struct broker broker = { .fd = -1, .events_fd = -1 };
	struct resolver res;
	sigset_t mask;
	int status = 0, sig;
	bool asked = false;	/* stopped by a signal, not a crash */
	char err[512];

	/* Without it the worker has no way to a new socket and nobody sees
	 * the link go: stop. */
	allow_config_port(&broker, cfg);
	if (broker_start(&broker, chan, events, d->dev.ifname, &d->link, worker, err,
			 sizeof(err)) < 0) {
		log_error("%s: %s", d->dev.ifname, err);
		kill(worker, SIGTERM);
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGUSR1);
	resolver_init(&res, d->dev.ifname);
	for (;;) {
		struct timespec ts;

		/* Host-name endpoints: re-resolved periodically, or now on
		 * SIGUSR1 (resolve.h). */
		sig = sigtimedwait(&mask, NULL, resolver_timeout(&res, cfg, &ts));
		if (sig < 0 || sig == SIGUSR1) {
			if (sig == SIGUSR1 || errno == EAGAIN)
				resolver_run(&res, cfg);
			continue;
		}
		if (sig == SIGCHLD) {
			if (waitpid(worker, &status, WNOHANG) == worker)
				break;
			continue;
		}
		if (sig == SIGHUP) {
			allow_reloaded_port(&broker, d->opts->config_path);
			monitor_reload(d, &reloaded, &cfg);
			allow_config_port(&broker, cfg);
			continue;
		}
		log_info("%s: signal %d, shutting down", d->dev.ifname, sig);
		asked = true;
		if (cfg)
			run_hooks(cfg->pre_down, cfg->n_pre_down, d->dev.ifname);
		save_config(d, cfg);
		kill(worker, SIGTERM);
	}
	resolver_free(&res);
	broker_stop(&broker);
	full_tunnel_down(d->dev.ifname, !asked);
	if (cfg)
		run_hooks(cfg->post_down, cfg->n_post_down, d->dev.ifname);
	remove_files(d);
	config_free(&reloaded);
	log_info("%s: down", d->dev.ifname);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* vpnd up --netns: keys, peers and the UDP socket here, then the link
 * moves and gets its MTU, addresses, state and routes over there through
 * a netlink socket opened there. No full-tunnel rules and no DNS: the
 * namespace's only way out is the tunnel, and its resolv.conf is the
 * operator's (/etc/netns/NAME/resolv.conf). PostUp runs here. */
static int start_in_netns(struct daemon *d, char *err, size_t err_len)
{
	const struct config *cfg = d->opts->cfg;
	struct nl *there = NULL;
	int nsfd, ret;

	nsfd = netns_open(d->opts->netns, err, err_len);
	if (nsfd < 0)
		return nsfd;
	ret = device_apply_config(&d->dev, cfg, err, err_len);
	if (ret < 0)
		goto out;
	ret = nl_link_set_netns(d->nl, d->dev.ifindex, nsfd, d->opts->netns, err, err_len);
	if (ret < 0)
		goto out;
	/* Followed there by the watch: the namespace's id here (given by
	 * the move) and the link's index there. */
	d->link.where = LINK_MOVED;
	d->link.nsid = nl_netns_id(d->nl, nsfd);
	if (d->link.nsid < 0)
		d->link.nsid = NL_NSID_UNKNOWN;
	ret = netns_nl_open(nsfd, d->opts->netns, d->dev.ifname, &there, &d->dev.ifindex, err,
			    err_len);
	if (ret < 0)
		goto out;
	d->link.ifindex = d->dev.ifindex;
	ret = interface_configure_link(there, &d->dev, cfg, err, err_len);
	if (ret < 0)
		goto out;
	log_info("%s: moved into network namespace %s; UDP socket stays here", d->dev.ifname,
		 d->opts->netns);
	ret = run_up_hooks("PostUp", cfg->post_up, cfg->n_post_up, d->dev.ifname, err, err_len);
out:
	nl_close(there);
	close(nsfd);
	return ret;
}

static int start(struct daemon *d, char *err, size_t err_len)
{
	const struct config *cfg = d->opts->cfg;
	char name[IFNAMSIZ];
	int fd;

	if (uapi_alive(d->opts->ifname) || nl_ifindex(d->opts->ifname)) {
		snprintf(err, err_len, "%s is already up", d->opts->ifname);
		return -EEXIST;
	}
	if (cfg && d->opts->netns && cfg->n_dns + cfg->n_dns_search) {
		snprintf(err, err_len, "%s: DNS = with --netns: write the servers into "
			 "/etc/netns/%s/resolv.conf instead", d->opts->config_path,
			 d->opts->netns);
		return -EINVAL;
	}
	if (cfg && d->opts->netns && cfg->kill_switch)
		log_warn("%s: KillSwitch does nothing with --netns: the namespace's only way "
			 "out is the tunnel", d->opts->ifname);
	if (cfg && !d->opts->netns && fulltunnel_check(d->opts->ifname, cfg, err, err_len) < 0)
		return -EINVAL;
	/* What a crashed earlier run left (its kill switch included). */
	d->owns_ifname = true;
	full_tunnel_down(d->opts->ifname, false);
	if (device_init(&d->dev, d->opts->ifname) < 0) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	d->pre_up_ran = cfg != NULL;
	if (cfg && run_up_hooks("PreUp", cfg->pre_up, cfg->n_pre_up, d->opts->ifname, err,
				err_len) < 0)
		return -ECANCELED;
	d->nl = nl_open(err, err_len);
	if (!d->nl)
		return -EIO;
	fd = tun_open(d->opts->ifname, name,
		      getenv("VPND_NO_OFFLOAD") ? 0 : TUN_OPEN_VNET_HDR, err, err_len);
	if (fd < 0)
		return fd;
	d->dev.tun_fd = fd;
	if (!getenv("VPND_NO_OFFLOAD")) {
		unsigned offloads;

		d->dev.tun_vnet_hdr = true;
		if (tun_enable_offload(fd, &offloads) < 0)
			log_warn("%s: no TUN offloads: one packet per read", name);
		else if (!(offloads & TUN_OFF_USO4))
			log_debug("%s: no TUN USO (kernel before 6.2): UDP datagrams written one by one",
				  name);
		d->dev.tun_offloads = offloads;
	}
	d->dev.ifindex = nl_ifindex(name);
	d->link = (struct nl_link){ .ifindex = d->dev.ifindex, .nsid = NL_NSID_HERE,
				    .where = LINK_PRESENT };
	snprintf(d->link.ifname, sizeof(d->link.ifname), "%s", name);
	d->uapi_fd = uapi_listen(name, err, err_len);
	if (d->uapi_fd < 0)
		return -EIO;
	if (cfg && d->opts->netns)
		return start_in_netns(d, err, err_len);
	if (!cfg && device_bind(&d->dev, 0) < 0) {
		snprintf(err, err_len, "cannot bind a UDP socket");
		return -EIO;
	}
	if (interface_configure(d->nl, &d->dev, d->opts->cfg, err, err_len) < 0)
		return -EIO;
	if (cfg && fulltunnel_up(d->nl, name, d->dev.ifindex, cfg, d->dev.fwmark, err, err_len) < 0)
		return -EIO;
	if (cfg && dns_up(name, cfg, err, err_len) < 0)
		return -EIO;
	if (cfg && run_up_hooks("PostUp", cfg->post_up, cfg->n_post_up, name, err, err_len) < 0)
		return -ECANCELED;
	return 0;
}

/* A failed up leaves the host as it was (all or nothing): PreDown while
 * the interface is still there, then the interface (it goes with its TUN
 * fd, addresses and routes with it), the files and the full tunnel, then
 * PostDown. Down hooks run only if up got as far as running PreUp, so that
 * they can undo what the up hooks did. */
static void abort_up(struct daemon *d)
{
	const struct config *cfg = d->opts->cfg;

	if (cfg && d->pre_up_ran && d->dev.tun_fd >= 0)
		run_hooks(cfg->pre_down, cfg->n_pre_down, d->opts->ifname);
	if (d->uapi_fd >= 0)
		remove_files(d);
	close_everything(d);
	if (d->owns_ifname)
		full_tunnel_down(d->opts->ifname, false);
	if (cfg && d->pre_up_ran)
		run_hooks(cfg->post_down, cfg->n_post_down, d->opts->ifname);
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon d = { .opts = o, .epoll_fd = -1, .uapi_fd = -1, .signal_fd = -1,
			    .registered_udp_fd = -1, .chan = { -1, -1 },
			    .events = { -1, -1 } };
	char err[512] = "";
	sigset_t mask;
	pid_t worker, monitor;
	int chan, events;

	d.dev.tun_fd = d.dev.udp_fd = -1;
	sandbox_close_inherited();
	sandbox_no_core();	/* the monitor holds every key during a reload */
	uapi_server_init(&d.uapi);
	/* Blocked from the start: a signal during set-up waits for the
	 * monitor, which then runs PreDown/PostDown and removes the files. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGUSR1);	/* the monitor's; blocked in the worker */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if (start(&d, err, sizeof(err)) < 0) {
		fprintf(stderr, "vpnd: %s\n", err);
		if (o->cfg)
			config_wipe_secrets(o->cfg);
		abort_up(&d);
		return 1;
	}
	if (o->cfg)
		config_wipe_secrets(o->cfg);	/* the device holds them now */
	log_info("%s: up, listening on UDP port %u", d.dev.ifname, d.dev.bound_port);
	/* From here a failure undoes what start() did to the host too (full
	 * tunnel, DNS, hooks), not only the files. */
	if (!o->foreground && !daemonize(&d)) {
		fprintf(stderr, "vpnd: fork: %s\n", strerror(errno));
		abort_up(&d);
		return 1;
	}
	if (o->foreground)
		write_pid_file(&d, getpid());
	monitor = getpid();
	if (broker_channel(d.chan) < 0 || broker_channel(d.events) < 0) {
		log_error("%s: socketpair: %s", d.dev.ifname, strerror(errno));
		abort_up(&d);
		return 1;
	}
	worker = fork();
	if (worker == 0)
		_exit(worker_main(&d, monitor));
	/* The monitor keeps no fd of the device: the interface must die with
	 * the worker. It keeps its end of the channel. */
	chan = d.chan[0];
	events = d.events[0];
	d.chan[0] = d.events[0] = -1;
	if (d.events[1] >= 0)
		close(d.events[1]);
	d.events[1] = -1;
	close_everything(&d);
	if (worker < 0) {
		close(chan);
		close(events);
		remove_files(&d);
		/* The interface went with close_everything: no PreDown. */
		full_tunnel_down(o->ifname, false);
		if (o->cfg)
			run_hooks(o->cfg->post_down, o->cfg->n_post_down, o->ifname);
		return 1;
	}
	log_debug("%s: monitor pid %d (root), worker pid %d (%s)", d.dev.ifname, (int)monitor,
		  (int)worker, sandbox_worker_user(false));
	return monitor_main(&d, worker, chan, events);
}
