/*
 * import.c - logbook import: opens cases from a CSV file in case.import batches under the
 * daemon's message limit; rows the daemon refuses are set aside and reported by line.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/csv.h"
#include "logbook.h"

/* Requests stay under the daemon's default 1 MiB message limit with room to spare. */
#define IMPORT_BATCH_BYTES (900 * 1024)
#define IMPORT_FILE_MAX ((size_t)2 * 1024 * 1024 * 1024)

typedef struct {
    size_t line;
    char *code;
    char *message;
} import_err_t;

typedef struct {
    app_t *app;
    const char *workflow, *source;
    size_t batch_max;
    lb_val_t *args;  /* the case.import arguments of the batch in hand */
    lb_val_t *batch; /* its households list (inside args) */
    size_t *lines;   /* the file line of each */
    size_t bytes;    /* their encoded size */
    int64_t opened, skipped;
    import_err_t *errs;
    size_t nerrs, caperrs;
    bool progress;
    size_t done_bytes, total_bytes;
} import_t;

static int import_add_err(import_t *im, size_t line, const char *code, const char *msg)
{
    if (im->nerrs == im->caperrs) {
        size_t cap = im->caperrs ? im->caperrs * 2 : 16;
        import_err_t *e = realloc(im->errs, cap * sizeof *e);
        if (!e)
            return LB_ENOMEM;
        im->errs = e;
        im->caperrs = cap;
    }
    import_err_t *e = &im->errs[im->nerrs];
    e->line = line;
    e->code = strdup(code);
    e->message = strdup(msg);
    if (!e->code || !e->message) {
        free(e->code);
        free(e->message);
        return LB_ENOMEM;
    }
    im->nerrs++;
    return 0;
}

static void import_progress(const import_t *im, bool final)
{
    if (!im->progress)
        return;
    if (final) {
        fprintf(stderr, "\r%79s\r", "");
        return;
    }
    int pct = im->total_bytes ? (int)(im->done_bytes * 100 / im->total_bytes) : 100;
    int bars = pct * 30 / 100;
    fprintf(stderr, "\rimport [%.*s%*s] %3d%%  opened %" PRId64 "  skipped %" PRId64 "  errors %zu",
            bars, "##############################", 30 - bars, "", pct, im->opened, im->skipped,
            im->nerrs);
    fflush(stderr);
}

/* Removes item i of the batch (its line too). */
static void batch_remove(import_t *im, uint32_t i)
{
    lb_val_t *b = im->batch;
    lb_val_free(&b->a.items[i]);
    memmove(&b->a.items[i], &b->a.items[i + 1], (b->a.n - i - 1) * sizeof *b->a.items);
    memmove(&im->lines[i], &im->lines[i + 1], (b->a.n - i - 1) * sizeof *im->lines);
    b->a.n--;
}

/* Starts an empty batch: fresh case.import arguments. */
static int import_new_batch(import_t *im)
{
    lb_val_free(&im->args);
    im->batch = NULL;
    im->bytes = 0;
    im->args = lb_map();
    int e = im->args ? 0 : LB_ENOMEM;
    lb_put(im->args, "households", lb_arr(), &e);
    put_opt_str(im->args, "workflow", im->workflow, &e);
    put_opt_str(im->args, "source", im->source, &e);
    if (!e)
        im->batch = lb_map_get(im->args, "households");
    return e;
}

/*
 * Sends the batch with case.import. An item the daemon refuses as a whole
 * request (field "households.N...") is listed as that row's error and the
 * rest is sent again, so one bad row never sinks its batch.
 */
