/*
 * lock.c - libbaton's requests: acquire, wait, release, cancel, reset, and
 * the dispatch of answers from P/grant/<node> to the lock they belong to.
 *
 * Owns the baton_lock objects and their lifetime (a reference count: the
 * user's plus one per pending callback). The rules live in reqstate.c;
 * this file encodes requests, matches answers by id and turns effects into
 * actions. Everything here runs under c->mu except the action runs, which
 * happen after it is released. Never prints.
 */
#include "client_int.h"
#include "words.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ABANDONED "abandoned"

_Static_assert((int)BATON_MODE_ONCE == (int)WIRE_MODE_ONCE && (int)BATON_MODE_MUTEX == (int)WIRE_MODE_MUTEX &&
                   (int)BATON_MODE_SHARED == (int)WIRE_MODE_SHARED,
               "baton_mode and wire_mode share their values");

void baton_acquire_options_init(baton_acquire_options *o)
{
	memset(o, 0, sizeof *o);
	o->mode = BATON_MODE_ONCE;
	o->wait_ms = BATON_WAIT_FOREVER;
}

static void lock_destroy(baton_lock *l)
{
	wire_answer_deinit(&l->answer);
	free(l->meta);
	free(l->rel_error);
	free(l->rel_result);
	free(l);
}

void bt_lock_unref(baton_lock *l)
{
	if (--l->refs == 0)
		lock_destroy(l);
}

static void fill_request(const baton_lock *l, req_kind kind, wire_request *r, char *id, size_t cap)
{
	memset(r, 0, sizeof *r);
	(void)bt_reqstate_id(id, cap, l->base, kind, l->rs.renew_seq);
	r->id = id;
	r->resource = l->resource;
	switch (kind) {
	case REQ_K_ACQUIRE:
		r->op = WIRE_OP_ACQUIRE;
		r->mode = (wire_mode)l->mode; /* baton_mode and wire_mode share their values */
		r->permits = l->permits;
		r->max_failures = l->max_failures;
		r->has_lease = l->lease_ms != 0;
		r->lease_ms = l->lease_ms;
		r->has_wait = l->wait_ms >= 0;
		r->wait_ms = l->wait_ms >= 0 ? (uint64_t)l->wait_ms : 0;
		r->meta = l->meta;
		break;
	case REQ_K_RENEW:
		r->op = WIRE_OP_RENEW;
		r->token = l->rs.token;
		break;
	case REQ_K_RELEASE:
		r->op = WIRE_OP_RELEASE;
		r->token = l->rs.token;
		r->success = l->rel_success;
		r->error = l->rel_error;
		r->result = l->rel_result;
		r->has_remember = l->rel_remember_ms >= 0;
		r->remember_ms = l->rel_remember_ms >= 0 ? (uint64_t)l->rel_remember_ms : 0;
		break;
	case REQ_K_CANCEL:
		r->op = WIRE_OP_CANCEL;
		break;
	default:
		r->op = WIRE_OP_RESET;
		break;
	}
}

void bt_lock_queue_send(baton_lock *l, req_kind kind, action_list *al)
{
	baton_client *c = l->c;
	char id[NAMES_ID_MAX + 1];
	wire_request r;
	char *payload = NULL;
	size_t len = 0;
	baton_err err;

	if (!c->ready)
		return; /* sent by bt_locks_resend once the client is ready */
	fill_request(l, kind, &r, id, sizeof id);
	err = wire_request_encode(&r, &payload, &len);
	if (err != BATON_OK) {
		bt_client_log(c, BATON_LOG_ERROR, "cannot encode %s %s: %s", wire_op_name(r.op), id,
		              baton_strerror(err));
		return;
	}
	if (kind == REQ_K_ACQUIRE)
		bt_reqstate_sent(&l->rs, bt_client_now_ms());
	bt_actions_send(al, payload, len);
}

static void apply_effects(baton_lock *l, unsigned fx, action_list *al);

/* Gives back the holding rs.drop_token (a release with success:false under
 * an id of its own), now if we can send, else at the next bt_locks_resend. */
