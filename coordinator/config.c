/*
 * config.c - parses the coordinator's flags and environment from one option
 * table, and validates the result.
 *
 * Never logs and never prints secrets: the password is read from a file
 * named by --password-file, never taken as a flag value. Runs at start-up
 * only; costs do not matter here, clarity does.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "metrics.h"
#include "names.h"
#include "wire.h"

typedef enum opt_type { OPT_STR, OPT_DUR, OPT_LEVEL, OPT_FORMAT, OPT_SYNC, OPT_FLAG } opt_type;

typedef struct opt {
	const char *name; /* long flag, and BATON_<NAME> in the environment */
	opt_type type;
	size_t offset;
	const char *def;   /* default as text, NULL: none */
	uint64_t min, max; /* durations, in ms */
	const char *arg;
	const char *help;
} opt;

#define O(f) offsetof(config, f)
#define HOUR (3600u * 1000u)
static const opt options[] = {
    {"broker", OPT_STR, O(broker), "tcp://127.0.0.1:1883", 0, 0, "URI",
     "broker to connect to (tcp://, mqtt://, ssl://, mqtts://)"},
    {"prefix", OPT_STR, O(prefix), "baton/v1", 0, 0, "P", "topic prefix"},
    {"client-id", OPT_STR, O(client_id), "baton-coordinator", 0, 0, "ID",
     "MQTT client id of the persistent session"},
    {"state", OPT_STR, O(state), NULL, 0, 0, "PATH|:memory:",
     "durable state file (default ./baton-state.db, or /var/lib/baton/state.db when that directory "
     "exists); :memory: keeps state in memory only (lost on restart)"},
    {"sync", OPT_SYNC, O(sync), "full", 0, 0, "full|normal|off",
     "SQLite durability: full survives power loss, normal may lose the last commits on power loss, off "
     "may corrupt on an OS crash"},
    {"done-ttl", OPT_DUR, O(done_ttl_ms), "10m", 0, 365ull * 24 * HOUR, "DUR",
     "how long a once success is remembered"},
    {"default-lease", OPT_DUR, O(default_lease_ms), "30s", WIRE_LEASE_MIN, WIRE_LEASE_MAX, "DUR",
     "lease of an acquire without lease_ms"},
    {"max-lease", OPT_DUR, O(max_lease_ms), "1h", WIRE_LEASE_MIN, WIRE_LEASE_MAX, "DUR",
     "longer leases asked for are granted this long"},
    {"stats-interval", OPT_DUR, O(stats_interval_ms), "5s", 100, HOUR, "DUR",
     "how often P/stats is published"},
    {"snapshot-interval", OPT_DUR, O(snapshot_interval_ms), "10ms", 0, 60000, "DUR",
     "retained snapshots go out at once when idle, then at most once per DUR with each resource's "
     "latest state (0: after every change)"},
    {"username", OPT_STR, O(username), NULL, 0, 0, "NAME", "broker user name"},
    {"password-file", OPT_STR, O(password_file), NULL, 0, 0, "FILE",
     "file whose first line is the broker password"},
    {"cafile", OPT_STR, O(cafile), NULL, 0, 0, "FILE", "CA certificates to verify the broker (TLS)"},
    {"cert", OPT_STR, O(cert), NULL, 0, 0, "FILE", "client certificate (TLS)"},
    {"key", OPT_STR, O(key), NULL, 0, 0, "FILE", "client private key (TLS)"},
    {"log-level", OPT_LEVEL, O(log_level), "info", 0, 0, "error|warn|info|debug", "log level"},
    {"log-format", OPT_FORMAT, O(log_format), "text", 0, 0, "text|json", "log line format"},
    {"log-file", OPT_STR, O(log_file), NULL, 0, 0, "FILE",
     "append logs to FILE instead of stderr (reopened on SIGHUP)"},
    {"metrics-listen", OPT_STR, O(metrics_listen), NULL, 0, 0, "ADDR:PORT",
     "serve Prometheus metrics on http://ADDR:PORT/metrics (off by default; :PORT for every interface)"},
    {"help", OPT_FLAG, O(show_help), NULL, 0, 0, NULL, "show this help and exit"},
    {"version", OPT_FLAG, O(show_version), NULL, 0, 0, NULL, "show the version and exit"},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

baton_err config_parse_duration(const char *s, uint64_t *ms)
{
	if (s == NULL || *s < '0' || *s > '9')
		return BATON_E_INVAL;
	errno = 0;
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return BATON_E_INVAL;
	uint64_t mult;
	if (strcmp(end, "ms") == 0 || *end == '\0')
		mult = 1;
	else if (strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = HOUR;
	else if (strcmp(end, "d") == 0)
		mult = 24ull * HOUR;
	else
		return BATON_E_INVAL;
	if (v > UINT64_MAX / mult)
		return BATON_E_INVAL;
	*ms = v * mult;
	return BATON_OK;
}

static baton_err set_option(config *c, const opt *o, const char *val, char *err, size_t cap)
{
	char *field = (char *)c + o->offset;
	switch (o->type) {
	case OPT_STR: {
		char *copy = strdup(val);
		if (copy == NULL)
			return BATON_E_NOMEM;
		free(*(char **)field);
		*(char **)field = copy;
		return BATON_OK;
	}
	case OPT_DUR: {
		uint64_t ms;
		if (config_parse_duration(val, &ms) != BATON_OK || ms < o->min || ms > o->max) {
			snprintf(
			    err, cap,
			    "--%s: '%s' is not a duration from %llums to %llums (e.g. 250ms, 30s, 5m, 1h)",
			    o->name, val, (unsigned long long)o->min, (unsigned long long)o->max);
			return BATON_E_INVAL;
		}
		*(uint64_t *)field = ms;
		return BATON_OK;
	}
	case OPT_LEVEL: {
		int l = log_level_parse(val);
		if (l < 0) {
			snprintf(err, cap, "--%s: '%s' is not one of error, warn, info, debug", o->name, val);
			return BATON_E_INVAL;
		}
		*(int *)field = l;
		return BATON_OK;
	}
	case OPT_FORMAT:
		if (strcmp(val, "text") != 0 && strcmp(val, "json") != 0) {
			snprintf(err, cap, "--%s: '%s' is not text or json", o->name, val);
			return BATON_E_INVAL;
		}
		*(config_log_format *)field = strcmp(val, "json") == 0 ? CONFIG_LOG_JSON : CONFIG_LOG_TEXT;
		return BATON_OK;
	case OPT_SYNC:
		if (strcmp(val, "full") == 0)
			*(config_sync *)field = CONFIG_SYNC_FULL;
		else if (strcmp(val, "normal") == 0)
			*(config_sync *)field = CONFIG_SYNC_NORMAL;
		else if (strcmp(val, "off") == 0)
			*(config_sync *)field = CONFIG_SYNC_OFF;
		else {
			snprintf(err, cap, "--%s: '%s' is not full, normal or off", o->name, val);
			return BATON_E_INVAL;
		}
		return BATON_OK;
	case OPT_FLAG:
		*(bool *)field = true;
		return BATON_OK;
	}
	return BATON_E_INVAL;
}

void config_init(config *c)
{
	char err[256];
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (options[i].def != NULL &&
		    set_option(c, &options[i], options[i].def, err, sizeof err) != BATON_OK)
			abort(); /* a bad default or no memory at start-up: nothing to save */
}

void config_deinit(config *c)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (options[i].type == OPT_STR) {
			char **f = (char **)((char *)c + options[i].offset);
			free(*f);
			*f = NULL;
		}
	if (c->password != NULL) {
		memset(c->password, 0, strlen(c->password));
		free(c->password);
		c->password = NULL;
	}
}

/* BATON_LOG_LEVEL for --log-level, and so on. */
static void env_name(const opt *o, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "BATON_%s", o->name);
	for (size_t i = 6; i < n && i < cap; i++)
		buf[i] = buf[i] == '-' ? '_' : (char)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
}

