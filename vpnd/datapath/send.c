/* The outbound path: TUN packets to their peer's session, handshake
 * initiations, keepalives, and the timers' actions. Transport messages are
 * encrypted in place in the device's batch buffers and leave in one
 * sendmmsg per batch; handshake messages leave at once. With a crypto pool
 * a queued message gets its counter, header and padding at once, and its
 * AEAD in send_flush, with the rest of the batch, across the pool. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/udp.h>

#include "vpnd/datapath/crypto_pool.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/send.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"

#define UDP_GSO_MAX_SEGS  64
#define UDP_GSO_MAX_BYTES 65000

static uint64_t jitter_ns(void)
{
	return (uint64_t)wg_random_uniform(REKEY_TIMEOUT_JITTER_MS) * MSEC_NS;
}

/* The socket is dual-stack IPv6 when it can be: IPv4 endpoints are sent
 * to as v4-mapped addresses. */
static socklen_t socket_address(const struct device *dev, const union sockaddr_any *ep,
				union sockaddr_any *out)
{
	if (ep->sa.sa_family == AF_INET && dev->udp_family == AF_INET6) {
		memset(out, 0, sizeof(*out));
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = ep->in.sin_port;
		out->in6.sin6_addr.s6_addr[10] = 0xff;
		out->in6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&out->in6.sin6_addr.s6_addr[12], &ep->in.sin_addr, 4);
		return sizeof(out->in6);
	}
	*out = *ep;
	return ep->sa.sa_family == AF_INET6 ? sizeof(out->in6) : sizeof(out->in);
}

void send_raw(struct device *dev, const union sockaddr_any *dst, const void *buf, size_t len)
{
	union sockaddr_any a;
	socklen_t alen = socket_address(dev, dst, &a);

	if (dev->udp_fd >= 0)
		(void)sendto(dev->udp_fd, buf, len, 0, &a.sa, alen);
}

static bool same_endpoint(const union sockaddr_any *a, const union sockaddr_any *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port &&
	       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr));
}

/* Length of the run of queued messages from i that one UDP GSO send can
 * carry: same destination, all the size of the first except a shorter
 * last one, at most UDP_GSO_MAX_SEGS and 64 KiB. */
static size_t gso_run(const struct device *dev, size_t i)
{
	size_t n = 1, total = dev->tx_lens[i];

	if (!dev->udp_gso)
		return 1;
	while (i + n < dev->tx_count && n < UDP_GSO_MAX_SEGS &&
	       total + dev->tx_lens[i + n] <= UDP_GSO_MAX_BYTES &&
	       dev->tx_lens[i + n] <= dev->tx_lens[i] &&
	       same_endpoint(&dev->tx_dst[i], &dev->tx_dst[i + n])) {
		total += dev->tx_lens[i + n];
		n++;
		if (dev->tx_lens[i + n - 1] < dev->tx_lens[i])
			break;	/* a shorter segment ends the run */
	}
	return n;
}

struct flush_ctx {
	struct mmsghdr msgs[BATCH_MAX];
	size_t first_pkt[BATCH_MAX];	/* the queued packet each message starts at */
	struct iovec iov[BATCH_MAX];
	union sockaddr_any addrs[BATCH_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cmsg[BATCH_MAX];
};

/* Builds one mmsghdr per GSO run (or per message without GSO), for the
 * queued packets from start on. */
static unsigned build_messages(struct device *dev, struct flush_ctx *c, size_t start)
{
	unsigned m = 0;

	for (size_t i = start; i < dev->tx_count; m++) {
		size_t n = gso_run(dev, i);
		struct msghdr *h = &c->msgs[m].msg_hdr;

		for (size_t k = 0; k < n; k++) {
			c->iov[i + k].iov_base = dev->tx_bufs[i + k];
			c->iov[i + k].iov_len = dev->tx_lens[i + k];
		}
		memset(&c->msgs[m], 0, sizeof(c->msgs[m]));
		c->first_pkt[m] = i;
		h->msg_iov = &c->iov[i];
		h->msg_iovlen = n;
		h->msg_name = &c->addrs[m];
		h->msg_namelen = socket_address(dev, &dev->tx_dst[i], &c->addrs[m]);
		if (n > 1) {
			struct cmsghdr *cm;
			uint16_t seg = (uint16_t)dev->tx_lens[i];

			h->msg_control = c->cmsg[m].buf;
			h->msg_controllen = sizeof(c->cmsg[m].buf);
			cm = CMSG_FIRSTHDR(h);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		}
		i += n;
	}
	return m;
}

static void seal_job(void *ctx, size_t i)
{
	struct device *dev = ctx;
	const struct tx_seal *t = &dev->tx_seal[i];

	if (t->pending)
		transport_encrypt_seal(dev->tx_bufs[i], dev->tx_lens[i], t->counter, t->key);
}

/* The deferred AEADs of the queued messages, across the pool; then the key
 * copies are wiped. */
static void seal_queued(struct device *dev)
{
	size_t bytes = 0, pending = 0;

	for (size_t i = 0; i < dev->tx_count; i++) {
		if (dev->tx_seal[i].pending) {
			bytes += dev->tx_lens[i];
			pending++;
		}
	}
	if (!pending)
		return;
	crypto_pool_run(dev->pool, seal_job, dev, dev->tx_count, bytes);
	for (size_t i = 0; i < dev->tx_count; i++) {
		if (dev->tx_seal[i].pending) {
			wg_secure_wipe(dev->tx_seal[i].key, KEY_LEN);
			dev->tx_seal[i].pending = false;
		}
	}
}

void send_flush(struct device *dev)
{
	static struct flush_ctx c;	/* one event loop: no sharing */
	unsigned count, done = 0;

	if (!dev->tx_count)
		return;
	seal_queued(dev);
	count = build_messages(dev, &c, 0);
	while (done < count) {
		int n = sendmmsg(dev->udp_fd, c.msgs + done, count - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EIO || errno == EINVAL) && c.msgs[done].msg_hdr.msg_iovlen > 1) {
				/* This route cannot segment: no GSO from now on, and
				 * the rest goes again one packet per message (what
				 * was sent stays sent: no duplicates). */
				dev->udp_gso = false;
				count = build_messages(dev, &c, c.first_pkt[done]);
				done = 0;
				continue;
			}
			/* EAGAIN (socket buffer full) or a dead route: skip one
			 * message, as the network would drop it. */
			n = 1;
		}
		done += (unsigned)n;
	}
	dev->tx_count = 0;
}

