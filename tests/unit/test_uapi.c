/* Unit tests for the UAPI text layer (vpnd/control/uapi.c): uapi_set() and
 * uapi_get() on a real struct device, without the control socket or TUN.
 * listen_port binds a real UDP socket (loopback tests pick port 0, i.e. a
 * random one). Every test gets a fresh device "test0". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/device_fixture.h"

#include "crypto/crypto.h"
#include "handshake/wire.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"
#include "vpnd/control/uapi.h"

struct ident {
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char priv_hex[KEY_HEX_LEN + 1], pub_hex[KEY_HEX_LEN + 1];
};

static void ident_new(struct ident *id)
{
	wg_key_generate_private(id->priv);
	assert_true(wg_key_public_from_private(id->pub, id->priv));
	wg_key_to_hex(id->priv_hex, id->priv);
	wg_key_to_hex(id->pub_hex, id->pub);
}

/* A peer's public key only (we never need its private key). */
static void peer_new(struct ident *id)
{
	ident_new(id);
	memset(id->priv, 0, sizeof(id->priv));
	memset(id->priv_hex, 0, sizeof(id->priv_hex));
}


/* uapi_set on a private, writable copy (it cuts its buffer into lines). */
static int set(struct device *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int set(struct device *dev, const char *fmt, ...)
{
	va_list ap;
	char *body;
	int n, ret;

	va_start(ap, fmt);
	n = vasprintf(&body, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	ret = uapi_set(dev, body);
	free(body);
	return ret;
}

/* uapi_get, checked for shape: key=value lines, each ending in '\n'. */
static char *get(struct device *dev)
{
	char *out = uapi_get(dev);

	assert_non_null(out);
	for (const char *line = out; *line;) {
		const char *nl = strchr(line, '\n'), *eq = strchr(line, '=');

		if (!nl)
			fail_msg("last line not ended: '%s'", line);
		if (!eq || eq > nl || eq == line)
			fail_msg("not a key=value line: '%.*s'", (int)(nl - line), line);
		line = nl + 1;
	}
	return out;
}

/* The lines of one peer: from its public_key= line to the next peer's;
 * NULL if the peer is not in the output. malloc'd. (The output always
 * starts with device lines, so a peer's line follows a '\n'.) */
static char *peer_section(const char *out, const struct ident *peer)
{
	char start[KEY_HEX_LEN + 16];
	const char *p, *end;

	snprintf(start, sizeof(start), "\npublic_key=%s\n", peer->pub_hex);
	p = strstr(out, start);
	if (!p)
		return NULL;
	p++;
	end = strstr(p, "\npublic_key=");
	return end ? strndup(p, (size_t)(end + 1 - p)) : strdup(p);
}

/* Number of lines of text equal to line (given without its '\n'). */
static int count_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	int n = 0;

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');

		if (!nl)
			break;
		if ((size_t)(nl - p) == len && !strncmp(p, line, len))
			n++;
		p = nl + 1;
	}
	return n;
}

static int count_prefix(const char *text, const char *prefix)
{
	size_t len = strlen(prefix);
	int n = 0;

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');

		if (!strncmp(p, prefix, len))
			n++;
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

static void expect_line(const char *text, const char *line)
{
	if (count_line(text, line) != 1)
		fail_msg("want exactly one line '%s' in:\n%s", line, text);
}

static void expect_no_prefix(const char *text, const char *prefix)
{
	if (count_prefix(text, prefix))
		fail_msg("want no line starting '%s' in:\n%s", prefix, text);
}

static char *section_or_fail(const char *out, const struct ident *peer)
{
	char *s = peer_section(out, peer);

	if (!s)
		fail_msg("peer %s missing from:\n%s", peer->pub_hex, out);
	return s;
}

static void expect_no_peer(const char *out, const struct ident *peer)
{
	char *s = peer_section(out, peer);

	if (s) {
		free(s);
		fail_msg("peer %s should be absent from:\n%s", peer->pub_hex, out);
	}
}

/* Which peer, if any, routes addr. */
static struct peer *route(struct device *dev, const char *addr)
{
	uint8_t a[16];
	struct allowedips_owner *o;
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, addr, a), 1);
	o = allowedips_lookup(dev->aips, family, a);
	return o ? (struct peer *)((char *)o - offsetof(struct peer, aips)) : NULL;
}

static struct peer *lookup(struct device *dev, const struct ident *id)
{
	return device_peer_lookup(dev, id->pub);
}

/* ---- get ---- */

static void test_get_fresh_device(void **state)
{
	struct device *dev = *state;
	char *out = get(dev);

	assert_string_equal(out, "listen_port=0\n");
	free(out);
}

