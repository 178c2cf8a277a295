/* mac1/mac2 and cookie replies. mac1 proves the sender knows our public
 * key; mac2 proves, under load, that it can receive at its source address.
 * Every compare is constant-time. */
#include "handshake/cookie.h"

#include <string.h>
#include <sys/socket.h>

/* Offsets of mac1 and mac2 in a message of len bytes (macs are last). */
#define MAC1_OFF(len) ((len) - 2 * MAC_LEN)
#define MAC2_OFF(len) ((len) - MAC_LEN)

static void derive_key(uint8_t out[HASH_LEN], const char *label, const uint8_t pub[KEY_LEN])
{
	wg_hash2(out, label, strlen(label), pub, KEY_LEN);
}

size_t cookie_source_bytes(uint8_t out[COOKIE_SOURCE_MAX], int family, const uint8_t *addr,
			   uint16_t port_host_order)
{
	size_t alen = family == AF_INET6 ? 16 : 4;

	memcpy(out, addr, alen);
	out[alen] = (uint8_t)(port_host_order >> 8);
	out[alen + 1] = (uint8_t)port_host_order;
	return alen + 2;
}

void cookie_checker_init(struct cookie_checker *c, const uint8_t our_public[KEY_LEN])
{
	cookie_checker_wipe(c);
	derive_key(c->mac1_key, LABEL_MAC1, our_public);
	derive_key(c->cookie_key, LABEL_COOKIE, our_public);
}

void cookie_checker_wipe(struct cookie_checker *c)
{
	wg_secure_wipe(c, sizeof(*c));
}

static bool secret_fresh(const struct cookie_checker *c, uint64_t now_ns)
{
	return c->secret_set && now_ns - c->secret_birth_ns < COOKIE_SECRET_MAX_AGE;
}

/* cookie = MAC(R, source) */
static void make_cookie(const struct cookie_checker *c, uint8_t cookie[MAC_LEN],
			const uint8_t *src, size_t src_len)
{
	wg_blake2s_keyed(cookie, MAC_LEN, c->secret, HASH_LEN, src, src_len);
}

enum cookie_mac_state cookie_validate(struct cookie_checker *c, const uint8_t *msg, size_t len,
				      const uint8_t *src, size_t src_len, bool check_mac2,
				      uint64_t now_ns)
{
	uint8_t mac[MAC_LEN], cookie[MAC_LEN];
	enum cookie_mac_state ret = COOKIE_MAC_INVALID;

	if (len < 2 * MAC_LEN)
		goto out;
	wg_blake2s_keyed(mac, MAC_LEN, c->mac1_key, HASH_LEN, msg, MAC1_OFF(len));
	if (!wg_ct_equal(mac, msg + MAC1_OFF(len), MAC_LEN))
		goto out;
	ret = COOKIE_MAC1_VALID;
	/* A cookie from an expired secret is worthless: the sender must ask
	 * again, and the reply will roll a new secret. */
	if (!check_mac2 || !secret_fresh(c, now_ns))
		goto out;
	make_cookie(c, cookie, src, src_len);
	wg_blake2s_keyed(mac, MAC_LEN, cookie, MAC_LEN, msg, MAC2_OFF(len));
	if (wg_ct_equal(mac, msg + MAC2_OFF(len), MAC_LEN))
		ret = COOKIE_MAC2_VALID;
out:
	wg_secure_wipe(cookie, sizeof(cookie));
	return ret;
}

void cookie_create_reply(struct cookie_checker *c, struct msg_cookie_reply *reply,
			 const uint8_t *msg, size_t len, uint32_t receiver_index,
			 const uint8_t *src, size_t src_len, uint64_t now_ns)
{
	uint8_t nonce[XAEAD_NONCE_LEN];

	wg_random_nonce(nonce, XAEAD_NONCE_LEN);
	cookie_create_reply_nonce(c, reply, msg, len, receiver_index, src, src_len, now_ns,
				  nonce);
}

void cookie_create_reply_nonce(struct cookie_checker *c, struct msg_cookie_reply *reply,
			       const uint8_t *msg, size_t len, uint32_t receiver_index,
			       const uint8_t *src, size_t src_len, uint64_t now_ns,
			       const uint8_t nonce[XAEAD_NONCE_LEN])
{
	uint8_t cookie[MAC_LEN];

	if (!secret_fresh(c, now_ns)) {
		wg_random_bytes(c->secret, HASH_LEN);
		c->secret_birth_ns = now_ns;
		c->secret_set = true;
	}
	memset(reply, 0, sizeof(*reply));
	reply->header.type = MSG_COOKIE_REPLY;
	reply->receiver_index = host_to_le32(receiver_index);
	memcpy(reply->nonce, nonce, XAEAD_NONCE_LEN);
	make_cookie(c, cookie, src, src_len);
	wg_xaead_encrypt(reply->encrypted_cookie, cookie, MAC_LEN, msg + MAC1_OFF(len), MAC_LEN,
		      reply->nonce, c->cookie_key);
	wg_secure_wipe(cookie, sizeof(cookie));
}

void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_public[KEY_LEN])
{
	cookie_maker_wipe(m);
	derive_key(m->mac1_key, LABEL_MAC1, peer_public);
	derive_key(m->cookie_key, LABEL_COOKIE, peer_public);
}

void cookie_maker_wipe(struct cookie_maker *m)
{
	wg_secure_wipe(m, sizeof(*m));
}

void cookie_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ns)
{
	wg_blake2s_keyed(msg + MAC1_OFF(len), MAC_LEN, m->mac1_key, HASH_LEN, msg, MAC1_OFF(len));
	memcpy(m->last_mac1, msg + MAC1_OFF(len), MAC_LEN);
	m->have_last_mac1 = true;

	if (m->have_cookie && now_ns - m->cookie_birth_ns < COOKIE_SECRET_MAX_AGE -
	    COOKIE_SECRET_LATENCY)
		wg_blake2s_keyed(msg + MAC2_OFF(len), MAC_LEN, m->cookie, MAC_LEN, msg,
			      MAC2_OFF(len));
	else
		memset(msg + MAC2_OFF(len), 0, MAC_LEN);
}

enum cookie_reply_result cookie_consume_reply(struct cookie_maker *m,
					      const struct msg_cookie_reply *reply,
					      uint64_t now_ns)
{
	uint8_t cookie[MAC_LEN];
	enum cookie_reply_result ret = COOKIE_REPLY_ERR_UNEXPECTED;

	if (!m->have_last_mac1)
		goto out;
	ret = COOKIE_REPLY_ERR_DECRYPT;
	if (!wg_xaead_decrypt(cookie, reply->encrypted_cookie, sizeof(reply->encrypted_cookie),
			   m->last_mac1, MAC_LEN, reply->nonce, m->cookie_key))
		goto out;
	memcpy(m->cookie, cookie, MAC_LEN);
	m->cookie_birth_ns = now_ns;
	m->have_cookie = true;
	/* One reply per message sent: a replayed reply finds nothing to open. */
	m->have_last_mac1 = false;
	ret = COOKIE_REPLY_OK;
out:
	wg_secure_wipe(cookie, sizeof(cookie));
	return ret;
}