static void send_drop(baton_lock *l, action_list *al)
{
	baton_client *c = l->c;
	char id[NAMES_ID_MAX + 1];
	wire_request r;
	char *payload = NULL;
	size_t len = 0;

	if (!c->ready || l->rs.drop_token == 0)
		return;
	memset(&r, 0, sizeof r);
	snprintf(id, sizeof id, "%.40s.d%llu", l->base, (unsigned long long)l->rs.drop_token);
	r.op = WIRE_OP_RELEASE;
	r.id = id;
	r.resource = l->resource;
	r.token = l->rs.drop_token;
	r.success = false;
	r.error = "holding given up by the agent (connection lost or lock already lost)";
	if (wire_request_encode(&r, &payload, &len) != BATON_OK) {
		bt_client_log(c, BATON_LOG_ERROR, "cannot encode the release of token %llu",
		              (unsigned long long)l->rs.drop_token);
		return;
	}
	bt_client_log(c, BATON_LOG_INFO, "giving back %s token %llu", l->resource,
	              (unsigned long long)l->rs.drop_token);
	l->rs.drop_token = 0;
	bt_actions_send(al, payload, len);
}

void bt_locks_disconnected(baton_client *c, action_list *al)
{
	for (baton_lock *l = c->locks; l != NULL; l = l->next) {
		unsigned fx = bt_reqstate_disconnected(&l->rs);

		apply_effects(l, fx, al);
	}
}

void bt_locks_resend(baton_client *c, action_list *al)
{
	int64_t now = bt_client_now_ms();

	for (baton_lock *l = c->locks; l != NULL; l = l->next) {
		for (int k = REQ_K_ACQUIRE; k <= REQ_K_RESET; k++)
			if (bt_reqstate_outstanding(&l->rs, (req_kind)k))
				bt_lock_queue_send(l, (req_kind)k, al);
		send_drop(l, al);
		/* A revocation may have been published while we were away:
		 * renew held locks at once to find out (the client thread
		 * ticks right after this). */
		if (l->rs.phase == BATON_PHASE_GRANTED && !l->rs.renew_pending && l->rs.renew_at_ms > now)
			l->rs.renew_at_ms = now;
	}
}

/* The acquire was answered `revoked` (reqstate_answer): ask again under a
 * new id while the wait allows, else settle it as lost. Returns effects. */
static unsigned restart_acquire(baton_lock *l, action_list *al)
{
	baton_client *c = l->c;
	int64_t now = bt_client_now_ms(), created = l->rs.created_ms, waited = now - created;

	if (l->wait_ms >= 0 && waited >= l->wait_ms)
		return bt_reqstate_revoked_final(&l->rs);
	if (l->wait_ms >= 0)
		l->wait_ms -= waited; /* the new request waits for what is left */
	bt_client_log(c, BATON_LOG_INFO,
	              "acquire %s of %s was revoked before we heard its grant; asking again", l->base,
	              l->resource);
	snprintf(l->base, sizeof l->base, "%llu-%016llx", (unsigned long long)++c->next_id,
	         (unsigned long long)c->salt);
	bt_reqstate_init(&l->rs, false, now);
	l->rs.created_ms = created;
	l->rs.will_ms = (int64_t)c->keepalive_s * 1500;
	bt_lock_queue_send(l, REQ_K_ACQUIRE, al);
	return REQ_FX_CHANGED;
}

static void apply_effects(baton_lock *l, unsigned fx, action_list *al)
{
	if (fx & REQ_FX_RESTART)
		fx = (fx & ~REQ_FX_RESTART) | restart_acquire(l, al);
	if (fx & REQ_FX_RENEW)
		bt_lock_queue_send(l, REQ_K_RENEW, al);
	if (fx & REQ_FX_DROP)
		send_drop(l, al);
	if ((fx & REQ_FX_SETTLED) && l->on_answer != NULL)
		bt_actions_call(al, ACT_ANSWER, l, BATON_OK);
	if ((fx & REQ_FX_LOST)) {
		bt_client_log(l->c, BATON_LOG_WARN, "lock %s (token %llu) lost: %s", l->resource,
		              (unsigned long long)l->rs.token,
		              bt_words_lost(l->rs.lost_err, l->rs.lost_reason));
		if (l->on_lost != NULL)
			bt_actions_call(al, ACT_LOST, l, l->rs.lost_err);
	}
}

int64_t bt_locks_tick(baton_client *c, int64_t now, action_list *al)
{
	int64_t next = INT64_MAX;

	for (baton_lock *l = c->locks; l != NULL; l = l->next) {
		unsigned fx = bt_reqstate_tick(&l->rs, now);
		int64_t t;

		apply_effects(l, fx, al);
		if (fx)
			pthread_cond_broadcast(&c->cond);
		t = bt_reqstate_next_tick(&l->rs);
		if (t < next)
			next = t;
	}
	return next;
}

