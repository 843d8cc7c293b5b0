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
#define LBC_REPORT_NAME_MAX 128    /* an area's name, UTF-8 */
#define LBC_REPORT_MONTHS_MAX 36   /* report.summary's months */
#define LBC_REPORT_MONTHS 12       /* the trend asked for by default */
#define LBC_REPORT_NTREND 6        /* opened visited assisted resolved closed escalated */
#define LBC_REPORT_ACT_MAX 10000   /* cases to act on fetched at most (the rest are counted) */
#define LBC_REPORT_ACT_SHOWN 50    /* ... and shown in text and HTML */
#define LBC_REPORT_LEDGER_SHOWN 15 /* agencies shown in the agency ledger (the rest summed) */

/* A trend entry's counters, in this order (PROTOCOL.md section 3, report.summary months). */
extern const char *const lbc_report_trend_names[LBC_REPORT_NTREND];

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
    char name[LBC_REPORT_NAME_MAX];    /* area_name (Thai) when the row carries it, else "" */
    char name_en[LBC_REPORT_NAME_MAX]; /* area_name_en, else "" */
    /* nmonths x LBC_REPORT_NTREND counters, oldest month first; NULL without a trend.
     * Points into the report's own block (lbc_report_parse), never freed alone. */
    const int64_t *trend;
} lbc_report_row_t;

/* A case to act on: overdue or with an unacknowledged escalation (a case.list summary). */
typedef struct {
    char case_id[LB_CASE_ID_MAX];
    char area[LBC_REPORT_KEY_MAX];
    char state[64];
    char team[64];
    char escalation[32]; /* the level of the newest escalation, or "" */
    int64_t entered_at;  /* entered its current state, unix ms */
    bool overdue, unacked;
} lbc_report_case_t;

/* An agency's pledges against its deliveries (a report.ledger row, PROTOCOL.md 9.19). */
typedef struct {
    char *key; /* the agency as recorded (owned; NULL in the totals row) */
    int64_t pledged, delivered, open;
    double pledged_thb, delivered_thb, open_thb;
} lbc_report_ledger_row_t;

