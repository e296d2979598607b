/*
 * store.c - the durable copy of the lock table, in one SQLite file.
 *
 * Owns the SQLite connection, its prepared statements and the schema with its
 * migrations. It writes what the table reports as changed and reads it back
 * at start; it must never decide anything about locks (no rule of
 * PROTOCOL.md lives here), never publish, never log, and never replace or
 * alter a file it refuses to open.
 *
 * Invariants: every statement is prepared once at open and left reset with
 * cleared bindings after each use; outside store_commit() and store_load()
 * no transaction is open; s->stored_token is the counter as committed.
 * Costs: a commit is one write transaction (one fsync of the WAL at
 * STORE_SYNC_FULL) plus a few B-tree operations per dirty resource; a load is
 * one ordered scan of each table, merged by resource name.
 */
#include "store.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire.h"

/* ---- schema and migrations ------------------------------------------------ */

/* Version 1. resources has a row for every resource the table keeps; the
 * other tables hold the parts of it that exist. Text times are for people
 * reading the file; the *_ms integers are what a load uses. */
static const char schema_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE resources(name TEXT PRIMARY KEY, mode TEXT NOT NULL, prev_node TEXT,"
    " prev_token INTEGER, prev_error TEXT, prev_reason TEXT) WITHOUT ROWID;"
    "CREATE TABLE holdings(resource TEXT PRIMARY KEY, mode TEXT NOT NULL, node TEXT NOT NULL,"
    " request_id TEXT NOT NULL, token INTEGER NOT NULL, lease_ms INTEGER NOT NULL, since TEXT,"
    " lease_until TEXT, since_ms INTEGER NOT NULL, lease_until_ms INTEGER NOT NULL, meta TEXT)"
    " WITHOUT ROWID;"
    "CREATE TABLE waiters(resource TEXT NOT NULL, position INTEGER NOT NULL, node TEXT NOT NULL,"
    " request_id TEXT NOT NULL, lease_ms INTEGER NOT NULL, wait_until TEXT, wait_until_ms INTEGER,"
    " meta TEXT, PRIMARY KEY(resource, position)) WITHOUT ROWID;"
    "CREATE TABLE remembered(resource TEXT PRIMARY KEY, node TEXT NOT NULL, token INTEGER NOT NULL,"
    " result TEXT, completed_at TEXT, completed_at_ms INTEGER NOT NULL, forget_at TEXT,"
    " forget_at_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES ('next_token', 1);";

/* Step i takes a file from version to - 1 to version to. To add version 2,
 * append {2, "ALTER TABLE ...;"}, raise STORE_SCHEMA_VERSION and teach the
 * statements below the new shape; each step runs in its own transaction
 * together with the user_version bump, so a crash leaves a whole version. */
typedef struct migration {
	int to;
	const char *sql;
} migration;

static const migration migrations[] = {
    {1, schema_v1},
};

_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration step per schema version");

/* ---- statements ------------------------------------------------------------- */

enum {
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_DEL_HOLD,
	ST_DEL_WAIT,
	ST_DEL_REM,
	ST_DEL_RES,
	ST_INS_RES,
	ST_INS_HOLD,
	ST_INS_WAIT,
	ST_INS_REM,
	ST_SET_TOKEN,
	ST_GET_TOKEN,
	ST_SEL_RES,
	ST_SEL_HOLD,
	ST_SEL_WAIT,
	ST_SEL_REM,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_DEL_HOLD] = "DELETE FROM holdings WHERE resource = ?1",
    [ST_DEL_WAIT] = "DELETE FROM waiters WHERE resource = ?1",
    [ST_DEL_REM] = "DELETE FROM remembered WHERE resource = ?1",
    [ST_DEL_RES] = "DELETE FROM resources WHERE name = ?1",
    [ST_INS_RES] = "INSERT INTO resources(name, mode, prev_node, prev_token, prev_error, prev_reason)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_INS_HOLD] = "INSERT INTO holdings(resource, mode, node, request_id, token, lease_ms, since,"
                    " lease_until, since_ms, lease_until_ms, meta)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_INS_WAIT] = "INSERT INTO waiters(resource, position, node, request_id, lease_ms, wait_until,"
                    " wait_until_ms, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_INS_REM] = "INSERT INTO remembered(resource, node, token, result, completed_at, completed_at_ms,"
                   " forget_at, forget_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* max() keeps the counter from going back even if a caller passes a
     * lower value: tokens only grow (guarantee 1). */
    [ST_SET_TOKEN] = "INSERT INTO meta(key, value) VALUES ('next_token', ?1)"
                     " ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
    [ST_GET_TOKEN] = "SELECT value FROM meta WHERE key = 'next_token'",
    /* Every scan is in primary-key order (no sort step), which is also
     * strcmp() order for text without NUL bytes: the load merges them. */
    [ST_SEL_RES] = "SELECT name, mode, prev_node, prev_token, prev_error, prev_reason"
                   " FROM resources ORDER BY name",
    [ST_SEL_HOLD] = "SELECT resource, node, request_id, token, lease_ms, since_ms, lease_until_ms, meta"
                    " FROM holdings ORDER BY resource",
    [ST_SEL_WAIT] = "SELECT resource, node, request_id, lease_ms, wait_until_ms, meta"
                    " FROM waiters ORDER BY resource, position",
    [ST_SEL_REM] = "SELECT resource, node, token, result, completed_at_ms, forget_at_ms"
                   " FROM remembered ORDER BY resource",
};

/* Where one waiter's strings sit in the load buffer (SIZE_MAX: NULL). */
typedef struct waiter_off {
	size_t node, id, meta;
	uint32_t lease_ms;
	int64_t wait_until_ms;
} waiter_off;

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
	int bind_rc; /* first failed sqlite3_bind_* since the last step */
	uint64_t stored_token;
	store_stats stats;
	/* load scratch, reused from resource to resource */
	waiter_off *wo;
	size_t wo_cap;
	table_waiter_view *wv;
	size_t wv_cap;
	char *buf;
	size_t buf_len, buf_cap;
};

/* ---- errors ------------------------------------------------------------------ */

static baton_err say(char *err, size_t cap, baton_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes the message into err (when there is room) and returns code. */
static baton_err say(char *err, size_t cap, baton_err code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && cap > 0) {
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return code;
}

static baton_err err_of_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return BATON_E_NOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return BATON_E_STORE_CORRUPT;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_FULL:
		return BATON_E_IO;
	default:
		return BATON_E_STORE;
	}
}

/* What the operator can do about an error of that class. */
static const char *advice(baton_err e)
{
	switch (e) {
	case BATON_E_STORE_CORRUPT:
		return "the file was left as it is: move it aside (or restore a backup) and restart";
	case BATON_E_IO:
		return "check that the file and its directory are readable and writable by this user "
		       "and that the disk has room";
	case BATON_E_NOMEM:
		return "the coordinator ran out of memory";
	default:
		return "see the SQLite message";
	}
}

/* Reports SQLite's failure rc while doing what, with the connection's message. */
static baton_err sql_fail(store *s, int rc, const char *what, const char *resource, char *err, size_t cap)
{
	baton_err e = err_of_rc(rc);

	return say(err, cap, e, "state file %s: %s%s%s failed: %s (SQLite %d); %s", s->path, what,
	           resource ? " of resource " : "", resource ? resource : "", sqlite3_errmsg(s->db), rc,
	           advice(e));
}

/* Runs SQL without results (setup and migrations only, never the hot path). */
static baton_err exec(store *s, const char *sql, const char *what, char *err, size_t cap)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? BATON_OK : sql_fail(s, rc, what, NULL, err, cap);
}

