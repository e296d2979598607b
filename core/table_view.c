/*
 * table_view.c - read-only views of the lock table (store, republish,
 * stats) and recovery (table_restore).
 *
 * Owns the view scratch arrays. Never does I/O, never changes the rules'
 * state except in table_restore(), which validates a whole resource before
 * it changes anything. Costs: a view is O(waiters); foreach O(resources).
 */
#include "table_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static baton_err grow2(table_waiter_view **vw, const char ***vn, size_t *cap, size_t need)
{
	if (need <= *cap)
		return BATON_OK;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	table_waiter_view *a = realloc(*vw, c * sizeof *a);
	if (a != NULL)
		*vw = a;
	const char **b = realloc(*vn, c * sizeof *b);
	if (b != NULL)
		*vn = b;
	if (a == NULL || b == NULL)
		return BATON_E_NOMEM;
	*cap = c;
	return BATON_OK;
}

static void fill_waiters(const res *r, table_waiter_view *vw, const char **vn)
{
	size_t i = 0;
	for (const waiter *w = r->wq_head; w != NULL; w = w->next, i++) {
		vw[i].node = w->rec->node->name;
		vw[i].id = w->rec->id;
		vw[i].lease_ms = w->lease_ms;
		vw[i].wait_until_ms = w->tmr.idx == HEAP_NONE ? INT64_MAX : w->tmr.when;
		vw[i].meta = w->meta;
		vn[i] = vw[i].node;
	}
}

static void fill_view(const res *r, table_waiter_view *vw, const char **vn, table_resource_view *out)
{
	memset(out, 0, sizeof *out);
	out->name = r->name;
	out->mode = (wire_mode)r->mode;
	if (r->hrec != NULL) {
		out->holder = r->hrec->node->name;
		out->holder_id = r->hrec->id;
		out->token = r->token;
		out->lease_ms = r->lease_ms;
		out->since_ms = r->since;
		out->lease_until_ms = r->tmr.when;
		out->meta = r->meta;
	}
	fill_waiters(r, vw, vn);
	out->waiting = vw;
	out->waiting_nodes = vn;
	out->n_waiting = r->n_waiting;
	tbl_fill_done(r->done, &out->done);
	out->forget_at_ms = r->done != NULL ? r->tmr.when : 0;
	tbl_fill_prev(r->prev, &out->previous);
}

baton_err table_resource_lookup(table *t, const char *resource, table_resource_view *out, bool *found)
{
	const res *r = tbl_res_find(t, resource);
	if (r == NULL || res_idle(r)) {
		*found = false;
		return BATON_OK;
	}
	if (grow2(&t->vw, &t->vn, &t->cap_vw, r->n_waiting) != BATON_OK)
		return BATON_E_NOMEM;
	fill_view(r, t->vw, t->vn, out);
	*found = true;
	return BATON_OK;
}

bool table_resource_get(table *t, const char *resource, table_resource_view *out)
{
	bool found = false;
	return table_resource_lookup(t, resource, out, &found) == BATON_OK && found;
}

void table_foreach(table *t, table_visit_fn *fn, void *ctx)
{
	for (size_t i = 0; i < t->resources.cap; i++) {
		const res *r = t->resources.vals[i];
		if (r == NULL || res_idle(r))
			continue;
		if (grow2(&t->vw_each, &t->vn_each, &t->cap_vw_each, r->n_waiting) != BATON_OK)
			continue;
		table_resource_view v;
		fill_view(r, t->vw_each, t->vn_each, &v);
		fn(ctx, &v);
	}
}

void table_snapshot_of(const table_resource_view *v, wire_snapshot *out)
{
	memset(out, 0, sizeof *out);
	out->resource = v->name;
	out->mode = v->mode;
	if (v->holder != NULL) {
		out->holder = v->holder;
		out->token = v->token;
		out->since_ms = v->since_ms;
		out->lease_until_ms = v->lease_until_ms;
		out->meta = v->meta;
	}
	out->waiting = v->waiting_nodes;
	out->n_waiting = v->waiting_nodes != NULL ? v->n_waiting : 0;
	out->done = v->done;
	out->previous = v->previous;
}

void table_restore_next_token(table *t, uint64_t next_token)
{
	if (next_token > t->next_token)
		t->next_token = next_token;
}

