/* mac1, mac2 and cookie replies: the formulas against PROTOCOL.md, the
 * under-load path (cookie reply, retry with mac2, handshake completes) for
 * initiations and responses, replayed/stale/tampered cookie replies, the
 * 120 s secret rotation, the maker's cookie age, and known-answer vectors
 * from an independent implementation (tests/tools/wgref.py, wg_vectors.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hs_fixture.h"
#include "wg_vectors.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static enum cookie_mac_state validate(struct cookie_checker *c, const void *msg, size_t len,
				      const uint8_t *src, size_t src_len, bool under_load,
				      uint64_t now_ns)
{
	return cookie_validate(c, msg, len, src, src_len, under_load, now_ns);
}

/* b, under load, answers a's initiation m with a cookie reply. */
static void reply_to_initiation(struct fix_pair *f, const struct msg_initiation *m,
				struct msg_cookie_reply *reply)
{
	assert_int_equal(validate(&f->b.checker, m, sizeof(*m), f->a.src, f->a.src_len, true,
				  f->now_ns), COOKIE_MAC1_VALID);
	cookie_create_reply(&f->b.checker, reply, (const uint8_t *)m, sizeof(*m),
			    le32_to_host(m->sender_index), f->a.src, f->a.src_len, f->now_ns);
}

/* The first round of the cookie dance: a sends a SYN with no cookie, b
 * (under load) replies, a takes the cookie. */
static void get_cookie(struct fix_pair *f)
{
	struct msg_initiation m;
	struct msg_cookie_reply reply;

	fix_create_initiation(f, &m);
	reply_to_initiation(f, &m, &reply);
	assert_int_equal(cookie_consume_reply(&f->a.maker, &reply, f->now_ns), COOKIE_REPLY_OK);
	assert_true(f->a.maker.have_cookie);
}

/* --- formulas ------------------------------------------------------------ */

/* mac1, mac2, the cookie and its encryption recomputed from the primitives
 * as PROTOCOL.md states them, independently of cookie.c. */
static void test_cookie_formulas(void **state)
{
	struct fix_pair f;
	struct msg_initiation m1, m2;
	struct msg_cookie_reply reply;
	uint8_t key[HASH_LEN], mac[MAC_LEN], cookie[MAC_LEN], opened[MAC_LEN];
	const size_t mac1_at = offsetof(struct msg_initiation, macs.mac1);
	const size_t mac2_at = offsetof(struct msg_initiation, macs.mac2);

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	fix_create_initiation(&f, &m1);

	/* mac1 = MAC(HASH(LABEL_MAC1 || responder public), bytes before mac1) */
	wg_hash2(key, LABEL_MAC1, strlen(LABEL_MAC1), f.b.local.public_key, KEY_LEN);
	wg_blake2s_keyed(mac, MAC_LEN, key, HASH_LEN, &m1, mac1_at);
	assert_memory_equal(mac, m1.macs.mac1, MAC_LEN);

	/* cookie = MAC(R, source bytes); sealed with XAEAD under
	 * HASH(LABEL_COOKIE || responder public), ad = the answered mac1. */
	reply_to_initiation(&f, &m1, &reply);
	assert_int_equal(reply.header.type, MSG_COOKIE_REPLY);
	assert_true(wg_ct_is_zero(reply.header.reserved, 3));
	assert_int_equal(le32_to_host(reply.receiver_index), f.a.index);
	wg_blake2s_keyed(cookie, MAC_LEN, f.b.checker.secret, HASH_LEN, f.a.src, f.a.src_len);
	wg_hash2(key, LABEL_COOKIE, strlen(LABEL_COOKIE), f.b.local.public_key, KEY_LEN);
	assert_true(wg_xaead_decrypt(opened, reply.encrypted_cookie, sizeof(reply.encrypted_cookie),
				  m1.macs.mac1, MAC_LEN, reply.nonce, key));
	assert_memory_equal(opened, cookie, MAC_LEN);

	/* mac2 = MAC(cookie, bytes before mac2) */
	assert_int_equal(cookie_consume_reply(&f.a.maker, &reply, f.now_ns), COOKIE_REPLY_OK);
	assert_memory_equal(f.a.maker.cookie, cookie, MAC_LEN);
	fix_create_initiation(&f, &m2);
	wg_blake2s_keyed(mac, MAC_LEN, cookie, MAC_LEN, &m2, mac2_at);
	assert_memory_equal(mac, m2.macs.mac2, MAC_LEN);
	fix_pair_wipe(&f);
}

