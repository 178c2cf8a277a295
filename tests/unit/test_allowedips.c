/* Unit tests for vpnd/datapath/allowedips.c.
 *
 * Three layers:
 *  - numbered table cases: small scripted scenarios (insert, remove, lookup,
 *    counts, walks, node counts), each step numbered in failure messages;
 *  - a randomized comparison against a naive reference (a flat array with a
 *    linear longest-prefix search), fixed seed so failures reproduce;
 *  - a large table (130,000 prefixes, 10,000 owners). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnd/datapath/allowedips.h"

struct pfx {
	int family;
	uint8_t addr[16];	/* 4 or 16 bytes used, rest zero */
	uint8_t cidr;
};

static int addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* "a.b.c.d/n", "x::y/n", or a bare address (cidr = full length). */
static struct pfx parse(const char *text)
{
	struct pfx p;
	char buf[64];
	char *slash;

	memset(&p, 0, sizeof(p));
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	p.family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(p.family, buf, p.addr) != 1)
		fail_msg("bad test address '%s'", text);
	p.cidr = slash ? (uint8_t)atoi(slash + 1) : (uint8_t)(addr_len(p.family) * 8);
	return p;
}

static void format(char *out, size_t len, int family, const uint8_t *addr, uint8_t cidr)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	snprintf(out, len, "%s/%u", a, cidr);
}

/* ---- walk collection, shared by all layers ---- */

struct walk_list {
	struct pfx *items;
	size_t n, cap;
};

static void walk_collect(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_list *w = ctx;
	struct pfx *p;

	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->items = realloc(w->items, w->cap * sizeof(*w->items));
		assert_non_null(w->items);
	}
	p = &w->items[w->n++];
	memset(p, 0, sizeof(*p));
	p->family = family;
	memcpy(p->addr, addr, (size_t)addr_len(family));
	p->cidr = cidr;
}

static int pfx_cmp(const void *a, const void *b)
{
	const struct pfx *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->cidr != y->cidr)
		return x->cidr < y->cidr ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* ---- numbered table cases ---- */

enum op { OP_END, OP_INS, OP_DEL, OP_LOOK, OP_RMOWN, OP_COUNT, OP_WALK, OP_NODES };

struct step {
	enum op op;
	int owner;		/* index into the case's owners; -1 = no owner */
	const char *text;	/* prefix, address, or space-separated prefixes */
	int want;		/* return code, count or node count */
};

#define INS(o, p)	{ OP_INS, o, p, 0 }
#define DEL(o, p, rc)	{ OP_DEL, o, p, rc }
#define LOOK(a, o)	{ OP_LOOK, o, a, 0 }
#define MISS(a)		{ OP_LOOK, -1, a, 0 }
#define RMOWN(o)	{ OP_RMOWN, o, NULL, 0 }
#define COUNT(o, n)	{ OP_COUNT, o, NULL, n }
#define WALK(o, list)	{ OP_WALK, o, list, 0 }
#define NODES(n)	{ OP_NODES, -1, NULL, n }

enum { A, B, C, D, N_CASE_OWNERS };

#define MAX_STEPS 24

struct table_case {
	const char *name;
	struct step steps[MAX_STEPS];	/* ends at the first OP_END */
};

