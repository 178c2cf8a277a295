/* See forwarding.h. */
#include "vpnd/control/forwarding.h"

#include <stdio.h>
#include <sys/socket.h>

static bool read_switch(const char *path)
{
	FILE *f = fopen(path, "r");
	int c;

	if (!f)
		return true;
	c = fgetc(f);
	fclose(f);
	return c != '0';
}

struct host_forwarding forwarding_read_host(void)
{
	struct host_forwarding h = {
		.ipv4 = read_switch("/proc/sys/net/ipv4/ip_forward"),
		.ipv6 = read_switch("/proc/sys/net/ipv6/conf/all/forwarding"),
	};

	return h;
}

static bool has_address(const struct config *cfg, int family)
{
	for (size_t i = 0; i < cfg->n_addresses; i++)
		if (cfg->addresses[i].family == family)
			return true;
	return false;
}

/* Peers with at least one allowed IP of the family. */
static size_t peers_of(const struct config *cfg, int family)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips; j++) {
			if (cfg->peers[i].allowed_ips[j].family == family) {
				n++;
				break;
			}
		}
	}
	return n;
}

static bool needs(const struct config *cfg, int family, bool on)
{
	return !on && has_address(cfg, family) && peers_of(cfg, family) >= 2;
}

bool forwarding_advice(const struct config *cfg, const char *ifname, struct host_forwarding host,
		       char *buf, size_t len)
{
	bool v4, v6;

	if (cfg->peer_to_peer != P2P_KERNEL)
		return false;
	v4 = needs(cfg, AF_INET, host.ipv4);
	v6 = needs(cfg, AF_INET6, host.ipv6);
	if (!v4 && !v6)
		return false;
	snprintf(buf, len, "%s: PeerToPeer = kernel, but this host does not forward %s: its "
		 "peers cannot reach each other; fix: sysctl -w %s%s%s (or PeerToPeer = direct "
		 "in [Interface])", ifname, v4 && v6 ? "IPv4 or IPv6" : v4 ? "IPv4" : "IPv6",
		 v4 ? "net.ipv4.ip_forward=1" : "", v4 && v6 ? " " : "",
		 v6 ? "net.ipv6.conf.all.forwarding=1" : "");
	return true;
}
