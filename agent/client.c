/*
 * client.c - libbaton's connection and client thread.
 *
 * Owns the paho MQTTAsync handle, the inbound queue and the client thread.
 * paho's callbacks only copy what they get into the queue under c->mu and
 * return; the client thread does everything else. No paho call is ever made
 * with c->mu held (client_int.h). Never prints: logs through the callback.
 * Connection life: connect -> subscribe own answers (+ coordinator, watches)
 * -> publish online:true -> ready: (re-)send every outstanding request.
 */
#include "client_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_MIN_S 1
#define RETRY_MAX_S 4

int64_t bt_client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bt_client_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bt_client_log(baton_client *c, baton_log_level level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (c->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	c->log(c->log_arg, level, line);
}

baton_err bt_client_fail(baton_client *c, baton_err err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&c->mu);
	va_start(ap, fmt);
	vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&c->mu);
	return err;
}

bool bt_client_on_thread(baton_client *c)
{
	return c->thread_started && pthread_equal(pthread_self(), c->thread);
}

bool bt_client_wait_until(baton_client *c, int64_t deadline)
{
	struct timespec ts;

	if (deadline == INT64_MAX) {
		pthread_cond_wait(&c->cond, &c->mu);
		return true;
	}
	if (bt_client_now_ms() >= deadline)
		return false;
	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (long)(deadline % 1000) * 1000000;
	return pthread_cond_timedwait(&c->cond, &c->mu, &ts) != ETIMEDOUT || bt_client_now_ms() < deadline;
}

/* ---- paho callbacks: copy, enqueue, return ---------------------------------- */

static void enqueue(baton_client *c, inmsg *m)
{
	pthread_mutex_lock(&c->mu);
	m->next = NULL;
	*c->in_tail = m;
	c->in_tail = &m->next;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

static void enqueue_event(baton_client *c, inmsg_type type, const char *text)
{
	inmsg *m = calloc(1, sizeof *m);

	if (m == NULL) {
		bt_client_log(c, BATON_LOG_ERROR, "out of memory: connection event %d dropped", (int)type);
		return;
	}
	m->type = type;
	if (text != NULL)
		m->payload = strdup(text);
	enqueue(c, m);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	baton_client *c = ctx;
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	size_t plen = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	inmsg *m = calloc(1, sizeof *m);

	if (m != NULL) {
		m->topic = malloc(tlen + 1);
		m->payload = malloc(plen + 1);
	}
	if (m == NULL || m->topic == NULL || m->payload == NULL) {
		bt_client_log(c, BATON_LOG_ERROR, "out of memory: message on %.*s dropped", (int)tlen, topic);
		if (m != NULL) {
			free(m->topic);
			free(m->payload);
			free(m);
		}
	} else {
		m->type = IN_MESSAGE;
		m->retained = msg->retained != 0;
		memcpy(m->topic, topic, tlen);
		m->topic[tlen] = '\0';
		if (plen > 0)
			memcpy(m->payload, msg->payload, plen);
		m->payload[plen] = '\0';
		m->len = plen;
		enqueue(c, m);
	}
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_connected(void *ctx, char *cause)
{
	(void)cause;
	enqueue_event(ctx, IN_CONNECTED, NULL);
}

static void on_conn_lost(void *ctx, char *cause)
{
	enqueue_event(ctx, IN_CONN_LOST, cause);
}

void bt_client_who(const baton_client *c, mqttwords_who *who)
{
	who->broker = c->broker;
	who->client_id = c->node;
	who->username = c->username;
	who->id_flag = "--node";
	who->tls = mqttedge_uses_tls(c->broker, c->cafile, c->cert);
}

/* paho's failure in words (mqttwords.h); a refusal that retrying cannot
 * change (mqttedge_refusal: client id, credentials, not authorized), or a
 * failed TLS handshake, is final. */
static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
	baton_client *c = ctx;
	char text[512], tls[sizeof c->tls.reason];
	int code = resp ? resp->code : 0;
	mqttwords_who who;
	inmsg *m;

	mqttedge_tls_take(&c->tls, tls, sizeof tls);
	bt_client_who(c, &who);
	mqttwords_connect(text, sizeof text, &who, code, resp ? resp->message : NULL, tls);
	m = calloc(1, sizeof *m);
	if (m == NULL) {
		bt_client_log(c, BATON_LOG_ERROR, "out of memory: connect failure dropped: %s", text);
		return;
	}
	m->type = IN_CONNECT_FAILED;
	m->final = mqttedge_refusal(code) != NULL || tls[0] != '\0';
	m->code = code;
	m->payload = strdup(text);
	enqueue(c, m);
}

static void on_subscribed(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	enqueue_event(ctx, IN_SUBSCRIBED, NULL);
}

static void on_sub_failure(void *ctx, MQTTAsync_failureData *resp)
{
	char text[160];

	snprintf(text, sizeof text, "subscribe failed (code %d)", resp ? resp->code : 0);
	enqueue_event(ctx, IN_SUB_FAILED, text);
}

/* ---- paho calls (never under c->mu) ----------------------------------------- */

baton_err bt_client_publish(baton_client *c, const char *topic, const char *payload, size_t len, int qos,
                            bool retained)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int rc;

	msg.payload = (void *)payload;
	msg.payloadlen = (int)len;
	msg.qos = qos;
	msg.retained = retained;
	rc = MQTTAsync_sendMessage(c->mq, topic, &msg, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		bt_client_log(c, BATON_LOG_DEBUG, "publish on %s failed (paho %d); re-sent when connected",
		              topic, rc);
		return BATON_E_NOT_CONNECTED;
	}
	return BATON_OK;
}