static void test_cookie_source_bytes(void **state)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t want4[] = { 192, 0, 2, 1, 0xca, 0x6c };
	static const uint8_t want6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 1, 0x01, 0xbb };
	uint8_t out[COOKIE_SOURCE_MAX];

	(void)state;
	/* Address, then the port big-endian. */
	assert_int_equal(cookie_source_bytes(out, AF_INET, v4, 51820), sizeof(want4));
	assert_memory_equal(out, want4, sizeof(want4));
	assert_int_equal(cookie_source_bytes(out, AF_INET6, v6, 443), sizeof(want6));
	assert_memory_equal(out, want6, sizeof(want6));
}

/* --- 5. the cookie path -------------------------------------------------- */

static void test_cookie_under_load(void **state)
{
	static const uint8_t addr_a[4] = { 192, 0, 2, 1 };	/* as in the fixture */
	static const uint8_t addr_other[4] = { 192, 0, 2, 2 };
	static const uint8_t addr_v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct fix_pair f;
	struct msg_initiation m1, m2;
	struct msg_cookie_reply reply;
	struct msg_response r;
	uint8_t srcs[4][COOKIE_SOURCE_MAX];
	size_t src_lens[4], i;
	/* The same message from several sources: only a's own address and
	 * port earn MAC2_VALID, since the cookie is bound to them. */
	const enum cookie_mac_state want[4] = {
		/* 1 a's address and port */ COOKIE_MAC2_VALID,
		/* 2 same address, another port */ COOKIE_MAC1_VALID,
		/* 3 another address, same port */ COOKIE_MAC1_VALID,
		/* 4 an IPv6 address, same port */ COOKIE_MAC1_VALID,
	};

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	src_lens[0] = cookie_source_bytes(srcs[0], AF_INET, addr_a, 51820);
	src_lens[1] = cookie_source_bytes(srcs[1], AF_INET, addr_a, 51822);
	src_lens[2] = cookie_source_bytes(srcs[2], AF_INET, addr_other, 51820);
	src_lens[3] = cookie_source_bytes(srcs[3], AF_INET6, addr_v6, 51820);
	assert_memory_equal(srcs[0], f.a.src, f.a.src_len);

	/* No cookie yet: mac2 is zero, which under load is only mac1-valid;
	 * b answers with a cookie reply instead of doing any DH. */
	fix_create_initiation(&f, &m1);
	assert_true(wg_ct_is_zero(m1.macs.mac2, MAC_LEN));
	reply_to_initiation(&f, &m1, &reply);
	assert_int_equal(f.b.hs.state, NOISE_ZEROED);
	assert_true(f.b.checker.secret_set);
	assert_int_equal(f.b.checker.secret_birth_ns, f.now_ns);

	assert_int_equal(cookie_consume_reply(&f.a.maker, &reply, f.now_ns), COOKIE_REPLY_OK);

	/* The retry, a moment later, carries mac2. */
	f.now_ns += 50 * MSEC_NS;
	f.wall_ns += 50 * MSEC_NS;
	fix_create_initiation(&f, &m2);
	assert_false(wg_ct_is_zero(m2.macs.mac2, MAC_LEN));
	for (i = 0; i < ARRAY_SIZE(want); i++)
		if (validate(&f.b.checker, &m2, sizeof(m2), srcs[i], src_lens[i], true,
			     f.now_ns) != want[i])
			fail_msg("source %zu: wrong mac state", i + 1);
	/* Not under load, mac2 is not looked at. */
	assert_int_equal(validate(&f.b.checker, &m2, sizeof(m2), f.a.src, f.a.src_len, false,
				  f.now_ns), COOKIE_MAC1_VALID);

	/* mac2 covers mac1 and everything before it, and is itself exact. */
	for (i = 0; i < sizeof(m2); i++) {
		struct msg_initiation t = m2;
		enum cookie_mac_state w = i < offsetof(struct msg_initiation, macs.mac2) ?
					  COOKIE_MAC_INVALID : COOKIE_MAC1_VALID;

		((uint8_t *)&t)[i] ^= 0x01;
		if (validate(&f.b.checker, &t, sizeof(t), f.a.src, f.a.src_len, true,
			     f.now_ns) != w)
			fail_msg("byte %zu flipped: wrong mac state", i);
	}

	/* The handshake now goes through. */
	assert_int_equal(validate(&f.b.checker, &m2, sizeof(m2), f.a.src, f.a.src_len, true,
				  f.now_ns), COOKIE_MAC2_VALID);
	assert_int_equal(fix_consume_initiation(&f, &m2), NOISE_OK);
	fix_create_response(&f, &r);
	assert_int_equal(fix_consume_response(&f, &r), NOISE_OK);
	fix_derive(&f);
	fix_confirm(&f);
	fix_pair_wipe(&f);
}

