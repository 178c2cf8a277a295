/* Endpoints that move: the root monitor re-resolves the host names of
 * peers' Endpoint lines and tells the worker over the UAPI when a peer
 * should be reached at the new address. The worker itself cannot resolve:
 * its seccomp filter allows no DNS (no connect, no files).
 *
 * Every VPND_RESOLVE_INTERVAL seconds (default 30; 0 turns it off), and at
 * once on SIGUSR1 to the monitor, for each peer of the config whose
 * Endpoint is a host name (not "1.2.3.4:5" or "[v6]:5"):
 *   - resolve the name (getaddrinfo, as vpnd up did);
 *   - push "public_key=..., update_only=true, endpoint=NEW" through set=1
 *     when NEW differs from the endpoint the peer has now, and either the
 *     name resolves differently than it did last time (the host moved), or
 *     no handshake completed in the last RESOLVE_STALE_SEC seconds (the
 *     peer cannot be reached where it is: it roamed away, or it moved while
 *     the monitor was not looking).
 * A peer whose handshakes work and whose name still resolves as before keeps
 * the endpoint it roamed to. update_only=true: a peer that a reload removed
 * is not created again. */
#ifndef VPND_RESOLVE_H
#define VPND_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vpnd/control/config.h"

#define RESOLVE_DEFAULT_INTERVAL 30	/* seconds */
#define RESOLVE_STALE_SEC        135	/* no handshake for this long: stale */

/* True for "name:port", false for a numeric endpoint (or a malformed one). */
bool resolve_is_host_name(const char *endpoint_text);

/* The decision for one peer, endpoints as format_endpoint writes them:
 * resolved now, resolved last time ("" if never), the peer's current one
 * ("" if none), its latest handshake (unix seconds, 0 = never). */
bool resolve_should_push(const char *resolved, const char *last_resolved, const char *current,
			 uint64_t latest_handshake, uint64_t now);

struct resolve_entry {
	uint8_t public_key[KEY_LEN];
	char last[96];			/* last resolution, formatted */
};

struct resolver {
	char ifname[64];
	unsigned interval;		/* seconds; 0 = off */
	uint64_t next_ns;		/* CLOCK_MONOTONIC */
	struct resolve_entry *entries;
	size_t n_entries;
};

void resolver_init(struct resolver *r, const char *ifname);
void resolver_free(struct resolver *r);
/* The timeout until the next periodic run, for sigtimedwait: ts filled and
 * returned, or NULL (wait forever) when off or cfg has no host names. */
const struct timespec *resolver_timeout(struct resolver *r, const struct config *cfg,
					struct timespec *ts);
/* One run over cfg's peers (asks the worker with get=1, maybe set=1);
 * schedules the next. Returns the number of endpoints pushed. */
int resolver_run(struct resolver *r, const struct config *cfg);

#endif