/* The lock an answer belongs to: by id, or for a revocation without a
 * matching id, by resource and token. */
static baton_lock *find_lock(baton_client *c, const wire_answer *a, req_kind *kind, unsigned *seq)
{
	for (baton_lock *l = c->locks; l != NULL; l = l->next) {
		*kind = bt_reqstate_id_parse(a->id, l->base, seq);
		if (*kind != REQ_K_NONE)
			return l;
	}
	if (a->status != WIRE_ST_REVOKED || a->resource == NULL)
		return NULL;
	for (baton_lock *l = c->locks; l != NULL; l = l->next)
		if (l->rs.token == a->token && strcmp(l->resource, a->resource) == 0) {
			*kind = REQ_K_NONE;
			return l;
		}
	return NULL;
}

void bt_locks_on_answer(baton_client *c, const char *payload, size_t len)
{
	wire_answer a = {0};
	action_list al;
	baton_lock *l;
	req_kind kind = REQ_K_NONE;
	unsigned seq = 0, fx = 0;

	if (wire_answer_decode(payload, len, &a) != BATON_OK) {
		bt_client_log(c, BATON_LOG_WARN, "malformed answer ignored: %.*s",
		              (int)(len > 200 ? 200 : len), payload);
		return;
	}
	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	l = find_lock(c, &a, &kind, &seq);
	if (l != NULL) {
		fx = bt_reqstate_answer(&l->rs, kind, seq, &a, bt_client_now_ms());
		/* The grant is kept even when it becomes usable only later (a
		 * grant after a wait, settled by its first renewal). */
		if (kind == REQ_K_ACQUIRE && (((fx & REQ_FX_SETTLED) && !l->rs.lost) ||
		                              (a.status == WIRE_ST_GRANTED && (fx & REQ_FX_CHANGED) &&
		                               l->rs.phase == BATON_PHASE_GRANTED))) {
			wire_answer_deinit(&l->answer);
			l->answer = a; /* the lock keeps the settling answer and its strings */
			memset(&a, 0, sizeof a);
		}
		apply_effects(l, fx, &al);
		if (fx)
			pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->mu);
	if (l == NULL)
		bt_client_log(c, BATON_LOG_DEBUG, "answer %s to an unknown request ignored",
		              a.id ? a.id : "-");
	wire_answer_deinit(&a);
	bt_actions_run(c, &al);
}

/* ---- public API -------------------------------------------------------------- */

static baton_err check_acquire(baton_client *c, const baton_acquire_options *o)
{
	if (o == NULL || o->resource == NULL || !names_resource_valid(o->resource, strlen(o->resource)))
		return bt_client_fail(c, BATON_E_INVAL, "invalid resource name");
	if (o->mode != BATON_MODE_ONCE && o->mode != BATON_MODE_MUTEX && o->mode != BATON_MODE_SHARED)
		return bt_client_fail(c, BATON_E_INVAL, "invalid mode");
	if (o->permits > WIRE_PERMITS_MAX || (o->permits > 1 && o->mode != BATON_MODE_MUTEX))
		return bt_client_fail(c, BATON_E_INVAL, "permits must be 1 to %u, above 1 only in mutex mode",
		                      WIRE_PERMITS_MAX);
	if (o->max_failures > WIRE_FAILURES_MAX || (o->max_failures != 0 && o->mode != BATON_MODE_ONCE))
		return bt_client_fail(c, BATON_E_INVAL, "max_failures must be 1 to %u, in once mode only",
		                      WIRE_FAILURES_MAX);
	if (o->lease_ms != 0 && (o->lease_ms < WIRE_LEASE_MIN || o->lease_ms > WIRE_LEASE_MAX))
		return bt_client_fail(c, BATON_E_INVAL, "lease must be 1s to 1h");
	if (o->wait_ms < BATON_WAIT_FOREVER || (o->wait_ms > 0 && (uint64_t)o->wait_ms > WIRE_INT_MAX))
		return bt_client_fail(c, BATON_E_INVAL, "invalid wait");
	if (o->meta != NULL && strlen(o->meta) > WIRE_META_MAX)
		return bt_client_fail(c, BATON_E_INVAL, "meta is longer than %d bytes", WIRE_META_MAX);
	return BATON_OK;
}

static baton_lock *lock_new(baton_client *c, const char *resource)
{
	baton_lock *l = calloc(1, sizeof *l);

	if (l == NULL)
		return NULL;
	l->c = c;
	l->refs = 1;
	l->rel_remember_ms = -1;
	snprintf(l->resource, sizeof l->resource, "%s", resource);
	return l;
}

