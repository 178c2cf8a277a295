/* libFuzzer target: config_parse_text() (vpnd/control/config.c), the wg-quick
 * config parser, on the input as text (a NUL-terminated copy: the parser
 * sees what comes before a NUL, as it would in a file).
 *
 * Host names in Endpoint are never looked up: endpoint_resolve_host_names is
 * false, so "Endpoint = example.com:51820" fails as unresolved at once, with
 * no DNS traffic and no stall; numeric endpoints parse as usual.
 *
 * Checked besides the sanitizers: the error message is NUL-terminated and
 * set exactly on failure; a failed parse leaves the config all zeros (as
 * config.h promises); a good one holds only valid families, prefix lengths
 * and masked AllowedIPs, NUL-terminated endpoint texts and a private key;
 * config_free leaves it all zeros. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_common.h"
#include "vpnd/control/config.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_config: property violated: %s\n", what);
	abort();
}

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

static void check_prefix(const struct ip_prefix *p, bool masked)
{
	size_t bytes = p->family == AF_INET ? 4 : 16;

	if (p->family != AF_INET && p->family != AF_INET6)
		fail("prefix family");
	if (p->cidr > bytes * 8)
		fail("prefix length");
	if (!masked)
		return;
	for (size_t i = 0; i < bytes; i++) {
		unsigned keep = p->cidr >= 8 * (i + 1) ? 8 : p->cidr > 8 * i ? p->cidr - 8 * i : 0;

		if (p->addr[i] & (uint8_t)~(0xff00u >> keep))
			fail("AllowedIPs not masked");
	}
}

static void check_config(const struct config *cfg)
{
	if (!cfg->has_private_key)
		fail("a good config without PrivateKey");
	if ((cfg->n_addresses && !cfg->addresses) || (cfg->n_peers && !cfg->peers))
		fail("counts without arrays");
	for (size_t i = 0; i < cfg->n_addresses; i++)
		check_prefix(&cfg->addresses[i], false);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct config_peer *p = &cfg->peers[i];

		if (p->n_allowed_ips && !p->allowed_ips)
			fail("peer counts without arrays");
		for (size_t j = 0; j < p->n_allowed_ips; j++)
			check_prefix(&p->allowed_ips[j], true);
		if (!memchr(p->endpoint_text, '\0', sizeof(p->endpoint_text)) ||
		    !memchr(p->file, '\0', sizeof(p->file)))
			fail("peer text not NUL-terminated");
		if (p->has_endpoint && p->endpoint.sa.sa_family != AF_INET &&
		    p->endpoint.sa.sa_family != AF_INET6)
			fail("endpoint family");
	}
	if (cfg->mtu < 576 || cfg->mtu > 65535)
		fail("MTU out of range");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	endpoint_resolve_host_names = false;
	fuzz_crypto_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[512];
	struct config cfg;
	enum config_status st;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 'x', sizeof(err));
	st = config_parse_text(&cfg, text, "fuzz.conf", err, sizeof(err));
	if (!memchr(err, '\0', sizeof(err)))
		fail("error message not NUL-terminated");
	if (st == CONFIG_OK) {
		if (err[0])
			fail("an error message on success");
		check_config(&cfg);
	} else {
		if (!err[0])
			fail("no error message on failure");
		if (!all_zero(&cfg, sizeof(cfg)))
			fail("a failed parse left the config not empty");
	}
	config_free(&cfg);
	if (!all_zero(&cfg, sizeof(cfg)))
		fail("config_free left data behind");
	free(text);
	return 0;
}
