/*
 * names.c - the grammar of node ids, request ids, resource names and topic
 * prefixes (PROTOCOL.md "Words"), and the topics built from them.
 *
 * Owns: every rule about which bytes a name may hold, and the layout of every
 * topic: building, parsing and subscription filters (and their matching), for
 * every topic kind. No other file writes or splits a topic. Must never allocate, log or do I/O: each function
 * is a pure scan of borrowed bytes, linear in their length.
 */
#include "names.h"

#include <string.h>

static bool node_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

bool names_node_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > NAMES_NODE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!node_byte((unsigned char)s[i]))
			return false;
	return true;
}

bool names_id_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > NAMES_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!node_byte(c) && c != ':')
			return false;
	}
	return true;
}

size_t names_utf8_next(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (len == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0; /* a continuation byte, an overlong lead (C0, C1) or above U+10FFFF */
	if (len < n)
		return 0;
	/* The second byte's range is what excludes overlongs, surrogates and
	 * code points above U+10FFFF (RFC 3629, section 4). */
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

bool names_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (s == NULL)
		return len == 0;
	while (i < len) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = names_utf8_next(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* The code point of the valid n-byte sequence at s (names_utf8_next said n). */
static uint32_t utf8_decode(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	static const unsigned char lead_mask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
	uint32_t cp = p[0] & lead_mask[n];

	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | (p[i] & 0x3Fu);
	return cp;
}

/* Unicode's 66 noncharacters: U+FDD0..U+FDEF and the last two code points of
 * every plane (U+xFFFE, U+xFFFF). mosquitto drops a client that publishes a
 * topic holding one ("malformed packet"). */
static bool noncharacter(uint32_t cp)
{
	return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFEu) == 0xFFFEu;
}

bool names_resource_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (s == NULL || len == 0 || len > NAMES_RESOURCE_MAX)
		return false;
	if (s[0] == '$' || s[0] == '/' || s[len - 1] == '/')
		return false;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7F || c == '+' || c == '#')
				return false;
			if (c == '/' && i + 1 < len && s[i + 1] == '/')
				return false;
			i++;
			continue;
		}
		size_t n = names_utf8_next(s + i, len - i);
		if (n == 0)
			return false;
		/* U+0080..U+009F (C1 controls) are encoded C2 80..C2 9F. */
		if (c == 0xC2 && (unsigned char)s[i + 1] <= 0x9F)
			return false;
		if (noncharacter(utf8_decode(s + i, n)))
			return false;
		i += n;
	}
	return true;
}

uint32_t names_noncharacter_find(const char *s, size_t len)
{
	size_t i = 0;

	if (s == NULL)
		return 0;
	while (i < len) {
		size_t n = names_utf8_next(s + i, len - i);
		if (n == 0) {
			i++; /* not UTF-8 here: another rule's business */
			continue;
		}
		uint32_t cp = utf8_decode(s + i, n);
		if (noncharacter(cp))
			return cp;
		i += n;
	}
	return 0;
}

bool names_prefix_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > NAMES_PREFIX_MAX)
		return false;
	if (s[0] == '$' || s[0] == '/' || s[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7E || c == '+' || c == '#')
			return false;
		if (c == '/' && i + 1 < len && s[i + 1] == '/')
			return false;
	}
	return true;
}

/* The topic level after the prefix of kind, or NULL for a kind outside the enum. */
static const char *kind_level(names_kind kind)
{
	switch (kind) {
	case NAMES_REQ:
		return "/req/";
	case NAMES_GRANT:
		return "/grant/";
	case NAMES_OUTCOME:
		return "/outcome/";
	case NAMES_STATE:
		return "/state/";
	case NAMES_NODE:
		return "/node/";
	case NAMES_COORDINATOR:
		return "/coordinator";
	case NAMES_STATS:
		return "/stats";
	case NAMES_MEMBER:
		return "/coordinator/";
	case NAMES_ADMIN_REQ:
		return "/coordinator/admin/req/";
	case NAMES_ADMIN_ANS:
		return "/coordinator/admin/ans/";
	}
	return NULL;
}

