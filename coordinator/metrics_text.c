/*
 * metrics_text.c - the pure half of the metrics: histogram buckets, the
 * Prometheus text exposition format (0.0.4) of a metrics_data, and the
 * --metrics-listen address grammar.
 *
 * No I/O, no clock, no locks. Label values come from the codec's static
 * names (wire_op_name, wire_status_name, baton_err_code, wire_reason_name),
 * so a status or reason added to the protocol shows up without an edit
 * here; they are plain [a-z_] words and need no escaping.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

const metrics_buckets metrics_seconds_buckets = {
    14,
    {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
    {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
     "10"},
};

const metrics_buckets metrics_batch_buckets = {
    13,
    {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096},
    {"1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "1024", "2048", "4096"},
};

void metrics_hist_observe(metrics_hist *h, const metrics_buckets *b, double v)
{
	size_t i = 0;
	while (i < b->nb && v > b->bound[i])
		i++;
	h->n[i]++;
	h->sum += v;
	h->count++;
}

/* A growing text buffer; on no memory it stops growing and remembers. */
typedef struct text {
	char *s;
	size_t len, cap;
	bool nomem;
} text;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		if (t->nomem)
			return;
		va_start(ap, fmt);
		/* Before the first allocation s is NULL: NULL + 0 is undefined. */
		int n = vsnprintf(t->s != NULL ? t->s + t->len : NULL, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->nomem = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = 2 * t->cap + (size_t)n + 1;
		char *s = realloc(t->s, cap);
		if (s == NULL) {
			t->nomem = true;
			return;
		}
		t->s = s;
		t->cap = cap;
	}
}

