/*
 * daemon_int.h - the coordinator daemon's private state, shared by daemon.c
 * (the owner loop, receiving and publishing) and daemon_start.c (opening the
 * state, the start-up look at the broker, the MQTT client). Not a public
 * header: nothing outside coordinator/daemon*.c includes it.
 */
#ifndef BATON_DAEMON_INT_H
#define BATON_DAEMON_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "apply.h"
#include "broker.h"
#include "config.h"
#include "daemon.h"
#include "guard.h"
#include "metrics.h"
#include "names.h"
#include "publish.h"
#include "store.h"
#include "table.h"
#include "wire.h"

typedef struct coord {
	const config *cfg;
	daemon_signals *sig;
	applier a; /* the table and the one apply path (apply.h) */
	store *st; /* NULL with --state :memory: */
	broker *b;
	metrics *m; /* NULL: no --metrics-listen */
	int64_t wall0_ms, mono0_ms, started_at_ms;
	bool ever_connected;
	int64_t connected_at;  /* when the last connection was made */
	unsigned short_lives;  /* connections in a row the broker dropped within 5 s */
	int64_t retry_at;      /* first connect retry time, 0: none */
	int64_t retry_backoff; /* ms */
	int64_t next_stats_at;
	broker_msg *inbox; /* what the batch below points into, until it is applied */
	glog_msg *batch;   /* the inbox's inputs of the table, applied as one entry */
	size_t n_batch, cap_batch;
	publisher pub;                              /* everything we publish, the coalescer's due set */
	guard g;                                    /* instance id, gaps in our own service */
	int exit_status;                            /* DAEMON_EXIT_* that ends the loop; 0: keep serving */
	int64_t next_check_at;                      /* next check of the state file's identity */
	char not_serving[WIRE_REASON_TEXT_MAX + 1]; /* why we answer nothing now; "": serving */
	char (*clears)[NAMES_NODE_MAX + 1];         /* dead nodes' presences to clear after the commit */
	size_t n_clears, cap_clears;
	size_t lost_answers, lost_resources, lost_ids; /* a batch that was never committed */
	bool uncommitted;
	char coord_topic[NAMES_TOPIC_MAX + 1];
	char err[512];
} coord;

static inline int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t now_ms(const coord *d)
{
	return d->wall0_ms + (mono_ms() - d->mono0_ms);
}

static inline void u64s(char *buf, size_t cap, uint64_t v)
{
	snprintf(buf, cap, "%llu", (unsigned long long)v);
}

/* daemon_start.c. Each returns as its name says and logs nothing but what
 * it decides; d->err holds the message of a failure. */
/* The store unless :memory:, and the applier (its table loaded from the
 * store) with o's callbacks; the rest of o is filled in here. */
baton_err dmn_open_state(coord *d, apply_options *o);
baton_err dmn_open_broker(coord *d); /* the serving client: Will, subscriptions, connect */
/* Another instance on the prefix (exit 75), the token floor (raised and
 * logged), and *since: when the outage before this start began. Returns 0
 * to go on, else the exit status. */
int dmn_look_first(coord *d, int64_t *since);

#endif
