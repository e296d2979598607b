/*
 * bench_load.c - the end-to-end benchmark's pipelined load engine (C
 * connections x S outstanding cycles, answered in paho's callbacks) and the
 * modes built on it: throughput (lock cycles/s against the echo ceiling, CPU
 * per 10k cycles), scale (preloaded remembered successes and held locks, then
 * acquire p50 and VmRSS) and hold (preload for the recovery measurement).
 * Its callbacks only publish, never wait; every run is bounded by a count,
 * a deadline and a no-progress timeout.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "bench_e2e.h"

/* ---- pipelined load engine ------------------------------------------------ */

typedef enum work { W_ECHO, W_CYCLE, W_REMEMBER, W_HOLD } work;

typedef struct eng eng;
typedef struct slot {
	eng *e;
	mq *m;
	unsigned idx;
	uint64_t seq;
	int step;
	uint64_t res; /* resource number */
	bool busy;
} slot;

struct eng {
	work kind;
	const char *prefix;
	const char *tag;
	int nconn, per;
	mq *conns;
	slot *slots;
	atomic_uint_fast64_t done, next_res, errors, busy;
	uint64_t limit; /* resources to use (W_REMEMBER, W_HOLD), cycles otherwise */
	atomic_bool stopping;
};

static void res_name(const eng *e, const slot *s, char *buf, size_t cap)
{
	if (e->kind == W_CYCLE)
		snprintf(buf, cap, "%s/%u/%llu", e->tag, s->idx, (unsigned long long)(s->seq % 16));
	else
		snprintf(buf, cap, "%s/r%llu", e->tag, (unsigned long long)s->res);
}

/* Starts slot s's next cycle, or parks it. Runs on any thread. */
static void slot_next(slot *s)
{
	eng *e = s->e;
	char id[48], res[96], t[256], p[512];
	if (atomic_load(&e->stopping) || be_stop)
		goto park;
	if (e->kind == W_REMEMBER || e->kind == W_HOLD) {
		s->res = atomic_fetch_add(&e->next_res, 1);
		if (s->res >= e->limit)
			goto park;
	}
	s->seq++;
	s->step = 0;
	snprintf(id, sizeof id, "%u-%llua", s->idx, (unsigned long long)s->seq);
	if (e->kind == W_ECHO) {
		be_topic_of(t, sizeof t, e->prefix, "req", s->m->id);
		snprintf(p, sizeof p,
		         "{\"v\":1,\"op\":\"acquire\",\"id\":\"%s\",\"resource\":\"bench/tp/%u/"
		         "%llu\",\"mode\":\"mutex\","
		         "\"lease_ms\":30000}",
		         id, s->idx, (unsigned long long)(s->seq % 16));
		if (!mq_pub(s->m, t, p, false))
			goto fail;
		return;
	}
	res_name(e, s, res, sizeof res);
	if (!be_send_acquire(s->m, e->prefix, id, res, e->kind == W_REMEMBER ? "once" : "mutex",
	                     e->kind == W_HOLD ? 3600000 : 30000))
		goto fail;
	return;
fail:
	atomic_fetch_add(&e->errors, 1);
park:
	s->busy = false;
	atomic_fetch_sub(&e->busy, 1);
}

