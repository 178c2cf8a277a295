/* Splitting TUN super-packets (TSO/USO) into plain IP packets. */
#include "tun/offload.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>

/* Newer than Debian 12's headers. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
#define GSO_NONE   0
#define GSO_TCPV4  1
#define GSO_TCPV6  4
#define GSO_UDP_L4 5
#define GSO_ECN    0x80
#define F_NEEDS_CSUM 1

_Static_assert(TUN_OFF_CSUM == TUN_F_CSUM && TUN_OFF_TSO4 == TUN_F_TSO4 &&
	       TUN_OFF_TSO6 == TUN_F_TSO6 && TUN_OFF_USO4 == TUN_F_USO4 &&
	       TUN_OFF_USO6 == TUN_F_USO6, "TUN_OFF_* are the kernel's TUN_F_* bits");

int tun_enable_offload(int fd, unsigned *accepted)
{
	unsigned with_uso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;
	unsigned tcp_only = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

	if (ioctl(fd, TUNSETOFFLOAD, with_uso) == 0) {
		*accepted = with_uso;
		return 0;
	}
	if (ioctl(fd, TUNSETOFFLOAD, tcp_only) == 0) {
		*accepted = tcp_only;
		return 0;
	}
	*accepted = 0;
	return -errno;
}

/* The ones' complement sum does not care about byte order (RFC 1071,
 * 2(B)): data is summed as native 16-bit words, eight bytes per load, and
 * the folded result swapped to network order once at the end. Every packet
 * is summed once on each side of the tunnel, so this loop runs over every
 * byte as the AEAD does; byte-wise big-endian loads made it ~25 % of the
 * AEAD's cost, eight-byte loads a few per cent. */
uint32_t csum_add(uint32_t sum, const uint8_t *data, size_t len)
{
	uint64_t s = 0, s2 = 0, t;

	/* Two independent sums, each 64-bit add with its carry folded back
	 * in (end-around carry): eight bytes per add, no dependency between
	 * the two chains. */
	while (len >= 32) {
		uint64_t w[4];

		memcpy(w, data, 32);
		s += w[0];
		s += s < w[0];
		s2 += w[1];
		s2 += s2 < w[1];
		s += w[2];
		s += s < w[2];
		s2 += w[3];
		s2 += s2 < w[3];
		data += 32;
		len -= 32;
	}
	s = (s & 0xffffffff) + (s >> 32) + (s2 & 0xffffffff) + (s2 >> 32);
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, data, 8);
		s += (w & 0xffffffff) + (w >> 32);
		data += 8;
		len -= 8;
	}
	while (len >= 2) {
		uint16_t w;

		memcpy(&w, data, 2);
		s += w;
		data += 2;
		len -= 2;
	}
	if (len) {	/* an odd last byte is the high byte of a big-endian word */
		uint8_t last[2] = { data[0], 0 };
		uint16_t w;

		memcpy(&w, last, 2);
		s += w;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (s & 0xff) << 8 | s >> 8;
#endif
	t = (uint64_t)sum + s;
	while (t >> 16)
		t = (t & 0xffff) + (t >> 16);
	return (uint32_t)t;
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

/* Pseudo-header sum for an L4 segment of l4_len bytes. */
static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint32_t s;

	if (ip[0] >> 4 == 4)
		s = csum_add(0, ip + 12, 8);
	else
		s = csum_add(0, ip + 8, 32);
	return s + proto + (uint32_t)l4_len;
}

static void ipv4_fix_header(uint8_t *ip, size_t ihl, size_t total, uint16_t id_delta)
{
	put16(ip + 2, (uint16_t)total);
	put16(ip + 4, (uint16_t)(get16(ip + 4) + id_delta));
	put16(ip + 10, 0);
	put16(ip + 10, csum_fold(csum_add(0, ip, ihl)));
}

enum gso_result gso_begin(struct gso_iter *it, const uint8_t *in, size_t len)
{
	const uint8_t *h = in;
	size_t l4_hdr;

