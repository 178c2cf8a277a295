/* The global DH budget on an injected clock: the ceiling per window, a new
 * window after a second, a clock going back gives nothing, counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "handshake/hsbudget.h"
#include "handshake/wire.h"

#define T0 (1000 * NSEC_PER_SEC)

static unsigned take_n(struct hs_budget *b, uint64_t now, unsigned n)
{
	unsigned got = 0;

	while (n--)
		got += hs_budget_take(b, now);
	return got;
}

static void test_ceiling_per_second(void **state)
{
	struct hs_budget b;

	(void)state;
	hs_budget_init(&b, 10);
	assert_int_equal(take_n(&b, T0, 25), 10);
	assert_int_equal(take_n(&b, T0 + NSEC_PER_SEC - 1, 5), 0);
	assert_int_equal(take_n(&b, T0 + NSEC_PER_SEC, 25), 10);
	assert_int_equal(b.granted, 20);
	assert_int_equal(b.refused, 15 + 5 + 15);
}

static void test_spread_over_the_second(void **state)
{
	struct hs_budget b;
	unsigned ms, got = 0;

	(void)state;
	hs_budget_init(&b, 100);
	/* 1000 attempts in one second, one a millisecond: 100 pass. */
	for (ms = 0; ms < 1000; ms++)
		got += hs_budget_take(&b, T0 + (uint64_t)ms * MSEC_NS);
	assert_int_equal(got, 100);
}

static void test_clock_back_gives_nothing(void **state)
{
	struct hs_budget b;

	(void)state;
	hs_budget_init(&b, 3);
	assert_int_equal(take_n(&b, T0, 3), 3);
	assert_int_equal(take_n(&b, T0 - 5 * NSEC_PER_SEC, 3), 0);
	assert_int_equal(take_n(&b, T0 + NSEC_PER_SEC, 3), 3);
}

static void test_default(void **state)
{
	struct hs_budget b;

	(void)state;
	hs_budget_init(&b, 0);
	assert_int_equal(take_n(&b, T0, HSBUDGET_DEFAULT_PER_SECOND + 100),
			 HSBUDGET_DEFAULT_PER_SECOND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling_per_second),
		cmocka_unit_test(test_spread_over_the_second),
		cmocka_unit_test(test_clock_back_gives_nothing),
		cmocka_unit_test(test_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
