/*
 * mqttedge.h - the one place that sets up a paho MQTTAsync client, for the
 * coordinator (coordinator/broker.c), libbaton (agent/client.c) and the
 * benchmarks (bench/bench_mq.c): client creation, connect options with
 * automatic reconnect, the Will, TLS options and OpenSSL's reason for a
 * failed handshake (the words for a failure are mqttwords.h's).
 *
 * Knows MQTT and paho; nothing of locks. Each program keeps its policy (client
 * id, clean session, Will, keepalive, retry intervals, buffering,
 * subscriptions) and passes it in. URIs go to paho as given: paho 1.3.12
 * accepts tcp://, mqtt://, ssl:// and mqtts:// itself (MQTTAsync.h,
 * MQTTAsync_create: "tcp:// or mqtt:// - Insecure TCP", "ssl:// or mqtts://
 * - Encrypted SSL/TLS"), so there is nothing to rewrite.
 */
#ifndef BATON_MQTTEDGE_H
#define BATON_MQTTEDGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <MQTTAsync.h>

#include "mqttwords.h"

/* OpenSSL's last word on a handshake, which paho's own connect-failure text
 * ("TCP/TLS connect failure") leaves out. Caller-allocated; the TLS error
 * callback (a paho thread) writes it, the connect-failure callback takes it. */
typedef struct mqttedge_tls {
	pthread_mutex_t mu;
	char reason[160]; /* [mu] "" or e.g. "certificate verify failed" */
} mqttedge_tls;

void mqttedge_tls_init(mqttedge_tls *t);   /* cannot fail */
void mqttedge_tls_deinit(mqttedge_tls *t); /* cannot fail */

/* Copies the last reason into buf ("" if none) and forgets it. */
void mqttedge_tls_take(mqttedge_tls *t, char *buf, size_t cap);

/* How a client buffers while it cannot send (MQTT-NOTES: a client made with
 * createWithOptions refuses sends beyond maxBufferedMessages even while
 * connected, so raise it). */
typedef struct mqttedge_create_options {
	int max_buffered;             /* maxBufferedMessages */
	bool send_while_disconnected; /* queue publishes while away (and before the first connect) */
} mqttedge_create_options;

/* Creates *out for uri and client_id (MQTT 3.1.1, no paho persistence: no
 * Receive Maximum cap on our in-flight window). Returns paho's code
 * (MQTTASYNC_SUCCESS or an error for MQTTAsync_strerror); *out is NULL on
 * error. */
int mqttedge_create(MQTTAsync *out, const char *uri, const char *client_id, const mqttedge_create_options *o);

/* One connect's policy. Strings are borrowed until mqttedge_connect returns
 * (paho copies what it keeps). */
typedef struct mqttedge_connect_options {
	const char *uri;                 /* decides TLS with cafile and cert, see mqttedge_uses_tls */
	const char *username, *password; /* NULL: none */
	const char *cafile, *cert, *key; /* TLS files, NULL: none */
	const char *will_topic;          /* NULL: no Will; else retained, QoS 1 */
	const char *will_payload;
	int keepalive_s;
	int connect_timeout_s;
	int retry_min_s, retry_max_s; /* automatic reconnect between these; 0, 0: none */
	bool clean_session;
	mqttedge_tls *tls;               /* where OpenSSL's reason goes; NULL: not collected */
	MQTTAsync_onSuccess *on_success; /* the first connect only: use MQTTAsync_setConnected for all */
	MQTTAsync_onFailure *on_failure;
	void *context;
} mqttedge_connect_options;

/* True iff a connect to uri with these files uses TLS: an ssl:// or mqtts://
 * URI, or a CA file or client certificate given. */
bool mqttedge_uses_tls(const char *uri, const char *cafile, const char *cert);

/* Starts connecting c with o. Returns paho's code (MQTTASYNC_SUCCESS, or an
 * error: then no callback of o is called).
 *
 * The TLS policy, one for every program (there is no per-program switch):
 * the broker's certificate must chain to o->cafile (NULL: the system's CAs)
 * and name the host of o->uri (subjectAltName DNS or IP, as mosquitto_sub
 * checks without --insecure); the protocol is the library's default range,
 * which paho 1.3.12 on OpenSSL 1.1 and later takes whatever sslVersion says
 * (TLS_client_method): TLS 1.2 and 1.3 with Debian 12's OpenSSL 3. */
int mqttedge_connect(MQTTAsync c, const mqttedge_connect_options *o);

/* After a TLS connect failed with paho's code -1 (MQTTASYNC_FAILURE) and no
 * OpenSSL reason, which is how paho 1.3.12 reports a certificate that does
 * not name the broker's host: writes that sentence (mqttwords_wrong_host)
 * into buf and returns true when a look at the certificate (mqttcert.h,
 * presenting cert and key, NULL: none) confirms it; false, buf untouched,
 * for any other code or cause. Blocks (each network step up to timeout_ms):
 * never call it from a paho callback. */
bool mqttedge_explain_tls(const mqttwords_who *who, const char *cert, const char *key, int code,
                          int timeout_ms, char *buf, size_t cap);

/* The broker's refusal a CONNACK code means for good (2: client id rejected,
 * 4: bad user name or password, 5: not authorized), or NULL for a code that
 * is worth retrying. */
const char *mqttedge_refusal(int code);

#endif
