/* Which AllowedIPs get a route through the interface: shared by vpnd up
 * (daemon.c) and vpnd reload (reload.c), so both agree on what was
 * installed and what a reload must add or delete. */
#ifndef VPND_ROUTES_H
#define VPND_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "vpnd/control/config.h"

/* True if p lies inside the subnet of one of the interface's addresses of
 * its family: the kernel's connected route already carries it. */
bool route_covered_by_address(const struct config *cfg, const struct ip_prefix *p);

/* True if vpnd installs a route for p in the main table: Table = auto, not
 * covered by an address, and not a default route (/0), which goes to the
 * full-tunnel table (fulltunnel.h). Table = off or N: never (reload leaves
 * the routes of Table = N as up made them). */
bool route_wanted(const struct config *cfg, const struct ip_prefix *p);

struct nl;
enum route_check {
	ROUTE_FREE,		/* nothing of the host's for p: add it */
	ROUTE_IN_THE_WAY,	/* the host routes p elsewhere: refuse, err says which */
	ROUTE_CHECK_FAILED,	/* the table could not be read: refuse, err says why */
};
#define ROUTE_TABLE_MAIN 254
/* Whether a route for p through ifindex in table (ROUTE_TABLE_MAIN, or
 * Table = N) would take the place of one of the host's (its LAN's
 * connected route, a static route via a gateway, any metric). vpnd adds
 * routes with NLM_F_EXCL and never replaces: a clash is a refusal, checked
 * before anything changes. */
enum route_check route_check_free(struct nl *nl, unsigned ifindex, uint32_t table,
				  const struct ip_prefix *p, char *err, size_t err_len);

#endif
