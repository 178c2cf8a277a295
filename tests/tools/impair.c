/* impair: a two-way UDP relay that impairs what it forwards (loss,
 * reordering, duplication, delay with jitter), for the integration tests.
 *
 *   impair -l ADDR:PORT -t ADDR:PORT [-d DROP%] [-r REORDER% [-w WINDOW] [-H HOLD_MS]]
 *          [-u DUP%] [-D DELAY_MS [-j JITTER_MS]] [-s SEED] [-m MAX_QUEUED]
 *
 * ADDR is IPv4 or [IPv6]. Clients send to the listen address; each client
 * (source address and port) gets its own socket connected to the target, so
 * what comes back on it is relayed to that client from the listen address.
 * Every datagram, in both directions ("up": client -> target, "down": target
 * -> client), goes through these stages:
 *   drop       DROP% of datagrams vanish;
 *   duplicate  DUP% are sent twice (each copy then goes on independently);
 *   reorder    REORDER% are held back until 1..WINDOW (uniform, default 8)
 *              later datagrams of the same direction have passed, or for
 *              HOLD_MS (default 20) if traffic stops; at most WINDOW are
 *              held per direction (a datagram drawn for holding when the
 *              window is full just passes);
 *   delay      DELAY_MS + a uniform -JITTER_MS..+JITTER_MS (never below 0;
 *              jitter reorders too, as netem's does).
 * Percentages may have decimals ("0.5"). One RNG (xorshift64*, seeded by
 * -s SEED, default 1) draws every decision, so a run is reproducible for the
 * same input order.
 *
 * Single-threaded: one ppoll loop. Memory is bounded: at most MAX_CLIENTS
 * clients (the least recently active one is replaced, its queued datagrams
 * discarded), WINDOW held datagrams per direction and MAX_QUEUED (default
 * 4096) delayed ones; a datagram beyond that is dropped and counted as
 * overflow.
 *
 * Prints "impair: ready LISTEN -> TARGET" once listening; on SIGUSR1 the
 * counters, on SIGTERM or SIGINT the counters then exits 0:
 *   impair: up rx=N drop=N dup=N held=N delayed=N overflow=N tx=N send_err=N
 *   impair: down rx=N ...
 * rx counts datagrams received, tx datagrams sent (rx - drop + dup -
 * overflow once the queues are empty); held counts datagrams released out
 * of order by the reorder stage. Exit 2 on usage errors, 1 on other
 * failures. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS   16
#define MAX_WINDOW    1024
#define MAX_QUEUED    65536
#define DGRAM_MAX     65536
#define RECV_BURST    64	/* datagrams read per socket per wake-up */

enum { UP, DOWN };
static const char *const dir_name[2] = { "up", "down" };

struct counters {
	uint64_t rx, drop, dup, held, delayed, overflow, tx, send_err;
};

struct client {
	bool used;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd;			/* connected to the target */
	uint64_t gen;		/* changes when the slot is reused */
	uint64_t last_active;
};

struct pkt {
	uint64_t due;		/* delay queue: monotonic ns */
	uint64_t seq;		/* tie-break: FIFO for equal due times */
	uint64_t gen;		/* client generation when received */
	int dir, client;
	size_t len;
	uint8_t data[];
};

struct held {
	struct pkt *p;
	unsigned remaining;	/* later datagrams to let pass first */
	uint64_t since;
};

static struct {
	double drop, reorder, dup;	/* percent */
	unsigned window;
	uint64_t hold_ns, delay_ns, jitter_ns;
	size_t max_queued;
	uint64_t seed;
} opt = { .window = 8, .hold_ns = 20000000ULL, .max_queued = 4096, .seed = 1 };

static struct sockaddr_storage listen_addr, target_addr;
static socklen_t listen_len, target_len;
static int listen_fd = -1;
static struct client clients[MAX_CLIENTS];
static uint64_t next_gen = 1, next_seq;
static struct counters cnt[2];
static struct held held[2][MAX_WINDOW];
static unsigned n_held[2];
static struct pkt **heap;	/* delay queue, a binary min-heap by (due, seq) */
static size_t heap_len;
static uint64_t rng_state;
static volatile sig_atomic_t got_term, got_usr1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* xorshift64*, its state from splitmix64(seed) so that seed 0 works too. */
static void rng_seed(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	rng_state = (z ^ (z >> 31)) | 1;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* True with probability pct percent. No draw at all when pct is 0, so one
 * impairment switched off does not change the others' sequence. */
static bool chance(double pct)
{
	if (pct <= 0)
		return false;
	return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0) * 100.0 < pct;
}

