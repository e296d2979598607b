/*
 * test_snapdue.c - the snapshot coalescer (coordinator/snapdue.h).
 *
 * Owns: dedup of due resources, their order, the throttle, and the
 * keep-on-failure rule of snapdue_flush. No network, no file system.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "snapdue.h"

typedef struct seen {
	char names[8][16];
	int n;
	const char *keep; /* publish returns false for this one */
} seen;

static bool record(void *ctx, const char *resource)
{
	seen *s = ctx;
	assert_true(s->n < 8);
	strcpy(s->names[s->n++], resource);
	return s->keep == NULL || strcmp(s->keep, resource) != 0;
}

static void test_snapdue_note_twice_publishes_once_in_order(void **state)
{
	(void)state;
	snapdue q;
	seen s = {0};
	snapdue_init(&q);
	assert_true(snapdue_note(&q, "b"));
	assert_true(snapdue_note(&q, "a"));
	assert_true(snapdue_note(&q, "b"));
	assert_int_equal(snapdue_count(&q), 2);
	snapdue_flush(&q, 1000, 50, record, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "b");
	assert_string_equal(s.names[1], "a");
	assert_int_equal(snapdue_count(&q), 0);
	snapdue_deinit(&q);
}

static void test_snapdue_throttle_holds_until_interval(void **state)
{
	(void)state;
	snapdue q;
	seen s = {0};
	snapdue_init(&q);
	assert_false(snapdue_ready(&q, 0)); /* nothing due */
	assert_true(snapdue_note(&q, "r"));
	assert_true(snapdue_ready(&q, 0)); /* first one goes at once */
	snapdue_flush(&q, 100, 50, record, &s);
	assert_true(snapdue_note(&q, "r"));
	assert_int_equal(snapdue_next_at(&q), 150);
	assert_false(snapdue_ready(&q, 149));
	assert_true(snapdue_ready(&q, 150));
	snapdue_deinit(&q);
}

static void test_snapdue_flush_kept_stays_due_and_noted_once(void **state)
{
	(void)state;
	snapdue q;
	seen s = {.keep = "b"};
	snapdue_init(&q);
	assert_true(snapdue_note(&q, "a"));
	assert_true(snapdue_note(&q, "b"));
	assert_true(snapdue_note(&q, "c"));
	snapdue_flush(&q, 0, 10, record, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(snapdue_count(&q), 1);
	assert_true(snapdue_note(&q, "b")); /* still due: not a second entry */
	assert_true(snapdue_note(&q, "a")); /* forgotten: due again, after b */
	assert_int_equal(snapdue_count(&q), 2);
	s = (seen){0};
	snapdue_flush(&q, 10, 10, record, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "b");
	assert_string_equal(s.names[1], "a");
	snapdue_deinit(&q);
}

static void test_snapdue_many_grow_and_deinit_frees(void **state)
{
	(void)state;
	snapdue q;
	char name[16];
	snapdue_init(&q);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "r%d", i % 300);
		assert_true(snapdue_note(&q, name));
	}
	assert_int_equal(snapdue_count(&q), 300);
	snapdue_deinit(&q); /* ASan reports a leak if an entry survives */
	assert_int_equal(snapdue_count(&q), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_snapdue_note_twice_publishes_once_in_order),
	    cmocka_unit_test(test_snapdue_throttle_holds_until_interval),
	    cmocka_unit_test(test_snapdue_flush_kept_stays_due_and_noted_once),
	    cmocka_unit_test(test_snapdue_many_grow_and_deinit_frees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
