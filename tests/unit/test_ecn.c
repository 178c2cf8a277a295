/* Unit tests for ECN across the tunnel (vpnd/datapath/ecn.c), against the
 * kernel's WireGuard: ip_tunnel_ecn_encap(0, ...) on the way out and
 * INET_ECN_decapsulate (its verdict ignored) on the way in. Numbered tables
 * of inner x outer codepoints, for IPv4 (the header checksum recomputed
 * here from scratch, with several DSCPs and headers) and IPv6 (the traffic
 * class and flow label around the field kept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tun/offload.h"
#include "vpnd/datapath/ecn.h"

enum { NE = ECN_NOT_ECT, E1 = ECN_ECT_1, E0 = ECN_ECT_0, CE = ECN_CE };

/* Decapsulation: inner ECN x outer ECN -> inner ECN delivered. RFC 6040
 * figure 4, except that an inner Not-ECT is delivered unchanged (never
 * dropped) under an outer CE, as the kernel's WireGuard does. */
static const struct {
	uint8_t inner, outer, want;
} decap[] = {
	/*  1 */ { NE, NE, NE }, /*  2 */ { NE, E0, NE },
	/*  3 */ { NE, E1, NE }, /*  4 */ { NE, CE, NE },	/* RFC: drop; kernel: deliver */
	/*  5 */ { E0, NE, E0 }, /*  6 */ { E0, E0, E0 },
	/*  7 */ { E0, E1, E1 }, /*  8 */ { E0, CE, CE },
	/*  9 */ { E1, NE, E1 }, /* 10 */ { E1, E0, E1 },
	/* 11 */ { E1, E1, E1 }, /* 12 */ { E1, CE, CE },
	/* 13 */ { CE, NE, CE }, /* 14 */ { CE, E0, CE },
	/* 15 */ { CE, E1, CE }, /* 16 */ { CE, CE, CE },
};

/* Encapsulation: inner ECN -> outer ECN (RFC 3168 9.1.1: CE as ECT(0)). */
static const uint8_t encap[4] = { [NE] = NE, [E1] = E1, [E0] = E0, [CE] = E0 };

/* Header checksums met on the way: every DSCP, and header bytes chosen so
 * that the checksum runs through 0x0000/0xffff and other odd corners. */
static const uint8_t dscps[] = { 0x00, 0x04, 0x88, 0xb8, 0xfc };
static const uint16_t ids[] = { 0x0000, 0x0001, 0x7fff, 0xfffe, 0xffff, 0x1234 };

/* The ones' complement sum over an IPv4 header, computed here, not by the
 * code under test: 0xffff when its checksum is right. */
