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
 * Costs: every step is O(1) expected plus O(log n) heap work per holding
 * granted or waiter answered, except a repeated queued acquire
 * (O(position)) and a once success (O(waiters)).
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
	slot *w; /* the new holding or waiter of an acquire */
	capb *b; /* its cap bucket when it may queue and the bucket is new */
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
	free(p->b);
	tbl_blob_free(p->meta);
	free(p->done);
	free(p->prev);
}

/* Reserves room for the worst case of one request on r (NULL: unknown):
 * an ending may answer every waiter (failed, granted or done), and every
 * waiter it grants gets a lease deadline. */
static baton_err reserve_request(table *t, const res *r)
{
	size_t nw = r != NULL ? r->n_waiting : 0, nh = r != NULL ? r->n_holds : 0;
	if (tbl_reserve(t, nw + 3, 1, nw + nh + 1) != BATON_OK || hmap_reserve(&t->recs, t->recs.n + 1) ||
	    hmap_reserve(&t->resources, t->resources.n + 1) || hmap_reserve(&t->live, t->live.n + 1) ||
	    hmap_reserve(&t->caps, t->caps.n + 1) || heap_reserve(&t->deadlines, t->deadlines.n + 2 + nw))
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

static uint32_t permits_of(const wire_request *req)
{
	return req->permits > 1 ? req->permits : 1;
}

/* Records a new request id finished with answer a. */
static void rec_new_done(table *t, prep *p, tnode *n, res *r, const answer_rec *a)
{
	rec *rc = p->rc;
	p->rc = NULL;
	tbl_rec_attach(t, rc, n, r);
	tbl_rec_finish_one(t, rc, a);
}

static void reject(table *t, prep *p, tnode *n, res *r, baton_err code, const char *msg)
{
	tbl_answer_rejected(t, n, r, p->rc->id, code, msg);
	answer_rec a = {.status = WIRE_ST_REJECTED, .code = code, .msg = msg};
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

/* The slot of a new acquire, filled from the request. */
static slot *take_slot(table *t, prep *p, const wire_request *req)
{
	slot *w = p->w;
	p->w = NULL;
	w->lease_ms = lease_of(t, req);
	w->mode = (uint8_t)req->mode;
	w->cap = (uint16_t)req->max_failures;
	w->meta = p->meta;
	p->meta = NULL;
	w->tmr.idx = HEAP_NONE;
	return w;
}

/* The first holding or waiter of an idle resource decides its shape. */
static void shape(res *r, const wire_request *req)
{
	if (r->n_holds == 0 && r->wq_head == NULL) {
		r->mode = req->mode == WIRE_MODE_ONCE ? WIRE_MODE_ONCE : WIRE_MODE_MUTEX;
		r->permits = (uint16_t)permits_of(req);
	}
}

static void enqueue(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req)
{
	slot *w = take_slot(t, p, req);
	rec *rc = p->rc;
	p->rc = NULL;
	capb *nb = w->cap != 0 && tbl_cap_find(t, r, w->cap) == NULL ? p->b : NULL;
	if (nb != NULL)
		p->b = NULL;
	tbl_waiter_link(t, r, n, rc, w, nb, req->has_wait ? after(now, req->wait_ms) : INT64_MAX);
	tbl_touch(t, r);
	t->names_bound++;
	tbl_answer_queued(t, n, r, rc->id, r->n_waiting);
}

static void grant_new(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req)
{
	slot *h = take_slot(t, p, req);
	rec *rc = p->rc;
	p->rc = NULL;
	if (!(r->flags & RES_IN_MAP)) {
		hmap_insert(&t->resources, r->hash, r);
		r->flags |= RES_IN_MAP;
	}
	shape(r, req);
	tbl_live_attach(t, rc, n, r, h, REC_HOLD);
	tbl_touch(t, r);
	t->names_bound++;
	tbl_start_holding(t, r, now, h);
}

/* A new acquire id of a node that already holds or waits for r (live). */
static void acquire_alias(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req,
                          rec *live)
{
	rec *rc = p->rc;
	p->rc = NULL;
	slot *s = live->u.s;
	tbl_rec_attach(t, rc, n, r);
	rc->state = REC_ALIAS;
	t->n_aliases++;
	rc->u.alias = s->alias;
	s->alias = rc;
	if (live->state == REC_HOLD) {
		s->lease_ms = lease_of(t, req);
		heap_set(&t->deadlines, &s->tmr, now + (int64_t)s->lease_ms);
		tbl_touch(t, r);
		tbl_answer_granted(t, n, r, s, rc->id);
		return;
	}
	tbl_touch_quiet(t, r); /* the store keeps the alias */
	tbl_answer_queued(t, n, r, rc->id, tbl_queue_position(r, s));
}

/* Why an acquire of r in req's shape conflicts with r's (NULL: it does
 * not). The messages are static: a repeat answers the same one. */
static const char *conflict(const res *r, const rec *live, const wire_request *req)
{
	if (res_idle(r))
		return NULL;
	int once = req->mode == WIRE_MODE_ONCE;
	if (once && r->mode != WIRE_MODE_ONCE)
		return "mode: the resource is held or queued in shared or mutex mode, not once";
	if (!once && r->mode == WIRE_MODE_ONCE)
		return "mode: the resource is held, queued or remembered in once mode";
	if (live != NULL && live->u.s->mode != (uint8_t)req->mode)
		return "mode: this node holds or waits for the resource in the other mode "
		       "(no upgrade or downgrade)";
	if (once || (r->n_holds == 0 && r->wq_head == NULL))
		return NULL;
	if (req->mode == WIRE_MODE_SHARED && r->permits > 1)
		return "mode: shared on a resource held or queued as a semaphore (permits above 1)";
	if (permits_of(req) != r->permits)
		return "permits: differs from the permits the resource is held or queued with";
	return NULL;
}

static void answer_busy(table *t, prep *p, tnode *n, res *r)
{
	wire_answer *a = tbl_answer(t, n, r, p->rc->id, WIRE_ST_BUSY);
	a->holder = tbl_holder_name(r);
	answer_rec ar = {.status = WIRE_ST_BUSY, .holder = r->h_head ? r->h_head->rec->node : NULL};
	rec_new_done(t, p, n, r, &ar);
}

static void acquire_decide(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req)
{
	rec *live = res_idle(r) ? NULL : tbl_live_find(t, n, r);
	const char *why = conflict(r, live, req);
	if (why != NULL) {
		reject(t, p, n, r, BATON_E_MODE_CONFLICT, why);
	} else if (live != NULL) {
		acquire_alias(t, now, p, n, r, req, live);
	} else if (r->done != NULL) {
		wire_answer *a = tbl_answer(t, n, r, p->rc->id, WIRE_ST_DONE);
		tbl_fill_done(r->done, &a->outcome);
		answer_rec ar = {.status = WIRE_ST_DONE, .done = r->done};
		rec_new_done(t, p, n, r, &ar);
	} else if (req->max_failures != 0 && r->failures >= req->max_failures) {
		tbl_answer_failed(t, n, r, p->rc->id, r->failures, r->prev);
		answer_rec ar = {.status = WIRE_ST_FAILED, .lease_ms = r->failures, .last = r->prev};
		rec_new_done(t, p, n, r, &ar);
	} else if (r->wq_head == NULL && res_fits(r, req->mode)) {
		grant_new(t, now, p, n, r, req);
	} else if (req->has_wait && req->wait_ms == 0) {
		answer_busy(t, p, n, r);
	} else {
		shape(r, req);
		enqueue(t, now, p, n, r, req);
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
	p.w = tbl_slot_new(t);
	int need_b = r != NULL && req->max_failures != 0 && tbl_cap_find(t, r, req->max_failures) == NULL;
	if (need_b)
		p.b = tbl_cap_alloc(r, req->max_failures);
	if (err != BATON_OK || p.rc == NULL || (r == NULL && p.r == NULL) ||
	    (req->meta != NULL && p.meta == NULL) || p.w == NULL || (need_b && p.b == NULL)) {
		prep_free(&p);
		return BATON_E_NOMEM;
	}
	acquire_decide(t, now, &p, n, res_or_new(&p, r), req);
	if (p.w != NULL) {
		tbl_slot_free(t, p.w); /* not granted nor queued: back to the spare */
		p.w = NULL;
	}
	prep_free(&p);
	return BATON_OK;
}

/* n's holding of r named by token, or NULL. A lone holding is checked
 * directly, without the live map. */
static slot *holding(const table *t, const res *r, const tnode *n, uint64_t token)
{
	if (r == NULL || r->n_holds == 0)
		return NULL;
	slot *h = r->n_holds == 1 ? r->h_head : tbl_hold_find(t, n, r);
	return h != NULL && h->rec->node == n && h->token == token ? h : NULL;
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
	if (old != NULL && tbl_reserve(t, 1, 1, r != NULL ? r->n_waiting + r->n_holds : 0) != BATON_OK)
		return BATON_E_NOMEM;
	slot *h = holding(t, r, n, req->token);
	if (h != NULL) {
		heap_set(&t->deadlines, &h->tmr, now + (int64_t)h->lease_ms);
		tbl_touch(t, r);
		wire_answer *a = tbl_answer(t, n, r, old ? old->id : p.rc->id, WIRE_ST_RENEWED);
		a->token = h->token;
		a->lease_ms = h->lease_ms;
		answer_rec ar = {.status = WIRE_ST_RENEWED, .token = h->token, .lease_ms = h->lease_ms};
		if (old == NULL)
			rec_new_done(t, &p, n, r, &ar);
	} else if (old != NULL) {
		tbl_answer_repeat(t, old);
	} else {
		reject(t, &p, n, res_or_new(&p, r), BATON_E_NOT_HOLDER, NULL);
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
	uint64_t token = e->h->token;
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
	slot *h = holding(t, r, n, req->token);
	if (h != NULL) {
		ending e = {.reason = WIRE_REASON_RELEASED,
		            .success = req->success,
		            .ender_status = WIRE_ST_RELEASED,
		            .h = h};
		return release_holding(t, now, n, r, req, &e);
	}
	rec *old = tbl_rec_find(t, n, req->id);
	if (old != NULL)
		return repeat(t, old);
	prep p = {0};
	if (prep_rec(t, &p, r, req) != BATON_OK)
		return BATON_E_NOMEM;
	reject(t, &p, n, res_or_new(&p, r), BATON_E_NOT_HOLDER, NULL);
	prep_free(&p);
	return BATON_OK;
}

/* Withdraws n's queued acquire w of r (cancel), answering with rc's id. */
static void cancel_wait(table *t, int64_t now, prep *p, tnode *n, res *r, slot *w)
{
	rec *wr = w->rec, *alias = w->alias;
	tbl_touch(t, r);
	tbl_waiter_unlink_free(t, w);
	answer_rec a = {.status = WIRE_ST_CANCELLED};
	tbl_rec_finish_chain(t, wr, alias, &a);
	tbl_answer(t, n, r, p->rc->id, WIRE_ST_CANCELLED);
	rec_new_done(t, p, n, r, &a);
	tbl_grant_fitting(t, r, now);
}

static baton_err step_cancel(table *t, int64_t now, tnode *n, const wire_request *req)
{
	rec *old = tbl_rec_find(t, n, req->id);
	res *r = tbl_res_find(t, req->resource);
	if (old != NULL)
		return repeat(t, old);
	slot *h = r != NULL ? tbl_hold_find(t, n, r) : NULL;
	if (h != NULL) {
		wire_request rel = *req;
		rel.success = false;
		rel.error = "cancelled";
		rel.result = NULL;
		rel.has_remember = false;
		ending e = {.reason = WIRE_REASON_RELEASED,
		            .success = false,
		            .ender_status = WIRE_ST_CANCELLED,
		            .h = h};
		return release_holding(t, now, n, r, &rel, &e);
	}
	prep p = {0};
	if (prep_rec(t, &p, r, req) != BATON_OK)
		return BATON_E_NOMEM;
	slot *w = r != NULL ? tbl_wait_find(t, n, r) : NULL;
	if (w != NULL) {
		cancel_wait(t, now, &p, n, r, w);
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
	if (r->failures != 0) {
		/* reset clears the streak too (second edition) */
		r->failures = 0;
		heap_remove(&t->deadlines, &r->tmr);
		tbl_touch(t, r);
	}
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
