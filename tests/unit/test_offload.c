/* Unit tests for tun/offload.c (TUN IFF_VNET_HDR offloads).
 *
 *  - Internet checksum: RFC 1071 examples, and csum_add/csum_fold against a
 *    naive word-at-a-time reference over random buffers;
 *  - GSO split: super-packets built here the way the kernel writes them
 *    (vnet header with NEEDS_CSUM, L4 checksum field = pseudo-header sum),
 *    split with gso_begin/gso_next, each segment checked field by field and
 *    byte for byte against a segment built independently by the test;
 *    single packets (checksum completed or copied), truncated and unsupported
 *    inputs, and a fuzz loop with exact-size buffers (run it under ASan);
 *  - GRO: a numbered gro_can_merge table, and tun_write_batch into a
 *    SOCK_SEQPACKET socketpair (one record per write) whose records are
 *    checked and then re-split with gso_begin/gso_next: the round trip must
 *    give back the original segments byte for byte.
 *
 * Fixed seeds: every failure reproduces. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tun/offload.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Every offload a 6.2+ kernel accepts: tun_write_batch may merge all kinds. */
#define OFF_ALL (TUN_OFF_CSUM | TUN_OFF_TSO4 | TUN_OFF_TSO6 | TUN_OFF_USO4 | TUN_OFF_USO6)

enum {
	TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08,
	TH_ACK = 0x10, TH_URG = 0x20, TH_ECE = 0x40, TH_CWR = 0x80,
};

/* virtio_net_hdr values, spelled out here rather than taken from the code
 * under test. */
#define VF_NEEDS_CSUM 1
#define VF_DATA_VALID 2
#define VT_NONE   0
#define VT_TCPV4  1
#define VT_UDP    3	/* UFO: not supported */
#define VT_TCPV6  4
#define VT_UDP_L4 5
#define VT_ECN    0x80

#define IP_DF 0x4000
#define IP_MF 0x2000

#define BIG_CAP (VNET_HDR_LEN + 65535 + 64)

/* --- helpers ------------------------------------------------------------- */

/* splitmix64: a fixed, documented generator so failures reproduce. */
static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s;
}

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform enough in [0, n) for tests; n > 0. */
static size_t rng_below(size_t n)
{
	return (size_t)(rng_next() % n);
}

static void rng_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng_next();
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t rdle16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void wrle16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	assert_non_null(d);
	if (len)
		memcpy(d, p, len);
	return d;
}

/* RFC 1071 the slow way: one big-endian 16-bit word at a time (odd tail
 * padded with a zero byte), end-around carry after every addition. acc is a
 * folded sum to continue from. */
static uint16_t ref_sum(uint16_t acc, const uint8_t *p, size_t len)
{
	uint32_t s = acc;

	for (size_t i = 0; i < len; i += 2) {
		s += (uint32_t)(p[i] << 8 | (i + 1 < len ? p[i + 1] : 0));
		if (s > 0xffff)
			s -= 0xffff;
	}
	return (uint16_t)s;
}

/* Folded (not complemented) pseudo-header sum of the IP packet at ip for an
 * L4 segment of l4_len bytes. */
static uint16_t ref_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint8_t ph[40] = { 0 };

	if (ip[0] >> 4 == 4) {
		memcpy(ph, ip + 12, 8);
		ph[9] = proto;
		wr16(ph + 10, (uint32_t)l4_len);
		return ref_sum(0, ph, 12);
	}
	memcpy(ph, ip + 8, 32);
	wr32(ph + 32, (uint32_t)l4_len);
	ph[39] = proto;
	return ref_sum(0, ph, 40);
}

/* --- packet builder ------------------------------------------------------ */

struct flow {
	bool v6, udp;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint16_t win, urg;
	uint16_t id, frag;	/* IPv4 id and flags+fragment offset word */
	uint8_t tos, ttl;	/* IPv6: traffic class, hop limit */
	uint32_t label;		/* IPv6 flow label */
	uint8_t ip_opt;		/* IPv4 option bytes (NOPs), multiple of 4 */
	uint8_t opt[40];	/* TCP options */
	uint8_t opt_len;	/* multiple of 4 */
};

enum csum_mode {
	CS_FULL,	/* complete, valid checksums */
	CS_PARTIAL,	/* L4 field = folded pseudo-header sum (CHECKSUM_PARTIAL) */
};

static size_t l3_len(const struct flow *f)
{
	return f->v6 ? 40 : 20 + (size_t)f->ip_opt;
}

static size_t l4h_len(const struct flow *f)
{
	return f->udp ? 8 : 20 + (size_t)f->opt_len;
}

static size_t hdrs_len(const struct flow *f)
{
	return l3_len(f) + l4h_len(f);
}

static size_t csum_field(const struct flow *f)
{
	return f->udp ? 6 : 16;
}

/* NOP, NOP, timestamps(tsval, tsecr). */
static void set_timestamps(struct flow *f, uint32_t tsval, uint32_t tsecr)
{
	f->opt[0] = 1;
	f->opt[1] = 1;
	f->opt[2] = 8;
	f->opt[3] = 10;
	wr32(f->opt + 4, tsval);
	wr32(f->opt + 8, tsecr);
	f->opt_len = 12;
}

