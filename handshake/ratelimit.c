/* Per-source token buckets in a fixed-size chained hash table with an LRU
 * list.
 *
 * Memory: everything is allocated in ratelimiter_new(): a pool of
 * max_entries entries and a power-of-two array of chain heads. Entries move
 * between the free list and the chains; nothing is allocated afterwards, so
 * a flood from any number of sources costs no memory.
 *
 * Eviction: every entry in use is also on a doubly linked list in order of
 * last use (head = least recent). A new source when the pool is empty
 * takes the head's place. Refusing newcomers instead (as this table once
 * did) let 8192 sources held at one packet a second lock every new client
 * out; with eviction, holding a bucket costs the attacker more sources than
 * the table has, and an evicted source only comes back with one fresh burst
 * (the global DH budget, hsbudget.h, bounds what many sources can buy).
 *
 * Hashing: SipHash (libsodium crypto_shorthash) under a random key drawn at
 * creation. Without the key an attacker cannot choose sources that pile
 * into one chain, so lookups stay short on average.
 *
 * Tokens are counted in nanoseconds of credit: a packet costs
 * NSEC_PER_SEC / per_second and the bucket holds at most burst packets'
 * worth. Elapsed time is credit one for one, which is the refill rate
 * exactly, with no division on the fast path.
 */
#include "handshake/ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "handshake/wire.h"

#define DEFAULT_MAX_ENTRIES 8192
/* Indices are 32-bit; NIL ends a chain, the LRU list or the free list. */
#define NIL                 UINT32_MAX
#define MAX_MAX_ENTRIES     (1u << 30)

/* Families in the key: an IPv4 address, an IPv6 /64 and an IPv6 /48 with
 * the same leading bytes are different sources. */
enum { FAMILY_V4 = 4, FAMILY_V6 = 6, FAMILY_V6_COARSE = 48 };

struct source {
	uint64_t prefix;	/* IPv4 address or top 64/48 bits of IPv6, as bytes */
	uint8_t family;
};

struct entry {
	struct source src;
	uint64_t last_ns;	/* time of the last packet from src */
	uint64_t tokens;	/* ns of credit, <= token_max */
	uint32_t next;		/* next in chain, or in the free list */
	uint32_t bucket;	/* chain head index (to unlink on eviction) */
	uint32_t older, newer;	/* LRU neighbours */
};

struct ratelimiter {
	uint8_t key[crypto_shorthash_KEYBYTES];
	uint32_t *heads;	/* chain heads, NIL when empty */
	uint32_t head_mask;	/* head count - 1, head count a power of two */
	struct entry *pool;
	uint32_t free_list;
	uint32_t lru_oldest, lru_newest;
	size_t max_entries;
	size_t entries;		/* invariant: entries + free list length == max_entries */
	uint64_t evictions;
	uint64_t packet_cost, token_max;
	/* An entry idle this long has refilled to token_max, so dropping it
	 * forgets nothing: a fresh entry for the same source behaves
	 * identically. At least a second, and at least token_max. */
	uint64_t idle_ns;
	bool coarse;
};

static size_t heads_for(size_t max_entries)
{
	size_t n = 1;

	/* About one entry per chain when the pool is full. */
	while (n < max_entries)
		n <<= 1;
	return n;
}

static void free_list_init(struct ratelimiter *rl)
{
	size_t i;

	for (i = 0; i < rl->max_entries; i++)
		rl->pool[i].next = i + 1 < rl->max_entries ? (uint32_t)(i + 1) : NIL;
	rl->free_list = 0;
	rl->lru_oldest = rl->lru_newest = NIL;
	memset(rl->heads, 0xff, (rl->head_mask + 1) * sizeof(*rl->heads));	/* all NIL */
}

struct ratelimiter *ratelimiter_new_rate(size_t max_entries, unsigned per_second, unsigned burst)
{
	if (per_second == 0) {
		errno = EINVAL;
		return NULL;
	}
	return ratelimiter_new_interval(max_entries, NSEC_PER_SEC / per_second, burst);
}

