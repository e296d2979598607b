/*
 * test_table_alias.c - the aliases of the lock table (a node's later
 * acquire ids of a holding or wait it already has) across a restore: the
 * views list them in the order they finish, table_restore() rebuilds them,
 * so a repeat of an alias id is answered with its request's status and the
 * alias finishes with it, numbered as on the table that kept running; a
 * waiter's new alias is in the batch's dirty set (for the store) without a
 * snapshot; bad aliases are refused and change nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table_script.h"

/* A holds r (a1; aliases a2, a3, the second with lease 9000), B waits for r
 * (b1; aliases b2, b3), C holds m (c1; alias c2). */
static void with_aliases(h *x)
{
	acq(x, "A", "a1", "r");
	acq(x, "B", "b1", "r");
	acqm(x, "C", "c1", "m");
	acq(x, "A", "a2", "r");
	acq_full(x, "A", "a3", "r", WIRE_MODE_ONCE, -1, 9000);
	acq(x, "B", "b2", "r");
	acq(x, "B", "b3", "r");
	acqm(x, "C", "c2", "m");
	expect(x, "A: granted a1 r t=1 l=30000", "B: queued b1 r pos=1 holder=A",
	       "C: granted c1 m t=2 l=30000", "A: granted a2 r t=1 l=30000", "A: granted a3 r t=1 l=9000",
	       "B: queued b2 r pos=1 holder=A", "B: queued b3 r pos=1 holder=A",
	       "C: granted c2 m t=2 l=30000",
	       "state r once holder=A t=1 since=1000000 until=1009000 meta=- wait=[B]",
	       "state m mutex holder=C t=2 since=1000000 until=1030000 meta=- wait=[]", NULL);
}

typedef struct views {
	table *dst; /* NULL: only render */
	int n, failed;
	char lines[4][1024];
} views;

