/* The inbound path. The first byte picks the way: handshake messages pass
 * mac1 (cheap) before any DH, and under load need mac2 or get a cookie
 * reply; transport messages are decrypted in place, checked against the
 * replay window, and their inner source must route back to the same peer
 * before they reach the TUN. */
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handshake/hsload.h"
#include "tun/offload.h"
#include "vpnd/datapath/crypto_pool.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/ecn.h"
#include "vpnd/datapath/hs_queue.h"
#include "vpnd/datapath/receive.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"

#define PEER_OF_HS(h) (((struct peer_handshake *)(void *)(h))->peer)
#define PEER_OF_AIPS(o) ((struct peer *)((char *)(o) - offsetof(struct peer, aips)))

static struct noise_handshake *lookup_by_public_key(void *ctx, const uint8_t pub[KEY_LEN])
{
	struct peer *peer = device_peer_lookup(ctx, pub);

	return peer ? peer->hs : NULL;
}

static size_t source_bytes(const union sockaddr_any *src, uint8_t out[COOKIE_SOURCE_MAX],
			   const uint8_t **ip, size_t *ip_len)
{
	if (src->sa.sa_family == AF_INET6) {
		*ip = src->in6.sin6_addr.s6_addr;
		*ip_len = 16;
		return cookie_source_bytes(out, AF_INET6, *ip, ntohs(src->in6.sin6_port));
	}
	*ip = (const uint8_t *)&src->in.sin_addr;
	*ip_len = 4;
	return cookie_source_bytes(out, AF_INET, *ip, ntohs(src->in.sin_port));
}

static void handshake_done_timers(struct peer *peer, uint64_t now)
{
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	timers_any_authenticated_packet_received(&peer->timers);
}

static void derive_and_install(struct peer *peer, uint64_t now)
{
	struct keypair *kp = device_keypair_new(peer->dev);

	if (!kp)
		return;
	if (noise_derive_keypair(peer->hs, kp, now) != NOISE_OK) {
		device_keypair_free(peer->dev, kp);
		return;
	}
	peer_install_keypair(peer, kp);
	timers_session_derived(&peer->timers, now);
}

/* pre: the response the handshake thread computed, or NULL: made here. */
static void answer_initiation(struct device *dev, struct peer *peer,
			      const struct noise_response *pre, uint64_t now)
{
	struct msg_response msg;
	enum noise_result r;
	uint32_t index;

	peer_drop_handshake_index(peer);
	index = index_table_add(&dev->index, peer, NULL);
	if (!index)
		return;
	r = pre ? noise_response_commit(peer->hs, pre, index, &msg) :
		  noise_create_response(peer->hs, dev->local, &msg, index);
	if (r != NOISE_OK) {
		index_table_remove(&dev->index, index);
		peer->hs->local_index = 0;
		return;
	}
	cookie_add_macs(&peer->cookie, (uint8_t *)&msg, sizeof(msg), now);
	derive_and_install(peer, now);
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	timers_any_authenticated_packet_sent(&peer->timers);
	/* A response counts as a sent handshake for the REKEY_TIMEOUT limit:
	 * our own initiation right after would replace this session. */
	timers_handshake_sent(&peer->timers, now);
	send_handshake_message(peer, &msg, sizeof(msg));
	peer->tx_bytes += sizeof(msg);
	dev->handshakes_answered++;
}

/* An initiation consumed into peer's handshake: answer it. */
static void initiation_accepted(struct device *dev, struct peer *peer,
				const struct endpoint *src, const struct noise_response *pre,
				uint64_t now)
{
	peer->handshakes_received++;
	peer->rx_bytes += sizeof(struct msg_initiation);
	peer_update_endpoint(peer, src);
	handshake_done_timers(peer, now);
	answer_initiation(dev, peer, pre, now);
	peer_timers_changed(peer);
}