static uint64_t uniform(uint64_t n)	/* 0..n-1 */
{
	return n ? rng_next() % n : 0;
}

static void print_counters(void)
{
	for (int d = UP; d <= DOWN; d++) {
		const struct counters *c = &cnt[d];

		printf("impair: %s rx=%llu drop=%llu dup=%llu held=%llu delayed=%llu overflow=%llu "
		       "tx=%llu send_err=%llu\n", dir_name[d], (unsigned long long)c->rx,
		       (unsigned long long)c->drop, (unsigned long long)c->dup,
		       (unsigned long long)c->held, (unsigned long long)c->delayed,
		       (unsigned long long)c->overflow, (unsigned long long)c->tx,
		       (unsigned long long)c->send_err);
	}
	fflush(stdout);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

/* "1.2.3.4:5" or "[2001:db8::1]:5" */
static bool parse_addr(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port, *end;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res;
	size_t n;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return false;
		n = (size_t)(end - s - 1);
		if (n >= sizeof(host))
			return false;
		memcpy(host, s + 1, n);
		port = end + 2;
	} else {
		end = strrchr(s, ':');
		if (!end)
			return false;
		n = (size_t)(end - s);
		if (n >= sizeof(host))
			return false;
		memcpy(host, s, n);
		port = end + 1;
	}
	host[n] = '\0';
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

static bool parse_pct(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0 || v > 100)
		return false;
	*out = v;
	return true;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (end == s || *end || errno || v > max || s[0] == '-')
		return false;
	*out = v;
	return true;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: impair -l ADDR:PORT -t ADDR:PORT [-d DROP%%] [-r REORDER%% [-w WINDOW] "
		"[-H HOLD_MS]]\n"
		"              [-u DUP%%] [-D DELAY_MS [-j JITTER_MS]] [-s SEED] [-m MAX_QUEUED]\n");
	return 2;
}

/* --- delay queue ------------------------------------------------------- */

static bool before(const struct pkt *a, const struct pkt *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_push(struct pkt *p)
{
	size_t i = heap_len++;

	while (i > 0 && before(p, heap[(i - 1) / 2])) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = p;
}

static struct pkt *heap_pop(void)
{
	struct pkt *top = heap[0], *last = heap[--heap_len];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= heap_len)
			break;
		if (c + 1 < heap_len && before(heap[c + 1], heap[c]))
			c++;
		if (!before(heap[c], last))
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (heap_len)
		heap[i] = last;
	return top;
}

/* --- the stages ---------------------------------------------------------- */

static void transmit(int dir, int ci, uint64_t gen, const uint8_t *data, size_t len)
{
	struct client *c = &clients[ci];
	ssize_t n;

	if (!c->used || c->gen != gen) {
		cnt[dir].overflow++;	/* its client was replaced */
		return;
	}
	if (dir == UP)
		n = send(c->fd, data, len, 0);
	else
		n = sendto(listen_fd, data, len, 0, (struct sockaddr *)&c->addr, c->addr_len);
	if (n < 0)
		cnt[dir].send_err++;
	else
		cnt[dir].tx++;
}

static struct pkt *pkt_new(int dir, int ci, const uint8_t *data, size_t len)
{
	struct pkt *p = malloc(sizeof(*p) + len);

	if (!p)
		return NULL;
	p->dir = dir;
	p->client = ci;
	p->gen = clients[ci].gen;
	p->len = len;
	p->seq = next_seq++;
	memcpy(p->data, data, len);
	return p;
}

/* The last stage. Takes p (may be NULL: data is then the caller's). */
static void delay_stage(int dir, int ci, const uint8_t *data, size_t len, struct pkt *p,
			uint64_t now)
{
	int64_t d;

	if (!opt.delay_ns && !opt.jitter_ns) {
		transmit(dir, ci, p ? p->gen : clients[ci].gen, p ? p->data : data,
			 p ? p->len : len);
		free(p);
		return;
	}
	if (heap_len >= opt.max_queued) {
		cnt[dir].overflow++;
		free(p);
		return;
	}
	if (!p && !(p = pkt_new(dir, ci, data, len))) {
		cnt[dir].overflow++;
		return;
	}
	d = (int64_t)opt.delay_ns;
	if (opt.jitter_ns)
		d += (int64_t)uniform(2 * opt.jitter_ns + 1) - (int64_t)opt.jitter_ns;
	p->due = now + (uint64_t)(d > 0 ? d : 0);
	p->seq = next_seq++;
	heap_push(p);
	cnt[dir].delayed++;
}

