/*
 * config.c - parses the coordinator's flags and environment from one option
 * table (driven by common/optab.c, durations by common/duration.c), and
 * validates the result.
 *
 * Never logs and never prints secrets: the password is read from a file
 * named by --password-file, never taken as a flag value. Runs at start-up
 * only; costs do not matter here, clarity does.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "optab.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "password.h"
#include "peers.h"
#include "wire.h"

static baton_err parse_level(const char *val, void *field, char *err, size_t cap)
{
	int l = log_level_parse(val);
	if (l < 0) {
		snprintf(err, cap, "'%s' is not one of error, warn, info, debug", val);
		return BATON_E_INVAL;
	}
	*(int *)field = l;
	return BATON_OK;
}

static baton_err parse_format(const char *val, void *field, char *err, size_t cap)
{
	if (strcmp(val, "text") != 0 && strcmp(val, "json") != 0) {
		snprintf(err, cap, "'%s' is not text or json", val);
		return BATON_E_INVAL;
	}
	*(config_log_format *)field = strcmp(val, "json") == 0 ? CONFIG_LOG_JSON : CONFIG_LOG_TEXT;
	return BATON_OK;
}

static baton_err parse_sync(const char *val, void *field, char *err, size_t cap)
{
	if (sync_level_parse(val, (sync_level *)field) != BATON_OK) {
		snprintf(err, cap, "'%s' is not full, normal or off", val);
		return BATON_E_INVAL;
	}
	return BATON_OK;
}

#define O(f) offsetof(config, f)
#define HOUR (3600u * 1000u)
#define DAY  (24ull * HOUR)
#define STR(n_, f_, d_, a_, h_)                                                                              \
	{                                                                                                    \
		.name = n_, .type = OPTAB_STR, .offset = O(f_), .def = d_, .arg = a_, .help = h_             \
	}
#define DUR(n_, f_, d_, lo_, hi_, h_)                                                                        \
	{                                                                                                    \
		.name = n_, .type = OPTAB_DUR, .offset = O(f_), .def = d_, .min = lo_, .max = hi_,           \
		.arg = "DUR", .help = h_                                                                     \
	}
#define PARSE(n_, f_, p_, d_, a_, h_)                                                                        \
	{                                                                                                    \
		.name = n_, .type = OPTAB_PARSE, .offset = O(f_), .parse = p_, .def = d_, .arg = a_,         \
		.help = h_                                                                                   \
	}
#define FLAG(n_, s_, f_, h_)                                                                                 \
	{                                                                                                    \
		.name = n_, .short_name = s_, .type = OPTAB_FLAG, .offset = O(f_), .help = h_                \
	}
/* Each option is also read from the environment as BATON_<NAME>. */
static const optab_opt options[] = {
    STR("broker", broker, "tcp://127.0.0.1:1883", "URI",
        "broker to connect to (tcp://, mqtt://, ssl://, mqtts://)"),
    STR("prefix", prefix, "baton/v1", "P", "topic prefix"),
    STR("client-id", client_id, "baton-coordinator", "ID", "MQTT client id of the persistent session"),
    STR("state", state, NULL, "PATH|:memory:",
        "durable state file (default ./baton-state.db, or /var/lib/baton/state.db when that directory "
        "exists); :memory: keeps state in memory only (lost on restart)"),
    FLAG("fresh", 0, fresh,
         "accept a zero-length --state file and start it empty (refused otherwise: the state was lost)"),
    PARSE("sync", sync, parse_sync, "full", "full|normal|off",
          "SQLite durability: full survives power loss, normal may lose the last commits on power loss, off "
          "may corrupt on an OS crash"),
    DUR("done-ttl", done_ttl_ms, "10m", 0, 365 * DAY, "how long a once success is remembered"),
    DUR("default-lease", default_lease_ms, "30s", WIRE_LEASE_MIN, WIRE_LEASE_MAX,
        "lease of an acquire without lease_ms"),
    DUR("max-lease", max_lease_ms, "1h", WIRE_LEASE_MIN, WIRE_LEASE_MAX,
        "longer leases asked for are granted this long"),
    DUR("stats-interval", stats_interval_ms, "5s", 100, HOUR, "how often P/stats is published"),
    DUR("snapshot-interval", snapshot_interval_ms, "10ms", 0, 60000,
        "retained snapshots go out at once when idle, then at most once per DUR with each resource's "
        "latest state (0: after every change)"),
    STR("username", username, NULL, "NAME", "broker user name"),
    STR("password-file", password_file, NULL, "FILE", "file whose first line is the broker password"),
    STR("cafile", cafile, NULL, "FILE", "CA certificates to verify the broker (TLS)"),
    STR("cert", cert, NULL, "FILE", "client certificate (TLS)"),
    STR("key", key, NULL, "FILE", "client private key (TLS)"),
    PARSE("log-level", log_level, parse_level, "info", "error|warn|info|debug", "log level"),
    PARSE("log-format", log_format, parse_format, "text", "text|json", "log line format"),
    STR("log-file", log_file, NULL, "FILE", "append logs to FILE instead of stderr (reopened on SIGHUP)"),
    STR("member", member, NULL, "ID", "run as this member (1..999999) of a replicated group; needs --peers"),
    STR("peers", peers, NULL, "ID=HOST:PORT,...",
        "the members a fresh group starts with, this one included, the same on each (IPv4 addresses; "
        "the raft transport has no TLS: keep it on a private network); with --join, at least this one"),
    FLAG("join", 0, join,
         "start with no raft data as a new member that waits to be added (baton-coordinator member add), "
         "never bootstrapping a group of its own"),
    STR("raft-dir", raft_dir, NULL, "DIR",
        "the member's raft log and snapshots (default: --state plus .raft)"),
    STR("raft-bind", raft_bind, NULL, "HOST:PORT",
        "listen for raft here instead of on this member's --peers address (a proxy, NAT or container)"),
    DUR("election-timeout", election_timeout_ms, "300ms", 50, 60000,
        "a group's election timeout (randomised up to twice this); pre-vote is on"),
    DUR("heartbeat", heartbeat_ms, "50ms", 10, 10000, "how often a group's leader reaches its followers"),
    STR("metrics-listen", metrics_listen, NULL, "ADDR:PORT",
        "serve Prometheus metrics on http://ADDR:PORT/metrics (off by default; :PORT for every interface)"),
    FLAG("help", 'h', show_help, "show this help and exit"),
    FLAG("version", 'V', show_version, "show the version and exit"),
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static optab_set option_set(config *c)
{
	return (optab_set){options, N_OPTIONS, c};
}

void config_init(config *c)
{
	char err[256];
	memset(c, 0, sizeof *c);
	optab_set s = option_set(c);
	if (optab_defaults(&s, err, sizeof err) != BATON_OK)
		abort(); /* a bad default or no memory at start-up: nothing to save */
}

void config_deinit(config *c)
{
	optab_set s = option_set(c);
	optab_free_strings(&s);
	password_free(c->password);
	c->password = NULL;
}

/* BATON_LOG_LEVEL for --log-level, and so on. */
static void env_name(const optab_opt *o, char *buf, size_t cap)
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
		if (v != NULL && *v != '\0' && options[i].type != OPTAB_FLAG)
			rc = optab_set_value(&options[i], c, v, err, cap);
		if (rc != BATON_OK)
			strncat(err, " (from the environment)", cap - strlen(err) - 1);
	}
	if (rc != BATON_OK)
		return rc;
	optab_set s = option_set(c);
	char what[256] = "";
	switch (optab_parse(&s, 1, argc, argv, false, NULL, NULL, NULL, what, sizeof what)) {
	case 0:
		return BATON_OK;
	case OPTAB_E_MISSING:
		snprintf(err, cap, "%s: needs a value", what);
		break;
	case OPTAB_E_OPERAND:
		snprintf(err, cap, "unexpected argument '%s'", what);
		break;
	case OPTAB_E_VALUE:
		snprintf(err, cap, "%s", what);
		break;
	default:
		snprintf(err, cap, "unknown flag '%s'", what);
	}
	return BATON_E_INVAL;
}

