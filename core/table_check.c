/*
 * table_check.c - table_check(): a walk over every object and index of the
 * lock table that verifies the invariants the rest of core/ relies on, in
 * the spirit of SQLite's integrity check. Tests run it after every step.
 *
 * Read-only: never changes the table, never allocates, never does I/O (the
 * message is formatted by a small %s/%u/%llu/%zu writer into the caller's
 * buffer: core/ includes no stdio). Costs O(everything); it is not for the
 * hot path.
 */
#include "table_int.h"

#include <stdarg.h>
#include <string.h>

typedef struct chk {
	const table *t;
	char *msg;
	size_t cap;
	int bad;
	/* totals gathered by the walk, compared with the counters */
	uint64_t held, waiters, remembered, timers, live, caps, aliases;
} chk;

typedef struct out {
	char *p;
	size_t cap, n;
} out;

static void put_c(out *o, char ch)
{
	if (o->n + 1 < o->cap)
		o->p[o->n++] = ch;
}

static void put_s(out *o, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		put_c(o, *s);
}

static void put_u(out *o, unsigned long long v)
{
	char d[24];
	int n = 0;
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		put_c(o, d[--n]);
}

/* fmt with %s, %u, %llu and %zu only (all this file needs). */
static void format(out *o, const char *fmt, va_list ap)
{
	for (const char *f = fmt; *f != '\0'; f++) {
		if (*f != '%') {
			put_c(o, *f);
		} else if (f[1] == 's') {
			put_s(o, va_arg(ap, const char *));
			f++;
		} else if (f[1] == 'u') {
			put_u(o, va_arg(ap, unsigned));
			f++;
		} else if (f[1] == 'z' && f[2] == 'u') {
			put_u(o, va_arg(ap, size_t));
			f += 2;
		} else if (f[1] == 'l' && f[2] == 'l' && f[3] == 'u') {
			put_u(o, va_arg(ap, unsigned long long));
			f += 3;
		} else {
			put_c(o, *f);
		}
	}
	if (o->cap > 0)
		o->p[o->n] = '\0';
}

__attribute__((format(printf, 2, 3))) static int fail(chk *c, const char *fmt, ...)
{
	if (!c->bad && c->msg != NULL && c->cap > 0) {
		out o = {c->msg, c->cap, 0};
		va_list ap;
		va_start(ap, fmt);
		format(&o, fmt, ap);
		va_end(ap);
	}
	c->bad = 1;
	return 0;
}

/* it is in the heap at its place. */
static int in_heap(const table *t, const heap_item *it)
{
	return it->idx != HEAP_NONE && it->idx < t->deadlines.n && t->deadlines.a[it->idx] == it;
}

static int check_heap(chk *c)
{
	const heap *h = &c->t->deadlines;
	for (size_t i = 0; i < h->n; i++) {
		if (h->a[i]->idx != i)
			return fail(c, "heap item %zu records slot %u", i, h->a[i]->idx);
		if (i > 0 && h->a[(i - 1) / 2]->when > h->a[i]->when)
			return fail(c, "heap order broken at %zu", i);
	}
	return 1;
}

/* A primary record of a live request of r, pointing back at its slot. */
static int check_live_rec(chk *c, const res *r, const slot *s, int state)
{
	const rec *rc = s->rec;
	if (rc == NULL || rc->state != state || rc->u.s != s || rc->r != r)
		return fail(c, "%s: a slot's record does not point back at it", r->name);
	if (tbl_live_find(c->t, rc->node, r) != rc)
		return fail(c, "%s: %s's live request is not indexed", r->name, rc->node->name);
	if (tbl_rec_find(c->t, rc->node, rc->id) != rc)
		return fail(c, "%s: request %s/%s is not in the id map", r->name, rc->node->name, rc->id);
	for (const rec *a = s->alias; a != NULL; a = a->u.alias, c->aliases++) {
		if (a->state != REC_ALIAS || a->node != rc->node || a->r != r)
			return fail(c, "%s: an alias of %s names another request", r->name, rc->id);
		if (tbl_rec_find(c->t, a->node, a->id) != a)
			return fail(c, "%s: alias %s/%s is not in the id map", r->name, a->node->name, a->id);
	}
	c->live++;
	return 1;
}

