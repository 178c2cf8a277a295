/* bench_packet: the packet path in process, next to the crypto it is built on.
 *
 * Two in-process peers run a real Noise handshake (SYN, SYN-ACK, keypairs,
 * the ACK that confirms the responder), then peer a encrypts batches of
 * packets with transport_encrypt() and peer b decrypts them with
 * transport_decrypt(), in place, as the daemon does. The same batches are
 * then sealed and opened with bare libsodium
 * crypto_aead_chacha20poly1305_ietf_{encrypt,decrypt} on the same bytes (the
 * padded payload, WireGuard's nonce), so the difference is the cost of our
 * own code: header, padding, counter and expiry checks, replay window,
 * nonce building, the wrapper calls.
 *
 * Payloads of 1420 bytes (a full packet at the default MTU) and 64 bytes (a
 * small packet, where per-packet overhead dominates). No system calls in the
 * timed loops: times are passed in, the clock is read once per batch. The
 * two implementations alternate in short rounds so that frequency changes
 * and other load hit both alike; the table is printed for all rounds and
 * for the best round of each (on a busy machine the best round is the
 * better estimate of what the code costs).
 *
 * MB is 10^6 payload bytes (what goes in and out of the tunnel, not the
 * bytes on the wire). ns/pkt is wall time per packet on one core.
 *
 * Then the other steps a packet takes through the daemon, each timed alone
 * on the same sizes (best of ROUNDS): on the way out, the TUN read's split
 * of a TSO super-packet (or a lone packet with a partial checksum) with the
 * checksum completed (gso_next) and the allowed-IPs lookup of the
 * destination; on the way in, the allowed-IPs check of the source and the
 * GRO merge check, which verifies each segment's checksum (gro_can_merge).
 * The closing lines add them to the AEAD wrappers' cost above bare
 * libsodium: the per-packet overhead of the path in process (system calls
 * and the kernel not counted).
 *
 * usage: bench_packet [seconds per size and operation, default 2] */
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "crypto/crypto.h"
#include "handshake/cookie.h"
#include "handshake/noise.h"
#include "handshake/transport.h"
#include "handshake/wire.h"
#include "tun/offload.h"
#include "vpnd/datapath/allowedips.h"

#define MTU 1420
#define BATCH 64	/* packets per timed batch: ~96 KB at 1420 bytes, cache-resident */
#define ROUNDS 8	/* alternations between ours and libsodium */
#define SLOT (MSG_TRANSPORT_HEADER_LEN + MTU + MESSAGE_PADDING + AEAD_TAG_LEN)

/* Arbitrary but plausible clocks: wall time in Nov 2023, monotonic > 0. */
#define WALL_START (1700000000ULL * NSEC_PER_SEC)
#define NOW_START  (1000ULL * NSEC_PER_SEC)

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_packet: %s: %s\n", what, why);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- two peers and a handshake -------------------------------------------- */

struct peer {
	struct noise_local local;
	struct noise_handshake hs;	/* with the other peer */
	struct noise_lookup lookup;
	struct keypair kp;
};

static struct noise_handshake *lookup_peer(void *ctx, const uint8_t pub[KEY_LEN])
{
	struct peer *p = ctx;

	return wg_ct_equal(pub, p->hs.remote_static, KEY_LEN) ? &p->hs : NULL;
}

static void identity(struct peer *p)
{
	uint8_t priv[KEY_LEN];

	wg_key_generate_private(priv);
	if (!noise_local_set(&p->local, priv))
		die("identity", "noise_local_set failed");
	wg_secure_wipe(priv, sizeof(priv));
}

static void check_noise(const char *what, enum noise_result r)
{
	if (r != NOISE_OK)
		die(what, noise_result_str(r));
}

