/* Every WireGuard wire struct and protocol constant, in one place.
 * All integers on the wire are little-endian; the structs are packed and
 * their sizes asserted, so a message is exactly its bytes. */
#ifndef VPND_WIRE_H
#define VPND_WIRE_H

#include <endian.h>
#include <stdint.h>

#include "crypto/crypto.h"

#define NOISE_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define NOISE_IDENTIFIER   "WireGuard v1 zx2c4 Jason@zx2c4.com"
#define LABEL_MAC1         "mac1----"
#define LABEL_COOKIE       "cookie--"

enum message_type {
	MSG_INITIATION = 1,	/* SYN */
	MSG_RESPONSE = 2,	/* SYN-ACK */
	MSG_COOKIE_REPLY = 3,
	MSG_TRANSPORT = 4,	/* the first one on new keys is the ACK */
};

#define NSEC_PER_SEC 1000000000ULL
#define MSEC_NS      1000000ULL

/* Timers and limits (whitepaper section 6). Times in nanoseconds. */
#define REKEY_AFTER_MESSAGES   (1ULL << 60)
#define REJECT_AFTER_MESSAGES  (UINT64_MAX - (1ULL << 13))	/* 2^64 - 2^13 - 1 */
#define REKEY_AFTER_TIME       (120 * NSEC_PER_SEC)
#define REJECT_AFTER_TIME      (180 * NSEC_PER_SEC)
#define REKEY_ATTEMPT_TIME     (90 * NSEC_PER_SEC)
#define REKEY_TIMEOUT          (5 * NSEC_PER_SEC)
#define REKEY_TIMEOUT_JITTER_MS 334	/* 0..333 ms */
#define KEEPALIVE_TIMEOUT      (10 * NSEC_PER_SEC)
#define COOKIE_SECRET_MAX_AGE  (120 * NSEC_PER_SEC)
#define COOKIE_SECRET_LATENCY  (5 * NSEC_PER_SEC)
#define INITIATIONS_PER_SECOND 50	/* one initiation per 1/50 s per peer */
#define MAX_TIMER_HANDSHAKES   (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT)

#define REPLAY_WINDOW_BITS     8192	/* bitmap size; usable window is 8192-64 */

#define MESSAGE_PADDING        16
/* Outer DSCP of handshake messages (initiation, response): AF41, as the
 * kernel's HANDSHAKE_DSCP; the TOS byte, DSCP 34 << 2. */
#define HANDSHAKE_DSCP         0x88
#define MESSAGE_HEADER_TYPE(b) ((b)[0])

struct msg_header {
	uint8_t type;
	uint8_t reserved[3];
} __attribute__((packed));

struct msg_macs {
	uint8_t mac1[MAC_LEN];
	uint8_t mac2[MAC_LEN];
} __attribute__((packed));

struct msg_initiation {
	struct msg_header header;
	uint32_t sender_index;				/* le32 */
	uint8_t ephemeral[KEY_LEN];
	uint8_t encrypted_static[KEY_LEN + AEAD_TAG_LEN];
	uint8_t encrypted_timestamp[TAI64N_LEN + AEAD_TAG_LEN];
	struct msg_macs macs;
} __attribute__((packed));

struct msg_response {
	struct msg_header header;
	uint32_t sender_index;				/* le32 */
	uint32_t receiver_index;			/* le32 */
	uint8_t ephemeral[KEY_LEN];
	uint8_t encrypted_nothing[AEAD_TAG_LEN];
	struct msg_macs macs;
} __attribute__((packed));

struct msg_cookie_reply {
	struct msg_header header;
	uint32_t receiver_index;			/* le32 */
	uint8_t nonce[XAEAD_NONCE_LEN];
	uint8_t encrypted_cookie[MAC_LEN + AEAD_TAG_LEN];
} __attribute__((packed));

struct msg_transport {
	struct msg_header header;
	uint32_t receiver_index;			/* le32 */
	uint64_t counter;				/* le64 */
	uint8_t encrypted[];				/* padded payload + tag */
} __attribute__((packed));

#define MSG_TRANSPORT_HEADER_LEN ((int)sizeof(struct msg_transport))	/* 16 */
#define MSG_TRANSPORT_MIN_LEN    (MSG_TRANSPORT_HEADER_LEN + AEAD_TAG_LEN)	/* 32: keepalive */

_Static_assert(sizeof(struct msg_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct msg_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct msg_cookie_reply) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct msg_transport) == 16, "transport header is 16 bytes");

/* Byte order helpers: the wire is little-endian whatever the host is. */
static inline uint32_t le32_to_host(uint32_t v) { return le32toh(v); }
static inline uint32_t host_to_le32(uint32_t v) { return htole32(v); }
static inline uint64_t le64_to_host(uint64_t v) { return le64toh(v); }
static inline uint64_t host_to_le64(uint64_t v) { return htole64(v); }

#endif
