/* The device's timer heap: a binary min-heap (1-based) of peers by their
 * next timer deadline, and what happens when a deadline passes. */
#include "vpnd/datapath/timer_heap.h"

#include <stdlib.h>

#include "vpnd/datapath/device.h"
#include "vpnd/common/clock.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/send.h"

static void heap_swap(struct device *dev, size_t a, size_t b)
{
	struct peer *t = dev->heap[a];

	dev->heap[a] = dev->heap[b];
	dev->heap[b] = t;
	dev->heap[a]->heap_pos = a;
	dev->heap[b]->heap_pos = b;
}

static void heap_sift(struct device *dev, size_t i)
{
	while (i > 1 && dev->heap[i / 2]->heap_deadline > dev->heap[i]->heap_deadline) {
		heap_swap(dev, i, i / 2);
		i /= 2;
	}
	for (;;) {
		size_t l = 2 * i, r = l + 1, m = i;

		if (l <= dev->heap_len && dev->heap[l]->heap_deadline < dev->heap[m]->heap_deadline)
			m = l;
		if (r <= dev->heap_len && dev->heap[r]->heap_deadline < dev->heap[m]->heap_deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(dev, i, m);
		i = m;
	}
}

void timer_heap_remove(struct device *dev, struct peer *peer)
{
	size_t i = peer->heap_pos;

	if (!i)
		return;
	heap_swap(dev, i, dev->heap_len);
	dev->heap_len--;
	peer->heap_pos = 0;
	if (i <= dev->heap_len)
		heap_sift(dev, i);
}

void timer_heap_update(struct device *dev, struct peer *peer)
{
	uint64_t next = timers_next_deadline(&peer->timers);

	if (!next) {
		timer_heap_remove(dev, peer);
		return;
	}
	/* The packet path calls this per packet; most packets move no
	 * deadline, and then the heap has nothing to do. */
	if (peer->heap_pos && peer->heap_deadline == next)
		return;
	peer->heap_deadline = next;
	if (!peer->heap_pos) {
		if (dev->heap_len + 1 >= dev->heap_cap) {
			size_t cap = dev->heap_cap ? dev->heap_cap * 2 : 64;
			struct peer **h = realloc(dev->heap, cap * sizeof(*h));

			if (!h)
				return;	/* the peer's timers wait for its next event */
			dev->heap = h;
			dev->heap_cap = cap;
		}
		dev->heap[++dev->heap_len] = peer;
		peer->heap_pos = dev->heap_len;
	}
	heap_sift(dev, peer->heap_pos);
}

uint64_t timer_heap_next(const struct device *dev)
{
	return dev->heap_len ? dev->heap[1]->heap_deadline : 0;
}

void timer_heap_run(struct device *dev, uint64_t now)
{
	while (dev->heap_len && dev->heap[1]->heap_deadline <= now) {
		struct peer *peer = dev->heap[1];

		peer_run_timers(peer, now);
		timer_heap_update(dev, peer);
	}
}

void peer_run_timers(struct peer *peer, uint64_t now)
{
	unsigned actions = timers_expire(&peer->timers, now);

	if (actions & TIMER_ACTION_GIVE_UP)
		peer_staged_clear(peer);
	if (actions & TIMER_ACTION_ZERO_KEYS)
		peer_zero_keys(peer);
	/* No answer to what we sent: maybe our source is the trouble (the
	 * kernel's retransmit and new-handshake timers do the same). */
	if (actions & (TIMER_ACTION_RETRY_INITIATION | TIMER_ACTION_SEND_INITIATION))
		peer_clear_endpoint_source(peer);
	if (actions & TIMER_ACTION_RETRY_INITIATION)
		send_initiation(peer, true);
	else if (actions & TIMER_ACTION_SEND_INITIATION)
		send_initiation(peer, false);
	if (actions & TIMER_ACTION_SEND_KEEPALIVE)
		send_keepalive(peer);
	timers_actions_done(&peer->timers, now);
	send_flush(peer->dev);
}
