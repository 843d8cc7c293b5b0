/*
 * test_report.c - integration tests of the committee report: a real logbookd
 * (manual clock) holds a fixture whose every counter is known; bin/logbook-report
 * and `bin/logbook report` run as subprocesses against it, and their CSV,
 * text and HTML are checked number by number and against each other.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "report/report_test.h"

testd_t D;
static char admin_key[400], server_key[400];
static char cmd_report_bin[600], cmd_logbook_bin[600];
static unsigned long next_house = 30000000000UL;
/* Failures while building the fixture (suite_init runs outside any test: no CU_ASSERT). */
static int fixture_errors;

/* ---- the fixture ---- */

/* Opens a case for a new household in area with the given deprived codes ("a,b" or NULL). */
static void open_case(const char *area, const char *deprived, char out[LB_CASE_ID_MAX])
{
    lb_val_t *a = lb_map(), *h = testd_household(next_house++, area);
    char err[256];
    if (deprived) {
        lb_val_t *tmp = lb_map();
        char kv[128];
        snprintf(kv, sizeof kv, "deprived=%s,", deprived);
        lbc_kv_parse(tmp, kv, err, sizeof err);
        lb_map_set(h, "deprived", lb_val_dup(lb_map_get(tmp, "deprived")));
        lb_val_free(&tmp);
    }
    lb_map_set(a, "household", h);
    lb_val_t *r = testd_call(&D, "case.open", a);
    out[0] = '\0';
    if (!r || !lbc_reply_ok(r)) {
        fprintf(stderr, "case.open %s: %s\n", area, testd_code(r));
        fixture_errors++;
    }
    if (r && lbc_reply_ok(r))
        snprintf(out, LB_CASE_ID_MAX, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&r);
    lb_val_free(&a);
}

/* Runs action on case_id with KEY=VALUE data items (lbc_kv_parse syntax), NULL-terminated. */
static void act_data(const char *case_id, const char *action, lb_val_t *data)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_id);
    lb_map_set_str(a, "action", action);
    if (data && data->m.n)
        lb_map_set(a, "data", data);
    else
        lb_val_free(&data);
    lb_val_t *r = testd_call(&D, "case.act", a);
    if (!r || !lbc_reply_ok(r)) {
        fprintf(stderr, "%s %s: %s\n", case_id, action, testd_code(r));
        fixture_errors++;
    }
    lb_val_free(&r);
    lb_val_free(&a);
}