static void flow_init(struct flow *f, bool v6, bool udp, bool ts)
{
	static const uint8_t a6[16] = { 0xfd, 0x00, 0x00, 0x00, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t b6[16] = { 0xfd, 0x00, 0x00, 0x00, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 2 };
	static const uint8_t a4[4] = { 10, 7, 0, 1 }, b4[4] = { 10, 7, 0, 2 };

	memset(f, 0, sizeof(*f));
	f->v6 = v6;
	f->udp = udp;
	memcpy(f->src, v6 ? a6 : a4, v6 ? 16 : 4);
	memcpy(f->dst, v6 ? b6 : b4, v6 ? 16 : 4);
	f->sport = 41000;
	f->dport = 5201;
	f->seq = 0x10203040;
	f->ack = 0x0a0b0c0d;
	f->win = 502;
	f->id = 0x1234;
	f->frag = IP_DF;
	f->ttl = 64;
	f->label = 0x5abcd;
	if (ts && !udp)
		set_timestamps(f, 0x01020304, 0x0a0b0c0d);
}

/* Random addresses, ports, numbers; seq and id sometimes just below their
 * wrap. */
static void flow_random(struct flow *f, bool v6, bool udp, bool ts)
{
	flow_init(f, v6, udp, false);
	rng_fill(f->src, 16);
	rng_fill(f->dst, 16);
	f->sport = (uint16_t)rng_next();
	f->dport = (uint16_t)rng_next();
	f->seq = rng_below(4) ? (uint32_t)rng_next() : 0xffffffffu - (uint32_t)rng_below(70000);
	f->ack = (uint32_t)rng_next();
	f->win = (uint16_t)rng_next();
	f->id = rng_below(4) ? (uint16_t)rng_next() : (uint16_t)(0xffff - rng_below(50));
	f->frag = rng_below(2) ? IP_DF : 0;
	f->tos = (uint8_t)rng_next();
	f->ttl = (uint8_t)(1 + rng_below(255));
	f->label = (uint32_t)rng_next() & 0xfffff;
	if (ts && !udp) {
		uint32_t tsval = (uint32_t)rng_next();

		set_timestamps(f, tsval, (uint32_t)rng_next());
	}
}

/* Builds one IP packet into out; returns its length. */
static size_t build(const struct flow *f, uint8_t flags, const uint8_t *pay, size_t plen,
		    enum csum_mode mode, uint8_t *out)
{
	size_t l3 = l3_len(f), l4h = l4h_len(f), len = l3 + l4h + plen;
	uint8_t proto = f->udp ? 17 : 6, *l4 = out + l3;
	uint16_t ps;

	memset(out, 0, l3 + l4h);
	if (!f->v6) {
		out[0] = (uint8_t)(0x40 | l3 / 4);
		out[1] = f->tos;
		wr16(out + 2, (uint32_t)len);
		wr16(out + 4, f->id);
		wr16(out + 6, f->frag);
		out[8] = f->ttl;
		out[9] = proto;
		memcpy(out + 12, f->src, 4);
		memcpy(out + 16, f->dst, 4);
		memset(out + 20, 1, l3 - 20);
		wr16(out + 10, (uint16_t)~ref_sum(0, out, l3));
	} else {
		out[0] = (uint8_t)(0x60 | f->tos >> 4);
		out[1] = (uint8_t)(f->tos << 4 | (f->label >> 16 & 0x0f));
		out[2] = (uint8_t)(f->label >> 8);
		out[3] = (uint8_t)f->label;
		wr16(out + 4, (uint32_t)(len - 40));
		out[6] = proto;
		out[7] = f->ttl;
		memcpy(out + 8, f->src, 16);
		memcpy(out + 24, f->dst, 16);
	}
	wr16(l4, f->sport);
	wr16(l4 + 2, f->dport);
	if (f->udp) {
		wr16(l4 + 4, (uint32_t)(l4h + plen));
	} else {
		wr32(l4 + 4, f->seq);
		wr32(l4 + 8, f->ack);
		l4[12] = (uint8_t)(l4h / 4 << 4);
		l4[13] = flags;
		wr16(l4 + 14, f->win);
		wr16(l4 + 18, f->urg);
		memcpy(l4 + 20, f->opt, f->opt_len);
	}
	if (plen)
		memcpy(l4 + l4h, pay, plen);
	ps = ref_pseudo(out, proto, l4h + plen);
	if (mode == CS_PARTIAL) {
		wr16(l4 + csum_field(f), ps);
	} else {
		uint16_t c = (uint16_t)~ref_sum(ps, l4, l4h + plen);

		if (f->udp && c == 0)
			c = 0xffff;
		wr16(l4 + csum_field(f), c);
	}
	return len;
}

static void put_vnet(uint8_t *v, uint8_t flags, uint8_t type, size_t hdr_len, size_t gso_size,
		     size_t csum_start, size_t csum_offset)
{
	v[0] = flags;
	v[1] = type;
	wrle16(v + 2, (uint32_t)hdr_len);
	wrle16(v + 4, (uint32_t)gso_size);
	wrle16(v + 6, (uint32_t)csum_start);
	wrle16(v + 8, (uint32_t)csum_offset);
}

/* A super-packet as the kernel hands it over: vnet header + IP packet with a
 * partial L4 checksum over the whole L4 length. Returns a malloc'd buffer of
 * exactly *len bytes. */
static uint8_t *make_super(const struct flow *f, uint8_t flags, const uint8_t *pay, size_t plen,
			   size_t gso, bool ecn, size_t *len)
{
	uint8_t *buf = malloc(VNET_HDR_LEN + hdrs_len(f) + plen);
	uint8_t type = f->udp ? VT_UDP_L4 : f->v6 ? VT_TCPV6 : VT_TCPV4;

	assert_non_null(buf);
	*len = VNET_HDR_LEN + build(f, flags, pay, plen, CS_PARTIAL, buf + VNET_HDR_LEN);
	put_vnet(buf, VF_NEEDS_CSUM, (uint8_t)(type | (ecn ? VT_ECN : 0)), hdrs_len(f),
		 gso, l3_len(f), csum_field(f));
	return buf;
}

/* The i-th segment (payload pay[off, off+chunk)) of a super-packet built from
 * f and flags, as the kernel's segmentation would make it. */
static size_t expected_segment(const struct flow *f, uint8_t flags, const uint8_t *pay,
			       size_t off, size_t chunk, unsigned i, bool last, uint8_t *out)
{
	struct flow s = *f;

	s.seq = f->seq + (uint32_t)off;
	s.id = (uint16_t)(f->id + i);
	if (!last)
		flags &= (uint8_t)~(TH_FIN | TH_PSH);
	if (i)
		flags &= (uint8_t)~TH_CWR;
	return build(&s, flags, pay + off, chunk, CS_FULL, out);
}

/* --- 1. Internet checksum ------------------------------------------------ */

static uint16_t csum_of(const uint8_t *p, size_t len)
{
	return csum_fold(csum_add(0, p, len));
}

static void test_csum_rfc1071_examples(void **state)
{
	/* RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2
	 * (2ddf0 before the end-around carry). */
	static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	/* A classic IPv4 header whose checksum is b861. */
	static const uint8_t iph[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				       0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	uint8_t buf[20], ones[4096];

	(void)state;
	assert_int_equal(csum_of(rfc, sizeof(rfc)), (uint16_t)~0xddf2);
	/* Byte order independence (RFC 1071 1.2.B): the swapped input sums
	 * to the swapped result. */
	for (size_t i = 0; i < sizeof(rfc); i += 2) {
		buf[i] = rfc[i + 1];
		buf[i + 1] = rfc[i];
	}
	assert_int_equal(csum_of(buf, sizeof(rfc)), (uint16_t)~0xf2dd);
	/* Odd length: the last byte is the high byte of a padded word. */
	assert_int_equal(csum_of(rfc, 7), (uint16_t)~ref_sum(0, rfc, 7));
	assert_int_equal(csum_of((const uint8_t *)"\x01", 1), 0xfeff);
	assert_int_equal(csum_of(iph, sizeof(iph)), 0xb861);
	memcpy(buf, iph, sizeof(iph));
	wr16(buf + 10, 0xb861);
	assert_int_equal(csum_of(buf, sizeof(iph)), 0);	/* verifies */
	/* Empty and all-ones data. */
	assert_int_equal(csum_of(rfc, 0), 0xffff);
	memset(ones, 0xff, sizeof(ones));
	assert_int_equal(csum_of(ones, 2), 0);
	assert_int_equal(csum_of(ones, sizeof(ones)), 0);
	assert_int_equal(csum_of(ones, sizeof(ones) - 1), 0x00ff);
	/* csum_fold alone. */
	assert_int_equal(csum_fold(0), 0xffff);
	assert_int_equal(csum_fold(0xffff), 0);
	assert_int_equal(csum_fold(0x10000), 0xfffe);
	assert_int_equal(csum_fold(0x2ddf0), (uint16_t)~0xddf2);
	assert_int_equal(csum_fold(0xffffffff), 0);
	assert_int_equal(csum_fold(0x0001fffe), 0);
	/* A nonzero start sum is carried in. */
	assert_int_equal(csum_fold(csum_add(0xddf2, rfc, 0)), (uint16_t)~0xddf2);
	assert_int_equal(csum_fold(csum_add(0x0001, ones, 2)), 0xfffe);
}

static void test_csum_random_vs_naive(void **state)
{
	static uint8_t buf[70000];

	(void)state;
	rng_seed(0xc5c5);
	for (int n = 0; n < 3000; n++) {
		size_t len, split;
		uint32_t init;
		uint16_t want;

		switch (rng_below(4)) {
		case 0: len = rng_below(16); break;
		case 1: len = rng_below(300); break;
		case 2: len = rng_below(3000); break;
		default: len = rng_below(sizeof(buf) + 1); break;
		}
		if (rng_below(8) == 0)
			memset(buf, 0xff, len);	/* lots of carries */
		else if (rng_below(8) == 0)
			memset(buf, 0, len);
		else
			rng_fill(buf, len);
		if (len && rng_below(4) == 0) {
			size_t at = rng_below(len);

			buf[at] = (uint8_t)rng_next();
		}

		want = (uint16_t)~ref_sum(0, buf, len);
		if (csum_fold(csum_add(0, buf, len)) != want)
			fail_msg("case %d: len %zu: got %04x want %04x", n, len,
				 csum_fold(csum_add(0, buf, len)), want);

		/* Any 32-bit start sum (pseudo-header sums are passed this way). */
		init = rng_below(2) ? (uint32_t)rng_next() : 0xffffffffu - (uint32_t)rng_below(3);
		{
			uint16_t a = (uint16_t)(init >> 16), b = (uint16_t)init;
			uint32_t s = (uint32_t)a + b;
			uint16_t acc;

			s = (s & 0xffff) + (s >> 16);
			acc = (uint16_t)s;
			want = (uint16_t)~ref_sum(acc, buf, len);
		}
		if (csum_fold(csum_add(init, buf, len)) != want)
			fail_msg("case %d: len %zu start %08x: got %04x want %04x", n, len, init,
				 csum_fold(csum_add(init, buf, len)), want);

		/* Chaining at an even boundary equals one pass. */
		split = len ? rng_below(len + 1) & ~(size_t)1 : 0;
		want = (uint16_t)~ref_sum(0, buf, len);
		if (csum_fold(csum_add(csum_add(0, buf, split), buf + split, len - split)) != want)
			fail_msg("case %d: len %zu: chained at %zu differs", n, len, split);
	}
}

/* --- 2. GSO split -------------------------------------------------------- */

struct split_case {
	const char *why;
	bool v6, udp, ts;
	uint8_t ip_opt;
	uint16_t gso;
	size_t payload;
	uint8_t flags;
	bool ecn;
};

#define A  TH_ACK
#define AP (TH_ACK | TH_PSH)
#define AFP (TH_ACK | TH_PSH | TH_FIN)

static const struct split_case split_table[] = {
	/*  1 */ { "tcp4: payload 10 x gso_size", false, false, false, 0, 1460, 14600, AP, false },
	/*  2 */ { "tcp4: 10 x gso_size + 1", false, false, false, 0, 1460, 14601, AP, false },
	/*  3 */ { "tcp4: payload smaller than gso_size", false, false, false, 0, 1460, 100, AP, false },
	/*  4 */ { "tcp4: payload exactly gso_size", false, false, false, 0, 1460, 1460, AP, false },
	/*  5 */ { "tcp4: gso_size + 1", false, false, false, 0, 1460, 1461, AP, false },
	/*  6 */ { "tcp4: gso_size - 1", false, false, false, 0, 1460, 1459, AP, false },
	/*  7 */ { "tcp4: largest IPv4 packet", false, false, false, 0, 1460, 65495, A, false },
	/*  8 */ { "tcp4: FIN+PSH on the super-packet", false, false, false, 0, 1460, 7300, AFP, false },
	/*  9 */ { "tcp4+ts: 3 x gso_size", false, false, true, 0, 1448, 4344, AP, false },
	/* 10 */ { "tcp4+ts: FIN+PSH, 3 x gso_size + 1", false, false, true, 0, 1448, 4345, AFP, false },
	/* 11 */ { "tcp4+ts: one byte, FIN+PSH", false, false, true, 0, 1448, 1, AFP, false },
	/* 12 */ { "tcp4+ts: CWR+ECE with the ECN gso bit", false, false, true, 0, 1448, 5000,
		   TH_CWR | TH_ECE | AP, true },
	/* 13 */ { "tcp4+ts with IPv4 options", false, false, true, 4, 1444, 10000, AP, false },
	/* 14 */ { "tcp4: odd gso_size, odd payload", false, false, false, 0, 1001, 9999, AP, false },
	/* 15 */ { "tcp4: gso_size 1", false, false, true, 0, 1, 37, AFP, false },
	/* 16 */ { "tcp4: gso_size 7", false, false, false, 0, 7, 100, AFP, false },
	/* 17 */ { "tcp6: 10 x gso_size", true, false, false, 0, 1440, 14400, AP, false },
	/* 18 */ { "tcp6: 10 x gso_size + 1, FIN+PSH", true, false, false, 0, 1440, 14401, AFP, false },
	/* 19 */ { "tcp6+ts: large", true, false, true, 0, 1428, 65000, A, false },
	/* 20 */ { "tcp6+ts: smaller than gso_size", true, false, true, 0, 1428, 500, AP, false },
	/* 21 */ { "tcp6+ts: CWR with the ECN gso bit", true, false, true, 0, 1428, 3000,
		   TH_CWR | AP, true },
	/* 22 */ { "tcp6: odd gso_size 999", true, false, false, 0, 999, 5001, AFP, false },
	/* 23 */ { "udp4: 10 x gso_size", false, true, false, 0, 1472, 14720, 0, false },
	/* 24 */ { "udp4: 10 x gso_size + 1", false, true, false, 0, 1472, 14721, 0, false },
	/* 25 */ { "udp4: smaller than gso_size", false, true, false, 0, 1472, 1000, 0, false },
	/* 26 */ { "udp4: gso_size 3, odd payload", false, true, false, 0, 3, 31, 0, false },
	/* 27 */ { "udp4 with IPv4 options", false, true, false, 8, 1464, 4000, 0, false },
	/* 28 */ { "udp6: 10 x gso_size", true, true, false, 0, 1452, 14520, 0, false },
	/* 29 */ { "udp6: 10 x gso_size + 1", true, true, false, 0, 1452, 14521, 0, false },
	/* 30 */ { "udp6: 10 bytes", true, true, false, 0, 1452, 10, 0, false },
	/* 31 */ { "udp6: large", true, true, false, 0, 1452, 65000, 0, false },
};

#undef A
#undef AP
#undef AFP

/* Checks one output segment field by field against the super-packet. */
static void check_segment_fields(const char *what, unsigned i, unsigned nseg,
				 const uint8_t *sup, size_t l4_off, size_t hdr_len, size_t gso,
				 bool udp, const uint8_t *seg, size_t seg_len, size_t chunk)
{
	const uint8_t *l4 = seg + l4_off, *sl4 = sup + l4_off;
	size_t l4_len = seg_len - l4_off, off = (size_t)i * gso;
	uint8_t proto = udp ? 17 : 6;
	bool last = i + 1 == nseg;

	if (seg_len != hdr_len + chunk)
		fail_msg("%s: segment %u: length %zu, want %zu", what, i, seg_len, hdr_len + chunk);
	if (seg[0] >> 4 == 4) {
		size_t ihl = (size_t)(seg[0] & 15) * 4;

		if (rd16(seg + 2) != seg_len)
			fail_msg("%s: segment %u: IPv4 total length %u, want %zu", what, i,
				 rd16(seg + 2), seg_len);
		if (ref_sum(0, seg, ihl) != 0xffff)
			fail_msg("%s: segment %u: IPv4 header checksum %04x does not verify", what,
				 i, rd16(seg + 10));
		if (rd16(seg + 4) != (uint16_t)(rd16(sup + 4) + i))
			fail_msg("%s: segment %u: IP id %u, want %u", what, i, rd16(seg + 4),
				 (uint16_t)(rd16(sup + 4) + i));
		if (memcmp(seg, sup, 2) || memcmp(seg + 6, sup + 6, 4) ||
		    memcmp(seg + 12, sup + 12, ihl - 12))
			fail_msg("%s: segment %u: IPv4 header fields changed", what, i);
	} else {
		if (rd16(seg + 4) != seg_len - 40)
			fail_msg("%s: segment %u: IPv6 payload length %u, want %zu", what, i,
				 rd16(seg + 4), seg_len - 40);
		if (memcmp(seg, sup, 4) || memcmp(seg + 6, sup + 6, 34))
			fail_msg("%s: segment %u: IPv6 header fields changed", what, i);
	}
	if (ref_sum(ref_pseudo(seg, proto, l4_len), l4, l4_len) != 0xffff)
		fail_msg("%s: segment %u: L4 checksum %04x does not verify", what, i,
			 rd16(l4 + (udp ? 6 : 16)));
	if (udp) {
		if (rd16(l4 + 4) != l4_len)
			fail_msg("%s: segment %u: UDP length %u, want %zu", what, i, rd16(l4 + 4),
				 l4_len);
		if (rd16(l4 + 6) == 0)
			fail_msg("%s: segment %u: UDP checksum 0 (means none)", what, i);
		if (memcmp(l4, sl4, 4))
			fail_msg("%s: segment %u: UDP ports changed", what, i);
	} else {
		uint8_t want = sl4[13];

		if (rd32(l4 + 4) != (uint32_t)(rd32(sl4 + 4) + off))
			fail_msg("%s: segment %u: seq %08x, want %08x", what, i, rd32(l4 + 4),
				 (uint32_t)(rd32(sl4 + 4) + off));
		if (!last)
			want &= (uint8_t)~(TH_FIN | TH_PSH);
		if (i)
			want &= (uint8_t)~TH_CWR;
		if (l4[13] != want)
			fail_msg("%s: segment %u of %u: flags %02x, want %02x", what, i, nseg,
				 l4[13], want);
		if (memcmp(l4, sl4, 4) || memcmp(l4 + 8, sl4 + 8, 5) ||
		    memcmp(l4 + 14, sl4 + 14, 2) || memcmp(l4 + 18, sl4 + 18, hdr_len - l4_off - 18))
			fail_msg("%s: segment %u: TCP header fields changed", what, i);
	}
	if (memcmp(seg + hdr_len, sup + hdr_len + off, chunk))
		fail_msg("%s: segment %u: payload differs", what, i);
}

/* Splits a super-packet built from f/flags/pay and checks every segment:
 * fields, bytes against expected_segment(), and the payloads joined. */
static void split_and_check(const char *what, const struct flow *f, uint8_t flags,
			    const uint8_t *pay, size_t plen, size_t gso, bool ecn)
{
	size_t in_len, hdr = hdrs_len(f), off = 0, joined_len = 0;
	uint8_t *in = make_super(f, flags, pay, plen, gso, ecn, &in_len);
	unsigned nseg = plen ? (unsigned)((plen + gso - 1) / gso) : 1;
	uint8_t *exp = malloc(65536), *joined = malloc(plen + 1), *big = malloc(BIG_CAP);
	struct gso_iter it;
	enum gso_result r;

	assert_non_null(exp);
	assert_non_null(joined);
	assert_non_null(big);
	r = gso_begin(&it, in, in_len);
	if (r != GSO_OK)
		fail_msg("%s: gso_begin returned %d", what, r);
	for (unsigned i = 0; i < nseg; i++) {
		size_t chunk = plen - off < gso ? plen - off : gso;
		size_t exp_len = expected_segment(f, flags, pay, off, chunk, i, i + 1 == nseg, exp);
		uint8_t *out = malloc(exp_len), *small = malloc(exp_len - 1);
		struct gso_iter probe = it;
		size_t n;

		assert_non_null(out);
		assert_non_null(small);
		/* One byte short of room: nothing. */
		if (gso_next(&probe, small, exp_len - 1) != 0)
			fail_msg("%s: segment %u: fitted %zu bytes into %zu", what, i, exp_len,
				 exp_len - 1);
		/* Exactly the room it needs (ASan sees any byte past it). */
		n = gso_next(&it, out, exp_len);
		if (n != exp_len)
			fail_msg("%s: segment %u of %u: length %zu, want %zu", what, i, nseg, n,
				 exp_len);
		check_segment_fields(what, i, nseg, in + VNET_HDR_LEN, l3_len(f), hdr, gso, f->udp,
				     out, n, chunk);
		if (memcmp(out, exp, n)) {
			size_t k = 0;

			while (out[k] == exp[k])
				k++;
			fail_msg("%s: segment %u: byte %zu is %02x, want %02x", what, i, k, out[k],
				 exp[k]);
		}
		memcpy(joined + joined_len, out + hdr, n - hdr);
		joined_len += n - hdr;
		off += chunk;
		free(out);
		free(small);
	}
	if (gso_next(&it, big, BIG_CAP) != 0)
		fail_msg("%s: more than %u segments", what, nseg);
	if (joined_len != plen || memcmp(joined, pay, plen))
		fail_msg("%s: joined payloads differ from the original", what);
	free(in);
	free(exp);
	free(joined);
	free(big);
}

static void test_split_table(void **state)
{
	static uint8_t pay[65536];
	char what[160];

	(void)state;
	rng_seed(0x5e65);
	for (size_t i = 0; i < ARRAY_LEN(split_table); i++) {
		const struct split_case *c = &split_table[i];
		struct flow f;

		flow_random(&f, c->v6, c->udp, c->ts);
		f.ip_opt = c->ip_opt;
		rng_fill(pay, c->payload);
		snprintf(what, sizeof(what), "row %zu (%s)", i + 1, c->why);
		split_and_check(what, &f, c->flags, pay, c->payload, c->gso, c->ecn);
	}
}

static void test_split_random(void **state)
{
	static uint8_t pay[65536];
	static const uint8_t flag_choices[] = {
		TH_ACK, TH_ACK | TH_PSH, TH_ACK | TH_PSH | TH_FIN, TH_ACK | TH_FIN,
		TH_ACK | TH_CWR, TH_ACK | TH_ECE, TH_ACK | TH_CWR | TH_ECE | TH_PSH | TH_FIN,
	};
	char what[160];

	(void)state;
	rng_seed(0x5e66);
	for (int n = 0; n < 400; n++) {
		bool v6 = rng_below(2), udp = rng_below(3) == 0, ts = rng_below(2);
		struct flow f;
		size_t gso, plen, max;
		uint8_t flags;

		flow_random(&f, v6, udp, ts);
		if (!v6 && rng_below(5) == 0)
			f.ip_opt = (uint8_t)(4 * (1 + rng_below(10)));
		max = (v6 ? 65535 + 40 : 65535) - hdrs_len(&f);
		gso = rng_below(4) == 0 ? 1 + rng_below(64) : 500 + rng_below(1100);
		switch (rng_below(5)) {
		case 0: plen = 1 + rng_below(gso); break;
		case 1: plen = gso * (1 + rng_below(20)); break;
		case 2: plen = gso * (1 + rng_below(20)) + 1; break;
		default: plen = 1 + rng_below(max); break;
		}
		if (plen > max)
			plen = max;
		if (plen / gso > 3000)	/* keep tiny gso sizes quick */
			plen = 3000 * gso;
		flags = udp ? 0 : flag_choices[rng_below(ARRAY_LEN(flag_choices))];
		rng_fill(pay, plen);
		snprintf(what, sizeof(what), "random %d (%s %s%s gso %zu payload %zu flags %02x)", n,
			 v6 ? "v6" : "v4", udp ? "udp" : "tcp", ts ? "+ts" : "", gso, plen, flags);
		split_and_check(what, &f, flags, pay, plen, gso, (flags & TH_CWR) && rng_below(2));
	}
}

/* Payload whose segment at pay[off, off+chunk) (chunk even, >= 2) sums to
 * 0xffff without its checksum, so its computed checksum is 0: UDP must send
 * 0xffff instead, TCP sends 0. The last two bytes of the chunk absorb it. */
static void engineer_zero_checksum(const struct flow *f, uint8_t flags, uint8_t *pay,
				   size_t off, size_t chunk, unsigned i, bool last)
{
	uint8_t seg[2048];
	size_t len, l3 = l3_len(f);
	uint16_t s0;

	assert_true(chunk >= 2 && chunk % 2 == 0);
	pay[off + chunk - 2] = 0;
	pay[off + chunk - 1] = 0;
	len = expected_segment(f, flags, pay, off, chunk, i, last, seg);
	wr16(seg + l3 + csum_field(f), 0);
	s0 = ref_sum(ref_pseudo(seg, f->udp ? 17 : 6, len - l3), seg + l3, len - l3);
	wr16(pay + off + chunk - 2, (uint16_t)~s0);
	/* Check the engineering itself. */
	len = expected_segment(f, flags, pay, off, chunk, i, last, seg);
	assert_int_equal(rd16(seg + l3 + csum_field(f)), f->udp ? 0xffff : 0);
}

static void test_split_zero_checksum(void **state)
{
	uint8_t pay[400];

	(void)state;
	rng_seed(0x2e70);
	for (int v6 = 0; v6 < 2; v6++) {
		for (int udp = 0; udp < 2; udp++) {
			struct flow f;
			uint8_t flags = udp ? 0 : TH_ACK | TH_PSH;
			char what[80];

			flow_random(&f, v6, udp, !udp);
			rng_fill(pay, sizeof(pay));
			/* gso 100, payload 350: the second (full) and the last
			 * (50 bytes) segments both come out with checksum 0. */
			engineer_zero_checksum(&f, flags, pay, 100, 100, 1, false);
			engineer_zero_checksum(&f, flags, pay, 300, 50, 3, true);
			snprintf(what, sizeof(what), "zero checksum %s %s", v6 ? "v6" : "v4",
				 udp ? "udp" : "tcp");
			split_and_check(what, &f, flags, pay, 350, 100, false);
		}
	}
}

/* A non-GSO packet with NEEDS_CSUM: the checksum is completed. */
static void single_needs_csum(const char *what, const struct flow *f, uint8_t flags,
			      const uint8_t *pay, size_t plen)
{
	size_t len = VNET_HDR_LEN + hdrs_len(f) + plen, exp_len;
	uint8_t *in = malloc(len), *exp = malloc(len), *out, *big = malloc(BIG_CAP);
	struct gso_iter it, probe;
	enum gso_result r;
	size_t n;

	assert_non_null(in);
	assert_non_null(exp);
	assert_non_null(big);
	build(f, flags, pay, plen, CS_PARTIAL, in + VNET_HDR_LEN);
	put_vnet(in, VF_NEEDS_CSUM, VT_NONE, hdrs_len(f), 0, l3_len(f), csum_field(f));
	exp_len = build(f, flags, pay, plen, CS_FULL, exp);
	r = gso_begin(&it, in, len);
	if (r != GSO_OK)
		fail_msg("%s: gso_begin returned %d", what, r);
	out = malloc(exp_len);
	assert_non_null(out);
	probe = it;
	if (gso_next(&probe, out, exp_len - 1) != 0)
		fail_msg("%s: fitted into one byte less", what);
	n = gso_next(&it, out, exp_len);
	if (n != exp_len || memcmp(out, exp, n))
		fail_msg("%s: got %zu bytes, want the %zu with the checksum completed", what, n,
			 exp_len);
	if (gso_next(&it, big, BIG_CAP) != 0)
		fail_msg("%s: a second packet", what);
	free(in);
	free(exp);
	free(out);
	free(big);
}

static void test_single_needs_csum(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 1000, 1001, 1452 };
	uint8_t pay[1500];
	char what[120];

	(void)state;
	rng_seed(0x516e);
	for (int kind = 0; kind < 6; kind++) {
		bool v6 = kind & 1, udp = kind >= 4, ts = kind == 2 || kind == 3;

		for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
			struct flow f;

			flow_random(&f, v6, udp, ts);
			rng_fill(pay, sizes[s]);
			snprintf(what, sizeof(what), "single %s %s%s payload %zu", v6 ? "v6" : "v4",
				 udp ? "udp" : "tcp", ts ? "+ts" : "", sizes[s]);
			single_needs_csum(what, &f, TH_ACK | TH_PSH, pay, sizes[s]);
		}
	}
	/* Sums to 0xffff: UDP must write 0xffff, TCP 0. */
	for (int kind = 0; kind < 4; kind++) {
		bool v6 = kind & 1, udp = kind >= 2;
		struct flow f;

		flow_random(&f, v6, udp, !udp);
		rng_fill(pay, 200);
		engineer_zero_checksum(&f, TH_ACK, pay, 0, 200, 0, true);
		snprintf(what, sizeof(what), "single %s %s, checksum 0", v6 ? "v6" : "v4",
			 udp ? "udp" : "tcp");
		single_needs_csum(what, &f, TH_ACK, pay, 200);
	}
}

