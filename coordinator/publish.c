/*
 * publish.c - the coordinator's publishing (publish.h), shared by the single
 * process and a group's serving leader.
 *
 * Owns the snapshot coalescer's due set and the topic buffer. Everything it
 * publishes was committed first: callers hand it effects only after their
 * batch is durable (apply.c's callback), and snapshots are read from the
 * table's current, committed state. Never decides a lock rule, never builds
 * a topic by hand (names.c does).
 */
#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void pub_init(publisher *p, const char *prefix, int64_t snapshot_interval_ms)
{
	memset(p, 0, sizeof *p);
	p->prefix = prefix;
	p->snapshot_interval_ms = snapshot_interval_ms;
	snapdue_init(&p->due);
}

void pub_deinit(publisher *p)
{
	snapdue_deinit(&p->due);
}

static void publish_text(publisher *p, names_kind kind, const char *arg, const char *payload, size_t len,
                         int qos, bool retained)
{
	if (p->b == NULL)
		return;
	if (names_topic(p->topic, sizeof p->topic, p->prefix, kind, arg, NULL) != BATON_OK) {
		LOG_E("cannot build topic", "arg", arg ? arg : "");
		return;
	}
	baton_err rc = broker_publish(p->b, p->topic, payload, len, qos, retained);
	if (rc == BATON_E_INVAL) {
		char shown[160];
		log_printable(shown, sizeof shown, p->topic, strlen(p->topic));
		LOG_E("publish dropped: the broker would refuse this topic", "topic", shown, "error",
		      broker_error(p->b));
	} else if (rc != BATON_OK) {
		LOG_E("publish failed", "topic", p->topic, "error", broker_error(p->b));
	}
}

static void log_answer(const table_effect *e)
{
	const wire_answer *a = &e->u.answer;
	char tok[24];
	snprintf(tok, sizeof tok, "%llu", (unsigned long long)a->token);
	switch (a->status) {
	case WIRE_ST_GRANTED:
		LOG_I(a->previous.node ? "handoff" : "grant", "resource", a->resource, "node", e->node,
		      "token", tok, "previous", a->previous.node);
		break;
	case WIRE_ST_RELEASED:
		LOG_I("release", "resource", a->resource, "node", e->node, "token", tok);
		break;
	case WIRE_ST_REVOKED:
		LOG_I("revoke", "resource", a->resource, "node", e->node, "token", tok, "reason",
		      wire_reason_name(a->reason));
		break;
	case WIRE_ST_REJECTED:
		LOG_I("reject", "node", e->node, "id", a->id, "resource", a->resource, "code",
		      baton_err_code(a->code), "message", a->message);
		break;
	default:
		LOG_D(wire_status_name(a->status), "resource", a->resource, "node", e->node, "id", a->id);
	}
}

static void publish_effect(publisher *p, const table_effect *e)
{
	char *json = NULL;
	size_t len = 0;
	baton_err rc = BATON_OK;
	switch (e->kind) {
	case TABLE_FX_ANSWER:
		log_answer(e);
		if ((rc = wire_answer_encode(&e->u.answer, &json, &len)) == BATON_OK)
			publish_text(p, NAMES_GRANT, e->node, json, len, 1, false);
		break;
	case TABLE_FX_OUTCOME:
		if ((rc = wire_outcome_encode(&e->u.outcome, &json, &len)) == BATON_OK)
			publish_text(p, NAMES_OUTCOME, e->resource, json, len, 1, false);
		break;
	case TABLE_FX_SNAPSHOT:
		if ((rc = wire_snapshot_encode(&e->u.snapshot, &json, &len)) == BATON_OK)
			publish_text(p, NAMES_STATE, e->resource, json, len, 1, true);
		break;
	case TABLE_FX_CLEAR:
		publish_text(p, NAMES_STATE, e->resource, "", 0, 1, true);
		break;
	}
	if (rc != BATON_OK)
		LOG_E("cannot encode effect", "resource", e->resource, "error", baton_strerror(rc));
	free(json);
}

void pub_effect(publisher *p, const table_effect *e)
{
	if ((e->kind == TABLE_FX_SNAPSHOT || e->kind == TABLE_FX_CLEAR) && snapdue_note(&p->due, e->resource))
		return;
	publish_effect(p, e);
}