/* Reads the single integer a PRAGMA or query returns into *out. */
static baton_err query_int(store *s, const char *sql, const char *what, int64_t *out, char *err, size_t cap)
{
	sqlite3_stmt *st = NULL;
	baton_err e = BATON_OK;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		e = sql_fail(s, rc, what, NULL, err, cap);
	sqlite3_finalize(st);
	return e;
}

/* ---- binding and stepping the prepared statements ------------------------------ */

static void keep_bind_rc(store *s, int rc)
{
	if (rc != SQLITE_OK && s->bind_rc == SQLITE_OK)
		s->bind_rc = rc;
}

/* Binds text (NULL binds SQL NULL). SQLITE_STATIC: every caller steps and
 * resets the statement before the string can change. */
static void bind_text(store *s, int id, int col, const char *v)
{
	int rc =
	    v ? sqlite3_bind_text(s->st[id], col, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s->st[id], col);

	keep_bind_rc(s, rc);
}

static void bind_int(store *s, int id, int col, int64_t v)
{
	keep_bind_rc(s, sqlite3_bind_int64(s->st[id], col, (sqlite3_int64)v));
}

static void bind_null(store *s, int id, int col)
{
	keep_bind_rc(s, sqlite3_bind_null(s->st[id], col));
}

/* 9999-12-31T23:59:59.999Z: later "times" are sentinels, not dates. */
#define TIME_TEXT_MAX 253402300799999LL

/* Binds ms as ISO-8601 text into buf (which must outlive the step), or NULL
 * when ms is no date. */
static void bind_time(store *s, int id, int col, int64_t ms, char *buf, size_t cap)
{
	if (ms < 0 || ms > TIME_TEXT_MAX) {
		bind_null(s, id, col);
		return;
	}
	wire_time_format(ms, buf, cap);
	bind_text(s, id, col, buf);
}

