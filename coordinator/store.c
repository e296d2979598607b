/*
 * store.c - the durable copy of the lock table, in one SQLite file: open,
 * schema and migrations, the prepared statements and errors. Writing a
 * batch (store_commit) lives in store_commit.c, reading the file back into
 * a table (store_load) in store_load.c.
 *
 * Owns the SQLite connection, its prepared statements and the schema with its
 * migrations. It writes what the table reports as changed and reads it back
 * at start; it must never decide anything about locks (no rule of
 * PROTOCOL.md lives here), never publish, never log, and never replace or
 * alter a file it refuses to open.
 *
 * Invariants: every statement is prepared once at open and left reset with
 * cleared bindings after each use; outside store_commit() and store_load()
 * no transaction is open; s->stored_token and s->stored_id_seq are the
 * counters as committed.
 * Costs: an open prepares every statement and runs the migrations a file
 * lacks, each one transaction.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* Version 2 adds the remembered finished request ids (the table's id
 * memory, per node the last id_memory), so that a request repeated after a
 * restart is answered as it was the first time. One row per (node, id);
 * seq orders a node's ids (larger is newer). The answer columns are those
 * of the answer a repeat gets: NULL where it has none. */
static const char schema_v2[] =
    "CREATE TABLE requests(node TEXT NOT NULL, id TEXT NOT NULL, resource TEXT NOT NULL,"
    " seq INTEGER NOT NULL, status TEXT NOT NULL, token INTEGER, lease_ms INTEGER, reason TEXT,"
    " code TEXT, holder TEXT, done_node TEXT, done_token INTEGER, done_result TEXT,"
    " done_completed_at TEXT, done_completed_at_ms INTEGER, PRIMARY KEY(node, id)) WITHOUT ROWID;";

/* Version 3 (PROTOCOL.md second edition): several holdings per resource
 * (holdings keyed by resource and token), the permits of a semaphore, the
 * failure streak of a once resource with when its last failure ended and
 * when the streak is forgotten, each waiter's mode and max_failures, and
 * the failed answers of remembered request ids. A version 2 file has one
 * holding per resource and waiters in the resource's mode; it does not know
 * how long a streak was, but a once resource with a previous has had at
 * least one failure since its last success (a success drops the previous),
 * ended when its holder was granted: it migrates with a streak of 1. */
static const char schema_v3[] =
    "ALTER TABLE resources ADD COLUMN permits INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE resources ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE resources ADD COLUMN prev_completed_at_ms INTEGER;"
    "ALTER TABLE resources ADD COLUMN forget_at_ms INTEGER;"
    "CREATE TABLE holdings_v3(resource TEXT NOT NULL, token INTEGER NOT NULL, mode TEXT NOT NULL,"
    " node TEXT NOT NULL, request_id TEXT NOT NULL, lease_ms INTEGER NOT NULL, since TEXT,"
    " lease_until TEXT, since_ms INTEGER NOT NULL, lease_until_ms INTEGER NOT NULL, meta TEXT,"
    " PRIMARY KEY(resource, token)) WITHOUT ROWID;"
    "INSERT INTO holdings_v3 SELECT resource, token, mode, node, request_id, lease_ms, since,"
    " lease_until, since_ms, lease_until_ms, meta FROM holdings;"
    "DROP TABLE holdings;"
    "ALTER TABLE holdings_v3 RENAME TO holdings;"
    "ALTER TABLE waiters ADD COLUMN mode TEXT;"
    "UPDATE waiters SET mode = (SELECT r.mode FROM resources r WHERE r.name = waiters.resource);"
    "ALTER TABLE waiters ADD COLUMN max_failures INTEGER NOT NULL DEFAULT 0;"
    "UPDATE resources SET prev_completed_at_ms = coalesce((SELECT min(h.since_ms) FROM holdings h"
    " WHERE h.resource = resources.name), 0) WHERE prev_node IS NOT NULL;"
    "UPDATE resources SET failures = 1 WHERE mode = 'once' AND prev_node IS NOT NULL;"
    "ALTER TABLE requests ADD COLUMN failures INTEGER;"
    "ALTER TABLE requests ADD COLUMN last_node TEXT;"
    "ALTER TABLE requests ADD COLUMN last_token INTEGER;"
    "ALTER TABLE requests ADD COLUMN last_error TEXT;"
    "ALTER TABLE requests ADD COLUMN last_reason TEXT;"
    "ALTER TABLE requests ADD COLUMN last_completed_at_ms INTEGER;";

