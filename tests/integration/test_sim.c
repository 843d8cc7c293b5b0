/*
 * test_sim.c - integration tests for logbook-sim: the simulator runs as a
 * subprocess ($LOGBOOK_BIN/logbook-sim, default bin/) against real daemons
 * with a manual clock, and its results are checked through the daemon's own
 * report.summary and case.list: plausible, consistent with each other, and
 * the same for the same seed on a fresh daemon.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/testd.h"

#define SIM_HOUSEHOLDS 300
static const char *const sim_args[] = {"--households", "300", "--months", "6", "--seed", "7", NULL};

static const char *const states[] = {"identified", "visit_scheduled", "visited", "assisting",
                                     "follow_up",  "resolved",        "closed"};
#define NSTATES (sizeof states / sizeof states[0])

static testd_t D;         /* the first simulated province (manual clock) */
static lb_val_t *totals1; /* its report.summary totals */

static const char *sim_path(void)
{
    static char path[512];
    const char *bin = getenv("LOGBOOK_BIN");
    snprintf(path, sizeof path, "%s/logbook-sim", bin && *bin ? bin : "bin");
    return path;
}

/*
 * Runs logbook-sim against t with the connection options first, then extra (NULL-ended).
 * Output goes to t->dir/sim.out, printed when the exit status is not `expect`.
 * Returns the exit status, or -1.
 */
static int run_sim(testd_t *t, const char *const *extra, int expect)
{
    char out[400], cert[400], server[400];
    snprintf(out, sizeof out, "%s/sim.out", t->dir);
    snprintf(cert, sizeof cert, "%s/keys/admin.key_secret", t->data);
    snprintf(server, sizeof server, "%s/keys/server.key", t->data);
    const char *argv[32] = {"logbook-sim", "-e", t->req_ep, "-k", cert, "-s", server};
    int n = 7;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(sim_path(), (char *const *)argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    int rc = WEXITSTATUS(status);
    if (rc != expect) {
        fprintf(stderr, "\nlogbook-sim exited %d (expected %d); its output:\n", rc, expect);
        FILE *f = fopen(out, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f))
            fputs(line, stderr);
        if (f)
            fclose(f);
    }
    return rc;
}

/* report.summary {area: "65", by} on t; the reply's result (a copy, caller frees) or NULL. */
static lb_val_t *summary(testd_t *t, const char *by)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "area", "65");
    lb_map_set_str(a, "by", by);
    lb_val_t *r = testd_call(t, "report.summary", a);
    lb_val_free(&a);
    lb_val_t *res = r && lbc_reply_ok(r) ? lb_val_dup(lbc_reply_result(r)) : NULL;
    lb_val_free(&r);
    return res;
}

static int64_t get_int(const lb_val_t *m, const char *key)
{
    int64_t v = -1;
    lb_map_int(m, key, &v);
    return v;
}

static int64_t stat_int(testd_t *t, const char *key)
{
    lb_val_t *r = testd_call(t, "admin.stats", NULL);
    int64_t v = get_int(lbc_reply_result(r), key);
    lb_val_free(&r);
    return v;
}

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o))
        return -1;
    if (run_sim(&D, sim_args, 0) != 0)
        return -1;
    lb_val_t *res = summary(&D, "state");
    totals1 = res ? lb_val_dup(lb_map_get(res, "totals")) : NULL;
    lb_val_free(&res);
    return totals1 ? 0 : -1;
}