static void view_one(void *ctx, const table_resource_view *v)
{
	views *c = ctx;
	h_view(c->lines[c->n++], sizeof c->lines[0], v);
	if (c->dst != NULL && table_restore(c->dst, v) != BATON_OK)
		c->failed++;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Every view of t rendered, sorted, into c (restored into c->dst). */
static void views_of(table *t, views *c)
{
	table_foreach(t, view_one, c);
	qsort(c->lines, (size_t)c->n, sizeof c->lines[0], cmp_lines);
}

/* A fresh table restored from x's views and counters, equal to it. */
static table *restored(h *x)
{
	table_config cfg;
	table_config_default(&cfg);
	views a = {.dst = table_new(&cfg)}, b = {0};
	table_restore_next_token(a.dst, table_next_token(x->t));
	table_restore_next_id_seq(a.dst, table_next_id_seq(x->t));
	views_of(x->t, &a);
	assert_int_equal(a.failed, 0);
	char why[256];
	if (table_check(a.dst, why, sizeof why) != BATON_OK)
		fail_msg("table_check of the restored table: %s", why);
	views_of(a.dst, &b);
	assert_int_equal(a.n, b.n);
	for (int i = 0; i < a.n; i++)
		assert_string_equal(a.lines[i], b.lines[i]);
	assert_int_equal(table_next_deadline(a.dst), table_next_deadline(x->t));
	return a.dst;
}

/* The batch of t rendered: effects, then id changes with their seq. */
static void batch_of(table *t, char *out, size_t cap)
{
	table_ready rd;
	table_ready_get(t, &rd);
	out[0] = '\0';
	for (size_t i = 0; i < rd.n_effects; i++) {
		char line[1024];
		h_render(line, sizeof line, &rd.effects[i]);
		h_cat(out, cap, "%s\n", line);
	}
	for (size_t i = 0; i < rd.n_ids; i++) {
		const table_id_change *c = &rd.ids[i];
		h_cat(out, cap, "id %d %s %s %s #%llu\n", (int)c->kind, c->rec.node, H_S(c->rec.id),
		      c->kind == TABLE_ID_PUT ? h_status(c->rec.status) : "-",
		      (unsigned long long)c->rec.seq);
	}
	h_cat(out, cap, "next_token %llu next_id_seq %llu\n", (unsigned long long)rd.next_token,
	      (unsigned long long)rd.next_id_seq);
	table_advance(t);
	char why[256];
	if (table_check(t, why, sizeof why) != BATON_OK)
		fail_msg("table_check: %s", why);
}

/* The same request stepped into both tables gives the same batch. */
static void both(h *x, table *t2, const char *node, const wire_request *r, const char *want_first)
{
	static char a[8192], b[8192];
	assert_int_equal(table_step_request(x->t, x->now, node, r), BATON_OK);
	assert_int_equal(table_step_request(t2, x->now, node, r), BATON_OK);
	batch_of(x->t, a, sizeof a);
	batch_of(t2, b, sizeof b);
	assert_string_equal(a, b);
	if (strncmp(a, want_first, strlen(want_first)) != 0)
		fail_msg("batch starts \"%.*s\", want \"%s\"", (int)strlen(want_first), a, want_first);
}

static void test_alias_views_list_them_newest_first(void **state)
{
	h *x = *state;
	with_aliases(x);
	views c = {0};
	views_of(x->t, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.lines[0], "view m mutex permits=1 hold=C/c1/2/mutex l=30000 1000000..1030000 "
	                                "meta=- aliases=[c2] failures=0 forget=0");
	assert_string_equal(c.lines[1],
	                    "view r once permits=1 hold=A/a1/1/once l=9000 1000000..1009000 meta=- "
	                    "aliases=[a3,a2] wait=B/b1/once l=30000 until=9223372036854775807 meta=- "
	                    "cap=0 aliases=[b3,b2] failures=0 forget=0");
}

static void test_alias_restore_round_trip_repeat_answered_and_finished_alike(void **state)
{
	h *x = *state;
	with_aliases(x);
	table *t2 = restored(x);
	/* a repeat of an alias id is answered with its request's status on
	 * both, and changes nothing */
	wire_request ra = h_req(WIRE_OP_ACQUIRE, "a2", "r");
	both(x, t2, "A", &ra, "A: granted a2 r t=1 l=9000\nnext_token 3 next_id_seq 0\n");
	wire_request rb = h_req(WIRE_OP_ACQUIRE, "b2", "r");
	both(x, t2, "B", &rb, "B: queued b2 r pos=1 holder=A\nnext_token 3 next_id_seq 0\n");
	/* A's release hands r to B: the aliases finish with their requests, in
	 * the same order and with the same seq on both */
	wire_request rel1 = h_req(WIRE_OP_RELEASE, "a4", "r");
	rel1.token = 1;
	both(x, t2, "A", &rel1, "B: granted b1 r t=3");
	wire_request rel2 = h_req(WIRE_OP_RELEASE, "b4", "r");
	rel2.token = 3;
	rel2.success = true;
	both(x, t2, "B", &rel2, "B: released b4 r t=3");
	/* the finished aliases answer as their requests finished, on both */
	both(x, t2, "A", &ra, "A: released a2 r t=1\n");
	both(x, t2, "B", &rb, "B: released b2 r t=3\n");
	table_free(t2);
}

static void test_alias_restored_ids_numbered_as_before(void **state)
{
	h *x = *state;
	/* D finishes two ids, then goes offline: they are forgotten, and with
	 * them the largest seq */
	acqm(x, "D", "d1", "n");
	rel(x, "D", "d2", "n", 1, true, NULL, NULL);
	offline(x, "D");
	acqm(x, "A", "a1", "r");
	acqm(x, "A", "a2", "r");
	table_ready rd;
	table_ready_get(x->t, &rd);
	assert_int_equal(rd.next_id_seq, 2);
	table_advance(x->t);
	table *t2 = restored(x);
	assert_int_equal(table_next_id_seq(t2), 2);
	wire_request rel1 = h_req(WIRE_OP_RELEASE, "a3", "r");
	rel1.token = 2;
	rel1.success = true;
	both(x, t2, "A", &rel1, "A: released a3 r t=2");
	assert_int_equal(table_next_id_seq(t2), 5); /* a2, a1, a3 */
	table_free(t2);
}

static void test_alias_of_waiter_dirty_without_snapshot(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	acq(x, "B", "b1", "r");
	expect(x, "A: granted a1 r t=1 l=30000", "B: queued b1 r pos=1 holder=A",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[B]", NULL);
	acq(x, "B", "b2", "r");
	table_ready rd;
	table_ready_get(x->t, &rd);
	assert_int_equal(rd.n_dirty, 1);
	assert_string_equal(rd.dirty[0], "r");
	assert_int_equal(rd.n_effects, 1); /* the answer only: the snapshot shows no change */
	table_advance(x->t);
	/* a real change in the same batch still publishes its snapshot */
	acq(x, "C", "c1", "r");
	acq(x, "C", "c2", "r");
	acq(x, "A", "a2", "r");
	expect(x, "C: queued c1 r pos=2 holder=A", "C: queued c2 r pos=2 holder=A",
	       "A: granted a2 r t=1 l=30000",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[B,C]", NULL);
}

static void test_alias_restore_bad_refused_inval_nothing_changed(void **state)
{
	h *x = *state;
	table_restore_next_token(x->t, 10);
	const char *dup[] = {"a2", "a3", "a2"}, *own[] = {"a1"}, *other[] = {"z1"}, *empty[] = {""};
	table_holding_view hv = {.node = "A",
	                         .id = "a1",
	                         .token = 3,
	                         .mode = WIRE_MODE_ONCE,
	                         .lease_ms = 1000,
	                         .lease_until_ms = 2000000};
	table_resource_view v = {.name = "r", .mode = WIRE_MODE_ONCE, .holders = &hv, .n_holders = 1};
	hv.aliases = dup;
	hv.n_aliases = 3;
	assert_int_equal(table_restore(x->t, &v), BATON_E_INVAL); /* the same alias twice */
	hv.aliases = own;
	hv.n_aliases = 1;
	assert_int_equal(table_restore(x->t, &v), BATON_E_INVAL); /* the acquire's own id */
	hv.aliases = empty;
	assert_int_equal(table_restore(x->t, &v), BATON_E_INVAL); /* not an id */
	hv.aliases = NULL;
	assert_int_equal(table_restore(x->t, &v), BATON_E_INVAL); /* a count without ids */
	/* an id the node has on another resource */
	table_holding_view zv = hv;
	zv.id = "z1";
	zv.token = 4;
	zv.aliases = NULL;
	zv.n_aliases = 0;
	table_resource_view z = {.name = "z", .mode = WIRE_MODE_ONCE, .holders = &zv, .n_holders = 1};
	assert_int_equal(table_restore(x->t, &z), BATON_OK);
	hv.aliases = other;
	assert_int_equal(table_restore(x->t, &v), BATON_E_INVAL);
	table_counts c;
	table_counts_get(x->t, &c);
	assert_int_equal(c.resources, 1); /* only z */
	hv.aliases = dup;
	hv.n_aliases = 2;
	assert_int_equal(table_restore(x->t, &v), BATON_OK);
	char why[256];
	assert_int_equal(table_check(x->t, why, sizeof why), BATON_OK);
	acq(x, "A", "a3", "r");
	expect(x, "A: granted a3 r t=3 l=1000", NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_alias_views_list_them_newest_first),
	    T(test_alias_restore_round_trip_repeat_answered_and_finished_alike),
	    T(test_alias_restored_ids_numbered_as_before),
	    T(test_alias_of_waiter_dirty_without_snapshot),
	    T(test_alias_restore_bad_refused_inval_nothing_changed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