static void release_held(int dir, unsigned i, uint64_t now)
{
	struct pkt *p = held[dir][i].p;

	memmove(&held[dir][i], &held[dir][i + 1], (n_held[dir] - i - 1) * sizeof(held[dir][0]));
	n_held[dir]--;
	cnt[dir].held++;
	delay_stage(dir, p->client, NULL, 0, p, now);
}

static void reorder_stage(int dir, int ci, const uint8_t *data, size_t len, uint64_t now)
{
	if (chance(opt.reorder) && n_held[dir] < opt.window) {
		struct pkt *p = pkt_new(dir, ci, data, len);

		if (!p) {
			cnt[dir].overflow++;
			return;
		}
		held[dir][n_held[dir]++] = (struct held){ p, 1 + (unsigned)uniform(opt.window), now };
		return;
	}
	delay_stage(dir, ci, data, len, NULL, now);
	/* One datagram passed: those held long enough go now, after it. */
	for (unsigned i = 0; i < n_held[dir];) {
		if (--held[dir][i].remaining == 0)
			release_held(dir, i, now);
		else
			i++;
	}
}

static void handle(int dir, int ci, const uint8_t *data, size_t len, uint64_t now)
{
	cnt[dir].rx++;
	clients[ci].last_active = now;
	if (chance(opt.drop)) {
		cnt[dir].drop++;
		return;
	}
	reorder_stage(dir, ci, data, len, now);
	if (chance(opt.dup)) {
		cnt[dir].dup++;
		reorder_stage(dir, ci, data, len, now);
	}
}

static void run_timers(uint64_t now)
{
	while (heap_len && heap[0]->due <= now) {
		struct pkt *p = heap_pop();

		transmit(p->dir, p->client, p->gen, p->data, p->len);
		free(p);
	}
	for (int d = UP; d <= DOWN; d++)
		for (unsigned i = 0; i < n_held[d];) {
			if (now - held[d][i].since >= opt.hold_ns)
				release_held(d, i, now);
			else
				i++;
		}
}

/* Nanoseconds until the next timer, or -1 for none. */
static int64_t next_timeout(uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (heap_len)
		next = heap[0]->due;
	for (int d = UP; d <= DOWN; d++)
		for (unsigned i = 0; i < n_held[d]; i++)
			if (held[d][i].since + opt.hold_ns < next)
				next = held[d][i].since + opt.hold_ns;
	if (next == UINT64_MAX)
		return -1;
	return next > now ? (int64_t)(next - now) : 0;
}

/* --- clients --------------------------------------------------------------- */

static int client_for(const struct sockaddr_storage *a, socklen_t len, uint64_t now)
{
	int free_slot = -1, oldest = 0;
	struct client *c;

	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (!clients[i].used) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (clients[i].addr_len == len && !memcmp(&clients[i].addr, a, len))
			return i;
		if (clients[i].last_active < clients[oldest].last_active)
			oldest = i;
	}
	if (free_slot < 0) {
		free_slot = oldest;
		close(clients[oldest].fd);
		clients[oldest].used = false;
	}
	c = &clients[free_slot];
	c->fd = socket(target_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&target_addr, target_len) < 0) {
		close(c->fd);
		return -1;
	}
	memcpy(&c->addr, a, len);
	c->addr_len = len;
	c->gen = next_gen++;
	c->last_active = now;
	c->used = true;
	return free_slot;
}

