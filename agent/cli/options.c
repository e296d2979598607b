/*
 * options.c - the baton CLI's command-line parsing: the common options,
 * one option table per subcommand driving both getopt_long and --help
 * through the option-table driver both programs share (common/optab.c),
 * duration flags (common/duration.h) and environment defaults.
 *
 * No network, no libbaton calls beyond names; prints only usage and
 * usage errors to the streams it is given. Unit-tested in
 * tests/unit/test_agent_cli.c.
 */
#include "cli.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "names.h"

enum { OPT_QUIET = 1001, OPT_VERBOSE, OPT_HELP, OPT_VERSION };

#define REF(n_, f_, a_, h_)                                                                                  \
	{                                                                                                    \
		.name = n_, .type = OPTAB_REF, .offset = offsetof(cli_common, f_), .arg = a_, .help = h_     \
	}
#define CALL(n_, s_, i_, h_)                                                                                 \
	{                                                                                                    \
		.name = n_, .short_name = s_, .type = OPTAB_CALL, .id = i_, .help = h_                       \
	}
static const optab_opt common_opts[] = {
    REF("broker", broker, "URI", "broker URI (env BATON_BROKER; default " BATON_BROKER_DEFAULT ")"),
    REF("prefix", prefix, "P", "topic prefix (env BATON_PREFIX; default " BATON_PREFIX_DEFAULT ")"),
    REF("node", node, "ID", "node id (env BATON_NODE; default <hostname>-<pid>)"),
    REF("username", username, "USER", "broker user name"),
    REF("password-file", password_file, "FILE", "read the broker password from FILE"),
    REF("cafile", cafile, "FILE", "TLS: CA certificates to trust"),
    REF("cert", cert, "FILE", "TLS: client certificate"),
    REF("key", key, "FILE", "TLS: client private key"),
    CALL("quiet", 'q', OPT_QUIET, "print errors only"),
    CALL("verbose", 'v', OPT_VERBOSE, "print more about what happens"),
    CALL("help", 'h', OPT_HELP, "show this help"),
    CALL("version", 0, OPT_VERSION, "show the version"),
};
#define N_COMMON (sizeof common_opts / sizeof common_opts[0])

/* The number of options in a {NULL}-terminated table (NULL: none). */
static size_t count_opts(const cli_opt *opts)
{
	size_t n = 0;
	while (opts != NULL && opts[n].name != NULL)
		n++;
	return n;
}

void cli_usage(const cli_command *cmd, FILE *out)
{
	size_t n = count_opts(cmd->opts);
	fprintf(out, "usage: baton %s %s\n\n%s\n\n", cmd->name, cmd->usage, cmd->summary);
	if (n > 0) {
		fprintf(out, "options:\n");
		optab_usage(out, cmd->opts, n, 28, true, false);
		fprintf(out, "\n");
	}
	fprintf(out, "common options:\n");
	optab_usage(out, common_opts, N_COMMON, 28, true, false);
	fprintf(out, "\nexample:\n  %s\n", cmd->example);
}

typedef struct parse_ctx {
	cli_common *com;
	const cli_command *cmd;
	void *ctx;
	FILE *out;
} parse_ctx;

/* optab's callback: the common switches, else the subcommand's on_opt.
 * Returns 0, CLI_HELP, or the subcommand's exit code. */
static int on_call(void *arg, int id, const char *value)
{
	parse_ctx *p = arg;
	switch (id) {
	case OPT_QUIET:
		p->com->verbosity = -1;
		return 0;
	case OPT_VERBOSE:
		p->com->verbosity = 1;
		return 0;
	case OPT_HELP:
		cli_usage(p->cmd, p->out);
		return CLI_HELP;
	case OPT_VERSION:
		fprintf(p->out, "baton %s\n", baton_version());
		return CLI_HELP;
	default:
		return p->cmd->on_opt ? p->cmd->on_opt(p->ctx, id, value) : CLI_EX_USAGE;
	}
}

int cli_parse(int argc, char **argv, const cli_command *cmd, cli_common *com, void *ctx, int *first_arg,
              FILE *out, FILE *err)
{
	parse_ctx p = {com, cmd, ctx, out};
	char what[256] = "";
	int rc;

	memset(com, 0, sizeof *com);
	optab_set sets[] = {{cmd->opts, count_opts(cmd->opts), NULL}, {common_opts, N_COMMON, com}};
	rc = optab_parse(sets, 2, argc, argv, true, on_call, &p, first_arg, what, sizeof what);
	if (rc == OPTAB_E_UNKNOWN || rc == OPTAB_E_MISSING) {
		fprintf(err, "baton %s: %s option '%s'\n", cmd->name,
		        rc == OPTAB_E_MISSING ? "missing argument to" : "unknown", what);
		fprintf(err, "try 'baton %s --help'\n", cmd->name);
		return CLI_EX_USAGE;
	}
	if (rc == OPTAB_E_TOO_MANY || rc == OPTAB_E_VALUE || rc == OPTAB_E_OPERAND)
		return CLI_EX_SOFTWARE; /* a table bug: cannot happen with operands allowed and REF values */
	if (rc != 0)
		return rc;
	cli_common_finish(com);
	return 0;
}

