/* The event loop's packet I/O (packet_io.c), on socket pairs standing in
 * for the TUN (SOCK_SEQPACKET: one packet per read) and a real UDP socket
 * on loopback:
 *  - when the loop reads the TUN right after a UDP turn wrote to it
 *    (packet_io_tun_answer_due): only after a write, at once while such
 *    tries find packets, once per TUN_ANSWER_BACKOFF writes after a try
 *    found nothing, never with a tun_ring (numbered cases);
 *  - recvmmsg's headers, laid out once and reset only where a call filled
 *    them, still take every datagram across calls of different sizes;
 *  - vnet_hdr reads: a single packet is completed in its send slot (its
 *    partial UDP checksum made whole), a super-packet that would fit in a
 *    slot is still split from tun_read_buf (checked through the ICMP
 *    unreachable the device writes back, which quotes the packet). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handshake/wire.h"
#include "tun/offload.h"
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

/* --- vnet_hdr reads: a single packet is completed in its send slot ---- */

/* IPv4/UDP 198.18.0.1:1000 -> 198.18.0.2:2000 with payload bytes at p
 * (after the 10-byte vnet header), its UDP checksum left partial (the
 * pseudo-header sum, as the kernel leaves it with NEEDS_CSUM) and the
 * vnet header saying so; gso_size > 0: a UDP_L4 super-packet of payloads
 * of that size. Returns the bytes written at p. */
static size_t udp_vnet_packet(uint8_t *p, size_t payload, uint16_t gso_size)
{
	static const uint8_t src[4] = { 198, 18, 0, 1 }, dst[4] = { 198, 18, 0, 2 };
	uint8_t *ip = p + VNET_HDR_LEN, *udp = ip + 20, pseudo[12];
	size_t udp_len = 8 + payload;
	uint16_t partial;

	memset(p, 0, VNET_HDR_LEN + 20 + udp_len);
	p[0] = 1;			/* VIRTIO_NET_HDR_F_NEEDS_CSUM */
	p[1] = gso_size ? 5 : 0;	/* VIRTIO_NET_HDR_GSO_UDP_L4 */
	p[2] = 28;			/* hdr_len */
	p[4] = (uint8_t)gso_size;
	p[5] = (uint8_t)(gso_size >> 8);
	p[6] = 20;			/* csum_start: the UDP header */
	p[8] = 6;			/* csum_offset: its checksum */
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + udp_len) >> 8);
	ip[3] = (uint8_t)(20 + udp_len);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	ip[10] = 0;
	{
		uint16_t c = csum_fold(csum_add(0, ip, 20));

		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
	}
	udp[0] = 1000 >> 8; udp[1] = 1000 & 0xff;
	udp[2] = 2000 >> 8; udp[3] = 2000 & 0xff;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
	for (size_t i = 0; i < payload; i++)
		udp[8 + i] = (uint8_t)(i * 7 + 1);
	memcpy(pseudo, src, 4);
	memcpy(pseudo + 4, dst, 4);
	pseudo[8] = 0;
	pseudo[9] = 17;
	pseudo[10] = (uint8_t)(udp_len >> 8);
	pseudo[11] = (uint8_t)udp_len;
	partial = (uint16_t)~csum_fold(csum_add(0, pseudo, sizeof(pseudo)));
	udp[6] = (uint8_t)(partial >> 8);
	udp[7] = (uint8_t)partial;
	return VNET_HDR_LEN + 20 + udp_len;
}

/* The ICMP unreachable the device wrote back (no route): the packet it
 * quotes (IPv4/UDP) has a valid UDP checksum and ip_len bytes. */
