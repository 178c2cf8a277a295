/* The routing table: allowed IPs of every peer, longest-prefix match, one
 * binary trie per address family (path-compressed). Used by the send path
 * (inner destination -> peer) and the receive path (inner source must map
 * to the peer the packet came from).
 *
 * Ownership: the trie refers to owners (struct allowedips_owner, embedded in
 * each peer) and keeps, per owner, a list of its prefixes so a peer's
 * prefixes can be listed or removed without walking the whole trie. The
 * owner never points into the trie except through that list. Lookup cost
 * depends on the address length only, never on the number of peers.
 * Not thread-safe: the caller serialises writers against readers. */
#ifndef VPND_ALLOWEDIPS_H
#define VPND_ALLOWEDIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct allowedips_node;

struct allowedips_owner {
	struct allowedips_node *first;	/* this owner's prefixes, a list in */
	size_t count;			/* insertion order, as wg(8) lists them */
	struct allowedips_node *last;
};

struct allowedips;

struct allowedips *allowedips_new(void);
void allowedips_free(struct allowedips *t);

/* family is AF_INET (addr 4 bytes) or AF_INET6 (16 bytes). Bits of addr
 * past cidr are ignored (masked). If the prefix belongs to another owner it
 * moves to this one. Returns 0, -EINVAL (bad family or cidr) or -ENOMEM. */
int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
		      struct allowedips_owner *owner);
/* Removes one prefix if owner holds it; returns 0 or -ENOENT. */
int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
		      struct allowedips_owner *owner);
/* Removes every prefix of owner. */
void allowedips_remove_owner(struct allowedips *t, struct allowedips_owner *owner);
/* Longest-prefix match; NULL when nothing covers addr. */
struct allowedips_owner *allowedips_lookup(const struct allowedips *t, int family,
					   const uint8_t *addr);

typedef void (*allowedips_walk_fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
/* Calls fn for each prefix of owner (addr masked to cidr). */
void allowedips_walk_owner(const struct allowedips_owner *owner, allowedips_walk_fn fn, void *ctx);

/* Nodes currently allocated (entries plus branching nodes, at most 2n - 1
 * for n prefixes); for tests and memory diagnostics. */
size_t allowedips_node_count(const struct allowedips *t);

#endif