/* The body from the brief: identity, port, one peer with everything. */
static void test_set_get_full(void **state)
{
	struct device *dev = *state;
	struct ident me, p;
	char line[256], *out, *sec;
	int ret;

	ident_new(&me);
	peer_new(&p);
	ret = set(dev, "private_key=%s\nlisten_port=0\npublic_key=%s\n"
		  "endpoint=198.18.0.1:51820\nallowed_ip=198.19.0.0/24\n"
		  "allowed_ip=2001:db8::/64\npersistent_keepalive_interval=0\n",
		  me.priv_hex, p.pub_hex);
	assert_int_equal(ret, 0);
	assert_true(dev->udp_fd >= 0);
	assert_int_not_equal(dev->bound_port, 0);
	assert_true(dev->local->has_identity);
	assert_memory_equal(dev->local->public_key, me.pub, KEY_LEN);
	assert_int_equal(dev->n_peers, 1);

	out = get(dev);
	/* device lines first, in wg's order */
	snprintf(line, sizeof(line), "private_key=%s\nlisten_port=%u\npublic_key=%s\n",
		 me.priv_hex, dev->bound_port, p.pub_hex);
	if (strncmp(out, line, strlen(line)))
		fail_msg("output does not start with\n%s\nbut is\n%s", line, out);
	expect_no_prefix(out, "fwmark=");
	sec = section_or_fail(out, &p);
	expect_line(sec, "protocol_version=1");
	expect_line(sec, "endpoint=198.18.0.1:51820");
	expect_line(sec, "allowed_ip=198.19.0.0/24");
	expect_line(sec, "allowed_ip=2001:db8::/64");
	assert_int_equal(count_prefix(sec, "allowed_ip="), 2);
	expect_line(sec, "last_handshake_time_sec=0");
	expect_line(sec, "last_handshake_time_nsec=0");
	expect_line(sec, "tx_bytes=0");
	expect_line(sec, "rx_bytes=0");
	expect_line(sec, "persistent_keepalive_interval=0");
	/* none set: all zeros, always written, as wireguard-go */
	expect_line(sec, "preshared_key=0000000000000000000000000000000000000000000000000000000000000000");
	/* public_key, preshared_key, protocol_version, endpoint, 2 times,
	 * 2 counters, keepalive, 2 allowed IPs: nothing else */
	assert_int_equal(count_prefix(sec, ""), 11);
	free(sec);
	free(out);

	/* the routing table took the allowed IPs */
	assert_ptr_equal(route(dev, "198.19.0.77"), lookup(dev, &p));
	assert_ptr_equal(route(dev, "2001:db8::1234"), lookup(dev, &p));
	assert_null(route(dev, "198.19.1.1"));
	assert_null(route(dev, "2001:db8:0:1::1"));
}

/* Values as wg prints them: host bits masked, IPv6 endpoints bracketed,
 * counters from the peer. */
static void test_get_formats(void **state)
{
	struct device *dev = *state;
	struct ident p;
	struct peer *peer;
	char *out, *sec;

	peer_new(&p);
	assert_int_equal(set(dev, "public_key=%s\nendpoint=[2001:db8::1]:51820\n"
			     "allowed_ip=10.1.2.3/16\nallowed_ip=2001:db8:1:2:3::1/48\n"
			     "allowed_ip=192.0.2.1/32\nallowed_ip=0.0.0.0/0\n"
			     "persistent_keepalive_interval=25\n", p.pub_hex), 0);
	peer = lookup(dev, &p);
	assert_non_null(peer);
	peer->tx_bytes = 1234567890123ULL;
	peer->rx_bytes = 42;
	peer->last_handshake_wall_ns = 1700000000ULL * NSEC_PER_SEC + 123456789;

	out = get(dev);
	sec = section_or_fail(out, &p);
	expect_line(sec, "endpoint=[2001:db8::1]:51820");
	expect_line(sec, "allowed_ip=10.1.0.0/16");
	expect_line(sec, "allowed_ip=2001:db8:1::/48");
	expect_line(sec, "allowed_ip=192.0.2.1/32");
	expect_line(sec, "allowed_ip=0.0.0.0/0");
	expect_line(sec, "tx_bytes=1234567890123");
	expect_line(sec, "rx_bytes=42");
	expect_line(sec, "last_handshake_time_sec=1700000000");
	expect_line(sec, "last_handshake_time_nsec=123456789");
	expect_line(sec, "persistent_keepalive_interval=25");
	expect_no_prefix(out, "private_key=");	/* no identity yet */
	free(sec);
	free(out);

	/* a new endpoint replaces the old one */
	assert_int_equal(set(dev, "public_key=%s\nendpoint=203.0.113.9:1\n", p.pub_hex), 0);
	out = get(dev);
	sec = section_or_fail(out, &p);
	expect_line(sec, "endpoint=203.0.113.9:1");
	assert_int_equal(count_prefix(sec, "endpoint="), 1);
	free(sec);
	free(out);

	/* host names are wg(8)'s to resolve: the UAPI never queries DNS */
	assert_int_equal(set(dev, "public_key=%s\nendpoint=localhost:1\n", p.pub_hex), EINVAL);
}

static void test_fwmark(void **state)
{
	struct device *dev = *state;
	char *out;

	assert_int_equal(set(dev, "fwmark=51820\n"), 0);
	out = get(dev);
	expect_line(out, "fwmark=51820");
	free(out);
	assert_int_equal(set(dev, "fwmark=0\n"), 0);
	out = get(dev);
	expect_no_prefix(out, "fwmark=");
	free(out);
}

/* ---- identity ---- */

static void test_private_key_clear(void **state)
{
	struct device *dev = *state;
	struct ident me;
	char line[128], *out;

	ident_new(&me);
	assert_int_equal(set(dev, "private_key=%s\n", me.priv_hex), 0);
	out = get(dev);
	snprintf(line, sizeof(line), "private_key=%s", me.priv_hex);
	expect_line(out, line);
	free(out);
	/* all zeros clears the identity, as with wg set private-key /dev/null */
	assert_int_equal(set(dev, "private_key=%064d\n", 0), 0);
	assert_false(dev->local->has_identity);
	out = get(dev);
	expect_no_prefix(out, "private_key=");
	free(out);
}

/* Upper-case hex is accepted; get answers in lower case. */
static void test_hex_case(void **state)
{
	struct device *dev = *state;
	struct ident p;
	char upper[KEY_HEX_LEN + 1], *out, *sec;

	peer_new(&p);
	for (int i = 0; i <= KEY_HEX_LEN; i++)
		upper[i] = (char)(p.pub_hex[i] >= 'a' ? p.pub_hex[i] - 32 : p.pub_hex[i]);
	assert_int_equal(set(dev, "public_key=%s\n", upper), 0);
	out = get(dev);
	sec = section_or_fail(out, &p);
	free(sec);
	free(out);
}

