/* The Noise IKpsk2 handshake. Each message is built or checked on local
 * copies of the chaining key and hash; the peer's state is written only when
 * the message is complete and authenticated. Steps are labelled with their
 * Noise tokens. */
#include "handshake/noise.h"

#include <string.h>

#include "handshake/transport.h"

/* HASH(CONSTRUCTION) and HASH(HASH(CONSTRUCTION) || IDENTIFIER): constants,
 * computed once on first use. */
static uint8_t initial_chaining_key[HASH_LEN];
static uint8_t identifier_hash[HASH_LEN];
static bool constants_ready;

static void ensure_constants(void)
{
	if (constants_ready)
		return;
	wg_hash2(initial_chaining_key, NOISE_CONSTRUCTION, strlen(NOISE_CONSTRUCTION), NULL, 0);
	wg_hash2(identifier_hash, initial_chaining_key, HASH_LEN, NOISE_IDENTIFIER,
	      strlen(NOISE_IDENTIFIER));
	constants_ready = true;
}

const char *noise_result_str(enum noise_result r)
{
	switch (r) {
	case NOISE_OK: return "ok";
	case NOISE_ERR_NO_IDENTITY: return "no private key";
	case NOISE_ERR_STATE: return "unexpected message";
	case NOISE_ERR_DECRYPT: return "decryption failed";
	case NOISE_ERR_UNKNOWN_PEER: return "unknown peer";
	case NOISE_ERR_LOW_ORDER: return "low-order public key";
	case NOISE_ERR_REPLAY: return "replayed timestamp";
	case NOISE_ERR_FLOOD: return "initiation flood";
	}
	return "?";
}

/* h = HASH(h || data) */
static void mix_hash(uint8_t h[HASH_LEN], const void *data, size_t len)
{
	wg_hash2(h, h, HASH_LEN, data, len);
}

bool noise_local_set(struct noise_local *local, const uint8_t *private_key)
{
	ensure_constants();
	noise_local_clear(local);
	if (!private_key)
		return true;
	memcpy(local->private_key, private_key, KEY_LEN);
	wg_key_clamp(local->private_key);
	if (!wg_key_public_from_private(local->public_key, local->private_key)) {
		noise_local_clear(local);
		return false;
	}
	wg_hash2(local->initial_hash, identifier_hash, HASH_LEN, local->public_key, KEY_LEN);
	local->has_identity = true;
	return true;
}

void noise_local_clear(struct noise_local *local)
{
	wg_secure_wipe(local, sizeof(*local));
}

void noise_handshake_clear(struct noise_handshake *hs)
{
	wg_secure_wipe(hs->ephemeral_private, KEY_LEN);
	wg_secure_wipe(hs->remote_ephemeral, KEY_LEN);
	wg_secure_wipe(hs->hash, HASH_LEN);
	wg_secure_wipe(hs->chaining_key, HASH_LEN);
	/* local_index is left alone: the caller owns the index table and
	 * must remove that index itself before it picks a new one. */
	hs->remote_index = 0;
	hs->state = NOISE_ZEROED;
}

void noise_handshake_set_local(struct noise_handshake *hs, const struct noise_local *local)
{
	noise_handshake_clear(hs);
	hs->static_static_valid = local->has_identity &&
		wg_dh(hs->precomputed_static_static, local->private_key, hs->remote_static);
	if (!hs->static_static_valid)
		wg_secure_wipe(hs->precomputed_static_static, KEY_LEN);
}

void noise_handshake_set_psk(struct noise_handshake *hs, const uint8_t *preshared_key)
{
	if (preshared_key)
		memcpy(hs->preshared_key, preshared_key, KEY_LEN);
	else
		wg_secure_wipe(hs->preshared_key, KEY_LEN);
}

