/* An arena for long-lived secrets (handshake state, keypairs): slots of one
 * size carved from chunks of anonymous memory that is never written to a
 * core file (MADV_DONTDUMP) and locked in RAM where RLIMIT_MEMLOCK allows
 * (mlock; best effort, the rest still holds). Unlike sodium_malloc there is
 * no guard page per object: one device's secrets share a few chunks.
 *
 * Every slot is zeroed when taken and wiped (sodium_memzero) when given
 * back; destroying the arena wipes and unmaps every chunk. Not thread-safe:
 * one owner (the device's event loop). */
#ifndef WG_ARENA_H
#define WG_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct wg_arena;

/* NULL on failure (out of memory). */
struct wg_arena *wg_arena_new(size_t slot_size);
/* A zeroed slot, or NULL when no chunk can be mapped. */
void *wg_arena_alloc(struct wg_arena *a);
/* Wipes p's slot and takes it back; NULL is fine. p must be a's. */
void wg_arena_free(struct wg_arena *a, void *p);
/* Locks every chunk again: memory locks are not inherited across fork(),
 * so a child that keeps the arena calls this (before it drops the right to
 * lock beyond RLIMIT_MEMLOCK). NULL is fine. */
void wg_arena_relock(struct wg_arena *a);
/* Wipes and unmaps everything; NULL is fine. */
void wg_arena_destroy(struct wg_arena *a);
/* True iff p lies in one of a's chunks (for tests and assertions). */
bool wg_arena_owns(const struct wg_arena *a, const void *p);

#endif
