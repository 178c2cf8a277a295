/* Transport data messages (type 4) and the keypair they use.
 *
 * A keypair is born from a completed handshake. The initiator may send at
 * once; the responder may not send until it has received a first valid
 * transport message on that keypair: the ACK of our SYN/SYN-ACK/ACK. Counters
 * are 64-bit, start at 0, never wrap and never repeat: at
 * REJECT_AFTER_MESSAGES the keypair refuses to send. Keys are never used
 * past REJECT_AFTER_TIME.
 *
 * Locking: a keypair is owned by its peer; the caller serialises access (the
 * send counter and the replay window each need it). */
#ifndef VPND_TRANSPORT_H
#define VPND_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handshake/replay.h"
#include "handshake/wire.h"

struct keypair {
	uint8_t send_key[KEY_LEN];
	uint8_t recv_key[KEY_LEN];
	uint64_t send_counter;		/* next counter to use */
	struct replay_window replay;
	uint32_t local_index;		/* the index peers send to us with */
	uint32_t remote_index;		/* the index we send with */
	uint64_t birth_ns;		/* monotonic */
	bool is_initiator;
	bool confirmed;			/* initiator: always; responder: after the ACK */
	bool valid;
	bool send_expired;		/* may still receive, no longer send */
};

enum transport_result {
	TRANSPORT_OK = 0,
	TRANSPORT_OK_CONFIRMED,		/* ok, and this packet was the ACK: promote the keypair */
	TRANSPORT_ERR_LENGTH,		/* too short, or no room to pad */
	TRANSPORT_ERR_EXPIRED,		/* past REJECT_AFTER_TIME or invalid: start a handshake */
	TRANSPORT_ERR_NOT_CONFIRMED,	/* responder before the ACK: queue and wait */
	TRANSPORT_ERR_COUNTER_EXHAUSTED,/* REJECT_AFTER_MESSAGES reached: new handshake */
	TRANSPORT_ERR_REPLAY,		/* counter seen before or too old */
	TRANSPORT_ERR_DECRYPT,		/* forged, corrupted or not ours */
};

const char *transport_result_str(enum transport_result r);

/* Wipes the keys and marks the keypair invalid. */
void keypair_wipe(struct keypair *kp);

/* Bytes of zero padding WireGuard adds after a payload of plain_len bytes
 * (to a multiple of 16, capped at the MTU). */
size_t transport_padding(size_t plain_len, size_t mtu);
/* Size of the message for a payload: header + padded payload + tag. */
static inline size_t transport_message_len(size_t plain_len, size_t mtu)
{
	return MSG_TRANSPORT_HEADER_LEN + plain_len + transport_padding(plain_len, mtu) +
	       AEAD_TAG_LEN;
}

/* Encrypts in place. buf holds the payload at buf + MSG_TRANSPORT_HEADER_LEN
 * (plain_len bytes; 0 = keepalive) and has room for
 * transport_message_len(plain_len, mtu) bytes, which is what *out_len gets.
 * The header is written. */
enum transport_result transport_encrypt(struct keypair *kp, uint8_t *buf, size_t cap,
					size_t plain_len, size_t mtu, uint64_t now_ns,
					size_t *out_len);
/* Decrypts in place: on success the payload (padding included; the inner IP
 * header says the real length) is at buf + MSG_TRANSPORT_HEADER_LEN and
 * *plain_len is its length (0 = keepalive). The replay window is updated
 * only after the AEAD check passed. The caller found kp by the message's
 * receiver index. */
enum transport_result transport_decrypt(struct keypair *kp, uint8_t *buf, size_t len,
					uint64_t now_ns, size_t *plain_len);

/* The same two operations in halves, for a caller that runs the AEADs of a
 * batch elsewhere (other threads) while it alone touches the keypairs:
 *
 * Send: _prepare takes the counter (in order), writes the header and the
 * zero padding, and gives the message length and the counter; _seal then
 * encrypts in place with a copy of kp->send_key. _seal touches no keypair,
 * so it may run on any thread. transport_encrypt = _prepare + _seal.
 *
 * Receive: _prepare checks the length, expiry and (read-only) the replay
 * window and reads the counter; _open runs the AEAD in place with a copy of
 * kp->recv_key (any thread, no keypair); _finish, given what _open said,
 * checks expiry again (the keypair may have died in between), and only
 * then, the AEAD having passed, updates the replay window and confirms the
 * keypair. A failed _open leaves the window untouched.
 * transport_decrypt = _prepare + _open + _finish. */
enum transport_result transport_encrypt_prepare(struct keypair *kp, uint8_t *buf, size_t cap,
						size_t plain_len, size_t mtu, uint64_t now_ns,
						size_t *out_len, uint64_t *counter);
void transport_encrypt_seal(uint8_t *buf, size_t msg_len, uint64_t counter,
			    const uint8_t send_key[KEY_LEN]);
enum transport_result transport_decrypt_prepare(const struct keypair *kp, const uint8_t *buf,
						size_t len, uint64_t now_ns, uint64_t *counter);
/* len: the whole message (at least MSG_TRANSPORT_MIN_LEN). */
bool transport_decrypt_open(uint8_t *buf, size_t len, uint64_t counter,
			    const uint8_t recv_key[KEY_LEN]);
enum transport_result transport_decrypt_finish(struct keypair *kp, size_t len, uint64_t counter,
					       bool opened, uint64_t now_ns, size_t *plain_len);

/* Receiver index of a transport message (host order); len already checked. */
uint32_t transport_receiver_index(const uint8_t *buf);

#endif
