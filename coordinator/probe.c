/*
 * probe.c - the look at the broker before serving (probe.h says why and
 * how), for the single process at its start and a group's leader before it
 * takes the session.
 *
 * Owns its own broker client from probe_start to probe_free and nothing
 * after. Never publishes. Logs what it waits for.
 */
#include "probe.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "log.h"
#include "names.h"
#include "wire.h"

struct probe {
	probe_options o; /* its pointers borrowed */
	broker *b;
	probe_result *r; /* &res */
	probe_result res;
	bool synced;
	bool live;          /* a presence or stats published while we looked */
	int64_t will_until; /* 0: not waiting for a Will */
	int64_t retry_at, backoff;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void raise_floor(probe_result *r, uint64_t floor, const char *what, const char *arg)
{
	if (floor <= r->floor)
		return;
	r->floor = floor;
	snprintf(r->floor_source, sizeof r->floor_source, "%s%s%.60s", what, arg ? " " : "", arg ? arg : "");
}

static void on_presence(probe *p, const broker_msg *m)
{
	wire_presence w;
	if (m->len == 0 || wire_presence_decode(m->payload, m->len, &w) != BATON_OK)
		return;
	const char *inst = w.instance ? w.instance : "";
	if (guard_group_own(&w, p->o.group, p->o.n_group)) {
		wire_presence_deinit(&w); /* one of this group's own leaders: never a rival */
		return;
	}
	if (w.online && !m->retained)
		p->live = true;
	if (w.online) {
		p->r->other = true;
		snprintf(p->r->other_instance, sizeof p->r->other_instance, "%s", inst);
		p->r->other_started_ms = w.started_at_ms;
	} else if (p->r->other && strcmp(inst, p->r->other_instance) == 0) {
		p->r->other = false; /* its Will (or its clean stop): nobody serves */
		if (p->will_until != 0)
			LOG_I("the other instance's Will arrived; starting", "instance", inst);
	}
	wire_presence_deinit(&w);
}

static void on_stats(probe *p, const broker_msg *m)
{
	wire_stats s;
	if (m->len == 0 || wire_stats_decode(m->payload, m->len, &s) != BATON_OK)
		return;
	if (!m->retained)
		p->live = true; /* published just now: someone serves the prefix */
	raise_floor(p->r, s.next_token, "P/stats next_token", NULL);
	p->r->last_alive_ms = s.at_ms;
	wire_stats_deinit(&s);
}

static void on_message(probe *p, const broker_msg *m)
{
	const char *prefix = p->o.prefix;
	size_t plen = strlen(prefix);
	names_kind kind;
	const char *res;
	size_t res_len;
	if (m->topic_len <= plen || strncmp(m->topic, prefix, plen) != 0 || m->topic[plen] != '/')
		return;
	const char *rest = m->topic + plen + 1;
	if (strcmp(rest, "coordinator") == 0) {
		on_presence(p, m);
	} else if (strcmp(rest, "stats") == 0) {
		on_stats(p, m);
	} else if (m->len > 0 &&
	           names_resource_topic_parse(prefix, m->topic, m->topic_len, &kind, &res, &res_len) ==
	               BATON_OK &&
	           kind == NAMES_STATE) {
		wire_snapshot s;
		if (wire_snapshot_decode(m->payload, m->len, &s) == BATON_OK) {
			uint64_t top = s.holder != NULL ? s.token : 0;
			for (size_t i = 0; i < s.n_holders; i++) /* a read lock's later holders */
				if (s.holders[i].token > top)
					top = s.holders[i].token;
			if (top > 0 && top < UINT64_MAX)
				raise_floor(p->r, top + 1, "the retained snapshot of", s.resource);
			wire_snapshot_deinit(&s);
		}
	}
}

/* After the connect: the three filters, then P/state/# unsubscribed with an
 * acknowledgement that marks the end of every retained message of the three.
 * P/coordinator and P/stats stay subscribed: another instance's Will or sign
 * of life may still come. */
static baton_err look(probe *p)
{
	char f[3][NAMES_TOPIC_MAX + 1];
	const char *prefix = p->o.prefix;
	if (names_filter(f[0], sizeof f[0], prefix, NAMES_COORDINATOR, NULL, NULL) != BATON_OK ||
	    names_filter(f[1], sizeof f[1], prefix, NAMES_STATS, NULL, NULL) != BATON_OK ||
	    names_filter(f[2], sizeof f[2], prefix, NAMES_STATE, NULL, NULL) != BATON_OK)
		return BATON_E_INVAL;
	for (int i = 0; i < 3; i++)
		if (broker_subscribe(p->b, f[i]) != BATON_OK)
			return BATON_E_BROKER;
	if (broker_sync(p->b, f[2]) != BATON_OK)
		return BATON_E_BROKER;
	return BATON_OK;
}

/* One take of the inbox. Returns an error to give up with. */
static baton_err take(probe *p, char *err, size_t cap)
{
	broker_inbox in;
	baton_err rc = BATON_OK;
	broker_take(p->b, &in);
	if (in.refused) {
		snprintf(err, cap, "%s", broker_error(p->b));
		rc = BATON_E_BROKER;
	} else if (in.failures > 0 && p->retry_at == 0) {
		LOG_W("cannot reach the broker, retrying", "error", broker_error(p->b));
		p->backoff = p->backoff ? (p->backoff * 2 > 30000 ? 30000 : p->backoff * 2) : 500;
		p->retry_at = mono_ms() + p->backoff;
	}
	if (rc == BATON_OK && in.connects > 0 && (rc = look(p)) != BATON_OK)
		snprintf(err, cap, "cannot subscribe on the broker: %s", broker_error(p->b));
	for (broker_msg *m = in.msgs; rc == BATON_OK && m != NULL; m = m->next)
		on_message(p, m);
	if (in.syncs > 0)
		p->synced = true;
	broker_msgs_free(in.msgs);
	return rc;
}

/* Done when everything retained was seen and, if another instance looked
 * online, it either showed it is alive (a live P/stats or presence: it
 * serves), or its Will came, or it stayed silent for will_wait_ms (a
 * presence left behind by a broker that restarted without the connection
 * that would have fired the Will). */
static bool done(probe *p, int64_t now)
{
	if (!p->synced)
		return false;
	if (!p->r->other || p->live)
		return true;
	if (p->will_until == 0) {
		p->will_until = now + p->o.will_wait_ms;
		LOG_W("another coordinator's presence is online on this prefix; waiting for its Will or a "
		      "sign of life",
		      "instance",
		      p->r->other_instance[0] ? p->r->other_instance : "(none: an older coordinator)");
	}
	if (now < p->will_until)
		return false;
	LOG_W("the other coordinator showed no sign of life; taking its presence as stale", "instance",
	      p->r->other_instance);
	p->r->other = false;
	return true;
}

baton_err probe_start(const probe_options *o, probe **out, char *err, size_t cap)
{
	probe *p = calloc(1, sizeof *p);
	if (p == NULL)
		return BATON_E_NOMEM;
	p->o = *o;
	p->r = &p->res;
	baton_err rc = broker_new(&o->broker, &p->b, err, cap);
	if (rc == BATON_OK && (rc = broker_start(p->b)) != BATON_OK)
		snprintf(err, cap, "%s", broker_error(p->b));
	if (rc != BATON_OK) {
		probe_free(p);
		return rc;
	}
	*out = p;
	return BATON_OK;
}

baton_err probe_step(probe *p, bool *finished, int *wait_ms, char *err, size_t cap)
{
	baton_err rc = take(p, err, cap);
	if (rc == BATON_OK && p->retry_at && mono_ms() >= p->retry_at) {
		p->retry_at = 0;
		broker_start(p->b);
	}
	int64_t now = mono_ms();
	*finished = rc == BATON_OK && done(p, now);
	int64_t next = p->will_until ? p->will_until : now + 1000;
	if (p->retry_at && p->retry_at < next)
		next = p->retry_at;
	*wait_ms = next > now ? (int)(next - now) : 0;
	return rc;
}

const probe_result *probe_result_of(const probe *p)
{
	return &p->res;
}

void probe_free(probe *p)
{
	if (p == NULL)
		return;
	if (p->b != NULL && broker_connected(p->b))
		broker_stop(p->b, 1000);
	broker_free(p->b);
	free(p);
}

baton_err probe_run(const probe_options *o, probe_result *out, char *err, size_t cap)
{
	probe *p = NULL;
	struct pollfd pfd = {.fd = o->broker.wake_fd, .events = POLLIN};
	memset(out, 0, sizeof *out);
	baton_err rc = probe_start(o, &p, err, cap);
	for (bool finished = false; rc == BATON_OK;) {
		int wait_ms = 0;
		rc = probe_step(p, &finished, &wait_ms, err, cap);
		if (rc != BATON_OK || finished)
			break;
		if (*o->stop) {
			rc = BATON_E_CANCELLED;
			break;
		}
		if (poll(&pfd, 1, wait_ms) > 0) {
			uint64_t v;
			ssize_t n = read(o->broker.wake_fd, &v, sizeof v);
			(void)n;
		}
	}
	if (rc == BATON_OK)
		*out = p->res;
	probe_free(p);
	return rc;
}
