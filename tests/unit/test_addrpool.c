/* Unit tests for vpnd/control/addrpool.c, the address pool of vpnd peer add:
 * a numbered table of configs (interface Addresses and peers' AllowedIPs)
 * with the address the pool must pick per family, or the verdict; then a
 * table of addresses to check against one config (free, taken by an
 * interface address, inside a peer's prefix, network/broadcast, outside).
 * Addresses from 198.18.0.0/15 and 2001:db8::/32 only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "crypto/crypto.h"
#include "vpnd/control/addrpool.h"
#include "vpnd/control/config.h"

#define KEY "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define P1 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define P2 "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
#define P3 "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA="

static void load(struct config *cfg, const char *iface_addrs, const char *peers)
{
	char text[4096], err[512];

	snprintf(text, sizeof(text), "[Interface]\nPrivateKey = " KEY "\nAddress = %s\n%s",
		 iface_addrs, peers);
	if (config_parse_text(cfg, text, "pool.conf", err, sizeof(err)) != CONFIG_OK)
		fail_msg("config: %s", err);
}

static const char *fmt(const struct ip_prefix *p)
{
	static char buf[64];

	format_prefix(buf, sizeof(buf), p);
	return buf;
}

struct pick_case {
	int no;
	const char *addrs, *peers;
	int family;
	enum addrpool_result want;
	const char *want_addr;	/* with ADDRPOOL_OK */
};

#define PEER(k, ips) "[Peer]\nPublicKey = " k "\nAllowedIPs = " ips "\n"

static const struct pick_case pick_cases[] = {
	/* allocation */
	{ 1, "198.19.0.1/24", "", AF_INET, ADDRPOOL_OK, "198.19.0.2/32" },
	{ 2, "198.19.0.1/24", PEER(P1, "198.19.0.2/32"), AF_INET, ADDRPOOL_OK, "198.19.0.3/32" },
	/* a gap is filled first */
	{ 3, "198.19.0.1/24", PEER(P1, "198.19.0.3/32") PEER(P2, "198.19.0.4/32"), AF_INET,
	  ADDRPOOL_OK, "198.19.0.2/32" },
	/* a peer's prefix inside the subnet takes all its hosts */
	{ 4, "198.19.0.1/24", PEER(P1, "198.19.0.0/29"), AF_INET, ADDRPOOL_OK, "198.19.0.8/32" },
	/* broader prefixes (default route, supernet) do not count */
	{ 5, "198.19.0.1/24", PEER(P1, "0.0.0.0/0") PEER(P2, "198.18.0.0/15"), AF_INET,
	  ADDRPOOL_OK, "198.19.0.2/32" },
	/* the interface's address need not be the first host */
	{ 6, "198.19.0.2/24", "", AF_INET, ADDRPOOL_OK, "198.19.0.1/32" },
	/* exhaustion: a /30 has two hosts, both used */
	{ 7, "198.19.0.1/30", PEER(P1, "198.19.0.2/32"), AF_INET, ADDRPOOL_EXHAUSTED, NULL },
	/* a /31 (RFC 3021) has two hosts and no broadcast */
	{ 8, "198.19.0.0/31", "", AF_INET, ADDRPOOL_OK, "198.19.0.1/32" },
	/* a /32 has nothing to give */
	{ 9, "198.19.0.1/32", "", AF_INET, ADDRPOOL_EXHAUSTED, NULL },
	/* no address of that family */
	{ 10, "198.19.0.1/24", "", AF_INET6, ADDRPOOL_NO_SUBNET, NULL },
	{ 11, "2001:db8::1/64", "", AF_INET, ADDRPOOL_NO_SUBNET, NULL },
	/* IPv6 pools */
	{ 12, "2001:db8::1/64", "", AF_INET6, ADDRPOOL_OK, "2001:db8::2/128" },
	{ 13, "2001:db8::1/64", PEER(P1, "2001:db8::2/128") PEER(P2, "2001:db8::3/128"), AF_INET6,
	  ADDRPOOL_OK, "2001:db8::4/128" },
	{ 14, "2001:db8::1/126", PEER(P1, "2001:db8::2/128") PEER(P2, "2001:db8::3/128"),
	  AF_INET6, ADDRPOOL_EXHAUSTED, NULL },
	/* a wide IPv6 subnet (/48): the host part spans more than 64 bits */
	{ 15, "2001:db8:1::1/48", PEER(P1, "2001:db8:1::2/128"), AF_INET6, ADDRPOOL_OK,
	  "2001:db8:1::3/128" },
	/* both families, each from its own subnet */
	{ 16, "198.19.0.1/24, 2001:db8::1/64",
	  PEER(P1, "198.19.0.2/32, 2001:db8::2/128") PEER(P3, "198.19.0.3/32"), AF_INET6,
	  ADDRPOOL_OK, "2001:db8::3/128" },
	{ 17, "198.19.0.1/24, 2001:db8::1/64",
	  PEER(P1, "198.19.0.2/32, 2001:db8::2/128") PEER(P3, "198.19.0.3/32"), AF_INET,
	  ADDRPOOL_OK, "198.19.0.4/32" },
};

