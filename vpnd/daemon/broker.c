/* The monitor <-> worker channel (broker.h). */
#include "vpnd/daemon/broker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tun/netlink.h"
#include "vpnd/common/log.h"

enum broker_op { BROKER_BIND = 1, BROKER_SET_MARK = 2 };

struct broker_req {
	uint32_t op;
	uint32_t mark;
	uint16_t port;
	uint16_t pad;
};

/* Monitor -> worker: the link's latest state. */
struct broker_link {
	uint32_t up;
	uint32_t mtu;		/* 0: the event carried none */
};

struct broker_reply {
	int32_t err;		/* 0 or an errno */
	int32_t family;		/* BROKER_BIND: AF_INET6 or AF_INET */
};

int broker_set_mark(int fd, uint32_t mark)
{
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ? -errno : 0;
}

int broker_channel(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

/* One record with at most one descriptor attached. Returns the record's
 * length (0: peer closed), or -1; *fd_out is the received fd or -1. */
static ssize_t recv_with_fd(int ch, void *buf, size_t len, int *fd_out)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} c;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			    .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *h;
	ssize_t n;

	*fd_out = -1;
	do
		n = recvmsg(ch, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	/* The other side is not trusted (the monitor reads the worker): every
	 * descriptor that came is closed unless it is the one expected, so
	 * that extra ones cannot pile up in the monitor. */
	for (h = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h)) {
		size_t nfd;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (*fd_out < 0 && nfd == 1 && !(m.msg_flags & MSG_CTRUNC))
				*fd_out = fd;
			else
				close(fd);
		}
	}
	return n;
}

static int send_with_fd(int ch, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		memset(&c, 0, sizeof(c));
		m.msg_control = c.buf;
		m.msg_controllen = sizeof(c.buf);
		CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &fd, sizeof(int));
	}
	do
		n = sendmsg(ch, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* --- monitor -------------------------------------------------------------- */

/* Only a UDP socket gets a mark: the worker may hand over anything. */
static bool is_udp_socket(int fd)
{
	int type = 0, proto = 0;
	socklen_t l1 = sizeof(type), l2 = sizeof(proto);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == 0 && type == SOCK_DGRAM &&
	       getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l2) == 0 &&
	       proto == IPPROTO_UDP;
}

void broker_allow_port(struct broker *b, uint16_t config_port)
{
	atomic_store(&b->low_port, config_port < 1024 ? config_port : 0);
}

bool broker_port_allowed(const struct broker *b, uint16_t port)
{
	return port == 0 || port >= 1024 ||
	       port == atomic_load(&((struct broker *)b)->low_port);
}

/* Answers one request. 0: the worker closed the channel; -1: broken. */
static int serve_one(struct broker *b)
{
	struct broker_req rq;
	struct broker_reply rp = { 0 };
	int fd, out = -1, ret;
	ssize_t n = recv_with_fd(b->fd, &rq, sizeof(rq), &fd);

	if (n <= 0)
		return n == 0 ? 0 : -1;
	if (n != sizeof(rq)) {
		rp.err = EINVAL;
	} else if (rq.op == BROKER_BIND && !broker_port_allowed(b, rq.port)) {
		rp.err = EACCES;
		log_warn("%s: refused the worker a socket on privileged port %u: only the "
			 "config's ListenPort may be below 1024", b->ifname, rq.port);
	} else if (rq.op == BROKER_BIND) {
		out = device_open_udp(rq.port, rq.mark, &rp.family);
		rp.err = out < 0 ? -out : 0;
		log_debug("%s: UDP socket on port %u for the worker: %s", b->ifname, rq.port,
			  strerror(rp.err));
	} else if (rq.op == BROKER_SET_MARK && fd >= 0 && is_udp_socket(fd)) {
		rp.err = -broker_set_mark(fd, rq.mark);
	} else {
		rp.err = EINVAL;
	}
	ret = send_with_fd(b->fd, &rp, sizeof(rp), out);
	if (fd >= 0)
		close(fd);
	if (out >= 0)
		close(out);	/* the worker's now; the monitor keeps none */
	return ret < 0 ? -1 : 1;
}

