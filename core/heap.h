/*
 * heap.h - a binary min-heap of deadlines with O(log n) cancellation.
 *
 * Items are embedded in their owners; each remembers its slot (idx) so it can
 * be removed or moved without a search. The heap owns only its array.
 */
#ifndef BATON_HEAP_H
#define BATON_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"

#define HEAP_NONE UINT32_MAX /* idx of an item that is not in the heap */

typedef struct heap_item {
	int64_t when;
	uint32_t idx; /* HEAP_NONE when not queued */
	uint8_t kind; /* the owner's tag: which struct embeds this item */
} heap_item;

typedef struct heap {
	heap_item **a;
	size_t n, cap;
} heap;

void heap_init(heap *h);   /* cannot fail */
void heap_deinit(heap *h); /* frees the array; never touches the items (they may be gone) */

/* Makes room for n items in total. BATON_E_NOMEM leaves h unchanged. */
baton_err heap_reserve(heap *h, size_t n);

/* Queues it at it->when, or moves it there if already queued. Room must have
 * been reserved when it is not queued yet. O(log n). */
void heap_set(heap *h, heap_item *it, int64_t when);

/* Unqueues it; no-op if it is not queued. O(log n). */
void heap_remove(heap *h, heap_item *it);

/* The earliest item, or NULL. O(1). */
static inline heap_item *heap_top(const heap *h)
{
	return h->n ? h->a[0] : NULL;
}

#endif
