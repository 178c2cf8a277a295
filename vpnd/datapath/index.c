/* Index table: receiver index -> (peer, keypair or handshake). Open
 * addressing with linear probing; indices are random, so they hash well as
 * they are. Grows by doubling when 3/4 full (tombstones count), which happens
 * on handshakes, never per packet. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpnd/datapath/device.h"
#include "vpnd/datapath/index.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"

int index_table_init(struct index_table *t)
{
	memset(t, 0, sizeof(*t));
	t->cap = 64;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

void index_table_free(struct index_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct index_entry *probe(struct index_table *t, uint32_t index)
{
	size_t mask = t->cap - 1;

	for (size_t i = index & mask;; i = (i + 1) & mask) {
		struct index_entry *e = &t->slots[i];

		if (e->index == index && !e->tombstone)
			return e;
		if (e->index == 0 && !e->tombstone)
			return NULL;
	}
}

struct index_entry *index_table_find(struct index_table *t, uint32_t index)
{
	if (index == 0)
		return NULL;
	return probe(t, index);
}

static void place(struct index_table *t, const struct index_entry *src)
{
	size_t mask = t->cap - 1;
	size_t i = src->index & mask;

	while (t->slots[i].index != 0 || t->slots[i].tombstone)
		i = (i + 1) & mask;
	t->slots[i] = *src;
}

static int grow(struct index_table *t)
{
	struct index_table old = *t;
	size_t cap = t->live * 4 + 64;
	size_t pow = 64;

	while (pow < cap)
		pow <<= 1;
	t->slots = calloc(pow, sizeof(*t->slots));
	if (!t->slots) {
		*t = old;
		return -ENOMEM;
	}
	t->cap = pow;
	t->used = t->live;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].index && !old.slots[i].tombstone)
			place(t, &old.slots[i]);
	free(old.slots);
	return 0;
}

uint32_t index_table_add(struct index_table *t, struct peer *peer, struct keypair *kp)
{
	struct index_entry e = { .peer = peer, .kp = kp };

	if ((t->used + 1) * 4 > t->cap * 3 && grow(t) < 0)
		return 0;
	do
		e.index = wg_random_u32();
	while (e.index == 0 || index_table_find(t, e.index));
	place(t, &e);
	t->used++;
	t->live++;
	return e.index;
}

void index_table_set(struct index_table *t, uint32_t index, struct keypair *kp)
{
	struct index_entry *e = index_table_find(t, index);

	if (e)
		e->kp = kp;
}

void index_table_remove(struct index_table *t, uint32_t index)
{
	struct index_entry *e = index_table_find(t, index);

	if (!e)
		return;
	e->tombstone = true;
	e->peer = NULL;
	e->kp = NULL;
	t->live--;
}
