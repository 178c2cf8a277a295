/* The handshake thread does the responder's X25519s; the loop only commits
 * (hs_queue.h). On a real device with its queue and thread: valid
 * initiations from many peers are all answered (a responder keypair each)
 * while the loop's thread does no X25519 at all (wg_x25519_count, per
 * thread). And the commit half on the device: a result computed for a
 * peer that was then removed (even re-added with the same key), whose PSK
 * changed, or computed under an older private key, is dropped and counted
 * (hs_stale) with no index taken and no state changed; the same PSK set
 * again keeps it; a replay of a committed initiation is refused. */
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "device_fixture.h"
#include "hs_fixture.h"
#include "handshake/ratelimit.h"
#include "vpnd/datapath/hs_queue.h"
#include "vpnd/datapath/peer.h"

#define N_INITIATORS 64

/* An initiator outside the device: its identity, its handshake with the
 * device, its cookie maker for the device's mac1. */
struct initiator {
	struct noise_local local;
	struct noise_handshake hs;
	struct cookie_maker maker;
	struct peer *peer;		/* the device's peer for it */
};

static const struct endpoint src_ep = {
	.addr.in = { .sin_family = AF_INET, .sin_port = 0xcaca,
		     .sin_addr.s_addr = 0x020012c6 },	/* 198.18.0.2 */
};

static void device_identity(struct device *dev)
{
	uint8_t priv[KEY_LEN];

	wg_key_generate_private(priv);
	assert_true(device_set_private_key(dev, priv));
	wg_secure_wipe(priv, sizeof(priv));
}

static void initiator_init(struct initiator *in, struct device *dev)
{
	memset(in, 0, sizeof(*in));
	fix_identity(&in->local);
	noise_handshake_init(&in->hs, &in->local, dev->local->public_key, NULL);
	cookie_maker_init(&in->maker, dev->local->public_key);
	in->peer = device_peer_create(dev, in->local.public_key);
	assert_non_null(in->peer);
}

static void initiation(struct initiator *in, uint64_t wall_ns, struct msg_initiation *m)
{
	assert_int_equal(noise_create_initiation(&in->hs, &in->local, m, 0x1000, wall_ns),
			 NOISE_OK);
	cookie_add_macs(&in->maker, (uint8_t *)m, sizeof(*m), 0);
}

/* What the thread would do, here: the compute half with a copy of the
 * identity at its generation. */
static bool compute(struct device *dev, const struct msg_initiation *m, uint64_t local_gen,
		    struct hs_initiation_result *r, enum drop_reason *why)
{
	struct noise_local local = *dev->local;
	bool ok;

