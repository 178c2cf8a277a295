/* The under-load decision (hsload.h). */
#include "handshake/hsload.h"

bool hsload_update(struct hsload *s, size_t queue_len, size_t queue_cap, uint64_t now)
{
	/* 1/8 of the capacity, at least one message: a tiny queue is not
	 * "full" while empty. */
	size_t threshold = queue_cap / 8 ? queue_cap / 8 : 1;

	if (queue_len >= threshold) {
		s->last_under_load = now ? now : 1;	/* 0 means never */
		return true;
	}
	return hsload_active(s, now);
}

bool hsload_active(const struct hsload *s, uint64_t now)
{
	return s->last_under_load && now - s->last_under_load < HSLOAD_HOLD_NS;
}