/* Without NEEDS_CSUM the packet is copied as it is, whatever it holds. */
static void test_single_copied_unchanged(void **state)
{
	uint8_t *big = malloc(BIG_CAP), pay[1500];

	(void)state;
	assert_non_null(big);
	rng_seed(0xc0b1);
	for (int n = 0; n < 300; n++) {
		size_t plen = rng_below(sizeof(pay)), len, pkt_len;
		uint8_t *in, *out, vflags = rng_below(2) ? VF_DATA_VALID : 0;
		struct gso_iter it;
		struct flow f;

		in = malloc(VNET_HDR_LEN + 120 + sizeof(pay));
		assert_non_null(in);
		rng_fill(pay, plen);
		if (n % 3 == 0) {
			/* Not even IP: random bytes. */
			pkt_len = 20 + plen;
			rng_fill(in + VNET_HDR_LEN, pkt_len);
		} else {
			bool v6 = rng_below(2), udp = rng_below(2), ts = rng_below(2);

			flow_random(&f, v6, udp, ts);
			pkt_len = build(&f, TH_ACK, pay, plen, n % 3 == 1 ? CS_PARTIAL : CS_FULL,
					in + VNET_HDR_LEN);
		}
		len = VNET_HDR_LEN + pkt_len;
		/* hdr_len, csum_start/offset are garbage and must be ignored. */
		rng_fill(in + 2, 2);
		rng_fill(in + 6, 4);
		in[0] = vflags;
		in[1] = VT_NONE;
		wrle16(in + 4, 0);
		assert_int_equal(gso_begin(&it, in, len), GSO_OK);
		out = malloc(pkt_len);
		assert_non_null(out);
		if (gso_next(&it, out, pkt_len) != pkt_len ||
		    memcmp(out, in + VNET_HDR_LEN, pkt_len))
			fail_msg("copy %d: packet changed", n);
		assert_int_equal(gso_next(&it, big, BIG_CAP), 0);
		free(in);
		free(out);
	}
	free(big);
}

/* --- errors -------------------------------------------------------------- */

static void test_begin_short(void **state)
{
	uint8_t buf[64];
	struct gso_iter it;

	(void)state;
	rng_seed(0x5407);
	/* Shorter than a vnet header plus a minimal IP header. */
	for (size_t len = 0; len < VNET_HDR_LEN + 20; len++) {
		for (int k = 0; k < 20; k++) {
			uint8_t *in;

			rng_fill(buf, sizeof(buf));
			if (k == 0)
				memset(buf, 0, VNET_HDR_LEN);
			in = dup_exact(buf, len);
			if (gso_begin(&it, in, len) != GSO_ERR_SHORT)
				fail_msg("length %zu: not GSO_ERR_SHORT", len);
			free(in);
		}
	}
	/* NEEDS_CSUM whose checksum field lies past the end. */
	{
		struct flow f;
		size_t len;
		uint8_t *in;

		flow_init(&f, false, true, false);
		len = VNET_HDR_LEN + build(&f, 0, NULL, 0, CS_PARTIAL, buf + VNET_HDR_LEN);
		put_vnet(buf, VF_NEEDS_CSUM, VT_NONE, 0, 0, 20, len - VNET_HDR_LEN - 20 - 1);
		in = dup_exact(buf, len);
		assert_int_equal(gso_begin(&it, in, len), GSO_ERR_SHORT);
		put_vnet(in, VF_NEEDS_CSUM, VT_NONE, 0, 0, 0xffff, 0xffff);
		assert_int_equal(gso_begin(&it, in, len), GSO_ERR_SHORT);
		put_vnet(in, VF_NEEDS_CSUM, VT_NONE, 0, 0, 20, 6);
		assert_int_equal(gso_begin(&it, in, len), GSO_OK);
		free(in);
	}
}

/* Every prefix of a valid super-packet that cuts into its headers is
 * refused; longer prefixes (payload cut short) may split, safely. */
static void test_begin_truncated(void **state)
{
	static const struct { bool v6, udp, ts; uint8_t ip_opt; } kinds[] = {
		{ false, false, false, 0 }, { false, false, true, 0 }, { false, false, true, 8 },
		{ true, false, false, 0 }, { true, false, true, 0 },
		{ false, true, false, 0 }, { true, true, false, 0 },
	};
	uint8_t pay[3000], *big = malloc(BIG_CAP);

	(void)state;
	assert_non_null(big);
	rng_seed(0x7e0c);
	for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
		struct flow f;
		size_t full_len, hdr;
		uint8_t *full;

		flow_random(&f, kinds[k].v6, kinds[k].udp, kinds[k].ts);
		f.ip_opt = kinds[k].ip_opt;
		rng_fill(pay, sizeof(pay));
		full = make_super(&f, f.udp ? 0 : TH_ACK, pay, sizeof(pay), 1000, false, &full_len);
		hdr = VNET_HDR_LEN + hdrs_len(&f);
		for (size_t len = 0; len <= full_len; len++) {
			uint8_t *in = dup_exact(full, len);
			struct gso_iter it;
			enum gso_result r = gso_begin(&it, in, len);

			if (len < hdr && r == GSO_OK)
				fail_msg("kind %zu: prefix %zu of %zu (headers %zu) accepted", k, len,
					 full_len, hdr);
			if (r == GSO_OK) {
				size_t n, got = 0, segs = 0;

				while ((n = gso_next(&it, big, BIG_CAP)) != 0) {
					assert_true(n <= hdr - VNET_HDR_LEN + 1000);
					got += n - (hdr - VNET_HDR_LEN);
					assert_true(++segs <= 4);
				}
				assert_int_equal(got, len - hdr);
			}
			free(in);
		}
		free(full);
	}
	free(big);
}

