/* Anti-replay window: a numbered table of cases run in order against one
 * window, a randomized comparison against a naive reference, and checks that
 * replay_check() and rejecting replay_update() calls never touch the window. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "handshake/replay.h"

/* Greatest distance behind the greatest counter still accepted. */
#define WINDOW (REPLAY_WINDOW_BITS - 64)
#define LIMIT  REJECT_AFTER_MESSAGES

struct replay_case {
	uint64_t counter;
	bool accept;
	const char *why;
};

/* Run in order against one window: each row depends on the rows above it.
 * The row number (in the comment) is what a failure reports. */
static const struct replay_case replay_table[] = {
	/*  1 */ { 0, true, "first packet, counter 0" },
	/*  2 */ { 1, true, "in order" },
	/*  3 */ { 2, true, "in order" },
	/*  4 */ { 2, false, "duplicate of the greatest" },
	/*  5 */ { 0, false, "duplicate of the first packet" },
	/*  6 */ { 10, true, "small jump ahead, leaves the gap 3..9" },
	/*  7 */ { 5, true, "reordered: inside the window, never seen" },
	/*  8 */ { 5, false, "duplicate of a reordered counter" },
	/*  9 */ { 9, true, "reordered, just below the greatest" },
	/* 10 */ { 3, true, "reordered, bottom of the gap" },
	/* 11 */ { 8000, true, "jump ahead by less than the window" },
	/* 12 */ { 3, false, "still inside the window and already seen" },
	/* 13 */ { 4, true, "old but inside the window, never seen" },
	/* 14 */ { 8200, true, "greatest becomes 8200" },
	/* 15 */ { 8200 - WINDOW, true, "8200 - 8128: just inside the window edge" },
	/* 16 */ { 8200 - WINDOW - 1, false, "8200 - 8129: just outside the edge, too old" },
	/* 17 */ { 8200 - WINDOW, false, "duplicate at the edge" },
	/* 18 */ { 8200 - WINDOW + 1, true, "one inside the edge" },
	/* 19 */ { 10, false, "seen long ago and now too old" },
	/* 20 */ { 100000, true, "far jump ahead, more than the whole ring" },
	/* 21 */ { 99999, true, "just behind the new greatest" },
	/* 22 */ { 8200, false, "the previous greatest, now too old" },
	/* 23 */ { 98312, true, "same ring bit as 8200: the jump must have cleared it" },
	/* 24 */ { 100000 - WINDOW, true, "100000 - 8128: edge after the jump" },
	/* 25 */ { 100000 - WINDOW - 1, false, "100000 - 8129: outside the edge after the jump" },
	/* 26 */ { 100000 - WINDOW, false, "duplicate at the edge after the jump" },
	/* 27 */ { 100094, true, "ahead, last bit of a bitmap block (bit 100095)" },
	/* 28 */ { 100095, true, "ahead, first bit of the next block" },
	/* 29 */ { 100094, false, "duplicate across a block boundary" },
	/* 30 */ { LIMIT - 1, true, "REJECT_AFTER_MESSAGES - 1: last usable counter, jump of ~2^64" },
	/* 31 */ { LIMIT - 1, false, "duplicate of the last usable counter" },
	/* 32 */ { LIMIT, false, "REJECT_AFTER_MESSAGES: at the limit" },
	/* 33 */ { LIMIT + 1, false, "past the limit" },
	/* 34 */ { UINT64_MAX, false, "UINT64_MAX" },
	/* 35 */ { LIMIT - 2, true, "reordered just below the limit" },
	/* 36 */ { LIMIT - 1 - WINDOW, true, "window edge at the top of the counter space" },
	/* 37 */ { LIMIT - 2 - WINDOW, false, "outside the edge at the top" },
	/* 38 */ { 100095, false, "greatest before the jump to the limit, too old" },
	/* 39 */ { 0, false, "counter 0 again, long after" },
};

