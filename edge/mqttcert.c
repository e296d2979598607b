/*
 * mqttcert.c - the broker certificate's names, for the words of a refused
 * TLS connection (see mqttcert.h for the contract).
 *
 * Owns one short OpenSSL client handshake per call, made only after paho
 * failed a TLS connect without OpenSSL's reason. Its verification is off
 * on purpose (it reads the certificate, it trusts nothing it says) and it
 * sends no MQTT byte. Never logs, never called from paho's threads.
 */
#include "mqttcert.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mqttnet.h"

/* Appends "sep item" to out (cut at cap). */
static void append(char *out, size_t cap, const char *item)
{
	size_t used = strlen(out);
	if (used + 1 < cap)
		snprintf(out + used, cap - used, "%s%s", used > 0 ? ", " : "", item);
}

/* The subjectAltName DNS and IP entries of x, or its CN when it has none. */
static void list_names(X509 *x, char *out, size_t cap)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char item[300];
	out[0] = '\0';
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[INET6_ADDRSTRLEN];
		if (g->type == GEN_DNS) {
			snprintf(item, sizeof item, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
			         (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD && (ASN1_STRING_length(g->d.iPAddress) == 4 ||
		                                    ASN1_STRING_length(g->d.iPAddress) == 16)) {
			int af = ASN1_STRING_length(g->d.iPAddress) == 4 ? AF_INET : AF_INET6;
			if (inet_ntop(af, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof ip) == NULL)
				continue;
			snprintf(item, sizeof item, "IP:%s", ip);
		} else {
			continue;
		}
		append(out, cap, item);
	}
	GENERAL_NAMES_free(gens);
	if (out[0] == '\0') {
		char cn[256];
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) > 0)
			snprintf(out, cap, "CN=%s and no DNS or IP subjectAltName", cn);
		else
			snprintf(out, cap, "no name at all");
	}
}

/* paho 1.3.12's check (SSLSocket_connect): the host name, else the address. */
static bool names_host(X509 *x, const char *host)
{
	return X509_check_host(x, host, strlen(host), 0, NULL) == 1 || X509_check_ip_asc(x, host, 0) == 1;
}

static SSL_CTX *probe_ctx(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (cert != NULL && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		cert = NULL; /* the broker may still show its certificate */
	if (cert != NULL && key != NULL)
		(void)SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM);
	return ctx;
}

bool mqttcert_wrong_host(const char *uri, const char *cert, const char *key, int timeout_ms, char *host,
                         size_t host_cap, char *names, size_t names_cap)
{
	char port[16];
	bool tls, wrong = false;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *x = NULL;
	int fd = -1;

	host[0] = names[0] = '\0';
	if (mqttnet_split_uri(uri, host, host_cap, port, sizeof port, &tls) != 0)
		goto out;
	fd = mqttnet_tcp_open(uri, timeout_ms);
	ctx = fd >= 0 ? probe_ctx(cert, key) : NULL;
	ssl = ctx != NULL ? SSL_new(ctx) : NULL;
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1)
		goto out;
	(void)SSL_set_tlsext_host_name(ssl, host); /* SNI, as paho sends it */
	if (SSL_connect(ssl) != 1 || (x = SSL_get1_peer_certificate(ssl)) == NULL)
		goto out;
	wrong = !names_host(x, host);
	if (wrong)
		list_names(x, names, names_cap);
out:
	X509_free(x);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	if (!wrong)
		host[0] = '\0';
	return wrong;
}
