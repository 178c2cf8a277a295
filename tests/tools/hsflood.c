/* hsflood: a handshake-initiation flood (the SYN flood of our protocol), for
 * the integration tests and by hand.
 *
 *   hsflood -t SERVER_IP:PORT -k SERVER_PUBLIC_KEY_BASE64 -a FIRST_SOURCE
 *           [-n ADDRESSES] [-s SOCKETS_PER_ADDRESS] [-r RATE] [-d SECONDS]
 *           [-c MAX_COUNT] [-p PREFIX_LEN] [-m] [-v]
 *
 * The attacker knows the server's public key but is no configured peer. Each
 * message is a 148-byte initiation with a random ephemeral, random
 * "encrypted" static and timestamp, and a valid mac1 (cookie_maker_init with
 * the server's public key, then cookie_add_macs), so it passes the server's
 * cheap check: a server that is not under load spends a DH on it and then
 * fails to decrypt the static; one under load must answer with a cookie
 * reply instead.
 *
 * Sources: ADDRESSES consecutive addresses from FIRST_SOURCE (IPv4, or IPv6
 * counting in the last 32 bits), each with SOCKETS_PER_ADDRESS UDP sockets
 * bound to random ports (10000-60999). With -p PREFIX_LEN (IPv6 only, 1-128,
 * default 128) the addresses count at that prefix length instead:
 * -a 2001:db8:100::1 -n 1000 -p 64 is ::1 in each of 1000 consecutive /64s
 * (2001:db8:100:0::1, 2001:db8:100:1::1, ...), which a server that limits
 * per /64 sees as 1000 senders. They must be local addresses (the test adds
 * them to the attacker's interface, or a local route makes a range ours):
 * cookie replies come back to them. Messages go round-robin over all sockets at RATE per second
 * (default 20000) for SECONDS (default 10, at most 300), at most MAX_COUNT
 * messages (default RATE * SECONDS); then it waits 300 ms for late replies,
 * prints its counters and exits. It always stops by itself.
 *
 * Replies: every 64-byte type-3 message is counted as a cookie reply and
 * opened as the real initiator would (cookie_consume_reply, with the mac1 of
 * the message it answers, found by its receiver index): "cookie_valid"
 * counts those that decrypt. With -m the flood then uses each socket's
 * cookie for mac2, like a sender that can receive at its address: the
 * server must then fall back on its per-source rate limit.
 *
 * Output (one line, key=value; -v adds one line per second on stderr):
 *   hsflood: sent=N send_errors=N received=N cookie_replies=N cookie_valid=N
 *            cookie_invalid=N other=N mac2_sent=N sources=N elapsed_ms=N rate=N
 * Exit status 0 when the flood ran (whatever came back), 1 on set-up
 * failure, 2 on usage errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "handshake/cookie.h"
#include "handshake/wire.h"

#define MAX_ADDRESSES    16384
#define MAX_SOCKETS      16384
#define MAX_SECONDS      300
#define MAX_RATE         2000000
#define MAX_COUNT_LIMIT  100000000ULL
#define RING_BITS        16		/* mac1 of the last 65536 messages */
#define RING_SIZE        (1u << RING_BITS)
#define LINGER_NS        (300 * MSEC_NS)
#define RECV_BATCH       64

struct source {
	int fd;
	struct cookie_maker maker;	/* mac1 key, and the cookie for mac2 (-m) */
};

struct sent_msg {
	uint32_t index;			/* sender index (host order); 0 = empty */
	uint32_t source;
	uint8_t mac1[MAC_LEN];
};

struct counters {
	uint64_t sent, send_errors, received, cookie_replies, cookie_valid, cookie_invalid,
		 other, mac2_sent;
};

