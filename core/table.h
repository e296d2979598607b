/*
 * table.h - the lock table: every rule of PROTOCOL.md about who holds, who
 * waits and what each node is told, as a pure state machine.
 *
 * No I/O, no clock reads, no logging. Time is passed in as `now`:
 * milliseconds since the Unix epoch as the caller's clock sees it, which must
 * never go back between calls (the daemon derives it from a monotonic clock).
 *
 * The usage loop (the shape of etcd raft's Node loop: feed events, take the
 * Ready batch, persist it, send it, then Advance):
 *
 *	table *t = table_new(&cfg);
 *	(recovery: table_restore_next_token, table_restore_next_id_seq,
 *	 table_restore, table_restore_record)
 *	for (;;) {
 *		wait for a request or until table_next_deadline(t);
 *		now = the clock;
 *		for each request in the batch that arrived:
 *			decode it; table_step_request(t, now, node, &req), or
 *			table_step_invalid(t, now, node, err, &diag) if it failed;
 *		for each presence change: table_step_presence(t, now, node, online);
 *		table_tick(t, now);
 *		table_ready rd;
 *		table_ready_get(t, &rd);
 *		make rd.dirty (read back with table_resource_lookup), rd.ids and
 *		rd.next_token durable, in one transaction;
 *		publish rd.effects in order (only after the commit: no answer
 *		goes out before the state it reports is on disk);
 *		table_advance(t);
 *	}
 *
 * A step that returns BATON_E_NOMEM changed nothing and added nothing to
 * the batch; the caller may take the batch so far and retry the event.
 * table_check() walks every invariant (tests call it after every step).
 *
 * Not thread-safe: one owner thread. All strings passed in are borrowed for
 * the call only; the table copies what it keeps.
 */
#ifndef BATON_TABLE_H
#define BATON_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"
#include "wire.h"

typedef struct table table;

typedef struct table_config {
	uint32_t default_lease_ms; /* acquire without lease_ms (WIRE_LEASE_DEFAULT) */
	uint32_t max_lease_ms;     /* a larger lease_ms is clamped to this (WIRE_LEASE_MAX) */
	uint64_t done_ttl_ms;      /* how long a once success is remembered (600000) */
	uint32_t id_memory;        /* finished request ids remembered per node (64) */
} table_config;

/* Fills *cfg with the defaults above. Cannot fail. */
void table_config_default(table_config *cfg);

/* Returns a new empty table (next token 1), or NULL when out of memory.
 * cfg is copied. Free with table_free(). */
table *table_new(const table_config *cfg);
void table_free(table *t); /* NULL is fine */

/* ---- events -------------------------------------------------------------- */

/* A decoded, valid request from node (a valid node id, taken from the topic).
 * Appends the effects the contract demands to the current batch. Returns
 * BATON_E_NOMEM (state unchanged, nothing appended) when out of memory;
 * protocol-level refusals (not_holder, mode_conflict) are effects, not errors. */
baton_err table_step_request(table *t, int64_t now, const char *node, const wire_request *req);

/* A request from node that failed to decode with err (a code with a wire
 * name); diag as filled by wire_request_decode. Appends the rejected answer
 * so that it keeps its place among the node's answers. Changes no state. */
baton_err table_step_invalid(table *t, int64_t now, const char *node, baton_err err, const wire_diag *diag);

/* node's presence changed (P/node/<node>). Offline revokes every holding of
 * the node (reason node_offline, next waiter granted), drops its queued
 * acquires and forgets its request ids, so requests it re-sends after coming
 * back are taken as new. Online only records it. */
baton_err table_step_presence(table *t, int64_t now, const char *node, bool online);

/* Runs every deadline <= now: lease expiry (revoke, hand off), wait expiry
 * (busy), forgetting remembered successes. */
baton_err table_tick(table *t, int64_t now);

/* The earliest pending deadline, or INT64_MAX when there is none. O(1). */
int64_t table_next_deadline(const table *t);

/* ---- effects --------------------------------------------------------------- */

