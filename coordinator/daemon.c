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
 *
 * Its own outages (guard.c): lease deadlines are held back from the start of
 * any gap in its service until it has caught up with what the broker queued
 * for it, then every lease is moved later by the gap. One instance per
 * prefix: probe.c looks before serving (daemon_start.c, which also opens
 * the state and the MQTT client), and another instance's presence while
 * serving ends the loop (exit 75) without publishing ours.
 */
#include "daemon.h"
#include "daemon_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "snapdue.h"
#include "store.h"
#include "table.h"
#include "wire.h"

/* A printable, bounded excerpt of s[0..n) for a log line: it may hold anything. */
static void printable(char *buf, size_t cap, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		buf[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[k] = '\0';
}

/* ---- publishing -------------------------------------------------------- */

static void publish_text(coord *d, names_kind kind, const char *arg, const char *payload, size_t len, int qos,
                         bool retained)
{
	if (names_topic(d->topic, sizeof d->topic, d->cfg->prefix, kind, arg, NULL) != BATON_OK) {
		LOG_E("cannot build topic", "arg", arg ? arg : "");
		return;
	}
	baton_err rc = broker_publish(d->b, d->topic, payload, len, qos, retained);
	if (rc == BATON_E_INVAL) {
		char shown[160];
		printable(shown, sizeof shown, d->topic, strlen(d->topic));
		LOG_E("publish dropped: the broker would refuse this topic", "topic", shown, "error",
		      broker_error(d->b));
	} else if (rc != BATON_OK) {
		LOG_E("publish failed", "topic", d->topic, "error", broker_error(d->b));
	}
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

static void publish_presence(coord *d, bool online);
static void publish_stats(coord *d, int64_t now);
static void publish_metrics(coord *d);

/* Says, on P/coordinator and P/stats, that we answer nothing now and why
 * (reason non-NULL), or that we serve again (NULL); publishes only changes. */
static void set_serving(coord *d, const char *reason)
{
	if (reason == NULL ? d->not_serving[0] == '\0' : strcmp(d->not_serving, reason) == 0)
		return;
	snprintf(d->not_serving, sizeof d->not_serving, "%s", reason ? reason : "");
	if (reason == NULL)
		LOG_I("serving again");
	publish_presence(d, true);
	publish_stats(d, now_ms(d));
}

/* The presences of the nodes whose online:false this batch acted on are
 * cleared once it is committed: the broker keeps no presence of dead nodes. */
static void note_clear(coord *d, const char *node)
{
	if (d->n_clears == d->cap_clears) {
		size_t cap = d->cap_clears ? 2 * d->cap_clears : 16;
		void *l = realloc(d->clears, cap * sizeof *d->clears);
		if (l == NULL)
			return; /* the presence stays: only a retained message too many */
		d->clears = l;
		d->cap_clears = cap;
	}
	snprintf(d->clears[d->n_clears++], sizeof d->clears[0], "%s", node);
}

static void publish_clears(coord *d)
{
	for (size_t i = 0; i < d->n_clears; i++)
		publish_text(d, NAMES_NODE, d->clears[i], "", 0, 1, true);
	d->n_clears = 0;
}

/* Notes what a batch that will never be committed held, for the log. */
static void lose_batch(coord *d, const table_ready *r)
{
	size_t answers = 0;
	for (size_t i = 0; i < r->n_effects; i++)
		answers += r->effects[i].kind == TABLE_FX_ANSWER;
	d->lost_answers += answers;
	d->lost_resources += r->n_dirty;
	d->lost_ids += r->n_ids;
	d->uncommitted = true;
	d->n_clears = 0;
	table_advance(d->t);
}

/* Commits the table's batch, then publishes it. A failed commit is retried
 * (the table's state is current, so rewriting the dirty rows is idempotent)
 * until it succeeds or we are told to stop; nothing is published before, and
 * P/coordinator and P/stats say we are not serving meanwhile. A state file
 * deleted or replaced under us ends the loop (exit 74). False when the batch
 * was not committed. */
static bool flush(coord *d)
{
	table_ready r;
	table_ready_get(d->t, &r);
	if (r.n_effects == 0 && r.n_dirty == 0 && r.n_ids == 0) {
		table_advance(d->t);
		publish_clears(d);
		return true;
	}
	int delay = 100;
	baton_err rc = BATON_OK;
	for (;;) {
		int64_t t0 = mono_ns();
		if (d->st != NULL)
			rc = store_commit(d->st, d->t, &r, d->err, sizeof d->err);
		metrics_commit(d->m, d->st != NULL ? mono_ns() - t0 : -1, rc == BATON_OK);
		metrics_commit_failing(d->m, rc != BATON_OK);
		if (rc == BATON_OK)
			break;
		publish_metrics(d); /* a scrape shows the failing commit while we retry */
		if (rc == BATON_E_STORE_MOVED) {
			LOG_E("state file lost; stopping, serving nothing more", "error", d->err);
			d->exit_status = DAEMON_EXIT_IOERR;
			lose_batch(d, &r);
			return false;
		}
		LOG_E("state commit failed, retrying; nothing is published until it succeeds", "error",
		      d->err);
		char why[WIRE_REASON_TEXT_MAX + 1];
		snprintf(why, sizeof why, "state commits fail: %.200s", d->err);
		set_serving(d, why);
		if (d->sig->stop) {
			lose_batch(d, &r);
			return false;
		}
		poll(NULL, 0, delay);
		delay = delay < 5000 ? delay * 2 : 5000;
	}
	set_serving(d, NULL);
	for (size_t i = 0; i < r.n_effects; i++) {
		const table_effect *e = &r.effects[i];
		if ((e->kind == TABLE_FX_SNAPSHOT || e->kind == TABLE_FX_CLEAR) &&
		    snapdue_note(&d->due, e->resource))
			continue;
		publish_effect(d, e);
	}
	metrics_batch(d->m, r.effects, r.n_effects, mono_ns());
	table_advance(d->t);
	publish_clears(d);
	return true;
}

static void publish_presence(coord *d, bool online)
{
	wire_presence p = {.online = online,
	                   .version = BATON_VERSION,
	                   .started_at_ms = d->started_at_ms,
	                   .instance = d->g.instance,
	                   .not_serving = d->not_serving[0] != '\0',
	                   .reason = d->not_serving[0] ? d->not_serving : NULL};
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
	    .not_serving = d->not_serving[0] != '\0',
	    .reason = d->not_serving[0] ? d->not_serving : NULL,
	};
	char *json = NULL;
	size_t len = 0;
	if (wire_stats_encode(&s, &json, &len) == BATON_OK)
		publish_text(d, NAMES_STATS, NULL, json, len, 0, true);
	free(json);
}

/* The gauges, then everything recorded since the last time, to scrapes. */
static void publish_metrics(coord *d)
{
	table_counts c;
	if (d->m == NULL)
		return;
	table_counts_get(d->t, &c);
	metrics_gauges(d->m, &c, broker_backlog(d->b), broker_connected(d->b), d->not_serving[0] == '\0');
	metrics_publish(d->m);
}

/* ---- receiving --------------------------------------------------------- */

static void bad_topic(coord *d, const broker_msg *m, int64_t now)
{
	d->bad_topics++;
	metrics_bad_topic(d->m);
	if ((int64_t)d->bad_topics_logged_at + 1000 > now) {
		d->bad_topics_suppressed++;
		return;
	}
	char sup[24];
	u64s(sup, sizeof sup, d->bad_topics_suppressed);
	char shown[128];
	printable(shown, sizeof shown, m->topic, m->topic_len);
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
		if (rc == BATON_OK)
			metrics_request(d->m, node, req.id, (int)req.op, m->arrived_ns);
		wire_request_deinit(&req);
	} else if (rc != BATON_E_NOMEM) {
		rc = table_step_invalid(d->t, now, node, rc, &diag);
		if (rc == BATON_OK)
			metrics_request(d->m, node, diag.has_id ? diag.id : NULL, 0, m->arrived_ns);
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
	metrics_input(d->m);
	if (rc != BATON_OK)
		LOG_E("presence dropped", "node", node, "error", baton_strerror(rc));
	else if (!p.online)
		note_clear(d, node);
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

/* P/coordinator: our own presence back from the broker (the end of a gap),
 * or another instance's: then we stop serving, at once and loudly. */
static void handle_coordinator(coord *d, const broker_msg *m)
{
	wire_presence p;
	if (m->len == 0 || wire_presence_decode(m->payload, m->len, &p) != BATON_OK)
		return;
	if (guard_presence(&d->g, &p, m->retained) == GUARD_CONFLICT) {
		char started[32] = "";
		if (p.started_at_ms > 0)
			wire_time_format(p.started_at_ms, started, sizeof started);
		LOG_E("another coordinator appeared on this prefix; stopping, serving nothing more",
		      "instance", p.instance ? p.instance : "(none: an older coordinator)", "started_at",
		      started, "ours", d->g.instance);
		d->exit_status = DAEMON_EXIT_CONFLICT;
	}
	wire_presence_deinit(&p);
}

static void handle_msg(coord *d, const broker_msg *m, int64_t now)
{
	if (m->topic_len == strlen(d->coord_topic) && memcmp(m->topic, d->coord_topic, m->topic_len) == 0) {
		handle_coordinator(d, m);
		return;
	}
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
	d->connected_at = now_ms(d);
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
	/* Our presence is also the marker of a gap's end: once it comes back,
	 * everything the broker queued for us before it has been taken. */
	guard_connected(&d->g);
	publish_presence(d, true);
	guard_marker_sent(&d->g, now_ms(d));
	table_foreach(d->t, republish_one, d);
}

/* The broker dropped every connection of ours right after it was made: it
 * refuses something paho re-sends after each reconnect (paho 1.3.12 can
 * corrupt a publish cut short by a lost connection, upstream #1592). Drops
 * the paho client with everything it had not delivered and starts a fresh
 * one: the session, its subscriptions and what the broker queued for us stay
 * on the broker; what was lost is answers and snapshots, which the agents'
 * re-sends (on our presence) and the republish after the connect restore. */
static bool fresh_client(coord *d)
{
	LOG_E("the broker keeps dropping us right after we connect; starting a fresh MQTT client without "
	      "what the old one had not delivered",
	      "error", broker_error(d->b));
	d->short_lives = 0;
	broker_free(d->b);
	d->b = NULL;
	if (dmn_open_broker(d) != BATON_OK) {
		LOG_E("cannot start the MQTT client", "error", d->err);
		return false;
	}
	return true;
}

/* Handles what the broker edge collected. Returns false on a fatal refusal. */
static bool take_inbox(coord *d)
{
	broker_inbox in;
	broker_take(d->b, &in);
	guard_take_begin(&d->g);
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
	if (in.losses > 0) {
		LOG_W("connection to the broker lost; reconnecting", "error", broker_error(d->b));
		guard_lost(&d->g, now);
		d->short_lives = now - d->connected_at < 5000 ? d->short_lives + in.losses : 0;
		if (d->short_lives >= 3) {
			if (!fresh_client(d)) {
				broker_msgs_free(in.msgs);
				return false;
			}
			in.connects = 0; /* the old client's; the fresh one reports its own */
		}
	}
	if (in.connects > 0)
		on_connect(d);
	/* Nothing after another instance's presence is ours to act on. */
	for (broker_msg *m = in.msgs; m != NULL && d->exit_status == 0; m = m->next)
		handle_msg(d, m, now);
	broker_msgs_free(in.msgs);
	return true;
}

/* Wakes at least once a second (the state file check, and so that a late
 * wake-up is a measure of a stall); lease and wait deadlines do not count
 * while they are held back. */
static int poll_timeout(coord *d, int64_t now)
{
	int64_t next = guard_paused(&d->g) ? INT64_MAX : table_next_deadline(d->t);
	if (d->next_stats_at < next)
		next = d->next_stats_at;
	if (d->retry_at && d->retry_at < next)
		next = d->retry_at;
	if (snapdue_count(&d->due) > 0 && snapdue_next_at(&d->due) < next)
		next = snapdue_next_at(&d->due);
	if (next <= now)
		return 0;
	return next - now > 1000 ? 1000 : (int)(next - now);
}

static void drain_wake(coord *d)
{
	uint64_t v;
	ssize_t n = read(d->sig->wake_fd, &v, sizeof v);
	(void)n;
}

/* Ends a gap in our service once we have caught up: every lease moves later
 * by the gap, before any deadline may fire. */
static void resume_leases(coord *d, int64_t now)
{
	bool echoed = false;
	const char *cause = d->g.cause;
	int64_t gap = guard_resume(&d->g, now, &echoed);
	if (gap <= 0)
		return;
	char ms[24];
	u64s(ms, sizeof ms, (uint64_t)gap);
	if (gap >= GUARD_STALL_MS || !echoed)
		LOG_W("extending every lease by the coordinator's own outage", "gap_ms", ms, "cause", cause,
		      "caught_up",
		      echoed ? "its presence came back" : "its presence did not come back in 10s");
	else
		LOG_D("extending every lease by the coordinator's own outage", "gap_ms", ms, "cause", cause);
	if (table_extend_leases(d->t, now, gap) != BATON_OK)
		LOG_E("cannot extend the leases: out of memory; leases keep their deadlines");
}

/* Once a second: is the state file still the one we write? */
static void check_file(coord *d, int64_t now)
{
	if (d->st == NULL || now < d->next_check_at)
		return;
	d->next_check_at = now + 1000;
	if (store_check_file(d->st, d->err, sizeof d->err) != BATON_OK) {
		LOG_E("state file lost; stopping, serving nothing more", "error", d->err);
		d->exit_status = DAEMON_EXIT_IOERR;
	}
}

static int loop(coord *d)
{
	struct pollfd pfd = {.fd = d->sig->wake_fd, .events = POLLIN};
	while (!d->sig->stop && d->exit_status == 0) {
		int64_t now = now_ms(d);
		int timeout = poll_timeout(d, now);
		guard_planned(&d->g, now + timeout);
		if (poll(&pfd, 1, timeout) > 0)
			drain_wake(d);
		now = now_ms(d);
		if (guard_woke(&d->g, now))
			LOG_W(
			    "the coordinator's loop woke up late; holding back lease deadlines until it has "
			    "caught up with the broker");
		if (d->sig->reopen_log) {
			d->sig->reopen_log = 0;
			log_reopen();
		}
		if (!take_inbox(d))
			return DAEMON_EXIT_UNAVAILABLE;
		if (d->exit_status != 0)
			break;
		now = now_ms(d);
		if (d->retry_at && now >= d->retry_at) {
			d->retry_at = 0;
			broker_start(d->b);
		}
		if (guard_marker_due(&d->g)) {
			publish_presence(d, true);
			guard_marker_sent(&d->g, now);
		}
		resume_leases(d, now);
		if (!guard_paused(&d->g) && table_tick(d->t, now) != BATON_OK)
			LOG_E("tick failed: out of memory; retrying");
		check_file(d, now);
		if (d->exit_status != 0 || !flush(d))
			break;
		if (snapdue_ready(&d->due, now))
			snaps_flush(d, now);
		if (now >= d->next_stats_at) {
			publish_stats(d, now);
			d->next_stats_at = now + (int64_t)d->cfg->stats_interval_ms;
		}
		publish_metrics(d);
	}
	return d->exit_status;
}

/* ---- start and stop ---------------------------------------------------- */

/* SIGTERM: answer what was received, then disconnect cleanly. Returns the
 * exit status: 74 when a batch could not be committed (its answers were never
 * sent), after saying what it held. */
static int shut_down(coord *d)
{
	LOG_I("stopping: answering what was received, then disconnecting");
	if (!d->uncommitted) {
		take_inbox(d); /* requests already acknowledged to the broker are ours */
		if (d->exit_status == DAEMON_EXIT_CONFLICT) {
			broker_stop(d->b, 5000); /* another instance's presence stays as it is */
			return DAEMON_EXIT_CONFLICT;
		}
		if (!guard_paused(&d->g))
			table_tick(d->t, now_ms(d));
		flush(d);
		snaps_flush(d, now_ms(d));
	}
	int status = DAEMON_EXIT_OK;
	if (d->uncommitted) {
		char a[24], r[24], i[24];
		u64s(a, sizeof a, d->lost_answers);
		u64s(r, sizeof r, d->lost_resources);
		u64s(i, sizeof i, d->lost_ids);
		LOG_E("stopped with a batch not committed: its answers were never sent and its changes are "
		      "not on disk",
		      "answers", a, "resources", r, "ids", i, "error", d->err);
		status = DAEMON_EXIT_IOERR;
	}
	publish_presence(d, false);
	broker_stop(d->b, 5000);
	LOG_I("stopped", "backlog", broker_backlog(d->b) ? "not drained" : "drained");
	return status;
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
	int64_t since = 0;
	char instance[GUARD_INSTANCE_MAX + 1];
	if (!guard_instance_new(instance, sizeof instance)) {
		LOG_E("cannot draw a random instance id");
		status = DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	baton_err rc = dmn_open_state(&d);
	if (rc != BATON_OK) {
		LOG_E("cannot open the state", "path", cfg->state, "error",
		      d.err[0] ? d.err : baton_strerror(rc));
		status = rc == BATON_E_STORE_LOCKED ? DAEMON_EXIT_CONFLICT : DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	if ((rc = dmn_open_metrics(&d)) != BATON_OK) {
		LOG_E("cannot serve metrics", "error", d.err[0] ? d.err : baton_strerror(rc));
		status = rc == BATON_E_INVAL ? DAEMON_EXIT_USAGE : DAEMON_EXIT_UNAVAILABLE;
		goto out;
	}
	if (names_topic(d.coord_topic, sizeof d.coord_topic, cfg->prefix, NAMES_COORDINATOR, NULL, NULL) !=
	        BATON_OK ||
	    (status = dmn_look_first(&d, &since)) != DAEMON_EXIT_OK || sig->stop)
		goto out;
	/* Leases that ran out while we were down end once we have caught up
	 * with what the broker queued for us, after the outage is added. */
	guard_init(&d.g, instance, since);
	if ((rc = dmn_open_broker(&d)) != BATON_OK) {
		LOG_E("cannot start the MQTT client", "error", d.err[0] ? d.err : broker_error(d.b));
		status = rc == BATON_E_INVAL ? DAEMON_EXIT_USAGE : DAEMON_EXIT_UNAVAILABLE;
		goto out;
	}
	if (!flush(&d)) {
		status = d.exit_status ? d.exit_status : DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	LOG_I("started", "version", BATON_VERSION, "broker", cfg->broker, "prefix", cfg->prefix, "state",
	      cfg->state, "instance", instance);
	status = loop(&d);
	if (status == DAEMON_EXIT_OK) {
		status = shut_down(&d);
	} else if (status == DAEMON_EXIT_CONFLICT) {
		broker_stop(d.b, 5000); /* cleanly: no Will over the other instance's presence */
	} else if (status == DAEMON_EXIT_IOERR) {
		publish_presence(&d, false);
		broker_stop(d.b, 5000);
	}
out:
	snapdue_deinit(&d.due);
	metrics_free(d.m); /* its HTTP thread reads nothing else of ours */
	broker_free(d.b);
	store_close(d.st);
	table_free(d.t);
	free(d.clears);
	return status;
}
