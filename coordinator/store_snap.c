/*
 * store_snap.c - the state file as one image (store_snap.h): serialize,
 * restore over the open file, and a canonical dump.
 *
 * Never decides anything about locks and never interprets rows: an image is
 * checked only for being a Baton state file of this schema version or an
 * older one (migrated by store.c's steps, as a file is at open), and the
 * dump prints rows as SQLite holds them. Costs: an image is a copy of the
 * whole file in memory (the state of a lock coordinator: kilobytes to a few
 * megabytes); a restore writes every page once.
 */
#include "store_snap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

baton_err store_image(store *s, void **out, size_t *len, char *err, size_t cap)
{
	sqlite3_int64 n = 0;
	if (s == NULL || out == NULL || len == NULL)
		return sto_say(err, cap, BATON_E_INVAL, "store_image: NULL argument");
	unsigned char *p = sqlite3_serialize(s->db, "main", &n, 0);
	if (p == NULL)
		return sto_say(err, cap, BATON_E_NOMEM, "state file %s: no memory for its image", s->path);
	*out = p;
	*len = (size_t)n;
	return BATON_OK;
}

void store_image_free(void *image)
{
	sqlite3_free(image);
}

/* Reads one integer PRAGMA of db into *v. */
static int pragma_int(sqlite3 *db, const char *sql, sqlite3_int64 *v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Opens image as a private in-memory database, checked to be a state file of
 * this schema version or an older one (*version). */
static baton_err open_image(store *s, const void *image, size_t len, sqlite3 **out, sqlite3_int64 *version,
                            char *err, size_t cap)
{
	sqlite3 *mem = NULL;
	unsigned char *copy = NULL;
	sqlite3_int64 app = 0;
	baton_err e = BATON_OK;
	if (len < 100 || memcmp(image, "SQLite format 3", 16) != 0) {
		e = sto_say(err, cap, BATON_E_STORE_CORRUPT, "state image for %s: not a SQLite image",
		            s->path);
		goto out;
	}
	copy = sqlite3_malloc64(len);
	if (copy == NULL || sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		e = sto_say(err, cap, BATON_E_NOMEM, "state image for %s: out of memory", s->path);
		goto out;
	}
	memcpy(copy, image, len);
	/* An in-memory database cannot be in WAL mode: mark the image as a
	 * rollback-journal file (header bytes 18 and 19), as SQLite requires. */
	copy[18] = copy[19] = 1;
	int rc = sqlite3_deserialize(mem, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
	                             SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY);
	copy = NULL; /* SQLite owns it now, even on failure */
	if (rc != SQLITE_OK || pragma_int(mem, "PRAGMA application_id", &app) != SQLITE_OK ||
	    pragma_int(mem, "PRAGMA user_version", version) != SQLITE_OK || app != STORE_APPLICATION_ID) {
		e = sto_say(err, cap, BATON_E_STORE_CORRUPT, "state image for %s: not a Baton state file",
		            s->path);
		goto out;
	}
	if (*version > STORE_SCHEMA_VERSION || *version < 1) {
		e = sto_say(err, cap,
		            *version > STORE_SCHEMA_VERSION ? BATON_E_STORE_TOO_NEW : BATON_E_STORE_CORRUPT,
		            "state image for %s: schema version %lld, this build has %d", s->path,
		            (long long)*version, STORE_SCHEMA_VERSION);
		goto out;
	}
	*out = mem;
	mem = NULL;
out:
	sqlite3_free(copy);
	sqlite3_close(mem);
	return e;
}

baton_err store_restore_image(store *s, const void *image, size_t len, char *err, size_t cap)
{
	sqlite3 *mem = NULL;
	if (s == NULL || (image == NULL && len > 0))
		return sto_say(err, cap, BATON_E_INVAL, "store_restore_image: NULL argument");
	sqlite3_int64 version = 0;
	baton_err e = open_image(s, image, len, &mem, &version, err, cap);
	if (e != BATON_OK)
		return e;
	sqlite3_backup *b = sqlite3_backup_init(s->db, "main", mem, "main");
	int rc = b != NULL ? sqlite3_backup_step(b, -1) : sqlite3_errcode(s->db);
	int rc2 = b != NULL ? sqlite3_backup_finish(b) : SQLITE_OK;
	if (rc == SQLITE_DONE)
		rc = rc2;
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		e = sto_sql_fail(s, rc, "restoring an image into", NULL, err, cap);
	sqlite3_close(mem);
	/* An image of an older Baton (a snapshot taken before an upgrade) is
	 * migrated as its file would be at open. */
	if (e == BATON_OK && version < STORE_SCHEMA_VERSION)
		e = sto_migrate(s, version, err, cap);
	return e;
}

/* ---- dump ------------------------------------------------------------------ */

typedef struct text {
	char *p;
	size_t len, cap;
	bool nomem;
} text;

static void put(text *t, const char *s, size_t n)
{
	if (t->nomem)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (p == NULL) {
			t->nomem = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

/* Appends every row of table name, ordered by all its columns. */
static int dump_table(sqlite3 *db, const char *name, text *t)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" LIMIT 0", name);
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	int cols = rc == SQLITE_OK ? sqlite3_column_count(st) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return rc;
	int at = snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY 1", name);
	for (int c = 2; c <= cols && at < (int)sizeof sql - 8; c++)
		at += snprintf(sql + at, sizeof sql - (size_t)at, ",%d", c);
	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		put(t, name, strlen(name));
		for (int c = 0; c < cols; c++) {
			const char *v = (const char *)sqlite3_column_text(st, c);
			if (v == NULL)
				put(t, " NULL", 5);
			else {
				put(t, " '", 2);
				put(t, v, strlen(v));
				put(t, "'", 1);
			}
		}
		put(t, "\n", 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

baton_err store_dump(store *s, char **out, char *err, size_t cap)
{
	if (s == NULL || out == NULL)
		return sto_say(err, cap, BATON_E_INVAL, "store_dump: NULL argument");
	text t = {0};
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
	    s->db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		char name[128];
		snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = dump_table(s->db, name, &t);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	put(&t, "", 0);
	if (rc != SQLITE_OK || t.nomem) {
		free(t.p);
		return rc != SQLITE_OK
		           ? sto_sql_fail(s, rc, "dumping", NULL, err, cap)
		           : sto_say(err, cap, BATON_E_NOMEM, "state file %s: no memory to dump it", s->path);
	}
	*out = t.p;
	return BATON_OK;
}
