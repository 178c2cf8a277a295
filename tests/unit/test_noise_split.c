/* The responder's handshake in two halves (noise.h: compute on the
 * handshake thread, commit on the loop): with the known-answer vectors'
 * fixed keys and ephemerals, compute then commit gives the vector's
 * response and the very state the single calls give; a commit refuses an
 * initiation older than (or the same as) one committed since its compute,
 * one too soon after it (flood), one whose peer is gone or changed, and a
 * response whose initiation is no longer the handshake's; compute refuses
 * every flipped byte and leaves its output wiped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hs_fixture.h"
#include "wg_vectors.h"

/* The thread's lookup in these tests: the view of one handshake, or none. */
struct view_ctx {
	const struct noise_handshake *hs;	/* NULL: unknown peer */
	unsigned calls;
};

static enum noise_result view_of(void *ctx, const uint8_t pub[KEY_LEN],
				 struct noise_peer_view *view)
{
	struct view_ctx *c = ctx;

	c->calls++;
	if (!c->hs || !wg_ct_equal(pub, c->hs->remote_static, KEY_LEN))
		return NOISE_ERR_UNKNOWN_PEER;
	return noise_peer_view_get(c->hs, view);
}

static void kat_pair_init(struct fix_pair *f, const uint8_t *psk)
{
	static const uint8_t addr_a[4] = { 198, 18, 0, 2 };
	static const uint8_t addr_b[4] = { 198, 18, 0, 1 };

	memset(f, 0, sizeof(*f));
	assert_true(noise_local_set(&f->a.local, wgv_static_i_priv));
	assert_true(noise_local_set(&f->b.local, wgv_static_r_priv));
	fix_peer_link(&f->a, &f->b, psk, WGV_INDEX_I, addr_a, 51820);
	fix_peer_link(&f->b, &f->a, psk, WGV_INDEX_R, addr_b, 51820);
	f->wall_ns = WGV_WALL_NS;
	f->now_ns = FIX_NOW_START;
}

static void compute_initiation(struct fix_pair *f, const struct msg_initiation *m,
			       struct noise_initiation *ini, enum noise_result want)
{
	struct view_ctx vc = { &f->b.hs, 0 };
	const struct noise_view_lookup vl = { &vc, view_of };

	assert_int_equal(noise_initiation_compute(&f->b.local, m, &vl, f->now_ns, ini), want);
	if (want != NOISE_OK)
		assert_true(wg_ct_is_zero(ini, sizeof(*ini)));
}

/* Split and single calls, each from the vectors: same bytes, same state. */
static void split_case(const uint8_t *psk, const uint8_t *vec_init, const uint8_t *vec_resp)
{
	struct fix_pair split, single;
	struct noise_initiation ini;
	struct noise_response resp;
	struct msg_initiation m;
	struct msg_response r1, r2;
	struct noise_handshake *hs;

	kat_pair_init(&split, psk);
	kat_pair_init(&single, psk);
	memcpy(&m, vec_init, sizeof(m));

	compute_initiation(&split, &m, &ini, NOISE_OK);
	/* The compute half changed nothing. */
	assert_int_equal(split.b.hs.state, NOISE_ZEROED);
	assert_memory_equal(&split.b.hs, &single.b.hs, sizeof(split.b.hs));
	assert_memory_equal(ini.timestamp, wgv_timestamp, TAI64N_LEN);
	assert_int_equal(ini.remote_index, WGV_INDEX_I);
	assert_int_equal(noise_response_compute(&ini, wgv_ephemeral_r_priv, &resp), NOISE_OK);
	assert_int_equal(split.b.hs.state, NOISE_ZEROED);

	assert_int_equal(noise_initiation_commit(&split.b.hs, &ini, split.now_ns), NOISE_OK);
	assert_int_equal(noise_consume_initiation(&single.b.local, &m, &single.b.lookup,
						  single.now_ns, &hs), NOISE_OK);
	assert_memory_equal(&split.b.hs, &single.b.hs, sizeof(split.b.hs));

	assert_int_equal(noise_response_commit(&split.b.hs, &resp, WGV_INDEX_R, &r1), NOISE_OK);
	assert_int_equal(noise_create_response_ephemeral(&single.b.hs, &single.b.local, &r2,
							 WGV_INDEX_R, wgv_ephemeral_r_priv),
			 NOISE_OK);
	assert_memory_equal(&split.b.hs, &single.b.hs, sizeof(split.b.hs));
	assert_memory_equal(&r1, &r2, sizeof(r1));
	cookie_add_macs(&split.b.maker, (uint8_t *)&r1, sizeof(r1), split.now_ns);
	assert_memory_equal(&r1, vec_resp, sizeof(r1));

	/* The initiator takes it and both derive the same keys. */
	assert_int_equal(noise_create_initiation_ephemeral(&split.a.hs, &split.a.local, &m,
							   WGV_INDEX_I, split.wall_ns,
							   wgv_ephemeral_i_priv), NOISE_OK);
	assert_int_equal(noise_consume_response(&split.a.hs, &split.a.local, &r1), NOISE_OK);
	fix_derive(&split);
	assert_memory_equal(split.a.kp.send_key, split.b.kp.recv_key, KEY_LEN);
	wg_secure_wipe(&ini, sizeof(ini));
	wg_secure_wipe(&resp, sizeof(resp));
	fix_pair_wipe(&split);
	fix_pair_wipe(&single);
}