static const struct table_case cases[] = {
	{ "01 empty table", {
		MISS("10.0.0.1"), MISS("::1"), MISS("0.0.0.0"),
		DEL(A, "10.0.0.0/8", -ENOENT), COUNT(A, 0), WALK(A, ""), NODES(0),
	} },
	{ "02 overlapping IPv4 prefixes", {
		INS(A, "10.0.0.0/8"), INS(B, "10.1.0.0/16"), INS(C, "10.1.2.0/24"),
		LOOK("10.1.2.3", C), LOOK("10.1.2.255", C), LOOK("10.1.3.1", B),
		LOOK("10.1.255.255", B), LOOK("10.2.0.1", A), LOOK("10.255.255.255", A),
		MISS("11.0.0.1"), MISS("9.255.255.255"), NODES(3),
	} },
	{ "03 longer prefix inserted first", {
		INS(C, "10.1.2.0/24"), INS(A, "10.0.0.0/8"), INS(B, "10.1.0.0/16"),
		LOOK("10.1.2.3", C), LOOK("10.1.3.1", B), LOOK("10.2.0.1", A), NODES(3),
	} },
	{ "04 IPv4 default route", {
		INS(A, "0.0.0.0/0"), LOOK("1.2.3.4", A), LOOK("255.255.255.255", A),
		LOOK("0.0.0.0", A), INS(B, "192.168.0.0/16"), LOOK("192.168.7.7", B),
		LOOK("192.169.0.1", A), MISS("::1"), MISS("2001:db8::1"),
		WALK(A, "0.0.0.0/0"), DEL(A, "0.0.0.0/0", 0), MISS("1.2.3.4"),
		LOOK("192.168.0.1", B), NODES(1),
	} },
	{ "05 IPv6 default route", {
		INS(A, "::/0"), LOOK("::", A), LOOK("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", A),
		INS(B, "2001:db8::/32"), LOOK("2001:db8:1::1", B), LOOK("2001:db9::1", A),
		MISS("10.0.0.1"), WALK(A, "::/0"), RMOWN(A), MISS("::1"),
		LOOK("2001:db8::", B), NODES(1),
	} },
	{ "06 both default routes are separate", {
		INS(A, "0.0.0.0/0"), INS(B, "::/0"), LOOK("8.8.8.8", A), LOOK("::ffff:8.8.8.8", B),
		COUNT(A, 1), COUNT(B, 1), NODES(2),
	} },
	{ "07 /32 host route inside a subnet", {
		INS(A, "10.0.0.0/24"), INS(B, "10.0.0.7/32"), LOOK("10.0.0.7", B),
		LOOK("10.0.0.6", A), LOOK("10.0.0.8", A), MISS("10.0.1.7"),
		INS(C, "10.0.0.6/31"), LOOK("10.0.0.6", C), LOOK("10.0.0.7", B),
		DEL(B, "10.0.0.7/32", 0), LOOK("10.0.0.7", C), NODES(2),
	} },
	{ "08 /128 host route inside a subnet", {
		INS(A, "fd00::/64"), INS(B, "fd00::1/128"), LOOK("fd00::1", B),
		LOOK("fd00::2", A), LOOK("fd00::", A), MISS("fd00:0:0:1::1"),
		INS(C, "fd00::/128"), LOOK("fd00::", C), INS(D, "fd00::/127"),
		LOOK("fd00::1", B), LOOK("fd00::", C), DEL(C, "fd00::/128", 0),
		LOOK("fd00::", D), LOOK("fd00::2", A), NODES(3),
	} },
	{ "09 IPv6 prefixes around the 64-bit middle", {
		INS(A, "2001:db8::/64"), INS(B, "2001:db8::8000:0:0:0/65"),
		INS(C, "2001:db8::/63"), LOOK("2001:db8::1", A),
		LOOK("2001:db8::8000:0:0:1", B), LOOK("2001:db8:0:1::1", C),
		MISS("2001:db8:0:2::1"), NODES(3),
	} },
	{ "10 address bits past cidr are masked", {
		INS(A, "10.1.2.3/8"), WALK(A, "10.0.0.0/8"), INS(A, "10.9.9.9/8"),
		COUNT(A, 1), LOOK("10.200.0.1", A), DEL(A, "10.7.7.7/8", 0), COUNT(A, 0),
		INS(B, "2001:db8:ffff::1/33"), WALK(B, "2001:db8:8000::/33"),
		INS(C, "255.255.255.255/0"), WALK(C, "0.0.0.0/0"), NODES(2),
	} },
	{ "11 moving a prefix between owners", {
		INS(A, "10.0.0.0/8"), INS(A, "10.1.0.0/16"), COUNT(A, 2),
		INS(B, "10.0.0.0/8"), LOOK("10.2.0.1", B), LOOK("10.1.0.1", A),
		COUNT(A, 1), COUNT(B, 1), WALK(A, "10.1.0.0/16"), WALK(B, "10.0.0.0/8"),
		DEL(A, "10.0.0.0/8", -ENOENT), INS(B, "10.0.0.0/8"), COUNT(B, 1),
		DEL(B, "10.0.0.0/8", 0), MISS("10.2.0.1"), LOOK("10.1.0.1", A), NODES(1),
	} },
	{ "12 removing one prefix", {
		INS(A, "10.0.0.0/8"), INS(B, "10.1.0.0/16"), INS(C, "10.1.2.0/24"),
		DEL(B, "10.1.0.0/16", 0), LOOK("10.1.3.1", A), LOOK("10.1.2.1", C),
		NODES(2), DEL(C, "10.1.2.0/24", 0), LOOK("10.1.2.1", A), NODES(1),
		COUNT(B, 0), COUNT(C, 0), COUNT(A, 1),
	} },
	{ "13 removing what one does not hold", {
		INS(A, "10.0.0.0/8"), DEL(B, "10.0.0.0/8", -ENOENT),
		DEL(A, "10.0.0.0/9", -ENOENT), DEL(A, "10.0.0.0/7", -ENOENT),
		DEL(A, "11.0.0.0/8", -ENOENT), DEL(A, "::/8", -ENOENT),
		LOOK("10.0.0.1", A), COUNT(A, 1), NODES(1),
	} },
	{ "14 remove_owner", {
		INS(A, "10.0.0.0/8"), INS(A, "192.168.0.0/16"), INS(A, "fd00::/8"),
		INS(B, "10.1.0.0/16"), INS(A, "10.1.2.0/24"), COUNT(A, 4),
		RMOWN(A), LOOK("10.1.1.1", B), LOOK("10.1.2.1", B), MISS("10.2.0.1"),
		MISS("192.168.1.1"), MISS("fd00::1"), COUNT(A, 0), WALK(A, ""),
		COUNT(B, 1), NODES(1), RMOWN(A), RMOWN(B), NODES(0), MISS("10.1.1.1"),
	} },
	{ "15 walk lists exactly the owner's prefixes, masked", {
		INS(A, "10.1.2.3/8"), INS(A, "172.16.5.4/12"), INS(A, "2001:db8::1/32"),
		INS(A, "::1/128"), INS(A, "0.0.0.0/0"), INS(B, "10.1.0.0/16"),
		INS(C, "172.16.0.0/12"), INS(C, "172.16.0.0/13"),
		WALK(A, "0.0.0.0/0 10.0.0.0/8 2001:db8::/32 ::1/128"),
		WALK(B, "10.1.0.0/16"), WALK(C, "172.16.0.0/12 172.16.0.0/13"), WALK(D, ""),
	} },
	{ "16 pruning returns branching nodes", {
		INS(A, "10.0.0.0/16"), INS(B, "10.1.0.0/16"), NODES(3),
		DEL(A, "10.0.0.0/16", 0), NODES(1), INS(C, "10.0.0.0/8"), NODES(2),
		INS(A, "10.2.0.0/16"), NODES(4), DEL(B, "10.1.0.0/16", 0), NODES(2),
		DEL(C, "10.0.0.0/8", 0), NODES(1), LOOK("10.2.3.4", A),
		DEL(A, "10.2.0.0/16", 0), NODES(0), MISS("10.2.3.4"),
	} },
	{ "17 a branching node takes an owner", {
		INS(A, "10.0.0.0/16"), INS(B, "10.1.0.0/16"), INS(C, "10.0.0.0/15"),
		NODES(3), LOOK("10.0.5.5", A), LOOK("10.1.5.5", B), DEL(A, "10.0.0.0/16", 0),
		LOOK("10.0.5.5", C), NODES(2), DEL(C, "10.0.0.0/15", 0), NODES(1),
		LOOK("10.1.5.5", B), MISS("10.0.5.5"),
	} },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* Splits list into prefixes, sorted like pfx_cmp; returns how many. */
static size_t parse_list(const char *list, struct pfx *out, size_t max)
{
	char buf[256];
	size_t n = 0;
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		assert_true(n < max);
		out[n++] = parse(tok);
	}
	qsort(out, n, sizeof(*out), pfx_cmp);
	return n;
}