/* The initiator under load answers a response the same way; the
 * responder's next response carries mac2. */
static void test_cookie_response_path(void **state)
{
	struct fix_pair f;
	struct msg_initiation m;
	struct msg_response r1, r2;
	struct msg_cookie_reply reply;

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	fix_create_initiation(&f, &m);
	assert_int_equal(fix_consume_initiation(&f, &m), NOISE_OK);
	fix_create_response(&f, &r1);
	assert_true(wg_ct_is_zero(r1.macs.mac2, MAC_LEN));

	assert_int_equal(validate(&f.a.checker, &r1, sizeof(r1), f.b.src, f.b.src_len, true,
				  f.now_ns), COOKIE_MAC1_VALID);
	cookie_create_reply(&f.a.checker, &reply, (uint8_t *)&r1, sizeof(r1),
			    le32_to_host(r1.sender_index), f.b.src, f.b.src_len, f.now_ns);
	assert_int_equal(le32_to_host(reply.receiver_index), f.b.index);
	assert_int_equal(cookie_consume_reply(&f.b.maker, &reply, f.now_ns), COOKIE_REPLY_OK);

	fix_step(&f);
	fix_create_initiation(&f, &m);
	assert_int_equal(fix_consume_initiation(&f, &m), NOISE_OK);
	fix_create_response(&f, &r2);
	assert_false(wg_ct_is_zero(r2.macs.mac2, MAC_LEN));
	assert_int_equal(validate(&f.a.checker, &r2, sizeof(r2), f.b.src, f.b.src_len, true,
				  f.now_ns), COOKIE_MAC2_VALID);
	assert_int_equal(fix_consume_response(&f, &r2), NOISE_OK);
	fix_derive(&f);
	fix_confirm(&f);
	fix_pair_wipe(&f);
}

/* A reply is good for one message only: replayed, answering an older
 * message, or arriving when nothing was sent, it is refused and the maker
 * keeps what it had. */
static void test_cookie_reply_refused(void **state)
{
	struct fix_pair f;
	struct msg_initiation m1, m2, m3;
	struct msg_cookie_reply reply1, reply2, reply3;
	struct cookie_maker fresh, before;

	(void)state;
	fix_pair_init(&f, NULL, NULL);

	/* 1: a maker that has sent nothing. */
	fix_create_initiation(&f, &m1);
	reply_to_initiation(&f, &m1, &reply1);
	cookie_maker_init(&fresh, f.b.local.public_key);
	before = fresh;
	assert_int_equal(cookie_consume_reply(&fresh, &reply1, f.now_ns),
			 COOKIE_REPLY_ERR_UNEXPECTED);
	assert_memory_equal(&fresh, &before, sizeof(before));

	/* 2: accepted once; the replay is unexpected and changes nothing,
	 * not even the cookie's birth time. */
	assert_int_equal(cookie_consume_reply(&f.a.maker, &reply1, f.now_ns), COOKIE_REPLY_OK);
	before = f.a.maker;
	f.now_ns += NSEC_PER_SEC;
	assert_int_equal(cookie_consume_reply(&f.a.maker, &reply1, f.now_ns),
			 COOKIE_REPLY_ERR_UNEXPECTED);
	assert_memory_equal(&f.a.maker, &before, sizeof(before));

	/* 3: a sent m2 then m3; the reply to m2 arrives late. Its ad is m2's
	 * mac1, not the last one sent: refused. The reply to m3 is taken.
	 * 200 s on, a's cookie is too old to use, so b answers both. */
	f.now_ns += 200 * NSEC_PER_SEC;
	f.wall_ns += 200 * NSEC_PER_SEC;
	fix_create_initiation(&f, &m2);
	reply_to_initiation(&f, &m2, &reply2);
	fix_create_initiation(&f, &m3);
	reply_to_initiation(&f, &m3, &reply3);
	before = f.a.maker;
	assert_int_equal(cookie_consume_reply(&f.a.maker, &reply2, f.now_ns),
			 COOKIE_REPLY_ERR_DECRYPT);
	assert_memory_equal(&f.a.maker, &before, sizeof(before));
	assert_int_equal(cookie_consume_reply(&f.a.maker, &reply3, f.now_ns), COOKIE_REPLY_OK);
	cookie_maker_wipe(&fresh);
	cookie_maker_wipe(&before);
	fix_pair_wipe(&f);
}

