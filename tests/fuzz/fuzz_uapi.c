/* libFuzzer target: the UAPI text layer (vpnd/control/uapi.c): uapi_set() with the
 * input as the body of a set=1 request (a NUL-terminated copy) on a fresh
 * device, then uapi_get().
 *
 * Then a round trip: the settable lines of that answer (private_key,
 * fwmark, and per peer public_key, preshared_key, endpoint,
 * persistent_keepalive_interval, allowed_ip) are set on a second fresh
 * device, which must accept them all and answer the same lines: what get
 * prints, set must take back and mean the same thing (that is what
 * `wg showconf | wg setconf` relies on).
 *
 * No effect outside the process: datagrams the device would send (e.g. a
 * keepalive when persistent_keepalive_interval is set) are dropped, see
 * fuzz_common.h; endpoint host names are never resolved
 * (endpoint_resolve_host_names); and when it may (root), the process moves
 * to a network namespace of its own first, so listen_port binds there. */
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_common.h"
#include "vpnd/control/config.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"
#include "vpnd/control/uapi.h"

static void fail(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "fuzz_uapi: property violated: %s\n", what);
	if (a)
		fprintf(stderr, "--- first:\n%s", a);
	if (b)
		fprintf(stderr, "--- second:\n%s", b);
	abort();
}

/* Every line key=value, each ending in '\n'. */
static void check_shape(const char *out)
{
	for (const char *line = out; *line;) {
		const char *nl = strchr(line, '\n'), *eq = strchr(line, '=');

		if (!nl)
			fail("last line of uapi_get not ended", out, NULL);
		if (!eq || eq > nl || eq == line)
			fail("uapi_get line is not key=value", out, NULL);
		line = nl + 1;
	}
}

static bool settable(const char *line, size_t len)
{
	static const char *const keys[] = {
		"private_key=", "fwmark=", "public_key=", "preshared_key=", "endpoint=",
		"persistent_keepalive_interval=", "allowed_ip=",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (len >= strlen(keys[i]) && !strncmp(line, keys[i], strlen(keys[i])))
			return true;
	return false;
}

/* The settable lines of a uapi_get answer, malloc'd. */
static char *settable_lines(const char *out)
{
	char *res = malloc(strlen(out) + 1), *w = res;

	if (!res)
		abort();
	for (const char *line = out; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = (size_t)(nl - line) + 1;

		if (settable(line, len)) {
			memcpy(w, line, len);
			w += len;
		}
		line += len;
	}
	*w = '\0';
	return res;
}

/* Two devices made once (device_init costs megabytes of buffers) and put
 * back before each use into the state device_init left them in. */
static struct device devs[2], snaps[2];

static void reset_device(int i)
{
	struct device *dev = &devs[i];
	struct peer **buckets;
	size_t n_buckets;

	device_peers_remove_all(dev);
	if (allowedips_node_count(dev->aips))
		fail("allowed IPs left after every peer was removed", NULL, NULL);
	device_set_private_key(dev, NULL);
	if (dev->udp_fd >= 0)
		close(dev->udp_fd);
	index_table_free(&dev->index);
	free(dev->heap);
	/* The peer hash may have grown (and moved); it is empty now. */
	buckets = dev->peer_buckets;
	n_buckets = dev->n_buckets;
	*dev = snaps[i];
	dev->peer_buckets = buckets;
	dev->n_buckets = n_buckets;
	if (index_table_init(&dev->index) < 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	endpoint_resolve_host_names = false;
	if (unshare(CLONE_NEWNET) != 0)
		fprintf(stderr, "fuzz_uapi: no network namespace of its own (%s); "
			"listen_port binds ports here, nothing is sent\n", strerror(errno));
	fuzz_crypto_init();
	for (int i = 0; i < 2; i++) {
		if (device_init(&devs[i], "fuzz0") < 0)
			abort();
		snaps[i] = devs[i];
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct device *dev, *dev2;
	char *body, *out, *out2, *lines, *lines2;
	int ret;

	if (size > 1 << 16)
		return 0;	/* long bodies only repeat what short ones do */
	body = malloc(size + 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	fuzz_rng_seed(4);

	reset_device(0);
	reset_device(1);
	dev = &devs[0];
	dev2 = &devs[1];
	uapi_set(dev, body);
	out = uapi_get(dev);
	if (!out)
		abort();
	check_shape(out);

	lines = settable_lines(out);
	lines2 = strdup(lines);
	if (!lines2)
		abort();
	ret = uapi_set(dev2, lines2);
	if (ret)
		fail("uapi_set refused what uapi_get printed", lines, NULL);
	free(lines2);
	out2 = uapi_get(dev2);
	if (!out2)
		abort();
	check_shape(out2);
	lines2 = settable_lines(out2);
	if (strcmp(lines, lines2))
		fail("uapi_get differs after a round trip", lines, lines2);

	free(lines);
	free(lines2);
	free(out);
	free(out2);
	free(body);
	return 0;
}
