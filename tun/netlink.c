/* Interface set-up over rtnetlink through libmnl. Every request asks for an
 * ACK so that failures surface as -errno at the call site instead of being
 * lost; the kernel's error code is what the caller acts on, the text in err is
 * for the person reading logs. */
#include "tun/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Requests here are a header plus a few small attributes; acks echo them
 * back. Link notifications can carry many attributes (stats, VF info), so the
 * watch reads with a larger buffer to avoid truncation. */
#define NL_REQ_BUF	8192
#define NL_WATCH_BUF	32768
/* Messages are read in place as struct nlmsghdr, so buffers must be aligned
 * for it (UBSan checks this). */
#define NL_BUF(b)	char b[NL_REQ_BUF] __attribute__((aligned(NLMSG_ALIGNTO)))
/* An interface name, or "ifindex N" once it has gone. */
#define NAME_LEN	(IF_NAMESIZE + 16)
/* Address plus "/128". */
#define PFX_LEN		(INET6_ADDRSTRLEN + 4)

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
};

struct nl_watch {
	struct mnl_socket *sock;
	char buf[NL_WATCH_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
};

static void set_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* Names the interface for messages; it may already be gone, so fall back to
 * the index rather than print an empty name. */
static const char *ifname_of(unsigned ifindex, char buf[NAME_LEN])
{
	char name[IF_NAMESIZE];

	if (if_indextoname(ifindex, name))
		snprintf(buf, NAME_LEN, "%s", name);
	else
		snprintf(buf, NAME_LEN, "ifindex %u", ifindex);
	return buf;
}

/* "198.18.0.1/24" or "2001:db8::1/64" for messages. */
static const char *prefix_str(int family, const uint8_t *addr, uint8_t prefix_len,
			      char buf[PFX_LEN])
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, PFX_LEN, "%s/%u", a, prefix_len);
	return buf;
}

static size_t family_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return 0;
}

/* Rejects what the kernel would reject less legibly, before any I/O. */
static int check_prefix(int family, const uint8_t *addr, uint8_t prefix_len)
{
	size_t len = family_len(family);

	if (!len || !addr || prefix_len > len * 8)
		return -EINVAL;
	return 0;
}

struct nl *nl_open(char *err, size_t err_len)
{
	struct nl *nl;
	int e;

	nl = calloc(1, sizeof(*nl));
	if (!nl) {
		set_err(err, err_len, "open rtnetlink: %s", strerror(ENOMEM));
		return NULL;
	}
	/* Close-on-exec so helper processes never inherit the control socket. */
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		goto fail;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	nl->portid = mnl_socket_get_portid(nl->sock);
	return nl;

fail:
	e = errno;
	set_err(err, err_len, "open rtnetlink: %s", strerror(e));
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl);
	errno = e;
	return NULL;
}

void nl_close(struct nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

unsigned nl_ifindex(const char *ifname)
{
	if (!ifname)
		return 0;
	return if_nametoindex(ifname);
}

/* Sends nlh (its flags set by the caller; the sequence number is set here)
 * and reads the answers into buf with cb until the ACK or the end of a
 * dump. mnl_cb_run() turns an NLMSG_ERROR carrying a non-zero code into -1
 * with errno set to the kernel's code, and a zero one (the ACK) or
 * NLMSG_DONE into MNL_CB_STOP; a reply whose sequence or port does not
 * match fails with EPROTO/ESRCH, so a stray message never passes for ours.
 * buf may be the request's own buffer: it is sent before buf is reused. */
static int nl_exchange(struct nl *nl, struct nlmsghdr *nlh, char *buf, size_t buf_len,
		       mnl_cb_t cb, void *data)
{
	unsigned int seq = ++nl->seq;
	ssize_t n;
	int ret;

	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, buf, buf_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, n, seq, nl->portid, cb, data);
		if (ret < 0)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/* Sends one request and waits for its ACK. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh)
{
	NL_BUF(buf);

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	return nl_exchange(nl, nlh, buf, sizeof(buf), NULL, NULL);
}

static struct nlmsghdr *put_link_hdr(char *buf, uint16_t type, unsigned ifindex,
				     unsigned flags, unsigned change)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	return nlh;
}

int nl_link_set_mtu(struct nl *nl, unsigned ifindex, unsigned mtu, char *err, size_t err_len)
{
	NL_BUF(buf);
	char name[NAME_LEN];
	struct nlmsghdr *nlh;
	int ret;

	nlh = put_link_hdr(buf, RTM_NEWLINK, ifindex, 0, 0);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	ret = nl_talk(nl, nlh);
	if (ret < 0)
		set_err(err, err_len, "set mtu %u on %s: %s", mtu,
			ifname_of(ifindex, name), strerror(-ret));
	return ret;
}

int nl_link_set_netns(struct nl *nl, unsigned ifindex, int netns_fd, const char *netns_name,
		      char *err, size_t err_len)
{
	NL_BUF(buf);
	char name[NAME_LEN];
	struct nlmsghdr *nlh;
	int ret;

	ifname_of(ifindex, name);	/* named before it leaves this namespace */
	nlh = put_link_hdr(buf, RTM_NEWLINK, ifindex, 0, 0);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
	ret = nl_talk(nl, nlh);
	if (ret < 0)
		set_err(err, err_len, "move %s into network namespace %s: %s", name, netns_name,
			strerror(-ret));
	return ret;
}

