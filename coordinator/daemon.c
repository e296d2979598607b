/*
 * daemon.c - the coordinator's owner loop and the glue between its edges.
 *
 * Owns the table, the store, the broker edge and the clock. One message's
 * path is one straight line: broker inbox -> wire decode -> table step ->
 * store commit (one transaction per batch: group commit) -> publish. No
 * answer, event or snapshot is published before the batch that produced it
 * is committed. Nothing here decides a lock rule: that is table.c's job;
 * no topic is written or split here: that is names.c's; retained snapshots
 * are throttled by the coalescer (snapdue.c).
 *
 * Time: the table gets wall-clock milliseconds advanced by the monotonic
 * clock (wall0 + (mono - mono0)), so deadlines never jump with the system
 * clock while stored deadlines remain meaningful across restarts.
 */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "names.h"
#include "snapdue.h"
#include "store.h"
#include "table.h"
#include "wire.h"

typedef struct coord {
	const config *cfg;
	daemon_signals *sig;
	table *t;
	store *st; /* NULL with --state :memory: */
	broker *b;
	int64_t wall0_ms, mono0_ms, started_at_ms;
	bool ever_connected;
	int64_t retry_at;      /* first connect retry time, 0: none */
	int64_t retry_backoff; /* ms */
	int64_t next_stats_at;
	uint64_t bad_topics, bad_topics_logged_at, bad_topics_suppressed;
	snapdue due; /* retained snapshots to publish (the coalescer) */
	char topic[NAMES_TOPIC_MAX + 1];
	char err[512];
} coord;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const coord *d)
{
	return d->wall0_ms + (mono_ms() - d->mono0_ms);
}

static void u64s(char *buf, size_t cap, uint64_t v)
{
	snprintf(buf, cap, "%llu", (unsigned long long)v);
}

/* ---- publishing -------------------------------------------------------- */

static void publish_text(coord *d, names_kind kind, const char *arg, const char *payload, size_t len, int qos,
                         bool retained)
{
	if (names_topic(d->topic, sizeof d->topic, d->cfg->prefix, kind, arg, NULL) != BATON_OK) {
		LOG_E("cannot build topic", "arg", arg ? arg : "");
		return;
	}
	if (broker_publish(d->b, d->topic, payload, len, qos, retained) != BATON_OK)
		LOG_E("publish failed", "topic", d->topic, "error", broker_error(d->b));
}

