/*
 * test_table_model.c - randomized model test of the lock table: thousands of
 * short random scripts (a few nodes and resources; acquires, renews,
 * releases, cancels, resets with new and repeated ids and bad tokens;
 * presence changes; ticks moving time) checked after every step against
 * invariants of the contract (second edition included: shared and mutex
 * acquires with permits 1 or 2, once acquires with max_failures):
 *   - table_check() finds the table consistent after every step;
 *   - the table's holdings are exactly those the effects announced (grant
 *     ... outcome); at most permits mutex holdings, never a mutex holding
 *     beside any other, at most one once holding;
 *   - tokens of new grants strictly increase;
 *   - no waiter that fits is left waiting at the head, and none waits
 *     behind nothing;
 *   - FIFO across modes: a queue only loses members or gains them at its
 *     tail, and a node is granted only when everyone queued before it is
 *     gone;
 *   - the streak is counted exactly: the view's failures equals the
 *     failed once outcomes since the last success or reset, and it is
 *     forgotten only done_ttl after the last failure; an acquire is
 *     answered failed only when it has a max_failures the streak reaches,
 *     and no waiter's cap is reached while it waits;
 *   - a table restored from the views (table_foreach, table_restore) is
 *     consistent and has the same views (every request id, the aliases of
 *     a node's second acquire ids included, in order), snapshots and
 *     deadline, every tenth step (the store's round trip, without SQLite);
 *   - nothing is held or awaited by a node right after its offline event;
 *   - every effect re-encodes with the wire codec;
 *   - once all leases and waits run out, every queued acquire was answered.
 * BATON_SEED=<n> replays one script; BATON_RUNS=<n> sets how many to run.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table_harness.h"

#define NN   4 /* nodes */
#define NR   3 /* resources */
#define MAXW 16

static const char *node_name[NN] = {"n0", "n1", "n2", "n3"};
static const char *res_name[NR] = {"r0", "a/b", "r2"};

#define MAXH 8

typedef struct holding {
	int node;
	uint64_t token;
} holding;

typedef struct model {
	table *t;
	int64_t now;
	uint64_t rng;
	uint64_t max_token;
	int seq;
	/* announced holdings per resource */
	holding h[NR][MAXH];
	int nh[NR];
	/* queue as last seen in the view, and the nodes granted this batch */
	int q[NR][MAXW];
	int nq[NR];
	int granted[NR][MAXH + MAXW];
	int ngranted[NR];
	/* the failure streak of once outcomes, and when the last one ended */
	uint32_t streak[NR];
	int64_t last_fail_at[NR];
	/* primary queued acquire awaiting a final answer, per node and resource,
	 * and the max_failures of each node's acquire ids */
	char pending[NN][NR][16];
	uint32_t pend_cap[NN][NR];
	char ids[NN][8][16]; /* recent ids per node, for repeats */
	uint32_t id_cap[NN][8];
	uint32_t cap_by_seq[256]; /* the max_failures every id "i<seq>" was made with */
	int n_ids[NN];
	int ticking;           /* the batch comes from table_tick() */
	const table_ready *rd; /* the batch being checked */
	char failure[9000];
} model;