static lb_val_t *kv(const char *first, ...)
{
    va_list ap;
    char err[256];
    lb_val_t *m = lb_map();
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        if (lbc_kv_parse(m, s, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", s, err);
            fixture_errors++;
        }
    va_end(ap);
    return m;
}

#define ACT(id, action, ...) act_data(id, action, kv(__VA_ARGS__, (const char *)NULL))

/* identified -> visit_scheduled -> visited with the findings given. */
static void visit(const char *id, const char *findings)
{
    ACT(id, "schedule_visit", "team=team-1");
    ACT(id, "record_visit", findings);
}

/* ... -> assisting, with one assistance record. */
static void assist(const char *id, const char *dimension, const char *kind, const char *extra)
{
    char d[64], k[64];
    ACT(id, "plan_assistance", "team=team-1");
    snprintf(d, sizeof d, "dimension=%s", dimension);
    snprintf(k, sizeof k, "kind=%s", kind);
    if (extra)
        ACT(id, "record_assistance", "agency=อบต.", d, k, extra);
    else
        ACT(id, "record_assistance", "agency=อบต.", d, k);
}

/*
 * 12 cases in three districts of Phitsanulok (65) and one in Satun (91). The
 * expected rows below follow from this, case by case:
 *  6501: A1 identified (income bmn22, living bmn8), overdue, unacked
 *        A2 visited (health bmn4 + bmn7 found)
 *        A3 assisting, bmn22 met
 *        A4 resolved at sufficient (needs met; terminal cases count no needs)
 *        A5 closed (moved), never visited
 *  6502: B1 identified (living bmn9, bmn10), overdue, acknowledged
 *        B2 visit_scheduled (income bmn20): not overdue after 8 days (14d step)
 *        B3 follow_up at survive, bmn28 met
 *        B4 visited (health bmn1, and a living need by note)
 *  6503: C1 identified (education bmn15), overdue, unacked
 *        C2 resolved at sustainable
 *        C3 follow_up at sufficient, bmn11 met
 *  91:   D1 identified (income bmn22), overdue, unacked
 */
static int build_fixture(void)
{
    char a1[LB_CASE_ID_MAX], a2[LB_CASE_ID_MAX], a3[LB_CASE_ID_MAX], a4[LB_CASE_ID_MAX],
        a5[LB_CASE_ID_MAX], b1[LB_CASE_ID_MAX], b2[LB_CASE_ID_MAX], b3[LB_CASE_ID_MAX],
        b4[LB_CASE_ID_MAX], c1[LB_CASE_ID_MAX], c2[LB_CASE_ID_MAX], c3[LB_CASE_ID_MAX],
        d1[LB_CASE_ID_MAX];
    open_case("65010101", "bmn22,bmn8", a1);
    open_case("65010101", "bmn4", a2);
    open_case("65010102", "bmn22", a3);
    open_case("65010201", "bmn16,bmn22", a4);
    open_case("65010201", "bmn27", a5);
    open_case("65020101", "bmn9,bmn10", b1);
    open_case("65020101", "bmn20", b2);
    open_case("65020102", "bmn28", b3);
    open_case("65020201", "bmn1", b4);
    open_case("65030101", "bmn15", c1);
    open_case("65030101", "bmn21,bmn22", c2);
    open_case("65030201", "bmn11", c3);
    open_case("91010101", "bmn22", d1);

    visit(a2, "findings.health=bmn4,bmn7");

    visit(a3, "findings.income=bmn22,");
    assist(a3, "income", "occupation", "meets=bmn22,");

    visit(a4, "findings.education=bmn16,");
    assist(a4, "education", "education_support", "meets=bmn16,");
    ACT(a4, "start_follow_up", "team=team-1");
    ACT(a4, "record_follow_up", "level=sufficient", "met=bmn22,");
    ACT(a4, "resolve", "level=sufficient");

    ACT(a5, "close", "reason=moved");

    ACT(b2, "schedule_visit", "team=team-2");

    visit(b3, "findings.accessibility=bmn28,");
    assist(b3, "accessibility", "welfare_registration", "meets=bmn28,");
    ACT(b3, "start_follow_up", "team=team-1");
    ACT(b3, "record_follow_up", "level=survive");

    /* A need without indicator (by note) counts in its dimension too. */
    ACT(b4, "schedule_visit", "team=team-2");
    lb_val_t *data = kv("findings.health=bmn1,", (const char *)NULL);
    lb_val_t *needs = lb_arr(), *need = lb_map();
    lb_map_set_str(need, "dimension", "living");
    lb_map_set_str(need, "note", "หลังคารั่ว / the roof leaks");
    lb_arr_push(needs, need);
    lb_map_set(data, "needs", needs);
    act_data(b4, "record_visit", data);

    visit(c2, "findings.income=bmn21,");
    assist(c2, "income", "cash", "meets=bmn21,bmn22");
    ACT(c2, "start_follow_up", "team=team-1");
    ACT(c2, "record_follow_up", "level=sustainable");
    ACT(c2, "resolve", "level=sustainable");

    visit(c3, "findings.living=bmn11,");
    assist(c3, "living", "housing", NULL);
    ACT(c3, "start_follow_up", "team=team-1");
    ACT(c3, "record_follow_up", "level=sufficient", "met=bmn11,");

    /* 8 days: every case still identified passes its 7-day step; nothing else is due. */
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "advance_s", 8 * 86400);
    lb_val_t *r = testd_call(&D, "admin.clock", a);
    int rc = lbc_reply_ok(r) ? 0 : -1;
    lb_val_free(&r);
    lb_val_free(&a);
    a = lb_map();
    lb_map_set_str(a, "case_id", b1);
    r = testd_call(&D, "case.ack", a);
    if (!lbc_reply_ok(r))
        rc = -1;
    lb_val_free(&r);
    lb_val_free(&a);
    return rc || fixture_errors ? -1 : 0;
}

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    const char *bin = getenv("LOGBOOK_BIN");
    if (!bin || !*bin)
        bin = "bin";
    snprintf(cmd_report_bin, sizeof cmd_report_bin, "%s/logbook-report", bin);
    snprintf(cmd_logbook_bin, sizeof cmd_logbook_bin, "%s/logbook", bin);
    /* Both commands then print the same "generated" time. */
    setenv("SOURCE_DATE_EPOCH", "1714550400", 1);
    if (testd_start(&D, &o))
        return -1;
    snprintf(admin_key, sizeof admin_key, "%s/keys/admin.key_secret", D.data);
    snprintf(server_key, sizeof server_key, "%s/keys/server.key", D.data);
    return build_fixture();
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* ---- running the commands ---- */

