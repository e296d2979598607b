/*
 * glog.c - encoding and decoding of the group's log entries (glog.h).
 *
 * Owns the byte layout only. Never trusts a length it reads: every field is
 * checked against what is left of the buffer before it is read, so a
 * corrupt entry is refused rather than read past its end. No I/O, no clock,
 * no global state; the only allocations are the encoded buffer and the
 * decoded message array.
 */
#include "glog.h"

#include <stdlib.h>
#include <string.h>

static const size_t cfg_len = 4 + 4 + 8 + 4;
static const size_t leader_len = 8 + 8 + 4;
static const size_t msg_head_len = 1 + 4 + 4;

const char *glog_kind_name(glog_kind k)
{
	switch (k) {
	case GLOG_BATCH:
		return "batch";
	case GLOG_TICK:
		return "tick";
	case GLOG_CONFIG:
		return "config";
	case GLOG_LEADER:
		return "leader";
	}
	return "?";
}

size_t glog_msg_size(const glog_msg *m)
{
	return msg_head_len + m->topic_len + m->len;
}

/* ---- writing ----------------------------------------------------------- */

typedef struct wbuf {
	unsigned char *p;
	size_t at;
} wbuf;

static void put_u8(wbuf *w, uint8_t v)
{
	w->p[w->at++] = v;
}

static void put_u32(wbuf *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		w->p[w->at++] = (unsigned char)(v >> (8 * i));
}

static void put_u64(wbuf *w, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		w->p[w->at++] = (unsigned char)(v >> (8 * i));
}

static void put_bytes(wbuf *w, const void *src, size_t n)
{
	if (n > 0)
		memcpy(w->p + w->at, src, n);
	w->at += n;
}

/* n rounded up to a multiple of 8. libraft 0.15 sends a batch of entries
 * over TCP unpadded but decodes it as if every entry's data were padded to
 * 8 bytes (src/uv_encoding.c, uvEncodeMessage and uvDecodeEntriesBatch): a
 * follower catching up on several entries of odd lengths would read them
 * shifted. Every entry is therefore padded with zeros to 8 bytes. */
static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* The encoded size of e (before padding), or 0 when e breaks a bound. */
static size_t size_of(const glog_entry *e)
{
	size_t n = GLOG_HEADER_LEN;
	switch (e->kind) {
	case GLOG_BATCH:
		if (e->n_msgs > GLOG_MSGS_MAX || (e->n_msgs > 0 && e->msgs == NULL))
			return 0;
		n += 4;
		for (size_t i = 0; i < e->n_msgs; i++) {
			const glog_msg *m = &e->msgs[i];
			if (m->topic_len == 0 || m->topic_len > GLOG_TOPIC_MAX || m->topic == NULL ||
			    m->len > GLOG_PAYLOAD_MAX || (m->len > 0 && m->payload == NULL))
				return 0;
			n += glog_msg_size(m);
			if (n > GLOG_ENTRY_MAX)
				return 0;
		}
		return n;
	case GLOG_TICK:
		return n;
	case GLOG_CONFIG:
		return n + cfg_len;
	case GLOG_LEADER:
		return e->leader.member == 0 ? 0 : n + leader_len;
	}
	return 0;
}

