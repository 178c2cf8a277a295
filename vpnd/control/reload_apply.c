/* vpnd reload: the root side. Loads the config, asks the worker for its
 * state, applies the plan of reload.c over the UAPI and the routes over
 * rtnetlink. Runs in the CLI (vpnd reload, vpnd peer) or in the daemon's
 * monitor (SIGHUP), never in the worker, which cannot read config files. */
#include "vpnd/control/reload_apply.h"
#include "vpnd/common/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tun/netlink.h"
#include "vpnd/control/config.h"
#include "vpnd/control/reload.h"
#include "vpnd/control/routes.h"
#include "vpnd/control/uapi.h"
#include "vpnd/common/ifname.h"

const char *config_dir(void)
{
	const char *d = getenv("VPND_CONFIG_DIR");

	return d && *d ? d : CONFIG_DIR_DEFAULT;
}

bool config_resolve(const char *arg, char *path, size_t len, char ifname[IFNAMSIZ], char *err,
		    size_t err_len)
{
	char tmp[PATH_MAX], *base, *dot, shown[48];

	if (strchr(arg, '/') || strstr(arg, ".conf"))
		snprintf(path, len, "%s", arg);
	else
		snprintf(path, len, "%s/%s.conf", config_dir(), arg);
	snprintf(tmp, sizeof(tmp), "%s", path);
	base = basename(tmp);
	dot = strrchr(base, '.');
	if (dot && !strcmp(dot, ".conf"))
		*dot = '\0';
	ifname[0] = '\0';
	if (!ifname_valid(base)) {
		ifname_quote(shown, sizeof(shown), base);
		snprintf(err, err_len, "invalid interface name '%s' (from the file name): "
			 "1 to %d of a-z A-Z 0-9 _ = + . -", shown, IFNAME_MAX_LEN);
		return false;
	}
	snprintf(ifname, IFNAMSIZ, "%s", base);
	return true;
}

/* --- what a reload cannot change ------------------------------------------ */

static bool is_link_local6(const struct ip_prefix *p)
{
	return p->family == AF_INET6 && p->addr[0] == 0xfe && (p->addr[1] & 0xc0) == 0x80;
}

static bool prefix_in(const struct ip_prefix *p, const struct ip_prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ip_prefix_cmp(p, &v[i]))
			return true;
	return false;
}

