/* Packet I/O of the event loop: TUN reads (one packet, or a TSO/USO
 * super-packet split into the send batch; a batch of them per
 * io_uring_enter with a tun_ring, else one read() each) and UDP reads
 * (recvmmsg batches, GRO-coalesced datagrams cut into messages), each
 * handed to send.c or receive.c, then the batches flushed. */
#include "vpnd/datapath/packet_io.h"

#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "handshake/wire.h"
#include "tun/offload.h"
#include "tun/tun_ring.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/hs_queue.h"
#include "vpnd/datapath/receive.h"
#include "vpnd/datapath/send.h"

/* Room for an inner packet in a send slot (after the transport header,
 * before the padding and the tag). */
#define SLOT_CAP (TX_BUF_LEN - MSG_TRANSPORT_HEADER_LEN - 32)

/* One read gives one packet, or with offloads a super-packet (at buf) that
 * is split into MTU-sized packets straight into the send batch. */
static void tun_read_one(struct device *dev, uint8_t *buf, size_t n, uint64_t now)
{
	struct gso_iter it;
	size_t len;

	if (gso_begin(&it, buf, n) != GSO_OK) {
		device_count_drop(dev, DROP_INNER_INVALID);
		return;
	}
	for (;;) {
		uint8_t *slot = dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN;

		len = gso_next(&it, slot, SLOT_CAP);
		if (!len)
			break;
		send_from_tun(dev, slot, len, now);
	}
}

struct ring_turn {
	struct device *dev;
	uint64_t now;
};

/* A packet in a ring buffer: split from there (vnet_hdr), or copied into
 * the send batch's slot (where send_from_tun encrypts in place). */
static void ring_packet(void *ctx, uint8_t *pkt, size_t n)
{
	struct ring_turn *t = ctx;
	struct device *dev = t->dev;
	uint8_t *slot;

	if (dev->tun_vnet_hdr) {
		tun_read_one(dev, pkt, n, t->now);
		return;
	}
	slot = dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN;
	memcpy(slot, pkt, n);	/* n <= the ring's buffers: TX_BUF_LEN - 64 */
	send_from_tun(dev, slot, n, t->now);
}

/* Everything the ring read since the last turn, in order, then one flush:
 * a lone packet leaves in this turn (the ring holds nothing back). */
static enum io_result tun_ring_readable(struct device *dev, uint64_t now)
{
	struct ring_turn t = { .dev = dev, .now = now };
	enum tun_ring_result res = tun_ring_reap(dev->tun_ring, ring_packet, &t);

	send_flush(dev);
	return res == TUN_RING_GONE ? IO_LINK_GONE : res == TUN_RING_FAILED ? IO_RING_FAILED : IO_OK;
}

/* The vnet header goes in the slot's headroom, where the transport header
 * is written later. */
_Static_assert(MSG_TRANSPORT_HEADER_LEN >= VNET_HDR_LEN, "no room for the vnet header");

_Static_assert(VNET_HDR_LEN + SLOT_CAP <= PACKET_BUF_LEN, "tun_read_buf smaller than a slot");

/* One read() in vnet_hdr mode. A single packet (at most the MTU) lands in
 * its send slot, its vnet header in the slot's headroom, and is completed
 * there (no copy: gso_next works in place). A super-packet runs on past
 * the MTU into tun_read_buf, and its first MTU bytes are moved in front of
 * the rest there (one copy of at most an MTU per super-packet), so that the
 * split reads one contiguous buffer and writes its segments into the
 * slots. A single packet past the MTU (one that changed under us) takes
 * that way too. */
static ssize_t tun_read_vnet(struct device *dev, uint64_t now)
{
	uint8_t *head = dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN - VNET_HDR_LEN;
	size_t head_len = VNET_HDR_LEN + (dev->mtu < SLOT_CAP ? dev->mtu : SLOT_CAP);
	struct iovec iov[2] = {
		{ .iov_base = head, .iov_len = head_len },
		{ .iov_base = dev->tun_read_buf + head_len, .iov_len = PACKET_BUF_LEN - head_len },
	};
	ssize_t n = readv(dev->tun_fd, iov, 2);

	if (n < 0)
		return n;
	if ((size_t)n <= head_len && (size_t)n >= VNET_HDR_LEN && !vnet_hdr_is_gso(head)) {
		tun_read_one(dev, head, (size_t)n, now);
	} else {
		memcpy(dev->tun_read_buf, head, (size_t)n < head_len ? (size_t)n : head_len);
		tun_read_one(dev, dev->tun_read_buf, (size_t)n, now);
	}
	return n;
}

