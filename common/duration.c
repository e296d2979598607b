/*
 * duration.c - parse and print durations (the rule is in duration.h).
 *
 * Owns the only duration parser in the tree. Pure: no allocation, no I/O;
 * linear in the length of its input.
 */
#include "duration.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct unit {
	const char *name;
	uint64_t ms;
} unit;

/* Largest first: the order a compound duration must follow. */
static const unit units[] = {
    {"d", 86400000ull}, {"h", 3600000ull}, {"m", 60000ull}, {"s", 1000ull}, {"ms", 1ull},
};
#define N_UNITS (sizeof units / sizeof units[0])

#define EXAMPLES "e.g. 250ms, 30s, 1m30s, 2h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The unit that s starts with (its length in *len), or -1. */
static int unit_at(const char *s, size_t *len)
{
	/* "ms" before "m": the longest name wins. */
	if (s[0] == 'm' && s[1] == 's') {
		*len = 2;
		return (int)N_UNITS - 1;
	}
	for (size_t i = 0; i + 1 < N_UNITS; i++)
		if (s[0] == units[i].name[0]) {
			*len = 1;
			return (int)i;
		}
	return -1;
}

static baton_err fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static baton_err fail(char *err, size_t cap, const char *fmt, ...)
{
	if (err != NULL && cap > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return BATON_E_INVAL;
}

baton_err duration_parse(const char *s, uint64_t *ms, char *err, size_t cap)
{
	uint64_t total = 0;
	int last = -1; /* index of the previous part's unit */
	const char *p = s;

	if (s == NULL || *s == '\0')
		return fail(err, cap, "empty duration: write one, " EXAMPLES);
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return BATON_OK;
	}
	while (*p != '\0') {
		uint64_t v = 0;
		size_t ulen = 0;
		if (!is_digit(*p))
			return fail(err, cap, "'%s' is not a duration: " EXAMPLES, s);
		for (; is_digit(*p); p++) {
			if (v > (UINT64_MAX - 9) / 10)
				return fail(err, cap, "'%s' is too long a duration", s);
			v = v * 10 + (uint64_t)(*p - '0');
		}
		if (*p == '\0' && last < 0) /* digits only */
			return fail(err, cap, "'%s' has no unit: write %ss (seconds) or %sms (milliseconds)",
			            s, s, s);
		if (*p == '.' || *p == ',')
			return fail(err, cap,
			            "'%s': no fractions in a duration: use a smaller unit, e.g. 1500ms", s);
		int u = *p == '\0' ? -1 : unit_at(p, &ulen);
		if (u < 0)
			return fail(
			    err, cap,
			    "'%s' is not a duration: every number needs a unit, ms, s, m, h or d (" EXAMPLES
			    ")",
			    s);
		if (u <= last)
			return fail(
			    err, cap,
			    "'%s' is not a duration: write the units largest first, each once (e.g. 1m30s)",
			    s);
		if (v > (UINT64_MAX - total) / units[u].ms)
			return fail(err, cap, "'%s' is too long a duration", s);
		total += v * units[u].ms;
		last = u;
		p += ulen;
	}
	*ms = total;
	return BATON_OK;
}

void duration_format(int64_t ms, char *buf, size_t cap)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, cap, "%lldms", (long long)ms);
	else if (ms < 60 * 1000)
		snprintf(buf, cap, "%lld.%llds", (long long)(ms / 1000), (long long)(ms % 1000 / 100));
	else if (ms < 3600 * 1000)
		snprintf(buf, cap, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
	else
		snprintf(buf, cap, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
}

void duration_format_exact(uint64_t ms, char *buf, size_t cap)
{
	size_t n = 0;
	if (cap == 0)
		return;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, cap, "0");
		return;
	}
	for (size_t i = 0; i < N_UNITS && n < cap; i++) {
		uint64_t v = ms / units[i].ms;
		if (v == 0)
			continue;
		ms -= v * units[i].ms;
		int w = snprintf(buf + n, cap - n, "%llu%s", (unsigned long long)v, units[i].name);
		if (w < 0)
			return;
		n += (size_t)w;
	}
}
