/* Unit tests for vpnd/datapath/timers.c: WireGuard's per-peer timers driven by an
 * injected clock (every hook takes "now" and the jitter as arguments).
 *
 *  - numbered table cases: scripted scenarios of (event, time, expected
 *    actions / next deadline / pending timers), each step numbered in
 *    failure messages;
 *  - the handshake retransmission loop up to MAX_TIMER_HANDSHAKES and the
 *    give-up that follows;
 *  - the jitter source the send path draws from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "handshake/wire.h"
#include "vpnd/datapath/timers.h"

#define S(x)  ((uint64_t)(x) * NSEC_PER_SEC)
#define MS(x) ((uint64_t)(x) * MSEC_NS)

/* ---- numbered table cases ---- */

enum op {
	OP_END,
	OP_DATA_SENT,		/* at, jitter */
	OP_DATA_RECEIVED,	/* at */
	OP_AUTH_SENT,		/* any authenticated packet sent */
	OP_AUTH_RECEIVED,	/* any authenticated packet received */
	OP_TRAVERSAL,		/* at */
	OP_HS_INITIATED,	/* at, jitter */
	OP_HS_COMPLETE,
	OP_SESSION_DERIVED,	/* at */
	OP_ATTEMPTS_RESET,
	OP_STOP_ALL,
	OP_EXPIRE,		/* at; want = the actions */
	OP_NEXT,		/* want = timers_next_deadline() */
	OP_PENDING,		/* timer, want = 0 or 1 */
	OP_ATTEMPTS,		/* want = handshake_attempts */
	OP_DONE,		/* at: timers_actions_done (the caller acted) */
	OP_HS_SENT,		/* at: a handshake message left */
	OP_HS_SENT_RESET,
	OP_ALLOWED,		/* at, timer = is_retry; want = may initiate */
	OP_LASTMINUTE,		/* at, jitter = birth, timer = sendable initiator; want */
};

struct step {
	enum op op;
	uint64_t at;		/* ns on the injected clock */
	uint64_t jitter;	/* ns */
	int timer;
	uint64_t want;
};

#define DSENT(t, j)	{ OP_DATA_SENT, t, j, 0, 0 }
#define DRECV(t)	{ OP_DATA_RECEIVED, t, 0, 0, 0 }
#define ASENT()		{ OP_AUTH_SENT, 0, 0, 0, 0 }
#define ARECV()		{ OP_AUTH_RECEIVED, 0, 0, 0, 0 }
#define TRAV(t)		{ OP_TRAVERSAL, t, 0, 0, 0 }
#define HSINIT(t, j)	{ OP_HS_INITIATED, t, j, 0, 0 }
#define HSDONE()	{ OP_HS_COMPLETE, 0, 0, 0, 0 }
#define DERIVED(t)	{ OP_SESSION_DERIVED, t, 0, 0, 0 }
#define RESET()		{ OP_ATTEMPTS_RESET, 0, 0, 0, 0 }
#define STOP()		{ OP_STOP_ALL, 0, 0, 0, 0 }
#define EXPIRE(t, a)	{ OP_EXPIRE, t, 0, 0, a }
#define NEXT(d)		{ OP_NEXT, 0, 0, 0, d }
#define PEND(id, yes)	{ OP_PENDING, 0, 0, id, yes }
#define ATTEMPTS(n)	{ OP_ATTEMPTS, 0, 0, 0, n }
#define DONE(t)		{ OP_DONE, t, 0, 0, 0 }
#define HSSENT(t)	{ OP_HS_SENT, t, 0, 0, 0 }
#define HSRESET()	{ OP_HS_SENT_RESET, 0, 0, 0, 0 }
#define ALLOWED(t, retry, yes)	{ OP_ALLOWED, t, 0, retry, yes }
#define LASTMIN(t, birth, ok, yes)	{ OP_LASTMINUTE, t, birth, ok, yes }

