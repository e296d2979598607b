/*
 * options.c - the baton CLI's command-line parsing: the common options,
 * one option table per subcommand driving both getopt_long and --help,
 * durations, environment defaults and the password file.
 *
 * No network, no libbaton calls beyond names; prints only usage and
 * usage errors to the streams it is given. Unit-tested in
 * tests/unit/test_agent_cli.c.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "names.h"

enum {
	OPT_BROKER = 1001,
	OPT_PREFIX,
	OPT_NODE,
	OPT_USERNAME,
	OPT_PASSWORD_FILE,
	OPT_CAFILE,
	OPT_CERT,
	OPT_KEY,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_VERSION
};

#define MAX_OPTS 48

static const cli_opt common_opts[] = {
    {"broker", 0, OPT_BROKER, "URI", "broker URI (env BATON_BROKER; default " BATON_BROKER_DEFAULT ")"},
    {"prefix", 0, OPT_PREFIX, "P", "topic prefix (env BATON_PREFIX; default " BATON_PREFIX_DEFAULT ")"},
    {"node", 0, OPT_NODE, "ID", "node id (env BATON_NODE; default <hostname>-<pid>)"},
    {"username", 0, OPT_USERNAME, "USER", "broker user name"},
    {"password-file", 0, OPT_PASSWORD_FILE, "FILE", "read the broker password from FILE"},
    {"cafile", 0, OPT_CAFILE, "FILE", "TLS: CA certificates to trust"},
    {"cert", 0, OPT_CERT, "FILE", "TLS: client certificate"},
    {"key", 0, OPT_KEY, "FILE", "TLS: client private key"},
    {"quiet", 'q', OPT_QUIET, NULL, "print errors only"},
    {"verbose", 'v', OPT_VERBOSE, NULL, "print more about what happens"},
    {"help", 'h', OPT_HELP, NULL, "show this help"},
    {"version", 0, OPT_VERSION, NULL, "show the version"},
    {NULL, 0, 0, NULL, NULL},
};

static void print_opts(const cli_opt *opts, FILE *out)
{
	for (const cli_opt *o = opts; o != NULL && o->name != NULL; o++) {
		char left[64];

		if (o->short_name)
			snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
			         o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
			         o->arg ? o->arg : "");
		fprintf(out, "  %-28s %s\n", left, o->help);
	}
}

void cli_usage(const cli_command *cmd, FILE *out)
{
	fprintf(out, "usage: baton %s %s\n\n%s\n\n", cmd->name, cmd->usage, cmd->summary);
	if (cmd->opts != NULL && cmd->opts[0].name != NULL) {
		fprintf(out, "options:\n");
		print_opts(cmd->opts, out);
		fprintf(out, "\n");
	}
	fprintf(out, "common options:\n");
	print_opts(common_opts, out);
	fprintf(out, "\nexample:\n  %s\n", cmd->example);
}

/* Appends opts to the getopt tables; returns the new count or -1. */
static int add_opts(const cli_opt *opts, struct option *longs, int n, char *shorts, size_t *ns)
{
	for (const cli_opt *o = opts; o != NULL && o->name != NULL; o++) {
		if (n + 1 >= MAX_OPTS)
			return -1;
		longs[n].name = o->name;
		longs[n].has_arg = o->arg ? required_argument : no_argument;
		longs[n].flag = NULL;
		longs[n].val = o->id;
		n++;
		if (o->short_name) {
			shorts[(*ns)++] = (char)o->short_name;
			if (o->arg)
				shorts[(*ns)++] = ':';
		}
	}
	return n;
}

static int short_to_id(const cli_command *cmd, int ch)
{
	for (const cli_opt *o = cmd->opts; o != NULL && o->name != NULL; o++)
		if (o->short_name == ch)
			return o->id;
	for (const cli_opt *o = common_opts; o->name != NULL; o++)
		if (o->short_name == ch)
			return o->id;
	return -1;
}

