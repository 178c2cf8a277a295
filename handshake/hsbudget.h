/* The global DH budget: at most per_second handshakes a second go on to
 * Diffie-Hellman, whoever sends them. The per-source token bucket
 * (ratelimit.h) bounds one source; a flood with valid cookies from many
 * sources (one /64 each) would still buy unlimited X25519 without this
 * ceiling. A fixed one-second window: pure counter, time from the caller,
 * not thread-safe (its owner is the handshake worker). */
#ifndef VPND_HSBUDGET_H
#define VPND_HSBUDGET_H

#include <stdbool.h>
#include <stdint.h>

/* Default: 1000 a second is about 15% of a core (bench_handshake: ~7000/s
 * on one), and still twelve times the rekeying of 10,000 peers (one each 2
 * minutes). The responder's DHs run on the handshake thread at nice 19
 * (hs_queue.h), so this is what a flood with valid cookies can take from
 * the machine, not from the data path. */
#define HSBUDGET_DEFAULT_PER_SECOND 1000

struct hs_budget {
	uint64_t window_start_ns;
	uint32_t used;		/* DHs granted in the current window */
	uint32_t demand;	/* messages that asked for one, this window */
	uint32_t per_second;
	uint64_t granted, refused;	/* since init, for vpnd show */
	bool started;
};

/* per_second 0 picks the default. */
void hs_budget_init(struct hs_budget *b, uint32_t per_second);
/* True: one more DH may be done now (and is counted). False: over budget,
 * drop the message (counted). */
bool hs_budget_take(struct hs_budget *b, uint64_t now_ns);

/* Counts one message that asks for a DH (a valid mac1), granted or not.
 * True once this window's demand is over per_second: a backlog of DH work,
 * which is what puts the device under load (receive.c). */
bool hs_budget_demand(struct hs_budget *b, uint64_t now_ns);

#endif