static int import_flush(import_t *im)
{
    int rc = 0;
    lb_val_t *reply = NULL;
    char err[512];
    while (im->batch->a.n > 0) {
        rc = app_connect(im->app);
        if (rc)
            goto done;
        int e = lbc_call(im->app->c, "case.import", im->args, &reply, err, sizeof err);
        if (e) {
            fprintf(stderr, "%serror: cannot reach the daemon: %s\n", im->progress ? "\n" : "",
                    err);
            rc = e == LB_EBADREQ ? EX_USAGE : EX_UNREACHABLE;
            goto done;
        }
        if (lbc_reply_ok(reply)) {
            const lb_val_t *res = lbc_reply_result(reply);
            int64_t n = 0;
            if (lb_map_int(res, "opened", &n) == 0)
                im->opened += n;
            if (lb_map_int(res, "skipped", &n) == 0)
                im->skipped += n;
            const lb_val_t *errs = lb_map_get(res, "errors");
            for (uint32_t i = 0; errs && errs->type == LB_ARR && i < errs->a.n; i++) {
                const lb_val_t *x = errs->a.items[i];
                int64_t idx = -1;
                lb_map_int(x, "index", &idx);
                const char *code = lb_map_str(x, "code"), *msg = lb_map_str(x, "message");
                const char *field = lb_map_str(x, "field");
                char full[600];
                snprintf(full, sizeof full, "%s%s%s", field && *field ? field : "",
                         field && *field ? ": " : "", msg ? msg : "");
                size_t line = (idx >= 0 && (uint64_t)idx < im->batch->a.n) ? im->lines[idx] : 0;
                if (import_add_err(im, line, code ? code : "internal", full)) {
                    rc = EX_UNREACHABLE;
                    goto done;
                }
            }
            break;
        }
        const char *code, *msg, *field;
        lbc_reply_error(reply, &code, &msg, &field);
        unsigned long idx;
        int used = 0;
        if (strncmp(field, "households.", 11) == 0 &&
            sscanf(field + 11, "%lu%n", &idx, &used) == 1 && idx < im->batch->a.n) {
            const char *rest = field + 11 + used;
            char full[600];
            snprintf(full, sizeof full, "%s%s%s", *rest == '.' ? rest + 1 : "",
                     *rest == '.' ? ": " : "", msg);
            if (import_add_err(im, im->lines[idx], code, full)) {
                rc = EX_UNREACHABLE;
                goto done;
            }
            /* Different content, so lbc_call gives the next try a new request id. */
            batch_remove(im, (uint32_t)idx);
            lb_val_free(&reply);
            continue;
        }
        if (im->progress)
            fputc('\n', stderr);
        print_error_reply(reply);
        rc = EX_REFUSED;
        goto done;
    }
    if (import_new_batch(im))
        rc = EX_UNREACHABLE;
done:
    lb_val_free(&reply);
    return rc;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

enum { COL_HOUSE, COL_AREA, COL_HEAD, COL_NID, COL_DEPRIVED, COL_COUNT };
static const char *const col_names[COL_COUNT] = {"house_id", "area", "head", "nid", "deprived"};

/* A household map from one CSV row, by the header's column positions. */
static lb_val_t *row_household(lbc_csv_row_t *row, const int *col)
{
    lb_val_t *hh = lb_map();
    int e = hh ? 0 : LB_ENOMEM;
    const char *v[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++)
        v[c] = col[c] >= 0 ? trim(row->fields[col[c]]) : "";
    lb_put_str(hh, "house_id", v[COL_HOUSE], &e);
    lb_put_str(hh, "area", v[COL_AREA], &e);
    if (*v[COL_HEAD])
        lb_put_str(hh, "head", v[COL_HEAD], &e);
    if (*v[COL_NID]) {
        lb_val_t *members = lb_arr(), *m = lb_map();
        lb_put_str(m, "nid", v[COL_NID], &e);
        lb_push(members, m, &e);
        lb_put(hh, "members", members, &e);
    }
    if (*v[COL_DEPRIVED]) {
        lb_val_t *d = lb_arr();
        push_list(d, v[COL_DEPRIVED], ';', &e);
        lb_put(hh, "deprived", d, &e);
    }
    if (e)
        lb_val_free(&hh);
    return hh;
}

static int read_file(const char *path, char **data, size_t *len)
{
    int rc = 0;
    char *buf = NULL;
    size_t n = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = -errno;
        goto done;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > IMPORT_FILE_MAX) {
        rc = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
        goto done;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto done;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            goto done;
        }
        n += (size_t)r;
    }
done:
    if (fd >= 0)
        close(fd);
    if (rc) {
        free(buf);
        buf = NULL;
    }
    *data = buf;
    *len = n;
    return rc;
}

