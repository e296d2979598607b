/*
 * group_admin.h - the serving leader's side of membership requests
 * (docs/protocol.md, "Membership of a replicated group"): a request on
 * P/coordinator/admin/req/<asker> becomes a membership change
 * (group_change) and its answer goes to P/coordinator/admin/ans/<asker>.
 *
 * Knows the wire codec, topics and the group; nothing of locks. Requests
 * never enter the raft log: the configuration change libraft appends is
 * the replicated fact. Answers go out over the member's health connection,
 * which outlives a leadership (a leader that removed itself answers, then
 * steps down).
 */
#ifndef BATON_GROUP_ADMIN_H
#define BATON_GROUP_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "group.h"
#include "names.h"
#include "wire_admin.h"

#define GROUP_ADMIN_WAITERS 4

typedef struct group_admin {
	const char *prefix;
	uint64_t self;
	group *g;
	broker *const *out; /* where answers go (the health connection); *out NULL: nowhere */
	bool busy;          /* a change of ours is in flight */
	wire_admin_req pending;
	struct {
		char asker[NAMES_NODE_MAX + 1];
		char id[65];
	} waiting[GROUP_ADMIN_WAITERS]; /* who asked for the pending change */
	size_t n_waiting;
	char handed_id[65]; /* the request for which leadership was handed over (see hand_over_first) */
	int64_t handed_at;  /* mono ms */
	uint64_t answered;
} group_admin;

void group_admin_init(group_admin *a, const char *prefix, uint64_t self, group *g, broker *const *out);

/* True iff msg is a membership request (its topic), whatever its payload. */
bool group_admin_is_request(const group_admin *a, const broker_msg *msg);

/* Leader only: decodes msg and starts the change or answers at once (a bad
 * request, one that is so already, or refused). A request for the change
 * in flight joins it and gets its answer. A request to remove this member
 * (the serving leader) first hands leadership to another voter and is
 * answered not_leader, so that the asker's re-send is carried out by the
 * new leader without an election; asked again while still the leader
 * seconds later (the hand-over failed), libraft removes it and it steps
 * down. Never fails:
 * what cannot be answered is logged. */
void group_admin_handle(group_admin *a, const broker_msg *msg);

/* The config filter the serving connection subscribes to (cap >=
 * NAMES_TOPIC_MAX + 1). */
baton_err group_admin_filter(const group_admin *a, char *buf, size_t cap);

#endif
