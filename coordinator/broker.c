/*
 * broker.c - the coordinator's MQTT edge: paho MQTTAsync underneath (set up
 * by edge/mqttedge.c with the coordinator's policy), an inbox on top.
 *
 * Owns the paho client and the inbox. paho's threads run our callbacks with
 * paho's global mutex held, so every callback here only copies into the
 * inbox under b->mu (never calling paho while holding it), writes the wake
 * fd, and returns. A QoS 1 request is PUBACKed when msg_arrived returns, so
 * it must be in the inbox by then: it is.
 * Must never know about locks, and never block the owner thread on the
 * network except in broker_stop(). The one look at the network a failure
 * needs (a TLS failure paho leaves unexplained: mqttedge_explain_tls) runs
 * on a diagnosis thread of its own, which reports the failure when done.
 */
#include "broker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>
#include <mosquitto.h>

#include "mqttedge.h"
#include "mqttwords.h"
#include "mqttnet.h"

struct broker {
	MQTTAsync client;
	char *uri, *client_id, *username, *password, *cafile, *cert, *key, *will_topic, *will_payload;
	char **subs;
	size_t n_subs;
	bool clean_session;
	bool no_reconnect;
	int keepalive_s;
	int wake_fd;

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;
	broker_msg *head, *tail;
	unsigned connects, losses, failures, syncs;
	bool refused;
	bool disconnected; /* broker_stop's disconnect completed */
	char err[512];
	mqttedge_tls tls; /* OpenSSL's last word, for the next connect error */
	pthread_cond_t diag_cv;
	pthread_t diag;
	bool diag_started, diag_due, diag_stop;

	atomic_uint_fast64_t backlog;
	atomic_bool connected;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wake(broker *b)
{
	uint64_t one = 1;
	ssize_t n = write(b->wake_fd, &one, sizeof one);
	(void)n; /* a full eventfd already means "wake up" */
}

static int msg_arrived(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	broker *b = ctx;
	size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	size_t pl = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
	broker_msg *msg = malloc(sizeof *msg + tl + 1 + pl + 1);
	if (msg == NULL)
		return 0; /* paho hands it to us again later */
	msg->next = NULL;
	msg->topic = (char *)(msg + 1);
	msg->topic_len = tl;
	memcpy(msg->topic, topic, tl);
	msg->topic[tl] = '\0';
	msg->payload = msg->topic + tl + 1;
	msg->len = pl;
	if (pl > 0)
		memcpy(msg->payload, m->payload, pl);
	msg->payload[pl] = '\0';
	msg->arrived_ns = mono_ns();
	msg->retained = m->retained != 0;
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);

	pthread_mutex_lock(&b->mu);
	if (b->tail != NULL)
		b->tail->next = msg;
	else
		b->head = msg;
	b->tail = msg;
	pthread_mutex_unlock(&b->mu);
	wake(b);
	return 1;
}

static void on_connected(void *ctx, char *cause)
{
	(void)cause;
	broker *b = ctx;
	atomic_store(&b->connected, true);
	pthread_mutex_lock(&b->mu);
	b->connects++;
	pthread_mutex_unlock(&b->mu);
	wake(b);
}

/* Who we are, for the sentences of mqttwords.h (the same as libbaton's,
 * naming the coordinator's flags). */
static void who_of(const broker *b, mqttwords_who *who)
{
	who->broker = b->uri;
	who->client_id = b->client_id;
	who->username = b->username;
	who->id_flag = "--client-id";
	who->tls = mqttedge_uses_tls(b->uri, b->cafile, b->cert);
}

