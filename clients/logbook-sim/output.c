/*
 * output.c - what logbook-sim prints: the generated province, a line per
 * month, the final summary by district, and the HTML page: the client
 * library's committee report with the simulation's months added.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/report.h"
#include "sim.h"

const char *num(int64_t v)
{
    static char bufs[16][LBC_COUNT_LEN];
    static unsigned k;
    return lbc_fmt_count(v, bufs[k++ & 15]);
}

double pct(int64_t a, int64_t b)
{
    return b > 0 ? 100.0 * (double)a / (double)b : 0.0;
}

static void date_of(int64_t ms, char out[16])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !localtime_r(&t, &tm))
        snprintf(out, 16, "-");
    else
        strftime(out, 16, "%Y-%m-%d", &tm);
}

int64_t row_int(const lb_val_t *row, const char *key)
{
    int64_t v = 0;
    lb_map_int(row, key, &v);
    return v;
}

void print_generated(const sim_t *s)
{
    int64_t per_dim[NDIM] = {0}, ndep = 0;
    for (uint32_t i = 0; i < s->w.n; i++)
        for (int k = 0; k < s->w.c[i].ndep; k++, ndep++)
            per_dim[ind[s->w.c[i].dep[k]].dim]++;
    printf("province %s %s (%s): %s target households in %d districts, %d subdistricts, %s "
           "villages\n  deprivations (%.2f per household):",
           s->w.province, s->w.prov_th, s->w.prov_en, num(s->w.n), s->w.nd, s->w.ntambon,
           num(s->w.nv), s->w.n ? (double)ndep / s->w.n : 0.0);
    static const int order[] = {DIM_INCOME, DIM_EDUCATION, DIM_LIVING, DIM_HEALTH, DIM_ACCESS};
    for (int k = 0; k < NDIM; k++)
        printf(" %s %.0f%%%s", lb_dimensions[order[k]], pct(per_dim[order[k]], ndep),
               k + 1 < NDIM ? "," : "\n");
}

void print_header(void)
{
    printf("%5s %-10s %10s %9s %8s %9s %9s %8s %7s %8s %8s %9s %8s %8s %7s %6s\n", "month", "date",
           "identified", "scheduled", "visited", "assisting", "follow_up", "resolved", "closed",
           "visited%", "assisted%", "escalated", "overdue", "unacked", "acked", "secs");
}

void print_month(int month, const month_t *m, double secs)
{
    char date[16];
    date_of(m->now, date);
    printf("%5d %-10s %10s %9s %8s %9s %9s %8s %7s %7.1f%% %8.1f%% %9s %8s %8s %7s %6.1f\n",
           month + 1, date, num(m->by_state[ST_IDENTIFIED]), num(m->by_state[ST_SCHEDULED]),
           num(m->by_state[ST_VISITED]), num(m->by_state[ST_ASSISTING]),
           num(m->by_state[ST_FOLLOW_UP]), num(m->by_state[ST_RESOLVED]),
           num(m->by_state[ST_CLOSED]), pct(m->totals.visited, m->totals.cases),
           pct(m->totals.assisted, m->totals.cases), m->fired >= 0 ? num(m->fired) : "-",
           num(m->totals.overdue), num(m->totals.unacked), num(m->acked), secs);
    fflush(stdout);
}

/* ---------------------------------------------------------------------- */
/* The final summary and the HTML page                                     */
/* ---------------------------------------------------------------------- */

static const district_t *district_by_code(const sim_t *s, const char *code)
{
    for (int i = 0; code && i < s->w.nd; i++)
        if (strcmp(s->w.d[i].code, code) == 0)
            return &s->w.d[i];
    return NULL;
}

/* Pads a UTF-8 label to `width` terminal columns (Thai combining marks take none). */
static void print_padded(const char *text, size_t width)
{
    size_t w = lbc_display_width(text);
    fputs(text, stdout);
    for (; w < width; w++)
        putchar(' ');
}

