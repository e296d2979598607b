/*
 * log.h - the daemon's one level-gated log macro with key=value fields.
 * Text: "2026-11-27T10:00:00.123Z info grant resource=r node=n1 token=4".
 * JSON: {"ts":"...","level":"info","msg":"grant","resource":"r",...}.
 * Only the owner thread and main log; the core never logs.
 */
#ifndef BATON_LOG_H
#define BATON_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* True iff a message at level would be written. The sink's state is private
 * to log.c (set once at start by log_open). */
bool log_enabled(int level);

/* Opens path for appending (NULL: stderr); json selects the format. Returns
 * false (and keeps stderr) if the file cannot be opened. */
bool log_open(const char *path, bool json, int level);
/* Reopens the log file (SIGHUP, after rotation). No-op on stderr. */
void log_reopen(void);
void log_close(void);

/* fields: alternating key, value strings, ended by NULL; a pair whose value
 * is NULL is left out. Values are quoted
 * when they contain spaces, quotes or control characters. */
void log_emit(int level, const char *msg, ...);

#define LOGF(level, ...)                                                                                     \
	do {                                                                                                 \
		if (log_enabled(level))                                                                      \
			log_emit((level), __VA_ARGS__, NULL);                                                \
	} while (0)
#define LOG_E(...) LOGF(LOG_ERROR, __VA_ARGS__)
#define LOG_W(...) LOGF(LOG_WARN, __VA_ARGS__)
#define LOG_I(...) LOGF(LOG_INFO, __VA_ARGS__)
#define LOG_D(...) LOGF(LOG_DEBUG, __VA_ARGS__)

/* A printable, bounded excerpt of s[0..n) for a log line (s may hold
 * anything: bytes outside printable ASCII become '?'). */
void log_printable(char *buf, size_t cap, const char *s, size_t n);

/* Parses "error", "warn", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *s);

#endif
