/* Allowed IPs: a path-compressed binary trie per address family.
 *
 * Trie invariants (every function below keeps them):
 *  - A node holds a prefix (key masked to cidr). A child's prefix is longer
 *    than its parent's and starts with it; child[b] is the subtree whose bit
 *    at position parent->cidr is b.
 *  - A node has an owner (it is an allowed-IPs entry) or it is a pure
 *    branching node; a branching node always has two children. So there are
 *    fewer branching nodes than entries and the trie holds at most 2n - 1
 *    nodes for n prefixes.
 *  - Depth is at most address bits + 1, since cidr grows strictly downwards.
 *
 * Owner lists: each owned node sits in a doubly linked list rooted in its
 * owner (owner_prev/owner_next), so listing or removing one owner's prefixes
 * never looks at other owners' nodes. Nodes also point to their parent so a
 * node can be unlinked and pruned without searching for it from the root.
 *
 * Memory: the table owns every node; owners are the caller's and must stay
 * alive while they hold prefixes (lookup returns them). */
#include "vpnd/datapath/allowedips.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

enum { FAM_V4, FAM_V6, FAM_COUNT };

static const uint8_t fam_bits[FAM_COUNT] = { 32, 128 };
static const uint8_t fam_bytes[FAM_COUNT] = { 4, 16 };
static const int fam_af[FAM_COUNT] = { AF_INET, AF_INET6 };

/* An address as a 128-bit big-endian number in two halves; IPv4 uses the top
 * 32 bits of hi and leaves the rest zero. Comparing integers makes "how many
 * leading bits agree" one xor plus a count of leading zeros, so each node a
 * lookup visits costs O(1) and a lookup costs O(address bits). */
struct key {
	uint64_t hi, lo;
};

/* Fields a lookup reads come first so they tend to share a cache line. */
struct allowedips_node {
	struct key key;				/* always masked to cidr */
	struct allowedips_node *child[2];
	struct allowedips_owner *owner;		/* NULL: branching node */
	uint8_t cidr;
	uint8_t fam;				/* FAM_V4 or FAM_V6 */
	struct allowedips_node *parent;		/* NULL for a root */
	/* Links in owner's list; meaningless while owner is NULL. */
	struct allowedips_node *owner_prev, *owner_next;
};

struct allowedips {
	struct allowedips_node *root[FAM_COUNT];
	size_t nodes;				/* allocated nodes, both families */
};

static int fam_index(int family)
{
	if (family == AF_INET)
		return FAM_V4;
	if (family == AF_INET6)
		return FAM_V6;
	return -1;
}

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static struct key key_load(int fam, const uint8_t *addr)
{
	struct key k = { 0, 0 };

	if (fam == FAM_V6) {
		k.hi = load_be64(addr);
		k.lo = load_be64(addr + 8);
	} else {
		k.hi = (uint64_t)addr[0] << 56 | (uint64_t)addr[1] << 48 |
		       (uint64_t)addr[2] << 40 | (uint64_t)addr[3] << 32;
	}
	return k;
}

/* out holds fam_bytes[fam] bytes. */
static void key_store(int fam, struct key k, uint8_t *out)
{
	uint8_t buf[16];

	store_be64(buf, k.hi);
	store_be64(buf + 8, k.lo);
	for (int i = 0; i < fam_bytes[fam]; i++)
		out[i] = buf[i];
}

/* Mask of the first n bits of a 64-bit half; n may be 0..64. */
static uint64_t mask64(unsigned int n)
{
	return n == 0 ? 0 : ~(uint64_t)0 << (64 - n);
}

static struct key key_mask(struct key k, unsigned int cidr)
{
	k.hi &= mask64(cidr > 64 ? 64 : cidr);
	k.lo &= mask64(cidr > 64 ? cidr - 64 : 0);
	return k;
}

/* Number of leading bits a and b share, 0..128. */
static unsigned int common_bits(struct key a, struct key b)
{
	uint64_t x = a.hi ^ b.hi;

	if (x)
		return (unsigned int)__builtin_clzll(x);
	x = a.lo ^ b.lo;
	if (x)
		return 64 + (unsigned int)__builtin_clzll(x);
	return 128;
}