/* Without a handshake queue: everything here. */
static void receive_initiation(struct device *dev, const uint8_t *buf,
			       const struct endpoint *src, uint64_t now)
{
	const struct noise_lookup lookup = { dev, lookup_by_public_key };
	struct noise_handshake *hs;

	if (noise_consume_initiation(dev->local, (const struct msg_initiation *)buf, &lookup,
				     now, &hs) != NOISE_OK) {
		device_count_drop(dev, DROP_HANDSHAKE);
		return;
	}
	initiation_accepted(dev, PEER_OF_HS(hs), src, NULL, now);
}

/* The handshake thread's view of a peer, copied under the gate lock;
 * peer_gen says which version of the peer it was. */
struct thread_view {
	struct device *dev;
	uint64_t local_gen;	/* of the thread's identity copy */
	uint64_t peer_gen;
};

static enum noise_result thread_view_of(void *ctx, const uint8_t pub[KEY_LEN],
					struct noise_peer_view *view)
{
	struct thread_view *c = ctx;
	enum noise_result r = NOISE_ERR_STATE;	/* our key changed since the copy */
	struct peer *peer;

	hs_queue_lock(c->dev->hsq);
	if (c->dev->local_gen != c->local_gen)
		goto out;
	r = NOISE_ERR_UNKNOWN_PEER;
	peer = device_peer_lookup(c->dev, pub);
	if (!peer)
		goto out;
	r = noise_peer_view_get(peer->hs, view);
	c->peer_gen = peer->hs_gen;
out:
	hs_queue_unlock(c->dev->hsq);
	return r;
}

bool receive_initiation_compute(struct device *dev, const struct noise_local *local,
				uint64_t local_gen, const uint8_t *buf, uint64_t now,
				struct hs_initiation_result *out, enum drop_reason *why)
{
	struct thread_view c = { dev, local_gen, 0 };
	const struct noise_view_lookup lookup = { &c, thread_view_of };
	enum noise_result r;

	r = noise_initiation_compute(local, (const struct msg_initiation *)buf, &lookup, now,
				     &out->ini);
	/* Speculative: the loop still checks the timestamp and the flood
	 * rule, and the peer, before it takes this response. */
	if (r == NOISE_OK)
		r = noise_response_compute(&out->ini, NULL, &out->resp);
	if (r != NOISE_OK) {
		wg_secure_wipe(out, sizeof(*out));
		*why = r == NOISE_ERR_STATE ? DROP_HS_STALE : DROP_HANDSHAKE;
		return false;
	}
	out->peer_gen = c.peer_gen;
	return true;
}

enum hs_commit receive_initiation_commit(struct device *dev, const struct hs_initiation_result *r,
					 const struct endpoint *src, uint64_t now)
{
	struct peer *peer = device_peer_lookup(dev, r->ini.remote_static);
	enum noise_result res;

	/* Removed, or re-added, or its PSK or our key changed since the
	 * thread copied its view: what was computed is for something else. */
	if (!peer || peer->hs_gen != r->peer_gen) {
		device_count_drop(dev, DROP_HS_STALE);
		return HS_COMMIT_DONE;
	}
	/* The replay timestamp is part of the thread's view. */
	if (!hs_queue_trylock(dev->hsq))
		return HS_COMMIT_RETRY;
	res = noise_initiation_commit(peer->hs, &r->ini, now);
	hs_queue_unlock(dev->hsq);
	if (res != NOISE_OK) {
		device_count_drop(dev, DROP_HANDSHAKE);
		return HS_COMMIT_DONE;
	}
	initiation_accepted(dev, peer, src, &r->resp, now);
	return HS_COMMIT_DONE;
}

static void receive_response(struct device *dev, const uint8_t *buf,
			     const struct endpoint *src, uint64_t now)
{
	const struct msg_response *msg = (const struct msg_response *)buf;
	struct index_entry *e = index_table_find(&dev->index, le32_to_host(msg->receiver_index));
	struct peer *peer;

	if (!e || e->kp || noise_consume_response(e->peer->hs, dev->local, msg) != NOISE_OK) {
		device_count_drop(dev, DROP_HANDSHAKE);
		return;
	}
	peer = e->peer;
	peer->handshakes_received++;
	peer->rx_bytes += sizeof(*msg);
	peer_update_endpoint(peer, src);
	handshake_done_timers(peer, now);
	derive_and_install(peer, now);
	timers_handshake_complete(&peer->timers);
	peer->last_handshake_wall_ns = wg_wall_clock_ns();
	/* The ACK: queued data if there is any, else a keepalive. */
	send_keepalive(peer);
	peer_timers_changed(peer);
}

