/*
 * reqstate.c - the per-request state machine of libbaton.
 *
 * Owns the rules of one lock's life on the agent side: which answer moves it
 * where, when the lease ends by our own clock, when to renew. Never does
 * I/O, never reads a clock, never allocates, never locks: client.c holds the
 * client mutex around every call and performs the effects.
 *
 * Lease invariant: deadline_ms is never later than the coordinator's own
 * deadline, as long as our clock runs no slower than its. An immediate grant
 * is counted from the first send of the acquire (the coordinator granted it
 * after that). A grant arriving after a long wait was made one delivery
 * delay before its arrival, which we cannot see: it is counted from its
 * arrival less a safety margin (a tenth of the lease, at least 100 ms,
 * GRANT_MARGIN) and renewed at once; it counts as settled (usable) only
 * when that renewal is answered. A renewal answered `renewed` moves the
 * deadline to its send time plus the window.
 *
 * No-contact invariant: the broker fires our Will (and the coordinator
 * hands the lock on) no sooner than 1.5 keepalives after the last packet it
 * got from us. An answered request proves the broker got a packet from us
 * after we sent it, so a holding is valid until the send of the last
 * answered request plus the shorter of the lease and 1.5 keepalives, less
 * the drift margin (reqstate_window). A holding not renewed by then is lost.
 */
#include "reqstate.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static void copy_holder(reqstate *rs, const char *holder)
{
	if (holder == NULL) {
		rs->holder[0] = '\0';
		return;
	}
	snprintf(rs->holder, sizeof rs->holder, "%s", holder);
}

void bt_reqstate_init(reqstate *rs, bool reset, int64_t now)
{
	memset(rs, 0, sizeof *rs);
	rs->phase = reset ? BATON_PHASE_RESETTING : BATON_PHASE_SENT;
	rs->created_ms = now;
}

void bt_reqstate_sent(reqstate *rs, int64_t now)
{
	if (!rs->sent)
		rs->first_sent_ms = now;
	rs->sent = true;
}

int64_t bt_reqstate_window(uint32_t lease_ms, int64_t will_ms)
{
	int64_t w = lease_ms;

	if (will_ms > 0 && will_ms < w)
		w = will_ms;
	return w - REQ_DRIFT_MS(w);
}

static void hold_from(reqstate *rs, int64_t base, uint32_t lease_ms, bool confirmed)
{
	int64_t w = bt_reqstate_window(lease_ms, rs->will_ms);

	rs->lease_ms = lease_ms;
	rs->confirmed = confirmed;
	rs->deadline_ms = base + w;
	rs->renew_at_ms = base + w / 4;
}

/* The delivery delay a grant after a wait may hide (file comment). */
static int64_t grant_margin(uint32_t lease_ms)
{
	return lease_ms / 10 > 100 ? lease_ms / 10 : 100;
}

/* A grant of our acquire: count the lease conservatively (file comment). */
static unsigned on_granted(reqstate *rs, const wire_answer *a, int64_t now)
{
	uint32_t lease = a->lease_ms ? a->lease_ms : WIRE_LEASE_DEFAULT;
	bool waited = rs->phase == BATON_PHASE_QUEUED || !rs->sent ||
	              now - rs->first_sent_ms > bt_reqstate_window(lease, rs->will_ms) / 2;

	rs->token = a->token;
	rs->phase = BATON_PHASE_GRANTED;
	rs->position = 0;
	if (waited) {
		/* Usable once the renewal sent now is answered (file comment). */
		hold_from(rs, now - grant_margin(lease), lease, false);
		rs->renew_at_ms = now;
		return REQ_FX_CHANGED;
	}
	hold_from(rs, rs->first_sent_ms, lease, true);
	rs->settled = true;
	return REQ_FX_SETTLED | REQ_FX_CHANGED;
}

static unsigned settle(reqstate *rs, baton_phase phase, const char *holder)
{
	rs->phase = phase;
	rs->settled = true;
	copy_holder(rs, holder);
	return REQ_FX_SETTLED | REQ_FX_CHANGED;
}

