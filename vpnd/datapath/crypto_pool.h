/* A small pool of threads for the AEAD work of one batch.
 *
 * The event loop stays the only thread that touches shared state (peers,
 * keypairs, counters, replay windows, the index table). It gives the pool a
 * batch of independent jobs (each one AEAD on its own buffer, with a copy of
 * its key) and waits for all of them: a barrier per batch. The calling
 * thread works too; the pool's threads take jobs by an atomic index, so
 * there is no lock per packet. Threads sleep on a futex between batches.
 *
 * A small batch (fewer than CRYPTO_POOL_MIN_JOBS jobs or under
 * CRYPTO_POOL_MIN_BYTES) is done inline, without waking anyone: a lone
 * ping does not wait for a thread to wake up. */
#ifndef VPND_CRYPTO_POOL_H
#define VPND_CRYPTO_POOL_H

#include <stddef.h>

#define CRYPTO_POOL_MIN_JOBS   8
#define CRYPTO_POOL_MIN_BYTES  16384
#define CRYPTO_THREADS_MAX     64
#define CRYPTO_THREADS_MIN_CPUS 4	/* default: threads only from 4 online CPUs */

struct crypto_pool;

/* Runs job(ctx, i) for i in 0..n-1, on any of the pool's threads. */
typedef void (*crypto_job_fn)(void *ctx, size_t i);

/* How many threads (the event loop's included) the AEAD work should use:
 * $VPND_CRYPTO_THREADS if set (1..CRYPTO_THREADS_MAX), else one per online
 * CPU from CRYPTO_THREADS_MIN_CPUS CPUs on, and 1 below that. *why gets a
 * note for the log (or NULL). Reads /sys: call it before the sandbox. */
unsigned crypto_threads_wanted(const char **why);

/* Starts threads - 1 helper threads. NULL if threads <= 1, or if a thread
 * cannot be made (then the caller keeps the single-threaded path). */
struct crypto_pool *crypto_pool_new(unsigned threads);
/* Stops and joins the helpers. NULL is fine. */
void crypto_pool_free(struct crypto_pool *pool);
/* Threads in the pool, the caller's included (1 for NULL). */
unsigned crypto_pool_threads(const struct crypto_pool *pool);

/* Runs the n jobs (bytes: their total size, for the inline threshold) and
 * returns when every one has finished. pool may be NULL: all inline. Not
 * reentrant: one batch at a time, from one thread. */
void crypto_pool_run(struct crypto_pool *pool, crypto_job_fn job, void *ctx, size_t n,
		     size_t bytes);

#endif
