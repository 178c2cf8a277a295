/* The device: one interface, its identity, its peers, the routing table,
 * the index table and the sockets. One event loop owns it all (no locks
 * yet); every function here runs on that loop. Only the AEADs of a batch
 * may run on other threads (crypto_pool.h), on copies of their keys, while
 * the loop waits for them.
 *
 * Ownership: the device owns its peers (hash by public key and an ordered
 * list); a peer owns its handshake, its keypairs (previous, current, next),
 * its endpoint and its queue of packets waiting for a session. The routing
 * table and the index table only refer to peers and keypairs; removing a
 * peer removes those references first. */
#ifndef VPND_DEVICE_H
#define VPND_DEVICE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handshake/cookie.h"
#include "handshake/noise.h"
#include "handshake/ratelimit.h"
#include "handshake/transport.h"
#include "tun/offload.h"
#include "vpnd/datapath/allowedips.h"
#include "vpnd/control/config.h"
#include "vpnd/datapath/timers.h"

#define STAGED_MAX      128	/* packets queued per peer while no session */
#define BATCH_MAX       128	/* packets per recvmmsg/sendmmsg/TUN batch */
#define PACKET_BUF_LEN  (65536 + 64)
#define TUN_OUT_MAX     1024
#define TX_BUF_LEN      (MTU_MAX + 64)	/* one transport message */
#define MTU_MAX         65535
#define UNDER_LOAD_THRESHOLD 512	/* handshake messages per second */

/* The deferred AEAD of a queued transport message (with a crypto pool):
 * queue_encrypted took the counter and wrote the header and padding;
 * send_flush encrypts. A copy of the key, so no keypair pointer outlives
 * the batch; wiped once sealed. */
struct tx_seal {
	uint64_t counter;
	uint8_t key[KEY_LEN];
	bool pending;
};

/* A transport message of a receive run (receive.c), between its checks on
 * the event loop (index, length, expiry, replay window read-only), its AEAD
 * (any thread, on a copy of the key) and its delivery (the event loop). */
struct rx_job {
	uint8_t *buf;
	size_t len;
	uint64_t counter;
	const union sockaddr_any *src;
	uint32_t index;			/* receiver index: the keypair is found again */
	bool opened;			/* the AEAD verified */
	uint8_t key[KEY_LEN];
};
#define RX_RUN_MAX 256			/* transport messages per parallel run */

struct crypto_pool;

/* Why a packet was dropped; counted per device, shown by vpnd show. */
enum drop_reason {
	DROP_SHORT,		/* too short or wrong size for its type */
	DROP_BAD_TYPE,		/* unknown message type */
	DROP_MAC1,		/* handshake with a wrong mac1 */
	DROP_COOKIE_SENT,	/* under load without mac2: answered with a cookie */
	DROP_RATELIMIT,		/* handshake over the per-source rate */
	DROP_HANDSHAKE,		/* handshake that failed Noise checks */
	DROP_UNKNOWN_INDEX,	/* no session for the receiver index */
	DROP_DECRYPT,		/* transport AEAD failed */
	DROP_REPLAY,		/* counter replayed or too old */
	DROP_EXPIRED,		/* keypair expired */
	DROP_INNER_SOURCE,	/* inner source not routed to the sending peer */
	DROP_INNER_INVALID,	/* inner packet not valid IPv4/IPv6 */
	DROP_NO_ROUTE,		/* TUN packet whose destination has no peer */
	DROP_NO_ENDPOINT,	/* peer has no endpoint to send to */
	DROP_QUEUE_FULL,	/* staged queue full */
	DROP_P2P_REFUSED,	/* peer to another peer with PeerToPeer = refuse */
	DROP_COUNT,
};

const char *drop_reason_name(enum drop_reason r);

struct device;

struct peer {
	struct device *dev;
	uint8_t public_key[KEY_LEN];
	struct noise_handshake hs;
	struct cookie_maker cookie;
	struct keypair *kp_previous, *kp_current, *kp_next;

	bool has_endpoint;
	union sockaddr_any endpoint;