static void test_own_public_key_ignored(void **state)
{
	struct device *dev = *state;
	struct ident me, p;
	char *out;

	ident_new(&me);
	peer_new(&p);
	assert_int_equal(set(dev, "private_key=%s\npublic_key=%s\nallowed_ip=10.0.0.0/8\n"
			     "endpoint=198.18.0.1:1\npublic_key=%s\nallowed_ip=10.1.0.0/16\n",
			     me.priv_hex, me.pub_hex, p.pub_hex), 0);
	assert_int_equal(dev->n_peers, 1);
	assert_null(lookup(dev, &me));
	out = get(dev);
	expect_no_peer(out, &me);
	free(section_or_fail(out, &p));
	assert_int_equal(count_prefix(out, "allowed_ip="), 1);
	free(out);
	/* the ignored peer's lines went nowhere */
	assert_null(route(dev, "10.2.0.1"));
	assert_ptr_equal(route(dev, "10.1.0.1"), lookup(dev, &p));

	/* update_only and remove on our own key: still nothing, no error */
	assert_int_equal(set(dev, "public_key=%s\nupdate_only=true\nallowed_ip=10.3.0.0/16\n",
			     me.pub_hex), 0);
	assert_int_equal(set(dev, "public_key=%s\nremove=true\n", me.pub_hex), 0);
	assert_int_equal(dev->n_peers, 1);
	assert_null(route(dev, "10.3.0.1"));
}

/* Taking a peer's key as our own identity drops that peer. */
static void test_private_key_of_existing_peer(void **state)
{
	struct device *dev = *state;
	struct ident me, other;
	char *out;

	ident_new(&me);
	peer_new(&other);
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/8\npublic_key=%s\n",
			     me.pub_hex, other.pub_hex), 0);
	assert_int_equal(dev->n_peers, 2);
	assert_int_equal(set(dev, "private_key=%s\n", me.priv_hex), 0);
	assert_int_equal(dev->n_peers, 1);
	assert_null(lookup(dev, &me));
	assert_null(route(dev, "10.0.0.1"));
	out = get(dev);
	expect_no_peer(out, &me);
	free(section_or_fail(out, &other));
	free(out);
}

/* A session, as a finished handshake would leave it: an initiator's
 * keypair, current, with its index in the device's table. */
static struct keypair *fake_session(struct device *dev, struct peer *peer)
{
	struct keypair *kp = device_keypair_new(dev);

	assert_non_null(kp);
	kp->local_index = index_table_add(&dev->index, peer, kp);
	assert_int_not_equal(kp->local_index, 0);
	kp->is_initiator = true;
	kp->confirmed = true;
	kp->valid = true;
	kp->birth_ns = now_monotonic_ns();
	peer_install_keypair(peer, kp);
	assert_ptr_equal(peer->kp_current, kp);
	return kp;
}

/* wg setconf / wg syncconf send private_key every time: the same key again
 * must leave the sessions alone (as wireguard-go and the kernel do); only
 * a different key ends them. */
static void test_same_private_key_keeps_sessions(void **state)
{
	struct device *dev = *state;
	struct ident me, other, p;
	struct peer *peer;
	struct keypair *kp;
	uint8_t unclamped[KEY_LEN];
	char hex[KEY_HEX_LEN + 1];
	uint32_t idx;

	ident_new(&me);
	ident_new(&other);
	peer_new(&p);
	assert_int_equal(set(dev, "private_key=%s\npublic_key=%s\nallowed_ip=10.0.0.0/24\n",
			     me.priv_hex, p.pub_hex), 0);
	peer = lookup(dev, &p);
	kp = fake_session(dev, peer);

	assert_int_equal(set(dev, "private_key=%s\npublic_key=%s\nallowed_ip=10.0.0.0/24\n",
			     me.priv_hex, p.pub_hex), 0);
	assert_ptr_equal(peer->kp_current, kp);
	assert_ptr_equal(index_table_find(&dev->index, kp->local_index)->kp, kp);

	/* the same key before clamping is the same identity */
	memcpy(unclamped, me.priv, KEY_LEN);
	unclamped[0] |= 7;
	unclamped[31] |= 0x80;
	wg_key_to_hex(hex, unclamped);
	assert_int_equal(set(dev, "private_key=%s\n", hex), 0);
	assert_ptr_equal(peer->kp_current, kp);
	assert_memory_equal(dev->local->public_key, me.pub, KEY_LEN);

	/* a new identity stops the sessions sending (the kernel's
	 * wg_noise_expire_current_peer_keypairs): they still receive what is in
	 * flight, and the new handshake may leave at once */
	idx = kp->local_index;
	timers_handshake_sent(&peer->timers, now_monotonic_ns());
	assert_int_equal(set(dev, "private_key=%s\n", other.priv_hex), 0);
	assert_ptr_equal(peer->kp_current, kp);
	assert_true(kp->send_expired);
	assert_null(peer_sendable_keypair(peer, now_monotonic_ns()));
	assert_ptr_equal(index_table_find(&dev->index, idx)->kp, kp);
	assert_true(timers_initiation_allowed(&peer->timers, now_monotonic_ns(), false));
	assert_memory_equal(dev->local->public_key, other.pub, KEY_LEN);
	assert_true(peer->hs->static_static_valid);

	/* and clearing it too */
	kp = fake_session(dev, peer);
	assert_int_equal(set(dev, "private_key=%064d\n", 0), 0);
	assert_ptr_equal(peer->kp_current, kp);
	assert_true(kp->send_expired);
	assert_null(peer_sendable_keypair(peer, now_monotonic_ns()));
	assert_false(dev->local->has_identity);
}

/* Key confirmation completes a handshake only on the peer's next keypair
 * (the kernel's wg_noise_received_with_keypair): a responder keypair that a
 * newer handshake of ours pushed to previous is confirmed, not promoted. */
