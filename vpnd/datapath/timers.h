/* WireGuard's per-peer timers, as pure state: hooks named after the events
 * that arm or stop them, and timers_expire() that says what the caller must
 * do when deadlines pass. No clock calls, no I/O: time and jitter are
 * arguments, so tests drive it with an injected clock. Times in ns
 * (monotonic); a deadline of 0 means the timer is not armed. */
#ifndef VPND_TIMERS_H
#define VPND_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

enum timer_id {
	TIMER_RETRANSMIT_HANDSHAKE,	/* no response to our SYN yet */
	TIMER_SEND_KEEPALIVE,		/* received data, sent nothing back */
	TIMER_NEW_HANDSHAKE,		/* sent data, heard nothing back */
	TIMER_ZERO_KEY_MATERIAL,	/* 3 x REJECT_AFTER_TIME without a handshake */
	TIMER_PERSISTENT_KEEPALIVE,	/* NAT keepalive */
	TIMER_COUNT,
};

/* What the caller must do after timers_expire(); a bit set. */
enum timer_action {
	TIMER_ACTION_NONE = 0,
	TIMER_ACTION_SEND_INITIATION = 1 << 0,	/* honour the REKEY_TIMEOUT rate limit */
	TIMER_ACTION_RETRY_INITIATION = 1 << 1,	/* a retransmission: send now */
	TIMER_ACTION_SEND_KEEPALIVE = 1 << 2,
	TIMER_ACTION_ZERO_KEYS = 1 << 3,	/* wipe keypairs and handshake */
	TIMER_ACTION_GIVE_UP = 1 << 4,		/* drop queued packets */
};

struct timers {
	uint64_t deadline[TIMER_COUNT];
	unsigned handshake_attempts;
	bool need_another_keepalive;
	bool keepalive_rearm_due;	/* set by an expiry, done by timers_actions_done */
	bool sent_lastminute_handshake;	/* until the next completed handshake */
	uint64_t last_sent_handshake;	/* initiation or response; 0 = never */
	uint16_t persistent_keepalive_interval;	/* seconds, 0 = off */
};

void timers_init(struct timers *t, uint16_t persistent_keepalive_interval);
void timers_stop_all(struct timers *t);
bool timers_pending(const struct timers *t, enum timer_id id);
/* Earliest armed deadline, 0 if none. */
uint64_t timers_next_deadline(const struct timers *t);

/* Event hooks. jitter_ns is a random 0..333 ms the caller draws. */
void timers_data_sent(struct timers *t, uint64_t now, uint64_t jitter_ns);
void timers_data_received(struct timers *t, uint64_t now);
void timers_any_authenticated_packet_sent(struct timers *t);
void timers_any_authenticated_packet_received(struct timers *t);
void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now);
void timers_handshake_initiated(struct timers *t, uint64_t now, uint64_t jitter_ns);
void timers_handshake_complete(struct timers *t);
void timers_session_derived(struct timers *t, uint64_t now);
/* A new (non-retry) initiation resets the retransmission count. */
void timers_handshake_attempts_reset(struct timers *t);

/* The kernel's wg_packet_send_queued_handshake_initiation: a new request
 * (not a retry) resets the retransmission count first, whatever follows;
 * then one handshake message (initiation or response) per REKEY_TIMEOUT.
 * True: the caller may send an initiation now. */
bool timers_initiation_allowed(struct timers *t, uint64_t now, bool is_retry);
/* A handshake message (initiation or response) left at now. */
void timers_handshake_sent(struct timers *t, uint64_t now);
/* Forget when the last handshake was sent: the next may leave at once
 * (the kernel's wg_noise_reset_last_sent_handshake). */
void timers_handshake_sent_reset(struct timers *t);
/* Receive side keep-key-fresh (the kernel's receive.c keep_key_fresh):
 * true once per completed handshake when the current keypair, ours as
 * initiator and still valid for sending, is born at least
 * REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT ago. */
bool timers_lastminute_handshake_due(struct timers *t, bool current_sendable_initiator,
				     uint64_t current_birth, uint64_t now);

/* Fires every timer whose deadline is <= now; returns the actions. */
unsigned timers_expire(struct timers *t, uint64_t now);
/* After the caller has carried out timers_expire's actions: re-arms what
 * must outlive them (the send-keepalive timer with need_another_keepalive:
 * the keepalive just sent would have disarmed it, as any packet sent does;
 * the kernel re-arms after wg_packet_send_keepalive). */
void timers_actions_done(struct timers *t, uint64_t now);

#endif
