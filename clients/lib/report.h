/*
 * report.h - the committee report: report.summary for an area, one row per
 * child area (province, district, subdistrict or village), rendered as an
 * aligned text table, CSV or one self-contained HTML page. The command
 * line that `logbook report` and `logbook-report` share is
 * clients/logbook-report/cli.h.
 */
#ifndef LBC_REPORT_H
#define LBC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../proto/lb.h"
#include "client.h"

#define LBC_REPORT_KEY_MAX 16

/*
 * The dimensions and progress levels are proto/lb.h's vocabularies, listed
 * once there; these names remain for code written against this header.
 * lb_dimensions' order is the CSV column order.
 */
#define LBC_REPORT_NDIM LB_NDIM
#define LBC_REPORT_NLEVEL LB_NPROGRESS
#define lbc_report_dimensions lb_dimensions
#define lbc_report_levels lb_progress_levels

/* One row of report.summary (PROTOCOL.md section 3), counters only. */
typedef struct {
    char key[LBC_REPORT_KEY_MAX]; /* the area code; the totals row holds the area asked for */
    int64_t cases, open, visited, assisted, resolved, closed, overdue, unacked;
    int64_t needs[LBC_REPORT_NDIM];    /* open needs, in lb_dimensions order */
    int64_t levels[LBC_REPORT_NLEVEL]; /* cases at each level, in lb_progress_levels order */
} lbc_report_row_t;

typedef struct {
    char area[LBC_REPORT_KEY_MAX]; /* the area asked for; "" = the client's whole scope */
    char by[LBC_REPORT_KEY_MAX];   /* province, district, subdistrict or village */
    uint64_t last_seq;             /* the counts include every event up to this seq; 0 = unknown */
    int64_t generated_ms;          /* when it was fetched: unix ms ($SOURCE_DATE_EPOCH when set) */
    lbc_report_row_t totals;
    lbc_report_row_t *rows; /* nrows rows sorted by key, owned */
    size_t nrows;
    lb_val_t *result; /* the daemon's result as received (for JSON output), owned */
} lbc_report_t;

typedef enum {
    LBC_REPORT_TEXT = 0,
    LBC_REPORT_CSV,
    LBC_REPORT_HTML,
    LBC_REPORT_JSON /* the daemon's result as JSON */
} lbc_report_format_t;

/*
 * The grouping for area: `by` as given, or by default the level below the
 * area (none -> province, 2 digits -> district, 4 -> subdistrict, 6 and
 * 8 -> village). *out points to static storage.
 * Returns 0; LB_EBADREQ with err when area is not a 2/4/6/8-digit code, by
 * is not one of the four area levels, or by is coarser than the area.
 */
int lbc_report_resolve_by(const char *area, const char *by, const char **out, char *err,
                          size_t errlen);

/*
 * One row (or the totals) of a report.summary result into *row: key and
 * counters; a missing or negative counter counts 0, m NULL gives a zero row.
 */
void lbc_report_row_parse(const lb_val_t *m, lbc_report_row_t *row);

/*
 * Builds a report from a report.summary result. area: NULL or ""; by: the
 * grouping asked for (copied). Unknown keys are ignored, missing counters
 * count 0. *out is owned by the caller (lbc_report_destroy); result is
 * copied. last_seq and generated_ms are left 0.
 * Returns 0; LB_EBADREQ when result is not a map with a rows array; LB_ENOMEM.
 */
int lbc_report_parse(const lb_val_t *result, const char *area, const char *by, lbc_report_t **out);

/*
 * Asks the daemon: ping (for last_seq, asked first so that the counts include
 * at least that much), then report.summary {area?, by}. by NULL = the
 * default of lbc_report_resolve_by. Sets generated_ms from the clock, or
 * from $SOURCE_DATE_EPOCH (seconds) when set, so that two runs over the same
 * data can print byte-identical pages. *out owned by the caller.
 * Returns 0; LB_EBADREQ (bad area/by, err says why); LB_EUNAVAIL (no reply);
 * an error reply's LB_E*, e.g. LB_EFORBIDDEN for an area outside the key's
 * scope (err = "code: message"); LB_EIO; LB_ENOMEM.
 */
int lbc_report_fetch(lbc_t *c, const char *area, const char *by, lbc_report_t **out, char *err,
                     size_t errlen);

/* Frees the report, sets *r NULL. Safe on NULL. */
void lbc_report_destroy(lbc_report_t **r);

/* "text", "csv", "html" or "json" into *f: 0, or LB_EBADREQ. */
int lbc_report_format_parse(const char *s, lbc_report_format_t *f);

/*
 * Appends the rendered report to out.
 *   TEXT: a title, then two aligned tables (progress with percentages of
 *         the cases; open needs per dimension and level reached), Thai names
 *         measured with lbc_display_width.
 *   CSV:  a header row, then one row per area, LF line ends, no totals row:
 *         key,cases,open,visited,assisted,resolved,closed,overdue,
 *         needs_health,needs_living,needs_education,needs_income,
 *         needs_accessibility,unacked,level_survive,level_sufficient,
 *         level_sustainable
 *   HTML: one page with inline CSS (A4 print styles) and inline SVG bar
 *         charts, Thai labels beside English, all text escaped, no external
 *         resources and no script. refresh_s > 0 adds a meta refresh (--watch).
 *   JSON: r->result, indented.
 * Returns 0; LB_EBADREQ (unknown format, r NULL); LB_ENOMEM.
 */
int lbc_report_render(const lbc_report_t *r, lbc_report_format_t f, int refresh_s, lb_buf_t *out);

/*
 * The English or Thai name of a 2-digit province code ("65" -> "Phitsanulok"
 * / "พิษณุโลก"), or NULL for another code. Static storage.
 */
const char *lbc_report_province_name(const char *code, bool thai);

#endif