static void test_split_known_answer(void **state)
{
	(void)state;
	split_case(NULL, wgv_nopsk_initiation, wgv_nopsk_response);
	split_case(wgv_psk, wgv_psk_initiation, wgv_psk_response);
}

/* Two initiations computed (both fresh against the state at compute time);
 * the newer one is committed first: the older is then a replay, and the
 * newer again too. */
static void test_commit_refuses_older(void **state)
{
	struct noise_initiation old_ini, new_ini;
	struct msg_initiation m_old, m_new;
	struct noise_handshake before;
	struct fix_pair f;

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	fix_create_initiation(&f, &m_old);
	fix_step(&f);
	fix_create_initiation(&f, &m_new);
	compute_initiation(&f, &m_old, &old_ini, NOISE_OK);
	compute_initiation(&f, &m_new, &new_ini, NOISE_OK);

	assert_int_equal(noise_initiation_commit(&f.b.hs, &new_ini, f.now_ns), NOISE_OK);
	fix_step(&f);	/* out of the flood window: only the timestamp refuses */
	before = f.b.hs;
	assert_int_equal(noise_initiation_commit(&f.b.hs, &old_ini, f.now_ns), NOISE_ERR_REPLAY);
	assert_int_equal(noise_initiation_commit(&f.b.hs, &new_ini, f.now_ns), NOISE_ERR_REPLAY);
	assert_memory_equal(&f.b.hs, &before, sizeof(before));

	/* And the compute half now refuses the replay itself (its view has
	 * the latest timestamp), before any response is computed. */
	compute_initiation(&f, &m_new, &new_ini, NOISE_ERR_REPLAY);
	wg_secure_wipe(&old_ini, sizeof(old_ini));
	fix_pair_wipe(&f);
}

/* Two newer initiations computed within 1/50 s: the second commit is a
 * flood, though each was fine when computed. */
static void test_commit_refuses_flood(void **state)
{
	struct noise_initiation a, b;
	struct msg_initiation m1, m2;
	struct fix_pair f;

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	fix_create_initiation(&f, &m1);
	f.wall_ns += NSEC_PER_SEC;	/* newer TAI64N, same monotonic time */
	fix_create_initiation(&f, &m2);
	compute_initiation(&f, &m1, &a, NOISE_OK);
	compute_initiation(&f, &m2, &b, NOISE_OK);
	assert_int_equal(noise_initiation_commit(&f.b.hs, &a, f.now_ns), NOISE_OK);
	assert_int_equal(noise_initiation_commit(&f.b.hs, &b, f.now_ns + 1), NOISE_ERR_FLOOD);
	assert_int_equal(noise_initiation_commit(&f.b.hs, &b,
						 f.now_ns + NSEC_PER_SEC / INITIATIONS_PER_SECOND),
			 NOISE_OK);
	wg_secure_wipe(&a, sizeof(a));
	wg_secure_wipe(&b, sizeof(b));
	fix_pair_wipe(&f);
}

/* The peer went away between compute and commit and its handshake slot now
 * belongs to another peer (or the same key came back without a valid
 * static-static DH): the commit refuses and changes nothing. */
static void test_commit_refuses_other_peer(void **state)
{
	struct noise_initiation ini;
	struct noise_handshake before;
	struct msg_initiation m;
	struct noise_local other;
	struct fix_pair f;

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	fix_create_initiation(&f, &m);
	compute_initiation(&f, &m, &ini, NOISE_OK);

	fix_identity(&other);
	noise_handshake_init(&f.b.hs, &f.b.local, other.public_key, NULL);
	before = f.b.hs;
	assert_int_equal(noise_initiation_commit(&f.b.hs, &ini, f.now_ns),
			 NOISE_ERR_UNKNOWN_PEER);
	assert_memory_equal(&f.b.hs, &before, sizeof(before));

	/* Unknown to the lookup: refused at compute, nothing to commit. */
	{
		struct view_ctx vc = { NULL, 0 };
		const struct noise_view_lookup vl = { &vc, view_of };

		assert_int_equal(noise_initiation_compute(&f.b.local, &m, &vl, f.now_ns, &ini),
				 NOISE_ERR_UNKNOWN_PEER);
		assert_int_equal(vc.calls, 1);
		assert_true(wg_ct_is_zero(&ini, sizeof(ini)));
	}
	noise_local_clear(&other);
	fix_pair_wipe(&f);
}