	memset(it, 0, sizeof(*it));
	if (len < VNET_HDR_LEN + 20)
		return GSO_ERR_SHORT;
	/* virtio_net_hdr fields are little-endian (native on the hosts we run). */
	it->needs_csum = h[0] & F_NEEDS_CSUM;
	it->gso_type = h[1] & (uint8_t)~GSO_ECN;
	it->seg_size = (size_t)(h[4] | h[5] << 8);
	it->csum_start = (uint16_t)(h[6] | h[7] << 8);
	it->csum_offset = (uint16_t)(h[8] | h[9] << 8);
	it->pkt = in + VNET_HDR_LEN;
	it->len = len - VNET_HDR_LEN;
	if (it->needs_csum && (size_t)it->csum_start + it->csum_offset + 2 > it->len)
		return GSO_ERR_SHORT;
	if (it->gso_type == GSO_NONE) {
		it->seg_size = 0;
		return GSO_OK;
	}
	if (it->gso_type != GSO_TCPV4 && it->gso_type != GSO_TCPV6 && it->gso_type != GSO_UDP_L4)
		return GSO_ERR_UNSUPPORTED;
	if (!it->needs_csum || !it->seg_size)
		return GSO_ERR_UNSUPPORTED;
	/* gso_next writes the checksum at l4_off + csum_offset in every
	 * segment: it must be the TCP/UDP checksum field, inside the headers. */
	if (it->csum_offset != (it->gso_type == GSO_UDP_L4 ? 6 : 16))
		return GSO_ERR_UNSUPPORTED;
	it->l4_off = it->csum_start;
	/* ... and fixes up the IP header in front of l4_off. */
	if (it->pkt[0] >> 4 == 4) {
		size_t ihl = (size_t)(it->pkt[0] & 0x0f) * 4;

		if (ihl < 20 || it->l4_off < ihl)
			return GSO_ERR_UNSUPPORTED;
	} else if (it->pkt[0] >> 4 != 6 || it->l4_off < 40) {
		return GSO_ERR_UNSUPPORTED;
	}
	if (it->gso_type == GSO_UDP_L4) {
		l4_hdr = 8;
	} else {
		if (it->l4_off + 20 > it->len)
			return GSO_ERR_SHORT;
		l4_hdr = (size_t)(it->pkt[it->l4_off + 12] >> 4) * 4;
		if (l4_hdr < 20)
			return GSO_ERR_SHORT;
	}
	it->hdr_len = it->l4_off + l4_hdr;
	if (it->hdr_len > it->len)
		return GSO_ERR_SHORT;
	return GSO_OK;
}

bool vnet_hdr_is_gso(const uint8_t *hdr)
{
	return (hdr[1] & (uint8_t)~GSO_ECN) != GSO_NONE;
}

/* A packet with no GSO: copied unless it is in place already, and a
 * partial checksum completed. */
static size_t single_packet(struct gso_iter *it, uint8_t *out, size_t cap)
{
	if (it->index || it->len > cap)
		return 0;
	if (out != it->pkt)
		memcpy(out, it->pkt, it->len);
	if (it->needs_csum) {
		uint8_t *field = out + it->csum_start + it->csum_offset;
		uint16_t c;

		/* The field holds the pseudo-header sum; add the rest. */
		c = csum_fold(csum_add(0, out + it->csum_start, it->len - it->csum_start));
		if (c == 0 && it->csum_offset == 6)	/* UDP: 0 means "none" */
			c = 0xffff;
		put16(field, c);
	}
	it->index = 1;
	return it->len;
}

