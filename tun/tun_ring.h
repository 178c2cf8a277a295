/* Batched TUN reads through io_uring: one multishot read kept armed on the
 * TUN fd, filling a ring of provided buffers; each turn of the caller's loop
 * runs the pending reads and hands every packet over in one io_uring_enter.
 *
 * The ring is locked down before it is enabled (io_uring work is not seen
 * by seccomp): only a multishot read and a cancel may be submitted, only on
 * the registered TUN (IOSQE_FIXED_FILE required), and no io_uring_register
 * call is accepted once it runs. So even with the worker's seccomp filter
 * allowing io_uring_enter, an SQE cannot open a file, make a socket or touch
 * another descriptor: the kernel answers -EACCES.
 *
 * Owned by one thread: the one that opened it submits and reaps
 * (IORING_SETUP_SINGLE_ISSUER; the reads run as that thread's task work,
 * COOP_TASKRUN, never in interrupts or another thread). */
#ifndef VPND_TUN_RING_H
#define VPND_TUN_RING_H

#include <stddef.h>
#include <stdint.h>

struct tun_ring;

/* Each packet, in the order the kernel queued them. pkt is valid during
 * the call only (its buffer goes back to the kernel after). */
typedef void (*tun_ring_packet_fn)(void *ctx, uint8_t *pkt, size_t len);

enum tun_ring_result {
	TUN_RING_OK,
	TUN_RING_GONE,		/* EBADFD/EIO or end of file: the interface is gone */
	TUN_RING_FAILED,	/* the read cannot be armed again: use read() */
};

/* Sets up a ring reading fd (non-blocking, one packet per read) into
 * nbufs buffers (a power of two, 2..32768) of buf_len bytes each.
 * NULL with errno and a readable reason in err: ENOSYS (no io_uring),
 * EPERM (io_uring disabled for this user: kernel.io_uring_disabled, or a
 * seccomp filter), EOPNOTSUPP (no multishot read: kernel older than 6.7),
 * EINVAL (a flag this kernel lacks), ENOMEM. The read is armed on return. */
struct tun_ring *tun_ring_open(int fd, size_t buf_len, unsigned nbufs, char *err,
			       size_t err_len);

/* The ring's fd: readable (EPOLLIN, level-triggered) while completions
 * wait; poll it in the loop instead of the TUN fd. An epoll_wait asleep
 * when a packet comes may return EINTR first (the read runs as task work
 * of the thread on its way out of the kernel): just go round. */
int tun_ring_fd(const struct tun_ring *r);

/* Calls fn for each packet read, at most twice the number of buffers per
 * call (one io_uring_enter when reads wait or the read must be re-armed
 * after running out of buffers; none when their completions are posted
 * already). A lone packet is handed over at once: nothing waits for a
 * batch to fill. */
enum tun_ring_result tun_ring_reap(struct tun_ring *r, tun_ring_packet_fn fn, void *ctx);

/* Packets handed over since open (for tests and counters). */
uint64_t tun_ring_packets(const struct tun_ring *r);

/* Cancels the read, waits for its last completion so that the kernel no
 * longer writes into the buffers, closes the ring (and so its reference to
 * the TUN file) and frees everything. NULL is fine. */
void tun_ring_close(struct tun_ring *r);

/* For tests: the ring itself (struct io_uring *), to submit SQEs that the
 * restrictions must refuse. */
void *tun_ring_raw(struct tun_ring *r);

#endif
