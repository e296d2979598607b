/*
 * test_glog.c - the group's log-entry codec (coordinator/glog.c): golden
 * bytes of version 1, round trips of every kind, every truncation and
 * corruption refused, bounds, and a failing allocator (this binary is linked
 * with -Wl,--wrap=malloc,--wrap=calloc: see tests/unit/group.cmake).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "glog.h"

/* ---- a failing allocator ------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);

static long budget = -1; /* allocations left; -1: unlimited */

static bool spend(void)
{
	if (budget == 0)
		return false;
	if (budget > 0)
		budget--;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return spend() ? __real_malloc(n) : NULL;
}

void *__wrap_calloc(size_t n, size_t size)
{
	return spend() ? __real_calloc(n, size) : NULL;
}

/* ---- helpers ------------------------------------------------------------ */

static glog_msg msg(const char *topic, const char *payload, bool retained)
{
	return (glog_msg){.topic = topic,
	                  .topic_len = strlen(topic),
	                  .payload = payload,
	                  .len = payload ? strlen(payload) : 0,
	                  .retained = retained};
}

static void roundtrip(const glog_entry *e, glog_entry *back, void **buf)
{
	size_t len = 0;
	assert_int_equal(glog_encode(e, NULL, buf, &len), BATON_OK);
	assert_int_equal(glog_decode(*buf, len, back), BATON_OK);
	assert_int_equal(back->kind, e->kind);
	assert_true(back->now == e->now);
}

/* ---- cases -------------------------------------------------------------- */

/* Version 1's bytes, written out by hand: a change to the layout must be a
 * new version, never a silent edit (old logs must still decode). */
static void test_glog_batch_golden_bytes_v1(void **state)
{
	(void)state;
	static const unsigned char golden[] = {
	    'B', 'G', 1,   1,   0x01, 0x02, 0, 0, 0, 0, 0, 0, /* header, now 0x0201 */
	    1,   0,   0,   0,                                 /* 1 message */
	    1,   3,   0,   0,   0,    2,    0, 0, 0,          /* retained, topic 3, payload 2 */
	    'a', '/', 'b', 'h', 'i',  0,    0};               /* zeros to a multiple of 8 */
	glog_msg m = msg("a/b", "hi", true);
	glog_entry e = {.kind = GLOG_BATCH, .now = 0x0201, .msgs = &m, .n_msgs = 1};
	void *buf = NULL;
	size_t len = 0;
	assert_int_equal(glog_encode(&e, NULL, &buf, &len), BATON_OK);
	assert_int_equal(len, sizeof golden);
	assert_memory_equal(buf, golden, sizeof golden);
	glog_entry back;
	assert_int_equal(glog_decode(golden, sizeof golden, &back), BATON_OK);
	assert_int_equal(back.n_msgs, 1);
	assert_int_equal(back.msgs[0].topic_len, 3);
	assert_memory_equal(back.msgs[0].topic, "a/b", 3);
	assert_memory_equal(back.msgs[0].payload, "hi", 2);
	assert_true(back.msgs[0].retained);
	glog_entry_deinit(&back);
	free(buf);
}