/* Short names for the expected actions. */
#define NONE	TIMER_ACTION_NONE
#define INIT	TIMER_ACTION_SEND_INITIATION
#define RETRY	TIMER_ACTION_RETRY_INITIATION
#define KA	TIMER_ACTION_SEND_KEEPALIVE
#define ZERO	TIMER_ACTION_ZERO_KEYS
#define GIVEUP	TIMER_ACTION_GIVE_UP

#define T_RETX	TIMER_RETRANSMIT_HANDSHAKE
#define T_KA	TIMER_SEND_KEEPALIVE
#define T_NEWHS	TIMER_NEW_HANDSHAKE
#define T_ZERO	TIMER_ZERO_KEY_MATERIAL
#define T_PKA	TIMER_PERSISTENT_KEEPALIVE

#define MAX_STEPS 24

struct table_case {
	const char *name;
	uint16_t persistent_keepalive;	/* seconds, 0 = off */
	struct step steps[MAX_STEPS];	/* ends at the first OP_END */
};

static const struct table_case cases[] = {
	/* Sent data, heard nothing: KEEPALIVE_TIMEOUT + REKEY_TIMEOUT. */
	{ "01 data sent, nothing received: initiation after 15 s", 0, {
		NEXT(0), DSENT(0, 0), PEND(T_NEWHS, 1), NEXT(S(15)),
		EXPIRE(S(15) - 1, NONE), NEXT(S(15)), EXPIRE(S(15), INIT),
		PEND(T_NEWHS, 0), NEXT(0), EXPIRE(S(100), NONE),
	} },
	{ "02 data sent with the largest jitter (333 ms)", 0, {
		DSENT(S(1), MS(333)), NEXT(S(16) + MS(333)),
		EXPIRE(S(16) + MS(333) - 1, NONE), EXPIRE(S(16) + MS(333), INIT), NEXT(0),
	} },
	{ "03 more data sent does not push the deadline back", 0, {
		DSENT(0, 0), DSENT(S(5), MS(200)), DSENT(S(14), 0), NEXT(S(15)),
		EXPIRE(S(15), INIT), NEXT(0),
	} },
	{ "04 any authenticated packet received cancels the new handshake", 0, {
		DSENT(0, 0), ARECV(), PEND(T_NEWHS, 0), NEXT(0),
		EXPIRE(S(15), NONE), EXPIRE(S(60), NONE),
	} },
	{ "05 received just before the deadline, then sent again: re-armed", 0, {
		DSENT(0, 0), EXPIRE(S(15) - 1, NONE), ARECV(), NEXT(0),
		DSENT(S(16), MS(10)), NEXT(S(31) + MS(10)), EXPIRE(S(31), NONE),
		EXPIRE(S(31) + MS(10), INIT),
	} },
	/* Received data, sent nothing: passive keepalive. */
	{ "06 data received, nothing sent: keepalive after 10 s", 0, {
		DRECV(0), PEND(T_KA, 1), NEXT(S(10)), EXPIRE(S(10) - 1, NONE),
		EXPIRE(S(10), KA), PEND(T_KA, 0), NEXT(0), EXPIRE(S(20), NONE),
	} },
	{ "07 any authenticated packet sent cancels the keepalive", 0, {
		DRECV(0), ASENT(), PEND(T_KA, 0), NEXT(0), EXPIRE(S(10), NONE),
		EXPIRE(S(60), NONE),
	} },
	{ "08 data received while the keepalive is armed: one more keepalive", 0, {
		DRECV(0), DRECV(S(4)), NEXT(S(10)), EXPIRE(S(10), KA), DONE(S(10)), PEND(T_KA, 1),
		NEXT(S(20)), EXPIRE(S(20) - 1, NONE), EXPIRE(S(20), KA), NEXT(0),
		EXPIRE(S(40), NONE),
	} },
	{ "09 need_another_keepalive re-arms once however much arrives", 0, {
		DRECV(0), DRECV(S(1)), DRECV(S(2)), DRECV(S(3)), NEXT(S(10)),
		EXPIRE(S(10), KA), DONE(S(10)), NEXT(S(20)), EXPIRE(S(20), KA), DONE(S(20)),
		NEXT(0), EXPIRE(S(30), NONE),
	} },
	{ "10 data received after the keepalive fired arms a fresh one", 0, {
		DRECV(0), EXPIRE(S(10), KA), DRECV(S(12)), NEXT(S(22)),
		EXPIRE(S(22), KA), NEXT(0),
	} },
	/* Handshake retransmission. */
	{ "11 handshake initiated: retransmit after REKEY_TIMEOUT + jitter", 0, {
		HSINIT(0, MS(333)), PEND(T_RETX, 1), NEXT(S(5) + MS(333)),
		EXPIRE(S(5) + MS(333) - 1, NONE), ATTEMPTS(0),
		EXPIRE(S(5) + MS(333), RETRY), ATTEMPTS(1), PEND(T_RETX, 0), NEXT(0),
		/* the caller's retransmission arms the next round */
		HSINIT(S(5) + MS(333), 0), NEXT(S(10) + MS(333)),
		EXPIRE(S(10) + MS(333), RETRY), ATTEMPTS(2),
	} },
	{ "12 handshake initiated with no jitter: exactly REKEY_TIMEOUT", 0, {
		HSINIT(S(7), 0), NEXT(S(12)), EXPIRE(S(12) - 1, NONE), EXPIRE(S(12), RETRY),
	} },
	{ "13 handshake complete stops retransmission, resets attempts", 0, {
		HSINIT(0, 0), EXPIRE(S(5), RETRY), HSINIT(S(5), MS(100)),
		EXPIRE(S(10) + MS(100), RETRY), ATTEMPTS(2), HSINIT(S(10) + MS(100), 0),
		HSDONE(), ATTEMPTS(0), PEND(T_RETX, 0), NEXT(0), EXPIRE(S(16), NONE),
		EXPIRE(S(100), NONE),
	} },
	{ "14 a new (non-retry) initiation resets the attempts", 0, {
		HSINIT(0, 0), EXPIRE(S(5), RETRY), HSINIT(S(5), 0), EXPIRE(S(10), RETRY),
		ATTEMPTS(2), RESET(), ATTEMPTS(0), HSINIT(S(10), 0), NEXT(S(15)),
		EXPIRE(S(15), RETRY), ATTEMPTS(1),
	} },
	/* Key zeroing. */
	{ "15 session derived: keys zeroed after 3 x REJECT_AFTER_TIME", 0, {
		DERIVED(0), PEND(T_ZERO, 1), NEXT(S(540)), EXPIRE(S(540) - 1, NONE),
		EXPIRE(S(540), ZERO), PEND(T_ZERO, 0), NEXT(0), EXPIRE(S(2000), NONE),
	} },
	{ "16 a newer session pushes the zeroing back", 0, {
		DERIVED(0), DERIVED(S(120)), NEXT(S(660)), EXPIRE(S(540), NONE),
		EXPIRE(S(660), ZERO), NEXT(0),
	} },
	{ "17 handshake complete leaves the zero-key timer alone", 0, {
		DERIVED(S(1)), HSINIT(S(2), 0), HSDONE(), NEXT(S(541)), EXPIRE(S(541), ZERO),
	} },
	/* Persistent keepalive. */
	{ "18 persistent keepalive every 25 s of silence", 25, {
		TRAV(0), PEND(T_PKA, 1), NEXT(S(25)), TRAV(S(10)), NEXT(S(35)),
		EXPIRE(S(35) - 1, NONE), EXPIRE(S(35), KA), PEND(T_PKA, 0), NEXT(0),
		/* the keepalive the caller sends is itself a traversal */
		TRAV(S(35)), NEXT(S(60)), EXPIRE(S(60), KA),
	} },
	{ "19 persistent keepalive off when the interval is 0", 0, {
		TRAV(0), PEND(T_PKA, 0), NEXT(0), TRAV(S(30)), NEXT(0),
		EXPIRE(S(1000), NONE),
	} },
	{ "20 persistent keepalive with the largest interval (65535 s)", 65535, {
		TRAV(S(1)), NEXT(S(65536)), EXPIRE(S(65536) - 1, NONE),
		EXPIRE(S(65536), KA),
	} },
	/* timers_next_deadline and several timers at once. */
	{ "21 next deadline is the earliest armed one", 25, {
		DERIVED(0), NEXT(S(540)), DRECV(S(1)), NEXT(S(11)), DSENT(S(2), 0),
		NEXT(S(11)), HSINIT(S(3), MS(50)), NEXT(S(8) + MS(50)), TRAV(S(4)),
		NEXT(S(8) + MS(50)),
		EXPIRE(S(8) + MS(50), RETRY), NEXT(S(11)),
		EXPIRE(S(11), KA), NEXT(S(17)),
		EXPIRE(S(17), INIT), NEXT(S(29)),
		EXPIRE(S(29), KA), NEXT(S(540)),
		EXPIRE(S(540), ZERO), NEXT(0),
	} },
	{ "22 timers due together fire together", 25, {
		DRECV(0), DSENT(0, 0), HSINIT(0, 0), DERIVED(0), TRAV(0),
		EXPIRE(S(4), NONE), EXPIRE(S(600), RETRY | KA | INIT | ZERO), NEXT(0),
		EXPIRE(S(601), NONE),
	} },
	{ "23 stop_all disarms everything and forgets need_another_keepalive", 25, {
		DRECV(0), DRECV(S(1)), DSENT(0, 0), HSINIT(0, 0), DERIVED(0), TRAV(0),
		STOP(), NEXT(0), PEND(T_RETX, 0), PEND(T_KA, 0), PEND(T_NEWHS, 0),
		PEND(T_ZERO, 0), PEND(T_PKA, 0), EXPIRE(S(1000), NONE),
		DRECV(S(1000)), EXPIRE(S(1010), KA), NEXT(0),
	} },
	/* Issue 12 point 2: as the kernel does. */
	{ "26 the keepalive just sent does not cancel the one more keepalive", 0, {
		/* wg_expired_send_keepalive: send, then re-arm */
		DRECV(0), DRECV(S(4)), EXPIRE(S(10), KA), ASENT(), DONE(S(10)),
		PEND(T_KA, 1), NEXT(S(20)), EXPIRE(S(20), KA), ASENT(), DONE(S(20)),
		PEND(T_KA, 0), NEXT(0),
	} },
	{ "27 a response counts as a sent handshake for REKEY_TIMEOUT", 0, {
		ALLOWED(0, 0, 1), HSSENT(S(1)), ALLOWED(S(1), 0, 0),
		ALLOWED(S(6) - 1, 0, 0), ALLOWED(S(6), 0, 1),
	} },
	{ "28 the rate limit applies to retries too", 0, {
		HSSENT(S(1)), ALLOWED(S(3), 1, 0), ALLOWED(S(6), 1, 1),
	} },
	{ "29 a new request resets the attempts even when rate limited", 0, {
		HSINIT(0, 0), HSSENT(0), EXPIRE(S(5), RETRY), HSINIT(S(5), 0), HSSENT(S(5)),
		ATTEMPTS(1), ALLOWED(S(7), 1, 0), ATTEMPTS(1), ALLOWED(S(7), 0, 0),
		ATTEMPTS(0),
	} },
	{ "30 a reset last-sent time lets a handshake leave at once", 0, {
		HSSENT(S(100)), ALLOWED(S(101), 0, 0), HSRESET(), ALLOWED(S(101), 0, 1),
	} },
	{ "31 last-minute handshake once per completed handshake", 0, {
		/* 180 - 10 - 5 = 165 s after the current keypair's birth */
		LASTMIN(S(164), 0, 1, 0), LASTMIN(S(165), 0, 1, 1), LASTMIN(S(166), 0, 1, 0),
		/* deriving a new session (as responder) does not reset it */
		DERIVED(S(167)), LASTMIN(S(168), 0, 1, 0),
		HSDONE(), LASTMIN(S(169), 0, 1, 1),
	} },
	{ "32 no last-minute handshake without a sendable initiator keypair", 0, {
		LASTMIN(S(200), 0, 0, 0), LASTMIN(S(200), 0, 1, 1),
	} },
	/* 0 means "not armed": no armed timer may ever hold it. */
	{ "24 timers armed at time 0 are pending, never 0", 25, {
		NEXT(0), PEND(T_KA, 0), EXPIRE(0, NONE),
		DRECV(0), PEND(T_KA, 1), NEXT(S(10)), EXPIRE(0, NONE), PEND(T_KA, 1),
		HSINIT(0, 0), NEXT(S(5)), DSENT(0, 0), DERIVED(0), TRAV(0),
		PEND(T_RETX, 1), PEND(T_NEWHS, 1), PEND(T_ZERO, 1), PEND(T_PKA, 1),
		EXPIRE(0, NONE), NEXT(S(5)),
	} },
	{ "25 a deadline that would compute to 0 is still armed", 0, {
		/* now + KEEPALIVE_TIMEOUT wraps to exactly 0 */
		DRECV((uint64_t)0 - S(10)), PEND(T_KA, 1), NEXT(1), EXPIRE(1, KA), NEXT(0),
		DSENT((uint64_t)0 - S(15), 0), PEND(T_NEWHS, 1),
		HSINIT((uint64_t)0 - S(5), 0), PEND(T_RETX, 1),
		DERIVED((uint64_t)0 - S(540)), PEND(T_ZERO, 1),
	} },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void action_names(char *buf, size_t len, uint64_t a)
{
	static const char *const names[] = { "SEND_INITIATION", "RETRY_INITIATION",
					     "SEND_KEEPALIVE", "ZERO_KEYS", "GIVE_UP" };
	size_t used = 0;

	buf[0] = '\0';
	if (!a)
		snprintf(buf, len, "NONE");
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (a & (1u << i) && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 used ? "|" : "", names[i]);
}

static void run_step(struct timers *t, const struct step *s, const char *where)
{
	char got[128], want[128];
	uint64_t v;

	switch (s->op) {
	case OP_DATA_SENT:
		timers_data_sent(t, s->at, s->jitter);
		break;
	case OP_DATA_RECEIVED:
		timers_data_received(t, s->at);
		break;
	case OP_AUTH_SENT:
		timers_any_authenticated_packet_sent(t);
		break;
	case OP_AUTH_RECEIVED:
		timers_any_authenticated_packet_received(t);
		break;
	case OP_TRAVERSAL:
		timers_any_authenticated_packet_traversal(t, s->at);
		break;
	case OP_HS_INITIATED:
		timers_handshake_initiated(t, s->at, s->jitter);
		break;
	case OP_HS_COMPLETE:
		timers_handshake_complete(t);
		break;
	case OP_SESSION_DERIVED:
		timers_session_derived(t, s->at);
		break;
	case OP_ATTEMPTS_RESET:
		timers_handshake_attempts_reset(t);
		break;
	case OP_STOP_ALL:
		timers_stop_all(t);
		break;
	case OP_EXPIRE:
		v = timers_expire(t, s->at);
		if (v != s->want) {
			action_names(got, sizeof(got), v);
			action_names(want, sizeof(want), s->want);
			fail_msg("%s: expire at %llu ns gave %s, want %s", where,
				 (unsigned long long)s->at, got, want);
		}
		break;
	case OP_NEXT:
		v = timers_next_deadline(t);
		if (v != s->want)
			fail_msg("%s: next deadline %llu ns, want %llu ns", where,
				 (unsigned long long)v, (unsigned long long)s->want);
		break;
	case OP_PENDING:
		if (timers_pending(t, (enum timer_id)s->timer) != (s->want != 0))
			fail_msg("%s: timer %d pending is %d, want %d", where, s->timer,
				 timers_pending(t, (enum timer_id)s->timer), (int)s->want);
		break;
	case OP_ATTEMPTS:
		if (t->handshake_attempts != s->want)
			fail_msg("%s: %u handshake attempts, want %llu", where,
				 t->handshake_attempts, (unsigned long long)s->want);
		break;
	case OP_DONE:
		timers_actions_done(t, s->at);
		break;
	case OP_HS_SENT:
		timers_handshake_sent(t, s->at);
		break;
	case OP_HS_SENT_RESET:
		timers_handshake_sent_reset(t);
		break;
	case OP_ALLOWED:
		v = timers_initiation_allowed(t, s->at, s->timer != 0);
		if (v != s->want)
			fail_msg("%s: initiation allowed %d, want %d", where, (int)v, (int)s->want);
		break;
	case OP_LASTMINUTE:
		v = timers_lastminute_handshake_due(t, s->timer != 0, s->jitter, s->at);
		if (v != s->want)
			fail_msg("%s: last-minute handshake %d, want %d", where, (int)v,
				 (int)s->want);
		break;
	case OP_END:
		break;
	}
	/* Whatever happened, an armed timer never holds 0 and the earliest
	 * deadline is one of the armed ones. */
	v = timers_next_deadline(t);
	for (int i = 0; i < TIMER_COUNT; i++) {
		assert_int_equal(timers_pending(t, (enum timer_id)i), t->deadline[i] != 0);
		if (t->deadline[i] && t->deadline[i] < v)
			fail_msg("%s: timer %d due at %llu, before the next deadline %llu", where,
				 i, (unsigned long long)t->deadline[i], (unsigned long long)v);
	}
}

static void run_case(void **state)
{
	const struct table_case *c = *state;
	struct timers t;
	char where[160];

	timers_init(&t, c->persistent_keepalive);
	assert_int_equal(t.persistent_keepalive_interval, c->persistent_keepalive);
	for (int i = 0; i < MAX_STEPS && c->steps[i].op != OP_END; i++) {
		snprintf(where, sizeof(where), "%s, step %d", c->name, i + 1);
		run_step(&t, &c->steps[i], where);
	}
}

/* ---- retransmission until MAX_TIMER_HANDSHAKES, then give up ---- */

/* Drives the retransmit loop as the send path does: on each RETRY the
 * caller sends again and re-arms with a fresh jitter. Returns the time of
 * the expiry that gave up. */
static uint64_t retransmit_until_give_up(struct timers *t, uint64_t start, bool keepalive_armed)
{
	uint64_t now = start, jitter;
	unsigned actions;

	timers_handshake_attempts_reset(t);
	timers_handshake_initiated(t, now, MS(333));
	for (unsigned i = 1; i <= MAX_TIMER_HANDSHAKES + 1; i++) {
		now = t->deadline[TIMER_RETRANSMIT_HANDSHAKE];
		assert_true(now > start);
		assert_int_equal(timers_expire(t, now - 1), TIMER_ACTION_NONE);
		actions = timers_expire(t, now);
		assert_int_equal(actions, TIMER_ACTION_RETRY_INITIATION);
		assert_int_equal(t->handshake_attempts, i);
		assert_false(timers_pending(t, TIMER_RETRANSMIT_HANDSHAKE));
		jitter = MS((i * 97) % REKEY_TIMEOUT_JITTER_MS);	/* 0..333 ms */
		timers_handshake_initiated(t, now, jitter);
		assert_int_equal(t->deadline[TIMER_RETRANSMIT_HANDSHAKE],
				 now + REKEY_TIMEOUT + jitter);
	}
	/* Data arrives during the last round: its keepalive (due after the
	 * give-up) must not outlive the give-up. */
	if (keepalive_armed)
		timers_data_received(t, now);
	now = t->deadline[TIMER_RETRANSMIT_HANDSHAKE];
	/* REKEY_ATTEMPT_TIME of retries lies behind us (1 + 19 tries, as the
	 * kernel and wireguard-go do). */
	assert_true(now - start >= REKEY_ATTEMPT_TIME + REKEY_TIMEOUT);
	if (keepalive_armed)
		assert_true(timers_pending(t, TIMER_SEND_KEEPALIVE));
	assert_int_equal(timers_expire(t, now - 1), TIMER_ACTION_NONE);
	assert_int_equal(timers_expire(t, now), TIMER_ACTION_GIVE_UP);
	assert_int_equal(t->handshake_attempts, MAX_TIMER_HANDSHAKES + 1);
	assert_false(timers_pending(t, TIMER_RETRANSMIT_HANDSHAKE));
	assert_false(timers_pending(t, TIMER_SEND_KEEPALIVE));	/* give-up cancels it */
	assert_true(timers_pending(t, TIMER_ZERO_KEY_MATERIAL));
	return now;
}

static void test_give_up(void **state)
{
	struct timers t;
	uint64_t start = S(1000), gave_up;

	(void)state;
	assert_int_equal(MAX_TIMER_HANDSHAKES, 18);
	timers_init(&t, 0);
	gave_up = retransmit_until_give_up(&t, start, true);
	/* No session before: the zero-key timer starts at the give-up. */
	assert_int_equal(t.deadline[TIMER_ZERO_KEY_MATERIAL], gave_up + 3 * REJECT_AFTER_TIME);
	assert_int_equal(timers_next_deadline(&t), gave_up + 3 * REJECT_AFTER_TIME);
	assert_int_equal(timers_expire(&t, gave_up + 3 * REJECT_AFTER_TIME - 1), TIMER_ACTION_NONE);
	assert_int_equal(timers_expire(&t, gave_up + 3 * REJECT_AFTER_TIME),
			 TIMER_ACTION_ZERO_KEYS);
	assert_int_equal(timers_next_deadline(&t), 0);

	/* New traffic asks again: a fresh initiation retries afresh. */
	timers_handshake_attempts_reset(&t);
	assert_int_equal(t.handshake_attempts, 0);
	timers_handshake_initiated(&t, S(5000), 0);
	assert_int_equal(timers_expire(&t, S(5005)), TIMER_ACTION_RETRY_INITIATION);
	assert_int_equal(t.handshake_attempts, 1);
}

static void test_give_up_keeps_zero_key_deadline(void **state)
{
	struct timers t;
	uint64_t start = S(1000);

	(void)state;
	timers_init(&t, 0);
	timers_session_derived(&t, start - S(10));
	retransmit_until_give_up(&t, start, false);
	/* Already armed by the last session: left where it was. */
	assert_int_equal(t.deadline[TIMER_ZERO_KEY_MATERIAL],
			 start - S(10) + 3 * REJECT_AFTER_TIME);
}

static void test_give_up_then_complete(void **state)
{
	struct timers t;
	uint64_t now = S(50);

	(void)state;
	timers_init(&t, 0);
	retransmit_until_give_up(&t, now, false);
	/* A late response completes the handshake after all. */
	timers_handshake_complete(&t);
	assert_int_equal(t.handshake_attempts, 0);
	timers_session_derived(&t, S(200));
	assert_int_equal(t.deadline[TIMER_ZERO_KEY_MATERIAL], S(200) + 3 * REJECT_AFTER_TIME);
}

/* ---- the jitter the send path draws: wg_random_uniform(334) ms ---- */

static void test_jitter_range(void **state)
{
	bool seen_low = false, seen_high = false;

	(void)state;
	assert_true(wg_crypto_init());
	assert_int_equal(REKEY_TIMEOUT_JITTER_MS, 334);
	for (int i = 0; i < 200000; i++) {
		uint64_t j = MS(wg_random_uniform(REKEY_TIMEOUT_JITTER_MS));

		assert_true(j <= MS(333));
		seen_low |= j == 0;
		seen_high |= j == MS(333);
	}
	/* each is missed with probability (333/334)^200000, about e^-598 */
	assert_true(seen_low);
	assert_true(seen_high);
}

int main(void)
{
	struct CMUnitTest tests[N_CASES + 4];
	size_t n = 0;

	for (size_t i = 0; i < N_CASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_give_up);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_give_up_keeps_zero_key_deadline);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_give_up_then_complete);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_jitter_range);
	return _cmocka_run_group_tests("timers", tests, n, NULL, NULL);
}
