/* Interface set-up over rtnetlink, through libmnl: MTU, link state,
 * addresses, routes, deletion, and a watch that tells when a link goes away.
 * Every call returns 0 or -errno and, on error, writes a readable message
 * naming the operation and its argument into err (e.g.
 * "add address 198.18.0.1/24 to vpn0: File exists"). */
#ifndef VPND_NETLINK_H
#define VPND_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nl;

struct nl *nl_open(char *err, size_t err_len);
void nl_close(struct nl *nl);

/* 0 if no such interface. */
unsigned nl_ifindex(const char *ifname);

int nl_link_set_mtu(struct nl *nl, unsigned ifindex, unsigned mtu, char *err, size_t err_len);
int nl_link_set_up(struct nl *nl, unsigned ifindex, bool up, char *err, size_t err_len);
/* Moves the link into the network namespace netns_fd (an fd of
 * /var/run/netns/NAME; netns_name for the message). The kernel takes it
 * down and drops its addresses and routes: set them again there. */
int nl_link_set_netns(struct nl *nl, unsigned ifindex, int netns_fd, const char *netns_name,
		      char *err, size_t err_len);
/* The id the namespace netns_fd has in ours (one is given when a link
 * moves there), or -errno (-ENOENT: none). */
int nl_netns_id(struct nl *nl, int netns_fd);
int nl_link_delete(struct nl *nl, unsigned ifindex, char *err, size_t err_len);
/* family AF_INET / AF_INET6; addr 4 or 16 bytes. */
int nl_addr_add(struct nl *nl, unsigned ifindex, int family, const uint8_t *addr,
		uint8_t prefix_len, char *err, size_t err_len);
int nl_addr_del(struct nl *nl, unsigned ifindex, int family, const uint8_t *addr,
		uint8_t prefix_len, char *err, size_t err_len);
/* Route dst/prefix_len via the interface (scope link, main table, proto
 * static), NLM_F_EXCL: a route already there for the same prefix and
 * metric is -EEXIST, never replaced. */
int nl_route_add(struct nl *nl, unsigned ifindex, int family, const uint8_t *dst,
		 uint8_t prefix_len, char *err, size_t err_len);
/* Whether table (RT_TABLE_MAIN = 254, or a Table = N) already routes
 * exactly dst/prefix_len other than through ifindex (another device, a
 * gateway, a blackhole; any metric): 1 with that route described into what
 * ("198.18.5.0/24 dev eth0 proto kernel"), 0 if not, -errno (err set) if
 * the routes cannot be read. */
int nl_route_in_the_way(struct nl *nl, unsigned ifindex, uint32_t table, int family,
			const uint8_t *dst, uint8_t prefix_len, char *what, size_t what_len,
			char *err, size_t err_len);
int nl_route_del(struct nl *nl, unsigned ifindex, int family, const uint8_t *dst,
		 uint8_t prefix_len, char *err, size_t err_len);

/* --- policy routing (full tunnel, Table =) ----------------------------
 * Routes in a given table and the rules that steer traffic into it. Adds
 * use NLM_F_EXCL: something already in the way is an error (-EEXIST), so
 * what vpnd removes later is only ever what it added. */

/* dst/prefix_len via the interface in table (1..2^32-1), proto static. */
int nl_route_add_table(struct nl *nl, unsigned ifindex, int family, const uint8_t *dst,
		       uint8_t prefix_len, uint32_t table, char *err, size_t err_len);
/* The default route of family in table as "unreachable" with metric
 * (a kill switch: it stays when the interface goes). */
int nl_route_unreachable(struct nl *nl, bool add, int family, uint32_t table, uint32_t metric,
			 char *err, size_t err_len);
/* Whether anything uses table: a route in it (IPv4 or IPv6), or a rule
 * that looks it up or matches its number as fwmark. 1, 0, or -errno (err
 * set). A full tunnel takes the first table not in use, as wg-quick. */
int nl_table_in_use(struct nl *nl, uint32_t table, char *err, size_t err_len);
/* A rule "[not] fwmark MARK lookup TABLE" (mark != 0), or with mark 0 and
 * suppress_prefixlen >= 0 "lookup TABLE suppress_prefixlength N". The
 * kernel picks the priority (just above the main table's rule) on add. */
struct nl_rule {
	int family;
	uint32_t table;
	uint32_t fwmark;
	bool invert;
	int suppress_prefixlen;	/* -1: none */
};
int nl_rule_add(struct nl *nl, const struct nl_rule *r, char *err, size_t err_len);
int nl_rule_del(struct nl *nl, const struct nl_rule *r, char *err, size_t err_len);

/* A separate non-blocking socket subscribed to link events: poll its fd,
 * then call nl_watch_link() to learn where the link is now and its latest
 * state (admin up/down, MTU). */
struct nl_watch;
struct nl_watch *nl_watch_open(char *err, size_t err_len);
int nl_watch_fd(const struct nl_watch *w);

/* Where a watched link is, seen from the watch's network namespace. */
enum nl_link_where {
	LINK_PRESENT,	/* here, as ifindex (which changes if it came back) */
	LINK_MOVED,	/* moved to another namespace: alive, but not seen from here */
	LINK_GONE,	/* deleted: stop */
};
/* The caller's record of its link, updated by nl_watch_link(). Start it
 * with the link's index and name, nsid NL_NSID_HERE and LINK_PRESENT, or
 * LINK_MOVED with NL_NSID_UNKNOWN if it was moved away before the watch
 * opened. The watch follows a moved link into a namespace that has an id
 * here (NETLINK_LISTEN_ALL_NSID): ifindex and nsid are then its index and
 * namespace over there, and a deletion there is LINK_GONE. A link away is
 * recognised by its name (the last one seen) when it comes back.
 * seen/up/mtu: its state from RTM_NEWLINK, wherever it was followed. */
#define NL_NSID_HERE	(-1)
#define NL_NSID_UNKNOWN	(-2)
struct nl_link {
	unsigned ifindex;
	int nsid;
	char ifname[16];	/* IFNAMSIZ */
	enum nl_link_where where;
	bool seen;		/* an RTM_NEWLINK in the last nl_watch_link(): up, mtu */
	bool up;		/* IFF_UP: administratively up */
	unsigned mtu;		/* 0 if no event said it */
};
enum nl_link_where nl_watch_link(struct nl_watch *w, struct nl_link *l);
/* What one link message (RTM_NEWLINK/RTM_DELLINK) from namespace msg_nsid
 * (NL_NSID_HERE or that namespace's id here) tells of l; the watch's
 * decision, exposed for tests. Once LINK_GONE, l never changes again. */
struct nlmsghdr;
void nl_link_event(struct nl_link *l, const struct nlmsghdr *nlh, int msg_nsid);
/* Stateless: true once ifindex was deleted; a move (or a link missing
 * after lost events) is not a deletion. Who holds the TUN fd learns of a
 * deletion after a move from that fd. */
bool nl_watch_link_gone(struct nl_watch *w, unsigned ifindex);
void nl_watch_close(struct nl_watch *w);

#endif
