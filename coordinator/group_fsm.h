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
	baton_err why;      /* the first failure */
	uint64_t failed_at; /* the index that could not be applied */
} group_fsm;

/* Fills g (no allocation). Cannot fail. */
void group_fsm_init(group_fsm *g, const group_callbacks *cb);

/* The raft_fsm inside g, and g from it. */
struct raft_fsm *group_fsm_raft(group_fsm *g);

/* Error codes both ways: a raft code for a baton_err and a text for either. */
int group_raft_code(baton_err e);

#endif
