/* initiate: one WireGuard handshake initiation whose TAI64N timestamp comes
 * from a clock shifted by OFFSET seconds, as a client whose clock is wrong
 * would send it; for the integration tests of the responder's replay rule.
 *
 *   initiate -p SERVER_PUBLIC_KEY -e ADDR:PORT [-b BIND_ADDR] [-o OFFSET] [-w WAIT_MS]
 *
 * The client's private key (base64) is read on stdin. The initiation (mac1
 * set, no mac2) goes from a UDP socket bound to BIND_ADDR (any by default)
 * to the server at ADDR:PORT (IPv4 or [IPv6]); OFFSET (seconds, may be
 * negative) is added to the wall clock for the timestamp only. It then waits
 * up to WAIT_MS (default 1000) for the answer addressed to its index:
 *   "response" (a response that authenticates against our handshake), exit 0
 *   "cookie reply" (the server is under load), exit 3
 *   "no response", exit 1
 * Usage errors exit 2. No transport message is sent: the server keeps the
 * new session unconfirmed, which leaves the real client's session alone. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "handshake/cookie.h"
#include "handshake/noise.h"

static int usage(void)
{
	fprintf(stderr, "usage: initiate -p SERVER_PUBLIC_KEY -e ADDR:PORT [-b BIND_ADDR] "
			"[-o OFFSET_SECONDS] [-w WAIT_MS]   (private key on stdin)\n");
	return 2;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static bool resolve(const char *host, const char *port, struct sockaddr_storage *out,
		    socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

/* "1.2.3.4:5" or "[2001:db8::1]:5" */
static bool parse_endpoint(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	char host[64];
	const char *end = s[0] == '[' ? strchr(s, ']') : strrchr(s, ':');
	size_t n;

	if (!end)
		return false;
	if (s[0] == '[') {
		if (end[1] != ':')
			return false;
		n = (size_t)(end - s - 1);
		s++;
		end++;
	} else {
		n = (size_t)(end - s);
	}
	if (n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	return resolve(host, end + 1, out, len);
}

int main(int argc, char **argv)
{
	const char *pub_arg = NULL, *ep_arg = NULL, *bind_arg = NULL;
	long long offset = 0;
	long wait_ms = 1000;
	char line[256], *end;
	uint8_t priv[KEY_LEN], server_pub[KEY_LEN];
	struct sockaddr_storage server, local_addr;
	socklen_t server_len, local_len;
	struct noise_local local;
	struct noise_handshake hs;
	struct cookie_maker maker;
	struct msg_initiation msg;
	uint64_t wall, deadline;
	uint32_t index;
	int fd, c;

	while ((c = getopt(argc, argv, "p:e:b:o:w:")) != -1) {
		switch (c) {
		case 'p': pub_arg = optarg; break;
		case 'e': ep_arg = optarg; break;
		case 'b': bind_arg = optarg; break;
		case 'o':
			offset = strtoll(optarg, &end, 10);
			if (end == optarg || *end)
				return usage();
			break;
		case 'w':
			wait_ms = strtol(optarg, &end, 10);
			if (end == optarg || *end || wait_ms < 0 || wait_ms > 60000)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || !pub_arg || !ep_arg)
		return usage();
	if (!wg_crypto_init())
		return 1;
	if (!wg_key_from_base64(server_pub, pub_arg)) {
		fprintf(stderr, "initiate: bad public key '%s'\n", pub_arg);
		return 2;
	}
	if (!parse_endpoint(ep_arg, &server, &server_len)) {
		fprintf(stderr, "initiate: bad endpoint '%s'\n", ep_arg);
		return 2;
	}
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "initiate: no private key on stdin\n");
		return 2;
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (!wg_key_from_base64(priv, line)) {
		fprintf(stderr, "initiate: bad private key on stdin\n");
		return 2;
	}
	wg_secure_wipe(line, sizeof(line));

	wall = wg_wall_clock_ns();
	if (offset < 0 && (uint64_t)(-offset) * NSEC_PER_SEC > wall) {
		fprintf(stderr, "initiate: offset before 1970\n");
		return 2;
	}
	wall += (uint64_t)offset * NSEC_PER_SEC;	/* wraps back for negative offsets */

	memset(&hs, 0, sizeof(hs));
	if (!noise_local_set(&local, priv)) {
		fprintf(stderr, "initiate: bad private key\n");
		return 2;
	}
	wg_secure_wipe(priv, sizeof(priv));
	noise_handshake_init(&hs, &local, server_pub, NULL);
	cookie_maker_init(&maker, server_pub);
	index = wg_random_u32() | 1;
	if (noise_create_initiation(&hs, &local, &msg, index, wall) != NOISE_OK) {
		fprintf(stderr, "initiate: cannot create the initiation\n");
		return 1;
	}
	cookie_add_macs(&maker, (uint8_t *)&msg, sizeof(msg), mono_ns());

	fd = socket(server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("initiate: socket");
		return 1;
	}
	if (bind_arg) {
		if (!resolve(bind_arg, "0", &local_addr, &local_len) ||
		    bind(fd, (struct sockaddr *)&local_addr, local_len) < 0) {
			fprintf(stderr, "initiate: cannot bind to %s\n", bind_arg);
			return 1;
		}
	}
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&server, server_len) < 0) {
		perror("initiate: sendto");
		return 1;
	}

	deadline = mono_ns() + (uint64_t)wait_ms * MSEC_NS;
	for (;;) {
		uint8_t buf[256];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = mono_ns();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)((deadline - now) / MSEC_NS) + 1) <= 0)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == (ssize_t)sizeof(struct msg_response) && buf[0] == MSG_RESPONSE) {
			struct msg_response r;

			memcpy(&r, buf, sizeof(r));
			if (le32toh(r.receiver_index) == index &&
			    noise_consume_response(&hs, &local, &r) == NOISE_OK) {
				printf("response\n");
				return 0;
			}
		} else if (n == (ssize_t)sizeof(struct msg_cookie_reply) &&
			   buf[0] == MSG_COOKIE_REPLY) {
			struct msg_cookie_reply r;

			memcpy(&r, buf, sizeof(r));
			if (le32toh(r.receiver_index) == index) {
				printf("cookie reply\n");
				return 3;
			}
		}
	}
	printf("no response\n");
	return 1;
}
