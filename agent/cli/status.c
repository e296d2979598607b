/*
 * status.c - `baton status [FILTER]`: a table of the locks from their
 * retained snapshots (P/state/<resource>), gathered for a short, bounded
 * time after subscribing: until 300 ms pass without news, at most 2 s.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define QUIET_MS 300
#define MAX_MS   2000

#define DETAIL_MAX 1024 /* bytes of a row's holders, queue or streak line */

typedef struct row {
	char *resource;
	baton_mode mode;
	char holder[BATON_NODE_MAX + 1];
	uint64_t token;
	int64_t since_ms, lease_until_ms;
	size_t n_waiting, n_holders;
	uint32_t permits;
	char done[BATON_NODE_MAX + 1];
	/* second edition: shown under the row when there is more to say */
	char holders[DETAIL_MAX]; /* "n1 (token 5), n2 (token 6)" when more than one */
	char queue[DETAIL_MAX];   /* "n3 (mutex), n4 (shared)" when modes matter */
	char streak[DETAIL_MAX];  /* "3 in a row, last n4 (token 47) at ...: why" */
} row;

typedef struct status_ctx {
	pthread_mutex_t mu; /* the client thread fills rows, main reads them */
	row *rows;
	size_t n, cap;
	int64_t last_event_ms;
} status_ctx;

static const cli_command status_cmd = {
    "status",
    "[OPTIONS] [FILTER]",
    "Shows every lock the coordinator reports (or those matching FILTER, an MQTT\n"
    "filter over resource names): mode, holder, token, how long held, lease left,\n"
    "waiters and a remembered success; under a row, every holder of a shared lock or\n"
    "semaphore, the queue with its modes, and a once resource's failure streak.",
    "baton status 'images/#'",
    NULL,
    NULL,
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static row *find_row(status_ctx *s, const char *resource, bool create)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->rows[i].resource, resource) == 0)
			return &s->rows[i];
	if (!create)
		return NULL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		row *r = realloc(s->rows, cap * sizeof *r);

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

/* Appends to buf (DETAIL_MAX) what printf would write, cut at the end. */
static void cat(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cat(char *buf, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, DETAIL_MAX - n, fmt, ap);
	va_end(ap);
}

static void fill_details(row *r, const baton_state *st)
{
	bool modes = st->permits > 1;
	char when[64];

	r->n_holders = st->n_holders;
	r->permits = st->permits;
	r->holders[0] = r->queue[0] = r->streak[0] = '\0';
	for (size_t i = 0; i < st->n_holders; i++)
		modes |= st->holders[i].mode == BATON_MODE_SHARED;
	for (size_t i = 0; i < st->n_queue; i++)
		modes |= st->queue[i].mode == BATON_MODE_SHARED;
	for (size_t i = 0; st->n_holders > 1 && i < st->n_holders; i++)
		cat(r->holders, "%s%s (token %llu)", i ? ", " : "", st->holders[i].node,
		    (unsigned long long)st->holders[i].token);
	for (size_t i = 0; modes && i < st->n_queue; i++)
		cat(r->queue, "%s%s (%s)", i ? ", " : "", st->queue[i].node,
		    baton_mode_name(st->queue[i].mode));
	if (st->failures > 0) {
		const baton_failure *f = &st->last_failure;

		cli_format_time(f->completed_at_ms, when, sizeof when);
		cat(r->streak, "%u in a row, last %s (token %llu) at %s: %s", st->failures,
		    f->node ? f->node : "?", (unsigned long long)f->token, when,
		    f->error ? f->error : baton_reason_name(f->reason));
	}
}

static void on_event(const baton_event *ev, void *arg)
{
	status_ctx *s = arg;
	row *r;

	pthread_mutex_lock(&s->mu);
	s->last_event_ms = mono_ms();
	if (ev->kind == BATON_EVENT_CLEARED && (r = find_row(s, ev->resource, false)) != NULL) {
		free(r->resource);
		*r = s->rows[--s->n];
	} else if (ev->kind == BATON_EVENT_STATE && (r = find_row(s, ev->resource, true)) != NULL) {
		const baton_state *st = &ev->state;

		r->mode = st->mode;
		snprintf(r->holder, sizeof r->holder, "%s", st->holder ? st->holder : "");
		r->token = st->holder ? st->token : 0;
		r->since_ms = st->since_ms;
		r->lease_until_ms = st->lease_until_ms;
		r->n_waiting = st->n_waiting;
		snprintf(r->done, sizeof r->done, "%s", st->done.node ? st->done.node : "");
		fill_details(r, st);
	}
	pthread_mutex_unlock(&s->mu);
}

static int by_resource(const void *a, const void *b)
{
	return strcmp(((const row *)a)->resource, ((const row *)b)->resource);
}

static void print_table(status_ctx *s)
{
	int64_t now = wall_ms();

	qsort(s->rows, s->n, sizeof *s->rows, by_resource);
	if (s->n == 0) {
		printf("no locks\n");
		return;
	}
	printf("%-32s %-6s %-24s %8s %9s %10s %7s %s\n", "RESOURCE", "MODE", "HOLDER", "TOKEN", "HELD",
	       "LEASE-LEFT", "WAITERS", "DONE");
	for (size_t i = 0; i < s->n; i++) {
		const row *r = &s->rows[i];
		char held[32] = "-", left[32] = "-", tok[24] = "-";

		if (r->holder[0]) {
			duration_format(now - r->since_ms, held, sizeof held);
			duration_format(r->lease_until_ms - now, left, sizeof left);
			snprintf(tok, sizeof tok, "%llu", (unsigned long long)r->token);
		}
		char who[BATON_NODE_MAX + 32];

		snprintf(who, sizeof who, "%s", r->holder[0] ? r->holder : "-");
		if (r->n_holders > 1)
			snprintf(who, sizeof who, "%s +%zu", r->holder, r->n_holders - 1);
		printf("%-32s %-6s %-24s %8s %9s %10s %7zu %s\n", r->resource, baton_mode_name(r->mode), who,
		       tok, held, left, r->n_waiting, r->done[0] ? r->done : "-");
		if (r->holders[0])
			printf("    holders: %s\n", r->holders);
		if (r->permits > 1)
			printf("    permits: %u\n", r->permits);
		if (r->queue[0])
			printf("    queue: %s\n", r->queue);
		if (r->streak[0])
			printf("    failures: %s\n", r->streak);
	}
}

/* Waits until QUIET_MS pass without an event, at most MAX_MS. */
static void gather(status_ctx *s)
{
	int64_t start = mono_ms();

	for (;;) {
		int64_t now = mono_ms(), last;

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
	cli_common com;
	baton_client *c = NULL;
	baton_watch *w = NULL;
	int first, rc = cli_parse(argc, argv, &status_cmd, &com, NULL, &first, stdout, stderr);

	if (rc != 0)
		return rc == CLI_HELP ? CLI_EX_OK : rc;
	if (first + 1 < argc) {
		fprintf(stderr, "baton status: give at most one FILTER\n");
		return CLI_EX_USAGE;
	}
	rc = cli_connect(&com, &c);
	if (rc == 0 && baton_watch_new(c, first < argc ? argv[first] : "#", on_event, &s, &w) != BATON_OK) {
		fprintf(stderr, "baton status: invalid filter\n");
		rc = CLI_EX_USAGE;
	}
	if (rc == 0)
		gather(&s);
	baton_watch_free(w);
	baton_client_free(c);
	if (rc == 0)
		print_table(&s);
	for (size_t i = 0; i < s.n; i++)
		free(s.rows[i].resource);
	free(s.rows);
	return rc;
}
