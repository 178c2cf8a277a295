/* DNS = of a config, applied the way the system expects, never by
 * overwriting /etc/resolv.conf:
 *   - resolvconf on $PATH (openresolv or Debian's): resolvconf -a IFACE -m 0
 *     -x with "nameserver"/"search" lines on stdin (as wg-quick), undone
 *     with resolvconf -d IFACE -f;
 *   - else systemd-resolved running (its varlink socket) and resolvectl:
 *     resolvectl dns / domain IFACE (domain "~." too for a full tunnel, so
 *     that every query goes to the tunnel's servers), undone with
 *     resolvectl revert;
 *   - else up is refused with a message saying what to install.
 * The method used is written to STATE_DIR/IFACE.dns first, so that down,
 * a failed up, or the next up/down after a crash undoes it. */
#ifndef VPND_CONTROL_DNS_H
#define VPND_CONTROL_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "vpnd/control/config.h"

/* Nothing to do (no DNS =): 0. Else 0, or -errno with err set. */
int dns_up(const char *ifname, const struct config *cfg, char *err, size_t err_len);
/* Undoes what IFACE.dns records; false if nothing was recorded. */
bool dns_undo(const char *ifname);

#endif
