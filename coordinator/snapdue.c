/*
 * snapdue.c - the snapshot coalescer (see snapdue.h for the contract).
 *
 * Owns a set of due resource names: a hash map to answer "already due?" in
 * O(1) and an array that keeps the order they became due, so snapshots go
 * out in the order their changes happened. No I/O, no clock, no logging;
 * allocates one entry per newly due resource and grows the array by doubling.
 */
#include "snapdue.h"

#include <stdlib.h>
#include <string.h>

struct snapdue_entry {
	uint32_t hash;
	char name[];
};

static int entry_eq(const void *val, const void *key)
{
	return strcmp(((const snapdue_entry *)val)->name, key) == 0;
}

void snapdue_init(snapdue *q)
{
	memset(q, 0, sizeof *q);
	hmap_init(&q->by_name);
}

void snapdue_deinit(snapdue *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->order[i]);
	free(q->order);
	hmap_deinit(&q->by_name);
	snapdue_init(q);
}

bool snapdue_note(snapdue *q, const char *resource)
{
	size_t len = strlen(resource);
	uint32_t hash = hmap_hash(resource, len, 0);
	if (hmap_find(&q->by_name, hash, entry_eq, resource) != NULL)
		return true; /* already due */
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 64;
		snapdue_entry **l = realloc(q->order, cap * sizeof *l);
		if (l == NULL)
			return false;
		q->order = l;
		q->cap = cap;
	}
	snapdue_entry *e = malloc(sizeof *e + len + 1);
	if (e == NULL || hmap_reserve(&q->by_name, q->by_name.n + 1) != BATON_OK) {
		free(e);
		return false;
	}
	e->hash = hash;
	memcpy(e->name, resource, len + 1);
	hmap_insert(&q->by_name, hash, e);
	q->order[q->n++] = e;
	return true;
}

size_t snapdue_count(const snapdue *q)
{
	return q->n;
}

bool snapdue_ready(const snapdue *q, int64_t now)
{
	return q->n > 0 && now >= q->next_at;
}

int64_t snapdue_next_at(const snapdue *q)
{
	return q->next_at;
}

void snapdue_flush(snapdue *q, int64_t now, int64_t interval_ms, snapdue_publish_fn *publish, void *ctx)
{
	size_t kept = 0;
	for (size_t i = 0; i < q->n; i++) {
		snapdue_entry *e = q->order[i];
		if (!publish(ctx, e->name)) {
			q->order[kept++] = e; /* stays due, in order */
			continue;
		}
		hmap_remove(&q->by_name, e->hash, e);
		free(e);
	}
	q->n = kept;
	q->next_at = now + interval_ms;
}
