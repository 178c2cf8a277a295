/* wg-quick hooks: each command through sh -c, in order, %i replaced by the
 * interface name. Root monitor only. */
#ifndef VPND_DAEMON_HOOKS_H
#define VPND_DAEMON_HOOKS_H

#include <stddef.h>

/* Down hooks: all of them; a failing one is logged. */
void run_hooks(char **cmds, size_t n, const char *ifname);
/* Up hooks (kind "PreUp"/"PostUp"): stop at the first that fails (exit
 * status not 0), as wg-quick's set -e does: -1 and err says which. */
int run_up_hooks(const char *kind, char **cmds, size_t n, const char *ifname, char *err,
		 size_t err_len);

#endif
