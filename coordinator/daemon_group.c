/*
 * daemon_group.c - the coordinator as one member of a replicated group.
 *
 * Owns the member's loop: raft (group.c) and the broker edges are polled on
 * this one thread, so the table, the store and every callback stay on it.
 * The path of a request: the leader takes a batch from its broker inbox,
 * stamps it with its clock and proposes it as one log entry; once
 * committed, every member applies it through apply.c (decode -> table ->
 * store); only the serving leader publishes the effects. Nothing here
 * decides a lock rule.
 *
 * Leadership: a member that becomes leader proposes its table configuration
 * and a leadership entry (term, member, lease extension); when that entry is
 * applied it looks at the broker for another coordinator serving the prefix
 * (group_guard.c: it refuses to serve while one does, and stops serving if
 * one appears), then connects with the group's one client id (its persistent
 * session is the group's inbox), publishes P/coordinator with a new
 * started_at and its member id, republishes every snapshot, then serves. A
 * member that stops being leader drops its connection and every effect not
 * yet published at once. A serving leader that loses the broker reconnects
 * only after a raft barrier proves it still leads a quorum.
 *
 * Every member keeps a small connection of its own (its own client id,
 * clean session, a Will) for its retained health on P/coordinator/<member>;
 * it never subscribes to anything. What a member publishes about itself
 * (health, P/stats, the gauges) is in member_out.c; the loop's state, which
 * both share, in member.h.
 *
 * Metrics (--metrics-listen): apply.c records what every member applies
 * (requests, commits, batches: the same counts on every member); this loop
 * adds the gauges, the group's (role, term, leader, indexes), and the
 * leader's request latency: the arrival of what it proposed, matched with
 * the entries as they are applied (the log does not carry it).
 */
#include "daemon_group.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "broker.h"
#include "clock.h"
#include "group_guard.h"
#include "group_admin.h"
#include "log.h"
#include "member.h"
#include "names.h"
#include "publish.h"
#include "store.h"
#include "store_snap.h"
#include "wire.h"
#include "wire_member.h"

/* The leader's clock: never behind what the group already applied. */
static int64_t leader_now(const member *m)
{
	int64_t now = wall_ms(m);
	return now > m->a.last_now ? now : m->a.last_now;
}

/* apply.c's callback: a follower applies and publishes nothing. */
static void on_effect(void *ctx, const table_effect *e)
{
	member *m = ctx;
	if (member_serving(m))
		pub_effect(&m->pub, e);
}

/* ---- the serving connection ----------------------------------------------- */

static void drop_broker(member *m, const char *why)
{
	if (m->b == NULL)
		return;
	LOG_I("dropping the broker connection", "why", why);
	m->pub.b = NULL;
	pub_due_drop(&m->pub); /* unpublished effects go with the connection */
	m->n_props = 0;        /* what it proposed may be applied unserved */
	broker_stop(m->b, 0);  /* a clean DISCONNECT: no Will, nothing more sent */
	broker_free(m->b);
	m->b = NULL;
}

static baton_err open_broker(member *m)
{
	char req[NAMES_TOPIC_MAX + 1], node[NAMES_TOPIC_MAX + 1], will_topic[NAMES_TOPIC_MAX + 1];
	snprintf(req, sizeof req, "%s/req/+", m->cfg->prefix);
	snprintf(node, sizeof node, "%s/node/+", m->cfg->prefix);
	snprintf(will_topic, sizeof will_topic, "%s/coordinator", m->cfg->prefix);
	char admin[NAMES_TOPIC_MAX + 1];
	if (group_admin_filter(&m->adm, admin, sizeof admin) != BATON_OK)
		return BATON_E_INVAL; /* the prefix was validated: cannot happen */
	/* P/coordinator: our presence's echo, or another coordinator's. */
	const char *subs[] = {req, node, admin, will_topic};
	wire_presence p = member_presence(m, false);
	char *will = NULL;
	size_t len;
	baton_err rc = wire_presence_encode(&p, &will, &len);
	if (rc != BATON_OK)
		return rc;
	broker_options o = daemon_broker_options(m->cfg, m->sig->wake_fd, m->cfg->client_id);
	o.no_reconnect = true;
	o.will_topic = will_topic;
	o.will_payload = will;
	o.subs = subs;
	o.n_subs = 4;
	rc = broker_new(&o, &m->b, m->err, sizeof m->err);
	free(will);
	if (rc == BATON_OK)
		rc = broker_start(m->b);
	m->pub.b = m->b;
	gguard_connected(&m->gg, m->instance);
	m->connect_t0 = mono_ms();
	m->next_poke = m->connect_t0;
	if (rc != BATON_OK) {
		LOG_E("cannot start the MQTT client", "error", m->err);
		broker_free(m->b);
		m->b = NULL;
	}
	return rc;
}

