/*
 * test_holidays.c - working-day clocks end to end (PROTOCOL.md 9.20): the
 * daemon reads the `holidays` file at start and on admin.reload, TPMAP's
 * subdistrict and district steps count Monday to Friday less its dates in
 * Bangkok time, timers already set keep their due times when a reload
 * changes the file, a bad file refuses the reload (file:line:column, old
 * calendar kept) and the start (exit 2). The holidays are chosen relative to
 * the daemon's clock (the next weekdays after today), so the test holds on
 * any date; the expected due times are counted here with a loop of its own.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cu.h"
#include "../lib/testd.h"
#include "../lib/trust.h"

#define DAY_MS INT64_C(86400000)
#define BKK_MS INT64_C(25200000)

static testd_t D;
static char hdir[64], hfile[128];
static int64_t g_now; /* the daemon's clock when the cases opened */
static char case_a[32], case_b[32], case_c[32];

static int64_t bkk_day(int64_t t)
{
    int64_t x = t + BKK_MS;
    return x >= 0 ? x / DAY_MS : -((-x + DAY_MS - 1) / DAY_MS);
}

static bool weekday(int64_t day)
{
    int wd = (int)(((day % 7) + 11) % 7); /* 0 = Sunday; 1970-01-01 was a Thursday */
    return wd != 0 && wd != 6;
}

/* n working days after t, the given days (Bangkok day numbers) off besides weekends. */
static int64_t expect_bd(int64_t t, int n, const int64_t *off, int noff)
{
    int64_t day = bkk_day(t);
    while (n > 0) {
        day++;
        bool free_day = !weekday(day);
        for (int i = 0; i < noff; i++)
            free_day |= off[i] == day;
        if (!free_day)
            n--;
    }
    return t + (day - bkk_day(t)) * DAY_MS;
}

static void ymd(int64_t day, char out[11])
{
    time_t s = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Writes the holidays file: years around now, and the given days off. */
static int write_holidays(const int64_t *off, int noff, const char *extra)
{
    FILE *f = fopen(hfile, "w");
    if (!f)
        return -1;
    int y = (int)(1970 + bkk_day(g_now ? g_now : (int64_t)time(NULL) * 1000) / 365.2425);
    fprintf(f, "source: test\nyears: [%d, %d, %d]\nholidays:\n", y - 1, y, y + 1);
    for (int i = 0; i < noff; i++) {
        char d[11];
        ymd(off[i], d);
        fprintf(f, "  - { date: %s, th: \"วันหยุด\", en: \"day off %d\" }\n", d, i);
    }
    fputs(extra ? extra : "", f);
    return fclose(f);
}

static int suite_init(void)
{
    snprintf(hdir, sizeof hdir, "/tmp/lb-hol-XXXXXX");
    if (!mkdtemp(hdir))
        return -1;
    snprintf(hfile, sizeof hfile, "%s/holidays.yaml", hdir);
    if (write_holidays(NULL, 0, NULL))
        return -1;
    char extra[200];
    snprintf(extra, sizeof extra, "holidays: %s\n", hfile);
    testd_opts_t o = {.manual_clock = true, .extra_config = extra};
    return testd_start(&D, &o);
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    unlink(hfile);
    rmdir(hdir);
    return rc == 0 ? 0 : -1;
}

static lb_val_t *get_case(const char *id)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", id);
    lb_val_t *r = testd_call(&D, "case.get", a);
    lb_val_free(&a);
    return r;
}

/* Due time of timer i of a case (-1 when absent). */
static int64_t due_of(const char *id, size_t i)
{
    lb_val_t *r = get_case(id);
    const lb_val_t *t = lb_map_get(lbc_reply_result(r), "timers");
    int64_t due = -1;
    if (t && t->type == LB_ARR && i < t->a.n)
        lb_map_int(t->a.items[i], "due", &due);
    lb_val_free(&r);
    return due;
}

static size_t n_escalations(const char *id)
{
    lb_val_t *r = get_case(id);
    const lb_val_t *e = lb_map_get(lbc_reply_result(r), "escalations");
    size_t n = e && e->type == LB_ARR ? e->a.n : 0;
    lb_val_free(&r);
    return n;
}

static void reload_ok(void)
{
    lb_val_t *r = testd_call(&D, "admin.reload", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
}

static void open_case(unsigned long n, char out[32])
{
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&D, NULL, n, "65010101", out), 0);
}

