/* Unit tests for crypto/: known-answer vectors from the RFCs, independently
 * derived HMAC/KDF values, TAI64N layout, low-order point rejection, AEAD
 * tampering and the strict key text parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto/crypto.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- helpers ----------------------------------------------------------- */

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode a test vector; written here (not wg_key_from_hex) so that the vectors
 * do not depend on the code under test. */
static void unhex(uint8_t *out, size_t out_len, const char *hex)
{
	assert_int_equal(strlen(hex), 2 * out_len);
	for (size_t i = 0; i < out_len; i++) {
		int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);

		assert_true(hi >= 0 && lo >= 0);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
}

static void assert_hex_equal(const uint8_t *got, size_t len, const char *hex)
{
	uint8_t want[512];

	assert_true(len <= sizeof(want));
	unhex(want, len, hex);
	assert_memory_equal(got, want, len);
}

static void fill_seq(uint8_t *p, size_t len, uint8_t first)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(first + i);
}

static int setup(void **state)
{
	(void)state;
	return wg_crypto_init() ? 0 : -1;
}

/* --- 1. known-answer vectors ------------------------------------------ */

/* RFC 7693 Appendix B: BLAKE2s-256("abc"). */
static void test_blake2s_rfc7693(void **state)
{
	static const char want[] =
		"508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982";
	uint8_t out[HASH_LEN];

	(void)state;
	wg_hash2(out, "abc", 3, NULL, 0);
	assert_hex_equal(out, HASH_LEN, want);
	wg_hash2(out, NULL, 0, "abc", 3);
	assert_hex_equal(out, HASH_LEN, want);
	wg_hash2(out, "a", 1, "bc", 2);
	assert_hex_equal(out, HASH_LEN, want);
	wg_hash2(out, "ab", 2, "c", 1);
	assert_hex_equal(out, HASH_LEN, want);
}

/* Official BLAKE2 keyed KAT (blake2s-kat.txt): key = 00..1f, input =
 * 00 01 .. (n-1). The 16-byte MAC value was derived with python3:
 *   python3 -c 'import hashlib;print(hashlib.blake2s(b"mac1----",key=bytes(range(32)),digest_size=16).hexdigest())'
 */
