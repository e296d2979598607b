/*
 * test_broker_topic.c - the coordinator's last fence before paho: a topic
 * mosquitto would refuse (and drop our connection for) is never published
 * (coordinator/broker.h, broker_topic_ok and broker_publish).
 *
 * Owns: the cases of the broker's own topic rules as the publish path sees
 * them. No broker: broker_publish refuses before any network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static void test_broker_topic_ok_broker_rules(void **state)
{
	(void)state;
	assert_true(broker_topic_ok(S("baton/v1/state/images/nginx:1.25")));
	assert_true(broker_topic_ok(S("baton/v1/state/caf\xc3\xa9")));
	assert_false(broker_topic_ok(S("baton/v1/state/x\xef\xb7\x90"))); /* U+FDD0 */
	assert_false(broker_topic_ok(S("baton/v1/state/a\xef\xbf\xbf"))); /* U+FFFF */
	assert_false(broker_topic_ok(S("baton/v1/state/a\x01")));
	assert_false(broker_topic_ok(S("baton/v1/state/a\xc2\x85"))); /* U+0085 */
	assert_false(broker_topic_ok(S("baton/v1/state/\xc0\xaf")));  /* overlong */
	assert_false(broker_topic_ok(S("baton/v1/state/+")));
	assert_false(broker_topic_ok(S("baton/v1/state/#")));
	assert_false(broker_topic_ok(S("")));
}

/* A refused topic never reaches paho: BATON_E_INVAL, nothing in the backlog,
 * and the error says why. */
static void test_broker_publish_refused_topic_dropped(void **state)
{
	(void)state;
	broker *b = NULL;
	char err[256] = "";
	broker_options o = {.uri = "tcp://127.0.0.1:1", .client_id = "t-topic", .wake_fd = -1};

	assert_int_equal(broker_new(&o, &b, err, sizeof err), BATON_OK);
	assert_int_equal(broker_publish(b, "baton/v1/state/x\xef\xb7\x90y", "{}", 2, 1, true), BATON_E_INVAL);
	assert_int_equal(broker_backlog(b), 0);
	assert_non_null(strstr(broker_error(b), "refuse"));
	/* A good topic is buffered (not connected: sendWhileDisconnected). */
	assert_int_equal(broker_publish(b, "baton/v1/state/ok", "{}", 2, 1, true), BATON_OK);
	assert_int_equal(broker_backlog(b), 1);
	broker_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_broker_topic_ok_broker_rules),
	    cmocka_unit_test(test_broker_publish_refused_topic_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
