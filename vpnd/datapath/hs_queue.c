/* The handshake queue: two single-producer single-consumer rings of
 * fixed-size slots (allocated at start, nothing on the packet path), two
 * eventfds, one thread. See hs_queue.h for the division of work.
 *
 * Rings: head is written only by the producer, tail only by the consumer;
 * a slot is filled before head moves past it (release) and read before
 * tail moves past it (release), so each side sees whole slots. */
#include "vpnd/datapath/hs_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "handshake/hsload.h"
#include "vpnd/common/clock.h"
#include "vpnd/datapath/receive.h"

#define HS_NICE      19	/* lowest priority: the data path wins the CPU */
#define OUT_CAPACITY 1024	/* results: bounded by the DH budget and cookie limiter */
#define OUT_WAKE_EVERY 64	/* cookie replies between wakes of the loop */

/* loop -> thread: a message as it came. */
struct in_item {
	struct endpoint src;
	uint16_t len;
	uint8_t buf[sizeof(struct msg_initiation)];	/* the larger of types 1-2 */
};

enum out_kind { OUT_INITIATION, OUT_RESPONSE, OUT_COOKIE };

/* thread -> loop: what is left to do. Holds secrets (OUT_INITIATION): the
 * ring is in guarded memory and each slot is wiped once used. */
struct out_item {
	struct endpoint src;
	uint8_t kind;			/* enum out_kind */
	union {
		struct hs_initiation_result init;	/* computed, to commit */
		struct msg_response response;		/* passed the gate */
		struct msg_cookie_reply reply;		/* to send */
	} u;
};

struct ring {
	unsigned char *slots;
	size_t size;			/* of one slot */
	uint32_t mask;
	bool secret;			/* wg_secure_alloc'd, wiped when freed */
	_Atomic uint32_t head, tail;
};

struct hs_queue {
	struct device *dev;
	struct ring in, out;		/* in: loop -> thread; out: thread -> loop */
	struct noise_local *local;	/* thread: the identity, copied per DH */
	int in_efd, out_efd;
	bool pushed;			/* loop: pushed since the last kick */
	pthread_t thread;
	pthread_mutex_t gate_lock;	/* the gate's state, against key changes */
	atomic_bool stop;
	struct hs_load load;		/* thread only */
	_Atomic uint64_t load_until_ns;	/* the thread's decision, for vpnd show */
	_Atomic uint64_t drops[DROP_COUNT];
};

static bool ring_init(struct ring *r, uint32_t capacity, size_t size, bool secret)
{
	r->slots = secret ? wg_secure_alloc((size_t)capacity * size) : calloc(capacity, size);
	r->size = size;
	r->secret = secret;
	r->mask = capacity - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	return r->slots != NULL;
}

static uint32_t ring_count(struct ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) -
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

static void ring_free(struct ring *r)
{
	if (r->secret)
		wg_secure_free(r->slots);	/* wiped */
	else
		free(r->slots);
	r->slots = NULL;
}

static void *ring_at(struct ring *r, uint32_t i)
{
	return r->slots + (size_t)(i & r->mask) * r->size;
}

/* Producer: the free slot, or NULL when full; ring_commit publishes it. */
static void *ring_slot(struct ring *r)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (head - atomic_load_explicit(&r->tail, memory_order_acquire) > r->mask)
		return NULL;
	return ring_at(r, head);
}

static void ring_commit(struct ring *r)
{
	atomic_fetch_add_explicit(&r->head, 1, memory_order_release);
}

/* Consumer: the oldest slot, or NULL when empty; ring_release frees it. */
static void *ring_peek(struct ring *r)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (tail == atomic_load_explicit(&r->head, memory_order_acquire))
		return NULL;
	return ring_at(r, tail);
}

static void ring_release(struct ring *r)
{
	atomic_fetch_add_explicit(&r->tail, 1, memory_order_release);
}

static void wake(int efd)
{
	uint64_t one = 1;

	(void)!write(efd, &one, sizeof(one));
}

static void count(struct hs_queue *q, enum drop_reason r)
{
	atomic_fetch_add_explicit(&q->drops[r], 1, memory_order_relaxed);
}

/* Thread: the rest of a message the gate passed, into out: an initiation
 * is computed here (the DHs, and the response to it), with the identity
 * copied under the gate lock; a response goes on as it is (hs_queue.h). */
