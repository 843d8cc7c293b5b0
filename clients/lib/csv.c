/*
 * csv.c - the CSV reader of csv.h: one record per call over a borrowed
 * buffer, with line numbers kept exact across quoted newlines so that
 * `logbook import` can point at the line of every bad row.
 */
#include "csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lbc_csv_init(lbc_csv_t *r, const void *buf, size_t len)
{
    r->buf = buf;
    r->len = buf ? len : 0;
    r->pos = 0;
    r->line = 1;
    if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
        r->pos = 3;
}

void lbc_csv_row_free(lbc_csv_row_t *row)
{
    if (!row)
        return;
    free(row->fields);
    free(row->offs);
    lb_buf_free(&row->store);
    memset(row, 0, sizeof *row);
}

/* Consumes one line end (CRLF, LF or a lone CR) at the read position. */
static bool eat_eol(lbc_csv_t *r)
{
    if (r->pos >= r->len)
        return false;
    if (r->buf[r->pos] == '\r') {
        r->pos++;
        if (r->pos < r->len && r->buf[r->pos] == '\n')
            r->pos++;
    } else if (r->buf[r->pos] == '\n') {
        r->pos++;
    } else {
        return false;
    }
    r->line++;
    return true;
}

static void skip_line(lbc_csv_t *r)
{
    while (r->pos < r->len && !eat_eol(r))
        r->pos++;
}

/*
 * Moves past the rest of a malformed record. Found inside a quoted field
 * (in_quote), the record goes on to that field's closing quote, line ends
 * included; then, as for any other error, to the end of the line. An
 * unterminated quote reaches the end of the input.
 */
static void skip_record(lbc_csv_t *r, bool in_quote)
{
    while (in_quote && r->pos < r->len) {
        if (r->buf[r->pos] == '"') {
            bool escaped = r->pos + 1 < r->len && r->buf[r->pos + 1] == '"';
            r->pos += escaped ? 2 : 1;
            in_quote = escaped;
        } else if (!eat_eol(r)) {
            r->pos++;
        }
    }
    skip_line(r);
}

static bool field_stop(char ch)
{
    return ch == ',' || ch == '\r' || ch == '\n';
}

/* Makes room for one more field offset. */
static int row_grow(lbc_csv_row_t *row)
{
    if (row->n < row->cap)
        return 0;
    size_t cap = row->cap ? row->cap * 2 : 16;
    size_t *offs = realloc(row->offs, cap * sizeof *offs);
    if (!offs)
        return LB_ENOMEM;
    row->offs = offs;
    char **fields = realloc(row->fields, cap * sizeof *fields);
    if (!fields)
        return LB_ENOMEM;
    row->fields = fields;
    row->cap = cap;
    return 0;
}

/*
 * A malformed record found while reading a field: *why says what,
 * *in_quote whether it was inside a quoted field (skip_record then goes on
 * to the closing quote). Returns LB_EBADREQ for the caller to pass up.
 */
static int csv_bad(const char **why, bool *in_quote, const char *reason, bool quoted)
{
    *why = reason;
    *in_quote = quoted;
    return LB_EBADREQ;
}

