/*
 * watch.c - `baton watch [FILTER]`: a live, human-readable stream of grants,
 * handoffs and outcomes, from P/outcome/# and P/state/# (retained snapshots
 * first). Colour only when stdout is a terminal. Runs until interrupted.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_TRACKED 1024

/* The last holder seen per resource, to tell grants and handoffs apart.
 * Touched only by the client thread (in on_event). */
typedef struct tracked {
	char *resource;
	char holder[BATON_NODE_MAX + 1]; /* the earliest holding's node */
	uint64_t token;                  /* the newest holding's token: later grants are news */
	uint32_t failures;               /* the failure streak last printed */
} tracked;

typedef struct watch_ctx {
	bool colour;
	tracked seen[MAX_TRACKED];
	size_t n_seen;
} watch_ctx;

static const cli_command watch_cmd = {
    "watch",
    "[OPTIONS] [FILTER]",
    "Prints grants, handoffs and outcomes as they happen, for every resource or\n"
    "those matching FILTER (an MQTT filter over resource names, default '#'):\n"
    "every holder of a shared lock or semaphore, the queue with its modes, and the\n"
    "failure streak of a once resource.",
    "baton watch 'images/#'",
    NULL,
    NULL,
};

static tracked *track(watch_ctx *w, const char *resource)
{
	for (size_t i = 0; i < w->n_seen; i++)
		if (strcmp(w->seen[i].resource, resource) == 0)
			return &w->seen[i];
	if (w->n_seen == MAX_TRACKED)
		return NULL;
	w->seen[w->n_seen].resource = strdup(resource);
	if (w->seen[w->n_seen].resource == NULL)
		return NULL;
	w->seen[w->n_seen].holder[0] = '\0';
	return &w->seen[w->n_seen++];
}

