/*
 * table_hold.c - what the lock table answers and how a holding starts and
 * ends: the answer effects, a grant (new or handed to the first waiter) and
 * the end of a holding with its successor, its ender's answer and its
 * outcome event. Shared by the request steps (table_req.c) and by presence
 * and deadlines (table_time.c).
 *
 * Never does I/O, never reads a clock, never logs, never allocates: every
 * function here runs after its step has reserved room in the batch, maps and
 * heap and preallocated what it consumes (ending.done, ending.prev), so none
 * can fail.
 * Invariants: a granted holding always has a TMR_LEASE deadline; the effects
 * of an ending come in a fixed order (successor, ender, outcome).
 * Costs: O(1) plus O(log n) heap work, except a once success (O(waiters):
 * each gets done) and a repeated queued acquire's answer (O(position)).
 */
#include "table_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---- answers -------------------------------------------------------------- */

wire_answer *tbl_answer(table *t, const tnode *n, const res *r, const char *id, wire_status st)
{
	table_effect *e = tbl_fx(t, TABLE_FX_ANSWER);
	e->node = n->name;
	e->resource = r != NULL ? r->name : NULL;
	wire_answer *a = &e->u.answer;
	a->status = st;
	a->id = id;
	a->resource = e->resource;
	return a;
}

void tbl_fill_prev(const prev_rec *p, wire_previous *out)
{
	if (p == NULL)
		return;
	out->node = p->node->name;
	out->token = p->token;
	out->error = p->has_error ? p->error : NULL;
	out->reason = (wire_reason)p->reason;
}

void tbl_fill_done(const done_rec *d, wire_done *out)
{
	if (d == NULL)
		return;
	out->node = d->node->name;
	out->token = d->token;
	out->result = d->has_result ? d->result : NULL;
	out->completed_at_ms = d->completed_at;
}

const char *tbl_holder_name(const res *r)
{
	return r->hrec != NULL ? r->hrec->node->name : NULL;
}

void tbl_answer_granted(table *t, const tnode *n, const res *r, const char *id)
{
	wire_answer *a = tbl_answer(t, n, r, id, WIRE_ST_GRANTED);
	a->token = r->token;
	a->lease_ms = r->lease_ms;
	tbl_fill_prev(r->prev, &a->previous);
}

void tbl_answer_queued(table *t, const tnode *n, const res *r, const char *id, uint32_t pos)
{
	wire_answer *a = tbl_answer(t, n, r, id, WIRE_ST_QUEUED);
	a->position = pos;
	a->holder = tbl_holder_name(r);
}

/* O(position): only a repeated queued acquire asks. */
uint32_t tbl_queue_position(const res *r, const waiter *w)
{
	uint32_t pos = 1;
	for (const waiter *x = r->wq_head; x != NULL && x != w; x = x->next)
		pos++;
	return pos;
}

void tbl_answer_rejected(table *t, const tnode *n, const res *r, const char *id, baton_err code)
{
	wire_answer *a = tbl_answer(t, n, r, id, WIRE_ST_REJECTED);
	a->code = code;
	a->message = baton_strerror(code);
	t->n_rejections++;
}

/* Answers a repeated request id with the current status of its request. */
void tbl_answer_repeat(table *t, const rec *rc)
{
	const res *r = rc->r;
	if (rc->state == REC_HOLD ||
	    (rc->state == REC_ALIAS && r->hrec != NULL && r->hrec->node == rc->node)) {
		tbl_answer_granted(t, rc->node, r, rc->id);
	} else if (rc->state == REC_WAIT || rc->state == REC_ALIAS) {
		tbl_answer_queued(t, rc->node, r, rc->id,
		                  tbl_queue_position(r, tbl_wait_find(t, rc->node, r)));
	} else if (rc->status == WIRE_ST_REJECTED) {
		tbl_answer_rejected(t, rc->node, r, rc->id, (baton_err)rc->code);
	} else {
		wire_answer *a = tbl_answer(t, rc->node, r, rc->id, (wire_status)rc->status);
		a->token = rc->token;
		a->lease_ms = rc->lease_ms;
		a->reason = (wire_reason)rc->reason;
		if (rc->status == WIRE_ST_BUSY && rc->u.holder != NULL)
			a->holder = rc->u.holder->name;
		if (rc->status == WIRE_ST_DONE)
			tbl_fill_done(rc->u.done, &a->outcome);
	}
}

