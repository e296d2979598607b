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
typedef struct slot slot;
typedef struct capb capb;

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

/* The last holding that ended without success; shared (refs) by its
 * resource and by the failed answers that name it. */
typedef struct prev_rec {
	tnode *node; /* first word */
	uint32_t refs;
	uint8_t reason;
	uint8_t has_error;
	uint64_t token;
	int64_t completed_at;
	char error[];
} prev_rec;

enum rec_state {
	REC_HOLD = 1, /* primary record of a holding: u.s */
	REC_WAIT,     /* primary record of a queued acquire: u.s */
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
		tnode *holder;   /* DONE busy: the holder named (ref) */
		done_rec *done;  /* DONE done: the outcome (ref) */
		prev_rec *last;  /* DONE failed: the last failure (ref) */
		const char *msg; /* DONE rejected: the static message */
		slot *s;         /* HOLD, WAIT */
		rec *alias;      /* ALIAS: next alias */
	} u;
	uint32_t lease_ms; /* DONE renewed; failed: the streak */
	uint8_t state, status, reason;
	int8_t code;
	char id[];
};

/* A holding (in its resource's holdings, token order) or a queued acquire
 * (in its resource's FIFO). A waiter's turn relinks the same slot from the
 * queue to the holdings, so a grant never allocates. */
struct slot {
	slot *prev, *next;   /* the resource's holdings or queue */
	slot *cprev, *cnext; /* waiter with a cap: its cap bucket, FIFO */
	rec *rec;            /* REC_HOLD / REC_WAIT primary */
	rec *alias;          /* first alias */
	heap_item tmr;       /* holding: TMR_LEASE; waiter: TMR_WAIT when wait_ms was given */
	uint64_t token;      /* holding */
	int64_t since;       /* holding */
	uint32_t lease_ms;
	uint16_t cap; /* waiter: max_failures, 0: none */
	uint8_t mode; /* wire_mode */
	char *meta;   /* blob or NULL */
};

/* The waiters of one resource with one max_failures, in queue order: when
 * the streak reaches cap, exactly this bucket is answered failed, so no
 * queue is scanned. In t->caps, keyed by (resource, cap). */
struct capb {
	res *r;
	slot *head, *tail;
	uint32_t cap, hash;
};

enum tmr_kind { TMR_LEASE = 1, TMR_FORGET, TMR_WAIT };

/* RES_QUIET: touched only for the store (a waiter's new alias, which no
 * snapshot shows): in the batch's dirty set without a snapshot effect. */
enum res_flag { RES_IN_MAP = 1, RES_TOUCHED = 2, RES_QUIET = 4 };

/* A lock. Held iff n_holds; remembered iff done or failures; idle iff none
 * of those and no waiters. mode is WIRE_MODE_ONCE for a once resource and
 * WIRE_MODE_MUTEX for a lock (mutex and shared); hmode is the mode of every
 * current holding. */
struct res {
	slot *h_head; /* first word */
	slot *h_tail;
	slot *wq_head, *wq_tail;
	done_rec *done;
	prev_rec *prev;
	heap_item tmr; /* TMR_FORGET: a remembered success, or a streak with nothing held or queued */
	uint32_t n_holds, n_waiting, refs, hash;
	uint32_t failures; /* once: the failure streak */
	uint16_t permits;  /* lock: of every holding and waiter (1 when idle) */
	uint8_t mode, hmode, flags, name_len;
	char name[];
};

struct table {
	table_config cfg;
	uint64_t next_token;
	hmap resources, nodes, recs;
	hmap live; /* primary HOLD/WAIT records by (node, resource) */
	hmap caps; /* capb by (resource, cap) */
	heap deadlines;
	uint64_t n_requests, n_grants, n_handoffs, n_rejections;
	uint64_t n_held, n_waiters, n_remembered;
	/* the open batch */
	table_effect *fx;
	size_t n_fx, cap_fx;
	res **touched;
	const char **dirty;
	size_t n_touched, cap_touched;
	/* snapshot lists: waiting names, queue and holders, names_bound entries
	 * each at most (one per holding or waiter of a touched resource) */
	const char **names;
	wire_queued *sq;
	wire_holding *sh;
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
	slot *spare;      /* one freed slot kept for the next acquire: a lock cycle allocates none */
	/* scratch for views (one for lookups, one for foreach) */
	struct view_scratch {
		table_waiter_view *w;
		const char **names;
		wire_queued *q;
		size_t cap_w;
		table_holding_view *h;
		wire_holding *wh;
		size_t cap_h;
		const char **aliases; /* every slot's alias ids, one run per slot */
		size_t cap_a;
	} vs, vs_each;
};