static void receive_cookie_reply(struct device *dev, const uint8_t *buf, uint64_t now)
{
	const struct msg_cookie_reply *msg = (const struct msg_cookie_reply *)buf;
	struct index_entry *e = index_table_find(&dev->index, le32_to_host(msg->receiver_index));

	if (!e || cookie_consume_reply(&e->peer->cookie, msg, now) != COOKIE_REPLY_OK)
		device_count_drop(dev, DROP_HANDSHAKE);
}

/* The limiters' tables have a fixed number of entries and evict the least
 * recently used when full; gc returns idle ones about once a second so
 * that eviction only hits sources still sending under a wide flood. */
static void limiters_gc(struct device *dev, uint64_t now)
{
	if (now - dev->ratelimiter_gc_ns < NSEC_PER_SEC)
		return;
	ratelimiter_gc(dev->ratelimiter, now);
	ratelimiter_gc(dev->cookie_limiter, now);
	ratelimiter_gc(dev->dh_limiter, now);
	dev->ratelimiter_gc_ns = now;
}

/* Under load without a valid mac2: a cookie reply, at most one per source
 * per 1/COOKIE_REPLIES_PER_SECOND s (an attacker spoofing a victim's
 * address must not turn us into a reflector). */
static enum hs_verdict cookie_verdict(struct device *dev, const uint8_t *buf, size_t len,
				      const uint8_t *srcb, size_t srcb_len, const uint8_t *ip,
				      size_t ip_len, uint64_t now, struct msg_cookie_reply *reply,
				      enum drop_reason *why)
{
	/* sender_index sits at the same offset in both messages */
	uint32_t sender = le32_to_host(((const struct msg_initiation *)buf)->sender_index);

	if (!ratelimiter_allow(dev->cookie_limiter, ip, ip_len, now)) {
		*why = DROP_COOKIE_RATELIMIT;
		return HS_DROP;
	}
	cookie_create_reply(&dev->cookie_checker, reply, buf, len, sender, srcb, srcb_len, now);
	return HS_COOKIE;
}

enum hs_verdict receive_handshake_gate(struct device *dev, const uint8_t *buf, size_t len,
				       const struct endpoint *src, bool under_load, uint64_t now,
				       struct msg_cookie_reply *reply, enum drop_reason *why)
{
	uint8_t srcb[COOKIE_SOURCE_MAX];
	const uint8_t *ip;
	size_t ip_len, srcb_len = source_bytes(&src->addr, srcb, &ip, &ip_len);
	enum cookie_mac_state mac;

