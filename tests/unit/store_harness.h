/*
 * store_harness.h - shared helpers of the store tests that restart a
 * coordinator from its state file (test_store.c, test_store_ids.c,
 * test_store_shapes.c, test_store_alias.c):
 * a fixture with its own mkdtemp() directory, a step that commits its batch,
 * a "kill and restart" that reloads a fresh table from the file, and request
 * builders. Header-only, static functions.
 */
#ifndef BATON_STORE_HARNESS_H
#define BATON_STORE_HARNESS_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h" /* the open store's own connection: it holds the file's lock */
#include "table.h"
#include "table_harness.h"

#define T0 1764000000000LL /* 2025-11-24T16:00:00Z */

typedef struct fixture {
	char dir[64];
	char path[96];
	char err[512];
	store *s;
	table *t;
} fixture;

static inline table *new_table(void)
{
	table_config cfg;
	table *t;

	table_config_default(&cfg);
	t = table_new(&cfg);
	assert_non_null(t);
	return t;
}

static inline void open_store(fixture *f)
{
	f->err[0] = '\0';
	if (store_open(f->path, SYNC_LEVEL_OFF, &f->s, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_open: %s", f->err);
}

/* A fixture with its own directory and nothing open: for tests that open
 * and close stores themselves (test_store.c). */
static inline int setup_dir(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	strcpy(f->dir, "/tmp/baton-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/state.db", f->dir);
	*state = f;
	return 0;
}

/* setup_dir, then the store opened and an empty table. */
static inline int setup(void **state)
{
	setup_dir(state);
	fixture *f = *state;
	open_store(f);
	f->t = new_table();
	return 0;
}

static inline int teardown(void **state)
{
	fixture *f = *state;
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char p[128];

	table_free(f->t);
	store_close(f->s);
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

/* Steps req, commits the batch and returns the rendered answer to node with
 * req's id (there must be exactly one). */
static inline const char *step(fixture *f, int64_t now, const char *node, const wire_request *req)
{
	static char out[512];
	table_ready r;
	int found = 0;

	assert_int_equal(table_step_request(f->t, now, node, req), BATON_OK);
	table_ready_get(f->t, &r);
	out[0] = '\0';
	for (size_t i = 0; i < r.n_effects; i++) {
		const table_effect *e = &r.effects[i];

		if (e->kind == TABLE_FX_ANSWER && strcmp(e->node, node) == 0 && e->u.answer.id != NULL &&
		    strcmp(e->u.answer.id, req->id) == 0) {
			h_answer(out, sizeof out, e);
			found++;
		}
	}
	assert_int_equal(found, 1);
	if (store_commit(f->s, f->t, &r, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_commit: %s", f->err);
	table_advance(f->t);
	return out;
}

/* The coordinator is killed after its last commit and starts again. */
static inline void restart(fixture *f)
{
	table_free(f->t);
	store_close(f->s);
	open_store(f);
	f->t = new_table();
	if (store_load(f->s, f->t, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_load: %s", f->err);
}

static inline wire_request acq(const char *id, const char *res, wire_mode mode, int64_t wait_ms)
{
	wire_request r = h_req(WIRE_OP_ACQUIRE, id, res);

	r.mode = mode;
	if (wait_ms >= 0) {
		r.has_wait = true;
		r.wait_ms = (uint64_t)wait_ms;
	}
	return r;
}

static inline wire_request rel(const char *id, const char *res, uint64_t token, bool success,
                               const char *result)
{
	wire_request r = h_req(WIRE_OP_RELEASE, id, res);

	r.token = token;
	r.success = success;
	r.result = result;
	return r;
}

static inline uint64_t token_of(fixture *f, const char *res)
{
	table_resource_view v;

	assert_true(table_resource_get(f->t, res, &v));
	return v.token;
}

static inline int64_t db_int(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Reads one integer from the file at path (no store may have it open: the
 * store holds its file's lock). */
static inline int64_t sql_int(const char *path, const char *q)
{
	sqlite3 *db = NULL;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	v = db_int(db, q);
	sqlite3_close(db);
	return v;
}

/* Reads one integer through the fixture's open store's own connection. */
static inline int64_t store_sql_int(fixture *f, const char *q)
{
	return db_int(f->s->db, q);
}

/* ---- repeats after a restart -------------------------------------------------------- */

#endif