/* Version 4 keeps the aliases (a node's later acquire ids of a holding or
 * wait it already has: a repeat of one is answered with that request, and
 * it finishes with it), one row per alias, position 1 first in the order
 * they finish; and the seq the next finished request id gets, which a
 * version 3 file did not keep: the migration takes one past the largest
 * seq left (ids forgotten with an offline node may have had larger ones;
 * only their order within a node matters to a single coordinator). */
static const char schema_v4[] =
    "CREATE TABLE aliases(resource TEXT NOT NULL, node TEXT NOT NULL, position INTEGER NOT NULL,"
    " id TEXT NOT NULL, PRIMARY KEY(resource, node, position)) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) SELECT 'next_id_seq', coalesce(max(seq) + 1, 0) FROM requests;";

/* Step i takes a file from version to - 1 to version to. To add a version,
 * append {N, "ALTER TABLE ...;"}, raise STORE_SCHEMA_VERSION and teach the
 * statements below the new shape; each step runs in its own transaction
 * together with the user_version bump, so a crash leaves a whole version. */
typedef struct migration {
	int to;
	const char *sql;
} migration;

static const migration migrations[] = {
    {1, schema_v1},
    {2, schema_v2},
    {3, schema_v3},
    {4, schema_v4},
};

_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration step per schema version");

/* ---- statements ------------------------------------------------------------- */

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_DEL_HOLD] = "DELETE FROM holdings WHERE resource = ?1",
    [ST_DEL_WAIT] = "DELETE FROM waiters WHERE resource = ?1",
    [ST_DEL_REM] = "DELETE FROM remembered WHERE resource = ?1",
    [ST_DEL_ALIAS] = "DELETE FROM aliases WHERE resource = ?1",
    [ST_DEL_RES] = "DELETE FROM resources WHERE name = ?1",
    [ST_INS_RES] = "INSERT INTO resources(name, mode, prev_node, prev_token, prev_error, prev_reason,"
                   " permits, failures, prev_completed_at_ms, forget_at_ms)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_INS_HOLD] = "INSERT INTO holdings(resource, mode, node, request_id, token, lease_ms, since,"
                    " lease_until, since_ms, lease_until_ms, meta)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_INS_WAIT] =
        "INSERT INTO waiters(resource, position, node, request_id, lease_ms, wait_until,"
        " wait_until_ms, meta, mode, max_failures) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_INS_ALIAS] = "INSERT INTO aliases(resource, node, position, id) VALUES (?1, ?2, ?3, ?4)",
    [ST_INS_REM] = "INSERT INTO remembered(resource, node, token, result, completed_at, completed_at_ms,"
                   " forget_at, forget_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* max() keeps the counter from going back even if a caller passes a
     * lower value: tokens only grow (guarantee 1). */
    [ST_SET_TOKEN] = "INSERT INTO meta(key, value) VALUES ('next_token', ?1)"
                     " ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
    [ST_GET_TOKEN] = "SELECT value FROM meta WHERE key = 'next_token'",
    [ST_SET_ID_SEQ] = "INSERT INTO meta(key, value) VALUES ('next_id_seq', ?1)"
                      " ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
    [ST_GET_ID_SEQ] = "SELECT value FROM meta WHERE key = 'next_id_seq'",
    /* Every scan is in primary-key order (no sort step), which is also
     * strcmp() order for text without NUL bytes: the load merges them. */
    [ST_SEL_RES] = "SELECT name, mode, prev_node, prev_token, prev_error, prev_reason, permits, failures,"
                   " prev_completed_at_ms, forget_at_ms FROM resources ORDER BY name",
    [ST_SEL_HOLD] = "SELECT resource, node, request_id, token, lease_ms, since_ms, lease_until_ms, meta, mode"
                    " FROM holdings ORDER BY resource, token",
    [ST_SEL_WAIT] = "SELECT resource, node, request_id, lease_ms, wait_until_ms, meta, mode, max_failures"
                    " FROM waiters ORDER BY resource, position",
    [ST_SEL_REM] = "SELECT resource, node, token, result, completed_at_ms, forget_at_ms"
                   " FROM remembered ORDER BY resource",
    [ST_SEL_ALIAS] = "SELECT resource, node, id FROM aliases ORDER BY resource, node, position",
    [ST_PUT_REQ] = "INSERT OR REPLACE INTO requests(node, id, resource, seq, status, token, lease_ms,"
                   " reason, code, holder, done_node, done_token, done_result, done_completed_at,"
                   " done_completed_at_ms, failures, last_node, last_token, last_error, last_reason,"
                   " last_completed_at_ms)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
                   " ?18, ?19, ?20, ?21)",
    [ST_DEL_REQ] = "DELETE FROM requests WHERE node = ?1 AND id = ?2",
    [ST_DEL_REQ_NODE] = "DELETE FROM requests WHERE node = ?1",
    /* Oldest first, as table_restore_record() wants them: a sort, at load only. */
    [ST_SEL_REQ] = "SELECT node, id, resource, seq, status, token, lease_ms, reason, code, holder,"
                   " done_node, done_token, done_result, done_completed_at_ms, failures, last_node,"
                   " last_token, last_error, last_reason, last_completed_at_ms FROM requests ORDER BY seq",
};

