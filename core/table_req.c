/*
 * table_req.c - the lock table's request steps: acquire, renew, release,
 * cancel and reset in (table_step_request), and the answer to an invalid
 * request (table_step_invalid).
 *
 * Never does I/O, never reads a clock, never logs: time is passed in. Every
 * step first does all that can fail (allocations into a prep, reserving room
 * in maps, the deadline heap and the batch) and only then changes state, so
 * BATON_E_NOMEM always leaves the table as it was.
 * Invariants: a request id a node reuses is answered from its record, never
 * acted on twice; tokens come from one counter that only grows.
 * Costs: every step is O(1) expected plus O(log n) heap work, except a
 * repeated queued acquire (O(position)) and a once success (O(waiters)).
 */
#include "table_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---- requests ------------------------------------------------------------- */

/* Everything a request step may need, allocated before any state changes;
 * what is not consumed is freed by prep_free(). */
typedef struct prep {
	rec *rc;
	res *r;
	waiter *w;
	char *meta;
	done_rec *done;
	prev_rec *prev;
	int fail;
} prep;

static void prep_free(prep *p)
{
	free(p->rc);
	free(p->r);
	free(p->w);
	tbl_blob_free(p->meta);
	free(p->done);
	free(p->prev);
}

/* Reserves room for the worst case of one request on r (NULL: unknown). */
static baton_err reserve_request(table *t, const res *r)
{
	size_t nw = r != NULL ? r->n_waiting : 0;
	if (tbl_reserve(t, nw + 3, 1, nw + 1) != BATON_OK || hmap_reserve(&t->recs, t->recs.n + 1) ||
	    hmap_reserve(&t->resources, t->resources.n + 1) || hmap_reserve(&t->waits, t->waits.n + 1) ||
	    heap_reserve(&t->deadlines, t->deadlines.n + 2))
		return BATON_E_NOMEM;
	return BATON_OK;
}

static int64_t after(int64_t now, uint64_t ms)
{
	if (ms >= (uint64_t)(INT64_MAX - 1 - now))
		return INT64_MAX - 1;
	return now + (int64_t)ms;
}

static uint32_t lease_of(const table *t, const wire_request *req)
{
	uint32_t ms = req->has_lease ? req->lease_ms : t->cfg.default_lease_ms;
	return ms > t->cfg.max_lease_ms ? t->cfg.max_lease_ms : ms;
}

/* Records a new request id finished with answer a. */
static void rec_new_done(table *t, prep *p, tnode *n, res *r, const answer_rec *a)
{
	rec *rc = p->rc;
	p->rc = NULL;
	tbl_rec_attach(t, rc, n, r);
	tbl_rec_finish_one(t, rc, a);
}

static void reject(table *t, prep *p, tnode *n, res *r, baton_err code)
{
	tbl_answer_rejected(t, n, r, p->rc->id, code);
	answer_rec a = {.status = WIRE_ST_REJECTED, .code = code};
	rec_new_done(t, p, n, r, &a);
}

/* The request's resource, or the preallocated one (not in the map yet). */
static res *res_or_new(prep *p, res *r)
{
	if (r == NULL) {
		r = p->r;
		p->r = NULL;
	}
	return r;
}

static void enqueue(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req)
{
	waiter *w = p->w;
	rec *rc = p->rc;
	p->w = NULL;
	p->rc = NULL;
	tbl_waiter_link(t, r, n, rc, w, lease_of(t, req), p->meta,
	                req->has_wait ? after(now, req->wait_ms) : INT64_MAX);
	p->meta = NULL;
	tbl_touch(t, r);
	t->names_bound++;
	tbl_answer_queued(t, n, r, rc->id, r->n_waiting);
}

static void grant_new(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req)
{
	rec *rc = p->rc;
	char *meta = p->meta;
	p->rc = NULL;
	p->meta = NULL;
	if (!(r->flags & RES_IN_MAP)) {
		hmap_insert(&t->resources, r->hash, r);
		r->flags |= RES_IN_MAP;
	}
	r->mode = (uint8_t)req->mode;
	tbl_rec_attach(t, rc, n, r);
	tbl_list_push(&n->live, rc);
	tbl_start_holding(t, r, now, rc, lease_of(t, req), meta);
}

