/*
 * store.h - the lock table's state made durable in one SQLite file.
 *
 * The store knows SQLite and the shape of the state (table.h's
 * table_resource_view and the token counter), nothing of the rules: it writes
 * what the table says changed and reads it back into a fresh table at start.
 * It is what backs PROTOCOL.md guarantee 3: the daemon publishes a batch's
 * effects only after store_commit() of that batch has returned BATON_OK.
 *
 * The file is plain SQLite (WAL mode), held in exclusive locking mode while
 * the coordinator runs (read it with the sqlite3 shell once it has stopped,
 * or a copy made with the shell's .backup); docs/store.md describes the
 * schema. Its
 * PRAGMA application_id marks it as Baton's, its PRAGMA user_version is the
 * schema version (STORE_SCHEMA_VERSION); older versions are migrated at open.
 *
 * Not thread-safe: one owner thread calls every function. Strings passed in
 * are borrowed for the call only. Every function that can fail returns a
 * baton_err and, when err is not NULL and cap > 0, writes a one-line,
 * NUL-terminated message into err (truncated to cap bytes) that names the
 * file and says what to do; on success err is left as it was.
 */
#ifndef BATON_STORE_H
#define BATON_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"
#include "sync.h"
#include "table.h"

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 4
/* PRAGMA application_id of a Baton state file: "Btn1" in ASCII. */
#define STORE_APPLICATION_ID 0x42746e31

/* How hard a commit pushes to the disk: sync_level, common/sync.h. */

typedef struct store store;

/* Opens the state file at path, creating it (with the current schema) when it
 * does not exist or is empty; ":memory:" opens a private in-memory store
 * (tests). Sets WAL mode and PRAGMA synchronous per sync, checks the file is
 * Baton's and migrates an older schema, and prepares every statement.
 * Returns:
 *   BATON_E_STORE_TOO_NEW  the file's schema version is newer than this build;
 *   BATON_E_STORE_CORRUPT  not a SQLite file, corrupt, or another program's
 *                          database;
 *   BATON_E_IO             cannot be opened, read or written (permissions,
 *                          missing directory, read-only file, disk full);
 *   BATON_E_NOMEM, BATON_E_INVAL (NULL argument), BATON_E_STORE (other
 *                          SQLite failures).
 * A file it refuses is never replaced or modified. On success *out owns the
 * open store (free with store_close()); on failure *out is untouched. */
baton_err store_open(const char *path, sync_level sync, store **out, char *err, size_t cap);

/* store_open_ex's flags. */
enum {
	/* Accept a zero-length file at path and make it a fresh state file. Without
	 * it such a file is refused (BATON_E_STORE_CORRUPT): a Baton state file is
	 * never empty, so an empty one means the state was lost or replaced. A
	 * file that holds another program's data is refused either way. */
	STORE_OPEN_FRESH = 1u << 0,
};

/* store_open with flags; store_open(...) is store_open_ex(..., 0, ...).
 * Besides store_open's checks, the file is opened in SQLite's exclusive
 * locking mode: this connection holds the file's lock until store_close, so
 * no other process can read or write it (and there is no -shm file, whose
 * shared memory a full disk turns into SIGBUS). A file another process holds
 * is refused with BATON_E_STORE_LOCKED, naming that process when the lock
 * says which. The identity (device, inode) of the file and of its WAL is
 * recorded for store_check_file. */
baton_err store_open_ex(const char *path, sync_level sync, unsigned flags, store **out, char *err,
                        size_t cap);

/* Checks that the path still names the file this store has open, and that
 * its WAL is still the one being written: BATON_E_STORE_MOVED when either
 * was deleted, renamed or replaced (writes would go to an unlinked inode and
 * be lost at the next start), BATON_OK otherwise (and for ":memory:").
 * store_commit() runs this check before every transaction. Two stat() calls. */
baton_err store_check_file(store *s, char *err, size_t cap);

/* Loads the whole stored state into t, which must be fresh (table_new(), no
 * event fed yet): the token and request id counters with
 * table_restore_next_token() and table_restore_next_id_seq(), then every
 * resource with table_restore() (the aliases of its holdings and waiters
 * included), then the remembered request ids with table_restore_record()
 * (oldest first), in one read transaction. Deadlines are
 * restored as stored (wall-clock ms); those already past fire at the caller's
 * first table_tick(). Returns BATON_E_STORE_CORRUPT when the rows are
 * inconsistent (the table refuses a resource, a row names no resource, a
 * field is out of range), BATON_E_IO, BATON_E_NOMEM, BATON_E_STORE. On
 * failure t may hold part of the state: free it; the file is unchanged. */
baton_err store_load(store *s, table *t, char *err, size_t cap);

/* Makes one table batch durable in ONE transaction: for each resource named
 * in r->dirty, its rows are replaced by its current state in t
 * (table_resource_get(); a resource t no longer has loses its rows), the
 * changes r->ids to the remembered request ids are applied in order, and the
 * token and request id counters become r->next_token and r->next_id_seq
 * (never lower than the stored ones).
 * Returns only when the transaction is committed as durably as the store's
 * sync level promises. Checks the file first (store_check_file): a file
 * deleted or replaced under the store fails with BATON_E_STORE_MOVED and
 * writes nothing, on this and every later call. On error the transaction is rolled back, so the file
 * holds the previous batch's state; t is then ahead of the file, and the
 * caller must not publish r's effects. Calling again with the same t and r
 * (no event fed in between) is safe and is how to retry: the rows are
 * rewritten from t's current state. Errors: BATON_E_STORE_MOVED, BATON_E_IO, BATON_E_NOMEM,
 * BATON_E_STORE_CORRUPT, BATON_E_STORE, BATON_E_INVAL (NULL argument). A
 * batch with no dirty resource, no id change and unchanged counters writes
 * nothing. */
baton_err store_commit(store *s, table *t, const table_ready *r, char *err, size_t cap);

/* Closes the file (checkpointing the WAL) and frees s. NULL is fine. Cannot
 * fail: a close error loses nothing that was committed. */
void store_close(store *s);

/* Counters since store_open(), for P/stats and logs. */
typedef struct store_stats {
	uint64_t commits;       /* transactions committed by store_commit() */
	uint64_t failures;      /* store_commit() calls that rolled back */
	uint64_t rows_written;  /* rows inserted by committed transactions */
	uint64_t last_token;    /* next_token as last committed */
	int64_t last_commit_us; /* how long the last committed store_commit() took */
} store_stats;

/* Fills *out. Cannot fail. */
void store_stats_get(const store *s, store_stats *out);

#endif
