/*
 * common.c - what every baton subcommand does the same way: turn the common
 * options into a connected libbaton client, and print the library's log
 * lines on stderr at the chosen verbosity.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void log_line(void *arg, baton_log_level level, const char *line)
{
	int verbosity = *(const int *)arg;
	static const char *const names[] = {"error", "warning", "info", "debug"};

	if ((verbosity < 0 && level > BATON_LOG_ERROR) || (verbosity == 0 && level > BATON_LOG_WARN))
		return;
	fprintf(stderr, "baton: %s: %s\n", names[level <= BATON_LOG_DEBUG ? level : BATON_LOG_DEBUG], line);
}

/* Creates the client from com; 0 or an exit code (the reason printed). */
static int client_from(const cli_common *com, baton_client **out)
{
	char *password = NULL, msg[640];
	baton_client *c = NULL;
	baton_options o;
	baton_err err;

	baton_options_init(&o);
	o.broker = com->broker;
	o.prefix = com->prefix;
	o.node = com->node;
	o.username = com->username;
	o.cafile = com->cafile;
	o.cert = com->cert;
	o.key = com->key;
	o.log = log_line;
	o.log_arg = (void *)&com->verbosity; /* com outlives the client */
	if (com->password_file != NULL) {
		if (password_read(com->password_file, &password, msg, sizeof msg) != BATON_OK) {
			fprintf(stderr, "baton: %s\n", msg);
			return CLI_EX_USAGE;
		}
		o.password = password;
	}
	err = baton_client_new(&o, &c, msg, sizeof msg);
	password_free(password);
	if (err != BATON_OK) {
		fprintf(stderr, "baton: %s\n", msg);
		return err == BATON_E_INVAL ? CLI_EX_USAGE : CLI_EX_SOFTWARE;
	}
	*out = c;
	return 0;
}

int cli_connect_until(const cli_common *com, baton_client **out, int64_t deadline_ms)
{
	baton_client *c = NULL;
	int64_t start = cli_now_ms(), next_notice = start + CLI_NOTICE_MS;
	char msg[512], dur[32];
	int rc = client_from(com, &c);

	while (rc == 0) {
		int64_t now = cli_now_ms(), until = deadline_ms < next_notice ? deadline_ms : next_notice;
		baton_err err =
		    baton_client_connect(c, until - now > 200 ? 200 : (until > now ? until - now : 0));

		if (err == BATON_OK)
			break;
		baton_client_last_error(c, msg, sizeof msg);
		now = cli_now_ms();
		if (err != BATON_E_TIMEOUT || now >= deadline_ms) {
			/* Refused (credentials, TLS, id): final. Or out of time. */
			fprintf(stderr, "baton: %s\n", msg);
			rc = err == BATON_E_NOT_AUTHORIZED ? CLI_EX_NOPERM : CLI_EX_UNAVAILABLE;
		} else if (cli_signal != 0) {
			rc = 128 + cli_signal;
		} else if (now >= next_notice) {
			duration_format(now - start, dur, sizeof dur);
			if (com->verbosity >= 0)
				fprintf(stderr, "baton: still waiting for the broker (%s so far): %s\n", dur,
				        msg);
			next_notice = now + CLI_NOTICE_MS;
		}
	}
	if (rc != 0) {
		baton_client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int cli_connect(const cli_common *com, baton_client **out)
{
	return cli_connect_until(com, out, cli_now_ms() + CLI_CONNECT_MS);
}

int64_t cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
