/* Per-source handshake rate limit: burst, refill at 20/s on injected time,
 * independence of sources, IPv6 /64 grouping (/48 in coarse mode), a full
 * table evicting its least recently used entry (never locking newcomers
 * out), garbage collection, and bounded memory under a flood of distinct
 * sources. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "handshake/ratelimit.h"
#include "handshake/wire.h"

#define COST_NS (NSEC_PER_SEC / RATELIMIT_PACKETS_PER_SECOND)	/* 50 ms */
/* An arbitrary start: nothing may assume time begins at 0. */
#define T0      (1000 * NSEC_PER_SEC)

static const uint8_t ip4_a[4] = { 192, 0, 2, 1 };
static const uint8_t ip4_b[4] = { 192, 0, 2, 2 };

static void ip4_of(uint8_t ip[4], uint32_t n)
{
	ip[0] = n >> 24;
	ip[1] = n >> 16;
	ip[2] = n >> 8;
	ip[3] = n;
}

/* How many packets in a row are allowed at one instant (stops at limit). */
static int drain(struct ratelimiter *rl, const uint8_t *ip, size_t len, uint64_t now, int limit)
{
	int n = 0;

	while (n < limit && ratelimiter_allow(rl, ip, len, now))
		n++;
	return n;
}

static int setup(void **state)
{
	*state = ratelimiter_new(0);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	ratelimiter_free(*state);
	return 0;
}

static void test_burst_then_refused(void **state)
{
	struct ratelimiter *rl = *state;
	int i;

	for (i = 0; i < RATELIMIT_BURST; i++)
		assert_true(ratelimiter_allow(rl, ip4_a, 4, T0));
	assert_false(ratelimiter_allow(rl, ip4_a, 4, T0));
	assert_false(ratelimiter_allow(rl, ip4_a, 4, T0 + COST_NS - 1));
	assert_int_equal(ratelimiter_entries(rl), 1);
}

static void test_refill_rate(void **state)
{
	struct ratelimiter *rl = *state;
	uint64_t now = T0;
	int step, allowed = 0;

	assert_int_equal(drain(rl, ip4_a, 4, now, 100), RATELIMIT_BURST);
	/* Over one second in 50 ms steps, exactly one packet per step. */
	for (step = 0; step < RATELIMIT_PACKETS_PER_SECOND; step++) {
		now += COST_NS;
		assert_int_equal(drain(rl, ip4_a, 4, now, 100), 1);
		allowed++;
	}
	assert_int_equal(allowed, RATELIMIT_PACKETS_PER_SECOND);
	/* Half a packet's time buys nothing; the other half completes it. */
	now += COST_NS / 2;
	assert_false(ratelimiter_allow(rl, ip4_a, 4, now));
	now += COST_NS / 2;
	assert_true(ratelimiter_allow(rl, ip4_a, 4, now));
	/* A long silence refills the burst, never more. */
	now += 60 * NSEC_PER_SEC;
	assert_int_equal(drain(rl, ip4_a, 4, now, 100), RATELIMIT_BURST);
}

static void test_clock_going_back_adds_nothing(void **state)
{
	struct ratelimiter *rl = *state;

	assert_int_equal(drain(rl, ip4_a, 4, T0, 100), RATELIMIT_BURST);
	assert_false(ratelimiter_allow(rl, ip4_a, 4, T0 - NSEC_PER_SEC));
	assert_false(ratelimiter_allow(rl, ip4_a, 4, T0));
	assert_true(ratelimiter_allow(rl, ip4_a, 4, T0 + COST_NS));
}

static void test_sources_independent(void **state)
{
	struct ratelimiter *rl = *state;
	static const uint8_t ip6_mapped_a[16] = { 192, 0, 2, 1 };

	assert_int_equal(drain(rl, ip4_a, 4, T0, 100), RATELIMIT_BURST);
	assert_int_equal(drain(rl, ip4_b, 4, T0, 100), RATELIMIT_BURST);
	/* Same leading bytes but another family: another source. */
	assert_int_equal(drain(rl, ip6_mapped_a, 16, T0, 100), RATELIMIT_BURST);
	assert_int_equal(ratelimiter_entries(rl), 3);
}

/* The hash key is random, so two sources share a chain only by chance.
 * With 2 chains, 64 fresh limiters make "never together" a 2^-64 event:
 * this checks that the lookup itself, not just the hash, tells an IPv4
 * address from an IPv6 /64 that begins with the same bytes. */
static void test_family_is_part_of_key(void **state)
{
	static const uint8_t ip6_mapped_a[16] = { 192, 0, 2, 1 };
	int round;

	(void)state;
	for (round = 0; round < 64; round++) {
		struct ratelimiter *rl = ratelimiter_new(2);

		assert_non_null(rl);
		assert_int_equal(drain(rl, ip4_a, 4, T0, 100), RATELIMIT_BURST);
		assert_int_equal(drain(rl, ip6_mapped_a, 16, T0, 100), RATELIMIT_BURST);
		assert_int_equal(ratelimiter_entries(rl), 2);
		ratelimiter_free(rl);
	}
}

