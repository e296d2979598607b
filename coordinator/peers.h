/*
 * peers.h - a replicated group's members as --peers names them:
 * "ID=HOST:PORT,...", every member, itself included.
 *
 * Pure: no I/O, no allocation (config.c validates with it; group.c uses the
 * result).
 */
#ifndef BATON_PEERS_H
#define BATON_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"

#define GROUP_MAX_PEERS 7
#define GROUP_ADDR_MAX  63 /* "HOST:PORT", IPv4 dotted quad (libraft's TCP transport) */
#define GROUP_ID_MAX    999999

typedef struct group_peer {
	uint64_t id; /* 1 .. GROUP_ID_MAX */
	char address[GROUP_ADDR_MAX + 1];
} group_peer;

/* Parses "ID=HOST:PORT,ID=HOST:PORT,..." (--peers) into out[0..*n), at most
 * GROUP_MAX_PEERS, sorted by id. BATON_E_INVAL with a message naming the
 * bad part: a missing '=' or ':', an id that is not 1..999999, a duplicate
 * id or address, a port outside 1..65535, a host that is not an IPv4
 * address, too many peers. *n is untouched on error. */
baton_err group_peers_parse(const char *s, group_peer *out, size_t *n, char *err, size_t cap);

/* Parses one member id ("1".."999999", no sign, no leading zero) into *id.
 * BATON_E_INVAL otherwise. */
baton_err group_member_parse(const char *s, uint64_t *id);

#endif