typedef enum table_fx_kind {
	TABLE_FX_ANSWER = 1, /* publish u.answer to P/grant/<node> */
	TABLE_FX_OUTCOME,    /* publish u.outcome to P/outcome/<resource> */
	TABLE_FX_SNAPSHOT,   /* publish u.snapshot retained to P/state/<resource> */
	TABLE_FX_CLEAR,      /* publish an empty retained payload to P/state/<resource> */
} table_fx_kind;

typedef struct table_effect {
	table_fx_kind kind;
	const char *node;     /* ANSWER: the node the answer goes to */
	const char *resource; /* OUTCOME, SNAPSHOT, CLEAR; ANSWER: may be NULL */
	union {
		wire_answer answer;
		wire_outcome outcome;
		wire_snapshot snapshot;
	} u;
} table_effect;

/* The remembered answer of one finished request id: what a repeat of
 * (node, id) is answered (PROTOCOL.md: idempotency per (node, id)). */
typedef struct table_id_record {
	const char *node;
	const char *id;
	const char *resource;
	wire_status status; /* done, busy, renewed, released, cancelled, reset, revoked, rejected, failed */
	uint64_t token;     /* the answer's token (0: none) */
	uint32_t lease_ms;  /* renewed */
	wire_reason reason; /* revoked */
	baton_err code;     /* rejected: the rejection code */
	const char *holder; /* busy: the holder it named (NULL: none) */
	wire_done done;     /* done: the outcome it named */
	uint32_t failures;  /* failed: the streak it named */
	wire_previous last; /* failed: the last failure it named (with completed_at_ms) */
	uint64_t seq;       /* its place in the node's memory: a larger seq is newer */
} table_id_record;

typedef enum table_id_kind {
	TABLE_ID_PUT = 1, /* rec was remembered, or its remembered answer changed */
	TABLE_ID_DEL,     /* (rec.node, rec.id) was forgotten (evicted beyond id_memory) */
	TABLE_ID_DEL_NODE /* every id of rec.node was forgotten (the node went offline) */
} table_id_kind;

/* One change to the memory of finished request ids; DEL names only node and
 * id, DEL_NODE only node. Applied in order, the changes of every batch keep
 * a copy of that memory equal to the table's (live requests, and aliases,
 * are not in it: holdings and waiters stand for them). */
typedef struct table_id_change {
	table_id_kind kind;
	table_id_record rec;
} table_id_change;

/* One batch: everything the events since the last table_advance() produced. */
typedef struct table_ready {
	const table_effect *effects; /* in publish order */
	size_t n_effects;
	/* resources whose durable state changed: each has a snapshot or clear
	 * among the effects, except one whose only change no snapshot shows
	 * (a new alias of a waiter) */
	const char *const *dirty;
	size_t n_dirty;
	uint64_t next_token; /* the counter to make durable with the batch */
	/* Appended: the changes to the remembered request ids, in order, to make
	 * durable with the batch (a batch may have some and no effect: an
	 * offline node that held nothing). */
	const table_id_change *ids;
	size_t n_ids;
	/* The seq the next finished request id gets (table_id_record.seq), to
	 * make durable with the batch: a table restored with it numbers the
	 * ids it finishes as the one that kept running does, even when the
	 * newest ones were forgotten (a node that went offline). */
	uint64_t next_id_seq;
} table_ready;

/* Closes the current batch and describes it in *out: answers and outcome
 * events in the order the contract needs (a successor's granted before the
 * outcome that caused it), then one snapshot or clear per resource touched
 * (in rd.dirty order, skipping the ones no snapshot shows a change of).
 * Everything *out points to stays valid until table_advance() or
 * table_free(); no event may be fed in between. Cannot fail. */
void table_ready_get(table *t, table_ready *out);

/* Acknowledges the batch: its effects are published (or queued to be).
 * Frees the batch. Cannot fail. */
void table_advance(table *t);

/* ---- reading and restoring state (store, recovery, republish, stats) ----- */