size_t gso_next(struct gso_iter *it, uint8_t *out, size_t cap)
{
	size_t payload_total, chunk, total, l4_len;
	bool first, last, v4;
	uint8_t proto;

	if (!it->seg_size)
		return single_packet(it, out, cap);
	payload_total = it->len - it->hdr_len;
	if (it->offset >= payload_total && !(payload_total == 0 && it->index == 0))
		return 0;
	chunk = payload_total - it->offset;
	if (chunk > it->seg_size)
		chunk = it->seg_size;
	total = it->hdr_len + chunk;
	if (total > cap)
		return 0;
	first = it->index == 0;
	last = it->offset + chunk >= payload_total;
	v4 = it->pkt[0] >> 4 == 4;

	memcpy(out, it->pkt, it->hdr_len);
	memcpy(out + it->hdr_len, it->pkt + it->hdr_len + it->offset, chunk);
	if (v4)
		ipv4_fix_header(out, (size_t)(out[0] & 0x0f) * 4, total, (uint16_t)it->index);
	else
		put16(out + 4, (uint16_t)(total - 40));

	l4_len = total - it->l4_off;
	if (it->gso_type == GSO_UDP_L4) {
		proto = IPPROTO_UDP;
		put16(out + it->l4_off + 4, (uint16_t)l4_len);
	} else {
		uint8_t *tcp = out + it->l4_off;

		proto = IPPROTO_TCP;
		put32(tcp + 4, get32(tcp + 4) + (uint32_t)it->offset);
		if (!last)
			tcp[13] &= (uint8_t)~0x09;	/* FIN and PSH only on the last */
		if (!first)
			tcp[13] &= (uint8_t)~0x80;	/* CWR only on the first */
	}
	put16(out + it->l4_off + it->csum_offset, 0);
	{
		uint16_t c = csum_fold(csum_add(pseudo_sum(out, proto, l4_len),
						out + it->l4_off, l4_len));

		if (c == 0 && proto == IPPROTO_UDP)
			c = 0xffff;
		put16(out + it->l4_off + it->csum_offset, c);
	}
	it->offset += chunk;
	it->index++;
	return total;
}

/* --- GRO on the way to the TUN ------------------------------------------- */

#include <sys/uio.h>
#include <unistd.h>

#define GRO_MAX_SEGS  64
#define GRO_MAX_BYTES 65535

/* Offsets of a plain TCP packet; false if it is not one we merge. */
static bool tcp_layout(const uint8_t *p, size_t len, size_t *l4, size_t *l4_hdr)
{
	if (len >= 40 && p[0] == 0x45 && p[9] == IPPROTO_TCP) {
		if ((get16(p + 6) & 0x3fff) != 0)	/* fragments never merge */
			return false;
		*l4 = 20;
	} else if (len >= 60 && p[0] >> 4 == 6 && p[6] == IPPROTO_TCP) {
		*l4 = 40;
	} else {
		return false;
	}
	*l4_hdr = (size_t)(p[*l4 + 12] >> 4) * 4;
	return *l4_hdr >= 20 && *l4 + *l4_hdr <= len;
}

/* Offsets of a plain UDP datagram (IPv4 without options or fragments, or
 * IPv6 without extension headers) whose IP and UDP lengths both match len:
 * padding after the datagram would be lost in a merge. */
static bool udp_layout(const uint8_t *p, size_t len, size_t *l4)
{
	if (len >= 28 && p[0] == 0x45 && p[9] == IPPROTO_UDP) {
		if ((get16(p + 6) & 0x3fff) != 0 || get16(p + 2) != len)
			return false;
		*l4 = 20;
	} else if (len >= 48 && p[0] >> 4 == 6 && p[6] == IPPROTO_UDP) {
		if (get16(p + 4) + 40u != len)
			return false;
		*l4 = 40;
	} else {
		return false;
	}
	return get16(p + *l4 + 4) == len - *l4;
}

/* Where a mergeable packet's payload starts (IP + L4 headers), and its L4
 * protocol; false if it is neither plain TCP nor plain UDP. */
static bool merge_layout(const uint8_t *p, size_t len, size_t *l4, size_t *hdr, uint8_t *proto)
{
	size_t l4_hdr;

	if (tcp_layout(p, len, l4, &l4_hdr)) {
		*hdr = *l4 + l4_hdr;
		*proto = IPPROTO_TCP;
		return true;
	}
	if (udp_layout(p, len, l4)) {
		*hdr = *l4 + 8;
		*proto = IPPROTO_UDP;
		return true;
	}
	return false;
}

