/* The event loop's packet I/O (packet_io.c), on socket pairs standing in
 * for the TUN (SOCK_SEQPACKET: one packet per read) and a real UDP socket
 * on loopback:
 *  - when the loop reads the TUN right after a UDP turn wrote to it
 *    (packet_io_tun_answer_due): only after a write, at once while such
 *    tries find packets, once per TUN_ANSWER_BACKOFF writes after a try
 *    found nothing, never with a tun_ring (numbered cases);
 *  - recvmmsg's headers, laid out once and reset only where a call filled
 *    them, still take every datagram across calls of different sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vpnd/common/clock.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/packet_io.h"
#include "vpnd/datapath/receive.h"
#include "device_fixture.h"

#define NOW (1000ULL * NSEC_PER_SEC)

/* The TUN stand-in: fds[0] is the device's tun_fd, fds[1] the kernel's
 * side. Non-blocking, as the daemon's TUN fd. */
static void fake_tun(struct device *dev, int fds[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, fds), 0);
	dev->tun_fd = fds[0];
	dev->tun_vnet_hdr = false;
}

/* Not IP: the read counts (the TUN had a packet), the packet is dropped. */
static void tun_queue_junk(int kernel_side)
{
	static const uint8_t junk[20] = { 0x00 };

	assert_int_equal(write(kernel_side, junk, sizeof(junk)), sizeof(junk));
}

/* One packet for the TUN through receive_flush, as a UDP turn delivers. */
static void deliver_one(struct device *dev)
{
	static uint8_t pkt[64];

	dev->tun_vnet_hdr = true;	/* receive_flush's path: tun_write_batch */
	dev->tun_offloads = 0;
	dev->tun_out[0].data = pkt;
	dev->tun_out[0].len = sizeof(pkt);
	dev->tun_out_count = 1;
	receive_flush(dev);
	dev->tun_vnet_hdr = false;
}

/* The loop's side of it: ask, and read if told to. */
static bool answer_read(struct device *dev)
{
	if (!packet_io_tun_answer_due(dev))
		return false;
	assert_int_equal(packet_io_tun_readable(dev, NOW), IO_OK);
	return true;
}

static void test_answer_due_cases(void **state)
{
	struct device *dev = *state;
	uint8_t sink[256];
	int fds[2];

	fake_tun(dev, fds);
	/* 1: nothing written yet. */
	assert_false(answer_read(dev));
	/* 2: written: tried at once. */
	tun_queue_junk(fds[1]);
	deliver_one(dev);
	assert_true(answer_read(dev));
	assert_int_equal(dev->drops[DROP_INNER_INVALID], 1);
	/* 3: that try found a packet, so the next write is tried too (and
	 * this try finds nothing). */
	deliver_one(dev);
	assert_true(answer_read(dev));
	/* 4: that one found nothing: the next TUN_ANSWER_BACKOFF writes
	 * pass without a try, the one after is tried again. */
	for (int i = 0; i < TUN_ANSWER_BACKOFF; i++) {
		deliver_one(dev);
		assert_false(answer_read(dev));
	}
	deliver_one(dev);
	assert_true(answer_read(dev));
	/* 5: TUN wake-ups (not tries) do not change the count. */
	tun_queue_junk(fds[1]);
	assert_int_equal(packet_io_tun_readable(dev, NOW), IO_OK);
	deliver_one(dev);
	assert_false(answer_read(dev));
	/* 6: a UDP turn that wrote nothing (no datagram waiting): no try. */
	dev->tun_answer_skip = 0;
	packet_io_udp_readable(dev, NOW);
	assert_false(answer_read(dev));
	/* 7: with a tun_ring, never (its reads are not read() calls). */
	deliver_one(dev);
	dev->tun_ring = (struct tun_ring *)sink;	/* only tested for NULL */
	assert_false(packet_io_tun_answer_due(dev));
	dev->tun_ring = NULL;
	assert_int_equal(dev->drops[DROP_INNER_INVALID], 2);
	while (read(fds[1], sink, sizeof(sink)) > 0)
		;
	close(fds[0]);
	close(fds[1]);
	dev->tun_fd = -1;
}

/* A loopback UDP socket pair: *rx becomes the device's udp_fd. */
static void udp_pair(struct device *dev, int *tx)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int bufsz = 4 << 20;

	assert_true(rx >= 0);
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	assert_int_equal(bind(rx, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(rx, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(udp_enable_pktinfo(rx, AF_INET), 0);
	*tx = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(*tx >= 0);
	assert_int_equal(connect(*tx, (struct sockaddr *)&a, sizeof(a)), 0);
	dev->udp_fd = rx;
	dev->udp_family = AF_INET;
}

/* Datagrams of an unknown type: each one taken is counted once. */
static void send_unknown(int tx, int n)
{
	uint8_t msg[32] = { 9 };	/* type 9: no such message */

	for (int i = 0; i < n; i++)
		assert_int_equal(send(tx, msg, sizeof(msg), 0), sizeof(msg));
}

static void test_recvmmsg_headers_reused(void **state)
{
	struct device *dev = *state;
	/* Batches below, at and above BATCH_MAX, then small again: the
	 * entries a big call filled must be reset for the next. */
	static const int batches[] = { 1, 3, BATCH_MAX, 2, BATCH_MAX + 5, 1, 7 };
	uint64_t total = 0;
	int tx;

	udp_pair(dev, &tx);
	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		send_unknown(tx, batches[i]);
		total += (uint64_t)batches[i];
		packet_io_udp_readable(dev, NOW);
		assert_int_equal(dev->drops[DROP_BAD_TYPE], total);
	}
	close(tx);
	close(dev->udp_fd);
	dev->udp_fd = -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answer_due_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recvmmsg_headers_reused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
