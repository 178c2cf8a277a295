/* Unit tests for vpnd/control/forwarding.c: when PeerToPeer = kernel needs
 * forwarding the host does not do (a numbered table: policy, peers, address
 * families, the host's switches), and the warning's exact text. Addresses
 * from 198.18.0.0/15 and 2001:db8::/32 only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "vpnd/control/config.h"
#include "vpnd/control/forwarding.h"

#define KEY "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define P1 "[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nAllowedIPs = "
#define P2 "[Peer]\nPublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=\nAllowedIPs = "

static const struct {
	const char *iface, *peers;	/* after PrivateKey; the peers */
	bool v4_on, v6_on;
	const char *want;		/* NULL: no warning; else a part of it */
} cases[] = {
	/* 0: a hub, forwarding off: warn */
	{ "Address = 198.18.0.1/24\n", P1 "198.18.0.2/32\n" P2 "198.18.0.3/32\n", false, false,
	  "does not forward IPv4: its peers cannot reach each other; fix: sysctl -w "
	  "net.ipv4.ip_forward=1 (or PeerToPeer = direct in [Interface])" },
	/* 1: forwarding on: quiet */
	{ "Address = 198.18.0.1/24\n", P1 "198.18.0.2/32\n" P2 "198.18.0.3/32\n", true, false, NULL },
	/* 2: one peer: nothing to forward between */
	{ "Address = 198.18.0.1/24\n", P1 "198.18.0.2/32\n", false, false, NULL },
	/* 3: PeerToPeer = direct: vpnd forwards itself */
	{ "Address = 198.18.0.1/24\nPeerToPeer = direct\n", P1 "198.18.0.2/32\n" P2 "198.18.0.3/32\n",
	  false, false, NULL },
	/* 4: refuse: nothing to forward */
	{ "Address = 198.18.0.1/24\nPeerToPeer = refuse\n", P1 "198.18.0.2/32\n" P2 "198.18.0.3/32\n",
	  false, false, NULL },
	/* 5: IPv6 only, its switch off */
	{ "Address = 2001:db8::1/64\n", P1 "2001:db8::2/128\n" P2 "2001:db8::3/128\n", true, false,
	  "does not forward IPv6: its peers cannot reach each other; fix: sysctl -w "
	  "net.ipv6.conf.all.forwarding=1 (" },
	/* 6: both families off */
	{ "Address = 198.18.0.1/24, 2001:db8::1/64\n",
	  P1 "198.18.0.2/32, 2001:db8::2/128\n" P2 "198.18.0.3/32, 2001:db8::3/128\n", false, false,
	  "IPv4 or IPv6: its peers cannot reach each other; fix: sysctl -w net.ipv4.ip_forward=1 "
	  "net.ipv6.conf.all.forwarding=1 (" },
	/* 7: IPv4 on, IPv6 off, dual stack: IPv6 only */
	{ "Address = 198.18.0.1/24, 2001:db8::1/64\n",
	  P1 "198.18.0.2/32, 2001:db8::2/128\n" P2 "198.18.0.3/32, 2001:db8::3/128\n", true, false,
	  "sysctl -w net.ipv6.conf.all.forwarding=1 (" },
	/* 8: no address of the family on the interface: not a hub of it */
	{ "", P1 "198.18.0.2/32\n" P2 "198.18.0.3/32\n", false, false, NULL },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct host_forwarding h = { cases[i].v4_on, cases[i].v6_on };
		char text[2048], err[512], msg[512] = "";
		bool warned;

		snprintf(text, sizeof(text), "[Interface]\nPrivateKey = " KEY "\n%s%s",
			 cases[i].iface, cases[i].peers);
		if (config_parse_text(&cfg, text, "x.conf", err, sizeof(err)) != CONFIG_OK)
			fail_msg("case %zu: %s", i, err);
		warned = forwarding_advice(&cfg, "hub0", h, msg, sizeof(msg));
		if (warned != (cases[i].want != NULL) ||
		    (warned && (strncmp(msg, "hub0: PeerToPeer = kernel, but this host ", 41) ||
				!strstr(msg, cases[i].want))))
			fail_msg("case %zu: got %s\"%s\"", i, warned ? "" : "no warning ", msg);
		config_free(&cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
