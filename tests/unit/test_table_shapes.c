/*
 * test_table_shapes.c - the lock table's second-edition rules, one rule per
 * test (PROTOCOL.md "Additions to v1"): shared holdings, semaphores
 * (permits), one FIFO queue across modes, the conflicts between shapes,
 * the holder named by queued and busy, and the failure streak with
 * max_failures and the failed answer. Scripts of steps and ticks asserting
 * the exact effects of each batch; every batch is followed by
 * table_check() (table_script.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table_script.h"

/* An acquire in any shape; wait < 0: no wait_ms. */
static void acq_shape(h *x, const char *node, const char *id, const char *res, wire_mode mode,
                      uint32_t permits, uint32_t cap, int64_t wait)
{
	wire_request r = h_req(WIRE_OP_ACQUIRE, id, res);
	r.mode = mode;
	r.permits = permits;
	r.max_failures = cap;
	r.has_wait = wait >= 0;
	r.wait_ms = wait >= 0 ? (uint64_t)wait : 0;
	step(x, node, &r);
}

static void shared(h *x, const char *node, const char *id, const char *res)
{
	acq_shape(x, node, id, res, WIRE_MODE_SHARED, 0, 0, -1);
}

static void sem(h *x, const char *node, const char *id, const char *res, uint32_t permits)
{
	acq_shape(x, node, id, res, WIRE_MODE_MUTEX, permits, 0, -1);
}

static void capped(h *x, const char *node, const char *id, const char *res, uint32_t cap)
{
	acq_shape(x, node, id, res, WIRE_MODE_ONCE, 0, cap, -1);
}

/* The message of the only effect of the batch, a rejection; advances. */
static void expect_conflict(h *x, const char *node, const char *id, const char *words)
{
	table_ready rd;
	table_ready_get(x->t, &rd);
	assert_int_equal(rd.n_effects, 1);
	const wire_answer *a = &rd.effects[0].u.answer;
	assert_string_equal(rd.effects[0].node, node);
	assert_string_equal(a->id, id);
	assert_int_equal(a->status, WIRE_ST_REJECTED);
	assert_int_equal(a->code, BATON_E_MODE_CONFLICT);
	if (strstr(a->message, words) == NULL)
		fail_msg("message \"%s\" does not say \"%s\"", a->message, words);
	table_advance(x->t);
}

/* A, B and C hold db shared (tokens 1, 2, 3). */
static void three_readers(h *x)
{
	shared(x, "A", "a1", "db");
	shared(x, "B", "b1", "db");
	shared(x, "C", "c1", "db");
	expect(x, "A: granted a1 db t=1 l=30000", "B: granted b1 db t=2 l=30000",
	       "C: granted c1 db t=3 l=30000",
	       "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[] "
	       "holders=[A/1/shared,B/2/shared,C/3/shared] q=[]",
	       NULL);
}

/* ---- shared ------------------------------------------------------------------------ */

static void test_shared_three_readers_hold_at_once(void **state)
{
	h *x = *state;
	three_readers(x);
	rel(x, "B", "b2", "db", 2, true, NULL, NULL);
	expect(x, "B: released b2 db t=2", "outcome db B/2 ok released @1000000",
	       "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[] "
	       "holders=[A/1/shared,C/3/shared] q=[]",
	       NULL);
}

/* A writer waits for every reader, and a later reader waits behind it
 * (no writer starvation). */