/* Links l into c (caller holds mu) with a fresh id and sends its request. */
static void lock_start(baton_client *c, baton_lock *l, bool reset, action_list *al)
{
	snprintf(l->base, sizeof l->base, "%llu-%016llx", (unsigned long long)++c->next_id,
	         (unsigned long long)c->salt);
	bt_reqstate_init(&l->rs, reset, bt_client_now_ms());
	l->rs.will_ms = (int64_t)c->keepalive_s * 1500; /* mosquitto's Will timer */
	l->next = c->locks;
	c->locks = l;
	bt_lock_queue_send(l, reset ? REQ_K_RESET : REQ_K_ACQUIRE, al);
}

baton_err baton_acquire(baton_client *c, const baton_acquire_options *o, baton_lock **out)
{
	baton_lock *l;
	action_list al;
	baton_err err = check_acquire(c, o);

	if (err != BATON_OK)
		return err;
	l = lock_new(c, o->resource);
	if (l == NULL || (o->meta != NULL && (l->meta = strdup(o->meta)) == NULL)) {
		free(l);
		return bt_client_fail(c, BATON_E_NOMEM, "out of memory");
	}
	l->mode = o->mode;
	l->permits = o->permits;
	l->max_failures = o->max_failures;
	l->lease_ms = o->lease_ms;
	l->wait_ms = o->wait_ms;
	l->on_answer = o->on_answer;
	l->on_lost = o->on_lost;
	l->arg = o->arg;
	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	lock_start(c, l, false, &al);
	pthread_mutex_unlock(&c->mu);
	*out = l;
	bt_actions_run(c, &al);
	return BATON_OK;
}

static baton_phase phase_of(wire_status st)
{
	switch (st) {
	case WIRE_ST_GRANTED:
		return BATON_PHASE_GRANTED;
	case WIRE_ST_DONE:
		return BATON_PHASE_DONE;
	case WIRE_ST_BUSY:
		return BATON_PHASE_BUSY;
	case WIRE_ST_FAILED:
		return BATON_PHASE_FAILED;
	default:
		return BATON_PHASE_REJECTED;
	}
}

/* Caller holds mu; l is settled. */
static void answer_view(const baton_lock *l, baton_answer *out)
{
	const wire_answer *a = &l->answer;

	memset(out, 0, sizeof *out);
	out->phase = l->rs.lost ? BATON_PHASE_LOST : phase_of(a->status);
	out->token = a->token;
	out->lease_ms = a->lease_ms;
	out->previous.node = a->previous.node;
	out->previous.token = a->previous.token;
	out->previous.error = a->previous.error;
	out->previous.reason = (baton_reason)a->previous.reason;
	out->done.node = a->outcome.node;
	out->done.token = a->outcome.token;
	out->done.result = a->outcome.result;
	out->done.completed_at_ms = a->outcome.completed_at_ms;
	out->holder = a->holder;
	out->code = a->status == WIRE_ST_REJECTED ? a->code : BATON_OK;
	out->message = a->message;
	out->failures = a->failures;
	out->last = (baton_failure){a->last.node, a->last.token, a->last.error, (baton_reason)a->last.reason,
	                            a->last.completed_at_ms};
}

baton_err baton_lock_wait(baton_lock *l, int64_t timeout_ms, baton_answer *out)
{
	baton_client *c = l->c;
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : bt_client_now_ms() + timeout_ms;
	baton_err err = BATON_OK;

	if (timeout_ms != 0 && bt_client_on_thread(c))
		return bt_client_fail(c, BATON_E_INVAL, "blocking call on the client thread");
	pthread_mutex_lock(&c->mu);
	while (!l->rs.settled && !c->closing && l->rs.phase != BATON_PHASE_CANCELLING &&
	       l->rs.phase != BATON_PHASE_CANCELLED && bt_client_wait_until(c, deadline))
		;
	if (l->rs.settled && (l->answer.status != 0 || l->rs.lost)) {
		if (out != NULL)
			answer_view(l, out);
	} else if (l->rs.phase == BATON_PHASE_CANCELLING || l->rs.phase == BATON_PHASE_CANCELLED) {
		err = BATON_E_CANCELLED;
	} else {
		err = c->closing ? BATON_E_CLOSED : BATON_E_TIMEOUT;
	}
	pthread_mutex_unlock(&c->mu);
	if (err == BATON_E_TIMEOUT)
		return bt_client_fail(c, err, "no answer from the coordinator for %s yet", l->resource);
	return err;
}

