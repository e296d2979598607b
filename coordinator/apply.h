/*
 * apply.h - the one path of the coordinator's inputs into its state:
 * wire decode -> lock table (step, tick) -> store commit -> effects.
 *
 * Both modes use it. The single process applies each inbox batch it takes
 * from the broker as a GLOG_BATCH entry it never encodes; every member of a
 * replicated group applies every committed log entry (glog.h) through the
 * very same apply_entry(), so their tables and stores stay equal. Applying
 * is deterministic: it reads no clock (the entry carries the leader's
 * `now`, and time never goes back: an entry older than the last one applied
 * is applied at the last one's time), takes no decision of its own, and
 * publishes nothing: committed effects go to a callback the daemon provides,
 * which publishes them only when it serves (the single process; a group's
 * leader). The lock rules stay in core/table*.c.
 *
 * One owner thread. Logs through log.h (the daemon's logger).
 */
#ifndef BATON_APPLY_H
#define BATON_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"
#include "glog.h"
#include "metrics.h"
#include "store.h"
#include "table.h"

/* Called once per effect of a committed batch, in publish order. The effect
 * and everything it points to are valid for the call only. */
typedef void apply_effect_fn(void *ctx, const table_effect *e);

/* Called once per node whose online:false an entry stepped, before its
 * batch is committed (the single process clears that node's retained
 * presence once the batch is). */
typedef void apply_node_fn(void *ctx, const char *node);

typedef struct apply_options {
	const char *prefix;      /* the topic prefix; borrowed for the applier's life */
	table_config table;      /* the table's configuration at start */
	store *st;               /* borrowed; NULL: nothing is made durable (--state :memory:) */
	bool stop_on_nomem;      /* group: out of memory fails the entry (the member stops);
	                            single process: the one message is dropped and logged */
	apply_effect_fn *effect; /* NULL: effects are dropped */
	apply_node_fn *offline;  /* NULL: nobody is told */
	void *ctx;
	metrics *m; /* borrowed; NULL: nothing recorded */
	/* group: the effects of an entry are handed out before the store commit
	 * (the raft log already made the entry durable on a majority; the
	 * member's store is rebuilt from the snapshot and log at every start),
	 * so the store's work is off the answer's path. A failed commit is
	 * retried by apply_commit() without handing them out again. Single
	 * process: false (the store is what makes a batch durable). */
	bool publish_before_commit;
} apply_options;

typedef struct applier {
	const char *prefix;
	table *t;
	store *st;
	bool stop_on_nomem;
	apply_effect_fn *effect;
	apply_node_fn *offline;
	void *ctx;
	metrics *m;
	table_config cfg;
	bool pending; /* a batch is stepped but not yet committed (apply_commit retries it) */
	bool publish_before_commit;
	bool handed; /* the pending batch's effects are handed out already */
	/* Replicated state beside the table (a group's snapshot carries it). */
	int64_t last_now;       /* the latest `now` applied; 0: none yet */
	int64_t started_at;     /* started_at of the serving leader (group) */
	uint64_t leader_term;   /* of the last leadership entry applied */
	uint64_t leader_member; /* its member, 0: none */
	/* The single process's own outages (guard.h), set before each entry and
	 * never by a group (whose outages are LEADER entries): while hold is
	 * true lease and wait deadlines are held back (no tick); extend_ms > 0
	 * moves every live lease that much later after the entry's messages,
	 * before its tick, and is then reset to 0. */
	bool hold;
	int64_t extend_ms;
	/* The arrival (CLOCK_MONOTONIC ns) of a message that carries none (a
	 * group leader's own entry, decoded from the log), for the metrics'
	 * latency; 0: unknown, no latency is recorded. */
	int64_t arrived_ns;
	/* Counters and the bad-topic log throttle (not replicated state). */
	uint64_t bad_topics, bad_topics_suppressed;
	int64_t bad_topics_logged_at;
	char err[512];
} applier;

/* Creates the table (empty; no store read). On error nothing is left to
 * free: BATON_E_NOMEM, BATON_E_INVAL. */
baton_err apply_init(applier *a, const apply_options *o);
void apply_deinit(applier *a); /* frees the table; the store is the caller's */

/* Loads the store's state into the (fresh) table: the single process's
 * start. Errors as store_load; a->err says what. */
baton_err apply_load(applier *a);

/* Applies one entry at max(e->now, a->last_now), then commits the batch and
 * hands its effects to the callback:
 *   BATCH  each message in order: P/req/<node> is decoded and stepped (an
 *          invalid one is answered rejected), P/node/<node> is the node's
 *          presence; any other topic is ignored; then a->extend_ms, then
 *          table_tick (not while a->hold);
 *   TICK   table_tick;
 *   CONFIG the table's configuration from now on (the state is kept);
 *   LEADER every live lease moves e->leader.extend_ms later, started_at
 *          becomes max(now, started_at + 1), then table_tick.
 * Returns BATON_OK, or:
 *   BATON_E_NOMEM  (stop_on_nomem) a step failed: the table holds part of
 *                  the entry; the caller must stop and recover (a group
 *                  member restarts from its snapshot and log);
 *   store errors   the commit failed: the table is ahead of the store and
 *                  nothing was handed out; call apply_commit() to retry
 *                  (a->err says why).
 * Logs what it drops. */
baton_err apply_entry(applier *a, const glog_entry *e);

/* Commits the stepped batch and hands out its effects (what apply_entry
 * does last; with publish_before_commit, hands them out first); a retry
 * after a failed commit. BATON_OK at once when nothing is pending. Records
 * the commit, its time and the batch in a->m. */
baton_err apply_commit(applier *a);

/* What a stepped batch that will never be committed held. */
typedef struct apply_lost {
	size_t answers, resources, ids;
} apply_lost;

/* Gives up the stepped, uncommitted batch (the single process stopping
 * while its commits fail): *lost says what it held, its effects are
 * dropped, nothing is handed out. The table stays ahead of the store. */
void apply_abandon(applier *a, apply_lost *lost);

/* P/stats as the applier sees it at now: the table's counts, the rejected
 * topics, the token counter, the uptime since started_at_ms; the caller
 * adds what only it knows (backlog, serving). Cannot fail. */
void apply_stats(const applier *a, int64_t now, int64_t started_at_ms, wire_stats *out);

/* The applier's replicated state as a group snapshot (glog_snap_encode):
 * the fields above and the store's file image. The buffer is allocated with
 * alloc (NULL: malloc). BATON_E_INVAL without a store, BATON_E_NOMEM,
 * store errors. */
baton_err apply_snapshot(applier *a, void *(*alloc)(size_t), void **out, size_t *len);

/* Replaces the whole state with a snapshot's: the store's file takes the
 * image, the table is rebuilt from it, the fields are restored. On error
 * the state is unchanged when the image was refused (BATON_E_STORE_CORRUPT,
 * BATON_E_STORE_TOO_NEW), unknown otherwise: the caller must stop. */
baton_err apply_restore(applier *a, const void *buf, size_t len);

#endif
