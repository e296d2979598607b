/*
 * bench_table.c - micro-benchmarks of the lock table (no broker, no store):
 * acquire/release cycles per second, handoffs per second, and the memory of
 * 1M remembered successes and 100k held locks (bytes per lock from
 * mallinfo2() deltas, slot arrays and malloc overhead included); and for
 * the second edition: the cost per grant of granting k shared waiters at
 * once (and that each is published once), and the cost of a release on a
 * resource with 1000 waiters: a mutex, semaphores, and a once resource whose
 * every failure answers one capped waiter deep in the queue failed.
 * Usage: bench_table [scale]  (scale 1 = the sizes above; 0.1 for a smoke run)
 * Prints one line per measurement; ops/s are the median of 5 runs.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static void must(baton_err err)
{
	if (err != BATON_OK) {
		fprintf(stderr, "bench_table: %s\n", baton_strerror(err));
		exit(1);
	}
}

static void flush(table *t)
{
	table_ready rd;
	table_ready_get(t, &rd);
	table_advance(t);
}

static void step(table *t, int64_t now, const char *node, wire_op op, const char *id, const char *res,
                 wire_mode mode, uint64_t token, bool success)
{
	wire_request q;
	memset(&q, 0, sizeof q);
	q.op = op;
	q.id = id;
	q.resource = res;
	q.mode = mode;
	q.token = token;
	q.success = success;
	must(table_step_request(t, now, node, &q));
}

static table *fresh(void)
{
	table_config cfg;
	table_config_default(&cfg);
	table *t = table_new(&cfg);
	if (t == NULL)
		exit(1);
	return t;
}

/* Acquire + release (mutex, success) on 1024 rotating resources, batches of 64. */
static double bench_cycles(long n)
{
	table *t = fresh();
	char id[32], res[32];
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		snprintf(res, sizeof res, "lock/%ld", i % 1024);
		snprintf(id, sizeof id, "a%ld", i);
		uint64_t tok = table_next_token(t);
		step(t, 0, "n1", WIRE_OP_ACQUIRE, id, res, WIRE_MODE_MUTEX, 0, false);
		snprintf(id, sizeof id, "r%ld", i);
		step(t, 0, "n1", WIRE_OP_RELEASE, id, res, WIRE_MODE_MUTEX, tok, true);
		if (i % 64 == 63)
			flush(t);
	}
	flush(t);
	double dt = now_s() - t0;
	table_free(t);
	return (double)n / dt;
}

/* Two nodes pass one mutex back and forth: each release grants the waiter. */
static double bench_handoff(long n)
{
	table *t = fresh();
	char id[32];
	step(t, 0, "A", WIRE_OP_ACQUIRE, "a0", "hot", WIRE_MODE_MUTEX, 0, false);
	step(t, 0, "B", WIRE_OP_ACQUIRE, "b0", "hot", WIRE_MODE_MUTEX, 0, false);
	flush(t);
	const char *who[2] = {"A", "B"};
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		const char *holder = who[i % 2];
		snprintf(id, sizeof id, "r%ld", i);
		step(t, 0, holder, WIRE_OP_RELEASE, id, "hot", WIRE_MODE_MUTEX, table_next_token(t) - 1,
		     true);
		snprintf(id, sizeof id, "q%ld", i);
		step(t, 0, holder, WIRE_OP_ACQUIRE, id, "hot", WIRE_MODE_MUTEX, 0, false);
		if (i % 64 == 63)
			flush(t);
	}
	flush(t);
	double dt = now_s() - t0;
	table_free(t);
	return (double)n / dt;
}

/* Bytes per lock for n remembered successes (once, success, no result). */
static double bench_remembered(long n, size_t *name_len)
{
	char id[32], res[32];
	size_t before = heap_bytes();
	table *t = fresh();
	for (long i = 0; i < n; i++) {
		snprintf(res, sizeof res, "lock/%07ld", i);
		snprintf(id, sizeof id, "a%07ld", i);
		const char *node =
		    (const char *[]){"n00", "n01", "n02", "n03", "n04", "n05", "n06", "n07"}[i % 8];
		uint64_t tok = table_next_token(t);
		step(t, 0, node, WIRE_OP_ACQUIRE, id, res, WIRE_MODE_ONCE, 0, false);
		snprintf(id, sizeof id, "r%07ld", i);
		step(t, 0, node, WIRE_OP_RELEASE, id, res, WIRE_MODE_ONCE, tok, true);
		if (i % 256 == 255)
			flush(t);
	}
	flush(t);
	*name_len = strlen(res) + 1;
	double per = (double)(heap_bytes() - before) / (double)n;
	table_free(t);
	return per;
}

