/*
 * session.c - a libbaton client's life: create, connect, the client thread's
 * loop over connection events and answers, and close.
 *
 * Owns the order of a (re)connect: subscribe first, announce online, see
 * that announcement come back (the broker's ACL lets us act as our node),
 * then re-send everything outstanding. The client thread is the only one that
 * ticks leases and calls user callbacks. Never prints; never calls paho
 * with c->mu held.
 */
#include "client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUB_TOPICS 64
#define ECHO_GRACE_MS  2000 /* our presence acknowledged, not yet back: wait this long */

void baton_options_init(baton_options *o)
{
	memset(o, 0, sizeof *o);
}

const char *baton_version(void)
{
	return BATON_VERSION;
}

/* ---- the client thread ---------------------------------------------------- */

/* Subscribed: announce online. We are ready once the broker sends that
 * presence back to us on our own node topic. */
static void on_subscribed_event(baton_client *c)
{
	pthread_mutex_lock(&c->mu);
	c->echo_seen = false;
	c->echo_due_ms = 0;
	pthread_mutex_unlock(&c->mu);
	(void)bt_client_publish_presence(c);
}

/* mosquitto 2.0 on MQTT 3.1.1 refuses nothing in words: it acknowledges a
 * publish its ACL drops, and a subscription it will not deliver. Our own
 * presence, acknowledged but never delivered back to us, is how we tell. */
static void on_presence_acked_event(baton_client *c)
{
	pthread_mutex_lock(&c->mu);
	if (!c->echo_seen && !c->ready)
		c->echo_due_ms = bt_client_now_ms() + ECHO_GRACE_MS;
	pthread_mutex_unlock(&c->mu);
}

/* Caller holds mu: the echo never came. */
static void refuse(baton_client *c)
{
	mqttwords_who who;

	c->echo_due_ms = 0;
	c->acl_refused = true;
	bt_client_who(c, &who);
	mqttwords_acl_refused(c->connect_error, sizeof c->connect_error, &who, c->node_topic);
	pthread_cond_broadcast(&c->cond);
}

static void on_ready_state(baton_client *c)
{
	action_list al;

	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	c->echo_seen = true;
	c->echo_due_ms = 0;
	c->acl_refused = false;
	c->ready = true;
	c->retry_at_ms = 0;
	c->retry_s = 0;
	bt_locks_resend(c, &al);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	bt_client_log(c, BATON_LOG_INFO, "connected to %s as %s", c->broker, c->node);
	bt_actions_run(c, &al);
}

static void on_connected_event(baton_client *c)
{
	char *topics[MAX_SUB_TOPICS];
	int n = 2, changed;

	changed = mqttnet_nodelay(c->broker);
	if (changed <= 0)
		bt_client_log(c, BATON_LOG_DEBUG, "TCP_NODELAY: no socket to %s found (%d)", c->broker,
		              changed);
	pthread_mutex_lock(&c->mu);
	c->connected = true;
	c->ever_connected = true;
	c->retry_at_ms = 0;
	c->ready = false;
	c->refused = false;
	c->connect_error[0] = '\0';
	c->connected_at_ms = bt_client_now_ms();
	topics[0] = strdup(c->grant_topic);
	topics[1] = strdup(c->coord_topic);
	topics[2] = strdup(c->node_topic); /* our presence comes back: on_subscribed_event */
	n = 3 + bt_watches_topics(c, topics + 3, MAX_SUB_TOPICS - 3);
	pthread_mutex_unlock(&c->mu);
	if (topics[0] == NULL || topics[1] == NULL || topics[2] == NULL)
		bt_client_log(c, BATON_LOG_ERROR, "out of memory while subscribing");
	else
		(void)bt_client_subscribe(c, topics, n, true);
	for (int i = 0; i < n; i++)
		free(topics[i]);
}

