/*
 * group.h - one member of a replicated coordinator group: libraft (C Raft
 * 0.15) with its libuv disk and TCP I/O, around the FSM adaptor of
 * group_fsm.h.
 *
 * Knows raft, libuv and the entry codec; nothing of locks or MQTT. The
 * daemon owns the loop: it polls group_fd() beside its other descriptors,
 * with group_timeout_ms(), and calls group_run() after every wake-up; every
 * callback (apply, snapshot, restore, barrier, transfer) runs inside
 * group_run() on the daemon's thread.
 *
 * The raft transport is plain TCP, with no TLS and no authentication: run it
 * on a private network or through a tunnel (docs/operations.md).
 */
#ifndef BATON_GROUP_H
#define BATON_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"
#include "glog.h"
#include "group_fsm.h"
#include "group_members.h"
#include "peers.h"

typedef struct group group;

typedef struct group_options {
	uint64_t id; /* this member: one of peers */
	const group_peer *peers;
	size_t n_peers;
	const char *dir;              /* raft data directory, created (0700) if missing */
	const char *bind;             /* listen here instead of this member's peer address (NULL: there) */
	unsigned election_timeout_ms; /* libraft randomises it between 1x and 2x */
	unsigned heartbeat_ms;
	unsigned snapshot_threshold; /* entries between snapshots; 0: libraft's 1024 */
	bool join;                   /* never bootstrap: start empty and wait to be added (--join) */
	group_callbacks cb;
} group_options;

/* Creates the member: its libuv loop, the raft data directory, libraft with
 * pre-vote on and the timeouts above, and starts it (loading the snapshot
 * and log: the restore callback runs from here). A directory with no raft
 * data is bootstrapped with the configuration of every peer first, so a
 * fresh group needs every member started with the same peers; unless join
 * is set: then it starts with no configuration and waits for a leader to
 * add it (group_change) and send it the log. Errors:
 * BATON_E_INVAL (id not among peers, bad options), BATON_E_IO (directory,
 * port, raft data), BATON_E_NOMEM; a message in err. */
baton_err group_new(const group_options *o, group **out, char *err, size_t cap);

/* Stops raft, closes the loop, frees g. NULL is fine. */
void group_free(group *g);

/* The descriptor to poll for reading, and the longest wait before
 * group_run() must be called (-1: none). */
int group_fd(group *g);
int group_timeout_ms(group *g);

/* Runs what is ready (raft I/O, timers, callbacks) without blocking, then
 * applies the entries committed meanwhile (group_fsm.h, deferred applying:
 * the barrier and transfer callbacks may run before the entries before them
 * are applied; by the time group_run() returns they all are). */
void group_run(group *g);

typedef enum group_role { GROUP_UNAVAILABLE, GROUP_FOLLOWER, GROUP_CANDIDATE, GROUP_LEADER } group_role;

typedef struct group_info {
	group_role role;
	uint64_t term;
	uint64_t leader; /* the known leader's id, 0: none */
	uint64_t applied, commit, last_index;
	bool failed; /* applying failed: the member must stop */
	baton_err why;
} group_info;

void group_info_get(group *g, group_info *out);
const char *group_role_name(group_role r);

/* Leader only: appends e to the log; it is applied (on every member) once
 * committed. BATON_E_BUSY when this member is not the leader,
 * BATON_E_INVAL, BATON_E_NOMEM. An entry accepted here may still never be
 * committed (the leader loses its office first): its inputs are lost, and
 * the agents re-send what they have outstanding when a new leader announces
 * a new started_at. */
baton_err group_propose(group *g, const glog_entry *e);

/* Leader only: done(ctx, true) once every entry before has been applied and
 * this member is still the leader of a quorum, done(ctx, false) if it lost
 * that. BATON_E_BUSY when not the leader (done is never called). */
baton_err group_barrier(group *g, void (*done)(void *ctx, bool ok), void *ctx);

/* Leader only: hands leadership to another voter (raft_transfer, target
 * chosen by libraft); done(ctx) when it happened or the election timeout
 * passed. BATON_E_BUSY when not the leader (done is never called). */
baton_err group_transfer(group *g, void (*done)(void *ctx), void *ctx);

/* Leader only: a membership change, one at a time (group_members.h,
 * gm_start): GM_PENDING and done(ctx, result, why) later, from group_run(),
 * or the final result at once. */
gm_result group_change(group *g, gm_op op, uint64_t id, const char *address, gm_done_fn done, void *ctx,
                       char *why, size_t cap);

/* The configuration this member knows (its latest, committed or not), sorted
 * by id; returns how many, at most cap. */
size_t group_members_get(group *g, gm_member *out, size_t cap);

/* The log index of the configuration this member knows (0: none yet, a member
 * started with join that nobody added): it changes with every membership
 * change. */
uint64_t group_conf_index(group *g);

#endif
