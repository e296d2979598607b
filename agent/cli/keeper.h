/*
 * keeper.h - the keeper: a small process between `baton run` and its
 * command that kills the command's whole process group when baton dies
 * (by any signal, SIGKILL included), when the lock's validity runs out
 * while baton cannot act (stopped, starved), or when baton tells it to.
 * See docs/faults.md, "baton run".
 *
 * The keeper is forked from baton (no exec): it may call async-signal-safe
 * functions only, so it never allocates, never uses stdio and takes its
 * whole configuration ready-made from baton.
 */
#ifndef BATON_CLI_KEEPER_H
#define BATON_CLI_KEEPER_H

#include <stdint.h>

/* baton -> keeper, over the control pipe. Its end of file (baton is gone)
 * means: SIGKILL everything now. */
enum {
	KEEP_VALID = 1, /* at: the lock is valid until then (monotonic ms; INT64_MAX: no limit) */
	KEEP_STOP,      /* send sig to the group now, SIGKILL at `at` at the latest */
};

/* keeper -> baton, over the status pipe. */
enum {
	KEEP_STARTED = 1, /* val: the command's pid, also its process group */
	KEEP_EXEC_FAILED, /* val: errno of the exec */
	KEEP_EXITED,      /* val: wait status of the command (the direct child) */
	KEEP_TERM,        /* val: why SIGTERM was sent (KEEP_WHY_*) */
	KEEP_KILLED,      /* SIGKILL sent to every process of the command */
	KEEP_GONE,        /* every process of the command is gone: the keeper exits */
};

enum { KEEP_WHY_DEADLINE = 1, KEEP_WHY_ENDED };

typedef struct keeper_msg {
	int32_t op;
	int32_t val; /* KEEP_STOP: the first signal */
	int64_t at;
} keeper_msg;

typedef struct keeper_spec {
	char *const *argv;   /* the command, argv[0] searched in PATH */
	char **env;          /* its whole environment */
	int ctl_fd;          /* read end of baton's control pipe */
	int st_fd;           /* write end of the status pipe */
	int out_fd;          /* the command's stdout, -1: ours */
	int err_fd;          /* the command's stderr (baton keeps its tail), -1: ours */
	int64_t kill_after;  /* ms from SIGTERM to SIGKILL */
	int64_t valid_until; /* monotonic ms, INT64_MAX: none */
} keeper_spec;

/* Runs in the child of fork(): starts the command in a process group of
 * its own, supervises it and exits when every process of it is gone. Never
 * returns. */
void keeper_run(const keeper_spec *k) __attribute__((noreturn));

#endif