static int suite_clean(void)
{
    lb_val_free(&totals1);
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* ---- tests ---- */

static void test_totals_plausible(void)
{
    const lb_val_t *t = totals1;
    int64_t cases = get_int(t, "cases");
    CU_ASSERT_EQUAL(cases, SIM_HOUSEHOLDS);
    CU_ASSERT_EQUAL(get_int(t, "visited"), SIM_HOUSEHOLDS); /* all visited by the end */
    int64_t assisted = get_int(t, "assisted"), resolved = get_int(t, "resolved");
    int64_t closed = get_int(t, "closed"), open = get_int(t, "open");
    CU_ASSERT_TRUE(assisted > SIM_HOUSEHOLDS / 10 && assisted < SIM_HOUSEHOLDS * 7 / 10);
    CU_ASSERT_TRUE(resolved > 0 && resolved < SIM_HOUSEHOLDS / 2);
    CU_ASSERT_TRUE(closed > 0 && closed < SIM_HOUSEHOLDS / 10);
    CU_ASSERT_EQUAL(open + resolved + closed, cases);
    /* escalations fired and some are still waiting for a committee */
    CU_ASSERT_TRUE(get_int(t, "overdue") > 0);
    CU_ASSERT_TRUE(get_int(t, "unacked") > 0);
    CU_ASSERT_TRUE(get_int(t, "unacked") <= open);
    CU_ASSERT_TRUE(stat_int(&D, "escalations_fired") > SIM_HOUSEHOLDS);
    /* the states add up; nobody is left identified or scheduled after six months */
    const lb_val_t *bs = lb_map_get(t, "by_state");
    int64_t sum = 0;
    for (size_t i = 0; i < NSTATES; i++) {
        int64_t n = get_int(bs, states[i]);
        sum += n > 0 ? n : 0;
    }
    CU_ASSERT_EQUAL(sum, cases);
    CU_ASSERT_TRUE(get_int(bs, "identified") <= 0);
    CU_ASSERT_TRUE(get_int(bs, "visit_scheduled") <= 0);
    CU_ASSERT_EQUAL(get_int(bs, "resolved"), resolved);
    CU_ASSERT_EQUAL(get_int(bs, "closed"), closed);
    /* households progress: levels are set, the furthest along only by some */
    const lb_val_t *lv = lb_map_get(t, "levels");
    CU_ASSERT_TRUE(get_int(lv, "survive") > 0);
    CU_ASSERT_TRUE(get_int(lv, "sufficient") > 0);
    CU_ASSERT_TRUE(get_int(lv, "sustainable") > 0);
    /* income is the most common open need, as in TPMAP */
    const lb_val_t *no = lb_map_get(t, "needs_open");
    CU_ASSERT_TRUE(get_int(no, "income") > get_int(no, "health"));
    CU_ASSERT_TRUE(get_int(no, "income") > get_int(no, "accessibility"));
}

static void test_districts_are_phitsanulok(void)
{
    static const char *const codes[] = {"6501", "6502", "6503", "6504", "6505",
                                        "6506", "6507", "6508", "6509"};
    lb_val_t *res = summary(&D, "district");
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    const lb_val_t *rows = lb_map_get(res, "rows");
    CU_ASSERT_EQUAL_FATAL(rows ? rows->a.n : 0, 9);
    int64_t sum = 0;
    for (uint32_t i = 0; i < rows->a.n; i++) {
        CU_ASSERT_STRING_EQUAL(lb_map_str(rows->a.items[i], "key"), codes[i]);
        int64_t n = get_int(rows->a.items[i], "cases");
        CU_ASSERT_TRUE(n > 0);
        sum += n;
    }
    CU_ASSERT_EQUAL(sum, SIM_HOUSEHOLDS);
    /* Mueang Phitsanulok has the most target households */
    CU_ASSERT_TRUE(get_int(rows->a.items[0], "cases") > get_int(rows->a.items[6], "cases"));
    lb_val_free(&res);
}

/* Walks case.list over the province: the same cases and states the report counts. */
static void test_list_matches_report(void)
{
    int64_t per_state[NSTATES] = {0}, n = 0;
    char after[300] = "";
    lb_val_t *houses = lb_map();
    for (;;) {
        lb_val_t *a = lb_map();
        lb_map_set_str(a, "area", "65");
        lb_map_set_int(a, "limit", 128);
        if (after[0])
            lb_map_set_str(a, "after", after);
        lb_val_t *r = testd_call(&D, "case.list", a);
        lb_val_free(&a);
        CU_ASSERT_TRUE_FATAL(r && lbc_reply_ok(r));
        const lb_val_t *res = lbc_reply_result(r), *cases = lb_map_get(res, "cases");
        for (uint32_t i = 0; cases && i < cases->a.n; i++) {
            const lb_val_t *c = cases->a.items[i];
            const char *house = lb_map_str(c, "house_id"), *area = lb_map_str(c, "area");
            const char *st = lb_map_str(c, "state");
            CU_ASSERT_TRUE_FATAL(house && area && st);
            /* the house id starts with the district's registration office */
            CU_ASSERT_EQUAL(strncmp(house, area, 4), 0);
            CU_ASSERT_TRUE(lb_valid_area(area, true));
            CU_ASSERT_PTR_NULL(lb_map_get(houses, house)); /* one case per household */
            lb_map_set_bool(houses, house, true);
            CU_ASSERT_STRING_EQUAL(lb_map_str(c, "workflow"), "tpmap-household");
            for (size_t k = 0; k < NSTATES; k++)
                if (strcmp(st, states[k]) == 0)
                    per_state[k]++;
            n++;
        }
        const char *next = lb_map_str(res, "next");
        snprintf(after, sizeof after, "%s", next ? next : "");
        lb_val_free(&r);
        if (!after[0])
            break;
    }
    lb_val_free(&houses);
    CU_ASSERT_EQUAL(n, SIM_HOUSEHOLDS);
    const lb_val_t *bs = lb_map_get(totals1, "by_state");
    for (size_t k = 0; k < NSTATES; k++) {
        int64_t want = get_int(bs, states[k]);
        CU_ASSERT_EQUAL(per_state[k], want < 0 ? 0 : want);
    }
}

/* One case in depth: household data as generated, records as the teams wrote them. */
static void test_case_contents(void)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "area", "65");
    lb_map_set_str(a, "state", "resolved");
    lb_map_set_int(a, "limit", 1);
    lb_val_t *r = testd_call(&D, "case.list", a);
    lb_val_free(&a);
    const lb_val_t *cases = lb_map_get(lbc_reply_result(r), "cases");
    CU_ASSERT_TRUE_FATAL(cases && cases->a.n == 1);
    a = lb_map();
    lb_map_set_str(a, "case_id", lb_map_str(cases->a.items[0], "case_id"));
    lb_val_t *g = testd_call(&D, "case.get", a);
    lb_val_free(&a);
    lb_val_free(&r);
    const lb_val_t *c = lbc_reply_result(g);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(lb_map_str(c, "source"), "tpmap");
    const lb_val_t *hh = lb_map_get(c, "household"), *members = lb_map_get(hh, "members");
    CU_ASSERT_PTR_NOT_NULL(lb_map_str(hh, "head"));
    CU_ASSERT_TRUE_FATAL(members && members->type == LB_ARR && members->a.n >= 1);
    for (uint32_t i = 0; i < members->a.n; i++) {
        const char *nid = lb_map_str(members->a.items[i], "nid");
        CU_ASSERT_TRUE(nid && lb_valid_nid(nid));
    }
    CU_ASSERT_STRING_EQUAL(lb_map_str(hh, "head"), lb_map_str(members->a.items[0], "name"));
    const lb_val_t *visits = lb_map_get(c, "visits"), *fus = lb_map_get(c, "follow_ups");
    CU_ASSERT_TRUE(visits && visits->a.n == 1);
    CU_ASSERT_TRUE(fus && fus->a.n >= 1);
    const char *level = lb_map_str(c, "level");
    CU_ASSERT_TRUE(level &&
                   (strcmp(level, "sufficient") == 0 || strcmp(level, "sustainable") == 0));
    const lb_val_t *needs = lb_map_get(c, "needs");
    CU_ASSERT_TRUE(needs && needs->a.n >= 1 && needs->a.n <= 4);
    const char *team = lb_map_str(c, "team");
    CU_ASSERT_TRUE(team && strncmp(team, "team-65", 7) == 0);
    lb_val_free(&g);
}