/* paho 1.3.12 serves every client of the process from one thread that
 * waits in select() for up to a second and only then notices a socket
 * created meanwhile: a new connection took 1-2 s to complete. A QoS 1
 * publish on the health connection makes its PUBACK wake that thread, so
 * the new socket is watched at once (docs/scaling.md, "What it survives"). */
static bool looking(const member *m)
{
	return m->ph == PH_LOOKING && m->gg.st == GGUARD_LOOKING;
}

static void poke_paho(member *m)
{
	/* The look before serving connects a client of its own: the same. */
	if (looking(m)) {
		if (mono_ms() >= m->next_poke && mono_ms() - m->gg.started_at < 5000) {
			group_info gi;
			group_info_get(m->g, &gi);
			member_publish_health(m, &gi, true);
			m->next_poke = mono_ms() + 10;
		}
		return;
	}
	if (m->b == NULL || m->connect_t0 == 0 || mono_ms() < m->next_poke)
		return;
	if (mono_ms() - m->connect_t0 > 5000) {
		m->connect_t0 = 0; /* the broker is away: its failure is reported, then retried */
		return;
	}
	group_info gi;
	group_info_get(m->g, &gi);
	member_publish_health(m, &gi, true);
	m->next_poke = mono_ms() + 10;
}

static void on_connected(member *m)
{
	char ms[24];
	u64s(ms, sizeof ms, m->connect_t0 ? (uint64_t)(mono_ms() - m->connect_t0) : 0);
	m->connect_t0 = 0;
	m->backoff_ms = 0;
	if (broker_on_connected(m->b) != BATON_OK)
		LOG_E("subscribe failed", "error", broker_error(m->b));
	char started[32];
	wire_time_format(m->a.started_at, started, sizeof started);
	LOG_I("serving", "broker", m->cfg->broker, "client_id", m->cfg->client_id, "started_at", started,
	      "connect_ms", ms);
	wire_presence p = member_presence(m, true);
	pub_connected(&m->pub, m->a.t, &p);
}

/* ---- the leader's latency (metrics) ---------------------------------------- */

static void note_proposed(member *m, const glog_entry *e, int64_t arrived_ns)
{
	if (m->mt == NULL || m->n_props == PROPOSED_MAX)
		return; /* that entry gets no latency (a mismatch below drops the ring) */
	m->props[(m->props_head + m->n_props++) % PROPOSED_MAX] =
	    (proposed){.now = e->now, .n_msgs = e->n_msgs, .arrived_ns = arrived_ns};
}

/* The arrival of the batch e when it is the next one this member proposed;
 * 0 otherwise (a follower, or proposals lost with the office). */
static int64_t proposed_arrival(member *m, const glog_entry *e)
{
	if (e->kind != GLOG_BATCH || m->n_props == 0)
		return 0;
	proposed p = m->props[m->props_head];
	m->props_head = (m->props_head + 1) % PROPOSED_MAX;
	m->n_props--;
	if (p.now == e->now && p.n_msgs == e->n_msgs)
		return p.arrived_ns;
	m->n_props = 0; /* out of step: start again */
	return 0;
}

/* ---- raft callbacks -------------------------------------------------------- */