static unsigned lose(reqstate *rs, baton_err why)
{
	unsigned fx = 0;

	if (rs->lost)
		return 0;
	if (!rs->settled) {
		/* A grant lost before it was usable settles the acquire. */
		rs->settled = true;
		fx = REQ_FX_SETTLED;
	}
	rs->lost = true;
	rs->lost_err = why;
	rs->renew_pending = false;
	if (rs->phase == BATON_PHASE_RELEASING) {
		rs->phase = BATON_PHASE_RELEASED;
		rs->finish_err = BATON_E_LOST;
		return REQ_FX_LOST | REQ_FX_FINISHED | REQ_FX_CHANGED;
	}
	rs->phase = BATON_PHASE_LOST;
	return fx | REQ_FX_LOST | REQ_FX_CHANGED;
}

unsigned bt_reqstate_disconnected(reqstate *rs)
{
	if (rs->phase != BATON_PHASE_GRANTED)
		return 0;
	rs->held_token = rs->token;
	return lose(rs, BATON_E_NOT_CONNECTED);
}

unsigned bt_reqstate_revoked_final(reqstate *rs)
{
	rs->phase = BATON_PHASE_GRANTED; /* lose() ends a holding */
	return lose(rs, BATON_E_LOST);
}

static unsigned on_acquire_answer(reqstate *rs, const wire_answer *a, int64_t now)
{
	bool waiting = rs->phase == BATON_PHASE_SENT || rs->phase == BATON_PHASE_QUEUED;

	if (!waiting && rs->phase != BATON_PHASE_CANCELLING && a->status == WIRE_ST_GRANTED &&
	    a->token != rs->token) {
		/* A new grant for an acquire whose holding we already gave up
		 * or lost (our node was declared offline, the holding revoked,
		 * and our re-sent acquire granted afresh): nobody will use it,
		 * so give it back at once instead of leaving the resource idle
		 * until its lease ends. A holding we still count as ours was
		 * revoked without our hearing it: it is lost. */
		unsigned fx = rs->phase == BATON_PHASE_GRANTED ? lose(rs, BATON_E_LOST) : 0;

		rs->drop_token = a->token;
		return fx | REQ_FX_DROP;
	}

	if (rs->phase == BATON_PHASE_CANCELLING) {
		/* The cancel is on its way; only a final non-grant ends it early
		 * (a grant will be turned into a failed release by the cancel). */
		if (a->status == WIRE_ST_GRANTED)
			rs->token = a->token;
		else if (a->status == WIRE_ST_DONE || a->status == WIRE_ST_BUSY ||
		         a->status == WIRE_ST_REJECTED || a->status == WIRE_ST_FAILED)
			return settle(rs, BATON_PHASE_CANCELLED, a->holder) | REQ_FX_FINISHED;
		return 0;
	}
	if (!waiting)
		return 0; /* a duplicate or a late answer to a re-send */
	switch (a->status) {
	case WIRE_ST_QUEUED:
		rs->phase = BATON_PHASE_QUEUED;
		rs->position = a->position;
		copy_holder(rs, a->holder);
		return REQ_FX_CHANGED;
	case WIRE_ST_GRANTED:
		return on_granted(rs, a, now);
	case WIRE_ST_DONE:
		return settle(rs, BATON_PHASE_DONE, NULL);
	case WIRE_ST_BUSY:
		return settle(rs, BATON_PHASE_BUSY, a->holder);
	case WIRE_ST_REJECTED:
		return settle(rs, BATON_PHASE_REJECTED, NULL);
	case WIRE_ST_FAILED:
		return settle(rs, BATON_PHASE_FAILED, NULL);
	default:
		return 0;
	}
}