/* --- 3. tampered cookie replies ----------------------------------------- */

/* Every flipped byte of the nonce and of the encrypted cookie makes the
 * XAEAD fail; the maker keeps its state, so the real reply is then taken.
 * The header and receiver index are not covered: the caller uses the index
 * only to find the maker. A reply sealed by another responder (another
 * cookie key) fails too. */
static void test_cookie_tamper_reply(void **state)
{
	struct fix_pair f;
	struct msg_initiation m;
	struct msg_cookie_reply reply, other;
	struct cookie_checker stranger;
	struct cookie_maker before;
	struct noise_local c;
	size_t i;

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	fix_create_initiation(&f, &m);
	reply_to_initiation(&f, &m, &reply);
	before = f.a.maker;

	for (i = offsetof(struct msg_cookie_reply, nonce); i < sizeof(reply); i++) {
		struct msg_cookie_reply t = reply;

		((uint8_t *)&t)[i] ^= 0x01;
		if (cookie_consume_reply(&f.a.maker, &t, f.now_ns) != COOKIE_REPLY_ERR_DECRYPT)
			fail_msg("cookie reply byte %zu flipped: not refused", i);
		assert_memory_equal(&f.a.maker, &before, sizeof(before));
	}

	fix_identity(&c);
	cookie_checker_init(&stranger, c.public_key);
	cookie_create_reply(&stranger, &other, (uint8_t *)&m, sizeof(m), f.a.index, f.a.src,
			    f.a.src_len, f.now_ns);
	assert_int_equal(cookie_consume_reply(&f.a.maker, &other, f.now_ns),
			 COOKIE_REPLY_ERR_DECRYPT);
	assert_memory_equal(&f.a.maker, &before, sizeof(before));

	assert_int_equal(cookie_consume_reply(&f.a.maker, &reply, f.now_ns), COOKIE_REPLY_OK);
	assert_true(f.a.maker.have_cookie);
	noise_local_clear(&c);
	cookie_checker_wipe(&stranger);
	cookie_maker_wipe(&before);
	fix_pair_wipe(&f);
}

/* --- 5. secret rotation and cookie age --------------------------------- */

/* R lives COOKIE_SECRET_MAX_AGE: a cookie made from it stops earning
 * MAC2_VALID when it expires, even though the bytes are unchanged. The next
 * cookie reply rolls a new R and the retry with the new cookie succeeds;
 * the old cookie does not work with the new R. */
