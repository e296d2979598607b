/*
 * test_store_ids.c - the remembered request ids survive a restart: a
 * request repeated after the coordinator was killed and reloaded from its
 * state file is answered exactly as it was the first time (PROTOCOL.md,
 * idempotency per (node, id) and guarantee 3); what the table forgets
 * (offline, eviction beyond id_memory) stays forgotten; a version 1 file is
 * migrated with its data.
 *
 * Every case works on its own file in a fresh mkdtemp() directory. "Killed"
 * means: the batch was committed, then the table was freed without anything
 * else, and a fresh table was loaded from the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_harness.h"

/* ---- repeats after a restart -------------------------------------------------------- */

static void test_ids_release_repeated_after_restart_answered_released(void **state)
{
	fixture *f = *state;
	wire_request a = acq("a1", "r/x", WIRE_MODE_MUTEX, -1), r;
	char first[512];

	step(f, T0, "n1", &a);
	r = rel("r1", "r/x", token_of(f, "r/x"), true, NULL);
	strcpy(first, step(f, T0 + 1, "n1", &r));
	assert_string_equal(first, "n1: released r1 r/x t=1");
	/* Killed after the commit, before the broker got the answer. */
	restart(f);
	assert_string_equal(step(f, T0 + 2, "n1", &r), first);
	/* And the acquire that held it is remembered as released too. */
	assert_string_equal(step(f, T0 + 3, "n1", &a), "n1: released a1 r/x t=1");
	/* Twice: the repeat changed nothing. */
	restart(f);
	assert_string_equal(step(f, T0 + 4, "n1", &r), first);
}

static void test_ids_renew_repeated_after_restart_answered_renewed(void **state)
{
	fixture *f = *state;
	wire_request a = acq("a1", "r/x", WIRE_MODE_MUTEX, -1), w = h_req(WIRE_OP_RENEW, "w1", "r/x"), r;
	char first[512];

	a.has_lease = true;
	a.lease_ms = 5000;
	step(f, T0, "n1", &a);
	w.token = token_of(f, "r/x");
	strcpy(first, step(f, T0 + 1, "n1", &w));
	assert_string_equal(first, "n1: renewed w1 r/x t=1 l=5000");
	r = rel("r1", "r/x", w.token, true, NULL);
	step(f, T0 + 2, "n1", &r);
	restart(f);
	/* The holding is gone, yet the renew is answered as the first time. */
	assert_string_equal(step(f, T0 + 3, "n1", &w), first);
}

static void test_ids_cancel_and_reset_repeated_after_restart_answered_same(void **state)
{
	fixture *f = *state;
	wire_request a1 = acq("a1", "once/x", WIRE_MODE_ONCE, -1),
	             a2 = acq("a2", "once/x", WIRE_MODE_ONCE, -1);
	wire_request c = h_req(WIRE_OP_CANCEL, "c1", "once/x"), z = h_req(WIRE_OP_RESET, "z1", "once/x");
	wire_request c2 = h_req(WIRE_OP_CANCEL, "c2", "once/x");
	char cancelled[512], reset[512], holding_cancelled[512];

	step(f, T0, "n1", &a1);
	assert_string_equal(step(f, T0 + 1, "n2", &a2), "n2: queued a2 once/x pos=1 holder=n1");
	strcpy(cancelled, step(f, T0 + 2, "n2", &c));
	strcpy(holding_cancelled, step(f, T0 + 3, "n1", &c2));
	assert_string_equal(holding_cancelled, "n1: cancelled c2 once/x t=1");
	strcpy(reset, step(f, T0 + 4, "n3", &z));
	restart(f);
	/* n2 acquires again (new id) and holds; a late duplicate of its cancel
	 * must not withdraw anything. */
	wire_request a3 = acq("a3", "once/x", WIRE_MODE_ONCE, -1);
	assert_string_equal(step(f, T0 + 5, "n2", &a3), "n2: granted a3 once/x t=2 l=30000");
	assert_string_equal(step(f, T0 + 6, "n2", &c), cancelled);
	assert_string_equal(step(f, T0 + 7, "n2", &a2), "n2: cancelled a2 once/x");
	assert_string_equal(step(f, T0 + 8, "n1", &c2), holding_cancelled);
	assert_string_equal(step(f, T0 + 9, "n3", &z), reset);
	assert_int_equal(token_of(f, "once/x"), 2); /* still held by n2 */
}