typedef struct table_waiter_view {
	const char *node;
	const char *id;        /* the acquire's request id */
	uint32_t lease_ms;     /* lease it will get */
	int64_t wait_until_ms; /* INT64_MAX: waits forever */
	const char *meta;      /* NULL: none */
	wire_mode mode;        /* once for a once resource; mutex or shared for a lock */
	uint32_t max_failures; /* 0: none (once only) */
	/* The node's later acquire ids of this wait (aliases: a repeat of one
	 * is answered with this wait, and it finishes with it), in the order
	 * they finish: newest first. */
	const char *const *aliases;
	size_t n_aliases;
} table_waiter_view;

/* One current holding. */
typedef struct table_holding_view {
	const char *node;
	const char *id; /* the acquire's request id */
	uint64_t token;
	wire_mode mode;
	uint32_t lease_ms;
	int64_t since_ms;
	int64_t lease_until_ms;
	const char *meta; /* NULL: none */
	/* The node's later acquire ids of this holding (aliases), as for a
	 * waiter: newest first, the order they finish in. */
	const char *const *aliases;
	size_t n_aliases;
} table_holding_view;

typedef struct table_resource_view {
	const char *name;
	/* the snapshot's mode: once for a once resource; for a lock the mode
	 * of the earliest holding, else of the head of the queue */
	wire_mode mode;
	/* the earliest-granted holding (holders[0]); holder NULL when nobody
	 * holds. table_restore() reads these only when n_holders is 0 (a view
	 * of one holding built by hand or by an older store), as mode mode. */
	const char *holder;
	const char *holder_id; /* the acquire's request id */
	uint64_t token;
	uint32_t lease_ms;
	int64_t since_ms;
	int64_t lease_until_ms;
	const char *meta;
	/* every holding, in token order */
	const table_holding_view *holders;
	size_t n_holders;
	/* waiters, next first */
	const table_waiter_view *waiting;
	size_t n_waiting;
	uint32_t permits; /* lock: 1..WIRE_PERMITS_MAX (0 read as 1) */
	/* remembered success (done.node NULL: none) */
	wire_done done;
	/* when the remembered success, or a streak with nothing held or
	 * queued, is forgotten (0: not armed; a restore of such a streak then
	 * takes previous.completed_at_ms + done_ttl) */
	int64_t forget_at_ms;
	/* last holding that ended without success since the last success
	 * (previous.completed_at_ms: when it ended) */
	wire_previous previous;
	/* once: holdings that ended without success in a row (previous is the
	 * last of them when above 0) */
	uint32_t failures;
	/* for table_snapshot_of(); table_restore() ignores them (may be NULL):
	 * the waiters' node ids and (node, mode), and the holdings as the
	 * snapshot writes them */
	const char *const *waiting_nodes;
	const wire_queued *queue;
	const wire_holding *snap_holders;
} table_resource_view;

/* Fills *out with resource's state; false if the table has no such resource
 * (an idle one awaiting its clear counts as absent) or, rarely, no memory for
 * the waiter list.
 * The view stays valid until the next call that is not a table_*_get /
 * table_foreach / table_counts. */
bool table_resource_get(table *t, const char *resource, table_resource_view *out);

/* Like table_resource_get, but tells a resource the table does not have
 * (BATON_OK, *found false) from no memory for the view's waiter list
 * (BATON_E_NOMEM, *out and *found untouched): callers that act on absence,
 * such as deleting stored rows or clearing a snapshot, must not take one for
 * the other. */
baton_err table_resource_lookup(table *t, const char *resource, table_resource_view *out, bool *found);

/* Calls fn once per resource, in no particular order; fn must not call back
 * into the table except its read-only functions. */
typedef void table_visit_fn(void *ctx, const table_resource_view *v);
void table_foreach(table *t, table_visit_fn *fn, void *ctx);

/* The retained snapshot of a resource view (pointers into *v). Cannot fail. */
void table_snapshot_of(const table_resource_view *v, wire_snapshot *out);

