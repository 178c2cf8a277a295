/* Device life cycle: identity, UDP socket, peers, and applying a config. */
#include <errno.h>
#include <netinet/udp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vpnd/datapath/crypto_pool.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/hs_queue.h"
#include "vpnd/datapath/packet_io.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"

static const char *const drop_names[DROP_COUNT] = {
	[DROP_SHORT] = "short",
	[DROP_BAD_TYPE] = "bad_type",
	[DROP_MAC1] = "bad_mac1",
	[DROP_COOKIE_SENT] = "cookie_sent",
	[DROP_RATELIMIT] = "ratelimited",
	[DROP_COOKIE_RATELIMIT] = "cookie_ratelimited",
	[DROP_DH_BUDGET] = "dh_budget",
	[DROP_HS_QUEUE_FULL] = "hs_queue_full",
	[DROP_HANDSHAKE] = "bad_handshake",
	[DROP_HS_STALE] = "hs_stale",
	[DROP_UNKNOWN_INDEX] = "unknown_index",
	[DROP_DECRYPT] = "bad_decrypt",
	[DROP_REPLAY] = "replay",
	[DROP_EXPIRED] = "key_expired",
	[DROP_INNER_SOURCE] = "bad_inner_source",
	[DROP_INNER_INVALID] = "bad_inner_packet",
	[DROP_NO_ROUTE] = "no_route",
	[DROP_NO_ENDPOINT] = "no_endpoint",
	[DROP_QUEUE_FULL] = "queue_full",
	[DROP_P2P_REFUSED] = "peer_to_peer_refused",
	[DROP_TOO_BIG] = "too_big",
};

const char *drop_reason_name(enum drop_reason r)
{
	return r < DROP_COUNT ? drop_names[r] : "?";
}

void device_count_drop(struct device *dev, enum drop_reason r)
{
	dev->drops[r]++;
}

int device_init(struct device *dev, const char *ifname)
{
	memset(dev, 0, sizeof(*dev));
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", ifname);
	dev->mtu = DEFAULT_TUNNEL_MTU;
	dev->tun_fd = dev->udp_fd = -1;
	dev->n_buckets = 1024;
	dev->peer_buckets = calloc(dev->n_buckets, sizeof(*dev->peer_buckets));
	dev->aips = allowedips_new();
	dev->ratelimiter = ratelimiter_new(0);
	dev->cookie_limiter = ratelimiter_new_rate(0, COOKIE_REPLIES_PER_SECOND, 1);
	dev->dh_limiter = ratelimiter_new_interval(0, REKEY_TIMEOUT, 2);
	hs_budget_init(&dev->dh_budget, 0);
	dev->rx_bufs = malloc(BATCH_MAX * sizeof(*dev->rx_bufs));
	dev->tx_bufs = malloc(BATCH_MAX * sizeof(*dev->tx_bufs));
	dev->tun_read_buf = malloc(PACKET_BUF_LEN);
	dev->rx_run = calloc(RX_RUN_MAX, sizeof(*dev->rx_run));
	dev->local = wg_secure_alloc(sizeof(*dev->local));
	/* One arena for both kinds of secret object: slots of the larger. */
	dev->secrets = wg_arena_new(sizeof(struct keypair) > sizeof(struct peer_handshake) ?
				    sizeof(struct keypair) : sizeof(struct peer_handshake));
	if (!dev->secrets || !dev->peer_buckets || !dev->aips || !dev->ratelimiter ||
	    !dev->cookie_limiter || !dev->dh_limiter || !dev->rx_bufs ||
	    !dev->tx_bufs || !dev->tun_read_buf || !dev->rx_run || !dev->local ||
	    index_table_init(&dev->index) < 0) {
		device_destroy(dev);
		return -ENOMEM;
	}
	return 0;
}

struct keypair *device_keypair_new(struct device *dev)
{
	return wg_arena_alloc(dev->secrets);
}

void device_keypair_free(struct device *dev, struct keypair *kp)
{
	if (kp)
		keypair_wipe(kp);
	wg_arena_free(dev->secrets, kp);
}

