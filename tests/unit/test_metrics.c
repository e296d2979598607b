/*
 * test_metrics.c - the coordinator's metrics: histogram buckets (le is
 * inclusive), the text exposition format, the address grammar, and the
 * pairing of each request with its own answer in a real table's batch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "table_harness.h"

static void test_hist_bounds_inclusive(void **state)
{
	(void)state;
	metrics_hist h;
	memset(&h, 0, sizeof h);
	const metrics_buckets *b = &metrics_seconds_buckets;
	metrics_hist_observe(&h, b, 0.0);    /* first bucket */
	metrics_hist_observe(&h, b, 0.0005); /* exactly the first bound: first bucket */
	metrics_hist_observe(&h, b, 0.0006); /* second */
	metrics_hist_observe(&h, b, 10.0);   /* the last finite bucket */
	metrics_hist_observe(&h, b, 11.0);   /* +Inf only */
	assert_int_equal(h.n[0], 2);
	assert_int_equal(h.n[1], 1);
	assert_int_equal(h.n[b->nb - 1], 1);
	assert_int_equal(h.n[b->nb], 1);
	assert_int_equal(h.count, 5);
	assert_true(h.sum > 21.0 && h.sum < 21.01);
}

static void test_buckets_increasing(void **state)
{
	(void)state;
	const metrics_buckets *all[] = {&metrics_seconds_buckets, &metrics_batch_buckets};
	for (size_t k = 0; k < 2; k++) {
		assert_true(all[k]->nb > 0 && all[k]->nb <= METRICS_HIST_MAX);
		for (size_t i = 0; i < all[k]->nb; i++) {
			assert_true(strtod(all[k]->text[i], NULL) == all[k]->bound[i]);
			if (i > 0)
				assert_true(all[k]->bound[i] > all[k]->bound[i - 1]);
		}
	}
}