/* ---- errors ------------------------------------------------------------------ */

/* Writes the message into err (when there is room) and returns code. */
baton_err sto_say(char *err, size_t cap, baton_err code, const char *fmt, ...)
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
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return BATON_E_STORE_LOCKED;
	default:
		return BATON_E_STORE;
	}
}

/* What the operator can do about an error of that class. */
const char *sto_advice(baton_err e)
{
	switch (e) {
	case BATON_E_STORE_CORRUPT:
		return "the file was left as it is: move it aside (or restore a backup) and restart";
	case BATON_E_IO:
		return "check that the file and its directory are readable and writable by this user "
		       "and that the disk has room";
	case BATON_E_NOMEM:
		return "the coordinator ran out of memory";
	case BATON_E_STORE_LOCKED:
		return "another process (another coordinator?) has the file open: stop it, or give "
		       "this coordinator its own --state";
	default:
		return "see the SQLite message";
	}
}

/* Reports SQLite's failure rc while doing what, with the connection's message. */
baton_err sto_sql_fail(store *s, int rc, const char *what, const char *resource, char *err, size_t cap)
{
	baton_err e = err_of_rc(rc);

	return sto_say(err, cap, e, "state file %s: %s%s%s failed: %s (SQLite %d); %s", s->path, what,
	               resource ? " of resource " : "", resource ? resource : "", sqlite3_errmsg(s->db), rc,
	               sto_advice(e));
}

/* Runs SQL without results (setup and migrations only, never the hot path). */
static baton_err exec(store *s, const char *sql, const char *what, char *err, size_t cap)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? BATON_OK : sto_sql_fail(s, rc, what, NULL, err, cap);
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
		e = sto_sql_fail(s, rc, what, NULL, err, cap);
	sqlite3_finalize(st);
	return e;
}

/* ---- stepping the prepared statements ------------------------------------ */

/* Steps a statement that returns no row, then resets it and clears its
 * bindings, whatever happened. */
baton_err sto_run(store *s, int id, const char *what, const char *resource, char *err, size_t cap)
{
	sqlite3_stmt *st = s->st[id];
	baton_err e = BATON_OK;
	int rc = s->bind_rc;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		e = sto_sql_fail(s, rc, what, resource, err, cap);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	s->bind_rc = SQLITE_OK;
	return e;
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
		return sto_say(
		    err, cap, BATON_E_STORE_CORRUPT,
		    "state file %s is another program's SQLite database (application_id %lld, "
		    "user_version %lld), not a Baton state file; it was left as it is: choose another "
		    "path for the state file",
		    s->path, (long long)app, (long long)*version);
	if (*version > STORE_SCHEMA_VERSION)
		return sto_say(
		    err, cap, BATON_E_STORE_TOO_NEW,
		    "state file %s has schema version %lld, written by a newer Baton; this one knows "
		    "versions up to %d. It was left as it is: run the newer Baton, or choose another "
		    "path for the state file",
		    s->path, (long long)*version, STORE_SCHEMA_VERSION);
	if (*version < 1)
		return sto_say(err, cap, BATON_E_STORE_CORRUPT,
		               "state file %s has Baton's application_id but no schema version; %s", s->path,
		               sto_advice(BATON_E_STORE_CORRUPT));
	if (sqlite3_db_readonly(s->db, "main") == 1)
		return sto_say(err, cap, BATON_E_IO,
		               "state file %s is read-only for this user; make it and its directory writable "
		               "(every state change is written before it is answered)",
		               s->path);
	return BATON_OK;
}

