/*
 * watch.c - libbaton's watches: subscriptions to P/outcome/<filter> and
 * P/state/<filter>, and the delivery of decoded events to their callbacks.
 *
 * Owns baton_watch objects (reference counted like locks: the user's plus
 * one per delivery in progress). Decoding happens on the client thread
 * without c->mu; callbacks run without it. Subscribing happens outside
 * c->mu too (paho). Malformed events are logged and skipped, never fatal.
 */
#include "client_int.h"

#include <stddef.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DELIVER 32

static void watch_destroy(baton_watch *w)
{
	free(w->filter);
	free(w->topics[0]);
	free(w->topics[1]);
	free(w);
}

static void watch_unref(baton_watch *w)
{
	if (--w->refs == 0)
		watch_destroy(w);
}

static baton_err watch_make(baton_client *c, const char *filter, baton_watch **out)
{
	baton_watch *w = calloc(1, sizeof *w);

	if (w == NULL)
		return BATON_E_NOMEM;
	w->filter = strdup(filter);
	w->topics[0] = malloc(NAMES_TOPIC_MAX + 1);
	w->topics[1] = malloc(NAMES_TOPIC_MAX + 1);
	if (w->filter == NULL || w->topics[0] == NULL || w->topics[1] == NULL) {
		watch_destroy(w);
		return BATON_E_NOMEM;
	}
	/* The filter was checked: these cannot fail. */
	(void)names_filter(w->topics[0], NAMES_TOPIC_MAX + 1, c->prefix, NAMES_OUTCOME, filter, NULL);
	(void)names_filter(w->topics[1], NAMES_TOPIC_MAX + 1, c->prefix, NAMES_STATE, filter, NULL);
	w->c = c;
	w->refs = 1;
	*out = w;
	return BATON_OK;
}

baton_err baton_watch_new(baton_client *c, const char *filter, baton_event_cb cb, void *arg,
                          baton_watch **out)
{
	baton_watch *w = NULL;
	baton_err err;
	bool ready;

	if (filter == NULL || cb == NULL || out == NULL ||
	    !names_resource_filter_valid(filter, strlen(filter)))
		return bt_client_fail(c, BATON_E_INVAL, "invalid watch filter");
	err = watch_make(c, filter, &w);
	if (err != BATON_OK)
		return bt_client_fail(c, err, "out of memory");
	w->cb = cb;
	w->arg = arg;
	pthread_mutex_lock(&c->mu);
	w->next = c->watches;
	c->watches = w;
	ready = c->ready;
	pthread_mutex_unlock(&c->mu);
	/* Not ready: the (re)connect subscribes every watch. */
	if (ready)
		(void)bt_client_subscribe(c, w->topics, 2, false);
	*out = w;
	return BATON_OK;
}

void baton_watch_free(baton_watch *w)
{
	baton_client *c;
	bool shared = false;

	if (w == NULL)
		return;
	c = w->c;
	pthread_mutex_lock(&c->mu);
	for (baton_watch **p = &c->watches; *p != NULL; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	for (baton_watch *o = c->watches; o != NULL; o = o->next)
		if (strcmp(o->filter, w->filter) == 0)
			shared = true;
	w->freed = true;
	while (w->cb_running && !bt_client_on_thread(c))
		pthread_cond_wait(&c->cond, &c->mu);
	w->refs++; /* keep the topics alive for the unsubscribe below */
	pthread_mutex_unlock(&c->mu);
	if (!shared)
		bt_client_unsubscribe(c, w->topics, 2);
	pthread_mutex_lock(&c->mu);
	w->refs--;
	watch_unref(w);
	pthread_mutex_unlock(&c->mu);
}

void bt_watches_free_all(baton_client *c)
{
	baton_watch *w;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		w = c->watches;
		pthread_mutex_unlock(&c->mu);
		if (w == NULL)
			return;
		baton_watch_free(w);
	}
}

int bt_watches_topics(baton_client *c, char **out, int cap)
{
	int n = 0;

	for (baton_watch *w = c->watches; w != NULL && n + 2 <= cap; w = w->next)
		for (int k = 0; k < 2; k++) {
			out[n] = strdup(w->topics[k]);
			if (out[n] != NULL)
				n++;
		}
	return n;
}

int bt_watches_count(baton_client *c)
{
	int n = 0;

	for (baton_watch *w = c->watches; w != NULL; w = w->next)
		n++;
	return n;
}

static void outcome_view(const wire_outcome *o, baton_event *ev)
{
	ev->kind = BATON_EVENT_OUTCOME;
	ev->outcome.mode = (baton_mode)o->mode;
	ev->outcome.node = o->node;
	ev->outcome.token = o->token;
	ev->outcome.success = o->success;
	ev->outcome.error = o->error;
	ev->outcome.result = o->result;
	ev->outcome.reason = (baton_reason)o->reason;
	ev->outcome.completed_at_ms = o->completed_at_ms;
}

