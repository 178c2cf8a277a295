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

#include "crypto/arena.h"
#include "handshake/cookie.h"
#include "handshake/hsbudget.h"
#include "handshake/noise.h"
#include "handshake/ratelimit.h"
#include "handshake/transport.h"
#include "tun/offload.h"
#include "vpnd/datapath/allowedips.h"
#include "vpnd/common/net.h"
#include "vpnd/common/p2p.h"
#include "vpnd/datapath/index.h"
#include "vpnd/datapath/receive.h"
#include "vpnd/datapath/send.h"

#define BATCH_MAX       128	/* packets per recvmmsg/sendmmsg/TUN batch */
#define PACKET_BUF_LEN  (65536 + 64)
#define TUN_OUT_MAX     1024
#define TX_BUF_LEN      (MTU_MAX + 64)	/* one transport message */
#define TUN_RING_BUFS   64	/* io_uring TUN read buffers (tun_ring.h) */
#define MTU_MAX         65535
#define COOKIE_REPLIES_PER_SECOND 4	/* per source: one per 250 ms */

struct crypto_pool;
struct hs_queue;
struct peer;
struct tun_ring;

/* Why a packet was dropped; counted per device, shown by vpnd show. */
enum drop_reason {
	DROP_SHORT,		/* too short or wrong size for its type */
	DROP_BAD_TYPE,		/* unknown message type */
	DROP_MAC1,		/* handshake with a wrong mac1 */
	DROP_COOKIE_SENT,	/* under load without mac2: answered with a cookie */
	DROP_RATELIMIT,		/* handshake over the per-source rate */
	DROP_COOKIE_RATELIMIT,	/* cookie reply owed, but one went to that source just now */
	DROP_DH_BUDGET,		/* handshake over the global DH budget per second */
	DROP_HS_QUEUE_FULL,	/* handshake message, handshake queue full */
	DROP_HANDSHAKE,		/* handshake that failed Noise checks */
	DROP_HS_STALE,		/* handshake computed on the thread for a peer (or key)
				 * that changed before the loop could commit it */
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
	DROP_TOO_BIG,		/* peer to another peer, larger than our MTU */
	DROP_COUNT,
};

const char *drop_reason_name(enum drop_reason r);

struct device;

struct device {
	char ifname[IFNAMSIZ];
	unsigned ifindex;
	unsigned mtu;
	struct noise_local *local;	/* guarded, locked memory (wg_secure_alloc) */
	struct cookie_checker cookie_checker;
	struct ratelimiter *ratelimiter;
	uint64_t ratelimiter_gc_ns;	/* last ratelimiter_gc (about once a second) */
	/* At most one cookie reply per source (IPv4 address, IPv6 /64) per
	 * COOKIE_REPLY_INTERVAL: the server must not be a reflector. */
	struct ratelimiter *cookie_limiter;
	/* Under load: one DH per source per REKEY_TIMEOUT (burst 2). */
	struct ratelimiter *dh_limiter;
	struct hs_budget dh_budget;	/* DHs per second, all sources together */
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

	/* Keypairs live here (arena.h: never dumped, locked where allowed,
	 * wiped per object): device_keypair_new/_free. */
	struct wg_arena *secrets;
	int tun_fd, udp_fd, udp_family;
	bool link_down;			/* administratively down: no I/O, no timers */
	/* Who makes UDP sockets and sets their mark (both need CAP_NET_ADMIN):
	 * NULL: this process (root, before the fork; unit tests); in the
	 * worker, the root monitor (vpnd/daemon/broker), which passes the
	 * socket over. */
	const struct udp_socket_ops *udp_ops;
	void *udp_ops_ctx;
	bool tun_vnet_hdr;		/* TUN packets carry a virtio_net_hdr */
	unsigned tun_offloads;		/* TUN_OFF_* the kernel accepted (GSO writes) */
	unsigned tun_last_reads;	/* packets the last TUN wake-up brought */
	/* Reading the TUN right after writing to it (packet_io.h):
	 * tun_written is set by receive.c when a UDP turn wrote to the TUN;
	 * tun_answer_skip counts the writing turns to let pass before the
	 * next try (after a try found nothing); tun_answer_reading marks a
	 * try. */
	bool tun_written, tun_answer_reading;
	unsigned tun_answer_skip;
	bool udp_gso;			/* UDP_SEGMENT works on udp_fd */
	bool udp_gro;			/* UDP_GRO enabled on udp_fd */
	uint8_t *tun_read_buf;		/* one TUN super-packet (vnet_hdr mode) */
	/* Batched TUN reads (tun/tun_ring.h), or NULL: one read() per
	 * packet. Opened and closed by the daemon's worker (before its
	 * seccomp filter, and before the TUN fd is closed). */
	struct tun_ring *tun_ring;

	/* Under load before this time (monotonic ns): set for HSLOAD_HOLD_NS
	 * when the DH budget runs out (receive_handshake_gate); the queue's
	 * own rule (hs_queue.h) adds to it. */
	uint64_t under_load_until_ns;

