/* Unit tests for vpnd/control/metrics.c: UAPI answers (get=1, get=stats) parsed
 * into structs, and the JSON and Prometheus output byte for byte, with
 * escaping, grouping of several interfaces, and no key material but public
 * keys in any output. Addresses: 198.18.0.0/15 and 2001:db8::/32 only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "vpnd/control/metrics.h"

/* Keys in hex as the UAPI has them; 0x01.. repeated, etc. */
#define HEX01 "0101010101010101010101010101010101010101010101010101010101010101"
#define HEX02 "0202020202020202020202020202020202020202020202020202020202020202"
#define HEX03 "0303030303030303030303030303030303030303030303030303030303030303"
#define HEX09 "0909090909090909090909090909090909090909090909090909090909090909"
#define B64_02 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define B64_03 "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define B64_09 "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk="

/* Private key HEX01; peer 02 with a preshared key (HEX09), an endpoint,
 * two allowed IPs; peer 03 with nothing but a key. */
static const char GET[] =
	"private_key=" HEX01 "\n"
	"listen_port=51820\n"
	"fwmark=66\n"
	"public_key=" HEX02 "\n"
	"preshared_key=" HEX09 "\n"
	"protocol_version=1\n"
	"endpoint=198.18.0.2:51821\n"
	"last_handshake_time_sec=1700000000\n"
	"last_handshake_time_nsec=5\n"
	"tx_bytes=2000\n"
	"rx_bytes=1000\n"
	"persistent_keepalive_interval=25\n"
	"allowed_ip=198.19.0.2/32\n"
	"allowed_ip=2001:db8::2/128\n"
	"public_key=" HEX03 "\n"
	/* none: all zeros, as vpnd and wireguard-go write it */
	"preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
	"protocol_version=1\n"
	"last_handshake_time_sec=0\n"
	"last_handshake_time_nsec=0\n"
	"tx_bytes=0\n"
	"rx_bytes=0\n"
	"persistent_keepalive_interval=0\n"
	"errno=0\n";

/* Peer 09 is not in GET (added between the two requests): ignored. */
static const char STATS[] =
	"drop_short=1\n"
	"drop_replay=0\n"
	"drop_peer_to_peer_refused=7\n"
	"cookie_replies_sent=3\n"
	"handshakes_answered=4\n"
	"under_load=1\n"
	"peer_to_peer=refuse\n"
	"public_key=" HEX09 "\n"
	"rx_packets=99\n"
	"public_key=" HEX02 "\n"
	"rx_packets=10\n"
	"tx_packets=20\n"
	"handshakes_sent=2\n"
	"handshakes_received=1\n"
	"public_key=" HEX03 "\n"
	"rx_packets=0\n"
	"tx_packets=0\n"
	"handshakes_sent=5\n"
	"handshakes_received=0\n"
	"errno=0\n";

static char pub01[KEY_B64_LEN + 1], priv01_b64[KEY_B64_LEN + 1];

static int group_setup(void **state)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN];

	(void)state;
	if (!wg_crypto_init())
		return -1;
	memset(priv, 1, sizeof(priv));
	if (!wg_key_public_from_private(pub, priv))
		return -1;
	wg_key_to_base64(pub01, pub);
	wg_key_to_base64(priv01_b64, priv);
	return 0;
}