static int check_holdings(chk *c, const res *r)
{
	uint32_t n = 0;
	uint64_t last = 0;
	const slot *prev = NULL;
	for (const slot *h = r->h_head; h != NULL; prev = h, h = h->next, n++) {
		if (h->prev != prev)
			return fail(c, "%s: holdings list broken", r->name);
		if (h->token <= last || h->token >= c->t->next_token)
			return fail(c, "%s: holding token %llu out of order or not yet issued", r->name,
			            (unsigned long long)h->token);
		last = h->token;
		if (h->mode != r->hmode)
			return fail(c, "%s: a %s holding beside a %s one", r->name,
			            wire_mode_name((wire_mode)h->mode), wire_mode_name((wire_mode)r->hmode));
		if (h->tmr.kind != TMR_LEASE || !in_heap(c->t, &h->tmr))
			return fail(c, "%s: holding %llu has no lease deadline", r->name,
			            (unsigned long long)h->token);
		if (!check_live_rec(c, r, h, REC_HOLD))
			return 0;
		c->timers++;
	}
	if (r->h_tail != prev || n != r->n_holds)
		return fail(c, "%s: %u holdings counted, %u linked", r->name, r->n_holds, n);
	if (n == 0)
		return 1;
	if (r->mode == WIRE_MODE_ONCE && (n > 1 || r->hmode != WIRE_MODE_ONCE))
		return fail(c, "%s: once resource with %u holdings", r->name, n);
	if (r->mode != WIRE_MODE_ONCE && r->hmode == WIRE_MODE_MUTEX && n > r->permits)
		return fail(c, "%s: %u mutex holdings over permits %u", r->name, n, r->permits);
	if (r->mode != WIRE_MODE_ONCE && r->hmode == WIRE_MODE_SHARED && r->permits != 1)
		return fail(c, "%s: shared holdings on permits %u", r->name, r->permits);
	if (r->mode != WIRE_MODE_ONCE && r->hmode == WIRE_MODE_ONCE)
		return fail(c, "%s: once holding of a lock", r->name);
	c->held += n;
	return 1;
}

/* w's cap bucket holds it. */
static int check_cap(chk *c, const res *r, const slot *w)
{
	if (r->mode != WIRE_MODE_ONCE)
		return fail(c, "%s: a waiter with max_failures on a lock", r->name);
	if (w->cap <= r->failures)
		return fail(c, "%s: a waiter with max_failures %u waits at streak %u", r->name, w->cap,
		            r->failures);
	const capb *b = tbl_cap_find(c->t, r, w->cap);
	if (b == NULL)
		return fail(c, "%s: no bucket for max_failures %u", r->name, w->cap);
	const slot *x = b->head;
	while (x != NULL && x != w)
		x = x->cnext;
	return x == w ? 1 : fail(c, "%s: a waiter is missing from its cap bucket", r->name);
}

static int check_queue(chk *c, const res *r)
{
	uint32_t n = 0;
	const slot *prev = NULL;
	for (const slot *w = r->wq_head; w != NULL; prev = w, w = w->next, n++) {
		if (w->prev != prev)
			return fail(c, "%s: queue list broken", r->name);
		if ((r->mode == WIRE_MODE_ONCE) != (w->mode == WIRE_MODE_ONCE) ||
		    (w->mode == WIRE_MODE_SHARED && r->permits != 1))
			return fail(c, "%s: a %s waiter on this resource", r->name,
			            wire_mode_name((wire_mode)w->mode));
		if (w->tmr.idx != HEAP_NONE && (w->tmr.kind != TMR_WAIT || !in_heap(c->t, &w->tmr)))
			return fail(c, "%s: a waiter's deadline is not in the heap", r->name);
		c->timers += w->tmr.idx != HEAP_NONE;
		if (w->cap != 0 && !check_cap(c, r, w))
			return 0;
		if (!check_live_rec(c, r, w, REC_WAIT))
			return 0;
	}
	if (r->wq_tail != prev || n != r->n_waiting)
		return fail(c, "%s: %u waiters counted, %u linked", r->name, r->n_waiting, n);
	if (r->wq_head != NULL && r->n_holds == 0)
		return fail(c, "%s: waiters behind no holding", r->name);
	if (r->wq_head != NULL && res_fits(r, r->wq_head->mode))
		return fail(c, "%s: the head of the queue fits and waits", r->name);
	c->waiters += n;
	return 1;
}

static int check_remembered(chk *c, const res *r)
{
	if (r->done != NULL) {
		if (r->mode != WIRE_MODE_ONCE || r->n_holds != 0 || r->wq_head != NULL || r->failures != 0)
			return fail(c, "%s: a remembered success beside holdings, waiters or a streak",
			            r->name);
		c->remembered++;
	}
	if (r->failures != 0 && (r->mode != WIRE_MODE_ONCE || r->prev == NULL))
		return fail(c, "%s: a streak of %u without a once last failure", r->name, r->failures);
	int forgetting = r->done != NULL || (r->failures != 0 && r->n_holds == 0 && r->wq_head == NULL);
	if (forgetting != in_heap(c->t, &r->tmr) || (forgetting && r->tmr.kind != TMR_FORGET))
		return fail(c, "%s: forget deadline %s", r->name,
		            forgetting ? "missing" : "armed for nothing");
	c->timers += forgetting;
	return 1;
}