void device_destroy(struct device *dev)
{
	/* First: the handshake thread uses the limiters and the checker. */
	hs_queue_stop(dev->hsq);
	dev->hsq = NULL;
	crypto_pool_free(dev->pool);
	dev->pool = NULL;
	device_peers_remove_all(dev);
	if (dev->udp_fd >= 0)
		close(dev->udp_fd);
	allowedips_free(dev->aips);
	ratelimiter_free(dev->ratelimiter);
	ratelimiter_free(dev->cookie_limiter);
	ratelimiter_free(dev->dh_limiter);
	index_table_free(&dev->index);
	free(dev->peer_buckets);
	free(dev->heap);
	free(dev->rx_bufs);
	free(dev->tx_bufs);
	free(dev->tun_read_buf);
	if (dev->rx_run)
		wg_secure_wipe(dev->rx_run, RX_RUN_MAX * sizeof(*dev->rx_run));
	free(dev->rx_run);
	dev->rx_run = NULL;
	wg_secure_wipe(dev->tx_seal, sizeof(dev->tx_seal));
	if (dev->local)
		noise_local_clear(dev->local);
	wg_secure_free(dev->local);
	dev->local = NULL;
	/* After the peers: every keypair is back in it (and wiped). */
	wg_arena_destroy(dev->secrets);
	dev->secrets = NULL;
	cookie_checker_wipe(&dev->cookie_checker);
	dev->peer_buckets = NULL;
	dev->udp_fd = -1;
}

bool device_set_private_key(struct device *dev, const uint8_t *key)
{
	uint8_t clamped[KEY_LEN];
	bool same, ok;

	/* The key we already have changes nothing, as in wireguard-go and the
	 * kernel: `wg syncconf` always sends it, and must not drop sessions. */
	if (!key) {
		same = !dev->local->has_identity;
	} else {
		memcpy(clamped, key, KEY_LEN);
		wg_key_clamp(clamped);
		same = dev->local->has_identity && wg_ct_equal(clamped, dev->local->private_key, KEY_LEN);
		wg_secure_wipe(clamped, sizeof(clamped));
	}
	if (same)
		return true;

	/* The handshake thread copies the identity and the peers' views, and
	 * reads the checker: none of them while they change. */
	hs_queue_lock(dev->hsq);
	ok = noise_local_set(dev->local, key);
	dev->local_gen++;
	if (dev->local->has_identity)
		cookie_checker_init(&dev->cookie_checker, dev->local->public_key);
	else
		cookie_checker_wipe(&dev->cookie_checker);
	for (struct peer *p = dev->peers_first; p; p = p->next) {
		noise_handshake_set_local(p->hs, dev->local);
		p->hs_gen = ++dev->hs_gen_next;
	}
	hs_queue_unlock(dev->hsq);
	/* A new identity invalidates every session and handshake; a peer with
	 * our own public key would be talking to itself: drop it. */
	for (struct peer *p = dev->peers_first, *n; p; p = n) {
		n = p->next;
		if (dev->local->has_identity &&
		    wg_ct_equal(p->public_key, dev->local->public_key, KEY_LEN)) {
			device_peer_remove(dev, p);
			continue;
		}
		peer_expire_sending_keys(p);
	}
	return ok;
}

