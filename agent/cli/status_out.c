/*
 * status_out.c - how `baton status` prints what it gathered (status.h).
 *
 * Reads rows only; never touches the network. JSON is written here by hand
 * (cJSON stays inside the codec): strings are escaped as RFC 8259 asks,
 * times are UTC like the wire's ("2026-11-24T10:00:00.123Z"), the field
 * names are the snapshot's.
 */
#include "status.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void status_row_clear(status_row *r)
{
	for (size_t i = 0; r->waiting != NULL && i < r->n_waiting; i++)
		free(r->waiting[i]);
	free(r->waiting);
	for (size_t i = 0; r->holders != NULL && i < r->n_holders; i++)
		free(r->holders[i].node);
	free(r->holders);
	for (size_t i = 0; r->queue != NULL && i < r->n_queue; i++)
		free(r->queue[i].node);
	free(r->queue);
	free(r->meta);
	free(r->done_result);
	free(r->prev_error);
	free(r->fail_error);
	r->waiting = NULL;
	r->holders = NULL;
	r->queue = NULL;
	r->meta = r->done_result = r->prev_error = r->fail_error = NULL;
}

#define DETAIL_MAX 1024 /* bytes of a row's holders, queue or streak line */

/* Appends to buf (DETAIL_MAX) what printf would write, cut at the end. */
static void cat(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cat(char *buf, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, DETAIL_MAX - n, fmt, ap);
	va_end(ap);
}

/* The lines under a row: every holder of a shared lock or semaphore, the
 * queue when modes matter, a once resource's failure streak. */
static void print_details(const status_row *r, FILE *out)
{
	bool modes = r->permits > 1;
	char line[DETAIL_MAX], when[64];

	for (size_t i = 0; r->holders != NULL && i < r->n_holders; i++)
		modes |= r->holders[i].mode == BATON_MODE_SHARED;
	for (size_t i = 0; r->queue != NULL && i < r->n_queue; i++)
		modes |= r->queue[i].mode == BATON_MODE_SHARED;
	line[0] = '\0';
	for (size_t i = 0; r->holders != NULL && r->n_holders > 1 && i < r->n_holders; i++)
		cat(line, "%s%s (token %llu)", i ? ", " : "", r->holders[i].node ? r->holders[i].node : "?",
		    (unsigned long long)r->holders[i].token);
	if (line[0])
		fprintf(out, "    holders: %s\n", line);
	if (r->permits > 1)
		fprintf(out, "    permits: %u\n", r->permits);
	line[0] = '\0';
	for (size_t i = 0; modes && r->queue != NULL && i < r->n_queue; i++)
		cat(line, "%s%s (%s)", i ? ", " : "", r->queue[i].node ? r->queue[i].node : "?",
		    baton_mode_name(r->queue[i].mode));
	if (line[0])
		fprintf(out, "    queue: %s\n", line);
	if (r->failures > 0) {
		cli_format_time(r->fail_at_ms, when, sizeof when);
		fprintf(out, "    failures: %u in a row, last %s (token %llu) at %s: %s\n", r->failures,
		        r->fail_node[0] ? r->fail_node : "?", (unsigned long long)r->fail_token, when,
		        r->fail_error ? r->fail_error : baton_reason_name(r->fail_reason));
	}
}

int status_row_cmp(const void *a, const void *b)
{
	return strcmp(((const status_row *)a)->resource, ((const status_row *)b)->resource);
}

void status_print_table(const status_row *rows, size_t n, FILE *out)
{
	int64_t now = wall_ms();

	if (n == 0) {
		fprintf(out, "no locks\n");
		return;
	}
	fprintf(out, "%-32s %-6s %-24s %8s %9s %10s %7s %s\n", "RESOURCE", "MODE", "HOLDER", "TOKEN", "HELD",
	        "LEASE-LEFT", "WAITERS", "DONE");
	for (size_t i = 0; i < n; i++) {
		const status_row *r = &rows[i];
		char held[32] = "-", left[32] = "-", tok[24] = "-";

		if (r->holder[0]) {
			duration_format(now - r->since_ms, held, sizeof held);
			duration_format(r->lease_until_ms - now, left, sizeof left);
			snprintf(tok, sizeof tok, "%llu", (unsigned long long)r->token);
		}
		char who[BATON_NODE_MAX + 32];

		snprintf(who, sizeof who, "%s", r->holder[0] ? r->holder : "-");
		if (r->n_holders > 1)
			snprintf(who, sizeof who, "%s +%zu", r->holder, r->n_holders - 1);
		fprintf(out, "%-32s %-6s %-24s %8s %9s %10s %7zu %s\n", r->resource, baton_mode_name(r->mode),
		        who, tok, held, left, r->n_waiting, r->done[0] ? r->done : "-");
		print_details(r, out);
	}
}

