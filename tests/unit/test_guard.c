/*
 * test_guard.c - the coordinator's own-outage bookkeeping and the conflict
 * rule of PROTOCOL.md "Coordinator identity" (coordinator/guard.h).
 *
 * Owns: the cases of when a gap begins and ends, how long it is, and which
 * presence is another instance. No broker, no clock, no sleep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"

#define T0 1000000

static wire_presence coord(bool online, const char *instance)
{
	wire_presence p = {.online = online, .instance = instance};
	return p;
}

/* A guard of instance c-1 past its start: connected, its presence back. */
static void serving(guard *g)
{
	bool echoed;
	wire_presence own = coord(true, "c-1");

	guard_init(g, "c-1", T0);
	guard_connected(g);
	guard_marker_sent(g, T0);
	guard_take_begin(g);
	guard_presence(g, &own, false);
	assert_int_equal(guard_resume(g, T0 + 1, &echoed), 1);
	assert_false(guard_paused(g));
}

/* A start: paused until connected and our presence is back; the gap runs
 * from the given start of the outage. */
static void test_guard_start_paused_until_echo(void **state)
{
	(void)state;
	guard g;
	bool echoed = false;
	wire_presence own = coord(true, "c-1");

	guard_init(&g, "c-1", T0 - 5000);
	assert_true(guard_paused(&g));
	assert_false(guard_marker_due(&g)); /* not connected */
	guard_take_begin(&g);
	guard_connected(&g);
	assert_true(guard_marker_due(&g));
	guard_marker_sent(&g, T0);
	/* An echo in the same take as the connect predates the marker. */
	assert_int_equal(guard_presence(&g, &own, false), GUARD_OWN_ECHO);
	assert_int_equal(guard_resume(&g, T0 + 10, &echoed), 0);
	guard_take_begin(&g);
	assert_int_equal(guard_presence(&g, &own, false), GUARD_OWN_ECHO);
	assert_int_equal(guard_resume(&g, T0 + 20, &echoed), 5020);
	assert_true(echoed);
	assert_false(guard_paused(&g));
}

/* A wake-up far later than planned (SIGSTOP) is a gap from the planned time;
 * a little late is not. Without an echo the gap ends after the wait. */
static void test_guard_stall_gap_from_planned_time(void **state)
{
	(void)state;
	guard g;
	bool echoed = true;

	serving(&g);
	guard_planned(&g, T0 + 100);
	assert_false(guard_woke(&g, T0 + 100 + GUARD_STALL_MS));
	guard_planned(&g, T0 + 200);
	assert_true(guard_woke(&g, T0 + 30200));
	assert_true(guard_marker_due(&g));
	guard_marker_sent(&g, T0 + 30200);
	guard_take_begin(&g);
	assert_int_equal(guard_resume(&g, T0 + 30200 + GUARD_ECHO_WAIT_MS - 1, &echoed), 0);
	assert_int_equal(guard_resume(&g, T0 + 30200 + GUARD_ECHO_WAIT_MS, &echoed),
	                 30000 + GUARD_ECHO_WAIT_MS);
	assert_false(echoed);
}

/* A connection lost and made again: the gap runs from the loss, through the
 * reconnect's marker and its echo; a second loss meanwhile keeps the start. */
static void test_guard_lost_then_reconnected(void **state)
{
	(void)state;
	guard g;
	bool echoed;
	wire_presence own = coord(true, "c-1");

	serving(&g);
	guard_lost(&g, T0 + 1000);
	assert_false(guard_marker_due(&g));
	guard_lost(&g, T0 + 3000);
	guard_connected(&g);
	guard_marker_sent(&g, T0 + 4000);
	assert_int_equal(guard_resume(&g, T0 + 4000, &echoed), 0);
	guard_take_begin(&g);
	guard_presence(&g, &own, false);
	assert_int_equal(guard_resume(&g, T0 + 4500, &echoed), 3500);
}

/* PROTOCOL.md: another live instance is a conflict; a replay of one from
 * before our own presence is not, whether retained or queued in our session
 * (a killed predecessor's presence is delivered as live); after ours came
 * back, it is (it is newer). */
static void test_guard_presence_conflicts(void **state)
{
	(void)state;
	guard g;
	wire_presence other = coord(true, "c-2"), own = coord(true, "c-1"), will = coord(false, "c-2");
	wire_presence old = coord(true, NULL);

	guard_init(&g, "c-1", T0);
	assert_int_equal(guard_presence(&g, &other, true), GUARD_IGNORE);
	assert_int_equal(guard_presence(&g, &old, true), GUARD_IGNORE);
	assert_int_equal(guard_presence(&g, &own, true), GUARD_IGNORE);
	assert_int_equal(guard_presence(&g, &will, false), GUARD_IGNORE);
	assert_int_equal(guard_presence(&g, &other, false), GUARD_IGNORE);
	assert_int_equal(guard_presence(&g, &old, false), GUARD_IGNORE);
	assert_int_equal(guard_presence(&g, &own, false), GUARD_OWN_ECHO);
	assert_int_equal(guard_presence(&g, &other, false), GUARD_CONFLICT);
	assert_int_equal(guard_presence(&g, &old, false), GUARD_CONFLICT);
	assert_int_equal(guard_presence(&g, &other, true), GUARD_CONFLICT);
	assert_int_equal(guard_presence(&g, &will, true), GUARD_IGNORE);
}

/* A group's own leaders ("g<member>-t<term>" with that member) are never
 * another instance to its members; anything else is. */
static void test_guard_group_own_leaders(void **state)
{
	(void)state;
	const uint64_t peers[3] = {1, 2, 3};
	wire_presence p = {.online = true, .member = 2, .instance = "g2-t7"};
	assert_true(guard_group_own(&p, peers, 3));
	p.online = false; /* its Will too */
	assert_true(guard_group_own(&p, peers, 3));
	assert_false(guard_group_own(&p, peers, 0)); /* a single process: a group is another instance */
	static const struct {
		uint64_t member;
		const char *instance;
	} others[] = {
	    {4, "g4-t7"},      /* not one of ours */
	    {2, "g3-t7"},      /* the instance names another member */
	    {2, "g2-t"},       /* no term */
	    {2, "g2-t7x"},     /* not a term */
	    {2, "c-00000001"}, /* a single coordinator's */
	    {0, "g2-t7"},      /* no member */
	    {2, NULL},         /* no instance */
	};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		wire_presence o = {
		    .online = true, .member = others[i].member, .instance = others[i].instance};
		assert_false(guard_group_own(&o, peers, 3));
	}
}

static void test_guard_instance_ids_differ(void **state)
{
	(void)state;
	char a[32], b[32];

	assert_true(guard_instance_new(a, sizeof a));
	assert_true(guard_instance_new(b, sizeof b));
	assert_int_equal(strlen(a), 18);
	assert_string_not_equal(a, b);
	assert_false(guard_instance_new(a, 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_guard_start_paused_until_echo),
	    cmocka_unit_test(test_guard_stall_gap_from_planned_time),
	    cmocka_unit_test(test_guard_lost_then_reconnected),
	    cmocka_unit_test(test_guard_presence_conflicts),
	    cmocka_unit_test(test_guard_instance_ids_differ),
	    cmocka_unit_test(test_guard_group_own_leaders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
