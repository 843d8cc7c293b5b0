/*
 * report_text.c - the report as aligned text tables (Thai names measured
 * with lbc_display_width) and as CSV with one row per area.
 */
#include "report_int.h"

/* ---------------------------------------------------------------------- */
/* Text                                                                    */
/* ---------------------------------------------------------------------- */

#define TCOLS_MAX 12

/* An aligned table of owned cells; the first column left-aligned, the rest right. */
typedef struct {
    size_t ncols, nrows, cap;
    char **cells;
    int rc;
} ttab_t;

static void ttab_row(ttab_t *t, const char *const *vals)
{
    if (t->rc)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **cells = realloc(t->cells, cap * t->ncols * sizeof *cells);
        if (!cells) {
            t->rc = LB_ENOMEM;
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = strdup(vals[c] ? vals[c] : "");
        if (!row[c])
            t->rc = LB_ENOMEM;
    }
    t->nrows++;
}

static void ttab_print(const ttab_t *t, out_t *o)
{
    size_t w[TCOLS_MAX] = {0};
    if (t->rc) {
        o->rc = t->rc;
        return;
    }
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t dw = lbc_display_width(t->cells[r * t->ncols + c]);
            if (dw > w[c])
                w[c] = dw;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t pad = w[c] - lbc_display_width(s);
            if (c > 0)
                put(o, "  ");
            for (size_t k = 0; c > 0 && k < pad; k++)
                put(o, " ");
            put(o, s);
            /* No trailing blanks after the last column. */
            for (size_t k = 0; c == 0 && c + 1 < t->ncols && k < pad; k++)
                put(o, " ");
        }
        put(o, "\n");
    }
}

static void ttab_free(ttab_t *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* "65 Phitsanulok พิษณุโลก" for a known province, else the code. */
static const char *text_area_label(const char *key, char *buf, size_t len)
{
    const char *en = lbc_report_province_name(key, false);
    if (en)
        snprintf(buf, len, "%s %s %s", key, en, lbc_report_province_name(key, true));
    else
        snprintf(buf, len, "%s", key);
    return buf;
}

static void text_scope(const lbc_report_t *r, out_t *o)
{
    int lv = key_level(r->area);
    if (lv < 0) {
        put(o, "all areas in scope");
        return;
    }
    putf(o, "%s %s", lbc_report_area_levels[lv], r->area);
    if (lv == 0 && lbc_report_province_name(r->area, false))
        putf(o, " %s (%s)", lbc_report_province_name(r->area, false),
             lbc_report_province_name(r->area, true));
}

static void text_progress_row(ttab_t *t, const char *label, const lbc_report_row_t *row)
{
    char c[8][32], p[3][8];
    const char *v[12] = {label,
                         fmt_count(row->cases, c[0]),
                         fmt_count(row->open, c[1]),
                         fmt_count(row->visited, c[2]),
                         fmt_pct(row->visited, row->cases, p[0]),
                         fmt_count(row->assisted, c[3]),
                         fmt_pct(row->assisted, row->cases, p[1]),
                         fmt_count(row->resolved, c[4]),
                         fmt_pct(row->resolved, row->cases, p[2]),
                         fmt_count(row->closed, c[5]),
                         fmt_count(row->overdue, c[6]),
                         fmt_count(row->unacked, c[7])};
    ttab_row(t, v);
}

static void text_needs_row(ttab_t *t, const char *label, const lbc_report_row_t *row)
{
    char c[8][32];
    const char *v[9] = {label};
    for (int i = 0; i < LB_NDIM; i++)
        v[1 + i] = fmt_count(row->needs[i], c[i]);
    for (int i = 0; i < LB_NPROGRESS; i++)
        v[1 + LB_NDIM + i] = fmt_count(row->levels[i], c[LB_NDIM + i]);
    ttab_row(t, v);
}

void lbc_report_put_text(const lbc_report_t *r, out_t *o)
{
    static const char *const h1[12] = {"AREA", "CASES",    "OPEN", "VISITED", "%",       "ASSISTED",
                                       "%",    "RESOLVED", "%",    "CLOSED",  "OVERDUE", "UNACKED"};
    static const char *const h2[9] = {"AREA",      "HEALTH",     "LIVING",
                                      "EDUCATION", "INCOME",     "ACCESSIBILITY",
                                      "SURVIVE",   "SUFFICIENT", "SUSTAINABLE"};
    char when[32], label[128];
    put(o, "Logbook report: ");
    text_scope(r, o);
    putf(o, ", by %s\n", r->by);
    lbc_format_time(r->generated_ms, when, sizeof when);
    if (r->last_seq)
        putf(o, "Counts include every event up to seq %" PRIu64 "; generated %s.\n", r->last_seq,
             when);
    else
        putf(o, "Generated %s.\n", when);
    if (r->nrows == 0) {
        put(o, "\nNo cases in this area.\n");
        return;
    }
    ttab_t t = {.ncols = 12};
    ttab_row(&t, h1);
    for (size_t i = 0; i < r->nrows; i++)
        text_progress_row(&t, text_area_label(r->rows[i].key, label, sizeof label), &r->rows[i]);
    text_progress_row(&t, "TOTAL", &r->totals);
    put(o, "\nProgress (percentages of the cases)\n");
    ttab_print(&t, o);
    ttab_free(&t);

    t = (ttab_t){.ncols = 9};
    ttab_row(&t, h2);
    for (size_t i = 0; i < r->nrows; i++)
        text_needs_row(&t, text_area_label(r->rows[i].key, label, sizeof label), &r->rows[i]);
    text_needs_row(&t, "TOTAL", &r->totals);
    put(o, "\nOpen needs per dimension (open cases), and cases per level reached\n");
    ttab_print(&t, o);
    ttab_free(&t);
}

/* ---------------------------------------------------------------------- */
/* CSV                                                                     */
/* ---------------------------------------------------------------------- */

/* RFC 4180 quoting, for a key that is not the digits the daemon promises. */
static void csv_field(out_t *o, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        put(o, s);
        return;
    }
    put(o, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            put(o, "\"");
        if (!o->rc && lb_buf_append(o->b, p, 1))
            o->rc = LB_ENOMEM;
    }
    put(o, "\"");
}

void lbc_report_put_csv(const lbc_report_t *r, out_t *o)
{
    put(o, "key,cases,open,visited,assisted,resolved,closed,overdue");
    for (int i = 0; i < LB_NDIM; i++)
        putf(o, ",needs_%s", lb_dimensions[i]);
    put(o, ",unacked");
    for (int i = 0; i < LB_NPROGRESS; i++)
        putf(o, ",level_%s", lb_progress_levels[i]);
    put(o, "\n");
    for (size_t k = 0; k < r->nrows; k++) {
        const lbc_report_row_t *w = &r->rows[k];
        csv_field(o, w->key);
        putf(o, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64,
             w->cases, w->open, w->visited, w->assisted, w->resolved, w->closed, w->overdue);
        for (int i = 0; i < LB_NDIM; i++)
            putf(o, ",%" PRId64, w->needs[i]);
        putf(o, ",%" PRId64, w->unacked);
        for (int i = 0; i < LB_NPROGRESS; i++)
            putf(o, ",%" PRId64, w->levels[i]);
        put(o, "\n");
    }
}
