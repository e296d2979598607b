/*
 * table_harness.h - shared helpers of the lock-table tests: build requests,
 * step them, and render each effect of a batch as one line of text so a test
 * can assert the exact effects in order. Header-only, static functions.
 */
#ifndef BATON_TABLE_HARNESS_H
#define BATON_TABLE_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static inline const char *h_status(wire_status s)
{
	static const char *n[] = {"?",        "granted",   "queued", "done",    "busy",     "renewed",
	                          "released", "cancelled", "reset",  "revoked", "rejected", "failed"};
	return (unsigned)s <= WIRE_ST_FAILED ? n[s] : "?";
}

static inline const char *h_reason(wire_reason r)
{
	static const char *n[] = {"none", "released", "lease_expired", "node_offline"};
	return (unsigned)r <= WIRE_REASON_NODE_OFFLINE ? n[r] : "?";
}

#define H_S(s) ((s) ? (s) : "-")

static inline void h_cat(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

static inline void h_prev(char *b, size_t cap, const wire_previous *p)
{
	if (p->node != NULL)
		h_cat(b, cap, " prev=%s/%llu/%s/%s", p->node, (unsigned long long)p->token, H_S(p->error),
		      h_reason(p->reason));
}

static inline void h_last(char *b, size_t cap, const char *key, const wire_previous *p)
{
	h_cat(b, cap, " %s=%s/%llu/%s/%s@%lld", key, H_S(p->node), (unsigned long long)p->token,
	      H_S(p->error), h_reason(p->reason), (long long)p->completed_at_ms);
}

static inline const char *h_mode(wire_mode m)
{
	return m == WIRE_MODE_MUTEX ? "mutex" : m == WIRE_MODE_SHARED ? "shared" : "once";
}

static inline void h_done(char *b, size_t cap, const char *key, const wire_done *d)
{
	if (d->node != NULL)
		h_cat(b, cap, " %s=%s/%llu/%s@%lld", key, d->node, (unsigned long long)d->token,
		      H_S(d->result), (long long)d->completed_at_ms);
}

static inline void h_answer(char *b, size_t cap, const table_effect *e)
{
	const wire_answer *a = &e->u.answer;
	snprintf(b, cap, "%s: %s %s %s", e->node, h_status(a->status), H_S(a->id), H_S(a->resource));
	switch (a->status) {
	case WIRE_ST_GRANTED:
	case WIRE_ST_RENEWED:
		h_cat(b, cap, " t=%llu l=%u", (unsigned long long)a->token, a->lease_ms);
		h_prev(b, cap, &a->previous);
		break;
	case WIRE_ST_QUEUED:
		h_cat(b, cap, " pos=%u holder=%s", a->position, H_S(a->holder));
		break;
	case WIRE_ST_DONE:
		h_done(b, cap, "by", &a->outcome);
		break;
	case WIRE_ST_BUSY:
		h_cat(b, cap, " holder=%s", H_S(a->holder));
		break;
	case WIRE_ST_REVOKED:
		h_cat(b, cap, " t=%llu %s", (unsigned long long)a->token, h_reason(a->reason));
		break;
	case WIRE_ST_REJECTED:
		h_cat(b, cap, " %s", H_S(baton_err_code(a->code)));
		break;
	case WIRE_ST_FAILED:
		h_cat(b, cap, " failures=%u", a->failures);
		h_last(b, cap, "last", &a->last);
		break;
	default:
		if (a->token)
			h_cat(b, cap, " t=%llu", (unsigned long long)a->token);
	}
}

static inline void h_snapshot(char *b, size_t cap, const wire_snapshot *s)
{
	snprintf(b, cap, "state %s %s", s->resource, h_mode(s->mode));
	if (s->holder != NULL)
		h_cat(b, cap, " holder=%s t=%llu since=%lld until=%lld meta=%s", s->holder,
		      (unsigned long long)s->token, (long long)s->since_ms, (long long)s->lease_until_ms,
		      H_S(s->meta));
	h_cat(b, cap, " wait=[");
	for (size_t i = 0; i < s->n_waiting; i++)
		h_cat(b, cap, "%s%s", i ? "," : "", s->waiting[i]);
	h_cat(b, cap, "]");
	h_done(b, cap, "done", &s->done);
	h_prev(b, cap, &s->previous);
	/* second-edition fields, written only when they say more than the above */
	int shared = 0;
	for (size_t i = 0; i < s->n_holders; i++)
		shared |= s->holders[i].mode == WIRE_MODE_SHARED;
	for (size_t i = 0; i < s->n_queue; i++)
		shared |= s->queue[i].mode == WIRE_MODE_SHARED;
	if (s->n_holders > 1 || shared) {
		h_cat(b, cap, " holders=[");
		for (size_t i = 0; i < s->n_holders; i++)
			h_cat(b, cap, "%s%s/%llu/%s", i ? "," : "", s->holders[i].node,
			      (unsigned long long)s->holders[i].token, h_mode(s->holders[i].mode));
		h_cat(b, cap, "]");
	}
	if (shared) {
		h_cat(b, cap, " q=[");
		for (size_t i = 0; i < s->n_queue; i++)
			h_cat(b, cap, "%s%s/%s", i ? "," : "", s->queue[i].node, h_mode(s->queue[i].mode));
		h_cat(b, cap, "]");
	}
	if (s->permits > 1)
		h_cat(b, cap, " permits=%u", s->permits);
	if (s->failures > 0) {
		h_cat(b, cap, " failures=%u", s->failures);
		h_last(b, cap, "last", &s->last_failure);
	}
}

/* One line per effect. */
static inline void h_render(char *b, size_t cap, const table_effect *e)
{
	const wire_outcome *o = &e->u.outcome;
	switch (e->kind) {
	case TABLE_FX_ANSWER:
		h_answer(b, cap, e);
		break;
	case TABLE_FX_OUTCOME:
		snprintf(b, cap, "outcome %s %s/%llu %s", o->resource, o->node, (unsigned long long)o->token,
		         o->success ? "ok" : "fail");
		if (o->error)
			h_cat(b, cap, " err=%s", o->error);
		if (o->result)
			h_cat(b, cap, " res=%s", o->result);
		h_cat(b, cap, " %s @%lld", h_reason(o->reason), (long long)o->completed_at_ms);
		break;
	case TABLE_FX_SNAPSHOT:
		h_snapshot(b, cap, &e->u.snapshot);
		break;
	case TABLE_FX_CLEAR:
		snprintf(b, cap, "clear %s", e->resource);
		break;
	}
}

static inline void h_aliases(char *b, size_t cap, const char *const *al, size_t n)
{
	if (n == 0)
		return;
	h_cat(b, cap, " aliases=[");
	for (size_t i = 0; i < n; i++)
		h_cat(b, cap, "%s%s", i ? "," : "", al[i]);
	h_cat(b, cap, "]");
}

/* The whole of a resource view, as the store keeps it: every holding and
 * waiter with its request id, deadlines and aliases (in their order), the
 * remembered success, the streak and its forget deadline. */
static inline void h_view(char *b, size_t cap, const table_resource_view *v)
{
	snprintf(b, cap, "view %s %s permits=%u", v->name, h_mode(v->mode), v->permits);
	for (size_t i = 0; i < v->n_holders; i++) {
		const table_holding_view *x = &v->holders[i];
		h_cat(b, cap, " hold=%s/%s/%llu/%s l=%u %lld..%lld meta=%s", x->node, x->id,
		      (unsigned long long)x->token, h_mode(x->mode), x->lease_ms, (long long)x->since_ms,
		      (long long)x->lease_until_ms, H_S(x->meta));
		h_aliases(b, cap, x->aliases, x->n_aliases);
	}
	for (size_t i = 0; i < v->n_waiting; i++) {
		const table_waiter_view *w = &v->waiting[i];
		h_cat(b, cap, " wait=%s/%s/%s l=%u until=%lld meta=%s cap=%u", w->node, w->id,
		      h_mode(w->mode), w->lease_ms, (long long)w->wait_until_ms, H_S(w->meta),
		      w->max_failures);
		h_aliases(b, cap, w->aliases, w->n_aliases);
	}
	h_done(b, cap, "done", &v->done);
	h_prev(b, cap, &v->previous);
	h_cat(b, cap, " failures=%u forget=%lld", v->failures, (long long)v->forget_at_ms);
}

static inline wire_request h_req(wire_op op, const char *id, const char *resource)
{
	wire_request r;
	memset(&r, 0, sizeof r);
	r.op = op;
	r.id = id;
	r.resource = resource;
	return r;
}

#endif
