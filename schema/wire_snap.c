/*
 * wire_snap.c - the codec of state snapshots (P/state/<resource>,
 * retained; PROTOCOL.md, "Events and snapshots" and the second edition's
 * holders, queue, permits and failure streak).
 *
 * Owns: the snapshot's field names and their order. Must never do I/O or
 * log. The encoder checks its input against the contract (BATON_E_INVAL);
 * the decoder, for agents and tests, is tolerant of unknown fields and of
 * a first-edition snapshot without the second edition's fields, strict
 * about the ones it knows (BATON_E_PROTOCOL). A decoded snapshot owns its
 * strings and lists in one block.
 */
#include "wire.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "wire_json.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool snapshot_lists_ok(const wire_snapshot *s)
{
	if ((s->n_waiting > 0 && s->waiting == NULL) || (s->n_queue > 0 && s->queue == NULL) ||
	    (s->n_holders > 0 && s->holders == NULL))
		return false;
	for (size_t i = 0; i < s->n_waiting; i++)
		if (!wj_node_ok(s->waiting[i]))
			return false;
	for (size_t i = 0; i < s->n_queue; i++)
		if (!wj_node_ok(s->queue[i].node) || wire_mode_name(s->queue[i].mode) == NULL)
			return false;
	for (size_t i = 0; i < s->n_holders; i++) {
		const wire_holding *h = &s->holders[i];
		if (!wj_node_ok(h->node) || !wj_token_ok(h->token) || wire_mode_name(h->mode) == NULL ||
		    !wj_time_ok(h->since_ms) || !wj_time_ok(h->lease_until_ms) ||
		    (i > 0 && h->token <= s->holders[i - 1].token))
			return false;
	}
	return true;
}

static bool snapshot_ok(const wire_snapshot *s)
{
	if (!wj_resource_ok(s->resource) || wire_mode_name(s->mode) == NULL)
		return false;
	if (s->holder != NULL &&
	    (!wj_node_ok(s->holder) || !wj_token_ok(s->token) || !wj_time_ok(s->since_ms) ||
	     !wj_time_ok(s->lease_until_ms) || (s->meta != NULL && !wj_text_ok(s->meta, WIRE_META_MAX))))
		return false;
	if (s->permits > WIRE_PERMITS_MAX || (s->failures != 0 && !wj_last_ok(&s->last_failure)))
		return false;
	return snapshot_lists_ok(s) && wj_done_ok(&s->done) && wj_previous_ok(&s->previous);
}

static void put_holding(wj_writer *w, const char *node, uint64_t token, wire_mode mode, int64_t since,
                        int64_t until)
{
	wj_open(w);
	wj_put_str(w, "node", node);
	wj_put_u64(w, "token", token);
	wj_put_str(w, "mode", wire_mode_name(mode));
	wj_put_time(w, "since", since);
	wj_put_time(w, "lease_until", until);
	wj_close(w);
}

static void put_queued(wj_writer *w, const char *node, wire_mode mode)
{
	wj_open(w);
	wj_put_str(w, "node", node);
	wj_put_str(w, "mode", wire_mode_name(mode));
	wj_close(w);
}

/* holders and queue; a caller that filled only the first-edition fields
 * (holder, waiting) gets them written as one holding and a queue in the
 * snapshot's mode, so every snapshot says the same thing both ways. */
static void emit_snapshot_lists(wj_writer *w, const wire_snapshot *s)
{
	wj_key(w, "holders");
	wj_open_array(w);
	for (size_t i = 0; i < s->n_holders; i++) {
		const wire_holding *h = &s->holders[i];
		put_holding(w, h->node, h->token, h->mode, h->since_ms, h->lease_until_ms);
	}
	if (s->n_holders == 0 && s->holder != NULL)
		put_holding(w, s->holder, s->token, s->mode, s->since_ms, s->lease_until_ms);
	wj_close_array(w);
	wj_key(w, "queue");
	wj_open_array(w);
	for (size_t i = 0; i < s->n_queue; i++)
		put_queued(w, s->queue[i].node, s->queue[i].mode);
	for (size_t i = 0; s->n_queue == 0 && i < s->n_waiting; i++)
		put_queued(w, s->waiting[i], s->mode);
	wj_close_array(w);
	if (s->permits > 1)
		wj_put_u64(w, "permits", s->permits);
	if (s->failures > 0) {
		wj_put_u64(w, "failures", s->failures);
		wj_put_prev_as(w, "last_failure", &s->last_failure, true);
	}
}

