/*
 * bench_ab.c - ab mode: the same uncontended acquire+release cycle against
 * two coordinators that differ in one setting (bench/run: metrics off and
 * on; a single durable coordinator and a 3-member group), alternating which
 * goes first, repetition by repetition on one broker, so that the two
 * columns see the same machine at the same time. Prints both rows and the
 * ratio of their acquire medians.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_e2e.h"

int be_mode_ab(const be_opts *o)
{
	be_seq c = {.uri = o->uri, .echo = o->echo, .run = (unsigned)getpid()};
	char na[128], nb[128], ca[128], cb[128], id[64];
	snprintf(na, sizeof na, "%s: acquire->granted", o->a_name);
	snprintf(nb, sizeof nb, "%s: acquire->granted", o->b_name);
	snprintf(ca, sizeof ca, "%s: acquire+release", o->a_name);
	snprintf(cb, sizeof cb, "%s: acquire+release", o->b_name);
	be_series fl = {.name = "floor: MQTT QoS 1 request/reply via echo"};
	be_series sa = {.name = na}, sb = {.name = nb}, sca = {.name = ca, .hops = 2},
	          scb = {.name = cb, .hops = 2};
	double *v = calloc((size_t)o->n + 1, sizeof *v), *v2 = calloc((size_t)o->n + 1, sizeof *v2);
	mq fc = {0}, ma = {0}, mb = {0};
	char rep[256];
	bool ok = v != NULL && v2 != NULL;
	snprintf(id, sizeof id, "bench-abf-%u", c.run);
	ok = ok && mq_begin(&fc, o->uri, id, NULL, NULL, NULL, NULL);
	snprintf(id, sizeof id, "bench-aba-%u", c.run);
	ok = ok && be_node_begin(&ma, o->uri, o->mem, id, false);
	snprintf(id, sizeof id, "bench-abb-%u", c.run);
	ok = ok && be_node_begin(&mb, o->uri, o->dur, id, false);
	be_topic_of(rep, sizeof rep, o->echo, "rep", fc.id);
	ok = ok && mq_end(&fc) && mq_sub(&fc, rep) && be_node_end(&ma, o->mem, false) &&
	     be_node_end(&mb, o->dur, false);
	ok = ok && be_floor_rep(&c, &fc, 20, v) && be_cycle_rep(&c, &ma, o->mem, 20, v, v2) &&
	     be_cycle_rep(&c, &mb, o->dur, 20, v, v2); /* warm-up */
	for (int r = 0; ok && r < o->reps && !be_stop; r++) {
		fprintf(stderr, "bench: ab repetition %d/%d\n", r + 1, o->reps);
		ok = be_floor_rep(&c, &fc, o->n, v);
		be_series_add(&fl, v, (size_t)o->n);
		/* alternate which goes first, so neither always follows the floor */
		mq *first = r % 2 ? &mb : &ma, *second = r % 2 ? &ma : &mb;
		const char *p1 = r % 2 ? o->dur : o->mem, *p2 = r % 2 ? o->mem : o->dur;
		be_series *a1 = r % 2 ? &sb : &sa, *c1 = r % 2 ? &scb : &sca;
		be_series *a2 = r % 2 ? &sa : &sb, *c2 = r % 2 ? &sca : &scb;
		ok = ok && be_cycle_rep(&c, first, p1, o->n, v, v2);
		be_series_add(a1, v, (size_t)o->n);
		be_series_add(c1, v2, (size_t)o->n);
		ok = ok && be_cycle_rep(&c, second, p2, o->n, v, v2);
		be_series_add(a2, v, (size_t)o->n);
		be_series_add(c2, v2, (size_t)o->n);
	}
	printf("| latency (ms) | p50 | p90 | p99 | p50 / floor p50 | samples x reps |\n");
	printf("|---|---|---|---|---|---|\n");
	be_series *rows[] = {&fl, &sa, &sb, &sca, &scb};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (rows[i]->nreps > 0)
			be_print_row(rows[i], &fl);
	double a, b, x, y;
	if (be_series_stat(&sa, 0, &a, &x, &y) && be_series_stat(&sb, 0, &b, &x, &y))
		printf("\n%s / %s acquire p50: %.3fx\n", o->b_name, o->a_name, b / a);
	if (be_series_stat(&sca, 0, &a, &x, &y) && be_series_stat(&scb, 0, &b, &x, &y))
		printf("%s / %s cycle p50: %.3fx\n", o->b_name, o->a_name, b / a);
	mq *all[] = {&fc, &ma, &mb};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i]->c != NULL)
			mq_close(all[i]);
	free(v);
	free(v2);
	if (!ok)
		fprintf(stderr, "bench: ab measurement failed\n");
	return ok ? 0 : 1;
}