typedef struct {
    char area[LBC_REPORT_KEY_MAX]; /* the area asked for; "" = the client's whole scope */
    char by[LBC_REPORT_KEY_MAX];   /* province, district, subdistrict or village */
    uint64_t last_seq;             /* the counts include every event up to this seq; 0 = unknown */
    /* When it was fetched, unix ms: the daemon's clock (ping's now), $SOURCE_DATE_EPOCH when
     * set, or this machine's clock for a daemon without now. */
    int64_t generated_ms;
    lbc_report_row_t totals;
    /* nrows rows ranked worst first: overdue desc, then unacked desc, then key. Owned. */
    lbc_report_row_t *rows;
    size_t nrows;
    size_t nmonths;                        /* trend months, 0 when none */
    char months[LBC_REPORT_MONTHS_MAX][8]; /* "YYYY-MM", oldest first */
    int64_t *trend_block;                  /* every row's trend, owned */
    lbc_report_case_t *act;                /* cases to act on, oldest first, owned */
    size_t nact;                           /* how many act holds */
    size_t act_total;                      /* how many there are (>= nact) */
    /* Folder output (-o DIR/): rows whose key has a page of its own get a link to KEY.html,
     * and the page links up to up_href when set. Not owned; NULL = no links. */
    bool (*has_page)(const char *key, void *ctx);
    void *has_page_ctx;
    const char *up_href;
    lb_val_t *result; /* the daemon's result as received, plus act_on (for JSON), owned */
    /* The agency ledger (report.ledger by agency): has_ledger false when the daemon has no
     * such op (the section is left out). Rows most open pledges first, owned. */
    bool has_ledger;
    lbc_report_ledger_row_t ledger_totals;
    lbc_report_ledger_row_t *ledger;
    size_t nledger;
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
 * Asks the daemon: ping (for last_seq and its clock, asked first so that the
 * counts include at least that much), then report.summary {area?, by,
 * months: LBC_REPORT_MONTHS}, then the cases to act on (case.list
 * {overdue: true} and {unacked: true}, paged, at most LBC_REPORT_ACT_MAX),
 * then the agency ledger (lbc_report_fetch_ledger).
 * by NULL = the default of lbc_report_resolve_by. Sets generated_ms from the
 * daemon's clock, or from $SOURCE_DATE_EPOCH (seconds) when set, so that two
 * runs over the same data can print byte-identical pages. The JSON result
 * gets `act_on: {total, cases: [summary...]}` and `generated_ms`. *out owned
 * by the caller.
 * Returns 0; LB_EBADREQ (bad area/by, err says why); LB_EUNAVAIL (no reply);
 * an error reply's LB_E*, e.g. LB_EFORBIDDEN for an area outside the key's
 * scope (err = "code: message"); LB_EIO; LB_ENOMEM.
 */
int lbc_report_fetch(lbc_t *c, const char *area, const char *by, lbc_report_t **out, char *err,
                     size_t errlen);

/*
 * Adds the cases to act on to r: pages through case.list {area?, overdue:
 * true} and {area?, unacked: true}, keeps each case once, orders them
 * oldest first (entered_at, then case id) and counts them. Called by
 * lbc_report_fetch. Returns 0; the call's error (err says why); LB_ENOMEM.
 */
int lbc_report_fetch_act(lbc_t *c, lbc_report_t *r, char *err, size_t errlen);

/*
 * Adds the agency ledger to r: report.ledger {area?, by: agency}. A daemon
 * that answers unknown_op (one before PROTOCOL.md 9.19) leaves has_ledger
 * false and is no error. Called by lbc_report_fetch. Returns 0; the call's
 * error (err says why); LB_ENOMEM.
 */
int lbc_report_fetch_ledger(lbc_t *c, lbc_report_t *r, char *err, size_t errlen);

/*
 * Sets r's agency ledger from a report.ledger result (rows and totals):
 * has_ledger true, rows ordered most open pledges first, then most pledged
 * baht, then key. Returns 0; LB_EBADREQ (no rows array); LB_ENOMEM.
 */
int lbc_report_ledger_parse(lbc_report_t *r, const lb_val_t *result);

/* Sorts r->act oldest first and r->rows worst first (the orders above). */
void lbc_report_rank(lbc_report_t *r);

/* Frees the report, sets *r NULL. Safe on NULL. */
void lbc_report_destroy(lbc_report_t **r);

/* "text", "csv", "html" or "json" into *f: 0, or LB_EBADREQ. */
int lbc_report_format_parse(const char *s, lbc_report_format_t *f);

/* Which table a CSV holds: the areas (default), the monthly trend, or the cases to act on. */
typedef enum {
    LBC_REPORT_TABLE_AREAS = 0,
    LBC_REPORT_TABLE_TREND,
    LBC_REPORT_TABLE_CASES
} lbc_report_table_t;

/* "areas", "trend" or "cases" into *t: 0, or LB_EBADREQ. */
int lbc_report_table_parse(const char *s, lbc_report_table_t *t);

/*
 * CSV of one table (lbc_report_render's CSV is the areas):
 *   areas: as lbc_report_render describes, rows ranked worst first, then
 *          area_name,area_name_en at the end of each line
 *   trend: key,month,opened,visited,assisted,resolved,closed,escalated: the
 *          totals first (key = the area asked for, "" for the whole scope),
 *          then each row
 *   cases: case_id,area,state,team,escalation,entered_at,age_days,overdue,
 *          unacked: every fetched case to act on, oldest first
 * Returns 0; LB_EBADREQ (r or out NULL, unknown table); LB_ENOMEM.
 */
int lbc_report_render_csv(const lbc_report_t *r, lbc_report_table_t t, lb_buf_t *out);

/*
 * Appends the rendered report to out.
 *   TEXT: a title, then aligned tables: where to act (areas ranked by
 *         overdue and unacknowledged), the cases to act on (the first
 *         LBC_REPORT_ACT_SHOWN and a count of the rest), the monthly trend
 *         of the totals and of each area, progress with percentages of the
 *         cases, open needs per dimension and level reached, and the agency
 *         ledger when has_ledger (pledged against delivered per agency, the
 *         open pledges; an empty state when none); Thai names measured with
 *         lbc_display_width.
 *   CSV:  a header row, then one row per area, LF line ends, no totals row:
 *         key,cases,open,visited,assisted,resolved,closed,overdue,
 *         needs_health,needs_living,needs_education,needs_income,
 *         needs_accessibility,unacked,level_survive,level_sufficient,
 *         level_sustainable
 *   HTML: one page with inline CSS (A4 print styles) and inline SVG charts:
 *         overdue and unacknowledged per area ranked worst first, the cases
 *         to act on, the monthly trend (a line chart of the totals and one
 *         small chart per area), then progress and needs, and the agency
 *         ledger when has_ledger; Thai labels beside
 *         English, area names beside codes when rows carry them, honest
 *         empty states, all text escaped, no external resources and no
 *         script. refresh_s > 0 adds a meta refresh (--watch). With
 *         has_page set, areas link to their own pages (KEY.html).
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