baton_err config_parse(config *c, int argc, char **argv, char *err, size_t cap)
{
	baton_err rc = BATON_OK;
	for (size_t i = 0; i < N_OPTIONS && rc == BATON_OK; i++) {
		char name[64];
		env_name(&options[i], name, sizeof name);
		const char *v = getenv(name);
		if (v != NULL && *v != '\0' && options[i].type != OPT_FLAG)
			rc = set_option(c, &options[i], v, err, cap);
		if (rc != BATON_OK)
			strncat(err, " (from the environment)", cap - strlen(err) - 1);
	}
	struct option lopts[N_OPTIONS + 1];
	memset(lopts, 0, sizeof lopts);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		lopts[i].name = options[i].name;
		lopts[i].has_arg = options[i].type == OPT_FLAG ? no_argument : required_argument;
		lopts[i].val = (int)i + 1000;
	}
	optind = 1;
	opterr = 0;
	int ch, idx;
	while (rc == BATON_OK && (ch = getopt_long(argc, argv, ":hV", lopts, &idx)) != -1) {
		if (ch == 'h')
			c->show_help = true;
		else if (ch == 'V')
			c->show_version = true;
		else if (ch >= 1000)
			rc = set_option(c, &options[ch - 1000], optarg, err, cap);
		else {
			if (ch == ':')
				snprintf(err, cap, "%s: needs a value", argv[optind - 1]);
			else
				snprintf(err, cap, "unknown flag '%s'", argv[optind - 1]);
			rc = BATON_E_INVAL;
		}
	}
	if (rc == BATON_OK && optind < argc) {
		snprintf(err, cap, "unexpected argument '%s'", argv[optind]);
		rc = BATON_E_INVAL;
	}
	return rc;
}