	struct allowedips_owner aips;
	struct timers timers;
	size_t heap_pos;		/* in the device's timer heap; 0 = absent */
	uint64_t heap_deadline;

	uint64_t last_initiation_sent_ns;	/* monotonic; 0 = never */
	bool sent_lastminute_handshake;
	uint64_t last_handshake_wall_ns;	/* for wg show; 0 = never */
	uint64_t rx_bytes, tx_bytes;
	uint64_t rx_packets, tx_packets;
	uint64_t handshakes_sent, handshakes_received;

	/* Packets waiting for a session: a ring of lazily allocated buffers. */
	uint8_t *staged[STAGED_MAX];
	uint16_t staged_len[STAGED_MAX];
	unsigned staged_head, staged_count;

	struct peer *hash_next;		/* device's public-key hash chain */
	struct peer *next, *prev;	/* device's ordered list */
};

struct index_entry {
	uint32_t index;			/* 0 = empty slot */
	bool tombstone;
	struct peer *peer;
	struct keypair *kp;		/* NULL: the index is the peer's handshake */
};

struct index_table {
	struct index_entry *slots;
	size_t cap, used, live;
};

struct device {
	char ifname[IFNAMSIZ];
	unsigned ifindex;
	unsigned mtu;
	struct noise_local *local;	/* guarded, locked memory (wg_secure_alloc) */
	struct cookie_checker cookie_checker;
	struct ratelimiter *ratelimiter;
	uint64_t ratelimiter_gc_ns;	/* last ratelimiter_gc (about once a second) */
	uint16_t listen_port;		/* configured; 0 = random */
	uint16_t bound_port;		/* actual */
	uint32_t fwmark;
	enum p2p_mode peer_to_peer;	/* packets from a peer to another peer */

	struct allowedips *aips;
	struct index_table index;
	struct peer **peer_buckets;
	size_t n_buckets, n_peers;
	struct peer *peers_first, *peers_last;

	struct peer **heap;		/* timer heap, 1-based */
	size_t heap_len, heap_cap;

	int tun_fd, udp_fd, udp_family;
	bool tun_vnet_hdr;		/* TUN packets carry a virtio_net_hdr */
	bool udp_gso;			/* UDP_SEGMENT works on udp_fd */
	bool udp_gro;			/* UDP_GRO enabled on udp_fd */
	uint8_t *tun_read_buf;		/* one TUN super-packet (vnet_hdr mode) */

	/* Under-load detection: handshake messages in the current second. */
	uint64_t load_window_start_ns;
	unsigned load_window_count;
	uint64_t under_load_until_ns;

	uint64_t drops[DROP_COUNT];
	uint64_t cookie_replies_sent;
	uint64_t handshakes_answered;

	/* Batch buffers: no allocation on the packet path. */
	uint8_t (*rx_bufs)[PACKET_BUF_LEN];
	uint8_t (*tx_bufs)[TX_BUF_LEN];
	size_t tx_lens[BATCH_MAX];
	union sockaddr_any tx_dst[BATCH_MAX];
	size_t tx_count;
	struct tx_seal tx_seal[BATCH_MAX];

	/* AEAD threads (crypto_pool.h); NULL: everything on the event loop,
	 * each message encrypted when queued and decrypted when received. */
	struct crypto_pool *pool;
	struct rx_job *rx_run;		/* RX_RUN_MAX entries */
	size_t rx_run_len, rx_run_bytes;

	/* Decrypted packets for the TUN, pointing into rx_bufs: written (and
	 * merged) before rx_bufs are reused. */
	struct tun_pkt tun_out[TUN_OUT_MAX];
	size_t tun_out_count;
};

