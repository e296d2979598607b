/*
 * wire_msg.c - the codec of what the coordinator sends: answers, outcome
 * events, state snapshots, presence and stats (PROTOCOL.md v1).
 *
 * Owns: the field names and the order in which they are written, and the
 * helpers every message's codec shares (wj_put_*, the nested previous,
 * last and done objects; declared in wire_json.h). Snapshots are in
 * wire_snap.c. Must never
 * do I/O or log. Encoders check their input against the contract and return
 * BATON_E_INVAL rather than write a message a peer would reject; decoders are
 * for agents and tests, tolerant of unknown fields and strict about the ones
 * they know (BATON_E_PROTOCOL). A decoded message owns its strings in one
 * block, like a decoded request (see wire.c).
 */
#include "wire.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "wire_json.h"

void wj_put_str(wj_writer *w, const char *key, const char *s)
{
	wj_key(w, key);
	wj_str(w, s);
}

void wj_put_opt_str(wj_writer *w, const char *key, const char *s)
{
	if (s != NULL)
		wj_put_str(w, key, s);
}

void wj_put_u64(wj_writer *w, const char *key, uint64_t v)
{
	wj_key(w, key);
	wj_u64(w, v);
}

void wj_put_time(wj_writer *w, const char *key, int64_t ms)
{
	wj_key(w, key);
	wj_time(w, ms);
}

void wj_put_head(wj_writer *w)
{
	wj_open(w);
	wj_put_u64(w, "v", WIRE_VERSION);
}

void wj_take_all(wj_block *b, const char **const *strs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wj_block_take(b, strs[i]);
}