	/* under_load is the queue's rule (hsload.h: at least 1/8 full, held
	 * 1 s, as the kernel's); the DH budget's adds to it (below): more
	 * messages asking for a DH in a second than the budget grants, held
	 * 1 s. A thread that keeps up with the cheap checks never fills its
	 * queue: DH work beyond what we allow is
	 * this design's backlog. An honest burst (a hub of 600 peers
	 * restarting) stays within the budget and off the cookie path. */
	under_load = under_load || device_under_load(dev, now);
	limiters_gc(dev, now);
	ratelimiter_set_coarse(dev->ratelimiter, under_load);
	if (under_load && !ratelimiter_allow(dev->ratelimiter, ip, ip_len, now)) {
		/* Still demand (as the kernel's backlog holds every handshake
		 * message): a flood from few sources, cut down here, must
		 * keep the device under load rather than let it lapse. */
		if (hs_budget_demand(&dev->dh_budget, now))
			dev->under_load_until_ns = now + HSLOAD_HOLD_NS;
		*why = DROP_RATELIMIT;
		return HS_DROP;
	}
	mac = cookie_validate(&dev->cookie_checker, buf, len, srcb, srcb_len, under_load, now);
	if (mac == COOKIE_MAC_INVALID) {
		*why = DROP_MAC1;
		return HS_DROP;
	}
	/* Only messages with a valid mac1 count as DH demand: junk that
	 * costs nothing to send cannot push honest peers onto the cookie
	 * path. More demand in a second than the budget is the backlog. */
	if (hs_budget_demand(&dev->dh_budget, now)) {
		dev->under_load_until_ns = now + HSLOAD_HOLD_NS;
		if (!under_load) {
			under_load = true;
			mac = cookie_validate(&dev->cookie_checker, buf, len, srcb, srcb_len,
					      true, now);
		}
	}
	if (under_load && mac != COOKIE_MAC2_VALID)
		return cookie_verdict(dev, buf, len, srcb, srcb_len, ip, ip_len, now, reply, why);
	/* Under load, one DH per source per REKEY_TIMEOUT (burst 2): an honest
	 * initiator never retries faster, so a flood with valid cookies from
	 * many sources leaves budget for a new client instead of taking all
	 * of it first come (2048 sources: about 400 DHs a second of 1000). */
	if (under_load && !ratelimiter_allow(dev->dh_limiter, ip, ip_len, now)) {
		*why = DROP_RATELIMIT;
		return HS_DROP;
	}
	if (!hs_budget_take(&dev->dh_budget, now)) {
		dev->under_load_until_ns = now + HSLOAD_HOLD_NS;
		*why = DROP_DH_BUDGET;
		return HS_DROP;
	}
	return HS_PASS;
}

void receive_handshake_pass(struct device *dev, const uint8_t *buf, const struct endpoint *src,
			    uint64_t now)
{
	if (buf[0] == MSG_INITIATION)
		receive_initiation(dev, buf, src, now);
	else
		receive_response(dev, buf, src, now);
}

void receive_cookie_sent(struct device *dev, const struct endpoint *src,
			 const struct msg_cookie_reply *reply)
{
	/* Batched: under a flood one sendmmsg carries many replies. */
	send_queue_raw(dev, src, reply, sizeof(*reply));
	dev->cookie_replies_sent++;
	device_count_drop(dev, DROP_COOKIE_SENT);
}

/* Without a handshake queue (tests, fuzzing): the gate on the loop, load
 * by the rate rule only. */
static void receive_handshake(struct device *dev, uint8_t *buf, size_t len,
			      const struct endpoint *src, uint64_t now)
{
	struct msg_cookie_reply reply;
	enum drop_reason why = DROP_HANDSHAKE;

	switch (receive_handshake_gate(dev, buf, len, src, false, now, &reply, &why)) {
	case HS_DROP:
		device_count_drop(dev, why);
		return;
	case HS_COOKIE:
		receive_cookie_sent(dev, src, &reply);
		return;
	case HS_PASS:
		receive_handshake_pass(dev, buf, src, now);
		return;
	}
}

/* With a handshake queue the loop only copies the message into it (the
 * SYN queue: bounded, full means dropped and counted); everything else
 * happens on the handshake thread (hs_queue.h). */
static void receive_handshake_or_queue(struct device *dev, uint8_t *buf, size_t len,
				       const struct endpoint *src, uint64_t now)
{
	if (dev->hsq) {
		if (!hs_queue_push(dev->hsq, buf, len, src))
			device_count_drop(dev, DROP_HS_QUEUE_FULL);
		return;
	}
	receive_handshake(dev, buf, len, src, now);
}

/* Inner source address of a decrypted packet; false if not valid IP or if
 * the IP length disagrees with what we got. *len becomes the IP length
 * (padding cut off). */
static bool inner_source(const uint8_t *pkt, size_t *len, int *family, const uint8_t **addr)
{
	size_t ip_len;

	if (*len >= sizeof(struct ip) && pkt[0] >> 4 == 4) {
		ip_len = (size_t)pkt[2] << 8 | pkt[3];
		*family = AF_INET;
		*addr = pkt + offsetof(struct ip, ip_src);
	} else if (*len >= sizeof(struct ip6_hdr) && pkt[0] >> 4 == 6) {
		ip_len = sizeof(struct ip6_hdr) + ((size_t)pkt[4] << 8 | pkt[5]);
		*family = AF_INET6;
		*addr = pkt + offsetof(struct ip6_hdr, ip6_src);
	} else {
		return false;
	}
	if (ip_len > *len || ip_len < (*family == AF_INET ? sizeof(struct ip) : sizeof(struct ip6_hdr)))
		return false;
	*len = ip_len;
	return true;
}

