/* Unit tests for vpnd/datapath/index.c: the receiver-index table (open addressing,
 * linear probing, tombstones, growth).
 *
 * Entries carry fake peer/keypair pointers (never dereferenced by the
 * table) so each one can be checked against what was added. Indices come
 * from wg_random_u32(), as in the daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"

/* Distinct, aligned, never dereferenced. */
static struct peer *fake_peer(size_t i)
{
	return (struct peer *)(uintptr_t)(0x100000 + (uintptr_t)(i % 7) * 0x1000);
}

static struct keypair *fake_kp(size_t i)
{
	return (struct keypair *)(uintptr_t)(0x10000000 + (uintptr_t)i * 64);
}

static int setup(void **state)
{
	(void)state;
	return wg_crypto_init() ? 0 : -1;
}

static bool is_pow2(size_t n)
{
	return n && !(n & (n - 1));
}

/* The table's own bookkeeping agrees with its slots. */
static void check_invariants(const struct index_table *t)
{
	size_t live = 0, used = 0;

	assert_true(is_pow2(t->cap));
	assert_true(t->used * 4 <= t->cap * 3);
	for (size_t i = 0; i < t->cap; i++) {
		const struct index_entry *e = &t->slots[i];

		if (e->tombstone) {
			used++;
			assert_null(e->peer);
			assert_null(e->kp);
		} else if (e->index) {
			used++;
			live++;
		}
	}
	assert_int_equal(live, t->live);
	assert_int_equal(used, t->used);
	/* at least one empty slot, or a probe for a missing index never ends */
	assert_true(used < t->cap);
}

static void expect_entry(struct index_table *t, uint32_t index, struct peer *peer,
			 struct keypair *kp)
{
	struct index_entry *e = index_table_find(t, index);