void baton_lock_get_info(baton_lock *l, baton_lock_info *out)
{
	baton_client *c = l->c;
	int64_t now = bt_client_now_ms();

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&c->mu);
	out->phase = l->rs.phase;
	out->position = l->rs.position;
	snprintf(out->holder, sizeof out->holder, "%s", l->rs.holder);
	out->token = l->rs.token;
	out->age_ms = now - l->rs.created_ms;
	if (l->rs.phase == BATON_PHASE_GRANTED && l->rs.confirmed)
		out->lease_left_ms = l->rs.deadline_ms > now ? l->rs.deadline_ms - now : 0;
	out->lost = l->rs.lost;
	pthread_mutex_unlock(&c->mu);
}

int64_t baton_window_ms(uint32_t lease_ms, uint32_t keepalive_s)
{
	return bt_reqstate_window(lease_ms ? lease_ms : WIRE_LEASE_DEFAULT,
	                          (int64_t)(keepalive_s ? keepalive_s : BATON_KEEPALIVE_DEFAULT) * 1500);
}

const char *baton_lock_lost_reason(baton_lock *l)
{
	const char *why = NULL;

	pthread_mutex_lock(&l->c->mu);
	if (l->rs.lost)
		why = bt_words_lost(l->rs.lost_err, l->rs.lost_reason);
	pthread_mutex_unlock(&l->c->mu);
	return why;
}

bool baton_lock_lost(baton_lock *l)
{
	bool lost;

	pthread_mutex_lock(&l->c->mu);
	lost = l->rs.lost;
	pthread_mutex_unlock(&l->c->mu);
	return lost;
}

/* Waits (caller holds mu) while l stays in phase; returns how it ended. */
static baton_err wait_finished(baton_lock *l, baton_phase phase, int64_t timeout_ms)
{
	baton_client *c = l->c;
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : bt_client_now_ms() + timeout_ms;

	while (l->rs.phase == phase && !c->closing && bt_client_wait_until(c, deadline))
		;
	if (l->rs.phase != phase)
		return l->rs.finish_err;
	return c->closing ? BATON_E_CLOSED : BATON_E_TIMEOUT;
}

static baton_err check_release(baton_lock *l, const baton_release_options *o, int64_t timeout_ms)
{
	if (o == NULL)
		return bt_client_fail(l->c, BATON_E_INVAL, "release options must not be NULL");
	if (o->error != NULL && strlen(o->error) > WIRE_ERROR_MAX)
		return bt_client_fail(l->c, BATON_E_INVAL, "release error over %d bytes", WIRE_ERROR_MAX);
	if (o->result != NULL && strlen(o->result) > WIRE_RESULT_MAX)
		return bt_client_fail(l->c, BATON_E_INVAL, "release result over %d bytes", WIRE_RESULT_MAX);
	if (timeout_ms != 0 && bt_client_on_thread(l->c))
		return bt_client_fail(l->c, BATON_E_INVAL, "blocking call on the client thread");
	return BATON_OK;
}

/* Caller holds mu. Moves l to RELEASING with the given parameters (strings
 * owned by l from now on) and queues the send. */
static baton_err start_release(baton_lock *l, bool success, char *error, char *result, int64_t remember_ms,
                               action_list *al)
{
	baton_err err = bt_reqstate_release(&l->rs);

	if (err != BATON_OK) {
		free(error);
		free(result);
		return err;
	}
	free(l->rel_error);
	free(l->rel_result);
	l->rel_success = success;
	l->rel_error = error;
	l->rel_result = result;
	l->rel_remember_ms = remember_ms;
	bt_lock_queue_send(l, REQ_K_RELEASE, al);
	return BATON_OK;
}

baton_err baton_release(baton_lock *l, const baton_release_options *o, int64_t timeout_ms)
{
	baton_client *c = l->c;
	char *error = NULL, *result = NULL;
	action_list al;
	baton_err err = check_release(l, o, timeout_ms);

	if (err != BATON_OK)
		return err;
	if ((o->error != NULL && (error = strdup(o->error)) == NULL) ||
	    (o->result != NULL && (result = strdup(o->result)) == NULL)) {
		free(error);
		return bt_client_fail(c, BATON_E_NOMEM, "out of memory");
	}
	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	err = start_release(l, o->success, error, result, o->remember_ms, &al);
	pthread_mutex_unlock(&c->mu);
	bt_actions_run(c, &al);
	if (err != BATON_OK)
		return bt_client_fail(c, err, "cannot release %s: %s", l->resource,
		                      err == BATON_E_LOST ? "the lock was lost" : "it is not held");
	if (timeout_ms == 0)
		return BATON_OK;
	pthread_mutex_lock(&c->mu);
	err = wait_finished(l, BATON_PHASE_RELEASING, timeout_ms);
	pthread_mutex_unlock(&c->mu);
	if (err != BATON_OK)
		return bt_client_fail(c, err, "release of %s: %s", l->resource, baton_strerror(err));
	return BATON_OK;
}