static int nsid_attr_cb(const struct nlattr *attr, void *data)
{
	int *nsid = data;

	if (mnl_attr_get_type(attr) == NETNSA_NSID && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		*nsid = (int)mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWNSID)
		mnl_attr_parse(nlh, sizeof(struct rtgenmsg), nsid_attr_cb, data);
	return MNL_CB_OK;
}

int nl_netns_id(struct nl *nl, int netns_fd)
{
	NL_BUF(buf);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;
	int nsid = -1, ret;

	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)netns_fd);
	/* The RTM_NEWNSID answer, then the ACK. */
	ret = nl_exchange(nl, nlh, buf, sizeof(buf), nsid_cb, &nsid);
	if (ret < 0)
		return ret;
	return nsid >= 0 ? nsid : -ENOENT;
}

int nl_link_set_up(struct nl *nl, unsigned ifindex, bool up, char *err, size_t err_len)
{
	NL_BUF(buf);
	char name[NAME_LEN];
	struct nlmsghdr *nlh;
	int ret;

	/* ifi_change limits the update to IFF_UP; other flags stay as they are. */
	nlh = put_link_hdr(buf, RTM_NEWLINK, ifindex, up ? IFF_UP : 0, IFF_UP);
	ret = nl_talk(nl, nlh);
	if (ret < 0)
		set_err(err, err_len, "set %s %s: %s", ifname_of(ifindex, name),
			up ? "up" : "down", strerror(-ret));
	return ret;
}

int nl_link_delete(struct nl *nl, unsigned ifindex, char *err, size_t err_len)
{
	NL_BUF(buf);
	char name[NAME_LEN];
	struct nlmsghdr *nlh;
	int ret;

	nlh = put_link_hdr(buf, RTM_DELLINK, ifindex, 0, 0);
	ret = nl_talk(nl, nlh);
	if (ret < 0)
		set_err(err, err_len, "delete link %s: %s", ifname_of(ifindex, name),
			strerror(-ret));
	return ret;
}

static struct nlmsghdr *put_addr_msg(char *buf, uint16_t type, uint16_t flags, unsigned ifindex,
				     int family, const uint8_t *addr, uint8_t prefix_len)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t len = family_len(family);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = prefix_len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	if (family == AF_INET) {
		/* On a point-to-point device IFA_ADDRESS is the peer; making it
		 * equal to IFA_LOCAL gives an ordinary address with its prefix
		 * route, which is what a TUN carrying a whole subnet wants. */
		mnl_attr_put(nlh, IFA_LOCAL, len, addr);
		mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	} else {
		/* No duplicate address detection: a TUN has no neighbours to
		 * ask, and DAD would keep the address tentative (unusable for
		 * binding) for a second or more after we return. */
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	}
	return nlh;
}