static void test_shared_writer_waits_for_readers_and_blocks_later_reader(void **state)
{
	h *x = *state;
	three_readers(x);
	acqm(x, "W", "w1", "db");
	shared(x, "D", "d1", "db");
	expect(x, "W: queued w1 db pos=1 holder=A", "D: queued d1 db pos=2 holder=A",
	       "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[W,D] "
	       "holders=[A/1/shared,B/2/shared,C/3/shared] q=[W/mutex,D/shared]",
	       NULL);
	rel(x, "A", "a2", "db", 1, true, NULL, NULL);
	rel(x, "B", "b2", "db", 2, true, NULL, NULL);
	expect(x, "A: released a2 db t=1", "outcome db A/1 ok released @1000000", "B: released b2 db t=2",
	       "outcome db B/2 ok released @1000000",
	       "state db shared holder=C t=3 since=1000000 until=1030000 meta=- wait=[W,D] "
	       "holders=[C/3/shared] q=[W/mutex,D/shared]",
	       NULL);
	rel(x, "C", "c2", "db", 3, true, NULL, NULL);
	expect(x, "W: granted w1 db t=4 l=30000", "C: released c2 db t=3",
	       "outcome db C/3 ok released @1000000",
	       "state db mutex holder=W t=4 since=1000000 until=1030000 meta=- wait=[D] holders=[W/4/mutex] "
	       "q=[D/shared]",
	       NULL);
	rel(x, "W", "w2", "db", 4, true, NULL, NULL);
	expect(x, "D: granted d1 db t=5 l=30000", "W: released w2 db t=4",
	       "outcome db W/4 ok released @1000000",
	       "state db shared holder=D t=5 since=1000000 until=1030000 meta=- wait=[] holders=[D/5/shared] "
	       "q=[]",
	       NULL);
}

/* Consecutive readers at the head are granted together, up to the first
 * writer; a reader behind that writer waits. */
static void test_shared_consecutive_readers_at_head_granted_together(void **state)
{
	h *x = *state;
	acqm(x, "W", "w1", "db");
	shared(x, "S1", "s1", "db");
	shared(x, "S2", "s2", "db");
	acqm(x, "M", "m1", "db");
	shared(x, "S3", "s3", "db");
	expect(x, "W: granted w1 db t=1 l=30000", "S1: queued s1 db pos=1 holder=W",
	       "S2: queued s2 db pos=2 holder=W", "M: queued m1 db pos=3 holder=W",
	       "S3: queued s3 db pos=4 holder=W",
	       "state db mutex holder=W t=1 since=1000000 until=1030000 meta=- wait=[S1,S2,M,S3] "
	       "holders=[W/1/mutex] q=[S1/shared,S2/shared,M/mutex,S3/shared]",
	       NULL);
	rel(x, "W", "w2", "db", 1, false, "x", NULL);
	expect(x, "S1: granted s1 db t=2 l=30000 prev=W/1/x/released",
	       "S2: granted s2 db t=3 l=30000 prev=W/1/x/released", "W: released w2 db t=1",
	       "outcome db W/1 fail err=x released @1000000",
	       "state db shared holder=S1 t=2 since=1000000 until=1030000 meta=- wait=[M,S3] "
	       "prev=W/1/x/released "
	       "holders=[S1/2/shared,S2/3/shared] q=[M/mutex,S3/shared]",
	       NULL);
}

/* Many readers granted by one release, none with a wait deadline: each
 * new holding gets its lease deadline (room reserved for all of them). */
static void test_shared_hundred_readers_granted_by_one_release(void **state)
{
	h *x = *state;
	acqm(x, "W", "w1", "db");
	char node[16], id[16];
	for (int i = 0; i < 100; i++) {
		snprintf(node, sizeof node, "R%03d", i);
		snprintf(id, sizeof id, "r%d", i);
		shared(x, node, id, "db");
	}
	table_ready rd;
	table_ready_get(x->t, &rd);
	table_advance(x->t);
	rel(x, "W", "w2", "db", 1, true, NULL, NULL);
	table_ready_get(x->t, &rd);
	size_t granted = 0;
	for (size_t i = 0; i < rd.n_effects; i++)
		granted +=
		    rd.effects[i].kind == TABLE_FX_ANSWER && rd.effects[i].u.answer.status == WIRE_ST_GRANTED;
	assert_int_equal(granted, 100);
	table_advance(x->t);
	char why[256];
	if (table_check(x->t, why, sizeof why) != BATON_OK)
		fail_msg("table_check: %s", why);
	table_counts c;
	table_counts_get(x->t, &c);
	assert_int_equal(c.held, 100);
	assert_int_equal(table_next_deadline(x->t), 1030000);
}

/* A waiter that leaves the head of the queue (cancel, offline, a wait
 * that runs out) lets the waiters behind it that fit be granted. */