/* Steps a statement that returns no row, then resets it and clears its
 * bindings, whatever happened. */
static baton_err run(store *s, int id, const char *what, const char *resource, char *err, size_t cap)
{
	sqlite3_stmt *st = s->st[id];
	baton_err e = BATON_OK;
	int rc = s->bind_rc;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		e = sql_fail(s, rc, what, resource, err, cap);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	s->bind_rc = SQLITE_OK;
	return e;
}

/* ---- commit ------------------------------------------------------------------ */

static baton_err put_holding(store *s, const table_resource_view *v, char *err, size_t cap)
{
	char since[32], until[32];

	bind_text(s, ST_INS_HOLD, 1, v->name);
	bind_text(s, ST_INS_HOLD, 2, wire_mode_name(v->mode));
	bind_text(s, ST_INS_HOLD, 3, v->holder);
	bind_text(s, ST_INS_HOLD, 4, v->holder_id);
	bind_int(s, ST_INS_HOLD, 5, (int64_t)v->token);
	bind_int(s, ST_INS_HOLD, 6, v->lease_ms);
	bind_time(s, ST_INS_HOLD, 7, v->since_ms, since, sizeof since);
	bind_time(s, ST_INS_HOLD, 8, v->lease_until_ms, until, sizeof until);
	bind_int(s, ST_INS_HOLD, 9, v->since_ms);
	bind_int(s, ST_INS_HOLD, 10, v->lease_until_ms);
	bind_text(s, ST_INS_HOLD, 11, v->meta);
	return run(s, ST_INS_HOLD, "writing the holding", v->name, err, cap);
}

static baton_err put_waiters(store *s, const table_resource_view *v, char *err, size_t cap)
{
	baton_err e = BATON_OK;
	char until[32];

	for (size_t i = 0; i < v->n_waiting && e == BATON_OK; i++) {
		const table_waiter_view *w = &v->waiting[i];

		bind_text(s, ST_INS_WAIT, 1, v->name);
		bind_int(s, ST_INS_WAIT, 2, (int64_t)(i + 1));
		bind_text(s, ST_INS_WAIT, 3, w->node);
		bind_text(s, ST_INS_WAIT, 4, w->id);
		bind_int(s, ST_INS_WAIT, 5, w->lease_ms);
		if (w->wait_until_ms == INT64_MAX) {
			bind_null(s, ST_INS_WAIT, 6);
			bind_null(s, ST_INS_WAIT, 7);
		} else {
			bind_time(s, ST_INS_WAIT, 6, w->wait_until_ms, until, sizeof until);
			bind_int(s, ST_INS_WAIT, 7, w->wait_until_ms);
		}
		bind_text(s, ST_INS_WAIT, 8, w->meta);
		e = run(s, ST_INS_WAIT, "writing a waiter", v->name, err, cap);
	}
	return e;
}

static baton_err put_remembered(store *s, const table_resource_view *v, char *err, size_t cap)
{
	char done_at[32], forget_at[32];

	bind_text(s, ST_INS_REM, 1, v->name);
	bind_text(s, ST_INS_REM, 2, v->done.node);
	bind_int(s, ST_INS_REM, 3, (int64_t)v->done.token);
	bind_text(s, ST_INS_REM, 4, v->done.result);
	bind_time(s, ST_INS_REM, 5, v->done.completed_at_ms, done_at, sizeof done_at);
	bind_int(s, ST_INS_REM, 6, v->done.completed_at_ms);
	bind_time(s, ST_INS_REM, 7, v->forget_at_ms, forget_at, sizeof forget_at);
	bind_int(s, ST_INS_REM, 8, v->forget_at_ms);
	return run(s, ST_INS_REM, "writing the remembered success", v->name, err, cap);
}

/* Replaces the rows of resource name by its state in t (none when t has no
 * such resource). Adds the rows inserted to *rows. */