static void test_confirm_only_next(void **state)
{
	struct device *dev = *state;
	struct ident me, p;
	struct peer *peer;
	struct keypair *resp, *init;

	ident_new(&me);
	peer_new(&p);
	assert_int_equal(set(dev, "private_key=%s\npublic_key=%s\n", me.priv_hex, p.pub_hex), 0);
	peer = lookup(dev, &p);
	resp = device_keypair_new(dev);
	assert_non_null(resp);
	resp->local_index = index_table_add(&dev->index, peer, resp);
	resp->valid = true;
	resp->birth_ns = now_monotonic_ns();
	peer_install_keypair(peer, resp);
	assert_ptr_equal(peer->kp_next, resp);
	init = fake_session(dev, peer);	/* our own handshake completes */
	assert_ptr_equal(peer->kp_previous, resp);
	assert_false(peer_keypair_confirmed(peer, resp));
	assert_ptr_equal(peer->kp_current, init);
	assert_ptr_equal(peer->kp_previous, resp);
	assert_false(peer_keypair_confirmed(peer, init));

	resp = device_keypair_new(dev);
	assert_non_null(resp);
	resp->local_index = index_table_add(&dev->index, peer, resp);
	resp->valid = true;
	peer_install_keypair(peer, resp);
	assert_true(peer_keypair_confirmed(peer, resp));
	assert_ptr_equal(peer->kp_current, resp);
	assert_ptr_equal(peer->kp_previous, init);
	assert_null(peer->kp_next);
	assert_int_equal(set(dev, "public_key=%s\nremove=true\n", p.pub_hex), 0);
}

/* Interface admin down (the kernel's wg_stop): keys, handshake, queue and
 * timers gone, nothing sent; up (wg_open): a persistent-keepalive peer
 * starts a handshake at once. */
static void test_link_down_up(void **state)
{
	struct device *dev = *state;
	struct ident me, p;
	struct peer *peer;
	uint64_t sent;

	ident_new(&me);
	peer_new(&p);
	assert_int_equal(set(dev, "private_key=%s\npublic_key=%s\nendpoint=198.18.0.9:51820\n"
			     "persistent_keepalive_interval=25\n", me.priv_hex, p.pub_hex), 0);
	peer = lookup(dev, &p);
	fake_session(dev, peer);
	timers_data_received(&peer->timers, now_monotonic_ns());
	timers_handshake_sent(&peer->timers, now_monotonic_ns());
	assert_true(peer_stage(peer, (const uint8_t *)"\x45", 1));
	assert_int_not_equal(timers_next_deadline(&peer->timers), 0);

	device_link_down(dev);
	assert_null(peer->kp_current);
	assert_null(peer->kp_previous);
	assert_int_equal(peer->staged_count, 0);
	assert_int_equal(timers_next_deadline(&peer->timers), 0);
	sent = peer->handshakes_sent;
	send_keepalive(peer);
	send_initiation(peer, false);
	assert_int_equal(peer->handshakes_sent, sent);
	assert_int_equal(timers_next_deadline(&peer->timers), 0);

	device_link_up(dev);
	assert_int_equal(peer->handshakes_sent, sent + 1);
	assert_true(timers_pending(&peer->timers, TIMER_RETRANSMIT_HANDSHAKE));
	device_link_up(dev);	/* already up: nothing more */
	assert_int_equal(peer->handshakes_sent, sent + 1);

	device_set_mtu(dev, 1412);
	assert_int_equal(dev->mtu, 1412);
	device_set_mtu(dev, 0);
	assert_int_equal(dev->mtu, 1412);
	device_set_mtu(dev, DEFAULT_TUNNEL_MTU);
	assert_int_equal(set(dev, "public_key=%s\nremove=true\n", p.pub_hex), 0);
}

/* ---- peers ---- */

static void test_preshared_key(void **state)
{
	struct device *dev = *state;
	struct ident p;
	uint8_t psk[KEY_LEN];
	char psk_hex[KEY_HEX_LEN + 1], line[256], *out, *sec;

	peer_new(&p);
	wg_random_bytes(psk, sizeof(psk));
	wg_key_to_hex(psk_hex, psk);
	assert_int_equal(set(dev, "public_key=%s\npreshared_key=%s\n", p.pub_hex, psk_hex), 0);
	assert_memory_equal(lookup(dev, &p)->hs->preshared_key, psk, KEY_LEN);
	out = get(dev);
	sec = section_or_fail(out, &p);
	snprintf(line, sizeof(line), "preshared_key=%s", psk_hex);
	expect_line(sec, line);
	/* wg shows it right after public_key */
	snprintf(line, sizeof(line), "public_key=%s\npreshared_key=%s\nprotocol_version=1\n",
		 p.pub_hex, psk_hex);
	assert_true(!strncmp(sec, line, strlen(line)));
	free(sec);
	free(out);

	/* all zeros removes it */
	assert_int_equal(set(dev, "public_key=%s\npreshared_key=%064d\n", p.pub_hex, 0), 0);
	out = get(dev);
	sec = section_or_fail(out, &p);
	expect_line(sec, "preshared_key=0000000000000000000000000000000000000000000000000000000000000000");
	assert_int_equal(count_prefix(sec, "preshared_key="), 1);
	free(sec);
	free(out);
}