static unsigned on_renew_answer(reqstate *rs, unsigned seq, const wire_answer *a)
{
	if (rs->phase != BATON_PHASE_GRANTED || !rs->renew_pending || seq != rs->renew_seq)
		return 0;
	if (a->status == WIRE_ST_RENEWED && a->token == rs->token) {
		unsigned fx = rs->settled ? 0 : REQ_FX_SETTLED; /* a grant after a wait is usable now */

		rs->renew_pending = false;
		rs->settled = true;
		hold_from(rs, rs->renew_sent_ms, a->lease_ms ? a->lease_ms : rs->lease_ms, true);
		return fx | REQ_FX_CHANGED;
	}
	if (a->status == WIRE_ST_REJECTED)
		return lose(rs, BATON_E_NOT_HOLDER);
	return 0;
}

static unsigned finish(reqstate *rs, baton_phase phase, baton_err err)
{
	rs->phase = phase;
	rs->finish_err = err;
	return REQ_FX_FINISHED | REQ_FX_CHANGED;
}

static unsigned on_end_answer(reqstate *rs, req_kind kind, const wire_answer *a)
{
	baton_err err = a->status == WIRE_ST_REJECTED ? a->code : BATON_OK;

	if (a->status == WIRE_ST_REJECTED && err == BATON_OK)
		err = BATON_E_PROTOCOL;
	if (kind == REQ_K_RELEASE && rs->phase == BATON_PHASE_RELEASING &&
	    (a->status == WIRE_ST_RELEASED || a->status == WIRE_ST_REJECTED))
		return finish(rs, BATON_PHASE_RELEASED, err);
	if (kind == REQ_K_CANCEL && rs->phase == BATON_PHASE_CANCELLING &&
	    (a->status == WIRE_ST_CANCELLED || a->status == WIRE_ST_REJECTED))
		return finish(rs, BATON_PHASE_CANCELLED, err);
	if (kind == REQ_K_RESET && rs->phase == BATON_PHASE_RESETTING &&
	    (a->status == WIRE_ST_RESET || a->status == WIRE_ST_REJECTED))
		return finish(rs, BATON_PHASE_RESET, err);
	return 0;
}

unsigned bt_reqstate_answer(reqstate *rs, req_kind kind, unsigned seq, const wire_answer *a, int64_t now)
{
	/* A revocation names the holding by token, whichever id it carries. */
	if (a->status == WIRE_ST_REVOKED) {
		if (rs->phase == BATON_PHASE_GRANTED && !rs->confirmed && a->token == rs->token)
			return REQ_FX_RESTART; /* a grant after a wait, revoked before it was usable */
		if ((rs->phase == BATON_PHASE_GRANTED || rs->phase == BATON_PHASE_RELEASING) &&
		    a->token == rs->token) {
			if (!rs->lost)
				rs->lost_reason = (baton_reason)a->reason;
			return lose(rs, BATON_E_LOST);
		}
		/* A waiting acquire answered `revoked`: the grant it got (and we
		 * never heard, e.g. lost with a restarted broker) is over, and
		 * asking again under that id only repeats it. Final for this id. */
		if (kind == REQ_K_ACQUIRE &&
		    (rs->phase == BATON_PHASE_SENT || rs->phase == BATON_PHASE_QUEUED))
			return REQ_FX_RESTART;
		return 0;
	}
	switch (kind) {
	case REQ_K_ACQUIRE:
		return on_acquire_answer(rs, a, now);
	case REQ_K_RENEW:
		return on_renew_answer(rs, seq, a);
	case REQ_K_RELEASE:
	case REQ_K_CANCEL:
	case REQ_K_RESET:
		return on_end_answer(rs, kind, a);
	default:
		return 0;
	}
}

unsigned bt_reqstate_tick(reqstate *rs, int64_t now)
{
	if (rs->phase != BATON_PHASE_GRANTED)
		return 0;
	if (now >= rs->deadline_ms)
		return lose(rs, BATON_E_TIMEOUT);
	if (now < rs->renew_at_ms)
		return 0;
	if (!rs->renew_pending) {
		rs->renew_seq++;
		rs->renew_pending = true;
		rs->renew_sent_ms = now;
	}
	/* Unanswered: re-send the same id a quarter of the window later. */
	rs->renew_at_ms = now + bt_reqstate_window(rs->lease_ms, rs->will_ms) / 4;
	return REQ_FX_RENEW;
}