static void test_ipv6_shares_slash64(void **state)
{
	struct ratelimiter *rl = *state;
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t b[16], other64[16];

	memcpy(b, a, 16);
	memset(b + 8, 0xff, 8);		/* same /64, every low bit different */
	memcpy(other64, a, 16);
	other64[7] ^= 1;		/* lowest bit of the /64 prefix */
	assert_int_equal(drain(rl, a, 16, T0, 3), 3);
	assert_int_equal(drain(rl, b, 16, T0, 100), RATELIMIT_BURST - 3);
	assert_false(ratelimiter_allow(rl, a, 16, T0));
	assert_int_equal(drain(rl, other64, 16, T0, 100), RATELIMIT_BURST);
	assert_int_equal(ratelimiter_entries(rl), 2);
}

static void test_bad_address_refused(void **state)
{
	struct ratelimiter *rl = *state;

	assert_false(ratelimiter_allow(rl, ip4_a, 0, T0));
	assert_false(ratelimiter_allow(rl, ip4_a, 3, T0));
	assert_false(ratelimiter_allow(rl, ip4_a, 5, T0));
	assert_false(ratelimiter_allow(rl, NULL, 4, T0));
	assert_int_equal(ratelimiter_entries(rl), 0);
}

/* Table full: the least recently used source makes room for the new one;
 * the others keep their (spent) buckets. */
static void test_full_table_evicts_oldest(void **state)
{
	struct ratelimiter *rl = ratelimiter_new(4);
	uint8_t ip[4];
	uint32_t n;

	(void)state;
	assert_non_null(rl);
	for (n = 0; n < 4; n++) {
		ip4_of(ip, 0x0a000000 + n);
		assert_true(ratelimiter_allow(rl, ip, 4, T0 + n));
	}
	/* Touch source 0 again: source 1 is now the least recently used. */
	ip4_of(ip, 0x0a000000);
	assert_true(ratelimiter_allow(rl, ip, 4, T0 + 10));
	ip4_of(ip, 0x0a000000 + 4);
	assert_true(ratelimiter_allow(rl, ip, 4, T0 + 11));
	assert_int_equal(ratelimiter_entries(rl), 4);
	assert_int_equal(ratelimiter_evictions(rl), 1);
	/* Source 0 kept its bucket (two spent), source 1 starts afresh. */
	ip4_of(ip, 0x0a000000);
	assert_int_equal(drain(rl, ip, 4, T0 + 12, 100), RATELIMIT_BURST - 2);
	ip4_of(ip, 0x0a000000 + 1);
	assert_int_equal(drain(rl, ip, 4, T0 + 13, 100), RATELIMIT_BURST);
	assert_int_equal(ratelimiter_evictions(rl), 2);
	ratelimiter_free(rl);
}

/* The lock-out of issue 13: 8192 sources each sending a packet a second
 * (every one of them refilled and so never idle to gc) fill the default
 * table; a newcomer still gets in, at once, with a full burst. */
static void test_held_table_admits_newcomer(void **state)
{
	struct ratelimiter *rl = *state;
	uint64_t now = T0;
	uint8_t ip[4];
	uint32_t n;
	int second;

	for (second = 0; second < 3; second++) {
		for (n = 0; n < 8192; n++) {
			ip4_of(ip, 0x0a000000 + n);
			assert_true(ratelimiter_allow(rl, ip, 4, now + n * 1000));
		}
		now += NSEC_PER_SEC;
		ratelimiter_gc(rl, now);
		assert_int_equal(ratelimiter_entries(rl), 8192);
	}
	assert_int_equal(ratelimiter_evictions(rl), 0);
	assert_int_equal(drain(rl, ip4_a, 4, now, 100), RATELIMIT_BURST);
	assert_int_equal(ratelimiter_entries(rl), 8192);
	assert_int_equal(ratelimiter_evictions(rl), 1);
}

/* A numbered table: each row one packet (source, time in ms after T0,
 * coarse mode) and whether it passes; rows run in order on one limiter of
 * 3 entries, so eviction, refill, /64 and /48 grouping meet. */
