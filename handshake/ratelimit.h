/* Per-source rate limit for handshake messages (WireGuard: 20 per second,
 * burst 5, keyed by IPv4 address or IPv6 /64; in coarse mode, chosen by
 * the caller under load, IPv6 by /48). A token bucket per source in a
 * fixed-size table: memory is bounded at creation, never grows with the
 * number of senders. When the table is full the least recently used entry
 * is evicted, so no set of sources can hold the table and lock newcomers
 * out. No clock calls: time comes from the caller. Not thread-safe. */
#ifndef VPND_RATELIMIT_H
#define VPND_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_PACKETS_PER_SECOND 20
#define RATELIMIT_BURST              5
#define RATELIMIT_COARSE_V6_BYTES    6	/* /48 in coarse mode */

struct ratelimiter;

/* max_entries bounds memory; 0 picks a default (8192). 20/s, burst 5.
 * NULL on ENOMEM. */
struct ratelimiter *ratelimiter_new(size_t max_entries);
/* The same with another rate: per_second packets a second (>= 1), at most
 * burst (>= 1) at once. */
struct ratelimiter *ratelimiter_new_rate(size_t max_entries, unsigned per_second, unsigned burst);
/* The same with one packet per interval_ns (> 0): rates under one a second. */
struct ratelimiter *ratelimiter_new_interval(size_t max_entries, uint64_t interval_ns,
					     unsigned burst);
void ratelimiter_free(struct ratelimiter *rl);
/* ip is 4 bytes (IPv4) or 16 (IPv6, only the /64 counts, or the /48 in
 * coarse mode). True: allowed. */
bool ratelimiter_allow(struct ratelimiter *rl, const uint8_t *ip, size_t ip_len, uint64_t now_ns);
/* Coarse mode (under load): IPv6 sources grouped by /48, so that one
 * holder of a /48 cannot mint 65536 fresh buckets. Buckets of the other
 * grain stay until they age out or are evicted. */
void ratelimiter_set_coarse(struct ratelimiter *rl, bool coarse);
/* Drops entries idle for over a second; call about once a second. */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns);
size_t ratelimiter_entries(const struct ratelimiter *rl);
/* Entries evicted (least recently used, table full) since creation. */
uint64_t ratelimiter_evictions(const struct ratelimiter *rl);

#endif
