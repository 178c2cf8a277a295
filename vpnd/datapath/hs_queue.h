/* The handshake queue (the SYN queue) and its thread.
 *
 * Types 1 and 2 (initiations, responses) are copied by the event loop
 * into a bounded ring (HS_QUEUE_CAPACITY slots; full = dropped and
 * counted, drop hs_queue_full) and nothing more: their cost to the data
 * path is a copy. A handshake thread at nice 19 (so that, when both want a
 * CPU, the data path wins) takes them in order and runs the gate
 * (receive_handshake_gate: per-source bucket under load, mac1, mac2 or a
 * cookie reply, the global DH budget), then, for an initiation, the
 * expensive half of the Noise work (noise.h's compute half): es, the
 * static key, ss, the timestamp, and at once the response to it (a fresh
 * ephemeral, ee, se, psk, the empty AEAD) - every X25519 of the
 * responder. Results and cookie replies go back to the loop through a
 * second ring and an eventfd; the loop commits (receive_initiation_commit:
 * finds the peer by its static key, checks that it is still the same
 * (hs_gen), the replay timestamp and the 50/s flood rule against the live
 * handshake, takes a local index, adds mac1/mac2, derives the keypair and
 * sends): a few BLAKE2s, no DH. So handshakes spend the data path's CPU
 * only on copies, and a server with an idle core does them there.
 *
 * What the thread may touch (device.h, hsq): the gate's state, and copies
 * of the identity (with local_gen) and of one peer's noise_peer_view (with
 * its hs_gen), each taken under the gate lock, which the loop holds
 * whenever it changes them (private key, peer add/remove, PSK, the replay
 * timestamp). The thread keeps no pointer into a peer between two lock
 * sections. Whatever changes between compute and commit shows at the
 * commit: peer gone or its PSK or our key changed = another (or no) hs_gen
 * = dropped and counted (hs_stale); a newer initiation committed meanwhile
 * = replay. Nothing unauthenticated changes a handshake: the commit comes
 * after the AEADs. Results hold secrets: the out ring is guarded memory,
 * each slot is wiped once the loop used it (or failed to), and the whole
 * ring when the queue stops.
 *
 * Responses (type 2) pass the gate here but are consumed on the loop: the
 * initiator's side needs the handshake's ephemeral private key and
 * chaining key, which the loop owns and changes with every initiation it
 * sends; snapshotting them to the thread would need a table of pending
 * initiations shared under the lock. It stays bounded without: a response
 * gets two DHs only if its receiver index is one the loop gave to an
 * initiation still pending (32 random bits, unguessable off path; looked
 * up before any DH), and every one of them takes from the same global DH
 * budget as initiations (1000/s: at most ~8% of the loop's core, and only
 * from an on-path attacker; 0 from an off-path flood).
 *
 * Under load (hsload.h): the in-ring at least 1/8 full, held 1 s; or
 * the DH budget of the second ran out, held 1 s. */
#ifndef VPND_DATAPATH_HS_QUEUE_H
#define VPND_DATAPATH_HS_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handshake/wire.h"
#include "vpnd/common/net.h"
#include "vpnd/datapath/device.h"

#define HS_QUEUE_CAPACITY 4096	/* power of two */

/* The handshake gate: every check before a DH, cheapest first (per-source
 * token bucket under load, mac1, under load mac2 or a cookie reply, the
 * global DH budget). Runs on the handshake thread when there is a queue
 * (hs_queue.h), under its gate lock; on the loop otherwise. Touches only
 * the device's cookie checker, limiters and DH budget. */
enum hs_verdict {
	HS_DROP,	/* *why says why */
	HS_COOKIE,	/* *reply is to be sent to the source */
	HS_PASS,	/* on to the DH: receive_handshake_pass */
};
enum hs_verdict receive_handshake_gate(struct device *dev, const uint8_t *buf, size_t len,
				       const struct endpoint *src, bool under_load, uint64_t now,
				       struct msg_cookie_reply *reply, enum drop_reason *why);
/* On the loop: what a message that passed the gate does (the DHs and the
 * state): without a queue, both types; with one, responses only. */
void receive_handshake_pass(struct device *dev, const uint8_t *buf, const struct endpoint *src,
			    uint64_t now);
/* What the thread makes of an initiation that passed the gate: the
 * authenticated initiation, the response to it (both noise.h), and the
 * peer's hs_gen when its view was copied. Secret: wiped once used. */
struct hs_initiation_result {
	struct noise_initiation ini;
	struct noise_response resp;
	uint64_t peer_gen;
};
/* On the thread: the compute half for an initiation that passed the gate.
 * local: the thread's copy of the identity, taken under the gate lock when
 * dev->local_gen was local_gen. False: *why says why, *out is wiped. */
bool receive_initiation_compute(struct device *dev, const struct noise_local *local,
				uint64_t local_gen, const uint8_t *buf, uint64_t now,
				struct hs_initiation_result *out, enum drop_reason *why);
/* On the loop: the commit half (checks, state, index, macs, keypair,
 * send). Does not wipe *r (the caller owns it). The gate lock is only
 * tried: the loop never waits for the nice-19 thread, which a busy CPU may
 * leave preempted while it holds the lock (a priority inversion that would
 * stall the data path); HS_COMMIT_RETRY then means nothing was done and
 * the result is to be committed again on a later turn. */
enum hs_commit { HS_COMMIT_DONE, HS_COMMIT_RETRY };
enum hs_commit receive_initiation_commit(struct device *dev, const struct hs_initiation_result *r,
					 const struct endpoint *src, uint64_t now);
/* On the loop: queues a cookie reply the gate made, and counts it. */
void receive_cookie_sent(struct device *dev, const struct endpoint *src,
			 const struct msg_cookie_reply *reply);

/* Starts the thread; NULL (errno) if it cannot be made: then the device
 * does handshakes on the loop. */
struct hs_queue *hs_queue_start(struct device *dev);
/* Stops and joins the thread, frees everything. NULL is fine. */
void hs_queue_stop(struct hs_queue *q);
/* Loop: copies a type 1 or 2 message in; false when the queue is full. */
bool hs_queue_push(struct hs_queue *q, const uint8_t *buf, size_t len,
		   const struct endpoint *src);
/* Loop: wakes the thread if anything was pushed since the last call (once
 * per receive batch, not per message). */
void hs_queue_kick(struct hs_queue *q);
/* Loop: the eventfd that becomes readable when results wait. */
int hs_queue_fd(const struct hs_queue *q);
/* Loop: handles every waiting result (DHs, cookie replies). */
void hs_queue_drain(struct device *dev, uint64_t now);
/* Any thread: the thread's drop counter r, and its under-load state. */
uint64_t hs_queue_drops(const struct hs_queue *q, enum drop_reason r);
bool hs_queue_under_load(const struct hs_queue *q, uint64_t now);
/* Loop: around a change of what the thread reads (hs_queue.h above): the
 * private key, the peer table, a PSK, a replay timestamp. NULL: no-op. */
void hs_queue_lock(struct hs_queue *q);
void hs_queue_unlock(struct hs_queue *q);
/* Loop, on the per-handshake path: the lock if it is free now (true; NULL:
 * true, nothing to lock), else false at once. */
bool hs_queue_trylock(struct hs_queue *q);

#endif
