/* Unit tests for the io_uring TUN reader (tun/tun_ring.c), on a
 * SOCK_SEQPACKET socket pair standing in for the TUN (one packet per read,
 * end of file when the other end goes, as a deleted TUN's EBADFD):
 *  - a lone packet is handed over at the first reap, packets keep their
 *    order, more packets than buffers all arrive (the read is re-armed when
 *    it ran out of buffers);
 *  - the ring is locked down: openat, socket, a plain read, a read on a
 *    descriptor that is not the registered one, and io_uring_register
 *    calls are refused (-EACCES), so io_uring cannot get round the worker's
 *    seccomp filter;
 *  - the other end closing says GONE; closing with the read armed and
 *    packets queued frees everything (ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tun/tun_ring.h"

struct got {
	unsigned n;
	uint32_t seq[512];
	size_t len[512];
};

struct fixture {
	int fds[2];		/* [0] read through the ring, [1] the writer */
	int epfd;		/* the ring's fd in it, as in the daemon's loop */
	struct tun_ring *r;
	struct got got;
};

static void on_packet(void *ctx, uint8_t *pkt, size_t len)
{
	struct got *g = ctx;

	assert_true(len >= 4);
	assert_true(g->n < 512);
	memcpy(&g->seq[g->n], pkt, 4);
	g->len[g->n++] = len;
}

static int open_with(struct fixture *f, unsigned nbufs)
{
	char err[256];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, f->fds) < 0)
		return -1;
	struct epoll_event ev = { .events = EPOLLIN };

	f->r = tun_ring_open(f->fds[0], 2048, nbufs, err, sizeof(err));
	if (!f->r) {
		print_message("tun_ring_open: %s\n", err);
		return -1;
	}
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(f->epfd >= 0);
	assert_int_equal(epoll_ctl(f->epfd, EPOLL_CTL_ADD, tun_ring_fd(f->r), &ev), 0);
	return 0;
}

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.fds[0] = f.fds[1] = f.epfd = -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tun_ring_close(f->r);
	for (int i = 0; i < 2; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	if (f->epfd >= 0)
		close(f->epfd);
	return 0;
}

/* Skipped, not failed, where this kernel or a policy gives no io_uring
 * with multishot reads: the daemon then reads with read(). */
static struct fixture *ring_or_skip(void **state, unsigned nbufs)
{
	struct fixture *f = *state;

	if (open_with(f, nbufs) < 0) {
		if (errno == ENOSYS || errno == EPERM || errno == EOPNOTSUPP || errno == EINVAL)
			skip();
		fail_msg("tun_ring_open: %s", strerror(errno));
	}
	return f;
}

static void send_seq(int fd, uint32_t seq, size_t len)
{
	uint8_t pkt[1500] = { 0 };

	memcpy(pkt, &seq, 4);
	assert_int_equal(write(fd, pkt, len), (ssize_t)len);
}

/* What the loop does: wait for the ring's fd (a missed wake-up would time
 * out here), then reap once. EINTR: the ring's read runs as task work of
 * this thread, which interrupts an epoll_wait asleep (the loop just goes
 * round). */
static enum tun_ring_result wait_and_reap(struct fixture *f)
{
	struct epoll_event ev;
	int n;

	do
		n = epoll_wait(f->epfd, &ev, 1, 2000);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		fail_msg("epoll_wait: %d (%s)", n, n < 0 ? strerror(errno) : "timed out");
	return tun_ring_reap(f->r, on_packet, &f->got);
}

static void test_lone_packet_at_once(void **state)
{
	struct fixture *f = ring_or_skip(state, 8);

	send_seq(f->fds[1], 7, 60);
	assert_int_equal(wait_and_reap(f), TUN_RING_OK);
	assert_int_equal(f->got.n, 1);
	assert_int_equal(f->got.seq[0], 7);
	assert_int_equal(f->got.len[0], 60);
	/* Nothing else: the ring's fd is quiet, another reap finds nothing. */
	{
		struct epoll_event ev;

		assert_int_equal(epoll_wait(f->epfd, &ev, 1, 0), 0);
	}
	assert_int_equal(tun_ring_reap(f->r, on_packet, &f->got), TUN_RING_OK);
	assert_int_equal(f->got.n, 1);
	/* And the next lone packet wakes the loop again. */
	send_seq(f->fds[1], 8, 61);
	while (f->got.n < 2)
		assert_int_equal(wait_and_reap(f), TUN_RING_OK);
	assert_int_equal(f->got.seq[1], 8);
}

/* 300 packets through 4 buffers: the read stops for lack of buffers again
 * and again and is re-armed; none is lost or reordered. */
