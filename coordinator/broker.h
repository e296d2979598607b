/*
 * broker.h - the coordinator's MQTT edge (paho MQTTAsync, MQTT 3.1.1, QoS 1).
 *
 * Knows MQTT and nothing of locks. paho's callbacks only copy what arrives
 * into an inbox under the broker's own mutex and write the caller's wake fd;
 * the owner thread takes the inbox with broker_take() and does everything
 * else (subscribing, publishing) from its own thread. No lock of ours is
 * held across a paho call.
 */
#ifndef BATON_BROKER_H
#define BATON_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"

typedef struct broker broker;

typedef struct broker_options {
	const char *uri; /* tcp://, mqtt://, ssl:// or mqtts://host:port (paho reads all four) */
	const char *client_id;
	bool clean_session;   /* the coordinator uses false: a persistent session */
	const char *username; /* NULL: none */
	const char *password; /* NULL: none */
	const char *cafile;   /* any TLS option (or an ssl:// URI) turns TLS on */
	const char *cert;
	const char *key;
	const char *will_topic; /* NULL: no Will */
	const char *will_payload;
	const char *const *subs; /* topic filters to (re)subscribe at QoS 1 after every connect */
	size_t n_subs;
	int keepalive_s;
	int wake_fd; /* written (8 bytes, eventfd style) whenever the inbox gets something */
} broker_options;

/* One received message; topic and payload are NUL-terminated copies. */
typedef struct broker_msg {
	struct broker_msg *next;
	char *topic;
	size_t topic_len;
	char *payload;
	size_t len;
	int64_t arrived_ns; /* CLOCK_MONOTONIC */
	bool retained;      /* delivered from the broker's retained store */
} broker_msg;

/* Everything that happened since the last take. */
typedef struct broker_inbox {
	broker_msg *msgs;  /* FIFO list, free with broker_msgs_free */
	unsigned connects; /* connections made (first and reconnects) */
	unsigned losses;   /* connections lost */
	unsigned failures; /* connect attempts that failed (first connect: retry with broker_start) */
	unsigned syncs;    /* broker_sync acknowledgements: every message sent before each is in msgs */
	bool refused;      /* the broker refused the connection (credentials, id): see broker_error */
} broker_inbox;

/* Creates the client (no network yet). The options' strings are copied.
 * On error writes a message to err. */
baton_err broker_new(const broker_options *o, broker **out, char *err, size_t cap);

/* Starts connecting; connects and reconnects on its own with backoff (1 s to
 * 30 s) until broker_free. Returns an error only if paho refuses to start. */
baton_err broker_start(broker *b);

/* Takes the inbox (may be empty). Cannot fail. */
void broker_take(broker *b, broker_inbox *in);
void broker_msgs_free(broker_msg *m);

/* Owner thread, after a connect: subscribes and sets TCP_NODELAY on the
 * broker socket. */
baton_err broker_on_connected(broker *b);

/* Owner thread: subscribes to (or drops) one more filter at QoS 1. */
baton_err broker_subscribe(broker *b, const char *filter);
baton_err broker_unsubscribe(broker *b, const char *filter);

/* Owner thread: unsubscribes filter and counts the broker's acknowledgement
 * in the inbox (syncs): the broker handles a client's packets in order, so
 * every retained message of an earlier subscribe is in the inbox by then. */
baton_err broker_sync(broker *b, const char *filter);

/* True iff mosquitto accepts topic[0..len) in a PUBLISH (its own checks,
 * libmosquitto: valid UTF-8 without the characters it refuses, no wildcard,
 * no NUL, not empty, not too long). */
bool broker_topic_ok(const char *topic, size_t len);

/* Publishes payload (len bytes; len 0 clears a retained message). Returns at
 * once; paho buffers while disconnected and re-sends QoS 1 after reconnect.
 * A topic the broker would refuse (broker_topic_ok) is never handed to paho:
 * BATON_E_INVAL, nothing published, broker_error says why. */
baton_err broker_publish(broker *b, const char *topic, const void *payload, size_t len, int qos,
                         bool retained);

/* Publishes not yet acknowledged by the broker. */
uint64_t broker_backlog(const broker *b);
bool broker_connected(broker *b);
/* Last connection error as text (static or owned by b). */
const char *broker_error(broker *b);

/* Waits up to timeout_ms for the backlog to drain, then disconnects
 * cleanly (no Will). */
void broker_stop(broker *b, int timeout_ms);
void broker_free(broker *b); /* NULL is fine */

#endif