uint64_t table_next_token(const table *t)
{
	return t->next_token;
}

void table_counts_get(const table *t, table_counts *out)
{
	out->requests = t->n_requests;
	out->grants = t->n_grants;
	out->handoffs = t->n_handoffs;
	out->rejections = t->n_rejections;
	out->held = t->n_held;
	out->waiters = t->n_waiters;
	out->remembered = t->n_remembered;
	out->resources = t->resources.n;
}

/* ---- restore ---------------------------------------------------------------------- */

static int str_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= max;
}

static int waiter_ok(const table *t, const table_resource_view *v, size_t i)
{
	const table_waiter_view *w = &v->waiting[i];
	if (!str_ok(w->node, NAMES_NODE_MAX) || !str_ok(w->id, NAMES_ID_MAX) || w->lease_ms == 0 ||
	    strcmp(w->node, v->holder) == 0)
		return 0;
	for (size_t j = 0; j < i; j++)
		if (strcmp(v->waiting[j].node, w->node) == 0)
			return 0;
	const tnode *n = tbl_node_get((table *)t, w->node, 0);
	return n == NULL || tbl_rec_find(t, n, w->id) == NULL;
}

static baton_err restore_check(const table *t, const table_resource_view *v)
{
	if (!str_ok(v->name, NAMES_RESOURCE_MAX) ||
	    (v->mode != WIRE_MODE_ONCE && v->mode != WIRE_MODE_MUTEX) || tbl_res_find(t, v->name) != NULL)
		return BATON_E_INVAL;
	if (v->holder != NULL) {
		const tnode *n = tbl_node_get((table *)t, v->holder, 0);
		if (!str_ok(v->holder, NAMES_NODE_MAX) || !str_ok(v->holder_id, NAMES_ID_MAX) ||
		    v->token == 0 || v->token >= t->next_token || v->lease_ms == 0 || v->done.node != NULL ||
		    (n != NULL && tbl_rec_find(t, n, v->holder_id) != NULL))
			return BATON_E_INVAL;
	} else if (v->n_waiting > 0) {
		return BATON_E_INVAL;
	}
	if (v->done.node != NULL &&
	    (!str_ok(v->done.node, NAMES_NODE_MAX) || v->done.token == 0 || v->done.token >= t->next_token))
		return BATON_E_INVAL;
	if (v->previous.node != NULL && !str_ok(v->previous.node, NAMES_NODE_MAX))
		return BATON_E_INVAL;
	for (size_t i = 0; i < v->n_waiting; i++)
		if (!waiter_ok(t, v, i))
			return BATON_E_INVAL;
	return BATON_OK;
}

/* Everything one restored resource needs, allocated before it is linked in.
 * nodes[0..n_nodes) carry a temporary reference each. */
typedef struct restore_prep {
	res *r;
	rec *hrec;
	char *meta;
	done_rec *done;
	prev_rec *prev;
	rec **wrec;
	waiter **w;
	tnode **nodes; /* holder, done, previous, then the waiters */
	size_t n_nodes;
} restore_prep;

static void restore_prep_free(table *t, restore_prep *p, size_t n_waiting, int all)
{
	if (all) {
		free(p->r);
		free(p->hrec);
		tbl_blob_free(p->meta);
		free(p->done);
		free(p->prev);
		for (size_t i = 0; p->wrec != NULL && i < n_waiting; i++) {
			free(p->wrec[i]);
			if (p->w[i] != NULL)
				tbl_blob_free(p->w[i]->meta);
			free(p->w[i]);
		}
	}
	for (size_t i = 0; i < p->n_nodes; i++)
		if (p->nodes[i] != NULL)
			tbl_node_unref(t, p->nodes[i]);
	free(p->wrec);
	free(p->w);
	free(p->nodes);
}

static int intern(table *t, restore_prep *p, const char *name)
{
	tnode *n = name != NULL ? tbl_node_get(t, name, 1) : NULL;
	if (n != NULL)
		n->refs++;
	p->nodes[p->n_nodes++] = n;
	return name == NULL || n != NULL;
}

