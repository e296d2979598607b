/*
 * member.h - the state of one group member's loop (daemon_group.c), shared
 * with what the member publishes about itself (member_out.c: P/stats, the
 * metrics' gauges, its retained health on P/coordinator/<member>). Private
 * to those two files. One owner thread: the member's loop.
 */
#ifndef BATON_MEMBER_H
#define BATON_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "apply.h"
#include "broker.h"
#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "group.h"
#include "group_admin.h"
#include "group_guard.h"
#include "metrics.h"
#include "names.h"
#include "publish.h"
#include "wire.h"

typedef enum phase {
	PH_FOLLOWING, /* not the leader, or not yet serving */
	PH_PROPOSED,  /* leader; its leadership entry is not applied yet */
	PH_LOOKING,   /* leader; looking for another coordinator, or refusing while one serves */
	PH_SERVING,   /* leader; connected (or connecting) to the broker */
	PH_BARRIER,   /* leader; lost the broker, waiting for a barrier to reconnect */
} phase;

/* A batch the serving leader proposed, waiting to be applied: its latency's
 * start (the earliest arrival of its messages). */
#define PROPOSED_MAX 256
typedef struct proposed {
	int64_t now;
	size_t n_msgs;
	int64_t arrived_ns;
} proposed;

typedef struct member {
	const config *cfg;
	daemon_signals *sig;
	applier a;
	store *st;
	group *g;
	broker *b;      /* the serving connection (leader only) */
	publisher pub;  /* publishes on b while serving */
	broker *health; /* this member's own connection */
	phase ph;
	uint64_t lead_term;      /* the term this member leads (or proposed to) */
	char instance[48];       /* P/coordinator's instance of this leadership */
	bool leadership_applied; /* the leadership entry of lead_term was applied */
	bool barrier_ok;         /* set by the barrier callback */
	bool barrier_done;
	bool transferred;
	dclock clock;
	int64_t tick_for; /* the deadline a proposed tick covers (0: none) */
	int64_t next_stats_at, next_health_at;
	group_info shown;    /* the health last published */
	uint64_t shown_conf; /* the configuration index it showed */
	group_admin adm;     /* membership requests (serving leader) */
	bool removed_said;
	uint64_t proposals_refused;
	metrics *mt;         /* NULL: no --metrics-listen */
	gguard gg;           /* another coordinator on the prefix */
	int look_wait;       /* ms the look may wait, -1: none */
	bool shown_refusing; /* the health last published said so */
	char coord_topic[NAMES_TOPIC_MAX + 1];
	proposed props[PROPOSED_MAX]; /* a ring, in proposal order */
	size_t props_head, n_props;
	int64_t connect_t0;   /* when the serving connection was started (mono ms), 0: connected */
	int64_t next_poke;    /* see poke_paho() */
	int64_t reconnect_at; /* mono ms: no new serving connection before (backoff) */
	int64_t backoff_ms;
	int64_t leaderless_since; /* mono ms, 0: there is a leader */
	bool leaderless_said;
	char topic[NAMES_TOPIC_MAX + 32];
	char err[512];
} member;

static inline int64_t mono_ms(void)
{
	return dclock_mono_ms();
}

static inline int64_t wall_ms(const member *m)
{
	return dclock_now(&m->clock);
}

static inline void u64s(char *buf, size_t cap, uint64_t v)
{
	snprintf(buf, cap, "%llu", (unsigned long long)v);
}

/* True while this member is the serving leader with a connection: only
 * then are effects, P/stats and P/coordinator published. */
bool member_serving(const member *m);

/* P/coordinator's presence of this leadership (online or its Will). */
wire_presence member_presence(const member *m, bool online);

/* P/stats from the table's counts at now (serving leader only). */
void member_publish_stats(member *m, int64_t now);

/* The gauges (the table's, the broker edge's, the group's gi), then
 * everything recorded since the last time, to scrapes; nothing without
 * --metrics-listen. */
void member_publish_metrics(member *m, const group_info *gi);

/* Publishes this member's retained health (gi; online false: it is
 * stopping) on its own connection, and remembers what it showed. */
void member_publish_health(member *m, const group_info *gi, bool online);

/* Creates and starts the member's own health connection (its own client
 * id, clean session, a Will saying it is gone); m->err says why not. */
baton_err member_open_health(member *m);

#endif
