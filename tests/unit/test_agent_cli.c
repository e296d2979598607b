/*
 * test_agent_cli.c - unit tests of libbaton's request state machine
 * (reqstate.c), its pure helpers (request ids, topic filters, broker URIs)
 * and the CLI's option and duration parsing (cli/options.c). No broker, no
 * sleeping: time is passed in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "client_int.h"
#include "reqstate.h"

/* ---- reqstate ------------------------------------------------------------- */

static wire_answer answer(wire_status st, uint64_t token, uint32_t lease_ms)
{
	wire_answer a;

	memset(&a, 0, sizeof a);
	a.status = st;
	a.token = token;
	a.lease_ms = lease_ms;
	return a;
}

static void test_reqstate_immediate_grant_counts_from_first_send(void **state)
{
	reqstate rs;
	wire_answer a = answer(WIRE_ST_GRANTED, 7, 30000);
	unsigned fx;

	(void)state;
	bt_reqstate_init(&rs, false, 1000);
	bt_reqstate_sent(&rs, 1100);
	bt_reqstate_sent(&rs, 5000); /* a re-send does not move the base */
	fx = bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &a, 1200);
	assert_true(fx & REQ_FX_SETTLED);
	assert_int_equal(rs.phase, BATON_PHASE_GRANTED);
	assert_int_equal(rs.token, 7);
	/* valid for the lease less the drift margin (1% + 100 ms), renewed every quarter */
	assert_int_equal(rs.deadline_ms, 1100 + 30000 - 400);
	assert_int_equal(rs.renew_at_ms, 1100 + 29600 / 4);
	assert_int_equal(bt_reqstate_next_tick(&rs), 1100 + 29600 / 4);
}

static void test_reqstate_disconnect_while_granted_loses_and_gives_back_later(void **state)
{
	reqstate rs;
	wire_answer g = answer(WIRE_ST_GRANTED, 7, 30000);
	unsigned fx;

	(void)state;
	bt_reqstate_init(&rs, false, 1000);
	bt_reqstate_sent(&rs, 1000);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 1100);
	fx = bt_reqstate_disconnected(&rs);
	assert_true(fx & REQ_FX_LOST);
	/* not given back yet: the holder may still be stopping its work */
	assert_false(fx & REQ_FX_DROP);
	assert_int_equal(rs.phase, BATON_PHASE_LOST);
	assert_int_equal(rs.lost_err, BATON_E_NOT_CONNECTED);
	assert_int_equal(rs.drop_token, 0);
	assert_int_equal(rs.held_token, 7);
	assert_int_equal(bt_reqstate_disconnected(&rs), 0); /* once */
}

static void test_reqstate_disconnect_while_queued_changes_nothing(void **state)
{
	reqstate rs;
	wire_answer q = answer(WIRE_ST_QUEUED, 0, 0);

	(void)state;
	bt_reqstate_init(&rs, false, 1000);
	bt_reqstate_sent(&rs, 1000);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &q, 1100);
	assert_int_equal(bt_reqstate_disconnected(&rs), 0);
	assert_int_equal(rs.phase, BATON_PHASE_QUEUED);
	assert_int_equal(rs.drop_token, 0);
}

static void test_reqstate_new_grant_after_loss_is_given_back(void **state)
{
	reqstate rs;
	wire_answer g = answer(WIRE_ST_GRANTED, 7, 30000), rv = answer(WIRE_ST_REVOKED, 7, 0),
	            g2 = answer(WIRE_ST_GRANTED, 12, 30000);
	unsigned fx;

	(void)state;
	bt_reqstate_init(&rs, false, 1000);
	bt_reqstate_sent(&rs, 1000);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 1100);
	fx = bt_reqstate_answer(&rs, REQ_K_NONE, 0, &rv, 1200);
	assert_true(fx & REQ_FX_LOST);
	/* the re-sent acquire was granted afresh after the revocation */
	fx = bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g2, 1300);
	assert_true(fx & REQ_FX_DROP);
	assert_false(fx & REQ_FX_SETTLED);
	assert_int_equal(rs.drop_token, 12);
	assert_int_equal(rs.token, 7);
	/* a duplicate of the first grant is not a new holding */
	rs.drop_token = 0;
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 1400), 0);
}