static struct source *sources;
static size_t n_sources;
static struct sent_msg *ring;
static struct counters cnt;
static volatile sig_atomic_t stop;
static bool use_cookies;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: hsflood -t SERVER_IP:PORT -k SERVER_PUBKEY_B64 -a FIRST_SOURCE\n"
		"               [-n ADDRESSES=1] [-s SOCKETS_PER_ADDRESS=4] [-r RATE=20000]\n"
		"               [-d SECONDS=10] [-c MAX_COUNT] [-p PREFIX_LEN=128] [-m] [-v]\n");
	return 2;
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || !*s || *end || *s == '-' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* "1.2.3.4:51820" or "[2001:db8::1]:51820" */
static bool parse_target(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t hl;

	if (!colon || !parse_u64(colon + 1, 1, 65535, &port))
		return false;
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		host[hl - 1] = '\0';
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	*len = sizeof(*a);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

/* The i-th source address: FIRST + i (IPv4), or FIRST + i * 2^(128 -
 * prefix_len) (IPv6; the default 128 counts in the last bits). Big-endian
 * addition with carry from the prefix's last byte towards the first. */
static void nth_address(int family, const uint8_t first[16], uint32_t i, unsigned prefix_len,
			uint8_t out[16])
{
	size_t alen = family == AF_INET ? 4 : 16;
	unsigned shift = family == AF_INET ? 0 : 128 - prefix_len;
	uint64_t carry = (uint64_t)i << (shift % 8);

	memcpy(out, first, alen);
	for (size_t b = alen - shift / 8; b-- > 0 && carry;) {
		carry += out[b];
		out[b] = (uint8_t)carry;
		carry >>= 8;
	}
}

/* A UDP socket bound to addr and a random free port; -1 on failure. */
static int open_source(int family, const uint8_t addr[16], int epfd, uint32_t id)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int size = 1 << 20;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = id };

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	for (int attempt = 0; attempt < 100; attempt++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len;
		uint16_t port = (uint16_t)(10000 + wg_random_uniform(51000));

		if (family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			a->sin_family = AF_INET;
			a->sin_port = htons(port);
			memcpy(&a->sin_addr, addr, 4);
			len = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			a->sin6_family = AF_INET6;
			a->sin6_port = htons(port);
			memcpy(&a->sin6_addr, addr, 16);
			len = sizeof(*a);
		}
		if (bind(fd, (struct sockaddr *)&ss, len) == 0) {
			if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
				break;
			return fd;
		}
		if (errno != EADDRINUSE)
			break;
	}
	{
		char text[INET6_ADDRSTRLEN];
		int err = errno;

		inet_ntop(family, addr, text, sizeof(text));
		fprintf(stderr, "hsflood: cannot bind %s: %s (is it a local address?)\n", text,
			strerror(err));
	}
	close(fd);
	return -1;
}

static void send_one(const struct sockaddr_storage *dst, socklen_t dst_len, uint32_t salt,
		     uint64_t seq, uint64_t now)
{
	uint32_t si = (uint32_t)(seq % n_sources);
	struct source *s = &sources[si];
	struct msg_initiation msg;
	struct sent_msg *slot;
	uint32_t index = salt ^ (uint32_t)seq;

	if (!index)
		index = 1;
	memset(&msg, 0, sizeof(msg));
	msg.header.type = MSG_INITIATION;
	msg.sender_index = host_to_le32(index);
	/* Ephemeral, static and timestamp: noise to the server. */
	wg_random_bytes(msg.ephemeral, sizeof(msg.ephemeral) + sizeof(msg.encrypted_static) +
		     sizeof(msg.encrypted_timestamp));
	cookie_add_macs(&s->maker, (uint8_t *)&msg, sizeof(msg), now);
	if (sendto(s->fd, &msg, sizeof(msg), 0, (const struct sockaddr *)dst, dst_len) !=
	    (ssize_t)sizeof(msg)) {
		cnt.send_errors++;
		return;
	}
	cnt.sent++;
	if (s->maker.have_cookie && !wg_ct_is_zero(msg.macs.mac2, MAC_LEN))
		cnt.mac2_sent++;
	slot = &ring[index & (RING_SIZE - 1)];
	slot->index = index;
	slot->source = si;
	memcpy(slot->mac1, msg.macs.mac1, MAC_LEN);
}

