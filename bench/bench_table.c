/*
 * bench_table.c - micro-benchmarks of the lock table (no broker, no store):
 * acquire/release cycles per second, handoffs per second, and the memory of
 * 1M remembered successes and 100k held locks (bytes per lock from
 * mallinfo2() deltas, slot arrays and malloc overhead included).
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

int main(int argc, char **argv)
{
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
	return 0;
}
