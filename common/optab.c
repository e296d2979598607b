/*
 * optab.c - the option-table driver (see optab.h). Runs at start-up only:
 * clarity over cost. Builds getopt_long's tables from the option tables, so
 * a flag exists, parses and is documented in exactly one place.
 */
#include "optab.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

#define OPTAB_MAX 64
#define ID_BASE   1000 /* getopt_long's val for table entries: ID_BASE + index */

baton_err optab_set_value(const optab_opt *o, void *base, const char *val, char *err, size_t cap)
{
	char *field = (char *)base + o->offset;
	char why[224], lo[40], hi[40];
	uint64_t ms;

	switch (o->type) {
	case OPTAB_STR: {
		char *copy = strdup(val);
		if (copy == NULL)
			return BATON_E_NOMEM;
		free(*(char **)field);
		*(char **)field = copy;
		return BATON_OK;
	}
	case OPTAB_REF:
		*(const char **)field = val;
		return BATON_OK;
	case OPTAB_DUR:
		if (duration_parse(val, &ms, why, sizeof why) != BATON_OK) {
			snprintf(err, cap, "--%s: %s", o->name, why);
			return BATON_E_INVAL;
		}
		if (ms < o->min || ms > o->max) {
			duration_format_exact(o->min, lo, sizeof lo);
			duration_format_exact(o->max, hi, sizeof hi);
			snprintf(err, cap, "--%s: '%s' is out of range: from %s to %s", o->name, val, lo, hi);
			return BATON_E_INVAL;
		}
		*(uint64_t *)field = ms;
		return BATON_OK;
	case OPTAB_FLAG:
		*(bool *)field = true;
		return BATON_OK;
	case OPTAB_PARSE:
		if (o->parse(val, field, why, sizeof why) != BATON_OK) {
			snprintf(err, cap, "--%s: %s", o->name, why);
			return BATON_E_INVAL;
		}
		return BATON_OK;
	case OPTAB_CALL:
		break;
	}
	return BATON_E_INVAL;
}

baton_err optab_defaults(const optab_set *s, char *err, size_t cap)
{
	baton_err rc = BATON_OK;
	for (size_t i = 0; i < s->n && rc == BATON_OK; i++)
		if (s->opts[i].def != NULL && s->opts[i].type != OPTAB_CALL)
			rc = optab_set_value(&s->opts[i], s->base, s->opts[i].def, err, cap);
	return rc;
}

void optab_free_strings(const optab_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->opts[i].type == OPTAB_STR) {
			char **f = (char **)((char *)s->base + s->opts[i].offset);
			free(*f);
			*f = NULL;
		}
}

/* Fills getopt_long's tables; false when there are too many options. */
static bool build(const optab_set *sets, size_t n_sets, bool operands, struct option *longs, char *shorts,
                  const optab_opt **by_index, const optab_set **set_of)
{
	size_t n = 0, ns = 0;
	shorts[ns++] = operands ? '+' : ':';
	if (operands)
		shorts[ns++] = ':';
	for (size_t s = 0; s < n_sets; s++)
		for (size_t i = 0; i < sets[s].n; i++) {
			const optab_opt *o = &sets[s].opts[i];
			bool has_arg = o->type == OPTAB_CALL ? o->arg != NULL : o->type != OPTAB_FLAG;
			if (n + 1 >= OPTAB_MAX)
				return false;
			longs[n] = (struct option){o->name, has_arg ? required_argument : no_argument, NULL,
			                           ID_BASE + (int)n};
			by_index[n] = o;
			set_of[n] = &sets[s];
			if (o->short_name) {
				shorts[ns++] = (char)o->short_name;
				if (has_arg)
					shorts[ns++] = ':';
			}
			n++;
		}
	memset(&longs[n], 0, sizeof longs[n]);
	shorts[ns] = '\0';
	return true;
}

/* The table index of short option ch, or -1. */
static int short_index(const struct option *longs, const optab_opt *const *by_index, int ch)
{
	for (int i = 0; longs[i].name != NULL; i++)
		if (by_index[i]->short_name == ch)
			return i;
	return -1;
}

int optab_parse(const optab_set *sets, size_t n_sets, int argc, char **argv, bool operands,
                optab_call_fn *call, void *ctx, int *first_arg, char *err, size_t cap)
{
	struct option longs[OPTAB_MAX];
	const optab_opt *by_index[OPTAB_MAX];
	const optab_set *set_of[OPTAB_MAX];
	char shorts[3 * OPTAB_MAX + 4];
	int ch, rc = 0;

	if (!build(sets, n_sets, operands, longs, shorts, by_index, set_of))
		return OPTAB_E_TOO_MANY;
	optind = 0; /* full re-initialisation (glibc): a program or a test may parse twice */
	opterr = 0;
	while (rc == 0 && (ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		int i = ch >= ID_BASE              ? ch - ID_BASE
		        : (ch == '?' || ch == ':') ? -1
		                                   : short_index(longs, by_index, ch);
		if (i < 0) {
			snprintf(err, cap, "%s", argv[optind - 1]);
			return ch == ':' ? OPTAB_E_MISSING : OPTAB_E_UNKNOWN;
		}
		const optab_opt *o = by_index[i];
		if (o->type == OPTAB_CALL)
			rc = call != NULL ? call(ctx, o->id, optarg) : OPTAB_E_UNKNOWN;
		else if (optab_set_value(o, set_of[i]->base, optarg, err, cap) != BATON_OK)
			rc = OPTAB_E_VALUE;
	}
	if (rc != 0)
		return rc;
	if (!operands && optind < argc) {
		snprintf(err, cap, "%s", argv[optind]);
		return OPTAB_E_OPERAND;
	}
	if (first_arg != NULL)
		*first_arg = optind;
	return 0;
}

void optab_usage(FILE *out, const optab_opt *opts, size_t n, int width, bool pad_short, bool show_defaults)
{
	for (size_t i = 0; i < n; i++) {
		const optab_opt *o = &opts[i];
		const char *sp = o->arg ? " " : "", *arg = o->arg ? o->arg : "";
		char left[80];
		if (o->short_name)
			snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, sp, arg);
		else
			snprintf(left, sizeof left, "%s--%s%s%s", pad_short ? "    " : "", o->name, sp, arg);
		fprintf(out, "  %-*s %s", width, left, o->help);
		if (show_defaults && o->def != NULL)
			fprintf(out, " [%s]", o->def);
		fputc('\n', out);
	}
}
