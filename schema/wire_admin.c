/*
 * wire_admin.c - encoding and decoding of membership requests and answers,
 * and of a group's configuration list (wire_admin.h).
 *
 * Writes with the wire module's one JSON writer and reads with its tolerant
 * parser (wire_json.h). No I/O.
 */
#include "wire_admin.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "wire_json.h"

static const char *const roles[] = {"voter", "standby", "spare"};
static const char *const reasons[] = {"not_leader", "in_progress", "conflict",   "last_voter",
                                      "too_many",   "failed",      "bad_request"};
static const char *const ops[] = {NULL, "add", "remove"};
#define N_OF(a) (sizeof a / sizeof a[0])

const char *wire_peer_role(const char *role)
{
	int i = role != NULL ? wj_lookup(roles, N_OF(roles), role) : -1;
	return i >= 0 ? roles[i] : NULL;
}

bool wj_peers_ok(const wire_peer *p, size_t n)
{
	if (n > WIRE_PEERS_MAX || (n > 0 && p == NULL))
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i].id == 0 || p[i].id > 999999 || wire_peer_role(p[i].role) == NULL ||
		    !wj_text_ok(p[i].address, WIRE_ADDRESS_MAX) || p[i].address[0] == '\0')
			return false;
	return true;
}

void wj_put_peers(wj_writer *w, const char *key, const wire_peer *p, size_t n)
{
	wj_key(w, key);
	wj_open_array(w);
	for (size_t i = 0; i < n; i++) {
		wj_open(w);
		wj_put_u64(w, "id", p[i].id);
		wj_put_str(w, "address", p[i].address);
		wj_put_str(w, "role", p[i].role);
		wj_close(w);
	}
	wj_close_array(w);
}

/* ---- requests ---------------------------------------------------------------- */

static void emit_req(wj_writer *w, const void *msg)
{
	const wire_admin_req *r = msg;
	wj_put_head(w);
	wj_put_str(w, "op", ops[r->op]);
	wj_put_str(w, "id", r->id);
	wj_put_u64(w, "member", r->member);
	if (r->op == WIRE_ADMIN_ADD)
		wj_put_str(w, "address", r->address);
	wj_close(w);
}

baton_err wire_admin_req_encode(const wire_admin_req *r, char **out, size_t *len)
{
	if (r == NULL || out == NULL || (r->op != WIRE_ADMIN_ADD && r->op != WIRE_ADMIN_REMOVE) ||
	    !wj_id_ok(r->id) || r->member == 0 || r->member > 999999 ||
	    (r->op == WIRE_ADMIN_ADD) != (r->address[0] != '\0') || !wj_text_ok(r->address, WIRE_ADDRESS_MAX))
		return BATON_E_INVAL;
	return wj_finish(emit_req, r, out, len);
}

static baton_err req_fields(const cJSON *root, wire_admin_req *r, const char **bad)
{
	static const char *const known[] = {"v", "op", "id", "member", "address"};
	for (const cJSON *it = root->child; it != NULL; it = it->next)
		if (it->string == NULL || wj_lookup(known, N_OF(known), it->string) < 0) {
			*bad = "unknown field";
			return BATON_E_BAD_REQUEST;
		}
	const char *s = NULL;
	if (!wj_req_str(root, "op", 16, &s)) {
		*bad = "op";
		return BATON_E_BAD_REQUEST;
	}
	int op = wj_lookup(ops, N_OF(ops), s);
	if (op < 0)
		return BATON_E_UNKNOWN_OP;
	r->op = (wire_admin_op)op;
	if (!wj_req_str(root, "id", 64, &s) || !wj_id_ok(s)) {
		*bad = "id";
		return BATON_E_BAD_REQUEST;
	}
	snprintf(r->id, sizeof r->id, "%s", s);
	if (!wj_req_u64(root, "member", 1, 999999, &r->member)) {
		*bad = "member";
		return BATON_E_BAD_REQUEST;
	}
	bool has_addr = wj_get(root, "address") != NULL;
	if (has_addr != (r->op == WIRE_ADMIN_ADD) ||
	    (has_addr && (!wj_req_str(root, "address", WIRE_ADDRESS_MAX, &s) || *s == '\0'))) {
		*bad = "address";
		return BATON_E_BAD_REQUEST;
	}
	if (has_addr)
		snprintf(r->address, sizeof r->address, "%s", s);
	return BATON_OK;
}

