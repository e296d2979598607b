/*
 * status.h - what `baton status` gathered about one lock, and the three ways
 * it prints them (status_out.c): the table, one resource in full, JSON.
 */
#ifndef BATON_CLI_STATUS_H
#define BATON_CLI_STATUS_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"

/* One lock as its last retained snapshot showed it; the strings are owned
 * (status_row_clear frees all but resource). */
typedef struct status_row {
	char *resource;
	baton_mode mode;
	char holder[BATON_NODE_MAX + 1]; /* "": nobody holds it */
	uint64_t token;
	int64_t since_ms, lease_until_ms;
	size_t n_waiting;
	char **waiting; /* n_waiting node ids, next first (NULL: no memory) */
	char *meta;
	char done[BATON_NODE_MAX + 1]; /* "": no remembered success */
	uint64_t done_token;
	int64_t done_at_ms;
	char *done_result;
	/* second edition: every holding, the queue with modes, permits, the
	 * failure streak (n_holders/n_queue entries; NULL arrays: no memory) */
	struct status_holding {
		char *node;
		uint64_t token;
		baton_mode mode;
	} * holders;
	size_t n_holders;
	struct status_queued {
		char *node;
		baton_mode mode;
	} * queue;
	size_t n_queue;
	uint32_t permits;
	uint32_t failures;
	char fail_node[BATON_NODE_MAX + 1]; /* the streak's last failure ("": none) */
	uint64_t fail_token;
	char *fail_error;
	baton_reason fail_reason;
	int64_t fail_at_ms;
	char prev[BATON_NODE_MAX + 1]; /* "": no failed holding since the last success */
	uint64_t prev_token;
	char *prev_error;
	baton_reason prev_reason;
} status_row;

void status_row_clear(status_row *r);
int status_row_cmp(const void *a, const void *b); /* by resource, for qsort */

/* The table of rows (n of them, sorted). */
void status_print_table(const status_row *rows, size_t n, FILE *out);
/* One resource in full: its table row, then the holder's meta, the queue in
 * order, the remembered success and the last failure; r NULL: no lock. */
void status_print_detail(const char *resource, const status_row *r, FILE *out);
/* A JSON array of one object per row: resource, mode, holder, token, since,
 * lease_until, meta, waiting, queue, holders, permits, failures, done,
 * previous (absent parts null). */
void status_print_json(const status_row *rows, size_t n, FILE *out);

#endif