static void handle_reply(uint32_t si, const uint8_t *buf, size_t len, uint64_t now)
{
	const struct msg_cookie_reply *reply = (const struct msg_cookie_reply *)buf;
	struct source *s = &sources[si];
	struct cookie_maker probe;
	struct sent_msg *slot;
	uint32_t index;

	cnt.received++;
	if (len != sizeof(*reply) || buf[0] != MSG_COOKIE_REPLY || buf[1] || buf[2] || buf[3]) {
		cnt.other++;
		return;
	}
	cnt.cookie_replies++;
	index = le32_to_host(reply->receiver_index);
	slot = &ring[index & (RING_SIZE - 1)];
	if (slot->index != index || slot->source != si) {
		cnt.cookie_invalid++;	/* not ours, or its message left the ring */
		return;
	}
	/* Opened as the initiator would: its ad is the mac1 it answers. */
	probe = s->maker;
	memcpy(probe.last_mac1, slot->mac1, MAC_LEN);
	probe.have_last_mac1 = true;
	if (cookie_consume_reply(&probe, reply, now) != COOKIE_REPLY_OK) {
		cnt.cookie_invalid++;
		return;
	}
	cnt.cookie_valid++;
	slot->index = 0;	/* one reply per message */
	if (use_cookies) {
		memcpy(s->maker.cookie, probe.cookie, MAC_LEN);
		s->maker.cookie_birth_ns = probe.cookie_birth_ns;
		s->maker.have_cookie = true;
	}
	cookie_maker_wipe(&probe);
}