static baton_err put_resource(store *s, table *t, const char *name, uint64_t *rows, char *err, size_t cap)
{
	static const int dels[] = {ST_DEL_HOLD, ST_DEL_WAIT, ST_DEL_REM, ST_DEL_RES};
	table_resource_view v;
	baton_err e = BATON_OK;

	for (size_t i = 0; i < sizeof dels / sizeof dels[0] && e == BATON_OK; i++) {
		bind_text(s, dels[i], 1, name);
		e = run(s, dels[i], "deleting the old rows", name, err, cap);
	}
	if (e != BATON_OK || !table_resource_get(t, name, &v))
		return e;

	bind_text(s, ST_INS_RES, 1, v.name);
	bind_text(s, ST_INS_RES, 2, wire_mode_name(v.mode));
	if (v.previous.node != NULL) {
		bind_text(s, ST_INS_RES, 3, v.previous.node);
		bind_int(s, ST_INS_RES, 4, (int64_t)v.previous.token);
		bind_text(s, ST_INS_RES, 5, v.previous.error);
		bind_text(s, ST_INS_RES, 6, wire_reason_name(v.previous.reason));
	}
	e = run(s, ST_INS_RES, "writing the resource", name, err, cap);
	if (e == BATON_OK && v.holder != NULL)
		e = put_holding(s, &v, err, cap);
	if (e == BATON_OK)
		e = put_waiters(s, &v, err, cap);
	if (e == BATON_OK && v.done.node != NULL)
		e = put_remembered(s, &v, err, cap);
	if (e == BATON_OK)
		*rows += 1 + (v.holder != NULL) + v.n_waiting + (v.done.node != NULL);
	return e;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

baton_err store_commit(store *s, table *t, const table_ready *r, char *err, size_t cap)
{
	baton_err e = BATON_OK;
	uint64_t rows = 0;
	int64_t t0;

	if (s == NULL || t == NULL || r == NULL)
		return say(err, cap, BATON_E_INVAL, "store_commit: NULL argument");
	if (r->n_dirty == 0 && r->next_token <= s->stored_token)
		return BATON_OK;
	t0 = now_us();
	e = run(s, ST_BEGIN, "starting a transaction", NULL, err, cap);
	for (size_t i = 0; i < r->n_dirty && e == BATON_OK; i++)
		e = put_resource(s, t, r->dirty[i], &rows, err, cap);
	if (e == BATON_OK) {
		bind_int(s, ST_SET_TOKEN, 1, (int64_t)r->next_token);
		e = run(s, ST_SET_TOKEN, "writing the token counter", NULL, err, cap);
	}
	if (e == BATON_OK)
		e = run(s, ST_COMMIT, "committing", NULL, err, cap);

	if (e != BATON_OK) {
		/* Some errors (disk full, I/O) end the transaction themselves. */
		if (!sqlite3_get_autocommit(s->db))
			run(s, ST_ROLLBACK, "rolling back", NULL, NULL, 0);
		s->stats.failures++;
	} else {
		if (r->next_token > s->stored_token)
			s->stored_token = r->next_token;
		s->stats.commits++;
		s->stats.rows_written += rows;
		s->stats.last_token = s->stored_token;
		s->stats.last_commit_us = now_us() - t0;
	}
	return e;
}

/* ---- load -------------------------------------------------------------------- */

/* One ordered scan; has_row says whether the statement sits on a row. */
typedef struct cursor {
	sqlite3_stmt *st;
	bool has_row;
	const char *table;
} cursor;

static baton_err advance(store *s, cursor *c, char *err, size_t cap)
{
	int rc = sqlite3_step(c->st);

	c->has_row = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return BATON_OK;
	return sql_fail(s, rc, "reading table", c->table, err, cap);
}

static const char *key_of(const cursor *c)
{
	return (const char *)sqlite3_column_text(c->st, 0);
}

/* Reads typed columns of the current row; the first bad one is recorded and
 * makes the whole row corrupt. */
typedef struct row {
	sqlite3_stmt *st;
	int bad_col; /* -1: none */
} row;

static void row_bad(row *rw, int col)
{
	if (rw->bad_col < 0)
		rw->bad_col = col;
}

static const char *col_text(row *rw, int col, bool nullable)
{
	int type = sqlite3_column_type(rw->st, col);

	if (type == SQLITE_NULL) {
		if (!nullable)
			row_bad(rw, col);
		return NULL;
	}
	if (type != SQLITE_TEXT) {
		row_bad(rw, col);
		return NULL;
	}
	return (const char *)sqlite3_column_text(rw->st, col);
}

/* An integer in [min, max]; dflt when NULL and nullable. */
static int64_t col_int(row *rw, int col, int64_t min, int64_t max, bool nullable, int64_t dflt)
{
	int type = sqlite3_column_type(rw->st, col);
	int64_t v;

	if (type == SQLITE_NULL && nullable)
		return dflt;
	if (type != SQLITE_INTEGER) {
		row_bad(rw, col);
		return dflt;
	}
	v = sqlite3_column_int64(rw->st, col);
	if (v < min || v > max) {
		row_bad(rw, col);
		return dflt;
	}
	return v;
}

static wire_mode col_mode(row *rw, int col)
{
	const char *m = col_text(rw, col, false);

	if (m != NULL && strcmp(m, "mutex") == 0)
		return WIRE_MODE_MUTEX;
	if (m == NULL || strcmp(m, "once") != 0)
		row_bad(rw, col);
	return WIRE_MODE_ONCE;
}

static wire_reason col_reason(row *rw, int col)
{
	static const wire_reason all[] = {WIRE_REASON_RELEASED, WIRE_REASON_LEASE_EXPIRED,
	                                  WIRE_REASON_NODE_OFFLINE};
	const char *r = col_text(rw, col, false);

	for (size_t i = 0; r != NULL && i < sizeof all / sizeof all[0]; i++)
		if (strcmp(r, wire_reason_name(all[i])) == 0)
			return all[i];
	row_bad(rw, col);
	return WIRE_REASON_NONE;
}

static baton_err row_check(store *s, const row *rw, const char *table_name, const char *resource, char *err,
                           size_t cap)
{
	if (rw->bad_col < 0)
		return BATON_OK;
	return say(err, cap, BATON_E_STORE_CORRUPT,
	           "state file %s: column %s.%s of resource %s is missing or out of range; %s", s->path,
	           table_name, sqlite3_column_name(rw->st, rw->bad_col), resource,
	           advice(BATON_E_STORE_CORRUPT));
}

/* Positions child cursor c on name: true when it has rows for name. A row
 * whose resource sorts before name belongs to no resource: corrupt. */
static baton_err match(store *s, cursor *c, const char *name, bool *found, char *err, size_t cap)
{
	int cmp = c->has_row ? strcmp(key_of(c), name) : 1;

	*found = cmp == 0;
	if (cmp >= 0)
		return BATON_OK;
	return say(err, cap, BATON_E_STORE_CORRUPT,
	           "state file %s: table %s has rows for resource %s, which has no row in resources; %s",
	           s->path, c->table, key_of(c), advice(BATON_E_STORE_CORRUPT));
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return true;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (q == NULL)
		return false;
	*p = q;
	*cap = n;
	return true;
}

/* Copies s (NULL: none) into the load buffer; its offset, or SIZE_MAX. */
static size_t keep_str(store *s, const char *str, bool *ok)
{
	size_t len, off = s->buf_len;

	if (str == NULL)
		return SIZE_MAX;
	len = strlen(str) + 1;
	if (!grow((void **)&s->buf, &s->buf_cap, s->buf_len + len, 1)) {
		*ok = false;
		return SIZE_MAX;
	}
	memcpy(s->buf + off, str, len);
	s->buf_len += len;
	return off;
}

/* Reads the waiters of name (cursor c positioned on them) into s->wv, in
 * queue order, copying their strings (the cursor moves on). */
static baton_err read_waiters(store *s, cursor *c, const char *name, size_t *n, char *err, size_t cap)
{
	baton_err e = BATON_OK;
	bool ok = true;

	*n = 0;
	s->buf_len = 0;
	while (e == BATON_OK && c->has_row && strcmp(key_of(c), name) == 0) {
		row rw = {c->st, -1};
		waiter_off *w;

		if (!grow((void **)&s->wo, &s->wo_cap, *n + 1, sizeof *s->wo) ||
		    !grow((void **)&s->wv, &s->wv_cap, *n + 1, sizeof *s->wv))
			return say(err, cap, BATON_E_NOMEM,
			           "state file %s: out of memory loading waiters of %s", s->path, name);
		w = &s->wo[(*n)++];
		w->node = keep_str(s, col_text(&rw, 1, false), &ok);
		w->id = keep_str(s, col_text(&rw, 2, false), &ok);
		w->lease_ms = (uint32_t)col_int(&rw, 3, 0, UINT32_MAX, false, 0);
		w->wait_until_ms = col_int(&rw, 4, INT64_MIN, INT64_MAX, true, INT64_MAX);
		w->meta = keep_str(s, col_text(&rw, 5, true), &ok);
		if (!ok)
			return say(err, cap, BATON_E_NOMEM,
			           "state file %s: out of memory loading waiters of %s", s->path, name);
		e = row_check(s, &rw, "waiters", name, err, cap);
		if (e == BATON_OK)
			e = advance(s, c, err, cap);
	}
	for (size_t i = 0; e == BATON_OK && i < *n; i++) {
		s->wv[i] = (table_waiter_view){
		    .node = s->buf + s->wo[i].node,
		    .id = s->buf + s->wo[i].id,
		    .lease_ms = s->wo[i].lease_ms,
		    .wait_until_ms = s->wo[i].wait_until_ms,
		    .meta = s->wo[i].meta == SIZE_MAX ? NULL : s->buf + s->wo[i].meta,
		};
	}
	return e;
}

enum { C_RES, C_HOLD, C_WAIT, C_REM, C_COUNT };

/* The holding and the remembered success of the resource being loaded, from
 * the rows their cursors sit on. */
static baton_err read_holding(store *s, cursor *c, table_resource_view *v, char *err, size_t cap)
{
	row rw = {c->st, -1};

	v->holder = col_text(&rw, 1, false);
	v->holder_id = col_text(&rw, 2, false);
	v->token = (uint64_t)col_int(&rw, 3, 1, INT64_MAX, false, 0);
	v->lease_ms = (uint32_t)col_int(&rw, 4, 0, UINT32_MAX, false, 0);
	v->since_ms = col_int(&rw, 5, INT64_MIN, INT64_MAX, false, 0);
	v->lease_until_ms = col_int(&rw, 6, INT64_MIN, INT64_MAX, false, 0);
	v->meta = col_text(&rw, 7, true);
	return row_check(s, &rw, "holdings", v->name, err, cap);
}

static baton_err read_remembered(store *s, cursor *c, table_resource_view *v, char *err, size_t cap)
{
	row rw = {c->st, -1};

	v->done.node = col_text(&rw, 1, false);
	v->done.token = (uint64_t)col_int(&rw, 2, 1, INT64_MAX, false, 0);
	v->done.result = col_text(&rw, 3, true);
	v->done.completed_at_ms = col_int(&rw, 4, INT64_MIN, INT64_MAX, false, 0);
	v->forget_at_ms = col_int(&rw, 5, INT64_MIN, INT64_MAX, false, 0);
	return row_check(s, &rw, "remembered", v->name, err, cap);
}

/* Restores the resource the resources cursor sits on, with its rows in the
 * other tables, and moves the child cursors past them. */
static baton_err load_resource(store *s, table *t, cursor *c, char *err, size_t cap)
{
	row rw = {c[C_RES].st, -1};
	table_resource_view v = {0};
	bool held = false, waits = false, done = false;
	baton_err e;

	v.name = col_text(&rw, 0, false);
	v.mode = col_mode(&rw, 1);
	v.previous.node = col_text(&rw, 2, true);
	if (v.previous.node != NULL) {
		v.previous.token = (uint64_t)col_int(&rw, 3, 1, INT64_MAX, false, 0);
		v.previous.error = col_text(&rw, 4, true);
		v.previous.reason = col_reason(&rw, 5);
	}
	if (v.name == NULL)
		return say(err, cap, BATON_E_STORE_CORRUPT,
		           "state file %s: a row of resources has no name; %s", s->path,
		           advice(BATON_E_STORE_CORRUPT));
	e = row_check(s, &rw, "resources", v.name, err, cap);
	if (e == BATON_OK)
		e = match(s, &c[C_HOLD], v.name, &held, err, cap);
	if (e == BATON_OK)
		e = match(s, &c[C_WAIT], v.name, &waits, err, cap);
	if (e == BATON_OK)
		e = match(s, &c[C_REM], v.name, &done, err, cap);
	if (e == BATON_OK && held)
		e = read_holding(s, &c[C_HOLD], &v, err, cap);
	if (e == BATON_OK && done)
		e = read_remembered(s, &c[C_REM], &v, err, cap);
	if (e == BATON_OK && waits) {
		e = read_waiters(s, &c[C_WAIT], v.name, &v.n_waiting, err, cap);
		v.waiting = s->wv;
	}
	if (e == BATON_OK) {
		e = table_restore(t, &v);
		if (e == BATON_E_INVAL)
			e = say(
			    err, cap, BATON_E_STORE_CORRUPT,
			    "state file %s: the stored state of resource %s is inconsistent (a token at or "
			    "above the counter %llu, a duplicate, or a waiter that holds); %s",
			    s->path, v.name, (unsigned long long)s->stored_token,
			    advice(BATON_E_STORE_CORRUPT));
		else if (e != BATON_OK)
			e = say(err, cap, e, "state file %s: loading resource %s: %s", s->path, v.name,
			        baton_strerror(e));
	}
	if (e == BATON_OK && held)
		e = advance(s, &c[C_HOLD], err, cap);
	if (e == BATON_OK && done)
		e = advance(s, &c[C_REM], err, cap);
	return e;
}

/* Reads the stored token counter into s->stored_token. */
static baton_err read_token(store *s, char *err, size_t cap)
{
	sqlite3_stmt *st = s->st[ST_GET_TOKEN];
	baton_err e = BATON_OK;
	row rw = {st, -1};
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		int64_t v = col_int(&rw, 0, 1, INT64_MAX, false, 0);

		e = row_check(s, &rw, "meta", "(next_token)", err, cap);
		if (e == BATON_OK)
			s->stored_token = (uint64_t)v;
	} else if (rc == SQLITE_DONE) {
		e = say(err, cap, BATON_E_STORE_CORRUPT, "state file %s: meta has no next_token row; %s",
		        s->path, advice(BATON_E_STORE_CORRUPT));
	} else {
		e = sql_fail(s, rc, "reading the token counter", NULL, err, cap);
	}
	sqlite3_reset(st);
	return e;
}