static void test_allowed_ips_add_and_replace(void **state)
{
	struct device *dev = *state;
	struct ident p, q;
	char *out, *sec;

	peer_new(&p);
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/24\n"
			     "allowed_ip=fd00::/8\n", p.pub_hex), 0);
	/* without replace_allowed_ips, more are added */
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.1.0/24\n", p.pub_hex), 0);
	/* the same prefix twice is held once */
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.1.0/24\n", p.pub_hex), 0);
	out = get(dev);
	sec = section_or_fail(out, &p);
	assert_int_equal(count_prefix(sec, "allowed_ip="), 3);
	expect_line(sec, "allowed_ip=10.0.0.0/24");
	expect_line(sec, "allowed_ip=10.0.1.0/24");
	expect_line(sec, "allowed_ip=fd00::/8");
	free(sec);
	free(out);

	/* replace: only the new list remains, in the table as in the output */
	assert_int_equal(set(dev, "public_key=%s\nreplace_allowed_ips=true\n"
			     "allowed_ip=172.16.0.0/12\n", p.pub_hex), 0);
	out = get(dev);
	sec = section_or_fail(out, &p);
	assert_int_equal(count_prefix(sec, "allowed_ip="), 1);
	expect_line(sec, "allowed_ip=172.16.0.0/12");
	free(sec);
	free(out);
	assert_null(route(dev, "10.0.0.1"));
	assert_null(route(dev, "fd00::1"));
	assert_ptr_equal(route(dev, "172.16.5.5"), lookup(dev, &p));

	/* allowed_ip=-PREFIX removes that one prefix (wg set ... allowed-ips
	 * -X); one the peer does not hold, or held by another, stays */
	peer_new(&q);
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/24\nallowed_ip=fd00::/8\n"
			     "public_key=%s\nallowed_ip=10.7.0.0/16\n", p.pub_hex, q.pub_hex), 0);
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=-10.0.0.0/24\n"
			     "allowed_ip=-fd00::/8\nallowed_ip=-10.7.0.0/16\n"
			     "allowed_ip=-192.0.2.0/24\n", p.pub_hex), 0);
	assert_null(route(dev, "10.0.0.1"));
	assert_null(route(dev, "fd00::1"));
	assert_ptr_equal(route(dev, "172.16.5.5"), lookup(dev, &p));
	assert_ptr_equal(route(dev, "10.7.0.1"), lookup(dev, &q));
	assert_int_equal(set(dev, "public_key=%s\nremove=true\n", q.pub_hex), 0);

	/* replace with nothing: none left */
	assert_int_equal(set(dev, "public_key=%s\nreplace_allowed_ips=true\n", p.pub_hex), 0);
	out = get(dev);
	expect_no_prefix(out, "allowed_ip=");
	free(out);
	assert_null(route(dev, "172.16.5.5"));
	assert_int_equal(allowedips_node_count(dev->aips), 0);
}

static void test_remove_peer(void **state)
{
	struct device *dev = *state;
	struct ident a, b, c;
	uint32_t kp_index;
	char *out;

	peer_new(&a);
	peer_new(&b);
	peer_new(&c);
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/24\n"
			     "public_key=%s\nallowed_ip=10.0.1.0/24\n",
			     a.pub_hex, b.pub_hex), 0);
	assert_int_equal(dev->n_peers, 2);
	kp_index = fake_session(dev, lookup(dev, &a))->local_index;
	/* lines after remove=true for that peer are ignored */
	assert_int_equal(set(dev, "public_key=%s\nremove=true\nallowed_ip=10.9.0.0/16\n",
			     a.pub_hex), 0);
	assert_int_equal(dev->n_peers, 1);
	assert_null(lookup(dev, &a));
	assert_null(index_table_find(&dev->index, kp_index));	/* its session went too */
	assert_null(route(dev, "10.0.0.1"));
	assert_null(route(dev, "10.9.0.1"));
	assert_ptr_equal(route(dev, "10.0.1.1"), lookup(dev, &b));
	out = get(dev);
	expect_no_peer(out, &a);
	free(section_or_fail(out, &b));
	free(out);

	/* removing a peer that does not exist adds nothing */
	assert_int_equal(set(dev, "public_key=%s\nremove=true\n", c.pub_hex), 0);
	assert_int_equal(dev->n_peers, 1);
	assert_null(lookup(dev, &c));

	/* a later peer in the same request is configured normally */
	assert_int_equal(set(dev, "public_key=%s\nremove=true\npublic_key=%s\n"
			     "allowed_ip=10.0.2.0/24\n", b.pub_hex, c.pub_hex), 0);
	assert_int_equal(dev->n_peers, 1);
	assert_ptr_equal(route(dev, "10.0.2.1"), lookup(dev, &c));
	assert_null(route(dev, "10.0.1.1"));
}

static void test_update_only(void **state)
{
	struct device *dev = *state;
	struct ident a, b;
	char *out, *sec;

	peer_new(&a);
	peer_new(&b);
	/* on a new key: nothing is added, its other lines are ignored */
	assert_int_equal(set(dev, "public_key=%s\nupdate_only=true\nallowed_ip=10.0.0.0/24\n"
			     "endpoint=198.18.0.1:51820\n", a.pub_hex), 0);
	assert_int_equal(dev->n_peers, 0);
	assert_null(lookup(dev, &a));
	assert_null(route(dev, "10.0.0.1"));
	out = get(dev);
	assert_string_equal(out, "listen_port=0\n");
	free(out);

	/* on an existing key: updated */
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/24\n", a.pub_hex), 0);
	assert_int_equal(set(dev, "public_key=%s\nupdate_only=true\nallowed_ip=10.0.1.0/24\n"
			     "endpoint=198.18.0.1:51820\npublic_key=%s\nupdate_only=true\n",
			     a.pub_hex, b.pub_hex), 0);
	assert_int_equal(dev->n_peers, 1);
	assert_null(lookup(dev, &b));
	out = get(dev);
	sec = section_or_fail(out, &a);
	expect_line(sec, "allowed_ip=10.0.0.0/24");
	expect_line(sec, "allowed_ip=10.0.1.0/24");
	expect_line(sec, "endpoint=198.18.0.1:51820");
	free(sec);
	expect_no_peer(out, &b);
	free(out);
}

