/*
 * store_load.c - reading the state file back into a fresh lock table at
 * start (store_load), and the stored token counter (sto_read_token).
 *
 * Never writes the file, never decides anything about locks: whether the
 * state read back is consistent is table_restore()'s call; this file only
 * checks each column's type and range and that every row names a resource.
 * Invariant: a load runs in one read transaction, so its scans see one
 * consistent snapshot; every statement is left reset.
 * Costs: one ordered scan of each table, merged by resource name; the
 * waiters' strings of one resource are copied into a buffer reused from
 * resource to resource.
 */
#include "store_int.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

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
	return sto_sql_fail(s, rc, "reading table", c->table, err, cap);
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
	static const wire_mode all[] = {WIRE_MODE_ONCE, WIRE_MODE_MUTEX, WIRE_MODE_SHARED};
	const char *m = col_text(rw, col, false);

	for (size_t i = 0; m != NULL && i < sizeof all / sizeof all[0]; i++)
		if (strcmp(m, wire_mode_name(all[i])) == 0)
			return all[i];
	row_bad(rw, col);
	return WIRE_MODE_ONCE;
}

/* A mode, or dflt when NULL (a waiter migrated from version 2 whose
 * resource row had none). */
static wire_mode col_mode_or(row *rw, int col, wire_mode dflt)
{
	return sqlite3_column_type(rw->st, col) == SQLITE_NULL ? dflt : col_mode(rw, col);
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
	return sto_say(err, cap, BATON_E_STORE_CORRUPT,
	               "state file %s: column %s.%s of resource %s is missing or out of range; %s", s->path,
	               table_name, sqlite3_column_name(rw->st, rw->bad_col), resource,
	               sto_advice(BATON_E_STORE_CORRUPT));
}

/* Positions child cursor c on name: true when it has rows for name. A row
 * whose resource sorts before name belongs to no resource: corrupt. */