static baton_err read_password(config *c, char *err, size_t cap);

baton_err config_validate_client(config *c, char *err, size_t cap)
{
	if (c->password_file != NULL)
		return read_password(c, err, cap);
	return BATON_OK;
}

static baton_err read_password(config *c, char *err, size_t cap)
{
	char why[512];
	baton_err rc = password_read(c->password_file, &c->password, why, sizeof why);
	if (rc == BATON_E_IO) {
		snprintf(err, cap, "--password-file: %s", why);
		return BATON_E_INVAL;
	}
	return rc;
}

static const char *default_state_path(void)
{
	struct stat st;
	if (stat("/var/lib/baton", &st) == 0 && S_ISDIR(st.st_mode))
		return "/var/lib/baton/state.db";
	return "./baton-state.db";
}

/* --member, --peers and the rest of a group's flags go together. */
static baton_err validate_group(config *c, char *err, size_t cap)
{
	if (c->peers == NULL && c->member == NULL) {
		if (c->raft_dir != NULL || c->raft_bind != NULL || c->join) {
			snprintf(err, cap, "--raft-dir, --raft-bind and --join need --member and --peers");
			return BATON_E_INVAL;
		}
		return BATON_OK;
	}
	if (c->peers == NULL || c->member == NULL) {
		snprintf(err, cap, "--member and --peers go together");
		return BATON_E_INVAL;
	}
	if (group_member_parse(c->member, &c->member_id) != BATON_OK) {
		snprintf(err, cap, "--member: '%s' is not a member id 1..999999", c->member);
		return BATON_E_INVAL;
	}
	if (group_peers_parse(c->peers, c->peer_list, &c->n_peers, err, cap) != BATON_OK)
		return BATON_E_INVAL;
	bool found = false;
	for (size_t i = 0; i < c->n_peers; i++)
		found = found || c->peer_list[i].id == c->member_id;
	if (!found) {
		snprintf(err, cap, "--member %s is not one of the ids in --peers", c->member);
		return BATON_E_INVAL;
	}
	if (strcmp(c->state, ":memory:") == 0) {
		snprintf(err, cap, "a group member needs a --state file (its SQLite state and snapshots)");
		return BATON_E_INVAL;
	}
	if (c->heartbeat_ms >= c->election_timeout_ms) {
		snprintf(err, cap, "--heartbeat (%llums) must be shorter than --election-timeout (%llums)",
		         (unsigned long long)c->heartbeat_ms, (unsigned long long)c->election_timeout_ms);
		return BATON_E_INVAL;
	}
	if (c->n_peers == 1 && !c->join) {
		/* It would bootstrap a group of one, elect itself and take the
		 * group's session: a new member that forgot --join. */
		snprintf(
		    err, cap,
		    "--peers lists only this member: it would bootstrap a group of its own and serve alone; "
		    "a new member of a group starts with --join (a single coordinator needs no --member)");
		return BATON_E_INVAL;
	}
	if (c->raft_dir == NULL) {
		size_t n = strlen(c->state) + 6;
		if ((c->raft_dir = malloc(n)) == NULL)
			return BATON_E_NOMEM;
		snprintf(c->raft_dir, n, "%s.raft", c->state);
	}
	return BATON_OK;
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
	baton_err rc = validate_group(c, err, cap);
	if (rc != BATON_OK)
		return rc;
	if (c->password_file != NULL)
		return read_password(c, err, cap);
	return BATON_OK;
}

