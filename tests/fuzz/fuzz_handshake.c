/* libFuzzer target: the handshake layer on its own, without a device:
 * noise_consume_initiation, noise_consume_response, cookie_validate and
 * cookie_consume_reply, on fixed-key state that goes back to the same
 * snapshot before every input.
 *
 *   R, the responder (fixed key), knows two peers: I (fixed key, with a
 *   preshared key) and X, whose "public key" is all zeros (a low-order
 *   point: its static-static DH is invalid). R has a cookie checker with a
 *   live secret.
 *   I, the initiator, has sent an initiation to R (its handshake is in
 *   NOISE_CREATED_INITIATION) and holds a cookie maker that added its macs.
 *
 * An input is a sequence of records: op(1) flags(1) len(1) data(len).
 * flags bits 4-7 = k: the clock first moves 2^(2k + 8) ns forward (k 0:
 * not at all). op % 8:
 *   0  R consumes data as an initiation (zero-padded to 148 bytes)
 *   1  R consumes an initiation sealed for R from ephemeral(32) static(32)
 *      timestamp(12) sender(4) in data
 *   2  I consumes data as a response (zero-padded to 92 bytes); flags bit
 *      0: its receiver index is set to I's index
 *   3  I consumes a response sealed for I's initiation from ephemeral(32)
 *      sender(4) in data
 *   4  R's checker validates data as a handshake message (any length);
 *      flags bit 0: mac1 is made right first (I's maker), bit 1: mac2 too
 *      (with the cookie R gives this source), bit 2: under load
 *   5  I's maker consumes data as a cookie reply (zero-padded to 64)
 *   6  I's maker consumes a reply sealed from nonce(24) cookie(16) in data
 *   7  R answers what it consumed (noise_create_response) and derives its
 *      keypair; I derives its keypair if it consumed a response
 *
 * Besides the sanitizers, the properties of the API are checked (abort):
 * a consume function that fails changes nothing (handshakes, maker) and
 * reports *out NULL; one that succeeds moves to the right state; a message
 * with mac1 made right is never COOKIE_MAC_INVALID, and with mac2 made
 * right under load (fresh secret) it is COOKIE_MAC2_VALID.
 *
 * FUZZ_WRITE_SEEDS=DIR writes the seed corpus to DIR and exits. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "handshake/cookie.h"
#include "handshake/noise.h"
#include "handshake/transport.h"
#include "tests/fuzz/fuzz_common.h"

#define I_INDEX 0xa1a2a3a4u
#define R_INDEX 0xb1b2b3b4u

enum { OP_INIT_RAW, OP_INIT_SEALED, OP_RESP_RAW, OP_RESP_SEALED, OP_VALIDATE, OP_REPLY_RAW,
       OP_REPLY_SEALED, OP_FINISH };

struct state {
	struct noise_handshake r_hs_i, r_hs_x;	/* R's handshakes with I and X */
	struct noise_handshake i_hs;		/* I's handshake with R */
	struct cookie_checker checker;		/* R's */
	struct cookie_maker maker;		/* I's, for R */
	uint64_t now;
};

static struct noise_local r_local, i_local;
static const uint8_t x_public[KEY_LEN];	/* all zeros */
static struct state st, snap;
static struct msg_initiation i_sent;	/* what I sent: R's answer to it is a seed */
static const uint8_t src[6] = { 192, 0, 2, 1, 0xca, 0x6c };	/* 192.0.2.1:51820 */

static bool trace;	/* FUZZ_TRACE=1: each result on stderr */

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_handshake: property violated: %s\n", what);
	abort();
}

static struct noise_handshake *r_lookup(void *ctx, const uint8_t pub[KEY_LEN])
{
	(void)ctx;
	if (wg_ct_equal(pub, i_local.public_key, KEY_LEN))
		return &st.r_hs_i;
	if (wg_ct_equal(pub, x_public, KEY_LEN))
		return &st.r_hs_x;
	return NULL;
}

