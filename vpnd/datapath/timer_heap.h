/* When timers fire: the device's binary min-heap of peers ordered by their
 * next timer deadline (timers.h computes deadlines, purely), and running
 * the actions of a peer whose deadline has passed. Event loop only. */
#ifndef VPND_DATAPATH_TIMER_HEAP_H
#define VPND_DATAPATH_TIMER_HEAP_H

#include <stdint.h>

struct device;
struct peer;

void timer_heap_update(struct device *dev, struct peer *peer);
void timer_heap_remove(struct device *dev, struct peer *peer);
uint64_t timer_heap_next(const struct device *dev);
void timer_heap_run(struct device *dev, uint64_t now);

/* Runs the expired timers of one peer: retries, keepalives, zeroing. */
void peer_run_timers(struct peer *peer, uint64_t now);

#endif