static void emit_snapshot(wj_writer *w, const void *msg)
{
	const wire_snapshot *s = msg;

	wj_put_head(w);
	wj_put_str(w, "resource", s->resource);
	wj_put_str(w, "mode", wire_mode_name(s->mode));
	wj_key(w, "holder");
	if (s->holder == NULL) {
		wj_null(w);
	} else {
		wj_str(w, s->holder);
		wj_put_u64(w, "token", s->token);
		wj_put_time(w, "since", s->since_ms);
		wj_put_time(w, "lease_until", s->lease_until_ms);
		wj_put_opt_str(w, "meta", s->meta);
	}
	wj_key(w, "waiting");
	wj_open_array(w);
	for (size_t i = 0; i < s->n_waiting; i++)
		wj_str(w, s->waiting[i]);
	wj_close_array(w);
	wj_put_done(w, "done", &s->done);
	if (s->previous.node != NULL)
		wj_put_previous(w, &s->previous);
	emit_snapshot_lists(w, s);
	wj_close(w);
}

baton_err wire_snapshot_encode(const wire_snapshot *s, char **out, size_t *len)
{
	if (s == NULL || out == NULL || !snapshot_ok(s))
		return BATON_E_INVAL;
	return wj_finish(emit_snapshot, s, out, len);
}

static bool snapshot_holder(const cJSON *root, wire_snapshot *s)
{
	const cJSON *holder = wj_get(root, "holder");

	if (holder == NULL || cJSON_IsNull(holder))
		return true;
	return wj_req_node(root, "holder", &s->holder) &&
	       wj_req_u64(root, "token", 1, WIRE_INT_MAX, &s->token) &&
	       wj_req_time(root, "since", &s->since_ms) &&
	       wj_req_time(root, "lease_until", &s->lease_until_ms) &&
	       wj_opt_str(root, "meta", WIRE_META_MAX, &s->meta);
}

/* One block: the arrays first (waiting pointers, holders, queue: sizes are
 * multiples of the pointer size, so each stays aligned), then every
 * string. */
static baton_err snapshot_own(wire_snapshot *s, const cJSON *waiting)
{
	const char **const strs[] = {
	    &s->resource,          &s->holder,        &s->meta,           &s->done.node,
	    &s->done.result,       &s->previous.node, &s->previous.error, &s->last_failure.node,
	    &s->last_failure.error};
	size_t nw = s->n_waiting * sizeof(char *), nh = s->n_holders * sizeof(wire_holding);
	size_t head = nw + nh + s->n_queue * sizeof(wire_queued);
	wire_holding *hs = (wire_holding *)(void *)s->holders;
	wire_queued *qs = (wire_queued *)(void *)s->queue;
	wj_block b = {NULL, head};
	const cJSON *it;

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			b.block = cJSON_malloc(b.used > 0 ? b.used : 1);
			if (b.block == NULL)
				return BATON_E_NOMEM;
			b.used = head;
			/* the decoded arrays move into the block */
			memcpy((char *)b.block + nw, hs, nh);
			memcpy((char *)b.block + nw + nh, qs, s->n_queue * sizeof(wire_queued));
			hs = (wire_holding *)(void *)((char *)b.block + nw);
			qs = (wire_queued *)(void *)((char *)b.block + nw + nh);
		}
		wj_take_all(&b, strs, COUNT(strs));
		const char **list = pass ? (const char **)(void *)b.block : NULL;
		size_t i = 0;
		cJSON_ArrayForEach(it, waiting)
		{
			const char *name = it->valuestring;
			wj_block_take(&b, &name);
			if (list != NULL)
				list[i++] = name;
		}
		for (size_t k = 0; k < s->n_holders; k++)
			wj_block_take(&b, &hs[k].node);
		for (size_t k = 0; k < s->n_queue; k++)
			wj_block_take(&b, &qs[k].node);
	}
	s->waiting = s->n_waiting > 0 ? (const char **)(void *)b.block : NULL;
	s->holders = s->n_holders > 0 ? hs : NULL;
	s->queue = s->n_queue > 0 ? qs : NULL;
	s->owned_ = b.block;
	return BATON_OK;
}

