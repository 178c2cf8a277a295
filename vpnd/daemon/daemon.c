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
#include "vpnd/datapath/crypto_pool.h"
#include "vpnd/datapath/device.h"
#include "vpnd/control/reload_apply.h"
#include "vpnd/common/log.h"
#include "vpnd/control/resolve.h"
#include "vpnd/control/routes.h"
#include "vpnd/daemon/sandbox.h"

#ifdef VPND_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif
#include "vpnd/control/uapi.h"

enum loop_event { EV_TUN = 1, EV_UDP, EV_UAPI, EV_WATCH, EV_SIGNAL };

struct daemon {
	struct device dev;
	const struct daemon_opts *opts;
	struct nl *nl;
	struct nl_watch *watch;
	int epoll_fd, uapi_fd, signal_fd, registered_udp_fd;
	bool running;
	char pid_path[128];
};

/* --- hooks ---------------------------------------------------------------- */

/* sh -c cmd with no signal blocked (the monitor blocks the ones it waits
 * for; a hook must not inherit that). 0 if it exited 0. */
static int run_shell(const char *cmd)
{
	sigset_t none;
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void run_hooks(char **cmds, size_t n, const char *ifname)
{
	for (size_t i = 0; i < n; i++) {
		char cmd[8192];
		size_t o = 0;

		/* %i is the interface name, as in wg-quick. */
		for (const char *s = cmds[i]; *s && o + IFNAMSIZ + 1 < sizeof(cmd); s++) {
			if (s[0] == '%' && s[1] == 'i') {
				o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%s", ifname);
				s++;
			} else {
				cmd[o++] = *s;
			}
		}
		cmd[o] = '\0';
		log_info("running hook: %s", cmd);
		if (run_shell(cmd) != 0)
			log_warn("hook failed: %s", cmd);
	}
}

/* --- interface set-up ------------------------------------------------------ */

static int add_routes(struct daemon *d, char *err, size_t err_len)
{
	const struct config *cfg = d->opts->cfg;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips; j++) {
			const struct ip_prefix *p = &cfg->peers[i].allowed_ips[j];
			int ret;

			if (route_covered_by_address(cfg, p))
				continue;
			if (p->cidr == 0) {
				/* A default route through the tunnel would also
				 * carry the tunnel's own UDP: needs policy
				 * routing, which vpnd does not set up yet. */
				log_warn("%s: not installing a default route for %s/0; "
					 "add policy routing yourself",
					 d->dev.ifname, p->family == AF_INET ? "0.0.0.0" : "::");
				continue;
			}
			ret = nl_route_add(d->nl, d->dev.ifindex, p->family, p->addr, p->cidr,
					   err, err_len);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static int setup_interface(struct daemon *d, char *err, size_t err_len)
{
	const struct config *cfg = d->opts->cfg;
	unsigned mtu = cfg && cfg->mtu ? cfg->mtu : CONFIG_DEFAULT_MTU;
	int ret;

	ret = nl_link_set_mtu(d->nl, d->dev.ifindex, mtu, err, err_len);
	if (ret < 0 || !cfg)
		return ret;
	d->dev.mtu = mtu;
	for (size_t i = 0; i < cfg->n_addresses; i++) {
		const struct ip_prefix *a = &cfg->addresses[i];

		ret = nl_addr_add(d->nl, d->dev.ifindex, a->family, a->addr, a->cidr, err, err_len);
		if (ret < 0)
			return ret;
	}
	ret = device_apply_config(&d->dev, cfg, err, err_len);
	if (ret < 0)
		return ret;
	ret = nl_link_set_up(d->nl, d->dev.ifindex, true, err, err_len);
	if (ret < 0)
		return ret;
	return add_routes(d, err, err_len);
}

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

/* One read gives one packet, or with offloads a super-packet that is split
 * into MTU-sized packets straight into the send batch. */
static void tun_read_one(struct device *dev, size_t n, uint64_t now)
{
	struct gso_iter it;
	size_t len;

	if (gso_begin(&it, dev->tun_read_buf, n) != GSO_OK) {
		device_count_drop(dev, DROP_INNER_INVALID);
		return;
	}
	for (;;) {
		uint8_t *slot = dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN;

		len = gso_next(&it, slot, TX_BUF_LEN - MSG_TRANSPORT_HEADER_LEN - 32);
		if (!len)
			break;
		send_from_tun(dev, slot, len, now);
	}
}

static void handle_tun(struct daemon *d, uint64_t now)
{
	struct device *dev = &d->dev;

	/* Bounded rounds so the UDP side and the timers get their turn. */
	for (int round = 0; round < 2 * BATCH_MAX; round++) {
		uint8_t *slot = dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN;
		uint8_t *dst = dev->tun_vnet_hdr ? dev->tun_read_buf : slot;
		size_t cap = dev->tun_vnet_hdr ? PACKET_BUF_LEN : TX_BUF_LEN - 64;
		ssize_t n = read(dev->tun_fd, dst, cap);

		if (n < 0) {
			if (errno == EBADFD || errno == EIO)
				d->running = false;	/* interface deleted */
			break;
		}
		if (dev->tun_vnet_hdr)
			tun_read_one(dev, (size_t)n, now);
		else
			send_from_tun(dev, slot, (size_t)n, now);
	}
	send_flush(dev);
}

static void normalise_source(union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr)) {
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = a->in6.sin6_port };

		memcpy(&in.sin_addr, &a->in6.sin6_addr.s6_addr[12], 4);
		memset(a, 0, sizeof(*a));
		a->in = in;
	}
}

