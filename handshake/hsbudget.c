/* Fixed windows rather than a token bucket: the budget is a ceiling on
 * CPU per second, not a smoothing of bursts, and a window is two fields.
 * A clock going backwards never opens a new window (no extra budget). */
#include "handshake/hsbudget.h"

#include <string.h>

#include "handshake/wire.h"

void hs_budget_init(struct hs_budget *b, uint32_t per_second)
{
	memset(b, 0, sizeof(*b));
	b->per_second = per_second ? per_second : HSBUDGET_DEFAULT_PER_SECOND;
}

/* A fixed one-second window, shared by the grants and the demand. */
static void roll_window(struct hs_budget *b, uint64_t now_ns)
{
	if (!b->started || (now_ns > b->window_start_ns &&
			    now_ns - b->window_start_ns >= NSEC_PER_SEC)) {
		b->window_start_ns = now_ns;
		b->used = 0;
		b->demand = 0;
		b->started = true;
	}
}

bool hs_budget_demand(struct hs_budget *b, uint64_t now_ns)
{
	roll_window(b, now_ns);
	if (b->demand < UINT32_MAX)
		b->demand++;
	return b->demand > b->per_second;
}

bool hs_budget_take(struct hs_budget *b, uint64_t now_ns)
{
	roll_window(b, now_ns);
	if (b->used >= b->per_second) {
		b->refused++;
		return false;
	}
	b->used++;
	b->granted++;
	return true;
}