static int addr_op(struct nl *nl, bool add, unsigned ifindex, int family, const uint8_t *addr,
		   uint8_t prefix_len, char *err, size_t err_len)
{
	NL_BUF(buf);
	char name[NAME_LEN], pfx[PFX_LEN];
	struct nlmsghdr *nlh;
	int ret;

	ret = check_prefix(family, addr, prefix_len);
	if (ret < 0) {
		set_err(err, err_len, "%s address: bad family %d or prefix length %u",
			add ? "add" : "delete", family, prefix_len);
		return ret;
	}
	/* NLM_F_EXCL: an address that is already there is reported (EEXIST)
	 * so that a configuration clash is not silently merged. */
	nlh = put_addr_msg(buf, add ? RTM_NEWADDR : RTM_DELADDR,
			   add ? NLM_F_CREATE | NLM_F_EXCL : 0,
			   ifindex, family, addr, prefix_len);
	ret = nl_talk(nl, nlh);
	if (ret < 0)
		set_err(err, err_len, "%s address %s %s %s: %s", add ? "add" : "delete",
			prefix_str(family, addr, prefix_len, pfx), add ? "to" : "from",
			ifname_of(ifindex, name), strerror(-ret));
	return ret;
}

int nl_addr_add(struct nl *nl, unsigned ifindex, int family, const uint8_t *addr,
		uint8_t prefix_len, char *err, size_t err_len)
{
	return addr_op(nl, true, ifindex, family, addr, prefix_len, err, err_len);
}

int nl_addr_del(struct nl *nl, unsigned ifindex, int family, const uint8_t *addr,
		uint8_t prefix_len, char *err, size_t err_len)
{
	return addr_op(nl, false, ifindex, family, addr, prefix_len, err, err_len);
}

/* Clears the host bits: WireGuard allowed-IPs such as 198.19.1.1/16 name the
 * network, and the IPv4 FIB refuses a destination with host bits set while
 * IPv6 quietly masks it, so we mask for both to behave alike. */
static void mask_prefix(uint8_t *net, const uint8_t *dst, size_t len, uint8_t prefix_len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned bits = prefix_len > i * 8 ? prefix_len - i * 8 : 0;

		net[i] = bits >= 8 ? dst[i] : (uint8_t)(dst[i] & (0xff00 >> bits));
	}
}

static struct nlmsghdr *put_route_msg(char *buf, bool add, unsigned ifindex, int family,
				      const uint8_t *net, uint8_t prefix_len)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	/* EXCL, never REPLACE: a route of the host's for the same prefix
	 * (the LAN's connected route, a static route via a gateway) must not
	 * be silently swapped for the tunnel; EEXIST reaches the caller. */
	nlh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = prefix_len;
	rtm->rtm_table = RT_TABLE_MAIN;
	/* Deletion matches only our own (static) routes, never the kernel's
	 * prefix routes; RT_SCOPE_NOWHERE is the FIB's "any scope" on delete. */
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = add ? RT_SCOPE_LINK : RT_SCOPE_NOWHERE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, family_len(family), net);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return nlh;
}

static int route_op(struct nl *nl, bool add, unsigned ifindex, int family, const uint8_t *dst,
		    uint8_t prefix_len, char *err, size_t err_len)
{
	NL_BUF(buf);
	char name[NAME_LEN], pfx[PFX_LEN];
	uint8_t net[16];
	int ret;

	ret = check_prefix(family, dst, prefix_len);
	if (ret < 0) {
		set_err(err, err_len, "%s route: bad family %d or prefix length %u",
			add ? "add" : "delete", family, prefix_len);
		return ret;
	}
	mask_prefix(net, dst, family_len(family), prefix_len);
	ret = nl_talk(nl, put_route_msg(buf, add, ifindex, family, net, prefix_len));
	if (ret < 0)
		set_err(err, err_len, "%s route %s dev %s: %s", add ? "add" : "delete",
			prefix_str(family, net, prefix_len, pfx), ifname_of(ifindex, name),
			strerror(-ret));
	return ret;
}

int nl_route_add(struct nl *nl, unsigned ifindex, int family, const uint8_t *dst,
		 uint8_t prefix_len, char *err, size_t err_len)
{
	return route_op(nl, true, ifindex, family, dst, prefix_len, err, err_len);
}

