/*
 * table_int.h - private structures of the lock table, shared by table.c
 * (objects and lifetime), table_hold.c (answers, grants, the end of a
 * holding), table_req.c (request steps), table_time.c (presence and
 * deadlines), table_fx.c (batches) and table_view.c (views, restore). Not a
 * public header: nothing outside core/table*.c includes it.
 *
 * Lifetime rule that makes effects safe: any object an effect may point into
 * (node, resource, record, done/previous record, string blob) is never freed
 * during a batch; when it dies it is "buried" (its first word becomes the
 * graveyard link) and freed by table_advance().
 */
#ifndef BATON_TABLE_INT_H
#define BATON_TABLE_INT_H

#include "heap.h"
#include "hmap.h"
#include "table.h"

typedef struct tnode tnode;
typedef struct res res;
typedef struct rec rec;
typedef struct waiter waiter;

/* An interned node id, refcounted by everything that names it. */
struct tnode {
	uint32_t refs;
	uint32_t n_lru;
	rec *live;                /* its holding and waiting primary records */
	rec *lru_head, *lru_tail; /* finished records, newest first */
	uint32_t hash;
	uint8_t online;
	uint8_t name_len;
	char name[];
};

/* A remembered success (once mode); shared by the resource and done answers. */
typedef struct done_rec {
	tnode *node; /* first word */
	uint32_t refs;
	uint8_t has_result;
	uint64_t token;
	int64_t completed_at;
	char result[];
} done_rec;

/* The last holding that ended without success. Owned by its resource. */
typedef struct prev_rec {
	tnode *node; /* first word */
	uint64_t token;
	uint8_t reason;
	uint8_t has_error;
	char error[];
} prev_rec;

enum rec_state {
	REC_HOLD = 1, /* primary record of a holding: r->hrec == this */
	REC_WAIT,     /* primary record of a queued acquire: u.w */
	REC_ALIAS,    /* a later acquire id of the same holding/wait; u.alias = next */
	REC_DONE,     /* finished: the stored answer below */
};

/* What a node's request id is remembered as. */
struct rec {
	res *r; /* the resource it named (refcounted); first word */
	tnode *node;
	rec *prev, *next; /* node's live list (HOLD/WAIT) or LRU (DONE) */
	uint64_t token;   /* DONE: answer token */
	union {
		tnode *holder;  /* DONE busy: the holder named (ref) */
		done_rec *done; /* DONE done: the outcome (ref) */
		waiter *w;      /* WAIT */
		rec *alias;     /* HOLD: first alias; ALIAS: next alias */
	} u;
	uint32_t lease_ms; /* DONE granted/renewed */
	uint8_t state, status, reason;
	int8_t code;
	char id[];
};

/* A queued acquire. */
struct waiter {
	waiter *prev, *next; /* the resource's FIFO */
	rec *rec;            /* REC_WAIT primary */
	rec *alias;          /* first alias */
	heap_item tmr;       /* TMR_WAIT, when wait_ms was given */
	uint32_t lease_ms;
	char *meta; /* blob or NULL */
};

enum tmr_kind { TMR_LEASE = 1, TMR_FORGET, TMR_WAIT };

enum res_flag { RES_IN_MAP = 1, RES_TOUCHED = 2 };

/* A lock. Held iff hrec; remembered iff done; idle iff neither nor waiters. */
struct res {
	rec *hrec; /* first word */
	waiter *wq_head, *wq_tail;
	done_rec *done;
	prev_rec *prev;
	char *meta; /* holder's meta blob or NULL */
	uint64_t token;
	int64_t since;
	heap_item tmr; /* TMR_LEASE while held (when = lease_until), TMR_FORGET while done */
	uint32_t lease_ms, n_waiting, refs, hash;
	uint8_t mode, flags, name_len;
	char name[];
};

struct table {
	table_config cfg;
	uint64_t next_token;
	hmap resources, nodes, recs, waits;
	heap deadlines;
	uint64_t n_requests, n_grants, n_handoffs, n_rejections;
	uint64_t n_held, n_waiters, n_remembered;
	/* the open batch */
	table_effect *fx;
	size_t n_fx, cap_fx;
	res **touched;
	const char **dirty;
	size_t n_touched, cap_touched;
	const char **names; /* snapshot waiting lists */
	size_t names_bound, cap_names;
	void *grave;
	int closed; /* table_ready_get called, table_advance not yet */
	/* the batch's changes to the finished ids (table_ready.ids); room for
	 * two per record a step may finish (its PUT and one eviction) is
	 * reserved with the effects: see tbl_reserve() */
	table_id_change *idc;
	size_t n_idc, cap_idc;
	uint64_t id_seq;  /* the seq the next finished record gets */
	size_t n_aliases; /* live REC_ALIAS records, for that bound */
	/* scratch for views */
	table_waiter_view *vw, *vw_each;
	const char **vn, **vn_each;
	size_t cap_vw, cap_vw_each;
};

