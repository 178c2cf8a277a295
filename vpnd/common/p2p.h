/* [Interface] PeerToPeer: what a hub does with a packet from one peer whose
 * inner destination is routed to another peer. Set by the config and the
 * UAPI, obeyed by the data path (receive.c). */
#ifndef VPND_COMMON_P2P_H
#define VPND_COMMON_P2P_H

#include <stdbool.h>

enum p2p_mode {
	P2P_KERNEL = 0,	/* to the TUN: the kernel forwards it (ip_forward, firewall) */
	P2P_DIRECT,	/* re-encrypted straight to the other peer, no TUN */
	P2P_REFUSE,	/* dropped, counted as peer_to_peer_refused */
};

/* "kernel", "direct", "refuse" (any case) -> *out; false if none of them. */
bool p2p_mode_parse(const char *s, enum p2p_mode *out);
const char *p2p_mode_name(enum p2p_mode p);

#endif
