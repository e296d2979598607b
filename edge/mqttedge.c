/*
 * mqttedge.c - paho client setup shared by every MQTT user in the tree (see
 * mqttedge.h for the contract).
 *
 * Owns the translation of a program's connection policy into paho's option
 * structs, and the TLS-reason hand-off between paho's callbacks. Must never
 * know about locks, topics or payloads, never log, and never block in what
 * a paho callback calls: paho's callbacks run with paho's global mutex
 * held, so the TLS callback only copies under its own small mutex (only
 * mqttedge_explain_tls blocks, on the program's own thread).
 */
#include "mqttedge.h"

#include <stdio.h>
#include <string.h>

#include "mqttcert.h"
#include "mqttnet.h"

void mqttedge_tls_init(mqttedge_tls *t)
{
	pthread_mutex_init(&t->mu, NULL);
	t->reason[0] = '\0';
}

void mqttedge_tls_deinit(mqttedge_tls *t)
{
	pthread_mutex_destroy(&t->mu);
}

void mqttedge_tls_take(mqttedge_tls *t, char *buf, size_t cap)
{
	pthread_mutex_lock(&t->mu);
	snprintf(buf, cap, "%s", t->reason);
	t->reason[0] = '\0';
	pthread_mutex_unlock(&t->mu);
}

/* paho's ssl_error_cb: OpenSSL's error line, reduced to its reason. */
static int on_tls_error(const char *str, size_t len, void *ctx)
{
	mqttedge_tls *t = ctx;
	char why[sizeof t->reason];
	mqttnet_tls_reason(str, len, why, sizeof why);
	pthread_mutex_lock(&t->mu);
	memcpy(t->reason, why, sizeof why);
	pthread_mutex_unlock(&t->mu);
	return 1;
}

int mqttedge_create(MQTTAsync *out, const char *uri, const char *client_id, const mqttedge_create_options *o)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	co.MQTTVersion = MQTTVERSION_3_1_1; /* no Receive Maximum cap on our in-flight window */
	co.maxBufferedMessages = o->max_buffered;
	co.sendWhileDisconnected = o->send_while_disconnected ? 1 : 0;
	if (o->send_while_disconnected) {
		co.deleteOldestMessages = 0;
		co.allowDisconnectedSendAtAnyTime = 1; /* before the first connect too */
	}
	int rc = MQTTAsync_createWithOptions(out, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS)
		*out = NULL;
	return rc;
}

bool mqttedge_uses_tls(const char *uri, const char *cafile, const char *cert)
{
	char host[256], port[16];
	bool tls = false;
	(void)mqttnet_split_uri(uri, host, sizeof host, port, sizeof port, &tls);
	return tls || cafile != NULL || cert != NULL;
}

int mqttedge_connect(MQTTAsync c, const mqttedge_connect_options *o)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	co.keepAliveInterval = o->keepalive_s;
	co.cleansession = o->clean_session ? 1 : 0;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	if (o->retry_max_s > 0) {
		/* Reconnects are paho's; MQTTAsync_setConnected reports each one. */
		co.automaticReconnect = 1;
		co.minRetryInterval = o->retry_min_s;
		co.maxRetryInterval = o->retry_max_s;
	}
	if (o->connect_timeout_s > 0)
		co.connectTimeout = o->connect_timeout_s;
	co.username = o->username;
	co.password = o->password;
	co.onSuccess = o->on_success;
	co.onFailure = o->on_failure;
	co.context = o->context;
	if (o->will_topic != NULL) {
		will.topicName = o->will_topic;
		will.message = o->will_payload;
		will.qos = 1;
		will.retained = 1;
		co.will = &will;
	}
	if (mqttedge_uses_tls(o->uri, o->cafile, o->cert)) {
		ssl.trustStore = o->cafile;
		ssl.keyStore = o->cert;
		ssl.privateKey = o->key;
		/* The one TLS policy (mqttedge.h): the chain and the host name
		 * are checked, and sslVersion stays MQTT_SSL_VERSION_DEFAULT. */
		ssl.enableServerCertAuth = 1;
		ssl.verify = 1;
		if (o->tls != NULL) {
			ssl.ssl_error_cb = on_tls_error;
			ssl.ssl_error_context = o->tls;
		}
		co.ssl = &ssl;
	}
	return MQTTAsync_connect(c, &co);
}

bool mqttedge_explain_tls(const mqttwords_who *who, const char *cert, const char *key, int code,
                          int timeout_ms, char *buf, size_t cap)
{
	char host[256], names[512];
	if (!who->tls || code != MQTTASYNC_FAILURE ||
	    !mqttcert_wrong_host(who->broker, cert, key, timeout_ms, host, sizeof host, names, sizeof names))
		return false;
	mqttwords_wrong_host(buf, cap, who, host, names);
	return true;
}

const char *mqttedge_refusal(int code)
{
	switch (code) {
	case 2:
		return "client id rejected";
	case 4:
		return "bad user name or password";
	case 5:
		return "not authorized";
	}
	return NULL;
}
