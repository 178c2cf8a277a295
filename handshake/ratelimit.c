/* Per-source token buckets in a fixed-size chained hash table.
 *
 * Memory: everything is allocated in ratelimiter_new(): a pool of
 * max_entries entries and a power-of-two array of chain heads. Entries move
 * between the free list and the chains; nothing is allocated afterwards, so
 * a flood from any number of sources costs no memory, only refusals once the
 * pool is empty.
 *
 * Hashing: SipHash (libsodium crypto_shorthash) under a random key drawn at
 * creation. Without the key an attacker cannot choose sources that pile
 * into one chain, so lookups stay short on average.
 *
 * Tokens are counted in nanoseconds of credit: a packet costs
 * NSEC_PER_SEC / RATELIMIT_PACKETS_PER_SECOND and the bucket holds at most
 * RATELIMIT_BURST packets' worth. Elapsed time is credit one for one, which
 * is the refill rate exactly, with no division on the fast path.
 */
#include "handshake/ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "handshake/wire.h"

#define DEFAULT_MAX_ENTRIES 8192
/* Indices are 32-bit; NIL ends a chain or the free list. */
#define NIL                 UINT32_MAX
#define MAX_MAX_ENTRIES     (1u << 30)

#define PACKET_COST (NSEC_PER_SEC / RATELIMIT_PACKETS_PER_SECOND)
#define TOKEN_MAX   (PACKET_COST * RATELIMIT_BURST)
/* An entry idle this long has refilled to TOKEN_MAX (1 s of credit is 20
 * packets, more than the burst of 5), so dropping it forgets nothing: a
 * fresh entry for the same source behaves identically. */
#define IDLE_NS     NSEC_PER_SEC

_Static_assert(IDLE_NS >= TOKEN_MAX, "gc must only drop full buckets");

/* Which source a bucket belongs to. An IPv4 address and an IPv6 /64 with
 * the same leading bytes are different sources, hence the family. */
struct source {
	uint64_t prefix;	/* IPv4 address or top 64 bits of IPv6, as bytes */
	uint8_t family;		/* 4 or 6 */
};

struct entry {
	struct source src;
	uint64_t last_ns;	/* time of the last packet from src */
	uint64_t tokens;	/* ns of credit, <= TOKEN_MAX */
	uint32_t next;		/* next in chain, or in the free list */
};

struct ratelimiter {
	uint8_t key[crypto_shorthash_KEYBYTES];
	uint32_t *heads;	/* chain heads, NIL when empty */
	uint32_t head_mask;	/* head count - 1, head count a power of two */
	struct entry *pool;
	uint32_t free_list;
	size_t max_entries;
	size_t entries;		/* invariant: entries + free list length == max_entries */
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
	memset(rl->heads, 0xff, (rl->head_mask + 1) * sizeof(*rl->heads));	/* all NIL */
}

struct ratelimiter *ratelimiter_new(size_t max_entries)
{
	struct ratelimiter *rl;
	size_t nheads;

	if (max_entries == 0)
		max_entries = DEFAULT_MAX_ENTRIES;
	if (max_entries > MAX_MAX_ENTRIES) {
		errno = ENOMEM;
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
	wg_random_bytes(rl->key, sizeof(rl->key));
	free_list_init(rl);
	return rl;
err:
	ratelimiter_free(rl);
	errno = ENOMEM;
	return NULL;
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

static bool source_from_ip(struct source *src, const uint8_t *ip, size_t ip_len)
{
	memset(src, 0, sizeof(*src));
	if (!ip)
		return false;
	if (ip_len == 4) {
		memcpy(&src->prefix, ip, 4);
		src->family = 4;
		return true;
	}
	if (ip_len == 16) {
		/* Anyone holding a /64 can use all of it: one bucket for all. */
		memcpy(&src->prefix, ip, 8);
		src->family = 6;
		return true;
	}
	return false;
}

static uint32_t *chain_of(struct ratelimiter *rl, const struct source *src)
{
	uint8_t in[9], out[crypto_shorthash_BYTES];
	uint64_t h;

	memcpy(in, &src->prefix, 8);
	in[8] = src->family;
	crypto_shorthash(out, in, sizeof(in), rl->key);
	memcpy(&h, out, sizeof(h));
	return &rl->heads[h & rl->head_mask];
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

/* Takes an entry off the free list onto the chain; NULL when the pool is
 * empty (the table is full). */
static struct entry *insert(struct ratelimiter *rl, uint32_t *head, const struct source *src)
{
	uint32_t i = rl->free_list;
	struct entry *e;

	if (i == NIL)
		return NULL;
	e = &rl->pool[i];
	rl->free_list = e->next;
	e->src = *src;
	e->next = *head;
	*head = i;
	rl->entries++;
	return e;
}

/* Refills by the time elapsed, then spends one packet if there is one. A
 * clock that goes backwards adds nothing and does not move last_ns back. */
static bool take_token(struct entry *e, uint64_t now_ns)
{
	if (now_ns > e->last_ns) {
		uint64_t elapsed = now_ns - e->last_ns;

		e->tokens = elapsed >= TOKEN_MAX - e->tokens ? TOKEN_MAX : e->tokens + elapsed;
		e->last_ns = now_ns;
	}
	if (e->tokens < PACKET_COST)
		return false;
	e->tokens -= PACKET_COST;
	return true;
}

bool ratelimiter_allow(struct ratelimiter *rl, const uint8_t *ip, size_t ip_len, uint64_t now_ns)
{
	struct source src;
	uint32_t *head;
	struct entry *e;

	if (!source_from_ip(&src, ip, ip_len))
		return false;
	head = chain_of(rl, &src);
	e = lookup(rl, *head, &src);
	if (e)
		return take_token(e, now_ns);
	e = insert(rl, head, &src);
	if (!e)
		return false;	/* full: refuse unknown sources until gc */
	/* A new source starts with a full bucket and spends one packet. */
	e->tokens = TOKEN_MAX - PACKET_COST;
	e->last_ns = now_ns;
	return true;
}

static bool idle(const struct entry *e, uint64_t now_ns)
{
	return now_ns > e->last_ns && now_ns - e->last_ns > IDLE_NS;
}

/* Unlinks every idle entry of one chain back onto the free list. */
static void gc_chain(struct ratelimiter *rl, uint32_t *link, uint64_t now_ns)
{
	while (*link != NIL) {
		uint32_t i = *link;
		struct entry *e = &rl->pool[i];

		if (!idle(e, now_ns)) {
			link = &e->next;
			continue;
		}
		*link = e->next;
		e->next = rl->free_list;
		rl->free_list = i;
		rl->entries--;
	}
}

void ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i <= rl->head_mask; i++)
		gc_chain(rl, &rl->heads[i], now_ns);
}

size_t ratelimiter_entries(const struct ratelimiter *rl)
{
	return rl->entries;
}