void noise_handshake_init(struct noise_handshake *hs, const struct noise_local *local,
			  const uint8_t remote_static[KEY_LEN], const uint8_t *preshared_key)
{
	ensure_constants();
	if (!wg_ct_equal(hs->remote_static, remote_static, KEY_LEN)) {
		/* A new peer identity starts with no replay history. */
		wg_secure_wipe(hs, sizeof(*hs));
		memcpy(hs->remote_static, remote_static, KEY_LEN);
	}
	wg_hash2(hs->remote_initial_hash, identifier_hash, HASH_LEN, remote_static, KEY_LEN);
	noise_handshake_set_psk(hs, preshared_key);
	noise_handshake_set_local(hs, local);
}

enum noise_result noise_create_initiation(struct noise_handshake *hs,
					  const struct noise_local *local,
					  struct msg_initiation *msg, uint32_t local_index,
					  uint64_t wall_ns)
{
	uint8_t eph[KEY_LEN];
	enum noise_result ret;

	wg_key_generate_private(eph);
	ret = noise_create_initiation_ephemeral(hs, local, msg, local_index, wall_ns, eph);
	wg_secure_wipe(eph, sizeof(eph));
	return ret;
}

enum noise_result noise_create_initiation_ephemeral(struct noise_handshake *hs,
						    const struct noise_local *local,
						    struct msg_initiation *msg,
						    uint32_t local_index, uint64_t wall_ns,
						    const uint8_t ephemeral_private[KEY_LEN])
{
	uint8_t ck[HASH_LEN], h[HASH_LEN], key[KEY_LEN], shared[KEY_LEN];
	uint8_t eph[KEY_LEN], timestamp[TAI64N_LEN];
	enum noise_result ret = NOISE_ERR_NO_IDENTITY;

	if (!local->has_identity)
		goto out;
	ret = NOISE_ERR_LOW_ORDER;
	if (!hs->static_static_valid)
		goto out;

	memset(msg, 0, sizeof(*msg));
	msg->header.type = MSG_INITIATION;
	msg->sender_index = host_to_le32(local_index);
	memcpy(ck, initial_chaining_key, HASH_LEN);
	memcpy(h, hs->remote_initial_hash, HASH_LEN);

	/* e */
	memcpy(eph, ephemeral_private, KEY_LEN);
	if (!wg_key_public_from_private(msg->ephemeral, eph))
		goto out;
	wg_kdf(ck, NULL, NULL, ck, msg->ephemeral, KEY_LEN);
	mix_hash(h, msg->ephemeral, KEY_LEN);

	/* es */
	if (!wg_dh(shared, eph, hs->remote_static))
		goto out;
	wg_kdf(ck, key, NULL, ck, shared, KEY_LEN);

	/* s */
	wg_aead_encrypt(msg->encrypted_static, local->public_key, KEY_LEN, h, HASH_LEN, 0, key);
	mix_hash(h, msg->encrypted_static, sizeof(msg->encrypted_static));

	/* ss */
	wg_kdf(ck, key, NULL, ck, hs->precomputed_static_static, KEY_LEN);

	/* {t} */
	wg_tai64n_from_unix_ns(timestamp, wall_ns);
	wg_aead_encrypt(msg->encrypted_timestamp, timestamp, TAI64N_LEN, h, HASH_LEN, 0, key);
	mix_hash(h, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp));

	noise_handshake_clear(hs);
	memcpy(hs->ephemeral_private, eph, KEY_LEN);
	memcpy(hs->chaining_key, ck, HASH_LEN);
	memcpy(hs->hash, h, HASH_LEN);
	hs->local_index = local_index;
	hs->state = NOISE_CREATED_INITIATION;
	ret = NOISE_OK;
out:
	wg_secure_wipe(ck, sizeof(ck));
	wg_secure_wipe(h, sizeof(h));
	wg_secure_wipe(key, sizeof(key));
	wg_secure_wipe(shared, sizeof(shared));
	wg_secure_wipe(eph, sizeof(eph));
	return ret;
}

/* Replay and flood checks on an authenticated initiation. TAI64N is
 * big-endian, so byte order is time order; the timestamp is not secret. */