baton_err store_load(store *s, table *t, char *err, size_t cap)
{
	static const int sel[C_COUNT] = {ST_SEL_RES, ST_SEL_HOLD, ST_SEL_WAIT, ST_SEL_REM};
	static const char *const names[C_COUNT] = {"resources", "holdings", "waiters", "remembered"};
	cursor c[C_COUNT];
	baton_err e, e2;
	bool found;

	if (s == NULL || t == NULL)
		return say(err, cap, BATON_E_INVAL, "store_load: NULL argument");
	for (int i = 0; i < C_COUNT; i++)
		c[i] = (cursor){s->st[sel[i]], false, names[i]};
	/* One read transaction: the scans see one consistent snapshot. */
	e = run(s, ST_BEGIN_READ, "starting a read transaction", NULL, err, cap);
	if (e != BATON_OK)
		return e;
	e = read_token(s, err, cap);
	if (e == BATON_OK)
		table_restore_next_token(t, s->stored_token);
	for (int i = 0; i < C_COUNT && e == BATON_OK; i++)
		e = advance(s, &c[i], err, cap);
	while (e == BATON_OK && c[C_RES].has_row) {
		e = load_resource(s, t, c, err, cap);
		if (e == BATON_OK)
			e = advance(s, &c[C_RES], err, cap);
	}
	/* Rows left in a child table belong to no resource. "\xf4\x90" sorts
	 * after every valid UTF-8 name, so match() reports them. */
	for (int i = C_HOLD; i < C_COUNT && e == BATON_OK; i++)
		e = match(s, &c[i], "\xf4\x90", &found, err, cap);
	for (int i = 0; i < C_COUNT; i++)
		sqlite3_reset(c[i].st);
	e2 = run(s, ST_COMMIT, "ending the read transaction", NULL, e == BATON_OK ? err : NULL, cap);
	return e != BATON_OK ? e : e2;
}