/* Bit i (0 = most significant); i < 128. */
static unsigned int key_bit(struct key k, unsigned int i)
{
	if (i < 64)
		return (unsigned int)(k.hi >> (63 - i)) & 1;
	return (unsigned int)(k.lo >> (127 - i)) & 1;
}

static unsigned int min3(unsigned int a, unsigned int b, unsigned int c)
{
	unsigned int m = a < b ? a : b;

	return m < c ? m : c;
}

static struct allowedips_node *node_new(struct allowedips *t, int fam, struct key k,
					unsigned int cidr)
{
	struct allowedips_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->key = key_mask(k, cidr);
	n->cidr = (uint8_t)cidr;
	n->fam = (uint8_t)fam;
	t->nodes++;
	return n;
}

static void node_free(struct allowedips *t, struct allowedips_node *n)
{
	t->nodes--;
	free(n);
}

/* The pointer that refers to n: its parent's child slot or the root. */
static struct allowedips_node **node_slot(struct allowedips *t, struct allowedips_node *n)
{
	struct allowedips_node *p = n->parent;

	if (!p)
		return &t->root[n->fam];
	return &p->child[p->child[1] == n];
}

static void owner_unlink(struct allowedips_node *n)
{
	struct allowedips_owner *o = n->owner;

	if (n->owner_prev)
		n->owner_prev->owner_next = n->owner_next;
	else
		o->first = n->owner_next;
	if (n->owner_next)
		n->owner_next->owner_prev = n->owner_prev;
	else
		o->last = n->owner_prev;
	o->count--;
	n->owner = NULL;
	n->owner_prev = n->owner_next = NULL;
}

/* Gives n to owner, taking it from its previous owner if any. */
static void node_set_owner(struct allowedips_node *n, struct allowedips_owner *owner)
{
	if (n->owner == owner)
		return;
	if (n->owner)
		owner_unlink(n);
	/* Appended, so listings keep the order the prefixes were added in. */
	n->owner = owner;
	n->owner_next = NULL;
	n->owner_prev = owner->last;
	if (owner->last)
		owner->last->owner_next = n;
	else
		owner->first = n;
	owner->last = n;
	owner->count++;
}

/* Restores "a branching node has two children" upwards from n, which just
 * lost its owner or a child. Replacing a node by its only child keeps the
 * parent's child count, so the walk stops there; removing a childless node
 * costs its parent a child, so the parent is checked next. At most two nodes
 * go, since the parent had two children before (or an owner). */
static void prune(struct allowedips *t, struct allowedips_node *n)
{
	while (n && !n->owner && !(n->child[0] && n->child[1])) {
		struct allowedips_node *only = n->child[0] ? n->child[0] : n->child[1];
		struct allowedips_node *parent = n->parent;

		*node_slot(t, n) = only;
		if (only)
			only->parent = parent;
		node_free(t, n);
		n = only ? NULL : parent;
	}
}

static void node_remove(struct allowedips *t, struct allowedips_node *n)
{
	owner_unlink(n);
	prune(t, n);
}

/* n's prefix is not a prefix of the new one: they part at bit common, with
 * common < n->cidr. Puts the new prefix (and a branching node if the new one
 * does not contain n) where n hangs now, at *slot. Allocates before changing
 * anything so -ENOMEM leaves the trie as it was. */
static int insert_split(struct allowedips *t, struct allowedips_node **slot,
			struct allowedips_node *n, struct key k, unsigned int cidr,
			unsigned int common, struct allowedips_owner *owner)
{
	struct allowedips_node *leaf, *branch = NULL, *top;

	leaf = node_new(t, n->fam, k, cidr);
	if (!leaf)
		return -ENOMEM;
	if (common < cidr) {
		branch = node_new(t, n->fam, k, common);
		if (!branch) {
			node_free(t, leaf);
			return -ENOMEM;
		}
	}
	top = branch ? branch : leaf;
	top->parent = n->parent;
	*slot = top;
	if (branch) {
		/* The two differ at bit common, so they take both sides. */
		branch->child[key_bit(k, common)] = leaf;
		leaf->parent = branch;
	}
	top->child[key_bit(n->key, top->cidr)] = n;
	n->parent = top;
	node_set_owner(leaf, owner);
	return 0;
}

int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
		      struct allowedips_owner *owner)
{
	int fam = fam_index(family);
	struct allowedips_node **slot, *n, *parent = NULL;
	struct key k;