baton_err glog_encode(const glog_entry *e, void *(*alloc)(size_t), void **out, size_t *len)
{
	if (e == NULL || out == NULL || len == NULL)
		return BATON_E_INVAL;
	size_t n = size_of(e);
	if (n == 0)
		return BATON_E_INVAL;
	n = pad8(n);
	wbuf w = {.p = (alloc != NULL ? alloc : malloc)(n), .at = 0};
	if (w.p == NULL)
		return BATON_E_NOMEM;
	put_u8(&w, 'B');
	put_u8(&w, 'G');
	put_u8(&w, GLOG_VERSION);
	put_u8(&w, (uint8_t)e->kind);
	put_u64(&w, (uint64_t)e->now);
	switch (e->kind) {
	case GLOG_BATCH:
		put_u32(&w, (uint32_t)e->n_msgs);
		for (size_t i = 0; i < e->n_msgs; i++) {
			const glog_msg *m = &e->msgs[i];
			put_u8(&w, m->retained ? 1 : 0);
			put_u32(&w, (uint32_t)m->topic_len);
			put_u32(&w, (uint32_t)m->len);
			put_bytes(&w, m->topic, m->topic_len);
			put_bytes(&w, m->payload, m->len);
		}
		break;
	case GLOG_TICK:
		break;
	case GLOG_CONFIG:
		put_u32(&w, e->config.default_lease_ms);
		put_u32(&w, e->config.max_lease_ms);
		put_u64(&w, e->config.done_ttl_ms);
		put_u32(&w, e->config.id_memory);
		break;
	case GLOG_LEADER:
		put_u64(&w, e->leader.term);
		put_u64(&w, e->leader.member);
		put_u32(&w, e->leader.extend_ms);
		break;
	}
	memset(w.p + w.at, 0, n - w.at);
	*out = w.p;
	*len = n;
	return BATON_OK;
}

/* ---- reading ----------------------------------------------------------- */

typedef struct rbuf {
	const unsigned char *p;
	size_t at, len;
	bool bad; /* a read ran past the end: every later read gives 0 */
} rbuf;

static bool have(rbuf *r, size_t n)
{
	if (r->bad || r->len - r->at < n) {
		r->bad = true;
		return false;
	}
	return true;
}

static uint8_t get_u8(rbuf *r)
{
	return have(r, 1) ? r->p[r->at++] : 0;
}

static uint32_t get_u32(rbuf *r)
{
	uint32_t v = 0;
	if (!have(r, 4))
		return 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)r->p[r->at++] << (8 * i);
	return v;
}

static uint64_t get_u64(rbuf *r)
{
	uint64_t v = 0;
	if (!have(r, 8))
		return 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[r->at++] << (8 * i);
	return v;
}

static const char *get_bytes(rbuf *r, size_t n)
{
	if (!have(r, n))
		return NULL;
	const char *s = (const char *)r->p + r->at;
	r->at += n;
	return s;
}

/* Reads a BATCH body into a new array in *out. */
static baton_err get_msgs(rbuf *r, glog_msg **out, size_t *n_out)
{
	uint32_t n = get_u32(r);
	if (r->bad || n > GLOG_MSGS_MAX || (size_t)n * msg_head_len > r->len - r->at)
		return BATON_E_STORE_CORRUPT;
	glog_msg *m = n > 0 ? calloc(n, sizeof *m) : NULL;
	if (n > 0 && m == NULL)
		return BATON_E_NOMEM;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t flags = get_u8(r);
		uint32_t tl = get_u32(r), pl = get_u32(r);
		if (r->bad || (flags & ~1u) != 0 || tl == 0 || tl > GLOG_TOPIC_MAX || pl > GLOG_PAYLOAD_MAX)
			goto corrupt;
		m[i].retained = flags & 1u;
		m[i].topic_len = tl;
		m[i].topic = get_bytes(r, tl);
		m[i].len = pl;
		m[i].payload = get_bytes(r, pl);
		if (r->bad)
			goto corrupt;
	}
	*out = m;
	*n_out = n;
	return BATON_OK;
corrupt:
	free(m);
	return BATON_E_STORE_CORRUPT;
}

