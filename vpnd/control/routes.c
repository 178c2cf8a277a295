/* Route selection for AllowedIPs; see routes.h. */
#include "vpnd/control/routes.h"

#include <string.h>

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
