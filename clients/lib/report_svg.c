/*
 * report_svg.c - the HTML report's sections that answer "where do we act?":
 * overdue and unacknowledged per area as SVG bars ranked worst first, the
 * cases to act on, and the monthly trend as SVG line charts (the totals,
 * then one small chart per area). Every section says so plainly when it
 * has nothing to show, instead of drawing empty axes.
 */
#include "report_int.h"

#define SVG_W 700
#define RANK_CHUNK 24 /* areas per ranking chart (fits a printed page) */
#define SMALL_MAX 30  /* small trend charts drawn; the rest are in the tables */

static const char *const act_colours[2] = {"#e15759", "#f28e2b"};
static const char *const trend_colours[LBC_REPORT_NTREND] = {"#4e79a7", "#76b7b2", "#f28e2b",
                                                             "#59a14f", "#9c755f", "#e15759"};
static const char *const trend_th[LBC_REPORT_NTREND] = {"เปิดกรณี",  "เยี่ยม",  "ช่วยเหลือ",
                                                        "แก้ไขแล้ว", "ปิดกรณี", "แจ้งเตือน"};
static const char *const trend_en[LBC_REPORT_NTREND] = {"Opened",   "Visited", "Assisted",
                                                        "Resolved", "Closed",  "Escalated"};

static void empty(out_t *o, const char *th, const char *en)
{
    put(o, "<p class=\"empty\">");
    put_esc(o, th);
    put(o, " / ");
    put_esc(o, en);
    put(o, "</p>\n");
}

static void legend(out_t *o, const char *const *th, const char *const *en,
                   const char *const *colours, int n)
{
    put(o, "<div class=\"legend\">");
    for (int i = 0; i < n; i++) {
        putf(o,
             "<span class=\"k\"><svg viewBox=\"0 0 10 10\" aria-hidden=\"true\"><rect "
             "width=\"10\" height=\"10\" fill=\"%s\"/></svg>",
             colours[i]);
        put_esc(o, th[i]);
        put(o, " / ");
        put_esc(o, en[i]);
        put(o, "</span>");
    }
    put(o, "</div>\n");
}

/* A scale top of 1, 2 or 5 times a power of ten, at least max (and 1). */
static int64_t nice_top(int64_t max)
{
    for (int64_t p = 1;; p *= 10) {
        if (max <= p)
            return p;
        if (max <= 2 * p)
            return 2 * p;
        if (max <= 5 * p)
            return 5 * p;
    }
}

/* Overdue and unacknowledged, two bars per area, for the areas given (ranked already). */
static void chart_rank(const lbc_report_t *r, out_t *o, const lbc_report_row_t *rows, size_t n,
                       int64_t top)
{
    enum { LW = 200, X0 = 208, PW = 420, BH = 9, GAP = 2, GG = 8, TOP = 4, AX = 16 };
    const int gh = 2 * BH + GAP, h = TOP + (int)n * (gh + GG) + AX;
    putf(o,
         "<figure><svg class=\"rank\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Overdue "
         "cases and unacknowledged escalations per area, worst first\">\n",
         SVG_W, h);
    for (int k = 0; k <= 4; k++) {
        char num[32];
        double x = X0 + PW * k / 4.0;
        putf(o, "<line class=\"g\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, TOP, x,
             h - AX);
        putf(o, "<text class=\"ax\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x,
             h - AX + 11, fmt_count(top * k / 4, num));
    }
    for (size_t i = 0; i < n; i++) {
        const lbc_report_row_t *w = &rows[i];
        const int64_t v[2] = {w->overdue, w->unacked};
        int y = TOP + (int)i * (gh + GG) + GG / 2;
        putf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LW, y + gh / 2 + 4);
        lbc_report_html_area(r, w, false, o);
        put(o, "</text>\n");
        for (int k = 0; k < 2; k++) {
            char num[32];
            double bw = (double)PW * (double)v[k] / (double)top;
            int by = y + k * (BH + GAP);
            putf(o,
                 "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" "
                 "data-key=\"%s\" data-v=\"%" PRId64 "\"/>",
                 X0, by, bw, BH, act_colours[k], k ? "unacked" : "overdue", v[k]);
            putf(o, "<text class=\"v\" x=\"%.1f\" y=\"%d\">%s</text>\n", X0 + bw + 4, by + BH,
                 fmt_count(v[k], num));
        }
    }
    put(o, "</svg></figure>\n");
}