static bool same_flow_headers(const uint8_t *a, const uint8_t *b, size_t l4, size_t l4_hdr)
{
	if (l4 == 20) {
		/* version/ihl, tos, flags+frag, ttl, proto, addresses */
		if (a[1] != b[1] || a[6] != b[6] || a[8] != b[8] || memcmp(a + 12, b + 12, 8))
			return false;
	} else {
		/* version, traffic class, flow label, next header, hop limit, addresses */
		if (memcmp(a, b, 4) || memcmp(a + 6, b + 6, 34))
			return false;
	}
	/* ports, ack, window, urgent pointer, options */
	return !memcmp(a + l4, b + l4, 4) && !memcmp(a + l4 + 8, b + l4 + 8, 4) &&
	       !memcmp(a + l4 + 14, b + l4 + 14, 2) && !memcmp(a + l4 + 18, b + l4 + 18, 2) &&
	       !memcmp(a + l4 + 20, b + l4 + 20, l4_hdr - 20);
}

/* The merged packet gets a fresh checksum (CHECKSUM_PARTIAL), so each
 * segment's own checksums must be verified first: a segment corrupted before
 * its sender encrypted it must not be laundered into a valid one. */
static bool segment_intact(const uint8_t *p, size_t len, size_t l4, uint8_t proto)
{
	if (l4 == 20 && csum_fold(csum_add(0, p, 20)) != 0)
		return false;
	/* An IPv4 UDP checksum of zero means none was computed: nothing to
	 * launder, and the merged packet gets a real one. (In IPv6 zero is
	 * invalid, and the sum below rejects it.) */
	if (proto == IPPROTO_UDP && l4 == 20 && get16(p + l4 + 6) == 0)
		return true;
	return csum_fold(csum_add(pseudo_sum(p, proto, len - l4), p + l4, len - l4)) == 0;
}

/* gro_can_merge for UDP: datagrams of one flow (addresses, ports, IP
 * header fields but the ID), prev as long as the first, b no longer, and
 * each checksum intact. The kernel cuts the merged datagram back into the
 * same datagrams (UDP GSO) before a socket that did not ask for UDP GRO
 * sees it. */
static bool udp_can_merge(const uint8_t *first, size_t first_len, const uint8_t *prev,
			  size_t prev_len, const uint8_t *b, size_t b_len, size_t merged_len)
{
	size_t l4, l4b, seg;

	if (!udp_layout(first, first_len, &l4) || !udp_layout(b, b_len, &l4b) || l4 != l4b)
		return false;
	seg = first_len - l4 - 8;
	if (!seg || prev_len != first_len || b_len <= l4 + 8 || b_len > first_len)
		return false;
	if (merged_len + (b_len - l4 - 8) > GRO_MAX_BYTES)
		return false;
	if (l4 == 20) {
		/* tos, flags+frag, ttl, proto, addresses */
		if (first[1] != b[1] || first[6] != b[6] || first[8] != b[8] ||
		    memcmp(first + 12, b + 12, 8))
			return false;
	} else if (memcmp(first, b, 4) || memcmp(first + 6, b + 6, 34)) {
		return false;
	}
	if (memcmp(first + l4, b + l4, 4))	/* ports */
		return false;
	return segment_intact(b, b_len, l4, IPPROTO_UDP) &&
	       (prev != first || segment_intact(first, first_len, l4, IPPROTO_UDP));
}

bool gro_can_merge(const uint8_t *first, size_t first_len, const uint8_t *prev, size_t prev_len,
		   const uint8_t *b, size_t b_len, size_t merged_len)
{
	size_t l4, hdr, l4b, hdrb, seg, prev_payload, b_payload;

	if (first_len >= 20 && first[(first[0] >> 4 == 4) ? 9 : 6] == IPPROTO_UDP)
		return udp_can_merge(first, first_len, prev, prev_len, b, b_len, merged_len);
	if (!tcp_layout(first, first_len, &l4, &hdr) || !tcp_layout(b, b_len, &l4b, &hdrb) ||
	    l4 != l4b || hdr != hdrb)
		return false;
	seg = first_len - l4 - hdr;
	prev_payload = prev_len - l4 - hdr;
	b_payload = b_len - l4 - hdr;
	/* Only plain ACK (+PSH) segments; the previous must not have ended
	 * the run with PSH or a short payload. */
	if ((b[l4 + 13] & ~0x08) != 0x10 || prev[l4 + 13] != 0x10)
		return false;
	if (!seg || prev_payload != seg || !b_payload || b_payload > seg)
		return false;
	if ((l4 == 20 && (get16(b + 2) != b_len || get16(prev + 2) != prev_len)) ||
	    (l4 == 40 && (get16(b + 4) + 40u != b_len || get16(prev + 4) + 40u != prev_len)))
		return false;	/* padding after the IP packet: never merge */
	if (merged_len + b_payload > GRO_MAX_BYTES)
		return false;
	if (get32(b + l4 + 4) != get32(prev + l4 + 4) + (uint32_t)prev_payload)
		return false;
	if (!same_flow_headers(first, b, l4, hdr))
		return false;
	/* The first segment is checked once, when b is the second. */
	return segment_intact(b, b_len, l4, IPPROTO_TCP) &&
	       (prev != first || segment_intact(first, first_len, l4, IPPROTO_TCP));
}