static int cmp_err(const void *x, const void *y)
{
    const import_err_t *a = x, *b = y;
    return a->line < b->line ? -1 : a->line > b->line;
}

/* import_flush, with the progress bar moved on to pos bytes into the file. */
static int import_send(import_t *im, size_t pos)
{
    im->done_bytes = pos;
    int rc = import_flush(im);
    import_progress(im, false);
    return rc;
}

/*
 * Adds hh (taken over; size bytes encoded, from the given file line) to the
 * batch. The batch goes first when hh would take it over IMPORT_BATCH_BYTES,
 * and after when it is full. pos: how far into the file, for the progress bar.
 */
static int import_add(import_t *im, lb_val_t *hh, size_t size, size_t line, size_t pos)
{
    int rc = EX_OK;
    if (im->batch->a.n > 0 && im->bytes + size > IMPORT_BATCH_BYTES)
        rc = import_send(im, pos);
    if (rc) {
        lb_val_free(&hh);
        return rc;
    }
    im->lines[im->batch->a.n] = line;
    if (lb_arr_push(im->batch, hh))
        return EX_UNREACHABLE;
    im->bytes += size;
    if (im->batch->a.n >= im->batch_max)
        rc = import_send(im, pos);
    return rc;
}

/*
 * Reads the header line into col (each known column's field index, -1 when
 * absent) and *ncols. Returns EX_OK, or EX_USAGE after printing why.
 */
static int import_header(const char *path, lbc_csv_t *r, lbc_csv_row_t *row, int *col,
                         size_t *ncols)
{
    char err[256];
    int e = lbc_csv_next(r, row, err, sizeof err);
    if (e) {
        fprintf(stderr, "error: %s: %s\n", path,
                e == LB_ENOTFOUND ? "empty file, expected a header line" : err);
        return EX_USAGE;
    }
    for (int c = 0; c < COL_COUNT; c++)
        col[c] = -1;
    for (size_t i = 0; i < row->n; i++) {
        char *name = trim(row->fields[i]);
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int found = -1;
        for (int c = 0; c < COL_COUNT; c++)
            if (strcmp(name, col_names[c]) == 0)
                found = c;
        if (found < 0 || col[found] >= 0) {
            fprintf(stderr,
                    "error: %s: line %zu: %s column '%s' (expected house_id, area, head, "
                    "nid, deprived)\n",
                    path, row->line, found < 0 ? "unknown" : "repeated", name);
            return EX_USAGE;
        }
        col[found] = (int)i;
    }
    if (col[COL_HOUSE] < 0 || col[COL_AREA] < 0) {
        fprintf(stderr, "error: %s: the header needs house_id and area columns\n", path);
        return EX_USAGE;
    }
    *ncols = row->n;
    return EX_OK;
}

/*
 * Reads the data rows after the header and sends them in batches, the last
 * one too. A row the CSV reader refuses, or one with the wrong number of
 * fields, is listed as an error with its line. Returns an exit code.
 */
static int import_rows(import_t *im, lbc_csv_t *r, lbc_csv_row_t *row, const int *col, size_t ncols)
{
    lb_buf_t scratch;
    char err[256], buf[160];
    int rc = EX_OK;
    lb_buf_init(&scratch);
    while (rc == EX_OK) {
        int e = lbc_csv_next(r, row, err, sizeof err);
        if (e == LB_ENOTFOUND)
            break;
        if (e == LB_ENOMEM) {
            rc = EX_UNREACHABLE;
            break;
        }
        const char *msg = err;
        if (e == 0 && row->n != ncols) {
            snprintf(buf, sizeof buf, "line %zu: expected %zu fields, found %zu", row->line, ncols,
                     row->n);
            msg = buf;
            e = LB_EBADREQ;
        }
        if (e) {
            /* "line N: why" -> the line goes in its own field */
            const char *why = strstr(msg, ": ");
            if (import_add_err(im, row->line, "bad_request", why ? why + 2 : msg))
                rc = EX_UNREACHABLE;
            continue;
        }
        lb_val_t *hh = row_household(row, col);
        scratch.len = 0;
        if (!hh || proto_pack(hh, &scratch) != 0) {
            lb_val_free(&hh);
            rc = EX_UNREACHABLE;
            break;
        }
        rc = import_add(im, hh, scratch.len, row->line, r->pos);
    }
    if (rc == EX_OK && im->batch->a.n > 0)
        rc = import_flush(im);
    lb_buf_free(&scratch);
    return rc;
}