static void test_reqstate_other_grant_while_granted_means_lost(void **state)
{
	reqstate rs;
	wire_answer g = answer(WIRE_ST_GRANTED, 7, 30000), g2 = answer(WIRE_ST_GRANTED, 9, 30000);
	unsigned fx;

	(void)state;
	bt_reqstate_init(&rs, false, 1000);
	bt_reqstate_sent(&rs, 1000);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 1100);
	fx = bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g2, 1200);
	assert_true(fx & REQ_FX_LOST);
	assert_true(fx & REQ_FX_DROP);
	assert_int_equal(rs.phase, BATON_PHASE_LOST);
	assert_int_equal(rs.drop_token, 9);
}

static void test_reqstate_queued_then_granted_renews_at_once(void **state)
{
	reqstate rs;
	wire_answer q = answer(WIRE_ST_QUEUED, 0, 0), g = answer(WIRE_ST_GRANTED, 9, 30000), r;
	unsigned fx;

	(void)state;
	q.position = 2;
	q.holder = "other";
	bt_reqstate_init(&rs, false, 0);
	bt_reqstate_sent(&rs, 10);
	fx = bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &q, 20);
	assert_int_equal(fx, REQ_FX_CHANGED);
	assert_int_equal(rs.phase, BATON_PHASE_QUEUED);
	assert_int_equal(rs.position, 2);
	assert_string_equal(rs.holder, "other");
	fx = bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 90000);
	/* not usable yet: how recently the broker heard us is unknown */
	assert_int_equal(fx, REQ_FX_CHANGED);
	assert_false(rs.settled);
	assert_false(rs.confirmed);
	assert_int_equal(rs.deadline_ms, 90000 - 3000 + 29600); /* a tenth of the lease of margin */
	fx = bt_reqstate_tick(&rs, 90000);
	assert_int_equal(fx, REQ_FX_RENEW);
	assert_true(rs.renew_pending);
	assert_int_equal(rs.renew_seq, 1);
	r = answer(WIRE_ST_RENEWED, 9, 30000);
	fx = bt_reqstate_answer(&rs, REQ_K_RENEW, 1, &r, 90005);
	assert_true(fx & REQ_FX_SETTLED);
	assert_true(rs.confirmed);
	assert_int_equal(rs.deadline_ms, 90000 + 29600);
}

static void test_reqstate_renewed_moves_deadline_from_send_time(void **state)
{
	reqstate rs;
	wire_answer g = answer(WIRE_ST_GRANTED, 3, 3000), r = answer(WIRE_ST_RENEWED, 3, 3000);

	(void)state;
	bt_reqstate_init(&rs, false, 0);
	bt_reqstate_sent(&rs, 0);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 5);
	assert_int_equal(bt_reqstate_tick(&rs, 716), 0);
	assert_int_equal(bt_reqstate_tick(&rs, 717), REQ_FX_RENEW); /* a quarter of 3000 - 130 */
	/* A stale renew number changes nothing. */
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_RENEW, 0, &r, 1010), 0);
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_RENEW, 1, &r, 1050), REQ_FX_CHANGED);
	assert_false(rs.renew_pending);
	assert_int_equal(rs.deadline_ms, 717 + 2870);
	assert_int_equal(rs.renew_at_ms, 717 + 717);
}

static void test_reqstate_unanswered_renew_resent_then_lost_at_deadline(void **state)
{
	reqstate rs;
	wire_answer g = answer(WIRE_ST_GRANTED, 3, 3000);

	(void)state;
	bt_reqstate_init(&rs, false, 0);
	bt_reqstate_sent(&rs, 0);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 1);
	assert_int_equal(bt_reqstate_tick(&rs, 717), REQ_FX_RENEW);
	assert_int_equal(bt_reqstate_tick(&rs, 1434), REQ_FX_RENEW);
	assert_int_equal(rs.renew_seq, 1); /* the same id again */
	assert_true(bt_reqstate_outstanding(&rs, REQ_K_RENEW));
	assert_int_equal(bt_reqstate_tick(&rs, 2869), REQ_FX_RENEW);
	assert_true(bt_reqstate_tick(&rs, 2870) & REQ_FX_LOST);
	assert_int_equal(rs.phase, BATON_PHASE_LOST);
	assert_int_equal(rs.lost_err, BATON_E_TIMEOUT);
	assert_int_equal(bt_reqstate_release(&rs), BATON_E_LOST);
	/* Whatever comes later does not revive it. */
	g = answer(WIRE_ST_RENEWED, 3, 3000);
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_RENEW, 1, &g, 3001), 0);
}

