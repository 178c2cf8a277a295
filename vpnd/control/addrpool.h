/* The address pool of a hub (vpnd peer add): the interface's subnets, and
 * which host addresses of them the config already gives out. Pure. */
#ifndef VPND_CONTROL_ADDRPOOL_H
#define VPND_CONTROL_ADDRPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "vpnd/control/config.h"

enum addrpool_result {
	ADDRPOOL_OK = 0,
	ADDRPOOL_NO_SUBNET,	/* the interface has no Address of this family */
	ADDRPOOL_OUTSIDE,	/* not a usable host address of the subnet */
	ADDRPOOL_IN_USE,	/* an interface address or inside a peer's AllowedIPs */
	ADDRPOOL_EXHAUSTED,	/* no free host left */
	ADDRPOOL_NOMEM,
};

/* The interface's first Address of family, masked to its subnet. */
bool addrpool_subnet(const struct config *cfg, int family, struct ip_prefix *out);
/* Every subnet of the interface's Addresses, once each (at most max). */
size_t addrpool_subnets(const struct config *cfg, struct ip_prefix *out, size_t max);
/* May addr (a /32 or /128) be given to a new peer? */
enum addrpool_result addrpool_check(const struct config *cfg, const struct ip_prefix *addr);
/* The lowest free host of the family's subnet, as a /32 or /128. */
enum addrpool_result addrpool_pick(const struct config *cfg, int family, struct ip_prefix *out);

#endif
