/*
 * wire.c - the JSON codec of every Baton message (PROTOCOL.md v1).
 *
 * Owns: the field names, the validation rules and the byte layout of every
 * message. Must never do I/O, log, or let cJSON escape: callers see plain
 * structs. A decode is: wj_validate (strict grammar, decides bad_json),
 * cJSON_ParseWithLength (builds the tree; after validation it fails only for
 * memory), one pass over the fields, then one malloc for all the strings of
 * the result. An encode is the writer in wire_json.c run twice (count, then
 * write) into one exact-size malloc. Every allocation goes through cJSON's
 * hooks, so a test can make any of them fail.
 *
 * Decisions the contract leaves open (also listed at wire_request_decode in
 * wire.h):
 *   - A request whose "v" is missing or not a number is bad_request (it is a
 *     missing or mistyped field); a number other than 1 is
 *     unsupported_version.
 *   - Numbers are read as IEEE doubles, as JSON Schema's "integer" reads
 *     them: 1000, 1000.0 and 1e3 are the same integer. Above 2^53 - 1 they
 *     are rejected, since they can no longer be told apart.
 *   - null for an optional field is a mistyped field, not "absent".
 *   - A field repeated in one object is bad_request (which copy wins is not
 *     portable across JSON parsers); repeated unknown fields are ignored.
 *   - Fields of other ops (a "token" in an acquire) are ignored like unknown
 *     fields, but a \u0000 escape anywhere is rejected.
 */
#include "wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "wire_json.h"

static const char *const op_names[] = {NULL, "acquire", "renew", "release", "cancel", "reset"};
static const char *const mode_names[] = {"once", "mutex", "shared"};
static const char *const status_names[] = {NULL,    "granted", "queued",   "done",
                                           "busy",  "renewed", "released", "cancelled",
                                           "reset", "revoked", "rejected", "failed"};
static const char *const reason_names[] = {NULL, "released", "lease_expired", "node_offline"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *wire_op_name(wire_op op)
{
	return (size_t)op < COUNT(op_names) ? op_names[op] : NULL;
}

const char *wire_mode_name(wire_mode mode)
{
	return (size_t)mode < COUNT(mode_names) ? mode_names[mode] : NULL;
}

const char *wire_status_name(wire_status st)
{
	return (size_t)st < COUNT(status_names) ? status_names[st] : NULL;
}

const char *wire_reason_name(wire_reason r)
{
	return (size_t)r < COUNT(reason_names) ? reason_names[r] : NULL;
}

int wire_op_from_name(const char *name)
{
	return wj_lookup(op_names, COUNT(op_names), name);
}

int wire_mode_from_name(const char *name)
{
	return wj_lookup(mode_names, COUNT(mode_names), name);
}

int wire_status_from_name(const char *name)
{
	return wj_lookup(status_names, COUNT(status_names), name);
}

int wire_reason_from_name(const char *name)
{
	return wj_lookup(reason_names, COUNT(reason_names), name);
}

/* ---- time ------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* Clamps ms into the years 0000..9999 so the text always has 24 bytes. */
void wire_time_format(int64_t ms, char *buf, size_t cap)
{
	int64_t y, mo, d, days, rem;

	if (buf == NULL || cap == 0)
		return;
	if (ms < WJ_TIME_MIN_MS)
		ms = WJ_TIME_MIN_MS;
	if (ms > WJ_TIME_MAX_MS)
		ms = WJ_TIME_MAX_MS;
	days = ms / 86400000;
	rem = ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	civil_from_days(days, &y, &mo, &d);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)mo, (int)d,
	         (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
}

/* Reads n digits at s; -1 if any is not a digit. */
static int64_t digits(const char *s, int n)
{
	int64_t v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

baton_err wire_time_parse(const char *s, int64_t *ms)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t len;
	int64_t y, mo, d, h, mi, sec, milli = 0;

	if (s == NULL || ms == NULL)
		return BATON_E_INVAL;
	len = strlen(s);
	if (len != 20 && len != 24)
		return BATON_E_INVAL;
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len - 1] != 'Z')
		return BATON_E_INVAL;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (len == 24 && (s[19] != '.' || (milli = digits(s + 20, 3)) < 0))
		return BATON_E_INVAL;
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || sec < 0 || sec > 59)
		return BATON_E_INVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return BATON_E_INVAL;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000 + milli;
	return BATON_OK;
}