static void test_ids_finished_acquires_repeated_after_restart_answered_same(void **state)
{
	fixture *f = *state;
	wire_request a1 = acq("a1", "once/x", WIRE_MODE_ONCE, -1),
	             a2 = acq("a2", "once/x", WIRE_MODE_ONCE, -1);
	wire_request b = acq("b1", "m/y", WIRE_MODE_MUTEX, -1), busy = acq("b2", "m/y", WIRE_MODE_MUTEX, 0);
	wire_request late = acq("a3", "once/x", WIRE_MODE_ONCE, -1),
	             conflict = acq("x1", "m/y", WIRE_MODE_ONCE, -1);
	wire_request r;
	char done_waiter[512], done_late[512], busy_first[512], conflict_first[512];

	step(f, T0, "n1", &a1);
	step(f, T0 + 1, "n2", &a2);
	r = rel("r1", "once/x", token_of(f, "once/x"), true, "sha256:abc");
	step(f, T0 + 2, "n1", &r);
	strcpy(done_late, step(f, T0 + 3, "n3", &late));
	assert_string_equal(done_late, "n3: done a3 once/x by=n1/1/sha256:abc@1764000000002");
	step(f, T0 + 4, "n1", &b);
	strcpy(busy_first, step(f, T0 + 5, "n2", &busy));
	assert_string_equal(busy_first, "n2: busy b2 m/y holder=n1");
	strcpy(conflict_first, step(f, T0 + 6, "n3", &conflict));
	assert_string_equal(conflict_first, "n3: rejected x1 m/y mode_conflict");
	/* n2's queued acquire was answered done by the release: the same. */
	strcpy(done_waiter, "n2: done a2 once/x by=n1/1/sha256:abc@1764000000002");
	/* The success is then forgotten and m/y released: the state moved on. */
	wire_request z = h_req(WIRE_OP_RESET, "z1", "once/x");
	step(f, T0 + 7, "n4", &z);
	r = rel("r2", "m/y", token_of(f, "m/y"), true, NULL);
	step(f, T0 + 8, "n1", &r);
	restart(f);
	assert_string_equal(step(f, T0 + 9, "n2", &a2), done_waiter);
	assert_string_equal(step(f, T0 + 10, "n3", &late), done_late);
	assert_string_equal(step(f, T0 + 11, "n2", &busy), busy_first);
	assert_string_equal(step(f, T0 + 12, "n3", &conflict), conflict_first);
	assert_string_equal(step(f, T0 + 13, "n1", &a1), "n1: released a1 once/x t=1");
}

static void test_ids_revoked_repeated_after_restart_answered_revoked(void **state)
{
	fixture *f = *state;
	wire_request a = acq("a1", "r/x", WIRE_MODE_MUTEX, -1), r;
	table_ready rd;

	step(f, T0, "n1", &a);
	assert_int_equal(table_tick(f->t, T0 + 30000), BATON_OK);
	table_ready_get(f->t, &rd);
	assert_int_equal(store_commit(f->s, f->t, &rd, f->err, sizeof f->err), BATON_OK);
	table_advance(f->t);
	restart(f);
	assert_string_equal(step(f, T0 + 30001, "n1", &a), "n1: revoked a1 r/x t=1 lease_expired");
	/* A release of the lost holding is rejected: nothing was applied. */
	r = rel("r1", "r/x", 1, true, NULL);
	assert_string_equal(step(f, T0 + 30002, "n1", &r), "n1: rejected r1 r/x not_holder");
	restart(f);
	assert_string_equal(step(f, T0 + 30003, "n1", &r), "n1: rejected r1 r/x not_holder");
}

