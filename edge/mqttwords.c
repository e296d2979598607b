/*
 * mqttwords.c - broker connection failures in words (see mqttwords.h).
 *
 * No I/O, no allocation. paho's own texts ("CONNACK return code",
 * "MQTTProtocol_closeSession", "socket error") name its internals; these
 * sentences name what the user set and can change instead. paho's code is
 * kept at the end in parentheses, for a search or a bug report.
 */
#include "mqttwords.h"

#include <stdio.h>
#include <string.h>

const char *mqttwords_connack(int code)
{
	switch (code) {
	case 1:
		return "the broker refused the connection: it does not speak MQTT 3.1.1 (CONNACK 1, "
		       "unacceptable "
		       "protocol version)";
	case 2:
		return "the broker refused the client id (CONNACK 2, identifier rejected)";
	case 3:
		return "the broker refused the connection: it is not serving now (CONNACK 3, server "
		       "unavailable)";
	case 4:
		return "the broker refused the user name or password (CONNACK 4, bad user name or password)";
	case 5:
		return "not authorized: the broker refused the connection (CONNACK 5, not authorized)";
	default:
		return NULL;
	}
}

static const char *or_none(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

static void connack_advice(char *buf, size_t cap, const mqttwords_who *who, int code)
{
	const char *user = or_none(who->username);
	switch (code) {
	case 1:
		snprintf(buf, cap, "; check that %s is an MQTT broker (mosquitto 1.4 or later)", who->broker);
		break;
	case 2:
		snprintf(buf, cap,
		         "; check %s '%s' (1 to 23 characters of [A-Za-z0-9] is what every broker takes)",
		         who->id_flag, who->client_id);
		break;
	case 3:
		snprintf(buf, cap, "; try again later, or check the broker's log");
		break;
	default: /* 4, 5 */
		if (user != NULL)
			snprintf(buf, cap,
			         "; check --username '%s' and the password in --password-file, and that the "
			         "broker's password file and ACL let '%s' connect as %s '%s'",
			         user, user, who->id_flag, who->client_id);
		else
			snprintf(
			    buf, cap,
			    "; this broker wants a user: give --username and --password-file (it does not "
			    "allow anonymous clients)");
	}
}

void mqttwords_connect(char *buf, size_t cap, const mqttwords_who *who, int code, const char *paho_msg,
                       const char *tls)
{
	const char *connack = mqttwords_connack(code);
	char advice[384];
	if (connack != NULL) {
		connack_advice(advice, sizeof advice, who, code);
		snprintf(buf, cap, "%s%s", connack, advice);
	} else if (or_none(tls) != NULL) {
		snprintf(buf, cap,
		         "TLS handshake with %s failed: %s; check --cafile (the CA that signed the broker's "
		         "certificate), that the certificate names the host in the URI, and --cert/--key if "
		         "the broker wants a client certificate",
		         who->broker, tls);
	} else if (code == -3 && who->tls) {
		snprintf(
		    buf, cap,
		    "the broker at %s closed the connection during the TLS handshake; check that the port "
		    "is a TLS listener and --cafile/--cert/--key (paho: %s, code %d)",
		    who->broker, paho_msg ? paho_msg : "?", code);
	} else if (code == -3) {
		snprintf(buf, cap,
		         "the broker at %s closed the connection before accepting it; check that the port is "
		         "an MQTT listener without TLS (use ssl:// for a TLS one) and the broker's log "
		         "(paho: %s, code %d)",
		         who->broker, paho_msg ? paho_msg : "?", code);
	} else {
		snprintf(buf, cap,
		         "cannot reach the broker at %s: nothing accepted a connection there; check --broker "
		         "and that the broker is running (paho: %s, code %d)",
		         who->broker, paho_msg ? paho_msg : "connect failed", code);
	}
}

void mqttwords_wrong_host(char *buf, size_t cap, const mqttwords_who *who, const char *host,
                          const char *names)
{
	snprintf(buf, cap,
	         "TLS handshake with %s failed: the broker's certificate does not name %s (it names %s); "
	         "give --broker a host the certificate names, or have the certificate reissued with %s in "
	         "its subjectAltName",
	         who->broker, host, names, host);
}

void mqttwords_lost(char *buf, size_t cap, const mqttwords_who *who, const char *cause)
{
	if (or_none(cause) != NULL)
		snprintf(buf, cap, "connection to the broker at %s lost: %s", who->broker, cause);
	else
		snprintf(
		    buf, cap,
		    "connection to the broker at %s lost: the broker closed it or the network dropped it "
		    "(no reply within the keepalive)",
		    who->broker);
}

void mqttwords_duplicate(char *buf, size_t cap, const mqttwords_who *who)
{
	snprintf(buf, cap,
	         "the broker at %s keeps closing our connection right after accepting it: another process "
	         "is probably connected with the same node id '%s' (each connect takes the session from the "
	         "other); give each process its own %s (or BATON_NODE)",
	         who->broker, who->client_id, who->id_flag);
}

void mqttwords_acl_refused(char *buf, size_t cap, const mqttwords_who *who, const char *topic)
{
	if (who->username != NULL)
		snprintf(buf, cap,
		         "not authorized: user %.64s may not act as node %.64s (the broker's ACL dropped its "
		         "presence on %.200s; with the shipped ACL the node id is the user name)",
		         who->username, who->client_id, topic);
	else
		snprintf(
		    buf, cap,
		    "not authorized: the broker's ACL does not let an anonymous client act as node %.64s "
		    "(it dropped its presence on %.200s)",
		    who->client_id, topic);
}

bool mqttwords_lost_is_duplicate(long long up_ms, unsigned *short_streak)
{
	if (up_ms >= MQTTWORDS_DUP_UP_MS) {
		*short_streak = 0;
		return false;
	}
	if (*short_streak < MQTTWORDS_DUP_STREAK)
		(*short_streak)++;
	return *short_streak >= MQTTWORDS_DUP_STREAK;
}

void mqttwords_failed_attempt(unsigned *short_streak)
{
	*short_streak = 0;
}
