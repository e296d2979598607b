/*
 * test_table_model.c - randomized model test of the lock table: thousands of
 * short random scripts (a few nodes and resources; acquires, renews,
 * releases, cancels, resets with new and repeated ids and bad tokens;
 * presence changes; ticks moving time) checked after every step against
 * invariants of the contract:
 *   - at most one holder per resource, and the table's view agrees with the
 *     holder the effects announced (grant ... outcome);
 *   - tokens of new grants strictly increase;
 *   - FIFO: a queue only loses members or gains them at its tail, and a
 *     waiter is granted only when everyone queued before it is gone;
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

typedef struct model {
	table *t;
	int64_t now;
	uint64_t rng;
	uint64_t max_token;
	int seq;
	/* announced holder per resource; -1: none */
	int holder[NR];
	uint64_t token[NR];
	int pend_node[NR];
	uint64_t pend_token[NR];
	/* queue as last seen in the view */
	int q[NR][MAXW];
	int nq[NR];
	/* primary queued acquire awaiting a final answer, per node and resource */
	char pending[NN][NR][16];
	char ids[NN][8][16]; /* recent ids per node, for repeats */
	int n_ids[NN];
	int ticking; /* the batch comes from table_tick() */
	char failure[512];
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

/* A new holding of r by node n with token t: fresh token, FIFO respected. */
static int install(model *m, int r, int n, uint64_t t)
{
	if (t <= m->max_token)
		return violation(m, "token %" PRIu64 " granted after %" PRIu64, t, m->max_token);
	m->max_token = t;
	m->holder[r] = n;
	m->token[r] = t;
	for (int i = 0; i < m->nq[r]; i++)
		if (m->q[r][i] == n && i != 0)
			return violation(m, "%s granted %s past %d earlier waiters", node_name[n],
			                 res_name[r], i);
	if (m->nq[r] > 0 && m->q[r][0] == n) {
		memmove(m->q[r], m->q[r] + 1, (size_t)(m->nq[r] - 1) * sizeof m->q[r][0]);
		m->nq[r]--;
	}
	return 0;
}

static int on_answer(model *m, const table_effect *e)
{
	const wire_answer *a = &e->u.answer;
	int n = idx_of(node_name, NN, e->node), r = idx_of(res_name, NR, a->resource);
	if (n < 0 || (r < 0 && a->status != WIRE_ST_REJECTED))
		return violation(m, "answer to unknown node/resource");
	if (r >= 0 && a->id != NULL && strcmp(m->pending[n][r], a->id) == 0 && a->status != WIRE_ST_QUEUED)
		m->pending[n][r][0] = '\0';
	if (a->status == WIRE_ST_BUSY && m->ticking) {
		/* a wait ran out earlier in this tick: that waiter is gone */
		for (int i = 0; i < m->nq[r]; i++)
			if (m->q[r][i] == n) {
				memmove(m->q[r] + i, m->q[r] + i + 1,
				        (size_t)(m->nq[r] - i - 1) * sizeof m->q[r][0]);
				m->nq[r]--;
				break;
			}
	}
	if (a->status != WIRE_ST_GRANTED)
		return 0;
	if (m->holder[r] == n && m->token[r] == a->token)
		return 0; /* the same holding again */
	if (m->holder[r] >= 0) {
		if (m->pend_node[r] >= 0)
			return violation(m, "two successors for %s", res_name[r]);
		m->pend_node[r] = n;
		m->pend_token[r] = a->token;
		return 0;
	}
	return install(m, r, n, a->token);
}

static int on_outcome(model *m, const wire_outcome *o)
{
	int n = idx_of(node_name, NN, o->node), r = idx_of(res_name, NR, o->resource);
	if (r < 0 || m->holder[r] != n || m->token[r] != o->token)
		return violation(m, "outcome of %s/%" PRIu64 " that was not the holding", o->node, o->token);
	m->holder[r] = -1;
	if (m->pend_node[r] >= 0) {
		int pn = m->pend_node[r];
		m->pend_node[r] = -1;
		return install(m, r, pn, m->pend_token[r]);
	}
	return 0;
}

