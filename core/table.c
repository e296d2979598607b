/*
 * table.c - the lock table's objects and their lifetime: the table itself,
 * interned node ids, resources, remembered request ids (records), waiters
 * and the string blobs and graveyard every effect may point into. The rules
 * that use them live in table_req.c (requests), table_time.c (presence and
 * deadlines) and table_hold.c (answers, grants and the end of a holding);
 * see table.h and docs/table.md for the rules as implemented.
 *
 * Owns every resource, waiter, node id and remembered request id. Never does
 * I/O, never reads a clock, never logs, has no globals: time is passed in.
 * The helpers that allocate (tbl_*_alloc, tbl_blob, tbl_tmp_str and
 * tbl_node_get with create) are called before a step changes state, so
 * BATON_E_NOMEM always leaves the table as it was; the others cannot fail.
 * Invariants: a resource's holdings fit together (one once, up to permits
 * mutex, or any number of shared) and it has a FIFO of waiters only while
 * held, its head one that does not fit; an object an effect may point into is buried,
 * never freed, until table_advance(); a node keeps at most cfg.id_memory
 * finished records, oldest evicted first.
 * Costs: every helper is O(1) expected (hash maps) plus O(log n) heap work;
 * table_free() is O(everything).
 * Batch effects live in table_fx.c, views and restore in table_view.c.
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
const char *tbl_tmp_str(table *t, const char *s, int *fail)
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
	r->tmr.kind = TMR_FORGET;
	r->permits = 1;
	return r;
}

void tbl_prev_unref(table *t, prev_rec *p)
{
	if (--p->refs > 0)
		return;
	tnode *n = p->node;
	tbl_bury(t, p);
	tbl_node_unref(t, n);
}

void tbl_prev_drop(table *t, res *r)
{
	if (r->prev == NULL)
		return;
	prev_rec *p = r->prev;
	r->prev = NULL;
	tbl_prev_unref(t, p);
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
	if (r->flags & RES_TOUCHED) {
		r->flags &= (uint8_t)~RES_QUIET; /* a snapshot after all */
		return;
	}
	assert(t->n_touched < t->cap_touched);
	r->flags |= RES_TOUCHED;
	t->touched[t->n_touched++] = r;
	t->names_bound += r->n_waiting + r->n_holds;
}

/* Puts r in the batch's dirty set without a snapshot (room reserved as for
 * tbl_touch): its change is durable state no snapshot shows. */
