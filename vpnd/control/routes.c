/* Route selection for AllowedIPs; see routes.h. */
#include "vpnd/control/routes.h"

#include <stdio.h>
#include <string.h>

#include "tun/netlink.h"

bool route_covered_by_address(const struct config *cfg, const struct ip_prefix *p)
{
	for (size_t i = 0; i < cfg->n_addresses; i++) {
		const struct ip_prefix *a = &cfg->addresses[i];
		struct ip_prefix m = *p;

		if (a->family != p->family || a->cidr > p->cidr)
			continue;
		/* p lies inside a's subnet iff p masked to a's length equals a's subnet */
		uint8_t net[16];
		size_t bytes = a->family == AF_INET ? 4 : 16;

		memcpy(net, a->addr, bytes);
		for (size_t b = 0; b < bytes; b++) {
			unsigned keep = a->cidr > b * 8 ? (a->cidr - b * 8 >= 8 ? 8 : a->cidr - b * 8) : 0;
			uint8_t mask = (uint8_t)(0xff00 >> keep);

			net[b] &= mask;
			m.addr[b] &= mask;
		}
		if (!memcmp(net, m.addr, bytes))
			return true;
	}
	return false;
}

bool route_wanted(const struct config *cfg, const struct ip_prefix *p)
{
	return cfg->table_mode == TABLE_AUTO && p->cidr != 0 &&
	       !route_covered_by_address(cfg, p);
}

enum route_check route_check_free(struct nl *nl, unsigned ifindex, uint32_t table,
				  const struct ip_prefix *p, char *err, size_t err_len)
{
	char what[256], pfx[64], where[32] = "the host";
	int ret = nl_route_in_the_way(nl, ifindex, table, p->family, p->addr, p->cidr, what,
				      sizeof(what), err, err_len);

	if (ret < 0)
		return ROUTE_CHECK_FAILED;
	if (ret == 0)
		return ROUTE_FREE;
	format_prefix(pfx, sizeof(pfx), p);
	if (table != ROUTE_TABLE_MAIN)
		snprintf(where, sizeof(where), "table %u", table);
	snprintf(err, err_len, "AllowedIPs %s: %s already routes it, not replacing its "
		 "route: '%s'", pfx, where, what);
	return ROUTE_IN_THE_WAY;
}
