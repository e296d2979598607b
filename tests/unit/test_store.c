/*
 * test_store.c - the SQLite store: what a commit writes, a load reads back
 * into a fresh table exactly; files it must refuse are refused and left as
 * they were; a failed commit leaves the previous state.
 *
 * Every case works on its own file in a fresh mkdtemp() directory; state is
 * built through the real lock table (table_step_request) and compared with
 * table_resource_view field by field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_harness.h" /* the store's own connection (store_int.h), for the tests that inject faults */

/* ---- helpers --------------------------------------------------------------------- */

static void acquire(table *t, int64_t now, const char *node, const char *id, const char *res, wire_mode mode,
                    int64_t wait_ms, const char *meta)
{
	wire_request r = {.op = WIRE_OP_ACQUIRE, .id = id, .resource = res, .mode = mode, .meta = meta};

	r.has_lease = true;
	r.lease_ms = 30000;
	if (wait_ms >= 0) {
		r.has_wait = true;
		r.wait_ms = (uint64_t)wait_ms;
	}
	assert_int_equal(table_step_request(t, now, node, &r), BATON_OK);
}

static void release(table *t, int64_t now, const char *node, const char *id, const char *res, bool success,
                    const char *error, const char *result)
{
	table_resource_view v;
	wire_request r = {.op = WIRE_OP_RELEASE, .id = id, .resource = res, .success = success};

	assert_true(table_resource_get(t, res, &v));
	assert_string_equal(v.holder, node);
	r.token = v.token;
	r.error = error;
	r.result = result;
	assert_int_equal(table_step_request(t, now, node, &r), BATON_OK);
}

/* Makes the table's current batch durable and acknowledges it. */
static void commit(store *s, table *t)
{
	table_ready r;
	char err[256] = "";

	table_ready_get(t, &r);
	assert_int_equal(store_commit(s, t, &r, err, sizeof err), BATON_OK);
	table_advance(t);
}