static void check_walk(const struct allowedips_owner *o, const char *list, const char *where)
{
	struct pfx want[16];
	size_t n = parse_list(list, want, 16);
	struct walk_list w = { NULL, 0, 0 };

	allowedips_walk_owner(o, walk_collect, &w);
	if (w.n)
		qsort(w.items, w.n, sizeof(*w.items), pfx_cmp);
	if (w.n != n)
		fail_msg("%s: walk gave %zu prefixes, want %zu (%s)", where, w.n, n, list);
	for (size_t i = 0; i < n; i++) {
		char got[64];

		if (!pfx_cmp(&w.items[i], &want[i]))
			continue;
		format(got, sizeof(got), w.items[i].family, w.items[i].addr, w.items[i].cidr);
		fail_msg("%s: walk gave %s, want list %s", where, got, list);
	}
	free(w.items);
}

static void run_step(struct allowedips *t, struct allowedips_owner *owners,
		     const struct step *s, const char *where)
{
	struct allowedips_owner *o = s->owner >= 0 ? &owners[s->owner] : NULL;
	struct pfx p;

	switch (s->op) {
	case OP_INS:
		p = parse(s->text);
		if (allowedips_insert(t, p.family, p.addr, p.cidr, o) != 0)
			fail_msg("%s: insert %s failed", where, s->text);
		break;
	case OP_DEL:
		p = parse(s->text);
		if (allowedips_remove(t, p.family, p.addr, p.cidr, o) != s->want)
			fail_msg("%s: remove %s did not return %d", where, s->text, s->want);
		break;
	case OP_LOOK:
		p = parse(s->text);
		if (allowedips_lookup(t, p.family, p.addr) != o)
			fail_msg("%s: lookup %s is not owner %d", where, s->text, s->owner);
		break;
	case OP_RMOWN:
		allowedips_remove_owner(t, o);
		break;
	case OP_COUNT:
		if (o->count != (size_t)s->want)
			fail_msg("%s: owner %d count %zu, want %d", where, s->owner, o->count,
				 s->want);
		break;
	case OP_WALK:
		check_walk(o, s->text, where);
		break;
	case OP_NODES:
		if (allowedips_node_count(t) != (size_t)s->want)
			fail_msg("%s: %zu nodes, want %d", where, allowedips_node_count(t),
				 s->want);
		break;
	case OP_END:
		break;
	}
}

