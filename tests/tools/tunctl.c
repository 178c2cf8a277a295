/* tunctl: exercises tun/ end to end for the integration tests.
 *
 *   tunctl NAME MTU [ADDR/PREFIX...] [-- ROUTE/PREFIX...]
 *
 * Opens a TUN named NAME (patterns like "vpn%d" allowed), sets its MTU, adds
 * the addresses, brings it up, adds the routes and prints "ready NAME". It
 * then waits: if the link is deleted from outside it prints "link gone" and
 * exits 0; if stdin closes it removes routes, addresses, link state and the
 * link itself through netlink, prints "removed" and exits 0. Any failure is
 * printed as "tunctl: <message>" and exits 1; usage errors exit 2. */
#include "tun/netlink.h"
#include "tun/tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PREFIXES 16

struct prefix {
	int family;
	uint8_t addr[16];
	uint8_t len;
};

struct config {
	const char *name;
	unsigned mtu;
	struct prefix addrs[MAX_PREFIXES];
	struct prefix routes[MAX_PREFIXES];
	size_t naddrs, nroutes;
};

static int usage(void)
{
	fprintf(stderr, "usage: tunctl NAME MTU [ADDR/PREFIX...] [-- ROUTE/PREFIX...]\n");
	return 2;
}

/* "198.18.0.1/24", "2001:db8::1/64"; no "/N" means a host prefix. */
static int parse_prefix(const char *s, struct prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, p->addr) == 1)
		p->family = AF_INET6;
	else
		return -1;
	len = p->family == AF_INET ? 32 : 128;
	if (slash) {
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end ||
		    len > (p->family == AF_INET ? 32u : 128u))
			return -1;
	}
	p->len = (uint8_t)len;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	bool routes = false;
	char *end;
	int i;

	if (argc < 3)
		return -1;
	cfg->name = argv[1];
	cfg->mtu = (unsigned)strtoul(argv[2], &end, 10);
	if (end == argv[2] || *end)
		return -1;
	for (i = 3; i < argc; i++) {
		size_t *n = routes ? &cfg->nroutes : &cfg->naddrs;
		struct prefix *list = routes ? cfg->routes : cfg->addrs;

		if (!strcmp(argv[i], "--") && !routes) {
			routes = true;
			continue;
		}
		if (*n == MAX_PREFIXES || parse_prefix(argv[i], &list[*n]) < 0) {
			fprintf(stderr, "tunctl: bad prefix '%s'\n", argv[i]);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

/* A route given twice was added once (the second add is EEXIST: NLM_F_EXCL,
 * never replace), so delete it once. */
static bool seen_before(const struct prefix *list, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (list[j].family == list[i].family && list[j].len == list[i].len &&
		    !memcmp(list[j].addr, list[i].addr, sizeof(list[i].addr)))
			return true;
	return false;
}

/* Order matters: IPv4 refuses routes through a link that is down, so the
 * link comes up before the routes go in. */
static int setup(struct nl *nl, unsigned ifindex, const struct config *cfg,
		 char *err, size_t err_len)
{
	const struct prefix *p;
	size_t i;
	int ret;

	ret = nl_link_set_mtu(nl, ifindex, cfg->mtu, err, err_len);
	for (i = 0; !ret && i < cfg->naddrs; i++) {
		p = &cfg->addrs[i];
		ret = nl_addr_add(nl, ifindex, p->family, p->addr, p->len, err, err_len);
	}
	if (!ret)
		ret = nl_link_set_up(nl, ifindex, true, err, err_len);
	for (i = 0; !ret && i < cfg->nroutes; i++) {
		p = &cfg->routes[i];
		ret = nl_route_add(nl, ifindex, p->family, p->addr, p->len, err, err_len);
		if (seen_before(cfg->routes, i)) {
			/* Ours already: must be refused, not replaced. */
			if (ret == 0)
				snprintf(err, err_len, "second add of a route did not fail");
			ret = ret == -EEXIST ? 0 : -EPROTO;
		}
	}
	return ret;
}

/* Undoes setup() step by step, in reverse, so each delete call is exercised;
 * closing the fd alone would also make the kernel drop everything. */
static int teardown(struct nl *nl, unsigned ifindex, const struct config *cfg,
		    char *err, size_t err_len)
{
	const struct prefix *p;
	size_t i;
	int ret = 0;

	for (i = cfg->nroutes; !ret && i-- > 0;) {
		p = &cfg->routes[i];
		if (!seen_before(cfg->routes, i))
			ret = nl_route_del(nl, ifindex, p->family, p->addr, p->len, err, err_len);
	}
	for (i = cfg->naddrs; !ret && i-- > 0;) {
		p = &cfg->addrs[i];
		ret = nl_addr_del(nl, ifindex, p->family, p->addr, p->len, err, err_len);
	}
	if (!ret)
		ret = nl_link_set_up(nl, ifindex, false, err, err_len);
	if (!ret)
		ret = nl_link_delete(nl, ifindex, err, err_len);
	return ret;
}

/* Returns 1 when the link was deleted, 0 when stdin reached its end. */
static int wait_for_end(struct nl_watch *w, unsigned ifindex)
{
	struct pollfd fds[2] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = nl_watch_fd(w), .events = POLLIN },
	};
	char buf[256];
	ssize_t n;

	for (;;) {
		if (nl_watch_link_gone(w, ifindex))
			return 1;
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		/* A closed or invalid stdin counts as the end too: there is
		 * then nobody left to tell us to stop. */
		if (fds[0].revents & POLLNVAL)
			return 0;
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				return 0;
		}
	}
}

static int run(const struct config *cfg)
{
	char err[256] = "", name[IFNAMSIZ];
	struct nl_watch *w = NULL;
	struct nl *nl = NULL;
	unsigned ifindex;
	int fd = -1, ret = 1;

	/* The watch opens first so no deletion can slip in unseen. */
	w = nl_watch_open(err, sizeof(err));
	nl = w ? nl_open(err, sizeof(err)) : NULL;
	if (!nl)
		goto out;
	fd = tun_open(cfg->name, name, 0, err, sizeof(err));
	if (fd < 0)
		goto out;
	ifindex = nl_ifindex(name);
	if (!ifindex) {
		snprintf(err, sizeof(err), "no ifindex for %s", name);
		goto out;
	}
	if (setup(nl, ifindex, cfg, err, sizeof(err)) < 0)
		goto out;
	printf("ready %s\n", name);
	if (wait_for_end(w, ifindex)) {
		printf("link gone\n");
	} else {
		if (teardown(nl, ifindex, cfg, err, sizeof(err)) < 0)
			goto out;
		printf("removed\n");
	}
	ret = 0;

out:
	if (ret)
		fprintf(stderr, "tunctl: %s\n", err);
	/* The TUN is not persistent: closing the fd removes the interface and
	 * with it anything a failed setup left on it. */
	if (fd >= 0)
		close(fd);
	nl_close(nl);
	nl_watch_close(w);
	return ret;
}

int main(int argc, char **argv)
{
	struct config cfg;

	/* Tests read our output through a pipe or file as it happens. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&cfg, 0, sizeof(cfg));
	if (parse_args(argc, argv, &cfg) < 0)
		return usage();
	return run(&cfg);
}