int64_t bt_reqstate_next_tick(const reqstate *rs)
{
	if (rs->phase != BATON_PHASE_GRANTED)
		return INT64_MAX;
	return rs->renew_at_ms < rs->deadline_ms ? rs->renew_at_ms : rs->deadline_ms;
}

baton_err bt_reqstate_release(reqstate *rs)
{
	if (rs->lost)
		return BATON_E_LOST;
	if (rs->phase != BATON_PHASE_GRANTED)
		return BATON_E_INVAL;
	rs->phase = BATON_PHASE_RELEASING;
	rs->renew_pending = false;
	return BATON_OK;
}

baton_err bt_reqstate_cancel(reqstate *rs)
{
	if (rs->phase != BATON_PHASE_SENT && rs->phase != BATON_PHASE_QUEUED)
		return BATON_E_INVAL;
	rs->phase = BATON_PHASE_CANCELLING;
	return BATON_OK;
}

bool bt_reqstate_outstanding(const reqstate *rs, req_kind kind)
{
	switch (kind) {
	case REQ_K_ACQUIRE:
		return rs->phase == BATON_PHASE_SENT || rs->phase == BATON_PHASE_QUEUED;
	case REQ_K_RENEW:
		return rs->phase == BATON_PHASE_GRANTED && rs->renew_pending;
	case REQ_K_RELEASE:
		return rs->phase == BATON_PHASE_RELEASING;
	case REQ_K_CANCEL:
		return rs->phase == BATON_PHASE_CANCELLING;
	case REQ_K_RESET:
		return rs->phase == BATON_PHASE_RESETTING;
	default:
		return false;
	}
}

bool bt_reqstate_final(const reqstate *rs)
{
	switch (rs->phase) {
	case BATON_PHASE_RELEASED:
	case BATON_PHASE_CANCELLED:
	case BATON_PHASE_DONE:
	case BATON_PHASE_BUSY:
	case BATON_PHASE_REJECTED:
	case BATON_PHASE_LOST:
	case BATON_PHASE_RESET:
	case BATON_PHASE_FAILED:
		return true;
	default:
		return false;
	}
}

static const char id_suffix[] = {0, 'a', 'w', 'r', 'c', 'x'};

baton_err bt_reqstate_id(char *buf, size_t cap, const char *base, req_kind kind, unsigned seq)
{
	int n;

	assert(kind > REQ_K_NONE && kind <= REQ_K_RESET);
	if (kind == REQ_K_RENEW)
		n = snprintf(buf, cap, "%s.w%u", base, seq);
	else
		n = snprintf(buf, cap, "%s.%c", base, id_suffix[kind]);
	if (n < 0 || (size_t)n >= cap || n > NAMES_ID_MAX)
		return BATON_E_INVAL;
	return BATON_OK;
}

req_kind bt_reqstate_id_parse(const char *id, const char *base, unsigned *seq)
{
	size_t n = strlen(base);
	const char *s;
	unsigned v = 0;

	if (id == NULL || strncmp(id, base, n) != 0 || id[n] != '.' || id[n + 1] == '\0')
		return REQ_K_NONE;
	s = id + n + 1;
	if (s[0] == 'w') {
		if (s[1] == '\0')
			return REQ_K_NONE;
		for (s++; *s; s++) {
			if (*s < '0' || *s > '9' || v > 100000000u)
				return REQ_K_NONE;
			v = v * 10 + (unsigned)(*s - '0');
		}
		*seq = v;
		return REQ_K_RENEW;
	}
	if (s[1] != '\0')
		return REQ_K_NONE;
	for (int k = REQ_K_ACQUIRE; k <= REQ_K_RESET; k++)
		if (k != REQ_K_RENEW && s[0] == id_suffix[k])
			return (req_kind)k;
	return REQ_K_NONE;
}