static void test_begin_unsupported(void **state)
{
	static const uint8_t bad_types[] = { 2, VT_UDP, 6, 7, 0x7f, VT_UDP | VT_ECN, 2 | VT_ECN };
	uint8_t pay[3000];
	struct gso_iter it;
	struct flow f;
	size_t len;
	uint8_t *in;

	(void)state;
	rng_seed(0x0b5d);
	rng_fill(pay, sizeof(pay));
	flow_random(&f, false, false, true);
	in = make_super(&f, TH_ACK, pay, sizeof(pay), 1448, false, &len);
	assert_int_equal(gso_begin(&it, in, len), GSO_OK);
	for (size_t i = 0; i < ARRAY_LEN(bad_types); i++) {
		in[1] = bad_types[i];
		if (gso_begin(&it, in, len) != GSO_ERR_UNSUPPORTED)
			fail_msg("gso_type %02x: not GSO_ERR_UNSUPPORTED", bad_types[i]);
	}
	in[1] = VT_TCPV4;
	/* GSO without NEEDS_CSUM: the kernel never sends that. */
	in[0] = 0;
	assert_int_equal(gso_begin(&it, in, len), GSO_ERR_UNSUPPORTED);
	in[0] = VF_DATA_VALID;
	assert_int_equal(gso_begin(&it, in, len), GSO_ERR_UNSUPPORTED);
	in[0] = VF_NEEDS_CSUM;
	/* gso_size 0 with a GSO type. */
	wrle16(in + 4, 0);
	assert_int_equal(gso_begin(&it, in, len), GSO_ERR_UNSUPPORTED);
	wrle16(in + 4, 1448);
	/* A TCP data offset below 5 words, or past the end. */
	in[VNET_HDR_LEN + 20 + 12] = 4 << 4;
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	in[VNET_HDR_LEN + 20 + 12] = 0;
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	free(in);

	/* Data offset past the end of a short packet. */
	flow_random(&f, false, false, false);
	in = make_super(&f, TH_ACK, pay, 10, 1448, false, &len);
	in[VNET_HDR_LEN + 20 + 12] = 15 << 4;
	assert_int_equal(gso_begin(&it, in, len), GSO_ERR_SHORT);
	free(in);
}

/* Headers that disagree with each other: the layout the split relies on
 * (L4 header after the IP header, the checksum field inside the L4 header
 * where the protocol has it) does not hold, so nothing is split.
 * Regression: gso_begin used to accept these, and gso_next then wrote the
 * checksum at csum_start + csum_offset of every segment (past the segment's
 * end, and past out + cap, when csum_offset reached into the payload) and
 * read a 40-byte IPv6 header / IHL-sized IPv4 header out of segments
 * shorter than that. */
static void test_begin_inconsistent_layout(void **state)
{
	uint8_t pay[3000];
	struct gso_iter it;
	struct flow f;
	size_t len;
	uint8_t *in;

	(void)state;
	rng_seed(0x1a70);
	rng_fill(pay, sizeof(pay));

	flow_random(&f, false, false, true);
	in = make_super(&f, TH_ACK, pay, sizeof(pay), 1448, false, &len);
	assert_int_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 8, 6);		/* TCP checksum offset 6: inside the seq */
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 8, 1000);		/* in the payload of a later segment */
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 8, 16);
	wrle16(in + 6, 0);		/* L4 header on top of the IP header */
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 6, 12);
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 6, 20);
	in[VNET_HDR_LEN] = 0x44;	/* IHL 4 */
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	in[VNET_HDR_LEN] = 0x46;	/* IHL 6: the L4 offset is inside the IP header */
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	in[VNET_HDR_LEN] = 0x55;	/* IP version 5 */
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	in[VNET_HDR_LEN] = 0x45;
	assert_int_equal(gso_begin(&it, in, len), GSO_OK);
	free(in);

	flow_random(&f, true, false, false);
	in = make_super(&f, TH_ACK, pay, sizeof(pay), 1440, false, &len);
	assert_int_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 6, 20);		/* L4 offset inside the IPv6 header */
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 6, 40);
	assert_int_equal(gso_begin(&it, in, len), GSO_OK);
	free(in);

	flow_random(&f, false, true, false);
	in = make_super(&f, 0, pay, sizeof(pay), 1472, false, &len);
	assert_int_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 8, 16);		/* UDP checksum offset past the UDP header */
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 8, 2000);
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	wrle16(in + 8, 6);
	in[VNET_HDR_LEN] = 0x65;	/* UDP on "IPv6" 28 bytes of headers */
	assert_int_not_equal(gso_begin(&it, in, len), GSO_OK);
	free(in);
}

/* Garbage in: gso_begin/gso_next must never read or write outside the
 * buffers (exact-size heap buffers, so ASan sees a one-byte overrun), never
 * write past the length they return, and always terminate. Each segment is
 * first taken from a copy of the iterator into a big buffer, to learn its
 * length, then for real into a buffer of exactly that size (or a random
 * one); both must give the same bytes. */
static void test_split_fuzz(void **state)
{
	const uint8_t canary = 0xa5;
	uint8_t pay[5000], *big = malloc(BIG_CAP);
	unsigned ok = 0, segments = 0;

	(void)state;
	assert_non_null(big);
	rng_seed(0xf022);
	for (int n = 0; n < 100000; n++) {
		size_t len, plen = rng_below(rng_below(4) ? 300 : sizeof(pay));
		uint8_t *in, *base;
		bool v6 = rng_below(2), udp = rng_below(3) == 0, ts = rng_below(2);
		uint8_t flags = (uint8_t)rng_next();
		size_t gso = 1 + rng_below(1500);
		struct gso_iter it;
		struct flow f;

		rng_fill(pay, plen);
		flow_random(&f, v6, udp, ts);
		if (!f.v6 && rng_below(4) == 0)
			f.ip_opt = (uint8_t)(4 * rng_below(11));
		base = make_super(&f, flags, pay, plen, gso, false, &len);
		switch (rng_below(6)) {
		case 0:	/* all random */
			rng_fill(base, len);
			break;
		case 1:	/* random vnet header */
			rng_fill(base, VNET_HDR_LEN);
			break;
		default: {	/* a few header bytes changed */
			size_t k = 1 + rng_below(6), span = len < 120 ? len : 120;

			for (size_t j = 0; j < k; j++) {
				size_t at = rng_below(span);

				base[at] = rng_below(3) ? (uint8_t)rng_next() :
							  (uint8_t)(base[at] ^ (1u << rng_below(8)));
			}
			if (rng_below(3) == 0)	/* gso_size */
				wrle16(base + 4, rng_below(3) ? 1 + rng_below(64) : rng_below(65536));
			if (rng_below(4) == 0)	/* csum_start */
				wrle16(base + 6, rng_below(64));
			if (rng_below(4) == 0)	/* IP version / IHL */
				base[VNET_HDR_LEN] = (uint8_t)(rng_below(2) ? 0x40 | rng_below(16) :
							       rng_next());
			break;
		}
		}
		if (rng_below(4) == 0)
			len = rng_below(len + 1);
		in = dup_exact(base, len);
		free(base);
		if (gso_begin(&it, in, len) == GSO_OK) {
			unsigned segs = 0;

			ok++;
			for (;;) {
				struct gso_iter probe = it;
				size_t want = gso_next(&probe, big, BIG_CAP), cap, got;
				uint8_t *out;

				if (want > BIG_CAP)
					fail_msg("fuzz %d: returned %zu > cap", n, want);
				switch (rng_below(8)) {
				case 0: cap = rng_below(want + 1); break;
				case 1: cap = want + rng_below(64); break;
				default: cap = want; break;
				}
				out = malloc(cap ? cap : 1);
				assert_non_null(out);
				memset(out, canary, cap);
				got = gso_next(&it, out, cap);
				if (got > cap)
					fail_msg("fuzz %d: returned %zu > cap %zu", n, got, cap);
				for (size_t j = got; j < cap; j++)
					if (out[j] != canary)
						fail_msg("fuzz %d: segment %u: byte %zu written past the %zu returned",
							 n, segs, j, got);
				if (cap >= want && (got != want || memcmp(out, big, got)))
					fail_msg("fuzz %d: segment %u: differs from the probe", n, segs);
				free(out);
				if (!got)
					break;
				segs++;
				segments++;
				if (segs > len + 1)
					fail_msg("fuzz %d: does not terminate", n);
			}
		}
		free(in);
	}
	free(big);
	/* The mutations must leave enough valid inputs to exercise gso_next. */
	print_message("fuzz: %u inputs accepted, %u segments\n", ok, segments);
	assert_true(ok > 20000);
	assert_true(segments > 50000);
}

/* --- 3. GRO -------------------------------------------------------------- */

/* Three packets: first, prev (first itself unless three), b. */
struct gro_setup {
	struct flow f[3];
	uint8_t flags[3];
	size_t pay[3];
	bool three;
	size_t merged_len;	/* 0: first's length + prev's payload if three */
	size_t pad[3];		/* bytes after the IP packet */
};

/* b (and prev) right after their predecessor, IP ids consecutive. */
static void gro_chain(struct gro_setup *s)
{
	s->f[1].seq = s->f[0].seq + (uint32_t)s->pay[0];
	s->f[1].id = (uint16_t)(s->f[0].id + 1);
	s->f[2].seq = s->three ? s->f[1].seq + (uint32_t)s->pay[1] : s->f[1].seq;
	s->f[2].id = (uint16_t)(s->f[1].id + (s->three ? 1 : 0));
}

static void gro_all(struct gro_setup *s, bool v6, bool ts)
{
	for (int i = 0; i < 3; i++)
		flow_init(&s->f[i], v6, false, ts);
	gro_chain(s);
}

