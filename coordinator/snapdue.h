/*
 * snapdue.h - the snapshot coalescer: which resources' retained snapshots
 * are due, in the order they became due, and when they may go out.
 *
 * The daemon notes a resource each time the table emits a snapshot or a
 * clear for it, and publishes the due set at most every --snapshot-interval
 * (snapdue_flush), each with the resource's state at that moment. Two
 * changes in quick succession thus cost one publish. The coalescer knows
 * resource names and time only: what "publish" means (look the resource up,
 * encode, send, or clear) is the caller's callback. No I/O, no clock reads.
 */
#ifndef BATON_SNAPDUE_H
#define BATON_SNAPDUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"

typedef struct snapdue_entry snapdue_entry;

/* Caller-allocated; the fields are private to snapdue.c. */
typedef struct snapdue {
	hmap by_name;          /* snapdue_entry by name: is it due already? */
	snapdue_entry **order; /* the same entries, in the order they became due */
	size_t n, cap;
	int64_t next_at; /* due snapshots wait until then (the throttle); 0: now */
} snapdue;

/* Publishes resource's snapshot (or its clear). Returns false to keep it due
 * (the caller had no memory to do it), true when it is done with it. */
typedef bool snapdue_publish_fn(void *ctx, const char *resource);

void snapdue_init(snapdue *q);   /* cannot fail; nothing due, no throttle */
void snapdue_deinit(snapdue *q); /* frees every entry; q can be init'ed again */

/* Notes that resource (NUL-terminated, borrowed; copied) is due. A resource
 * already due keeps its place. Returns false, changing nothing, when out of
 * memory: the caller then publishes it at once instead. */
bool snapdue_note(snapdue *q, const char *resource);

/* How many resources are due. */
size_t snapdue_count(const snapdue *q);

/* True iff something is due and the throttle lets it out at now. */
bool snapdue_ready(const snapdue *q, int64_t now);

/* The instant the due set may go out (meaningful when snapdue_count > 0). */
int64_t snapdue_next_at(const snapdue *q);

/* Calls publish for every due resource, in order; those it keeps stay due,
 * in order, and the rest are forgotten. The throttle is then set to
 * now + interval_ms. Cannot fail. */
void snapdue_flush(snapdue *q, int64_t now, int64_t interval_ms, snapdue_publish_fn *publish, void *ctx);

#endif
