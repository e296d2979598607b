/*
 * waiting.c - `baton run` waiting for its acquire's answer (waiting.h).
 *
 * Owns the deadlines and what the waiter says on stderr while it waits:
 * a notice every CLI_NOTICE_MS while the coordinator has not answered or
 * the broker connection is down, and, with -v or on a terminal, its place
 * in the queue and the holder, read from the resource's retained snapshot
 * (P/state/<resource>, through a libbaton watch) as the queue moves. Never
 * decides a lock rule; the coordinator's answer is final.
 */
#include "waiting.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The waiter's place as the last snapshot showed it (client thread writes,
 * the waiting thread reads, under mu). */
typedef struct place {
	pthread_mutex_t mu;
	const char *node;
	bool seen;
	unsigned position, queued; /* 0: not in the queue (yet) */
	char holder[BATON_NODE_MAX + 1];
} place;

void cli_wait_init(cli_wait *w, const char *resource, const cli_common *com, int64_t start_ms,
                   int64_t wait_ms, int64_t connect_ms)
{
	w->resource = resource;
	w->com = com;
	w->wait_ms = wait_ms;
	w->deadline_ms = wait_ms >= 0 ? start_ms + wait_ms + CLI_ANSWER_GRACE_MS : INT64_MAX;
	w->answer_by_ms = connect_ms >= 0 ? start_ms + connect_ms : INT64_MAX;
	w->tty = isatty(STDERR_FILENO) && com->verbosity >= 0;
	w->show_place = w->tty || com->verbosity > 0;
}

int64_t cli_wait_connect_deadline(const cli_wait *w)
{
	return w->deadline_ms < w->answer_by_ms ? w->deadline_ms : w->answer_by_ms;
}

int64_t cli_wait_left(const cli_wait *w)
{
	int64_t left;

	if (w->wait_ms < 0)
		return -1;
	left = w->deadline_ms - CLI_ANSWER_GRACE_MS - cli_now_ms();
	return left > 0 ? left : 0;
}

static void on_state(const baton_event *ev, void *arg)
{
	place *p = arg;
	const baton_state *s = &ev->state;

	if (ev->kind == BATON_EVENT_OUTCOME)
		return;
	pthread_mutex_lock(&p->mu);
	p->seen = true;
	p->position = 0;
	p->queued = ev->kind == BATON_EVENT_STATE ? (unsigned)s->n_waiting : 0;
	for (size_t i = 0; ev->kind == BATON_EVENT_STATE && i < s->n_waiting; i++)
		if (strcmp(s->waiting[i], p->node) == 0)
			p->position = (unsigned)i + 1;
	snprintf(p->holder, sizeof p->holder, "%s",
	         ev->kind == BATON_EVENT_STATE && s->holder != NULL ? s->holder : "");
	pthread_mutex_unlock(&p->mu);
}

/* The place line, or "" when there is nothing new to say. */
static void place_line(place *p, const baton_lock_info *info, char *buf, size_t cap)
{
	unsigned pos, n;
	char holder[BATON_NODE_MAX + 1];

	pthread_mutex_lock(&p->mu);
	pos = p->position;
	n = p->queued;
	snprintf(holder, sizeof holder, "%s", p->holder);
	pthread_mutex_unlock(&p->mu);
	if (pos == 0) { /* the snapshot has not shown us yet: the answer's word */
		pos = info->position;
		n = n > pos ? n : pos;
		snprintf(holder, sizeof holder, "%s", info->holder);
	}
	snprintf(buf, cap, "position %u of %u, held by %s", pos, n, holder[0] ? holder : "?");
}

static const char *clear_line(const cli_wait *w)
{
	return w->tty ? "\r\033[K" : "";
}