static void on_presence(baton_client *c, const char *payload, size_t len, bool retained)
{
	wire_presence p = {0};
	action_list al;
	bool restarted;

	if (len == 0 || wire_presence_decode(payload, len, &p) != BATON_OK) {
		if (len > 0)
			bt_client_log(c, BATON_LOG_WARN, "malformed coordinator presence ignored");
		return;
	}
	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	/* Re-send on every live online presence: the coordinator publishes one
	 * only after it (re)connects, and then it may have missed what we sent
	 * (restarted, or a restarted broker dropped our requests before the
	 * coordinator had subscribed again, with no offline presence in
	 * between for us to see). A retained one is what our own subscription
	 * brought, right after on_ready_state re-sent everything: only a new
	 * started_at makes it news. Repeats are harmless by the contract. */
	restarted = p.online && (!retained || (c->coord_seen && p.started_at_ms != c->coord_started_ms));
	c->coord_seen = true;
	c->coord_online = p.online;
	if (p.online)
		c->coord_started_ms = p.started_at_ms;
	if (restarted && c->ready)
		bt_locks_resend(c, &al);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	if (restarted)
		bt_client_log(c, BATON_LOG_INFO, "coordinator (re)appeared; outstanding requests re-sent");
	else if (!p.online)
		bt_client_log(c, BATON_LOG_WARN, "coordinator is offline");
	wire_presence_deinit(&p);
	bt_actions_run(c, &al);
}

static void on_own_presence(baton_client *c, const inmsg *m)
{
	bool echo;

	pthread_mutex_lock(&c->mu);
	echo = !m->retained && !c->ready && c->connected && strcmp(m->payload, c->online_payload) == 0;
	pthread_mutex_unlock(&c->mu);
	if (echo)
		on_ready_state(c);
}

static void on_message_event(baton_client *c, inmsg *m)
{
	if (strcmp(m->topic, c->grant_topic) == 0)
		bt_locks_on_answer(c, m->payload, m->len);
	else if (strcmp(m->topic, c->coord_topic) == 0)
		on_presence(c, m->payload, m->len, m->retained);
	else if (strcmp(m->topic, c->node_topic) == 0)
		on_own_presence(c, m);
	else if (!bt_watches_on_message(c, m->topic, m->payload, m->len, m->retained))
		bt_client_log(c, BATON_LOG_DEBUG, "message on unexpected topic %s ignored", m->topic);
}