	if (fam < 0 || cidr > fam_bits[fam] || !owner)
		return -EINVAL;
	k = key_mask(key_load(fam, addr), cidr);
	slot = &t->root[fam];
	while ((n = *slot)) {
		unsigned int common = min3(common_bits(k, n->key), cidr, n->cidr);

		if (common < n->cidr)
			return insert_split(t, slot, n, k, cidr, common, owner);
		if (n->cidr == cidr) {
			node_set_owner(n, owner);
			return 0;
		}
		/* n->cidr < cidr <= bits, so the next bit exists. */
		parent = n;
		slot = &n->child[key_bit(k, n->cidr)];
	}
	n = node_new(t, fam, k, cidr);
	if (!n)
		return -ENOMEM;
	n->parent = parent;
	*slot = n;
	node_set_owner(n, owner);
	return 0;
}

/* The node holding exactly this prefix (k masked to cidr), owned or not. */
static struct allowedips_node *find_exact(const struct allowedips *t, int fam, struct key k,
					  unsigned int cidr)
{
	struct allowedips_node *n = t->root[fam];

	while (n && n->cidr <= cidr && common_bits(k, n->key) >= n->cidr) {
		if (n->cidr == cidr)
			return n;
		n = n->child[key_bit(k, n->cidr)];
	}
	return NULL;
}

/* A bad family or cidr cannot name a held prefix, hence -ENOENT too. */
int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
		      struct allowedips_owner *owner)
{
	int fam = fam_index(family);
	struct allowedips_node *n;

	if (fam < 0 || cidr > fam_bits[fam] || !owner)
		return -ENOENT;
	n = find_exact(t, fam, key_mask(key_load(fam, addr), cidr), cidr);
	if (!n || n->owner != owner)
		return -ENOENT;
	node_remove(t, n);
	return 0;
}

/* Each removal is O(1) thanks to parent pointers; the owner's nodes must be
 * in t. */
void allowedips_remove_owner(struct allowedips *t, struct allowedips_owner *owner)
{
	while (owner->first)
		node_remove(t, owner->first);
}

/* Walks down while the node's prefix covers addr; the last owned node seen
 * is the longest match. No allocation, at most bits + 1 nodes. */
struct allowedips_owner *allowedips_lookup(const struct allowedips *t, int family,
					   const uint8_t *addr)
{
	int fam = fam_index(family);
	struct allowedips_owner *best = NULL;
	const struct allowedips_node *n;
	struct key k;

	if (fam < 0)
		return NULL;
	k = key_load(fam, addr);
	n = t->root[fam];
	while (n && common_bits(k, n->key) >= n->cidr) {
		if (n->owner)
			best = n->owner;
		if (n->cidr == fam_bits[fam])
			break;
		n = n->child[key_bit(k, n->cidr)];
	}
	return best;
}

/* fn must not change the table while walking. */
void allowedips_walk_owner(const struct allowedips_owner *owner, allowedips_walk_fn fn, void *ctx)
{
	for (const struct allowedips_node *n = owner->first; n; n = n->owner_next) {
		uint8_t addr[16];

		key_store(n->fam, n->key, addr);
		fn(ctx, fam_af[n->fam], addr, n->cidr);
	}
}

size_t allowedips_node_count(const struct allowedips *t)
{
	return t->nodes;
}

struct allowedips *allowedips_new(void)
{
	return calloc(1, sizeof(struct allowedips));
}

/* Post-order without a stack: go down, detaching each child as we enter it,
 * and free a node once it has no children left, then climb to its parent.
 * Owners still holding prefixes are left with empty lists. */
static void free_tree(struct allowedips *t, struct allowedips_node *n)
{
	while (n) {
		struct allowedips_node *next;

		if (n->child[0] || n->child[1]) {
			int side = n->child[0] ? 0 : 1;

			next = n->child[side];
			n->child[side] = NULL;
		} else {
			next = n->parent;
			if (n->owner)
				owner_unlink(n);
			node_free(t, n);
		}
		n = next;
	}
}

void allowedips_free(struct allowedips *t)
{
	if (!t)
		return;
	for (int fam = 0; fam < FAM_COUNT; fam++)
		free_tree(t, t->root[fam]);
	free(t);
}
