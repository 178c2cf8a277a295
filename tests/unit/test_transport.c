/* Transport data (type 4) on keypairs from a real in-process handshake: wire
 * layout, padding table, the responder's confirmation, counter exhaustion,
 * expiry, short messages, reordering and duplicates, byte-by-byte
 * tampering that must never move the replay window, and the split API
 * (prepare / seal or open / finish, as the daemon's crypto threads use it)
 * against the one-shot calls; and the transport known-answer vectors of an
 * independent implementation (tests/tools/wgref.py, wg_vectors.h) on
 * keypairs built from the vector keys alone, with no handshake. */
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
#define HDR MSG_TRANSPORT_HEADER_LEN

struct msg {
	uint8_t buf[2048];
	size_t len;
};

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* Encrypts a patterned payload of plain_len bytes; asserts success. */
static void make_msg(struct keypair *kp, struct msg *m, size_t plain_len, size_t mtu,
		     uint64_t now_ns)
{
	fill(m->buf + HDR, plain_len, (unsigned)plain_len);
	assert_int_equal(transport_encrypt(kp, m->buf, sizeof(m->buf), plain_len, mtu, now_ns,
					   &m->len), TRANSPORT_OK);
}

/* Decrypts a copy, so the caller's message can be delivered again. */
static enum transport_result deliver(struct keypair *kp, const struct msg *m, uint64_t now_ns,
				     size_t *plain_len)
{
	struct msg c = *m;
	size_t dummy;

	return transport_decrypt(kp, c.buf, c.len, now_ns, plain_len ? plain_len : &dummy);
}

/* A handshake between a and b at the fixture's times, and the ACK. */
static void session(struct fix_pair *f)
{
	fix_pair_init(f, NULL, NULL);
	fix_handshake(f);
	fix_confirm(f);
}

/* --- 6. wire layout ------------------------------------------------------ */

static void test_transport_wire_layout(void **state)
{
	static const uint8_t counter_le[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	struct fix_pair f;
	struct msg m;
	uint8_t plain[64];
	size_t plain_len = 0;

	(void)state;
	session(&f);	/* a's counter 0 was the ACK */
	make_msg(&f.a.kp, &m, 48, FIX_MTU, f.now_ns);
	assert_int_equal(m.len, HDR + 48 + AEAD_TAG_LEN);
	/* Type 4 then three zero bytes; b's index and the counter, both
	 * little-endian. */
	assert_int_equal(m.buf[0], 4);
	assert_true(m.buf[1] == 0 && m.buf[2] == 0 && m.buf[3] == 0);
	assert_int_equal(get_le32(m.buf + 4), FIX_INDEX_B);
	assert_int_equal(m.buf[4], FIX_INDEX_B & 0xff);
	assert_int_equal(transport_receiver_index(m.buf), FIX_INDEX_B);
	assert_int_equal(get_le64(m.buf + 8), 1);

	/* The payload is AEAD(b's receive key, counter, payload, no ad):
	 * opened here straight with the primitive. */
	assert_true(wg_aead_decrypt(plain, m.buf + HDR, m.len - HDR, NULL, 0, 1, f.b.kp.recv_key));
	fill(m.buf, 48, 48);
	assert_memory_equal(plain, m.buf, 48);

	/* Every counter byte lands where little-endian puts it. */
	f.a.kp.send_counter = 0x0102030405060708ULL;
	make_msg(&f.a.kp, &m, 0, FIX_MTU, f.now_ns);
	assert_memory_equal(m.buf + 8, counter_le, 8);
	assert_int_equal(deliver(&f.b.kp, &m, f.now_ns, &plain_len), TRANSPORT_OK);
	assert_int_equal(plain_len, 0);
	fix_pair_wipe(&f);
}

/* Padding: zeros up to a multiple of 16, never past the MTU; mtu 0 means
 * no cap. Each row is also sent and received for real. */
static void test_transport_padding(void **state)
{
	const struct {
		size_t plain_len, mtu, pad, msg_len;
	} cases[] = {
		/*  1 */ { 0, FIX_MTU, 0, 32 },		/* keepalive */
		/*  2 */ { 1, FIX_MTU, 15, 48 },
		/*  3 */ { 15, FIX_MTU, 1, 48 },
		/*  4 */ { 16, FIX_MTU, 0, 48 },
		/*  5 */ { 17, FIX_MTU, 15, 64 },
		/*  6 */ { 1419, FIX_MTU, 1, 1452 },	/* 1424 capped at 1420 */
		/*  7 */ { 1420, FIX_MTU, 0, 1452 },	/* exactly the MTU */
		/*  8 */ { 1421, FIX_MTU, 15, 1468 },	/* over: padded as its last piece */
		/*  9 */ { 0, 0, 0, 32 },
		/* 10 */ { 1, 0, 15, 48 },
		/* 11 */ { 15, 0, 1, 48 },
		/* 12 */ { 16, 0, 0, 48 },
		/* 13 */ { 17, 0, 15, 64 },
		/* 14 */ { 1419, 0, 5, 1456 },		/* no cap: to 1424 */
		/* 15 */ { 1420, 0, 4, 1456 },
		/* 16 */ { 1410, FIX_MTU, 10, 1452 },	/* to 1424, capped at 1420 */
		/* 17 */ { 1408, FIX_MTU, 0, 1440 },
	};
	struct fix_pair f;
	size_t i;

	(void)state;
	session(&f);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct msg m;
		uint8_t want[2048];
		size_t plain_len = 0, n = cases[i].plain_len, padded = n + cases[i].pad;

		if (transport_padding(n, cases[i].mtu) != cases[i].pad ||
		    transport_message_len(n, cases[i].mtu) != cases[i].msg_len)
			fail_msg("case %zu: padding %zu, length %zu", i + 1,
				 transport_padding(n, cases[i].mtu),
				 transport_message_len(n, cases[i].mtu));
		/* Junk where the padding goes: it must be zeroed. */
		memset(m.buf + HDR + n, 0xcc, cases[i].pad);
		make_msg(&f.a.kp, &m, n, cases[i].mtu, f.now_ns);
		if (m.len != cases[i].msg_len)
			fail_msg("case %zu: sent %zu bytes, want %zu", i + 1, m.len,
				 cases[i].msg_len);
		assert_int_equal(transport_decrypt(&f.b.kp, m.buf, m.len, f.now_ns, &plain_len),
				 TRANSPORT_OK);
		assert_int_equal(plain_len, padded);
		assert_true(wg_ct_is_zero(m.buf + HDR + n, cases[i].pad));
		fill(want, n, (unsigned)n);
		assert_memory_equal(m.buf + HDR, want, n);
	}
	fix_pair_wipe(&f);
}