static void g_none(struct gro_setup *s) { (void)s; }
static void g_v6(struct gro_setup *s) { gro_all(s, true, true); }
static void g_noopt(struct gro_setup *s) { gro_all(s, false, false); }
static void g_v6_noopt(struct gro_setup *s) { gro_all(s, true, false); }
static void g_b_short(struct gro_setup *s) { s->pay[2] = 1; }
static void g_b_psh(struct gro_setup *s) { s->flags[2] |= TH_PSH; }
static void g_b_short_psh(struct gro_setup *s) { s->pay[2] = 700; s->flags[2] |= TH_PSH; }
static void g_three(struct gro_setup *s) { s->three = true; gro_chain(s); }
static void g_wrap(struct gro_setup *s) { s->f[0].seq = 0xffffffff - 100; gro_chain(s); }
static void g_id_wrap(struct gro_setup *s) { s->f[0].id = 0xffff; gro_chain(s); }
static void g_max(struct gro_setup *s)
{
	s->merged_len = 65535 - s->pay[2];
}
static void g_over(struct gro_setup *s)
{
	s->merged_len = 65535 - s->pay[2] + 1;
}
static void g_gap(struct gro_setup *s) { s->f[2].seq += 1; }
static void g_behind(struct gro_setup *s) { s->f[2].seq -= 1; }
static void g_same_seq(struct gro_setup *s) { s->f[2].seq = s->f[0].seq; }
static void g_far(struct gro_setup *s) { s->f[2].seq += 0x80000000u; }
static void g_sport(struct gro_setup *s) { s->f[2].sport++; }
static void g_dport(struct gro_setup *s) { s->f[2].dport++; }
static void g_src(struct gro_setup *s) { s->f[2].src[3] ^= 1; }
static void g_dst(struct gro_setup *s) { s->f[2].dst[0] ^= 0x80; }
static void g_ack(struct gro_setup *s) { s->f[2].ack += 1448; }
static void g_tsval(struct gro_setup *s) { s->f[2].opt[7] ^= 1; }
static void g_tsecr(struct gro_setup *s) { s->f[2].opt[11] ^= 1; }
static void g_b_noopt(struct gro_setup *s) { s->f[2].opt_len = 0; s->pay[2] = s->pay[0] - 12; }
static void g_opt_kind(struct gro_setup *s)
{
	/* Same length, different options: SACK-permitted + NOPs vs timestamps. */
	memset(s->f[2].opt, 1, 12);
	s->f[2].opt[8] = 4;
	s->f[2].opt[9] = 2;
}
static void g_win(struct gro_setup *s) { s->f[2].win++; }
static void g_urgptr(struct gro_setup *s) { s->f[2].urg = 5; }
static void g_syn(struct gro_setup *s) { s->flags[2] |= TH_SYN; }
static void g_fin(struct gro_setup *s) { s->flags[2] |= TH_FIN; }
static void g_rst(struct gro_setup *s) { s->flags[2] |= TH_RST; }
static void g_urg(struct gro_setup *s) { s->flags[2] |= TH_URG; s->f[2].urg = s->f[0].urg = 10; }
static void g_cwr(struct gro_setup *s) { s->flags[2] |= TH_CWR; }
static void g_ece(struct gro_setup *s) { s->flags[2] |= TH_ECE; }
static void g_noack(struct gro_setup *s) { s->flags[2] = 0; }
static void g_first_psh(struct gro_setup *s) { s->flags[0] |= TH_PSH; }
static void g_first_fin(struct gro_setup *s) { s->flags[0] |= TH_FIN; }
static void g_first_cwr(struct gro_setup *s) { s->flags[0] |= TH_CWR; }
static void g_prev_short(struct gro_setup *s)
{
	s->three = true;
	s->pay[1] = 1000;
	gro_chain(s);
}
static void g_prev_psh(struct gro_setup *s) { g_three(s); s->flags[1] |= TH_PSH; }
static void g_prev_long(struct gro_setup *s)
{
	s->three = true;
	s->pay[1] = s->pay[0] + 1;
	gro_chain(s);
}
static void g_b_long(struct gro_setup *s) { s->pay[2] = s->pay[0] + 1; }
static void g_first_empty(struct gro_setup *s) { s->pay[0] = 0; gro_chain(s); }
static void g_b_empty(struct gro_setup *s) { s->pay[2] = 0; }
static void g_b_mf(struct gro_setup *s) { s->f[2].frag |= IP_MF; }
static void g_b_fragoff(struct gro_setup *s) { s->f[2].frag = 185; }
static void g_first_mf(struct gro_setup *s) { s->f[0].frag = IP_MF; }
static void g_all_mf(struct gro_setup *s)
{
	for (int i = 0; i < 3; i++)
		s->f[i].frag = IP_MF;
}
static void g_b_v6(struct gro_setup *s)
{
	flow_init(&s->f[2], true, false, true);
	s->f[2].seq = s->f[0].seq + (uint32_t)s->pay[0];
}
static void g_first_v6(struct gro_setup *s)
{
	flow_init(&s->f[0], true, false, true);
	flow_init(&s->f[1], true, false, true);
}
static void g_ttl(struct gro_setup *s) { s->f[2].ttl--; }
static void g_tos(struct gro_setup *s) { s->f[2].tos = 0x28; }
static void g_ce(struct gro_setup *s) { s->f[2].tos |= 3; }
static void g_df(struct gro_setup *s) { s->f[2].frag = 0; }
static void g_v6_label(struct gro_setup *s) { g_v6(s); s->f[2].label ^= 1; }
static void g_v6_hop(struct gro_setup *s) { g_v6(s); s->f[2].ttl = 63; }
static void g_v6_tc(struct gro_setup *s) { g_v6(s); s->f[2].tos = 0x01; }
static void g_v6_ack(struct gro_setup *s) { g_v6(s); s->f[2].ack ^= 0x100; }
static void g_v6_gap(struct gro_setup *s) { g_v6(s); s->f[2].seq += 1428; }
static void g_v6_src(struct gro_setup *s) { g_v6(s); s->f[2].src[15] ^= 1; }
static void g_v6_over(struct gro_setup *s) { g_v6(s); s->merged_len = 65535 - s->pay[2] + 1; }
static void g_ipopts(struct gro_setup *s)
{
	for (int i = 0; i < 3; i++)
		s->f[i].ip_opt = 4;
}
static void g_b_udp(struct gro_setup *s) { s->f[2].udp = true; s->pay[2] += 12; }
static void g_pad_b(struct gro_setup *s) { s->pad[2] = 4; }
static void g_pad_first(struct gro_setup *s) { s->pad[0] = 2; }
static void g_pad_prev(struct gro_setup *s) { g_three(s); s->pad[1] = 1; }
static void g_v6_pad_b(struct gro_setup *s) { g_v6(s); s->pad[2] = 8; }
/* Padding as the only fault: with it counted as payload, sizes and
 * sequence numbers would line up. */
static void g_pad_b_only(struct gro_setup *s) { s->pay[2] = 1000; s->pad[2] = 4; }
static void g_pad_first_only(struct gro_setup *s)
{
	s->pay[0] = 1444;
	s->pad[0] = 4;
	s->f[2].seq = s->f[0].seq + 1448;
}
static void g_pad_prev_only(struct gro_setup *s)
{
	g_three(s);
	s->pay[1] = 1444;
	s->pad[1] = 4;
	s->f[2].seq = s->f[1].seq + 1448;
}
static void g_v6_pad_b_only(struct gro_setup *s) { g_v6(s); s->pay[2] = 1000; s->pad[2] = 8; }
static void g_v6_pad_prev_only(struct gro_setup *s)
{
	g_v6(s);
	g_three(s);
	s->pay[1] = s->pay[0] - 2;
	s->pad[1] = 2;
	s->f[2].seq = s->f[1].seq + (uint32_t)s->pay[0];
}
static void g_v6_dst_last(struct gro_setup *s) { g_v6(s); s->f[2].dst[15] ^= 1; }
static void g_v6_dst_first(struct gro_setup *s) { g_v6(s); s->f[2].dst[0] ^= 1; }
static void g_src_last(struct gro_setup *s) { s->f[2].src[3] ^= 0x80; }
static void g_dst_last(struct gro_setup *s) { s->f[2].dst[3] ^= 1; }

struct gro_case {
	void (*mut)(struct gro_setup *);
	bool merge;
	const char *why;
};

static const struct gro_case gro_table[] = {
	/*  1 */ { g_none, true, "IPv4+ts: the next full segment" },
	/*  2 */ { g_v6, true, "IPv6+ts: the next full segment" },
	/*  3 */ { g_noopt, true, "IPv4 without TCP options" },
	/*  4 */ { g_v6_noopt, true, "IPv6 without TCP options" },
	/*  5 */ { g_b_short, true, "b shorter than the first (1 byte)" },
	/*  6 */ { g_b_psh, true, "b carries PSH" },
	/*  7 */ { g_b_short_psh, true, "b short with PSH: the end of a burst" },
	/*  8 */ { g_three, true, "three segments: b follows prev" },
	/*  9 */ { g_wrap, true, "sequence numbers wrap past 2^32" },
	/* 10 */ { g_id_wrap, true, "IP id wraps" },
	/* 11 */ { g_max, true, "merged length exactly 65535" },
	/* 12 */ { g_gap, false, "gap: b one byte late" },
	/* 13 */ { g_behind, false, "overlap: b one byte early" },
	/* 14 */ { g_same_seq, false, "b repeats the first's seq (retransmission)" },
	/* 15 */ { g_far, false, "b 2^31 ahead" },
	/* 16 */ { g_sport, false, "different source port" },
	/* 17 */ { g_dport, false, "different destination port" },
	/* 18 */ { g_src, false, "different IPv4 source" },
	/* 19 */ { g_dst, false, "different IPv4 destination" },
	/* 20 */ { g_ack, false, "different ACK number" },
	/* 21 */ { g_tsval, false, "different timestamp TSval" },
	/* 22 */ { g_tsecr, false, "different timestamp TSecr" },
	/* 23 */ { g_b_noopt, false, "b without options (header length differs)" },
	/* 24 */ { g_opt_kind, false, "same option length, different options" },
	/* 25 */ { g_win, false, "different window" },
	/* 26 */ { g_urgptr, false, "different urgent pointer" },
	/* 27 */ { g_syn, false, "SYN on b" },
	/* 28 */ { g_fin, false, "FIN on b" },
	/* 29 */ { g_rst, false, "RST on b" },
	/* 30 */ { g_urg, false, "URG on b" },
	/* 31 */ { g_cwr, false, "CWR on b" },
	/* 32 */ { g_ece, false, "ECE on b" },
	/* 33 */ { g_noack, false, "b without ACK" },
	/* 34 */ { g_first_psh, false, "previous segment (the first) has PSH" },
	/* 35 */ { g_first_fin, false, "previous segment (the first) has FIN" },
	/* 36 */ { g_first_cwr, false, "previous segment (the first) has CWR" },
	/* 37 */ { g_prev_psh, false, "previous segment (not the first) has PSH" },
	/* 38 */ { g_prev_short, false, "previous segment shorter than the first" },
	/* 39 */ { g_prev_long, false, "previous segment longer than the first" },
	/* 40 */ { g_b_long, false, "b larger than the first" },
	/* 41 */ { g_first_empty, false, "first has no payload (pure ACK)" },
	/* 42 */ { g_b_empty, false, "b has no payload" },
	/* 43 */ { g_b_mf, false, "b is an IPv4 fragment (MF)" },
	/* 44 */ { g_b_fragoff, false, "b is an IPv4 fragment (offset)" },
	/* 45 */ { g_first_mf, false, "first is an IPv4 fragment" },
	/* 46 */ { g_all_mf, false, "all are IPv4 fragments" },
	/* 47 */ { g_over, false, "merged length would be 65536" },
	/* 48 */ { g_v6_over, false, "IPv6: merged length would be 65536" },
	/* 49 */ { g_b_v6, false, "first IPv4, b IPv6" },
	/* 50 */ { g_first_v6, false, "first IPv6, b IPv4" },
	/* 51 */ { g_ttl, false, "different TTL" },
	/* 52 */ { g_tos, false, "different DSCP" },
	/* 53 */ { g_ce, false, "ECN CE on b only" },
	/* 54 */ { g_df, false, "DF on first, not on b" },
	/* 55 */ { g_v6_label, false, "IPv6: different flow label" },
	/* 56 */ { g_v6_hop, false, "IPv6: different hop limit" },
	/* 57 */ { g_v6_tc, false, "IPv6: different traffic class" },
	/* 58 */ { g_v6_ack, false, "IPv6: different ACK" },
	/* 59 */ { g_v6_gap, false, "IPv6: gap in seq" },
	/* 60 */ { g_v6_src, false, "IPv6: different source" },
	/* 61 */ { g_ipopts, false, "IPv4 headers with options" },
	/* 62 */ { g_b_udp, false, "b is UDP" },
	/* 63 */ { g_pad_b, false, "bytes after b's IPv4 packet" },
	/* 64 */ { g_pad_first, false, "bytes after the first's IPv4 packet" },
	/* 65 */ { g_pad_prev, false, "bytes after prev's IPv4 packet" },
	/* 66 */ { g_v6_pad_b, false, "bytes after b's IPv6 packet" },
	/* 67 */ { g_pad_b_only, false, "bytes after a short b: only the IPv4 length tells" },
	/* 68 */ { g_pad_first_only, false, "bytes after the first: only the IPv4 length tells" },
	/* 69 */ { g_pad_prev_only, false, "bytes after prev: only the IPv4 length tells" },
	/* 70 */ { g_v6_pad_b_only, false, "bytes after a short IPv6 b: only the payload length tells" },
	/* 71 */ { g_v6_pad_prev_only, false, "bytes after IPv6 prev: only the payload length tells" },
	/* 72 */ { g_v6_dst_last, false, "IPv6: destination differs in its last byte" },
	/* 73 */ { g_v6_dst_first, false, "IPv6: destination differs in its first byte" },
	/* 74 */ { g_src_last, false, "IPv4: source differs in its last byte" },
	/* 75 */ { g_dst_last, false, "IPv4: destination differs in its last byte" },
};

static void gro_run_row(size_t row)
{
	const struct gro_case *c = &gro_table[row];
	struct gro_setup s;
	uint8_t *pkt[3], pay[3][2000];
	size_t len[3];
	size_t merged;
	bool got;

	memset(&s, 0, sizeof(s));
	s.pay[0] = s.pay[1] = s.pay[2] = 1448;
	for (int i = 0; i < 3; i++)
		s.flags[i] = TH_ACK;
	gro_all(&s, false, true);
	c->mut(&s);
	for (int i = 0; i < 3; i++) {
		rng_fill(pay[i], s.pay[i]);
		pkt[i] = calloc(1, hdrs_len(&s.f[i]) + s.pay[i] + s.pad[i]);
		assert_non_null(pkt[i]);
		len[i] = build(&s.f[i], s.flags[i], pay[i], s.pay[i], CS_FULL, pkt[i]) + s.pad[i];
	}
	merged = s.merged_len ? s.merged_len : len[0] + (s.three ? s.pay[1] : 0);
	if (s.three)
		got = gro_can_merge(pkt[0], len[0], pkt[1], len[1], pkt[2], len[2], merged);
	else
		got = gro_can_merge(pkt[0], len[0], pkt[0], len[0], pkt[2], len[2], merged);
	if (got != c->merge)
		fail_msg("row %zu (%s): gro_can_merge %d, want %d", row + 1, c->why, got, c->merge);
	for (int i = 0; i < 3; i++)
		free(pkt[i]);
}

/* A merged packet gets a fresh checksum: a segment whose own TCP checksum
 * (or IPv4 header checksum) is wrong must never be merged, so the kernel
 * still sees and drops it. Numbered cases: which packet is corrupted, where. */
