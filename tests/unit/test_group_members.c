/*
 * test_group_members.c - membership changes of the replicated group
 * (coordinator/group_members.c) on libraft's in-memory fixture, with the
 * real table on every member (group_harness.h): a group of 3 grows to 5
 * with members started empty (as --join starts them), survives the loss of
 * two, removes dead members for good so that the quorum counts only live
 * ones, and removes its leader; at every applied index every member's state
 * and effects are identical. Also what each request comes to against the
 * configuration the leader knows: asking twice is safe, conflicts, a change
 * in progress, a follower and the last voter are refused in words.
 *
 * Pins the libraft 0.15 behaviour relied on: raft_add then raft_assign to
 * voter replicates the log to the new member first (its promotion is
 * aborted when it cannot catch up, leaving it a spare), a voter made a
 * standby learns it (and never campaigns) while the removal that follows
 * never reaches it, and a leader that removed itself steps down once the
 * change committed, its callback saying success.
 */
#include "group_harness.h"
#include "group_members.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef struct outcome {
	bool done;
	gm_result r;
	char why[200];
} outcome;

static void on_done(void *ctx, gm_result r, const char *why)
{
	outcome *o = ctx;
	o->done = true;
	o->r = r;
	snprintf(o->why, sizeof o->why, "%s", why);
}

static bool is_done(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((outcome *)arg)->done;
}

static gm_change changes[MAX_MEMBERS]; /* one per member: libraft holds it until its callback */

/* Asks member `on` for op and steps the cluster until it is final. */
static gm_result change_on(fixture *fx, unsigned on, gm_op op, uint64_t id, const char *addr, char *why,
                           size_t cap)
{
	outcome o = {0};
	gm_result r =
	    gm_start(&changes[on], raft_fixture_get(&fx->f, on), op, id, addr, on_done, &o, why, cap);
	if (r != GM_PENDING)
		return r;
	assert_true(raft_fixture_step_until(&fx->f, is_done, &o, 120000));
	snprintf(why, cap, "%s", o.why);
	return o.r;
}

static gm_result change(fixture *fx, gm_op op, uint64_t id, const char *addr)
{
	char why[200];
	gm_result r = change_on(fx, leader(fx), op, id, addr, why, sizeof why);
	if (getenv("TG_TRACE"))
		fprintf(stderr, "%s %llu: %s (%s)\n", op == GM_ADD ? "add" : "remove", (unsigned long long)id,
		        gm_result_name(r), why);
	return r;
}

/* The ids and roles member i knows, as text: "1:voter 2:voter 4:spare". */
static void conf_text(fixture *fx, unsigned i, char *buf, size_t cap)
{
	gm_member ms[GROUP_MAX_PEERS];
	size_t n = gm_members(raft_fixture_get(&fx->f, i), ms, GROUP_MAX_PEERS);
	buf[0] = '\0';
	for (size_t k = 0; k < n; k++)
		h_cat(buf, cap, "%s%llu:%s", k ? " " : "", (unsigned long long)ms[k].id, ms[k].role);
}

static void wait_each(fixture *fx, unsigned mask)
{
	for (unsigned i = 0; i < fx->n; i++)
		if (mask & (1u << i))
			wait_applied(fx, i, fx->last);
}

static void grow_to_five(fixture *fx)
{
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	traffic(fx, "r/1", 4);
	char addr[8];
	for (unsigned k = 0; k < 2; k++) {
		unsigned i = member_join(fx);
		snprintf(addr, sizeof addr, "%u", i + 1); /* the fixture's address of server i */
		assert_int_equal(change(fx, GM_ADD, i + 1, addr), GM_DONE);
		traffic(fx, "r/2", 2);
	}
	char conf[128];
	conf_text(fx, leader(fx), conf, sizeof conf);
	assert_string_equal(conf, "1:voter 2:voter 3:voter 4:voter 5:voter");
}

static void test_members_grow_to_five_tables_identical(void **state)
{
	fixture *fx = *state;
	grow_to_five(fx);
	traffic(fx, "r/3", 3);
	wait_each(fx, 0x1f);
	check_identical(fx, 0x1f);
	/* The new members hold the same locks as the first three. */
	assert_string_equal(fx->m[4].dump[fx->last], fx->m[0].dump[fx->last]);
	char conf[128];
	conf_text(fx, 4, conf, sizeof conf);
	assert_string_equal(conf, "1:voter 2:voter 3:voter 4:voter 5:voter");
}

/* Stops member i for good, as an operator stops a removed member. */
static void stop(fixture *fx, unsigned i)
{
	raft_fixture_kill(&fx->f, i);
}

