/*
 * report/where.c - the report's answers to "where do we act?" on
 * test_report.c's fixture: areas ranked by overdue and unacknowledged, the
 * monthly trend adding up to the totals, the cases to act on in order with
 * their count, the HTML's SVG charts, drill-down pages in a folder, the
 * daemon's clock as the date, and honest empty states.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report_test.h"

/* The CSV rows of out (header skipped) into a table of at most max rows of n fields. */
typedef struct {
    char f[64][12][64];
    size_t n;
} csv_tab_t;

static int csv_tab(const char *out, csv_tab_t *t, size_t want_cols)
{
    lbc_csv_t rd;
    lbc_csv_row_t row = {0};
    char err[256];
    bool header = true;
    memset(t, 0, sizeof *t);
    lbc_csv_init(&rd, out ? out : "", out ? strlen(out) : 0);
    while (lbc_csv_next(&rd, &row, err, sizeof err) == 0) {
        if (row.n != want_cols || t->n >= 64) {
            lbc_csv_row_free(&row);
            return -1;
        }
        if (!header) {
            for (size_t c = 0; c < row.n && c < 12; c++)
                snprintf(t->f[t->n][c], sizeof t->f[t->n][c], "%s", row.fields[c]);
            t->n++;
        }
        header = false;
    }
    lbc_csv_row_free(&row);
    return 0;
}

/* Rows ordered worst first in CSV, text and HTML alike. */
static void test_ranked(void)
{
    char *out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", END), 0);
    const char *where = out ? strstr(out, "Where to act") : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(where);
    const char *r1 = strstr(where, "\n6501 "), *r3 = strstr(where, "\n6503 ");
    const char *r2 = strstr(where, "\n6502 ");
    CU_ASSERT_TRUE(r1 && r3 && r2 && r1 < r3 && r3 < r2);
    int ovd = -1, ua = -1;
    CU_ASSERT_EQUAL(sscanf(r1, " 6501 %d %d", &ovd, &ua), 2);
    CU_ASSERT_EQUAL(ovd, 1);
    CU_ASSERT_EQUAL(ua, 1);
    free(out);

    /* by province: 65 (3 overdue) before 91 (1) */
    CU_ASSERT_EQUAL(run_report(VIA_LOGBOOK, NULL, &out, "--format", "csv", END), 0);
    CU_ASSERT_TRUE(out && strstr(out, "\n65,") && strstr(out, "\n65,") < strstr(out, "\n91,"));
    free(out);

    /* HTML: the ranking chart's bars, and the progress table, in the same order */
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", "--format", "html", END), 0);
    const char *rank = out ? strstr(out, "<svg class=\"rank\"") : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(rank);
    const char *h1 = strstr(rank, ">6501"), *h3 = strstr(rank, ">6503"),
               *h2 = strstr(rank, ">6502");
    CU_ASSERT_TRUE(h1 && h3 && h2 && h1 < h3 && h3 < h2);
    const char *t1 = strstr(out, "<tr data-key=\"6501\""),
               *t2 = strstr(out, "<tr data-key=\"6502\"");
    CU_ASSERT_TRUE(t1 && t2 && t1 < t2);
    free(out);
}

/* The sum of column col (of t's rows whose key is key, or every row when key is NULL). */
static long col_sum(const csv_tab_t *t, const char *key, int col)
{
    long sum = 0;
    for (size_t i = 0; i < t->n; i++)
        if (!key || strcmp(t->f[i][0], key) == 0)
            sum += strtol(t->f[i][col], NULL, 10);
    return sum;
}

/*
 * Every area's months add up to its counters: every case of the fixture (and
 * those other tests opened) was opened, visited, ... within the twelve months.
 */