/* a initiates, b responds; both end with a confirmed keypair. */
static void handshake(struct peer *a, struct peer *b)
{
	static const uint8_t addr_a[4] = { 198, 18, 0, 1 };
	struct cookie_maker maker_a, maker_b;
	struct cookie_checker checker_a, checker_b;
	struct msg_initiation init;
	struct msg_response resp;
	struct noise_handshake *found = NULL;
	uint8_t src[COOKIE_SOURCE_MAX], ack[MSG_TRANSPORT_MIN_LEN];
	size_t src_len, len = 0, plain = 1;

	identity(a);
	identity(b);
	noise_handshake_init(&a->hs, &a->local, b->local.public_key, NULL);
	noise_handshake_init(&b->hs, &b->local, a->local.public_key, NULL);
	a->lookup = (struct noise_lookup){ .ctx = a, .by_public_key = lookup_peer };
	b->lookup = (struct noise_lookup){ .ctx = b, .by_public_key = lookup_peer };
	cookie_maker_init(&maker_a, b->local.public_key);
	cookie_maker_init(&maker_b, a->local.public_key);
	cookie_checker_init(&checker_a, a->local.public_key);
	cookie_checker_init(&checker_b, b->local.public_key);
	src_len = cookie_source_bytes(src, AF_INET, addr_a, 51820);

	check_noise("create initiation",
		    noise_create_initiation(&a->hs, &a->local, &init, 0x1001, WALL_START));
	cookie_add_macs(&maker_a, (uint8_t *)&init, sizeof(init), NOW_START);
	if (cookie_validate(&checker_b, (uint8_t *)&init, sizeof(init), src, src_len, false,
			    NOW_START) == COOKIE_MAC_INVALID)
		die("initiation", "mac1 invalid");
	check_noise("consume initiation",
		    noise_consume_initiation(&b->local, &init, &b->lookup, NOW_START, &found));
	if (found != &b->hs)
		die("consume initiation", "wrong peer");
	check_noise("create response", noise_create_response(&b->hs, &b->local, &resp, 0x2002));
	cookie_add_macs(&maker_b, (uint8_t *)&resp, sizeof(resp), NOW_START);
	if (cookie_validate(&checker_a, (uint8_t *)&resp, sizeof(resp), src, src_len, false,
			    NOW_START) == COOKIE_MAC_INVALID)
		die("response", "mac1 invalid");
	check_noise("consume response", noise_consume_response(&a->hs, &a->local, &resp));
	check_noise("derive (initiator)", noise_derive_keypair(&a->hs, &a->kp, NOW_START));
	check_noise("derive (responder)", noise_derive_keypair(&b->hs, &b->kp, NOW_START));

	/* The ACK: a keepalive that confirms b's keypair. */
	if (transport_encrypt(&a->kp, ack, sizeof(ack), 0, MTU, NOW_START, &len) != TRANSPORT_OK ||
	    transport_decrypt(&b->kp, ack, len, NOW_START, &plain) != TRANSPORT_OK_CONFIRMED)
		die("handshake", "keypairs do not match");
	cookie_maker_wipe(&maker_a);
	cookie_maker_wipe(&maker_b);
	cookie_checker_wipe(&checker_a);
	cookie_checker_wipe(&checker_b);
}

/* --- the measurements --------------------------------------------------- */

struct result {
	double enc_s, dec_s;	/* time spent */
	uint64_t enc_n, dec_n;	/* packets */
};

/* Packets per second, overall and in the best round. */
struct rates {
	struct result all;
	double best_enc, best_dec;
};

static void add_round(struct rates *r, const struct result *round)
{
	double enc = (double)round->enc_n / round->enc_s, dec = (double)round->dec_n / round->dec_s;

	r->all.enc_s += round->enc_s;
	r->all.dec_s += round->dec_s;
	r->all.enc_n += round->enc_n;
	r->all.dec_n += round->dec_n;
	if (enc > r->best_enc)
		r->best_enc = enc;
	if (dec > r->best_dec)
		r->best_dec = dec;
}

static uint8_t bufs[BATCH][SLOT] __attribute__((aligned(64)));
static size_t lens[BATCH];

