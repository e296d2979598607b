/*
 * table_view.c - read-only views of the lock table (store, republish,
 * stats) and recovery (table_restore, with the aliases of every holding and
 * waiter, and the id counters).
 *
 * Owns the view scratch arrays. Never does I/O, never changes the rules'
 * state except in table_restore(), which validates a whole resource before
 * it changes anything. Costs: a view is O(waiters); foreach O(resources).
 */
#include "table_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static int grow_one(void **p, size_t need, size_t size)
{
	void *q = realloc(*p, need * size);
	if (q == NULL)
		return 0;
	*p = q;
	return 1;
}

static size_t chain_len(const slot *s)
{
	size_t n = 0;
	for (const rec *a = s->alias; a != NULL; a = a->u.alias)
		n++;
	return n;
}

/* The aliases of every holding and waiter of r. */
static size_t res_aliases(const res *r)
{
	size_t n = 0;
	for (const slot *h = r->h_head; h != NULL; h = h->next)
		n += chain_len(h);
	for (const slot *w = r->wq_head; w != NULL; w = w->next)
		n += chain_len(w);
	return n;
}

/* Room for nw waiters, nh holdings and na aliases in a view scratch. */
static baton_err scratch_grow(struct view_scratch *vs, size_t nw, size_t nh, size_t na)
{
	if (na > vs->cap_a) {
		size_t c = vs->cap_a ? vs->cap_a : 4;
		while (c < na)
			c *= 2;
		if (!grow_one((void **)&vs->aliases, c, sizeof *vs->aliases))
			return BATON_E_NOMEM;
		vs->cap_a = c;
	}
	if (nw > vs->cap_w) {
		size_t c = vs->cap_w ? vs->cap_w : 16;
		while (c < nw)
			c *= 2;
		int ok = grow_one((void **)&vs->w, c, sizeof *vs->w);
		ok = grow_one((void **)&vs->names, c, sizeof *vs->names) && ok;
		ok = grow_one((void **)&vs->q, c, sizeof *vs->q) && ok;
		if (!ok)
			return BATON_E_NOMEM;
		vs->cap_w = c;
	}
	if (nh > vs->cap_h) {
		size_t c = vs->cap_h ? vs->cap_h : 4;
		while (c < nh)
			c *= 2;
		int ok = grow_one((void **)&vs->h, c, sizeof *vs->h);
		ok = grow_one((void **)&vs->wh, c, sizeof *vs->wh) && ok;
		if (!ok)
			return BATON_E_NOMEM;
		vs->cap_h = c;
	}
	return BATON_OK;
}

/* Lists s's alias ids at vs->aliases + *at (in chain order: the order they
 * finish in); their count in *n. */
static const char *const *fill_aliases(const slot *s, struct view_scratch *vs, size_t *at, size_t *n)
{
	*n = 0;
	if (s->alias == NULL)
		return NULL; /* vs->aliases may be NULL (none yet): no offset from it */
	const char **first = vs->aliases + *at;
	for (const rec *a = s->alias; a != NULL; a = a->u.alias, (*n)++)
		vs->aliases[(*at)++] = a->id;
	return first;
}

static void fill_lists(const res *r, struct view_scratch *vs)
{
	size_t i = 0, at = 0;
	for (const slot *w = r->wq_head; w != NULL; w = w->next, i++) {
		table_waiter_view *x = &vs->w[i];
		x->node = w->rec->node->name;
		x->id = w->rec->id;
		x->lease_ms = w->lease_ms;
		x->wait_until_ms = w->tmr.idx == HEAP_NONE ? INT64_MAX : w->tmr.when;
		x->meta = w->meta;
		x->mode = (wire_mode)w->mode;
		x->max_failures = w->cap;
		x->aliases = fill_aliases(w, vs, &at, &x->n_aliases);
		vs->names[i] = x->node;
		vs->q[i] = (wire_queued){x->node, x->mode};
	}
	i = 0;
	for (const slot *h = r->h_head; h != NULL; h = h->next, i++) {
		vs->h[i] = (table_holding_view){.node = h->rec->node->name,
		                                .id = h->rec->id,
		                                .token = h->token,
		                                .mode = (wire_mode)h->mode,
		                                .lease_ms = h->lease_ms,
		                                .since_ms = h->since,
		                                .lease_until_ms = h->tmr.when,
		                                .meta = h->meta};
		vs->h[i].aliases = fill_aliases(h, vs, &at, &vs->h[i].n_aliases);
		vs->wh[i] =
		    (wire_holding){vs->h[i].node, h->token, (wire_mode)h->mode, h->since, h->tmr.when};
	}
}

