/*
 * hmap.h - an open-addressing hash table of pointers for the lock table.
 *
 * The table stores (hash, pointer) pairs; the caller owns the pointed-to
 * objects and supplies an equality function to find one by key. Linear
 * probing with backward-shift deletion (no tombstones); the load stays at or
 * below 4/5. No I/O; allocates only in hmap_reserve().
 */
#ifndef BATON_HMAP_H
#define BATON_HMAP_H

#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"

typedef struct hmap {
	uint32_t *hashes;
	void **vals; /* NULL: empty slot */
	size_t cap;  /* 0 or a power of two */
	size_t n;
} hmap;

/* True iff the stored object val has the key key. */
typedef int hmap_eq_fn(const void *val, const void *key);

void hmap_init(hmap *h);   /* cannot fail */
void hmap_deinit(hmap *h); /* frees the slots, not the objects */

/* Makes room for n entries in total, so that n - h->n inserts cannot fail.
 * BATON_E_NOMEM leaves h unchanged. */
baton_err hmap_reserve(hmap *h, size_t n);

/* The stored object with hash and key, or NULL. O(1) expected. */
void *hmap_find(const hmap *h, uint32_t hash, hmap_eq_fn *eq, const void *key);

/* Inserts val (not NULL, not present); room must have been reserved. */
void hmap_insert(hmap *h, uint32_t hash, void *val);

/* Removes val (found by identity under hash); no-op if absent. */
void hmap_remove(hmap *h, uint32_t hash, const void *val);

/* Hashes len bytes of s (FNV-1a folded); seed mixes in another key part. */
uint32_t hmap_hash(const char *s, size_t len, uint64_t seed);

#endif