/* Moves the n strings *strs[i] out of the cJSON tree into one block. */
static baton_err own_strings(const char **const *strs, size_t n, void **owned)
{
	wj_block b = {NULL, 0};

	wj_take_all(&b, strs, n);
	b.block = cJSON_malloc(b.used > 0 ? b.used : 1);
	if (b.block == NULL)
		return BATON_E_NOMEM;
	b.used = 0;
	wj_take_all(&b, strs, n);
	*owned = b.block;
	return BATON_OK;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the nested objects: previous and done ------------------------------------ */

bool wj_previous_ok(const wire_previous *p)
{
	return p->node == NULL || (wj_node_ok(p->node) && wj_token_ok(p->token) &&
	                           (p->error == NULL || wj_text_ok(p->error, WIRE_ERROR_MAX)) &&
	                           wire_reason_name(p->reason) != NULL);
}

bool wj_done_ok(const wire_done *o)
{
	return o->node == NULL || (wj_node_ok(o->node) && wj_token_ok(o->token) &&
	                           (o->result == NULL || wj_text_ok(o->result, WIRE_RESULT_MAX)) &&
	                           wj_time_ok(o->completed_at_ms));
}

/* "previous" (no time) or, with at, "last"/"last_failure" (with completed_at). */
void wj_put_prev_as(wj_writer *w, const char *key, const wire_previous *p, bool at)
{
	wj_key(w, key);
	wj_open(w);
	wj_put_str(w, "node", p->node);
	wj_put_u64(w, "token", p->token);
	wj_put_opt_str(w, "error", p->error);
	wj_put_str(w, "reason", wire_reason_name(p->reason));
	if (at)
		wj_put_time(w, "completed_at", p->completed_at_ms);
	wj_close(w);
}

void wj_put_previous(wj_writer *w, const wire_previous *p)
{
	wj_put_prev_as(w, "previous", p, false);
}

/* A "last" object: a previous that must name its holding and its time. */
bool wj_last_ok(const wire_previous *p)
{
	return p->node != NULL && wj_previous_ok(p) && wj_time_ok(p->completed_at_ms);
}

void wj_put_done(wj_writer *w, const char *key, const wire_done *o)
{
	wj_key(w, key);
	if (o->node == NULL) {
		wj_null(w);
		return;
	}
	wj_open(w);
	wj_put_str(w, "node", o->node);
	wj_put_u64(w, "token", o->token);
	wj_put_opt_str(w, "result", o->result);
	wj_put_time(w, "completed_at", o->completed_at_ms);
	wj_close(w);
}

/* A "last" object (required): previous plus completed_at. */
bool wj_get_last(const cJSON *it, wire_previous *p)
{
	return cJSON_IsObject(it) && wj_get_previous(it, p) &&
	       wj_req_time(it, "completed_at", &p->completed_at_ms);
}

bool wj_get_previous(const cJSON *it, wire_previous *p)
{
	memset(p, 0, sizeof *p);
	if (it == NULL)
		return true;
	return cJSON_IsObject(it) && wj_req_node(it, "node", &p->node) &&
	       wj_req_u64(it, "token", 1, WIRE_INT_MAX, &p->token) &&
	       wj_opt_str(it, "error", WIRE_ERROR_MAX, &p->error) && wj_req_reason(it, "reason", &p->reason);
}

/* A done object, or null (then o->node stays NULL). */
bool wj_get_done(const cJSON *it, wire_done *o)
{
	memset(o, 0, sizeof *o);
	if (it == NULL || cJSON_IsNull(it))
		return true;
	return cJSON_IsObject(it) && wj_req_node(it, "node", &o->node) &&
	       wj_req_u64(it, "token", 1, WIRE_INT_MAX, &o->token) &&
	       wj_opt_str(it, "result", WIRE_RESULT_MAX, &o->result) &&
	       wj_req_time(it, "completed_at", &o->completed_at_ms);
}

/* ---- answers ---------------------------------------------------------------- */

static bool lease_ok(uint32_t ms)
{
	return ms >= WIRE_LEASE_MIN && ms <= WIRE_LEASE_MAX;
}

/* The checks of the extra fields of each status (PROTOCOL.md, answer table). */
static bool answer_extras_ok(const wire_answer *a)
{
	switch (a->status) {
	case WIRE_ST_GRANTED:
		return wj_token_ok(a->token) && lease_ok(a->lease_ms) && wj_previous_ok(&a->previous);
	case WIRE_ST_QUEUED:
		return a->position >= 1 && wj_node_ok(a->holder);
	case WIRE_ST_DONE:
		return a->outcome.node != NULL && wj_done_ok(&a->outcome);
	case WIRE_ST_BUSY:
		return wj_node_ok(a->holder);
	case WIRE_ST_RENEWED:
		return wj_token_ok(a->token) && lease_ok(a->lease_ms);
	case WIRE_ST_RELEASED:
		return wj_token_ok(a->token);
	case WIRE_ST_CANCELLED:
	case WIRE_ST_RESET:
		return true;
	case WIRE_ST_REVOKED:
		return wj_token_ok(a->token) &&
		       (a->reason == WIRE_REASON_LEASE_EXPIRED || a->reason == WIRE_REASON_NODE_OFFLINE);
	case WIRE_ST_REJECTED:
		return baton_err_code(a->code) != NULL && wj_text_ok(a->message, WIRE_MESSAGE_MAX);
	case WIRE_ST_FAILED:
		return a->failures >= 1 && a->failures <= WIRE_FAILURES_MAX && wj_last_ok(&a->last);
	}
	return false;
}

static bool answer_ok(const wire_answer *a)
{
	bool rejected = a->status == WIRE_ST_REJECTED;

	if (wire_status_name(a->status) == NULL)
		return false;
	/* Only a rejection may lack the id or the resource it answers. */
	if (a->id == NULL ? !rejected : !wj_id_ok(a->id))
		return false;
	if (a->resource == NULL ? !rejected : !wj_resource_ok(a->resource))
		return false;
	return answer_extras_ok(a);
}

static void emit_answer(wj_writer *w, const void *msg)
{
	const wire_answer *a = msg;

	wj_put_head(w);
	wj_put_str(w, "status", wire_status_name(a->status));
	wj_put_opt_str(w, "id", a->id);
	wj_put_opt_str(w, "resource", a->resource);
	switch (a->status) {
	case WIRE_ST_GRANTED:
	case WIRE_ST_RENEWED:
		wj_put_u64(w, "token", a->token);
		wj_put_u64(w, "lease_ms", a->lease_ms);
		if (a->status == WIRE_ST_GRANTED && a->previous.node != NULL)
			wj_put_previous(w, &a->previous);
		break;
	case WIRE_ST_QUEUED:
		wj_put_u64(w, "position", a->position);
		wj_put_str(w, "holder", a->holder);
		break;
	case WIRE_ST_DONE:
		wj_put_done(w, "outcome", &a->outcome);
		break;
	case WIRE_ST_BUSY:
		wj_put_str(w, "holder", a->holder);
		break;
	case WIRE_ST_RELEASED:
		wj_put_u64(w, "token", a->token);
		break;
	case WIRE_ST_REVOKED:
		wj_put_u64(w, "token", a->token);
		wj_put_str(w, "reason", wire_reason_name(a->reason));
		break;
	case WIRE_ST_REJECTED:
		wj_put_str(w, "code", baton_err_code(a->code));
		wj_put_str(w, "message", a->message);
		break;
	case WIRE_ST_FAILED:
		wj_put_u64(w, "failures", a->failures);
		wj_put_prev_as(w, "last", &a->last, true);
		break;
	case WIRE_ST_CANCELLED:
	case WIRE_ST_RESET:
		break;
	}
	wj_close(w);
}

baton_err wire_answer_encode(const wire_answer *a, char **out, size_t *len)
{
	if (a == NULL || out == NULL || !answer_ok(a))
		return BATON_E_INVAL;
	return wj_finish(emit_answer, a, out, len);
}

static bool get_answer_extras(const cJSON *root, wire_answer *a)
{
	uint64_t u = 0;
	const cJSON *code;

	switch (a->status) {
	case WIRE_ST_GRANTED:
	case WIRE_ST_RENEWED:
		if (!wj_req_u64(root, "token", 1, WIRE_INT_MAX, &a->token) ||
		    !wj_req_u64(root, "lease_ms", WIRE_LEASE_MIN, WIRE_LEASE_MAX, &u))
			return false;
		a->lease_ms = (uint32_t)u;
		return a->status == WIRE_ST_RENEWED ||
		       wj_get_previous(wj_get(root, "previous"), &a->previous);
	case WIRE_ST_QUEUED:
		if (!wj_req_u64(root, "position", 1, UINT32_MAX, &u))
			return false;
		a->position = (uint32_t)u;
		return wj_req_node(root, "holder", &a->holder);
	case WIRE_ST_DONE:
		return cJSON_IsObject(wj_get(root, "outcome")) &&
		       wj_get_done(wj_get(root, "outcome"), &a->outcome);
	case WIRE_ST_BUSY:
		return wj_req_node(root, "holder", &a->holder);
	case WIRE_ST_RELEASED:
		return wj_req_u64(root, "token", 1, WIRE_INT_MAX, &a->token);
	case WIRE_ST_REVOKED:
		return wj_req_u64(root, "token", 1, WIRE_INT_MAX, &a->token) &&
		       wj_req_reason(root, "reason", &a->reason) && a->reason != WIRE_REASON_RELEASED;
	case WIRE_ST_REJECTED:
		/* An unknown code (from a newer coordinator) reads as BATON_E_PROTOCOL. */
		code = wj_get(root, "code");
		if (!cJSON_IsString(code))
			return false;
		a->code = baton_err_from_code(code->valuestring);
		return wj_req_str(root, "message", WIRE_MESSAGE_MAX, &a->message);
	case WIRE_ST_FAILED:
		if (!wj_req_u64(root, "failures", 1, WIRE_FAILURES_MAX, &u))
			return false;
		a->failures = (uint32_t)u;
		return wj_get_last(wj_get(root, "last"), &a->last);
	case WIRE_ST_CANCELLED:
	case WIRE_ST_RESET:
		return true;
	}
	return false;
}

static baton_err answer_fields(const cJSON *root, void *msg)
{
	wire_answer *a = msg;
	const cJSON *st = wj_get(root, "status");
	int status;

	if (!cJSON_IsString(st) || (status = wire_status_from_name(st->valuestring)) < 0)
		return BATON_E_PROTOCOL;
	a->status = (wire_status)status;
	const cJSON *id = wj_get(root, "id");
	if (id != NULL && !(cJSON_IsString(id) && wj_id_ok(id->valuestring)))
		return BATON_E_PROTOCOL;
	a->id = id != NULL ? id->valuestring : NULL;
	const cJSON *res = wj_get(root, "resource");
	if (res == NULL ? a->status != WIRE_ST_REJECTED
	                : !(cJSON_IsString(res) && wj_resource_ok(res->valuestring)))
		return BATON_E_PROTOCOL;
	a->resource = res != NULL ? res->valuestring : NULL;
	if (!get_answer_extras(root, a))
		return BATON_E_PROTOCOL;
	const char **const strs[] = {&a->id,        &a->resource,     &a->previous.node,  &a->previous.error,
	                             &a->holder,    &a->outcome.node, &a->outcome.result, &a->message,
	                             &a->last.node, &a->last.error};
	return own_strings(strs, COUNT(strs), &a->owned_);
}

baton_err wire_answer_decode(const char *payload, size_t len, wire_answer *out)
{
	return wj_decode(payload, len, answer_fields, out, sizeof *out);
}

void wire_answer_deinit(wire_answer *a)
{
	if (a != NULL)
		wj_release(a, sizeof *a, a->owned_);
}

/* ---- outcome events ------------------------------------------------------------ */

static bool outcome_ok(const wire_outcome *o)
{
	return wj_resource_ok(o->resource) && wire_mode_name(o->mode) != NULL && wj_node_ok(o->node) &&
	       wj_token_ok(o->token) && (o->error == NULL || wj_text_ok(o->error, WIRE_ERROR_MAX)) &&
	       (o->result == NULL || wj_text_ok(o->result, WIRE_RESULT_MAX)) &&
	       wire_reason_name(o->reason) != NULL && wj_time_ok(o->completed_at_ms);
}

static void emit_outcome(wj_writer *w, const void *msg)
{
	const wire_outcome *o = msg;

	wj_put_head(w);
	wj_put_str(w, "resource", o->resource);
	wj_put_str(w, "mode", wire_mode_name(o->mode));
	wj_put_str(w, "node", o->node);
	wj_put_u64(w, "token", o->token);
	wj_key(w, "success");
	wj_bool(w, o->success);
	wj_put_opt_str(w, "error", o->error);
	wj_put_opt_str(w, "result", o->result);
	wj_put_str(w, "reason", wire_reason_name(o->reason));
	wj_put_time(w, "completed_at", o->completed_at_ms);
	wj_close(w);
}

baton_err wire_outcome_encode(const wire_outcome *o, char **out, size_t *len)
{
	if (o == NULL || out == NULL || !outcome_ok(o))
		return BATON_E_INVAL;
	return wj_finish(emit_outcome, o, out, len);
}

static baton_err outcome_fields(const cJSON *root, void *msg)
{
	wire_outcome *o = msg;
	const cJSON *res = wj_get(root, "resource"), *success = wj_get(root, "success");

	if (!cJSON_IsString(res) || !wj_resource_ok(res->valuestring) || !cJSON_IsBool(success))
		return BATON_E_PROTOCOL;
	o->resource = res->valuestring;
	o->success = cJSON_IsTrue(success);
	if (!wj_req_mode(root, &o->mode) || !wj_req_node(root, "node", &o->node) ||
	    !wj_req_u64(root, "token", 1, WIRE_INT_MAX, &o->token) ||
	    !wj_opt_str(root, "error", WIRE_ERROR_MAX, &o->error) ||
	    !wj_opt_str(root, "result", WIRE_RESULT_MAX, &o->result) ||
	    !wj_req_reason(root, "reason", &o->reason) ||
	    !wj_req_time(root, "completed_at", &o->completed_at_ms))
		return BATON_E_PROTOCOL;
	const char **const strs[] = {&o->resource, &o->node, &o->error, &o->result};
	return own_strings(strs, COUNT(strs), &o->owned_);
}

baton_err wire_outcome_decode(const char *payload, size_t len, wire_outcome *out)
{
	return wj_decode(payload, len, outcome_fields, out, sizeof *out);
}

void wire_outcome_deinit(wire_outcome *o)
{
	if (o != NULL)
		wj_release(o, sizeof *o, o->owned_);
}

/* ---- presence -------------------------------------------------------------- */

static bool presence_ok(const wire_presence *p)
{
	if (p->node != NULL) /* a node says only who it is and whether it is online */
		return wj_node_ok(p->node) && p->version == NULL && p->started_at_ms == 0 &&
		       p->instance == NULL && !p->not_serving && p->reason == NULL && p->member == 0;
	return (p->version == NULL || wj_text_ok(p->version, WIRE_VERSION_TEXT_MAX)) &&
	       (p->started_at_ms == 0 || wj_time_ok(p->started_at_ms)) &&
	       (p->instance == NULL || wj_id_ok(p->instance)) &&
	       (p->reason == NULL || wj_text_ok(p->reason, WIRE_REASON_TEXT_MAX)) && p->member <= 999999;
}

static void emit_presence(wj_writer *w, const void *msg)
{
	const wire_presence *p = msg;

	wj_put_head(w);
	wj_put_opt_str(w, "node", p->node);
	wj_key(w, "online");
	wj_bool(w, p->online);
	wj_put_opt_str(w, "version", p->version);
	if (p->node == NULL && p->started_at_ms != 0)
		wj_put_time(w, "started_at", p->started_at_ms);
	if (p->node == NULL && p->member != 0)
		wj_put_u64(w, "member", p->member);
	wj_put_opt_str(w, "instance", p->instance);
	if (p->instance != NULL && p->online) {
		wj_key(w, "serving");
		wj_bool(w, !p->not_serving);
		if (p->not_serving)
			wj_put_opt_str(w, "reason", p->reason);
	}
	wj_close(w);
}

baton_err wire_presence_encode(const wire_presence *p, char **out, size_t *len)
{
	if (p == NULL || out == NULL || !presence_ok(p))
		return BATON_E_INVAL;
	return wj_finish(emit_presence, p, out, len);
}

static baton_err presence_fields(const cJSON *root, void *msg)
{
	wire_presence *p = msg;
	const cJSON *online = wj_get(root, "online");

	if (!cJSON_IsBool(online))
		return BATON_E_PROTOCOL;
	p->online = cJSON_IsTrue(online);
	if (wj_get(root, "node") != NULL && !wj_req_node(root, "node", &p->node))
		return BATON_E_PROTOCOL;
	if (!wj_opt_str(root, "version", WIRE_VERSION_TEXT_MAX, &p->version))
		return BATON_E_PROTOCOL;
	if (wj_get(root, "started_at") != NULL && !wj_req_time(root, "started_at", &p->started_at_ms))
		return BATON_E_PROTOCOL;
	if (wj_get(root, "member") != NULL && !wj_req_u64(root, "member", 1, 999999, &p->member))
		return BATON_E_PROTOCOL;
	if (wj_get(root, "instance") != NULL &&
	    (!wj_req_str(root, "instance", NAMES_ID_MAX, &p->instance) || !wj_id_ok(p->instance)))
		return BATON_E_PROTOCOL;
	const cJSON *serving = wj_get(root, "serving");
	if (serving != NULL && !cJSON_IsBool(serving))
		return BATON_E_PROTOCOL;
	p->not_serving = serving != NULL && !cJSON_IsTrue(serving);
	if (!wj_opt_str(root, "reason", WIRE_REASON_TEXT_MAX, &p->reason))
		return BATON_E_PROTOCOL;
	const char **const strs[] = {&p->node, &p->version, &p->instance, &p->reason};
	return own_strings(strs, COUNT(strs), &p->owned_);
}

baton_err wire_presence_decode(const char *payload, size_t len, wire_presence *out)
{
	return wj_decode(payload, len, presence_fields, out, sizeof *out);
}

void wire_presence_deinit(wire_presence *p)
{
	if (p != NULL)
		wj_release(p, sizeof *p, p->owned_);
}

/* ---- stats ------------------------------------------------------------------- */

static void emit_stats(wj_writer *w, const void *msg)
{
	const wire_stats *s = msg;

	wj_put_head(w);
	wj_put_time(w, "at", s->at_ms);
	wj_put_u64(w, "uptime_ms", s->uptime_ms);
	wj_put_u64(w, "requests", s->requests);
	wj_put_u64(w, "grants", s->grants);
	wj_put_u64(w, "handoffs", s->handoffs);
	wj_put_u64(w, "rejections", s->rejections);
	wj_put_u64(w, "held", s->held);
	wj_put_u64(w, "waiters", s->waiters);
	wj_put_u64(w, "remembered", s->remembered);
	wj_put_u64(w, "backlog", s->backlog);
	wj_put_u64(w, "next_token", s->next_token);
	wj_key(w, "serving");
	wj_bool(w, !s->not_serving);
	if (s->not_serving)
		wj_put_opt_str(w, "reason", s->reason);
	wj_close(w);
}

baton_err wire_stats_encode(const wire_stats *s, char **out, size_t *len)
{
	if (s == NULL || out == NULL || !wj_time_ok(s->at_ms) ||
	    (s->reason != NULL && !wj_text_ok(s->reason, WIRE_REASON_TEXT_MAX)))
		return BATON_E_INVAL;
	return wj_finish(emit_stats, s, out, len);
}

static baton_err stats_fields(const cJSON *root, void *msg)
{
	wire_stats *s = msg;
	struct {
		const char *key;
		uint64_t *v;
	} counters[] = {
	    {"uptime_ms", &s->uptime_ms}, {"requests", &s->requests},     {"grants", &s->grants},
	    {"handoffs", &s->handoffs},   {"rejections", &s->rejections}, {"held", &s->held},
	    {"waiters", &s->waiters},     {"remembered", &s->remembered}, {"backlog", &s->backlog}};

	if (!wj_req_time(root, "at", &s->at_ms) ||
	    !wj_req_u64(root, "next_token", 1, WIRE_INT_MAX, &s->next_token))
		return BATON_E_PROTOCOL;
	for (size_t i = 0; i < COUNT(counters); i++)
		if (!wj_req_u64(root, counters[i].key, 0, WIRE_INT_MAX, counters[i].v))
			*counters[i].v = 0;
	const cJSON *serving = wj_get(root, "serving");
	s->not_serving = cJSON_IsBool(serving) && !cJSON_IsTrue(serving);
	if (!wj_opt_str(root, "reason", WIRE_REASON_TEXT_MAX, &s->reason))
		s->reason = NULL;
	const char **const strs[] = {&s->reason};
	return own_strings(strs, COUNT(strs), &s->owned_);
}

baton_err wire_stats_decode(const char *payload, size_t len, wire_stats *out)
{
	return wj_decode(payload, len, stats_fields, out, sizeof *out);
}

void wire_stats_deinit(wire_stats *s)
{
	if (s != NULL)
		wj_release(s, sizeof *s, s->owned_);
}