/* ---- grants and the end of a holding ---------------------------------------- */

void tbl_start_holding(table *t, res *r, int64_t now, rec *rc, uint32_t lease_ms, char *meta)
{
	r->hrec = rc;
	rc->state = REC_HOLD;
	r->token = t->next_token++;
	r->since = now;
	r->lease_ms = lease_ms;
	r->meta = meta;
	r->tmr.kind = TMR_LEASE;
	heap_set(&t->deadlines, &r->tmr, now + (int64_t)lease_ms);
	t->n_held++;
	t->n_grants++;
	tbl_touch(t, r);
	tbl_answer_granted(t, rc->node, r, rc->id);
}

/* Hands r (not held) to its first waiter and tells that waiter. */
static void grant_next(table *t, res *r, int64_t now)
{
	waiter *w = r->wq_head;
	rec *rc = w->rec;
	rec *alias = w->alias;
	uint32_t lease_ms = w->lease_ms;
	char *meta = w->meta;
	w->meta = NULL;
	tbl_waiter_unlink_free(t, w);
	rc->u.alias = alias;
	t->n_handoffs++;
	tbl_start_holding(t, r, now, rc, lease_ms, meta);
}

/* Once success: remember it and answer every waiter done. */
static void remember_success(table *t, res *r, int64_t now, tnode *n, uint64_t token, const ending *e)
{
	done_rec *d = e->done;
	d->node = n;
	n->refs++;
	d->refs = 1;
	d->token = token;
	d->completed_at = now;
	r->done = d;
	t->n_remembered++;
	r->tmr.kind = TMR_FORGET;
	heap_set(&t->deadlines, &r->tmr, e->forget_at);
	answer_rec a = {.status = WIRE_ST_DONE, .done = d};
	while (r->wq_head != NULL) {
		waiter *w = r->wq_head;
		rec *rc = w->rec, *alias = w->alias;
		wire_answer *ans = tbl_answer(t, rc->node, r, rc->id, WIRE_ST_DONE);
		tbl_fill_done(d, &ans->outcome);
		tbl_waiter_unlink_free(t, w);
		tbl_rec_finish_chain(t, rc, alias, &a);
	}
}

static void emit_outcome(table *t, const res *r, const tnode *n, uint64_t token, int64_t now, const ending *e)
{
	table_effect *fx = tbl_fx(t, TABLE_FX_OUTCOME);
	fx->resource = r->name;
	wire_outcome *o = &fx->u.outcome;
	o->resource = r->name;
	o->mode = (wire_mode)r->mode;
	o->node = n->name;
	o->token = token;
	o->success = e->success;
	o->error = e->error;
	o->result = e->result;
	o->reason = e->reason;
	o->completed_at_ms = now;
}

/* Ends r's holding: successor effects first (granted or done), then the
 * answer to the ender, then the outcome event. */
void tbl_end_holding(table *t, res *r, int64_t now, const ending *e)
{
	rec *hr = r->hrec;
	tnode *n = hr->node;
	uint64_t token = r->token;
	n->refs++; /* n stays named while its records may be forgotten */
	heap_remove(&t->deadlines, &r->tmr);
	r->hrec = NULL;
	t->n_held--;
	tbl_blob_bury(t, r->meta);
	r->meta = NULL;
	tbl_touch(t, r);
	if (e->success)
		tbl_prev_drop(t, r);
	if (e->success && r->mode == WIRE_MODE_ONCE) {
		remember_success(t, r, now, n, token, e);
	} else {
		if (!e->success) {
			tbl_prev_drop(t, r);
			r->prev = e->prev;
			r->prev->node = n;
			n->refs++;
			r->prev->token = token;
			r->prev->reason = (uint8_t)e->reason;
		}
		if (r->wq_head != NULL)
			grant_next(t, r, now);
	}
	const char *ender_id = e->ender_id ? e->ender_id : hr->id;
	answer_rec a = {.status = e->ender_status, .token = token, .reason = e->reason};
	if (e->ender_status != WIRE_ST_REVOKED)
		a.reason = WIRE_REASON_NONE;
	tbl_rec_finish_chain(t, hr, hr->u.alias, &a);
	wire_answer *ans = tbl_answer(t, n, r, ender_id, e->ender_status);
	ans->token = token;
	ans->reason = a.reason;
	emit_outcome(t, r, n, token, now, e);
	tbl_node_unref(t, n);
}