/* Answers (or echoes) for the slots of one connection; id "<slot>-<seq><a|r>". */
static void eng_on_msg(void *ctx, mq *m, const char *topic, const char *payload, size_t len, int64_t t_ns)
{
	eng *e = ctx;
	(void)topic, (void)len, (void)t_ns;
	be_answer a;
	char *end;
	if (e->kind == W_ECHO) {
		const char *q = strstr(payload, "\"id\":\"");
		if (q == NULL)
			return;
		unsigned long idx = strtoul(q + 6, &end, 10);
		if (idx >= (unsigned long)e->nconn * (unsigned long)e->per)
			return;
		slot *s = &e->slots[idx];
		if (s->step == 0) {
			/* the "release" round trip of an echo cycle */
			char t[256], p[512];
			s->step = 1;
			be_topic_of(t, sizeof t, e->prefix, "req", m->id);
			snprintf(p, sizeof p,
			         "{\"v\":1,\"op\":\"release\",\"id\":\"%u-%llur\",\"resource\":\"bench/tp/%u/"
			         "%llu\","
			         "\"token\":12345,\"success\":true}",
			         s->idx, (unsigned long long)s->seq, s->idx,
			         (unsigned long long)(s->seq % 16));
			if (!mq_pub(m, t, p, false))
				atomic_fetch_add(&e->errors, 1);
			return;
		}
		atomic_fetch_add(&e->done, 1);
		slot_next(s);
		return;
	}
	if (!be_parse_answer(payload, &a))
		return;
	unsigned long idx = strtoul(a.id, &end, 10);
	if (*end != '-' || idx >= (unsigned long)e->nconn * (unsigned long)e->per)
		return;
	slot *s = &e->slots[idx];
	if (strcmp(a.status, "granted") == 0 && s->step == 0) {
		if (e->kind == W_HOLD) {
			atomic_fetch_add(&e->done, 1);
			slot_next(s);
			return;
		}
		char id[48], res[96];
		s->step = 1;
		snprintf(id, sizeof id, "%u-%llur", s->idx, (unsigned long long)s->seq);
		res_name(e, s, res, sizeof res);
		if (!be_send_release(m, e->prefix, id, res, a.token, true,
		                     e->kind == W_REMEMBER ? ",\"remember_ms\":86400000" : NULL))
			atomic_fetch_add(&e->errors, 1);
	} else if (strcmp(a.status, "released") == 0 && s->step == 1) {
		atomic_fetch_add(&e->done, 1);
		slot_next(s);
	} else if (strcmp(a.status, "queued") != 0) {
		/* done, busy, rejected: not expected here; count it and move on */
		atomic_fetch_add(&e->errors, 1);
		if (atomic_load(&e->errors) < 5)
			fprintf(stderr, "bench: unexpected answer: %s\n", payload);
		slot_next(s);
	}
}

static bool eng_open(eng *e, const char *uri, work kind, const char *prefix, const char *tag, int nconn,
                     int per)
{
	memset(e, 0, sizeof *e);
	e->kind = kind;
	e->prefix = prefix;
	e->tag = tag;
	e->nconn = nconn;
	e->per = per;
	e->conns = calloc((size_t)nconn, sizeof *e->conns);
	e->slots = calloc((size_t)nconn * (size_t)per, sizeof *e->slots);
	if (e->conns == NULL || e->slots == NULL)
		return false;
	for (int i = 0; i < nconn; i++) {
		char id[64];
		snprintf(id, sizeof id, "bench-%s-%d-%d", tag, (int)getpid(), i);
		if (!mq_begin(&e->conns[i], uri, id, NULL, NULL, eng_on_msg, e))
			return false;
	}
	for (int i = 0; i < nconn; i++) {
		char sub[256];
		be_topic_of(sub, sizeof sub, prefix, kind == W_ECHO ? "rep" : "grant", e->conns[i].id);
		if (!mq_end(&e->conns[i]) || !mq_sub(&e->conns[i], sub))
			return false;
	}
	for (int i = 0; i < nconn * per; i++) {
		e->slots[i].e = e;
		e->slots[i].m = &e->conns[i / per];
		e->slots[i].idx = (unsigned)i;
	}
	return true;
}

static void eng_close(eng *e)
{
	for (int i = 0; e->conns != NULL && i < e->nconn; i++)
		if (e->conns[i].c != NULL)
			mq_close(&e->conns[i]);
	free(e->conns);
	free(e->slots);
}

/* Runs the engine until `limit` cycles/resources are done or `seconds` pass,
 * then lets the outstanding cycles finish (bounded). Returns cycles done in
 * the measured window and its length in *secs. */
