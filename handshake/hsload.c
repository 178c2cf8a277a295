#include "handshake/hsload.h"

bool hs_load_active(const struct hs_load *l, uint64_t now_ns)
{
	return l->seen && now_ns < l->until_ns;
}

bool hs_load_update(struct hs_load *l, size_t queued, size_t capacity, uint64_t now_ns)
{
	/* queued >= capacity / 8 without rounding: 8 * queued >= capacity.
	 * An empty capacity is never loaded (nothing can be queued). */
	if (capacity && queued >= (capacity + 7) / 8) {
		l->until_ns = now_ns + HSLOAD_HOLD_NS;
		l->seen = true;
	}
	return hs_load_active(l, now_ns);
}