static void test_glog_every_kind_roundtrips(void **state)
{
	(void)state;
	glog_msg ms[3] = {msg("baton/v1/req/n1", "{\"v\":1}", false), msg("baton/v1/node/n2", "", true),
	                  msg("x", NULL, false)};
	glog_entry batch = {.kind = GLOG_BATCH, .now = 1795000000123LL, .msgs = ms, .n_msgs = 3};
	glog_entry tick = {.kind = GLOG_TICK, .now = -5};
	glog_entry cfg = {.kind = GLOG_CONFIG,
	                  .now = 7,
	                  .config = {.default_lease_ms = 30000,
	                             .max_lease_ms = 3600000,
	                             .done_ttl_ms = UINT64_MAX - 1,
	                             .id_memory = 64}};
	glog_entry lead = {
	    .kind = GLOG_LEADER, .now = 8, .leader = {.term = 1ULL << 40, .member = 3, .extend_ms = 600}};
	glog_entry back;
	void *buf;

	roundtrip(&batch, &back, &buf);
	assert_int_equal(back.n_msgs, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(back.msgs[i].topic_len, ms[i].topic_len);
		assert_memory_equal(back.msgs[i].topic, ms[i].topic, ms[i].topic_len);
		assert_int_equal(back.msgs[i].len, ms[i].len);
		assert_int_equal(back.msgs[i].retained, ms[i].retained);
	}
	glog_entry_deinit(&back);
	free(buf);

	roundtrip(&tick, &back, &buf);
	glog_entry_deinit(&back);
	free(buf);

	roundtrip(&cfg, &back, &buf);
	assert_int_equal(back.config.default_lease_ms, 30000);
	assert_int_equal(back.config.max_lease_ms, 3600000);
	assert_true(back.config.done_ttl_ms == UINT64_MAX - 1);
	assert_int_equal(back.config.id_memory, 64);
	free(buf);

	roundtrip(&lead, &back, &buf);
	assert_true(back.leader.term == 1ULL << 40);
	assert_int_equal(back.leader.member, 3);
	assert_int_equal(back.leader.extend_ms, 600);
	free(buf);
}

/* Every proper prefix of a valid entry, and the entry with a byte added, is
 * refused as corrupt; nothing is read past the end (ASan would say). */
static void test_glog_truncated_or_trailing_is_corrupt(void **state)
{
	(void)state;
	glog_msg ms[2] = {msg("baton/v1/req/n1", "{\"v\":1,\"op\":\"x\"}", false), msg("t", "p", true)};
	glog_entry es[] = {{.kind = GLOG_BATCH, .now = 1, .msgs = ms, .n_msgs = 2},
	                   {.kind = GLOG_TICK, .now = 2},
	                   {.kind = GLOG_CONFIG, .now = 3},
	                   {.kind = GLOG_LEADER, .now = 4, .leader = {.term = 2, .member = 1}}};
	for (size_t k = 0; k < sizeof es / sizeof es[0]; k++) {
		void *buf = NULL;
		size_t len = 0;
		assert_int_equal(glog_encode(&es[k], NULL, &buf, &len), BATON_OK);
		for (size_t cut = 0; cut < len; cut++) {
			unsigned char *part = malloc(cut + 1); /* exact size: ASan catches an over-read */
			memcpy(part, buf, cut);
			glog_entry out = {.kind = 0};
			assert_int_equal(glog_decode(part, cut, &out), BATON_E_STORE_CORRUPT);
			assert_int_equal(out.kind, 0); /* untouched */
			free(part);
		}
		unsigned char *more = malloc(len + 1);
		memcpy(more, buf, len);
		more[len] = 0;
		glog_entry out;
		assert_int_equal(glog_decode(more, len + 1, &out), BATON_E_STORE_CORRUPT);
		free(more);
		free(buf);
	}
}

/* libraft 0.15 decodes a batch of entries received over TCP as if each
 * entry's data were padded to 8 bytes, but sends them unpadded (src/
 * uv_encoding.c): an entry of another length shifts every entry after it in
 * the same AppendEntries message. A restarted member catching up read a
 * shifted entry and stopped (found by hand before this test). So every
 * entry is a multiple of 8 bytes, and its padding must be zeros. */