/* The decoded lists are handed to the user as they are: the public and the
 * codec's structs have one layout. */
#define SAME_FIELD(a, b, f) (offsetof(a, f) == offsetof(b, f) && sizeof(((a *)0)->f) == sizeof(((b *)0)->f))
_Static_assert(sizeof(baton_holding) == sizeof(wire_holding) &&
                   SAME_FIELD(baton_holding, wire_holding, node) &&
                   SAME_FIELD(baton_holding, wire_holding, token) &&
                   SAME_FIELD(baton_holding, wire_holding, mode) &&
                   SAME_FIELD(baton_holding, wire_holding, since_ms) &&
                   SAME_FIELD(baton_holding, wire_holding, lease_until_ms),
               "baton_holding mirrors wire_holding");
_Static_assert(sizeof(baton_queued) == sizeof(wire_queued) && SAME_FIELD(baton_queued, wire_queued, node) &&
                   SAME_FIELD(baton_queued, wire_queued, mode),
               "baton_queued mirrors wire_queued");

static void state_view(const wire_snapshot *s, baton_event *ev)
{
	baton_state *st = &ev->state;

	ev->kind = BATON_EVENT_STATE;
	st->mode = (baton_mode)s->mode;
	st->holder = s->holder;
	st->token = s->token;
	st->since_ms = s->since_ms;
	st->lease_until_ms = s->lease_until_ms;
	st->meta = s->meta;
	st->waiting = s->waiting;
	st->n_waiting = s->n_waiting;
	st->done.node = s->done.node;
	st->done.token = s->done.token;
	st->done.result = s->done.result;
	st->done.completed_at_ms = s->done.completed_at_ms;
	st->previous.node = s->previous.node;
	st->previous.token = s->previous.token;
	st->previous.error = s->previous.error;
	st->previous.reason = (baton_reason)s->previous.reason;
	st->holders = (const baton_holding *)(const void *)s->holders;
	st->n_holders = s->n_holders;
	st->queue = (const baton_queued *)(const void *)s->queue;
	st->n_queue = s->n_queue;
	st->permits = s->permits ? s->permits : 1;
	st->failures = s->failures;
	st->last_failure =
	    (baton_failure){s->last_failure.node, s->last_failure.token, s->last_failure.error,
	                    (baton_reason)s->last_failure.reason, s->last_failure.completed_at_ms};
}

/* Calls every live watch matching topic with ev (c->mu not held). */
static void deliver(baton_client *c, const char *topic, const baton_event *ev)
{
	baton_watch *hit[MAX_DELIVER];
	int n = 0;

	pthread_mutex_lock(&c->mu);
	for (baton_watch *w = c->watches; w != NULL && n < MAX_DELIVER; w = w->next)
		if (names_filter_match(w->topics[0], topic) || names_filter_match(w->topics[1], topic)) {
			w->refs++;
			hit[n++] = w;
		}
	for (int i = 0; i < n; i++) {
		baton_watch *w = hit[i];

		if (!w->freed) {
			w->cb_running = true;
			pthread_mutex_unlock(&c->mu);
			w->cb(ev, w->arg);
			pthread_mutex_lock(&c->mu);
			w->cb_running = false;
			pthread_cond_broadcast(&c->cond);
		}
		watch_unref(w);
	}
	pthread_mutex_unlock(&c->mu);
}

bool bt_watches_on_message(baton_client *c, const char *topic, const char *payload, size_t len, bool retained)
{
	wire_outcome o = {0};
	wire_snapshot s = {0};
	baton_event ev;
	baton_err err = BATON_OK;
	names_kind kind;
	const char *resource;
	size_t rlen;

	if (names_resource_topic_parse(c->prefix, topic, strlen(topic), &kind, &resource, &rlen) != BATON_OK)
		return false;
	bool is_outcome = kind == NAMES_OUTCOME;
	memset(&ev, 0, sizeof ev);
	ev.resource = resource; /* the topic's tail: NUL-terminated */
	ev.retained = retained;
	if (is_outcome && (err = wire_outcome_decode(payload, len, &o)) == BATON_OK)
		outcome_view(&o, &ev);
	else if (!is_outcome && len == 0)
		ev.kind = BATON_EVENT_CLEARED;
	else if (!is_outcome && (err = wire_snapshot_decode(payload, len, &s)) == BATON_OK)
		state_view(&s, &ev);
	if (err != BATON_OK)
		bt_client_log(c, BATON_LOG_WARN, "malformed event on %s ignored", topic);
	else
		deliver(c, topic, &ev);
	wire_outcome_deinit(&o);
	wire_snapshot_deinit(&s);
	return true;
}
