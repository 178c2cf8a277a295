/* libFuzzer target: the UDP message dispatcher, receive_packet() in
 * vpnd/datapath/receive.c, on a device with a fixed identity and one peer (fixed
 * keys and preshared key; allowed IPs 10.10.0.2/32, 10.10.1.0/24 and
 * fd00:10::/64) with which it has a session: set up once by a real
 * handshake through receive_packet() with an in-process peer, "the harness
 * peer". Before every input the device goes back to that state (same
 * keys, same receiver index, responder keypair not yet confirmed).
 * A second peer (allowed IPs 10.20.0.0/16 and fd00:20::/64, an endpoint,
 * no session) is there for packets from the first one to another peer.
 *
 * An input is a sequence of records, handled in order:
 *
 *   ctl(1) dt(1) len(2, little-endian) data(len, cut short at the end)
 *
 * dt moves the clock 2^(dt % 40) ns forward first (dt 0: not at all).
 * ctl bits 0-2 say what data is:
 *   0  a raw datagram
 *   1  a datagram whose last 32 bytes get the harness peer's mac1 (and mac2
 *      once it holds a cookie from the device)
 *   2  counter(8, LE) then plaintext: a transport message from the harness
 *      peer on the set-up session (bit 5: on the newest session instead)
 *   3  a fresh valid initiation from the harness peer (data unused)
 *   4  ephemeral(32) static(32) timestamp(12) sender(4): an initiation with
 *      those contents, sealed for the device's key, with macs
 *   5  the harness peer's response to the device's last initiation, if it
 *      sent one (data unused); else data as a raw datagram
 *   6  receiver(4) nonce(24) cookie(16): a cookie reply to the device's last
 *      handshake message, sealed as the harness peer would; its receiver
 *      index is receiver XOR the device's index of the set-up session (bit
 *      5: of the newest), so 0 names a live one
 *   7  op(1) then data, a device-side event: 0 send_initiation,
 *      1 send_keepalive, 2 a TUN packet (send_from_tun), 3 a TUN read with
 *      virtio_net_hdr (split as the daemon does), 4 timer_heap_run,
 *      5 PeerToPeer (over the UAPI) = kernel, direct or refuse (data[0] % 3)
 * Every datagram's outer DS field (TOS; its ECN field reaches the inner
 * packet of a transport message) is the record's last byte.
 * ctl bit 3: from [2001:db8::1]:51821 instead of 192.0.2.1:51820
 * ctl bit 4: the device is under load (mac2 or a cookie reply; rate limit)
 * ctl bit 5: kinds 2 and 6 use the newest session, if there is one
 * ctl bit 6: the TUN has IFF_VNET_HDR (decrypted TCP segments are merged)
 * ctl bit 7: the datagram goes through receive_batch_add (the daemon's way
 *   with a crypto pool; here with none, so the AEADs run inline) instead of
 *   receive_packet; consecutive such records are one recvmmsg batch, which
 *   ends (receive_batch_end, then the device's sends are flushed and read)
 *   at a record without bit 7, a kind 7 event, a change of bit 6, or the
 *   end of the input
 *
 * Kinds 2, 4 and 6 stand for a peer that holds valid keys and sends
 * whatever it likes: a mutated message would never pass the MACs/AEAD,
 * and the code behind them is what an authenticated peer can reach.
 *
 * The harness peer reads what the device sends (sendto is captured, see
 * fuzz_common.h): it answers the device's initiations, completes its own
 * handshakes from the device's responses (the "newest session"), and takes
 * the cookies of cookie replies. Nothing reaches the network. Decrypted
 * packets go to /dev/null opened O_WRONLY|O_NONBLOCK: a write never blocks.
 *
 * FUZZ_WRITE_SEEDS=DIR writes the seed corpus to DIR and exits: seeds carry
 * session bytes, valid because every random number here is deterministic.
 *
 * The send paths read the real monotonic clock (now_monotonic_ns), the
 * receive path the harness's: the harness clock starts each input at the
 * real one, so only fuzzer-made time jumps set them apart. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_common.h"
#include "tun/offload.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"
#include "vpnd/control/uapi.h"

#define HARNESS_INIT_INDEX 0x11223344u	/* sender index of our initiations */
#define HARNESS_RESP_INDEX 0x55667788u	/* ... and of our responses */
#define EVENT_OPS 6
#define MAX_RECORDS 64
#define CAP_MAX 16

enum {
	CTL_KIND = 7,
	CTL_SRC_B = 1 << 3,
	CTL_UNDER_LOAD = 1 << 4,
	CTL_NEWEST = 1 << 5,
	CTL_VNET = 1 << 6,
	CTL_BATCH = 1 << 7,
};

enum { K_RAW, K_MACS, K_TRANSPORT, K_INITIATION, K_SEALED_INIT, K_RESPONSE, K_COOKIE,
       K_EVENT };

