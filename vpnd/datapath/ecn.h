/* ECN across the tunnel, as the kernel's WireGuard does it (RFC 6040 with
 * RFC 3168's full-functionality encapsulation). Pure: bytes in, bytes out.
 *
 * Way out (kernel send.c, ip_tunnel_ecn_encap(0, ...)): the outer TOS /
 * traffic class is the inner packet's ECN field, CE sent as ECT(0), with
 * DSCP 0 (the inner DSCP does not leak). Way in (kernel receive.c,
 * INET_ECN_decapsulate with the outer DS field of the datagram): an outer
 * CE marks an ECN-capable inner packet CE, an outer ECT(1) turns an inner
 * ECT(0) into ECT(1); nothing else changes, and an inner Not-ECT packet is
 * delivered as it is whatever the outer says (RFC 6040 would drop it under
 * an outer CE; WireGuard ignores INET_ECN_decapsulate's verdict). */
#ifndef VPND_DATAPATH_ECN_H
#define VPND_DATAPATH_ECN_H

#include <stddef.h>
#include <stdint.h>

enum ecn_codepoint {
	ECN_NOT_ECT = 0,
	ECN_ECT_1 = 1,
	ECN_ECT_0 = 2,
	ECN_CE = 3,
	ECN_MASK = 3,
};

/* The DS field (IPv4 TOS, IPv6 traffic class) of an IP packet of len
 * bytes; 0 for anything else (a keepalive: len 0). */
static inline uint8_t ecn_ds_field(const uint8_t *pkt, size_t len)
{
	if (len < 2)
		return 0;
	if (pkt[0] >> 4 == 4)
		return pkt[1];
	if (pkt[0] >> 4 == 6)
		return (uint8_t)(pkt[0] << 4 | pkt[1] >> 4);
	return 0;
}

/* The outer TOS / traffic class for the inner packet pkt (len bytes, 0 for
 * a keepalive): its ECN field, CE as ECT(0), DSCP 0. Inline: once per
 * packet on the way out. */
static inline uint8_t ecn_encapsulate(const uint8_t *pkt, size_t len)
{
	uint8_t ecn = ecn_ds_field(pkt, len) & ECN_MASK;

	return ecn == ECN_CE ? ECN_ECT_0 : ecn;
}

/* Only an outer ECT(1) or CE (the low bit set) can change an inner packet. */
void ecn_decapsulate_marked(uint8_t *pkt, size_t len, uint8_t outer_ds);

/* Applies the outer DS field outer_ds to the decrypted inner packet pkt
 * (len bytes, a whole IPv4 or IPv6 header), fixing the IPv4 header
 * checksum. One test per packet when nothing is to be done. */
static inline void ecn_decapsulate(uint8_t *pkt, size_t len, uint8_t outer_ds)
{
	if (outer_ds & ECN_ECT_1)
		ecn_decapsulate_marked(pkt, len, outer_ds);
}

#endif
