/*
 * status.c - `baton status [FILTER|RESOURCE]`: a table of the locks from
 * their retained snapshots (P/state/<resource>), gathered for a short,
 * bounded time after subscribing: until 300 ms pass without news, at most
 * 2 s. One resource named exactly gets every detail; --json writes the same
 * for scripts (a JSON array, one object per lock, names as on the wire).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "status.h"

#define QUIET_MS 300
#define MAX_MS   2000

enum { STATUS_JSON = 256, STATUS_TIMEOUT };

typedef struct status_args {
	bool json;
	int64_t timeout_ms;
} status_args;

typedef struct status_ctx {
	pthread_mutex_t mu; /* the client thread fills rows, main reads them */
	status_row *rows;
	size_t n, cap;
	int64_t last_event_ms;
} status_ctx;

static const cli_opt status_opts[] = {
    CLI_OPT("json", 'j', STATUS_JSON, NULL, "write a JSON array, one object per lock, for scripts"),
    CLI_OPT("timeout", 't', STATUS_TIMEOUT, "DUR",
            "give up (exit 69) when the broker is not reached by then (default 5s)"),
    CLI_OPT_END,
};

static int status_opt(void *ctx, int id, const char *arg)
{
	status_args *a = ctx;

	if (id == STATUS_JSON) {
		a->json = true;
		return 0;
	}
	return cli_duration_opt("status", "timeout", arg, 0, INT64_MAX, &a->timeout_ms);
}

static const cli_command status_cmd = {
    "status",
    "[OPTIONS] [FILTER|RESOURCE]",
    "Shows every lock the coordinator reports (or those matching FILTER, an MQTT\n"
    "filter over resource names): mode, holder, token, how long held, lease left,\n"
    "waiters and a remembered success; under a row, every holder of a shared lock or\n"
    "semaphore, the queue with its modes, and a once resource's failure streak.\n"
    "A RESOURCE named exactly (no + or #) gets its row and then the rest:\n"
    "its queue in order, the holder's meta, the remembered success and the\n"
    "last failure. Exit: 0 (also when there is no such lock); 69 broker unreachable.",
    "baton status --json 'images/#'",
    status_opts,
    status_opt,
};

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* Copies st into r (an allocation failure leaves a list or text out). */
static void row_fill(status_row *r, const baton_state *st)
{
	status_row_clear(r);
	r->mode = st->mode;
	snprintf(r->holder, sizeof r->holder, "%s", st->holder ? st->holder : "");
	r->token = st->holder ? st->token : 0;
	r->since_ms = st->since_ms;
	r->lease_until_ms = st->lease_until_ms;
	r->meta = dup_or_null(st->meta);
	r->n_waiting = st->n_waiting;
	r->waiting = calloc(st->n_waiting ? st->n_waiting : 1, sizeof *r->waiting);
	for (size_t i = 0; r->waiting != NULL && i < st->n_waiting; i++)
		r->waiting[i] = dup_or_null(st->waiting[i]);
	snprintf(r->done, sizeof r->done, "%s", st->done.node ? st->done.node : "");
	r->done_token = st->done.token;
	r->done_at_ms = st->done.completed_at_ms;
	r->done_result = dup_or_null(st->done.result);
	r->permits = st->permits;
	r->n_holders = st->n_holders;
	r->holders = calloc(st->n_holders ? st->n_holders : 1, sizeof *r->holders);
	for (size_t i = 0; r->holders != NULL && i < st->n_holders; i++) {
		r->holders[i].node = dup_or_null(st->holders[i].node);
		r->holders[i].token = st->holders[i].token;
		r->holders[i].mode = st->holders[i].mode;
	}
	r->n_queue = st->n_queue;
	r->queue = calloc(st->n_queue ? st->n_queue : 1, sizeof *r->queue);
	for (size_t i = 0; r->queue != NULL && i < st->n_queue; i++) {
		r->queue[i].node = dup_or_null(st->queue[i].node);
		r->queue[i].mode = st->queue[i].mode;
	}
	r->failures = st->failures;
	snprintf(r->fail_node, sizeof r->fail_node, "%s", st->last_failure.node ? st->last_failure.node : "");
	r->fail_token = st->last_failure.token;
	r->fail_error = dup_or_null(st->last_failure.error);
	r->fail_reason = st->last_failure.reason;
	r->fail_at_ms = st->last_failure.completed_at_ms;
	snprintf(r->prev, sizeof r->prev, "%s", st->previous.node ? st->previous.node : "");
	r->prev_token = st->previous.token;
	r->prev_error = dup_or_null(st->previous.error);
	r->prev_reason = st->previous.reason;
}

