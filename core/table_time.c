/*
 * table_time.c - presence and deadlines of the lock table: a node going
 * offline (table_step_presence), and the deadlines that fire on a tick
 * (table_tick): lease expiry, a wait's end, forgetting a once success or a
 * failure streak.
 *
 * Never does I/O, never reads a clock, never logs: now is passed in. Each
 * event reserves and preallocates its worst case before it changes state.
 * Invariant: every deadline lives in one min-heap, found by its embedded
 * item (heap_item.kind says which object embeds it).
 * Costs: presence offline O(the node's requests); a tick O(log n) per
 * deadline fired, plus O(log n) per waiter a lease's end grants or fails.
 */
#include "table_int.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- presence and deadlines ------------------------------------------------- */

/* Reserves the worst case of revoking or dropping every live request of n,
 * and preallocates one previous record per holding (chained by first word). */
static baton_err prep_offline(table *t, const tnode *n, prev_rec **chain)
{
	size_t fx = 0, touch = 0, names = 0, timers = 1;
	*chain = NULL;
	for (const rec *rc = n->live; rc != NULL; rc = rc->next) {
		touch++;
		names += rc->r->n_waiting + rc->r->n_holds;
		fx += rc->r->n_waiting + 3; /* a holding ends, or a head leaves: grants */
		timers += rc->r->n_waiting; /* each with a lease deadline */
		if (rc->state != REC_HOLD)
			continue;
		prev_rec *p = tbl_prev_alloc(NULL);
		if (p == NULL)
			goto fail;
		p->node = (tnode *)*chain;
		*chain = p;
	}
	if (tbl_reserve(t, fx, touch, names) == BATON_OK &&
	    heap_reserve(&t->deadlines, t->deadlines.n + timers) == BATON_OK)
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
			ending e = {.reason = WIRE_REASON_NODE_OFFLINE,
			            .prev = p,
			            .ender_status = WIRE_ST_REVOKED,
			            .h = rc->u.s};
			tbl_end_holding(t, r, now, &e);
		} else {
			slot *w = rc->u.s;
			rec *alias = w->alias;
			tbl_touch(t, r);
			tbl_waiter_unlink_free(t, w);
			answer_rec a = {.status = WIRE_ST_CANCELLED};
			tbl_rec_finish_chain(t, rc, alias, &a);
			tbl_grant_fitting(t, r, now);
		}
	}
	/* One change forgets them all durably (room reserved by prep_offline). */
	tbl_id_change(t, TABLE_ID_DEL_NODE, n);
	while (n->lru_head != NULL)
		tbl_rec_forget(t, n->lru_head, 0);
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

static baton_err fire_lease(table *t, int64_t now, slot *h)
{
	res *r = h->rec->r;
	prev_rec *p = NULL;
	if (tbl_reserve(t, r->n_waiting + 3, 1, r->n_waiting + r->n_holds) != BATON_OK ||
	    heap_reserve(&t->deadlines, t->deadlines.n + r->n_waiting + 1) != BATON_OK ||
	    (p = tbl_prev_alloc(NULL)) == NULL)
		return BATON_E_NOMEM;
	ending e = {.reason = WIRE_REASON_LEASE_EXPIRED, .prev = p, .ender_status = WIRE_ST_REVOKED, .h = h};
	tbl_end_holding(t, r, now, &e);
	return BATON_OK;
}

static baton_err fire_wait(table *t, int64_t now, slot *w)
{
	rec *rc = w->rec, *alias = w->alias;
	res *r = rc->r;
	if (tbl_reserve(t, r->n_waiting + 1, 1, r->n_waiting + r->n_holds) != BATON_OK ||
	    heap_reserve(&t->deadlines, t->deadlines.n + r->n_waiting) != BATON_OK)
		return BATON_E_NOMEM;
	tbl_touch(t, r);
	wire_answer *a = tbl_answer(t, rc->node, r, rc->id, WIRE_ST_BUSY);
	a->holder = tbl_holder_name(r);
	answer_rec ar = {.status = WIRE_ST_BUSY, .holder = r->h_head ? r->h_head->rec->node : NULL};
	tbl_waiter_unlink_free(t, w);
	tbl_rec_finish_chain(t, rc, alias, &ar);
	tbl_grant_fitting(t, r, now);
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
			err = fire_wait(t, now, CONTAINER_OF(it, slot, tmr));
		} else if (it->kind == TMR_LEASE) {
			err = fire_lease(t, now, CONTAINER_OF(it, slot, tmr));
		} else {
			res *r = CONTAINER_OF(it, res, tmr);
			err = tbl_reserve(t, 0, 1, 0);
			if (err == BATON_OK && r->done != NULL) {
				tbl_forget_done(t, r);
			} else if (err == BATON_OK) {
				/* a streak with nothing held or queued, done_ttl on */
				heap_remove(&t->deadlines, &r->tmr);
				r->failures = 0;
				tbl_touch(t, r);
			}
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
