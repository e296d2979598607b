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
 * of an ending come in a fixed order (failed waiters, successors, ender,
 * outcome); after an ending the head of the queue does not fit.
 * Costs: O(1) plus O(log n) heap work per waiter granted or failed (a cap
 * bucket is found by hash, never by a queue scan), except a once success
 * (O(waiters): each gets done) and a repeated queued acquire's answer
 * (O(position)).
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

/* The earliest-granted current holding's node (PROTOCOL.md: queued and busy
 * name it), or NULL. */
const char *tbl_holder_name(const res *r)
{
	return r->h_head != NULL ? r->h_head->rec->node->name : NULL;
}

void tbl_answer_granted(table *t, const tnode *n, const res *r, const slot *h, const char *id)
{
	wire_answer *a = tbl_answer(t, n, r, id, WIRE_ST_GRANTED);
	a->token = h->token;
	a->lease_ms = h->lease_ms;
	tbl_fill_prev(r->prev, &a->previous);
}

void tbl_answer_failed(table *t, const tnode *n, const res *r, const char *id, uint32_t failures,
                       const prev_rec *last)
{
	wire_answer *a = tbl_answer(t, n, r, id, WIRE_ST_FAILED);
	a->failures = failures;
	tbl_fill_prev(last, &a->last);
	a->last.completed_at_ms = last->completed_at;
}

void tbl_answer_queued(table *t, const tnode *n, const res *r, const char *id, uint32_t pos)
{
	wire_answer *a = tbl_answer(t, n, r, id, WIRE_ST_QUEUED);
	a->position = pos;
	a->holder = tbl_holder_name(r);
}

/* O(position): only a repeated queued acquire asks. */
uint32_t tbl_queue_position(const res *r, const slot *w)
{
	uint32_t pos = 1;
	for (const slot *x = r->wq_head; x != NULL && x != w; x = x->next)
		pos++;
	return pos;
}

void tbl_answer_rejected(table *t, const tnode *n, const res *r, const char *id, baton_err code,
                         const char *msg)
{
	wire_answer *a = tbl_answer(t, n, r, id, WIRE_ST_REJECTED);
	a->code = code;
	a->message = msg != NULL ? msg : baton_strerror(code);
	t->n_rejections++;
}