/* argv for one of the two commands with the test daemon's endpoint and keys, then extra. */
static int build_argv(int via, const char *cert, const char *const *extra, const char **argv,
                      int max)
{
    int n = 0;
    argv[n++] = via == VIA_REPORT ? cmd_report_bin : cmd_logbook_bin;
    if (via == VIA_LOGBOOK)
        argv[n++] = "report";
    argv[n++] = "-e";
    argv[n++] = D.req_ep;
    argv[n++] = "-E";
    argv[n++] = D.ev_ep;
    argv[n++] = "-k";
    argv[n++] = cert ? cert : admin_key;
    argv[n++] = "-s";
    argv[n++] = server_key;
    for (int i = 0; extra && extra[i] && n < max - 1; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return n;
}

/* Runs argv, collecting stdout into *out (NUL-terminated, caller frees). Returns the exit status.
 */
int run_argv(const char **argv, char **out)
{
    int p[2];
    *out = NULL;
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* Expected refusals would clutter the test output: their messages go to a log. */
        char log[400];
        snprintf(log, sizeof log, "%s/commands.log", D.dir);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (; buf;) {
        if (len + 1 >= cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more)
                break;
            buf = more;
        }
        ssize_t n = read(p[0], buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (buf)
        buf[len] = '\0';
    close(p[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid)
        status = -1;
    *out = buf;
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs the command with the extra arguments (NULL-terminated); returns its exit status. */
int run_report(int via, const char *cert, char **out, ...)
{
    const char *extra[32], *argv[64];
    va_list ap;
    int n = 0;
    va_start(ap, out);
    for (const char *s; n < 31 && (s = va_arg(ap, const char *));)
        extra[n++] = s;
    va_end(ap);
    extra[n] = NULL;
    build_argv(via, cert, extra, argv, 64);
    return run_argv(argv, out);
}

/* ---- expectations ---- */

#define NCOLS 19 /* the counters, then area_name and area_name_en */
#define NNUM 17  /* key and the counters */
static const char *const csv_header[NCOLS] = {"key",
                                              "cases",
                                              "open",
                                              "visited",
                                              "assisted",
                                              "resolved",
                                              "closed",
                                              "overdue",
                                              "needs_health",
                                              "needs_living",
                                              "needs_education",
                                              "needs_income",
                                              "needs_accessibility",
                                              "unacked",
                                              "level_survive",
                                              "level_sufficient",
                                              "level_sustainable",
                                              "area_name",
                                              "area_name_en"};

typedef struct {
    const char *key;
    long v[NNUM - 1]; /* in csv_header order after key */
} expect_row_t;

/* Checks a CSV document: the header, then exactly the expected rows, in order. */
static void check_csv(const char *csv, const expect_row_t *rows, size_t nrows)
{
    lbc_csv_t rd;
    lbc_csv_row_t row = {0};
    char err[256];
    size_t i = 0;
    /* No FATAL asserts here: they would skip the caller's frees. */
    lbc_csv_init(&rd, csv ? csv : "", csv ? strlen(csv) : 0);
    if (lbc_csv_next(&rd, &row, err, sizeof err) != 0 || row.n != NCOLS) {
        CU_FAIL("no CSV header row of 19 columns");
        lbc_csv_row_free(&row);
        return;
    }
    for (size_t c = 0; c < NCOLS; c++)
        CU_ASSERT_STRING_EQUAL(row.fields[c], csv_header[c]);
    for (; lbc_csv_next(&rd, &row, err, sizeof err) == 0; i++) {
        if (i >= nrows || row.n != NCOLS) {
            CU_FAIL("more CSV rows than expected, or a row without 19 columns");
            break;
        }
        CU_ASSERT_STRING_EQUAL(row.fields[0], rows[i].key);
        for (size_t c = 1; c < NNUM; c++) {
            long got = strtol(row.fields[c], NULL, 10);
            if (got != rows[i].v[c - 1])
                fprintf(stderr, "\nrow %s column %s: got %ld, want %ld\n", rows[i].key,
                        csv_header[c], got, rows[i].v[c - 1]);
            CU_ASSERT_EQUAL(got, rows[i].v[c - 1]);
        }
    }
    CU_ASSERT_EQUAL(i, nrows);
    lbc_csv_row_free(&row);
}

/*
 * Rows come ranked worst first: overdue desc, then unacked desc, then key. The
 * three districts have one overdue case each; 6502's is acknowledged, so it
 * comes last.
 *                          cases open vis ass res clo ovd  h  l  e  i  a  ua  sv sf st */
static const expect_row_t by_district[] = {
    {"6501", {5, 3, 3, 2, 1, 1, 1, 2, 1, 0, 1, 0, 1, 0, 1, 0}},
    {"6503", {3, 2, 2, 2, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1}},
    {"6502", {4, 4, 2, 1, 0, 0, 1, 1, 3, 0, 1, 0, 0, 1, 0, 0}},
};
static const expect_row_t by_province[] = {
    {"65", {12, 9, 7, 5, 2, 1, 3, 3, 4, 1, 2, 0, 2, 1, 2, 1}},
    {"91", {1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0}},
};
static const expect_row_t subdistricts_6501[] = {
    {"650101", {3, 3, 2, 1, 0, 0, 1, 2, 1, 0, 1, 0, 1, 0, 0, 0}},
    {"650102", {2, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}},
};
static const expect_row_t villages_650101[] = {
    {"65010101", {2, 2, 1, 0, 0, 0, 1, 2, 1, 0, 1, 0, 1, 0, 0, 0}},
    {"65010102", {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
};
static const expect_row_t village_65010101[] = {
    {"65010101", {2, 2, 1, 0, 0, 0, 1, 2, 1, 0, 1, 0, 1, 0, 0, 0}},
};

/* The integer in cell data-col="col" of an HTML totals row (there is one per table), or -1. */
static long html_total(const char *html, const char *col)
{
    char pat[64];
    snprintf(pat, sizeof pat, "data-col=\"%s\">", col);
    for (const char *t = html; (t = strstr(t, "data-key=\"total\"")); t++) {
        const char *end = strstr(t, "</tr>"), *c = strstr(t, pat);
        if (!c || !end || c > end)
            continue;
        c += strlen(pat);
        long v = 0;
        for (; *c && *c != '<'; c++)
            if (*c >= '0' && *c <= '9')
                v = v * 10 + (*c - '0');
        return v;
    }
    return -1;
}

size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- tests ---- */

static void test_csv_by_district(void)
{
    for (int via = 0; via < 2; via++) {
        char *out = NULL;
        CU_ASSERT_EQUAL(run_report(via, NULL, &out, "--area", "65", "--format", "csv", END), 0);
        check_csv(out, by_district, 3);
        free(out);
    }
}

static void test_csv_default_groupings(void)
{
    for (int via = 0; via < 2; via++) {
        char *out = NULL;
        /* no area: provinces */
        CU_ASSERT_EQUAL(run_report(via, NULL, &out, "--format", "csv", END), 0);
        check_csv(out, by_province, 2);
        free(out);
        /* a district: its subdistricts */
        CU_ASSERT_EQUAL(run_report(via, NULL, &out, "--area", "6501", "--format=csv", END), 0);
        check_csv(out, subdistricts_6501, 2);
        free(out);
        /* a subdistrict: its villages */
        CU_ASSERT_EQUAL(run_report(via, NULL, &out, "--area", "650101", "--format", "csv", END), 0);
        check_csv(out, villages_650101, 2);
        free(out);
        /* a village: itself */
        CU_ASSERT_EQUAL(run_report(via, NULL, &out, "--area", "65010101", "--format", "csv", END),
                        0);
        check_csv(out, village_65010101, 1);
        free(out);
        /* an explicit finer grouping */
        CU_ASSERT_EQUAL(run_report(via, NULL, &out, "--area", "6501", "--by", "village", "--format",
                                   "csv", END),
                        0);
        CU_ASSERT_EQUAL(count_of(out, "\n"), 4); /* header + 3 villages */
        free(out);
    }
}

static void test_outputs_identical(void)
{
    static const char *const formats[] = {"text", "csv", "html", "json"};
    for (size_t f = 0; f < 4; f++) {
        char *a = NULL, *b = NULL;
        CU_ASSERT_EQUAL(
            run_report(VIA_REPORT, NULL, &a, "--area", "65", "--format", formats[f], END), 0);
        CU_ASSERT_EQUAL(
            run_report(VIA_LOGBOOK, NULL, &b, "--area", "65", "--format", formats[f], END), 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_TRUE(strlen(a) > 100);
        if (strcmp(a, b) != 0)
            fprintf(stderr, "\n%s differs:\n--- logbook-report\n%s\n--- logbook report\n%s\n",
                    formats[f], a, b);
        CU_ASSERT_STRING_EQUAL(a, b);
        free(a);
        free(b);
    }
    /* the same with the output in files, and --help */
    char pa[400], pb[400], *a = NULL, *b = NULL;
    snprintf(pa, sizeof pa, "%s/a.html", D.dir);
    snprintf(pb, sizeof pb, "%s/b.html", D.dir);
    CU_ASSERT_EQUAL(
        run_report(VIA_REPORT, NULL, &a, "--area", "65", "--format", "html", "-o", pa, END), 0);
    CU_ASSERT_STRING_EQUAL(a, ""); /* nothing on stdout */
    free(a);
    CU_ASSERT_EQUAL(
        run_report(VIA_LOGBOOK, NULL, &b, "--area", "65", "--format", "html", "--output", pb, END),
        0);
    free(b);
    const char *cat_a[] = {"/bin/cat", pa, NULL}, *cat_b[] = {"/bin/cat", pb, NULL};
    CU_ASSERT_EQUAL(run_argv(cat_a, &a), 0);
    CU_ASSERT_EQUAL(run_argv(cat_b, &b), 0);
    CU_ASSERT_TRUE(strstr(a, "<svg") != NULL);
    CU_ASSERT_STRING_EQUAL(a, b);
    free(a);
    free(b);
}

static void test_text(void)
{
    char *out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", END), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(out, "province 65 Phitsanulok (พิษณุโลก), by district"));
    /* 6501: 5 cases, 3 open, 3 visited (60%), 2 assisted (40%), 1 resolved (20%) */
    const char *prog = strstr(out, "\nProgress (percentages");
    CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
    const char *row = strstr(prog, "\n6501 ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    int cases, open, vis, vp, ass, ap, res, rp;
    CU_ASSERT_EQUAL(sscanf(row, " 6501 %d %d %d %d%% %d %d%% %d %d%%", &cases, &open, &vis, &vp,
                           &ass, &ap, &res, &rp),
                    8);
    CU_ASSERT_EQUAL(cases, 5);
    CU_ASSERT_EQUAL(vp, 60);
    CU_ASSERT_EQUAL(ap, 40);
    CU_ASSERT_EQUAL(rp, 20);
    /* TOTAL: 12 cases, 7 visited = 58% */
    row = strstr(prog, "\nTOTAL ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    CU_ASSERT_EQUAL(sscanf(row, " TOTAL %d %d %d %d%%", &cases, &open, &vis, &vp), 4);
    CU_ASSERT_EQUAL(cases, 12);
    CU_ASSERT_EQUAL(open, 9);
    CU_ASSERT_EQUAL(vis, 7);
    CU_ASSERT_EQUAL(vp, 58);
    /* aligned: every line of a table has the same display width up to its last column */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "SUSTAINABLE"));
    free(out);
    /* by province: the Thai name sits in an aligned column */
    CU_ASSERT_EQUAL(run_report(VIA_LOGBOOK, NULL, &out, END), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "65 Phitsanulok พิษณุโลก"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "91 Satun สตูล"));
    char *l65 = strstr(out, "\n65 "), *l91 = strstr(out, "\n91 ");
    CU_ASSERT_FATAL(l65 && l91);
    char *e65 = strchr(l65 + 1, '\n'), *e91 = strchr(l91 + 1, '\n');
    *e65 = *e91 = '\0';
    CU_ASSERT_EQUAL(lbc_display_width(l65 + 1), lbc_display_width(l91 + 1));
    free(out);
}

static void test_html(void)
{
    char *out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", "--format", "html", END), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    /* self-contained */
    CU_ASSERT_PTR_NULL(strstr(out, "http://"));
    CU_ASSERT_PTR_NULL(strstr(out, "https://"));
    CU_ASSERT_PTR_NULL(strstr(out, "src="));
    CU_ASSERT_PTR_NULL(strstr(out, "<script"));
    CU_ASSERT_PTR_NULL(strstr(out, "<link"));
    CU_ASSERT_PTR_NULL(strstr(out, "url("));
    CU_ASSERT_PTR_NULL(strstr(out, "@import"));
    CU_ASSERT_EQUAL(strncmp(out, "<!DOCTYPE html>", 15), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "</html>\n"));
    /* print styles and charts */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "@page{size:A4"));
    CU_ASSERT_TRUE(count_of(out, "<svg") >= 4);
    CU_ASSERT_EQUAL(count_of(out, "<svg"), count_of(out, "</svg>"));
    CU_ASSERT_PTR_NULL(strstr(out, "http-equiv=\"refresh\"")); /* only with --watch */
    /* Thai beside English */
    static const char *const labels[] = {"เยี่ยมแล้ว / Visited",
                                         "ได้รับความช่วยเหลือ / Assisted",
                                         "แก้ไขแล้ว / Resolved",
                                         "สุขภาพ / Health",
                                         "การเข้าถึงบริการรัฐ / Accessibility",
                                         "อยู่รอด / Survive",
                                         "อยู่อย่างยั่งยืน / Sustainable",
                                         "พิษณุโลก / Phitsanulok",
                                         "รวม / Total"};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        if (!strstr(out, labels[i]))
            fprintf(stderr, "\nmissing label %s\n", labels[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, labels[i]));
    }
    /* the totals row */
    static const struct {
        const char *col;
        long v;
    } tot[] = {{"cases", 12},
               {"open", 9},
               {"visited", 7},
               {"assisted", 5},
               {"resolved", 2},
               {"closed", 1},
               {"overdue", 3},
               {"unacked", 2},
               {"needs_health", 3},
               {"needs_living", 4},
               {"needs_education", 1},
               {"needs_income", 2},
               {"needs_accessibility", 0},
               {"level_survive", 1},
               {"level_sufficient", 2},
               {"level_sustainable", 1}};
    for (size_t i = 0; i < sizeof tot / sizeof tot[0]; i++) {
        if (html_total(out, tot[i].col) != tot[i].v)
            fprintf(stderr, "\ntotal %s: got %ld want %ld\n", tot[i].col,
                    html_total(out, tot[i].col), tot[i].v);
        CU_ASSERT_EQUAL(html_total(out, tot[i].col), tot[i].v);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<tr data-key=\"6503\">"));
    free(out);
}

/*
 * Last, because it has taken the daemon down: report.summary for an area
 * without cases passes qsort a NULL array (daemon/ops.c), which UBSan stops.
 */
static void test_empty_area(void)
{
    char *out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "75", "--format", "html", END), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "No cases in this area"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "สมุทรสงคราม"));
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_LOGBOOK, NULL, &out, "--area", "75", "--format", "csv", END), 0);
    check_csv(out, NULL, 0);
    free(out);
}