baton_err baton_cancel(baton_lock *l, int64_t timeout_ms)
{
	baton_client *c = l->c;
	action_list al;
	baton_err err;

	if (timeout_ms != 0 && bt_client_on_thread(c))
		return bt_client_fail(c, BATON_E_INVAL, "blocking call on the client thread");
	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	err = bt_reqstate_cancel(&l->rs);
	if (err == BATON_OK) {
		bt_lock_queue_send(l, REQ_K_CANCEL, &al);
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->mu);
	bt_actions_run(c, &al);
	if (err != BATON_OK)
		return bt_client_fail(c, err, "cannot cancel %s: it is not waiting", l->resource);
	if (timeout_ms == 0)
		return BATON_OK;
	pthread_mutex_lock(&c->mu);
	err = wait_finished(l, BATON_PHASE_CANCELLING, timeout_ms);
	pthread_mutex_unlock(&c->mu);
	if (err != BATON_OK)
		return bt_client_fail(c, err, "cancel of %s: %s", l->resource, baton_strerror(err));
	return BATON_OK;
}

static void unlink_lock(baton_client *c, baton_lock *l)
{
	for (baton_lock **p = &c->locks; *p != NULL; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			return;
		}
}

/* Caller holds mu: withdraws or releases l (without waiting) and drops the
 * user's reference. */
static void abandon(baton_client *c, baton_lock *l, action_list *al)
{
	char *error = strdup(ABANDONED);

	if (bt_reqstate_cancel(&l->rs) == BATON_OK)
		bt_lock_queue_send(l, REQ_K_CANCEL, al);
	else if (l->rs.phase == BATON_PHASE_GRANTED) {
		(void)start_release(l, false, error, NULL, -1, al); /* takes error */
		error = NULL;
	}
	free(error);
	if (l->rs.held_token != 0) {
		/* Lost with the connection: the user is done with it now. */
		l->rs.drop_token = l->rs.held_token;
		l->rs.held_token = 0;
		send_drop(l, al);
	}
	unlink_lock(c, l);
	l->freed = true;
	while (l->cb_running && !bt_client_on_thread(c))
		pthread_cond_wait(&c->cond, &c->mu);
	bt_lock_unref(l);
}

void baton_lock_free(baton_lock *l)
{
	baton_client *c;
	action_list al;

	if (l == NULL)
		return;
	c = l->c;
	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	abandon(c, l, &al);
	pthread_mutex_unlock(&c->mu);
	bt_actions_run(c, &al);
}

void bt_locks_abandon_all(baton_client *c, action_list *al)
{
	while (c->locks != NULL)
		abandon(c, c->locks, al);
}

baton_err baton_reset(baton_client *c, const char *resource, int64_t timeout_ms)
{
	baton_lock *l;
	action_list al;
	baton_err err;

	if (resource == NULL || !names_resource_valid(resource, strlen(resource)))
		return bt_client_fail(c, BATON_E_INVAL, "invalid resource name");
	if (timeout_ms != 0 && bt_client_on_thread(c))
		return bt_client_fail(c, BATON_E_INVAL, "blocking call on the client thread");
	l = lock_new(c, resource);
	if (l == NULL)
		return bt_client_fail(c, BATON_E_NOMEM, "out of memory");
	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	lock_start(c, l, true, &al);
	pthread_mutex_unlock(&c->mu);
	bt_actions_run(c, &al);
	pthread_mutex_lock(&c->mu);
	err = timeout_ms == 0 ? BATON_OK : wait_finished(l, BATON_PHASE_RESETTING, timeout_ms);
	unlink_lock(c, l);
	l->freed = true;
	bt_lock_unref(l);
	pthread_mutex_unlock(&c->mu);
	if (err != BATON_OK)
		return bt_client_fail(c, err, "reset of %s: %s", resource, baton_strerror(err));
	return BATON_OK;
}
