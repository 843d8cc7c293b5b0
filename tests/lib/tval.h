/*
 * tval.h - test values written as text. tval() builds an lb_val_t from
 * compact JSON-ish text (JSON, plus 'single-quoted' strings so C literals
 * need no escaping); tval_eq()/tval_match() compare a value against such
 * text; tval_json_ok() checks that program output is strict JSON.
 *
 *     lb_val_t *args = tval("{'house_id':'65010000001','deprived':['bmn1']}");
 *     CU_ASSERT(tval_match(reply, "{'ok':true,'result':{'state':'open'}}"));
 *     lb_val_free(&args);
 */
#ifndef TVAL_H
#define TVAL_H

#include <stdbool.h>

#include "../../proto/lb.h"

/*
 * The value text describes; the caller frees it. Syntax: JSON values;
 * strings in "double" or 'single' quotes with the escapes \" \' \\ \/ \b \f
 * \n \r \t \uXXXX; a number with '.', 'e' or 'E' is a float, else an int. A
 * syntax error is a bug in the test: printed with its position, then abort().
 */
lb_val_t *tval(const char *text);

/* tval() of printf-formatted text. */
lb_val_t *tvalf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * tval() whose value is freed by the next tval_tmp_free() (call it from a
 * suite's per-test teardown): for values that are only ever borrowed.
 */
lb_val_t *tval_tmp(const char *text);
void tval_tmp_free(void);

/*
 * true when v equals the value text describes (lb_val_equal: map key order
 * ignored, 1 and 1.0 differ). On a mismatch both are printed as JSON to stderr.
 */
bool tval_eq(const lb_val_t *v, const char *text);

/*
 * true when v contains the value text describes: every key of a map in text
 * is in v with a matching value (v may have more keys); arrays match item by
 * item and have the same length; scalars are equal. Prints both on a mismatch.
 */
bool tval_match(const lb_val_t *v, const char *text);

/* v as one line of JSON in a static buffer (truncated at 4 KiB): for messages. */
const char *tval_json(const lb_val_t *v);

/* true when s is exactly one strict JSON value (RFC 8259), white space around allowed. */
bool tval_json_ok(const char *s);
/* true when every non-empty line of s is one strict JSON value (JSON lines). */
bool tval_json_lines_ok(const char *s);

#endif
