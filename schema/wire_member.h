/*
 * wire_member.h - a replicated group member's retained health on
 * P/coordinator/<member> (PROTOCOL.md, "Coordinator identity"): its role,
 * term, the leader it knows, its applied index and the group's
 * configuration as it knows it; its Will says
 * online:false. schema/member.schema.json is its schema.
 */
#ifndef BATON_WIRE_MEMBER_H
#define BATON_WIRE_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"
#include "wire_admin.h"

typedef struct wire_member {
	uint64_t member; /* 1 .. 999999 */
	bool online;
	/* Only when online: */
	const char *role; /* "leader", "follower", "candidate", "unavailable" */
	uint64_t term;
	uint64_t leader; /* the leader this member knows, 0: none (omitted) */
	uint64_t applied;
	int64_t at_ms; /* when this was true */
	/* The configuration this member knows (the latest, committed or not);
	 * n_members 0: omitted (a member started with --join nobody added yet). */
	const wire_peer *members;
	size_t n_members;
	/* A leader that refuses to serve says why (serving:false, reason). */
	bool not_serving;
	const char *reason; /* up to WIRE_REASON_TEXT_MAX bytes; NULL with not_serving: none */
} wire_member;

/* Encodes m into a new malloc'd JSON text (free()); len may be NULL. BATON_E_INVAL for a bad
 * member id, role or time, BATON_E_NOMEM. */
baton_err wire_member_encode(const wire_member *m, char **out, size_t *len);

#endif
