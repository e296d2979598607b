/*
 * reset.c - `baton reset RESOURCE`: make the coordinator forget a
 * remembered success of a once resource, so the next run does the work.
 *
 * A reset sent and not answered in time is not withdrawn (there is no such
 * request): it may still apply when the coordinator receives it, and the
 * message says exactly that.
 */
#include <string.h>

#include "cli.h"

enum { RESET_TIMEOUT = 256 };

static const cli_opt reset_opts[] = {
    CLI_OPT("timeout", 't', RESET_TIMEOUT, "DUR",
            "give up (exit 69) when not answered by then, connecting included (default 10s)"),
    CLI_OPT_END,
};

static int reset_opt(void *ctx, int id, const char *arg)
{
	(void)id;
	return cli_duration_opt("reset", "timeout", arg, 0, INT64_MAX, (int64_t *)ctx);
}

static const cli_command reset_cmd = {
    "reset",
    "[OPTIONS] RESOURCE",
    "Forgets the remembered success of RESOURCE (once mode): the next 'baton run'\n"
    "on it runs its command again. Exit: 0 done; 65 rejected; 69 unreachable (a reset\n"
    "sent but not answered in time may still apply when the coordinator gets it).",
    "baton reset --timeout 30s images/nginx:1.25",
    reset_opts,
    reset_opt,
};

int cli_reset_main(int argc, char **argv)
{
	int64_t timeout_ms = 10000, start = cli_now_ms(), left;
	cli_common com;
	baton_client *c = NULL;
	char msg[256], dur[32];
	int first, rc = cli_parse(argc, argv, &reset_cmd, &com, &timeout_ms, &first, stdout, stderr);
	baton_err err;

	if (rc != 0)
		return rc == CLI_HELP ? CLI_EX_OK : rc;
	if (first + 1 != argc) {
		fprintf(stderr, "baton reset: give exactly one RESOURCE\ntry 'baton reset --help'\n");
		return CLI_EX_USAGE;
	}
	rc = cli_connect_until(&com, &c, start + timeout_ms);
	if (rc != 0) {
		fprintf(stderr, "baton reset: nothing was sent; %s is unchanged\n", argv[first]);
		return rc;
	}
	left = start + timeout_ms - cli_now_ms();
	err = baton_reset(c, argv[first], left > 0 ? left : 0);
	duration_format(timeout_ms, dur, sizeof dur);
	if (err == BATON_OK) {
		if (com.verbosity >= 0)
			fprintf(stderr, "baton: %s reset\n", argv[first]);
	} else if (err == BATON_E_TIMEOUT) {
		fprintf(
		    stderr,
		    "baton reset: no answer from the coordinator within %s; the reset was sent and may still "
		    "apply later, when the coordinator receives it (check with 'baton status %s')\n",
		    dur, argv[first]);
		rc = CLI_EX_UNAVAILABLE;
	} else {
		baton_client_last_error(c, msg, sizeof msg);
		fprintf(stderr, "baton reset: %s\n", msg);
		rc = cli_exit_for(err);
	}
	baton_client_free(c);
	return rc;
}