/* A new acquire id of a node that already holds or waits for r. */
static void acquire_alias(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req)
{
	rec *rc = p->rc;
	p->rc = NULL;
	tbl_rec_attach(t, rc, n, r);
	rc->state = REC_ALIAS;
	t->n_aliases++;
	if (r->hrec != NULL && r->hrec->node == n) {
		rc->u.alias = r->hrec->u.alias;
		r->hrec->u.alias = rc;
		r->lease_ms = lease_of(t, req);
		heap_set(&t->deadlines, &r->tmr, now + (int64_t)r->lease_ms);
		tbl_touch(t, r);
		tbl_answer_granted(t, n, r, rc->id);
		return;
	}
	waiter *w = tbl_wait_find(t, n, r);
	rc->u.alias = w->alias;
	w->alias = rc;
	tbl_answer_queued(t, n, r, rc->id, tbl_queue_position(r, w));
}

static void acquire_decide(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req)
{
	if (!res_idle(r) && r->mode != (uint8_t)req->mode) {
		reject(t, p, n, r, BATON_E_MODE_CONFLICT);
	} else if ((r->hrec != NULL && r->hrec->node == n) || tbl_wait_find(t, n, r) != NULL) {
		acquire_alias(t, now, p, n, r, req);
	} else if (r->done != NULL) {
		wire_answer *a = tbl_answer(t, n, r, p->rc->id, WIRE_ST_DONE);
		tbl_fill_done(r->done, &a->outcome);
		answer_rec ar = {.status = WIRE_ST_DONE, .done = r->done};
		rec_new_done(t, p, n, r, &ar);
	} else if (r->hrec != NULL && req->has_wait && req->wait_ms == 0) {
		wire_answer *a = tbl_answer(t, n, r, p->rc->id, WIRE_ST_BUSY);
		a->holder = tbl_holder_name(r);
		answer_rec ar = {.status = WIRE_ST_BUSY, .holder = r->hrec->node};
		rec_new_done(t, p, n, r, &ar);
	} else if (r->hrec != NULL) {
		enqueue(t, now, p, n, r, req);
	} else {
		grant_new(t, now, p, n, r, req);
	}
}

/* A request (node, id) seen before: answered as it stands, nothing changes. */
static baton_err repeat(table *t, rec *old)
{
	if (tbl_reserve(t, 1, 0, 0) != BATON_OK)
		return BATON_E_NOMEM;
	tbl_answer_repeat(t, old);
	return BATON_OK;
}

static baton_err step_acquire(table *t, int64_t now, tnode *n, const wire_request *req)
{
	rec *old = tbl_rec_find(t, n, req->id);
	res *r = tbl_res_find(t, req->resource);
	if (old != NULL)
		return repeat(t, old);
	prep p = {0};
	baton_err err = reserve_request(t, r);
	p.rc = tbl_rec_alloc(req->id);
	if (r == NULL)
		p.r = tbl_res_alloc(req->resource);
	if (req->meta != NULL)
		p.meta = tbl_blob(req->meta);
	if (r != NULL && r->hrec != NULL)
		p.w = calloc(1, sizeof *p.w);
	if (err != BATON_OK || p.rc == NULL || (r == NULL && p.r == NULL) ||
	    (req->meta != NULL && p.meta == NULL) || (r != NULL && r->hrec != NULL && p.w == NULL)) {
		prep_free(&p);
		return BATON_E_NOMEM;
	}
	acquire_decide(t, now, &p, n, res_or_new(&p, r), req);
	prep_free(&p);
	return BATON_OK;
}

static int holds(const res *r, const tnode *n, uint64_t token)
{
	return r != NULL && r->hrec != NULL && r->hrec->node == n && r->token == token;
}

/* Allocates the record and, for an unknown resource, a zombie resource that
 * only names it; on failure frees both. */
static baton_err prep_rec(table *t, prep *p, const res *r, const wire_request *req)
{
	baton_err err = reserve_request(t, r);
	p->rc = tbl_rec_alloc(req->id);
	if (r == NULL)
		p->r = tbl_res_alloc(req->resource);
	if (err != BATON_OK || p->rc == NULL || (r == NULL && p->r == NULL)) {
		prep_free(p);
		return BATON_E_NOMEM;
	}
	return BATON_OK;
}