/* Prints the counts and every refused row, in line order, as text or JSON. */
static void import_report(import_t *im, bool json)
{
    qsort(im->errs, im->nerrs, sizeof *im->errs, cmp_err);
    if (!json) {
        printf("opened %" PRId64 ", skipped %" PRId64 " (already open), errors %zu\n", im->opened,
               im->skipped, im->nerrs);
        for (size_t i = 0; i < im->nerrs; i++)
            printf("line %zu: %s: %s\n", im->errs[i].line, im->errs[i].code, im->errs[i].message);
        return;
    }
    lb_val_t *res = lb_map(), *errs = lb_arr();
    int e = res ? 0 : LB_ENOMEM;
    for (size_t i = 0; !e && i < im->nerrs; i++) {
        lb_val_t *x = lb_map();
        if (!x)
            lb_rc(&e, LB_ENOMEM);
        lb_put_int(x, "line", (int64_t)im->errs[i].line, &e);
        lb_put_str(x, "code", im->errs[i].code, &e);
        lb_put_str(x, "message", im->errs[i].message, &e);
        lb_push(errs, x, &e);
    }
    lb_put_int(res, "opened", im->opened, &e);
    lb_put_int(res, "skipped", im->skipped, &e);
    lb_put(res, "errors", errs, &e);
    if (!e)
        print_json(res);
    lb_val_free(&res);
}

static void import_free(import_t *im)
{
    for (size_t i = 0; i < im->nerrs; i++) {
        free(im->errs[i].code);
        free(im->errs[i].message);
    }
    free(im->errs);
    free(im->lines);
    lb_val_free(&im->args);
}

int cmd_import(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"workflow=", "source=", "batch=", NULL};
    PROLOGUE(spec, 1, 1)
    import_t im = {.app = app,
                   .workflow = opt(&a, "workflow"),
                   .source = opt(&a, "source"),
                   .batch_max = PROTO_IMPORT_MAX};
    char *data = NULL;
    size_t len = 0, ncols = 0;
    lbc_csv_t r;
    lbc_csv_row_t row = {0};
    int col[COL_COUNT];
    int64_t bm;
    if (opt(&a, "batch")) {
        if (!parse_count(opt(&a, "batch"), 1, PROTO_IMPORT_MAX, &bm)) {
            usage_error(argv[0], "--batch must be 1-%d", PROTO_IMPORT_MAX);
            return EX_USAGE;
        }
        im.batch_max = (size_t)bm;
    }
    int e = read_file(a.pos[0], &data, &len);
    if (e) {
        fprintf(stderr, "error: %s: %s\n", a.pos[0], strerror(-e));
        return EX_USAGE;
    }
    im.lines = calloc(im.batch_max, sizeof *im.lines);
    if (!im.lines || import_new_batch(&im)) {
        rc = EX_UNREACHABLE;
        goto done;
    }
    im.progress = isatty(STDERR_FILENO);
    im.total_bytes = len;
    lbc_csv_init(&r, data, len);
    rc = import_header(a.pos[0], &r, &row, col, &ncols);
    if (rc == EX_OK)
        rc = import_rows(&im, &r, &row, col, ncols);
    if (rc == EX_OK) {
        import_progress(&im, true);
        import_report(&im, app->json);
        /* Rows that were not imported make the run a failure for scripts. */
        rc = im.nerrs ? EX_REFUSED : EX_OK;
    }
done:
    if (rc && rc != EX_REFUSED && (im.opened || im.skipped))
        fprintf(stderr,
                "note: %" PRId64 " households were opened and %" PRId64
                " skipped before the import stopped; running it again skips them\n",
                im.opened, im.skipped);
    import_free(&im);
    lbc_csv_row_free(&row);
    free(data);
    return rc;
}
