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

/* Demand (messages asking for a DH, granted or not) over the budget in a
 * window is the backlog that puts the device under load: an honest burst
 * within the budget is not (a hub of 600 peers restarting), demand past it
 * is, and a new window starts again from nothing. */
static void test_demand_over_budget(void **state)
{
	struct hs_budget b;
	unsigned over = 0;

	(void)state;
	hs_budget_init(&b, 1000);
	for (int i = 0; i < 600; i++)
		over += hs_budget_demand(&b, T0 + (uint64_t)i * 1000000);
	assert_int_equal(over, 0);
	for (int i = 0; i < 400; i++)
		over += hs_budget_demand(&b, T0 + 600000000);
	assert_int_equal(over, 0);		/* exactly the budget: still fine */
	assert_true(hs_budget_demand(&b, T0 + 700000000));
	assert_int_equal(take_n(&b, T0 + 700000000, 5), 5);	/* grants apart */
	assert_false(hs_budget_demand(&b, T0 + NSEC_PER_SEC));	/* a new window */
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
		cmocka_unit_test(test_demand_over_budget),
		cmocka_unit_test(test_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
