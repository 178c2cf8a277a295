/* Peers: their keypairs (previous, current, next) and their queue of
 * packets waiting for a session. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"

void peer_set_persistent_keepalive(struct peer *peer, uint16_t seconds)
{
	peer->timers.persistent_keepalive_interval = seconds;
	if (!seconds)
		peer->timers.deadline[TIMER_PERSISTENT_KEEPALIVE] = 0;
	peer_timers_changed(peer);
}

void peer_set_endpoint(struct peer *peer, const union sockaddr_any *ep)
{
	memset(&peer->endpoint, 0, sizeof(peer->endpoint));
	peer->endpoint.addr = *ep;
	peer->has_endpoint = true;
}

void peer_update_endpoint(struct peer *peer, const struct endpoint *from)
{
	peer->endpoint = *from;
	peer->has_endpoint = true;
}

void peer_clear_endpoint_source(struct peer *peer)
{
	memset(&peer->endpoint.src, 0, sizeof(peer->endpoint.src));
}

static void keypair_drop(struct peer *peer, struct keypair **slot)
{
	struct keypair *kp = *slot;

	if (!kp)
		return;
	index_table_remove(&peer->dev->index, kp->local_index);
	device_keypair_free(peer->dev, kp);
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
}

bool peer_keypair_confirmed(struct peer *peer, struct keypair *kp)
{
	if (!kp || peer->kp_next != kp)
		return false;
	keypair_drop(peer, &peer->kp_previous);
	peer->kp_previous = peer->kp_current;
	peer->kp_current = kp;
	peer->kp_next = NULL;
	return true;
}

/* Forgets the index of a handshake in flight (not one a keypair took). */
void peer_drop_handshake_index(struct peer *peer)
{
	struct index_entry *e = index_table_find(&peer->dev->index, peer->hs->local_index);

	if (e && e->peer == peer && !e->kp)
		index_table_remove(&peer->dev->index, peer->hs->local_index);
	peer->hs->local_index = 0;
}

void peer_zero_keys(struct peer *peer)
{
	keypair_drop(peer, &peer->kp_previous);
	keypair_drop(peer, &peer->kp_current);
	keypair_drop(peer, &peer->kp_next);
	peer_drop_handshake_index(peer);
	noise_handshake_clear(peer->hs);
}

void peer_expire_sending_keys(struct peer *peer)
{
	peer_drop_handshake_index(peer);
	noise_handshake_clear(peer->hs);
	timers_handshake_sent_reset(&peer->timers);
	if (peer->kp_current)
		peer->kp_current->send_expired = true;
	if (peer->kp_next)
		peer->kp_next->send_expired = true;
}

/* Frees the oldest staged packet, wiping it first: it is plaintext. */
static void staged_drop_oldest(struct peer *peer)
{
	unsigned i = peer->staged_head;
	size_t len = peer->staged_len[i];

	sodium_memzero(peer->staged[i], len);
	free(peer->staged[i]);
	peer->staged[i] = NULL;
	peer->staged_head = (i + 1) % STAGED_MAX;
	peer->staged_count--;
	peer->staged_bytes -= len;
	peer->dev->staged_bytes -= len;
}

/* Queues a copy of pkt until the peer has a session. Each packet gets a
 * block of its own size, freed once it is sent (send_staged), so an idle
 * queue holds no memory. Bounded three ways, so that no peer (and no
 * number of peers) can make the daemon hold more than STAGED_DEVICE_BYTES:
 * STAGED_MAX packets and STAGED_PEER_BYTES per peer (the oldest go first,
 * like WireGuard, so fresh traffic wins), and STAGED_DEVICE_BYTES for the
 * whole device (this peer's oldest go first; a peer with nothing staged is
 * refused). Every packet dropped is counted as queue_full. */
bool peer_stage(struct peer *peer, const uint8_t *pkt, size_t len)
{
	struct device *dev = peer->dev;
	unsigned slot;
	uint8_t *copy;

	if (len > MTU_MAX || len > UINT16_MAX || len > STAGED_PEER_BYTES) {
		device_count_drop(dev, DROP_INNER_INVALID);
		return false;
	}
	while (peer->staged_count &&
	       (peer->staged_count == STAGED_MAX || peer->staged_bytes + len > STAGED_PEER_BYTES ||
		dev->staged_bytes + len > STAGED_DEVICE_BYTES)) {
		staged_drop_oldest(peer);
		device_count_drop(dev, DROP_QUEUE_FULL);
	}
	if (dev->staged_bytes + len > STAGED_DEVICE_BYTES || !(copy = malloc(len ? len : 1))) {
		device_count_drop(dev, DROP_QUEUE_FULL);
		return false;
	}
	memcpy(copy, pkt, len);
	slot = (peer->staged_head + peer->staged_count) % STAGED_MAX;
	peer->staged[slot] = copy;
	peer->staged_len[slot] = (uint16_t)len;
	peer->staged_count++;
	peer->staged_bytes += len;
	dev->staged_bytes += len;
	return true;
}

size_t peer_staged_pop(struct peer *peer, uint8_t *out)
{
	size_t len = peer->staged_len[peer->staged_head];

	memcpy(out, peer->staged[peer->staged_head], len);
	staged_drop_oldest(peer);
	return len;
}

void peer_staged_clear(struct peer *peer)
{
	while (peer->staged_count)
		staged_drop_oldest(peer);
	peer->staged_head = 0;
}

void peer_timers_changed(struct peer *peer)
{
	timer_heap_update(peer->dev, peer);
}

struct keypair *peer_sendable_keypair(struct peer *peer, uint64_t now)
{
	struct keypair *kp = peer->kp_current;

	if (!kp || !kp->valid || kp->send_expired || !kp->confirmed || now - kp->birth_ns >= REJECT_AFTER_TIME ||
	    kp->send_counter >= REJECT_AFTER_MESSAGES)
		return NULL;
	return kp;
}
