/* wg-quick hooks: each command through sh -c, in order, %i replaced by the
 * interface name; a failing hook is logged. Root monitor only. */
#ifndef VPND_DAEMON_HOOKS_H
#define VPND_DAEMON_HOOKS_H

#include <stddef.h>

void run_hooks(char **cmds, size_t n, const char *ifname);

#endif
