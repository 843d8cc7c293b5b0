/*
 * fuzz_csv.c - libFuzzer target for the CSV reader of `logbook import`
 * (clients/lib/csv.h): reads every record of the input, bad ones included, the
 * way the importer does, and checks what csv.h promises about each one (field
 * counts and sizes, valid UTF-8, line numbers, progress after an error).
 * Also built with gcc into replay_csv for `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../clients/lib/csv.h"
#include "../../proto/lb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lbc_csv_t r;
    lbc_csv_row_t row;
    char err[256];
    size_t lines = 1, last_line = 0;

    /* A record never starts past the last line of the input. */
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n' || (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n')))
            lines++;

    memset(&row, 0, sizeof(row));
    lbc_csv_init(&r, data, size);
    for (;;) {
        size_t pos = r.pos;
        err[0] = '\0';
        int rc = lbc_csv_next(&r, &row, err, sizeof(err));
        if (rc == LB_ENOTFOUND)
            break;
        /* Every call that is not the end consumes input, so the importer's loop ends. */
        if (r.pos <= pos || r.pos > size)
            abort();
        if (row.line < 1 || row.line > lines || row.line <= last_line)
            abort();
        last_line = row.line;
        if (rc == LB_EBADREQ) {
            char prefix[32];
            int n = snprintf(prefix, sizeof(prefix), "line %zu: ", row.line);
            if (strncmp(err, prefix, (size_t)n) != 0 || strlen(err) <= (size_t)n)
                abort();
            continue;
        }
        if (rc != 0 || row.n < 1 || row.n > LBC_CSV_FIELDS_MAX)
            abort();
        for (size_t i = 0; i < row.n; i++) {
            size_t flen = strlen(row.fields[i]);
            if (flen > LBC_CSV_FIELD_MAX || !lb_utf8_valid(row.fields[i], flen))
                abort();
        }
    }
    if (r.pos != size)
        abort();
    lbc_csv_row_free(&row);
    return 0;
}
