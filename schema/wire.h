/*
 * wire.h - the JSON codec of every Baton message (PROTOCOL.md v1).
 *
 * Ownership, once for the whole module:
 *   - Every message struct holds strings as `const char *` (NUL-terminated;
 *     NULL means "absent").
 *   - A struct the caller fills for an _encode call borrows its strings for
 *     the duration of that call only.
 *   - A struct filled by a _decode call owns its strings in ONE heap block
 *     (the private `owned_` field); release it with the matching _deinit,
 *     which is also safe on a zeroed or caller-built struct. A failed decode
 *     leaves *out zeroed and owning nothing.
 *   - _encode returns a malloc'd, NUL-terminated JSON text in *out (length in
 *     *len, excluding the NUL); the caller frees it with free().
 * cJSON never escapes this module. Times are milliseconds since the Unix
 * epoch (UTC), written on the wire as "2026-11-24T10:00:00.123Z".
 * Numbers on the wire are JSON integers; tokens and millisecond values are
 * exact up to 2^53 - 1 (WIRE_INT_MAX), larger values are rejected.
 */
#ifndef BATON_WIRE_H
#define BATON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"
#include "names.h"

#define WIRE_VERSION          1
#define WIRE_PAYLOAD_MAX      65536 /* bytes; a larger request is too_large */
#define WIRE_META_MAX         256   /* bytes */
#define WIRE_ERROR_MAX        1024  /* bytes */
#define WIRE_RESULT_MAX       4096  /* bytes */
#define WIRE_MESSAGE_MAX      256   /* bytes of a rejection message we write */
#define WIRE_LEASE_MIN        1000u
#define WIRE_LEASE_MAX        3600000u
#define WIRE_LEASE_DEFAULT    30000u
#define WIRE_INT_MAX          9007199254740991ull /* 2^53 - 1 */
#define WIRE_VERSION_TEXT_MAX 64                  /* bytes of the coordinator's "version" */
#define WIRE_PERMITS_MAX      1024u               /* permits of a mutex acquire: 1..this (second edition) */
#define WIRE_FAILURES_MAX     1000u /* max_failures of a once acquire: 1..this (second edition) */

typedef enum wire_op {
	WIRE_OP_ACQUIRE = 1,
	WIRE_OP_RENEW,
	WIRE_OP_RELEASE,
	WIRE_OP_CANCEL,
	WIRE_OP_RESET,
} wire_op;

typedef enum wire_mode {
	WIRE_MODE_ONCE = 0,
	WIRE_MODE_MUTEX = 1,
	WIRE_MODE_SHARED = 2, /* second edition: a read lock */
} wire_mode;

typedef enum wire_status {
	WIRE_ST_GRANTED = 1,
	WIRE_ST_QUEUED,
	WIRE_ST_DONE,
	WIRE_ST_BUSY,
	WIRE_ST_RENEWED,
	WIRE_ST_RELEASED,
	WIRE_ST_CANCELLED,
	WIRE_ST_RESET,
	WIRE_ST_REVOKED,
	WIRE_ST_REJECTED,
	WIRE_ST_FAILED, /* second edition: the failure streak reached max_failures */
} wire_status;

/* Why a holding ended. */
typedef enum wire_reason {
	WIRE_REASON_NONE = 0,
	WIRE_REASON_RELEASED,
	WIRE_REASON_LEASE_EXPIRED,
	WIRE_REASON_NODE_OFFLINE,
} wire_reason;

/* Static names ("acquire", "once", "granted", "lease_expired", ...); NULL for
 * a value outside the enum (and for WIRE_REASON_NONE). */
const char *wire_op_name(wire_op op);
const char *wire_mode_name(wire_mode mode);
const char *wire_status_name(wire_status st);
const char *wire_reason_name(wire_reason r);

/* ---- requests: node -> P/req/<node> ------------------------------------ */

typedef struct wire_request {
	wire_op op;
	const char *id;       /* always set when decoded */
	const char *resource; /* always set when decoded */
	/* acquire */
	wire_mode mode;    /* default WIRE_MODE_ONCE */
	bool has_lease;    /* false: lease_ms absent (the coordinator's default applies) */
	uint32_t lease_ms; /* WIRE_LEASE_MIN..WIRE_LEASE_MAX when has_lease */
	bool has_wait;     /* false: wait until granted, done or cancelled */
	uint64_t wait_ms;  /* 0..WIRE_INT_MAX; 0 = try once */
	const char *meta;  /* <= WIRE_META_MAX bytes, or NULL */
	/* Second edition. permits: 0 means absent (1); above 1 only with mode
	 * mutex (1..WIRE_PERMITS_MAX). max_failures: 0 means absent; else
	 * 1..WIRE_FAILURES_MAX, mode once only. */
	uint32_t permits;
	uint32_t max_failures;
	/* renew, release */
	uint64_t token; /* 1..WIRE_INT_MAX */
	/* release */
	bool success;       /* required */
	const char *error;  /* <= WIRE_ERROR_MAX bytes, or NULL */
	const char *result; /* <= WIRE_RESULT_MAX bytes, or NULL */
	bool has_remember;
	uint64_t remember_ms; /* 0..WIRE_INT_MAX when has_remember */
	void *owned_;         /* private: the decoder's string block */
} wire_request;