void print_summary(const sim_t *s)
{
    const lb_val_t *res = lbc_reply_result(s->final), *t = lb_map_get(res, "totals");
    const lb_val_t *rows = lb_map_get(res, "rows");
    int64_t cases = row_int(t, "cases");
    char date[16];
    date_of(s->now, date);
    printf("\nsummary after %d month%s (%s), province %s %s (%s):\n", s->w.months,
           s->w.months == 1 ? "" : "s", s->manual ? date : "clock not moved", s->w.province,
           s->w.prov_th, s->w.prov_en);
    printf("  households %s in %d districts, %d subdistricts, %s villages (%s people)\n",
           num(s->w.n), s->w.nd, s->w.ntambon, num(s->w.nv), num((int64_t)s->w.people));
    printf("  imported   %s opened, %s already open, %s refused\n", num(s->opened), num(s->skipped),
           num(s->import_errors));
    bool phit = strcmp(s->w.province, "65") == 0 && s->w.n == 13831;
    printf("  cases      %s\n", num(cases));
    printf("  visited    %s (%.1f%%)%s\n", num(row_int(t, "visited")),
           pct(row_int(t, "visited"), cases), phit ? "   Phitsanulok 2021: 13,831 (100%)" : "");
    printf("  assisted   %s (%.1f%%)%s\n", num(row_int(t, "assisted")),
           pct(row_int(t, "assisted"), cases), phit ? "   Phitsanulok 2021: 4,533 (32.8%)" : "");
    printf("  resolved   %s (%.1f%%)\n", num(row_int(t, "resolved")),
           pct(row_int(t, "resolved"), cases));
    printf("  closed     %s (%.1f%%)\n", num(row_int(t, "closed")),
           pct(row_int(t, "closed"), cases));
    printf("  open       %s, overdue %s, unacknowledged %s\n", num(row_int(t, "open")),
           num(row_int(t, "overdue")), num(row_int(t, "unacked")));
    const lb_val_t *lv = lb_map_get(t, "levels"), *no = lb_map_get(t, "needs_open");
    printf("  levels     survive %s, sufficient %s, sustainable %s\n", num(row_int(lv, "survive")),
           num(row_int(lv, "sufficient")), num(row_int(lv, "sustainable")));
    printf("  open needs");
    for (int d = 0; d < NDIM; d++)
        printf(" %s %s%s", lb_dimensions[d], num(row_int(no, lb_dimensions[d])),
               d + 1 < NDIM ? "," : "\n");
    int64_t fired = 0;
    for (int m = 0; m < s->nmon; m++)
        fired += s->mon[m].fired > 0 ? s->mon[m].fired : 0;
    printf("  escalations fired %s, acknowledged %s (%s already acknowledged)\n", num(fired),
           num((int64_t)s->ok[A_ACK]), num((int64_t)s->ack_conflicts));
    printf(
        "  casework   %s households moved (case.transfer), %s duplicates merged (case.merge)%s\n",
        num(s->transfers), num(s->merges), s->casework_refused ? ", some refused" : "");
    printf("  ledger     %s pledges by agencies, %s delivered, %s not delivered%s\n",
           num(s->pledges), num(s->deliveries), num(s->pledges - s->deliveries),
           s->ledger_refused ? ", some refused" : "");
    printf("\n  ");
    print_padded("district", 40);
    printf("%8s %8s %8s %8s %7s %8s %8s\n", "cases", "visited", "assisted", "resolved", "closed",
           "overdue", "unacked");
    for (uint32_t k = 0; rows && rows->type == LB_ARR && k < rows->a.n; k++) {
        const lb_val_t *row = rows->a.items[k];
        const char *key = lb_map_str(row, "key");
        const district_t *d = district_by_code(s, key);
        char label[160];
        snprintf(label, sizeof label, "%s %s (%s)", key ? key : "?", d ? d->th : "",
                 d ? d->en : "");
        printf("  ");
        print_padded(label, 40);
        printf("%8s %8s %8s %8s %7s %8s %8s\n", num(row_int(row, "cases")),
               num(row_int(row, "visited")), num(row_int(row, "assisted")),
               num(row_int(row, "resolved")), num(row_int(row, "closed")),
               num(row_int(row, "overdue")), num(row_int(row, "unacked")));
    }
    printf("\n  actions    ");
    uint64_t refused = 0;
    for (int a = 0; a <= NACT; a++) {
        printf("%s %s%s", act_names[a], num((int64_t)s->ok[a]), a < NACT ? ", " : "\n");
        refused += s->refused[a];
    }
    printf("  requests   %s in %.1f s (%s/s), refused %s\n", num((int64_t)s->requests), s->wall_s,
           num((int64_t)((double)s->requests / (s->wall_s > 0 ? s->wall_s : 1))),
           num((int64_t)refused));
    if (s->first_refusal[0])
        printf("  first refusal: %s\n", s->first_refusal);
}