static baton_err cb_apply(void *ctx, uint64_t index, const glog_entry *e)
{
	member *m = ctx;
	(void)index;
	m->a.arrived_ns = proposed_arrival(m, e);
	baton_err rc = apply_entry(&m->a, e);
	for (int tries = 0; rc != BATON_OK && rc != BATON_E_NOMEM && tries < 5; tries++) {
		LOG_E("state commit failed, retrying", "error", m->a.err);
		poll(NULL, 0, 100 << tries);
		rc = apply_commit(&m->a);
	}
	m->a.arrived_ns = 0;
	if (rc != BATON_OK) {
		LOG_E("cannot apply a committed entry; this member stops (it recovers from its snapshot and "
		      "log "
		      "at its next start)",
		      "error", m->a.err[0] ? m->a.err : baton_strerror(rc));
		return rc;
	}
	if (e->kind == GLOG_TICK)
		m->tick_for = 0;
	if (e->kind == GLOG_LEADER && e->leader.member == m->cfg->member_id && e->leader.term == m->lead_term)
		m->leadership_applied = true;
	return BATON_OK;
}

static baton_err cb_snapshot(void *ctx, void **buf, size_t *len)
{
	member *m = ctx;
	baton_err rc = apply_snapshot(&m->a, raft_malloc, buf, len);
	if (rc != BATON_OK)
		LOG_W("cannot take a snapshot; raft retries later", "error", baton_strerror(rc));
	return rc;
}

static baton_err cb_restore(void *ctx, const void *buf, size_t len)
{
	member *m = ctx;
	baton_err rc = apply_restore(&m->a, buf, len);
	if (rc != BATON_OK)
		LOG_E("cannot restore a snapshot", "error", m->a.err[0] ? m->a.err : baton_strerror(rc));
	else
		LOG_I("snapshot restored");
	return rc;
}

static void on_barrier(void *ctx, bool ok)
{
	member *m = ctx;
	m->barrier_done = true;
	m->barrier_ok = ok;
}

static void on_transfer(void *ctx)
{
	member *m = ctx;
	m->transferred = true;
}

/* ---- leadership ------------------------------------------------------------ */

static bool propose(member *m, const glog_entry *e)
{
	baton_err rc = group_propose(m->g, e);
	if (rc != BATON_OK) {
		m->proposals_refused++;
		LOG_W("proposal refused; its inputs are lost until agents re-send", "kind",
		      glog_kind_name(e->kind), "error", baton_strerror(rc));
	}
	return rc == BATON_OK;
}

/* A batch of the serving leader's inbox; first: its earliest arrival. */
static void propose_batch(member *m, glog_msg *msgs, size_t n, int64_t now, int64_t first)
{
	glog_entry e = {.kind = GLOG_BATCH, .now = now, .msgs = msgs, .n_msgs = n};
	if (propose(m, &e))
		note_proposed(m, &e, first);
}

static void become_leader(member *m, const group_info *gi)
{
	char term[24];
	u64s(term, sizeof term, gi->term);
	LOG_I("elected leader; committing the leadership entry", "term", term);
	m->lead_term = gi->term;
	snprintf(m->instance, sizeof m->instance, "g%llu-t%llu", (unsigned long long)m->cfg->member_id,
	         (unsigned long long)gi->term);
	m->leadership_applied = false;
	m->tick_for = 0;
	int64_t now = leader_now(m);
	glog_entry c = {.kind = GLOG_CONFIG,
	                .now = now,
	                .config = {.default_lease_ms = (uint32_t)m->cfg->default_lease_ms,
	                           .max_lease_ms = (uint32_t)m->cfg->max_lease_ms,
	                           .done_ttl_ms = m->cfg->done_ttl_ms,
	                           .id_memory = m->a.cfg.id_memory}};
	/* Holders could not renew while the group had no leader: every lease
	 * moves later by the longest an election takes (libraft randomises the
	 * timeout between 1x and 2x). */
	glog_entry l = {.kind = GLOG_LEADER,
	                .now = now,
	                .leader = {.term = gi->term,
	                           .member = m->cfg->member_id,
	                           .extend_ms = (uint32_t)(2 * m->cfg->election_timeout_ms)}};
	propose(m, &c);
	propose(m, &l);
	m->ph = PH_PROPOSED;
}

/* Serving is suspended until a barrier proves this member still leads a
 * quorum (a deposed leader that does not know it yet must not take the
 * group's session back). */
static void await_barrier(member *m)
{
	m->ph = PH_BARRIER;
	m->barrier_done = false;
	if (group_barrier(m->g, on_barrier, m) != BATON_OK)
		LOG_W("cannot start a barrier");
}