static void head(text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(text *t, const char *name, const char *type, const char *help, uint64_t v)
{
	head(t, name, type, help);
	put(t, "%s %llu\n", name, (unsigned long long)v);
}

static void hist(text *t, const char *name, const char *help, const metrics_hist *h, const metrics_buckets *b)
{
	uint64_t cum = 0;
	head(t, name, "histogram", help);
	for (size_t i = 0; i < b->nb; i++) {
		cum += h->n[i];
		put(t, "%s_bucket{le=\"%s\"} %llu\n", name, b->text[i], (unsigned long long)cum);
	}
	put(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	put(t, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

static const char *op_label(int op)
{
	return op == 0 ? "invalid" : wire_op_name((wire_op)op);
}

static const char *answer_label(int st)
{
	return st == 0 ? "none" : wire_status_name((wire_status)st);
}

static void counters(text *t, const metrics_data *d)
{
	head(t, "baton_requests_total", "counter",
	     "Requests stepped, by op (invalid: did not decode) and the status of the answer to them.");
	for (int op = 0; op < METRICS_N_OPS; op++)
		for (int st = 0; st < METRICS_N_STATUS; st++)
			if (d->requests[op][st] > 0 && op_label(op) != NULL && answer_label(st) != NULL)
				put(t, "baton_requests_total{op=\"%s\",answer=\"%s\"} %llu\n", op_label(op),
				    answer_label(st), (unsigned long long)d->requests[op][st]);
	head(t, "baton_rejections_total", "counter", "Rejected requests, by rejection code.");
	for (int c = 1; c < METRICS_N_CODES; c++) {
		const char *code = baton_err_code((baton_err)-c);
		if (code != NULL)
			put(t, "baton_rejections_total{code=\"%s\"} %llu\n", code,
			    (unsigned long long)d->rejections[c]);
	}
	head(t, "baton_handoffs_total", "counter",
	     "Grants to a waiter when a holding ended, by why it ended.");
	for (int r = 1; r < METRICS_N_REASONS; r++) {
		const char *reason = wire_reason_name((wire_reason)r);
		if (reason != NULL)
			put(t, "baton_handoffs_total{reason=\"%s\"} %llu\n", reason,
			    (unsigned long long)d->handoffs[r]);
	}
	scalar(t, "baton_grants_total", "counter", "Holdings granted (at once or as a waiter's turn came).",
	       d->grants);
	scalar(t, "baton_commits_total", "counter", "Batches committed to the state store.", d->commits);
	scalar(t, "baton_commit_failures_total", "counter", "Store commits that failed (and were retried).",
	       d->commit_failures);
}

static void gauges(text *t, const metrics_data *d)
{
	scalar(t, "baton_held", "gauge", "Holdings now.", d->held);
	scalar(t, "baton_waiting", "gauge", "Queued acquires now.", d->waiting);
	scalar(t, "baton_remembered", "gauge", "Remembered once successes now.", d->remembered);
	scalar(t, "baton_publish_backlog", "gauge", "Publishes not yet acknowledged by the broker.",
	       d->backlog);
	scalar(t, "baton_broker_connected", "gauge", "1 while connected to the broker.", d->broker_connected);
	scalar(
	    t, "baton_serving", "gauge",
	    "1 while the coordinator serves; 0 while it answers nothing (commits failing, another instance).",
	    d->serving);
	scalar(t, "baton_commit_failing", "gauge",
	       "1 while a store commit fails and is retried (nothing is answered meanwhile).",
	       d->commit_failing);
}

/* A group member's (docs/operations.md, "Metrics"): the role as one series
 * per role (1 for the current one), the raft numbers as gauges. */
static void group_gauges(text *t, const metrics_group *g)
{
	static const char *const roles[] = {"leader", "follower", "candidate", "unavailable"};
	const char *role = g->role != NULL ? g->role : "unavailable";
	head(t, "baton_group_role", "gauge", "1 for this member's raft role now, 0 for the others.");
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		put(t, "baton_group_role{role=\"%s\"} %d\n", roles[i], strcmp(role, roles[i]) == 0);
	scalar(t, "baton_group_member_id", "gauge", "This member's id (--member).", g->member);
	scalar(t, "baton_group_term", "gauge", "This member's raft term.", g->term);
	scalar(t, "baton_group_leader_id", "gauge", "The leader this member knows; 0: none.", g->leader);
	scalar(t, "baton_group_applied_index", "gauge", "The last raft log index applied to the table.",
	       g->applied);
	scalar(t, "baton_group_commit_index", "gauge", "The last raft log index this member knows committed.",
	       g->commit);
	scalar(t, "baton_group_proposals_refused_total", "counter",
	       "Log entries the leader's raft refused (their inputs are lost until agents re-send).",
	       g->proposals_refused);
}

baton_err metrics_format(const metrics_data *d, const char *version, char **out, size_t *len)
{
	text t = {NULL, 0, 0, false};
	head(&t, "baton_build_info", "gauge", "The coordinator's version; always 1.");
	put(&t, "baton_build_info{version=\"%s\"} 1\n", version);
	counters(&t, d);
	gauges(&t, d);
	hist(&t, "baton_request_duration_seconds",
	     "From a request's arrival to its answer handed to the broker edge (decode, step, commit).",
	     &d->latency, &metrics_seconds_buckets);
	hist(&t, "baton_commit_duration_seconds", "One store commit (one transaction per batch).", &d->commit,
	     &metrics_seconds_buckets);
	hist(&t, "baton_batch_size", "Inputs (requests, presence changes) per committed batch.", &d->batch,
	     &metrics_batch_buckets);
	if (d->in_group)
		group_gauges(&t, &d->g);
	if (t.nomem) {
		free(t.s);
		return BATON_E_NOMEM;
	}
	*out = t.s;
	*len = t.len;
	return BATON_OK;
}

baton_err metrics_parse_addr(const char *addr, char *host, size_t cap, int *port)
{
	const char *colon, *h = addr;
	size_t hlen;
	if (addr == NULL)
		return BATON_E_INVAL;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close[1] != ':')
			return BATON_E_INVAL;
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			return BATON_E_INVAL; /* none, or a bare IPv6 address: needs [] */
		hlen = (size_t)(colon - addr);
	}
	if (hlen + 1 > cap)
		return BATON_E_INVAL;
	const char *p = colon + 1;
	long v = 0;
	if (*p == '\0')
		return BATON_E_INVAL;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
			return BATON_E_INVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)v;
	return BATON_OK;
}
