/* crypto/: thin wrappers over libsodium and libb2. No primitive is written
 * here; this floor only fixes sizes, nonce layouts and error handling so the
 * upper floors cannot get them wrong. Nothing here knows about sockets. */
#ifndef VPND_CRYPTO_H
#define VPND_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	KEY_LEN = 32,		/* X25519 keys, symmetric keys, hashes */
	HASH_LEN = 32,
	MAC_LEN = 16,		/* keyed BLAKE2s-128 (mac1, mac2, cookie) */
	AEAD_TAG_LEN = 16,
	XAEAD_NONCE_LEN = 24,
	TAI64N_LEN = 12,
	KEY_B64_LEN = 44,	/* base64 of 32 bytes, with one '=' */
	KEY_HEX_LEN = 64,
};

/* Must be called once before anything else; returns false if libsodium
 * cannot initialise (no entropy source). */
bool wg_crypto_init(void);

/* --- X25519 --------------------------------------------------------- */
/* Random clamped private key. */
void wg_key_generate_private(uint8_t priv[KEY_LEN]);
/* Public key for a private key; false if the result is all zero. */
bool wg_key_public_from_private(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN]);
/* Clamp a 32-byte scalar as X25519 wants it (RFC 7748 decodeScalar25519). */
void wg_key_clamp(uint8_t key[KEY_LEN]);
/* out = X25519(priv, pub). Returns false (and zeroes out) when the result is
 * all zero, i.e. pub is of low order: the caller must reject the message. */
bool wg_dh(uint8_t out[KEY_LEN], const uint8_t priv[KEY_LEN], const uint8_t pub[KEY_LEN]);
/* X25519 operations (wg_dh and wg_key_public_from_private) the calling
 * thread has done: shows which thread pays for handshakes (hs_queue.h). */
uint64_t wg_x25519_count(void);

/* --- AEAD ------------------------------------------------------------ */
/* ChaCha20-Poly1305 IETF with WireGuard's nonce: 4 zero bytes || le64(ctr).
 * dst gets src_len + AEAD_TAG_LEN bytes; dst may equal src (in place). */
void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
		  const uint8_t *ad, size_t ad_len, uint64_t ctr,
		  const uint8_t key[KEY_LEN]);
/* dst gets src_len - AEAD_TAG_LEN bytes; false if src_len is too short or
 * the tag does not verify (dst is then unspecified, never trust it). */
bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
		  const uint8_t *ad, size_t ad_len, uint64_t ctr,
		  const uint8_t key[KEY_LEN]);
/* XChaCha20-Poly1305 (cookie replies). */
void wg_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
		   const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[XAEAD_NONCE_LEN], const uint8_t key[KEY_LEN]);
bool wg_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
		   const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[XAEAD_NONCE_LEN], const uint8_t key[KEY_LEN]);

/* --- BLAKE2s, HMAC, KDF ---------------------------------------------- */
/* out = BLAKE2s-256(a || b); either part may be empty. */
void wg_hash2(uint8_t out[HASH_LEN], const void *a, size_t a_len, const void *b, size_t b_len);
/* out = BLAKE2s(key, in) with an out_len-byte digest (MAC uses 16). */
void wg_blake2s_keyed(uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len,
		   const void *in, size_t in_len);
/* HMAC-BLAKE2s (64-byte block), 32-byte output. */
void wg_hmac_blake2s(uint8_t out[HASH_LEN], const uint8_t *key, size_t key_len,
		  const void *in, size_t in_len);
/* WireGuard KDF: t0 = HMAC(ck, in); t1 = HMAC(t0, 0x1); t2 = HMAC(t0, t1||0x2);
 * t3 = HMAC(t0, t2||0x3). Any of t1..t3 may be NULL to skip it (and every
 * later one). t0 and intermediates are wiped. Outputs may alias ck. */
void wg_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[HASH_LEN],
	 const void *in, size_t in_len);

/* --- time --------------------------------------------------------------- */
/* TAI64N of a Unix time in nanoseconds, nanoseconds rounded down to a
 * multiple of 2^24 (under 1/50 s) so a timestamp is no clock oracle. */
void wg_tai64n_from_unix_ns(uint8_t out[TAI64N_LEN], uint64_t unix_ns);
/* Current wall clock (CLOCK_REALTIME) in ns; the only clock call in crypto/,
 * used by callers that have no injected time. */
uint64_t wg_wall_clock_ns(void);

/* --- constant time and wiping ------------------------------------------ */
/* True iff equal; time depends only on len. */
bool wg_ct_equal(const void *a, const void *b, size_t len);
/* True iff all bytes are zero; constant time. */
bool wg_ct_is_zero(const void *a, size_t len);
void wg_secure_wipe(void *p, size_t len);
/* Guarded, locked memory for long-lived secrets (sodium_malloc): guard
 * pages around it, never swapped, zeroed. NULL on failure. wg_secure_free wipes
 * and releases; NULL is fine. */
void *wg_secure_alloc(size_t len);
/* realloc for buffers that hold secrets: the old block is wiped before it
 * is freed (plain realloc may leave a copy behind). On failure p is kept. */
void *wg_realloc_wiped(void *p, size_t old_len, size_t new_len);
void wg_secure_free(void *p);
void wg_random_bytes(void *p, size_t len);
/* Unique, unpredictable nonces (cookie replies) from a per-process pool of
 * random bytes refilled 4 KiB at a time: one getrandom() per ~170 nonces
 * instead of one each. Not thread-safe; refilled after a fork. */
void wg_random_nonce(void *p, size_t len);
uint32_t wg_random_u32(void);
uint32_t wg_random_uniform(uint32_t upper_bound);

/* --- key text -------------------------------------------------------- */
/* Strict: exactly 44 characters of canonical base64 for 32 bytes. */
bool wg_key_from_base64(uint8_t key[KEY_LEN], const char *b64);
void wg_key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN]);
/* Exactly 64 hex digits (either case). */
bool wg_key_from_hex(uint8_t key[KEY_LEN], const char *hex);
void wg_key_to_hex(char out[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN]);

#endif
