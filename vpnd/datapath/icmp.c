/* ICMP destination unreachable to the local sender: see icmp.h. */
#include "vpnd/datapath/icmp.h"

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <unistd.h>

#include "tun/offload.h"
#include "vpnd/datapath/device.h"

#define IP4_HDR 20
#define ICMP_HDR 8
#define IP6_HDR 40

static uint16_t checksum(uint32_t sum, const uint8_t *data, size_t len)
{
	return csum_fold(csum_add(sum, data, len));
}

/* An IPv6 packet's upper-layer protocol and whether it is an ICMPv6 error
 * (type < 128), following the extension headers that may come first. */
static bool icmp6_is_error(const uint8_t *pkt, size_t len)
{
	uint8_t next = pkt[6];
	size_t off = IP6_HDR;

	for (int hops = 0; hops < 8; hops++) {
		if (next == IPPROTO_ICMPV6)
			return off >= len || pkt[off] < 128;	/* unreadable: assume so */
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
		    next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT)
			return false;
		if (off + 8 > len)
			return true;
		if (next == IPPROTO_FRAGMENT) {
			/* Only the first fragment (offset 0) may get an error. */
			if ((pkt[off + 2] << 8 | pkt[off + 3]) & 0xfff8)
				return true;
			next = pkt[off];
			off += 8;
		} else {
			next = pkt[off];
			off += ((size_t)pkt[off + 1] + 1) * 8;
		}
	}
	return true;	/* too many headers: say nothing */
}

static bool v4_unicast(const uint8_t *a)
{
	return !(a[0] == 0 || a[0] >= 224 || (a[0] == 127) ||
		 (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255));
}

static size_t build_v4(const uint8_t *pkt, size_t len, uint8_t *out)
{
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4, quoted;
	uint16_t frag = (uint16_t)(pkt[6] << 8 | pkt[7]);

	if (ihl < IP4_HDR || len < ihl || !v4_unicast(pkt + 12) || pkt[16] >= 224 ||
	    (frag & 0x1fff))
		return 0;
	if (pkt[9] == IPPROTO_ICMP) {
		/* Errors answer only queries: echo, timestamp, ... */
		if (len < ihl + 1)
			return 0;
		switch (pkt[ihl]) {
		case ICMP_ECHO: case ICMP_TIMESTAMP: case ICMP_INFO_REQUEST:
		case ICMP_ADDRESS: break;
		default: return 0;
		}
	}
	quoted = len < ICMP_V4_MAX - IP4_HDR - ICMP_HDR ? len : ICMP_V4_MAX - IP4_HDR - ICMP_HDR;
	memset(out, 0, IP4_HDR + ICMP_HDR);
	out[0] = 0x45;
	out[2] = (uint8_t)((IP4_HDR + ICMP_HDR + quoted) >> 8);
	out[3] = (uint8_t)(IP4_HDR + ICMP_HDR + quoted);
	out[8] = 64;			/* TTL */
	out[9] = IPPROTO_ICMP;
	memcpy(out + 12, pkt + 16, 4);	/* from the unreachable address */
	memcpy(out + 16, pkt + 12, 4);	/* to the sender */
	out[IP4_HDR] = ICMP_DEST_UNREACH;
	out[IP4_HDR + 1] = ICMP_HOST_UNREACH;
	memcpy(out + IP4_HDR + ICMP_HDR, pkt, quoted);
	{
		uint16_t c = checksum(0, out + IP4_HDR, ICMP_HDR + quoted);

		out[IP4_HDR + 2] = (uint8_t)(c >> 8), out[IP4_HDR + 3] = (uint8_t)c;
		c = checksum(0, out, IP4_HDR);
		out[10] = (uint8_t)(c >> 8), out[11] = (uint8_t)c;
	}
	return IP4_HDR + ICMP_HDR + quoted;
}

static bool v6_unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, 16);
}

