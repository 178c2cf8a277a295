/* Applying a parsed config to the device and the interface (vpnd up). */
#ifndef VPND_CONTROL_INTERFACE_H
#define VPND_CONTROL_INTERFACE_H

#include <stddef.h>

#include "vpnd/control/config.h"

struct device;
struct nl;

/* The device's identity, port, fwmark, MTU and peers from cfg (no netlink);
 * dev->fwmark on entry: the full tunnel's table picked at up, or 0. */
int device_apply_config(struct device *dev, const struct config *cfg, char *err, size_t err_len);
/* MTU, addresses, device_apply_config, link up, routes. cfg NULL (vpnd
 * daemon): the MTU only. -errno, err says what failed. */
int interface_configure(struct nl *nl, struct device *dev, const struct config *cfg, char *err,
			size_t err_len);
/* vpnd up --netns, in the target namespace (nl opened there, dev->ifindex
 * the index there), after device_apply_config: MTU, addresses, link up,
 * routes, and a /0 as a plain route in the main table (no full-tunnel
 * rules: the namespace's only way out is the tunnel). */
int interface_configure_link(struct nl *nl, struct device *dev, const struct config *cfg,
			     char *err, size_t err_len);

#endif