void send_queue_raw(struct device *dev, const union sockaddr_any *dst, const void *buf,
		    size_t len)
{
	size_t slot = dev->tx_count;

	memcpy(dev->tx_bufs[slot], buf, len);
	dev->tx_lens[slot] = len;
	dev->tx_dst[slot] = *dst;
	dev->tx_seal[slot].pending = false;	/* already complete */
	if (++dev->tx_count == BATCH_MAX)
		send_flush(dev);
}

void send_initiation(struct peer *peer, bool is_retry)
{
	struct device *dev = peer->dev;
	struct msg_initiation msg;
	uint64_t now = now_monotonic_ns();
	uint32_t index;

	if (!is_retry) {
		if (peer->last_initiation_sent_ns &&
		    now - peer->last_initiation_sent_ns < REKEY_TIMEOUT)
			return;
		timers_handshake_attempts_reset(&peer->timers);
	}
	if (!dev->local->has_identity || !peer->has_endpoint)
		return;
	peer_drop_handshake_index(peer);
	index = index_table_add(&dev->index, peer, NULL);
	if (!index)
		return;
	if (noise_create_initiation(&peer->hs, dev->local, &msg, index, wg_wall_clock_ns()) !=
	    NOISE_OK) {
		index_table_remove(&dev->index, index);
		peer->hs.local_index = 0;
		return;
	}
	cookie_add_macs(&peer->cookie, (uint8_t *)&msg, sizeof(msg), now);
	peer->last_initiation_sent_ns = now;
	peer->handshakes_sent++;
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	timers_any_authenticated_packet_sent(&peer->timers);
	send_raw(dev, &peer->endpoint, &msg, sizeof(msg));
	peer->tx_bytes += sizeof(msg);
	timers_handshake_initiated(&peer->timers, now, jitter_ns());
	peer_timers_changed(peer);
}

/* Encrypts the packet at slot tx_count (payload at offset 16) for peer and
 * queues it for the next sendmmsg. With a crypto pool the counter is taken
 * (in order) and the header and padding written now, and the AEAD waits
 * for send_flush. */
static void queue_encrypted(struct peer *peer, struct keypair *kp, size_t len, uint64_t now)
{
	struct device *dev = peer->dev;
	size_t slot = dev->tx_count, out_len;

	if (dev->pool) {
		struct tx_seal *t = &dev->tx_seal[slot];

		if (transport_encrypt_prepare(kp, dev->tx_bufs[slot], TX_BUF_LEN, len, dev->mtu,
					      now, &out_len, &t->counter) != TRANSPORT_OK)
			return;
		memcpy(t->key, kp->send_key, KEY_LEN);
		t->pending = true;
	} else if (transport_encrypt(kp, dev->tx_bufs[slot], TX_BUF_LEN, len, dev->mtu, now,
				     &out_len) != TRANSPORT_OK) {
		return;
	}
	dev->tx_lens[slot] = out_len;
	dev->tx_dst[slot] = peer->endpoint;
	dev->tx_count++;
	peer->tx_bytes += out_len;
	peer->tx_packets++;
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	timers_any_authenticated_packet_sent(&peer->timers);
	/* Jitter costs a getrandom(): draw it only when the timer arms. */
	if (len && !timers_pending(&peer->timers, TIMER_NEW_HANDSHAKE))
		timers_data_sent(&peer->timers, now, jitter_ns());
	peer_timers_changed(peer);
	if (dev->tx_count == BATCH_MAX)
		send_flush(dev);
}