/* The view's queue may only lose members or gain them at its tail. */
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
		for (int j = 0; j < m->nq[r]; j++)
			if (m->q[r][j] == cur[i])
				return violation(m, "queue of %s reordered", res_name[r]);
	memcpy(m->q[r], cur, sizeof cur);
	m->nq[r] = nw;
	return 0;
}

static int check_state(model *m)
{
	table_counts c;
	table_counts_get(m->t, &c);
	uint64_t held = 0, waiting = 0;
	for (int r = 0; r < NR; r++) {
		table_resource_view v;
		int found = table_resource_get(m->t, res_name[r], &v);
		int h = found ? idx_of(node_name, NN, v.holder) : -1;
		if (h != m->holder[r] || (h >= 0 && v.token != m->token[r]))
			return violation(m, "view holder of %s disagrees with the effects", res_name[r]);
		if (found && v.holder == NULL && v.n_waiting > 0)
			return violation(m, "%s has waiters but no holder", res_name[r]);
		held += h >= 0;
		waiting += found ? v.n_waiting : 0;
		if (check_queue(m, r, &v, found))
			return -1;
	}
	if (c.held != held || c.waiters != waiting)
		return violation(m, "counts held %" PRIu64 " waiters %" PRIu64 " disagree", c.held,
		                 c.waiters);
	return 0;
}

/* Takes the batch, checks every effect, then the state. */
static int settle(model *m)
{
	table_ready rd;
	table_ready_get(m->t, &rd);
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

/* A new id, or now and then one this node used before. */
static const char *some_id(model *m, int n, char *buf)
{
	if (m->n_ids[n] > 0 && pick(m, 4) == 0)
		return m->ids[n][pick(m, (unsigned)m->n_ids[n])];
	snprintf(buf, 16, "i%d", m->seq++);
	int k = m->n_ids[n] < 8 ? m->n_ids[n]++ : (int)pick(m, 8);
	strcpy(m->ids[n][k], buf);
	return buf;
}

static int waits_for(model *m, int n, int r)
{
	for (int i = 0; i < m->nq[r]; i++)
		if (m->q[r][i] == n)
			return 1;
	return 0;
}

static baton_err random_request(model *m, int n, int r)
{
	char buf[16];
	wire_request q = h_req((wire_op)(1 + pick(m, 5)), some_id(m, n, buf), res_name[r]);
	if (q.op == WIRE_OP_ACQUIRE && pick(m, 3) == 0)
		q.op = WIRE_OP_RELEASE;
	q.mode = (r == 2) != (pick(m, 20) == 0) ? WIRE_MODE_MUTEX : WIRE_MODE_ONCE;
	q.has_lease = pick(m, 2);
	q.lease_ms = WIRE_LEASE_MIN + (uint32_t)pick(m, 60000);
	q.has_wait = pick(m, 3) == 0;
	q.wait_ms = pick(m, 3) ? pick(m, 20000) : 0;
	q.token = m->holder[r] == n && pick(m, 5) ? m->token[r] : 1 + pick(m, (unsigned)m->max_token + 2);
	q.success = pick(m, 2);
	q.error = pick(m, 2) ? "exit 1" : NULL;
	q.result = pick(m, 2) ? "r" : NULL;
	q.has_remember = pick(m, 4) == 0;
	q.remember_ms = pick(m, 30000);
	int new_id = strcmp(q.id, buf) == 0, was_waiting = waits_for(m, n, r),
	    was_holding = m->holder[r] == n;
	baton_err err = table_step_request(m->t, m->now, node_name[n], &q);
	if (q.op == WIRE_OP_ACQUIRE && new_id && !was_waiting && !was_holding)
		strcpy(m->pending[n][r], q.id); /* cleared again unless it is answered queued */
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
	if (rc)
		return -1;
	settle_pending(m, NULL);
	if (op >= 13 && op < 15) {
		for (int i = 0; i < NR; i++)
			if (m->holder[i] == n || waits_for(m, n, i))
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
	for (int r = 0; r < NR; r++)
		m.holder[r] = m.pend_node[r] = -1;
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
		assert_int_equal(run_one(strtoull(s, NULL, 10), 60), 0);
		return;
	}
	int n = runs != NULL ? atoi(runs) : 10000;
	int failed = 0;
	for (int i = 1; i <= n && failed < 3; i++)
		failed += run_one((uint64_t)i, 60) != 0;
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_model_random_sequences_keep_invariants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
