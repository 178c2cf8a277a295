/* bench_handshake: handshakes per second one responder completes on one core.
 *
 * An in-process initiator pre-generates a pool of initiations (SYN, mac1
 * added), each with a newer TAI64N than the one before. The timed loop is
 * the responder's whole job for one SYN:
 *
 *   cookie_validate (mac1) -> noise_consume_initiation ->
 *   noise_create_response -> noise_derive_keypair
 *
 * The responder's monotonic clock advances 20 ms per initiation, so every
 * one passes the 50-per-second flood check; its wall-clock-free code never
 * sees a real clock. When the pool is used up the responder forgets and
 * re-adds the peer (outside the timing), which resets the replay timestamp,
 * and the pool is replayed.
 *
 * The rate is printed over all passes and for the best pass (on a busy
 * machine, the better estimate of what the code costs).
 *
 * For scale it also times bare libsodium X25519: a responder does three
 * crypto_scalarmult (es, ee, se) and one crypto_scalarmult_base (its
 * ephemeral), so those alone bound the rate; the gap is everything else
 * (BLAKE2s hashing and KDF chains, AEADs, random bytes, wiping).
 *
 * usage: bench_handshake [seconds, default 2] */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "crypto/crypto.h"
#include "handshake/cookie.h"
#include "handshake/noise.h"
#include "handshake/transport.h"
#include "handshake/wire.h"

#define POOL 2048
#define WALL_START (1700000000ULL * NSEC_PER_SEC)
#define NOW_START  (1000ULL * NSEC_PER_SEC)
#define FLOOD_STEP (NSEC_PER_SEC / INITIATIONS_PER_SECOND)	/* 20 ms */

enum { STEP_VALIDATE, STEP_CONSUME, STEP_RESPOND, STEP_DERIVE, N_STEPS };
static const char *const step_names[N_STEPS] = {
	"cookie_validate (mac1)", "noise_consume_initiation", "noise_create_response",
	"noise_derive_keypair",
};

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_handshake: %s: %s\n", what, why);
	exit(1);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

struct side {
	struct noise_local local;
	struct noise_handshake hs;	/* with the other side */
	struct noise_lookup lookup;
};

static struct noise_handshake *lookup_peer(void *ctx, const uint8_t pub[KEY_LEN])
{
	struct side *s = ctx;

	return wg_ct_equal(pub, s->hs.remote_static, KEY_LEN) ? &s->hs : NULL;
}

static void identity(struct side *s)
{
	uint8_t priv[KEY_LEN];

	wg_key_generate_private(priv);
	if (!noise_local_set(&s->local, priv))
		die("identity", "noise_local_set failed");
	wg_secure_wipe(priv, sizeof(priv));
	s->lookup = (struct noise_lookup){ .ctx = s, .by_public_key = lookup_peer };
}

/* The responder forgets the initiator and adds it again: a new identity
 * for the handshake (all zero, rejected as low order) wipes it, replay
 * timestamp and flood time included, then the real one comes back. */
static void readd_peer(struct side *r, const struct side *i)
{
	static const uint8_t nobody[KEY_LEN];

	noise_handshake_init(&r->hs, &r->local, nobody, NULL);
	noise_handshake_init(&r->hs, &r->local, i->local.public_key, NULL);
	if (!r->hs.static_static_valid)
		die("peer", "static-static DH failed");
}

static double x25519_rate(bool base, double secs)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN], out[KEY_LEN];
	uint64_t n = 0, start = mono_ns(), end = start + (uint64_t)(secs * 1e9), t;

	wg_key_generate_private(priv);
	if (crypto_scalarmult_base(pub, priv) != 0)
		die("x25519", "base failed");
	do {
		for (int k = 0; k < 64; k++) {
			if (base) {
				if (crypto_scalarmult_base(out, priv) != 0)
					die("x25519", "base failed");
			} else if (crypto_scalarmult(out, priv, pub) != 0) {
				die("x25519", "scalarmult failed");
			}
			priv[0] ^= out[0] & 0xf8;	/* a data dependency, keeps it clamped */
		}
		n += 64;
		t = mono_ns();
	} while (t < end);
	return (double)n * 1e9 / (double)(t - start);
}