static void send_link(struct broker *b, bool up, unsigned mtu)
{
	struct broker_link ev = { .up = up, .mtu = mtu };

	(void)send(b->events_fd, &ev, sizeof(ev), MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Moves are logged; the worker goes on (its TUN fd and UDP socket keep
 * working wherever the link is). */
static void log_where(struct broker *b, enum nl_link_where was)
{
	if (b->link.where == LINK_MOVED && was != LINK_MOVED)
		log_info("%s: moved to another network namespace (%s); its UDP socket "
			 "stays in this one", b->ifname,
			 b->link.nsid >= 0 ? "followed there" : "not seen from here");
	else if (b->link.where == LINK_PRESENT && was != LINK_PRESENT)
		log_info("%s: back in this network namespace as ifindex %u", b->ifname,
			 b->link.ifindex);
}

/* Deletion stops the worker; any other news of the link goes to it. A
 * full events socket drops the record: the worker is behind on events it
 * will catch up with at the next one (each carries the whole state). A
 * link moved where the watch cannot follow it counts as up: the move
 * closed it (the kernel does), and nothing here would ever open it. */
static void link_event(struct broker *b)
{
	enum nl_link_where was = b->link.where;

	if (nl_watch_link(b->watch, &b->link) == LINK_GONE) {
		log_info("%s: interface deleted, stopping", b->ifname);
		kill(b->worker, SIGTERM);
		return;
	}
	log_where(b, was);
	if (b->link.where == LINK_MOVED && b->link.nsid < 0)
		send_link(b, true, 0);
	else if (b->link.seen)
		send_link(b, b->link.up, b->link.mtu);
}

static void *serve(void *arg)
{
	struct broker *b = arg;
	struct pollfd p[2] = { { .fd = b->fd, .events = POLLIN },
			       { .fd = nl_watch_fd(b->watch), .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents & POLLIN)
			link_event(b);
		if (p[0].revents && serve_one(b) <= 0)
			break;
	}
	return NULL;
}

int broker_start(struct broker *b, int fd, int events_fd, const char *ifname,
		 const struct nl_link *link, pid_t worker, char *err, size_t err_len)
{
	int ret;

	b->fd = fd;
	b->events_fd = events_fd;
	b->link = *link;
	b->worker = worker;
	snprintf(b->ifname, sizeof(b->ifname), "%s", ifname);
	b->watch = nl_watch_open(err, err_len);
	if (!b->watch)
		return -1;
	ret = pthread_create(&b->thread, NULL, serve, b);
	if (ret) {
		snprintf(err, err_len, "cannot start the monitor's thread: %s", strerror(ret));
		return -1;
	}
	b->started = true;
	return 0;
}

void broker_stop(struct broker *b)
{
	if (b->started)
		pthread_join(b->thread, NULL);
	b->started = false;
	if (b->watch)
		nl_watch_close(b->watch);
	b->watch = NULL;
	if (b->fd >= 0)
		close(b->fd);
	if (b->events_fd >= 0)
		close(b->events_fd);
	b->fd = b->events_fd = -1;
}

/* --- worker --------------------------------------------------------------- */

static int ask(int ch, const struct broker_req *rq, int fd, struct broker_reply *rp, int *got)
{
	ssize_t n;

	*got = -1;
	if (send_with_fd(ch, rq, sizeof(*rq), fd) < 0)
		return -EIO;
	n = recv_with_fd(ch, rp, sizeof(*rp), got);
	if (n != sizeof(*rp)) {
		if (*got >= 0)
			close(*got);
		*got = -1;
		return -EIO;
	}
	return -rp->err;
}

static int worker_open(void *ctx, uint16_t port, uint32_t fwmark, int *family)
{
	struct broker_req rq = { .op = BROKER_BIND, .port = port, .mark = fwmark };
	struct broker_reply rp;
	int fd, ret = ask(*(int *)ctx, &rq, -1, &rp, &fd);

	if (ret == 0 && fd < 0)
		ret = -EIO;
	if (ret < 0) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	*family = rp.family;
	return fd;
}

static int worker_set_mark(void *ctx, int fd, uint32_t fwmark)
{
	struct broker_req rq = { .op = BROKER_SET_MARK, .mark = fwmark };
	struct broker_reply rp;
	int got, ret = ask(*(int *)ctx, &rq, fd, &rp, &got);

	if (got >= 0)
		close(got);
	return ret;
}

const struct udp_socket_ops broker_udp_ops = { .open = worker_open,
					       .set_mark = worker_set_mark };

bool broker_read_link(int events_fd, bool *up, unsigned *mtu)
{
	struct broker_link ev;

	if (recv(events_fd, &ev, sizeof(ev), MSG_DONTWAIT) != (ssize_t)sizeof(ev))
		return false;
	*up = ev.up != 0;
	*mtu = ev.mtu;
	return true;
}