struct session {
	bool valid;
	uint8_t send_key[KEY_LEN];
	uint32_t remote_index;		/* the device's receiver index */
};

/* The device, and what it goes back to before each input. */
static struct device dev, dev_snap;
static struct peer *peer, peer_snap;
static struct peer *peer2, peer2_snap;	/* the other peer */
/* The peers' handshakes live in the device's arena, outside struct peer. */
static struct noise_handshake peer_hs_snap, peer2_hs_snap;
static struct keypair kp_snap;
static uint64_t now;

/* The harness peer. */
static struct noise_local plocal;
static struct noise_handshake phs, phs_snap;
static struct cookie_maker pmaker, pmaker_snap;
static struct cookie_checker pchecker;	/* its cookie key seals cookie replies */
static struct session s_setup, s_newest;
static struct msg_response pending;	/* answer to the device's initiation */
static bool have_pending;
static uint8_t dev_mac1[MAC_LEN], dev_mac1_snap[MAC_LEN];	/* of the device's last */
static bool have_dev_mac1;				/* handshake message */
static unsigned wall_step;
static struct endpoint src_a, src_b;	/* src_b with our address it wrote to */

/* What the device sent since the last look. */
static struct {
	uint8_t buf[sizeof(struct msg_initiation)];
	size_t len;
} cap[CAP_MAX];
static size_t n_cap;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_packet: %s\n", what);
	abort();
}

static void on_send(const uint8_t *buf, size_t len)
{
	if (len < 4 || len > sizeof(cap[0].buf) || buf[0] == MSG_TRANSPORT || n_cap == CAP_MAX)
		return;
	memcpy(cap[n_cap].buf, buf, len);
	cap[n_cap].len = len;
	n_cap++;
}

static struct noise_handshake *harness_lookup(void *ctx, const uint8_t pub[KEY_LEN])
{
	(void)ctx;
	return wg_ct_equal(pub, dev.local->public_key, KEY_LEN) ? &phs : NULL;
}

static void harness_derive(void)
{
	struct keypair kp;

	if (noise_derive_keypair(&phs, &kp, now) != NOISE_OK)
		return;
	s_newest.valid = true;
	memcpy(s_newest.send_key, kp.send_key, KEY_LEN);
	s_newest.remote_index = kp.remote_index;
	keypair_wipe(&kp);
}

/* The harness peer reads its mail. */
static void process_captures(void)
{
	for (size_t i = 0; i < n_cap; i++) {
		const uint8_t *b = cap[i].buf;
		size_t len = cap[i].len;

		/* Only what was sent to the harness peer (and not to the other
		 * one) passes its mac1 check. */
		if (len > 2 * MAC_LEN && b[0] != MSG_COOKIE_REPLY &&
		    cookie_validate(&pchecker, b, len, NULL, 0, false, now) == COOKIE_MAC_INVALID)
			continue;
		if (b[0] == MSG_INITIATION && len == sizeof(struct msg_initiation)) {
			const struct noise_lookup lookup = { NULL, harness_lookup };
			struct noise_handshake *hs;

			memcpy(dev_mac1, b + len - 2 * MAC_LEN, MAC_LEN);
			have_dev_mac1 = true;
			if (noise_consume_initiation(&plocal, (const struct msg_initiation *)b,
						     &lookup, now, &hs) == NOISE_OK &&
			    noise_create_response(&phs, &plocal, &pending, HARNESS_RESP_INDEX) ==
			    NOISE_OK) {
				have_pending = true;
				harness_derive();
			}
		} else if (b[0] == MSG_RESPONSE && len == sizeof(struct msg_response)) {
			memcpy(dev_mac1, b + len - 2 * MAC_LEN, MAC_LEN);
			have_dev_mac1 = true;
			if (noise_consume_response(&phs, &plocal, (const struct msg_response *)b) ==
			    NOISE_OK)
				harness_derive();
		} else if (b[0] == MSG_COOKIE_REPLY && len == sizeof(struct msg_cookie_reply)) {
			cookie_consume_reply(&pmaker, (const struct msg_cookie_reply *)b, now);
		}
	}
	n_cap = 0;
}

/* --- building datagrams -------------------------------------------------- */

static uint8_t *dup_bytes(const void *src, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	if (!b)
		die("out of memory");
	memcpy(b, src, len);
	return b;
}