/* ---- requests: decoding ------------------------------------------------------ */

/* The fields a request may carry, in the order their checks run. */
enum req_field {
	F_V,
	F_OP,
	F_ID,
	F_RESOURCE,
	F_MODE,
	F_LEASE,
	F_WAIT,
	F_META,
	F_TOKEN,
	F_SUCCESS,
	F_ERROR,
	F_RESULT,
	F_REMEMBER,
	F_PERMITS,
	F_MAX_FAILURES,
	F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "v",     "op",      "id",    "resource", "mode",        "lease_ms", "wait_ms",     "meta",
    "token", "success", "error", "result",   "remember_ms", "permits",  "max_failures"};

#define BIT(f)      (1u << (f))
#define HEAD_FIELDS (BIT(F_V) | BIT(F_OP) | BIT(F_ID) | BIT(F_RESOURCE))

/* The fields each op reads; the others are ignored like unknown fields. */
static unsigned op_fields(wire_op op)
{
	switch (op) {
	case WIRE_OP_ACQUIRE:
		return HEAD_FIELDS | BIT(F_MODE) | BIT(F_LEASE) | BIT(F_WAIT) | BIT(F_META) | BIT(F_PERMITS) |
		       BIT(F_MAX_FAILURES);
	case WIRE_OP_RENEW:
		return HEAD_FIELDS | BIT(F_TOKEN);
	case WIRE_OP_RELEASE:
		return HEAD_FIELDS | BIT(F_TOKEN) | BIT(F_SUCCESS) | BIT(F_ERROR) | BIT(F_RESULT) |
		       BIT(F_REMEMBER);
	case WIRE_OP_CANCEL:
	case WIRE_OP_RESET:
		return HEAD_FIELDS;
	}
	return HEAD_FIELDS;
}

/* One pass over the members of the request object. */
typedef struct req_fields {
	const cJSON *item[F_COUNT]; /* first occurrence, NULL: absent */
	bool dup[F_COUNT];          /* occurs more than once */
	bool nul[F_COUNT];          /* its key or value holds \u0000 */
	bool unknown_nul;           /* an unknown member holds \u0000 */
	const char *unknown_key;    /* the first such member's key, as cJSON read it */
} req_fields;

/* Writes the message naming the offending field and returns code. */
__attribute__((format(printf, 3, 4))) static baton_err fail(wire_diag *d, baton_err code, const char *fmt,
                                                            ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->message, sizeof d->message, fmt, ap);
	va_end(ap);
	return code;
}

static void req_collect(const cJSON *root, const char *payload, size_t len, bool nul_escape, req_fields *f)
{
	wj_members m;

	memset(f, 0, sizeof *f);
	if (nul_escape)
		wj_members_init(&m, payload, len);
	for (const cJSON *it = root->child; it != NULL; it = it->next) {
		/* cJSON keeps members in text order, duplicates included, so the
		 * walk over the raw text stays in step with the children. */
		bool nul = nul_escape && wj_members_next_has_nul(&m);
		int i = wj_lookup(field_names, F_COUNT, it->string);
		if (i < 0) {
			if (nul && !f->unknown_nul) {
				f->unknown_nul = true;
				f->unknown_key = it->string;
			}
			continue;
		}
		if (f->item[i] != NULL)
			f->dup[i] = true;
		else
			f->item[i] = it;
		f->nul[i] = f->nul[i] || nul;
	}
}

/* Copies the id and the resource into *d whenever they are valid, whatever
 * else is wrong, so that a rejection can name them. */