static void on_lost(void *ctx, char *cause)
{
	broker *b = ctx;
	atomic_store(&b->connected, false);
	pthread_mutex_lock(&b->mu);
	b->losses++;
	mqttwords_who who;
	who_of(b, &who);
	mqttwords_lost(b->err, sizeof b->err, &who, cause);
	pthread_mutex_unlock(&b->mu);
	wake(b);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *d)
{
	broker *b = ctx;
	int code = d != NULL ? d->code : 0;
	const char *refusal = mqttedge_refusal(code);
	char tls[sizeof b->tls.reason], text[sizeof b->err];
	bool deferred = false;
	mqttwords_who who;
	mqttedge_tls_take(&b->tls, tls, sizeof tls);
	who_of(b, &who);
	mqttwords_connect(text, sizeof text, &who, code, d != NULL ? d->message : NULL, tls);
	pthread_mutex_lock(&b->mu);
	memcpy(b->err, text, sizeof text);
	if (refusal != NULL) {
		b->refused = true;
	} else if (b->diag_started && code == MQTTASYNC_FAILURE && tls[0] == '\0') {
		b->diag_due = deferred = true; /* diag_main tells it, in better words if it can */
		pthread_cond_signal(&b->diag_cv);
	} else {
		b->failures++;
	}
	pthread_mutex_unlock(&b->mu);
	if (!deferred)
		wake(b);
}

/* The diagnosis thread (TLS only): a failure paho gave no reason for may be
 * a certificate for another host, and finding out takes a handshake. */
static void *diag_main(void *arg)
{
	broker *b = arg;
	char text[sizeof b->err];
	mqttwords_who who;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->diag_due && !b->diag_stop)
			pthread_cond_wait(&b->diag_cv, &b->mu);
		if (b->diag_stop)
			break;
		b->diag_due = false; /* a failure during the look asks for another */
		pthread_mutex_unlock(&b->mu);
		who_of(b, &who);
		bool named =
		    mqttedge_explain_tls(&who, b->cert, b->key, MQTTASYNC_FAILURE, 2000, text, sizeof text);
		pthread_mutex_lock(&b->mu);
		if (named)
			memcpy(b->err, text, sizeof text);
		b->failures++;
		wake(b);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static void on_publish_done(void *ctx, MQTTAsync_successData *d)
{
	(void)d;
	broker *b = ctx;
	if (atomic_fetch_sub(&b->backlog, 1) == 1) {
		pthread_mutex_lock(&b->mu);
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
	}
}

static void on_publish_failed(void *ctx, MQTTAsync_failureData *d)
{
	on_publish_done(ctx, (MQTTAsync_successData *)(void *)d);
}

static void on_disconnected(void *ctx, MQTTAsync_successData *d)
{
	(void)d;
	broker *b = ctx;
	pthread_mutex_lock(&b->mu);
	b->disconnected = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static char *dup_or_null(const char *s, bool *ok)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*ok = false;
	return d;
}

baton_err broker_new(const broker_options *o, broker **out, char *err, size_t cap)
{
	broker *b = calloc(1, sizeof *b);
	if (b == NULL)
		return BATON_E_NOMEM;
	bool ok = true;
	b->uri = dup_or_null(o->uri, &ok); /* paho reads mqtt:// and mqtts:// itself */
	b->client_id = dup_or_null(o->client_id, &ok);
	b->username = dup_or_null(o->username, &ok);
	b->password = dup_or_null(o->password, &ok);
	b->cafile = dup_or_null(o->cafile, &ok);
	b->cert = dup_or_null(o->cert, &ok);
	b->key = dup_or_null(o->key, &ok);
	b->will_topic = dup_or_null(o->will_topic, &ok);
	b->will_payload = dup_or_null(o->will_payload, &ok);
	b->subs = calloc(o->n_subs + 1, sizeof *b->subs);
	ok = ok && b->subs != NULL;
	for (size_t i = 0; ok && i < o->n_subs; i++)
		b->subs[i] = dup_or_null(o->subs[i], &ok);
	b->n_subs = o->n_subs;
	b->clean_session = o->clean_session;
	b->no_reconnect = o->no_reconnect;
	b->keepalive_s = o->keepalive_s > 0 ? o->keepalive_s : 10;
	b->wake_fd = o->wake_fd;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	pthread_cond_init(&b->diag_cv, NULL);
	mqttedge_tls_init(&b->tls);
	if (ok && mqttedge_uses_tls(b->uri, b->cafile, b->cert))
		b->diag_started = pthread_create(&b->diag, NULL, diag_main, b) == 0;
	if (!ok) {
		broker_free(b);
		return BATON_E_NOMEM;
	}
	/* Answers wait in paho while the broker is away, and recovery effects
	 * may be queued before the first connect. */
	mqttedge_create_options co = {.max_buffered = 1 << 22, .send_while_disconnected = true};
	int rc = mqttedge_create(&b->client, b->uri, b->client_id, &co);
	if (rc == MQTTASYNC_SUCCESS)
		rc = MQTTAsync_setCallbacks(b->client, b, on_lost, msg_arrived, NULL);
	if (rc == MQTTASYNC_SUCCESS)
		rc = MQTTAsync_setConnected(b->client, b, on_connected);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, cap, "--broker: cannot use '%s': %s", o->uri, MQTTAsync_strerror(rc));
		broker_free(b);
		return BATON_E_INVAL;
	}
	*out = b;
	return BATON_OK;
}