/* A committee key for district 6501 without events access, registered on first use. */
static const char *committee_key(void)
{
    static char sec[400];
    char pub[41], yaml[512];
    if (sec[0])
        return sec;
    if (testd_keygen(&D, "committee6501", pub, sec, sizeof sec) != 0)
        return NULL;
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: committee6501, public_key: \"%s\", role: committee, areas: [\"6501\"] "
             "}\n",
             pub);
    if (testd_set_clients(&D, yaml) != 0) {
        sec[0] = '\0';
        return NULL;
    }
    return sec;
}

static void test_usage_and_refusals(void)
{
    char *out = NULL;
    /* coarser grouping than the area, bad format, bad area, --watch without -o */
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "6501", "--by", "province", END),
                    2);
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_LOGBOOK, NULL, &out, "--format", "pdf", END), 2);
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "651", END), 2);
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--watch", "5", END), 2);
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_LOGBOOK, NULL, &out, "stray", END), 2);
    free(out);
    /* --help documents every CSV column, the same in both */
    char *h2 = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--help", END), 0);
    CU_ASSERT_EQUAL(run_report(VIA_LOGBOOK, NULL, &h2, "--help", END), 0);
    for (size_t c = 0; c < NCOLS; c++)
        CU_ASSERT_PTR_NOT_NULL(strstr(out, csv_header[c]));
    CU_ASSERT_PTR_NOT_NULL(strstr(h2, "Usage: logbook report "));
    free(out);
    free(h2);

    /* a committee key for district 6501: 65 is refused, its own scope is answered */
    const char *sec = committee_key();
    CU_ASSERT_PTR_NOT_NULL_FATAL(sec);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, sec, &out, "--area", "65", END), 1);
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, sec, &out, "--format", "csv", END), 0);
    static const expect_row_t scoped[] = {
        {"65", {5, 3, 3, 2, 1, 1, 1, 2, 1, 0, 1, 0, 1, 0, 1, 0}},
    };
    check_csv(out, scoped, 1);
    free(out);
    CU_ASSERT_EQUAL(run_report(VIA_LOGBOOK, sec, &out, "--area", "6501", "--format", "csv", END),
                    0);
    check_csv(out, subdistricts_6501, 2);
    free(out);

    /* nobody listening: exit 3 */
    const char *argv[] = {
        cmd_report_bin, "-e",  "tcp://127.0.0.1:9", "-k", admin_key, "-s", server_key,
        "--timeout",    "200", "--retries",         "0",  NULL};
    CU_ASSERT_EQUAL(run_argv(argv, &out), 3);
    free(out);
}

