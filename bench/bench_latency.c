/*
 * bench_latency.c - the end-to-end benchmark's sequential measurements and
 * latency mode: floor round trips, uncontended acquire+release cycles,
 * failure handoff, Will handoff (with its child process, willholder mode),
 * and the latency table with the Redis rows beside them.
 * One request in flight per connection, repetitions interleaved; it never
 * pipelines (bench_load.c does) and every wait is bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "bench_e2e.h"

/* ---- sequential measurements --------------------------------------------- */

/* n floor round trips: publish a request-sized message on E/req/<id>, the
 * echo republishes it on E/rep/<id>. */
bool be_floor_rep(be_seq *c, mq *m, int n, double *v)
{
	char req[256], payload[512];
	be_topic_of(req, sizeof req, c->echo, "req", m->id);
	for (int i = 0; i < n; i++) {
		mq_msg msg;
		snprintf(payload, sizeof payload,
		         "{\"v\":1,\"op\":\"acquire\",\"id\":\"f%llu\",\"resource\":\"bench/lat/"
		         "r%d\",\"mode\":\"mutex\","
		         "\"lease_ms\":30000}",
		         (unsigned long long)c->seq++, i % 64);
		int64_t t0 = be_mono_ns();
		if (!mq_pub(m, req, payload, false) || !mq_next(m, &msg, BE_WAIT_MS)) {
			fprintf(stderr, "bench: floor: no echo within %d ms\n", BE_WAIT_MS);
			return false;
		}
		v[i] = be_ms_between(t0, msg.t_ns);
	}
	return true;
}

/* n uncontended acquire+release cycles: acq[i] acquire->granted, cyc[i] the
 * whole cycle (acquire sent -> released received). */
bool be_cycle_rep(be_seq *c, mq *m, const char *prefix, int n, double *acq, double *cyc)
{
	for (int i = 0; i < n; i++) {
		char ida[32], idr[32], res[64];
		be_answer a;
		snprintf(ida, sizeof ida, "a%llu", (unsigned long long)c->seq);
		snprintf(idr, sizeof idr, "r%llu", (unsigned long long)c->seq++);
		snprintf(res, sizeof res, "bench/lat/r%d", i % 64);
		int64_t t0 = be_mono_ns();
		if (!be_send_acquire(m, prefix, ida, res, "mutex", 30000) ||
		    !be_wait_answer(m, ida, "granted", &a))
			return false;
		acq[i] = be_ms_between(t0, a.t_ns);
		if (!be_send_release(m, prefix, idr, res, a.token, true, NULL) ||
		    !be_wait_answer(m, idr, "released", &a))
			return false;
		cyc[i] = be_ms_between(t0, a.t_ns);
	}
	return true;
}

/* One handoff: h holds res (once mode), w waits; h is ended by `end` (a
 * release success:false, or shutting its socket for the Will); returns the
 * time from the end to w's granted in ms, or -1. */
typedef bool (*end_fn)(mq *h, const char *prefix, const char *res, uint64_t token, const char *id);

static double handoff_once(be_seq *c, mq *h, mq *w, const char *prefix, end_fn end, bool h_answers)
{
	char hid[32], hrel[32], wid[32], wrel[32], res[64];
	unsigned long long k = c->seq++;
	be_answer a, b;
	snprintf(hid, sizeof hid, "ha%llu", k);
	snprintf(hrel, sizeof hrel, "hr%llu", k);
	snprintf(wid, sizeof wid, "wa%llu", k);
	snprintf(wrel, sizeof wrel, "wr%llu", k);
	snprintf(res, sizeof res, "bench/handoff/r%llu", k % 64);
	if (!be_send_acquire(h, prefix, hid, res, "once", 30000) || !be_wait_answer(h, hid, "granted", &a) ||
	    !be_send_acquire(w, prefix, wid, res, "once", 30000) || !be_wait_answer(w, wid, "queued", &b))
		return -1;
	int64_t t0 = be_mono_ns();
	if (!end(h, prefix, res, a.token, hrel) || !be_wait_answer(w, wid, "granted", &b))
		return -1;
	double ms = be_ms_between(t0, b.t_ns);
	if (h_answers && !be_wait_answer(h, hrel, "released", &a))
		return -1;
	if (!be_send_release(w, prefix, wrel, res, b.token, false, NULL) ||
	    !be_wait_answer(w, wrel, "released", &b))
		return -1;
	return ms;
}

