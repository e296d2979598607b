/*
 * group_guard.c - a group's leader against another coordinator on its
 * prefix (group_guard.h says the rule).
 *
 * Owns the probe's connection while a look is under way and nothing else;
 * publishes nothing; logs what it decides, loudly when it refuses.
 */
#include "group_guard.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"

void gguard_init(gguard *gg, const config *cfg, int wake_fd)
{
	memset(gg, 0, sizeof *gg);
	gg->cfg = cfg;
	gg->wake_fd = wake_fd;
	guard_init(&gg->g, "", 0);
}

void gguard_members(gguard *gg, const uint64_t *ids, size_t n)
{
	gg->n_ids = n < sizeof gg->ids / sizeof gg->ids[0] ? n : sizeof gg->ids / sizeof gg->ids[0];
	memcpy(gg->ids, ids, gg->n_ids * sizeof *ids);
}

void gguard_stop(gguard *gg)
{
	probe_free(gg->pr);
	gg->pr = NULL;
	gg->st = GGUARD_IDLE;
	gg->why[0] = '\0';
}

void gguard_deinit(gguard *gg)
{
	gguard_stop(gg);
}

static void rival(gguard *gg, const char *instance, int64_t started_ms, const char *what)
{
	char started[32] = "";
	if (started_ms > 0)
		wire_time_format(started_ms, started, sizeof started);
	char why[WIRE_REASON_TEXT_MAX + 1];
	snprintf(why, sizeof why, "another coordinator serves this prefix (instance %.64s)",
	         instance[0] ? instance : "none: an older coordinator");
	if (strcmp(why, gg->why) != 0)
		LOG_E(what, "instance", instance[0] ? instance : "(none: an older coordinator)", "started_at",
		      started, "prefix", gg->cfg->prefix);
	snprintf(gg->why, sizeof gg->why, "%s", why);
	gg->st = GGUARD_RIVAL;
	gg->again_at = dclock_mono_ms() + GGUARD_AGAIN_MS;
}

void gguard_look(gguard *gg)
{
	const config *c = gg->cfg;
	char id[NAMES_NODE_MAX + 32];
	snprintf(id, sizeof id, "%.60s-probe-%llu", c->client_id, (unsigned long long)c->member_id);
	probe_options o = {.broker = daemon_broker_options(c, gg->wake_fd, id),
	                   .prefix = c->prefix,
	                   .will_wait_ms = 20000,
	                   .group = gg->ids,
	                   .n_group = gg->n_ids};
	o.broker.clean_session = true; /* a look only: never the group's session */
	probe_free(gg->pr);
	gg->pr = NULL;
	if (probe_start(&o, &gg->pr, gg->err, sizeof gg->err) != BATON_OK) {
		LOG_E("cannot look at the broker before serving; looking again later", "error", gg->err);
		gg->st = GGUARD_RIVAL; /* not serving unlooked: retried like a refusal */
		gg->again_at = dclock_mono_ms() + GGUARD_AGAIN_MS;
		return;
	}
	gg->st = GGUARD_LOOKING;
	gg->started_at = dclock_mono_ms();
}

gguard_state gguard_step(gguard *gg, int *wait_ms)
{
	*wait_ms = -1;
	if (gg->st == GGUARD_RIVAL) {
		int64_t now = dclock_mono_ms();
		if (now < gg->again_at) {
			*wait_ms = (int)(gg->again_at - now);
			return gg->st;
		}
		gguard_look(gg);
	}
	if (gg->st == GGUARD_CLEAR)
		gg->st = GGUARD_IDLE;
	if (gg->st != GGUARD_LOOKING)
		return gg->st;
	bool finished = false;
	baton_err rc = probe_step(gg->pr, &finished, wait_ms, gg->err, sizeof gg->err);
	if (rc == BATON_E_BROKER) {
		LOG_E("broker refused us; check --username/--password-file/--client-id", "error", gg->err);
		probe_free(gg->pr);
		gg->pr = NULL;
		return gg->st = GGUARD_REFUSED;
	}
	if (rc != BATON_OK) {
		probe_free(gg->pr);
		gg->pr = NULL;
		rival(gg, "", 0, "cannot look at the broker before serving; looking again later");
	}
	if (rc != BATON_OK || !finished)
		return gg->st;
	probe_result r = *probe_result_of(gg->pr);
	probe_free(gg->pr);
	gg->pr = NULL;
	if (r.other) {
		rival(gg, r.other_instance, r.other_started_ms,
		      "another coordinator serves this prefix; this group's leader refuses to serve until "
		      "it is gone");
		return gg->st;
	}
	if (gg->why[0] != '\0')
		LOG_I("no other coordinator serves this prefix any more; the group's leader serves");
	gg->why[0] = '\0';
	return gg->st = GGUARD_CLEAR;
}

void gguard_connected(gguard *gg, const char *instance)
{
	/* What the broker delivers before our own presence comes back predates
	 * this connection: the look just made was its business. */
	guard_init(&gg->g, instance, 0);
}

bool gguard_presence(gguard *gg, const broker_msg *m)
{
	wire_presence p;
	if (m->len == 0 || wire_presence_decode(m->payload, m->len, &p) != BATON_OK)
		return false;
	bool ours = p.instance != NULL && strcmp(p.instance, gg->g.instance) == 0;
	bool found = false;
	if ((ours || !guard_group_own(&p, gg->ids, gg->n_ids)) &&
	    guard_presence(&gg->g, &p, m->retained) == GUARD_CONFLICT) {
		rival(gg, p.instance ? p.instance : "", p.started_at_ms,
		      "another coordinator appeared on this prefix; this group's leader stops serving until "
		      "it is gone");
		found = true;
	}
	wire_presence_deinit(&p);
	return found;
}

const char *gguard_why(const gguard *gg)
{
	return gg->why[0] != '\0' ? gg->why : NULL;
}