static void test_replace_peers(void **state)
{
	struct device *dev = *state;
	struct ident a, b, c;
	char *out;

	peer_new(&a);
	peer_new(&b);
	peer_new(&c);
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/24\n"
			     "public_key=%s\nallowed_ip=10.0.1.0/24\n", a.pub_hex, b.pub_hex), 0);
	fake_session(dev, lookup(dev, &a));
	fake_session(dev, lookup(dev, &b));
	assert_int_equal(dev->index.live, 2);
	assert_int_equal(set(dev, "replace_peers=true\npublic_key=%s\nallowed_ip=10.0.2.0/24\n"
			     "public_key=%s\nallowed_ip=10.0.3.0/24\n", b.pub_hex, c.pub_hex), 0);
	assert_int_equal(dev->n_peers, 2);
	assert_int_equal(dev->index.live, 0);	/* every session ended */
	assert_null(lookup(dev, &a));
	assert_null(route(dev, "10.0.0.1"));
	/* b was removed and added again: its old allowed IPs are gone */
	assert_null(route(dev, "10.0.1.1"));
	assert_ptr_equal(route(dev, "10.0.2.1"), lookup(dev, &b));
	assert_ptr_equal(route(dev, "10.0.3.1"), lookup(dev, &c));
	out = get(dev);
	expect_no_peer(out, &a);
	free(section_or_fail(out, &b));
	free(section_or_fail(out, &c));
	assert_int_equal(count_prefix(out, "public_key="), 2);
	free(out);

	/* alone, it empties the device */
	assert_int_equal(set(dev, "replace_peers=true\n"), 0);
	assert_int_equal(dev->n_peers, 0);
	assert_int_equal(allowedips_node_count(dev->aips), 0);
	out = get(dev);
	assert_string_equal(out, "listen_port=0\n");
	free(out);
}

/* An allowed IP belongs to one peer: adding it to another moves it. */
static void test_move_allowed_ip(void **state)
{
	struct device *dev = *state;
	struct ident a, b;
	char *out, *sa, *sb;

	peer_new(&a);
	peer_new(&b);
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/24\n"
			     "allowed_ip=2001:db8::/64\npublic_key=%s\n", a.pub_hex, b.pub_hex), 0);
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/24\n", b.pub_hex), 0);
	assert_ptr_equal(route(dev, "10.0.0.1"), lookup(dev, &b));
	assert_ptr_equal(route(dev, "2001:db8::1"), lookup(dev, &a));
	out = get(dev);
	sa = section_or_fail(out, &a);
	sb = section_or_fail(out, &b);
	expect_no_prefix(sa, "allowed_ip=10.");
	expect_line(sa, "allowed_ip=2001:db8::/64");
	expect_line(sb, "allowed_ip=10.0.0.0/24");
	assert_int_equal(count_line(out, "allowed_ip=10.0.0.0/24"), 1);
	assert_int_equal(lookup(dev, &a)->aips.count, 1);
	assert_int_equal(lookup(dev, &b)->aips.count, 1);
	free(sa);
	free(sb);
	free(out);

	/* and back, within one request */
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/24\n"
			     "allowed_ip=2001:db8::/64\n", b.pub_hex), 0);
	assert_int_equal(lookup(dev, &a)->aips.count, 0);
	assert_int_equal(lookup(dev, &b)->aips.count, 2);
	assert_ptr_equal(route(dev, "2001:db8::1"), lookup(dev, &b));
}

/* The peer's persistent keepalive, shown and off again. */
static void test_persistent_keepalive(void **state)
{
	struct device *dev = *state;
	struct ident p;
	struct peer *peer;
	char *out, *sec;

	peer_new(&p);
	assert_int_equal(set(dev, "public_key=%s\npersistent_keepalive_interval=25\n",
			     p.pub_hex), 0);
	peer = lookup(dev, &p);
	assert_int_equal(peer->timers.persistent_keepalive_interval, 25);
	out = get(dev);
	sec = section_or_fail(out, &p);
	expect_line(sec, "persistent_keepalive_interval=25");
	free(sec);
	free(out);

	peer->timers.deadline[TIMER_PERSISTENT_KEEPALIVE] = 12345;	/* as if armed */
	assert_int_equal(set(dev, "public_key=%s\npersistent_keepalive_interval=0\n",
			     p.pub_hex), 0);
	assert_false(timers_pending(&peer->timers, TIMER_PERSISTENT_KEEPALIVE));
	out = get(dev);
	sec = section_or_fail(out, &p);
	expect_line(sec, "persistent_keepalive_interval=0");
	free(sec);
	free(out);
}

/* Turning the persistent keepalive on, with an identity and an endpoint,
 * sends at once; with no session yet that is a handshake initiation. The
 * endpoint is a loopback socket of ours, so we see it arrive. */
static void test_persistent_keepalive_sends_at_once(void **state)
{
	struct device *dev = *state;
	struct ident me, p;
	struct peer *peer;
	uint32_t idx;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	uint8_t buf[512];
	struct pollfd pfd;
	ssize_t n;
	char *out, *sec;
	int fd;

	ident_new(&me);
	peer_new(&p);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);

	assert_int_equal(set(dev, "private_key=%s\nlisten_port=0\npublic_key=%s\n"
			     "endpoint=127.0.0.1:%u\npersistent_keepalive_interval=25\n",
			     me.priv_hex, p.pub_hex, ntohs(a.sin_port)), 0);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_int_equal(n, sizeof(struct msg_initiation));
	assert_int_equal(buf[0], MSG_INITIATION);
	assert_true(wg_ct_is_zero(buf + 1, 3));
	close(fd);

	out = get(dev);
	sec = section_or_fail(out, &p);
	expect_line(sec, "tx_bytes=148");
	expect_line(sec, "persistent_keepalive_interval=25");
	free(sec);
	free(out);
	peer = lookup(dev, &p);
	assert_int_equal(peer->handshakes_sent, 1);

	/* the handshake in flight holds an index and a timer; removing the
	 * peer takes both away (nothing may point at the freed peer) */
	idx = peer->hs->local_index;
	assert_int_not_equal(idx, 0);
	assert_ptr_equal(index_table_find(&dev->index, idx)->peer, peer);
	assert_int_equal(dev->heap_len, 1);
	assert_true(timers_pending(&peer->timers, TIMER_RETRANSMIT_HANDSHAKE));
	assert_int_equal(set(dev, "public_key=%s\nremove=true\n", p.pub_hex), 0);
	assert_null(index_table_find(&dev->index, idx));
	assert_int_equal(dev->index.live, 0);
	assert_int_equal(dev->heap_len, 0);
}