void config_usage(FILE *out, const char *argv0)
{
	fprintf(out,
	        "Usage: %s [OPTIONS]\n"
	        "Baton's lock coordinator: serves lock requests on P/req/# over an MQTT broker.\n\n"
	        "Options (each also read from the environment as BATON_<NAME>, e.g. BATON_BROKER; a flag "
	        "wins):\n",
	        argv0);
	optab_usage(out, options, N_OPTIONS, 34, false, true);
	fprintf(out,
	        "\nDurations: a number and a unit (ms, s, m, h, d), largest first: 250ms, 30s, 1m30s, 2d.\n"
	        "A unit is required except for 0.\n"
	        "\nExamples:\n"
	        "  %s --broker tcp://127.0.0.1:1883 --state /var/lib/baton/state.db\n"
	        "  %s --state :memory: --done-ttl 1h --log-format json\n"
	        "  %s --member 1 --peers 1=10.0.0.1:7001,2=10.0.0.2:7001,3=10.0.0.3:7001 --state "
	        "/var/lib/baton/state.db\n"
	        "  mosquitto_sub -t 'baton/v1/#' -v      # watch every answer, event and snapshot\n"
	        "\nMembership of a replicated group (sent to its serving leader over the broker; the broker, "
	        "prefix, user and TLS options above apply):\n"
	        "  %s member add ID HOST:PORT   # start the new member first, with --join\n"
	        "  %s member remove ID\n"
	        "\nExit status: 0 after SIGTERM/SIGINT, 64 on a bad flag, 69 if the broker refuses us, 70 on "
	        "a state error, 74 if the state file is lost while serving (or a batch could not be "
	        "committed), 75 if another coordinator serves the prefix or holds the state file.\n",
	        argv0, argv0, argv0, argv0, argv0);
}