/* WAL lets `sqlite3 state.db` read while the coordinator writes, and makes a
 * commit one append (plus one fsync at FULL). */
static baton_err set_modes(store *s, sync_level sync, char *err, size_t cap)
{
	static const char *const sync_sql[] = {
	    [SYNC_LEVEL_FULL] = "PRAGMA synchronous = FULL",
	    [SYNC_LEVEL_NORMAL] = "PRAGMA synchronous = NORMAL",
	    [SYNC_LEVEL_OFF] = "PRAGMA synchronous = OFF",
	};
	bool memory = strcmp(s->path, ":memory:") == 0;
	sqlite3_stmt *st = NULL;
	baton_err e = BATON_OK;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		e = sto_sql_fail(s, rc, "switching to WAL mode", NULL, err, cap);
	else if (!memory && strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
		e = sto_say(
		    err, cap, BATON_E_IO,
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

/* Takes the file's lock for the life of the connection: in exclusive locking
 * mode (set before the first access) the first write transaction takes an
 * EXCLUSIVE lock that SQLite never releases, and the WAL index lives in heap
 * memory instead of a -shm file. */
static baton_err lock_file(store *s, char *err, size_t cap)
{
	baton_err e = exec(s, "BEGIN IMMEDIATE", "locking the file", err, cap);

	if (e == BATON_OK)
		e = exec(s, "COMMIT", "locking the file", err, cap);
	else if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return e;
}

/* The process that holds a lock on the file at path (SQLite's locks are
 * POSIX record locks around byte 0x40000000), or 0 when none says. Opens
 * and closes its own descriptor: call it only when this process holds no
 * lock on the file, since closing any descriptor drops the process's locks. */
static long lock_holder(const char *path)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0x40000000, .l_len = 512};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long pid = 0;

	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		pid = (long)fl.l_pid;
	close(fd);
	return pid;
}

/* Records the identity of the file and of its WAL, for store_check_file. */
static void note_identity(store *s)
{
	struct stat st;
	char wal[PATH_MAX];

	if (stat(s->path, &st) == 0) {
		s->dev = (uint64_t)st.st_dev;
		s->ino = (uint64_t)st.st_ino;
	}
	snprintf(wal, sizeof wal, "%s-wal", s->path);
	if (stat(wal, &st) == 0) {
		s->wal_dev = (uint64_t)st.st_dev;
		s->wal_ino = (uint64_t)st.st_ino;
	}
}

baton_err store_check_file(store *s, char *err, size_t cap)
{
	struct stat st;
	char wal[PATH_MAX];

	if (s == NULL || s->ino == 0)
		return BATON_OK; /* :memory: */
	if (stat(s->path, &st) != 0 || (uint64_t)st.st_ino != s->ino || (uint64_t)st.st_dev != s->dev)
		return sto_say(err, cap, BATON_E_STORE_MOVED,
		               "state file %s was %s while the coordinator had it open; what it writes now "
		               "would be lost, so it stops serving. Restore the file (or its backup) "
		               "and restart; a new coordinator never grants a token below the one the "
		               "broker still shows",
		               s->path, errno == ENOENT ? "deleted" : "replaced");
	snprintf(wal, sizeof wal, "%s-wal", s->path);
	if (s->wal_ino != 0 &&
	    (stat(wal, &st) != 0 || (uint64_t)st.st_ino != s->wal_ino || (uint64_t)st.st_dev != s->wal_dev))
		return sto_say(err, cap, BATON_E_STORE_MOVED,
		               "the WAL %s of state file %s was deleted or replaced while the coordinator "
		               "had it open; committed changes in it would be lost at the next start, so "
		               "it stops serving. Do not restart it on this file before restoring a backup",
		               wal, s->path);
	return BATON_OK;
}

/* Runs the migration steps above version from, each in one transaction. */
baton_err sto_migrate(store *s, int64_t from, char *err, size_t cap)
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
			return sto_say(err, cap, BATON_E_STORE_CORRUPT,
			               "state file %s lacks part of Baton's schema (%s); %s", s->path,
			               sqlite3_errmsg(s->db), sto_advice(BATON_E_STORE_CORRUPT));
		if (rc != SQLITE_OK)
			return sto_sql_fail(s, rc, "preparing statements", NULL, err, cap);
	}
	return BATON_OK;
}