static int check_resource(chk *c, const res *r)
{
	if (!(r->flags & RES_IN_MAP) || r->hash != tbl_res_hash(r->name) || tbl_res_find(c->t, r->name) != r)
		return fail(c, "%s: not indexed under its name", r->name);
	if (res_idle(r) && !(r->flags & RES_TOUCHED))
		return fail(c, "%s: idle resource kept after its batch", r->name);
	if (r->permits < 1 || r->permits > WIRE_PERMITS_MAX || (r->mode == WIRE_MODE_ONCE && r->permits != 1))
		return fail(c, "%s: permits %u", r->name, r->permits);
	return check_holdings(c, r) && check_queue(c, r) && check_remembered(c, r);
}

/* Every node's live list names only its holding and waiting records. */
static int check_nodes(chk *c)
{
	const hmap *m = &c->t->nodes;
	uint64_t live = 0;
	for (size_t i = 0; i < m->cap; i++) {
		const tnode *n = m->vals[i];
		if (n == NULL)
			continue;
		uint32_t lru = 0;
		for (const rec *rc = n->live; rc != NULL; rc = rc->next, live++)
			if (rc->node != n || (rc->state != REC_HOLD && rc->state != REC_WAIT))
				return fail(c, "node %s: a live list entry that is not its live request",
				            n->name);
		for (const rec *rc = n->lru_head; rc != NULL; rc = rc->next, lru++)
			if (rc->node != n || rc->state != REC_DONE)
				return fail(c, "node %s: a finished list entry that is not finished",
				            n->name);
		if (lru != n->n_lru || lru > c->t->cfg.id_memory)
			return fail(c, "node %s: %u finished ids, counted %u (memory %u)", n->name, lru,
			            n->n_lru, c->t->cfg.id_memory);
	}
	return live == c->live ? 1
	                       : fail(c, "live lists name %llu requests, the resources %llu",
	                              (unsigned long long)live, (unsigned long long)c->live);
}

static int check_counters(chk *c)
{
	const table *t = c->t;
	if (t->n_held != c->held || t->n_waiters != c->waiters || t->n_remembered != c->remembered)
		return fail(c, "counters held %llu waiters %llu remembered %llu, found %llu %llu %llu",
		            (unsigned long long)t->n_held, (unsigned long long)t->n_waiters,
		            (unsigned long long)t->n_remembered, (unsigned long long)c->held,
		            (unsigned long long)c->waiters, (unsigned long long)c->remembered);
	if (t->n_aliases != c->aliases)
		return fail(c, "%zu aliases counted, %llu linked", t->n_aliases,
		            (unsigned long long)c->aliases);
	if (t->live.n != c->live)
		return fail(c, "live map has %zu entries, the resources %llu", t->live.n,
		            (unsigned long long)c->live);
	if (t->deadlines.n != c->timers)
		return fail(c, "heap has %zu deadlines, the objects %llu", t->deadlines.n,
		            (unsigned long long)c->timers);
	for (size_t i = 0; i < t->caps.cap; i++) {
		const capb *b = t->caps.vals[i];
		if (b == NULL)
			continue;
		if (b->head == NULL || !(b->r->flags & RES_IN_MAP) || tbl_cap_find(t, b->r, b->cap) != b)
			return fail(c, "an empty or stray cap bucket (max_failures %u)", b->cap);
		for (const slot *w = b->head; w != NULL; w = w->cnext)
			if (w->cap != b->cap || w->rec->r != b->r || w->rec->state != REC_WAIT)
				return fail(c, "cap bucket %u holds a stranger", b->cap);
	}
	return 1;
}

baton_err table_check(const table *t, char *msg, size_t cap)
{
	chk c = {.t = t, .msg = msg, .cap = cap};
	if (msg != NULL && cap > 0)
		msg[0] = '\0';
	int ok = check_heap(&c);
	for (size_t i = 0; ok && i < t->resources.cap; i++)
		if (t->resources.vals[i] != NULL)
			ok = check_resource(&c, t->resources.vals[i]);
	ok = ok && check_nodes(&c) && check_counters(&c);
	return ok ? BATON_OK : BATON_E_INVAL;
}
