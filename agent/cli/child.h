/*
 * child.h - runs the user's command for `baton run` and supervises it:
 * environment, optional output capture, the tail of its stderr (passed
 * through a pipe, so the command's stderr is not a terminal), signal
 * forwarding, and stopping its
 * whole process group (through the keeper, keeper.h) before the lock can be
 * handed to anyone else.
 */
#ifndef BATON_CLI_CHILD_H
#define BATON_CLI_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHILD_TAIL_MAX      4096 /* bytes of output kept for --share-output */
#define CHILD_ERR_TAIL_MAX  1024 /* bytes of stderr kept for a failed release (the wire's error) */
#define CHILD_KILL_AFTER_MS 5000 /* default SIGTERM -> SIGKILL grace (--kill-after) */

/* The byte written to lost_fd: how the lock was lost. */
#define CHILD_LOST_REVOKED    'R' /* revoked or refused: another node may hold it now */
#define CHILD_LOST_CONNECTION 'C' /* connection lost: valid (no Will) until its validity ends */

typedef struct child_opts {
	char *const *argv;      /* the command, argv[0] searched in PATH */
	const char *const *env; /* "NAME=value" strings added to ours, NULL-terminated */
	bool share_output;      /* capture stdout (still echoed) and keep its tail */
	int lost_fd;            /* readable when the lock is lost (a CHILD_LOST_* byte); -1: none */
	int64_t kill_after_ms;  /* SIGTERM -> SIGKILL */
	/* The monotonic instant (CLOCK_MONOTONIC ms) by which every process of
	 * the command must be dead: asked every round; INT64_MAX: no limit.
	 * NULL: none. */
	int64_t (*valid_until)(void *arg);
	void *arg;
	bool verbose;
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

/* Runs the command to its end: returns only when every process of its
 * group is gone. Returns 0, or -1 when it could not be started at all (a
 * message was printed to stderr). */
int child_run(const child_opts *o, child_result *r);

/* "SIGTERM", "SIGKILL", ... or "signal N" into buf. */
void child_signal_name(int sig, char *buf, size_t cap);

#endif