/* Before the session is taken: a look for another coordinator, knowing the
 * group's members (--peers and the configuration: members come and go). */
static void look(member *m)
{
	uint64_t ids[2 * GROUP_MAX_PEERS];
	gm_member ms[GROUP_MAX_PEERS];
	size_t n = 0, k = group_members_get(m->g, ms, GROUP_MAX_PEERS);
	for (size_t i = 0; i < m->cfg->n_peers; i++)
		ids[n++] = m->cfg->peer_list[i].id;
	for (size_t i = 0; i < k; i++)
		ids[n++] = ms[i].id;
	gguard_members(&m->gg, ids, n);
	m->ph = PH_LOOKING;
	gguard_look(&m->gg);
}

/* Follows raft's role after every run of the loop. False: stop (the broker
 * refused our credentials). */
static bool follow_role(member *m, const group_info *gi)
{
	if (gi->role != GROUP_LEADER || gi->term != m->lead_term) {
		if (m->ph != PH_FOLLOWING) {
			LOG_W("no longer the leader; dropping the broker connection and unpublished effects");
			drop_broker(m, "leadership lost");
			gguard_stop(&m->gg);
			m->ph = PH_FOLLOWING;
		}
		if (gi->role == GROUP_LEADER)
			become_leader(m, gi);
		return true;
	}
	if (m->ph == PH_PROPOSED && m->leadership_applied)
		look(m);
	if (m->ph == PH_BARRIER && m->barrier_done && mono_ms() >= m->reconnect_at) {
		if (!m->barrier_ok) {
			await_barrier(m); /* still the leader by raft's account: try again */
			return true;
		}
		look(m);
	}
	if (m->ph == PH_LOOKING) {
		gguard_state st = gguard_step(&m->gg, &m->look_wait);
		if (st == GGUARD_REFUSED)
			return false;
		if (st == GGUARD_CLEAR) {
			m->ph = PH_SERVING;
			if (open_broker(m) != BATON_OK)
				await_barrier(m); /* retried after a barrier */
		}
	}
	return true;
}

/* The serving leader's inbox becomes log entries. */
static bool take_inbox(member *m)
{
	if (m->b == NULL)
		return true;
	broker_inbox in;
	broker_take(m->b, &in);
	if (in.refused) {
		LOG_E("broker refused us; check --username/--password-file/--client-id", "error",
		      broker_error(m->b));
		broker_msgs_free(in.msgs);
		return false;
	}
	if (in.connects > 0 && in.losses == 0)
		on_connected(m);
	size_t n = 0, cap = 0, bytes = GLOG_HEADER_LEN + 4;
	glog_msg *msgs = NULL;
	int64_t now = leader_now(m), first = 0;
	bool rival = false;
	/* Nothing after another coordinator's presence is ours to act on. */
	for (broker_msg *x = in.msgs; x != NULL && !rival; x = x->next) {
		if (x->topic_len == strlen(m->coord_topic) &&
		    memcmp(x->topic, m->coord_topic, x->topic_len) == 0) {
			rival = gguard_presence(&m->gg, x);
			continue;
		}
		if (pub_stale_state(&m->pub, m->a.t, x))
			continue; /* the sweep's retained snapshots: the leader's own business */
		if (group_admin_is_request(&m->adm, x)) {
			group_admin_handle(&m->adm, x); /* never in the log: libraft logs the change */
			continue;
		}
		glog_msg gm = {.topic = x->topic,
		               .topic_len = x->topic_len,
		               .payload = x->payload,
		               .len = x->len > GLOG_PAYLOAD_MAX ? GLOG_PAYLOAD_MAX : x->len,
		               .retained = x->retained};
		if (gm.topic_len == 0 || gm.topic_len > GLOG_TOPIC_MAX)
			continue;
		if (n > 0 && (n == GLOG_MSGS_MAX || bytes + glog_msg_size(&gm) > GLOG_ENTRY_MAX)) {
			propose_batch(m, msgs, n, now, first);
			n = 0;
			first = 0;
			bytes = GLOG_HEADER_LEN + 4;
		}
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			glog_msg *p = realloc(msgs, nc * sizeof *p);
			if (p == NULL) {
				LOG_E(
				    "out of memory taking the inbox; messages dropped until agents re-send");
				break;
			}
			msgs = p;
			cap = nc;
		}
		msgs[n++] = gm;
		bytes += glog_msg_size(&gm);
		first = first == 0 || x->arrived_ns < first ? x->arrived_ns : first;
	}
	if (n > 0)
		propose_batch(m, msgs, n, now, first);
	free(msgs);
	broker_msgs_free(in.msgs);
	if (rival) {
		drop_broker(m, "another coordinator serves the prefix");
		m->ph = PH_LOOKING; /* gguard_step looks again when it is due */
		return true;
	}
	/* What arrived before the loss is proposed above; the connection is not
	 * taken again before a barrier. */
	if ((in.losses > 0 || in.failures > 0) && m->ph == PH_SERVING) {
		LOG_W(in.losses > 0 ? "connection to the broker lost; reconnecting after a raft barrier"
		                    : "cannot reach the broker; retrying after a raft barrier",
		      "error", broker_error(m->b));
		drop_broker(m, "connection lost");
		m->backoff_ms = m->backoff_ms ? (m->backoff_ms * 2 > 5000 ? 5000 : m->backoff_ms * 2) : 100;
		m->reconnect_at = mono_ms() + m->backoff_ms;
		await_barrier(m);
	}
	return true;
}