static uint64_t rnd(model *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static unsigned pick(model *m, unsigned n)
{
	return (unsigned)(rnd(m) % n);
}

static int violation(model *m, const char *fmt, ...)
{
	if (m->failure[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(m->failure, sizeof m->failure, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int idx_of(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (s != NULL && strcmp(names[i], s) == 0)
			return i;
	return -1;
}

static int encode_ok(const table_effect *e)
{
	char *out = NULL;
	size_t len = 0;
	baton_err err = BATON_OK;
	if (e->kind == TABLE_FX_ANSWER)
		err = wire_answer_encode(&e->u.answer, &out, &len);
	else if (e->kind == TABLE_FX_OUTCOME)
		err = wire_outcome_encode(&e->u.outcome, &out, &len);
	else if (e->kind == TABLE_FX_SNAPSHOT)
		err = wire_snapshot_encode(&e->u.snapshot, &out, &len);
	free(out);
	return err == BATON_OK;
}

static int find_holding(const model *m, int r, int n, uint64_t token)
{
	for (int i = 0; i < m->nh[r]; i++)
		if (m->h[r][i].node == n && (token == 0 || m->h[r][i].token == token))
			return i;
	return -1;
}

/* The max_failures the acquire id carried (0: none). */
static uint32_t cap_of(const model *m, const char *id)
{
	int seq = id != NULL && id[0] == 'i' ? atoi(id + 1) : -1;
	return seq >= 0 && seq < 256 ? m->cap_by_seq[seq] : 0;
}

/* A new holding of r by node n with token t: a fresh token. */
static int install(model *m, int r, int n, uint64_t t)
{
	if (t <= m->max_token)
		return violation(m, "token %" PRIu64 " granted after %" PRIu64, t, m->max_token);
	if (m->nh[r] == MAXH)
		return violation(m, "more than %d holdings of %s", MAXH, res_name[r]);
	m->max_token = t;
	m->h[r][m->nh[r]++] = (holding){n, t};
	m->granted[r][m->ngranted[r]++] = n;
	return 0;
}

/* Whether the batch remembers (node, id) as newly finished: the request
 * was acted on, not answered as a repeat. */
static int acted_on(const model *m, const char *node, const char *id)
{
	for (size_t i = 0; id != NULL && i < m->rd->n_ids; i++) {
		const table_id_change *c = &m->rd->ids[i];
		if (c->kind == TABLE_ID_PUT && strcmp(c->rec.node, node) == 0 && strcmp(c->rec.id, id) == 0)
			return 1;
	}
	return 0;
}

static int on_answer(model *m, const table_effect *e)
{
	const wire_answer *a = &e->u.answer;
	int n = idx_of(node_name, NN, e->node), r = idx_of(res_name, NR, a->resource);
	if (n < 0 || (r < 0 && a->status != WIRE_ST_REJECTED))
		return violation(m, "answer to unknown node/resource");
	int is_pending = r >= 0 && a->id != NULL && strcmp(m->pending[n][r], a->id) == 0;
	uint32_t cap = is_pending ? m->pend_cap[n][r] : cap_of(m, a->id);
	if (is_pending && a->status != WIRE_ST_QUEUED)
		m->pending[n][r][0] = '\0';
	if (a->status == WIRE_ST_RESET && acted_on(m, e->node, a->id))
		m->streak[r] = 0; /* a reset (not a repeat of one) clears the streak */
	if (a->status == WIRE_ST_FAILED && acted_on(m, e->node, a->id)) {
		/* (a repeat answers as its first answer did: not checked again) */
		if (cap == 0 || a->failures < cap)
			return violation(m, "%s answered failed at %u with max_failures %u", node_name[n],
			                 a->failures, cap);
	}
	if (a->status != WIRE_ST_GRANTED || find_holding(m, r, n, a->token) >= 0)
		return 0; /* not a grant, or the same holding again */
	if (find_holding(m, r, n, 0) >= 0)
		return violation(m, "%s holds %s twice", node_name[n], res_name[r]);
	return install(m, r, n, a->token);
}

static int on_outcome(model *m, const wire_outcome *o)
{
	int n = idx_of(node_name, NN, o->node), r = idx_of(res_name, NR, o->resource);
	int i = r >= 0 ? find_holding(m, r, n, o->token) : -1;
	if (i < 0)
		return violation(m, "outcome of %s/%" PRIu64 " that was not a holding", o->node, o->token);
	m->h[r][i] = m->h[r][--m->nh[r]];
	if (o->mode == WIRE_MODE_ONCE && o->success) {
		m->streak[r] = 0;
	} else if (o->mode == WIRE_MODE_ONCE) {
		m->streak[r]++;
		m->last_fail_at[r] = o->completed_at_ms;
	}
	return 0;
}

/* The view's holdings are the announced ones and fit together. */
static int check_holdings(model *m, int r, const table_resource_view *v, int found)
{
	size_t nh = found ? v->n_holders : 0;
	if ((int)nh != m->nh[r])
		return violation(m, "%s: view has %zu holdings, the effects %d", res_name[r], nh, m->nh[r]);
	size_t mutex = 0;
	for (size_t i = 0; i < nh; i++) {
		const table_holding_view *h = &v->holders[i];
		if (find_holding(m, r, idx_of(node_name, NN, h->node), h->token) < 0)
			return violation(m, "%s: view holding %s/%" PRIu64 " was never announced",
			                 res_name[r], h->node, h->token);
		if (h->mode != v->holders[0].mode)
			return violation(m, "%s: a mutex holding beside another mode", res_name[r]);
		mutex += h->mode != WIRE_MODE_SHARED;
	}
	uint32_t permits = found && v->permits ? v->permits : 1;
	if (mutex > permits)
		return violation(m, "%s: %zu mutex holdings over permits %u", res_name[r], mutex, permits);
	return 0;
}

/* Whether a waiter in mode fits beside the view's holdings. */
static int fits(const table_resource_view *v, wire_mode mode)
{
	if (v->n_holders == 0)
		return 1;
	if (mode != v->holders[0].mode || mode == WIRE_MODE_ONCE)
		return 0;
	return mode == WIRE_MODE_SHARED || v->n_holders < (v->permits ? v->permits : 1);
}

static int in_list(const int *a, int n, int x)
{
	for (int i = 0; i < n; i++)
		if (a[i] == x)
			return 1;
	return 0;
}

/* FIFO across modes: the view's queue only lost members or gained them at
 * its tail, and everyone granted in this batch had nobody queued before it
 * left waiting. */
static int check_queue(model *m, int r, const table_resource_view *v, int found)
{
	int nw = found ? (int)v->n_waiting : 0, kept = 0;
	int cur[MAXW];
	for (int i = 0; i < nw; i++)
		cur[i] = idx_of(node_name, NN, v->waiting[i].node);
	for (int i = 0; i < m->nq[r]; i++)
		if (kept < nw && cur[kept] == m->q[r][i])
			kept++;
	for (int i = kept; i < nw; i++)
		if (in_list(m->q[r], m->nq[r], cur[i]))
			return violation(m, "queue of %s reordered", res_name[r]);
	for (int g = 0; g < m->ngranted[r]; g++) {
		int n = m->granted[r][g], pos = m->nq[r];
		for (int i = 0; i < m->nq[r]; i++)
			if (m->q[r][i] == n)
				pos = i;
		for (int i = 0; i < pos; i++)
			if (in_list(cur, nw, m->q[r][i]))
				return violation(m, "%s granted %s past %s, still queued", node_name[n],
				                 res_name[r], node_name[m->q[r][i]]);
	}
	if (nw > 0 && (m->nh[r] == 0 || fits(v, v->waiting[0].mode)))
		return violation(m, "%s: the head of the queue fits, or waits behind nothing", res_name[r]);
	for (int i = 0; i < nw; i++)
		if (v->waiting[i].max_failures != 0 && v->waiting[i].max_failures <= m->streak[r])
			return violation(m, "%s: %s waits with its cap %u reached", res_name[r],
			                 v->waiting[i].node, v->waiting[i].max_failures);
	memcpy(m->q[r], cur, sizeof cur);
	m->nq[r] = nw;
	m->ngranted[r] = 0;
	return 0;
}

/* The streak is exactly the failed once outcomes since the last success
 * or reset, forgotten only done_ttl after the last failure. */
static int check_streak(model *m, int r, const table_resource_view *v, int found)
{
	uint32_t seen = found ? v->failures : 0;
	if (seen == m->streak[r])
		return 0;
	if (seen == 0 && !found && m->now >= m->last_fail_at[r] + 600000) {
		m->streak[r] = 0; /* forgotten after done_ttl */
		return 0;
	}
	return violation(m, "%s: streak %u in the view, %u counted", res_name[r], seen, m->streak[r]);
}

static int check_state(model *m)
{
	char why[256];
	if (table_check(m->t, why, sizeof why) != BATON_OK)
		return violation(m, "table_check: %s", why);
	table_counts c;
	table_counts_get(m->t, &c);
	uint64_t held = 0, waiting = 0;
	for (int r = 0; r < NR; r++) {
		table_resource_view v;
		int found = table_resource_get(m->t, res_name[r], &v);
		if (check_holdings(m, r, &v, found) || check_queue(m, r, &v, found) ||
		    check_streak(m, r, &v, found))
			return -1;
		held += (uint64_t)m->nh[r];
		waiting += found ? v.n_waiting : 0;
	}
	if (c.held != held || c.waiters != waiting)
		return violation(m, "counts held %" PRIu64 " waiters %" PRIu64 " disagree", c.held,
		                 c.waiters);
	return 0;
}

/* The store's round trip without SQLite: every view restored into a fresh
 * table, which must be consistent and give the same views and snapshots. */
typedef struct copy {
	table *dst;
	char lines[NR][4096];
	int n, failed;
} copy;

static void copy_one(void *ctx, const table_resource_view *v)
{
	copy *c = ctx;
	wire_snapshot s;
	table_snapshot_of(v, &s);
	if (c->n < NR) {
		char *line = c->lines[c->n++];
		h_view(line, sizeof c->lines[0], v);
		h_cat(line, sizeof c->lines[0], " | ");
		size_t at = strlen(line);
		h_snapshot(line + at, sizeof c->lines[0] - at, &s);
	}
	if (table_restore(c->dst, v) != BATON_OK)
		c->failed++;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int check_restore(model *m)
{
	table_config cfg;
	table_config_default(&cfg);
	copy a = {.dst = table_new(&cfg)}, b = {.dst = table_new(&cfg)};
	char why[256];
	int rc = 0;
	table_restore_next_token(a.dst, table_next_token(m->t));
	table_restore_next_id_seq(a.dst, table_next_id_seq(m->t));
	table_foreach(m->t, copy_one, &a);
	table_restore_next_token(b.dst, table_next_token(a.dst));
	table_foreach(a.dst, copy_one, &b);
	qsort(a.lines, (size_t)a.n, sizeof a.lines[0], cmp_lines);
	qsort(b.lines, (size_t)b.n, sizeof b.lines[0], cmp_lines);
	if (a.failed || b.failed)
		rc = violation(m, "a view was refused by table_restore");
	else if (table_check(a.dst, why, sizeof why) != BATON_OK)
		rc = violation(m, "restored table: %s", why);
	else if (a.n != b.n || table_next_deadline(a.dst) != table_next_deadline(m->t) ||
	         table_next_id_seq(a.dst) != table_next_id_seq(m->t))
		rc = violation(m, "restored table differs (resources, next deadline or id seq)");
	for (int i = 0; rc == 0 && i < a.n; i++)
		if (strcmp(a.lines[i], b.lines[i]) != 0)
			rc = violation(m, "restored view differs: %s / %s", a.lines[i], b.lines[i]);
	table_free(a.dst);
	table_free(b.dst);
	return rc;
}

/* Takes the batch, checks every effect, then the state. */
static int settle(model *m)
{
	table_ready rd;
	table_ready_get(m->t, &rd);
	m->rd = &rd;
	int rc = 0;
	for (size_t i = 0; i < rd.n_effects && rc == 0; i++) {
		const table_effect *e = &rd.effects[i];
		if (getenv("BATON_TRACE") != NULL) {
			char line[1024];
			h_render(line, sizeof line, e);
			print_message("  %s\n", line);
		}
		if (!encode_ok(e))
			rc = violation(m, "effect %zu does not encode", i);
		else if (e->kind == TABLE_FX_ANSWER)
			rc = on_answer(m, e);
		else if (e->kind == TABLE_FX_OUTCOME)
			rc = on_outcome(m, &e->u.outcome);
	}
	if (rc == 0 && rd.next_token != table_next_token(m->t))
		rc = violation(m, "batch next_token");
	table_advance(m->t);
	return rc ? rc : check_state(m);
}

/* A new id (remembered with the max_failures its acquire carries), or now
 * and then one this node used before (then *cap is what it carried). */
static const char *some_id(model *m, int n, char *buf, uint32_t *cap)
{
	if (m->n_ids[n] > 0 && pick(m, 4) == 0) {
		int k = (int)pick(m, (unsigned)m->n_ids[n]);
		*cap = m->id_cap[n][k];
		return m->ids[n][k];
	}
	if (m->seq < 256)
		m->cap_by_seq[m->seq] = *cap;
	snprintf(buf, 16, "i%d", m->seq++);
	int k = m->n_ids[n] < 8 ? m->n_ids[n]++ : (int)pick(m, 8);
	strcpy(m->ids[n][k], buf);
	m->id_cap[n][k] = *cap;
	return buf;
}

static int waits_for(model *m, int n, int r)
{
	for (int i = 0; i < m->nq[r]; i++)
		if (m->q[r][i] == n)
			return 1;
	return 0;
}

/* A mode for r: r2 is mostly a lock (mutex with permits 1 or 2, or shared),
 * the others mostly once; now and then the other kind, for conflicts. */
static void random_shape(model *m, int r, wire_request *q)
{
	int lock = (r == 2) != (pick(m, 20) == 0);
	if (!lock) {
		q->mode = WIRE_MODE_ONCE;
		q->max_failures = pick(m, 2) ? 1 + pick(m, 3) : 0;
		return;
	}
	q->mode = pick(m, 2) ? WIRE_MODE_SHARED : WIRE_MODE_MUTEX;
	q->permits = q->mode == WIRE_MODE_MUTEX && pick(m, 3) == 0 ? 2 : 0;
}

static baton_err random_request(model *m, int n, int r)
{
	char buf[16];
	static const wire_op ops[20] = {WIRE_OP_ACQUIRE, WIRE_OP_ACQUIRE, WIRE_OP_ACQUIRE, WIRE_OP_ACQUIRE,
	                                WIRE_OP_ACQUIRE, WIRE_OP_ACQUIRE, WIRE_OP_ACQUIRE, WIRE_OP_ACQUIRE,
	                                WIRE_OP_RELEASE, WIRE_OP_RELEASE, WIRE_OP_RELEASE, WIRE_OP_RELEASE,
	                                WIRE_OP_RELEASE, WIRE_OP_RENEW,   WIRE_OP_RENEW,   WIRE_OP_CANCEL,
	                                WIRE_OP_CANCEL,  WIRE_OP_CANCEL,  WIRE_OP_RESET,   WIRE_OP_RESET};
	wire_request q = h_req(ops[pick(m, 20)], NULL, res_name[r]);
	random_shape(m, r, &q);
	uint32_t cap = q.op == WIRE_OP_ACQUIRE ? q.max_failures : 0;
	q.id = some_id(m, n, buf, &cap);
	if (q.op == WIRE_OP_ACQUIRE && q.mode == WIRE_MODE_ONCE)
		q.max_failures = cap; /* a repeated id carries what it carried first */
	q.has_lease = pick(m, 2);
	q.lease_ms = WIRE_LEASE_MIN + (uint32_t)pick(m, 60000);
	q.has_wait = pick(m, 3) == 0;
	q.wait_ms = pick(m, 3) ? pick(m, 20000) : 0;
	int mine = find_holding(m, r, n, 0);
	q.token = mine >= 0 && pick(m, 5) ? m->h[r][mine].token : 1 + pick(m, (unsigned)m->max_token + 2);
	q.success = pick(m, 2);
	q.error = pick(m, 2) ? "exit 1" : NULL;
	q.result = pick(m, 2) ? "r" : NULL;
	q.has_remember = pick(m, 4) == 0;
	q.remember_ms = pick(m, 30000);
	int new_id = strcmp(q.id, buf) == 0, was_waiting = waits_for(m, n, r), was_holding = mine >= 0;
	baton_err err = table_step_request(m->t, m->now, node_name[n], &q);
	if (q.op == WIRE_OP_ACQUIRE && new_id && !was_waiting && !was_holding) {
		strcpy(m->pending[n][r], q.id); /* cleared again unless it is answered queued */
		m->pend_cap[n][r] = q.max_failures;
	}
	if (q.op == WIRE_OP_CANCEL && new_id && was_waiting)
		m->pending[n][r][0] = '\0';
	return err;
}

/* Pending entries set for acquires not answered queued are dropped at once. */
static void settle_pending(model *m, const table_ready *rd)
{
	(void)rd;
	for (int n = 0; n < NN; n++)
		for (int r = 0; r < NR; r++)
			if (m->pending[n][r][0] != '\0' && !waits_for(m, n, r))
				m->pending[n][r][0] = '\0';
}

static int one_step(model *m)
{
	unsigned op = pick(m, 20);
	int n = (int)pick(m, NN), r = (int)pick(m, NR);
	baton_err err = BATON_OK;
	if (op < 13) {
		err = random_request(m, n, r);
	} else if (op < 15) {
		err = table_step_presence(m->t, m->now, node_name[n], false);
	} else if (op < 16) {
		err = table_step_presence(m->t, m->now, node_name[n], pick(m, 2));
	} else if (op < 17) {
		wire_diag d = {.has_id = true, .id = "bad", .message = "bad"};
		err = table_step_invalid(m->t, m->now, node_name[n], BATON_E_BAD_REQUEST, &d);
	} else {
		m->now += (int64_t)pick(m, 40000);
		err = table_tick(m->t, m->now);
		m->ticking = 1;
	}
	if (err != BATON_OK)
		return violation(m, "step failed: %d", err);
	if (getenv("BATON_TRACE") != NULL)
		print_message("step op=%u node=%s res=%s now=%lld\n", op, node_name[n], res_name[r],
		              (long long)m->now);
	int rc = settle(m);
	m->ticking = 0;
	if (rc == 0 && m->seq % 10 == 0)
		rc = check_restore(m);
	if (rc)
		return -1;
	settle_pending(m, NULL);
	if (op >= 13 && op < 15) {
		for (int i = 0; i < NR; i++)
			if (find_holding(m, i, n, 0) >= 0 || waits_for(m, n, i))
				return violation(m, "%s still holds or waits after going offline",
				                 node_name[n]);
	}
	return 0;
}

/* Lets every lease and wait run out: every queued acquire must be answered. */
static int drain(model *m)
{
	for (int i = 0; i < 4 * MAXW; i++) {
		m->now += 4000000;
		m->ticking = 1;
		if (table_tick(m->t, m->now) != BATON_OK || settle(m))
			return violation(m, "drain");
	}
	for (int n = 0; n < NN; n++)
		for (int r = 0; r < NR; r++)
			if (m->pending[n][r][0] != '\0')
				return violation(m, "%s's acquire %s of %s never answered", node_name[n],
				                 m->pending[n][r], res_name[r]);
	table_counts c;
	table_counts_get(m->t, &c);
	if (c.held || c.waiters || c.remembered || c.resources)
		return violation(m, "not idle after draining");
	return 0;
}

static int run_one(uint64_t seed, int steps)
{
	model m;
	memset(&m, 0, sizeof m);
	m.rng = seed * 2654435761u + 1;
	m.now = 1000000;
	table_config cfg;
	table_config_default(&cfg);
	cfg.id_memory = 1 + (uint32_t)(seed % 8);
	m.t = table_new(&cfg);
	int rc = 0;
	for (int i = 0; i < steps && rc == 0; i++)
		rc = one_step(&m);
	if (rc == 0)
		rc = drain(&m);
	if (rc != 0)
		print_error("model test failed (replay with BATON_SEED=%" PRIu64 "): %s\n", seed, m.failure);
	table_free(m.t);
	return rc;
}

static void test_table_model_random_sequences_keep_invariants(void **state)
{
	(void)state;
	const char *s = getenv("BATON_SEED"), *runs = getenv("BATON_RUNS");
	if (s != NULL) {
		assert_int_equal(run_one(strtoull(s, NULL, 10), 80), 0);
		return;
	}
	int n = runs != NULL ? atoi(runs) : 10000;
	int failed = 0;
	for (int i = 1; i <= n && failed < 3; i++)
		failed += run_one((uint64_t)i, 80) != 0;
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_model_random_sequences_keep_invariants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
