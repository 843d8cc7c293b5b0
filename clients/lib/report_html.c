/*
 * report_html.c - the report as one self-contained HTML page: inline CSS
 * for screen and A4 print, inline SVG bar charts, Thai labels beside
 * English, no script and nothing loaded from elsewhere.
 */
#include <math.h>

#include "report_int.h"

static const char *const area_levels_th[4] = {"จังหวัด", "อำเภอ", "ตำบล", "หมู่บ้าน"};
static const char *const dim_en[LB_NDIM] = {"Health", "Living", "Education", "Income",
                                            "Accessibility"};
/* The dimension names of config/indicators.yaml's section comments. */
static const char *const dim_th[LB_NDIM] = {"สุขภาพ", "ความเป็นอยู่", "การศึกษา", "รายได้",
                                            "การเข้าถึงบริการรัฐ"};
static const char *const level_en[LB_NPROGRESS] = {"Survive", "Sufficient", "Sustainable"};
static const char *const level_th[LB_NPROGRESS] = {"อยู่รอด", "อยู่พอเพียง", "อยู่อย่างยั่งยืน"};

static const char *const prog_th[3] = {"เยี่ยมแล้ว", "ได้รับความช่วยเหลือ", "แก้ไขแล้ว"};
static const char *const prog_en[3] = {"Visited", "Assisted", "Resolved"};

/* Colours that stay apart in print and for the common colour-vision deficiencies. */
static const char *const progress_colours[3] = {"#4e79a7", "#f28e2b", "#59a14f"};
static const char *const dim_colours[LB_NDIM] = {"#e15759", "#76b7b2", "#edc948", "#b07aa1",
                                                 "#9c755f"};
static const char *const level_colours[LB_NPROGRESS] = {"#f1ce63", "#8cd17d", "#499894"};

static double pct_of(int64_t n, int64_t d)
{
    if (d <= 0 || n <= 0)
        return 0.0;
    return n >= d ? 100.0 : 100.0 * (double)n / (double)d;
}

/* ---------------------------------------------------------------------- */
/* HTML                                                                    */
/* ---------------------------------------------------------------------- */

/*
 * Fonts: whatever Thai face the reader's system has (Windows, macOS,
 * Debian's fonts-thai-tlwg, Noto); nothing is loaded from elsewhere.
 * Print: A4 with 12 mm margins, table headers repeated on each page, charts
 * and rows never split, colours kept.
 */