/* Loads one resource as the store kept it (recovery, before any event;
 * call table_restore_next_token() first), with the aliases of its holdings
 * and waiters in the order given. An idle view is accepted and kept as
 * nothing.
 * Deadlines are taken as given; ones already past run at the next
 * table_tick(). BATON_E_INVAL if v is inconsistent (holder with token 0,
 * duplicate resource, token >= the counter, holdings that do not fit
 * together, a waiter that would fit at the head, a waiter's cap already
 * reached, a request id the node already has...), BATON_E_NOMEM. */
baton_err table_restore(table *t, const table_resource_view *v);

/* Loads one remembered finished request id as the store kept it (recovery,
 * after every table_restore() and before any event), oldest first: call it
 * in increasing rec->seq order, so that the node's memory is rebuilt in its
 * order; beyond cfg.id_memory the oldest are forgotten again (and reported as
 * TABLE_ID_DEL in the current batch). An id the table already knows for that
 * node (a restored holding or wait) wins: the record is ignored, BATON_OK.
 * Later ids are numbered after rec->seq. BATON_E_INVAL if rec is malformed
 * (bad names, a status no finished request has, done without outcome...),
 * BATON_E_NOMEM (table unchanged). */
baton_err table_restore_record(table *t, const table_id_record *rec);

/* Sets the token counter (recovery); it never goes back: a value below the
 * current one is ignored. */
void table_restore_next_token(table *t, uint64_t next_token);
uint64_t table_next_token(const table *t);

/* Sets the seq the next finished request id gets (recovery, before any
 * event; table_ready.next_id_seq as stored); like the token counter it
 * never goes back. table_restore_record() raises it past every seq it
 * loads. */
void table_restore_next_id_seq(table *t, uint64_t next_id_seq);
uint64_t table_next_id_seq(const table *t);

typedef struct table_counts {
	uint64_t requests; /* valid and invalid requests stepped */
	uint64_t grants;
	uint64_t handoffs;   /* grants to a waiter when a holding ended */
	uint64_t rejections; /* rejected answers */
	uint64_t held;       /* now */
	uint64_t waiters;    /* now */
	uint64_t remembered; /* now */
	uint64_t resources;  /* now */
} table_counts;

void table_counts_get(const table *t, table_counts *out);

/* After a gap of by_ms in the coordinator's service that ended at now (its
 * loop stalled, its process stopped, or its broker connection was lost):
 * moves every live holding's lease deadline later by by_ms, so that no lease
 * ends because of the coordinator's own outage. A holding whose deadline was
 * already before the gap began (now - by_ms) is left as it is. Appends a
 * snapshot of every resource it changes, and its rows to the batch's dirty
 * set. by_ms <= 0 changes nothing. BATON_E_NOMEM leaves the table unchanged.
 * Agents count leases by their own clocks, so this costs liveness only. */
baton_err table_extend_leases(table *t, int64_t now, int64_t by_ms);

/* Raises the token counter to floor (the next token granted is at least
 * floor) and returns true; returns false and changes nothing when the counter
 * is already at or above it. The new counter is made durable with the
 * batch (table_ready.next_token). Cannot fail. */
bool table_raise_next_token(table *t, uint64_t floor);

/* Walks every invariant of the table (in the spirit of SQLite's integrity
 * check): each index (resources, node ids, records, live requests, cap
 * buckets) agrees with the objects, every alias is indexed and counted,
 * holdings fit together (at most permits mutex holdings, never a mutex
 * beside another mode, at most one once holding) in token order, no waiter
 * that fits waits at the head, waiters exist only behind a holding, every
 * waiter's cap is above the streak, every deadline in the heap belongs to a
 * live object at its place, and the counters equal what they count.
 * Returns BATON_OK, or BATON_E_INVAL with the first violation described in
 * msg (cap bytes). Read-only; O(everything): for tests and debugging, not
 * the hot path. */
baton_err table_check(const table *t, char *msg, size_t cap);

#endif