/* No room for the padded message: refused before a counter is used. */
static void test_transport_no_room(void **state)
{
	struct fix_pair f;
	struct msg m;
	size_t len = 0;

	(void)state;
	session(&f);
	assert_int_equal(transport_encrypt(&f.a.kp, m.buf, transport_message_len(17, FIX_MTU) - 1,
					   17, FIX_MTU, f.now_ns, &len), TRANSPORT_ERR_LENGTH);
	assert_int_equal(f.a.kp.send_counter, 1);
	assert_int_equal(transport_encrypt(&f.a.kp, m.buf, transport_message_len(17, FIX_MTU),
					   17, FIX_MTU, f.now_ns, &len), TRANSPORT_OK);
	assert_int_equal(len, 64);
	assert_int_equal(f.a.kp.send_counter, 2);
	fix_pair_wipe(&f);
}

/* --- the responder's confirmation --------------------------------------- */

/* b may not send until a valid message from a arrives on the new keys. A
 * forged ACK does not confirm; the real one (a keepalive, or data) does,
 * exactly once. */
static void test_transport_confirmation(void **state)
{
	struct fix_pair f;
	struct msg ack, forged, data;
	size_t len = 0, plain_len = 1;
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		fix_pair_init(&f, NULL, NULL);
		fix_handshake(&f);
		assert_false(f.b.kp.confirmed);
		assert_int_equal(transport_encrypt(&f.b.kp, data.buf, sizeof(data.buf), 10, FIX_MTU,
						   f.now_ns, &len), TRANSPORT_ERR_NOT_CONFIRMED);
		assert_int_equal(f.b.kp.send_counter, 0);

		/* Round 0 acknowledges with a keepalive, round 1 with data. */
		make_msg(&f.a.kp, &ack, round ? 100 : 0, FIX_MTU, f.now_ns);
		forged = ack;
		forged.buf[forged.len - 1] ^= 0x01;
		assert_int_equal(deliver(&f.b.kp, &forged, f.now_ns, NULL), TRANSPORT_ERR_DECRYPT);
		assert_false(f.b.kp.confirmed);

		assert_int_equal(deliver(&f.b.kp, &ack, f.now_ns, &plain_len),
				 TRANSPORT_OK_CONFIRMED);
		assert_int_equal(plain_len, round ? 112 : 0);
		assert_true(f.b.kp.confirmed);
		assert_int_equal(deliver(&f.b.kp, &ack, f.now_ns, NULL), TRANSPORT_ERR_REPLAY);
		assert_true(f.b.kp.confirmed);

		make_msg(&f.b.kp, &data, 10, FIX_MTU, f.now_ns);
		assert_int_equal(deliver(&f.a.kp, &data, f.now_ns, NULL), TRANSPORT_OK);
		/* The initiator was confirmed from birth: no second promotion. */
		make_msg(&f.a.kp, &data, 0, FIX_MTU, f.now_ns);
		assert_int_equal(deliver(&f.b.kp, &data, f.now_ns, NULL), TRANSPORT_OK);
		fix_pair_wipe(&f);
	}
}

/* --- 6. counter exhaustion ------------------------------------------------ */