static enum noise_result check_freshness(const uint8_t latest[TAI64N_LEN], uint64_t last_ns,
					 const uint8_t ts[TAI64N_LEN], uint64_t now_ns)
{
	if (memcmp(ts, latest, TAI64N_LEN) <= 0)
		return NOISE_ERR_REPLAY;
	if (last_ns && now_ns - last_ns < NSEC_PER_SEC / INITIATIONS_PER_SECOND)
		return NOISE_ERR_FLOOD;
	return NOISE_OK;
}

enum noise_result noise_peer_view_get(const struct noise_handshake *hs,
				      struct noise_peer_view *view)
{
	if (!hs->static_static_valid) {
		wg_secure_wipe(view, sizeof(*view));
		return NOISE_ERR_LOW_ORDER;
	}
	memcpy(view->remote_static, hs->remote_static, KEY_LEN);
	memcpy(view->static_static, hs->precomputed_static_static, KEY_LEN);
	memcpy(view->preshared_key, hs->preshared_key, KEY_LEN);
	memcpy(view->latest_timestamp, hs->latest_timestamp, TAI64N_LEN);
	view->last_initiation_consumption_ns = hs->last_initiation_consumption_ns;
	return NOISE_OK;
}

enum noise_result noise_initiation_compute(const struct noise_local *local,
					   const struct msg_initiation *msg,
					   const struct noise_view_lookup *lookup,
					   uint64_t now_ns, struct noise_initiation *out)
{
	uint8_t ck[HASH_LEN], h[HASH_LEN], key[KEY_LEN], shared[KEY_LEN];
	struct noise_peer_view view;
	enum noise_result ret = NOISE_ERR_NO_IDENTITY;

	memset(&view, 0, sizeof(view));
	memset(out, 0, sizeof(*out));
	if (!local->has_identity)
		goto out;
	memcpy(ck, initial_chaining_key, HASH_LEN);
	memcpy(h, local->initial_hash, HASH_LEN);

	/* e */
	wg_kdf(ck, NULL, NULL, ck, msg->ephemeral, KEY_LEN);
	mix_hash(h, msg->ephemeral, KEY_LEN);

	/* es */
	ret = NOISE_ERR_LOW_ORDER;
	if (!wg_dh(shared, local->private_key, msg->ephemeral))
		goto out;
	wg_kdf(ck, key, NULL, ck, shared, KEY_LEN);

	/* s */
	ret = NOISE_ERR_DECRYPT;
	if (!wg_aead_decrypt(out->remote_static, msg->encrypted_static,
			     sizeof(msg->encrypted_static), h, HASH_LEN, 0, key))
		goto out;
	mix_hash(h, msg->encrypted_static, sizeof(msg->encrypted_static));

	ret = lookup->view(lookup->ctx, out->remote_static, &view);
	if (ret != NOISE_OK)
		goto out;

	/* ss */
	wg_kdf(ck, key, NULL, ck, view.static_static, KEY_LEN);

	/* {t} */
	ret = NOISE_ERR_DECRYPT;
	if (!wg_aead_decrypt(out->timestamp, msg->encrypted_timestamp,
			     sizeof(msg->encrypted_timestamp), h, HASH_LEN, 0, key))
		goto out;
	mix_hash(h, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp));

	ret = check_freshness(view.latest_timestamp, view.last_initiation_consumption_ns,
			      out->timestamp, now_ns);
	if (ret != NOISE_OK)
		goto out;
	memcpy(out->remote_ephemeral, msg->ephemeral, KEY_LEN);
	memcpy(out->chaining_key, ck, HASH_LEN);
	memcpy(out->hash, h, HASH_LEN);
	memcpy(out->preshared_key, view.preshared_key, KEY_LEN);
	out->remote_index = le32_to_host(msg->sender_index);
out:
	if (ret != NOISE_OK)
		wg_secure_wipe(out, sizeof(*out));
	wg_secure_wipe(ck, sizeof(ck));
	wg_secure_wipe(h, sizeof(h));
	wg_secure_wipe(key, sizeof(key));
	wg_secure_wipe(shared, sizeof(shared));
	wg_secure_wipe(&view, sizeof(view));
	return ret;
}