/* printf onto b; output that does not fit is an LB_ENOMEM in *rc (sticky). */
static void bprintf(lb_buf_t *b, int *rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bprintf(lb_buf_t *b, int *rc, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        lb_rc(rc, LB_EINTERNAL);
    else if (*rc == 0)
        lb_rc(rc, lb_buf_append(b, line, (size_t)n));
}

static const char *const state_colour[NSTATE] = {"#d9534f", "#f0ad4e", "#f7dc6f", "#5bc0de",
                                                 "#5b8def", "#3c9d5d", "#999999"};

/* A stacked bar of the states, one line per month. */
static void html_bar(lb_buf_t *b, const month_t *m, int *rc)
{
    bprintf(b, rc, "<div class=sim-bar>");
    for (int i = 0; i < NSTATE; i++)
        if (m->by_state[i] > 0)
            bprintf(b, rc,
                    "<span style=\"width:%.2f%%;background:%s\" title=\"%s %" PRId64 "\">"
                    "</span>",
                    pct(m->by_state[i], m->totals.cases), state_colour[i], state_names[i],
                    m->by_state[i]);
    bprintf(b, rc, "</div>");
}

/*
 * The simulation's own section: the run, its months and its actions. Only
 * numbers and the fixed state and action names go in, so nothing needs escaping.
 */
static void html_sim_section(const sim_t *s, lb_buf_t *b, int *rc)
{
    bprintf(b, rc,
            "<section class=sim>\n<style>.sim-bar{display:flex;width:12em;height:1em}"
            ".sim-bar span{display:block;height:100%%}.sim-k{display:inline-block;"
            "width:1em;height:1em;vertical-align:middle}</style>\n");
    bprintf(b, rc,
            "<h2>Logbook simulation: month by month</h2>\n<p>%s target households in %d "
            "districts, %d subdistricts and %s villages, followed for %d months (seed %" PRIu64
            ", %s).</p>\n<p>",
            num(s->w.n), s->w.nd, s->w.ntambon, num(s->w.nv), s->w.months, s->w.seed,
            s->manual ? "manual clock, 3 rounds of 10 days a month" : "real clock");
    if (strcmp(s->w.province, "65") == 0)
        bprintf(b, rc,
                "For comparison, Phitsanulok 2021: 13,831 target households, all "
                "visited; 4,533 given assistance.</p>\n<p>");
    for (int i = 0; i < NSTATE; i++)
        bprintf(b, rc, "<span class=sim-k style=\"background:%s\"></span> %s &nbsp; ",
                state_colour[i], state_names[i]);
    bprintf(b, rc, "</p>\n<table><tr><th>month</th><th>date</th><th>cases by state</th>");
    for (int i = 0; i < NSTATE; i++)
        bprintf(b, rc, "<th>%s</th>", state_names[i]);
    bprintf(b, rc,
            "<th>ever visited</th><th>ever assisted</th><th>escalations fired</th>"
            "<th>overdue</th><th>unacked</th><th>acked</th></tr>\n");
    for (int m = 0; m < s->nmon; m++) {
        const month_t *mm = &s->mon[m];
        char date[16];
        date_of(mm->now, date);
        bprintf(b, rc, "<tr><td>%d</td><td>%s</td><td>", m + 1, date);
        html_bar(b, mm, rc);
        bprintf(b, rc, "</td>");
        for (int i = 0; i < NSTATE; i++)
            bprintf(b, rc, "<td>%s</td>", num(mm->by_state[i]));
        bprintf(b, rc, "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                num(mm->totals.visited), num(mm->totals.assisted),
                mm->fired >= 0 ? num(mm->fired) : "-", num(mm->totals.overdue),
                num(mm->totals.unacked), num(mm->acked));
    }
    bprintf(b, rc,
            "</table>\n<h2>Actions</h2>\n<table><tr><th>action</th><th>done</th>"
            "<th>refused</th></tr>\n");
    for (int a = 0; a <= NACT; a++)
        bprintf(b, rc, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n", act_names[a],
                num((int64_t)s->ok[a]), num((int64_t)s->refused[a]));
    bprintf(b, rc, "</table>\n<p>%s requests in %.1f s.</p>\n</section>\n",
            num((int64_t)s->requests), s->wall_s);
}

/*
 * The committee report of the province by district (the client library's
 * renderer, dated by the daemon's clock) with the simulation's section before
 * its end, written with lb_file_replace.
 */
int write_html(const sim_t *s, const char *path)
{
    lbc_report_t *r = NULL;
    lb_buf_t page, tail;
    lb_buf_init(&page);
    lb_buf_init(&tail);
    int rc = lbc_report_parse(lbc_reply_result(s->final), s->w.province, "district", &r);
    if (rc == 0) {
        r->generated_ms = s->now;
        rc = lbc_report_render(r, LBC_REPORT_HTML, 0, &page);
    }
    /* the rendered page ends "</body>\n</html>\n": the section goes in before it */
    const char *end = rc == 0 ? memmem(page.p, page.len, "</body>", 7) : NULL;
    if (rc == 0 && !end)
        rc = LB_EINTERNAL;
    if (rc == 0) {
        size_t at = (size_t)(end - (const char *)page.p);
        lb_rc(&rc, lb_buf_append(&tail, end, page.len - at));
        page.len = at;
        html_sim_section(s, &page, &rc);
        lb_rc(&rc, lb_buf_append(&page, tail.p, tail.len));
    }
    char err[300] = "";
    if (rc == 0)
        rc = lb_file_replace(path, page.p, page.len, 0644, err, sizeof err);
    if (rc)
        fprintf(stderr, "logbook-sim: %s: %s\n", path, err[0] ? err : lb_strerror(rc));
    lbc_report_destroy(&r);
    lb_buf_free(&page);
    lb_buf_free(&tail);
    return rc;
}