int main(int argc, char **argv)
{
	static uint8_t buf[DGRAM_MAX];
	const char *l_arg = NULL, *t_arg = NULL;
	unsigned long v;
	sigset_t block, orig;
	struct sigaction sa = { .sa_handler = on_signal };
	int c;

	while ((c = getopt(argc, argv, "l:t:d:r:w:H:u:D:j:s:m:")) != -1) {
		switch (c) {
		case 'l': l_arg = optarg; break;
		case 't': t_arg = optarg; break;
		case 'd': if (!parse_pct(optarg, &opt.drop)) return usage(); break;
		case 'r': if (!parse_pct(optarg, &opt.reorder)) return usage(); break;
		case 'u': if (!parse_pct(optarg, &opt.dup)) return usage(); break;
		case 'w':
			if (!parse_uint(optarg, MAX_WINDOW, &v) || !v)
				return usage();
			opt.window = (unsigned)v;
			break;
		case 'H':
			if (!parse_uint(optarg, 60000, &v))
				return usage();
			opt.hold_ns = v * 1000000ULL;
			break;
		case 'D':
			if (!parse_uint(optarg, 60000, &v))
				return usage();
			opt.delay_ns = v * 1000000ULL;
			break;
		case 'j':
			if (!parse_uint(optarg, 60000, &v))
				return usage();
			opt.jitter_ns = v * 1000000ULL;
			break;
		case 's':
			if (!parse_uint(optarg, ULONG_MAX, &v))
				return usage();
			opt.seed = v;
			break;
		case 'm':
			if (!parse_uint(optarg, MAX_QUEUED, &v) || !v)
				return usage();
			opt.max_queued = v;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || !l_arg || !t_arg)
		return usage();
	if (!parse_addr(l_arg, &listen_addr, &listen_len)) {
		fprintf(stderr, "impair: bad listen address '%s'\n", l_arg);
		return 2;
	}
	if (!parse_addr(t_arg, &target_addr, &target_len)) {
		fprintf(stderr, "impair: bad target address '%s'\n", t_arg);
		return 2;
	}
	rng_seed(opt.seed);
	heap = calloc(opt.max_queued, sizeof(*heap));
	if (!heap)
		return 1;

	listen_fd = socket(listen_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&listen_addr, listen_len) < 0) {
		fprintf(stderr, "impair: bind %s: %s\n", l_arg, strerror(errno));
		return 1;
	}

	/* Signals are blocked except inside ppoll: none is lost between the
	 * flag check and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	printf("impair: ready %s -> %s\n", l_arg, t_arg);
	fflush(stdout);

	for (;;) {
		struct pollfd pfd[1 + MAX_CLIENTS];
		int owner[1 + MAX_CLIENTS];
		nfds_t n = 0;
		struct timespec ts, *tsp = NULL;
		int64_t t = next_timeout(now_ns());
		uint64_t now;

		pfd[n] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		owner[n++] = -1;
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (clients[i].used) {
				pfd[n] = (struct pollfd){ .fd = clients[i].fd, .events = POLLIN };
				owner[n++] = i;
			}
		if (t >= 0) {
			ts.tv_sec = t / 1000000000LL;
			ts.tv_nsec = t % 1000000000LL;
			tsp = &ts;
		}
		if (ppoll(pfd, n, tsp, &orig) < 0 && errno != EINTR) {
			perror("impair: ppoll");
			return 1;
		}
		if (got_term) {
			print_counters();
			return 0;
		}
		if (got_usr1) {
			got_usr1 = 0;
			print_counters();
		}
		now = now_ns();
		for (nfds_t i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLERR)))
				continue;
			for (int k = 0; k < RECV_BURST; k++) {
				struct sockaddr_storage src;
				socklen_t src_len = sizeof(src);
				ssize_t r;

				if (owner[i] < 0) {
					int ci;

					r = recvfrom(listen_fd, buf, sizeof(buf), 0,
						     (struct sockaddr *)&src, &src_len);
					if (r < 0)
						break;
					ci = client_for(&src, src_len, now);
					if (ci >= 0)
						handle(UP, ci, buf, (size_t)r, now);
				} else {
					/* The slot may have been reused above: its fd
					 * is then another one, still this client's. */
					if (!clients[owner[i]].used ||
					    clients[owner[i]].fd != pfd[i].fd)
						break;
					r = recv(pfd[i].fd, buf, sizeof(buf), 0);
					if (r < 0) {
						if (errno == EAGAIN || errno == EWOULDBLOCK)
							break;
						continue;	/* ICMP errors: ignore */
					}
					handle(DOWN, owner[i], buf, (size_t)r, now);
				}
			}
		}
		run_timers(now_ns());
	}
}
