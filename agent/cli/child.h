/*
 * child.h - runs the user's command for `baton run` and supervises it:
 * environment, optional output capture, the tail of its stderr (passed
 * through a pipe, so the command's stderr is not a terminal), signal
 * forwarding, and killing it when the lock is lost.
 */
#ifndef BATON_CLI_CHILD_H
#define BATON_CLI_CHILD_H

#include <stdbool.h>
#include <stddef.h>

#define CHILD_TAIL_MAX     4096 /* bytes of output kept for --share-output */
#define CHILD_ERR_TAIL_MAX 1024 /* bytes of stderr kept for a failed release (the wire's error) */
#define CHILD_GRACE_MS     5000 /* SIGTERM -> SIGKILL when the lock is lost */

typedef struct child_opts {
	char *const *argv;      /* the command, argv[0] searched in PATH */
	const char *const *env; /* "NAME=value" strings added to ours, NULL-terminated */
	bool share_output;      /* capture stdout (still echoed) and keep its tail */
	int lost_fd;            /* readable when the lock is lost; -1: none */
} child_opts;

typedef struct child_result {
	bool exited; /* exited normally with code; else killed by sig */
	int code;
	int sig;
	bool lost;                     /* the lock was lost and the command was stopped */
	bool spawned;                  /* false: fork or exec failed (code 127 or 126) */
	char tail[CHILD_TAIL_MAX + 1]; /* the last output bytes, NUL-terminated */
	size_t tail_len;
	char err_tail[CHILD_ERR_TAIL_MAX + 1]; /* the last stderr bytes (always kept), NUL-terminated */
	size_t err_tail_len;
} child_result;

/* Runs the command to its end. Returns 0, or -1 when it could not be
 * started at all (a message was printed to stderr). */
int child_run(const child_opts *o, child_result *r);

/* "SIGTERM", "SIGKILL", ... or "signal N" into buf. */
void child_signal_name(int sig, char *buf, size_t cap);

#endif