enum io_result packet_io_tun_readable(struct device *dev, uint64_t now)
{
	enum io_result res = IO_OK;
	unsigned reads = 0;

	if (dev->tun_ring)
		return tun_ring_readable(dev, now);

	/* Bounded rounds so the UDP side and the timers get their turn. */
	for (int round = 0; round < 2 * BATCH_MAX; round++) {
		uint8_t *slot = dev->tx_bufs[dev->tx_count] + MSG_TRANSPORT_HEADER_LEN;
		ssize_t n = dev->tun_vnet_hdr ? tun_read_vnet(dev, now) :
			    read(dev->tun_fd, slot, TX_BUF_LEN - 64);

		if (n < 0) {
			if (errno == EBADFD || errno == EIO)
				res = IO_LINK_GONE;
			break;
		}
		if (!dev->tun_vnet_hdr)
			send_from_tun(dev, slot, (size_t)n, now);
		/* When traffic is sparse (the last wake-up brought one packet),
		 * the first packet leaves now, not after the read that finds
		 * the queue empty: a lone packet (a ping) never waits for a
		 * batch. Under a flood every packet is batched, as before. */
		if (round == 0 && dev->tun_last_reads <= 1)
			send_flush(dev);
		reads++;
	}
	dev->tun_last_reads = reads;
	if (dev->tun_answer_reading) {
		dev->tun_answer_skip = reads ? 0 : TUN_ANSWER_BACKOFF;
		dev->tun_answer_reading = false;
	}
	send_flush(dev);
	return res;
}

bool packet_io_tun_answer_due(struct device *dev)
{
	if (!dev->tun_written || dev->tun_ring)
		return false;
	if (dev->tun_answer_skip) {
		dev->tun_answer_skip--;
		return false;
	}
	dev->tun_answer_reading = true;
	return true;
}

int udp_enable_pktinfo(int fd, int family)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)) < 0)
		return -errno;
	if (family == AF_INET6 &&
	    (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0 ||
	     setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one)) < 0))
		return -errno;
	return 0;
}

static void normalise_source(union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr)) {
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = a->in6.sin6_port };

		memcpy(&in.sin_addr, &a->in6.sin6_addr.s6_addr[12], 4);
		memset(a, 0, sizeof(*a));
		a->in = in;
	}
}

/* With UDP GRO one datagram may hold several WireGuard messages of
 * seg bytes each (the last may be shorter): each is handled on its own. */
static void receive_datagram(struct device *dev, uint8_t *buf, size_t len, size_t seg,
			     const struct endpoint *src, uint8_t ds, uint64_t now)
{
	/* With a crypto pool the batch is taken whole (receive_batch_add). */
	void (*receive)(struct device *, uint8_t *, size_t, const struct endpoint *, uint8_t,
			uint64_t) = dev->pool ? receive_batch_add : receive_packet;

	if (!seg || seg >= len) {
		receive(dev, buf, len, src, ds, now);
		return;
	}
	for (size_t off = 0; off < len; off += seg)
		receive(dev, buf + off, len - off < seg ? len - off : seg, src, ds, now);
}

/* Our address the datagram was sent to, from IP_PKTINFO (its header
 * destination, ipi_addr, as the kernel's wg_socket_endpoint_from_skb takes
 * it) or IPV6_PKTINFO; a v4-mapped one becomes IPv4. */
static void local_source_from_pktinfo(const struct cmsghdr *cm, struct local_source *out)
{
	if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
	    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
		struct in_pktinfo pi;

		memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
		out->family = AF_INET;
		out->ifindex = (unsigned)pi.ipi_ifindex;
		out->addr.v4 = pi.ipi_addr;
	} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
		   cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
		struct in6_pktinfo pi;

		memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
		out->ifindex = pi.ipi6_ifindex;
		if (IN6_IS_ADDR_V4MAPPED(&pi.ipi6_addr)) {
			out->family = AF_INET;
			memcpy(&out->addr.v4, &pi.ipi6_addr.s6_addr[12], 4);
		} else {
			out->family = AF_INET6;
			out->addr.v6 = pi.ipi6_addr;
		}
	}
}

