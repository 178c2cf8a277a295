/* mac1, mac2 and cookie replies: WireGuard's SYN-flood defence.
 *
 * The checker (one per device, responder side) verifies mac1 before any DH
 * work and, under load, demands a valid mac2: a MAC keyed by a cookie that
 * only a sender who can receive at its source address can hold. It answers
 * with a cookie reply keeping no per-sender state. The secret behind cookies
 * is re-rolled every COOKIE_SECRET_MAX_AGE (120 s).
 *
 * The maker (one per peer, sender side) adds mac1 (and mac2 while it holds a
 * fresh cookie) to the initiations and responses it sends and consumes
 * cookie replies for them.
 *
 * Source addresses are passed as bytes (IP address then big-endian port), so
 * this file knows nothing of sockets. Times are arguments (monotonic ns). */
#ifndef VPND_COOKIE_H
#define VPND_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handshake/wire.h"

#define COOKIE_SOURCE_MAX 18	/* 16-byte IPv6 address + 2-byte port */

struct cookie_checker {
	uint8_t mac1_key[HASH_LEN];	/* HASH(LABEL_MAC1 || our public key) */
	uint8_t cookie_key[HASH_LEN];	/* HASH(LABEL_COOKIE || our public key) */
	uint8_t secret[HASH_LEN];	/* R */
	uint64_t secret_birth_ns;
	bool secret_set;
};

struct cookie_maker {
	uint8_t mac1_key[HASH_LEN];	/* HASH(LABEL_MAC1 || peer's public key) */
	uint8_t cookie_key[HASH_LEN];	/* HASH(LABEL_COOKIE || peer's public key) */
	uint8_t cookie[MAC_LEN];
	uint64_t cookie_birth_ns;
	bool have_cookie;
	uint8_t last_mac1[MAC_LEN];	/* of the last message sent: the reply's ad */
	bool have_last_mac1;
};

enum cookie_mac_state {
	COOKIE_MAC_INVALID = 0,		/* drop before any DH */
	COOKIE_MAC1_VALID,		/* mac1 ok, mac2 absent or wrong */
	COOKIE_MAC2_VALID,		/* both ok: sender proved its address */
};

enum cookie_reply_result {
	COOKIE_REPLY_OK = 0,
	COOKIE_REPLY_ERR_UNEXPECTED,	/* we sent nothing it could answer */
	COOKIE_REPLY_ERR_DECRYPT,	/* forged: ignore, keep all state */
};

/* Source bytes for a cookie: address then big-endian port; returns length. */
size_t cookie_source_bytes(uint8_t out[COOKIE_SOURCE_MAX], int family, const uint8_t *addr,
			   uint16_t port_host_order);

void cookie_checker_init(struct cookie_checker *c, const uint8_t our_public[KEY_LEN]);
void cookie_checker_wipe(struct cookie_checker *c);
/* msg/len: a whole initiation or response (macs at the end). check_mac2 is
 * the under-load decision, made by the caller. */
enum cookie_mac_state cookie_validate(struct cookie_checker *c, const uint8_t *msg, size_t len,
				      const uint8_t *src, size_t src_len, bool check_mac2,
				      uint64_t now_ns);
/* Builds the reply to msg (an initiation or response whose mac1 verified);
 * receiver_index is msg's sender index in host order. */
void cookie_create_reply(struct cookie_checker *c, struct msg_cookie_reply *reply,
			 const uint8_t *msg, size_t len, uint32_t receiver_index,
			 const uint8_t *src, size_t src_len, uint64_t now_ns);
/* The same with a given nonce instead of a random one: a test hook for
 * known-answer vectors (tests/unit/wg_vectors.h). */
void cookie_create_reply_nonce(struct cookie_checker *c, struct msg_cookie_reply *reply,
			       const uint8_t *msg, size_t len, uint32_t receiver_index,
			       const uint8_t *src, size_t src_len, uint64_t now_ns,
			       const uint8_t nonce[XAEAD_NONCE_LEN]);

void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_public[KEY_LEN]);
void cookie_maker_wipe(struct cookie_maker *m);
/* Writes mac1 and mac2 into the last 32 bytes of msg (len bytes). */
void cookie_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ns);
enum cookie_reply_result cookie_consume_reply(struct cookie_maker *m,
					      const struct msg_cookie_reply *reply,
					      uint64_t now_ns);

#endif