static void test_members_five_survive_two_losses_then_remove_them_for_good(void **state)
{
	fixture *fx = *state;
	fx->by_state = true;
	grow_to_five(fx);
	unsigned l = leader(fx);
	unsigned other = l == 0 ? 1 : 0;
	stop(fx, l); /* the leader and one more of the original three */
	stop(fx, other);
	unsigned nl = leader(fx);
	assert_true(nl != l && nl != other);
	lead(fx);
	traffic(fx, "r/4", 2);
	unsigned live = 0x1fu & ~(1u << l) & ~(1u << other);
	wait_each(fx, live);
	check_identical(fx, live);
	/* Removed for good: the quorum is then 2 of the 3 live ones, so one
	 * more loss is survived (with 5 voters, 2 of 5 would serve nothing). */
	assert_int_equal(change(fx, GM_REMOVE, l + 1, NULL), GM_DONE);
	assert_int_equal(change(fx, GM_REMOVE, other + 1, NULL), GM_DONE);
	assert_int_equal(change(fx, GM_REMOVE, other + 1, NULL), GM_UNCHANGED);
	char conf[128];
	conf_text(fx, leader(fx), conf, sizeof conf);
	assert_int_equal(strlen(conf), strlen("1:voter 2:voter 3:voter"));
	unsigned victim = leader(fx) == 4 ? 3 : 4;
	stop(fx, victim);
	live &= ~(1u << victim);
	traffic(fx, "r/4", 2);
	wait_each(fx, live);
	check_identical(fx, live);
}

static void test_members_remove_follower_and_leader(void **state)
{
	fixture *fx = *state;
	fx->by_state = true;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	traffic(fx, "r/1", 2);
	assert_int_equal(change(fx, GM_REMOVE, 3, NULL), GM_DONE);
	char conf[128];
	conf_text(fx, 0, conf, sizeof conf);
	assert_string_equal(conf, "1:voter 2:voter");
	/* The removed member learnt it no longer votes (the demotion reached
	 * it; the removal never does), so it never campaigns. */
	raft_fixture_step_until_elapsed(&fx->f, 3000);
	conf_text(fx, 2, conf, sizeof conf);
	assert_string_equal(conf, "1:voter 2:voter 3:standby");
	assert_int_equal(raft_state(raft_fixture_get(&fx->f, 2)), RAFT_FOLLOWER);
	stop(fx, 2);
	traffic(fx, "r/1", 2);
	wait_each(fx, 0x3);
	check_identical(fx, 0x3);
	/* The leader removes itself: libraft calls back with success once the
	 * change committed and the leader steps down; member 2 alone leads. */
	char why[200];
	assert_int_equal(change_on(fx, 0, GM_REMOVE, 1, NULL, why, sizeof why), GM_DONE);
	assert_int_not_equal(raft_state(raft_fixture_get(&fx->f, 0)), RAFT_LEADER);
	stop(fx, 0);
	assert_int_equal(leader(fx), 1);
	conf_text(fx, 1, conf, sizeof conf);
	assert_string_equal(conf, "2:voter");
	lead(fx);
	traffic(fx, "r/1", 2);
	wait_each(fx, 0x2);
	check_identical(fx, 0x2);
	assert_int_equal(change(fx, GM_REMOVE, 2, NULL), GM_LAST_VOTER);
}

static void test_members_requests_decided_against_the_configuration(void **state)
{
	fixture *fx = *state;
	char why[200];
	fx->by_state = true;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	assert_int_equal(change(fx, GM_ADD, 2, "2"), GM_UNCHANGED); /* a voter already */
	assert_int_equal(change(fx, GM_ADD, 2, "9"), GM_CONFLICT);  /* another address */
	assert_int_equal(change(fx, GM_ADD, 9, "2"), GM_CONFLICT);  /* another id's address */
	assert_int_equal(change(fx, GM_REMOVE, 9, NULL), GM_UNCHANGED);
	assert_int_equal(change_on(fx, 1, GM_REMOVE, 3, NULL, why, sizeof why), GM_NOT_LEADER);
	/* One at a time: a second change while the first is uncommitted. */
	outcome o = {0};
	assert_int_equal(gm_start(&changes[0], raft_fixture_get(&fx->f, 0), GM_REMOVE, 3, NULL, on_done, &o,
	                          why, sizeof why),
	                 GM_PENDING);
	assert_int_equal(gm_start(&changes[0], raft_fixture_get(&fx->f, 0), GM_REMOVE, 2, NULL, on_done, &o,
	                          why, sizeof why),
	                 GM_IN_PROGRESS);
	assert_non_null(strstr(why, "in progress"));
	assert_true(raft_fixture_step_until(&fx->f, is_done, &o, 60000));
	assert_int_equal(o.r, GM_DONE);
	stop(fx, 2);
	/* Up to GROUP_MAX_PEERS: the 8th is refused before libraft sees it. */
	char addr[8];
	for (unsigned k = 0; k < GROUP_MAX_PEERS - 2; k++) {
		snprintf(addr, sizeof addr, "%u", 10 + k);
		struct raft *r = raft_fixture_get(&fx->f, leader(fx));
		outcome a = {0};
		assert_int_equal(gm_start(&changes[0], r, GM_ADD, 10 + k, addr, on_done, &a, why, sizeof why),
		                 GM_PENDING);
		/* Nobody runs at that address: added as a spare, never promoted. */
		assert_true(raft_fixture_step_until(&fx->f, is_done, &a, 120000));
		assert_int_equal(a.r, GM_FAILED);
		assert_non_null(strstr(a.why, "catch up"));
	}
	assert_int_equal(change(fx, GM_ADD, 30, "30"), GM_TOO_MANY);
}

