/*
 * fuzz_coordinator.c - libFuzzer target for the coordinator's whole request
 * path: wire decode -> lock table (step, tick, ready) -> wire encode of
 * every effect, as daemon.c runs it, without the broker and the store.
 *
 * An input is a script of lines (issue 7):
 *   R<d> <payload>   a request from node n<d> (d a digit; the rest of the
 *                    line, which may be anything, is the payload)
 *   O<d> / N<d>      node n<d> goes offline (its Will) / comes online
 *   T<ms>            time passes (at most 10 minutes per line)
 *   G<ms>            the coordinator was away that long (at most 10 minutes):
 *                    time passes and every lease is extended by it
 *   F<n>             a token floor n (up to 9 digits) learnt from the broker
 * Each line is followed by table_tick and one batch: table_ready_get, every
 * effect encoded with the wire encoders (answers decoded again), then
 * table_advance, as the daemon does after its commit.
 *
 * Owns the properties that no input crashes, leaks or trips a sanitizer,
 * that every effect encodes and every encoded answer decodes, that every
 * topic an effect is published on passes the broker's own checks
 * (libmosquitto: what mosquitto would refuse drops our connection), that a granted
 * or snapshot token is always below the token counter, that the counter
 * never goes back, and that table_check() finds every invariant of the
 * table (holdings that fit together, FIFO heads that do not fit, the
 * streak and its caps, every index and counter) after every batch. Never
 * writes files and keeps no state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "names.h"
#include "table.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1795000000000LL /* a wall-clock start, ms */

/* The topic e is published on must be one mosquitto accepts. */
static void check_topic(const table_effect *e)
{
	char topic[NAMES_TOPIC_MAX + 1];
	size_t len = 0;
	bool answer = e->kind == TABLE_FX_ANSWER;
	names_kind kind = answer ? NAMES_GRANT : e->kind == TABLE_FX_OUTCOME ? NAMES_OUTCOME : NAMES_STATE;

	if (names_topic(topic, sizeof topic, "baton/v1", kind, answer ? e->node : e->resource, &len) !=
	    BATON_OK)
		abort();
	if (mosquitto_validate_utf8(topic, (int)len) != MOSQ_ERR_SUCCESS ||
	    mosquitto_pub_topic_check2(topic, len) != MOSQ_ERR_SUCCESS)
		abort();
}

static void check_effect(const table_effect *e, uint64_t next_token)
{
	check_topic(e);
	char *text = NULL;
	size_t len = 0;
	baton_err rc = BATON_OK;

	switch (e->kind) {
	case TABLE_FX_ANSWER: {
		wire_answer again;

		if (e->node == NULL || !names_node_valid(e->node, strlen(e->node)))
			abort();
		if ((e->u.answer.status == WIRE_ST_GRANTED || e->u.answer.status == WIRE_ST_RENEWED) &&
		    (e->u.answer.token == 0 || e->u.answer.token >= next_token))
			abort();
		rc = wire_answer_encode(&e->u.answer, &text, &len);
		if (rc != BATON_OK || wire_answer_decode(text, len, &again) != BATON_OK)
			abort();
		if (again.status != e->u.answer.status)
			abort();
		/* Only these carry the token on the wire (PROTOCOL.md, Answers). */
		if ((again.status == WIRE_ST_GRANTED || again.status == WIRE_ST_RENEWED ||
		     again.status == WIRE_ST_RELEASED || again.status == WIRE_ST_REVOKED) &&
		    again.token != e->u.answer.token)
			abort();
		wire_answer_deinit(&again);
		break;
	}
	case TABLE_FX_OUTCOME:
		if (e->u.outcome.token == 0 || e->u.outcome.token >= next_token)
			abort();
		rc = wire_outcome_encode(&e->u.outcome, &text, &len);
		break;
	case TABLE_FX_SNAPSHOT:
		if (e->u.snapshot.holder != NULL &&
		    (e->u.snapshot.token == 0 || e->u.snapshot.token >= next_token))
			abort();
		rc = wire_snapshot_encode(&e->u.snapshot, &text, &len);
		break;
	case TABLE_FX_CLEAR:
		if (e->resource == NULL)
			abort();
		break;
	default:
		abort();
	}
	if (rc != BATON_OK)
		abort(); /* whatever the table emits must encode */
	free(text);
}

