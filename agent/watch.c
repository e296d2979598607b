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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DELIVER 32

bool bt_watch_topic_match(const char *f, const char *t)
{
	for (;;) {
		const char *fe = strchr(f, '/'), *te = strchr(t, '/');
		size_t fl = fe ? (size_t)(fe - f) : strlen(f);
		size_t tl = te ? (size_t)(te - t) : strlen(t);

		if (fl == 1 && f[0] == '#')
			return true;
		if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
			return false;
		if (fe == NULL)
			return te == NULL;
		if (te == NULL)
			return strcmp(fe + 1, "#") == 0; /* "a/#" also matches "a" */
		f = fe + 1;
		t = te + 1;
	}
}

/* A resource filter: 1..200 bytes of UTF-8, '+' and '#' only as whole
 * levels, '#' only last, no control characters, not starting with '$'. */
static bool filter_valid(const char *f)
{
	size_t n = strlen(f);

	if (n == 0 || n > NAMES_RESOURCE_MAX || f[0] == '$' || !names_utf8_valid(f, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)f[i];
		bool level_start = i == 0 || f[i - 1] == '/';
		bool level_end = i + 1 == n || f[i + 1] == '/';

		if (ch < 0x20 || ch == 0x7f)
			return false;
		if (ch == '+' && !(level_start && level_end))
			return false;
		if (ch == '#' && !(level_start && i + 1 == n))
			return false;
	}
	return true;
}

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
	size_t pl = strlen(c->prefix), fl = strlen(filter);

	if (w == NULL)
		return BATON_E_NOMEM;
	w->filter = strdup(filter);
	w->topics[0] = malloc(pl + fl + 10);
	w->topics[1] = malloc(pl + fl + 10);
	if (w->filter == NULL || w->topics[0] == NULL || w->topics[1] == NULL) {
		watch_destroy(w);
		return BATON_E_NOMEM;
	}
	sprintf(w->topics[0], "%s/outcome/%s", c->prefix, filter);
	sprintf(w->topics[1], "%s/state/%s", c->prefix, filter);
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

	if (filter == NULL || cb == NULL || out == NULL || !filter_valid(filter))
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
}

/* Calls every live watch matching topic with ev (c->mu not held). */
static void deliver(baton_client *c, const char *topic, const baton_event *ev)
{
	baton_watch *hit[MAX_DELIVER];
	int n = 0;

	pthread_mutex_lock(&c->mu);
	for (baton_watch *w = c->watches; w != NULL && n < MAX_DELIVER; w = w->next)
		if (bt_watch_topic_match(w->topics[0], topic) || bt_watch_topic_match(w->topics[1], topic)) {
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
	size_t pl = strlen(c->prefix);
	wire_outcome o = {0};
	wire_snapshot s = {0};
	baton_event ev;
	baton_err err = BATON_OK;
	bool is_outcome;

	if (strncmp(topic, c->prefix, pl) != 0)
		return false;
	if (strncmp(topic + pl, "/outcome/", 9) == 0)
		is_outcome = true;
	else if (strncmp(topic + pl, "/state/", 7) == 0)
		is_outcome = false;
	else
		return false;
	memset(&ev, 0, sizeof ev);
	ev.resource = topic + pl + (is_outcome ? 9 : 7);
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
