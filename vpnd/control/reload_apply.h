/* Running a fleet: vpnd reload and vpnd peer, and what they share with
 * vpnd up/down (the config directory) and the daemon's monitor (SIGHUP
 * runs reload_apply).
 *
 * The config directory is /etc/vpnd unless $VPND_CONFIG_DIR names another
 * (tests use a temporary one); it applies to every command that takes a
 * NAME. */
#ifndef VPND_FLEET_H
#define VPND_FLEET_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "vpnd/control/config.h"

#define CONFIG_DIR_DEFAULT "/etc/vpnd"

const char *config_dir(void);
/* "wg0" -> CONFIG_DIR/wg0.conf; a path (a '/' or ".conf" in it) stays a
 * path. The interface is named after the file, as wg-quick does. false,
 * with err set, when that name is not a valid interface name (ifname.h):
 * the caller stops there. */
bool config_resolve(const char *arg, char *path, size_t len, char ifname[IFNAMSIZ], char *err,
		    size_t err_len);

struct reload_report {
	size_t peers_added, peers_removed, peers_changed, peers_unchanged;
	size_t routes_added, routes_deleted;
	bool interface_changed;
	bool sent;		/* a set=1 request was made */
};

/* Re-reads config_path (and its NAME.d/) as root, compares it with what
 * ifname runs (get=1) and applies only the difference (reload.h) through
 * set=1, plus route changes in the caller's network namespace. A config
 * with any error is refused whole: err then holds the parser's
 * "FILE:LINE: what: 'text'" and nothing is touched. Returns 0 or -1.
 * warn_fn gets warnings (config permissions, changes that need down/up).
 * With keep, the config loaded is handed over on success (the monitor keeps
 * it for its hooks and endpoint re-resolution); the caller frees it. */
int reload_apply(const char *ifname, const char *config_path, void (*warn_fn)(const char *msg),
		 struct reload_report *rep, struct config *keep, char *err, size_t err_len);
/* "wg0: peers: 1 added, ...; routes: ..." or "wg0: up to date, ...". */
void reload_report_format(char *buf, size_t len, const char *ifname,
			  const struct reload_report *rep);

/* The exit code by which a command asks main (cli/main.c) to print its
 * usage lines, which come from main's subcommand table; main exits 1. */
#define VPND_EXIT_USAGE 64
int reload_main(int argc, char **argv);
int peer_main(int argc, char **argv);

#endif