static const char html_css[] =
    "@page{size:A4;margin:12mm}\n"
    "*{box-sizing:border-box}\n"
    "html{-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
    "body{font-family:\"Noto Sans Thai\",\"Sarabun\",\"TH Sarabun New\",\"Leelawadee UI\","
    "Tahoma,\"Thonburi\",\"Loma\",\"Garuda\",\"Noto Sans\",sans-serif;font-size:10pt;"
    "line-height:1.35;color:#1a1a1a;background:#fff;max-width:186mm;margin:0 auto;"
    "padding:8mm 0}\n"
    "h1{font-size:16pt;margin:0 0 1mm}\n"
    "h1 .en{font-size:11pt;color:#555;font-weight:normal;display:block}\n"
    "h2{font-size:11.5pt;margin:6mm 0 2mm;padding-bottom:1mm;border-bottom:.4mm solid #888;"
    "break-after:avoid;page-break-after:avoid}\n"
    "h2 .en{color:#555;font-weight:normal}\n"
    ".scope{font-size:11pt;margin:1mm 0}\n"
    ".meta{color:#555;font-size:8.5pt;margin:0 0 3mm}\n"
    ".tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:2mm;margin:3mm 0}\n"
    ".tile{border:.3mm solid #bbb;border-radius:1.5mm;padding:1.5mm 2.5mm;break-inside:avoid}\n"
    ".tile .v{font-size:15pt;font-weight:bold;font-variant-numeric:tabular-nums}\n"
    ".tile .p{font-size:9pt;color:#444;margin-left:1.5mm}\n"
    ".tile .l{font-size:8pt;color:#333}\n"
    ".tile .l .en{display:block;color:#666}\n"
    /* Room above the line: Thai marks overflowing a box at a page top print on the page before. */
    ".legend{font-size:8.5pt;line-height:1.7;margin:0 0 1mm;padding-top:1mm}\n"
    ".legend span.k{margin-right:4mm;white-space:nowrap}\n"
    ".legend svg{width:3mm;height:3mm;display:inline;vertical-align:middle;margin-right:1mm}\n"
    "figure{margin:1mm 0 4mm;break-inside:avoid;page-break-inside:avoid}\n"
    "figure svg{width:100%;height:auto;display:block}\n"
    "svg text{font-size:11px;fill:#222}\n"
    "svg text.v{font-size:9.5px;fill:#333}\n"
    "svg text.ax{font-size:9px;fill:#666}\n"
    "svg line.g{stroke:#ddd;stroke-width:1}\n"
    "table{border-collapse:collapse;width:100%;font-size:8.5pt;margin:1mm 0 3mm}\n"
    "thead{display:table-header-group}\n"
    "tr{break-inside:avoid;page-break-inside:avoid}\n"
    "th,td{padding:.8mm 1.2mm;border-bottom:.2mm solid #ddd;text-align:right}\n"
    "th{background:#eef1f5;font-weight:600;vertical-align:bottom}\n"
    "th .en{display:block;font-weight:normal;color:#555;font-size:7.5pt}\n"
    "th:first-child,td:first-child{text-align:left}\n"
    "td{font-variant-numeric:tabular-nums}\n"
    "td .pc{color:#555;font-size:7.5pt;margin-left:1mm}\n"
    "th.grp{text-align:center;border-bottom:.3mm solid #999}\n"
    "tr.total td{font-weight:bold;border-top:.4mm solid #666;border-bottom:none}\n"
    ".notes{font-size:8pt;color:#444;margin-top:4mm}\n"
    ".notes p{margin:.6mm 0}\n"
    ".empty{font-size:11pt;margin:8mm 0}\n"
    "a{color:#1f4e8c;text-decoration:none}\n"
    "td .en{color:#666;font-size:7.5pt;margin-left:1mm}\n"
    ".more{font-size:8.5pt;color:#444}\n"
    ".small{display:grid;grid-template-columns:repeat(3,1fr);gap:2mm}\n"
    ".small figure{margin:0}\n"
    ".small figcaption{font-size:8pt}\n"
    "@media print{body{max-width:none;padding:0}h2{margin-top:4mm}}\n";

/* Chart geometry, in viewBox units (the page scales them to its width). */
#define SVG_W 700
/*
 * Areas per chart: a chart never splits across pages, so each must fit in
 * what is left of a page after the headings (about 120 mm at 186 mm wide).
 */
#define PROGRESS_CHUNK 12
#define NEEDS_CHUNK 24

/* Areas per chart: at most max, spread evenly (26 areas by 12: 9, 9, 8, not 12, 12, 2). */
static size_t chunk_size(size_t n, size_t max)
{
    size_t charts = n ? (n + max - 1) / max : 1;
    return (n + charts - 1) / charts;
}

/* "พิษณุโลก / Phitsanulok" style label: Thai beside English. */
static void put_bi(out_t *o, const char *th, const char *en)
{
    put_esc(o, th);
    put(o, " / ");
    put_esc(o, en);
}

/* A table header cell with the Thai label above the English one. */
static void put_th(out_t *o, const char *th, const char *en, const char *attrs)
{
    putf(o, "<th%s%s>", attrs ? " " : "", attrs ? attrs : "");
    put_esc(o, th);
    put(o, "<span class=\"en\">");
    put_esc(o, en);
    put(o, "</span></th>");
}

/* An area's label in charts and tables: the code and its Thai name; linked in tables. */
void lbc_report_html_area(const lbc_report_t *r, const lbc_report_row_t *w, bool link, out_t *o)
{
    const char *th = w->name[0] ? w->name : lbc_report_province_name(w->key, true);
    const char *en = w->name[0] ? w->name_en : NULL;
    bool a = link && r->has_page && r->has_page(w->key, r->has_page_ctx);
    if (a) {
        put(o, "<a href=\"");
        put_esc(o, w->key);
        put(o, ".html\">");
    }
    put_esc(o, w->key);
    if (th) {
        put(o, " ");
        put_esc(o, th);
    }
    if (en && en[0] && link) {
        put(o, " <span class=\"en\">");
        put_esc(o, en);
        put(o, "</span>");
    }
    if (a)
        put(o, "</a>");
}