static void diag_prefill(const req_fields *f, wire_diag *d)
{
	const cJSON *id = f->item[F_ID], *res = f->item[F_RESOURCE];

	if (id != NULL && !f->dup[F_ID] && !f->nul[F_ID] && cJSON_IsString(id) && wj_id_ok(id->valuestring)) {
		d->has_id = true;
		memcpy(d->id, id->valuestring, strlen(id->valuestring) + 1);
	}
	if (res != NULL && !f->dup[F_RESOURCE] && !f->nul[F_RESOURCE] && cJSON_IsString(res) &&
	    wj_resource_ok(res->valuestring)) {
		d->has_resource = true;
		memcpy(d->resource, res->valuestring, strlen(res->valuestring) + 1);
	}
}

/* The checks every field shares: present (when required), once, no \u0000. */
static baton_err field_item(const req_fields *f, enum req_field i, bool required, const cJSON **item,
                            wire_diag *d)
{
	*item = f->item[i];
	if (*item == NULL)
		return required ? fail(d, BATON_E_BAD_REQUEST, "%s: missing", field_names[i]) : BATON_OK;
	if (f->dup[i])
		return fail(d, BATON_E_BAD_REQUEST, "%s: appears more than once", field_names[i]);
	if (f->nul[i])
		return fail(d, BATON_E_BAD_REQUEST, "%s: must not contain \\u0000", field_names[i]);
	return BATON_OK;
}

static baton_err str_field(const req_fields *f, enum req_field i, bool required, size_t max, const char **out,
                           wire_diag *d)
{
	const cJSON *it;
	baton_err err = field_item(f, i, required, &it, d);

	if (err != BATON_OK || it == NULL)
		return err;
	if (!cJSON_IsString(it) || strlen(it->valuestring) > max)
		return fail(d, BATON_E_BAD_REQUEST, "%s: must be a string of at most %zu bytes",
		            field_names[i], max);
	*out = it->valuestring;
	return BATON_OK;
}

static baton_err uint_field(const req_fields *f, enum req_field i, bool required, uint64_t min, uint64_t max,
                            bool *has, uint64_t *out, wire_diag *d)
{
	const cJSON *it;
	baton_err err = field_item(f, i, required, &it, d);

	if (err != BATON_OK || it == NULL)
		return err;
	if (!wj_int_in(it, min, max, out))
		return fail(d, BATON_E_BAD_REQUEST, "%s: must be an integer from %llu to %llu",
		            field_names[i], (unsigned long long)min, (unsigned long long)max);
	if (has != NULL)
		*has = true;
	return BATON_OK;
}

/* v, op, id and resource, in that order (PROTOCOL.md has no order; this one
 * makes the code of a request with several faults predictable). */
static baton_err req_head(const req_fields *f, wire_request *r, wire_diag *d)
{
	const cJSON *it;
	baton_err err;
	int op;

	/* A missing or mistyped "v" is a missing or mistyped field (bad_request);
	 * only a number other than 1 is a version we do not speak. */
	if ((err = field_item(f, F_V, true, &it, d)) != BATON_OK)
		return err;
	if (!cJSON_IsNumber(it))
		return fail(d, BATON_E_BAD_REQUEST, "v: must be the number 1");
	if (!(it->valuedouble >= 1 && it->valuedouble <= 1))
		return fail(d, BATON_E_UNSUPPORTED_VERSION,
		            "v: unsupported version, this coordinator speaks 1");
	if ((err = field_item(f, F_OP, true, &it, d)) != BATON_OK)
		return err;
	if (!cJSON_IsString(it))
		return fail(d, BATON_E_BAD_REQUEST, "op: must be a string");
	if ((op = wire_op_from_name(it->valuestring)) < 0)
		return fail(d, BATON_E_UNKNOWN_OP,
		            "op: unknown op, expected acquire, renew, release, cancel or reset");
	r->op = (wire_op)op;
	if ((err = str_field(f, F_ID, true, NAMES_ID_MAX, &r->id, d)) != BATON_OK)
		return err;
	if (!wj_id_ok(r->id))
		return fail(d, BATON_E_BAD_REQUEST, "id: must be 1 to 64 characters of [A-Za-z0-9._:-]");
	if ((err = str_field(f, F_RESOURCE, true, NAMES_RESOURCE_MAX, &r->resource, d)) != BATON_OK)
		return err;
	if (!wj_resource_ok(r->resource)) {
		uint32_t nc = names_noncharacter_find(r->resource, strlen(r->resource));
		if (nc != 0)
			return fail(d, BATON_E_BAD_REQUEST,
			            "resource: contains the Unicode noncharacter U+%04X; noncharacters "
			            "(U+FDD0-FDEF, U+xFFFE, U+xFFFF) are refused in MQTT topics",
			            (unsigned)nc);
		return fail(d, BATON_E_BAD_REQUEST,
		            "resource: must be 1 to 200 bytes of UTF-8 without control characters, "
		            "noncharacters, '+' or '#', a leading '$' or '/', a trailing '/' or an empty "
		            "level");
	}
	return BATON_OK;
}