void status_print_detail(const char *resource, const status_row *r, FILE *out)
{
	char when[64];

	if (r == NULL) {
		fprintf(out, "%s: no lock (nobody holds or waits for it, nothing is remembered)\n", resource);
		return;
	}
	status_print_table(r, 1, out); /* the row a filter shows, then the rest */
	if (r->meta)
		fprintf(out, "    meta: %s\n", r->meta);
	for (size_t i = 0; r->waiting != NULL && i < r->n_waiting; i++)
		fprintf(out, "%s%zu. %s%s", i ? ", " : "    waiting: ", i + 1,
		        r->waiting[i] ? r->waiting[i] : "?", i + 1 == r->n_waiting ? "\n" : "");
	if (r->done[0]) {
		cli_format_time(r->done_at_ms, when, sizeof when);
		fprintf(out, "    done by %s at %s (token %llu)%s%s\n", r->done, when,
		        (unsigned long long)r->done_token, r->done_result ? ", result: " : "",
		        r->done_result ? r->done_result : "");
	}
	if (r->prev[0])
		fprintf(out, "    last failure: %s (token %llu, %s)%s%s\n", r->prev,
		        (unsigned long long)r->prev_token, baton_reason_name(r->prev_reason),
		        r->prev_error ? ": " : "", r->prev_error ? r->prev_error : "");
}

static void json_str(const char *s, FILE *out)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void json_time(int64_t ms, FILE *out)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40];

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL) {
		fputs("null", out);
		return;
	}
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(out, "\"%s.%03dZ\"", buf, (int)(ms % 1000));
}

static void json_row(const status_row *r, FILE *out)
{
	fputs("{\"resource\":", out);
	json_str(r->resource, out);
	fprintf(out, ",\"mode\":\"%s\",\"holder\":", baton_mode_name(r->mode));
	json_str(r->holder[0] ? r->holder : NULL, out);
	if (r->holder[0]) {
		fprintf(out, ",\"token\":%llu,\"since\":", (unsigned long long)r->token);
		json_time(r->since_ms, out);
		fputs(",\"lease_until\":", out);
		json_time(r->lease_until_ms, out);
	} else {
		fputs(",\"token\":null,\"since\":null,\"lease_until\":null", out);
	}
	fputs(",\"meta\":", out);
	json_str(r->meta, out);
	fputs(",\"waiting\":[", out);
	for (size_t i = 0; r->waiting != NULL && i < r->n_waiting; i++) {
		fputs(i ? "," : "", out);
		json_str(r->waiting[i], out);
	}
	fputs("],\"queue\":[", out);
	for (size_t i = 0; r->queue != NULL && i < r->n_queue; i++) {
		fputs(i ? ",{\"node\":" : "{\"node\":", out);
		json_str(r->queue[i].node, out);
		fprintf(out, ",\"mode\":\"%s\"}", baton_mode_name(r->queue[i].mode));
	}
	fputs("],\"holders\":[", out);
	for (size_t i = 0; r->holders != NULL && i < r->n_holders; i++) {
		fputs(i ? ",{\"node\":" : "{\"node\":", out);
		json_str(r->holders[i].node, out);
		fprintf(out, ",\"token\":%llu,\"mode\":\"%s\"}", (unsigned long long)r->holders[i].token,
		        baton_mode_name(r->holders[i].mode));
	}
	fprintf(out, "],\"permits\":%u,\"failures\":%u,\"done\":", r->permits ? r->permits : 1, r->failures);
	if (r->done[0]) {
		fputs("{\"node\":", out);
		json_str(r->done, out);
		fprintf(out, ",\"token\":%llu,\"completed_at\":", (unsigned long long)r->done_token);
		json_time(r->done_at_ms, out);
		fputs(",\"result\":", out);
		json_str(r->done_result, out);
		fputs("}", out);
	} else {
		fputs("null", out);
	}
	fputs(",\"previous\":", out);
	if (r->prev[0]) {
		fputs("{\"node\":", out);
		json_str(r->prev, out);
		fprintf(out,
		        ",\"token\":%llu,\"reason\":\"%s\",\"error\":", (unsigned long long)r->prev_token,
		        baton_reason_name(r->prev_reason));
		json_str(r->prev_error, out);
		fputs("}", out);
	} else {
		fputs("null", out);
	}
	fputs("}", out);
}

void status_print_json(const status_row *rows, size_t n, FILE *out)
{
	fputs("[", out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n " : "", out);
		json_row(&rows[i], out);
	}
	fputs("]\n", out);
}