void tbl_touch_quiet(table *t, res *r)
{
	if (r->flags & RES_TOUCHED)
		return;
	tbl_touch(t, r);
	r->flags |= RES_QUIET;
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
void tbl_forget_done(table *t, res *r)
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

void tbl_lru_unlink(tnode *n, rec *rc)
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
void tbl_rec_drop_answer(table *t, rec *rc)
{
	if (rc->status == WIRE_ST_BUSY && rc->u.holder != NULL)
		tbl_node_unref(t, rc->u.holder);
	else if (rc->status == WIRE_ST_DONE && rc->u.done != NULL)
		tbl_done_unref(t, rc->u.done);
	else if (rc->status == WIRE_ST_FAILED && rc->u.last != NULL)
		tbl_prev_unref(t, rc->u.last);
	rc->u.holder = NULL;
}

/* Forgets rc: out of the id map and its lists, references dropped, buried.
 * With log, a finished record's forgetting is a TABLE_ID_DEL of the batch
 * (room reserved); the caller that forgets a whole node logs DEL_NODE. */
void tbl_rec_forget(table *t, rec *rc, int log)
{
	tnode *n = rc->node;
	res *r = rc->r;
	hmap_remove(&t->recs, rec_hash(n, rc->id), rc);
	if (rc->state == REC_DONE) {
		if (log)
			tbl_id_change(t, TABLE_ID_DEL, n)->rec.id = rc->id;
		tbl_lru_unlink(n, rc);
		tbl_rec_drop_answer(t, rc);
	} else if (rc->state == REC_HOLD || rc->state == REC_WAIT) {
		live_unlink(n, rc);
		hmap_remove(&t->live, tbl_live_hash(n, r), rc);
	} else if (rc->state == REC_ALIAS) {
		t->n_aliases--;
	}
	tbl_bury(t, rc);
	tbl_res_unref(t, r);
	tbl_node_unref(t, n);
}

/* The batch's TABLE_ID_PUT of rc, just finished with answer a (room reserved).
 * Every string points into an object that is buried, not freed, if it dies
 * in this batch, so the change stays valid until table_advance(). */
static void log_put(table *t, const rec *rc, const answer_rec *a, uint64_t seq)
{
	table_id_record *x = &tbl_id_change(t, TABLE_ID_PUT, rc->node)->rec;
	x->id = rc->id;
	x->resource = rc->r->name;
	x->status = a->status;
	x->token = a->token;
	x->lease_ms = a->lease_ms;
	x->reason = a->reason;
	x->code = a->status == WIRE_ST_REJECTED ? a->code : BATON_OK;
	if (a->status == WIRE_ST_BUSY && a->holder != NULL)
		x->holder = a->holder->name;
	if (a->status == WIRE_ST_DONE)
		tbl_fill_done(a->done, &x->done);
	if (a->status == WIRE_ST_FAILED) {
		x->failures = a->lease_ms;
		tbl_fill_prev(a->last, &x->last);
		x->last.completed_at_ms = a->last->completed_at;
	}
	x->seq = seq;
}

/* Marks one record finished with answer a (taking references), newest in its
 * node's memory; evicts the oldest beyond cfg.id_memory. With log, the
 * change (PUT with seq, and any eviction's DEL) goes into the batch. */
void tbl_rec_finish(table *t, rec *rc, const answer_rec *a, uint64_t seq, int log)
{
	tnode *n = rc->node;
	if (rc->state == REC_DONE) {
		tbl_lru_unlink(n, rc);
		tbl_rec_drop_answer(t, rc);
	} else if (rc->state == REC_HOLD || rc->state == REC_WAIT) {
		live_unlink(n, rc);
		hmap_remove(&t->live, tbl_live_hash(n, rc->r), rc);
	} else if (rc->state == REC_ALIAS) {
		t->n_aliases--;
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
	} else if (a->status == WIRE_ST_FAILED) {
		rc->u.last = a->last;
		a->last->refs++;
	} else if (a->status == WIRE_ST_REJECTED) {
		rc->u.msg = a->msg;
	}
	tbl_list_push(&n->lru_head, rc);
	if (n->lru_tail == NULL)
		n->lru_tail = rc;
	n->n_lru++;
	if (log)
		log_put(t, rc, a, seq);
	while (n->n_lru > t->cfg.id_memory)
		tbl_rec_forget(t, n->lru_tail, 1);
}

void tbl_rec_finish_one(table *t, rec *rc, const answer_rec *a)
{
	tbl_rec_finish(t, rc, a, t->id_seq++, 1);
}

/* Finishes a primary record and every alias of it with the same answer. */
void tbl_rec_finish_chain(table *t, rec *rc, rec *alias, const answer_rec *a)
{
	while (alias != NULL) {
		rec *next = alias->u.alias;
		tbl_rec_finish_one(t, alias, a);
		alias = next;
	}
	tbl_rec_finish_one(t, rc, a);
}

/* ---- live requests and waiters ------------------------------------------- */

typedef struct live_key {
	const tnode *node;
	const res *r;
} live_key;

uint32_t tbl_live_hash(const tnode *n, const res *r)
{
	uint64_t x = (uint64_t)(uintptr_t)n * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)r;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(x >> 32);
}

static int live_eq(const void *val, const void *key)
{
	const rec *rc = val;
	const live_key *k = key;
	return rc->node == k->node && rc->r == k->r;
}

/* n's holding or queued acquire of r (its primary record), or NULL: a node
 * has at most one of them per resource. */
rec *tbl_live_find(const table *t, const tnode *n, const res *r)
{
	live_key k = {n, r};
	return hmap_find(&t->live, tbl_live_hash(n, r), live_eq, &k);
}

slot *tbl_wait_find(const table *t, const tnode *n, const res *r)
{
	rec *rc = tbl_live_find(t, n, r);
	return rc != NULL && rc->state == REC_WAIT ? rc->u.s : NULL;
}

slot *tbl_hold_find(const table *t, const tnode *n, const res *r)
{
	rec *rc = tbl_live_find(t, n, r);
	return rc != NULL && rc->state == REC_HOLD ? rc->u.s : NULL;
}

