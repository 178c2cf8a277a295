/* Unit tests for vpnd/control/saveconf.c: vpnd strip (the wg(8) part of a
 * config), showconf (a running state) and SaveConfig's merge (the file's own
 * keys + the running peers, NAME.d peers left out), each parsed back with
 * config_parse_text. Addresses from 198.18.0.0/15 and 2001:db8::/32 only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vpnd/control/config.h"
#include "vpnd/control/reload.h"
#include "vpnd/control/saveconf.h"

#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define K3 "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define H1 "0101010101010101010101010101010101010101010101010101010101010101"
#define H2 "0202020202020202020202020202020202020202020202020202020202020202"
#define H3 "0303030303030303030303030303030303030303030303030303030303030303"

static const char client_conf[] =
	"[Interface]\n"
	"PrivateKey = " K1 "\n"
	"Address = 198.19.5.2/24, 2001:db8:5::2/64\n"
	"DNS = 198.19.5.1, example.test\n"
	"MTU = 1380\n"
	"Table = 1234\n"
	"KillSwitch = false\n"
	"SaveConfig = true\n"
	"PeerToPeer = direct\n"
	"PostUp = echo up %i\n"
	"ListenPort = 51830\n"
	"FwMark = 0x10\n"
	"\n[Peer]\n"
	"PublicKey = " K2 "\n"
	"PresharedKey = " K3 "\n"
	"AllowedIPs = 0.0.0.0/0, ::/0\n"
	"Endpoint = 198.18.5.1:51820\n"
	"PersistentKeepalive = 25\n";

/* f's text, as a malloc'd string. */
static char *render(void (*fn)(FILE *, const void *), const void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	fn(f, arg);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void strip_fn(FILE *f, const void *cfg)
{
	saveconf_strip(f, cfg);
}

static void running_fn(FILE *f, const void *rs)
{
	saveconf_running(f, rs);
}

static void test_strip(void **state)
{
	static const char *const gone[] = { "Address", "DNS", "MTU", "Table", "KillSwitch",
					    "SaveConfig", "PeerToPeer", "PostUp" };
	struct config cfg, back;
	char err[256], *text;

	(void)state;
	assert_int_equal(config_parse_text(&cfg, client_conf, "c.conf", err, sizeof(err)),
			 CONFIG_OK);
	text = render(strip_fn, &cfg);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (strstr(text, gone[i]))
			fail_msg("strip kept %s", gone[i]);
	assert_non_null(strstr(text, "PrivateKey = " K1 "\n"));
	assert_non_null(strstr(text, "ListenPort = 51830\n"));
	assert_non_null(strstr(text, "FwMark = 0x10\n"));
	assert_non_null(strstr(text, "AllowedIPs = 0.0.0.0/0, ::/0\n"));
	assert_non_null(strstr(text, "Endpoint = 198.18.5.1:51820\n"));
	/* And it is a config in its own right, with the same peer. */
	assert_int_equal(config_parse_text(&back, text, "s.conf", err, sizeof(err)), CONFIG_OK);
	assert_int_equal(back.n_peers, 1);
	assert_true(back.peers[0].has_preshared_key);
	assert_int_equal(back.peers[0].persistent_keepalive, 25);
	assert_int_equal(back.n_addresses, 0);
	config_free(&back);
	wg_secure_wipe(text, strlen(text));
	free(text);
	config_free(&cfg);
}

static const char running_text[] =
	"private_key=" H1 "\nlisten_port=51830\nfwmark=16\n"
	"public_key=" H2 "\npreshared_key=" H3 "\nendpoint=198.18.5.1:51820\n"
	"persistent_keepalive_interval=25\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n"
	"public_key=" H3 "\nendpoint=[2001:db8:7::9]:51821\nallowed_ip=198.19.9.0/24\n"
	"errno=0\n";

static void test_showconf(void **state)
{
	struct running_state rs;
	struct config back;
	char err[256], *text;

	(void)state;
	assert_int_equal(running_state_parse(&rs, running_text, err, sizeof(err)), 0);
	text = render(running_fn, &rs);
	assert_non_null(strstr(text, "[Interface]\nPrivateKey = " K1 "\nListenPort = 51830\n"
				     "FwMark = 0x10\n"));
	assert_non_null(strstr(text, "Endpoint = [2001:db8:7::9]:51821\n"));
	assert_int_equal(config_parse_text(&back, text, "r.conf", err, sizeof(err)), CONFIG_OK);
	assert_int_equal(back.n_peers, 2);
	assert_int_equal(back.peers[1].n_allowed_ips, 1);
	config_free(&back);
	wg_secure_wipe(text, strlen(text));
	free(text);
	running_state_free(&rs);
}

/* SaveConfig: the file's own keys, the running peers; a peer the config
 * read from NAME.d (its file is not the main one) is left out. */
static void test_merged(void **state)
{
	struct running_state rs;
	struct config cfg, back;
	char err[256], *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(config_parse_text(&cfg, client_conf, "c.conf", err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(running_state_parse(&rs, running_text, err, sizeof(err)), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	saveconf_merged(f, &cfg, "c.conf", &rs);
	fclose(f);
	assert_int_equal(config_parse_text(&back, text, "m.conf", err, sizeof(err)), CONFIG_OK);
	assert_int_equal(back.n_addresses, 2);
	assert_int_equal(back.n_dns, 1);
	assert_int_equal(back.n_dns_search, 1);
	assert_int_equal(back.mtu, 1380);
	assert_int_equal(back.table_mode, TABLE_ID);
	assert_int_equal(back.table, 1234);
	assert_true(back.save_config);
	assert_int_equal(back.peer_to_peer, P2P_DIRECT);
	assert_int_equal(back.n_post_up, 1);
	assert_string_equal(back.post_up[0], "echo up %i");
	assert_int_equal(back.n_peers, 2);
	config_free(&back);
	wg_secure_wipe(text, len);
	free(text);

	/* The same peer, now from NAME.d: not written into NAME.conf. */
	snprintf(cfg.peers[0].file, sizeof(cfg.peers[0].file), "c.d/k2.conf");
	text = NULL;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	saveconf_merged(f, &cfg, "c.conf", &rs);
	fclose(f);
	assert_int_equal(config_parse_text(&back, text, "m.conf", err, sizeof(err)), CONFIG_OK);
	assert_int_equal(back.n_peers, 1);
	config_free(&back);
	wg_secure_wipe(text, len);
	free(text);
	running_state_free(&rs);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip),
		cmocka_unit_test(test_showconf),
		cmocka_unit_test(test_merged),
	};

	if (!wg_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
