/*
 * test_common.c - what both programs parse the same way (common/): the
 * duration rule, sync level names, the password file reader and the
 * option-table driver.
 *
 * Owns: every case of the duration rule in duration.h, including each
 * refusal and the sentence that tells the user what to write. Touches the
 * file system only for a temporary password file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "duration.h"
#include "optab.h"
#include "password.h"
#include "sync.h"

static uint64_t ok(const char *s)
{
	uint64_t ms = 12345;
	char err[192] = "";
	assert_int_equal(duration_parse(s, &ms, err, sizeof err), BATON_OK);
	assert_string_equal(err, "");
	return ms;
}

/* Parses s, expecting a refusal whose message contains want. */
static void refused(const char *s, const char *want)
{
	uint64_t ms = 777;
	char err[192] = "";
	assert_int_equal(duration_parse(s, &ms, err, sizeof err), BATON_E_INVAL);
	assert_int_equal(ms, 777); /* untouched */
	if (strstr(err, want) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", s ? s : "(null)", err, want);
}

static void test_duration_units_parse(void **state)
{
	(void)state;
	assert_int_equal(ok("250ms"), 250);
	assert_int_equal(ok("30s"), 30000);
	assert_int_equal(ok("5m"), 300000);
	assert_int_equal(ok("1h"), 3600000);
	assert_int_equal(ok("2d"), 172800000);
	assert_int_equal(ok("0"), 0);
	assert_int_equal(ok("0s"), 0);
	assert_int_equal(ok("0ms"), 0);
}

static void test_duration_compounds_largest_first(void **state)
{
	(void)state;
	assert_int_equal(ok("1m30s"), 90000);
	assert_int_equal(ok("1h30m"), 5400000);
	assert_int_equal(ok("1s500ms"), 1500);
	assert_int_equal(ok("1d2h3m4s5ms"), 93784005);
	refused("30s1m", "largest first");
	refused("1s1s", "largest first");
	refused("1ms1s", "largest first");
}

static void test_duration_bare_number_refused_with_advice(void **state)
{
	(void)state;
	refused("30", "'30' has no unit: write 30s (seconds) or 30ms (milliseconds)");
	refused("1500", "has no unit");
	refused("00", "has no unit");
	refused("1m30", "needs a unit");
}

static void test_duration_garbage_refused(void **state)
{
	(void)state;
	refused("", "empty duration");
	refused(NULL, "empty duration");
	refused("s", "is not a duration");
	refused("-1s", "is not a duration");
	refused(" 1s", "is not a duration");
	refused("30 s", "needs a unit");
	refused("1x", "needs a unit");
	refused("1hh", "is not a duration");
	refused("1.5s", "no fractions");
	refused("99999999999999999999h", "too long");
	refused("18446744073709551615d", "too long");
}

static void test_duration_format_for_people(void **state)
{
	char b[32];
	(void)state;
	duration_format(250, b, sizeof b);
	assert_string_equal(b, "250ms");
	duration_format(4200, b, sizeof b);
	assert_string_equal(b, "4.2s");
	duration_format(185000, b, sizeof b);
	assert_string_equal(b, "3m05s");
	duration_format(3660000, b, sizeof b);
	assert_string_equal(b, "1h01m");
	duration_format(-5, b, sizeof b);
	assert_string_equal(b, "0ms");
}

static void test_duration_format_exact_round_trips(void **state)
{
	char b[40];
	const uint64_t v[] = {0, 1, 999, 1000, 90000, 3600000, 93784005, 365ull * 86400000, UINT64_MAX};
	(void)state;
	duration_format_exact(90000, b, sizeof b);
	assert_string_equal(b, "1m30s");
	duration_format_exact(0, b, sizeof b);
	assert_string_equal(b, "0");
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		duration_format_exact(v[i], b, sizeof b);
		assert_int_equal(ok(b), v[i]);
	}
}

