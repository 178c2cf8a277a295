/* Unit tests for vpnd/common/ifname.c: a numbered table of good and bad
 * interface names (wg-quick's ^[a-zA-Z0-9_=+.-]{1,15}$, nothing cut), the
 * printable quote for messages, and %i expansion in hooks (refused when
 * too long or when the name is bad, never cut). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vpnd/common/ifname.h"

static const struct {
	int n;
	const char *name;
	bool ok;
} names[] = {
	{ 1, "wg0", true },
	{ 2, "a", true },
	{ 3, "office-berlin", true },
	{ 4, "officeberlin-a", true },		/* 14 */
	{ 5, "123456789012345", true },		/* 15: the longest */
	{ 6, "A_b=c+d.e-f", true },
	{ 7, "0", true },
	{ 8, "..", true },			/* wg-quick allows it; no '/' so no path */
	{ 9, "", false },
	{ 10, "1234567890123456", false },	/* 16: refused, not cut to 15 */
	{ 11, "officeberlin-ab", true },
	{ 12, "officeberlin-abc", false },	/* 16 */
	{ 13, "x$(id>&2):", false },		/* the injection of issue 10 */
	{ 14, "wg 0", false },
	{ 15, "wg/0", false },
	{ 16, "../etc", false },
	{ 17, "wg0;id", false },
	{ 18, "wg`id`", false },
	{ 19, "wg0\n", false },
	{ 20, "wg\t0", false },
	{ 21, "wg:0", false },
	{ 22, "wg'0", false },
	{ 23, "wg\"0", false },
	{ 24, "w\xc3\xa9g", false },		/* UTF-8 é */
	{ 25, "wg*", false },
	{ 26, "wg%i", false },
	{ 27, "wg@0", false },
	{ 28, "wg,0", false },
};

static void test_name_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ifname_valid(names[i].name) != names[i].ok)
			fail_msg("name %d ('%s'): expected %s", names[i].n, names[i].name,
				 names[i].ok ? "valid" : "invalid");
	assert_false(ifname_valid(NULL));
}

static void test_quote(void **state)
{
	char out[48];

	(void)state;
	ifname_quote(out, sizeof(out), "wg0");
	assert_string_equal(out, "wg0");
	ifname_quote(out, sizeof(out), "a\nb'c\x1b");
	assert_string_equal(out, "a?b?c?");
	ifname_quote(out, sizeof(out), "0123456789012345678901234567890123456789");
	assert_string_equal(out, "01234567890123456789012345678901...");
	ifname_quote(out, 4, "abcdef");
	assert_string_equal(out, "abc");
}

static void test_hook_expand(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(hook_expand(out, sizeof(out), "echo %i up", "wg0"), HOOK_EXPAND_OK);
	assert_string_equal(out, "echo wg0 up");
	assert_int_equal(hook_expand(out, sizeof(out), "%i%i %%i", "ab"), HOOK_EXPAND_OK);
	assert_string_equal(out, "abab %ab");
	assert_int_equal(hook_expand(out, sizeof(out), "no name", "wg0"), HOOK_EXPAND_OK);
	assert_string_equal(out, "no name");
	/* A name outside the alphabet never reaches the shell. */
	assert_int_equal(hook_expand(out, sizeof(out), "echo %i", "x$(id>&2):"),
			 HOOK_EXPAND_BAD_NAME);
	assert_string_equal(out, "");
	/* Exactly fits: 11 characters and the NUL. */
	assert_int_equal(hook_expand(out, 12, "echo %i up", "wg0"), HOOK_EXPAND_OK);
	/* One byte short: refused, nothing half written to run. */
	assert_int_equal(hook_expand(out, 11, "echo %i up", "wg0"), HOOK_EXPAND_TOO_LONG);
	assert_string_equal(out, "");
}

static void test_hook_worst_len(void **state)
{
	(void)state;
	assert_int_equal(hook_expand_worst_len("echo"), 5);
	assert_int_equal(hook_expand_worst_len("%i"), IFNAME_MAX_LEN + 1);
	assert_int_equal(hook_expand_worst_len("a %i %i"), 3 + 2 * IFNAME_MAX_LEN + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_table),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_hook_expand),
		cmocka_unit_test(test_hook_worst_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
