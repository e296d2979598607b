/*
 * table_fx.c - the lock table's batches of effects; its read-only views and
 * recovery (restore) live in table_view.c, the rules in table_req.c,
 * table_time.c and table_hold.c (see table_int.h).
 *
 * Owns the batch arrays (effects, touched resources, dirty names, snapshot
 * waiting lists). Never does I/O. Invariant between steps: the arrays have
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
	    grow((void **)&t->names, &t->cap_names, t->names_bound + names, sizeof *t->names) ||
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
	t->fx = NULL;
	t->touched = NULL;
	t->dirty = NULL;
	t->names = NULL;
	t->cap_fx = t->cap_touched = t->cap_names = 0;
}

/* ---- batches ------------------------------------------------------------------ */

/* The retained snapshot of a live resource; names gets its waiting list. */
static void res_snapshot(const res *r, const char **names, wire_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->resource = r->name;
	s->mode = (wire_mode)r->mode;
	if (r->hrec != NULL) {
		s->holder = r->hrec->node->name;
		s->token = r->token;
		s->since_ms = r->since;
		s->lease_until_ms = r->tmr.when;
		s->meta = r->meta;
	}
	size_t i = 0;
	for (const waiter *w = r->wq_head; w != NULL; w = w->next)
		names[i++] = w->rec->node->name;
	s->waiting = names;
	s->n_waiting = i;
	tbl_fill_done(r->done, &s->done);
	tbl_fill_prev(r->prev, &s->previous);
}

void table_ready_get(table *t, table_ready *out)
{
	if (!t->closed) {
		size_t used = 0;
		for (size_t i = 0; i < t->n_touched; i++) {
			res *r = t->touched[i];
			assert(t->n_fx < t->cap_fx && used + r->n_waiting <= t->cap_names);
			table_effect *e = &t->fx[t->n_fx++];
			memset(e, 0, sizeof *e);
			e->resource = r->name;
			t->dirty[i] = r->name;
			if (res_idle(r)) {
				e->kind = TABLE_FX_CLEAR;
				continue;
			}
			e->kind = TABLE_FX_SNAPSHOT;
			res_snapshot(r, t->names + used, &e->u.snapshot);
			used += r->n_waiting;
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
		r->flags &= (uint8_t)~RES_TOUCHED;
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
