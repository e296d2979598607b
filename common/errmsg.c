/*
 * errmsg.c - errmsg_say (errmsg.h). No I/O, no allocation.
 */
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>

baton_err errmsg_say(char *err, size_t cap, baton_err code, const char *fmt, ...)
{
	if (err != NULL && cap > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return code;
}
