/* vpnd up --netns NAME: the interface is made here and moved into the
 * named network namespace (/var/run/netns/NAME, as ip-netns(8) makes
 * them); its UDP socket stays here. */
#ifndef VPND_DAEMON_NETNS_H
#define VPND_DAEMON_NETNS_H

#include <stddef.h>

struct nl;

#define NETNS_DIR "/var/run/netns"

/* An fd of NETNS_DIR/name (close-on-exec), or -errno with err set. */
int netns_open(const char *name, char *err, size_t err_len);

/* With the calling thread in namespace nsfd for the time of the call:
 * opens a netlink socket there (it stays bound to that namespace) and
 * looks up ifname's index there. Single-threaded callers only (setns).
 * 0, or -errno with err set (*nl then NULL). */
int netns_nl_open(int nsfd, const char *ns_name, const char *ifname, struct nl **nl,
		  unsigned *ifindex, char *err, size_t err_len);

#endif
