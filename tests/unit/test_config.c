/*
 * test_config.c - the coordinator's flags and environment (durations
 * themselves: test_common.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

static baton_err parse(config *c, char *err, size_t cap, int argc, ...)
{
	char *argv[32];
	va_list ap;
	va_start(ap, argc);
	argv[0] = "baton-coordinator";
	for (int i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	config_init(c);
	baton_err rc = config_parse(c, argc, argv, err, cap);
	if (rc == BATON_OK)
		rc = config_validate(c, err, cap);
	return rc;
}

static void test_config_defaults_apply(void **state)
{
	(void)state;
	config c;
	char err[256] = "";
	unsetenv("BATON_BROKER");
	assert_int_equal(parse(&c, err, sizeof err, 1), BATON_OK);
	assert_string_equal(c.broker, "tcp://127.0.0.1:1883");
	assert_string_equal(c.prefix, "baton/v1");
	assert_string_equal(c.client_id, "baton-coordinator");
	assert_int_equal(c.done_ttl_ms, 600000);
	assert_int_equal(c.default_lease_ms, 30000);
	assert_int_equal(c.max_lease_ms, 3600000);
	assert_non_null(c.state);
	config_deinit(&c);
}

static void test_config_flag_beats_env(void **state)
{
	(void)state;
	config c;
	char err[256] = "";
	setenv("BATON_BROKER", "tcp://env:1", 1);
	setenv("BATON_DONE_TTL", "1h", 1);
	assert_int_equal(parse(&c, err, sizeof err, 3, "--broker", "tcp://flag:2"), BATON_OK);
	assert_string_equal(c.broker, "tcp://flag:2");
	assert_int_equal(c.done_ttl_ms, 3600000);
	unsetenv("BATON_BROKER");
	unsetenv("BATON_DONE_TTL");
	config_deinit(&c);
}

static void test_config_bad_flags_named(void **state)
{
	(void)state;
	config c;
	char err[256] = "";
	assert_int_equal(parse(&c, err, sizeof err, 2, "--bogus"), BATON_E_INVAL);
	assert_non_null(strstr(err, "--bogus"));
	config_deinit(&c);
	assert_int_equal(parse(&c, err, sizeof err, 3, "--default-lease", "10"), BATON_E_INVAL);
	assert_non_null(strstr(err, "--default-lease: '10' has no unit: write 10s"));
	config_deinit(&c);
	assert_int_equal(parse(&c, err, sizeof err, 3, "--default-lease", "500ms"), BATON_E_INVAL);
	assert_non_null(strstr(err, "--default-lease: '500ms' is out of range: from 1s to 1h"));
	config_deinit(&c);
	assert_int_equal(parse(&c, err, sizeof err, 3, "--log-level", "loud"), BATON_E_INVAL);
	assert_non_null(strstr(err, "--log-level"));
	config_deinit(&c);
	assert_int_equal(parse(&c, err, sizeof err, 3, "--prefix", "a/+/b"), BATON_E_INVAL);
	assert_non_null(strstr(err, "--prefix"));
	config_deinit(&c);
	assert_int_equal(parse(&c, err, sizeof err, 5, "--default-lease", "2h", "--max-lease", "1h"),
	                 BATON_E_INVAL);
	config_deinit(&c);
	assert_int_equal(parse(&c, err, sizeof err, 2, "--broker"), BATON_E_INVAL);
	config_deinit(&c);
	assert_int_equal(parse(&c, err, sizeof err, 3, "--password-file", "/nonexistent/pw"), BATON_E_INVAL);
	assert_non_null(strstr(err, "--password-file"));
	config_deinit(&c);
}

static void test_config_password_read_from_file(void **state)
{
	(void)state;
	char path[] = "/tmp/baton-pw-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret\nignored\n", 15), 15);
	close(fd);
	config c;
	char err[256] = "";
	assert_int_equal(parse(&c, err, sizeof err, 3, "--password-file", path), BATON_OK);
	assert_string_equal(c.password, "s3cret");
	config_deinit(&c);
	unlink(path);
}

static char *read_all(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_log_lines_one_per_call_escaped_and_bounded(void **state)
{
	(void)state;
	char path[] = "/tmp/baton-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_true(log_open(path, true, LOG_DEBUG));
	LOG_I("grant", "resource", "a \"quoted\"\nname", "node", "n1", "absent", NULL, "token", "7");
	char big[6000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	LOG_D("big", "value", big);
	log_close();
	char *text = read_all(path);
	char *nl = strchr(text, '\n');
	assert_non_null(nl);
	*nl = '\0';
	assert_non_null(strstr(text, "\"msg\":\"grant\""));
	assert_non_null(strstr(text, "\"resource\":\"a \\\"quoted\\\"\\u000aname\""));
	assert_null(strstr(text, "absent"));
	assert_true(text[strlen(text) - 1] == '}');
	char *second = nl + 1;
	assert_true(strlen(second) <= 4096);
	assert_non_null(strstr(second, "...\"}\n"));
	unlink(path);
}

/* A group member's flags: accepted together, each rule refused alone. */
static void test_config_group_flags_checked(void **state)
{
	(void)state;
	config c;
	char err[256] = "";
	const char *peers = "2=127.0.0.1:7002,1=127.0.0.1:7001,3=127.0.0.1:7003";
	assert_int_equal(
	    parse(&c, err, sizeof err, 7, "--member", "2", "--peers", peers, "--state", "/tmp/x.db"),
	    BATON_OK);
	assert_int_equal(c.member_id, 2);
	assert_int_equal(c.n_peers, 3);
	assert_int_equal(c.peer_list[0].id, 1);
	assert_string_equal(c.raft_dir, "/tmp/x.db.raft");
	assert_true(c.election_timeout_ms == 300 && c.heartbeat_ms == 50);
	config_deinit(&c);
	assert_false(c.join);
	config_deinit(&c);
	assert_int_equal(parse(&c, err, sizeof err, 8, "--member", "4", "--peers", "4=127.0.0.1:7004",
	                       "--state", "/tmp/x.db", "--join"),
	                 BATON_OK);
	assert_true(c.join); /* a new member lists itself only */
	config_deinit(&c);
	/* A member serves metrics like a single coordinator (issue 15). */
	assert_int_equal(parse(&c, err, sizeof err, 9, "--member", "2", "--peers", peers, "--state",
	                       "/tmp/x.db", "--metrics-listen", "127.0.0.1:9100"),
	                 BATON_OK);
	assert_string_equal(c.metrics_listen, "127.0.0.1:9100");
	config_deinit(&c);
	assert_int_equal(parse(&c, err, sizeof err, 1), BATON_OK);
	assert_int_equal(c.member_id, 0); /* no group: the single process */
	config_deinit(&c);
	static const struct {
		int argc;
		const char *argv[9];
		const char *says;
	} bad[] = {
	    {3, {"--member", "1"}, "go together"},
	    {3, {"--peers", "1=127.0.0.1:7001"}, "go together"},
	    {7,
	     {"--member", "4", "--peers", "1=127.0.0.1:7001", "--state", "/tmp/x.db"},
	     "not one of the ids"},
	    {7, {"--member", "01", "--peers", "1=127.0.0.1:7001", "--state", "/tmp/x.db"}, "--member"},
	    {7, {"--member", "1", "--peers", "1=127.0.0.1", "--state", "/tmp/x.db"}, "--peers"},
	    {7, {"--member", "1", "--peers", "1=127.0.0.1:7001", "--state", ":memory:"}, "--state file"},
	    {9,
	     {"--member", "1", "--peers", "1=127.0.0.1:7001", "--state", "/tmp/x.db", "--heartbeat", "300ms"},
	     "shorter than --election-timeout"},
	    {3, {"--raft-dir", "/tmp/r"}, "need --member"},
	    {2, {"--join"}, "need --member"},
	    {7, {"--member", "4", "--peers", "4=127.0.0.1:7004", "--state", "/tmp/x.db"}, "--join"},
	    {3, {"--election-timeout", "10ms"}, "--election-timeout"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *argv[10] = {"baton-coordinator"};
		for (int k = 1; k < bad[i].argc; k++)
			argv[k] = (char *)bad[i].argv[k - 1];
		config_init(&c);
		err[0] = '\0';
		baton_err rc = config_parse(&c, bad[i].argc, argv, err, sizeof err);
		if (rc == BATON_OK)
			rc = config_validate(&c, err, sizeof err);
		assert_int_equal(rc, BATON_E_INVAL);
		if (strstr(err, bad[i].says) == NULL) {
			print_error("case %zu: '%s' does not say '%s'\n", i, err, bad[i].says);
			fail();
		}
		config_deinit(&c);
	}
}

static void test_log_level_parse_known(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("error"), LOG_ERROR);
	assert_int_equal(log_level_parse("nope"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_defaults_apply),
	    cmocka_unit_test(test_config_flag_beats_env),
	    cmocka_unit_test(test_config_bad_flags_named),
	    cmocka_unit_test(test_config_password_read_from_file),
	    cmocka_unit_test(test_config_group_flags_checked),
	    cmocka_unit_test(test_log_level_parse_known),
	    cmocka_unit_test(test_log_lines_one_per_call_escaped_and_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