static void test_sync_level_names_round_trip(void **state)
{
	sync_level l = SYNC_LEVEL_OFF;
	(void)state;
	for (sync_level v = SYNC_LEVEL_FULL; v <= SYNC_LEVEL_OFF; v++) {
		assert_int_equal(sync_level_parse(sync_level_name(v), &l), BATON_OK);
		assert_int_equal(l, v);
	}
	assert_string_equal(sync_level_name(SYNC_LEVEL_FULL), "full");
	assert_int_equal(sync_level_parse("FULL", &l), BATON_E_INVAL);
	assert_int_equal(sync_level_parse(NULL, &l), BATON_E_INVAL);
	assert_int_equal(l, SYNC_LEVEL_OFF);
	assert_null(sync_level_name((sync_level)99));
}

static void test_password_file_first_line(void **state)
{
	char path[] = "/tmp/baton-test-pw-XXXXXX", err[256] = "";
	char *pw = NULL;
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret\r\nsecond\n", 15), 15);
	close(fd);
	assert_int_equal(password_read(path, &pw, err, sizeof err), BATON_OK);
	assert_string_equal(pw, "s3cret");
	password_free(pw);
	pw = NULL;
	unlink(path);
	assert_int_equal(password_read(path, &pw, err, sizeof err), BATON_E_IO);
	assert_null(pw);
	assert_non_null(strstr(err, path));
	password_free(NULL);
}

static void test_password_empty_file_empty_password(void **state)
{
	char path[] = "/tmp/baton-test-pw-XXXXXX", err[256] = "";
	char *pw = NULL;
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(password_read(path, &pw, err, sizeof err), BATON_OK);
	assert_string_equal(pw, "");
	password_free(pw);
	unlink(path);
}

/* ---- the option-table driver ---------------------------------------------- */

typedef struct demo {
	char *name;
	const char *ref;
	uint64_t ttl_ms;
	bool on;
	int level;
} demo;

static baton_err parse_level(const char *val, void *field, char *err, size_t cap)
{
	if (strcmp(val, "hi") != 0 && strcmp(val, "lo") != 0) {
		snprintf(err, cap, "'%s' is not hi or lo", val);
		return BATON_E_INVAL;
	}
	*(int *)field = val[0] == 'h';
	return BATON_OK;
}

static const optab_opt demo_opts[] = {
    {.name = "name",
     .short_name = 'n',
     .type = OPTAB_STR,
     .offset = offsetof(demo, name),
     .def = "x",
     .arg = "N",
     .help = "a name"},
    {.name = "ref", .type = OPTAB_REF, .offset = offsetof(demo, ref), .arg = "R", .help = "borrowed"},
    {.name = "ttl",
     .type = OPTAB_DUR,
     .offset = offsetof(demo, ttl_ms),
     .def = "1m",
     .min = 1000,
     .max = 3600000,
     .arg = "DUR",
     .help = "a ttl"},
    {.name = "on", .short_name = 'o', .type = OPTAB_FLAG, .offset = offsetof(demo, on), .help = "a flag"},
    {.name = "level",
     .type = OPTAB_PARSE,
     .offset = offsetof(demo, level),
     .parse = parse_level,
     .arg = "hi|lo",
     .help = "a level"},
    {.name = "call", .short_name = 'c', .type = OPTAB_CALL, .id = 7, .arg = "V", .help = "calls back"},
};

static int calls;

static int demo_call(void *ctx, int id, const char *value)
{
	(void)ctx;
	assert_int_equal(id, 7);
	calls++;
	return strcmp(value, "stop") == 0 ? 42 : 0;
}

static int demo_parse(demo *d, bool operands, int argc, char **argv, int *first, char *err, size_t cap)
{
	optab_set s = {demo_opts, sizeof demo_opts / sizeof demo_opts[0], d};
	return optab_parse(&s, 1, argc, argv, operands, demo_call, NULL, first, err, cap);
}

static void test_optab_defaults_values_and_flags(void **state)
{
	demo d = {0};
	optab_set s = {demo_opts, sizeof demo_opts / sizeof demo_opts[0], &d};
	char err[256] = "";
	char *argv[] = {"prog", "-n",      "abc", "--ref=r1", "--ttl", "1m30s",
	                "-o",   "--level", "hi",  "-c",       "go",    NULL};
	int first = -1;
	(void)state;
	assert_int_equal(optab_defaults(&s, err, sizeof err), BATON_OK);
	assert_string_equal(d.name, "x");
	assert_int_equal(d.ttl_ms, 60000);
	calls = 0;
	assert_int_equal(demo_parse(&d, false, 11, argv, &first, err, sizeof err), 0);
	assert_string_equal(d.name, "abc"); /* the default's copy was freed: ASan would say */
	assert_string_equal(d.ref, "r1");
	assert_int_equal(d.ttl_ms, 90000);
	assert_true(d.on);
	assert_int_equal(d.level, 1);
	assert_int_equal(calls, 1);
	assert_int_equal(first, 11);
	optab_free_strings(&s);
	assert_null(d.name);
}