static void test_shared_head_leaving_grants_fitting_waiters_behind(void **state)
{
	h *x = *state;
	shared(x, "A", "a1", "db");
	acqm(x, "W", "w1", "db");
	shared(x, "S", "s1", "db");
	acq_shape(x, "V", "v1", "db", WIRE_MODE_MUTEX, 0, 0, 5000);
	shared(x, "T", "t1", "db");
	expect(x, "A: granted a1 db t=1 l=30000", "W: queued w1 db pos=1 holder=A",
	       "S: queued s1 db pos=2 holder=A", "V: queued v1 db pos=3 holder=A",
	       "T: queued t1 db pos=4 holder=A",
	       "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[W,S,V,T] "
	       "holders=[A/1/shared] q=[W/mutex,S/shared,V/mutex,T/shared]",
	       NULL);
	simple(x, WIRE_OP_CANCEL, "W", "w2", "db", 0);
	expect(x, "W: cancelled w2 db", "S: granted s1 db t=2 l=30000",
	       "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[V,T] "
	       "holders=[A/1/shared,S/2/shared] q=[V/mutex,T/shared]",
	       NULL);
	tick(x, 5000);
	expect(x, "V: busy v1 db holder=A", "T: granted t1 db t=3 l=30000",
	       "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[] "
	       "holders=[A/1/shared,S/2/shared,T/3/shared] q=[]",
	       NULL);
	acqm(x, "W", "w3", "db");
	shared(x, "U", "u1", "db");
	offline(x, "W");
	expect(x, "W: queued w3 db pos=1 holder=A", "U: queued u1 db pos=2 holder=A",
	       "U: granted u1 db t=4 l=30000",
	       "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[] "
	       "holders=[A/1/shared,S/2/shared,T/3/shared,U/4/shared] q=[]",
	       NULL);
}

static void test_shared_one_lease_expiry_leaves_other_readers(void **state)
{
	h *x = *state;
	shared(x, "A", "a1", "db");
	tick(x, 10000);
	shared(x, "B", "b1", "db");
	acqm(x, "W", "w1", "db");
	expect(x, "A: granted a1 db t=1 l=30000", "B: granted b1 db t=2 l=30000",
	       "W: queued w1 db pos=1 holder=A",
	       "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[W] "
	       "holders=[A/1/shared,B/2/shared] q=[W/mutex]",
	       NULL);
	tick(x, 20000);
	expect(x, "A: revoked a1 db t=1 lease_expired", "outcome db A/1 fail lease_expired @1030000",
	       "state db shared holder=B t=2 since=1010000 until=1040000 meta=- wait=[W] "
	       "prev=A/1/-/lease_expired "
	       "holders=[B/2/shared] q=[W/mutex]",
	       NULL);
	/* queued and busy name the earliest-granted holding that remains */
	acq_shape(x, "Z", "z1", "db", WIRE_MODE_MUTEX, 0, 0, 0);
	expect(x, "Z: busy z1 db holder=B", NULL);
}

/* ---- semaphores -------------------------------------------------------------------- */

static void test_semaphore_two_permits_third_waits(void **state)
{
	h *x = *state;
	sem(x, "A", "a1", "pool", 2);
	sem(x, "B", "b1", "pool", 2);
	sem(x, "C", "c1", "pool", 2);
	expect(x, "A: granted a1 pool t=1 l=30000", "B: granted b1 pool t=2 l=30000",
	       "C: queued c1 pool pos=1 holder=A",
	       "state pool mutex holder=A t=1 since=1000000 until=1030000 meta=- wait=[C] "
	       "holders=[A/1/mutex,B/2/mutex] permits=2",
	       NULL);
	rel(x, "B", "b2", "pool", 2, true, NULL, NULL);
	expect(x, "C: granted c1 pool t=3 l=30000", "B: released b2 pool t=2",
	       "outcome pool B/2 ok released @1000000",
	       "state pool mutex holder=A t=1 since=1000000 until=1030000 meta=- wait=[] "
	       "holders=[A/1/mutex,C/3/mutex] permits=2",
	       NULL);
}