int nl_route_del(struct nl *nl, unsigned ifindex, int family, const uint8_t *dst,
		 uint8_t prefix_len, char *err, size_t err_len)
{
	return route_op(nl, false, ifindex, family, dst, prefix_len, err, err_len);
}

/* --- the route already there -------------------------------------------- */

struct route_find {
	int family;
	uint8_t net[16];
	uint8_t prefix_len;
	uint32_t table;		/* the table looked in */
	unsigned ifindex;	/* ours: routes out of it are not in the way */
	char *what;
	size_t what_len;
	bool found;
};

static const char *route_type_name(uint8_t type)
{
	switch (type) {
	case RTN_UNICAST: return "";
	case RTN_BLACKHOLE: return "blackhole ";
	case RTN_UNREACHABLE: return "unreachable ";
	case RTN_PROHIBIT: return "prohibit ";
	case RTN_THROW: return "throw ";
	default: return "other ";
	}
}

static const char *route_proto_name(uint8_t proto, char buf[8])
{
	switch (proto) {
	case RTPROT_KERNEL: return "kernel";
	case RTPROT_BOOT: return "boot";
	case RTPROT_STATIC: return "static";
	case RTPROT_DHCP: return "dhcp";
	case RTPROT_RA: return "ra";
	default:
		snprintf(buf, 8, "%u", proto);
		return buf;
	}
}

/* Attributes of a dumped route or rule by type, up to max. */
struct attr_index {
	struct nlattr **tb;
	uint16_t max;
};

static int index_attr_cb(const struct nlattr *attr, void *data)
{
	const struct attr_index *ix = data;

	if (mnl_attr_type_valid(attr, ix->max) > 0)
		ix->tb[mnl_attr_get_type(attr)] = (struct nlattr *)attr;
	return MNL_CB_OK;
}

/* A u32 attribute, its length checked first; dflt when absent or short. */
static uint32_t attr_u32(const struct nlattr *a, uint32_t dflt)
{
	return a && mnl_attr_validate(a, MNL_TYPE_U32) >= 0 ? mnl_attr_get_u32(a) : dflt;
}

/* The route in the words of `ip route show`, for the refusal message. */
static void route_describe(const struct route_find *f, const struct rtmsg *rtm,
			   struct nlattr *tb[RTA_MAX + 1])
{
	char pfx[PFX_LEN], via[INET6_ADDRSTRLEN + 8] = "", dev[NAME_LEN + 8] = "";
	char metric[24] = "", name[NAME_LEN], a[INET6_ADDRSTRLEN], proto[8];

	if (tb[RTA_GATEWAY] && mnl_attr_get_payload_len(tb[RTA_GATEWAY]) == family_len(f->family) &&
	    inet_ntop(f->family, mnl_attr_get_payload(tb[RTA_GATEWAY]), a, sizeof(a)))
		snprintf(via, sizeof(via), " via %s", a);
	if (attr_u32(tb[RTA_OIF], 0))
		snprintf(dev, sizeof(dev), " dev %s", ifname_of(attr_u32(tb[RTA_OIF], 0), name));
	else if (tb[RTA_MULTIPATH])
		snprintf(dev, sizeof(dev), " (multipath)");
	if (tb[RTA_PRIORITY])
		snprintf(metric, sizeof(metric), " metric %u", attr_u32(tb[RTA_PRIORITY], 0));
	snprintf(f->what, f->what_len, "%s%s%s%s proto %s%s", route_type_name(rtm->rtm_type),
		 prefix_str(f->family, f->net, f->prefix_len, pfx), via, dev,
		 route_proto_name(rtm->rtm_protocol, proto), metric);
}

/* A route's table: RTA_TABLE when present (tables above 255), else the
 * header's. */
static uint32_t route_table(const struct rtmsg *rtm, struct nlattr *tb[RTA_MAX + 1])
{
	return attr_u32(tb[RTA_TABLE], rtm->rtm_table);
}

/* One route of the dump: in the way if it is f->table's route for exactly
 * our prefix and does not leave through our interface. */
