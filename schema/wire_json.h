/*
 * wire_json.h - private to the wire module: a strict JSON validator and a
 * JSON writer, the two things cJSON does not do the way the contract needs.
 *
 * Not installed, not used outside schema/.
 */
#ifndef BATON_WIRE_JSON_H
#define BATON_WIRE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Deepest nesting of arrays and objects a payload may have. Well below
 * cJSON's own limit (CJSON_NESTING_LIMIT, 1000), so that anything the
 * validator accepts cJSON parses too, and a parse failure after validation
 * can only mean that memory ran out. */
#define WJ_DEPTH_MAX 64

/* Longest number, in bytes, that cJSON reads in one piece (its buffer holds
 * 63 characters); longer numbers are rejected by the validator for the same
 * reason. */
#define WJ_NUMBER_MAX 63

/* Latest time the wire can carry: 9999-12-31T23:59:59.999Z. */
#define WJ_TIME_MAX_MS 253402300799999LL
/* Earliest wire_time_format writes: 0000-01-01T00:00:00.000Z. */
#define WJ_TIME_MIN_MS (-62167219200000LL)

/* The value of a name of wire.h's enums, or -1 (in wire.c). */
int wire_mode_from_name(const char *name);
int wire_reason_from_name(const char *name);
int wire_status_from_name(const char *name);
int wire_op_from_name(const char *name);

typedef struct wj_check {
	bool nul_escape;   /* a string (key or value) holds the escape \u0000 */
	size_t err_at;     /* byte offset of the first error */
	const char *error; /* static text of the first error, NULL if valid */
} wj_check;

/* Validates p[0..len) as exactly one RFC 8259 JSON text in UTF-8: no byte
 * order mark, no raw NUL or control byte inside strings, no lone surrogate
 * escapes, no trailing bytes but whitespace, numbers at most WJ_NUMBER_MAX
 * bytes, nesting at most WJ_DEPTH_MAX. Returns true when valid; *c gets the
 * details either way. No allocation, recursion depth at most WJ_DEPTH_MAX. */
bool wj_validate(const char *p, size_t len, wj_check *c);

/* Walks the members of the top-level object of a payload that wj_validate
 * accepted, in order (the same order as cJSON's children). */
typedef struct wj_members {
	const unsigned char *p, *end;
	bool done;
} wj_members;

void wj_members_init(wj_members *m, const char *p, size_t len);
/* Advances over the next member; returns whether its key or value holds a
 * \u0000 escape anywhere. Returns false once the members are exhausted. */
bool wj_members_next_has_nul(wj_members *m);

/* A JSON writer that runs twice: once with buf NULL to count the bytes, once
 * to write them into a buffer of exactly that size. Values written after a
 * key or inside an array get their commas automatically. */
typedef struct wj_writer {
	char *buf; /* NULL: count only */
	size_t len;
	bool comma;
} wj_writer;

void wj_open(wj_writer *w);  /* { */
void wj_close(wj_writer *w); /* } */
void wj_open_array(wj_writer *w);
void wj_close_array(wj_writer *w);
void wj_key(wj_writer *w, const char *key); /* key: a plain ASCII literal */
void wj_str(wj_writer *w, const char *s);   /* s: valid UTF-8, escaped as needed */
void wj_u64(wj_writer *w, uint64_t v);
void wj_bool(wj_writer *w, bool v);
void wj_null(wj_writer *w);
void wj_time(wj_writer *w, int64_t ms);

/* ---- helpers shared by wire.c and wire_msg.c ------------------------------ */

struct cJSON;

/* Copies the strings of a decoded message into one block: a count pass
 * (block NULL) sums their sizes, a copy pass repoints them into the block. */
typedef struct wj_block {
	char *block; /* NULL: counting */
	size_t used;
} wj_block;

/* Adds *s (NULL: nothing) to the block; in the copy pass repoints *s. */
void wj_block_take(wj_block *b, const char **s);

/* Runs emit twice (count, then write) into one exact-size allocation made
 * with cJSON_malloc (malloc unless a test installed hooks). */
typedef void (*wj_emit_fn)(wj_writer *w, const void *msg);
baton_err wj_finish(wj_emit_fn emit, const void *msg, char **out, size_t *len);

/* Parses payload for a tolerant decoder of a coordinator's message: a bad
 * grammar, a \u0000 escape, a non-object or a "v" other than 1 is
 * BATON_E_PROTOCOL; BATON_E_NOMEM if cJSON ran out of memory. *root is set
 * (or NULL) either way; the caller cJSON_Delete()s it. */
