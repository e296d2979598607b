/*
 * group_harness.h - the replicated group on libraft's in-memory fixture
 * (raft/fixture.h), shared by test_group.c and test_group_members.c: each
 * member has its own real lock table, store (SQLite, in memory) and entry
 * codec, applying committed entries through the one apply path the daemon
 * uses (coordinator/apply.c behind coordinator/group_fsm.c); a member's
 * state dump and the effects of every index it applied are kept, so a test
 * can check that all members agree at every index. setup_deferred runs the
 * members as the daemon does (group_fsm_defer: entries queued inside
 * libraft's callbacks and drained afterwards, before every snapshot, and in
 * check_identical; effects handed out before the store commit).
 * Header-only, static functions.
 */
#ifndef BATON_GROUP_HARNESS_H
#define BATON_GROUP_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <raft.h>
#include <raft/fixture.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "group.h"
#include "group_fsm.h"
#include "store_snap.h"
#include "table_harness.h"

#define N_MEMBERS   3 /* bootstrapped together */
#define MAX_MEMBERS 5 /* with the ones added later (test_group_members.c) */
#define MAX_INDEX   4096
#define T0          1795000000000LL
#define PREFIX      "baton/v1"

/* Entries kept behind a snapshot: a member further behind gets the snapshot
 * installed. Small, so the tests install snapshots. */
#define SNAPSHOT_TRAILING 4u

typedef struct member {
	unsigned i;
	store *st;
	applier a;
	group_fsm gf;
	char *dump[MAX_INDEX];    /* state after applying index */
	char *effects[MAX_INDEX]; /* the effects of index, rendered */
	char fx[1 << 16];         /* effects of the entry being applied */
	uint64_t fail_at;         /* apply fails with NOMEM at this index (0: never) */
	unsigned restores;
} member;

typedef struct fixture {
	struct raft_fixture f;
	member m[MAX_MEMBERS];
	unsigned n;    /* members in the fixture */
	bool by_state; /* leader(): see live_leader */
	struct raft_apply reqs[MAX_INDEX];
	size_t n_reqs;
	int64_t now;
	raft_index last; /* index of the last entry proposed */
} fixture;

/* ---- the member's callbacks: the daemon's apply path ---------------------- */

static inline void on_effect(void *ctx, const table_effect *e)
{
	member *m = ctx;
	char line[8192] = "";
	h_render(line, sizeof line, e);
	h_cat(m->fx, sizeof m->fx, "%s\n", line);
}

static inline void add_view(void *ctx, const table_resource_view *v)
{
	char **lines = ctx;
	wire_snapshot s;
	char *json = NULL;
	size_t len = 0;
	table_snapshot_of(v, &s);
	assert_int_equal(wire_snapshot_encode(&s, &json, &len), BATON_OK);
	size_t n = 0;
	while (lines[n] != NULL)
		n++;
	lines[n] = json;
}

static inline int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The canonical dump of a member's whole state. */
static inline char *dump_state(member *m)
{
	char *rows = NULL;
	assert_int_equal(store_dump(m->st, &rows, NULL, 0), BATON_OK);
	table_counts c;
	table_counts_get(m->a.t, &c);
	char **views = calloc(c.resources + 1, sizeof *views);
	table_foreach(m->a.t, add_view, views);
	qsort(views, c.resources, sizeof *views, cmp_str);
	size_t cap = strlen(rows) + 256;
	for (size_t i = 0; i < c.resources; i++)
		cap += strlen(views[i]) + 1;
	char *out = malloc(cap);
	int at = snprintf(out, cap, "next_token %llu now %lld started %lld leader %llu/%llu\n%s",
	                  (unsigned long long)table_next_token(m->a.t), (long long)m->a.last_now,
	                  (long long)m->a.started_at, (unsigned long long)m->a.leader_term,
	                  (unsigned long long)m->a.leader_member, rows);
	for (size_t i = 0; i < c.resources; i++) {
		at += snprintf(out + at, cap - (size_t)at, "%s\n", views[i]);
		free(views[i]);
	}
	free(views);
	free(rows);
	return out;
}