static void test_members_unfinished_add_resumes_with_promotion(void **state)
{
	fixture *fx = *state;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	traffic(fx, "r/1", 2);
	/* Asked before the new member runs: it stays a spare, which counts for
	 * nothing; asked again once it runs, it is only promoted. */
	assert_int_equal(change(fx, GM_ADD, 4, "4"), GM_FAILED);
	char conf[128];
	conf_text(fx, 0, conf, sizeof conf);
	assert_string_equal(conf, "1:voter 2:voter 3:voter 4:spare");
	unsigned i = member_join(fx);
	assert_int_equal(i, 3);
	assert_int_equal(change(fx, GM_ADD, 4, "4"), GM_DONE);
	conf_text(fx, 0, conf, sizeof conf);
	assert_string_equal(conf, "1:voter 2:voter 3:voter 4:voter");
	traffic(fx, "r/1", 2);
	wait_each(fx, 0xf);
	check_identical(fx, 0xf);
}

/* A change in flight when the leader is deposed is answered (libraft calls
 * back with the loss of leadership), so the next leader can be asked. */
static void test_members_change_in_flight_answered_when_deposed(void **state)
{
	fixture *fx = *state;
	char why[200];
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	outcome o = {0};
	/* Nobody runs at "4": its promotion waits for a catch-up that never comes. */
	assert_int_equal(
	    gm_start(&changes[0], raft_fixture_get(&fx->f, 0), GM_ADD, 4, "4", on_done, &o, why, sizeof why),
	    GM_PENDING);
	raft_fixture_step_until_elapsed(&fx->f, 200);
	assert_false(o.done);
	raft_fixture_depose(&fx->f);
	assert_true(raft_fixture_step_until(&fx->f, is_done, &o, 10000));
	assert_int_equal(o.r, GM_FAILED);
	assert_non_null(strstr(o.why, "leadership was lost"));
	assert_false(changes[0].busy);
}

static baton_err no_apply(void *ctx, uint64_t index, const glog_entry *e)
{
	(void)ctx, (void)index, (void)e;
	return BATON_OK;
}

/* The daemon's group_new on libraft's real disk and TCP I/O: a fresh start
 * bootstraps the --peers configuration; with join it starts with none (it
 * waits to be added, and its log never gets an index 1 of its own). */
static void test_members_join_never_bootstraps(void **state)
{
	(void)state;
	for (int join = 0; join < 2; join++) {
		char dir[] = "/tmp/baton-test-join-XXXXXX", err[256] = "";
		assert_non_null(mkdtemp(dir));
		group_peer peers[3] = {{1, "127.0.0.1:1"}, {2, "127.0.0.1:2"}, {3, "127.0.0.1:3"}};
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t alen = sizeof a;
		assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
		assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
		close(s); /* a free port for member 1 */
		snprintf(peers[0].address, sizeof peers[0].address, "127.0.0.1:%u",
		         (unsigned)ntohs(a.sin_port));
		group_options o = {.id = 1,
		                   .peers = peers,
		                   .n_peers = 3,
		                   .dir = dir,
		                   .election_timeout_ms = 300,
		                   .heartbeat_ms = 50,
		                   .join = join,
		                   .cb = {.apply = no_apply}};
		group *g = NULL;
		assert_int_equal(group_new(&o, &g, err, sizeof err), BATON_OK);
		gm_member ms[GROUP_MAX_PEERS];
		assert_int_equal(group_members_get(g, ms, GROUP_MAX_PEERS), join ? 0 : 3);
		assert_int_equal(group_conf_index(g), join ? 0 : 1);
		group_info gi;
		group_info_get(g, &gi);
		assert_int_equal(gi.last_index, join ? 0 : 1);
		group_free(g);
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_members_grow_to_five_tables_identical, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_members_five_survive_two_losses_then_remove_them_for_good,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_members_remove_follower_and_leader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_members_requests_decided_against_the_configuration, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_members_unfinished_add_resumes_with_promotion, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_members_change_in_flight_answered_when_deposed, setup,
	                                    teardown),
	    cmocka_unit_test(test_members_join_never_bootstraps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
