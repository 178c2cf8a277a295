/* TUN device: open /dev/net/tun and name the interface. tun/ knows nothing
 * of peers or keys. */
#ifndef VPND_TUN_H
#define VPND_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

/* Opens a TUN (IFF_TUN | IFF_NO_PI) named name (a pattern like "vpn%d" is
 * allowed); the kernel's chosen name is written to name_out. The fd is
 * non-blocking and close-on-exec. Returns the fd, or -errno with a readable
 * message in err. */
int tun_open(const char *name, char name_out[IFNAMSIZ], unsigned flags, char *err,
	     size_t err_len);

/* flags for tun_open */
#define TUN_OPEN_VNET_HDR 1u	/* IFF_VNET_HDR: every packet has a virtio_net_hdr */

#endif
