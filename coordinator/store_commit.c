/*
 * store_commit.c - making one table batch durable (store_commit): the
 * dirty resources' rows rewritten from the table's views (holdings,
 * waiters, remembered success, aliases), the changes to the remembered
 * request ids applied in order, the counters raised, in one transaction.
 *
 * Never decides anything about locks: it writes what the table reports as
 * changed and nothing else; never publishes, never logs. Every statement
 * is left reset with cleared bindings (sto_run). Costs: one write
 * transaction (one fsync of the WAL at SYNC_LEVEL_FULL) plus a few B-tree
 * operations per dirty resource and per id change.
 */
#include "store_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire.h"

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

/* ---- commit ------------------------------------------------------------------ */

static baton_err put_holding(store *s, const char *name, const table_holding_view *h, char *err, size_t cap)
{
	char since[32], until[32];

	bind_text(s, ST_INS_HOLD, 1, name);
	bind_text(s, ST_INS_HOLD, 2, wire_mode_name(h->mode));
	bind_text(s, ST_INS_HOLD, 3, h->node);
	bind_text(s, ST_INS_HOLD, 4, h->id);
	bind_int(s, ST_INS_HOLD, 5, (int64_t)h->token);
	bind_int(s, ST_INS_HOLD, 6, h->lease_ms);
	bind_time(s, ST_INS_HOLD, 7, h->since_ms, since, sizeof since);
	bind_time(s, ST_INS_HOLD, 8, h->lease_until_ms, until, sizeof until);
	bind_int(s, ST_INS_HOLD, 9, h->since_ms);
	bind_int(s, ST_INS_HOLD, 10, h->lease_until_ms);
	bind_text(s, ST_INS_HOLD, 11, h->meta);
	return sto_run(s, ST_INS_HOLD, "writing a holding", name, err, cap);
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
		bind_text(s, ST_INS_WAIT, 9, wire_mode_name(w->mode));
		bind_int(s, ST_INS_WAIT, 10, w->max_failures);
		e = sto_run(s, ST_INS_WAIT, "writing a waiter", v->name, err, cap);
	}
	return e;
}

/* The aliases of node's holding or wait of resource name, in their order. */
static baton_err put_aliases(store *s, const char *name, const char *node, const char *const *al, size_t n,
                             char *err, size_t cap)
{
	baton_err e = BATON_OK;

	for (size_t i = 0; i < n && e == BATON_OK; i++) {
		bind_text(s, ST_INS_ALIAS, 1, name);
		bind_text(s, ST_INS_ALIAS, 2, node);
		bind_int(s, ST_INS_ALIAS, 3, (int64_t)(i + 1));
		bind_text(s, ST_INS_ALIAS, 4, al[i]);
		e = sto_run(s, ST_INS_ALIAS, "writing an alias", name, err, cap);
	}
	return e;
}