/* The leader proposes time passing when a deadline is due and no message
 * would carry it. */
static void leader_tick(member *m)
{
	if (m->ph != PH_SERVING && m->ph != PH_BARRIER)
		return;
	int64_t due = table_next_deadline(m->a.t), now = leader_now(m);
	if (due > now || (m->tick_for != 0 && m->tick_for >= due))
		return;
	glog_entry e = {.kind = GLOG_TICK, .now = now};
	propose(m, &e);
	m->tick_for = due;
}

/* ---- the loop ---------------------------------------------------------------- */

/* Takes the health connection's inbox (it subscribes to nothing); true
 * when it (re)connected: a restarted broker may have lost the retained
 * health, so it is published again at once. */
static bool health_reconnected(broker *b)
{
	if (b == NULL)
		return false;
	broker_inbox in;
	broker_take(b, &in);
	broker_msgs_free(in.msgs);
	return in.connects > 0;
}

static int poll_timeout(member *m)
{
	int64_t now = wall_ms(m), next = m->next_health_at;
	if (m->ph == PH_SERVING) {
		int64_t due = table_next_deadline(m->a.t);
		if (m->tick_for == 0 || m->tick_for < due)
			next = due < next ? due : next;
		next = m->next_stats_at < next ? m->next_stats_at : next;
		next = pub_due_next_at(&m->pub) < next ? pub_due_next_at(&m->pub) : next;
	}
	int64_t t = next <= now ? 0 : next - now;
	if (m->connect_t0 != 0 || looking(m))
		t = t > 10 ? 10 : t;
	if (m->ph == PH_BARRIER && m->barrier_done)
		t = t > 50 ? 50 : t; /* the backoff before reconnecting */
	if (m->ph == PH_LOOKING && m->look_wait >= 0 && m->look_wait < t)
		t = m->look_wait;
	int gt = group_timeout_ms(m->g);
	if (gt >= 0 && gt < t)
		t = gt;
	return t > 1000 ? 1000 : (int)t;
}

static void drain_wake(member *m)
{
	uint64_t v;
	ssize_t n = read(m->sig->wake_fd, &v, sizeof v);
	(void)n;
}

/* Says so, once per outage, when the group has had no leader for longer
 * than an election takes: fewer than a majority of members can reach each
 * other, and nothing is served until they can. */
static void note_leaderless(member *m, const group_info *gi)
{
	int64_t now = mono_ms();
	if (gi->leader != 0) {
		if (m->leaderless_said)
			LOG_I("the group has a leader again");
		m->leaderless_since = 0;
		m->leaderless_said = false;
		return;
	}
	if (m->leaderless_since == 0)
		m->leaderless_since = now;
	if (!m->leaderless_said && now - m->leaderless_since > 4 * (int64_t)m->cfg->election_timeout_ms) {
		LOG_W("no leader: fewer than a majority of the members can reach each other; nothing is "
		      "served until they can");
		m->leaderless_said = true;
	}
}