static void put_swatch(out_t *o, const char *colour)
{
    putf(o,
         "<svg viewBox=\"0 0 10 10\" aria-hidden=\"true\"><rect width=\"10\" height=\"10\" "
         "fill=\"%s\"/></svg>",
         colour);
}

static void legend(out_t *o, const char *const *th, const char *const *en,
                   const char *const *colours, int n)
{
    put(o, "<div class=\"legend\">");
    for (int i = 0; i < n; i++) {
        put(o, "<span class=\"k\">");
        put_swatch(o, colours[i]);
        put_bi(o, th[i], en[i]);
        put(o, "</span>");
    }
    put(o, "</div>\n");
}

/* A tick step of 1, 2 or 5 times a power of ten giving at most 5 steps up to max. */
static int64_t nice_step(int64_t max)
{
    int64_t p = 1;
    for (;;) {
        if (max <= 5 * p)
            return p;
        if (max <= 10 * p)
            return 2 * p;
        if (max <= 25 * p)
            return 5 * p;
        p *= 10;
    }
}

/* Vertical grid lines with labels under the plot, for a count scale up to top. */
static void svg_grid(out_t *o, int x0, int pw, int y0, int y1, int64_t top, int64_t step,
                     bool percent)
{
    for (int64_t t = 0; t <= top; t += step) {
        double x = x0 + (double)pw * (double)t / (double)top;
        char num[32];
        putf(o, "<line class=\"g\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, y0, x, y1);
        putf(o, "<text class=\"ax\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s%s</text>\n", x,
             y1 + 11, fmt_count(t, num), percent ? "%" : "");
    }
}

/*
 * Visited, assisted and resolved as percentages of the cases, three bars per
 * area. Each chart carries its legend, so a printed page is readable alone.
 */
static void chart_progress(const lbc_report_t *r, out_t *o, const lbc_report_row_t *rows, size_t n)
{
    enum { LW = 150, X0 = 158, PW = 470, BH = 8, GAP = 2, GG = 10, TOP = 4, AX = 16 };
    const int gh = 3 * BH + 2 * GAP;
    const int h = TOP + (int)n * (gh + GG) + AX;
    put(o, "<figure>");
    legend(o, prog_th, prog_en, progress_colours, 3);
    putf(o,
         "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Visited, assisted and "
         "resolved, percent of cases, per area\">\n",
         SVG_W, h);
    svg_grid(o, X0, PW, TOP, h - AX, 100, 25, true);
    for (size_t i = 0; i < n; i++) {
        const lbc_report_row_t *w = &rows[i];
        const int64_t vals[3] = {w->visited, w->assisted, w->resolved};
        int y = TOP + (int)i * (gh + GG) + GG / 2;
        putf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LW, y + gh / 2 + 4);
        lbc_report_html_area(r, w, false, o);
        put(o, "</text>\n");
        for (int k = 0; k < 3; k++) {
            char pc[8], a[32], b[32];
            double bw = PW * pct_of(vals[k], w->cases) / 100.0;
            int by = y + k * (BH + GAP);
            putf(o, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">", X0, by, bw,
                 BH, progress_colours[k]);
            put(o, "<title>");
            put_esc(o, w->key);
            putf(o, " %s %s/%s</title></rect>", prog_en[k], fmt_count(vals[k], a),
                 fmt_count(w->cases, b));
            putf(o, "<text class=\"v\" x=\"%.1f\" y=\"%d\">%s</text>\n", X0 + bw + 4, by + BH,
                 fmt_pct(vals[k], w->cases, pc));
        }
    }
    put(o, "</svg></figure>\n");
}