/* state: the table case. Ends by freeing the table, which must leave every
 * owner empty. */
static void run_case(void **state)
{
	const struct table_case *c = *state;
	struct allowedips_owner owners[N_CASE_OWNERS];
	struct allowedips *t = allowedips_new();

	memset(owners, 0, sizeof(owners));
	assert_non_null(t);
	for (int i = 0; i < MAX_STEPS && c->steps[i].op != OP_END; i++) {
		char where[96];

		snprintf(where, sizeof(where), "case %s, step %d", c->name, i + 1);
		run_step(t, owners, &c->steps[i], where);
	}
	allowedips_free(t);
	for (int i = 0; i < N_CASE_OWNERS; i++) {
		assert_null(owners[i].first);
		assert_int_equal(owners[i].count, 0);
	}
}

static void test_invalid_args(void **state)
{
	struct allowedips *t = allowedips_new();
	struct allowedips_owner o = { 0 };
	uint8_t addr[16] = { 10 };

	(void)state;
	assert_non_null(t);
	assert_int_equal(allowedips_insert(t, AF_INET, addr, 33, &o), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET6, addr, 129, &o), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_UNIX, addr, 8, &o), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET, addr, 8, NULL), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET, addr, 32, &o), 0);
	assert_int_equal(allowedips_insert(t, AF_INET6, addr, 128, &o), 0);
	assert_int_equal(allowedips_remove(t, AF_INET, addr, 33, &o), -ENOENT);
	assert_int_equal(allowedips_remove(t, AF_UNIX, addr, 8, &o), -ENOENT);
	assert_null(allowedips_lookup(t, AF_UNIX, addr));
	assert_int_equal(o.count, 2);
	allowedips_free(t);
	allowedips_free(NULL);
	assert_int_equal(o.count, 0);
}

