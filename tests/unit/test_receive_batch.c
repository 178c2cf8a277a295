/* The receive batch (receive.c): transport messages gather in a run that
 * is decrypted together (by the crypto pool where there is one); anything
 * else flushes the run first, to keep the order of what depends on it,
 * except a handshake message bound for the handshake queue, which only
 * gets copied there and depends on nothing in the run. Numbered cases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "handshake/wire.h"
#include "vpnd/common/clock.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/hs_queue.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/receive.h"
#include "device_fixture.h"

#define NOW (1000ULL * NSEC_PER_SEC)

/* A peer with a confirmed keypair under a known index; the keypair is
 * the peer's (freed with the device). */
static uint32_t peer_with_keypair(struct device *dev)
{
	uint8_t pub[KEY_LEN];
	struct keypair *kp;
	struct peer *peer;

	wg_random_bytes(pub, sizeof(pub));
	peer = device_peer_create(dev, pub);
	assert_non_null(peer);
	kp = device_keypair_new(dev);
	assert_non_null(kp);
	memset(kp, 0, sizeof(*kp));
	wg_random_bytes(kp->recv_key, KEY_LEN);
	kp->valid = kp->confirmed = kp->is_initiator = true;
	kp->birth_ns = NOW;
	kp->local_index = index_table_add(&dev->index, peer, kp);
	peer_install_keypair(peer, kp);
	return kp->local_index;
}

/* A transport message to index with counter (its tag is garbage: it is
 * dropped when the run is opened, which is after what we look at). */
static size_t transport_msg(uint8_t *buf, uint32_t index, uint64_t counter)
{
	struct msg_transport *m = (struct msg_transport *)buf;
	size_t len = MSG_TRANSPORT_MIN_LEN + 16;

	memset(buf, 0xa5, len);
	memset(&m->header, 0, sizeof(m->header));
	m->header.type = MSG_TRANSPORT;
	m->receiver_index = host_to_le32(index);
	m->counter = host_to_le64(counter);
	return len;
}

static size_t handshake_msg(uint8_t *buf, uint32_t type)
{
	size_t len = type == MSG_INITIATION ? sizeof(struct msg_initiation) :
		     type == MSG_RESPONSE ? sizeof(struct msg_response) :
		     sizeof(struct msg_cookie_reply);

	memset(buf, 0x5a, len);
	buf[0] = (uint8_t)type;
	buf[1] = buf[2] = buf[3] = 0;
	return len;
}

static const struct {
	int n;
	uint32_t type;		/* what arrives between two transport messages */
	bool queue;		/* the device has a handshake queue */
	size_t run_after;	/* messages in the run once it is in */
} cases[] = {
	{ 1, MSG_INITIATION, true, 1 },		/* queued: the run goes on */
	{ 2, MSG_RESPONSE, true, 1 },		/* queued: the run goes on */
	{ 3, MSG_COOKIE_REPLY, true, 0 },	/* handled on the loop: flushed first */
	{ 4, MSG_INITIATION, false, 0 },	/* no queue: handled at once, flushed first */
	{ 5, 7, true, 0 },			/* unknown type: flushed, dropped */
};

static void test_run_kept_across_queued_handshakes(void **state)
{
	struct device *dev = *state;
	static uint8_t bufs[3][256];
	struct endpoint src = { 0 };
	uint32_t index = peer_with_keypair(dev);

	src.addr.in.sin_family = AF_INET;
	src.addr.in.sin_addr.s_addr = htonl(0xc6120001);	/* 198.18.0.1 */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;

		dev->hsq = cases[i].queue ? hs_queue_start(dev) : NULL;
		if (cases[i].queue)
			assert_non_null(dev->hsq);
		len = transport_msg(bufs[0], index, 2 * i);
		receive_batch_add(dev, bufs[0], len, &src, 0, NOW);
		assert_int_equal(dev->rx_run_len, 1);
		len = handshake_msg(bufs[1], cases[i].type);
		receive_batch_add(dev, bufs[1], len, &src, 0, NOW);
		if (dev->rx_run_len != cases[i].run_after)
			fail_msg("case %d: run of %zu after type %u, want %zu", cases[i].n,
				 dev->rx_run_len, cases[i].type, cases[i].run_after);
		len = transport_msg(bufs[2], index, 2 * i + 1);
		receive_batch_add(dev, bufs[2], len, &src, 0, NOW);
		assert_int_equal(dev->rx_run_len, cases[i].run_after + 1);
		receive_batch_end(dev, NOW);
		assert_int_equal(dev->rx_run_len, 0);
		hs_queue_stop(dev->hsq);
		dev->hsq = NULL;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_run_kept_across_queued_handshakes, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
