/* Puts itself where the daemon's worker is (vpnd's user, no capability,
 * vpnd's seccomp filter) and tries what the worker must never do: prints
 * one line per probe, "refused (killed)", "refused (EPERM)",
 * "refused (EACCES)" or "ALLOWED", and exits 0 only if every forbidden call
 * was refused and the allowed ones still work. The io_uring probes get a
 * ring made as the worker makes its TUN ring (tun/tun_ring.h: after the
 * privileges are dropped, before the filter, locked down), on a packet
 * socket pair standing in for the TUN: the filter lets io_uring_enter
 * through, so what an SQE may do is the ring's restrictions' to refuse
 * (EACCES); where this kernel has no such io_uring they say "skipped". Each probe runs in a child of its own, since a
 * forbidden system call ends the process. Run it inside a test's network
 * namespace: a probe that wrongly succeeds changes that namespace only.
 * $VPND_USER as for the daemon (default nobody). */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tun/tun_ring.h"
#include "vpnd/daemon/sandbox.h"

/* <linux/netfilter_ipv4/ip_tables.h>: IPT_BASE_CTL + 0; not included, as
 * it clashes with glibc's headers. */
#define PROBE_IPT_SO_GET_INFO 64

enum outcome { OUT_ALLOWED = 0, OUT_EPERM = 1, OUT_SETUP = 2, OUT_OTHER = 3, OUT_EACCES = 4,
	       OUT_SKIPPED = 5 };

/* Made before the filter, as the worker inherits its fds. */
static int netlink_fd = -1, udp_fd = -1;

static void *thread_main(void *arg)
{
	return arg;
}

static int make_thread(void)
{
	pthread_t t;
	void *ret = NULL;
	int err = pthread_create(&t, NULL, thread_main, (void *)&make_thread);

	if (err) {
		errno = err;
		return -1;
	}
	return pthread_join(t, &ret) == 0 && ret == (void *)&make_thread ? 0 : -1;
}

/* RTM_NEWROUTE 198.18.255.0/24 dev lo on the inherited route socket; the
 * kernel's answer is the ack's error. */
static int new_route(void)
{
	struct {
		struct nlmsghdr h;
		struct rtmsg r;
		struct rtattr dst_a;
		uint8_t dst[4];
		struct rtattr oif_a;
		int oif;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_NEWROUTE,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL },
		.r = { .rtm_family = AF_INET, .rtm_dst_len = 24, .rtm_table = RT_TABLE_MAIN,
		       .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_LINK,
		       .rtm_type = RTN_UNICAST },
		.dst_a = { .rta_len = RTA_LENGTH(4), .rta_type = RTA_DST },
		.dst = { 198, 18, 255, 0 },
		.oif_a = { .rta_len = RTA_LENGTH(sizeof(int)), .rta_type = RTA_OIF },
		.oif = 1,
	};
	char buf[512];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	ssize_t n;

	if (send(netlink_fd, &req, sizeof(req), 0) < 0)
		return -1;
	n = recv(netlink_fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -1;
	if (n >= (ssize_t)(sizeof(*h) + sizeof(struct nlmsgerr)) && h->nlmsg_type == NLMSG_ERROR) {
		int e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;

		errno = -e;
		return e ? -1 : 0;
	}
	errno = EPROTO;
	return -1;
}

static int ipt_get_info(void)
{
	char info[128];
	socklen_t len = sizeof(info);

	strcpy(info, "filter");
	return getsockopt(udp_fd, IPPROTO_IP, PROBE_IPT_SO_GET_INFO, info, &len);
}

static int ip_transparent(void)
{
	int one = 1;

	return setsockopt(udp_fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one));
}