/* Bytes per lock for n held locks without waiters, 100 holders. */
static double bench_held(long n, size_t *name_len)
{
	char id[32], res[32], node[16];
	size_t before = heap_bytes();
	table *t = fresh();
	for (long i = 0; i < n; i++) {
		snprintf(res, sizeof res, "lock/%07ld", i);
		snprintf(id, sizeof id, "a%07ld", i);
		snprintf(node, sizeof node, "n%02ld", i % 100);
		step(t, 0, node, WIRE_OP_ACQUIRE, id, res, WIRE_MODE_MUTEX, 0, false);
		if (i % 256 == 255)
			flush(t);
	}
	flush(t);
	*name_len = strlen(res) + 1;
	double per = (double)(heap_bytes() - before) / (double)n;
	table_free(t);
	return per;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median5(double (*fn)(long), long n)
{
	double v[5];
	for (int i = 0; i < 5; i++)
		v[i] = fn(n);
	qsort(v, 5, sizeof v[0], cmp_d);
	return v[2];
}

/* ---- second edition ---------------------------------------------------------------- */

/* Steps req and fails on error. */
static void step_req(table *t, int64_t now, const char *node, const wire_request *q)
{
	must(table_step_request(t, now, node, q));
}

/* Nanoseconds per grant when a writer's release grants k queued readers at
 * once (the release step and its batch), median of 5 rounds; *grants gets
 * how many granted answers the batch had (k: each grant published once). */
static double bench_shared_grant(long k, long *grants)
{
	double v[5];
	char id[32], node[32];
	for (int round = 0; round < 5; round++) {
		table *t = fresh();
		wire_request q = {
		    .op = WIRE_OP_ACQUIRE, .id = "w", .resource = "db", .mode = WIRE_MODE_MUTEX};
		step_req(t, 0, "W", &q);
		for (long i = 0; i < k; i++) {
			snprintf(id, sizeof id, "s%ld", i);
			snprintf(node, sizeof node, "r%05ld", i);
			wire_request s = {
			    .op = WIRE_OP_ACQUIRE, .id = id, .resource = "db", .mode = WIRE_MODE_SHARED};
			step_req(t, 0, node, &s);
		}
		flush(t);
		wire_request rel = {
		    .op = WIRE_OP_RELEASE, .id = "wr", .resource = "db", .token = 1, .success = true};
		double t0 = now_s();
		step_req(t, 0, "W", &rel);
		table_ready rd;
		table_ready_get(t, &rd);
		v[round] = (now_s() - t0) * 1e9 / (double)k;
		*grants = 0;
		for (size_t i = 0; i < rd.n_effects; i++)
			*grants += rd.effects[i].kind == TABLE_FX_ANSWER &&
			           rd.effects[i].u.answer.status == WIRE_ST_GRANTED;
		table_advance(t);
		table_free(t);
	}
	qsort(v, 5, sizeof v[0], cmp_d);
	return v[2];
}

#define QW 1000 /* waiters behind the holders */

typedef struct qbench {
	table *t;
	wire_mode mode;
	uint32_t permits;
	uint64_t hold_tok[64]; /* holdings, earliest first */
	int hold_node[64];
	int n_hold;
	long seq;
} qbench;

static void qnode(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "w%04d", i);
}

/* An acquire of pool by node i (cap 0: none). */
static void q_acquire(qbench *b, int i, uint32_t cap)
{
	char id[32], node[16];
	qnode(node, sizeof node, i);
	snprintf(id, sizeof id, "a%ld", b->seq++);
	wire_request q = {.op = WIRE_OP_ACQUIRE, .id = id, .resource = "pool", .mode = b->mode};
	q.permits = b->permits;
	q.max_failures = cap;
	step_req(b->t, 0, node, &q);
}

/* Takes the batch; appends its grants to the holdings and re-queues the
 * waiters it answered failed (without a cap, at the tail). */
static void q_settle(qbench *b)
{
	table_ready rd;
	table_ready_get(b->t, &rd);
	int failed[QW], n_failed = 0;
	for (size_t i = 0; i < rd.n_effects; i++) {
		const table_effect *e = &rd.effects[i];
		if (e->kind != TABLE_FX_ANSWER)
			continue;
		int node = atoi(e->node + 1);
		if (e->u.answer.status == WIRE_ST_GRANTED &&
		    (b->n_hold == 0 || e->u.answer.token > b->hold_tok[b->n_hold - 1])) {
			b->hold_tok[b->n_hold] = e->u.answer.token;
			b->hold_node[b->n_hold++] = node;
		} else if (e->u.answer.status == WIRE_ST_FAILED) {
			failed[n_failed++] = node;
		}
	}
	table_advance(b->t);
	for (int i = 0; i < n_failed; i++)
		q_acquire(b, failed[i], 0);
	if (n_failed > 0)
		flush(b->t);
}

