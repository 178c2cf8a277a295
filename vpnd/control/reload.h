/* vpnd reload, the pure part: what must change to bring a running
 * interface to a config, as UAPI set=1 lines and route changes.
 *
 *   running_state_parse()  the answer to get=1 -> struct running_state
 *   reload_plan_make()     config + running state -> struct reload_plan
 *
 * Only differences are sent: a peer whose key, preshared key, endpoint,
 * keepalive and allowed IPs all match is not named at all, so its
 * sessions, counters and latest handshake stay. A changed peer is named
 * with update_only=true and only its changed fields (allowed IPs as
 * replace_allowed_ips=true plus every allowed_ip). A peer gone from the
 * config gets remove=true; a new one is added whole. Endpoints: a config
 * endpoint that differs from the running one is set (the config wins over
 * roaming, as with wg syncconf); a peer without an Endpoint in the config
 * keeps whatever it learnt. Interface: private_key when it differs,
 * listen_port when the config sets one that differs, fwmark when it
 * differs. Address, MTU and hooks are the interface's, not the UAPI's:
 * they need vpnd down and up.
 *
 * Routes follow routes.h: the wanted routes of the new config minus those
 * of the running allowed IPs are added, the reverse deleted. Nothing here
 * does I/O; reload_apply.c does. */
#ifndef VPND_RELOAD_H
#define VPND_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnd/control/config.h"

struct running_peer {
	uint8_t public_key[KEY_LEN];
	bool has_preshared_key;
	uint8_t preshared_key[KEY_LEN];
	bool has_endpoint;
	union sockaddr_any endpoint;
	uint16_t persistent_keepalive;
	uint64_t last_handshake_sec, rx_bytes, tx_bytes;
	struct ip_prefix *allowed_ips;
	size_t n_allowed_ips;
};

struct running_state {
	bool has_private_key;
	uint8_t private_key[KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	bool has_peer_to_peer;		/* from vpnd's get=stats; not in get=1 */
	enum p2p_mode peer_to_peer;
	struct running_peer *peers;
	size_t n_peers;
};

/* Reads peer_to_peer= from vpnd's get=stats answer into rs (a daemon that
 * does not print it leaves rs->has_peer_to_peer false: then the policy is
 * not compared). */
void running_state_parse_stats(struct running_state *rs, const char *stats);
/* Parses get=1's answer (a final "errno=N" line is allowed; N != 0 is an
 * error). Unknown keys are skipped. Returns 0, or -1 with err set and rs
 * left empty. */
int running_state_parse(struct running_state *rs, const char *text, char *err, size_t err_len);
/* Frees and wipes; safe on a zeroed struct. */
void running_state_free(struct running_state *rs);

struct reload_plan {
	/* The body of a set=1 request: lines, without "set=1" and the final
	 * empty line. "" when nothing is to be sent. Holds keys. */
	char *set;
	size_t set_len;
	struct ip_prefix *route_add, *route_del;
	size_t n_route_add, n_route_del;
	size_t peers_added, peers_removed, peers_changed, peers_unchanged;
	bool interface_changed;		/* private key, listen port or fwmark */
};

/* Returns 0, or -1 when out of memory (plan left empty). */
int reload_plan_make(struct reload_plan *plan, const struct config *cfg,
		     const struct running_state *rs);
/* True when neither UAPI lines nor routes are to be applied. */
bool reload_plan_empty(const struct reload_plan *plan);
/* Frees and wipes; safe on a zeroed struct. */
void reload_plan_free(struct reload_plan *plan);

/* Hooks (PreUp, PostUp, PreDown, PostDown) are the interface's, like
 * Address and MTU: those of `vpnd up` run until `vpnd down`, and a reload
 * that finds different ones in the file says so instead of swapping them
 * silently (the PreDown that runs must be the one that undoes PostUp).
 * reload_hooks_equal: same hooks, same order. reload_keep_hooks: from's
 * hooks move to to, to's to from (freed with from). */
bool reload_hooks_equal(const struct config *a, const struct config *b);
void reload_keep_hooks(struct config *to, struct config *from);

#endif