baton_err glog_decode(const void *buf, size_t len, glog_entry *out)
{
	if (buf == NULL || out == NULL)
		return BATON_E_INVAL;
	rbuf r = {.p = buf, .at = 0, .len = len};
	glog_entry e = {0};
	uint8_t m0 = get_u8(&r), m1 = get_u8(&r), version = get_u8(&r), kind = get_u8(&r);
	e.now = (int64_t)get_u64(&r);
	if (r.bad || m0 != 'B' || m1 != 'G' || version == 0)
		return BATON_E_STORE_CORRUPT;
	if (version > GLOG_VERSION)
		return BATON_E_STORE_TOO_NEW;
	e.kind = (glog_kind)kind;
	baton_err rc = BATON_OK;
	switch (kind) {
	case GLOG_BATCH:
		rc = get_msgs(&r, &e.msgs, &e.n_msgs);
		break;
	case GLOG_TICK:
		break;
	case GLOG_CONFIG:
		e.config.default_lease_ms = get_u32(&r);
		e.config.max_lease_ms = get_u32(&r);
		e.config.done_ttl_ms = get_u64(&r);
		e.config.id_memory = get_u32(&r);
		break;
	case GLOG_LEADER:
		e.leader.term = get_u64(&r);
		e.leader.member = get_u64(&r);
		e.leader.extend_ms = get_u32(&r);
		if (e.leader.member == 0)
			r.bad = true;
		break;
	default:
		return BATON_E_STORE_CORRUPT;
	}
	/* Exactly the padding to 8 bytes may follow, and it is zeros. */
	if (rc == BATON_OK && (r.bad || r.len != pad8(r.at)))
		rc = BATON_E_STORE_CORRUPT;
	for (size_t i = r.at; rc == BATON_OK && i < r.len; i++)
		if (r.p[i] != 0)
			rc = BATON_E_STORE_CORRUPT;
	if (rc != BATON_OK) {
		free(e.msgs);
		return rc;
	}
	*out = e;
	return BATON_OK;
}

void glog_entry_deinit(glog_entry *e)
{
	if (e == NULL)
		return;
	free(e->msgs);
	e->msgs = NULL;
	e->n_msgs = 0;
}

/* ---- snapshot -------------------------------------------------------------- */

baton_err glog_snap_encode(const glog_snap *s, void *(*alloc)(size_t), void **out, size_t *len)
{
	if (s == NULL || out == NULL || len == NULL || (s->image_len > 0 && s->image == NULL) ||
	    s->image_len > SIZE_MAX - GLOG_SNAP_HEADER_LEN)
		return BATON_E_INVAL;
	size_t n = GLOG_SNAP_HEADER_LEN + s->image_len;
	wbuf w = {.p = (alloc != NULL ? alloc : malloc)(n), .at = 0};
	if (w.p == NULL)
		return BATON_E_NOMEM;
	put_u8(&w, 'B');
	put_u8(&w, 'S');
	put_u8(&w, GLOG_VERSION);
	put_u8(&w, 0);
	put_u64(&w, (uint64_t)s->last_now);
	put_u64(&w, (uint64_t)s->started_at);
	put_u64(&w, s->leader_term);
	put_u64(&w, s->leader_member);
	put_u32(&w, s->config.default_lease_ms);
	put_u32(&w, s->config.max_lease_ms);
	put_u64(&w, s->config.done_ttl_ms);
	put_u32(&w, s->config.id_memory);
	put_u64(&w, (uint64_t)s->image_len);
	put_bytes(&w, s->image, s->image_len);
	*out = w.p;
	*len = n;
	return BATON_OK;
}

baton_err glog_snap_decode(const void *buf, size_t len, glog_snap *out)
{
	if (buf == NULL || out == NULL)
		return BATON_E_INVAL;
	rbuf r = {.p = buf, .at = 0, .len = len};
	glog_snap s = {0};
	uint8_t m0 = get_u8(&r), m1 = get_u8(&r), version = get_u8(&r), zero = get_u8(&r);
	if (r.bad || m0 != 'B' || m1 != 'S' || version == 0)
		return BATON_E_STORE_CORRUPT;
	if (version > GLOG_VERSION)
		return BATON_E_STORE_TOO_NEW;
	s.last_now = (int64_t)get_u64(&r);
	s.started_at = (int64_t)get_u64(&r);
	s.leader_term = get_u64(&r);
	s.leader_member = get_u64(&r);
	s.config.default_lease_ms = get_u32(&r);
	s.config.max_lease_ms = get_u32(&r);
	s.config.done_ttl_ms = get_u64(&r);
	s.config.id_memory = get_u32(&r);
	uint64_t il = get_u64(&r);
	if (r.bad || zero != 0 || il != r.len - r.at)
		return BATON_E_STORE_CORRUPT;
	s.image_len = (size_t)il;
	s.image = get_bytes(&r, s.image_len);
	*out = s;
	return BATON_OK;
}
