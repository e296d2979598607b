/*
 * test_wire_admin.c - the membership request and answer codec
 * (schema/wire_admin.c), the configuration list in a member's health, and
 * the admin topics (schema/names.c): what is written, what is read back,
 * and what is refused with which error and field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "wire_admin.h"
#include "wire_member.h"

static void test_admin_request_round_trip(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	wire_admin_req r = {.op = WIRE_ADMIN_ADD, .id = "a1", .member = 4, .address = "127.0.0.1:7104"}, back;
	assert_int_equal(wire_admin_req_encode(&r, &text, &len), BATON_OK);
	assert_string_equal(
	    text, "{\"v\":1,\"op\":\"add\",\"id\":\"a1\",\"member\":4,\"address\":\"127.0.0.1:7104\"}");
	const char *bad = NULL;
	assert_int_equal(wire_admin_req_decode(text, len, &back, &bad), BATON_OK);
	assert_int_equal(back.op, WIRE_ADMIN_ADD);
	assert_int_equal(back.member, 4);
	assert_string_equal(back.id, "a1");
	assert_string_equal(back.address, "127.0.0.1:7104");
	free(text);
	wire_admin_req rm = {.op = WIRE_ADMIN_REMOVE, .id = "a2", .member = 9};
	assert_int_equal(wire_admin_req_encode(&rm, &text, &len), BATON_OK);
	assert_string_equal(text, "{\"v\":1,\"op\":\"remove\",\"id\":\"a2\",\"member\":9}");
	assert_int_equal(wire_admin_req_decode(text, len, &back, &bad), BATON_OK);
	assert_int_equal(back.op, WIRE_ADMIN_REMOVE);
	assert_string_equal(back.address, "");
	free(text);
	/* The encoder refuses what the decoder would. */
	wire_admin_req x = rm;
	snprintf(x.address, sizeof x.address, "1.2.3.4:5");
	assert_int_equal(wire_admin_req_encode(&x, &text, &len), BATON_E_INVAL);
	x = r, x.address[0] = '\0';
	assert_int_equal(wire_admin_req_encode(&x, &text, &len), BATON_E_INVAL);
	x = r, x.member = 1000000;
	assert_int_equal(wire_admin_req_encode(&x, &text, &len), BATON_E_INVAL);
	x = r, snprintf(x.id, sizeof x.id, "a b");
	assert_int_equal(wire_admin_req_encode(&x, &text, &len), BATON_E_INVAL);
}

static void expect_refused(const char *json, baton_err want, const char *field, const char *id)
{
	wire_admin_req r;
	const char *bad = NULL;
	assert_int_equal(wire_admin_req_decode(json, strlen(json), &r, &bad), want);
	assert_string_equal(bad, field);
	assert_string_equal(r.id, id); /* the readable id, for the answer */
}

static void test_admin_request_refusals(void **state)
{
	(void)state;
	expect_refused("{not json", BATON_E_BAD_JSON, "", "");
	expect_refused("[1]", BATON_E_BAD_JSON, "", "");
	expect_refused("{\"v\":2,\"op\":\"add\"}", BATON_E_BAD_JSON, "", "");
	expect_refused("{\"v\":1,\"op\":\"grow\",\"id\":\"a\",\"member\":1}", BATON_E_UNKNOWN_OP, "", "");
	expect_refused("{\"v\":1,\"id\":\"a\",\"member\":1}", BATON_E_BAD_REQUEST, "op", "");
	expect_refused("{\"v\":1,\"op\":\"remove\",\"member\":1}", BATON_E_BAD_REQUEST, "id", "");
	expect_refused("{\"v\":1,\"op\":\"remove\",\"id\":\"a\",\"member\":0}", BATON_E_BAD_REQUEST, "member",
	               "a");
	expect_refused("{\"v\":1,\"op\":\"remove\",\"id\":\"a\",\"member\":1.5}", BATON_E_BAD_REQUEST,
	               "member", "a");
	expect_refused("{\"v\":1,\"op\":\"add\",\"id\":\"a\",\"member\":4}", BATON_E_BAD_REQUEST, "address",
	               "a");
	expect_refused("{\"v\":1,\"op\":\"add\",\"id\":\"a\",\"member\":4,\"address\":\"\"}",
	               BATON_E_BAD_REQUEST, "address", "a");
	expect_refused("{\"v\":1,\"op\":\"remove\",\"id\":\"a\",\"member\":4,\"address\":\"1.2.3.4:5\"}",
	               BATON_E_BAD_REQUEST, "address", "a");
	expect_refused("{\"v\":1,\"op\":\"remove\",\"id\":\"a\",\"member\":4,\"memebr\":5}",
	               BATON_E_BAD_REQUEST, "unknown field", "");
}

