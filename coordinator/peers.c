/*
 * peers.c - parsing of --peers and --member (peers.h).
 *
 * Pure: no I/O, no allocation. Addresses are IPv4 dotted quads with a port
 * because that is what libraft's TCP transport takes.
 */
#include "peers.h"
#include "errmsg.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

baton_err group_member_parse(const char *s, uint64_t *id)
{
	uint64_t v = 0;
	size_t n = s != NULL ? strlen(s) : 0;
	if (n == 0 || n > 6 || s[0] == '0')
		return BATON_E_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return BATON_E_INVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*id = v;
	return BATON_OK;
}

static int cmp_peer(const void *a, const void *b)
{
	const group_peer *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* One "ID=HOST:PORT" of len bytes. */
static baton_err parse_peer(const char *s, size_t len, group_peer *p, char *err, size_t cap)
{
	const char *eq = memchr(s, '=', len);
	if (eq == NULL || eq == s)
		return errmsg_say(err, cap, BATON_E_INVAL, "--peers: '%.*s' is not ID=HOST:PORT", (int)len,
		                  s);
	char idtext[8];
	uint64_t id = 0;
	size_t idlen = (size_t)(eq - s);
	if (idlen < sizeof idtext) {
		memcpy(idtext, s, idlen);
		idtext[idlen] = '\0';
	}
	if (idlen >= sizeof idtext || group_member_parse(idtext, &id) != BATON_OK)
		return errmsg_say(err, cap, BATON_E_INVAL, "--peers: member id '%.*s' is not 1..999999",
		                  (int)idlen, s);
	const char *addr = eq + 1;
	size_t alen = len - (size_t)(addr - s);
	const char *colon = NULL;
	for (const char *c = addr; c < addr + alen; c++)
		if (*c == ':')
			colon = c;
	if (id == 0 || alen == 0 || alen > GROUP_ADDR_MAX || colon == NULL)
		return errmsg_say(err, cap, BATON_E_INVAL,
		                  "--peers: '%.*s' is not ID=HOST:PORT with an id 1..999999", (int)len, s);
	char host[GROUP_ADDR_MAX + 1];
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	unsigned long port = 0;
	size_t plen = alen - (size_t)(colon - addr) - 1;
	for (size_t i = 0; i < plen; i++) {
		char c = colon[1 + i];
		if (c < '0' || c > '9' || port > 65535)
			break;
		port = port * 10 + (unsigned long)(c - '0');
	}
	struct in_addr in;
	if (plen == 0 || plen > 5 || port == 0 || port > 65535 || strspn(colon + 1, "0123456789") < plen ||
	    inet_pton(AF_INET, host, &in) != 1)
		return errmsg_say(err, cap, BATON_E_INVAL,
		                  "--peers: '%.*s': the address must be an IPv4 address and a port 1..65535",
		                  (int)len, s);
	p->id = id;
	memcpy(p->address, addr, alen);
	p->address[alen] = '\0';
	return BATON_OK;
}

baton_err group_peers_parse(const char *s, group_peer *out, size_t *n, char *err, size_t cap)
{
	size_t k = 0;
	if (s == NULL || out == NULL || n == NULL || *s == '\0')
		return errmsg_say(err, cap, BATON_E_INVAL, "--peers: empty");
	while (*s != '\0') {
		size_t len = strcspn(s, ",");
		if (k == GROUP_MAX_PEERS)
			return errmsg_say(err, cap, BATON_E_INVAL, "--peers: more than %d members",
			                  GROUP_MAX_PEERS);
		baton_err rc = parse_peer(s, len, &out[k], err, cap);
		if (rc != BATON_OK)
			return rc;
		for (size_t j = 0; j < k; j++)
			if (out[j].id == out[k].id || strcmp(out[j].address, out[k].address) == 0)
				return errmsg_say(err, cap, BATON_E_INVAL,
				                  "--peers: member %llu or address %s given twice",
				                  (unsigned long long)out[k].id, out[k].address);
		k++;
		s += len;
		if (*s == ',' && *++s == '\0')
			return errmsg_say(err, cap, BATON_E_INVAL, "--peers: ends with ','");
	}
	qsort(out, k, sizeof *out, cmp_peer);
	*n = k;
	return BATON_OK;
}