static store *open_ok(fixture *f)
{
	store *s = NULL;

	f->err[0] = '\0';
	if (store_open(f->path, SYNC_LEVEL_FULL, &s, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_open: %s", f->err);
	return s;
}

/* Opens the file again and loads it into a fresh table. */
static table *reload(fixture *f)
{
	store *s = open_ok(f);
	table *t = new_table();

	if (store_load(s, t, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_load: %s", f->err);
	store_close(s);
	return t;
}

static void sql(const char *path, const char *q)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
	sqlite3_close(db);
}

/* The store holds its file's lock while open: a test looks through the
 * store's own connection. */
static int64_t store_int(store *s, const char *q)
{
	return db_int(s->db, q);
}

static void store_sql(store *s, const char *q)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
}

static void str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void view_eq(const table_resource_view *a, const table_resource_view *b)
{
	str_eq(a->name, b->name);
	assert_int_equal(a->mode, b->mode);
	str_eq(a->holder, b->holder);
	str_eq(a->holder_id, b->holder_id);
	assert_int_equal(a->token, b->token);
	assert_int_equal(a->lease_ms, b->lease_ms);
	assert_int_equal(a->since_ms, b->since_ms);
	assert_int_equal(a->lease_until_ms, b->lease_until_ms);
	str_eq(a->meta, b->meta);
	assert_int_equal(a->n_waiting, b->n_waiting);
	for (size_t i = 0; i < a->n_waiting; i++) {
		str_eq(a->waiting[i].node, b->waiting[i].node);
		str_eq(a->waiting[i].id, b->waiting[i].id);
		assert_int_equal(a->waiting[i].lease_ms, b->waiting[i].lease_ms);
		assert_int_equal(a->waiting[i].wait_until_ms, b->waiting[i].wait_until_ms);
		str_eq(a->waiting[i].meta, b->waiting[i].meta);
	}
	str_eq(a->done.node, b->done.node);
	assert_int_equal(a->done.token, b->done.token);
	str_eq(a->done.result, b->done.result);
	assert_int_equal(a->done.completed_at_ms, b->done.completed_at_ms);
	if (a->done.node != NULL)
		assert_int_equal(a->forget_at_ms, b->forget_at_ms);
	str_eq(a->previous.node, b->previous.node);
	assert_int_equal(a->previous.token, b->previous.token);
	str_eq(a->previous.error, b->previous.error);
	assert_int_equal(a->previous.reason, b->previous.reason);
}

typedef struct names {
	char *v[64];
	size_t n;
} names;

static void collect(void *ctx, const table_resource_view *v)
{
	names *ns = ctx;

	assert_true(ns->n < 64);
	ns->v[ns->n++] = strdup(v->name);
}

/* Asserts that b holds exactly a's resources, each equal field by field,
 * and the same counter. Returns how many resources were compared. */
static size_t tables_eq(table *a, table *b)
{
	names na = {0}, nb = {0};
	table_resource_view va, vb;

	table_foreach(a, collect, &na);
	table_foreach(b, collect, &nb);
	assert_int_equal(na.n, nb.n);
	for (size_t i = 0; i < na.n; i++) {
		assert_true(table_resource_get(a, na.v[i], &va));
		assert_true(table_resource_get(b, na.v[i], &vb));
		view_eq(&va, &vb);
	}
	assert_int_equal(table_next_token(a), table_next_token(b));
	for (size_t i = 0; i < na.n; i++)
		free(na.v[i]);
	for (size_t i = 0; i < nb.n; i++)
		free(nb.v[i]);
	return na.n;
}

static bool file_eq(const char *path, const unsigned char *want, size_t len)
{
	unsigned char buf[16384];
	FILE *fp = fopen(path, "rb");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof buf, fp);
	fclose(fp);
	return n == len && memcmp(buf, want, len) == 0;
}

static void write_file(const char *path, const unsigned char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* ---- round trips ----------------------------------------------------------------- */

static void test_store_every_kind_of_state_reloads_equal(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table(), *u;
	table_resource_view v;

	/* once, held with meta; two waiters, one forever, one with a deadline */
	acquire(t, T0, "n1", "a1", "images/nginx:1.25", WIRE_MODE_ONCE, -1, "docker pull nginx:1.25");
	commit(s, t);
	acquire(t, T0 + 1, "n2", "a2", "images/nginx:1.25", WIRE_MODE_ONCE, -1, NULL);
	acquire(t, T0 + 2, "n3", "a3", "images/nginx:1.25", WIRE_MODE_ONCE, 60000, "third");
	/* mutex, held without meta, one waiter */
	acquire(t, T0 + 3, "n1", "b1", "mutex/db", WIRE_MODE_MUTEX, -1, NULL);
	acquire(t, T0 + 4, "n4", "b2", "mutex/db", WIRE_MODE_MUTEX, 5000, "m");
	commit(s, t);
	/* remembered success with and without a result */
	acquire(t, T0 + 5, "n1", "c1", "once/with-result", WIRE_MODE_ONCE, -1, NULL);
	release(t, T0 + 6, "n1", "c2", "once/with-result", true, NULL, "sha256:abc");
	acquire(t, T0 + 7, "n2", "d1", "once/no-result", WIRE_MODE_ONCE, -1, NULL);
	commit(s, t);
	release(t, T0 + 8, "n2", "d2", "once/no-result", true, NULL, NULL);
	/* a failure handed to the next waiter: previous is kept */
	acquire(t, T0 + 9, "n1", "e1", "once/failed", WIRE_MODE_ONCE, -1, NULL);
	acquire(t, T0 + 10, "n2", "e2", "once/failed", WIRE_MODE_ONCE, -1, NULL);
	commit(s, t);
	release(t, T0 + 11, "n1", "e3", "once/failed", false, "exit status 1", NULL);
	commit(s, t);
	store_close(s);

	assert_true(table_resource_get(t, "once/failed", &v));
	assert_non_null(v.previous.node);
	assert_true(table_resource_get(t, "once/no-result", &v));
	assert_non_null(v.done.node);
	assert_null(v.done.result);

	u = reload(f);
	assert_int_equal(tables_eq(t, u), 5);
	/* the file is readable as the status shows it */
	assert_int_equal(sql_int(f->path, "select count(*) from holdings where resource = 'images/nginx:1.25'"
	                                  " and node = 'n1' and since = '2025-11-24T16:00:00.000Z'"),
	                 1);
	assert_int_equal(sql_int(f->path, "select count(*) from waiters where wait_until_ms is null"), 1);
	table_free(u);
	table_free(t);
}

static void test_store_reloaded_state_commits_again_equal(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table(), *u;

	acquire(t, T0, "n1", "a1", "r/x", WIRE_MODE_MUTEX, -1, "meta");
	acquire(t, T0, "n2", "a2", "r/x", WIRE_MODE_MUTEX, -1, NULL);
	commit(s, t);
	store_close(s);

	/* A restarted coordinator goes on: its next grant is above the old ones. */
	s = open_ok(f);
	u = new_table();
	assert_int_equal(store_load(s, u, f->err, sizeof f->err), BATON_OK);
	release(u, T0 + 1, "n1", "a3", "r/x", true, NULL, NULL);
	commit(s, u);
	store_close(s);
	table_free(t);
	t = reload(f);
	tables_eq(u, t);
	table_free(t);
	table_free(u);
}

static void test_store_counter_lower_commit_never_goes_back(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table();
	table_ready r = {0};
	store_stats st;

	r.next_token = 1000;
	assert_int_equal(store_commit(s, t, &r, f->err, sizeof f->err), BATON_OK);
	r.next_token = 5;
	assert_int_equal(store_commit(s, t, &r, f->err, sizeof f->err), BATON_OK);
	store_stats_get(s, &st);
	assert_int_equal(st.commits, 1); /* the lower one wrote nothing */
	assert_int_equal(st.last_token, 1000);
	store_close(s);
	table_free(t);

	t = reload(f);
	assert_int_equal(table_next_token(t), 1000);
	table_free(t);
	assert_int_equal(sql_int(f->path, "select value from meta where key = 'next_token'"), 1000);
}

static void test_store_idle_resource_rows_deleted(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table();
	table_resource_view v;

	acquire(t, T0, "n1", "a1", "mutex/idle", WIRE_MODE_MUTEX, -1, "m");
	acquire(t, T0, "n2", "a2", "mutex/idle", WIRE_MODE_MUTEX, -1, NULL);
	commit(s, t);
	assert_int_equal(store_int(s, "select count(*) from waiters"), 1);
	release(t, T0 + 1, "n1", "a3", "mutex/idle", true, NULL, NULL);
	release(t, T0 + 2, "n2", "a4", "mutex/idle", true, NULL, NULL);
	commit(s, t);
	assert_false(table_resource_get(t, "mutex/idle", &v));
	assert_int_equal(store_int(s, "select (select count(*) from resources) + (select count(*) from"
	                              " holdings) + (select count(*) from waiters) + (select count(*)"
	                              " from remembered)"),
	                 0);
	store_close(s);
	table_free(t);
	t = reload(f);
	assert_false(table_resource_get(t, "mutex/idle", &v));
	assert_int_equal(table_next_token(t), 3);
	table_free(t);
}

static void test_store_empty_batch_writes_nothing(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table();
	store_stats st;

	commit(s, t);
	store_stats_get(s, &st);
	assert_int_equal(st.commits, 0);
	store_close(s);
	table_free(t);
}

static void test_store_memory_path_empty_state(void **state)
{
	store *s = NULL;
	table *t = new_table();
	char err[256];

	(void)state;
	assert_int_equal(store_open(":memory:", SYNC_LEVEL_OFF, &s, err, sizeof err), BATON_OK);
	assert_int_equal(store_load(s, t, err, sizeof err), BATON_OK);
	assert_int_equal(table_next_token(t), 1);
	acquire(t, T0, "n1", "a1", "r", WIRE_MODE_ONCE, -1, NULL);
	commit(s, t);
	store_close(s);
	table_free(t);
}

/* ---- recovery -------------------------------------------------------------------- */

static void test_store_lease_expired_while_down_revoked_and_successor_granted(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table();
	table_resource_view v;
	table_ready r;
	bool revoked = false, granted = false;
	uint64_t old;

	acquire(t, T0, "n1", "a1", "r/lease", WIRE_MODE_MUTEX, -1, NULL);
	acquire(t, T0 + 1, "n2", "a2", "r/lease", WIRE_MODE_MUTEX, -1, NULL);
	commit(s, t);
	assert_true(table_resource_get(t, "r/lease", &v));
	old = v.token;
	store_close(s);
	table_free(t);

	/* The coordinator comes back long after the 30 s lease ran out. */
	t = reload(f);
	assert_int_equal(table_tick(t, T0 + 120000), BATON_OK);
	table_ready_get(t, &r);
	for (size_t i = 0; i < r.n_effects; i++) {
		const table_effect *e = &r.effects[i];

		if (e->kind != TABLE_FX_ANSWER)
			continue;
		if (e->u.answer.status == WIRE_ST_REVOKED) {
			assert_string_equal(e->node, "n1");
			assert_int_equal(e->u.answer.reason, WIRE_REASON_LEASE_EXPIRED);
			assert_int_equal(e->u.answer.token, old);
			revoked = true;
		} else if (e->u.answer.status == WIRE_ST_GRANTED) {
			assert_string_equal(e->node, "n2");
			assert_true(e->u.answer.token > old);
			granted = true;
		}
	}
	assert_true(revoked);
	assert_true(granted);
	s = open_ok(f);
	assert_int_equal(store_commit(s, t, &r, f->err, sizeof f->err), BATON_OK);
	table_advance(t);
	store_close(s);
	table_free(t);

	t = reload(f);
	assert_true(table_resource_get(t, "r/lease", &v));
	assert_string_equal(v.holder, "n2");
	assert_true(v.token > old);
	table_free(t);
}

/* ---- refusals ---------------------------------------------------------------------- */

static void test_store_newer_user_version_refused_too_new(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f), *sentinel = (store *)0x1;

	store_close(s);
	char bump[64];
	snprintf(bump, sizeof bump, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
	sql(f->path, bump);
	s = sentinel;
	assert_int_equal(store_open(f->path, SYNC_LEVEL_FULL, &s, f->err, sizeof f->err),
	                 BATON_E_STORE_TOO_NEW);

	print_message("%s\n", f->err);
	assert_ptr_equal(s, sentinel);
	assert_non_null(strstr(f->err, f->path));
	assert_int_equal(sql_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION + 1);
}

static void test_store_garbage_file_refused_untouched(void **state)
{
	fixture *f = *state;
	unsigned char junk[8192];
	store *s = NULL;
	char wal[128];

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 7919u >> 3);
	write_file(f->path, junk, sizeof junk);
	assert_int_equal(store_open(f->path, SYNC_LEVEL_FULL, &s, f->err, sizeof f->err),
	                 BATON_E_STORE_CORRUPT);
	assert_null(s);
	assert_non_null(strstr(f->err, f->path));
	print_message("%s\n", f->err);
	assert_true(file_eq(f->path, junk, sizeof junk));
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	assert_int_equal(access(wal, F_OK), -1);
}

static void test_store_text_file_refused_untouched(void **state)
{
	fixture *f = *state;
	static const char text[] = "state: this is not a database\n";
	store *s = NULL;

	write_file(f->path, (const unsigned char *)text, sizeof text - 1);
	assert_int_equal(store_open(f->path, SYNC_LEVEL_NORMAL, &s, f->err, sizeof f->err),
	                 BATON_E_STORE_CORRUPT);
	assert_null(s);
	assert_true(file_eq(f->path, (const unsigned char *)text, sizeof text - 1));
}

static void test_store_foreign_sqlite_refused_corrupt(void **state)
{
	fixture *f = *state;
	unsigned char before[16384];
	store *s = NULL;
	FILE *fp;
	size_t n;

	sql(f->path, "CREATE TABLE songs(title TEXT); INSERT INTO songs VALUES ('x')");
	fp = fopen(f->path, "rb");
	assert_non_null(fp);
	n = fread(before, 1, sizeof before, fp);
	fclose(fp);
	assert_int_equal(store_open(f->path, SYNC_LEVEL_FULL, &s, f->err, sizeof f->err),
	                 BATON_E_STORE_CORRUPT);
	assert_null(s);
	assert_non_null(strstr(f->err, "not a Baton state file"));
	print_message("%s\n", f->err);
	assert_true(file_eq(f->path, before, n));
}

static void test_store_missing_directory_refused_io(void **state)
{
	fixture *f = *state;
	store *s = NULL;
	char path[128];

	snprintf(path, sizeof path, "%s/no/such/dir/state.db", f->dir);
	assert_int_equal(store_open(path, SYNC_LEVEL_FULL, &s, f->err, sizeof f->err), BATON_E_IO);
	assert_null(s);
	print_message("%s\n", f->err);
	assert_non_null(strstr(f->err, path));
}

static void test_store_missing_table_refused_corrupt(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);

	store_close(s);
	sql(f->path, "DROP TABLE waiters");
	s = NULL;
	assert_int_equal(store_open(f->path, SYNC_LEVEL_FULL, &s, f->err, sizeof f->err),
	                 BATON_E_STORE_CORRUPT);
	print_message("%s\n", f->err);
	assert_null(s);
	assert_non_null(strstr(f->err, "waiters"));
}