static int route_find_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_find *f = data;
	struct nlattr *tb[RTA_MAX + 1] = { 0 };
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (f->found || nlh->nlmsg_type != RTM_NEWROUTE ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)) || rtm->rtm_family != f->family ||
	    rtm->rtm_dst_len != f->prefix_len || (rtm->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), index_attr_cb, &(struct attr_index){ tb, RTA_MAX });
	if (route_table(rtm, tb) != f->table || !tb[RTA_DST] ||
	    mnl_attr_get_payload_len(tb[RTA_DST]) != family_len(f->family) ||
	    memcmp(mnl_attr_get_payload(tb[RTA_DST]), f->net, family_len(f->family)))
		return MNL_CB_OK;
	if (rtm->rtm_type == RTN_UNICAST && !tb[RTA_GATEWAY] &&
	    attr_u32(tb[RTA_OIF], 0) == f->ifindex)
		return MNL_CB_OK;	/* ours (or the kernel's for our address) */
	route_describe(f, rtm, tb);
	f->found = true;
	return MNL_CB_OK;
}

/* Dumps the family's routes (type RTM_GETROUTE) or rules (RTM_GETRULE)
 * through cb; reads to the end of the dump so the socket stays in step for
 * the next request. Both requests are the 12-byte header whose first byte
 * is the family (struct rtmsg, struct fib_rule_hdr). */
static int nl_dump(struct nl *nl, uint16_t type, int family, mnl_cb_t cb, void *data)
{
	char buf[NL_WATCH_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	_Static_assert(sizeof(struct rtmsg) == sizeof(struct fib_rule_hdr), "dump header");
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	return nl_exchange(nl, nlh, buf, sizeof(buf), cb, data);
}

int nl_route_in_the_way(struct nl *nl, unsigned ifindex, uint32_t table, int family,
			const uint8_t *dst, uint8_t prefix_len, char *what, size_t what_len,
			char *err, size_t err_len)
{
	struct route_find f = { .family = family, .prefix_len = prefix_len, .table = table,
				.ifindex = ifindex, .what = what, .what_len = what_len };
	char pfx[PFX_LEN];
	int ret = check_prefix(family, dst, prefix_len);

	if (ret < 0) {
		set_err(err, err_len, "look up route: bad family %d or prefix length %u", family,
			prefix_len);
		return ret;
	}
	mask_prefix(f.net, dst, family_len(family), prefix_len);
	ret = nl_dump(nl, RTM_GETROUTE, family, route_find_cb, &f);
	if (ret < 0) {
		set_err(err, err_len, "look up routes for %s: %s",
			prefix_str(family, f.net, prefix_len, pfx), strerror(-ret));
		return ret;
	}
	return f.found ? 1 : 0;
}

/* --- a table in use ------------------------------------------------------ */

struct table_use {
	uint32_t table;
	bool used;
};

static int table_route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_use *u = data;
	struct nlattr *tb[RTA_MAX + 1] = { 0 };
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)) ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), index_attr_cb, &(struct attr_index){ tb, RTA_MAX });
	u->used |= route_table(rtm, tb) == u->table;
	return MNL_CB_OK;
}

/* A rule uses the table if it looks it up, or matches its number as fwmark
 * (a full tunnel's mark is its table). */
static int table_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_use *u = data;
	struct nlattr *tb[FRA_MAX + 1] = { 0 };
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	uint32_t table;

	if (nlh->nlmsg_type != RTM_NEWRULE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*frh)))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*frh), index_attr_cb, &(struct attr_index){ tb, FRA_MAX });
	table = attr_u32(tb[FRA_TABLE], frh->table);
	u->used |= table == u->table || attr_u32(tb[FRA_FWMARK], 0) == u->table;
	return MNL_CB_OK;
}

int nl_table_in_use(struct nl *nl, uint32_t table, char *err, size_t err_len)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct table_use u = { .table = table };
	int ret = 0;

	for (size_t i = 0; i < 2 && ret == 0 && !u.used; i++) {
		ret = nl_dump(nl, RTM_GETROUTE, families[i], table_route_cb, &u);
		if (ret == 0 && !u.used)
			ret = nl_dump(nl, RTM_GETRULE, families[i], table_rule_cb, &u);
	}
	if (ret < 0) {
		set_err(err, err_len, "look up table %u: %s", table, strerror(-ret));
		return ret;
	}
	return u.used ? 1 : 0;
}