static void test_semaphore_permits_mismatch_rejected_says_permits(void **state)
{
	h *x = *state;
	sem(x, "A", "a1", "pool", 2);
	expect(x, "A: granted a1 pool t=1 l=30000",
	       "state pool mutex holder=A t=1 since=1000000 until=1030000 meta=- wait=[] permits=2", NULL);
	sem(x, "B", "b1", "pool", 3);
	expect_conflict(x, "B", "b1", "permits");
	acqm(x, "B", "b2", "pool"); /* permits absent is 1 */
	expect_conflict(x, "B", "b2", "permits");
	shared(x, "B", "b3", "pool");
	expect_conflict(x, "B", "b3", "shared on a resource held or queued as a semaphore");
	/* and a semaphore acquire of a resource read-locked */
	shared(x, "C", "c1", "db");
	expect(x, "C: granted c1 db t=2 l=30000",
	       "state db shared holder=C t=2 since=1000000 until=1030000 meta=- wait=[] holders=[C/2/shared] "
	       "q=[]",
	       NULL);
	sem(x, "B", "b4", "db", 2);
	expect_conflict(x, "B", "b4", "permits");
	/* once nothing holds or waits, the next acquirer picks the permits */
	rel(x, "A", "a2", "pool", 1, true, NULL, NULL);
	sem(x, "B", "b5", "pool", 3);
	expect(x, "A: released a2 pool t=1", "outcome pool A/1 ok released @1000000",
	       "B: granted b5 pool t=3 l=30000",
	       "state pool mutex holder=B t=3 since=1000000 until=1030000 meta=- wait=[] permits=3", NULL);
}

/* ---- conflicts ----------------------------------------------------------------------- */

static void test_conflict_same_node_other_mode_no_upgrade(void **state)
{
	h *x = *state;
	shared(x, "A", "a1", "db");
	acqm(x, "B", "b1", "db");
	expect(
	    x, "A: granted a1 db t=1 l=30000", "B: queued b1 db pos=1 holder=A",
	    "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[B] holders=[A/1/shared] "
	    "q=[B/mutex]",
	    NULL);
	acqm(x, "A", "a2", "db");
	expect_conflict(x, "A", "a2", "no upgrade or downgrade");
	shared(x, "B", "b2", "db");
	expect_conflict(x, "B", "b2", "no upgrade or downgrade");
	/* the same mode again is the same grant or the same place */
	shared(x, "A", "a3", "db");
	acqm(x, "B", "b3", "db");
	expect(
	    x, "A: granted a3 db t=1 l=30000", "B: queued b3 db pos=1 holder=A",
	    "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[B] holders=[A/1/shared] "
	    "q=[B/mutex]",
	    NULL);
}

static void test_conflict_once_against_shared_and_mutex(void **state)
{
	h *x = *state;
	shared(x, "A", "a1", "db");
	acq(x, "B", "b1", "img");
	expect(x, "A: granted a1 db t=1 l=30000", "B: granted b1 img t=2 l=30000",
	       "state db shared holder=A t=1 since=1000000 until=1030000 meta=- wait=[] holders=[A/1/shared] "
	       "q=[]",
	       "state img once holder=B t=2 since=1000000 until=1030000 meta=- wait=[]", NULL);
	acq(x, "C", "c1", "db");
	expect_conflict(x, "C", "c1", "not once");
	shared(x, "C", "c2", "img");
	expect_conflict(x, "C", "c2", "in once mode");
	/* a once resource remembered only by its streak still conflicts */
	rel(x, "B", "b2", "img", 2, false, "e", NULL);
	expect(x, "B: released b2 img t=2", "outcome img B/2 fail err=e released @1000000",
	       "state img once wait=[] prev=B/2/e/released failures=1 last=B/2/e/released@1000000", NULL);
	acqm(x, "C", "c3", "img");
	expect_conflict(x, "C", "c3", "in once mode");
}

/* ---- the failure streak --------------------------------------------------------------- */