static int so_mark(void)
{
	int mark = 1;

	return setsockopt(udp_fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
}

static int exec_mapping(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? -1 : 0;
}

static int make_executable(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -2;	/* the allowed half failed: not a refusal */
	return mprotect(p, 4096, PROT_READ | PROT_EXEC);
}

static int rw_mapping(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? -1 : munmap(p, 4096);
}

static int rcv_timeout(void)
{
	struct timeval tv = { .tv_sec = 1 };

	return setsockopt(udp_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int pktinfo(void)
{
	int one = 1;

	return setsockopt(udp_fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
}

static int recvtos(void)
{
	int one = 1;

	return setsockopt(udp_fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
}

static int make_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static int open_passwd(void) { return open("/etc/passwd", O_RDONLY); }
static int do_fork(void) { return (int)fork(); }
static int do_unlink(void) { return unlink("/tmp/vpnd-seccomp-probe"); }
static int netlink_socket(void) { return socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE); }
static int tcp_socket(void) { return socket(AF_INET, SOCK_STREAM, 0); }
static int udp_socket(void) { return socket(AF_INET6, SOCK_DGRAM, 0); }
static int get_pid(void) { return getpid() > 0 ? 0 : -1; }
/* Signal 0 to the parent (another process of the same user as root). */
static pid_t prober;	/* the probes' parent, known before the filter */
static int signal_other(void) { return (int)syscall(SYS_tgkill, prober, prober, 0); }
static int signal_self(void) { return (int)syscall(SYS_tgkill, getpid(), gettid(), 0); }

/* --- io_uring ------------------------------------------------------------ */

static int ring_pair[2] = { -1, -1 };	/* [0] read through the ring */
static struct tun_ring *ring;
static int ring_epoll = -1;	/* the loop's epoll, made before the filter */

/* The worker's order: privileges dropped, ring made, then the filter.
 * 0, or OUT_SKIPPED where this kernel or its policy gives no such ring. */
static int make_ring(void)
{
	char err[256];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ring_pair) < 0)
		return OUT_SETUP;
	ring_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (ring_epoll < 0)
		return OUT_SETUP;
	ring = tun_ring_open(ring_pair[0], 2048, 8, err, sizeof(err));
	if (ring)
		return 0;
	return errno == ENOSYS || errno == EPERM || errno == EOPNOTSUPP || errno == EINVAL ?
	       OUT_SKIPPED : OUT_SETUP;
}

/* One SQE on the worker's ring; its completion's result as -1/errno. */
static int ring_sqe(void (*prep)(struct io_uring_sqe *))
{
	struct io_uring *u = tun_ring_raw(ring);
	struct io_uring_sqe *sqe = io_uring_get_sqe(u);
	struct io_uring_cqe *cqe;
	int res;

	if (!sqe)
		return -2;
	prep(sqe);
	io_uring_sqe_set_data64(sqe, 0x5ec);
	if (io_uring_submit(u) != 1 || io_uring_wait_cqe(u, &cqe) < 0)
		return -2;
	res = cqe->res;
	io_uring_cqe_seen(u, cqe);
	if (res >= 0)
		return 0;
	errno = -res;
	return -1;
}

static void prep_openat(struct io_uring_sqe *sqe)
{
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
}

static void prep_socket(struct io_uring_sqe *sqe)
{
	io_uring_prep_socket(sqe, AF_INET, SOCK_DGRAM, 0, 0);
}

static void prep_fixed_openat(struct io_uring_sqe *sqe)
{
	prep_openat(sqe);
	sqe->flags |= IOSQE_FIXED_FILE;
}

static int ring_openat(void) { return ring_sqe(prep_openat); }
static int ring_fixed_openat(void) { return ring_sqe(prep_fixed_openat); }
static int ring_socket(void) { return ring_sqe(prep_socket); }

static int new_ring(void)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	return (int)syscall(SYS_io_uring_setup, 4, &p);
}

/* A worker that reads with read() holds no ring: io_uring_enter is not in
 * its filter at all. */
static int ring_enter_nothing(void)
{
	return (int)syscall(SYS_io_uring_enter, 0, 0, 0, 0, NULL, 0);
}

static int ring_register_files(void)
{
	return (int)syscall(SYS_io_uring_register, ((struct io_uring *)tun_ring_raw(ring))->ring_fd,
			    IORING_REGISTER_FILES, &ring_pair[1], 1);
}

static int got_packets;

static void count_packet(void *ctx, uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)pkt;
	(void)len;
	got_packets++;
}

/* What the worker does with it: a packet in, woken by the eventfd, reaped,
 * then the ring closed (its file unregistered) as at stop. */
static int ring_read(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = ring_epoll;

	if (epoll_ctl(ep, EPOLL_CTL_ADD, tun_ring_fd(ring), &ev) < 0 ||
	    write(ring_pair[1], "packet", 6) != 6)
		return -2;
	while (!got_packets) {
		int n = epoll_wait(ep, &ev, 1, 2000);

		if (n < 0 && errno == EINTR)	/* the ring's task work */
			continue;
		if (n != 1 || tun_ring_reap(ring, count_packet, NULL) != TUN_RING_OK)
			return -2;
	}
	tun_ring_close(ring);
	ring = NULL;
	return 0;
}

static int do_exec(void)
{
	char *const argv[] = { "/bin/true", NULL };

	return execve(argv[0], argv, NULL);
}

static int (*prepare)(void);	/* run between the two, as make_ring */