/* A Baton state file is never empty: a zero-length one means the state was
 * lost, and starting on it would start the token counter again at 1. */
static void test_store_empty_file_refused_unless_fresh(void **state)
{
	fixture *f = *state;
	store *s = NULL;
	table *t;

	write_file(f->path, (const unsigned char *)"", 0);
	assert_int_equal(store_open(f->path, SYNC_LEVEL_FULL, &s, f->err, sizeof f->err),
	                 BATON_E_STORE_CORRUPT);
	print_message("%s\n", f->err);
	assert_null(s);
	assert_non_null(strstr(f->err, "--fresh"));
	assert_int_equal(store_open_ex(f->path, SYNC_LEVEL_FULL, STORE_OPEN_FRESH, &s, f->err, sizeof f->err),
	                 BATON_OK);
	store_close(s);
	assert_int_equal(sql_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(f->path, "PRAGMA application_id"), STORE_APPLICATION_ID);
	t = reload(f);
	assert_int_equal(table_next_token(t), 1);
	table_free(t);
}

/* --fresh never overwrites another program's data. */
static void test_store_foreign_file_refused_even_fresh(void **state)
{
	fixture *f = *state;
	store *s = NULL;

	write_file(f->path, (const unsigned char *)"not a database, just text\n", 26);
	assert_int_equal(store_open_ex(f->path, SYNC_LEVEL_FULL, STORE_OPEN_FRESH, &s, f->err, sizeof f->err),
	                 BATON_E_STORE_CORRUPT);
	assert_null(s);
}