static bool pass_one(struct hs_queue *q, const struct in_item *in, uint64_t local_gen,
		     uint64_t now, struct out_item *out)
{
	enum drop_reason why = DROP_HANDSHAKE;
	bool ok;

	if (in->buf[0] != MSG_INITIATION) {
		out->kind = OUT_RESPONSE;
		memcpy(&out->u.response, in->buf, sizeof(out->u.response));
		return true;
	}
	out->kind = OUT_INITIATION;
	ok = receive_initiation_compute(q->dev, q->local, local_gen, in->buf, now, &out->u.init,
					&why);
	if (!ok)
		count(q, why);	/* the slot was wiped and is not published */
	return ok;
}

/* Thread: one message through the gate; what it passes goes out. Returns
 * how much it adds towards waking the loop: 0 (nothing out), 1 (cheap
 * results are batched), OUT_WAKE_EVERY (a computed initiation: its
 * initiator waits, and one more wake is nothing beside its DHs). */
static unsigned gate_one(struct hs_queue *q, const struct in_item *in, uint64_t now)
{
	struct msg_cookie_reply reply;
	enum drop_reason why = DROP_HANDSHAKE;
	enum hs_verdict v;
	struct out_item *out;
	uint64_t local_gen = 0;
	unsigned weight = 0;
	bool under_load;

	/* Under load by the queue (the thread falls behind; the message
	 * itself still counts as queued: +1); the gate adds the rate rule. */
	under_load = hs_load_update(&q->load, ring_count(&q->in) + 1, q->in.mask + 1, now);
	/* Room for the result first (this thread is the ring's only
	 * producer, so it stays): a loop that does not drain must not make
	 * the gate spend DH budget and cookie allowance on results that
	 * would be thrown away. */
	out = ring_slot(&q->out);
	if (!out) {
		count(q, DROP_HS_QUEUE_FULL);
		return 0;
	}
	pthread_mutex_lock(&q->gate_lock);
	v = receive_handshake_gate(q->dev, in->buf, in->len, &in->src, under_load, now, &reply,
				   &why);
	atomic_store_explicit(&q->load_until_ns,
			      q->load.until_ns > q->dev->under_load_until_ns ? q->load.until_ns :
			      q->dev->under_load_until_ns, memory_order_relaxed);
	if (v == HS_PASS && in->buf[0] == MSG_INITIATION) {
		memcpy(q->local, q->dev->local, sizeof(*q->local));
		local_gen = q->dev->local_gen;
	}
	pthread_mutex_unlock(&q->gate_lock);
	if (v == HS_DROP) {
		count(q, why);
		goto out;
	}
	out->src = in->src;
	if (v == HS_COOKIE) {
		out->kind = OUT_COOKIE;
		out->u.reply = reply;
	} else if (!pass_one(q, in, local_gen, now, out)) {
		goto out;
	}
	/* Before the commit: then the slot is the loop's. */
	weight = out->kind == OUT_INITIATION ? OUT_WAKE_EVERY : 1;
	ring_commit(&q->out);
out:
	wg_secure_wipe(q->local, sizeof(*q->local));
	return weight;
}

static void *thread_main(void *arg)
{
	struct hs_queue *q = arg;
	uint64_t n;

	/* Nice is per thread on Linux: setpriority on our tid. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), HS_NICE);
	while (read(q->in_efd, &n, sizeof(n)) == sizeof(n) || errno == EINTR) {
		unsigned since_wake = 0;
		struct in_item *in;

		if (atomic_load(&q->stop))
			break;
		while ((in = ring_peek(&q->in))) {
			since_wake += gate_one(q, in, now_monotonic_ns());
			ring_release(&q->in);
			if (since_wake >= OUT_WAKE_EVERY) {
				wake(q->out_efd);
				since_wake = 0;
			}
		}
		if (since_wake)
			wake(q->out_efd);
	}
	return NULL;
}

static void free_queue(struct hs_queue *q)
{
	if (q->in_efd >= 0)
		close(q->in_efd);
	if (q->out_efd >= 0)
		close(q->out_efd);
	ring_free(&q->in);
	ring_free(&q->out);	/* wiped: results not drained hold secrets */
	wg_secure_free(q->local);
	pthread_mutex_destroy(&q->gate_lock);
	free(q);
}

struct hs_queue *hs_queue_start(struct device *dev)
{
	struct hs_queue *q = calloc(1, sizeof(*q));
	int rc;