	ok = receive_initiation_compute(dev, &local, local_gen, (const uint8_t *)m,
					FIX_NOW_START, r, why);
	wg_secure_wipe(&local, sizeof(local));
	return ok;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void test_thread_does_the_dhs(void **state)
{
	struct device *dev = *state;
	static struct initiator ins[N_INITIATORS];
	static struct msg_initiation msgs[N_INITIATORS];
	uint64_t x0, cpu0;
	struct timespec now;
	size_t i, answered = 0;
	int polls;

	device_identity(dev);
	clock_gettime(CLOCK_REALTIME, &now);
	for (i = 0; i < N_INITIATORS; i++) {
		initiator_init(&ins[i], dev);
		initiation(&ins[i], (uint64_t)now.tv_sec * NSEC_PER_SEC, &msgs[i]);
	}
	dev->hsq = hs_queue_start(dev);
	assert_non_null(dev->hsq);

	x0 = wg_x25519_count();
	cpu0 = thread_cpu_ns();
	for (i = 0; i < N_INITIATORS; i++)
		assert_true(hs_queue_push(dev->hsq, (uint8_t *)&msgs[i], sizeof(msgs[i]),
					  &src_ep));
	hs_queue_kick(dev->hsq);
	/* Bounded: 64 handshakes take the thread well under a second. */
	for (polls = 0; polls < 100 && dev->handshakes_answered < N_INITIATORS; polls++) {
		struct pollfd p = { hs_queue_fd(dev->hsq), POLLIN, 0 };

		if (poll(&p, 1, 100) > 0)
			hs_queue_drain(dev, FIX_NOW_START);
	}
	assert_int_equal(dev->handshakes_answered, N_INITIATORS);
	/* The loop's thread (this one) did no X25519 for any of them. */
	assert_int_equal(wg_x25519_count() - x0, 0);
	print_message("loop thread: %.1f us CPU per handshake answered (the responder's DHs "
		      "alone are ~140 us)\n",
		      (double)(thread_cpu_ns() - cpu0) / 1000.0 / N_INITIATORS);
	for (i = 0; i < N_INITIATORS; i++) {
		assert_non_null(ins[i].peer->kp_next);
		answered += ins[i].peer->handshakes_received;
		noise_local_clear(&ins[i].local);
		wg_secure_wipe(&ins[i].hs, sizeof(ins[i].hs));
	}
	assert_int_equal(answered, N_INITIATORS);
	assert_int_equal(device_drops(dev, DROP_HANDSHAKE), 0);
	hs_queue_stop(dev->hsq);
	dev->hsq = NULL;
}

/* Computed, then the peer goes (and comes back with the same key): stale. */
static void test_commit_after_remove(void **state)
{
	struct device *dev = *state;
	struct hs_initiation_result r;
	enum drop_reason why = DROP_SHORT;
	struct initiator in;
	struct msg_initiation m;
	struct peer *again;

	device_identity(dev);
	initiator_init(&in, dev);
	initiation(&in, FIX_WALL_START, &m);
	assert_true(compute(dev, &m, dev->local_gen, &r, &why));

	device_peer_remove(dev, in.peer);
	receive_initiation_commit(dev, &r, &src_ep, FIX_NOW_START);
	assert_int_equal(dev->drops[DROP_HS_STALE], 1);

	again = device_peer_create(dev, in.local.public_key);
	assert_non_null(again);
	receive_initiation_commit(dev, &r, &src_ep, FIX_NOW_START);
	assert_int_equal(dev->drops[DROP_HS_STALE], 2);
	assert_int_equal(again->hs->state, NOISE_ZEROED);
	assert_int_equal(again->handshakes_received, 0);
	assert_null(again->kp_next);
	assert_int_equal(dev->handshakes_answered, 0);
	wg_secure_wipe(&r, sizeof(r));
	noise_local_clear(&in.local);
}

/* A PSK change between compute and commit: stale. The same PSK set again
 * (a config reload): the commit goes through. */
static void test_commit_after_psk(void **state)
{
	static const uint8_t psk1[KEY_LEN] = { 1 }, psk2[KEY_LEN] = { 2 };
	struct device *dev = *state;
	struct hs_initiation_result r;
	enum drop_reason why = DROP_SHORT;
	struct initiator in;
	struct msg_initiation m;

	device_identity(dev);
	initiator_init(&in, dev);
	device_peer_set_psk(dev, in.peer, psk1);
	noise_handshake_set_psk(&in.hs, psk1);
	initiation(&in, FIX_WALL_START, &m);
	assert_true(compute(dev, &m, dev->local_gen, &r, &why));
	device_peer_set_psk(dev, in.peer, psk2);
	receive_initiation_commit(dev, &r, &src_ep, FIX_NOW_START);
	assert_int_equal(dev->drops[DROP_HS_STALE], 1);
	assert_int_equal(in.peer->hs->state, NOISE_ZEROED);
	wg_secure_wipe(&r, sizeof(r));

	device_peer_set_psk(dev, in.peer, psk1);
	initiation(&in, FIX_WALL_START + NSEC_PER_SEC, &m);
	assert_true(compute(dev, &m, dev->local_gen, &r, &why));
	device_peer_set_psk(dev, in.peer, psk1);	/* unchanged */
	receive_initiation_commit(dev, &r, &src_ep, FIX_NOW_START);
	assert_int_equal(dev->drops[DROP_HS_STALE], 1);
	assert_int_equal(dev->handshakes_answered, 1);
	assert_non_null(in.peer->kp_next);

	/* The same initiation again: a replay, refused at the commit. */
	receive_initiation_commit(dev, &r, &src_ep, FIX_NOW_START + NSEC_PER_SEC);
	assert_int_equal(dev->drops[DROP_HANDSHAKE], 1);
	assert_int_equal(dev->handshakes_answered, 1);
	wg_secure_wipe(&r, sizeof(r));
	noise_local_clear(&in.local);
}

/* Our private key changed between the thread's identity copy and its view
 * of the peer: refused at compute (stale); and a result computed before
 * the change is stale at the commit. */
static void test_private_key_change(void **state)
{
	struct device *dev = *state;
	struct hs_initiation_result r;
	enum drop_reason why = DROP_SHORT;
	struct initiator in;
	struct msg_initiation m;
	uint64_t gen;

	device_identity(dev);
	initiator_init(&in, dev);
	initiation(&in, FIX_WALL_START, &m);
	gen = dev->local_gen;
	assert_false(compute(dev, &m, gen - 1, &r, &why));
	assert_int_equal(why, DROP_HS_STALE);
	assert_true(wg_ct_is_zero(&r, sizeof(r)));

	assert_true(compute(dev, &m, gen, &r, &why));
	device_identity(dev);
	receive_initiation_commit(dev, &r, &src_ep, FIX_NOW_START);
	assert_int_equal(dev->drops[DROP_HS_STALE], 1);
	assert_int_equal(in.peer->hs->state, NOISE_ZEROED);
	wg_secure_wipe(&r, sizeof(r));
	noise_local_clear(&in.local);
}

/* The gate lock held by the thread at the commit: the loop does not wait
 * for it (a nice-19 holder may be preempted long on a busy CPU); nothing
 * is done and the commit is to be retried, which then goes through. */
static void test_commit_retries_when_locked(void **state)
{
	struct device *dev = *state;
	struct hs_initiation_result r;
	enum drop_reason why = DROP_SHORT;
	struct initiator in;
	struct msg_initiation m;

	device_identity(dev);
	initiator_init(&in, dev);
	initiation(&in, FIX_WALL_START, &m);
	dev->hsq = hs_queue_start(dev);
	assert_non_null(dev->hsq);
	assert_true(compute(dev, &m, dev->local_gen, &r, &why));
	hs_queue_lock(dev->hsq);	/* as the thread at its gate */
	assert_int_equal(receive_initiation_commit(dev, &r, &src_ep, FIX_NOW_START),
			 HS_COMMIT_RETRY);
	assert_int_equal(in.peer->hs->state, NOISE_ZEROED);
	assert_null(in.peer->kp_next);
	assert_int_equal(dev->handshakes_answered, 0);
	hs_queue_unlock(dev->hsq);
	assert_int_equal(receive_initiation_commit(dev, &r, &src_ep, FIX_NOW_START),
			 HS_COMMIT_DONE);
	assert_non_null(in.peer->kp_next);
	assert_int_equal(dev->handshakes_answered, 1);
	hs_queue_stop(dev->hsq);
	dev->hsq = NULL;
	wg_secure_wipe(&r, sizeof(r));
	noise_local_clear(&in.local);
}

/* The result ring full (the loop does not drain): what comes next is
 * dropped as hs_queue_full before the gate, so it spends nothing there (no
 * cookie allowance, no DH budget) on results that would be thrown away.
 * Under load, one valid-mac1 initiation from many sources: each gets a
 * cookie reply until the ring is full. */
#define OUT_RING 1024	/* hs_queue.c's OUT_CAPACITY */
#define EXTRA 76

static void test_full_ring_spends_nothing(void **state)
{
	struct device *dev = *state;
	static struct initiator in;
	struct msg_initiation m;
	struct endpoint ep = src_ep;
	int polls;

	device_identity(dev);
	initiator_init(&in, dev);
	initiation(&in, FIX_WALL_START, &m);
	dev->under_load_until_ns = UINT64_MAX;
	dev->hsq = hs_queue_start(dev);
	assert_non_null(dev->hsq);
	for (uint32_t i = 0; i < OUT_RING + EXTRA; i++) {
		ep.addr.in.sin_addr.s_addr = htonl(0xc6120000 | (i + 1));	/* 198.18.x.y */
		assert_true(hs_queue_push(dev->hsq, (uint8_t *)&m, sizeof(m), &ep));
	}
	hs_queue_kick(dev->hsq);
	for (polls = 0; polls < 100 && hs_queue_drops(dev->hsq, DROP_HS_QUEUE_FULL) < EXTRA;
	     polls++)
		poll(NULL, 0, 20);
	assert_int_equal(hs_queue_drops(dev->hsq, DROP_HS_QUEUE_FULL), EXTRA);
	/* The cookie limiter saw only the sources that got a result. */
	assert_int_equal(ratelimiter_entries(dev->cookie_limiter), OUT_RING);
	hs_queue_drain(dev, FIX_NOW_START);
	assert_int_equal(dev->cookie_replies_sent, OUT_RING);
	hs_queue_stop(dev->hsq);
	dev->hsq = NULL;
	noise_local_clear(&in.local);
	wg_secure_wipe(&in.hs, sizeof(in.hs));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_thread_does_the_dhs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_after_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_after_psk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_key_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_ring_spends_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_retries_when_locked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