static void test_transport_counter_limit(void **state)
{
	struct fix_pair f;
	struct msg m, last;
	size_t len = 0;
	int i;

	(void)state;
	session(&f);

	/* The last usable counter is REJECT_AFTER_MESSAGES - 1. */
	f.a.kp.send_counter = REJECT_AFTER_MESSAGES - 1;
	make_msg(&f.a.kp, &last, 20, FIX_MTU, f.now_ns);
	assert_int_equal(get_le64(last.buf + 8), REJECT_AFTER_MESSAGES - 1);
	assert_int_equal(f.a.kp.send_counter, REJECT_AFTER_MESSAGES);
	assert_int_equal(deliver(&f.b.kp, &last, f.now_ns, NULL), TRANSPORT_OK);

	/* Then never again, and the counter stays put: no wrap to 0. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(transport_encrypt(&f.a.kp, m.buf, sizeof(m.buf), 20, FIX_MTU,
						   f.now_ns, &len),
				 TRANSPORT_ERR_COUNTER_EXHAUSTED);
		assert_int_equal(f.a.kp.send_counter, REJECT_AFTER_MESSAGES);
	}
	assert_true(f.a.kp.send_counter <= REJECT_AFTER_MESSAGES);

	/* A keepalive is refused too: it would use a counter. */
	assert_int_equal(transport_encrypt(&f.a.kp, m.buf, sizeof(m.buf), 0, FIX_MTU, f.now_ns,
					   &len), TRANSPORT_ERR_COUNTER_EXHAUSTED);
	fix_pair_wipe(&f);
}

/* The receiver refuses counters at or past the limit even when the AEAD is
 * genuine (a peer that would wrap its counter). Built by hand, since our
 * sender cannot make them. */
static void test_transport_counter_limit_receive(void **state)
{
	const uint64_t counters[] = { REJECT_AFTER_MESSAGES, REJECT_AFTER_MESSAGES + 1,
				      UINT64_MAX };
	struct fix_pair f;
	size_t i;

	(void)state;
	session(&f);
	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		struct msg m;
		struct replay_window before = f.b.kp.replay;

		memset(m.buf, 0, HDR);
		m.buf[0] = MSG_TRANSPORT;
		memcpy(m.buf + 4, (uint32_t[]){ host_to_le32(FIX_INDEX_B) }, 4);
		memcpy(m.buf + 8, (uint64_t[]){ host_to_le64(counters[i]) }, 8);
		wg_aead_encrypt(m.buf + HDR, m.buf + HDR, 0, NULL, 0, counters[i], f.a.kp.send_key);
		m.len = MSG_TRANSPORT_MIN_LEN;
		if (deliver(&f.b.kp, &m, f.now_ns, NULL) != TRANSPORT_ERR_REPLAY)
			fail_msg("case %zu: counter at or past the limit accepted", i + 1);
		assert_memory_equal(&f.b.kp.replay, &before, sizeof(before));
	}
	fix_pair_wipe(&f);
}

/* --- 6. expiry ------------------------------------------------------------ */

/* Keys are good for REJECT_AFTER_TIME from birth, for sending and for
 * receiving, in both directions; an invalid (wiped) keypair never works. */
static void test_transport_expired(void **state)
{
	struct fix_pair f;
	struct msg ab, ba, m;
	uint64_t born, end;
	size_t len = 0;

	(void)state;
	session(&f);
	born = f.a.kp.birth_ns;
	assert_int_equal(f.b.kp.birth_ns, born);
	end = born + REJECT_AFTER_TIME;

	/* 1 ns before: everything works; these two are held for later. */
	make_msg(&f.a.kp, &ab, 30, FIX_MTU, end - 1);
	make_msg(&f.b.kp, &ba, 30, FIX_MTU, end - 1);
	assert_int_equal(deliver(&f.b.kp, &ab, end - 1, NULL), TRANSPORT_OK);
	assert_int_equal(deliver(&f.a.kp, &ba, end - 1, NULL), TRANSPORT_OK);
	make_msg(&f.a.kp, &ab, 30, FIX_MTU, end - 1);
	make_msg(&f.b.kp, &ba, 30, FIX_MTU, end - 1);

	/* At REJECT_AFTER_TIME and after: refused both ways, no counter used,
	 * no window moved. */
	for (uint64_t t = end; t <= end + 10 * NSEC_PER_SEC; t += 10 * NSEC_PER_SEC) {
		uint64_t ca = f.a.kp.send_counter, cb = f.b.kp.send_counter;
		struct replay_window wa = f.a.kp.replay, wb = f.b.kp.replay;

		assert_int_equal(transport_encrypt(&f.a.kp, m.buf, sizeof(m.buf), 30, FIX_MTU, t,
						   &len), TRANSPORT_ERR_EXPIRED);
		assert_int_equal(transport_encrypt(&f.b.kp, m.buf, sizeof(m.buf), 30, FIX_MTU, t,
						   &len), TRANSPORT_ERR_EXPIRED);
		assert_int_equal(deliver(&f.b.kp, &ab, t, NULL), TRANSPORT_ERR_EXPIRED);
		assert_int_equal(deliver(&f.a.kp, &ba, t, NULL), TRANSPORT_ERR_EXPIRED);
		assert_int_equal(f.a.kp.send_counter, ca);
		assert_int_equal(f.b.kp.send_counter, cb);
		assert_memory_equal(&f.a.kp.replay, &wa, sizeof(wa));
		assert_memory_equal(&f.b.kp.replay, &wb, sizeof(wb));
	}

	/* A wiped keypair is invalid whatever the time. */
	session(&f);
	keypair_wipe(&f.b.kp);
	assert_false(f.b.kp.valid);
	make_msg(&f.a.kp, &ab, 30, FIX_MTU, f.now_ns);
	assert_int_equal(deliver(&f.b.kp, &ab, f.now_ns, NULL), TRANSPORT_ERR_EXPIRED);
	assert_int_equal(transport_encrypt(&f.b.kp, m.buf, sizeof(m.buf), 30, FIX_MTU, f.now_ns,
					   &len), TRANSPORT_ERR_EXPIRED);
	fix_pair_wipe(&f);
}

