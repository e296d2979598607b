/*
 * test_wire.c - the JSON codec (wire.h): round trips, golden texts from
 * PROTOCOL.md, every rejection code, malformed payloads, and out-of-memory
 * paths through a failing allocator installed with cJSON_InitHooks.
 *
 * Owns: the codec's tests and the schema fixtures. Run with
 * "--dump-fixtures DIR" it runs no test and instead writes one file per kind
 * of encoded message into DIR, named "<schema>--<case>.json", for
 * tests/unit/schema_check.py. Must never touch the network.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "wire.h"
#include "wire_member.h"

#define S(lit) (lit), (sizeof(lit) - 1)
#define T_2026 1795514400123LL /* 2026-11-24T10:00:00.123Z */

/* ---- helpers ------------------------------------------------------------------ */

/* A malloc'd string of n copies of c. */
static char *rep(char c, size_t n)
{
	char *p = malloc(n + 1);
	assert_non_null(p);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* A malloc'd printf. */
__attribute__((format(printf, 1, 2))) static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	char *p = malloc((size_t)n + 1);
	assert_non_null(p);
	va_start(ap, f);
	vsnprintf(p, (size_t)n + 1, f, ap);
	va_end(ap);
	return p;
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static bool request_equal(const wire_request *a, const wire_request *b)
{
	return a->op == b->op && str_eq(a->id, b->id) && str_eq(a->resource, b->resource) &&
	       a->mode == b->mode && a->has_lease == b->has_lease && a->lease_ms == b->lease_ms &&
	       a->has_wait == b->has_wait && a->wait_ms == b->wait_ms && str_eq(a->meta, b->meta) &&
	       a->token == b->token && a->success == b->success && str_eq(a->error, b->error) &&
	       str_eq(a->result, b->result) && a->has_remember == b->has_remember &&
	       a->remember_ms == b->remember_ms &&
	       (a->permits > 1 ? a->permits : 1) == (b->permits > 1 ? b->permits : 1) &&
	       a->max_failures == b->max_failures;
}

/* Decodes payload (NUL-terminated) and expects success. */
static void decode_ok(const char *payload, wire_request *out)
{
	wire_diag d;
	baton_err err = wire_request_decode(payload, strlen(payload), out, &d);
	if (err != BATON_OK)
		fail_msg("decode of %s: %s (%s)", payload, baton_strerror(err), d.message);
}

/* Decodes payload[0..len) and expects code, with field named in the message
 * and *out left zeroed. */
static void expect_reject_n(const char *payload, size_t len, baton_err code, const char *field)
{
	wire_request r;
	wire_diag d;

	memset(&r, 0xA5, sizeof r);
	baton_err err = wire_request_decode(payload, len, &r, &d);
	if (err != code)
		fail_msg("payload %.200s: got %s (%s), want %s", payload,
		         baton_err_code(err) ? baton_err_code(err) : "?", d.message, baton_err_code(code));
	if (strstr(d.message, field) == NULL)
		fail_msg("payload %.200s: message \"%s\" does not name \"%s\"", payload, d.message, field);
	assert_true(all_zero(&r, sizeof r));
}

static void expect_reject(const char *payload, baton_err code, const char *field)
{
	expect_reject_n(payload, strlen(payload), code, field);
}

/* Encodes r, decodes the text, and checks both ways agree. */
static void request_round_trip(const wire_request *r)
{
	char *text = NULL;
	size_t len = 0;
	wire_request back;

	assert_int_equal(wire_request_encode(r, &text, &len), BATON_OK);
	assert_int_equal(strlen(text), len);
	decode_ok(text, &back);
	if (!request_equal(r, &back))
		fail_msg("round trip changed the request: %s", text);
	wire_request_deinit(&back);
	free(text);
}

/* ---- requests: round trips and golden texts ---------------------------------- */

static void test_request_every_op_round_trips_equal(void **state)
{
	(void)state;
	wire_request reqs[] = {
	    {.op = WIRE_OP_ACQUIRE, .id = "r1", .resource = "images/nginx:1.25"},
	    {.op = WIRE_OP_ACQUIRE,
	     .id = "r1",
	     .resource = "images/nginx:1.25",
	     .mode = WIRE_MODE_MUTEX,
	     .has_lease = true,
	     .lease_ms = 1000,
	     .has_wait = true,
	     .wait_ms = 0,
	     .meta = "docker pull \"nginx\"\n\t\x01 caf\xc3\xa9"},
	    {.op = WIRE_OP_ACQUIRE, .id = "a:b", .resource = "x", .has_wait = true, .wait_ms = WIRE_INT_MAX},
	    {.op = WIRE_OP_RENEW, .id = "r2", .resource = "images/nginx:1.25", .token = 43},
	    {.op = WIRE_OP_RENEW, .id = "r2", .resource = "r", .token = WIRE_INT_MAX},
	    {.op = WIRE_OP_RELEASE, .id = "r3", .resource = "r", .token = 1, .success = true},
	    {.op = WIRE_OP_RELEASE,
	     .id = "r3",
	     .resource = "images/nginx:1.25",
	     .token = 1000000000000000ull,
	     .success = false,
	     .error = "exit status 1",
	     .result = "",
	     .has_remember = true,
	     .remember_ms = 0},
	    {.op = WIRE_OP_CANCEL, .id = "r4", .resource = "images/nginx:1.25"},
	    {.op = WIRE_OP_RESET, .id = "r5", .resource = "images/nginx:1.25"},
	    /* second edition */
	    {.op = WIRE_OP_ACQUIRE, .id = "r6", .resource = "db", .mode = WIRE_MODE_SHARED},
	    {.op = WIRE_OP_ACQUIRE, .id = "r7", .resource = "pool", .mode = WIRE_MODE_MUTEX, .permits = 1024},
	    {.op = WIRE_OP_ACQUIRE, .id = "r8", .resource = "pool", .mode = WIRE_MODE_MUTEX, .permits = 1},
	    {.op = WIRE_OP_ACQUIRE, .id = "r9", .resource = "img", .max_failures = 1000},
	};

	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
		request_round_trip(&reqs[i]);
	/* permits 1 is the default: a shared or once acquire may say it */
	wire_request r;
	decode_ok(
	    "{\"v\":1,\"op\":\"acquire\",\"id\":\"r\",\"resource\":\"x\",\"mode\":\"shared\",\"permits\":1}",
	    &r);
	assert_int_equal(r.mode, WIRE_MODE_SHARED);
	assert_int_equal(r.permits, 1);
	wire_request_deinit(&r);
}

static void test_request_contract_examples_reencode_identical(void **state)
{
	(void)state;
	static const char *const examples[] = {
	    "{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/nginx:1.25\",\"mode\":\"once\","
	    "\"lease_ms\":30000,\"wait_ms\":60000,\"meta\":\"docker pull nginx:1.25\"}",
	    "{\"v\":1,\"op\":\"renew\",\"id\":\"r2\",\"resource\":\"images/nginx:1.25\",\"token\":43}",
	    "{\"v\":1,\"op\":\"release\",\"id\":\"r3\",\"resource\":\"images/nginx:1.25\",\"token\":43,"
	    "\"success\":false,\"error\":\"exit status 1\",\"result\":\"...\",\"remember_ms\":600000}",
	    "{\"v\":1,\"op\":\"cancel\",\"id\":\"r4\",\"resource\":\"images/nginx:1.25\"}",
	    "{\"v\":1,\"op\":\"reset\",\"id\":\"r5\",\"resource\":\"images/nginx:1.25\"}",
	};

	for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
		wire_request r;
		char *text;
		decode_ok(examples[i], &r);
		assert_int_equal(wire_request_encode(&r, &text, NULL), BATON_OK);
		assert_string_equal(text, examples[i]);
		free(text);
		wire_request_deinit(&r);
	}
}

static void test_request_defaults_and_unknown_fields_accepted(void **state)
{
	(void)state;
	wire_request r;

	decode_ok(" {\"x\":{\"deep\":[1,2,{\"y\":null}]},\"resource\":\"r\",\"id\":\"i\",\"op\":\"acquire\","
	          "\"v\":1.0,\"token\":\"ignored\",\"x\":2}\r\n",
	          &r);
	assert_int_equal(r.op, WIRE_OP_ACQUIRE);
	assert_int_equal(r.mode, WIRE_MODE_ONCE);
	assert_false(r.has_lease);
	assert_false(r.has_wait);
	assert_null(r.meta);
	assert_int_equal(r.token, 0);
	assert_non_null(r.owned_);
	wire_request_deinit(&r);
	assert_true(all_zero(&r, sizeof r));
	/* Integers written as JSON Schema's "integer" reads them. */
	decode_ok(
	    "{\"v\":1,\"op\":\"acquire\",\"id\":\"i\",\"resource\":\"r\",\"lease_ms\":1e3,\"wait_ms\":-0}",
	    &r);
	assert_int_equal(r.lease_ms, 1000);
	assert_true(r.has_wait);
	assert_int_equal(r.wait_ms, 0);
	wire_request_deinit(&r);
	/* An escaped backslash before u0000 is text, not a NUL. */
	decode_ok("{\"v\":1,\"op\":\"acquire\",\"id\":\"i\",\"resource\":\"r\",\"meta\":\"\\\\u0000\"}", &r);
	assert_string_equal(r.meta, "\\u0000");
	wire_request_deinit(&r);
	wire_request_deinit(NULL);
}

static void test_request_strings_share_one_block(void **state)
{
	(void)state;
	wire_request r;

	decode_ok("{\"v\":1,\"op\":\"release\",\"id\":\"i\",\"resource\":\"r\",\"token\":5,\"success\":true,"
	          "\"error\":\"e\",\"result\":\"res\"}",
	          &r);
	const char *lo = r.owned_, *hi = (const char *)r.owned_ + 64;
	const char *strs[] = {r.id, r.resource, r.error, r.result};
	for (size_t i = 0; i < 4; i++)
		assert_true(strs[i] >= lo && strs[i] < hi);
	wire_request_deinit(&r);
}

/* ---- requests: rejections ------------------------------------------------------- */

#define ACQ "{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x\""
#define REN "{\"v\":1,\"op\":\"renew\",\"id\":\"r1\",\"resource\":\"images/x\""
#define REL "{\"v\":1,\"op\":\"release\",\"id\":\"r1\",\"resource\":\"images/x\",\"token\":4"