/* Reads "holders" and "queue" (absent: empty, from a first-edition
 * coordinator) into tmp arrays of cap entries each. */
static bool snapshot_read_lists(const cJSON *root, wire_snapshot *s, wire_holding *hs, wire_queued *qs,
                                size_t cap)
{
	const cJSON *holders = wj_get(root, "holders"), *queue = wj_get(root, "queue"), *it;
	if ((holders != NULL && !cJSON_IsArray(holders)) || (queue != NULL && !cJSON_IsArray(queue)))
		return false;
	cJSON_ArrayForEach(it, holders)
	{
		wire_holding *h = &hs[s->n_holders];
		if (s->n_holders == cap || !cJSON_IsObject(it) || !wj_req_node(it, "node", &h->node) ||
		    !wj_req_u64(it, "token", 1, WIRE_INT_MAX, &h->token) || !wj_req_mode(it, &h->mode) ||
		    !wj_req_time(it, "since", &h->since_ms) ||
		    !wj_req_time(it, "lease_until", &h->lease_until_ms))
			return false;
		s->n_holders++;
	}
	cJSON_ArrayForEach(it, queue)
	{
		wire_queued *q = &qs[s->n_queue];
		if (s->n_queue == cap || !cJSON_IsObject(it) || !wj_req_node(it, "node", &q->node) ||
		    !wj_req_mode(it, &q->mode))
			return false;
		s->n_queue++;
	}
	s->holders = hs;
	s->queue = qs;
	return true;
}

static bool snapshot_extras(const cJSON *root, wire_snapshot *s)
{
	uint64_t u = 1;
	if (wj_get(root, "permits") != NULL && !wj_req_u64(root, "permits", 1, WIRE_PERMITS_MAX, &u))
		return false;
	s->permits = (uint32_t)u;
	u = 0;
	if (wj_get(root, "failures") != NULL && !wj_req_u64(root, "failures", 1, WIRE_INT_MAX, &u))
		return false;
	s->failures = (uint32_t)(u > UINT32_MAX ? UINT32_MAX : u);
	return s->failures == 0 || wj_get_last(wj_get(root, "last_failure"), &s->last_failure);
}

static baton_err snapshot_fields(const cJSON *root, void *msg)
{
	wire_snapshot *s = msg;
	const cJSON *res = wj_get(root, "resource"), *waiting = wj_get(root, "waiting"), *it;

	if (!cJSON_IsString(res) || !wj_resource_ok(res->valuestring) || !wj_req_mode(root, &s->mode))
		return BATON_E_PROTOCOL;
	s->resource = res->valuestring;
	if (!snapshot_holder(root, s) || !wj_get_done(wj_get(root, "done"), &s->done) ||
	    !wj_get_previous(wj_get(root, "previous"), &s->previous) || !snapshot_extras(root, s))
		return BATON_E_PROTOCOL;
	if (waiting != NULL && !cJSON_IsArray(waiting))
		return BATON_E_PROTOCOL;
	cJSON_ArrayForEach(it, waiting)
	{
		if (!cJSON_IsString(it) || !wj_node_ok(it->valuestring))
			return BATON_E_PROTOCOL;
		s->n_waiting++;
	}
	size_t cap = (size_t)cJSON_GetArraySize(wj_get(root, "holders")) +
	             (size_t)cJSON_GetArraySize(wj_get(root, "queue")) + 1;
	wire_holding *hs = cJSON_malloc(cap * sizeof *hs);
	wire_queued *qs = cJSON_malloc(cap * sizeof *qs);
	baton_err err = BATON_E_NOMEM;
	if (hs != NULL && qs != NULL)
		err = snapshot_read_lists(root, s, hs, qs, cap) ? snapshot_own(s, waiting) : BATON_E_PROTOCOL;
	cJSON_free(hs);
	cJSON_free(qs);
	return err;
}

baton_err wire_snapshot_decode(const char *payload, size_t len, wire_snapshot *out)
{
	return wj_decode(payload, len, snapshot_fields, out, sizeof *out);
}

void wire_snapshot_deinit(wire_snapshot *s)
{
	if (s != NULL)
		wj_release(s, sizeof *s, s->owned_);
}