baton_err wj_parse_message(const char *payload, size_t len, struct cJSON **root);

/* Reads one message's fields from root into out (zeroed); on error it
 * leaves nothing allocated (what it set is cleared by wj_decode). */
typedef baton_err wj_fields_fn(const struct cJSON *root, void *out);

/* The tolerant decoders' one frame: zeroes out[0..size), parses payload
 * (wj_parse_message), reads it with fields; on error out is zeroed again.
 * BATON_E_INVAL for a NULL out. The parsed tree is freed either way. */
baton_err wj_decode(const char *payload, size_t len, wj_fields_fn *fields, void *out, size_t size);

/* The decoders' deinit: frees owned (cJSON_free; NULL is fine) and zeroes
 * msg[0..size). */
void wj_release(void *msg, size_t size, void *owned);

/* True iff it is a number whose value is an integer in min..max (doubles,
 * as JSON Schema reads them: 1000.0 and 1e3 are 1000). */
bool wj_int_in(const struct cJSON *it, uint64_t min, uint64_t max, uint64_t *out);

/* The index of name in names[0..n) (NULL entries skipped), or -1. */
int wj_lookup(const char *const *names, size_t n, const char *name);

bool wj_text_ok(const char *s, size_t max); /* non-NULL, <= max bytes, UTF-8 */
bool wj_node_ok(const char *s);
bool wj_resource_ok(const char *s);
bool wj_id_ok(const char *s);
bool wj_time_ok(int64_t ms); /* 1970..9999 */
bool wj_token_ok(uint64_t t);

/* Field readers of the tolerant decoders; false when absent or malformed. */
const struct cJSON *wj_get(const struct cJSON *obj, const char *key);
bool wj_opt_str(const struct cJSON *obj, const char *key, size_t max, const char **out);
bool wj_req_node(const struct cJSON *obj, const char *key, const char **out);
bool wj_req_str(const struct cJSON *obj, const char *key, size_t max, const char **out);
bool wj_req_time(const struct cJSON *obj, const char *key, int64_t *out);
bool wj_req_u64(const struct cJSON *obj, const char *key, uint64_t min, uint64_t max, uint64_t *out);
bool wj_req_reason(const struct cJSON *obj, const char *key, wire_reason *out);
bool wj_req_mode(const struct cJSON *obj, wire_mode *out);

/* ---- helpers of the message codecs (wire_msg.c; also used by wire_snap.c) ---- */

void wj_put_str(wj_writer *w, const char *key, const char *s);
struct wire_peer;
/* "key":[{"id":..,"address":..,"role":..},...] (wire_admin.c; also wire_member.c) */
void wj_put_peers(wj_writer *w, const char *key, const struct wire_peer *p, size_t n);
bool wj_peers_ok(const struct wire_peer *p, size_t n); /* ids, addresses, roles; n <= WIRE_PEERS_MAX */
void wj_put_opt_str(wj_writer *w, const char *key, const char *s); /* s NULL: nothing */
void wj_put_u64(wj_writer *w, const char *key, uint64_t v);
void wj_put_time(wj_writer *w, const char *key, int64_t ms);
void wj_put_head(wj_writer *w); /* { "v":1 */
/* Takes the n strings *strs[i] into b (counting, or copying when b->block). */
void wj_take_all(wj_block *b, const char **const *strs, size_t n);
/* The nested objects: previous (grants, snapshots), last (failed answers,
 * the snapshot's last_failure: previous plus completed_at) and done. */
bool wj_previous_ok(const wire_previous *p); /* absent (node NULL) is fine */
bool wj_last_ok(const wire_previous *p);     /* present, with a valid time */
bool wj_done_ok(const wire_done *o);         /* absent (node NULL) is fine */
void wj_put_prev_as(wj_writer *w, const char *key, const wire_previous *p, bool at);
void wj_put_previous(wj_writer *w, const wire_previous *p);
void wj_put_done(wj_writer *w, const char *key, const wire_done *o); /* node NULL: null */
bool wj_get_previous(const struct cJSON *it, wire_previous *p);      /* it NULL: absent */
bool wj_get_last(const struct cJSON *it, wire_previous *p);          /* required */
bool wj_get_done(const struct cJSON *it, wire_done *o);              /* it NULL or null: absent */

#endif