static void test_reqstate_revoked_or_refused_renew_loses(void **state)
{
	reqstate rs;
	wire_answer g = answer(WIRE_ST_GRANTED, 3, 30000), rv = answer(WIRE_ST_REVOKED, 3, 0);
	wire_answer other = answer(WIRE_ST_REVOKED, 2, 0), rej = answer(WIRE_ST_REJECTED, 0, 0);

	(void)state;
	bt_reqstate_init(&rs, false, 0);
	bt_reqstate_sent(&rs, 0);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 1);
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_NONE, 0, &other, 2), 0);
	assert_true(bt_reqstate_answer(&rs, REQ_K_NONE, 0, &rv, 3) & REQ_FX_LOST);
	assert_int_equal(rs.lost_err, BATON_E_LOST);

	bt_reqstate_init(&rs, false, 0);
	bt_reqstate_sent(&rs, 0);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 1);
	bt_reqstate_tick(&rs, 10000);
	rej.code = BATON_E_NOT_HOLDER;
	assert_true(bt_reqstate_answer(&rs, REQ_K_RENEW, 1, &rej, 10001) & REQ_FX_LOST);
	assert_int_equal(rs.lost_err, BATON_E_NOT_HOLDER);
}

static void test_reqstate_window_is_shorter_of_lease_and_will(void **state)
{
	reqstate rs;
	wire_answer g = answer(WIRE_ST_GRANTED, 3, 30000), r = answer(WIRE_ST_RENEWED, 3, 30000);

	(void)state;
	assert_int_equal(bt_reqstate_window(30000, 0), 29600);
	assert_int_equal(bt_reqstate_window(30000, 15000), 15000 - 250);
	assert_int_equal(bt_reqstate_window(3000, 15000), 2870);
	/* keepalive 10 s: the broker may fire our Will 15 s after our last
	 * packet, so a 30 s lease is valid for 15 s less the margin only */
	bt_reqstate_init(&rs, false, 0);
	rs.will_ms = 15000;
	bt_reqstate_sent(&rs, 100);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 110);
	assert_true(rs.settled);
	assert_int_equal(rs.deadline_ms, 100 + 14750);
	assert_int_equal(rs.renew_at_ms, 100 + 14750 / 4);
	assert_int_equal(bt_reqstate_tick(&rs, 100 + 3687), REQ_FX_RENEW);
	assert_int_equal(rs.renew_sent_ms, 3787);
	/* a renewal never answered (a partition): lost before the Will can fire */
	assert_false(bt_reqstate_tick(&rs, 100 + 14749) & REQ_FX_LOST);
	assert_true(bt_reqstate_tick(&rs, 100 + 14750) & REQ_FX_LOST);
	assert_true(100 + 14750 < 100 + 15000);
	/* answered: valid from its send */
	bt_reqstate_init(&rs, false, 0);
	rs.will_ms = 15000;
	bt_reqstate_sent(&rs, 100);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 110);
	bt_reqstate_tick(&rs, 3787);
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_RENEW, 1, &r, 9000), REQ_FX_CHANGED);
	assert_int_equal(rs.deadline_ms, 3787 + 14750);
}

static void test_reqstate_revoked_acquire_restarts_or_is_lost(void **state)
{
	reqstate rs;
	wire_answer q = answer(WIRE_ST_QUEUED, 0, 0), rv = answer(WIRE_ST_REVOKED, 8, 0);
	unsigned fx;

	(void)state;
	bt_reqstate_init(&rs, false, 0);
	bt_reqstate_sent(&rs, 0);
	/* answered `revoked` while we wait: that request is over */
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &rv, 10), REQ_FX_RESTART);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &q, 20);
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &rv, 30), REQ_FX_RESTART);
	/* a revocation for some other request changes nothing */
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_NONE, 0, &rv, 40), 0);
	/* no wait left: the acquire settles as lost */
	fx = bt_reqstate_revoked_final(&rs);
	assert_true(fx & REQ_FX_SETTLED);
	assert_true(fx & REQ_FX_LOST);
	assert_true(rs.lost);
	assert_int_equal(rs.phase, BATON_PHASE_LOST);
	assert_int_equal(rs.lost_err, BATON_E_LOST);
}

