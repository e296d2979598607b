/*
 * publish.h - everything the coordinator publishes, for both of its modes
 * (the single process, daemon.c, and a group's serving leader,
 * daemon_group.c): the table's committed effects (answers and outcomes at
 * once, retained snapshots through the coalescer, snapdue.h), the presence
 * on P/coordinator, every snapshot after a (re)connect, the stale-snapshot
 * sweep and P/stats.
 *
 * Knows topics (through names.c), the codec and the broker edge; decides no
 * lock rule and reads no clock (callers pass `now`). One owner thread.
 */
#ifndef BATON_PUBLISH_H
#define BATON_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "names.h"
#include "snapdue.h"
#include "table.h"
#include "wire.h"

typedef struct publisher {
	const char *prefix;           /* borrowed */
	int64_t snapshot_interval_ms; /* the coalescer's throttle */
	broker *b;                    /* NULL: every publish is dropped (a member that does not serve) */
	snapdue due;
	char topic[NAMES_TOPIC_MAX + 1];
} publisher;

void pub_init(publisher *p, const char *prefix, int64_t snapshot_interval_ms); /* b NULL; cannot fail */
void pub_deinit(publisher *p);

/* A committed effect: answers (logged) and outcomes go out at once,
 * snapshots and clears become due (or go out at once when the coalescer has
 * no memory). */
void pub_effect(publisher *p, const table_effect *e);

/* Publishes every due snapshot with its resource's state in t now, when the
 * throttle allows (pub_due_flush_now: whatever the throttle says). */
bool pub_due_ready(const publisher *p, int64_t now);
int64_t pub_due_next_at(const publisher *p); /* INT64_MAX: nothing due */
void pub_due_flush(publisher *p, table *t, int64_t now);

/* Forgets every due snapshot unpublished (a leader that lost its office). */
void pub_due_drop(publisher *p);

/* The parts of pub_connected, for a caller that acts between them (the
 * single process marks its presence's send time before republishing):
 * the stale-snapshot sweep request, and every snapshot of t. */
void pub_sweep(publisher *p);
void pub_republish(publisher *p, table *t);

/* Clears a dead node's retained presence on P/node/<node>. */
void pub_clear_node(publisher *p, const char *node);

/* After a (re)connect: asks the broker for every retained snapshot (the
 * sweep: see pub_stale_state), publishes the presence, then every snapshot
 * of t. */
void pub_connected(publisher *p, table *t, const wire_presence *presence);

/* The coordinator's presence on P/coordinator (retained). */
void pub_presence(publisher *p, const wire_presence *presence);

/* A message that is not an input of the table: a retained P/state/<res> the
 * sweep brought back is cleared when t has no such resource (its clear was
 * lost by a broker killed before saving). Returns true iff m was such a
 * P/state message (handled), false for anything else. */
bool pub_stale_state(publisher *p, table *t, const broker_msg *m);

/* P/stats (QoS 0, retained). */
void pub_stats(publisher *p, const wire_stats *s);

#endif
