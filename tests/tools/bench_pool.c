/* bench_pool: the AEAD thread pool (vpnd/datapath/crypto_pool.h) in process.
 *
 * Batches of BATCH transport messages of 1420 bytes (a send batch: 128
 * messages, one sendmmsg) are sealed with transport_encrypt_seal across a
 * pool of 1, 2, ... threads (the calling thread included), as send_flush
 * does, then opened the same way, as a receive run is. Reported: payload
 * MB/s and wall time per batch for each pool size, and the speed-up over
 * one thread. Nothing else runs here, so this is the best the pool can do
 * on this machine; in the daemon the same cores also carry the system
 * calls, the TUN, the kernel's UDP and whatever else runs.
 *
 * Every round checks that each message opens (a job lost or done twice
 * would show).
 *
 * usage: bench_pool [seconds per pool size, default 1] [max threads,
 * default online CPUs] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "handshake/transport.h"
#include "handshake/wire.h"
#include "vpnd/datapath/crypto_pool.h"

#define BATCH 128
#define PLAIN 1420
#define MSG_LEN (MSG_TRANSPORT_HEADER_LEN + PLAIN + AEAD_TAG_LEN)

static uint8_t bufs[BATCH][MSG_LEN + 64];
static uint8_t key[KEY_LEN];
static uint64_t first_counter;
static int open_failed;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void seal(void *ctx, size_t i)
{
	(void)ctx;
	transport_encrypt_seal(bufs[i], MSG_LEN, first_counter + i, key);
}

static void open_one(void *ctx, size_t i)
{
	(void)ctx;
	if (!transport_decrypt_open(bufs[i], MSG_LEN, first_counter + i, key))
		__atomic_store_n(&open_failed, 1, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	long max = argc > 2 ? strtol(argv[2], NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	double base = 0;

	if (!(secs > 0) || max < 1 || max > CRYPTO_THREADS_MAX) {
		fprintf(stderr, "usage: %s [seconds > 0] [max threads 1..%d]\n", argv[0],
			CRYPTO_THREADS_MAX);
		return 2;
	}
	if (!wg_crypto_init()) {
		fprintf(stderr, "bench_pool: libsodium cannot initialise\n");
		return 1;
	}
	wg_random_bytes(key, sizeof(key));
	for (int i = 0; i < BATCH; i++)
		memset(bufs[i] + MSG_TRANSPORT_HEADER_LEN, i, PLAIN);
	printf("bench_pool: %d messages of %d bytes per batch, sealed then opened across "
	       "the pool; %ld online CPUs\n", BATCH, PLAIN, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%7s  %10s  %12s  %8s\n", "threads", "MB/s", "us/batch", "speed-up");
	for (long t = 1; t <= max; t++) {
		struct crypto_pool *pool = crypto_pool_new((unsigned)t);
		double t0, end, mbs, us;
		unsigned long batches = 0;

		if (t > 1 && !pool) {
			fprintf(stderr, "bench_pool: cannot start %ld threads\n", t);
			return 1;
		}
		t0 = now_s();
		end = t0 + secs;
		do {
			crypto_pool_run(pool, seal, NULL, BATCH, (size_t)BATCH * MSG_LEN);
			crypto_pool_run(pool, open_one, NULL, BATCH, (size_t)BATCH * MSG_LEN);
			if (open_failed) {
				fprintf(stderr, "bench_pool: a message did not open\n");
				return 1;
			}
			first_counter += BATCH;
			batches++;
		} while (now_s() < end);
		/* Two AEADs per message per batch: MB/s counts both. */
		mbs = 2.0 * batches * BATCH * PLAIN / 1e6 / (now_s() - t0);
		us = (now_s() - t0) / (2.0 * batches) * 1e6;
		if (t == 1)
			base = mbs;
		printf("%7ld  %10.0f  %12.1f  %7.2fx\n", t, mbs, us, mbs / base);
		crypto_pool_free(pool);
	}
	return 0;
}
