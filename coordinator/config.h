/*
 * config.h - the coordinator's configuration: one struct, its defaults, the
 * environment, then argv, then a validate step. One option table drives
 * parsing, the environment names and --help, so they cannot drift.
 */
#ifndef BATON_CONFIG_H
#define BATON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "baton_error.h"
#include "peers.h"
#include "sync.h"

typedef enum config_log_format { CONFIG_LOG_TEXT = 0, CONFIG_LOG_JSON } config_log_format;

typedef struct config {
	char *broker;                  /* tcp://127.0.0.1:1883 */
	char *prefix;                  /* baton/v1 */
	char *client_id;               /* baton-coordinator */
	char *state;                   /* path or ":memory:" */
	sync_level sync;               /* full */
	uint64_t done_ttl_ms;          /* 10m */
	uint64_t default_lease_ms;     /* 30s */
	uint64_t max_lease_ms;         /* 1h */
	uint64_t stats_interval_ms;    /* 5s */
	uint64_t snapshot_interval_ms; /* 10ms */
	char *username;
	char *password_file;
	char *password; /* read from password_file by config_validate; never logged */
	char *cafile;
	char *cert;
	char *key;
	int log_level; /* LOG_ERROR..LOG_DEBUG, see log.h */
	config_log_format log_format;
	char *log_file; /* NULL: stderr */
	/* A replicated group's member (--peers given); see daemon_group.h. */
	char *member;                 /* --member ID */
	char *peers;                  /* --peers ID=HOST:PORT,... */
	char *raft_dir;               /* default: state + ".raft" */
	char *raft_bind;              /* NULL: listen on this member's --peers address */
	bool join;                    /* start empty and wait to be added; never bootstrap */
	uint64_t election_timeout_ms; /* 300ms */
	uint64_t heartbeat_ms;        /* 50ms */
	/* Filled by config_validate from member and peers: */
	uint64_t member_id; /* 0: a single coordinator */
	group_peer peer_list[GROUP_MAX_PEERS];
	size_t n_peers;
	bool fresh;           /* accept a zero-length state file (store_open_ex STORE_OPEN_FRESH) */
	char *metrics_listen; /* NULL: no metrics endpoint */
	bool show_help;
	bool show_version;
} config;

/* Sets every field to its default. Cannot fail (aborts only if out of memory
 * at start-up, before any state exists). */
void config_init(config *c);
void config_deinit(config *c);

/* Applies BATON_* environment variables, then argv (flags win). On a bad
 * value or unknown flag returns BATON_E_INVAL with a message naming the flag
 * in err. */
baton_err config_parse(config *c, int argc, char **argv, char *err, size_t cap);

/* Cross-field checks and reading the password file. */
baton_err config_validate(config *c, char *err, size_t cap);

/* What `baton-coordinator member ...` needs of config_validate: reading the
 * password file. */
baton_err config_validate_client(config *c, char *err, size_t cap);

/* Writes the --help text (generated from the option table). */
void config_usage(FILE *out, const char *argv0);

#endif
