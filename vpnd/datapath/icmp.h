/* ICMP "destination unreachable" back to the local sender, as the kernel's
 * WireGuard does (wg_xmit: icmp_ndo_send / icmpv6_ndo_send) for a packet
 * read from the TUN that no peer's allowed IPs cover, or whose peer has no
 * endpoint: the application learns at once (EHOSTUNREACH, ping's
 * "Destination Host Unreachable") instead of timing out.
 *
 * The error is written to the TUN as if it came from the unreachable
 * address itself (that address is routed to this interface, so reverse
 * path filtering takes it). Rate limited per device (ICMP_RATE per second,
 * a burst of ICMP_BURST), and never sent where RFC 1122 3.2.2, RFC 1812
 * 4.3.2.7 and RFC 4443 2.4(e) forbid: in answer to an ICMP error, to a
 * fragment other than the first, to a multicast, broadcast or unspecified
 * source, or for a multicast destination. Event loop only. */
#ifndef VPND_DATAPATH_ICMP_H
#define VPND_DATAPATH_ICMP_H

#include <stddef.h>
#include <stdint.h>

struct device;

#define ICMP_V4_MAX   576	/* RFC 1812 4.3.2.3: the whole error at most */
#define ICMP_V6_MAX   1280	/* RFC 4443 2.4(c): the IPv6 minimum MTU */
#define ICMP_ERR_MAX  ICMP_V6_MAX
#define ICMP_RATE     20	/* errors per second, per device */
#define ICMP_BURST    10

/* Builds the ICMP (type 3 code 1, host unreachable) or ICMPv6 (type 1 code
 * 3, address unreachable) error for the IP packet pkt into out (at least
 * ICMP_ERR_MAX bytes), with as much of pkt as fits. Returns its length, or
 * 0 when none may be sent (see above) or pkt is not a valid IP packet. */
size_t icmp_build_unreachable(const uint8_t *pkt, size_t len, uint8_t *out);

/* Builds and writes it to dev's TUN if the rate allows; now: monotonic ns. */
void icmp_send_unreachable(struct device *dev, const uint8_t *pkt, size_t len, uint64_t now);

#endif