static const struct malformed {
	const char *payload;
	baton_err code;
	const char *field;
} malformed[] = {
    /* not JSON, not an object */
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x", BATON_E_BAD_JSON, "payload"},
    {"{\"v\":1,\"op\":\"acquire\",", BATON_E_BAD_JSON, "payload"},
    {"", BATON_E_BAD_JSON, "payload"},
    {"   ", BATON_E_BAD_JSON, "payload"},
    {"[1,2]", BATON_E_BAD_JSON, "payload"},
    {"\"acquire\"", BATON_E_BAD_JSON, "payload"},
    {"null", BATON_E_BAD_JSON, "payload"},
    {"5", BATON_E_BAD_JSON, "payload"},
    {" -1.5e+3 ", BATON_E_BAD_JSON, "payload"},
    {"true", BATON_E_BAD_JSON, "payload"},
    {"{}", BATON_E_BAD_REQUEST, "v"},
    {ACQ "} x", BATON_E_BAD_JSON, "payload"},
    {ACQ "}}", BATON_E_BAD_JSON, "payload"},
    {"{'v':1}", BATON_E_BAD_JSON, "payload"},
    {"{\"v\":01,\"op\":\"acquire\"}", BATON_E_BAD_JSON, "payload"},
    {"{\"v\":1.,\"op\":\"acquire\"}", BATON_E_BAD_JSON, "payload"},
    {"{\"v\":+1}", BATON_E_BAD_JSON, "payload"},
    {"{\"v\":1,}", BATON_E_BAD_JSON, "payload"},
    {"{\"v\":NaN}", BATON_E_BAD_JSON, "payload"},
    {ACQ ",\"meta\":\"\xff\"}", BATON_E_BAD_JSON, "UTF-8"},
    {ACQ ",\"meta\":\"\xc0\xaf\"}", BATON_E_BAD_JSON, "payload"},
    {ACQ ",\"meta\":\"\xed\xa0\x80\"}", BATON_E_BAD_JSON, "payload"},
    {ACQ ",\"meta\":\"a\tb\"}", BATON_E_BAD_JSON, "payload"},
    {ACQ ",\"meta\":\"\\ud800\"}", BATON_E_BAD_JSON, "payload"},
    {ACQ ",\"meta\":\"\\udc00\\ud800\"}", BATON_E_BAD_JSON, "payload"},
    {ACQ ",\"meta\":\"\\x41\"}", BATON_E_BAD_JSON, "payload"},
    {"\xef\xbb\xbf" ACQ "}", BATON_E_BAD_JSON, "payload"},
    {ACQ ",\"x\":1234567890123456789012345678901234567890123456789012345678901234}", BATON_E_BAD_JSON,
     "payload"},
    /* v */
    {"{\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "v"},
    {"{\"v\":\"1\",\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "v:"},
    {"{\"v\":true,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "v:"},
    {"{\"v\":2,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_UNSUPPORTED_VERSION,
     "v:"},
    {"{\"v\":0,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_UNSUPPORTED_VERSION,
     "v:"},
    {"{\"v\":1.5,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_UNSUPPORTED_VERSION,
     "v:"},
    {"{\"v\":-1,\"op\":\"acquire\"}", BATON_E_UNSUPPORTED_VERSION, "v:"},
    {"{\"v\":1,\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST,
     "v:"},
    /* op */
    {"{\"v\":1,\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "op"},
    {"{\"v\":1,\"op\":5,\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "op"},
    {"{\"v\":1,\"op\":\"lock\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_UNKNOWN_OP, "op"},
    {"{\"v\":1,\"op\":\"ACQUIRE\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_UNKNOWN_OP, "op"},
    {"{\"v\":1,\"op\":\"\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_UNKNOWN_OP, "op"},
    {"{\"v\":1,\"op\":\"acquire\\u0000\",\"id\":\"r1\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST,
     "op"},
    {"{\"v\":1,\"op\":\"renew\",\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"images/x\"}",
     BATON_E_BAD_REQUEST, "op"},
    /* id */
    {"{\"v\":1,\"op\":\"acquire\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "id"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "id"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r 1\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "id"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":7,\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "id"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":null,\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST, "id"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r\\u00001\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST,
     "id"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\\u0000\":\"r1\",\"resource\":\"images/x\"}", BATON_E_BAD_REQUEST,
     "id"},
    /* resource */
    {"{\"v\":1,\"op\":\"cancel\",\"id\":\"r1\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"reset\",\"id\":\"r1\",\"resource\":\"\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"/a\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a/\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a//b\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a/+\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a/#\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"$SYS/x\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\\u0001\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\\u0085\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\\u007f\"}", BATON_E_BAD_REQUEST, "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\\u0000b\"}", BATON_E_BAD_REQUEST,
     "resource"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":[\"a\"]}", BATON_E_BAD_REQUEST, "resource"},
    /* Unicode noncharacters: mosquitto drops a client publishing them in a topic. */
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"x\\uFDD0y\"}", BATON_E_BAD_REQUEST, "U+FDD0"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\\uFFFFb\"}", BATON_E_BAD_REQUEST, "U+FFFF"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\xef\xb7\xaf\"}", BATON_E_BAD_REQUEST,
     "U+FDEF"},
    {"{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\\uD83F\\uDFFE\"}", BATON_E_BAD_REQUEST,
     "U+1FFFE"},
    /* acquire */
    {ACQ ",\"mode\":\"exclusive\"}", BATON_E_BAD_REQUEST, "mode"},
    /* second edition: permits and max_failures */
    {ACQ ",\"mode\":\"mutex\",\"permits\":0}", BATON_E_BAD_REQUEST, "permits"},
    {ACQ ",\"mode\":\"mutex\",\"permits\":1025}", BATON_E_BAD_REQUEST, "permits"},
    {ACQ ",\"mode\":\"mutex\",\"permits\":1.5}", BATON_E_BAD_REQUEST, "permits"},
    {ACQ ",\"mode\":\"mutex\",\"permits\":\"2\"}", BATON_E_BAD_REQUEST, "permits"},
    {ACQ ",\"mode\":\"mutex\",\"permits\":null}", BATON_E_BAD_REQUEST, "permits"},
    {ACQ ",\"mode\":\"shared\",\"permits\":2}", BATON_E_BAD_REQUEST, "permits"},
    {ACQ ",\"permits\":2}", BATON_E_BAD_REQUEST, "permits"},
    {ACQ ",\"max_failures\":0}", BATON_E_BAD_REQUEST, "max_failures"},
    {ACQ ",\"max_failures\":1001}", BATON_E_BAD_REQUEST, "max_failures"},
    {ACQ ",\"max_failures\":-1}", BATON_E_BAD_REQUEST, "max_failures"},
    {ACQ ",\"max_failures\":true}", BATON_E_BAD_REQUEST, "max_failures"},
    {ACQ ",\"mode\":\"mutex\",\"max_failures\":3}", BATON_E_BAD_REQUEST, "max_failures"},
    {ACQ ",\"mode\":\"shared\",\"max_failures\":3}", BATON_E_BAD_REQUEST, "max_failures"},
    {ACQ ",\"permits\":2,\"permits\":2,\"mode\":\"mutex\"}", BATON_E_BAD_REQUEST, "permits"},
    {ACQ ",\"mode\":null}", BATON_E_BAD_REQUEST, "mode"},
    {ACQ ",\"mode\":\"Once\"}", BATON_E_BAD_REQUEST, "mode"},
    {ACQ ",\"lease_ms\":999}", BATON_E_BAD_REQUEST, "lease_ms"},
    {ACQ ",\"lease_ms\":3600001}", BATON_E_BAD_REQUEST, "lease_ms"},
    {ACQ ",\"lease_ms\":1000.5}", BATON_E_BAD_REQUEST, "lease_ms"},
    {ACQ ",\"lease_ms\":\"30000\"}", BATON_E_BAD_REQUEST, "lease_ms"},
    {ACQ ",\"lease_ms\":-30000}", BATON_E_BAD_REQUEST, "lease_ms"},
    {ACQ ",\"lease_ms\":null}", BATON_E_BAD_REQUEST, "lease_ms"},
    {ACQ ",\"wait_ms\":-1}", BATON_E_BAD_REQUEST, "wait_ms"},
    {ACQ ",\"wait_ms\":9007199254740992}", BATON_E_BAD_REQUEST, "wait_ms"},
    {ACQ ",\"wait_ms\":18446744073709551616}", BATON_E_BAD_REQUEST, "wait_ms"},
    {ACQ ",\"wait_ms\":1e300}", BATON_E_BAD_REQUEST, "wait_ms"},
    {ACQ ",\"wait_ms\":1e999}", BATON_E_BAD_REQUEST, "wait_ms"},
    {ACQ ",\"wait_ms\":0.5}", BATON_E_BAD_REQUEST, "wait_ms"},
    {ACQ ",\"wait_ms\":true}", BATON_E_BAD_REQUEST, "wait_ms"},
    {ACQ ",\"meta\":5}", BATON_E_BAD_REQUEST, "meta"},
    {ACQ ",\"meta\":\"a\\u0000\"}", BATON_E_BAD_REQUEST, "meta"},
    /* renew */
    {REN "}", BATON_E_BAD_REQUEST, "token"},
    {REN ",\"token\":0}", BATON_E_BAD_REQUEST, "token"},
    {REN ",\"token\":-4}", BATON_E_BAD_REQUEST, "token"},
    {REN ",\"token\":9007199254740992}", BATON_E_BAD_REQUEST, "token"},
    {REN ",\"token\":4.5}", BATON_E_BAD_REQUEST, "token"},
    {REN ",\"token\":\"4\"}", BATON_E_BAD_REQUEST, "token"},
    {REN ",\"token\":4,\"token\":4}", BATON_E_BAD_REQUEST, "token"},
    /* release */
    {REL "}", BATON_E_BAD_REQUEST, "success"},
    {REL ",\"success\":\"true\"}", BATON_E_BAD_REQUEST, "success"},
    {REL ",\"success\":1}", BATON_E_BAD_REQUEST, "success"},
    {REL ",\"success\":null}", BATON_E_BAD_REQUEST, "success"},
    {REL ",\"success\":false,\"error\":false}", BATON_E_BAD_REQUEST, "error"},
    {REL ",\"success\":false,\"error\":\"\\u0000\"}", BATON_E_BAD_REQUEST, "error"},
    {REL ",\"success\":true,\"result\":{}}", BATON_E_BAD_REQUEST, "result"},
    {REL ",\"success\":true,\"result\":\"x\\u0000y\"}", BATON_E_BAD_REQUEST, "result"},
    {REL ",\"success\":true,\"remember_ms\":-5}", BATON_E_BAD_REQUEST, "remember_ms"},
    {REL ",\"success\":true,\"remember_ms\":1.25}", BATON_E_BAD_REQUEST, "remember_ms"},
    {"{\"v\":1,\"op\":\"release\",\"id\":\"r1\",\"resource\":\"images/x\",\"success\":true}",
     BATON_E_BAD_REQUEST, "token"},
    /* \u0000 where the op does not look */
    {ACQ ",\"note\":\"a\\u0000\"}", BATON_E_BAD_REQUEST, "note"},
    {ACQ ",\"n\\u0000te\":1}", BATON_E_BAD_REQUEST, "field"},
    {ACQ ",\"x\":{\"y\":[\"\\u0000\"]}}", BATON_E_BAD_REQUEST, "\"x\""},
    {ACQ ",\"token\":\"\\u0000\"}", BATON_E_BAD_REQUEST, "token"},
};

static void test_request_malformed_payloads_exact_code(void **state)
{
	(void)state;
	size_t n = sizeof malformed / sizeof malformed[0];

	assert_true(n >= 40);
	for (size_t i = 0; i < n; i++)
		expect_reject(malformed[i].payload, malformed[i].code, malformed[i].field);
}

static void test_request_raw_nul_bytes_bad_json(void **state)
{
	(void)state;
	static const char inside[] = "{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\0b\"}";
	static const char after[] = "{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\"}\0";
	static const char before[] = "\0{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\"}";

	expect_reject_n(inside, sizeof inside - 1, BATON_E_BAD_JSON, "NUL");
	expect_reject_n(after, sizeof after - 1, BATON_E_BAD_JSON, "payload");
	expect_reject_n(before, sizeof before - 1, BATON_E_BAD_JSON, "payload");
}

/* A valid acquire padded with an unknown field to exactly size bytes. */
static char *padded_acquire(size_t size)
{
	const char *head = "{\"v\":1,\"op\":\"acquire\",\"id\":\"r1\",\"resource\":\"a\",\"pad\":\"";
	size_t hl = strlen(head);
	char *p = malloc(size + 1);
	assert_non_null(p);
	memcpy(p, head, hl);
	memset(p + hl, 'x', size - hl - 2);
	memcpy(p + size - 2, "\"}", 3);
	assert_int_equal(strlen(p), size);
	return p;
}

static void test_request_payload_limit_65536_ok_65537_too_large(void **state)
{
	(void)state;
	wire_request r;
	char *ok = padded_acquire(WIRE_PAYLOAD_MAX), *big = padded_acquire(WIRE_PAYLOAD_MAX + 1);

	decode_ok(ok, &r);
	wire_request_deinit(&r);
	expect_reject(big, BATON_E_TOO_LARGE, "payload");
	/* Size is checked first: even garbage over the limit is too_large. */
	memset(big, 0xff, WIRE_PAYLOAD_MAX + 1);
	expect_reject_n(big, WIRE_PAYLOAD_MAX + 1, BATON_E_TOO_LARGE, "65536");
	free(ok);
	free(big);
}

static void test_request_deep_nesting_bad_json_no_crash(void **state)
{
	(void)state;
	size_t depth = 10000;
	char *open_ = rep('[', depth), *close_ = rep(']', depth), *obj = rep('{', depth);
	char *top = fmt("%s%s", open_, close_);
	char *inner = fmt(ACQ ",\"x\":%s%s}", open_, close_);
	char *objs = fmt("%s", obj);

	expect_reject(top, BATON_E_BAD_JSON, "payload");
	expect_reject(inner, BATON_E_BAD_JSON, "nested");
	expect_reject(objs, BATON_E_BAD_JSON, "payload");
	/* Nesting within the limit in an unknown field is fine. */
	free(inner);
	open_[40] = close_[40] = '\0';
	inner = fmt(ACQ ",\"x\":%s%s}", open_, close_);
	wire_request r;
	decode_ok(inner, &r);
	wire_request_deinit(&r);
	free(open_);
	free(close_);
	free(obj);
	free(top);
	free(inner);
	free(objs);
}

/* Field byte limits, each at the limit (accepted) and one over (rejected). */
static void test_request_field_limits_plus_minus_one(void **state)
{
	(void)state;
	static const struct {
		const char *head, *field;
		size_t max;
	} lims[] = {
	    {ACQ ",\"meta\":\"%s\"}", "meta", WIRE_META_MAX},
	    {REL ",\"success\":false,\"error\":\"%s\"}", "error", WIRE_ERROR_MAX},
	    {REL ",\"success\":true,\"result\":\"%s\"}", "result", WIRE_RESULT_MAX},
	    {"{\"v\":1,\"op\":\"cancel\",\"id\":\"%s\",\"resource\":\"x\"}", "id", NAMES_ID_MAX},
	    {"{\"v\":1,\"op\":\"cancel\",\"id\":\"i\",\"resource\":\"%s\"}", "resource", NAMES_RESOURCE_MAX},
	};
	wire_request r;

	for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++) {
		char *v = rep('m', lims[i].max + 1);
		char *over = fmt(lims[i].head, v);
		v[lims[i].max] = '\0';
		char *at = fmt(lims[i].head, v);
		decode_ok(at, &r);
		wire_request_deinit(&r);
		expect_reject(over, BATON_E_BAD_REQUEST, lims[i].field);
		free(v);
		free(over);
		free(at);
	}
	/* Byte limits count UTF-8 bytes, not characters: 128 x "é" is 256 bytes. */
	char *utf = malloc(2 * 129 + 1);
	for (int i = 0; i < 129; i++)
		memcpy(utf + 2 * i, "\xc3\xa9", 2);
	utf[256] = '\0';
	char *at = fmt(ACQ ",\"meta\":\"%s\"}", utf);
	decode_ok(at, &r);
	wire_request_deinit(&r);
	utf[256] = '\xc3';
	utf[258] = '\0';
	char *over = fmt(ACQ ",\"meta\":\"%s\"}", utf);
	expect_reject(over, BATON_E_BAD_REQUEST, "meta");
	free(utf);
	free(at);
	free(over);
}

static void test_request_number_limits_plus_minus_one(void **state)
{
	(void)state;
	wire_request r;
	static const char *const ok[] = {
	    ACQ ",\"lease_ms\":1000}",
	    ACQ ",\"lease_ms\":3600000}",
	    ACQ ",\"wait_ms\":0}",
	    ACQ ",\"wait_ms\":9007199254740991}",
	    REN ",\"token\":1}",
	    REN ",\"token\":9007199254740991}",
	    REL ",\"success\":true,\"remember_ms\":0}",
	    REL ",\"success\":true,\"remember_ms\":9007199254740991}",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		decode_ok(ok[i], &r);
		wire_request_deinit(&r);
	}
	decode_ok(REN ",\"token\":9007199254740991}", &r);
	assert_int_equal(r.token, WIRE_INT_MAX);
	wire_request_deinit(&r);
	expect_reject(REL ",\"success\":true,\"remember_ms\":9007199254740992}", BATON_E_BAD_REQUEST,
	              "remember_ms");
	expect_reject(REN ",\"token\":-0}", BATON_E_BAD_REQUEST, "token");
}

static void test_request_diag_names_id_and_resource_when_valid(void **state)
{
	(void)state;
	wire_request r;
	wire_diag d;

	/* v is missing, so the code is decided before the id is checked, but
	 * the id and resource are valid and the rejection can name them. */
	const char *p = "{\"op\":\"acquire\",\"id\":\"r9\",\"resource\":\"images/x\"}";
	assert_int_equal(wire_request_decode(p, strlen(p), &r, &d), BATON_E_BAD_REQUEST);
	assert_true(d.has_id);
	assert_string_equal(d.id, "r9");
	assert_true(d.has_resource);
	assert_string_equal(d.resource, "images/x");
	p = "{\"v\":1,\"op\":\"acquire\",\"id\":\"r 9\",\"resource\":\"a//b\",\"lease_ms\":5}";
	assert_int_equal(wire_request_decode(p, strlen(p), &r, &d), BATON_E_BAD_REQUEST);
	assert_false(d.has_id);
	assert_false(d.has_resource);
	assert_non_null(strstr(d.message, "id"));
	p = "{\"v\":1,\"op\":\"acquire\",\"id\":\"r9\",\"resource\":\"images/x\",\"lease_ms\":5}";
	assert_int_equal(wire_request_decode(p, strlen(p), &r, &d), BATON_E_BAD_REQUEST);
	assert_true(d.has_id && d.has_resource);
	assert_string_equal(d.message, "lease_ms: must be an integer from 1000 to 3600000");
	p = "{\"v\":1,\"op\":\"acquire\",\"id\":\"r9\",\"id\":\"r8\",\"resource\":\"images/x\"}";
	assert_int_equal(wire_request_decode(p, strlen(p), &r, &d), BATON_E_BAD_REQUEST);
	assert_false(d.has_id);
	/* NULL diag is fine; NULL out is an invalid argument. */
	assert_int_equal(wire_request_decode("{}", 2, &r, NULL), BATON_E_BAD_REQUEST);
	assert_int_equal(wire_request_decode("{}", 2, NULL, &d), BATON_E_INVAL);
	assert_int_equal(wire_request_decode(NULL, 0, &r, &d), BATON_E_BAD_JSON);
}

static void test_request_encode_invalid_inval(void **state)
{
	(void)state;
	char *out = NULL;
	wire_request bad[] = {
	    {.op = 0, .id = "r", .resource = "x"},
	    {.op = WIRE_OP_CANCEL, .id = NULL, .resource = "x"},
	    {.op = WIRE_OP_CANCEL, .id = "r", .resource = "x/"},
	    {.op = WIRE_OP_ACQUIRE, .id = "r", .resource = "x", .mode = 7},
	    {.op = WIRE_OP_ACQUIRE, .id = "r", .resource = "x", .has_lease = true, .lease_ms = 999},
	    {.op = WIRE_OP_ACQUIRE,
	     .id = "r",
	     .resource = "x",
	     .has_wait = true,
	     .wait_ms = WIRE_INT_MAX + 1},
	    {.op = WIRE_OP_ACQUIRE, .id = "r", .resource = "x", .meta = "\xff"},
	    {.op = WIRE_OP_RENEW, .id = "r", .resource = "x", .token = 0},
	    {.op = WIRE_OP_RELEASE, .id = "r", .resource = "x", .token = WIRE_INT_MAX + 1},
	    {.op = WIRE_OP_ACQUIRE, .id = "r", .resource = "x", .mode = WIRE_MODE_MUTEX, .permits = 1025},
	    {.op = WIRE_OP_ACQUIRE, .id = "r", .resource = "x", .mode = WIRE_MODE_SHARED, .permits = 2},
	    {.op = WIRE_OP_ACQUIRE, .id = "r", .resource = "x", .mode = WIRE_MODE_ONCE, .permits = 2},
	    {.op = WIRE_OP_ACQUIRE, .id = "r", .resource = "x", .max_failures = 1001},
	    {.op = WIRE_OP_ACQUIRE, .id = "r", .resource = "x", .mode = WIRE_MODE_MUTEX, .max_failures = 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(wire_request_encode(&bad[i], &out, NULL), BATON_E_INVAL);
	assert_null(out);
	assert_int_equal(wire_request_encode(NULL, &out, NULL), BATON_E_INVAL);
}

/* ---- answers ---------------------------------------------------------------- */

static bool previous_equal(const wire_previous *a, const wire_previous *b)
{
	return str_eq(a->node, b->node) &&
	       (a->node == NULL ||
	        (a->token == b->token && str_eq(a->error, b->error) && a->reason == b->reason));
}

static bool done_equal(const wire_done *a, const wire_done *b)
{
	return str_eq(a->node, b->node) &&
	       (a->node == NULL || (a->token == b->token && str_eq(a->result, b->result) &&
	                            a->completed_at_ms == b->completed_at_ms));
}

static bool answer_equal(const wire_answer *a, const wire_answer *b)
{
	return a->status == b->status && str_eq(a->id, b->id) && str_eq(a->resource, b->resource) &&
	       a->token == b->token && a->lease_ms == b->lease_ms &&
	       previous_equal(&a->previous, &b->previous) && a->position == b->position &&
	       str_eq(a->holder, b->holder) && done_equal(&a->outcome, &b->outcome) &&
	       a->reason == b->reason && a->code == b->code && str_eq(a->message, b->message) &&
	       a->failures == b->failures && previous_equal(&a->last, &b->last) &&
	       a->last.completed_at_ms == b->last.completed_at_ms;
}

#define RES "images/nginx:1.25"

static const wire_answer answers[] = {
    {.status = WIRE_ST_GRANTED, .id = "r1", .resource = RES, .token = 43, .lease_ms = 30000},
    {.status = WIRE_ST_GRANTED,
     .id = "r1",
     .resource = RES,
     .token = 44,
     .lease_ms = 30000,
     .previous = {.node = "n1", .token = 43, .error = "exit status 1", .reason = WIRE_REASON_RELEASED}},
    {.status = WIRE_ST_GRANTED,
     .id = "r1",
     .resource = RES,
     .token = 45,
     .lease_ms = 3600000,
     .previous = {.node = "n2", .token = 44, .reason = WIRE_REASON_NODE_OFFLINE}},
    {.status = WIRE_ST_QUEUED, .id = "r1", .resource = RES, .position = 1, .holder = "n1"},
    {.status = WIRE_ST_DONE,
     .id = "r1",
     .resource = RES,
     .outcome = {.node = "n1", .token = 42, .result = "sha256:abc", .completed_at_ms = T_2026}},
    {.status = WIRE_ST_DONE,
     .id = "r1",
     .resource = RES,
     .outcome = {.node = "n1", .token = 42, .completed_at_ms = 0}},
    {.status = WIRE_ST_BUSY, .id = "r1", .resource = RES, .holder = "n1"},
    {.status = WIRE_ST_RENEWED, .id = "r2", .resource = RES, .token = 43, .lease_ms = 1000},
    {.status = WIRE_ST_RELEASED, .id = "r3", .resource = RES, .token = WIRE_INT_MAX},
    {.status = WIRE_ST_CANCELLED, .id = "r4", .resource = RES},
    {.status = WIRE_ST_RESET, .id = "r5", .resource = RES},
    {.status = WIRE_ST_REVOKED,
     .id = "r1",
     .resource = RES,
     .token = 43,
     .reason = WIRE_REASON_LEASE_EXPIRED},
    {.status = WIRE_ST_REVOKED, .id = "r1", .resource = RES, .token = 43, .reason = WIRE_REASON_NODE_OFFLINE},
    {.status = WIRE_ST_REJECTED,
     .id = "r6",
     .resource = RES,
     .code = BATON_E_NOT_HOLDER,
     .message = "token: 41 is not your holding"},
    {.status = WIRE_ST_REJECTED,
     .code = BATON_E_BAD_JSON,
     .message = "payload: not valid JSON: truncated at byte 9"},
    {.status = WIRE_ST_REJECTED, .id = "r7", .code = BATON_E_BAD_REQUEST, .message = "resource: missing"},
    {.status = WIRE_ST_REJECTED,
     .id = "r8",
     .resource = RES,
     .code = BATON_E_MODE_CONFLICT,
     .message = "mode"},
    /* second edition */
    {.status = WIRE_ST_FAILED,
     .id = "r9",
     .resource = RES,
     .failures = 3,
     .last = {.node = "n4",
              .token = 47,
              .error = "manifest unknown",
              .reason = WIRE_REASON_RELEASED,
              .completed_at_ms = T_2026}},
    {.status = WIRE_ST_FAILED,
     .id = "r9",
     .resource = RES,
     .failures = 1,
     .last = {.node = "n4", .token = 47, .reason = WIRE_REASON_LEASE_EXPIRED, .completed_at_ms = 1}},
};

static void test_answer_every_status_round_trips_equal(void **state)
{
	(void)state;
	bool seen[WIRE_ST_FAILED + 1] = {false};

	for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
		char *text;
		size_t len;
		wire_answer back;
		assert_int_equal(wire_answer_encode(&answers[i], &text, &len), BATON_OK);
		assert_int_equal(wire_answer_decode(text, len, &back), BATON_OK);
		if (!answer_equal(&answers[i], &back))
			fail_msg("answer round trip changed %s", text);
		seen[back.status] = true;
		wire_answer_deinit(&back);
		free(text);
	}
	for (int st = WIRE_ST_GRANTED; st <= WIRE_ST_FAILED; st++)
		assert_true(seen[st]);
}

static void expect_answer_text(const wire_answer *a, const char *want)
{
	char *text;
	assert_int_equal(wire_answer_encode(a, &text, NULL), BATON_OK);
	assert_string_equal(text, want);
	free(text);
}

static void test_answer_golden_texts_match_contract(void **state)
{
	(void)state;
	expect_answer_text(&answers[1],
	                   "{\"v\":1,\"status\":\"granted\",\"id\":\"r1\",\"resource\":\"" RES
	                   "\",\"token\":44,\"lease_ms\":30000,\"previous\":{\"node\":\"n1\",\"token\":43,"
	                   "\"error\":\"exit status 1\",\"reason\":\"released\"}}");
	expect_answer_text(&answers[3], "{\"v\":1,\"status\":\"queued\",\"id\":\"r1\",\"resource\":\"" RES
	                                "\",\"position\":1,\"holder\":\"n1\"}");
	expect_answer_text(&answers[4],
	                   "{\"v\":1,\"status\":\"done\",\"id\":\"r1\",\"resource\":\"" RES
	                   "\",\"outcome\":{\"node\":\"n1\",\"token\":42,\"result\":\"sha256:abc\","
	                   "\"completed_at\":\"2026-11-24T10:00:00.123Z\"}}");
	expect_answer_text(&answers[9],
	                   "{\"v\":1,\"status\":\"cancelled\",\"id\":\"r4\",\"resource\":\"" RES "\"}");
	expect_answer_text(&answers[11], "{\"v\":1,\"status\":\"revoked\",\"id\":\"r1\",\"resource\":\"" RES
	                                 "\",\"token\":43,\"reason\":\"lease_expired\"}");
	expect_answer_text(&answers[14], "{\"v\":1,\"status\":\"rejected\",\"code\":\"bad_json\",\"message\":"
	                                 "\"payload: not valid JSON: truncated at byte 9\"}");
	/* Tokens are plain integers, never 1e+15 or 1.0. */
	wire_answer a = {
	    .status = WIRE_ST_RELEASED, .id = "r", .resource = "x", .token = 1000000000000000ull};
	expect_answer_text(&a, "{\"v\":1,\"status\":\"released\",\"id\":\"r\",\"resource\":\"x\",\"token\":"
	                       "1000000000000000}");
	expect_answer_text(
	    &answers[17],
	    "{\"v\":1,\"status\":\"failed\",\"id\":\"r9\",\"resource\":\"" RES
	    "\",\"failures\":3,\"last\":{\"node\":\"n4\",\"token\":47,\"error\":\"manifest "
	    "unknown\",\"reason\":\"released\",\"completed_at\":\"2026-11-24T10:00:00.123Z\"}}");
}

#define LAST_OK                                                                                              \
	{                                                                                                    \
		.node = "n", .token = 1, .reason = WIRE_REASON_RELEASED, .completed_at_ms = 1                \
	}

static void test_answer_encode_invalid_inval(void **state)
{
	(void)state;
	char *out = NULL;
	const wire_answer bad[] = {
	    {.status = 0, .id = "r", .resource = "x"},
	    {.status = WIRE_ST_CANCELLED, .resource = "x"},
	    {.status = WIRE_ST_CANCELLED, .id = "r"},
	    {.status = WIRE_ST_GRANTED, .id = "r", .resource = "x", .token = 0, .lease_ms = 30000},
	    {.status = WIRE_ST_GRANTED, .id = "r", .resource = "x", .token = 1, .lease_ms = 10},
	    {.status = WIRE_ST_GRANTED,
	     .id = "r",
	     .resource = "x",
	     .token = 1,
	     .lease_ms = 30000,
	     .previous = {.node = "n", .token = 1, .reason = WIRE_REASON_NONE}},
	    {.status = WIRE_ST_QUEUED, .id = "r", .resource = "x", .position = 0, .holder = "n"},
	    {.status = WIRE_ST_QUEUED, .id = "r", .resource = "x", .position = 1},
	    {.status = WIRE_ST_DONE, .id = "r", .resource = "x"},
	    {.status = WIRE_ST_BUSY, .id = "r", .resource = "x", .holder = "bad holder"},
	    {.status = WIRE_ST_REVOKED,
	     .id = "r",
	     .resource = "x",
	     .token = 1,
	     .reason = WIRE_REASON_RELEASED},
	    {.status = WIRE_ST_REJECTED, .code = BATON_E_NOMEM, .message = "m"},
	    {.status = WIRE_ST_REJECTED, .code = BATON_E_BAD_JSON},
	    {.status = WIRE_ST_FAILED, .id = "r", .resource = "x", .failures = 0, .last = LAST_OK},
	    {.status = WIRE_ST_FAILED, .id = "r", .resource = "x", .failures = 1001, .last = LAST_OK},
	    {.status = WIRE_ST_FAILED, .id = "r", .resource = "x", .failures = 1},
	    {.status = WIRE_ST_FAILED,
	     .id = "r",
	     .resource = "x",
	     .failures = 1,
	     .last = {.node = "n", .token = 1, .reason = WIRE_REASON_RELEASED, .completed_at_ms = -5}},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (wire_answer_encode(&bad[i], &out, NULL) != BATON_E_INVAL)
			fail_msg("bad answer %zu encoded", i);
	assert_null(out);
}

static void test_answer_decode_malformed_protocol(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "not json",
	    "[]",
	    "{\"status\":\"cancelled\",\"id\":\"r\",\"resource\":\"x\"}",
	    "{\"v\":2,\"status\":\"cancelled\",\"id\":\"r\",\"resource\":\"x\"}",
	    "{\"v\":1,\"status\":\"granted!\",\"id\":\"r\",\"resource\":\"x\"}",
	    "{\"v\":1,\"status\":\"granted\",\"id\":\"r\",\"resource\":\"x\",\"lease_ms\":30000}",
	    "{\"v\":1,\"status\":\"granted\",\"id\":\"r\",\"resource\":\"x\",\"token\":1,\"lease_ms\":30000,"
	    "\"previous\":{\"node\":\"n\"}}",
	    "{\"v\":1,\"status\":\"queued\",\"id\":\"r\",\"resource\":\"x\",\"position\":0,\"holder\":\"n\"}",
	    "{\"v\":1,\"status\":\"done\",\"id\":\"r\",\"resource\":\"x\",\"outcome\":null}",
	    "{\"v\":1,\"status\":\"done\",\"id\":\"r\",\"resource\":\"x\",\"outcome\":{\"node\":\"n\","
	    "\"token\":1,"
	    "\"completed_at\":\"yesterday\"}}",
	    "{\"v\":1,\"status\":\"busy\",\"id\":\"r\",\"resource\":\"x\"}",
	    "{\"v\":1,\"status\":\"revoked\",\"id\":\"r\",\"resource\":\"x\",\"token\":1,\"reason\":"
	    "\"released\"}",
	    "{\"v\":1,\"status\":\"rejected\",\"code\":5,\"message\":\"m\"}",
	    "{\"v\":1,\"status\":\"cancelled\",\"id\":\"r 1\",\"resource\":\"x\"}",
	    "{\"v\":1,\"status\":\"cancelled\",\"id\":\"r\"}",
	    "{\"v\":1,\"status\":\"cancelled\",\"id\":\"r\\u0000\",\"resource\":\"x\"}",
	    "{\"v\":1,\"status\":\"failed\",\"id\":\"r\",\"resource\":\"x\",\"failures\":0,\"last\":{"
	    "\"node\":"
	    "\"n\",\"token\":1,\"reason\":\"released\",\"completed_at\":\"2026-11-24T10:00:00.123Z\"}}",
	    "{\"v\":1,\"status\":\"failed\",\"id\":\"r\",\"resource\":\"x\",\"failures\":2}",
	    "{\"v\":1,\"status\":\"failed\",\"id\":\"r\",\"resource\":\"x\",\"failures\":2,\"last\":{"
	    "\"node\":"
	    "\"n\",\"token\":1,\"reason\":\"released\"}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		wire_answer a;
		memset(&a, 0x5A, sizeof a);
		if (wire_answer_decode(bad[i], strlen(bad[i]), &a) != BATON_E_PROTOCOL)
			fail_msg("answer %s decoded", bad[i]);
		assert_true(all_zero(&a, sizeof a));
	}
}

static void test_answer_decode_unknown_fields_and_code_tolerated(void **state)
{
	(void)state;
	wire_answer a;
	const char *p =
	    "{\"later\":[1],\"v\":1,\"status\":\"rejected\",\"code\":\"from_the_future\",\"message\":\"m\"}";

	assert_int_equal(wire_answer_decode(p, strlen(p), &a), BATON_OK);
	assert_int_equal(a.code, BATON_E_PROTOCOL);
	assert_null(a.id);
	assert_null(a.resource);
	wire_answer_deinit(&a);
	wire_answer_deinit(NULL);
}

/* ---- outcome, snapshot, presence, stats --------------------------------------- */

static const wire_outcome outcomes[] = {
    {.resource = RES,
     .mode = WIRE_MODE_ONCE,
     .node = "n1",
     .token = 42,
     .success = false,
     .error = "exit status 1",
     .reason = WIRE_REASON_RELEASED,
     .completed_at_ms = T_2026},
    {.resource = RES,
     .mode = WIRE_MODE_ONCE,
     .node = "n1",
     .token = 42,
     .success = true,
     .result = "ok",
     .reason = WIRE_REASON_RELEASED,
     .completed_at_ms = T_2026},
    {.resource = "m", .mode = WIRE_MODE_MUTEX, .node = "n2", .token = 7, .reason = WIRE_REASON_LEASE_EXPIRED},
    {.resource = "m", .mode = WIRE_MODE_MUTEX, .node = "n2", .token = 8, .reason = WIRE_REASON_NODE_OFFLINE},
};

static void test_outcome_round_trip_and_golden(void **state)
{
	(void)state;
	char *text;
	size_t len;

	assert_int_equal(wire_outcome_encode(&outcomes[0], &text, &len), BATON_OK);
	assert_string_equal(
	    text, "{\"v\":1,\"resource\":\"images/nginx:1.25\",\"mode\":\"once\",\"node\":\"n1\","
	          "\"token\":42,\"success\":false,\"error\":\"exit status 1\",\"reason\":\"released\","
	          "\"completed_at\":\"2026-11-24T10:00:00.123Z\"}");
	free(text);
	for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
		const wire_outcome *o = &outcomes[i];
		wire_outcome b;
		assert_int_equal(wire_outcome_encode(o, &text, &len), BATON_OK);
		assert_int_equal(wire_outcome_decode(text, len, &b), BATON_OK);
		assert_true(str_eq(o->resource, b.resource) && o->mode == b.mode && str_eq(o->node, b.node) &&
		            o->token == b.token && o->success == b.success && str_eq(o->error, b.error) &&
		            str_eq(o->result, b.result) && o->reason == b.reason &&
		            o->completed_at_ms == b.completed_at_ms);
		wire_outcome_deinit(&b);
		free(text);
	}
	wire_outcome bad = outcomes[0];
	bad.reason = WIRE_REASON_NONE;
	assert_int_equal(wire_outcome_encode(&bad, &text, NULL), BATON_E_INVAL);
	bad = outcomes[0];
	bad.completed_at_ms = -1;
	assert_int_equal(wire_outcome_encode(&bad, &text, NULL), BATON_E_INVAL);
	wire_outcome o;
	const char *p =
	    "{\"v\":1,\"resource\":\"r\",\"mode\":\"once\",\"node\":\"n\",\"token\":1,\"success\":\"no\","
	    "\"reason\":\"released\",\"completed_at\":\"2026-11-24T10:00:00Z\"}";
	assert_int_equal(wire_outcome_decode(p, strlen(p), &o), BATON_E_PROTOCOL);
}

static const char *const waiting2[] = {"n3", "n4"};
static const wire_holding holders3[] = {{"n1", 5, WIRE_MODE_SHARED, T_2026, T_2026 + 30000},
                                        {"n2", 6, WIRE_MODE_SHARED, T_2026, T_2026 + 30000},
                                        {"n5", 8, WIRE_MODE_SHARED, T_2026 + 1, T_2026 + 1000}};
static const wire_queued queue2[] = {{"n3", WIRE_MODE_MUTEX}, {"n4", WIRE_MODE_SHARED}};
static const wire_holding holders2m[] = {{"n1", 5, WIRE_MODE_MUTEX, T_2026, T_2026 + 30000},
                                         {"n2", 7, WIRE_MODE_MUTEX, T_2026, T_2026 + 30000}};

static const wire_snapshot snapshots[] = {
    {.resource = RES,
     .mode = WIRE_MODE_ONCE,
     .holder = "n2",
     .token = 43,
     .since_ms = T_2026,
     .lease_until_ms = T_2026 + 30000,
     .waiting = waiting2,
     .n_waiting = 2},
    {.resource = RES,
     .mode = WIRE_MODE_ONCE,
     .done = {.node = "n1", .token = 42, .result = "r", .completed_at_ms = T_2026}},
    {.resource = "m",
     .mode = WIRE_MODE_MUTEX,
     .holder = "n2",
     .token = 9,
     .since_ms = 1,
     .lease_until_ms = 2,
     .meta = "job 7",
     .previous = {.node = "n1", .token = 8, .error = "killed", .reason = WIRE_REASON_LEASE_EXPIRED}},
    {.resource = "idle", .mode = WIRE_MODE_MUTEX},
    /* second edition: three readers and a writer queued behind them */
    {.resource = "db",
     .mode = WIRE_MODE_SHARED,
     .holder = "n1",
     .token = 5,
     .since_ms = T_2026,
     .lease_until_ms = T_2026 + 30000,
     .holders = holders3,
     .n_holders = 3,
     .waiting = waiting2,
     .n_waiting = 2,
     .queue = queue2,
     .n_queue = 2},
    /* a semaphore of 2 */
    {.resource = "pool",
     .mode = WIRE_MODE_MUTEX,
     .holder = "n1",
     .token = 5,
     .since_ms = T_2026,
     .lease_until_ms = T_2026 + 30000,
     .holders = holders2m,
     .n_holders = 2,
     .permits = 2},
    /* a once resource remembered only by its streak */
    {.resource = RES,
     .mode = WIRE_MODE_ONCE,
     .previous = {.node = "n4", .token = 47, .error = "manifest unknown", .reason = WIRE_REASON_RELEASED},
     .failures = 3,
     .last_failure = {.node = "n4",
                      .token = 47,
                      .error = "manifest unknown",
                      .reason = WIRE_REASON_RELEASED,
                      .completed_at_ms = T_2026}},
};

/* a as the decoder reads it back: first-edition fields alone come back as
 * one holding and a queue in the snapshot's mode. */
static bool snapshot_lists_equal(const wire_snapshot *a, const wire_snapshot *b)
{
	if (a->n_holders == 0 && a->holder != NULL)
		return b->n_holders == 1 && str_eq(b->holders[0].node, a->holder) &&
		       b->holders[0].token == a->token && b->holders[0].mode == a->mode &&
		       b->n_queue == a->n_waiting;
	if (a->n_queue == 0 && a->n_waiting > 0)
		return b->n_queue == a->n_waiting && b->n_holders == a->n_holders;
	if (a->n_holders != b->n_holders || a->n_queue != b->n_queue ||
	    (a->permits > 1) != (b->permits > 1) || (a->permits > 1 && a->permits != b->permits) ||
	    a->failures != b->failures)
		return false;
	for (size_t i = 0; i < a->n_holders; i++) {
		const wire_holding *x = &a->holders[i], *y = &b->holders[i];
		if (!str_eq(x->node, y->node) || x->token != y->token || x->mode != y->mode ||
		    x->since_ms != y->since_ms || x->lease_until_ms != y->lease_until_ms)
			return false;
	}
	for (size_t i = 0; i < a->n_queue; i++)
		if (!str_eq(a->queue[i].node, b->queue[i].node) || a->queue[i].mode != b->queue[i].mode)
			return false;
	return a->failures == 0 || (previous_equal(&a->last_failure, &b->last_failure) &&
	                            a->last_failure.completed_at_ms == b->last_failure.completed_at_ms);
}

static bool snapshot_equal(const wire_snapshot *a, const wire_snapshot *b)
{
	if (!snapshot_lists_equal(a, b))
		return false;
	if (!str_eq(a->resource, b->resource) || a->mode != b->mode || !str_eq(a->holder, b->holder) ||
	    !str_eq(a->meta, b->meta) || a->n_waiting != b->n_waiting || !done_equal(&a->done, &b->done) ||
	    !previous_equal(&a->previous, &b->previous))
		return false;
	if (a->holder != NULL &&
	    (a->token != b->token || a->since_ms != b->since_ms || a->lease_until_ms != b->lease_until_ms))
		return false;
	for (size_t i = 0; i < a->n_waiting; i++)
		if (!str_eq(a->waiting[i], b->waiting[i]))
			return false;
	return true;
}

static void test_snapshot_round_trip_and_golden(void **state)
{
	(void)state;
	char *text;
	size_t len;

	wire_snapshot s = snapshots[0];
	s.lease_until_ms = T_2026;
	assert_int_equal(wire_snapshot_encode(&s, &text, &len), BATON_OK);
	assert_string_equal(text,
	                    "{\"v\":1,\"resource\":\"images/nginx:1.25\",\"mode\":\"once\",\"holder\":\"n2\","
	                    "\"token\":43,\"since\":\"2026-11-24T10:00:00.123Z\",\"lease_until\":"
	                    "\"2026-11-24T10:00:00.123Z\",\"waiting\":[\"n3\",\"n4\"],\"done\":null,"
	                    "\"holders\":[{\"node\":\"n2\",\"token\":43,\"mode\":\"once\",\"since\":"
	                    "\"2026-11-24T10:00:00.123Z\",\"lease_until\":\"2026-11-24T10:00:00.123Z\"}],"
	                    "\"queue\":[{\"node\":\"n3\",\"mode\":\"once\"},{\"node\":\"n4\",\"mode\":"
	                    "\"once\"}]}");
	free(text);
	assert_int_equal(wire_snapshot_encode(&snapshots[3], &text, &len), BATON_OK);
	assert_string_equal(
	    text, "{\"v\":1,\"resource\":\"idle\",\"mode\":\"mutex\",\"holder\":null,\"waiting\":[],"
	          "\"done\":null,\"holders\":[],\"queue\":[]}");
	free(text);
	for (size_t i = 0; i < sizeof snapshots / sizeof snapshots[0]; i++) {
		wire_snapshot b;
		assert_int_equal(wire_snapshot_encode(&snapshots[i], &text, &len), BATON_OK);
		assert_int_equal(wire_snapshot_decode(text, len, &b), BATON_OK);
		if (!snapshot_equal(&snapshots[i], &b))
			fail_msg("snapshot round trip changed %s", text);
		wire_snapshot_deinit(&b);
		free(text);
	}
	s = snapshots[0];
	s.waiting = NULL;
	assert_int_equal(wire_snapshot_encode(&s, &text, NULL), BATON_E_INVAL);
	s = snapshots[0];
	s.token = 0;
	assert_int_equal(wire_snapshot_encode(&s, &text, NULL), BATON_E_INVAL);
	wire_snapshot b;
	const char *p =
	    "{\"v\":1,\"resource\":\"r\",\"mode\":\"once\",\"holder\":null,\"waiting\":[\"a b\"]}";
	assert_int_equal(wire_snapshot_decode(p, strlen(p), &b), BATON_E_PROTOCOL);
	wire_snapshot_deinit(NULL);
}

/* Second edition: several holders, a queue with modes, permits, the
 * streak; and what the encoder refuses and the decoder rejects. */
static void test_snapshot_shapes_golden_and_rejections(void **state)
{
	(void)state;
	char *text;
	assert_int_equal(wire_snapshot_encode(&snapshots[5], &text, NULL), BATON_OK);
	assert_string_equal(
	    text, "{\"v\":1,\"resource\":\"pool\",\"mode\":\"mutex\",\"holder\":\"n1\",\"token\":5,"
	          "\"since\":\"2026-11-24T10:00:00.123Z\",\"lease_until\":\"2026-11-24T10:00:30.123Z\","
	          "\"waiting\":[],\"done\":null,\"holders\":[{\"node\":\"n1\",\"token\":5,\"mode\":"
	          "\"mutex\",\"since\":\"2026-11-24T10:00:00.123Z\",\"lease_until\":\"2026-11-24T10:00:"
	          "30.123Z\"},{\"node\":\"n2\",\"token\":7,\"mode\":\"mutex\",\"since\":\"2026-11-24T10:"
	          "00:00.123Z\",\"lease_until\":\"2026-11-24T10:00:30.123Z\"}],\"queue\":[],\"permits\":2}");
	free(text);
	assert_int_equal(wire_snapshot_encode(&snapshots[6], &text, NULL), BATON_OK);
	assert_string_equal(
	    text, "{\"v\":1,\"resource\":\"" RES "\",\"mode\":\"once\",\"holder\":null,\"waiting\":[],"
	          "\"done\":null,\"previous\":{\"node\":\"n4\",\"token\":47,\"error\":\"manifest unknown\","
	          "\"reason\":\"released\"},\"holders\":[],\"queue\":[],\"failures\":3,\"last_failure\":"
	          "{\"node\":\"n4\",\"token\":47,\"error\":\"manifest unknown\",\"reason\":\"released\","
	          "\"completed_at\":\"2026-11-24T10:00:00.123Z\"}}");
	free(text);
	wire_snapshot s = snapshots[4];
	s.holders = NULL;
	assert_int_equal(wire_snapshot_encode(&s, &text, NULL), BATON_E_INVAL);
	wire_holding out_of_order[] = {holders3[1], holders3[0]};
	s = snapshots[4];
	s.holders = out_of_order;
	s.n_holders = 2;
	assert_int_equal(wire_snapshot_encode(&s, &text, NULL), BATON_E_INVAL);
	s = snapshots[5];
	s.permits = WIRE_PERMITS_MAX + 1;
	assert_int_equal(wire_snapshot_encode(&s, &text, NULL), BATON_E_INVAL);
	s = snapshots[6];
	s.last_failure.node = NULL;
	assert_int_equal(wire_snapshot_encode(&s, &text, NULL), BATON_E_INVAL);
	static const char *const bad[] = {
	    "{\"v\":1,\"resource\":\"r\",\"mode\":\"once\",\"holder\":null,\"holders\":{}}",
	    "{\"v\":1,\"resource\":\"r\",\"mode\":\"once\",\"holder\":null,\"holders\":[{\"node\":\"n\"}]}",
	    "{\"v\":1,\"resource\":\"r\",\"mode\":\"once\",\"holder\":null,\"queue\":[{\"node\":\"n\","
	    "\"mode\":"
	    "\"x\"}]}",
	    "{\"v\":1,\"resource\":\"r\",\"mode\":\"mutex\",\"holder\":null,\"permits\":0}",
	    "{\"v\":1,\"resource\":\"r\",\"mode\":\"once\",\"holder\":null,\"failures\":2}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		wire_snapshot b;
		if (wire_snapshot_decode(bad[i], strlen(bad[i]), &b) != BATON_E_PROTOCOL)
			fail_msg("snapshot %s decoded", bad[i]);
	}
}

static void test_presence_node_and_coordinator_golden_round_trip(void **state)
{
	(void)state;
	char *text;
	size_t len;
	wire_presence b;
	const wire_presence node = {.node = "n1", .online = true};
	const wire_presence coord = {.online = true, .version = "0.1.0", .started_at_ms = T_2026};
	const wire_presence will = {.online = false};

	assert_int_equal(wire_presence_encode(&node, &text, &len), BATON_OK);
	assert_string_equal(text, "{\"v\":1,\"node\":\"n1\",\"online\":true}");
	assert_int_equal(wire_presence_decode(text, len, &b), BATON_OK);
	assert_string_equal(b.node, "n1");
	assert_true(b.online);
	wire_presence_deinit(&b);
	free(text);
	assert_int_equal(wire_presence_encode(&coord, &text, &len), BATON_OK);
	assert_string_equal(
	    text,
	    "{\"v\":1,\"online\":true,\"version\":\"0.1.0\",\"started_at\":\"2026-11-24T10:00:00.123Z\"}");
	assert_int_equal(wire_presence_decode(text, len, &b), BATON_OK);
	assert_null(b.node);
	assert_string_equal(b.version, "0.1.0");
	assert_int_equal(b.started_at_ms, T_2026);
	wire_presence_deinit(&b);
	free(text);
	assert_int_equal(wire_presence_encode(&will, &text, &len), BATON_OK);
	assert_string_equal(text, "{\"v\":1,\"online\":false}");
	free(text);
	const wire_presence bad = {.node = "n1", .version = "x"};
	assert_int_equal(wire_presence_encode(&bad, &text, NULL), BATON_E_INVAL);
	const wire_presence bad_node = {.node = "n1", .instance = "i1"};
	assert_int_equal(wire_presence_encode(&bad_node, &text, NULL), BATON_E_INVAL);
	assert_int_equal(wire_presence_decode("{\"v\":1,\"online\":1}", 19, &b), BATON_E_PROTOCOL);
	wire_presence_deinit(NULL);
}

/* PROTOCOL.md "Coordinator identity": the instance id, in the presence and
 * its Will, and whether the coordinator serves (and why not). */
static void test_presence_coordinator_instance_and_serving_round_trip(void **state)
{
	(void)state;
	char *text;
	size_t len;
	wire_presence b;
	const wire_presence up = {.online = true, .started_at_ms = T_2026, .instance = "c-0a1b"};
	const wire_presence stalled = {.online = true,
	                               .instance = "c-0a1b",
	                               .not_serving = true,
	                               .reason = "state commits fail: disk full"};
	const wire_presence will = {.online = false, .instance = "c-0a1b"};

	assert_int_equal(wire_presence_encode(&up, &text, &len), BATON_OK);
	assert_string_equal(text, "{\"v\":1,\"online\":true,\"started_at\":\"2026-11-24T10:00:00.123Z\","
	                          "\"instance\":\"c-0a1b\",\"serving\":true}");
	assert_int_equal(wire_presence_decode(text, len, &b), BATON_OK);
	assert_string_equal(b.instance, "c-0a1b");
	assert_false(b.not_serving);
	wire_presence_deinit(&b);
	free(text);
	assert_int_equal(wire_presence_encode(&stalled, &text, &len), BATON_OK);
	assert_string_equal(text, "{\"v\":1,\"online\":true,\"instance\":\"c-0a1b\",\"serving\":false,"
	                          "\"reason\":\"state commits fail: disk full\"}");
	assert_int_equal(wire_presence_decode(text, len, &b), BATON_OK);
	assert_true(b.not_serving);
	assert_string_equal(b.reason, "state commits fail: disk full");
	wire_presence_deinit(&b);
	free(text);
	assert_int_equal(wire_presence_encode(&will, &text, &len), BATON_OK);
	assert_string_equal(text, "{\"v\":1,\"online\":false,\"instance\":\"c-0a1b\"}");
	free(text);
	const wire_presence bad = {.online = true, .instance = "a b"};
	assert_int_equal(wire_presence_encode(&bad, &text, NULL), BATON_E_INVAL);
	assert_int_equal(wire_presence_decode(S("{\"v\":1,\"online\":true,\"instance\":7}"), &b),
	                 BATON_E_PROTOCOL);
	assert_int_equal(wire_presence_decode(S("{\"v\":1,\"online\":true,\"serving\":\"no\"}"), &b),
	                 BATON_E_PROTOCOL);
}

/* The coordinator reads the retained P/stats at start for its token floor. */
static void test_stats_decode_floor_fields(void **state)
{
	(void)state;
	char *text;
	size_t len;
	wire_stats b;
	const wire_stats s = {
	    .at_ms = T_2026, .grants = 4, .next_token = 77, .not_serving = true, .reason = "broker away"};

	assert_int_equal(wire_stats_encode(&s, &text, &len), BATON_OK);
	assert_int_equal(wire_stats_decode(text, len, &b), BATON_OK);
	assert_int_equal(b.at_ms, T_2026);
	assert_int_equal(b.next_token, 77);
	assert_int_equal(b.grants, 4);
	assert_true(b.not_serving);
	assert_string_equal(b.reason, "broker away");
	wire_stats_deinit(&b);
	free(text);
	/* An older coordinator's stats (no "serving") read as serving. */
	assert_int_equal(
	    wire_stats_decode(S("{\"v\":1,\"at\":\"2026-11-24T10:00:00.123Z\",\"next_token\":9}"), &b),
	    BATON_OK);
	assert_int_equal(b.next_token, 9);
	assert_false(b.not_serving);
	wire_stats_deinit(&b);
	assert_int_equal(wire_stats_decode(S("{\"v\":1,\"next_token\":9}"), &b), BATON_E_PROTOCOL);
	assert_int_equal(
	    wire_stats_decode(S("{\"v\":1,\"at\":\"2026-11-24T10:00:00.123Z\",\"next_token\":0}"), &b),
	    BATON_E_PROTOCOL);
	assert_int_not_equal(wire_stats_decode(S("not json"), &b), BATON_OK);
	wire_stats_deinit(&b);
}

static void test_stats_encode_integers_exact(void **state)
{
	(void)state;
	char *text;
	size_t len;
	const wire_stats s = {.at_ms = T_2026,
	                      .uptime_ms = 5,
	                      .requests = 10,
	                      .grants = 4,
	                      .handoffs = 1,
	                      .rejections = 2,
	                      .held = 3,
	                      .waiters = 6,
	                      .remembered = 7,
	                      .backlog = 0,
	                      .next_token = UINT64_MAX};

	assert_int_equal(wire_stats_encode(&s, &text, &len), BATON_OK);
	assert_string_equal(text,
	                    "{\"v\":1,\"at\":\"2026-11-24T10:00:00.123Z\",\"uptime_ms\":5,\"requests\":10,"
	                    "\"grants\":4,\"handoffs\":1,\"rejections\":2,\"held\":3,\"waiters\":6,"
	                    "\"remembered\":7,\"backlog\":0,\"next_token\":18446744073709551615,"
	                    "\"serving\":true}");
	free(text);
	const wire_stats bad = {.at_ms = -5};
	assert_int_equal(wire_stats_encode(&bad, &text, NULL), BATON_E_INVAL);
}

/* ---- time -------------------------------------------------------------------- */

static void test_time_format_parse_round_trip(void **state)
{
	(void)state;
	char buf[32];
	int64_t ms;
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000Z"},
	    {T_2026, "2026-11-24T10:00:00.123Z"},
	    {1709251199999LL, "2024-02-29T23:59:59.999Z"},
	    {951782400000LL, "2000-02-29T00:00:00.000Z"},
	    {-1, "1969-12-31T23:59:59.999Z"},
	    {253402300799999LL, "9999-12-31T23:59:59.999Z"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		wire_time_format(cases[i].ms, buf, 25);
		assert_string_equal(buf, cases[i].text);
		assert_int_equal(wire_time_parse(cases[i].text, &ms), BATON_OK);
		assert_int_equal(ms, cases[i].ms);
	}
	wire_time_format(INT64_MAX, buf, sizeof buf);
	assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
	wire_time_format(INT64_MIN, buf, sizeof buf);
	assert_string_equal(buf, "0000-01-01T00:00:00.000Z");
	assert_int_equal(wire_time_parse("2026-11-24T10:00:00Z", &ms), BATON_OK);
	assert_int_equal(ms, T_2026 - 123);
	static const char *const bad[] = {"",
	                                  "2026-11-24",
	                                  "2026-11-24T10:00:00.12Z",
	                                  "2026-11-24T10:00:00.1234Z",
	                                  "2026-11-24 10:00:00.123Z",
	                                  "2026-13-24T10:00:00.123Z",
	                                  "2026-02-29T10:00:00.123Z",
	                                  "2026-04-31T10:00:00.123Z",
	                                  "2026-11-24T24:00:00.123Z",
	                                  "2026-11-24T10:60:00.123Z",
	                                  "2026-11-24T10:00:60.123Z",
	                                  "2026-11-24T10:00:00.123",
	                                  "2026-11-24T10:00:00.123+00:00",
	                                  "2026-1a-24T10:00:00.123Z"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(wire_time_parse(bad[i], &ms), BATON_E_INVAL);
}

static void test_enum_names_outside_enum_null(void **state)
{
	(void)state;
	assert_string_equal(wire_op_name(WIRE_OP_RESET), "reset");
	assert_null(wire_op_name((wire_op)0));
	assert_null(wire_op_name((wire_op)6));
	assert_string_equal(wire_mode_name(WIRE_MODE_MUTEX), "mutex");
	assert_string_equal(wire_mode_name(WIRE_MODE_SHARED), "shared");
	assert_null(wire_mode_name((wire_mode)3));
	assert_string_equal(wire_status_name(WIRE_ST_REJECTED), "rejected");
	assert_string_equal(wire_status_name(WIRE_ST_FAILED), "failed");
	assert_null(wire_status_name((wire_status)12));
	assert_null(wire_reason_name(WIRE_REASON_NONE));
	assert_string_equal(wire_reason_name(WIRE_REASON_NODE_OFFLINE), "node_offline");
}

/* ---- out of memory ------------------------------------------------------------- */

static size_t oom_budget, oom_live;

static void *oom_malloc(size_t n)
{
	if (oom_budget == 0)
		return NULL;
	oom_budget--;
	void *p = malloc(n);
	if (p != NULL)
		oom_live++;
	return p;
}

static void oom_free(void *p)
{
	if (p == NULL)
		return;
	oom_live--;
	free(p);
}

/* One codec call under a budget of allocations; cleans up after itself. */
typedef baton_err (*oom_case)(void);

static baton_err oom_request_decode(void)
{
	const char *p = "{\"v\":1,\"op\":\"release\",\"id\":\"r3\",\"resource\":\"images/x\",\"token\":43,"
	                "\"success\":false,\"error\":\"e\",\"result\":\"r\",\"extra\":[1,{\"a\":\"b\"}]}";
	wire_request r;
	baton_err err = wire_request_decode(p, strlen(p), &r, NULL);
	if (err != BATON_OK)
		assert_true(all_zero(&r, sizeof r));
	wire_request_deinit(&r);
	return err;
}

static baton_err oom_answer_decode(void)
{
	char *text;
	wire_answer a;
	baton_err err = wire_answer_encode(&answers[1], &text, NULL);
	if (err != BATON_OK)
		return err;
	err = wire_answer_decode(text, strlen(text), &a);
	wire_answer_deinit(&a);
	oom_free(text);
	return err;
}

static baton_err oom_snapshot_decode(void)
{
	char *text;
	wire_snapshot s;
	baton_err err = wire_snapshot_encode(&snapshots[0], &text, NULL);
	if (err != BATON_OK)
		return err;
	err = wire_snapshot_decode(text, strlen(text), &s);
	wire_snapshot_deinit(&s);
	oom_free(text);
	return err;
}

static baton_err oom_outcome_decode(void)
{
	char *text;
	wire_outcome o;
	baton_err err = wire_outcome_encode(&outcomes[0], &text, NULL);
	if (err != BATON_OK)
		return err;
	err = wire_outcome_decode(text, strlen(text), &o);
	wire_outcome_deinit(&o);
	oom_free(text);
	return err;
}

static baton_err oom_presence_decode(void)
{
	char *text;
	wire_presence p;
	const wire_presence coord = {.online = true, .version = "0.1.0", .started_at_ms = T_2026};
	baton_err err = wire_presence_encode(&coord, &text, NULL);
	if (err != BATON_OK)
		return err;
	err = wire_presence_decode(text, strlen(text), &p);
	wire_presence_deinit(&p);
	oom_free(text);
	return err;
}

static baton_err oom_encoders(void)
{
	char *text;
	const wire_request r = {.op = WIRE_OP_ACQUIRE, .id = "r", .resource = "x", .meta = "m"};
	const wire_stats st = {.at_ms = 1};
	baton_err err = wire_request_encode(&r, &text, NULL);
	if (err != BATON_OK)
		return err;
	oom_free(text);
	if ((err = wire_stats_encode(&st, &text, NULL)) != BATON_OK)
		return err;
	oom_free(text);
	return BATON_OK;
}

static void test_codec_failing_allocator_nomem_or_success(void **state)
{
	(void)state;
	static const oom_case cases[] = {oom_request_decode, oom_answer_decode,   oom_snapshot_decode,
	                                 oom_outcome_decode, oom_presence_decode, oom_encoders};
	cJSON_Hooks hooks = {oom_malloc, oom_free};

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		size_t n;
		for (n = 0;; n++) {
			assert_true(n < 1000);
			oom_budget = n;
			oom_live = 0;
			cJSON_InitHooks(&hooks);
			baton_err err = cases[c]();
			cJSON_InitHooks(NULL);
			assert_true(err == BATON_OK || err == BATON_E_NOMEM);
			assert_int_equal(oom_live, 0); /* nothing leaked, success or not */
			if (err == BATON_OK)
				break;
		}
		assert_true(n > 0); /* the loop did exercise a failure */
	}
}

/* ---- schema fixtures ---------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

#define DUMP(call, name)                                                                                     \
	do {                                                                                                 \
		char *text_ = NULL;                                                                          \
		if ((call) != BATON_OK || write_file(dir, (name), text_) != 0) {                             \
			fprintf(stderr, "fixture %s failed\n", (name));                                      \
			return 1;                                                                            \
		}                                                                                            \
		free(text_);                                                                                 \
	} while (0)

/* Membership requests and answers, and a health that lists its group. */
static int dump_admin_fixtures(const char *dir)
{
	const wire_admin_req add = {
	    .op = WIRE_ADMIN_ADD, .id = "admin-1", .member = 4, .address = "10.0.0.4:7001"};
	const wire_admin_req rm = {.op = WIRE_ADMIN_REMOVE, .id = "admin-2", .member = 2};
	wire_admin_ans done = {.id = "admin-1",
	                       .done = true,
	                       .changed = true,
	                       .message = "member 4 added as a voter",
	                       .by = 1,
	                       .members = {{1, "10.0.0.1:7001", "voter"}, {4, "10.0.0.4:7001", "voter"}},
	                       .n_members = 2};
	wire_admin_ans refused = done;
	refused.done = refused.changed = false;
	refused.reason = "in_progress";
	const wire_member listed = {.member = 1,
	                            .online = true,
	                            .role = "leader",
	                            .term = 4,
	                            .leader = 1,
	                            .applied = 99,
	                            .at_ms = T_2026,
	                            .members = done.members,
	                            .n_members = 2};
	DUMP(wire_admin_req_encode(&add, &text_, NULL), "admin-request--add");
	DUMP(wire_admin_req_encode(&rm, &text_, NULL), "admin-request--remove");
	DUMP(wire_admin_ans_encode(&done, &text_, NULL), "admin-answer--done");
	DUMP(wire_admin_ans_encode(&refused, &text_, NULL), "admin-answer--refused");
	DUMP(wire_member_encode(&listed, &text_, NULL), "member--members");
	return 0;
}

static int dump_fixtures(const char *dir)
{
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	static const wire_request reqs[] = {
	    {.op = WIRE_OP_ACQUIRE, .id = "r1", .resource = "images/nginx:1.25"},
	    {.op = WIRE_OP_ACQUIRE,
	     .id = "r1",
	     .resource = "caf\xc3\xa9/x",
	     .mode = WIRE_MODE_MUTEX,
	     .has_lease = true,
	     .lease_ms = 30000,
	     .has_wait = true,
	     .wait_ms = 0,
	     .meta = "docker pull \"x\"\n"},
	    {.op = WIRE_OP_RENEW, .id = "r2", .resource = "a", .token = WIRE_INT_MAX},
	    {.op = WIRE_OP_RELEASE, .id = "r3", .resource = "a", .token = 1, .success = true},
	    {.op = WIRE_OP_RELEASE,
	     .id = "r3",
	     .resource = "a",
	     .token = 43,
	     .error = "exit 1",
	     .result = "r",
	     .has_remember = true,
	     .remember_ms = 600000},
	    {.op = WIRE_OP_CANCEL, .id = "r4", .resource = "a"},
	    {.op = WIRE_OP_RESET, .id = "r5", .resource = "a"},
	    {.op = WIRE_OP_ACQUIRE, .id = "r6", .resource = "db", .mode = WIRE_MODE_SHARED},
	    {.op = WIRE_OP_ACQUIRE, .id = "r7", .resource = "pool", .mode = WIRE_MODE_MUTEX, .permits = 2},
	    {.op = WIRE_OP_ACQUIRE, .id = "r8", .resource = "img", .max_failures = 3},
	};
	char name[128];

	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
		snprintf(name, sizeof name, "request-%s--%zu", wire_op_name(reqs[i].op), i);
		DUMP(wire_request_encode(&reqs[i], &text_, NULL), name);
	}
	for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
		snprintf(name, sizeof name, "answer-%s--%zu", wire_status_name(answers[i].status), i);
		DUMP(wire_answer_encode(&answers[i], &text_, NULL), name);
	}
	for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
		snprintf(name, sizeof name, "outcome--%zu", i);
		DUMP(wire_outcome_encode(&outcomes[i], &text_, NULL), name);
	}
	for (size_t i = 0; i < sizeof snapshots / sizeof snapshots[0]; i++) {
		snprintf(name, sizeof name, "state--%zu", i);
		DUMP(wire_snapshot_encode(&snapshots[i], &text_, NULL), name);
	}
	const wire_presence node = {.node = "n1", .online = true}, node_will = {.node = "n1"};
	const wire_presence coord = {
	    .online = true, .version = "0.1.0", .started_at_ms = T_2026, .instance = "c-1a2b"};
	const wire_presence coord_will = {.online = false, .instance = "c-1a2b"};
	const wire_presence coord_stalled = {.online = true,
	                                     .version = "0.1.0",
	                                     .started_at_ms = T_2026,
	                                     .instance = "c-1a2b",
	                                     .not_serving = true,
	                                     .reason = "state commits fail"};
	const wire_presence coord_group = {
	    .online = true, .version = "0.1.0", .started_at_ms = T_2026, .member = 2};
	const wire_stats st = {.at_ms = T_2026, .requests = 3, .next_token = 44};
	const wire_stats st_stalled = {.at_ms = T_2026, .next_token = 44, .not_serving = true, .reason = "x"};
	DUMP(wire_presence_encode(&node, &text_, NULL), "node--online");
	DUMP(wire_presence_encode(&node_will, &text_, NULL), "node--will");
	DUMP(wire_presence_encode(&coord, &text_, NULL), "coordinator--online");
	DUMP(wire_presence_encode(&coord_will, &text_, NULL), "coordinator--will");
	DUMP(wire_presence_encode(&coord_stalled, &text_, NULL), "coordinator--stalled");
	DUMP(wire_stats_encode(&st, &text_, NULL), "stats--0");
	DUMP(wire_stats_encode(&st_stalled, &text_, NULL), "stats--stalled");
	DUMP(wire_presence_encode(&coord_group, &text_, NULL), "coordinator--group");
	const wire_member lead = {.member = 1,
	                          .online = true,
	                          .role = "leader",
	                          .term = 4,
	                          .leader = 1,
	                          .applied = 99,
	                          .at_ms = T_2026};
	const wire_member cand = {
	    .member = 3, .online = true, .role = "candidate", .term = 5, .at_ms = T_2026};
	const wire_member gone = {.member = 2};
	const wire_member refusing = {.member = 2,
	                              .online = true,
	                              .role = "leader",
	                              .term = 6,
	                              .leader = 2,
	                              .applied = 120,
	                              .at_ms = T_2026,
	                              .not_serving = true,
	                              .reason = "another coordinator serves this prefix (instance c-1)"};
	DUMP(wire_member_encode(&lead, &text_, NULL), "member--leader");
	DUMP(wire_member_encode(&cand, &text_, NULL), "member--candidate");
	DUMP(wire_member_encode(&gone, &text_, NULL), "member--will");
	DUMP(wire_member_encode(&refusing, &text_, NULL), "member--refusing");
	return dump_admin_fixtures(dir);
}

/* A group member's health: what it writes, and what it refuses to. */
static void test_member_encode_fields_and_bounds(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	wire_member m = {.member = 7,
	                 .online = true,
	                 .role = "follower",
	                 .term = 2,
	                 .leader = 3,
	                 .applied = 10,
	                 .at_ms = 1795000000000LL};
	assert_int_equal(wire_member_encode(&m, &text, &len), BATON_OK);
	assert_string_equal(text, "{\"v\":1,\"member\":7,\"online\":true,\"role\":\"follower\",\"term\":2,"
	                          "\"leader\":3,\"applied\":10,\"at\":\"2026-11-18T11:06:40.000Z\"}");
	assert_int_equal(len, strlen(text));
	free(text);
	wire_member bad = m;
	bad.role = "boss";
	assert_int_equal(wire_member_encode(&bad, &text, &len), BATON_E_INVAL);
	bad = m, bad.member = 0;
	assert_int_equal(wire_member_encode(&bad, &text, &len), BATON_E_INVAL);
	bad = m, bad.member = 1000000;
	assert_int_equal(wire_member_encode(&bad, &text, &len), BATON_E_INVAL);
	wire_presence gp = {.online = true, .started_at_ms = 1795000000000LL, .member = 3}, back;
	assert_int_equal(wire_presence_encode(&gp, &text, &len), BATON_OK);
	assert_non_null(strstr(text, "\"member\":3"));
	assert_int_equal(wire_presence_decode(text, len, &back), BATON_OK);
	assert_int_equal(back.member, 3);
	wire_presence_deinit(&back);
	free(text);
	gp.member = 1000000;
	assert_int_equal(wire_presence_encode(&gp, &text, &len), BATON_E_INVAL);
	wire_presence node_member = {.node = "n1", .online = true, .member = 1};
	assert_int_equal(wire_presence_encode(&node_member, &text, &len), BATON_E_INVAL);
	/* A leader that refuses to serve says so, and why. */
	wire_member refusing = m;
	refusing.not_serving = true;
	refusing.reason = "another coordinator serves this prefix";
	assert_int_equal(wire_member_encode(&refusing, &text, &len), BATON_OK);
	assert_non_null(
	    strstr(text, ",\"serving\":false,\"reason\":\"another coordinator serves this prefix\"}"));
	free(text);
	char *longer = rep('x', WIRE_REASON_TEXT_MAX + 1);
	refusing.reason = longer;
	assert_int_equal(wire_member_encode(&refusing, &text, &len), BATON_E_INVAL);
	free(longer);
	wire_member will = {.member = 7};
	assert_int_equal(wire_member_encode(&will, &text, &len), BATON_OK);
	assert_string_equal(text, "{\"v\":1,\"member\":7,\"online\":false}");
	free(text);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--dump-fixtures") == 0)
		return dump_fixtures(argv[2]);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_every_op_round_trips_equal),
	    cmocka_unit_test(test_request_contract_examples_reencode_identical),
	    cmocka_unit_test(test_request_defaults_and_unknown_fields_accepted),
	    cmocka_unit_test(test_request_strings_share_one_block),
	    cmocka_unit_test(test_request_malformed_payloads_exact_code),
	    cmocka_unit_test(test_request_raw_nul_bytes_bad_json),
	    cmocka_unit_test(test_request_payload_limit_65536_ok_65537_too_large),
	    cmocka_unit_test(test_request_deep_nesting_bad_json_no_crash),
	    cmocka_unit_test(test_request_field_limits_plus_minus_one),
	    cmocka_unit_test(test_request_number_limits_plus_minus_one),
	    cmocka_unit_test(test_request_diag_names_id_and_resource_when_valid),
	    cmocka_unit_test(test_request_encode_invalid_inval),
	    cmocka_unit_test(test_answer_every_status_round_trips_equal),
	    cmocka_unit_test(test_answer_golden_texts_match_contract),
	    cmocka_unit_test(test_answer_encode_invalid_inval),
	    cmocka_unit_test(test_answer_decode_malformed_protocol),
	    cmocka_unit_test(test_answer_decode_unknown_fields_and_code_tolerated),
	    cmocka_unit_test(test_outcome_round_trip_and_golden),
	    cmocka_unit_test(test_snapshot_round_trip_and_golden),
	    cmocka_unit_test(test_snapshot_shapes_golden_and_rejections),
	    cmocka_unit_test(test_presence_node_and_coordinator_golden_round_trip),
	    cmocka_unit_test(test_presence_coordinator_instance_and_serving_round_trip),
	    cmocka_unit_test(test_stats_decode_floor_fields),
	    cmocka_unit_test(test_stats_encode_integers_exact),
	    cmocka_unit_test(test_time_format_parse_round_trip),
	    cmocka_unit_test(test_enum_names_outside_enum_null),
	    cmocka_unit_test(test_codec_failing_allocator_nomem_or_success),
	    cmocka_unit_test(test_member_encode_fields_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
