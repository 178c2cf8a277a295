/* The way in: one UDP message by its first byte to the handshake path
 * (types 1-3: mac1, cookies, rate limit, Noise) or the transport path (4:
 * index, AEAD, replay window, roaming, inner source check, TUN batch). */
#ifndef VPND_DATAPATH_RECEIVE_H
#define VPND_DATAPATH_RECEIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "vpnd/common/net.h"

struct device;

/* A transport message of a receive run (receive.c), between its checks on
 * the event loop (index, length, expiry, replay window read-only), its AEAD
 * (any thread, on a copy of the key) and its delivery (the event loop). */
struct rx_job {
	uint8_t *buf;
	size_t len;
	uint64_t counter;
	const struct endpoint *src;
	uint8_t ds;			/* the datagram's outer DS field (ecn.h) */
	uint32_t index;			/* receiver index: the keypair is found again */
	bool opened;			/* the AEAD verified */
	uint8_t key[KEY_LEN];
};
#define RX_RUN_MAX 256			/* transport messages per parallel run */

/* One message of a datagram from src, whose outer TOS / traffic class was
 * ds (its ECN field reaches a transport message's inner packet). */
void receive_packet(struct device *dev, uint8_t *buf, size_t len,
		    const struct endpoint *src, uint8_t ds, uint64_t now);
void receive_flush(struct device *dev);

/* With a crypto pool: the messages of one recvmmsg batch go in order
 * through receive_batch_add, then receive_batch_end. Runs of transport
 * messages are checked here, decrypted in parallel, and delivered in
 * order; any other message ends the run and is handled on its own as
 * receive_packet does. */
void receive_batch_add(struct device *dev, uint8_t *buf, size_t len,
		       const struct endpoint *src, uint8_t ds, uint64_t now);
void receive_batch_end(struct device *dev, uint64_t now);

#endif
