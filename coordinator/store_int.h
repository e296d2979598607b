/*
 * store_int.h - private structures of the store, shared by store.c (open,
 * schema and migrations), store_commit.c (writing a batch) and store_load.c
 * (reading the file back into a table). Not a public header: nothing outside coordinator/store*.c
 * includes it.
 *
 * The sto_ functions are the store's private helpers; they follow store.h's
 * error contract (a baton_err, and a one-line message into err when err is
 * not NULL and cap > 0).
 */
#ifndef BATON_STORE_INT_H
#define BATON_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The prepared statements, indexes into struct store's st[]; their SQL is
 * stmt_sql in store.c. */
enum {
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_DEL_HOLD,
	ST_DEL_WAIT,
	ST_DEL_REM,
	ST_DEL_ALIAS,
	ST_DEL_RES,
	ST_INS_RES,
	ST_INS_HOLD,
	ST_INS_WAIT,
	ST_INS_REM,
	ST_INS_ALIAS,
	ST_SET_TOKEN,
	ST_GET_TOKEN,
	ST_SET_ID_SEQ,
	ST_GET_ID_SEQ,
	ST_SEL_RES,
	ST_SEL_HOLD,
	ST_SEL_WAIT,
	ST_SEL_REM,
	ST_SEL_ALIAS,
	ST_PUT_REQ,
	ST_DEL_REQ,
	ST_DEL_REQ_NODE,
	ST_SEL_REQ,
	ST_COUNT
};

/* Where one waiter's strings sit in the load buffer (SIZE_MAX: NULL). */
typedef struct waiter_off {
	size_t node, id, meta;
	uint32_t lease_ms, max_failures;
	int64_t wait_until_ms;
	wire_mode mode;
} waiter_off;

/* Where one alias's strings sit in the load buffer. */
typedef struct alias_off {
	size_t node, id;
} alias_off;

/* A holding (slot < n_holders) or waiter of the resource being loaded, by
 * node: sorted, to hand each node's aliases to its request. */
typedef struct slot_ref {
	const char *node;
	size_t slot;
} slot_ref;

/* Where one holding's strings sit in the load buffer. */
typedef struct holding_off {
	size_t node, id, meta;
	table_holding_view v; /* the rest, strings not yet pointed */
} holding_off;

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
	int bind_rc; /* first failed sqlite3_bind_* since the last step */
	uint64_t stored_token;
	uint64_t stored_id_seq;
	store_stats stats;
	/* the file and its WAL as opened (st_dev, st_ino; wal_ino 0: no WAL yet) */
	uint64_t dev, ino, wal_dev, wal_ino;
	/* load scratch, reused from resource to resource */
	waiter_off *wo;
	size_t wo_cap;
	table_waiter_view *wv;
	size_t wv_cap;
	holding_off *ho;
	size_t ho_cap;
	table_holding_view *hv;
	size_t hv_cap;
	alias_off *ao;
	size_t ao_cap;
	const char **av; /* the aliases' ids, node by node */
	size_t av_cap;
	slot_ref *sr;
	size_t sr_cap;
	char *buf;
	size_t buf_len, buf_cap;
};

/* store.c */
baton_err sto_say(char *err, size_t cap, baton_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *sto_advice(baton_err e);
baton_err sto_sql_fail(store *s, int rc, const char *what, const char *resource, char *err, size_t cap);
baton_err sto_run(store *s, int id, const char *what, const char *resource, char *err, size_t cap);
baton_err sto_migrate(store *s, int64_t from, char *err, size_t cap);

/* store_load.c */
baton_err sto_read_token(store *s, char *err, size_t cap);
baton_err sto_read_id_seq(store *s, char *err, size_t cap);

#endif