/* Open needs per area, one bar stacked by dimension, with the area's total at its end. */
static void chart_needs_by_area(const lbc_report_t *r, out_t *o, const lbc_report_row_t *rows,
                                size_t n, int64_t max)
{
    enum { LW = 150, X0 = 158, PW = 470, BH = 12, GG = 7, TOP = 4, AX = 16 };
    const int64_t step = nice_step(max), top = (max + step - 1) / step * step;
    const int h = TOP + (int)n * (BH + GG) + AX;
    put(o, "<figure>");
    legend(o, dim_th, dim_en, dim_colours, LB_NDIM);
    putf(o,
         "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Open needs per "
         "dimension, per area\">\n",
         SVG_W, h);
    svg_grid(o, X0, PW, TOP, h - AX, top, step, false);
    for (size_t i = 0; i < n; i++) {
        const lbc_report_row_t *w = &rows[i];
        int y = TOP + (int)i * (BH + GG) + GG / 2;
        int64_t sum = 0;
        double x = X0;
        putf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LW, y + BH - 2);
        lbc_report_html_area(r, w, false, o);
        put(o, "</text>\n");
        for (int d = 0; d < LB_NDIM; d++) {
            char num[32];
            double bw = (double)PW * (double)w->needs[d] / (double)top;
            sum += w->needs[d];
            if (w->needs[d] == 0)
                continue;
            putf(o, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">", x, y, bw,
                 BH, dim_colours[d]);
            put(o, "<title>");
            put_esc(o, w->key);
            putf(o, " %s %s</title></rect>", dim_en[d], fmt_count(w->needs[d], num));
            x += bw;
        }
        char num[32];
        putf(o, "<text class=\"v\" x=\"%.1f\" y=\"%d\">%s</text>\n", x + 4, y + BH - 2,
             fmt_count(sum, num));
    }
    put(o, "</svg></figure>\n");
}

/* One bar per category (a dimension or a level) for the whole report. */
static void chart_bars(out_t *o, const char *aria, const char *const *th, const char *const *en,
                       const char *const *colours, const int64_t *vals, int n)
{
    enum { LW = 230, X0 = 238, PW = 400, BH = 14, GG = 8, TOP = 4, AX = 16 };
    int64_t max = 0;
    for (int i = 0; i < n; i++)
        if (vals[i] > max)
            max = vals[i];
    const int64_t step = nice_step(max > 0 ? max : 1), top = (max + step - 1) / step * step;
    const int h = TOP + n * (BH + GG) + AX;
    putf(o, "<figure><svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", SVG_W, h);
    put_esc(o, aria);
    put(o, "\">\n");
    svg_grid(o, X0, PW, TOP, h - AX, top > 0 ? top : step, step, false);
    for (int i = 0; i < n; i++) {
        char num[32];
        int y = TOP + i * (BH + GG) + GG / 2;
        double bw = top > 0 ? (double)PW * (double)vals[i] / (double)top : 0.0;
        putf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LW, y + BH - 3);
        put_bi(o, th[i], en[i]);
        put(o, "</text>");
        putf(o, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", X0, y, bw, BH,
             colours[i]);
        putf(o, "<text class=\"v\" x=\"%.1f\" y=\"%d\">%s</text>\n", X0 + bw + 4, y + BH - 3,
             fmt_count(vals[i], num));
    }
    put(o, "</svg></figure>\n");
}

static void html_scope(const lbc_report_t *r, out_t *o)
{
    int lv = key_level(r->area);
    static const char *const en[4] = {"Province", "District", "Subdistrict", "Village"};
    if (lv < 0) {
        put_bi(o, "ทุกพื้นที่ในความรับผิดชอบ", "All areas in scope");
    } else if (r->totals.name[0]) {
        put_esc(o, area_levels_th[lv]);
        put_esc(o, r->totals.name);
        put(o, " / ");
        put_esc(o, r->totals.name_en[0] ? r->totals.name_en : r->totals.name);
        put(o, " ");
        put_esc(o, en[lv]);
        put(o, " (");
        put_esc(o, r->area);
        put(o, ")");
    } else if (lv == 0 && lbc_report_province_name(r->area, false)) {
        put(o, "จังหวัด");
        put_esc(o, lbc_report_province_name(r->area, true));
        put(o, " / ");
        put_esc(o, lbc_report_province_name(r->area, false));
        put(o, " province (");
        put_esc(o, r->area);
        put(o, ")");
    } else {
        put_esc(o, area_levels_th[lv]);
        put(o, " ");
        put_esc(o, r->area);
        put(o, " / ");
        put_esc(o, en[lv]);
        put(o, " ");
        put_esc(o, r->area);
    }
    int by = lbc_report_area_index(r->by);
    if (by >= 0) {
        put(o, " — ราย");
        put_esc(o, area_levels_th[by]);
        put(o, " / by ");
        put_esc(o, r->by);
    }
}