static void write_single(int fd, struct tun_pkt *p)
{
	memset(p->data - VNET_HDR_LEN, 0, VNET_HDR_LEN);
	(void)write(fd, p->data - VNET_HDR_LEN, p->len + VNET_HDR_LEN);
}

/* One write in the making: packets pkts[head], then next[head], ...,
 * tail, all of one flow and each accepted by gro_can_merge. */
struct gro_group {
	uint16_t head, tail, count;
	uint8_t l4, hdr, proto;
	size_t total;		/* IP length of the merged packet */
};

#define GRO_NONE     0xffff
#define GRO_WINDOW   1024	/* packets grouped at once (tun_out holds as many) */
#define GRO_OPEN_MAX 16		/* flows with a merge in progress at once */

/* Writes a group of two or more as one GSO packet: the head's headers,
 * fixed up, then every payload. */
static void write_merged(int fd, struct tun_pkt *pkts, const uint16_t *next,
			 const struct gro_group *g)
{
	struct iovec iov[GRO_MAX_SEGS];
	uint8_t *h = pkts[g->head].data, *vh = h - VNET_HDR_LEN;
	size_t l4 = g->l4, hdr = g->hdr, seg = pkts[g->head].len - hdr, k = 1;
	uint8_t proto = g->proto;

	if (proto == IPPROTO_TCP)
		h[l4 + 13] = pkts[g->tail].data[l4 + 13];	/* PSH of the last segment */
	else
		put16(h + l4 + 4, (uint16_t)(g->total - l4));	/* the kernel cuts it again */
	if (l4 == 20) {
		put16(h + 2, (uint16_t)g->total);
		put16(h + 10, 0);
		put16(h + 10, csum_fold(csum_add(0, h, 20)));
	} else {
		put16(h + 4, (uint16_t)(g->total - 40));
	}
	/* Partial checksum: the pseudo-header sum, uncomplemented, as
	 * CHECKSUM_PARTIAL wants; the kernel completes it (per segment). */
	put16(h + l4 + (proto == IPPROTO_TCP ? 16 : 6),
	      (uint16_t)~csum_fold(pseudo_sum(h, proto, g->total - l4)));

	memset(vh, 0, VNET_HDR_LEN);
	vh[0] = F_NEEDS_CSUM;
	vh[1] = proto == IPPROTO_UDP ? GSO_UDP_L4 : l4 == 20 ? GSO_TCPV4 : GSO_TCPV6;
	vh[2] = (uint8_t)hdr;
	vh[3] = (uint8_t)(hdr >> 8);
	vh[4] = (uint8_t)seg;
	vh[5] = (uint8_t)(seg >> 8);
	vh[6] = (uint8_t)l4;
	vh[8] = proto == IPPROTO_TCP ? 16 : 6;	/* checksum offset in the L4 header */

	iov[0].iov_base = vh;
	iov[0].iov_len = VNET_HDR_LEN + pkts[g->head].len;
	for (uint16_t i = next[g->head]; i != GRO_NONE; i = next[i], k++) {
		iov[k].iov_base = pkts[i].data + hdr;
		iov[k].iov_len = pkts[i].len - hdr;
	}
	(void)writev(fd, iov, (int)k);
}

/* Whether the kernel takes a GSO write of this kind (see tun_write_batch). */
static bool offload_allows(unsigned offloads, uint8_t proto, size_t l4)
{
	unsigned need = proto == IPPROTO_TCP ? (l4 == 20 ? TUN_OFF_TSO4 : TUN_OFF_TSO6)
					     : (l4 == 20 ? TUN_OFF_USO4 : TUN_OFF_USO6);

	return (offloads & TUN_OFF_CSUM) && (offloads & need) == need;
}