static void test_order_beyond_buffers(void **state)
{
	struct fixture *f = ring_or_skip(state, 4);
	unsigned want = 300;

	/* In chunks of 50: the socket queues fewer than 300. */
	for (uint32_t i = 0; i < want; i++) {
		send_seq(f->fds[1], i, 64 + i % 200);
		if (i % 50 == 49)
			while (f->got.n <= i)
				assert_int_equal(wait_and_reap(f), TUN_RING_OK);
	}
	assert_int_equal(f->got.n, want);
	for (uint32_t i = 0; i < want; i++) {
		assert_int_equal(f->got.seq[i], i);
		assert_int_equal(f->got.len[i], 64 + i % 200);
	}
	assert_int_equal(tun_ring_packets(f->r), want);
}

/* Submits one SQE made by prep and returns its completion's result; the
 * armed read posts nothing (no packet is sent in this test). */
static int submit_one(struct io_uring *ring, void (*prep)(struct io_uring_sqe *, int), int arg)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	assert_non_null(sqe);
	prep(sqe, arg);
	io_uring_sqe_set_data64(sqe, 0x5ec);
	assert_int_equal(io_uring_submit(ring), 1);
	assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
	assert_int_equal(cqe->user_data, 0x5ec);
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static void prep_openat(struct io_uring_sqe *sqe, int flags)
{
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
	sqe->flags |= (uint8_t)flags;
}

static void prep_socket(struct io_uring_sqe *sqe, int flags)
{
	io_uring_prep_socket(sqe, AF_INET, SOCK_DGRAM, 0, 0);
	sqe->flags |= (uint8_t)flags;
}

static char scratch[64];

/* A plain read of the registered TUN (slot 0): not the allowed opcode. */
static void prep_fixed_read(struct io_uring_sqe *sqe, int flags)
{
	io_uring_prep_read(sqe, 0, scratch, sizeof(scratch), 0);
	sqe->flags |= (uint8_t)flags;
}

/* The allowed multishot read, but on a plain descriptor. */
static void prep_unfixed_multishot(struct io_uring_sqe *sqe, int fd)
{
	io_uring_prep_rw(49, sqe, fd, NULL, 0, 0);
	sqe->flags = IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
}

static void test_restricted(void **state)
{
	struct fixture *f = ring_or_skip(state, 4);
	struct io_uring *ring = tun_ring_raw(f->r);
	int fd = f->fds[1];

	assert_int_equal(submit_one(ring, prep_openat, 0), -EACCES);
	assert_int_equal(submit_one(ring, prep_openat, IOSQE_FIXED_FILE), -EACCES);
	assert_int_equal(submit_one(ring, prep_socket, 0), -EACCES);
	assert_int_equal(submit_one(ring, prep_socket, IOSQE_FIXED_FILE), -EACCES);
	assert_int_equal(submit_one(ring, prep_fixed_read, IOSQE_FIXED_FILE), -EACCES);
	assert_int_equal(submit_one(ring, prep_unfixed_multishot, fd), -EACCES);
	/* No new file, eventfd or buffers once it runs. */
	assert_int_equal(io_uring_register_files(ring, &fd, 1), -EACCES);
	assert_int_equal(io_uring_register_eventfd(ring, fd), -EACCES);
	/* And it still reads. */
	send_seq(f->fds[1], 42, 100);
	assert_int_equal(wait_and_reap(f), TUN_RING_OK);
	assert_int_equal(f->got.n, 1);
	assert_int_equal(f->got.seq[0], 42);
}

/* The TUN of a deleted interface answers EBADFD; here the end of file of
 * a closed socket: GONE either way, after the packets before it. */
static void test_gone(void **state)
{
	struct fixture *f = ring_or_skip(state, 8);
	enum tun_ring_result res = TUN_RING_OK;

	send_seq(f->fds[1], 1, 80);
	close(f->fds[1]);
	f->fds[1] = -1;
	for (int i = 0; i < 4 && res == TUN_RING_OK; i++)
		res = wait_and_reap(f);
	assert_int_equal(res, TUN_RING_GONE);
	assert_int_equal(f->got.n, 1);
}

/* Closed with the read armed and packets waiting: the read is cancelled
 * and every buffer freed (ASan and LSan say so). */
static void test_close_busy(void **state)
{
	struct fixture *f = ring_or_skip(state, 8);

	for (uint32_t i = 0; i < 20; i++)
		send_seq(f->fds[1], i, 200);
	tun_ring_close(f->r);
	f->r = NULL;
}

static void test_bad_arguments(void **state)
{
	char err[128];
	int fds[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, fds), 0);
	assert_null(tun_ring_open(fds[0], 2048, 6, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_null(tun_ring_open(fds[0], 0, 8, err, sizeof(err)));
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lone_packet_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_beyond_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restricted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_busy, setup, teardown),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
