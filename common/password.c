/*
 * password.c - the one reader of password files (see password.h). Reads the
 * file once, at start-up; never logs or prints the password, and wipes the
 * buffers it used.
 */
#include "password.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

baton_err password_read(const char *path, char **out, char *err, size_t cap)
{
	char buf[1024];
	baton_err rc = BATON_OK;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, cap, "cannot read password file '%s': %s", path, strerror(errno));
		return BATON_E_IO;
	}
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	if (ferror(f)) {
		snprintf(err, cap, "cannot read password file '%s': %s", path, strerror(errno));
		rc = BATON_E_IO;
		goto out;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	char *pw = strdup(buf);
	if (pw == NULL) {
		snprintf(err, cap, "out of memory");
		rc = BATON_E_NOMEM;
		goto out;
	}
	*out = pw;
out:
	fclose(f);
	memset(buf, 0, sizeof buf);
	return rc;
}

void password_free(char *pw)
{
	if (pw == NULL)
		return;
	memset(pw, 0, strlen(pw));
	free(pw);
}
