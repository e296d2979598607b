/*
 * table_gap.c - what the table does about the coordinator's own outages:
 * moving every lease later by a gap in service (table_extend_leases), and
 * raising the token counter to a floor learnt from outside
 * (table_raise_next_token).
 *
 * Never does I/O, never reads a clock, never logs: now and the gap are passed
 * in. Agents count their leases by their own clocks, so a coordinator that
 * moves a lease later costs liveness (a dead holder's lock is taken back
 * later), never safety. Each function reserves its worst case before it
 * changes anything.
 * Costs: table_extend_leases O(h log n) for h holdings among n deadlines.
 */
#include "table_int.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>

#define CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* The holdings whose lease deadline is at or after since, in a new array
 * (*out, *n; NULL and 0 when none); the caller frees it. *names gets the
 * holders and waiters of their resources (what their snapshots list). */
static baton_err collect_leases(const table *t, int64_t since, slot ***out, size_t *n, size_t *names)
{
	const heap *h = &t->deadlines;
	slot **l = NULL;
	size_t k = 0;
	*names = 0;
	for (size_t i = 0; i < h->n; i++)
		k += h->a[i]->kind == TMR_LEASE && h->a[i]->when >= since;
	if (k > 0 && (l = malloc(k * sizeof *l)) == NULL)
		return BATON_E_NOMEM;
	k = 0;
	for (size_t i = 0; i < h->n; i++) {
		heap_item *it = h->a[i];
		if (it->kind != TMR_LEASE || it->when < since)
			continue;
		l[k] = CONTAINER_OF(it, slot, tmr);
		*names += l[k]->rec->r->n_waiting + l[k]->rec->r->n_holds; /* the snapshot lists both */
		k++;
	}
	*out = l;
	*n = k;
	return BATON_OK;
}

baton_err table_extend_leases(table *t, int64_t now, int64_t by_ms)
{
	slot **l = NULL;
	size_t n = 0, names = 0;
	baton_err err;

	assert(!t->closed);
	if (by_ms <= 0)
		return BATON_OK;
	/* A lease that ran out before the gap began is not the gap's doing. */
	err = collect_leases(t, now - by_ms, &l, &n, &names);
	if (err == BATON_OK && n > 0)
		err = tbl_reserve(t, 0, n, names);
	if (err == BATON_OK) {
		for (size_t i = 0; i < n; i++) {
			slot *h = l[i];
			int64_t when = h->tmr.when > INT64_MAX - by_ms ? INT64_MAX : h->tmr.when + by_ms;
			heap_set(&t->deadlines, &h->tmr, when);
			tbl_touch(t, h->rec->r); /* a new lease_until: snapshot and store rows */
		}
	}
	free(l);
	return err;
}

bool table_raise_next_token(table *t, uint64_t floor)
{
	assert(!t->closed);
	if (floor <= t->next_token)
		return false;
	t->next_token = floor;
	return true;
}
