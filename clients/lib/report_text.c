/*
 * report_text.c - the report as aligned text tables (Thai names measured
 * with lbc_display_width) and as CSV with one row per area.
 */
#include <math.h>

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

/* "6501 Mueang Phitsanulok เมืองพิษณุโลก" from the row's names, a known province's, or the code. */
static const char *text_area_label(const lbc_report_row_t *w, char *buf, size_t len)
{
    const char *th = w->name[0] ? w->name : lbc_report_province_name(w->key, true);
    const char *en = w->name[0] ? w->name_en : lbc_report_province_name(w->key, false);
    if (th)
        snprintf(buf, len, "%s %s%s%s", w->key, en ? en : "", en && en[0] ? " " : "", th);
    else
        snprintf(buf, len, "%s", w->key);
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
    if (r->totals.name[0])
        putf(o, " %s%s%s%s", r->totals.name, r->totals.name_en[0] ? " (" : "", r->totals.name_en,
             r->totals.name_en[0] ? ")" : "");
    else if (lv == 0 && lbc_report_province_name(r->area, false))
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
    char when[32], label[320];
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
    lbc_report_text_act(r, o);
    lbc_report_text_trend(r, o);
    ttab_t t = {.ncols = 12};
    ttab_row(&t, h1);
    for (size_t i = 0; i < r->nrows; i++)
        text_progress_row(&t, text_area_label(&r->rows[i], label, sizeof label), &r->rows[i]);
    text_progress_row(&t, "TOTAL", &r->totals);
    put(o, "\nProgress (percentages of the cases)\n");
    if (r->totals.visited + r->totals.assisted + r->totals.resolved + r->totals.closed == 0)
        put(o, "No follow-ups yet: no case has been visited, assisted or resolved.\n");
    ttab_print(&t, o);
    ttab_free(&t);

    t = (ttab_t){.ncols = 9};
    ttab_row(&t, h2);
    for (size_t i = 0; i < r->nrows; i++)
        text_needs_row(&t, text_area_label(&r->rows[i], label, sizeof label), &r->rows[i]);
    text_needs_row(&t, "TOTAL", &r->totals);
    put(o, "\nOpen needs per dimension (open cases), and cases per level reached\n");
    ttab_print(&t, o);
    ttab_free(&t);
    lbc_report_text_ledger(r, o);
}

static void text_ledger_row(ttab_t *t, const char *label, const lbc_report_ledger_row_t *w)
{
    char c[6][32];
    const char *v[7] = {label,
                        fmt_count(w->pledged, c[0]),
                        fmt_count(llround(w->pledged_thb), c[1]),
                        fmt_count(w->delivered, c[2]),
                        fmt_count(llround(w->delivered_thb), c[3]),
                        fmt_count(w->open, c[4]),
                        fmt_count(llround(w->open_thb), c[5])};
    ttab_row(t, v);
}

/* The agency ledger: pledged against delivered per agency, the open pledges (when fetched). */
void lbc_report_text_ledger(const lbc_report_t *r, out_t *o)
{
    static const char *const h[7] = {"AGENCY", "PLEDGED", "BAHT", "DELIVERED",
                                     "BAHT",   "OPEN",    "BAHT"};
    if (!r->has_ledger)
        return;
    const lbc_report_ledger_row_t *tot = &r->ledger_totals;
    put(o, "\nAgency ledger: pledges against deliveries, and pledges still open\n");
    if (r->nledger == 0 || tot->pledged + tot->delivered == 0) {
        put(o, "No pledges yet: no assistance record in this area is a pledge or a delivery.\n");
        return;
    }
    ttab_t t = {.ncols = 7};
    ttab_row(&t, h);
    lbc_report_ledger_row_t rest = {0};
    for (size_t i = 0; i < r->nledger; i++) {
        const lbc_report_ledger_row_t *w = &r->ledger[i];
        if (i < LBC_REPORT_LEDGER_SHOWN) {
            text_ledger_row(&t, w->key, w);
            continue;
        }
        rest.pledged += w->pledged, rest.delivered += w->delivered, rest.open += w->open;
        rest.pledged_thb += w->pledged_thb, rest.delivered_thb += w->delivered_thb;
        rest.open_thb += w->open_thb;
    }
    char label[64];
    if (r->nledger > LBC_REPORT_LEDGER_SHOWN) {
        snprintf(label, sizeof label, "(%zu more agencies)", r->nledger - LBC_REPORT_LEDGER_SHOWN);
        text_ledger_row(&t, label, &rest);
    }
    text_ledger_row(&t, "TOTAL", tot);
    ttab_print(&t, o);
    ttab_free(&t);
    put(o, "Open: pledges no delivery names yet, of cases not closed or resolved. Baht rounded.\n");
}