/* Median ns of one release step on pool with QW waiters (and, in
 * *full, of the whole round: release, batch, re-acquire at the tail).
 * mode once: every release is a failure, and the waiters QW/2.. carry caps
 * 1, 2, ... so that each failure answers one waiter deep in the queue. */
static double bench_queue_release(wire_mode mode, uint32_t permits, long rounds, double *full)
{
	qbench b = {.t = fresh(), .mode = mode, .permits = permits};
	int holders = mode == WIRE_MODE_ONCE ? 1 : (int)permits;
	for (int i = 0; i < holders + QW; i++) {
		uint32_t cap =
		    mode == WIRE_MODE_ONCE && i >= holders + QW / 2 ? (uint32_t)(holders + QW - i) : 0;
		q_acquire(&b, i, cap);
	}
	q_settle(&b);
	double *step_ns = malloc((size_t)rounds * sizeof *step_ns),
	       *round_ns = malloc((size_t)rounds * sizeof *round_ns);
	char id[32], node[16];
	for (long r = 0; r < rounds; r++) {
		int h = b.hold_node[0];
		uint64_t tok = b.hold_tok[0];
		memmove(b.hold_node, b.hold_node + 1, (size_t)(b.n_hold - 1) * sizeof b.hold_node[0]);
		memmove(b.hold_tok, b.hold_tok + 1, (size_t)(b.n_hold - 1) * sizeof b.hold_tok[0]);
		b.n_hold--;
		qnode(node, sizeof node, h);
		snprintf(id, sizeof id, "r%ld", b.seq++);
		wire_request rel = {.op = WIRE_OP_RELEASE, .id = id, .resource = "pool", .token = tok};
		rel.success = mode != WIRE_MODE_ONCE;
		double t0 = now_s();
		step_req(b.t, 0, node, &rel);
		double t1 = now_s();
		q_settle(&b);
		q_acquire(&b, h, 0);
		flush(b.t);
		step_ns[r] = (t1 - t0) * 1e9;
		round_ns[r] = (now_s() - t0) * 1e9;
	}
	qsort(step_ns, (size_t)rounds, sizeof *step_ns, cmp_d);
	qsort(round_ns, (size_t)rounds, sizeof *round_ns, cmp_d);
	double med = step_ns[rounds / 2];
	*full = round_ns[rounds / 2];
	free(step_ns);
	free(round_ns);
	table_free(b.t);
	return med;
}

static void bench_second_edition(void)
{
	static const long ks[] = {1, 10, 100, 1000, 10000};
	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
		long grants = 0;
		double ns = bench_shared_grant(ks[i], &grants);
		printf("shared grant: k=%ld readers granted by one release: %.0f ns per grant (median of 5), "
		       "%ld "
		       "granted answers in the batch\n",
		       ks[i], ns, grants);
	}
	static const struct {
		const char *what;
		wire_mode mode;
		uint32_t permits;
	} q[] = {{"mutex", WIRE_MODE_MUTEX, 1},
	         {"semaphore permits=2", WIRE_MODE_MUTEX, 2},
	         {"semaphore permits=16", WIRE_MODE_MUTEX, 16},
	         {"once, failure, one capped waiter failed deep in the queue", WIRE_MODE_ONCE, 1}};
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		double full = 0, ns = bench_queue_release(q[i].mode, q[i].permits, 400, &full);
		printf("release with %d waiters, %s: release step %.0f ns, whole round %.0f ns (medians of "
		       "400)\n",
		       QW, q[i].what, ns, full);
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	double scale = argc > 1 ? atof(argv[1]) : 1.0;
	long cycles = (long)(1000000 * scale), rem = (long)(1000000 * scale), held = (long)(100000 * scale);
	if (cycles < 1000)
		cycles = rem = held = 1000;
	printf("acquire+release cycles/s (median of 5, %ld cycles): %.0f\n", cycles,
	       median5(bench_cycles, cycles));
	printf("handoffs/s (median of 5, %ld handoffs): %.0f\n", cycles, median5(bench_handoff, cycles));
	size_t name = 0;
	double b = bench_remembered(rem, &name);
	printf("remembered success: %.1f bytes per lock (%ld locks), %.1f without the %zu-byte name\n", b,
	       rem, b - (double)name, name);
	b = bench_held(held, &name);
	printf("held lock, no waiters: %.1f bytes per lock (%ld locks), %.1f without the %zu-byte name\n", b,
	       held, b - (double)name, name);
	bench_second_edition();
	return 0;
}