static unsigned netmask_len(const struct sockaddr *sa)
{
	const uint8_t *b = sa->sa_family == AF_INET ?
			   (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr :
			   (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	size_t bytes = sa->sa_family == AF_INET ? 4 : 16;
	unsigned n = 0;

	for (size_t i = 0; i < bytes; i++)
		n += (unsigned)__builtin_popcount(b[i]);
	return n;
}

/* Address and MTU belong to the interface, set at vpnd up: a reload only
 * tells when the config no longer matches them. */
static void warn_unapplied(const char *ifname, const struct config *cfg, const char *path,
			   void (*warn_fn)(const char *msg))
{
	struct ifaddrs *ifa_list, *ifa;
	struct ip_prefix have[64];
	size_t n = 0;
	bool differ = false;
	char msg[PATH_MAX + 256];
	struct ifreq ifr;
	int fd;

	if (!warn_fn)
		return;
	if (getifaddrs(&ifa_list) == 0) {
		for (ifa = ifa_list; ifa && n < 64; ifa = ifa->ifa_next) {
			struct ip_prefix *p = &have[n];

			if (strcmp(ifa->ifa_name, ifname) || !ifa->ifa_addr || !ifa->ifa_netmask ||
			    (ifa->ifa_addr->sa_family != AF_INET &&
			     ifa->ifa_addr->sa_family != AF_INET6))
				continue;
			memset(p, 0, sizeof(*p));
			p->family = ifa->ifa_addr->sa_family;
			if (p->family == AF_INET)
				memcpy(p->addr, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr, 4);
			else
				memcpy(p->addr, &((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr, 16);
			p->cidr = (uint8_t)netmask_len(ifa->ifa_netmask);
			if (!is_link_local6(p))
				n++;
		}
		freeifaddrs(ifa_list);
		for (size_t i = 0; i < cfg->n_addresses; i++)
			if (!prefix_in(&cfg->addresses[i], have, n))
				differ = true;
		for (size_t i = 0; i < n; i++)
			if (!prefix_in(&have[i], cfg->addresses, cfg->n_addresses))
				differ = true;
		if (differ) {
			snprintf(msg, sizeof(msg),
				 "%s: warning: Address differs from %s's; not changed by a "
				 "reload (needs vpnd down and up)", path, ifname);
			warn_fn(msg);
		}
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd >= 0 && ioctl(fd, SIOCGIFMTU, &ifr) == 0 && cfg->mtu &&
	    (unsigned)ifr.ifr_mtu != cfg->mtu) {
		snprintf(msg, sizeof(msg),
			 "%s: warning: MTU %u differs from %s's %d; not changed by a reload "
			 "(needs vpnd down and up)", path, cfg->mtu, ifname, ifr.ifr_mtu);
		warn_fn(msg);
	}
	if (fd >= 0)
		close(fd);
}

/* --- apply ---------------------------------------------------------------- */

static int send_set(const char *ifname, const struct reload_plan *plan, char *err,
		    size_t err_len)
{
	size_t len = plan->set_len + 16;
	char *req = malloc(len), *answer;
	int ret = -1;

	if (!req) {
		snprintf(err, err_len, "%s: out of memory", ifname);
		return -1;
	}
	snprintf(req, len, "set=1\n%s\n", plan->set);
	answer = uapi_request(ifname, req, err, err_len);
	wg_secure_wipe(req, len);
	free(req);
	if (!answer)
		return -1;
	if (strstr(answer, "errno=0\n"))
		ret = 0;
	else
		snprintf(err, err_len, "%s: set refused: %.40s", ifname, answer);
	uapi_answer_free(answer);
	return ret;
}

/* Before anything changes: a route to add that would take the place of one
 * of the host's refuses the whole reload (routes.h). */
static int check_routes(const char *ifname, unsigned ifindex, const struct reload_plan *plan,
			char *err, size_t err_len)
{
	struct nl *nl;
	int ret = 0;

	if (!plan->n_route_add)
		return 0;
	nl = nl_open(err, err_len);
	if (!nl)
		return -1;
	for (size_t i = 0; i < plan->n_route_add && !ret; i++) {
		char e[512];

		if (route_check_free(nl, ifindex, ROUTE_TABLE_MAIN, &plan->route_add[i], e,
				     sizeof(e)) != ROUTE_FREE)
			ret = -1, snprintf(err, err_len, "%s: reload refused, nothing changed: %s",
					   ifname, e);
	}
	nl_close(nl);
	return ret;
}

static int apply_routes(const char *ifname, unsigned ifindex, const struct reload_plan *plan,
			struct reload_report *rep, char *err, size_t err_len)
{
	struct nl *nl;
	int ret = 0;

	if (!plan->n_route_add && !plan->n_route_del)
		return 0;
	nl = nl_open(err, err_len);
	if (!nl)
		return -1;
	for (size_t i = 0; i < plan->n_route_del; i++) {
		const struct ip_prefix *p = &plan->route_del[i];
		char e[256];
		int r = nl_route_del(nl, ifindex, p->family, p->addr, p->cidr, e, sizeof(e));

		/* ESRCH: already gone (or never made, e.g. by wg set). */
		if (r == 0)
			rep->routes_deleted++;
		else if (r != -ESRCH && !ret)
			ret = -1, snprintf(err, err_len, "%s: %s", ifname, e);
	}
	for (size_t i = 0; i < plan->n_route_add; i++) {
		const struct ip_prefix *p = &plan->route_add[i];
		char e[256];
		int r = nl_route_add(nl, ifindex, p->family, p->addr, p->cidr, e, sizeof(e));

		/* EEXIST after check_routes: our own route, already there. */
		if (r == 0)
			rep->routes_added++;
		else if (r != -EEXIST && !ret)
			ret = -1, snprintf(err, err_len, "%s: %s", ifname, e);
	}
	nl_close(nl);
	return ret;
}

int reload_apply(const char *ifname, const char *config_path, void (*warn_fn)(const char *msg),
		 struct reload_report *rep, struct config *keep, char *err, size_t err_len)
{
	struct config cfg = { 0 };
	struct running_state rs = { 0 };
	struct reload_plan plan = { 0 };
	char *answer = NULL, *stats;
	unsigned ifindex;
	int ret = -1, lock_fd;

	memset(rep, 0, sizeof(*rep));
	lock_fd = lock_config_file(config_path);
	if (config_load(&cfg, config_path, err, err_len, warn_fn) != CONFIG_OK)
		goto out;
	answer = uapi_request(ifname, "get=1\n\n", err, err_len);
	if (!answer)
		goto out;
	if (running_state_parse(&rs, answer, err, err_len) < 0)
		goto out;
	stats = uapi_request(ifname, "get=stats\n\n", err, err_len);
	if (stats)
		running_state_parse_stats(&rs, stats);
	uapi_answer_free(stats);
	if (reload_plan_make(&plan, &cfg, &rs) < 0) {
		snprintf(err, err_len, "%s: out of memory", ifname);
		goto out;
	}
	/* The daemon answers but the link is elsewhere (moved into another
	 * network namespace): keys and peers go over the UAPI as ever; routes
	 * can only be changed where the link is. */
	ifindex = nl_ifindex(ifname);
	if (!ifindex && (plan.n_route_add || plan.n_route_del)) {
		snprintf(err, err_len, "%s: reload refused, nothing changed: its routes would "
			 "change, but it is not in this network namespace (moved? run vpnd "
			 "reload in its namespace: ip netns exec NAME vpnd reload ...)", ifname);
		goto out;
	}
	rep->peers_added = plan.peers_added;
	rep->peers_removed = plan.peers_removed;
	rep->peers_changed = plan.peers_changed;
	rep->peers_unchanged = plan.peers_unchanged;
	rep->interface_changed = plan.interface_changed;
	if (check_routes(ifname, ifindex, &plan, err, err_len) < 0)
		goto out;
	if (plan.set_len) {
		if (send_set(ifname, &plan, err, err_len) < 0)
			goto out;
		rep->sent = true;
	}
	if (apply_routes(ifname, ifindex, &plan, rep, err, err_len) < 0)
		goto out;
	warn_unapplied(ifname, &cfg, config_path, warn_fn);
	if (keep) {
		*keep = cfg;
		memset(&cfg, 0, sizeof(cfg));
	}
	ret = 0;
out:
	if (answer) {
		wg_secure_wipe(answer, strlen(answer));	/* it held the private key */
		uapi_answer_free(answer);
	}
	reload_plan_free(&plan);
	running_state_free(&rs);
	config_free(&cfg);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret;
}

void reload_report_format(char *buf, size_t len, const char *ifname,
			  const struct reload_report *r)
{
	if (!r->sent && !r->routes_added && !r->routes_deleted) {
		snprintf(buf, len, "%s: up to date, nothing sent (%zu peer%s unchanged)", ifname,
			 r->peers_unchanged, r->peers_unchanged == 1 ? "" : "s");
		return;
	}
	snprintf(buf, len, "%s: peers: %zu added, %zu removed, %zu changed, %zu unchanged; "
		 "routes: %zu added, %zu deleted%s", ifname, r->peers_added, r->peers_removed,
		 r->peers_changed, r->peers_unchanged, r->routes_added, r->routes_deleted,
		 r->interface_changed ? "; interface updated" : "");
}

static void warn_stderr(const char *msg)
{
	fprintf(stderr, "vpnd: %s\n", msg);
}

int reload_main(int argc, char **argv)
{
	char path[PATH_MAX], ifname[IFNAMSIZ], err[PATH_MAX + 512], line[256];
	struct reload_report rep;

	if (argc != 2)
		return VPND_EXIT_USAGE;	/* cli/main.c checks it first */
	if (!config_resolve(argv[1], path, sizeof(path), ifname, err, sizeof(err))) {
		fprintf(stderr, "vpnd: %s\n", err);
		return 1;
	}
	if (reload_apply(ifname, path, warn_stderr, &rep, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "vpnd: %s\n", err);
		return 1;
	}
	reload_report_format(line, sizeof(line), ifname, &rep);
	printf("%s\n", line);
	return 0;
}
