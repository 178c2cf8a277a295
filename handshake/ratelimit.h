/* Per-source rate limit for handshake messages under load (WireGuard: 20
 * per second, burst 5, keyed by IPv4 address or IPv6 /64). A token bucket
 * per source in a fixed-size table: memory is bounded at creation, never
 * grows with the number of senders; when the table is full, new sources are
 * refused until garbage collection frees entries. No clock calls: time comes
 * from the caller. Not thread-safe. */
#ifndef VPND_RATELIMIT_H
#define VPND_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_PACKETS_PER_SECOND 20
#define RATELIMIT_BURST              5

struct ratelimiter;

/* max_entries bounds memory; 0 picks a default (8192). NULL on ENOMEM. */
struct ratelimiter *ratelimiter_new(size_t max_entries);
void ratelimiter_free(struct ratelimiter *rl);
/* ip is 4 bytes (IPv4) or 16 (IPv6, only the /64 counts). True: allowed. */
bool ratelimiter_allow(struct ratelimiter *rl, const uint8_t *ip, size_t ip_len, uint64_t now_ns);
/* Drops entries idle for over a second; call about once a second. */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns);
size_t ratelimiter_entries(const struct ratelimiter *rl);

#endif