baton_err broker_start(broker *b)
{
	mqttedge_connect_options co = {
	    .uri = b->uri,
	    .username = b->username,
	    .password = b->password,
	    .cafile = b->cafile,
	    .cert = b->cert,
	    .key = b->key,
	    .will_topic = b->will_topic,
	    .will_payload = b->will_payload,
	    .keepalive_s = b->keepalive_s,
	    .connect_timeout_s = 10,
	    .retry_min_s = b->no_reconnect ? 0 : 1,
	    .retry_max_s = b->no_reconnect ? 0 : 30,
	    .clean_session = b->clean_session,
	    .tls = &b->tls,
	    .on_failure = on_connect_failure,
	    .context = b,
	};
	int rc = mqttedge_connect(b->client, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		pthread_mutex_lock(&b->mu);
		snprintf(b->err, sizeof b->err, "cannot start connecting: %s", MQTTAsync_strerror(rc));
		pthread_mutex_unlock(&b->mu);
		return BATON_E_BROKER;
	}
	return BATON_OK;
}

void broker_take(broker *b, broker_inbox *in)
{
	pthread_mutex_lock(&b->mu);
	in->msgs = b->head;
	in->connects = b->connects;
	in->losses = b->losses;
	in->failures = b->failures;
	in->refused = b->refused;
	in->syncs = b->syncs;
	b->head = b->tail = NULL;
	b->connects = b->losses = b->failures = b->syncs = 0;
	pthread_mutex_unlock(&b->mu);
}

void broker_msgs_free(broker_msg *m)
{
	while (m != NULL) {
		broker_msg *next = m->next;
		free(m);
		m = next;
	}
}

baton_err broker_on_connected(broker *b)
{
	/* paho 1.3.12 never sets TCP_NODELAY and hides its socket; without it
	 * every QoS 1 exchange waits on Nagle (88 ms here). */
	if (mqttnet_nodelay(b->uri) <= 0) {
		pthread_mutex_lock(&b->mu);
		snprintf(b->err, sizeof b->err, "TCP_NODELAY: no socket to %s found", b->uri);
		pthread_mutex_unlock(&b->mu);
	}
	if (b->n_subs == 0)
		return BATON_OK;
	int qos[16];
	size_t n = b->n_subs < 16 ? b->n_subs : 16;
	for (size_t i = 0; i < n; i++)
		qos[i] = 1;
	int rc = MQTTAsync_subscribeMany(b->client, (int)n, b->subs, qos, NULL);
	return rc == MQTTASYNC_SUCCESS ? BATON_OK : BATON_E_BROKER;
}

baton_err broker_subscribe(broker *b, const char *filter)
{
	return MQTTAsync_subscribe(b->client, filter, 1, NULL) == MQTTASYNC_SUCCESS ? BATON_OK
	                                                                            : BATON_E_BROKER;
}

baton_err broker_unsubscribe(broker *b, const char *filter)
{
	return MQTTAsync_unsubscribe(b->client, filter, NULL) == MQTTASYNC_SUCCESS ? BATON_OK
	                                                                           : BATON_E_BROKER;
}

/* The UNSUBACK: paho runs this after every message the broker sent before
 * it, so the inbox holds them all when syncs goes up. */