/* Answers a repeated request id with the current status of its request. */
void tbl_answer_repeat(table *t, const rec *rc)
{
	const res *r = rc->r;
	const rec *live = rc->state == REC_ALIAS ? tbl_live_find(t, rc->node, r) : rc;
	if (rc->state == REC_HOLD || (rc->state == REC_ALIAS && live->state == REC_HOLD)) {
		tbl_answer_granted(t, rc->node, r, live->u.s, rc->id);
	} else if (rc->state == REC_WAIT || rc->state == REC_ALIAS) {
		tbl_answer_queued(t, rc->node, r, rc->id, tbl_queue_position(r, live->u.s));
	} else if (rc->status == WIRE_ST_REJECTED) {
		tbl_answer_rejected(t, rc->node, r, rc->id, (baton_err)rc->code, rc->u.msg);
	} else if (rc->status == WIRE_ST_FAILED) {
		tbl_answer_failed(t, rc->node, r, rc->id, rc->lease_ms, rc->u.last);
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

/* Makes h (its rec attached and in the live map, lease_ms, mode and meta
 * set) a holding of r with the next token, at the tail of the holdings. */
void tbl_start_holding(table *t, res *r, int64_t now, slot *h)
{
	rec *rc = h->rec;
	if (r->done == NULL)
		heap_remove(&t->deadlines, &r->tmr); /* a streak is kept while held */
	tbl_holding_link(t, r, h, t->next_token++, now, now + (int64_t)h->lease_ms);
	t->n_grants++;
	tbl_touch(t, r);
	tbl_answer_granted(t, rc->node, r, h, rc->id);
}

/* Grants from the head of r's queue every waiter that now fits, in order,
 * and stops at the first that does not: O(grants). Called whenever a
 * holding ends or a waiter leaves the queue (a new head may fit). */
void tbl_grant_fitting(table *t, res *r, int64_t now)
{
	while (r->wq_head != NULL && res_fits(r, r->wq_head->mode)) {
		slot *w = r->wq_head;
		tbl_waiter_unlink(t, w);
		t->n_handoffs++;
		tbl_start_holding(t, r, now, w);
	}
}

/* Answers failed every waiter whose cap the streak has just reached: the
 * one bucket of cap == failures (waiters with lower caps never queue). */
static void fail_capped(table *t, res *r)
{
	capb *b = tbl_cap_find(t, r, r->failures);
	answer_rec a = {.status = WIRE_ST_FAILED, .lease_ms = r->failures, .last = r->prev};
	while (b != NULL) {
		slot *w = b->head;
		int last = w->cnext == NULL; /* the bucket dies with its last waiter */
		rec *rc = w->rec, *alias = w->alias;
		tbl_answer_failed(t, rc->node, r, rc->id, r->failures, r->prev);
		tbl_waiter_unlink_free(t, w);
		tbl_rec_finish_chain(t, rc, alias, &a);
		if (last)
			break;
	}
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
		slot *w = r->wq_head;
		rec *rc = w->rec, *alias = w->alias;
		wire_answer *ans = tbl_answer(t, rc->node, r, rc->id, WIRE_ST_DONE);
		tbl_fill_done(d, &ans->outcome);
		tbl_waiter_unlink_free(t, w);
		tbl_rec_finish_chain(t, rc, alias, &a);
	}
}

static void emit_outcome(table *t, const res *r, const tnode *n, const slot *h, int64_t now, const ending *e)
{
	table_effect *fx = tbl_fx(t, TABLE_FX_OUTCOME);
	fx->resource = r->name;
	wire_outcome *o = &fx->u.outcome;
	o->resource = r->name;
	o->mode = (wire_mode)h->mode;
	o->node = n->name;
	o->token = h->token;
	o->success = e->success;
	o->error = e->error;
	o->result = e->result;
	o->reason = e->reason;
	o->completed_at_ms = now;
}

static void unlink_holding(table *t, res *r, slot *h)
{
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		r->h_head = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	else
		r->h_tail = h->prev;
	r->n_holds--;
	t->n_held--;
	heap_remove(&t->deadlines, &h->tmr);
	tbl_blob_bury(t, h->meta);
	h->meta = NULL;
}

/* A failure: the new previous (preallocated in e) and, in once mode, one
 * more in the streak, answering failed the waiters whose cap it reaches. */
static void record_failure(table *t, res *r, tnode *n, int64_t now, const ending *e)
{
	tbl_prev_drop(t, r);
	r->prev = e->prev;
	r->prev->node = n;
	n->refs++;
	r->prev->refs = 1;
	r->prev->token = e->h->token;
	r->prev->reason = (uint8_t)e->reason;
	r->prev->completed_at = now;
	if (r->mode != WIRE_MODE_ONCE)
		return;
	r->failures++;
	fail_capped(t, r);
}

/* Ends the holding e->h of r: effects of the waiters first (failed, then
 * granted, or done), then the answer to the ender, then the outcome event.
 * Frees the slot. */
void tbl_end_holding(table *t, res *r, int64_t now, const ending *e)
{
	slot *h = e->h;
	rec *hr = h->rec;
	tnode *n = hr->node;
	uint64_t token = h->token;
	n->refs++; /* n stays named while its records may be forgotten */
	unlink_holding(t, r, h);
	tbl_touch(t, r);
	if (e->success) {
		tbl_prev_drop(t, r);
		r->failures = 0;
	}
	if (e->success && r->mode == WIRE_MODE_ONCE) {
		remember_success(t, r, now, n, token, e);
	} else {
		if (!e->success)
			record_failure(t, r, n, now, e);
		tbl_grant_fitting(t, r, now);
	}
	tbl_settle(t, r);
	const char *ender_id = e->ender_id ? e->ender_id : hr->id;
	answer_rec a = {.status = e->ender_status, .token = token, .reason = e->reason};
	if (e->ender_status != WIRE_ST_REVOKED)
		a.reason = WIRE_REASON_NONE;
	tbl_rec_finish_chain(t, hr, h->alias, &a);
	wire_answer *ans = tbl_answer(t, n, r, ender_id, e->ender_status);
	ans->token = token;
	ans->reason = a.reason;
	emit_outcome(t, r, n, h, now, e);
	tbl_slot_free(t, h);
	tbl_node_unref(t, n);
}
