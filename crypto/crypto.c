/* Wrappers over libsodium (X25519, AEADs, constant time, wiping, base64) and
 * libb2 (BLAKE2s). HMAC and the KDF are compositions of BLAKE2s, as the
 * WireGuard paper defines them. */
#include "crypto/crypto.h"

#include <blake2.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLAKE2S_BLOCK 64

bool wg_crypto_init(void)
{
	return sodium_init() >= 0;
}

void wg_key_clamp(uint8_t key[KEY_LEN])
{
	key[0] &= 248;
	key[31] &= 127;
	key[31] |= 64;
}

void wg_key_generate_private(uint8_t priv[KEY_LEN])
{
	randombytes_buf(priv, KEY_LEN);
	wg_key_clamp(priv);
}

/* Per thread, so no atomics on the path that counts. */
static _Thread_local uint64_t x25519_ops;

uint64_t wg_x25519_count(void)
{
	return x25519_ops;
}

bool wg_key_public_from_private(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN])
{
	x25519_ops++;
	return crypto_scalarmult_base(pub, priv) == 0 && !wg_ct_is_zero(pub, KEY_LEN);
}

bool wg_dh(uint8_t out[KEY_LEN], const uint8_t priv[KEY_LEN], const uint8_t pub[KEY_LEN])
{
	x25519_ops++;
	/* libsodium returns -1 when the result is all zero (low-order point). */
	if (crypto_scalarmult(out, priv, pub) != 0) {
		sodium_memzero(out, KEY_LEN);
		return false;
	}
	return true;
}

static void wg_nonce(uint8_t nonce[12], uint64_t ctr)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(ctr >> (8 * i));
}

void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
		  const uint8_t *ad, size_t ad_len, uint64_t ctr,
		  const uint8_t key[KEY_LEN])
{
	uint8_t nonce[12];

	wg_nonce(nonce, ctr);
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, src_len, ad, ad_len,
						  NULL, nonce, key);
}

bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
		  const uint8_t *ad, size_t ad_len, uint64_t ctr,
		  const uint8_t key[KEY_LEN])
{
	uint8_t nonce[12];

	if (src_len < AEAD_TAG_LEN)
		return false;
	wg_nonce(nonce, ctr);
	return crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, src_len,
							 ad, ad_len, nonce, key) == 0;
}

void wg_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
		   const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[XAEAD_NONCE_LEN], const uint8_t key[KEY_LEN])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, src_len, ad, ad_len,
						   NULL, nonce, key);
}

bool wg_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
		   const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[XAEAD_NONCE_LEN], const uint8_t key[KEY_LEN])
{
	if (src_len < AEAD_TAG_LEN)
		return false;
	return crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, src_len,
							  ad, ad_len, nonce, key) == 0;
}

void wg_hash2(uint8_t out[HASH_LEN], const void *a, size_t a_len, const void *b, size_t b_len)
{
	blake2s_state s;

	blake2s_init(&s, HASH_LEN);
	blake2s_update(&s, a, a_len);
	blake2s_update(&s, b, b_len);
	blake2s_final(&s, out, HASH_LEN);
	sodium_memzero(&s, sizeof(s));
}

void wg_blake2s_keyed(uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len,
		   const void *in, size_t in_len)
{
	blake2s(out, in, key, out_len, in_len, key_len);
}