static void test_cookie_secret_rotation(void **state)
{
	struct fix_pair f;
	struct msg_initiation m2, m3, m4;
	struct msg_cookie_reply reply;
	struct msg_response r;
	uint8_t old_secret[HASH_LEN], old_cookie[MAC_LEN];
	uint64_t t0;
	/* m2 (mac2 from the first cookie) checked at these times after t0. */
	const struct {
		uint64_t after_ns;
		enum cookie_mac_state want;
	} cases[] = {
		/* 1 */ { 0, COOKIE_MAC2_VALID },
		/* 2 */ { 60 * NSEC_PER_SEC, COOKIE_MAC2_VALID },
		/* 3 */ { COOKIE_SECRET_MAX_AGE - 1, COOKIE_MAC2_VALID },
		/* 4 */ { COOKIE_SECRET_MAX_AGE, COOKIE_MAC1_VALID },
		/* 5 */ { COOKIE_SECRET_MAX_AGE + 1, COOKIE_MAC1_VALID },
		/* 6 */ { 1000 * NSEC_PER_SEC, COOKIE_MAC1_VALID },
	};
	size_t i;

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	t0 = f.now_ns;
	get_cookie(&f);
	memcpy(old_secret, f.b.checker.secret, HASH_LEN);
	memcpy(old_cookie, f.a.maker.cookie, MAC_LEN);
	fix_step(&f);
	f.now_ns = t0;
	fix_create_initiation(&f, &m2);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (validate(&f.b.checker, &m2, sizeof(m2), f.a.src, f.a.src_len, true,
			     t0 + cases[i].after_ns) != cases[i].want)
			fail_msg("case %zu: wrong mac state", i + 1);

	/* a's cookie is 114 s old: still used (under 120 - 5 s), but b's R has
	 * expired by the time it is checked. */
	f.now_ns = t0 + 114 * NSEC_PER_SEC;
	f.wall_ns += 114 * NSEC_PER_SEC;
	fix_create_initiation(&f, &m3);
	assert_false(wg_ct_is_zero(m3.macs.mac2, MAC_LEN));
	f.now_ns = t0 + COOKIE_SECRET_MAX_AGE;
	assert_int_equal(validate(&f.b.checker, &m3, sizeof(m3), f.a.src, f.a.src_len, true,
				  f.now_ns), COOKIE_MAC1_VALID);

	/* The reply to m3 rolls a new R. */
	cookie_create_reply(&f.b.checker, &reply, (uint8_t *)&m3, sizeof(m3), f.a.index, f.a.src,
			    f.a.src_len, f.now_ns);
	assert_memory_not_equal(f.b.checker.secret, old_secret, HASH_LEN);
	assert_int_equal(f.b.checker.secret_birth_ns, f.now_ns);
	assert_int_equal(cookie_consume_reply(&f.a.maker, &reply, f.now_ns), COOKIE_REPLY_OK);
	assert_memory_not_equal(f.a.maker.cookie, old_cookie, MAC_LEN);

	/* Old bytes with the old cookie: no good under the new R either. */
	assert_int_equal(validate(&f.b.checker, &m2, sizeof(m2), f.a.src, f.a.src_len, true,
				  f.now_ns), COOKIE_MAC1_VALID);

	/* The retry succeeds, all the way to keys. */
	f.now_ns += 20 * MSEC_NS;
	f.wall_ns += NSEC_PER_SEC;
	fix_create_initiation(&f, &m4);
	assert_int_equal(validate(&f.b.checker, &m4, sizeof(m4), f.a.src, f.a.src_len, true,
				  f.now_ns), COOKIE_MAC2_VALID);
	assert_int_equal(fix_consume_initiation(&f, &m4), NOISE_OK);
	fix_create_response(&f, &r);
	assert_int_equal(fix_consume_response(&f, &r), NOISE_OK);
	fix_derive(&f);
	fix_confirm(&f);
	wg_secure_wipe(old_secret, sizeof(old_secret));
	wg_secure_wipe(old_cookie, sizeof(old_cookie));
	fix_pair_wipe(&f);
}

/* The maker stops using a cookie before the checker's R could have rolled
 * (COOKIE_SECRET_MAX_AGE less COOKIE_SECRET_LATENCY for the trip): past
 * that, mac2 is sixteen zero bytes; mac1 never depends on the cookie. */