static uint16_t header_sum(const uint8_t *h)
{
	uint32_t s = 0;

	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void v4_header(uint8_t *h, uint8_t tos, uint16_t id)
{
	uint16_t c;

	memset(h, 0, 60);
	h[0] = 0x45, h[1] = tos, h[3] = 60;
	h[4] = (uint8_t)(id >> 8), h[5] = (uint8_t)id;
	h[6] = 0x40, h[8] = 64, h[9] = 6;
	h[12] = 198, h[13] = 18, h[14] = 7, h[15] = 1;
	h[16] = 198, h[17] = 19, h[18] = 7, h[19] = 2;
	c = (uint16_t)~header_sum(h);
	h[10] = (uint8_t)(c >> 8), h[11] = (uint8_t)c;
}

static void v6_header(uint8_t *h, uint8_t tclass)
{
	memset(h, 0, 80);
	h[0] = (uint8_t)(0x60 | tclass >> 4);
	h[1] = (uint8_t)(tclass << 4 | 0x0a);	/* flow label 0xabcde */
	h[2] = 0xbc, h[3] = 0xde;
	h[5] = 40, h[6] = 6, h[7] = 64;
	h[8] = 0x20, h[9] = 0x01, h[10] = 0x0d, h[11] = 0xb8;
	h[24] = 0x20, h[25] = 0x01, h[26] = 0x0d, h[27] = 0xb8, h[39] = 2;
}

static void test_decapsulate_ipv4(void **state)
{
	uint8_t h[60], before[60];
	char what[80];

	(void)state;
	for (size_t r = 0; r < sizeof(decap) / sizeof(decap[0]); r++) {
		for (size_t d = 0; d < sizeof(dscps); d++) {
			for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
				for (unsigned odscp = 0; odscp <= 0xb8; odscp += 0xb8) {
					snprintf(what, sizeof(what), "row %zu, dscp %02x, id %04x", r + 1,
						 dscps[d], ids[k]);
					v4_header(h, (uint8_t)(dscps[d] | decap[r].inner), ids[k]);
					memcpy(before, h, sizeof(h));
					/* the outer DSCP never matters */
					ecn_decapsulate(h, sizeof(h), (uint8_t)(odscp | decap[r].outer));
					if ((h[1] & ECN_MASK) != decap[r].want)
						fail_msg("%s: ECN %d, want %d", what, h[1] & ECN_MASK,
							 decap[r].want);
					if ((h[1] & ~ECN_MASK) != dscps[d])
						fail_msg("%s: DSCP changed", what);
					if (header_sum(h) != 0xffff)
						fail_msg("%s: header checksum wrong", what);
					/* only the TOS and the checksum may change */
					if (memcmp(h, before, 1) || memcmp(h + 2, before + 2, 8) ||
					    memcmp(h + 12, before + 12, sizeof(h) - 12))
						fail_msg("%s: other bytes changed", what);
					if (decap[r].want == decap[r].inner &&
					    memcmp(h, before, sizeof(h)))
						fail_msg("%s: changed though nothing was to change", what);
				}
			}
		}
	}
}

static void test_decapsulate_ipv6(void **state)
{
	uint8_t h[80], before[80];

	(void)state;
	for (size_t r = 0; r < sizeof(decap) / sizeof(decap[0]); r++) {
		for (size_t d = 0; d < sizeof(dscps); d++) {
			uint8_t tclass;

			v6_header(h, (uint8_t)(dscps[d] | decap[r].inner));
			memcpy(before, h, sizeof(h));
			ecn_decapsulate(h, sizeof(h), (uint8_t)(0x88 | decap[r].outer));
			tclass = (uint8_t)(h[0] << 4 | h[1] >> 4);
			if ((tclass & ECN_MASK) != decap[r].want)
				fail_msg("row %zu, dscp %02x: ECN %d, want %d", r + 1, dscps[d],
					 tclass & ECN_MASK, decap[r].want);
			if ((tclass & ~ECN_MASK) != dscps[d] || h[0] != before[0] ||
			    (h[1] & 0x0f) != (before[1] & 0x0f) || memcmp(h + 2, before + 2, 78))
				fail_msg("row %zu, dscp %02x: other bits changed", r + 1, dscps[d]);
		}
	}
}

static void test_encapsulate(void **state)
{
	uint8_t h[80];

	(void)state;
	for (uint8_t ecn = 0; ecn < 4; ecn++) {
		for (size_t d = 0; d < sizeof(dscps); d++) {
			v4_header(h, (uint8_t)(dscps[d] | ecn), 1);
			assert_int_equal(ecn_encapsulate(h, 60), encap[ecn]);	/* DSCP 0 */
			v6_header(h, (uint8_t)(dscps[d] | ecn));
			assert_int_equal(ecn_encapsulate(h, 80), encap[ecn]);
		}
	}
	/* A keepalive (no inner packet) and anything not IP: TOS 0. */
	assert_int_equal(ecn_encapsulate(h, 0), 0);
	h[0] = 0x53, h[1] = 0xff;
	assert_int_equal(ecn_encapsulate(h, 60), 0);
}

/* Short or foreign packets are left alone (the receive path checks the
 * header first; this is the function's own guard). */
