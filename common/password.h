/*
 * password.h - reads the broker password from a file (--password-file of
 * both programs), so that it never appears in argv, the environment or ps.
 */
#ifndef BATON_PASSWORD_H
#define BATON_PASSWORD_H

#include <stddef.h>

#include "baton_error.h"

/* Reads the first line of path (without its \r or \n; at most 1023 bytes,
 * an empty file gives "") into a new string in *out, which the caller wipes
 * (password_free) when done. On error *out is untouched, err gets a sentence
 * naming the file and the system's reason, and the result is BATON_E_IO
 * (cannot open or read) or BATON_E_NOMEM. */
baton_err password_read(const char *path, char **out, char *err, size_t cap);

/* Overwrites and frees a string from password_read; NULL is fine. */
void password_free(char *pw);

#endif
