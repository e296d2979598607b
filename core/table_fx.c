/*
 * table_fx.c - the lock table's batches of effects; its read-only views and
 * recovery (restore) live in table_view.c, the rules in table_req.c,
 * table_time.c and table_hold.c (see table_int.h).
 *
 * Owns the batch arrays (effects, touched resources, dirty names, snapshot
 * waiting lists, queues and holdings). Never does I/O. Invariant between steps: the arrays have
 * room for every effect of the batch plus one snapshot per touched resource
 * and for every waiting list, so table_ready_get() cannot fail; steps reserve
 * that room before they change anything (tbl_reserve).
 * Costs: ready_get O(effects + waiting of touched), advance O(touched +
 * objects freed), resource_get O(waiting).
 */
#include "table_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static baton_err grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return BATON_OK;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * size);
	if (q == NULL)
		return BATON_E_NOMEM;
	*p = q;
	*cap = c;
	return BATON_OK;
}

/* The three snapshot lists grow together. */
static baton_err grow_names(table *t, size_t need)
{
	size_t c = t->cap_names;
	if (grow((void **)&t->names, &c, need, sizeof *t->names))
		return BATON_E_NOMEM;
	c = t->cap_names;
	if (grow((void **)&t->sq, &c, need, sizeof *t->sq))
		return BATON_E_NOMEM;
	c = t->cap_names;
	if (grow((void **)&t->sh, &c, need, sizeof *t->sh))
		return BATON_E_NOMEM;
	t->cap_names = c;
	return BATON_OK;
}

/* Room for fx more effects, touch more touched resources and names more
 * waiting-list entries, and for the id changes that go with them: a step
 * finishes at most one record per effect or touched resource reserved plus
 * every live alias (aliases get no answer of their own), and each finish
 * logs a PUT and evicts at most one record (a DEL); offline adds a
 * DEL_NODE. */
baton_err tbl_reserve(table *t, size_t fx, size_t touch, size_t names)
{
	size_t cap_t = t->cap_touched;
	size_t ids = t->n_idc + 2 * (fx + touch + t->n_aliases) + 1;
	if (grow((void **)&t->idc, &t->cap_idc, ids, sizeof *t->idc) ||
	    grow((void **)&t->fx, &t->cap_fx, t->n_fx + t->n_touched + fx + touch, sizeof *t->fx) ||
	    grow_names(t, t->names_bound + names) ||
	    grow((void **)&t->touched, &cap_t, t->n_touched + touch, sizeof *t->touched))
		return BATON_E_NOMEM;
	size_t cap_d = t->cap_touched;
	if (grow((void **)&t->dirty, &cap_d, cap_t, sizeof *t->dirty))
		return BATON_E_NOMEM;
	t->cap_touched = cap_t;
	return BATON_OK;
}

table_effect *tbl_fx(table *t, table_fx_kind kind)
{
	assert(t->n_fx + t->n_touched < t->cap_fx);
	table_effect *e = &t->fx[t->n_fx++];
	memset(e, 0, sizeof *e);
	e->kind = kind;
	return e;
}

table_id_change *tbl_id_change(table *t, table_id_kind kind, const tnode *n)
{
	assert(t->n_idc < t->cap_idc);
	table_id_change *c = &t->idc[t->n_idc++];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->rec.node = n->name;
	return c;
}

void tbl_batch_free(table *t)
{
	free(t->idc);
	t->idc = NULL;
	t->cap_idc = 0;
	free(t->fx);
	free(t->touched);
	free(t->dirty);
	free(t->names);
	free(t->sq);
	free(t->sh);
	t->sq = NULL;
	t->sh = NULL;
	t->fx = NULL;
	t->touched = NULL;
	t->dirty = NULL;
	t->names = NULL;
	t->cap_fx = t->cap_touched = t->cap_names = 0;
}

/* ---- batches ------------------------------------------------------------------ */

/* The snapshot's mode: once, or for a lock the mode of the earliest
 * holding, else of the head of the queue (PROTOCOL.md, second edition). */
