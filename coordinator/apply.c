/*
 * apply.c - the coordinator's one apply path (apply.h): an entry's messages
 * decoded and stepped into the lock table, time ticked, the batch committed
 * to the store, its effects handed to the daemon.
 *
 * Owns the table and the state kept beside it in a group (the last `now`,
 * the serving leader). Must stay deterministic: the same entries applied to
 * the same state give the same table, the same store and the same effects
 * on every member, so nothing here reads a clock, a random number or
 * anything that is not in the entry or the state. Logging and the metrics
 * (metrics.c reads the monotonic clock for them) are allowed: they are no
 * state. Nothing is published from here.
 */
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"
#include "store_snap.h"
#include "wire.h"

static void u64s(char *buf, size_t cap, uint64_t v)
{
	snprintf(buf, cap, "%llu", (unsigned long long)v);
}

static table_config to_table_config(const glog_config *g)
{
	table_config c;
	table_config_default(&c);
	c.default_lease_ms = g->default_lease_ms;
	c.max_lease_ms = g->max_lease_ms;
	c.done_ttl_ms = g->done_ttl_ms;
	c.id_memory = g->id_memory;
	return c;
}

static glog_config of_table_config(const table_config *c)
{
	return (glog_config){.default_lease_ms = c->default_lease_ms,
	                     .max_lease_ms = c->max_lease_ms,
	                     .done_ttl_ms = c->done_ttl_ms,
	                     .id_memory = c->id_memory};
}

baton_err apply_init(applier *a, const apply_options *o)
{
	if (a == NULL || o == NULL || o->prefix == NULL)
		return BATON_E_INVAL;
	memset(a, 0, sizeof *a);
	a->prefix = o->prefix;
	a->st = o->st;
	a->stop_on_nomem = o->stop_on_nomem;
	a->effect = o->effect;
	a->offline = o->offline;
	a->ctx = o->ctx;
	a->m = o->m;
	a->publish_before_commit = o->publish_before_commit;
	a->cfg = o->table;
	a->t = table_new(&a->cfg);
	return a->t != NULL ? BATON_OK : BATON_E_NOMEM;
}

void apply_deinit(applier *a)
{
	if (a == NULL)
		return;
	table_free(a->t);
	a->t = NULL;
}

baton_err apply_load(applier *a)
{
	if (a->st == NULL)
		return BATON_OK;
	baton_err rc = store_load(a->st, a->t, a->err, sizeof a->err);
	if (rc == BATON_OK)
		a->pending = true; /* restoring may have evicted ids: commit that */
	return rc;
}

/* ---- messages ------------------------------------------------------------ */

static void bad_topic(applier *a, const glog_msg *m, int64_t now)
{
	a->bad_topics++;
	metrics_bad_topic(a->m);
	if (a->bad_topics_logged_at + 1000 > now && a->bad_topics_logged_at != 0) {
		a->bad_topics_suppressed++;
		return;
	}
	char sup[24];
	u64s(sup, sizeof sup, a->bad_topics_suppressed);
	/* The topic may hold anything: log only a printable, bounded excerpt. */
	char shown[128];
	log_printable(shown, sizeof shown, m->topic, m->topic_len);
	LOG_W("bad_topic: node part is not a valid node id; dropped", "topic", shown, "suppressed", sup);
	a->bad_topics_logged_at = now;
	a->bad_topics_suppressed = 0;
}

static baton_err step_request(applier *a, const char *node, const glog_msg *m, int64_t now)
{
	wire_request req;
	wire_diag diag;
	int64_t arrived = m->arrived_ns != 0 ? m->arrived_ns : a->arrived_ns != 0 ? a->arrived_ns : -1;
	baton_err rc = wire_request_decode(m->payload, m->len, &req, &diag);
	if (rc == BATON_OK) {
		rc = table_step_request(a->t, now, node, &req);
		if (rc == BATON_OK)
			metrics_request(a->m, node, req.id, (int)req.op, arrived);
		wire_request_deinit(&req);
	} else if (rc != BATON_E_NOMEM) {
		rc = table_step_invalid(a->t, now, node, rc, &diag);
		if (rc == BATON_OK)
			metrics_request(a->m, node, diag.has_id ? diag.id : NULL, 0, arrived);
	}
	return rc;
}

static baton_err step_presence(applier *a, const char *node, const glog_msg *m, int64_t now)
{
	if (m->len == 0)
		return BATON_OK; /* a cleared retained presence says nothing */
	wire_presence p;
	baton_err rc = wire_presence_decode(m->payload, m->len, &p);
	if (rc == BATON_E_NOMEM)
		return rc;
	if (rc != BATON_OK) {
		LOG_D("ignoring malformed presence", "node", node);
		return BATON_OK;
	}
	if (!p.online)
		LOG_I("node offline", "node", node);
	rc = table_step_presence(a->t, now, node, p.online);
	metrics_input(a->m);
	if (rc == BATON_OK && !p.online && a->offline != NULL)
		a->offline(a->ctx, node);
	wire_presence_deinit(&p);
	return rc;
}