/* permits and max_failures (second edition), checked against the mode. */
static baton_err req_shape(const req_fields *f, wire_request *r, wire_diag *d)
{
	baton_err err;
	bool has = false;
	uint64_t v = 0;

	if ((err = uint_field(f, F_PERMITS, false, 1, WIRE_PERMITS_MAX, &has, &v, d)) != BATON_OK)
		return err;
	if (has && v != 1 && r->mode != WIRE_MODE_MUTEX)
		return fail(d, BATON_E_BAD_REQUEST, "permits: above 1 only with mode \"mutex\"");
	r->permits = has ? (uint32_t)v : 0;
	has = false;
	if ((err = uint_field(f, F_MAX_FAILURES, false, 1, WIRE_FAILURES_MAX, &has, &v, d)) != BATON_OK)
		return err;
	if (has && r->mode != WIRE_MODE_ONCE)
		return fail(d, BATON_E_BAD_REQUEST, "max_failures: only with mode \"once\"");
	r->max_failures = has ? (uint32_t)v : 0;
	return BATON_OK;
}

static baton_err req_acquire(const req_fields *f, wire_request *r, wire_diag *d)
{
	const cJSON *it;
	baton_err err;
	uint64_t lease = 0;
	int mode;

	if ((err = field_item(f, F_MODE, false, &it, d)) != BATON_OK)
		return err;
	if (it != NULL) {
		if (!cJSON_IsString(it) || (mode = wire_mode_from_name(it->valuestring)) < 0)
			return fail(d, BATON_E_BAD_REQUEST,
			            "mode: must be \"once\", \"mutex\" or \"shared\"");
		r->mode = (wire_mode)mode;
	}
	if ((err = req_shape(f, r, d)) != BATON_OK)
		return err;
	if ((err = uint_field(f, F_LEASE, false, WIRE_LEASE_MIN, WIRE_LEASE_MAX, &r->has_lease, &lease, d)) !=
	    BATON_OK)
		return err;
	r->lease_ms = (uint32_t)lease;
	if ((err = uint_field(f, F_WAIT, false, 0, WIRE_INT_MAX, &r->has_wait, &r->wait_ms, d)) != BATON_OK)
		return err;
	return str_field(f, F_META, false, WIRE_META_MAX, &r->meta, d);
}

static baton_err req_release(const req_fields *f, wire_request *r, wire_diag *d)
{
	const cJSON *it;
	baton_err err;

	if ((err = field_item(f, F_SUCCESS, true, &it, d)) != BATON_OK)
		return err;
	if (!cJSON_IsBool(it))
		return fail(d, BATON_E_BAD_REQUEST, "success: must be true or false");
	r->success = cJSON_IsTrue(it);
	if ((err = str_field(f, F_ERROR, false, WIRE_ERROR_MAX, &r->error, d)) != BATON_OK)
		return err;
	if ((err = str_field(f, F_RESULT, false, WIRE_RESULT_MAX, &r->result, d)) != BATON_OK)
		return err;
	return uint_field(f, F_REMEMBER, false, 0, WIRE_INT_MAX, &r->has_remember, &r->remember_ms, d);
}

