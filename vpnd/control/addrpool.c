/* The address pool of a hub: which tunnel addresses of the interface's
 * subnets are taken, and the next free one. Pure: a parsed config in, an
 * address or a verdict out; no files, no printing (vpnd peer add says why).
 *
 * An address is taken when it is one of the interface's addresses or lies
 * in a peer's AllowedIPs prefix carved out of the subnet (a prefix as long
 * as the subnet's or longer); broader prefixes (a default route, a
 * supernet) are not counted, since a client's /32 is more specific anyway.
 * IPv4 skips the subnet's network and broadcast addresses, IPv6 the
 * subnet-router anycast address (host part 0). IPv6 pools are scanned over
 * their first 2^20 hosts at most. */
#include "vpnd/control/addrpool.h"

#include <stdlib.h>
#include <string.h>

enum { IPV6_SCAN_MAX = 1 << 20 };

static size_t fam_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static void mask_to(struct ip_prefix *out, const struct ip_prefix *in, unsigned cidr)
{
	*out = *in;
	out->cidr = (uint8_t)cidr;
	for (size_t i = 0; i < fam_bits(in->family) / 8; i++) {
		unsigned left = cidr > 8 * i ? cidr - 8 * i : 0;

		if (left == 0)
			out->addr[i] = 0;
		else if (left < 8)
			out->addr[i] &= (uint8_t)(0xff << (8 - left));
	}
}

static bool in_subnet(const struct ip_prefix *subnet, const struct ip_prefix *p)
{
	struct ip_prefix m;

	if (p->family != subnet->family || p->cidr < subnet->cidr)
		return false;
	mask_to(&m, p, subnet->cidr);
	return !memcmp(m.addr, subnet->addr, fam_bits(p->family) / 8);
}

static uint64_t be64(const uint8_t *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* The host part of addr within subnet, if it fits 64 bits. */
static bool host_offset(const struct ip_prefix *subnet, const uint8_t *addr, uint64_t *off)
{
	unsigned host_bits = (unsigned)fam_bits(subnet->family) - subnet->cidr;

	if (subnet->family == AF_INET) {
		*off = be64(addr, 4) & ((UINT64_C(1) << host_bits) - 1);
		return true;
	}
	if (host_bits > 64) {
		struct ip_prefix hi = { .family = AF_INET6 };

		/* bits between the subnet's length and the low 64 must be 0 */
		memcpy(hi.addr, addr, 8);
		for (unsigned b = subnet->cidr; b < 64; b++)
			if (hi.addr[b / 8] & (0x80 >> (b % 8)))
				return false;
		*off = be64(addr + 8, 8);
		return true;
	}
	*off = be64(addr + 8, 8) & (host_bits == 64 ? UINT64_MAX : (UINT64_C(1) << host_bits) - 1);
	return true;
}

static void address_at(struct ip_prefix *out, const struct ip_prefix *subnet, uint64_t off)
{
	size_t bytes = fam_bits(subnet->family) / 8;

	*out = *subnet;
	out->cidr = (uint8_t)fam_bits(subnet->family);
	for (size_t i = 0; i < 8 && i < bytes; i++)
		out->addr[bytes - 1 - i] |= (uint8_t)(off >> (8 * i));
}

struct range {
	uint64_t lo, hi;
};

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

struct used {
	struct range *v;
	size_t n;
};

static int collect_used(struct used *u, const struct config *cfg, const struct ip_prefix *subnet)
{
	size_t total = cfg->n_addresses;

	for (size_t i = 0; i < cfg->n_peers; i++)
		total += cfg->peers[i].n_allowed_ips;
	u->n = 0;
	u->v = malloc((total + 1) * sizeof(*u->v));
	if (!u->v)
		return -1;
	for (size_t i = 0; i < cfg->n_addresses; i++) {
		struct ip_prefix host = cfg->addresses[i];
		uint64_t off;

		host.cidr = (uint8_t)fam_bits(host.family);
		if (in_subnet(subnet, &host) && host_offset(subnet, host.addr, &off))
			u->v[u->n++] = (struct range){ off, off };
	}
	for (size_t i = 0; i < cfg->n_peers; i++) {
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips; j++) {
			const struct ip_prefix *p = &cfg->peers[i].allowed_ips[j];
			unsigned span = (unsigned)fam_bits(p->family) - p->cidr;
			uint64_t off;

			if (!in_subnet(subnet, p) || !host_offset(subnet, p->addr, &off))
				continue;
			u->v[u->n++] = (struct range){
				off, span >= 63 ? UINT64_MAX : off + (UINT64_C(1) << span) - 1
			};
		}
	}
	qsort(u->v, u->n, sizeof(*u->v), cmp_range);
	return 0;
}