static void test_reqstate_release_flow(void **state)
{
	reqstate rs;
	wire_answer g = answer(WIRE_ST_GRANTED, 4, 30000), r = answer(WIRE_ST_RELEASED, 4, 0);

	(void)state;
	bt_reqstate_init(&rs, false, 0);
	assert_int_equal(bt_reqstate_release(&rs), BATON_E_INVAL); /* not held yet */
	bt_reqstate_sent(&rs, 0);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 1);
	assert_int_equal(bt_reqstate_release(&rs), BATON_OK);
	assert_true(bt_reqstate_outstanding(&rs, REQ_K_RELEASE));
	assert_false(bt_reqstate_outstanding(&rs, REQ_K_ACQUIRE));
	assert_int_equal(bt_reqstate_tick(&rs, 20000), 0); /* no renewals while releasing */
	assert_true(bt_reqstate_answer(&rs, REQ_K_RELEASE, 0, &r, 5) & REQ_FX_FINISHED);
	assert_int_equal(rs.phase, BATON_PHASE_RELEASED);
	assert_int_equal(rs.finish_err, BATON_OK);
	assert_true(bt_reqstate_final(&rs));
}

static void test_reqstate_final_answers_settle(void **state)
{
	reqstate rs;
	wire_answer d = answer(WIRE_ST_DONE, 0, 0), b = answer(WIRE_ST_BUSY, 0, 0),
	            j = answer(WIRE_ST_REJECTED, 0, 0);

	(void)state;
	bt_reqstate_init(&rs, false, 0);
	assert_true(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &d, 1) & REQ_FX_SETTLED);
	assert_int_equal(rs.phase, BATON_PHASE_DONE);
	bt_reqstate_init(&rs, false, 0);
	b.holder = "h1";
	assert_true(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &b, 1) & REQ_FX_SETTLED);
	assert_int_equal(rs.phase, BATON_PHASE_BUSY);
	assert_string_equal(rs.holder, "h1");
	bt_reqstate_init(&rs, false, 0);
	assert_true(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &j, 1) & REQ_FX_SETTLED);
	assert_int_equal(rs.phase, BATON_PHASE_REJECTED);
	/* A duplicate after settling is ignored. */
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &d, 2), 0);
	/* failed (second edition) is final too, also while queued */
	wire_answer q = answer(WIRE_ST_QUEUED, 0, 0), f = answer(WIRE_ST_FAILED, 0, 0);
	q.position = 2;
	bt_reqstate_init(&rs, false, 0);
	assert_true(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &q, 1) & REQ_FX_CHANGED);
	assert_true(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &f, 2) & REQ_FX_SETTLED);
	assert_int_equal(rs.phase, BATON_PHASE_FAILED);
	assert_true(bt_reqstate_final(&rs));
	assert_string_equal(baton_phase_name(BATON_PHASE_FAILED), "failed");
}

static void test_reqstate_cancel_flow(void **state)
{
	reqstate rs;
	wire_answer q = answer(WIRE_ST_QUEUED, 0, 0), g = answer(WIRE_ST_GRANTED, 5, 30000);
	wire_answer c = answer(WIRE_ST_CANCELLED, 0, 0);

	(void)state;
	bt_reqstate_init(&rs, false, 0);
	bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &q, 1);
	assert_int_equal(bt_reqstate_cancel(&rs), BATON_OK);
	assert_true(bt_reqstate_outstanding(&rs, REQ_K_CANCEL));
	assert_false(bt_reqstate_outstanding(&rs, REQ_K_ACQUIRE));
	/* A grant racing the cancel is noted, not taken. */
	assert_int_equal(bt_reqstate_answer(&rs, REQ_K_ACQUIRE, 0, &g, 2), 0);
	assert_int_equal(rs.phase, BATON_PHASE_CANCELLING);
	assert_true(bt_reqstate_answer(&rs, REQ_K_CANCEL, 0, &c, 3) & REQ_FX_FINISHED);
	assert_int_equal(rs.phase, BATON_PHASE_CANCELLED);
	assert_int_equal(bt_reqstate_cancel(&rs), BATON_E_INVAL);
}

static void test_reqstate_reset_flow(void **state)
{
	reqstate rs;
	wire_answer r = answer(WIRE_ST_RESET, 0, 0);

	(void)state;
	bt_reqstate_init(&rs, true, 0);
	assert_int_equal(rs.phase, BATON_PHASE_RESETTING);
	assert_true(bt_reqstate_outstanding(&rs, REQ_K_RESET));
	assert_true(bt_reqstate_answer(&rs, REQ_K_RESET, 0, &r, 1) & REQ_FX_FINISHED);
	assert_int_equal(rs.phase, BATON_PHASE_RESET);
}