static status_row *find_row(status_ctx *s, const char *resource, bool create)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->rows[i].resource, resource) == 0)
			return &s->rows[i];
	if (!create)
		return NULL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		status_row *r = realloc(s->rows, cap * sizeof *r);

		if (r == NULL)
			return NULL;
		s->rows = r;
		s->cap = cap;
	}
	memset(&s->rows[s->n], 0, sizeof s->rows[s->n]);
	s->rows[s->n].resource = strdup(resource);
	if (s->rows[s->n].resource == NULL)
		return NULL;
	return &s->rows[s->n++];
}

static void on_event(const baton_event *ev, void *arg)
{
	status_ctx *s = arg;
	status_row *r;

	pthread_mutex_lock(&s->mu);
	s->last_event_ms = cli_now_ms();
	if (ev->kind == BATON_EVENT_CLEARED && (r = find_row(s, ev->resource, false)) != NULL) {
		status_row_clear(r);
		free(r->resource);
		*r = s->rows[--s->n];
	} else if (ev->kind == BATON_EVENT_STATE && (r = find_row(s, ev->resource, true)) != NULL) {
		row_fill(r, &ev->state);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Waits until QUIET_MS pass without an event, at most MAX_MS. */
static void gather(status_ctx *s)
{
	int64_t start = cli_now_ms();

	for (;;) {
		int64_t now = cli_now_ms(), last;

		pthread_mutex_lock(&s->mu);
		last = s->last_event_ms ? s->last_event_ms : start;
		pthread_mutex_unlock(&s->mu);
		if (now - last >= QUIET_MS || now - start >= MAX_MS || cli_signal != 0)
			return;
		usleep(20 * 1000);
	}
}

int cli_status_main(int argc, char **argv)
{
	status_ctx s = {.mu = PTHREAD_MUTEX_INITIALIZER};
	status_args a = {.timeout_ms = CLI_CONNECT_MS};
	cli_common com;
	baton_client *c = NULL;
	baton_watch *w = NULL;
	int first, rc = cli_parse(argc, argv, &status_cmd, &com, &a, &first, stdout, stderr);
	const char *filter;

	if (rc != 0)
		return rc == CLI_HELP ? CLI_EX_OK : rc;
	if (first + 1 < argc) {
		fprintf(stderr, "baton status: give at most one FILTER\n");
		return CLI_EX_USAGE;
	}
	filter = first < argc ? argv[first] : "#";
	rc = cli_connect_until(&com, &c, cli_now_ms() + a.timeout_ms);
	if (rc == 0 && baton_watch_new(c, filter, on_event, &s, &w) != BATON_OK) {
		fprintf(stderr, "baton status: invalid filter\n");
		rc = CLI_EX_USAGE;
	}
	if (rc == 0)
		gather(&s);
	baton_watch_free(w);
	baton_client_free(c);
	if (rc == 0) {
		if (s.n > 0)
			qsort(s.rows, s.n, sizeof *s.rows, status_row_cmp);
		if (a.json)
			status_print_json(s.rows, s.n, stdout);
		else if (strpbrk(filter, "+#") == NULL)
			status_print_detail(filter, s.n ? &s.rows[0] : NULL, stdout);
		else
			status_print_table(s.rows, s.n, stdout);
	}
	for (size_t i = 0; i < s.n; i++) {
		status_row_clear(&s.rows[i]);
		free(s.rows[i].resource);
	}
	free(s.rows);
	return rc;
}