static void test_ids_live_acquire_repeated_after_restart_answered_granted(void **state)
{
	fixture *f = *state;
	wire_request a = acq("a1", "r/x", WIRE_MODE_MUTEX, -1);

	step(f, T0, "n1", &a);
	restart(f);
	assert_string_equal(step(f, T0 + 1, "n1", &a), "n1: granted a1 r/x t=1 l=30000");
}

/* ---- forgetting is durable ---------------------------------------------------------- */

static void test_ids_offline_forgets_durably(void **state)
{
	fixture *f = *state;
	wire_request a = acq("a1", "r/x", WIRE_MODE_MUTEX, -1), r;
	table_ready rd;

	step(f, T0, "n1", &a);
	r = rel("r1", "r/x", token_of(f, "r/x"), true, NULL);
	step(f, T0 + 1, "n1", &r);
	assert_int_equal(store_sql_int(f, "select count(*) from requests where node = 'n1'"), 2);
	/* Offline with nothing live: no effect at all, only the ids forgotten. */
	assert_int_equal(table_step_presence(f->t, T0 + 2, "n1", false), BATON_OK);
	table_ready_get(f->t, &rd);
	assert_int_equal(rd.n_effects, 0);
	assert_int_equal(rd.n_ids, 1);
	assert_int_equal(rd.ids[0].kind, TABLE_ID_DEL_NODE);
	assert_int_equal(store_commit(f->s, f->t, &rd, f->err, sizeof f->err), BATON_OK);
	table_advance(f->t);
	assert_int_equal(store_sql_int(f, "select count(*) from requests"), 0);
	restart(f);
	/* A re-sent id is a new request. */
	assert_string_equal(step(f, T0 + 3, "n1", &r), "n1: rejected r1 r/x not_holder");
	assert_string_equal(step(f, T0 + 4, "n1", &a), "n1: granted a1 r/x t=2 l=30000");
}

static void test_ids_eviction_beyond_memory_durable(void **state)
{
	fixture *f = *state;
	char id[32], rid[32];
	wire_request r;

	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof id, "a%d", i);
		snprintf(rid, sizeof rid, "r%d", i);
		wire_request a = acq(id, "r/x", WIRE_MODE_MUTEX, -1);
		step(f, T0 + 2 * i, "n1", &a);
		r = rel(rid, "r/x", token_of(f, "r/x"), true, NULL);
		step(f, T0 + 2 * i + 1, "n1", &r);
	}
	/* Each cycle remembers two ids: the newest 64 are a68..a99, r68..r99. */
	assert_int_equal(store_sql_int(f, "select count(*) from requests where node = 'n1'"), 64);
	restart(f);
	r = rel("r68", "r/x", 69, true, NULL);
	assert_string_equal(step(f, T0 + 300, "n1", &r), "n1: released r68 r/x t=69");
	r = rel("r67", "r/x", 68, true, NULL);
	assert_string_equal(step(f, T0 + 301, "n1", &r), "n1: rejected r67 r/x not_holder");
	/* The order survived: that new id evicted the oldest, a68. */
	wire_request a68 = acq("a68", "r/x", WIRE_MODE_MUTEX, -1);
	assert_string_equal(step(f, T0 + 302, "n1", &a68), "n1: granted a68 r/x t=101 l=30000");
	assert_int_equal(store_sql_int(f, "select count(*) from requests where node = 'n1'"), 64);
	assert_int_equal(store_sql_int(f, "select count(*) from requests where id = 'r68'"), 1);
}

/* ---- migration ---------------------------------------------------------------------- */