int main(int argc, char **argv)
{
	static const uint8_t addr_i[4] = { 198, 18, 0, 2 };
	static struct msg_initiation pool[POOL];
	static struct side init, resp;
	struct cookie_maker maker;	/* initiator's, for messages to the responder */
	struct cookie_checker checker;	/* responder's */
	struct msg_response msg_resp;
	struct keypair kp;
	uint8_t src[COOKIE_SOURCE_MAX];
	size_t src_len;
	uint64_t steps[N_STEPS] = { 0 }, handshakes = 0, gen_ns, t0, t1, t2, t3, t4, total = 0;
	uint64_t now = NOW_START, budget;
	double secs = 2.0, dh_rate, base_rate, floor_rate, rate, best = 0;
	int passes = 0;

	if (argc > 1) {
		char *end;

		errno = 0;
		secs = strtod(argv[1], &end);
		if (errno || *end || !(secs > 0)) {
			fprintf(stderr, "usage: %s [seconds > 0]\n", argv[0]);
			return 2;
		}
	}
	budget = (uint64_t)(secs * 1e9);
	if (!wg_crypto_init())
		die("libsodium", "cannot initialise");
	identity(&init);
	identity(&resp);
	noise_handshake_init(&init.hs, &init.local, resp.local.public_key, NULL);
	readd_peer(&resp, &init);
	cookie_maker_init(&maker, resp.local.public_key);
	cookie_checker_init(&checker, resp.local.public_key);
	src_len = cookie_source_bytes(src, AF_INET, addr_i, 51820);

	/* The pool: one initiation per second of wall time, so every TAI64N
	 * (16.7 ms granularity) is newer than the last. */
	t0 = mono_ns();
	for (int k = 0; k < POOL; k++) {
		enum noise_result r = noise_create_initiation(&init.hs, &init.local, &pool[k],
							      0x10000u + (uint32_t)k,
							      WALL_START + (uint64_t)k * NSEC_PER_SEC);
		if (r != NOISE_OK)
			die("noise_create_initiation", noise_result_str(r));
		cookie_add_macs(&maker, (uint8_t *)&pool[k], sizeof(pool[k]), NOW_START);
	}
	gen_ns = mono_ns() - t0;

	while (total < budget) {
		uint64_t pass_start = total, pass_n = 0;

		if (passes++)
			readd_peer(&resp, &init);	/* untimed: new pass, fresh replay state */
		for (int k = 0; k < POOL && total < budget; k++, pass_n++) {
			struct noise_handshake *hs = NULL;
			enum cookie_mac_state m;
			enum noise_result r;

			now += FLOOD_STEP;
			t0 = mono_ns();
			m = cookie_validate(&checker, (const uint8_t *)&pool[k], sizeof(pool[k]), src,
					    src_len, false, now);
			t1 = mono_ns();
			r = noise_consume_initiation(&resp.local, &pool[k], &resp.lookup, now, &hs);
			t2 = mono_ns();
			if (m != COOKIE_MAC1_VALID)
				die("cookie_validate", "mac1 invalid");
			if (r != NOISE_OK || hs != &resp.hs)
				die("noise_consume_initiation", noise_result_str(r));
			r = noise_create_response(hs, &resp.local, &msg_resp, 0x20000u + (uint32_t)k);
			t3 = mono_ns();
			if (r != NOISE_OK)
				die("noise_create_response", noise_result_str(r));
			r = noise_derive_keypair(hs, &kp, now);
			t4 = mono_ns();
			if (r != NOISE_OK)
				die("noise_derive_keypair", noise_result_str(r));
			steps[STEP_VALIDATE] += t1 - t0;
			steps[STEP_CONSUME] += t2 - t1;
			steps[STEP_RESPOND] += t3 - t2;
			steps[STEP_DERIVE] += t4 - t3;
			total += t4 - t0;
			handshakes++;
		}
		/* a cut-short last pass is too small to be a fair sample */
		if (pass_n >= POOL / 4 && (double)pass_n * 1e9 / (double)(total - pass_start) > best)
			best = (double)pass_n * 1e9 / (double)(total - pass_start);
	}
	keypair_wipe(&kp);

	dh_rate = x25519_rate(false, secs / 4);
	base_rate = x25519_rate(true, secs / 4);
	floor_rate = 1.0 / (3.0 / dh_rate + 1.0 / base_rate);
	rate = (double)handshakes * 1e9 / (double)total;

	printf("bench_handshake: responder, one core, one initiator peer, %llu handshakes "
	       "(%d pass%s over %d pre-generated initiations), %.2f s timed\n",
	       (unsigned long long)handshakes, passes, passes == 1 ? "" : "es", POOL,
	       (double)total / 1e9);
	printf("handshakes/s: %.0f  (%.1f us per handshake)", rate, 1e6 / rate);
	if (best > 0)
		printf("; best pass %.0f/s (%.1f us)", best, 1e6 / best);
	printf("\n");
	for (int s = 0; s < N_STEPS; s++)
		printf("  %-26s %8.2f us  %5.1f%%\n", step_names[s],
		       (double)steps[s] / 1e3 / (double)handshakes,
		       100.0 * (double)steps[s] / (double)total);
	printf("libsodium X25519: crypto_scalarmult %.0f/s (%.1f us), crypto_scalarmult_base "
	       "%.0f/s (%.1f us)\n", dh_rate, 1e6 / dh_rate, base_rate, 1e6 / base_rate);
	printf("  3 DH + 1 base-point mult per handshake alone would allow %.0f handshakes/s; "
	       "ours reaches %.1f%% of that\n", floor_rate, 100.0 * rate / floor_rate);
	printf("initiator: %.0f initiations/s created (noise_create_initiation + mac1)\n",
	       (double)POOL * 1e9 / (double)gen_ns);

	cookie_maker_wipe(&maker);
	cookie_checker_wipe(&checker);
	noise_local_clear(&init.local);
	noise_local_clear(&resp.local);
	return 0;
}
