/* Unit tests for vpnd/control/reload.c, the pure part of vpnd reload: a config and
 * the parsed answer to get=1 in, the set=1 lines and route changes out.
 * Numbered scenarios: unchanged, added, removed, changed allowed IPs,
 * changed/added/removed preshared key, endpoint and keepalive, interface
 * fields, a moved allowed IP, our own key, and idempotence on a real
 * struct device (plan, apply with uapi_set, plan again: nothing; the peers
 * that stayed are the same objects, so their sessions stayed). Addresses
 * from 198.18.0.0/15 and 2001:db8::/32 only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vpnd/control/config.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"
#include "vpnd/control/reload.h"
#include "vpnd/control/uapi.h"

/* Keys: 32 bytes of 0x01 (the interface's private key, already clamped
 * enough for the test: see private_key_hex), 0x02, 0x03, ... */
#define K2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define K3 "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define K4 "BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ="
#define K5 "BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU="
#define K6 "BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY="
#define H2 "0202020202020202020202020202020202020202020202020202020202020202"
#define H3 "0303030303030303030303030303030303030303030303030303030303030303"
#define H4 "0404040404040404040404040404040404040404040404040404040404040404"
#define H5 "0505050505050505050505050505050505050505050505050505050505050505"
#define H6 "0606060606060606060606060606060606060606060606060606060606060606"
#define H0 "0000000000000000000000000000000000000000000000000000000000000000"

/* A clamped private key (0x01.. with the clamp bits set), base64 and hex. */
static char priv_b64[KEY_B64_LEN + 1], priv_hex[KEY_HEX_LEN + 1];
static char iface[256];

static int group_setup(void **state)
{
	uint8_t k[KEY_LEN];

	(void)state;
	if (!wg_crypto_init())
		return -1;
	memset(k, 1, sizeof(k));
	wg_key_clamp(k);
	wg_key_to_base64(priv_b64, k);
	wg_key_to_hex(priv_hex, k);
	snprintf(iface, sizeof(iface),
		 "[Interface]\nPrivateKey = %s\nAddress = 198.19.0.1/24, 2001:db8:1::1/64\n"
		 "ListenPort = 51820\n", priv_b64);
	return 0;
}

/* The running state as get=1 prints it for the server of iface plus peers. */
#define RUNNING_HEAD "private_key=%s\nlisten_port=51820\n"

struct fixture {
	struct config cfg;
	struct running_state rs;
	struct reload_plan plan;
};

static void load_cfg(struct config *cfg, const char *peers)
{
	char text[4096], err[512];

	snprintf(text, sizeof(text), "%s%s", iface, peers);
	if (config_parse_text(cfg, text, "test.conf", err, sizeof(err)) != CONFIG_OK)
		fail_msg("config: %s", err);
}

static void load_rs(struct running_state *rs, const char *peers)
{
	char text[4096], err[256];

	snprintf(text, sizeof(text), RUNNING_HEAD "%serrno=0\n\n", priv_hex, peers);
	if (running_state_parse(rs, text, err, sizeof(err)) < 0)
		fail_msg("running state: %s", err);
}

/* Plans config peers against running peers. */
static void plan(struct fixture *f, const char *cfg_peers, const char *running_peers)
{
	memset(f, 0, sizeof(*f));
	load_cfg(&f->cfg, cfg_peers);
	load_rs(&f->rs, running_peers);
	assert_int_equal(reload_plan_make(&f->plan, &f->cfg, &f->rs), 0);
}

static void done(struct fixture *f)
{
	reload_plan_free(&f->plan);
	running_state_free(&f->rs);
	config_free(&f->cfg);
}

static void expect_routes(const struct ip_prefix *v, size_t n, const char *want)
{
	char got[1024] = "", one[64];

	for (size_t i = 0; i < n; i++) {
		format_prefix(one, sizeof(one), &v[i]);
		strcat(got, i ? " " : "");
		strcat(got, one);
	}
	assert_string_equal(got, want);
}