static void on_synced(void *ctx, MQTTAsync_successData *d)
{
	(void)d;
	broker *b = ctx;
	pthread_mutex_lock(&b->mu);
	b->syncs++;
	pthread_mutex_unlock(&b->mu);
	wake(b);
}

baton_err broker_sync(broker *b, const char *filter)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = on_synced;
	ro.context = b;
	return MQTTAsync_unsubscribe(b->client, filter, &ro) == MQTTASYNC_SUCCESS ? BATON_OK : BATON_E_BROKER;
}

bool broker_topic_ok(const char *topic, size_t len)
{
	/* MQTT has no empty topic name; libmosquitto's check leaves that to the
	 * packet reader. */
	return len > 0 && len <= INT32_MAX && mosquitto_validate_utf8(topic, (int)len) == MOSQ_ERR_SUCCESS &&
	       mosquitto_pub_topic_check2(topic, len) == MOSQ_ERR_SUCCESS;
}

baton_err broker_publish(broker *b, const char *topic, const void *payload, size_t len, int qos,
                         bool retained)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	/* mosquitto drops the connection of a client that publishes a topic it
	 * refuses, and paho would send the buffered publish again after every
	 * reconnect: such a publish never reaches paho. */
	if (!broker_topic_ok(topic, strlen(topic))) {
		pthread_mutex_lock(&b->mu);
		snprintf(b->err, sizeof b->err, "the broker would refuse this topic (MQTT topic rules)");
		pthread_mutex_unlock(&b->mu);
		return BATON_E_INVAL;
	}
	ro.onSuccess = on_publish_done;
	ro.onFailure = on_publish_failed;
	ro.context = b;
	atomic_fetch_add(&b->backlog, 1);
	int rc = MQTTAsync_send(b->client, topic, (int)len, payload, qos, retained ? 1 : 0, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		atomic_fetch_sub(&b->backlog, 1);
		pthread_mutex_lock(&b->mu);
		snprintf(b->err, sizeof b->err, "publish to %s failed: %s", topic, MQTTAsync_strerror(rc));
		pthread_mutex_unlock(&b->mu);
		return BATON_E_BROKER;
	}
	return BATON_OK;
}

uint64_t broker_backlog(const broker *b)
{
	return atomic_load(&((broker *)b)->backlog);
}

bool broker_connected(broker *b)
{
	return atomic_load(&b->connected);
}

const char *broker_error(broker *b)
{
	return b->err;
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void broker_stop(broker *b, int timeout_ms)
{
	struct timespec until;
	deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&b->mu);
	while (atomic_load(&b->backlog) > 0 && atomic_load(&b->connected))
		if (pthread_cond_timedwait(&b->cv, &b->mu, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&b->mu);

	MQTTAsync_disconnectOptions dc = MQTTAsync_disconnectOptions_initializer;
	dc.timeout = timeout_ms;
	dc.onSuccess = on_disconnected;
	dc.context = b;
	if (MQTTAsync_disconnect(b->client, &dc) != MQTTASYNC_SUCCESS)
		return;
	deadline_in(&until, timeout_ms + 1000);
	pthread_mutex_lock(&b->mu);
	while (!b->disconnected)
		if (pthread_cond_timedwait(&b->cv, &b->mu, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&b->mu);
}

void broker_free(broker *b)
{
	if (b == NULL)
		return;
	if (b->client != NULL)
		MQTTAsync_destroy(&b->client);
	if (b->diag_started) {
		pthread_mutex_lock(&b->mu);
		b->diag_stop = true;
		pthread_cond_signal(&b->diag_cv);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->diag, NULL);
	}
	broker_msgs_free(b->head);
	free(b->uri);
	free(b->client_id);
	free(b->username);
	if (b->password != NULL) {
		memset(b->password, 0, strlen(b->password));
		free(b->password);
	}
	free(b->cafile);
	free(b->cert);
	free(b->key);
	free(b->will_topic);
	free(b->will_payload);
	for (size_t i = 0; b->subs != NULL && i < b->n_subs; i++)
		free(b->subs[i]);
	free(b->subs);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	pthread_cond_destroy(&b->diag_cv);
	mqttedge_tls_deinit(&b->tls);
	free(b);
}