static void check_quoted_udp(int kernel_side, size_t want_ip_len)
{
	uint8_t buf[1600], pseudo[12];
	ssize_t n = read(kernel_side, buf, sizeof(buf));
	const uint8_t *quoted = buf + VNET_HDR_LEN + 20 + 8, *udp = quoted + 20;
	size_t ip_len, udp_len;

	assert_true(n >= (ssize_t)(VNET_HDR_LEN + 20 + 8 + 28));
	assert_int_equal(buf[VNET_HDR_LEN + 20], 3);	/* ICMP destination unreachable */
	ip_len = (size_t)quoted[2] << 8 | quoted[3];
	assert_int_equal(ip_len, want_ip_len);
	udp_len = ip_len - 20;
	assert_true((size_t)n >= VNET_HDR_LEN + 20 + 8 + ip_len);	/* quoted whole */
	memcpy(pseudo, quoted + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	pseudo[10] = (uint8_t)(udp_len >> 8);
	pseudo[11] = (uint8_t)udp_len;
	assert_int_equal(csum_fold(csum_add(csum_add(0, pseudo, sizeof(pseudo)), udp, udp_len)), 0);
}

/* IPv4/TCP super-packet (TSO): two segments of 100 bytes, ACK|PSH, seq
 * 1000, at p after its vnet header (checksum partial). */
static size_t tcp_tso_packet(uint8_t *p)
{
	uint8_t *ip = p + VNET_HDR_LEN, *tcp = ip + 20;
	size_t ip_len = 20 + 20 + 200;

	memset(p, 0, VNET_HDR_LEN + ip_len);
	p[0] = 1;	/* NEEDS_CSUM */
	p[1] = 1;	/* VIRTIO_NET_HDR_GSO_TCPV4 */
	p[2] = 40;
	p[4] = 100;	/* gso_size */
	p[6] = 20;	/* csum_start */
	p[8] = 16;	/* csum_offset */
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 198; ip[13] = 18; ip[14] = 0; ip[15] = 1;
	ip[16] = 198; ip[17] = 18; ip[18] = 0; ip[19] = 2;
	tcp[1] = 80;
	tcp[3] = 90;
	tcp[6] = 1000 >> 8; tcp[7] = 1000 & 0xff;	/* seq */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;	/* ACK|PSH */
	for (size_t i = 0; i < 200; i++)
		tcp[20 + i] = (uint8_t)i;
	return VNET_HDR_LEN + ip_len;
}

/* The next ICMP unreachable's quoted TCP header: its sequence number and
 * flags. */
static void quoted_tcp(int kernel_side, unsigned *seq, uint8_t *flags)
{
	uint8_t buf[1600];
	ssize_t n = read(kernel_side, buf, sizeof(buf));
	const uint8_t *tcp = buf + VNET_HDR_LEN + 20 + 8 + 20;

	assert_true(n >= (ssize_t)(VNET_HDR_LEN + 20 + 8 + 40));
	*seq = (unsigned)tcp[4] << 24 | (unsigned)tcp[5] << 16 | (unsigned)tcp[6] << 8 | tcp[7];
	*flags = tcp[13];
}

static void test_vnet_reads(void **state)
{
	struct device *dev = *state;
	uint8_t pkt[2048];
	size_t n;
	int fds[2];

	fake_tun(dev, fds);
	dev->tun_vnet_hdr = true;
	/* A single packet: read into its slot, checksum completed there. */
	n = udp_vnet_packet(pkt, 16, 0);
	assert_int_equal(write(fds[1], pkt, n), (ssize_t)n);
	assert_int_equal(packet_io_tun_readable(dev, NOW), IO_OK);
	assert_int_equal(dev->drops[DROP_NO_ROUTE], 1);
	check_quoted_udp(fds[1], 20 + 8 + 16);
	/* ... read by the kernel into the send slot itself: its vnet header
	 * sits in the slot's headroom (a read into tun_read_buf, as before,
	 * would not have put it there). */
	assert_memory_equal(dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN - VNET_HDR_LEN,
			    pkt, VNET_HDR_LEN);
	/* A UDP_L4 super-packet small enough to fit in one slot: split from
	 * tun_read_buf, not over itself. */
	n = udp_vnet_packet(pkt, 200, 100);
	assert_int_equal(write(fds[1], pkt, n), (ssize_t)n);
	assert_int_equal(packet_io_tun_readable(dev, NOW), IO_OK);
	assert_int_equal(dev->drops[DROP_NO_ROUTE], 3);
	assert_int_equal(dev->drops[DROP_INNER_INVALID], 0);
	check_quoted_udp(fds[1], 20 + 8 + 100);
	check_quoted_udp(fds[1], 20 + 8 + 100);
	/* A TSO super-packet that fits in a slot: the first segment must not
	 * be written over the super-packet, whose header the last one still
	 * needs (PSH stays on the last only). */
	n = tcp_tso_packet(pkt);
	assert_int_equal(write(fds[1], pkt, n), (ssize_t)n);
	assert_int_equal(packet_io_tun_readable(dev, NOW), IO_OK);
	assert_int_equal(dev->drops[DROP_NO_ROUTE], 5);
	{
		unsigned seq;
		uint8_t flags;

		quoted_tcp(fds[1], &seq, &flags);
		assert_int_equal(seq, 1000);
		assert_int_equal(flags, 0x10);
		quoted_tcp(fds[1], &seq, &flags);
		assert_int_equal(seq, 1100);
		assert_int_equal(flags, 0x18);
	}
	/* A single packet past the MTU (one that changed under us): it runs
	 * on into tun_read_buf and is handled from there, checksum and all. */
	device_set_mtu(dev, 100);
	n = udp_vnet_packet(pkt, 200, 0);
	assert_int_equal(write(fds[1], pkt, n), (ssize_t)n);
	assert_int_equal(packet_io_tun_readable(dev, NOW), IO_OK);
	assert_int_equal(dev->drops[DROP_NO_ROUTE], 6);
	check_quoted_udp(fds[1], 20 + 8 + 200);
	/* Shorter than a vnet header: dropped as invalid. */
	assert_int_equal(write(fds[1], pkt, 5), 5);
	assert_int_equal(packet_io_tun_readable(dev, NOW), IO_OK);
	assert_int_equal(dev->drops[DROP_INNER_INVALID], 1);
	close(fds[0]);
	close(fds[1]);
	dev->tun_fd = -1;
}

/* A dual-stack UDP socket on loopback as the device's udp_fd (as the
 * daemon's: IPv6, v4-mapped IPv4, packet info and DS asked for), and one
 * sender of each family. An IPv4 datagram brings more control data
 * (IP_PKTINFO, IPV6_PKTINFO, IP_TOS) than an IPv6 one (IPV6_PKTINFO,
 * IPV6_TCLASS), so a header left as the kernel shrank it cuts the next. */
static void udp_dual(struct device *dev, int *tx4, int *tx6)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in to4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t alen = sizeof(a);
	int rx = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0), off = 0, bufsz = 4 << 20;

	assert_true(rx >= 0);
	assert_int_equal(setsockopt(rx, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	assert_int_equal(bind(rx, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(rx, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(udp_enable_pktinfo(rx, AF_INET6), 0);
	to4.sin_port = to6.sin6_port = a.sin6_port;
	*tx4 = socket(AF_INET, SOCK_DGRAM, 0);
	*tx6 = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(*tx4 >= 0 && *tx6 >= 0);
	assert_int_equal(connect(*tx4, (struct sockaddr *)&to4, sizeof(to4)), 0);
	assert_int_equal(connect(*tx6, (struct sockaddr *)&to6, sizeof(to6)), 0);
	dev->udp_fd = rx;
	dev->udp_family = AF_INET6;
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
	/* Batches below, at and above BATCH_MAX, then small again, IPv6 and
	 * IPv4 taking turns: the entries a call filled must be reset for the
	 * next, or an IPv4 datagram's control data is cut (MSG_CTRUNC). */
	static const struct { int n; bool v6; } batches[] = {
		{ 1, false }, { 3, true }, { BATCH_MAX, true }, { 2, false },
		{ BATCH_MAX + 5, false }, { 1, true }, { 7, false }, { BATCH_MAX, true },
		{ BATCH_MAX, false },
	};
	uint64_t total = 0;
	int tx4, tx6;

	udp_dual(dev, &tx4, &tx6);
	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		send_unknown(batches[i].v6 ? tx6 : tx4, batches[i].n);
		total += (uint64_t)batches[i].n;
		packet_io_udp_readable(dev, NOW);
		assert_int_equal(dev->drops[DROP_BAD_TYPE], total);
		assert_int_equal(dev->rx_cmsg_truncated, 0);
	}
	close(tx4);
	close(tx6);
	close(dev->udp_fd);
	dev->udp_fd = -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answer_due_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recvmmsg_headers_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_reads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