/* A notice while something is away; true when one was printed. */
static void notice(const cli_wait *w, baton_client *c, const baton_lock_info *info, int64_t waited)
{
	char dur[32];
	bool seen = false, online = false;

	if (w->com->verbosity < 0)
		return;
	duration_format(waited, dur, sizeof dur);
	baton_client_coordinator(c, &seen, &online, NULL);
	if (!baton_client_connected(c))
		fprintf(stderr, "%sbaton: still waiting for the broker at %s (%s so far); reconnecting\n",
		        clear_line(w), w->com->broker, dur);
	else if (info->phase == BATON_PHASE_SENT || (seen && !online))
		fprintf(stderr,
		        "%sbaton: still waiting for the coordinator: no answer on prefix %s at %s for %s%s\n",
		        clear_line(w), w->com->prefix, w->com->broker, dur,
		        seen && !online ? " (it is offline)" : " (is it running?)");
}

/* One look at the lock: 0 with *ans when answered, a positive exit code
 * when the wait is over, -1 to go on. */
static int look(baton_lock *l, const cli_wait *w, baton_answer *ans, baton_lock_info *info)
{
	baton_err err = baton_lock_wait(l, 200, ans);
	int64_t now = cli_now_ms();
	char dur[32];

	baton_lock_get_info(l, info);
	if (err == BATON_OK)
		return 0;
	if (err != BATON_E_TIMEOUT) {
		fprintf(stderr, "%sbaton: %s\n", clear_line(w), baton_strerror(err));
		return cli_exit_for(err);
	}
	if (cli_signal != 0) {
		int sig = cli_signal;

		fprintf(stderr, "%sbaton: interrupted; withdrawing from the queue\n", clear_line(w));
		(void)baton_cancel(l, 3000);
		return 128 + sig;
	}
	if (info->phase == BATON_PHASE_SENT && (now >= w->answer_by_ms || now >= w->deadline_ms)) {
		duration_format(info->age_ms, dur, sizeof dur);
		fprintf(
		    stderr,
		    "%sbaton: no answer from the coordinator on prefix %s at %s within %s (%s); giving up\n",
		    clear_line(w), w->com->prefix, w->com->broker, dur,
		    now >= w->answer_by_ms ? "--connect-timeout" : "--wait");
		(void)baton_cancel(l, 0);
		return CLI_EX_UNAVAILABLE;
	}
	if (now >= w->deadline_ms) {
		duration_format(w->wait_ms, dur, sizeof dur);
		fprintf(stderr, "%sbaton: waited %s for %s (held by %s); giving up\n", clear_line(w), dur,
		        w->resource, info->holder[0] ? info->holder : "?");
		(void)baton_cancel(l, 1000);
		return CLI_EX_TEMPFAIL;
	}
	return -1;
}

int cli_wait_answer(baton_client *c, baton_lock *l, const cli_wait *w, baton_answer *ans)
{
	place p = {.mu = PTHREAD_MUTEX_INITIALIZER, .node = w->com->node};
	baton_watch *watch = NULL;
	baton_lock_info info;
	char line[BATON_NODE_MAX + 64], shown[sizeof line] = "", age[32];
	int64_t start = cli_now_ms(), next_notice = start + CLI_NOTICE_MS;
	int rc = -1;

	if (w->show_place && baton_watch_new(c, w->resource, on_state, &p, &watch) != BATON_OK)
		watch = NULL; /* no place shown, the rest works */
	while ((rc = look(l, w, ans, &info)) < 0) {
		int64_t now = cli_now_ms();

		if (now >= next_notice) {
			notice(w, c, &info, now - start);
			next_notice = now + CLI_NOTICE_MS;
		}
		if (!w->show_place || info.phase != BATON_PHASE_QUEUED)
			continue;
		place_line(&p, &info, line, sizeof line);
		if (w->tty) {
			duration_format(info.age_ms, age, sizeof age);
			fprintf(stderr, "\r\033[Kbaton: waiting for %s: %s (%s)", w->resource, line, age);
			fflush(stderr);
		} else if (strcmp(line, shown) != 0) {
			fprintf(stderr, "baton: waiting for %s: %s\n", w->resource, line);
			memcpy(shown, line, sizeof shown);
		}
	}
	baton_watch_free(watch);
	if (w->tty)
		fprintf(stderr, "\r\033[K");
	return rc;
}