static size_t build_v6(const uint8_t *pkt, size_t len, uint8_t *out)
{
	size_t quoted, plen;
	uint32_t sum;
	uint8_t pseudo[8] = { 0 };

	if (len < IP6_HDR || pkt[8] == 0xff || v6_unspecified(pkt + 8) || pkt[24] == 0xff ||
	    icmp6_is_error(pkt, len))
		return 0;
	quoted = len < ICMP_V6_MAX - IP6_HDR - ICMP_HDR ? len : ICMP_V6_MAX - IP6_HDR - ICMP_HDR;
	plen = ICMP_HDR + quoted;
	memset(out, 0, IP6_HDR + ICMP_HDR);
	out[0] = 0x60;
	out[4] = (uint8_t)(plen >> 8), out[5] = (uint8_t)plen;
	out[6] = IPPROTO_ICMPV6;
	out[7] = 64;			/* hop limit */
	memcpy(out + 8, pkt + 24, 16);	/* from the unreachable address */
	memcpy(out + 24, pkt + 8, 16);	/* to the sender */
	out[IP6_HDR] = ICMP6_DST_UNREACH;
	out[IP6_HDR + 1] = ICMP6_DST_UNREACH_ADDR;
	memcpy(out + IP6_HDR + ICMP_HDR, pkt, quoted);
	/* Pseudo-header: addresses, upper-layer length, next header. */
	pseudo[2] = (uint8_t)(plen >> 8), pseudo[3] = (uint8_t)plen;
	pseudo[7] = IPPROTO_ICMPV6;
	sum = csum_add(0, out + 8, 32);
	sum = csum_add(sum, pseudo, sizeof(pseudo));
	{
		uint16_t c = checksum(sum, out + IP6_HDR, plen);

		out[IP6_HDR + 2] = (uint8_t)(c >> 8), out[IP6_HDR + 3] = (uint8_t)c;
	}
	return IP6_HDR + plen;
}

size_t icmp_build_unreachable(const uint8_t *pkt, size_t len, uint8_t *out)
{
	if (len >= IP4_HDR && pkt[0] >> 4 == 4)
		return build_v4(pkt, len, out);
	if (len >= IP6_HDR && pkt[0] >> 4 == 6)
		return build_v6(pkt, len, out);
	return 0;
}

/* Token bucket: ICMP_RATE tokens a second, at most ICMP_BURST. True if
 * one is there (refilled first); icmp_send_unreachable spends it. */
static bool icmp_token_ready(struct device *dev, uint64_t now)
{
	uint64_t per_token = 1000000000ull / ICMP_RATE;
	uint64_t earned = (now - dev->icmp_last_ns) / per_token;

	if (earned) {
		dev->icmp_tokens = dev->icmp_tokens + earned > ICMP_BURST ?
				   ICMP_BURST : dev->icmp_tokens + (unsigned)earned;
		dev->icmp_last_ns = now;
	}
	return dev->icmp_tokens > 0;
}

void icmp_send_unreachable(struct device *dev, const uint8_t *pkt, size_t len, uint64_t now)
{
	uint8_t buf[VNET_HDR_LEN + ICMP_ERR_MAX];
	size_t n;

	/* The rate first: under a flood of unroutable packets almost all of
	 * them find no token, and nothing is built for them. */
	if (dev->tun_fd < 0 || !icmp_token_ready(dev, now))
		return;
	n = icmp_build_unreachable(pkt, len, buf + VNET_HDR_LEN);
	if (!n)
		return;
	dev->icmp_tokens--;
	/* In vnet_hdr mode every write starts with a header: all zero means
	 * "no offload, checksum done". */
	memset(buf, 0, VNET_HDR_LEN);
	if (dev->tun_vnet_hdr)
		(void)write(dev->tun_fd, buf, VNET_HDR_LEN + n);
	else
		(void)write(dev->tun_fd, buf + VNET_HDR_LEN, n);
	dev->icmp_sent++;
}
