/*
 * store_snap.h - the state file as one image: what a replicated group's
 * snapshot carries (apply.c), a member's restore from a leader's snapshot,
 * and a canonical text dump to compare two members' state.
 *
 * Same contract as store.h: one owner thread, a baton_err, and a one-line
 * message into err (when err is not NULL and cap > 0) on failure.
 */
#ifndef BATON_STORE_SNAP_H
#define BATON_STORE_SNAP_H

#include <stddef.h>

#include "store.h"

/* The whole database as one SQLite file image (sqlite3_serialize) in *out,
 * *len bytes; free it with store_image_free(). Outside a transaction only.
 * BATON_E_NOMEM, BATON_E_STORE. */
baton_err store_image(store *s, void **out, size_t *len, char *err, size_t cap);
void store_image_free(void *image); /* NULL is fine */

/* Replaces the database's whole content with image[0..len) (a store_image()
 * of a store of this schema version, or of an older one: then migrated
 * after, a step per version as store_open does), in one step (SQLite's
 * backup API): a reader sees the old state or the new one. The caller
 * reloads its table from the store afterwards (store_load into a fresh
 * table). Refuses, leaving the file as it was: BATON_E_STORE_CORRUPT (not a
 * Baton state image), BATON_E_STORE_TOO_NEW; also BATON_E_NOMEM,
 * BATON_E_STORE, BATON_E_IO (a failed migration leaves the image at a whole
 * version). */
baton_err store_restore_image(store *s, const void *image, size_t len, char *err, size_t cap);

/* Every row of every table, sorted, as text (one line per row: table name,
 * then each column quoted), in a new malloc'd string: equal dumps mean
 * equal state. BATON_E_NOMEM, BATON_E_STORE. */
baton_err store_dump(store *s, char **out, char *err, size_t cap);

#endif
