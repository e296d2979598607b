/*
 * table.c - the lock table's rules: requests, presence and deadlines in,
 * effects out (see table.h and docs/table.md for the rules as implemented).
 *
 * Owns every resource, waiter, node id and remembered request id. Never does
 * I/O, never reads a clock, never logs, has no globals: time is passed in.
 * Every step first does all that can fail (allocations, reserving room in
 * maps, the deadline heap and the batch) and only then changes state, so
 * BATON_E_NOMEM always leaves the table as it was.
 * Invariants: a resource has at most one holding (r->hrec) and a FIFO of
 * waiters only while held; tokens come from one counter that only grows;
 * every deadline lives in one min-heap, found by its embedded item.
 * Costs: every step is O(1) expected plus O(log n) heap work, except a
 * repeated queued acquire (O(position)), a once success (O(waiters): each gets
 * done) and presence offline (O(the node's requests)).
 * Batch effects, views and restore live in table_fx.c.
 */
#include "table_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define BLOB_HDR sizeof(void *)

/* ---- graveyard and string blobs ------------------------------------------- */

void tbl_bury(table *t, void *p)
{
	*(void **)p = t->grave;
	t->grave = p;
}

/* A heap copy of s with a hidden link word in front, so it can be buried. */
char *tbl_blob(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(BLOB_HDR + n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p + BLOB_HDR, s, n + 1);
	return p + BLOB_HDR;
}

void tbl_blob_bury(table *t, char *s)
{
	if (s != NULL)
		tbl_bury(t, s - BLOB_HDR);
}

void tbl_blob_free(char *s)
{
	if (s != NULL)
		free(s - BLOB_HDR);
}

/* A blob that lives until table_advance(): for effect strings only. */
static const char *tmp_str(table *t, const char *s, int *fail)
{
	if (s == NULL)
		return NULL;
	char *b = tbl_blob(s);
	if (b == NULL) {
		*fail = 1;
		return NULL;
	}
	tbl_blob_bury(t, b);
	return b;
}

/* ---- nodes ---------------------------------------------------------------- */

static int node_eq(const void *val, const void *key)
{
	return strcmp(((const tnode *)val)->name, key) == 0;
}

/* Finds (or, with create, interns with refs 0) the node; NULL if absent or
 * out of memory. A created node must get a reference in the same step. */
tnode *tbl_node_get(table *t, const char *name, int create)
{
	size_t len = strlen(name);
	uint32_t h = hmap_hash(name, len, 0);
	tnode *n = hmap_find(&t->nodes, h, node_eq, name);
	if (n != NULL || !create)
		return n;
	if (hmap_reserve(&t->nodes, t->nodes.n + 1) != BATON_OK)
		return NULL;
	n = calloc(1, sizeof *n + len + 1);
	if (n == NULL)
		return NULL;
	memcpy(n->name, name, len + 1);
	n->name_len = (uint8_t)len;
	n->hash = h;
	n->online = 1;
	hmap_insert(&t->nodes, h, n);
	return n;
}

void tbl_node_unref(table *t, tnode *n)
{
	assert(n->refs > 0);
	if (--n->refs > 0)
		return;
	assert(n->live == NULL && n->lru_head == NULL);
	hmap_remove(&t->nodes, n->hash, n);
	tbl_bury(t, n);
}

/* ---- resources ------------------------------------------------------------ */

static int res_eq(const void *val, const void *key)
{
	return strcmp(((const res *)val)->name, key) == 0;
}

uint32_t tbl_res_hash(const char *name)
{
	return hmap_hash(name, strlen(name), 1);
}

res *tbl_res_find(const table *t, const char *name)
{
	return hmap_find(&t->resources, tbl_res_hash(name), res_eq, name);
}