/* A holds img; queued: B (cap 1), C (no cap), D (cap 2), E (cap 1). */
static void streak_queue(h *x)
{
	acq(x, "A", "a1", "img");
	capped(x, "B", "b1", "img", 1);
	acq(x, "C", "c1", "img");
	capped(x, "D", "d1", "img", 2);
	capped(x, "E", "e1", "img", 1);
	expect(x, "A: granted a1 img t=1 l=30000", "B: queued b1 img pos=1 holder=A",
	       "C: queued c1 img pos=2 holder=A", "D: queued d1 img pos=3 holder=A",
	       "E: queued e1 img pos=4 holder=A",
	       "state img once holder=A t=1 since=1000000 until=1030000 meta=- wait=[B,C,D,E]", NULL);
}

/* Every waiter whose cap the streak reaches is answered failed wherever it
 * is in the queue; the first whose cap is not reached is granted. */
static void test_streak_reaches_one_cap_not_another(void **state)
{
	h *x = *state;
	streak_queue(x);
	rel(x, "A", "a2", "img", 1, false, "manifest unknown", NULL);
	expect(x, "B: failed b1 img failures=1 last=A/1/manifest unknown/released@1000000",
	       "E: failed e1 img failures=1 last=A/1/manifest unknown/released@1000000",
	       "C: granted c1 img t=2 l=30000 prev=A/1/manifest unknown/released", "A: released a2 img t=1",
	       "outcome img A/1 fail err=manifest unknown released @1000000",
	       "state img once holder=C t=2 since=1000000 until=1030000 meta=- wait=[D] prev=A/1/manifest "
	       "unknown/released failures=1 last=A/1/manifest unknown/released@1000000",
	       NULL);
	tick(x, 30000); /* C's lease runs out: a failure too */
	expect(x, "D: failed d1 img failures=2 last=C/2/-/lease_expired@1030000",
	       "C: revoked c1 img t=2 lease_expired", "outcome img C/2 fail lease_expired @1030000",
	       "state img once wait=[] prev=C/2/-/lease_expired failures=2 last=C/2/-/lease_expired@1030000",
	       NULL);
	/* a repeat of a failed acquire is answered the same */
	capped(x, "B", "b1", "img", 1);
	expect(x, "B: failed b1 img failures=1 last=A/1/manifest unknown/released@1000000", NULL);
}

static void test_streak_late_arrival_failed_at_once_uncapped_never(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "img");
	rel(x, "A", "a2", "img", 1, false, NULL, NULL);
	acq(x, "A", "a3", "img");
	rel(x, "A", "a4", "img", 2, false, NULL, NULL);
	expect(x, "A: granted a1 img t=1 l=30000", "A: released a2 img t=1",
	       "outcome img A/1 fail released @1000000", "A: granted a3 img t=2 l=30000 prev=A/1/-/released",
	       "A: released a4 img t=2", "outcome img A/2 fail released @1000000",
	       "state img once wait=[] prev=A/2/-/released failures=2 last=A/2/-/released@1000000", NULL);
	capped(x, "B", "b1", "img", 2);
	capped(x, "C", "c1", "img", 3);
	acq(x, "D", "d1", "img");
	expect(x, "B: failed b1 img failures=2 last=A/2/-/released@1000000",
	       "C: granted c1 img t=3 l=30000 prev=A/2/-/released", "D: queued d1 img pos=1 holder=C",
	       "state img once holder=C t=3 since=1000000 until=1030000 meta=- wait=[D] prev=A/2/-/released "
	       "failures=2 last=A/2/-/released@1000000",
	       NULL);
}