static void test_decapsulate_short(void **state)
{
	uint8_t h[80], before[80];

	(void)state;
	v4_header(h, E0, 7);
	memcpy(before, h, sizeof(h));
	ecn_decapsulate(h, 19, CE);
	assert_memory_equal(h, before, sizeof(h));
	h[0] = 0x53;
	memcpy(before, h, sizeof(h));
	ecn_decapsulate(h, sizeof(h), CE);
	assert_memory_equal(h, before, sizeof(h));
	v6_header(h, E0);
	memcpy(before, h, sizeof(h));
	ecn_decapsulate(h, 39, CE);
	assert_memory_equal(h, before, sizeof(h));
}

/* --- the TUN's GRO merge after decapsulation --------------------------------
 * Two consecutive TCP segments (or UDP datagrams) of one flow, ECT(0), with
 * valid checksums;
 * the outer CE of one of them (only) must keep them apart: a merged
 * super-packet has one ECN field. Marked alike, they still merge, so the
 * fixed checksum is one the merge's own verification accepts. */

#define SEG_PAYLOAD 100

static uint16_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* A segment of the flow at sequence number seq: IPv4 (v6 false) or IPv6,
 * TCP or (udp) a UDP datagram, ECN field ecn; returns its length. */
static size_t segment(uint8_t *p, bool v6, bool udp, uint8_t ecn, uint32_t seq)
{
	size_t l4 = v6 ? 40 : 20, len = l4 + (udp ? 8 : 20) + SEG_PAYLOAD;
	uint8_t *t = p + l4;
	uint32_t pseudo;
	uint16_t c;

	if (v6) {
		v6_header(p, ecn);
		p[6] = udp ? 17 : 6;
		p[4] = (uint8_t)((len - 40) >> 8), p[5] = (uint8_t)(len - 40);
	} else {
		v4_header(p, ecn, 0x4242);
		p[9] = udp ? 17 : 6;
		p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len;
		p[10] = p[11] = 0;
		c = (uint16_t)~sum16(0, p, 20);
		p[10] = (uint8_t)(c >> 8), p[11] = (uint8_t)c;
	}
	memset(t, 0, len - l4);
	t[0] = 0x9c, t[1] = 0x40, t[2] = 0x14, t[3] = 0x51;	/* ports */
	if (udp) {
		t[4] = (uint8_t)((len - l4) >> 8), t[5] = (uint8_t)(len - l4);
	} else {
		t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16);
		t[6] = (uint8_t)(seq >> 8), t[7] = (uint8_t)seq;
		t[11] = 1;			/* ack */
		t[12] = 0x50, t[13] = 0x10;	/* 20-byte header, ACK */
		t[14] = 0xff, t[15] = 0xff;
	}
	for (size_t i = 0; i < SEG_PAYLOAD; i++)
		t[len - l4 - SEG_PAYLOAD + i] = (uint8_t)(seq + i);
	pseudo = v6 ? sum16(0, p + 8, 32) : sum16(0, p + 12, 8);
	pseudo += (udp ? 17u : 6u) + (uint32_t)(len - l4);
	c = (uint16_t)~sum16(pseudo, t, len - l4);
	if (udp && c == 0)
		c = 0xffff;
	t[udp ? 6 : 16] = (uint8_t)(c >> 8), t[udp ? 7 : 17] = (uint8_t)c;
	return len;
}

static void test_gro_after_decapsulation(void **state)
{
	uint8_t a[200], b[200];

	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (int udp = 0; udp <= 1; udp++) {
			size_t la = segment(a, v6, udp, ECN_ECT_0, 1000);
			size_t lb = segment(b, v6, udp, ECN_ECT_0, 1000 + SEG_PAYLOAD);

			assert_true(gro_can_merge(a, la, a, la, b, lb, la));
			ecn_decapsulate(b, lb, ECN_CE);		/* only b met congestion */
			assert_false(gro_can_merge(a, la, a, la, b, lb, la));
			ecn_decapsulate(a, la, ECN_CE);		/* a too: one field again */
			assert_true(gro_can_merge(a, la, a, la, b, lb, la));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decapsulate_ipv4),
		cmocka_unit_test(test_decapsulate_ipv6),
		cmocka_unit_test(test_encapsulate),
		cmocka_unit_test(test_decapsulate_short),
		cmocka_unit_test(test_gro_after_decapsulation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