static void act_cases(const lbc_report_t *r, out_t *o)
{
    char num[32];
    putf(o,
         "<h2>กรณีที่ต้องดำเนินการ <span class=\"en\">/ Cases to act on, oldest first "
         "(%s%s)</span></h2>\n",
         fmt_count((int64_t)r->act_total, num), r->act_total >= LBC_REPORT_ACT_MAX ? "+" : "");
    if (r->nact == 0) {
        empty(o, "ไม่มีกรณีเกินกำหนดหรือรอรับทราบ", "No case is overdue or waiting for acknowledgement");
        return;
    }
    put(o, "<table class=\"act\">\n<thead><tr><th>กรณี<span class=\"en\">Case</span></th>"
           "<th>พื้นที่<span class=\"en\">Area</span></th><th>สถานะ<span class=\"en\">State"
           "</span></th><th>ทีม<span class=\"en\">Team</span></th><th>วัน<span class=\"en\">"
           "Days in state</span></th><th>ระดับแจ้งเตือน<span class=\"en\">Escalation</span>"
           "</th><th>เกินกำหนด<span class=\"en\">Overdue</span></th><th>ยังไม่รับทราบ<span "
           "class=\"en\">Unacked</span></th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->nact && i < LBC_REPORT_ACT_SHOWN; i++) {
        const lbc_report_case_t *k = &r->act[i];
        int64_t days = (r->generated_ms - k->entered_at) / 86400000;
        put(o, "<tr data-case=\"");
        put_esc(o, k->case_id);
        put(o, "\"><td>");
        put_esc(o, k->case_id);
        put(o, "</td><td>");
        put_esc(o, k->area);
        put(o, "</td><td>");
        put_esc(o, k->state);
        put(o, "</td><td>");
        put_esc(o, k->team[0] ? k->team : "–");
        putf(o, "</td><td>%s</td><td>", fmt_count(days < 0 ? 0 : days, num));
        put_esc(o, k->escalation[0] ? k->escalation : "–");
        putf(o, "</td><td>%s</td><td>%s</td></tr>\n", k->overdue ? "✔" : "", k->unacked ? "✔" : "");
    }
    put(o, "</tbody>\n</table>\n");
    if (r->nact > LBC_REPORT_ACT_SHOWN)
        putf(o,
             "<p class=\"more\">และอีก %s กรณี / and %s more (logbook report --format csv "
             "--table cases lists them all)</p>\n",
             fmt_count((int64_t)(r->nact - LBC_REPORT_ACT_SHOWN), num), num);
}

void lbc_report_html_act(const lbc_report_t *r, out_t *o)
{
    static const char *const th[2] = {"เกินกำหนด", "แจ้งเตือนที่ยังไม่รับทราบ"};
    static const char *const en[2] = {"Overdue", "Unacknowledged escalations"};
    put(o, "<section class=\"where\">\n<h2>พื้นที่ที่ต้องเร่งดำเนินการ <span class=\"en\">/ "
           "Where to act: areas ranked by overdue cases, then unacknowledged "
           "escalations</span></h2>\n");
    size_t n = 0;
    int64_t max = 0;
    while (n < r->nrows && (r->rows[n].overdue || r->rows[n].unacked)) {
        const lbc_report_row_t *w = &r->rows[n++];
        max = w->overdue > max ? w->overdue : max;
        max = w->unacked > max ? w->unacked : max;
    }
    if (n == 0) {
        empty(o, "ยังไม่มีการแจ้งเตือน", "No escalations yet: no case is overdue or unacknowledged");
    } else {
        legend(o, th, en, act_colours, 2);
        size_t charts = (n + RANK_CHUNK - 1) / RANK_CHUNK, per = (n + charts - 1) / charts;
        for (size_t i = 0; i < n; i += per)
            chart_rank(r, o, r->rows + i, n - i < per ? n - i : per, nice_top(max));
    }
    act_cases(r, o);
    put(o, "</section>\n");
}

static int64_t trend_max(const lbc_report_t *r, const int64_t *t)
{
    int64_t max = 0;
    for (size_t i = 0; t && i < r->nmonths * LBC_REPORT_NTREND; i++)
        max = t[i] > max ? t[i] : max;
    return max;
}