static char *format(const metrics_data *d)
{
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(metrics_format(d, "9.9.9", &out, &len), BATON_OK);
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_format_exposition(void **state)
{
	(void)state;
	metrics_data d;
	memset(&d, 0, sizeof d);
	d.requests[WIRE_OP_ACQUIRE][WIRE_ST_GRANTED] = 3;
	d.rejections[-BATON_E_BAD_JSON] = 2;
	d.handoffs[WIRE_REASON_LEASE_EXPIRED] = 1;
	d.grants = 4;
	d.held = 1;
	d.broker_connected = true;
	metrics_hist_observe(&d.latency, &metrics_seconds_buckets, 0.002);
	metrics_hist_observe(&d.latency, &metrics_seconds_buckets, 0.2);
	char *t = format(&d);
	assert_non_null(strstr(t, "baton_build_info{version=\"9.9.9\"} 1\n"));
	assert_non_null(strstr(t, "# TYPE baton_requests_total counter\n"));
	assert_non_null(strstr(t, "baton_requests_total{op=\"acquire\",answer=\"granted\"} 3\n"));
	assert_null(strstr(t, "answer=\"queued\"")); /* zero pairs are left out */
	assert_non_null(strstr(t, "baton_rejections_total{code=\"bad_json\"} 2\n"));
	assert_non_null(strstr(t, "baton_rejections_total{code=\"not_holder\"} 0\n"));
	assert_non_null(strstr(t, "baton_handoffs_total{reason=\"lease_expired\"} 1\n"));
	assert_non_null(strstr(t, "baton_handoffs_total{reason=\"node_offline\"} 0\n"));
	assert_non_null(strstr(t, "baton_grants_total 4\n"));
	assert_non_null(strstr(t, "# TYPE baton_held gauge\nbaton_held 1\n"));
	assert_non_null(strstr(t, "baton_broker_connected 1\n"));
	assert_non_null(strstr(t, "baton_commit_failing 0\n"));
	assert_non_null(strstr(t, "baton_serving 0\n"));
	/* cumulative buckets, +Inf equals count */
	assert_non_null(strstr(t, "# TYPE baton_request_duration_seconds histogram\n"));
	assert_non_null(strstr(t, "baton_request_duration_seconds_bucket{le=\"0.001\"} 0\n"));
	assert_non_null(strstr(t, "baton_request_duration_seconds_bucket{le=\"0.0025\"} 1\n"));
	assert_non_null(strstr(t, "baton_request_duration_seconds_bucket{le=\"0.1\"} 1\n"));
	assert_non_null(strstr(t, "baton_request_duration_seconds_bucket{le=\"0.25\"} 2\n"));
	assert_non_null(strstr(t, "baton_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(t, "baton_request_duration_seconds_sum 0.202\n"));
	assert_non_null(strstr(t, "baton_request_duration_seconds_count 2\n"));
	assert_non_null(strstr(t, "baton_batch_size_bucket{le=\"4096\"} 0\n"));
	/* every line is a comment or "name[{labels}] value" */
	for (char *line = t; *line != '\0';) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		if (line[0] != '#') {
			char *sp = memchr(line, ' ', (size_t)(nl - line));
			assert_non_null(sp);
			assert_true(strncmp(line, "baton_", 6) == 0);
		}
		line = nl + 1;
	}
	free(t);
}

/* A group member's gauges: the role as one series per role, the raft
 * numbers; a single coordinator's scrape has none of them. */
static void test_format_group_gauges(void **state)
{
	(void)state;
	metrics_data d;
	memset(&d, 0, sizeof d);
	char *t = format(&d);
	assert_null(strstr(t, "baton_group_"));
	free(t);
	d.in_group = true;
	d.g = (metrics_group){.member = 2,
	                      .role = "follower",
	                      .term = 5,
	                      .leader = 3,
	                      .applied = 40,
	                      .commit = 41,
	                      .proposals_refused = 1};
	t = format(&d);
	assert_non_null(strstr(t, "# TYPE baton_group_role gauge\n"));
	assert_non_null(strstr(t, "baton_group_role{role=\"leader\"} 0\n"));
	assert_non_null(strstr(t, "baton_group_role{role=\"follower\"} 1\n"));
	assert_non_null(strstr(t, "baton_group_role{role=\"candidate\"} 0\n"));
	assert_non_null(strstr(t, "baton_group_role{role=\"unavailable\"} 0\n"));
	assert_non_null(strstr(t, "baton_group_member_id 2\n"));
	assert_non_null(strstr(t, "baton_group_term 5\n"));
	assert_non_null(strstr(t, "baton_group_leader_id 3\n"));
	assert_non_null(strstr(t, "baton_group_applied_index 40\n"));
	assert_non_null(strstr(t, "baton_group_commit_index 41\n"));
	assert_non_null(strstr(
	    t,
	    "# TYPE baton_group_proposals_refused_total counter\nbaton_group_proposals_refused_total 1\n"));
	free(t);
}

static void test_parse_addr_forms(void **state)
{
	(void)state;
	char host[64];
	int port = -1;
	assert_int_equal(metrics_parse_addr("127.0.0.1:9464", host, sizeof host, &port), BATON_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9464);
	assert_int_equal(metrics_parse_addr(":0", host, sizeof host, &port), BATON_OK);
	assert_string_equal(host, "");
	assert_int_equal(port, 0);
	assert_int_equal(metrics_parse_addr("[::1]:80", host, sizeof host, &port), BATON_OK);
	assert_string_equal(host, "::1");
	const char *bad[] = {"", "9464", "host:", "host:65536", "host:9x", "::1:80", "[::1]80", "[::1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(metrics_parse_addr(bad[i], host, sizeof host, &port), BATON_E_INVAL);
}

/* Steps req from node into t and records it as the daemon does. */
static void step(metrics *m, table *t, const char *node, wire_request r, int64_t now, int64_t arrived_ns)
{
	metrics_request(m, node, r.id, (int)r.op, arrived_ns);
	assert_int_equal(table_step_request(t, now, node, &r), BATON_OK);
}

static void flush(metrics *m, table *t, int64_t now_ns)
{
	table_ready r;
	table_ready_get(t, &r);
	metrics_commit(m, 1000000, true);
	metrics_batch(m, r.effects, r.n_effects, now_ns);
	table_counts c;
	table_counts_get(t, &c);
	metrics_gauges(m, &c, 7, true, true);
	table_advance(t);
}

/* A default table and a recorder with nothing recorded. */
static void fresh(table **t, metrics **m)
{
	table_config tc;
	table_config_default(&tc);
	*t = table_new(&tc);
	*m = metrics_new();
	assert_non_null(*t);
	assert_non_null(*m);
}

/* A release hands the lock to a waiter in the same batch: the successor's
 * granted comes before the releaser's released, and must count as a
 * handoff (reason released), not as the release's answer. */
static void test_batch_pairs_requests_with_their_answers(void **state)
{
	(void)state;
	table *t = NULL;
	metrics *m = NULL;
	fresh(&t, &m);
	wire_request a1 = h_req(WIRE_OP_ACQUIRE, "a1", "r"), a2 = h_req(WIRE_OP_ACQUIRE, "a2", "r");
	a1.mode = a2.mode = WIRE_MODE_MUTEX;
	step(m, t, "n1", a1, 1000, 0);
	step(m, t, "n2", a2, 1000, 0);
	flush(m, t, 3000000); /* 3 ms after arrival */
	wire_request rel = h_req(WIRE_OP_RELEASE, "r1", "r");
	rel.token = 1;
	rel.success = false;
	step(m, t, "n1", rel, 2000, 10000000);
	metrics_request(m, "n3", NULL, 0, 10000000); /* undecodable: answered without id */
	wire_diag diag;
	memset(&diag, 0, sizeof diag);
	assert_int_equal(table_step_invalid(t, 2000, "n3", BATON_E_BAD_JSON, &diag), BATON_OK);
	flush(m, t, 12000000);

	metrics_data d;
	metrics_read(m, &d);
	assert_int_equal(d.grants, 0); /* nothing published yet */
	metrics_publish(m);
	metrics_read(m, &d);
	assert_int_equal(d.requests[WIRE_OP_ACQUIRE][WIRE_ST_GRANTED], 1);
	assert_int_equal(d.requests[WIRE_OP_ACQUIRE][WIRE_ST_QUEUED], 1);
	assert_int_equal(d.requests[WIRE_OP_RELEASE][WIRE_ST_RELEASED], 1);
	assert_int_equal(d.requests[WIRE_OP_RELEASE][WIRE_ST_GRANTED], 0);
	assert_int_equal(d.requests[0][WIRE_ST_REJECTED], 1);
	assert_int_equal(d.requests[WIRE_OP_ACQUIRE][0] + d.requests[WIRE_OP_RELEASE][0], 0);
	assert_int_equal(d.rejections[-BATON_E_BAD_JSON], 1);
	assert_int_equal(d.handoffs[WIRE_REASON_RELEASED], 1);
	assert_int_equal(d.grants, 2);
	assert_int_equal(d.held, 1);
	assert_int_equal(d.backlog, 7);
	assert_int_equal(d.latency.count, 4);
	assert_int_equal(d.latency.n[2], 2); /* 2 ms: the 2.5 ms bucket */
	assert_int_equal(d.latency.n[3], 2); /* 3 ms: the 5 ms bucket */
	assert_int_equal(d.batch.count, 2);
	assert_int_equal(d.batch.n[1], 2); /* two inputs per batch */
	assert_int_equal(d.commits, 2);
	metrics_free(m);
	table_free(t);
}

/* A writer's release lets two queued readers in at once: two handoffs,
 * both for the reason the writer's holding ended. */
static void test_batch_counts_readers_granted_together(void **state)
{
	(void)state;
	table *t = NULL;
	metrics *m = NULL;
	fresh(&t, &m);
	wire_request w = h_req(WIRE_OP_ACQUIRE, "w1", "db"), r1 = h_req(WIRE_OP_ACQUIRE, "s1", "db"),
	             r2 = h_req(WIRE_OP_ACQUIRE, "s2", "db");
	w.mode = WIRE_MODE_MUTEX;
	r1.mode = r2.mode = WIRE_MODE_SHARED;
	step(m, t, "writer", w, 1000, 0);
	step(m, t, "reader1", r1, 1000, 0);
	step(m, t, "reader2", r2, 1000, 0);
	flush(m, t, 1000);
	wire_request rel = h_req(WIRE_OP_RELEASE, "w2", "db");
	rel.token = 1;
	rel.success = true;
	step(m, t, "writer", rel, 2000, 0);
	flush(m, t, 1000);
	metrics_publish(m);
	metrics_data d;
	metrics_read(m, &d);
	assert_int_equal(d.requests[WIRE_OP_ACQUIRE][WIRE_ST_QUEUED], 2);
	assert_int_equal(d.requests[WIRE_OP_RELEASE][WIRE_ST_RELEASED], 1);
	assert_int_equal(d.handoffs[WIRE_REASON_RELEASED], 2);
	assert_int_equal(d.grants, 3);
	assert_int_equal(d.held, 2);
	metrics_free(m);
	table_free(t);
}

/* A request whose arrival is unknown (a follower applying the leader's
 * entry) is counted with its answer but adds no latency. */
static void test_unknown_arrival_has_no_latency(void **state)
{
	(void)state;
	table_config tc;
	table_config_default(&tc);
	table *tb = table_new(&tc);
	metrics *m = metrics_new();
	assert_non_null(tb);
	assert_non_null(m);
	wire_request a1 = h_req(WIRE_OP_ACQUIRE, "a1", "r");
	a1.mode = WIRE_MODE_MUTEX;
	step(m, tb, "n1", a1, 1000, -1);
	flush(m, tb, 3000000);
	metrics_publish(m);
	metrics_data d;
	metrics_read(m, &d);
	assert_int_equal(d.requests[WIRE_OP_ACQUIRE][WIRE_ST_GRANTED], 1);
	assert_int_equal(d.latency.count, 0);
	metrics_free(m);
	table_free(tb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hist_bounds_inclusive),
	    cmocka_unit_test(test_buckets_increasing),
	    cmocka_unit_test(test_format_exposition),
	    cmocka_unit_test(test_format_group_gauges),
	    cmocka_unit_test(test_unknown_arrival_has_no_latency),
	    cmocka_unit_test(test_parse_addr_forms),
	    cmocka_unit_test(test_batch_pairs_requests_with_their_answers),
	    cmocka_unit_test(test_batch_counts_readers_granted_together),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