/* ---- open and close ------------------------------------------------------------- */

/* Decides from what can be read without writing whether the file is Baton's:
 * *version gets its schema version (0: empty, to be created). */
static baton_err check_identity(store *s, int64_t *version, char *err, size_t cap)
{
	int64_t app = 0, objects = 0;
	baton_err e = query_int(s, "PRAGMA application_id", "reading its header", &app, err, cap);

	if (e == BATON_OK)
		e = query_int(s, "PRAGMA user_version", "reading its header", version, err, cap);
	if (e == BATON_OK)
		e = query_int(s, "SELECT count(*) FROM sqlite_master", "reading its schema", &objects, err,
		              cap);
	if (e != BATON_OK)
		return e;
	if (app == 0 && *version == 0 && objects == 0)
		return BATON_OK;
	if (app != STORE_APPLICATION_ID)
		return say(err, cap, BATON_E_STORE_CORRUPT,
		           "state file %s is another program's SQLite database (application_id %lld, "
		           "user_version %lld), not a Baton state file; it was left as it is: choose another "
		           "path for the state file",
		           s->path, (long long)app, (long long)*version);
	if (*version > STORE_SCHEMA_VERSION)
		return say(err, cap, BATON_E_STORE_TOO_NEW,
		           "state file %s has schema version %lld, written by a newer Baton; this one knows "
		           "versions up to %d. It was left as it is: run the newer Baton, or choose another "
		           "path for the state file",
		           s->path, (long long)*version, STORE_SCHEMA_VERSION);
	if (*version < 1)
		return say(err, cap, BATON_E_STORE_CORRUPT,
		           "state file %s has Baton's application_id but no schema version; %s", s->path,
		           advice(BATON_E_STORE_CORRUPT));
	if (sqlite3_db_readonly(s->db, "main") == 1)
		return say(err, cap, BATON_E_IO,
		           "state file %s is read-only for this user; make it and its directory writable "
		           "(every state change is written before it is answered)",
		           s->path);
	return BATON_OK;
}