static void test_admin_answer_round_trip(void **state)
{
	(void)state;
	wire_admin_ans a = {.id = "a1",
	                    .done = true,
	                    .changed = false,
	                    .message = "member 4 is a voter at 127.0.0.1:7104 already",
	                    .by = 2,
	                    .members = {{2, "127.0.0.1:7102", "voter"}, {4, "127.0.0.1:7104", "spare"}},
	                    .n_members = 2},
	               back;
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(wire_admin_ans_encode(&a, &text, &len), BATON_OK);
	assert_string_equal(
	    text, "{\"v\":1,\"id\":\"a1\",\"status\":\"done\",\"changed\":false,\"message\":\"member 4 "
	          "is a voter at 127.0.0.1:7104 already\",\"by\":2,\"members\":[{\"id\":2,"
	          "\"address\":\"127.0.0.1:7102\",\"role\":\"voter\"},{\"id\":4,\"address\":"
	          "\"127.0.0.1:7104\",\"role\":\"spare\"}]}");
	assert_int_equal(wire_admin_ans_decode(text, len, &back), BATON_OK);
	assert_true(back.done && !back.changed);
	assert_int_equal(back.by, 2);
	assert_int_equal(back.n_members, 2);
	assert_string_equal(back.members[1].role, "spare");
	assert_string_equal(back.members[1].address, "127.0.0.1:7104");
	free(text);
	a.done = false, a.reason = "last_voter";
	assert_int_equal(wire_admin_ans_encode(&a, &text, &len), BATON_OK);
	assert_non_null(strstr(text, "\"status\":\"refused\",\"reason\":\"last_voter\""));
	assert_null(strstr(text, "changed"));
	assert_int_equal(wire_admin_ans_decode(text, len, &back), BATON_OK);
	assert_false(back.done);
	assert_string_equal(back.reason, "last_voter");
	free(text);
	a.reason = "because";
	assert_int_equal(wire_admin_ans_encode(&a, &text, &len), BATON_E_INVAL);
	a.reason = "failed", a.members[0].role = "boss";
	assert_int_equal(wire_admin_ans_encode(&a, &text, &len), BATON_E_INVAL);
	const char *junk =
	    "{\"v\":1,\"id\":\"a1\",\"status\":\"maybe\",\"message\":\"\",\"by\":1,\"members\":[]}";
	assert_int_equal(wire_admin_ans_decode(junk, strlen(junk), &back), BATON_E_PROTOCOL);
}

static void test_member_health_lists_its_configuration(void **state)
{
	(void)state;
	wire_peer ps[] = {{1, "127.0.0.1:7101", "voter"}, {4, "127.0.0.1:7104", "spare"}};
	wire_member m = {.member = 1,
	                 .online = true,
	                 .role = "leader",
	                 .term = 2,
	                 .leader = 1,
	                 .applied = 5,
	                 .at_ms = 1795000000000LL,
	                 .members = ps,
	                 .n_members = 2};
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(wire_member_encode(&m, &text, &len), BATON_OK);
	assert_non_null(strstr(text,
	                       ",\"members\":[{\"id\":1,\"address\":\"127.0.0.1:7101\",\"role\":\"voter\"},"
	                       "{\"id\":4,\"address\":\"127.0.0.1:7104\",\"role\":\"spare\"}]}"));
	free(text);
	m.n_members = 0; /* none known yet: omitted */
	assert_int_equal(wire_member_encode(&m, &text, &len), BATON_OK);
	assert_null(strstr(text, "members"));
	free(text);
	ps[1].role = "boss";
	m.n_members = 2;
	assert_int_equal(wire_member_encode(&m, &text, &len), BATON_E_INVAL);
}

static void test_admin_topics(void **state)
{
	(void)state;
	char buf[NAMES_TOPIC_MAX + 1];
	assert_int_equal(names_topic(buf, sizeof buf, "baton/v1", NAMES_ADMIN_REQ, "admin-7", NULL),
	                 BATON_OK);
	assert_string_equal(buf, "baton/v1/coordinator/admin/req/admin-7");
	assert_int_equal(names_topic(buf, sizeof buf, "baton/v1", NAMES_ADMIN_ANS, "admin-7", NULL),
	                 BATON_OK);
	assert_string_equal(buf, "baton/v1/coordinator/admin/ans/admin-7");
	assert_int_equal(names_topic(buf, sizeof buf, "baton/v1", NAMES_ADMIN_ANS, "a/b", NULL),
	                 BATON_E_INVAL);
	assert_int_equal(names_filter(buf, sizeof buf, "baton/v1", NAMES_ADMIN_REQ, NULL, NULL), BATON_OK);
	assert_string_equal(buf, "baton/v1/coordinator/admin/req/+");
	/* Not a member's health: P/coordinator/+ never matches it. */
	assert_false(names_filter_match("baton/v1/coordinator/+", "baton/v1/coordinator/admin/req/admin-7"));
	const char *asker = NULL;
	size_t n = 0;
	const char *t = "baton/v1/coordinator/admin/req/admin-7";
	assert_true(names_admin_req_parse("baton/v1", t, strlen(t), &asker, &n));
	assert_int_equal(n, 7);
	assert_memory_equal(asker, "admin-7", 7);
	const char *no[] = {"baton/v1/coordinator/admin/req/", "baton/v1/coordinator/admin/req/a+b",
	                    "baton/v1/coordinator/admin/ans/x", "baton/v2/coordinator/admin/req/x",
	                    "baton/v1/req/x"};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_false(names_admin_req_parse("baton/v1", no[i], strlen(no[i]), &asker, &n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_admin_request_round_trip),
	    cmocka_unit_test(test_admin_request_refusals),
	    cmocka_unit_test(test_admin_answer_round_trip),
	    cmocka_unit_test(test_member_health_lists_its_configuration),
	    cmocka_unit_test(test_admin_topics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
