/* RFC 6040 decapsulation of the ECN field, as the kernel's WireGuard does
 * it (ecn.h). */
#include "vpnd/datapath/ecn.h"

/* Ones' complement sum of two 16-bit words, folded. */
static uint16_t add16(uint16_t a, uint16_t b)
{
	uint32_t s = (uint32_t)a + b;

	return (uint16_t)((s & 0xffff) + (s >> 16));
}

/* The IPv4 header's ECN field becomes ecn; the header checksum follows the
 * change of its first 16-bit word (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')),
 * so a header that was valid stays valid and one that was not stays not. */
static void ipv4_set_ecn(uint8_t *ip, uint8_t ecn)
{
	uint16_t old_word = (uint16_t)(ip[0] << 8 | ip[1]), new_word, check;

	ip[1] = (uint8_t)((ip[1] & ~ECN_MASK) | ecn);
	new_word = (uint16_t)(ip[0] << 8 | ip[1]);
	check = (uint16_t)(ip[10] << 8 | ip[11]);
	check = (uint16_t)~add16(add16((uint16_t)~check, (uint16_t)~old_word), new_word);
	ip[10] = (uint8_t)(check >> 8);
	ip[11] = (uint8_t)check;
}

/* IPv6: the ECN field is bits 4-5 of the second byte; no checksum. */
static void ipv6_set_ecn(uint8_t *ip, uint8_t ecn)
{
	ip[1] = (uint8_t)((ip[1] & ~(ECN_MASK << 4)) | ecn << 4);
}

void ecn_decapsulate_marked(uint8_t *pkt, size_t len, uint8_t outer_ds)
{
	uint8_t inner = ecn_ds_field(pkt, len) & ECN_MASK, outer = outer_ds & ECN_MASK, want;

	if (inner == ECN_NOT_ECT)
		return;		/* delivered unchanged, as the kernel's WireGuard does */
	if (outer == ECN_CE)
		want = ECN_CE;
	else if (outer == ECN_ECT_1 && inner == ECN_ECT_0)
		want = ECN_ECT_1;	/* INET_ECN_set_ect1 */
	else
		return;
	if (want == inner)
		return;
	if (pkt[0] >> 4 == 4 && len >= 20)
		ipv4_set_ecn(pkt, want);
	else if (pkt[0] >> 4 == 6 && len >= 40)
		ipv6_set_ecn(pkt, want);
}