static void tile(out_t *o, const char *th, const char *en, int64_t v, int64_t of)
{
    char num[32], pc[8];
    putf(o, "<div class=\"tile\"><div class=\"v\">%s", fmt_count(v, num));
    if (of >= 0)
        putf(o, "<span class=\"p\">%s</span>", fmt_pct(v, of, pc));
    put(o, "</div><div class=\"l\">");
    put_esc(o, th);
    put(o, "<span class=\"en\">");
    put_esc(o, en);
    put(o, "</span></div></div>\n");
}

/* A number cell, with its percentage of the cases when of >= 0. */
static void td_count(out_t *o, const char *col, int64_t v, int64_t of)
{
    char num[32], pc[8];
    putf(o, "<td data-col=\"%s\">%s", col, fmt_count(v, num));
    if (of >= 0)
        putf(o, "<span class=\"pc\">%s</span>", fmt_pct(v, of, pc));
    put(o, "</td>");
}

/* A row's opening and its first cell: the area, or the total. */
static void html_row_start(const lbc_report_t *r, out_t *o, const lbc_report_row_t *w, bool total)
{
    if (total) {
        put(o, "<tr class=\"total\" data-key=\"total\"><td>");
        put_bi(o, "รวม", "Total");
    } else {
        put(o, "<tr data-key=\"");
        put_esc(o, w->key);
        put(o, "\"><td>");
        lbc_report_html_area(r, w, true, o);
    }
    put(o, "</td>");
}

static void html_progress_row(const lbc_report_t *r, out_t *o, const lbc_report_row_t *w,
                              bool total)
{
    html_row_start(r, o, w, total);
    td_count(o, "cases", w->cases, -1);
    td_count(o, "open", w->open, -1);
    td_count(o, "visited", w->visited, w->cases);
    td_count(o, "assisted", w->assisted, w->cases);
    td_count(o, "resolved", w->resolved, w->cases);
    td_count(o, "closed", w->closed, -1);
    td_count(o, "overdue", w->overdue, -1);
    td_count(o, "unacked", w->unacked, -1);
    put(o, "</tr>\n");
}

static void html_needs_row(const lbc_report_t *r, out_t *o, const lbc_report_row_t *w, bool total)
{
    html_row_start(r, o, w, total);
    for (int i = 0; i < LB_NDIM; i++) {
        char col[32];
        snprintf(col, sizeof col, "needs_%s", lb_dimensions[i]);
        td_count(o, col, w->needs[i], -1);
    }
    for (int i = 0; i < LB_NPROGRESS; i++) {
        char col[32];
        snprintf(col, sizeof col, "level_%s", lb_progress_levels[i]);
        td_count(o, col, w->levels[i], -1);
    }
    put(o, "</tr>\n");
}

