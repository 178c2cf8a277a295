/* Does a config need forwarding the host does not do? With the default
 * PeerToPeer = kernel, a packet from one peer to another goes to the TUN and
 * the kernel must forward it back (net.ipv4.ip_forward, the IPv6
 * forwarding switch): off by default, and then the clients of a hub cannot
 * reach each other, silently. vpnd keeps kernel as the default (the host's
 * firewall then applies to peer-to-peer traffic, as with the kernel's
 * WireGuard) and warns at up and peer add, naming the one-line fix. */
#ifndef VPND_CONTROL_FORWARDING_H
#define VPND_CONTROL_FORWARDING_H

#include <stdbool.h>
#include <stddef.h>

#include "vpnd/control/config.h"

struct host_forwarding {
	bool ipv4, ipv6;	/* net.ipv4.ip_forward, net.ipv6.conf.all.forwarding */
};

/* This network namespace's switches, from /proc/sys; unreadable = on (no
 * warning on a guess). */
struct host_forwarding forwarding_read_host(void);

/* A hub: PeerToPeer = kernel and at least two peers with allowed IPs of a
 * family the interface has an address of, whose forwarding is off. Writes
 * the warning (with the fix) to buf and returns true; else false. Pure. */
bool forwarding_advice(const struct config *cfg, const char *ifname, struct host_forwarding host,
		       char *buf, size_t len);

#endif
