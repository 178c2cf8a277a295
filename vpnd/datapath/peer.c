/* Peers: their keypairs (previous, current, next), their queue of packets
 * waiting for a session, and the device's timer heap that orders them by
 * their next timer deadline. */
#include <stdlib.h>
#include <string.h>

#include "vpnd/datapath/device.h"

void peer_set_persistent_keepalive(struct peer *peer, uint16_t seconds)
{
	peer->timers.persistent_keepalive_interval = seconds;
	if (!seconds)
		peer->timers.deadline[TIMER_PERSISTENT_KEEPALIVE] = 0;
	peer_timers_changed(peer);
}

void peer_set_endpoint(struct peer *peer, const union sockaddr_any *ep)
{
	peer->endpoint = *ep;
	peer->has_endpoint = true;
}

static void keypair_drop(struct peer *peer, struct keypair **slot)
{
	struct keypair *kp = *slot;

	if (!kp)
		return;
	index_table_remove(&peer->dev->index, kp->local_index);
	keypair_wipe(kp);
	free(kp);
	*slot = NULL;
}

/* The initiator uses a new keypair at once: it becomes current. The
 * responder must wait for the ACK, so its keypair waits as next. */
void peer_install_keypair(struct peer *peer, struct keypair *kp)
{
	if (kp->is_initiator) {
		if (peer->kp_next) {
			keypair_drop(peer, &peer->kp_previous);
			peer->kp_previous = peer->kp_next;
			peer->kp_next = NULL;
			keypair_drop(peer, &peer->kp_current);
		} else {
			keypair_drop(peer, &peer->kp_previous);
			peer->kp_previous = peer->kp_current;
		}
		peer->kp_current = kp;
	} else {
		keypair_drop(peer, &peer->kp_next);
		keypair_drop(peer, &peer->kp_previous);
		peer->kp_next = kp;
	}
	index_table_set(&peer->dev->index, kp->local_index, kp);
	peer->sent_lastminute_handshake = false;
}

void peer_keypair_confirmed(struct peer *peer, struct keypair *kp)
{
	if (peer->kp_next != kp)
		return;
	keypair_drop(peer, &peer->kp_previous);
	peer->kp_previous = peer->kp_current;
	peer->kp_current = kp;
	peer->kp_next = NULL;
}

/* Forgets the index of a handshake in flight (not one a keypair took). */
void peer_drop_handshake_index(struct peer *peer)
{
	struct index_entry *e = index_table_find(&peer->dev->index, peer->hs.local_index);

	if (e && e->peer == peer && !e->kp)
		index_table_remove(&peer->dev->index, peer->hs.local_index);
	peer->hs.local_index = 0;
}

void peer_zero_keys(struct peer *peer)
{
	keypair_drop(peer, &peer->kp_previous);
	keypair_drop(peer, &peer->kp_current);
	keypair_drop(peer, &peer->kp_next);
	peer_drop_handshake_index(peer);
	noise_handshake_clear(&peer->hs);
}

/* Queues a copy of pkt until the peer has a session. Each packet gets a
 * block of its own size, freed once it is sent (send_staged), so an idle
 * queue holds no memory. */
bool peer_stage(struct peer *peer, const uint8_t *pkt, size_t len)
{
	unsigned slot;
	uint8_t *copy;

	if (len > MTU_MAX || len > UINT16_MAX) {
		device_count_drop(peer->dev, DROP_INNER_INVALID);
		return false;
	}
	if (peer->staged_count == STAGED_MAX) {
		/* Full: drop the oldest, like WireGuard, so fresh traffic wins. */
		free(peer->staged[peer->staged_head]);
		peer->staged[peer->staged_head] = NULL;
		peer->staged_head = (peer->staged_head + 1) % STAGED_MAX;
		peer->staged_count--;
		device_count_drop(peer->dev, DROP_QUEUE_FULL);
	}
	copy = malloc(len ? len : 1);
	if (!copy) {
		device_count_drop(peer->dev, DROP_QUEUE_FULL);
		return false;
	}
	memcpy(copy, pkt, len);
	slot = (peer->staged_head + peer->staged_count) % STAGED_MAX;
	free(peer->staged[slot]);
	peer->staged[slot] = copy;
	peer->staged_len[slot] = (uint16_t)len;
	peer->staged_count++;
	return true;
}

void peer_staged_clear(struct peer *peer)
{
	for (unsigned i = 0; i < STAGED_MAX; i++) {
		free(peer->staged[i]);
		peer->staged[i] = NULL;
	}
	peer->staged_head = 0;
	peer->staged_count = 0;
}

void peer_timers_changed(struct peer *peer)
{
	timer_heap_update(peer->dev, peer);
}

/* --- timer heap: a binary min-heap of peers by next deadline ---------- */

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