static void log_answer(const table_effect *e)
{
	const wire_answer *a = &e->u.answer;
	char tok[24];
	u64s(tok, sizeof tok, a->token);
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

static void publish_effect(coord *d, const table_effect *e)
{
	char *json = NULL;
	size_t len = 0;
	baton_err rc = BATON_OK;
	switch (e->kind) {
	case TABLE_FX_ANSWER:
		log_answer(e);
		if ((rc = wire_answer_encode(&e->u.answer, &json, &len)) == BATON_OK)
			publish_text(d, NAMES_GRANT, e->node, json, len, 1, false);
		break;
	case TABLE_FX_OUTCOME:
		if ((rc = wire_outcome_encode(&e->u.outcome, &json, &len)) == BATON_OK)
			publish_text(d, NAMES_OUTCOME, e->resource, json, len, 1, false);
		break;
	case TABLE_FX_SNAPSHOT:
		if ((rc = wire_snapshot_encode(&e->u.snapshot, &json, &len)) == BATON_OK)
			publish_text(d, NAMES_STATE, e->resource, json, len, 1, true);
		break;
	case TABLE_FX_CLEAR:
		publish_text(d, NAMES_STATE, e->resource, "", 0, 1, true);
		break;
	}
	if (rc != BATON_OK)
		LOG_E("cannot encode effect", "resource", e->resource, "error", baton_strerror(rc));
	free(json);
}

static void republish_one(void *ctx, const table_resource_view *v);

/* snapdue's publish callback: the resource's state now (committed: flush()
 * runs first), or its clear when it is idle and forgotten. A lock born and
 * gone while due still gets its clear: a watcher told by the contract to
 * expect one gets it. False (stays due) when there is no memory for the view. */
static bool snap_publish(void *ctx, const char *resource)
{
	coord *d = ctx;
	table_resource_view v;
	bool found = false;
	if (table_resource_lookup(d->t, resource, &v, &found) != BATON_OK)
		return false;
	if (found)
		republish_one(d, &v);
	else
		publish_text(d, NAMES_STATE, resource, "", 0, 1, true);
	return true;
}

static void snaps_flush(coord *d, int64_t now)
{
	snapdue_flush(&d->due, now, (int64_t)d->cfg->snapshot_interval_ms, snap_publish, d);
}

/* Commits the table's batch, then publishes it. A failed commit is retried
 * (the table's state is current, so rewriting the dirty rows is idempotent)
 * until it succeeds or we are told to stop; nothing is published before. */
static bool flush(coord *d)
{
	table_ready r;
	table_ready_get(d->t, &r);
	if (r.n_effects == 0 && r.n_dirty == 0 && r.n_ids == 0) {
		table_advance(d->t);
		return true;
	}
	int delay = 100;
	while (d->st != NULL && store_commit(d->st, d->t, &r, d->err, sizeof d->err) != BATON_OK) {
		LOG_E("state commit failed, retrying; nothing is published until it succeeds", "error",
		      d->err);
		if (d->sig->stop) {
			table_advance(d->t);
			return false;
		}
		poll(NULL, 0, delay);
		delay = delay < 5000 ? delay * 2 : 5000;
	}
	for (size_t i = 0; i < r.n_effects; i++) {
		const table_effect *e = &r.effects[i];
		if ((e->kind == TABLE_FX_SNAPSHOT || e->kind == TABLE_FX_CLEAR) &&
		    snapdue_note(&d->due, e->resource))
			continue;
		publish_effect(d, e);
	}
	table_advance(d->t);
	return true;
}

static void publish_presence(coord *d, bool online)
{
	wire_presence p = {.online = online, .version = BATON_VERSION, .started_at_ms = d->started_at_ms};
	char *json = NULL;
	size_t len = 0;
	if (wire_presence_encode(&p, &json, &len) == BATON_OK)
		publish_text(d, NAMES_COORDINATOR, NULL, json, len, 1, true);
	free(json);
}

static void republish_one(void *ctx, const table_resource_view *v)
{
	coord *d = ctx;
	wire_snapshot s;
	char *json = NULL;
	size_t len = 0;
	table_snapshot_of(v, &s);
	if (wire_snapshot_encode(&s, &json, &len) == BATON_OK)
		publish_text(d, NAMES_STATE, v->name, json, len, 1, true);
	free(json);
}

static void publish_stats(coord *d, int64_t now)
{
	table_counts c;
	table_counts_get(d->t, &c);
	wire_stats s = {
	    .at_ms = now,
	    .uptime_ms = (uint64_t)(now - d->started_at_ms),
	    .requests = c.requests,
	    .grants = c.grants,
	    .handoffs = c.handoffs,
	    .rejections = c.rejections + d->bad_topics,
	    .held = c.held,
	    .waiters = c.waiters,
	    .remembered = c.remembered,
	    .backlog = broker_backlog(d->b),
	    .next_token = table_next_token(d->t),
	};
	char *json = NULL;
	size_t len = 0;
	if (wire_stats_encode(&s, &json, &len) == BATON_OK)
		publish_text(d, NAMES_STATS, NULL, json, len, 0, true);
	free(json);
}

/* ---- receiving --------------------------------------------------------- */

static void bad_topic(coord *d, const broker_msg *m, int64_t now)
{
	d->bad_topics++;
	if ((int64_t)d->bad_topics_logged_at + 1000 > now) {
		d->bad_topics_suppressed++;
		return;
	}
	char sup[24];
	u64s(sup, sizeof sup, d->bad_topics_suppressed);
	/* The topic may hold anything: log only a printable, bounded excerpt. */
	char shown[128];
	size_t n = 0;
	for (size_t i = 0; i < m->topic_len && n + 1 < sizeof shown; i++)
		shown[n++] = (m->topic[i] >= 0x20 && m->topic[i] < 0x7f) ? m->topic[i] : '?';
	shown[n] = '\0';
	LOG_W("bad_topic: node part is not a valid node id; dropped", "topic", shown, "suppressed", sup);
	d->bad_topics_logged_at = (uint64_t)now;
	d->bad_topics_suppressed = 0;
}

static void handle_request(coord *d, const char *node, const broker_msg *m, int64_t now)
{
	wire_request req;
	wire_diag diag;
	baton_err rc = wire_request_decode(m->payload, m->len, &req, &diag);
	if (rc == BATON_OK) {
		rc = table_step_request(d->t, now, node, &req);
		wire_request_deinit(&req);
	} else if (rc != BATON_E_NOMEM) {
		rc = table_step_invalid(d->t, now, node, rc, &diag);
	}
	if (rc != BATON_OK)
		LOG_E("request dropped", "node", node, "error", baton_strerror(rc));
}

static void handle_presence(coord *d, const char *node, const broker_msg *m, int64_t now)
{
	if (m->len == 0)
		return; /* a cleared retained presence says nothing */
	wire_presence p;
	if (wire_presence_decode(m->payload, m->len, &p) != BATON_OK) {
		LOG_D("ignoring malformed presence", "node", node);
		return;
	}
	if (!p.online)
		LOG_I("node offline", "node", node);
	baton_err rc = table_step_presence(d->t, now, node, p.online);
	if (rc != BATON_OK)
		LOG_E("presence dropped", "node", node, "error", baton_strerror(rc));
	wire_presence_deinit(&p);
}

/* A retained snapshot the broker kept for a resource we do not have (its
 * clear was lost when the broker died before saving) is cleared. */
static void handle_stale_state(coord *d, const broker_msg *m, const char *res, size_t res_len)
{
	if (!m->retained || m->len == 0 || res_len == 0)
		return;
	table_resource_view v;
	bool found = true;
	if (table_resource_lookup(d->t, res, &v, &found) == BATON_OK && !found) {
		LOG_I("clearing stale snapshot", "resource", res);
		publish_text(d, NAMES_STATE, res, "", 0, 1, true);
	}
}

static void handle_msg(coord *d, const broker_msg *m, int64_t now)
{
	names_kind kind;
	const char *node;
	size_t node_len;
	baton_err rc = names_topic_parse(d->cfg->prefix, m->topic, m->topic_len, &kind, &node, &node_len);
	if (rc == BATON_E_BAD_TOPIC) {
		bad_topic(d, m, now);
		return;
	}
	if (rc != BATON_OK) {
		const char *res;
		size_t res_len;
		if (names_resource_topic_parse(d->cfg->prefix, m->topic, m->topic_len, &kind, &res,
		                               &res_len) == BATON_OK &&
		    kind == NAMES_STATE)
			handle_stale_state(d, m, res, res_len); /* res: the topic's NUL-terminated tail */
		return;
	}
	char nodebuf[NAMES_NODE_MAX + 1];
	memcpy(nodebuf, node, node_len);
	nodebuf[node_len] = '\0';
	if (kind == NAMES_REQ)
		handle_request(d, nodebuf, m, now);
	else if (kind == NAMES_NODE)
		handle_presence(d, nodebuf, m, now);
}

/* ---- the loop ---------------------------------------------------------- */

static void on_connect(coord *d)
{
	d->ever_connected = true;
	d->retry_at = 0;
	if (broker_on_connected(d->b) != BATON_OK)
		LOG_E("subscribe failed", "error", broker_error(d->b));
	LOG_I("connected", "broker", d->cfg->broker, "client_id", d->cfg->client_id);
	/* The broker may have lost retained messages (SIGKILL after its last
	 * save) or kept ones whose clear it lost. Subscribing to P/state/# and
	 * unsubscribing at once makes it send us every retained snapshot before
	 * the UNSUBACK (it handles our packets in order), without echoing the
	 * republish that follows; handle_stale_state clears the unknown ones. */
	char filter[NAMES_TOPIC_MAX + 1];
	if (names_filter(filter, sizeof filter, d->cfg->prefix, NAMES_STATE, NULL, NULL) != BATON_OK ||
	    broker_subscribe(d->b, filter) != BATON_OK || broker_unsubscribe(d->b, filter) != BATON_OK)
		LOG_W("cannot sweep stale snapshots", "error", broker_error(d->b));
	publish_presence(d, true);
	table_foreach(d->t, republish_one, d);
}

/* Handles what the broker edge collected. Returns false on a fatal refusal. */
static bool take_inbox(coord *d)
{
	broker_inbox in;
	broker_take(d->b, &in);
	int64_t now = now_ms(d);
	if (in.refused) {
		LOG_E("broker refused us; check --username/--password-file/--client-id", "error",
		      broker_error(d->b));
		broker_msgs_free(in.msgs);
		return false;
	}
	if (in.failures > 0 && !d->ever_connected && d->retry_at == 0) {
		LOG_W("cannot reach the broker, retrying", "error", broker_error(d->b));
		d->retry_backoff =
		    d->retry_backoff ? (d->retry_backoff * 2 > 30000 ? 30000 : d->retry_backoff * 2) : 500;
		d->retry_at = now + d->retry_backoff;
	}
	if (in.losses > 0)
		LOG_W("connection to the broker lost; reconnecting", "error", broker_error(d->b));
	if (in.connects > 0)
		on_connect(d);
	for (broker_msg *m = in.msgs; m != NULL; m = m->next)
		handle_msg(d, m, now);
	broker_msgs_free(in.msgs);
	return true;
}

static int poll_timeout(coord *d, int64_t now)
{
	int64_t next = table_next_deadline(d->t);
	if (d->next_stats_at < next)
		next = d->next_stats_at;
	if (d->retry_at && d->retry_at < next)
		next = d->retry_at;
	if (snapdue_count(&d->due) > 0 && snapdue_next_at(&d->due) < next)
		next = snapdue_next_at(&d->due);
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

static void drain_wake(coord *d)
{
	uint64_t v;
	ssize_t n = read(d->sig->wake_fd, &v, sizeof v);
	(void)n;
}

static int loop(coord *d)
{
	struct pollfd pfd = {.fd = d->sig->wake_fd, .events = POLLIN};
	while (!d->sig->stop) {
		int64_t now = now_ms(d);
		if (poll(&pfd, 1, poll_timeout(d, now)) > 0)
			drain_wake(d);
		if (d->sig->reopen_log) {
			d->sig->reopen_log = 0;
			log_reopen();
		}
		if (!take_inbox(d))
			return DAEMON_EXIT_UNAVAILABLE;
		now = now_ms(d);
		if (d->retry_at && now >= d->retry_at) {
			d->retry_at = 0;
			broker_start(d->b);
		}
		if (table_tick(d->t, now) != BATON_OK)
			LOG_E("tick failed: out of memory; retrying");
		flush(d);
		if (snapdue_ready(&d->due, now))
			snaps_flush(d, now);
		if (now >= d->next_stats_at) {
			publish_stats(d, now);
			d->next_stats_at = now + (int64_t)d->cfg->stats_interval_ms;
		}
	}
	return DAEMON_EXIT_OK;
}

/* ---- start and stop ---------------------------------------------------- */

static baton_err open_state(coord *d)
{
	table_config tc;
	table_config_default(&tc);
	tc.default_lease_ms = (uint32_t)d->cfg->default_lease_ms;
	tc.max_lease_ms = (uint32_t)d->cfg->max_lease_ms;
	tc.done_ttl_ms = d->cfg->done_ttl_ms;
	d->t = table_new(&tc);
	if (d->t == NULL)
		return BATON_E_NOMEM;
	if (strcmp(d->cfg->state, ":memory:") == 0)
		return BATON_OK;
	baton_err rc = store_open(d->cfg->state, d->cfg->sync, &d->st, d->err, sizeof d->err);
	if (rc == BATON_OK)
		rc = store_load(d->st, d->t, d->err, sizeof d->err);
	if (rc == BATON_OK) {
		table_counts c;
		table_counts_get(d->t, &c);
		char held[24], waiting[24], remembered[24];
		u64s(held, sizeof held, c.held);
		u64s(waiting, sizeof waiting, c.waiters);
		u64s(remembered, sizeof remembered, c.remembered);
		LOG_I("state loaded", "path", d->cfg->state, "held", held, "waiters", waiting, "remembered",
		      remembered);
	}
	return rc;
}

static baton_err open_broker(coord *d)
{
	char req[NAMES_TOPIC_MAX + 1], node[NAMES_TOPIC_MAX + 1], will_topic[NAMES_TOPIC_MAX + 1];
	const char *prefix = d->cfg->prefix;
	baton_err rc;
	if ((rc = names_filter(req, sizeof req, prefix, NAMES_REQ, NULL, NULL)) != BATON_OK ||
	    (rc = names_filter(node, sizeof node, prefix, NAMES_NODE, NULL, NULL)) != BATON_OK ||
	    (rc = names_topic(will_topic, sizeof will_topic, prefix, NAMES_COORDINATOR, NULL, NULL)) !=
	        BATON_OK)
		return rc; /* the prefix was validated: cannot happen */
	const char *subs[] = {req, node};
	wire_presence p = {.online = false, .version = BATON_VERSION, .started_at_ms = d->started_at_ms};
	char *will = NULL;
	size_t len;
	if ((rc = wire_presence_encode(&p, &will, &len)) != BATON_OK)
		return rc;
	broker_options o = {
	    .uri = d->cfg->broker,
	    .client_id = d->cfg->client_id,
	    .clean_session = false,
	    .username = d->cfg->username,
	    .password = d->cfg->password,
	    .cafile = d->cfg->cafile,
	    .cert = d->cfg->cert,
	    .key = d->cfg->key,
	    .will_topic = will_topic,
	    .will_payload = will,
	    .subs = subs,
	    .n_subs = 2,
	    .keepalive_s = 10,
	    .wake_fd = d->sig->wake_fd,
	};
	rc = broker_new(&o, &d->b, d->err, sizeof d->err);
	free(will);
	if (rc == BATON_OK)
		rc = broker_start(d->b);
	return rc;
}

static void shut_down(coord *d)
{
	LOG_I("stopping: answering what was received, then disconnecting");
	take_inbox(d); /* requests already acknowledged to the broker are ours */
	table_tick(d->t, now_ms(d));
	flush(d);
	snaps_flush(d, now_ms(d));
	publish_presence(d, false);
	broker_stop(d->b, 5000);
	LOG_I("stopped", "backlog", broker_backlog(d->b) ? "not drained" : "drained");
}

int daemon_run(const config *cfg, daemon_signals *sig)
{
	coord d = {.cfg = cfg, .sig = sig};
	snapdue_init(&d.due);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	d.wall0_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	d.mono0_ms = mono_ms();
	d.started_at_ms = d.wall0_ms;
	int status = DAEMON_EXIT_OK;
	baton_err rc = open_state(&d);
	if (rc != BATON_OK) {
		LOG_E("cannot open the state", "path", cfg->state, "error",
		      d.err[0] ? d.err : baton_strerror(rc));
		status = DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	/* Leases that ran out while we were down end now, before anything else. */
	table_tick(d.t, now_ms(&d));
	if ((rc = open_broker(&d)) != BATON_OK) {
		LOG_E("cannot start the MQTT client", "error", d.err[0] ? d.err : broker_error(d.b));
		status = rc == BATON_E_INVAL ? DAEMON_EXIT_USAGE : DAEMON_EXIT_UNAVAILABLE;
		goto out;
	}
	if (!flush(&d)) {
		status = DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	LOG_I("started", "version", BATON_VERSION, "broker", cfg->broker, "prefix", cfg->prefix, "state",
	      cfg->state);
	status = loop(&d);
	if (status == DAEMON_EXIT_OK)
		shut_down(&d);
out:
	snapdue_deinit(&d.due);
	broker_free(d.b);
	store_close(d.st);
	table_free(d.t);
	return status;
}