static uint64_t eng_run(eng *e, uint64_t limit, double seconds, double *secs)
{
	e->limit = limit;
	atomic_store(&e->stopping, false);
	atomic_store(&e->next_res, 0);
	uint64_t d0 = atomic_load(&e->done);
	int n = e->nconn * e->per;
	atomic_store(&e->busy, (uint_fast64_t)n);
	int64_t t0 = be_mono_ns(), until = t0 + (int64_t)(seconds * 1e9);
	for (int i = 0; i < n; i++) {
		e->slots[i].busy = true;
		slot_next(&e->slots[i]);
	}
	uint64_t last = d0;
	int64_t last_progress = t0;
	while (be_mono_ns() < until && atomic_load(&e->busy) > 0 && !be_stop) {
		be_sleep_ms(5);
		uint64_t d = atomic_load(&e->done);
		if (d != last) {
			last = d;
			last_progress = be_mono_ns();
		} else if (be_mono_ns() - last_progress > (int64_t)BE_WAIT_MS * 1000000) {
			fprintf(stderr, "bench: no progress for %d ms; giving up this run\n", BE_WAIT_MS);
			break;
		}
	}
	int64_t t1 = be_mono_ns();
	uint64_t d1 = atomic_load(&e->done);
	atomic_store(&e->stopping, true);
	for (int i = 0; i < 2000 && atomic_load(&e->busy) > 0; i++)
		be_sleep_ms(5);
	*secs = (double)(t1 - t0) / 1e9;
	return d1 - d0;
}

/* ---- throughput mode -------------------------------------------------------- */

int be_mode_throughput(const be_opts *o)
{
	eng ee, be;
	double echo_rate[BE_MAX_REPS], baton_rate[BE_MAX_REPS], ratio[BE_MAX_REPS];
	double cpu_b_echo[BE_MAX_REPS], cpu_e_echo[BE_MAX_REPS], cpu_b_baton[BE_MAX_REPS],
	    cpu_c_baton[BE_MAX_REPS];
	int reps = o->reps < BE_MAX_REPS ? o->reps : BE_MAX_REPS, done = 0;
	uint64_t errors = 0;
	bool ok = eng_open(&ee, o->uri, W_ECHO, o->echo, "tpe", o->conns, o->slots) &&
	          eng_open(&be, o->uri, W_CYCLE, o->prefix, "tpb", o->conns, o->slots);
	double secs;
	if (ok) { /* warm-up */
		eng_run(&ee, 200, 1, &secs);
		eng_run(&be, 200, 1, &secs);
	}
	for (int r = 0; ok && r < reps && !be_stop; r++) {
		fprintf(stderr, "bench: throughput repetition %d/%d\n", r + 1, reps);
		double b0 = be_proc_cpu_s(o->broker_pid), e0 = be_proc_cpu_s(o->echo_pid);
		uint64_t n = eng_run(&ee, UINT64_MAX, o->seconds, &secs);
		double b1 = be_proc_cpu_s(o->broker_pid), e1 = be_proc_cpu_s(o->echo_pid);
		echo_rate[r] = (double)n / secs;
		cpu_b_echo[r] = (b1 - b0) / ((double)n / 10000.0);
		cpu_e_echo[r] = (e1 - e0) / ((double)n / 10000.0);
		b0 = be_proc_cpu_s(o->broker_pid);
		double c0 = be_proc_cpu_s(o->coord_pid);
		n = eng_run(&be, UINT64_MAX, o->seconds, &secs);
		b1 = be_proc_cpu_s(o->broker_pid);
		double c1 = be_proc_cpu_s(o->coord_pid);
		baton_rate[r] = (double)n / secs;
		cpu_b_baton[r] = (b1 - b0) / ((double)n / 10000.0);
		cpu_c_baton[r] = (c1 - c0) / ((double)n / 10000.0);
		ratio[r] = baton_rate[r] / echo_rate[r];
		done++;
	}
	errors = atomic_load(&ee.errors) + atomic_load(&be.errors);
	if (done > 0) {
		double med, min, max;
		printf("| throughput, %d connections x %d outstanding cycle(s), %d s per rep | median "
		       "(min-max) |\n",
		       o->conns, o->slots, o->seconds);
		printf("|---|---|\n");
		be_med3(echo_rate, done, &med, &min, &max);
		printf("| echo ceiling, cycles/s (2 request/replies each) | %.0f (%.0f-%.0f) |\n", med, min,
		       max);
		be_med3(baton_rate, done, &med, &min, &max);
		printf("| Baton lock cycles/s on %s (acquire, granted, release, released) | %.0f "
		       "(%.0f-%.0f) |\n",
		       o->prefix, med, min, max);
		be_med3(ratio, done, &med, &min, &max);
		printf("| Baton / echo ceiling | %.2f (%.2f-%.2f) |\n", med, min, max);
		be_med3(cpu_b_echo, done, &med, &min, &max);
		printf("| broker CPU s per 10k echo cycles | %.2f (%.2f-%.2f) |\n", med, min, max);
		be_med3(cpu_e_echo, done, &med, &min, &max);
		printf("| echo process CPU s per 10k echo cycles | %.2f (%.2f-%.2f) |\n", med, min, max);
		be_med3(cpu_b_baton, done, &med, &min, &max);
		printf("| broker CPU s per 10k Baton cycles | %.2f (%.2f-%.2f) |\n", med, min, max);
		be_med3(cpu_c_baton, done, &med, &min, &max);
		printf("| coordinator CPU s per 10k Baton cycles | %.2f (%.2f-%.2f) |\n", med, min, max);
		printf("| unexpected answers or failed sends | %llu |\n", (unsigned long long)errors);
	}
	eng_close(&ee);
	eng_close(&be);
	return ok && done == reps && errors == 0 ? 0 : 1;
}

