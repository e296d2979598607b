/*
 * wire_json.c - the strict JSON validator and the two-pass JSON writer of the
 * wire module (see wire_json.h).
 *
 * Owns: the exact JSON grammar Baton accepts, and the exact bytes it writes.
 * Must never allocate, log or do I/O. The validator is the gate in front of
 * cJSON: it decides bad_json on its own so that the only remaining reason for
 * cJSON_Parse to fail is memory, and it sees what cJSON hides (raw control
 * bytes in strings, which cJSON accepts, and \u0000 escapes, which cJSON
 * silently truncates at). Both directions are linear in the text.
 */
#include "wire_json.h"

#include <assert.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "names.h"
#include "wire.h"

typedef struct jv {
	const unsigned char *start, *p, *end;
	int depth;
	wj_check *c;
} jv;

static bool jv_fail(jv *v, const char *error)
{
	if (v->c->error == NULL) {
		v->c->error = error;
		v->c->err_at = (size_t)(v->p - v->start);
	}
	return false;
}

static void jv_ws(jv *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
		v->p++;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads "\uXXXX" at v->p (the backslash); -1 if it is not one. */
static long jv_hex4(jv *v)
{
	long code = 0;

	if (v->end - v->p < 6 || v->p[0] != '\\' || v->p[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		int d = hex_digit(v->p[i]);
		if (d < 0)
			return -1;
		code = code * 16 + d;
	}
	return code;
}

/* An escape at v->p (the backslash), with cJSON's surrogate rules. */
static bool jv_escape(jv *v)
{
	if (v->end - v->p < 2)
		return jv_fail(v, "unterminated string");
	if (strchr("\"\\/bfnrt", v->p[1]) != NULL && v->p[1] != '\0') {
		v->p += 2;
		return true;
	}
	long code = jv_hex4(v);
	if (code < 0)
		return jv_fail(v, "bad escape in a string");
	if (code == 0)
		v->c->nul_escape = true;
	if (code >= 0xDC00 && code <= 0xDFFF)
		return jv_fail(v, "lone low surrogate escape in a string");
	v->p += 6;
	if (code >= 0xD800 && code <= 0xDBFF) {
		long low = jv_hex4(v);
		if (low < 0xDC00 || low > 0xDFFF)
			return jv_fail(v, "lone high surrogate escape in a string");
		v->p += 6;
	}
	return true;
}

static bool jv_string(jv *v)
{
	v->p++; /* the opening quote */
	while (v->p < v->end) {
		unsigned char ch = *v->p;
		if (ch == '"') {
			v->p++;
			return true;
		}
		if (ch == '\\') {
			if (!jv_escape(v))
				return false;
		} else if (ch == 0) {
			return jv_fail(v, "NUL byte");
		} else if (ch < 0x20) {
			return jv_fail(v, "control character in a string");
		} else if (ch < 0x80) {
			v->p++;
		} else {
			size_t n = names_utf8_next((const char *)v->p, (size_t)(v->end - v->p));
			if (n == 0)
				return jv_fail(v, "invalid UTF-8");
			v->p += n;
		}
	}
	return jv_fail(v, "unterminated string");
}

static bool is_digit(const jv *v)
{
	return v->p < v->end && *v->p >= '0' && *v->p <= '9';
}

static bool jv_digits(jv *v)
{
	if (!is_digit(v))
		return jv_fail(v, "bad number");
	while (is_digit(v))
		v->p++;
	return true;
}

static bool jv_number(jv *v)
{
	const unsigned char *begin = v->p;

	if (*v->p == '-')
		v->p++;
	if (v->p < v->end && *v->p == '0')
		v->p++;
	else if (!jv_digits(v))
		return false;
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (!jv_digits(v))
			return false;
	}
	if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
		v->p++;
		if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
			v->p++;
		if (!jv_digits(v))
			return false;
	}
	if (v->p - begin > WJ_NUMBER_MAX) {
		v->p = begin;
		return jv_fail(v, "number too long");
	}
	return true;
}