static void test_table(void **state)
{
	static const struct row {
		int no;
		char src;	/* A, B, C, D: IPv4; P, Q: IPv6, same /48, other /64 */
		unsigned ms;
		bool coarse, allowed;
	} rows[] = {
		{ 1, 'A', 0, false, true },	/* burst of 5 */
		{ 2, 'A', 0, false, true },
		{ 3, 'A', 0, false, true },
		{ 4, 'A', 0, false, true },
		{ 5, 'A', 0, false, true },
		{ 6, 'A', 0, false, false },	/* spent */
		{ 7, 'A', 49, false, false },	/* 49 ms: not a packet's worth */
		{ 8, 'A', 50, false, true },	/* 50 ms: one */
		{ 9, 'P', 50, false, true },	/* table: A P */
		{ 10, 'Q', 50, false, true },	/* other /64: own bucket; A P Q (full) */
		{ 11, 'B', 60, false, true },	/* evicts A (oldest) */
		{ 12, 'A', 60, false, true },	/* A back, fresh: evicts P */
		{ 13, 'A', 60, false, true },
		{ 14, 'A', 60, false, true },
		{ 15, 'A', 60, false, true },
		{ 16, 'A', 60, false, true },
		{ 17, 'A', 60, false, false },	/* fresh burst spent */
		{ 18, 'P', 70, true, true },	/* coarse: P's /48 new; evicts Q */
		{ 19, 'Q', 70, true, true },	/* same /48: same bucket */
		{ 20, 'P', 70, true, true },
		{ 21, 'Q', 70, true, true },
		{ 22, 'P', 70, true, true },
		{ 23, 'Q', 70, true, false },	/* the /48's burst of 5 spent */
		{ 24, 'Q', 70, false, true },	/* fine again: Q's /64, fresh */
		{ 25, 'C', 2000, false, true },	/* table full: evicts the oldest */
		{ 26, 'D', 2000, false, true },
	};
	static const uint8_t v6p[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 7, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t v6q[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 7, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t v4c[4] = { 192, 0, 2, 3 }, v4d[4] = { 192, 0, 2, 4 };
	struct ratelimiter *rl = ratelimiter_new(3);
	size_t i;

	(void)state;
	assert_non_null(rl);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		const uint8_t *ip = r->src == 'A' ? ip4_a : r->src == 'B' ? ip4_b :
				    r->src == 'C' ? v4c : r->src == 'D' ? v4d :
				    r->src == 'P' ? v6p : v6q;
		size_t len = r->src == 'P' || r->src == 'Q' ? 16 : 4;
		bool got;

		ratelimiter_set_coarse(rl, r->coarse);
		got = ratelimiter_allow(rl, ip, len, T0 + (uint64_t)r->ms * MSEC_NS);
		if (got != r->allowed)
			fail_msg("row %d: source %c at %u ms: got %d", r->no, r->src, r->ms, got);
		assert_true(ratelimiter_entries(rl) <= 3);
	}
	ratelimiter_free(rl);
}

/* A rate other than the default: one packet per 250 ms, no burst (the
 * cookie-reply limiter). */
static void test_other_rate(void **state)
{
	struct ratelimiter *rl = ratelimiter_new_rate(16, 4, 1);

	(void)state;
	assert_non_null(rl);
	assert_true(ratelimiter_allow(rl, ip4_a, 4, T0));
	assert_false(ratelimiter_allow(rl, ip4_a, 4, T0 + 249 * MSEC_NS));
	assert_true(ratelimiter_allow(rl, ip4_a, 4, T0 + 250 * MSEC_NS));
	assert_false(ratelimiter_allow(rl, ip4_a, 4, T0 + 250 * MSEC_NS));
	/* A long silence refills one packet, never more. */
	assert_int_equal(drain(rl, ip4_a, 4, T0 + 60 * NSEC_PER_SEC, 100), 1);
	assert_null(ratelimiter_new_rate(16, 0, 1));
	assert_null(ratelimiter_new_rate(16, 1, 0));
	ratelimiter_free(rl);
}

/* Slower than one a second (the DH limiter under load: one per
 * REKEY_TIMEOUT, burst 2), and its idle entries live as long as their
 * bucket takes to refill (gc must not hand a fresh burst back early). */
static void test_interval_rate(void **state)
{
	struct ratelimiter *rl = ratelimiter_new_interval(16, 5 * NSEC_PER_SEC, 2);

	(void)state;
	assert_non_null(rl);
	assert_int_equal(drain(rl, ip4_a, 4, T0, 10), 2);
	assert_false(ratelimiter_allow(rl, ip4_a, 4, T0 + 4999 * MSEC_NS));
	ratelimiter_gc(rl, T0 + 3 * NSEC_PER_SEC);
	assert_int_equal(ratelimiter_entries(rl), 1);	/* still refilling */
	assert_true(ratelimiter_allow(rl, ip4_a, 4, T0 + 5 * NSEC_PER_SEC));
	assert_true(ratelimiter_allow(rl, ip4_b, 4, T0 + 5 * NSEC_PER_SEC));
	assert_null(ratelimiter_new_interval(16, 0, 1));
	ratelimiter_free(rl);
}

static void test_gc_frees_only_idle(void **state)
{
	struct ratelimiter *rl = *state;

	assert_true(ratelimiter_allow(rl, ip4_a, 4, T0));
	assert_true(ratelimiter_allow(rl, ip4_b, 4, T0 + 800 * MSEC_NS));
	/* Idle exactly one second is not "over a second". */
	ratelimiter_gc(rl, T0 + NSEC_PER_SEC);
	assert_int_equal(ratelimiter_entries(rl), 2);
	ratelimiter_gc(rl, T0 + NSEC_PER_SEC + 1);
	assert_int_equal(ratelimiter_entries(rl), 1);
	/* A refused packet still counts as activity: b stays. */
	assert_int_equal(drain(rl, ip4_b, 4, T0 + 1500 * MSEC_NS, 100), RATELIMIT_BURST);
	assert_false(ratelimiter_allow(rl, ip4_b, 4, T0 + 1540 * MSEC_NS));
	/* Idle 0.98 s since the refused packet (1.02 s since the last allowed). */
	ratelimiter_gc(rl, T0 + 2520 * MSEC_NS);
	assert_int_equal(ratelimiter_entries(rl), 1);
	ratelimiter_gc(rl, T0 + 3 * NSEC_PER_SEC);
	assert_int_equal(ratelimiter_entries(rl), 0);
	/* A collected source comes back with a fresh, full bucket. */
	assert_int_equal(drain(rl, ip4_a, 4, T0 + 3 * NSEC_PER_SEC, 100), RATELIMIT_BURST);
}

/* A million distinct sources (IPv4 and IPv6 /64s), 10 us apart, with gc once
 * a virtual second as the daemon would run it. The table never holds more
 * than its maximum, and no heap memory is taken while flooding (mallinfo2
 * sees glibc's heap; under ASan it sees nothing, which is still a pass). */
static void test_flood_is_bounded(void **state)
{
	enum { MAX = 1024, SOURCES = 1000000, STEP_NS = 10000 };
	struct ratelimiter *rl = ratelimiter_new(MAX);
	uint64_t now = T0, next_gc = T0 + NSEC_PER_SEC;
	size_t heap_before, allowed = 0, peak = 0;
	uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint8_t ip4[4];
	uint32_t n;

	(void)state;
	assert_non_null(rl);
	heap_before = mallinfo2().uordblks;
	for (n = 0; n < SOURCES; n++, now += STEP_NS) {
		bool ok;

		if (n & 1) {
			ip4_of(ip4, n);
			ok = ratelimiter_allow(rl, ip4, 4, now);
		} else {
			ip4_of(ip6 + 4, n);
			ok = ratelimiter_allow(rl, ip6, 16, now);
		}
		allowed += ok;
		if (ratelimiter_entries(rl) > peak)
			peak = ratelimiter_entries(rl);
		if (now >= next_gc) {
			ratelimiter_gc(rl, now);
			next_gc = now + NSEC_PER_SEC;
		}
	}
	assert_int_equal(mallinfo2().uordblks, heap_before);
	assert_true(peak <= MAX);
	assert_int_equal(peak, MAX);
	/* Every source is new and gets its first packet (by evicting the
	 * oldest): bounding what a million sources buy is the DH budget's
	 * job, not this table's. */
	assert_int_equal(allowed, SOURCES);
	assert_int_equal(ratelimiter_evictions(rl), SOURCES - MAX);
	ratelimiter_free(rl);
}

static void test_default_size(void **state)
{
	struct ratelimiter *rl = *state;
	uint8_t ip[4];
	uint32_t n;

	/* 0 picks 8192 entries: 8192 sources fit, the next one evicts. */
	for (n = 0; n < 8192; n++) {
		ip4_of(ip, n);
		assert_true(ratelimiter_allow(rl, ip, 4, T0));
	}
	assert_int_equal(ratelimiter_evictions(rl), 0);
	ip4_of(ip, n);
	assert_true(ratelimiter_allow(rl, ip, 4, T0));
	assert_int_equal(ratelimiter_entries(rl), 8192);
	assert_int_equal(ratelimiter_evictions(rl), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_burst_then_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refill_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_going_back_adds_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sources_independent, setup, teardown),
		cmocka_unit_test(test_family_is_part_of_key),
		cmocka_unit_test_setup_teardown(test_ipv6_shares_slash64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_address_refused, setup, teardown),
		cmocka_unit_test(test_full_table_evicts_oldest),
		cmocka_unit_test_setup_teardown(test_held_table_admits_newcomer, setup, teardown),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_other_rate),
		cmocka_unit_test(test_interval_rate),
		cmocka_unit_test_setup_teardown(test_gc_frees_only_idle, setup, teardown),
		cmocka_unit_test(test_flood_is_bounded),
		cmocka_unit_test_setup_teardown(test_default_size, setup, teardown),
	};

	if (!wg_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