static inline baton_err cb_apply(void *ctx, uint64_t index, const glog_entry *e)
{
	member *m = ctx;
	assert_true(index > 0 && index < MAX_INDEX);
	if (m->fail_at == index)
		return BATON_E_NOMEM;
	m->fx[0] = '\0';
	if (getenv("TG_TRACE"))
		fprintf(stderr, "m%u apply %llu kind %d now %lld %.*s\n", m->i, (unsigned long long)index,
		        e->kind, (long long)e->now, e->n_msgs ? (int)e->msgs[0].len : 0,
		        e->n_msgs ? e->msgs[0].payload : "");
	baton_err rc = apply_entry(&m->a, e);
	if (rc != BATON_OK)
		return rc;
	assert_null(m->dump[index]); /* never applied twice */
	m->dump[index] = dump_state(m);
	m->effects[index] = strdup(m->fx);
	return BATON_OK;
}

static inline baton_err cb_snapshot(void *ctx, void **buf, size_t *len)
{
	member *m = ctx;
	return apply_snapshot(&m->a, raft_malloc, buf, len);
}

static inline baton_err cb_restore(void *ctx, const void *buf, size_t len)
{
	member *m = ctx;
	m->restores++;
	if (getenv("TG_TRACE"))
		fprintf(stderr, "m%u restore at applied %llu\n", m->i,
		        (unsigned long long)raft_last_applied(m->gf.raft));
	return apply_restore(&m->a, buf, len);
}

/* The daemon's way of applying (see the file comment); set by setup_deferred. */
static bool deferred;

static inline void member_init(member *m, unsigned i)
{
	memset(m, 0, sizeof *m);
	m->i = i;
	assert_int_equal(store_open(":memory:", SYNC_LEVEL_OFF, &m->st, NULL, 0), BATON_OK);
	apply_options o = {.prefix = PREFIX,
	                   .st = m->st,
	                   .stop_on_nomem = true,
	                   .effect = on_effect,
	                   .ctx = m,
	                   .publish_before_commit = deferred};
	table_config_default(&o.table);
	assert_int_equal(apply_init(&m->a, &o), BATON_OK);
	group_callbacks cb = {.apply = cb_apply, .snapshot = cb_snapshot, .restore = cb_restore, .ctx = m};
	group_fsm_init(&m->gf, &cb);
	if (deferred)
		group_fsm_defer(&m->gf);
}

static inline void member_deinit(member *m)
{
	for (size_t i = 0; i < MAX_INDEX; i++) {
		free(m->dump[i]);
		free(m->effects[i]);
	}
	group_fsm_deinit(&m->gf);
	apply_deinit(&m->a);
	store_close(m->st);
}

/* ---- the fixture -------------------------------------------------------- */

/* The daemon's settings, scaled for the fixture's clock. */
static inline void tune(struct raft *r)
{
	raft_set_pre_vote(r, true);
	raft_set_election_timeout(r, 300);
	raft_set_heartbeat_timeout(r, 50);
	raft_set_snapshot_threshold(r, 16); /* small, so snapshots are taken and installed */
	raft_set_snapshot_trailing(r, SNAPSHOT_TRAILING);
}

static inline int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	struct raft_configuration conf;
	assert_int_equal(raft_fixture_initialize(&fx->f), 0);
	for (unsigned i = 0; i < N_MEMBERS; i++) {
		member_init(&fx->m[i], i);
		assert_int_equal(raft_fixture_grow(&fx->f, group_fsm_raft(&fx->m[i].gf)), 0);
		struct raft *r = raft_fixture_get(&fx->f, i);
		fx->m[i].gf.raft = r;
		tune(r);
	}
	assert_int_equal(raft_fixture_configuration(&fx->f, N_MEMBERS, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&fx->f, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(&fx->f), 0);
	fx->n = N_MEMBERS;
	fx->now = T0;
	*state = fx;
	return 0;
}

static inline int setup_deferred(void **state)
{
	deferred = true;
	return setup(state);
}

static inline int teardown(void **state)
{
	deferred = false;
	fixture *fx = *state;
	raft_fixture_close(&fx->f);
	for (unsigned i = 0; i < fx->n; i++)
		member_deinit(&fx->m[i]);
	free(fx);
	return 0;
}