static void fill_payloads(size_t plain_len)
{
	for (int i = 0; i < BATCH; i++)
		for (size_t j = 0; j < plain_len; j++)
			bufs[i][MSG_TRANSPORT_HEADER_LEN + j] = (uint8_t)(i * 31 + j);
}

/* Ours: transport_encrypt on a's keypair, transport_decrypt on b's. */
static void run_ours(struct peer *a, struct peer *b, size_t plain_len, double secs,
		     struct result *r)
{
	double t0, t1, t2, end = now_s() + secs;
	size_t plain = 0;

	do {
		t0 = now_s();
		for (int i = 0; i < BATCH; i++)
			if (transport_encrypt(&a->kp, bufs[i], SLOT, plain_len, MTU, NOW_START,
					      &lens[i]) != TRANSPORT_OK)
				die("transport_encrypt", "failed");
		t1 = now_s();
		for (int i = 0; i < BATCH; i++)
			if (transport_decrypt(&b->kp, bufs[i], lens[i], NOW_START, &plain) !=
			    TRANSPORT_OK)
				die("transport_decrypt", "failed");
		t2 = now_s();
		r->enc_s += t1 - t0;
		r->dec_s += t2 - t1;
		r->enc_n += BATCH;
		r->dec_n += BATCH;
	} while (t2 < end);
	(void)plain;
}

/* libsodium alone, on the same bytes (payload + padding) with the same
 * nonce layout (4 zero bytes || le64 counter) and the same key. */
static void run_sodium(const uint8_t key[KEY_LEN], size_t sealed_len, uint64_t *counter,
		       double secs, struct result *r)
{
	double t0, t1, t2, end = now_s() + secs;
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = { 0 };
	unsigned long long clen = 0, mlen = 0;
	uint64_t first;

	do {
		first = *counter;
		t0 = now_s();
		for (int i = 0; i < BATCH; i++) {
			uint64_t le = host_to_le64(first + (uint64_t)i);
			uint8_t *p = bufs[i] + MSG_TRANSPORT_HEADER_LEN;

			memcpy(nonce + 4, &le, 8);
			crypto_aead_chacha20poly1305_ietf_encrypt(p, &clen, p, sealed_len, NULL, 0,
								  NULL, nonce, key);
		}
		t1 = now_s();
		for (int i = 0; i < BATCH; i++) {
			uint64_t le = host_to_le64(first + (uint64_t)i);
			uint8_t *p = bufs[i] + MSG_TRANSPORT_HEADER_LEN;

			memcpy(nonce + 4, &le, 8);
			if (crypto_aead_chacha20poly1305_ietf_decrypt(p, &mlen, NULL, p, clen, NULL,
								      0, nonce, key) != 0)
				die("libsodium decrypt", "failed");
		}
		t2 = now_s();
		*counter = first + BATCH;
		r->enc_s += t1 - t0;
		r->dec_s += t2 - t1;
		r->enc_n += BATCH;
		r->dec_n += BATCH;
	} while (t2 < end);
}

static void print_row(size_t plain_len, const char *op, double ours_pps, double raw_pps)
{
	double ours_ns = 1e9 / ours_pps, raw_ns = 1e9 / raw_pps;

	printf("%5zu  %-7s  %9.1f %10.0f %7.1f   %9.1f %10.0f %7.1f   %6.3fx %+7.1f\n",
	       plain_len, op, ours_pps * (double)plain_len / 1e6, ours_pps, ours_ns,
	       raw_pps * (double)plain_len / 1e6, raw_pps, raw_ns, ours_ns / raw_ns,
	       ours_ns - raw_ns);
}

/* Payload survives a round trip through ours: checked once, before timing. */
static void check_round_trip(struct peer *a, struct peer *b, size_t plain_len)
{
	size_t len = 0, plain = 0;

	fill_payloads(plain_len);
	if (transport_encrypt(&a->kp, bufs[0], SLOT, plain_len, MTU, NOW_START, &len) !=
	    TRANSPORT_OK ||
	    len != transport_message_len(plain_len, MTU) ||
	    transport_decrypt(&b->kp, bufs[0], len, NOW_START, &plain) != TRANSPORT_OK ||
	    plain < plain_len)
		die("round trip", "failed");
	for (size_t j = 0; j < plain_len; j++)
		if (bufs[0][MSG_TRANSPORT_HEADER_LEN + j] != (uint8_t)j)
			die("round trip", "payload changed");
}