/* --- 6. short messages ---------------------------------------------------- */

/* Under 32 bytes there is no room for a header and a tag: refused without
 * looking further, window unmoved; the full keepalive then passes. */
static void test_transport_short(void **state)
{
	struct fix_pair f;
	struct msg m;
	size_t n, plain_len = 1;

	(void)state;
	session(&f);
	make_msg(&f.a.kp, &m, 0, FIX_MTU, f.now_ns);
	assert_int_equal(m.len, MSG_TRANSPORT_MIN_LEN);
	for (n = 0; n < (size_t)MSG_TRANSPORT_MIN_LEN; n++) {
		struct msg t = m;
		struct keypair before = f.b.kp;

		if (transport_decrypt(&f.b.kp, t.buf, n, f.now_ns, &plain_len) !=
		    TRANSPORT_ERR_LENGTH)
			fail_msg("length %zu not refused", n);
		assert_memory_equal(&f.b.kp, &before, sizeof(before));
	}
	assert_int_equal(deliver(&f.b.kp, &m, f.now_ns, &plain_len), TRANSPORT_OK);
	assert_int_equal(plain_len, 0);
	fix_pair_wipe(&f);
}

/* --- 6. reordering and duplicates --------------------------------------- */

static void test_transport_reorder(void **state)
{
	/* Indices into msgs[], i.e. counters 1..8 (0 was the ACK). */
	static const int order[] = { 4, 0, 7, 1, 2, 6, 3, 5 };
	struct fix_pair f;
	struct msg msgs[8], held, far;
	size_t i, plain_len = 0;

	(void)state;
	session(&f);
	for (i = 0; i < ARRAY_SIZE(msgs); i++)
		make_msg(&f.a.kp, &msgs[i], i * 10, FIX_MTU, f.now_ns);

	/* Each accepted once, whatever the order... */
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		const struct msg *m = &msgs[order[i]];

		assert_int_equal(deliver(&f.b.kp, m, f.now_ns, &plain_len), TRANSPORT_OK);
		assert_int_equal(plain_len, ((size_t)order[i] * 10 + 15) / 16 * 16);
		assert_int_equal(deliver(&f.b.kp, m, f.now_ns, NULL), TRANSPORT_ERR_REPLAY);
	}
	/* ...and each later duplicate refused. */
	for (i = 0; i < ARRAY_SIZE(msgs); i++)
		assert_int_equal(deliver(&f.b.kp, &msgs[i], f.now_ns, NULL), TRANSPORT_ERR_REPLAY);

	/* A message held back while the sender moves on by more than the
	 * window arrives too old. */
	make_msg(&f.a.kp, &held, 5, FIX_MTU, f.now_ns);
	f.a.kp.send_counter += REPLAY_WINDOW_BITS;
	make_msg(&f.a.kp, &far, 5, FIX_MTU, f.now_ns);
	assert_int_equal(deliver(&f.b.kp, &far, f.now_ns, NULL), TRANSPORT_OK);
	assert_int_equal(deliver(&f.b.kp, &held, f.now_ns, NULL), TRANSPORT_ERR_REPLAY);
	fix_pair_wipe(&f);
}

/* --- 3. tampered transport messages -------------------------------------- */

/* Every byte of a data message flipped (xor 0x01). From byte 8 on, the
 * counter (the AEAD nonce), the ciphertext and the tag are all checked by
 * transport_decrypt: it must fail and leave b's keypair, window included,
 * exactly as it was. Bytes 0..7 (type word, receiver index) are not under
 * the AEAD, as in WireGuard: the receive path drops a wrong type word and
 * finds the keypair by the index, so a flipped index names some other
 * keypair or none. Both are checked here: the flip changes what the
 * dispatcher sees, and another session's keypair cannot open it. After
 * each attempt a copy of b's keypair accepts the original; at the end b
 * itself accepts it exactly once. */
