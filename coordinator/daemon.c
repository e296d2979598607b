/*
 * daemon.c - the coordinator's owner loop and the glue between its edges,
 * for the single process (a replicated group's member: daemon_group.c).
 *
 * Owns the applier (the table and the store, apply.c), the publisher
 * (publish.c), the broker edge and the clock. One message's path is one
 * straight line: broker inbox -> apply_entry (wire decode, table step,
 * store commit: one transaction per batch, group commit) -> publish. No
 * answer, event or snapshot is published before the batch that produced it
 * is committed. Nothing here decides a lock rule: that is table.c's job;
 * no topic is written or split here: that is names.c's; retained snapshots
 * are throttled by the coalescer (snapdue.c, inside publish.c).
 *
 * Time: the table gets the coordinator's clock (clock.h): wall-clock
 * milliseconds advanced by the monotonic clock.
 */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "broker.h"
#include "clock.h"
#include "log.h"
#include "names.h"
#include "publish.h"
#include "store.h"
#include "table.h"
#include "wire.h"

typedef struct coord {
	const config *cfg;
	daemon_signals *sig;
	applier a;
	store *st; /* NULL with --state :memory: */
	publisher pub;
	broker *b;
	dclock clock;
	int64_t started_at_ms;
	bool ever_connected;
	int64_t retry_at;      /* first connect retry time, 0: none */
	int64_t retry_backoff; /* ms */
	int64_t next_stats_at;
	char err[512];
} coord;

static int64_t now_ms(const coord *d)
{
	return dclock_now(&d->clock);
}

static void u64s(char *buf, size_t cap, uint64_t v)
{
	snprintf(buf, cap, "%llu", (unsigned long long)v);
}

static wire_presence presence(const coord *d, bool online)
{
	return (wire_presence){.online = online, .version = BATON_VERSION, .started_at_ms = d->started_at_ms};
}

/* apply.c's callback: a committed effect goes out. */
static void on_effect(void *ctx, const table_effect *e)
{
	coord *d = ctx;
	pub_effect(&d->pub, e);
}

/* Applies one entry; a failed commit is retried (the table's state is
 * current, so rewriting the dirty rows is idempotent) until it succeeds or
 * we are told to stop; nothing is published before. */
static bool apply(coord *d, const glog_entry *e)
{
	baton_err rc = apply_entry(&d->a, e);
	int delay = 100;
	while (rc != BATON_OK) {
		LOG_E("state commit failed, retrying; nothing is published until it succeeds", "error",
		      d->a.err);
		if (d->sig->stop)
			return false;
		poll(NULL, 0, delay);
		delay = delay < 5000 ? delay * 2 : 5000;
		rc = apply_commit(&d->a);
	}
	return true;
}

static void publish_stats(coord *d, int64_t now)
{
	table_counts c;
	table_counts_get(d->a.t, &c);
	wire_stats s = {
	    .at_ms = now,
	    .uptime_ms = (uint64_t)(now - d->started_at_ms),
	    .requests = c.requests,
	    .grants = c.grants,
	    .handoffs = c.handoffs,
	    .rejections = c.rejections + d->a.bad_topics,
	    .held = c.held,
	    .waiters = c.waiters,
	    .remembered = c.remembered,
	    .backlog = broker_backlog(d->b),
	    .next_token = table_next_token(d->a.t),
	};
	pub_stats(&d->pub, &s);
}

/* ---- the loop ---------------------------------------------------------- */

static void on_connect(coord *d)
{
	d->ever_connected = true;
	d->retry_at = 0;
	if (broker_on_connected(d->b) != BATON_OK)
		LOG_E("subscribe failed", "error", broker_error(d->b));
	LOG_I("connected", "broker", d->cfg->broker, "client_id", d->cfg->client_id);
	wire_presence p = presence(d, true);
	pub_connected(&d->pub, d->a.t, &p);
}

/* The inbox as one batch entry (never encoded: the messages are borrowed);
 * the stale-snapshot sweep's messages are handled here, not applied. */
static bool apply_inbox(coord *d, broker_msg *msgs, int64_t now)
{
	size_t n = 0, cap = 0;
	glog_msg *gm = NULL;
	bool ok = true;
	for (broker_msg *m = msgs; m != NULL; m = m->next) {
		if (pub_stale_state(&d->pub, d->a.t, m))
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			glog_msg *p = realloc(gm, nc * sizeof *p);
			if (p == NULL) { /* apply what fits, then the rest */
				glog_entry e = {.kind = GLOG_BATCH, .now = now, .msgs = gm, .n_msgs = n};
				ok = ok && apply(d, &e);
				n = 0;
				if (cap == 0) {
					LOG_E("out of memory taking the inbox: message dropped");
					continue;
				}
				nc = cap;
			} else {
				gm = p;
			}
			cap = nc;
		}
		gm[n++] = (glog_msg){.topic = m->topic,
		                     .topic_len = m->topic_len,
		                     .payload = m->payload,
		                     .len = m->len,
		                     .retained = m->retained};
	}
	glog_entry e = {.kind = n > 0 ? GLOG_BATCH : GLOG_TICK, .now = now, .msgs = gm, .n_msgs = n};
	ok = ok && apply(d, &e);
	free(gm);
	return ok;
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
	apply_inbox(d, in.msgs, now);
	broker_msgs_free(in.msgs);
	return true;
}

