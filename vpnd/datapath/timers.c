/* Per-peer timers (whitepaper section 6.5, and wireguard-go's behaviour). */
#include "vpnd/datapath/timers.h"

#include <string.h>

#include "handshake/wire.h"

void timers_init(struct timers *t, uint16_t persistent_keepalive_interval)
{
	memset(t, 0, sizeof(*t));
	t->persistent_keepalive_interval = persistent_keepalive_interval;
}

void timers_stop_all(struct timers *t)
{
	memset(t->deadline, 0, sizeof(t->deadline));
	t->need_another_keepalive = false;
	t->keepalive_rearm_due = false;
}

bool timers_pending(const struct timers *t, enum timer_id id)
{
	return t->deadline[id] != 0;
}

uint64_t timers_next_deadline(const struct timers *t)
{
	uint64_t next = 0;

	for (int i = 0; i < TIMER_COUNT; i++)
		if (t->deadline[i] && (!next || t->deadline[i] < next))
			next = t->deadline[i];
	return next;
}

static void arm(struct timers *t, enum timer_id id, uint64_t when)
{
	t->deadline[id] = when ? when : 1;	/* 0 means disarmed */
}

/* We sent data: expect an answer within KEEPALIVE + REKEY_TIMEOUT, else
 * the session is presumed dead and a new handshake starts. */
void timers_data_sent(struct timers *t, uint64_t now, uint64_t jitter_ns)
{
	if (!timers_pending(t, TIMER_NEW_HANDSHAKE))
		arm(t, TIMER_NEW_HANDSHAKE, now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter_ns);
}

/* We received data: if we send nothing back within KEEPALIVE_TIMEOUT, a
 * keepalive tells the sender we are alive (passive keepalive). */
void timers_data_received(struct timers *t, uint64_t now)
{
	if (!timers_pending(t, TIMER_SEND_KEEPALIVE))
		arm(t, TIMER_SEND_KEEPALIVE, now + KEEPALIVE_TIMEOUT);
	else
		t->need_another_keepalive = true;
}

/* Anything authenticated we send serves as a keepalive. */
void timers_any_authenticated_packet_sent(struct timers *t)
{
	t->deadline[TIMER_SEND_KEEPALIVE] = 0;
}

/* Anything authenticated we receive proves the session alive. */
void timers_any_authenticated_packet_received(struct timers *t)
{
	t->deadline[TIMER_NEW_HANDSHAKE] = 0;
}

void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now)
{
	if (t->persistent_keepalive_interval)
		arm(t, TIMER_PERSISTENT_KEEPALIVE,
		    now + (uint64_t)t->persistent_keepalive_interval * NSEC_PER_SEC);
}

void timers_handshake_initiated(struct timers *t, uint64_t now, uint64_t jitter_ns)
{
	arm(t, TIMER_RETRANSMIT_HANDSHAKE, now + REKEY_TIMEOUT + jitter_ns);
}

void timers_handshake_complete(struct timers *t)
{
	t->deadline[TIMER_RETRANSMIT_HANDSHAKE] = 0;
	t->handshake_attempts = 0;
	t->sent_lastminute_handshake = false;
}

void timers_session_derived(struct timers *t, uint64_t now)
{
	arm(t, TIMER_ZERO_KEY_MATERIAL, now + 3 * REJECT_AFTER_TIME);
}

void timers_handshake_attempts_reset(struct timers *t)
{
	t->handshake_attempts = 0;
}

bool timers_initiation_allowed(struct timers *t, uint64_t now, bool is_retry)
{
	if (!is_retry)
		t->handshake_attempts = 0;
	return !t->last_sent_handshake || now - t->last_sent_handshake >= REKEY_TIMEOUT;
}

void timers_handshake_sent(struct timers *t, uint64_t now)
{
	t->last_sent_handshake = now ? now : 1;	/* 0 means never */
}

void timers_handshake_sent_reset(struct timers *t)
{
	t->last_sent_handshake = 0;
}

bool timers_lastminute_handshake_due(struct timers *t, bool current_sendable_initiator,
				     uint64_t current_birth, uint64_t now)
{
	if (t->sent_lastminute_handshake || !current_sendable_initiator ||
	    now - current_birth < REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT)
		return false;
	t->sent_lastminute_handshake = true;
	return true;
}

static unsigned expire_retransmit(struct timers *t, uint64_t now)
{
	if (t->handshake_attempts > MAX_TIMER_HANDSHAKES) {
		/* REKEY_ATTEMPT_TIME spent: stop until new traffic asks again,
		 * and let the old keys die in due time. */
		t->deadline[TIMER_SEND_KEEPALIVE] = 0;
		if (!timers_pending(t, TIMER_ZERO_KEY_MATERIAL))
			arm(t, TIMER_ZERO_KEY_MATERIAL, now + 3 * REJECT_AFTER_TIME);
		return TIMER_ACTION_GIVE_UP;
	}
	t->handshake_attempts++;
	return TIMER_ACTION_RETRY_INITIATION;
}

static unsigned expire_send_keepalive(struct timers *t)
{
	if (t->need_another_keepalive) {
		t->need_another_keepalive = false;
		t->keepalive_rearm_due = true;	/* after the send: timers_actions_done */
	}
	return TIMER_ACTION_SEND_KEEPALIVE;
}

static unsigned expire_one(struct timers *t, enum timer_id id, uint64_t now)
{
	switch (id) {
	case TIMER_RETRANSMIT_HANDSHAKE:
		return expire_retransmit(t, now);
	case TIMER_SEND_KEEPALIVE:
		return expire_send_keepalive(t);
	case TIMER_NEW_HANDSHAKE:
		return TIMER_ACTION_SEND_INITIATION;
	case TIMER_ZERO_KEY_MATERIAL:
		return TIMER_ACTION_ZERO_KEYS;
	case TIMER_PERSISTENT_KEEPALIVE:
		return t->persistent_keepalive_interval ? TIMER_ACTION_SEND_KEEPALIVE : 0;
	case TIMER_COUNT:
		break;
	}
	return TIMER_ACTION_NONE;
}

unsigned timers_expire(struct timers *t, uint64_t now)
{
	unsigned actions = TIMER_ACTION_NONE;

	for (int i = 0; i < TIMER_COUNT; i++) {
		if (!t->deadline[i] || t->deadline[i] > now)
			continue;
		t->deadline[i] = 0;	/* disarm first: expiry may re-arm it */
		actions |= expire_one(t, (enum timer_id)i, now);
	}
	return actions;
}

void timers_actions_done(struct timers *t, uint64_t now)
{
	if (t->keepalive_rearm_due) {
		t->keepalive_rearm_due = false;
		arm(t, TIMER_SEND_KEEPALIVE, now + KEEPALIVE_TIMEOUT);
	}
}