/* While a store is open nobody else can use its file (exclusive locking),
 * and there is no -shm file to SIGBUS on. */
static void test_store_open_file_locked_against_second_opener(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f), *s2 = NULL;
	char shm[128];

	assert_int_equal(store_open(f->path, SYNC_LEVEL_FULL, &s2, f->err, sizeof f->err),
	                 BATON_E_STORE_LOCKED);
	print_message("%s\n", f->err);
	assert_null(s2);
	assert_non_null(strstr(f->err, "another"));
	snprintf(shm, sizeof shm, "%s-shm", f->path);
	assert_int_not_equal(access(shm, F_OK), 0);
	store_close(s);
	s2 = open_ok(f);
	store_close(s2);
}

/* A state file deleted or replaced under an open store: its commits would go
 * to an unlinked inode, so the store refuses them and says so. */
static void test_store_file_deleted_or_replaced_commit_refused(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table();
	table_ready r;
	char wal[128];

	assert_int_equal(store_check_file(s, f->err, sizeof f->err), BATON_OK);
	acquire(t, T0, "n1", "a1", "mutex/x", WIRE_MODE_MUTEX, -1, NULL);
	commit(s, t);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(store_check_file(s, f->err, sizeof f->err), BATON_E_STORE_MOVED);
	assert_non_null(strstr(f->err, "deleted"));
	acquire(t, T0, "n2", "b1", "mutex/y", WIRE_MODE_MUTEX, -1, NULL);
	table_ready_get(t, &r);
	assert_int_equal(store_commit(s, t, &r, f->err, sizeof f->err), BATON_E_STORE_MOVED);
	print_message("%s\n", f->err);
	table_advance(t);
	store_close(s);
	table_free(t);

	/* Replaced by another file: the same. So is a WAL deleted on its own. */
	s = open_ok(f);
	write_file(f->path, (const unsigned char *)"", 0);
	(void)unlink(f->path);
	write_file(f->path, (const unsigned char *)"x", 1);
	assert_int_equal(store_check_file(s, f->err, sizeof f->err), BATON_E_STORE_MOVED);
	store_close(s);
	(void)unlink(f->path);
	s = open_ok(f);
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	assert_int_equal(unlink(wal), 0);
	assert_int_equal(store_check_file(s, f->err, sizeof f->err), BATON_E_STORE_MOVED);
	assert_non_null(strstr(f->err, "WAL"));
	store_close(s);
}