static int open_udp(int family, uint16_t port, uint32_t fwmark)
{
	union sockaddr_any a = { 0 };
	int fd, one = 1, zero = 0, size = 4 << 20;
	socklen_t alen;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(port);
		alen = sizeof(a.in6);
	} else {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons(port);
		alen = sizeof(a.in);
	}
	/* No SO_REUSEADDR: with it any local user could bind the same port
	 * and take the tunnel's datagrams, and a second interface on the same
	 * ListenPort would silently take over the first one's. A port in use
	 * is EADDRINUSE, reported as such. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	if (fwmark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark));
	/* Replies leave from the address the peer wrote to: refused only
	 * by a kernel without IP_PKTINFO, where routing picks as before. */
	(void)udp_enable_pktinfo(fd, family);
	/* Coalesced receive; harmless where the kernel lacks it. */
	setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	/* Outer DF cleared, as the kernel's WireGuard (udp_tunnel_xmit_skb with
	 * df 0): a link with a smaller MTU on the way fragments the outer
	 * packet instead of dropping it; the inner packet's path MTU is the
	 * inner sender's business. (On an IPv6 socket SOL_IP still governs
	 * the IPv4-mapped traffic.) */
	setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &(int){ IP_PMTUDISC_DONT }, sizeof(int));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &(int){ IPV6_PMTUDISC_DONT },
			   sizeof(int));
	if (bind(fd, &a.sa, alen) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int device_open_udp(uint16_t port, uint32_t fwmark, int *family)
{
	int fd;

	*family = AF_INET6;
	fd = open_udp(*family, port, fwmark);
	if (fd == -EAFNOSUPPORT) {	/* no IPv6 in this kernel: IPv4 only */
		*family = AF_INET;
		fd = open_udp(*family, port, fwmark);
	}
	return fd;
}

int device_bind(struct device *dev, uint16_t port)
{
	union sockaddr_any a;
	socklen_t alen = sizeof(a);
	int family, fd;

	if (dev->udp_ops)
		fd = dev->udp_ops->open(dev->udp_ops_ctx, port, dev->fwmark, &family);
	else
		fd = device_open_udp(port, dev->fwmark, &family);
	if (fd < 0)
		return fd;
	if (dev->udp_fd >= 0)
		close(dev->udp_fd);
	dev->udp_fd = fd;
	dev->udp_family = family;
	/* Tried on the first batch; send_flush turns it off if refused. */
	dev->udp_gso = !getenv("VPND_NO_GSO");
	dev->listen_port = port;
	getsockname(fd, &a.sa, &alen);
	dev->bound_port = ntohs(family == AF_INET6 ? a.in6.sin6_port : a.in.sin_port);
	return 0;
}

int device_set_fwmark(struct device *dev, uint32_t fwmark)
{
	int ret = 0;

	if (dev->udp_fd >= 0 && dev->udp_ops)
		ret = dev->udp_ops->set_mark(dev->udp_ops_ctx, dev->udp_fd, fwmark);
	else if (dev->udp_fd >= 0 &&
		 setsockopt(dev->udp_fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
		ret = -errno;
	if (!ret)
		dev->fwmark = fwmark;
	return ret;
}

static size_t bucket_of(const struct device *dev, const uint8_t pub[KEY_LEN])
{
	uint64_t h;

	/* Public keys are uniformly random: their bytes are a good hash. */
	memcpy(&h, pub, sizeof(h));
	return h & (dev->n_buckets - 1);
}

struct peer *device_peer_lookup(struct device *dev, const uint8_t pub[KEY_LEN])
{
	for (struct peer *p = dev->peer_buckets[bucket_of(dev, pub)]; p; p = p->hash_next)
		if (wg_ct_equal(p->public_key, pub, KEY_LEN))
			return p;
	return NULL;
}

static void rehash(struct device *dev)
{
	size_t n = dev->n_buckets * 4;
	struct peer **b = calloc(n, sizeof(*b));

	if (!b)
		return;	/* longer chains, still correct */
	free(dev->peer_buckets);
	dev->peer_buckets = b;
	dev->n_buckets = n;
	for (struct peer *p = dev->peers_first; p; p = p->next) {
		size_t i = bucket_of(dev, p->public_key);

		p->hash_next = b[i];
		b[i] = p;
	}
}

struct peer *device_peer_create(struct device *dev, const uint8_t pub[KEY_LEN])
{
	struct peer_handshake *ph;
	struct peer *peer;
	size_t i;

	if (dev->local->has_identity && wg_ct_equal(pub, dev->local->public_key, KEY_LEN))
		return NULL;
	peer = calloc(1, sizeof(*peer));
	if (!peer)
		return NULL;
	ph = wg_arena_alloc(dev->secrets);
	if (!ph) {
		free(peer);
		return NULL;
	}
	ph->peer = peer;
	peer->hs = &ph->hs;
	peer->dev = dev;
	memcpy(peer->public_key, pub, KEY_LEN);
	noise_handshake_init(peer->hs, dev->local, pub, NULL);
	cookie_maker_init(&peer->cookie, pub);
	timers_init(&peer->timers, 0);

	/* The handshake thread walks the hash chains (hs_queue.h). */
	hs_queue_lock(dev->hsq);
	peer->hs_gen = ++dev->hs_gen_next;
	if (dev->n_peers >= dev->n_buckets)
		rehash(dev);
	i = bucket_of(dev, pub);
	peer->hash_next = dev->peer_buckets[i];
	dev->peer_buckets[i] = peer;
	peer->prev = dev->peers_last;
	if (dev->peers_last)
		dev->peers_last->next = peer;
	else
		dev->peers_first = peer;
	dev->peers_last = peer;
	dev->n_peers++;
	hs_queue_unlock(dev->hsq);
	return peer;
}

void device_peer_remove(struct device *dev, struct peer *peer)
{
	struct peer **pp = &dev->peer_buckets[bucket_of(dev, peer->public_key)];

	/* Out of the hash under the lock: then the handshake thread cannot
	 * reach it, and the loop drops any result computed for it (its key
	 * finds no peer, or a new one with another hs_gen). */
	hs_queue_lock(dev->hsq);
	while (*pp && *pp != peer)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = peer->hash_next;
	hs_queue_unlock(dev->hsq);
	if (peer->prev)
		peer->prev->next = peer->next;
	else
		dev->peers_first = peer->next;
	if (peer->next)
		peer->next->prev = peer->prev;
	else
		dev->peers_last = peer->prev;
	dev->n_peers--;

	allowedips_remove_owner(dev->aips, &peer->aips);
	timer_heap_remove(dev, peer);
	peer_zero_keys(peer);
	peer_staged_clear(peer);
	cookie_maker_wipe(&peer->cookie);
	wg_arena_free(dev->secrets, peer->hs);	/* wiped */
	wg_secure_wipe(peer, sizeof(*peer));
	free(peer);
}

void device_peer_set_psk(struct device *dev, struct peer *peer, const uint8_t *psk)
{
	static const uint8_t none[KEY_LEN];

	/* A config reload sets every peer's key again: the same key keeps
	 * the handshakes in flight. */
	if (wg_ct_equal(peer->hs->preshared_key, psk ? psk : none, KEY_LEN))
		return;
	hs_queue_lock(dev->hsq);
	noise_handshake_set_psk(peer->hs, psk);
	peer->hs_gen = ++dev->hs_gen_next;
	hs_queue_unlock(dev->hsq);
}

void device_peers_remove_all(struct device *dev)
{
	while (dev->peers_first)
		device_peer_remove(dev, dev->peers_first);
}

bool device_under_load(const struct device *dev, uint64_t now)
{
	return now < dev->under_load_until_ns;
}

void device_link_down(struct device *dev)
{
	dev->link_down = true;
	for (struct peer *p = dev->peers_first; p; p = p->next) {
		peer_staged_clear(p);
		timers_stop_all(&p->timers);
		peer_zero_keys(p);
		timers_handshake_sent_reset(&p->timers);
		peer_timers_changed(p);
	}
}

void device_link_up(struct device *dev)
{
	if (!dev->link_down)
		return;
	dev->link_down = false;
	for (struct peer *p = dev->peers_first; p; p = p->next) {
		if (p->staged_count)
			send_staged(p);
		if (p->timers.persistent_keepalive_interval)
			send_keepalive(p);
	}
	send_flush(dev);
}

void device_set_mtu(struct device *dev, unsigned mtu)
{
	/* The TUN gives us nothing larger than its MTU; a value past
	 * MTU_MAX could only come from a confused event. */
	if (mtu && mtu <= MTU_MAX)
		dev->mtu = mtu;
}

bool device_load_peek(const struct device *dev, uint64_t now)
{
	if (dev->hsq)
		return hs_queue_under_load(dev->hsq, now);
	return now < dev->under_load_until_ns;
}

uint64_t device_drops(const struct device *dev, enum drop_reason r)
{
	return dev->drops[r] + (dev->hsq ? hs_queue_drops(dev->hsq, r) : 0);
}
