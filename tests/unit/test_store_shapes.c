/*
 * test_store_shapes.c - the second edition's state survives a restart: a
 * state file written by the coordinator before it (schema version 2,
 * tests/unit/fixtures/state-v2.db, see make_state_v2.c) loads and migrates
 * with every holding, waiter, remembered success and request id it had;
 * a version 3 file (state-v3.db) migrates to version 4 (aliases and the
 * request id counter); several holdings per resource, permits, queue modes
 * and caps reload
 * equal; a restart in the middle of a failure streak keeps its count, its
 * last failure, the waiters' caps and the forget deadline.
 *
 * Every case works on its own file in a fresh mkdtemp() directory (see
 * store_harness.h); "restart" frees the table and loads a fresh one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_harness.h"
#include "store_snap.h"

#define T2 1795514400000LL /* 2026-11-24T10:00:00Z: the fixture's now */

/* Steps req (NULL: a tick), commits, and returns every answer of the batch
 * rendered, joined by " | ". */
static const char *batch(fixture *f, int64_t now, const char *node, const wire_request *req)
{
	static char out[2048];
	table_ready r;

	if (req != NULL)
		assert_int_equal(table_step_request(f->t, now, node, req), BATON_OK);
	else
		assert_int_equal(table_tick(f->t, now), BATON_OK);
	table_ready_get(f->t, &r);
	out[0] = '\0';
	for (size_t i = 0; i < r.n_effects; i++) {
		char line[512];
		if (r.effects[i].kind != TABLE_FX_ANSWER)
			continue;
		h_answer(line, sizeof line, &r.effects[i]);
		h_cat(out, sizeof out, "%s%s", out[0] ? " | " : "", line);
	}
	if (store_commit(f->s, f->t, &r, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_commit: %s", f->err);
	table_advance(f->t);
	return out;
}

static wire_request capped(const char *id, const char *res, uint32_t max_failures)
{
	wire_request r = acq(id, res, WIRE_MODE_ONCE, -1);
	r.max_failures = max_failures;
	return r;
}

static wire_request shaped(const char *id, const char *res, wire_mode mode, uint32_t permits)
{
	wire_request r = acq(id, res, mode, -1);
	r.permits = permits;
	return r;
}

/* The resource's snapshot as the table would publish it, rendered. */
static const char *state_of(fixture *f, const char *res)
{
	static char out[1024];
	table_resource_view v;
	wire_snapshot s;

	if (!table_resource_get(f->t, res, &v))
		return "absent";
	table_snapshot_of(&v, &s);
	h_snapshot(out, sizeof out, &s);
	return out;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[4096];
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
}

/* ---- version 2 ---------------------------------------------------------------- */

static void test_shapes_version_2_file_migrates_with_its_state(void **state)
{
	fixture *f = *state;
	table_free(f->t);
	f->t = NULL; /* teardown frees what is left if a step below fails */
	store_close(f->s);
	f->s = NULL;
	unlink(f->path);
	copy_file(BATON_FIXTURES "/state-v2.db", f->path);
	open_store(f);
	f->t = new_table();
	if (store_load(f->s, f->t, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_load: %s", f->err);
	assert_int_equal(store_sql_int(f, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(table_next_token(f->t), 8);
	assert_string_equal(state_of(f, "img/held"),
	                    "state img/held once holder=A t=1 since=1795514400000 until=1795518000000 meta=- "
	                    "wait=[B,C]");
	/* a once resource with a previous had a failure since its last success */
	assert_string_equal(state_of(f, "img/failed"),
	                    "state img/failed once holder=B t=3 since=1795514400000 until=1795518000000 "
	                    "meta=- wait=[C] prev=A/2/manifest unknown/released failures=1 last=A/2/manifest "
	                    "unknown/released@1795514400000");
	assert_string_equal(state_of(f, "img/done"),
	                    "state img/done once wait=[] done=A/4/sha256:abc@1795514400000");
	assert_string_equal(state_of(f, "mutex/q"),
	                    "state mutex/q mutex holder=A t=5 since=1795514400000 until=1795518000000 meta=- "
	                    "wait=[B]");
	assert_string_equal(state_of(f, "mutex/failed"),
	                    "state mutex/failed mutex holder=B t=7 since=1795514400000 until=1795518000000 "
	                    "meta=- wait=[] prev=A/6/exit 1/released");
	table_resource_view v;
	assert_true(table_resource_get(f->t, "img/held", &v));
	assert_int_equal(v.waiting[0].wait_until_ms, T2 + 7200000);
	assert_string_equal(v.waiting[0].meta, "docker pull held");
	assert_int_equal(v.waiting[0].mode, WIRE_MODE_ONCE);
	assert_true(table_resource_get(f->t, "mutex/q", &v));
	assert_int_equal(v.waiting[0].mode, WIRE_MODE_MUTEX);
	/* remembered request ids answer as before */
	wire_request d6 = acq("d6", "mutex/q", WIRE_MODE_MUTEX, 0);
	assert_string_equal(step(f, T2, "D", &d6), "D: busy d6 mutex/q holder=A");
	wire_request d9 = acq("d9", "img/held", WIRE_MODE_MUTEX, -1);
	assert_string_equal(step(f, T2, "D", &d9), "D: rejected d9 img/held mode_conflict");
	/* the streak goes on from 1: B fails, C is granted, a late cap of 2 fails */
	wire_request b = rel("b3", "img/failed", 3, false, NULL);
	assert_string_equal(batch(f, T2 + 5, "B", &b),
	                    "C: granted c2 img/failed t=8 l=3600000 prev=B/3/-/released | B: released b3 "
	                    "img/failed t=3");
	wire_request e = capped("e1", "img/failed", 2);
	assert_string_equal(step(f, T2 + 6, "E", &e),
	                    "E: failed e1 img/failed failures=2 last=B/3/-/released@1795514400005");
}

/* ---- version 3 ---------------------------------------------------------------- */

/* Replaces the fixture's file by the named fixture and loads it. */
static void load_fixture(fixture *f, const char *name)
{
	char from[512];
	table_free(f->t);
	f->t = NULL; /* teardown frees what is left if a step below fails */
	store_close(f->s);
	f->s = NULL;
	unlink(f->path);
	snprintf(from, sizeof from, "%s/%s", BATON_FIXTURES, name);
	copy_file(from, f->path);
	open_store(f);
	f->t = new_table();
	if (store_load(f->s, f->t, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_load: %s", f->err);
}

/* A version 3 file (tests/unit/fixtures/state-v3.db, make_state_v3.c) kept
 * no alias and no request id counter: it migrates with every row it had,
 * an empty aliases table and the counter one past its largest seq. */
static void test_shapes_version_3_file_migrates_with_its_state(void **state)
{
	fixture *f = *state;
	load_fixture(f, "state-v3.db");
	assert_int_equal(store_sql_int(f, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(store_sql_int(f, "SELECT count(*) FROM aliases"), 0);
	assert_int_equal(store_sql_int(f, "SELECT value FROM meta WHERE key = 'next_id_seq'"), 2);
	assert_int_equal(table_next_token(f->t), 5);
	assert_int_equal(table_next_id_seq(f->t), 2);
	assert_string_equal(
	    state_of(f, "sem/held"),
	    "state sem/held mutex holder=A t=1 since=1795514400000 until=1795518000000 meta=- "
	    "wait=[B] holders=[A/1/mutex,C/2/mutex] permits=2");
	/* its remembered ids answer as before; the aliases it lost are new */
	wire_request a4 = rel("a4", "mutex/x", 3, true, NULL);
	assert_string_equal(step(f, T2, "A", &a4), "A: released a4 mutex/x t=3");
	wire_request a2 = shaped("a2", "sem/held", WIRE_MODE_MUTEX, 2);
	assert_string_equal(step(f, T2, "A", &a2), "A: granted a2 sem/held t=1 l=30000");
	wire_request b2 = shaped("b2", "sem/held", WIRE_MODE_MUTEX, 2);
	assert_string_equal(step(f, T2, "B", &b2), "B: queued b2 sem/held pos=1 holder=A");
	assert_int_equal(store_sql_int(f, "SELECT count(*) FROM aliases"), 2);
	restart(f);
	assert_string_equal(step(f, T2, "B", &b2), "B: queued b2 sem/held pos=1 holder=A");
}

/* A group member's raft snapshot taken before the upgrade carries a version
 * 3 image: it restores and migrates as the file would. */
static void test_shapes_version_3_image_restores_migrated(void **state)
{
	fixture *f = *state;
	char from[512];
	snprintf(from, sizeof from, "%s/state-v3.db", BATON_FIXTURES);
	FILE *in = fopen(from, "rb");
	assert_non_null(in);
	static char image[1 << 16];
	size_t len = fread(image, 1, sizeof image, in);
	fclose(in);
	assert_true(len > 0 && len < sizeof image);
	assert_int_equal(store_restore_image(f->s, image, len, f->err, sizeof f->err), BATON_OK);
	table_free(f->t);
	f->t = new_table();
	if (store_load(f->s, f->t, f->err, sizeof f->err) != BATON_OK)
		fail_msg("store_load: %s", f->err);
	assert_int_equal(store_sql_int(f, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(table_next_id_seq(f->t), 2);
	assert_string_equal(
	    state_of(f, "sem/held"),
	    "state sem/held mutex holder=A t=1 since=1795514400000 until=1795518000000 meta=- "
	    "wait=[B] holders=[A/1/mutex,C/2/mutex] permits=2");
	wire_request a2 = shaped("a2", "sem/held", WIRE_MODE_MUTEX, 2);
	assert_string_equal(step(f, T2, "A", &a2), "A: granted a2 sem/held t=1 l=30000");
	/* an image of a newer Baton is refused, the store kept */
	memset(image + 60, 0, 4);
	image[63] = (char)(STORE_SCHEMA_VERSION + 1); /* the header's user_version */
	assert_int_equal(store_restore_image(f->s, image, len, f->err, sizeof f->err), BATON_E_STORE_TOO_NEW);
	assert_int_equal(store_sql_int(f, "SELECT count(*) FROM aliases"), 1);
}

/* ---- shapes reload equal ---------------------------------------------------------- */

static void test_shapes_holders_permits_and_queue_modes_reload_equal(void **state)
{
	fixture *f = *state;
	wire_request r[] = {
	    shaped("a1", "db", WIRE_MODE_SHARED, 0),  shaped("b1", "db", WIRE_MODE_SHARED, 0),
	    shaped("c1", "db", WIRE_MODE_SHARED, 0),  shaped("w1", "db", WIRE_MODE_MUTEX, 0),
	    shaped("d1", "db", WIRE_MODE_SHARED, 0),  shaped("a2", "pool", WIRE_MODE_MUTEX, 2),
	    shaped("b2", "pool", WIRE_MODE_MUTEX, 2), shaped("c2", "pool", WIRE_MODE_MUTEX, 2),
	};
	const char *nodes[] = {"A", "B", "C", "W", "D", "A", "B", "C"};
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
		batch(f, T0, nodes[i], &r[i]);
	char before_db[1024], before_pool[1024];
	strcpy(before_db, state_of(f, "db"));
	strcpy(before_pool, state_of(f, "pool"));
	assert_string_equal(before_db, "state db shared holder=A t=1 since=1764000000000 until=1764000030000 "
	                               "meta=- wait=[W,D] holders=[A/1/shared,B/2/shared,C/3/shared] "
	                               "q=[W/mutex,D/shared]");
	assert_string_equal(before_pool, "state pool mutex holder=A t=4 since=1764000000000 "
	                                 "until=1764000030000 meta=- wait=[C] holders=[A/4/mutex,B/5/mutex] "
	                                 "permits=2");
	restart(f);
	assert_string_equal(state_of(f, "db"), before_db);
	assert_string_equal(state_of(f, "pool"), before_pool);
	/* the reloaded table applies the rules: the readers end, the writer gets it */
	wire_request ra = rel("a3", "db", 1, true, NULL), rb = rel("b3", "db", 2, true, NULL);
	wire_request rc = rel("c3", "db", 3, true, NULL);
	batch(f, T0 + 1, "A", &ra);
	batch(f, T0 + 1, "B", &rb);
	assert_string_equal(batch(f, T0 + 1, "C", &rc),
	                    "W: granted w1 db t=6 l=30000 | C: released c3 db t=3");
	wire_request bad = shaped("x1", "pool", WIRE_MODE_MUTEX, 3);
	assert_string_equal(step(f, T0 + 2, "X", &bad), "X: rejected x1 pool mode_conflict");
}

/* ---- a restart in the middle of a streak -------------------------------------------- */

static void test_shapes_restart_mid_streak_keeps_count_caps_and_answers(void **state)
{
	fixture *f = *state;
	wire_request a = capped("a1", "img", 0), b = capped("b1", "img", 3), c = capped("c1", "img", 2);
	wire_request d = capped("d1", "img", 0);
	batch(f, T0, "A", &a);
	batch(f, T0, "B", &b);
	batch(f, T0, "C", &c);
	batch(f, T0, "D", &d);
	wire_request fa = rel("a2", "img", 1, false, NULL);
	fa.error = "no such image";
	assert_string_equal(
	    batch(f, T0 + 10, "A", &fa),
	    "B: granted b1 img t=2 l=30000 prev=A/1/no such image/released | A: released a2 img t=1");
	restart(f);
	assert_string_equal(state_of(f, "img"),
	                    "state img once holder=B t=2 since=1764000000010 until=1764000030010 meta=- "
	                    "wait=[C,D] prev=A/1/no such image/released failures=1 last=A/1/no such "
	                    "image/released@1764000000010");
	/* B's lease runs out: the streak reaches C's cap, D (no cap) is granted */
	assert_string_equal(
	    batch(f, T0 + 30010, NULL, NULL),
	    "C: failed c1 img failures=2 last=B/2/-/lease_expired@1764000030010 | D: granted "
	    "d1 img t=3 l=30000 prev=B/2/-/lease_expired | B: revoked b1 img t=2 lease_expired");
	restart(f);
	/* a late arrival whose cap is reached is failed at once; C's answer is remembered */
	wire_request e = capped("e1", "img", 2), g = capped("g1", "img", 3);
	assert_string_equal(step(f, T0 + 30020, "E", &e),
	                    "E: failed e1 img failures=2 last=B/2/-/lease_expired@1764000030010");
	assert_string_equal(step(f, T0 + 30020, "G", &g), "G: queued g1 img pos=1 holder=D");
	restart(f);
	assert_string_equal(step(f, T0 + 30030, "C", &c),
	                    "C: failed c1 img failures=2 last=B/2/-/lease_expired@1764000030010");
	/* a success clears the streak: the capped waiter skips, done */
	wire_request ok = rel("d2", "img", 3, true, "pulled");
	assert_string_equal(batch(f, T0 + 30040, "D", &ok),
	                    "G: done g1 img by=D/3/pulled@1764000030040 | D: released d2 img t=3");
	restart(f);
	assert_string_equal(state_of(f, "img"), "state img once wait=[] done=D/3/pulled@1764000030040");
}

/* A once resource remembered only by its streak keeps its forget deadline
 * (done_ttl after the last failure) across a restart. */
static void test_shapes_idle_streak_forgotten_on_time_after_restart(void **state)
{
	fixture *f = *state;
	wire_request a = capped("a1", "img", 0), fa = rel("a2", "img", 1, false, NULL);
	batch(f, T0, "A", &a);
	batch(f, T0 + 100, "A", &fa);
	restart(f);
	assert_string_equal(state_of(f, "img"), "state img once wait=[] prev=A/1/-/released failures=1 "
	                                        "last=A/1/-/released@1764000000100");
	assert_int_equal(table_next_deadline(f->t), T0 + 100 + 600000);
	batch(f, T0 + 100 + 599999, NULL, NULL);
	assert_string_equal(state_of(f, "img"), "state img once wait=[] prev=A/1/-/released failures=1 "
	                                        "last=A/1/-/released@1764000000100");
	batch(f, T0 + 100 + 600000, NULL, NULL);
	assert_string_equal(state_of(f, "img"), "absent");
	restart(f);
	assert_string_equal(state_of(f, "img"), "absent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_shapes_version_2_file_migrates_with_its_state),
	    T(test_shapes_version_3_file_migrates_with_its_state),
	    T(test_shapes_version_3_image_restores_migrated),
	    T(test_shapes_holders_permits_and_queue_modes_reload_equal),
	    T(test_shapes_restart_mid_streak_keeps_count_caps_and_answers),
	    T(test_shapes_idle_streak_forgotten_on_time_after_restart),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
