/*
 * bench_group.c - bench_e2e's group mode: a replicated group's acquire
 * latency beside a single durable coordinator's and the MQTT floor's,
 * measured in interleaved repetitions in one run (bench/run starts the
 * group; its failover is bench/group_failover.py's).
 *
 * Owns nothing but its clients. Prints one markdown table and the ratios
 * the issue asks for; asserts no timing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_e2e.h"

int be_mode_group(const be_opts *o)
{
	be_seq c = {.uri = o->uri, .echo = o->echo, .run = (unsigned)getpid()};
	be_series fl = {.name = "floor: MQTT QoS 1 request/reply via echo"};
	be_series da = {.name = "single durable coordinator acquire->granted"},
	          dc = {.name = "single durable coordinator acquire+release (vs 2x floor)", .hops = 2};
	be_series ga = {.name = "3-member group acquire->granted"},
	          gc = {.name = "3-member group acquire+release (vs 2x floor)", .hops = 2};
	double *v = calloc((size_t)o->n + 1, sizeof *v), *v2 = calloc((size_t)o->n + 1, sizeof *v2);
	mq fc = {0}, d1 = {0}, g1 = {0};
	char id[64], rep[256];
	bool ok = v != NULL && v2 != NULL;
	snprintf(id, sizeof id, "bench-gfloor-%u", c.run);
	ok = ok && mq_begin(&fc, o->uri, id, NULL, NULL, NULL, NULL);
	snprintf(id, sizeof id, "bench-gd-%u", c.run);
	ok = ok && be_node_begin(&d1, o->uri, o->dur, id, false);
	snprintf(id, sizeof id, "bench-gg-%u", c.run);
	ok = ok && be_node_begin(&g1, o->uri, o->group, id, false);
	be_topic_of(rep, sizeof rep, o->echo, "rep", fc.id);
	ok = ok && mq_end(&fc) && mq_sub(&fc, rep) && be_node_end(&d1, o->dur, false) &&
	     be_node_end(&g1, o->group, false);
	/* Warm-up: connections, caches, the coordinators' maps. */
	ok = ok && be_floor_rep(&c, &fc, 20, v) && be_cycle_rep(&c, &d1, o->dur, 5, v, v2) &&
	     be_cycle_rep(&c, &g1, o->group, 5, v, v2);
	for (int r = 0; ok && r < o->reps && !be_stop; r++) {
		fprintf(stderr, "bench: group repetition %d/%d\n", r + 1, o->reps);
		ok = be_floor_rep(&c, &fc, o->n, v);
		be_series_add(&fl, v, (size_t)o->n);
		ok = ok && be_cycle_rep(&c, &d1, o->dur, o->n, v, v2);
		be_series_add(&da, v, (size_t)o->n);
		be_series_add(&dc, v2, (size_t)o->n);
		ok = ok && be_cycle_rep(&c, &g1, o->group, o->n, v, v2);
		be_series_add(&ga, v, (size_t)o->n);
		be_series_add(&gc, v2, (size_t)o->n);
	}
	printf("| group latency (ms) | p50 | p90 | p99 | p50 / floor p50 | samples x reps |\n");
	printf("|---|---|---|---|---|---|\n");
	be_series *rows[] = {&fl, &da, &dc, &ga, &gc};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (rows[i]->nreps > 0)
			be_print_row(rows[i], &fl);
	double a, b, f, x, y;
	if (ok && be_series_stat(&ga, 0, &a, &x, &y) && be_series_stat(&da, 0, &b, &x, &y) &&
	    be_series_stat(&fl, 0, &f, &x, &y))
		printf(
		    "\ngroup acquire p50 / single durable acquire p50: %.2fx; group acquire p50 / floor p50: "
		    "%.2fx\n",
		    a / b, a / f);
	mq *all[] = {&fc, &d1, &g1};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i]->c != NULL)
			mq_close(all[i]);
	free(v);
	free(v2);
	if (!ok)
		fprintf(stderr, "bench: group measurement failed\n");
	return ok ? 0 : 1;
}