/* The next three weekdays after today: the days off the second file lists. */
static int64_t g_off[3];

static void test_working_days_and_reload(void)
{
    open_case(61000000001UL, case_a);
    lb_val_t *r = get_case(case_a);
    CU_ASSERT_EQUAL_FATAL(lb_map_int(lbc_reply_result(r), "opened_at", &g_now), 0);
    lb_val_free(&r);
    /* no holidays yet: Monday to Friday; team after 7 calendar days */
    CU_ASSERT_EQUAL(due_of(case_a, 0), g_now + 7 * DAY_MS);
    CU_ASSERT_EQUAL(due_of(case_a, 1), expect_bd(g_now, 10, NULL, 0));
    CU_ASSERT_EQUAL(due_of(case_a, 2), expect_bd(g_now, 20, NULL, 0));

    for (int64_t d = bkk_day(g_now) + 1, k = 0; k < 3; d++)
        if (weekday(d))
            g_off[k++] = d;
    CU_ASSERT_EQUAL_FATAL(write_holidays(g_off, 3, NULL), 0);
    reload_ok();
    /* timers already set keep their due times */
    CU_ASSERT_EQUAL(due_of(case_a, 1), expect_bd(g_now, 10, NULL, 0));
    /* a case opened now counts the new days off: three working days later */
    open_case(61000000002UL, case_b);
    CU_ASSERT_EQUAL(due_of(case_b, 1), expect_bd(g_now, 10, g_off, 3));
    CU_ASSERT_EQUAL(due_of(case_b, 1), expect_bd(g_now, 13, NULL, 0));
    CU_ASSERT_EQUAL(due_of(case_b, 2), expect_bd(g_now, 20, g_off, 3));
    CU_ASSERT_EQUAL(due_of(case_b, 0), g_now + 7 * DAY_MS); /* calendar days stay */

    /* workflow.get names the working-day steps */
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "name", "tpmap-household");
    r = testd_call(&D, "workflow.get", a);
    const lb_val_t *st = lb_map_get(lb_map_get(lbc_reply_result(r), "states"), "identified");
    const lb_val_t *esc = lb_map_get(st, "escalate");
    int64_t bd = 0;
    CU_ASSERT_TRUE_FATAL(esc && esc->type == LB_ARR && esc->a.n == 3);
    CU_ASSERT_EQUAL(lb_map_int(esc->a.items[1], "business_days", &bd), 0);
    CU_ASSERT_EQUAL(bd, 10);
    CU_ASSERT_PTR_NULL(lb_map_get(esc->a.items[0], "business_days"));
    lb_val_free(&r);
    lb_val_free(&a);
}

static void test_bad_file_refused_by_reload(void)
{
    CU_ASSERT_EQUAL_FATAL(write_holidays(g_off, 1, "  - { date: 2026-02-30, th: x, en: y }\n"), 0);
    lb_val_t *r = testd_call(&D, "admin.reload", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    char want[200];
    snprintf(want, sizeof want, "%s:5:13: bad date '2026-02-30'", hfile);
    CU_ASSERT_PTR_NOT_NULL(strstr(trust_msg(r), want));
    lb_val_free(&r);
    /* the calendar in force is still the one of three days off */
    open_case(61000000003UL, case_c);
    CU_ASSERT_EQUAL(due_of(case_c, 1), expect_bd(g_now, 10, g_off, 3));
}

/* Escalation events of case id with seq > after, at level (count). */
static int escalation_events(int64_t after, const char *id, const char *level, int64_t *at)
{
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "seq", after);
    lb_val_t *r = testd_call(&D, "events.since", a);
    const lb_val_t *ev = lb_map_get(lbc_reply_result(r), "events");
    int n = 0;
    for (size_t i = 0; ev && ev->type == LB_ARR && i < ev->a.n; i++) {
        const lb_val_t *e = ev->a.items[i];
        const char *k = lb_map_str(e, "kind"), *c = lb_map_str(e, "case_id");
        const char *l = lb_map_str(e, "level"), *ar = lb_map_str(e, "area");
        if (k && c && l && ar && strcmp(k, "escalation") == 0 && strcmp(c, id) == 0 &&
            strcmp(l, level) == 0 && strcmp(ar, "65010101") == 0) {
            n++;
            lb_map_int(lb_map_get(e, "data"), "due", at);
        }
    }
    lb_val_free(&r);
    lb_val_free(&a);
    return n;
}

