/* The under-load rule, as the kernel's for its SYN queue: under load while
 * the handshake queue is at least 1/8 full, and for HSLOAD_HOLD_NS after
 * the last moment it was, so that a flood cannot make it flap. Pure: the
 * queue's fill and the time come from the caller. */
#ifndef VPND_HSLOAD_H
#define VPND_HSLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HSLOAD_HOLD_NS 1000000000ULL	/* 1 s */

struct hs_load {
	uint64_t until_ns;	/* under load before this time */
	bool seen;		/* until_ns is set */
};

/* queued messages of capacity; returns the decision for now_ns. */
bool hs_load_update(struct hs_load *l, size_t queued, size_t capacity, uint64_t now_ns);
/* The decision without a new observation. */
bool hs_load_active(const struct hs_load *l, uint64_t now_ns);

#endif
