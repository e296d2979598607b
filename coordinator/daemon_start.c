/*
 * daemon_start.c - what the coordinator does before its loop serves: open
 * the table and the state file, look at the broker with a probe of its own
 * (another instance on the prefix, the token floor, the previous instance's
 * last sign of life), and create the serving MQTT client with its Will and
 * subscriptions.
 *
 * Owns nothing after it returns: the daemon's coord holds what it made
 * (the applier, apply.h, is the daemon's path of every input).
 */
#include "daemon_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "probe.h"

baton_err dmn_open_state(coord *d, apply_options *o)
{
	baton_err rc = BATON_OK;
	if (strcmp(d->cfg->state, ":memory:") != 0)
		rc = store_open_ex(d->cfg->state, d->cfg->sync, d->cfg->fresh ? STORE_OPEN_FRESH : 0, &d->st,
		                   d->err, sizeof d->err);
	if (rc != BATON_OK)
		return rc;
	o->prefix = d->cfg->prefix;
	o->st = d->st;
	o->m = d->m;
	table_config_default(&o->table);
	o->table.default_lease_ms = (uint32_t)d->cfg->default_lease_ms;
	o->table.max_lease_ms = (uint32_t)d->cfg->max_lease_ms;
	o->table.done_ttl_ms = d->cfg->done_ttl_ms;
	if ((rc = apply_init(&d->a, o)) != BATON_OK)
		return rc;
	if (d->st == NULL)
		return BATON_OK;
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

broker_options daemon_broker_options(const config *cfg, int wake_fd, const char *client_id)
{
	broker_options o = {
	    .uri = cfg->broker,
	    .client_id = client_id,
	    .username = cfg->username,
	    .password = cfg->password,
	    .cafile = cfg->cafile,
	    .cert = cfg->cert,
	    .key = cfg->key,
	    .keepalive_s = 10,
	    .wake_fd = wake_fd,
	};
	return o;
}

static broker_options broker_base(const coord *d, const char *client_id)
{
	return daemon_broker_options(d->cfg, d->sig->wake_fd, client_id);
}

baton_err daemon_open_metrics(const char *addr, metrics **out, char *err, size_t cap)
{
	int port = 0;
	*out = NULL;
	if (addr == NULL)
		return BATON_OK;
	metrics *m = metrics_new();
	if (m == NULL)
		return BATON_E_NOMEM;
	baton_err rc = metrics_listen(m, addr, &port, err, cap);
	if (rc != BATON_OK) {
		metrics_free(m);
		return rc;
	}
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	LOG_I("metrics listening", "address", addr, "port", p, "path", "/metrics");
	*out = m;
	return BATON_OK;
}

baton_err dmn_open_broker(coord *d)
{
	char req[NAMES_TOPIC_MAX + 1], node[NAMES_TOPIC_MAX + 1], will_topic[NAMES_TOPIC_MAX + 1];
	const char *prefix = d->cfg->prefix;
	baton_err rc;
	/* P/req/#, not P/req/+: a topic with a bad node part must arrive to be
	 * counted as a bad_topic. P/coordinator: our presence's echo, or another
	 * instance's. */
	if ((rc = names_filter(req, sizeof req, prefix, NAMES_REQ, "#", NULL)) != BATON_OK ||
	    (rc = names_filter(node, sizeof node, prefix, NAMES_NODE, NULL, NULL)) != BATON_OK ||
	    (rc = names_topic(will_topic, sizeof will_topic, prefix, NAMES_COORDINATOR, NULL, NULL)) !=
	        BATON_OK)
		return rc; /* the prefix was validated: cannot happen */
	const char *subs[] = {req, node, will_topic};
	wire_presence p = {.online = false,
	                   .version = BATON_VERSION,
	                   .started_at_ms = d->started_at_ms,
	                   .instance = d->g.instance};
	char *will = NULL;
	size_t len;
	if ((rc = wire_presence_encode(&p, &will, &len)) != BATON_OK)
		return rc;
	broker_options o = broker_base(d, d->cfg->client_id);
	o.clean_session = false;
	o.will_topic = will_topic;
	o.will_payload = will;
	o.subs = subs;
	o.n_subs = 3;
	rc = broker_new(&o, &d->b, d->err, sizeof d->err);
	d->pub.b = d->b;
	free(will);
	if (rc == BATON_OK)
		rc = broker_start(d->b);
	return rc;
}

/* Another instance serving the prefix; the token floor and the previous
 * instance's last sign of life. On a refusal returns its exit status. */
int dmn_look_first(coord *d, int64_t *since)
{
	char probe_id[NAMES_NODE_MAX + 16];
	snprintf(probe_id, sizeof probe_id, "%.60s-probe", d->cfg->client_id);
	probe_options o = {
	    .broker = broker_base(d, probe_id),
	    .prefix = d->cfg->prefix,
	    .will_wait_ms = 20000,
	    .stop = &d->sig->stop,
	};
	o.broker.clean_session = true; /* a look only: never another instance's session */
	probe_result r;
	baton_err rc = probe_run(&o, &r, d->err, sizeof d->err);
	if (rc == BATON_E_CANCELLED)
		return DAEMON_EXIT_OK;
	if (rc == BATON_E_BROKER) {
		LOG_E("broker refused us; check --username/--password-file/--client-id", "error", d->err);
		return DAEMON_EXIT_UNAVAILABLE;
	}
	if (rc != BATON_OK) {
		LOG_E("cannot look at the broker before serving", "error",
		      d->err[0] ? d->err : baton_strerror(rc));
		return rc == BATON_E_INVAL ? DAEMON_EXIT_USAGE : DAEMON_EXIT_UNAVAILABLE;
	}
	if (r.other) {
		char started[32] = "";
		if (r.other_started_ms > 0)
			wire_time_format(r.other_started_ms, started, sizeof started);
		LOG_E("another coordinator serves this prefix; refusing to start", "instance",
		      r.other_instance[0] ? r.other_instance : "(none: an older coordinator)", "started_at",
		      started, "prefix", d->cfg->prefix);
		return DAEMON_EXIT_CONFLICT;
	}
	uint64_t before = table_next_token(d->a.t);
	if (table_raise_next_token(d->a.t, r.floor)) {
		char from[24], to[24];
		u64s(from, sizeof from, before);
		u64s(to, sizeof to, r.floor);
		LOG_W("token floor raised the counter: the broker shows tokens the state did not know",
		      "from", from, "to", to, "source", r.floor_source);
	}
	int64_t now = now_ms(d);
	*since = now;
	if (r.last_alive_ms > 0 && r.last_alive_ms < now)
		*since = now - r.last_alive_ms > (int64_t)d->cfg->max_lease_ms
		             ? now - (int64_t)d->cfg->max_lease_ms
		             : r.last_alive_ms;
	return DAEMON_EXIT_OK;
}