struct ratelimiter *ratelimiter_new_interval(size_t max_entries, uint64_t interval_ns,
					     unsigned burst)
{
	struct ratelimiter *rl;
	size_t nheads;

	if (max_entries == 0)
		max_entries = DEFAULT_MAX_ENTRIES;
	if (max_entries > MAX_MAX_ENTRIES || interval_ns == 0 || burst == 0) {
		errno = max_entries > MAX_MAX_ENTRIES ? ENOMEM : EINVAL;
		return NULL;
	}
	nheads = heads_for(max_entries);
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->heads = calloc(nheads, sizeof(*rl->heads));
	rl->pool = calloc(max_entries, sizeof(*rl->pool));
	if (!rl->heads || !rl->pool)
		goto err;
	rl->head_mask = (uint32_t)(nheads - 1);
	rl->max_entries = max_entries;
	rl->packet_cost = interval_ns;
	rl->token_max = rl->packet_cost * burst;
	rl->idle_ns = rl->token_max > NSEC_PER_SEC ? rl->token_max : NSEC_PER_SEC;
	wg_random_bytes(rl->key, sizeof(rl->key));
	free_list_init(rl);
	return rl;
err:
	ratelimiter_free(rl);
	errno = ENOMEM;
	return NULL;
}

struct ratelimiter *ratelimiter_new(size_t max_entries)
{
	return ratelimiter_new_rate(max_entries, RATELIMIT_PACKETS_PER_SECOND, RATELIMIT_BURST);
}

void ratelimiter_free(struct ratelimiter *rl)
{
	if (!rl)
		return;
	free(rl->heads);
	free(rl->pool);
	/* The hash key is what keeps chains short; do not leave it behind. */
	wg_secure_wipe(rl->key, sizeof(rl->key));
	free(rl);
}

void ratelimiter_set_coarse(struct ratelimiter *rl, bool coarse)
{
	rl->coarse = coarse;
}

static bool source_from_ip(const struct ratelimiter *rl, struct source *src, const uint8_t *ip,
			   size_t ip_len)
{
	memset(src, 0, sizeof(*src));
	if (!ip)
		return false;
	if (ip_len == 4) {
		memcpy(&src->prefix, ip, 4);
		src->family = FAMILY_V4;
		return true;
	}
	if (ip_len == 16) {
		/* Anyone holding a /64 can use all of it: one bucket for all;
		 * under load, one for a whole /48. */
		memcpy(&src->prefix, ip, rl->coarse ? RATELIMIT_COARSE_V6_BYTES : 8);
		src->family = rl->coarse ? FAMILY_V6_COARSE : FAMILY_V6;
		return true;
	}
	return false;
}

static uint32_t bucket_of(const struct ratelimiter *rl, const struct source *src)
{
	uint8_t in[9], out[crypto_shorthash_BYTES];
	uint64_t h;

	memcpy(in, &src->prefix, 8);
	in[8] = src->family;
	crypto_shorthash(out, in, sizeof(in), rl->key);
	memcpy(&h, out, sizeof(h));
	return (uint32_t)(h & rl->head_mask);
}

static struct entry *lookup(struct ratelimiter *rl, uint32_t head, const struct source *src)
{
	uint32_t i;

	for (i = head; i != NIL; i = rl->pool[i].next) {
		struct entry *e = &rl->pool[i];

		if (e->src.prefix == src->prefix && e->src.family == src->family)
			return e;
	}
	return NULL;
}

static uint32_t index_of(const struct ratelimiter *rl, const struct entry *e)
{
	return (uint32_t)(e - rl->pool);
}

static void lru_unlink(struct ratelimiter *rl, struct entry *e)
{
	if (e->older != NIL)
		rl->pool[e->older].newer = e->newer;
	else
		rl->lru_oldest = e->newer;
	if (e->newer != NIL)
		rl->pool[e->newer].older = e->older;
	else
		rl->lru_newest = e->older;
}