#define PEER2 "[Peer]\nPublicKey = " K2 "\nAllowedIPs = 198.19.0.2/32, 198.19.102.0/24\n"
#define PEER3 "[Peer]\nPublicKey = " K3 "\nPresharedKey = " K6 "\n" \
	      "AllowedIPs = 198.19.0.3/32, 2001:db8:1::3/128, 2001:db8:103::/48\n" \
	      "Endpoint = 198.18.0.3:51820\nPersistentKeepalive = 25\n"
/* The same two peers as get=1 prints them, with live fields and allowed
 * IPs in another order. */
#define RUN2 "public_key=" H2 "\nprotocol_version=1\nendpoint=198.18.0.2:40000\n" \
	     "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n" \
	     "tx_bytes=100\nrx_bytes=200\npersistent_keepalive_interval=0\n" \
	     "allowed_ip=198.19.102.0/24\nallowed_ip=198.19.0.2/32\n"
#define RUN3 "public_key=" H3 "\npreshared_key=" H6 "\nprotocol_version=1\n" \
	     "endpoint=198.18.0.3:51820\nlast_handshake_time_sec=0\n" \
	     "last_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n" \
	     "persistent_keepalive_interval=25\nallowed_ip=2001:db8:103::/48\n" \
	     "allowed_ip=198.19.0.3/32\nallowed_ip=2001:db8:1::3/128\n"

/* 1. Same config as running: nothing to send, no route, all unchanged
 *    (the endpoint peer 2 roamed to stays: its config has none). */
static void test_unchanged(void **state)
{
	struct fixture f;

	(void)state;
	plan(&f, PEER2 PEER3, RUN2 RUN3);
	assert_string_equal(f.plan.set, "");
	assert_int_equal(f.plan.set_len, 0);
	assert_int_equal(f.plan.n_route_add, 0);
	assert_int_equal(f.plan.n_route_del, 0);
	assert_int_equal(f.plan.peers_unchanged, 2);
	assert_int_equal(f.plan.peers_added + f.plan.peers_removed + f.plan.peers_changed, 0);
	assert_false(f.plan.interface_changed);
	assert_true(reload_plan_empty(&f.plan));
	done(&f);
}

/* 2. A new peer: added whole, the others not named; its route outside the
 *    interface's subnets added, the one inside not. */
static void test_added(void **state)
{
	struct fixture f;

	(void)state;
	plan(&f, PEER2 PEER3 "[Peer]\nPublicKey = " K4 "\nPresharedKey = " K5 "\n"
		 "AllowedIPs = 198.19.0.4/32, 198.19.104.0/24\nEndpoint = [2001:db8::4]:1234\n"
		 "PersistentKeepalive = 10\n",
	     RUN2 RUN3);
	assert_string_equal(f.plan.set,
			    "public_key=" H4 "\npreshared_key=" H5 "\n"
			    "endpoint=[2001:db8::4]:1234\nreplace_allowed_ips=true\n"
			    "allowed_ip=198.19.0.4/32\nallowed_ip=198.19.104.0/24\n"
			    "persistent_keepalive_interval=10\n");
	assert_int_equal(f.plan.peers_added, 1);
	assert_int_equal(f.plan.peers_unchanged, 2);
	expect_routes(f.plan.route_add, f.plan.n_route_add, "198.19.104.0/24");
	assert_int_equal(f.plan.n_route_del, 0);
	done(&f);
}

/* 3. A peer gone from the config: remove=true; its routes deleted, except
 *    those the address covers (never installed). */
static void test_removed(void **state)
{
	struct fixture f;

	(void)state;
	plan(&f, PEER2, RUN2 RUN3);
	assert_string_equal(f.plan.set, "public_key=" H3 "\nremove=true\n");
	assert_int_equal(f.plan.peers_removed, 1);
	assert_int_equal(f.plan.peers_unchanged, 1);
	assert_int_equal(f.plan.n_route_add, 0);
	expect_routes(f.plan.route_del, f.plan.n_route_del, "2001:db8:103::/48");
	done(&f);
}

/* 4. Changed allowed IPs: update_only, replace_allowed_ips and the whole
 *    new list, nothing else; route for the new prefix added, the old one's
 *    deleted. */
