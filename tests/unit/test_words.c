/*
 * test_words.c - errors in words: every CONNACK refusal, TLS, unreachable,
 * a lost connection, the duplicate node id rule, and every way a lock is
 * lost has a sentence that names what to check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqttwords.h"
#include "words.h"

static const mqttwords_who who = {"tcp://127.0.0.1:1883", "n1", "alice", "--node", false};

static void test_connack_every_code_has_words(void **state)
{
	(void)state;
	for (int code = 1; code <= 5; code++) {
		char buf[512];
		const char *s = mqttwords_connack(code);
		assert_non_null(s);
		mqttwords_connect(buf, sizeof buf, &who, code, "CONNACK return code", NULL);
		assert_non_null(strstr(buf, s));
		assert_non_null(strstr(buf, "; check") != NULL ? buf : strstr(buf, "; try"));
		assert_null(strstr(buf, "CONNACK return code")); /* paho's words are not ours */
	}
	assert_null(mqttwords_connack(0));
	assert_null(mqttwords_connack(6));
	assert_null(mqttwords_connack(-1));
}

static void test_connack_5_names_user_and_flags(void **state)
{
	(void)state;
	char buf[512];
	mqttwords_connect(buf, sizeof buf, &who, 5, "CONNACK return code", NULL);
	assert_true(strncmp(buf, "not authorized", 14) == 0);
	assert_non_null(strstr(buf, "--username 'alice'"));
	assert_non_null(strstr(buf, "--password-file"));
	assert_non_null(strstr(buf, "--node 'n1'"));
	mqttwords_who anon = who;
	anon.username = NULL;
	mqttwords_connect(buf, sizeof buf, &anon, 5, NULL, NULL);
	assert_non_null(strstr(buf, "give --username and --password-file"));
	mqttwords_connect(buf, sizeof buf, &who, 2, NULL, NULL);
	assert_non_null(strstr(buf, "identifier rejected"));
	assert_non_null(strstr(buf, "--node 'n1'"));
}