/* The same seed on a fresh daemon: the same figures, district by district. */
static void test_same_seed_same_figures(void)
{
    testd_t t;
    testd_opts_t o = {.manual_clock = true};
    CU_ASSERT_EQUAL_FATAL(testd_start(&t, &o), 0);
    CU_ASSERT_EQUAL(run_sim(&t, sim_args, 0), 0);
    lb_val_t *res = summary(&t, "district"), *res1 = summary(&D, "district");
    CU_ASSERT_PTR_NOT_NULL(res);
    lb_val_t *totals = res ? lb_map_get(res, "totals") : NULL;
    CU_ASSERT_TRUE(totals && lb_val_equal(totals, lb_map_get(res1, "totals")));
    CU_ASSERT_TRUE(res && lb_val_equal(lb_map_get(res, "rows"), lb_map_get(res1, "rows")));
    lb_val_t *st = summary(&t, "state");
    CU_ASSERT_TRUE(st && lb_val_equal(lb_map_get(st, "totals"), totals1));
    CU_ASSERT_EQUAL(stat_int(&t, "escalations_fired"), stat_int(&D, "escalations_fired"));
    lb_val_free(&st);
    lb_val_free(&res);
    lb_val_free(&res1);
    CU_ASSERT_EQUAL(testd_stop(&t), 0);
    testd_cleanup(&t);
}

/*
 * Another seed is another province. Running it again on the same daemon skips every
 * household with an open case; those resolved or closed get a new case (TPMAP lists them
 * again), and the simulation drives only those.
 */