static void test_changed_allowed_ips(void **state)
{
	struct fixture f;

	(void)state;
	plan(&f, "[Peer]\nPublicKey = " K2 "\nAllowedIPs = 198.19.0.2/32, 198.19.112.0/24\n" PEER3,
	     RUN2 RUN3);
	assert_string_equal(f.plan.set,
			    "public_key=" H2 "\nupdate_only=true\nreplace_allowed_ips=true\n"
			    "allowed_ip=198.19.0.2/32\nallowed_ip=198.19.112.0/24\n");
	assert_int_equal(f.plan.peers_changed, 1);
	assert_int_equal(f.plan.peers_unchanged, 1);
	expect_routes(f.plan.route_add, f.plan.n_route_add, "198.19.112.0/24");
	expect_routes(f.plan.route_del, f.plan.n_route_del, "198.19.102.0/24");
	done(&f);
}

/* 5. Preshared keys: changed, added, removed (zeros clear it). */
static void test_changed_psk(void **state)
{
	struct fixture f;

	(void)state;
	/* peer 3: K6 -> K5 */
	plan(&f, PEER2 "[Peer]\nPublicKey = " K3 "\nPresharedKey = " K5 "\n"
		 "AllowedIPs = 198.19.0.3/32, 2001:db8:1::3/128, 2001:db8:103::/48\n"
		 "Endpoint = 198.18.0.3:51820\nPersistentKeepalive = 25\n",
	     RUN2 RUN3);
	assert_string_equal(f.plan.set, "public_key=" H3 "\nupdate_only=true\npreshared_key=" H5 "\n");
	assert_int_equal(f.plan.peers_changed, 1);
	assert_false(f.plan.n_route_add || f.plan.n_route_del);
	done(&f);
	/* peer 2 gets one, peer 3 loses its */
	plan(&f, "[Peer]\nPublicKey = " K2 "\nPresharedKey = " K4 "\n"
		 "AllowedIPs = 198.19.0.2/32, 198.19.102.0/24\n"
		 "[Peer]\nPublicKey = " K3 "\n"
		 "AllowedIPs = 198.19.0.3/32, 2001:db8:1::3/128, 2001:db8:103::/48\n"
		 "Endpoint = 198.18.0.3:51820\nPersistentKeepalive = 25\n",
	     RUN2 RUN3);
	assert_string_equal(f.plan.set,
			    "public_key=" H2 "\nupdate_only=true\npreshared_key=" H4 "\n"
			    "public_key=" H3 "\nupdate_only=true\npreshared_key=" H0 "\n");
	assert_int_equal(f.plan.peers_changed, 2);
	done(&f);
}

/* 6. Endpoint and keepalive: a config endpoint that differs is set; the
 *    same one, or none in the config, is left alone. */
static void test_changed_endpoint_keepalive(void **state)
{
	struct fixture f;

	(void)state;
	plan(&f, PEER2 "[Peer]\nPublicKey = " K3 "\nPresharedKey = " K6 "\n"
		 "AllowedIPs = 198.19.0.3/32, 2001:db8:1::3/128, 2001:db8:103::/48\n"
		 "Endpoint = 198.18.0.33:51820\nPersistentKeepalive = off\n",
	     RUN2 RUN3);
	assert_string_equal(f.plan.set,
			    "public_key=" H3 "\nupdate_only=true\nendpoint=198.18.0.33:51820\n"
			    "persistent_keepalive_interval=0\n");
	done(&f);
	/* peer 2 has an endpoint in the config now, matching the roamed one */
	plan(&f, "[Peer]\nPublicKey = " K2 "\nAllowedIPs = 198.19.0.2/32, 198.19.102.0/24\n"
		 "Endpoint = 198.18.0.2:40000\n" PEER3,
	     RUN2 RUN3);
	assert_string_equal(f.plan.set, "");
	done(&f);
}

