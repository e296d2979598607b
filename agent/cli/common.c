/*
 * common.c - what every baton subcommand does the same way: turn the common
 * options into a connected libbaton client, and print the library's log
 * lines on stderr at the chosen verbosity.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void log_line(void *arg, baton_log_level level, const char *line)
{
	int verbosity = *(const int *)arg;
	static const char *const names[] = {"error", "warning", "info", "debug"};

	if ((verbosity < 0 && level > BATON_LOG_ERROR) || (verbosity == 0 && level > BATON_LOG_WARN))
		return;
	fprintf(stderr, "baton: %s: %s\n", names[level <= BATON_LOG_DEBUG ? level : BATON_LOG_DEBUG], line);
}

int cli_connect(const cli_common *com, baton_client **out)
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
	err = baton_client_connect(c, 5000);
	if (err != BATON_OK) {
		baton_client_last_error(c, msg, sizeof msg);
		fprintf(stderr, "baton: %s\n", msg);
		baton_client_free(c);
		return err == BATON_E_NOT_AUTHORIZED ? CLI_EX_NOPERM : CLI_EX_UNAVAILABLE;
	}
	*out = c;
	return 0;
}
