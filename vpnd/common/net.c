/* Addresses, prefixes and endpoints: the types every room shares and their
 * text forms. Parsing is strict (inet_pton, decimal without leading zeros)
 * and has no side effect but the host-name lookup of endpoint_resolve. */
#include "vpnd/common/net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

/* Decimal without sign, spaces or leading zeros ("0" itself is fine): a
 * leading zero could mean octal to the reader, so it is refused rather
 * than guessed. */
bool parse_decimal_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s[0] || (s[0] == '0' && s[1]) || strlen(s) > 10)
		return false;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}


static size_t family_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Parses without masking: an interface Address keeps its host bits
 * (198.18.0.1/24 is host .1 on a /24), only AllowedIPs are masked. */
bool ip_prefix_parse_host(const char *s, struct ip_prefix *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct ip_prefix pfx;
	uint32_t cidr;

	memset(&pfx, 0, sizeof(pfx));
	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	pfx.family = memchr(addr, ':', alen) ? AF_INET6 : AF_INET;
	/* inet_pton is the strict parser: no inet_aton shorthand, no leading
	 * zeros in IPv4 octets, no trailing junk, no scope ids. */
	if (inet_pton(pfx.family, addr, pfx.addr) != 1)
		return false;
	cidr = (uint32_t)family_len(pfx.family) * 8;
	if (slash && !parse_decimal_u32(slash + 1, cidr, &cidr))
		return false;
	pfx.cidr = (uint8_t)cidr;
	*out = pfx;
	return true;
}

static void mask_prefix(struct ip_prefix *pfx)
{
	size_t i;

	for (i = 0; i < family_len(pfx->family); i++) {
		unsigned left = pfx->cidr > 8 * i ? pfx->cidr - 8 * i : 0;

		if (left == 0)
			pfx->addr[i] = 0;
		else if (left < 8)
			pfx->addr[i] &= (uint8_t)(0xff << (8 - left));
	}
}

bool parse_ip_prefix(const char *s, struct ip_prefix *out)
{
	struct ip_prefix pfx;

	if (!ip_prefix_parse_host(s, &pfx))
		return false;
	/* wg accepts host bits past the cidr; they carry no meaning. */
	mask_prefix(&pfx);
	*out = pfx;
	return true;
}

static bool all_digits_and_dots(const char *s)
{
	return s[0] && strspn(s, "0123456789.") == strlen(s);
}

static bool is_host_name(const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";

	return s[0] && s[0] != '-' && s[0] != '.' && strspn(s, ok) == strlen(s);
}

/* Splits "host:port" or "[v6]:port" into host (copied) and port text, and
 * sets the getaddrinfo hints for the kind of host. */
static bool split_endpoint(const char *s, char *host, size_t host_len, const char **port,
			   struct addrinfo *hints)
{
	const char *start = s, *end;
	struct in_addr v4;

	if (s[0] == '[') {
		start = s + 1;
		end = strchr(start, ']');
		if (!end || end[1] != ':')
			return false;
		*port = end + 2;
		hints->ai_family = AF_INET6;
		hints->ai_flags = AI_NUMERICHOST;
	} else {
		end = strrchr(s, ':');
		if (!end)
			return false;
		*port = end + 1;
		hints->ai_family = AF_UNSPEC;
	}
	if (end == start || (size_t)(end - start) >= host_len)
		return false;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	if (s[0] == '[')
		return strchr(host, ':') != NULL;
	/* An IPv6 address needs brackets, or its last group would be taken
	 * for the port. */
	if (strchr(host, ':'))
		return false;
	/* getaddrinfo would accept inet_aton forms ("1.2.3", "010.0.0.1" as
	 * octal); anything that looks numeric must be a plain dotted quad. */
	if (all_digits_and_dots(host)) {
		hints->ai_flags = AI_NUMERICHOST;
		return inet_pton(AF_INET, host, &v4) == 1;
	}
	return is_host_name(host);
}

bool endpoint_resolve_host_names = true;