/* Same flow: protocol, addresses and ports (both laid out alike, l4). */
static bool same_flow_key(const uint8_t *a, const uint8_t *b, size_t l4)
{
	if (l4 == 20 ? a[9] != b[9] || memcmp(a + 12, b + 12, 8)
		     : a[6] != b[6] || memcmp(a + 8, b + 8, 32))
		return false;
	return !memcmp(a + l4, b + l4, 4);
}

/* The open group of pkts[i]'s flow (an index into open[]), or -1. */
static int find_open(const struct tun_pkt *pkts, const struct gro_group *groups,
		     const uint16_t *open, size_t nopen, const uint8_t *p, size_t l4)
{
	for (size_t k = 0; k < nopen; k++) {
		const struct gro_group *g = &groups[open[k]];

		if (g->l4 == l4 && same_flow_key(pkts[g->head].data, p, l4))
			return (int)k;
	}
	return -1;
}

static void close_open(uint16_t *open, size_t *nopen, size_t k)
{
	memmove(open + k, open + k + 1, (*nopen - k - 1) * sizeof(*open));
	(*nopen)--;
}

/* Groups pkts[0..n) (n <= GRO_WINDOW) by flow, in order of their first
 * packets; returns the number of groups. A flow has at most one open
 * group: its packet that cannot join closes it (and starts the next), so
 * a flow's packets stay in order across its groups. */
static size_t gro_group_window(const struct tun_pkt *pkts, size_t n, unsigned offloads,
			       struct gro_group *groups, uint16_t *next)
{
	uint16_t open[GRO_OPEN_MAX];
	size_t ngroups = 0, nopen = 0;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = pkts[i].data;
		struct gro_group *g;
		size_t l4, hdr;
		uint8_t proto;
		int k;

		next[i] = GRO_NONE;
		if (!merge_layout(p, pkts[i].len, &l4, &hdr, &proto)) {
			nopen = 0;	/* no flow we know: no merge may pass it */
			groups[ngroups++] = (struct gro_group){ .head = (uint16_t)i,
								.tail = (uint16_t)i, .count = 1 };
			continue;
		}
		k = find_open(pkts, groups, open, nopen, p, l4);
		if (k >= 0) {
			g = &groups[open[k]];
			if (g->count < GRO_MAX_SEGS &&
			    gro_can_merge(pkts[g->head].data, pkts[g->head].len,
					  pkts[g->tail].data, pkts[g->tail].len, p, pkts[i].len,
					  g->total)) {
				next[g->tail] = (uint16_t)i;
				g->tail = (uint16_t)i;
				g->count++;
				g->total += pkts[i].len - hdr;
				continue;
			}
			close_open(open, &nopen, (size_t)k);
		}
		groups[ngroups] = (struct gro_group){ .head = (uint16_t)i, .tail = (uint16_t)i,
						      .count = 1, .l4 = (uint8_t)l4,
						      .hdr = (uint8_t)hdr, .proto = proto,
						      .total = pkts[i].len };
		if (offload_allows(offloads, proto, l4)) {
			if (nopen == GRO_OPEN_MAX)
				close_open(open, &nopen, 0);	/* the oldest */
			open[nopen++] = (uint16_t)ngroups;
		}
		ngroups++;
	}
	return ngroups;
}

void tun_write_batch(int fd, struct tun_pkt *pkts, size_t n, unsigned offloads)
{
	struct gro_group groups[GRO_WINDOW];
	uint16_t next[GRO_WINDOW];

	while (n) {
		size_t w = n < GRO_WINDOW ? n : GRO_WINDOW;
		size_t ngroups = gro_group_window(pkts, w, offloads, groups, next);

		for (size_t g = 0; g < ngroups; g++) {
			if (groups[g].count == 1)
				write_single(fd, &pkts[groups[g].head]);
			else
				write_merged(fd, pkts, next, &groups[g]);
		}
		pkts += w;
		n -= w;
	}
}
