/* Two in-process peers for the handshake tests. Peer a initiates, peer b
 * responds. Each has its identity, a noise_handshake for the other, a cookie
 * checker for what it receives, a cookie maker for what it sends to the
 * other, a lookup that knows only the other peer, and a keypair slot.
 *
 * No sockets and no clocks: wall_ns (for TAI64N) and now_ns (monotonic) are
 * fields the tests move by hand. Header-only; every function is static
 * inline so a test file that uses only some of them still builds with
 * -Werror. Include cmocka.h (with its prerequisites) before this file. */
#ifndef VPND_TEST_HS_FIXTURE_H
#define VPND_TEST_HS_FIXTURE_H

#include <string.h>
#include <sys/socket.h>

#include "crypto/crypto.h"
#include "handshake/cookie.h"
#include "handshake/noise.h"
#include "handshake/transport.h"
#include "handshake/wire.h"

/* A plausible Unix time (Nov 2023) on a whole second, so TAI64N buckets
 * start at a known place, and a monotonic time well above 0 (0 means
 * "never" for the flood check). */
#define FIX_WALL_START (1700000000ULL * NSEC_PER_SEC)
#define FIX_NOW_START  (1000ULL * NSEC_PER_SEC)

/* Distinct byte patterns, so a swapped or mis-ordered index shows. */
#define FIX_INDEX_A 0xa4a3a2a1u
#define FIX_INDEX_B 0xb4b3b2b1u

#define FIX_MTU 1420

struct fix_peer {
	struct noise_local local;
	struct noise_handshake hs;		/* with the other peer */
	struct cookie_checker checker;		/* for messages sent to us */
	struct cookie_maker maker;		/* for messages we send */
	struct noise_lookup lookup;
	struct keypair kp;
	uint32_t index;
	uint8_t src[COOKIE_SOURCE_MAX];		/* our address as the other sees it */
	size_t src_len;
};

struct fix_pair {
	struct fix_peer a, b;
	uint64_t wall_ns;
	uint64_t now_ns;
};

static inline struct noise_handshake *fix_lookup(void *ctx, const uint8_t pub[KEY_LEN])
{
	struct fix_peer *p = ctx;

	return wg_ct_equal(pub, p->hs.remote_static, KEY_LEN) ? &p->hs : NULL;
}

/* A fresh random identity. */
static inline void fix_identity(struct noise_local *local)
{
	uint8_t priv[KEY_LEN];

	wg_key_generate_private(priv);
	assert_true(noise_local_set(local, priv));
	wg_secure_wipe(priv, sizeof(priv));
}

static inline void fix_peer_link(struct fix_peer *p, const struct fix_peer *other,
				 const uint8_t *psk, uint32_t index, const uint8_t addr[4],
				 uint16_t port)
{
	noise_handshake_init(&p->hs, &p->local, other->local.public_key, psk);
	assert_true(p->hs.static_static_valid);
	cookie_checker_init(&p->checker, p->local.public_key);
	cookie_maker_init(&p->maker, other->local.public_key);
	p->lookup.ctx = p;
	p->lookup.by_public_key = fix_lookup;
	p->index = index;
	p->src_len = cookie_source_bytes(p->src, AF_INET, addr, port);
}

/* psk_a / psk_b: what each side has configured for the other (NULL: none);
 * they differ only in the mismatch test. */
static inline void fix_pair_init(struct fix_pair *f, const uint8_t *psk_a, const uint8_t *psk_b)
{
	static const uint8_t addr_a[4] = { 192, 0, 2, 1 };	/* TEST-NET-1 */
	static const uint8_t addr_b[4] = { 198, 51, 100, 2 };	/* TEST-NET-2 */

	memset(f, 0, sizeof(*f));
	fix_identity(&f->a.local);
	fix_identity(&f->b.local);
	fix_peer_link(&f->a, &f->b, psk_a, FIX_INDEX_A, addr_a, 51820);
	fix_peer_link(&f->b, &f->a, psk_b, FIX_INDEX_B, addr_b, 51821);
	f->wall_ns = FIX_WALL_START;
	f->now_ns = FIX_NOW_START;
}

static inline void fix_pair_wipe(struct fix_pair *f)
{
	wg_secure_wipe(f, sizeof(*f));
}

/* One second on both clocks: the next initiation has a newer TAI64N and is
 * outside the 1/50 s flood window. */
static inline void fix_step(struct fix_pair *f)
{
	f->wall_ns += NSEC_PER_SEC;
	f->now_ns += NSEC_PER_SEC;
}