/* Applies a common option; returns 0, CLI_HELP, or 1 if id is not common. */
static int common_opt(cli_common *com, const cli_command *cmd, int id, const char *arg, FILE *out)
{
	switch (id) {
	case OPT_BROKER:
		com->broker = arg;
		break;
	case OPT_PREFIX:
		com->prefix = arg;
		break;
	case OPT_NODE:
		com->node = arg;
		break;
	case OPT_USERNAME:
		com->username = arg;
		break;
	case OPT_PASSWORD_FILE:
		com->password_file = arg;
		break;
	case OPT_CAFILE:
		com->cafile = arg;
		break;
	case OPT_CERT:
		com->cert = arg;
		break;
	case OPT_KEY:
		com->key = arg;
		break;
	case OPT_QUIET:
		com->verbosity = -1;
		break;
	case OPT_VERBOSE:
		com->verbosity = 1;
		break;
	case OPT_HELP:
		cli_usage(cmd, out);
		return CLI_HELP;
	case OPT_VERSION:
		fprintf(out, "baton %s\n", baton_version());
		return CLI_HELP;
	default:
		return 1;
	}
	return 0;
}

int cli_parse(int argc, char **argv, const cli_command *cmd, cli_common *com, void *ctx, int *first_arg,
              FILE *out, FILE *err)
{
	struct option longs[MAX_OPTS];
	char shorts[2 * MAX_OPTS + 4] = "+:";
	size_t ns = 2;
	int n = 0, ch, rc = 0;

	memset(com, 0, sizeof *com);
	n = add_opts(cmd->opts, longs, n, shorts, &ns);
	if (n >= 0)
		n = add_opts(common_opts, longs, n, shorts, &ns);
	if (n < 0)
		return CLI_EX_SOFTWARE;
	memset(&longs[n], 0, sizeof longs[n]);
	shorts[ns] = '\0';
	optind = 0; /* full re-initialisation (glibc), so tests may parse twice */
	opterr = 0;
	while (rc == 0 && (ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		int id = ch < 256 ? short_to_id(cmd, ch) : ch;

		if (ch == '?' || ch == ':' || id < 0) {
			fprintf(err, "baton %s: %s option '%s'\n", cmd->name,
			        ch == ':' ? "missing argument to" : "unknown", argv[optind - 1]);
			fprintf(err, "try 'baton %s --help'\n", cmd->name);
			return CLI_EX_USAGE;
		}
		rc = common_opt(com, cmd, id, optarg, out);
		if (rc == 1)
			rc = cmd->on_opt ? cmd->on_opt(ctx, id, optarg) : CLI_EX_USAGE;
	}
	if (rc != 0)
		return rc;
	cli_common_finish(com);
	*first_arg = optind;
	return 0;
}

int cli_common_arity(const char *word)
{
	size_t n;

	if (word[0] != '-' || word[1] == '\0')
		return -1;
	for (const cli_opt *o = common_opts; o->name != NULL; o++) {
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

int cli_parse_duration(const char *s, int64_t *ms)
{
	int64_t total = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -1;
	while (*p != '\0') {
		int64_t v = 0, unit;

		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (v > (INT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (*p - '0');
		}
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's' || *p == '\0') {
			unit = 1000;
			p += *p ? 1 : 0;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else {
			return -1;
		}
		if (v > (INT64_MAX - total) / unit)
			return -1;
		total += v * unit;
	}
	*ms = total;
	return 0;
}

void cli_format_duration(int64_t ms, char *buf, size_t cap)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, cap, "%lldms", (long long)ms);
	else if (ms < 60 * 1000)
		snprintf(buf, cap, "%lld.%llds", (long long)(ms / 1000), (long long)(ms % 1000 / 100));
	else if (ms < 3600 * 1000)
		snprintf(buf, cap, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
	else
		snprintf(buf, cap, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
}

int cli_read_password(const char *path, char *buf, size_t cap, char *err, size_t err_cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		snprintf(err, err_cap, "cannot read password file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)cap, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
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
