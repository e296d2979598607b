/*
 * reqstate.h - the state machine of one libbaton lock request (private).
 *
 * Pure: no I/O, no clock (now is passed in, monotonic milliseconds), no
 * allocation, no locking. The client feeds it the answers that belong to the
 * lock and the passing of time, and acts on the effects it returns.
 */
#ifndef BATON_REQSTATE_H
#define BATON_REQSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "baton.h"
#include "wire.h"

/* Which of a lock's requests an answer id belongs to. */
typedef enum req_kind {
	REQ_K_NONE = 0,
	REQ_K_ACQUIRE,
	REQ_K_RENEW,
	REQ_K_RELEASE,
	REQ_K_CANCEL,
	REQ_K_RESET
} req_kind;

/* Effects of a step, or'ed together. */
enum {
	REQ_FX_SETTLED = 1u << 0,  /* the acquire got its final answer: wake waiters, call on_answer */
	REQ_FX_LOST = 1u << 1,     /* the holding was lost just now: call on_lost */
	REQ_FX_RENEW = 1u << 2,    /* send (or re-send) the renew numbered renew_seq */
	REQ_FX_FINISHED = 1u << 3, /* release, cancel or reset answered: wake waiters */
	REQ_FX_CHANGED = 1u << 4,  /* something a progress display shows changed */
	REQ_FX_DROP = 1u << 5,     /* give the holding drop_token back at once (a failed release) */
	REQ_FX_RESTART = 1u << 6   /* the acquire was answered `revoked`: that request is over */
};

typedef struct reqstate {
	baton_phase phase;
	bool settled;             /* the acquire has its final answer */
	bool lost;                /* the holding was lost */
	baton_err lost_err;       /* why (see baton_lost_cb) */
	baton_reason lost_reason; /* BATON_E_LOST: the revocation's reason */
	baton_err finish_err;     /* release/cancel/reset: how it was answered */
	int64_t created_ms;
	bool sent;             /* the acquire was published at least once */
	int64_t first_sent_ms; /* its first publish */
	uint32_t position;
	char holder[NAMES_NODE_MAX + 1];
	uint64_t token;
	uint32_t lease_ms;     /* the lease granted (or renewed) */
	int64_t will_ms;       /* 1.5 keepalives: the broker fires our Will no sooner; 0: unknown */
	bool confirmed;        /* GRANTED: the deadline rests on a request the coordinator answered */
	int64_t deadline_ms;   /* GRANTED: valid until this instant by our clock (margin included) */
	int64_t renew_at_ms;   /* GRANTED: next renew (or re-send) due */
	bool renew_pending;    /* renew renew_seq sent, not yet answered */
	unsigned renew_seq;    /* number of the current renew request */
	int64_t renew_sent_ms; /* first send of renew renew_seq */
	uint64_t drop_token;   /* a holding we gave up and must give back, 0: none */
	uint64_t held_token;   /* a holding lost with the connection, given back when the user lets go */
} reqstate;

/* The drift margin: our clock may run up to 1% slower than the
 * coordinator's or the broker's, plus 100 ms of scheduling. */
#define REQ_DRIFT_MS(span) ((span) / 100 + 100)

/* How long after the send of an answered request a holding stays valid by
 * our clock: the lease, or 1.5 keepalives (will_ms) if shorter, less the
 * drift margin. Renewals go out every quarter of it. Cannot fail. */
int64_t bt_reqstate_window(uint32_t lease_ms, int64_t will_ms);

/* Starts an acquire (phase SENT) or, with reset set, a reset (RESETTING),
 * created at now. Cannot fail. */
void bt_reqstate_init(reqstate *rs, bool reset, int64_t now);

/* Records that the acquire was published at now (the first time counts). */
void bt_reqstate_sent(reqstate *rs, int64_t now);

/* Applies an answer to the request kind of this lock; renew answers must
 * carry seq == renew_seq or they are stale and ignored. Returns effects. */
unsigned bt_reqstate_answer(reqstate *rs, req_kind kind, unsigned seq, const wire_answer *a, int64_t now);

/* The connection to the broker was lost. A held lock counts as lost at once
 * (the broker is about to publish our Will, after which the coordinator
 * hands the lock on, while we could not even hear a revocation). Its
 * holding is given back (held_token) only when the user lets go of the
 * lock: its command may still be stopping, and a release now would hand
 * the lock on before it is gone. */
unsigned bt_reqstate_disconnected(reqstate *rs);

/* Applies the passing of time: loses a holding whose deadline passed and asks
 * for renewals when due. Returns effects. */
unsigned bt_reqstate_tick(reqstate *rs, int64_t now);

/* The next instant bt_reqstate_tick has something to do, or INT64_MAX. */
int64_t bt_reqstate_next_tick(const reqstate *rs);

/* The acquire was answered `revoked` and cannot be asked again under its id:
 * settles it as lost. Returns effects. */
unsigned bt_reqstate_revoked_final(reqstate *rs);

/* Moves a held lock to RELEASING. BATON_E_LOST if it was lost,
 * BATON_E_INVAL if it is not held. */
baton_err bt_reqstate_release(reqstate *rs);

/* Moves a waiting lock to CANCELLING. BATON_E_INVAL if it is not waiting. */
baton_err bt_reqstate_cancel(reqstate *rs);

/* True iff request kind of this lock is sent and unanswered, so it must be
 * re-sent after a reconnect or a coordinator restart. */
bool bt_reqstate_outstanding(const reqstate *rs, req_kind kind);

/* True iff the phase is final (nothing more will happen). */
bool bt_reqstate_final(const reqstate *rs);

/* Request ids: "<base>.a", "<base>.w<seq>", "<base>.r", "<base>.c", "<base>.x".
 * bt_reqstate_id writes the id of kind into buf (cap >= NAMES_ID_MAX + 1);
 * BATON_E_INVAL if it does not fit. bt_reqstate_id_parse tells which kind of
 * request of the lock whose id is base an answer id belongs to (REQ_K_NONE:
 * not this lock's), and its renew number in *seq. */
baton_err bt_reqstate_id(char *buf, size_t cap, const char *base, req_kind kind, unsigned seq);
req_kind bt_reqstate_id_parse(const char *id, const char *base, unsigned *seq);

#endif