static enum drop_reason transport_drop_reason(enum transport_result r)
{
	switch (r) {
	case TRANSPORT_ERR_REPLAY: return DROP_REPLAY;
	case TRANSPORT_ERR_EXPIRED: return DROP_EXPIRED;
	case TRANSPORT_ERR_LENGTH: return DROP_SHORT;
	default: return DROP_DECRYPT;
	}
}

static void after_transport_authenticated(struct peer *peer, struct keypair *kp,
					  enum transport_result r, uint64_t now)
{
	struct keypair *cur;

	/* Only the first packet on the peer's next keypair completes a
	 * handshake; a responder keypair already pushed out of next by a
	 * newer handshake is only confirmed for sending. */
	if (r == TRANSPORT_OK_CONFIRMED && peer_keypair_confirmed(peer, kp)) {
		timers_handshake_complete(&peer->timers);
		peer->last_handshake_wall_ns = wg_wall_clock_ns();
		send_staged(peer);
	}
	timers_any_authenticated_packet_received(&peer->timers);
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	/* Keys near REJECT_AFTER_TIME: the initiator starts a new handshake
	 * once, before they die. The current keypair is the one that ages,
	 * whichever keypair this packet came on. */
	cur = peer->kp_current;
	if (timers_lastminute_handshake_due(&peer->timers,
					    cur && cur->valid && !cur->send_expired &&
					    cur->is_initiator,
					    cur ? cur->birth_ns : 0, now))
		send_initiation(peer, false);
}

/* PeerToPeer = direct or refuse: true if the packet's inner destination is
 * routed to another peer, and so it was sent on to that peer (direct) or
 * dropped (refuse) here, without the TUN. */
static bool peer_to_peer(struct device *dev, struct peer *from, const uint8_t *pkt,
			 size_t len, int family, uint64_t now)
{
	const uint8_t *dst = pkt + (family == AF_INET ? offsetof(struct ip, ip_dst) :
				    offsetof(struct ip6_hdr, ip6_dst));
	struct allowedips_owner *owner = allowedips_lookup(dev->aips, family, dst);

	if (!owner || owner == &from->aips)
		return false;
	if (dev->peer_to_peer == P2P_REFUSE)
		device_count_drop(dev, DROP_P2P_REFUSED);
	else
		send_forward(PEER_OF_AIPS(owner), pkt, len, now);
	return true;
}

/* What follows a transport message's successful decryption (r is
 * TRANSPORT_OK or TRANSPORT_OK_CONFIRMED): roaming, counters, timers, the
 * inner-source check, the outer ECN (ds: the datagram's DS field) into the
 * inner header, and the way to the TUN or to another peer. */
static void transport_deliver(struct device *dev, struct peer *peer, struct keypair *kp,
			      enum transport_result r, uint8_t *buf, size_t len,
			      size_t plain_len, const struct endpoint *src, uint8_t ds,
			      uint64_t now)
{
	struct allowedips_owner *owner;
	const uint8_t *inner_src;
	uint8_t *inner = buf + MSG_TRANSPORT_HEADER_LEN;
	int family;

	peer_update_endpoint(peer, src);	/* roaming: follow authenticated packets */
	peer->rx_bytes += len;
	peer->rx_packets++;
	after_transport_authenticated(peer, kp, r, now);
	if (plain_len == 0) {
		peer_timers_changed(peer);	/* keepalive */
		return;
	}
	timers_data_received(&peer->timers, now);
	peer_timers_changed(peer);
	if (!inner_source(inner, &plain_len, &family, &inner_src)) {
		device_count_drop(dev, DROP_INNER_INVALID);
		return;
	}
	owner = allowedips_lookup(dev->aips, family, inner_src);
	if (owner != &peer->aips) {
		device_count_drop(dev, DROP_INNER_SOURCE);
		return;
	}
	/* Before the TUN batch: segments GRO merges have equal DS fields. */
	ecn_decapsulate(inner, plain_len, ds);
	if (dev->peer_to_peer != P2P_KERNEL &&
	    peer_to_peer(dev, peer, inner, plain_len, family, now))
		return;
	if (dev->tun_vnet_hdr) {
		/* Queued: receive_flush merges each flow's segments into
		 * super-packets (tun_write_batch). The vnet header goes over
		 * the transport header, no longer needed. */
		dev->tun_out[dev->tun_out_count].data = inner;
		dev->tun_out[dev->tun_out_count].len = plain_len;
		if (++dev->tun_out_count == TUN_OUT_MAX)
			receive_flush(dev);
	} else {
		(void)write(dev->tun_fd, inner, plain_len);
		dev->tun_written = true;
	}
}