static void test_transport_tamper(void **state)
{
	struct fix_pair f, other;
	struct msg m, seen;
	struct keypair before;
	size_t i, plain_len = 0;

	(void)state;
	session(&other);	/* another session, other keys */
	session(&f);
	/* b has seen counters 0 (the ACK) and 1; m is counter 2. Every flip of
	 * a counter bit gives an unseen counter ahead of 1 (3, 2 + 2^8, ...),
	 * which passes the window's early check, so the AEAD is what refuses
	 * it. */
	make_msg(&f.a.kp, &seen, 10, FIX_MTU, f.now_ns);
	assert_int_equal(deliver(&f.b.kp, &seen, f.now_ns, NULL), TRANSPORT_OK);
	make_msg(&f.a.kp, &m, 100, FIX_MTU, f.now_ns);
	assert_int_equal(get_le64(m.buf + 8), 2);
	before = f.b.kp;

	for (i = 0; i < m.len; i++) {
		struct msg t = m;
		struct keypair copy;
		enum transport_result got;

		t.buf[i] ^= 0x01;
		if (i < 8) {
			if (i < 4)
				assert_int_not_equal(get_le32(t.buf), MSG_TRANSPORT);
			else
				assert_int_not_equal(transport_receiver_index(t.buf),
						     f.b.kp.local_index);
			other.b.kp.local_index = transport_receiver_index(t.buf);
			got = deliver(&other.b.kp, &t, f.now_ns, NULL);
		} else {
			got = deliver(&f.b.kp, &t, f.now_ns, NULL);
		}
		if (got != TRANSPORT_ERR_DECRYPT)
			fail_msg("transport byte %zu flipped: %s", i, transport_result_str(got));
		assert_memory_equal(&f.b.kp, &before, sizeof(before));

		copy = f.b.kp;
		assert_int_equal(deliver(&copy, &m, f.now_ns, NULL), TRANSPORT_OK);
		wg_secure_wipe(&copy, sizeof(copy));
	}
	assert_int_equal(deliver(&f.b.kp, &m, f.now_ns, &plain_len), TRANSPORT_OK);
	assert_int_equal(plain_len, 112);
	assert_int_equal(deliver(&f.b.kp, &m, f.now_ns, NULL), TRANSPORT_ERR_REPLAY);
	wg_secure_wipe(&before, sizeof(before));
	fix_pair_wipe(&f);
	fix_pair_wipe(&other);
}


/* --- the split API (AEAD apart from the keypair, for the crypto pool) ----- */

/* Opens m (a copy) with the halves; *kp changes only in _finish. */
static enum transport_result deliver_split(struct keypair *kp, const struct msg *m,
					   uint64_t now_ns, size_t *plain_len, struct msg *out)
{
	struct msg c = *m;
	struct keypair before = *kp;
	uint8_t key[KEY_LEN];
	enum transport_result r;
	uint64_t counter = 0;
	bool opened;

	r = transport_decrypt_prepare(kp, c.buf, c.len, now_ns, &counter);
	assert_memory_equal(kp, &before, sizeof(before));	/* read-only */
	if (r == TRANSPORT_OK) {
		assert_int_equal(counter, get_le64(m->buf + 8));
		memcpy(key, kp->recv_key, KEY_LEN);
		opened = transport_decrypt_open(c.buf, c.len, counter, key);
		assert_memory_equal(kp, &before, sizeof(before));
		r = transport_decrypt_finish(kp, c.len, counter, opened, now_ns, plain_len);
		wg_secure_wipe(key, sizeof(key));
	}
	if (out)
		*out = c;
	wg_secure_wipe(&before, sizeof(before));
	return r;
}

/* Sending: _prepare + _seal (with a copy of the key, after the keypair was
 * wiped even) gives the very bytes transport_encrypt gives, and takes the
 * same counters in the same order. Receiving: _prepare + _open + _finish
 * gives the same result, payload and keypair state as transport_decrypt,
 * message by message: the ACK (confirmation), data, a duplicate, a
 * tampered copy, a replayed old one, short ones, and after expiry. */
