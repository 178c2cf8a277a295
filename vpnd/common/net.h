/* Addresses, prefixes and endpoints shared by every room of vpnd/: the data
 * path routes on them, the config and the UAPI parse and print them.
 * Pure functions (no state) except endpoint_resolve, which may look a host
 * name up (getaddrinfo) unless endpoint_resolve_host_names is false. */
#ifndef VPND_COMMON_NET_H
#define VPND_COMMON_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ip_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* 4 or 16 bytes used */
	uint8_t cidr;
};

/* wg-quick's default: 1500 less the largest WireGuard overhead (IPv6). */
#define DEFAULT_TUNNEL_MTU 1420

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* Our end of a datagram (IP_PKTINFO, IPV6_PKTINFO): the address the peer
 * wrote to and the interface it arrived on. family AF_UNSPEC (0): none
 * known, routing picks the source. */
struct local_source {
	sa_family_t family;
	unsigned ifindex;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

/* Both ends of a peer's path, as the kernel's struct endpoint: the peer's
 * address (what the UAPI shows) and our address it wrote to, which replies
 * leave from. */
struct endpoint {
	union sockaddr_any addr;
	struct local_source src;
};

enum endpoint_status {
	ENDPOINT_OK,
	ENDPOINT_INVALID,	/* malformed text */
	ENDPOINT_UNRESOLVED,	/* a host name that did not resolve (or lookups are off) */
};

/* Decimal without sign, spaces or leading zeros, at most max. */
bool parse_decimal_u32(const char *s, uint32_t max, uint32_t *out);
/* "198.18.0.0/15", "2001:db8::/32", "198.18.0.1" (-> /32). Strict; host
 * bits past the cidr are cleared. */
bool parse_ip_prefix(const char *s, struct ip_prefix *out);
/* The same, keeping host bits: an interface Address (198.18.0.1/24). */
bool ip_prefix_parse_host(const char *s, struct ip_prefix *out);
/* "host:port", "[v6]:port", "1.2.3.4:51820"; host names resolved. */
enum endpoint_status endpoint_resolve(const char *s, union sockaddr_any *out);
bool parse_endpoint(const char *s, union sockaddr_any *out);
/* A numeric address only, never a lookup: for text from a daemon or a UAPI
 * client (as wireguard-go's UAPI), which must not make us query DNS. */
bool parse_endpoint_numeric(const char *s, union sockaddr_any *out);
/* True (the default): Endpoint host names are looked up (getaddrinfo, maybe
 * DNS). False: a host name fails as unresolved without any lookup; numeric
 * addresses are unaffected. The fuzzers set it false: no network, no stall. */
extern bool endpoint_resolve_host_names;
/* Formats an endpoint as wg prints it: "1.2.3.4:5" or "[::1]:5". */
void format_endpoint(char *buf, size_t len, const union sockaddr_any *ep);
/* "198.18.0.0/15" */
void format_prefix(char *buf, size_t len, const struct ip_prefix *p);
/* Total order: family, address bytes, cidr. */
int ip_prefix_cmp(const struct ip_prefix *a, const struct ip_prefix *b);
/* Same family, address, port (and IPv6 scope). */
bool sockaddr_equal(const union sockaddr_any *a, const union sockaddr_any *b);
/* Same family, address and interface. */
bool local_source_equal(const struct local_source *a, const struct local_source *b);

#endif