static void test_tls_and_network_words(void **state)
{
	(void)state;
	char buf[512];
	mqttwords_connect(buf, sizeof buf, &who, -1, "TCP/TLS connect failure", "certificate verify failed");
	assert_non_null(
	    strstr(buf, "TLS handshake with tcp://127.0.0.1:1883 failed: certificate verify failed"));
	assert_non_null(strstr(buf, "--cafile"));
	mqttwords_connect(buf, sizeof buf, &who, -1, "TCP/TLS connect failure", "");
	assert_non_null(strstr(buf, "cannot reach the broker at tcp://127.0.0.1:1883"));
	assert_non_null(strstr(buf, "check --broker"));
	mqttwords_connect(buf, sizeof buf, &who, -3, "MQTTProtocol_closeSession", NULL);
	assert_non_null(strstr(buf, "closed the connection before accepting it"));
	mqttwords_who tls = who;
	tls.tls = true;
	mqttwords_connect(buf, sizeof buf, &tls, -3, "MQTTProtocol_closeSession", NULL);
	assert_non_null(strstr(buf, "TLS handshake"));
	char tiny[16];
	mqttwords_connect(tiny, sizeof tiny, &who, 5, NULL, NULL); /* cut, still a string */
	assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

static void test_wrong_host_words_name_host_names_and_flag(void **state)
{
	(void)state;
	const mqttwords_who tls = {"ssl://10.0.0.5:8883", "n1", NULL, "--node", true};
	char buf[512];
	mqttwords_wrong_host(buf, sizeof buf, &tls, "10.0.0.5", "DNS:broker.example, IP:10.0.0.6");
	assert_non_null(strstr(buf, "TLS handshake with ssl://10.0.0.5:8883 failed: the broker's certificate "
	                            "does not name 10.0.0.5 (it names DNS:broker.example, IP:10.0.0.6)"));
	assert_non_null(strstr(buf, "--broker"));
	mqttwords_wrong_host(buf, 40, &tls, "10.0.0.5", "DNS:broker.example");
	assert_int_equal(strlen(buf), 39); /* cut, NUL-terminated */
}

static void test_lost_connection_words(void **state)
{
	(void)state;
	char buf[512];
	mqttwords_lost(buf, sizeof buf, &who, NULL);
	assert_non_null(
	    strstr(buf, "connection to the broker at tcp://127.0.0.1:1883 lost: the broker closed"));
	assert_null(strstr(buf, "(?)"));
	mqttwords_lost(buf, sizeof buf, &who, "socket error");
	assert_non_null(strstr(buf, "lost: socket error"));
	mqttwords_duplicate(buf, sizeof buf, &who);
	assert_non_null(strstr(buf, "same node id 'n1'"));
	assert_non_null(strstr(buf, "--node"));
}

/* The ACL refusal names the user, the node and the topic; or says anonymous. */
static void test_acl_refused_words(void **state)
{
	(void)state;
	char buf[512];
	mqttwords_who anon = who;
	mqttwords_acl_refused(buf, sizeof buf, &who, "baton/v1/nodes/n1");
	assert_non_null(strstr(buf, "not authorized: user alice may not act as node n1"));
	assert_non_null(strstr(buf, "presence on baton/v1/nodes/n1"));
	anon.username = NULL;
	mqttwords_acl_refused(buf, sizeof buf, &anon, "baton/v1/nodes/n1");
	assert_non_null(strstr(buf, "anonymous client act as node n1"));
}

/* Two short-lived connections in a row, with no failed connect between
 * them, is the takeover signature; a long one or a failed attempt resets. */
static void test_duplicate_rule(void **state)
{
	(void)state;
	unsigned streak = 0;
	assert_false(mqttwords_lost_is_duplicate(600000, &streak)); /* the first takeover: was up long */
	assert_false(mqttwords_lost_is_duplicate(1200, &streak));
	assert_true(mqttwords_lost_is_duplicate(1100, &streak));
	assert_true(mqttwords_lost_is_duplicate(900, &streak));
	mqttwords_failed_attempt(&streak); /* the broker went away: a network problem */
	assert_false(mqttwords_lost_is_duplicate(900, &streak));
	assert_false(mqttwords_lost_is_duplicate(MQTTWORDS_DUP_UP_MS, &streak));
	assert_false(mqttwords_lost_is_duplicate(900, &streak));
}

static void test_every_lost_reason_has_words(void **state)
{
	(void)state;
	assert_non_null(strstr(bt_words_lost(BATON_E_LOST, BATON_REASON_LEASE_EXPIRED), "(lease_expired)"));
	assert_non_null(strstr(bt_words_lost(BATON_E_LOST, BATON_REASON_NODE_OFFLINE), "(node_offline)"));
	assert_non_null(strstr(bt_words_lost(BATON_E_LOST, BATON_REASON_NONE), "revoked"));
	assert_non_null(strstr(bt_words_lost(BATON_E_NOT_HOLDER, BATON_REASON_NONE), "(not_holder)"));
	assert_non_null(strstr(bt_words_lost(BATON_E_TIMEOUT, BATON_REASON_NONE), "lease ran out"));
	assert_non_null(
	    strstr(bt_words_lost(BATON_E_NOT_CONNECTED, BATON_REASON_NONE), "connection to the broker"));
	assert_string_not_equal(bt_words_lost(BATON_E_LOST, BATON_REASON_NONE), baton_strerror(BATON_E_LOST));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connack_every_code_has_words),
	    cmocka_unit_test(test_connack_5_names_user_and_flags),
	    cmocka_unit_test(test_tls_and_network_words),
	    cmocka_unit_test(test_wrong_host_words_name_host_names_and_flag),
	    cmocka_unit_test(test_lost_connection_words),
	    cmocka_unit_test(test_duplicate_rule),
	    cmocka_unit_test(test_acl_refused_words),
	    cmocka_unit_test(test_every_lost_reason_has_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
