/*
 * sync.h - the durability levels of the coordinator's state file, as the
 * --sync flag names them and the store applies them (PRAGMA synchronous in
 * WAL mode). The one enum: config, the store and the benchmarks share it.
 * Pure: no I/O.
 */
#ifndef BATON_SYNC_H
#define BATON_SYNC_H

#include "baton_error.h"

typedef enum sync_level {
	SYNC_LEVEL_FULL,   /* fsync per commit: a committed batch survives power loss */
	SYNC_LEVEL_NORMAL, /* fsync at checkpoints: power loss may lose the last commits, never corrupts */
	SYNC_LEVEL_OFF,    /* no fsync: survives a process crash; an OS crash may corrupt the file */
} sync_level;

/* "full", "normal" or "off"; NULL for a value outside the enum. Static. */
const char *sync_level_name(sync_level level);

/* The level named name (NUL-terminated); BATON_E_INVAL, *out untouched, if
 * none is (NULL included). */
baton_err sync_level_parse(const char *name, sync_level *out);

#endif
