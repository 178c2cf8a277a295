/* The receiver-index table: maps the 32-bit indices we hand out in our
 * handshake messages to the peer (a pending handshake) or the keypair (a
 * session) they name. Open addressing with tombstones; indices are random.
 * Refers to peers and keypairs, owns neither: whoever frees one removes
 * its index first. */
#ifndef VPND_DATAPATH_INDEX_H
#define VPND_DATAPATH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct peer;
struct keypair;

struct index_entry {
	uint32_t index;			/* 0 = empty slot */
	bool tombstone;
	struct peer *peer;
	struct keypair *kp;		/* NULL: the index is the peer's handshake */
};

struct index_table {
	struct index_entry *slots;
	size_t cap, used, live;
};

int index_table_init(struct index_table *t);
void index_table_free(struct index_table *t);
/* Picks a fresh random index for peer/kp and inserts it. 0 on ENOMEM. */
uint32_t index_table_add(struct index_table *t, struct peer *peer, struct keypair *kp);
void index_table_set(struct index_table *t, uint32_t index, struct keypair *kp);
struct index_entry *index_table_find(struct index_table *t, uint32_t index);
void index_table_remove(struct index_table *t, uint32_t index);

#endif