/* --- the other steps of the path ---------------------------------------- */

#define SUPER_MAX (VNET_HDR_LEN + 65535)
#define RUN_MAX 64

struct steps {
	uint8_t super[SUPER_MAX];	/* what one TUN read gives */
	size_t super_len;
	unsigned segs;			/* packets in it */
	uint8_t seg[RUN_MAX][MTU];	/* the packets split out of it */
	size_t seg_len[RUN_MAX];
	struct allowedips *aips;
	struct allowedips_owner owners[4];
};

static void put16be(uint8_t *p, size_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* One TUN read's worth for packets of plain_len bytes: a TCP TSO super-
 * packet cut into MTU-sized segments, or (small) one UDP datagram; with
 * the checksum left partial as the kernel leaves it. */
static void build_super(struct steps *st, size_t plain_len)
{
	uint8_t *vh = st->super, *ip = vh + VNET_HDR_LEN;
	bool tcp = plain_len > 200;
	size_t l4_hdr = tcp ? 20 : 8, seg = plain_len - 20 - l4_hdr;
	unsigned n = tcp ? (unsigned)(60000 / seg) : 1;
	size_t total = 20 + l4_hdr + n * seg;
	uint32_t sum = 0;

	memset(st->super, 0, VNET_HDR_LEN + 20 + l4_hdr);
	vh[0] = 1;			/* NEEDS_CSUM */
	vh[1] = tcp ? 1 : 0;		/* TCPv4 or none */
	vh[2] = (uint8_t)(20 + l4_hdr);
	vh[4] = (uint8_t)seg;
	vh[5] = (uint8_t)(seg >> 8);
	vh[6] = 20;			/* csum_start */
	vh[8] = tcp ? 16 : 6;		/* csum_offset */
	ip[0] = 0x45;
	put16be(ip + 2, total);
	ip[6] = 0x40;			/* DF */
	ip[8] = 64;
	ip[9] = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	memcpy(ip + 12, (const uint8_t[]){ 198, 19, 2, 1, 198, 19, 2, 2 }, 8);
	put16be(ip + 10, csum_fold(csum_add(0, ip, 20)) & 0xffff);
	put16be(ip + 20, 41000);
	put16be(ip + 22, 5201);
	if (tcp) {
		ip[20 + 12] = 5 << 4;
		ip[20 + 13] = 0x10;	/* ACK */
		put16be(ip + 20 + 14, 502);
	} else {
		put16be(ip + 24, total - 20);
	}
	for (size_t j = 20 + l4_hdr; j < total; j++)
		ip[j] = (uint8_t)(j * 7);
	sum = csum_add(csum_add(0, ip + 12, 8), (const uint8_t[]){ 0, ip[9] }, 2);
	sum = csum_add(sum, (const uint8_t[]){ (uint8_t)((total - 20) >> 8), (uint8_t)(total - 20) }, 2);
	put16be(ip + 20 + vh[8], (uint16_t)~csum_fold(sum));
	st->super_len = VNET_HDR_LEN + total;
	st->segs = n;
}

/* The TUN side of sending: split (copy) and checksum, as tun_read_one. */
static unsigned step_split(struct steps *st)
{
	struct gso_iter it;
	unsigned n = 0;

	if (gso_begin(&it, st->super, st->super_len) != GSO_OK)
		die("gso_begin", "refused the super-packet");
	while (n < RUN_MAX && (st->seg_len[n] = gso_next(&it, st->seg[n], MTU)) != 0)
		n++;
	return n;
}

static unsigned step_route(struct steps *st)
{
	unsigned hits = 0;

	for (unsigned i = 0; i < st->segs; i++)
		hits += allowedips_lookup(st->aips, AF_INET, st->seg[i] + 16) == &st->owners[1];
	return hits == st->segs ? st->segs : 0;
}

static unsigned step_source(struct steps *st)
{
	unsigned hits = 0;

	for (unsigned i = 0; i < st->segs; i++)
		hits += allowedips_lookup(st->aips, AF_INET, st->seg[i] + 12) == &st->owners[0];
	return hits == st->segs ? st->segs : 0;
}

/* The receive side's merge check over the run, as tun_write_batch. */
static unsigned step_gro(struct steps *st)
{
	size_t total = st->seg_len[0], hdr = st->seg_len[0] > 200 ? 40 : 28;

	if (st->segs == 1)	/* a lone datagram: only its own checksum */
		return 1 + (csum_fold(csum_add(0, st->seg[0] + 20, st->seg_len[0] - 20)) & 0);
	for (unsigned i = 1; i < st->segs; i++) {
		if (!gro_can_merge(st->seg[0], st->seg_len[0], st->seg[i - 1], st->seg_len[i - 1],
				   st->seg[i], st->seg_len[i], total))
			die("gro_can_merge", "refused a segment of its own run");
		total += st->seg_len[i] - hdr;
	}
	return st->segs;
}

/* ns per packet of step, best of ROUNDS rounds of secs / ROUNDS each. */
static double time_step(unsigned (*step)(struct steps *), struct steps *st, double secs)
{
	double best = 1e30;

	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_s(), t1, end = t0 + secs / ROUNDS;
		uint64_t pkts = 0;

		do {
			/* enough packets between clock reads that the clock is
			 * not what is timed */
			for (int k = 0; k < 64; k++) {
				unsigned n = step(st);

				if (!n)
					die("step", "failed");
				pkts += n;
			}
			t1 = now_s();
		} while (t1 < end);
		if ((t1 - t0) * 1e9 / (double)pkts < best)
			best = (t1 - t0) * 1e9 / (double)pkts;
	}
	return best;
}

