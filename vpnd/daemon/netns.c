/* Network namespaces for vpnd up --netns (netns.h). */
#include "vpnd/daemon/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tun/netlink.h"

int netns_open(const char *name, char *err, size_t err_len)
{
	char path[PATH_MAX];
	int fd;

	/* A name, not a path: nothing outside NETNS_DIR. */
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		snprintf(err, err_len, "--netns: not a namespace name: '%s'", name);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/%s", NETNS_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		snprintf(err, err_len, "--netns %s: %s: %s (make it with ip netns add %s)", name,
			 path, strerror(e), name);
		return -e;
	}
	return fd;
}

int netns_nl_open(int nsfd, const char *ns_name, const char *ifname, struct nl **nl,
		  unsigned *ifindex, char *err, size_t err_len)
{
	int self, ret = 0;

	*nl = NULL;
	*ifindex = 0;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		ret = -errno;
		snprintf(err, err_len, "--netns %s: /proc/self/ns/net: %s", ns_name,
			 strerror(-ret));
		return ret;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		ret = -errno;
		snprintf(err, err_len, "--netns %s: enter: %s", ns_name, strerror(-ret));
		goto out;
	}
	*nl = nl_open(err, err_len);
	*ifindex = nl_ifindex(ifname);
	/* Back home before anything else: every other socket vpnd makes
	 * (UDP, UAPI is a file) belongs to this namespace. */
	if (setns(self, CLONE_NEWNET) < 0) {
		ret = -errno;
		snprintf(err, err_len, "--netns %s: return to our namespace: %s", ns_name,
			 strerror(-ret));
		nl_close(*nl);
		*nl = NULL;
		goto out;
	}
	if (!*nl)
		ret = -EIO;
	else if (!*ifindex) {
		snprintf(err, err_len, "--netns %s: %s is not there after the move", ns_name,
			 ifname);
		nl_close(*nl);
		*nl = NULL;
		ret = -ENODEV;
	}
out:
	close(self);
	return ret;
}
