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
#define BATON_ERR_MSG_(name, value, code, msg)                                                               \
	case BATON_E_##name:                                                                                 \
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
#define BATON_ERR_CODE_(name, value, code, msg)                                                              \
	case BATON_E_##name:                                                                                 \
		return code;
		BATON_ERRORS(BATON_ERR_CODE_)
#undef BATON_ERR_CODE_
	}
	return NULL;
}

/* Every error that has a wire code, for the reverse look-up. */
static const struct {
	baton_err err;
	const char *code;
} wire_codes[] = {
#define BATON_ERR_ROW_(name, value, code, msg) {BATON_E_##name, code},
    BATON_ERRORS(BATON_ERR_ROW_)
#undef BATON_ERR_ROW_
};

baton_err baton_err_from_code(const char *code)
{
	if (code == NULL)
		return BATON_E_PROTOCOL;
	for (size_t i = 0; i < sizeof wire_codes / sizeof wire_codes[0]; i++)
		if (wire_codes[i].code != NULL && strcmp(code, wire_codes[i].code) == 0)
			return wire_codes[i].err;
	return BATON_E_PROTOCOL;
}
