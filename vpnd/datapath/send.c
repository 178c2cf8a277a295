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
#include "vpnd/datapath/ecn.h"
#include "vpnd/datapath/icmp.h"
#include "vpnd/datapath/send.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"

#define UDP_GSO_MAX_SEGS  64
#define UDP_GSO_MAX_BYTES 65000

/* The handshake timers' jitter, drawn from a pool of random words
 * refilled 64 at a time: a ping-pong flow arms the new-handshake timer on
 * every packet it sends, and one getrandom() per packet was a system call
 * on the path of a lone packet. The pool is the event loop's alone; the
 * jitter needs no secrecy, and the modulo's bias (2^32 mod 334) is nil. */
static uint64_t jitter_ns(void)
{
	static uint32_t pool[64];
	static unsigned left;

	if (!left) {
		wg_random_bytes(pool, sizeof(pool));
		left = 64;
	}
	return (uint64_t)(pool[--left] % REKEY_TIMEOUT_JITTER_MS) * MSEC_NS;
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

/* The cmsg at cm that makes a datagram leave from src: IP_PKTINFO or
 * IPV6_PKTINFO with our address the peer wrote to and the interface it
 * came in on. The kernel's send4 routes with the source alone and drops
 * it when the route leaves by another interface; a socket cannot ask
 * that, so the interface is given, as wireguard-go does: a source whose
 * interface went down (its address kept) is refused (ENETUNREACH) and
 * forgotten, rather than used on another link. Returns the bytes used at
 * cm (CMSG_SPACE), 0 when no source is known. */
static size_t put_source_cmsg(struct cmsghdr *cm, const struct local_source *src)
{
	if (src->family == AF_INET) {
		struct in_pktinfo pi = { .ipi_ifindex = (int)src->ifindex,
					 .ipi_spec_dst = src->addr.v4 };

		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	if (src->family == AF_INET6) {
		struct in6_pktinfo pi = { .ipi6_addr = src->addr.v6, .ipi6_ifindex = src->ifindex };

		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	return 0;
}

/* What sendmsg answers when a cached source is no longer ours (the address
 * was removed or moved): the kernel's "source address no longer valid".
 * IPv4 says ENETUNREACH (no route from a foreign source), IPv6 EINVAL. */
static bool source_refused(int err)
{
	return err == EINVAL || err == ENETUNREACH || err == EADDRNOTAVAIL || err == ENODEV;
}

/* src (a source sendmsg refused) is forgotten everywhere: in the queued
 * messages and in every peer that would send from it. Rare (an address
 * went away), so the walk over the peers costs nothing that matters. */
static void forget_source(struct device *dev, const struct local_source *src)
{
	struct local_source gone = *src;	/* src may point into tx_dst */

	for (size_t i = 0; i < dev->tx_count; i++) {
		if (local_source_equal(&dev->tx_dst[i].src, &gone))
			memset(&dev->tx_dst[i].src, 0, sizeof(gone));
	}
	for (struct peer *p = dev->peers_first; p; p = p->next) {
		if (local_source_equal(&p->endpoint.src, &gone))
			peer_clear_endpoint_source(p);
	}
}

/* The cmsg at cm that sets the outer DSCP/ECN byte of one datagram to
 * dst: IP_TOS (also on our dual-stack socket, for IPv4) or IPV6_TCLASS. */
static size_t put_tos_cmsg(struct cmsghdr *cm, const union sockaddr_any *dst, int tos)
{
	bool v4 = dst->sa.sa_family == AF_INET;

	cm->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
	cm->cmsg_type = v4 ? IP_TOS : IPV6_TCLASS;
	cm->cmsg_len = CMSG_LEN(sizeof(tos));
	memcpy(CMSG_DATA(cm), &tos, sizeof(tos));
	return CMSG_SPACE(sizeof(tos));
}

/* One datagram to dst, from its source if one is known, with the outer
 * TOS/traffic class tos (0: the socket's default). -errno. */
static int send_one(struct device *dev, const struct endpoint *dst, const void *buf, size_t len,
		    int tos)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg;
	union sockaddr_any a;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr h = { .msg_name = &a, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cmsg.buf };

	h.msg_namelen = socket_address(dev, &dst->addr, &a);
	h.msg_controllen = put_source_cmsg(&cmsg.align, &dst->src);
	if (tos)
		h.msg_controllen += put_tos_cmsg((struct cmsghdr *)(cmsg.buf + h.msg_controllen),
						 &dst->addr, tos);
	if (!h.msg_controllen)
		h.msg_control = NULL;
	return sendmsg(dev->udp_fd, &h, 0) < 0 ? -errno : 0;
}

void send_handshake_message(struct peer *peer, const void *buf, size_t len)
{
	struct device *dev = peer->dev;
	int err;

	if (dev->udp_fd < 0)
		return;
	/* AF41, as the kernel's wg_socket_send_buffer_to_peer with
	 * HANDSHAKE_DSCP: handshakes ahead of bulk traffic in queues that
	 * honour DSCP. */
	err = send_one(dev, &peer->endpoint, buf, len, HANDSHAKE_DSCP);
	if (err && source_refused(-err) && peer->endpoint.src.family) {
		peer_clear_endpoint_source(peer);
		(void)send_one(dev, &peer->endpoint, buf, len, HANDSHAKE_DSCP);
	}
}

static bool same_endpoint(const struct endpoint *a, const struct endpoint *b)
{
	if (!local_source_equal(&a->src, &b->src) || a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.in.sin_port == b->addr.in.sin_port &&
		       a->addr.in.sin_addr.s_addr == b->addr.in.sin_addr.s_addr;
	return a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
	       !memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr,
		       sizeof(a->addr.in6.sin6_addr));
}

/* Length of the run of queued messages from i that one UDP GSO send can
 * carry: same destination and outer TOS (one cmsg for all), all the size
 * of the first except a shorter last one, at most UDP_GSO_MAX_SEGS and
 * 64 KiB. */
static size_t gso_run(const struct device *dev, size_t i)
{
	size_t n = 1, total = dev->tx_lens[i];

	if (!dev->udp_gso)
		return 1;
	while (i + n < dev->tx_count && n < UDP_GSO_MAX_SEGS &&
	       total + dev->tx_lens[i + n] <= UDP_GSO_MAX_BYTES &&
	       dev->tx_lens[i + n] <= dev->tx_lens[i] && dev->tx_tos[i + n] == dev->tx_tos[i] &&
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
	union {	/* UDP_SEGMENT, a source and a TOS */
		char buf[CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg[BATCH_MAX];
};

/* The UDP_SEGMENT cmsg at cm: the batch is cut into seg-byte datagrams. */
static size_t put_segment_cmsg(struct cmsghdr *cm, uint16_t seg)
{
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	return CMSG_SPACE(sizeof(seg));
}

/* The cmsgs of the message carrying the n queued packets from i (each
 * CMSG_SPACE long, so the next starts aligned). Returns their length. */
static size_t build_cmsgs(char *buf, const struct device *dev, size_t i, size_t n)
{
	size_t used = 0;

	if (n > 1)
		used += put_segment_cmsg((struct cmsghdr *)buf, (uint16_t)dev->tx_lens[i]);
	used += put_source_cmsg((struct cmsghdr *)(buf + used), &dev->tx_dst[i].src);
	if (dev->tx_tos[i])	/* 0 is the socket's own */
		used += put_tos_cmsg((struct cmsghdr *)(buf + used), &dev->tx_dst[i].addr,
				     dev->tx_tos[i]);
	return used;
}

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
		h->msg_namelen = socket_address(dev, &dev->tx_dst[i].addr, &c->addrs[m]);
		h->msg_controllen = build_cmsgs(c->cmsg[m].buf, dev, i, n);
		h->msg_control = h->msg_controllen ? c->cmsg[m].buf : NULL;
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

enum send_error_action {
	SEND_REBUILT,	/* the rest of the batch was rebuilt: send it from the start */
	SEND_SKIP_ONE,	/* the network would have dropped it: skip one message */
	SEND_AGAIN,	/* interrupted: the same call again */
};

/* sendmmsg failed (err) on message done of c. A refused source is
 * forgotten first (it may be why a GSO send failed too); a GSO run that
 * cannot be segmented is sent again one packet per message. What was sent
 * stays sent: no duplicates. */
static enum send_error_action on_send_error(struct device *dev, struct flush_ctx *c,
					    unsigned done, int err, unsigned *count)
{
	size_t first = c->first_pkt[done];

	if (err == EINTR)
		return SEND_AGAIN;
	if (source_refused(err) && dev->tx_dst[first].src.family) {
		forget_source(dev, &dev->tx_dst[first].src);
		*count = build_messages(dev, c, first);
		return SEND_REBUILT;
	}
	if ((err == EIO || err == EINVAL) && c->msgs[done].msg_hdr.msg_iovlen > 1) {
		dev->udp_gso = false;	/* this route cannot segment */
		*count = build_messages(dev, c, first);
		return SEND_REBUILT;
	}
	return SEND_SKIP_ONE;	/* EAGAIN (socket buffer full) or a dead route */
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

		if (n >= 0) {
			done += (unsigned)n;
			continue;
		}
		switch (on_send_error(dev, &c, done, errno, &count)) {
		case SEND_REBUILT:
			done = 0;
			break;
		case SEND_SKIP_ONE:
			done++;
			break;
		case SEND_AGAIN:
			break;
		}
	}
	dev->tx_count = 0;
}

void send_queue_raw(struct device *dev, const struct endpoint *dst, const void *buf,
		    size_t len)
{
	size_t slot = dev->tx_count;

	memcpy(dev->tx_bufs[slot], buf, len);
	dev->tx_lens[slot] = len;
	dev->tx_dst[slot] = *dst;
	dev->tx_tos[slot] = 0;
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

	if (!timers_initiation_allowed(&peer->timers, now, is_retry) || dev->link_down)
		return;
	if (!dev->local->has_identity || !peer->has_endpoint)
		return;
	peer_drop_handshake_index(peer);
	index = index_table_add(&dev->index, peer, NULL);
	if (!index)
		return;
	if (noise_create_initiation(peer->hs, dev->local, &msg, index, wg_wall_clock_ns()) !=
	    NOISE_OK) {
		index_table_remove(&dev->index, index);
		peer->hs->local_index = 0;
		return;
	}
	cookie_add_macs(&peer->cookie, (uint8_t *)&msg, sizeof(msg), now);
	timers_handshake_sent(&peer->timers, now);
	peer->handshakes_sent++;
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	timers_any_authenticated_packet_sent(&peer->timers);
	send_handshake_message(peer, &msg, sizeof(msg));
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
	/* Read before the packet is encrypted in place; a keepalive (len 0)
	 * gets 0, as the kernel's (no inner header). */
	uint8_t tos = ecn_encapsulate(dev->tx_bufs[slot] + MSG_TRANSPORT_HEADER_LEN, len);

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
	dev->tx_tos[slot] = tos;
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
		size_t len = peer_staged_pop(peer, dev->tx_bufs[dev->tx_count] +
						   MSG_TRANSPORT_HEADER_LEN);

		queue_encrypted(peer, kp, len, now);
	}
	maybe_rekey_on_send(peer, kp, now);
}

void send_keepalive(struct peer *peer)
{
	struct keypair *kp;
	uint64_t now = now_monotonic_ns();

	if (peer->dev->link_down)
		return;
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
		icmp_send_unreachable(dev, pkt, len, now);
		return;
	}
	peer = (struct peer *)((char *)owner - offsetof(struct peer, aips));
	if (!peer->has_endpoint) {
		/* The local sender learns now, as from the kernel's wg_xmit
		 * (a forwarded packet's sender is a peer: it gets nothing). */
		device_count_drop(dev, DROP_NO_ENDPOINT);
		icmp_send_unreachable(dev, pkt, len, now);
		return;
	}
	send_to_peer(peer, pkt, len, now);
}

/* PeerToPeer = direct: the packet lies in a receive buffer; it moves to the
 * send batch's next slot and takes the same way as a packet from the TUN. */
void send_forward(struct peer *peer, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct device *dev = peer->dev;
	uint8_t *slot = dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN;

	/* The sender's MTU may be larger than ours: what we would not take
	 * from our own TUN we do not forward either (and a 64 KiB packet
	 * must not be staged 128 times per offline peer). */
	if (len > dev->mtu) {
		device_count_drop(dev, DROP_TOO_BIG);
		return;
	}
	memcpy(slot, pkt, len);
	send_to_peer(peer, slot, len, now);
}
