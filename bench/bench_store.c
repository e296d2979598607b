/*
 * bench_store.c - what durability costs: commits per second of the store at
 * each sync level, the effect of group commit, and the time to load a large
 * state at start.
 *
 * Drives the real lock table and store against a file in a fresh directory
 * under --dir (default /var/tmp: it must be a real disk, not tmpfs, or fsync
 * costs nothing). Each figure is the median of 3 runs. Prints Markdown.
 *
 *   bench_store [--dir DIR] [--seconds S] [--holdings N]
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "table.h"

#define RUNS 3
#define T0   1764000000000LL

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, baton_err e, const char *err)
{
	fprintf(stderr, "bench_store: %s: %s: %s\n", what, baton_strerror(e), err ? err : "");
	exit(1);
}

static void remove_db(const char *path)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char p[640];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", path, suffix[i]);
		unlink(p);
	}
}

static table *new_table(void)
{
	table_config cfg;
	table *t;

	table_config_default(&cfg);
	t = table_new(&cfg);
	if (t == NULL)
		die("table_new", BATON_E_NOMEM, NULL);
	return t;
}

static void step(table *t, int64_t now, const char *node, const wire_request *r)
{
	baton_err e = table_step_request(t, now, node, r);

	if (e != BATON_OK)
		die("table_step_request", e, NULL);
}

static void commit(store *s, table *t)
{
	table_ready r;
	char err[512];
	baton_err e;

	table_ready_get(t, &r);
	e = store_commit(s, t, &r, err, sizeof err);
	if (e != BATON_OK)
		die("store_commit", e, err);
	table_advance(t);
}

/* One run: cycles of a batch of `batch` acquires (one resource per node)
 * committed once, then their releases committed once, for `seconds`.
 * Returns commits per second; *req_s gets requests per second. */