/* <head> with the styles, and the page header: title, scope, when and up to which seq. */
static void html_head(const lbc_report_t *r, int refresh_s, out_t *o)
{
    char when[32];
    lbc_format_time(r->generated_ms, when, sizeof when);
    put(o, "<!DOCTYPE html>\n<html lang=\"th\">\n<head>\n<meta charset=\"utf-8\">\n");
    put(o, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    if (refresh_s > 0)
        putf(o, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh_s);
    put(o, "<meta name=\"generator\" content=\"logbook-report\">\n");
    putf(o, "<meta name=\"logbook-last-seq\" content=\"%" PRIu64 "\">\n", r->last_seq);
    put(o, "<title>รายงานติดตามครัวเรือนเป้าหมาย / Household follow-up report");
    if (r->area[0]) {
        put(o, " ");
        put_esc(o, r->area);
    }
    put(o, "</title>\n<style>\n");
    put(o, html_css);
    put(o, "</style>\n</head>\n<body>\n<header>\n");
    put(o, "<h1>รายงานติดตามครัวเรือนเป้าหมาย<span class=\"en\">Household follow-up "
           "report (TPMAP Logbook)</span></h1>\n<p class=\"scope\">");
    html_scope(r, o);
    put(o, "</p>\n<p class=\"meta\">");
    put_bi(o, "จัดทำเมื่อ", "Generated");
    put(o, " ");
    put_esc(o, when);
    if (r->last_seq)
        putf(o, " · นับรวมเหตุการณ์ถึงลำดับที่ / Counts include events up to seq %" PRIu64, r->last_seq);
    if (refresh_s > 0)
        putf(o, " · ปรับปรุงอัตโนมัติทุก %d วินาที / Updated every %d s", refresh_s, refresh_s);
    put(o, "</p>\n");
    if (r->up_href) {
        put(o, "<p class=\"up\"><a href=\"");
        put_esc(o, r->up_href);
        put(o, "\">");
        put_bi(o, "↑ พื้นที่ระดับบน", "Up one level");
        put(o, "</a></p>\n");
    }
    put(o, "</header>\n");
}

static void html_tiles(const lbc_report_row_t *t, out_t *o)
{
    put(o, "<section class=\"tiles\">\n");
    tile(o, "ครัวเรือนเป้าหมาย", "Target households", t->cases, -1);
    tile(o, prog_th[0], prog_en[0], t->visited, t->cases);
    tile(o, prog_th[1], prog_en[1], t->assisted, t->cases);
    tile(o, prog_th[2], prog_en[2], t->resolved, t->cases);
    tile(o, "อยู่ระหว่างดำเนินการ", "Open", t->open, -1);
    tile(o, "ปิดกรณี", "Closed", t->closed, -1);
    tile(o, "เกินกำหนด", "Overdue", t->overdue, -1);
    tile(o, "แจ้งเตือนที่ยังไม่รับทราบ", "Unacknowledged escalations", t->unacked, -1);
    put(o, "</section>\n");
}

/* The chart sections: progress per area, open needs (totals, then per area), levels reached. */
static void html_charts(const lbc_report_t *r, out_t *o)
{
    put(o, "<section>\n<h2>ความคืบหน้ารายพื้นที่ <span class=\"en\">/ Progress per area, "
           "percent of target households</span></h2>\n");
    size_t per = chunk_size(r->nrows, PROGRESS_CHUNK);
    if (r->totals.visited + r->totals.assisted + r->totals.resolved == 0) {
        put(o, "<p class=\"empty\">");
        put_bi(o, "ยังไม่มีการติดตาม",
               "No follow-ups yet: no case has been visited, assisted or "
               "resolved");
        put(o, "</p>\n");
        per = r->nrows ? r->nrows : 1; /* no empty axes */
    }
    for (size_t i = 0;
         r->totals.visited + r->totals.assisted + r->totals.resolved > 0 && i < r->nrows; i += per)
        chart_progress(r, o, r->rows + i, r->nrows - i < per ? r->nrows - i : per);
    put(o, "</section>\n");

    put(o, "<section>\n<h2>ปัญหาที่ยังไม่ได้แก้ไข รายด้าน <span class=\"en\">/ Open needs per "
           "dimension</span></h2>\n");
    chart_bars(o, "Open needs per dimension", dim_th, dim_en, dim_colours, r->totals.needs,
               LB_NDIM);
    int64_t max = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        int64_t sum = 0;
        for (int d = 0; d < LB_NDIM; d++)
            sum += r->rows[i].needs[d];
        if (sum > max)
            max = sum;
    }
    per = chunk_size(r->nrows, NEEDS_CHUNK);
    for (size_t i = 0; max > 0 && i < r->nrows; i += per)
        chart_needs_by_area(r, o, r->rows + i, r->nrows - i < per ? r->nrows - i : per, max);
    put(o, "</section>\n");

    put(o, "<section>\n<h2>ระดับที่บรรลุ <span class=\"en\">/ Level reached (households per "
           "level)</span></h2>\n");
    chart_bars(o, "Households per level reached", level_th, level_en, level_colours,
               r->totals.levels, LB_NPROGRESS);
    put(o, "</section>\n");
}

