/*
 * test_names.c - the grammar of names and the layout of topics (names.h).
 *
 * Owns: cases for every rule of PROTOCOL.md "Words" and every topic kind,
 * and the check that every topic the grammar lets us build is one the broker
 * accepts (libmosquitto's own checks, the rules mosquitto applies).
 * Must never touch the network or the file system.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <mosquitto.h>

#include "names.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static void test_node_valid_grammar_accepts_and_rejects(void **state)
{
	(void)state;
	char long_id[NAMES_NODE_MAX + 2];

	assert_true(names_node_valid(S("n1")));
	assert_true(names_node_valid(S("A-z_0.9")));
	assert_false(names_node_valid(S("")));
	assert_false(names_node_valid(S("a:b")));
	assert_false(names_node_valid(S("a/b")));
	assert_false(names_node_valid(S("a b")));
	assert_false(names_node_valid(S("a\0b")));
	assert_false(names_node_valid(NULL, 3));
	memset(long_id, 'x', sizeof long_id);
	assert_true(names_node_valid(long_id, NAMES_NODE_MAX));
	assert_false(names_node_valid(long_id, NAMES_NODE_MAX + 1));
}

static void test_id_valid_colon_accepted_limit_enforced(void **state)
{
	(void)state;
	char long_id[NAMES_ID_MAX + 2];

	assert_true(names_id_valid(S("r:1.a_b-c")));
	assert_false(names_id_valid(S("")));
	assert_false(names_id_valid(S("r#1")));
	assert_false(names_id_valid(S("r\xc3\xa9")));
	memset(long_id, '7', sizeof long_id);
	assert_true(names_id_valid(long_id, NAMES_ID_MAX));
	assert_false(names_id_valid(long_id, NAMES_ID_MAX + 1));
}

static void test_utf8_valid_rfc3629_rejects_overlongs_and_surrogates(void **state)
{
	(void)state;
	assert_true(names_utf8_valid(S("")));
	assert_true(names_utf8_valid(S("plain")));
	assert_true(names_utf8_valid(S("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"))); /* é € 😀 */
	assert_true(names_utf8_valid(S("\xf4\x8f\xbf\xbf")));                     /* U+10FFFF */
	assert_true(names_utf8_valid(S("\xed\x9f\xbf")));                         /* U+D7FF */
	assert_false(names_utf8_valid(S("\xc0\x80")));                            /* overlong NUL */
	assert_false(names_utf8_valid(S("\xc1\xbf")));                            /* overlong */
	assert_false(names_utf8_valid(S("\xe0\x80\xaf")));                        /* overlong '/' */
	assert_false(names_utf8_valid(S("\xf0\x80\x80\xaf")));                    /* overlong '/' */
	assert_false(names_utf8_valid(S("\xed\xa0\x80")));                        /* U+D800 */
	assert_false(names_utf8_valid(S("\xed\xbf\xbf")));                        /* U+DFFF */
	assert_false(names_utf8_valid(S("\xf4\x90\x80\x80")));                    /* U+110000 */
	assert_false(names_utf8_valid(S("\xf5\x80\x80\x80")));
	assert_false(names_utf8_valid(S("\x80")));
	assert_false(names_utf8_valid(S("\xc3")));         /* truncated */
	assert_false(names_utf8_valid(S("\xe2\x82")));     /* truncated */
	assert_false(names_utf8_valid(S("\xe2\x28\xa1"))); /* bad continuation */
	assert_false(names_utf8_valid(S("\xff")));
	assert_int_equal(names_utf8_next(S("\xe2\x82\xac")), 3);
	assert_int_equal(names_utf8_next(S("a")), 1);
	assert_int_equal(names_utf8_next("", 0), 0);
}

static void test_resource_valid_contract_examples_accepted(void **state)
{
	(void)state;
	assert_true(names_resource_valid(S("images/nginx:1.25")));
	assert_true(names_resource_valid(S("a")));
	assert_true(names_resource_valid(S("a b/c d")));
	assert_true(names_resource_valid(S("caf\xc3\xa9/\xe2\x82\xac")));
	assert_true(names_resource_valid(S("x\xc2\xa0y"))); /* U+00A0 is not a control */
	assert_true(names_resource_valid(S("a$b")));
	assert_true(names_resource_valid(S("a/$b")));
}

