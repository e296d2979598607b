/*
 * daemon.c - the coordinator's owner loop and the glue between its edges.
 *
 * Owns the store, the broker edge and the clock. One message's path is one
 * straight line: broker inbox -> one GLOG_BATCH entry (never encoded) ->
 * apply.c, the path a group member uses too (wire decode -> table step ->
 * store commit, one transaction per batch: group commit -> the committed
 * effects) -> publish. What is not an input of the table stays here: our
 * own and other instances' P/coordinator (guard.c) and the sweep's stale
 * snapshots. No answer, event or snapshot is published before the batch
 * that produced it is committed. Nothing here decides a lock rule: that is
 * table.c's job; no topic is written or split here: that is names.c's;
 * everything is published through publish.c (shared with a group's
 * leader), whose coalescer (snapdue.c) throttles retained snapshots.
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
#include "publish.h"
#include "store.h"
#include "table.h"
#include "wire.h"

/* ---- publishing (publish.c) ----------------------------------------- */

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
static void note_clear(void *ctx, const char *node)
{
	coord *d = ctx;
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
		pub_clear_node(&d->pub, d->clears[i]);
	d->n_clears = 0;
}

/* Notes what a batch that will never be committed held, for the log. */
static void lose_batch(coord *d)
{
	apply_lost l;
	apply_abandon(&d->a, &l);
	d->lost_answers += l.answers;
	d->lost_resources += l.resources;
	d->lost_ids += l.ids;
	d->uncommitted = true;
	d->n_clears = 0;
}

/* apply.c's callback: a committed effect goes out. */
static void on_effect(void *ctx, const table_effect *e)
{
	coord *d = ctx;
	set_serving(d, NULL); /* a commit succeeded: serving again, said before the answers */
	pub_effect(&d->pub, e);
}

/* After apply_entry() or apply_commit() returned rc: a failed commit is
 * retried (the table's state is current, so rewriting the dirty rows is
 * idempotent) until it succeeds or we are told to stop; nothing is
 * published before, and P/coordinator and P/stats say we are not serving
 * meanwhile. A state file deleted or replaced under us ends the loop (exit
 * 74). False when the batch was not committed. */
static bool committed(coord *d, baton_err rc)
{
	int delay = 100;
	while (rc != BATON_OK) {
		publish_metrics(d); /* a scrape shows the failing commit while we retry */
		if (rc == BATON_E_STORE_MOVED) {
			LOG_E("state file lost; stopping, serving nothing more", "error", d->a.err);
			d->exit_status = DAEMON_EXIT_IOERR;
			lose_batch(d);
			return false;
		}
		LOG_E("state commit failed, retrying; nothing is published until it succeeds", "error",
		      d->a.err);
		char why[WIRE_REASON_TEXT_MAX + 1];
		snprintf(why, sizeof why, "state commits fail: %.200s", d->a.err);
		set_serving(d, why);
		if (d->sig->stop) {
			lose_batch(d);
			return false;
		}
		poll(NULL, 0, delay);
		delay = delay < 5000 ? delay * 2 : 5000;
		rc = apply_commit(&d->a);
	}
	set_serving(d, NULL);
	publish_clears(d);
	return true;
}

/* Applies what the inbox held (maybe nothing: time passing) at now as one
 * batch, and commits and publishes it. Lease and wait deadlines stay held
 * back while the guard pauses them. False when it was not committed. */
static bool apply_batch(coord *d, int64_t now)
{
	glog_entry e = {.kind = GLOG_BATCH, .now = now, .msgs = d->batch, .n_msgs = d->n_batch};
	d->a.hold = guard_paused(&d->g);
	baton_err rc = apply_entry(&d->a, &e);
	d->n_batch = 0;
	broker_msgs_free(d->inbox);
	d->inbox = NULL;
	return committed(d, rc);
}

static void publish_presence(coord *d, bool online)
{
	wire_presence p = {.online = online,
	                   .version = BATON_VERSION,
	                   .started_at_ms = d->started_at_ms,
	                   .instance = d->g.instance,
	                   .not_serving = d->not_serving[0] != '\0',
	                   .reason = d->not_serving[0] ? d->not_serving : NULL};
	pub_presence(&d->pub, &p);
}

static void publish_stats(coord *d, int64_t now)
{
	wire_stats s;
	apply_stats(&d->a, now, d->started_at_ms, &s);
	s.backlog = broker_backlog(d->b);
	s.not_serving = d->not_serving[0] != '\0';
	s.reason = d->not_serving[0] ? d->not_serving : NULL;
	pub_stats(&d->pub, &s);
}

/* The gauges, then everything recorded since the last time, to scrapes. */
static void publish_metrics(coord *d)
{
	table_counts c;
	if (d->m == NULL)
		return;
	table_counts_get(d->a.t, &c);
	metrics_gauges(d->m, &c, broker_backlog(d->b), broker_connected(d->b), d->not_serving[0] == '\0');
	metrics_publish(d->m);
}

/* ---- receiving --------------------------------------------------------- */

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

/* One message of the inbox: P/coordinator is the guard's, a retained
 * snapshot the sweep brought back is cleared when we have no such
 * resource; everything else goes into the batch, for apply.c. */