/* A group member id as a topic level: 1..999999 in decimal, no leading 0. */
static bool member_valid(const char *s, size_t len)
{
	if (len == 0 || len > 6 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

baton_err names_topic(char *buf, size_t cap, const char *prefix, names_kind kind, const char *arg,
                      size_t *len_out)
{
	const char *level = kind_level(kind);
	size_t plen, llen, alen = 0;

	if (buf == NULL || prefix == NULL || level == NULL)
		return BATON_E_INVAL;
	plen = strlen(prefix);
	if (!names_prefix_valid(prefix, plen))
		return BATON_E_INVAL;
	if (kind != NAMES_COORDINATOR && kind != NAMES_STATS) {
		if (arg == NULL)
			return BATON_E_INVAL;
		alen = strlen(arg);
		bool resource = kind == NAMES_OUTCOME || kind == NAMES_STATE;
		if (kind == NAMES_MEMBER ? !member_valid(arg, alen)
		    : resource           ? !names_resource_valid(arg, alen)
		                         : !names_node_valid(arg, alen))
			return BATON_E_INVAL;
	}
	llen = strlen(level);
	if (plen + llen + alen + 1 > cap)
		return BATON_E_INVAL;
	memcpy(buf, prefix, plen);
	memcpy(buf + plen, level, llen);
	if (alen > 0)
		memcpy(buf + plen + llen, arg, alen);
	buf[plen + llen + alen] = '\0';
	if (len_out != NULL)
		*len_out = plen + llen + alen;
	return BATON_OK;
}

/* True iff topic[0..len) starts with the NUL-terminated word. */
static bool starts_with(const char *topic, size_t len, const char *word, size_t wlen)
{
	return len >= wlen && memcmp(topic, word, wlen) == 0;
}

/* Splits topic[0..len) as prefix + the level of kind a or b (kind_level)
 * + a tail: true with *kind and the tail set, false when it is neither. */
static bool split_topic(const char *prefix, const char *topic, size_t len, names_kind a, names_kind b,
                        names_kind *kind, const char **tail, size_t *tail_len)
{
	size_t plen = strlen(prefix);
	if (!starts_with(topic, len, prefix, plen))
		return false;
	const names_kind kinds[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		const char *level = kind_level(kinds[i]);
		size_t llen = strlen(level);
		if (starts_with(topic + plen, len - plen, level, llen)) {
			*kind = kinds[i];
			*tail = topic + plen + llen;
			*tail_len = len - plen - llen;
			return true;
		}
	}
	return false;
}

baton_err names_topic_parse(const char *prefix, const char *topic, size_t topic_len, names_kind *kind,
                            const char **node, size_t *node_len)
{
	names_kind k;
	const char *tail;
	size_t tlen;

	if (prefix == NULL || topic == NULL || kind == NULL || node == NULL || node_len == NULL)
		return BATON_E_INVAL;
	if (!split_topic(prefix, topic, topic_len, NAMES_REQ, NAMES_NODE, &k, &tail, &tlen))
		return BATON_E_INVAL;
	if (!names_node_valid(tail, tlen))
		return BATON_E_BAD_TOPIC;
	*kind = k;
	*node = tail;
	*node_len = tlen;
	return BATON_OK;
}

baton_err names_resource_topic_parse(const char *prefix, const char *topic, size_t topic_len,
                                     names_kind *kind, const char **resource, size_t *resource_len)
{
	if (prefix == NULL || topic == NULL || kind == NULL || resource == NULL || resource_len == NULL)
		return BATON_E_INVAL;
	return split_topic(prefix, topic, topic_len, NAMES_STATE, NAMES_OUTCOME, kind, resource, resource_len)
	           ? BATON_OK
	           : BATON_E_INVAL;
}

bool names_resource_filter_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > NAMES_RESOURCE_MAX || s[0] == '$' || !names_utf8_valid(s, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool level_start = i == 0 || s[i - 1] == '/';
		bool level_end = i + 1 == len || s[i + 1] == '/';

		if (ch < 0x20 || ch == 0x7f)
			return false;
		if (ch == '+' && !(level_start && level_end))
			return false;
		if (ch == '#' && !(level_start && i + 1 == len))
			return false;
	}
	return true;
}

baton_err names_filter(char *buf, size_t cap, const char *prefix, names_kind kind, const char *filter,
                       size_t *len_out)
{
	const char *level = kind_level(kind);
	const char *tail = "";
	size_t plen, llen, tlen;

	if (buf == NULL || prefix == NULL || level == NULL)
		return BATON_E_INVAL;
	plen = strlen(prefix);
	if (!names_prefix_valid(prefix, plen))
		return BATON_E_INVAL;
	if (kind == NAMES_STATE || kind == NAMES_OUTCOME) {
		tail = filter ? filter : "#";
		if (!names_resource_filter_valid(tail, strlen(tail)))
			return BATON_E_INVAL;
	} else if (kind != NAMES_COORDINATOR && kind != NAMES_STATS) {
		if (filter != NULL && strcmp(filter, "#") != 0)
			return BATON_E_INVAL;
		tail = filter ? "#" : "+";
	}
	llen = strlen(level);
	tlen = strlen(tail);
	if (plen + llen + tlen + 1 > cap)
		return BATON_E_INVAL;
	memcpy(buf, prefix, plen);
	memcpy(buf + plen, level, llen);
	memcpy(buf + plen + llen, tail, tlen);
	buf[plen + llen + tlen] = '\0';
	if (len_out != NULL)
		*len_out = plen + llen + tlen;
	return BATON_OK;
}

bool names_filter_match(const char *f, const char *t)
{
	for (;;) {
		const char *fe = strchr(f, '/'), *te = strchr(t, '/');
		size_t fl = fe ? (size_t)(fe - f) : strlen(f);
		size_t tl = te ? (size_t)(te - t) : strlen(t);

		if (fl == 1 && f[0] == '#')
			return true;
		if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
			return false;
		if (fe == NULL)
			return te == NULL;
		if (te == NULL)
			return strcmp(fe + 1, "#") == 0; /* "a/#" also matches "a" */
		f = fe + 1;
		t = te + 1;
	}
}

void names_node_sanitize(char *buf, size_t cap, const char *s)
{
	size_t n = 0;

	if (buf == NULL || cap == 0)
		return;
	if (s != NULL) {
		for (; s[n] != '\0' && n < NAMES_NODE_MAX && n + 1 < cap; n++)
			buf[n] = node_byte((unsigned char)s[n]) ? s[n] : '-';
	}
	if (n == 0 && s != NULL && s[0] != '\0') {
		/* cap was 1: only the terminator fits. */
		buf[0] = '\0';
		return;
	}
	if (n == 0) {
		const char *dflt = "node";
		for (; dflt[n] != '\0' && n + 1 < cap; n++)
			buf[n] = dflt[n];
	}
	buf[n] = '\0';
}

bool names_admin_req_parse(const char *prefix, const char *topic, size_t topic_len, const char **asker,
                           size_t *asker_len)
{
	const char *level = kind_level(NAMES_ADMIN_REQ);
	size_t plen = prefix != NULL ? strlen(prefix) : 0, llen = strlen(level);
	if (topic == NULL || plen == 0 || topic_len <= plen + llen || memcmp(topic, prefix, plen) != 0 ||
	    memcmp(topic + plen, level, llen) != 0 ||
	    !names_node_valid(topic + plen + llen, topic_len - plen - llen))
		return false;
	*asker = topic + plen + llen;
	*asker_len = topic_len - plen - llen;
	return true;
}
