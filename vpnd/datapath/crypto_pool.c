/* The AEAD thread pool (crypto_pool.h).
 *
 * One batch at a time. The caller publishes the job function, its context
 * and a ticket (n jobs, next index 0), bumps the wake word and wakes any
 * helper asleep on it; then everyone, the caller included, claims jobs by a
 * compare-and-swap on the ticket until none are left. Each thread adds the
 * number of jobs it finished to done once, when it finds no more; the
 * caller returns when done reaches n.
 *
 * Why this is safe without a lock:
 *  - A claim is a CAS on the current ticket, so it always names a job of
 *    the batch now running, never of an old one; job and ctx are read only
 *    after a successful claim, and the caller cannot move on to the next
 *    batch (and rewrite them) before that job is counted in done.
 *  - done is reset before the ticket is published (release) and every add
 *    to it follows a claim (acquire) of the same batch; a helper that
 *    claimed nothing adds nothing.
 *  - Sleeping: a helper reads the wake word before it looks for work and
 *    sleeps only while the word still has that value (FUTEX_WAIT compares),
 *    so a batch published in between is never missed. The caller sleeps on
 *    done the same way, with caller_waiting telling the last helper to
 *    wake it (both sides sequentially consistent: one of them sees the
 *    other).
 * Helpers spin briefly before sleeping, and so does the caller before it
 * waits: under load the next batch usually comes within microseconds. */
#include "vpnd/datapath/crypto_pool.h"
#include "vpnd/common/clock.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HELPER_SPIN_NS  (20 * 1000ULL)	/* a helper's wait for the next batch */
#define CALLER_SPIN_NS  (20 * 1000ULL)	/* the caller's wait for the last jobs */
#define HELPER_STACK    (256 * 1024)

struct crypto_pool {
	/* The caller's, per batch; read by helpers after a claim. */
	crypto_job_fn job;
	void *ctx;
	unsigned n_helpers;
	/* Hot words, each on its own cache line. */
	_Alignas(64) _Atomic uint64_t ticket;	/* jobs in the batch << 32 | next job */
	_Alignas(64) _Atomic uint32_t done;	/* jobs finished in this batch */
	_Atomic uint32_t caller_waiting;
	_Alignas(64) _Atomic uint32_t wake;	/* futex word: bumped per batch and on stop */
	_Atomic uint32_t sleepers;
	_Atomic bool stop;
	_Alignas(64) pthread_t threads[];
};

static void futex_wait(_Atomic uint32_t *word, uint32_t val)
{
	(void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word, int n)
{
	(void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Claims the next job of the running batch: its index in *i, the batch's
 * size in *n. False when every job is taken. */
static bool claim(struct crypto_pool *p, uint32_t *i, uint32_t *n)
{
	uint64_t t = atomic_load_explicit(&p->ticket, memory_order_relaxed);

	for (;;) {
		if ((uint32_t)t >= (uint32_t)(t >> 32))
			return false;
		if (atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1,
							  memory_order_acquire,
							  memory_order_relaxed)) {
			*i = (uint32_t)t;
			*n = (uint32_t)(t >> 32);
			return true;
		}
	}
}

/* Does jobs until none are left; returns how many. */
static uint32_t work(struct crypto_pool *p, uint32_t *n)
{
	uint32_t i, did = 0;

	while (claim(p, &i, n)) {
		p->job(p->ctx, i);
		did++;
	}
	return did;
}

static void *helper_main(void *arg)
{
	struct crypto_pool *p = arg;

	for (;;) {
		uint32_t w = atomic_load(&p->wake), n = 0, did;
		uint64_t until;

		if (atomic_load(&p->stop))
			break;
		did = work(p, &n);
		if (did && atomic_fetch_add(&p->done, did) + did == n &&
		    atomic_load(&p->caller_waiting))
			futex_wake(&p->done, 1);
		/* The next batch: spin a little, then sleep. */
		until = now_monotonic_ns() + HELPER_SPIN_NS;
		for (unsigned k = 0; atomic_load_explicit(&p->wake, memory_order_relaxed) == w; k++) {
			if ((k & 63) == 63 && now_monotonic_ns() > until) {
				atomic_fetch_add(&p->sleepers, 1);
				futex_wait(&p->wake, w);
				atomic_fetch_sub(&p->sleepers, 1);
				break;
			}
			cpu_relax();
		}
	}
	return NULL;
}

unsigned crypto_threads_wanted(const char **why)
{
	const char *env = getenv("VPND_CRYPTO_THREADS");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (why)
		*why = NULL;
	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);

		if (!*end && v >= 1 && v <= CRYPTO_THREADS_MAX)
			return (unsigned)v;
		if (why)
			*why = "VPND_CRYPTO_THREADS is not a number from 1 to 64: ignored";
	}
	/* Measured (README, Performance): with fewer cores the daemons, the
	 * kernel and the applications already fill them, and handing packets
	 * between threads costs more than it gains. */
	if (cpus < CRYPTO_THREADS_MIN_CPUS)
		return 1;
	if (cpus > CRYPTO_THREADS_MAX)
		cpus = CRYPTO_THREADS_MAX;
	return (unsigned)cpus;
}