static void test_other_seed_differs_and_rerun_skips(void)
{
    testd_t t;
    testd_opts_t o = {.manual_clock = true};
    CU_ASSERT_EQUAL_FATAL(testd_start(&t, &o), 0);
    static const char *const other[] = {"--households", "300", "--months", "6",
                                        "--seed",       "8",   NULL};
    CU_ASSERT_EQUAL(run_sim(&t, other, 0), 0);
    lb_val_t *st = summary(&t, "state");
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    const lb_val_t *tot = lb_map_get(st, "totals");
    CU_ASSERT_EQUAL(get_int(tot, "cases"), SIM_HOUSEHOLDS);
    CU_ASSERT_FALSE(lb_val_equal(tot, totals1));
    int64_t done = get_int(tot, "resolved") + get_int(tot, "closed");
    int64_t open = get_int(tot, "open");
    CU_ASSERT_TRUE(done > 0);
    lb_val_free(&st);
    static const char *const again[] = {"--households", "300", "--months", "1",
                                        "--seed",       "8",   NULL};
    CU_ASSERT_EQUAL(run_sim(&t, again, 0), 0);
    st = summary(&t, "state");
    tot = lb_map_get(st, "totals");
    CU_ASSERT_EQUAL(get_int(tot, "cases"), SIM_HOUSEHOLDS + done);
    CU_ASSERT_TRUE(get_int(tot, "open") >= open);
    lb_val_free(&st);
    CU_ASSERT_EQUAL(testd_stop(&t), 0);
    testd_cleanup(&t);
}

/* Against a real-clock daemon: months pass without time moving; nothing escalates. */
static void test_real_clock(void)
{
    testd_t t;
    testd_opts_t o = {.manual_clock = false};
    CU_ASSERT_EQUAL_FATAL(testd_start(&t, &o), 0);
    static const char *const args[] = {"--households", "60", "--months", "2", "--seed", "3",
                                       "--province",   "91", NULL};
    CU_ASSERT_EQUAL(run_sim(&t, args, 0), 0);
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "area", "91");
    lb_map_set_str(a, "by", "district");
    lb_val_t *r = testd_call(&t, "report.summary", a);
    const lb_val_t *res = lbc_reply_result(r), *tot = lb_map_get(res, "totals");
    CU_ASSERT_EQUAL(get_int(tot, "cases"), 60);
    CU_ASSERT_EQUAL(get_int(tot, "visited"), 60);
    CU_ASSERT_EQUAL(get_int(tot, "overdue"), 0);
    const lb_val_t *rows = lb_map_get(res, "rows");
    CU_ASSERT_TRUE(rows && rows->a.n >= 1 && rows->a.n <= 7); /* Satun's 7 districts */
    CU_ASSERT_EQUAL(stat_int(&t, "escalations_fired"), 0);
    lb_val_free(&a);
    lb_val_free(&r);
    CU_ASSERT_EQUAL(testd_stop(&t), 0);
    testd_cleanup(&t);
}

static void test_usage_and_unreachable(void)
{
    static const char *const zero[] = {"--households", "0", NULL};
    static const char *const districts[] = {"--province", "65", "--districts", "3", NULL};
    static const char *const province[] = {"--province", "7", NULL};
    static const char *const stray[] = {"extra", NULL};
    CU_ASSERT_EQUAL(run_sim(&D, zero, 2), 2);
    CU_ASSERT_EQUAL(run_sim(&D, districts, 2), 2);
    CU_ASSERT_EQUAL(run_sim(&D, province, 2), 2);
    CU_ASSERT_EQUAL(run_sim(&D, stray, 2), 2);
    /* A stopped daemon's endpoint: nobody answers. */
    testd_t t;
    testd_opts_t o = {.manual_clock = true};
    CU_ASSERT_EQUAL_FATAL(testd_start(&t, &o), 0);
    CU_ASSERT_EQUAL(testd_stop(&t), 0);
    static const char *const small[] = {"--households", "5", "--months", "1", NULL};
    CU_ASSERT_EQUAL(run_sim(&t, small, 3), 3);
    testd_cleanup(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sim", suite_init, suite_clean);
    CU_add_test(s, "totals are plausible and add up", test_totals_plausible);
    CU_add_test(s, "the districts are Phitsanulok's", test_districts_are_phitsanulok);
    CU_add_test(s, "case.list matches the report", test_list_matches_report);
    CU_add_test(s, "a resolved case's contents", test_case_contents);
    CU_add_test(s, "same seed, fresh daemon, same figures", test_same_seed_same_figures);
    CU_add_test(s, "another seed differs; a rerun skips open households",
                test_other_seed_differs_and_rerun_skips);
    CU_add_test(s, "real clock: no escalations", test_real_clock);
    CU_add_test(s, "usage errors and an unreachable daemon", test_usage_and_unreachable);
    return testd_run_all();
}
