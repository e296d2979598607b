/*
 * metrics.h - the coordinator's Prometheus metrics (--metrics-listen).
 *
 * Two halves. The owner thread records into a private copy through the few
 * metrics_* calls below (no lock, no allocation on the hot path beyond the
 * batch's request list) and makes it visible with metrics_publish(), which
 * copies it under the module's mutex. libmicrohttpd's own thread answers
 * GET /metrics from the published copy, taken under that mutex and
 * formatted after it is released. The mutex is never held across a paho,
 * SQLite or libmicrohttpd call, and no paho callback ever takes it.
 *
 * Every recording call accepts m == NULL and does nothing, so the daemon
 * calls them unconditionally and metrics off costs one test per call.
 */
#ifndef BATON_METRICS_H
#define BATON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"
#include "table.h"

#define METRICS_N_OPS     6  /* 0: the request did not decode; then wire_op values */
#define METRICS_N_STATUS  16 /* 0: no answer seen in its batch; then wire_status values */
#define METRICS_N_CODES   20 /* -baton_err of the wire's rejection codes (1..19) */
#define METRICS_N_REASONS 8  /* wire_reason values */
#define METRICS_HIST_MAX  16 /* finite buckets of a histogram */

/* A histogram: n[i] counts observations v with bounds[i-1] < v <= bounds[i]
 * (n[nb] the ones above the last bound); sum and count as Prometheus wants. */
typedef struct metrics_hist {
	uint64_t n[METRICS_HIST_MAX + 1];
	double sum;
	uint64_t count;
} metrics_hist;

/* The buckets of a histogram: nb finite upper bounds, increasing, and their
 * text as written in the le label. */
typedef struct metrics_buckets {
	size_t nb;
	double bound[METRICS_HIST_MAX];
	const char *text[METRICS_HIST_MAX];
} metrics_buckets;

extern const metrics_buckets metrics_seconds_buckets; /* 0.5 ms .. 10 s */
extern const metrics_buckets metrics_batch_buckets;   /* 1 .. 4096 */

/* A replicated group member's own gauges (daemon_group.c). */
typedef struct metrics_group {
	uint64_t member;            /* this member's id */
	const char *role;           /* static: "leader", "follower", "candidate" or "unavailable" */
	uint64_t term;              /* its raft term */
	uint64_t leader;            /* the leader it knows, 0: none */
	uint64_t applied, commit;   /* raft indexes: applied to the table, known committed */
	uint64_t proposals_refused; /* leader: entries raft refused (their inputs were lost) */
} metrics_group;

/* Everything a scrape shows: a plain value, copied whole. */
typedef struct metrics_data {
	uint64_t requests[METRICS_N_OPS][METRICS_N_STATUS]; /* by op and the answer to it */
	uint64_t rejections[METRICS_N_CODES];               /* by code (bad_topic too) */
	uint64_t handoffs[METRICS_N_REASONS];               /* by why the holding ended */
	uint64_t grants;                                    /* every granted holding */
	uint64_t commits, commit_failures;
	/* gauges */
	uint64_t held, waiting, remembered, backlog;
	bool broker_connected, commit_failing, serving;
	/* histograms */
	metrics_hist latency; /* request arrival to its answer handed to the broker edge, s */
	metrics_hist commit;  /* one store commit, s */
	metrics_hist batch;   /* inputs per committed batch */
	bool in_group;        /* a group member: g holds its gauges */
	metrics_group g;
} metrics_data;

/* Counts v into h with buckets b. Cannot fail. */
void metrics_hist_observe(metrics_hist *h, const metrics_buckets *b, double v);

/* Writes d in the Prometheus text exposition format (version 0.0.4) into a
 * malloc'd NUL-terminated text (*out, *len without the NUL; the caller
 * frees it). BATON_E_NOMEM leaves *out untouched. Pure. */
baton_err metrics_format(const metrics_data *d, const char *version, char **out, size_t *len);

/* ---- the recorder and its HTTP endpoint ---------------------------------- */

typedef struct metrics metrics;

/* A recorder with everything at zero and no listener. NULL: no memory. */
metrics *metrics_new(void);
/* Stops the listener (waiting for a scrape in progress) and frees. NULL is fine. */
void metrics_free(metrics *m);

/* Starts serving GET /metrics on addr ("HOST:PORT", "[V6]:PORT" or ":PORT"
 * for every interface) from libmicrohttpd's own thread. On failure writes
 * why to err and returns BATON_E_INVAL (unparsable addr) or BATON_E_IO
 * (cannot listen). *port gets the bound port (useful with port 0). */
baton_err metrics_listen(metrics *m, const char *addr, int *port, char *err, size_t cap);

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (host "" then) into host (cap
 * bytes) and *port (0..65535). BATON_E_INVAL on anything else. Pure. */
baton_err metrics_parse_addr(const char *addr, char *host, size_t cap, int *port);

/* One request stepped into the current batch: node and id (NULL: none
 * readable) are copied, op is a wire_op or 0 when it did not decode,
 * arrived_ns its CLOCK_MONOTONIC arrival (negative: unknown, no latency is
 * recorded for it). A presence change or other input
 * is recorded with metrics_input(). Out of memory drops the record. */
void metrics_request(metrics *m, const char *node, const char *id, int op, int64_t arrived_ns);
void metrics_input(metrics *m);

/* A message on a request topic whose node part is not a node id. */
void metrics_bad_topic(metrics *m);

/* The committed batch has been handed to the broker edge at now_ns: counts
 * answers, rejections, grants and handoffs, and matches each request of the
 * batch with its answer (for the op/answer counter and the latency). */
void metrics_batch(metrics *m, const table_effect *fx, size_t n, int64_t now_ns);

/* A batch was committed (ok) or its store commit failed (and is retried);
 * ns is how long the store took, or -1 without a store (:memory:), which
 * counts the batch but not its time. */
void metrics_commit(metrics *m, int64_t ns, bool ok);
void metrics_commit_failing(metrics *m, bool failing);

/* The table's gauges (held, waiting, remembered) and grant counter, the
 * broker edge's, and whether the coordinator serves (P/coordinator's
 * serving: it does not while commits fail or another instance serves). */
void metrics_gauges(metrics *m, const table_counts *c, uint64_t backlog, bool broker_connected, bool serving);

/* CLOCK_MONOTONIC in ns, the clock of arrived_ns and now_ns above; 0 when
 * m is NULL (nothing is recorded: no clock is read). */
int64_t metrics_now_ns(const metrics *m);

/* A group member's gauges (the scrape shows them from then on). */
void metrics_group_gauges(metrics *m, const metrics_group *g);

/* Makes everything recorded so far visible to scrapes. */
void metrics_publish(metrics *m);

/* Copies the published data (what a scrape would show) into *out. */
void metrics_read(metrics *m, metrics_data *out);

#endif
