/*
 * test_apply.c - the one apply path (coordinator/apply.h) as the single
 * process drives it: a batch it never encodes, lease deadlines held back
 * while its guard pauses them (hold), a gap in its service added to every
 * lease after the batch's messages (extend_ms), the nodes whose offline it
 * acted on, and the metrics it records.
 *
 * Owns: those cases, on a table with no store. No broker, no clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "apply.h"

#define PREFIX "baton/v1"
#define T0     1795000000000LL

typedef struct seen {
	int granted, revoked;
	char offline[8][32];
	int n_offline;
} seen;

static void on_effect(void *ctx, const table_effect *e)
{
	seen *s = ctx;
	if (e->kind != TABLE_FX_ANSWER)
		return;
	s->granted += e->u.answer.status == WIRE_ST_GRANTED;
	s->revoked += e->u.answer.status == WIRE_ST_REVOKED;
}

static void on_offline(void *ctx, const char *node)
{
	seen *s = ctx;
	snprintf(s->offline[s->n_offline++], sizeof s->offline[0], "%s", node);
}

static void fresh(applier *a, seen *s, metrics *m)
{
	memset(s, 0, sizeof *s);
	apply_options o = {.prefix = PREFIX, .effect = on_effect, .offline = on_offline, .ctx = s, .m = m};
	table_config_default(&o.table);
	assert_int_equal(apply_init(a, &o), BATON_OK);
}

/* One batch of one message (topic, JSON payload), or of none (NULL). */
static void batch(applier *a, int64_t now, const char *topic, const char *payload, int64_t arrived_ns)
{
	glog_msg msg = {.topic = topic,
	                .topic_len = topic ? strlen(topic) : 0,
	                .payload = payload,
	                .len = payload ? strlen(payload) : 0,
	                .arrived_ns = arrived_ns};
	glog_entry e = {.kind = GLOG_BATCH, .now = now, .msgs = &msg, .n_msgs = topic ? 1 : 0};
	assert_int_equal(apply_entry(a, &e), BATON_OK);
}

#define ACQUIRE                                                                                              \
	"{\"v\":1,\"op\":\"acquire\",\"id\":\"a1\",\"resource\":\"r\",\"mode\":\"mutex\",\"lease_ms\":1000}"

/* While held back, a lease that ran out does not end; once no longer held
 * back, the next batch ends it. */
static void test_hold_keeps_deadlines_back(void **state)
{
	(void)state;
	applier a;
	seen s;
	fresh(&a, &s, NULL);
	batch(&a, T0, PREFIX "/req/n1", ACQUIRE, 0);
	assert_int_equal(s.granted, 1);
	a.hold = true;
	batch(&a, T0 + 5000, NULL, NULL, 0);
	assert_int_equal(s.revoked, 0);
	a.hold = false;
	batch(&a, T0 + 5001, NULL, NULL, 0);
	assert_int_equal(s.revoked, 1);
	apply_deinit(&a);
}

/* A gap ends: every lease moves that much later, once. */
static void test_extend_moves_leases_once(void **state)
{
	(void)state;
	applier a;
	seen s;
	fresh(&a, &s, NULL);
	batch(&a, T0, PREFIX "/req/n1", ACQUIRE, 0);
	a.hold = true;
	batch(&a, T0 + 3000, NULL, NULL, 0);
	a.hold = false;
	a.extend_ms = 10000; /* the lease now ends at T0 + 11000 */
	batch(&a, T0 + 3000, NULL, NULL, 0);
	assert_int_equal(a.extend_ms, 0);
	batch(&a, T0 + 10999, NULL, NULL, 0);
	assert_int_equal(s.revoked, 0);
	batch(&a, T0 + 11000, NULL, NULL, 0);
	assert_int_equal(s.revoked, 1);
	apply_deinit(&a);
}

/* The node whose online:false was acted on is named (its retained presence
 * is cleared after the commit); an online one is not. */
static void test_offline_nodes_are_named(void **state)
{
	(void)state;
	applier a;
	seen s;
	fresh(&a, &s, NULL);
	batch(&a, T0, PREFIX "/node/n2", "{\"v\":1,\"online\":true}", 0);
	assert_int_equal(s.n_offline, 0);
	batch(&a, T0 + 1, PREFIX "/node/n2", "{\"v\":1,\"online\":false}", 0);
	assert_int_equal(s.n_offline, 1);
	assert_string_equal(s.offline[0], "n2");
	apply_deinit(&a);
}

/* The path records what both modes count: requests with their answers,
 * commits, batches, bad topics; the latency only with an arrival. */
static void test_metrics_recorded_on_the_path(void **state)
{
	(void)state;
	applier a;
	seen s;
	metrics *m = metrics_new();
	assert_non_null(m);
	fresh(&a, &s, m);
	batch(&a, T0, PREFIX "/req/n1", ACQUIRE, 0); /* arrival unknown: no latency */
	batch(&a, T0 + 1, PREFIX "/req/n1/extra", "{}", 0);
	a.arrived_ns = metrics_now_ns(m);
	batch(&a, T0 + 2, PREFIX "/req/n3",
	      "{\"v\":1,\"op\":\"acquire\",\"id\":\"a2\",\"resource\":\"q\",\"mode\":\"mutex\"}", 0);
	a.arrived_ns = 0;
	metrics_publish(m);
	metrics_data d;
	metrics_read(m, &d);
	assert_int_equal(d.requests[WIRE_OP_ACQUIRE][WIRE_ST_GRANTED], 2);
	assert_int_equal(d.rejections[-BATON_E_BAD_TOPIC], 1);
	assert_int_equal(d.commits, 2); /* the bad topic's batch changed nothing */
	assert_int_equal(d.latency.count, 1);
	assert_int_equal(a.bad_topics, 1);
	apply_deinit(&a);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hold_keeps_deadlines_back),
	    cmocka_unit_test(test_extend_moves_leases_once),
	    cmocka_unit_test(test_offline_nodes_are_named),
	    cmocka_unit_test(test_metrics_recorded_on_the_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