/* One round: raft, roles, inboxes, time, health. False: stop (fatal). */
static bool round_once(member *m, int *status)
{
	group_run(m->g);
	group_info gi;
	group_info_get(m->g, &gi);
	if (gi.failed) {
		char at[24];
		u64s(at, sizeof at, m->g != NULL ? gi.applied + 1 : 0);
		LOG_E(
		    "this member cannot apply the committed log; it stops (restart it: it recovers from its "
		    "snapshot and log)",
		    "index", at, "error", baton_strerror(gi.why));
		*status = DAEMON_EXIT_SOFTWARE;
		return false;
	}
	if (!follow_role(m, &gi)) {
		*status = DAEMON_EXIT_UNAVAILABLE;
		return false;
	}
	note_leaderless(m, &gi);
	if (!take_inbox(m)) {
		*status = DAEMON_EXIT_UNAVAILABLE;
		return false;
	}
	bool again = health_reconnected(m->health);
	poke_paho(m);
	leader_tick(m);
	int64_t now = wall_ms(m);
	if (again || gi.role != m->shown.role || gi.term != m->shown.term || gi.leader != m->shown.leader ||
	    group_conf_index(m->g) != m->shown_conf || (gguard_why(&m->gg) != NULL) != m->shown_refusing ||
	    now >= m->next_health_at)
		member_publish_health(m, &gi, true);
	if (member_serving(m) && pub_due_ready(&m->pub, now))
		pub_due_flush(&m->pub, m->a.t, now);
	if (member_serving(m) && now >= m->next_stats_at) {
		member_publish_stats(m, now);
		m->next_stats_at = now + (int64_t)m->cfg->stats_interval_ms;
	}
	member_publish_metrics(m, &gi);
	return true;
}

static int loop(member *m)
{
	struct pollfd pfd[2] = {{.fd = m->sig->wake_fd, .events = POLLIN},
	                        {.fd = group_fd(m->g), .events = POLLIN}};
	int status = DAEMON_EXIT_OK;
	while (!m->sig->stop) {
		if (poll(pfd, 2, poll_timeout(m)) > 0 && (pfd[0].revents & POLLIN))
			drain_wake(m);
		if (m->sig->reopen_log) {
			m->sig->reopen_log = 0;
			log_reopen();
		}
		if (!round_once(m, &status))
			return status;
	}
	return status;
}

/* SIGTERM: a leader hands leadership over first (raft_transfer), so the
 * group serves again within a few milliseconds instead of an election
 * timeout. */
static void hand_over(member *m)
{
	group_info gi;
	group_info_get(m->g, &gi);
	if (gi.role != GROUP_LEADER)
		return;
	/* Requests paho has acknowledged to the broker are ours: into the log
	 * before the connection goes (the next leader then has them). */
	take_inbox(m);
	drop_broker(m, "stopping");
	gguard_stop(&m->gg);
	m->ph = PH_FOLLOWING;
	if (group_transfer(m->g, on_transfer, m) != BATON_OK)
		return;
	LOG_I("stopping: handing leadership over");
	int64_t until = mono_ms() + 3 * (int64_t)m->cfg->election_timeout_ms + 1000;
	struct pollfd pfd = {.fd = group_fd(m->g), .events = POLLIN};
	while (!m->transferred && mono_ms() < until) {
		int t = group_timeout_ms(m->g);
		poll(&pfd, 1, t < 0 || t > 50 ? 50 : t);
		group_run(m->g);
	}
	group_info_get(m->g, &gi);
	char leader[24];
	u64s(leader, sizeof leader, gi.leader);
	LOG_I("leadership handed over", "leader", leader);
}

/* The member's state is what raft's snapshot and log rebuild: the state file
 * starts empty at every start (an older content would be applied twice). */
