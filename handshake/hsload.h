/* "Under load", as the kernel (receive.c, wg_receive_handshake_packet) and
 * wireguard-go decide it: the queue of handshake messages waiting to be
 * handled is at least 1/8 full, and the device stays under load for
 * HSLOAD_HOLD_NS after the last time it was. A backlog, not a rate: an idle
 * machine keeps up with any honest burst (a server of 600 peers that
 * restarts), and a slow machine that truly falls behind switches on. Pure:
 * the caller gives the queue's length and capacity and the time. */
#ifndef VPND_HSLOAD_H
#define VPND_HSLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handshake/wire.h"

#define HSLOAD_HOLD_NS NSEC_PER_SEC

struct hsload {
	uint64_t last_under_load;	/* 0 = never */
};

/* True: under load now (mac2 required, per-source rate limit applies). */
bool hsload_update(struct hsload *s, size_t queue_len, size_t queue_cap, uint64_t now);
/* Under load by the last update, as seen at now (for display). */
bool hsload_active(const struct hsload *s, uint64_t now);

#endif
