/* Unit tests for the queue of packets waiting for a session (peer_stage in
 * vpnd/datapath/peer.c) and for the forwarding size check (send_forward):
 * what one peer, or many peers, can make the daemon hold is bounded, the
 * oldest packets go first, every drop is counted. On a real struct device
 * without TUN or socket; no peer has a session or an endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/device_fixture.h"

#include "crypto/crypto.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/send.h"

static uint8_t pkt[MTU_MAX];
static uint8_t out[MTU_MAX];

/* Every free() of the binary comes here (the Makefile links this test with
 * -Wl,--wrap=free): a watched block is checked for being all zero, i.e.
 * wiped, at the moment it is freed. */
void __real_free(void *p);
static const uint8_t *watched;
static size_t watched_len;
static int watched_wiped = -1;	/* -1: not freed yet */

void __wrap_free(void *p)
{
	if (p && p == watched) {
		watched_wiped = 1;
		for (size_t i = 0; i < watched_len; i++)
			if (watched[i])
				watched_wiped = 0;
		watched = NULL;
	}
	__real_free(p);
}

static void watch_oldest(struct peer *peer)
{
	watched = peer->staged[peer->staged_head];
	watched_len = peer->staged_len[peer->staged_head];
	watched_wiped = -1;
}

static struct peer *new_peer(struct device *dev)
{
	uint8_t pub[KEY_LEN];
	struct peer *peer;

	wg_random_bytes(pub, sizeof(pub));
	peer = device_peer_create(dev, pub);
	assert_non_null(peer);
	return peer;
}

/* Stages n packets of len bytes, packet i starting with the 4 bytes of i. */
static unsigned stage_n(struct peer *peer, unsigned n, size_t len)
{
	unsigned ok = 0;

	for (uint32_t i = 0; i < n; i++) {
		memcpy(pkt, &i, sizeof(i));
		ok += peer_stage(peer, pkt, len);
	}
	return ok;
}

static uint32_t first_word(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* 1. More than STAGED_MAX small packets: the newest STAGED_MAX stay. */
static void test_packet_cap_drops_oldest(void **state)
{
	struct device *dev = *state;
	struct peer *peer = new_peer(dev);

	assert_int_equal(stage_n(peer, STAGED_MAX + 72, 100), STAGED_MAX + 72);
	assert_int_equal(peer->staged_count, STAGED_MAX);
	assert_int_equal(peer->staged_bytes, STAGED_MAX * 100);
	assert_int_equal(dev->drops[DROP_QUEUE_FULL], 72);
	assert_int_equal(peer_staged_pop(peer, out), 100);
	assert_int_equal(first_word(out), 72);	/* 0..71 went first */
	assert_int_equal(dev->staged_bytes, (STAGED_MAX - 1) * 100);
}

/* 2. Large packets: the per-peer byte cap binds before the packet cap. */
static void test_peer_byte_cap(void **state)
{
	struct device *dev = *state;
	struct peer *peer = new_peer(dev);

	stage_n(peer, 300, 9000);
	assert_true(peer->staged_bytes <= STAGED_PEER_BYTES);
	assert_true(peer->staged_bytes > STAGED_PEER_BYTES - 9000);
	assert_int_equal(peer->staged_bytes, (size_t)peer->staged_count * 9000);
	assert_int_equal(dev->drops[DROP_QUEUE_FULL], 300 - peer->staged_count);
	peer_staged_pop(peer, out);
	assert_int_equal(first_word(out), 300 - peer->staged_count - 1);
}

/* 3. Many peers each filling their queue: the device cap holds, and the
 * device's count is the sum of the peers'. */
static void test_device_byte_cap(void **state)
{
	struct device *dev = *state;
	unsigned n = STAGED_DEVICE_BYTES / STAGED_PEER_BYTES + 20;
	size_t sum = 0;

	for (unsigned i = 0; i < n; i++)
		stage_n(new_peer(dev), 40, 9000);
	assert_true(dev->staged_bytes <= STAGED_DEVICE_BYTES);
	assert_true(dev->staged_bytes > STAGED_DEVICE_BYTES - 9000);
	for (struct peer *p = dev->peers_first; p; p = p->next)
		sum += p->staged_bytes;
	assert_int_equal(sum, dev->staged_bytes);
	assert_true(dev->drops[DROP_QUEUE_FULL] > 0);
}

/* 4. Removing peers gives their bytes back; clear leaves nothing. */
static void test_clear_and_remove_account(void **state)
{
	struct device *dev = *state;
	struct peer *a = new_peer(dev), *b = new_peer(dev);

	stage_n(a, 10, 1000);
	stage_n(b, 5, 500);
	assert_int_equal(dev->staged_bytes, 10 * 1000 + 5 * 500);
	peer_staged_clear(a);
	assert_int_equal(a->staged_count, 0);
	assert_int_equal(a->staged_bytes, 0);
	assert_int_equal(dev->staged_bytes, 5 * 500);
	device_peer_remove(dev, b);
	assert_int_equal(dev->staged_bytes, 0);
}

/* 5. A packet larger than any queue is refused outright. */
static void test_oversized_refused(void **state)
{
	struct device *dev = *state;
	struct peer *peer = new_peer(dev);

	assert_false(peer_stage(peer, pkt, MTU_MAX + 1));
	assert_int_equal(peer->staged_count, 0);
	assert_int_equal(dev->drops[DROP_INNER_INVALID], 1);
}

/* 6. PeerToPeer = direct: a packet larger than our MTU is not forwarded
 * (nor staged), and is counted as too_big; one of exactly MTU bytes is. */
static void test_forward_larger_than_mtu(void **state)
{
	struct device *dev = *state;
	struct peer *peer = new_peer(dev);

	peer->has_endpoint = true;	/* so that it is staged, not dropped */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x45;
	send_forward(peer, pkt, dev->mtu + 1, 1);
	assert_int_equal(dev->drops[DROP_TOO_BIG], 1);
	assert_int_equal(peer->staged_count, 0);
	send_forward(peer, pkt, 65535, 1);
	assert_int_equal(dev->drops[DROP_TOO_BIG], 2);
	send_forward(peer, pkt, dev->mtu, 1);
	assert_int_equal(dev->drops[DROP_TOO_BIG], 2);
	assert_int_equal(peer->staged_count, 1);
	peer->has_endpoint = false;
}

/* 7. Staged packets are plaintext: wiped before they are freed, whether
 * sent (pop), pushed out by newer ones (the cap) or cleared. */
static void test_staged_wiped_when_freed(void **state)
{
	struct device *dev = *state;
	struct peer *peer = new_peer(dev);

	memset(pkt, 0xab, 1000);
	stage_n(peer, 3, 1000);
	watch_oldest(peer);
	peer_staged_pop(peer, out);
	assert_int_equal(watched_wiped, 1);
	watch_oldest(peer);
	peer_staged_clear(peer);
	assert_int_equal(watched_wiped, 1);
	stage_n(peer, STAGED_MAX, 100);
	watch_oldest(peer);
	stage_n(peer, 1, 100);			/* pushes the oldest out */
	assert_int_equal(watched_wiped, 1);
	peer_staged_clear(peer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_packet_cap_drops_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_byte_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_byte_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear_and_remove_account, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_larger_than_mtu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staged_wiped_when_freed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