/* Enters an attached HOLD/WAIT record in the live map (room reserved). */
void tbl_live_add(table *t, rec *rc)
{
	hmap_insert(&t->live, tbl_live_hash(rc->node, rc->r), rc);
}

typedef struct cap_key {
	const res *r;
	uint32_t cap;
} cap_key;

static uint32_t cap_hash(const res *r, uint32_t cap)
{
	return tbl_live_hash((const tnode *)(uintptr_t)(cap * 0x85ebca6bu + 1), r);
}

static int cap_eq(const void *val, const void *key)
{
	const capb *b = val;
	const cap_key *k = key;
	return b->r == k->r && b->cap == k->cap;
}

capb *tbl_cap_find(const table *t, const res *r, uint32_t cap)
{
	cap_key k = {r, cap};
	return hmap_find(&t->caps, cap_hash(r, cap), cap_eq, &k);
}

/* A new empty bucket for (r, cap), not in the map yet; NULL: no memory. */
capb *tbl_cap_alloc(const res *r, uint32_t cap)
{
	capb *b = calloc(1, sizeof *b);
	if (b != NULL) {
		b->r = (res *)r;
		b->cap = cap;
		b->hash = cap_hash(r, cap);
	}
	return b;
}

/* Names rc (not attached yet) after (n, r) as the live request s in state
 * (REC_HOLD or REC_WAIT): in the id map, n's live list and the live map
 * (room reserved). The one place a live request is entered. */
void tbl_live_attach(table *t, rec *rc, tnode *n, res *r, slot *s, int state)
{
	tbl_rec_attach(t, rc, n, r);
	rc->state = (uint8_t)state;
	rc->u.s = s;
	tbl_list_push(&n->live, rc);
	tbl_live_add(t, rc);
	s->rec = rc;
}

/* Links the holding h (its record live, lease_ms and mode set, its lease
 * deadline not queued) at the tail of r's holdings with token and since,
 * its lease running until until (heap room reserved): the one place a
 * holding is linked, for a grant and for a restore alike. */
void tbl_holding_link(table *t, res *r, slot *h, uint64_t token, int64_t since, int64_t until)
{
	h->rec->state = REC_HOLD;
	h->rec->u.s = h;
	h->prev = r->h_tail;
	h->next = NULL;
	if (r->h_tail != NULL)
		r->h_tail->next = h;
	else
		r->h_head = h;
	r->h_tail = h;
	r->n_holds++;
	r->hmode = h->mode;
	h->token = token;
	h->since = since;
	h->tmr.kind = TMR_LEASE;
	heap_set(&t->deadlines, &h->tmr, until);
	t->n_held++;
}

/* Links the waiter w (mode, cap, lease_ms and meta set) for the record rc
 * (not attached yet) of node n at the tail of r's queue: the one place a
 * queue grows, for a live acquire and for a restore alike. A waiter with a
 * cap joins its bucket, taking nb when the bucket does not exist yet (nb
 * may be NULL when it does). Room in the id, live and cap maps and (when
 * wait_until is not INT64_MAX) the heap must be reserved. Cannot fail. */
void tbl_waiter_link(table *t, res *r, tnode *n, rec *rc, slot *w, capb *nb, int64_t wait_until)
{
	tbl_live_attach(t, rc, n, r, w, REC_WAIT);
	w->tmr.idx = HEAP_NONE;
	w->tmr.kind = TMR_WAIT;
	w->prev = r->wq_tail;
	w->next = NULL;
	if (r->wq_tail != NULL)
		r->wq_tail->next = w;
	else
		r->wq_head = w;
	r->wq_tail = w;
	r->n_waiting++;
	t->n_waiters++;
	if (w->cap != 0) {
		capb *b = tbl_cap_find(t, r, w->cap);
		if (b == NULL) {
			b = nb;
			hmap_insert(&t->caps, b->hash, b);
		}
		w->cprev = b->tail;
		w->cnext = NULL;
		if (b->tail != NULL)
			b->tail->cnext = w;
		else
			b->head = w;
		b->tail = w;
	}
	if (wait_until != INT64_MAX)
		heap_set(&t->deadlines, &w->tmr, wait_until);
}