static void test_streak_success_and_reset_clear_it(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "img");
	rel(x, "A", "a2", "img", 1, false, NULL, NULL);
	expect(x, "A: granted a1 img t=1 l=30000", "A: released a2 img t=1",
	       "outcome img A/1 fail released @1000000",
	       "state img once wait=[] prev=A/1/-/released failures=1 last=A/1/-/released@1000000", NULL);
	simple(x, WIRE_OP_RESET, "Z", "z1", "img", 0);
	expect(x, "Z: reset z1 img", "clear img", NULL);
	capped(x, "B", "b1", "img", 1);
	rel(x, "B", "b2", "img", 2, false, NULL, NULL);
	capped(x, "C", "c1", "img", 2);
	rel(x, "C", "c2", "img", 3, true, NULL, "ok");
	expect(x, "B: granted b1 img t=2 l=30000", "B: released b2 img t=2",
	       "outcome img B/2 fail released @1000000", "C: granted c1 img t=3 l=30000 prev=B/2/-/released",
	       "C: released c2 img t=3", "outcome img C/3 ok res=ok released @1000000",
	       "state img once wait=[] done=C/3/ok@1000000", NULL);
	simple(x, WIRE_OP_RESET, "Z", "z2", "img", 0);
	capped(x, "D", "d1", "img", 1);
	expect(x, "Z: reset z2 img", "D: granted d1 img t=4 l=30000",
	       "state img once holder=D t=4 since=1000000 until=1030000 meta=- wait=[]", NULL);
	/* reset while held: the streak goes, the holding stays */
	rel(x, "D", "d2", "img", 4, false, NULL, NULL);
	acq(x, "E", "e1", "img");
	simple(x, WIRE_OP_RESET, "Z", "z3", "img", 0);
	expect(x, "D: released d2 img t=4", "outcome img D/4 fail released @1000000",
	       "E: granted e1 img t=5 l=30000 prev=D/4/-/released", "Z: reset z3 img",
	       "state img once holder=E t=5 since=1000000 until=1030000 meta=- wait=[] prev=D/4/-/released",
	       NULL);
}

/* A streak is remembered done_ttl after its last failure once nothing holds
 * or waits, and kept while something does. */
static void test_streak_remembered_done_ttl_after_last_failure(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "img");
	capped(x, "B", "b1", "img", 3);
	tick(x, 30000);
	expect(
	    x, "A: granted a1 img t=1 l=30000", "B: queued b1 img pos=1 holder=A",
	    "B: granted b1 img t=2 l=30000 prev=A/1/-/lease_expired", "A: revoked a1 img t=1 lease_expired",
	    "outcome img A/1 fail lease_expired @1030000",
	    "state img once holder=B t=2 since=1030000 until=1060000 meta=- wait=[] prev=A/1/-/lease_expired "
	    "failures=1 last=A/1/-/lease_expired@1030000",
	    NULL);
	offline(x, "B");
	expect(x, "B: revoked b1 img t=2 node_offline", "outcome img B/2 fail node_offline @1030000",
	       "state img once wait=[] prev=B/2/-/node_offline failures=2 last=B/2/-/node_offline@1030000",
	       NULL);
	assert_int_equal(table_next_deadline(x->t), 1030000 + 600000);
	tick(x, 599999);
	expect(x, NULL);
	tick(x, 1);
	expect(x, "clear img", NULL);
	capped(x, "C", "c1", "img", 1);
	expect(x, "C: granted c1 img t=3 l=30000",
	       "state img once holder=C t=3 since=1630000 until=1660000 meta=- wait=[]", NULL);
}

/* Mutex and shared holdings that end without success count no streak:
 * nothing is remembered of them. */
static void test_streak_not_counted_for_locks(void **state)
{
	h *x = *state;
	shared(x, "A", "a1", "db");
	rel(x, "A", "a2", "db", 1, false, "e", NULL);
	expect(x, "A: granted a1 db t=1 l=30000", "A: released a2 db t=1",
	       "outcome db A/1 fail err=e released @1000000", "clear db", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_shared_three_readers_hold_at_once),
	    T(test_shared_writer_waits_for_readers_and_blocks_later_reader),
	    T(test_shared_consecutive_readers_at_head_granted_together),
	    T(test_shared_hundred_readers_granted_by_one_release),
	    T(test_shared_head_leaving_grants_fitting_waiters_behind),
	    T(test_shared_one_lease_expiry_leaves_other_readers),
	    T(test_semaphore_two_permits_third_waits),
	    T(test_semaphore_permits_mismatch_rejected_says_permits),
	    T(test_conflict_same_node_other_mode_no_upgrade),
	    T(test_conflict_once_against_shared_and_mutex),
	    T(test_streak_reaches_one_cap_not_another),
	    T(test_streak_late_arrival_failed_at_once_uncapped_never),
	    T(test_streak_success_and_reset_clear_it),
	    T(test_streak_remembered_done_ttl_after_last_failure),
	    T(test_streak_not_counted_for_locks),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
