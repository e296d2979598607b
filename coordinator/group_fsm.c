/*
 * group_fsm.c - the libraft FSM adaptor (group_fsm.h).
 *
 * Owns the failure flag and the queue of deferred entries (copies). Every
 * buffer libraft hands in is borrowed for the call, except a restored
 * snapshot's, which becomes ours and is freed here with raft_free (libraft
 * 0.15 src/snapshot.c: "ownership has been transferred to the fsm").
 */
#include "group_fsm.h"

#include <stdlib.h>
#include <string.h>

typedef struct group_fsm_pending {
	struct group_fsm_pending *next;
	uint64_t index;
	size_t len;
	unsigned char data[];
} group_fsm_pending;

int group_raft_code(baton_err e)
{
	switch (e) {
	case BATON_OK:
		return 0;
	case BATON_E_NOMEM:
		return RAFT_NOMEM;
	case BATON_E_STORE_CORRUPT:
	case BATON_E_STORE_TOO_NEW:
		return RAFT_CORRUPT;
	case BATON_E_INVAL:
		return RAFT_INVALID;
	default:
		return RAFT_IOERR;
	}
}

static void fail(group_fsm *g, baton_err why, uint64_t index)
{
	if (g->failed)
		return;
	g->failed = true;
	g->why = why;
	g->failed_at = index;
}

static baton_err apply_now(group_fsm *g, uint64_t index, const void *buf, size_t len)
{
	glog_entry e;
	baton_err rc = glog_decode(buf, len, &e);
	if (rc == BATON_OK) {
		rc = g->cb.apply(g->cb.ctx, index, &e);
		glog_entry_deinit(&e);
	}
	if (rc != BATON_OK)
		fail(g, rc, index);
	return rc;
}

static baton_err enqueue(group_fsm *g, uint64_t index, const void *buf, size_t len)
{
	group_fsm_pending *p = malloc(sizeof *p + len);
	if (p == NULL) {
		fail(g, BATON_E_NOMEM, index);
		return BATON_E_NOMEM;
	}
	p->next = NULL;
	p->index = index;
	p->len = len;
	if (len > 0)
		memcpy(p->data, buf, len);
	*g->tail = p;
	g->tail = &p->next;
	return BATON_OK;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	group_fsm *g = fsm->data;
	uint64_t index = g->raft != NULL ? (uint64_t)raft_last_applied(g->raft) + 1 : 0;
	*result = NULL;
	if (g->failed)
		return group_raft_code(g->why);
	baton_err rc =
	    g->defer ? enqueue(g, index, buf->base, buf->len) : apply_now(g, index, buf->base, buf->len);
	return group_raft_code(rc);
}

void group_fsm_drain(group_fsm *g)
{
	while (g->head != NULL) {
		group_fsm_pending *p = g->head;
		g->head = p->next;
		if (g->head == NULL)
			g->tail = &g->head;
		if (!g->failed)
			apply_now(g, p->index, p->data, p->len);
		free(p);
	}
}

bool group_fsm_has_pending(const group_fsm *g)
{
	return g->head != NULL;
}

void group_fsm_deinit(group_fsm *g)
{
	bool failed = g->failed;
	g->failed = true; /* drop, do not apply */
	group_fsm_drain(g);
	g->failed = failed;
}

void group_fsm_defer(group_fsm *g)
{
	g->defer = true;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	group_fsm *g = fsm->data;
	group_fsm_drain(g); /* the snapshot holds every entry libraft counts applied */
	if (g->failed)
		return group_raft_code(g->why);
	struct raft_buffer *b = raft_malloc(sizeof *b);
	if (b == NULL)
		return RAFT_NOMEM;
	void *p = NULL;
	size_t len = 0;
	baton_err rc = g->cb.snapshot(g->cb.ctx, &p, &len);
	if (rc != BATON_OK) {
		raft_free(b);
		return group_raft_code(rc); /* a snapshot not taken is retried later: no harm */
	}
	b->base = p;
	b->len = len;
	*bufs = b;
	*n_bufs = 1;
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	group_fsm *g = fsm->data;
	group_fsm_drain(g); /* what was committed before, then the snapshot replaces it */
	if (g->failed)
		return group_raft_code(g->why);
	baton_err rc = g->cb.restore(g->cb.ctx, buf->base, buf->len);
	if (rc != BATON_OK) {
		fail(g, rc, 0);
		return group_raft_code(rc);
	}
	raft_free(buf->base);
	return 0;
}

void group_fsm_init(group_fsm *g, const group_callbacks *cb)
{
	memset(g, 0, sizeof *g);
	g->cb = *cb;
	g->tail = &g->head;
	g->fsm.version = 1;
	g->fsm.data = g;
	g->fsm.apply = fsm_apply;
	g->fsm.snapshot = fsm_snapshot;
	g->fsm.restore = fsm_restore;
}

struct raft_fsm *group_fsm_raft(group_fsm *g)
{
	return &g->fsm;
}