res *tbl_res_alloc(const char *name)
{
	size_t len = strlen(name);
	res *r = calloc(1, sizeof *r + len + 1);
	if (r == NULL)
		return NULL;
	memcpy(r->name, name, len + 1);
	r->name_len = (uint8_t)len;
	r->hash = tbl_res_hash(name);
	r->tmr.idx = HEAP_NONE;
	return r;
}

void tbl_prev_drop(table *t, res *r)
{
	if (r->prev == NULL)
		return;
	tnode *n = r->prev->node;
	tbl_bury(t, r->prev);
	r->prev = NULL;
	tbl_node_unref(t, n);
}

/* Frees an idle resource nobody names any more (not in the map). */
void tbl_res_free(table *t, res *r)
{
	assert(res_idle(r) && r->refs == 0);
	tbl_prev_drop(t, r);
	free(r);
}

void tbl_res_unref(table *t, res *r)
{
	assert(r->refs > 0);
	if (--r->refs > 0 || (r->flags & (RES_IN_MAP | RES_TOUCHED)))
		return;
	tbl_prev_drop(t, r);
	tbl_bury(t, r);
}

void tbl_touch(table *t, res *r)
{
	if (r->flags & RES_TOUCHED)
		return;
	assert(t->n_touched < t->cap_touched);
	r->flags |= RES_TOUCHED;
	t->touched[t->n_touched++] = r;
	t->names_bound += r->n_waiting;
}

void tbl_done_unref(table *t, done_rec *d)
{
	if (--d->refs > 0)
		return;
	tnode *n = d->node;
	tbl_bury(t, d);
	tbl_node_unref(t, n);
}

done_rec *tbl_done_alloc(const char *result)
{
	size_t len = result ? strlen(result) : 0;
	done_rec *d = calloc(1, sizeof *d + len + 1);
	if (d != NULL && result != NULL) {
		memcpy(d->result, result, len + 1);
		d->has_result = 1;
	}
	return d;
}

prev_rec *tbl_prev_alloc(const char *error)
{
	size_t len = error ? strlen(error) : 0;
	prev_rec *p = calloc(1, sizeof *p + len + 1);
	if (p != NULL && error != NULL) {
		memcpy(p->error, error, len + 1);
		p->has_error = 1;
	}
	return p;
}

/* Forgets r's remembered success. */
static void forget_done(table *t, res *r)
{
	heap_remove(&t->deadlines, &r->tmr);
	tbl_done_unref(t, r->done);
	r->done = NULL;
	t->n_remembered--;
	tbl_touch(t, r);
}

/* ---- request records ------------------------------------------------------ */

typedef struct rec_key {
	const tnode *node;
	const char *id;
} rec_key;

static int rec_eq(const void *val, const void *key)
{
	const rec *rc = val;
	const rec_key *k = key;
	return rc->node == k->node && strcmp(rc->id, k->id) == 0;
}

static uint32_t rec_hash(const tnode *n, const char *id)
{
	return hmap_hash(id, strlen(id), (uint64_t)(uintptr_t)n);
}

rec *tbl_rec_find(const table *t, const tnode *n, const char *id)
{
	rec_key k = {n, id};
	return hmap_find(&t->recs, rec_hash(n, id), rec_eq, &k);
}

rec *tbl_rec_alloc(const char *id)
{
	size_t len = strlen(id);
	rec *rc = calloc(1, sizeof *rc + len + 1);
	if (rc != NULL) {
		memcpy(rc->id, id, len + 1);
	}
	return rc;
}

/* Names rc after (n, r) and enters it in the id map (room reserved). */
void tbl_rec_attach(table *t, rec *rc, tnode *n, res *r)
{
	rc->node = n;
	n->refs++;
	rc->r = r;
	r->refs++;
	hmap_insert(&t->recs, rec_hash(n, rc->id), rc);
}

void tbl_list_push(rec **head, rec *rc)
{
	rc->prev = NULL;
	rc->next = *head;
	if (*head != NULL)
		(*head)->prev = rc;
	*head = rc;
}

