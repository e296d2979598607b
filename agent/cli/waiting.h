/*
 * waiting.h - `baton run` waiting for its acquire's answer: the deadlines
 * (--wait bounds the whole run, --connect-timeout the wait for a broker or
 * coordinator that is away), the notices on stderr while something is away,
 * and the waiter's place in the queue from the resource's retained snapshot
 * (no new protocol).
 */
#ifndef BATON_CLI_WAITING_H
#define BATON_CLI_WAITING_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

#define CLI_ANSWER_GRACE_MS 2000 /* after --wait runs out, how long a busy answer may take to arrive */

typedef struct cli_wait {
	const char *resource;
	const cli_common *com;
	int64_t wait_ms;      /* --wait, -1: none */
	int64_t deadline_ms;  /* cli_now_ms() instant the whole run gives up; INT64_MAX: never */
	int64_t answer_by_ms; /* --connect-timeout: the first answer must come by then; INT64_MAX */
	bool show_place;      /* -v or a terminal: show position and holder as they change */
	bool tty;             /* stderr is a terminal: one status line, redrawn */
} cli_wait;

/* Deadlines of a run that started at start_ms (cli_now_ms()) with --wait
 * wait_ms and --connect-timeout connect_ms (-1: not given). Cannot fail. */
void cli_wait_init(cli_wait *w, const char *resource, const cli_common *com, int64_t start_ms,
                   int64_t wait_ms, int64_t connect_ms);

/* How long connecting may take: the earlier of the two deadlines (a
 * --wait 0 run gets CLI_ANSWER_GRACE_MS to connect and be answered). */
int64_t cli_wait_connect_deadline(const cli_wait *w);

/* The wait_ms to send with the acquire now: what is left of --wait (-1: none). */
int64_t cli_wait_left(const cli_wait *w);

/* Waits for l's final answer. Returns 0 with *ans; CLI_EX_UNAVAILABLE when
 * the coordinator never answered in time; CLI_EX_TEMPFAIL when queued and
 * --wait ran out without the busy answer; 128 + signal when interrupted
 * (the queued acquire is withdrawn); another exit code for a libbaton error.
 * Prints why on stderr. */
int cli_wait_answer(baton_client *c, baton_lock *l, const cli_wait *w, baton_answer *ans);

#endif
