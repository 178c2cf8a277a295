/* Applying a parsed config (vpnd up) to a fresh interface: MTU, addresses,
 * the device's key, port and peers, link up, then routes for AllowedIPs. */
#include "vpnd/control/interface.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tun/netlink.h"
#include "vpnd/common/ifname.h"
#include "vpnd/common/log.h"
#include "vpnd/control/fulltunnel.h"
#include "vpnd/control/routes.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/send.h"

static int apply_peer(struct device *dev, const struct config_peer *cp, char *err, size_t err_len)
{
	struct peer *peer = device_peer_lookup(dev, cp->public_key);

	if (!peer)
		peer = device_peer_create(dev, cp->public_key);
	if (!peer) {
		snprintf(err, err_len, "%s:%d: cannot add peer (our own key, or out of memory)",
			 cp->file, cp->line);
		return -EINVAL;
	}
	bool keepalive_was_off = !peer->timers.persistent_keepalive_interval;

	device_peer_set_psk(dev, peer, cp->has_preshared_key ? cp->preshared_key : NULL);
	if (cp->has_endpoint)
		peer_set_endpoint(peer, &cp->endpoint);
	for (size_t i = 0; i < cp->n_allowed_ips; i++) {
		const struct ip_prefix *p = &cp->allowed_ips[i];

		if (allowedips_insert(dev->aips, p->family, p->addr, p->cidr, &peer->aips) < 0) {
			snprintf(err, err_len, "%s:%d: cannot add allowed IP", cp->file, cp->line);
			return -ENOMEM;
		}
	}
	peer_set_persistent_keepalive(peer, cp->persistent_keepalive);
	/* As over the UAPI (and as the kernel does at link up): turning it on
	 * sends one at once, else an idle peer would never start the timer. */
	if (cp->persistent_keepalive && keepalive_was_off && dev->local->has_identity &&
	    peer->has_endpoint) {
		send_keepalive(peer);
		send_flush(dev);
	}
	return 0;
}

/* The inode of a UDP socket bound to port in TABLE (/proc/net/udp or udp6,
 * this network namespace's), 0 if none. */
static unsigned long udp_port_inode(const char *table, uint16_t port)
{
	FILE *f = fopen(table, "r");
	char line[512];
	unsigned long inode = 0, ino;
	unsigned lport;

	if (!f)
		return 0;
	while (!inode && fgets(line, sizeof(line), f))
		if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*s %*s %*s %*s %*s %*s %*s %lu",
			   &lport, &ino) == 2 && lport == port)
			inode = ino;
	fclose(f);
	return inode;
}

