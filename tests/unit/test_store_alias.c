/*
 * test_store_alias.c - aliases (a node's later acquire ids of a holding or
 * wait it already has) and the request id counter across a restart: a
 * commit keeps every alias of a holding and of a waiter (a waiter's alias
 * alone, in a batch of its own, too), a load rebuilds them in their order,
 * so a repeat of an alias id after a restart is answered with its
 * request's status, and finishes with it; the seq of the next finished id
 * is kept even when the newest ids were forgotten; alias rows that name no
 * holding or waiter are refused as corrupt.
 *
 * Every case works on its own file in a fresh mkdtemp() directory (see
 * store_harness.h); "restart" frees the table and loads a fresh one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_harness.h"

/* The resource's whole view (request ids and aliases included), rendered. */
static const char *view_of(fixture *f, const char *res)
{
	static char out[2048];
	table_resource_view v;

	if (!table_resource_get(f->t, res, &v))
		return "absent";
	h_view(out, sizeof out, &v);
	return out;
}

/* Steps req and commits, ignoring the answers (they may be several). */
static void commit_step(fixture *f, int64_t now, const char *node, const wire_request *req)
{
	table_ready r;

	assert_int_equal(table_step_request(f->t, now, node, req), BATON_OK);
	table_ready_get(f->t, &r);
	if (store_commit(f->s, f->t, &r, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_commit: %s", f->err);
	table_advance(f->t);
}

static void test_store_alias_held_and_queued_kept_across_restart(void **state)
{
	fixture *f = *state;
	wire_request a1 = acq("a1", "r", WIRE_MODE_MUTEX, -1), a2 = acq("a2", "r", WIRE_MODE_MUTEX, -1);
	wire_request a3 = acq("a3", "r", WIRE_MODE_MUTEX, -1), b1 = acq("b1", "r", WIRE_MODE_MUTEX, -1);
	wire_request b2 = acq("b2", "r", WIRE_MODE_MUTEX, -1);
	a3.has_lease = true;
	a3.lease_ms = 9000;
	assert_string_equal(step(f, T0, "A", &a1), "A: granted a1 r t=1 l=30000");
	assert_string_equal(step(f, T0, "B", &b1), "B: queued b1 r pos=1 holder=A");
	assert_string_equal(step(f, T0 + 1, "A", &a2), "A: granted a2 r t=1 l=30000");
	assert_string_equal(step(f, T0 + 2, "A", &a3), "A: granted a3 r t=1 l=9000");
	/* a batch of only the waiter's alias: no snapshot, still written */
	assert_string_equal(step(f, T0 + 3, "B", &b2), "B: queued b2 r pos=1 holder=A");
	char before[2048];
	strcpy(before, view_of(f, "r"));
	assert_string_equal(before, "view r mutex permits=1 hold=A/a1/1/mutex l=9000 "
	                            "1764000000000..1764000009002 meta=- aliases=[a3,a2] "
	                            "wait=B/b1/mutex l=30000 until=9223372036854775807 meta=- cap=0 "
	                            "aliases=[b2] failures=0 forget=0");
	restart(f);
	assert_string_equal(view_of(f, "r"), before);
	char why[256];
	if (table_check(f->t, why, sizeof why) != BATON_OK)
		fail_msg("table_check: %s", why);
	/* repeats are answered with the requests' status, nothing changes */
	assert_string_equal(step(f, T0 + 4, "A", &a2), "A: granted a2 r t=1 l=9000");
	assert_string_equal(step(f, T0 + 4, "B", &b2), "B: queued b2 r pos=1 holder=A");
	assert_string_equal(view_of(f, "r"), before);
	/* the aliases finish with their requests, and are remembered so */
	wire_request ra = rel("a4", "r", 1, true, NULL);
	commit_step(f, T0 + 5, "A", &ra);
	wire_request rb = rel("b4", "r", 2, true, NULL);
	commit_step(f, T0 + 6, "B", &rb);
	assert_int_equal(store_sql_int(f, "SELECT count(*) FROM aliases"), 0);
	restart(f);
	assert_string_equal(step(f, T0 + 7, "A", &a2), "A: released a2 r t=1");
	assert_string_equal(step(f, T0 + 7, "A", &a3), "A: released a3 r t=1");
	assert_string_equal(step(f, T0 + 7, "B", &b2), "B: released b2 r t=2");
}

static void test_store_alias_of_semaphore_holders_and_waiter_by_node(void **state)
{
	fixture *f = *state;
	/* three nodes, so the load hands each node's aliases to its own slot */
	const char *nodes[] = {"C", "A", "B", "C", "A", "B", "B"};
	const char *ids[] = {"c1", "a1", "b1", "c2", "a2", "b2", "b3"};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		wire_request r = acq(ids[i], "sem", WIRE_MODE_MUTEX, -1);
		r.permits = 2;
		commit_step(f, T0, nodes[i], &r);
	}
	char before[2048];
	strcpy(before, view_of(f, "sem"));
	assert_non_null(strstr(before, "hold=C/c1/1/mutex l=30000 1764000000000..1764000030000 meta=- "
	                               "aliases=[c2] hold=A/a1/2/mutex l=30000 1764000000000..1764000030000 "
	                               "meta=- aliases=[a2] wait=B/b1/mutex"));
	assert_non_null(strstr(before, "aliases=[b3,b2]"));
	restart(f);
	assert_string_equal(view_of(f, "sem"), before);
}

static void test_store_alias_id_counter_kept_when_newest_ids_forgotten(void **state)
{
	fixture *f = *state;
	wire_request d1 = acq("d1", "n", WIRE_MODE_MUTEX, -1), d2 = rel("d2", "n", 1, true, NULL);
	step(f, T0, "D", &d1);
	step(f, T0, "D", &d2);
	table_ready r;
	assert_int_equal(table_step_presence(f->t, T0, "D", false), BATON_OK);
	table_ready_get(f->t, &r);
	assert_int_equal(store_commit(f->s, f->t, &r, f->err, sizeof f->err), BATON_OK);
	table_advance(f->t);
	assert_int_equal(store_sql_int(f, "SELECT count(*) FROM requests"), 0);
	restart(f);
	assert_int_equal(table_next_id_seq(f->t), 2);
	wire_request a1 = acq("a1", "n", WIRE_MODE_MUTEX, 0);
	wire_request a2 = rel("a2", "n", 2, true, NULL);
	step(f, T0 + 1, "A", &a1);
	step(f, T0 + 1, "A", &a2);
	assert_int_equal(store_sql_int(f, "SELECT min(seq) FROM requests"), 2);
	assert_int_equal(store_sql_int(f, "SELECT value FROM meta WHERE key = 'next_id_seq'"), 4);
}

/* Writes SQL into the (closed) file. */
static void sql(fixture *f, const char *q)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
	sqlite3_close(db);
	open_store(f);
}

