/*
 * workflow/helpers.c - what the workflow test files share: the loaded sets and catalog, expected
 * load refusals, cases opened and acted on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

wf_set_t *g_set;  /* config/workflows */
wf_set_t *g_test; /* tests/data/workflows/good */
wf_catalog_t *g_cat;
const wf_def_t *g_tp, *g_sm, *g_et;
wf_outcome_t g_out;
wf_error_t g_err;

/* Per test: frees the values of tval_tmp() and clears the outcome. */
void wf_test_teardown(void)
{
    tval_tmp_free();
    wf_outcome_clear(&g_out);
}

int wf_suite_init(void)
{
    char err[512];
    if (wf_set_load("config/workflows", &g_set, err, sizeof(err)) ||
        wf_set_load(FIX "good", &g_test, err, sizeof(err)) ||
        wf_catalog_load("config/indicators.yaml", &g_cat, err, sizeof(err))) {
        fprintf(stderr, "suite init: %s\n", err);
        return 1;
    }
    g_tp = wf_set_get(g_set, "tpmap-household", 0);
    g_sm = wf_set_get(g_set, "socialmap-referral", 0);
    g_et = wf_set_get(g_test, "engine-test", 1);
    return g_tp && g_sm && g_et ? 0 : 1;
}

int wf_suite_clean(void)
{
    wf_set_destroy(&g_set);
    wf_set_destroy(&g_test);
    wf_catalog_destroy(&g_cat);
    return 0;
}

/*
 * Loading path is refused: LB_ECONFIG, no set, and err starts with
 * file:line:col: (file is the one inside path when path is a folder).
 */
void expect_bad_in(const char *path, const char *file, unsigned line, unsigned col,
                   const char *text)
{
    char err[512] = "", prefix[300];
    wf_set_t *set = NULL;
    int rc = wf_set_load(path, &set, err, sizeof(err));
    CU_ASSERT_EQUAL(rc, LB_ECONFIG);
    CU_ASSERT_PTR_NULL(set);
    snprintf(prefix, sizeof(prefix), "%s:%u:%u: ", file, line, col);
    bool ok = strncmp(err, prefix, strlen(prefix)) == 0 && (!text || strstr(err, text));
    if (!ok)
        fprintf(stderr, "\n  want %s...%s\n  got  %s\n", prefix, text ? text : "", err);
    CU_ASSERT(ok);
    wf_set_destroy(&set);
}

void expect_bad(const char *path, unsigned line, unsigned col, const char *text)
{
    expect_bad_in(path, path, line, col, text);
}

void expect_bad_catalog(const char *path, unsigned line, unsigned col, const char *text)
{
    char err[512] = "", prefix[300];
    wf_catalog_t *cat = NULL;
    int rc = wf_catalog_load(path, &cat, err, sizeof(err));
    CU_ASSERT_EQUAL(rc, LB_ECONFIG);
    CU_ASSERT_PTR_NULL(cat);
    snprintf(prefix, sizeof(prefix), "%s:%u:%u: ", path, line, col);
    bool ok = strncmp(err, prefix, strlen(prefix)) == 0 && (!text || strstr(err, text));
    if (!ok)
        fprintf(stderr, "\n  want %s...%s\n  got  %s\n", prefix, text ? text : "", err);
    CU_ASSERT(ok);
    wf_catalog_destroy(&cat);
}

void new_case(wf_case_t *c, const wf_def_t *def, const char *deprived, int64_t now)
{
    CU_ASSERT_FATAL(wf_case_init(c) == 0);
    c->id = 42;
    lb_case_id_format(42, c->case_id);
    snprintf(c->house_id, sizeof(c->house_id), "%s", "91010000001");
    snprintf(c->area, sizeof(c->area), "%s", "91010101");
    snprintf(c->source, sizeof(c->source), "%s", "tpmap");
    int rc = wf_open(def, g_cat, NULL, c, deprived ? tval_tmp(deprived) : NULL, now, &g_err);
    CU_ASSERT_FATAL(rc == 0);
}

/* Runs one action; the outcome stays in g_out, an error in g_err. */
int act(const wf_def_t *def, wf_case_t *c, const char *action, const char *role, const char *data,
        int64_t at)
{
    wf_outcome_clear(&g_out);
    wf_act_t a = {action, data ? tval_tmp(data) : NULL, role, "tester", at};
    return wf_apply(def, g_cat, c, &a, &g_out, &g_err);
}

const char *need_status(const wf_case_t *c, const char *indicator)
{
    for (uint32_t i = 0; i < c->needs->a.n; i++) {
        const char *ind = lb_map_str(c->needs->a.items[i], "indicator");
        if (ind && strcmp(ind, indicator) == 0)
            return lb_map_str(c->needs->a.items[i], "status");
    }
    return NULL;
}

/* A tpmap case moved to assisting (and on to follow_up when asked). */
void tp_case_in(wf_case_t *c, const char *state)
{
    new_case(c, g_tp, "['bmn1','bmn8']", T0);
    EXPECT_OK(act(g_tp, c, "record_visit", "field", "{'findings':{}}", T0 + DAY));
    EXPECT_OK(act(g_tp, c, "plan_assistance", "committee", NULL, T0 + 2 * DAY));
    if (strcmp(state, "follow_up") == 0)
        EXPECT_OK(act(g_tp, c, "start_follow_up", "field", NULL, T0 + 3 * DAY));
    CU_ASSERT_STRING_EQUAL(c->state, state);
}