static void test_ids_version_1_file_migrated_with_its_data(void **state)
{
	fixture *f = *state;
	sqlite3 *db = NULL;
	table_resource_view v;

	store_close(f->s);
	f->s = NULL;
	unlink(f->path);
	/* What Baton's version 1 wrote (store.c's schema_v1), with a holding. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
	        db,
	        "PRAGMA journal_mode = WAL;"
	        "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	        "CREATE TABLE resources(name TEXT PRIMARY KEY, mode TEXT NOT NULL, prev_node TEXT,"
	        " prev_token INTEGER, prev_error TEXT, prev_reason TEXT) WITHOUT ROWID;"
	        "CREATE TABLE holdings(resource TEXT PRIMARY KEY, mode TEXT NOT NULL, node TEXT NOT NULL,"
	        " request_id TEXT NOT NULL, token INTEGER NOT NULL, lease_ms INTEGER NOT NULL, since TEXT,"
	        " lease_until TEXT, since_ms INTEGER NOT NULL, lease_until_ms INTEGER NOT NULL, meta TEXT)"
	        " WITHOUT ROWID;"
	        "CREATE TABLE waiters(resource TEXT NOT NULL, position INTEGER NOT NULL, node TEXT NOT NULL,"
	        " request_id TEXT NOT NULL, lease_ms INTEGER NOT NULL, wait_until TEXT, wait_until_ms "
	        "INTEGER,"
	        " meta TEXT, PRIMARY KEY(resource, position)) WITHOUT ROWID;"
	        "CREATE TABLE remembered(resource TEXT PRIMARY KEY, node TEXT NOT NULL, token INTEGER NOT "
	        "NULL,"
	        " result TEXT, completed_at TEXT, completed_at_ms INTEGER NOT NULL, forget_at TEXT,"
	        " forget_at_ms INTEGER NOT NULL) WITHOUT ROWID;"
	        "INSERT INTO meta(key, value) VALUES ('next_token', 8);"
	        "INSERT INTO resources(name, mode) VALUES ('r/x', 'mutex');"
	        "INSERT INTO holdings VALUES ('r/x', 'mutex', 'n1', 'a1', 7, 30000, NULL, NULL,"
	        " 1764000000000, 1764000030000, 'm');"
	        "PRAGMA application_id = 1114926641; PRAGMA user_version = 1;",
	        NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	restart(f);
	assert_int_equal(store_sql_int(f, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(store_sql_int(f, "select count(*) from requests"), 0);
	assert_true(table_resource_get(f->t, "r/x", &v));
	assert_string_equal(v.holder, "n1");
	assert_int_equal(v.token, 7);
	assert_string_equal(v.meta, "m");
	assert_int_equal(table_next_token(f->t), 8);
	/* The migrated file remembers ids from now on. */
	wire_request r = rel("r1", "r/x", 7, true, NULL);
	assert_string_equal(step(f, T0 + 1, "n1", &r), "n1: released r1 r/x t=7");
	restart(f);
	assert_string_equal(step(f, T0 + 2, "n1", &r), "n1: released r1 r/x t=7");
}

static void test_ids_bad_row_refused_corrupt(void **state)
{
	fixture *f = *state;
	sqlite3 *db = f->s->db;

	assert_int_equal(sqlite3_exec(db,
	                              "INSERT INTO requests(node, id, resource, seq, status)"
	                              " VALUES ('n1', 'a1', 'r/x', 1, 'granted')",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);

	table_free(f->t);
	f->t = new_table();
	assert_int_equal(store_load(f->s, f->t, f->err, sizeof f->err), BATON_E_STORE_CORRUPT);
	print_message("%s\n", f->err);
	assert_non_null(strstr(f->err, "a1"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_ids_release_repeated_after_restart_answered_released),
	    T(test_ids_renew_repeated_after_restart_answered_renewed),
	    T(test_ids_cancel_and_reset_repeated_after_restart_answered_same),
	    T(test_ids_finished_acquires_repeated_after_restart_answered_same),
	    T(test_ids_revoked_repeated_after_restart_answered_revoked),
	    T(test_ids_live_acquire_repeated_after_restart_answered_granted),
	    T(test_ids_offline_forgets_durably),
	    T(test_ids_eviction_beyond_memory_durable),
	    T(test_ids_version_1_file_migrated_with_its_data),
	    T(test_ids_bad_row_refused_corrupt),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