/* A new member, started empty (as --join starts one): no configuration, no
 * log; it waits for a leader to add it. Returns its fixture index. */
static inline unsigned member_join(fixture *fx)
{
	unsigned i = fx->n;
	assert_true(i < MAX_MEMBERS);
	member_init(&fx->m[i], i);
	assert_int_equal(raft_fixture_grow(&fx->f, group_fsm_raft(&fx->m[i].gf)), 0);
	struct raft *r = raft_fixture_get(&fx->f, i);
	fx->m[i].gf.raft = r;
	tune(r);
	assert_int_equal(raft_start(r), 0);
	fx->n++;
	return i;
}

static inline void apply_done(struct raft_apply *req, int status, void *result)
{
	(void)req, (void)status, (void)result;
}

/* Proposes e on member l (the leader, or one that believes it is); returns
 * the entry's index, 0 when l refused it (not the leader). */
static inline raft_index propose_on(fixture *fx, unsigned l, const glog_entry *e)
{
	void *buf = NULL;
	size_t len = 0;
	assert_int_equal(glog_encode(e, raft_malloc, &buf, &len), BATON_OK);
	struct raft_buffer b = {.base = buf, .len = len};
	assert_true(fx->n_reqs < MAX_INDEX);
	struct raft_apply *req = &fx->reqs[fx->n_reqs++];
	if (raft_apply(raft_fixture_get(&fx->f, l), req, &b, 1, apply_done) != 0) {
		raft_free(buf);
		return 0;
	}
	return req->index;
}

/* With by_state: the live member in the leader state of the highest term
 * (*arg), once there is one. The fixture's own notion of a stable leader
 * counts every server it ever had, removed ones included, so it never sees
 * one in a group that shrank below half of them. */
static inline bool live_leader(struct raft_fixture *f, void *arg)
{
	unsigned *out = arg, n = raft_fixture_n(f);
	raft_term best = 0;
	*out = n;
	for (unsigned i = 0; i < n; i++) {
		struct raft *r = raft_fixture_get(f, i);
		if (raft_fixture_alive(f, i) && raft_state(r) == RAFT_LEADER && r->current_term > best) {
			best = r->current_term;
			*out = i;
		}
	}
	return *out < n;
}

/* The stable leader, stepping the cluster until there is one. */
static inline unsigned leader(fixture *fx)
{
	if (fx->by_state) {
		unsigned l = fx->n;
		assert_true(raft_fixture_step_until(&fx->f, live_leader, &l, 20000));
		return l;
	}
	if (raft_fixture_leader_index(&fx->f) >= fx->n)
		assert_true(raft_fixture_step_until_has_leader(&fx->f, 10000));
	unsigned l = raft_fixture_leader_index(&fx->f);
	assert_true(l < fx->n);
	return l;
}

static inline raft_index propose(fixture *fx, const glog_entry *e)
{
	raft_index i = propose_on(fx, leader(fx), e);
	assert_true(i > 0);
	fx->last = i;
	return i;
}

static inline glog_msg req_msg(const char *node, const char *json)
{
	static char topics[64][96];
	static unsigned next;
	char *t = topics[next++ % 64];
	snprintf(t, 96, PREFIX "/req/%s", node);
	return (glog_msg){.topic = t, .topic_len = strlen(t), .payload = json, .len = strlen(json)};
}

static inline glog_msg node_msg(const char *node, bool online)
{
	static char topics[16][96], payloads[16][96];
	static unsigned next;
	unsigned k = next++ % 16;
	snprintf(topics[k], 96, PREFIX "/node/%s", node);
	snprintf(payloads[k], 96, "{\"v\":1,\"node\":\"%s\",\"online\":%s}", node, online ? "true" : "false");
	return (glog_msg){.topic = topics[k],
	                  .topic_len = strlen(topics[k]),
	                  .payload = payloads[k],
	                  .len = strlen(payloads[k]),
	                  .retained = true};
}

static inline raft_index batch(fixture *fx, glog_msg *ms, size_t n, int64_t advance_ms)
{
	fx->now += advance_ms;
	glog_entry e = {.kind = GLOG_BATCH, .now = fx->now, .msgs = ms, .n_msgs = n};
	return propose(fx, &e);
}