/* One message; only out of memory is an error. */
static baton_err step_msg(applier *a, const glog_msg *m, int64_t now)
{
	names_kind kind;
	const char *node;
	size_t node_len;
	baton_err rc = names_topic_parse(a->prefix, m->topic, m->topic_len, &kind, &node, &node_len);
	if (rc == BATON_E_BAD_TOPIC) {
		bad_topic(a, m, now);
		return BATON_OK;
	}
	if (rc != BATON_OK)
		return BATON_OK; /* not an input of the table */
	char nodebuf[NAMES_NODE_MAX + 1];
	memcpy(nodebuf, node, node_len);
	nodebuf[node_len] = '\0';
	rc = kind == NAMES_REQ    ? step_request(a, nodebuf, m, now)
	     : kind == NAMES_NODE ? step_presence(a, nodebuf, m, now)
	                          : BATON_OK;
	if (rc != BATON_OK)
		LOG_E(a->stop_on_nomem ? "cannot apply the entry; stopping" : "message dropped", "node",
		      nodebuf, "error", baton_strerror(rc));
	return rc;
}

/* ---- entries ------------------------------------------------------------- */

/* A new table with configuration c loaded from the store, after the store
 * took image[0..len) (NULL: as it is), replaces a->t. On error a->t is kept
 * (and the store holds the image when that step succeeded). */
static baton_err rebuild(applier *a, const table_config *c, const void *image, size_t len)
{
	table *t = table_new(c);
	if (t == NULL)
		return BATON_E_NOMEM;
	baton_err rc = BATON_OK;
	if (image != NULL)
		rc = store_restore_image(a->st, image, len, a->err, sizeof a->err);
	if (rc == BATON_OK)
		rc = store_load(a->st, t, a->err, sizeof a->err);
	if (rc != BATON_OK) {
		table_free(t);
		return rc;
	}
	table_free(a->t);
	a->t = t;
	a->cfg = *c;
	return BATON_OK;
}

/* A CONFIG entry: the table is rebuilt from the (committed) store with the
 * new configuration, so its state is kept exactly. */
static baton_err reconfigure(applier *a, const glog_config *g)
{
	table_config c = to_table_config(g);
	/* Field by field: the struct's padding is not state. */
	if (c.default_lease_ms == a->cfg.default_lease_ms && c.max_lease_ms == a->cfg.max_lease_ms &&
	    c.done_ttl_ms == a->cfg.done_ttl_ms && c.id_memory == a->cfg.id_memory)
		return BATON_OK;
	if (a->st == NULL) {
		a->cfg = c; /* nothing to rebuild from: only a fresh table can take it */
		return BATON_OK;
	}
	return rebuild(a, &c, NULL, 0);
}

static baton_err lead(applier *a, const glog_leader *l, int64_t now)
{
	char term[24], member[24];
	u64s(term, sizeof term, l->term);
	u64s(member, sizeof member, l->member);
	baton_err rc = table_extend_leases(a->t, now, (int64_t)l->extend_ms);
	if (rc != BATON_OK)
		return rc;
	a->started_at = now > a->started_at ? now : a->started_at + 1;
	a->leader_term = l->term;
	a->leader_member = l->member;
	LOG_I("leader", "term", term, "member", member);
	return BATON_OK;
}

/* The end of a gap in the single process's own service (a->extend_ms). */
static baton_err extend(applier *a, int64_t now)
{
	int64_t by = a->extend_ms;
	a->extend_ms = 0;
	baton_err rc = table_extend_leases(a->t, now, by);
	if (rc != BATON_OK && !a->stop_on_nomem) {
		LOG_E("cannot extend the leases: out of memory; leases keep their deadlines");
		rc = BATON_OK;
	}
	return rc;
}