static void drain(int epfd, int timeout_ms, uint64_t now)
{
	static uint8_t bufs[RECV_BATCH][256];
	struct epoll_event evs[64];
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	int n = epoll_wait(epfd, evs, 64, timeout_ms);

	for (int e = 0; e < n; e++) {
		uint32_t si = evs[e].data.u32;
		int got;

		do {
			for (int i = 0; i < RECV_BATCH; i++) {
				iov[i].iov_base = bufs[i];
				iov[i].iov_len = sizeof(bufs[i]);
				memset(&msgs[i], 0, sizeof(msgs[i]));
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			got = recvmmsg(sources[si].fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
			for (int i = 0; i < got; i++)
				handle_reply(si, bufs[i], msgs[i].msg_len, now);
		} while (got == RECV_BATCH);
	}
}

static void print_counters(FILE *f, const char *prefix, uint64_t elapsed_ns)
{
	uint64_t ms = elapsed_ns / MSEC_NS;

	fprintf(f,
		"%ssent=%llu send_errors=%llu received=%llu cookie_replies=%llu "
		"cookie_valid=%llu cookie_invalid=%llu other=%llu mac2_sent=%llu sources=%zu "
		"elapsed_ms=%llu rate=%llu\n",
		prefix, (unsigned long long)cnt.sent, (unsigned long long)cnt.send_errors,
		(unsigned long long)cnt.received, (unsigned long long)cnt.cookie_replies,
		(unsigned long long)cnt.cookie_valid, (unsigned long long)cnt.cookie_invalid,
		(unsigned long long)cnt.other, (unsigned long long)cnt.mac2_sent, n_sources,
		(unsigned long long)ms,
		(unsigned long long)(ms ? cnt.sent * 1000 / ms : 0));
	fflush(f);
}

int main(int argc, char **argv)
{
	const char *target = NULL, *key = NULL, *first = NULL;
	uint64_t n_addr = 1, per_addr = 4, rate = 20000, seconds = 10, max_count = 0;
	uint64_t prefix_len = 128;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint8_t server_pub[KEY_LEN], first_addr[16];
	bool verbose = false;
	int opt, family, epfd;
	uint64_t start, end, now, next_report;
	uint32_t salt;

	while ((opt = getopt(argc, argv, "t:k:a:n:s:r:d:c:p:mvh")) != -1) {
		switch (opt) {
		case 't': target = optarg; break;
		case 'k': key = optarg; break;
		case 'a': first = optarg; break;
		case 'n': if (!parse_u64(optarg, 1, MAX_ADDRESSES, &n_addr)) return usage(); break;
		case 's': if (!parse_u64(optarg, 1, 64, &per_addr)) return usage(); break;
		case 'r': if (!parse_u64(optarg, 1, MAX_RATE, &rate)) return usage(); break;
		case 'd': if (!parse_u64(optarg, 1, MAX_SECONDS, &seconds)) return usage(); break;
		case 'c':
			if (!parse_u64(optarg, 1, MAX_COUNT_LIMIT, &max_count))
				return usage();
			break;
		case 'p': if (!parse_u64(optarg, 1, 128, &prefix_len)) return usage(); break;
		case 'm': use_cookies = true; break;
		case 'v': verbose = true; break;
		default: return usage();
		}
	}
	if (!target || !key || !first || optind != argc)
		return usage();
	if (n_addr * per_addr > MAX_SOCKETS) {
		fprintf(stderr, "hsflood: at most %d sockets\n", MAX_SOCKETS);
		return 2;
	}
	if (!max_count)
		max_count = rate * seconds;
	if (!parse_target(target, &dst, &dst_len)) {
		fprintf(stderr, "hsflood: bad target %s (IP:PORT or [IPv6]:PORT)\n", target);
		return 2;
	}
	family = dst.ss_family;
	memset(first_addr, 0, sizeof(first_addr));
	if (inet_pton(family, first, first_addr) != 1) {
		fprintf(stderr, "hsflood: bad source %s (same family as the target)\n", first);
		return 2;
	}
	if (family == AF_INET && prefix_len != 128) {
		fprintf(stderr, "hsflood: -p is for IPv6 sources only\n");
		return 2;
	}
	if (!wg_crypto_init()) {
		fprintf(stderr, "hsflood: wg_crypto_init failed\n");
		return 1;
	}
	if (!wg_key_from_base64(server_pub, key)) {
		fprintf(stderr, "hsflood: bad public key (44 characters of base64)\n");
		return 2;
	}

	{
		/* One descriptor per source, and a few more. */
		struct rlimit rl;
		rlim_t want = (rlim_t)(n_addr * per_addr + 64);

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
			rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	sources = calloc(n_addr * per_addr, sizeof(*sources));
	ring = calloc(RING_SIZE, sizeof(*ring));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!sources || !ring || epfd < 0) {
		fprintf(stderr, "hsflood: out of memory\n");
		return 1;
	}
	for (uint32_t a = 0; a < n_addr; a++) {
		uint8_t addr[16];

		nth_address(family, first_addr, a, (unsigned)prefix_len, addr);
		for (uint32_t p = 0; p < per_addr; p++) {
			struct source *s = &sources[n_sources];

			s->fd = open_source(family, addr, epfd, (uint32_t)n_sources);
			if (s->fd < 0)
				return 1;
			cookie_maker_init(&s->maker, server_pub);
			n_sources++;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	salt = wg_random_u32();

	start = now = mono_ns();
	end = start + seconds * NSEC_PER_SEC;
	next_report = start + NSEC_PER_SEC;
	while (!stop && now < end && cnt.sent + cnt.send_errors < max_count) {
		/* Messages due by now at RATE, in bursts of at most 1 ms worth. */
		uint64_t due = (now - start) / 1000 * rate / 1000000 + 1;
		uint64_t budget = rate / 1000 + 1;

		if (due > max_count)
			due = max_count;
		while (cnt.sent + cnt.send_errors < due && budget--)
			send_one(&dst, dst_len, salt, cnt.sent + cnt.send_errors, now);
		now = mono_ns();
		/* Caught up: sleep in epoll (replies wake us) until the next one. */
		drain(epfd, cnt.sent + cnt.send_errors >= due ? 1 : 0, now);
		now = mono_ns();
		if (verbose && now >= next_report) {
			print_counters(stderr, "hsflood: progress ", now - start);
			next_report += NSEC_PER_SEC;
		}
	}
	end = mono_ns();
	/* Late replies. */
	while (!stop && (now = mono_ns()) < end + LINGER_NS)
		drain(epfd, 10, now);
	print_counters(stdout, "hsflood: ", end - start);
	for (size_t i = 0; i < n_sources; i++) {
		close(sources[i].fd);
		cookie_maker_wipe(&sources[i].maker);
	}
	close(epfd);
	free(sources);
	free(ring);
	return 0;
}
