/*
 * glog.h - the replicated group's log entries and their binary codec.
 *
 * The raft log carries inputs, never outputs (docs/architecture.md, "The
 * replicated group"): one entry per inbox batch (the leader's clock and the
 * raw MQTT messages as they arrived), one for time passing with no message,
 * one for the lock table's configuration and one for a leadership change.
 * Every member decodes every committed entry and applies it through
 * apply.c, so the entry must say everything that applying needs and nothing
 * a member could read differently.
 *
 * Format (version 1, every integer little-endian, no padding):
 *   "BG" u8 version u8 kind i64 now                       12-byte header
 *   BATCH:  u32 n, then n times: u8 flags (bit 0 retained) u32 topic_len
 *           u32 payload_len, topic bytes, payload bytes
 *   TICK:   nothing more
 *   CONFIG: u32 default_lease_ms u32 max_lease_ms u64 done_ttl_ms u32 id_memory
 *   LEADER: u64 term u64 member u32 extend_ms
 * The fields are followed by zeros up to a multiple of 8 bytes (libraft 0.15
 * needs that: glog.c, pad8); any other trailing byte is corruption.
 *
 * Pure: no I/O, no clock. Not thread-safe per entry; no global state.
 */
#ifndef BATON_GLOG_H
#define BATON_GLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"

#define GLOG_VERSION     1
#define GLOG_HEADER_LEN  12
#define GLOG_TOPIC_MAX   65535             /* bytes: the MQTT limit */
#define GLOG_PAYLOAD_MAX (1024 * 1024)     /* bytes of one message's payload carried */
#define GLOG_MSGS_MAX    100000            /* messages in one batch entry */
#define GLOG_ENTRY_MAX   (8 * 1024 * 1024) /* bytes of one encoded entry */

typedef enum glog_kind {
	GLOG_BATCH = 1, /* messages taken from the broker in one go, at `now` */
	GLOG_TICK,      /* time passed to `now` with no message */
	GLOG_CONFIG,    /* the lock table's configuration from `now` on */
	GLOG_LEADER,    /* a new leader serves from `now` on */
} glog_kind;

/* One raw message as the broker delivered it. Not NUL-terminated. */
typedef struct glog_msg {
	const char *topic;
	size_t topic_len; /* 1 .. GLOG_TOPIC_MAX */
	const char *payload;
	size_t len; /* 0 .. GLOG_PAYLOAD_MAX */
	bool retained;
	int64_t arrived_ns; /* not encoded: its local arrival (CLOCK_MONOTONIC) for the
	                       metrics; 0 when unknown (every decoded entry) */
} glog_msg;

typedef struct glog_config {
	uint32_t default_lease_ms;
	uint32_t max_lease_ms;
	uint64_t done_ttl_ms;
	uint32_t id_memory;
} glog_config;

typedef struct glog_leader {
	uint64_t term;      /* the raft term the new leader won */
	uint64_t member;    /* its member id (raft id, > 0) */
	uint32_t extend_ms; /* every live lease moves this much later */
} glog_leader;

/* One entry. For BATCH, msgs points to n_msgs messages; the rest is per kind. */
typedef struct glog_entry {
	glog_kind kind;
	int64_t now; /* the leader's clock, ms since the epoch */
	glog_msg *msgs;
	size_t n_msgs;
	glog_config config; /* CONFIG */
	glog_leader leader; /* LEADER */
} glog_entry;

/* The bytes one message adds to a BATCH entry, for a leader that splits its
 * inbox into entries under GLOG_ENTRY_MAX. Cannot fail. */
size_t glog_msg_size(const glog_msg *m);

/* Encodes e into a new buffer of *len bytes (a multiple of 8), allocated with alloc(size) (the
 * caller frees it with the matching free: libraft's raft_malloc for raft_apply,
 * or malloc). alloc NULL means malloc. Returns BATON_E_INVAL (nothing
 * allocated) when e breaks a bound above or has an unknown kind, and
 * BATON_E_NOMEM when alloc fails; *out and *len are untouched on error. */
baton_err glog_encode(const glog_entry *e, void *(*alloc)(size_t), void **out, size_t *len);

/* Decodes buf[0..len) into *out. For BATCH, out->msgs is a new array
 * (malloc) whose topics and payloads point into buf: buf must outlive *out.
 * Free with glog_entry_deinit(). Returns BATON_E_STORE_TOO_NEW for a version
 * above GLOG_VERSION, BATON_E_STORE_CORRUPT for anything malformed (bad
 * magic, unknown kind, a length past the end or over a bound, trailing
 * bytes), BATON_E_NOMEM; *out is untouched on error. */
baton_err glog_decode(const void *buf, size_t len, glog_entry *out);

/* Frees what glog_decode allocated (the msgs array); e is left empty. */
void glog_entry_deinit(glog_entry *e);

/* ---- the group's snapshot ----------------------------------------------
 * A member's whole state at one applied index: what apply.c keeps beside the
 * table, then the store's SQLite file image (the table is rebuilt from it).
 *   "BS" u8 version(1) u8 0 i64 last_now i64 started_at u64 leader_term
 *   u64 leader_member  u32 default_lease_ms u32 max_lease_ms u64 done_ttl_ms
 *   u32 id_memory  u64 image_len  image bytes                              */

typedef struct glog_snap {
	int64_t last_now;
	int64_t started_at;
	uint64_t leader_term;
	uint64_t leader_member;
	glog_config config;
	const void *image; /* decode: points into the buffer decoded */
	size_t image_len;
} glog_snap;

#define GLOG_SNAP_HEADER_LEN 64

/* Encodes s (its image copied after the header) into a new buffer from alloc
 * (NULL: malloc). BATON_E_NOMEM; BATON_E_INVAL for a NULL argument. */
baton_err glog_snap_encode(const glog_snap *s, void *(*alloc)(size_t), void **out, size_t *len);

/* Decodes buf[0..len); out->image points into buf. BATON_E_STORE_TOO_NEW,
 * BATON_E_STORE_CORRUPT (bad magic, a length that is not the rest); *out
 * untouched on error. Allocates nothing. */
baton_err glog_snap_decode(const void *buf, size_t len, glog_snap *out);

/* "batch", "tick", "config", "leader" or "?". */
const char *glog_kind_name(glog_kind k);

#endif
