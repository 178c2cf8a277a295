/* Writing configurations back out:
 *   - vpnd strip FILE: the wg(8) part of a parsed config (what wg setconf /
 *     syncconf accept: vpnd's and wg-quick's own keys left out), NAME.d
 *     peers included;
 *   - vpnd showconf IFACE: the running interface (get=1) in the same form;
 *   - SaveConfig = true: at vpnd down, the running peers and endpoints with
 *     the file's own [Interface] keys, written atomically (temp + rename,
 *     0600).
 * The text holds private and preshared keys: callers print it only where
 * the operator asked for it. */
#ifndef VPND_CONTROL_SAVECONF_H
#define VPND_CONTROL_SAVECONF_H

#include <stdio.h>

#include "vpnd/control/config.h"
#include "vpnd/control/reload.h"

/* The wg(8)-only form of cfg. */
void saveconf_strip(FILE *f, const struct config *cfg);
/* The wg(8) form of a running interface. */
void saveconf_running(FILE *f, const struct running_state *rs);
/* SaveConfig: cfg's own [Interface] keys (Address, MTU, Table, hooks,
 * KillSwitch, PeerToPeer, SaveConfig), the running key, port, fwmark and
 * peers; peers that cfg loaded from a NAME.d file stay there and are left
 * out. */
void saveconf_merged(FILE *f, const struct config *cfg, const char *main_path,
		     const struct running_state *rs);
/* The running state of ifname over its UAPI socket (get=1). 0 or -1 with
 * err set; free with running_state_free. */
int saveconf_fetch(const char *ifname, struct running_state *rs, char *err, size_t err_len);
/* saveconf_merged into path, atomically. 0 or -errno with err set. */
int saveconf_write(const char *path, const struct config *cfg, const struct running_state *rs,
		   char *err, size_t err_len);

#endif