/* Whatever is still held (a waiter granted by the last tick) carries a token
 * below the counter. */
static void all_ended(void *ctx, const table_resource_view *v)
{
	uint64_t next = *(const uint64_t *)ctx;

	if (v->holder != NULL && (v->token == 0 || v->token >= next))
		abort();
}

static void flush(table *t, uint64_t *last_next)
{
	table_ready r;

	table_ready_get(t, &r);
	if (r.next_token < *last_next)
		abort(); /* the counter never goes back */
	*last_next = r.next_token;
	for (size_t i = 0; i < r.n_effects; i++)
		check_effect(&r.effects[i], r.next_token);
	table_advance(t);
}

static void request(table *t, int64_t now, const char *node, const char *p, size_t n)
{
	wire_request req;
	wire_diag diag;
	baton_err rc = wire_request_decode(p, n, &req, &diag);

	if (rc == BATON_OK) {
		if (table_step_request(t, now, node, &req) != BATON_OK)
			abort(); /* memory never runs out here */
		wire_request_deinit(&req);
	} else if (rc != BATON_E_NOMEM) {
		if (table_step_invalid(t, now, node, rc, &diag) != BATON_OK)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	table_config cfg;
	table *t;
	int64_t now = T0;
	uint64_t last_next = 0;
	const char *p = (const char *)data, *end = p + size;

	table_config_default(&cfg);
	cfg.id_memory = 4; /* small, so eviction paths run */
	t = table_new(&cfg);
	if (t == NULL)
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t n = (size_t)(le - p);
		char node[3] = {'n', '0', '\0'};

		if (n >= 2 && p[1] >= '0' && p[1] <= '9')
			node[1] = p[1];
		if (n >= 2 && p[0] == 'R') {
			const char *body = p + 2 + (n > 2 && p[2] == ' ');
			request(t, now, node, body, (size_t)(le - body));
		} else if (n >= 2 && (p[0] == 'O' || p[0] == 'N')) {
			if (table_step_presence(t, now, node, p[0] == 'N') != BATON_OK)
				abort();
		} else if (n >= 1 && p[0] == 'T') {
			int64_t ms = 0;
			for (size_t i = 1; i < n && i < 10 && p[i] >= '0' && p[i] <= '9'; i++)
				ms = ms * 10 + (p[i] - '0');
			now += ms > 600000 ? 600000 : ms;
		} else if (n >= 1 && p[0] == 'G') {
			int64_t ms = 0;
			for (size_t i = 1; i < n && i < 10 && p[i] >= '0' && p[i] <= '9'; i++)
				ms = ms * 10 + (p[i] - '0');
			ms = ms > 600000 ? 600000 : ms;
			now += ms;
			if (table_extend_leases(t, now, ms) != BATON_OK)
				abort();
		} else if (n >= 1 && p[0] == 'F') {
			uint64_t floor = 0;
			for (size_t i = 1; i < n && i < 10 && p[i] >= '0' && p[i] <= '9'; i++)
				floor = floor * 10 + (uint64_t)(p[i] - '0');
			(void)table_raise_next_token(t, floor);
		}
		if (table_tick(t, now) != BATON_OK)
			abort();
		flush(t, &last_next);
		if (table_check(t, NULL, 0) != BATON_OK)
			abort();
		p = nl ? nl + 1 : end;
	}
	/* Far in the future every lease and memory runs out: all of it encodes. */
	now += 400LL * 24 * 3600 * 1000;
	if (table_tick(t, now) != BATON_OK)
		abort();
	flush(t, &last_next);
	last_next = table_next_token(t);
	table_foreach(t, all_ended, &last_next);
	table_free(t);
	return 0;
}