static void advance_to(int64_t t)
{
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "advance_s", (t - g_now) / 1000);
    lb_val_t *r = testd_call(&D, "admin.clock", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    int64_t now = 0;
    lb_map_int(lbc_reply_result(r), "now", &now);
    g_now = now;
    lb_val_free(&r);
    lb_val_free(&a);
}

static int64_t summary_int(const char *key)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "area", "650101");
    lb_map_set_str(a, "by", "village");
    lb_val_t *r = testd_call(&D, "report.summary", a);
    int64_t v = -1;
    lb_map_int(lb_map_get(lbc_reply_result(r), "totals"), key, &v);
    lb_val_free(&r);
    lb_val_free(&a);
    return v;
}

static void test_fires_on_the_working_day(void)
{
    int64_t due_a = due_of(case_a, 1), due_b = due_of(case_b, 1);
    CU_ASSERT_FATAL(due_a > 0 && due_b > due_a);
    CU_ASSERT_EQUAL(summary_int("overdue"), 0);
    int64_t seq = trust_last_seq(&D);
    /* a second before case A's subdistrict step: only the team steps fired */
    advance_to(due_a - 1000);
    CU_ASSERT_EQUAL(n_escalations(case_a), 1);
    CU_ASSERT_EQUAL(n_escalations(case_b), 1);
    CU_ASSERT_EQUAL(summary_int("overdue"), 3);
    CU_ASSERT_EQUAL(summary_int("unacked"), 3);
    int64_t at = 0;
    CU_ASSERT_EQUAL(escalation_events(seq, case_a, "subdistrict", &at), 0);
    /* at its due time it fires, on the topic of the case's village; case B, three days off
     * later, does not */
    advance_to(due_a + 1000);
    CU_ASSERT_EQUAL(n_escalations(case_a), 2);
    CU_ASSERT_EQUAL(n_escalations(case_b), 1);
    CU_ASSERT_EQUAL(escalation_events(seq, case_a, "subdistrict", &at), 1);
    CU_ASSERT_EQUAL(at, due_a);
    CU_ASSERT_EQUAL(escalation_events(seq, case_b, "subdistrict", &at), 0);
    advance_to(due_b);
    CU_ASSERT_EQUAL(n_escalations(case_b), 2);
    CU_ASSERT_EQUAL(summary_int("overdue"), 3);

    lb_val_t *r = testd_call(&D, "admin.verify", NULL);
    lb_val_t *ok = lb_map_get(lbc_reply_result(r), "ok");
    CU_ASSERT_TRUE(ok && ok->type == LB_BOOL && ok->b);
    lb_val_free(&r);
}

static void test_bad_file_refuses_the_start(void)
{
    int64_t district_b = due_of(case_b, 0); /* the one timer left */
    CU_ASSERT_FATAL(district_b > g_now);
    CU_ASSERT_EQUAL_FATAL(testd_stop(&D), 0);
    /* still the bad file of test_bad_file_refused_by_reload */
    CU_ASSERT_EQUAL_FATAL(trust_spawn(&D), 0);
    CU_ASSERT_EQUAL(trust_wait_exit(&D, 10000), 2);
    FILE *f = fopen(D.log, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[512], want[200];
    bool found = false;
    snprintf(want, sizeof want, "%s:5:13: bad date", hfile);
    while (fgets(line, sizeof line, f))
        found |= strstr(line, want) != NULL;
    fclose(f);
    CU_ASSERT_TRUE(found);
    /* a good file again (no days off now): the daemon starts, stored timers unchanged */
    CU_ASSERT_EQUAL_FATAL(write_holidays(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(testd_restart(&D), 0);
    CU_ASSERT_EQUAL(n_escalations(case_b), 2);
    CU_ASSERT_EQUAL(due_of(case_b, 0), district_b);
}

int main(void)
{
    static const cu_test_t tests[] = {
        {"working days, and a reload keeps set timers", test_working_days_and_reload},
        {"a bad holiday file is refused by reload", test_bad_file_refused_by_reload},
        {"steps fire on the working day", test_fires_on_the_working_day},
        {"a bad holiday file refuses the start", test_bad_file_refuses_the_start},
    };
    return cu_run("holidays", suite_init, suite_clean, tests, CU_COUNT(tests));
}