/* A response computed for one initiation cannot be committed after another
 * initiation replaced it (nor before any, nor twice). */
static void test_response_commit_refuses_stale(void **state)
{
	struct noise_initiation i1, i2;
	struct noise_response r1;
	struct noise_handshake before;
	struct msg_initiation m1, m2;
	struct msg_response out;
	struct fix_pair f;

	(void)state;
	fix_pair_init(&f, NULL, NULL);
	fix_create_initiation(&f, &m1);
	compute_initiation(&f, &m1, &i1, NOISE_OK);
	assert_int_equal(noise_response_compute(&i1, NULL, &r1), NOISE_OK);
	before = f.b.hs;
	assert_int_equal(noise_response_commit(&f.b.hs, &r1, f.b.index, &out), NOISE_ERR_STATE);
	assert_memory_equal(&f.b.hs, &before, sizeof(before));

	assert_int_equal(noise_initiation_commit(&f.b.hs, &i1, f.now_ns), NOISE_OK);
	fix_step(&f);
	fix_create_initiation(&f, &m2);
	compute_initiation(&f, &m2, &i2, NOISE_OK);
	assert_int_equal(noise_initiation_commit(&f.b.hs, &i2, f.now_ns), NOISE_OK);
	before = f.b.hs;
	assert_int_equal(noise_response_commit(&f.b.hs, &r1, f.b.index, &out), NOISE_ERR_STATE);
	assert_memory_equal(&f.b.hs, &before, sizeof(before));

	/* The right one commits once; a second commit finds CREATED_RESPONSE. */
	assert_int_equal(noise_response_compute(&i2, NULL, &r1), NOISE_OK);
	assert_int_equal(noise_response_commit(&f.b.hs, &r1, f.b.index, &out), NOISE_OK);
	assert_int_equal(noise_response_commit(&f.b.hs, &r1, f.b.index, &out), NOISE_ERR_STATE);
	cookie_add_macs(&f.b.maker, (uint8_t *)&out, sizeof(out), f.now_ns);
	assert_int_equal(fix_consume_response(&f, &out), NOISE_OK);
	fix_derive(&f);
	fix_confirm(&f);
	wg_secure_wipe(&i1, sizeof(i1));
	wg_secure_wipe(&i2, sizeof(i2));
	wg_secure_wipe(&r1, sizeof(r1));
	fix_pair_wipe(&f);
}

/* Every byte of the Noise part flipped: compute refuses, its output is
 * wiped, the handshake is untouched; the real message still computes. */
static void test_compute_tamper(void **state)
{
	struct noise_initiation ini;
	struct noise_handshake before;
	struct msg_initiation m, t;
	struct fix_pair f;
	size_t i;

	(void)state;
	fix_pair_init(&f, wgv_psk, wgv_psk);
	fix_create_initiation(&f, &m);
	before = f.b.hs;
	for (i = offsetof(struct msg_initiation, ephemeral);
	     i < offsetof(struct msg_initiation, macs); i++) {
		struct view_ctx vc = { &f.b.hs, 0 };
		const struct noise_view_lookup vl = { &vc, view_of };

		t = m;
		((uint8_t *)&t)[i] ^= 0x01;
		if (noise_initiation_compute(&f.b.local, &t, &vl, f.now_ns, &ini) == NOISE_OK)
			fail_msg("initiation byte %zu flipped and accepted", i);
		assert_true(wg_ct_is_zero(&ini, sizeof(ini)));
	}
	assert_memory_equal(&f.b.hs, &before, sizeof(before));
	compute_initiation(&f, &m, &ini, NOISE_OK);
	wg_secure_wipe(&ini, sizeof(ini));
	fix_pair_wipe(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_known_answer),
		cmocka_unit_test(test_commit_refuses_older),
		cmocka_unit_test(test_commit_refuses_flood),
		cmocka_unit_test(test_commit_refuses_other_peer),
		cmocka_unit_test(test_response_commit_refuses_stale),
		cmocka_unit_test(test_compute_tamper),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
