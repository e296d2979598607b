/*
 * test_group.c - the replicated group, deterministically: libraft's
 * in-memory fixture (raft/fixture.h) runs 3 members, each with its own real
 * lock table, store (SQLite, in memory) and entry codec, applying committed
 * entries through the one apply path the daemon uses (coordinator/apply.c
 * behind coordinator/group_fsm.c). Elections, deposing, partitions, dropped
 * messages, killed members, snapshots installed on a lagging member and the
 * fuzz corpus replayed: at every applied index the members' state dumps
 * (store rows, table snapshots, next token, the replicated clock and leader)
 * and the effects of that entry are identical.
 *
 * The cases that matter most run twice: applying at once, and deferred as
 * the member applies (group_fsm_defer: entries queued inside libraft's
 * callbacks, drained afterwards and before every snapshot; effects handed
 * out before the store commit).
 *
 * Also pins the libraft 0.15 behaviour the group relies on: a failed apply
 * leaves last_applied in place (no entry is skipped), a restored snapshot's
 * buffer is the FSM's to free, bootstrap refuses a used data directory,
 * raft_barrier and raft_transfer complete as documented.
 */
#include "group_harness.h"

/* ---- cases -------------------------------------------------------------- */

static void test_group_elected_leader_members_apply_identically(void **state)
{
	fixture *fx = *state;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	traffic(fx, "r/1", 5);
	/* The second edition's modes: readers together, a semaphore of 2, a cap
	 * on failures; applied the same everywhere. */
	glog_msg modes[] = {
	    req_msg("n4",
	            "{\"v\":1,\"op\":\"acquire\",\"id\":\"s1\",\"resource\":\"r/rw\",\"mode\":\"shared\"}"),
	    req_msg("n5",
	            "{\"v\":1,\"op\":\"acquire\",\"id\":\"s2\",\"resource\":\"r/rw\",\"mode\":\"shared\"}"),
	    req_msg("n6",
	            "{\"v\":1,\"op\":\"acquire\",\"id\":\"w1\",\"resource\":\"r/rw\",\"mode\":\"mutex\"}"),
	    req_msg("n4",
	            "{\"v\":1,\"op\":\"acquire\",\"id\":\"p1\",\"resource\":\"r/sem\",\"mode\":\"mutex\","
	            "\"permits\":2}"),
	    req_msg("n5",
	            "{\"v\":1,\"op\":\"acquire\",\"id\":\"p2\",\"resource\":\"r/sem\",\"mode\":\"mutex\","
	            "\"permits\":2}"),
	    req_msg("n7",
	            "{\"v\":1,\"op\":\"acquire\",\"id\":\"f1\",\"resource\":\"r/once\",\"max_failures\":1}"),
	};
	batch(fx, modes, sizeof modes / sizeof modes[0], 1);
	glog_msg off = node_msg("n2", false);
	batch(fx, &off, 1, 1);
	glog_msg bad = {.topic = PREFIX "/req/bad+id",
	                .topic_len = strlen(PREFIX "/req/bad+id"),
	                .payload = "x",
	                .len = 1};
	glog_msg junk = req_msg("n3", "{not json");
	glog_msg two[2] = {bad, junk};
	batch(fx, two, 2, 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	check_identical(fx, 7);
	/* The answers reached the table on every member: a rejection for n3. */
	assert_non_null(strstr(fx->m[2].effects[fx->last], "rejected"));
}

static void test_group_depose_partition_drop_identical(void **state)
{
	fixture *fx = *state;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	traffic(fx, "r/a", 2);
	wait_applied(fx, N_MEMBERS, fx->last);

	/* Partition the leader away (every message to and from it dropped: the
	 * fixture counts only such a member out of a leader's stability); what
	 * it proposes alone never commits. */
	raft_fixture_saturate(&fx->f, 0, 1), raft_fixture_saturate(&fx->f, 1, 0);
	raft_fixture_saturate(&fx->f, 0, 2), raft_fixture_saturate(&fx->f, 2, 0);
	glog_entry lost = {.kind = GLOG_TICK, .now = fx->now + 1};
	raft_index orphan = propose_on(fx, 0, &lost);
	assert_true(orphan > 0);
	raft_fixture_step_until_elapsed(&fx->f, 3000);
	assert_true(raft_fixture_step_until_has_leader(&fx->f, 10000));
	unsigned l = raft_fixture_leader_index(&fx->f);
	if (l != 1 && l != 2)
		print_error("leader %u states %d %d %d\n", l, raft_state(raft_fixture_get(&fx->f, 0)),
		            raft_state(raft_fixture_get(&fx->f, 1)), raft_state(raft_fixture_get(&fx->f, 2)));
	assert_true(l == 1 || l == 2);
	lead(fx);
	traffic(fx, "r/b", 2);
	wait_applied(fx, l, fx->last);

	/* Heal; drop messages from the new leader to one follower for a while. */
	raft_fixture_desaturate(&fx->f, 0, 1), raft_fixture_desaturate(&fx->f, 1, 0);
	raft_fixture_desaturate(&fx->f, 0, 2), raft_fixture_desaturate(&fx->f, 2, 0);
	unsigned other = l == 1 ? 2 : 1;
	/* A connection refused for a while (sends fail at once), then back. */
	raft_fixture_disconnect(&fx->f, l, 0), raft_fixture_disconnect(&fx->f, 0, l);
	traffic(fx, "r/d", 1);
	raft_fixture_step_until_elapsed(&fx->f, 100);
	raft_fixture_reconnect(&fx->f, l, 0), raft_fixture_reconnect(&fx->f, 0, l);
	raft_fixture_saturate(&fx->f, l, other);
	traffic(fx, "r/c", 2);
	raft_fixture_step_until_elapsed(&fx->f, 200);
	raft_fixture_desaturate(&fx->f, l, other);
	wait_applied(fx, N_MEMBERS, fx->last);

	/* Depose whoever leads; a new one is elected and serves. */
	raft_fixture_depose(&fx->f);
	assert_true(raft_fixture_step_until_has_leader(&fx->f, 10000));
	lead(fx);
	traffic(fx, "r/a", 2);
	wait_applied(fx, N_MEMBERS, fx->last);
	check_identical(fx, 7);
	/* The orphan entry was replaced by the new leader's (check_identical
	 * compared member 0 wherever it applied that index itself, rather than
	 * through an installed snapshot), and all end in one state. */
	assert_true(orphan <= fx->last);
	for (unsigned i = 1; i < N_MEMBERS; i++) {
		char *a = dump_state(&fx->m[0]), *b = dump_state(&fx->m[i]);
		assert_string_equal(a, b);
		free(a), free(b);
	}
}

/* A member down while the log moves past a snapshot catches up by an
 * installed snapshot (restore), then applies identically. */
static void test_group_lagging_member_restores_snapshot_identical(void **state)
{
	fixture *fx = *state;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	traffic(fx, "r/x", 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	raft_fixture_kill(&fx->f, 2);
	traffic(fx, "r/y", 12); /* 36 entries: past two snapshot thresholds */
	wait_applied(fx, 1, fx->last);
	raft_fixture_revive(&fx->f, 2);
	traffic(fx, "r/z", 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	assert_true(fx->m[2].restores > 0);
	check_identical(fx, 7);
	/* After the restore, member 2's state equals the others' at the end. */
	char *a = dump_state(&fx->m[0]), *b = dump_state(&fx->m[2]);
	assert_string_equal(a, b);
	free(a), free(b);
}

/* A request of node: the JSON fmt with its arguments (kept in a ring). */
static glog_msg fmt_msg(const char *node, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static glog_msg fmt_msg(const char *node, const char *fmt, ...)
{
	static char payloads[16][256];
	static unsigned next;
	char *p = payloads[next++ % 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p, 256, fmt, ap);
	va_end(ap);
	return req_msg(node, p);
}

static glog_msg acquire_msg(const char *node, const char *id, const char *res)
{
	return fmt_msg(node,
	               "{\"v\":1,\"op\":\"acquire\",\"id\":\"%s\",\"resource\":\"%s\",\"mode\":\"mutex\","
	               "\"lease_ms\":600000}",
	               id, res);
}

static glog_msg release_msg(const char *node, const char *id, const char *res, int token)
{
	return fmt_msg(node,
	               "{\"v\":1,\"op\":\"release\",\"id\":\"%s\",\"resource\":\"%s\",\"token\":%d,"
	               "\"success\":true}",
	               id, res, token);
}

/* Aliases (a node's second acquire id of a holding or wait it has) and the
 * request id counter are in the snapshot: a member that installs one
 * answers a repeat of an alias id as the others do, before and after its
 * request finishes, and numbers the ids it finishes as they do, although
 * the newest ids were forgotten with an offline node before the snapshot. */
static void test_group_snapshot_keeps_aliases_and_id_counter(void **state)
{
	fixture *fx = *state;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	/* p1 holds r/al (token 1) and p2 waits, each with an alias */
	glog_msg first[] = {acquire_msg("p1", "x1", "r/al"), acquire_msg("p2", "y1", "r/al")};
	batch(fx, first, 2, 1);
	glog_msg aliases[] = {acquire_msg("p1", "x2", "r/al"), acquire_msg("p2", "y2", "r/al")};
	batch(fx, aliases, 2, 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	raft_fixture_kill(&fx->f, 2);
	traffic(fx, "r/y", 12); /* past two snapshot thresholds */
	/* the newest finished ids are p3's, forgotten when it goes away */
	glog_msg p3[] = {acquire_msg("p3", "z1", "r/z")};
	batch(fx, p3, 1, 1);
	table_resource_view z;
	wait_applied(fx, 0, fx->last);
	assert_true(table_resource_get(fx->m[0].a.t, "r/z", &z));
	glog_msg p3rel = release_msg("p3", "z2", "r/z", (int)z.token), off = node_msg("p3", false);
	batch(fx, &p3rel, 1, 1);
	batch(fx, &off, 1, 1);
	for (int i = 0; i < 20; i++)
		tick(fx, 1); /* a snapshot is taken after that */
	wait_applied(fx, 1, fx->last);
	raft_fixture_revive(&fx->f, 2);
	tick(fx, 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	assert_true(fx->m[2].restores > 0);
	/* repeats while live: granted and queued, nothing changes */
	glog_msg again[] = {acquire_msg("p1", "x2", "r/al"), acquire_msg("p2", "y2", "r/al")};
	batch(fx, again, 2, 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	assert_non_null(strstr(fx->m[2].effects[fx->last], "p2: queued y2 r/al"));
	/* p1 releases (p2 is granted), then p2; the aliases finish */
	glog_msg rel1 = release_msg("p1", "x3", "r/al", 1);
	batch(fx, &rel1, 1, 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	table_resource_view v;
	assert_true(table_resource_get(fx->m[0].a.t, "r/al", &v));
	assert_string_equal(v.holder, "p2");
	int token = (int)v.token;
	glog_msg rel2 = release_msg("p2", "y3", "r/al", token);
	batch(fx, &rel2, 1, 1);
	glog_msg done[] = {acquire_msg("p1", "x2", "r/al"), acquire_msg("p2", "y2", "r/al")};
	batch(fx, done, 2, 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	assert_non_null(strstr(fx->m[2].effects[fx->last], "p1: released x2 r/al t=1"));
	char want[64];
	snprintf(want, sizeof want, "p2: released y2 r/al t=%d", token);
	assert_non_null(strstr(fx->m[2].effects[fx->last], want));
	check_identical(fx, 7);
	for (unsigned i = 1; i < N_MEMBERS; i++) {
		char *a = dump_state(&fx->m[0]), *b = dump_state(&fx->m[i]);
		assert_string_equal(a, b);
		free(a), free(b);
	}
}

/* libraft 0.15: an FSM apply that fails leaves last_applied on the entry
 * before (src/replication.c replicationApply), so nothing is skipped; our
 * adaptor then refuses every later entry: the member has stopped applying
 * and must be restarted. The others carry on. */
static void test_group_failed_apply_is_never_skipped(void **state)
{
	fixture *fx = *state;
	raft_fixture_elect(&fx->f, 0);
	raft_index first = lead(fx);
	wait_applied(fx, N_MEMBERS, first);
	fx->m[2].fail_at = first + 2;
	traffic(fx, "r/f", 3);
	wait_applied(fx, 0, fx->last);
	wait_applied(fx, 1, fx->last);
	raft_fixture_step_until_elapsed(&fx->f, 1000);
	struct raft *r2 = raft_fixture_get(&fx->f, 2);
	assert_int_equal(raft_last_applied(r2), first + 1);
	assert_true(fx->m[2].gf.failed);
	assert_int_equal(fx->m[2].gf.why, BATON_E_NOMEM);
	assert_int_equal(fx->m[2].gf.failed_at, first + 2);
	assert_null(fx->m[2].dump[first + 2]);
	assert_null(fx->m[2].dump[fx->last]);
	check_identical(fx, 3);
}

/* Time never goes back across leaders: an entry stamped earlier than the
 * last one applied is applied at the later time; started_at only grows. */
static void test_group_time_never_goes_back(void **state)
{
	fixture *fx = *state;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	int64_t started = fx->m[1].a.started_at;
	tick(fx, 5000);
	fx->now -= 4000; /* a leader whose clock is behind */
	lead(fx);
	wait_applied(fx, N_MEMBERS, fx->last);
	for (unsigned i = 0; i < N_MEMBERS; i++) {
		assert_true(fx->m[i].a.last_now == T0 + 5000);
		assert_true(fx->m[i].a.started_at > started);
	}
	check_identical(fx, 7);
}

/* The lease extension of a leadership entry (table_extend_leases, issue 12),
 * applied the same on every member. */
static void test_group_leadership_extends_leases(void **state)
{
	fixture *fx = *state;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	glog_msg a =
	    req_msg("n1", "{\"v\":1,\"op\":\"acquire\",\"id\":\"e1\",\"resource\":\"r/e\",\"mode\":\"mutex\","
	                  "\"lease_ms\":1000}");
	batch(fx, &a, 1, 0);
	fx->now += 900;
	lead(fx);      /* extends by 600 ms */
	tick(fx, 500); /* 1400 ms after the grant: alive only if extended */
	wait_applied(fx, N_MEMBERS, fx->last);
	assert_non_null(strstr(fx->m[1].dump[fx->last], "\"holder\":\"n1\""));
	check_identical(fx, 7);
}

/* A configuration entry (a new leader's flags) changes the table's
 * configuration on every member at the same index, keeping its state. */
static void test_group_config_entry_applies_everywhere(void **state)
{
	fixture *fx = *state;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	traffic(fx, "r/c1", 1);
	glog_msg hold = req_msg(
	    "n9", "{\"v\":1,\"op\":\"acquire\",\"id\":\"h1\",\"resource\":\"r/keep\",\"mode\":\"mutex\"}");
	batch(fx, &hold, 1, 1);
	glog_entry c = {.kind = GLOG_CONFIG, .now = fx->now, .config = {5000, 3600000, 600000, 64}};
	propose(fx, &c);
	glog_msg a = req_msg(
	    "n8", "{\"v\":1,\"op\":\"acquire\",\"id\":\"c9\",\"resource\":\"r/c2\",\"mode\":\"mutex\"}");
	raft_index i = batch(fx, &a, 1, 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	for (unsigned k = 0; k < N_MEMBERS; k++) {
		assert_int_equal(fx->m[k].a.cfg.default_lease_ms, 5000);
		assert_non_null(strstr(fx->m[k].effects[i], "l=5000"));
		assert_non_null(strstr(fx->m[k].dump[i], "\"holder\":\"n9\"")); /* the state was kept */
	}
	check_identical(fx, 7);
}

/* ---- raft_transfer and raft_barrier, as daemon_group.c uses them --------- */

static int transfers_done, barriers_ok, barriers_failed;

static void on_transferred(struct raft_transfer *req)
{
	(void)req;
	transfers_done++;
}

static void on_barrier(struct raft_barrier *req, int status)
{
	(void)req;
	if (status == 0)
		barriers_ok++;
	else
		barriers_failed++;
}

static bool transferred(struct raft_fixture *f, void *arg)
{
	(void)f, (void)arg;
	return transfers_done > 0;
}

static bool barrier_answered(struct raft_fixture *f, void *arg)
{
	(void)f, (void)arg;
	return barriers_ok + barriers_failed > 0;
}

/* SIGTERM on the leader: raft_transfer(0) picks a voter, which becomes the
 * leader, and the callback fires; the entries applied before stay applied
 * the same everywhere. */
static void test_group_transfer_hands_leadership_over(void **state)
{
	fixture *fx = *state;
	static struct raft_transfer req; /* outlives the callback: see group.c */
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	traffic(fx, "r/t", 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	transfers_done = 0;
	assert_int_equal(raft_transfer(raft_fixture_get(&fx->f, 0), &req, 0, on_transferred), 0);
	assert_true(raft_fixture_step_until(&fx->f, transferred, NULL, 10000));
	assert_true(raft_fixture_step_until_has_leader(&fx->f, 10000));
	assert_int_not_equal(raft_fixture_leader_index(&fx->f), 0);
	lead(fx);
	traffic(fx, "r/t", 1);
	wait_applied(fx, N_MEMBERS, fx->last);
	check_identical(fx, 7);
}

/* A barrier completes once everything before it is applied, on a leader of
 * a quorum; on a leader cut off from it, it fails: what lets a deposed
 * leader never reconnect to the broker (daemon_group.c, await_barrier). */
static void test_group_barrier_only_with_a_quorum(void **state)
{
	fixture *fx = *state;
	static struct raft_barrier b1, b2;
	raft_fixture_elect(&fx->f, 0);
	lead(fx);
	barriers_ok = barriers_failed = 0;
	struct raft *r0 = raft_fixture_get(&fx->f, 0);
	assert_int_equal(raft_barrier(r0, &b1, on_barrier), 0);
	assert_true(raft_fixture_step_until(&fx->f, barrier_answered, NULL, 10000));
	assert_int_equal(barriers_ok, 1);
	assert_true(raft_last_applied(r0) >= fx->last);
	raft_fixture_saturate(&fx->f, 0, 1), raft_fixture_saturate(&fx->f, 1, 0);
	raft_fixture_saturate(&fx->f, 0, 2), raft_fixture_saturate(&fx->f, 2, 0);
	barriers_ok = barriers_failed = 0;
	assert_int_equal(raft_barrier(r0, &b2, on_barrier), 0);
	assert_true(raft_fixture_step_until(&fx->f, barrier_answered, NULL, 10000));
	assert_int_equal(barriers_ok, 0);
	assert_int_equal(barriers_failed, 1);
	assert_int_not_equal(raft_state(r0), RAFT_LEADER);
}

/* ---- the fuzz corpus through 3 members ----------------------------------- */

static void replay_file(fixture *fx, const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char line[70000];
	size_t n_lines = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		size_t n = strcspn(line, "\n");
		line[n] = '\0';
		char node[3] = {'n', '0', '\0'};
		if (n >= 2 && line[1] >= '0' && line[1] <= '9')
			node[1] = line[1];
		if (n >= 2 && line[0] == 'R') {
			const char *body = line + 2 + (n > 2 && line[2] == ' ');
			glog_msg m = req_msg(node, body);
			batch(fx, &m, 1, 1);
		} else if (n >= 2 && (line[0] == 'O' || line[0] == 'N')) {
			glog_msg m = node_msg(node, line[0] == 'N');
			batch(fx, &m, 1, 1);
		} else if (n >= 1 && line[0] == 'T') {
			int64_t ms = 0;
			for (size_t i = 1; i < n && i < 10 && line[i] >= '0' && line[i] <= '9'; i++)
				ms = ms * 10 + (line[i] - '0');
			tick(fx, ms > 600000 ? 600000 : ms);
		}
		if (++n_lines % 4 == 0) {
			/* A new leader every few lines: the log carries on. */
			wait_applied(fx, N_MEMBERS, fx->last);
			raft_fixture_depose(&fx->f);
			assert_true(raft_fixture_step_until_has_leader(&fx->f, 10000));
			lead(fx);
		}
	}
	fclose(f);
	tick(fx, 400LL * 24 * 3600 * 1000);
}

static void test_group_fuzz_corpus_replays_identically(void **state)
{
	(void)state;
	DIR *d = opendir(BATON_CORPUS_DIR);
	assert_non_null(d);
	struct dirent *de;
	unsigned files = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", BATON_CORPUS_DIR, de->d_name);
		void *st = NULL;
		setup(&st);
		fixture *fx = st;
		raft_fixture_elect(&fx->f, files % N_MEMBERS);
		lead(fx);
		replay_file(fx, path);
		wait_applied(fx, N_MEMBERS, fx->last);
		check_identical(fx, 7);
		teardown(&st);
		files++;
	}
	closedir(d);
	assert_true(files >= 6);
}

/* ---- libraft's libuv I/O: bootstrap only on a fresh directory ------------ */

static void test_group_uv_bootstrap_refuses_used_dir(void **state)
{
	(void)state;
	char dir[] = "/tmp/baton-test-raft-XXXXXX";
	assert_non_null(mkdtemp(dir));
	for (int round = 0; round < 2; round++) {
		uv_loop_t loop;
		struct raft_uv_transport tr = {0};
		struct raft_io io = {0};
		struct raft r;
		group_fsm gf;
		group_callbacks cb = {0};
		group_fsm_init(&gf, &cb);
		assert_int_equal(uv_loop_init(&loop), 0);
		assert_int_equal(raft_uv_tcp_init(&tr, &loop), 0);
		assert_int_equal(raft_uv_init(&io, &loop, dir, &tr), 0);
		assert_int_equal(raft_init(&r, &io, group_fsm_raft(&gf), 1, "127.0.0.1:9"), 0);
		struct raft_configuration conf;
		raft_configuration_init(&conf);
		assert_int_equal(raft_configuration_add(&conf, 1, "127.0.0.1:9", RAFT_VOTER), 0);
		assert_int_equal(raft_bootstrap(&r, &conf), round == 0 ? 0 : RAFT_CANTBOOTSTRAP);
		raft_configuration_close(&conf);
		raft_close(&r, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
		raft_uv_close(&io);
		raft_uv_tcp_close(&tr);
		assert_int_equal(uv_loop_close(&loop), 0);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- --peers ------------------------------------------------------------- */

static void test_group_peers_parse_valid_and_refused(void **state)
{
	(void)state;
	group_peer p[GROUP_MAX_PEERS];
	size_t n = 99;
	char err[256] = "";
	assert_int_equal(
	    group_peers_parse("3=127.0.0.1:7003,1=127.0.0.1:7001,2=10.0.0.2:9", p, &n, err, sizeof err),
	    BATON_OK);
	assert_int_equal(n, 3);
	assert_int_equal(p[0].id, 1);
	assert_string_equal(p[0].address, "127.0.0.1:7001");
	assert_int_equal(p[2].id, 3);
	assert_string_equal(p[1].address, "10.0.0.2:9");
	static const char *const bad[] = {
	    "",
	    "1=127.0.0.1:7001,",
	    "x=127.0.0.1:1",
	    "0=127.0.0.1:1",
	    "1000000=127.0.0.1:1",
	    "1=127.0.0.1",
	    "1=127.0.0.1:0",
	    "1=127.0.0.1:65536",
	    "1=127.0.0.1:12a",
	    "1=localhost:7001",
	    "1=127.0.0.1:7001,1=127.0.0.1:7002",
	    "1=127.0.0.1:7001,2=127.0.0.1:7001",
	    "=127.0.0.1:7001",
	    "1=1.1.1.1:1,2=1.1.1.1:2,3=1.1.1.1:3,4=1.1.1.1:4,5=1.1.1.1:5,6=1.1.1.1:6,7=1.1.1.1:7,8=1.1.1.1:8",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n = 99;
		err[0] = '\0';
		if (group_peers_parse(bad[i], p, &n, err, sizeof err) != BATON_E_INVAL) {
			print_error("accepted: '%s'\n", bad[i]);
			fail();
		}
		assert_int_equal(n, 99);
		assert_non_null(strstr(err, "--peers"));
	}
}

/* ---- deferred applying, the member's fast path ----------------------------- */

typedef struct counting {
	int applied, at_snapshot, fail_on;
	uint64_t last_index;
	int64_t order[8];
} counting;

static baton_err count_apply(void *ctx, uint64_t index, const glog_entry *e)
{
	counting *c = ctx;
	if (c->applied + 1 == c->fail_on)
		return BATON_E_NOMEM;
	c->order[c->applied++ % 8] = e->now;
	c->last_index = index;
	return BATON_OK;
}

static baton_err count_snapshot(void *ctx, void **buf, size_t *len)
{
	counting *c = ctx;
	c->at_snapshot = c->applied;
	*buf = raft_malloc(1);
	*len = 1;
	return *buf != NULL ? BATON_OK : BATON_E_NOMEM;
}

static baton_err count_restore(void *ctx, const void *buf, size_t len)
{
	(void)ctx, (void)buf, (void)len;
	return BATON_OK;
}

static int fsm_feed(group_fsm *g, int64_t now)
{
	glog_entry e = {.kind = GLOG_TICK, .now = now};
	struct raft_buffer b;
	assert_int_equal(glog_encode(&e, raft_malloc, &b.base, &b.len), BATON_OK);
	void *result = NULL;
	struct raft_fsm *f = group_fsm_raft(g);
	int rv = f->apply(f, &b, &result);
	raft_free(b.base);
	return rv;
}

/* Deferred, libraft's apply only queues: the entries are applied by the
 * drain, in order, and a snapshot drains first, so it holds every entry
 * libraft counts applied (without that, a snapshot taken inside libraft's
 * callback missed the queued entries and an installing member diverged:
 * the deferred fixture cases above). A failure while draining stops every
 * later entry; deinit drops the queue unapplied. */
static void test_group_deferred_entries_drain_in_order_and_before_snapshots(void **state)
{
	(void)state;
	counting c = {0};
	group_callbacks cb = {
	    .apply = count_apply, .snapshot = count_snapshot, .restore = count_restore, .ctx = &c};
	group_fsm g;
	group_fsm_init(&g, &cb);
	group_fsm_defer(&g);
	for (int i = 1; i <= 3; i++)
		assert_int_equal(fsm_feed(&g, T0 + i), 0);
	assert_int_equal(c.applied, 0);
	assert_true(group_fsm_has_pending(&g));
	struct raft_buffer *bufs = NULL;
	unsigned n = 0;
	struct raft_fsm *f = group_fsm_raft(&g);
	assert_int_equal(f->snapshot(f, &bufs, &n), 0);
	assert_int_equal(c.at_snapshot, 3);
	raft_free(bufs[0].base);
	raft_free(bufs);
	assert_int_equal(c.order[0], T0 + 1);
	assert_int_equal(c.order[2], T0 + 3);
	assert_false(group_fsm_has_pending(&g));
	/* the 5th apply fails: the 6th is never applied, the adaptor has failed */
	c.fail_on = 5;
	for (int i = 4; i <= 6; i++)
		assert_int_equal(fsm_feed(&g, T0 + i), 0);
	group_fsm_drain(&g);
	assert_int_equal(c.applied, 4);
	assert_true(g.failed);
	assert_int_equal(g.why, BATON_E_NOMEM);
	assert_int_not_equal(fsm_feed(&g, T0 + 7), 0);
	assert_int_not_equal(f->snapshot(f, &bufs, &n), 0);
	group_fsm_deinit(&g);
	/* deinit frees what is queued without applying it */
	counting d = {0};
	cb.ctx = &d;
	group_fsm_init(&g, &cb);
	group_fsm_defer(&g);
	assert_int_equal(fsm_feed(&g, T0), 0);
	group_fsm_deinit(&g);
	assert_int_equal(d.applied, 0);
	assert_false(group_fsm_has_pending(&g));
}

static void count_effect(void *ctx, const table_effect *e)
{
	(void)e;
	(*(int *)ctx)++;
}

/* publish_before_commit (the group): an entry's effects are handed out
 * before the store commit, and a failed commit retried by apply_commit does
 * not hand them out again. Without it (the single process) nothing is
 * handed out before the commit succeeds. */
static void test_group_publish_before_commit_hands_out_once(void **state)
{
	(void)state;
	for (int early = 0; early <= 1; early++) {
		char dir[] = "/tmp/test_group_pbc.XXXXXX", path[64], away[64];
		assert_non_null(mkdtemp(dir));
		snprintf(path, sizeof path, "%s/s.db", dir);
		snprintf(away, sizeof away, "%s/away.db", dir);
		store *st = NULL;
		assert_int_equal(store_open(path, SYNC_LEVEL_OFF, &st, NULL, 0), BATON_OK);
		int handed = 0;
		applier a;
		apply_options o = {.prefix = PREFIX,
		                   .st = st,
		                   .stop_on_nomem = true,
		                   .effect = count_effect,
		                   .ctx = &handed,
		                   .publish_before_commit = early};
		table_config_default(&o.table);
		assert_int_equal(apply_init(&a, &o), BATON_OK);
		glog_msg m = req_msg(
		    "n1",
		    "{\"v\":1,\"op\":\"acquire\",\"id\":\"a1\",\"resource\":\"r/p\",\"mode\":\"mutex\"}");
		glog_entry e = {.kind = GLOG_BATCH, .now = T0, .msgs = &m, .n_msgs = 1};
		assert_int_equal(rename(path, away), 0); /* the commit fails: the file moved */
		assert_int_equal(apply_entry(&a, &e), BATON_E_STORE_MOVED);
		int first = handed; /* the granted answer and the resource's snapshot */
		assert_true(early ? first > 0 : first == 0);
		assert_int_equal(apply_commit(&a), BATON_E_STORE_MOVED);
		assert_int_equal(rename(away, path), 0);
		assert_int_equal(apply_commit(&a), BATON_OK);
		assert_true(handed > 0);
		if (early)
			assert_int_equal(handed, first); /* once */
		apply_deinit(&a);
		store_close(st);
		char cmd[96];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_group_elected_leader_members_apply_identically, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_group_depose_partition_drop_identical, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_lagging_member_restores_snapshot_identical, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_group_elected_leader_members_apply_identically,
	                                    setup_deferred, teardown),
	    cmocka_unit_test_setup_teardown(test_group_depose_partition_drop_identical, setup_deferred,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_group_lagging_member_restores_snapshot_identical,
	                                    setup_deferred, teardown),
	    cmocka_unit_test(test_group_deferred_entries_drain_in_order_and_before_snapshots),
	    cmocka_unit_test(test_group_publish_before_commit_hands_out_once),
	    cmocka_unit_test_setup_teardown(test_group_snapshot_keeps_aliases_and_id_counter, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_group_failed_apply_is_never_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_time_never_goes_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_leadership_extends_leases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_config_entry_applies_everywhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_transfer_hands_leadership_over, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_barrier_only_with_a_quorum, setup, teardown),
	    cmocka_unit_test(test_group_fuzz_corpus_replays_identically),
	    cmocka_unit_test(test_group_uv_bootstrap_refuses_used_dir),
	    cmocka_unit_test(test_group_peers_parse_valid_and_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
