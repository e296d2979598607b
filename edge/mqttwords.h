/*
 * mqttwords.h - what went wrong with a broker connection, in words a user
 * can act on: every MQTT 3.1.1 CONNACK refusal, TLS failures, unreachable
 * brokers, lost connections, a node id another process also uses and an
 * ACL that drops our own presence (a user acting as another node). Each
 * sentence says what happened and what to check (which flag, which file).
 *
 * Pure: no I/O, no allocation, never prints. Shared by both MQTT edges
 * (libbaton and the coordinator's broker.c), so the two programs say the
 * same thing about the same failure.
 */
#ifndef BATON_MQTTWORDS_H
#define BATON_MQTTWORDS_H

#include <stdbool.h>
#include <stddef.h>

/* Who was connecting: the names a sentence quotes and the flags to check. */
typedef struct mqttwords_who {
	const char *broker;    /* the URI as given */
	const char *client_id; /* the MQTT client id (a node id for libbaton) */
	const char *username;  /* NULL: none given */
	const char *id_flag;   /* the flag that sets client_id: "--node", "--client-id" */
	bool tls;              /* TLS was asked for (ssl://, mqtts:// or a TLS option) */
} mqttwords_who;

/* The sentence for the MQTT 3.1.1 CONNACK return code (1..5), without the
 * advice; NULL for any other value. Static storage. */
const char *mqttwords_connack(int code);

/* A failed connect attempt: code is paho's failure code (the CONNACK return
 * code 1..5 when the broker answered and refused, else a negative
 * MQTTASYNC_* value), paho_msg paho's text (NULL: none), tls OpenSSL's last
 * reason (NULL or "": none). Writes one sentence into buf (cap bytes,
 * NUL-terminated, cut if need be). Cannot fail. */
void mqttwords_connect(char *buf, size_t cap, const mqttwords_who *who, int code, const char *paho_msg,
                       const char *tls);

/* A TLS connect refused because the broker's certificate does not name
 * host, the host of the URI (names: the names it carries, mqttcert.h). */
void mqttwords_wrong_host(char *buf, size_t cap, const mqttwords_who *who, const char *host,
                          const char *names);

/* A connection that was up and was lost; cause is paho's (often NULL). */
void mqttwords_lost(char *buf, size_t cap, const mqttwords_who *who, const char *cause);

/* The broker keeps closing connections right after accepting them, which
 * is what mosquitto does to two clients with one client id (each connect
 * takes the session from the other). */
void mqttwords_duplicate(char *buf, size_t cap, const mqttwords_who *who);

/* The broker's ACL dropped our own presence on topic (acknowledged, never
 * delivered back: mosquitto refuses nothing in words on MQTT 3.1.1), so
 * this user may not act as this node (libbaton's session.c tells). */
void mqttwords_acl_refused(char *buf, size_t cap, const mqttwords_who *who, const char *topic);

/* The duplicate-id signature, as a pure rule over a connection's history:
 * up_ms how long the connection that was just lost had been up, and
 * *short_streak the count of such short-lived connections in a row (updated
 * here: a long-lived one resets it, a failed connect attempt should reset it
 * too, via mqttwords_failed_attempt). True once the streak reaches
 * MQTTWORDS_DUP_STREAK connections each up for less than MQTTWORDS_DUP_UP_MS:
 * a network failure makes connects fail in between; a takeover does not. */
#define MQTTWORDS_DUP_STREAK 2
#define MQTTWORDS_DUP_UP_MS  8000
bool mqttwords_lost_is_duplicate(long long up_ms, unsigned *short_streak);
void mqttwords_failed_attempt(unsigned *short_streak);

#endif
