/*
 * test_table.c - the lock table, one rule per test: scripts of steps and
 * ticks asserting the exact effects of each batch, in order. No broker, no
 * clock, no sleep: time is a number the script moves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table_script.h"

/* A holds r (token 1), B and C queued once-mode waiters. */
static void abc(h *x)
{
	acq(x, "A", "a1", "r");
	acq(x, "B", "b1", "r");
	acq(x, "C", "c1", "r");
	expect(x, "A: granted a1 r t=1 l=30000", "B: queued b1 r pos=1 holder=A",
	       "C: queued c1 r pos=2 holder=A",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[B,C]", NULL);
}

static void test_lookup_tells_absent_from_present(void **state)
{
	h *x = *state;
	table_resource_view v;
	bool found = true;
	assert_int_equal(table_resource_lookup(x->t, "nope", &v, &found), BATON_OK);
	assert_false(found);
	acq(x, "A", "a1", "here");
	acq(x, "B", "b1", "here");
	table_ready rd;
	table_ready_get(x->t, &rd);
	table_advance(x->t);
	assert_int_equal(table_resource_lookup(x->t, "here", &v, &found), BATON_OK);
	assert_true(found);
	assert_string_equal(v.holder, "A");
	assert_int_equal(v.n_waiting, 1);
	assert_string_equal(v.waiting[0].node, "B");
}

/* ---- acquire ------------------------------------------------------------- */

static void test_acquire_idle_granted(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "img/x");
	expect(x, "A: granted a1 img/x t=1 l=30000",
	       "state img/x once holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
	assert_int_equal(table_next_token(x->t), 2);
	assert_int_equal(table_next_deadline(x->t), 1030000);
}

static void test_acquire_held_queued_with_position_and_holder(void **state)
{
	abc(*state);
}

static void test_acquire_wait_zero_busy(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	acq_full(x, "B", "b1", "r", WIRE_MODE_ONCE, 0, 0);
	expect(x, "A: granted a1 r t=1 l=30000", "B: busy b1 r holder=A",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
	acq(x, "B", "b1", "r"); /* repeat: still busy, nothing changes */
	expect(x, "B: busy b1 r holder=A", NULL);
}

static void test_acquire_repeat_holding_same_token_lease_not_restarted(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	expect(x, "A: granted a1 r t=1 l=30000",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
	tick(x, 5000);
	acq(x, "A", "a1", "r");
	expect(x, "A: granted a1 r t=1 l=30000", NULL);
	assert_int_equal(table_next_deadline(x->t), 1030000);
}

static void test_acquire_new_id_while_holding_same_token_lease_restarts(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	expect(x, "A: granted a1 r t=1 l=30000",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
	tick(x, 5000);
	acq_full(x, "A", "a2", "r", WIRE_MODE_ONCE, -1, 9000);
	expect(x, "A: granted a2 r t=1 l=9000",
	       "state r once holder=A t=1 since=1000000 until=1014000 meta=- wait=[]", NULL);
	assert_int_equal(table_next_token(x->t), 2);
	rel(x, "A", "a3", "r", 1, true, NULL, NULL);
	table_ready rd;
	table_ready_get(x->t, &rd);
	table_advance(x->t);
	acq(x, "A", "a2", "r"); /* the alias id finished with its holding */
	expect(x, "A: released a2 r t=1", NULL);
}

static void test_acquire_new_id_while_queued_keeps_place(void **state)
{
	h *x = *state;
	abc(x);
	acq(x, "B", "b2", "r");
	expect(x, "B: queued b2 r pos=1 holder=A", NULL);
	simple(x, WIRE_OP_CANCEL, "B", "bc", "r", 0);
	expect(x, "B: cancelled bc r",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[C]", NULL);
	acq(x, "B", "b2", "r");
	acq(x, "C", "c1", "r");
	expect(x, "B: cancelled b2 r", "C: queued c1 r pos=1 holder=A", NULL);
}

static void test_acquire_once_remembered_done(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	rel(x, "A", "a2", "r", 1, true, NULL, "sha256:abc");
	expect(x, "A: granted a1 r t=1 l=30000", "A: released a2 r t=1",
	       "outcome r A/1 ok res=sha256:abc released @1000000",
	       "state r once wait=[] done=A/1/sha256:abc@1000000", NULL);
	tick(x, 10);
	acq(x, "B", "b1", "r");
	expect(x, "B: done b1 r by=A/1/sha256:abc@1000000", NULL);
	acq_full(x, "C", "c1", "r", WIRE_MODE_MUTEX, -1, 0);
	expect(x, "C: rejected c1 r mode_conflict", NULL);
}

static void test_acquire_other_mode_while_held_rejected_mode_conflict(void **state)
{
	h *x = *state;
	acqm(x, "A", "a1", "r");
	acq(x, "B", "b1", "r");
	expect(x, "A: granted a1 r t=1 l=30000", "B: rejected b1 r mode_conflict",
	       "state r mutex holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
	acq(x, "B", "b1", "r");
	expect(x, "B: rejected b1 r mode_conflict", NULL);
	table_counts c;
	table_counts_get(x->t, &c);
	assert_int_equal(c.rejections, 2);
}

static void test_acquire_lease_default_and_clamped_to_max(void **state)
{
	h *x = *state;
	table_config cfg;
	table_config_default(&cfg);
	cfg.default_lease_ms = 2000;
	cfg.max_lease_ms = 60000;
	table_free(x->t);
	x->t = table_new(&cfg);
	acq(x, "A", "a1", "r");
	acq_full(x, "A", "a2", "s", WIRE_MODE_ONCE, -1, 3600000);
	expect(x, "A: granted a1 r t=1 l=2000", "A: granted a2 s t=2 l=60000",
	       "state r once holder=A t=1 since=1000000 until=1002000 meta=- wait=[]",
	       "state s once holder=A t=2 since=1000000 until=1060000 meta=- wait=[]", NULL);
}

static void test_acquire_meta_shown_in_snapshot(void **state)
{
	h *x = *state;
	wire_request r = h_req(WIRE_OP_ACQUIRE, "a1", "r");
	r.meta = "docker pull";
	step(x, "A", &r);
	expect(x, "A: granted a1 r t=1 l=30000",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=docker pull wait=[]", NULL);
}

/* ---- renew and release ----------------------------------------------------- */

static void test_renew_holder_renewed_lease_restarts(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	expect(x, "A: granted a1 r t=1 l=30000",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
	tick(x, 20000);
	simple(x, WIRE_OP_RENEW, "A", "a2", "r", 1);
	expect(x, "A: renewed a2 r t=1 l=30000",
	       "state r once holder=A t=1 since=1000000 until=1050000 meta=- wait=[]", NULL);
	assert_int_equal(table_next_deadline(x->t), 1050000);
}

static void test_renew_wrong_token_rejected_not_holder(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	simple(x, WIRE_OP_RENEW, "A", "a2", "r", 7);
	simple(x, WIRE_OP_RENEW, "B", "b1", "r", 1);
	simple(x, WIRE_OP_RENEW, "B", "b2", "nothing", 1);
	expect(x, "A: granted a1 r t=1 l=30000", "A: rejected a2 r not_holder", "B: rejected b1 r not_holder",
	       "B: rejected b2 nothing not_holder",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
}

static void test_renew_repeat_after_release_same_answer(void **state)
{
	h *x = *state;
	acqm(x, "A", "a1", "r");
	simple(x, WIRE_OP_RENEW, "A", "a2", "r", 1);
	rel(x, "A", "a3", "r", 1, true, NULL, NULL);
	table_ready rd;
	table_ready_get(x->t, &rd);
	table_advance(x->t);
	simple(x, WIRE_OP_RENEW, "A", "a2", "r", 1);
	rel(x, "A", "a3", "r", 1, true, NULL, NULL);
	acq(x, "A", "a1", "r");
	expect(x, "A: renewed a2 r t=1 l=30000", "A: released a3 r t=1", "A: released a1 r t=1", NULL);
}

static void test_release_wrong_token_rejected_not_holder(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	rel(x, "A", "a2", "r", 2, true, NULL, NULL);
	rel(x, "B", "b1", "r", 1, true, NULL, NULL);
	expect(x, "A: granted a1 r t=1 l=30000", "A: rejected a2 r not_holder", "B: rejected b1 r not_holder",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
}

static void test_release_once_success_waiters_done_queue_emptied(void **state)
{
	h *x = *state;
	abc(x);
	tick(x, 100);
	rel(x, "A", "a2", "r", 1, true, NULL, "ok!");
	expect(x, "B: done b1 r by=A/1/ok!@1000100", "C: done c1 r by=A/1/ok!@1000100",
	       "A: released a2 r t=1", "outcome r A/1 ok res=ok! released @1000100",
	       "state r once wait=[] done=A/1/ok!@1000100", NULL);
	acq(x, "B", "b1", "r");
	acq(x, "A", "a1", "r");
	expect(x, "B: done b1 r by=A/1/ok!@1000100", "A: released a1 r t=1", NULL);
	table_counts c;
	table_counts_get(x->t, &c);
	assert_int_equal(c.remembered, 1);
	assert_int_equal(c.waiters, 0);
	assert_int_equal(c.held, 0);
}

static void test_release_once_failure_next_waiter_granted_with_previous(void **state)
{
	h *x = *state;
	abc(x);
	rel(x, "A", "a2", "r", 1, false, "exit status 1", NULL);
	expect(x, "B: granted b1 r t=2 l=30000 prev=A/1/exit status 1/released", "A: released a2 r t=1",
	       "outcome r A/1 fail err=exit status 1 released @1000000",
	       "state r once holder=B t=2 since=1000000 until=1030000 meta=- wait=[C] prev=A/1/exit status "
	       "1/released failures=1 last=A/1/exit status 1/released@1000000",
	       NULL);
}

static void test_seed_story_failed_holder_hands_off_without_reask(void **state)
{
	h *x = *state;
	abc(x);
	tick(x, 1000);
	rel(x, "A", "a2", "r", 1, false, "boom", NULL);
	/* B's grant comes without B asking, and before the outcome event. */
	expect(x, "B: granted b1 r t=2 l=30000 prev=A/1/boom/released", "A: released a2 r t=1",
	       "outcome r A/1 fail err=boom released @1001000",
	       "state r once holder=B t=2 since=1001000 until=1031000 meta=- wait=[C] prev=A/1/boom/released "
	       "failures=1 last=A/1/boom/released@1001000",
	       NULL);
	acq(x, "B", "b1", "r");
	acq(x, "B", "b9", "r");
	acq(x, "C", "c1", "r");
	expect(x, "B: granted b1 r t=2 l=30000 prev=A/1/boom/released",
	       "B: granted b9 r t=2 l=30000 prev=A/1/boom/released", "C: queued c1 r pos=1 holder=B",
	       "state r once holder=B t=2 since=1001000 until=1031000 meta=- wait=[C] prev=A/1/boom/released "
	       "failures=1 last=A/1/boom/released@1001000",
	       NULL);
}

static void test_release_mutex_fifo_rotation(void **state)
{
	h *x = *state;
	acqm(x, "A", "a1", "m");
	acqm(x, "B", "b1", "m");
	acqm(x, "C", "c1", "m");
	rel(x, "A", "a2", "m", 1, true, NULL, "ignored");
	acqm(x, "A", "a3", "m");
	rel(x, "B", "b2", "m", 2, true, NULL, NULL);
	expect(x, "A: granted a1 m t=1 l=30000", "B: queued b1 m pos=1 holder=A",
	       "C: queued c1 m pos=2 holder=A", "B: granted b1 m t=2 l=30000", "A: released a2 m t=1",
	       "outcome m A/1 ok res=ignored released @1000000", "A: queued a3 m pos=2 holder=B",
	       "C: granted c1 m t=3 l=30000", "B: released b2 m t=2", "outcome m B/2 ok released @1000000",
	       "state m mutex holder=C t=3 since=1000000 until=1030000 meta=- wait=[A]", NULL);
	rel(x, "C", "c2", "m", 3, true, NULL, NULL);
	rel(x, "A", "a4", "m", 4, true, NULL, NULL);
	expect(x, "A: granted a3 m t=4 l=30000", "C: released c2 m t=3", "outcome m C/3 ok released @1000000",
	       "A: released a4 m t=4", "outcome m A/4 ok released @1000000", "clear m", NULL);
	table_counts c;
	table_counts_get(x->t, &c);
	assert_int_equal(c.resources, 0);
	assert_int_equal(c.remembered, 0);
}

static void test_release_mutex_failure_sets_previous_success_clears(void **state)
{
	h *x = *state;
	acqm(x, "A", "a1", "m");
	acqm(x, "B", "b1", "m");
	acqm(x, "C", "c1", "m");
	rel(x, "A", "a2", "m", 1, false, NULL, NULL);
	rel(x, "B", "b2", "m", 2, true, NULL, NULL);
	expect(x, "A: granted a1 m t=1 l=30000", "B: queued b1 m pos=1 holder=A",
	       "C: queued c1 m pos=2 holder=A", "B: granted b1 m t=2 l=30000 prev=A/1/-/released",
	       "A: released a2 m t=1", "outcome m A/1 fail released @1000000", "C: granted c1 m t=3 l=30000",
	       "B: released b2 m t=2", "outcome m B/2 ok released @1000000",
	       "state m mutex holder=C t=3 since=1000000 until=1030000 meta=- wait=[]", NULL);
}

/* A mutex keeps nothing after its last holding; a once resource keeps its
 * failure streak (second edition), and with it the previous. */
static void test_release_last_failure_mutex_cleared_once_streak_kept(void **state)
{
	h *x = *state;
	acqm(x, "A", "a1", "m");
	rel(x, "A", "a2", "m", 1, false, "e", NULL);
	expect(x, "A: granted a1 m t=1 l=30000", "A: released a2 m t=1",
	       "outcome m A/1 fail err=e released @1000000", "clear m", NULL);
	acqm(x, "B", "b1", "m"); /* a fresh resource: the previous went with it */
	expect(x, "B: granted b1 m t=2 l=30000",
	       "state m mutex holder=B t=2 since=1000000 until=1030000 meta=- wait=[]", NULL);
	acq(x, "A", "a3", "r");
	rel(x, "A", "a4", "r", 3, false, "e", NULL);
	expect(x, "A: granted a3 r t=3 l=30000", "A: released a4 r t=3",
	       "outcome r A/3 fail err=e released @1000000",
	       "state r once wait=[] prev=A/3/e/released failures=1 last=A/3/e/released@1000000", NULL);
	acq(x, "B", "b2", "r");
	expect(x, "B: granted b2 r t=4 l=30000 prev=A/3/e/released",
	       "state r once holder=B t=4 since=1000000 until=1030000 meta=- wait=[] prev=A/3/e/released "
	       "failures=1 last=A/3/e/released@1000000",
	       NULL);
}

/* ---- cancel and reset ---------------------------------------------------------- */

static void test_cancel_queued_removed_acquire_answer_cancelled(void **state)
{
	h *x = *state;
	abc(x);
	simple(x, WIRE_OP_CANCEL, "B", "b2", "r", 0);
	acq(x, "C", "c1", "r");
	acq(x, "B", "b1", "r");
	expect(x, "B: cancelled b2 r", "C: queued c1 r pos=1 holder=A", "B: cancelled b1 r",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[C]", NULL);
}

static void test_cancel_holding_released_as_failure(void **state)
{
	h *x = *state;
	abc(x);
	simple(x, WIRE_OP_CANCEL, "A", "a2", "r", 0);
	expect(x, "B: granted b1 r t=2 l=30000 prev=A/1/cancelled/released", "A: cancelled a2 r t=1",
	       "outcome r A/1 fail err=cancelled released @1000000",
	       "state r once holder=B t=2 since=1000000 until=1030000 meta=- wait=[C] "
	       "prev=A/1/cancelled/released failures=1 last=A/1/cancelled/released@1000000",
	       NULL);
	acq(x, "A", "a1", "r");
	expect(x, "A: cancelled a1 r t=1", NULL);
}

static void test_cancel_nothing_cancelled_anyway(void **state)
{
	h *x = *state;
	simple(x, WIRE_OP_CANCEL, "A", "a1", "nowhere", 0);
	simple(x, WIRE_OP_CANCEL, "A", "a1", "nowhere", 0);
	expect(x, "A: cancelled a1 nowhere", "A: cancelled a1 nowhere", NULL);
	table_counts c;
	table_counts_get(x->t, &c);
	assert_int_equal(c.resources, 0);
}

static void test_reset_forgets_success_and_clears(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	rel(x, "A", "a2", "r", 1, true, NULL, NULL);
	expect(x, "A: granted a1 r t=1 l=30000", "A: released a2 r t=1", "outcome r A/1 ok released @1000000",
	       "state r once wait=[] done=A/1/-@1000000", NULL);
	simple(x, WIRE_OP_RESET, "Z", "z1", "r", 0);
	acq(x, "B", "b1", "r");
	expect(x, "Z: reset z1 r", "B: granted b1 r t=2 l=30000",
	       "state r once holder=B t=2 since=1000000 until=1030000 meta=- wait=[]", NULL);
	simple(x, WIRE_OP_RESET, "Z", "z2", "other", 0);
	expect(x, "Z: reset z2 other", NULL);
}

static void test_reset_remembered_idle_clear(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	rel(x, "A", "a2", "r", 1, true, NULL, NULL);
	simple(x, WIRE_OP_RESET, "A", "a3", "r", 0);
	expect(x, "A: granted a1 r t=1 l=30000", "A: released a2 r t=1", "outcome r A/1 ok released @1000000",
	       "A: reset a3 r", "clear r", NULL);
	assert_int_equal(table_next_deadline(x->t), INT64_MAX);
}

/* ---- deadlines --------------------------------------------------------------------- */

static void test_tick_lease_expiry_revoked_next_waiter_granted(void **state)
{
	h *x = *state;
	abc(x);
	tick(x, 29999);
	expect(x, NULL);
	tick(x, 1);
	expect(x, "B: granted b1 r t=2 l=30000 prev=A/1/-/lease_expired", "A: revoked a1 r t=1 lease_expired",
	       "outcome r A/1 fail lease_expired @1030000",
	       "state r once holder=B t=2 since=1030000 until=1060000 meta=- wait=[C] "
	       "prev=A/1/-/lease_expired failures=1 last=A/1/-/lease_expired@1030000",
	       NULL);
	rel(x, "A", "a2", "r", 1, true, NULL, NULL);
	acq(x, "A", "a1", "r");
	expect(x, "A: rejected a2 r not_holder", "A: revoked a1 r t=1 lease_expired", NULL);
}

static void test_tick_wait_expiry_busy_and_removed(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	acq_full(x, "B", "b1", "r", WIRE_MODE_ONCE, 5000, 0);
	acq(x, "C", "c1", "r");
	expect(x, "A: granted a1 r t=1 l=30000", "B: queued b1 r pos=1 holder=A",
	       "C: queued c1 r pos=2 holder=A",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[B,C]", NULL);
	assert_int_equal(table_next_deadline(x->t), 1005000);
	tick(x, 5000);
	expect(x, "B: busy b1 r holder=A",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[C]", NULL);
	acq(x, "B", "b1", "r");
	expect(x, "B: busy b1 r holder=A", NULL);
}

static void test_tick_forget_time_clears_remembered_success(void **state)
{
	h *x = *state;
	acq(x, "A", "a1", "r");
	wire_request r = h_req(WIRE_OP_RELEASE, "a2", "r");
	r.token = 1;
	r.success = true;
	r.has_remember = true;
	r.remember_ms = 1000;
	step(x, "A", &r);
	acq(x, "A", "a3", "s");
	rel(x, "A", "a4", "s", 2, true, NULL, NULL);
	expect(x, "A: granted a1 r t=1 l=30000", "A: released a2 r t=1", "outcome r A/1 ok released @1000000",
	       "A: granted a3 s t=2 l=30000", "A: released a4 s t=2", "outcome s A/2 ok released @1000000",
	       "state r once wait=[] done=A/1/-@1000000", "state s once wait=[] done=A/2/-@1000000", NULL);
	assert_int_equal(table_next_deadline(x->t), 1001000);
	tick(x, 1000);
	expect(x, "clear r", NULL);
	assert_int_equal(table_next_deadline(x->t), 1600000);
	tick(x, 599000);
	expect(x, "clear s", NULL);
	acq(x, "B", "b1", "r");
	expect(x, "B: granted b1 r t=3 l=30000",
	       "state r once holder=B t=3 since=1600000 until=1630000 meta=- wait=[]", NULL);
}

/* ---- presence ---------------------------------------------------------------------- */

static void test_offline_revokes_hands_off_drops_waits_forgets_ids(void **state)
{
	h *x = *state;
	abc(x);
	acq(x, "B", "b2", "s");
	acq(x, "A", "a2", "s");
	expect(x, "B: granted b2 s t=2 l=30000", "A: queued a2 s pos=1 holder=B",
	       "state s once holder=B t=2 since=1000000 until=1030000 meta=- wait=[A]", NULL);
	offline(x, "A");
	expect(x, "B: granted b1 r t=3 l=30000 prev=A/1/-/node_offline", "A: revoked a1 r t=1 node_offline",
	       "outcome r A/1 fail node_offline @1000000",
	       "state s once holder=B t=2 since=1000000 until=1030000 meta=- wait=[]",
	       "state r once holder=B t=3 since=1000000 until=1030000 meta=- wait=[C] "
	       "prev=A/1/-/node_offline failures=1 last=A/1/-/node_offline@1000000",
	       NULL);
	/* A's ids are forgotten: the same id is a new request now. */
	acq(x, "A", "a1", "r");
	expect(
	    x, "A: queued a1 r pos=2 holder=B",
	    "state r once holder=B t=3 since=1000000 until=1030000 meta=- wait=[C,A] prev=A/1/-/node_offline "
	    "failures=1 last=A/1/-/node_offline@1000000",
	    NULL);
	table_counts c;
	table_counts_get(x->t, &c);
	assert_int_equal(c.held, 2);
	assert_int_equal(c.waiters, 2);
}

static void test_offline_unknown_node_and_online_no_effects(void **state)
{
	h *x = *state;
	assert_int_equal(table_step_presence(x->t, x->now, "ghost", false), BATON_OK);
	assert_int_equal(table_step_presence(x->t, x->now, "ghost", true), BATON_OK);
	acq(x, "A", "a1", "r");
	assert_int_equal(table_step_presence(x->t, x->now, "A", true), BATON_OK);
	expect(x, "A: granted a1 r t=1 l=30000",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
}

/* ---- invalid requests ---------------------------------------------------------------- */

static void test_invalid_rejected_keeps_order_changes_nothing(void **state)
{
	h *x = *state;
	wire_diag d;
	memset(&d, 0, sizeof d);
	d.has_id = true;
	strcpy(d.id, "q1");
	d.has_resource = true;
	strcpy(d.resource, "r");
	strcpy(d.message, "lease_ms out of range");
	acq(x, "A", "a1", "r");
	assert_int_equal(table_step_invalid(x->t, x->now, "A", BATON_E_BAD_REQUEST, &d), BATON_OK);
	assert_int_equal(table_step_invalid(x->t, x->now, "N", BATON_E_BAD_JSON, NULL), BATON_OK);
	table_ready rd;
	table_ready_get(x->t, &rd);
	assert_int_equal(rd.n_effects, 4);
	const wire_answer *a = &rd.effects[1].u.answer;
	assert_string_equal(a->message, "lease_ms out of range");
	assert_string_equal(rd.effects[2].node, "N");
	assert_null(rd.effects[2].u.answer.id);
	assert_null(rd.effects[2].u.answer.resource);
	assert_int_equal(rd.effects[2].u.answer.code, BATON_E_BAD_JSON);
	table_advance(x->t);
	acq(x, "A", "a1", "r");
	expect(x, "A: granted a1 r t=1 l=30000", NULL);
	table_counts c;
	table_counts_get(x->t, &c);
	assert_int_equal(c.requests, 4);
	assert_int_equal(c.rejections, 2);
}

/* ---- restore, counter, memory ---------------------------------------------------------- */

typedef struct collect {
	table *dst;
	int n, failed;
	char lines[16][1024];
} collect;

static void restore_into(void *ctx, const table_resource_view *v)
{
	collect *c = ctx;
	wire_snapshot s;
	table_snapshot_of(v, &s);
	h_snapshot(c->lines[c->n++], sizeof c->lines[0], &s);
	if (table_restore(c->dst, v) != BATON_OK)
		c->failed++;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_restore_round_trip_same_snapshots(void **state)
{
	h *x = *state;
	abc(x);
	rel(x, "A", "a2", "r", 1, false, "boom", NULL);
	acq_full(x, "D", "d1", "r", WIRE_MODE_ONCE, 7000, 0);
	acqm(x, "A", "a3", "m");
	acq(x, "B", "b2", "done");
	rel(x, "B", "b3", "done", 4, true, NULL, "R");
	expect(x, "B: granted b1 r t=2 l=30000 prev=A/1/boom/released", "A: released a2 r t=1",
	       "outcome r A/1 fail err=boom released @1000000", "D: queued d1 r pos=2 holder=B",
	       "A: granted a3 m t=3 l=30000", "B: granted b2 done t=4 l=30000", "B: released b3 done t=4",
	       "outcome done B/4 ok res=R released @1000000",
	       "state r once holder=B t=2 since=1000000 until=1030000 meta=- wait=[C,D] "
	       "prev=A/1/boom/released failures=1 last=A/1/boom/released@1000000",
	       "state m mutex holder=A t=3 since=1000000 until=1030000 meta=- wait=[]",
	       "state done once wait=[] done=B/4/R@1000000", NULL);
	table_config cfg;
	table_config_default(&cfg);
	collect c = {.dst = table_new(&cfg)};
	table_restore_next_token(c.dst, table_next_token(x->t));
	table_foreach(x->t, restore_into, &c);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.failed, 0);
	collect c2 = {.dst = NULL};
	table *t2 = c.dst;
	c2.dst = table_new(&cfg);
	table_restore_next_token(c2.dst, table_next_token(t2));
	table_foreach(t2, restore_into, &c2);
	qsort(c.lines, 3, sizeof c.lines[0], cmp_lines);
	qsort(c2.lines, 3, sizeof c2.lines[0], cmp_lines);
	for (int i = 0; i < 3; i++)
		assert_string_equal(c.lines[i], c2.lines[i]);
	assert_int_equal(table_next_deadline(t2), 1007000);
	/* the restored table keeps playing by the rules: C is next, D's wait ends. */
	table_free(x->t);
	x->t = t2;
	table_free(c2.dst);
	tick(x, 7000);
	rel(x, "B", "b4", "r", 2, true, NULL, NULL);
	acq(x, "B", "b1", "r");
	expect(x, "D: busy d1 r holder=B", "C: done c1 r by=B/2/-@1007000", "B: released b4 r t=2",
	       "outcome r B/2 ok released @1007000", "B: released b1 r t=2",
	       "state r once wait=[] done=B/2/-@1007000", NULL);
}

static void test_restore_inconsistent_views_rejected_inval(void **state)
{
	h *x = *state;
	table_restore_next_token(x->t, 10);
	table_resource_view v;
	memset(&v, 0, sizeof v);
	v.name = "r";
	v.holder = "A";
	v.holder_id = "a1";
	v.token = 0;
	v.lease_ms = 1000;
	assert_int_equal(table_restore(x->t, &v), BATON_E_INVAL); /* token 0 */
	v.token = 10;
	assert_int_equal(table_restore(x->t, &v), BATON_E_INVAL); /* token >= counter */
	v.token = 9;
	v.lease_until_ms = x->now - 1;
	assert_int_equal(table_restore(x->t, &v), BATON_OK);
	assert_int_equal(table_restore(x->t, &v), BATON_E_INVAL); /* duplicate resource */
	table_resource_view w = v;
	w.name = "s";
	w.holder = NULL;
	table_waiter_view wv = {.node = "B", .id = "b1", .lease_ms = 1000, .wait_until_ms = INT64_MAX};
	w.waiting = &wv;
	w.n_waiting = 1;
	assert_int_equal(table_restore(x->t, &w), BATON_E_INVAL); /* waiters without holder */
	/* a past deadline fires at the next tick */
	tick(x, 0);
	expect(x, "A: revoked a1 r t=9 lease_expired", "outcome r A/9 fail lease_expired @1000000",
	       "state r once wait=[] prev=A/9/-/lease_expired failures=1 last=A/9/-/lease_expired@1000000",
	       NULL);
	assert_int_equal(table_next_token(x->t), 10);
}

static void test_token_counter_never_goes_back(void **state)
{
	h *x = *state;
	table_restore_next_token(x->t, 50);
	table_restore_next_token(x->t, 7);
	assert_int_equal(table_next_token(x->t), 50);
	acq(x, "A", "a1", "r");
	rel(x, "A", "a2", "r", 50, false, NULL, NULL);
	acq(x, "A", "a3", "r");
	table_ready rd;
	table_ready_get(x->t, &rd);
	assert_int_equal(rd.next_token, 52);
	assert_int_equal(rd.n_dirty, 1);
	assert_string_equal(rd.dirty[0], "r");
	table_advance(x->t);
}

static void test_id_memory_bounded_oldest_forgotten(void **state)
{
	h *x = *state;
	table_config cfg;
	table_config_default(&cfg);
	cfg.id_memory = 2;
	table_free(x->t);
	x->t = table_new(&cfg);
	simple(x, WIRE_OP_RENEW, "A", "x1", "r", 5);
	simple(x, WIRE_OP_RENEW, "A", "x2", "r", 5);
	simple(x, WIRE_OP_RENEW, "A", "x3", "r", 5);
	expect(x, "A: rejected x1 r not_holder", "A: rejected x2 r not_holder", "A: rejected x3 r not_holder",
	       NULL);
	acq(x, "A", "x1", "r"); /* forgotten: a new request */
	acq(x, "A", "x3", "r"); /* remembered: its first answer */
	expect(x, "A: granted x1 r t=1 l=30000", "A: rejected x3 r not_holder",
	       "state r once holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
}

static void test_resource_get_view_matches_state(void **state)
{
	h *x = *state;
	abc(x);
	table_resource_view v;
	assert_true(table_resource_get(x->t, "r", &v));
	assert_string_equal(v.holder, "A");
	assert_string_equal(v.holder_id, "a1");
	assert_int_equal(v.n_waiting, 2);
	assert_string_equal(v.waiting[1].node, "C");
	assert_string_equal(v.waiting[1].id, "c1");
	assert_true(v.waiting[1].wait_until_ms == INT64_MAX);
	assert_false(table_resource_get(x->t, "nope", &v));
}

/* ---- id changes for the store ------------------------------------------------------ */

static void test_ids_lock_cycle_two_puts_repeat_none(void **state)
{
	h *x = *state;
	acqm(x, "A", "a1", "r");
	expect_ids(x, NULL); /* a live holding: the holdings row stands for it */
	expect(x, "A: granted a1 r t=1 l=30000",
	       "state r mutex holder=A t=1 since=1000000 until=1030000 meta=- wait=[]", NULL);
	rel(x, "A", "r1", "r", 1, true, NULL, NULL);
	expect_ids(x, "put A a1 r released t=1 #0", "put A r1 r released t=1 #1", NULL);
	expect(x, "A: released r1 r t=1", "outcome r A/1 ok released @1000000", "clear r", NULL);
	rel(x, "A", "r1", "r", 1, true, NULL, NULL); /* a repeat changes nothing */
	expect_ids(x, NULL);
	expect(x, "A: released r1 r t=1", NULL);
}

static void test_ids_eviction_put_then_del_oldest(void **state)
{
	h *x = *state;
	table_config cfg;
	table_config_default(&cfg);
	cfg.id_memory = 2;
	table_free(x->t);
	x->t = table_new(&cfg);
	simple(x, WIRE_OP_RENEW, "A", "x1", "r", 5);
	simple(x, WIRE_OP_RENEW, "A", "x2", "r", 5);
	simple(x, WIRE_OP_RENEW, "A", "x3", "r", 5);
	expect_ids(x, "put A x1 r rejected not_holder #0", "put A x2 r rejected not_holder #1",
	           "put A x3 r rejected not_holder #2", "del A x1", NULL);
	table_advance(x->t);
	expect_ids(x, NULL); /* advance empties them */
}

static void test_ids_once_success_waiters_done_then_offline_del_node(void **state)
{
	h *x = *state;
	abc(x);
	acq_full(x, "D", "d1", "r", WIRE_MODE_ONCE, 0, 0);
	rel(x, "A", "r1", "r", 1, true, NULL, "ok");
	expect_ids(x, "put D d1 r busy holder=A #0", "put B b1 r done by=A/1/ok@1000000 #1",
	           "put C c1 r done by=A/1/ok@1000000 #2", "put A a1 r released t=1 #3",
	           "put A r1 r released t=1 #4", NULL);
	table_advance(x->t);
	acqm(x, "B", "b3", "m");
	acqm(x, "C", "c3", "m");
	table_advance(x->t);
	offline(x, "B");
	/* The holding is revoked (its id remembered so), then all of B is
	 * forgotten: one change for the node. */
	expect_ids(x, "put B b3 m revoked t=2 node_offline #5", "del_node B", NULL);
	table_advance(x->t);
	offline(x, "B"); /* nothing left, still forgotten durably */
	expect_ids(x, "del_node B", NULL);
	table_advance(x->t);
}

static void test_ids_restore_record_live_wins_and_bad_refused(void **state)
{
	h *x = *state;
	table_resource_view v = {.name = "r",
	                         .mode = WIRE_MODE_MUTEX,
	                         .holder = "A",
	                         .holder_id = "a1",
	                         .token = 3,
	                         .lease_ms = 30000,
	                         .since_ms = T0,
	                         .lease_until_ms = T0 + 30000};
	table_restore_next_token(x->t, 4);
	assert_int_equal(table_restore(x->t, &v), BATON_OK);
	table_id_record live = {
	    .node = "A", .id = "a1", .resource = "r", .status = WIRE_ST_RELEASED, .token = 1, .seq = 7};
	table_id_record old = {
	    .node = "A", .id = "r0", .resource = "gone", .status = WIRE_ST_RELEASED, .token = 2, .seq = 8};
	table_id_record bad = {.node = "A", .id = "q", .resource = "r", .status = WIRE_ST_QUEUED};
	assert_int_equal(table_restore_record(x->t, &live), BATON_OK);
	assert_int_equal(table_restore_record(x->t, &old), BATON_OK);
	assert_int_equal(table_restore_record(x->t, &bad), BATON_E_INVAL);
	expect_ids(x, NULL);
	table_advance(x->t);
	acqm(x, "A", "a1", "r");
	rel(x, "A", "r0", "gone", 2, true, NULL, NULL);
	simple(x, WIRE_OP_RENEW, "A", "w1", "r", 3);
	expect_ids(x, "put A w1 r renewed t=3 l=30000 #9", NULL);
	expect(x, "A: granted a1 r t=3 l=30000", "A: released r0 gone t=2", "A: renewed w1 r t=3 l=30000",
	       "state r mutex holder=A t=3 since=1000000 until=1030000 meta=- wait=[]", NULL);
	rel(x, "A", "r2", "r", 3, true, NULL, NULL);
	/* Numbered after the restored ones. */
	expect_ids(x, "put A a1 r released t=3 #10", "put A r2 r released t=3 #11", NULL);
	table_advance(x->t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- the coordinator's own outages --------------------------------------------- */

/* A gap of 40 s (the coordinator stopped) moves A's lease from 1030000 to
 * 1070000 and says so in the snapshot; nothing fires at the old deadline. */
static void test_extend_leases_gap_moves_deadline_no_revoke(void **state)
{
	h *x = *state;
	abc(x);
	x->now += 40000;
	assert_int_equal(table_extend_leases(x->t, x->now, 40000), BATON_OK);
	expect(x, "state r once holder=A t=1 since=1000000 until=1070000 meta=- wait=[B,C]", NULL);
	assert_int_equal(table_next_deadline(x->t), 1070000);
	assert_int_equal(table_tick(x->t, x->now), BATON_OK);
	expect(x, NULL);
	simple(x, WIRE_OP_RENEW, "A", "a2", "r", 1);
	expect(x, "A: renewed a2 r t=1 l=30000",
	       "state r once holder=A t=1 since=1000000 until=1070000 meta=- wait=[B,C]", NULL);
	tick(x, 30000);
	expect(
	    x, "B: granted b1 r t=2 l=30000 prev=A/1/-/lease_expired", "A: revoked a1 r t=1 lease_expired",
	    "outcome r A/1 fail lease_expired @1070000",
	    "state r once holder=B t=2 since=1070000 until=1100000 meta=- wait=[C] prev=A/1/-/lease_expired "
	    "failures=1 last=A/1/-/lease_expired@1070000",
	    NULL);
}

/* Only leases move: a lease that ended before the gap began still fires, a
 * wait deadline stays, a zero gap changes nothing. */
static void test_extend_leases_only_live_leases_in_gap(void **state)
{
	h *x = *state;
	acqm(x, "A", "a1", "old");
	x->now += 20000;
	acqm(x, "B", "b1", "new");
	acq_full(x, "C", "c1", "new", WIRE_MODE_MUTEX, 15000, 0);
	table_advance(x->t);
	x->now = T0 + 45000; /* old's lease ended at T0 + 30000, before the 10 s gap */
	assert_int_equal(table_extend_leases(x->t, x->now, 0), BATON_OK);
	expect(x, NULL);
	assert_int_equal(table_extend_leases(x->t, x->now, 10000), BATON_OK);
	expect(x, "state new mutex holder=B t=2 since=1020000 until=1060000 meta=- wait=[C]", NULL);
	assert_int_equal(table_tick(x->t, x->now), BATON_OK);
	expect(x, "A: revoked a1 old t=1 lease_expired", "outcome old A/1 fail lease_expired @1045000",
	       "C: busy c1 new holder=B", "clear old",
	       "state new mutex holder=B t=2 since=1020000 until=1060000 meta=- wait=[]", NULL);
}

/* Every holding of a read lock moves, each by the gap, and stays valid. */
static void test_extend_leases_every_shared_holding(void **state)
{
	h *x = *state;
	char msg[256];
	acq_full(x, "A", "a1", "rw", WIRE_MODE_SHARED, -1, 0);
	x->now += 5000;
	acq_full(x, "B", "b1", "rw", WIRE_MODE_SHARED, -1, 0);
	table_advance(x->t);
	x->now += 40000;
	assert_int_equal(table_extend_leases(x->t, x->now, 40000), BATON_OK);
	table_ready rd;
	table_ready_get(x->t, &rd);
	assert_int_equal(rd.n_dirty, 1);
	assert_int_equal(rd.n_effects, 1);
	assert_int_equal(rd.effects[0].u.snapshot.n_holders, 2);
	assert_int_equal(rd.effects[0].u.snapshot.holders[0].lease_until_ms, T0 + 30000 + 40000);
	assert_int_equal(rd.effects[0].u.snapshot.holders[1].lease_until_ms, T0 + 35000 + 40000);
	table_advance(x->t);
	assert_int_equal(table_check(x->t, msg, sizeof msg), BATON_OK);
	assert_int_equal(table_next_deadline(x->t), T0 + 70000);
}

/* A restarted coordinator extends the leases of a table it has just
 * restored, before any other event: the room for the snapshot must count its
 * holders as well as its waiters (a restored table has reserved nothing). */
static void test_extend_leases_right_after_restore(void **state)
{
	h *x = *state;
	char msg[256];
	acq_full(x, "A", "a1", "rw", WIRE_MODE_SHARED, -1, 0);
	acq_full(x, "B", "b1", "rw", WIRE_MODE_SHARED, -1, 0);
	table_advance(x->t);
	table_config cfg;
	table_config_default(&cfg);
	collect c = {.dst = table_new(&cfg)};
	assert_non_null(c.dst);
	table_restore_next_token(c.dst, table_next_token(x->t));
	table_foreach(x->t, restore_into, &c);
	assert_int_equal(c.failed, 0);
	table_free(x->t);
	x->t = c.dst;
	x->now += 40000;
	assert_int_equal(table_extend_leases(x->t, x->now, 40000), BATON_OK);
	table_ready rd;
	table_ready_get(x->t, &rd);
	assert_int_equal(rd.n_effects, 1);
	assert_int_equal(rd.effects[0].u.snapshot.n_holders, 2);
	table_advance(x->t);
	assert_int_equal(table_check(x->t, msg, sizeof msg), BATON_OK);
}

/* A floor from the broker raises the counter; a lower one is ignored; the
 * next grant is at the floor and the batch carries it for the store. */
static void test_raise_next_token_floor_only_up(void **state)
{
	h *x = *state;
	table_ready rd;
	assert_true(table_raise_next_token(x->t, 42));
	assert_false(table_raise_next_token(x->t, 42));
	assert_false(table_raise_next_token(x->t, 7));
	table_ready_get(x->t, &rd);
	assert_int_equal(rd.next_token, 42);
	table_advance(x->t);
	acq(x, "A", "a1", "r");
	expect(x, "A: granted a1 r t=42 l=30000",
	       "state r once holder=A t=42 since=1000000 until=1030000 meta=- wait=[]", NULL);
	assert_int_equal(table_next_token(x->t), 43);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_lookup_tells_absent_from_present),
	    T(test_acquire_idle_granted),
	    T(test_acquire_held_queued_with_position_and_holder),
	    T(test_acquire_wait_zero_busy),
	    T(test_acquire_repeat_holding_same_token_lease_not_restarted),
	    T(test_acquire_new_id_while_holding_same_token_lease_restarts),
	    T(test_acquire_new_id_while_queued_keeps_place),
	    T(test_acquire_once_remembered_done),
	    T(test_acquire_other_mode_while_held_rejected_mode_conflict),
	    T(test_acquire_lease_default_and_clamped_to_max),
	    T(test_acquire_meta_shown_in_snapshot),
	    T(test_renew_holder_renewed_lease_restarts),
	    T(test_renew_wrong_token_rejected_not_holder),
	    T(test_renew_repeat_after_release_same_answer),
	    T(test_release_wrong_token_rejected_not_holder),
	    T(test_release_once_success_waiters_done_queue_emptied),
	    T(test_release_once_failure_next_waiter_granted_with_previous),
	    T(test_seed_story_failed_holder_hands_off_without_reask),
	    T(test_release_mutex_fifo_rotation),
	    T(test_release_mutex_failure_sets_previous_success_clears),
	    T(test_release_last_failure_mutex_cleared_once_streak_kept),
	    T(test_cancel_queued_removed_acquire_answer_cancelled),
	    T(test_cancel_holding_released_as_failure),
	    T(test_cancel_nothing_cancelled_anyway),
	    T(test_reset_forgets_success_and_clears),
	    T(test_reset_remembered_idle_clear),
	    T(test_tick_lease_expiry_revoked_next_waiter_granted),
	    T(test_tick_wait_expiry_busy_and_removed),
	    T(test_tick_forget_time_clears_remembered_success),
	    T(test_offline_revokes_hands_off_drops_waits_forgets_ids),
	    T(test_offline_unknown_node_and_online_no_effects),
	    T(test_invalid_rejected_keeps_order_changes_nothing),
	    T(test_restore_round_trip_same_snapshots),
	    T(test_restore_inconsistent_views_rejected_inval),
	    T(test_token_counter_never_goes_back),
	    T(test_id_memory_bounded_oldest_forgotten),
	    T(test_resource_get_view_matches_state),
	    T(test_ids_lock_cycle_two_puts_repeat_none),
	    T(test_ids_eviction_put_then_del_oldest),
	    T(test_ids_once_success_waiters_done_then_offline_del_node),
	    T(test_ids_restore_record_live_wins_and_bad_refused),
	    T(test_extend_leases_gap_moves_deadline_no_revoke),
	    T(test_extend_leases_only_live_leases_in_gap),
	    T(test_extend_leases_every_shared_holding),
	    T(test_extend_leases_right_after_restore),
	    T(test_raise_next_token_floor_only_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
