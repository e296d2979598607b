/*
 * wire_member.c - encoding of a group member's health (wire_member.h).
 *
 * Writes with the wire module's one JSON writer (wire_json.h); reads
 * nothing. No I/O.
 */
#include "wire_member.h"

#include <string.h>

#include "wire_json.h"

static void emit_member(wj_writer *w, const void *msg)
{
	const wire_member *m = msg;
	wj_open(w);
	wj_key(w, "v");
	wj_u64(w, WIRE_VERSION);
	wj_key(w, "member");
	wj_u64(w, m->member);
	wj_key(w, "online");
	wj_bool(w, m->online);
	if (m->online) {
		wj_key(w, "role");
		wj_str(w, m->role);
		wj_key(w, "term");
		wj_u64(w, m->term);
		if (m->leader != 0) {
			wj_key(w, "leader");
			wj_u64(w, m->leader);
		}
		wj_key(w, "applied");
		wj_u64(w, m->applied);
		wj_key(w, "at");
		wj_time(w, m->at_ms);
		if (m->n_members > 0)
			wj_put_peers(w, "members", m->members, m->n_members);
		if (m->not_serving) {
			wj_key(w, "serving");
			wj_bool(w, false);
			if (m->reason != NULL) {
				wj_key(w, "reason");
				wj_str(w, m->reason);
			}
		}
	}
	wj_close(w);
}

static bool role_ok(const char *r)
{
	static const char *const roles[] = {"leader", "follower", "candidate", "unavailable"};
	return r != NULL && wj_lookup(roles, sizeof roles / sizeof roles[0], r) >= 0;
}

baton_err wire_member_encode(const wire_member *m, char **out, size_t *len)
{
	if (m == NULL || out == NULL || m->member == 0 || m->member > 999999 || m->leader > 999999 ||
	    (m->online && (!role_ok(m->role) || !wj_time_ok(m->at_ms))) ||
	    !wj_peers_ok(m->members, m->n_members) ||
	    (m->reason != NULL && strlen(m->reason) > WIRE_REASON_TEXT_MAX))
		return BATON_E_INVAL;
	return wj_finish(emit_member, m, out, len);
}
