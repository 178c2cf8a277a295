/* Batched TUN reads through a locked-down io_uring (tun_ring.h). */
#include "tun/tun_ring.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Kernel 6.7's opcode: liburing 2.3's copy of the kernel header stops at
 * IORING_OP_SENDMSG_ZC (48). Its number is fixed by the kernel ABI. */
#define TUN_RING_OP_READ_MULTISHOT 49

#define BUF_GROUP 0	/* the only provided-buffer group */
#define FIXED_TUN 0	/* the TUN's slot in the registered files */
#define SQ_ENTRIES 4	/* a re-arm and a cancel at most */
#define CLOSE_WAITS 4	/* seconds to wait for the cancelled read */

enum { TAG_READ = 1, TAG_CANCEL = 2 };

struct tun_ring {
	struct io_uring ring;
	bool ring_up;			/* io_uring_queue_init succeeded */
	bool armed;			/* the multishot read is in the kernel */
	bool files_registered;
	struct io_uring_buf_ring *br;	/* page-aligned, nbufs entries */
	uint8_t *bufs;			/* nbufs * buf_len bytes */
	size_t buf_len;
	unsigned nbufs;
	uint64_t packets;
};

static void say(char *err, size_t err_len, const char *what, int e)
{
	snprintf(err, err_len, "io_uring: %s: %s", what, strerror(e));
}

/* Disabled until locked down. The reads run as task work of the thread
 * that opened the ring, when it next leaves the kernel (COOP_TASKRUN: no
 * interrupt to a running loop; a loop asleep in epoll_wait is woken, and
 * its epoll_wait may return EINTR once), and IORING_SQ_TASKRUN tells,
 * without a system call, whether any wait (TASKRUN_FLAG). DEFER_TASKRUN
 * would keep them for io_uring_enter alone, but then nothing wakes an
 * epoll_wait on time (measured here, kernel 6.18: a lone packet waited
 * ~15 ms, through the ring's fd or a registered eventfd alike). The CQ
 * holds a completion per buffer and room for the cancel. */
static int ring_init(struct tun_ring *r)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
			 IORING_SETUP_CQSIZE,
		.cq_entries = 2 * r->nbufs,
	};
	int ret = io_uring_queue_init_params(SQ_ENTRIES, &r->ring, &p);

	r->ring_up = ret == 0;
	return ret;
}

static uint8_t *buf_at(const struct tun_ring *r, unsigned bid)
{
	return r->bufs + (size_t)bid * r->buf_len;
}

/* The buffers and the ring that hands them to the kernel (registered while
 * the ring is still open to io_uring_register). */
static int ring_buffers(struct tun_ring *r)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t br_len = r->nbufs * sizeof(struct io_uring_buf);
	struct io_uring_buf_reg reg = { .ring_entries = r->nbufs, .bgid = BUF_GROUP };
	void *br = NULL;
	int ret;

	if (posix_memalign(&br, page, br_len < page ? page : br_len))
		return -ENOMEM;
	r->br = br;
	r->bufs = malloc(r->nbufs * r->buf_len);
	if (!r->bufs)
		return -ENOMEM;
	io_uring_buf_ring_init(r->br);
	reg.ring_addr = (uint64_t)(uintptr_t)r->br;
	ret = io_uring_register_buf_ring(&r->ring, &reg, 0);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < r->nbufs; i++)
		io_uring_buf_ring_add(r->br, buf_at(r, i), (unsigned)r->buf_len, (unsigned short)i,
				      io_uring_buf_ring_mask(r->nbufs), (int)i);
	io_uring_buf_ring_advance(r->br, (int)r->nbufs);
	return 0;
}

/* io_uring_register(2) itself: Debian's liburing 2.3 shared library does
 * not export io_uring_register_restrictions or io_uring_enable_rings (its
 * symbol map lacks them), so the two are called here directly. */
static int ring_register(struct tun_ring *r, unsigned op, void *arg, unsigned n)
{
	long ret = syscall(__NR_io_uring_register, r->ring.ring_fd, op, arg, n);

	return ret < 0 ? -errno : (int)ret;
}

static bool multishot_read_supported(struct tun_ring *r)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&r->ring);
	bool ok = probe && io_uring_opcode_supported(probe, TUN_RING_OP_READ_MULTISHOT);

	io_uring_free_probe(probe);
	return ok;
}