static void html_progress_table(const lbc_report_t *r, out_t *o)
{
    put(o, "<section>\n<h2>ตารางความคืบหน้า <span class=\"en\">/ Progress table</span></h2>\n");
    put(o, "<table class=\"progress\">\n<thead><tr>");
    put_th(o, "พื้นที่", "Area", NULL);
    put_th(o, "ครัวเรือนเป้าหมาย", "Target households", NULL);
    put_th(o, "อยู่ระหว่างดำเนินการ", "Open", NULL);
    for (int i = 0; i < 3; i++)
        put_th(o, prog_th[i], prog_en[i], NULL);
    put_th(o, "ปิดกรณี", "Closed", NULL);
    put_th(o, "เกินกำหนด", "Overdue", NULL);
    put_th(o, "ยังไม่รับทราบ", "Unacknowledged", NULL);
    put(o, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->nrows; i++)
        html_progress_row(r, o, &r->rows[i], false);
    html_progress_row(r, o, &r->totals, true);
    put(o, "</tbody>\n</table>\n</section>\n");
}

static void html_needs_table(const lbc_report_t *r, out_t *o)
{
    put(o, "<section>\n<h2>ปัญหาที่ยังไม่ได้แก้ไขและระดับที่บรรลุ <span class=\"en\">/ Open "
           "needs and level reached</span></h2>\n");
    put(o, "<table class=\"needs\">\n<thead><tr><th></th>");
    put(o, "<th class=\"grp\" colspan=\"5\">ปัญหาที่ยังไม่ได้แก้ไข<span class=\"en\">Open "
           "needs</span></th>");
    put(o, "<th class=\"grp\" colspan=\"3\">ระดับที่บรรลุ<span class=\"en\">Level "
           "reached</span></th></tr>\n<tr>");
    put_th(o, "พื้นที่", "Area", NULL);
    for (int i = 0; i < LB_NDIM; i++)
        put_th(o, dim_th[i], dim_en[i], NULL);
    for (int i = 0; i < LB_NPROGRESS; i++)
        put_th(o, level_th[i], level_en[i], NULL);
    put(o, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->nrows; i++)
        html_needs_row(r, o, &r->rows[i], false);
    html_needs_row(r, o, &r->totals, true);
    put(o, "</tbody>\n</table>\n</section>\n");
}

static void html_ledger_row(out_t *o, const char *key, const lbc_report_ledger_row_t *w,
                            const char *cls)
{
    if (cls)
        putf(o, "<tr class=\"%s\"><td>", cls);
    else
        put(o, "<tr><td>");
    put_esc(o, key);
    put(o, "</td>");
    td_count(o, "pledged", w->pledged, -1);
    td_count(o, "pledged_thb", llround(w->pledged_thb), -1);
    td_count(o, "delivered", w->delivered, -1);
    td_count(o, "delivered_thb", llround(w->delivered_thb), -1);
    td_count(o, "open", w->open, -1);
    td_count(o, "open_thb", llround(w->open_thb), -1);
    put(o, "</tr>\n");
}