static void test_trend_sums(void)
{
    /* trend columns opened..closed and the areas CSV's cases..closed (skipping open) */
    static const int tcol[5] = {2, 3, 4, 5, 6}, acol[5] = {1, 3, 4, 5, 6};
    char *tr = NULL, *ar = NULL;
    csv_tab_t *t = calloc(1, sizeof *t), *a = calloc(1, sizeof *a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t && a);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &tr, "--area", "65", "--format", "csv", "--table",
                               "trend", END),
                    0);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &ar, "--area", "65", "--format", "csv", END), 0);
    CU_ASSERT_EQUAL(csv_tab(tr, t, 8), 0);
    CU_ASSERT_EQUAL(csv_tab(ar, a, 19), 0);
    CU_ASSERT_EQUAL(a->n, 3);
    CU_ASSERT_EQUAL(t->n, (a->n + 1) * 12); /* the totals and each district, twelve months */
    CU_ASSERT_STRING_EQUAL(t->f[0][0], "65");
    for (size_t k = 0; k < a->n; k++) {
        const char *key = a->f[k][0];
        for (int j = 0; j < 5; j++)
            CU_ASSERT_EQUAL(col_sum(t, key, tcol[j]), strtol(a->f[k][acol[j]], NULL, 10));
        /* each overdue case had at least one escalation fired */
        CU_ASSERT_TRUE(col_sum(t, key, 7) >= strtol(a->f[k][7], NULL, 10));
    }
    for (int j = 0; j < 5; j++)
        CU_ASSERT_EQUAL(col_sum(t, "65", tcol[j]), col_sum(a, NULL, acol[j]));
    CU_ASSERT_EQUAL(col_sum(t, "65", 2), col_sum(a, NULL, 1));
    /* the fixture's own figures, as test_report.c's by_district has them */
    CU_ASSERT_TRUE(col_sum(t, "65", 2) >= 12);
    CU_ASSERT_EQUAL(col_sum(t, "65", 5), 2);
    /* months run oldest first */
    CU_ASSERT_TRUE(strcmp(t->f[0][1], t->f[11][1]) < 0);
    free(tr);
    free(ar);
    free(t);
    free(a);
}

/* The cases to act on: each overdue or unacknowledged case once, oldest first, counted. */
static void test_act_on(void)
{
    char *out = NULL;
    csv_tab_t *t = calloc(1, sizeof *t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", "--format", "csv", "--table",
                               "cases", END),
                    0);
    CU_ASSERT_EQUAL(csv_tab(out, t, 9), 0);
    /* A1 (overdue, unacked), B1 (overdue, acknowledged), C1 (overdue, unacked) */
    CU_ASSERT_EQUAL(t->n, 3);
    int unacked = 0;
    for (size_t i = 0; i < t->n; i++) {
        CU_ASSERT_STRING_EQUAL(t->f[i][7], "true");
        unacked += strcmp(t->f[i][8], "true") == 0;
        CU_ASSERT_EQUAL(strncmp(t->f[i][1], "65", 2), 0);
        CU_ASSERT_STRING_EQUAL(t->f[i][2], "identified");
        CU_ASSERT_TRUE(strtol(t->f[i][6], NULL, 10) >= 0);
        if (i > 0) /* oldest first: entered_at never decreases */
            CU_ASSERT_TRUE(strtoll(t->f[i - 1][5], NULL, 10) <= strtoll(t->f[i][5], NULL, 10));
    }
    CU_ASSERT_EQUAL(unacked, 2);
    free(out);
    free(t);

    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", END), 0);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "Cases to act on, oldest first (3)") : NULL);
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_LOGBOOK, NULL, &out, "--area", "65", "--format", "html", END),
                    0);
    CU_ASSERT_EQUAL(count_of(out, "<tr data-case=\""), 3);
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", "--format", "json", END), 0);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "\"act_on\"") : NULL);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "\"total\": 3") : NULL);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "\"trend\"") : NULL);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "\"escalated\"") : NULL);
    free(out);
}

/* The HTML's charts: ranking bars, the trend's lines for the totals and per area. */
static void test_html_charts(void)
{
    char *out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", "--format", "html", END), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(count_of(out, "<svg class=\"rank\""), 1);
    CU_ASSERT_EQUAL(count_of(out, "data-key=\"overdue\""), 3);
    CU_ASSERT_EQUAL(count_of(out, "data-key=\"unacked\""), 3);
    /* one big trend chart and one small one per district, six lines each */
    CU_ASSERT_EQUAL(count_of(out, "<svg class=\"trend\""), 4);
    CU_ASSERT_EQUAL(count_of(out, "<polyline "), 4 * 6);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<table class=\"trend\">"));
    /* "where to act" comes before progress */
    CU_ASSERT_TRUE(strstr(out, "Where to act") < strstr(out, "Progress per area"));
    CU_ASSERT_PTR_NULL(strstr(out, "<a href=")); /* one page: no links */
    free(out);
}

