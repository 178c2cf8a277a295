/* The way out: TUN packets to their peer's session (counter, padding,
 * AEAD in place), handshake initiations and keepalives, all queued into the
 * device's send batch and sent by send_flush (sendmmsg, UDP GSO). */
#ifndef VPND_DATAPATH_SEND_H
#define VPND_DATAPATH_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "vpnd/common/net.h"

struct device;
struct peer;

/* The deferred AEAD of a queued transport message (with a crypto pool):
 * queue_encrypted took the counter and wrote the header and padding;
 * send_flush encrypts. A copy of the key, so no keypair pointer outlives
 * the batch; wiped once sealed. */
struct tx_seal {
	uint64_t counter;
	uint8_t key[KEY_LEN];
	bool pending;
};

void send_initiation(struct peer *peer, bool is_retry);
void send_keepalive(struct peer *peer);
void send_staged(struct peer *peer);
void send_from_tun(struct device *dev, uint8_t *pkt, size_t len, uint64_t now);
/* PeerToPeer = direct: a decrypted packet from one peer, sent on to peer
 * (copied into the send batch, or staged until it has a session). */
void send_forward(struct peer *peer, const uint8_t *pkt, size_t len, uint64_t now);
void send_flush(struct device *dev);
/* Sends a handshake message to peer's endpoint at once, from its cached
 * source (forgotten, and the send retried, if the kernel refuses it). */
void send_handshake_message(struct peer *peer, const void *buf, size_t len);
/* Queues a complete message (a cookie reply) into the send batch: it leaves
 * with the next sendmmsg, not in a system call of its own, from dst->src. */
void send_queue_raw(struct device *dev, const struct endpoint *dst, const void *buf,
		    size_t len);

#endif