static void test_gro_refuses_bad_checksum(void **state)
{
	static const struct { int victim; int where; const char *why; } cases[] = {
		/* 1 */ { 2, 0, "payload byte of b flipped" },
		/* 2 */ { 0, 0, "payload byte of the first flipped" },
		/* 3 */ { 2, 1, "TCP checksum field of b flipped" },
		/* 4 */ { 2, 2, "IPv4 header checksum of b flipped" },
		/* 5 */ { 0, 2, "IPv4 header checksum of the first flipped" },
	};

	(void)state;
	rng_seed(0xbad);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct gro_setup s;
		uint8_t *pkt[3], pay[3][2000];
		size_t len[3], hl;

		memset(&s, 0, sizeof(s));
		s.pay[0] = s.pay[1] = s.pay[2] = 1448;
		for (int i = 0; i < 3; i++)
			s.flags[i] = TH_ACK;
		gro_all(&s, false, true);
		for (int i = 0; i < 3; i++) {
			rng_fill(pay[i], s.pay[i]);
			pkt[i] = calloc(1, hdrs_len(&s.f[i]) + s.pay[i]);
			assert_non_null(pkt[i]);
			len[i] = build(&s.f[i], s.flags[i], pay[i], s.pay[i], CS_FULL, pkt[i]);
		}
		/* the intact pair merges */
		assert_true(gro_can_merge(pkt[0], len[0], pkt[0], len[0], pkt[2], len[2],
					  len[0]));
		hl = hdrs_len(&s.f[cases[k].victim]);
		if (cases[k].where == 0)
			pkt[cases[k].victim][hl + 7] ^= 0x20;
		else if (cases[k].where == 1)
			pkt[cases[k].victim][20 + 16] ^= 0x01;
		else
			pkt[cases[k].victim][10] ^= 0x01;
		if (gro_can_merge(pkt[0], len[0], pkt[0], len[0], pkt[2], len[2], len[0]))
			fail_msg("case %zu (%s): merged a corrupted segment", k + 1, cases[k].why);
		for (int i = 0; i < 3; i++)
			free(pkt[i]);
	}
}

static void test_gro_can_merge_table(void **state)
{
	(void)state;
	rng_seed(0x6e0);
	for (size_t i = 0; i < ARRAY_LEN(gro_table); i++)
		gro_run_row(i);
}

/* --- tun_write_batch ----------------------------------------------------- */

/* One packet as tun_write_batch wants it: VNET_HDR_LEN bytes of scratch in
 * front, nothing after. */
static struct tun_pkt tp_new(const uint8_t *p, size_t len)
{
	uint8_t *b = malloc(VNET_HDR_LEN + len);

	assert_non_null(b);
	memset(b, 0x5a, VNET_HDR_LEN);
	memcpy(b + VNET_HDR_LEN, p, len);
	return (struct tun_pkt){ .data = b + VNET_HDR_LEN, .len = len };
}

static void tp_free(struct tun_pkt *t)
{
	free(t->data - VNET_HDR_LEN);
}

struct rec {
	uint8_t *buf;
	size_t len;
};

/* Runs tun_write_batch on a SOCK_SEQPACKET socketpair: each write/writev is
 * one record. Returns the number of records. */
static size_t write_batch_records(struct tun_pkt *pkts, size_t n, unsigned offloads,
				  struct rec *recs, size_t max)
{
	int sv[2], big = 64 << 20;
	uint8_t *buf = malloc(BIG_CAP + 1);
	size_t count = 0;

	assert_non_null(buf);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) != 0)
		assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	/* A full buffer loses a record (and fails the test) instead of
	 * hanging it. */
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	tun_write_batch(sv[0], pkts, n, offloads);
	close(sv[0]);
	for (;;) {
		ssize_t r = recv(sv[1], buf, BIG_CAP + 1, 0);

		assert_true(r >= 0);
		if (r == 0)
			break;
		assert_true((size_t)r <= BIG_CAP);
		assert_true(count < max);
		recs[count].buf = dup_exact(buf, (size_t)r);
		recs[count].len = (size_t)r;
		count++;
	}
	close(sv[1]);
	free(buf);
	return count;
}

static void recs_free(struct rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(recs[i].buf);
}

/* A record holding one unmerged packet: zero vnet header, packet as it was. */
static void check_single_record(const char *what, const struct rec *r, const uint8_t *pkt,
				size_t len)
{
	static const uint8_t zero[VNET_HDR_LEN];

	if (r->len != VNET_HDR_LEN + len)
		fail_msg("%s: single record of %zu bytes, want %zu", what, r->len,
			 VNET_HDR_LEN + len);
	if (memcmp(r->buf, zero, VNET_HDR_LEN))
		fail_msg("%s: single record with a nonzero vnet header", what);
	if (memcmp(r->buf + VNET_HDR_LEN, pkt, len))
		fail_msg("%s: single record: packet changed", what);
}

/* A record merging segs[0..m): vnet header, the first's headers with the
 * length, IPv4 checksum, flags and partial TCP checksum fixed, then every
 * payload; and re-split, it gives back every segment byte for byte. */
static void check_merged_record(const char *what, const struct rec *r, uint8_t *const *segs,
				const size_t *lens, size_t m)
{
	const uint8_t *first = segs[0], *ip = r->buf + VNET_HDR_LEN;
	bool v6 = first[0] >> 4 == 6;
	size_t l4 = v6 ? 40 : (size_t)(first[0] & 15) * 4;
	bool udp = first[v6 ? 6 : 9] == 17;
	size_t hdr = l4 + (udp ? 8 : (size_t)(first[l4 + 12] >> 4) * 4), total = hdr, at = hdr;
	uint8_t want_type = udp ? VT_UDP_L4 : v6 ? VT_TCPV6 : VT_TCPV4;
	size_t want_off = udp ? 6 : 16;
	uint8_t head[120], *big = malloc(BIG_CAP);
	struct gso_iter it;
	enum gso_result res;

	assert_non_null(big);
	for (size_t i = 0; i < m; i++)
		total += lens[i] - hdr;
	if (r->len != VNET_HDR_LEN + total)
		fail_msg("%s: merged record of %zu bytes, want %zu", what, r->len,
			 VNET_HDR_LEN + total);
	/* vnet header */
	if (r->buf[0] != VF_NEEDS_CSUM || r->buf[1] != want_type ||
	    rdle16(r->buf + 2) != hdr || rdle16(r->buf + 4) != lens[0] - hdr ||
	    rdle16(r->buf + 6) != l4 || rdle16(r->buf + 8) != want_off)
		fail_msg("%s: vnet header %02x %02x hdr_len %u gso_size %u csum_start %u csum_offset %u;"
			 " want 01 %02x %zu %zu %zu %zu", what, r->buf[0], r->buf[1],
			 rdle16(r->buf + 2), rdle16(r->buf + 4), rdle16(r->buf + 6),
			 rdle16(r->buf + 8), want_type, hdr, lens[0] - hdr, l4, want_off);
	/* headers */
	memcpy(head, first, hdr);
	if (v6) {
		wr16(head + 4, (uint32_t)(total - 40));
	} else {
		wr16(head + 2, (uint32_t)total);
		wr16(head + 10, 0);
		wr16(head + 10, (uint16_t)~ref_sum(0, head, l4));
	}
	if (udp) {
		wr16(head + l4 + 4, (uint32_t)(total - l4));
		wr16(head + l4 + 6, ref_pseudo(head, 17, total - l4));
	} else {
		head[l4 + 13] = segs[m - 1][l4 + 13];
		wr16(head + l4 + 16, ref_pseudo(head, 6, total - l4));
	}
	if (memcmp(ip, head, hdr)) {
		size_t k = 0;

		while (ip[k] == head[k])
			k++;
		fail_msg("%s: merged header byte %zu is %02x, want %02x", what, k, ip[k], head[k]);
	}
	for (size_t i = 0; i < m; i++) {
		if (memcmp(ip + at, segs[i] + hdr, lens[i] - hdr))
			fail_msg("%s: payload of segment %zu differs", what, i);
		at += lens[i] - hdr;
	}
	/* round trip */
	res = gso_begin(&it, r->buf, r->len);
	if (res != GSO_OK)
		fail_msg("%s: gso_begin on the merged record: %d", what, res);
	for (size_t i = 0; i < m; i++) {
		size_t n = gso_next(&it, big, BIG_CAP);

		if (n != lens[i] || memcmp(big, segs[i], n))
			fail_msg("%s: re-split segment %zu of %zu differs from the original", what, i,
				 m);
	}
	if (gso_next(&it, big, BIG_CAP) != 0)
		fail_msg("%s: re-split gives more than %zu segments", what, m);
	free(big);
}

/* Checks records against groups: group g is pkts[start[g], start[g+1]). */
static void check_records(const char *what, const struct rec *recs, size_t nrec,
			  uint8_t *const *orig, const size_t *olen, const size_t *start, size_t ngroups)
{
	char w[200];

	if (nrec != ngroups)
		fail_msg("%s: %zu records, want %zu", what, nrec, ngroups);
	for (size_t g = 0; g < ngroups; g++) {
		size_t m = start[g + 1] - start[g];

		snprintf(w, sizeof(w), "%s: record %zu (packets %zu..%zu)", what, g, start[g],
			 start[g + 1] - 1);
		if (m == 1)
			check_single_record(w, &recs[g], orig[start[g]], olen[start[g]]);
		else
			check_merged_record(w, &recs[g], orig + start[g], olen + start[g], m);
	}
}

/* A run of n segments of flow f (payload seg each, the last last_pay, with
 * PSH when psh). Fills orig/olen with malloc'd copies. */
static void make_run(struct flow *f, size_t n, size_t seg, size_t last_pay, bool psh,
		     uint8_t **orig, size_t *olen)
{
	uint8_t pay[2000];

	for (size_t i = 0; i < n; i++) {
		size_t p = i + 1 == n ? last_pay : seg;
		uint8_t flags = TH_ACK | (i + 1 == n && psh ? TH_PSH : 0);

		orig[i] = malloc(hdrs_len(f) + p);
		assert_non_null(orig[i]);
		rng_fill(pay, p);
		olen[i] = build(f, flags, pay, p, CS_FULL, orig[i]);
		f->seq += (uint32_t)p;
		f->id++;
	}
}

/* Writes orig[0..n) as one batch with offloads and checks the records:
 * record g holds packets members[start[g]..start[g+1]) (indices into orig,
 * in the order they must appear); members NULL: 0, 1, ..., n-1. */
static void batch_check_members(const char *what, uint8_t **orig, const size_t *olen, size_t n,
				const size_t *members, const size_t *start, size_t ngroups,
				unsigned offloads)
{
	struct tun_pkt *pkts = malloc(n * sizeof(*pkts));
	struct rec *recs = malloc((n + 1) * sizeof(*recs));
	uint8_t **order = malloc(n * sizeof(*order));
	size_t *olen2 = malloc(n * sizeof(*olen2));
	size_t nrec;

	assert_non_null(pkts);
	assert_non_null(recs);
	assert_non_null(order);
	assert_non_null(olen2);
	for (size_t i = 0; i < n; i++) {
		size_t m = members ? members[i] : i;

		assert_true(m < n);
		order[i] = orig[m];
		olen2[i] = olen[m];
		pkts[i] = tp_new(orig[i], olen[i]);
	}
	nrec = write_batch_records(pkts, n, offloads, recs, n + 1);
	check_records(what, recs, nrec, order, olen2, start, ngroups);
	recs_free(recs, nrec);
	for (size_t i = 0; i < n; i++)
		tp_free(&pkts[i]);
	free(pkts);
	free(recs);
	free(order);
	free(olen2);
}

static void batch_and_check(const char *what, uint8_t **orig, const size_t *olen, size_t n,
			    const size_t *start, size_t ngroups)
{
	batch_check_members(what, orig, olen, n, NULL, start, ngroups, OFF_ALL);
}

static void free_all(uint8_t **p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i]);
}

static void test_write_batch_runs(void **state)
{
	static const struct {
		bool v6, ts;
		size_t n, seg, last;
		bool psh;
	} runs[] = {
		{ false, true, 2, 1448, 1448, false },
		{ false, true, 2, 1448, 1448, true },
		{ false, true, 2, 1448, 1, true },
		{ false, false, 10, 1460, 999, true },
		{ false, false, 44, 1460, 1460, true },	/* 64280 bytes */
		{ false, true, 30, 1448, 100, false },
		{ true, true, 2, 1428, 1428, true },
		{ true, false, 20, 1440, 7, true },
		{ true, true, 45, 1428, 1428, false },		/* payload 64260 */
		{ false, true, 64, 1001, 1001, true },		/* odd sizes */
		{ true, false, 33, 3, 1, true },		/* tiny segments */
	};
	uint8_t *orig[64];
	size_t olen[64];
	char what[120];

	(void)state;
	rng_seed(0xba7c);
	for (size_t r = 0; r < ARRAY_LEN(runs); r++) {
		struct flow f;
		size_t start[2] = { 0, runs[r].n };

		flow_random(&f, runs[r].v6, false, runs[r].ts);
		make_run(&f, runs[r].n, runs[r].seg, runs[r].last, runs[r].psh, orig, olen);
		snprintf(what, sizeof(what), "run %zu (%s %zu x %zu, last %zu%s)", r + 1,
			 runs[r].v6 ? "v6" : "v4", runs[r].n, runs[r].seg, runs[r].last,
			 runs[r].psh ? " PSH" : "");
		batch_and_check(what, orig, olen, runs[r].n, start, 1);
		free_all(orig, runs[r].n);
	}
}

/* UDP datagrams of one flow merge into one UDP GSO write (what a flood of
 * small datagrams needs: one write instead of one each); a longer datagram
 * after shorter ones or a broken checksum ends the run; another flow's
 * datagram in between does not. */