static baton_err step_renew(table *t, int64_t now, tnode *n, const wire_request *req)
{
	res *r = tbl_res_find(t, req->resource);
	rec *old = tbl_rec_find(t, n, req->id);
	prep p = {0};
	if (old == NULL && prep_rec(t, &p, r, req) != BATON_OK)
		return BATON_E_NOMEM;
	if (old != NULL && tbl_reserve(t, 1, 1, r != NULL ? r->n_waiting : 0) != BATON_OK)
		return BATON_E_NOMEM;
	if (holds(r, n, req->token)) {
		heap_set(&t->deadlines, &r->tmr, now + (int64_t)r->lease_ms);
		tbl_touch(t, r);
		wire_answer *a = tbl_answer(t, n, r, old ? old->id : p.rc->id, WIRE_ST_RENEWED);
		a->token = r->token;
		a->lease_ms = r->lease_ms;
		answer_rec ar = {.status = WIRE_ST_RENEWED, .token = r->token, .lease_ms = r->lease_ms};
		if (old == NULL)
			rec_new_done(t, &p, n, r, &ar);
	} else if (old != NULL) {
		tbl_answer_repeat(t, old);
	} else {
		reject(t, &p, n, res_or_new(&p, r), BATON_E_NOT_HOLDER);
	}
	prep_free(&p);
	return BATON_OK;
}

/* Preallocates what tbl_end_holding() needs for a release of r's holding. */
static baton_err prep_ending(table *t, prep *p, const res *r, ending *e, const wire_request *req)
{
	int fail = 0;
	e->error = tbl_tmp_str(t, req->error, &fail);
	e->result = tbl_tmp_str(t, req->result, &fail);
	if (e->success && r->mode == WIRE_MODE_ONCE)
		fail |= (p->done = e->done = tbl_done_alloc(req->result)) == NULL;
	if (!e->success)
		fail |= (p->prev = e->prev = tbl_prev_alloc(req->error)) == NULL;
	return fail ? BATON_E_NOMEM : BATON_OK;
}

/* Ends n's holding of r on a release or cancel request; the request's own
 * id (if not taken by a live request) remembers the answer. */
static baton_err release_holding(table *t, int64_t now, tnode *n, res *r, const wire_request *req, ending *e)
{
	rec *old = tbl_rec_find(t, n, req->id);
	prep p = {0};
	baton_err err = reserve_request(t, r);
	if (err == BATON_OK && old == NULL && (p.rc = tbl_rec_alloc(req->id)) == NULL)
		err = BATON_E_NOMEM;
	if (err == BATON_OK)
		err = prep_ending(t, &p, r, e, req);
	if (err != BATON_OK) {
		prep_free(&p);
		return err;
	}
	rec *rc = old != NULL && old->state == REC_DONE ? old : p.rc;
	int fail = 0;
	e->ender_id = rc != NULL ? rc->id : tbl_tmp_str(t, req->id, &fail);
	if (fail) {
		prep_free(&p);
		return BATON_E_NOMEM;
	}
	if (rc == old && rc != NULL) {
		/* Detach it first: ending the holding may evict the oldest ids. */
		tbl_lru_unlink(n, rc);
		tbl_rec_drop_answer(t, rc);
		rc->state = 0;
	}
	e->forget_at = after(now, req->has_remember ? req->remember_ms : t->cfg.done_ttl_ms);
	uint64_t token = r->token;
	p.done = NULL;
	p.prev = NULL;
	tbl_end_holding(t, r, now, e);
	answer_rec ar = {.status = e->ender_status, .token = token};
	if (rc == p.rc && rc != NULL)
		rec_new_done(t, &p, n, r, &ar);
	else if (rc != NULL)
		tbl_rec_finish_one(t, rc, &ar);
	prep_free(&p);
	return BATON_OK;
}

static baton_err step_release(table *t, int64_t now, tnode *n, const wire_request *req)
{
	res *r = tbl_res_find(t, req->resource);
	if (holds(r, n, req->token)) {
		ending e = {.reason = WIRE_REASON_RELEASED,
		            .success = req->success,
		            .ender_status = WIRE_ST_RELEASED};
		return release_holding(t, now, n, r, req, &e);
	}
	rec *old = tbl_rec_find(t, n, req->id);
	if (old != NULL)
		return repeat(t, old);
	prep p = {0};
	if (prep_rec(t, &p, r, req) != BATON_OK)
		return BATON_E_NOMEM;
	reject(t, &p, n, res_or_new(&p, r), BATON_E_NOT_HOLDER);
	prep_free(&p);
	return BATON_OK;
}

/* Withdraws n's queued acquire w of r (cancel), answering with rc's id. */
static void cancel_wait(table *t, prep *p, tnode *n, res *r, waiter *w)
{
	rec *wr = w->rec, *alias = w->alias;
	tbl_touch(t, r);
	tbl_waiter_unlink_free(t, w);
	answer_rec a = {.status = WIRE_ST_CANCELLED};
	tbl_rec_finish_chain(t, wr, alias, &a);
	tbl_answer(t, n, r, p->rc->id, WIRE_ST_CANCELLED);
	rec_new_done(t, p, n, r, &a);
}