static baton_err match(store *s, cursor *c, const char *name, bool *found, char *err, size_t cap)
{
	int cmp = c->has_row ? strcmp(key_of(c), name) : 1;

	*found = cmp == 0;
	if (cmp >= 0)
		return BATON_OK;
	return sto_say(err, cap, BATON_E_STORE_CORRUPT,
	               "state file %s: table %s has rows for resource %s, which has no row in resources; %s",
	               s->path, c->table, key_of(c), sto_advice(BATON_E_STORE_CORRUPT));
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

static baton_err load_nomem(store *s, const char *what, const char *name, char *err, size_t cap)
{
	return sto_say(err, cap, BATON_E_NOMEM, "state file %s: out of memory loading %s of %s", s->path,
	               what, name);
}

/* Reads the waiters of name (cursor c positioned on them) into s->wo, in
 * queue order, copying their strings (the cursor moves on). */
static baton_err read_waiters(store *s, cursor *c, const char *name, wire_mode mode, size_t *n, char *err,
                              size_t cap)
{
	baton_err e = BATON_OK;
	bool ok = true;

	*n = 0;
	while (e == BATON_OK && c->has_row && strcmp(key_of(c), name) == 0) {
		row rw = {c->st, -1};
		waiter_off *w;

		if (!grow((void **)&s->wo, &s->wo_cap, *n + 1, sizeof *s->wo) ||
		    !grow((void **)&s->wv, &s->wv_cap, *n + 1, sizeof *s->wv))
			return load_nomem(s, "waiters", name, err, cap);
		w = &s->wo[(*n)++];
		w->node = keep_str(s, col_text(&rw, 1, false), &ok);
		w->id = keep_str(s, col_text(&rw, 2, false), &ok);
		w->lease_ms = (uint32_t)col_int(&rw, 3, 0, UINT32_MAX, false, 0);
		w->wait_until_ms = col_int(&rw, 4, INT64_MIN, INT64_MAX, true, INT64_MAX);
		w->meta = keep_str(s, col_text(&rw, 5, true), &ok);
		w->mode = col_mode_or(&rw, 6, mode);
		w->max_failures = (uint32_t)col_int(&rw, 7, 0, WIRE_FAILURES_MAX, false, 0);
		if (!ok)
			return load_nomem(s, "waiters", name, err, cap);
		e = row_check(s, &rw, "waiters", name, err, cap);
		if (e == BATON_OK)
			e = advance(s, c, err, cap);
	}
	return e;
}

/* Reads the holdings of name (cursor c positioned on them) into s->ho, in
 * token order, copying their strings (the cursor moves on). */
static baton_err read_holdings(store *s, cursor *c, const char *name, size_t *n, char *err, size_t cap)
{
	baton_err e = BATON_OK;
	bool ok = true;

	*n = 0;
	while (e == BATON_OK && c->has_row && strcmp(key_of(c), name) == 0) {
		row rw = {c->st, -1};
		holding_off *h;

		if (!grow((void **)&s->ho, &s->ho_cap, *n + 1, sizeof *s->ho) ||
		    !grow((void **)&s->hv, &s->hv_cap, *n + 1, sizeof *s->hv))
			return load_nomem(s, "holdings", name, err, cap);
		h = &s->ho[(*n)++];
		h->node = keep_str(s, col_text(&rw, 1, false), &ok);
		h->id = keep_str(s, col_text(&rw, 2, false), &ok);
		h->v = (table_holding_view){.token = (uint64_t)col_int(&rw, 3, 1, INT64_MAX, false, 0),
		                            .lease_ms = (uint32_t)col_int(&rw, 4, 0, UINT32_MAX, false, 0),
		                            .since_ms = col_int(&rw, 5, INT64_MIN, INT64_MAX, false, 0),
		                            .lease_until_ms = col_int(&rw, 6, INT64_MIN, INT64_MAX, false, 0),
		                            .mode = col_mode(&rw, 8)};
		h->meta = keep_str(s, col_text(&rw, 7, true), &ok);
		if (!ok)
			return load_nomem(s, "holdings", name, err, cap);
		e = row_check(s, &rw, "holdings", name, err, cap);
		if (e == BATON_OK)
			e = advance(s, c, err, cap);
	}
	return e;
}

/* Reads the aliases of name (cursor c positioned on them) into s->ao, node
 * by node, each node's in their order, copying their strings. */
static baton_err read_aliases(store *s, cursor *c, const char *name, size_t *n, char *err, size_t cap)
{
	baton_err e = BATON_OK;
	bool ok = true;

	*n = 0;
	while (e == BATON_OK && c->has_row && strcmp(key_of(c), name) == 0) {
		row rw = {c->st, -1};
		alias_off *a;

		if (!grow((void **)&s->ao, &s->ao_cap, *n + 1, sizeof *s->ao) ||
		    !grow((void **)&s->av, &s->av_cap, *n + 1, sizeof *s->av))
			return load_nomem(s, "aliases", name, err, cap);
		a = &s->ao[(*n)++];
		a->node = keep_str(s, col_text(&rw, 1, false), &ok);
		a->id = keep_str(s, col_text(&rw, 2, false), &ok);
		if (!ok)
			return load_nomem(s, "aliases", name, err, cap);
		e = row_check(s, &rw, "aliases", name, err, cap);
		if (e == BATON_OK)
			e = advance(s, c, err, cap);
	}
	return e;
}

static const char *buf_str(const store *s, size_t off)
{
	return off == SIZE_MAX ? NULL : s->buf + off;
}

static int cmp_ref(const void *a, const void *b)
{
	const slot_ref *x = a, *y = b;
	int c = strcmp(x->node, y->node);

	return c != 0 ? c : (x->slot > y->slot) - (x->slot < y->slot);
}

/* Hands the na aliases read (sorted by node, as the scan returns them) to
 * the holding or waiter of their node, once the views point at their
 * strings: both lists sorted by node, merged. An alias of a node that
 * neither holds nor waits for v is corrupt. */
static baton_err point_aliases(store *s, table_resource_view *v, size_t na, char *err, size_t cap)
{
	size_t ns = v->n_holders + v->n_waiting, j = 0;

	if (na == 0)
		return BATON_OK;
	if (!grow((void **)&s->sr, &s->sr_cap, ns, sizeof *s->sr))
		return load_nomem(s, "aliases", v->name, err, cap);
	for (size_t i = 0; i < ns; i++)
		s->sr[i] = (slot_ref){i < v->n_holders ? s->hv[i].node : s->wv[i - v->n_holders].node, i};
	qsort(s->sr, ns, sizeof *s->sr, cmp_ref);
	for (size_t i = 0; i < na; i++)
		s->av[i] = buf_str(s, s->ao[i].id);
	for (size_t i = 0; i < na;) {
		const char *node = buf_str(s, s->ao[i].node);
		size_t k = i;

		while (k < na && strcmp(buf_str(s, s->ao[k].node), node) == 0)
			k++;
		while (j < ns && strcmp(s->sr[j].node, node) < 0)
			j++;
		if (j == ns || strcmp(s->sr[j].node, node) != 0)
			return sto_say(err, cap, BATON_E_STORE_CORRUPT,
			               "state file %s: table aliases has rows for node %s of resource %s, "
			               "which neither holds nor waits for it; %s",
			               s->path, node, v->name, sto_advice(BATON_E_STORE_CORRUPT));
		size_t x = s->sr[j].slot;
		if (x < v->n_holders) {
			s->hv[x].aliases = &s->av[i];
			s->hv[x].n_aliases = k - i;
		} else {
			s->wv[x - v->n_holders].aliases = &s->av[i];
			s->wv[x - v->n_holders].n_aliases = k - i;
		}
		i = k;
	}
	return BATON_OK;
}

/* Points the views at the strings, once the buffer no longer moves. */
static void point_views(store *s, table_resource_view *v)
{
	for (size_t i = 0; i < v->n_holders; i++) {
		s->hv[i] = s->ho[i].v;
		s->hv[i].node = buf_str(s, s->ho[i].node);
		s->hv[i].id = buf_str(s, s->ho[i].id);
		s->hv[i].meta = buf_str(s, s->ho[i].meta);
	}
	for (size_t i = 0; i < v->n_waiting; i++) {
		const waiter_off *w = &s->wo[i];
		s->wv[i] = (table_waiter_view){.node = buf_str(s, w->node),
		                               .id = buf_str(s, w->id),
		                               .lease_ms = w->lease_ms,
		                               .wait_until_ms = w->wait_until_ms,
		                               .meta = buf_str(s, w->meta),
		                               .mode = w->mode,
		                               .max_failures = w->max_failures};
	}
	v->holders = v->n_holders > 0 ? s->hv : NULL;
	v->waiting = v->n_waiting > 0 ? s->wv : NULL;
}

enum { C_RES, C_HOLD, C_WAIT, C_REM, C_ALIAS, C_COUNT };

/* The remembered success of the resource being loaded, from the row its
 * cursor sits on. */
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

/* The columns of the resources row the cursor sits on. */
static void read_resource_row(row *rw, table_resource_view *v)
{
	v->name = col_text(rw, 0, false);
	v->mode = col_mode(rw, 1);
	v->previous.node = col_text(rw, 2, true);
	if (v->previous.node != NULL) {
		v->previous.token = (uint64_t)col_int(rw, 3, 1, INT64_MAX, false, 0);
		v->previous.error = col_text(rw, 4, true);
		v->previous.reason = col_reason(rw, 5);
		v->previous.completed_at_ms = col_int(rw, 8, INT64_MIN, INT64_MAX, false, 0);
	}
	v->permits = (uint32_t)col_int(rw, 6, 1, WIRE_PERMITS_MAX, false, 1);
	v->failures = (uint32_t)col_int(rw, 7, 0, UINT32_MAX, false, 0);
	v->forget_at_ms = col_int(rw, 9, INT64_MIN, INT64_MAX, true, 0);
}

static baton_err restore_one(store *s, table *t, const table_resource_view *v, char *err, size_t cap)
{
	baton_err e = table_restore(t, v);

	if (e == BATON_E_INVAL)
		return sto_say(
		    err, cap, BATON_E_STORE_CORRUPT,
		    "state file %s: the stored state of resource %s is inconsistent (a token at or "
		    "above the counter %llu, a duplicate, holdings that do not fit together, a "
		    "waiter that holds or should hold, or a request id used twice); %s",
		    s->path, v->name, (unsigned long long)s->stored_token, sto_advice(BATON_E_STORE_CORRUPT));
	if (e != BATON_OK)
		return sto_say(err, cap, e, "state file %s: loading resource %s: %s", s->path, v->name,
		               baton_strerror(e));
	return BATON_OK;
}

/* Restores the resource the resources cursor sits on, with its rows in the
 * other tables, and moves the child cursors past them. */
static baton_err load_resource(store *s, table *t, cursor *c, char *err, size_t cap)
{
	row rw = {c[C_RES].st, -1};
	table_resource_view v = {0};
	bool held = false, waits = false, done = false, aliased = false;
	size_t na = 0;
	baton_err e;

	read_resource_row(&rw, &v);
	if (v.name == NULL)
		return sto_say(err, cap, BATON_E_STORE_CORRUPT,
		               "state file %s: a row of resources has no name; %s", s->path,
		               sto_advice(BATON_E_STORE_CORRUPT));
	e = row_check(s, &rw, "resources", v.name, err, cap);
	if (e == BATON_OK)
		e = match(s, &c[C_HOLD], v.name, &held, err, cap);
	if (e == BATON_OK)
		e = match(s, &c[C_WAIT], v.name, &waits, err, cap);
	if (e == BATON_OK)
		e = match(s, &c[C_REM], v.name, &done, err, cap);
	if (e == BATON_OK)
		e = match(s, &c[C_ALIAS], v.name, &aliased, err, cap);
	s->buf_len = 0;
	if (e == BATON_OK && held)
		e = read_holdings(s, &c[C_HOLD], v.name, &v.n_holders, err, cap);
	if (e == BATON_OK && done)
		e = read_remembered(s, &c[C_REM], &v, err, cap);
	if (e == BATON_OK && waits)
		e = read_waiters(s, &c[C_WAIT], v.name, v.mode, &v.n_waiting, err, cap);
	if (e == BATON_OK && aliased)
		e = read_aliases(s, &c[C_ALIAS], v.name, &na, err, cap);
	if (e == BATON_OK) {
		point_views(s, &v);
		e = point_aliases(s, &v, na, err, cap);
	}
	if (e == BATON_OK)
		e = restore_one(s, t, &v, err, cap);
	if (e == BATON_OK && done)
		e = advance(s, &c[C_REM], err, cap);
	return e;
}

/* ---- remembered request ids ---------------------------------------------------- */

static wire_status col_status(row *rw, int col)
{
	const char *st = col_text(rw, col, false);

	for (wire_status v = WIRE_ST_GRANTED; st != NULL && v <= WIRE_ST_FAILED; v++)
		if (strcmp(st, wire_status_name(v)) == 0)
			return v;
	row_bad(rw, col);
	return WIRE_ST_REJECTED;
}

/* NULL is none. */
static wire_reason col_reason_or_none(row *rw, int col)
{
	return sqlite3_column_type(rw->st, col) == SQLITE_NULL ? WIRE_REASON_NONE : col_reason(rw, col);
}

/* NULL is none (BATON_OK); an unknown code is bad. */
static baton_err col_code(row *rw, int col)
{
	const char *code = col_text(rw, col, true);
	baton_err e = code != NULL ? baton_err_from_code(code) : BATON_OK;

	if (code != NULL && baton_err_code(e) == NULL)
		row_bad(rw, col);
	return e;
}

/* Restores the row of requests the statement sits on. */
static baton_err load_request(store *s, table *t, sqlite3_stmt *st, char *err, size_t cap)
{
	row rw = {st, -1};
	table_id_record x = {0};
	baton_err e;

	x.node = col_text(&rw, 0, false);
	x.id = col_text(&rw, 1, false);
	x.resource = col_text(&rw, 2, false);
	x.seq = (uint64_t)col_int(&rw, 3, 0, INT64_MAX, false, 0);
	x.status = col_status(&rw, 4);
	x.token = (uint64_t)col_int(&rw, 5, 0, INT64_MAX, true, 0);
	x.lease_ms = (uint32_t)col_int(&rw, 6, 0, UINT32_MAX, true, 0);
	x.reason = col_reason_or_none(&rw, 7);
	x.code = col_code(&rw, 8);
	x.holder = col_text(&rw, 9, true);
	x.done.node = col_text(&rw, 10, true);
	if (x.done.node != NULL) {
		x.done.token = (uint64_t)col_int(&rw, 11, 1, INT64_MAX, false, 0);
		x.done.result = col_text(&rw, 12, true);
		x.done.completed_at_ms = col_int(&rw, 13, INT64_MIN, INT64_MAX, false, 0);
	}
	x.last.node = col_text(&rw, 15, true);
	if (x.last.node != NULL) {
		x.failures = (uint32_t)col_int(&rw, 14, 1, UINT32_MAX, false, 0);
		x.last.token = (uint64_t)col_int(&rw, 16, 1, INT64_MAX, false, 0);
		x.last.error = col_text(&rw, 17, true);
		x.last.reason = col_reason(&rw, 18);
		x.last.completed_at_ms = col_int(&rw, 19, INT64_MIN, INT64_MAX, false, 0);
	}
	e = row_check(s, &rw, "requests", x.resource ? x.resource : "?", err, cap);
	if (e != BATON_OK)
		return e;
	e = table_restore_record(t, &x);
	if (e == BATON_E_INVAL)
		return sto_say(err, cap, BATON_E_STORE_CORRUPT,
		               "state file %s: the remembered request %s of node %s is inconsistent; %s",
		               s->path, x.id ? x.id : "?", x.node ? x.node : "?",
		               sto_advice(BATON_E_STORE_CORRUPT));
	if (e != BATON_OK)
		return sto_say(err, cap, e, "state file %s: loading the remembered request ids: %s", s->path,
		               baton_strerror(e));
	return BATON_OK;
}

/* Restores every remembered request id, oldest first (after the resources:
 * a live request wins over a remembered one with the same id). */
static baton_err load_requests(store *s, table *t, char *err, size_t cap)
{
	cursor c = {s->st[ST_SEL_REQ], false, "requests"};
	baton_err e = advance(s, &c, err, cap);

	while (e == BATON_OK && c.has_row) {
		e = load_request(s, t, c.st, err, cap);
		if (e == BATON_OK)
			e = advance(s, &c, err, cap);
	}
	sqlite3_reset(c.st);
	return e;
}

/* Reads the counter of meta row key (statement id; what names it in an
 * error) into *out, at least min. */
static baton_err read_counter(store *s, int id, const char *key, const char *what, int64_t min, uint64_t *out,
                              char *err, size_t cap)
{
	sqlite3_stmt *st = s->st[id];
	baton_err e = BATON_OK;
	row rw = {st, -1};
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		int64_t v = col_int(&rw, 0, min, INT64_MAX, false, 0);

		e = row_check(s, &rw, "meta", key, err, cap);
		if (e == BATON_OK)
			*out = (uint64_t)v;
	} else if (rc == SQLITE_DONE) {
		e = sto_say(err, cap, BATON_E_STORE_CORRUPT, "state file %s: meta has no %s row; %s", s->path,
		            key, sto_advice(BATON_E_STORE_CORRUPT));
	} else {
		e = sto_sql_fail(s, rc, what, NULL, err, cap);
	}
	sqlite3_reset(st);
	return e;
}

