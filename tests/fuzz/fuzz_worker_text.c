/* libFuzzer target: the root side's parsers of what a daemon's worker
 * answers (vpnd/control/reload.c running_state_parse and _parse_stats,
 * vpnd/control/metrics.c metrics_parse), i.e. the text that crosses from
 * the unprivileged, network-facing process to root. The input is split at
 * its first "\n\n" into a get=1 answer and a get=stats answer.
 *
 * Properties besides the sanitizers': whatever the worker says, the JSON
 * and Prometheus outputs built from it hold no control character but
 * newline (nothing from the worker may drive the operator's terminal; the
 * human output of `vpnd show` prints the same parsed fields), and a
 * running_state that parsed holds only IPv4 or IPv6 prefixes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_common.h"
#include "vpnd/common/net.h"
#include "vpnd/control/metrics.h"
#include "vpnd/control/reload.h"

static void fail(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_worker_text: property violated: %s\n%s\n", what, text);
	abort();
}

static void check_printable(const char *out)
{
	for (const char *c = out; *c; c++)
		if (*c != '\n' && ((unsigned char)*c < 0x20 || *c == 0x7f))
			fail("control character in output", out);
}

static void print_and_check(const struct metrics_interface *m,
			    void (*print)(FILE *, const struct metrics_interface *, size_t))
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return;
	print(f, m, 1);
	fclose(f);
	check_printable(out);
	free(out);
}

static void fuzz_metrics(const char *get, const char *stats)
{
	struct metrics_interface m;

	if (metrics_parse(&m, "fz0", get, stats) < 0)
		return;
	print_and_check(&m, metrics_print_json);
	print_and_check(&m, metrics_print_prometheus);
	metrics_free(&m);
}

static void fuzz_running_state(const char *get, const char *stats)
{
	struct running_state rs;
	char err[256];

	memset(&rs, 0, sizeof(rs));
	if (running_state_parse(&rs, get, err, sizeof(err)) < 0) {
		check_printable(err);
		return;
	}
	running_state_parse_stats(&rs, stats);
	for (size_t i = 0; i < rs.n_peers; i++) {
		const struct running_peer *p = &rs.peers[i];

		for (size_t j = 0; j < p->n_allowed_ips; j++)
			if (p->allowed_ips[j].family != AF_INET &&
			    p->allowed_ips[j].family != AF_INET6)
				fail("allowed IP of no family", get);
	}
	running_state_free(&rs);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_crypto_init();
	endpoint_resolve_host_names = false;	/* never a DNS query */
	return wg_crypto_init() ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *get = malloc(size + 1), *stats;

	if (!get)
		return 0;
	memcpy(get, data, size);
	get[size] = '\0';
	stats = strstr(get, "\n\n");
	if (stats) {
		*stats = '\0';
		stats += 2;
	} else {
		stats = get + size;
	}
	fuzz_metrics(get, stats);
	fuzz_running_state(get, stats);
	free(get);
	return 0;
}