static baton_err open_state(member *m)
{
	store *empty = NULL;
	void *image = NULL;
	size_t len = 0;
	baton_err rc = store_open(m->cfg->state, SYNC_LEVEL_OFF, &m->st, m->err, sizeof m->err);
	if (rc == BATON_OK)
		rc = store_open(":memory:", SYNC_LEVEL_OFF, &empty, m->err, sizeof m->err);
	if (rc == BATON_OK)
		rc = store_image(empty, &image, &len, m->err, sizeof m->err);
	if (rc == BATON_OK)
		rc = store_restore_image(m->st, image, len, m->err, sizeof m->err);
	store_image_free(image);
	store_close(empty);
	if (rc != BATON_OK)
		return rc;
	/* The raft log makes an entry durable; the store is rebuilt at every
	 * start: the leader answers before its store commit (apply.h). */
	apply_options o = {.prefix = m->cfg->prefix,
	                   .st = m->st,
	                   .stop_on_nomem = true,
	                   .effect = on_effect,
	                   .ctx = m,
	                   .m = m->mt,
	                   .publish_before_commit = true};
	table_config_default(&o.table);
	o.table.default_lease_ms = (uint32_t)m->cfg->default_lease_ms;
	o.table.max_lease_ms = (uint32_t)m->cfg->max_lease_ms;
	o.table.done_ttl_ms = m->cfg->done_ttl_ms;
	return apply_init(&m->a, &o);
}

int daemon_group_run(const config *cfg, daemon_signals *sig)
{
	member m = {.cfg = cfg, .sig = sig};
	pub_init(&m.pub, cfg->prefix, (int64_t)cfg->snapshot_interval_ms);
	dclock_init(&m.clock);
	gguard_init(&m.gg, cfg, sig->wake_fd);
	if (names_topic(m.coord_topic, sizeof m.coord_topic, cfg->prefix, NAMES_COORDINATOR, NULL, NULL) !=
	    BATON_OK)
		return DAEMON_EXIT_SOFTWARE; /* the prefix was validated: cannot happen */
	int status = DAEMON_EXIT_OK;
	baton_err rc = daemon_open_metrics(cfg->metrics_listen, &m.mt, m.err, sizeof m.err);
	if (rc != BATON_OK) {
		LOG_E("cannot serve metrics", "error", m.err[0] ? m.err : baton_strerror(rc));
		status = rc == BATON_E_INVAL ? DAEMON_EXIT_USAGE : DAEMON_EXIT_UNAVAILABLE;
		goto out;
	}
	if (strcmp(cfg->state, ":memory:") == 0 || open_state(&m) != BATON_OK) {
		LOG_E("cannot open the member's state (a group member needs a --state file)", "path",
		      cfg->state, "error", m.err[0] ? m.err : "--state :memory:");
		status = DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	group_options o = {
	    .id = cfg->member_id,
	    .peers = cfg->peer_list,
	    .n_peers = cfg->n_peers,
	    .dir = cfg->raft_dir,
	    .bind = cfg->raft_bind,
	    .election_timeout_ms = (unsigned)cfg->election_timeout_ms,
	    .heartbeat_ms = (unsigned)cfg->heartbeat_ms,
	    .join = cfg->join,
	    .cb = {.apply = cb_apply, .snapshot = cb_snapshot, .restore = cb_restore, .ctx = &m}};
	if (group_new(&o, &m.g, m.err, sizeof m.err) != BATON_OK) {
		LOG_E("cannot start the raft member", "error", m.err);
		status = DAEMON_EXIT_UNAVAILABLE;
		goto out;
	}
	group_admin_init(&m.adm, cfg->prefix, cfg->member_id, m.g, &m.health);
	if (member_open_health(&m) != BATON_OK) {
		LOG_E("cannot start the health connection", "error", m.err);
		status = DAEMON_EXIT_UNAVAILABLE;
		goto out;
	}
	char id[24];
	u64s(id, sizeof id, cfg->member_id);
	LOG_I("started as a group member", "version", BATON_VERSION, "member", id, "raft_dir", cfg->raft_dir,
	      "broker", cfg->broker, "prefix", cfg->prefix);
	status = loop(&m);
	if (status == DAEMON_EXIT_OK)
		hand_over(&m);
out:
	drop_broker(&m, "stopped");
	if (m.health != NULL) {
		group_info gi = {0};
		member_publish_health(&m, &gi, false);
		broker_stop(m.health, 2000);
	}
	broker_free(m.health);
	m.health = NULL; /* a membership change closed with raft answers nowhere */
	gguard_deinit(&m.gg);
	group_free(m.g);
	apply_deinit(&m.a);
	store_close(m.st);
	pub_deinit(&m.pub);
	metrics_free(m.mt);
	return status;
}
