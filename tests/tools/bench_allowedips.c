/* bench_allowedips: lookups per second of the allowed-IPs trie at 10, 1,000
 * and 100,000 random prefixes, IPv4 and IPv6.
 *
 * A lookup visits at most one node per address bit (plus the root), however
 * many peers there are; the last line per family times that worst case. On
 * random tries the path length grows like log2(nodes) until it meets that
 * bound, and once the trie outgrows the CPU caches each node below the top
 * levels costs a memory access: the "cold" column (1M distinct addresses)
 * shows that, the "hot" one (a few hundred addresses, like active flows)
 * shows the cost with the visited paths cached.
 *
 * Half the looked-up addresses fall inside an inserted prefix (so lookups
 * walk deep), half are uniformly random. Addresses are generated before the
 * clock starts, so the timing covers lookups only.
 *
 * usage: bench_allowedips [seconds per measurement, default 0.5] */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "vpnd/datapath/allowedips.h"

#define N_ADDRS (1 << 20)	/* lookup addresses, reused round after round */
#define HOT_ADDRS 256	/* working set of the "hot" measurement */
#define MAX_OWNERS 1000

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rnd_bytes(uint8_t *p, int len)
{
	for (int i = 0; i < len; i++)
		p[i] = (uint8_t)rnd();
}

struct prefix {
	uint8_t addr[16];
	uint8_t cidr;
};

/* Prefix lengths spread the way allowed IPs look in practice: from short
 * subnets down to host routes. */
static void rnd_prefix(struct prefix *p, int len)
{
	int bits = len * 8, shortest = bits / 4;

	rnd_bytes(p->addr, len);
	p->cidr = (uint8_t)(shortest + (int)(rnd() % (uint64_t)(bits - shortest + 1)));
}

/* An address inside p: p's first cidr bits, random after. */
static void addr_inside(uint8_t *out, const struct prefix *p, int len)
{
	rnd_bytes(out, len);
	for (int i = 0; i < len; i++) {
		int keep = p->cidr - i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		out[i] = (uint8_t)((p->addr[i] & mask) | (out[i] & ~mask));
	}
}

struct run {
	int family, len;
	size_t n_prefixes;
	double seconds;
};

/* Fills the table; returns 0 or a negative errno. */
static int fill(struct allowedips *t, const struct run *r, struct prefix *prefixes,
		struct allowedips_owner *owners)
{
	for (size_t i = 0; i < r->n_prefixes; i++) {
		int err;

		rnd_prefix(&prefixes[i], r->len);
		err = allowedips_insert(t, r->family, prefixes[i].addr, prefixes[i].cidr,
					&owners[i % MAX_OWNERS]);
		if (err)
			return err;
	}
	return 0;
}

/* Lookups per second over n addresses (16 bytes apart), repeated until
 * seconds have passed; *hit_pct gets the share that matched. */
static double time_lookups(const struct allowedips *t, int family, const uint8_t *addrs,
			   size_t n, double seconds, size_t *hit_pct)
{
	double start = now(), elapsed;
	size_t done = 0, hits = 0;

	do {
		for (size_t i = 0; i < n; i++)
			hits += allowedips_lookup(t, family, addrs + i * 16) != NULL;
		done += n;
		elapsed = now() - start;
	} while (elapsed < seconds);
	*hit_pct = hits * 100 / done;
	return (double)done / elapsed;
}

/* Random prefixes; lookups over all N_ADDRS addresses ("cold": most nodes
 * below the top levels miss the CPU caches once the trie outgrows them) and
 * over a small working set ("hot", like a few hundred active flows). */
static int bench(const struct run *r, uint8_t *addrs)
{
	struct allowedips_owner *owners = calloc(MAX_OWNERS, sizeof(*owners));
	struct prefix *prefixes = calloc(r->n_prefixes, sizeof(*prefixes));
	struct allowedips *t = allowedips_new();
	size_t hit_pct, hot_pct;
	double cold, hot;
	int err = -ENOMEM;

	if (!owners || !prefixes || !t)
		goto out;
	err = fill(t, r, prefixes, owners);
	if (err)
		goto out;
	for (size_t i = 0; i < N_ADDRS; i++) {
		if (i % 2)
			addr_inside(addrs + i * 16, &prefixes[rnd() % r->n_prefixes], r->len);
		else
			rnd_bytes(addrs + i * 16, r->len);
	}
	cold = time_lookups(t, r->family, addrs, N_ADDRS, r->seconds, &hit_pct);
	hot = time_lookups(t, r->family, addrs, HOT_ADDRS, r->seconds, &hot_pct);
	printf("%s  %7zu prefixes %7zu nodes  hits %3zu%%  cold %6.1f M/s %6.1f ns"
	       "  hot %6.1f M/s %6.1f ns\n",
	       r->family == AF_INET ? "ipv4" : "ipv6", r->n_prefixes, allowedips_node_count(t),
	       hit_pct, cold / 1e6, 1e9 / cold, hot / 1e6, 1e9 / hot);
out:
	allowedips_free(t);
	free(prefixes);
	free(owners);
	return err;
}

/* The worst case whatever the table size: prefixes /1 to /bits all nested
 * on one address, so a lookup of it visits one node per address bit. */
static int bench_deepest(const struct run *r, uint8_t *addrs)
{
	struct allowedips_owner owner = { 0 };
	struct allowedips *t = allowedips_new();
	size_t hit_pct;
	double rate;
	int err = -ENOMEM;

	if (!t)
		goto out;
	rnd_bytes(addrs, r->len);
	for (int cidr = 1; cidr <= r->len * 8; cidr++) {
		err = allowedips_insert(t, r->family, addrs, (uint8_t)cidr, &owner);
		if (err)
			goto out;
	}
	rate = time_lookups(t, r->family, addrs, 1, r->seconds, &hit_pct);
	printf("%s  deepest path: %3d nested prefixes, %3zu nodes visited   %6.1f M/s %6.1f ns\n",
	       r->family == AF_INET ? "ipv4" : "ipv6", r->len * 8, allowedips_node_count(t),
	       rate / 1e6, 1e9 / rate);
	err = 0;
out:
	allowedips_free(t);
	return err;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 10, 1000, 100000 };
	double seconds = argc > 1 ? atof(argv[1]) : 0.5;
	uint8_t *addrs;
	int err = 0;

	if (seconds <= 0) {
		fprintf(stderr, "usage: %s [seconds per measurement > 0]\n", argv[0]);
		return 2;
	}
	addrs = malloc((size_t)N_ADDRS * 16);
	if (!addrs) {
		fprintf(stderr, "bench_allowedips: out of memory\n");
		return 1;
	}
	for (int f = 0; f < 2 && !err; f++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]) && !err; s++) {
			struct run r = {
				.family = f ? AF_INET6 : AF_INET,
				.len = f ? 16 : 4,
				.n_prefixes = sizes[s],
				.seconds = seconds,
			};

			err = bench(&r, addrs);
			if (!err && s == sizeof(sizes) / sizeof(sizes[0]) - 1)
				err = bench_deepest(&r, addrs);
		}
	}
	free(addrs);
	if (err) {
		fprintf(stderr, "bench_allowedips: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