/* A \u0000 anywhere is rejected, also in fields this op ignores. */
static baton_err req_rest(const req_fields *f, wire_op op, wire_diag *d)
{
	unsigned used = op_fields(op);

	for (int i = 0; i < F_COUNT; i++)
		if (!(used & BIT(i)) && f->nul[i])
			return fail(d, BATON_E_BAD_REQUEST, "%s: must not contain \\u0000", field_names[i]);
	if (f->unknown_nul) {
		/* Echo the key only when it is short, plain ASCII. */
		const char *k = f->unknown_key;
		bool plain = k != NULL && k[0] != '\0' && strlen(k) <= 32;
		for (size_t i = 0; plain && k[i] != '\0'; i++)
			plain = k[i] > 0x20 && k[i] < 0x7F && k[i] != '"' && k[i] != '\\';
		return fail(d, BATON_E_BAD_REQUEST, "%s%s%s: must not contain \\u0000",
		            plain ? "field \"" : "an unknown field", plain ? k : "", plain ? "\"" : "");
	}
	return BATON_OK;
}

/* Moves the strings of r from the cJSON tree into one block r owns. */
static baton_err req_own(wire_request *r)
{
	wj_block b = {NULL, 0};
	const char **strs[] = {&r->id, &r->resource, &r->meta, &r->error, &r->result};

	for (size_t i = 0; i < COUNT(strs); i++)
		wj_block_take(&b, strs[i]);
	b.block = cJSON_malloc(b.used);
	if (b.block == NULL)
		return BATON_E_NOMEM;
	b.used = 0;
	for (size_t i = 0; i < COUNT(strs); i++)
		wj_block_take(&b, strs[i]);
	r->owned_ = b.block;
	return BATON_OK;
}

static baton_err req_fields_check(const req_fields *f, wire_request *r, wire_diag *d)
{
	baton_err err;

	if ((err = req_head(f, r, d)) != BATON_OK)
		return err;
	switch (r->op) {
	case WIRE_OP_ACQUIRE:
		err = req_acquire(f, r, d);
		break;
	case WIRE_OP_RENEW:
	case WIRE_OP_RELEASE:
		err = uint_field(f, F_TOKEN, true, 1, WIRE_INT_MAX, NULL, &r->token, d);
		if (err == BATON_OK && r->op == WIRE_OP_RELEASE)
			err = req_release(f, r, d);
		break;
	case WIRE_OP_CANCEL:
	case WIRE_OP_RESET:
		break;
	}
	if (err != BATON_OK)
		return err;
	return req_rest(f, r->op, d);
}

baton_err wire_request_decode(const char *payload, size_t len, wire_request *out, wire_diag *diag)
{
	wire_diag scratch;
	wire_diag *d = diag != NULL ? diag : &scratch;
	wire_request r = {.mode = WIRE_MODE_ONCE};
	cJSON *root = NULL;
	req_fields f;
	wj_check c;
	baton_err err;

	memset(d, 0, sizeof *d);
	if (out == NULL)
		return fail(d, BATON_E_INVAL, "out: must not be NULL");
	memset(out, 0, sizeof *out);
	if (len > WIRE_PAYLOAD_MAX) {
		err = fail(d, BATON_E_TOO_LARGE, "payload: %zu bytes, over the limit of %d bytes", len,
		           WIRE_PAYLOAD_MAX);
		goto out;
	}
	if (!wj_validate(payload, len, &c)) {
		err = fail(d, BATON_E_BAD_JSON, "payload: not valid JSON: %s at byte %zu", c.error, c.err_at);
		goto out;
	}
	root = cJSON_ParseWithLength(payload, len);
	if (root == NULL) {
		/* The grammar was checked, so only memory can have failed. */
		err = fail(d, BATON_E_NOMEM, "payload: out of memory");
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		err = fail(d, BATON_E_BAD_JSON, "payload: must be a JSON object");
		goto out;
	}
	req_collect(root, payload, len, c.nul_escape, &f);
	diag_prefill(&f, d);
	if ((err = req_fields_check(&f, &r, d)) != BATON_OK)
		goto out;
	if ((err = req_own(&r)) != BATON_OK) {
		fail(d, err, "payload: out of memory");
		goto out;
	}
	*out = r;
out:
	cJSON_Delete(root);
	return err;
}