/* -o DIR/: index.html links down to districts, districts to subdistricts, each page up. */
static void test_folder(void)
{
    char dir[400], path[480], *out = NULL;
    snprintf(dir, sizeof dir, "%s/pages/", D.dir);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", "-o", dir, END), 0);
    free(out);
    snprintf(path, sizeof path, "%sindex.html", dir);
    char *index = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(index);
    CU_ASSERT_PTR_NOT_NULL(strstr(index, "<a href=\"6501.html\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(index, "<a href=\"6503.html\">"));
    CU_ASSERT_PTR_NULL(strstr(index, "Up one level"));
    free(index);
    snprintf(path, sizeof path, "%s6501.html", dir);
    char *d = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_PTR_NOT_NULL(strstr(d, "<a href=\"650101.html\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d, "<a href=\"index.html\">"));
    free(d);
    snprintf(path, sizeof path, "%s650101.html", dir);
    char *sd = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sd);
    CU_ASSERT_PTR_NOT_NULL(strstr(sd, "<a href=\"6501.html\">"));
    CU_ASSERT_PTR_NULL(strstr(sd, "<a href=\"65010101.html\">")); /* villages have no page */
    free(sd);
    struct stat st;
    snprintf(path, sizeof path, "%s65010101.html", dir);
    CU_ASSERT_NOT_EQUAL(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s91.html", dir); /* outside the area asked for */
    CU_ASSERT_NOT_EQUAL(stat(path, &st), 0);
    /* a folder is HTML only, written once */
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "-o", dir, "--format", "csv", END), 2);
    free(out);
}

/* Without SOURCE_DATE_EPOCH the report is dated by the daemon's (manual) clock. */
static void test_daemon_clock(void)
{
    lb_val_t *r = testd_call(&D, "ping", NULL);
    int64_t now = 0;
    CU_ASSERT_EQUAL(lb_map_int(lbc_reply_result(r), "now", &now), 0);
    lb_val_free(&r);
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    char *saved = sde ? strdup(sde) : NULL;
    unsetenv("SOURCE_DATE_EPOCH");
    char *out = NULL, want[64];
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", "--format", "json", END), 0);
    snprintf(want, sizeof want, "\"generated_ms\": %lld", (long long)now);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, want) : NULL);
    free(out);
    if (saved)
        setenv("SOURCE_DATE_EPOCH", saved, 1);
    free(saved);
}

/* A province with a new case and nothing else: plain words where charts would be empty. */
static void test_empty_states(void)
{
    lb_val_t *a = lb_map();
    lb_map_set(a, "household", testd_household(39999999999UL, "67010101"));
    lb_val_t *r = testd_call(&D, "case.open", a);
    CU_ASSERT_TRUE(r && lbc_reply_ok(r));
    lb_val_free(&r);
    lb_val_free(&a);
    char *out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "67", "--format", "html", END), 0);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "No escalations yet") : NULL);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "No follow-ups yet") : NULL);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "No case is overdue or waiting") : NULL);
    CU_ASSERT_PTR_NULL(out ? strstr(out, "<svg class=\"rank\"") : "");
    CU_ASSERT_PTR_NULL(out ? strstr(out, "aria-label=\"Visited, assisted") : "");
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "67", END), 0);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "No escalations yet") : NULL);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "No follow-ups yet") : NULL);
    free(out);
}

const cu_test_t report_where_tests[REPORT_WHERE_NTESTS] = {
    {"where to act: rows ranked by overdue, then unacknowledged", test_ranked},
    {"the trend's months add up to the totals", test_trend_sums},
    {"the cases to act on: ordered, counted, in every format", test_act_on},
    {"HTML: ranking and trend charts in SVG", test_html_charts},
    {"-o DIR/: drill-down pages linked both ways", test_folder},
    {"dated by the daemon's clock", test_daemon_clock},
    {"empty states say so (added last: it opens a case)", test_empty_states},
};