	_Static_assert((HS_QUEUE_CAPACITY & (HS_QUEUE_CAPACITY - 1)) == 0, "power of two");
	_Static_assert((OUT_CAPACITY & (OUT_CAPACITY - 1)) == 0, "power of two");
	if (!q)
		return NULL;
	q->dev = dev;
	pthread_mutex_init(&q->gate_lock, NULL);
	atomic_init(&q->stop, false);
	q->in_efd = eventfd(0, EFD_CLOEXEC);
	q->out_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->local = wg_secure_alloc(sizeof(*q->local));
	if (q->in_efd < 0 || q->out_efd < 0 || !q->local ||
	    !ring_init(&q->in, HS_QUEUE_CAPACITY, sizeof(struct in_item), false) ||
	    !ring_init(&q->out, OUT_CAPACITY, sizeof(struct out_item), true))
		goto fail;
	rc = pthread_create(&q->thread, NULL, thread_main, q);
	if (rc) {
		errno = rc;
		goto fail;
	}
	return q;
fail:
	rc = errno;
	free_queue(q);
	errno = rc;
	return NULL;
}

void hs_queue_stop(struct hs_queue *q)
{
	if (!q)
		return;
	atomic_store(&q->stop, true);
	wake(q->in_efd);
	pthread_join(q->thread, NULL);
	free_queue(q);
}

bool hs_queue_push(struct hs_queue *q, const uint8_t *buf, size_t len,
		   const struct endpoint *src)
{
	struct in_item *it = ring_slot(&q->in);

	if (!it || len > sizeof(it->buf))
		return false;
	it->src = *src;
	it->len = (uint16_t)len;
	memcpy(it->buf, buf, len);
	ring_commit(&q->in);
	q->pushed = true;
	return true;
}

void hs_queue_kick(struct hs_queue *q)
{
	if (!q || !q->pushed)
		return;
	q->pushed = false;
	wake(q->in_efd);
}

int hs_queue_fd(const struct hs_queue *q)
{
	return q->out_efd;
}

/* Loop: one result. False: not done (the thread holds the gate lock),
 * to be taken again on the next turn, in order. */
static bool drain_one(struct device *dev, struct out_item *it, uint64_t now)
{
	/* Administratively down (wg_stop): what was queued before is
	 * dropped, not answered; nothing leaves until up. */
	if (dev->link_down)
		return true;
	switch (it->kind) {
	case OUT_COOKIE:
		receive_cookie_sent(dev, &it->src, &it->u.reply);
		return true;
	case OUT_INITIATION:
		return receive_initiation_commit(dev, &it->u.init, &it->src, now) ==
		       HS_COMMIT_DONE;
	case OUT_RESPONSE:
		receive_handshake_pass(dev, (const uint8_t *)&it->u.response, &it->src, now);
		return true;
	}
	return true;
}

void hs_queue_drain(struct device *dev, uint64_t now)
{
	struct hs_queue *q = dev->hsq;
	struct out_item *it;
	uint64_t n;

	if (!q)
		return;
	(void)!read(q->out_efd, &n, sizeof(n));
	while ((it = ring_peek(&q->out))) {
		if (!drain_one(dev, it, now)) {
			/* The data path goes on; this wake brings the loop
			 * back for the rest at its next turn. */
			wake(q->out_efd);
			break;
		}
		if (it->kind == OUT_INITIATION)
			wg_secure_wipe(&it->u.init, sizeof(it->u.init));
		ring_release(&q->out);
	}
}

uint64_t hs_queue_drops(const struct hs_queue *q, enum drop_reason r)
{
	return atomic_load_explicit(&((struct hs_queue *)q)->drops[r], memory_order_relaxed);
}

bool hs_queue_under_load(const struct hs_queue *q, uint64_t now)
{
	return now < atomic_load_explicit(&((struct hs_queue *)q)->load_until_ns,
					  memory_order_relaxed);
}

void hs_queue_lock(struct hs_queue *q)
{
	if (q)
		pthread_mutex_lock(&q->gate_lock);
}

bool hs_queue_trylock(struct hs_queue *q)
{
	return !q || pthread_mutex_trylock(&q->gate_lock) == 0;
}

void hs_queue_unlock(struct hs_queue *q)
{
	if (q)
		pthread_mutex_unlock(&q->gate_lock);
}