/* 7. Interface fields: another private key, listen port, fwmark. */
static void test_interface_fields(void **state)
{
	struct fixture f;
	char text[1024], err[256];

	(void)state;
	memset(&f, 0, sizeof(f));
	snprintf(text, sizeof(text), "[Interface]\nPrivateKey = %s\nListenPort = 51821\nFwMark = 0x10\n%s",
		 K4, PEER2);
	assert_int_equal(config_parse_text(&f.cfg, text, "t.conf", err, sizeof(err)), CONFIG_OK);
	load_rs(&f.rs, RUN2);
	assert_int_equal(reload_plan_make(&f.plan, &f.cfg, &f.rs), 0);
	assert_string_equal(f.plan.set, "private_key=" H4 "\nlisten_port=51821\nfwmark=16\n");
	assert_true(f.plan.interface_changed);
	assert_int_equal(f.plan.peers_unchanged, 1);
	/* Without Address: both routes wanted already, none changes. */
	assert_int_equal(f.plan.n_route_add + f.plan.n_route_del, 0);
	done(&f);
}

/* 7b. PeerToPeer: compared with get=stats' peer_to_peer=; sent when it
 *     differs, not when equal, never when the daemon does not report it. */
static void test_peer_to_peer(void **state)
{
	static const struct { const char *cfg, *stats, *want; } cases[] = {
		/* 1 */ { "PeerToPeer = direct\n", "peer_to_peer=kernel\n", "peer_to_peer=direct\n" },
		/* 2 */ { "PeerToPeer = direct\n", "peer_to_peer=direct\n", "" },
		/* 3 */ { "", "peer_to_peer=refuse\n", "peer_to_peer=kernel\n" },
		/* 4 */ { "PeerToPeer = refuse\n", "drop_short=0\n", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		char text[2048], err[256];

		memset(&f, 0, sizeof(f));
		snprintf(text, sizeof(text), "%s%s%s", iface, cases[i].cfg, PEER2);
		assert_int_equal(config_parse_text(&f.cfg, text, "t.conf", err, sizeof(err)),
				 CONFIG_OK);
		load_rs(&f.rs, RUN2);
		running_state_parse_stats(&f.rs, cases[i].stats);
		assert_int_equal(reload_plan_make(&f.plan, &f.cfg, &f.rs), 0);
		if (strcmp(f.plan.set ? f.plan.set : "", cases[i].want))
			fail_msg("case %zu: sent '%s', want '%s'", i + 1,
				 f.plan.set ? f.plan.set : "", cases[i].want);
		done(&f);
	}
}

/* 8. An allowed IP moving from a removed peer to a new one: removal comes
 *    first, and the route stays (still wanted). */
static void test_moved_allowed_ip(void **state)
{
	struct fixture f;

	(void)state;
	plan(&f, PEER3 "[Peer]\nPublicKey = " K4 "\nAllowedIPs = 198.19.102.0/24\n", RUN2 RUN3);
	assert_string_equal(f.plan.set,
			    "public_key=" H2 "\nremove=true\n"
			    "public_key=" H4 "\nreplace_allowed_ips=true\nallowed_ip=198.19.102.0/24\n");
	assert_int_equal(f.plan.n_route_add + f.plan.n_route_del, 0);
	done(&f);
}

/* 9. A peer with the interface's own key is ignored by the UAPI, so the
 *    plan leaves it out (else every reload would add it again). */
static void test_own_key_skipped(void **state)
{
	struct fixture f;
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char pub_b64[KEY_B64_LEN + 1], peers[512];

	(void)state;
	assert_true(wg_key_from_base64(priv, priv_b64));
	assert_true(wg_key_public_from_private(pub, priv));
	wg_key_to_base64(pub_b64, pub);
	snprintf(peers, sizeof(peers), PEER2 "[Peer]\nPublicKey = %s\nAllowedIPs = 198.19.0.9/32\n",
		 pub_b64);
	plan(&f, peers, RUN2);
	assert_string_equal(f.plan.set, "");
	done(&f);
}

/* 10. The get parser: errors, unknown keys skipped. */
/* Hooks are those of up until down: a reload compares and keeps them. */
static void test_hooks_kept(void **state)
{
	char *up_a[] = { "echo a" }, *up_b[] = { "echo b" }, *down[] = { "echo d", "echo e" };
	char *down2[] = { "echo d" };
	struct config old = { .post_up = up_a, .n_post_up = 1, .pre_down = down, .n_pre_down = 2 };
	struct config same = old, fresh = old;

	(void)state;
	assert_true(reload_hooks_equal(&old, &same));
	fresh.post_up = up_b;
	assert_false(reload_hooks_equal(&old, &fresh));
	fresh = old;
	fresh.pre_down = down2;
	fresh.n_pre_down = 1;
	assert_false(reload_hooks_equal(&old, &fresh));
	fresh.n_pre_down = 0;
	fresh.post_up = NULL;
	fresh.n_post_up = 0;
	assert_false(reload_hooks_equal(&old, &fresh));
	reload_keep_hooks(&fresh, &old);
	assert_ptr_equal(fresh.post_up, up_a);
	assert_ptr_equal(fresh.pre_down, down);
	assert_int_equal(fresh.n_pre_down, 2);
	assert_int_equal(old.n_post_up, 0);	/* fresh's, freed with old */
	assert_ptr_equal(old.pre_down, down2);
}

static void test_running_state_parse(void **state)
{
	struct running_state rs;
	char err[256];

	(void)state;
	assert_int_equal(running_state_parse(&rs, "listen_port=1\nerrno=-19\n\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "errno=-19"));
	assert_int_equal(running_state_parse(&rs, "listen_port\n", err, sizeof(err)), -1);
	assert_int_equal(running_state_parse(&rs, "public_key=zz\n", err, sizeof(err)), -1);
	/* What the worker says is never quoted raw: no control characters,
	 * and a line that may be a key is not echoed at all. */
	assert_int_equal(running_state_parse(&rs, "h\x1b[2J\n", err, sizeof(err)), -1);
	assert_string_equal(err, "UAPI answer: malformed line (5 characters)");
	assert_int_equal(running_state_parse(&rs, "errno=\x07\n\n", err, sizeof(err)), -1);
	assert_string_equal(err, "UAPI answer: errno=?");
	assert_int_equal(running_state_parse(&rs, "public_key=zz\x1b\n", err, sizeof(err)), -1);
	assert_null(strchr(err, '\x1b'));
	assert_int_equal(running_state_parse(&rs, "public_key=" H2 "\nendpoint=localhost:1\n",
					     err, sizeof(err)), 0);
	assert_false(rs.peers[0].has_endpoint);	/* numeric only: no DNS query */
	running_state_free(&rs);
	assert_int_equal(running_state_parse(&rs, "public_key=" H2 "\nallowed_ip=198.19.0.0/33\n",
					     err, sizeof(err)), -1);
	assert_int_equal(running_state_parse(&rs, "listen_port=7\nsomething_new=1\npublic_key=" H2
					     "\nfuture_key=x\nrx_bytes=5\nallowed_ip=198.19.0.2/32\n"
					     "errno=0\n\n", err, sizeof(err)), 0);
	assert_int_equal(rs.listen_port, 7);
	assert_int_equal(rs.n_peers, 1);
	assert_int_equal(rs.peers[0].rx_bytes, 5);
	assert_int_equal(rs.peers[0].n_allowed_ips, 1);
	running_state_free(&rs);
}

/* 11. Idempotence on a real device: from a running state that differs in
 *     every way, plan and apply with uapi_set; planning again gives
 *     nothing. Peers that stayed (unchanged or changed) are the very same
 *     objects before and after: never removed and re-created. */
static void apply_plan(struct device *dev, struct fixture *f, const struct config *cfg)
{
	char *get, err[256];

	memset(f, 0, sizeof(*f));
	get = uapi_get(dev);
	assert_non_null(get);
	assert_int_equal(running_state_parse(&f->rs, get, err, sizeof(err)), 0);
	free(get);
	assert_int_equal(reload_plan_make(&f->plan, cfg, &f->rs), 0);
	assert_int_equal(uapi_set(dev, f->plan.set), 0);
}

static void test_idempotent(void **state)
{
	struct device *dev = calloc(1, sizeof(*dev));
	struct config cfg = { 0 };
	struct fixture f;
	struct peer *p2, *p3;
	uint8_t k2[KEY_LEN], k3[KEY_LEN], k5[KEY_LEN];
	char *body, err[256];

	(void)state;
	assert_non_null(dev);
	assert_int_equal(device_init(dev, "test0"), 0);
	/* Running: same private key, listen port 0 (random), peer 2 with
	 * other allowed IPs, peer 3 unchanged, peer 5 to be removed. */
	assert_true(asprintf(&body,
				  "private_key=%s\nlisten_port=0\n"
				  "public_key=" H2 "\nallowed_ip=198.19.0.2/32\nallowed_ip=198.19.9.0/24\n"
				  "public_key=" H3 "\npreshared_key=" H6 "\nendpoint=198.18.0.3:51820\n"
				  "persistent_keepalive_interval=25\nallowed_ip=198.19.0.3/32\n"
				  "allowed_ip=2001:db8:1::3/128\nallowed_ip=2001:db8:103::/48\n"
				  "public_key=" H5 "\nallowed_ip=198.19.0.5/32\n", priv_hex) > 0);
	assert_int_equal(uapi_set(dev, body), 0);
	free(body);
	memset(k2, 2, sizeof(k2));
	memset(k3, 3, sizeof(k3));
	memset(k5, 5, sizeof(k5));
	p2 = device_peer_lookup(dev, k2);
	p3 = device_peer_lookup(dev, k3);
	assert_non_null(p2);
	assert_non_null(p3);
	p2->rx_bytes = 1234;	/* as if traffic had flowed */
	p3->rx_bytes = 5678;

	/* No ListenPort (the random one stays), FwMark set. */
	assert_true(asprintf(&body, "[Interface]\nPrivateKey = %s\n"
			     "Address = 198.19.0.1/24, 2001:db8:1::1/64\nFwMark = 7\n"
			     PEER2 PEER3 "[Peer]\nPublicKey = " K4 "\nAllowedIPs = 198.19.0.4/32\n",
			     priv_b64) > 0);
	assert_int_equal(config_parse_text(&cfg, body, "t.conf", err, sizeof(err)), CONFIG_OK);
	free(body);
	apply_plan(dev, &f, &cfg);
	assert_int_equal(f.plan.peers_added, 1);
	assert_int_equal(f.plan.peers_removed, 1);
	assert_int_equal(f.plan.peers_changed, 1);
	assert_int_equal(f.plan.peers_unchanged, 1);
	assert_true(f.plan.interface_changed);	/* fwmark 0 -> 7 */
	expect_routes(f.plan.route_add, f.plan.n_route_add, "198.19.102.0/24");
	expect_routes(f.plan.route_del, f.plan.n_route_del, "198.19.9.0/24");
	reload_plan_free(&f.plan);
	running_state_free(&f.rs);

	assert_ptr_equal(device_peer_lookup(dev, k2), p2);
	assert_ptr_equal(device_peer_lookup(dev, k3), p3);
	assert_null(device_peer_lookup(dev, k5));
	assert_int_equal(p2->rx_bytes, 1234);
	assert_int_equal(p3->rx_bytes, 5678);

	/* Second time: nothing at all. */
	apply_plan(dev, &f, &cfg);
	assert_string_equal(f.plan.set, "");
	assert_true(reload_plan_empty(&f.plan));
	assert_int_equal(f.plan.peers_unchanged, 3);
	reload_plan_free(&f.plan);
	running_state_free(&f.rs);

	config_free(&cfg);
	device_destroy(dev);
	free(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged),
		cmocka_unit_test(test_added),
		cmocka_unit_test(test_removed),
		cmocka_unit_test(test_changed_allowed_ips),
		cmocka_unit_test(test_changed_psk),
		cmocka_unit_test(test_changed_endpoint_keepalive),
		cmocka_unit_test(test_interface_fields),
		cmocka_unit_test(test_peer_to_peer),
		cmocka_unit_test(test_moved_allowed_ip),
		cmocka_unit_test(test_own_key_skipped),
		cmocka_unit_test(test_running_state_parse),
		cmocka_unit_test(test_hooks_kept),
		cmocka_unit_test(test_idempotent),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
