/*
 * report_int.h - what the report's files share and nothing outside them may
 * use: the output buffer with its sticky status, number formats, the area
 * levels, and each renderer's entry point (lbc_report_render dispatches).
 */
#ifndef LBC_REPORT_INT_H
#define LBC_REPORT_INT_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* "province", "district", "subdistrict", "village": area codes of 2, 4, 6 and 8 digits. */
extern const char *const lbc_report_area_levels[4];

/* The index of by in lbc_report_area_levels, or -1. */
int lbc_report_area_index(const char *by);

/* An output buffer with a sticky status, so renderers check once at the end. */
typedef struct {
    lb_buf_t *b;
    int rc;
} out_t;

static inline void put(out_t *o, const char *s)
{
    if (!o->rc && lb_buf_append(o->b, s, strlen(s)))
        o->rc = LB_ENOMEM;
}

static inline void putf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void putf(out_t *o, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    if (o->rc)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->rc = LB_EINTERNAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        put(o, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        o->rc = LB_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    put(o, big);
    free(big);
}

/* Text for HTML element content and attribute values alike. */
static inline void put_esc(out_t *o, const char *s)
{
    for (const char *p = s; p && *p; p++) {
        switch (*p) {
        case '&':
            put(o, "&amp;");
            break;
        case '<':
            put(o, "&lt;");
            break;
        case '>':
            put(o, "&gt;");
            break;
        case '"':
            put(o, "&quot;");
            break;
        case '\'':
            put(o, "&#39;");
            break;
        default:
            if (!o->rc && lb_buf_append(o->b, p, 1))
                o->rc = LB_ENOMEM;
        }
    }
}

/* 13831 -> "13,831". */
static inline const char *fmt_count(int64_t v, char buf[32])
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRId64, v < 0 ? -v : v);
    size_t k = 0;
    if (v < 0)
        buf[k++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

/*
 * n of d as a whole percentage. Never "100%" while one is missing and never
 * "0%" once one counts: a committee reads those two as "done" and "nothing".
 */
static inline const char *fmt_pct(int64_t n, int64_t d, char buf[8])
{
    if (d <= 0) {
        snprintf(buf, 8, "-");
        return buf;
    }
    int64_t p = (200 * n + d) / (2 * d);
    if (p >= 100 && n < d)
        snprintf(buf, 8, ">99%%");
    else if (p == 0 && n > 0)
        snprintf(buf, 8, "<1%%");
    else
        snprintf(buf, 8, "%d%%", (int)p);
    return buf;
}

static inline int key_level(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n >= 2 && n <= 8 && n % 2 == 0 ? (int)n / 2 - 1 : -1;
}

/* The renderers (report_text.c, report_html.c); each leaves its error in o->rc. */
void lbc_report_put_text(const lbc_report_t *r, out_t *o);
void lbc_report_put_csv(const lbc_report_t *r, out_t *o);
void lbc_report_put_html(const lbc_report_t *r, int refresh_s, out_t *o);
/* The text report's sections on where to act and the monthly trend (report_text.c). */
void lbc_report_text_act(const lbc_report_t *r, out_t *o);
void lbc_report_text_trend(const lbc_report_t *r, out_t *o);
void lbc_report_text_ledger(const lbc_report_t *r, out_t *o);
/* CSV of the trend and of the cases to act on (lbc_report_render_csv). */
void lbc_report_put_csv_trend(const lbc_report_t *r, out_t *o);
void lbc_report_put_csv_cases(const lbc_report_t *r, out_t *o);
/* The HTML sections on where to act and the trend (report_svg.c). */
void lbc_report_html_act(const lbc_report_t *r, out_t *o);
void lbc_report_html_trend(const lbc_report_t *r, out_t *o);
void lbc_report_html_ledger(const lbc_report_t *r, out_t *o);
/* An area's label, linked to its page when it has one: code, then names. */
void lbc_report_html_area(const lbc_report_t *r, const lbc_report_row_t *w, bool link, out_t *o);

#endif