/* ---- scale mode ------------------------------------------------------------ */

/* Acquire p50 (ms) of n sequential uncontended cycles, median of reps. */
static bool acquire_p50(be_seq *c, mq *m, const char *prefix, int n, int reps, be_series *s)
{
	double *a = calloc((size_t)n, sizeof *a), *b = calloc((size_t)n, sizeof *b);
	bool ok = a != NULL && b != NULL;
	for (int r = 0; ok && r < reps; r++) {
		ok = be_cycle_rep(c, m, prefix, n, a, b);
		be_series_add(s, a, (size_t)n);
	}
	free(a);
	free(b);
	return ok;
}

int be_mode_scale(const be_opts *o)
{
	be_seq c = {.uri = o->uri, .echo = o->echo, .run = (unsigned)getpid()};
	mq m, fm;
	eng e;
	char id[64], rep[256];
	snprintf(id, sizeof id, "bench-scale-%u", c.run);
	bool ok = be_node_begin(&m, o->uri, o->prefix, id, false);
	snprintf(id, sizeof id, "bench-scalefl-%u", c.run);
	ok = ok && mq_begin(&fm, o->uri, id, NULL, NULL, NULL, NULL);
	be_topic_of(rep, sizeof rep, o->echo, "rep", id);
	ok = ok && be_node_end(&m, o->prefix, false) && mq_end(&fm) && mq_sub(&fm, rep);
	ok = ok && eng_open(&e, o->uri, W_REMEMBER, o->prefix, "sc", o->conns, o->slots);
	long rss0 = be_proc_rss_kb(o->coord_pid), brss0 = be_proc_rss_kb(o->broker_pid);
	printf("| scale step | preload time s (rate/s) | acquire p50 ms | floor p50 ms | coordinator VmRSS "
	       "MiB | "
	       "bytes per lock (RSS delta / locks) | broker VmRSS MiB |\n");
	printf("|---|---|---|---|---|---|---|\n");
	be_series s0 = {.name = "empty"};
	be_series f0 = {.name = "floor"};
	double *fv = calloc((size_t)o->n, sizeof *fv);
	ok = ok && fv != NULL && acquire_p50(&c, &m, o->prefix, o->n, o->reps, &s0);
	for (int r = 0; ok && r < o->reps; r++)
		if ((ok = be_floor_rep(&c, &fm, o->n, fv)))
			be_series_add(&f0, fv, (size_t)o->n);
	double med, mn, mx, fmed;
	if (ok && be_series_stat(&s0, 0, &med, &mn, &mx) && be_series_stat(&f0, 0, &fmed, &mn, &mx))
		printf("| empty | - | %.3f | %.3f | %.1f | - | %.1f |\n", med, fmed, (double)rss0 / 1024,
		       (double)brss0 / 1024);
	/* Remembered successes, cumulative: 1k, then up to 100k, then up to 1M. */
	uint64_t have = 0;
	const char *p = o->steps;
	char tag[32];
	while (ok && p != NULL && *p != '\0' && !be_stop) {
		char *end;
		uint64_t want = strtoull(p, &end, 10);
		p = *end == ',' ? end + 1 : NULL;
		if (want <= have)
			continue;
		double secs;
		/* The engine numbers resources from 0 each run: tag each step apart. */
		snprintf(tag, sizeof tag, "sc%llu", (unsigned long long)want);
		e.tag = tag;
		int64_t t0 = be_mono_ns();
		uint64_t target = want - have;
		uint64_t got = eng_run(&e, target, 7200, &secs);
		double took = (double)(be_mono_ns() - t0) / 1e9;
		have += got;
		if (got < target)
			fprintf(stderr, "bench: preload stopped at %llu of %llu\n", (unsigned long long)have,
			        (unsigned long long)want);
		be_series s = {.name = "step"};
		be_series f = {.name = "floor"};
		ok = acquire_p50(&c, &m, o->prefix, o->n, o->reps, &s);
		for (int r = 0; ok && r < o->reps; r++)
			if ((ok = be_floor_rep(&c, &fm, o->n, fv)))
				be_series_add(&f, fv, (size_t)o->n);
		long rss = be_proc_rss_kb(o->coord_pid), brss = be_proc_rss_kb(o->broker_pid);
		if (ok && be_series_stat(&s, 0, &med, &mn, &mx) && be_series_stat(&f, 0, &fmed, &mn, &mx))
			printf("| %llu remembered successes | %.1f (%.0f) | %.3f | %.3f | %.1f | %.0f | %.1f "
			       "|\n",
			       (unsigned long long)have, took, (double)got / took, med, fmed,
			       (double)rss / 1024, (double)(rss - rss0) * 1024 / (double)have,
			       (double)brss / 1024);
		fflush(stdout);
	}
	/* Held locks, on top. */
	if (ok && o->held > 0 && !be_stop) {
		eng h;
		ok = eng_open(&h, o->uri, W_HOLD, o->prefix, "sh", o->conns, o->slots);
		long rss1 = be_proc_rss_kb(o->coord_pid);
		double secs;
		int64_t t0 = be_mono_ns();
		uint64_t got = ok ? eng_run(&h, (uint64_t)o->held, 7200, &secs) : 0;
		double took = (double)(be_mono_ns() - t0) / 1e9;
		be_series s = {.name = "held"};
		be_series f = {.name = "floor"};
		ok = ok && acquire_p50(&c, &m, o->prefix, o->n, o->reps, &s);
		for (int r = 0; ok && r < o->reps; r++)
			if ((ok = be_floor_rep(&c, &fm, o->n, fv)))
				be_series_add(&f, fv, (size_t)o->n);
		long rss = be_proc_rss_kb(o->coord_pid), brss = be_proc_rss_kb(o->broker_pid);
		if (ok && be_series_stat(&s, 0, &med, &mn, &mx) && be_series_stat(&f, 0, &fmed, &mn, &mx))
			printf("| + %llu held locks | %.1f (%.0f) | %.3f | %.3f | %.1f | %.0f | %.1f |\n",
			       (unsigned long long)got, took, (double)got / took, med, fmed,
			       (double)rss / 1024, got ? (double)(rss - rss1) * 1024 / (double)got : 0.0,
			       (double)brss / 1024);
		/* The holders disconnect cleanly (no Will): their locks stay held until their leases end. */
		eng_close(&h);
	}
	free(fv);
	eng_close(&e);
	mq_close(&m);
	mq_close(&fm);
	return ok ? 0 : 1;
}

/* ---- hold mode ----------------------------------------------------------- */

int be_mode_hold(const be_opts *o)
{
	eng h;
	double secs;
	bool ok = eng_open(&h, o->uri, W_HOLD, o->prefix, "rh", o->conns, o->slots);
	int64_t t0 = be_mono_ns();
	uint64_t got = ok ? eng_run(&h, (uint64_t)o->hold_count, 7200, &secs) : 0;
	double took = (double)(be_mono_ns() - t0) / 1e9;
	printf("| preload %llu held locks into the durable store | %.1f s (%.0f/s) |\n",
	       (unsigned long long)got, took, (double)got / took);
	ok = ok && got == (uint64_t)o->hold_count && atomic_load(&h.errors) == 0;
	eng_close(&h);
	return ok ? 0 : 1;
}