static void test_blake2s_keyed_kat(void **state)
{
	static const struct {
		size_t in_len;
		const char *want;
	} cases[] = {
		/* 1 */ { 0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
		/* 2 */ { 1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
		/* 3 */ { 3, "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b" },
		/* 4 */ { 255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd" },
	};
	uint8_t key[32], in[255], out[HASH_LEN], mac[MAC_LEN];

	(void)state;
	fill_seq(key, sizeof(key), 0);
	fill_seq(in, sizeof(in), 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		memset(out, 0xee, sizeof(out));
		wg_blake2s_keyed(out, sizeof(out), key, sizeof(key), in, cases[i].in_len);
		assert_hex_equal(out, HASH_LEN, cases[i].want);
	}

	/* MAC_LEN output is a different digest (the length is a parameter),
	 * not a truncation of the 32-byte one. */
	wg_blake2s_keyed(mac, MAC_LEN, key, sizeof(key), "mac1----", 8);
	assert_hex_equal(mac, MAC_LEN, "009514d37a2d3cb5c78a5adf4defcb92");
}

/* RFC 7748 section 5.2: the two X25519 test vectors (scalars unclamped). */
static void test_x25519_rfc7748_vectors(void **state)
{
	static const struct {
		const char *scalar, *u, *out;
	} cases[] = {
		/* 1 */ { "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
			  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
			  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
		/* 2 */ { "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
			  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
			  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
	};
	uint8_t scalar[KEY_LEN], u[KEY_LEN], out[KEY_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		unhex(scalar, KEY_LEN, cases[i].scalar);
		unhex(u, KEY_LEN, cases[i].u);
		assert_true(wg_dh(out, scalar, u));
		assert_hex_equal(out, KEY_LEN, cases[i].out);
	}
}

/* RFC 7748 section 5.2, iterated: k = u = 9; (k, u) = (X25519(k, u), k). */
static void test_x25519_rfc7748_iterated(void **state)
{
	uint8_t k[KEY_LEN] = { 9 }, u[KEY_LEN] = { 9 }, out[KEY_LEN];

	(void)state;
	for (int i = 1; i <= 1000; i++) {
		assert_true(wg_dh(out, k, u));
		memcpy(u, k, KEY_LEN);
		memcpy(k, out, KEY_LEN);
		if (i == 1)
			assert_hex_equal(k, KEY_LEN,
					 "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
	}
	assert_hex_equal(k, KEY_LEN,
			 "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

/* RFC 7748 section 6.1: Diffie-Hellman with Alice and Bob. */
static void test_x25519_rfc7748_dh(void **state)
{
	uint8_t a_priv[KEY_LEN], b_priv[KEY_LEN], pub[KEY_LEN], a_pub[KEY_LEN], b_pub[KEY_LEN];
	uint8_t k1[KEY_LEN], k2[KEY_LEN];
	static const char shared[] =
		"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

	(void)state;
	unhex(a_priv, KEY_LEN, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	unhex(a_pub, KEY_LEN, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	unhex(b_priv, KEY_LEN, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	unhex(b_pub, KEY_LEN, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");

	assert_true(wg_key_public_from_private(pub, a_priv));
	assert_memory_equal(pub, a_pub, KEY_LEN);
	assert_true(wg_key_public_from_private(pub, b_priv));
	assert_memory_equal(pub, b_pub, KEY_LEN);

	assert_true(wg_dh(k1, a_priv, b_pub));
	assert_true(wg_dh(k2, b_priv, a_pub));
	assert_hex_equal(k1, KEY_LEN, shared);
	assert_hex_equal(k2, KEY_LEN, shared);
}

/* RFC 8439 Appendix A.5: ChaCha20-Poly1305 AEAD decryption. Its nonce
 * 00000000 0102030405060708 is WireGuard's layout with
 * ctr = 0x0807060504030201 (little-endian). */
static const char a5_key[] =
	"1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0";
static const uint64_t a5_ctr = 0x0807060504030201ULL;
static const char a5_ad[] = "f33388860000000000004e91";
static const char a5_ct[] =
	"64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
	"4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
	"332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
	"9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
	"b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
	"af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
	"0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
	"49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
	"a6ad5cb4022b02709b"
	"eead9d67890cbb22392336fea1851f38";	/* tag */
static const char a5_plain[] =
	"Internet-Drafts are draft documents valid for a maximum of six months "
	"and may be updated, replaced, or obsoleted by other documents at any "
	"time. It is inappropriate to use Internet-Drafts as reference material "
	"or to cite them other than as /\xe2\x80\x9c" "work in progress./\xe2\x80\x9d";

static void test_aead_rfc8439_a5(void **state)
{
	enum { PLAIN_LEN = 265, CT_LEN = PLAIN_LEN + AEAD_TAG_LEN };
	uint8_t key[KEY_LEN], ad[12], ct[CT_LEN], out[CT_LEN];

	(void)state;
	assert_int_equal(strlen(a5_plain), PLAIN_LEN);
	unhex(key, sizeof(key), a5_key);
	unhex(ad, sizeof(ad), a5_ad);
	unhex(ct, sizeof(ct), a5_ct);

	memset(out, 0, sizeof(out));
	assert_true(wg_aead_decrypt(out, ct, CT_LEN, ad, sizeof(ad), a5_ctr, key));
	assert_memory_equal(out, a5_plain, PLAIN_LEN);

	memset(out, 0, sizeof(out));
	wg_aead_encrypt(out, (const uint8_t *)a5_plain, PLAIN_LEN, ad, sizeof(ad), a5_ctr, key);
	assert_memory_equal(out, ct, CT_LEN);
}

/* draft-irtf-cfrg-xchacha-03 section A.3.1: XChaCha20-Poly1305 AEAD. */
static void test_xaead_draft_a31(void **state)
{
	static const char plain[] =
		"Ladies and Gentlemen of the class of '99: If I could offer you only "
		"one tip for the future, sunscreen would be it.";
	enum { PLAIN_LEN = 114, CT_LEN = PLAIN_LEN + AEAD_TAG_LEN };
	uint8_t key[KEY_LEN], nonce[XAEAD_NONCE_LEN], ad[12], ct[CT_LEN], out[CT_LEN];

	(void)state;
	assert_int_equal(strlen(plain), PLAIN_LEN);
	fill_seq(key, sizeof(key), 0x80);
	fill_seq(nonce, sizeof(nonce), 0x40);
	unhex(ad, sizeof(ad), "50515253c0c1c2c3c4c5c6c7");
	unhex(ct, sizeof(ct),
	      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
	      "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
	      "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
	      "21f9664c97637da9768812f615c68b13b52e"
	      "c0875924c1c7987947deafd8780acf49");	/* tag */

	memset(out, 0, sizeof(out));
	wg_xaead_encrypt(out, (const uint8_t *)plain, PLAIN_LEN, ad, sizeof(ad), nonce, key);
	assert_memory_equal(out, ct, CT_LEN);

	memset(out, 0, sizeof(out));
	assert_true(wg_xaead_decrypt(out, ct, CT_LEN, ad, sizeof(ad), nonce, key));
	assert_memory_equal(out, plain, PLAIN_LEN);

	/* Tampering, wrong nonce, wrong ad and short input all fail. */
	ct[CT_LEN - 1] ^= 1;
	assert_false(wg_xaead_decrypt(out, ct, CT_LEN, ad, sizeof(ad), nonce, key));
	ct[CT_LEN - 1] ^= 1;
	nonce[XAEAD_NONCE_LEN - 1] ^= 1;
	assert_false(wg_xaead_decrypt(out, ct, CT_LEN, ad, sizeof(ad), nonce, key));
	nonce[XAEAD_NONCE_LEN - 1] ^= 1;
	assert_false(wg_xaead_decrypt(out, ct, CT_LEN, ad, sizeof(ad) - 1, nonce, key));
	for (size_t len = 0; len < AEAD_TAG_LEN; len++)
		assert_false(wg_xaead_decrypt(out, ct, len, ad, sizeof(ad), nonce, key));
	assert_true(wg_xaead_decrypt(out, ct, CT_LEN, ad, sizeof(ad), nonce, key));
}

/* --- 2. HMAC-BLAKE2s and KDF ------------------------------------------ */

/* Expected values derived with python3's hmac module over hashlib.blake2s
 * (block size 64), in the order of the table:
 *   python3 -c 'import hmac,hashlib as h;H=lambda k,m:hmac.new(k,m,h.blake2s).hexdigest();[print(H(k,m)) for k,m in [(bytes(range(32)),b"abc"),(b"",b""),(bytes(range(64)),b"Hi There"),(b"\xaa"*65,b"Hi There"),(b"\xaa"*131,b"Test Using Larger Than Block-Size Key - Hash Key First"),(b"\x0b"*20,b"Hi There")]]'
 */
static void test_hmac_blake2s(void **state)
{
	static const uint8_t k_seq[64] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
		0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
		0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29,
		0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
		0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
	};
	uint8_t k_aa[131], k_0b[20];
	const struct {
		const uint8_t *key;
		size_t key_len;
		const char *msg;
		const char *want;
	} cases[] = {
		/* 1: 32-byte key, as the KDF uses it */
		{ k_seq, 32, "abc",
		  "82623be5bc0a391b24dce53e67d028eff92d586de0485ac37822e597d049c74f" },
		/* 2: empty key, empty message */
		{ k_seq, 0, "",
		  "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd" },
		/* 3: key of exactly one block (not hashed) */
		{ k_seq, 64, "Hi There",
		  "87e07df092896702eaec04cab5e499fc95a555d885b1d727a1a694aebc26c941" },
		/* 4: key one byte longer than a block (hashed first) */
		{ k_aa, 65, "Hi There",
		  "27eeb53bc2f18be354b7622589b86fc2cebf9922c7bb70499c1135016b96166f" },
		/* 5: key much longer than a block */
		{ k_aa, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
		  "d23d79394f53d536a096e6514447eeaabb05ded01be32c1937da6a8f7103bc4e" },
		/* 6: short key */
		{ k_0b, 20, "Hi There",
		  "65a8b7c5cc9136d424e82c37e2707e74e913c0655b99c75f40edf387453a3260" },
	};
	uint8_t out[HASH_LEN], hk[HASH_LEN], out2[HASH_LEN];

	(void)state;
	memset(k_aa, 0xaa, sizeof(k_aa));
	memset(k_0b, 0x0b, sizeof(k_0b));
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		memset(out, 0xee, sizeof(out));
		wg_hmac_blake2s(out, cases[i].key, cases[i].key_len, cases[i].msg,
			     strlen(cases[i].msg));
		assert_hex_equal(out, HASH_LEN, cases[i].want);
	}

	/* A key longer than a block is equivalent to its BLAKE2s-256 hash. */
	wg_hash2(hk, k_aa, sizeof(k_aa), NULL, 0);
	wg_hmac_blake2s(out, k_aa, sizeof(k_aa), "x", 1);
	wg_hmac_blake2s(out2, hk, sizeof(hk), "x", 1);
	assert_memory_equal(out, out2, HASH_LEN);
}

/* KDF as PROTOCOL.md defines it: t0 = HMAC(ck, x); t1 = HMAC(t0, 0x01);
 * t_i = HMAC(t0, t_{i-1} || i). Expected values from python3:
 *   python3 -c 'import hmac,hashlib as h;M=lambda k,m:hmac.new(k,m,h.blake2s).digest();K=lambda c,x:(lambda t0:(lambda a:(lambda b:[a,b,M(t0,b+b"\x03")])(M(t0,a+b"\x02")))(M(t0,b"\x01")))(M(c,x));[print([t.hex() for t in K(c,x)]) for c,x in [(bytes(range(32)),b""),(bytes(range(32)),bytes(range(32,64))),(bytes(32),b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s")]]'
 */
static const struct kdf_case {
	uint8_t ck_first;	/* ck = ck_first, ck_first+1, ... or all zero */
	bool ck_zero;
	const char *in;		/* hex for raw bytes, else text */
	bool in_hex;
	const char *t[3];
} kdf_cases[] = {
	/* 1: ck = 00..1f, empty input (as for the transport keys) */
	{ 0, false, "", false,
	  { "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624",
	    "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd",
	    "4eaf02809ac4b930ef63479de62275f1c55656e61f78a3cc653c18a2223d6c5f" } },
	/* 2: ck = 00..1f, input 20..3f (a DH result) */
	{ 0, false, "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f", true,
	  { "6a96444e20e8d4c1cee974416acae1c10b3c92886010e54ed94dafb2c3b80ea0",
	    "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5",
	    "0926c7caabb6e8d73beda759e6f4f0d324ce5b5000bcf8cd784b26db3049faa9" } },
	/* 3: ck = zero, text input */
	{ 0, true, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", false,
	  { "43638b1afd914f7ef9e6d3bb659de753f0898758aac25ec2a4f424748372ffbe",
	    "9fff09ba8d98ccc2dd0eba4f0671f1262bcf164f532155a577874f6526e665ec",
	    "2ab58cd236fe4f4e39f7cfedbefd8f2163e1b464cdaefd2000e321484162ddb6" } },
};

static size_t kdf_case_load(const struct kdf_case *c, uint8_t ck[HASH_LEN], uint8_t in[64])
{
	size_t in_len;

	if (c->ck_zero)
		memset(ck, 0, HASH_LEN);
	else
		fill_seq(ck, HASH_LEN, c->ck_first);
	if (c->in_hex) {
		in_len = strlen(c->in) / 2;
		unhex(in, in_len, c->in);
	} else {
		in_len = strlen(c->in);
		memcpy(in, c->in, in_len);
	}
	return in_len;
}

static void test_kdf_vectors(void **state)
{
	uint8_t ck[HASH_LEN], in[64], t1[HASH_LEN], t2[HASH_LEN], t3[HASH_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(kdf_cases); i++) {
		const struct kdf_case *c = &kdf_cases[i];
		size_t in_len = kdf_case_load(c, ck, in);

		/* KDF3 */
		memset(t1, 0xee, HASH_LEN);
		memset(t2, 0xee, HASH_LEN);
		memset(t3, 0xee, HASH_LEN);
		wg_kdf(t1, t2, t3, ck, in, in_len);
		assert_hex_equal(t1, HASH_LEN, c->t[0]);
		assert_hex_equal(t2, HASH_LEN, c->t[1]);
		assert_hex_equal(t3, HASH_LEN, c->t[2]);

		/* KDF2: t3 NULL */
		memset(t1, 0xee, HASH_LEN);
		memset(t2, 0xee, HASH_LEN);
		wg_kdf(t1, t2, NULL, ck, in, in_len);
		assert_hex_equal(t1, HASH_LEN, c->t[0]);
		assert_hex_equal(t2, HASH_LEN, c->t[1]);

		/* KDF1: t2 and t3 NULL */
		memset(t1, 0xee, HASH_LEN);
		wg_kdf(t1, NULL, NULL, ck, in, in_len);
		assert_hex_equal(t1, HASH_LEN, c->t[0]);

		/* t2 NULL skips t3 too (documented): t3 stays untouched. */
		memset(t1, 0xee, HASH_LEN);
		memset(t3, 0xee, HASH_LEN);
		wg_kdf(t1, NULL, t3, ck, in, in_len);
		assert_hex_equal(t1, HASH_LEN, c->t[0]);
		for (size_t j = 0; j < HASH_LEN; j++)
			assert_int_equal(t3[j], 0xee);

		/* The chaining key is only read. */
		{
			uint8_t ck2[HASH_LEN];

			kdf_case_load(c, ck2, in);
			assert_memory_equal(ck, ck2, HASH_LEN);
		}
	}
}

/* Outputs may alias the chaining key, as in C = KDF1(C, x) and
 * (C, k) = KDF2(C, x) and (C, t, k) = KDF3(C, x). */
static void test_kdf_alias(void **state)
{
	uint8_t ck[HASH_LEN], in[64], t2[HASH_LEN], t3[HASH_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(kdf_cases); i++) {
		const struct kdf_case *c = &kdf_cases[i];
		size_t in_len;

		/* C = KDF1(C, x) */
		in_len = kdf_case_load(c, ck, in);
		wg_kdf(ck, NULL, NULL, ck, in, in_len);
		assert_hex_equal(ck, HASH_LEN, c->t[0]);

		/* (C, k) = KDF2(C, x) */
		in_len = kdf_case_load(c, ck, in);
		wg_kdf(ck, t2, NULL, ck, in, in_len);
		assert_hex_equal(ck, HASH_LEN, c->t[0]);
		assert_hex_equal(t2, HASH_LEN, c->t[1]);

		/* (C, t, k) = KDF3(C, x) */
		in_len = kdf_case_load(c, ck, in);
		wg_kdf(ck, t2, t3, ck, in, in_len);
		assert_hex_equal(ck, HASH_LEN, c->t[0]);
		assert_hex_equal(t2, HASH_LEN, c->t[1]);
		assert_hex_equal(t3, HASH_LEN, c->t[2]);

		/* t2 aliasing ck */
		in_len = kdf_case_load(c, ck, in);
		wg_kdf(t3, ck, NULL, ck, in, in_len);
		assert_hex_equal(t3, HASH_LEN, c->t[0]);
		assert_hex_equal(ck, HASH_LEN, c->t[1]);

		/* t3 aliasing ck */
		in_len = kdf_case_load(c, ck, in);
		wg_kdf(t2, t3, ck, ck, in, in_len);
		assert_hex_equal(t2, HASH_LEN, c->t[0]);
		assert_hex_equal(t3, HASH_LEN, c->t[1]);
		assert_hex_equal(ck, HASH_LEN, c->t[2]);
	}
}

/* --- 3. TAI64N ----------------------------------------------------------- */

static void test_tai64n_known(void **state)
{
	static const struct {
		uint64_t unix_ns;
		const char *want;	/* 8 bytes seconds, 4 bytes nanoseconds */
	} cases[] = {
		/* 1: epoch */
		{ 0, "400000000000000a" "00000000" },
		/* 2: 1 ns rounds down to 0 */
		{ 1, "400000000000000a" "00000000" },
		/* 3: 2^24 - 1 ns rounds down to 0 */
		{ (1ULL << 24) - 1, "400000000000000a" "00000000" },
		/* 4: exactly 2^24 ns */
		{ 1ULL << 24, "400000000000000a" "01000000" },
		/* 5: 999999999 ns = 0x3b9ac9ff -> 0x3b000000 */
		{ 999999999ULL, "400000000000000a" "3b000000" },
		/* 6: one second */
		{ 1000000000ULL, "400000000000000b" "00000000" },
		/* 7: 1700000000.5 s; 500000000 = 0x1dcd6500 -> 0x1d000000 */
		{ 1700000000500000000ULL, "400000006553f10a" "1d000000" },
		/* 8: 2^32 s (past 2106): all 8 bytes of seconds in use */
		{ 4294967296000000000ULL, "400000010000000a" "00000000" },
		/* 9: largest input: 18446744073.709551615 s */
		{ UINT64_MAX, "400000044b82fa13" "2a000000" },
	};
	uint8_t out[TAI64N_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		memset(out, 0xee, sizeof(out));
		wg_tai64n_from_unix_ns(out, cases[i].unix_ns);
		assert_hex_equal(out, TAI64N_LEN, cases[i].want);
	}
}

static void test_tai64n_granularity_and_order(void **state)
{
	const uint64_t step = 20000000ULL;	/* 1/50 s */
	uint8_t a[TAI64N_LEN], b[TAI64N_LEN];
	uint64_t base;

	(void)state;
	/* Nanoseconds are always a multiple of 2^24 and below 10^9. */
	for (base = 1700000000000000000ULL; base < 1700000002000000000ULL; base += 7777777ULL) {
		uint32_t ns;

		wg_tai64n_from_unix_ns(a, base);
		ns = (uint32_t)a[8] << 24 | (uint32_t)a[9] << 16 | (uint32_t)a[10] << 8 | a[11];
		assert_int_equal(ns & 0xffffffU, 0);
		assert_true(ns < 1000000000U);
		assert_true(ns <= base % 1000000000ULL);
		assert_true(base % 1000000000ULL - ns < (1U << 24));
	}

	/* Two times 1/50 s apart always compare strictly in order (memcmp is
	 * how the responder compares them), including across a second. */
	for (base = 1700000000000000000ULL; base < 1700000003000000000ULL; base += 3333331ULL) {
		wg_tai64n_from_unix_ns(a, base);
		wg_tai64n_from_unix_ns(b, base + step);
		assert_true(memcmp(a, b, TAI64N_LEN) < 0);
	}

	/* Within one 2^24 ns slot the timestamp does not change: no clock oracle. */
	base = 1700000000000000000ULL - 1700000000000000000ULL % 1000000000ULL;
	wg_tai64n_from_unix_ns(a, base);
	wg_tai64n_from_unix_ns(b, base + (1ULL << 24) - 1);
	assert_memory_equal(a, b, TAI64N_LEN);

	/* The wall clock is plausible (after 2020-01-01). */
	assert_true(wg_wall_clock_ns() > 1577836800000000000ULL);
}

/* --- 4. X25519 edge cases ---------------------------------------------- */

/* Public values of small order (and their non-canonical encodings): any
 * clamped scalar maps them to the all-zero point. X25519 ignores bit 255 of
 * the u-coordinate (RFC 7748 section 5), so the low-order encodings are the
 * seven values below 2^255 plus the same seven with bit 255 set; values such
 * as p + (order-8 point) or 2p, listed for implementations that do not mask
 * that bit, are ordinary points here. */
static const char *const low_order_points[] = {
	/* 1: 0 */
	"0000000000000000000000000000000000000000000000000000000000000000",
	/* 2: 1 */
	"0100000000000000000000000000000000000000000000000000000000000000",
	/* 3: point of order 8 */
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	/* 4: point of order 8 */
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	/* 5: p - 1 */
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	/* 6: p (= 0) */
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	/* 7: p + 1 (= 1) */
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	/* 8: case 1 with bit 255 set */
	"0000000000000000000000000000000000000000000000000000000000000080",
	/* 9: case 2 with bit 255 set */
	"0100000000000000000000000000000000000000000000000000000000000080",
	/* 10: case 3 with bit 255 set */
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
	/* 11: case 4 with bit 255 set */
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
	/* 12: case 5 (p - 1) with bit 255 set */
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	/* 13: case 6 (p) with bit 255 set */
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	/* 14: case 7 (p + 1) with bit 255 set */
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};

static void test_dh_rejects_low_order(void **state)
{
	uint8_t privs[3][KEY_LEN], pub[KEY_LEN], out[KEY_LEN];

	(void)state;
	unhex(privs[0], KEY_LEN, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	wg_key_generate_private(privs[1]);
	memset(privs[2], 0xff, KEY_LEN);	/* unclamped on purpose */
	for (size_t i = 0; i < ARRAY_LEN(low_order_points); i++) {
		unhex(pub, KEY_LEN, low_order_points[i]);
		for (size_t j = 0; j < ARRAY_LEN(privs); j++) {
			memset(out, 0xee, sizeof(out));
			if (wg_dh(out, privs[j], pub))
				fail_msg("low-order case %zu accepted with key %zu", i + 1, j);
			if (!wg_ct_is_zero(out, KEY_LEN))
				fail_msg("low-order case %zu: output not zeroed (key %zu)", i + 1, j);
		}
	}

	/* Bit 255 is masked, not reduced: p + (order-8 point) and 2p are
	 * ordinary points (cross-checked with an RFC 7748 ladder in python3). */
	unhex(pub, KEY_LEN, "cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880");
	assert_true(wg_dh(out, privs[0], pub));
	unhex(pub, KEY_LEN, "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	assert_true(wg_dh(out, privs[0], pub));

	/* A valid point still works after all of that. */
	unhex(pub, KEY_LEN, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	assert_true(wg_dh(out, privs[0], pub));
	assert_hex_equal(out, KEY_LEN,
			 "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
}

static void test_key_clamp(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		/* 1: all ones */
		{ "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		  "f8ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f" },
		/* 2: all zero */
		{ "0000000000000000000000000000000000000000000000000000000000000000",
		  "0000000000000000000000000000000000000000000000000000000000000040" },
		/* 3: RFC 7748 5.2 scalar 1 */
		{ "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "a046e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449a44" },
		/* 4: only bits touched by clamping set */
		{ "0700000000000000000000000000000000000000000000000000000000000080",
		  "0000000000000000000000000000000000000000000000000000000000000040" },
	};
	uint8_t k[KEY_LEN], k2[KEY_LEN], pub1[KEY_LEN], pub2[KEY_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		unhex(k, KEY_LEN, cases[i].in);
		wg_key_clamp(k);
		assert_hex_equal(k, KEY_LEN, cases[i].want);
		wg_key_clamp(k);	/* idempotent */
		assert_hex_equal(k, KEY_LEN, cases[i].want);
	}

	/* X25519 clamps internally: clamped and unclamped give the same key. */
	for (int i = 0; i < 16; i++) {
		wg_random_bytes(k, KEY_LEN);
		memcpy(k2, k, KEY_LEN);
		wg_key_clamp(k2);
		assert_true(wg_key_public_from_private(pub1, k));
		assert_true(wg_key_public_from_private(pub2, k2));
		assert_memory_equal(pub1, pub2, KEY_LEN);
	}
}

static void test_key_generate_and_public(void **state)
{
	uint8_t a[KEY_LEN], b[KEY_LEN], a_pub[KEY_LEN], b_pub[KEY_LEN];
	uint8_t k1[KEY_LEN], k2[KEY_LEN], base[KEY_LEN] = { 9 };

	(void)state;
	for (int i = 0; i < 32; i++) {
		wg_key_generate_private(a);
		wg_key_generate_private(b);
		assert_memory_not_equal(a, b, KEY_LEN);
		/* generated keys are clamped */
		assert_int_equal(a[0] & 7, 0);
		assert_int_equal(a[31] & 0xc0, 0x40);

		assert_true(wg_key_public_from_private(a_pub, a));
		assert_true(wg_key_public_from_private(b_pub, b));
		assert_false(wg_ct_is_zero(a_pub, KEY_LEN));
		/* public = X25519(priv, 9) */
		assert_true(wg_dh(k1, a, base));
		assert_memory_equal(k1, a_pub, KEY_LEN);
		/* both sides agree */
		assert_true(wg_dh(k1, a, b_pub));
		assert_true(wg_dh(k2, b, a_pub));
		assert_memory_equal(k1, k2, KEY_LEN);
	}
}

/* --- 5. AEAD -------------------------------------------------------------- */

static void test_aead_tamper(void **state)
{
	enum { MSG_LEN = 100, CT_LEN = MSG_LEN + AEAD_TAG_LEN, AD_LEN = 32 };
	const uint64_t ctr = 0x0123456789abcdefULL;
	uint8_t key[KEY_LEN], msg[MSG_LEN], ad[AD_LEN], ct[CT_LEN], out[CT_LEN];

	(void)state;
	wg_random_bytes(key, sizeof(key));
	wg_random_bytes(msg, sizeof(msg));
	wg_random_bytes(ad, sizeof(ad));
	wg_aead_encrypt(ct, msg, MSG_LEN, ad, AD_LEN, ctr, key);
	assert_true(wg_aead_decrypt(out, ct, CT_LEN, ad, AD_LEN, ctr, key));
	assert_memory_equal(out, msg, MSG_LEN);

	for (size_t i = 0; i < CT_LEN; i++) {
		ct[i] ^= 1;
		if (wg_aead_decrypt(out, ct, CT_LEN, ad, AD_LEN, ctr, key))
			fail_msg("ciphertext byte %zu flipped, still accepted", i);
		ct[i] ^= 1;
	}
	for (size_t i = 0; i < AD_LEN; i++) {
		ad[i] ^= 1;
		if (wg_aead_decrypt(out, ct, CT_LEN, ad, AD_LEN, ctr, key))
			fail_msg("ad byte %zu flipped, still accepted", i);
		ad[i] ^= 1;
	}
	/* ad shortened or dropped */
	assert_false(wg_aead_decrypt(out, ct, CT_LEN, ad, AD_LEN - 1, ctr, key));
	assert_false(wg_aead_decrypt(out, ct, CT_LEN, NULL, 0, ctr, key));
	/* wrong key */
	key[0] ^= 1;
	assert_false(wg_aead_decrypt(out, ct, CT_LEN, ad, AD_LEN, ctr, key));
	key[0] ^= 1;
	/* wrong counter: neighbours and every single-bit change */
	assert_false(wg_aead_decrypt(out, ct, CT_LEN, ad, AD_LEN, ctr + 1, key));
	assert_false(wg_aead_decrypt(out, ct, CT_LEN, ad, AD_LEN, ctr - 1, key));
	for (int bit = 0; bit < 64; bit++) {
		if (wg_aead_decrypt(out, ct, CT_LEN, ad, AD_LEN, ctr ^ (1ULL << bit), key))
			fail_msg("counter bit %d flipped, still accepted", bit);
	}
	/* truncated: too short for a tag, or just missing bytes */
	for (size_t len = 0; len < AEAD_TAG_LEN; len++) {
		if (wg_aead_decrypt(out, ct, len, ad, AD_LEN, ctr, key))
			fail_msg("input of %zu bytes accepted", len);
	}
	assert_false(wg_aead_decrypt(out, ct, CT_LEN - 1, ad, AD_LEN, ctr, key));
	assert_false(wg_aead_decrypt(out, ct, AEAD_TAG_LEN, ad, AD_LEN, ctr, key));

	/* the untouched message still decrypts */
	assert_true(wg_aead_decrypt(out, ct, CT_LEN, ad, AD_LEN, ctr, key));
	assert_memory_equal(out, msg, MSG_LEN);
}

/* An empty plaintext (a keepalive) is just a tag, and it is authenticated. */
static void test_aead_empty(void **state)
{
	uint8_t key[KEY_LEN], tag[AEAD_TAG_LEN], dummy[1];

	(void)state;
	wg_random_bytes(key, sizeof(key));
	wg_aead_encrypt(tag, dummy, 0, NULL, 0, 7, key);
	assert_true(wg_aead_decrypt(dummy, tag, AEAD_TAG_LEN, NULL, 0, 7, key));
	assert_false(wg_aead_decrypt(dummy, tag, AEAD_TAG_LEN, NULL, 0, 8, key));
	tag[0] ^= 0x80;
	assert_false(wg_aead_decrypt(dummy, tag, AEAD_TAG_LEN, NULL, 0, 7, key));
}

static void test_aead_in_place(void **state)
{
	enum { MSG_LEN = 1400, CT_LEN = MSG_LEN + AEAD_TAG_LEN };
	static uint8_t msg[MSG_LEN], ref[CT_LEN], buf[CT_LEN];
	uint8_t key[KEY_LEN], nonce[XAEAD_NONCE_LEN], ad[HASH_LEN];

	(void)state;
	wg_random_bytes(key, sizeof(key));
	wg_random_bytes(msg, sizeof(msg));
	wg_random_bytes(ad, sizeof(ad));
	wg_random_bytes(nonce, sizeof(nonce));

	/* AEAD: in-place result equals out-of-place result. */
	wg_aead_encrypt(ref, msg, MSG_LEN, ad, sizeof(ad), 99, key);
	memcpy(buf, msg, MSG_LEN);
	wg_aead_encrypt(buf, buf, MSG_LEN, ad, sizeof(ad), 99, key);
	assert_memory_equal(buf, ref, CT_LEN);
	assert_true(wg_aead_decrypt(buf, buf, CT_LEN, ad, sizeof(ad), 99, key));
	assert_memory_equal(buf, msg, MSG_LEN);

	/* XAEAD likewise. */
	wg_xaead_encrypt(ref, msg, MSG_LEN, ad, sizeof(ad), nonce, key);
	memcpy(buf, msg, MSG_LEN);
	wg_xaead_encrypt(buf, buf, MSG_LEN, ad, sizeof(ad), nonce, key);
	assert_memory_equal(buf, ref, CT_LEN);
	assert_true(wg_xaead_decrypt(buf, buf, CT_LEN, ad, sizeof(ad), nonce, key));
	assert_memory_equal(buf, msg, MSG_LEN);
}

/* --- 6. key text ----------------------------------------------------------- */

#define A10 "AAAAAAAAAA"
#define A42 A10 A10 A10 A10 "AA"

static void test_base64_round_trip(void **state)
{
	uint8_t key[KEY_LEN], back[KEY_LEN];
	char text[KEY_B64_LEN + 1];

	(void)state;
	/* known encodings */
	fill_seq(key, KEY_LEN, 0);
	wg_key_to_base64(text, key);
	assert_string_equal(text, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	assert_true(wg_key_from_base64(back, text));
	assert_memory_equal(back, key, KEY_LEN);

	memset(key, 0xff, KEY_LEN);
	wg_key_to_base64(text, key);
	assert_string_equal(text, "//////////////////////////////////////////8=");
	assert_true(wg_key_from_base64(back, text));
	assert_memory_equal(back, key, KEY_LEN);

	memset(key, 0, KEY_LEN);
	assert_true(wg_key_from_base64(back, A42 "A="));
	assert_memory_equal(back, key, KEY_LEN);

	/* random keys */
	for (int i = 0; i < 200; i++) {
		wg_random_bytes(key, KEY_LEN);
		memset(text, 0x55, sizeof(text));
		wg_key_to_base64(text, key);
		assert_int_equal(strlen(text), KEY_B64_LEN);
		assert_int_equal(text[KEY_B64_LEN - 1], '=');
		memset(back, 0, KEY_LEN);
		assert_true(wg_key_from_base64(back, text));
		assert_memory_equal(back, key, KEY_LEN);
	}
}

static void test_base64_reject(void **state)
{
	static const struct {
		const char *s;
		size_t len;	/* checked, so the table cannot lie about it */
		const char *why;
	} cases[] = {
		/* 1 */ { A42 "A", 43, "43 chars, no padding" },
		/* 2 */ { A42 "A==", 45, "45 chars, double padding" },
		/* 3 */ { A42 "AA=", 45, "45 chars" },
		/* 4 */ { A42 "A=A", 45, "45 chars, data after padding" },
		/* 5 */ { A42 "AA", 44, "missing '=' (33 bytes)" },
		/* 6 */ { A42 "B=", 44, "non-canonical: unused low bits set (1)" },
		/* 7 */ { A42 "D=", 44, "non-canonical: unused low bits set (3)" },
		/* 8 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", 44,
			  "non-canonical spelling of 00..1f" },
		/* 9 */ { "//////////////////////////////////////////9=", 44,
			  "non-canonical spelling of ff..ff" },
		/* 10 */ { A10 A10 "*" A10 A10 "AA=", 44, "invalid char '*'" },
		/* 11 */ { A10 A10 "." A10 A10 "AA=", 44, "invalid char '.'" },
		/* 12 */ { A10 A10 "\x01" A10 A10 "AA=", 44, "control char" },
		/* 13 */ { A10 A10 "\xff" A10 A10 "AA=", 44, "non-ASCII byte" },
		/* 14 */ { A10 A10 "=" A10 A10 "AA=", 44, "'=' in the middle" },
		/* 15 */ { A10 A10 A10 A10 "A==", 43, "31 bytes" },
		/* 16 */ { A10 A10 A10 A10 "AA==", 44, "'==' padding (31 bytes)" },
		/* 17 */ { A10 A10 " " A10 A10 "AA=", 44, "space inside" },
		/* 18 */ { A10 A10 "\t" A10 A10 "AA=", 44, "tab inside" },
		/* 19 */ { A10 A10 "\n" A10 A10 "AA=", 44, "newline inside" },
		/* 20 */ { " " A42 "A=", 45, "leading space" },
		/* 21 */ { A42 "A=\n", 45, "trailing newline" },
		/* 22 */ { A42 "A= ", 45, "trailing space" },
		/* 23 */ { A42 " =", 44, "space before padding" },
		/* 24 */ { "", 0, "empty string" },
		/* 25 */ { "=", 1, "padding only" },
		/* 26 */ { "__________________________________________8=", 44,
			   "URL-safe '_' (ff..ff)" },
		/* 27 */ { A10 A10 "-" A10 A10 "AA=", 44, "URL-safe '-'" },
		/* 28 */ { A10 A10 "_" A10 A10 "AA=", 44, "URL-safe '_'" },
		/* 29 */ { "-_8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 44,
			   "URL-safe spelling of fb ff 00.." },
	};
	uint8_t key[KEY_LEN];

	(void)state;
	/* sanity: the standard spelling of case 29 is accepted */
	assert_true(wg_key_from_base64(key, "+/8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	assert_int_equal(key[0], 0xfb);
	assert_int_equal(key[1], 0xff);

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		if (strlen(cases[i].s) != cases[i].len)
			fail_msg("case %zu: table length %zu, actual %zu", i + 1, cases[i].len,
				 strlen(cases[i].s));
		if (wg_key_from_base64(key, cases[i].s))
			fail_msg("case %zu (%s) accepted", i + 1, cases[i].why);
	}
}

static void test_hex_keys(void **state)
{
	static const char seq_hex[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	static const struct {
		const char *s;
		const char *why;
	} bad[] = {
		/* 1 */ { "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", "63 chars" },
		/* 2 */ { "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", "65 chars" },
		/* 3 */ { "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e", "62 chars" },
		/* 4 */ { "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00", "66 chars" },
		/* 5 */ { "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g", "'g' last" },
		/* 6 */ { "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "'g' first" },
		/* 7 */ { "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "0x prefix" },
		/* 8 */ { "00010203040506070809 a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "space" },
		/* 9 */ { "00:102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "colon" },
		/* 10 */ { "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n", "newline" },
		/* 11 */ { "", "empty" },
		/* 12 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "base64" },
	};
	uint8_t key[KEY_LEN], back[KEY_LEN];
	char text[KEY_HEX_LEN + 1];

	(void)state;
	fill_seq(key, KEY_LEN, 0);
	wg_key_to_hex(text, key);
	assert_string_equal(text, seq_hex);
	assert_true(wg_key_from_hex(back, seq_hex));
	assert_memory_equal(back, key, KEY_LEN);

	/* upper and mixed case accepted; output is lower case */
	memset(back, 0, KEY_LEN);
	assert_true(wg_key_from_hex(back,
		"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"));
	assert_memory_equal(back, key, KEY_LEN);
	memset(back, 0, KEY_LEN);
	assert_true(wg_key_from_hex(back,
		"000102030405060708090a0B0c0D0e0F101112131415161718191A1b1C1d1E1f"));
	assert_memory_equal(back, key, KEY_LEN);

	memset(key, 0xab, KEY_LEN);
	wg_key_to_hex(text, key);
	assert_string_equal(text,
		"abababababababababababababababababababababababababababababababab");

	for (int i = 0; i < 200; i++) {
		wg_random_bytes(key, KEY_LEN);
		wg_key_to_hex(text, key);
		assert_int_equal(strlen(text), KEY_HEX_LEN);
		memset(back, 0, KEY_LEN);
		assert_true(wg_key_from_hex(back, text));
		assert_memory_equal(back, key, KEY_LEN);
	}

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (wg_key_from_hex(back, bad[i].s))
			fail_msg("hex case %zu (%s) accepted", i + 1, bad[i].why);
	}
}

/* --- 7. constant-time helpers --------------------------------------------- */

static void test_ct_equal(void **state)
{
	uint8_t a[64], b[64];

	(void)state;
	wg_random_bytes(a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(wg_ct_equal(a, b, sizeof(a)));
	assert_true(wg_ct_equal(a, a, sizeof(a)));
	assert_true(wg_ct_equal(a, b, 0));
	for (size_t i = 0; i < sizeof(a); i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1U << bit);
			if (wg_ct_equal(a, b, sizeof(a)))
				fail_msg("difference at byte %zu bit %d missed", i, bit);
			b[i] ^= (uint8_t)(1U << bit);
		}
	}
	/* only the first len bytes count */
	b[63] ^= 1;
	assert_true(wg_ct_equal(a, b, 63));
	assert_false(wg_ct_equal(a, b, 64));
}

static void test_ct_is_zero(void **state)
{
	uint8_t z[64] = { 0 };

	(void)state;
	assert_true(wg_ct_is_zero(z, sizeof(z)));
	assert_true(wg_ct_is_zero(z, 0));
	assert_true(wg_ct_is_zero(z, 1));
	for (size_t i = 0; i < sizeof(z); i++) {
		for (int bit = 0; bit < 8; bit++) {
			z[i] = (uint8_t)(1U << bit);
			if (wg_ct_is_zero(z, sizeof(z)))
				fail_msg("bit %d of byte %zu missed", bit, i);
			z[i] = 0;
		}
	}
	z[10] = 1;
	assert_true(wg_ct_is_zero(z, 10));
	assert_false(wg_ct_is_zero(z, 11));

	/* wg_secure_wipe zeroes */
	memset(z, 0x5a, sizeof(z));
	wg_secure_wipe(z, sizeof(z));
	assert_true(wg_ct_is_zero(z, sizeof(z)));
}

/* wg_random_nonce: no repeats across many draws and across pool refills, and
 * a forked child never hands out the bytes its parent will use next (the
 * pool is dropped in the child). */
static void test_random_nonce(void **state)
{
	static uint8_t seen[2000][XAEAD_NONCE_LEN];
	uint8_t mine[XAEAD_NONCE_LEN], childs[XAEAD_NONCE_LEN];
	int fds[2], status;
	pid_t pid;

	(void)state;
	for (size_t i = 0; i < 2000; i++) {	/* 48 KB: about 12 refills */
		wg_random_nonce(seen[i], XAEAD_NONCE_LEN);
		for (size_t j = 0; j < i; j++)
			assert_memory_not_equal(seen[i], seen[j], XAEAD_NONCE_LEN);
	}
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		wg_random_nonce(childs, sizeof(childs));
		_exit(write(fds[1], childs, sizeof(childs)) == (ssize_t)sizeof(childs) ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(read(fds[0], childs, sizeof(childs)), (ssize_t)sizeof(childs));
	wg_random_nonce(mine, sizeof(mine));
	assert_memory_not_equal(mine, childs, sizeof(mine));
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blake2s_rfc7693),
		cmocka_unit_test(test_blake2s_keyed_kat),
		cmocka_unit_test(test_x25519_rfc7748_vectors),
		cmocka_unit_test(test_x25519_rfc7748_iterated),
		cmocka_unit_test(test_x25519_rfc7748_dh),
		cmocka_unit_test(test_aead_rfc8439_a5),
		cmocka_unit_test(test_xaead_draft_a31),
		cmocka_unit_test(test_hmac_blake2s),
		cmocka_unit_test(test_kdf_vectors),
		cmocka_unit_test(test_kdf_alias),
		cmocka_unit_test(test_tai64n_known),
		cmocka_unit_test(test_tai64n_granularity_and_order),
		cmocka_unit_test(test_dh_rejects_low_order),
		cmocka_unit_test(test_key_clamp),
		cmocka_unit_test(test_key_generate_and_public),
		cmocka_unit_test(test_aead_tamper),
		cmocka_unit_test(test_aead_empty),
		cmocka_unit_test(test_aead_in_place),
		cmocka_unit_test(test_base64_round_trip),
		cmocka_unit_test(test_base64_reject),
		cmocka_unit_test(test_hex_keys),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_ct_is_zero),
		cmocka_unit_test(test_random_nonce),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