/* What a failed request decode could still read, for the rejection answer. */
typedef struct wire_diag {
	bool has_id;
	char id[NAMES_ID_MAX + 1]; /* the request's id, if valid */
	bool has_resource;
	char resource[NAMES_RESOURCE_MAX + 1]; /* the request's resource, if valid */
	char message[WIRE_MESSAGE_MAX];        /* names the offending field */
} wire_diag;

/* Parses and validates a request payload (len bytes, need not be
 * NUL-terminated, may contain NUL bytes) against every rule of the contract.
 * On success fills *out (owning its strings) and returns BATON_OK. On failure
 * returns the rejection code (BATON_E_TOO_LARGE, _BAD_JSON, _UNSUPPORTED_VERSION,
 * _UNKNOWN_OP, _BAD_REQUEST; _NOMEM when memory ran out), leaves *out zeroed
 * and, when diag is not NULL, fills *diag. Unknown fields are ignored.
 *
 * Checks run in this order, and the first failure decides the code: size
 * (too_large), UTF-8 and JSON grammar (bad_json: also raw NUL or control
 * bytes, lone surrogate escapes, a byte order mark, numbers over 63 bytes,
 * nesting deeper than 64), object (bad_json), v, op, id, resource, then the
 * op's own fields. diag->id and diag->resource are filled whenever those
 * fields are valid, whichever check failed; diag->message names the field.
 * A missing or non-numeric "v" is bad_request; a number other than 1 is
 * unsupported_version. Integers are read as JSON Schema reads them (1000.0
 * and 1e3 are 1000); above WIRE_INT_MAX they are rejected. null for an
 * optional field, a repeated known field, and a \u0000 escape in any string
 * (also in ignored fields) are bad_request. Fields of other ops are ignored.
 * About 2 us for a typical acquire; one allocation for the result. */
baton_err wire_request_decode(const char *payload, size_t len, wire_request *out, wire_diag *diag);

/* Encodes req (validated as the decoder would; BATON_E_INVAL if invalid). */
baton_err wire_request_encode(const wire_request *req, char **out, size_t *len);

/* Frees what a decode made *req own and zeroes it. NULL is fine. */
void wire_request_deinit(wire_request *req);

/* ---- answers: coordinator -> P/grant/<node> ---------------------------- */

/* The last holding of a resource that ended without success. */
typedef struct wire_previous {
	const char *node; /* NULL: no previous (the whole struct is absent) */
	uint64_t token;
	const char *error; /* NULL if the holder gave none */
	wire_reason reason;
	/* When the holding ended: written only where the contract has it (the
	 * failed answer's "last", the snapshot's "last_failure"); 0 elsewhere. */
	int64_t completed_at_ms;
} wire_previous;

/* A remembered success of a once resource. */
typedef struct wire_done {
	const char *node; /* NULL: absent */
	uint64_t token;
	const char *result; /* NULL if the holder sent none */
	int64_t completed_at_ms;
} wire_done;

typedef struct wire_answer {
	wire_status status;
	const char *id;         /* NULL only when the request had no readable id */
	const char *resource;   /* NULL only for a rejection without readable resource */
	uint64_t token;         /* granted, renewed, released, revoked */
	uint32_t lease_ms;      /* granted, renewed */
	wire_previous previous; /* granted (optional) */
	uint32_t position;      /* queued: 1 = next */
	const char *holder;     /* queued, busy */
	wire_done outcome;      /* done */
	wire_reason reason;     /* revoked: lease_expired or node_offline */
	baton_err code;         /* rejected: an error with a wire code */
	const char *message;    /* rejected */
	uint32_t failures;      /* failed: the streak (>= 1) */
	wire_previous last;     /* failed: the holding that ended the streak's last try */
	void *owned_;           /* private */
} wire_answer;

baton_err wire_answer_encode(const wire_answer *a, char **out, size_t *len);
/* Decodes an answer (for agents and tests); BATON_E_PROTOCOL if it is not a
 * well-formed v1 answer. */
baton_err wire_answer_decode(const char *payload, size_t len, wire_answer *out);
void wire_answer_deinit(wire_answer *a);

/* ---- events: coordinator -> P/outcome/<resource> ----------------------- */

typedef struct wire_outcome {
	const char *resource;
	wire_mode mode;
	const char *node;
	uint64_t token;
	bool success;
	const char *error;  /* NULL: absent */
	const char *result; /* NULL: absent */
	wire_reason reason; /* released, lease_expired, node_offline */
	int64_t completed_at_ms;
	void *owned_;
} wire_outcome;

