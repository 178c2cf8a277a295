/* A peer: its public key, handshake, keypairs (previous, current, next),
 * endpoint, timers, counters and the queue of packets waiting for a
 * session. The device owns its peers (device.h); a peer owns everything
 * in it. Runs on the event loop only. */
#ifndef VPND_DATAPATH_PEER_H
#define VPND_DATAPATH_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "handshake/cookie.h"
#include "handshake/noise.h"
#include "handshake/transport.h"
#include "vpnd/common/net.h"
#include "vpnd/datapath/allowedips.h"
#include "vpnd/datapath/timers.h"

#define STAGED_MAX      128	/* packets queued per peer while no session */
#define STAGED_PEER_BYTES   (256u * 1024)	/* ... and their bytes per peer */
#define STAGED_DEVICE_BYTES (32u * 1024 * 1024)	/* ... and for all peers */

struct device;
struct peer;

/* A peer's handshake as it lives in the device's secret arena, with the
 * way back to its peer (the handshake code hands back only the hs). */
struct peer_handshake {
	struct noise_handshake hs;	/* first: &ph->hs == (void *)ph */
	struct peer *peer;
};

struct peer {
	struct device *dev;
	uint8_t public_key[KEY_LEN];
	/* In the device's secret arena (device.h): PSK, static-static DH,
	 * chaining key and ephemeral are never dumped, locked where allowed. */
	struct noise_handshake *hs;
	uint64_t hs_gen;		/* device.h: local_gen, hs_gen_next */
	struct cookie_maker cookie;
	struct keypair *kp_previous, *kp_current, *kp_next;

	bool has_endpoint;
	struct endpoint endpoint;	/* src: where replies leave from */

	struct allowedips_owner aips;
	struct timers timers;
	size_t heap_pos;		/* in the device's timer heap; 0 = absent */
	uint64_t heap_deadline;

	uint64_t last_handshake_wall_ns;	/* for wg show; 0 = never */
	uint64_t rx_bytes, tx_bytes;
	uint64_t rx_packets, tx_packets;
	uint64_t handshakes_sent, handshakes_received;

	/* Packets waiting for a session: a ring of lazily allocated buffers. */
	uint8_t *staged[STAGED_MAX];
	uint16_t staged_len[STAGED_MAX];
	unsigned staged_head, staged_count;
	size_t staged_bytes;

	struct peer *hash_next;		/* device's public-key hash chain */
	struct peer *next, *prev;	/* device's ordered list */
};

void peer_set_persistent_keepalive(struct peer *peer, uint16_t seconds);
/* A configured endpoint (config file, UAPI): no source known yet, routing
 * picks it until the peer's first packet arrives. */
void peer_set_endpoint(struct peer *peer, const union sockaddr_any *ep);
/* Roaming: an authenticated packet came from from->addr to from->src;
 * replies go back that way. */
void peer_update_endpoint(struct peer *peer, const struct endpoint *from);
/* Forgets the cached source (it is gone, or may be why the peer is silent):
 * routing picks it again. */
void peer_clear_endpoint_source(struct peer *peer);
/* Installs a keypair freshly derived from a handshake (peer takes kp). */
void peer_install_keypair(struct peer *peer, struct keypair *kp);
/* A packet arrived on kp: if kp is the peer's next, it is confirmed and
 * promoted to current, and true says a handshake completed (the kernel's
 * wg_noise_received_with_keypair); any other keypair: false. */
bool peer_keypair_confirmed(struct peer *peer, struct keypair *kp);
void peer_zero_keys(struct peer *peer);
/* Our identity changed (the kernel's wg_noise_expire_current_peer_keypairs):
 * the handshake in flight is dropped, current and next may no longer send,
 * but still receive, so packets in flight are not lost; and a new handshake
 * may leave at once. */
void peer_expire_sending_keys(struct peer *peer);
void peer_drop_handshake_index(struct peer *peer);
/* The current keypair if it may send now, else NULL. */
struct keypair *peer_sendable_keypair(struct peer *peer, uint64_t now);
/* Queues a copy of pkt (bounded: see peer.c); false if it was dropped. */
bool peer_stage(struct peer *peer, const uint8_t *pkt, size_t len);
/* Moves the oldest staged packet to out (MTU_MAX bytes at least), frees
 * its copy and returns its length. Only when staged_count > 0. */
size_t peer_staged_pop(struct peer *peer, uint8_t *out);
/* Frees (and wipes) every staged packet. */
void peer_staged_clear(struct peer *peer);
void peer_timers_changed(struct peer *peer);

#endif