static baton_err step_cancel(table *t, int64_t now, tnode *n, const wire_request *req)
{
	rec *old = tbl_rec_find(t, n, req->id);
	res *r = tbl_res_find(t, req->resource);
	if (old != NULL)
		return repeat(t, old);
	if (r != NULL && r->hrec != NULL && r->hrec->node == n) {
		wire_request rel = *req;
		rel.success = false;
		rel.error = "cancelled";
		rel.result = NULL;
		rel.has_remember = false;
		ending e = {
		    .reason = WIRE_REASON_RELEASED, .success = false, .ender_status = WIRE_ST_CANCELLED};
		return release_holding(t, now, n, r, &rel, &e);
	}
	prep p = {0};
	if (prep_rec(t, &p, r, req) != BATON_OK)
		return BATON_E_NOMEM;
	waiter *w = r != NULL ? tbl_wait_find(t, n, r) : NULL;
	if (w != NULL) {
		cancel_wait(t, &p, n, r, w);
	} else {
		r = res_or_new(&p, r);
		tbl_answer(t, n, r, p.rc->id, WIRE_ST_CANCELLED);
		answer_rec a = {.status = WIRE_ST_CANCELLED};
		rec_new_done(t, &p, n, r, &a);
	}
	prep_free(&p);
	return BATON_OK;
}

static baton_err step_reset(table *t, tnode *n, const wire_request *req)
{
	rec *old = tbl_rec_find(t, n, req->id);
	res *r = tbl_res_find(t, req->resource);
	if (old != NULL)
		return repeat(t, old);
	prep p = {0};
	if (prep_rec(t, &p, r, req) != BATON_OK)
		return BATON_E_NOMEM;
	r = res_or_new(&p, r);
	if (r->done != NULL)
		tbl_forget_done(t, r);
	tbl_answer(t, n, r, p.rc->id, WIRE_ST_RESET);
	answer_rec a = {.status = WIRE_ST_RESET};
	rec_new_done(t, &p, n, r, &a);
	prep_free(&p);
	return BATON_OK;
}

baton_err table_step_request(table *t, int64_t now, const char *node, const wire_request *req)
{
	assert(!t->closed);
	tnode *n = tbl_node_get(t, node, 1);
	if (n == NULL)
		return BATON_E_NOMEM;
	n->refs++;
	baton_err err = BATON_E_INVAL;
	switch (req->op) {
	case WIRE_OP_ACQUIRE:
		err = step_acquire(t, now, n, req);
		break;
	case WIRE_OP_RENEW:
		err = step_renew(t, now, n, req);
		break;
	case WIRE_OP_RELEASE:
		err = step_release(t, now, n, req);
		break;
	case WIRE_OP_CANCEL:
		err = step_cancel(t, now, n, req);
		break;
	case WIRE_OP_RESET:
		err = step_reset(t, n, req);
		break;
	}
	if (err == BATON_OK) {
		n->online = 1;
		t->n_requests++;
	}
	tbl_node_unref(t, n);
	return err;
}

baton_err table_step_invalid(table *t, int64_t now, const char *node, baton_err err, const wire_diag *diag)
{
	(void)now;
	assert(!t->closed);
	int fail = 0;
	tnode *n = tbl_node_get(t, node, 1);
	const char *id = diag && diag->has_id ? tbl_tmp_str(t, diag->id, &fail) : NULL;
	const char *resource = diag && diag->has_resource ? tbl_tmp_str(t, diag->resource, &fail) : NULL;
	const char *msg =
	    diag && diag->message[0] ? tbl_tmp_str(t, diag->message, &fail) : baton_strerror(err);
	if (n == NULL || fail || tbl_reserve(t, 1, 0, 0) != BATON_OK) {
		if (n != NULL && n->refs == 0)
			tbl_node_unref(t, (n->refs++, n));
		return BATON_E_NOMEM;
	}
	table_effect *e = tbl_fx(t, TABLE_FX_ANSWER);
	e->node = n->name;
	e->resource = resource;
	e->u.answer.status = WIRE_ST_REJECTED;
	e->u.answer.id = id;
	e->u.answer.resource = resource;
	e->u.answer.code = err;
	e->u.answer.message = msg;
	t->n_rejections++;
	t->n_requests++;
	n->refs++;
	tbl_node_unref(t, n);
	return BATON_OK;
}
