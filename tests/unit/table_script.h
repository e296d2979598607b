/*
 * table_script.h - the script helpers of the scripted lock-table tests
 * (test_table.c, test_table_shapes.c): a table with a clock the script
 * moves, request steps, and expect(), which takes the batch, compares its
 * effects line by line with the expected ones, advances, and runs
 * table_check(). Header-only.
 */
#ifndef BATON_TABLE_SCRIPT_H
#define BATON_TABLE_SCRIPT_H

#include "table_harness.h"

#define T0 1000000

typedef struct h {
	table *t;
	int64_t now;
} h;

static int setup(void **state)
{
	h *x = calloc(1, sizeof *x);
	table_config cfg;
	table_config_default(&cfg);
	x->t = table_new(&cfg);
	x->now = T0;
	*state = x;
	return x->t == NULL;
}

static int teardown(void **state)
{
	h *x = *state;
	table_free(x->t);
	free(x);
	return 0;
}

/* Takes the batch, compares it line by line with the NULL-terminated list,
 * prints both on a mismatch, then advances. */
static inline void expect(h *x, ...)
{
	table_ready rd;
	table_ready_get(x->t, &rd);
	char got[64][1024];
	size_t n = rd.n_effects < 64 ? rd.n_effects : 64;
	for (size_t i = 0; i < n; i++)
		h_render(got[i], sizeof got[i], &rd.effects[i]);
	va_list ap;
	va_start(ap, x);
	int bad = 0;
	size_t i = 0;
	for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++)
		if (i >= n || strcmp(got[i], want) != 0) {
			print_error("effect %zu: want \"%s\"\n           got  \"%s\"\n", i, want,
			            i < n ? got[i] : "(none)");
			bad = 1;
		}
	va_end(ap);
	if (i != n) {
		for (size_t j = i; j < n; j++)
			print_error("extra effect %zu: \"%s\"\n", j, got[j]);
		bad = 1;
	}
	table_advance(x->t);
	assert_false(bad);
	char why[256];
	if (table_check(x->t, why, sizeof why) != BATON_OK)
		fail_msg("table_check: %s", why);
}

/* Takes the batch's id changes (without advancing) and compares them, one
 * line each, with the NULL-terminated list. */
static inline void expect_ids(h *x, ...)
{
	table_ready rd;
	table_ready_get(x->t, &rd);
	va_list ap;
	va_start(ap, x);
	int bad = 0;
	size_t i = 0;
	for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
		char got[512] = "(none)";
		if (i < rd.n_ids) {
			const table_id_change *c = &rd.ids[i];
			const table_id_record *r = &c->rec;
			if (c->kind == TABLE_ID_DEL_NODE) {
				snprintf(got, sizeof got, "del_node %s", r->node);
			} else if (c->kind == TABLE_ID_DEL) {
				snprintf(got, sizeof got, "del %s %s", r->node, r->id);
			} else {
				snprintf(got, sizeof got, "put %s %s %s %s", r->node, r->id, r->resource,
				         h_status(r->status));
				if (r->token)
					h_cat(got, sizeof got, " t=%llu", (unsigned long long)r->token);
				if (r->lease_ms)
					h_cat(got, sizeof got, " l=%u", r->lease_ms);
				if (r->reason)
					h_cat(got, sizeof got, " %s", h_reason(r->reason));
				if (r->code)
					h_cat(got, sizeof got, " %s", baton_err_code(r->code));
				if (r->holder)
					h_cat(got, sizeof got, " holder=%s", r->holder);
				h_done(got, sizeof got, "by", &r->done);
				h_cat(got, sizeof got, " #%llu", (unsigned long long)r->seq);
			}
		}
		if (strcmp(got, want) != 0) {
			print_error("id change %zu: want \"%s\"\n              got  \"%s\"\n", i, want, got);
			bad = 1;
		}
	}
	va_end(ap);
	for (size_t j = i; j < rd.n_ids; j++) {
		print_error("extra id change %zu (kind %d)\n", j, (int)rd.ids[j].kind);
		bad = 1;
	}
	assert_false(bad);
}

static inline void step(h *x, const char *node, const wire_request *r)
{
	assert_int_equal(table_step_request(x->t, x->now, node, r), BATON_OK);
}

static inline void acq_full(h *x, const char *node, const char *id, const char *res, wire_mode mode,
                            int64_t wait, uint32_t lease)
{
	wire_request r = h_req(WIRE_OP_ACQUIRE, id, res);
	r.mode = mode;
	r.has_wait = wait >= 0;
	r.wait_ms = wait >= 0 ? (uint64_t)wait : 0;
	r.has_lease = lease != 0;
	r.lease_ms = lease;
	step(x, node, &r);
}

static inline void acq(h *x, const char *node, const char *id, const char *res)
{
	acq_full(x, node, id, res, WIRE_MODE_ONCE, -1, 0);
}

static inline void acqm(h *x, const char *node, const char *id, const char *res)
{
	acq_full(x, node, id, res, WIRE_MODE_MUTEX, -1, 0);
}

static inline void rel(h *x, const char *node, const char *id, const char *res, uint64_t token, bool ok,
                       const char *err, const char *result)
{
	wire_request r = h_req(WIRE_OP_RELEASE, id, res);
	r.token = token;
	r.success = ok;
	r.error = err;
	r.result = result;
	step(x, node, &r);
}

static inline void simple(h *x, wire_op op, const char *node, const char *id, const char *res, uint64_t token)
{
	wire_request r = h_req(op, id, res);
	r.token = token;
	step(x, node, &r);
}

static inline void tick(h *x, int64_t ms)
{
	x->now += ms;
	assert_int_equal(table_tick(x->t, x->now), BATON_OK);
}

static inline void offline(h *x, const char *node)
{
	assert_int_equal(table_step_presence(x->t, x->now, node, false), BATON_OK);
}

#endif