static void test_glog_entries_padded_to_8_bytes(void **state)
{
	(void)state;
	char payload[40];
	memset(payload, 'p', sizeof payload);
	for (size_t n = 0; n < sizeof payload; n++) {
		glog_msg m = {.topic = "t/x", .topic_len = 3, .payload = payload, .len = n};
		glog_entry e = {.kind = GLOG_BATCH, .now = 1, .msgs = &m, .n_msgs = 1};
		void *buf;
		size_t len;
		glog_entry out;
		assert_int_equal(glog_encode(&e, NULL, &buf, &len), BATON_OK);
		assert_int_equal(len % 8, 0);
		assert_int_equal(glog_decode(buf, len, &out), BATON_OK);
		assert_int_equal(out.msgs[0].len, n);
		glog_entry_deinit(&out);
		size_t unpadded = GLOG_HEADER_LEN + 4 + glog_msg_size(&m);
		if (unpadded < len) {
			((unsigned char *)buf)[len - 1] = 1; /* padding that is not zero */
			assert_int_equal(glog_decode(buf, len, &out), BATON_E_STORE_CORRUPT);
		}
		free(buf);
	}
	glog_entry kinds[] = {
	    {.kind = GLOG_TICK}, {.kind = GLOG_CONFIG}, {.kind = GLOG_LEADER, .leader = {.member = 1}}};
	for (size_t k = 0; k < 3; k++) {
		void *buf;
		size_t len;
		assert_int_equal(glog_encode(&kinds[k], NULL, &buf, &len), BATON_OK);
		assert_int_equal(len % 8, 0);
		free(buf);
	}
}

static void test_glog_bad_header_refused(void **state)
{
	(void)state;
	glog_entry tick = {.kind = GLOG_TICK, .now = 9};
	void *buf;
	size_t len;
	glog_entry out;
	assert_int_equal(glog_encode(&tick, NULL, &buf, &len), BATON_OK);
	unsigned char *b = buf;
	b[0] = 'X';
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_CORRUPT);
	b[0] = 'B';
	b[2] = 2; /* a newer version */
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_TOO_NEW);
	b[2] = 0;
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_CORRUPT);
	b[2] = 1;
	b[3] = 99; /* unknown kind */
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_CORRUPT);
	b[3] = GLOG_TICK;
	assert_int_equal(glog_decode(b, len, &out), BATON_OK);
	free(buf);
}

/* Lengths in a corrupt batch that point past the end, over a bound, a zero
 * topic, unknown flags, or a count larger than the bytes could hold. */
static void test_glog_batch_bad_lengths_refused(void **state)
{
	(void)state;
	glog_msg m = msg("ab", "cd", false);
	glog_entry e = {.kind = GLOG_BATCH, .now = 1, .msgs = &m, .n_msgs = 1};
	void *buf;
	size_t len;
	glog_entry out;
	assert_int_equal(glog_encode(&e, NULL, &buf, &len), BATON_OK);
	unsigned char *b = buf;
	const size_t cnt = GLOG_HEADER_LEN, flags = cnt + 4, tl = flags + 1, pl = tl + 4;

	b[cnt] = 2; /* two messages, bytes for one */
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_CORRUPT);
	b[cnt] = 0xff, b[cnt + 1] = 0xff, b[cnt + 2] = 0xff, b[cnt + 3] = 0x7f; /* over GLOG_MSGS_MAX */
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_CORRUPT);
	memset(b + cnt, 0, 4), b[cnt] = 1;
	b[flags] = 2; /* unknown flag */
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_CORRUPT);
	b[flags] = 0;
	b[tl] = 0; /* empty topic */
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_CORRUPT);
	b[tl] = 7; /* topic runs through the payload and past the end */
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_CORRUPT);
	b[tl] = 2;
	b[pl + 3] = 0x80; /* payload length over the bound */
	assert_int_equal(glog_decode(b, len, &out), BATON_E_STORE_CORRUPT);
	b[pl + 3] = 0;
	assert_int_equal(glog_decode(b, len, &out), BATON_OK);
	glog_entry_deinit(&out);
	free(buf);
}