/* One line per counter over the months; w x h in viewBox units, labels when big. */
static void chart_trend(const lbc_report_t *r, out_t *o, const int64_t *t, int w, int h, bool big)
{
    const int x0 = big ? 40 : 6, x1 = w - (big ? 10 : 4), y0 = 6, y1 = h - (big ? 18 : 6);
    const int64_t top = nice_top(trend_max(r, t));
    const double dx = r->nmonths > 1 ? (double)(x1 - x0) / (double)(r->nmonths - 1) : 0;
    putf(o,
         "<svg class=\"trend\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Cases opened, "
         "visited, assisted, resolved, closed and escalated per month\">\n",
         w, h);
    for (int k = 0; big && k <= 4; k++) {
        char num[32];
        double y = y1 - (double)(y1 - y0) * k / 4.0;
        putf(o, "<line class=\"g\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", x0, y, x1, y);
        putf(o, "<text class=\"ax\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", x0 - 4,
             y + 3, fmt_count(top * k / 4, num));
    }
    for (size_t m = 0; big && m < r->nmonths; m++)
        putf(o, "<text class=\"ax\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
             x0 + dx * (double)m, h - 4, r->months[m] + 2);
    if (!big)
        putf(o, "<line class=\"g\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", x0, y1, x1, y1);
    for (int j = 0; j < LBC_REPORT_NTREND; j++) {
        putf(o,
             "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" data-key=\"%s\" "
             "points=\"",
             trend_colours[j], big ? "2" : "1.5", lbc_report_trend_names[j]);
        for (size_t m = 0; m < r->nmonths; m++) {
            double y = y1 - (double)(y1 - y0) * (double)t[m * LBC_REPORT_NTREND + j] / (double)top;
            putf(o, "%s%.1f,%.1f", m ? " " : "", x0 + dx * (double)m, y);
        }
        put(o, "\"/>\n");
    }
    put(o, "</svg>");
}

static void trend_table(const lbc_report_t *r, out_t *o)
{
    put(o, "<table class=\"trend\">\n<thead><tr><th>เดือน<span class=\"en\">Month</span></th>");
    for (int j = 0; j < LBC_REPORT_NTREND; j++) {
        put(o, "<th>");
        put_esc(o, trend_th[j]);
        put(o, "<span class=\"en\">");
        put_esc(o, trend_en[j]);
        put(o, "</span></th>");
    }
    put(o, "</tr></thead>\n<tbody>\n");
    for (size_t m = 0; m < r->nmonths; m++) {
        putf(o, "<tr data-month=\"%s\"><td>%s</td>", r->months[m], r->months[m]);
        for (int j = 0; j < LBC_REPORT_NTREND; j++) {
            char num[32];
            putf(o, "<td data-col=\"%s\">%s</td>", lbc_report_trend_names[j],
                 fmt_count(r->totals.trend[m * LBC_REPORT_NTREND + j], num));
        }
        put(o, "</tr>\n");
    }
    put(o, "</tbody>\n</table>\n");
}

void lbc_report_html_trend(const lbc_report_t *r, out_t *o)
{
    if (r->nmonths == 0 || !r->totals.trend)
        return;
    putf(o,
         "<section class=\"trend\">\n<h2>แนวโน้มรายเดือน <span class=\"en\">/ Month by month, "
         "%s to %s</span></h2>\n",
         r->months[0], r->months[r->nmonths - 1]);
    if (trend_max(r, r->totals.trend) == 0) {
        empty(o, "ยังไม่มีความเคลื่อนไหวในช่วงนี้", "No activity in these months yet");
        put(o, "</section>\n");
        return;
    }
    legend(o, trend_th, trend_en, trend_colours, LBC_REPORT_NTREND);
    put(o, "<figure>");
    chart_trend(r, o, r->totals.trend, SVG_W, 200, true);
    put(o, "</figure>\n");
    trend_table(r, o);
    size_t drawn = 0;
    put(o, "<div class=\"small\">\n");
    for (size_t i = 0; i < r->nrows && drawn < SMALL_MAX; i++) {
        if (trend_max(r, r->rows[i].trend) == 0)
            continue;
        put(o, "<figure><figcaption>");
        lbc_report_html_area(r, &r->rows[i], true, o);
        put(o, "</figcaption>");
        chart_trend(r, o, r->rows[i].trend, 220, 70, false);
        put(o, "</figure>\n");
        drawn++;
    }
    put(o, "</div>\n");
    if (drawn == SMALL_MAX && r->nrows > SMALL_MAX)
        put(o, "<p class=\"more\">แสดงเฉพาะ 30 พื้นที่แรก / The first 30 areas, worst first; "
               "--format csv --table trend has every area.</p>\n");
    put(o, "</section>\n");
}
