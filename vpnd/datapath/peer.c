/* Peers: their keypairs (previous, current, next) and their queue of
 * packets waiting for a session. */
#include <stdlib.h>
#include <string.h>

#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"
#include "crypto/crypto.h"

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
/* A staged packet is plaintext from the TUN: wiped before its memory goes
 * back to the allocator, where a later bug could read it. */
void peer_staged_free(struct peer *peer, unsigned slot)
{
	if (peer->staged[slot])
		wg_secure_wipe(peer->staged[slot], peer->staged_len[slot]);
	free(peer->staged[slot]);
	peer->staged[slot] = NULL;
}

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
		peer_staged_free(peer, peer->staged_head);
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
	peer_staged_free(peer, slot);
	peer->staged[slot] = copy;
	peer->staged_len[slot] = (uint16_t)len;
	peer->staged_count++;
	return true;
}

void peer_staged_clear(struct peer *peer)
{
	for (unsigned i = 0; i < STAGED_MAX; i++)
		peer_staged_free(peer, i);
	peer->staged_head = 0;
	peer->staged_count = 0;
}

void peer_timers_changed(struct peer *peer)
{
	timer_heap_update(peer->dev, peer);
}

struct keypair *peer_sendable_keypair(struct peer *peer, uint64_t now)
{
	struct keypair *kp = peer->kp_current;

	if (!kp || !kp->valid || !kp->confirmed || now - kp->birth_ns >= REJECT_AFTER_TIME ||
	    kp->send_counter >= REJECT_AFTER_MESSAGES)
		return NULL;
	return kp;
}