static void consume_initiation(const struct msg_initiation *m)
{
	const struct noise_lookup lookup = { NULL, r_lookup };
	struct noise_handshake before_i, before_x;
	struct noise_handshake *out = (struct noise_handshake *)&lookup;	/* not NULL */
	enum noise_result r;

	memcpy(&before_i, &st.r_hs_i, sizeof(before_i));	/* padding included */
	memcpy(&before_x, &st.r_hs_x, sizeof(before_x));
	r = noise_consume_initiation(&r_local, m, &lookup, st.now, &out);
	if (trace)
		fprintf(stderr, "consume_initiation: %s\n", noise_result_str(r));

	if (r != NOISE_OK) {
		if (out)
			fail("failed consume_initiation left *out set");
		if (memcmp(&before_i, &st.r_hs_i, sizeof(before_i)) ||
		    memcmp(&before_x, &st.r_hs_x, sizeof(before_x)))
			fail("failed consume_initiation changed a handshake");
		return;
	}
	if (out != &st.r_hs_i || st.r_hs_i.state != NOISE_CONSUMED_INITIATION)
		fail("consume_initiation succeeded for the wrong peer or state");
	if (memcmp(&before_x, &st.r_hs_x, sizeof(before_x)))
		fail("consume_initiation changed another peer's handshake");
}

static void consume_response(const struct msg_response *m)
{
	struct noise_handshake before;
	enum noise_result r;

	memcpy(&before, &st.i_hs, sizeof(before));
	r = noise_consume_response(&st.i_hs, &i_local, m);
	if (trace)
		fprintf(stderr, "consume_response: %s\n", noise_result_str(r));

	if (r != NOISE_OK) {
		if (memcmp(&before, &st.i_hs, sizeof(before)))
			fail("failed consume_response changed the handshake");
		return;
	}
	if (st.i_hs.state != NOISE_CONSUMED_RESPONSE)
		fail("consume_response succeeded in a wrong state");
}

static void consume_reply(const struct msg_cookie_reply *m)
{
	struct cookie_maker before;
	enum cookie_reply_result r;

	memcpy(&before, &st.maker, sizeof(before));
	r = cookie_consume_reply(&st.maker, m, st.now);
	if (trace)
		fprintf(stderr, "cookie_consume_reply: %d\n", r);
	if (r != COOKIE_REPLY_OK && memcmp(&before, &st.maker, sizeof(before)))
		fail("failed cookie_consume_reply changed the maker");
}

static void validate(const uint8_t *data, size_t len, uint8_t flags)
{
	uint8_t *msg = malloc(len ? len : 1);
	bool fix1 = flags & 1, fix2 = flags & 2, load = flags & 4;
	bool fresh = st.checker.secret_set &&
		     st.now - st.checker.secret_birth_ns < COOKIE_SECRET_MAX_AGE;
	enum cookie_mac_state r;

	if (!msg)
		abort();
	memcpy(msg, data, len);
	fix1 = fix1 && len >= 2 * MAC_LEN;
	fix2 = fix2 && fix1 && st.checker.secret_set;
	if (fix1) {
		struct cookie_maker m = st.maker;

		cookie_add_macs(&m, msg, len, st.now);
	}
	if (fix2) {
		uint8_t cookie[MAC_LEN];

		wg_blake2s_keyed(cookie, MAC_LEN, st.checker.secret, HASH_LEN, src, sizeof(src));
		wg_blake2s_keyed(msg + len - MAC_LEN, MAC_LEN, cookie, MAC_LEN, msg, len - MAC_LEN);
	}
	r = cookie_validate(&st.checker, msg, len, src, sizeof(src), load, st.now);
	if (trace)
		fprintf(stderr, "cookie_validate(len %zu, flags %#x): %d\n", len, flags, r);
	if (fix1 && r == COOKIE_MAC_INVALID)
		fail("a right mac1 was refused");
	if (fix2 && load && fresh && r != COOKIE_MAC2_VALID)
		fail("a right mac2 was refused under load");
	if (!load && r == COOKIE_MAC2_VALID)
		fail("mac2 checked while not under load");
	free(msg);
}

static void finish(void)
{
	struct keypair kp;

	if (st.r_hs_i.state == NOISE_CONSUMED_INITIATION) {
		struct msg_response m;

		if (noise_create_response(&st.r_hs_i, &r_local, &m, R_INDEX) != NOISE_OK)
			fail("noise_create_response after a consumed initiation");
		if (noise_derive_keypair(&st.r_hs_i, &kp, st.now) != NOISE_OK || kp.is_initiator)
			fail("responder keypair");
	}
	if (st.i_hs.state == NOISE_CONSUMED_RESPONSE &&
	    (noise_derive_keypair(&st.i_hs, &kp, st.now) != NOISE_OK || !kp.is_initiator))
		fail("initiator keypair");
}

