/* Anti-replay window for transport counters, RFC 6479 style: a ring of
 * REPLAY_WINDOW_BITS bits in 64-bit blocks; the usable window is
 * REPLAY_WINDOW_BITS - 64 counters behind the greatest one seen.
 *
 * Invariant: replay_update() is called only after the AEAD tag verified, so
 * a forged packet can never move the window. replay_check() is a read-only
 * early reject that may run before decryption. Not thread-safe: the caller
 * holds whatever lock guards the keypair. */
#ifndef VPND_REPLAY_H
#define VPND_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "handshake/wire.h"

struct replay_window {
	uint64_t next;		/* greatest accepted counter + 1; 0 = none yet */
	uint64_t bitmap[REPLAY_WINDOW_BITS / 64];
};

void replay_init(struct replay_window *w);
/* False if counter is certainly unacceptable (too old, already seen, or at
 * or past REJECT_AFTER_MESSAGES). Does not modify the window. */
bool replay_check(const struct replay_window *w, uint64_t counter);
/* Marks counter as seen; false (and no change) if it was not acceptable. */
bool replay_update(struct replay_window *w, uint64_t counter);

#endif