static baton_err restore_alloc(table *t, const table_resource_view *v, restore_prep *p)
{
	size_t nw = v->n_waiting;
	int ok = (p->nodes = calloc(nw + 3, sizeof *p->nodes)) != NULL;
	ok = ok && (p->wrec = calloc(nw + 1, sizeof *p->wrec)) != NULL &&
	     (p->w = calloc(nw + 1, sizeof *p->w));
	ok = ok && (p->r = tbl_res_alloc(v->name)) != NULL;
	ok = ok && intern(t, p, v->holder) && intern(t, p, v->done.node) && intern(t, p, v->previous.node);
	ok = ok && (v->holder == NULL || (p->hrec = tbl_rec_alloc(v->holder_id)) != NULL);
	ok = ok && (v->meta == NULL || (p->meta = tbl_blob(v->meta)) != NULL);
	ok = ok && (v->done.node == NULL || (p->done = tbl_done_alloc(v->done.result)) != NULL);
	ok = ok && (v->previous.node == NULL || (p->prev = tbl_prev_alloc(v->previous.error)) != NULL);
	for (size_t i = 0; ok && i < nw; i++) {
		const table_waiter_view *wv = &v->waiting[i];
		ok = intern(t, p, wv->node) && (p->wrec[i] = tbl_rec_alloc(wv->id)) != NULL &&
		     (p->w[i] = calloc(1, sizeof *p->w[i])) != NULL &&
		     (wv->meta == NULL || (p->w[i]->meta = tbl_blob(wv->meta)) != NULL);
	}
	ok = ok && hmap_reserve(&t->resources, t->resources.n + 1) == BATON_OK &&
	     hmap_reserve(&t->recs, t->recs.n + nw + 1) == BATON_OK &&
	     hmap_reserve(&t->waits, t->waits.n + nw) == BATON_OK &&
	     heap_reserve(&t->deadlines, t->deadlines.n + nw + 1) == BATON_OK;
	return ok ? BATON_OK : BATON_E_NOMEM;
}

static void restore_commit(table *t, const table_resource_view *v, restore_prep *p)
{
	res *r = p->r;
	r->mode = (uint8_t)v->mode;
	hmap_insert(&t->resources, r->hash, r);
	r->flags = RES_IN_MAP;
	if (p->hrec != NULL) {
		tbl_rec_attach(t, p->hrec, p->nodes[0], r);
		p->hrec->state = REC_HOLD;
		tbl_list_push(&p->nodes[0]->live, p->hrec);
		r->hrec = p->hrec;
		r->token = v->token;
		r->lease_ms = v->lease_ms;
		r->since = v->since_ms;
		r->meta = p->meta;
		r->tmr.kind = TMR_LEASE;
		heap_set(&t->deadlines, &r->tmr, v->lease_until_ms);
		t->n_held++;
	}
	if (p->done != NULL) {
		*p->done = (done_rec){.node = p->nodes[1],
		                      .refs = 1,
		                      .has_result = p->done->has_result,
		                      .token = v->done.token,
		                      .completed_at = v->done.completed_at_ms};
		p->nodes[1]->refs++;
		r->done = p->done;
		r->tmr.kind = TMR_FORGET;
		heap_set(&t->deadlines, &r->tmr, v->forget_at_ms);
		t->n_remembered++;
	}
	if (p->prev != NULL) {
		p->prev->node = p->nodes[2];
		p->nodes[2]->refs++;
		p->prev->token = v->previous.token;
		p->prev->reason = (uint8_t)v->previous.reason;
		r->prev = p->prev;
	}
	for (size_t i = 0; i < v->n_waiting; i++)
		tbl_waiter_link(t, r, p->nodes[3 + i], p->wrec[i], p->w[i], v->waiting[i].lease_ms,
		                p->w[i]->meta, v->waiting[i].wait_until_ms);
}

baton_err table_restore(table *t, const table_resource_view *v)
{
	assert(!t->closed);
	baton_err err = restore_check(t, v);
	if (err != BATON_OK)
		return err;
	if (v->holder == NULL && v->done.node == NULL)
		return BATON_OK; /* idle: only a previous, nothing to keep */
	restore_prep p = {0};
	err = restore_alloc(t, v, &p);
	if (err == BATON_OK)
		restore_commit(t, v, &p);
	restore_prep_free(t, &p, v->n_waiting, err != BATON_OK);
	return err;
}