/* A zero-length file at path is refused unless the caller asked for a fresh
 * state: a Baton state file is never empty. */
static baton_err check_not_empty(const char *path, unsigned flags, char *err, size_t cap)
{
	struct stat st;

	if ((flags & STORE_OPEN_FRESH) || strcmp(path, ":memory:") == 0 || stat(path, &st) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_size != 0)
		return BATON_OK;
	return sto_say(err, cap, BATON_E_STORE_CORRUPT,
	               "state file %s is empty (0 bytes): a Baton state file never is, so its state was "
	               "lost or the file was replaced. Restore it from a backup, or start with "
	               "--fresh to make it an empty state (tokens still start above the broker's "
	               "token floor)",
	               path);
}

baton_err store_open(const char *path, sync_level sync, store **out, char *err, size_t cap)
{
	return store_open_ex(path, sync, 0, out, err, cap);
}

baton_err store_open_ex(const char *path, sync_level sync, unsigned flags, store **out, char *err, size_t cap)
{
	store *s = NULL;
	int64_t version = 0;
	baton_err e = BATON_OK;
	int rc;

	if (path == NULL || path[0] == '\0' || out == NULL || (int)sync < (int)SYNC_LEVEL_FULL ||
	    (int)sync > (int)SYNC_LEVEL_OFF) {
		e = sto_say(err, cap, BATON_E_INVAL, "store_open: no state file path, or a bad sync level");
		goto out;
	}
	if ((e = check_not_empty(path, flags, err, cap)) != BATON_OK)
		goto out;
	s = calloc(1, sizeof *s);
	if (s != NULL)
		s->path = strdup(path);
	if (s == NULL || s->path == NULL) {
		e = sto_say(err, cap, BATON_E_NOMEM, "state file %s: out of memory opening it", path);
		goto out;
	}
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		e = sto_sql_fail(s, rc, "opening", NULL, err, cap);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* Only a sqlite3 shell or a second coordinator could hold a lock: a
	 * shell's read ends soon, a coordinator's lock never does. */
	sqlite3_busy_timeout(s->db, 1000);
	e = exec(s, "PRAGMA locking_mode = EXCLUSIVE", "setting exclusive locking", err, cap);
	if (e == BATON_OK)
		e = check_identity(s, &version, err, cap);
	if (e == BATON_OK)
		e = set_modes(s, sync, err, cap);
	if (e == BATON_OK)
		e = lock_file(s, err, cap);
	if (e == BATON_OK)
		e = sto_migrate(s, version, err, cap);
	if (e == BATON_OK)
		e = prepare_all(s, err, cap);
	if (e == BATON_OK)
		e = sto_read_token(s, err, cap);
	if (e == BATON_OK)
		e = sto_read_id_seq(s, err, cap);
out:
	if (e == BATON_OK) {
		s->stats.last_token = s->stored_token;
		note_identity(s);
		*out = s;
	} else {
		store_close(s);
		long pid = e == BATON_E_STORE_LOCKED ? lock_holder(path) : 0;
		if (pid > 0)
			sto_say(err, cap, e,
			        "state file %s is locked by process %ld (another coordinator?); a state "
			        "file serves one coordinator only: stop that process, or give this "
			        "coordinator its own --state",
			        path, pid);
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
	free(s->ho);
	free(s->hv);
	free(s->ao);
	free(s->av);
	free(s->sr);
	free(s->buf);
	free(s);
}

void store_stats_get(const store *s, store_stats *out)
{
	*out = s->stats;
}