wire_mode tbl_snapshot_mode(const res *r)
{
	if (r->mode == WIRE_MODE_ONCE)
		return WIRE_MODE_ONCE;
	if (r->h_head != NULL)
		return (wire_mode)r->h_head->mode;
	return r->wq_head != NULL ? (wire_mode)r->wq_head->mode : WIRE_MODE_MUTEX;
}

/* The retained snapshot of a live resource; names, q and h get its lists
 * (room for n_waiting, n_waiting and n_holds). */
static void res_snapshot(const res *r, const char **names, wire_queued *q, wire_holding *h, wire_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->resource = r->name;
	s->mode = tbl_snapshot_mode(r);
	if (r->h_head != NULL) {
		const slot *x = r->h_head;
		s->holder = x->rec->node->name;
		s->token = x->token;
		s->since_ms = x->since;
		s->lease_until_ms = x->tmr.when;
		s->meta = x->meta;
	}
	size_t i = 0;
	for (const slot *x = r->h_head; x != NULL; x = x->next, i++)
		h[i] =
		    (wire_holding){x->rec->node->name, x->token, (wire_mode)x->mode, x->since, x->tmr.when};
	s->holders = h;
	s->n_holders = i;
	i = 0;
	for (const slot *w = r->wq_head; w != NULL; w = w->next, i++) {
		names[i] = w->rec->node->name;
		q[i] = (wire_queued){names[i], (wire_mode)w->mode};
	}
	s->waiting = names;
	s->n_waiting = i;
	s->queue = q;
	s->n_queue = i;
	s->permits = r->mode == WIRE_MODE_ONCE ? 1 : r->permits;
	tbl_fill_done(r->done, &s->done);
	tbl_fill_prev(r->prev, &s->previous);
	s->failures = r->failures;
	if (r->failures != 0) {
		tbl_fill_prev(r->prev, &s->last_failure);
		s->last_failure.completed_at_ms = r->prev->completed_at;
	}
}

void table_ready_get(table *t, table_ready *out)
{
	if (!t->closed) {
		size_t used = 0;
		for (size_t i = 0; i < t->n_touched; i++) {
			res *r = t->touched[i];
			size_t nl = r->n_waiting + r->n_holds;
			assert(t->n_fx < t->cap_fx && used + nl <= t->cap_names);
			t->dirty[i] = r->name;
			if (r->flags & RES_QUIET)
				continue; /* only the store needs to know */
			table_effect *e = &t->fx[t->n_fx++];
			memset(e, 0, sizeof *e);
			e->resource = r->name;
			if (res_idle(r)) {
				e->kind = TABLE_FX_CLEAR;
				continue;
			}
			e->kind = TABLE_FX_SNAPSHOT;
			res_snapshot(r, t->names + used, t->sq + used, t->sh + used, &e->u.snapshot);
			used += nl;
		}
		t->closed = 1;
	}
	out->effects = t->fx;
	out->n_effects = t->n_fx;
	out->dirty = t->dirty;
	out->n_dirty = t->n_touched;
	out->next_token = t->next_token;
	out->ids = t->idc;
	out->n_ids = t->n_idc;
	out->next_id_seq = t->id_seq;
}

static void free_grave(table *t)
{
	while (t->grave != NULL) {
		void *next = *(void **)t->grave;
		free(t->grave);
		t->grave = next;
	}
}

/* Idle touched resources leave the map now that their clear is out; one
 * still named by remembered request ids lives on outside the map. */
void table_advance(table *t)
{
	for (size_t i = 0; i < t->n_touched; i++) {
		res *r = t->touched[i];
		r->flags &= (uint8_t) ~(RES_TOUCHED | RES_QUIET);
		if (!res_idle(r))
			continue;
		hmap_remove(&t->resources, r->hash, r);
		r->flags &= (uint8_t)~RES_IN_MAP;
		tbl_prev_drop(t, r);
		if (r->refs == 0)
			tbl_res_free(t, r);
	}
	t->n_fx = 0;
	t->n_idc = 0;
	t->n_touched = 0;
	t->names_bound = 0;
	t->closed = 0;
	free_grave(t);
}

void tbl_free_grave(table *t)
{
	free_grave(t);
}