static void run_row(struct replay_window *w, size_t i)
{
	const struct replay_case *c = &replay_table[i];
	bool checked = replay_check(w, c->counter);
	bool updated = replay_update(w, c->counter);

	if (checked != c->accept || updated != c->accept)
		fail_msg("row %zu (%s): counter %" PRIu64 ": check %d, update %d, want %d",
			 i + 1, c->why, c->counter, checked, updated, c->accept);
	/* Whatever happened, the counter is now unacceptable: seen or refused. */
	if (replay_check(w, c->counter))
		fail_msg("row %zu (%s): counter %" PRIu64 " still acceptable after update",
			 i + 1, c->why, c->counter);
}

static void test_replay_table(void **state)
{
	struct replay_window w;
	size_t i;

	(void)state;
	replay_init(&w);
	for (i = 0; i < sizeof(replay_table) / sizeof(replay_table[0]); i++)
		run_row(&w, i);
}

static void test_replay_first_counter_not_zero(void **state)
{
	struct replay_window w;

	(void)state;
	replay_init(&w);
	assert_true(replay_update(&w, 1000000));
	assert_true(replay_update(&w, 1000000 - WINDOW));
	assert_false(replay_update(&w, 1000000 - WINDOW - 1));
	assert_false(replay_update(&w, 0));
	assert_true(replay_update(&w, 1000001));
}

static void test_replay_fresh_window_limits(void **state)
{
	struct replay_window w;

	(void)state;
	replay_init(&w);
	assert_false(replay_check(&w, LIMIT));
	assert_false(replay_update(&w, LIMIT));
	assert_false(replay_update(&w, UINT64_MAX));
	assert_true(replay_check(&w, LIMIT - 1));
	assert_true(replay_update(&w, LIMIT - 1));
}

/* --- naive reference ---------------------------------------------------- */

/* splitmix64: a fixed, documented generator so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Set of every counter ever accepted: open addressing over counter + 1, so 0
 * marks an empty slot. Only counters below LIMIT are ever stored or looked
 * up, so counter + 1 cannot wrap. Sized for one phase with load <= 1/2. */
#define SET_BITS 18
#define SET_SIZE (1u << SET_BITS)

struct ref {
	uint64_t *seen;
	bool any;
	uint64_t greatest;
};

static size_t set_slot(const struct ref *r, uint64_t counter)
{
	size_t i = (size_t)((counter * 0x9e3779b97f4a7c15ULL) >> (64 - SET_BITS));

	while (r->seen[i] != 0 && r->seen[i] != counter + 1)
		i = (i + 1) & (SET_SIZE - 1);
	return i;
}

/* The rule stated plainly: below the limit, never seen, and no more than
 * WINDOW behind the greatest counter seen so far. */
static bool ref_acceptable(const struct ref *r, uint64_t counter)
{
	if (counter >= LIMIT)
		return false;
	if (r->any && counter < r->greatest && r->greatest - counter > WINDOW)
		return false;
	return r->seen[set_slot(r, counter)] == 0;
}

static void ref_mark(struct ref *r, uint64_t counter)
{
	r->seen[set_slot(r, counter)] = counter + 1;
	if (!r->any || counter > r->greatest)
		r->greatest = counter;
	r->any = true;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a < b ? 0 : a - b;
}

/* Counters aimed at the interesting places: the window edge, block
 * boundaries just ahead, jumps bigger than the ring, duplicates. */
static uint64_t pick_counter(uint64_t *rng, uint64_t g)
{
	uint64_t roll = rng_next(rng) % 100, x = rng_next(rng);

	if (roll < 35)
		return sub_sat(g, x % (WINDOW + 256));
	if (roll < 55)
		return add_sat(g, 1 + x % 130);
	if (roll < 65)
		return sub_sat(g, WINDOW - 2 + x % 5);
	if (roll < 80)
		return sub_sat(g, x % 64);
	if (roll < 90)
		return add_sat(g, x % (3 * REPLAY_WINDOW_BITS));
	if (roll < 98)
		return x % (g + 1);	/* g < LIMIT: no wrap */
	return x;	/* anywhere, mostly past the limit */
}

