/* The secret arena (crypto/arena.h): slots zeroed when taken and wiped when
 * given back, many objects per chunk (no page each), chunks marked
 * MADV_DONTDUMP ("dd" in /proc/self/smaps) and, as root, locked ("lo";
 * not under AddressSanitizer, whose mlock does nothing);
 * and the device's keypairs come from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/arena.h"
#include "crypto/crypto.h"
#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"

/* The VmFlags line of the mapping that holds p. */
static bool vmflags_of(const void *p, char *flags, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false, found = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (inside && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, len, "%s", line + 8);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static void test_zeroed_and_wiped(void **state)
{
	struct wg_arena *a = wg_arena_new(100);
	uint8_t *p, *q;
	uint8_t zero[112] = { 0 };

	(void)state;
	assert_non_null(a);
	p = wg_arena_alloc(a);
	assert_non_null(p);
	assert_memory_equal(p, zero, 100);
	memset(p, 0xA5, 100);
	wg_arena_free(a, p);
	/* Back in the arena: wiped but for the free list's link word. */
	assert_memory_equal(p + sizeof(void *), zero, 100 - sizeof(void *));
	q = wg_arena_alloc(a);
	assert_ptr_equal(q, p);		/* reused, and zeroed again */
	assert_memory_equal(q, zero, 100);
	wg_arena_free(a, q);
	wg_arena_destroy(a);
}

static void test_many_objects_share_a_chunk(void **state)
{
	struct wg_arena *a = wg_arena_new(64);
	uint8_t *first, *p;
	char flags[512];

	(void)state;
	first = wg_arena_alloc(a);
	for (int i = 0; i < 100; i++) {
		p = wg_arena_alloc(a);
		assert_non_null(p);
		assert_true(wg_arena_owns(a, p));
	}
	/* 101 objects of 64 bytes: one chunk, not a page (plus guards) each. */
	assert_true((uintptr_t)p - (uintptr_t)first < 101 * 64 * 2);
	assert_true(vmflags_of(first, flags, sizeof(flags)));
	assert_non_null(strstr(flags, " dd"));
#ifndef VPND_SANITIZED	/* AddressSanitizer makes mlock a no-op */
	if (geteuid() == 0)
		assert_non_null(strstr(flags, " lo"));
#endif
	assert_false(wg_arena_owns(a, flags));
	wg_arena_destroy(a);
}

static void test_device_keypairs_in_arena(void **state)
{
	struct device dev;
	struct keypair *kp;

	(void)state;
	assert_int_equal(device_init(&dev, "arena0"), 0);
	kp = device_keypair_new(&dev);
	assert_non_null(kp);
	assert_true(wg_arena_owns(dev.secrets, kp));
	memset(kp->send_key, 0x5A, sizeof(kp->send_key));
	device_keypair_free(&dev, kp);
	assert_true(wg_ct_is_zero(kp->recv_key, sizeof(kp->recv_key)));
	device_destroy(&dev);
}

/* A peer's handshake (PSK, static-static DH, chaining key, ephemeral) is in
 * the arena, and wiped when the peer goes. */
static void test_peer_handshake_in_arena(void **state)
{
	uint8_t pub[KEY_LEN], priv[KEY_LEN], psk[KEY_LEN];
	struct noise_handshake *hs;
	struct device dev;
	struct peer *peer;

	(void)state;
	assert_int_equal(device_init(&dev, "arena1"), 0);
	wg_key_generate_private(priv);
	assert_true(wg_key_public_from_private(pub, priv));
	memset(psk, 0x77, sizeof(psk));
	peer = device_peer_create(&dev, pub);
	assert_non_null(peer);
	hs = peer->hs;
	assert_true(wg_arena_owns(dev.secrets, hs));
	noise_handshake_set_psk(hs, psk);
	assert_memory_equal(hs->preshared_key, psk, KEY_LEN);
	device_peer_remove(&dev, peer);
	assert_true(wg_ct_is_zero(hs->preshared_key, KEY_LEN));
	device_destroy(&dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zeroed_and_wiped),
		cmocka_unit_test(test_many_objects_share_a_chunk),
		cmocka_unit_test(test_device_keypairs_in_arena),
		cmocka_unit_test(test_peer_handshake_in_arena),
	};

	wg_crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