static void test_glog_encode_bounds_inval(void **state)
{
	(void)state;
	void *buf = (void *)1;
	size_t len = 77;
	glog_msg empty = {.topic = "", .topic_len = 0};
	glog_entry e = {.kind = GLOG_BATCH, .msgs = &empty, .n_msgs = 1};
	assert_int_equal(glog_encode(&e, NULL, &buf, &len), BATON_E_INVAL);
	glog_msg big = msg("t", NULL, false);
	big.len = GLOG_PAYLOAD_MAX + 1;
	big.payload = "";
	e.msgs = &big;
	assert_int_equal(glog_encode(&e, NULL, &buf, &len), BATON_E_INVAL);
	e.msgs = NULL;
	e.n_msgs = GLOG_MSGS_MAX + 1;
	assert_int_equal(glog_encode(&e, NULL, &buf, &len), BATON_E_INVAL);
	glog_entry lead = {.kind = GLOG_LEADER}; /* member 0 */
	assert_int_equal(glog_encode(&lead, NULL, &buf, &len), BATON_E_INVAL);
	glog_entry unknown = {.kind = (glog_kind)42};
	assert_int_equal(glog_encode(&unknown, NULL, &buf, &len), BATON_E_INVAL);
	assert_ptr_equal(buf, (void *)1);
	assert_int_equal(len, 77);

	/* A batch of many 1 MiB payloads stops at GLOG_ENTRY_MAX. */
	static char payload[GLOG_PAYLOAD_MAX];
	glog_msg many[9];
	for (size_t i = 0; i < 9; i++)
		many[i] = (glog_msg){.topic = "t", .topic_len = 1, .payload = payload, .len = sizeof payload};
	glog_entry huge = {.kind = GLOG_BATCH, .msgs = many, .n_msgs = 9};
	assert_int_equal(glog_encode(&huge, NULL, &buf, &len), BATON_E_INVAL);
	huge.n_msgs = 7;
	assert_int_equal(glog_encode(&huge, NULL, &buf, &len), BATON_OK);
	assert_int_equal(len, (GLOG_HEADER_LEN + 4 + 7 * glog_msg_size(&many[0]) + 7) / 8 * 8);
	free(buf);
}

static void *alloc_fail(size_t n)
{
	(void)n;
	return NULL;
}

/* Encoding and decoding under every allocation budget: NOMEM with outputs
 * untouched, or success; never a leak (ASan) or a partial output. */
static void test_glog_failing_allocator_nomem_or_success(void **state)
{
	(void)state;
	glog_msg ms[2] = {msg("a", "b", false), msg("c", "d", true)};
	glog_entry e = {.kind = GLOG_BATCH, .now = 5, .msgs = ms, .n_msgs = 2};
	void *buf = (void *)1;
	size_t len = 3;
	assert_int_equal(glog_encode(&e, alloc_fail, &buf, &len), BATON_E_NOMEM);
	assert_ptr_equal(buf, (void *)1);
	assert_int_equal(len, 3);
	bool succeeded = false;
	for (long b = 0; b < 4 && !succeeded; b++) {
		budget = b;
		baton_err rc = glog_encode(&e, NULL, &buf, &len);
		budget = -1;
		assert_true(rc == BATON_OK || rc == BATON_E_NOMEM);
		succeeded = rc == BATON_OK;
	}
	assert_true(succeeded);
	succeeded = false;
	for (long b = 0; b < 4 && !succeeded; b++) {
		glog_entry out = {.kind = 0};
		budget = b;
		baton_err rc = glog_decode(buf, len, &out);
		budget = -1;
		if (rc == BATON_E_NOMEM) {
			assert_int_equal(out.kind, 0);
			continue;
		}
		assert_int_equal(rc, BATON_OK);
		assert_int_equal(out.n_msgs, 2);
		glog_entry_deinit(&out);
		succeeded = true;
	}
	assert_true(succeeded);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_glog_batch_golden_bytes_v1),
	    cmocka_unit_test(test_glog_every_kind_roundtrips),
	    cmocka_unit_test(test_glog_truncated_or_trailing_is_corrupt),
	    cmocka_unit_test(test_glog_entries_padded_to_8_bytes),
	    cmocka_unit_test(test_glog_bad_header_refused),
	    cmocka_unit_test(test_glog_batch_bad_lengths_refused),
	    cmocka_unit_test(test_glog_encode_bounds_inval),
	    cmocka_unit_test(test_glog_failing_allocator_nomem_or_success),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