/* ---- listen_port ---- */

static void test_listen_port(void **state)
{
	struct device *dev = *state;
	union sockaddr_any a = { 0 };
	socklen_t alen = sizeof(a.in6);
	char line[64], *out;
	uint16_t first;
	int old_fd, blocker;

	assert_int_equal(set(dev, "listen_port=0\n"), 0);
	first = dev->bound_port;
	assert_int_not_equal(first, 0);
	old_fd = dev->udp_fd;
	out = get(dev);
	snprintf(line, sizeof(line), "listen_port=%u", first);
	expect_line(out, line);
	free(out);

	/* the same port again: kept, no rebind */
	assert_int_equal(set(dev, "listen_port=%u\n", first), 0);
	assert_int_equal(dev->udp_fd, old_fd);
	assert_int_equal(dev->bound_port, first);

	/* a port someone else holds: EADDRINUSE, the old socket stays */
	blocker = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(blocker >= 0);
	a.in6.sin6_family = AF_INET6;
	assert_int_equal(bind(blocker, &a.sa, sizeof(a.in6)), 0);
	assert_int_equal(getsockname(blocker, &a.sa, &alen), 0);
	assert_int_equal(set(dev, "listen_port=%u\n", ntohs(a.in6.sin6_port)), EADDRINUSE);
	assert_int_equal(dev->bound_port, first);
	close(blocker);
	/* once free, it can be taken */
	assert_int_equal(set(dev, "listen_port=%u\n", ntohs(a.in6.sin6_port)), 0);
	assert_int_equal(dev->bound_port, ntohs(a.in6.sin6_port));
}

/* ---- errors ---- */

struct bad_case {
	const char *body;	/* %s: a valid public key, where used */
	int want;
};

static void test_invalid_lines(void **state)
{
	static const struct bad_case cases[] = {
		/* device lines */
		{ "private_key=zz00000000000000000000000000000000000000000000000000000000000000\n",
		  EINVAL },
		{ "private_key=abcd\n", EINVAL },
		{ "private_key=\n", EINVAL },
		{ "listen_port\n", EPROTO },			/* missing '=' */
		{ "listen_port=70000\n", EINVAL },
		{ "listen_port=65536\n", EINVAL },
		{ "listen_port=-1\n", EINVAL },
		{ "listen_port=\n", EINVAL },
		{ "listen_port=12ab\n", EINVAL },
		{ "fwmark=mark\n", EINVAL },
		{ "fwmark=4294967296\n", EINVAL },
		{ "replace_peers=false\n", EINVAL },
		{ "bogus=1\n", EINVAL },			/* unknown key */
		{ "endpoint=198.18.0.1:1\n", EINVAL },		/* a peer key, no peer */
		{ "allowed_ip=10.0.0.0/8\n", EINVAL },
		{ "protocol_version=1\n", EINVAL },
		/* peer lines */
		{ "public_key=%.63s\n", EINVAL },		/* short */
		{ "public_key=%sff\n", EINVAL },		/* long */
		{ "public_key=%.63sg\n", EINVAL },		/* bad hex */
		/* errno values as wireguard-go returns them */
		{ "public_key=%s\nprotocol_version=2\n", EINVAL },
		{ "public_key=%s\nprotocol_version=0\n", EINVAL },
		{ "public_key=%s\nallowed_ip=-10.0.0.0/33\n", EINVAL },
		{ "public_key=%s\nallowed_ip=--10.0.0.0/8\n", EINVAL },
		/* lines after remove are checked all the same */
		{ "public_key=%s\nremove=true\npreshared_key=xyz\n", EINVAL },
		{ "public_key=%s\nremove=true\nendpoint=198.18.0.1\n", EINVAL },
		{ "public_key=%s\nremove=true\nallowed_ip=10.0.0\n", EINVAL },
		{ "public_key=%s\nremove=true\npersistent_keepalive_interval=x\n", EINVAL },
		{ "public_key=%s\nremove=true\nreplace_allowed_ips=1\n", EINVAL },
		{ "public_key=%s\nremove=true\nprotocol_version=2\n", EINVAL },
		{ "public_key=%s\nremove=true\nbogus=1\n", EINVAL },
		{ "public_key=%s\nremove=true\nremove=maybe\n", EINVAL },
		{ "public_key=%s\npreshared_key=xyz\n", EINVAL },
		{ "public_key=%s\nendpoint=198.18.0.1\n", EINVAL },	/* no port */
		{ "public_key=%s\nendpoint=198.18.0.1:70000\n", EINVAL },
		{ "public_key=%s\nendpoint=2001:db8::1:51820\n", EINVAL },	/* no [] */
		{ "public_key=%s\nendpoint=[2001:db8::1]\n", EINVAL },
		{ "public_key=%s\nendpoint=\n", EINVAL },
		{ "public_key=%s\nallowed_ip=10.0.0.0/33\n", EINVAL },
		{ "public_key=%s\nallowed_ip=2001:db8::/129\n", EINVAL },
		{ "public_key=%s\nallowed_ip=10.0.0\n", EINVAL },
		{ "public_key=%s\npersistent_keepalive_interval=65536\n", EINVAL },
		{ "public_key=%s\npersistent_keepalive_interval=x\n", EINVAL },
		{ "public_key=%s\nremove=false\n", EINVAL },
		{ "public_key=%s\nupdate_only=yes\n", EINVAL },
		{ "public_key=%s\nreplace_allowed_ips=1\n", EINVAL },
		{ "public_key=%s\nlisten_port=1\n", EINVAL },	/* device key after a peer */
		{ "public_key=%s\nbogus=1\n", EINVAL },
		{ "public_key=%s\nallowed_ip\n", EPROTO },	/* missing '=' */
	};
	struct device *dev = *state;
	struct ident p;

	peer_new(&p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[512];
		int ret;

		snprintf(body, sizeof(body), cases[i].body, p.pub_hex);
		ret = uapi_set(dev, body);
		if (ret != cases[i].want)
			fail_msg("case %zu '%s': errno %d, want %d", i + 1, cases[i].body, ret,
				 cases[i].want);
	}
	/* none of them bound a socket or took an identity */
	assert_int_equal(dev->udp_fd, -1);
	assert_false(dev->local->has_identity);
	/* protocol_version=1 is fine */
	assert_int_equal(set(dev, "public_key=%s\nprotocol_version=1\n", p.pub_hex), 0);
}