static inline int res_idle(const res *r)
{
	return r->hrec == NULL && r->wq_head == NULL && r->done == NULL;
}

/* The stored answer of a finished request. */
typedef struct answer_rec {
	wire_status status;
	uint64_t token;
	uint32_t lease_ms;
	wire_reason reason;
	baton_err code;
	tnode *holder;  /* busy */
	done_rec *done; /* done */
} answer_rec;

/* How a holding ends; strings live until table_advance(). */
typedef struct ending {
	wire_reason reason;
	bool success;
	const char *error, *result;
	int64_t forget_at;        /* once success */
	done_rec *done;           /* preallocated when once success */
	prev_rec *prev;           /* preallocated when not success */
	wire_status ender_status; /* RELEASED, CANCELLED or REVOKED */
	const char *ender_id;     /* NULL: the holding's acquire id */
} ending;

/* table.c */
void tbl_bury(table *t, void *p);
char *tbl_blob(const char *s);
void tbl_blob_bury(table *t, char *s);
void tbl_blob_free(char *s);
const char *tbl_tmp_str(table *t, const char *s, int *fail);
tnode *tbl_node_get(table *t, const char *name, int create);
void tbl_node_unref(table *t, tnode *n);
res *tbl_res_find(const table *t, const char *name);
uint32_t tbl_res_hash(const char *name);
void tbl_res_unref(table *t, res *r);
void tbl_res_free(table *t, res *r);
void tbl_done_unref(table *t, done_rec *d);
void tbl_touch(table *t, res *r);
res *tbl_res_alloc(const char *name);
void tbl_prev_drop(table *t, res *r);
done_rec *tbl_done_alloc(const char *result);
prev_rec *tbl_prev_alloc(const char *error);
void tbl_forget_done(table *t, res *r);
rec *tbl_rec_find(const table *t, const tnode *n, const char *id);
rec *tbl_rec_alloc(const char *id);
void tbl_rec_attach(table *t, rec *rc, tnode *n, res *r);
void tbl_list_push(rec **head, rec *rc);
void tbl_lru_unlink(tnode *n, rec *rc);
void tbl_rec_drop_answer(table *t, rec *rc);
void tbl_rec_forget(table *t, rec *rc, int log);
void tbl_rec_finish(table *t, rec *rc, const answer_rec *a, uint64_t seq, int log);
void tbl_rec_finish_one(table *t, rec *rc, const answer_rec *a);
void tbl_rec_finish_chain(table *t, rec *rc, rec *alias, const answer_rec *a);
uint32_t tbl_wait_hash(const tnode *n, const res *r);
waiter *tbl_wait_find(const table *t, const tnode *n, const res *r);
void tbl_waiter_link(table *t, res *r, tnode *n, rec *rc, waiter *w, uint32_t lease_ms, char *meta,
                     int64_t wait_until);
void tbl_waiter_unlink_free(table *t, waiter *w);

/* table_hold.c: none of these can fail (room is reserved by the caller). */
wire_answer *tbl_answer(table *t, const tnode *n, const res *r, const char *id, wire_status st);
void tbl_fill_prev(const prev_rec *p, wire_previous *out);
void tbl_fill_done(const done_rec *d, wire_done *out);
const char *tbl_holder_name(const res *r);
void tbl_answer_granted(table *t, const tnode *n, const res *r, const char *id);
void tbl_answer_queued(table *t, const tnode *n, const res *r, const char *id, uint32_t pos);
uint32_t tbl_queue_position(const res *r, const waiter *w);
void tbl_answer_rejected(table *t, const tnode *n, const res *r, const char *id, baton_err code);
void tbl_answer_repeat(table *t, const rec *rc);
void tbl_start_holding(table *t, res *r, int64_t now, rec *rc, uint32_t lease_ms, char *meta);
void tbl_end_holding(table *t, res *r, int64_t now, const ending *e);

/* table_fx.c */
baton_err tbl_reserve(table *t, size_t fx, size_t touch, size_t names);
table_effect *tbl_fx(table *t, table_fx_kind kind);
table_id_change *tbl_id_change(table *t, table_id_kind kind, const tnode *n);
void tbl_batch_free(table *t);
void tbl_free_grave(table *t);

#endif
