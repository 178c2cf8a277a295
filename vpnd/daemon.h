/* The daemon: interface set-up, the event loop, shut-down. */
#ifndef VPND_DAEMON_H
#define VPND_DAEMON_H

#include <stdbool.h>

#include "vpnd/config.h"

#define PID_DIR "/var/run/vpnd"

struct daemon_opts {
	const char *ifname;
	bool foreground;
	const struct config *cfg;	/* vpnd up; NULL for vpnd daemon (UAPI only) */
	const char *config_path;	/* vpnd up: what SIGHUP reloads; else NULL */
};

/* Sets everything up, daemonizes unless foreground (the parent returns 0
 * once the interface is up), runs the loop, and cleans up. Returns the exit
 * status; errors are printed. */
int daemon_run(const struct daemon_opts *o);

#endif
