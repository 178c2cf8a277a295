/* Type-4 transport messages: counters, padding, AEAD in place, replay
 * window, and the responder's confirmation (the ACK). */
#include "handshake/transport.h"

#include <string.h>

const char *transport_result_str(enum transport_result r)
{
	switch (r) {
	case TRANSPORT_OK: return "ok";
	case TRANSPORT_OK_CONFIRMED: return "ok (confirmed)";
	case TRANSPORT_ERR_LENGTH: return "bad length";
	case TRANSPORT_ERR_EXPIRED: return "key expired";
	case TRANSPORT_ERR_NOT_CONFIRMED: return "key not confirmed";
	case TRANSPORT_ERR_COUNTER_EXHAUSTED: return "counter exhausted";
	case TRANSPORT_ERR_REPLAY: return "replayed counter";
	case TRANSPORT_ERR_DECRYPT: return "decryption failed";
	}
	return "?";
}

void keypair_wipe(struct keypair *kp)
{
	wg_secure_wipe(kp, sizeof(*kp));
}

size_t transport_padding(size_t plain_len, size_t mtu)
{
	size_t last = plain_len, padded;

	if (mtu == 0)
		return (MESSAGE_PADDING - plain_len % MESSAGE_PADDING) % MESSAGE_PADDING;
	/* A payload over the MTU (a GSO super-packet's segment never is, but be
	 * total) is padded as its last MTU-sized piece would be. */
	if (last > mtu)
		last %= mtu;
	padded = (last + MESSAGE_PADDING - 1) & ~(size_t)(MESSAGE_PADDING - 1);
	if (padded > mtu)
		padded = mtu;
	return padded - last;
}

static bool keypair_expired(const struct keypair *kp, uint64_t now_ns)
{
	return !kp->valid || now_ns - kp->birth_ns >= REJECT_AFTER_TIME;
}

uint32_t transport_receiver_index(const uint8_t *buf)
{
	const struct msg_transport *m = (const struct msg_transport *)buf;

	return le32_to_host(m->receiver_index);
}

enum transport_result transport_encrypt_prepare(struct keypair *kp, uint8_t *buf, size_t cap,
						size_t plain_len, size_t mtu, uint64_t now_ns,
						size_t *out_len, uint64_t *counter_out)
{
	struct msg_transport *m = (struct msg_transport *)buf;
	size_t pad = transport_padding(plain_len, mtu);
	size_t total = MSG_TRANSPORT_HEADER_LEN + plain_len + pad + AEAD_TAG_LEN;
	uint64_t counter;

	if (total > cap)
		return TRANSPORT_ERR_LENGTH;
	if (keypair_expired(kp, now_ns) || kp->send_expired)
		return TRANSPORT_ERR_EXPIRED;
	if (!kp->confirmed)
		return TRANSPORT_ERR_NOT_CONFIRMED;
	/* The counter is taken, then checked: a value at the limit is never
	 * used, and send_counter stays there, so it can never wrap. */
	counter = kp->send_counter;
	if (counter >= REJECT_AFTER_MESSAGES)
		return TRANSPORT_ERR_COUNTER_EXHAUSTED;
	kp->send_counter = counter + 1;

	memset(buf + MSG_TRANSPORT_HEADER_LEN + plain_len, 0, pad);
	m->header.type = MSG_TRANSPORT;
	memset(m->header.reserved, 0, sizeof(m->header.reserved));
	m->receiver_index = host_to_le32(kp->remote_index);
	m->counter = host_to_le64(counter);
	*out_len = total;
	*counter_out = counter;
	return TRANSPORT_OK;
}

void transport_encrypt_seal(uint8_t *buf, size_t msg_len, uint64_t counter,
			    const uint8_t send_key[KEY_LEN])
{
	struct msg_transport *m = (struct msg_transport *)buf;

	wg_aead_encrypt(m->encrypted, m->encrypted,
		     msg_len - MSG_TRANSPORT_HEADER_LEN - AEAD_TAG_LEN, NULL, 0, counter, send_key);
}

enum transport_result transport_encrypt(struct keypair *kp, uint8_t *buf, size_t cap,
					size_t plain_len, size_t mtu, uint64_t now_ns,
					size_t *out_len)
{
	enum transport_result r;
	uint64_t counter;

	r = transport_encrypt_prepare(kp, buf, cap, plain_len, mtu, now_ns, out_len, &counter);
	if (r == TRANSPORT_OK)
		transport_encrypt_seal(buf, *out_len, counter, kp->send_key);
	return r;
}

enum transport_result transport_decrypt_prepare(const struct keypair *kp, const uint8_t *buf,
						size_t len, uint64_t now_ns, uint64_t *counter)
{
	const struct msg_transport *m = (const struct msg_transport *)buf;

	if (len < (size_t)MSG_TRANSPORT_MIN_LEN)
		return TRANSPORT_ERR_LENGTH;
	if (keypair_expired(kp, now_ns))
		return TRANSPORT_ERR_EXPIRED;
	*counter = le64_to_host(m->counter);
	/* Cheap early reject; the window itself moves only in _finish. */
	if (!replay_check(&kp->replay, *counter))
		return TRANSPORT_ERR_REPLAY;
	return TRANSPORT_OK;
}

bool transport_decrypt_open(uint8_t *buf, size_t len, uint64_t counter,
			    const uint8_t recv_key[KEY_LEN])
{
	struct msg_transport *m = (struct msg_transport *)buf;

	return wg_aead_decrypt(m->encrypted, m->encrypted, len - MSG_TRANSPORT_HEADER_LEN, NULL, 0,
			    counter, recv_key);
}

enum transport_result transport_decrypt_finish(struct keypair *kp, size_t len, uint64_t counter,
					       bool opened, uint64_t now_ns, size_t *plain_len)
{
	if (!opened)
		return TRANSPORT_ERR_DECRYPT;
	/* The keypair may have died since _prepare (the halves can be apart). */
	if (keypair_expired(kp, now_ns))
		return TRANSPORT_ERR_EXPIRED;
	if (!replay_update(&kp->replay, counter))
		return TRANSPORT_ERR_REPLAY;
	*plain_len = len - MSG_TRANSPORT_HEADER_LEN - AEAD_TAG_LEN;
	if (!kp->confirmed) {
		kp->confirmed = true;
		return TRANSPORT_OK_CONFIRMED;
	}
	return TRANSPORT_OK;
}

enum transport_result transport_decrypt(struct keypair *kp, uint8_t *buf, size_t len,
					uint64_t now_ns, size_t *plain_len)
{
	enum transport_result r;
	uint64_t counter;

	r = transport_decrypt_prepare(kp, buf, len, now_ns, &counter);
	if (r != TRANSPORT_OK)
		return r;
	return transport_decrypt_finish(kp, len, counter,
					transport_decrypt_open(buf, len, counter, kp->recv_key),
					now_ns, plain_len);
}