static void take_msg(coord *d, const broker_msg *m)
{
	if (m->topic_len == strlen(d->coord_topic) && memcmp(m->topic, d->coord_topic, m->topic_len) == 0) {
		handle_coordinator(d, m);
		return;
	}
	if (pub_stale_state(&d->pub, d->a.t, m))
		return;
	if (d->n_batch == d->cap_batch) {
		size_t cap = d->cap_batch ? 2 * d->cap_batch : 64;
		glog_msg *b = realloc(d->batch, cap * sizeof *b);
		if (b == NULL) {
			LOG_E("out of memory taking the inbox; message dropped until its agent re-sends");
			return;
		}
		d->batch = b;
		d->cap_batch = cap;
	}
	d->batch[d->n_batch++] = (glog_msg){.topic = m->topic,
	                                    .topic_len = m->topic_len,
	                                    .payload = m->payload,
	                                    .len = m->len,
	                                    .retained = m->retained,
	                                    .arrived_ns = m->arrived_ns};
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
	 * republish that follows; pub_stale_state clears the unknown ones. */
	pub_sweep(&d->pub);
	/* Our presence is also the marker of a gap's end: once it comes back,
	 * everything the broker queued for us before it has been taken. */
	guard_connected(&d->g);
	publish_presence(d, true);
	guard_marker_sent(&d->g, now_ms(d));
	pub_republish(&d->pub, d->a.t);
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
	d->pub.b = NULL;
	if (dmn_open_broker(d) != BATON_OK) {
		LOG_E("cannot start the MQTT client", "error", d->err);
		return false;
	}
	return true;
}

/* Takes what the broker edge collected: the table's inputs wait in
 * d->batch for apply_batch(). Returns false on a fatal refusal. */
static bool take_inbox(coord *d)
{
	broker_inbox in;
	broker_take(d->b, &in);
	guard_take_begin(&d->g);
	int64_t now = now_ms(d);
	broker_msgs_free(d->inbox); /* a batch not applied (cannot happen) is dropped */
	d->inbox = NULL;
	d->n_batch = 0;
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
		take_msg(d, m);
	d->inbox = in.msgs;
	return true;
}

/* Wakes at least once a second (the state file check, and so that a late
 * wake-up is a measure of a stall); lease and wait deadlines do not count
 * while they are held back. */
static int poll_timeout(coord *d, int64_t now)
{
	int64_t next = guard_paused(&d->g) ? INT64_MAX : table_next_deadline(d->a.t);
	if (d->next_stats_at < next)
		next = d->next_stats_at;
	if (d->retry_at && d->retry_at < next)
		next = d->retry_at;
	if (pub_due_next_at(&d->pub) < next)
		next = pub_due_next_at(&d->pub);
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
 * by the gap (in the batch applied next, after its messages), before any
 * deadline may fire. */
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
	d->a.extend_ms = gap;
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
		check_file(d, now);
		if (d->exit_status != 0 || !apply_batch(d, now))
			break;
		if (pub_due_ready(&d->pub, now))
			pub_due_flush(&d->pub, d->a.t, now);
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
		apply_batch(d, now_ms(d));
		pub_due_flush(&d->pub, d->a.t, now_ms(d));
	}
	int status = DAEMON_EXIT_OK;
	if (d->uncommitted) {
		char a[24], r[24], i[24];
		u64s(a, sizeof a, d->lost_answers);
		u64s(r, sizeof r, d->lost_resources);
		u64s(i, sizeof i, d->lost_ids);
		LOG_E("stopped with a batch not committed: its answers were never sent and its changes are "
		      "not on disk",
		      "answers", a, "resources", r, "ids", i, "error", d->a.err);
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
	pub_init(&d.pub, cfg->prefix, (int64_t)cfg->snapshot_interval_ms);
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
	apply_options ao = {.effect = on_effect, .offline = note_clear, .ctx = &d};
	baton_err rc = dmn_open_state(&d, &ao);
	if (rc != BATON_OK) {
		LOG_E("cannot open the state", "path", cfg->state, "error",
		      d.err[0] ? d.err : baton_strerror(rc));
		status = rc == BATON_E_STORE_LOCKED ? DAEMON_EXIT_CONFLICT : DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	if ((rc = daemon_open_metrics(cfg->metrics_listen, &d.m, d.err, sizeof d.err)) != BATON_OK) {
		LOG_E("cannot serve metrics", "error", d.err[0] ? d.err : baton_strerror(rc));
		status = rc == BATON_E_INVAL ? DAEMON_EXIT_USAGE : DAEMON_EXIT_UNAVAILABLE;
		goto out;
	}
	d.a.m = d.m; /* opened after the state: its errors are reported first */
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
	if (!committed(&d, apply_commit(&d.a))) { /* what loading changed (evicted ids) */
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
	pub_deinit(&d.pub);
	metrics_free(d.m); /* its HTTP thread reads nothing else of ours */
	broker_free(d.b);
	apply_deinit(&d.a);
	store_close(d.st);
	broker_msgs_free(d.inbox);
	free(d.batch);
	free(d.clears);
	return status;
}