int cli_common_arity(const char *word)
{
	size_t n;

	if (word[0] != '-' || word[1] == '\0')
		return -1;
	for (const cli_opt *o = common_opts; o < common_opts + N_COMMON; o++) {
		if (word[1] != '-') {
			if (o->short_name != 0 && word[1] == o->short_name && word[2] == '\0')
				return o->arg ? 1 : 0;
			continue;
		}
		n = strlen(o->name);
		if (strncmp(word + 2, o->name, n) == 0 && (word[2 + n] == '\0' || word[2 + n] == '='))
			return o->arg && word[2 + n] == '\0' ? 1 : 0;
	}
	return -1;
}

void cli_common_finish(cli_common *com)
{
	const char *env;

	if (com->broker == NULL)
		com->broker = (env = getenv("BATON_BROKER")) && *env ? env : BATON_BROKER_DEFAULT;
	if (com->prefix == NULL)
		com->prefix = (env = getenv("BATON_PREFIX")) && *env ? env : BATON_PREFIX_DEFAULT;
	if (com->node == NULL && (env = getenv("BATON_NODE")) && *env)
		com->node = env;
	if (com->node == NULL) {
		char host[256] = "", raw[300];

		if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
			snprintf(host, sizeof host, "node");
		host[sizeof host - 1] = '\0';
		snprintf(raw, sizeof raw, "%.200s-%ld", host, (long)getpid());
		/* Keep the pid when a long host name would be cut off. */
		if (strlen(raw) > BATON_NODE_MAX)
			snprintf(raw, sizeof raw, "%.*s-%ld", 40, host, (long)getpid());
		names_node_sanitize(com->node_buf, sizeof com->node_buf, raw);
		com->node = com->node_buf;
	}
}

int cli_duration_opt(const char *cmd, const char *flag, const char *arg, int64_t min, int64_t max,
                     int64_t *out)
{
	uint64_t ms;
	char why[192], lo[40], hi[40];

	if (duration_parse(arg, &ms, why, sizeof why) != BATON_OK) {
		fprintf(stderr, "baton %s: --%s: %s\n", cmd, flag, why);
		return CLI_EX_USAGE;
	}
	if (ms < (uint64_t)min || ms > (uint64_t)max) {
		duration_format_exact((uint64_t)min, lo, sizeof lo);
		duration_format_exact((uint64_t)max, hi, sizeof hi);
		fprintf(stderr, "baton %s: --%s: '%s' is out of range: from %s to %s\n", cmd, flag, arg, lo,
		        hi);
		return CLI_EX_USAGE;
	}
	*out = (int64_t)ms;
	return 0;
}

int cli_count_opt(const char *cmd, const char *flag, const char *arg, uint32_t min, uint32_t max,
                  uint32_t *out)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = arg[0] >= '0' && arg[0] <= '9' ? strtoul(arg, &end, 10) : 0;
	if (end == NULL || *end != '\0' || errno != 0 || v < min || v > max) {
		fprintf(stderr, "baton %s: --%s: '%s' is not a whole number from %u to %u\n", cmd, flag, arg,
		        min, max);
		return CLI_EX_USAGE;
	}
	*out = (uint32_t)v;
	return 0;
}

int cli_exit_for(baton_err err)
{
	switch (err) {
	case BATON_OK:
		return CLI_EX_OK;
	case BATON_E_BUSY:
		return CLI_EX_TEMPFAIL;
	case BATON_E_LOST:
		return CLI_EX_LOST;
	case BATON_E_BROKER:
	case BATON_E_TIMEOUT:
	case BATON_E_NOT_CONNECTED:
	case BATON_E_CLOSED:
		return CLI_EX_UNAVAILABLE;
	case BATON_E_INVAL:
		return CLI_EX_USAGE;
	default:
		/* The wire's rejection codes: -1 .. -19. */
		return err < 0 && err > BATON_E_NOMEM ? CLI_EX_REJECTED : CLI_EX_SOFTWARE;
	}
}

void cli_format_time(int64_t ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || localtime_r(&t, &tm) == NULL) {
		snprintf(buf, cap, "-");
		return;
	}
	strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}