/* best[]: ours enc, raw enc, ours dec, raw dec (packets/s), from above. */
static void path_steps(size_t plain_len, const double best[4], double secs)
{
	static struct steps st;
	static const uint8_t nets[][4] = { { 198, 19, 2, 1 }, { 198, 19, 2, 2 },
					   { 198, 19, 3, 0 }, { 10, 0, 0, 0 } };
	static const uint8_t cidrs[] = { 32, 32, 24, 8 };
	double raw_enc = 1e9 / best[1], raw_dec = 1e9 / best[3];
	double wrap_enc = 1e9 / best[0] - raw_enc, wrap_dec = 1e9 / best[2] - raw_dec;
	double split, route, source, gro, over;

	st.aips = allowedips_new();
	if (!st.aips)
		die("allowedips_new", "out of memory");
	for (int i = 0; i < 4; i++)
		if (allowedips_insert(st.aips, AF_INET, nets[i], cidrs[i], &st.owners[i]) != 0)
			die("allowedips_insert", "failed");
	build_super(&st, plain_len);
	if (step_split(&st) != st.segs || st.seg_len[0] != plain_len)
		die("split", "unexpected segments");
	split = time_step(step_split, &st, secs);
	route = time_step(step_route, &st, secs);
	source = time_step(step_source, &st, secs);
	gro = time_step(step_gro, &st, secs);
	over = split + route + wrap_enc + source + gro + wrap_dec;
	printf("%5zu  %s\n", plain_len, st.segs > 1 ? "(TSO read of a TCP run, GRO check on the way in)"
						 : "(a lone UDP datagram with a partial checksum)");
	printf("       send  tun split+checksum %7.1f ns   route lookup %5.1f ns   "
	       "seal wrapper %+6.1f ns\n", split, route, wrap_enc);
	printf("       recv  source check       %7.1f ns   GRO check    %5.1f ns   "
	       "open wrapper %+6.1f ns\n", source, gro, wrap_dec);
	printf("       path overhead %.1f ns/pkt over bare libsodium seal+open %.1f ns/pkt: "
	       "%.0f %% (%.0f %% of the time in libsodium)\n", over, raw_enc + raw_dec,
	       100 * over / (raw_enc + raw_dec), 100 * (raw_enc + raw_dec) / (raw_enc + raw_dec + over));
	allowedips_free(st.aips);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 1420, 64 };
	enum { n_sizes = sizeof(sizes) / sizeof(sizes[0]) };
	static struct peer a, b;
	double best[n_sizes][4];	/* ours enc, raw enc, ours dec, raw dec */
	double secs = 2.0;
	uint64_t raw_counter = 1ULL << 40;	/* far from the transport counters */

	if (argc > 1) {
		char *end;

		errno = 0;
		secs = strtod(argv[1], &end);
		if (errno || *end || !(secs > 0)) {
			fprintf(stderr, "usage: %s [seconds per size and operation > 0]\n", argv[0]);
			return 2;
		}
	}
	if (!wg_crypto_init())
		die("libsodium", "cannot initialise");
	handshake(&a, &b);

	printf("bench_packet: in-process packet path, one core, %.1f s per size and operation\n",
	       secs);
	printf("ours = transport_encrypt/transport_decrypt (real handshake keys, in place)\n");
	printf("libsodium = crypto_aead_chacha20poly1305_ietf_* alone on the same bytes\n");
	printf("MB = 10^6 payload bytes; overhead = ours ns/pkt / libsodium ns/pkt\n\n");
	printf("%5s  %-7s  %9s %10s %7s   %9s %10s %7s   %7s %7s\n", "bytes", "op",
	       "ours MB/s", "pkts/s", "ns/pkt", "sod MB/s", "pkts/s", "ns/pkt", "ratio",
	       "+ns/pkt");
	for (size_t s = 0; s < n_sizes; s++) {
		size_t plain_len = sizes[s];
		size_t sealed = plain_len + transport_padding(plain_len, MTU);
		struct rates ours = { 0 }, raw = { 0 };

		check_round_trip(&a, &b, plain_len);
		fill_payloads(plain_len);
		/* Each round times encrypt and decrypt together, so a round of
		 * 2*secs/ROUNDS gives ~secs of each operation overall. */
		for (int round = 0; round < ROUNDS; round++) {
			struct result o = { 0 }, r = { 0 };

			/* who goes first alternates too */
			if (round % 2 == 0)
				run_ours(&a, &b, plain_len, 2 * secs / ROUNDS, &o);
			run_sodium(a.kp.send_key, sealed, &raw_counter, 2 * secs / ROUNDS, &r);
			if (round % 2 == 1)
				run_ours(&a, &b, plain_len, 2 * secs / ROUNDS, &o);
			add_round(&ours, &o);
			add_round(&raw, &r);
		}
		if (s == 0)
			printf("all rounds:\n");
		print_row(plain_len, "encrypt", (double)ours.all.enc_n / ours.all.enc_s,
			  (double)raw.all.enc_n / raw.all.enc_s);
		print_row(plain_len, "decrypt", (double)ours.all.dec_n / ours.all.dec_s,
			  (double)raw.all.dec_n / raw.all.dec_s);
		best[s][0] = ours.best_enc;
		best[s][1] = raw.best_enc;
		best[s][2] = ours.best_dec;
		best[s][3] = raw.best_dec;
	}
	printf("best round of %d (the one least disturbed by other load):\n", ROUNDS);
	for (size_t s = 0; s < n_sizes; s++) {
		print_row(sizes[s], "encrypt", best[s][0], best[s][1]);
		print_row(sizes[s], "decrypt", best[s][2], best[s][3]);
	}
	printf("\nthe other steps of the path (best of %d rounds, ns per packet):\n", ROUNDS);
	for (size_t s = 0; s < n_sizes; s++)
		path_steps(sizes[s], best[s], secs);
	keypair_wipe(&a.kp);
	keypair_wipe(&b.kp);
	noise_local_clear(&a.local);
	noise_local_clear(&b.local);
	return 0;
}