/* A quoted field from its opening quote at r->pos, unescaped into row->store from start. */
static int read_quoted(lbc_csv_t *r, lbc_csv_row_t *row, size_t start, const char **why,
                       bool *in_quote)
{
    int rc;

    r->pos++;
    for (;;) {
        if (r->pos >= r->len)
            return csv_bad(why, in_quote, "unterminated quoted field", true);
        /* Copy the run up to the next quote or line end in one go. */
        size_t run = r->pos;
        while (run < r->len && r->buf[run] != '"' && r->buf[run] != '\r' && r->buf[run] != '\n')
            run++;
        if (run > r->pos) {
            if ((rc = lb_buf_append(&row->store, r->buf + r->pos, run - r->pos)))
                return rc;
            r->pos = run;
        }
        /* The record goes on to the closing quote. */
        if (row->store.len - start > LBC_CSV_FIELD_MAX)
            return csv_bad(why, in_quote, "field too long", true);
        if (r->pos >= r->len)
            continue;
        if (r->buf[r->pos] == '"') {
            if (r->pos + 1 < r->len && r->buf[r->pos + 1] == '"') {
                if ((rc = lb_buf_append(&row->store, "\"", 1)))
                    return rc;
                r->pos += 2;
                continue;
            }
            r->pos++;
            break;
        }
        /* A newline inside quotes belongs to the field; store it as LF. */
        eat_eol(r);
        if ((rc = lb_buf_append(&row->store, "\n", 1)))
            return rc;
    }
    if (r->pos < r->len && !field_stop(r->buf[r->pos]))
        return csv_bad(why, in_quote, "text after a closing quote", false);
    return 0;
}

/* An unquoted field at r->pos, copied into row->store. */
static int read_plain(lbc_csv_t *r, lbc_csv_row_t *row, const char **why, bool *in_quote)
{
    size_t run = r->pos;
    while (run < r->len && !field_stop(r->buf[run]) && r->buf[run] != '"')
        run++;
    if (run < r->len && r->buf[run] == '"')
        return csv_bad(
            why, in_quote,
            "quote inside an unquoted field (quote the whole field and double the quote)", false);
    if (run - r->pos > LBC_CSV_FIELD_MAX)
        return csv_bad(why, in_quote, "field too long", false);
    int rc = lb_buf_append(&row->store, r->buf + r->pos, run - r->pos);
    if (rc == 0)
        r->pos = run;
    return rc;
}

/* One field, checked and NUL-terminated in row->store; row->n counts it. */
static int read_field(lbc_csv_t *r, lbc_csv_row_t *row, const char **why, bool *in_quote)
{
    if (row->n >= LBC_CSV_FIELDS_MAX)
        return csv_bad(why, in_quote, "too many fields", false);
    int rc = row_grow(row);
    if (rc)
        return rc;
    size_t start = row->store.len;
    row->offs[row->n] = start;
    if (r->pos < r->len && r->buf[r->pos] == '"')
        rc = read_quoted(r, row, start, why, in_quote);
    else
        rc = read_plain(r, row, why, in_quote);
    if (rc)
        return rc;
    size_t flen = row->store.len - start;
    /* An empty field may come before anything is stored (p still NULL): nothing to check. */
    if (flen && !lb_utf8_valid((const char *)row->store.p + start, flen))
        return csv_bad(why, in_quote, "invalid UTF-8 or NUL byte", false);
    if ((rc = lb_buf_append(&row->store, "", 1)))
        return rc;
    row->n++;
    return 0;
}

int lbc_csv_next(lbc_csv_t *r, lbc_csv_row_t *row, char *err, size_t errlen)
{
    const char *why = NULL;
    bool in_quote = false; /* the error was found inside a quoted field */

    row->n = 0;
    row->store.len = 0;
    while (r->pos < r->len && eat_eol(r))
        ;
    if (r->pos >= r->len)
        return LB_ENOTFOUND;
    row->line = r->line;

    for (;;) {
        int rc = read_field(r, row, &why, &in_quote);
        if (rc == LB_EBADREQ) {
            /* Counts the lines it skips, so later line numbers stay right. */
            skip_record(r, in_quote);
            row->n = 0;
            lb_set_err(err, errlen, "line %zu: %s", row->line, why);
            return rc;
        }
        if (rc)
            return rc;
        if (r->pos < r->len && r->buf[r->pos] == ',') {
            r->pos++;
            continue;
        }
        eat_eol(r);
        break;
    }
    /* Pointers last: the store may have moved while it grew. */
    for (size_t i = 0; i < row->n; i++)
        row->fields[i] = (char *)row->store.p + row->offs[i];
    return 0;
}