/* Runs a printer into a malloc'd string. */
static char *capture(void (*print)(FILE *, const struct metrics_interface *, size_t),
		     const struct metrics_interface *ifs, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	print(f, ifs, n);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void parse_ok(struct metrics_interface *m, const char *name, const char *get,
		     const char *stats)
{
	assert_int_equal(metrics_parse(m, name, get, stats), 0);
}

static void test_parse(void **state)
{
	struct metrics_interface m;
	const struct metrics_peer *p;

	(void)state;
	parse_ok(&m, "mt0", GET, STATS);
	assert_string_equal(m.name, "mt0");
	assert_string_equal(m.public_key, pub01);
	assert_int_equal(m.listen_port, 51820);
	assert_int_equal(m.fwmark, 66);
	assert_string_equal(m.peer_to_peer, "refuse");
	assert_true(m.under_load);
	assert_int_equal(m.cookie_replies_sent, 3);
	assert_int_equal(m.handshakes_answered, 4);
	assert_int_equal(m.n_drops, 3);
	assert_string_equal(m.drops[0].reason, "short");
	assert_int_equal(m.drops[0].count, 1);
	assert_string_equal(m.drops[2].reason, "peer_to_peer_refused");
	assert_int_equal(m.drops[2].count, 7);
	assert_int_equal(m.n_peers, 2);

	p = &m.peers[0];
	assert_string_equal(p->public_key, B64_02);
	assert_true(p->has_preshared_key);
	assert_string_equal(p->endpoint, "198.18.0.2:51821");
	assert_int_equal(p->n_allowed_ips, 2);
	assert_string_equal(p->allowed_ips[0], "198.19.0.2/32");
	assert_string_equal(p->allowed_ips[1], "2001:db8::2/128");
	assert_int_equal(p->latest_handshake, 1700000000);
	assert_int_equal(p->rx_bytes, 1000);
	assert_int_equal(p->tx_bytes, 2000);
	assert_int_equal(p->rx_packets, 10);
	assert_int_equal(p->tx_packets, 20);
	assert_int_equal(p->handshakes_sent, 2);
	assert_int_equal(p->handshakes_received, 1);
	assert_int_equal(p->persistent_keepalive, 25);

	p = metrics_find_peer(&m, B64_03);
	assert_ptr_equal(p, &m.peers[1]);
	assert_false(p->has_preshared_key);
	assert_string_equal(p->endpoint, "");
	assert_int_equal(p->n_allowed_ips, 0);
	assert_int_equal(p->handshakes_sent, 5);
	assert_null(metrics_find_peer(&m, B64_09));
	metrics_free(&m);
	assert_int_equal(m.n_peers, 0);
	metrics_free(&m);	/* twice is harmless */
}

/* No stats (not a vpnd, e.g. wireguard-go): zero counters, no drops. */
static void test_parse_without_stats(void **state)
{
	struct metrics_interface m;

	(void)state;
	parse_ok(&m, "mt1", GET, NULL);
	assert_int_equal(m.n_peers, 2);
	assert_int_equal(m.n_drops, 0);
	assert_string_equal(m.peer_to_peer, "");
	assert_int_equal(m.peers[0].rx_packets, 0);
	assert_int_equal(m.peers[0].rx_bytes, 1000);
	metrics_free(&m);

	/* No private key, no peers. */
	parse_ok(&m, "mt2", "listen_port=0\n", NULL);
	assert_string_equal(m.public_key, "");
	assert_int_equal(m.n_peers, 0);
	metrics_free(&m);
}

static const char WANT_JSON[] =
	"[\n"
	"  {\n"
	"    \"interface\": \"mt0\",\n"
	"    \"public_key\": \"%s\",\n"
	"    \"listen_port\": 51820,\n"
	"    \"fwmark\": 66,\n"
	"    \"peer_to_peer\": \"refuse\",\n"
	"    \"under_load\": true,\n"
	"    \"cookie_replies_sent\": 3,\n"
	"    \"handshakes_answered\": 4,\n"
	"    \"drops\": {\"short\": 1, \"replay\": 0, \"peer_to_peer_refused\": 7},\n"
	"    \"peers\": [\n"
	"      {\"public_key\": \"" B64_02 "\", \"name\": \"alice\", \"endpoint\": \"198.18.0.2:51821\", "
	"\"allowed_ips\": [\"198.19.0.2/32\", \"2001:db8::2/128\"], "
	"\"latest_handshake\": 1700000000, \"rx_bytes\": 1000, \"tx_bytes\": 2000, "
	"\"rx_packets\": 10, \"tx_packets\": 20, \"persistent_keepalive\": 25, "
	"\"handshakes_sent\": 2, \"handshakes_received\": 1},\n"
	"      {\"public_key\": \"" B64_03 "\", \"name\": null, \"endpoint\": null, \"allowed_ips\": [], "
	"\"latest_handshake\": 0, \"rx_bytes\": 0, \"tx_bytes\": 0, \"rx_packets\": 0, "
	"\"tx_packets\": 0, \"persistent_keepalive\": 0, \"handshakes_sent\": 5, "
	"\"handshakes_received\": 0}\n"
	"    ]\n"
	"  }\n"
	"]\n";

static void assert_no_secrets(const char *out)
{
	/* The private key (HEX01) and the preshared key (HEX09), in either
	 * encoding, never appear. */
	assert_null(strstr(out, HEX01));
	assert_null(strstr(out, priv01_b64));
	assert_null(strstr(out, HEX09));
	assert_null(strstr(out, B64_09));
	assert_null(strstr(out, "private"));
	assert_null(strstr(out, "preshared"));
}

static void test_json(void **state)
{
	struct metrics_interface m;
	char want[4096], *out;

	(void)state;
	parse_ok(&m, "mt0", GET, STATS);
	snprintf(m.peers[0].name, sizeof(m.peers[0].name), "alice");	/* as show sets it */
	out = capture(metrics_print_json, &m, 1);
	snprintf(want, sizeof(want), WANT_JSON, pub01);
	assert_string_equal(out, want);
	assert_no_secrets(out);
	free(out);
	metrics_free(&m);
}

static void test_json_empty_and_null(void **state)
{
	struct metrics_interface m;
	char *out;

	(void)state;
	out = capture(metrics_print_json, NULL, 0);
	assert_string_equal(out, "[]\n");
	free(out);

	/* No key: null; no stats: policy shown as the default; no peers: []. */
	parse_ok(&m, "mt2", "listen_port=7\n", NULL);
	out = capture(metrics_print_json, &m, 1);
	assert_string_equal(out, "[\n  {\n    \"interface\": \"mt2\",\n"
				 "    \"public_key\": null,\n    \"listen_port\": 7,\n"
				 "    \"fwmark\": 0,\n    \"peer_to_peer\": \"kernel\",\n"
				 "    \"under_load\": false,\n    \"cookie_replies_sent\": 0,\n"
				 "    \"handshakes_answered\": 0,\n    \"drops\": {},\n"
				 "    \"peers\": []\n  }\n]\n");
	free(out);
	metrics_free(&m);
}

static void test_json_escaping(void **state)
{
	struct metrics_interface m;
	char *out;

	(void)state;
	/* Names come from the socket directory: anything but '/' is possible. */
	parse_ok(&m, "a\"b\\c\td\x01", "public_key=" HEX02 "\nendpoint=x\"\n", NULL);
	out = capture(metrics_print_json, &m, 1);
	assert_non_null(strstr(out, "\"interface\": \"a\\\"b\\\\c\\td\\u0001\""));
	assert_non_null(strstr(out, "\"endpoint\": \"(invalid)\""));
	free(out);
	metrics_free(&m);
}

/* The worker's text is not trusted to reach a terminal: endpoints and
 * prefixes are re-formatted from what parses, anything else is dropped or
 * shown as "(invalid)"/"?", and no control character gets through. */
static void test_worker_text_sanitized(void **state)
{
	struct metrics_interface m;
	char *out;

	(void)state;
	parse_ok(&m, "mt3",
		 "public_key=" HEX02 "\nendpoint=198.18.0.2:1\x1b[2J\n"
		 "allowed_ip=198.19.0.0/24\x07\nallowed_ip=198.19.1.0/24\n",
		 "drop_bad\x1b]0;x=4\ndrop_short=1\npeer_to_peer=\x1b[31mdirect\n");
	assert_string_equal(m.peers[0].endpoint, "(invalid)");
	assert_int_equal(m.peers[0].n_allowed_ips, 1);
	assert_string_equal(m.peers[0].allowed_ips[0], "198.19.1.0/24");
	assert_int_equal(m.n_drops, 1);
	assert_string_equal(m.drops[0].reason, "short");
	assert_string_equal(m.peer_to_peer, "?");
	out = capture(metrics_print_json, &m, 1);
	for (const char *c = out; *c; c++)
		assert_true(*c == '\n' || (*c >= 0x20 && *c < 0x7f));
	free(out);
	metrics_free(&m);
}

static void test_prometheus(void **state)
{
	struct metrics_interface m;
	char *out, want[512];

	(void)state;
	parse_ok(&m, "mt0", GET, STATS);
	snprintf(m.peers[0].name, sizeof(m.peers[0].name), "alice");	/* as show sets it */
	out = capture(metrics_print_prometheus, &m, 1);
	assert_no_secrets(out);
	snprintf(want, sizeof(want),
		 "# HELP vpnd_interface_info Always 1; labels: the interface's public key, UDP "
		 "port and peer-to-peer policy.\n# TYPE vpnd_interface_info gauge\n"
		 "vpnd_interface_info{interface=\"mt0\",public_key=\"%s\",listen_port=\"51820\","
		 "peer_to_peer=\"refuse\"} 1\n", pub01);
	assert_true(!strncmp(out, want, strlen(want)));
	/* One sample of each kind, whole lines. */
	static const char *const lines[] = {
		"# TYPE vpnd_drops_total counter\n"
		"vpnd_drops_total{interface=\"mt0\",reason=\"short\"} 1\n"
		"vpnd_drops_total{interface=\"mt0\",reason=\"replay\"} 0\n"
		"vpnd_drops_total{interface=\"mt0\",reason=\"peer_to_peer_refused\"} 7\n",
		"\nvpnd_interface_peers{interface=\"mt0\"} 2\n",
		"\nvpnd_under_load{interface=\"mt0\"} 1\n",
		"# TYPE vpnd_cookie_replies_sent_total counter\n"
		"vpnd_cookie_replies_sent_total{interface=\"mt0\"} 3\n",
		"# TYPE vpnd_handshakes_answered_total counter\n"
		"vpnd_handshakes_answered_total{interface=\"mt0\"} 4\n",
		"\nvpnd_peer_info{interface=\"mt0\",public_key=\"" B64_02 "\",name=\"alice\","
		"endpoint=\"198.18.0.2:51821\",allowed_ips=\"198.19.0.2/32,2001:db8::2/128\"} 1\n",
		"# TYPE vpnd_peer_rx_bytes_total counter\n"
		"vpnd_peer_rx_bytes_total{interface=\"mt0\",public_key=\"" B64_02 "\"} 1000\n"
		"vpnd_peer_rx_bytes_total{interface=\"mt0\",public_key=\"" B64_03 "\"} 0\n",
		"\nvpnd_peer_tx_bytes_total{interface=\"mt0\",public_key=\"" B64_02 "\"} 2000\n",
		"\nvpnd_peer_rx_packets_total{interface=\"mt0\",public_key=\"" B64_02 "\"} 10\n",
		"\nvpnd_peer_tx_packets_total{interface=\"mt0\",public_key=\"" B64_02 "\"} 20\n",
		"\nvpnd_peer_handshakes_sent_total{interface=\"mt0\",public_key=\"" B64_03 "\"} 5\n",
		"\nvpnd_peer_handshakes_received_total{interface=\"mt0\",public_key=\"" B64_02
		"\"} 1\n",
		"# TYPE vpnd_peer_last_handshake_seconds gauge\n"
		"vpnd_peer_last_handshake_seconds{interface=\"mt0\",public_key=\"" B64_02
		"\"} 1700000000\n",
		"# TYPE vpnd_peer_persistent_keepalive_seconds gauge\n"
		"vpnd_peer_persistent_keepalive_seconds{interface=\"mt0\",public_key=\"" B64_02
		"\"} 25\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (!strstr(out, lines[i]))
			fail_msg("missing:\n%s\nin:\n%s", lines[i], out);
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(out);
	metrics_free(&m);
}

/* Counts the occurrences of needle in s. */
static int count(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Several interfaces: each family's HELP and TYPE once, then every
 * interface's samples, so the families are never split. */
static void test_prometheus_grouped(void **state)
{
	struct metrics_interface m[2];
	char *out;
	const char *a, *b, *next;

	(void)state;
	parse_ok(&m[0], "mt0", GET, STATS);
	parse_ok(&m[1], "mt1", GET, STATS);
	out = capture(metrics_print_prometheus, m, 2);
	assert_int_equal(count(out, "# HELP vpnd_peer_rx_bytes_total "), 1);
	assert_int_equal(count(out, "# TYPE vpnd_peer_rx_bytes_total counter\n"), 1);
	assert_int_equal(count(out, "# TYPE "), count(out, "# HELP "));
	assert_int_equal(count(out, "\nvpnd_peer_rx_bytes_total{"), 4);
	a = strstr(out, "# TYPE vpnd_peer_rx_bytes_total");
	b = strstr(out, "vpnd_peer_rx_bytes_total{interface=\"mt1\"");
	next = strstr(out, "# HELP vpnd_peer_tx_bytes_total");
	assert_true(a && b && next && a < b && b < next);
	/* Every line: a comment or "name{labels} value". */
	for (char *l = out; *l;) {
		char *nl = strchr(l, '\n');

		assert_non_null(nl);
		assert_true(l[0] == '#' || (strncmp(l, "vpnd_", 5) == 0 && memchr(l, '}', nl - l)));
		l = nl + 1;
	}
	free(out);
	metrics_free(&m[0]);
	metrics_free(&m[1]);
}

static void test_prometheus_escaping_and_empty(void **state)
{
	struct metrics_interface m;
	char *out;

	(void)state;
	out = capture(metrics_print_prometheus, NULL, 0);
	assert_string_equal(out, "");
	free(out);

	parse_ok(&m, "q\"b\\n\nx", "listen_port=1\n", NULL);
	out = capture(metrics_print_prometheus, &m, 1);
	assert_non_null(strstr(out, "vpnd_interface_peers{interface=\"q\\\"b\\\\n\\nx\"} 0\n"));
	/* No peers: no peer families at all (no HELP without samples). */
	assert_null(strstr(out, "vpnd_peer_"));
	free(out);
	metrics_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_without_stats),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_empty_and_null),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_worker_text_sanitized),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_prometheus_grouped),
		cmocka_unit_test(test_prometheus_escaping_and_empty),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
