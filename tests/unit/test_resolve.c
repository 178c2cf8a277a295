/* Unit tests for vpnd/control/resolve.c: which endpoints are host names, when a
 * re-resolved endpoint is pushed to the worker, and the monitor's timeout
 * (VPND_RESOLVE_INTERVAL, off without host names). The UAPI side is
 * covered by tests/integration/resolve.sh. Addresses: 198.18.0.0/15 and
 * 2001:db8::/32 only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vpnd/control/config.h"
#include "vpnd/control/resolve.h"

static void test_is_host_name(void **state)
{
	(void)state;
	assert_true(resolve_is_host_name("vpn.example.com:51820"));
	assert_true(resolve_is_host_name("localhost:1"));
	assert_true(resolve_is_host_name("host-1:51820"));
	assert_false(resolve_is_host_name("198.18.0.1:51820"));
	assert_false(resolve_is_host_name("[2001:db8::1]:51820"));
	assert_false(resolve_is_host_name("2001:db8::1:51820"));
	assert_false(resolve_is_host_name(""));
	assert_false(resolve_is_host_name("noport"));
	assert_false(resolve_is_host_name(":51820"));
}

#define A "198.18.0.1:51820"
#define B "198.18.0.2:51820"
#define C "198.18.0.3:40000"
#define NOW 1700000000ull

static void test_should_push(void **state)
{
	(void)state;
	/* 1: the name moved (A -> B), the peer is still at A: push, even with
	 * a fresh handshake (the old address may still answer for a while). */
	assert_true(resolve_should_push(B, A, A, NOW - 5, NOW));
	/* 2: moved, but the peer already roamed to the new address: nothing. */
	assert_false(resolve_should_push(B, A, B, NOW - 5, NOW));
	/* 3: same resolution, peer roamed to C, handshakes fresh: keep C. */
	assert_false(resolve_should_push(A, A, C, NOW - 5, NOW));
	assert_false(resolve_should_push(A, A, C, NOW - RESOLVE_STALE_SEC, NOW));
	/* 4: same resolution, peer at C, no handshake for too long: back to A. */
	assert_true(resolve_should_push(A, A, C, NOW - RESOLVE_STALE_SEC - 1, NOW));
	/* 5: never a handshake, somewhere else than the name says: push. */
	assert_true(resolve_should_push(A, A, C, 0, NOW));
	/* 6: never a handshake, already at the name's address: nothing. */
	assert_false(resolve_should_push(A, A, A, 0, NOW));
	/* 7: no endpoint at all (e.g. cleared): push. */
	assert_true(resolve_should_push(A, A, "", NOW - 5, NOW));
	/* 8: nothing resolved: never. */
	assert_false(resolve_should_push("", A, C, 0, NOW));
	/* 9: no previous resolution: only staleness counts. */
	assert_false(resolve_should_push(A, "", C, NOW - 5, NOW));
	assert_true(resolve_should_push(A, "", C, NOW - 1000, NOW));
	/* 10: the clock went back (handshake "in the future"): fresh. */
	assert_false(resolve_should_push(A, A, C, NOW + 100, NOW));
}

static void parse(struct config *cfg, const char *endpoint)
{
	char text[512], err[256];

	snprintf(text, sizeof(text),
		 "[Interface]\nPrivateKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"
		 "[Peer]\nPublicKey = AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n"
		 "%s%s\n", endpoint ? "Endpoint = " : "", endpoint ? endpoint : "");
	if (config_parse_text(cfg, text, "t.conf", err, sizeof(err)) != CONFIG_OK)
		fail_msg("%s", err);
}

static void test_timeout(void **state)
{
	struct resolver r;
	struct config numeric, named, none;
	struct timespec ts;
	const struct timespec *t;

	(void)state;
	parse(&numeric, "198.18.0.1:51820");
	parse(&named, "localhost:51820");
	parse(&none, NULL);

	unsetenv("VPND_RESOLVE_INTERVAL");
	resolver_init(&r, "rs0");
	assert_int_equal(r.interval, RESOLVE_DEFAULT_INTERVAL);
	/* Nothing to resolve: wait forever. */
	assert_null(resolver_timeout(&r, NULL, &ts));
	assert_null(resolver_timeout(&r, &numeric, &ts));
	assert_null(resolver_timeout(&r, &none, &ts));
	/* A host name: the next run within the interval. */
	t = resolver_timeout(&r, &named, &ts);
	assert_ptr_equal(t, &ts);
	assert_true(ts.tv_sec <= RESOLVE_DEFAULT_INTERVAL);
	assert_true(ts.tv_sec >= RESOLVE_DEFAULT_INTERVAL - 2);
	resolver_free(&r);

	setenv("VPND_RESOLVE_INTERVAL", "0", 1);
	resolver_init(&r, "rs0");
	assert_null(resolver_timeout(&r, &named, &ts));	/* off */
	resolver_free(&r);

	setenv("VPND_RESOLVE_INTERVAL", "2", 1);
	resolver_init(&r, "rs0");
	t = resolver_timeout(&r, &named, &ts);
	assert_non_null(t);
	assert_true(ts.tv_sec <= 2);
	resolver_free(&r);

	setenv("VPND_RESOLVE_INTERVAL", "soon", 1);	/* warned, default kept */
	resolver_init(&r, "rs0");
	assert_int_equal(r.interval, RESOLVE_DEFAULT_INTERVAL);
	resolver_free(&r);
	unsetenv("VPND_RESOLVE_INTERVAL");

	config_free(&numeric);
	config_free(&named);
	config_free(&none);
}

/* Without a daemon to ask, a run pushes nothing and schedules the next. */
static void test_run_without_daemon(void **state)
{
	struct resolver r;
	struct config named;

	(void)state;
	parse(&named, "localhost:51820");
	setenv("VPND_RESOLVE_INTERVAL", "7", 1);
	resolver_init(&r, "rs-no-such-if");
	assert_int_equal(resolver_run(&r, &named), 0);
	assert_int_equal(resolver_run(&r, NULL), 0);
	assert_true(r.next_ns > 0);
	resolver_free(&r);
	unsetenv("VPND_RESOLVE_INTERVAL");
	config_free(&named);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_host_name),
		cmocka_unit_test(test_should_push),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_run_without_daemon),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