/* The pid holding socket inode, or 0: one readlink per open descriptor. */
static pid_t socket_owner(unsigned long inode)
{
	char want[64], path[16 + 2 * NAME_MAX], link[64];
	DIR *proc = opendir("/proc"), *fds;
	struct dirent *p, *fd;
	pid_t owner = 0;

	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while (proc && !owner && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		while (fds && !owner && (fd = readdir(fds))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, fd->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n > 0 && (link[n] = '\0', !strcmp(link, want)))
				owner = (pid_t)atoi(p->d_name);
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
	return owner;
}

/* " (held by pid N 'comm')" for whoever has UDP port bound here, or "". */
static void port_owner(uint16_t port, char *out, size_t len)
{
	unsigned long inode = udp_port_inode("/proc/net/udp6", port);
	char path[64], comm[64] = "", shown[48];
	pid_t pid;
	FILE *f;

	out[0] = '\0';
	if (!inode)
		inode = udp_port_inode("/proc/net/udp", port);
	if (!inode || !(pid = socket_owner(inode)))
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	ifname_quote(shown, sizeof(shown), comm);	/* printable only */
	snprintf(out, len, " (held by pid %d '%s')", (int)pid, shown);
}

int device_apply_config(struct device *dev, const struct config *cfg, char *err, size_t err_len)
{
	int ret;

	if (cfg->has_private_key && !device_set_private_key(dev, cfg->private_key)) {
		snprintf(err, err_len, "invalid private key");
		return -EINVAL;
	}
	/* dev->fwmark: the full tunnel's table picked at up (0: the default). */
	if (fulltunnel_fwmark(cfg, dev->fwmark))
		device_set_fwmark(dev, fulltunnel_fwmark(cfg, dev->fwmark));
	ret = device_bind(dev, cfg->has_listen_port ? cfg->listen_port : 0);
	if (ret == -EADDRINUSE) {
		char owner[96];

		port_owner(cfg->listen_port, owner, sizeof(owner));
		/* wg-quick's words, so scripts and people recognise it. */
		snprintf(err, err_len, "ListenPort %u: UDP port: %s%s", cfg->listen_port,
			 strerror(EADDRINUSE), owner);
		return ret;
	}
	if (ret < 0) {
		snprintf(err, err_len, "bind UDP port %u: %s",
			 cfg->has_listen_port ? cfg->listen_port : 0, strerror(-ret));
		return ret;
	}
	dev->mtu = cfg->mtu ? cfg->mtu : CONFIG_DEFAULT_MTU;
	dev->peer_to_peer = cfg->peer_to_peer;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		ret = apply_peer(dev, &cfg->peers[i], err, err_len);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* One AllowedIPs route in table (main, or Table = N), unless that table
 * already routes the prefix elsewhere: then vpnd up fails (its caller
 * deletes the interface, and the routes made so far with it) and the
 * host's route stays as it was. */
static int add_route(struct nl *nl, const struct device *dev, uint32_t table,
		     const struct config_peer *cp, const struct ip_prefix *p, char *err,
		     size_t err_len)
{
	char why[512];
	int ret;

	switch (route_check_free(nl, dev->ifindex, table, p, why, sizeof(why))) {
	case ROUTE_FREE:
		break;
	case ROUTE_IN_THE_WAY:
	case ROUTE_CHECK_FAILED:
		snprintf(err, err_len, "%s:%d: %s", cp->file, cp->line, why);
		return -EEXIST;
	}
	ret = table == ROUTE_TABLE_MAIN ?
		nl_route_add(nl, dev->ifindex, p->family, p->addr, p->cidr, err, err_len) :
		nl_route_add_table(nl, dev->ifindex, p->family, p->addr, p->cidr, table, err,
				   err_len);
	/* Nothing of the host's is there (checked): EEXIST is our own route,
	 * a prefix listed twice. */
	return ret == -EEXIST ? 0 : ret;
}

/* True if the same prefix came earlier in cfg (peer i, entry j). */
static bool listed_before(const struct config *cfg, size_t pi, size_t pj)
{
	const struct ip_prefix *p = &cfg->peers[pi].allowed_ips[pj];

	for (size_t i = 0; i <= pi; i++) {
		size_t n = i == pi ? pj : cfg->peers[i].n_allowed_ips;

		for (size_t j = 0; j < n; j++) {
			const struct ip_prefix *q = &cfg->peers[i].allowed_ips[j];

			if (q->family == p->family && q->cidr == p->cidr &&
			    !memcmp(q->addr, p->addr, p->family == AF_INET ? 4 : 16))
				return true;
		}
	}
	return false;
}

/* Table = N (wg-quick): every allowed IP, /0 included, in table N, and no
 * rules: steering traffic there is the operator's. A route of someone
 * else's for the same prefix in table N is a refusal, as in main. */
static int add_table_routes(struct nl *nl, const struct device *dev, const struct config *cfg,
			    char *err, size_t err_len)
{
	for (size_t i = 0; i < cfg->n_peers; i++) {
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips; j++) {
			const struct ip_prefix *p = &cfg->peers[i].allowed_ips[j];
			int ret;

			if (listed_before(cfg, i, j))
				continue;
			ret = add_route(nl, dev, cfg->table, &cfg->peers[i], p, err, err_len);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* Table = auto: routes.h decides (a /0 is fulltunnel.c's); Table = off:
 * none at all. */
static int add_routes(struct nl *nl, const struct device *dev, const struct config *cfg,
		      char *err, size_t err_len)
{
	if (cfg->table_mode == TABLE_ID)
		return add_table_routes(nl, dev, cfg, err, err_len);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips; j++) {
			const struct ip_prefix *p = &cfg->peers[i].allowed_ips[j];
			int ret;

			if (!route_wanted(cfg, p))
				continue;
			ret = add_route(nl, dev, ROUTE_TABLE_MAIN, &cfg->peers[i], p, err,
					err_len);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* The MTU (the config's, or the default without one) and, with a config,
 * its addresses. */
static int set_mtu_and_addresses(struct nl *nl, struct device *dev, const struct config *cfg,
				 char *err, size_t err_len)
{
	unsigned mtu = cfg && cfg->mtu ? cfg->mtu : CONFIG_DEFAULT_MTU;
	int ret = nl_link_set_mtu(nl, dev->ifindex, mtu, err, err_len);

	if (ret < 0)
		return ret;
	dev->mtu = mtu;		/* padding follows it (and later changes) */
	for (size_t i = 0; cfg && i < cfg->n_addresses; i++) {
		const struct ip_prefix *a = &cfg->addresses[i];

		ret = nl_addr_add(nl, dev->ifindex, a->family, a->addr, a->cidr, err, err_len);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int interface_configure(struct nl *nl, struct device *dev, const struct config *cfg, char *err,
			size_t err_len)
{
	uint32_t table;
	int ret;

	ret = set_mtu_and_addresses(nl, dev, cfg, err, err_len);
	if (ret < 0 || !cfg)
		return ret;
	ret = fulltunnel_pick_table(nl, cfg, &table, err, err_len);
	if (ret < 0)
		return ret;
	device_set_fwmark(dev, table);	/* no socket yet: device_apply_config marks it */
	ret = device_apply_config(dev, cfg, err, err_len);
	if (ret < 0)
		return ret;
	ret = nl_link_set_up(nl, dev->ifindex, true, err, err_len);
	if (ret < 0)
		return ret;
	return add_routes(nl, dev, cfg, err, err_len);
}

/* The /0 entries as plain routes in the main table: in a namespace whose
 * only way out is the tunnel, no policy routing is needed (the UDP socket
 * lives in the namespace where the interface was made). */
static int add_default_routes(struct nl *nl, const struct device *dev, const struct config *cfg,
			      char *err, size_t err_len)
{
	if (cfg->table_mode != TABLE_AUTO)
		return 0;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips; j++) {
			const struct ip_prefix *p = &cfg->peers[i].allowed_ips[j];
			int ret;

			if (p->cidr != 0 || listed_before(cfg, i, j))
				continue;
			ret = add_route(nl, dev, ROUTE_TABLE_MAIN, &cfg->peers[i], p, err, err_len);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int interface_configure_link(struct nl *nl, struct device *dev, const struct config *cfg,
			     char *err, size_t err_len)
{
	int ret = set_mtu_and_addresses(nl, dev, cfg, err, err_len);

	if (ret < 0)
		return ret;
	ret = nl_link_set_up(nl, dev->ifindex, true, err, err_len);
	if (ret < 0)
		return ret;
	ret = add_routes(nl, dev, cfg, err, err_len);
	if (ret < 0)
		return ret;
	return add_default_routes(nl, dev, cfg, err, err_len);
}
