/*
 * workflow/holidays.c - working days: the holiday file's loader and its
 * refusals, the business-day arithmetic in Bangkok time over 2026 (Songkran,
 * a substitution day, a special holiday), `after: Nbd` steps in workflows
 * and the timers the engine sets with them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

#define BKK (7 * HOUR)
/* Unix ms of a Bangkok wall-clock time. */
#define AT(y, mo, d, h, mi) (wf_day_from_ymd(y, mo, d) * DAY + (h)*HOUR + (mi)*60 * SEC - BKK)

static wf_calendar_t *g_hol; /* config/holidays.yaml */

static int hol_init(void)
{
    char err[512];
    if (wf_suite_init())
        return 1;
    if (wf_calendar_load("config/holidays.yaml", &g_hol, err, sizeof(err))) {
        fprintf(stderr, "suite init: %s\n", err);
        return 1;
    }
    return 0;
}

static int hol_clean(void)
{
    wf_calendar_destroy(&g_hol);
    return wf_suite_clean();
}

static void test_shipped_file(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(g_hol);
    CU_ASSERT(wf_calendar_covers(g_hol, 2026) && wf_calendar_covers(g_hol, 2027));
    CU_ASSERT_FALSE(wf_calendar_covers(g_hol, 2025));
    CU_ASSERT_FALSE(wf_calendar_covers(g_hol, 2028));
    CU_ASSERT_EQUAL(wf_calendar_count(g_hol), 44);
    /* Songkran, the Visakha Bucha substitution day, the special 2 January */
    const int off[][3] = {{2026, 4, 13}, {2026, 4, 14}, {2026, 4, 15}, {2026, 6, 1},
                          {2026, 1, 2},  {2026, 12, 7}, {2027, 4, 13}, {2027, 10, 25}};
    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
        CU_ASSERT_FALSE(
            wf_calendar_working_day(g_hol, wf_day_from_ymd(off[i][0], off[i][1], off[i][2])));
    /* Labour Day is no government holiday; withdrawn special days (2 June 2026) are working */
    CU_ASSERT(wf_calendar_working_day(g_hol, wf_day_from_ymd(2026, 5, 1)));
    CU_ASSERT(wf_calendar_working_day(g_hol, wf_day_from_ymd(2026, 6, 2)));
    CU_ASSERT(wf_calendar_working_day(g_hol, wf_day_from_ymd(2026, 4, 16)));
    /* weekends, and without a calendar every weekday works */
    CU_ASSERT_FALSE(wf_calendar_working_day(g_hol, wf_day_from_ymd(2026, 4, 11)));
    CU_ASSERT_FALSE(wf_calendar_working_day(NULL, wf_day_from_ymd(2026, 4, 12)));
    CU_ASSERT(wf_calendar_working_day(NULL, wf_day_from_ymd(2026, 4, 13)));
}

static void test_dates(void)
{
    CU_ASSERT_EQUAL(wf_day_from_ymd(1970, 1, 1), 0);
    CU_ASSERT_EQUAL(wf_day_from_ymd(2026, 4, 13), 20556);
    CU_ASSERT_EQUAL(wf_year_of_day(20556), 2026);
    CU_ASSERT_EQUAL(wf_year_of_day(wf_day_from_ymd(2028, 12, 31)), 2028);
    /* Bangkok dates change at 17:00 UTC */
    CU_ASSERT_EQUAL(wf_day_of(wf_day_from_ymd(2026, 4, 10) * DAY + 17 * HOUR - 1), 20553);
    CU_ASSERT_EQUAL(wf_day_of(wf_day_from_ymd(2026, 4, 10) * DAY + 17 * HOUR), 20554);
    CU_ASSERT_EQUAL(AT(2026, 4, 13, 7, 0), wf_day_from_ymd(2026, 4, 13) * DAY);
}