/* In a child: become the worker, run fn, say how it went. */
static enum outcome in_child(int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char err[256];
		int r;

		if (sandbox_drop_privileges(getenv("VPND_USER"), err, sizeof(err)) != SANDBOX_OK) {
			fprintf(stderr, "%s\n", err);
			_exit(OUT_SETUP);
		}
		r = prepare ? prepare() : 0;
		if (r)
			_exit(r);
		/* With a ring, the worker's filter for a worker with a ring. */
		if (sandbox_install_seccomp(ring != NULL, err, sizeof(err)) != SANDBOX_OK) {
			fprintf(stderr, "%s\n", err);
			_exit(OUT_SETUP);
		}
		r = fn();
		_exit(r >= 0 ? OUT_ALLOWED : r == -1 && errno == EPERM ? OUT_EPERM :
		      r == -1 && errno == EACCES ? OUT_EACCES : OUT_OTHER);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return OUT_SETUP;
	if (WIFSIGNALED(status))
		return WTERMSIG(status) == SIGSYS ? 128 + SIGSYS : OUT_OTHER;
	return WEXITSTATUS(status);
}

static int probe(const char *what, int (*fn)(void), int want_refused)
{
	int out = in_child(fn);
	int refused = out == OUT_EPERM || out == OUT_EACCES || out == 128 + SIGSYS;
	const char *said = out == OUT_ALLOWED ? "ALLOWED" : out == OUT_EPERM ? "refused (EPERM)" :
			   out == OUT_EACCES ? "refused (EACCES)" :
			   out == 128 + SIGSYS ? "refused (killed)" :
			   out == OUT_SKIPPED ? "skipped (no io_uring with multishot read)" :
			   out == OUT_SETUP ? "SET-UP FAILED" : "FAILED OTHERWISE";

	printf("%-52s %s\n", what, said);
	fflush(stdout);
	if (out == OUT_SKIPPED)
		return 0;
	return out == OUT_SETUP ? 1 : want_refused ? !refused : out != OUT_ALLOWED;
}

int main(void)
{
	int bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	prober = getpid();
	netlink_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (netlink_fd < 0 || udp_fd < 0) {
		perror("seccomp_probe: socket");
		return 2;
	}
	bad |= probe("openat(\"/etc/passwd\")", open_passwd, 1);
	bad |= probe("execve(\"/bin/true\")", do_exec, 1);
	bad |= probe("fork()", do_fork, 1);
	bad |= probe("unlink(\"/tmp/x\")", do_unlink, 1);
	bad |= probe("socket(AF_NETLINK, SOCK_RAW)", netlink_socket, 1);
	bad |= probe("socket(AF_INET, SOCK_STREAM)", tcp_socket, 1);
	bad |= probe("socket(AF_INET6, SOCK_DGRAM)", udp_socket, 1);
	bad |= probe("RTM_NEWROUTE on an inherited netlink socket", new_route, 1);
	bad |= probe("getsockopt(IPT_SO_GET_INFO)", ipt_get_info, 1);
	bad |= probe("setsockopt(IP_TRANSPARENT)", ip_transparent, 1);
	bad |= probe("setsockopt(SO_MARK)", so_mark, 1);
	bad |= probe("mmap(PROT_EXEC)", exec_mapping, 1);
	bad |= probe("mprotect(PROT_EXEC)", make_executable, 1);
	bad |= probe("tgkill(another process)", signal_other, 1);
	bad |= probe("getpid() (needed)", get_pid, 0);
	bad |= probe("tgkill(itself) (needed)", signal_self, 0);
	bad |= probe("mmap(PROT_READ|PROT_WRITE) (needed)", rw_mapping, 0);
	bad |= probe("pthread_create() (needed)", make_thread, 0);
	bad |= probe("eventfd() (needed)", make_eventfd, 0);
	bad |= probe("setsockopt(SO_RCVTIMEO) (needed)", rcv_timeout, 0);
	bad |= probe("setsockopt(IP_PKTINFO) (needed)", pktinfo, 0);
	bad |= probe("setsockopt(IP_RECVTOS) (needed: ECN)", recvtos, 0);
	bad |= probe("io_uring_setup() (a new, unrestricted ring)", new_ring, 1);
	bad |= probe("io_uring_enter() without a TUN ring", ring_enter_nothing, 1);
	prepare = make_ring;
	bad |= probe("io_uring SQE openat on the worker's ring", ring_openat, 1);
	bad |= probe("io_uring SQE openat, IOSQE_FIXED_FILE, on it", ring_fixed_openat, 1);
	bad |= probe("io_uring SQE socket on the worker's ring", ring_socket, 1);
	bad |= probe("io_uring_register(FILES) on the worker's ring", ring_register_files, 1);
	bad |= probe("io_uring read of the TUN, then close (needed)", ring_read, 0);
	prepare = NULL;
	return bad;
}
