/*
 * hmap.c - open-addressing hash table of pointers (see hmap.h).
 *
 * Owns only its slot arrays, never the objects. Never does I/O. Invariants:
 * cap is 0 or a power of two, n <= cap * 4 / 5, every stored value sits in
 * the probe run that starts at its hash's home slot with no empty slot in
 * between (backward-shift deletion keeps this without tombstones).
 * Costs: find/insert/remove O(1) expected; 12 bytes per slot.
 */
#include "hmap.h"

#include <stdlib.h>

void hmap_init(hmap *h)
{
	h->hashes = NULL;
	h->vals = NULL;
	h->cap = 0;
	h->n = 0;
}

void hmap_deinit(hmap *h)
{
	free(h->hashes);
	free(h->vals);
	hmap_init(h);
}

static void place(uint32_t *hashes, void **vals, size_t cap, uint32_t hash, void *val)
{
	size_t i = hash & (cap - 1);
	while (vals[i] != NULL)
		i = (i + 1) & (cap - 1);
	hashes[i] = hash;
	vals[i] = val;
}

baton_err hmap_reserve(hmap *h, size_t n)
{
	size_t cap = h->cap ? h->cap : 16;
	while (n > cap - cap / 5)
		cap *= 2;
	if (cap == h->cap)
		return BATON_OK;
	uint32_t *hashes = malloc(cap * sizeof *hashes);
	void **vals = calloc(cap, sizeof *vals);
	if (hashes == NULL || vals == NULL) {
		free(hashes);
		free(vals);
		return BATON_E_NOMEM;
	}
	for (size_t i = 0; i < h->cap; i++)
		if (h->vals[i] != NULL)
			place(hashes, vals, cap, h->hashes[i], h->vals[i]);
	free(h->hashes);
	free(h->vals);
	h->hashes = hashes;
	h->vals = vals;
	h->cap = cap;
	return BATON_OK;
}

void *hmap_find(const hmap *h, uint32_t hash, hmap_eq_fn *eq, const void *key)
{
	if (h->cap == 0)
		return NULL;
	for (size_t i = hash & (h->cap - 1); h->vals[i] != NULL; i = (i + 1) & (h->cap - 1))
		if (h->hashes[i] == hash && eq(h->vals[i], key))
			return h->vals[i];
	return NULL;
}

void hmap_insert(hmap *h, uint32_t hash, void *val)
{
	place(h->hashes, h->vals, h->cap, hash, val);
	h->n++;
}

/* Backward-shift deletion: pull later members of the run into the hole when
 * their home slot does not lie strictly between the hole and them. */
void hmap_remove(hmap *h, uint32_t hash, const void *val)
{
	if (h->cap == 0)
		return;
	size_t mask = h->cap - 1, i = hash & mask;
	while (h->vals[i] != val) {
		if (h->vals[i] == NULL)
			return;
		i = (i + 1) & mask;
	}
	h->vals[i] = NULL;
	h->n--;
	for (size_t j = (i + 1) & mask; h->vals[j] != NULL; j = (j + 1) & mask) {
		size_t home = h->hashes[j] & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			h->hashes[i] = h->hashes[j];
			h->vals[i] = h->vals[j];
			h->vals[j] = NULL;
			i = j;
		}
	}
}

uint32_t hmap_hash(const char *s, size_t len, uint64_t seed)
{
	uint64_t x = 14695981039346656037ull ^ (seed * 0x9e3779b97f4a7c15ull);
	for (size_t i = 0; i < len; i++) {
		x ^= (unsigned char)s[i];
		x *= 1099511628211ull;
	}
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (uint32_t)x;
}
