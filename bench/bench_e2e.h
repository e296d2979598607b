/*
 * bench_e2e.h - what the end-to-end benchmark's files share: a clock, the
 * per-repetition percentile series every table row is made of, and the
 * Redis comparison (bench_e2e_redis.c). Private to bench/.
 */
#ifndef BENCH_E2E_H
#define BENCH_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BE_MAX_REPS 16

/* Monotonic clock in nanoseconds. Cannot fail. */
int64_t be_mono_ns(void);

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

/* Redis single-instance lock, one repetition of each pattern:
 * uncontended SET NX PX + compare-and-delete (acquire latency and full
 * cycle, n samples), and failure handoff (nhand samples) with a waiter
 * polling every 10 ms and one woken by pub/sub. Returns 0, or -1 when Redis
 * could not be reached or answered wrongly (a message is printed). */
int be_redis_rep(const char *host, int port, int n, int nhand, be_series *acq, be_series *cycle,
                 be_series *poll10, be_series *pubsub);

/* Whether the program was built with hiredis. */
bool be_redis_available(void);

#endif