/* With UDP GRO one datagram may hold several WireGuard messages of
 * seg bytes each (the last may be shorter): each is handled on its own. */
static void receive_datagram(struct device *dev, uint8_t *buf, size_t len, size_t seg,
			     const union sockaddr_any *src, uint64_t now)
{
	/* With a crypto pool the batch is taken whole (receive_batch_add). */
	void (*receive)(struct device *, uint8_t *, size_t, const union sockaddr_any *,
			uint64_t) = dev->pool ? receive_batch_add : receive_packet;

	if (!seg || seg >= len) {
		receive(dev, buf, len, src, now);
		return;
	}
	for (size_t off = 0; off < len; off += seg)
		receive(dev, buf + off, len - off < seg ? len - off : seg, src, now);
}

static size_t gro_segment_size(struct msghdr *h)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
			int seg;

			memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
			return seg > 0 ? (size_t)seg : 0;
		}
	}
	return 0;
}

static void handle_udp(struct daemon *d, uint64_t now)
{
	struct device *dev = &d->dev;
	static struct mmsghdr msgs[BATCH_MAX];
	static struct iovec iov[BATCH_MAX];
	static union sockaddr_any src[BATCH_MAX];
	static union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg[BATCH_MAX];

	for (int round = 0; round < 8; round++) {
		int n;

		for (int i = 0; i < BATCH_MAX; i++) {
			iov[i].iov_base = dev->rx_bufs[i];
			iov[i].iov_len = PACKET_BUF_LEN;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &src[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(src[i]);
			msgs[i].msg_hdr.msg_control = cmsg[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof(cmsg[i].buf);
		}
		n = recvmmsg(dev->udp_fd, msgs, BATCH_MAX, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			normalise_source(&src[i]);
			receive_datagram(dev, dev->rx_bufs[i], msgs[i].msg_len,
					 gro_segment_size(&msgs[i].msg_hdr), &src[i], now);
		}
		if (dev->pool)
			receive_batch_end(dev, now);
		receive_flush(dev);	/* before rx_bufs are reused */
		send_flush(dev);
		if (n < BATCH_MAX)
			break;
	}
}

static void handle_uapi(struct daemon *d)
{
	int fd;

	while ((fd = accept4(d->uapi_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		uapi_serve_connection(&d->dev, fd);
		sync_udp_registration(d);
		send_flush(&d->dev);
	}
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

static int loop_timeout_ms(const struct device *dev, uint64_t now)
{
	uint64_t next = timer_heap_next(dev);

	if (!next)
		return -1;
	if (next <= now)
		return 0;
	return (int)((next - now + MSEC_NS - 1) / MSEC_NS);
}

static void run_loop(struct daemon *d)
{
	struct epoll_event evs[8];

	d->running = true;
	while (d->running) {
		uint64_t now = now_monotonic_ns();
		int n = epoll_wait(d->epoll_fd, evs, 8, loop_timeout_ms(&d->dev, now));

		now = now_monotonic_ns();
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EV_TUN:
				if (evs[i].events & (EPOLLERR | EPOLLHUP))
					d->running = false;
				else
					handle_tun(d, now);
				break;
			case EV_UDP: handle_udp(d, now); break;
			case EV_UAPI: handle_uapi(d); break;
			case EV_WATCH:
				if (nl_watch_link_gone(d->watch, d->dev.ifindex))
					d->running = false;
				break;
			case EV_SIGNAL: handle_signal(d); break;
			}
		}
		timer_heap_run(&d->dev, now_monotonic_ns());
		send_flush(&d->dev);
	}
}

/* --- start and stop ------------------------------------------------------ */

static int open_loop_fds(struct daemon *d, char *err, size_t err_len)
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
	d->watch = nl_watch_open(err, err_len);
	if (d->signal_fd < 0 || d->epoll_fd < 0 || !d->watch)
		return -1;
	epoll_add(d->epoll_fd, d->dev.tun_fd, EV_TUN);
	epoll_add(d->epoll_fd, d->uapi_fd, EV_UAPI);
	epoll_add(d->epoll_fd, nl_watch_fd(d->watch), EV_WATCH);
	epoll_add(d->epoll_fd, d->signal_fd, EV_SIGNAL);
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
 * child carries on as the monitor. stdio goes to /dev/null, or to $VPND_LOG
 * if set; stdout and stderr stay where they are if they are the journal. */
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

		dup2(fd, STDIN_FILENO);
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
	if (d->uapi_fd >= 0)
		close(d->uapi_fd);
	if (d->dev.tun_fd >= 0)
		close(d->dev.tun_fd);
	d->uapi_fd = d->dev.tun_fd = -1;
	if (d->dev.peer_buckets)
		device_destroy(&d->dev);
	if (d->watch)
		nl_watch_close(d->watch);
	if (d->nl)
		nl_close(d->nl);
	if (d->epoll_fd >= 0)
		close(d->epoll_fd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	d->watch = NULL;
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

/* The packet-handling process: unprivileged, sandboxed, runs the loop. */
static int worker_main(struct daemon *d, pid_t monitor)
{
	const char *user = getenv("VPND_USER");
	const char *why;
	/* Counted now: the sandbox forbids what sysconf reads. */
	unsigned threads = crypto_threads_wanted(&why);
	char err[512] = "";

	prctl(PR_SET_PDEATHSIG, SIGTERM);	/* never outlive the monitor */
	/* Set-up is over: the worker keeps no route-netlink socket. */
	nl_close(d->nl);
	d->nl = NULL;
	/* A signalfd polled through epoll wakes only the process that made it:
	 * the loop's fds are opened here, after the fork. */
	if (open_loop_fds(d, err, sizeof(err)) < 0 ||
	    sandbox_drop_privileges(user, err, sizeof(err)) != SANDBOX_OK)
		goto fail;
	/* Changing uid clears the parent-death signal (the kernel's
	 * commit_creds): set it again, then make sure the monitor did not die
	 * before that, or a kill -9 of the monitor would leave the worker,
	 * the interface and the socket running with a dead pid file. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != monitor) {
		snprintf(err, sizeof(err), "monitor gone");
		goto fail;
	}
#ifndef VPND_SANITIZED	/* the sanitizers' runtime needs more system calls */
	if (!getenv("VPND_NO_SECCOMP") && sandbox_install_seccomp(err, sizeof(err)) != SANDBOX_OK)
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
	config_free(held);
	*held = fresh;
	*cfg = held;
}

/* Waits for the worker; SIGTERM/SIGINT run PreDown while the interface is
 * still there, then stop the worker; SIGHUP reloads. */
static int monitor_main(struct daemon *d, pid_t worker)
{
	const struct config *cfg = d->opts->cfg;
	struct config reloaded = { 0 };
	struct resolver res;
	sigset_t mask;
	int status = 0, sig;

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
			monitor_reload(d, &reloaded, &cfg);
			continue;
		}
		log_info("%s: signal %d, shutting down", d->dev.ifname, sig);
		if (cfg)
			run_hooks(cfg->pre_down, cfg->n_pre_down, d->dev.ifname);
		kill(worker, SIGTERM);
	}
	resolver_free(&res);
	if (cfg)
		run_hooks(cfg->post_down, cfg->n_post_down, d->dev.ifname);
	remove_files(d);
	config_free(&reloaded);
	log_info("%s: down", d->dev.ifname);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
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
	if (device_init(&d->dev, d->opts->ifname) < 0) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	if (cfg)
		run_hooks(cfg->pre_up, cfg->n_pre_up, d->opts->ifname);
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
	}
	d->dev.ifindex = nl_ifindex(name);
	d->uapi_fd = uapi_listen(name, err, err_len);
	if (d->uapi_fd < 0)
		return -EIO;
	if (!cfg && device_bind(&d->dev, 0) < 0) {
		snprintf(err, err_len, "cannot bind a UDP socket");
		return -EIO;
	}
	if (setup_interface(d, err, err_len) < 0)
		return -EIO;
	if (cfg)
		run_hooks(cfg->post_up, cfg->n_post_up, name);
	return 0;
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon d = { .opts = o, .epoll_fd = -1, .uapi_fd = -1, .signal_fd = -1,
			    .registered_udp_fd = -1 };
	char err[512] = "";
	sigset_t mask;
	pid_t worker, monitor;

	d.dev.tun_fd = d.dev.udp_fd = -1;
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
		/* A half-made interface goes away with its TUN fd. */
		if (d.uapi_fd >= 0)
			remove_files(&d);
		close_everything(&d);
		return 1;
	}
	if (o->cfg)
		config_wipe_secrets(o->cfg);	/* the device holds them now */
	log_info("%s: up, listening on UDP port %u", d.dev.ifname, d.dev.bound_port);
	if (!o->foreground && !daemonize(&d)) {
		fprintf(stderr, "vpnd: fork: %s\n", strerror(errno));
		remove_files(&d);
		close_everything(&d);
		return 1;
	}
	if (o->foreground)
		write_pid_file(&d, getpid());
	monitor = getpid();
	worker = fork();
	if (worker == 0)
		_exit(worker_main(&d, monitor));
	/* The monitor keeps no fd of the device: the interface must die with
	 * the worker. */
	close_everything(&d);
	if (worker < 0) {
		remove_files(&d);
		return 1;
	}
	log_debug("%s: monitor pid %d (root), worker pid %d (%s)", d.dev.ifname, (int)monitor,
		  (int)worker, getenv("VPND_USER") ? getenv("VPND_USER") : SANDBOX_DEFAULT_USER);
	return monitor_main(&d, worker);
}
