/*
 * errmsg.h - the one way a function that can fail writes its one-line
 * message for the caller: into err (when err is not NULL and cap > 0),
 * truncated to cap bytes, NUL-terminated. Pure: no I/O.
 */
#ifndef BATON_ERRMSG_H
#define BATON_ERRMSG_H

#include <stddef.h>

#include "baton_error.h"

/* Writes the printf-style message into err and returns code, so that a
 * failure is one line: return errmsg_say(err, cap, BATON_E_INVAL, "..."). */
baton_err errmsg_say(char *err, size_t cap, baton_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
