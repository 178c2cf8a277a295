/* The one monotonic clock of vpnd/: every timer, rate and deadline is in
 * nanoseconds of CLOCK_MONOTONIC. The protocol core (handshake/, timers)
 * takes time as an argument; only the rooms that drive it read the clock. */
#ifndef VPND_COMMON_CLOCK_H
#define VPND_COMMON_CLOCK_H

#include <stdint.h>

uint64_t now_monotonic_ns(void);

#endif