struct crypto_pool *crypto_pool_new(unsigned threads)
{
	struct crypto_pool *p;
	pthread_attr_t attr;
	sigset_t all, old;
	unsigned want;

	if (threads <= 1)
		return NULL;
	if (threads > CRYPTO_THREADS_MAX)
		threads = CRYPTO_THREADS_MAX;
	want = threads - 1;
	p = aligned_alloc(64, (sizeof(*p) + want * sizeof(pthread_t) + 63) / 64 * 64);
	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	if (pthread_attr_init(&attr) != 0) {
		free(p);
		return NULL;
	}
	pthread_attr_setstacksize(&attr, HELPER_STACK);
	/* Helpers take no signal: the event loop reads them from its signalfd. */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);	/* the seccomp filter's: names the call */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; p->n_helpers < want; p->n_helpers++)
		if (pthread_create(&p->threads[p->n_helpers], &attr, helper_main, p) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (p->n_helpers < want) {
		/* All or nothing: the single-threaded path is the fallback. */
		crypto_pool_free(p);
		return NULL;
	}
	return p;
}

void crypto_pool_free(struct crypto_pool *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	atomic_fetch_add(&p->wake, 1);
	futex_wake(&p->wake, INT_MAX);
	for (unsigned i = 0; i < p->n_helpers; i++)
		pthread_join(p->threads[i], NULL);
	free(p);
}

unsigned crypto_pool_threads(const struct crypto_pool *p)
{
	return p ? p->n_helpers + 1 : 1;
}

void crypto_pool_run(struct crypto_pool *p, crypto_job_fn job, void *ctx, size_t n,
		     size_t bytes)
{
	uint32_t did, n32, d;
	uint64_t until;

	if (!p || n < CRYPTO_POOL_MIN_JOBS || bytes < CRYPTO_POOL_MIN_BYTES || n > UINT32_MAX) {
		for (size_t i = 0; i < n; i++)
			job(ctx, i);
		return;
	}
	p->job = job;
	p->ctx = ctx;
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	atomic_store_explicit(&p->ticket, (uint64_t)n << 32, memory_order_release);
	atomic_fetch_add(&p->wake, 1);
	if (atomic_load(&p->sleepers))
		futex_wake(&p->wake, INT_MAX);

	did = work(p, &n32);
	d = atomic_fetch_add(&p->done, did) + did;
	if (d == n)
		return;
	/* Helpers hold the last jobs: spin a little, then sleep. */
	until = now_monotonic_ns() + CALLER_SPIN_NS;
	for (unsigned k = 0; atomic_load_explicit(&p->done, memory_order_acquire) != n; k++) {
		if ((k & 63) == 63 && now_monotonic_ns() > until)
			break;
		cpu_relax();
	}
	if (atomic_load(&p->done) == n)
		return;
	atomic_store(&p->caller_waiting, 1);
	while ((d = atomic_load(&p->done)) != n)
		futex_wait(&p->done, d);
	atomic_store(&p->caller_waiting, 0);
}