static baton_err read_password(config *c, char *err, size_t cap)
{
	FILE *f = fopen(c->password_file, "r");
	if (f == NULL) {
		snprintf(err, cap, "--password-file: cannot read '%s': %s", c->password_file,
		         strerror(errno));
		return BATON_E_INVAL;
	}
	char buf[1024];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	c->password = strdup(buf);
	memset(buf, 0, sizeof buf);
	return c->password != NULL ? BATON_OK : BATON_E_NOMEM;
}

static const char *default_state_path(void)
{
	struct stat st;
	if (stat("/var/lib/baton", &st) == 0 && S_ISDIR(st.st_mode))
		return "/var/lib/baton/state.db";
	return "./baton-state.db";
}

baton_err config_validate(config *c, char *err, size_t cap)
{
	if (!names_prefix_valid(c->prefix, strlen(c->prefix))) {
		snprintf(
		    err, cap,
		    "--prefix: '%s' is not a valid topic prefix (no + # or empty levels, no leading $ or /)",
		    c->prefix);
		return BATON_E_INVAL;
	}
	if (*c->client_id == '\0' || strlen(c->client_id) > 65535) {
		snprintf(err, cap, "--client-id: must not be empty");
		return BATON_E_INVAL;
	}
	if (c->default_lease_ms > c->max_lease_ms) {
		snprintf(err, cap, "--default-lease (%llums) is longer than --max-lease (%llums)",
		         (unsigned long long)c->default_lease_ms, (unsigned long long)c->max_lease_ms);
		return BATON_E_INVAL;
	}
	if ((c->cert == NULL) != (c->key == NULL)) {
		snprintf(err, cap, "--cert and --key go together");
		return BATON_E_INVAL;
	}
	char host[256];
	int port;
	if (c->metrics_listen != NULL &&
	    metrics_parse_addr(c->metrics_listen, host, sizeof host, &port) != BATON_OK) {
		snprintf(err, cap, "--metrics-listen: '%s' is not HOST:PORT, [IPV6]:PORT or :PORT",
		         c->metrics_listen);
		return BATON_E_INVAL;
	}
	if (c->state == NULL && (c->state = strdup(default_state_path())) == NULL)
		return BATON_E_NOMEM;
	if (c->password_file != NULL)
		return read_password(c, err, cap);
	return BATON_OK;
}

void config_usage(FILE *out, const char *argv0)
{
	fprintf(out,
	        "Usage: %s [OPTIONS]\n"
	        "Baton's lock coordinator: serves lock requests on P/req/+ over an MQTT broker.\n\n"
	        "Options (each also read from the environment as BATON_<NAME>, e.g. BATON_BROKER; a flag "
	        "wins):\n",
	        argv0);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const opt *o = &options[i];
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(out, "  %-34s %s", left, o->help);
		if (o->def != NULL)
			fprintf(out, " [%s]", o->def);
		fputc('\n', out);
	}
	fprintf(out,
	        "\nDurations: 250ms, 30s, 5m, 1h, 2d.\n"
	        "\nExamples:\n"
	        "  %s --broker tcp://127.0.0.1:1883 --state /var/lib/baton/state.db\n"
	        "  %s --state :memory: --done-ttl 1h --log-format json\n"
	        "  mosquitto_sub -t 'baton/v1/#' -v      # watch every answer, event and snapshot\n"
	        "\nExit status: 0 after SIGTERM/SIGINT, 64 on a bad flag, 69 if the broker refuses us, 70 on "
	        "a state error.\n",
	        argv0, argv0);
}