/* names: host names may be looked up (else only numeric hosts parse). */
static enum endpoint_status endpoint_lookup(const char *s, union sockaddr_any *out, bool names)
{
	char host[256];
	const char *port_text;
	struct addrinfo hints, *res = NULL, *ai;
	uint32_t port;
	enum endpoint_status st = ENDPOINT_INVALID;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	if (!split_endpoint(s, host, sizeof(host), &port_text, &hints) ||
	    !parse_decimal_u32(port_text, 65535, &port) || port == 0)
		goto out;
	if (!(hints.ai_flags & AI_NUMERICHOST) && !names) {
		st = ENDPOINT_UNRESOLVED;
		goto out;
	}
	if (getaddrinfo(host, NULL, &hints, &res) != 0) {
		/* A numeric host that getaddrinfo refuses is malformed, not
		 * unreachable. */
		st = hints.ai_flags & AI_NUMERICHOST ? ENDPOINT_INVALID : ENDPOINT_UNRESOLVED;
		goto out;
	}
	st = ENDPOINT_UNRESOLVED;
	for (ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(out->in)) ||
		    (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(out->in6)))
			break;
	}
	if (!ai)
		goto out;
	memset(out, 0, sizeof(*out));
	if (ai->ai_family == AF_INET) {
		memcpy(&out->in, ai->ai_addr, sizeof(out->in));
		out->in.sin_port = htons((uint16_t)port);
	} else {
		memcpy(&out->in6, ai->ai_addr, sizeof(out->in6));
		out->in6.sin6_port = htons((uint16_t)port);
	}
	st = ENDPOINT_OK;
out:
	if (res)
		freeaddrinfo(res);
	return st;
}

enum endpoint_status endpoint_resolve(const char *s, union sockaddr_any *out)
{
	return endpoint_lookup(s, out, endpoint_resolve_host_names);
}

bool parse_endpoint(const char *s, union sockaddr_any *out)
{
	return endpoint_resolve(s, out) == ENDPOINT_OK;
}

bool parse_endpoint_numeric(const char *s, union sockaddr_any *out)
{
	return endpoint_lookup(s, out, false) == ENDPOINT_OK;
}

void format_endpoint(char *buf, size_t len, const union sockaddr_any *ep)
{
	char host[NI_MAXHOST];
	socklen_t salen;
	uint16_t port;

	if (!len)
		return;
	if (ep->sa.sa_family == AF_INET) {
		salen = sizeof(ep->in);
		port = ntohs(ep->in.sin_port);
	} else if (ep->sa.sa_family == AF_INET6) {
		salen = sizeof(ep->in6);
		port = ntohs(ep->in6.sin6_port);
	} else {
		snprintf(buf, len, "(none)");
		return;
	}
	/* getnameinfo rather than inet_ntop: it adds "%scope" to link-local
	 * IPv6 addresses as wg does. NI_NUMERICHOST: never a DNS lookup. */
	if (getnameinfo(&ep->sa, salen, host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0) {
		snprintf(buf, len, "(invalid)");
		return;
	}
	if (ep->sa.sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", host, (unsigned)port);
	else
		snprintf(buf, len, "%s:%u", host, (unsigned)port);
}

int ip_prefix_cmp(const struct ip_prefix *a, const struct ip_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
	if (c)
		return c;
	return a->cidr < b->cidr ? -1 : a->cidr > b->cidr;
}

bool sockaddr_equal(const union sockaddr_any *a, const union sockaddr_any *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
	return true;
}

void format_prefix(char *buf, size_t len, const struct ip_prefix *p)
{
	char text[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family, p->addr, text, sizeof(text)))
		snprintf(text, sizeof(text), "?");
	snprintf(buf, len, "%s/%u", text, (unsigned)p->cidr);
}

bool local_source_equal(const struct local_source *a, const struct local_source *b)
{
	if (a->family != b->family || a->ifindex != b->ifindex)
		return false;
	if (a->family == AF_INET)
		return a->addr.v4.s_addr == b->addr.v4.s_addr;
	if (a->family == AF_INET6)
		return !memcmp(&a->addr.v6, &b->addr.v6, 16);
	return true;
}