static void test_reqstate_ids_roundtrip(void **state)
{
	char id[NAMES_ID_MAX + 1];
	unsigned seq = 0;

	(void)state;
	assert_int_equal(bt_reqstate_id(id, sizeof id, "12-00ff", REQ_K_ACQUIRE, 0), BATON_OK);
	assert_string_equal(id, "12-00ff.a");
	assert_true(names_id_valid(id, strlen(id)));
	assert_int_equal(bt_reqstate_id_parse(id, "12-00ff", &seq), REQ_K_ACQUIRE);
	assert_int_equal(bt_reqstate_id(id, sizeof id, "12-00ff", REQ_K_RENEW, 42), BATON_OK);
	assert_string_equal(id, "12-00ff.w42");
	assert_int_equal(bt_reqstate_id_parse(id, "12-00ff", &seq), REQ_K_RENEW);
	assert_int_equal(seq, 42);
	assert_int_equal(bt_reqstate_id_parse("12-00ff.r", "12-00ff", &seq), REQ_K_RELEASE);
	assert_int_equal(bt_reqstate_id_parse("12-00ff.c", "12-00ff", &seq), REQ_K_CANCEL);
	assert_int_equal(bt_reqstate_id_parse("12-00ff.x", "12-00ff", &seq), REQ_K_RESET);
	assert_int_equal(bt_reqstate_id_parse("1-00ff.a", "12-00ff", &seq), REQ_K_NONE);
	assert_int_equal(bt_reqstate_id_parse("12-00ff.az", "12-00ff", &seq), REQ_K_NONE);
	assert_int_equal(bt_reqstate_id_parse("12-00ff.w", "12-00ff", &seq), REQ_K_NONE);
	assert_int_equal(bt_reqstate_id_parse("12-00ff.w1x", "12-00ff", &seq), REQ_K_NONE);
	assert_int_equal(bt_reqstate_id_parse(NULL, "12-00ff", &seq), REQ_K_NONE);
}

/* ---- helpers ---------------------------------------------------------------- */

static void test_mqttnet_tls_reason_picks_openssl_reason(void **state)
{
	char buf[160];
	const char *l3 = "C0E67119777F0000:error:0A000086:SSL routines:tls_post_process_server_certificate:"
	                 "certificate verify failed:../ssl/statem/statem_clnt.c:1889:\n";
	const char *l1 = "140:error:14090086:SSL routines::certificate verify failed:s3_clnt.c:1264:";

	(void)state;
	mqttnet_tls_reason(l3, strlen(l3), buf, sizeof buf);
	assert_string_equal(buf, "certificate verify failed");
	mqttnet_tls_reason(l1, strlen(l1), buf, sizeof buf);
	assert_string_equal(buf, "certificate verify failed");
	mqttnet_tls_reason("odd text", 8, buf, sizeof buf);
	assert_string_equal(buf, "odd text");
}