static bool jv_literal(jv *v, const char *word, size_t n)
{
	if ((size_t)(v->end - v->p) < n || memcmp(v->p, word, n) != 0)
		return jv_fail(v, "unexpected character");
	v->p += n;
	return true;
}

static bool jv_value(jv *v);

/* An object or an array at v->p. */
static bool jv_container(jv *v)
{
	bool object = *v->p == '{';
	unsigned char close = object ? '}' : ']';

	if (++v->depth > WJ_DEPTH_MAX)
		return jv_fail(v, "nested too deeply");
	v->p++;
	jv_ws(v);
	if (v->p < v->end && *v->p == close) {
		v->p++;
		v->depth--;
		return true;
	}
	for (;;) {
		if (object) {
			if (v->p >= v->end || *v->p != '"')
				return jv_fail(v, "expected a key");
			if (!jv_string(v))
				return false;
			jv_ws(v);
			if (v->p >= v->end || *v->p != ':')
				return jv_fail(v, "expected ':'");
			v->p++;
		}
		if (!jv_value(v))
			return false;
		jv_ws(v);
		if (v->p < v->end && *v->p == ',') {
			v->p++;
			jv_ws(v);
			continue;
		}
		if (v->p < v->end && *v->p == close) {
			v->p++;
			v->depth--;
			return true;
		}
		return jv_fail(v, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static bool jv_value(jv *v)
{
	jv_ws(v);
	if (v->p >= v->end)
		return jv_fail(v, "truncated");
	switch (*v->p) {
	case '{':
	case '[':
		return jv_container(v);
	case '"':
		return jv_string(v);
	case 't':
		return jv_literal(v, "true", 4);
	case 'f':
		return jv_literal(v, "false", 5);
	case 'n':
		return jv_literal(v, "null", 4);
	case 0:
		return jv_fail(v, "NUL byte");
	default:
		if (*v->p == '-' || (*v->p >= '0' && *v->p <= '9'))
			return jv_number(v);
		if (*v->p >= 0x80 && names_utf8_next((const char *)v->p, (size_t)(v->end - v->p)) == 0)
			return jv_fail(v, "invalid UTF-8");
		return jv_fail(v, "unexpected character");
	}
}

bool wj_validate(const char *p, size_t len, wj_check *c)
{
	static const unsigned char none[1];
	/* p + len on a NULL p is undefined even for len 0: point at none. */
	const unsigned char *b = p != NULL ? (const unsigned char *)p : none;
	jv v = {b, b, p != NULL ? b + len : b, 0, c};

	c->nul_escape = false;
	c->err_at = 0;
	c->error = NULL;
	if (p == NULL || len == 0)
		return jv_fail(&v, "empty");
	if (!jv_value(&v))
		return false;
	jv_ws(&v);
	if (v.p != v.end) {
		if (*v.p == 0)
			return jv_fail(&v, "NUL byte");
		return jv_fail(&v, "trailing characters");
	}
	return true;
}

/* ---- member walk (only on validated text, so it trusts the grammar) ---- */

void wj_members_init(wj_members *m, const char *p, size_t len)
{
	m->p = (const unsigned char *)p;
	m->end = m->p + len;
	while (m->p < m->end && *m->p != '{')
		m->p++;
	m->p++;
	m->done = false;
}

/* Skips the string at m->p (its opening quote); true if it held \u0000. */
static bool skip_string(wj_members *m)
{
	bool nul = false;

	m->p++;
	while (*m->p != '"') {
		if (*m->p == '\\') {
			if (m->p[1] == 'u' && memcmp(m->p + 2, "0000", 4) == 0)
				nul = true;
			m->p += m->p[1] == 'u' ? 6 : 2;
		} else {
			m->p++;
		}
	}
	m->p++;
	return nul;
}

static void skip_ws(wj_members *m)
{
	while (*m->p == ' ' || *m->p == '\t' || *m->p == '\n' || *m->p == '\r')
		m->p++;
}

bool wj_members_next_has_nul(wj_members *m)
{
	bool nul;
	int depth = 0;

	if (m->done)
		return false;
	skip_ws(m);
	if (*m->p == '}') {
		m->done = true;
		return false;
	}
	nul = skip_string(m); /* the key */
	skip_ws(m);
	m->p++; /* ':' */
	skip_ws(m);
	/* The value: scan to the ',' or '}' that ends it at depth 0. */
	for (;;) {
		unsigned char ch = *m->p;
		if (ch == '"') {
			nul |= skip_string(m);
			continue;
		}
		if (depth == 0 && (ch == ',' || ch == '}'))
			break;
		if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']')
			depth--;
		m->p++;
	}
	if (*m->p == ',')
		m->p++;
	return nul;
}

/* ---- writer --------------------------------------------------------------- */

static void put(wj_writer *w, const char *s, size_t n)
{
	if (w->buf != NULL)
		memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void put_c(wj_writer *w, char c)
{
	if (w->buf != NULL)
		w->buf[w->len] = c;
	w->len++;
}

static void sep(wj_writer *w)
{
	if (w->comma)
		put_c(w, ',');
	w->comma = true;
}

void wj_open(wj_writer *w)
{
	sep(w);
	put_c(w, '{');
	w->comma = false;
}

void wj_close(wj_writer *w)
{
	put_c(w, '}');
	w->comma = true;
}

void wj_open_array(wj_writer *w)
{
	sep(w);
	put_c(w, '[');
	w->comma = false;
}

void wj_close_array(wj_writer *w)
{
	put_c(w, ']');
	w->comma = true;
}

void wj_key(wj_writer *w, const char *key)
{
	sep(w);
	put_c(w, '"');
	put(w, key, strlen(key));
	put(w, "\":", 2);
	w->comma = false;
}

void wj_str(wj_writer *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	sep(w);
	put_c(w, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(w, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"':
			put(w, "\\\"", 2);
			break;
		case '\\':
			put(w, "\\\\", 2);
			break;
		case '\n':
			put(w, "\\n", 2);
			break;
		case '\r':
			put(w, "\\r", 2);
			break;
		case '\t':
			put(w, "\\t", 2);
			break;
		default: {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put(w, esc, sizeof esc);
		}
		}
	}
	put(w, run, (size_t)(s - run));
	put_c(w, '"');
}

void wj_u64(wj_writer *w, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	sep(w);
	do {
		digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(w, digits + sizeof digits - n, n);
}

void wj_bool(wj_writer *w, bool v)
{
	sep(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void wj_null(wj_writer *w)
{
	sep(w);
	put(w, "null", 4);
}

void wj_time(wj_writer *w, int64_t ms)
{
	char buf[32];

	wire_time_format(ms, buf, sizeof buf);
	wj_str(w, buf);
}

/* ---- helpers shared by wire.c and wire_msg.c ------------------------------ */

void wj_block_take(wj_block *b, const char **s)
{
	if (*s == NULL)
		return;
	size_t n = strlen(*s) + 1;
	if (b->block != NULL) {
		memcpy(b->block + b->used, *s, n);
		*s = b->block + b->used;
	}
	b->used += n;
}

baton_err wj_finish(wj_emit_fn emit, const void *msg, char **out, size_t *len)
{
	wj_writer w = {NULL, 0, false};
	char *buf;

	emit(&w, msg);
	size_t need = w.len;
	buf = cJSON_malloc(need + 1);
	if (buf == NULL)
		return BATON_E_NOMEM;
	w = (wj_writer){buf, 0, false};
	emit(&w, msg);
	assert(w.len == need);
	buf[need] = '\0';
	*out = buf;
	if (len != NULL)
		*len = need;
	return BATON_OK;
}

baton_err wj_parse_message(const char *payload, size_t len, cJSON **root)
{
	wj_check c;

	*root = NULL;
	if (!wj_validate(payload, len, &c) || c.nul_escape)
		return BATON_E_PROTOCOL;
	*root = cJSON_ParseWithLength(payload, len);
	if (*root == NULL)
		return BATON_E_NOMEM; /* the grammar was checked: only memory is left */
	if (!cJSON_IsObject(*root))
		return BATON_E_PROTOCOL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(*root, "v");
	uint64_t version;
	if (!wj_int_in(v, WIRE_VERSION, WIRE_VERSION, &version))
		return BATON_E_PROTOCOL;
	return BATON_OK;
}

baton_err wj_decode(const char *payload, size_t len, wj_fields_fn *fields, void *out, size_t size)
{
	cJSON *root = NULL;

	if (out == NULL)
		return BATON_E_INVAL;
	memset(out, 0, size);
	baton_err err = wj_parse_message(payload, len, &root);
	if (err == BATON_OK)
		err = fields(root, out);
	if (err != BATON_OK)
		memset(out, 0, size); /* no partial output */
	cJSON_Delete(root);
	return err;
}

void wj_release(void *msg, size_t size, void *owned)
{
	if (owned != NULL)
		cJSON_free(owned);
	memset(msg, 0, size);
}

bool wj_int_in(const cJSON *it, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!cJSON_IsNumber(it))
		return false;
	double d = it->valuedouble;
	/* Written so that NaN fails too. */
	if (!(d >= (double)min && d <= (double)max))
		return false;
	uint64_t u = (uint64_t)d;
	if ((double)u != d)
		return false;
	*out = u;
	return true;
}

int wj_lookup(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

bool wj_text_ok(const char *s, size_t max)
{
	if (s == NULL)
		return false;
	size_t n = strlen(s);
	return n <= max && names_utf8_valid(s, n);
}

bool wj_node_ok(const char *s)
{
	return s != NULL && names_node_valid(s, strlen(s));
}

bool wj_resource_ok(const char *s)
{
	return s != NULL && names_resource_valid(s, strlen(s));
}

bool wj_id_ok(const char *s)
{
	return s != NULL && names_id_valid(s, strlen(s));
}

bool wj_time_ok(int64_t ms)
{
	return ms >= 0 && ms <= WJ_TIME_MAX_MS;
}

bool wj_token_ok(uint64_t t)
{
	return t >= 1 && t <= WIRE_INT_MAX;
}

const cJSON *wj_get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

bool wj_opt_str(const cJSON *obj, const char *key, size_t max, const char **out)
{
	const cJSON *it = wj_get(obj, key);

	*out = NULL;
	if (it == NULL)
		return true;
	return wj_req_str(obj, key, max, out);
}

bool wj_req_str(const cJSON *obj, const char *key, size_t max, const char **out)
{
	const cJSON *it = wj_get(obj, key);

	if (!cJSON_IsString(it) || strlen(it->valuestring) > max)
		return false;
	*out = it->valuestring;
	return true;
}

bool wj_req_node(const cJSON *obj, const char *key, const char **out)
{
	const cJSON *it = wj_get(obj, key);

	if (!cJSON_IsString(it) || !wj_node_ok(it->valuestring))
		return false;
	*out = it->valuestring;
	return true;
}

bool wj_req_time(const cJSON *obj, const char *key, int64_t *out)
{
	const cJSON *it = wj_get(obj, key);

	return cJSON_IsString(it) && wire_time_parse(it->valuestring, out) == BATON_OK;
}

bool wj_req_u64(const cJSON *obj, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	return wj_int_in(wj_get(obj, key), min, max, out);
}

bool wj_req_reason(const cJSON *obj, const char *key, wire_reason *out)
{
	const cJSON *it = wj_get(obj, key);
	int r;

	if (!cJSON_IsString(it) || (r = wire_reason_from_name(it->valuestring)) < 0)
		return false;
	*out = (wire_reason)r;
	return true;
}

bool wj_req_mode(const cJSON *obj, wire_mode *out)
{
	const cJSON *it = wj_get(obj, "mode");
	int m;

	if (!cJSON_IsString(it) || (m = wire_mode_from_name(it->valuestring)) < 0)
		return false;
	*out = (wire_mode)m;
	return true;
}