	uint64_t drops[DROP_COUNT];
	size_t staged_bytes;		/* all peers' staged packets (peer.c) */
	unsigned icmp_tokens;		/* icmp.c's rate limit */
	uint64_t icmp_last_ns;
	uint64_t icmp_sent;		/* destination-unreachable errors written */
	/* Datagrams whose control data the kernel cut (MSG_CTRUNC): their
	 * source for replies or their DS field may be missing. Zero unless
	 * the receive headers are set up wrong. */
	uint64_t rx_cmsg_truncated;
	uint64_t cookie_replies_sent;
	uint64_t handshakes_answered;

	/* Batch buffers: no allocation on the packet path. */
	uint8_t (*rx_bufs)[PACKET_BUF_LEN];
	uint8_t (*tx_bufs)[TX_BUF_LEN];
	size_t tx_lens[BATCH_MAX];
	struct endpoint tx_dst[BATCH_MAX];	/* and the source to send from */
	uint8_t tx_tos[BATCH_MAX];		/* outer TOS/traffic class (ecn.h) */
	size_t tx_count;
	struct tx_seal tx_seal[BATCH_MAX];

	/* AEAD threads (crypto_pool.h); NULL: everything on the event loop,
	 * each message encrypted when queued and decrypted when received. */
	struct crypto_pool *pool;
	/* The handshake queue and thread (hs_queue.h); NULL: handshakes on
	 * the event loop. Under the queue's gate lock (hs_queue_lock) the
	 * thread uses cookie_checker, ratelimiter, cookie_limiter,
	 * dh_limiter, dh_budget, ratelimiter_gc_ns and the load window
	 * (device_under_load), and copies what a DH needs: *local with
	 * local_gen, and through the peer hash (peer_buckets, n_buckets,
	 * each peer's hash_next) a peer's noise_peer_view and hs_gen. The
	 * loop writes all of these only under that lock (device.c;
	 * receive.c for the replay timestamp), and reads them freely: the
	 * thread never writes them. Nothing else of the device. */
	struct hs_queue *hsq;
	/* Generations, for the loop to know that what the thread computed is
	 * still for the same thing: local_gen moves when the private key
	 * changes; each peer's hs_gen takes the next hs_gen_next when the
	 * peer is made, its PSK or our key changes. */
	uint64_t local_gen, hs_gen_next;
	struct rx_job *rx_run;		/* RX_RUN_MAX entries */
	size_t rx_run_len, rx_run_bytes;

	/* Decrypted packets for the TUN, pointing into rx_bufs: written (and
	 * merged) before rx_bufs are reused. */
	struct tun_pkt tun_out[TUN_OUT_MAX];
	size_t tun_out_count;
};

/* How the device gets its UDP socket. open: a bound, non-blocking socket
 * (IPv6 dual-stack, else IPv4; family set) or -errno. set_mark: SO_MARK on
 * fd, 0 or -errno. */
struct udp_socket_ops {
	int (*open)(void *ctx, uint16_t port, uint32_t fwmark, int *family);
	int (*set_mark)(void *ctx, int fd, uint32_t fwmark);
};

/* The UDP socket as the device wants it (buffers, mark, GRO, dual-stack),
 * bound to port: an fd, or -errno. Needs CAP_NET_ADMIN (buffers, mark):
 * the monitor calls it for the worker. */
int device_open_udp(uint16_t port, uint32_t fwmark, int *family);

int device_init(struct device *dev, const char *ifname);
/* A zeroed keypair from the device's secret arena, or NULL; freed (wiped)
 * with device_keypair_free, which takes NULL. */
struct keypair *device_keypair_new(struct device *dev);
void device_keypair_free(struct device *dev, struct keypair *kp);
void device_destroy(struct device *dev);
bool device_set_private_key(struct device *dev, const uint8_t *key);	/* NULL clears */
/* Binds (or rebinds) the UDP socket to port (0 = random). -errno. */
int device_bind(struct device *dev, uint16_t port);
/* Sets the mark on the UDP socket (through udp_ops if set): 0 or -errno. */
int device_set_fwmark(struct device *dev, uint32_t fwmark);
struct peer *device_peer_lookup(struct device *dev, const uint8_t pub[KEY_LEN]);
struct peer *device_peer_create(struct device *dev, const uint8_t pub[KEY_LEN]);
void device_peer_remove(struct device *dev, struct peer *peer);
/* Sets (NULL clears) a peer's preshared key; a different key makes a
 * handshake computed with the old one stale (hs_gen). */
void device_peer_set_psk(struct device *dev, struct peer *peer, const uint8_t *psk);
void device_peers_remove_all(struct device *dev);
/* Under load by the DH-budget rule (see under_load_until_ns). */
bool device_under_load(const struct device *dev, uint64_t now);
/* The interface went administratively down (the kernel's wg_stop): queued
 * packets, timers, handshakes and keys of every peer are dropped, and
 * nothing is sent or received until device_link_up (the kernel closes
 * its sockets). */
void device_link_down(struct device *dev);
/* Up again (the kernel's wg_open): queued packets go out, and peers with a
 * persistent keepalive send one (which starts a handshake). */
void device_link_up(struct device *dev);
/* The tunnel MTU changed: padding follows it (0 or absurd: ignored). */
void device_set_mtu(struct device *dev, unsigned mtu);
/* The same decision without counting a message. */
bool device_load_peek(const struct device *dev, uint64_t now);
/* A drop counter: the loop's plus the handshake thread's. */
uint64_t device_drops(const struct device *dev, enum drop_reason r);
void device_count_drop(struct device *dev, enum drop_reason r);

#endif