struct nl_watch *nl_watch_open(char *err, size_t err_len)
{
	struct nl_watch *w;
	int e, one = 1;

	w = calloc(1, sizeof(*w));
	if (!w) {
		set_err(err, err_len, "open link watch: %s", strerror(ENOMEM));
		return NULL;
	}
	/* Non-blocking: the caller polls the fd and then drains what is there
	 * without ever sleeping in recv. */
	w->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!w->sock)
		goto fail;
	if (mnl_socket_bind(w->sock, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	/* Events of the namespaces that have an id here too (one gets one
	 * when our link moves into it): the link is followed over there.
	 * Without it (old kernel) only the TUN fd tells a deletion there. */
	setsockopt(mnl_socket_get_fd(w->sock), SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &one,
		   sizeof(one));
	return w;

fail:
	e = errno;
	set_err(err, err_len, "open link watch: %s", strerror(e));
	if (w->sock)
		mnl_socket_close(w->sock);
	free(w);
	errno = e;
	return NULL;
}

int nl_watch_fd(const struct nl_watch *w)
{
	return mnl_socket_get_fd(w->sock);
}

struct watch_ctx {
	struct nl_link *link;
	int msg_nsid;	/* the message's namespace: NL_NSID_HERE, or its id */
	bool overrun;	/* the kernel dropped events (ENOBUFS) */
};

/* The attributes of a link message that the watch reads. */
struct link_attrs {
	const char *ifname;
	bool moved;		/* IFLA_NEW_NETNSID: a move, not a deletion */
	int new_nsid;		/* ... into this namespace (as the sender sees it) */
	unsigned new_ifindex;	/* IFLA_NEW_IFINDEX: its index over there, or 0 */
	unsigned mtu;		/* IFLA_MTU, or 0 */
};

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct link_attrs *a = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			a->ifname = mnl_attr_get_str(attr);
		break;
	case IFLA_NEW_NETNSID:
		a->moved = true;
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			a->new_nsid = (int)mnl_attr_get_u32(attr);
		break;
	case IFLA_NEW_IFINDEX:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			a->new_ifindex = mnl_attr_get_u32(attr);
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			a->mtu = mnl_attr_get_u32(attr);
		break;
	}
	return MNL_CB_OK;
}

/* Our link, where it is now (here, or in namespace l->nsid), deleted or
 * moved: a move's RTM_DELLINK carries IFLA_NEW_NETNSID (the kernel's
 * __dev_change_net_namespace), a deletion's does not. A move from here
 * says where to (an id of ours); a move from over there says it in that
 * namespace's ids, which mean nothing here: the link is then away,
 * whereabouts unknown. RTM_NEWLINK of our link may rename it. */
static void note_state(struct nl_link *l, const struct ifinfomsg *ifi,
		       const struct link_attrs *a)
{
	l->seen = true;
	l->up = (ifi->ifi_flags & IFF_UP) != 0;
	if (a->mtu)
		l->mtu = a->mtu;
	if (a->ifname)
		snprintf(l->ifname, sizeof(l->ifname), "%s", a->ifname);
}

static void watch_own_link(struct nl_link *l, const struct nlmsghdr *nlh, int msg_nsid,
			   const struct link_attrs *a)
{
	if (nlh->nlmsg_type == RTM_NEWLINK) {
		note_state(l, mnl_nlmsg_get_payload(nlh), a);
		return;
	}
	if (!a->moved) {
		l->where = LINK_GONE;	/* for good: later messages are ignored */
		return;
	}
	l->nsid = msg_nsid == NL_NSID_HERE ? a->new_nsid : NL_NSID_UNKNOWN;
	l->ifindex = a->new_ifindex;
	l->where = LINK_MOVED;
}

/* Away: an RTM_NEWLINK here with our name is the link coming back, with
 * whatever index the kernel gave it. */
