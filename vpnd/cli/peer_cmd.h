/* Private to the vpnd peer commands (cli/peer_cmd.c: arguments, add,
 * remove and the subcommand table; cli/peer_list.c: list). */
#ifndef VPND_CLI_PEER_CMD_H
#define VPND_CLI_PEER_CMD_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "vpnd/control/config.h"

enum { NAME_MAX_LEN = 64, MAX_IPS = 4 };

struct peer_args {
	const char *name, *iface, *endpoint, *output;
	/* peer add: the client's DNS line, AllowedIPs (default: the server's
	 * subnets) and PersistentKeepalive (default 25, "0": none), as given. */
	const char *dns, *allowed_ips, *keepalive;
	const char *ips[MAX_IPS];
	size_t n_ips;
	bool qr;
};

struct iface_paths {
	char conf[PATH_MAX], dir[PATH_MAX], file[PATH_MAX + NAME_MAX_LEN + 8];
	char ifname[IFNAMSIZ];
};

/* CONFIG_DIR/IFACE.conf, IFACE.d/ and IFACE.d/NAME.conf; -1 (said) if bad. */
int peer_cmd_resolve_paths(const struct peer_args *a, struct iface_paths *p);
/* Loads IFACE's config; -1 with the error printed. */
int peer_cmd_load_config(struct config *cfg, const char *path);
/* "198.19.0.2/32, 2001:db8::2/128" */
void peer_cmd_list_prefixes(char *buf, size_t len, const struct ip_prefix *v, size_t n);
int peer_list(const struct peer_args *a);

#endif
