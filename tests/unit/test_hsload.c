/* Unit tests for handshake/hsload.c: the kernel's under-load rule (the
 * handshake queue at least 1/8 full, and 1 s after), on an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "handshake/hsload.h"

#define S(x)  ((uint64_t)(x) * NSEC_PER_SEC)

static void test_threshold(void **state)
{
	struct hsload s = { 0 };

	(void)state;
	assert_false(hsload_update(&s, 0, 4096, S(10)));
	assert_false(hsload_update(&s, 511, 4096, S(10)));	/* below 1/8 */
	assert_true(hsload_update(&s, 512, 4096, S(10)));	/* the kernel's 4096 / 8 */
	assert_true(hsload_update(&s, 4096, 4096, S(10)));
	assert_true(hsload_update(&s, 16, 128, S(10)));
	assert_true(hsload_update(&s, 128, 1024, S(10)));	/* wireguard-go's 1024 / 8 */
}

static void test_hold_one_second(void **state)
{
	struct hsload s = { 0 };

	(void)state;
	assert_true(hsload_update(&s, 600, 4096, S(100)));
	assert_true(hsload_update(&s, 0, 4096, S(100) + 1));
	assert_true(hsload_update(&s, 0, 4096, S(101) - 1));
	assert_false(hsload_update(&s, 0, 4096, S(101)));
	/* under load again: the second starts afresh */
	assert_true(hsload_update(&s, 512, 4096, S(102)));
	assert_true(hsload_update(&s, 10, 4096, S(102) + S(1) / 2));
	assert_false(hsload_update(&s, 10, 4096, S(103)));
}

/* A rate is not load: thousands of messages a second, each handled before
 * the next arrives, never fill the queue. */
static void test_rate_without_backlog(void **state)
{
	struct hsload s = { 0 };

	(void)state;
	for (uint64_t i = 0; i < 5000; i++)
		assert_false(hsload_update(&s, 1, 4096, S(1) + i * (NSEC_PER_SEC / 5000)));
	/* and a small, truly stuck queue switches on however slow the rate */
	assert_true(hsload_update(&s, 512, 4096, S(3)));
}

static void test_small_and_clock_edges(void **state)
{
	struct hsload s = { 0 };

	(void)state;
	assert_false(hsload_update(&s, 0, 4, S(1)));	/* threshold at least 1 */
	assert_true(hsload_update(&s, 1, 4, S(1)));
	s.last_under_load = 0;
	assert_true(hsload_update(&s, 512, 4096, 0));	/* time 0 is still a time */
	assert_true(hsload_update(&s, 0, 4096, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_hold_one_second),
		cmocka_unit_test(test_rate_without_backlog),
		cmocka_unit_test(test_small_and_clock_edges),
	};

	return cmocka_run_group_tests_name("hsload", tests, NULL, NULL);
}