/* Rekey before keys grow worn (either side) or old (the initiator), as
 * the kernel does after every send (whitepaper 6.2). */
static void maybe_rekey_on_send(struct peer *peer, const struct keypair *kp, uint64_t now)
{
	if (kp->send_counter > REKEY_AFTER_MESSAGES ||
	    (kp->is_initiator && now - kp->birth_ns > REKEY_AFTER_TIME))
		send_initiation(peer, false);
}

void send_staged(struct peer *peer)
{
	struct device *dev = peer->dev;
	uint64_t now = now_monotonic_ns();
	struct keypair *kp = peer_sendable_keypair(peer, now);

	if (!kp) {
		send_initiation(peer, false);
		return;
	}
	if (!peer->has_endpoint)
		return;
	while (peer->staged_count) {
		unsigned i = peer->staged_head;

		memcpy(dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN, peer->staged[i],
		       peer->staged_len[i]);
		peer_staged_free(peer, i);
		peer->staged_head = (i + 1) % STAGED_MAX;
		peer->staged_count--;
		queue_encrypted(peer, kp, peer->staged_len[i], now);
	}
	maybe_rekey_on_send(peer, kp, now);
}

void send_keepalive(struct peer *peer)
{
	struct keypair *kp;
	uint64_t now = now_monotonic_ns();

	if (peer->staged_count) {
		send_staged(peer);
		return;
	}
	kp = peer_sendable_keypair(peer, now);
	if (!kp || !peer->has_endpoint) {
		send_initiation(peer, false);
		return;
	}
	queue_encrypted(peer, kp, 0, now);
	maybe_rekey_on_send(peer, kp, now);
}

/* Inner destination of an IP packet; false if it is not a valid one. */
static bool inner_destination(const uint8_t *pkt, size_t len, int *family, const uint8_t **addr)
{
	if (len >= sizeof(struct ip) && pkt[0] >> 4 == 4) {
		*family = AF_INET;
		*addr = pkt + offsetof(struct ip, ip_dst);
		return true;
	}
	if (len >= sizeof(struct ip6_hdr) && pkt[0] >> 4 == 6) {
		*family = AF_INET6;
		*addr = pkt + offsetof(struct ip6_hdr, ip6_dst);
		return true;
	}
	return false;
}

/* pkt (an inner packet of len bytes) is at the send batch's next slot,
 * tx_bufs[tx_count] + MSG_TRANSPORT_HEADER_LEN: encrypted there in place, or
 * staged (copied) while peer has no session. */
static void send_to_peer(struct peer *peer, uint8_t *pkt, size_t len, uint64_t now)
{
	struct device *dev = peer->dev;
	struct keypair *kp = peer_sendable_keypair(peer, now);

	if (!kp || peer->staged_count || !peer->has_endpoint) {
		/* No session yet (or older packets wait): queue, keep order. */
		if (!peer->has_endpoint)
			device_count_drop(dev, DROP_NO_ENDPOINT);
		else if (peer_stage(peer, pkt, len))
			send_staged(peer);
		return;
	}
	queue_encrypted(peer, kp, len, now);
	maybe_rekey_on_send(peer, kp, now);
}

void send_from_tun(struct device *dev, uint8_t *pkt, size_t len, uint64_t now)
{
	struct allowedips_owner *owner;
	struct peer *peer;
	const uint8_t *dst;
	int family;

	if (!inner_destination(pkt, len, &family, &dst)) {
		device_count_drop(dev, DROP_INNER_INVALID);
		return;
	}
	owner = allowedips_lookup(dev->aips, family, dst);
	if (!owner) {
		device_count_drop(dev, DROP_NO_ROUTE);
		return;
	}
	peer = (struct peer *)((char *)owner - offsetof(struct peer, aips));
	send_to_peer(peer, pkt, len, now);
}

/* PeerToPeer = direct: the packet lies in a receive buffer; it moves to the
 * send batch's next slot and takes the same way as a packet from the TUN. */
void send_forward(struct peer *peer, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct device *dev = peer->dev;
	uint8_t *slot = dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN;

	if (len > MTU_MAX) {	/* an IPv6 payload length near 64 KiB */
		device_count_drop(dev, DROP_INNER_INVALID);
		return;
	}
	memcpy(slot, pkt, len);
	send_to_peer(peer, slot, len, now);
}