static inline raft_index tick(fixture *fx, int64_t advance_ms)
{
	fx->now += advance_ms;
	glog_entry e = {.kind = GLOG_TICK, .now = fx->now};
	return propose(fx, &e);
}

static inline raft_index lead(fixture *fx)
{
	unsigned l = leader(fx);
	struct raft *r = raft_fixture_get(&fx->f, l);
	glog_entry c = {.kind = GLOG_CONFIG, .now = fx->now, .config = {30000, 3600000, 600000, 64}};
	propose(fx, &c);
	glog_entry e = {.kind = GLOG_LEADER,
	                .now = fx->now,
	                .leader = {.term = r->current_term, .member = r->id, .extend_ms = 600}};
	return propose(fx, &e);
}

static inline void wait_applied(fixture *fx, unsigned i, raft_index index)
{
	assert_true(raft_fixture_step_until_applied(&fx->f, i, index, 60000));
}

/* Every index any two members applied has the same state and effects on
 * both; every member in `must` applied everything up to fx->last. */
static inline void check_identical(fixture *fx, unsigned must)
{
	size_t compared = 0;
	for (unsigned i = 0; i < fx->n; i++)
		group_fsm_drain(&fx->m[i].gf); /* what the member does after each run of its loop */
	for (size_t idx = 1; idx < MAX_INDEX; idx++) {
		const member *first = NULL;
		for (unsigned i = 0; i < fx->n; i++) {
			const member *m = &fx->m[i];
			if (m->dump[idx] == NULL)
				continue;
			if (first == NULL) {
				first = m;
				continue;
			}
			if (strcmp(first->dump[idx], m->dump[idx]) != 0 ||
			    strcmp(first->effects[idx], m->effects[idx]) != 0) {
				print_error(
				    "index %zu: member %u (restores %u) and %u (restores %u) differ\n", idx,
				    first->i, first->restores, m->i, m->restores);
				print_error("--- %u:\n%s%s", first->i, first->dump[idx], first->effects[idx]);
				print_error("--- %u:\n%s%s", m->i, m->dump[idx], m->effects[idx]);
				fail();
			}
			compared++;
		}
	}
	assert_true(compared > 0);
	for (unsigned i = 0; i < fx->n; i++)
		if (must & (1u << i))
			assert_true(raft_last_applied(raft_fixture_get(&fx->f, i)) >= fx->last);
}

/* A few cycles of traffic through whoever leads now. */
static inline void traffic(fixture *fx, const char *res, int rounds)
{
	/* Request ids unique per node, as libbaton makes them (a holder that
	 * asks again with a new id makes an alias: see
	 * test_group_snapshot_keeps_aliases_and_id_counter). */
	static int next_round;
	for (int n = 0; n < rounds; n++) {
		int k = next_round++;
		char a1[256], a2[256], rel[256];
		snprintf(a1, sizeof a1,
		         "{\"v\":1,\"op\":\"acquire\",\"id\":\"a%d\",\"resource\":\"%s\",\"mode\":\"mutex\","
		         "\"lease_ms\":2000}",
		         k, res);
		snprintf(a2, sizeof a2,
		         "{\"v\":1,\"op\":\"acquire\",\"id\":\"b%d\",\"resource\":\"%s\",\"mode\":\"mutex\"}",
		         k, res);
		glog_msg ms[2] = {req_msg("n1", a1), req_msg("n2", a2)};
		batch(fx, ms, 2, 10);
		/* n1 holds the token counter's latest grant but one; it releases
		 * with whatever token it was given: a wrong one is not_holder, which
		 * is as good a deterministic input as any. */
		snprintf(rel, sizeof rel,
		         "{\"v\":1,\"op\":\"release\",\"id\":\"r%d\",\"resource\":\"%s\",\"token\":%d,"
		         "\"success\":true}",
		         k, res, 2 * k + 1);
		glog_msg r1 = req_msg("n1", rel);
		batch(fx, &r1, 1, 5);
		tick(fx, 2500); /* n2's lease runs out: revoked */
	}
}

#endif