static uint8_t *make_transport(const struct session *s, const uint8_t *data, size_t len,
			       size_t *out_len)
{
	uint8_t counter_le[8];
	size_t off = 0, plen = len > 8 ? len - 8 : 0;
	uint64_t counter;
	uint32_t idx = host_to_le32(s->remote_index);
	uint8_t *b;

	fuzz_take(counter_le, 8, data, len, &off);
	memcpy(&counter, counter_le, 8);
	counter = le64_to_host(counter);
	*out_len = MSG_TRANSPORT_HEADER_LEN + plen + AEAD_TAG_LEN;
	b = malloc(*out_len);
	if (!b)
		die("out of memory");
	memset(b, 0, MSG_TRANSPORT_HEADER_LEN);
	b[0] = MSG_TRANSPORT;
	memcpy(b + 4, &idx, 4);
	memcpy(b + 8, counter_le, 8);
	wg_aead_encrypt(b + MSG_TRANSPORT_HEADER_LEN, plen ? data + 8 : NULL, plen, NULL, 0, counter,
		     s->send_key);
	return b;
}

static uint8_t *make_initiation(size_t *out_len)
{
	struct msg_initiation m;

	if (noise_create_initiation(&phs, &plocal, &m, HARNESS_INIT_INDEX,
				    FUZZ_WALL_START + ++wall_step * NSEC_PER_SEC) != NOISE_OK)
		return NULL;
	cookie_add_macs(&pmaker, (uint8_t *)&m, sizeof(m), now);
	*out_len = sizeof(m);
	return dup_bytes(&m, sizeof(m));
}

static uint8_t *make_sealed_initiation(const uint8_t *data, size_t len, size_t *out_len)
{
	struct msg_initiation m;

	fuzz_seal_initiation_from(&m, dev.local->private_key, dev.local->public_key, data, len);
	cookie_add_macs(&pmaker, (uint8_t *)&m, sizeof(m), now);
	*out_len = sizeof(m);
	return dup_bytes(&m, sizeof(m));
}

static uint8_t *make_cookie_reply(const struct session *s, const uint8_t *data, size_t len,
				  size_t *out_len)
{
	struct msg_cookie_reply r;
	uint8_t cookie[MAC_LEN];
	size_t off = 0;

	memset(&r, 0, sizeof(r));
	r.header.type = MSG_COOKIE_REPLY;
	fuzz_take(&r.receiver_index, sizeof(r.receiver_index), data, len, &off);
	r.receiver_index ^= host_to_le32(s->remote_index);
	fuzz_take(r.nonce, sizeof(r.nonce), data, len, &off);
	fuzz_take(cookie, sizeof(cookie), data, len, &off);
	wg_xaead_encrypt(r.encrypted_cookie, cookie, MAC_LEN, dev_mac1, MAC_LEN, r.nonce,
		      pchecker.cookie_key);
	*out_len = sizeof(r);
	return dup_bytes(&r, sizeof(r));
}

/* A super-packet read from a TUN with IFF_VNET_HDR, as daemon.c splits it. */
static void tun_read_vnet(const uint8_t *data, size_t len)
{
	struct gso_iter it;

	if (len > PACKET_BUF_LEN)
		len = PACKET_BUF_LEN;
	memcpy(dev.tun_read_buf, data, len);
	if (gso_begin(&it, dev.tun_read_buf, len) != GSO_OK)
		return;
	for (;;) {
		uint8_t *slot = dev.tx_bufs[dev.tx_count] + MSG_TRANSPORT_HEADER_LEN;
		size_t n = gso_next(&it, slot, TX_BUF_LEN - MSG_TRANSPORT_HEADER_LEN - 32);

		if (!n)
			break;
		send_from_tun(&dev, slot, n, now);
	}
}

static void device_event(const uint8_t *data, size_t len)
{
	uint8_t op = len ? data[0] : 0;

	data += len ? 1 : 0;
	len -= len ? 1 : 0;
	switch (op % EVENT_OPS) {
	case 0:
		send_initiation(peer, false);
		break;
	case 1:
		send_keepalive(peer);
		break;
	case 2: {
		/* The daemon reads a TUN packet straight into the send slot. */
		uint8_t *slot = dev.tx_bufs[dev.tx_count] + MSG_TRANSPORT_HEADER_LEN;

		if (len > TX_BUF_LEN - 64)
			len = TX_BUF_LEN - 64;
		memcpy(slot, data, len);
		send_from_tun(&dev, slot, len, now);
		break;
	}
	case 3:
		tun_read_vnet(data, len);
		break;
	case 4:
		timer_heap_run(&dev, now);
		break;
	default: {
		static const char *const modes[] = { "kernel", "direct", "refuse" };
		char body[64];

		snprintf(body, sizeof(body), "peer_to_peer=%s\n", modes[(len ? data[0] : 0) % 3]);
		uapi_set(&dev, body);
		break;
	}
	}
}

/* FUZZ_TRACE=1: one line per record on stderr, to check what inputs reach. */
static bool trace;

