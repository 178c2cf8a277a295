/* Unit tests for the ICMP destination-unreachable errors (vpnd/datapath/
 * icmp.c): a numbered table of packets that must or must not get one,
 * every error's checksums verified independently, the quoted part and its
 * size limits, and the device's rate limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "tun/offload.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/icmp.h"

static uint8_t pkt[2000], out[ICMP_ERR_MAX];

/* An IPv4 packet: protocol proto, from src to dst (dotted bytes), total
 * length len, fragment field frag, first payload byte b0. */
static size_t v4(uint8_t proto, const uint8_t src[4], const uint8_t dst[4], size_t len,
		 uint16_t frag, uint8_t b0)
{
	memset(pkt, 0xab, sizeof(pkt));
	memset(pkt, 0, 20);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8), pkt[3] = (uint8_t)len;
	pkt[6] = (uint8_t)(frag >> 8), pkt[7] = (uint8_t)frag;
	pkt[8] = 64;
	pkt[9] = proto;
	memcpy(pkt + 12, src, 4);
	memcpy(pkt + 16, dst, 4);
	pkt[20] = b0;
	return len;
}

/* An IPv6 packet: next header nh, src and dst from their last bytes and
 * first byte (0x20 = 2001:db8::, 0xff = multicast, 0 = ::), payload b0,
 * b1 (for an extension header: its next header and length, or a fragment
 * header's offset). */
static size_t v6(uint8_t nh, uint8_t src_first, uint8_t dst_first, size_t len, uint8_t b0,
		 uint8_t b1, uint16_t frag_off)
{
	memset(pkt, 0xab, sizeof(pkt));
	memset(pkt, 0, 40);
	pkt[0] = 0x60;
	pkt[4] = (uint8_t)((len - 40) >> 8), pkt[5] = (uint8_t)(len - 40);
	pkt[6] = nh;
	pkt[7] = 64;
	if (src_first) {
		pkt[8] = src_first, pkt[9] = src_first == 0x20 ? 0x01 : 0x02, pkt[23] = 1;
		if (src_first == 0x20)
			pkt[10] = 0x0d, pkt[11] = 0xb8;
	}
	pkt[24] = dst_first, pkt[25] = dst_first == 0x20 ? 0x01 : 0x02, pkt[39] = 2;
	if (dst_first == 0x20)
		pkt[26] = 0x0d, pkt[27] = 0xb8;
	pkt[40] = b0;
	pkt[41] = b1;
	pkt[42] = (uint8_t)(frag_off >> 8), pkt[43] = (uint8_t)frag_off;
	return len;
}

/* The Internet checksum over data (with its checksum field) folds to 0. */
static void assert_csum_ok(uint32_t sum, const uint8_t *data, size_t len)
{
	assert_int_equal(csum_fold(csum_add(sum, data, len)), 0);
}

static void check_v4_error(size_t in_len, size_t n)
{
	size_t quoted = in_len < 576 - 28 ? in_len : 576 - 28;

	assert_int_equal(n, 28 + quoted);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(out[2] << 8 | out[3], n);
	assert_int_equal(out[9], 1);
	assert_memory_equal(out + 12, pkt + 16, 4);	/* from the destination */
	assert_memory_equal(out + 16, pkt + 12, 4);	/* to the source */
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], 1);
	assert_memory_equal(out + 28, pkt, quoted);
	assert_csum_ok(0, out, 20);
	assert_csum_ok(0, out + 20, n - 20);
}

static void check_v6_error(size_t in_len, size_t n)
{
	size_t quoted = in_len < 1280 - 48 ? in_len : 1280 - 48;
	uint8_t pseudo[8] = { 0, 0, (uint8_t)((n - 40) >> 8), (uint8_t)(n - 40), 0, 0, 0, 58 };

	assert_int_equal(n, 48 + quoted);
	assert_int_equal(out[0] >> 4, 6);
	assert_int_equal(out[4] << 8 | out[5], n - 40);
	assert_int_equal(out[6], 58);
	assert_memory_equal(out + 8, pkt + 24, 16);
	assert_memory_equal(out + 24, pkt + 8, 16);
	assert_int_equal(out[40], 1);
	assert_int_equal(out[41], 3);
	assert_memory_equal(out + 48, pkt, quoted);
	assert_csum_ok(csum_add(csum_add(0, out + 8, 32), pseudo, 8), out + 40, n - 40);
}

static const uint8_t A[4] = { 198, 18, 0, 1 }, B[4] = { 198, 19, 0, 9 };
static const uint8_t MC[4] = { 224, 0, 0, 1 }, BC[4] = { 255, 255, 255, 255 };
static const uint8_t ZERO[4] = { 0, 0, 0, 0 };

