/*
 * group_fsm.h - the replicated group's state machine as libraft sees it
 * (struct raft_fsm): every committed command entry is decoded (glog.h) and
 * handed to the daemon's apply callback; snapshots and restores go to the
 * daemon's callbacks too.
 *
 * Knows raft and the entry codec, nothing of locks. Shared by the member
 * (group.c, libuv I/O) and the deterministic tests (raft/fixture.h), so both
 * run the same adaptor.
 *
 * Never skips an entry: when the apply callback fails (out of memory, a
 * store that cannot commit) or an entry does not decode, the adaptor
 * returns an error to libraft, which then leaves last_applied where it is
 * (tests/unit/test_group.c pins that), marks itself failed, and refuses
 * every later entry. The member must stop; it recovers from its snapshot
 * and log at its next start.
 *
 * Deferred applying (group_fsm_defer, what the member uses): libraft calls
 * the FSM inside its I/O callbacks, and a follower applies the entries the
 * leader has newly committed *before* it acknowledges the append that told
 * it so (libraft 0.15 src/replication.c, appendFollowerCb), which put every
 * follower's decode + table + store commit on the critical path of the next
 * request. Deferred, the adaptor only copies each committed entry into a
 * queue (in order) and returns; group_fsm_drain() applies the queue, the
 * same entries in the same order, once libraft's callbacks are done (the
 * member drains after every run of its loop, before it looks at anything).
 * A snapshot and a restore drain first, so a snapshot at index i holds
 * every entry up to i. A failure found while draining marks the adaptor
 * failed as above (libraft has then counted the entry applied: the member
 * stops all the same and rebuilds from its snapshot and log).
 */
#ifndef BATON_GROUP_FSM_H
#define BATON_GROUP_FSM_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"
#include "glog.h"

typedef struct group_callbacks {
	/* A committed entry at index. e and what it points to are borrowed for
	 * the call. Anything but BATON_OK stops the member. */
	baton_err (*apply)(void *ctx, uint64_t index, const glog_entry *e);
	/* The whole state in a new buffer allocated with raft_malloc. */
	baton_err (*snapshot)(void *ctx, void **buf, size_t *len);
	/* Replace the whole state with a snapshot's (buf borrowed). */
	baton_err (*restore)(void *ctx, const void *buf, size_t len);
	void *ctx;
} group_callbacks;

typedef struct group_fsm {
	struct raft_fsm fsm; /* give &fsm to raft_init or raft_fixture_grow */
	struct raft *raft;   /* set once the raft instance exists (for indexes) */
	group_callbacks cb;
	bool failed;
	baton_err why;                          /* the first failure */
	uint64_t failed_at;                     /* the index that could not be applied */
	bool defer;                             /* see group_fsm_defer */
	struct group_fsm_pending *head, **tail; /* committed, not yet applied */
} group_fsm;

/* Fills g (no allocation). Cannot fail. */
void group_fsm_init(group_fsm *g, const group_callbacks *cb);

/* From now on committed entries are queued and applied by
 * group_fsm_drain() (see above). */
void group_fsm_defer(group_fsm *g);

/* Applies every queued entry, in order (none after a failure). */
void group_fsm_drain(group_fsm *g);

/* True when entries wait for group_fsm_drain(). */
bool group_fsm_has_pending(const group_fsm *g);

/* Frees the queue without applying it (the member is stopping: those
 * entries are in the log and are applied again at its next start). */
void group_fsm_deinit(group_fsm *g);

/* The raft_fsm inside g, and g from it. */
struct raft_fsm *group_fsm_raft(group_fsm *g);

/* Error codes both ways: a raft code for a baton_err and a text for either. */
int group_raft_code(baton_err e);

#endif
