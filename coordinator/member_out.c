/*
 * member_out.c - what a group member publishes about itself: P/stats and
 * the metrics' gauges (serving leader), and every member's retained health
 * on P/coordinator/<member> over its own small connection (its own client
 * id, clean session, a Will), which never subscribes to anything.
 *
 * Reads the member's state (member.h); decides nothing about raft or
 * locks. One owner thread: the member's loop.
 */
#include "member.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wire_member.h"

/* ---- publishing (serving leader only) ------------------------------------ */

bool member_serving(const member *m)
{
	return m->b != NULL && m->ph == PH_SERVING;
}

wire_presence member_presence(const member *m, bool online)
{
	/* The instance names this leadership (member and term): a single
	 * coordinator started on the prefix sees another instance and refuses. */
	return (wire_presence){.online = online,
	                       .version = BATON_VERSION,
	                       .started_at_ms = m->a.started_at,
	                       .member = m->cfg->member_id,
	                       .instance = m->instance[0] ? m->instance : NULL};
}

void member_publish_stats(member *m, int64_t now)
{
	wire_stats s;
	apply_stats(&m->a, now, m->a.started_at, &s);
	s.backlog = broker_backlog(m->b);
	pub_stats(&m->pub, &s);
}

void member_publish_metrics(member *m, const group_info *gi)
{
	if (m->mt == NULL)
		return;
	table_counts c;
	table_counts_get(m->a.t, &c);
	metrics_gauges(m->mt, &c, m->b != NULL ? broker_backlog(m->b) : 0,
	               m->b != NULL && broker_connected(m->b), member_serving(m));
	metrics_group g = {.member = m->cfg->member_id,
	                   .role = group_role_name(gi->role),
	                   .term = gi->term,
	                   .leader = gi->leader,
	                   .applied = gi->applied,
	                   .commit = gi->commit,
	                   .proposals_refused = m->proposals_refused};
	metrics_group_gauges(m->mt, &g);
	metrics_publish(m->mt);
}

/* ---- health (every member, its own connection) ---------------------------- */

static void health_topic(member *m, char *buf, size_t cap)
{
	char id[24];
	u64s(id, sizeof id, m->cfg->member_id);
	if (names_topic(buf, cap, m->cfg->prefix, NAMES_MEMBER, id, NULL) != BATON_OK)
		buf[0] = '\0'; /* the prefix and the id were validated: cannot happen */
}

/* The configuration this member knows, for its health; says once when this
 * member is no longer in it, or a standby in it (removed: it serves nothing
 * from now on). */
static size_t health_members(member *m, wire_peer *out)
{
	gm_member ms[GROUP_MAX_PEERS];
	size_t n = group_members_get(m->g, ms, GROUP_MAX_PEERS);
	bool in = false;
	for (size_t i = 0; i < n; i++) {
		out[i].id = ms[i].id;
		snprintf(out[i].address, sizeof out[i].address, "%s", ms[i].address);
		out[i].role = ms[i].role;
		/* A standby is a member being removed (group_members.c): a spare
		 * is one joining. */
		in = in || (ms[i].id == m->cfg->member_id && strcmp(ms[i].role, "standby") != 0);
	}
	if (n > 0 && !in && !m->removed_said) {
		LOG_W("this member was removed from the group's configuration; it serves nothing and can be "
		      "stopped (start it again only with an empty --raft-dir and --join)");
		m->removed_said = true;
	}
	return n;
}

void member_publish_health(member *m, const group_info *gi, bool online)
{
	wire_peer peers[WIRE_PEERS_MAX];
	wire_member w = {.member = m->cfg->member_id,
	                 .online = online,
	                 .role = group_role_name(gi->role),
	                 .term = gi->term,
	                 .leader = gi->leader,
	                 .applied = gi->applied,
	                 .at_ms = wall_ms(m),
	                 .members = peers,
	                 .n_members = online && m->g != NULL ? health_members(m, peers) : 0,
	                 .not_serving = gguard_why(&m->gg) != NULL,
	                 .reason = gguard_why(&m->gg)};
	m->shown_refusing = w.not_serving;
	char *json = NULL;
	size_t len = 0;
	char topic[NAMES_TOPIC_MAX + 32];
	health_topic(m, topic, sizeof topic);
	if (m->health != NULL && wire_member_encode(&w, &json, &len) == BATON_OK &&
	    broker_publish(m->health, topic, json, len, 1, true) != BATON_OK)
		LOG_W("health publish failed", "error", broker_error(m->health));
	free(json);
	m->shown = *gi;
	m->shown_conf = m->g != NULL ? group_conf_index(m->g) : 0;
	m->next_health_at = wall_ms(m) + 5000;
}

baton_err member_open_health(member *m)
{
	char topic[NAMES_TOPIC_MAX + 32], id[256];
	health_topic(m, topic, sizeof topic);
	snprintf(id, sizeof id, "%s-member-%llu", m->cfg->client_id, (unsigned long long)m->cfg->member_id);
	wire_member gone = {.member = m->cfg->member_id};
	char *will = NULL;
	size_t len;
	baton_err rc = wire_member_encode(&gone, &will, &len);
	if (rc != BATON_OK)
		return rc;
	broker_options o = daemon_broker_options(m->cfg, m->sig->wake_fd, id);
	o.clean_session = true;
	o.will_topic = topic;
	o.will_payload = will;
	rc = broker_new(&o, &m->health, m->err, sizeof m->err);
	free(will);
	if (rc == BATON_OK)
		rc = broker_start(m->health);
	return rc;
}