static double run_cycles(const char *dir, sync_level sync, int batch, double seconds, double *req_s)
{
	char path[600], err[512], node[32], id[32], res[64];
	store *s = NULL;
	table *t = new_table();
	table_resource_view v;
	long commits = 0, requests = 0, n = 0;
	double start, elapsed;
	baton_err e;

	snprintf(path, sizeof path, "%s/cycles.db", dir);
	remove_db(path);
	e = store_open(path, sync, &s, err, sizeof err);
	if (e != BATON_OK)
		die("store_open", e, err);
	start = now_s();
	do {
		for (int phase = 0; phase < 2; phase++) {
			for (int k = 0; k < batch; k++) {
				wire_request r = {.resource = res, .id = id, .mode = WIRE_MODE_MUTEX};

				snprintf(node, sizeof node, "n%d", k);
				snprintf(res, sizeof res, "bench/r%d", k);
				snprintf(id, sizeof id, "%c%ld", phase ? 'r' : 'a', n);
				if (phase == 0) {
					r.op = WIRE_OP_ACQUIRE;
				} else {
					if (!table_resource_get(t, res, &v))
						die("table_resource_get", BATON_E_INVAL, res);
					r.op = WIRE_OP_RELEASE;
					r.token = v.token;
					r.success = true;
				}
				step(t, T0 + n, node, &r);
				requests++;
			}
			commit(s, t);
			commits++;
		}
		n++;
		elapsed = now_s() - start;
	} while (elapsed < seconds);
	store_close(s);
	table_free(t);
	remove_db(path);
	*req_s = (double)requests / elapsed;
	return (double)commits / elapsed;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median3(double *v)
{
	qsort(v, RUNS, sizeof v[0], cmp_double);
	return v[RUNS / 2];
}

static void bench_commits(const char *dir, double seconds)
{
	static const int batches[] = {1, 10, 100};
	static const sync_level syncs[] = {SYNC_LEVEL_FULL, SYNC_LEVEL_NORMAL, SYNC_LEVEL_OFF};
	double cps[3][3], rps[3][3];

	printf("## Commits: one acquire batch + one release batch per cycle, mutex, median of %d runs of "
	       "%.1f s\n\n",
	       RUNS, seconds);
	printf(
	    "| sync | batch | commits/s | requests/s | us/commit | commits/s vs full | requests/s vs batch 1 "
	    "|\n|---|---|---|---|---|---|---|\n");
	for (int si = 0; si < 3; si++) {
		for (int bi = 0; bi < 3; bi++) {
			double c[RUNS], r[RUNS], rr[RUNS];

			for (int i = 0; i < RUNS; i++) {
				c[i] = run_cycles(dir, syncs[si], batches[bi], seconds, &r[i]);
				rr[i] = r[i];
			}
			cps[si][bi] = median3(c);
			rps[si][bi] = median3(rr);
			printf("| %s | %d | %.0f | %.0f | %.1f | %.2fx | %.2fx |\n",
			       sync_level_name(syncs[si]), batches[bi], cps[si][bi], rps[si][bi],
			       1e6 / cps[si][bi], cps[si][bi] / cps[0][bi], rps[si][bi] / rps[si][0]);
			fflush(stdout);
		}
	}
	printf("\n");
}

/* Writes n holdings (one per resource) to a file, then times open + load of
 * it into a fresh table. */
static void bench_load(const char *dir, long n)
{
	char path[600], err[512], node[32], id[32], res[64];
	double open_t[RUNS], load_t[RUNS];
	store *s = NULL;
	table *t = new_table();
	baton_err e;

	snprintf(path, sizeof path, "%s/load.db", dir);
	remove_db(path);
	e = store_open(path, SYNC_LEVEL_OFF, &s, err, sizeof err);
	if (e != BATON_OK)
		die("store_open", e, err);
	for (long i = 0; i < n; i++) {
		wire_request r = {.op = WIRE_OP_ACQUIRE, .resource = res, .id = id, .mode = WIRE_MODE_ONCE};

		snprintf(node, sizeof node, "n%ld", i % 1000);
		snprintf(res, sizeof res, "images/app-%07ld:1.0", i);
		snprintf(id, sizeof id, "a%ld", i);
		r.meta = "docker pull";
		step(t, T0, node, &r);
		if (i % 1000 == 999 || i == n - 1)
			commit(s, t);
	}
	store_close(s);
	table_free(t);

	for (int i = 0; i < RUNS; i++) {
		double a = now_s(), b, c;

		t = new_table();
		e = store_open(path, SYNC_LEVEL_FULL, &s, err, sizeof err);
		if (e != BATON_OK)
			die("store_open", e, err);
		b = now_s();
		e = store_load(s, t, err, sizeof err);
		if (e != BATON_OK)
			die("store_load", e, err);
		c = now_s();
		open_t[i] = b - a;
		load_t[i] = c - b;
		store_close(s);
		table_free(t);
	}
	printf("## Load: %ld holdings, median of %d runs\n\n", n, RUNS);
	printf("| open | load | holdings/s |\n|---|---|---|\n");
	printf("| %.1f ms | %.1f ms | %.0f |\n\n", median3(open_t) * 1e3, median3(load_t) * 1e3,
	       (double)n / median3(load_t));
	remove_db(path);
}

int main(int argc, char **argv)
{
	const char *base = "/var/tmp";
	double seconds = 1.0;
	long holdings = 100000;
	char dir[512];

	for (int i = 1; i < argc; i += 2) {
		if (i + 1 < argc && strcmp(argv[i], "--dir") == 0) {
			base = argv[i + 1];
		} else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0) {
			seconds = atof(argv[i + 1]);
		} else if (i + 1 < argc && strcmp(argv[i], "--holdings") == 0) {
			holdings = atol(argv[i + 1]);
		} else {
			fprintf(stderr, "usage: bench_store [--dir DIR] [--seconds S] [--holdings N]\n");
			return 2;
		}
	}
	snprintf(dir, sizeof dir, "%s/bench-store-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	printf("# bench_store (SQLite %s, files in %s)\n\n", sqlite3_libversion(), dir);
	bench_commits(dir, seconds);
	bench_load(dir, holdings);
	rmdir(dir);
	return 0;
}