static void test_store_orphan_row_refused_corrupt(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table();

	store_close(s);
	sql(f->path, "INSERT INTO waiters(resource, position, node, request_id, lease_ms)"
	             " VALUES ('ghost', 1, 'n1', 'a1', 30000)");
	s = open_ok(f);
	assert_int_equal(store_load(s, t, f->err, sizeof f->err), BATON_E_STORE_CORRUPT);
	assert_non_null(strstr(f->err, "ghost"));
	print_message("%s\n", f->err);
	store_close(s);
	table_free(t);
}

static void test_store_token_not_below_counter_refused_corrupt(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table();

	acquire(t, T0, "n1", "a1", "r/tok", WIRE_MODE_MUTEX, -1, NULL);
	commit(s, t);
	store_close(s);
	table_free(t);
	/* Only a hand edit can lower the counter under a held token. */
	sql(f->path, "UPDATE meta SET value = 1 WHERE key = 'next_token'");
	s = open_ok(f);
	t = new_table();
	assert_int_equal(store_load(s, t, f->err, sizeof f->err), BATON_E_STORE_CORRUPT);
	assert_non_null(strstr(f->err, "r/tok"));
	print_message("%s\n", f->err);
	store_close(s);
	table_free(t);
}

/* ---- failure inside a transaction ---------------------------------------------------- */