/* Every alias of v's holdings and waiters; their count in *n. */
static baton_err put_all_aliases(store *s, const table_resource_view *v, uint64_t *n, char *err, size_t cap)
{
	baton_err e = BATON_OK;

	*n = 0;
	for (size_t i = 0; i < v->n_holders && e == BATON_OK; i++) {
		const table_holding_view *h = &v->holders[i];
		e = put_aliases(s, v->name, h->node, h->aliases, h->n_aliases, err, cap);
		*n += h->n_aliases;
	}
	for (size_t i = 0; i < v->n_waiting && e == BATON_OK; i++) {
		const table_waiter_view *w = &v->waiting[i];
		e = put_aliases(s, v->name, w->node, w->aliases, w->n_aliases, err, cap);
		*n += w->n_aliases;
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
	return sto_run(s, ST_INS_REM, "writing the remembered success", v->name, err, cap);
}

/* Replaces the rows of resource name by its state in t (none when t has no
 * such resource). Adds the rows inserted to *rows. */
static baton_err put_resource(store *s, table *t, const char *name, uint64_t *rows, char *err, size_t cap)
{
	static const int dels[] = {ST_DEL_HOLD, ST_DEL_WAIT, ST_DEL_REM, ST_DEL_ALIAS, ST_DEL_RES};
	uint64_t n_aliases = 0;
	table_resource_view v;
	baton_err e = BATON_OK;

	for (size_t i = 0; i < sizeof dels / sizeof dels[0] && e == BATON_OK; i++) {
		bind_text(s, dels[i], 1, name);
		e = sto_run(s, dels[i], "deleting the old rows", name, err, cap);
	}
	bool found = false;
	if (e == BATON_OK && (e = table_resource_lookup(t, name, &v, &found)) == BATON_E_NOMEM)
		snprintf(err, cap, "%s: out of memory reading resource %s", s->path, name);
	if (e != BATON_OK || !found)
		return e; /* gone: its rows stay deleted */

	bind_text(s, ST_INS_RES, 1, v.name);
	bind_text(s, ST_INS_RES, 2, wire_mode_name(v.mode));
	if (v.previous.node != NULL) {
		bind_text(s, ST_INS_RES, 3, v.previous.node);
		bind_int(s, ST_INS_RES, 4, (int64_t)v.previous.token);
		bind_text(s, ST_INS_RES, 5, v.previous.error);
		bind_text(s, ST_INS_RES, 6, wire_reason_name(v.previous.reason));
		bind_int(s, ST_INS_RES, 9, v.previous.completed_at_ms);
	}
	bind_int(s, ST_INS_RES, 7, v.permits ? v.permits : 1);
	bind_int(s, ST_INS_RES, 8, v.failures);
	if (v.failures != 0 && v.n_holders == 0 && v.n_waiting == 0)
		bind_int(s, ST_INS_RES, 10, v.forget_at_ms);
	e = sto_run(s, ST_INS_RES, "writing the resource", name, err, cap);
	for (size_t i = 0; i < v.n_holders && e == BATON_OK; i++)
		e = put_holding(s, v.name, &v.holders[i], err, cap);
	if (e == BATON_OK)
		e = put_waiters(s, &v, err, cap);
	if (e == BATON_OK && v.done.node != NULL)
		e = put_remembered(s, &v, err, cap);
	if (e == BATON_OK)
		e = put_all_aliases(s, &v, &n_aliases, err, cap);
	if (e == BATON_OK)
		*rows += 1 + v.n_holders + v.n_waiting + (v.done.node != NULL) + n_aliases;
	return e;
}

/* Binds v, or NULL when it is 0 (the answer has no such field). */
static void bind_int_or_null(store *s, int id, int col, int64_t v)
{
	if (v == 0)
		bind_null(s, id, col);
	else
		bind_int(s, id, col, v);
}

static baton_err put_request(store *s, const table_id_record *x, char *err, size_t cap)
{
	char done_at[32];

	bind_text(s, ST_PUT_REQ, 1, x->node);
	bind_text(s, ST_PUT_REQ, 2, x->id);
	bind_text(s, ST_PUT_REQ, 3, x->resource);
	bind_int(s, ST_PUT_REQ, 4, (int64_t)x->seq);
	bind_text(s, ST_PUT_REQ, 5, wire_status_name(x->status));
	bind_int_or_null(s, ST_PUT_REQ, 6, (int64_t)x->token);
	bind_int_or_null(s, ST_PUT_REQ, 7, x->lease_ms);
	bind_text(s, ST_PUT_REQ, 8, wire_reason_name(x->reason));
	bind_text(s, ST_PUT_REQ, 9, x->status == WIRE_ST_REJECTED ? baton_err_code(x->code) : NULL);
	bind_text(s, ST_PUT_REQ, 10, x->holder);
	if (x->done.node != NULL) {
		bind_text(s, ST_PUT_REQ, 11, x->done.node);
		bind_int(s, ST_PUT_REQ, 12, (int64_t)x->done.token);
		bind_text(s, ST_PUT_REQ, 13, x->done.result);
		bind_time(s, ST_PUT_REQ, 14, x->done.completed_at_ms, done_at, sizeof done_at);
		bind_int(s, ST_PUT_REQ, 15, x->done.completed_at_ms);
	}
	if (x->status == WIRE_ST_FAILED) {
		bind_int(s, ST_PUT_REQ, 16, x->failures);
		bind_text(s, ST_PUT_REQ, 17, x->last.node);
		bind_int(s, ST_PUT_REQ, 18, (int64_t)x->last.token);
		bind_text(s, ST_PUT_REQ, 19, x->last.error);
		bind_text(s, ST_PUT_REQ, 20, wire_reason_name(x->last.reason));
		bind_int(s, ST_PUT_REQ, 21, x->last.completed_at_ms);
	}
	return sto_run(s, ST_PUT_REQ, "writing a remembered request id", x->resource, err, cap);
}

/* Applies the batch's changes to the remembered request ids, in order. Adds
 * the rows inserted to *rows. */
static baton_err put_ids(store *s, const table_ready *r, uint64_t *rows, char *err, size_t cap)
{
	baton_err e = BATON_OK;

	for (size_t i = 0; i < r->n_ids && e == BATON_OK; i++) {
		const table_id_change *c = &r->ids[i];

		switch (c->kind) {
		case TABLE_ID_PUT:
			e = put_request(s, &c->rec, err, cap);
			*rows += e == BATON_OK;
			break;
		case TABLE_ID_DEL:
			bind_text(s, ST_DEL_REQ, 1, c->rec.node);
			bind_text(s, ST_DEL_REQ, 2, c->rec.id);
			e = sto_run(s, ST_DEL_REQ, "forgetting a request id", NULL, err, cap);
			break;
		case TABLE_ID_DEL_NODE:
			bind_text(s, ST_DEL_REQ_NODE, 1, c->rec.node);
			e = sto_run(s, ST_DEL_REQ_NODE, "forgetting the request ids of a node", NULL, err,
			            cap);
			break;
		}
	}
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
		return sto_say(err, cap, BATON_E_INVAL, "store_commit: NULL argument");
	if (r->n_dirty == 0 && r->n_ids == 0 && r->next_token <= s->stored_token &&
	    r->next_id_seq <= s->stored_id_seq)
		return BATON_OK;
	if ((e = store_check_file(s, err, cap)) != BATON_OK) {
		s->stats.failures++;
		return e;
	}
	t0 = now_us();
	e = sto_run(s, ST_BEGIN, "starting a transaction", NULL, err, cap);
	for (size_t i = 0; i < r->n_dirty && e == BATON_OK; i++)
		e = put_resource(s, t, r->dirty[i], &rows, err, cap);
	if (e == BATON_OK)
		e = put_ids(s, r, &rows, err, cap);
	if (e == BATON_OK) {
		bind_int(s, ST_SET_TOKEN, 1, (int64_t)r->next_token);
		e = sto_run(s, ST_SET_TOKEN, "writing the token counter", NULL, err, cap);
	}
	if (e == BATON_OK && r->next_id_seq > s->stored_id_seq) {
		bind_int(s, ST_SET_ID_SEQ, 1, (int64_t)r->next_id_seq);
		e = sto_run(s, ST_SET_ID_SEQ, "writing the request id counter", NULL, err, cap);
	}
	if (e == BATON_OK)
		e = sto_run(s, ST_COMMIT, "committing", NULL, err, cap);

	if (e != BATON_OK) {
		/* Some errors (disk full, I/O) end the transaction themselves. */
		if (!sqlite3_get_autocommit(s->db))
			sto_run(s, ST_ROLLBACK, "rolling back", NULL, NULL, 0);
		s->stats.failures++;
	} else {
		if (r->next_token > s->stored_token)
			s->stored_token = r->next_token;
		if (r->next_id_seq > s->stored_id_seq)
			s->stored_id_seq = r->next_id_seq;
		s->stats.commits++;
		s->stats.rows_written += rows;
		s->stats.last_token = s->stored_token;
		s->stats.last_commit_us = now_us() - t0;
	}
	return e;
}
