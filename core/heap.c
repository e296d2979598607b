/*
 * heap.c - binary min-heap of embedded deadline items (see heap.h).
 *
 * Owns the pointer array only. Never does I/O. Invariant: a[i]->idx == i for
 * every queued item, and a[parent]->when <= a[child]->when.
 * Costs: set/remove O(log n), top O(1), 8 bytes per queued item.
 */
#include "heap.h"

#include <assert.h>

#include <stdlib.h>

void heap_init(heap *h)
{
	h->a = NULL;
	h->n = 0;
	h->cap = 0;
}

void heap_deinit(heap *h)
{
	free(h->a);
	heap_init(h);
}

baton_err heap_reserve(heap *h, size_t n)
{
	if (n <= h->cap)
		return BATON_OK;
	size_t cap = h->cap ? h->cap : 64;
	while (cap < n)
		cap *= 2;
	heap_item **a = realloc(h->a, cap * sizeof *a);
	if (a == NULL)
		return BATON_E_NOMEM;
	h->a = a;
	h->cap = cap;
	return BATON_OK;
}

static void put(heap *h, size_t i, heap_item *it)
{
	h->a[i] = it;
	it->idx = (uint32_t)i;
}

static void sift_up(heap *h, size_t i)
{
	heap_item *it = h->a[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (h->a[p]->when <= it->when)
			break;
		put(h, i, h->a[p]);
		i = p;
	}
	put(h, i, it);
}

static void sift_down(heap *h, size_t i)
{
	heap_item *it = h->a[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->a[c + 1]->when < h->a[c]->when)
			c++;
		if (it->when <= h->a[c]->when)
			break;
		put(h, i, h->a[c]);
		i = c;
	}
	put(h, i, it);
}

void heap_set(heap *h, heap_item *it, int64_t when)
{
	it->when = when;
	if (it->idx == HEAP_NONE) {
		assert(h->n < h->cap); /* room must have been reserved */
		put(h, h->n++, it);
		sift_up(h, h->n - 1);
		return;
	}
	sift_up(h, it->idx);
	sift_down(h, it->idx);
}

void heap_remove(heap *h, heap_item *it)
{
	size_t i = it->idx;
	if (i == HEAP_NONE)
		return;
	it->idx = HEAP_NONE;
	heap_item *last = h->a[--h->n];
	if (i == h->n)
		return;
	put(h, i, last);
	sift_up(h, i);
	sift_down(h, last->idx);
}