static void receive_transport(struct device *dev, uint8_t *buf, size_t len,
			      const struct endpoint *src, uint8_t ds, uint64_t now)
{
	struct index_entry *e = index_table_find(&dev->index, transport_receiver_index(buf));
	enum transport_result r;
	size_t plain_len;

	if (!e || !e->kp) {
		device_count_drop(dev, DROP_UNKNOWN_INDEX);
		return;
	}
	r = transport_decrypt(e->kp, buf, len, now, &plain_len);
	if (r != TRANSPORT_OK && r != TRANSPORT_OK_CONFIRMED) {
		device_count_drop(dev, transport_drop_reason(r));
		return;
	}
	transport_deliver(dev, e->peer, e->kp, r, buf, len, plain_len, src, ds, now);
}

/* src: the peer's address (normalised: v4-mapped IPv6 becomes AF_INET)
 * and ours it wrote to; ds: the datagram's outer DS field. */
void receive_packet(struct device *dev, uint8_t *buf, size_t len,
		    const struct endpoint *src, uint8_t ds, uint64_t now)
{
	uint32_t type;

	if (dev->link_down)
		return;	/* the kernel has no socket open while down */
	if (len < 4) {
		device_count_drop(dev, DROP_SHORT);
		return;
	}
	memcpy(&type, buf, 4);	/* type byte and 3 zero bytes */
	switch (le32_to_host(type)) {
	case MSG_INITIATION:
		if (len != sizeof(struct msg_initiation))
			break;
		receive_handshake_or_queue(dev, buf, len, src, now);
		return;
	case MSG_RESPONSE:
		if (len != sizeof(struct msg_response))
			break;
		receive_handshake_or_queue(dev, buf, len, src, now);
		return;
	case MSG_COOKIE_REPLY:
		if (len != sizeof(struct msg_cookie_reply))
			break;
		receive_cookie_reply(dev, buf, now);
		return;
	case MSG_TRANSPORT:
		if (len < (size_t)MSG_TRANSPORT_MIN_LEN)
			break;
		receive_transport(dev, buf, len, src, ds, now);
		return;
	default:
		device_count_drop(dev, DROP_BAD_TYPE);
		return;
	}
	device_count_drop(dev, DROP_SHORT);
}

void receive_flush(struct device *dev)
{
	if (!dev->tun_out_count)
		return;
	tun_write_batch(dev->tun_fd, dev->tun_out, dev->tun_out_count, dev->tun_offloads);
	dev->tun_out_count = 0;
	dev->tun_written = true;
}

/* --- batches across the crypto pool ---------------------------------------
 *
 * A run of consecutive transport messages goes in three phases:
 *  1. here, on the loop, as each arrives: the index, length, expiry and
 *     replay checks of receive_transport up to the AEAD (the window only
 *     read), and a job with a copy of the receive key;
 *  2. the AEADs of the whole run, across the pool (any thread; no shared
 *     state touched);
 *  3. on the loop, in arrival order: the index entry found again (it may
 *     have gone since phase 1), then transport_decrypt_finish (expiry
 *     again, the replay window moved, the keypair confirmed) and the rest
 *     of receive_transport.
 * A message of any other type ends the run (phases 2 and 3 first) and is
 * handled on its own, so everything happens in the order it arrived. A
 * check refused in phase 1 stays refused: until phase 3 a window only
 * moves forward, a keypair only dies, and a keypair's index is only ever
 * created by a handshake message, which ends runs. Two copies of one
 * counter in a run both pass phase 1; phase 3 takes the first and refuses
 * the second, as one at a time would. */