static void test_transport_split_equals_oneshot(void **state)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 100, 1419, 1420 };
	struct fix_pair f;
	struct keypair a1, a2, b1, b2;
	struct msg one[ARRAY_SIZE(sizes)], two[ARRAY_SIZE(sizes)], tampered, got1, got2;
	size_t i, n1 = 0, n2 = 0;

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	fix_handshake(&f);
	a1 = a2 = f.a.kp;	/* a1: one-shot; a2: halves */
	b1 = b2 = f.b.kp;	/* b unconfirmed: the first message is the ACK */

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint8_t key[KEY_LEN];
		uint64_t counter = 99;
		size_t len1 = 0, len2 = 0;

		fill(one[i].buf + HDR, sizes[i], (unsigned)i);
		fill(two[i].buf + HDR, sizes[i], (unsigned)i);
		memset(two[i].buf + HDR + sizes[i], 0xcc, 16);	/* padding is zeroed */
		assert_int_equal(transport_encrypt(&a1, one[i].buf, sizeof(one[i].buf), sizes[i],
						   FIX_MTU, f.now_ns, &len1), TRANSPORT_OK);
		assert_int_equal(transport_encrypt_prepare(&a2, two[i].buf, sizeof(two[i].buf),
							   sizes[i], FIX_MTU, f.now_ns, &len2,
							   &counter), TRANSPORT_OK);
		assert_int_equal(counter, i);
		assert_int_equal(len1, len2);
		assert_int_equal(a2.send_counter, i + 1);
		memcpy(key, a2.send_key, KEY_LEN);
		if (i == ARRAY_SIZE(sizes) - 1) {
			/* The copy is all _seal needs: the keypair may be gone. */
			struct keypair keep = a2;

			keypair_wipe(&a2);
			transport_encrypt_seal(two[i].buf, len2, counter, key);
			a2 = keep;
			wg_secure_wipe(&keep, sizeof(keep));
		} else {
			transport_encrypt_seal(two[i].buf, len2, counter, key);
		}
		wg_secure_wipe(key, sizeof(key));
		one[i].len = len1;
		two[i].len = len2;
		assert_memory_equal(one[i].buf, two[i].buf, len1);
	}
	assert_memory_equal(&a1, &a2, sizeof(a1));

	/* Refusals agree too, and use no counter. */
	{
		uint64_t counter = 7;
		size_t len1 = 0, len2 = 0;
		struct msg m;

		assert_int_equal(transport_encrypt_prepare(&b2, m.buf, sizeof(m.buf), 10, FIX_MTU,
							   f.now_ns, &len2, &counter),
				 TRANSPORT_ERR_NOT_CONFIRMED);
		assert_int_equal(transport_encrypt(&b1, m.buf, sizeof(m.buf), 10, FIX_MTU,
						   f.now_ns, &len1), TRANSPORT_ERR_NOT_CONFIRMED);
		assert_int_equal(transport_encrypt_prepare(&a2, m.buf, 40, 10, FIX_MTU, f.now_ns,
							   &len2, &counter), TRANSPORT_ERR_LENGTH);
		assert_int_equal(counter, 7);
		assert_int_equal(a2.send_counter, ARRAY_SIZE(sizes));
	}

	/* Receive every message, in order, with both; then the lot again
	 * (all replays). Message 0 is the ACK. */
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			enum transport_result r1, r2;

			n1 = n2 = 12345;
			got1 = one[i];
			r1 = transport_decrypt(&b1, got1.buf, got1.len, f.now_ns, &n1);
			r2 = deliver_split(&b2, &one[i], f.now_ns, &n2, &got2);
			if (r1 != r2)
				fail_msg("pass %d message %zu: one-shot %s, halves %s", pass, i,
					 transport_result_str(r1), transport_result_str(r2));
			if (pass == 0)
				assert_int_equal(r1, i == 0 ? TRANSPORT_OK_CONFIRMED : TRANSPORT_OK);
			else
				assert_int_equal(r1, TRANSPORT_ERR_REPLAY);
			assert_int_equal(n1, n2);
			if (r1 == TRANSPORT_OK || r1 == TRANSPORT_OK_CONFIRMED)
				assert_memory_equal(got1.buf + HDR, got2.buf + HDR, n1);
			assert_memory_equal(&b1, &b2, sizeof(b1));
		}
	}

	/* A tampered new message, and messages too short. */
	make_msg(&a1, &tampered, 33, FIX_MTU, f.now_ns);
	tampered.buf[HDR + 3] ^= 0x40;
	got1 = tampered;
	assert_int_equal(transport_decrypt(&b1, got1.buf, got1.len, f.now_ns, &n1),
			 TRANSPORT_ERR_DECRYPT);
	assert_int_equal(deliver_split(&b2, &tampered, f.now_ns, &n2, NULL),
			 TRANSPORT_ERR_DECRYPT);
	assert_memory_equal(&b1, &b2, sizeof(b1));
	for (size_t len = 0; len < (size_t)MSG_TRANSPORT_MIN_LEN; len += 7) {
		struct msg t = one[0];

		t.len = len;
		assert_int_equal(deliver_split(&b2, &t, f.now_ns, &n2, NULL), TRANSPORT_ERR_LENGTH);
	}
	assert_memory_equal(&b1, &b2, sizeof(b1));

	/* After REJECT_AFTER_TIME: expired, with both. */
	make_msg(&a1, &tampered, 5, FIX_MTU, f.now_ns);
	got1 = tampered;
	assert_int_equal(transport_decrypt(&b1, got1.buf, got1.len, b1.birth_ns + REJECT_AFTER_TIME,
					   &n1), TRANSPORT_ERR_EXPIRED);
	assert_int_equal(deliver_split(&b2, &tampered, b1.birth_ns + REJECT_AFTER_TIME, &n2, NULL),
			 TRANSPORT_ERR_EXPIRED);
	assert_memory_equal(&b1, &b2, sizeof(b1));

	wg_secure_wipe(&a1, sizeof(a1));
	wg_secure_wipe(&a2, sizeof(a2));
	wg_secure_wipe(&b1, sizeof(b1));
	wg_secure_wipe(&b2, sizeof(b2));
	fix_pair_wipe(&f);
}

