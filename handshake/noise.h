/* Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, as WireGuard uses it: the session
 * set-up. initiation = SYN, response = SYN-ACK; the ACK is the initiator's
 * first transport message (see transport.h for the confirmation rule).
 *
 * Bytes in, bytes out: no sockets, no clocks (times are arguments), peers
 * found through struct noise_lookup. mac1/mac2 are added and checked by
 * cookie.h, not here; indices are chosen by the caller, who owns the index
 * table.
 *
 * Invariant: a consume function changes a handshake only after the message
 * has been fully authenticated, so forged or replayed input can never
 * discard handshake state. Every intermediate secret is wiped on every exit
 * path. Not thread-safe: the caller serialises access to one handshake. */
#ifndef VPND_NOISE_H
#define VPND_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "handshake/wire.h"

struct keypair;

/* This side's static identity. */
struct noise_local {
	bool has_identity;
	uint8_t private_key[KEY_LEN];
	uint8_t public_key[KEY_LEN];
	uint8_t initial_hash[HASH_LEN];	/* HASH(HASH(C || IDENTIFIER) || our public key) */
};

enum noise_state {
	NOISE_ZEROED = 0,
	NOISE_CREATED_INITIATION,	/* we sent SYN */
	NOISE_CONSUMED_INITIATION,	/* we received SYN */
	NOISE_CREATED_RESPONSE,		/* we sent SYN-ACK */
	NOISE_CONSUMED_RESPONSE,	/* we received SYN-ACK */
};

/* Per-peer handshake state; embedded in the peer. */
struct noise_handshake {
	enum noise_state state;
	uint8_t remote_static[KEY_LEN];
	uint8_t remote_initial_hash[HASH_LEN];	/* HASH(HASH(C||ID) || remote static) */
	bool static_static_valid;
	uint8_t precomputed_static_static[KEY_LEN];	/* DH(our static, their static) */
	uint8_t preshared_key[KEY_LEN];	/* zero when none */
	uint8_t ephemeral_private[KEY_LEN];
	uint8_t remote_ephemeral[KEY_LEN];
	uint8_t hash[HASH_LEN];
	uint8_t chaining_key[HASH_LEN];
	uint8_t latest_timestamp[TAI64N_LEN];	/* greatest accepted from this peer */
	uint64_t last_initiation_consumption_ns;	/* 0 = never */
	uint32_t local_index;		/* host order */
	uint32_t remote_index;		/* host order */
};

enum noise_result {
	NOISE_OK = 0,
	NOISE_ERR_NO_IDENTITY,		/* no private key set */
	NOISE_ERR_STATE,		/* message not expected in this state */
	NOISE_ERR_DECRYPT,		/* AEAD failed: forged or not for us */
	NOISE_ERR_UNKNOWN_PEER,		/* authenticated static key not configured */
	NOISE_ERR_LOW_ORDER,		/* a DH gave all zeros: bad public key */
	NOISE_ERR_REPLAY,		/* timestamp not newer than the last one */
	NOISE_ERR_FLOOD,		/* initiations faster than 50/s from one peer */
};

struct noise_lookup {
	void *ctx;
	/* The handshake of the peer with this static public key, or NULL. */
	struct noise_handshake *(*by_public_key)(void *ctx, const uint8_t pub[KEY_LEN]);
};

const char *noise_result_str(enum noise_result r);

/* Sets (or clears, private_key NULL) the local identity. Every handshake
 * must then be re-initialised with noise_handshake_set_local(). */
bool noise_local_set(struct noise_local *local, const uint8_t *private_key);
void noise_local_clear(struct noise_local *local);

/* Prepares a peer's handshake: remote static key, optional preshared key
 * (NULL = none) and the precomputed static-static DH. Keeps the replay
 * timestamp when called again for the same peer. */
void noise_handshake_init(struct noise_handshake *hs, const struct noise_local *local,
			  const uint8_t remote_static[KEY_LEN], const uint8_t *preshared_key);
/* Recomputes the static-static DH after the local identity changed and
 * drops any handshake in flight. */
void noise_handshake_set_local(struct noise_handshake *hs, const struct noise_local *local);
void noise_handshake_set_psk(struct noise_handshake *hs, const uint8_t *preshared_key);
/* Drops any handshake in flight (ephemeral, chaining key, hash); keeps
 * local_index, which the caller removes from its index table. */
void noise_handshake_clear(struct noise_handshake *hs);

/* SYN. Fills msg except mac1/mac2. wall_ns: Unix time for the TAI64N. */
enum noise_result noise_create_initiation(struct noise_handshake *hs,
					  const struct noise_local *local,
					  struct msg_initiation *msg, uint32_t local_index,
					  uint64_t wall_ns);
/* The same with a given ephemeral private key instead of a fresh one: a
 * test hook for known-answer vectors (tests/unit/wg_vectors.h). Never call
 * it with a key that was used before. noise_create_initiation is this with
 * wg_key_generate_private(). */
enum noise_result noise_create_initiation_ephemeral(struct noise_handshake *hs,
						    const struct noise_local *local,
						    struct msg_initiation *msg,
						    uint32_t local_index, uint64_t wall_ns,
						    const uint8_t ephemeral_private[KEY_LEN]);
/* Responder side of SYN: authenticates the initiator through lookup and, on
 * success only, stores the state in *out (that peer's handshake). now_ns is
 * a monotonic time for the flood check. */