void nl_link_event(struct nl_link *l, const struct nlmsghdr *nlh, int msg_nsid)
{
	struct link_attrs a = { .new_nsid = NL_NSID_UNKNOWN };
	const struct ifinfomsg *ifi;
	int where_nsid = l->where == LINK_PRESENT ? NL_NSID_HERE : l->nsid;

	if ((nlh->nlmsg_type != RTM_DELLINK && nlh->nlmsg_type != RTM_NEWLINK) ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)) || l->where == LINK_GONE)
		return;
	ifi = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, &a);
	if (where_nsid != NL_NSID_UNKNOWN && msg_nsid == where_nsid &&
	    (unsigned)ifi->ifi_index == l->ifindex) {
		watch_own_link(l, nlh, msg_nsid, &a);
	} else if (l->where == LINK_MOVED && msg_nsid == NL_NSID_HERE &&
		   nlh->nlmsg_type == RTM_NEWLINK && a.ifname && !strcmp(a.ifname, l->ifname)) {
		l->where = LINK_PRESENT;
		l->nsid = NL_NSID_HERE;
		l->ifindex = (unsigned)ifi->ifi_index;
		note_state(l, ifi, &a);
	}
}

static int watch_cb(const struct nlmsghdr *nlh, void *data)
{
	struct watch_ctx *ctx = data;

	nl_link_event(ctx->link, nlh, ctx->msg_nsid);
	return MNL_CB_OK;
}

/* One datagram and the namespace it comes from (NETLINK_LISTEN_ALL_NSID
 * puts the sender's id in a control message). -1 with errno when none. */
static ssize_t watch_recv(struct nl_watch *w, int *nsid)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { .iov_base = w->buf, .iov_len = sizeof(w->buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			    .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *h;
	ssize_t n = recvmsg(mnl_socket_get_fd(w->sock), &m, 0);

	*nsid = NL_NSID_HERE;
	if (n < 0)
		return n;
	if (m.msg_flags & MSG_TRUNC) {
		errno = ENOBUFS;	/* a lost event, as an overrun */
		return -1;
	}
	for (h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_NETLINK && h->cmsg_type == NETLINK_LISTEN_ALL_NSID &&
		    h->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(nsid, CMSG_DATA(h), sizeof(int));
	if (*nsid < 0)
		*nsid = NL_NSID_HERE;	/* our own namespace has no id in itself */
	return n;
}

/* Reads until the socket is empty. Notifications carry seq 0 and port 0,
 * which tells mnl_cb_run() to skip its request matching. */
static void watch_drain(struct nl_watch *w, struct watch_ctx *ctx)
{
	ssize_t n;

	for (;;) {
		n = watch_recv(w, &ctx->msg_nsid);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: drained. ENOBUFS: events were lost; the
			 * existence check in the caller covers for them,
			 * reading on past the loss. */
			if (errno != ENOBUFS)
				return;
			ctx->overrun = true;
			continue;
		}
		mnl_cb_run(w->buf, n, 0, 0, watch_cb, ctx);
	}
}

enum nl_link_where nl_watch_link(struct nl_watch *w, struct nl_link *l)
{
	struct watch_ctx ctx = { .link = l };
	char name[IF_NAMESIZE];

	l->seen = false;
	watch_drain(w, &ctx);
	if (l->where != LINK_PRESENT)
		return l->where;
	/* Events lost: is the link still here? Not only after the events: a
	 * link being moved leaves the namespace's list well before the kernel
	 * sends its RTM_DELLINK, so a missing index alone cannot tell a move
	 * from a deletion. Gone from here is reported as moved; the owner of
	 * a TUN learns of a deletion from its fd (EPOLLERR, EBADFD). */
	if (ctx.overrun && !if_indextoname(l->ifindex, name) &&
	    (errno == ENXIO || errno == ENODEV))
		l->where = LINK_MOVED, l->nsid = NL_NSID_UNKNOWN;
	return l->where;
}

bool nl_watch_link_gone(struct nl_watch *w, unsigned ifindex)
{
	struct nl_link l = { .ifindex = ifindex, .nsid = NL_NSID_HERE, .where = LINK_PRESENT };

	return nl_watch_link(w, &l) == LINK_GONE;
}

void nl_watch_close(struct nl_watch *w)
{
	if (!w)
		return;
	mnl_socket_close(w->sock);
	free(w);
}

/* --- policy routing (full tunnel, Table =) ------------------------------- */

/* Tables above 255 do not fit rtm_table: RTA_TABLE carries the full id and
 * rtm_table says RT_TABLE_UNSPEC, as iproute2 does. */
static void put_table(struct nlmsghdr *nlh, uint8_t *hdr_table, uint16_t attr, uint32_t table)
{
	*hdr_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, attr, table);
}

