/* Status and metrics for vpnd show: a daemon's two UAPI answers (get=1 and
 * vpnd's get=stats) parsed into plain structs, and printed as JSON or in the
 * Prometheus text exposition format. Pure functions, text in and text out,
 * so the unit tests need no daemon.
 *
 * Never holds a private or preshared key: the private key in the get=1
 * answer becomes its public key while parsing, and a preshared key is only
 * noted as present (for the human output's "(hidden)").
 *
 * The field and metric names are a stable interface, documented in
 * scripts/vpnd.8 (JSON OUTPUT, PROMETHEUS METRICS) and the README. */
#ifndef VPND_METRICS_H
#define VPND_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/crypto.h"

#define METRICS_MAX_DROPS  48
#define METRICS_NAME_LEN   64
#define METRICS_REASON_LEN 40

struct metrics_drop {
	char reason[METRICS_REASON_LEN];
	uint64_t count;
};

struct metrics_peer {
	char public_key[KEY_B64_LEN + 1];
	/* "" = none. Not in the UAPI answers: vpnd show fills it from the
	 * config (the NAME.d/ file name or a "# Name =" comment). */
	char name[METRICS_NAME_LEN];
	bool has_preshared_key;		/* the key itself is never kept */
	char endpoint[96];		/* "" = none */
	char **allowed_ips;		/* "198.18.0.0/15", ... */
	size_t n_allowed_ips;
	uint64_t latest_handshake;	/* unix seconds; 0 = never */
	uint64_t rx_bytes, tx_bytes;
	uint64_t rx_packets, tx_packets;
	uint64_t handshakes_sent, handshakes_received;
	unsigned persistent_keepalive;	/* seconds; 0 = off */
};

struct metrics_interface {
	char name[METRICS_NAME_LEN];
	char public_key[KEY_B64_LEN + 1];	/* "" = no private key set */
	unsigned listen_port;
	uint32_t fwmark;
	char peer_to_peer[16];			/* "kernel", "direct", "refuse"; "" = unknown */
	bool under_load;
	uint64_t cookie_replies_sent, handshakes_answered;
	struct metrics_drop drops[METRICS_MAX_DROPS];	/* in the daemon's order */
	size_t n_drops;
	struct metrics_peer *peers;
	size_t n_peers;
};

/* Fills m from the answers (without their final errno= line; stats may be
 * NULL). The input is not modified; a private key in it is wiped from the
 * working copy. Returns 0, or -ENOMEM (m is then freed and empty). */
int metrics_parse(struct metrics_interface *m, const char *name, const char *get,
		  const char *stats);
void metrics_free(struct metrics_interface *m);
/* The peer of m with this base64 public key, or NULL. */
const struct metrics_peer *metrics_find_peer(const struct metrics_interface *m,
					     const char *public_key);

/* A JSON array of interface objects, one per element of ifs, ending in a
 * newline. */
void metrics_print_json(FILE *f, const struct metrics_interface *ifs, size_t n);
/* Prometheus text format 0.0.4: each metric family once (HELP, TYPE, then
 * the samples of every interface), so one file can hold every interface. */
void metrics_print_prometheus(FILE *f, const struct metrics_interface *ifs, size_t n);

#endif