enum noise_result noise_consume_initiation(const struct noise_local *local,
					   const struct msg_initiation *msg,
					   const struct noise_lookup *lookup, uint64_t now_ns,
					   struct noise_handshake **out);
/* --- The responder's work in two halves (vpnd/datapath/hs_queue.h) -----
 *
 * compute: stateless, any thread: the X25519s, AEADs and hashing, on the
 * local identity and on a copy of what it needs of the peer (struct
 * noise_peer_view), which the caller takes under its own lock. It changes
 * no handshake. commit: on the handshake's owner, cheap: the checks against
 * the live state (replay, flood, state) and the copies. Results hold
 * secrets: the caller wipes them (wg_secure_wipe) once used.
 * noise_consume_initiation and noise_create_response are compute then
 * commit, byte for byte what they were. */

/* What the compute half needs of a peer's handshake: a copy, never a
 * pointer (the owner may change or free the handshake meanwhile). */
struct noise_peer_view {
	uint8_t remote_static[KEY_LEN];
	uint8_t static_static[KEY_LEN];	/* precomputed DH(our static, theirs) */
	uint8_t preshared_key[KEY_LEN];
	uint8_t latest_timestamp[TAI64N_LEN];
	uint64_t last_initiation_consumption_ns;
};
/* Copies hs into *view: NOISE_OK, or NOISE_ERR_LOW_ORDER (no valid
 * static-static DH; *view wiped). */
enum noise_result noise_peer_view_get(const struct noise_handshake *hs,
				      struct noise_peer_view *view);

struct noise_view_lookup {
	void *ctx;
	/* The view of the peer with this static key: NOISE_OK, or why not
	 * (NOISE_ERR_UNKNOWN_PEER, NOISE_ERR_LOW_ORDER). */
	enum noise_result (*view)(void *ctx, const uint8_t pub[KEY_LEN],
				  struct noise_peer_view *view);
};

/* An authenticated initiation (a secret: wipe it). */
struct noise_initiation {
	uint8_t remote_static[KEY_LEN];
	uint8_t remote_ephemeral[KEY_LEN];
	uint8_t hash[HASH_LEN];
	uint8_t chaining_key[HASH_LEN];
	uint8_t timestamp[TAI64N_LEN];
	uint32_t remote_index;		/* host order */
	uint8_t preshared_key[KEY_LEN];	/* the peer's, from its view */
};
/* Compute half of noise_consume_initiation: e, es, s, ss, {t}, and the
 * replay and flood checks against the view (the commit checks again,
 * against the live handshake). *out is wiped unless NOISE_OK. */
enum noise_result noise_initiation_compute(const struct noise_local *local,
					   const struct msg_initiation *msg,
					   const struct noise_view_lookup *lookup,
					   uint64_t now_ns, struct noise_initiation *out);
/* Commit half: hs is the handshake of ini->remote_static (else
 * NOISE_ERR_UNKNOWN_PEER); replay and flood checks against hs, then hs
 * becomes CONSUMED_INITIATION. Nothing changes unless NOISE_OK. */
enum noise_result noise_initiation_commit(struct noise_handshake *hs,
					  const struct noise_initiation *ini, uint64_t now_ns);

/* A response computed before its commit: the message without indices and
 * macs, and the handshake's hash and chaining key after it (a secret). */
struct noise_response {
	struct msg_response msg;
	uint8_t remote_ephemeral[KEY_LEN];	/* of the initiation answered */
	uint8_t hash[HASH_LEN];
	uint8_t chaining_key[HASH_LEN];
};
/* Compute half of noise_create_response: e, ee, se, psk, {}.
 * ephemeral_private NULL: a fresh one (non-NULL: test vectors only). *out
 * is wiped unless NOISE_OK. */
enum noise_result noise_response_compute(const struct noise_initiation *ini,
					 const uint8_t *ephemeral_private,
					 struct noise_response *out);
/* Commit half: hs must be CONSUMED_INITIATION from the initiation r answers
 * (same remote ephemeral), else NOISE_ERR_STATE and nothing changes. Fills
 * *msg (indices included, macs zero); hs becomes CREATED_RESPONSE. */
enum noise_result noise_response_commit(struct noise_handshake *hs,
					const struct noise_response *r, uint32_t local_index,
					struct msg_response *msg);

/* SYN-ACK. Fills msg except mac1/mac2. */
enum noise_result noise_create_response(struct noise_handshake *hs,
					const struct noise_local *local,
					struct msg_response *msg, uint32_t local_index);
/* Test hook as above: SYN-ACK with a given ephemeral private key (NULL:
 * a fresh one, which is noise_create_response). */
enum noise_result noise_create_response_ephemeral(struct noise_handshake *hs,
						  const struct noise_local *local,
						  struct msg_response *msg, uint32_t local_index,
						  const uint8_t ephemeral_private[KEY_LEN]);
/* Initiator side of SYN-ACK; hs is the handshake whose local_index equals
 * msg->receiver_index (the caller finds it in its index table). */
enum noise_result noise_consume_response(struct noise_handshake *hs,
					 const struct noise_local *local,
					 const struct msg_response *msg);
/* After CONSUMED_RESPONSE (initiator) or CREATED_RESPONSE (responder):
 * derives the transport keys into kp and wipes the handshake. */
enum noise_result noise_derive_keypair(struct noise_handshake *hs, struct keypair *kp,
				       uint64_t now_ns);

#endif