static void run_record(uint8_t op, uint8_t flags, const uint8_t *data, size_t len)
{
	size_t off = 0;

	if (flags >> 4)
		st.now += 1ULL << (2 * (flags >> 4) + 8);
	switch (op % 8) {
	case OP_INIT_RAW: {
		struct msg_initiation m;

		fuzz_take(&m, sizeof(m), data, len, &off);
		consume_initiation(&m);
		break;
	}
	case OP_INIT_SEALED: {
		struct msg_initiation m;

		fuzz_seal_initiation_from(&m, r_local.private_key, r_local.public_key, data, len);
		consume_initiation(&m);
		break;
	}
	case OP_RESP_RAW: {
		struct msg_response m;

		fuzz_take(&m, sizeof(m), data, len, &off);
		if (flags & 1)
			m.receiver_index = host_to_le32(st.i_hs.local_index);
		consume_response(&m);
		break;
	}
	case OP_RESP_SEALED: {
		uint8_t eph[KEY_LEN], sender[4];
		struct msg_response m;
		uint32_t s;

		fuzz_take(eph, sizeof(eph), data, len, &off);
		fuzz_take(sender, sizeof(sender), data, len, &off);
		memcpy(&s, sender, 4);
		if (st.i_hs.state != NOISE_CREATED_INITIATION)
			break;	/* nothing to seal for */
		fuzz_seal_response(&m, &st.i_hs, i_local.private_key, eph, le32_to_host(s));
		consume_response(&m);
		break;
	}
	case OP_VALIDATE:
		validate(data, len, flags);
		break;
	case OP_REPLY_RAW: {
		struct msg_cookie_reply m;

		fuzz_take(&m, sizeof(m), data, len, &off);
		consume_reply(&m);
		break;
	}
	case OP_REPLY_SEALED: {
		struct msg_cookie_reply m;
		uint8_t cookie[MAC_LEN];

		memset(&m, 0, sizeof(m));
		m.header.type = MSG_COOKIE_REPLY;
		m.receiver_index = host_to_le32(I_INDEX);
		fuzz_take(m.nonce, sizeof(m.nonce), data, len, &off);
		fuzz_take(cookie, sizeof(cookie), data, len, &off);
		wg_xaead_encrypt(m.encrypted_cookie, cookie, MAC_LEN, st.maker.last_mac1, MAC_LEN,
			      m.nonce, st.maker.cookie_key);
		consume_reply(&m);
		break;
	}
	default:
		finish();
		break;
	}
}

static void setup(void)
{
	struct msg_cookie_reply reply;

	fuzz_crypto_init();
	if (!noise_local_set(&r_local, FUZZ_DEV_PRIV) || !noise_local_set(&i_local, FUZZ_PEER_PRIV))
		abort();
	noise_handshake_init(&st.r_hs_i, &r_local, i_local.public_key, FUZZ_PSK);
	noise_handshake_init(&st.r_hs_x, &r_local, x_public, NULL);
	noise_handshake_init(&st.i_hs, &i_local, r_local.public_key, FUZZ_PSK);
	if (!st.r_hs_i.static_static_valid || st.r_hs_x.static_static_valid)
		abort();
	cookie_checker_init(&st.checker, r_local.public_key);
	cookie_maker_init(&st.maker, r_local.public_key);
	st.now = 1000 * NSEC_PER_SEC;
	if (noise_create_initiation(&st.i_hs, &i_local, &i_sent, I_INDEX, FUZZ_WALL_START) !=
	    NOISE_OK)
		abort();
	cookie_add_macs(&st.maker, (uint8_t *)&i_sent, sizeof(i_sent), st.now);
	/* A live cookie secret: R answered a message with a cookie reply. */
	cookie_create_reply(&st.checker, &reply, (const uint8_t *)&i_sent, sizeof(i_sent),
			    I_INDEX, src, sizeof(src), st.now);
	snap = st;
}

/* --- seeds --------------------------------------------------------------- */