static void test_pick_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pick_cases) / sizeof(pick_cases[0]); i++) {
		const struct pick_case *c = &pick_cases[i];
		struct config cfg;
		struct ip_prefix got;
		enum addrpool_result r;

		load(&cfg, c->addrs, c->peers);
		memset(&got, 0, sizeof(got));
		r = addrpool_pick(&cfg, c->family, &got);
		if (r != c->want)
			fail_msg("case %d: result %d, want %d", c->no, r, c->want);
		if (c->want == ADDRPOOL_OK && strcmp(fmt(&got), c->want_addr))
			fail_msg("case %d: picked %s, want %s", c->no, fmt(&got), c->want_addr);
		/* what was picked is free by addrpool_check */
		if (c->want == ADDRPOOL_OK && addrpool_check(&cfg, &got) != ADDRPOOL_OK)
			fail_msg("case %d: picked address not free by check", c->no);
		config_free(&cfg);
	}
}

struct check_case {
	int no;
	const char *addr;
	enum addrpool_result want;
};

static const struct check_case check_cases[] = {
	{ 1, "198.19.0.9", ADDRPOOL_OK },
	{ 2, "198.19.0.1", ADDRPOOL_IN_USE },		/* the interface's own */
	{ 3, "198.19.0.2", ADDRPOOL_IN_USE },		/* a peer's /32 */
	{ 4, "198.19.0.17", ADDRPOOL_IN_USE },		/* inside a peer's /28 */
	{ 5, "198.19.0.0", ADDRPOOL_OUTSIDE },		/* network address */
	{ 6, "198.19.0.255", ADDRPOOL_OUTSIDE },	/* broadcast */
	{ 7, "198.18.5.1", ADDRPOOL_OUTSIDE },		/* another subnet */
	{ 8, "198.19.0.254", ADDRPOOL_OK },
	{ 9, "2001:db8::5", ADDRPOOL_OK },
	{ 10, "2001:db8::1", ADDRPOOL_IN_USE },
	{ 11, "2001:db8::", ADDRPOOL_OUTSIDE },		/* subnet-router anycast */
	{ 12, "2001:db8:1::5", ADDRPOOL_OUTSIDE },
	{ 13, "2001:db8::2", ADDRPOOL_IN_USE },
};

static void test_check_table(void **state)
{
	struct config cfg;

	(void)state;
	load(&cfg, "198.19.0.1/24, 2001:db8::1/64",
	     PEER(P1, "198.19.0.2/32, 2001:db8::2/128") PEER(P2, "198.19.0.16/28"));
	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		const struct check_case *c = &check_cases[i];
		struct ip_prefix p;
		enum addrpool_result r;

		assert_true(parse_ip_prefix(c->addr, &p));
		r = addrpool_check(&cfg, &p);
		if (r != c->want)
			fail_msg("case %d (%s): result %d, want %d", c->no, c->addr, r, c->want);
	}
	/* only single addresses are checked */
	{
		struct ip_prefix p;

		assert_true(parse_ip_prefix("198.19.0.64/26", &p));
		assert_int_equal(addrpool_check(&cfg, &p), ADDRPOOL_OUTSIDE);
	}
	config_free(&cfg);
}

/* Picking again and again, adding each pick as a peer, fills a /28 in
 * order and then reports exhaustion: no address is handed out twice. */
static void test_fill_until_exhausted(void **state)
{
	char peers[8192] = "";
	size_t o = 0;

	(void)state;
	for (int n = 0;; n++) {
		struct config cfg;
		struct ip_prefix got;
		enum addrpool_result r;
		uint8_t pub[KEY_LEN];
		char b64[KEY_B64_LEN + 1], want[32];

		load(&cfg, "198.19.0.1/28", peers);
		r = addrpool_pick(&cfg, AF_INET, &got);
		config_free(&cfg);
		if (n == 13) {	/* hosts .1-.14, .1 is the interface's */
			assert_int_equal(r, ADDRPOOL_EXHAUSTED);
			break;
		}
		assert_int_equal(r, ADDRPOOL_OK);
		snprintf(want, sizeof(want), "198.19.0.%d/32", n + 2);
		assert_string_equal(fmt(&got), want);
		memset(pub, n + 1, sizeof(pub));
		wg_key_to_base64(b64, pub);
		o += (size_t)snprintf(peers + o, sizeof(peers) - o,
				      "[Peer]\nPublicKey = %s\nAllowedIPs = %s\n", b64, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_table),
		cmocka_unit_test(test_check_table),
		cmocka_unit_test(test_fill_until_exhausted),
	};

	if (!wg_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
