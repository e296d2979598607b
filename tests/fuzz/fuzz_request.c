/*
 * fuzz_request.c - libFuzzer target for the request decoder (wire.h).
 *
 * Owns: the property that no input crashes, leaks or trips a sanitizer, and
 * that whatever decodes re-encodes to a text that decodes to an equal
 * request. The other decoders get the same bytes, for crashes only. Must
 * never write files or keep state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int request_equal(const wire_request *a, const wire_request *b)
{
	return a->op == b->op && str_eq(a->id, b->id) && str_eq(a->resource, b->resource) &&
	       a->mode == b->mode && a->has_lease == b->has_lease && a->lease_ms == b->lease_ms &&
	       a->has_wait == b->has_wait && a->wait_ms == b->wait_ms && str_eq(a->meta, b->meta) &&
	       a->token == b->token && a->success == b->success && str_eq(a->error, b->error) &&
	       str_eq(a->result, b->result) && a->has_remember == b->has_remember &&
	       a->remember_ms == b->remember_ms;
}

static void round_trip(const wire_request *req)
{
	char *text = NULL;
	size_t len = 0;
	wire_request again;
	wire_diag diag;

	if (wire_request_encode(req, &text, &len) != BATON_OK)
		abort(); /* whatever decodes must encode */
	if (wire_request_decode(text, len, &again, &diag) != BATON_OK)
		abort();
	if (!request_equal(req, &again))
		abort();
	wire_request_deinit(&again);
	free(text);
}

static void other_decoders(const char *p, size_t n)
{
	wire_answer a;
	wire_outcome o;
	wire_snapshot s;
	wire_presence pr;

	baton_err err = wire_answer_decode(p, n, &a);
	if (err == BATON_OK) {
		char *text = NULL;
		if (wire_answer_encode(&a, &text, NULL) == BATON_OK)
			free(text);
	}
	wire_answer_deinit(&a);
	if (err == BATON_E_NOMEM || wire_outcome_decode(p, n, &o) == BATON_E_NOMEM)
		abort();
	wire_outcome_deinit(&o);
	if (wire_snapshot_decode(p, n, &s) == BATON_E_NOMEM)
		abort();
	wire_snapshot_deinit(&s);
	if (wire_presence_decode(p, n, &pr) == BATON_E_NOMEM)
		abort();
	wire_presence_deinit(&pr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	wire_request req;
	wire_diag diag;
	baton_err err = wire_request_decode(p, size, &req, &diag);

	if (err == BATON_OK) {
		round_trip(&req);
	} else {
		/* A rejection always has a code for the wire and names a field.
		 * Memory never runs out here, so BATON_E_NOMEM would mean the
		 * validator accepted a text cJSON refuses: a bug. */
		if (baton_err_code(err) == NULL)
			abort();
		if (diag.message[0] == '\0' || memchr(diag.message, '\0', sizeof diag.message) == NULL)
			abort();
	}
	wire_request_deinit(&req);
	other_decoders(p, size);
	return 0;
}
