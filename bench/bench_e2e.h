/*
 * bench_e2e.h - what the end-to-end benchmark's files share: a clock, the
 * per-repetition percentile series every table row is made of, the Redis
 * comparison (bench_e2e_redis.c), the MQTT client and Baton wire helpers
 * (bench_mq.c), the options and the modes (bench_latency.c, bench_load.c,
 * bench_e2e.c). Private to bench/.
 */
#ifndef BENCH_E2E_H
#define BENCH_E2E_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <MQTTAsync.h>

#define BE_MAX_REPS 16
#define BE_WAIT_MS  10000 /* the bound on every wait for an answer, in ms */
#define MQ_MSG_MAX  2048  /* payload bytes kept per message, with its NUL */

/* Set by SIGTERM/SIGINT (bench_e2e.c); every loop stops early when it is. */
extern volatile sig_atomic_t be_stop;

/* Monotonic clock in nanoseconds. Cannot fail. */
int64_t be_mono_ns(void);

/* Sleeps ms milliseconds. Cannot fail. */
void be_sleep_ms(int ms);

/* Milliseconds from a to b (both be_mono_ns values). */
double be_ms_between(int64_t a, int64_t b);

/* One measurement across repetitions: p50, p90, p99 (ms) of each repetition. */
typedef struct be_series {
	const char *name;
	int nreps;
	double p[BE_MAX_REPS][3];
	size_t samples; /* samples in the last repetition */
	int hops;       /* request/reply round trips it is made of (0 means 1): its floor is hops x floor */
} be_series;

/* Sorts samples_ms (n of them) and records their percentiles as one more
 * repetition of s; n == 0 records nothing. Cannot fail. */
void be_series_add(be_series *s, double *samples_ms, size_t n);

/* Median over the repetitions of percentile k (0: p50, 1: p90, 2: p99),
 * and their min and max. Returns false when s has no repetition. */
bool be_series_stat(const be_series *s, int k, double *med, double *min, double *max);

/* Prints s as one table row; with floor, adds the ratio of its p50 to
 * s->hops times floor's p50. */
void be_print_row(const be_series *s, const be_series *floor);

/* Median, min and max of the n (1..BE_MAX_REPS) plain values v. */
void be_med3(const double *v, int n, double *med, double *min, double *max);

/* utime + stime of pid in seconds, or -1. */
double be_proc_cpu_s(int pid);

/* VmRSS of pid in kB, or -1. */
long be_proc_rss_kb(int pid);

/* Closes every descriptor from lowest up. In a forked child before exec:
 * our paho sockets are not the child's. */
void be_close_from(int lowest);

/* Redis single-instance lock, one repetition of each pattern:
 * uncontended SET NX PX + compare-and-delete (acquire latency and full
 * cycle, n samples), and failure handoff (nhand samples) with a waiter
 * polling every 10 ms and one woken by pub/sub. Returns 0, or -1 when Redis
 * could not be reached or answered wrongly (a message is printed). */
int be_redis_rep(const char *host, int port, int n, int nhand, be_series *acq, be_series *cycle,
                 be_series *poll10, be_series *pubsub);

/* Whether the program was built with hiredis. */
bool be_redis_available(void);

/* ---- the MQTT client (bench_mq.c) ---- */

typedef struct mq_msg {
	int64_t t_ns; /* be_mono_ns when paho delivered it */
	char topic[256];
	size_t len;
	char payload[MQ_MSG_MAX];
} mq_msg;

typedef struct mq mq;
/* Runs on a paho thread with paho's lock held: publish at most, never wait. */
typedef void (*mq_handler)(void *ctx, mq *m, const char *topic, const char *payload, size_t len,
                           int64_t t_ns);

/* One paho connection, MQTT 3.1.1, clean session. Without a handler its
 * messages go to a bounded queue (mq_next); with one, the handler gets them. */
struct mq {
	MQTTAsync c;
	char id[65];
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state; /* 0 connecting, 1 connected, -1 failed, 2 lost */
	int acks;  /* subscribe acks */
	uint64_t dropped;
	mq_handler h;
	void *hctx;
	mq_msg *q;
	unsigned qh, qt;
};

/* Resolves the broker's host:port in uri, so that mq_end can find our
 * sockets to it; false when it cannot. mq_broker_forget frees it. Call
 * before any mq_end. */
bool mq_broker_resolve(const char *uri);
void mq_broker_forget(void);

/* Starts connecting m as client id `id` (with an optional retained QoS 1
 * Will, and handler h with hctx, or NULL for the queue); mq_end waits for
 * it. paho serves every client of a process from one receive thread whose
 * select() notices a new socket only when its 1 s timeout ends, so a process
 * opens its clients in a batch: all begins, then all ends (one second for the
 * batch, not per client). False on failure; mq_close cleans up either way. */