static void cap_unlink(table *t, res *r, slot *w)
{
	capb *b = tbl_cap_find(t, r, w->cap);
	assert(b != NULL);
	if (w->cprev != NULL)
		w->cprev->cnext = w->cnext;
	else
		b->head = w->cnext;
	if (w->cnext != NULL)
		w->cnext->cprev = w->cprev;
	else
		b->tail = w->cprev;
	w->cprev = w->cnext = NULL;
	if (b->head == NULL) {
		hmap_remove(&t->caps, b->hash, b);
		free(b);
	}
}

/* Takes w out of its resource's queue, its cap bucket and the heap; the
 * slot and its records stay (the caller grants, finishes or forgets). */
void tbl_waiter_unlink(table *t, slot *w)
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
	w->prev = w->next = NULL;
	r->n_waiting--;
	t->n_waiters--;
	if (w->cap != 0)
		cap_unlink(t, r, w);
	heap_remove(&t->deadlines, &w->tmr);
}

/* A zeroed slot: the spare one if there is one, else a new one (NULL: no
 * memory). Effects never point into a slot, so one is reused at once. */
slot *tbl_slot_new(table *t)
{
	slot *s = t->spare;
	if (s == NULL)
		return calloc(1, sizeof *s);
	t->spare = NULL;
	memset(s, 0, sizeof *s);
	return s;
}

/* Frees s (its meta already gone), or keeps it as the spare. */
void tbl_slot_free(table *t, slot *s)
{
	if (t->spare == NULL)
		t->spare = s;
	else
		free(s);
}

/* Unlinks w and frees it (its records stay as they are). */
void tbl_waiter_unlink_free(table *t, slot *w)
{
	tbl_waiter_unlink(t, w);
	tbl_blob_free(w->meta);
	w->meta = NULL;
	tbl_slot_free(t, w);
}

/* A once resource remembered only by its streak starts forgetting it,
 * done_ttl after its last failure, once nothing holds or waits (heap room:
 * the caller has just taken a deadline out or reserved one). */
void tbl_settle(table *t, res *r)
{
	if (r->failures == 0 || r->n_holds != 0 || r->wq_head != NULL || r->tmr.idx != HEAP_NONE)
		return;
	int64_t at = r->prev->completed_at;
	uint64_t ttl = t->cfg.done_ttl_ms;
	r->tmr.kind = TMR_FORGET;
	heap_set(&t->deadlines, &r->tmr,
	         ttl >= (uint64_t)(INT64_MAX - 1 - at) ? INT64_MAX - 1 : at + (int64_t)ttl);
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
	hmap_init(&t->live);
	hmap_init(&t->caps);
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
	/* Empty the heap first: the objects that embed its items die below in
	 * no particular order. */
	for (size_t i = 0; i < t->deadlines.n; i++)
		t->deadlines.a[i]->idx = HEAP_NONE;
	t->deadlines.n = 0;
	for (size_t i = 0; i < t->resources.cap; i++) {
		res *r = t->resources.vals[i];
		if (r == NULL)
			continue;
		while (r->wq_head != NULL)
			tbl_waiter_unlink_free(t, r->wq_head);
		while (r->h_head != NULL) {
			slot *h = r->h_head;
			r->h_head = h->next;
			tbl_blob_free(h->meta);
			free(h);
		}
		r->h_tail = NULL;
		r->n_holds = 0;
		r->failures = 0;
		if (r->done != NULL)
			tbl_done_unref(t, r->done);
		r->done = NULL;
		r->flags = RES_IN_MAP;
	}
	for (size_t i = 0; i < t->recs.cap; i++) {
		rec *rc = t->recs.vals[i];
		if (rc == NULL)
			continue;
		if (rc->state == REC_DONE)
			tbl_rec_drop_answer(t, rc);
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
	hmap_deinit(&t->live);
	hmap_deinit(&t->caps);
	heap_deinit(&t->deadlines);
	free(t->spare);
	struct view_scratch *vs[] = {&t->vs, &t->vs_each};
	for (size_t i = 0; i < 2; i++) {
		free(vs[i]->w);
		free(vs[i]->names);
		free(vs[i]->q);
		free(vs[i]->h);
		free(vs[i]->wh);
		free(vs[i]->aliases);
	}
	free(t);
}