static void on_presence_acked(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	enqueue_event(ctx, IN_PRESENCE_ACKED, NULL);
}

baton_err bt_client_publish_presence(baton_client *c)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	msg.payload = c->online_payload;
	msg.payloadlen = (int)strlen(c->online_payload);
	msg.qos = 1;
	msg.retained = 1;
	ro.onSuccess = on_presence_acked;
	ro.context = c;
	if (MQTTAsync_sendMessage(c->mq, c->node_topic, &msg, &ro) != MQTTASYNC_SUCCESS)
		return BATON_E_NOT_CONNECTED;
	return BATON_OK;
}

baton_err bt_client_subscribe(baton_client *c, char *const *topics, int n, bool report)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int qos[64];
	int rc;

	if (n <= 0 || n > 64)
		return BATON_E_INVAL;
	for (int i = 0; i < n; i++)
		qos[i] = 1;
	if (report) {
		ro.onSuccess = on_subscribed;
		ro.onFailure = on_sub_failure;
		ro.context = c;
	}
	rc = MQTTAsync_subscribeMany(c->mq, n, topics, qos, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		bt_client_log(c, BATON_LOG_DEBUG, "subscribe failed (paho %d); retried when connected", rc);
		return BATON_E_NOT_CONNECTED;
	}
	return BATON_OK;
}

void bt_client_unsubscribe(baton_client *c, char *const *topics, int n)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	(void)MQTTAsync_unsubscribeMany(c->mq, n, topics, &ro);
}

void bt_client_start_connect(baton_client *c)
{
	mqttedge_connect_options co = {
	    .uri = c->broker,
	    .username = c->username,
	    .password = c->password,
	    .cafile = c->cafile,
	    .cert = c->cert,
	    .key = c->key,
	    .will_topic = c->node_topic,
	    .will_payload = c->offline_payload,
	    .keepalive_s = (int)c->keepalive_s,
	    .connect_timeout_s = 5,
	    .retry_min_s = RETRY_MIN_S,
	    .retry_max_s = RETRY_MAX_S,
	    .clean_session = true,
	    .tls = &c->tls,
	    .on_failure = on_connect_failure,
	    .context = c,
	};
	int rc;

	rc = mqttedge_connect(c->mq, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		char text[64];

		snprintf(text, sizeof text, "connect could not start (paho %d)", rc);
		enqueue_event(c, IN_CONNECT_FAILED, text);
	}
}

/* ---- actions ------------------------------------------------------------------ */

void bt_actions_init(action_list *al)
{
	al->head = NULL;
	al->tail = &al->head;
	al->nomem = false;
}

static action *action_add(action_list *al, action_type type)
{
	action *a = calloc(1, sizeof *a);

	if (a == NULL) {
		al->nomem = true;
		return NULL;
	}
	a->type = type;
	*al->tail = a;
	al->tail = &a->next;
	return a;
}

void bt_actions_send(action_list *al, char *payload, size_t len)
{
	action *a = action_add(al, ACT_SEND);

	if (a == NULL) {
		free(payload);
		return;
	}
	a->payload = payload;
	a->len = len;
}

void bt_actions_call(action_list *al, action_type type, baton_lock *l, baton_err err)
{
	action *a = action_add(al, type);

	if (a == NULL)
		return;
	a->l = l;
	a->err = err;
	l->refs++;
}

static void run_callback(baton_client *c, action *a)
{
	baton_lock *l = a->l;
	baton_answer ans;

	pthread_mutex_lock(&c->mu);
	if (l->freed) {
		bt_lock_unref(l);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	l->cb_running = true;
	pthread_mutex_unlock(&c->mu);
	if (a->type == ACT_ANSWER && l->on_answer != NULL && baton_lock_wait(l, 0, &ans) == BATON_OK)
		l->on_answer(l, &ans, l->arg);
	else if (a->type == ACT_LOST && l->on_lost != NULL)
		l->on_lost(l, a->err, l->arg);
	pthread_mutex_lock(&c->mu);
	l->cb_running = false;
	bt_lock_unref(l);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

void bt_actions_run(baton_client *c, action_list *al)
{
	action *a, *next;

	if (al->nomem)
		bt_client_log(c, BATON_LOG_ERROR, "out of memory: some sends or callbacks were dropped");
	for (a = al->head; a != NULL; a = next) {
		next = a->next;
		if (a->type == ACT_SEND)
			(void)bt_client_publish(c, c->req_topic, a->payload, a->len, 1, false);
		else
			run_callback(c, a);
		free(a->payload);
		free(a);
	}
	bt_actions_init(al);
}

baton_err bt_client_paho_create(baton_client *c)
{
	/* Nothing queued while away: requests are re-sent on reconnect. The
	 * limit applies while connected too (MQTT-NOTES). */
	mqttedge_create_options cro = {.max_buffered = 100000, .send_while_disconnected = false};

	if (mqttedge_create(&c->mq, c->broker, c->node, &cro) != MQTTASYNC_SUCCESS)
		return BATON_E_INVAL;
	if (MQTTAsync_setCallbacks(c->mq, c, on_conn_lost, on_message, NULL) != MQTTASYNC_SUCCESS ||
	    MQTTAsync_setConnected(c->mq, c, on_connected) != MQTTASYNC_SUCCESS)
		return BATON_E_INVAL;
	return BATON_OK;
}