struct tally {
	unsigned long accepted, rejected;
};

static void run_phase(uint64_t *rng, uint64_t first, unsigned ops, struct tally *t)
{
	struct replay_window w;
	struct ref r = { .seen = calloc(SET_SIZE, sizeof(uint64_t)) };
	uint64_t counter = first;
	unsigned i;

	assert_non_null(r.seen);
	replay_init(&w);
	for (i = 0; i < ops; i++) {
		bool want = ref_acceptable(&r, counter);
		bool checked = replay_check(&w, counter);
		bool updated = replay_update(&w, counter);

		if (checked != want || updated != want)
			fail_msg("op %u from %" PRIu64 ": counter %" PRIu64 " (greatest %" PRIu64
				 "): check %d, update %d, reference %d",
				 i, first, counter, r.greatest, checked, updated, want);
		if (want)
			ref_mark(&r, counter);
		assert_true(w.next == (r.any ? r.greatest + 1 : 0));
		if (want)
			t->accepted++;
		else
			t->rejected++;
		counter = pick_counter(rng, r.greatest);
	}
	free(r.seen);
}

static void test_replay_random_vs_reference(void **state)
{
	/* Each phase starts a fresh window at a different place: at 0, at a
	 * first counter that is not 0, across 2^32, and close enough to the
	 * limit that the second half of the phase runs into it. */
	static const uint64_t firsts[] = {
		0, 5000, (1ULL << 32) - 10000, LIMIT - 20000000,
	};
	uint64_t rng = 0x5eed0f7e91a7ULL;
	struct tally t = { 0, 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++)
		run_phase(&rng, firsts[i], 50000, &t);
	/* The mix must exercise both outcomes substantially. */
	assert_true(t.accepted > 200000 / 5);
	assert_true(t.rejected > 200000 / 5);
}

/* --- the window is only ever changed by an accepting update ----------- */

static void build_history(struct replay_window *w, uint64_t *rng)
{
	uint64_t g = 0;
	int i;

	replay_init(w);
	for (i = 0; i < 20000; i++) {
		uint64_t c = pick_counter(rng, g);

		if (replay_update(w, c) && c > g)
			g = c;
	}
}

static void test_replay_check_is_read_only(void **state)
{
	struct replay_window w, before;
	uint64_t rng = 42, g;
	size_t i;
	int n;

	(void)state;
	build_history(&w, &rng);
	g = w.next - 1;
	memcpy(&before, &w, sizeof(w));
	for (i = 0; i < sizeof(replay_table) / sizeof(replay_table[0]); i++)
		(void)replay_check(&w, replay_table[i].counter);
	for (n = 0; n < 100000; n++)
		(void)replay_check(&w, pick_counter(&rng, g));
	assert_memory_equal(&w, &before, sizeof(w));
}

static void test_replay_rejected_update_changes_nothing(void **state)
{
	struct replay_window w, before;
	uint64_t rng = 7, g;
	int n, rejected = 0;

	(void)state;
	build_history(&w, &rng);
	for (n = 0; n < 100000; n++) {
		uint64_t c;

		g = w.next - 1;
		c = pick_counter(&rng, g);
		memcpy(&before, &w, sizeof(w));
		if (replay_update(&w, c))
			continue;
		rejected++;
		assert_memory_equal(&w, &before, sizeof(w));
	}
	assert_true(rejected > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_table),
		cmocka_unit_test(test_replay_first_counter_not_zero),
		cmocka_unit_test(test_replay_fresh_window_limits),
		cmocka_unit_test(test_replay_random_vs_reference),
		cmocka_unit_test(test_replay_check_is_read_only),
		cmocka_unit_test(test_replay_rejected_update_changes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