enum noise_result noise_initiation_commit(struct noise_handshake *hs,
					  const struct noise_initiation *ini, uint64_t now_ns)
{
	enum noise_result ret;

	if (!wg_ct_equal(hs->remote_static, ini->remote_static, KEY_LEN))
		return NOISE_ERR_UNKNOWN_PEER;
	if (!hs->static_static_valid)
		return NOISE_ERR_LOW_ORDER;
	ret = check_freshness(hs->latest_timestamp, hs->last_initiation_consumption_ns,
			      ini->timestamp, now_ns);
	if (ret != NOISE_OK)
		return ret;

	/* Authenticated and fresh: only now may the peer's state change. */
	noise_handshake_clear(hs);
	memcpy(hs->remote_ephemeral, ini->remote_ephemeral, KEY_LEN);
	memcpy(hs->latest_timestamp, ini->timestamp, TAI64N_LEN);
	hs->last_initiation_consumption_ns = now_ns;
	memcpy(hs->chaining_key, ini->chaining_key, HASH_LEN);
	memcpy(hs->hash, ini->hash, HASH_LEN);
	hs->remote_index = ini->remote_index;
	hs->state = NOISE_CONSUMED_INITIATION;
	return NOISE_OK;
}

/* noise_consume_initiation's lookup, as a view: the handshake found is
 * kept for the commit. */
struct hs_lookup_ctx {
	const struct noise_lookup *lookup;
	struct noise_handshake *hs;
};

static enum noise_result view_from_handshake(void *ctx, const uint8_t pub[KEY_LEN],
					     struct noise_peer_view *view)
{
	struct hs_lookup_ctx *c = ctx;

	c->hs = c->lookup->by_public_key(c->lookup->ctx, pub);
	if (!c->hs)
		return NOISE_ERR_UNKNOWN_PEER;
	return noise_peer_view_get(c->hs, view);
}

enum noise_result noise_consume_initiation(const struct noise_local *local,
					   const struct msg_initiation *msg,
					   const struct noise_lookup *lookup, uint64_t now_ns,
					   struct noise_handshake **out)
{
	struct hs_lookup_ctx ctx = { lookup, NULL };
	const struct noise_view_lookup vl = { &ctx, view_from_handshake };
	struct noise_initiation ini;
	enum noise_result ret;

	*out = NULL;
	ret = noise_initiation_compute(local, msg, &vl, now_ns, &ini);
	if (ret == NOISE_OK)
		ret = noise_initiation_commit(ctx.hs, &ini, now_ns);
	if (ret == NOISE_OK)
		*out = ctx.hs;
	wg_secure_wipe(&ini, sizeof(ini));
	return ret;
}

/* ee, se and psk, shared by both sides of the response. eph_priv and
 * remote_eph are the DH pair for ee; for se the responder uses its ephemeral
 * with the initiator's static, the initiator its static with the
 * responder's ephemeral: both are DH(priv_a, pub_b) given as se_priv/se_pub. */
static bool mix_response_keys(uint8_t ck[HASH_LEN], uint8_t h[HASH_LEN], uint8_t key[KEY_LEN],
			      const uint8_t ee_priv[KEY_LEN], const uint8_t ee_pub[KEY_LEN],
			      const uint8_t se_priv[KEY_LEN], const uint8_t se_pub[KEY_LEN],
			      const uint8_t psk[KEY_LEN])
{
	uint8_t shared[KEY_LEN], tau[HASH_LEN];
	bool ok = false;

	/* ee */
	if (!wg_dh(shared, ee_priv, ee_pub))
		goto out;
	wg_kdf(ck, NULL, NULL, ck, shared, KEY_LEN);

	/* se */
	if (!wg_dh(shared, se_priv, se_pub))
		goto out;
	wg_kdf(ck, NULL, NULL, ck, shared, KEY_LEN);

	/* psk */
	wg_kdf(ck, tau, key, ck, psk, KEY_LEN);
	mix_hash(h, tau, HASH_LEN);
	ok = true;
out:
	wg_secure_wipe(shared, sizeof(shared));
	wg_secure_wipe(tau, sizeof(tau));
	return ok;
}