/* _finish moves the replay window only for a message that opened: a failed
 * AEAD, or a keypair that died between the halves, leaves the keypair
 * exactly as it was, and the genuine message is still accepted afterwards.
 * Two copies of one counter both pass _prepare (the window is only read);
 * the first _finish takes it, the second is a replay. */
static void test_transport_split_failed_finish(void **state)
{
	struct fix_pair f;
	struct msg m, t, dup1, dup2;
	struct keypair before;
	uint8_t key[KEY_LEN];
	uint64_t counter = 0, c1 = 0, c2 = 0;
	size_t plain_len = 0;

	(void)state;
	session(&f);
	make_msg(&f.a.kp, &m, 200, FIX_MTU, f.now_ns);
	before = f.b.kp;

	/* The AEAD fails (a flipped tag byte): window untouched. */
	t = m;
	t.buf[t.len - 1] ^= 0x80;
	assert_int_equal(transport_decrypt_prepare(&f.b.kp, t.buf, t.len, f.now_ns, &counter),
			 TRANSPORT_OK);
	memcpy(key, f.b.kp.recv_key, KEY_LEN);
	assert_false(transport_decrypt_open(t.buf, t.len, counter, key));
	assert_int_equal(transport_decrypt_finish(&f.b.kp, t.len, counter, false, f.now_ns,
						  &plain_len), TRANSPORT_ERR_DECRYPT);
	assert_memory_equal(&f.b.kp, &before, sizeof(before));

	/* A genuine message whose keypair died between _open and _finish:
	 * expired, window untouched. */
	t = m;
	assert_int_equal(transport_decrypt_prepare(&f.b.kp, t.buf, t.len, f.now_ns, &counter),
			 TRANSPORT_OK);
	assert_true(transport_decrypt_open(t.buf, t.len, counter, key));
	assert_int_equal(transport_decrypt_finish(&f.b.kp, t.len, counter, true,
						  f.b.kp.birth_ns + REJECT_AFTER_TIME, &plain_len),
			 TRANSPORT_ERR_EXPIRED);
	assert_memory_equal(&f.b.kp, &before, sizeof(before));
	f.b.kp.valid = false;
	assert_int_equal(transport_decrypt_finish(&f.b.kp, t.len, counter, true, f.now_ns,
						  &plain_len), TRANSPORT_ERR_EXPIRED);
	f.b.kp.valid = true;
	assert_memory_equal(&f.b.kp, &before, sizeof(before));

	/* Still accepted once, then a replay. */
	assert_int_equal(deliver_split(&f.b.kp, &m, f.now_ns, &plain_len, NULL), TRANSPORT_OK);
	assert_int_equal(plain_len, 208);
	assert_int_equal(deliver_split(&f.b.kp, &m, f.now_ns, &plain_len, NULL),
			 TRANSPORT_ERR_REPLAY);

	/* Duplicates in one batch: both prepared and opened before either
	 * finishes, as a receive run does. */
	make_msg(&f.a.kp, &dup1, 64, FIX_MTU, f.now_ns);
	dup2 = dup1;
	assert_int_equal(transport_decrypt_prepare(&f.b.kp, dup1.buf, dup1.len, f.now_ns, &c1),
			 TRANSPORT_OK);
	assert_int_equal(transport_decrypt_prepare(&f.b.kp, dup2.buf, dup2.len, f.now_ns, &c2),
			 TRANSPORT_OK);
	assert_true(transport_decrypt_open(dup1.buf, dup1.len, c1, key));
	assert_true(transport_decrypt_open(dup2.buf, dup2.len, c2, key));
	assert_int_equal(transport_decrypt_finish(&f.b.kp, dup1.len, c1, true, f.now_ns,
						  &plain_len), TRANSPORT_OK);
	before = f.b.kp;
	assert_int_equal(transport_decrypt_finish(&f.b.kp, dup2.len, c2, true, f.now_ns,
						  &plain_len), TRANSPORT_ERR_REPLAY);
	assert_memory_equal(&f.b.kp, &before, sizeof(before));

	wg_secure_wipe(key, sizeof(key));
	wg_secure_wipe(&before, sizeof(before));
	fix_pair_wipe(&f);
}

/* --- known-answer vectors (wg_vectors.h, from tests/tools/wgref.py) ------- */

static void kat_keypair(struct keypair *kp, bool initiator, const uint8_t send_i[KEY_LEN],
			const uint8_t recv_i[KEY_LEN])
{
	memset(kp, 0, sizeof(*kp));
	memcpy(kp->send_key, initiator ? send_i : recv_i, KEY_LEN);
	memcpy(kp->recv_key, initiator ? recv_i : send_i, KEY_LEN);
	replay_init(&kp->replay);
	kp->local_index = initiator ? WGV_INDEX_I : WGV_INDEX_R;
	kp->remote_index = initiator ? WGV_INDEX_R : WGV_INDEX_I;
	kp->birth_ns = FIX_NOW_START;
	kp->is_initiator = initiator;
	kp->confirmed = initiator;
	kp->valid = true;
}