static void trace_record(size_t i, uint8_t ctl, size_t len)
{
	fprintf(stderr, "record %zu: kind %u len %zu:", i, ctl & CTL_KIND, len);
	for (int r = 0; r < DROP_COUNT; r++)
		if (dev.drops[r])
			fprintf(stderr, " %s=%llu", drop_reason_name((enum drop_reason)r),
				(unsigned long long)dev.drops[r]);
	fprintf(stderr, " rx_packets=%llu handshakes_received=%llu sent=%llu answered=%llu"
		" cookies_sent=%llu kp=%c%c%c newest=%d pending=%d cookie=%d\n",
		(unsigned long long)peer->rx_packets, (unsigned long long)peer->handshakes_received,
		(unsigned long long)peer->handshakes_sent, (unsigned long long)dev.handshakes_answered,
		(unsigned long long)dev.cookie_replies_sent, peer->kp_previous ? 'p' : '-',
		peer->kp_current ? 'c' : '-', peer->kp_next ? 'n' : '-', s_newest.valid,
		have_pending, pmaker.have_cookie);
}

/* --- state --------------------------------------------------------------- */

static void reset(void)
{
	struct keypair *kp;

	for (int i = 0; i < 2; i++) {
		struct peer *p = i ? peer2 : peer;

		peer_zero_keys(p);
		peer_staged_clear(p);
		timer_heap_remove(&dev, p);
	}
	index_table_free(&dev.index);
	ratelimiter_free(dev.ratelimiter);
	ratelimiter_free(dev.cookie_limiter);
	ratelimiter_free(dev.dh_limiter);

	fuzz_rng_seed(2);
	dev = dev_snap;
	*peer = peer_snap;
	*peer2 = peer2_snap;
	*peer->hs = peer_hs_snap;
	*peer2->hs = peer2_hs_snap;
	now = now_monotonic_ns();
	kp = device_keypair_new(&dev);
	if (!kp || index_table_init(&dev.index) < 0 || !(dev.ratelimiter = ratelimiter_new(64)) ||
	    !(dev.cookie_limiter = ratelimiter_new_rate(64, COOKIE_REPLIES_PER_SECOND, 1)) ||
	    !(dev.dh_limiter = ratelimiter_new_interval(64, REKEY_TIMEOUT, 2)))
		die("out of memory");
	*kp = kp_snap;
	kp->birth_ns = now;
	fuzz_rng_force_next_u32(kp_snap.local_index);
	if (index_table_add(&dev.index, peer, kp) != kp_snap.local_index)
		die("cannot restore the session's receiver index");
	peer_install_keypair(peer, kp);

	phs = phs_snap;
	pmaker = pmaker_snap;
	s_newest.valid = false;
	have_pending = false;
	memcpy(dev_mac1, dev_mac1_snap, MAC_LEN);
	have_dev_mac1 = true;
	wall_step = 0;
	n_cap = 0;
}