static void lru_push_newest(struct ratelimiter *rl, struct entry *e)
{
	uint32_t i = index_of(rl, e);

	e->older = rl->lru_newest;
	e->newer = NIL;
	if (rl->lru_newest != NIL)
		rl->pool[rl->lru_newest].newer = i;
	else
		rl->lru_oldest = i;
	rl->lru_newest = i;
}

/* Takes entry i off its chain and the LRU list onto the free list. */
static void release(struct ratelimiter *rl, uint32_t i)
{
	struct entry *e = &rl->pool[i];
	uint32_t *link = &rl->heads[e->bucket];

	while (*link != i)
		link = &rl->pool[*link].next;
	*link = e->next;
	lru_unlink(rl, e);
	e->next = rl->free_list;
	rl->free_list = i;
	rl->entries--;
}

/* Takes an entry off the free list (evicting the least recently used one
 * when there is none) onto the chain and the LRU list as the newest. */
static struct entry *insert(struct ratelimiter *rl, uint32_t bucket, const struct source *src)
{
	struct entry *e;
	uint32_t i;

	if (rl->free_list == NIL) {
		release(rl, rl->lru_oldest);
		rl->evictions++;
	}
	i = rl->free_list;
	e = &rl->pool[i];
	rl->free_list = e->next;
	e->src = *src;
	e->bucket = bucket;
	e->next = rl->heads[bucket];
	rl->heads[bucket] = i;
	lru_push_newest(rl, e);
	rl->entries++;
	return e;
}

/* Refills by the time elapsed, then spends one packet if there is one. A
 * clock that goes backwards adds nothing and does not move last_ns back. */
static bool take_token(const struct ratelimiter *rl, struct entry *e, uint64_t now_ns)
{
	if (now_ns > e->last_ns) {
		uint64_t elapsed = now_ns - e->last_ns;

		e->tokens = elapsed >= rl->token_max - e->tokens ? rl->token_max :
			    e->tokens + elapsed;
		e->last_ns = now_ns;
	}
	if (e->tokens < rl->packet_cost)
		return false;
	e->tokens -= rl->packet_cost;
	return true;
}

bool ratelimiter_allow(struct ratelimiter *rl, const uint8_t *ip, size_t ip_len, uint64_t now_ns)
{
	struct source src;
	struct entry *e;
	uint32_t bucket;

	if (!source_from_ip(rl, &src, ip, ip_len))
		return false;
	bucket = bucket_of(rl, &src);
	e = lookup(rl, rl->heads[bucket], &src);
	if (e) {
		/* Any packet, allowed or not, is use: a source still sending
		 * is the last to be evicted. */
		lru_unlink(rl, e);
		lru_push_newest(rl, e);
		return take_token(rl, e, now_ns);
	}
	e = insert(rl, bucket, &src);
	/* A new source starts with a full bucket and spends one packet. */
	e->tokens = rl->token_max - rl->packet_cost;
	e->last_ns = now_ns;
	return true;
}

static bool idle(const struct ratelimiter *rl, const struct entry *e, uint64_t now_ns)
{
	return now_ns > e->last_ns && now_ns - e->last_ns > rl->idle_ns;
}

/* The LRU list is in order of last packet only while the clock is
 * monotonic; gc walks all of it, not just the old end, so that a clock
 * step never leaves an idle entry behind. */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns)
{
	uint32_t i = rl->lru_oldest;

	while (i != NIL) {
		uint32_t newer = rl->pool[i].newer;

		if (idle(rl, &rl->pool[i], now_ns))
			release(rl, i);
		i = newer;
	}
}

size_t ratelimiter_entries(const struct ratelimiter *rl)
{
	return rl->entries;
}

uint64_t ratelimiter_evictions(const struct ratelimiter *rl)
{
	return rl->evictions;
}