/* What the enabled ring may do, and nothing else: the multishot read and
 * its cancel, only with the registered TUN (IOSQE_FIXED_FILE), buffers
 * only from the provided ring; of io_uring_register, only dropping the
 * registered file (at close, so the TUN goes when its fd is closed). */
static int ring_restrict(struct tun_ring *r)
{
	struct io_uring_restriction res[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = TUN_RING_OP_READ_MULTISHOT },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_ASYNC_CANCEL },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED,
		  .sqe_flags = IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT },
		{ .opcode = IORING_RESTRICTION_REGISTER_OP,
		  .register_op = IORING_UNREGISTER_FILES },
	};

	return ring_register(r, IORING_REGISTER_RESTRICTIONS, res,
			     sizeof(res) / sizeof(res[0]));
}

static int arm(struct tun_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_rw(TUN_RING_OP_READ_MULTISHOT, sqe, FIXED_TUN, NULL, 0, 0);
	sqe->flags = IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUF_GROUP;
	io_uring_sqe_set_data64(sqe, TAG_READ);
	return 0;	/* armed once submitted (submit_read) */
}

/* The read prepared by arm() goes to the kernel: armed from now on, and
 * only then (a read that never left must not be waited for at close, nor
 * hide a failed re-arm). With get_events, completions posted meanwhile
 * are taken too. 0 or -errno. */
static int submit_read(struct tun_ring *r, bool get_events)
{
	int ret = get_events ? io_uring_submit_and_get_events(&r->ring) :
		  io_uring_submit(&r->ring);

	if (ret < 1)
		return ret < 0 ? ret : -EIO;
	r->armed = true;
	return 0;
}

/* The steps in order, each a reason on failure: a ring locked down before
 * it runs anything, then the read armed. */
static int ring_setup(struct tun_ring *r, int fd, char *err, size_t err_len)
{
	int ret = ring_init(r);

	if (ret < 0) {
		say(err, err_len, "setup", -ret);
		return ret;
	}
	if (!multishot_read_supported(r)) {
		snprintf(err, err_len, "io_uring: no multishot read (kernel 6.7 or later)");
		return -EOPNOTSUPP;
	}
	ret = io_uring_register_files(&r->ring, &fd, 1);
	r->files_registered = ret == 0;
	if (ret == 0)
		ret = ring_buffers(r);
	if (ret == 0)
		ret = ring_restrict(r);
	if (ret == 0)
		ret = ring_register(r, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret == 0)
		ret = arm(r);
	if (ret == 0)
		ret = submit_read(r, false);
	if (ret < 0)
		say(err, err_len, "registration", -ret);
	return ret;
}

struct tun_ring *tun_ring_open(int fd, size_t buf_len, unsigned nbufs, char *err,
			       size_t err_len)
{
	struct tun_ring *r;
	int ret;

	if (nbufs < 2 || nbufs > 32768 || (nbufs & (nbufs - 1)) || !buf_len ||
	    buf_len > UINT32_MAX) {
		snprintf(err, err_len, "io_uring: bad buffer count or size");
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, err_len, "io_uring: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	r->buf_len = buf_len;
	r->nbufs = nbufs;
	ret = ring_setup(r, fd, err, err_len);
	if (ret < 0) {
		tun_ring_close(r);
		errno = -ret;
		return NULL;
	}
	return r;
}

int tun_ring_fd(const struct tun_ring *r)
{
	return r->ring.ring_fd;
}

uint64_t tun_ring_packets(const struct tun_ring *r)
{
	return r->packets;
}

void *tun_ring_raw(struct tun_ring *r)
{
	return &r->ring;
}

/* A final completion (no IORING_CQE_F_MORE): the read stopped. Out of
 * buffers: armed again once they are back; the TUN gone: say so. */
static enum tun_ring_result read_stopped(struct tun_ring *r, int res, bool *rearm)
{
	r->armed = false;
	if (res == -EBADFD || res == -EIO || res == 0)
		return TUN_RING_GONE;
	if (res == -ENOBUFS || res > 0 || res == -EINTR || res == -EAGAIN || res == -ECANCELED) {
		*rearm = true;
		return TUN_RING_OK;
	}
	return TUN_RING_FAILED;
}

/* One pass over the completion queue: packets to fn, their buffers back
 * to the kernel. */
static enum tun_ring_result drain_cq(struct tun_ring *r, tun_ring_packet_fn fn, void *ctx,
				     bool *rearm)
{
	enum tun_ring_result res = TUN_RING_OK;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int returned = 0;

	io_uring_for_each_cqe(&r->ring, head, cqe) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		seen++;
		if (cqe->user_data != TAG_READ)
			continue;
		if ((cqe->flags & IORING_CQE_F_BUFFER) && bid < r->nbufs) {
			if (cqe->res > 0) {
				fn(ctx, buf_at(r, bid), (size_t)cqe->res);
				r->packets++;
			}
			io_uring_buf_ring_add(r->br, buf_at(r, bid), (unsigned)r->buf_len,
					      (unsigned short)bid,
					      io_uring_buf_ring_mask(r->nbufs), returned++);
		}
		if (!(cqe->flags & IORING_CQE_F_MORE))
			res = read_stopped(r, cqe->res, rearm);
	}
	io_uring_cq_advance(&r->ring, seen);
	io_uring_buf_ring_advance(r->br, returned);
	return res;
}