static void open_job(void *ctx, size_t i)
{
	struct rx_job *j = &((struct rx_job *)ctx)[i];

	j->opened = transport_decrypt_open(j->buf, j->len, j->counter, j->key);
}

static void run_flush(struct device *dev, uint64_t now)
{
	size_t n = dev->rx_run_len;

	if (!n)
		return;
	crypto_pool_run(dev->pool, open_job, dev->rx_run, n, dev->rx_run_bytes);
	dev->rx_run_len = dev->rx_run_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		struct rx_job *j = &dev->rx_run[i];
		struct index_entry *e = index_table_find(&dev->index, j->index);
		enum transport_result r;
		size_t plain_len;

		/* The keypair opened with must still be the one this index
		 * names (a removed keypair's entry is gone). */
		if (!e || !e->kp || !wg_ct_equal(e->kp->recv_key, j->key, KEY_LEN)) {
			device_count_drop(dev, DROP_UNKNOWN_INDEX);
		} else {
			r = transport_decrypt_finish(e->kp, j->len, j->counter, j->opened, now,
						     &plain_len);
			if (r != TRANSPORT_OK && r != TRANSPORT_OK_CONFIRMED)
				device_count_drop(dev, transport_drop_reason(r));
			else
				transport_deliver(dev, e->peer, e->kp, r, j->buf, j->len,
						  plain_len, j->src, j->ds, now);
		}
		wg_secure_wipe(j->key, KEY_LEN);
	}
}

static bool handshake_queued(const struct device *dev, uint32_t type)
{
	return dev->hsq && (type == MSG_INITIATION || type == MSG_RESPONSE);
}

void receive_batch_add(struct device *dev, uint8_t *buf, size_t len,
		       const struct endpoint *src, uint8_t ds, uint64_t now)
{
	struct index_entry *e;
	enum transport_result r;
	struct rx_job *j;
	uint32_t type;
	uint64_t counter;

	if (dev->link_down)
		return;
	if (len >= 4) {
		memcpy(&type, buf, 4);	/* type byte and 3 zero bytes */
		type = le32_to_host(type);
	} else {
		type = 0;
	}
	if (type != MSG_TRANSPORT) {
		/* A message for the handshake queue is only copied there, and
		 * nothing in the run depends on it (a responder sends no data
		 * before the initiator's ACK): the run goes on, so that a flood
		 * of initiations mixed into the data cannot cut every batch
		 * into runs too small for the crypto pool. */
		if (!handshake_queued(dev, type))
			run_flush(dev, now);
		receive_packet(dev, buf, len, src, ds, now);
		return;
	}
	if (len < (size_t)MSG_TRANSPORT_MIN_LEN) {
		device_count_drop(dev, DROP_SHORT);
		return;
	}
	e = index_table_find(&dev->index, transport_receiver_index(buf));
	if (!e || !e->kp) {
		device_count_drop(dev, DROP_UNKNOWN_INDEX);
		return;
	}
	r = transport_decrypt_prepare(e->kp, buf, len, now, &counter);
	if (r != TRANSPORT_OK) {
		device_count_drop(dev, transport_drop_reason(r));
		return;
	}
	j = &dev->rx_run[dev->rx_run_len++];
	j->buf = buf;
	j->len = len;
	j->counter = counter;
	j->src = src;
	j->ds = ds;
	j->index = transport_receiver_index(buf);
	j->opened = false;
	memcpy(j->key, e->kp->recv_key, KEY_LEN);
	dev->rx_run_bytes += len;
	if (dev->rx_run_len == RX_RUN_MAX)
		run_flush(dev, now);
}

void receive_batch_end(struct device *dev, uint64_t now)
{
	run_flush(dev, now);
}