	if (!e)
		fail_msg("index %08x not found", index);
	assert_int_equal(e->index, index);
	assert_false(e->tombstone);
	assert_ptr_equal(e->peer, peer);
	assert_ptr_equal(e->kp, kp);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* ---- basics ---- */

static void test_empty(void **state)
{
	struct index_table t;

	(void)state;
	assert_int_equal(index_table_init(&t), 0);
	assert_int_equal(t.cap, 64);
	assert_int_equal(t.live, 0);
	assert_null(index_table_find(&t, 0));
	assert_null(index_table_find(&t, 1));
	assert_null(index_table_find(&t, 0xffffffffu));
	assert_null(index_table_find(&t, wg_random_u32() | 1));
	index_table_remove(&t, 12345);		/* absent: no effect */
	index_table_set(&t, 12345, fake_kp(1));
	assert_int_equal(t.live, 0);
	assert_int_equal(t.used, 0);
	check_invariants(&t);
	index_table_free(&t);
	assert_null(t.slots);
	assert_int_equal(t.cap, 0);
}

/* Index 0 means "empty slot" inside the table: it must never be handed
 * out, found, removed or set, even when empty slots hold index 0. */
static void test_index_zero(void **state)
{
	struct index_table t;
	uint32_t idx;

	(void)state;
	assert_int_equal(index_table_init(&t), 0);
	idx = index_table_add(&t, fake_peer(0), NULL);
	assert_int_not_equal(idx, 0);
	assert_null(index_table_find(&t, 0));
	index_table_set(&t, 0, fake_kp(9));
	index_table_remove(&t, 0);
	assert_int_equal(t.live, 1);
	expect_entry(&t, idx, fake_peer(0), NULL);
	check_invariants(&t);
	for (size_t i = 0; i < t.cap; i++)
		if (!t.slots[i].index)
			assert_null(t.slots[i].peer);	/* set(0) wrote nowhere */
	index_table_free(&t);
}

static void test_add_find_set_remove(void **state)
{
	struct index_table t;
	uint32_t a, b;

	(void)state;
	assert_int_equal(index_table_init(&t), 0);
	a = index_table_add(&t, fake_peer(1), NULL);
	b = index_table_add(&t, fake_peer(2), fake_kp(2));
	assert_int_not_equal(a, 0);
	assert_int_not_equal(b, 0);
	assert_int_not_equal(a, b);
	expect_entry(&t, a, fake_peer(1), NULL);
	expect_entry(&t, b, fake_peer(2), fake_kp(2));

	/* a handshake index taken over by its keypair */
	index_table_set(&t, a, fake_kp(1));
	expect_entry(&t, a, fake_peer(1), fake_kp(1));

	index_table_remove(&t, a);
	assert_null(index_table_find(&t, a));
	assert_int_equal(t.live, 1);
	/* a second remove of the same index changes nothing */
	index_table_remove(&t, a);
	assert_int_equal(t.live, 1);
	index_table_set(&t, a, fake_kp(7));		/* removed: no effect */
	assert_null(index_table_find(&t, a));
	expect_entry(&t, b, fake_peer(2), fake_kp(2));
	check_invariants(&t);
	index_table_free(&t);
}

/* ---- many entries, growth ---- */

#define MANY 100000

static void test_many(void **state)
{
	struct index_table t;
	uint32_t *idx = malloc(MANY * sizeof(*idx)), *sorted = malloc(MANY * sizeof(*sorted));

	(void)state;
	assert_non_null(idx);
	assert_non_null(sorted);
	assert_int_equal(index_table_init(&t), 0);
	for (size_t i = 0; i < MANY; i++) {
		idx[i] = index_table_add(&t, fake_peer(i), i % 3 ? fake_kp(i) : NULL);
		assert_int_not_equal(idx[i], 0);
	}
	assert_int_equal(t.live, MANY);
	check_invariants(&t);

	/* all distinct */
	memcpy(sorted, idx, MANY * sizeof(*idx));
	qsort(sorted, MANY, sizeof(*sorted), cmp_u32);
	for (size_t i = 1; i < MANY; i++)
		if (sorted[i] == sorted[i - 1])
			fail_msg("index %08x handed out twice", sorted[i]);

	for (size_t i = 0; i < MANY; i++)
		expect_entry(&t, idx[i], fake_peer(i), i % 3 ? fake_kp(i) : NULL);

	/* remove half (the even ones), find the rest */
	for (size_t i = 0; i < MANY; i += 2)
		index_table_remove(&t, idx[i]);
	assert_int_equal(t.live, MANY / 2);
	check_invariants(&t);
	for (size_t i = 0; i < MANY; i++) {
		if (i % 2)
			expect_entry(&t, idx[i], fake_peer(i), i % 3 ? fake_kp(i) : NULL);
		else if (index_table_find(&t, idx[i]))
			fail_msg("removed index %08x (entry %zu) still found", idx[i], i);
	}

	/* refill: the new ones and the old odd ones all found */
	for (size_t i = 0; i < MANY; i += 2) {
		idx[i] = index_table_add(&t, fake_peer(i), fake_kp(i + MANY));
		assert_int_not_equal(idx[i], 0);
	}
	assert_int_equal(t.live, MANY);
	check_invariants(&t);
	for (size_t i = 0; i < MANY; i++)
		expect_entry(&t, idx[i], fake_peer(i),
			     i % 2 ? (i % 3 ? fake_kp(i) : NULL) : fake_kp(i + MANY));

	/* remove all: empty again */
	for (size_t i = 0; i < MANY; i++)
		index_table_remove(&t, idx[i]);
	assert_int_equal(t.live, 0);
	for (size_t i = 0; i < MANY; i++)
		assert_null(index_table_find(&t, idx[i]));
	check_invariants(&t);
	index_table_free(&t);
	free(idx);
	free(sorted);
}

/* Every growth (rehash) keeps every entry, with its peer and keypair. */
static void test_growth_keeps_entries(void **state)
{
	enum { N = 20000 };
	struct index_table t;
	uint32_t *idx = malloc(N * sizeof(*idx));
	size_t cap, growths = 0;

	(void)state;
	assert_non_null(idx);
	assert_int_equal(index_table_init(&t), 0);
	cap = t.cap;
	for (size_t i = 0; i < N; i++) {
		idx[i] = index_table_add(&t, fake_peer(i), fake_kp(i));
		assert_int_not_equal(idx[i], 0);
		if (t.cap != cap) {
			growths++;
			assert_true(t.cap > cap);
			cap = t.cap;
			check_invariants(&t);
			assert_int_equal(t.used, t.live);	/* a rehash leaves no tombstone */
			for (size_t j = 0; j <= i; j++)
				if (idx[j])
					expect_entry(&t, idx[j], fake_peer(j), fake_kp(j));
		}
		/* some removals, so rehashes also drop tombstones */
		if (i % 5 == 4) {
			index_table_remove(&t, idx[i - 2]);
			idx[i - 2] = 0;
		}
	}
	assert_true(growths >= 4);	/* 64 -> 256 -> 1024 -> 4096 -> 16384 or more */
	assert_true(t.cap >= 16384);
	index_table_free(&t);
	free(idx);
}

/* ---- tombstones ---- */

/* Live entries stay constant while entries come and go (sessions being
 * rekeyed): the table must neither grow without bound nor lose an entry
 * behind a tombstone in its probe chain. */
static void churn(size_t n_live, size_t cycles, bool fifo)
{
	struct index_table t;
	uint32_t *idx = calloc(n_live ? n_live : 1, sizeof(*idx));
	size_t *tag = calloc(n_live ? n_live : 1, sizeof(*tag));
	size_t max_cap, bound = 64, next_tag = 0, oldest = 0;

	assert_non_null(idx);
	assert_non_null(tag);
	assert_int_equal(index_table_init(&t), 0);
	for (size_t i = 0; i < n_live; i++) {
		tag[i] = next_tag++;
		idx[i] = index_table_add(&t, fake_peer(tag[i]), fake_kp(tag[i]));
		assert_int_not_equal(idx[i], 0);
	}
	max_cap = t.cap;
	/* What a full rehash of n_live entries needs, and twice that. */
	while (bound < n_live * 4 + 64)
		bound <<= 1;
	bound *= 2;

	for (size_t c = 0; c < cycles; c++) {
		size_t victim;
		uint32_t gone, fresh;

		if (!n_live) {
			fresh = index_table_add(&t, fake_peer(c), fake_kp(c));
			assert_int_not_equal(fresh, 0);
			expect_entry(&t, fresh, fake_peer(c), fake_kp(c));
			index_table_remove(&t, fresh);
			assert_null(index_table_find(&t, fresh));
		} else {
			victim = fifo ? oldest : wg_random_uniform((uint32_t)n_live);
			oldest = (oldest + 1) % n_live;
			gone = idx[victim];
			index_table_remove(&t, gone);
			tag[victim] = next_tag++;
			fresh = index_table_add(&t, fake_peer(tag[victim]), fake_kp(tag[victim]));
			assert_int_not_equal(fresh, 0);
			idx[victim] = fresh;
			if (fresh != gone && index_table_find(&t, gone))
				fail_msg("cycle %zu: removed index %08x still found", c, gone);
			expect_entry(&t, fresh, fake_peer(tag[victim]), fake_kp(tag[victim]));
		}
		assert_int_equal(t.live, n_live);
		if (t.cap > max_cap)
			max_cap = t.cap;
		if (t.cap > bound)
			fail_msg("cycle %zu: %zu live entries in a table of %zu slots (bound %zu)",
				 c, n_live, t.cap, bound);
		if (c % (cycles / 8) == 0) {
			check_invariants(&t);
			for (size_t i = 0; i < n_live; i++)
				expect_entry(&t, idx[i], fake_peer(tag[i]), fake_kp(tag[i]));
		}
	}
	check_invariants(&t);
	for (size_t i = 0; i < n_live; i++)
		expect_entry(&t, idx[i], fake_peer(tag[i]), fake_kp(tag[i]));
	print_message("churn: %zu live, %zu cycles, largest table %zu slots\n", n_live, cycles,
		      max_cap);
	index_table_free(&t);
	free(idx);
	free(tag);
}

static void test_tombstone_churn_random(void **state)
{
	(void)state;
	churn(1000, 1000000, false);
}

static void test_tombstone_churn_fifo(void **state)
{
	(void)state;
	churn(40, 1000000, true);
}

static void test_tombstone_churn_one_at_a_time(void **state)
{
	(void)state;
	churn(0, 1000000, false);
}

/* Near the growth threshold (3/4 full counting tombstones): probes across
 * long chains that are mostly tombstones still find every live entry and
 * end on a missing one. */
static void test_tombstones_in_probe_chains(void **state)
{
	enum { N = 47 };	/* 48 of 64 slots would trigger a rehash */
	struct index_table t;
	uint32_t idx[N];

	(void)state;
	assert_int_equal(index_table_init(&t), 0);
	for (size_t i = 0; i < N; i++)
		idx[i] = index_table_add(&t, fake_peer(i), fake_kp(i));
	assert_int_equal(t.cap, 64);
	for (size_t i = 0; i < N; i++)
		if (i % 4)
			index_table_remove(&t, idx[i]);
	assert_int_equal(t.cap, 64);
	assert_int_equal(t.used, N);
	check_invariants(&t);
	for (size_t i = 0; i < N; i++) {
		if (i % 4)
			assert_null(index_table_find(&t, idx[i]));
		else
			expect_entry(&t, idx[i], fake_peer(i), fake_kp(i));
	}
	/* every possible home slot, for an index surely absent from the table */
	for (uint32_t home = 0; home < 64; home++) {
		uint32_t probe = 0x80000000u | (home + 64 * (wg_random_u32() & 0xffff));
		bool present = false;

		for (size_t i = 0; i < N; i++)
			present |= idx[i] == probe;
		if (!present)
			assert_null(index_table_find(&t, probe));
	}
	index_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_index_zero),
		cmocka_unit_test(test_add_find_set_remove),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_growth_keeps_entries),
		cmocka_unit_test(test_tombstone_churn_random),
		cmocka_unit_test(test_tombstone_churn_fifo),
		cmocka_unit_test(test_tombstone_churn_one_at_a_time),
		cmocka_unit_test(test_tombstones_in_probe_chains),
	};

	return cmocka_run_group_tests_name("index", tests, setup, NULL);
}
