/*
 * wire_admin.h - membership requests to a replicated group and their
 * answers (docs/protocol.md, "Membership of a replicated group"): an
 * operator's `baton-coordinator member add|remove` publishes a request on
 * P/coordinator/admin/req/<asker>; the serving leader answers on
 * P/coordinator/admin/ans/<asker>. Also the configuration list that a
 * member's health (wire_member.h) and every answer carry.
 * schema/admin-request.schema.json and admin-answer.schema.json.
 *
 * No I/O; decoded messages keep their text in fixed buffers (nothing to
 * free).
 */
#ifndef BATON_WIRE_ADMIN_H
#define BATON_WIRE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"

#define WIRE_PEERS_MAX         7  /* a group's members, at most (coordinator/peers.h) */
#define WIRE_ADDRESS_MAX       63 /* "HOST:PORT" */
#define WIRE_ADMIN_MESSAGE_MAX 400

/* One member of a group's configuration. */
typedef struct wire_peer {
	uint64_t id; /* 1 .. 999999 */
	char address[WIRE_ADDRESS_MAX + 1];
	const char *role; /* "voter", "standby" or "spare" (a static string) */
} wire_peer;

typedef enum wire_admin_op { WIRE_ADMIN_ADD = 1, WIRE_ADMIN_REMOVE } wire_admin_op;

typedef struct wire_admin_req {
	wire_admin_op op;
	char id[65];                        /* the request's id (the lock requests' grammar) */
	uint64_t member;                    /* 1 .. 999999 */
	char address[WIRE_ADDRESS_MAX + 1]; /* add only: "HOST:PORT" (not checked here) */
} wire_admin_req;

/* BATON_E_INVAL for a bad op, id, member or address (or one given with a
 * remove), BATON_E_NOMEM. */
baton_err wire_admin_req_encode(const wire_admin_req *r, char **out, size_t *len);

/* BATON_E_BAD_JSON (not JSON, not an object, or "v" is not 1),
 * BATON_E_UNKNOWN_OP, BATON_E_BAD_REQUEST (a missing, mistyped or unknown
 * field: the key is in *bad, a static string), BATON_E_NOMEM. */
baton_err wire_admin_req_decode(const char *payload, size_t len, wire_admin_req *out, const char **bad);

typedef struct wire_admin_ans {
	char id[65];        /* the request's id; "" when the request had none readable */
	bool done;          /* true: "status":"done"; false: "refused" */
	bool changed;       /* done only: false when it was so already */
	const char *reason; /* refused only: "not_leader", "in_progress", "conflict", "last_voter",
	                       "too_many", "failed", "bad_request" (static when encoding; decoding
	                       points into reason_buf) */
	char reason_buf[16];
	char message[WIRE_ADMIN_MESSAGE_MAX + 1]; /* in words */
	uint64_t by;                              /* the member that answered */
	wire_peer members[WIRE_PEERS_MAX];        /* the configuration it knows after the change */
	size_t n_members;
} wire_admin_ans;

baton_err wire_admin_ans_encode(const wire_admin_ans *a, char **out, size_t *len);
/* BATON_E_PROTOCOL for anything that is not such an answer, BATON_E_NOMEM. */
baton_err wire_admin_ans_decode(const char *payload, size_t len, wire_admin_ans *out);

/* True iff role is one of "voter", "standby", "spare"; returns the static name
 * or NULL. */
const char *wire_peer_role(const char *role);

#endif