static inline int res_idle(const res *r)
{
	return r->n_holds == 0 && r->wq_head == NULL && r->done == NULL && r->failures == 0;
}

/* Whether a new holding in mode fits beside r's current holdings. */
static inline int res_fits(const res *r, unsigned mode)
{
	if (r->n_holds == 0)
		return 1;
	if (mode == WIRE_MODE_SHARED)
		return r->hmode == WIRE_MODE_SHARED;
	if (mode == WIRE_MODE_MUTEX)
		return r->hmode == WIRE_MODE_MUTEX && r->n_holds < r->permits;
	return 0;
}

/* The stored answer of a finished request. */
typedef struct answer_rec {
	wire_status status;
	uint64_t token;
	uint32_t lease_ms;
	wire_reason reason;
	baton_err code;
	const char *msg; /* rejected: a static message (NULL: the code's) */
	tnode *holder;   /* busy */
	done_rec *done;  /* done */
	prev_rec *last;  /* failed (lease_ms carries the streak) */
} answer_rec;

/* How a holding ends; strings live until table_advance(). */
typedef struct ending {
	wire_reason reason;
	bool success;
	const char *error, *result;
	int64_t forget_at;        /* once success */
	done_rec *done;           /* preallocated when once success */
	prev_rec *prev;           /* preallocated when not success */
	slot *h;                  /* the holding that ends */
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
void tbl_touch_quiet(table *t, res *r);
res *tbl_res_alloc(const char *name);
void tbl_prev_drop(table *t, res *r);
void tbl_prev_unref(table *t, prev_rec *p);
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
uint32_t tbl_live_hash(const tnode *n, const res *r);
rec *tbl_live_find(const table *t, const tnode *n, const res *r);
slot *tbl_wait_find(const table *t, const tnode *n, const res *r);
slot *tbl_hold_find(const table *t, const tnode *n, const res *r);
void tbl_live_add(table *t, rec *rc);
capb *tbl_cap_find(const table *t, const res *r, uint32_t cap);
capb *tbl_cap_alloc(const res *r, uint32_t cap);
void tbl_live_attach(table *t, rec *rc, tnode *n, res *r, slot *s, int state);
void tbl_holding_link(table *t, res *r, slot *h, uint64_t token, int64_t since, int64_t until);
void tbl_waiter_link(table *t, res *r, tnode *n, rec *rc, slot *w, capb *nb, int64_t wait_until);
void tbl_waiter_unlink(table *t, slot *w);
void tbl_waiter_unlink_free(table *t, slot *w);
slot *tbl_slot_new(table *t);
void tbl_slot_free(table *t, slot *s);
void tbl_settle(table *t, res *r);

/* table_hold.c: none of these can fail (room is reserved by the caller). */
wire_answer *tbl_answer(table *t, const tnode *n, const res *r, const char *id, wire_status st);
void tbl_fill_prev(const prev_rec *p, wire_previous *out);
void tbl_fill_done(const done_rec *d, wire_done *out);
const char *tbl_holder_name(const res *r);
void tbl_answer_granted(table *t, const tnode *n, const res *r, const slot *h, const char *id);
void tbl_answer_failed(table *t, const tnode *n, const res *r, const char *id, uint32_t failures,
                       const prev_rec *last);
void tbl_answer_queued(table *t, const tnode *n, const res *r, const char *id, uint32_t pos);
uint32_t tbl_queue_position(const res *r, const slot *w);
void tbl_answer_rejected(table *t, const tnode *n, const res *r, const char *id, baton_err code,
                         const char *msg);
void tbl_answer_repeat(table *t, const rec *rc);
void tbl_start_holding(table *t, res *r, int64_t now, slot *h);
void tbl_grant_fitting(table *t, res *r, int64_t now);
void tbl_end_holding(table *t, res *r, int64_t now, const ending *e);

/* table_fx.c */
baton_err tbl_reserve(table *t, size_t fx, size_t touch, size_t names);
wire_mode tbl_snapshot_mode(const res *r);
table_effect *tbl_fx(table *t, table_fx_kind kind);
table_id_change *tbl_id_change(table *t, table_id_kind kind, const tnode *n);
void tbl_batch_free(table *t);
void tbl_free_grave(table *t);

#endif