char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    if (!buf) {
        fclose(f);
        return NULL;
    }
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more)
                break;
            buf = more;
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* Polls path until its totals row shows `cases` (or 20 s pass); returns what it last saw. */
static long wait_for_cases(const char *path, long cases)
{
    long seen = -1;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        char *html = slurp(path);
        if (html) {
            seen = html_total(html, "cases");
            free(html);
        }
        if (seen == cases)
            return seen;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 20)
            return seen;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Starts the report command in the background with extra arguments; its output goes to log. */
static pid_t start_watcher(const char *cert, const char *const *extra, const char *log)
{
    const char *argv[64];
    build_argv(VIA_REPORT, cert, extra, argv, 64);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* SIGTERM, then a bounded wait for a clean exit 0; SIGKILL and a failure otherwise. */
static void stop_watcher(pid_t pid)
{
    int status = -1;
    pid_t w = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100 && (w = waitpid(pid, &status, WNOHANG)) == 0; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        CU_FAIL("logbook-report --watch did not stop on SIGTERM");
    } else {
        CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            files++;
    if (d)
        closedir(d);
    return files;
}

static void test_watch(void)
{
    char path[600], log[400], dir[300];
    snprintf(dir, sizeof dir, "%s/watch", D.dir);
    snprintf(path, sizeof path, "%s/report.html", dir);
    snprintf(log, sizeof log, "%s/watch.log", D.dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    const char *extra[] = {"--area", "65", "--format", "html", "-o", path, "--watch", "1", NULL};
    pid_t pid = start_watcher(NULL, extra, log);
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL(wait_for_cases(path, 12), 12);
    char *html = slurp(path);
    CU_ASSERT_PTR_NOT_NULL(html ? strstr(html, "<meta http-equiv=\"refresh\" content=\"1\">")
                                : NULL);
    free(html);

    /* a write in the area shows up */
    char id[LB_CASE_ID_MAX];
    open_case("65030101", "bmn22", id);
    CU_ASSERT_EQUAL(wait_for_cases(path, 13), 13);
    html = slurp(path);
    CU_ASSERT_EQUAL(html ? html_total(html, "needs_income") : -1, 3);
    free(html);
    /* and the next one, at most a second later */
    open_case("65020101", NULL, id);
    CU_ASSERT_EQUAL(wait_for_cases(path, 14), 14);

    stop_watcher(pid);
    CU_ASSERT_EQUAL(files_in(dir), 1); /* no temporary file left behind */
}

/* The cases column of row key in a CSV file, or -1. */
static long csv_cases(const char *path, const char *key)
{
    char *csv = slurp(path), err[256];
    long v = -1;
    lbc_csv_t rd;
    lbc_csv_row_t row = {0};
    if (!csv)
        return -1;
    lbc_csv_init(&rd, csv, strlen(csv));
    while (lbc_csv_next(&rd, &row, err, sizeof err) == 0)
        if (row.n > 1 && strcmp(row.fields[0], key) == 0)
            v = strtol(row.fields[1], NULL, 10);
    lbc_csv_row_free(&row);
    free(csv);
    return v;
}

/* A key without events access: the watcher polls ping's last_seq instead. */
static void test_watch_polling(void)
{
    char path[400], log[400];
    const char *sec = committee_key();
    CU_ASSERT_PTR_NOT_NULL_FATAL(sec);
    snprintf(path, sizeof path, "%s/watch/6501.csv", D.dir);
    snprintf(log, sizeof log, "%s/watch-polling.log", D.dir);
    const char *extra[] = {"--area", "6501", "--format", "csv", "-o", path, "--watch", "1", NULL};
    pid_t pid = start_watcher(sec, extra, log);
    CU_ASSERT_FATAL(pid > 0);
    long before = -1;
    for (int i = 0; i < 400 && (before = csv_cases(path, "650101")) < 0; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CU_ASSERT_EQUAL(before, 3);
    char id[LB_CASE_ID_MAX];
    open_case("65010101", NULL, id);
    long after = -1;
    for (int i = 0; i < 400 && (after = csv_cases(path, "650101")) != before + 1; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CU_ASSERT_EQUAL(after, before + 1);
    stop_watcher(pid);
    char *text = slurp(log);
    CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, "polling every 1 s") : NULL);
    free(text);
}

int main(void)
{
    static const cu_test_t tests[] = {
        {"CSV by district: every number of the fixture", test_csv_by_district},
        {"CSV with the default groupings and scopes", test_csv_default_groupings},
        {"logbook report and logbook-report print the same", test_outputs_identical},
        {"text: aligned tables with percentages", test_text},
        {"HTML: self-contained, SVG charts, Thai labels, totals", test_html},
        {"usage errors, scoped keys, unreachable daemon", test_usage_and_refusals},
        {"--watch keeps the page current and stops on SIGTERM", test_watch},
        {"--watch polls for a key without events access", test_watch_polling},
        {"an area without cases", test_empty_area},
    };
    /* Then where to act (report/where.c); its last test adds a case of its own. Then the
     * agency ledger (report/ledger.c), which adds one too. */
    cu_test_t all[CU_COUNT(tests) + REPORT_WHERE_NTESTS + REPORT_LEDGER_NTESTS];
    memcpy(all, tests, sizeof tests);
    memcpy(all + CU_COUNT(tests), report_where_tests, sizeof report_where_tests);
    memcpy(all + CU_COUNT(tests) + REPORT_WHERE_NTESTS, report_ledger_tests,
           sizeof report_ledger_tests);
    return cu_run("report", suite_init, suite_clean, all, CU_COUNT(all));
}