static void live_unlink(tnode *n, rec *rc)
{
	if (rc->prev != NULL)
		rc->prev->next = rc->next;
	else
		n->live = rc->next;
	if (rc->next != NULL)
		rc->next->prev = rc->prev;
	rc->prev = rc->next = NULL;
}

static void lru_unlink(tnode *n, rec *rc)
{
	if (rc->prev != NULL)
		rc->prev->next = rc->next;
	else
		n->lru_head = rc->next;
	if (rc->next != NULL)
		rc->next->prev = rc->prev;
	else
		n->lru_tail = rc->prev;
	rc->prev = rc->next = NULL;
	n->n_lru--;
}

/* Drops what a finished record's stored answer references. */
static void rec_drop_answer(table *t, rec *rc)
{
	if (rc->status == WIRE_ST_BUSY && rc->u.holder != NULL)
		tbl_node_unref(t, rc->u.holder);
	else if (rc->status == WIRE_ST_DONE && rc->u.done != NULL)
		tbl_done_unref(t, rc->u.done);
	rc->u.holder = NULL;
}

/* Forgets rc: out of the id map and its lists, references dropped, buried. */
static void rec_forget(table *t, rec *rc)
{
	tnode *n = rc->node;
	res *r = rc->r;
	hmap_remove(&t->recs, rec_hash(n, rc->id), rc);
	if (rc->state == REC_DONE) {
		lru_unlink(n, rc);
		rec_drop_answer(t, rc);
	} else if (rc->state == REC_HOLD || rc->state == REC_WAIT) {
		live_unlink(n, rc);
	}
	tbl_bury(t, rc);
	tbl_res_unref(t, r);
	tbl_node_unref(t, n);
}

/* The stored answer of a finished request. */
typedef struct answer_rec {
	wire_status status;
	uint64_t token;
	uint32_t lease_ms;
	wire_reason reason;
	baton_err code;
	tnode *holder;  /* busy */
	done_rec *done; /* done */
} answer_rec;

/* Marks one record finished with answer a (taking references), newest in its
 * node's memory; evicts the oldest beyond cfg.id_memory. */
static void rec_finish_one(table *t, rec *rc, const answer_rec *a)
{
	tnode *n = rc->node;
	if (rc->state == REC_DONE) {
		lru_unlink(n, rc);
		rec_drop_answer(t, rc);
	} else if (rc->state == REC_HOLD || rc->state == REC_WAIT) {
		live_unlink(n, rc);
	}
	rc->state = REC_DONE;
	rc->status = (uint8_t)a->status;
	rc->token = a->token;
	rc->lease_ms = a->lease_ms;
	rc->reason = (uint8_t)a->reason;
	rc->code = (int8_t)a->code;
	rc->u.holder = NULL;
	if (a->status == WIRE_ST_BUSY && a->holder != NULL) {
		rc->u.holder = a->holder;
		a->holder->refs++;
	} else if (a->status == WIRE_ST_DONE) {
		rc->u.done = a->done;
		a->done->refs++;
	}
	tbl_list_push(&n->lru_head, rc);
	if (n->lru_tail == NULL)
		n->lru_tail = rc;
	n->n_lru++;
	while (n->n_lru > t->cfg.id_memory)
		rec_forget(t, n->lru_tail);
}

/* Finishes a primary record and every alias of it with the same answer. */
static void rec_finish_chain(table *t, rec *rc, rec *alias, const answer_rec *a)
{
	while (alias != NULL) {
		rec *next = alias->u.alias;
		rec_finish_one(t, alias, a);
		alias = next;
	}
	rec_finish_one(t, rc, a);
}

/* ---- waiters -------------------------------------------------------------- */

typedef struct wait_key {
	const tnode *node;
	const res *r;
} wait_key;

uint32_t tbl_wait_hash(const tnode *n, const res *r)
{
	uint64_t x = (uint64_t)(uintptr_t)n * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)r;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(x >> 32);
}