static void test_write_batch_udp(void **state)
{
	static const struct {
		bool v6;
		size_t n, seg, last;
		int odd;	/* index of a datagram that must not merge, or -1 */
		enum { NONE, LONGER, PORT, BADSUM } how;
		size_t start[4], ngroups;
		size_t members[8];	/* all zero: in order */
	} cases[] = {
		{ false, 20, 64, 64, -1, NONE, { 0, 20 }, 1, { 0 } },		/* the bench's flood */
		{ false, 64, 64, 64, -1, NONE, { 0, 64 }, 1, { 0 } },
		{ true, 10, 1000, 10, -1, NONE, { 0, 10 }, 1, { 0 } },
		{ false, 2, 1400, 1400, -1, NONE, { 0, 2 }, 1, { 0 } },
		/* a longer one starts its own run, which the next one ends
		 * (every datagram but the last as long as the first) */
		{ false, 6, 64, 64, 3, LONGER, { 0, 3, 5 }, 3, { 0 } },
		/* another flow in the middle: merged around, written after */
		{ true, 6, 64, 64, 3, PORT, { 0, 5 }, 2, { 0, 1, 2, 4, 5, 3 } },
		{ false, 10, 64, 64, 5, BADSUM, { 0, 5, 6, 10 }, 3, { 0 } },
		{ false, 3, 64, 64, 0, BADSUM, { 0, 1, 3 }, 2, { 0 } },
	};
	uint8_t *orig[64], pay[2000];
	size_t olen[64];
	char what[120];

	(void)state;
	rng_seed(0x0d90);
	for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
		struct flow f;

		flow_random(&f, cases[c].v6, true, false);
		for (size_t i = 0; i < cases[c].n; i++) {
			struct flow g = f;
			size_t p = i + 1 == cases[c].n ? cases[c].last : cases[c].seg;

			if ((int)i == cases[c].odd && cases[c].how == LONGER)
				p += 36;
			if ((int)i == cases[c].odd && cases[c].how == PORT)
				g.dport++;
			rng_fill(pay, p);
			orig[i] = malloc(hdrs_len(&g) + p);
			assert_non_null(orig[i]);
			olen[i] = build(&g, 0, pay, p, CS_FULL, orig[i]);
			if ((int)i == cases[c].odd && cases[c].how == BADSUM)
				orig[i][olen[i] - 1] ^= 0x40;
			f.id++;
		}
		snprintf(what, sizeof(what), "udp case %zu (%s %zu x %zu)", c + 1,
			 cases[c].v6 ? "v6" : "v4", cases[c].n, cases[c].seg);
		{
			size_t start[5];

			memcpy(start, cases[c].start, sizeof(cases[c].start));
			start[cases[c].ngroups] = cases[c].n;
			batch_check_members(what, orig, olen, cases[c].n,
					    cases[c].members[1] ? cases[c].members : NULL, start,
					    cases[c].ngroups, OFF_ALL);
		}
		free_all(orig, cases[c].n);
	}
}

/* Packets that merge with nothing: one record each, bytes unchanged. */
static void test_write_batch_singles(void **state)
{
	uint8_t *orig[8], pay[1500];
	size_t olen[8], start[9];
	struct flow f;
	size_t n = 0;

	(void)state;
	rng_seed(0x5191);
	rng_fill(pay, sizeof(pay));
	flow_random(&f, false, false, true);
	orig[n] = malloc(1600);
	olen[n] = build(&f, TH_ACK, pay, 1448, CS_FULL, orig[n]);
	n++;
	flow_random(&f, true, true, false);
	orig[n] = malloc(1600);
	olen[n] = build(&f, 0, pay, 1000, CS_FULL, orig[n]);
	n++;
	flow_random(&f, false, false, false);
	f.ack++;
	orig[n] = malloc(1600);
	olen[n] = build(&f, TH_ACK, pay, 0, CS_FULL, orig[n]);	/* pure ACK */
	n++;
	orig[n] = malloc(1600);
	olen[n] = build(&f, TH_ACK, pay, 0, CS_FULL, orig[n]);	/* duplicate ACK */
	n++;
	orig[n] = malloc(3);
	memcpy(orig[n], "\x45\x00\x00", 3);			/* runt */
	olen[n] = 3;
	n++;
	flow_random(&f, false, false, false);
	orig[n] = malloc(1600);
	olen[n] = build(&f, TH_ACK | TH_PSH, pay, 500, CS_FULL, orig[n]);
	n++;
	f.seq += 500;
	f.id++;
	orig[n] = malloc(1600);
	olen[n] = build(&f, TH_ACK, pay, 500, CS_FULL, orig[n]);	/* after PSH */
	n++;
	for (size_t i = 0; i <= n; i++)
		start[i] = i;
	batch_and_check("singles", orig, olen, n, start, n);
	/* A batch of one. */
	batch_and_check("batch of one", orig, olen, 1, start, 1);
	free_all(orig, n);
}

/* Interleaved flows and other traffic: each flow's segments merge wherever
 * they are in the batch (a flow table, as wireguard-go's GRO keeps), and a
 * flow's merge ends at its own packet that cannot join (PSH before, a hole,
 * another ACK number), so its packets stay in order. */
static void test_write_batch_mixed(void **state)
{
	/* A0..A3(PSH) U B0 B1 A4 A5 A7 A8 A9 B2 A10 B3 B4 B5 B6' B7'(PSH) */
	static const size_t members[] = { 0, 1, 2, 3,		/* A0..A3: PSH ends it */
					  4,			/* U alone */
					  5, 6, 12, 14, 15, 16,	/* B0 B1 B2 B3 B4 B5 */
					  7, 8,			/* A4 A5: a hole after */
					  9, 10, 11, 13,	/* A7 A8 A9 A10 */
					  17, 18 };		/* B6 B7: new ACK number */
	static const size_t start[] = { 0, 4, 5, 11, 13, 17, 19 };
	uint8_t *orig[40], pay[1500];
	size_t olen[40], n = 0;
	struct flow a, b, u;

	(void)state;
	rng_seed(0x313d);
	rng_fill(pay, sizeof(pay));
	flow_random(&a, false, false, true);
	flow_random(&b, true, false, true);
	flow_random(&u, false, true, false);
	make_run(&a, 4, 1448, 600, true, orig + n, olen + n);	/* A0..A3 */
	n += 4;
	orig[n] = malloc(1600);
	olen[n] = build(&u, 0, pay, 1200, CS_FULL, orig[n]);	/* UDP */
	n++;
	make_run(&b, 2, 1428, 1428, false, orig + n, olen + n);	/* B0 B1 */
	n += 2;
	make_run(&a, 2, 1448, 1448, false, orig + n, olen + n);	/* A4 A5 */
	n += 2;
	a.seq += 1448;						/* a lost segment */
	make_run(&a, 3, 1448, 1448, false, orig + n, olen + n);	/* A7 A8 A9 */
	n += 3;
	make_run(&b, 1, 1428, 1428, false, orig + n, olen + n);	/* B2 */
	n += 1;
	make_run(&a, 1, 1448, 1448, false, orig + n, olen + n);	/* A10 */
	n += 1;
	make_run(&b, 3, 1428, 1428, false, orig + n, olen + n);	/* B3 B4 B5 */
	n += 3;
	b.ack += 1;
	make_run(&b, 2, 1428, 10, true, orig + n, olen + n);	/* B6 B7 */
	n += 2;
	assert_int_equal(n, ARRAY_LEN(members));
	batch_check_members("mixed", orig, olen, n, members, start, ARRAY_LEN(start) - 1, OFF_ALL);
	free_all(orig, n);
}

/* Two bulk flows taking turns packet by packet (two TCP streams through
 * one peer, or two peers): one write each, not one per packet. */
static void test_write_batch_alternating(void **state)
{
	static const size_t members[] = { 0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11 };
	static const size_t start[] = { 0, 6, 12 };
	uint8_t *orig[12];
	size_t olen[12];
	struct flow a, b;

	(void)state;
	rng_seed(0xa17e);
	flow_random(&a, false, false, true);
	b = a;			/* same addresses, another source port */
	b.sport = (uint16_t)(a.sport + 1);
	b.seq = a.seq + 77777;
	for (size_t i = 0; i < 12; i++)
		make_run(i % 2 ? &b : &a, 1, 1448, 1448, false, orig + i, olen + i);
	batch_check_members("alternating", orig, olen, 12, members, start, 2, OFF_ALL);
	free_all(orig, 12);
}

/* A packet with no flow we parse (ICMP here, an IPv4 fragment) is a
 * barrier: no merge passes it, whatever its addresses. */
static void test_write_batch_barrier(void **state)
{
	/* A0 A1 B0 ICMP A2 B1 A3 FRAG A4 */
	static const size_t members[] = { 0, 1, 2, 3, 4, 6, 5, 7, 8 };
	static const size_t start[] = { 0, 2, 3, 4, 6, 7, 8, 9 };
	uint8_t *orig[9];
	size_t olen[9];
	struct flow a, b, fr;

	(void)state;
	rng_seed(0xba44);
	flow_random(&a, false, false, true);
	flow_random(&b, false, false, false);
	make_run(&a, 2, 1448, 1448, false, orig, olen);		/* A0 A1 */
	make_run(&b, 1, 1460, 1460, false, orig + 2, olen + 2);	/* B0 */
	orig[3] = calloc(1, 28);				/* ICMP echo, A's addresses */
	assert_non_null(orig[3]);
	memcpy(orig[3], orig[0], 20);
	orig[3][9] = 1;
	wr16(orig[3] + 2, 28);
	wr16(orig[3] + 10, 0);
	wr16(orig[3] + 10, (uint16_t)~ref_sum(0, orig[3], 20));
	orig[3][20] = 8;
	olen[3] = 28;
	make_run(&a, 1, 1448, 1448, false, orig + 4, olen + 4);	/* A2 */
	make_run(&b, 1, 1460, 1460, false, orig + 5, olen + 5);	/* B1 */
	make_run(&a, 1, 1448, 1448, false, orig + 6, olen + 6);	/* A3 */
	fr = a;							/* an IPv4 fragment of A */
	fr.frag = IP_MF;
	make_run(&fr, 1, 1448, 1448, false, orig + 7, olen + 7);
	a.seq = fr.seq;
	make_run(&a, 1, 1448, 1448, false, orig + 8, olen + 8);	/* A4 */
	batch_check_members("barrier", orig, olen, 9, members, start, ARRAY_LEN(start) - 1,
			    OFF_ALL);
	free_all(orig, 9);
}

/* More flows than the table keeps open, round robin: the oldest merge is
 * closed for the newest flow, so nothing merges, and nothing is lost or
 * reordered. With as many flows as the table holds, everything merges. */
static void test_write_batch_many_flows(void **state)
{
	enum { ROUNDS = 3, MAXF = 17 };
	uint8_t *orig[ROUNDS * MAXF];
	size_t olen[ROUNDS * MAXF], members[ROUNDS * MAXF], start[ROUNDS * MAXF + 1];

	(void)state;
	rng_seed(0xf10e);
	for (size_t nf = 16; nf <= MAXF; nf++) {
		struct flow f[MAXF];
		size_t n = ROUNDS * nf, ng;
		char what[40];

		for (size_t k = 0; k < nf; k++)
			flow_random(&f[k], k % 2, false, true);
		for (size_t i = 0; i < n; i++)
			make_run(&f[i % nf], 1, 1000, 1000, false, orig + i, olen + i);
		if (nf == 16) {		/* fits: one record per flow */
			for (size_t k = 0; k < nf; k++) {
				start[k] = k * ROUNDS;
				for (size_t r = 0; r < ROUNDS; r++)
					members[k * ROUNDS + r] = r * nf + k;
			}
			ng = nf;
		} else {		/* one too many: every packet alone */
			for (size_t i = 0; i < n; i++) {
				start[i] = i;
				members[i] = i;
			}
			ng = n;
		}
		start[ng] = n;
		snprintf(what, sizeof(what), "%zu flows", nf);
		batch_check_members(what, orig, olen, n, members, start, ng, OFF_ALL);
		free_all(orig, n);
	}
}

/* Only the GSO kinds the kernel accepted (tun_enable_offload) are written:
 * a kernel before 6.2 has no USO and refuses UDP_L4 writes. */
static void test_write_batch_offloads(void **state)
{
	static const struct {
		unsigned offloads;
		bool tcp4, tcp6, udp4, udp6;	/* which may merge */
	} cases[] = {
		/* 1 */ { OFF_ALL, true, true, true, true },
		/* 2 */ { TUN_OFF_CSUM | TUN_OFF_TSO4 | TUN_OFF_TSO6, true, true, false, false },
		/* 3 */ { TUN_OFF_CSUM | TUN_OFF_TSO4 | TUN_OFF_USO6, true, false, false, true },
		/* 4 */ { OFF_ALL & ~TUN_OFF_CSUM, false, false, false, false },
		/* 5 */ { 0, false, false, false, false },
	};
	enum { PER = 4, KINDS = 4, N = PER * KINDS };
	uint8_t *orig[N], pay[1500];
	size_t olen[N], start[N + 1];

	(void)state;
	rng_seed(0x0ff1);
	for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
		bool may[KINDS] = { cases[c].tcp4, cases[c].tcp6, cases[c].udp4, cases[c].udp6 };
		size_t ng = 0;
		char what[40];

		for (size_t k = 0; k < KINDS; k++) {
			struct flow f;

			flow_random(&f, k % 2, k >= 2, false);
			if (k < 2) {
				make_run(&f, PER, 1200, 1200, false, orig + k * PER, olen + k * PER);
			} else {
				for (size_t i = 0; i < PER; i++) {
					orig[k * PER + i] = malloc(1600);
					assert_non_null(orig[k * PER + i]);
					rng_fill(pay, 700);
					olen[k * PER + i] =
						build(&f, 0, pay, 700, CS_FULL, orig[k * PER + i]);
					f.id++;
				}
			}
			if (may[k]) {
				start[ng++] = k * PER;
			} else {
				for (size_t i = 0; i < PER; i++)
					start[ng++] = k * PER + i;
			}
		}
		start[ng] = N;
		snprintf(what, sizeof(what), "offloads case %zu", c + 1);
		batch_check_members(what, orig, olen, N, NULL, start, ng, cases[c].offloads);
		free_all(orig, N);
	}
}