static size_t rec(uint8_t *out, uint8_t op, uint8_t flags, const void *data, size_t len)
{
	out[0] = op;
	out[1] = flags;
	out[2] = (uint8_t)len;
	if (len)
		memcpy(out + 3, data, len);
	return 3 + len;
}

static void write_seeds(const char *dir)
{
	const struct noise_lookup lookup = { NULL, r_lookup };
	struct noise_handshake *out;
	struct msg_initiation later;
	struct msg_response resp;
	struct msg_cookie_reply reply;
	uint8_t buf[1024], part[128];
	size_t n;

	/* I's initiation as sent, then R answers it: the response I expects. */
	n = rec(buf, OP_INIT_RAW, 0, &i_sent, sizeof(i_sent));
	fuzz_write_seed(dir, "initiation", buf, n);
	n += rec(buf + n, OP_FINISH, 0, NULL, 0);
	n += rec(buf + n, OP_INIT_RAW, 0, &i_sent, sizeof(i_sent));	/* replayed */
	fuzz_write_seed(dir, "initiation_replayed", buf, n);

	st = snap;
	if (noise_consume_initiation(&r_local, &i_sent, &lookup, st.now, &out) != NOISE_OK ||
	    noise_create_response(&st.r_hs_i, &r_local, &resp, R_INDEX) != NOISE_OK)
		abort();
	n = rec(buf, OP_RESP_RAW, 0, &resp, sizeof(resp));
	n += rec(buf + n, OP_FINISH, 0, NULL, 0);
	fuzz_write_seed(dir, "response", buf, n);

	/* Sealed: an initiation from I with a later timestamp; one claiming
	 * X's low-order key; a response with I's public key as ephemeral. */
	memcpy(part, i_local.public_key, KEY_LEN);
	memcpy(part + 32, i_local.public_key, KEY_LEN);
	wg_tai64n_from_unix_ns(part + 64, FUZZ_WALL_START + 5 * NSEC_PER_SEC);
	memcpy(part + 76, "\x01\x00\x00\x00", 4);
	n = rec(buf, OP_INIT_SEALED, 0, part, 80);
	n += rec(buf + n, OP_FINISH, 0, NULL, 0);
	fuzz_write_seed(dir, "sealed_initiation", buf, n);
	memset(part + 32, 0, KEY_LEN);
	n = rec(buf, OP_INIT_SEALED, 0, part, 80);
	fuzz_write_seed(dir, "sealed_initiation_low_order", buf, n);
	n = rec(buf, OP_RESP_SEALED, 0, part, 36);
	n += rec(buf + n, OP_FINISH, 0, NULL, 0);
	fuzz_write_seed(dir, "sealed_response", buf, n);

	/* mac checks: as sent, with mac2 under load, and a short message. */
	st = snap;
	later = i_sent;
	n = rec(buf, OP_VALIDATE, 0, &later, sizeof(later));
	n += rec(buf + n, OP_VALIDATE, 1 | 2 | 4, &later, sizeof(later));
	n += rec(buf + n, OP_VALIDATE, 1, &resp, sizeof(resp));
	n += rec(buf + n, OP_VALIDATE, 1, &resp, 20);
	fuzz_write_seed(dir, "macs", buf, n);

	/* Cookie replies: R's real one, then one sealed from parts. */
	cookie_create_reply(&st.checker, &reply, (const uint8_t *)&i_sent, sizeof(i_sent), I_INDEX,
			    src, sizeof(src), st.now);
	n = rec(buf, OP_REPLY_RAW, 0, &reply, sizeof(reply));
	n += rec(buf + n, OP_REPLY_RAW, 0, &reply, sizeof(reply));	/* replayed */
	fuzz_write_seed(dir, "cookie_reply", buf, n);
	memset(part, 0x42, 40);
	n = rec(buf, OP_REPLY_SEALED, 0, part, 40);
	fuzz_write_seed(dir, "cookie_reply_sealed", buf, n);
}

/* --- libFuzzer ----------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return fuzz_initialize(&trace, setup, write_seeds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	st = snap;
	fuzz_rng_seed(3);
	while (size >= 3) {
		size_t len = data[2];

		if (len > size - 3)
			len = size - 3;
		run_record(data[0], data[1], data + 3, len);
		data += 3 + len;
		size -= 3 + len;
	}
	return 0;
}