static int wait_eq(const void *val, const void *key)
{
	const waiter *w = val;
	const wait_key *k = key;
	return w->rec->node == k->node && w->rec->r == k->r;
}

waiter *tbl_wait_find(const table *t, const tnode *n, const res *r)
{
	wait_key k = {n, r};
	return hmap_find(&t->waits, tbl_wait_hash(n, r), wait_eq, &k);
}

/* Takes w out of its resource's queue, the wait map and the heap; frees it.
 * Its records stay as they are (the caller finishes or forgets them). */
static void waiter_unlink_free(table *t, waiter *w)
{
	res *r = w->rec->r;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		r->wq_head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		r->wq_tail = w->prev;
	r->n_waiting--;
	t->n_waiters--;
	hmap_remove(&t->waits, tbl_wait_hash(w->rec->node, r), w);
	heap_remove(&t->deadlines, &w->tmr);
	tbl_blob_free(w->meta);
	free(w);
}

/* ---- answers -------------------------------------------------------------- */

static wire_answer *answer(table *t, const tnode *n, const res *r, const char *id, wire_status st)
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

static const char *holder_name(const res *r)
{
	return r->hrec != NULL ? r->hrec->node->name : NULL;
}

static void answer_granted(table *t, const tnode *n, const res *r, const char *id)
{
	wire_answer *a = answer(t, n, r, id, WIRE_ST_GRANTED);
	a->token = r->token;
	a->lease_ms = r->lease_ms;
	tbl_fill_prev(r->prev, &a->previous);
}

static void answer_queued(table *t, const tnode *n, const res *r, const char *id, uint32_t pos)
{
	wire_answer *a = answer(t, n, r, id, WIRE_ST_QUEUED);
	a->position = pos;
	a->holder = holder_name(r);
}

/* O(position): only a repeated queued acquire asks. */
static uint32_t queue_position(const res *r, const waiter *w)
{
	uint32_t pos = 1;
	for (const waiter *x = r->wq_head; x != NULL && x != w; x = x->next)
		pos++;
	return pos;
}

static void answer_rejected(table *t, const tnode *n, const res *r, const char *id, baton_err code)
{
	wire_answer *a = answer(t, n, r, id, WIRE_ST_REJECTED);
	a->code = code;
	a->message = baton_strerror(code);
	t->n_rejections++;
}

/* Answers a repeated request id with the current status of its request. */
static void answer_repeat(table *t, const rec *rc)
{
	const res *r = rc->r;
	if (rc->state == REC_HOLD ||
	    (rc->state == REC_ALIAS && r->hrec != NULL && r->hrec->node == rc->node)) {
		answer_granted(t, rc->node, r, rc->id);
	} else if (rc->state == REC_WAIT || rc->state == REC_ALIAS) {
		answer_queued(t, rc->node, r, rc->id, queue_position(r, tbl_wait_find(t, rc->node, r)));
	} else if (rc->status == WIRE_ST_REJECTED) {
		answer_rejected(t, rc->node, r, rc->id, (baton_err)rc->code);
	} else {
		wire_answer *a = answer(t, rc->node, r, rc->id, (wire_status)rc->status);
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

static void start_holding(table *t, res *r, int64_t now, rec *rc, uint32_t lease_ms, char *meta)
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
	answer_granted(t, rc->node, r, rc->id);
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
	waiter_unlink_free(t, w);
	rc->u.alias = alias;
	t->n_handoffs++;
	start_holding(t, r, now, rc, lease_ms, meta);
}

/* How a holding ends; strings live until table_advance(). */
typedef struct ending {
	wire_reason reason;
	bool success;
	const char *error, *result;
	int64_t forget_at;        /* once success */
	done_rec *done;           /* preallocated when once success */
	prev_rec *prev;           /* preallocated when not success */
	wire_status ender_status; /* RELEASED, CANCELLED or REVOKED */
	const char *ender_id;     /* NULL: the holding's acquire id */
} ending;

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
		wire_answer *ans = answer(t, rc->node, r, rc->id, WIRE_ST_DONE);
		tbl_fill_done(d, &ans->outcome);
		waiter_unlink_free(t, w);
		rec_finish_chain(t, rc, alias, &a);
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
static void end_holding(table *t, res *r, int64_t now, const ending *e)
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
	rec_finish_chain(t, hr, hr->u.alias, &a);
	wire_answer *ans = answer(t, n, r, ender_id, e->ender_status);
	ans->token = token;
	ans->reason = a.reason;
	emit_outcome(t, r, n, token, now, e);
	tbl_node_unref(t, n);
}

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
	rec_finish_one(t, rc, a);
}