static void on_failure_event(baton_client *c, inmsg *m)
{
	const char *why = m->payload ? m->payload : NULL;
	char lost[512], dup[512];
	bool duplicate = false;
	mqttwords_who who;
	action_list al;

	bt_client_who(c, &who);
	if (m->type == IN_CONNECT_FAILED && !m->final &&
	    mqttedge_explain_tls(&who, c->cert, c->key, m->code, 2000, lost, sizeof lost)) {
		/* A certificate for another host: final, like a wrong CA. */
		why = lost;
		m->final = true;
	} else if (m->type == IN_CONNECT_FAILED && !m->final && who.tls && m->code == -1 &&
	           mqttnet_tcp_reachable(c->broker, 1000)) {
		/* paho said only "TCP connect completion failure", but the port
		 * takes TCP: the TLS handshake is what failed (a client
		 * certificate the broker requires, or a plain listener). */
		mqttwords_connect(
		    lost, sizeof lost, &who, m->code, why,
		    "the broker accepted the TCP connection and ended the handshake (does it require "
		    "a client certificate, or is it a plain MQTT port?)");
		why = lost;
		m->final = true;
	}
	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	if (m->type == IN_CONN_LOST) {
		c->connected = false;
		c->ready = false;
		c->coord_online = false; /* unknown until its presence arrives again */
		duplicate =
		    mqttwords_lost_is_duplicate(bt_client_now_ms() - c->connected_at_ms, &c->short_streak);
		bt_locks_disconnected(c, &al);
	} else if (m->type == IN_CONNECT_FAILED) {
		snprintf(c->connect_error, sizeof c->connect_error, "%s", why ? why : "connect failed");
		c->refused = m->final;
		mqttwords_failed_attempt(&c->short_streak);
	}
	if (m->type == IN_CONNECT_FAILED && !c->ever_connected) {
		/* Only the first connect is ours to retry; after that paho's
		 * automatic reconnect does it (and reports failures here too). */
		c->retry_s = c->retry_s ? c->retry_s * 2 : 1;
		if (c->retry_s > 8)
			c->retry_s = 8;
		c->retry_at_ms = bt_client_now_ms() + c->retry_s * 1000;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	if (m->type == IN_CONN_LOST) {
		mqttwords_lost(lost, sizeof lost, &who, why);
		bt_client_log(c, BATON_LOG_WARN, "%s; held locks count as lost; reconnecting", lost);
		if (duplicate) {
			mqttwords_duplicate(dup, sizeof dup, &who);
			bt_client_log(c, BATON_LOG_ERROR, "%s", dup);
			(void)bt_client_fail(c, BATON_E_BROKER, "%s", dup);
		}
	} else if (m->type == IN_CONNECT_FAILED) {
		/* Info: the caller hears it from baton_client_connect() and
		 * baton_client_last_error(); paho retries every few seconds. */
		bt_client_log(c, BATON_LOG_INFO, "%s", why ? why : "connect failed");
	} else {
		bt_client_log(c, BATON_LOG_ERROR, "%s", why ? why : "?");
	}
	bt_actions_run(c, &al);
}

static void handle(baton_client *c, inmsg *m)
{
	switch (m->type) {
	case IN_MESSAGE:
		on_message_event(c, m);
		break;
	case IN_CONNECTED:
		on_connected_event(c);
		break;
	case IN_SUBSCRIBED:
		on_subscribed_event(c);
		break;
	case IN_PRESENCE_ACKED:
		on_presence_acked_event(c);
		break;
	default:
		on_failure_event(c, m);
		break;
	}
}

static void free_inmsgs(inmsg *m)
{
	while (m != NULL) {
		inmsg *next = m->next;

		free(m->topic);
		free(m->payload);
		free(m);
		m = next;
	}
}

static void *client_thread(void *arg)
{
	baton_client *c = arg;
	action_list al;
	int64_t next = INT64_MAX;

	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	while (!c->closing) {
		inmsg *batch;
		bool retry;

		if (c->in_head == NULL) {
			int64_t until = next;

			if (c->retry_at_ms != 0 && c->retry_at_ms < until)
				until = c->retry_at_ms;
			if (c->echo_due_ms != 0 && c->echo_due_ms < until)
				until = c->echo_due_ms;
			(void)bt_client_wait_until(c, until);
		}
		batch = c->in_head;
		c->in_head = NULL;
		c->in_tail = &c->in_head;
		pthread_mutex_unlock(&c->mu);
		for (inmsg *m = batch; m != NULL; m = m->next)
			handle(c, m);
		free_inmsgs(batch);
		pthread_mutex_lock(&c->mu);
		next = bt_locks_tick(c, bt_client_now_ms(), &al);
		if (c->echo_due_ms != 0 && bt_client_now_ms() >= c->echo_due_ms && !c->ready) {
			refuse(c);
			bt_client_log(c, BATON_LOG_DEBUG, "%s", c->connect_error); /* returned by connect */
		}
		retry = c->retry_at_ms != 0 && bt_client_now_ms() >= c->retry_at_ms && !c->closing;
		if (retry)
			c->retry_at_ms = 0;
		pthread_mutex_unlock(&c->mu);
		bt_actions_run(c, &al);
		if (retry)
			bt_client_start_connect(c);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- create, connect, close ------------------------------------------------ */

static char *dup_opt(const char *s, bool *nomem)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*nomem = true;
	return d;
}

static baton_err presence_payload(const char *node, bool online, char **out)
{
	wire_presence p = {0};
	size_t len;

	p.node = node;
	p.online = online;
	return wire_presence_encode(&p, out, &len);
}

static void client_destroy(baton_client *c)
{
	if (c->mq != NULL)
		MQTTAsync_destroy(&c->mq);
	free_inmsgs(c->in_head);
	free(c->broker);
	free(c->prefix);
	free(c->username);
	free(c->password);
	free(c->cafile);
	free(c->cert);
	free(c->key);
	free(c->online_payload);
	free(c->offline_payload);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->mu);
	mqttedge_tls_deinit(&c->tls);
	free(c);
}

static baton_err check_options(const baton_options *o, char *msg, size_t cap)
{
	const char *prefix = o->prefix ? o->prefix : BATON_PREFIX_DEFAULT;
	const char *broker = o->broker ? o->broker : BATON_BROKER_DEFAULT;
	char host[256], port[16];
	bool tls;

	if (o->node == NULL || !names_node_valid(o->node, strlen(o->node)))
		snprintf(msg, cap, "node id must be 1 to 64 characters of [A-Za-z0-9._-]");
	else if (!names_prefix_valid(prefix, strlen(prefix)))
		snprintf(msg, cap, "invalid topic prefix '%s'", prefix);
	else if (mqttnet_split_uri(broker, host, sizeof host, port, sizeof port, &tls) != BATON_OK)
		snprintf(msg, cap, "invalid broker URI '%s' (want tcp://host:port or ssl://host:port)",
		         broker);
	else if (o->keepalive_s > 3600)
		snprintf(msg, cap, "keepalive must be at most 3600 s");
	else
		return BATON_OK;
	return BATON_E_INVAL;
}

static baton_err client_fill(baton_client *c, const baton_options *o)
{
	bool nomem = false;

	c->broker = dup_opt(o->broker ? o->broker : BATON_BROKER_DEFAULT, &nomem);
	c->prefix = dup_opt(o->prefix ? o->prefix : BATON_PREFIX_DEFAULT, &nomem);
	c->username = dup_opt(o->username, &nomem);
	c->password = dup_opt(o->password, &nomem);
	c->cafile = dup_opt(o->cafile, &nomem);
	c->cert = dup_opt(o->cert, &nomem);
	c->key = dup_opt(o->key, &nomem);
	if (nomem)
		return BATON_E_NOMEM;
	snprintf(c->node, sizeof c->node, "%s", o->node);
	c->keepalive_s = o->keepalive_s ? o->keepalive_s : BATON_KEEPALIVE_DEFAULT;
	c->log = o->log;
	c->log_arg = o->log_arg;
	if (names_topic(c->req_topic, sizeof c->req_topic, c->prefix, NAMES_REQ, c->node, NULL) ||
	    names_topic(c->grant_topic, sizeof c->grant_topic, c->prefix, NAMES_GRANT, c->node, NULL) ||
	    names_topic(c->node_topic, sizeof c->node_topic, c->prefix, NAMES_NODE, c->node, NULL) ||
	    names_topic(c->coord_topic, sizeof c->coord_topic, c->prefix, NAMES_COORDINATOR, NULL, NULL))
		return BATON_E_INVAL;
	if (getrandom(&c->salt, sizeof c->salt, 0) != (ssize_t)sizeof c->salt)
		c->salt = (uint64_t)bt_client_wall_ms() * 2654435761u ^ (uint64_t)(uintptr_t)c;
	if (presence_payload(c->node, true, &c->online_payload) != BATON_OK ||
	    presence_payload(c->node, false, &c->offline_payload) != BATON_OK)
		return BATON_E_NOMEM;
	return bt_client_paho_create(c);
}

baton_err baton_client_new(const baton_options *o, baton_client **out, char *msg, size_t cap)
{
	char dummy[8];
	baton_client *c = NULL;
	pthread_condattr_t ca;
	baton_err err;

	if (msg == NULL) {
		msg = dummy;
		cap = sizeof dummy;
	}
	if (o == NULL || out == NULL) {
		snprintf(msg, cap, "options and out must not be NULL");
		return BATON_E_INVAL;
	}
	err = check_options(o, msg, cap);
	if (err != BATON_OK)
		return err;
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		snprintf(msg, cap, "out of memory");
		return BATON_E_NOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	mqttedge_tls_init(&c->tls);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->in_tail = &c->in_head;
	err = client_fill(c, o);
	if (err == BATON_OK && pthread_create(&c->thread, NULL, client_thread, c) != 0)
		err = BATON_E_NOMEM;
	if (err != BATON_OK) {
		snprintf(msg, cap, "cannot create the client: %s", baton_strerror(err));
		client_destroy(c);
		return err;
	}
	c->thread_started = true;
	*out = c;
	return BATON_OK;
}

baton_err baton_client_connect(baton_client *c, int64_t timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : bt_client_now_ms() + timeout_ms;
	char why[sizeof c->connect_error];
	bool start, ready, refused, acl_refused;

	if (bt_client_on_thread(c) && timeout_ms != 0)
		return bt_client_fail(c, BATON_E_INVAL,
		                      "baton_client_connect must not block on the client thread");
	pthread_mutex_lock(&c->mu);
	start = !c->connect_started;
	c->connect_started = true;
	pthread_mutex_unlock(&c->mu);
	if (start)
		bt_client_start_connect(c);
	pthread_mutex_lock(&c->mu);
	while (!c->ready && !c->closing && !c->refused && !c->acl_refused &&
	       bt_client_wait_until(c, deadline))
		;
	ready = c->ready;
	refused = c->refused;
	acl_refused = c->acl_refused;
	snprintf(why, sizeof why, "%s", c->connect_error);
	pthread_mutex_unlock(&c->mu);
	if (ready)
		return BATON_OK;
	if (acl_refused)
		return bt_client_fail(c, BATON_E_NOT_AUTHORIZED, "%s", why);
	if (why[0] == '\0')
		return bt_client_fail(c, BATON_E_TIMEOUT, "cannot reach the broker at %s: no answer yet",
		                      c->broker);
	return bt_client_fail(c, refused ? BATON_E_BROKER : BATON_E_TIMEOUT, "%s", why);
}

bool baton_client_connected(baton_client *c)
{
	bool ready;

	pthread_mutex_lock(&c->mu);
	ready = c->ready;
	pthread_mutex_unlock(&c->mu);
	return ready;
}

void baton_client_coordinator(baton_client *c, bool *seen, bool *online, int64_t *started_at_ms)
{
	pthread_mutex_lock(&c->mu);
	if (seen)
		*seen = c->coord_seen;
	if (online)
		*online = c->coord_online;
	if (started_at_ms)
		*started_at_ms = c->coord_started_ms;
	pthread_mutex_unlock(&c->mu);
}

void baton_client_last_error(baton_client *c, char *buf, size_t cap)
{
	pthread_mutex_lock(&c->mu);
	snprintf(buf, cap, "%s", c->last_error);
	pthread_mutex_unlock(&c->mu);
}

static void on_disconnected(void *ctx, MQTTAsync_successData *resp)
{
	baton_client *c = ctx;

	(void)resp;
	pthread_mutex_lock(&c->mu);
	c->disconnected = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

static void on_disconnect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)resp;
	on_disconnected(ctx, NULL);
}