/* Reads the kernel has queued for this thread, not run yet (they run on
 * its next way out of the kernel, or in io_uring_enter):
 * IORING_SQ_TASKRUN, in shared memory. */
static bool work_waits(const struct tun_ring *r)
{
	return IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_TASKRUN;
}

/* Two rounds at most: under a flood the read stops when every buffer is
 * in use; the second round re-arms it (the re-arm's submit runs it at
 * once) and takes what came meanwhile, then the caller's other work gets
 * its turn (what is left makes the ring's fd readable again). A system
 * call only when reads wait or the read is re-armed: completions already
 * posted are taken from shared memory.
 * FAILED comes only once the read has stopped (a final completion, or a
 * re-arm that did not reach the kernel) and after drain_cq took every
 * completion posted: a caller that closes the ring then and falls back to
 * read() loses no packet the ring had read, and the kernel reads no more. */
enum tun_ring_result tun_ring_reap(struct tun_ring *r, tun_ring_packet_fn fn, void *ctx)
{
	enum tun_ring_result res = TUN_RING_OK;
	bool rearm = !r->armed;

	for (int round = 0; round < 2 && res == TUN_RING_OK; round++) {
		/* A re-arm that does not reach the kernel fails the ring
		 * (the caller falls back to read()); a mere run of waiting
		 * work that fails is tried again next time. */
		if (rearm && (arm(r) < 0 || submit_read(r, true) < 0))
			return TUN_RING_FAILED;
		if (!rearm && work_waits(r) && io_uring_submit_and_get_events(&r->ring) < 0 &&
		    !r->armed)
			return TUN_RING_FAILED;
		rearm = false;
		if (!io_uring_cq_ready(&r->ring))
			break;
		res = drain_cq(r, fn, ctx, &rearm);
		if (!rearm && !work_waits(r))
			break;
	}
	if (res == TUN_RING_OK && rearm && (arm(r) < 0 || submit_read(r, false) < 0))
		return TUN_RING_FAILED;
	return res;
}

/* Cancel the read and wait for its final completion: until then the
 * kernel may still write into the buffers. */
static void cancel_read(struct tun_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, TAG_READ, 0);
	sqe->flags |= IOSQE_FIXED_FILE;	/* required by the restrictions */
	io_uring_sqe_set_data64(sqe, TAG_CANCEL);
	if (io_uring_submit(&r->ring) != 1)
		return;
	for (int i = 0; i < CLOSE_WAITS && r->armed; ) {
		int ret = io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);

		if (ret == -ETIME || ret == -EINTR) {
			i++;
			continue;
		}
		if (ret < 0)
			return;
		if (cqe->user_data == TAG_READ && !(cqe->flags & IORING_CQE_F_MORE))
			r->armed = false;
		/* Nothing to cancel: the read had ended already (its last
		 * completion taken before): no further one will come. */
		if (cqe->user_data == TAG_CANCEL && cqe->res == -ENOENT)
			r->armed = false;
		io_uring_cqe_seen(&r->ring, cqe);
	}
}

void tun_ring_close(struct tun_ring *r)
{
	if (!r)
		return;
	if (r->ring_up) {
		if (r->armed)
			cancel_read(r);
		/* The TUN file goes now, not when the kernel gets round to
		 * freeing the ring: closing the TUN fd deletes the link. */
		if (r->files_registered)
			io_uring_unregister_files(&r->ring);
		io_uring_queue_exit(&r->ring);
	}

	/* A read the kernel would not give back may still fill the buffers:
	 * leaked on purpose rather than reused (never seen in practice). */
	if (!r->armed) {
		free(r->bufs);
		free(r->br);
	}
	free(r);
}