static void reject(table *t, prep *p, tnode *n, res *r, baton_err code)
{
	answer_rejected(t, n, r, p->rc->id, code);
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
	w->rec = rc;
	w->lease_ms = lease_of(t, req);
	w->meta = p->meta;
	p->meta = NULL;
	w->tmr.idx = HEAP_NONE;
	w->tmr.kind = TMR_WAIT;
	tbl_rec_attach(t, rc, n, r);
	rc->state = REC_WAIT;
	rc->u.w = w;
	tbl_list_push(&n->live, rc);
	w->prev = r->wq_tail;
	if (r->wq_tail != NULL)
		r->wq_tail->next = w;
	else
		r->wq_head = w;
	r->wq_tail = w;
	r->n_waiting++;
	t->n_waiters++;
	hmap_insert(&t->waits, tbl_wait_hash(n, r), w);
	if (req->has_wait)
		heap_set(&t->deadlines, &w->tmr, after(now, req->wait_ms));
	tbl_touch(t, r);
	t->names_bound++;
	answer_queued(t, n, r, rc->id, r->n_waiting);
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
	start_holding(t, r, now, rc, lease_of(t, req), meta);
}

/* A new acquire id of a node that already holds or waits for r. */
static void acquire_alias(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req)
{
	rec *rc = p->rc;
	p->rc = NULL;
	tbl_rec_attach(t, rc, n, r);
	rc->state = REC_ALIAS;
	if (r->hrec != NULL && r->hrec->node == n) {
		rc->u.alias = r->hrec->u.alias;
		r->hrec->u.alias = rc;
		r->lease_ms = lease_of(t, req);
		heap_set(&t->deadlines, &r->tmr, now + (int64_t)r->lease_ms);
		tbl_touch(t, r);
		answer_granted(t, n, r, rc->id);
		return;
	}
	waiter *w = tbl_wait_find(t, n, r);
	rc->u.alias = w->alias;
	w->alias = rc;
	answer_queued(t, n, r, rc->id, queue_position(r, w));
}

static void acquire_decide(table *t, int64_t now, prep *p, tnode *n, res *r, const wire_request *req)
{
	if (!res_idle(r) && r->mode != (uint8_t)req->mode) {
		reject(t, p, n, r, BATON_E_MODE_CONFLICT);
	} else if ((r->hrec != NULL && r->hrec->node == n) || tbl_wait_find(t, n, r) != NULL) {
		acquire_alias(t, now, p, n, r, req);
	} else if (r->done != NULL) {
		wire_answer *a = answer(t, n, r, p->rc->id, WIRE_ST_DONE);
		tbl_fill_done(r->done, &a->outcome);
		answer_rec ar = {.status = WIRE_ST_DONE, .done = r->done};
		rec_new_done(t, p, n, r, &ar);
	} else if (r->hrec != NULL && req->has_wait && req->wait_ms == 0) {
		wire_answer *a = answer(t, n, r, p->rc->id, WIRE_ST_BUSY);
		a->holder = holder_name(r);
		answer_rec ar = {.status = WIRE_ST_BUSY, .holder = r->hrec->node};
		rec_new_done(t, p, n, r, &ar);
	} else if (r->hrec != NULL) {
		enqueue(t, now, p, n, r, req);
	} else {
		grant_new(t, now, p, n, r, req);
	}
}

