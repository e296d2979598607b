/*
 * group_guard.h - a replicated group's leader against another coordinator on
 * its prefix (issue 12's rule, PROTOCOL.md "Coordinator identity", in group
 * mode): before it takes the group's session the leader looks at the broker
 * (probe.h, step by step so raft keeps running) and refuses to serve while
 * a live single coordinator serves the prefix, looking again every
 * GGUARD_AGAIN_MS; while it serves, another instance's presence that comes
 * after its own (guard.h's rule) makes it stop serving and look again.
 * Presences of the group's own leaders (guard_group_own) never count: a
 * killed leader's stays online:true, retained, since the next leader takes
 * its session over and its Will never fires.
 *
 * Decides and logs; publishes nothing; owns the probe's connection while it
 * looks. Owner thread only.
 */
#ifndef BATON_GROUP_GUARD_H
#define BATON_GROUP_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "config.h"
#include "guard.h"
#include "peers.h"
#include "probe.h"
#include "wire.h"

#define GGUARD_AGAIN_MS 5000 /* a refusing leader looks again this often */

typedef enum gguard_state {
	GGUARD_IDLE,    /* not looking: serve (or not the leader) */
	GGUARD_LOOKING, /* a look is under way */
	GGUARD_CLEAR,   /* the look found nobody: take the session (once; then IDLE) */
	GGUARD_RIVAL,   /* another coordinator serves: do not serve; looks again later */
	GGUARD_REFUSED, /* the broker refused the probe's credentials */
} gguard_state;

typedef struct gguard {
	const config *cfg;
	int wake_fd;
	probe *pr;
	gguard_state st;
	int64_t again_at;                  /* mono ms, GGUARD_RIVAL: when to look again */
	int64_t started_at;                /* mono ms, GGUARD_LOOKING: when the look began */
	guard g;                           /* the conflict rule on the serving connection */
	uint64_t ids[2 * GROUP_MAX_PEERS]; /* the group's members (gguard_members) */
	size_t n_ids;
	char why[WIRE_REASON_TEXT_MAX + 1]; /* "": no rival known */
	char err[512];
} gguard;

void gguard_init(gguard *gg, const config *cfg, int wake_fd); /* cannot fail */
void gguard_deinit(gguard *gg);                               /* ends a look */

/* The group's members whose leaders' presences are the group's own: its
 * --peers and the configuration it knows (members come and go); copied, at
 * most 2 * GROUP_MAX_PEERS. */
void gguard_members(gguard *gg, const uint64_t *ids, size_t n);

/* Starts a look before the session is taken (a new leadership, a
 * reconnect). A look that cannot start is retried as after a rival. */
void gguard_look(gguard *gg);

/* Steps a look (LOOKING), or starts the next one when due (RIVAL); returns
 * the state. *wait_ms: the longest the loop may sleep before the next call
 * (-1: no need). CLEAR is returned once, then the state is IDLE. */
gguard_state gguard_step(gguard *gg, int *wait_ms);

/* Ends any look and forgets the rival (leadership lost). */
void gguard_stop(gguard *gg);

/* The serving connection was made with P/coordinator subscribed; its own
 * presence is instance. */
void gguard_connected(gguard *gg, const char *instance);

/* A message on P/coordinator over the serving connection. True when it is
 * another coordinator's, newer than ours: the leader must stop serving at
 * once (logged; the state is RIVAL and the next look is due). */
bool gguard_presence(gguard *gg, const broker_msg *m);

/* Why the leader does not serve, for its health; NULL when no rival is known. */
const char *gguard_why(const gguard *gg);

#endif