static bool is_used(const struct used *u, uint64_t off)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->v[i].lo <= off && off <= u->v[i].hi)
			return true;
	return false;
}

/* Usable host offsets of a subnet: [*first, *last]; false if none. */
static bool host_range(const struct ip_prefix *subnet, uint64_t *first, uint64_t *last)
{
	unsigned host_bits = (unsigned)fam_bits(subnet->family) - subnet->cidr;

	if (host_bits == 0)
		return false;
	if (subnet->family == AF_INET) {
		*first = host_bits == 1 ? 0 : 1;
		*last = (UINT64_C(1) << host_bits) - (host_bits == 1 ? 1 : 2);
	} else {
		*first = 1;
		*last = host_bits >= 20 ? IPV6_SCAN_MAX : (UINT64_C(1) << host_bits) - 1;
	}
	return *first <= *last;
}

/* The first free host, sweeping the sorted ranges once. */
static bool pick_free(const struct used *u, uint64_t first, uint64_t last, uint64_t *out)
{
	uint64_t c = first;

	for (size_t i = 0; i < u->n && c <= last; i++) {
		if (u->v[i].hi < c)
			continue;
		if (u->v[i].lo > c)
			break;
		if (u->v[i].hi == UINT64_MAX)
			return false;
		c = u->v[i].hi + 1;
	}
	if (c > last)
		return false;
	*out = c;
	return true;
}

bool addrpool_subnet(const struct config *cfg, int family, struct ip_prefix *out)
{
	for (size_t i = 0; i < cfg->n_addresses; i++) {
		if (cfg->addresses[i].family == family) {
			mask_to(out, &cfg->addresses[i], cfg->addresses[i].cidr);
			return true;
		}
	}
	return false;
}

size_t addrpool_subnets(const struct config *cfg, struct ip_prefix *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_addresses && n < max; i++) {
		struct ip_prefix s;
		bool dup = false;

		mask_to(&s, &cfg->addresses[i], cfg->addresses[i].cidr);
		for (size_t j = 0; j < n; j++)
			dup |= !ip_prefix_cmp(&s, &out[j]);
		if (!dup)
			out[n++] = s;
	}
	return n;
}

enum addrpool_result addrpool_check(const struct config *cfg, const struct ip_prefix *addr)
{
	struct ip_prefix subnet;
	struct used u;
	uint64_t off, first, last;
	bool used;

	if (addr->cidr != fam_bits(addr->family))
		return ADDRPOOL_OUTSIDE;
	if (!addrpool_subnet(cfg, addr->family, &subnet) || !in_subnet(&subnet, addr) ||
	    !host_offset(&subnet, addr->addr, &off) || !host_range(&subnet, &first, &last) ||
	    off < first || (addr->family == AF_INET && off > last))
		return ADDRPOOL_OUTSIDE;
	if (collect_used(&u, cfg, &subnet) < 0)
		return ADDRPOOL_NOMEM;
	used = is_used(&u, off);
	free(u.v);
	return used ? ADDRPOOL_IN_USE : ADDRPOOL_OK;
}

enum addrpool_result addrpool_pick(const struct config *cfg, int family, struct ip_prefix *out)
{
	struct ip_prefix subnet;
	struct used u;
	uint64_t first, last, off;
	bool ok;

	if (!addrpool_subnet(cfg, family, &subnet))
		return ADDRPOOL_NO_SUBNET;
	if (collect_used(&u, cfg, &subnet) < 0)
		return ADDRPOOL_NOMEM;
	ok = host_range(&subnet, &first, &last) && pick_free(&u, first, last, &off);
	free(u.v);
	if (!ok)
		return ADDRPOOL_EXHAUSTED;
	address_at(out, &subnet, off);
	return ADDRPOOL_OK;
}
