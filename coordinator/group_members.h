/*
 * group_members.h - membership changes of a replicated group on libraft
 * 0.15: add a member (raft_add as a spare, then raft_assign to voter, which
 * libraft does only once the new member has caught up with the log), remove
 * one (raft_remove), one change at a time; and the configuration as a list.
 *
 * Knows libraft only (no libuv, MQTT, locks): group.c calls it on its raft,
 * tests/unit/test_group.c on libraft's in-memory fixture. Decides what a
 * request means against the configuration the leader knows (already done,
 * refused, or started), so that asking twice is safe.
 */
#ifndef BATON_GROUP_MEMBERS_H
#define BATON_GROUP_MEMBERS_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peers.h"

typedef enum gm_op { GM_ADD = 1, GM_REMOVE } gm_op;

/* What a change request came to. Every value but GM_PENDING is final. */
typedef enum gm_result {
	GM_DONE,        /* the change committed */
	GM_UNCHANGED,   /* it was so already: an add of a voter with that address, a remove of a non-member */
	GM_PENDING,     /* started: done() is called with the final result */
	GM_NOT_LEADER,  /* only the leader changes the configuration */
	GM_IN_PROGRESS, /* another change is not committed yet (one at a time) */
	GM_CONFLICT,    /* the id has another address, or the address another id */
	GM_LAST_VOTER,  /* it would remove the last voter */
	GM_TOO_MANY,    /* the group has GROUP_MAX_PEERS members already */
	GM_FAILED,      /* libraft refused it or it did not commit (leadership lost, no catch-up) */
} gm_result;

/* Its wire name: "done", "unchanged", "pending", "not_leader", "in_progress",
 * "conflict", "last_voter", "too_many", "failed". */
const char *gm_result_name(gm_result r);

typedef void (*gm_done_fn)(void *ctx, gm_result r, const char *why);

/* One change in flight; zero it once, then reuse it. Must outlive raft (libraft
 * holds req until its callback). */
typedef struct gm_change {
	struct raft_change add_req; /* raft_add's or the demotion's; the next step starts from its callback */
	struct raft_change req;     /* raft_assign's or raft_remove's */
	struct raft *r;
	gm_op op;
	uint64_t id;
	char address[GROUP_ADDR_MAX + 1];
	bool busy;
	int stage; /* 1: adding as a spare, 2: promoting to voter, 4: making a voter a standby, 3: removing */
	gm_done_fn done;
	void *ctx;
	char why[200];
} gm_change;

/* Starts op on member id (address: GM_ADD only) on r, which must be the
 * leader. Returns the result at once (why, cap bytes, says it in words),
 * or GM_PENDING and calls done(ctx, result, why) from within libraft later
 * (c->busy until then). An add of a member that is in the configuration as
 * a spare or standby (an earlier add that did not finish) only promotes it. */
gm_result gm_start(gm_change *c, struct raft *r, gm_op op, uint64_t id, const char *address, gm_done_fn done,
                   void *ctx, char *why, size_t cap);

typedef struct gm_member {
	uint64_t id;
	char address[GROUP_ADDR_MAX + 1];
	const char *role; /* "voter", "standby", "spare" */
} gm_member;

/* The configuration r knows (the latest, committed or not), sorted by id,
 * at most cap members; returns how many. */
size_t gm_members(const struct raft *r, gm_member *out, size_t cap);

#endif
