/*
 * group.c - one member of the replicated group on libraft and libuv
 * (group.h).
 *
 * Owns the libuv loop, libraft's disk and TCP I/O and the raft instance.
 * Never blocks: the daemon's loop polls group_fd() and calls group_run().
 * Never interprets an entry (group_fsm.c decodes, the daemon applies).
 * libraft behaviours relied on are pinned in tests/unit/test_group.c.
 */
#include "group.h"
#include "errmsg.h"

#include <errno.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

struct group {
	uv_loop_t loop;
	struct raft_uv_transport tr;
	struct raft_io io;
	struct raft raft;
	group_fsm fsm;
	bool loop_ok, tr_ok, io_ok, raft_ok, closed;
	struct raft_transfer transfer; /* see group_transfer */
	bool transfer_busy;
	void (*transfer_done)(void *ctx);
	void *transfer_ctx;
	gm_change change; /* see group_change */
	char address[GROUP_ADDR_MAX + 1];
};

/* ---- life -------------------------------------------------------------- */

static baton_err make_dir(const char *dir, char *err, size_t cap)
{
	struct stat st;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errmsg_say(err, cap, BATON_E_IO, "raft directory %s: cannot create it: %s", dir,
		                  strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return errmsg_say(err, cap, BATON_E_IO, "raft directory %s: not a directory", dir);
	return BATON_OK;
}

static baton_err raft_fail(group *g, int rv, const char *what, char *err, size_t cap)
{
	const char *msg = g->raft_ok ? raft_errmsg(&g->raft) : g->io.errmsg;
	return errmsg_say(err, cap, rv == RAFT_NOMEM ? BATON_E_NOMEM : BATON_E_IO, "raft: %s: %s (%s)", what,
	                  raft_strerror(rv), msg != NULL && msg[0] ? msg : "no detail");
}

/* Bootstraps a directory with no raft data; one with data refuses
 * (RAFT_CANTBOOTSTRAP, pinned in test_group.c) and is started as it is. */
static baton_err bootstrap(group *g, const group_options *o, char *err, size_t cap)
{
	struct raft_configuration conf;
	raft_configuration_init(&conf);
	int rv = 0;
	for (size_t i = 0; i < o->n_peers && rv == 0; i++)
		rv = raft_configuration_add(&conf, o->peers[i].id, o->peers[i].address, RAFT_VOTER);
	if (rv == 0)
		rv = raft_bootstrap(&g->raft, &conf);
	raft_configuration_close(&conf);
	if (rv != 0 && rv != RAFT_CANTBOOTSTRAP)
		return raft_fail(g, rv, "bootstrapping the group", err, cap);
	return BATON_OK;
}

baton_err group_new(const group_options *o, group **out, char *err, size_t cap)
{
	const group_peer *self = NULL;
	for (size_t i = 0; o != NULL && i < o->n_peers; i++)
		if (o->peers[i].id == o->id)
			self = &o->peers[i];
	if (o == NULL || out == NULL || self == NULL || o->dir == NULL || o->cb.apply == NULL)
		return errmsg_say(err, cap, BATON_E_INVAL, "--member must be one of the ids in --peers");
	baton_err rc = make_dir(o->dir, err, cap);
	if (rc != BATON_OK)
		return rc;
	group *g = calloc(1, sizeof *g);
	if (g == NULL)
		return errmsg_say(err, cap, BATON_E_NOMEM, "out of memory");
	snprintf(g->address, sizeof g->address, "%s", self->address);
	group_fsm_init(&g->fsm, &o->cb);
	group_fsm_defer(&g->fsm); /* applied after libraft's callbacks: see group_run */
	int rv = uv_loop_init(&g->loop);
	if (rv != 0) {
		rc = errmsg_say(err, cap, BATON_E_IO, "libuv: %s", uv_strerror(rv));
		goto fail;
	}
	g->loop_ok = true;
	if ((rv = raft_uv_tcp_init(&g->tr, &g->loop)) != 0) {
		rc = raft_fail(g, rv, "TCP transport", err, cap);
		goto fail;
	}
	g->tr_ok = true;
	if (o->bind != NULL && (rv = raft_uv_tcp_set_bind_address(&g->tr, o->bind)) != 0) {
		rc = errmsg_say(err, cap, BATON_E_INVAL, "--raft-bind %s: not an IPv4 address and port",
		                o->bind);
		goto fail;
	}
	if ((rv = raft_uv_init(&g->io, &g->loop, o->dir, &g->tr)) != 0) {
		rc = raft_fail(g, rv, o->dir, err, cap);
		goto fail;
	}
	g->io_ok = true;
	raft_uv_set_connect_retry_delay(&g->io, 100); /* a restarted peer is found fast */
	if ((rv = raft_init(&g->raft, &g->io, group_fsm_raft(&g->fsm), o->id, g->address)) != 0) {
		rc = raft_fail(g, rv, "init", err, cap);
		goto fail;
	}
	g->raft_ok = true;
	g->fsm.raft = &g->raft;
	raft_set_pre_vote(&g->raft, true);
	raft_set_election_timeout(&g->raft, o->election_timeout_ms);
	raft_set_heartbeat_timeout(&g->raft, o->heartbeat_ms);
	if (o->snapshot_threshold > 0)
		raft_set_snapshot_threshold(&g->raft, o->snapshot_threshold);
	if (!o->join && (rc = bootstrap(g, o, err, cap)) != BATON_OK)
		goto fail;
	if ((rv = raft_start(&g->raft)) != 0) {
		rc = raft_fail(g, rv, "start (loading the snapshot and log; is the port free?)", err, cap);
		goto fail;
	}
	*out = g;
	return BATON_OK;
fail:
	group_free(g);
	return rc;
}

static void on_closed(struct raft *r)
{
	group *g = r->data;
	raft_uv_close(&g->io);
	raft_uv_tcp_close(&g->tr);
	g->io_ok = g->tr_ok = false;
	g->closed = true;
}

void group_free(group *g)
{
	if (g == NULL)
		return;
	if (g->raft_ok) {
		g->raft.data = g;
		raft_close(&g->raft, on_closed);
		while (!g->closed)
			uv_run(&g->loop, UV_RUN_ONCE);
	}
	if (g->io_ok)
		raft_uv_close(&g->io);
	if (g->tr_ok)
		raft_uv_tcp_close(&g->tr);
	if (g->loop_ok) {
		uv_run(&g->loop, UV_RUN_DEFAULT); /* let every handle finish closing */
		uv_loop_close(&g->loop);
	}
	group_fsm_deinit(&g->fsm);
	free(g);
}

/* ---- running ------------------------------------------------------------- */

int group_fd(group *g)
{
	return uv_backend_fd(&g->loop);
}

int group_timeout_ms(group *g)
{
	return group_fsm_has_pending(&g->fsm) ? 0 : uv_backend_timeout(&g->loop); /* raft_start's */
}

/* libraft hands committed entries over inside its I/O callbacks; a
 * follower does so just before it acknowledges an append. The adaptor only
 * queues them there (group_fsm.h), so the acknowledgement leaves at once,
 * and they are applied here, after the callbacks. */
void group_run(group *g)
{
	uv_run(&g->loop, UV_RUN_NOWAIT);
	group_fsm_drain(&g->fsm);
}

const char *group_role_name(group_role r)
{
	static const char *const names[] = {"unavailable", "follower", "candidate", "leader"};
	return (unsigned)r <= GROUP_LEADER ? names[r] : "?";
}

void group_info_get(group *g, group_info *out)
{
	raft_id id = 0;
	const char *addr = NULL;
	raft_leader(&g->raft, &id, &addr);
	int st = raft_state(&g->raft);
	*out = (group_info){
	    .role = st == RAFT_LEADER      ? GROUP_LEADER
	            : st == RAFT_CANDIDATE ? GROUP_CANDIDATE
	            : st == RAFT_FOLLOWER  ? GROUP_FOLLOWER
	                                   : GROUP_UNAVAILABLE,
	    .term = g->raft.current_term,
	    .leader = id,
	    .applied = raft_last_applied(&g->raft),
	    .commit = g->raft.commit_index,
	    .last_index = raft_last_index(&g->raft),
	    .failed = g->fsm.failed,
	    .why = g->fsm.why,
	};
}

static void applied_cb(struct raft_apply *req, int status, void *result)
{
	(void)status, (void)result;
	free(req);
}

baton_err group_propose(group *g, const glog_entry *e)
{
	if (raft_state(&g->raft) != RAFT_LEADER)
		return BATON_E_BUSY;
	void *buf = NULL;
	size_t len = 0;
	baton_err rc = glog_encode(e, raft_malloc, &buf, &len);
	if (rc != BATON_OK)
		return rc;
	struct raft_apply *req = malloc(sizeof *req);
	struct raft_buffer b = {.base = buf, .len = len};
	int rv = req != NULL ? raft_apply(&g->raft, req, &b, 1, applied_cb) : RAFT_NOMEM;
	if (rv != 0) {
		raft_free(buf);
		free(req);
		return rv == RAFT_NOMEM ? BATON_E_NOMEM : BATON_E_BUSY;
	}
	return BATON_OK;
}

typedef struct barrier_req {
	struct raft_barrier req;
	void (*done)(void *ctx, bool ok);
	void *ctx;
} barrier_req;

static void barrier_cb(struct raft_barrier *req, int status)
{
	barrier_req *b = req->data;
	b->done(b->ctx, status == 0);
	free(b);
}

baton_err group_barrier(group *g, void (*done)(void *ctx, bool ok), void *ctx)
{
	if (raft_state(&g->raft) != RAFT_LEADER)
		return BATON_E_BUSY;
	barrier_req *b = calloc(1, sizeof *b);
	if (b == NULL)
		return BATON_E_NOMEM;
	b->req.data = b;
	b->done = done;
	b->ctx = ctx;
	int rv = raft_barrier(&g->raft, &b->req, barrier_cb);
	if (rv != 0) {
		free(b);
		return rv == RAFT_NOMEM ? BATON_E_NOMEM : BATON_E_BUSY;
	}
	return BATON_OK;
}

/* The transfer request lives in the group until raft is closed: libraft
 * 0.15 sends TimeoutNow with a raft_io_send embedded in it and the send may
 * complete after the transfer's callback (src/membership.c,
 * membershipLeadershipTransferStart): freeing it in the callback made a
 * member jump to a garbage address when it stopped (seen once in bench/run). */
static void transfer_cb(struct raft_transfer *req)
{
	group *g = req->data;
	g->transfer_busy = false;
	if (g->transfer_done != NULL)
		g->transfer_done(g->transfer_ctx);
}

baton_err group_transfer(group *g, void (*done)(void *ctx), void *ctx)
{
	if (raft_state(&g->raft) != RAFT_LEADER || g->transfer_busy)
		return BATON_E_BUSY;
	memset(&g->transfer, 0, sizeof g->transfer);
	g->transfer.data = g;
	g->transfer_done = done;
	g->transfer_ctx = ctx;
	int rv = raft_transfer(&g->raft, &g->transfer, 0, transfer_cb);
	if (rv != 0)
		return rv == RAFT_NOMEM ? BATON_E_NOMEM : BATON_E_BUSY;
	g->transfer_busy = true;
	return BATON_OK;
}

/* ---- membership ------------------------------------------------------------ */

gm_result group_change(group *g, gm_op op, uint64_t id, const char *address, gm_done_fn done, void *ctx,
                       char *why, size_t cap)
{
	return gm_start(&g->change, &g->raft, op, id, address, done, ctx, why, cap);
}

size_t group_members_get(group *g, gm_member *out, size_t cap)
{
	return gm_members(&g->raft, out, cap);
}

uint64_t group_conf_index(group *g)
{
	raft_index u = g->raft.configuration_uncommitted_index;
	return u != 0 ? u : g->raft.configuration_index;
}
