/*
 * duration.h - the one duration syntax of both programs (baton-coordinator's
 * flags and environment, the baton CLI's flags).
 *
 * The rule (README "Durations", docs/operations.md, both man pages): a
 * duration is one or more <digits><unit> parts, units ms, s, m, h, d, the
 * largest first and each at most once: 250ms, 30s, 1m30s, 2h, 1d12h. A unit
 * is required, except for a bare 0. A bare number such as 30 is refused:
 * the coordinator used to read it as milliseconds and the CLI as seconds,
 * so either reading would surprise someone. No signs, fractions or spaces.
 */
#ifndef BATON_DURATION_H
#define BATON_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"

/* Parses s into *ms. BATON_E_INVAL, *ms untouched, for anything outside the
 * rule above or above UINT64_MAX ms; then err (cap bytes, may be NULL when
 * cap is 0) gets a sentence that quotes s and says what to write instead,
 * e.g. "'30' has no unit: write 30s (seconds) or 30ms (milliseconds)". */
baton_err duration_parse(const char *s, uint64_t *ms, char *err, size_t cap);

/* Writes ms for people: "250ms", "4.2s", "3m05s", "2h01m" (cap >= 24 always
 * fits). Negative values print as 0ms. Cannot fail. */
void duration_format(int64_t ms, char *buf, size_t cap);

/* Writes ms exactly, in the syntax duration_parse reads back: "0", "250ms",
 * "1m30s", "1h", "1d2h3m4s5ms" (cap >= 40 always fits). Cannot fail. */
void duration_format_exact(uint64_t ms, char *buf, size_t cap);

#endif