/* Reads the stored token counter into s->stored_token. */
baton_err sto_read_token(store *s, char *err, size_t cap)
{
	return read_counter(s, ST_GET_TOKEN, "next_token", "reading the token counter", 1, &s->stored_token,
	                    err, cap);
}

/* Reads the stored request id counter into s->stored_id_seq. */
baton_err sto_read_id_seq(store *s, char *err, size_t cap)
{
	return read_counter(s, ST_GET_ID_SEQ, "next_id_seq", "reading the request id counter", 0,
	                    &s->stored_id_seq, err, cap);
}

baton_err store_load(store *s, table *t, char *err, size_t cap)
{
	static const int sel[C_COUNT] = {ST_SEL_RES, ST_SEL_HOLD, ST_SEL_WAIT, ST_SEL_REM, ST_SEL_ALIAS};
	static const char *const names[C_COUNT] = {"resources", "holdings", "waiters", "remembered",
	                                           "aliases"};
	cursor c[C_COUNT];
	baton_err e, e2;
	bool found;

	if (s == NULL || t == NULL)
		return sto_say(err, cap, BATON_E_INVAL, "store_load: NULL argument");
	for (int i = 0; i < C_COUNT; i++)
		c[i] = (cursor){s->st[sel[i]], false, names[i]};
	/* One read transaction: the scans see one consistent snapshot. */
	e = sto_run(s, ST_BEGIN_READ, "starting a read transaction", NULL, err, cap);
	if (e != BATON_OK)
		return e;
	e = sto_read_token(s, err, cap);
	if (e == BATON_OK)
		e = sto_read_id_seq(s, err, cap);
	if (e == BATON_OK) {
		table_restore_next_token(t, s->stored_token);
		table_restore_next_id_seq(t, s->stored_id_seq);
	}
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
	if (e == BATON_OK)
		e = load_requests(s, t, err, cap);
	e2 = sto_run(s, ST_COMMIT, "ending the read transaction", NULL, e == BATON_OK ? err : NULL, cap);
	return e != BATON_OK ? e : e2;
}