/* --- device.c --- */
int device_init(struct device *dev, const char *ifname);
void device_destroy(struct device *dev);
bool device_set_private_key(struct device *dev, const uint8_t *key);	/* NULL clears */
/* Binds (or rebinds) the UDP socket to port (0 = random). -errno. */
int device_bind(struct device *dev, uint16_t port);
void device_set_fwmark(struct device *dev, uint32_t fwmark);
struct peer *device_peer_lookup(struct device *dev, const uint8_t pub[KEY_LEN]);
struct peer *device_peer_create(struct device *dev, const uint8_t pub[KEY_LEN]);
void device_peer_remove(struct device *dev, struct peer *peer);
void device_peers_remove_all(struct device *dev);
/* Applies a parsed config (used by vpnd up); err gets a message on failure. */
int device_apply_config(struct device *dev, const struct config *cfg, char *err, size_t err_len);
bool device_under_load(struct device *dev, uint64_t now);
void device_count_drop(struct device *dev, enum drop_reason r);
uint64_t now_monotonic_ns(void);

/* --- index.c --- */
int index_table_init(struct index_table *t);
void index_table_free(struct index_table *t);
/* Picks a fresh random index for peer/kp and inserts it. 0 on ENOMEM. */
uint32_t index_table_add(struct index_table *t, struct peer *peer, struct keypair *kp);
void index_table_set(struct index_table *t, uint32_t index, struct keypair *kp);
struct index_entry *index_table_find(struct index_table *t, uint32_t index);
void index_table_remove(struct index_table *t, uint32_t index);

/* --- peer.c --- */
void peer_set_persistent_keepalive(struct peer *peer, uint16_t seconds);
void peer_set_endpoint(struct peer *peer, const union sockaddr_any *ep);
/* Installs a keypair freshly derived from a handshake (peer takes kp). */
void peer_install_keypair(struct peer *peer, struct keypair *kp);
/* kp (the peer's next) was confirmed by its first packet: promote it. */
void peer_keypair_confirmed(struct peer *peer, struct keypair *kp);
void peer_zero_keys(struct peer *peer);
void peer_drop_handshake_index(struct peer *peer);
/* The current keypair if it may send now, else NULL. */
struct keypair *peer_sendable_keypair(struct peer *peer, uint64_t now);
bool peer_stage(struct peer *peer, const uint8_t *pkt, size_t len);
void peer_staged_clear(struct peer *peer);
void peer_timers_changed(struct peer *peer);

/* --- send.c --- */
void send_initiation(struct peer *peer, bool is_retry);
void send_keepalive(struct peer *peer);
void send_staged(struct peer *peer);
void send_from_tun(struct device *dev, uint8_t *pkt, size_t len, uint64_t now);
/* PeerToPeer = direct: a decrypted packet from one peer, sent on to peer
 * (copied into the send batch, or staged until it has a session). */
void send_forward(struct peer *peer, const uint8_t *pkt, size_t len, uint64_t now);
void send_flush(struct device *dev);
void send_raw(struct device *dev, const union sockaddr_any *dst, const void *buf, size_t len);
/* Queues a complete message (a cookie reply) into the send batch: it leaves
 * with the next sendmmsg, not in a system call of its own. */
void send_queue_raw(struct device *dev, const union sockaddr_any *dst, const void *buf,
		    size_t len);
void peer_run_timers(struct peer *peer, uint64_t now);

/* --- receive.c --- */
void receive_packet(struct device *dev, uint8_t *buf, size_t len,
		    const union sockaddr_any *src, uint64_t now);
void receive_flush(struct device *dev);
/* With a crypto pool: the messages of one recvmmsg batch go in order
 * through receive_batch_add, then receive_batch_end. Runs of transport
 * messages are checked here, decrypted in parallel, and delivered in
 * order; any other message ends the run and is handled on its own as
 * receive_packet does. */
void receive_batch_add(struct device *dev, uint8_t *buf, size_t len,
		       const union sockaddr_any *src, uint64_t now);
void receive_batch_end(struct device *dev, uint64_t now);

/* --- timer heap (peer.c) --- */
void timer_heap_update(struct device *dev, struct peer *peer);
void timer_heap_remove(struct device *dev, struct peer *peer);
uint64_t timer_heap_next(const struct device *dev);
void timer_heap_run(struct device *dev, uint64_t now);

#endif
