/* TUN device creation. The interface lives as long as the returned fd: we
 * never set TUNSETPERSIST, so a crash cannot leave a stale interface behind. */
#include "tun/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void set_err(char *err, size_t err_len, const char *op, const char *name, int e)
{
	if (err && err_len)
		snprintf(err, err_len, "%s '%s': %s", op, name, strerror(e));
}

int tun_open(const char *name, char name_out[IFNAMSIZ], unsigned flags, char *err,
	     size_t err_len)
{
	struct ifreq ifr;
	int fd, ret;

	if (!name)
		name = "";
	if (strlen(name) >= IFNAMSIZ) {
		if (err && err_len)
			snprintf(err, err_len, "interface name '%s': longer than %d characters",
				 name, IFNAMSIZ - 1);
		return -ENAMETOOLONG;
	}

	/* O_NONBLOCK at open time: the data path polls the fd and must never
	 * sleep in read(), and there is then no separate fcntl() to fail. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		if (err && err_len)
			snprintf(err, err_len, "open /dev/net/tun: %s", strerror(errno));
		return ret;
	}

	memset(&ifr, 0, sizeof(ifr));
	/* No packet-information header: WireGuard carries bare IP packets and
	 * the version nibble tells v4 from v6. */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (flags & TUN_OPEN_VNET_HDR)
		ifr.ifr_flags |= IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		set_err(err, err_len, "create interface", name, errno);
		goto fail;
	}

	/* The kernel expands patterns such as "vpn%d"; report what it chose. */
	memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
	name_out[IFNAMSIZ - 1] = '\0';
	return fd;

fail:
	close(fd);
	return ret;
}