enum noise_result noise_create_response(struct noise_handshake *hs,
					const struct noise_local *local,
					struct msg_response *msg, uint32_t local_index)
{
	return noise_create_response_ephemeral(hs, local, msg, local_index, NULL);
}

enum noise_result noise_response_compute(const struct noise_initiation *ini,
					 const uint8_t *ephemeral_private,
					 struct noise_response *out)
{
	uint8_t ck[HASH_LEN], h[HASH_LEN], key[KEY_LEN], eph[KEY_LEN];
	enum noise_result ret = NOISE_ERR_LOW_ORDER;

	memset(out, 0, sizeof(*out));
	out->msg.header.type = MSG_RESPONSE;
	memcpy(ck, ini->chaining_key, HASH_LEN);
	memcpy(h, ini->hash, HASH_LEN);

	/* e */
	if (ephemeral_private)
		memcpy(eph, ephemeral_private, KEY_LEN);
	else
		wg_key_generate_private(eph);
	if (!wg_key_public_from_private(out->msg.ephemeral, eph))
		goto out;
	wg_kdf(ck, NULL, NULL, ck, out->msg.ephemeral, KEY_LEN);
	mix_hash(h, out->msg.ephemeral, KEY_LEN);

	/* ee, se, psk */
	if (!mix_response_keys(ck, h, key, eph, ini->remote_ephemeral, eph, ini->remote_static,
			       ini->preshared_key))
		goto out;

	/* {} */
	wg_aead_encrypt(out->msg.encrypted_nothing, NULL, 0, h, HASH_LEN, 0, key);
	mix_hash(h, out->msg.encrypted_nothing, sizeof(out->msg.encrypted_nothing));

	memcpy(out->remote_ephemeral, ini->remote_ephemeral, KEY_LEN);
	memcpy(out->chaining_key, ck, HASH_LEN);
	memcpy(out->hash, h, HASH_LEN);
	ret = NOISE_OK;
out:
	if (ret != NOISE_OK)
		wg_secure_wipe(out, sizeof(*out));
	wg_secure_wipe(ck, sizeof(ck));
	wg_secure_wipe(h, sizeof(h));
	wg_secure_wipe(key, sizeof(key));
	wg_secure_wipe(eph, sizeof(eph));
	return ret;
}

enum noise_result noise_response_commit(struct noise_handshake *hs,
					const struct noise_response *r, uint32_t local_index,
					struct msg_response *msg)
{
	if (hs->state != NOISE_CONSUMED_INITIATION ||
	    !wg_ct_equal(hs->remote_ephemeral, r->remote_ephemeral, KEY_LEN))
		return NOISE_ERR_STATE;
	*msg = r->msg;
	msg->sender_index = host_to_le32(local_index);
	msg->receiver_index = host_to_le32(hs->remote_index);
	memcpy(hs->chaining_key, r->chaining_key, HASH_LEN);
	memcpy(hs->hash, r->hash, HASH_LEN);
	wg_secure_wipe(hs->remote_ephemeral, KEY_LEN);
	hs->local_index = local_index;
	hs->state = NOISE_CREATED_RESPONSE;
	return NOISE_OK;
}

/* The initiation hs consumed, as the compute half's input. */
static void initiation_of(const struct noise_handshake *hs, struct noise_initiation *ini)
{
	memset(ini, 0, sizeof(*ini));
	memcpy(ini->remote_static, hs->remote_static, KEY_LEN);
	memcpy(ini->remote_ephemeral, hs->remote_ephemeral, KEY_LEN);
	memcpy(ini->hash, hs->hash, HASH_LEN);
	memcpy(ini->chaining_key, hs->chaining_key, HASH_LEN);
	memcpy(ini->preshared_key, hs->preshared_key, KEY_LEN);
	ini->remote_index = hs->remote_index;
}