/* Where to act: the areas ranked by overdue and unacknowledged, then the cases themselves. */
void lbc_report_text_act(const lbc_report_t *r, out_t *o)
{
    static const char *const hr[5] = {"AREA", "OVERDUE", "UNACKED", "OPEN", "CASES"};
    static const char *const hc[8] = {"CASE", "AREA",       "STATE",   "TEAM",
                                      "DAYS", "ESCALATION", "OVERDUE", "UNACKED"};
    char label[320], c[4][32];
    put(o, "\nWhere to act: areas ranked by overdue cases, then unacknowledged escalations\n");
    if (r->totals.overdue == 0 && r->totals.unacked == 0) {
        put(o, "No escalations yet: no case is overdue or waiting for acknowledgement.\n");
    } else {
        ttab_t t = {.ncols = 5};
        ttab_row(&t, hr);
        for (size_t i = 0; i < r->nrows && (r->rows[i].overdue || r->rows[i].unacked); i++) {
            const lbc_report_row_t *w = &r->rows[i];
            const char *v[5] = {text_area_label(w, label, sizeof label),
                                fmt_count(w->overdue, c[0]), fmt_count(w->unacked, c[1]),
                                fmt_count(w->open, c[2]), fmt_count(w->cases, c[3])};
            ttab_row(&t, v);
        }
        ttab_print(&t, o);
        ttab_free(&t);
    }
    putf(o, "\nCases to act on, oldest first (%zu%s)\n", r->act_total,
         r->act_total >= LBC_REPORT_ACT_MAX ? " or more" : "");
    if (r->nact == 0) {
        put(o, "None: no case is overdue or has an unacknowledged escalation.\n");
        return;
    }
    ttab_t t = {.ncols = 8};
    ttab_row(&t, hc);
    for (size_t i = 0; i < r->nact && i < LBC_REPORT_ACT_SHOWN; i++) {
        const lbc_report_case_t *k = &r->act[i];
        int64_t days = (r->generated_ms - k->entered_at) / 86400000;
        snprintf(c[0], sizeof c[0], "%" PRId64, days < 0 ? 0 : days);
        const char *v[8] = {k->case_id,
                            k->area,
                            k->state,
                            k->team[0] ? k->team : "-",
                            c[0],
                            k->escalation[0] ? k->escalation : "-",
                            k->overdue ? "yes" : "no",
                            k->unacked ? "yes" : "no"};
        ttab_row(&t, v);
    }
    ttab_print(&t, o);
    ttab_free(&t);
    if (r->nact > LBC_REPORT_ACT_SHOWN)
        putf(o, "... and %zu more (--format csv --table cases lists them all)\n",
             r->nact - LBC_REPORT_ACT_SHOWN);
}

static bool trend_any(const lbc_report_t *r, const int64_t *t)
{
    for (size_t i = 0; t && i < r->nmonths * LBC_REPORT_NTREND; i++)
        if (t[i])
            return true;
    return false;
}

static void trend_rows(ttab_t *t, const lbc_report_t *r, const char *label, const int64_t *v)
{
    for (size_t m = 0; m < r->nmonths; m++) {
        char c[LBC_REPORT_NTREND][32];
        const char *cells[2 + LBC_REPORT_NTREND] = {label, r->months[m]};
        for (int j = 0; j < LBC_REPORT_NTREND; j++)
            cells[2 + j] = fmt_count(v[m * LBC_REPORT_NTREND + j], c[j]);
        ttab_row(t, cells);
    }
}

/* The monthly trend: the totals, then each area with any activity in the months. */
void lbc_report_text_trend(const lbc_report_t *r, out_t *o)
{
    static const char *const h[8] = {"AREA",     "MONTH",    "OPENED", "VISITED",
                                     "ASSISTED", "RESOLVED", "CLOSED", "ESCALATED"};
    char label[320];
    if (r->nmonths == 0)
        return;
    putf(o, "\nMonthly trend, %s to %s (Asia/Bangkok)\n", r->months[0], r->months[r->nmonths - 1]);
    if (!trend_any(r, r->totals.trend)) {
        put(o, "No activity in these months yet.\n");
        return;
    }
    ttab_t t = {.ncols = 8};
    ttab_row(&t, h);
    trend_rows(&t, r, "TOTAL", r->totals.trend);
    for (size_t i = 0; i < r->nrows; i++)
        if (trend_any(r, r->rows[i].trend))
            trend_rows(&t, r, text_area_label(&r->rows[i], label, sizeof label), r->rows[i].trend);
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
    put(o, ",area_name,area_name_en\n");
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
        put(o, ",");
        csv_field(o, w->name);
        put(o, ",");
        csv_field(o, w->name_en);
        put(o, "\n");
    }
}

static void csv_trend_rows(out_t *o, const lbc_report_t *r, const char *key, const int64_t *v)
{
    for (size_t m = 0; v && m < r->nmonths; m++) {
        csv_field(o, key);
        putf(o, ",%s", r->months[m]);
        for (int j = 0; j < LBC_REPORT_NTREND; j++)
            putf(o, ",%" PRId64, v[m * LBC_REPORT_NTREND + j]);
        put(o, "\n");
    }
}

void lbc_report_put_csv_trend(const lbc_report_t *r, out_t *o)
{
    put(o, "key,month");
    for (int j = 0; j < LBC_REPORT_NTREND; j++)
        putf(o, ",%s", lbc_report_trend_names[j]);
    put(o, "\n");
    csv_trend_rows(o, r, r->area, r->totals.trend);
    for (size_t i = 0; i < r->nrows; i++)
        csv_trend_rows(o, r, r->rows[i].key, r->rows[i].trend);
}

void lbc_report_put_csv_cases(const lbc_report_t *r, out_t *o)
{
    put(o, "case_id,area,state,team,escalation,entered_at,age_days,overdue,unacked\n");
    for (size_t i = 0; i < r->nact; i++) {
        const lbc_report_case_t *k = &r->act[i];
        int64_t days = (r->generated_ms - k->entered_at) / 86400000;
        csv_field(o, k->case_id);
        put(o, ",");
        csv_field(o, k->area);
        put(o, ",");
        csv_field(o, k->state);
        put(o, ",");
        csv_field(o, k->team);
        put(o, ",");
        csv_field(o, k->escalation);
        putf(o, ",%" PRId64 ",%" PRId64 ",%s,%s\n", k->entered_at, days < 0 ? 0 : days,
             k->overdue ? "true" : "false", k->unacked ? "true" : "false");
    }
}
