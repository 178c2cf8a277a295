/* The under-load rule: a numbered table of (queue fill, time) observations
 * and the decision each must give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "handshake/hsload.h"

#define MS 1000000ULL
#define T0 (5000 * MS)

static void test_table(void **state)
{
	static const struct row {
		int no;
		size_t queued, capacity;
		uint64_t ms;
		bool loaded;
	} rows[] = {
		{ 1, 0, 4096, 0, false },	/* empty */
		{ 2, 511, 4096, 1, false },	/* just under 1/8 */
		{ 3, 512, 4096, 2, true },	/* 1/8 */
		{ 4, 0, 4096, 500, true },	/* drained, held */
		{ 5, 0, 4096, 1001, true },	/* 999 ms after row 3 */
		{ 6, 0, 4096, 1002, false },	/* 1 s after: released */
		{ 7, 4096, 4096, 1100, true },	/* full */
		{ 8, 100, 4096, 1900, true },
		{ 9, 600, 4096, 2000, true },	/* renewed at 2000 */
		{ 10, 0, 4096, 2999, true },
		{ 11, 0, 4096, 3000, false },
		{ 12, 1, 8, 3001, true },	/* 1/8 of a small queue */
		{ 13, 1, 9, 5000, false },	/* 1 < 9/8: not yet */
		{ 14, 2, 9, 5001, true },
		{ 15, 0, 0, 9000, false },	/* no queue */
	};
	struct hs_load l = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		bool got = hs_load_update(&l, r->queued, r->capacity, T0 + r->ms * MS);

		if (got != r->loaded)
			fail_msg("row %d: %zu of %zu at %llu ms: got %d", r->no, r->queued,
				 r->capacity, (unsigned long long)r->ms, got);
		assert_int_equal(hs_load_active(&l, T0 + r->ms * MS), got);
	}
}

static void test_fresh_state_not_loaded(void **state)
{
	struct hs_load l = { 0 };

	(void)state;
	/* A clock near zero must not read as "before until_ns = 0". */
	assert_false(hs_load_active(&l, 0));
	assert_false(hs_load_update(&l, 0, 4096, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_fresh_state_not_loaded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