enum noise_result noise_create_response_ephemeral(struct noise_handshake *hs,
						  const struct noise_local *local,
						  struct msg_response *msg, uint32_t local_index,
						  const uint8_t ephemeral_private[KEY_LEN])
{
	struct noise_initiation ini;
	struct noise_response r;
	enum noise_result ret = NOISE_ERR_STATE;

	memset(&ini, 0, sizeof(ini));
	memset(&r, 0, sizeof(r));
	if (hs->state != NOISE_CONSUMED_INITIATION)
		goto out;
	ret = NOISE_ERR_NO_IDENTITY;
	if (!local->has_identity)
		goto out;
	initiation_of(hs, &ini);
	ret = noise_response_compute(&ini, ephemeral_private, &r);
	if (ret == NOISE_OK)
		ret = noise_response_commit(hs, &r, local_index, msg);
out:
	wg_secure_wipe(&ini, sizeof(ini));
	wg_secure_wipe(&r, sizeof(r));
	return ret;
}

enum noise_result noise_consume_response(struct noise_handshake *hs,
					 const struct noise_local *local,
					 const struct msg_response *msg)
{
	uint8_t ck[HASH_LEN], h[HASH_LEN], key[KEY_LEN];
	enum noise_result ret = NOISE_ERR_STATE;

	if (hs->state != NOISE_CREATED_INITIATION ||
	    le32_to_host(msg->receiver_index) != hs->local_index)
		goto out;
	ret = NOISE_ERR_NO_IDENTITY;
	if (!local->has_identity)
		goto out;
	memcpy(ck, hs->chaining_key, HASH_LEN);
	memcpy(h, hs->hash, HASH_LEN);

	/* e */
	wg_kdf(ck, NULL, NULL, ck, msg->ephemeral, KEY_LEN);
	mix_hash(h, msg->ephemeral, KEY_LEN);

	/* ee, se, psk */
	ret = NOISE_ERR_LOW_ORDER;
	if (!mix_response_keys(ck, h, key, hs->ephemeral_private, msg->ephemeral,
			       local->private_key, msg->ephemeral, hs->preshared_key))
		goto out;

	/* {} */
	ret = NOISE_ERR_DECRYPT;
	if (!wg_aead_decrypt(NULL, msg->encrypted_nothing, sizeof(msg->encrypted_nothing),
			  h, HASH_LEN, 0, key))
		goto out;
	mix_hash(h, msg->encrypted_nothing, sizeof(msg->encrypted_nothing));

	/* Authenticated: commit. */
	memcpy(hs->chaining_key, ck, HASH_LEN);
	memcpy(hs->hash, h, HASH_LEN);
	memcpy(hs->remote_ephemeral, msg->ephemeral, KEY_LEN);
	wg_secure_wipe(hs->ephemeral_private, KEY_LEN);
	hs->remote_index = le32_to_host(msg->sender_index);
	hs->state = NOISE_CONSUMED_RESPONSE;
	ret = NOISE_OK;
out:
	wg_secure_wipe(ck, sizeof(ck));
	wg_secure_wipe(h, sizeof(h));
	wg_secure_wipe(key, sizeof(key));
	return ret;
}

enum noise_result noise_derive_keypair(struct noise_handshake *hs, struct keypair *kp,
				       uint64_t now_ns)
{
	bool initiator = hs->state == NOISE_CONSUMED_RESPONSE;

	if (!initiator && hs->state != NOISE_CREATED_RESPONSE)
		return NOISE_ERR_STATE;

	memset(kp, 0, sizeof(*kp));
	if (initiator)
		wg_kdf(kp->send_key, kp->recv_key, NULL, hs->chaining_key, NULL, 0);
	else
		wg_kdf(kp->recv_key, kp->send_key, NULL, hs->chaining_key, NULL, 0);
	replay_init(&kp->replay);
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	kp->birth_ns = now_ns;
	kp->is_initiator = initiator;
	kp->confirmed = initiator;	/* the responder waits for the ACK */
	kp->valid = true;
	noise_handshake_clear(hs);
	hs->local_index = 0;	/* the index now belongs to the keypair */
	return NOISE_OK;
}
