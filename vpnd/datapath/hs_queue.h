/* The handshake queue (the SYN queue) and its thread.
 *
 * Types 1 and 2 (initiations, responses) are copied by the event loop
 * into a bounded ring (HS_QUEUE_CAPACITY slots; full = dropped and
 * counted, drop hs_queue_full) and nothing more: their cost to the data
 * path is a copy. A handshake thread at nice 19 (so that, when both want a
 * CPU, the data path wins) takes them in order and runs the gate
 * (receive_handshake_gate: per-source bucket under load, mac1, mac2 or a
 * cookie reply, the global DH budget). What the gate passes, and the
 * cookie replies it makes, go back to the loop through a second ring and
 * an eventfd: the loop does the DH and sends the replies.
 *
 * Why the DH stays on the loop: a message that passes needs the peer
 * table, the peer's handshake state, the index table and the keypairs,
 * all owned by the loop without locks; moving the DH would need a lock on
 * each of them (or splitting Noise in a stateless and a committing half).
 * The global DH budget bounds what the loop can be made to spend on DHs;
 * everything an attacker gets for free (mac1, cookies, buckets) is off
 * the loop. The gate's own state (cookie checker, limiters, budget) is
 * shared with the loop only when the private key changes: one mutex.
 *
 * Under load (hsload.h): the in-ring at least 1/8 full, held 1 s; or
 * the DH budget of the second ran out, held 1 s (the thread is fast at
 * the gate and would rarely fall behind, while the DHs it passes cost the
 * loop: running out of them is the backlog that matters). */
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
/* On the loop: the DH and what follows (peer state is the loop's). */
void receive_handshake_pass(struct device *dev, const uint8_t *buf, const struct endpoint *src,
			    uint64_t now);
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
/* Loop: around a change of the gate's state (the private key). */
void hs_queue_lock(struct hs_queue *q);
void hs_queue_unlock(struct hs_queue *q);

#endif