static void setup(void)
{
	static const uint8_t v4[][4] = { { 10, 10, 0, 2 }, { 10, 10, 1, 0 } };
	static const uint8_t v4_cidr[] = { 32, 24 };
	static const uint8_t v4_2[4] = { 10, 20, 0, 0 };
	uint8_t v6[16] = { 0xfd, 0x00, 0x00, 0x10 }, v6_2[16] = { 0xfd, 0x00, 0x00, 0x20 };
	uint8_t priv2[KEY_LEN], pub2[KEY_LEN];
	union sockaddr_any ep2 = { 0 };
	struct msg_initiation m;
	int null_fd = open("/dev/null", O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	fuzz_crypto_init();
	if (null_fd < 0 || device_init(&dev, "fuzz0") < 0)
		die("cannot create the device");
	/* sendto/sendmmsg are captured (fuzz_common.h): any fd >= 0 will do. */
	dev.udp_fd = null_fd;
	dev.udp_family = AF_INET6;
	dev.tun_fd = null_fd;
	if (!device_set_private_key(&dev, FUZZ_DEV_PRIV) || !noise_local_set(&plocal, FUZZ_PEER_PRIV))
		die("bad fixed keys");
	peer = device_peer_create(&dev, plocal.public_key);
	if (!peer)
		die("cannot create the peer");
	noise_handshake_set_psk(peer->hs, FUZZ_PSK);
	for (size_t i = 0; i < 2; i++)
		if (allowedips_insert(dev.aips, AF_INET, v4[i], v4_cidr[i], &peer->aips) < 0)
			die("allowedips_insert");
	if (allowedips_insert(dev.aips, AF_INET6, v6, 64, &peer->aips) < 0)
		die("allowedips_insert");

	/* The other peer: a fixed public key, no session, a fixed endpoint. */
	memset(priv2, 0x77, sizeof(priv2));
	wg_key_clamp(priv2);
	if (!wg_key_public_from_private(pub2, priv2) || !(peer2 = device_peer_create(&dev, pub2)) ||
	    allowedips_insert(dev.aips, AF_INET, v4_2, 16, &peer2->aips) < 0 ||
	    allowedips_insert(dev.aips, AF_INET6, v6_2, 64, &peer2->aips) < 0)
		die("cannot create the other peer");
	ep2.in.sin_family = AF_INET;
	ep2.in.sin_port = htons(51822);
	inet_pton(AF_INET, "198.51.100.7", &ep2.in.sin_addr);
	peer_set_endpoint(peer2, &ep2);

	src_a.addr.in.sin_family = AF_INET;
	src_a.addr.in.sin_port = htons(51820);
	inet_pton(AF_INET, "192.0.2.1", &src_a.addr.in.sin_addr);
	src_b.addr.in6.sin6_family = AF_INET6;
	src_b.addr.in6.sin6_port = htons(51821);
	inet_pton(AF_INET6, "2001:db8::1", &src_b.addr.in6.sin6_addr);
	src_b.src.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::2", &src_b.src.addr.v6);

	noise_handshake_init(&phs, &plocal, dev.local->public_key, FUZZ_PSK);
	cookie_maker_init(&pmaker, dev.local->public_key);
	cookie_checker_init(&pchecker, plocal.public_key);
	fuzz_on_send = on_send;

	/* The session: our initiation through the real receive path; the
	 * device's response comes back through on_send. */
	now = now_monotonic_ns();
	if (noise_create_initiation(&phs, &plocal, &m, HARNESS_INIT_INDEX, FUZZ_WALL_START) !=
	    NOISE_OK)
		die("noise_create_initiation");
	cookie_add_macs(&pmaker, (uint8_t *)&m, sizeof(m), now);
	receive_packet(&dev, (uint8_t *)&m, sizeof(m), &src_a, 0, now);
	send_flush(&dev);
	process_captures();
	if (!s_newest.valid || !peer->kp_next)
		die("the set-up handshake failed");
	s_setup = s_newest;
	s_newest.valid = false;
	kp_snap = *peer->kp_next;
	memcpy(dev_mac1_snap, dev_mac1, MAC_LEN);

	/* Snapshots of the state without keypairs; reset() installs one. */
	peer_zero_keys(peer);
	peer_staged_clear(peer);
	timer_heap_remove(&dev, peer);
	timers_init(&peer->timers, 0);
	/* "Long ago": the flood check must not depend on when an input runs. */
	peer->hs->last_initiation_consumption_ns = 0;
	memset(dev.drops, 0, sizeof(dev.drops));
	dev.handshakes_answered = 0;
	dev.cookie_replies_sent = 0;
	peer->rx_bytes = peer->tx_bytes = peer->rx_packets = peer->tx_packets = 0;
	peer->handshakes_received = peer->handshakes_sent = 0;
	peer_snap = *peer;
	peer2_snap = *peer2;
	peer_hs_snap = *peer->hs;
	peer2_hs_snap = *peer2->hs;
	dev_snap = dev;
	phs_snap = phs;
	pmaker_snap = pmaker;
}

/* --- seeds --------------------------------------------------------------- */

struct seed {
	uint8_t buf[8192];
	size_t len;
};

static void seed_record(struct seed *s, uint8_t ctl, uint8_t dt, const void *data, size_t len)
{
	if (s->len + 4 + len > sizeof(s->buf))
		die("seed too long");
	s->buf[s->len++] = ctl;
	s->buf[s->len++] = dt;
	s->buf[s->len++] = (uint8_t)len;
	s->buf[s->len++] = (uint8_t)(len >> 8);
	if (len)
		memcpy(s->buf + s->len, data, len);
	s->len += len;
}

static void put16be(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32be(uint8_t *p, uint32_t v)
{
	put16be(p, v >> 16);
	put16be(p + 2, v & 0xffff);
}

/* IPv4 + TCP (20 + 20) with payload; returns the length. */
static size_t ipv4_tcp(uint8_t *p, const uint8_t src[4], const uint8_t dst[4], uint32_t seq,
		       uint8_t flags, size_t payload)
{
	size_t len = 40 + payload;

	memset(p, 0, len);
	p[0] = 0x45;
	put16be(p + 2, (unsigned)len);
	p[6] = 0x40;	/* DF */
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	put16be(p + 10, csum_fold(csum_add(0, p, 20)));
	put16be(p + 20, 40000);
	put16be(p + 22, 5201);
	put32be(p + 24, seq);
	put32be(p + 28, 1);
	p[32] = 5 << 4;
	p[33] = flags;
	put16be(p + 34, 512);
	for (size_t i = 0; i < payload; i++)
		p[40 + i] = (uint8_t)i;
	return len;
}

/* IPv4 ICMP echo request (8 bytes + payload). */
static size_t ipv4_icmp(uint8_t *p, const uint8_t src[4], const uint8_t dst[4], size_t payload)
{
	size_t len = 28 + payload;

	memset(p, 0, len);
	p[0] = 0x45;
	put16be(p + 2, (unsigned)len);
	p[8] = 64;
	p[9] = IPPROTO_ICMP;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	put16be(p + 10, csum_fold(csum_add(0, p, 20)));
	p[20] = 8;
	return len;
}

/* IPv6 ICMPv6 echo request from fd00:10::2. */
static size_t ipv6_icmp(uint8_t *p, size_t payload)
{
	size_t len = 48 + payload;

	memset(p, 0, len);
	p[0] = 0x60;
	put16be(p + 4, (unsigned)(8 + payload));
	p[6] = 58;
	p[7] = 64;
	p[8] = 0xfd;
	p[11] = 0x10;
	p[23] = 2;
	p[24] = 0xfd;
	p[27] = 0x10;
	p[39] = 1;
	p[40] = 128;
	return len;
}

/* counter(8, LE) + payload, for kind 2. */
static size_t transport_data(uint8_t *out, uint64_t counter, const uint8_t *pkt, size_t len)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(counter >> (8 * i));
	if (len)
		memcpy(out + 8, pkt, len);
	return 8 + len;
}

static void write_seeds(const char *dir)
{
	static const uint8_t peer_ip[4] = { 10, 10, 0, 2 }, dev_ip[4] = { 10, 10, 0, 1 };
	static const uint8_t spoofed[4] = { 10, 99, 0, 1 };
	struct noise_handshake phs_save = phs;
	struct cookie_maker pmaker_save = pmaker;
	static struct seed s;
	uint8_t pkt[2048], rec[2100], *b;
	size_t n, blen;

	/* A valid initiation, as raw bytes, and a mutated one that gets its
	 * macs fixed. */
	reset();
	b = make_initiation(&blen);
	s.len = 0;
	seed_record(&s, K_RAW, 0, b, blen);
	fuzz_write_seed(dir, "raw_initiation", s.buf, s.len);
	b[40] ^= 1;
	s.len = 0;
	seed_record(&s, K_MACS, 0, b, blen);
	fuzz_write_seed(dir, "initiation_macs_fixed", s.buf, s.len);
	free(b);
	phs = phs_save;
	pmaker = pmaker_save;

	/* Raw transport messages on the set-up session: the ACK, then data. */
	s.len = 0;
	b = make_transport(&s_setup, rec, transport_data(rec, 0, NULL, 0), &blen);
	seed_record(&s, K_RAW, 0, b, blen);
	free(b);
	n = ipv4_icmp(pkt, peer_ip, dev_ip, 56);
	b = make_transport(&s_setup, rec, transport_data(rec, 1, pkt, n), &blen);
	seed_record(&s, K_RAW, 0, b, blen);
	seed_record(&s, K_RAW, 0, b, blen);	/* replayed */
	free(b);
	fuzz_write_seed(dir, "raw_transport", s.buf, s.len);

	/* Sealed: IPv4 and IPv6 data, padding, a spoofed inner source. */
	s.len = 0;
	n = ipv4_icmp(pkt, peer_ip, dev_ip, 30);
	memset(pkt + n, 0, 2);	/* padding to a multiple of 16 */
	seed_record(&s, K_TRANSPORT, 0, rec, transport_data(rec, 0, pkt, n + 2));
	n = ipv6_icmp(pkt, 16);
	seed_record(&s, K_TRANSPORT, 0, rec, transport_data(rec, 7, pkt, n));
	n = ipv4_icmp(pkt, spoofed, dev_ip, 8);
	seed_record(&s, K_TRANSPORT, 0, rec, transport_data(rec, 3, pkt, n));
	seed_record(&s, K_TRANSPORT, 0, rec, transport_data(rec, 4, NULL, 0));	/* keepalive */
	fuzz_write_seed(dir, "sealed_ip", s.buf, s.len);

	/* A TCP flow to a TUN with IFF_VNET_HDR: four segments that merge. */
	s.len = 0;
	for (unsigned i = 0; i < 4; i++) {
		n = ipv4_tcp(pkt, peer_ip, dev_ip, 1000 + 100 * i, i == 3 ? 0x18 : 0x10,
			     i == 3 ? 60 : 100);
		seed_record(&s, K_TRANSPORT | CTL_VNET, 0, rec, transport_data(rec, i, pkt, n));
	}
	fuzz_write_seed(dir, "sealed_tcp_vnet", s.buf, s.len);

	/* One receive batch (bit 7): a run with the ACK, data and a duplicate;
	 * an initiation that ends it; then a run on the new session and on the
	 * old one, with TCP segments that merge. */
	s.len = 0;
	n = ipv4_icmp(pkt, peer_ip, dev_ip, 8);
	seed_record(&s, K_TRANSPORT | CTL_BATCH, 0, rec, transport_data(rec, 0, NULL, 0));
	seed_record(&s, K_TRANSPORT | CTL_BATCH, 0, rec, transport_data(rec, 1, pkt, n));
	seed_record(&s, K_TRANSPORT | CTL_BATCH, 0, rec, transport_data(rec, 1, pkt, n));
	seed_record(&s, K_TRANSPORT | CTL_BATCH, 0, rec, transport_data(rec, 2, pkt, n));
	seed_record(&s, K_INITIATION | CTL_BATCH, 0, NULL, 0);
	seed_record(&s, K_TRANSPORT | CTL_NEWEST | CTL_BATCH, 0, rec,
		    transport_data(rec, 0, pkt, n));
	for (unsigned i = 0; i < 4; i++) {
		n = ipv4_tcp(pkt, peer_ip, dev_ip, 1000 + 100 * i, i == 3 ? 0x18 : 0x10,
			     i == 3 ? 60 : 100);
		seed_record(&s, K_TRANSPORT | CTL_VNET | CTL_BATCH, 0, rec,
			    transport_data(rec, 3 + i, pkt, n));
	}
	fuzz_write_seed(dir, "batch_runs", s.buf, s.len);

	/* A new handshake from the harness peer, then data on it. */
	s.len = 0;
	seed_record(&s, K_INITIATION, 0, NULL, 0);
	n = ipv4_icmp(pkt, peer_ip, dev_ip, 8);
	seed_record(&s, K_TRANSPORT | CTL_NEWEST, 0, rec, transport_data(rec, 0, pkt, n));
	fuzz_write_seed(dir, "new_handshake", s.buf, s.len);

	/* Under load: cookie reply, then mac2; a cookie reply to the device. */
	s.len = 0;
	seed_record(&s, K_INITIATION | CTL_UNDER_LOAD, 0, NULL, 0);
	seed_record(&s, K_INITIATION | CTL_UNDER_LOAD, 25, NULL, 0);
	seed_record(&s, K_INITIATION | CTL_UNDER_LOAD | CTL_SRC_B, 25, NULL, 0);
	memset(rec, 0, 4);
	memset(rec + 4, 0x5a, 40);
	seed_record(&s, K_COOKIE | CTL_NEWEST, 0, rec, 44);
	fuzz_write_seed(dir, "under_load", s.buf, s.len);

	/* An initiation sealed from chosen parts: ephemeral = the harness
	 * peer's public key (a valid point), a newer timestamp. */
	s.len = 0;
	memcpy(rec, plocal.public_key, KEY_LEN);
	memcpy(rec + 32, plocal.public_key, KEY_LEN);
	wg_tai64n_from_unix_ns(rec + 64, FUZZ_WALL_START + 100 * NSEC_PER_SEC);
	memcpy(rec + 76, "\x01\x02\x03\x04", 4);
	seed_record(&s, K_SEALED_INIT, 0, rec, 80);
	fuzz_write_seed(dir, "sealed_initiation", s.buf, s.len);

	/* The device initiates (confirming the session first, as the data
	 * path would); we answer; it sends on the new session. */
	s.len = 0;
	seed_record(&s, K_TRANSPORT, 0, rec, transport_data(rec, 0, NULL, 0));
	rec[0] = 0;
	seed_record(&s, K_EVENT, 0, rec, 1);
	seed_record(&s, K_RESPONSE, 0, NULL, 0);
	n = ipv4_icmp(pkt, dev_ip, peer_ip, 20);
	rec[0] = 2;
	memcpy(rec + 1, pkt, n);
	seed_record(&s, K_EVENT, 0, rec, 1 + n);
	n = ipv4_icmp(pkt, peer_ip, dev_ip, 20);
	seed_record(&s, K_TRANSPORT | CTL_NEWEST, 0, rec, transport_data(rec, 0, pkt, n));
	fuzz_write_seed(dir, "device_initiates", s.buf, s.len);

	/* The TUN side: a TSO super-packet to the peer, then timers later. */
	s.len = 0;
	seed_record(&s, K_TRANSPORT, 0, rec, transport_data(rec, 0, NULL, 0));
	rec[0] = 3;
	memset(rec + 1, 0, VNET_HDR_LEN);
	rec[1] = 1;		/* NEEDS_CSUM */
	rec[2] = 1;		/* TCPv4 */
	rec[3] = 40;		/* hdr_len */
	rec[5] = 500 & 0xff;	/* gso_size, little-endian */
	rec[6] = 500 >> 8;
	rec[7] = 20;		/* csum_start */
	rec[9] = 16;		/* csum_offset */
	n = ipv4_tcp(rec + 1 + VNET_HDR_LEN, dev_ip, peer_ip, 5000, 0x18, 1400);
	seed_record(&s, K_EVENT, 0, rec, 1 + VNET_HDR_LEN + n);
	rec[0] = 4;
	seed_record(&s, K_EVENT, 34, rec, 1);	/* 2^34 ns: ~17 s later */
	fuzz_write_seed(dir, "tun_and_timers", s.buf, s.len);

	/* From the harness peer to the other peer: forwarded, refused, and
	 * to the TUN, by PeerToPeer. */
	s.len = 0;
	for (uint8_t mode = 1; mode <= 3; mode++) {
		static const uint8_t other_ip[4] = { 10, 20, 0, 5 };

		rec[0] = 5;
		rec[1] = mode % 3;
		seed_record(&s, K_EVENT, 0, rec, 2);
		n = ipv4_icmp(pkt, peer_ip, other_ip, 40);
		seed_record(&s, K_TRANSPORT, 0, rec, transport_data(rec, mode, pkt, n));
	}
	fuzz_write_seed(dir, "peer_to_peer", s.buf, s.len);

	/* Odd sizes and types. */
	s.len = 0;
	seed_record(&s, K_RAW, 0, "\x04\x00\x00\x00", 4);
	seed_record(&s, K_RAW, 0, "\x09\x00\x00\x00\x01\x02", 6);
	memset(rec, 0, 64);
	rec[0] = MSG_COOKIE_REPLY;
	seed_record(&s, K_RAW, 0, rec, 64);
	fuzz_write_seed(dir, "odd", s.buf, s.len);
}

/* --- libFuzzer ----------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return fuzz_initialize(&trace, setup, write_seeds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *bufs[MAX_RECORDS];
	size_t n_bufs = 0, records = 0;
	bool in_batch = false;

	reset();
	while (size >= 4 && records++ < MAX_RECORDS) {
		uint8_t ctl = data[0], dt = data[1];
		size_t len = (size_t)data[2] | (size_t)data[3] << 8, blen = len;
		const struct endpoint *src = ctl & CTL_SRC_B ? &src_b : &src_a;
		const struct session *session =
			ctl & CTL_NEWEST && s_newest.valid ? &s_newest : &s_setup;
		const uint8_t *rec = data + 4;
		uint8_t *b = NULL, ds;
		bool vnet = ctl & CTL_VNET;

		size -= 4;
		if (len > size)
			len = blen = size;
		ds = len ? rec[len - 1] : 0;
		data += 4 + len;
		size -= len;

		if (dt)
			now += 1ULL << (dt % 40);
		if (ctl & CTL_UNDER_LOAD)
			dev.under_load_until_ns = now + NSEC_PER_SEC;
		if (in_batch && (!(ctl & CTL_BATCH) || (ctl & CTL_KIND) == K_EVENT ||
				 vnet != dev.tun_vnet_hdr)) {
			receive_batch_end(&dev, now);
			send_flush(&dev);
			process_captures();
			in_batch = false;
		}
		if (vnet != dev.tun_vnet_hdr) {
			receive_flush(&dev);
			dev.tun_vnet_hdr = vnet;
		}
		switch (ctl & CTL_KIND) {
		case K_MACS:
			b = dup_bytes(rec, len);
			if (len >= 2 * MAC_LEN)
				cookie_add_macs(&pmaker, b, len, now);
			break;
		case K_TRANSPORT:
			b = make_transport(session, rec, len, &blen);
			break;
		case K_INITIATION:
			b = make_initiation(&blen);
			break;
		case K_SEALED_INIT:
			b = make_sealed_initiation(rec, len, &blen);
			break;
		case K_RESPONSE:
			if (have_pending) {
				cookie_add_macs(&pmaker, (uint8_t *)&pending, sizeof(pending), now);
				b = dup_bytes(&pending, sizeof(pending));
				blen = sizeof(pending);
				have_pending = false;
			} else {
				b = dup_bytes(rec, len);
			}
			break;
		case K_COOKIE:
			b = have_dev_mac1 ? make_cookie_reply(session, rec, len, &blen) :
					    dup_bytes(rec, len);
			break;
		case K_EVENT:
			device_event(rec, len);
			break;
		default:
			b = dup_bytes(rec, len);
			break;
		}
		if (b) {
			/* Kept until the end: queued TUN packets point into it. */
			bufs[n_bufs++] = b;
			if ((ctl & CTL_BATCH) && (ctl & CTL_KIND) != K_EVENT) {
				receive_batch_add(&dev, b, blen, src, ds, now);
				in_batch = true;
			} else {
				receive_packet(&dev, b, blen, src, ds, now);
			}
		}
		if (!in_batch) {
			send_flush(&dev);
			process_captures();
		}
		if (trace)
			trace_record(records, ctl, len);
	}
	if (in_batch) {
		receive_batch_end(&dev, now);
		send_flush(&dev);
		process_captures();
	}
	receive_flush(&dev);
	for (size_t i = 0; i < n_bufs; i++)
		free(bufs[i]);
	return 0;
}