static void test_optab_errors_named(void **state)
{
	demo d = {0};
	char err[256] = "";
	char *unknown[] = {"prog", "--bogus", NULL};
	char *missing[] = {"prog", "--ttl", NULL};
	char *bare[] = {"prog", "--ttl", "30", NULL};
	char *range[] = {"prog", "--ttl", "2h", NULL};
	char *bad[] = {"prog", "--level", "mid", NULL};
	char *operand[] = {"prog", "-o", "extra", NULL};
	char *stop[] = {"prog", "-c", "stop", "-o", NULL};
	int first = -1;
	(void)state;
	assert_int_equal(demo_parse(&d, false, 2, unknown, &first, err, sizeof err), OPTAB_E_UNKNOWN);
	assert_string_equal(err, "--bogus");
	assert_int_equal(demo_parse(&d, false, 2, missing, &first, err, sizeof err), OPTAB_E_MISSING);
	assert_string_equal(err, "--ttl");
	assert_int_equal(demo_parse(&d, false, 3, bare, &first, err, sizeof err), OPTAB_E_VALUE);
	assert_non_null(strstr(err, "--ttl: '30' has no unit"));
	assert_int_equal(demo_parse(&d, false, 3, range, &first, err, sizeof err), OPTAB_E_VALUE);
	assert_string_equal(err, "--ttl: '2h' is out of range: from 1s to 1h");
	assert_int_equal(demo_parse(&d, false, 3, bad, &first, err, sizeof err), OPTAB_E_VALUE);
	assert_string_equal(err, "--level: 'mid' is not hi or lo");
	assert_int_equal(demo_parse(&d, false, 3, operand, &first, err, sizeof err), OPTAB_E_OPERAND);
	assert_string_equal(err, "extra");
	assert_int_equal(demo_parse(&d, true, 3, operand, &first, err, sizeof err), 0);
	assert_int_equal(first, 2);
	d.on = false;
	assert_int_equal(demo_parse(&d, true, 4, stop, &first, err, sizeof err), 42);
	assert_false(d.on); /* stopped at the callback's answer */
}

static void test_optab_usage_lists_every_option(void **state)
{
	char buf[2048] = "";
	FILE *f = fmemopen(buf, sizeof buf, "w");
	(void)state;
	assert_non_null(f);
	optab_usage(f, demo_opts, sizeof demo_opts / sizeof demo_opts[0], 20, true, true);
	fclose(f);
	assert_non_null(strstr(buf, "  -n, --name N"));
	assert_non_null(strstr(buf, "a name [x]"));
	assert_non_null(strstr(buf, "      --ref R"));
	assert_non_null(strstr(buf, "--ttl DUR"));
	assert_non_null(strstr(buf, "a ttl [1m]"));
	assert_non_null(strstr(buf, "-o, --on "));
	assert_non_null(strstr(buf, "-c, --call V"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_units_parse),
	    cmocka_unit_test(test_duration_compounds_largest_first),
	    cmocka_unit_test(test_duration_bare_number_refused_with_advice),
	    cmocka_unit_test(test_duration_garbage_refused),
	    cmocka_unit_test(test_duration_format_for_people),
	    cmocka_unit_test(test_duration_format_exact_round_trips),
	    cmocka_unit_test(test_sync_level_names_round_trip),
	    cmocka_unit_test(test_password_file_first_line),
	    cmocka_unit_test(test_password_empty_file_empty_password),
	    cmocka_unit_test(test_optab_defaults_values_and_flags),
	    cmocka_unit_test(test_optab_errors_named),
	    cmocka_unit_test(test_optab_usage_lists_every_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
