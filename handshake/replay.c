/* Anti-replay window, RFC 6479 style.
 *
 * Counter c is tracked at bit position p = c + 1, so that w->next (greatest
 * accepted counter + 1) is exactly the position of the greatest counter and
 * next == 0 ("nothing seen yet") behaves like a greatest counter of -1.
 * Position 0 is never used. Accepted counters are below
 * REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1, so c + 1 never overflows.
 *
 * Position p lives in block p / 64, stored at ring slot (p / 64) % RING_BLOCKS.
 *
 * Invariants, with top = w->next / 64 the block holding the greatest
 * position:
 *  - ring slots of blocks top - (RING_BLOCKS - 1) .. top hold exactly the
 *    bits of those blocks (a slot is zeroed when the window first enters
 *    its block);
 *  - every bit above w->next in block top is zero, so any position greater
 *    than w->next is new without looking at the bitmap;
 *  - the oldest acceptable position, next - WINDOW, lies in block
 *    top - (RING_BLOCKS - 1): the whole window fits in the ring with one
 *    block to spare, which is why the window is 64 bits short of the ring.
 */
#include "handshake/replay.h"

#include <string.h>

enum {
	BLOCK_BITS = 64,
	RING_BLOCKS = REPLAY_WINDOW_BITS / BLOCK_BITS,
	/* Greatest allowed distance between the greatest counter and an
	 * older one still accepted. */
	WINDOW = REPLAY_WINDOW_BITS - BLOCK_BITS,
};

_Static_assert((RING_BLOCKS & (RING_BLOCKS - 1)) == 0,
	       "ring size must be a power of two so slot math is a mask");
_Static_assert(sizeof(((struct replay_window *)0)->bitmap) * 8 == REPLAY_WINDOW_BITS,
	       "bitmap holds REPLAY_WINDOW_BITS bits");

static inline size_t slot_of(uint64_t pos)
{
	return (pos / BLOCK_BITS) & (RING_BLOCKS - 1);
}

static inline uint64_t bit_of(uint64_t pos)
{
	return 1ULL << (pos % BLOCK_BITS);
}

void replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof(*w));
}

bool replay_check(const struct replay_window *w, uint64_t counter)
{
	uint64_t pos;

	if (counter >= REJECT_AFTER_MESSAGES)
		return false;
	pos = counter + 1;
	if (pos > w->next)
		return true;	/* ahead of everything: new by invariant */
	if (w->next - pos > WINDOW)
		return false;	/* its bit may already be reused: too old */
	return !(w->bitmap[slot_of(pos)] & bit_of(pos));
}

/* Moves the greatest position to pos (> w->next), zeroing the slots of the
 * blocks the window enters. A jump of a whole ring or more clears every slot
 * once, so the work is at most RING_BLOCKS stores whatever the jump. */
static void advance(struct replay_window *w, uint64_t pos)
{
	uint64_t top = w->next / BLOCK_BITS;
	uint64_t blocks = pos / BLOCK_BITS - top;
	uint64_t i;

	if (blocks > RING_BLOCKS)
		blocks = RING_BLOCKS;
	for (i = 1; i <= blocks; i++)
		w->bitmap[(top + i) & (RING_BLOCKS - 1)] = 0;	/* = slot of block top + i */
	w->next = pos;
}

bool replay_update(struct replay_window *w, uint64_t counter)
{
	uint64_t pos;

	if (!replay_check(w, counter))
		return false;
	pos = counter + 1;
	if (pos > w->next)
		advance(w, pos);
	w->bitmap[slot_of(pos)] |= bit_of(pos);
	return true;
}