/* Lines before a bad one stay applied (as in wireguard-go); lines after
 * it are not. */
static void test_error_keeps_earlier_lines(void **state)
{
	struct device *dev = *state;
	struct ident a, b;

	peer_new(&a);
	peer_new(&b);
	assert_int_equal(set(dev, "public_key=%s\nallowed_ip=10.0.0.0/24\nbogus=1\n"
			     "public_key=%s\n", a.pub_hex, b.pub_hex), EINVAL);
	assert_non_null(lookup(dev, &a));
	assert_ptr_equal(route(dev, "10.0.0.1"), lookup(dev, &a));
	assert_null(lookup(dev, &b));
}

/* Empty lines between lines are skipped; the request's closing empty
 * line is harmless. */
static void test_blank_lines(void **state)
{
	struct device *dev = *state;
	struct ident p;

	peer_new(&p);
	assert_int_equal(set(dev, "\npublic_key=%s\n\nallowed_ip=10.0.0.0/24\n\n", p.pub_hex), 0);
	assert_ptr_equal(route(dev, "10.0.0.1"), lookup(dev, &p));
	assert_int_equal(set(dev, "%s", ""), 0);
}

/* ---- scale ---- */

/* More peers than the device's first hash table has buckets (1024): all
 * found, all shown, in the order they were added. */
static void test_many_peers(void **state)
{
	enum { N = 3000 };
	struct device *dev = *state;
	struct ident *p = calloc(N, sizeof(*p));
	size_t cap = (size_t)N * 128 + 1, len = 0;
	char *body = malloc(cap), *out;
	const char *at;

	assert_non_null(p);
	assert_non_null(body);
	for (int i = 0; i < N; i++) {
		peer_new(&p[i]);
		len += (size_t)snprintf(body + len, cap - len,
					"public_key=%s\nallowed_ip=10.%d.%d.0/24\n",
					p[i].pub_hex, i / 256, i % 256);
		assert_true(len < cap);
	}
	assert_int_equal(uapi_set(dev, body), 0);
	assert_int_equal(dev->n_peers, N);
	assert_true(dev->n_buckets > 1024);
	out = get(dev);
	assert_int_equal(count_prefix(out, "public_key="), N);
	at = out;
	for (int i = 0; i < N; i++) {
		char line[KEY_HEX_LEN + 16], addr[32];

		snprintf(line, sizeof(line), "public_key=%s\n", p[i].pub_hex);
		at = strstr(at, line);
		if (!at)
			fail_msg("peer %d missing or out of order", i);
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		assert_ptr_equal(lookup(dev, &p[i]), route(dev, addr));
	}
	free(out);

	/* remove every other one */
	len = 0;
	for (int i = 0; i < N; i += 2)
		len += (size_t)snprintf(body + len, cap - len, "public_key=%s\nremove=true\n",
					p[i].pub_hex);
	assert_int_equal(uapi_set(dev, body), 0);
	assert_int_equal(dev->n_peers, N / 2);
	for (int i = 0; i < N; i++)
		assert_true(!lookup(dev, &p[i]) == !(i % 2));
	free(body);
	free(p);
}

/* vpnd's peer_to_peer key: set=1 takes it ([Interface] PeerToPeer over the
 * UAPI, e.g. for a reload), get=stats reports it; get=1 stays wg's. */
static void test_peer_to_peer(void **state)
{
	struct device *dev = *state;
	char *stats, *out;

	assert_int_equal(dev->peer_to_peer, P2P_KERNEL);
	stats = uapi_get_stats(dev);
	assert_non_null(strstr(stats, "\npeer_to_peer=kernel\n"));
	assert_non_null(strstr(stats, "drop_peer_to_peer_refused=0\n"));
	free(stats);
	assert_int_equal(set(dev, "peer_to_peer=direct\n"), 0);
	assert_int_equal(dev->peer_to_peer, P2P_DIRECT);
	assert_int_equal(set(dev, "peer_to_peer=refuse\n"), 0);
	stats = uapi_get_stats(dev);
	assert_non_null(strstr(stats, "\npeer_to_peer=refuse\n"));
	free(stats);
	assert_int_equal(set(dev, "peer_to_peer=sideways\n"), EINVAL);
	assert_int_equal(dev->peer_to_peer, P2P_REFUSE);
	out = get(dev);
	assert_null(strstr(out, "peer_to_peer"));
	free(out);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_get_fresh_device),
		T(test_set_get_full),
		T(test_get_formats),
		T(test_fwmark),
		T(test_private_key_clear),
		T(test_hex_case),
		T(test_own_public_key_ignored),
		T(test_private_key_of_existing_peer),
		T(test_same_private_key_keeps_sessions),
		T(test_confirm_only_next),
		T(test_link_down_up),
		T(test_preshared_key),
		T(test_allowed_ips_add_and_replace),
		T(test_remove_peer),
		T(test_update_only),
		T(test_replace_peers),
		T(test_move_allowed_ip),
		T(test_persistent_keepalive),
		T(test_persistent_keepalive_sends_at_once),
		T(test_listen_port),
		T(test_invalid_lines),
		T(test_error_keeps_earlier_lines),
		T(test_blank_lines),
		T(test_many_peers),
		T(test_peer_to_peer),
	};

	return cmocka_run_group_tests_name("uapi", tests, group_setup, NULL);
}
