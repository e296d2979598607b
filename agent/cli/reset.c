/*
 * reset.c - `baton reset RESOURCE`: make the coordinator forget a
 * remembered success of a once resource, so the next run does the work.
 */
#include <string.h>

#include "cli.h"

static const cli_command reset_cmd = {
    "reset",
    "[OPTIONS] RESOURCE",
    "Forgets the remembered success of RESOURCE (once mode): the next 'baton run'\n"
    "on it runs its command again. Exit: 0 done; 65 rejected; 69 unreachable.",
    "baton reset images/nginx:1.25",
    NULL,
    NULL,
};

int cli_reset_main(int argc, char **argv)
{
	cli_common com;
	baton_client *c = NULL;
	char msg[256];
	int first, rc = cli_parse(argc, argv, &reset_cmd, &com, NULL, &first, stdout, stderr);
	baton_err err;

	if (rc != 0)
		return rc == CLI_HELP ? CLI_EX_OK : rc;
	if (first + 1 != argc) {
		fprintf(stderr, "baton reset: give exactly one RESOURCE\ntry 'baton reset --help'\n");
		return CLI_EX_USAGE;
	}
	rc = cli_connect(&com, &c);
	if (rc != 0)
		return rc;
	err = baton_reset(c, argv[first], 10000);
	if (err == BATON_OK) {
		if (com.verbosity >= 0)
			fprintf(stderr, "baton: %s reset\n", argv[first]);
	} else {
		baton_client_last_error(c, msg, sizeof msg);
		fprintf(stderr, "baton reset: %s\n", msg);
		rc = err == BATON_E_TIMEOUT ? CLI_EX_UNAVAILABLE : cli_exit_for(err);
	}
	baton_client_free(c);
	return rc;
}