static bool end_by_failure(mq *h, const char *prefix, const char *res, uint64_t token, const char *id)
{
	return be_send_release(h, prefix, id, res, token, false, ",\"error\":\"exit status 1\"");
}

static bool handoff_rep(be_seq *c, mq *h, mq *w, const char *prefix, int n, double *v)
{
	for (int i = 0; i < n; i++)
		if ((v[i] = handoff_once(c, h, w, prefix, end_by_failure, true)) < 0)
			return false;
	return true;
}

/* Will handoff. The holder lives in a child process (bench_e2e willholder)
 * with a fresh connection and a Will per sample; a fresh process, because
 * paho would take a second to notice a new socket in a process that has
 * others (see mq_begin). Per sample: the child connects and acquires; the
 * waiter queues; the child shuts its socket down (SHUT_RDWR: the broker sees
 * the TCP connection end and publishes the Will) and reports the
 * CLOCK_MONOTONIC time just before; t1 is the waiter's granted. */
typedef struct holder {
	pid_t pid;
	FILE *in, *out; /* its stdin, its stdout */
} holder;

static bool holder_start(holder *h, const char *uri, const char *prefix)
{
	int to[2], from[2];
	if (pipe(to) != 0 || pipe(from) != 0)
		return false;
	h->pid = fork();
	if (h->pid == 0) {
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		be_close_from(3);
		execl("/proc/self/exe", "bench_e2e", "willholder", "--broker", uri, "--prefix", prefix,
		      (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	h->in = fdopen(to[1], "w");
	h->out = fdopen(from[0], "r");
	return h->pid > 0 && h->in != NULL && h->out != NULL;
}

static void holder_stop(holder *h)
{
	if (h->in != NULL)
		fclose(h->in); /* EOF: it exits */
	if (h->out != NULL)
		fclose(h->out);
	if (h->pid > 0)
		waitpid(h->pid, NULL, 0);
	memset(h, 0, sizeof *h);
}

static bool holder_say(holder *h, const char *line, char *reply, size_t cap)
{
	return fputs(line, h->in) >= 0 && fflush(h->in) == 0 && fgets(reply, (int)cap, h->out) != NULL;
}

static bool will_rep(be_seq *c, holder *h, mq *w, const char *prefix, int n, double *v)
{
	for (int i = 0; i < n; i++) {
		char line[128], reply[128], wid[32], wrel[32], res[64];
		unsigned long long k = c->seq++;
		long long t0 = 0;
		be_answer b;
		snprintf(wid, sizeof wid, "wa%llu", k);
		snprintf(wrel, sizeof wrel, "wr%llu", k);
		snprintf(res, sizeof res, "bench/will/r%llu", k % 64);
		snprintf(line, sizeof line, "go %s %llu\n", res, k);
		if (!holder_say(h, line, reply, sizeof reply) || strncmp(reply, "held", 4) != 0 ||
		    !be_send_acquire(w, prefix, wid, res, "once", 30000) ||
		    !be_wait_answer(w, wid, "queued", &b) || !holder_say(h, "drop\n", reply, sizeof reply) ||
		    sscanf(reply, "t0 %lld", &t0) != 1 || !be_wait_answer(w, wid, "granted", &b))
			return false;
		v[i] = be_ms_between((int64_t)t0, b.t_ns);
		if (!be_send_release(w, prefix, wrel, res, b.token, false, NULL) ||
		    !be_wait_answer(w, wrel, "released", &b))
			return false;
	}
	return true;
}

/* The child side: reads "go RES K" (connect with a Will, acquire RES, answer
 * "held") and "drop" (shut the socket down, answer "t0 NS"); EOF ends it. */
int be_mode_willholder(const char *uri, const char *prefix)
{
	char line[256], res[128], id[64], aid[48];
	unsigned long long k;
	mq h = {0};
	bool open = false;
	snprintf(id, sizeof id, "bench-willholder-%d", (int)getppid());
	for (int lines = 0; lines < 1000000 && fgets(line, sizeof line, stdin) != NULL; lines++) {
		be_answer a;
		if (sscanf(line, "go %127s %llu", res, &k) == 2) {
			snprintf(aid, sizeof aid, "h%llu", k);
			open = be_node_open(&h, uri, prefix, id, true);
			if (!open || !be_send_acquire(&h, prefix, aid, res, "once", 30000) ||
			    !be_wait_answer(&h, aid, "granted", &a) || h.fd < 0) {
				fprintf(stderr,
				        "bench: willholder: cannot connect, acquire or find its socket\n");
				printf("failed\n");
				fflush(stdout);
				return 1;
			}
			printf("held\n");
		} else if (strcmp(line, "drop\n") == 0 && open) {
			int64_t t0 = be_mono_ns();
			shutdown(h.fd, SHUT_RDWR);
			printf("t0 %lld\n", (long long)t0);
			fflush(stdout);
			mq_wait_int(&h, &h.state, 1, BE_WAIT_MS); /* paho notices the loss */
			mq_close(&h);
			open = false;
		}
		fflush(stdout);
	}
	if (open)
		mq_close(&h);
	return 0;
}

/* ---- latency mode --------------------------------------------------------- */

int be_mode_latency(const be_opts *o)
{
	be_seq c = {.uri = o->uri, .echo = o->echo, .run = (unsigned)getpid()};
	be_series fl = {.name = "floor: MQTT QoS 1 request/reply via echo"};
	be_series ma = {.name = "Baton :memory: acquire->granted"},
	          mc = {.name = "Baton :memory: acquire+release (vs 2x floor)", .hops = 2};
	be_series da = {.name = "Baton durable acquire->granted"},
	          dc = {.name = "Baton durable acquire+release (vs 2x floor)", .hops = 2};
	be_series mh = {.name = "Baton :memory: failure handoff"},
	          dh = {.name = "Baton durable failure handoff"};
	be_series mw = {.name = "Baton :memory: Will handoff (TCP shutdown)"};
	be_series ra = {.name = "Redis SET NX PX (acquire)"},
	          rc = {.name = "Redis SET NX + compare-and-delete (vs 2x floor)", .hops = 2};
	be_series rp = {.name = "Redis handoff, waiter polls every 10 ms (redsync)"},
	          rs = {.name = "Redis handoff, waiter woken by pub/sub (Redisson)"};
	int nmax = o->n > o->handoffs ? o->n : o->handoffs;
	double *v = calloc((size_t)nmax + 1, sizeof *v), *v2 = calloc((size_t)nmax + 1, sizeof *v2);
	mq fc = {0}, m1 = {0}, d1 = {0}, mh1 = {0}, mw1 = {0}, dh1 = {0}, dw1 = {0};
	holder wh = {0};
	char id[64];
	char rep[256];
	bool ok = v != NULL && v2 != NULL;
	int rport = 0;
	char rhost[64] = "127.0.0.1";
	if (o->redis != NULL && sscanf(o->redis, "%63[^:]:%d", rhost, &rport) != 2)
		rport = 0;
#define BEGIN(m, pfx, tag)                                                                                   \
	(snprintf(id, sizeof id, "bench-%s-%u", tag, c.run), be_node_begin(m, o->uri, pfx, id, false))
	snprintf(id, sizeof id, "bench-floor-%u", c.run);
	ok = ok && mq_begin(&fc, o->uri, id, NULL, NULL, NULL, NULL);
	ok = ok && BEGIN(&m1, o->mem, "m1") && BEGIN(&d1, o->dur, "d1") && BEGIN(&mh1, o->mem, "mh") &&
	     BEGIN(&mw1, o->mem, "mw") && BEGIN(&dh1, o->dur, "dh") && BEGIN(&dw1, o->dur, "dw");
#undef BEGIN
	be_topic_of(rep, sizeof rep, o->echo, "rep", fc.id);
	ok = ok && mq_end(&fc) && mq_sub(&fc, rep);
	ok = ok && be_node_end(&m1, o->mem, false) && be_node_end(&d1, o->dur, false) &&
	     be_node_end(&mh1, o->mem, false) && be_node_end(&mw1, o->mem, false) &&
	     be_node_end(&dh1, o->dur, false) && be_node_end(&dw1, o->dur, false);
	ok = ok && holder_start(&wh, o->uri, o->mem);
	/* Warm-up: connections, caches, the coordinator's maps. */
	ok = ok && be_floor_rep(&c, &fc, 20, v) && be_cycle_rep(&c, &m1, o->mem, 20, v, v2) &&
	     be_cycle_rep(&c, &d1, o->dur, 5, v, v2);
	for (int r = 0; ok && r < o->reps && !be_stop; r++) {
		fprintf(stderr, "bench: latency repetition %d/%d\n", r + 1, o->reps);
		ok = be_floor_rep(&c, &fc, o->n, v);
		be_series_add(&fl, v, (size_t)o->n);
		ok = ok && be_cycle_rep(&c, &m1, o->mem, o->n, v, v2);
		be_series_add(&ma, v, (size_t)o->n);
		be_series_add(&mc, v2, (size_t)o->n);
		ok = ok && be_cycle_rep(&c, &d1, o->dur, o->n, v, v2);
		be_series_add(&da, v, (size_t)o->n);
		be_series_add(&dc, v2, (size_t)o->n);
		ok = ok && handoff_rep(&c, &mh1, &mw1, o->mem, o->handoffs, v);
		be_series_add(&mh, v, (size_t)o->handoffs);
		ok = ok && handoff_rep(&c, &dh1, &dw1, o->dur, o->handoffs, v);
		be_series_add(&dh, v, (size_t)o->handoffs);
		ok = ok && will_rep(&c, &wh, &mw1, o->mem, o->wills, v);
		be_series_add(&mw, v, (size_t)o->wills);
		if (ok && rport > 0 &&
		    be_redis_rep(rhost, rport, o->n, o->handoffs / 4 + 1, &ra, &rc, &rp, &rs) != 0)
			rport = 0; /* reported; go on without Redis */
	}
	printf("| latency (ms) | p50 | p90 | p99 | p50 / floor p50 | samples x reps |\n");
	printf("|---|---|---|---|---|---|\n");
	be_series *rows[] = {&fl, &ma, &mc, &da, &dc, &mh, &dh, &mw, &ra, &rc, &rp, &rs};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (rows[i]->nreps > 0)
			be_print_row(rows[i], &fl);
	double a, b, x, y;
	if (ra.nreps > 0 && be_series_stat(&ma, 0, &a, &x, &y) && be_series_stat(&ra, 0, &b, &x, &y))
		printf("\nBaton :memory: acquire p50 / Redis acquire p50: %.2fx\n", a / b);
	if (rc.nreps > 0 && be_series_stat(&mc, 0, &a, &x, &y) && be_series_stat(&rc, 0, &b, &x, &y))
		printf("Baton :memory: cycle p50 / Redis cycle p50: %.2fx\n", a / b);
	if (rp.nreps > 0 && be_series_stat(&mh, 0, &a, &x, &y) && be_series_stat(&rp, 0, &b, &x, &y))
		printf("Baton :memory: failure handoff p50 / Redis polling handoff p50: %.2fx\n", a / b);
	if (rs.nreps > 0 && be_series_stat(&mh, 0, &a, &x, &y) && be_series_stat(&rs, 0, &b, &x, &y))
		printf("Baton :memory: failure handoff p50 / Redis pub/sub handoff p50: %.2fx\n", a / b);
	mq *all[] = {&fc, &m1, &d1, &mh1, &mw1, &dh1, &dw1};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i]->c != NULL)
			mq_close(all[i]);
	holder_stop(&wh);
	free(v);
	free(v2);
	if (!ok)
		fprintf(stderr, "bench: latency measurement failed\n");
	return ok ? 0 : 1;
}