static void test_store_alias_rows_of_nobody_refused_corrupt(void **state)
{
	fixture *f = *state;
	wire_request a1 = acq("a1", "r", WIRE_MODE_MUTEX, -1), a2 = acq("a2", "r", WIRE_MODE_MUTEX, -1);
	step(f, T0, "A", &a1);
	step(f, T0, "A", &a2);
	static const char *const bad[] = {
	    /* a node that neither holds nor waits */
	    "UPDATE aliases SET node = 'Z'",
	    /* a resource with no row */
	    "UPDATE aliases SET resource = 'q'",
	    /* the acquire's own id */
	    "UPDATE aliases SET id = 'a1'",
	    /* not a text id (a blob stays one in a TEXT column) */
	    "UPDATE aliases SET id = x'6132'",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char q[256];
		snprintf(q, sizeof q, "SAVEPOINT x; %s; RELEASE x;", bad[i]);
		sql(f, q);
		table *t = new_table();
		assert_int_equal(store_load(f->s, t, f->err, sizeof f->err), BATON_E_STORE_CORRUPT);
		print_message("%s\n", f->err);
		table_free(t);
		sql(f, "UPDATE aliases SET resource = 'r', node = 'A', id = 'a2'");
	}
	table *t = new_table();
	assert_int_equal(store_load(f->s, t, f->err, sizeof f->err), BATON_OK);
	table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_store_alias_held_and_queued_kept_across_restart),
	    T(test_store_alias_of_semaphore_holders_and_waiter_by_node),
	    T(test_store_alias_id_counter_kept_when_newest_ids_forgotten),
	    T(test_store_alias_rows_of_nobody_refused_corrupt),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
