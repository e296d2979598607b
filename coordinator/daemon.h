/*
 * daemon.h - the coordinator's owner loop: one thread owns the lock table,
 * the store and the deadlines; it takes a batch of what the broker edge
 * received, steps the table, commits the batch once, then publishes.
 */
#ifndef BATON_DAEMON_H
#define BATON_DAEMON_H

#include <signal.h>

#include "broker.h"
#include "config.h"
#include "metrics.h"

/* Exit statuses (sysexits.h values). */
enum {
	DAEMON_EXIT_OK = 0,
	DAEMON_EXIT_USAGE = 64,
	DAEMON_EXIT_UNAVAILABLE = 69,
	DAEMON_EXIT_SOFTWARE = 70, /* also: a state file refused at start */
	DAEMON_EXIT_IOERR = 74,    /* the state file was lost while serving, or a batch never committed */
	DAEMON_EXIT_CONFLICT = 75, /* another coordinator serves the prefix or holds the state file */
};

/* Signals reach the loop through these flags and the wake fd. */
typedef struct daemon_signals {
	volatile sig_atomic_t stop;
	volatile sig_atomic_t reopen_log;
	int wake_fd; /* an eventfd the signal handler also writes */
} daemon_signals;

/* What every connection of the coordinator shares, for both modes
 * (daemon_start.c): the broker, credentials, TLS, keepalive and the wake
 * fd; the caller sets the rest (session, Will, subscriptions). */
broker_options daemon_broker_options(const config *cfg, int wake_fd, const char *client_id);

/* --metrics-listen, for both modes (daemon_start.c): a recorder serving
 * GET /metrics at addr from its own thread, and a log line saying where.
 * addr NULL: *out NULL, nothing served. On error *out is NULL and err says
 * why: BATON_E_INVAL (the address), BATON_E_IO (cannot listen there),
 * BATON_E_NOMEM. */
baton_err daemon_open_metrics(const char *addr, metrics **out, char *err, size_t cap);

/* Runs the coordinator with cfg (validated) until sig->stop, then shuts
 * down cleanly. Returns the process exit status. */
int daemon_run(const config *cfg, daemon_signals *sig);

#endif