static void test_add_bd_songkran(void)
{
    /* Friday 10 April 2026, 10:00: Saturday, Sunday and Songkran (Mon-Wed) are skipped */
    int64_t fri = AT(2026, 4, 10, 10, 0);
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, fri, 1), AT(2026, 4, 16, 10, 0));
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, fri, 5), AT(2026, 4, 22, 10, 0));
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, fri, 10), AT(2026, 4, 29, 10, 0));
    CU_ASSERT_EQUAL(wf_calendar_add_bd(NULL, fri, 1), AT(2026, 4, 13, 10, 0));
    CU_ASSERT_EQUAL(wf_calendar_add_bd(NULL, fri, 10), AT(2026, 4, 24, 10, 0));
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, fri, 0), fri);
    /* from a holiday (Chakri Day, Monday 6 April): its own date never counts */
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, AT(2026, 4, 6, 8, 0), 10), AT(2026, 4, 23, 8, 0));
    /* 23:30 on Friday in Bangkok is still Friday there (16:30 UTC) */
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, AT(2026, 4, 10, 23, 30), 1), AT(2026, 4, 16, 23, 30));
    /* 00:30 on Saturday in Bangkok is Friday 17:30 UTC: counted from Saturday, same result */
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, AT(2026, 4, 11, 0, 30), 1), AT(2026, 4, 16, 0, 30));
    /* 06:30 on Friday in Bangkok is Thursday 23:30 UTC: a UTC date would count from Thursday */
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, AT(2026, 4, 10, 6, 30), 1), AT(2026, 4, 16, 6, 30));
}

static void test_add_bd_substitution(void)
{
    /* Thursday 28 May 2026: Visakha Bucha on Sunday 31 May gives Monday 1 June off,
     * and Wednesday 3 June is the Queen's birthday */
    int64_t thu = AT(2026, 5, 28, 9, 0);
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, thu, 1), AT(2026, 5, 29, 9, 0));
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, thu, 2), AT(2026, 6, 2, 9, 0));
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, thu, 3), AT(2026, 6, 4, 9, 0));
    /* Friday 4 December: 5 December (a Saturday) gives Monday 7 December, 10 December off */
    int64_t dec = AT(2026, 12, 4, 14, 0);
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, dec, 1), AT(2026, 12, 8, 14, 0));
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, dec, 3), AT(2026, 12, 11, 14, 0));
    /* across the year: 31 December, 1 January 2027 */
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, AT(2026, 12, 30, 9, 0), 1), AT(2027, 1, 4, 9, 0));
    /* times no calendar date holds never fall due */
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, -1, 1), INT64_MAX);
    CU_ASSERT_EQUAL(wf_calendar_add_bd(g_hol, INT64_MAX - 5, 1), INT64_MAX);
}

static void test_parse_after(void)
{
    int64_t ms = 0;
    uint32_t bd = 99;
    CU_ASSERT(wf_parse_after("7d", &ms, &bd) == 0 && ms == 7 * DAY && bd == 0);
    CU_ASSERT(wf_parse_after("10bd", &ms, &bd) == 0 && bd == 10 && ms == 12 * DAY);
    CU_ASSERT(wf_parse_after("5bd", &ms, &bd) == 0 && bd == 5 && ms == 5 * DAY);
    CU_ASSERT(wf_parse_after("6bd", &ms, &bd) == 0 && bd == 6 && ms == 8 * DAY);
    CU_ASSERT(wf_parse_after("1000bd", NULL, &bd) == 0 && bd == 1000);
    const char *bad[] = {"0bd",   "1001bd", "bd",    "10b",           "-1bd",
                         "1.5bd", "10bdd",  "10 bd", "99999999999bd", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL(wf_parse_after(bad[i], &ms, &bd), LB_ECONFIG);
    CU_ASSERT_EQUAL(wf_parse_after(NULL, &ms, &bd), LB_ECONFIG);
}

/* The file refused: LB_ECONFIG, no calendar, err starts with "h.yaml:line:col: " and holds text. */
static void expect_bad_cal(const char *yaml, unsigned line, unsigned col, const char *text)
{
    char err[512], want[64];
    wf_calendar_t *cal = (wf_calendar_t *)1;
    CU_ASSERT_EQUAL(wf_calendar_load_text("h.yaml", yaml, strlen(yaml), &cal, err, sizeof(err)),
                    LB_ECONFIG);
    CU_ASSERT_PTR_NULL(cal);
    snprintf(want, sizeof(want), "h.yaml:%u:%u: ", line, col);
    CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, text));
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, text))
        fprintf(stderr, "\n  want %s...%s, got %s\n", want, text, err);
}

#define HEAD "source: test\nyears: [2026]\nholidays:\n"

