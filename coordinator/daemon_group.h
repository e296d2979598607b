/*
 * daemon_group.h - the coordinator as one member of a replicated group
 * (--peers): the owner loop around group.c (raft), apply.c (the state) and
 * two broker connections (the leader's serving one, and the member's own
 * health one).
 */
#ifndef BATON_DAEMON_GROUP_H
#define BATON_DAEMON_GROUP_H

#include "config.h"
#include "daemon.h"
#include "group.h"

typedef struct daemon_group_options {
	uint64_t member;
	group_peer peers[GROUP_MAX_PEERS];
	size_t n_peers;
	const char *raft_dir;
	const char *raft_bind; /* NULL: listen on this member's --peers address */
	unsigned election_timeout_ms;
	unsigned heartbeat_ms;
	unsigned snapshot_threshold; /* 0: libraft's default */
} daemon_group_options;

/* Runs the member until sig->stop; a leader hands leadership over first.
 * Returns the process exit status (daemon.h). */
int daemon_group_run(const config *cfg, const daemon_group_options *go, daemon_signals *sig);

#endif
