/*
 * sync.c - names of the durability levels (see sync.h). Pure: no I/O.
 */
#include "sync.h"

#include <string.h>

const char *sync_level_name(sync_level level)
{
	switch (level) {
	case SYNC_LEVEL_FULL:
		return "full";
	case SYNC_LEVEL_NORMAL:
		return "normal";
	case SYNC_LEVEL_OFF:
		return "off";
	}
	return NULL;
}

baton_err sync_level_parse(const char *name, sync_level *out)
{
	for (sync_level v = SYNC_LEVEL_FULL; name != NULL && v <= SYNC_LEVEL_OFF; v++) {
		if (strcmp(name, sync_level_name(v)) == 0) {
			*out = v;
			return BATON_OK;
		}
	}
	return BATON_E_INVAL;
}