void wg_hmac_blake2s(uint8_t out[HASH_LEN], const uint8_t *key, size_t key_len,
		  const void *in, size_t in_len)
{
	uint8_t k[BLAKE2S_BLOCK] = { 0 };
	uint8_t pad[BLAKE2S_BLOCK];
	uint8_t inner[HASH_LEN];

	if (key_len > BLAKE2S_BLOCK)
		blake2s(k, key, NULL, HASH_LEN, key_len, 0);
	else
		memcpy(k, key, key_len);

	for (int i = 0; i < BLAKE2S_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	wg_hash2(inner, pad, sizeof(pad), in, in_len);
	for (int i = 0; i < BLAKE2S_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	wg_hash2(out, pad, sizeof(pad), inner, sizeof(inner));

	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}

void wg_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[HASH_LEN],
	 const void *in, size_t in_len)
{
	uint8_t t0[HASH_LEN], buf[HASH_LEN + 1], out[HASH_LEN];

	wg_hmac_blake2s(t0, ck, HASH_LEN, in, in_len);

	/* t1 = HMAC(t0, 0x1) */
	buf[0] = 1;
	wg_hmac_blake2s(out, t0, HASH_LEN, buf, 1);
	if (!t1)
		goto out;
	if (!t2) {
		memcpy(t1, out, HASH_LEN);	/* KDF1: no further HMAC */
		goto out;
	}
	/* t2 = HMAC(t0, t1 || 0x2); t1 is written only after its last use as
	 * input, since outputs may alias ck. */
	memcpy(buf, out, HASH_LEN);
	buf[HASH_LEN] = 2;
	wg_hmac_blake2s(out, t0, HASH_LEN, buf, HASH_LEN + 1);
	memcpy(t1, buf, HASH_LEN);
	if (!t3) {
		memcpy(t2, out, HASH_LEN);
		goto out;
	}
	/* t3 = HMAC(t0, t2 || 0x3) */
	memcpy(buf, out, HASH_LEN);
	buf[HASH_LEN] = 3;
	wg_hmac_blake2s(out, t0, HASH_LEN, buf, HASH_LEN + 1);
	memcpy(t2, buf, HASH_LEN);
	memcpy(t3, out, HASH_LEN);
out:
	sodium_memzero(t0, sizeof(t0));
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(out, sizeof(out));
}

void wg_tai64n_from_unix_ns(uint8_t out[TAI64N_LEN], uint64_t unix_ns)
{
	uint64_t sec = 0x400000000000000aULL + unix_ns / 1000000000ULL;
	uint32_t nsec = (uint32_t)(unix_ns % 1000000000ULL);

	nsec &= ~((1U << 24) - 1);	/* round down: no clock oracle */
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

uint64_t wg_wall_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool wg_ct_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

bool wg_ct_is_zero(const void *a, size_t len)
{
	return sodium_is_zero(a, len) == 1;
}

void wg_secure_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

void *wg_secure_alloc(size_t len)
{
	void *p = sodium_malloc(len);

	if (p)
		sodium_memzero(p, len);
	return p;
}

void *wg_realloc_wiped(void *p, size_t old_len, size_t new_len)
{
	uint8_t *n = malloc(new_len);

	if (!n)
		return NULL;
	if (p) {
		memcpy(n, p, old_len < new_len ? old_len : new_len);
		sodium_memzero(p, old_len);
		free(p);
	}
	return n;
}

void wg_secure_free(void *p)
{
	sodium_free(p);	/* wipes before it unmaps */
}

static uint8_t nonce_pool[4096];
static size_t nonce_pool_used = sizeof(nonce_pool);

/* A forked child must never hand out its parent's bytes again. */
static void nonce_pool_reset(void)
{
	sodium_memzero(nonce_pool, sizeof(nonce_pool));
	nonce_pool_used = sizeof(nonce_pool);
}

void wg_random_nonce(void *p, size_t len)
{
	static bool registered;
	uint8_t *out = p;

	if (!registered) {
		pthread_atfork(NULL, NULL, nonce_pool_reset);
		registered = true;
	}
	while (len) {
		size_t n;

		if (nonce_pool_used == sizeof(nonce_pool)) {
			randombytes_buf(nonce_pool, sizeof(nonce_pool));
			nonce_pool_used = 0;
		}
		n = sizeof(nonce_pool) - nonce_pool_used;
		if (n > len)
			n = len;
		memcpy(out, nonce_pool + nonce_pool_used, n);
		/* each byte is handed out once */
		sodium_memzero(nonce_pool + nonce_pool_used, n);
		nonce_pool_used += n;
		out += n;
		len -= n;
	}
}

void wg_random_bytes(void *p, size_t len)
{
	randombytes_buf(p, len);
}

uint32_t wg_random_u32(void)
{
	return randombytes_random();
}

uint32_t wg_random_uniform(uint32_t upper_bound)
{
	return randombytes_uniform(upper_bound);
}

bool wg_key_from_base64(uint8_t key[KEY_LEN], const char *b64)
{
	uint8_t tmp[KEY_LEN];
	size_t bin_len = 0;
	const char *end = NULL;
	char canon[KEY_B64_LEN + 1];
	bool ok = false;

	if (strlen(b64) != KEY_B64_LEN || b64[KEY_B64_LEN - 1] != '=')
		goto out;
	if (sodium_base642bin(tmp, sizeof(tmp), b64, KEY_B64_LEN, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bin_len != KEY_LEN || end != b64 + KEY_B64_LEN)
		goto out;
	/* Canonical: the unused low bits of the last symbol must be zero, so
	 * that one key has exactly one text. */
	wg_key_to_base64(canon, tmp);
	if (!wg_ct_equal(canon, b64, KEY_B64_LEN))
		goto out;
	memcpy(key, tmp, KEY_LEN);
	ok = true;
out:
	sodium_memzero(tmp, sizeof(tmp));
	sodium_memzero(canon, sizeof(canon));
	return ok;
}

void wg_key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN])
{
	sodium_bin2base64(out, KEY_B64_LEN + 1, key, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

bool wg_key_from_hex(uint8_t key[KEY_LEN], const char *hex)
{
	uint8_t tmp[KEY_LEN];
	size_t bin_len = 0;
	const char *end = NULL;
	bool ok;

	ok = strlen(hex) == KEY_HEX_LEN &&
	     sodium_hex2bin(tmp, sizeof(tmp), hex, KEY_HEX_LEN, NULL, &bin_len, &end) == 0 &&
	     bin_len == KEY_LEN && end == hex + KEY_HEX_LEN;
	if (ok)
		memcpy(key, tmp, KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	return ok;
}

void wg_key_to_hex(char out[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN])
{
	sodium_bin2hex(out, KEY_HEX_LEN + 1, key, KEY_LEN);
}