/* The outer DS field (TOS, traffic class) of a datagram, from IP_TOS (one
 * byte, IPv4, also on our IPv6 socket) or IPV6_TCLASS (an int). */
static bool ds_from_cmsg(const struct cmsghdr *cm, uint8_t *ds)
{
	if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TOS &&
	    cm->cmsg_len >= CMSG_LEN(1)) {
		*ds = *CMSG_DATA(cm);
		return true;
	}
	if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_TCLASS &&
	    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
		int tclass;

		memcpy(&tclass, CMSG_DATA(cm), sizeof(tclass));
		*ds = (uint8_t)tclass;
		return true;
	}
	return false;
}

/* The cmsgs of one received datagram: its GRO segment size (0: not
 * coalesced; coalesced datagrams share one DS field, the kernel's GRO
 * merges no others), our address it was sent to (family 0 if not told)
 * and its outer DS field (0 if not told). */
static size_t parse_cmsgs(struct msghdr *h, struct local_source *dst, uint8_t *ds)
{
	size_t seg_size = 0;

	memset(dst, 0, sizeof(*dst));
	*ds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
			int seg;

			memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
			seg_size = seg > 0 ? (size_t)seg : 0;
		} else if (!ds_from_cmsg(cm, ds)) {
			local_source_from_pktinfo(cm, dst);
		}
	}
	return seg_size;
}

void packet_io_udp_readable(struct device *dev, uint64_t now)
{
	static struct mmsghdr msgs[BATCH_MAX];
	static struct iovec iov[BATCH_MAX];
	static struct endpoint from[BATCH_MAX];
	/* UDP_GRO, IPV6_PKTINFO, and IP_PKTINFO: an IPv6 socket gives both
	 * for an IPv4 datagram; IP_TOS or IPV6_TCLASS. Too small, and the
	 * kernel cuts them. */
	static union {
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg[BATCH_MAX];

	/* The headers are laid out once for a block of receive buffers
	 * (keyed by its address: a block freed and another one allocated
	 * at the same place has the same layout); the
	 * kernel changes only msg_len, msg_namelen, msg_controllen and
	 * msg_flags, which are reset for the entries a call filled. Not all
	 * BATCH_MAX each call: a lone packet's turn stays short. */
	static const void *laid_out_for;
	static int dirty;	/* entries [0, dirty) need their reset */

	dev->tun_written = false;
	if (laid_out_for != dev->rx_bufs) {
		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < BATCH_MAX; i++) {
			iov[i].iov_base = dev->rx_bufs[i];
			iov[i].iov_len = PACKET_BUF_LEN;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i].addr;
			msgs[i].msg_hdr.msg_control = cmsg[i].buf;
		}
		laid_out_for = dev->rx_bufs;
		dirty = BATCH_MAX;
	}
	for (int round = 0; round < 8; round++) {
		int n;

		for (int i = 0; i < dirty; i++) {
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i].addr);
			msgs[i].msg_hdr.msg_controllen = sizeof(cmsg[i].buf);
			msgs[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(dev->udp_fd, msgs, BATCH_MAX, MSG_DONTWAIT, NULL);
		dirty = n > 0 ? n : 1;	/* a failed call: entry 0, to be sure */
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			uint8_t ds;
			size_t seg = parse_cmsgs(&msgs[i].msg_hdr, &from[i].src, &ds);

			if (msgs[i].msg_hdr.msg_flags & MSG_CTRUNC)
				dev->rx_cmsg_truncated++;

			normalise_source(&from[i].addr);
			receive_datagram(dev, dev->rx_bufs[i], msgs[i].msg_len, seg, &from[i], ds,
					 now);
		}
		if (dev->pool)
			receive_batch_end(dev, now);
		hs_queue_kick(dev->hsq);	/* once a batch, not once a message */
		receive_flush(dev);	/* before rx_bufs are reused */
		send_flush(dev);
		if (n < BATCH_MAX)
			break;
	}
}
