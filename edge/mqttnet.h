/*
 * mqttnet.h - network helpers both MQTT edges share (the coordinator's
 * broker.c and libbaton): paho 1.3.12 hides its socket and flattens TLS
 * errors, and these put back what we need. No allocation beyond
 * getaddrinfo; never prints.
 */
#ifndef BATON_MQTTNET_H
#define BATON_MQTTNET_H

#include <stdbool.h>
#include <stddef.h>

#include "baton_error.h"

/* Splits a broker URI (tcp://, mqtt://, ssl://, mqtts://, or a bare host)
 * into host and port (defaults 1883, or 8883 for the TLS schemes); *tls
 * tells the scheme. BATON_E_INVAL if malformed. Only for our own use (the
 * broker's address, TLS or not): paho gets the URI as it was given. */
baton_err mqttnet_split_uri(const char *uri, char *host, size_t host_cap, char *port, size_t port_cap,
                            bool *tls);

struct addrinfo;

/* Resolves the broker of uri into *out (free it with freeaddrinfo).
 * BATON_E_INVAL for a malformed URI, BATON_E_IO when it does not resolve. */
baton_err mqttnet_resolve(const char *uri, struct addrinfo **out);

/* Sets TCP_NODELAY on every socket of this process whose peer is one of
 * peer's addresses, and writes the first cap of them into fds (may be NULL).
 * Returns how many sockets it changed, or BATON_E_IO. For a process with many
 * clients that resolves the broker once (the benchmarks). */
int mqttnet_nodelay_peer(const struct addrinfo *peer, int *fds, size_t cap);

/* Sets TCP_NODELAY on every socket of this process whose peer is the broker
 * of uri (paho never sets it: a QoS 1 round trip then waits on Nagle, 88 ms
 * here). Returns how many sockets it changed, or a negative baton_err. */
int mqttnet_nodelay(const char *uri);

/* True when a plain TCP connection to the broker of uri can be made within
 * timeout_ms (and is closed at once): the host listens there. Blocks up to
 * timeout_ms; never call it from a paho callback. */
bool mqttnet_tcp_reachable(const char *uri, int timeout_ms);

/* A TCP connection to the broker of uri made within timeout_ms: a blocking
 * socket whose reads and writes time out after timeout_ms each (the caller
 * closes it), or -1. Blocks; never call it from a paho callback. */
int mqttnet_tcp_open(const char *uri, int timeout_ms);

/* Writes into buf the reason of an OpenSSL error line as paho's
 * ssl_error_cb hands it over (str, len), e.g. "certificate verify failed";
 * the whole line when it has no recognisable reason. Cannot fail. */
void mqttnet_tls_reason(const char *str, size_t len, char *buf, size_t cap);

#endif