static void test_mqttnet_split_uri_forms(void **state)
{
	char host[64], port[16];
	bool tls;

	(void)state;
	assert_int_equal(
	    mqttnet_split_uri("tcp://127.0.0.1:18830", host, sizeof host, port, sizeof port, &tls), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_string_equal(port, "18830");
	assert_false(tls);
	assert_int_equal(
	    mqttnet_split_uri("ssl://broker.example", host, sizeof host, port, sizeof port, &tls), 0);
	assert_string_equal(port, "8883");
	assert_true(tls);
	assert_int_equal(mqttnet_split_uri("mqtt://[::1]:1884", host, sizeof host, port, sizeof port, &tls),
	                 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "1884");
	assert_int_equal(mqttnet_split_uri("localhost", host, sizeof host, port, sizeof port, &tls), 0);
	assert_string_equal(port, "1883");
	assert_int_not_equal(mqttnet_split_uri("http://x:1", host, sizeof host, port, sizeof port, &tls), 0);
	assert_int_not_equal(mqttnet_split_uri("tcp://:1883", host, sizeof host, port, sizeof port, &tls), 0);
	assert_int_not_equal(mqttnet_split_uri("tcp://h:99999", host, sizeof host, port, sizeof port, &tls),
	                     0);
	assert_int_not_equal(mqttnet_split_uri("tcp://h:x", host, sizeof host, port, sizeof port, &tls), 0);
}

/* ---- CLI options -------------------------------------------------------------- */

typedef struct test_ctx {
	const char *resource;
	int flags;
} test_ctx;

static int test_on_opt(void *ctx, int id, const char *arg)
{
	test_ctx *t = ctx;

	if (id == 256)
		t->resource = arg;
	else if (id == 257)
		t->flags++;
	else
		return CLI_EX_USAGE;
	return 0;
}

static const cli_opt test_opts[] = {
    CLI_OPT("resource", 'r', 256, "NAME", "the resource"),
    CLI_OPT("flag", 0, 257, NULL, "a flag"),
    CLI_OPT_END,
};

static const cli_command test_cmd = {"test",    "[OPTIONS]", "A test.", "baton test -r x",
                                     test_opts, test_on_opt};

static int parse(int argc, char **argv, cli_common *com, test_ctx *t, int *first)
{
	FILE *null = fopen("/dev/null", "w");
	int rc;

	assert_non_null(null);
	rc = cli_parse(argc, argv, &test_cmd, com, t, first, null, null);
	fclose(null);
	return rc;
}

static void test_cli_parse_flags_win_over_env(void **state)
{
	char *argv[] = {"test", "--broker", "tcp://h:1", "-r", "res/a", "--flag",
	                "-q",   "--",       "cmd",       "x",  NULL};
	cli_common com;
	test_ctx t = {0};
	int first = 0;

	(void)state;
	setenv("BATON_BROKER", "tcp://env:2", 1);
	setenv("BATON_PREFIX", "env/v1", 1);
	setenv("BATON_NODE", "env-node", 1);
	assert_int_equal(parse(10, argv, &com, &t, &first), 0);
	assert_string_equal(com.broker, "tcp://h:1");
	assert_string_equal(com.prefix, "env/v1");
	assert_string_equal(com.node, "env-node");
	assert_string_equal(t.resource, "res/a");
	assert_int_equal(t.flags, 1);
	assert_int_equal(com.verbosity, -1);
	assert_int_equal(first, 8);
	assert_string_equal(argv[first], "cmd");
	unsetenv("BATON_BROKER");
	unsetenv("BATON_PREFIX");
	unsetenv("BATON_NODE");
}

static void test_cli_parse_defaults_and_node_sanitised(void **state)
{
	char *argv[] = {"test", "operand", NULL};
	cli_common com;
	test_ctx t = {0};
	int first = 0;

	(void)state;
	unsetenv("BATON_BROKER");
	unsetenv("BATON_PREFIX");
	unsetenv("BATON_NODE");
	assert_int_equal(parse(2, argv, &com, &t, &first), 0);
	assert_string_equal(com.broker, BATON_BROKER_DEFAULT);
	assert_string_equal(com.prefix, BATON_PREFIX_DEFAULT);
	assert_true(names_node_valid(com.node, strlen(com.node)));
	assert_non_null(strchr(com.node, '-'));
	assert_int_equal(first, 1);
}

static void test_cli_parse_usage_errors(void **state)
{
	char *unknown[] = {"test", "--nope", NULL};
	char *missing[] = {"test", "--resource", NULL};
	char *help[] = {"test", "--help", NULL};
	char *version[] = {"test", "--version", NULL};
	cli_common com;
	test_ctx t = {0};
	int first = 0;

	(void)state;
	assert_int_equal(parse(2, unknown, &com, &t, &first), CLI_EX_USAGE);
	assert_int_equal(parse(2, missing, &com, &t, &first), CLI_EX_USAGE);
	assert_int_equal(parse(2, help, &com, &t, &first), CLI_HELP);
	assert_int_equal(parse(2, version, &com, &t, &first), CLI_HELP);
}

static void test_cli_duration_opt_bounds_and_bare_numbers(void **state)
{
	int64_t ms = 42;
	FILE *saved = stderr;

	(void)state;
	stderr = fopen("/dev/null", "w"); /* the refusals print there */
	assert_non_null(stderr);
	assert_int_equal(cli_duration_opt("run", "lease", "30s", 1000, 3600000, &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(cli_duration_opt("run", "lease", "30", 1000, 3600000, &ms), CLI_EX_USAGE);
	assert_int_equal(cli_duration_opt("run", "lease", "500ms", 1000, 3600000, &ms), CLI_EX_USAGE);
	assert_int_equal(cli_duration_opt("run", "lease", "2h", 1000, 3600000, &ms), CLI_EX_USAGE);
	assert_int_equal(ms, 30000);
	assert_int_equal(cli_duration_opt("run", "wait", "0", 0, INT64_MAX, &ms), 0);
	assert_int_equal(ms, 0);
	fclose(stderr);
	stderr = saved;
}

static void test_cli_count_opt_bounds(void **state)
{
	uint32_t n = 7;

	(void)state;
	assert_int_equal(cli_count_opt("run", "permits", "2", 1, 1024, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cli_count_opt("run", "permits", "1024", 1, 1024, &n), 0);
	assert_int_equal(cli_count_opt("run", "permits", "1025", 1, 1024, &n), CLI_EX_USAGE);
	assert_int_equal(cli_count_opt("run", "permits", "0", 1, 1024, &n), CLI_EX_USAGE);
	assert_int_equal(cli_count_opt("run", "permits", "-3", 1, 1024, &n), CLI_EX_USAGE);
	assert_int_equal(cli_count_opt("run", "permits", "2x", 1, 1024, &n), CLI_EX_USAGE);
	assert_int_equal(cli_count_opt("run", "permits", "", 1, 1024, &n), CLI_EX_USAGE);
	assert_int_equal(cli_count_opt("run", "max-failures", "99999999999999999999", 1, 1000, &n),
	                 CLI_EX_USAGE);
	assert_int_equal(n, 1024);
}

static void test_cli_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(cli_exit_for(BATON_OK), 0);
	assert_int_equal(cli_exit_for(BATON_E_MODE_CONFLICT), CLI_EX_REJECTED);
	assert_int_equal(cli_exit_for(BATON_E_BAD_REQUEST), CLI_EX_REJECTED);
	assert_int_equal(cli_exit_for(BATON_E_BROKER), CLI_EX_UNAVAILABLE);
	assert_int_equal(cli_exit_for(BATON_E_LOST), CLI_EX_LOST);
	assert_int_equal(cli_exit_for(BATON_E_BUSY), CLI_EX_TEMPFAIL);
}

/* ---- the public API without a broker ------------------------------------------ */

static void test_client_new_rejects_bad_options(void **state)
{
	baton_options o;
	baton_client *c = NULL;
	char msg[128] = "";

	(void)state;
	baton_options_init(&o);
	assert_int_equal(baton_client_new(&o, &c, msg, sizeof msg), BATON_E_INVAL);
	assert_null(c);
	assert_non_null(strstr(msg, "node"));
	o.node = "bad node!";
	assert_int_equal(baton_client_new(&o, &c, msg, sizeof msg), BATON_E_INVAL);
	o.node = "n1";
	o.prefix = "bad/+/prefix";
	assert_int_equal(baton_client_new(&o, &c, msg, sizeof msg), BATON_E_INVAL);
	o.prefix = NULL;
	o.broker = "http://x";
	assert_int_equal(baton_client_new(&o, &c, msg, sizeof msg), BATON_E_INVAL);
	assert_null(c);
}

static void test_client_offline_acquire_waits_and_frees(void **state)
{
	baton_options o;
	baton_acquire_options ao;
	baton_client *c = NULL;
	baton_lock *l = NULL;
	baton_lock_info info;
	char msg[128];

	(void)state;
	baton_options_init(&o);
	o.node = "unit-node";
	o.broker = "tcp://127.0.0.1:1"; /* never connected in this test */
	assert_int_equal(baton_client_new(&o, &c, msg, sizeof msg), BATON_OK);
	baton_acquire_options_init(&ao);
	ao.resource = "bad//name";
	assert_int_equal(baton_acquire(c, &ao, &l), BATON_E_INVAL);
	assert_null(l);
	ao.resource = "images/nginx:1.25";
	ao.lease_ms = 10;
	assert_int_equal(baton_acquire(c, &ao, &l), BATON_E_INVAL);
	ao.lease_ms = 0;
	ao.mode = BATON_MODE_SHARED;
	ao.permits = 2; /* a semaphore is mutex */
	assert_int_equal(baton_acquire(c, &ao, &l), BATON_E_INVAL);
	ao.mode = BATON_MODE_MUTEX;
	ao.permits = 1025;
	assert_int_equal(baton_acquire(c, &ao, &l), BATON_E_INVAL);
	ao.permits = 0;
	ao.max_failures = 3; /* once only */
	assert_int_equal(baton_acquire(c, &ao, &l), BATON_E_INVAL);
	ao.mode = BATON_MODE_ONCE;
	ao.max_failures = 1001;
	assert_int_equal(baton_acquire(c, &ao, &l), BATON_E_INVAL);
	ao.max_failures = 0;
	assert_int_equal(baton_acquire(c, &ao, &l), BATON_OK);
	assert_non_null(l);
	assert_int_equal(baton_lock_wait(l, 0, NULL), BATON_E_TIMEOUT);
	assert_int_equal(baton_lock_wait(l, 20, NULL), BATON_E_TIMEOUT);
	baton_lock_get_info(l, &info);
	assert_int_equal(info.phase, BATON_PHASE_SENT);
	assert_false(baton_lock_lost(l));
	assert_int_equal(baton_release(l, &(baton_release_options){.success = true}, 0), BATON_E_INVAL);
	baton_client_last_error(c, msg, sizeof msg);
	assert_non_null(strstr(msg, "not held"));
	assert_int_equal(baton_cancel(l, 0), BATON_OK);
	assert_int_equal(baton_lock_wait(l, 0, NULL), BATON_E_CANCELLED);
	baton_lock_free(l);
	assert_int_equal(baton_reset(c, "r", 10), BATON_E_TIMEOUT);
	baton_client_free(c);
}

/* Global options before the command (issue 17): how many words each takes. */
static void test_cli_common_arity_knows_the_common_options(void **state)
{
	(void)state;
	assert_int_equal(cli_common_arity("--broker"), 1);
	assert_int_equal(cli_common_arity("--broker=tcp://h:1"), 0);
	assert_int_equal(cli_common_arity("--password-file"), 1);
	assert_int_equal(cli_common_arity("-v"), 0);
	assert_int_equal(cli_common_arity("-q"), 0);
	assert_int_equal(cli_common_arity("--version"), 0);
	assert_int_equal(cli_common_arity("--brokers"), -1);
	assert_int_equal(cli_common_arity("--resource"), -1); /* a run option, not a common one */
	assert_int_equal(cli_common_arity("-x"), -1);
	assert_int_equal(cli_common_arity("-vq"), -1);
	assert_int_equal(cli_common_arity("status"), -1);
	assert_int_equal(cli_common_arity("-"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reqstate_immediate_grant_counts_from_first_send),
	    cmocka_unit_test(test_reqstate_queued_then_granted_renews_at_once),
	    cmocka_unit_test(test_reqstate_disconnect_while_granted_loses_and_gives_back_later),
	    cmocka_unit_test(test_reqstate_window_is_shorter_of_lease_and_will),
	    cmocka_unit_test(test_reqstate_revoked_acquire_restarts_or_is_lost),
	    cmocka_unit_test(test_reqstate_disconnect_while_queued_changes_nothing),
	    cmocka_unit_test(test_reqstate_new_grant_after_loss_is_given_back),
	    cmocka_unit_test(test_reqstate_other_grant_while_granted_means_lost),
	    cmocka_unit_test(test_reqstate_renewed_moves_deadline_from_send_time),
	    cmocka_unit_test(test_reqstate_unanswered_renew_resent_then_lost_at_deadline),
	    cmocka_unit_test(test_reqstate_revoked_or_refused_renew_loses),
	    cmocka_unit_test(test_reqstate_release_flow),
	    cmocka_unit_test(test_reqstate_final_answers_settle),
	    cmocka_unit_test(test_reqstate_cancel_flow),
	    cmocka_unit_test(test_reqstate_reset_flow),
	    cmocka_unit_test(test_reqstate_ids_roundtrip),
	    cmocka_unit_test(test_mqttnet_split_uri_forms),
	    cmocka_unit_test(test_mqttnet_tls_reason_picks_openssl_reason),
	    cmocka_unit_test(test_cli_parse_flags_win_over_env),
	    cmocka_unit_test(test_cli_parse_defaults_and_node_sanitised),
	    cmocka_unit_test(test_cli_parse_usage_errors),
	    cmocka_unit_test(test_cli_duration_opt_bounds_and_bare_numbers),
	    cmocka_unit_test(test_cli_count_opt_bounds),
	    cmocka_unit_test(test_cli_exit_codes),
	    cmocka_unit_test(test_cli_common_arity_knows_the_common_options),
	    cmocka_unit_test(test_client_new_rejects_bad_options),
	    cmocka_unit_test(test_client_offline_acquire_waits_and_frees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