static void test_store_commit_failing_midway_keeps_previous_state(void **state)
{
	fixture *f = *state;
	store *s = open_ok(f);
	table *t = new_table(), *u;
	table_ready r;
	store_stats st;
	uint64_t counter;

	acquire(t, T0, "n1", "a1", "once/x", WIRE_MODE_ONCE, -1, "m");
	commit(s, t);
	/* The store holds the file's lock: read through its own connection. */
	counter = (uint64_t)store_int(s, "select value from meta where key = 'next_token'");

	/* The batch deletes the holding, then fails inserting the remembered
	 * success: the deletion must not survive. */
	store_sql(
	    s, "CREATE TRIGGER boom BEFORE INSERT ON remembered BEGIN SELECT RAISE(ABORT, 'injected'); END");
	release(t, T0 + 1, "n1", "a2", "once/x", true, NULL, "ok");
	acquire(t, T0 + 2, "n2", "b1", "mutex/y", WIRE_MODE_MUTEX, -1, NULL);
	table_ready_get(t, &r);
	assert_int_not_equal(store_commit(s, t, &r, f->err, sizeof f->err), BATON_OK);
	assert_non_null(strstr(f->err, "injected"));
	print_message("%s\n", f->err);
	store_stats_get(s, &st);
	assert_int_equal(st.failures, 1);

	assert_int_equal(
	    store_int(s, "select count(*) from holdings where resource = 'once/x' and node = 'n1'"), 1);
	assert_int_equal(store_int(s, "select count(*) from remembered"), 0);
	assert_int_equal(store_int(s, "select count(*) from resources where name = 'mutex/y'"), 0);
	assert_int_equal((uint64_t)store_int(s, "select value from meta where key = 'next_token'"), counter);

	/* Once the cause is gone the same batch commits on the same store. */
	store_sql(s, "DROP TRIGGER boom");
	assert_int_equal(store_commit(s, t, &r, f->err, sizeof f->err), BATON_OK);
	table_advance(t);
	store_close(s);
	u = reload(f);
	tables_eq(t, u);
	table_free(u);
	table_free(t);
}

static void test_store_sync_names_parse_back(void **state)
{
	sync_level v;

	(void)state;
	for (sync_level i = SYNC_LEVEL_FULL; i <= SYNC_LEVEL_OFF; i++) {
		assert_int_equal(sync_level_parse(sync_level_name(i), &v), BATON_OK);
		assert_int_equal(v, i);
	}
	assert_int_equal(sync_level_parse("fast", &v), BATON_E_INVAL);
	assert_int_equal(sync_level_parse(NULL, &v), BATON_E_INVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_store_every_kind_of_state_reloads_equal),
	    T(test_store_reloaded_state_commits_again_equal),
	    T(test_store_counter_lower_commit_never_goes_back),
	    T(test_store_idle_resource_rows_deleted),
	    T(test_store_empty_batch_writes_nothing),
	    T(test_store_memory_path_empty_state),
	    T(test_store_lease_expired_while_down_revoked_and_successor_granted),
	    T(test_store_newer_user_version_refused_too_new),
	    T(test_store_garbage_file_refused_untouched),
	    T(test_store_text_file_refused_untouched),
	    T(test_store_foreign_sqlite_refused_corrupt),
	    T(test_store_missing_directory_refused_io),
	    T(test_store_missing_table_refused_corrupt),
	    T(test_store_empty_file_refused_unless_fresh),
	    T(test_store_foreign_file_refused_even_fresh),
	    T(test_store_open_file_locked_against_second_opener),
	    T(test_store_file_deleted_or_replaced_commit_refused),
	    T(test_store_orphan_row_refused_corrupt),
	    T(test_store_token_not_below_counter_refused_corrupt),
	    T(test_store_commit_failing_midway_keeps_previous_state),
	    T(test_store_sync_names_parse_back),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
