/*
 * cli.h - shared pieces of the baton CLI: exit codes, the common options,
 * the option tables that drive both getopt_long and --help, duration flags,
 * and the subcommands' entry points. The CLI uses libbaton's public header only.
 */
#ifndef BATON_CLI_H
#define BATON_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "baton.h"
#include "duration.h"
#include "optab.h"
#include "password.h"

/* Exit codes (sysexits.h where one fits). */
#define CLI_EX_OK          0
#define CLI_EX_USAGE       64   /* bad command line */
#define CLI_EX_REJECTED    65   /* the coordinator rejected the request */
#define CLI_EX_UNAVAILABLE 69   /* broker or coordinator unreachable */
#define CLI_EX_TEMPFAIL    75   /* wait ran out, or busy */
#define CLI_EX_LOST        76   /* the lock was lost while the command ran */
#define CLI_EX_NOPERM      77   /* the broker's ACL does not let us act as our node */
#define CLI_EX_SOFTWARE    70   /* an internal error */
#define CLI_EX_FAILED      79   /* --max-failures: the operation failed that often in a row; not run */
#define CLI_HELP           (-1) /* cli_parse printed help or version: exit 0 */

/* Set by main.c's signal handler (the only mutable globals of the CLI):
 * the last SIGINT/SIGTERM/SIGHUP received, and whether it was sent by a
 * process with kill() rather than by the terminal (which signals our whole
 * process group, the command included). */
extern volatile sig_atomic_t cli_signal;
extern volatile sig_atomic_t cli_signal_user;

typedef struct cli_common {
	const char *broker;
	const char *prefix;
	const char *node;
	const char *username;
	const char *password_file;
	const char *cafile, *cert, *key;
	int verbosity; /* -1 quiet, 0 normal, 1 verbose */
	char node_buf[BATON_NODE_MAX + 1];
} cli_common;

/* One option of a subcommand: drives getopt_long and the help text
 * (common/optab.h); a subcommand's options are OPTAB_CALL entries, handed
 * to its on_opt. Tables end with {NULL}. */
typedef optab_opt cli_opt;
#define CLI_OPT(n, s, i, a, h)                                                                               \
	{                                                                                                    \
		.name = n, .short_name = s, .type = OPTAB_CALL, .id = i, .arg = a, .help = h                 \
	}
#define CLI_OPT_END                                                                                          \
	{                                                                                                    \
		.name = NULL                                                                                 \
	}

typedef struct cli_command {
	const char *name;
	const char *usage;   /* after "baton NAME " */
	const char *summary; /* one line */
	const char *example; /* shown under --help */
	const cli_opt *opts; /* terminated by {NULL}; may be NULL */
	/* Handles one of opts; returns 0, or CLI_EX_USAGE after printing why. */
	int (*on_opt)(void *ctx, int id, const char *arg);
} cli_command;

/* Parses argv (argv[0] is the subcommand's name) with cmd's options and the
 * common ones into *com and ctx, then applies the environment and defaults
 * (cli_common_finish). *first_arg gets the index of the first operand.
 * Returns 0, CLI_HELP (help or version printed to out), or CLI_EX_USAGE
 * (a message printed to err). Stops at the first operand or "--". */
int cli_parse(int argc, char **argv, const cli_command *cmd, cli_common *com, void *ctx, int *first_arg,
              FILE *out, FILE *err);

/* How many words a common option takes after word ("--broker" 1,
 * "--broker=URI" and "-v" 0), or -1 when word is not a common option. */
int cli_common_arity(const char *word);

/* Fills unset common options from BATON_BROKER, BATON_PREFIX, BATON_NODE and
 * the defaults (node: <hostname>-<pid>, sanitised). Cannot fail. */
void cli_common_finish(cli_common *com);

/* Prints the usage of cmd, the common options and the example. */
void cli_usage(const cli_command *cmd, FILE *out);

/* Parses the duration arg of `baton CMD --FLAG` (common/duration.h) into
 * *out, within min..max ms. Returns 0, or CLI_EX_USAGE after printing to
 * stderr why and what to write instead; *out is then untouched. */
int cli_duration_opt(const char *cmd, const char *flag, const char *arg, int64_t min, int64_t max,
                     int64_t *out);

/* Parses the whole number arg of `baton CMD --FLAG` into *out, within
 * min..max. Returns 0, or CLI_EX_USAGE after printing why to stderr; *out
 * is then untouched. */
int cli_count_opt(const char *cmd, const char *flag, const char *arg, uint32_t min, uint32_t max,
                  uint32_t *out);

/* The exit code for a libbaton error while talking to the coordinator. */
int cli_exit_for(baton_err err);

#define CLI_CONNECT_MS 5000  /* cli_connect's bound */
#define CLI_NOTICE_MS  10000 /* "still waiting for ..." on stderr this often */

/* Creates a client from com and connects it, waiting until deadline_ms
 * (cli_now_ms() clock; INT64_MAX: no limit) and saying on stderr every
 * CLI_NOTICE_MS that it is still waiting for the broker, and why. A
 * refusal (credentials, TLS, client id) ends it at once. On failure prints
 * why to stderr and returns the exit code (69; 77 when the broker's ACL
 * does not let us act as our node; or 128 + a signal that
 * arrived); 0 on success. (common.c) */
int cli_connect_until(const cli_common *com, baton_client **out, int64_t deadline_ms);

/* cli_connect_until with a deadline CLI_CONNECT_MS from now. */
int cli_connect(const cli_common *com, baton_client **out);

/* The monotonic clock, in ms. */
int64_t cli_now_ms(void);

/* Writes "2026-11-24 10:00:00" (local time) for a wall-clock ms. */
void cli_format_time(int64_t ms, char *buf, size_t cap);

/* Subcommands. */
int cli_run_main(int argc, char **argv);
int cli_watch_main(int argc, char **argv);
int cli_status_main(int argc, char **argv);
int cli_reset_main(int argc, char **argv);

#endif
