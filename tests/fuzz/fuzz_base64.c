/* libFuzzer target: key text, wg_key_from_base64() and wg_key_from_hex()
 * (crypto/crypto.c), on the input as a NUL-terminated string.
 *
 * Properties (abort when broken):
 *  - base64 is canonical: if the text decodes, encoding the key gives the
 *    very same text (one key, one text);
 *  - hex: if the text decodes, encoding gives it again, in lowercase;
 *  - a key that does not decode leaves the output untouched;
 *  - any 32 bytes (the input's first 32) survive both round trips. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/fuzz/fuzz_common.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_base64: property violated: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_crypto_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t canary[KEY_LEN] = { 0xde, 0xad, 0xbe, 0xef };
	char *text = malloc(size + 1);
	char b64[KEY_B64_LEN + 1], hex[KEY_HEX_LEN + 1];
	uint8_t key[KEY_LEN], again[KEY_LEN];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	memcpy(key, canary, KEY_LEN);
	if (wg_key_from_base64(key, text)) {
		wg_key_to_base64(b64, key);
		if (strcmp(b64, text))
			fail("base64 decodes but does not encode back to the same text");
	} else if (memcmp(key, canary, KEY_LEN)) {
		fail("a failed wg_key_from_base64 wrote the key");
	}

	memcpy(key, canary, KEY_LEN);
	if (wg_key_from_hex(key, text)) {
		wg_key_to_hex(hex, key);
		if (strcasecmp(hex, text))
			fail("hex decodes but does not encode back to the same text");
	} else if (memcmp(key, canary, KEY_LEN)) {
		fail("a failed wg_key_from_hex wrote the key");
	}

	if (size >= KEY_LEN) {
		wg_key_to_base64(b64, data);
		if (strlen(b64) != KEY_B64_LEN || !wg_key_from_base64(again, b64) ||
		    memcmp(again, data, KEY_LEN))
			fail("32 bytes do not survive base64");
		wg_key_to_hex(hex, data);
		if (strlen(hex) != KEY_HEX_LEN || !wg_key_from_hex(again, hex) ||
		    memcmp(again, data, KEY_LEN))
			fail("32 bytes do not survive hex");
	}
	free(text);
	return 0;
}