/* ---- restoring the remembered ids --------------------------------------------------- */

static int record_ok(const table_id_record *x)
{
	if (!str_ok(x->node, NAMES_NODE_MAX) || !str_ok(x->id, NAMES_ID_MAX) ||
	    !str_ok(x->resource, NAMES_RESOURCE_MAX) || (unsigned)x->reason > WIRE_REASON_NODE_OFFLINE)
		return 0;
	switch (x->status) {
	case WIRE_ST_DONE:
		return str_ok(x->done.node, NAMES_NODE_MAX) && x->done.token != 0;
	case WIRE_ST_BUSY:
		return x->holder == NULL || str_ok(x->holder, NAMES_NODE_MAX);
	case WIRE_ST_REJECTED:
		return baton_err_code(x->code) != NULL;
	case WIRE_ST_RENEWED:
	case WIRE_ST_RELEASED:
	case WIRE_ST_CANCELLED:
	case WIRE_ST_RESET:
	case WIRE_ST_REVOKED:
		return 1;
	default: /* granted and queued are live requests, never finished ones */
		return 0;
	}
}

/* Interns name with a temporary reference (dropped by unhold()); NULL when
 * out of memory. */
static tnode *hold_node(table *t, const char *name)
{
	tnode *n = tbl_node_get(t, name, 1);
	if (n != NULL)
		n->refs++;
	return n;
}

static void unhold(table *t, tnode *n)
{
	if (n != NULL)
		tbl_node_unref(t, n);
}

/* The remembered success x names: r's own when it is the same one, else a
 * new copy naming dn (refs 0: the record takes the first). NULL when out of
 * memory. */
static done_rec *restore_done(const res *r, tnode *dn, const table_id_record *x)
{
	if (r != NULL && r->done != NULL && r->done->token == x->done.token && r->done->node == dn)
		return r->done;
	done_rec *d = tbl_done_alloc(x->done.result);
	if (d == NULL)
		return NULL;
	d->node = dn;
	dn->refs++;
	d->token = x->done.token;
	d->completed_at = x->done.completed_at_ms;
	return d;
}

baton_err table_restore_record(table *t, const table_id_record *x)
{
	assert(!t->closed);
	if (!record_ok(x))
		return BATON_E_INVAL;
	tnode *n = tbl_node_get(t, x->node, 0);
	if (n != NULL && tbl_rec_find(t, n, x->id) != NULL)
		return BATON_OK; /* live (a restored holding or wait) wins */
	res *r = tbl_res_find(t, x->resource);
	rec *rc = tbl_rec_alloc(x->id);
	res *zombie = r == NULL ? tbl_res_alloc(x->resource) : NULL;
	tnode *holder = NULL, *dn = NULL;
	done_rec *d = NULL;
	n = hold_node(t, x->node);
	int ok = rc != NULL && (r != NULL || zombie != NULL) && n != NULL &&
	         hmap_reserve(&t->recs, t->recs.n + 1) == BATON_OK && tbl_reserve(t, 0, 0, 0) == BATON_OK;
	if (ok && x->status == WIRE_ST_BUSY && x->holder != NULL)
		ok = (holder = hold_node(t, x->holder)) != NULL;
	if (ok && x->status == WIRE_ST_DONE)
		ok = (dn = hold_node(t, x->done.node)) != NULL && (d = restore_done(r, dn, x)) != NULL;
	if (ok) {
		/* A resource the table does not keep lives on outside the map,
		 * named only by its records, as one that went idle does. */
		tbl_rec_attach(t, rc, n, r != NULL ? r : zombie);
		answer_rec a = {.status = x->status,
		                .token = x->token,
		                .lease_ms = x->lease_ms,
		                .reason = x->reason,
		                .code = x->code,
		                .holder = holder,
		                .done = d};
		tbl_rec_finish(t, rc, &a, x->seq, 0);
		if (x->seq >= t->id_seq)
			t->id_seq = x->seq + 1;
	} else {
		free(rc);
		free(zombie);
	}
	unhold(t, dn);
	unhold(t, holder);
	unhold(t, n);
	return ok ? BATON_OK : BATON_E_NOMEM;
}
