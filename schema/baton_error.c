/*
 * baton_error.c - messages and wire codes of the error table in baton_error.h.
 * Pure functions over static data; no allocation, no I/O.
 */
#include "baton_error.h"

#include <string.h>

const char *baton_strerror(baton_err err)
{
	switch (err) {
	case BATON_OK:
		return "success";
#define BATON_ERR_MSG_(name, value, code, msg) \
	case BATON_E_##name:                   \
		return msg;
		BATON_ERRORS(BATON_ERR_MSG_)
#undef BATON_ERR_MSG_
	}
	return "unknown error";
}

const char *baton_err_code(baton_err err)
{
	switch (err) {
	case BATON_OK:
		return NULL;
#define BATON_ERR_CODE_(name, value, code, msg) \
	case BATON_E_##name:                    \
		return code;
		BATON_ERRORS(BATON_ERR_CODE_)
#undef BATON_ERR_CODE_
	}
	return NULL;
}

baton_err baton_err_from_code(const char *code)
{
	if (code == NULL)
		return BATON_E_PROTOCOL;
#define BATON_ERR_FROM_(name, value, wcode, msg)                                   \
	if ((const char *)(wcode) != NULL && strcmp(code, (const char *)(wcode)) == 0) \
		return BATON_E_##name;
	BATON_ERRORS(BATON_ERR_FROM_)
#undef BATON_ERR_FROM_
	return BATON_E_PROTOCOL;
}