/* Numbered cases: each builds a packet and says whether it gets an error. */
static void test_table(void **state)
{
	static const struct {
		int n;
		int family;
		uint8_t proto;
		const uint8_t *src, *dst;
		size_t len;
		uint16_t frag;
		uint8_t b0, b1;
		uint8_t src6, dst6;
		bool answered;
	} cases[] = {
		{ 1, 4, 17, A, B, 60, 0, 0, 0, 0, 0, true },	/* UDP */
		{ 2, 4, 6, A, B, 1400, 0, 0, 0, 0, 0, true },	/* TCP, cut to 576 */
		{ 3, 4, 1, A, B, 84, 0, 8, 0, 0, 0, true },	/* echo request */
		{ 4, 4, 1, A, B, 84, 0, 0, 0, 0, 0, false },	/* echo reply */
		{ 5, 4, 1, A, B, 84, 0, 3, 0, 0, 0, false },	/* an error itself */
		{ 6, 4, 17, A, B, 60, 0x2000, 0, 0, 0, 0, true },	/* first fragment */
		{ 7, 4, 17, A, B, 60, 0x0010, 0, 0, 0, 0, false },	/* later fragment */
		{ 8, 4, 17, A, MC, 60, 0, 0, 0, 0, 0, false },	/* multicast dst */
		{ 9, 4, 17, MC, B, 60, 0, 0, 0, 0, 0, false },	/* multicast src */
		{ 10, 4, 17, BC, B, 60, 0, 0, 0, 0, 0, false },	/* broadcast src */
		{ 11, 4, 17, ZERO, B, 60, 0, 0, 0, 0, 0, false },	/* 0.0.0.0 src */
		{ 12, 6, 17, NULL, NULL, 100, 0, 0, 0, 0x20, 0x20, true },	/* UDP */
		{ 13, 6, 6, NULL, NULL, 2000, 0, 0, 0, 0x20, 0x20, true },	/* cut to 1280 */
		{ 14, 6, 58, NULL, NULL, 104, 0, 128, 0, 0x20, 0x20, true },	/* echo request */
		{ 15, 6, 58, NULL, NULL, 104, 0, 1, 0, 0x20, 0x20, false },	/* an error */
		{ 16, 6, 17, NULL, NULL, 100, 0, 0, 0, 0x20, 0xff, false },	/* multicast dst */
		{ 17, 6, 17, NULL, NULL, 100, 0, 0, 0, 0, 0x20, false },	/* :: src */
		{ 18, 6, 17, NULL, NULL, 100, 0, 0, 0, 0xff, 0x20, false },	/* multicast src */
		{ 19, 6, 44, NULL, NULL, 100, 0, 17, 0, 0x20, 0x20, true },	/* 1st fragment */
		{ 20, 6, 44, NULL, NULL, 100, 0x0100, 17, 0, 0x20, 0x20, false },	/* later */
		{ 21, 6, 0, NULL, NULL, 100, 0, 58, 0, 0x20, 0x20, true },	/* hop-by-hop... */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len, n;

		if (cases[i].family == 4)
			len = v4(cases[i].proto, cases[i].src, cases[i].dst, cases[i].len,
				 cases[i].frag, cases[i].b0);
		else
			len = v6(cases[i].proto, cases[i].src6, cases[i].dst6, cases[i].len,
				 cases[i].b0, cases[i].b1, cases[i].frag);
		if (cases[i].n == 21)
			pkt[48] = 128;	/* ... then an ICMPv6 echo request: answered */
		n = icmp_build_unreachable(pkt, len, out);
		if (!cases[i].answered) {
			if (n)
				fail_msg("case %d: answered", cases[i].n);
			continue;
		}
		if (!n)
			fail_msg("case %d: not answered", cases[i].n);
		if (cases[i].family == 4)
			check_v4_error(len, n);
		else
			check_v6_error(len, n);
	}
}

/* Not IP, or too short for its header: nothing. */
static void test_invalid(void **state)
{
	(void)state;
	memset(pkt, 0, sizeof(pkt));
	assert_int_equal(icmp_build_unreachable(pkt, 0, out), 0);
	assert_int_equal(icmp_build_unreachable(pkt, 60, out), 0);	/* version 0 */
	v4(17, A, B, 60, 0, 0);
	assert_int_equal(icmp_build_unreachable(pkt, 19, out), 0);
	pkt[0] = 0x44;						/* IHL 16 bytes */
	assert_int_equal(icmp_build_unreachable(pkt, 60, out), 0);
	v6(17, 0x20, 0x20, 100, 0, 0, 0);
	assert_int_equal(icmp_build_unreachable(pkt, 39, out), 0);
}

/* The device writes at most ICMP_BURST at once, then ICMP_RATE a second. */
static void test_rate_limit(void **state)
{
	struct device *dev = malloc(sizeof(*dev));
	uint64_t t = 5000000000ull;
	int fds[2];

	(void)state;
	assert_non_null(dev);
	assert_int_equal(device_init(dev, "icmp0"), 0);
	/* Datagrams, like a TUN: one read, one error. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds), 0);
	dev->tun_fd = fds[1];
	dev->tun_vnet_hdr = false;
	v4(17, A, B, 60, 0, 0);
	for (int i = 0; i < 3 * ICMP_BURST; i++)
		icmp_send_unreachable(dev, pkt, 60, t);
	assert_int_equal(dev->icmp_sent, ICMP_BURST);
	assert_int_equal(read(fds[0], out, sizeof(out)), 88);	/* one error, whole */
	for (int i = 0; i < 3 * ICMP_RATE; i++)
		icmp_send_unreachable(dev, pkt, 60, t + 1000000000ull);
	assert_int_equal(dev->icmp_sent, 2 * ICMP_BURST);	/* the bucket holds 10 */
	for (int i = 0; i < 10; i++)
		icmp_send_unreachable(dev, pkt, 60, t + 1000000000ull + 50000000ull * (uint64_t)i);
	assert_true(dev->icmp_sent >= 2 * ICMP_BURST + 9);
	dev->tun_fd = -1;
	close(fds[0]);
	close(fds[1]);
	device_destroy(dev);
	free(dev);
}

static int group_setup(void **state)
{
	(void)state;
	return wg_crypto_init() ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_rate_limit),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
