/* Secret arena (arena.h). A free slot's first word links the free list;
 * the rest of it stays wiped. */
#include "crypto/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <sodium.h>

#define CHUNK_BYTES (64 * 1024)

struct chunk {
	struct chunk *next;
	uint8_t *mem;
	size_t len;
};

struct wg_arena {
	size_t slot;
	struct chunk *chunks;
	void *free_list;
};

struct wg_arena *wg_arena_new(size_t slot_size)
{
	struct wg_arena *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	/* Aligned for any field a secret struct holds; room for the link. */
	a->slot = (slot_size < sizeof(void *) ? sizeof(void *) : slot_size + 15) & ~(size_t)15;
	return a;
}

/* Maps one more chunk and threads its slots onto the free list. */
static bool grow(struct wg_arena *a)
{
	size_t n = CHUNK_BYTES / a->slot ? CHUNK_BYTES / a->slot : 1;
	struct chunk *c = malloc(sizeof(*c));

	if (!c)
		return false;
	c->len = n * a->slot;
	c->mem = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->mem == MAP_FAILED) {
		free(c);
		return false;
	}
	/* Never in a core dump; kept out of swap where the limit allows. */
	(void)madvise(c->mem, c->len, MADV_DONTDUMP);
	(void)mlock(c->mem, c->len);
	for (size_t i = n; i-- > 0;) {
		void **slot = (void **)(c->mem + i * a->slot);

		*slot = a->free_list;
		a->free_list = slot;
	}
	c->next = a->chunks;
	a->chunks = c;
	return true;
}

void *wg_arena_alloc(struct wg_arena *a)
{
	void **slot;

	if (!a->free_list && !grow(a))
		return NULL;
	slot = a->free_list;
	a->free_list = *slot;
	sodium_memzero(slot, a->slot);
	return slot;
}

void wg_arena_free(struct wg_arena *a, void *p)
{
	if (!p)
		return;
	sodium_memzero(p, a->slot);
	*(void **)p = a->free_list;
	a->free_list = p;
}

void wg_arena_relock(struct wg_arena *a)
{
	for (struct chunk *c = a ? a->chunks : NULL; c; c = c->next)
		(void)mlock(c->mem, c->len);
}

void wg_arena_destroy(struct wg_arena *a)
{
	if (!a)
		return;
	for (struct chunk *c = a->chunks, *n; c; c = n) {
		n = c->next;
		sodium_memzero(c->mem, c->len);
		munlock(c->mem, c->len);
		munmap(c->mem, c->len);
		free(c);
	}
	free(a);
}

bool wg_arena_owns(const struct wg_arena *a, const void *p)
{
	const uint8_t *b = p;

	for (const struct chunk *c = a->chunks; c; c = c->next)
		if (b >= c->mem && b < c->mem + c->len && (size_t)(b - c->mem) % a->slot == 0)
			return true;
	return false;
}