static void test_cookie_maker_age(void **state)
{
	const struct {
		uint64_t age_ns;
		bool used;
	} cases[] = {
		/* 1 */ { 0, true },
		/* 2 */ { 1 * NSEC_PER_SEC, true },
		/* 3 */ { COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY - 1, true },
		/* 4 */ { COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY, false },
		/* 5 */ { COOKIE_SECRET_MAX_AGE - 1, false },
		/* 6 */ { COOKIE_SECRET_MAX_AGE, false },
		/* 7 */ { COOKIE_SECRET_MAX_AGE + 1, false },
		/* 8 */ { 1000 * NSEC_PER_SEC, false },
	};
	struct fix_pair f;
	struct msg_initiation m;
	uint8_t mac1[MAC_LEN], mac2[MAC_LEN];
	uint64_t born;
	size_t i;

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	get_cookie(&f);
	born = f.a.maker.cookie_birth_ns;
	assert_int_equal(born, f.now_ns);
	fix_step(&f);
	assert_int_equal(noise_create_initiation(&f.a.hs, &f.a.local, &m, f.a.index, f.wall_ns),
			 NOISE_OK);
	cookie_add_macs(&f.a.maker, (uint8_t *)&m, sizeof(m), born);
	memcpy(mac1, m.macs.mac1, MAC_LEN);
	wg_blake2s_keyed(mac2, MAC_LEN, f.a.maker.cookie, MAC_LEN, &m,
		      offsetof(struct msg_initiation, macs.mac2));

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&m.macs, 0xee, sizeof(m.macs));
		cookie_add_macs(&f.a.maker, (uint8_t *)&m, sizeof(m), born + cases[i].age_ns);
		assert_memory_equal(m.macs.mac1, mac1, MAC_LEN);
		if (cases[i].used ? memcmp(m.macs.mac2, mac2, MAC_LEN) != 0
				  : !wg_ct_is_zero(m.macs.mac2, MAC_LEN))
			fail_msg("case %zu: cookie %s used", i + 1,
				 cases[i].used ? "not" : "wrongly");
	}
	fix_pair_wipe(&f);
}

/* --- known-answer vectors (wg_vectors.h, from tests/tools/wgref.py) ------- */

/* The responder knows one peer: ctx is its handshake. */
static struct noise_handshake *kat_lookup(void *ctx, const uint8_t pub[KEY_LEN])
{
	struct noise_handshake *hs = ctx;

	return wg_ct_equal(pub, hs->remote_static, KEY_LEN) ? hs : NULL;
}

/* The vector's cookie dance: the responder (static r), under load, with the
 * vector's secret R, answers wgv_nopsk_initiation from 198.18.0.2:51820
 * with exactly wgv_cookie_reply (vector nonce); the initiator (static i)
 * opens that reply to wgv_cookie, and its retry (ephemeral 2, one second
 * later) is wgv_initiation_mac2 byte for byte, mac2 included; the
 * responder finds its mac2 valid from that source only, and accepts it. */