static baton_err step_acquire(table *t, int64_t now, tnode *n, const wire_request *req)
{
	rec *old = tbl_rec_find(t, n, req->id);
	res *r = tbl_res_find(t, req->resource);
	if (old != NULL) {
		if (tbl_reserve(t, 1, 0, 0) != BATON_OK)
			return BATON_E_NOMEM;
		answer_repeat(t, old);
		return BATON_OK;
	}
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
		wire_answer *a = answer(t, n, r, old ? old->id : p.rc->id, WIRE_ST_RENEWED);
		a->token = r->token;
		a->lease_ms = r->lease_ms;
		answer_rec ar = {.status = WIRE_ST_RENEWED, .token = r->token, .lease_ms = r->lease_ms};
		if (old == NULL)
			rec_new_done(t, &p, n, r, &ar);
	} else if (old != NULL) {
		answer_repeat(t, old);
	} else {
		reject(t, &p, n, res_or_new(&p, r), BATON_E_NOT_HOLDER);
	}
	prep_free(&p);
	return BATON_OK;
}

/* Preallocates what end_holding() needs for a release of r's holding. */
static baton_err prep_ending(table *t, prep *p, const res *r, ending *e, const wire_request *req)
{
	int fail = 0;
	e->error = tmp_str(t, req->error, &fail);
	e->result = tmp_str(t, req->result, &fail);
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
	e->ender_id = rc != NULL ? rc->id : tmp_str(t, req->id, &fail);
	if (fail) {
		prep_free(&p);
		return BATON_E_NOMEM;
	}
	if (rc == old && rc != NULL) {
		/* Detach it first: ending the holding may evict the oldest ids. */
		lru_unlink(n, rc);
		rec_drop_answer(t, rc);
		rc->state = 0;
	}
	e->forget_at = after(now, req->has_remember ? req->remember_ms : t->cfg.done_ttl_ms);
	uint64_t token = r->token;
	p.done = NULL;
	p.prev = NULL;
	end_holding(t, r, now, e);
	answer_rec ar = {.status = e->ender_status, .token = token};
	if (rc == p.rc && rc != NULL)
		rec_new_done(t, &p, n, r, &ar);
	else if (rc != NULL)
		rec_finish_one(t, rc, &ar);
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
	if (old != NULL) {
		if (tbl_reserve(t, 1, 0, 0) != BATON_OK)
			return BATON_E_NOMEM;
		answer_repeat(t, old);
		return BATON_OK;
	}
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
	waiter_unlink_free(t, w);
	answer_rec a = {.status = WIRE_ST_CANCELLED};
	rec_finish_chain(t, wr, alias, &a);
	answer(t, n, r, p->rc->id, WIRE_ST_CANCELLED);
	rec_new_done(t, p, n, r, &a);
}

