/* Peer names for vpnd show: the name of a peer is the file name of its
 * NAME.d/ file ("alice" for wg0.d/alice.conf), or a "# Name = X" comment in
 * its [Peer] section (which wins, and is the only way in NAME.conf itself).
 * Read straight from the files, without the parser: show must not fail, or
 * resolve host names, because a config is broken or not vpnd's. */
#ifndef VPND_CLI_PEER_NAMES_H
#define VPND_CLI_PEER_NAMES_H

#include "vpnd/control/metrics.h"

/* Sets the name of each peer of m found in ifname's config files
 * (config_resolve(ifname)); peers not found keep "". No config: nothing. */
void peer_names_fill(struct metrics_interface *m, const char *ifname);

#endif
