/* The daemon: interface set-up, the event loop, shut-down. */
#ifndef VPND_DAEMON_H
#define VPND_DAEMON_H

#include <stdbool.h>

#include "vpnd/control/config.h"

#define PID_DIR "/var/run/vpnd"

struct daemon_opts {
	const char *ifname;
	bool foreground;
	/* vpnd up; NULL for vpnd daemon (UAPI only). Its keys are wiped once
	 * applied: neither process keeps them outside the device. */
	struct config *cfg;
	const char *config_path;	/* vpnd up: what SIGHUP reloads; else NULL */
	/* vpnd up --netns NAME: the link moves into NAME once configured,
	 * the UDP socket stays here; NULL: the link stays here. */
	const char *netns;
};

/* Sets everything up, daemonizes unless foreground (the parent returns 0
 * once the interface is up), runs the loop, and cleans up. Returns the exit
 * status; errors are printed. */
int daemon_run(const struct daemon_opts *o);

#endif