baton_err wire_admin_req_decode(const char *payload, size_t len, wire_admin_req *out, const char **bad)
{
	static const char *none = "";
	const char *why = none;
	cJSON *root = NULL;
	wire_admin_req r = {0};
	if (out == NULL)
		return BATON_E_INVAL;
	memset(out, 0, sizeof *out);
	baton_err err = wj_parse_message(payload, len, &root);
	if (err == BATON_E_PROTOCOL)
		err = BATON_E_BAD_JSON;
	if (err == BATON_OK)
		err = req_fields(root, &r, &why);
	if (err == BATON_OK || err == BATON_E_UNKNOWN_OP || err == BATON_E_BAD_REQUEST)
		memcpy(out->id, r.id, sizeof r.id); /* whatever id was readable, for the answer */
	if (err == BATON_OK)
		*out = r;
	if (bad != NULL)
		*bad = why;
	cJSON_Delete(root);
	return err;
}

/* ---- answers ------------------------------------------------------------------ */

static void emit_ans(wj_writer *w, const void *msg)
{
	const wire_admin_ans *a = msg;
	wj_put_head(w);
	wj_put_str(w, "id", a->id);
	wj_put_str(w, "status", a->done ? "done" : "refused");
	if (a->done) {
		wj_key(w, "changed");
		wj_bool(w, a->changed);
	} else {
		wj_put_str(w, "reason", a->reason);
	}
	wj_put_str(w, "message", a->message);
	wj_put_u64(w, "by", a->by);
	wj_put_peers(w, "members", a->members, a->n_members);
	wj_close(w);
}

baton_err wire_admin_ans_encode(const wire_admin_ans *a, char **out, size_t *len)
{
	if (a == NULL || out == NULL || !wj_text_ok(a->id, 64) ||
	    !wj_text_ok(a->message, WIRE_ADMIN_MESSAGE_MAX) || a->by == 0 || a->by > 999999 ||
	    !wj_peers_ok(a->members, a->n_members) ||
	    (!a->done && (a->reason == NULL || wj_lookup(reasons, N_OF(reasons), a->reason) < 0)))
		return BATON_E_INVAL;
	return wj_finish(emit_ans, a, out, len);
}

static bool peer_get(const cJSON *it, wire_peer *p)
{
	const char *addr = NULL, *role = NULL;
	if (!cJSON_IsObject(it) || !wj_req_u64(it, "id", 1, 999999, &p->id) ||
	    !wj_req_str(it, "address", WIRE_ADDRESS_MAX, &addr) || !wj_req_str(it, "role", 16, &role) ||
	    (p->role = wire_peer_role(role)) == NULL)
		return false;
	snprintf(p->address, sizeof p->address, "%s", addr);
	return true;
}

static baton_err ans_fields(const cJSON *root, void *msg)
{
	wire_admin_ans *a = msg;
	const char *s = NULL;
	if (!wj_req_str(root, "id", 64, &s))
		return BATON_E_PROTOCOL;
	snprintf(a->id, sizeof a->id, "%s", s);
	if (!wj_req_str(root, "status", 16, &s) || (strcmp(s, "done") != 0 && strcmp(s, "refused") != 0))
		return BATON_E_PROTOCOL;
	a->done = strcmp(s, "done") == 0;
	const cJSON *changed = wj_get(root, "changed");
	if (a->done && !cJSON_IsBool(changed))
		return BATON_E_PROTOCOL;
	a->changed = a->done && cJSON_IsTrue(changed);
	if (!a->done) {
		if (!wj_req_str(root, "reason", sizeof a->reason_buf - 1, &s))
			return BATON_E_PROTOCOL;
		snprintf(a->reason_buf, sizeof a->reason_buf, "%s", s);
		a->reason = a->reason_buf;
	}
	if (!wj_req_str(root, "message", WIRE_ADMIN_MESSAGE_MAX, &s) ||
	    !wj_req_u64(root, "by", 1, 999999, &a->by))
		return BATON_E_PROTOCOL;
	snprintf(a->message, sizeof a->message, "%s", s);
	const cJSON *ms = wj_get(root, "members");
	if (!cJSON_IsArray(ms))
		return BATON_E_PROTOCOL;
	for (const cJSON *it = ms->child; it != NULL; it = it->next)
		if (a->n_members == WIRE_PEERS_MAX || !peer_get(it, &a->members[a->n_members++]))
			return BATON_E_PROTOCOL;
	return BATON_OK;
}

baton_err wire_admin_ans_decode(const char *payload, size_t len, wire_admin_ans *out)
{
	return wj_decode(payload, len, ans_fields, out, sizeof *out);
}