static baton_err step_cancel(table *t, int64_t now, tnode *n, const wire_request *req)
{
	rec *old = tbl_rec_find(t, n, req->id);
	res *r = tbl_res_find(t, req->resource);
	if (old != NULL) {
		if (tbl_reserve(t, 1, 0, 0) != BATON_OK)
			return BATON_E_NOMEM;
		answer_repeat(t, old);
		return BATON_OK;
	}
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
		answer(t, n, r, p.rc->id, WIRE_ST_CANCELLED);
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
	if (old != NULL) {
		if (tbl_reserve(t, 1, 0, 0) != BATON_OK)
			return BATON_E_NOMEM;
		answer_repeat(t, old);
		return BATON_OK;
	}
	prep p = {0};
	if (prep_rec(t, &p, r, req) != BATON_OK)
		return BATON_E_NOMEM;
	r = res_or_new(&p, r);
	if (r->done != NULL)
		forget_done(t, r);
	answer(t, n, r, p.rc->id, WIRE_ST_RESET);
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
	const char *id = diag && diag->has_id ? tmp_str(t, diag->id, &fail) : NULL;
	const char *resource = diag && diag->has_resource ? tmp_str(t, diag->resource, &fail) : NULL;
	const char *msg = diag && diag->message[0] ? tmp_str(t, diag->message, &fail) : baton_strerror(err);
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

/* ---- presence and deadlines ------------------------------------------------- */

/* Reserves the worst case of revoking or dropping every live request of n,
 * and preallocates one previous record per holding (chained by first word). */
static baton_err prep_offline(table *t, const tnode *n, prev_rec **chain)
{
	size_t fx = 0, touch = 0, names = 0;
	*chain = NULL;
	for (const rec *rc = n->live; rc != NULL; rc = rc->next) {
		touch++;
		names += rc->r->n_waiting;
		if (rc->state != REC_HOLD)
			continue;
		fx += 3;
		prev_rec *p = tbl_prev_alloc(NULL);
		if (p == NULL)
			goto fail;
		p->node = (tnode *)*chain;
		*chain = p;
	}
	if (tbl_reserve(t, fx, touch, names) == BATON_OK)
		return BATON_OK;
fail:
	while (*chain != NULL) {
		prev_rec *next = (prev_rec *)(*chain)->node;
		free(*chain);
		*chain = next;
	}
	return BATON_E_NOMEM;
}

static void go_offline(table *t, int64_t now, tnode *n, prev_rec *chain)
{
	while (n->live != NULL) {
		rec *rc = n->live;
		res *r = rc->r;
		if (rc->state == REC_HOLD) {
			prev_rec *p = chain;
			chain = (prev_rec *)p->node;
			ending e = {
			    .reason = WIRE_REASON_NODE_OFFLINE, .prev = p, .ender_status = WIRE_ST_REVOKED};
			end_holding(t, r, now, &e);
		} else {
			waiter *w = rc->u.w;
			rec *alias = w->alias;
			tbl_touch(t, r);
			waiter_unlink_free(t, w);
			answer_rec a = {.status = WIRE_ST_CANCELLED};
			rec_finish_chain(t, rc, alias, &a);
		}
	}
	while (n->lru_head != NULL)
		rec_forget(t, n->lru_head);
	assert(chain == NULL);
}

baton_err table_step_presence(table *t, int64_t now, const char *node, bool online)
{
	assert(!t->closed);
	tnode *n = tbl_node_get(t, node, 0);
	if (n == NULL)
		return BATON_OK; /* nothing to record about a node the table never named */
	if (online) {
		n->online = 1;
		return BATON_OK;
	}
	prev_rec *chain;
	if (prep_offline(t, n, &chain) != BATON_OK)
		return BATON_E_NOMEM;
	n->refs++;
	n->online = 0;
	go_offline(t, now, n, chain);
	tbl_node_unref(t, n);
	return BATON_OK;
}

static baton_err fire_lease(table *t, int64_t now, res *r)
{
	prev_rec *p = NULL;
	if (tbl_reserve(t, r->n_waiting + 3, 1, r->n_waiting) != BATON_OK ||
	    (p = tbl_prev_alloc(NULL)) == NULL)
		return BATON_E_NOMEM;
	ending e = {.reason = WIRE_REASON_LEASE_EXPIRED, .prev = p, .ender_status = WIRE_ST_REVOKED};
	end_holding(t, r, now, &e);
	return BATON_OK;
}

static baton_err fire_wait(table *t, waiter *w)
{
	rec *rc = w->rec, *alias = w->alias;
	res *r = rc->r;
	if (tbl_reserve(t, 1, 1, r->n_waiting) != BATON_OK)
		return BATON_E_NOMEM;
	tbl_touch(t, r);
	wire_answer *a = answer(t, rc->node, r, rc->id, WIRE_ST_BUSY);
	a->holder = holder_name(r);
	answer_rec ar = {.status = WIRE_ST_BUSY, .holder = r->hrec ? r->hrec->node : NULL};
	waiter_unlink_free(t, w);
	rec_finish_chain(t, rc, alias, &ar);
	return BATON_OK;
}

#define CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* Fires due deadlines one at a time; each is atomic, so on BATON_E_NOMEM the
 * ones already fired stay fired and the rest fire at the next tick. */
baton_err table_tick(table *t, int64_t now)
{
	assert(!t->closed);
	heap_item *it;
	while ((it = heap_top(&t->deadlines)) != NULL && it->when <= now) {
		baton_err err = BATON_OK;
		if (it->kind == TMR_WAIT) {
			err = fire_wait(t, CONTAINER_OF(it, waiter, tmr));
		} else if (it->kind == TMR_LEASE) {
			err = fire_lease(t, now, CONTAINER_OF(it, res, tmr));
		} else {
			res *r = CONTAINER_OF(it, res, tmr);
			err = tbl_reserve(t, 0, 1, 0);
			if (err == BATON_OK)
				forget_done(t, r);
		}
		if (err != BATON_OK)
			return err;
	}
	return BATON_OK;
}

int64_t table_next_deadline(const table *t)
{
	const heap_item *it = heap_top(&t->deadlines);
	return it != NULL ? it->when : INT64_MAX;
}

/* ---- lifetime -------------------------------------------------------------- */

void table_config_default(table_config *cfg)
{
	cfg->default_lease_ms = WIRE_LEASE_DEFAULT;
	cfg->max_lease_ms = WIRE_LEASE_MAX;
	cfg->done_ttl_ms = 600000;
	cfg->id_memory = 64;
}

table *table_new(const table_config *cfg)
{
	table *t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->cfg = *cfg;
	t->next_token = 1;
	hmap_init(&t->resources);
	hmap_init(&t->nodes);
	hmap_init(&t->recs);
	hmap_init(&t->waits);
	heap_init(&t->deadlines);
	return t;
}

/* Tears down in reference order: holdings and queues, then every record
 * (dropping its references), then the resources; nodes die with their last
 * reference and land in the graveyard. */
void table_free(table *t)
{
	if (t == NULL)
		return;
	tbl_batch_free(t);
	for (size_t i = 0; i < t->resources.cap; i++) {
		res *r = t->resources.vals[i];
		if (r == NULL)
			continue;
		while (r->wq_head != NULL)
			waiter_unlink_free(t, r->wq_head);
		r->hrec = NULL;
		if (r->done != NULL)
			tbl_done_unref(t, r->done);
		r->done = NULL;
		tbl_blob_free(r->meta);
		r->meta = NULL;
		r->flags = RES_IN_MAP;
	}
	for (size_t i = 0; i < t->recs.cap; i++) {
		rec *rc = t->recs.vals[i];
		if (rc == NULL)
			continue;
		if (rc->state == REC_DONE)
			rec_drop_answer(t, rc);
		res *r = rc->r;
		tnode *n = rc->node;
		free(rc);
		n->live = n->lru_head = n->lru_tail = NULL;
		tbl_res_unref(t, r);
		n->refs--;
	}
	for (size_t i = 0; i < t->resources.cap; i++) {
		res *r = t->resources.vals[i];
		if (r != NULL) {
			tbl_prev_drop(t, r);
			free(r);
		}
	}
	for (size_t i = 0; i < t->nodes.cap; i++)
		free(t->nodes.vals[i]);
	tbl_free_grave(t);
	hmap_deinit(&t->resources);
	hmap_deinit(&t->nodes);
	hmap_deinit(&t->recs);
	hmap_deinit(&t->waits);
	heap_deinit(&t->deadlines);
	free(t->vw);
	free(t->vw_each);
	free(t->vn);
	free(t->vn_each);
	free(t);
}