static void fill_view(const res *r, struct view_scratch *vs, table_resource_view *out)
{
	memset(out, 0, sizeof *out);
	out->name = r->name;
	out->mode = tbl_snapshot_mode(r);
	fill_lists(r, vs);
	if (r->h_head != NULL) {
		const table_holding_view *h = &vs->h[0];
		out->holder = h->node;
		out->holder_id = h->id;
		out->token = h->token;
		out->lease_ms = h->lease_ms;
		out->since_ms = h->since_ms;
		out->lease_until_ms = h->lease_until_ms;
		out->meta = h->meta;
	}
	out->holders = vs->h;
	out->n_holders = r->n_holds;
	out->snap_holders = vs->wh;
	out->waiting = vs->w;
	out->waiting_nodes = vs->names;
	out->queue = vs->q;
	out->n_waiting = r->n_waiting;
	out->permits = r->mode == WIRE_MODE_ONCE ? 1 : r->permits;
	tbl_fill_done(r->done, &out->done);
	out->forget_at_ms = r->tmr.idx != HEAP_NONE ? r->tmr.when : 0;
	tbl_fill_prev(r->prev, &out->previous);
	if (r->prev != NULL)
		out->previous.completed_at_ms = r->prev->completed_at;
	out->failures = r->failures;
}