/* The agency ledger (report.ledger by agency), when the daemon has it. */
void lbc_report_html_ledger(const lbc_report_t *r, out_t *o)
{
    if (!r->has_ledger)
        return;
    const lbc_report_ledger_row_t *tot = &r->ledger_totals;
    put(o, "<section class=\"ledger\">\n<h2>บัญชีความช่วยเหลือของหน่วยงาน <span class=\"en\">/ "
           "Agency ledger</span></h2>\n");
    if (r->nledger == 0 || tot->pledged + tot->delivered == 0) {
        put(o, "<p class=\"empty\">");
        put_bi(o, "ยังไม่มีการรับปากให้ความช่วยเหลือ",
               "No pledges yet: no assistance record in this area is a pledge or a delivery");
        put(o, "</p>\n</section>\n");
        return;
    }
    put(o, "<table class=\"ledger\">\n<thead><tr>");
    put_th(o, "หน่วยงาน", "Agency", NULL);
    put_th(o, "รับปาก", "Pledged", NULL);
    put_th(o, "บาท", "Baht", NULL);
    put_th(o, "ส่งมอบแล้ว", "Delivered", NULL);
    put_th(o, "บาท", "Baht", NULL);
    put_th(o, "ยังค้าง", "Open", NULL);
    put_th(o, "บาท", "Baht", NULL);
    put(o, "</tr></thead>\n<tbody>\n");
    lbc_report_ledger_row_t rest = {0};
    for (size_t i = 0; i < r->nledger; i++) {
        const lbc_report_ledger_row_t *w = &r->ledger[i];
        if (i < LBC_REPORT_LEDGER_SHOWN) {
            html_ledger_row(o, w->key, w, w->open ? "open" : NULL);
            continue;
        }
        rest.pledged += w->pledged, rest.delivered += w->delivered, rest.open += w->open;
        rest.pledged_thb += w->pledged_thb, rest.delivered_thb += w->delivered_thb;
        rest.open_thb += w->open_thb;
    }
    if (r->nledger > LBC_REPORT_LEDGER_SHOWN) {
        char label[96];
        snprintf(label, sizeof label, "อีก %zu หน่วยงาน / %zu more agencies",
                 r->nledger - LBC_REPORT_LEDGER_SHOWN, r->nledger - LBC_REPORT_LEDGER_SHOWN);
        html_ledger_row(o, label, &rest, NULL);
    }
    put(o, "<tr class=\"total\" data-key=\"total\"><td>");
    put_bi(o, "รวม", "Total");
    put(o, "</td>");
    td_count(o, "pledged", tot->pledged, -1);
    td_count(o, "pledged_thb", llround(tot->pledged_thb), -1);
    td_count(o, "delivered", tot->delivered, -1);
    td_count(o, "delivered_thb", llround(tot->delivered_thb), -1);
    td_count(o, "open", tot->open, -1);
    td_count(o, "open_thb", llround(tot->open_thb), -1);
    put(o, "</tr>\n</tbody>\n</table>\n");
    put(o, "<p class=\"notes\">ยังค้าง / Open: pledges no delivery names yet, of cases not closed "
           "or resolved; a pledge open past the workflow's deliver_within escalates. Amounts in "
           "baht, rounded.</p>\n</section>\n");
}

/* What each column counts, so a printed page explains itself. */
static void html_notes(out_t *o)
{
    put(o, "<footer class=\"notes\">\n");
    put(o, "<p>เยี่ยมแล้ว / Visited, ได้รับความช่วยเหลือ / Assisted: cases with at least one "
           "visit or assistance record; percentages are of the target households (cases).</p>\n");
    put(o, "<p>แก้ไขแล้ว / Resolved: resolved at level sufficient or sustainable. ปิดกรณี / "
           "Closed: closed without resolution (moved, deceased, refused, duplicate, not poor)."
           "</p>\n");
    put(o, "<p>เกินกำหนด / Overdue: open cases with an escalation step fired in their current "
           "state. ยังไม่รับทราบ / Unacknowledged: open cases whose latest escalation no "
           "committee has acknowledged.</p>\n");
    put(o, "<p>ปัญหาที่ยังไม่ได้แก้ไข / Open needs: failed indicators not yet met, open cases "
           "only. ระดับที่บรรลุ / Level reached: each household's latest level (อยู่รอด → "
           "อยู่พอเพียง → อยู่อย่างยั่งยืน), resolved households included.</p>\n");
    put(o, "</footer>\n");
}

void lbc_report_put_html(const lbc_report_t *r, int refresh_s, out_t *o)
{
    html_head(r, refresh_s, o);
    if (r->nrows == 0) {
        put(o, "<p class=\"empty\">");
        put_bi(o, "ไม่มีกรณีในพื้นที่นี้", "No cases in this area");
        put(o, "</p>\n</body>\n</html>\n");
        return;
    }
    html_tiles(&r->totals, o);
    lbc_report_html_act(r, o);
    lbc_report_html_trend(r, o);
    html_charts(r, o);
    html_progress_table(r, o);
    html_needs_table(r, o);
    lbc_report_html_ledger(r, o);
    html_notes(o);
    put(o, "</body>\n</html>\n");
}
