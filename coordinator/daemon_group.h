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

/* Runs cfg's member (cfg->member_id != 0; config_validate checked the
 * group's flags) until sig->stop; a leader hands leadership over first.
 * Returns the process exit status (daemon.h). */
int daemon_group_run(const config *cfg, daemon_signals *sig);

#endif
