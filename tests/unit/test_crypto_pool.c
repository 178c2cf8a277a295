/* The AEAD thread pool (vpnd/datapath/crypto_pool.h): every job of a batch runs
 * exactly once and has finished when crypto_pool_run returns, whatever the
 * pool size and batch size, over many batches back to back (a helper late
 * from one batch must never run a job of the next with the old context);
 * small batches and a NULL pool run inline on the calling thread; the
 * thread count comes from VPND_CRYPTO_THREADS or the CPU count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "vpnd/datapath/crypto_pool.h"

#define MAX_JOBS 1024

struct batch {
	unsigned tag;			/* which batch: a job of another one shows */
	unsigned runs[MAX_JOBS];	/* how often each job ran */
	unsigned seen_tag[MAX_JOBS];
	pthread_t thread[MAX_JOBS];
};

static void count_job(void *ctx, size_t i)
{
	struct batch *b = ctx;

	__atomic_fetch_add(&b->runs[i], 1, __ATOMIC_RELAXED);
	b->seen_tag[i] = b->tag;
	b->thread[i] = pthread_self();
}

/* Runs one batch of n jobs and checks each ran once, in this batch. */
static void run_checked(struct crypto_pool *pool, struct batch *b, size_t n, size_t bytes)
{
	memset(b->runs, 0, sizeof(b->runs));
	crypto_pool_run(pool, count_job, b, n, bytes);
	for (size_t i = 0; i < n; i++) {
		if (b->runs[i] != 1 || b->seen_tag[i] != b->tag)
			fail_msg("batch %u, %zu jobs: job %zu ran %u times (tag %u)", b->tag, n, i,
				 b->runs[i], b->seen_tag[i]);
	}
	for (size_t i = n; i < MAX_JOBS; i++)
		assert_int_equal(b->runs[i], 0);
}

static void test_pool_every_job_once(void **state)
{
	static struct batch b[2];
	static const size_t sizes[] = { 0, 1, 7, 8, 9, 63, 64, 65, 128, 255, 256, 1000, 1024 };

	(void)state;
	for (unsigned threads = 2; threads <= 4; threads++) {
		struct crypto_pool *pool = crypto_pool_new(threads);

		assert_non_null(pool);
		assert_int_equal(crypto_pool_threads(pool), threads);
		/* Many batches back to back, alternating contexts. */
		for (unsigned round = 0; round < 2000; round++) {
			struct batch *cur = &b[round % 2];
			size_t n = sizes[round % (sizeof(sizes) / sizeof(sizes[0]))];

			cur->tag = round + 1;
			run_checked(pool, cur, n, n * 1500);
		}
		crypto_pool_free(pool);
	}
}

/* Below the thresholds, or without a pool, the caller does it all. */
static void test_pool_inline(void **state)
{
	static struct batch b;
	struct crypto_pool *pool = crypto_pool_new(2);
	pthread_t me = pthread_self();

	(void)state;
	assert_non_null(pool);
	b.tag = 1;
	run_checked(pool, &b, CRYPTO_POOL_MIN_JOBS - 1, 1 << 20);	/* few jobs */
	for (size_t i = 0; i < CRYPTO_POOL_MIN_JOBS - 1; i++)
		assert_true(pthread_equal(b.thread[i], me));
	b.tag = 2;
	run_checked(pool, &b, 100, CRYPTO_POOL_MIN_BYTES - 1);		/* few bytes */
	for (size_t i = 0; i < 100; i++)
		assert_true(pthread_equal(b.thread[i], me));
	crypto_pool_free(pool);

	b.tag = 3;
	run_checked(NULL, &b, 500, 1 << 20);
	for (size_t i = 0; i < 500; i++)
		assert_true(pthread_equal(b.thread[i], me));
	assert_int_equal(crypto_pool_threads(NULL), 1);
	assert_null(crypto_pool_new(1));
	assert_null(crypto_pool_new(0));
	crypto_pool_free(NULL);
}

/* Helpers asleep (futex) are woken by the next batch. */
static void test_pool_wakes_sleepers(void **state)
{
	static struct batch b;
	struct crypto_pool *pool = crypto_pool_new(3);

	(void)state;
	assert_non_null(pool);
	for (unsigned round = 1; round <= 5; round++) {
		usleep(20000);	/* far past the helpers' spin */
		b.tag = round;
		run_checked(pool, &b, MAX_JOBS, MAX_JOBS * 1500);
	}
	crypto_pool_free(pool);
}

static void test_threads_wanted(void **state)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus < CRYPTO_THREADS_MIN_CPUS ? 1 :
			cpus > CRYPTO_THREADS_MAX ? CRYPTO_THREADS_MAX : (unsigned)cpus;
	const char *why = "x";

	(void)state;
	unsetenv("VPND_CRYPTO_THREADS");
	assert_int_equal(crypto_threads_wanted(&why), want);
	assert_null(why);
	setenv("VPND_CRYPTO_THREADS", "1", 1);
	assert_int_equal(crypto_threads_wanted(&why), 1);
	setenv("VPND_CRYPTO_THREADS", "3", 1);
	assert_int_equal(crypto_threads_wanted(&why), 3);
	assert_null(why);
	setenv("VPND_CRYPTO_THREADS", "64", 1);
	assert_int_equal(crypto_threads_wanted(NULL), 64);
	for (size_t i = 0; i < 5; i++) {
		static const char *const bad[] = { "0", "65", "-2", "2x", "many" };

		setenv("VPND_CRYPTO_THREADS", bad[i], 1);
		why = NULL;
		assert_int_equal(crypto_threads_wanted(&why), want);
		assert_non_null(why);
	}
	unsetenv("VPND_CRYPTO_THREADS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_every_job_once),
		cmocka_unit_test(test_pool_inline),
		cmocka_unit_test(test_pool_wakes_sleepers),
		cmocka_unit_test(test_threads_wanted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