static void test_cookie_known_answer(void **state)
{
	static const uint8_t other_src[6] = { 198, 18, 0, 3, 0xca, 0x6c };
	struct cookie_checker checker;
	struct cookie_maker maker;
	struct noise_local li, lr;
	struct noise_handshake hs_i, hs_r, *out = NULL;
	struct noise_lookup lookup = { .ctx = NULL, .by_public_key = NULL };
	struct msg_initiation m;
	struct msg_cookie_reply reply;
	uint8_t src[COOKIE_SOURCE_MAX];
	const uint64_t now = FIX_NOW_START;

	(void)state;
	memset(&hs_i, 0, sizeof(hs_i));
	memset(&hs_r, 0, sizeof(hs_r));
	assert_true(noise_local_set(&li, wgv_static_i_priv));
	assert_true(noise_local_set(&lr, wgv_static_r_priv));
	noise_handshake_init(&hs_i, &li, lr.public_key, NULL);
	noise_handshake_init(&hs_r, &lr, li.public_key, NULL);
	assert_int_equal(cookie_source_bytes(src, AF_INET, (const uint8_t[]){ 198, 18, 0, 2 },
					     51820), sizeof(wgv_cookie_source));
	assert_memory_equal(src, wgv_cookie_source, sizeof(wgv_cookie_source));

	/* Responder: the reply, byte for byte. */
	cookie_checker_init(&checker, lr.public_key);
	memcpy(checker.secret, wgv_cookie_secret, HASH_LEN);
	checker.secret_birth_ns = now;
	checker.secret_set = true;
	assert_int_equal(validate(&checker, wgv_nopsk_initiation, sizeof(wgv_nopsk_initiation),
				  src, sizeof(wgv_cookie_source), true, now), COOKIE_MAC1_VALID);
	cookie_create_reply_nonce(&checker, &reply, wgv_nopsk_initiation,
				  sizeof(wgv_nopsk_initiation), WGV_INDEX_I, src,
				  sizeof(wgv_cookie_source), now, wgv_cookie_nonce);
	assert_memory_equal(&reply, wgv_cookie_reply, sizeof(reply));
	/* R was fresh: creating the reply kept it. */
	assert_true(wg_ct_equal(checker.secret, wgv_cookie_secret, HASH_LEN));

	/* Initiator: the first SYN is the vector's, so the reply opens. */
	cookie_maker_init(&maker, lr.public_key);
	assert_int_equal(noise_create_initiation_ephemeral(&hs_i, &li, &m, WGV_INDEX_I,
							   WGV_WALL_NS, wgv_ephemeral_i_priv),
			 NOISE_OK);
	cookie_add_macs(&maker, (uint8_t *)&m, sizeof(m), now);
	assert_memory_equal(&m, wgv_nopsk_initiation, sizeof(m));
	memcpy(&reply, wgv_cookie_reply, sizeof(reply));
	assert_int_equal(cookie_consume_reply(&maker, &reply, now), COOKIE_REPLY_OK);
	assert_true(maker.have_cookie);
	assert_true(wg_ct_equal(maker.cookie, wgv_cookie, MAC_LEN));

	/* The retry with mac2, byte for byte. */
	assert_int_equal(noise_create_initiation_ephemeral(&hs_i, &li, &m, WGV_INDEX_I,
							   WGV_WALL2_NS, wgv_ephemeral_i2_priv),
			 NOISE_OK);
	cookie_add_macs(&maker, (uint8_t *)&m, sizeof(m), now + NSEC_PER_SEC);
	assert_memory_equal(&m, wgv_initiation_mac2, sizeof(m));

	/* Responder: mac2 valid from the cookie's source, not from another;
	 * then the Noise layer accepts it. */
	assert_int_equal(validate(&checker, wgv_initiation_mac2, sizeof(wgv_initiation_mac2), src,
				  sizeof(wgv_cookie_source), true, now + NSEC_PER_SEC),
			 COOKIE_MAC2_VALID);
	assert_int_equal(validate(&checker, wgv_initiation_mac2, sizeof(wgv_initiation_mac2),
				  other_src, sizeof(other_src), true, now + NSEC_PER_SEC),
			 COOKIE_MAC1_VALID);
	lookup.ctx = &hs_r;
	lookup.by_public_key = kat_lookup;
	memcpy(&m, wgv_initiation_mac2, sizeof(m));
	assert_int_equal(noise_consume_initiation(&lr, &m, &lookup, now + NSEC_PER_SEC, &out),
			 NOISE_OK);
	assert_ptr_equal(out, &hs_r);

	/* A reply with any byte changed (index aside, which only routes it)
	 * does not open, and leaves the maker as it was. */
	for (size_t i = 8; i < sizeof(reply); i++) {
		struct cookie_maker tmp;

		cookie_maker_init(&tmp, lr.public_key);
		memcpy(tmp.last_mac1, wgv_nopsk_initiation + offsetof(struct msg_initiation, macs),
		       MAC_LEN);
		tmp.have_last_mac1 = true;
		memcpy(&reply, wgv_cookie_reply, sizeof(reply));
		((uint8_t *)&reply)[i] ^= 0x01;
		if (cookie_consume_reply(&tmp, &reply, now) != COOKIE_REPLY_ERR_DECRYPT)
			fail_msg("cookie reply byte %zu changed and accepted", i);
		assert_false(tmp.have_cookie);
		cookie_maker_wipe(&tmp);
	}

	cookie_checker_wipe(&checker);
	cookie_maker_wipe(&maker);
	noise_handshake_clear(&hs_i);
	noise_handshake_clear(&hs_r);
	noise_local_clear(&li);
	noise_local_clear(&lr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_formulas),
		cmocka_unit_test(test_cookie_source_bytes),
		cmocka_unit_test(test_cookie_under_load),
		cmocka_unit_test(test_cookie_response_path),
		cmocka_unit_test(test_cookie_reply_refused),
		cmocka_unit_test(test_cookie_tamper_reply),
		cmocka_unit_test(test_cookie_secret_rotation),
		cmocka_unit_test(test_cookie_maker_age),
		cmocka_unit_test(test_cookie_known_answer),
	};

	if (!wg_crypto_init()) {
		fprintf(stderr, "wg_crypto_init failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