void wire_request_deinit(wire_request *req)
{
	if (req == NULL)
		return;
	if (req->owned_ != NULL)
		cJSON_free(req->owned_);
	memset(req, 0, sizeof *req);
}

/* ---- requests: encoding ------------------------------------------------------ */

static bool request_ok(const wire_request *r)
{
	if (wire_op_name(r->op) == NULL || !wj_id_ok(r->id) || !wj_resource_ok(r->resource))
		return false;
	switch (r->op) {
	case WIRE_OP_ACQUIRE:
		if (wire_mode_name(r->mode) == NULL || r->permits > WIRE_PERMITS_MAX ||
		    (r->permits > 1 && r->mode != WIRE_MODE_MUTEX) || r->max_failures > WIRE_FAILURES_MAX ||
		    (r->max_failures != 0 && r->mode != WIRE_MODE_ONCE))
			return false;
		if (r->has_lease && (r->lease_ms < WIRE_LEASE_MIN || r->lease_ms > WIRE_LEASE_MAX))
			return false;
		if (r->has_wait && r->wait_ms > WIRE_INT_MAX)
			return false;
		return r->meta == NULL || wj_text_ok(r->meta, WIRE_META_MAX);
	case WIRE_OP_RENEW:
		return wj_token_ok(r->token);
	case WIRE_OP_RELEASE:
		if (!wj_token_ok(r->token) || (r->has_remember && r->remember_ms > WIRE_INT_MAX))
			return false;
		return (r->error == NULL || wj_text_ok(r->error, WIRE_ERROR_MAX)) &&
		       (r->result == NULL || wj_text_ok(r->result, WIRE_RESULT_MAX));
	case WIRE_OP_CANCEL:
	case WIRE_OP_RESET:
		return true;
	}
	return false;
}

static void opt_str(wj_writer *w, const char *key, const char *s)
{
	if (s == NULL)
		return;
	wj_key(w, key);
	wj_str(w, s);
}

static void emit_request(wj_writer *w, const void *msg)
{
	const wire_request *r = msg;

	wj_open(w);
	wj_key(w, "v");
	wj_u64(w, WIRE_VERSION);
	wj_key(w, "op");
	wj_str(w, wire_op_name(r->op));
	wj_key(w, "id");
	wj_str(w, r->id);
	wj_key(w, "resource");
	wj_str(w, r->resource);
	if (r->op == WIRE_OP_ACQUIRE) {
		wj_key(w, "mode");
		wj_str(w, wire_mode_name(r->mode));
		if (r->has_lease) {
			wj_key(w, "lease_ms");
			wj_u64(w, r->lease_ms);
		}
		if (r->has_wait) {
			wj_key(w, "wait_ms");
			wj_u64(w, r->wait_ms);
		}
		opt_str(w, "meta", r->meta);
		if (r->permits > 1) {
			wj_key(w, "permits");
			wj_u64(w, r->permits);
		}
		if (r->max_failures != 0) {
			wj_key(w, "max_failures");
			wj_u64(w, r->max_failures);
		}
	} else if (r->op == WIRE_OP_RENEW || r->op == WIRE_OP_RELEASE) {
		wj_key(w, "token");
		wj_u64(w, r->token);
	}
	if (r->op == WIRE_OP_RELEASE) {
		wj_key(w, "success");
		wj_bool(w, r->success);
		opt_str(w, "error", r->error);
		opt_str(w, "result", r->result);
		if (r->has_remember) {
			wj_key(w, "remember_ms");
			wj_u64(w, r->remember_ms);
		}
	}
	wj_close(w);
}

baton_err wire_request_encode(const wire_request *req, char **out, size_t *len)
{
	if (req == NULL || out == NULL || !request_ok(req))
		return BATON_E_INVAL;
	return wj_finish(emit_request, req, out, len);
}