/* Waits until paho has no send in flight (releases of abandoned locks, the
 * offline presence), at most until deadline. Not on a paho thread. */
static void drain_sends(baton_client *c, int64_t deadline)
{
	MQTTAsync_token *tokens = NULL;

	if (MQTTAsync_getPendingTokens(c->mq, &tokens) != MQTTASYNC_SUCCESS || tokens == NULL)
		return;
	for (int i = 0; tokens[i] != -1; i++) {
		int64_t left = deadline - bt_client_now_ms();

		if (left <= 0)
			break;
		(void)MQTTAsync_waitForCompletion(c->mq, tokens[i], (unsigned long)left);
	}
	MQTTAsync_free(tokens);
}

/* Announces the node offline, clears its retained presence and disconnects, letting in-flight sends
 * finish for up to two seconds. (paho's own disconnect timeout waits the
 * whole time in 1.3.12, so we drain first and disconnect at once.) */
static void say_goodbye(baton_client *c)
{
	MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
	int64_t deadline = bt_client_now_ms() + 2000;
	bool ready;

	pthread_mutex_lock(&c->mu);
	ready = c->ready;
	pthread_mutex_unlock(&c->mu);
	if (!ready)
		return;
	(void)bt_client_publish(c, c->node_topic, c->offline_payload, strlen(c->offline_payload), 1, true);
	/* Then clear it, so the broker keeps no presence of a node that left:
	 * the coordinator takes both in this order and acts on the first. QoS 0:
	 * nothing to acknowledge on the way out, and should it be lost, the
	 * coordinator clears the presence itself after acting on the first. */
	(void)bt_client_publish(c, c->node_topic, "", 0, 0, true);
	drain_sends(c, deadline);
	dopt.timeout = 0;
	dopt.onSuccess = on_disconnected;
	dopt.onFailure = on_disconnect_failed;
	dopt.context = c;
	if (MQTTAsync_disconnect(c->mq, &dopt) != MQTTASYNC_SUCCESS)
		return;
	deadline = bt_client_now_ms() + 500;
	pthread_mutex_lock(&c->mu);
	while (!c->disconnected && bt_client_wait_until(c, deadline))
		;
	pthread_mutex_unlock(&c->mu);
}

void baton_client_free(baton_client *c)
{
	action_list al;

	if (c == NULL)
		return;
	bt_watches_free_all(c);
	bt_actions_init(&al);
	pthread_mutex_lock(&c->mu);
	bt_locks_abandon_all(c, &al);
	pthread_mutex_unlock(&c->mu);
	bt_actions_run(c, &al);
	say_goodbye(c);
	pthread_mutex_lock(&c->mu);
	c->closing = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	client_destroy(c);
}

const char *baton_mode_name(baton_mode m)
{
	const char *s = wire_mode_name((wire_mode)m);

	return s ? s : "?";
}

const char *baton_reason_name(baton_reason r)
{
	const char *s = wire_reason_name((wire_reason)r);

	return s ? s : "?";
}

const char *baton_phase_name(baton_phase p)
{
	static const char *const names[] = {"?",          "sent",     "queued",    "granted", "releasing",
	                                    "cancelling", "released", "cancelled", "done",    "busy",
	                                    "rejected",   "lost",     "resetting", "reset",   "failed"};

	if ((unsigned)p >= sizeof names / sizeof names[0])
		return "?";
	return names[p];
}