/* WAL lets `sqlite3 state.db` read while the coordinator writes, and makes a
 * commit one append (plus one fsync at FULL). */
static baton_err set_modes(store *s, store_sync sync, char *err, size_t cap)
{
	static const char *const sync_sql[] = {
	    [STORE_SYNC_FULL] = "PRAGMA synchronous = FULL",
	    [STORE_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
	    [STORE_SYNC_OFF] = "PRAGMA synchronous = OFF",
	};
	bool memory = strcmp(s->path, ":memory:") == 0;
	sqlite3_stmt *st = NULL;
	baton_err e = BATON_OK;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		e = sql_fail(s, rc, "switching to WAL mode", NULL, err, cap);
	else if (!memory && strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
		e = say(err, cap, BATON_E_IO,
		        "state file %s: SQLite cannot use WAL mode there (journal mode stays %s); put the "
		        "file on a local file system",
		        s->path, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (e == BATON_OK)
		e = exec(s, sync_sql[sync], "setting the sync level", err, cap);
	/* Keeps the WAL file from staying large after a burst. */
	if (e == BATON_OK)
		e = exec(s, "PRAGMA journal_size_limit = 16777216", "limiting the WAL size", err, cap);
	return e;
}

/* Runs the migration steps above version from, each in one transaction. */
static baton_err migrate(store *s, int64_t from, char *err, size_t cap)
{
	baton_err e = BATON_OK;
	char bump[96];

	for (size_t i = 0; i < sizeof migrations / sizeof migrations[0] && e == BATON_OK; i++) {
		const migration *m = &migrations[i];
		int64_t now_version = 0;

		if (m->to <= from)
			continue;
		e = exec(s, "BEGIN IMMEDIATE", "starting a schema migration", err, cap);
		/* Another process may have migrated the file since we looked. */
		if (e == BATON_OK)
			e = query_int(s, "PRAGMA user_version", "reading its version", &now_version, err,
			              cap);
		if (e == BATON_OK && now_version < m->to) {
			snprintf(bump, sizeof bump, "PRAGMA user_version = %d; PRAGMA application_id = %d;",
			         m->to, STORE_APPLICATION_ID);
			e = exec(s, m->sql, "migrating the schema", err, cap);
			if (e == BATON_OK)
				e = exec(s, bump, "setting the schema version", err, cap);
		}
		if (e == BATON_OK)
			e = exec(s, "COMMIT", "committing the schema migration", err, cap);
		if (e != BATON_OK && !sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return e;
}

static baton_err prepare_all(store *s, char *err, size_t cap)
{
	for (int i = 0; i < ST_COUNT; i++) {
		int rc =
		    sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);

		/* SQLITE_ERROR here means a table or column is missing. */
		if (rc == SQLITE_ERROR)
			return say(err, cap, BATON_E_STORE_CORRUPT,
			           "state file %s lacks part of Baton's schema (%s); %s", s->path,
			           sqlite3_errmsg(s->db), advice(BATON_E_STORE_CORRUPT));
		if (rc != SQLITE_OK)
			return sql_fail(s, rc, "preparing statements", NULL, err, cap);
	}
	return BATON_OK;
}

baton_err store_open(const char *path, store_sync sync, store **out, char *err, size_t cap)
{
	store *s = NULL;
	int64_t version = 0;
	baton_err e = BATON_OK;
	int rc;

	if (path == NULL || path[0] == '\0' || out == NULL || (int)sync < (int)STORE_SYNC_FULL ||
	    (int)sync > (int)STORE_SYNC_OFF) {
		e = say(err, cap, BATON_E_INVAL, "store_open: no state file path, or a bad sync level");
		goto out;
	}
	s = calloc(1, sizeof *s);
	if (s != NULL)
		s->path = strdup(path);
	if (s == NULL || s->path == NULL) {
		e = say(err, cap, BATON_E_NOMEM, "state file %s: out of memory opening it", path);
		goto out;
	}
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		e = sql_fail(s, rc, "opening", NULL, err, cap);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* Only a sqlite3 shell or a second coordinator could hold a lock. */
	sqlite3_busy_timeout(s->db, 5000);
	e = check_identity(s, &version, err, cap);
	if (e == BATON_OK)
		e = set_modes(s, sync, err, cap);
	if (e == BATON_OK)
		e = migrate(s, version, err, cap);
	if (e == BATON_OK)
		e = prepare_all(s, err, cap);
	if (e == BATON_OK)
		e = read_token(s, err, cap);
out:
	if (e == BATON_OK) {
		s->stats.last_token = s->stored_token;
		*out = s;
	} else {
		store_close(s);
	}
	return e;
}

void store_close(store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	/* The last connection to close checkpoints the WAL into the file. */
	sqlite3_close(s->db);
	free(s->path);
	free(s->wo);
	free(s->wv);
	free(s->buf);
	free(s);
}

void store_stats_get(const store *s, store_stats *out)
{
	*out = s->stats;
}

const char *store_sync_name(store_sync sync)
{
	switch (sync) {
	case STORE_SYNC_FULL:
		return "full";
	case STORE_SYNC_NORMAL:
		return "normal";
	case STORE_SYNC_OFF:
		return "off";
	}
	return NULL;
}

baton_err store_sync_parse(const char *name, store_sync *out)
{
	for (store_sync v = STORE_SYNC_FULL; name != NULL && v <= STORE_SYNC_OFF; v++) {
		if (strcmp(name, store_sync_name(v)) == 0) {
			*out = v;
			return BATON_OK;
		}
	}
	return BATON_E_INVAL;
}