baton_err apply_entry(applier *a, const glog_entry *e)
{
	if (a->pending) {
		baton_err rc = apply_commit(a); /* the previous batch first */
		if (rc != BATON_OK)
			return rc;
	}
	int64_t now = e->now > a->last_now ? e->now : a->last_now;
	a->last_now = now;
	baton_err rc = BATON_OK;
	switch (e->kind) {
	case GLOG_BATCH:
		for (size_t i = 0; i < e->n_msgs; i++) {
			rc = step_msg(a, &e->msgs[i], now);
			if (rc != BATON_OK && a->stop_on_nomem)
				break;
			rc = BATON_OK;
		}
		if (rc == BATON_OK)
			rc = extend(a, now);
		break;
	case GLOG_TICK:
		break;
	case GLOG_CONFIG:
		rc = reconfigure(a, &e->config);
		break;
	case GLOG_LEADER:
		rc = lead(a, &e->leader, now);
		break;
	}
	if (rc == BATON_OK && e->kind != GLOG_CONFIG && !a->hold) {
		rc = table_tick(a->t, now);
		if (rc != BATON_OK && !a->stop_on_nomem) {
			LOG_E("tick failed: out of memory; retrying");
			rc = BATON_OK; /* the deadlines stay due: the next tick runs them */
		}
	}
	a->pending = true;
	if (rc != BATON_OK)
		return rc;
	return apply_commit(a);
}

static void hand_out(applier *a, const table_ready *r)
{
	for (size_t i = 0; a->effect != NULL && i < r->n_effects; i++)
		a->effect(a->ctx, &r->effects[i]);
	metrics_batch(a->m, r->effects, r->n_effects, metrics_now_ns(a->m));
	a->handed = true;
}

baton_err apply_commit(applier *a)
{
	if (!a->pending)
		return BATON_OK;
	table_ready r;
	table_ready_get(a->t, &r);
	if (a->publish_before_commit && !a->handed)
		hand_out(a, &r);
	if (r.n_effects > 0 || r.n_dirty > 0 || r.n_ids > 0) {
		baton_err rc = BATON_OK;
		int64_t t0 = metrics_now_ns(a->m);
		if (a->st != NULL)
			rc = store_commit(a->st, a->t, &r, a->err, sizeof a->err);
		metrics_commit(a->m, a->st != NULL ? metrics_now_ns(a->m) - t0 : -1, rc == BATON_OK);
		metrics_commit_failing(a->m, rc != BATON_OK);
		if (rc != BATON_OK)
			return rc; /* the batch stays open: a retry rewrites it */
	}
	if (!a->handed)
		hand_out(a, &r);
	table_advance(a->t);
	a->pending = false;
	a->handed = false;
	return BATON_OK;
}

void apply_abandon(applier *a, apply_lost *lost)
{
	table_ready r;
	table_ready_get(a->t, &r);
	*lost = (apply_lost){.resources = r.n_dirty, .ids = r.n_ids};
	for (size_t i = 0; i < r.n_effects; i++)
		lost->answers += r.effects[i].kind == TABLE_FX_ANSWER;
	table_advance(a->t);
	a->pending = false;
	a->handed = false;
}

/* ---- snapshot ------------------------------------------------------------ */

baton_err apply_snapshot(applier *a, void *(*alloc)(size_t), void **out, size_t *len)
{
	if (a->st == NULL)
		return BATON_E_INVAL;
	baton_err rc = apply_commit(a);
	void *image = NULL;
	size_t n = 0;
	if (rc == BATON_OK)
		rc = store_image(a->st, &image, &n, a->err, sizeof a->err);
	if (rc != BATON_OK)
		return rc;
	glog_snap s = {.last_now = a->last_now,
	               .started_at = a->started_at,
	               .leader_term = a->leader_term,
	               .leader_member = a->leader_member,
	               .config = of_table_config(&a->cfg),
	               .image = image,
	               .image_len = n};
	rc = glog_snap_encode(&s, alloc, out, len);
	store_image_free(image);
	return rc;
}

baton_err apply_restore(applier *a, const void *buf, size_t len)
{
	glog_snap s;
	if (a->st == NULL)
		return BATON_E_INVAL;
	baton_err rc = glog_snap_decode(buf, len, &s);
	if (rc != BATON_OK)
		return rc;
	table_config c = to_table_config(&s.config);
	if ((rc = rebuild(a, &c, s.image, s.image_len)) != BATON_OK)
		return rc;
	a->last_now = s.last_now;
	a->started_at = s.started_at;
	a->leader_term = s.leader_term;
	a->leader_member = s.leader_member;
	a->pending = true; /* restoring may have evicted ids: commit that at the next entry */
	return BATON_OK;
}

void apply_stats(const applier *a, int64_t now, int64_t started_at_ms, wire_stats *out)
{
	table_counts c;
	table_counts_get(a->t, &c);
	*out = (wire_stats){
	    .at_ms = now,
	    .uptime_ms = (uint64_t)(now > started_at_ms ? now - started_at_ms : 0),
	    .requests = c.requests,
	    .grants = c.grants,
	    .handoffs = c.handoffs,
	    .rejections = c.rejections + a->bad_topics,
	    .held = c.held,
	    .waiters = c.waiters,
	    .remembered = c.remembered,
	    .next_token = table_next_token(a->t),
	};
}
