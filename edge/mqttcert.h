/*
 * mqttcert.h - why a TLS broker was refused when OpenSSL gave no reason:
 * paho 1.3.12 checks the certificate's host name itself after the handshake
 * (X509_check_host, then X509_check_ip_asc) and reports a mismatch only as
 * "TCP/TLS connect failure" (code -1), without calling ssl_error_cb. This
 * looks at the broker's certificate again, with a handshake of its own, and
 * tells whether it names the host of the URI, and which names it carries.
 *
 * Diagnosis only: nothing but a handshake is sent, and what it learns never
 * lets a connection through (the connection itself is paho's, checked by
 * the policy in mqttedge.h). Blocks; never call it from a paho callback.
 */
#ifndef BATON_MQTTCERT_H
#define BATON_MQTTCERT_H

#include <stdbool.h>
#include <stddef.h>

/* Handshakes with the broker of uri (presenting cert and key when given;
 * cafile is not needed: the chain is paho's check, and a bad chain has
 * OpenSSL's reason), each step (the TCP connect, every read and write)
 * within timeout_ms, and checks that the
 * certificate it shows names the URI's host as paho does. True iff it does
 * not: then host gets the URI's host and names the names the certificate
 * carries ("DNS:localhost, IP:10.0.0.1", or "CN=..." when it has no DNS
 * or IP subjectAltName). False when it names the host or no certificate could be
 * read (broker down, handshake refused, out of memory). Cannot fail
 * otherwise; outputs are NUL-terminated and cut to their caps. */
bool mqttcert_wrong_host(const char *uri, const char *cert, const char *key, int timeout_ms, char *host,
                         size_t host_cap, char *names, size_t names_cap);

#endif