bool mq_begin(mq *m, const char *uri, const char *id, const char *will_topic, const char *will_payload,
              mq_handler h, void *hctx);

/* Waits for mq_begin's connect, then sets TCP_NODELAY on every socket of
 * ours whose peer is the broker. When this process has exactly one such
 * socket, it is m's: m->fd. Returns false on failure. */
bool mq_end(mq *m);

/* mq_begin then mq_end. */
bool mq_open(mq *m, const char *uri, const char *id, const char *will_topic, const char *will_payload,
             mq_handler h, void *hctx);

/* Subscribes to filter (QoS 1) and waits for the ack; false on failure. */
bool mq_sub(mq *m, const char *filter);

/* Publishes payload (QoS 1) without waiting; false when paho refuses it. */
bool mq_pub(mq *m, const char *topic, const char *payload, bool retained);

/* Waits until *field != unwanted (under m->mu); false on timeout. */
bool mq_wait_int(mq *m, const int *field, int unwanted, int timeout_ms);

/* Takes the next queued message; false after timeout_ms without one. */
bool mq_next(mq *m, mq_msg *out, int timeout_ms);

/* Disconnects (bounded) and frees m; m is zeroed. */
void mq_close(mq *m);

/* ---- Baton's wire (bench_mq.c) ---- */

/* The parts of a coordinator answer the benchmark reads. */
typedef struct be_answer {
	char status[16];
	char id[72];
	uint64_t token;
	int64_t t_ns;
} be_answer;

/* Parses an answer's JSON into a; false when it is not JSON. */
bool be_parse_answer(const char *payload, be_answer *a);

/* Waits for the answer to request `id` on m's queue; true if its status is
 * `want`. Answers to other ids are skipped (bounded by BE_WAIT_MS). */
bool be_wait_answer(mq *m, const char *id, const char *want, be_answer *a);

/* "<prefix>/<kind>/<node>" into buf (cap bytes). */
void be_topic_of(char *buf, size_t cap, const char *prefix, const char *kind, const char *node);

/* Publishes an acquire / a release request from m to the coordinator under
 * prefix; extra (or NULL) is appended to the release's JSON fields. */
bool be_send_acquire(mq *m, const char *prefix, const char *id, const char *res, const char *mode,
                     int lease_ms);
bool be_send_release(mq *m, const char *prefix, const char *id, const char *res, uint64_t token, bool success,
                     const char *extra);

/* A client of the coordinator under prefix, subscribed to its grant topic;
 * with a Will, it also says it is online. Begin, then end (see mq_begin);
 * open is both. */
bool be_node_begin(mq *m, const char *uri, const char *prefix, const char *id, bool with_will);
bool be_node_end(mq *m, const char *prefix, bool with_will);
bool be_node_open(mq *m, const char *uri, const char *prefix, const char *id, bool with_will);

/* ---- options and modes ---- */

/* The command line (bench_e2e.c parses it). */
typedef struct be_opts {
	const char *uri, *echo, *mem, *dur, *prefix, *redis, *pidfile, *steps;
	const char *a_name, *b_name; /* ab mode: what tells --mem (A) and --dur (B) apart */
	int n, handoffs, wills, reps, conns, slots, seconds, held, hold_count;
	int broker_pid, coord_pid, echo_pid;
	char **cmd;
} be_opts;

/* A sequence of sequential measurements (bench_latency.c). */
typedef struct be_seq {
	const char *uri;
	const char *echo; /* echo prefix */
	unsigned run;     /* distinguishes ids and resources between modes/reps */
	uint64_t seq;
} be_seq;

/* n floor round trips through the echo under c->echo; v[i] in ms. */
bool be_floor_rep(be_seq *c, mq *m, int n, double *v);

/* n uncontended acquire+release cycles: acq[i] acquire->granted, cyc[i] the
 * whole cycle (acquire sent -> released received), in ms. */
bool be_cycle_rep(be_seq *c, mq *m, const char *prefix, int n, double *acq, double *cyc);

/* The modes: each prints its table rows on stdout and returns the exit
 * status (0 when every measurement succeeded). */
int be_mode_latency(const be_opts *o);
int be_mode_ab(const be_opts *o); /* bench_ab.c */
int be_mode_willholder(const char *uri, const char *prefix);
int be_mode_throughput(const be_opts *o);
int be_mode_scale(const be_opts *o);
int be_mode_hold(const be_opts *o);

#endif