/* ---- randomized comparison against a naive reference ---- */

/* xorshift64*: fixed seed, same sequence on every run and platform. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() >> 33) % n;
}

/* The reference: a flat array, one entry per held prefix (stored masked),
 * searched linearly. Deliberately shares nothing with the trie. */
struct ref_entry {
	struct pfx p;
	int owner;
};

struct ref {
	struct ref_entry *e;
	size_t n, cap;
};

/* Bits of byte i that lie inside the first cidr bits. */
static uint8_t keep_mask(int i, unsigned int cidr)
{
	unsigned int first = (unsigned int)i * 8;

	if (cidr <= first)
		return 0;
	if (cidr >= first + 8)
		return 0xff;
	return (uint8_t)(0xff << (first + 8 - cidr));
}

static void mask_bytes(uint8_t *addr, int len, unsigned int cidr)
{
	for (int i = 0; i < len; i++)
		addr[i] &= keep_mask(i, cidr);
}

static bool covers(const struct pfx *p, int family, const uint8_t *addr)
{
	unsigned int full = p->cidr / 8, rest = p->cidr % 8;

	if (p->family != family || memcmp(p->addr, addr, full))
		return false;
	return rest == 0 || ((p->addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

static long ref_find(const struct ref *r, const struct pfx *p)
{
	for (size_t i = 0; i < r->n; i++)
		if (!pfx_cmp(&r->e[i].p, p))
			return (long)i;
	return -1;
}

static void ref_insert(struct ref *r, const struct pfx *p, int owner)
{
	long i = ref_find(r, p);

	if (i >= 0) {
		r->e[i].owner = owner;
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->e = realloc(r->e, r->cap * sizeof(*r->e));
		assert_non_null(r->e);
	}
	r->e[r->n].p = *p;
	r->e[r->n].owner = owner;
	r->n++;
}

static int ref_remove(struct ref *r, const struct pfx *p, int owner)
{
	long i = ref_find(r, p);

	if (i < 0 || r->e[i].owner != owner)
		return -ENOENT;
	r->e[i] = r->e[--r->n];
	return 0;
}

static void ref_remove_owner(struct ref *r, int owner)
{
	for (size_t i = 0; i < r->n;) {
		if (r->e[i].owner == owner)
			r->e[i] = r->e[--r->n];
		else
			i++;
	}
}

static int ref_lookup(const struct ref *r, int family, const uint8_t *addr)
{
	int best = -1, best_cidr = -1;

	for (size_t i = 0; i < r->n; i++) {
		const struct ref_entry *e = &r->e[i];

		if (e->p.cidr > best_cidr && covers(&e->p, family, addr)) {
			best = e->owner;
			best_cidr = e->p.cidr;
		}
	}
	return best;
}

#define R_OWNERS 20
#define R_BASES 8
#define R_ROUNDS 10
#define R_OPS_PER_ROUND 1000
#define R_LOOKUPS_PER_ROUND 10000

struct rand_ctx {
	struct allowedips *t;
	struct allowedips_owner owners[R_OWNERS];
	struct ref ref;
	uint8_t base[2][R_BASES][16];	/* [0] IPv4, [1] IPv6 */
	size_t hits, misses;
};

/* An address near one of few base addresses, so prefixes nest and overlap:
 * a base with a few random bits flipped, or in wild_pct percent of calls
 * anything at all (those mostly miss). */
static void rand_addr(struct rand_ctx *x, int family, uint8_t *addr, unsigned int wild_pct)
{
	int len = addr_len(family);
	unsigned int flips = rnd_below(4);

	memset(addr, 0, 16);
	if (rnd_below(100) < wild_pct) {
		for (int i = 0; i < len; i++)
			addr[i] = (uint8_t)rnd();
		return;
	}
	memcpy(addr, x->base[family == AF_INET6][rnd_below(R_BASES)], (size_t)len);
	for (unsigned int i = 0; i < flips; i++) {
		unsigned int bit = 4 + rnd_below((unsigned int)len * 8 - 4);

		addr[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
	}
}

/* cidr: mostly long enough to be interesting, /0 rarely so misses remain. */
static uint8_t rand_cidr(int family)
{
	unsigned int bits = (unsigned int)addr_len(family) * 8;

	if (rnd_below(1500) == 0)
		return 0;
	return (uint8_t)(bits / 4 + rnd_below(bits - bits / 4 + 1));
}

static int rand_family(void)
{
	return rnd_below(2) ? AF_INET : AF_INET6;
}

/* A prefix as the trie is given it (unmasked) and as the reference keeps it. */
static void rand_prefix(struct rand_ctx *x, struct pfx *raw, struct pfx *masked)
{
	memset(raw, 0, sizeof(*raw));
	raw->family = rand_family();
	rand_addr(x, raw->family, raw->addr, 10);
	raw->cidr = rand_cidr(raw->family);
	*masked = *raw;
	mask_bytes(masked->addr, addr_len(raw->family), raw->cidr);
}

static void rand_insert(struct rand_ctx *x, const struct pfx *raw, const struct pfx *masked,
			int owner)
{
	assert_int_equal(allowedips_insert(x->t, raw->family, raw->addr, raw->cidr,
					   &x->owners[owner]), 0);
	ref_insert(&x->ref, masked, owner);
}

static void rand_remove(struct rand_ctx *x, const struct pfx *raw, const struct pfx *masked,
			int owner)
{
	int want = ref_remove(&x->ref, masked, owner);

	assert_int_equal(allowedips_remove(x->t, raw->family, raw->addr, raw->cidr,
					   &x->owners[owner]), want);
}

/* An existing reference entry, given unmasked: random bits past cidr. */
static void pick_existing(struct rand_ctx *x, struct pfx *raw, struct pfx *masked, int *owner)
{
	const struct ref_entry *e = &x->ref.e[rnd_below((unsigned int)x->ref.n)];

	*masked = e->p;
	*owner = e->owner;
	*raw = e->p;
	for (int i = 0; i < addr_len(e->p.family); i++)
		raw->addr[i] |= (uint8_t)rnd() & (uint8_t)~keep_mask(i, e->p.cidr);
}

static void rand_op(struct rand_ctx *x)
{
	unsigned int dice = rnd_below(1000);
	struct pfx raw, masked;
	int owner = (int)rnd_below(R_OWNERS), held;

	if (dice < 550 || x->ref.n == 0) {
		rand_prefix(x, &raw, &masked);
		rand_insert(x, &raw, &masked, owner);
	} else if (dice < 700) {
		/* re-assignment (or re-insert by the same owner) */
		pick_existing(x, &raw, &masked, &held);
		rand_insert(x, &raw, &masked, owner);
	} else if (dice < 850) {
		pick_existing(x, &raw, &masked, &held);
		rand_remove(x, &raw, &masked, held);
	} else if (dice < 925) {
		/* usually the wrong owner */
		pick_existing(x, &raw, &masked, &held);
		rand_remove(x, &raw, &masked, owner);
	} else if (dice < 999) {
		/* usually a prefix nobody holds */
		rand_prefix(x, &raw, &masked);
		rand_remove(x, &raw, &masked, owner);
	} else {
		allowedips_remove_owner(x->t, &x->owners[owner]);
		ref_remove_owner(&x->ref, owner);
	}
}

static void rand_lookups(struct rand_ctx *x, int count)
{
	for (int i = 0; i < count; i++) {
		int family = rand_family();
		uint8_t addr[16];
		struct allowedips_owner *got;
		int want;

		rand_addr(x, family, addr, 20);
		got = allowedips_lookup(x->t, family, addr);
		want = ref_lookup(&x->ref, family, addr);
		if (got != (want < 0 ? NULL : &x->owners[want])) {
			char a[INET6_ADDRSTRLEN];

			inet_ntop(family, addr, a, sizeof(a));
			fail_msg("lookup %d of %s: got owner %ld, want %d", i, a,
				 got ? (long)(got - x->owners) : -1L, want);
		}
		if (want < 0)
			x->misses++;
		else
			x->hits++;
	}
}

/* Counts, walks and node bounds of every owner agree with the reference. */
static void rand_check_owners(struct rand_ctx *x)
{
	size_t n = x->ref.n, nodes = allowedips_node_count(x->t);

	for (int o = 0; o < R_OWNERS; o++) {
		struct walk_list w = { NULL, 0, 0 };
		size_t want = 0;

		for (size_t i = 0; i < x->ref.n; i++)
			want += x->ref.e[i].owner == o;
		assert_int_equal(x->owners[o].count, want);
		allowedips_walk_owner(&x->owners[o], walk_collect, &w);
		assert_int_equal(w.n, want);
		for (size_t i = 0; i < w.n; i++) {
			long at = ref_find(&x->ref, &w.items[i]);

			assert_true(at >= 0);
			assert_int_equal(x->ref.e[at].owner, o);
		}
		free(w.items);
	}
	/* every held prefix is a node; branching nodes are fewer than those */
	assert_true(nodes >= n);
	assert_true(n == 0 ? nodes == 0 : nodes <= 2 * n - 1);
}

static void test_random_vs_reference(void **state)
{
	struct rand_ctx *x = calloc(1, sizeof(*x));

	(void)state;
	assert_non_null(x);
	rng_state = 0x9e3779b97f4a7c15ULL;
	x->t = allowedips_new();
	assert_non_null(x->t);
	for (int f = 0; f < 2; f++)
		for (int b = 0; b < R_BASES; b++)
			for (int i = 0; i < 16; i++)
				x->base[f][b][i] = (uint8_t)rnd();
	for (int round = 0; round < R_ROUNDS; round++) {
		for (int i = 0; i < R_OPS_PER_ROUND; i++)
			rand_op(x);
		rand_lookups(x, R_LOOKUPS_PER_ROUND);
		rand_check_owners(x);
	}
	/* the comparison means little unless both outcomes were common */
	print_message("random: %zu prefixes held, %zu hits, %zu misses\n", x->ref.n,
		      x->hits, x->misses);
	assert_true(x->hits > R_ROUNDS * R_LOOKUPS_PER_ROUND / 4);
	assert_true(x->misses > R_ROUNDS * R_LOOKUPS_PER_ROUND / 20);
	for (int o = 0; o < R_OWNERS; o++) {
		allowedips_remove_owner(x->t, &x->owners[o]);
		ref_remove_owner(&x->ref, o);
	}
	assert_int_equal(x->ref.n, 0);
	rand_check_owners(x);
	assert_int_equal(allowedips_node_count(x->t), 0);
	rand_lookups(x, 1000);
	allowedips_free(x->t);
	free(x->ref.e);
	free(x);
}

/* ---- large table ---- */

#define L_PREFIXES 130000
#define L_OWNERS 10000

/* Prefix i: IPv4 10.0.0.0 + 4i /30 for three in four, otherwise IPv6
 * 2001:db8:HHHH:LLLL::/64 with i in the third and fourth groups. All distinct. */
static struct pfx large_prefix(uint32_t i)
{
	struct pfx p;

	memset(&p, 0, sizeof(p));
	if (i % 4 != 3) {
		uint32_t a = 0x0a000000u + i * 4;

		p.family = AF_INET;
		p.addr[0] = (uint8_t)(a >> 24);
		p.addr[1] = (uint8_t)(a >> 16);
		p.addr[2] = (uint8_t)(a >> 8);
		p.addr[3] = (uint8_t)a;
		p.cidr = 30;
	} else {
		p.family = AF_INET6;
		p.addr[0] = 0x20;
		p.addr[1] = 0x01;
		p.addr[2] = 0x0d;
		p.addr[3] = 0xb8;
		p.addr[4] = (uint8_t)(i >> 24);
		p.addr[5] = (uint8_t)(i >> 16);
		p.addr[6] = (uint8_t)(i >> 8);
		p.addr[7] = (uint8_t)i;
		p.cidr = 64;
	}
	return p;
}

static void count_walk(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	(void)family;
	(void)addr;
	(void)cidr;
	(*(size_t *)ctx)++;
}

/* Every prefix looks up to its owner, or to nothing once removed. */
static void large_check_lookups(struct allowedips *t, struct allowedips_owner *owners,
				bool (*present)(uint32_t owner))
{
	for (uint32_t i = 0; i < L_PREFIXES; i++) {
		struct pfx p = large_prefix(i);
		uint32_t o = i % L_OWNERS;

		p.addr[addr_len(p.family) - 1] |= 1;	/* a host inside the prefix */
		assert_ptr_equal(allowedips_lookup(t, p.family, p.addr),
				 present(o) ? &owners[o] : NULL);
	}
}

static bool all_present(uint32_t owner)
{
	(void)owner;
	return true;
}

static bool odd_present(uint32_t owner)
{
	return owner % 2 == 1;
}

static void test_large(void **state)
{
	struct allowedips_owner *owners = calloc(L_OWNERS, sizeof(*owners));
	struct allowedips *t = allowedips_new();
	size_t per_owner = L_PREFIXES / L_OWNERS;

	(void)state;
	assert_non_null(owners);
	assert_non_null(t);
	for (uint32_t i = 0; i < L_PREFIXES; i++) {
		struct pfx p = large_prefix(i);

		assert_int_equal(allowedips_insert(t, p.family, p.addr, p.cidr,
						   &owners[i % L_OWNERS]), 0);
	}
	assert_true(allowedips_node_count(t) >= L_PREFIXES);
	assert_true(allowedips_node_count(t) < 2 * L_PREFIXES);
	for (int o = 0; o < L_OWNERS; o++) {
		size_t walked = 0;

		allowedips_walk_owner(&owners[o], count_walk, &walked);
		assert_int_equal(owners[o].count, per_owner);
		assert_int_equal(walked, per_owner);
	}
	large_check_lookups(t, owners, all_present);
	for (int o = 0; o < L_OWNERS; o += 2)
		allowedips_remove_owner(t, &owners[o]);
	for (int o = 0; o < L_OWNERS; o++) {
		size_t walked = 0;

		allowedips_walk_owner(&owners[o], count_walk, &walked);
		assert_int_equal(walked, o % 2 ? per_owner : 0);
		assert_int_equal(owners[o].count, walked);
	}
	large_check_lookups(t, owners, odd_present);
	for (int o = 1; o < L_OWNERS; o += 2)
		allowedips_remove_owner(t, &owners[o]);
	assert_int_equal(allowedips_node_count(t), 0);
	allowedips_free(t);
	free(owners);
}

int main(void)
{
	struct CMUnitTest tests[N_CASES + 3];
	size_t n = 0;

	for (size_t i = 0; i < N_CASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_invalid_args);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_random_vs_reference);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_large);
	return _cmocka_run_group_tests("allowedips", tests, n, NULL, NULL);
}