static int poll_timeout(coord *d, int64_t now)
{
	int64_t next = table_next_deadline(d->a.t);
	if (d->next_stats_at < next)
		next = d->next_stats_at;
	if (d->retry_at && d->retry_at < next)
		next = d->retry_at;
	if (pub_due_next_at(&d->pub) < next)
		next = pub_due_next_at(&d->pub);
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
		now = now_ms(d);
		if (d->retry_at && now >= d->retry_at) {
			d->retry_at = 0;
			broker_start(d->b);
		}
		if (!take_inbox(d))
			return DAEMON_EXIT_UNAVAILABLE;
		now = now_ms(d);
		if (pub_due_ready(&d->pub, now))
			pub_due_flush(&d->pub, d->a.t, now);
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
	apply_options o = {.prefix = d->cfg->prefix, .effect = on_effect, .ctx = d};
	table_config_default(&o.table);
	o.table.default_lease_ms = (uint32_t)d->cfg->default_lease_ms;
	o.table.max_lease_ms = (uint32_t)d->cfg->max_lease_ms;
	o.table.done_ttl_ms = d->cfg->done_ttl_ms;
	baton_err rc = BATON_OK;
	if (strcmp(d->cfg->state, ":memory:") != 0 &&
	    (rc = store_open(d->cfg->state, d->cfg->sync, &d->st, d->err, sizeof d->err)) != BATON_OK)
		return rc;
	o.st = d->st;
	if ((rc = apply_init(&d->a, &o)) != BATON_OK || d->st == NULL)
		return rc;
	if ((rc = apply_load(&d->a)) != BATON_OK) {
		snprintf(d->err, sizeof d->err, "%s", d->a.err);
		return rc;
	}
	table_counts c;
	table_counts_get(d->a.t, &c);
	char held[24], waiting[24], remembered[24];
	u64s(held, sizeof held, c.held);
	u64s(waiting, sizeof waiting, c.waiters);
	u64s(remembered, sizeof remembered, c.remembered);
	LOG_I("state loaded", "path", d->cfg->state, "held", held, "waiters", waiting, "remembered",
	      remembered);
	return BATON_OK;
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
	wire_presence p = presence(d, false);
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
	if (rc == BATON_OK) {
		d->pub.b = d->b;
		rc = broker_start(d->b);
	}
	return rc;
}

static void shut_down(coord *d)
{
	LOG_I("stopping: answering what was received, then disconnecting");
	take_inbox(d); /* requests already acknowledged to the broker are ours */
	pub_due_flush(&d->pub, d->a.t, now_ms(d));
	wire_presence p = presence(d, false);
	pub_presence(&d->pub, &p);
	broker_stop(d->b, 5000);
	LOG_I("stopped", "backlog", broker_backlog(d->b) ? "not drained" : "drained");
}

int daemon_run(const config *cfg, daemon_signals *sig)
{
	coord d = {.cfg = cfg, .sig = sig};
	pub_init(&d.pub, cfg->prefix, (int64_t)cfg->snapshot_interval_ms);
	dclock_init(&d.clock);
	d.started_at_ms = now_ms(&d);
	int status = DAEMON_EXIT_OK;
	baton_err rc = open_state(&d);
	if (rc != BATON_OK) {
		LOG_E("cannot open the state", "path", cfg->state, "error",
		      d.err[0] ? d.err : baton_strerror(rc));
		status = DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	if ((rc = open_broker(&d)) != BATON_OK) {
		LOG_E("cannot start the MQTT client", "error", d.err[0] ? d.err : broker_error(d.b));
		status = rc == BATON_E_INVAL ? DAEMON_EXIT_USAGE : DAEMON_EXIT_UNAVAILABLE;
		goto out;
	}
	/* Leases that ran out while we were down end now, before anything else. */
	glog_entry tick = {.kind = GLOG_TICK, .now = now_ms(&d)};
	if (!apply(&d, &tick)) {
		status = DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	LOG_I("started", "version", BATON_VERSION, "broker", cfg->broker, "prefix", cfg->prefix, "state",
	      cfg->state);
	status = loop(&d);
	if (status == DAEMON_EXIT_OK)
		shut_down(&d);
out:
	pub_deinit(&d.pub);
	broker_free(d.b);
	apply_deinit(&d.a);
	store_close(d.st);
	return status;
}