static void test_resource_valid_each_rule_rejects(void **state)
{
	(void)state;
	assert_false(names_resource_valid(S("")));
	assert_false(names_resource_valid(S("$SYS/x")));
	assert_false(names_resource_valid(S("/a")));
	assert_false(names_resource_valid(S("a/")));
	assert_false(names_resource_valid(S("a//b")));
	assert_false(names_resource_valid(S("a+b")));
	assert_false(names_resource_valid(S("a#")));
	assert_false(names_resource_valid(S("a\tb")));
	assert_false(names_resource_valid(S("a\x1f")));
	assert_false(names_resource_valid(S("a\x7f")));
	assert_false(names_resource_valid(S("a\0b")));
	assert_false(names_resource_valid(S("a\xc2\x80")));     /* U+0080 */
	assert_false(names_resource_valid(S("a\xc2\x9f")));     /* U+009F */
	assert_false(names_resource_valid(S("a\xc0\xaf")));     /* overlong '/' */
	assert_false(names_resource_valid(S("a\xed\xa0\x80"))); /* surrogate */
	assert_false(names_resource_valid(S("a\xff")));
	assert_false(names_resource_valid(NULL, 1));
}

/* mosquitto drops a client that publishes a topic with a noncharacter, so a
 * resource holding one must never be granted (PROTOCOL.md second edition). */
static void test_resource_valid_noncharacters_rejected(void **state)
{
	(void)state;
	assert_false(names_resource_valid(S("x\xef\xb7\x90"
	                                    "y"))); /* U+FDD0 */
	assert_false(names_resource_valid(S("x\xef\xb7\xaf"
	                                    "y"))); /* U+FDEF */
	assert_false(names_resource_valid(S("a\xef\xbf\xbe"
	                                    "b"))); /* U+FFFE */
	assert_false(names_resource_valid(S("a\xef\xbf\xbf"
	                                    "b")));                 /* U+FFFF */
	assert_false(names_resource_valid(S("a\xf0\x9f\xbf\xbe"))); /* U+1FFFE */
	assert_false(names_resource_valid(S("a\xf4\x8f\xbf\xbf"))); /* U+10FFFF */
	assert_true(names_resource_valid(S("x\xef\xb7\x8f"
	                                   "y"))); /* U+FDCF */
	assert_true(names_resource_valid(S("x\xef\xb7\xb0"
	                                   "y"))); /* U+FDF0 */
	assert_true(names_resource_valid(S("a\xef\xbf\xbd"
	                                   "b")));                 /* U+FFFD */
	assert_true(names_resource_valid(S("a\xf0\x9f\xbf\xbd"))); /* U+1FFFD */
}

static void test_noncharacter_find_names_first(void **state)
{
	(void)state;
	assert_int_equal(names_noncharacter_find(S("plain/caf\xc3\xa9")), 0);
	assert_int_equal(names_noncharacter_find(S("x\xef\xb7\x90"
	                                           "y\xef\xbf\xbf")),
	                 0xFDD0);
	assert_int_equal(names_noncharacter_find(S("\xff\xef\xbf\xbe")), 0xFFFE);
	assert_int_equal(names_noncharacter_find(S("\xf4\x8f\xbf\xbf")), 0x10FFFF);
	assert_int_equal(names_noncharacter_find(NULL, 3), 0);
}

static void test_resource_valid_length_limit_is_bytes(void **state)
{
	(void)state;
	char buf[NAMES_RESOURCE_MAX + 4];

	memset(buf, 'r', sizeof buf);
	assert_true(names_resource_valid(buf, NAMES_RESOURCE_MAX));
	assert_false(names_resource_valid(buf, NAMES_RESOURCE_MAX + 1));
	/* 100 two-byte characters are 200 bytes; one more byte is too many. */
	for (int i = 0; i < 100; i++)
		memcpy(buf + 2 * i, "\xc3\xa9", 2);
	assert_true(names_resource_valid(buf, 200));
	buf[200] = 'x';
	assert_false(names_resource_valid(buf, 201));
	/* A multi-byte character cut by the length is not valid UTF-8. */
	assert_false(names_resource_valid(buf, 199));
}

