/*
 * log.c - the daemon's log sink: text or JSON lines on stderr or a file.
 *
 * Owns the sink's state (file, format, level), set at start-up and on
 * SIGHUP by the owner thread only; that is the one piece of process state
 * outside main.c, because a logger threaded through every call would add
 * noise and no safety. Never logs secrets: callers pass only what may be seen.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire.h"

static struct {
	FILE *f;
	char *path;
	bool json;
	int level;
} sink = {NULL, NULL, false, LOG_INFO};

static const char *level_names[] = {"error", "warn", "info", "debug"};

bool log_enabled(int level)
{
	return level <= sink.level;
}

void log_printable(char *buf, size_t cap, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		buf[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[k] = '\0';
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "warning") == 0)
		return LOG_WARN;
	return -1;
}

bool log_open(const char *path, bool json, int level)
{
	sink.json = json;
	sink.level = level;
	if (path == NULL)
		return true;
	FILE *f = fopen(path, "a");
	if (f == NULL)
		return false;
	setvbuf(f, NULL, _IOLBF, 0);
	sink.f = f;
	sink.path = strdup(path);
	return sink.path != NULL;
}

void log_reopen(void)
{
	if (sink.path == NULL)
		return;
	FILE *f = fopen(sink.path, "a");
	if (f == NULL)
		return; /* keep writing to the old file rather than lose lines */
	setvbuf(f, NULL, _IOLBF, 0);
	fclose(sink.f);
	sink.f = f;
}

void log_close(void)
{
	if (sink.f != NULL)
		fclose(sink.f);
	free(sink.path);
	sink.f = NULL;
	sink.path = NULL;
}

static bool needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			return true;
	return false;
}

/* A line under construction: appends never overflow; a line too long for
 * the buffer is cut and marked. */
typedef struct line {
	char buf[4096];
	size_t n;
	bool cut;
} line;

static void put(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(line *l, const char *fmt, ...)
{
	size_t room = sizeof l->buf - 8 - l->n; /* keep room for the cut marker and newline */
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(l->buf + l->n, room, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	if ((size_t)w >= room) {
		l->n += room - 1;
		l->cut = true;
	} else {
		l->n += (size_t)w;
	}
}

/* Appends v as the body of a JSON string (also used for quoted text values). */
static void put_escaped(line *l, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p && !l->cut; p++) {
		if (*p == '"' || *p == '\\')
			put(l, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			put(l, "\\u%04x", *p);
		else
			put(l, "%c", *p);
	}
}

static void wall_now(char *buf, size_t cap)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	wire_time_format((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, buf, cap);
}

/* Formats the whole line first and writes it with one call, so that lines
 * never interleave and stderr (unbuffered) costs one write per line. */
void log_emit(int level, const char *msg, ...)
{
	FILE *f = sink.f != NULL ? sink.f : stderr;
	char ts[32];
	line l = {.n = 0, .cut = false};
	wall_now(ts, sizeof ts);
	if (sink.json) {
		put(&l, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
		put_escaped(&l, msg);
		put(&l, "\"");
	} else {
		put(&l, "%s %s %s", ts, level_names[level], msg);
	}
	va_list ap;
	va_start(ap, msg);
	for (const char *k = va_arg(ap, const char *); k != NULL; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		if (v == NULL)
			continue; /* an absent field is left out */
		if (sink.json) {
			put(&l, ",\"%s\":\"", k);
			put_escaped(&l, v);
			put(&l, "\"");
		} else if (needs_quotes(v)) {
			put(&l, " %s=\"", k);
			put_escaped(&l, v);
			put(&l, "\"");
		} else {
			put(&l, " %s=%s", k, v);
		}
	}
	va_end(ap);
	if (l.cut) /* still well-formed: close what was open */
		l.n += (size_t)snprintf(l.buf + l.n, sizeof l.buf - l.n, sink.json ? "...\"}" : "...");
	else if (sink.json)
		l.n += (size_t)snprintf(l.buf + l.n, sizeof l.buf - l.n, "}");
	l.buf[l.n++] = '\n';
	fwrite(l.buf, 1, l.n, f);
}