static void test_refusals(void)
{
    expect_bad_cal(HEAD "  - { date: 2026-02-30, th: x, en: y }\n", 4, 13, "bad date '2026-02-30'");
    expect_bad_cal(HEAD "  - { date: 26-02-03, th: x, en: y }\n", 4, 13, "bad date");
    expect_bad_cal(HEAD "  - { date: 2027-01-01, th: x, en: y }\n", 4, 13, "not among years");
    expect_bad_cal(HEAD "  - { date: 2026-01-01, th: x, en: y }\n  - { date: 2026-01-01, th: x, "
                        "en: z }\n",
                   5, 13, "listed twice");
    expect_bad_cal(HEAD "  - { date: 2026-01-01, th: x }\n", 4, 5, "missing 'en'");
    expect_bad_cal(HEAD "  - { date: 2026-01-01, th: x, en: y, day: z }\n", 4, 39,
                   "unknown key 'day'");
    expect_bad_cal(HEAD "  - { date: 2026-01-01, th: '', en: y }\n", 4, 29, "th must not be empty");
    expect_bad_cal(HEAD "  - { date: 2026-01-01, th: x, en: y, confirmed: maybe }\n", 4, 50,
                   "confirmed");
    expect_bad_cal("source: test\nyears: [1969]\nholidays: []\n", 2, 9, "out of range");
    expect_bad_cal("source: test\nyears: [2026, 2026]\nholidays: []\n", 2, 15, "listed twice");
    expect_bad_cal("source: test\nyears: []\nholidays: []\n", 2, 8, "years must be a list");
    expect_bad_cal("years: [2026]\nholidays: []\n", 1, 1, "missing 'source'");
    expect_bad_cal("source: test\nyears: [2026]\nholidays: {}\n", 3, 11, "must be a list");
    expect_bad_cal("- a\n", 1, 1, "must be a map");

    /* an empty list is a calendar of weekends only; confirmed and note are accepted */
    char err[256];
    wf_calendar_t *cal = NULL;
    const char *ok = HEAD "  - { date: 2026-04-13, th: x, en: y, confirmed: false, note: n }\n";
    CU_ASSERT_EQUAL(wf_calendar_load_text("h.yaml", ok, strlen(ok), &cal, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(wf_calendar_count(cal), 1);
    CU_ASSERT_FALSE(wf_calendar_working_day(cal, wf_day_from_ymd(2026, 4, 13)));
    wf_calendar_destroy(&cal);
    wf_calendar_destroy(&cal); /* safe on NULL */
    CU_ASSERT_EQUAL(wf_calendar_load("tests/data/no-such-holidays.yaml", &cal, err, sizeof(err)),
                    LB_ECONFIG);
    CU_ASSERT_PTR_NULL(cal);
}

/* A workflow with one state escalating by the given steps (YAML flow items). */
static wf_set_t *steps_set(const char *steps, char *err, size_t errlen)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "workflow: bd\nversion: 1\ninitial: open\nstates:\n  open:\n    escalate: [%s]\n"
             "  done: { terminal: true }\nactions:\n  finish: { from: [open], to: done }\n",
             steps);
    wf_set_t *set = NULL;
    wf_set_load_text("bd.yaml", text, strlen(text), &set, err, errlen);
    return set;
}