static void stamp(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(buf, cap, "%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), cap - strlen(buf), ".%03ld", ts.tv_nsec / 1000000);
}

static const char *col(const watch_ctx *w, const char *code)
{
	return w->colour ? code : "";
}

static void print_outcome(watch_ctx *w, const char *t, const baton_event *ev)
{
	const baton_outcome *o = &ev->outcome;

	printf("%s %s%-9s%s %s by %s (token %llu, %s)", t, col(w, o->success ? "\033[32m" : "\033[31m"),
	       o->success ? "success" : "failure", col(w, "\033[0m"), ev->resource, o->node ? o->node : "?",
	       (unsigned long long)o->token, baton_reason_name(o->reason));
	if (o->error)
		printf(": %s", o->error);
	printf("\n");
}

/* ", 2 waiting" and, when modes differ or matter, the queue with its modes. */
static void print_waiting(const baton_state *s)
{
	bool modes = s->permits > 1;

	for (size_t i = 0; i < s->n_queue; i++)
		modes |= s->queue[i].mode == BATON_MODE_SHARED;
	for (size_t i = 0; i < s->n_holders; i++)
		modes |= s->holders[i].mode == BATON_MODE_SHARED;
	printf(", %zu waiting", s->n_waiting);
	for (size_t i = 0; modes && i < s->n_queue; i++)
		printf("%s%s (%s)", i ? ", " : ": ", s->queue[i].node, baton_mode_name(s->queue[i].mode));
	printf("\n");
}

/* One line per holding granted since the last snapshot (tokens grow), as
 * "granted" or, for a lone holding taking over from another, "handoff". */
static void print_grants(watch_ctx *w, const char *t, const baton_event *ev, const tracked *tr)
{
	const baton_state *s = &ev->state;
	const char *before = tr && tr->holder[0] ? tr->holder : NULL;
	baton_holding one = {s->holder, s->token, s->mode, s->since_ms, s->lease_until_ms};
	const baton_holding *hs = s->n_holders > 0 ? s->holders : &one;
	size_t n = s->n_holders > 0 ? s->n_holders : s->holder != NULL;

	for (size_t i = 0; i < n; i++) {
		const baton_holding *h = &hs[i];
		bool lone = n == 1 && before && strcmp(before, h->node) != 0;

		if (tr != NULL && h->token <= tr->token)
			continue;
		if (lone)
			printf("%s %s%-9s%s %s: %s -> %s (token %llu)", t, col(w, "\033[33m"), "handoff",
			       col(w, "\033[0m"), ev->resource, before, h->node,
			       (unsigned long long)h->token);
		else
			printf("%s %s%-9s%s %s to %s (token %llu)", t, col(w, "\033[33m"), "granted",
			       col(w, "\033[0m"), ev->resource, h->node, (unsigned long long)h->token);
		if (h->mode == BATON_MODE_SHARED || s->permits > 1)
			printf(" %s, %zu holding", s->permits > 1 ? "semaphore" : "shared", n);
		if (i == 0 && s->meta)
			printf(" [%s]", s->meta);
		print_waiting(s);
	}
}

static void print_streak(watch_ctx *w, const char *t, const baton_event *ev, const tracked *tr)
{
	const baton_state *s = &ev->state;
	const baton_failure *f = &s->last_failure;

	if (s->failures == 0 || (tr != NULL && tr->failures == s->failures))
		return;
	printf("%s %s%-9s%s %s: %u failure%s in a row, last by %s (token %llu): %s\n", t, col(w, "\033[31m"),
	       "streak", col(w, "\033[0m"), ev->resource, s->failures, s->failures == 1 ? "" : "s",
	       f->node ? f->node : "?", (unsigned long long)f->token,
	       f->error ? f->error : baton_reason_name(f->reason));
}

static uint64_t newest_token(const baton_state *s)
{
	return s->n_holders > 0 ? s->holders[s->n_holders - 1].token : s->holder ? s->token : 0;
}

static void print_state(watch_ctx *w, const char *t, const baton_event *ev)
{
	const baton_state *s = &ev->state;
	tracked *tr = track(w, ev->resource);
	const char *before = tr && tr->holder[0] ? tr->holder : NULL;

	if (s->holder != NULL && (tr == NULL || tr->token < newest_token(s))) {
		print_grants(w, t, ev, tr);
	} else if (s->holder == NULL && s->done.node != NULL && (before || ev->retained)) {
		printf("%s %-9s %s done by %s (token %llu)\n", t, "done", ev->resource, s->done.node,
		       (unsigned long long)s->done.token);
	} else if (ev->retained && s->holder == NULL && s->failures == 0) {
		printf("%s %-9s %s\n", t, "idle", ev->resource);
	}
	print_streak(w, t, ev, tr);
	if (tr != NULL) {
		snprintf(tr->holder, sizeof tr->holder, "%s", s->holder ? s->holder : "");
		if (newest_token(s) > tr->token)
			tr->token = newest_token(s);
		tr->failures = s->failures;
	}
}

static void on_event(const baton_event *ev, void *arg)
{
	watch_ctx *w = arg;
	char t[32];

	stamp(t, sizeof t);
	if (ev->kind == BATON_EVENT_OUTCOME) {
		print_outcome(w, t, ev);
	} else if (ev->kind == BATON_EVENT_STATE) {
		print_state(w, t, ev);
	} else {
		tracked *tr = track(w, ev->resource);

		if (tr != NULL)
			tr->holder[0] = '\0';
		printf("%s %-9s %s\n", t, "idle", ev->resource);
	}
	fflush(stdout);
}

int cli_watch_main(int argc, char **argv)
{
	cli_common com;
	baton_client *c = NULL;
	baton_watch *wt = NULL;
	watch_ctx *w = calloc(1, sizeof *w);
	int first, rc = cli_parse(argc, argv, &watch_cmd, &com, NULL, &first, stdout, stderr);
	const char *filter;

	if (w == NULL || rc != 0 || first + 1 < argc) {
		if (w != NULL && rc == 0)
			fprintf(stderr, "baton watch: give at most one FILTER\n");
		free(w);
		return rc == CLI_HELP ? CLI_EX_OK : rc ? rc : CLI_EX_USAGE;
	}
	filter = first < argc ? argv[first] : "#";
	w->colour = isatty(STDOUT_FILENO);
	rc = cli_connect(&com, &c);
	if (rc == 0 && baton_watch_new(c, filter, on_event, w, &wt) != BATON_OK) {
		fprintf(stderr, "baton watch: invalid filter '%s'\n", filter);
		rc = CLI_EX_USAGE;
	}
	while (rc == 0 && cli_signal == 0)
		usleep(100 * 1000);
	baton_watch_free(wt);
	baton_client_free(c);
	for (size_t i = 0; i < w->n_seen; i++)
		free(w->seen[i].resource);
	free(w);
	return rc;
}