static void republish_one(void *ctx, const table_resource_view *v)
{
	publisher *p = ctx;
	wire_snapshot s;
	char *json = NULL;
	size_t len = 0;
	table_snapshot_of(v, &s);
	if (wire_snapshot_encode(&s, &json, &len) == BATON_OK)
		publish_text(p, NAMES_STATE, v->name, json, len, 1, true);
	free(json);
}

typedef struct flush_ctx {
	publisher *p;
	table *t;
} flush_ctx;

/* snapdue's publish callback: the resource's state now (committed), or its
 * clear when it is idle and forgotten. A lock born and gone while due still
 * gets its clear: a watcher told by the contract to expect one gets it.
 * False (stays due) when there is no memory for the view. */
static bool snap_publish(void *ctx, const char *resource)
{
	flush_ctx *f = ctx;
	table_resource_view v;
	bool found = false;
	if (table_resource_lookup(f->t, resource, &v, &found) != BATON_OK)
		return false;
	if (found)
		republish_one(f->p, &v);
	else
		publish_text(f->p, NAMES_STATE, resource, "", 0, 1, true);
	return true;
}

bool pub_due_ready(const publisher *p, int64_t now)
{
	return snapdue_ready(&p->due, now);
}

int64_t pub_due_next_at(const publisher *p)
{
	return snapdue_count(&p->due) > 0 ? snapdue_next_at(&p->due) : INT64_MAX;
}

void pub_due_flush(publisher *p, table *t, int64_t now)
{
	flush_ctx f = {p, t};
	snapdue_flush(&p->due, now, p->snapshot_interval_ms, snap_publish, &f);
}

void pub_due_drop(publisher *p)
{
	snapdue_deinit(&p->due);
	snapdue_init(&p->due);
}

void pub_presence(publisher *p, const wire_presence *presence)
{
	char *json = NULL;
	size_t len = 0;
	if (wire_presence_encode(presence, &json, &len) == BATON_OK)
		publish_text(p, NAMES_COORDINATOR, NULL, json, len, 1, true);
	free(json);
}

void pub_sweep(publisher *p)
{
	/* The broker may have lost retained messages (SIGKILL after its last
	 * save) or kept ones whose clear it lost. Subscribing to P/state/# and
	 * unsubscribing at once makes it send us every retained snapshot before
	 * the UNSUBACK (it handles our packets in order), without echoing the
	 * republish that follows; pub_stale_state clears the unknown ones. */
	char filter[NAMES_TOPIC_MAX + 1];
	if (p->b != NULL &&
	    (names_filter(filter, sizeof filter, p->prefix, NAMES_STATE, NULL, NULL) != BATON_OK ||
	     broker_subscribe(p->b, filter) != BATON_OK || broker_unsubscribe(p->b, filter) != BATON_OK))
		LOG_W("cannot sweep stale snapshots", "error", broker_error(p->b));
}

void pub_republish(publisher *p, table *t)
{
	table_foreach(t, republish_one, p);
}

void pub_connected(publisher *p, table *t, const wire_presence *presence)
{
	pub_sweep(p);
	pub_presence(p, presence);
	pub_republish(p, t);
}

void pub_clear_node(publisher *p, const char *node)
{
	publish_text(p, NAMES_NODE, node, "", 0, 1, true);
}

bool pub_stale_state(publisher *p, table *t, const broker_msg *m)
{
	names_kind kind;
	const char *res;
	size_t res_len;
	if (names_resource_topic_parse(p->prefix, m->topic, m->topic_len, &kind, &res, &res_len) !=
	        BATON_OK ||
	    kind != NAMES_STATE)
		return false;
	if (!m->retained || m->len == 0 || res_len == 0)
		return true;
	table_resource_view v;
	bool found = true; /* res: the topic's NUL-terminated tail */
	if (table_resource_lookup(t, res, &v, &found) == BATON_OK && !found) {
		LOG_I("clearing stale snapshot", "resource", res);
		publish_text(p, NAMES_STATE, res, "", 0, 1, true);
	}
	return true;
}

void pub_stats(publisher *p, const wire_stats *s)
{
	char *json = NULL;
	size_t len = 0;
	if (wire_stats_encode(s, &json, &len) == BATON_OK)
		publish_text(p, NAMES_STATS, NULL, json, len, 0, true);
	free(json);
}