/* Both vector cases: the one-shot and the split encryption give the
 * vector's bytes; the vector's messages open out of order (data before the
 * ACK), confirm the responder, and a replay of each is refused. */
static void test_transport_known_answer(void **state)
{
	static const char hello[] = "wgref says hello";
	const struct {
		const uint8_t *send_i, *recv_i, *ack, *i_data, *r_data;
		size_t i_len, r_len;
	} cases[] = {
		/* 1 */ { wgv_nopsk_send_i, wgv_nopsk_recv_i, wgv_nopsk_transport_ack,
			  wgv_nopsk_transport_i_data, wgv_nopsk_transport_r_data,
			  sizeof(wgv_nopsk_transport_i_data), sizeof(wgv_nopsk_transport_r_data) },
		/* 2 */ { wgv_psk_send_i, wgv_psk_recv_i, wgv_psk_transport_ack,
			  wgv_psk_transport_i_data, wgv_psk_transport_r_data,
			  sizeof(wgv_psk_transport_i_data), sizeof(wgv_psk_transport_r_data) },
	};
	const uint64_t now = FIX_NOW_START;
	size_t k, i, len, plain;

	(void)state;
	for (k = 0; k < ARRAY_SIZE(cases); k++) {
		struct keypair ki, kr;
		struct msg m;
		uint64_t ctr;

		kat_keypair(&ki, true, cases[k].send_i, cases[k].recv_i);
		kat_keypair(&kr, false, cases[k].send_i, cases[k].recv_i);

		/* Initiator: ACK one-shot, data through prepare + seal. */
		assert_int_equal(transport_encrypt(&ki, m.buf, sizeof(m.buf), 0, FIX_MTU, now,
						   &len), TRANSPORT_OK);
		assert_int_equal(len, MSG_TRANSPORT_MIN_LEN);
		assert_memory_equal(m.buf, cases[k].ack, len);
		for (i = 0; i < 20; i++)
			m.buf[HDR + i] = (uint8_t)(i + 1);
		assert_int_equal(transport_encrypt_prepare(&ki, m.buf, sizeof(m.buf), 20, FIX_MTU,
							   now, &len, &ctr), TRANSPORT_OK);
		assert_int_equal(ctr, 1);
		transport_encrypt_seal(m.buf, len, ctr, ki.send_key);
		assert_int_equal(len, cases[k].i_len);
		assert_memory_equal(m.buf, cases[k].i_data, len);

		/* Responder: data (counter 1) before the ACK (counter 0). Any
		 * valid packet confirms; the ACK then is plain OK. */
		memcpy(m.buf, cases[k].i_data, cases[k].i_len);
		m.len = cases[k].i_len;
		assert_int_equal(deliver(&kr, &m, now, &plain), TRANSPORT_OK_CONFIRMED);
		assert_int_equal(deliver(&kr, &m, now, &plain), TRANSPORT_ERR_REPLAY);
		memcpy(m.buf, cases[k].ack, MSG_TRANSPORT_MIN_LEN);
		m.len = MSG_TRANSPORT_MIN_LEN;
		assert_int_equal(deliver(&kr, &m, now, &plain), TRANSPORT_OK);
		assert_int_equal(plain, 0);
		assert_int_equal(deliver(&kr, &m, now, &plain), TRANSPORT_ERR_REPLAY);

		/* Responder's answer, and the initiator opens the vector's. */
		memcpy(m.buf + HDR, hello, strlen(hello));
		assert_int_equal(transport_encrypt(&kr, m.buf, sizeof(m.buf), strlen(hello),
						   FIX_MTU, now, &len), TRANSPORT_OK);
		assert_int_equal(len, cases[k].r_len);
		assert_memory_equal(m.buf, cases[k].r_data, len);
		memcpy(m.buf, cases[k].r_data, cases[k].r_len);
		m.len = cases[k].r_len;
		assert_int_equal(transport_receiver_index(m.buf), WGV_INDEX_I);
		assert_int_equal(get_le64(m.buf + 8), 0);
		assert_int_equal(deliver(&ki, &m, now, &plain), TRANSPORT_OK);
		assert_int_equal(plain, strlen(hello));
		assert_int_equal(deliver(&ki, &m, now, &plain), TRANSPORT_ERR_REPLAY);
		keypair_wipe(&ki);
		keypair_wipe(&kr);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport_wire_layout),
		cmocka_unit_test(test_transport_padding),
		cmocka_unit_test(test_transport_no_room),
		cmocka_unit_test(test_transport_confirmation),
		cmocka_unit_test(test_transport_counter_limit),
		cmocka_unit_test(test_transport_counter_limit_receive),
		cmocka_unit_test(test_transport_expired),
		cmocka_unit_test(test_transport_short),
		cmocka_unit_test(test_transport_reorder),
		cmocka_unit_test(test_transport_tamper),
		cmocka_unit_test(test_transport_split_equals_oneshot),
		cmocka_unit_test(test_transport_split_failed_finish),
		cmocka_unit_test(test_transport_known_answer),
	};

	if (!wg_crypto_init()) {
		fprintf(stderr, "wg_crypto_init failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