/* Recomputes mac1 (and mac2) of a message after a test changed it, with a
 * copy of the maker so the real one's state (last mac1) is not disturbed. */
static inline void fix_remac(const struct cookie_maker *m, void *msg, size_t len, uint64_t now_ns)
{
	struct cookie_maker tmp = *m;

	cookie_add_macs(&tmp, msg, len, now_ns);
	wg_secure_wipe(&tmp, sizeof(tmp));
}

/* a -> b: SYN with macs. */
static inline void fix_create_initiation(struct fix_pair *f, struct msg_initiation *m)
{
	assert_int_equal(noise_create_initiation(&f->a.hs, &f->a.local, m, f->a.index, f->wall_ns),
			 NOISE_OK);
	assert_int_equal(f->a.hs.state, NOISE_CREATED_INITIATION);
	cookie_add_macs(&f->a.maker, (uint8_t *)m, sizeof(*m), f->now_ns);
}

/* b checks mac1 then runs the Noise layer; returns the Noise result. */
static inline enum noise_result fix_consume_initiation(struct fix_pair *f,
						       const struct msg_initiation *m)
{
	/* A non-NULL sentinel: shows *out is written on every path. */
	struct noise_handshake *hs = (struct noise_handshake *)1;
	enum noise_result r;

	assert_int_equal(cookie_validate(&f->b.checker, (const uint8_t *)m, sizeof(*m), f->a.src,
					 f->a.src_len, false, f->now_ns),
			 COOKIE_MAC1_VALID);
	r = noise_consume_initiation(&f->b.local, m, &f->b.lookup, f->now_ns, &hs);
	/* *out is the peer's handshake on success and NULL on every failure. */
	if (r == NOISE_OK)
		assert_ptr_equal(hs, &f->b.hs);
	else
		assert_null(hs);
	return r;
}

/* b -> a: SYN-ACK with macs. */
static inline void fix_create_response(struct fix_pair *f, struct msg_response *r)
{
	assert_int_equal(noise_create_response(&f->b.hs, &f->b.local, r, f->b.index), NOISE_OK);
	assert_int_equal(f->b.hs.state, NOISE_CREATED_RESPONSE);
	cookie_add_macs(&f->b.maker, (uint8_t *)r, sizeof(*r), f->now_ns);
}

static inline enum noise_result fix_consume_response(struct fix_pair *f,
						     const struct msg_response *r)
{
	assert_int_equal(cookie_validate(&f->a.checker, (const uint8_t *)r, sizeof(*r), f->b.src,
					 f->b.src_len, false, f->now_ns),
			 COOKIE_MAC1_VALID);
	return noise_consume_response(&f->a.hs, &f->a.local, r);
}

/* Both sides derive their keypairs (a.kp, b.kp) from completed handshakes. */
static inline void fix_derive(struct fix_pair *f)
{
	assert_int_equal(noise_derive_keypair(&f->a.hs, &f->a.kp, f->now_ns), NOISE_OK);
	assert_int_equal(noise_derive_keypair(&f->b.hs, &f->b.kp, f->now_ns), NOISE_OK);
	assert_int_equal(f->a.hs.state, NOISE_ZEROED);
	assert_int_equal(f->b.hs.state, NOISE_ZEROED);
}

/* A whole handshake, SYN to derived keypairs, at the current times. */
static inline void fix_handshake(struct fix_pair *f)
{
	struct msg_initiation m;
	struct msg_response r;

	fix_create_initiation(f, &m);
	assert_int_equal(fix_consume_initiation(f, &m), NOISE_OK);
	fix_create_response(f, &r);
	assert_int_equal(fix_consume_response(f, &r), NOISE_OK);
	fix_derive(f);
}

/* The initiator's ACK: a keepalive a -> b, which confirms b's keypair. */
static inline void fix_confirm(struct fix_pair *f)
{
	uint8_t buf[MSG_TRANSPORT_MIN_LEN];
	size_t len = 0, plain = 1;

	assert_int_equal(transport_encrypt(&f->a.kp, buf, sizeof(buf), 0, FIX_MTU, f->now_ns,
					   &len), TRANSPORT_OK);
	assert_int_equal(len, MSG_TRANSPORT_MIN_LEN);
	assert_int_equal(transport_decrypt(&f->b.kp, buf, len, f->now_ns, &plain),
			 TRANSPORT_OK_CONFIRMED);
	assert_int_equal(plain, 0);
	assert_true(f->b.kp.confirmed);
}

#endif