static void test_workflow_steps(void)
{
    char err[512];
    /* 10bd can take as little as 12 days: after 14d it is out of order, after 11d it is not */
    CU_ASSERT_PTR_NULL(
        steps_set("{after: 14d, to: team}, {after: 10bd, to: subdistrict}", err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "escalation steps out of order: '10bd'"));
    CU_ASSERT_PTR_NULL(steps_set("{after: 0bd, to: team}", err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad duration '0bd'"));
    wf_set_t *set = steps_set("{after: 11d, to: team}, {after: 10bd, to: subdistrict}, "
                              "{after: 13d, to: district}",
                              err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(set);
    const wf_def_t *def = wf_set_get(set, "bd", 0);

    /* workflow.get shows the count */
    lb_val_t *d = wf_def_describe(def, true);
    const lb_val_t *esc = lb_map_get(lb_map_get(lb_map_get(d, "states"), "open"), "escalate");
    int64_t v = 0;
    CU_ASSERT_EQUAL(lb_map_int(esc->a.items[1], "business_days", &v), 0);
    CU_ASSERT_EQUAL(v, 10);
    CU_ASSERT_STRING_EQUAL(lb_map_str(esc->a.items[1], "after"), "10bd");
    CU_ASSERT_PTR_NULL(lb_map_get(esc->a.items[0], "business_days"));
    lb_val_free(&d);

    /* opened on Friday 10 April 2026: 10bd ends on 29 April, so the 13d step (23 April)
     * waits for it rather than fire first */
    wf_case_t c;
    CU_ASSERT_EQUAL_FATAL(wf_case_init(&c), 0);
    int64_t t = AT(2026, 4, 10, 10, 0);
    CU_ASSERT_EQUAL_FATAL(wf_open(def, g_cat, g_hol, &c, NULL, t, &g_err), 0);
    CU_ASSERT_EQUAL_FATAL(c.n_timers, 3);
    CU_ASSERT_EQUAL(c.timers[0].due, t + 11 * DAY);
    CU_ASSERT_EQUAL(c.timers[1].due, AT(2026, 4, 29, 10, 0));
    CU_ASSERT_EQUAL(c.timers[2].due, AT(2026, 4, 29, 10, 0));
    wf_escalation_t x;
    CU_ASSERT_EQUAL(wf_fire_due(&c, AT(2026, 4, 29, 10, 0) - 1, &x), 1);
    CU_ASSERT_EQUAL(x.step, 0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, AT(2026, 4, 29, 10, 0) - 1, &x), 0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, AT(2026, 4, 29, 10, 0), &x), 1);
    CU_ASSERT_EQUAL(x.step, 1); /* in the order listed */
    wf_case_clear(&c);

    /* without the calendar the same case counts weekends only */
    CU_ASSERT_EQUAL_FATAL(wf_case_init(&c), 0);
    CU_ASSERT_EQUAL_FATAL(wf_open(def, g_cat, NULL, &c, NULL, t, &g_err), 0);
    CU_ASSERT_EQUAL(c.timers[1].due, AT(2026, 4, 24, 10, 0));
    wf_case_clear(&c);
    wf_set_destroy(&set);
}

static void test_tpmap_working_days(void)
{
    /* TPMAP: identified counts 10 and 20 working days to the subdistrict and district */
    wf_case_t c;
    CU_ASSERT_EQUAL_FATAL(wf_case_init(&c), 0);
    int64_t t = AT(2026, 4, 3, 16, 45); /* Friday before Chakri Day and Songkran */
    CU_ASSERT_EQUAL_FATAL(wf_open(g_tp, g_cat, g_hol, &c, NULL, t, &g_err), 0);
    CU_ASSERT_EQUAL_FATAL(c.n_timers, 3);
    CU_ASSERT_EQUAL(c.timers[0].due, t + 7 * DAY);
    /* 7,8,9,10, 16,17, 20,21,22,23 April (6 and 13-15 off) */
    CU_ASSERT_EQUAL(c.timers[1].due, AT(2026, 4, 23, 16, 45));
    /* then 24, 27-30 April, (1 May works) 1, (4 May off) 5-8 May */
    CU_ASSERT_EQUAL(c.timers[2].due, AT(2026, 5, 8, 16, 45));

    /* an action entering visit_scheduled counts from its own date, with the calendar it gets */
    wf_act_t a = {.action = "schedule_visit",
                  .data = tval_tmp("{'team':'t1'}"),
                  .role = "field",
                  .actor = "t",
                  .at = AT(2026, 5, 29, 9, 0), /* Friday; 1 and 3 June are off */
                  .calendar = g_hol};
    EXPECT_OK(wf_apply(g_tp, g_cat, &c, &a, &g_out, &g_err));
    CU_ASSERT_EQUAL(c.timers[0].due, AT(2026, 6, 16, 9, 0));
    wf_outcome_clear(&g_out);
    wf_case_clear(&c);
}

static const cu_test_t tests[] = {
    {"the shipped holiday file", test_shipped_file},
    {"dates in Bangkok", test_dates},
    {"working days over Songkran 2026", test_add_bd_songkran},
    {"working days over substitution days", test_add_bd_substitution},
    {"after: Nbd", test_parse_after},
    {"holiday file refusals", test_refusals},
    {"business-day steps in a workflow", test_workflow_steps},
    {"TPMAP counts working days", test_tpmap_working_days},
};
const cu_suite_t workflow_holidays_suite = {.name = "holidays",
                                            .init = hol_init,
                                            .clean = hol_clean,
                                            .teardown = wf_test_teardown,
                                            .tests = tests,
                                            .n = CU_COUNT(tests)};