baton_err table_resource_lookup(table *t, const char *resource, table_resource_view *out, bool *found)
{
	const res *r = tbl_res_find(t, resource);
	if (r == NULL || res_idle(r)) {
		*found = false;
		return BATON_OK;
	}
	if (scratch_grow(&t->vs, r->n_waiting, r->n_holds, res_aliases(r)) != BATON_OK)
		return BATON_E_NOMEM;
	fill_view(r, &t->vs, out);
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
		if (scratch_grow(&t->vs_each, r->n_waiting, r->n_holds, res_aliases(r)) != BATON_OK)
			continue;
		table_resource_view v;
		fill_view(r, &t->vs_each, &v);
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
	out->queue = v->queue;
	out->n_queue = v->queue != NULL ? v->n_waiting : 0;
	out->holders = v->snap_holders;
	out->n_holders = v->snap_holders != NULL ? v->n_holders : 0;
	out->permits = v->permits;
	out->done = v->done;
	out->previous = v->previous;
	out->previous.completed_at_ms = 0;
	out->failures = v->failures;
	if (v->failures != 0)
		out->last_failure = v->previous;
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

void table_restore_next_id_seq(table *t, uint64_t next_id_seq)
{
	if (next_id_seq > t->id_seq)
		t->id_seq = next_id_seq;
}

uint64_t table_next_id_seq(const table *t)
{
	return t->id_seq;
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

/* A view's holdings, or the one its legacy holder fields describe. */
typedef struct rview {
	const table_resource_view *v;
	const table_holding_view *h;
	size_t nh;
	table_holding_view one;
	int once;
	uint32_t permits;
} rview;

static void rview_init(rview *x, const table_resource_view *v)
{
	memset(x, 0, sizeof *x);
	x->v = v;
	x->h = v->holders;
	x->nh = v->n_holders;
	if (x->nh == 0 && v->holder != NULL) {
		x->one = (table_holding_view){.node = v->holder,
		                              .id = v->holder_id,
		                              .token = v->token,
		                              .mode = v->mode,
		                              .lease_ms = v->lease_ms,
		                              .since_ms = v->since_ms,
		                              .lease_until_ms = v->lease_until_ms,
		                              .meta = v->meta};
		x->h = &x->one;
		x->nh = 1;
	}
	x->once = v->mode == WIRE_MODE_ONCE;
	x->permits = v->permits ? v->permits : 1;
}

static int id_unknown(const table *t, const char *node, const char *id)
{
	const tnode *n = tbl_node_get((table *)t, node, 0);
	return n == NULL || tbl_rec_find(t, n, id) == NULL;
}

/* Whether node appears among the holdings or the first nw waiters. */
static int named_before(const rview *x, size_t nh, size_t nw, const char *node)
{
	for (size_t j = 0; j < nh; j++)
		if (strcmp(x->h[j].node, node) == 0)
			return 1;
	for (size_t j = 0; j < nw; j++)
		if (strcmp(x->v->waiting[j].node, node) == 0)
			return 1;
	return 0;
}

static int mode_ok(const rview *x, wire_mode m)
{
	if (x->once)
		return m == WIRE_MODE_ONCE;
	return m == WIRE_MODE_MUTEX || (m == WIRE_MODE_SHARED && x->permits == 1);
}

static int holders_ok(const table *t, const rview *x)
{
	uint64_t last = 0;
	size_t mutex = 0;
	for (size_t i = 0; i < x->nh; i++) {
		const table_holding_view *h = &x->h[i];
		if (!str_ok(h->node, NAMES_NODE_MAX) || !str_ok(h->id, NAMES_ID_MAX) || h->token <= last ||
		    h->token >= t->next_token || h->lease_ms == 0 || !mode_ok(x, h->mode) ||
		    h->mode != x->h[0].mode || named_before(x, i, 0, h->node) ||
		    !id_unknown(t, h->node, h->id))
			return 0;
		last = h->token;
		mutex += h->mode != WIRE_MODE_SHARED;
	}
	return x->once ? x->nh <= 1 : mutex <= x->permits;
}

/* Whether a waiter in mode would fit beside the view's holdings. */
static int view_fits(const rview *x, wire_mode m)
{
	if (x->nh == 0)
		return 1;
	if (m == WIRE_MODE_SHARED)
		return x->h[0].mode == WIRE_MODE_SHARED;
	if (m == WIRE_MODE_MUTEX)
		return x->h[0].mode == WIRE_MODE_MUTEX && x->nh < x->permits;
	return 0;
}

static int waiters_ok(const table *t, const rview *x)
{
	const table_resource_view *v = x->v;
	if (v->n_waiting > 0 && (x->nh == 0 || view_fits(x, v->waiting[0].mode)))
		return 0;
	for (size_t i = 0; i < v->n_waiting; i++) {
		const table_waiter_view *w = &v->waiting[i];
		if (!str_ok(w->node, NAMES_NODE_MAX) || !str_ok(w->id, NAMES_ID_MAX) || w->lease_ms == 0 ||
		    !mode_ok(x, w->mode) || w->max_failures > WIRE_FAILURES_MAX ||
		    (w->max_failures != 0 && (!x->once || w->max_failures <= v->failures)) ||
		    named_before(x, x->nh, i, w->node) || !id_unknown(t, w->node, w->id))
			return 0;
	}
	return 1;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The aliases of node's acquire id: valid ids the node has nowhere else,
 * distinct from id and from each other (sorted in a copy: a node may have
 * made many). */
static baton_err aliases_ok(const table *t, const char *node, const char *id, const char *const *al, size_t n)
{
	if (n > 0 && al == NULL)
		return BATON_E_INVAL;
	for (size_t i = 0; i < n; i++)
		if (!str_ok(al[i], NAMES_ID_MAX) || strcmp(al[i], id) == 0 || !id_unknown(t, node, al[i]))
			return BATON_E_INVAL;
	if (n < 2)
		return BATON_OK;
	const char **sorted = malloc(n * sizeof *sorted);
	if (sorted == NULL)
		return BATON_E_NOMEM;
	memcpy(sorted, al, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, cmp_id);
	baton_err err = BATON_OK;
	for (size_t i = 1; i < n && err == BATON_OK; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			err = BATON_E_INVAL;
	free(sorted);
	return err;
}

/* Every holding's and waiter's aliases (aliases_ok); their count in *n. */
static baton_err all_aliases_ok(const table *t, const rview *x, size_t *n)
{
	baton_err err = BATON_OK;
	*n = 0;
	for (size_t i = 0; i < x->nh && err == BATON_OK; i++) {
		const table_holding_view *h = &x->h[i];
		err = aliases_ok(t, h->node, h->id, h->aliases, h->n_aliases);
		*n += h->n_aliases;
	}
	for (size_t i = 0; i < x->v->n_waiting && err == BATON_OK; i++) {
		const table_waiter_view *w = &x->v->waiting[i];
		err = aliases_ok(t, w->node, w->id, w->aliases, w->n_aliases);
		*n += w->n_aliases;
	}
	return err;
}

/* Whether the view can be restored; *na gets its aliases' count. */
static baton_err restore_check(const table *t, const rview *x, size_t *na)
{
	const table_resource_view *v = x->v;
	if (!str_ok(v->name, NAMES_RESOURCE_MAX) || wire_mode_name(v->mode) == NULL ||
	    tbl_res_find(t, v->name) != NULL || x->permits > WIRE_PERMITS_MAX || (x->once && x->permits != 1))
		return BATON_E_INVAL;
	if (!holders_ok(t, x) || !waiters_ok(t, x))
		return BATON_E_INVAL;
	if (v->done.node != NULL &&
	    (!x->once || x->nh > 0 || v->failures != 0 || !str_ok(v->done.node, NAMES_NODE_MAX) ||
	     v->done.token == 0 || v->done.token >= t->next_token))
		return BATON_E_INVAL;
	if (v->previous.node != NULL && !str_ok(v->previous.node, NAMES_NODE_MAX))
		return BATON_E_INVAL;
	if (v->failures != 0 && (!x->once || v->previous.node == NULL))
		return BATON_E_INVAL;
	return all_aliases_ok(t, x, na);
}

/* Everything one restored resource needs, allocated before it is linked in.
 * nodes[0..n_nodes) carry a temporary reference each. */
typedef struct restore_prep {
	res *r;
	done_rec *done;
	prev_rec *prev;
	rec **rc; /* holdings, then waiters */
	slot **s;
	rec **al; /* their aliases, slot by slot, each slot's in chain order */
	size_t n_al;
	capb **b;      /* per waiter with a cap */
	tnode **nodes; /* done, previous, holdings, waiters */
	size_t n_nodes;
} restore_prep;

static void restore_prep_free(table *t, restore_prep *p, size_t n, int all)
{
	if (all) {
		free(p->r);
		free(p->done);
		free(p->prev);
		for (size_t i = 0; p->rc != NULL && i < n; i++) {
			free(p->rc[i]);
			if (p->s[i] != NULL)
				tbl_blob_free(p->s[i]->meta);
			free(p->s[i]);
		}
		for (size_t i = 0; p->al != NULL && i < p->n_al; i++)
			free(p->al[i]);
	}
	for (size_t i = 0; p->b != NULL && i < n; i++)
		free(p->b[i]); /* the ones not taken */
	for (size_t i = 0; i < p->n_nodes; i++)
		if (p->nodes[i] != NULL)
			tbl_node_unref(t, p->nodes[i]);
	free(p->rc);
	free(p->s);
	free(p->al);
	free(p->b);
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

/* The records of n aliases, appended to p->al. */
static int alloc_aliases(restore_prep *p, const char *const *al, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if ((p->al[p->n_al++] = tbl_rec_alloc(al[j])) == NULL)
			return 0;
	return 1;
}

/* The slot i (a holding for i < nh, else a waiter) with its record. */
static int alloc_slot(table *t, restore_prep *p, size_t i, const char *node, const char *id, const char *meta)
{
	return intern(t, p, node) && (p->rc[i] = tbl_rec_alloc(id)) != NULL &&
	       (p->s[i] = calloc(1, sizeof *p->s[i])) != NULL &&
	       (meta == NULL || (p->s[i]->meta = tbl_blob(meta)) != NULL);
}

static baton_err restore_alloc(table *t, const rview *x, size_t na, restore_prep *p)
{
	const table_resource_view *v = x->v;
	size_t nw = v->n_waiting, n = x->nh + nw;
	int ok = (p->nodes = calloc(n + 2, sizeof *p->nodes)) != NULL &&
	         (p->al = calloc(na + 1, sizeof *p->al)) != NULL;
	ok = ok && (p->rc = calloc(n + 1, sizeof *p->rc)) != NULL &&
	     (p->s = calloc(n + 1, sizeof *p->s)) != NULL && (p->b = calloc(n + 1, sizeof *p->b)) != NULL;
	ok = ok && (p->r = tbl_res_alloc(v->name)) != NULL;
	ok = ok && intern(t, p, v->done.node) && intern(t, p, v->previous.node);
	ok = ok && (v->done.node == NULL || (p->done = tbl_done_alloc(v->done.result)) != NULL);
	ok = ok && (v->previous.node == NULL || (p->prev = tbl_prev_alloc(v->previous.error)) != NULL);
	for (size_t i = 0; ok && i < x->nh; i++)
		ok = alloc_slot(t, p, i, x->h[i].node, x->h[i].id, x->h[i].meta) &&
		     alloc_aliases(p, x->h[i].aliases, x->h[i].n_aliases);
	for (size_t i = 0; ok && i < nw; i++) {
		const table_waiter_view *w = &v->waiting[i];
		ok = alloc_slot(t, p, x->nh + i, w->node, w->id, w->meta) &&
		     alloc_aliases(p, w->aliases, w->n_aliases) &&
		     (w->max_failures == 0 ||
		      (p->b[x->nh + i] = tbl_cap_alloc(p->r, w->max_failures)) != NULL);
	}
	ok = ok && hmap_reserve(&t->resources, t->resources.n + 1) == BATON_OK &&
	     hmap_reserve(&t->recs, t->recs.n + n + na) == BATON_OK &&
	     hmap_reserve(&t->live, t->live.n + n) == BATON_OK &&
	     hmap_reserve(&t->caps, t->caps.n + nw) == BATON_OK &&
	     heap_reserve(&t->deadlines, t->deadlines.n + n + 1) == BATON_OK;
	return ok ? BATON_OK : BATON_E_NOMEM;
}

/* Links k aliases (records al[0..k), in chain order) to s, n's live
 * request of r; *used counts the records taken. */
static void restore_aliases(table *t, res *r, tnode *n, slot *s, rec *const *al, size_t k, size_t *used)
{
	rec **link = &s->alias;
	for (size_t j = 0; j < k; j++) {
		rec *a = al[*used + j];
		tbl_rec_attach(t, a, n, r);
		a->state = REC_ALIAS;
		*link = a;
		link = &a->u.alias;
		t->n_aliases++;
	}
	*link = NULL;
	*used += k;
}

static void restore_holding(table *t, res *r, tnode *n, rec *rc, slot *h, const table_holding_view *hv)
{
	tbl_live_attach(t, rc, n, r, h, REC_HOLD);
	h->mode = (uint8_t)hv->mode;
	h->lease_ms = hv->lease_ms;
	h->tmr.idx = HEAP_NONE;
	tbl_holding_link(t, r, h, hv->token, hv->since_ms, hv->lease_until_ms);
}

static void restore_remembered(table *t, const table_resource_view *v, restore_prep *p, res *r)
{
	if (p->done != NULL) {
		*p->done = (done_rec){.node = p->nodes[0],
		                      .refs = 1,
		                      .has_result = p->done->has_result,
		                      .token = v->done.token,
		                      .completed_at = v->done.completed_at_ms};
		p->nodes[0]->refs++;
		r->done = p->done;
		r->tmr.kind = TMR_FORGET;
		heap_set(&t->deadlines, &r->tmr, v->forget_at_ms);
		t->n_remembered++;
	}
	if (p->prev != NULL) {
		p->prev->node = p->nodes[1];
		p->nodes[1]->refs++;
		p->prev->refs = 1;
		p->prev->token = v->previous.token;
		p->prev->reason = (uint8_t)v->previous.reason;
		p->prev->completed_at = v->previous.completed_at_ms;
		r->prev = p->prev;
	}
	r->failures = v->failures;
	if (r->failures != 0 && r->n_holds == 0 && v->forget_at_ms != 0)
		heap_set(&t->deadlines, &r->tmr, v->forget_at_ms);
	else
		tbl_settle(t, r);
}

static void restore_commit(table *t, const rview *x, restore_prep *p)
{
	const table_resource_view *v = x->v;
	res *r = p->r;
	r->mode = x->once ? WIRE_MODE_ONCE : WIRE_MODE_MUTEX;
	r->permits = (uint16_t)x->permits;
	hmap_insert(&t->resources, r->hash, r);
	r->flags = RES_IN_MAP;
	size_t used = 0;
	for (size_t i = 0; i < x->nh; i++) {
		restore_holding(t, r, p->nodes[2 + i], p->rc[i], p->s[i], &x->h[i]);
		restore_aliases(t, r, p->nodes[2 + i], p->s[i], p->al, x->h[i].n_aliases, &used);
	}
	for (size_t i = 0; i < v->n_waiting; i++) {
		size_t k = x->nh + i;
		const table_waiter_view *wv = &v->waiting[i];
		slot *w = p->s[k];
		w->lease_ms = wv->lease_ms;
		w->mode = (uint8_t)wv->mode;
		w->cap = (uint16_t)wv->max_failures;
		capb *nb = NULL;
		if (w->cap != 0 && tbl_cap_find(t, r, w->cap) == NULL) {
			nb = p->b[k];
			p->b[k] = NULL;
		}
		tbl_waiter_link(t, r, p->nodes[2 + k], p->rc[k], w, nb, wv->wait_until_ms);
		restore_aliases(t, r, p->nodes[2 + k], w, p->al, wv->n_aliases, &used);
	}
	restore_remembered(t, v, p, r);
}

baton_err table_restore(table *t, const table_resource_view *v)
{
	assert(!t->closed);
	rview x;
	rview_init(&x, v);
	size_t na = 0;
	baton_err err = restore_check(t, &x, &na);
	if (err != BATON_OK)
		return err;
	if (x.nh == 0 && v->done.node == NULL && v->failures == 0)
		return BATON_OK; /* idle: only a previous, nothing to keep */
	restore_prep p = {0};
	err = restore_alloc(t, &x, na, &p);
	if (err == BATON_OK)
		restore_commit(t, &x, &p);
	restore_prep_free(t, &p, x.nh + v->n_waiting, err != BATON_OK);
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
	case WIRE_ST_FAILED:
		return x->failures != 0 && str_ok(x->last.node, NAMES_NODE_MAX) && x->last.token != 0;
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

/* The last failure x names: r's own when it is the same one, else a new
 * copy naming ln (refs 0: the record takes the first). NULL: no memory. */
static prev_rec *restore_last(const res *r, tnode *ln, const table_id_record *x)
{
	if (r != NULL && r->prev != NULL && r->prev->token == x->last.token && r->prev->node == ln)
		return r->prev;
	prev_rec *p = tbl_prev_alloc(x->last.error);
	if (p == NULL)
		return NULL;
	p->node = ln;
	ln->refs++;
	p->token = x->last.token;
	p->reason = (uint8_t)x->last.reason;
	p->completed_at = x->last.completed_at_ms;
	return p;
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
	prev_rec *last = NULL;
	n = hold_node(t, x->node);
	int ok = rc != NULL && (r != NULL || zombie != NULL) && n != NULL &&
	         hmap_reserve(&t->recs, t->recs.n + 1) == BATON_OK && tbl_reserve(t, 0, 0, 0) == BATON_OK;
	if (ok && x->status == WIRE_ST_BUSY && x->holder != NULL)
		ok = (holder = hold_node(t, x->holder)) != NULL;
	if (ok && x->status == WIRE_ST_DONE)
		ok = (dn = hold_node(t, x->done.node)) != NULL && (d = restore_done(r, dn, x)) != NULL;
	if (ok && x->status == WIRE_ST_FAILED)
		ok = (dn = hold_node(t, x->last.node)) != NULL && (last = restore_last(r, dn, x)) != NULL;
	if (ok) {
		/* A resource the table does not keep lives on outside the map,
		 * named only by its records, as one that went idle does. */
		tbl_rec_attach(t, rc, n, r != NULL ? r : zombie);
		answer_rec a = {.status = x->status,
		                .token = x->token,
		                .lease_ms = x->status == WIRE_ST_FAILED ? x->failures : x->lease_ms,
		                .reason = x->reason,
		                .code = x->code,
		                .holder = holder,
		                .done = d,
		                .last = last};
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
