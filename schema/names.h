/*
 * names.h - the grammar of node ids, request ids, resource names and
 * prefixes (PROTOCOL.md "Words"), and every topic built from them.
 *
 * Pure functions: no allocation, no I/O. Strings are borrowed for the call.
 */
#ifndef BATON_NAMES_H
#define BATON_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"

#define NAMES_NODE_MAX     64  /* bytes, [A-Za-z0-9._-] */
#define NAMES_ID_MAX       64  /* bytes, [A-Za-z0-9._:-] */
#define NAMES_RESOURCE_MAX 200 /* bytes of UTF-8 */
#define NAMES_PREFIX_MAX   200 /* bytes */
/* Longest topic or filter we ever build: prefix + "/coordinator" or
 * "/outcome/" + resource (or a resource filter, at most as long). */
#define NAMES_TOPIC_MAX (NAMES_PREFIX_MAX + 16 + NAMES_RESOURCE_MAX)

/* True iff s[0..len) is a valid node id: 1..64 bytes of [A-Za-z0-9._-]. */
bool names_node_valid(const char *s, size_t len);

/* True iff s[0..len) is a valid request id: 1..64 bytes of [A-Za-z0-9._:-]. */
bool names_id_valid(const char *s, size_t len);

/* True iff s[0..len) is a valid resource name: 1..200 bytes of valid UTF-8
 * (no overlongs, no surrogates), no control characters (U+0000-001F,
 * U+007F-009F), no Unicode noncharacters (U+FDD0-FDEF, U+xFFFE, U+xFFFF),
 * no '+' or '#', not starting with '$' or '/', not ending with '/', no empty
 * level ("//"). */
bool names_resource_valid(const char *s, size_t len);

/* The first Unicode noncharacter (U+FDD0-FDEF, U+xFFFE, U+xFFFF) encoded in
 * s[0..len), or 0 when there is none (bytes that are not UTF-8 are skipped),
 * so that a rejection can name it. */
uint32_t names_noncharacter_find(const char *s, size_t len);

/* True iff s is a valid topic prefix: 1..200 bytes, printable ASCII, no '+',
 * '#', no leading or trailing '/', no empty level, not starting with '$'. */
bool names_prefix_valid(const char *s, size_t len);

/* True iff s[0..len) is valid UTF-8 (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool names_utf8_valid(const char *s, size_t len);

/* The length (1 to 4) of the valid UTF-8 sequence that starts s[0..len), or
 * 0 when len is 0 or s does not start with one (RFC 3629 rules as above). */
size_t names_utf8_next(const char *s, size_t len);

typedef enum names_kind {
	NAMES_REQ = 1,     /* P/req/<node> */
	NAMES_GRANT,       /* P/grant/<node> */
	NAMES_OUTCOME,     /* P/outcome/<resource> */
	NAMES_STATE,       /* P/state/<resource> */
	NAMES_NODE,        /* P/node/<node> */
	NAMES_COORDINATOR, /* P/coordinator (arg ignored, may be NULL) */
	NAMES_STATS,       /* P/stats (arg ignored, may be NULL) */
	NAMES_MEMBER,      /* P/coordinator/<member>: a group member's health; arg its id, "1".."999999" */
	NAMES_ADMIN_REQ,   /* P/coordinator/admin/req/<asker>: a membership request; arg a node id */
	NAMES_ADMIN_ANS,   /* P/coordinator/admin/ans/<asker>: its answer; arg a node id */
} names_kind;

/* Writes the topic of kind for prefix and arg (a node or a resource) into
 * buf, NUL-terminated; *len_out (may be NULL) gets its length. Returns
 * BATON_E_INVAL, leaving buf unspecified, when arg is invalid for the kind or
 * the topic does not fit in cap bytes. cap >= NAMES_TOPIC_MAX + 1 always fits. */
baton_err names_topic(char *buf, size_t cap, const char *prefix, names_kind kind, const char *arg,
                      size_t *len_out);

/* Classifies an incoming topic (not NUL-terminated) under prefix. On success
 * *kind is NAMES_REQ or NAMES_NODE and *node and *node_len point into topic at the
 * node part. Returns BATON_E_BAD_TOPIC when the topic is req/... or node/...
 * under prefix but its node part is not a valid node id, and BATON_E_INVAL
 * when the topic is anything else. Outputs are untouched on error. */
baton_err names_topic_parse(const char *prefix, const char *topic, size_t topic_len, names_kind *kind,
                            const char **node, size_t *node_len);

/* True iff topic[0..topic_len) is P/coordinator/admin/req/<asker> under
 * prefix with a valid node id as asker; *asker and *asker_len (untouched
 * otherwise) point into topic at it. */
bool names_admin_req_parse(const char *prefix, const char *topic, size_t topic_len, const char **asker,
                           size_t *asker_len);

/* Classifies an incoming resource topic (not NUL-terminated) under prefix.
 * On success *kind is NAMES_STATE or NAMES_OUTCOME and *resource and
 * *resource_len point into topic at everything after "P/state/" or
 * "P/outcome/" (not validated: a retained topic someone else wrote may hold
 * anything; it may be empty). BATON_E_INVAL when the topic is anything else.
 * Outputs are untouched on error. */
baton_err names_resource_topic_parse(const char *prefix, const char *topic, size_t topic_len,
                                     names_kind *kind, const char **resource, size_t *resource_len);

/* True iff s[0..len) is a valid resource filter: 1..200 bytes of valid UTF-8,
 * '+' and '#' only as whole levels, '#' only as the last level, no control
 * characters (U+0000-001F, U+007F), not starting with '$'. */
bool names_resource_filter_valid(const char *s, size_t len);

/* Writes the subscription filter of kind for prefix into buf, NUL-terminated;
 * *len_out (may be NULL) gets its length. For a resource kind (NAMES_STATE,
 * NAMES_OUTCOME) filter is a resource filter (names_resource_filter_valid),
 * or NULL for every resource ("P/state/#"). For a node kind (NAMES_REQ,
 * NAMES_GRANT, NAMES_NODE) filter is NULL: every node ("P/req/+"), or "#":
 * every topic under it ("P/req/#"), so that one with a bad node part arrives
 * too and can be counted as a bad_topic.
 * NAMES_COORDINATOR and NAMES_STATS ignore filter: their one topic.
 * BATON_E_INVAL, buf unspecified, for a bad prefix, kind or filter, or when
 * it does not fit in cap; cap >= NAMES_TOPIC_MAX + 1 always fits. */
baton_err names_filter(char *buf, size_t cap, const char *prefix, names_kind kind, const char *filter,
                       size_t *len_out);

/* True iff the MQTT topic (NUL-terminated, no wildcards) matches filter
 * (NUL-terminated, '+' and '#' as MQTT 3.1.1 4.7 defines them: "a/#" also
 * matches "a"). */
bool names_filter_match(const char *filter, const char *topic);

/* Writes a valid node id derived from s into buf (cap >= NAMES_NODE_MAX + 1):
 * every byte outside the grammar becomes '-', truncated to 64 bytes; an empty
 * input gives "node". Cannot fail. */
void names_node_sanitize(char *buf, size_t cap, const char *s);

#endif