baton_err wire_outcome_encode(const wire_outcome *o, char **out, size_t *len);
baton_err wire_outcome_decode(const char *payload, size_t len, wire_outcome *out);
void wire_outcome_deinit(wire_outcome *o);

/* ---- snapshots: coordinator -> P/state/<resource>, retained ------------ */

/* One current holding in a snapshot's "holders" (second edition). */
typedef struct wire_holding {
	const char *node;
	uint64_t token;
	wire_mode mode;
	int64_t since_ms;
	int64_t lease_until_ms;
} wire_holding;

/* One queued acquire in a snapshot's "queue" (second edition). */
typedef struct wire_queued {
	const char *node;
	wire_mode mode;
} wire_queued;

typedef struct wire_snapshot {
	const char *resource;
	wire_mode mode;
	const char *holder; /* NULL: "holder":null (then token/since/lease_until/meta are omitted) */
	uint64_t token;
	int64_t since_ms;
	int64_t lease_until_ms;
	const char *meta;           /* the holder's acquire meta, NULL: absent */
	const char *const *waiting; /* n_waiting node ids, next first */
	size_t n_waiting;
	wire_done done;         /* done.node NULL: "done":null */
	wire_previous previous; /* last failed holding, previous.node NULL: omitted */
	/* Second edition: every holding in token order (holder..meta above
	 * describe holders[0]), the queue in order (waiting lists its nodes),
	 * permits (written when above 1), the failure streak and its last
	 * failure (written when failures is above 0). */
	const wire_holding *holders;
	size_t n_holders;
	const wire_queued *queue;
	size_t n_queue;
	uint32_t permits;
	uint32_t failures;
	wire_previous last_failure;
	void *owned_;
} wire_snapshot;

baton_err wire_snapshot_encode(const wire_snapshot *s, char **out, size_t *len);
baton_err wire_snapshot_decode(const char *payload, size_t len, wire_snapshot *out);
void wire_snapshot_deinit(wire_snapshot *s);

/* ---- presence: P/node/<node> and P/coordinator, retained --------------- */

#define WIRE_REASON_TEXT_MAX 256 /* bytes of a "reason" the coordinator gives for not serving */

typedef struct wire_presence {
	const char *node; /* P/node/<node>: the node id; P/coordinator: NULL */
	bool online;
	const char *version;   /* coordinator only, NULL: absent */
	int64_t started_at_ms; /* coordinator only, 0: absent */
	/* coordinator only: the id of this process start (the request-id
	 * grammar, 1..64 of [A-Za-z0-9._:-]; PROTOCOL.md "Coordinator
	 * identity"), NULL: absent. With an instance, an online presence also
	 * says "serving" (true unless not_serving) and, when not serving, why
	 * ("reason", up to WIRE_REASON_TEXT_MAX bytes, NULL: absent). */
	const char *instance;
	bool not_serving;
	const char *reason;
	void *owned_;
} wire_presence;

baton_err wire_presence_encode(const wire_presence *p, char **out, size_t *len);
baton_err wire_presence_decode(const char *payload, size_t len, wire_presence *out);
void wire_presence_deinit(wire_presence *p);

/* ---- stats: coordinator -> P/stats, retained, QoS 0 -------------------- */

typedef struct wire_stats {
	int64_t at_ms;
	uint64_t uptime_ms;
	uint64_t requests;   /* requests received (valid or not) */
	uint64_t grants;     /* grants made (immediate and handoffs) */
	uint64_t handoffs;   /* grants to a waiter when a holding ended */
	uint64_t rejections; /* rejected answers plus bad topics */
	uint64_t held;       /* locks held now */
	uint64_t waiters;    /* queued acquires now */
	uint64_t remembered; /* remembered successes now */
	uint64_t backlog;    /* publishes not yet acknowledged by the broker */
	uint64_t next_token; /* the token the next grant will carry */
	bool not_serving;    /* "serving": false (commits failing, another instance...) */
	const char *reason;  /* why not serving, NULL: absent */
	void *owned_;
} wire_stats;

baton_err wire_stats_encode(const wire_stats *s, char **out, size_t *len);

/* Reads a P/stats payload: "at" and "next_token" are required, the counters
 * are read when present and valid (0 otherwise), "serving" and "reason" as
 * encoded. BATON_E_PROTOCOL when it is not a stats message. Free with
 * wire_stats_deinit (also after a failure). For the coordinator's token
 * floor at start. */
baton_err wire_stats_decode(const char *payload, size_t len, wire_stats *out);
void wire_stats_deinit(wire_stats *s);

/* ---- time ---------------------------------------------------------------- */

/* Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) into buf (cap >= 25). */
void wire_time_format(int64_t ms, char *buf, size_t cap);
/* Parses that format (also without the milliseconds); BATON_E_INVAL if bad. */
baton_err wire_time_parse(const char *s, int64_t *ms);

#endif
