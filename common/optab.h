/*
 * optab.h - the option-table driver of both programs: one table of
 * name, type, offset, default, bounds and help drives getopt_long, the
 * defaults and the --help text, so the three cannot drift.
 *
 * baton-coordinator's table (coordinator/config.c) stores every value into
 * its config struct by offset; the baton CLI's tables (agent/cli/) store the
 * common options into cli_common by offset and hand each subcommand's own
 * options to its callback (OPTAB_CALL). No I/O but the help text written to
 * the stream given; never exits.
 */
#ifndef BATON_OPTAB_H
#define BATON_OPTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "baton_error.h"

typedef enum optab_type {
	OPTAB_STR,   /* char *: an owned copy (strdup), the previous one freed */
	OPTAB_REF,   /* const char *: borrowed from argv or the environment */
	OPTAB_DUR,   /* uint64_t: milliseconds (duration.h), within min..max */
	OPTAB_FLAG,  /* bool: set to true; takes no value */
	OPTAB_PARSE, /* parse(value, field) decides */
	OPTAB_CALL,  /* the driver's callback gets id and value (NULL when arg is NULL) */
} optab_type;

/* An OPTAB_PARSE parser: stores val into field or returns BATON_E_INVAL with
 * a sentence in err (the driver puts "--name: " in front). */
typedef baton_err optab_parse_fn(const char *val, void *field, char *err, size_t cap);

typedef struct optab_opt {
	const char *name; /* long name, without "--" */
	int short_name;   /* 0: none */
	optab_type type;
	size_t offset;     /* of the field in the table's struct (not OPTAB_CALL) */
	const char *def;   /* default as text, applied by optab_defaults and shown by --help; NULL: none */
	uint64_t min, max; /* OPTAB_DUR bounds, in ms */
	optab_parse_fn *parse; /* OPTAB_PARSE */
	int id;                /* OPTAB_CALL: handed to the callback; > 0 */
	const char *arg;       /* the value's name in --help ("DUR"); NULL: takes no value */
	const char *help;
} optab_opt;

/* One table and the struct its offsets point into. */
typedef struct optab_set {
	const optab_opt *opts;
	size_t n;
	void *base; /* NULL for a table of OPTAB_CALL entries only */
} optab_set;

/* Handles an OPTAB_CALL option; returns 0 to go on, anything else to stop
 * optab_parse with that value. */
typedef int optab_call_fn(void *ctx, int id, const char *value);

/* optab_parse's own failures (the callback's values pass through). */
enum {
	OPTAB_E_UNKNOWN = -1001, /* unknown option; err holds it as written */
	OPTAB_E_MISSING = -1002, /* an option without its value; err holds it */
	OPTAB_E_VALUE = -1003,   /* a bad value; err holds "--name: why" */
	OPTAB_E_OPERAND = -1004, /* an operand where none is allowed; err holds it */
	OPTAB_E_TOO_MANY = -1005 /* the tables hold more options than the driver's limit */
};

/* Stores val into o's field of base (or BATON_E_INVAL with "--name: why" in
 * err, the field unchanged; BATON_E_NOMEM). Not for OPTAB_CALL. */
baton_err optab_set_value(const optab_opt *o, void *base, const char *val, char *err, size_t cap);

/* Applies every default of s. Fails only on a bad default or no memory. */
baton_err optab_defaults(const optab_set *s, char *err, size_t cap);

/* Frees every OPTAB_STR field of s and sets it to NULL. Cannot fail. */
void optab_free_strings(const optab_set *s);

/* Parses argv[1..] with the options of sets[0..n_sets). operands: true stops
 * at the first operand or "--" and writes its index to *first_arg; false
 * refuses operands (OPTAB_E_OPERAND). Returns 0, an OPTAB_E_* value with a
 * message in err, or what call returned. */
int optab_parse(const optab_set *sets, size_t n_sets, int argc, char **argv, bool operands,
                optab_call_fn *call, void *ctx, int *first_arg, char *err, size_t cap);

/* Writes one --help line per option of opts: "  <left> <help> [default]",
 * left being "-x, --name ARG", or "    --name ARG" (pad_short) or "--name ARG"
 * for one without a short name, padded to width. */
void optab_usage(FILE *out, const optab_opt *opts, size_t n, int width, bool pad_short, bool show_defaults);

#endif