static struct nlmsghdr *put_table_route(char *buf, uint16_t type, uint16_t flags, int family,
					uint32_t table, uint8_t rtn_type)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_type = rtn_type;
	rtm->rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE :
			 rtn_type == RTN_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	put_table(nlh, &rtm->rtm_table, RTA_TABLE, table);
	return nlh;
}

int nl_route_add_table(struct nl *nl, unsigned ifindex, int family, const uint8_t *dst,
		       uint8_t prefix_len, uint32_t table, char *err, size_t err_len)
{
	NL_BUF(buf);
	char name[NAME_LEN], pfx[PFX_LEN];
	uint8_t net[16];
	struct nlmsghdr *nlh;
	int ret = check_prefix(family, dst, prefix_len);

	if (ret < 0 || !table) {
		set_err(err, err_len, "add route: bad family %d, prefix length %u or table %u",
			family, prefix_len, table);
		return -EINVAL;
	}
	mask_prefix(net, dst, family_len(family), prefix_len);
	nlh = put_table_route(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, family, table,
			      RTN_UNICAST);
	((struct rtmsg *)mnl_nlmsg_get_payload(nlh))->rtm_dst_len = prefix_len;
	if (prefix_len)
		mnl_attr_put(nlh, RTA_DST, family_len(family), net);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	ret = nl_talk(nl, nlh);
	if (ret < 0)
		set_err(err, err_len, "add route %s dev %s table %u: %s",
			prefix_str(family, net, prefix_len, pfx), ifname_of(ifindex, name), table,
			strerror(-ret));
	return ret;
}

int nl_route_unreachable(struct nl *nl, bool add, int family, uint32_t table, uint32_t metric,
			 char *err, size_t err_len)
{
	NL_BUF(buf);
	struct nlmsghdr *nlh;
	int ret;

	if (!family_len(family) || !table) {
		set_err(err, err_len, "unreachable route: bad family %d or table %u", family, table);
		return -EINVAL;
	}
	nlh = put_table_route(buf, add ? RTM_NEWROUTE : RTM_DELROUTE,
			      add ? NLM_F_CREATE | NLM_F_EXCL : 0, family, table, RTN_UNREACHABLE);
	mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
	ret = nl_talk(nl, nlh);
	if (ret < 0)
		set_err(err, err_len, "%s unreachable default route (IPv%c) table %u: %s",
			add ? "add" : "delete", family == AF_INET ? '4' : '6', table,
			strerror(-ret));
	return ret;
}

static int rule_op(struct nl *nl, bool add, const struct nl_rule *r, char *err, size_t err_len)
{
	NL_BUF(buf);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;
	int ret;

	if (!family_len(r->family) || !r->table) {
		set_err(err, err_len, "rule: bad family %d or table %u", r->family, r->table);
		return -EINVAL;
	}
	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)r->family;
	frh->action = FR_ACT_TO_TBL;
	frh->flags = r->invert ? FIB_RULE_INVERT : 0;
	put_table(nlh, &frh->table, FRA_TABLE, r->table);
	if (r->fwmark) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, r->fwmark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, UINT32_MAX);
	}
	if (r->suppress_prefixlen >= 0)
		mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, (uint32_t)r->suppress_prefixlen);
	ret = nl_talk(nl, nlh);
	if (ret < 0)
		set_err(err, err_len, "%s rule (IPv%c)%s fwmark %u table %u: %s",
			add ? "add" : "delete", r->family == AF_INET ? '4' : '6',
			r->invert ? " not" : "", r->fwmark, r->table, strerror(-ret));
	return ret;
}

int nl_rule_add(struct nl *nl, const struct nl_rule *r, char *err, size_t err_len)
{
	return rule_op(nl, true, r, err, err_len);
}

int nl_rule_del(struct nl *nl, const struct nl_rule *r, char *err, size_t err_len)
{
	return rule_op(nl, false, r, err, err_len);
}