static void test_prefix_valid_rules_enforced(void **state)
{
	(void)state;
	assert_true(names_prefix_valid(S("baton/v1")));
	assert_true(names_prefix_valid(S("t")));
	assert_false(names_prefix_valid(S("")));
	assert_false(names_prefix_valid(S("/baton")));
	assert_false(names_prefix_valid(S("baton/")));
	assert_false(names_prefix_valid(S("a//b")));
	assert_false(names_prefix_valid(S("$SYS")));
	assert_false(names_prefix_valid(S("a+")));
	assert_false(names_prefix_valid(S("a#")));
	assert_false(names_prefix_valid(S("a\xc3\xa9")));
	assert_false(names_prefix_valid(S("a\n")));
}

static void test_topic_every_kind_built(void **state)
{
	(void)state;
	char buf[NAMES_TOPIC_MAX + 1];
	size_t len = 0;
	static const struct {
		names_kind kind;
		const char *arg, *want;
	} cases[] = {
	    {NAMES_REQ, "n1", "baton/v1/req/n1"},
	    {NAMES_GRANT, "n1", "baton/v1/grant/n1"},
	    {NAMES_OUTCOME, "images/nginx:1.25", "baton/v1/outcome/images/nginx:1.25"},
	    {NAMES_STATE, "images/nginx:1.25", "baton/v1/state/images/nginx:1.25"},
	    {NAMES_NODE, "n1", "baton/v1/node/n1"},
	    {NAMES_COORDINATOR, NULL, "baton/v1/coordinator"},
	    {NAMES_STATS, "ignored", "baton/v1/stats"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(names_topic(buf, sizeof buf, "baton/v1", cases[i].kind, cases[i].arg, &len),
		                 BATON_OK);
		assert_string_equal(buf, cases[i].want);
		assert_int_equal(len, strlen(cases[i].want));
	}
	assert_int_equal(names_topic(buf, sizeof buf, "p", NAMES_REQ, "n", NULL), BATON_OK);
	assert_string_equal(buf, "p/req/n");
}

static void test_topic_bad_arg_or_small_buffer_inval(void **state)
{
	(void)state;
	char buf[NAMES_TOPIC_MAX + 1];
	char big_res[NAMES_RESOURCE_MAX + 1], big_prefix[NAMES_PREFIX_MAX + 1];

	assert_int_equal(names_topic(buf, sizeof buf, "b", NAMES_REQ, "a/b", NULL), BATON_E_INVAL);
	assert_int_equal(names_topic(buf, sizeof buf, "b", NAMES_GRANT, NULL, NULL), BATON_E_INVAL);
	assert_int_equal(names_topic(buf, sizeof buf, "b", NAMES_OUTCOME, "a/", NULL), BATON_E_INVAL);
	assert_int_equal(names_topic(buf, sizeof buf, "b/", NAMES_STATS, NULL, NULL), BATON_E_INVAL);
	assert_int_equal(names_topic(buf, sizeof buf, "b", (names_kind)99, "n", NULL), BATON_E_INVAL);
	assert_int_equal(names_topic(buf, 8, "b", NAMES_GRANT, "n1", NULL), BATON_E_INVAL); /* "b/grant/n1" */
	assert_int_equal(names_topic(buf, 11, "b", NAMES_GRANT, "n1", NULL), BATON_OK);
	/* The longest topic fits in NAMES_TOPIC_MAX + 1. */
	memset(big_res, 'r', sizeof big_res - 1);
	big_res[sizeof big_res - 1] = '\0';
	memset(big_prefix, 'p', sizeof big_prefix - 1);
	big_prefix[sizeof big_prefix - 1] = '\0';
	assert_int_equal(names_topic(buf, sizeof buf, big_prefix, NAMES_OUTCOME, big_res, NULL), BATON_OK);
	assert_int_equal(names_topic(buf, sizeof buf, big_prefix, NAMES_COORDINATOR, NULL, NULL), BATON_OK);
}

static void test_topic_parse_req_and_node_found(void **state)
{
	(void)state;
	names_kind kind = 0;
	const char *node = NULL;
	size_t node_len = 0;
	const char *t = "baton/v1/req/n-1.x";

	assert_int_equal(names_topic_parse("baton/v1", t, strlen(t), &kind, &node, &node_len), BATON_OK);
	assert_int_equal(kind, NAMES_REQ);
	assert_int_equal(node_len, 5);
	assert_memory_equal(node, "n-1.x", 5);
	/* Not NUL-terminated: only topic_len bytes count. */
	t = "baton/v1/node/n2XYZ";
	assert_int_equal(names_topic_parse("baton/v1", t, strlen(t) - 3, &kind, &node, &node_len), BATON_OK);
	assert_int_equal(kind, NAMES_NODE);
	assert_int_equal(node_len, 2);
	assert_ptr_equal(node, t + 14);
}

static void test_topic_parse_bad_node_bad_topic(void **state)
{
	(void)state;
	names_kind kind = NAMES_STATS;
	const char *node = "untouched";
	size_t node_len = 42;
	static const char *const bad[] = {"baton/v1/req/", "baton/v1/req/a/b", "baton/v1/req/a:b",
	                                  "baton/v1/node/a b", "baton/v1/req/\xc3\xa9"};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(
		    names_topic_parse("baton/v1", bad[i], strlen(bad[i]), &kind, &node, &node_len),
		    BATON_E_BAD_TOPIC);
	assert_int_equal(kind, NAMES_STATS);
	assert_string_equal(node, "untouched");
	assert_int_equal(node_len, 42);
}

static void test_topic_parse_other_topics_inval(void **state)
{
	(void)state;
	names_kind kind;
	const char *node;
	size_t node_len;
	static const char *const other[] = {
	    "baton/v1/grant/n1", "baton/v1/stats", "baton/v1",     "baton/v1req/n1",
	    "baton/v2/req/n1",   "baton/v1/req",   "other/req/n1", ""};

	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
		assert_int_equal(
		    names_topic_parse("baton/v1", other[i], strlen(other[i]), &kind, &node, &node_len),
		    BATON_E_INVAL);
}

static void test_node_sanitize_bad_bytes_dashed_and_truncated(void **state)
{
	(void)state;
	char buf[NAMES_NODE_MAX + 1];
	char in[100];

	names_node_sanitize(buf, sizeof buf, "host name/1");
	assert_string_equal(buf, "host-name-1");
	names_node_sanitize(buf, sizeof buf, "");
	assert_string_equal(buf, "node");
	names_node_sanitize(buf, sizeof buf, NULL);
	assert_string_equal(buf, "node");
	memset(in, 'a', sizeof in - 1);
	in[sizeof in - 1] = '\0';
	names_node_sanitize(buf, sizeof buf, in);
	assert_int_equal(strlen(buf), NAMES_NODE_MAX);
	assert_true(names_node_valid(buf, strlen(buf)));
	names_node_sanitize(buf, sizeof buf, "caf\xc3\xa9");
	assert_string_equal(buf, "caf--");
}

/* The UTF-8 encoding of cp into buf (1 to 4 bytes); cp is not a surrogate. */
static size_t utf8_encode(uint32_t cp, char *buf)
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xC0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xE0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		buf[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	buf[0] = (char)(0xF0 | (cp >> 18));
	buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	buf[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Every code point, alone in a resource name: whenever the grammar accepts
 * it, the topics built from it pass the broker's own checks, so no publish
 * of ours can make mosquitto drop the coordinator's connection. */
static void test_resource_every_code_point_accepted_only_if_broker_accepts(void **state)
{
	(void)state;
	char res[16], topic[NAMES_TOPIC_MAX + 1];
	size_t tlen;
	unsigned accepted = 0;

	for (uint32_t cp = 1; cp <= 0x10FFFF; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		size_t n = 0;
		res[n++] = 'x';
		n += utf8_encode(cp, res + n);
		res[n++] = 'y';
		res[n] = '\0';
		if (!names_resource_valid(res, n))
			continue;
		accepted++;
		assert_int_equal(names_topic(topic, sizeof topic, "baton/v1", NAMES_STATE, res, &tlen),
		                 BATON_OK);
		if (mosquitto_validate_utf8(topic, (int)tlen) != MOSQ_ERR_SUCCESS ||
		    mosquitto_pub_topic_check2(topic, tlen) != MOSQ_ERR_SUCCESS)
			fail_msg("U+%04X: the grammar accepts it, the broker refuses the topic",
			         (unsigned)cp);
	}
	/* Everything but the 2048 surrogates, the 64 controls (U+0001-001F,
	 * U+007F-009F), '+', '#' and the 66 noncharacters. */
	assert_int_equal(accepted, 0x10FFFF - 2048 - 64 - 2 - 66);
}

static void test_filter_match_mqtt_wildcards(void **state)
{
	(void)state;
	assert_true(names_filter_match("p/state/#", "p/state/a/b"));
	assert_true(names_filter_match("p/state/a/#", "p/state/a"));
	assert_true(names_filter_match("p/state/+/c", "p/state/b/c"));
	assert_true(names_filter_match("p/state/x", "p/state/x"));
	assert_false(names_filter_match("p/state/x", "p/state/xy"));
	assert_false(names_filter_match("p/state/+", "p/state/a/b"));
	assert_false(names_filter_match("p/outcome/#", "p/state/a"));
	assert_false(names_filter_match("p/state/a/b", "p/state/a"));
}

static void test_resource_filter_valid_wildcards_whole_levels(void **state)
{
	(void)state;
	assert_true(names_resource_filter_valid(S("#")));
	assert_true(names_resource_filter_valid(S("db/+/shard")));
	assert_true(names_resource_filter_valid(S("db/#")));
	assert_true(names_resource_filter_valid(S("caf\xc3\xa9")));
	assert_false(names_resource_filter_valid(S("")));
	assert_false(names_resource_filter_valid(NULL, 1));
	assert_false(names_resource_filter_valid(S("db+")));
	assert_false(names_resource_filter_valid(S("db/#/x")));
	assert_false(names_resource_filter_valid(S("a#")));
	assert_false(names_resource_filter_valid(S("$SYS/#")));
	assert_false(names_resource_filter_valid(S("a\x01b")));
	assert_false(names_resource_filter_valid(S("\xc3(")));
}

static void test_filter_every_kind(void **state)
{
	(void)state;
	char buf[NAMES_TOPIC_MAX + 1];
	size_t len = 0;

	assert_int_equal(names_filter(buf, sizeof buf, "baton", NAMES_REQ, NULL, &len), BATON_OK);
	assert_string_equal(buf, "baton/req/+");
	assert_int_equal(len, 11);
	/* The coordinator's: every topic under P/req/, so bad ones are counted. */
	assert_int_equal(names_filter(buf, sizeof buf, "baton", NAMES_REQ, "#", &len), BATON_OK);
	assert_string_equal(buf, "baton/req/#");
	assert_int_equal(names_filter(buf, sizeof buf, "baton", NAMES_NODE, NULL, NULL), BATON_OK);
	assert_string_equal(buf, "baton/node/+");
	assert_int_equal(names_filter(buf, sizeof buf, "baton", NAMES_GRANT, NULL, NULL), BATON_OK);
	assert_string_equal(buf, "baton/grant/+");
	assert_int_equal(names_filter(buf, sizeof buf, "a/b", NAMES_STATE, NULL, NULL), BATON_OK);
	assert_string_equal(buf, "a/b/state/#");
	assert_int_equal(names_filter(buf, sizeof buf, "p", NAMES_OUTCOME, "db/+", NULL), BATON_OK);
	assert_string_equal(buf, "p/outcome/db/+");
	assert_int_equal(names_filter(buf, sizeof buf, "p", NAMES_STATE, "x", NULL), BATON_OK);
	assert_string_equal(buf, "p/state/x");
	assert_int_equal(names_filter(buf, sizeof buf, "p", NAMES_COORDINATOR, NULL, NULL), BATON_OK);
	assert_string_equal(buf, "p/coordinator");
	assert_int_equal(names_filter(buf, sizeof buf, "p", NAMES_STATS, NULL, NULL), BATON_OK);
	assert_string_equal(buf, "p/stats");
}

static void test_filter_bad_input_inval(void **state)
{
	(void)state;
	char buf[NAMES_TOPIC_MAX + 1];
	char small[10]; /* "p/state/#" and its NUL, exactly */

	assert_int_equal(names_filter(buf, sizeof buf, "p", NAMES_REQ, "n1", NULL), BATON_E_INVAL);
	assert_int_equal(names_filter(buf, sizeof buf, "p", NAMES_REQ, "+", NULL), BATON_E_INVAL);
	assert_int_equal(names_filter(buf, sizeof buf, "p", NAMES_STATE, "a+", NULL), BATON_E_INVAL);
	assert_int_equal(names_filter(buf, sizeof buf, "p/", NAMES_STATE, NULL, NULL), BATON_E_INVAL);
	assert_int_equal(names_filter(buf, sizeof buf, NULL, NAMES_STATE, NULL, NULL), BATON_E_INVAL);
	assert_int_equal(names_filter(buf, sizeof buf, "p", (names_kind)99, NULL, NULL), BATON_E_INVAL);
	assert_int_equal(names_filter(small, sizeof small, "p", NAMES_STATE, NULL, NULL), BATON_OK);
	assert_int_equal(names_filter(small, sizeof small, "baton", NAMES_STATE, NULL, NULL), BATON_E_INVAL);
}

static void test_resource_topic_parse_state_and_outcome(void **state)
{
	(void)state;
	names_kind kind = NAMES_REQ;
	const char *res = NULL;
	size_t len = 0;
	const char *t = "a/b/state/db/x";

	assert_int_equal(names_resource_topic_parse("a/b", t, strlen(t), &kind, &res, &len), BATON_OK);
	assert_int_equal(kind, NAMES_STATE);
	assert_ptr_equal(res, t + 10);
	assert_int_equal(len, 4);
	t = "p/outcome/r";
	assert_int_equal(names_resource_topic_parse("p", t, strlen(t), &kind, &res, &len), BATON_OK);
	assert_int_equal(kind, NAMES_OUTCOME);
	assert_string_equal(res, "r");
	t = "p/state/";
	assert_int_equal(names_resource_topic_parse("p", t, strlen(t), &kind, &res, &len), BATON_OK);
	assert_int_equal(len, 0);
}

static void test_resource_topic_parse_other_topics_inval(void **state)
{
	(void)state;
	names_kind kind = NAMES_REQ;
	const char *res = NULL;
	size_t len = 7;

	assert_int_equal(names_resource_topic_parse("p", S("p/req/n1"), &kind, &res, &len), BATON_E_INVAL);
	assert_int_equal(names_resource_topic_parse("p", S("q/state/r"), &kind, &res, &len), BATON_E_INVAL);
	assert_int_equal(names_resource_topic_parse("p", S("px/state/r"), &kind, &res, &len), BATON_E_INVAL);
	assert_int_equal(names_resource_topic_parse("p", S("p/state"), &kind, &res, &len), BATON_E_INVAL);
	assert_int_equal(names_resource_topic_parse("p", S("p/stats"), &kind, &res, &len), BATON_E_INVAL);
	assert_int_equal(names_resource_topic_parse(NULL, S("p/state/r"), &kind, &res, &len), BATON_E_INVAL);
	assert_int_equal(kind, NAMES_REQ);
	assert_null(res);
	assert_int_equal(len, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_node_valid_grammar_accepts_and_rejects),
	    cmocka_unit_test(test_id_valid_colon_accepted_limit_enforced),
	    cmocka_unit_test(test_utf8_valid_rfc3629_rejects_overlongs_and_surrogates),
	    cmocka_unit_test(test_resource_valid_contract_examples_accepted),
	    cmocka_unit_test(test_resource_valid_each_rule_rejects),
	    cmocka_unit_test(test_resource_valid_noncharacters_rejected),
	    cmocka_unit_test(test_noncharacter_find_names_first),
	    cmocka_unit_test(test_resource_every_code_point_accepted_only_if_broker_accepts),
	    cmocka_unit_test(test_resource_valid_length_limit_is_bytes),
	    cmocka_unit_test(test_prefix_valid_rules_enforced),
	    cmocka_unit_test(test_topic_every_kind_built),
	    cmocka_unit_test(test_topic_bad_arg_or_small_buffer_inval),
	    cmocka_unit_test(test_topic_parse_req_and_node_found),
	    cmocka_unit_test(test_topic_parse_bad_node_bad_topic),
	    cmocka_unit_test(test_topic_parse_other_topics_inval),
	    cmocka_unit_test(test_node_sanitize_bad_bytes_dashed_and_truncated),
	    cmocka_unit_test(test_filter_match_mqtt_wildcards),
	    cmocka_unit_test(test_resource_filter_valid_wildcards_whole_levels),
	    cmocka_unit_test(test_filter_every_kind),
	    cmocka_unit_test(test_filter_bad_input_inval),
	    cmocka_unit_test(test_resource_topic_parse_state_and_outcome),
	    cmocka_unit_test(test_resource_topic_parse_other_topics_inval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
