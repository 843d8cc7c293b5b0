/*
 * csv.h - an RFC 4180 CSV reader over a caller's buffer, for `logbook
 * import`: UTF-8 with or without a BOM, CRLF or LF line ends, quoted fields
 * with "" escapes and embedded commas and newlines. No I/O and no global
 * state, so a fuzz target can drive it directly.
 */
#ifndef LBC_CSV_H
#define LBC_CSV_H

#include <stddef.h>

#include "../../proto/lb.h"

#define LBC_CSV_FIELD_MAX 65536 /* bytes in one field */
#define LBC_CSV_FIELDS_MAX 256  /* fields in one record */

/* A reader. The buffer is borrowed and must outlive it. */
typedef struct {
    const char *buf;
    size_t len;
    size_t pos;  /* next byte to read */
    size_t line; /* line number (1-based) of buf[pos] */
} lbc_csv_t;

/* One record. Zero-initialise; reuse across lbc_csv_next calls; lbc_csv_row_free at the end. */
typedef struct {
    char **fields; /* n NUL-terminated fields, valid until the next call or free */
    size_t n;
    size_t line;    /* line on which the record starts (also set for a malformed one) */
    lb_buf_t store; /* private: the field bytes */
    size_t *offs;   /* private */
    size_t cap;     /* private */
} lbc_csv_row_t;

/* Starts reading buf[0..len); a leading UTF-8 byte order mark is skipped. */
void lbc_csv_init(lbc_csv_t *r, const void *buf, size_t len);

/*
 * Reads the next record into row. Empty lines are skipped. Inside quotes a
 * CRLF is kept as LF. Returns
 *   0            a record;
 *   LB_ENOTFOUND the end of the input;
 *   LB_EBADREQ   a malformed record: err (may be NULL) says why, prefixed
 *                with "line N: ", and row->line is N; the reader has moved
 *                past the bad record (to the end of its line, line ends
 *                inside quoted fields included; to the end of the input for
 *                an unterminated quote), so reading may go on.
 *                Malformed: a quote inside an unquoted field, text after a
 *                closing quote, an unterminated quote, a NUL byte, invalid
 *                UTF-8, a field over LBC_CSV_FIELD_MAX bytes, more than
 *                LBC_CSV_FIELDS_MAX fields;
 *   LB_ENOMEM.
 */
int lbc_csv_next(lbc_csv_t *r, lbc_csv_row_t *row, char *err, size_t errlen);

/* Frees row's storage and zeroes it. */
void lbc_csv_row_free(lbc_csv_row_t *row);

#endif