/* The merged IP packet stays within 65535 bytes. */
static void test_write_batch_size_limit(void **state)
{
	uint8_t *orig[100];
	size_t olen[100];
	struct flow f;

	(void)state;
	rng_seed(0x5121);
	/* IPv4, 1460-byte segments: 44 fit (64280 bytes), the 45th does not. */
	{
		size_t start[] = { 0, 44, 45 };

		flow_random(&f, false, false, false);
		make_run(&f, 45, 1460, 1460, false, orig, olen);
		batch_and_check("v4 45 x 1460", orig, olen, 45, start, 2);
		free_all(orig, 45);
	}
	/* IPv6+ts: 40 + 32 + 45 x 1428 = 64332; 46 would be 65760. */
	{
		size_t start[] = { 0, 45, 90, 92 };

		flow_random(&f, true, false, true);
		make_run(&f, 92, 1428, 1428, true, orig, olen);
		batch_and_check("v6 92 x 1428", orig, olen, 92, start, 3);
		free_all(orig, 92);
	}
	/* Exactly 65535: IPv4 without options, 44 x 1475 then 595. */
	{
		size_t start[] = { 0, 45, 46 };

		flow_random(&f, false, false, false);
		make_run(&f, 46, 1475, 1475, false, orig, olen);
		/* 40 + 44 x 1475 = 64940; a 45th of 595 makes 65535 exactly. */
		free(orig[44]);
		free(orig[45]);
		f.seq -= 2 * 1475;
		f.id = (uint16_t)(f.id - 2);
		make_run(&f, 1, 1475, 595, false, orig + 44, olen + 44);
		make_run(&f, 1, 1475, 1, false, orig + 45, olen + 45);
		batch_and_check("v4 exactly 65535", orig, olen, 46, start, 2);
		free_all(orig, 46);
	}
}

/* Many small segments: however the batch is cut into records, every record
 * re-splits into its segments and together they are the input, in order. */
static void test_write_batch_many_small(void **state)
{
	uint8_t *orig[300];
	size_t olen[300], n = 300;
	struct tun_pkt pkts[300];
	struct rec recs[301];
	size_t nrec, k = 0;
	uint8_t *big = malloc(BIG_CAP);
	struct flow f;

	(void)state;
	assert_non_null(big);
	rng_seed(0x3a11);
	flow_random(&f, false, false, true);
	make_run(&f, n, 100, 100, false, orig, olen);
	for (size_t i = 0; i < n; i++)
		pkts[i] = tp_new(orig[i], olen[i]);
	nrec = write_batch_records(pkts, n, OFF_ALL, recs, ARRAY_LEN(recs));
	assert_true(nrec < n / 2);	/* it did merge */
	for (size_t r = 0; r < nrec; r++) {
		struct gso_iter it;
		size_t got;

		assert_true(recs[r].len <= VNET_HDR_LEN + 65535);
		assert_int_equal(gso_begin(&it, recs[r].buf, recs[r].len), GSO_OK);
		while ((got = gso_next(&it, big, BIG_CAP)) != 0) {
			assert_true(k < n);
			if (got != olen[k] || memcmp(big, orig[k], got))
				fail_msg("record %zu: segment %zu differs", r, k);
			k++;
		}
	}
	assert_int_equal(k, n);
	recs_free(recs, nrec);
	for (size_t i = 0; i < n; i++)
		tp_free(&pkts[i]);
	free_all(orig, n);
	free(big);
}

/* Random traffic against a naive grouping reference. */
struct gen_meta {
	int flow;		/* UDP_FLOW: a datagram of the UDP flow */
	uint32_t seq, ack, tsval;
	uint16_t win;
	uint8_t flags;
	size_t pay, len;
	bool frag;
};

#define REF_MAX_SEGS 64	/* tun_write_batch's per-write segment limit */
#define UDP_FLOW (-2)	/* gen_meta.flow of the one UDP flow's datagrams */

/* The merge rule in plain words, on what the generator knows about each
 * packet rather than on its bytes. */
static bool ref_merge(const struct gen_meta *first, const struct gen_meta *prev,
		      const struct gen_meta *b, size_t total, size_t run)
{
	if (first->flow == UDP_FLOW)	/* datagrams of one flow: sizes only */
		return run < REF_MAX_SEGS && b->flow == UDP_FLOW && first->pay > 0 &&
		       prev->pay == first->pay && b->pay > 0 && b->pay <= first->pay &&
		       total + b->pay <= 65535;
	return run < REF_MAX_SEGS && first->flow >= 0 && b->flow == first->flow &&
	       !first->frag && !b->frag && b->ack == first->ack && b->tsval == first->tsval &&
	       b->win == first->win && (b->flags == TH_ACK || b->flags == (TH_ACK | TH_PSH)) &&
	       prev->flags == TH_ACK && first->pay > 0 && prev->pay == first->pay && b->pay > 0 &&
	       b->pay <= first->pay && b->seq == prev->seq + (uint32_t)prev->pay &&
	       total + b->pay <= 65535;
}

/* The grouping in plain words, quadratic: each packet joins the latest
 * group of its flow if that group is still open and ref_merge agrees, else
 * that group closes and the packet starts one; a fragment (no flow) closes
 * every group. Groups are written in the order of their first packets.
 * (The generator has fewer flows than tun_write_batch keeps open.) Fills
 * members/start as batch_check_members wants them; returns the groups. */
static size_t ref_group(const struct gen_meta *meta, size_t n, size_t *members, size_t *start)
{
	enum { MAXG = 300 };
	size_t head[MAXG], last[MAXG], cnt[MAXG], total[MAXG], of[MAXG], ng = 0, k = 0;
	bool closed[MAXG];

	assert_true(n <= MAXG);
	for (size_t i = 0; i < n; i++) {
		size_t g = ng;

		if (meta[i].frag) {
			for (size_t j = 0; j < ng; j++)
				closed[j] = true;
		} else {
			for (g = ng; g-- > 0;)
				if (!closed[g] && !meta[head[g]].frag &&
				    meta[head[g]].flow == meta[i].flow)
					break;
			if (g == (size_t)-1)
				g = ng;
		}
		if (g < ng && ref_merge(&meta[head[g]], &meta[last[g]], &meta[i], total[g], cnt[g])) {
			of[i] = g;
			last[g] = i;
			cnt[g]++;
			total[g] += meta[i].pay;
			continue;
		}
		if (g < ng)
			closed[g] = true;
		head[ng] = last[ng] = i;
		cnt[ng] = 1;
		total[ng] = meta[i].len;
		closed[ng] = meta[i].frag;
		of[i] = ng++;
	}
	for (size_t g = 0; g < ng; g++) {
		start[g] = k;
		for (size_t i = head[g]; i < n; i++)
			if (of[i] == g)
				members[k++] = i;
	}
	start[ng] = k;
	return ng;
}

static void test_write_batch_random(void **state)
{
	enum { NFLOW = 5, MAXN = 300 };
	static const struct { bool v6, ts; size_t mss; } kinds[NFLOW] = {
		{ false, true, 1448 }, { false, false, 1460 }, { true, true, 1428 },
		{ true, false, 1000 }, { false, true, 400 },
	};
	struct flow flows[NFLOW], udp;
	uint8_t *orig[MAXN], pay[1500];
	size_t olen[MAXN], start[MAXN + 1], members[MAXN];
	struct gen_meta meta[MAXN];
	unsigned merged_records = 0;
	char what[64];

	(void)state;
	rng_seed(0x7a4d);
	for (int i = 0; i < NFLOW; i++) {
		flow_random(&flows[i], kinds[i].v6, false, kinds[i].ts);
		flows[i].frag = kinds[i].v6 ? 0 : IP_DF;
		if (i == 1) {	/* same addresses as flow 0, another port */
			memcpy(flows[1].src, flows[0].src, 16);
			memcpy(flows[1].dst, flows[0].dst, 16);
			flows[1].sport = flows[0].sport;
			flows[1].dport = (uint16_t)(flows[0].dport + 1);
		}
	}
	flow_random(&udp, false, true, false);
	for (int batch = 0; batch < 200; batch++) {
		size_t n = 1 + rng_below(MAXN), ng = 0;
		int cur = (int)rng_below(NFLOW);

		for (size_t i = 0; i < n; i++) {
			struct gen_meta *m = &meta[i];
			unsigned roll = (unsigned)rng_below(100);
			struct flow *f;
			size_t mss;

			if (rng_below(10) == 0)
				cur = (int)rng_below(NFLOW);
			f = &flows[cur];
			mss = kinds[cur].mss;
			memset(m, 0, sizeof(*m));
			m->flow = cur;
			m->flags = TH_ACK;
			m->pay = mss;
			if (roll < 3) {			/* other traffic */
				size_t p = rng_below(1400);

				orig[i] = malloc(hdrs_len(&udp) + p);
				rng_fill(pay, p);
				olen[i] = build(&udp, 0, pay, p, CS_FULL, orig[i]);
				udp.id++;	/* as a sender numbers them (and the kernel re-splits) */
				m->flow = UDP_FLOW;
				m->pay = p;
				m->len = olen[i];
				continue;
			}
			if (roll < 10) {
				m->flags |= TH_PSH;
				if (rng_below(2))
					m->pay = 1 + rng_below(mss);
			} else if (roll < 13) {
				m->pay = 1 + rng_below(mss - 1);	/* short, no PSH */
			} else if (roll < 15) {
				f->seq += (uint32_t)mss;		/* a hole */
			} else if (roll < 17) {
				f->seq -= (uint32_t)mss;		/* retransmission */
			} else if (roll < 19) {
				f->ack += (uint32_t)(1 + rng_below(5000));
			} else if (roll < 21 && f->opt_len) {
				wr32(f->opt + 4, rd32(f->opt + 4) + 1);	/* TSval ticks */
			} else if (roll < 22) {
				f->win = (uint16_t)(f->win + 1);
			} else if (roll < 24) {
				m->pay = 0;				/* pure ACK */
			} else if (roll < 25) {
				m->flags |= TH_FIN;
			} else if (roll < 26) {
				m->pay = mss + 1;			/* larger */
			} else if (roll < 27 && !f->v6) {
				m->frag = true;
			}
			m->seq = f->seq;
			m->ack = f->ack;
			m->tsval = f->opt_len ? rd32(f->opt + 4) : 0;
			m->win = f->win;
			rng_fill(pay, m->pay);
			orig[i] = malloc(hdrs_len(f) + m->pay);
			assert_non_null(orig[i]);
			{
				struct flow g = *f;

				if (m->frag)
					g.frag |= IP_MF;
				olen[i] = build(&g, m->flags, pay, m->pay, CS_FULL, orig[i]);
			}
			m->len = olen[i];
			f->seq += (uint32_t)m->pay;
			f->id++;
		}
		ng = ref_group(meta, n, members, start);
		for (size_t g = 0; g < ng; g++)
			merged_records += start[g + 1] - start[g] > 1;
		snprintf(what, sizeof(what), "batch %d", batch);
		batch_check_members(what, orig, olen, n, members, start, ng, OFF_ALL);
		free_all(orig, n);
	}
	assert_true(merged_records > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_rfc1071_examples),
		cmocka_unit_test(test_csum_random_vs_naive),
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_split_random),
		cmocka_unit_test(test_split_zero_checksum),
		cmocka_unit_test(test_single_needs_csum),
		cmocka_unit_test(test_single_copied_unchanged),
		cmocka_unit_test(test_begin_short),
		cmocka_unit_test(test_begin_truncated),
		cmocka_unit_test(test_begin_unsupported),
		cmocka_unit_test(test_begin_inconsistent_layout),
		cmocka_unit_test(test_split_fuzz),
		cmocka_unit_test(test_gro_can_merge_table),
		cmocka_unit_test(test_gro_refuses_bad_checksum),
		cmocka_unit_test(test_write_batch_runs),
		cmocka_unit_test(test_write_batch_singles),
		cmocka_unit_test(test_write_batch_mixed),
		cmocka_unit_test(test_write_batch_alternating),
		cmocka_unit_test(test_write_batch_barrier),
		cmocka_unit_test(test_write_batch_many_flows),
		cmocka_unit_test(test_write_batch_offloads),
		cmocka_unit_test(test_write_batch_size_limit),
		cmocka_unit_test(test_write_batch_many_small),
		cmocka_unit_test(test_write_batch_random),
		cmocka_unit_test(test_write_batch_udp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
