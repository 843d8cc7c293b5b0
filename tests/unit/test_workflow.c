/*
 * test_workflow.c - CUnit tests of workflow/: the shipped workflows and
 * catalog load, every refusal of the loaders points at the right
 * file:line:column, and every engine rule (transitions, roles, records,
 * needs, timers, escalations, the stored case form) behaves as specified.
 * Runs from the repository root; fixtures are under tests/data/workflows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "../../proto/proto.h"
#include "../../workflow/workflow.h"
#include "../lib/tval.h"

#define FIX "tests/data/workflows/"
#define T0 INT64_C(1700000000000)
#define SEC INT64_C(1000)
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)

static wf_set_t *g_set;  /* config/workflows */
static wf_set_t *g_test; /* tests/data/workflows/good */
static wf_catalog_t *g_cat;
static const wf_def_t *g_tp, *g_sm, *g_et;
static wf_outcome_t g_out;
static wf_error_t g_err;

/* Per test: frees the values of tval_tmp() and clears the outcome. */
static void test_teardown(void)
{
    tval_tmp_free();
    wf_outcome_clear(&g_out);
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

static int suite_init(void)
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

static int suite_clean(void)
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
static void expect_bad_in(const char *path, const char *file, unsigned line, unsigned col,
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

static void expect_bad(const char *path, unsigned line, unsigned col, const char *text)
{
    expect_bad_in(path, path, line, col, text);
}

static void expect_bad_catalog(const char *path, unsigned line, unsigned col, const char *text)
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

static void new_case(wf_case_t *c, const wf_def_t *def, const char *deprived, int64_t now)
{
    CU_ASSERT_FATAL(wf_case_init(c) == 0);
    c->id = 42;
    lb_case_id_format(42, c->case_id);
    snprintf(c->house_id, sizeof(c->house_id), "%s", "91010000001");
    snprintf(c->area, sizeof(c->area), "%s", "91010101");
    snprintf(c->source, sizeof(c->source), "%s", "tpmap");
    int rc = wf_open(def, g_cat, c, deprived ? tval_tmp(deprived) : NULL, now, &g_err);
    CU_ASSERT_FATAL(rc == 0);
}

/* Runs one action; the outcome stays in g_out, an error in g_err. */
static int act(const wf_def_t *def, wf_case_t *c, const char *action, const char *role,
               const char *data, int64_t at)
{
    wf_outcome_clear(&g_out);
    wf_act_t a = {action, data ? tval_tmp(data) : NULL, role, "tester", at};
    return wf_apply(def, g_cat, c, &a, &g_out, &g_err);
}

#define EXPECT_ERR(rc, code, fld)                                                                  \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        CU_ASSERT_EQUAL(rc_, code);                                                                \
        CU_ASSERT_STRING_EQUAL(g_err.field, fld);                                                  \
        if (rc_ != (code) || strcmp(g_err.field, fld) != 0)                                        \
            fprintf(stderr, "\n  line %d: rc %d field '%s': %s\n", __LINE__, rc_, g_err.field,     \
                    g_err.message);                                                                \
    } while (0)

#define EXPECT_OK(rc)                                                                              \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        CU_ASSERT_EQUAL(rc_, 0);                                                                   \
        if (rc_)                                                                                   \
            fprintf(stderr, "\n  line %d: rc %d field '%s': %s\n", __LINE__, rc_, g_err.field,     \
                    g_err.message);                                                                \
    } while (0)

static const char *need_status(const wf_case_t *c, const char *indicator)
{
    for (uint32_t i = 0; i < c->needs->a.n; i++) {
        const char *ind = lb_map_str(c->needs->a.items[i], "indicator");
        if (ind && strcmp(ind, indicator) == 0)
            return lb_map_str(c->needs->a.items[i], "status");
    }
    return NULL;
}

/* A tpmap case moved to assisting (and on to follow_up when asked). */
static void tp_case_in(wf_case_t *c, const char *state)
{
    new_case(c, g_tp, "['bmn1','bmn8']", T0);
    EXPECT_OK(act(g_tp, c, "record_visit", "field", "{'findings':{}}", T0 + DAY));
    EXPECT_OK(act(g_tp, c, "plan_assistance", "committee", NULL, T0 + 2 * DAY));
    if (strcmp(state, "follow_up") == 0)
        EXPECT_OK(act(g_tp, c, "start_follow_up", "field", NULL, T0 + 3 * DAY));
    CU_ASSERT_STRING_EQUAL(c->state, state);
}

/* ---------------------------------------------------------------------- */
/* Loading                                                                 */
/* ---------------------------------------------------------------------- */

static void test_load_shipped(void)
{
    CU_ASSERT_EQUAL(wf_set_count(g_set), 2);
    /* sorted by name */
    CU_ASSERT_STRING_EQUAL(wf_def_name(wf_set_at(g_set, 0)), "socialmap-referral");
    CU_ASSERT_STRING_EQUAL(wf_def_name(wf_set_at(g_set, 1)), "tpmap-household");
    CU_ASSERT_PTR_NULL(wf_set_at(g_set, 2));
    CU_ASSERT_EQUAL(wf_def_version(g_tp), 1);
    CU_ASSERT_STRING_EQUAL(wf_def_initial(g_tp), "identified");
    const char *outcome = NULL;
    CU_ASSERT(wf_def_is_terminal(g_tp, "resolved", &outcome));
    CU_ASSERT_STRING_EQUAL(outcome, "resolved");
    CU_ASSERT(wf_def_is_terminal(g_tp, "closed", &outcome));
    CU_ASSERT_STRING_EQUAL(outcome, "closed");
    CU_ASSERT_FALSE(wf_def_is_terminal(g_tp, "assisting", NULL));
    CU_ASSERT_FALSE(wf_def_is_terminal(g_tp, "nowhere", NULL));
    CU_ASSERT(wf_def_has_state(g_tp, "follow_up"));
    CU_ASSERT_FALSE(wf_def_has_state(g_tp, "Follow_up"));
    CU_ASSERT_STRING_EQUAL(wf_def_initial(g_sm), "reported");
    CU_ASSERT(wf_def_is_terminal(g_sm, "closed", NULL));

    /* one file given directly */
    char err[256];
    wf_set_t *one = NULL;
    CU_ASSERT_EQUAL(wf_set_load("config/workflows/tpmap-household.yaml", &one, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(wf_set_count(one), 1);
    wf_set_destroy(&one);
    CU_ASSERT_PTR_NULL(one);
    wf_set_destroy(&one); /* safe on NULL */

    const char *files[] = {"config/workflows/tpmap-household.yaml",
                           "config/workflows/socialmap-referral.yaml"};
    CU_ASSERT_EQUAL(wf_set_load_files(files, 2, &one, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(wf_set_count(one), 2);
    wf_set_destroy(&one);

    CU_ASSERT_EQUAL(wf_set_load("tests/data/no-such-folder", &one, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "tests/data/no-such-folder: "));
}

static void test_load_versions(void)
{
    CU_ASSERT_EQUAL(wf_set_count(g_test), 2);
    const wf_def_t *newest = wf_set_get(g_test, "engine-test", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(newest);
    CU_ASSERT_EQUAL(wf_def_version(newest), 2);
    CU_ASSERT_EQUAL(wf_def_version(wf_set_get(g_test, "engine-test", 1)), 1);
    CU_ASSERT_PTR_NULL(wf_set_get(g_test, "engine-test", 3));
    CU_ASSERT_PTR_NULL(wf_set_get(g_test, "tpmap-household", 0));
    CU_ASSERT_EQUAL(wf_def_version(wf_set_at(g_test, 0)), 1);
    CU_ASSERT_EQUAL(wf_def_version(wf_set_at(g_test, 1)), 2);
    /* "start:" with no body is a plain state */
    CU_ASSERT(wf_def_has_state(newest, "start"));
}

static void test_load_text(void)
{
    static const char text[] = "workflow: inline\nversion: 7\ninitial: a\nstates:\n  a: {}\n";
    char err[256];
    wf_set_t *set = NULL;
    CU_ASSERT_EQUAL(wf_set_load_text("inline.yaml", text, strlen(text), &set, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(wf_def_version(wf_set_get(set, "inline", 0)), 7);
    wf_set_destroy(&set);

    static const char bad[] = "workflow: inline\nversion: 7\ninitial: a\nstates:\n  a: {x: 1}\n";
    CU_ASSERT_EQUAL(wf_set_load_text("mem", bad, strlen(bad), &set, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_STRING_EQUAL(err, "mem:5:7: unknown key 'x' in state 'a'");
    CU_ASSERT_PTR_NULL(set);

    /* the text need not be NUL-terminated at len */
    CU_ASSERT_EQUAL(wf_set_load_text("cut", text, 10, &set, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_EQUAL(wf_set_load_text("empty", "", 0, &set, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_STRING_EQUAL(err, "empty:1:1: empty file");
    static const char two[] = "workflow: a\n---\nworkflow: b\n";
    CU_ASSERT_EQUAL(wf_set_load_text("two", two, strlen(two), &set, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_STRING_EQUAL(err, "two:2:1: only one YAML document per file");
    static const char tag[] = "workflow: !!str a\n";
    CU_ASSERT_EQUAL(wf_set_load_text("tag", tag, strlen(tag), &set, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_STRING_EQUAL(err, "tag:1:11: tags are not supported");
    static const char nul[] = "workflow: \"a\\0b\"\n";
    CU_ASSERT_EQUAL(wf_set_load_text("nul", nul, strlen(nul), &set, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_STRING_EQUAL(err, "nul:1:11: NUL character in a string");
    static const char badutf[] = "workflow: \xff\n";
    CU_ASSERT_EQUAL(wf_set_load_text("u", badutf, strlen(badutf), &set, err, sizeof(err)),
                    LB_ECONFIG);
    CU_ASSERT_NSTRING_EQUAL(err, "u:1:11: syntax error", 20);
}

static void test_load_catalog(void)
{
    CU_ASSERT_EQUAL(wf_catalog_count(g_cat), 17);
    CU_ASSERT_STRING_EQUAL(wf_catalog_dimension(g_cat, "bmn1"), "health");
    CU_ASSERT_STRING_EQUAL(wf_catalog_dimension(g_cat, "bmn8"), "living");
    CU_ASSERT_STRING_EQUAL(wf_catalog_dimension(g_cat, "bmn19"), "education");
    CU_ASSERT_STRING_EQUAL(wf_catalog_dimension(g_cat, "bmn22"), "income");
    CU_ASSERT_STRING_EQUAL(wf_catalog_dimension(g_cat, "bmn28"), "accessibility");
    CU_ASSERT_PTR_NULL(wf_catalog_dimension(g_cat, "bmn2"));
    CU_ASSERT_PTR_NULL(wf_catalog_dimension(g_cat, NULL));

    uint32_t per_dim[WF_NDIM] = {0};
    lb_val_t *d = wf_catalog_describe(g_cat);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(d->a.n, 17);
    for (uint32_t i = 0; i < d->a.n; i++) {
        int k = wf_dimension_index(lb_map_str(d->a.items[i], "dimension"));
        CU_ASSERT(k >= 0);
        if (k >= 0)
            per_dim[k]++;
        CU_ASSERT(strlen(lb_map_str(d->a.items[i], "th")) > 0);
        CU_ASSERT(strlen(lb_map_str(d->a.items[i], "en")) > 0);
    }
    CU_ASSERT_STRING_EQUAL(lb_map_str(d->a.items[0], "code"), "bmn1");
    /* DOMAIN.md: 4 health, 4 living, 4 education, 3 income, 2 accessibility */
    CU_ASSERT(per_dim[0] == 4 && per_dim[1] == 4 && per_dim[2] == 4 && per_dim[3] == 3 &&
              per_dim[4] == 2);
    lb_val_free(&d);
    CU_ASSERT_EQUAL(wf_dimension_index("income"), 3);
    CU_ASSERT_EQUAL(wf_dimension_index("wealth"), -1);
}

static void test_catalog_errors(void)
{
    expect_bad_catalog(FIX "catalog-bad-dimension.yaml", 3, 30, "unknown dimension 'housing'");
    expect_bad_catalog(FIX "catalog-dup-code.yaml", 6, 11, "duplicate indicator code 'bmn1'");
    expect_bad_catalog(FIX "catalog-unknown-key.yaml", 2, 56, "unknown key 'weight'");
    expect_bad_catalog(FIX "catalog-missing-key.yaml", 3, 5, "missing 'th'");
    expect_bad_catalog(FIX "catalog-not-map.yaml", 1, 1, "must be a map");
    expect_bad_catalog(FIX "catalog-syntax.yaml", 3, 1, "syntax error");
    expect_bad_catalog(FIX "catalog-bad-code.yaml", 2, 13, "invalid indicator code");
    char err[256];
    wf_catalog_t *cat = NULL;
    CU_ASSERT_EQUAL(wf_catalog_load(FIX "missing.yaml", &cat, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_PTR_NULL(cat);
}

static void test_bad_syntax(void)
{
    expect_bad(FIX "bad-syntax.yaml", 5, 8, "syntax error");
    expect_bad(FIX "bad-toplevel.yaml", 2, 1, "the top level must be a map");
    expect_bad(FIX "bad-alias.yaml", 5, 9, "anchors are not supported");
}

static void test_bad_unknown_keys(void)
{
    expect_bad(FIX "bad-unknown-key.yaml", 3, 1, "unknown key 'descripton' in the workflow");
    expect_bad(FIX "bad-unknown-key-state.yaml", 7, 5, "unknown key 'timeout' in state 'open'");
    expect_bad(FIX "bad-unknown-key-action.yaml", 11, 5, "unknown key 'guard' in action 'finish'");
    expect_bad(FIX "bad-unknown-key-step.yaml", 7, 32, "unknown key 'notify'");
}

static void test_bad_duplicate_key(void)
{
    expect_bad(FIX "bad-duplicate-key.yaml", 7, 3, "duplicate key 'open' (first at line 5)");
}

static void test_bad_name_version(void)
{
    expect_bad(FIX "bad-name.yaml", 1, 11, "invalid workflow name 'Mini_Flow'");
    expect_bad(FIX "bad-version.yaml", 2, 10, "version must be an integer >= 1");
    expect_bad(FIX "bad-version-type.yaml", 2, 10, "version must be an integer >= 1");
}

static void test_bad_initial(void)
{
    expect_bad(FIX "bad-missing-initial.yaml", 1, 1, "missing 'initial'");
    expect_bad(FIX "bad-initial-unknown.yaml", 3, 10, "initial state 'opened' is not a state");
}

static void test_bad_from_to(void)
{
    expect_bad(FIX "bad-from-unknown.yaml", 9, 18, "unknown state 'working'");
    expect_bad(FIX "bad-to-unknown.yaml", 10, 9, "unknown state 'finished'");
}

static void test_bad_escalation(void)
{
    expect_bad(FIX "bad-step-order.yaml", 8, 18, "escalation steps out of order");
    expect_bad(FIX "bad-step-equal.yaml", 8, 18, "escalation steps out of order");
    expect_bad(FIX "bad-step-level.yaml", 7, 26, "unknown escalation level 'village'");
}

static void test_bad_terminal(void)
{
    expect_bad(FIX "bad-terminal-escalate.yaml", 9, 7,
               "terminal state 'done' cannot have escalations");
    expect_bad(FIX "bad-terminal-from.yaml", 9, 12,
               "action 'reopen' cannot start in terminal state 'done'");
}

static void test_bad_role(void)
{
    expect_bad(FIX "bad-role.yaml", 9, 20, "unknown role 'mayor'");
}

static void test_bad_durations(void)
{
    expect_bad(FIX "bad-duration-unit.yaml", 7, 18, "bad duration '2w'");
    expect_bad(FIX "bad-duration-zero.yaml", 7, 18, "bad duration '0d'");
    expect_bad(FIX "bad-duration-overflow.yaml", 7, 18, "bad duration '99999999999999999d'");
}

static void test_bad_record_outcome_restart(void)
{
    expect_bad(FIX "bad-record.yaml", 9, 13, "unknown record 'payment'");
    expect_bad(FIX "bad-outcome.yaml", 6, 36, "unknown outcome 'finished'");
    expect_bad(FIX "bad-outcome-nonterminal.yaml", 6, 20, "outcome on non-terminal state 'done'");
    expect_bad(FIX "bad-restart-timers.yaml", 9, 21, "restart_timers must be true or false");
}

static void test_bad_names_and_states(void)
{
    expect_bad(FIX "bad-state-name.yaml", 6, 3, "invalid state name 'Visit-Scheduled'");
    expect_bad(FIX "bad-action-name.yaml", 7, 3, "invalid action name 'poke-it'");
    expect_bad(FIX "bad-no-states.yaml", 4, 9, "no states");
}

static void test_duplicate_name_version(void)
{
    /* files of a folder load in name order, so b.yaml is the one refused */
    expect_bad_in(FIX "dup", FIX "dup/b.yaml", 3, 10,
                  "workflow 'twin' version 2 is already defined in " FIX "dup/a.yaml");
    const char *files[] = {FIX "dup/b.yaml", FIX "dup/a.yaml"};
    char err[512];
    wf_set_t *set = NULL;
    CU_ASSERT_EQUAL(wf_set_load_files(files, 2, &set, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_PTR_NULL(set);
    CU_ASSERT_NSTRING_EQUAL(err, FIX "dup/a.yaml:2:10: ", strlen(FIX "dup/a.yaml:2:10: "));
}

static void test_parse_duration(void)
{
    int64_t ms = 0;
    CU_ASSERT_EQUAL(wf_parse_duration("7d", &ms), 0);
    CU_ASSERT_EQUAL(ms, 7 * DAY);
    CU_ASSERT_EQUAL(wf_parse_duration("12h", &ms), 0);
    CU_ASSERT_EQUAL(ms, 12 * HOUR);
    CU_ASSERT_EQUAL(wf_parse_duration("30m", &ms), 0);
    CU_ASSERT_EQUAL(ms, 30 * 60 * SEC);
    CU_ASSERT_EQUAL(wf_parse_duration("45s", &ms), 0);
    CU_ASSERT_EQUAL(ms, 45 * SEC);
    CU_ASSERT_EQUAL(wf_parse_duration("106751991167d", &ms), 0); /* the largest whole day count */
    const char *bad[] = {"0d",
                         "",
                         "d",
                         "7",
                         "7w",
                         "-1d",
                         "+1d",
                         "1dd",
                         " 1d",
                         "1 d",
                         "1.5d",
                         "1D",
                         "106751991168d",
                         "9223372036854775807s",
                         "99999999999999999999999d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(wf_parse_duration(bad[i], &ms), LB_ECONFIG);
    }
    CU_ASSERT_EQUAL(wf_parse_duration(NULL, &ms), LB_ECONFIG);
}

static void test_describe(void)
{
    lb_val_t *l = wf_def_describe(g_tp, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_STRING_EQUAL(lb_map_str(l, "name"), "tpmap-household");
    int64_t v = 0;
    CU_ASSERT_EQUAL(lb_map_int(l, "version", &v), 0);
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_STRING_EQUAL(lb_map_str(l, "initial"), "identified");
    const lb_val_t *states = lb_map_get(l, "states"), *term = lb_map_get(l, "terminal");
    CU_ASSERT_EQUAL(states->type, LB_ARR);
    CU_ASSERT_EQUAL(states->a.n, 7);
    CU_ASSERT_STRING_EQUAL(states->a.items[0]->s.p, "identified");
    CU_ASSERT_EQUAL(term->a.n, 2);
    CU_ASSERT_STRING_EQUAL(term->a.items[0]->s.p, "resolved");
    CU_ASSERT_STRING_EQUAL(term->a.items[1]->s.p, "closed");
    CU_ASSERT_PTR_NULL(lb_map_get(l, "actions"));
    lb_val_free(&l);

    lb_val_t *f = wf_def_describe(g_tp, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(lb_map_str(f, "title"));
    const lb_val_t *st = lb_map_get(lb_map_get(f, "states"), "identified");
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(lb_map_get(st, "terminal")->b, false);
    CU_ASSERT_PTR_NULL(lb_map_get(st, "outcome"));
    const lb_val_t *esc = lb_map_get(st, "escalate");
    CU_ASSERT_EQUAL(esc->a.n, 3);
    CU_ASSERT_EQUAL(lb_map_int(esc->a.items[0], "after_ms", &v), 0);
    CU_ASSERT_EQUAL(v, 7 * DAY);
    CU_ASSERT_STRING_EQUAL(lb_map_str(esc->a.items[0], "after"), "7d");
    CU_ASSERT_STRING_EQUAL(lb_map_str(esc->a.items[2], "to"), "district");
    const lb_val_t *res = lb_map_get(lb_map_get(f, "states"), "resolved");
    CU_ASSERT_EQUAL(lb_map_get(res, "terminal")->b, true);
    CU_ASSERT_STRING_EQUAL(lb_map_str(res, "outcome"), "resolved");
    CU_ASSERT_EQUAL(lb_map_get(res, "escalate")->a.n, 0);

    const lb_val_t *acts = lb_map_get(f, "actions");
    const lb_val_t *close = lb_map_get(acts, "close");
    CU_ASSERT_PTR_NOT_NULL_FATAL(close);
    CU_ASSERT_EQUAL(lb_map_get(close, "from")->a.n, 5); /* "*" expanded: every non-terminal */
    CU_ASSERT_STRING_EQUAL(lb_map_str(close, "to"), "closed");
    CU_ASSERT_EQUAL(lb_map_get(close, "roles")->a.n, 1);
    CU_ASSERT_STRING_EQUAL(lb_map_get(close, "require")->a.items[0]->s.p, "reason");
    CU_ASSERT_PTR_NULL(lb_map_get(close, "record"));
    const lb_val_t *fu = lb_map_get(acts, "record_follow_up");
    CU_ASSERT_STRING_EQUAL(lb_map_str(fu, "record"), "follow_up");
    CU_ASSERT_EQUAL(lb_map_get(fu, "restart_timers")->b, true);
    CU_ASSERT_PTR_NULL(lb_map_get(fu, "to"));
    lb_val_free(&f);

    /* default roles are field and committee */
    lb_val_t *e = wf_def_describe(g_et, true);
    const lb_val_t *back = lb_map_get(lb_map_get(e, "actions"), "back");
    CU_ASSERT_EQUAL(lb_map_get(back, "roles")->a.n, 2);
    CU_ASSERT_EQUAL(lb_map_get(lb_map_get(lb_map_get(e, "actions"), "audit"), "roles")->a.n, 0);
    lb_val_free(&e);
}

/* ---------------------------------------------------------------------- */
/* Engine                                                                  */
/* ---------------------------------------------------------------------- */

static void test_open(void)
{
    wf_case_t c;
    new_case(&c, g_tp, "['bmn1','bmn8','bmn1']", T0);
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    CU_ASSERT_STRING_EQUAL(c.workflow, "tpmap-household");
    CU_ASSERT_EQUAL(c.workflow_version, 1);
    CU_ASSERT(c.opened_at == T0 && c.entered_at == T0 && c.timers_base == T0);
    CU_ASSERT_EQUAL(c.needs->a.n, 2); /* duplicates collapse */
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.needs->a.items[0], "dimension"), "health");
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.needs->a.items[1], "dimension"), "living");
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn8"), "open");
    uint32_t open[WF_NDIM];
    wf_case_needs_open(&c, open);
    CU_ASSERT(open[0] == 1 && open[1] == 1 && open[2] == 0 && open[3] == 0 && open[4] == 0);
    CU_ASSERT_EQUAL_FATAL(c.n_timers, 3);
    CU_ASSERT(c.timers[0].due == T0 + 7 * DAY && c.timers[0].step == 0);
    CU_ASSERT_STRING_EQUAL(c.timers[0].level, "team");
    CU_ASSERT(c.timers[1].due == T0 + 14 * DAY && c.timers[1].step == 1);
    CU_ASSERT_STRING_EQUAL(c.timers[1].level, "subdistrict");
    CU_ASSERT(c.timers[2].due == T0 + 30 * DAY && c.timers[2].step == 2);
    CU_ASSERT_STRING_EQUAL(c.timers[2].level, "district");
    CU_ASSERT_FALSE(wf_case_overdue(&c));
    CU_ASSERT_PTR_NULL(wf_case_latest_esc(&c));
    wf_case_clear(&c);

    new_case(&c, g_tp, NULL, T0);
    CU_ASSERT_EQUAL(c.needs->a.n, 0);
    wf_case_clear(&c);
    wf_case_clear(&c); /* safe on a cleared case */
}

static void test_open_bad_deprived(void)
{
    wf_case_t c;
    CU_ASSERT_FATAL(wf_case_init(&c) == 0);
    EXPECT_ERR(wf_open(g_tp, g_cat, &c, tval_tmp("['bmn1','bmn99']"), T0, &g_err), LB_EBADREQ,
               "deprived");
    CU_ASSERT_PTR_NOT_NULL(strstr(g_err.message, "bmn99"));
    EXPECT_ERR(wf_open(g_tp, g_cat, &c, tval_tmp("[1]"), T0, &g_err), LB_EBADREQ, "deprived");
    EXPECT_ERR(wf_open(g_tp, g_cat, &c, tval_tmp("'bmn1'"), T0, &g_err), LB_EBADREQ, "deprived");
    wf_case_clear(&c);
}

static void test_unknown_action_and_transition(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_ERR(act(g_tp, &c, "fly", "admin", NULL, T0), LB_EINVALID, "action");
    CU_ASSERT_STRING_EQUAL(g_err.message, "no action fly in workflow tpmap-household");
    /* plan_assistance is only from visited */
    EXPECT_ERR(act(g_tp, &c, "plan_assistance", "committee", NULL, T0), LB_EINVALID, "action");
    /* the state check comes before the role check */
    EXPECT_ERR(act(g_tp, &c, "plan_assistance", "reporter", NULL, T0), LB_EINVALID, "action");
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    wf_case_clear(&c);
}

static void test_roles(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_ERR(act(g_tp, &c, "add_note", "reporter", "{'note':'x'}", T0), LB_EFORBIDDEN, "");
    EXPECT_ERR(act(g_tp, &c, "add_note", "mayor", "{'note':'x'}", T0), LB_EFORBIDDEN, "");
    EXPECT_ERR(act(g_tp, &c, "add_note", NULL, "{'note':'x'}", T0), LB_EFORBIDDEN, "");
    /* the role check comes before the require check */
    EXPECT_ERR(act(g_tp, &c, "close", "field", NULL, T0), LB_EFORBIDDEN, "");
    /* admin may run anything */
    EXPECT_OK(act(g_tp, &c, "record_visit", "admin", "{'findings':{}}", T0));
    CU_ASSERT_STRING_EQUAL(c.state, "visited");
    EXPECT_ERR(act(g_tp, &c, "record_assistance", "reporter", NULL, T0), LB_EINVALID, "action");
    wf_case_clear(&c);

    new_case(&c, g_et, NULL, T0);
    EXPECT_ERR(act(g_et, &c, "audit", "committee", NULL, T0), LB_EFORBIDDEN, "");
    EXPECT_OK(act(g_et, &c, "audit", "admin", NULL, T0));
    EXPECT_OK(act(g_et, &c, "start", "field", "{'team':'t1'}", T0));
    /* no roles listed: field and committee */
    EXPECT_ERR(act(g_et, &c, "back", "reporter", NULL, T0), LB_EFORBIDDEN, "");
    EXPECT_OK(act(g_et, &c, "back", "committee", NULL, T0));
    wf_case_clear(&c);
}

static void test_require(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_ERR(act(g_tp, &c, "schedule_visit", "field", NULL, T0), LB_EGUARD, "team");
    EXPECT_ERR(act(g_tp, &c, "schedule_visit", "field", "{}", T0), LB_EGUARD, "team");
    EXPECT_ERR(act(g_tp, &c, "schedule_visit", "field", "{'team':null}", T0), LB_EGUARD, "team");
    EXPECT_ERR(act(g_tp, &c, "schedule_visit", "field", "['team']", T0), LB_EGUARD, "data");
    EXPECT_ERR(act(g_tp, &c, "close", "committee", "{'why':'moved'}", T0), LB_EGUARD, "reason");
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    CU_ASSERT_EQUAL(c.team[0], '\0');
    wf_case_clear(&c);
}

static void test_state_change(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'tambon-9101-1'}", T0 + 2 * DAY));
    CU_ASSERT(g_out.state_changed && g_out.timers_changed);
    CU_ASSERT_STRING_EQUAL(g_out.from, "identified");
    CU_ASSERT_STRING_EQUAL(g_out.to, "visit_scheduled");
    CU_ASSERT_STRING_EQUAL(g_out.kind, "case");
    CU_ASSERT_PTR_NULL(g_out.record);
    CU_ASSERT(tval_eq(g_out.event_data, "{'team':'tambon-9101-1'}"));
    CU_ASSERT_STRING_EQUAL(c.state, "visit_scheduled");
    CU_ASSERT_STRING_EQUAL(c.team, "tambon-9101-1");
    CU_ASSERT(c.entered_at == T0 + 2 * DAY && c.timers_base == T0 + 2 * DAY);
    CU_ASSERT(c.opened_at == T0);
    /* the old state's timers are gone, the new state's run from entering it */
    CU_ASSERT_EQUAL_FATAL(c.n_timers, 3);
    CU_ASSERT(c.timers[0].due == T0 + 16 * DAY && c.timers[0].step == 0);
    CU_ASSERT_STRING_EQUAL(c.timers[0].level, "subdistrict");
    CU_ASSERT(c.timers[2].due == T0 + 62 * DAY);
    CU_ASSERT_STRING_EQUAL(c.timers[2].level, "province");
    wf_case_clear(&c);

    /* a late-synced action cannot move entered_at back before the state began */
    new_case(&c, g_tp, NULL, T0);
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'t'}", T0 - 5 * DAY));
    CU_ASSERT(c.entered_at == T0 && c.timers_base == T0);
    CU_ASSERT(c.timers[0].due == T0 + 14 * DAY);
    wf_case_clear(&c);
}

static void test_self_loop(void)
{
    wf_case_t c;
    wf_escalation_t x;
    new_case(&c, g_et, NULL, T0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + DAY, &x), 1);
    EXPECT_OK(act(g_et, &c, "again", "field", NULL, T0 + 5 * DAY));
    CU_ASSERT_FALSE(g_out.state_changed);
    CU_ASSERT_FALSE(g_out.timers_changed);
    CU_ASSERT_STRING_EQUAL(g_out.from, "open");
    CU_ASSERT_STRING_EQUAL(g_out.to, "open");
    CU_ASSERT_PTR_NULL(g_out.event_data);
    CU_ASSERT(c.entered_at == T0 && c.timers_base == T0);
    CU_ASSERT_EQUAL(c.fired_in_state, 1);
    CU_ASSERT_EQUAL(c.n_timers, 2);
    wf_case_clear(&c);
}

static void test_restart_timers(void)
{
    wf_case_t c;
    wf_escalation_t x;
    new_case(&c, g_et, NULL, T0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + DAY, &x), 1);
    CU_ASSERT(wf_case_overdue(&c));
    EXPECT_OK(act(g_et, &c, "touch", "field", NULL, T0 + DAY + HOUR));
    CU_ASSERT_FALSE(g_out.state_changed);
    CU_ASSERT(g_out.timers_changed);
    CU_ASSERT(c.timers_base == T0 + DAY + HOUR && c.entered_at == T0);
    CU_ASSERT_EQUAL(c.fired_in_state, 0);
    CU_ASSERT_FALSE(wf_case_overdue(&c));
    CU_ASSERT_EQUAL_FATAL(c.n_timers, 3);
    CU_ASSERT(c.timers[0].due == T0 + 2 * DAY + HOUR && c.timers[0].step == 0);
    CU_ASSERT(c.timers[2].due == T0 + 4 * DAY + HOUR);
    CU_ASSERT_EQUAL(c.n_esc, 1); /* history is kept */
    /* a late-synced action older than the running clock leaves it alone (no re-firing) */
    EXPECT_OK(act(g_et, &c, "touch", "field", NULL, T0 - DAY));
    CU_ASSERT_FALSE(g_out.timers_changed);
    CU_ASSERT(c.timers_base == T0 + DAY + HOUR && c.timers[0].due == T0 + 2 * DAY + HOUR);

    /* restart_timers together with a state change: the state change rules */
    EXPECT_OK(act(g_et, &c, "start", "field", "{'team':'t'}", T0 + 3 * DAY));
    EXPECT_OK(act(g_et, &c, "back", "field", NULL, T0 + 4 * DAY));
    CU_ASSERT(g_out.state_changed && g_out.timers_changed);
    CU_ASSERT(c.entered_at == T0 + 4 * DAY && c.timers_base == T0 + 4 * DAY);
    CU_ASSERT(c.n_timers == 3 && c.timers[0].due == T0 + 5 * DAY);
    wf_case_clear(&c);

    /* tpmap: each follow-up restarts the follow-up clock */
    tp_case_in(&c, "follow_up");
    CU_ASSERT(c.timers[0].due == T0 + 93 * DAY);
    EXPECT_OK(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive'}", T0 + 50 * DAY));
    CU_ASSERT(g_out.timers_changed && !g_out.state_changed);
    CU_ASSERT(c.timers_base == T0 + 50 * DAY && c.timers[0].due == T0 + 140 * DAY);
    wf_case_clear(&c);
}

static void test_from_star_and_terminal(void)
{
    const char *path[] = {"identified", "visited", "assisting", "follow_up"};
    for (size_t i = 0; i < 4; i++) {
        wf_case_t c;
        if (i < 2) {
            new_case(&c, g_tp, NULL, T0);
            if (i == 1)
                EXPECT_OK(act(g_tp, &c, "record_visit", "field", "{'findings':{}}", T0));
        } else {
            tp_case_in(&c, path[i]);
        }
        CU_ASSERT_STRING_EQUAL(c.state, path[i]);
        EXPECT_OK(act(g_tp, &c, "add_note", "committee", "{'note':'seen'}", T0 + 10 * DAY));
        EXPECT_OK(act(g_tp, &c, "close", "committee", "{'reason':'moved'}", T0 + 10 * DAY));
        CU_ASSERT(g_out.state_changed && g_out.timers_changed);
        CU_ASSERT_STRING_EQUAL(c.state, "closed");
        /* a terminal state has no timers, and "*" never includes it */
        CU_ASSERT_EQUAL(c.n_timers, 0);
        CU_ASSERT_EQUAL(wf_next_due(&c, NULL), 0);
        EXPECT_ERR(act(g_tp, &c, "add_note", "committee", "{'note':'x'}", T0), LB_EINVALID,
                   "action");
        EXPECT_ERR(act(g_tp, &c, "close", "admin", "{'reason':'moved'}", T0), LB_EINVALID,
                   "action");
        wf_case_clear(&c);
    }
}

static void test_visit_record(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    const char *bad[][2] = {
        {NULL, "findings"},
        {"{'note':'no findings'}", "findings"},
        {"{'findings':{},'weather':'rain'}", "weather"},
        {"{'findings':{},'at':5}", "at"},
        {"{'findings':['bmn1']}", "findings"},
        {"{'findings':{'wealth':['bmn1']}}", "findings"},
        {"{'findings':{'health':['bmn99']}}", "findings"},
        {"{'findings':{'health':'bmn1'}}", "findings"},
        {"{'findings':{'health':[1]}}", "findings"},
        {"{'findings':{},'needs':{'dimension':'health'}}", "needs"},
        {"{'findings':{},'needs':[{'note':'x'}]}", "needs"},
        {"{'findings':{},'needs':[{'dimension':'sky'}]}", "needs"},
        {"{'findings':{},'needs':[{'dimension':'health','colour':'red'}]}", "needs"},
        {"{'findings':{},'needs':[{'dimension':'health','indicator':'bmn20'}]}", "needs"},
        {"{'findings':{},'needs':[{'dimension':'health','note':7}]}", "needs"},
        {"{'findings':{},'needs':['x']}", "needs"},
        {"{'findings':{},'note':12}", "note"},
        {"{'findings':{},'note':''}", "note"},
        {"{'findings':{},'team':''}", "team"},
        {"{'findings':{},'team':5}", "team"},
        {"{'findings':{},'team':'0123456789012345678901234567890123456789012345678901234567890123'"
         "}",
         "team"},
        {"{'findings':{},'level':'rich'}", "level"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(act(g_tp, &c, "record_visit", "field", bad[i][0], T0 + DAY), LB_EGUARD,
                   bad[i][1]);
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    CU_ASSERT_EQUAL(c.visits->a.n, 0);
    CU_ASSERT_EQUAL(c.needs->a.n, 0);
    /* 63 bytes of team is the most */
    EXPECT_OK(act(g_tp, &c, "record_visit", "field",
                  "{'findings':{'health':['bmn1']},'note':'ok','team':"
                  "'012345678901234567890123456789012345678901234567890123456789012'}",
                  T0 + DAY));
    CU_ASSERT_EQUAL(strlen(c.team), 63);
    wf_case_clear(&c);
}

static void test_catalog_dimension_mismatch(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    /* bmn8 is a living indicator, not a health one */
    EXPECT_ERR(act(g_tp, &c, "record_visit", "field", "{'findings':{'health':['bmn8']}}", T0),
               LB_EGUARD, "findings");
    CU_ASSERT_PTR_NOT_NULL(strstr(g_err.message, "bmn8"));
    EXPECT_OK(act(g_tp, &c, "record_visit", "field", "{'findings':{'living':['bmn8']}}", T0));
    wf_case_clear(&c);
}

static void test_assistance_record(void)
{
    wf_case_t c;
    tp_case_in(&c, "assisting");
    const char *bad[][2] = {
        {NULL, "agency"},
        {"{'dimension':'income','kind':'cash'}", "agency"},
        {"{'agency':'','dimension':'income','kind':'cash'}", "agency"},
        {"{'agency':'PSDHS','kind':'cash'}", "dimension"},
        {"{'agency':'PSDHS','dimension':'money','kind':'cash'}", "dimension"},
        {"{'agency':'PSDHS','dimension':'income'}", "kind"},
        {"{'agency':'PSDHS','dimension':'income','kind':'gift'}", "kind"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','amount_thb':-1}", "amount_thb"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','amount_thb':-0.5}", "amount_thb"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','amount_thb':'3000'}", "amount_thb"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','meets':['bmn99']}", "meets"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','meets':'bmn22'}", "meets"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','via':'bank'}", "via"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','note':false}", "note"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(act(g_tp, &c, "record_assistance", "field", bad[i][0], T0 + 5 * DAY), LB_EGUARD,
                   bad[i][1]);
    CU_ASSERT_EQUAL(c.assistance->a.n, 0);
    const char *kinds[] = {"cash",
                           "goods",
                           "occupation",
                           "training",
                           "loan",
                           "housing",
                           "health_service",
                           "education_support",
                           "welfare_registration",
                           "referral",
                           "other"};
    for (size_t i = 0; i < 11; i++) {
        char data[200];
        snprintf(data, sizeof(data),
                 "{'agency':'PSDHS Satun','dimension':'income','kind':'%s','amount_thb':%s}",
                 kinds[i], i % 2 ? "1500.5" : "3000");
        EXPECT_OK(act(g_tp, &c, "record_assistance", "committee", data, T0 + 5 * DAY));
        CU_ASSERT_FALSE(g_out.state_changed);
    }
    CU_ASSERT_EQUAL(c.assistance->a.n, 11);
    CU_ASSERT_STRING_EQUAL(c.state, "assisting");
    wf_case_clear(&c);
}

static void test_follow_up_and_note_records(void)
{
    wf_case_t c;
    tp_case_in(&c, "follow_up");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{}", T0), LB_EGUARD, "level");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':'rich'}", T0), LB_EGUARD,
               "level");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':3}", T0), LB_EGUARD, "level");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive','met':['bmn0']}", T0),
               LB_EGUARD, "met");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive','note':[]}", T0),
               LB_EGUARD, "note");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive','meets':[]}", T0),
               LB_EGUARD, "meets");
    CU_ASSERT_EQUAL(c.follow_ups->a.n, 0);
    CU_ASSERT_EQUAL(c.level[0], '\0');

    EXPECT_ERR(act(g_tp, &c, "add_note", "field", NULL, T0), LB_EGUARD, "note");
    EXPECT_ERR(act(g_tp, &c, "add_note", "field", "{'note':''}", T0), LB_EGUARD, "note");
    EXPECT_ERR(act(g_tp, &c, "add_note", "field", "{'note':'x','tags':'a'}", T0), LB_EGUARD,
               "tags");
    EXPECT_OK(act(g_tp, &c, "add_note", "field", "{'note':'ลูกชายได้งานที่โรงงาน'}", T0 + 9 * DAY));
    CU_ASSERT_EQUAL(c.notes->a.n, 1);
    CU_ASSERT(tval_eq(c.notes->a.items[0], "{'at':1700777600000,'note':'ลูกชายได้งานที่โรงงาน'}"));
    wf_case_clear(&c);
}

static void test_needs(void)
{
    wf_case_t c;
    uint32_t open[WF_NDIM];
    new_case(&c, g_tp, "['bmn1','bmn8']", T0);
    EXPECT_OK(act(g_tp, &c, "record_visit", "field",
                  "{'findings':{'health':['bmn1','bmn4'],'living':[]},"
                  "'needs':[{'dimension':'income','indicator':'bmn22','note':'debt'}]}",
                  T0 + DAY));
    CU_ASSERT_EQUAL(c.needs->a.n, 4); /* bmn1 not repeated */
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn4"), "open");
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.needs->a.items[3], "note"), "debt");
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.needs->a.items[3], "dimension"), "income");
    wf_case_needs_open(&c, open);
    CU_ASSERT(open[0] == 2 && open[1] == 1 && open[3] == 1);

    EXPECT_OK(act(g_tp, &c, "plan_assistance", "field", NULL, T0 + 2 * DAY));
    /* bmn28 has no need: ignored */
    EXPECT_OK(act(g_tp, &c, "record_assistance", "field",
                  "{'agency':'Subdistrict health promoting hospital','dimension':'health',"
                  "'kind':'health_service','meets':['bmn1','bmn28']}",
                  T0 + 3 * DAY));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn1"), "met");
    CU_ASSERT_PTR_NULL(need_status(&c, "bmn28"));
    CU_ASSERT_EQUAL(c.needs->a.n, 4);
    EXPECT_OK(act(g_tp, &c, "start_follow_up", "field", NULL, T0 + 4 * DAY));
    EXPECT_OK(act(g_tp, &c, "record_follow_up", "field",
                  "{'level':'sufficient','met':['bmn8','bmn22']}", T0 + 5 * DAY));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn8"), "met");
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn22"), "met");
    wf_case_needs_open(&c, open);
    CU_ASSERT(open[0] == 1 && open[1] == 0 && open[3] == 0);
    wf_case_clear(&c);

    /* a met need found again opens again, without a second entry */
    new_case(&c, g_et, "['bmn1']", T0);
    EXPECT_OK(act(g_et, &c, "assist", "field",
                  "{'agency':'a','dimension':'health','kind':'goods','meets':['bmn1']}", T0));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn1"), "met");
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{'health':['bmn1']}}", T0 + DAY));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn1"), "open");
    CU_ASSERT_EQUAL(c.needs->a.n, 1);
    EXPECT_OK(act(g_et, &c, "assist", "field",
                  "{'agency':'a','dimension':'health','kind':'goods','meets':['bmn1']}", T0));
    EXPECT_OK(act(g_et, &c, "visit", "field",
                  "{'findings':{},'needs':[{'dimension':'health','indicator':'bmn1'}]}", T0));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn1"), "open");
    CU_ASSERT_EQUAL(c.needs->a.n, 1);
    wf_case_clear(&c);
}

static void test_needs_without_indicator(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    const char *v = "{'findings':{},'needs':[{'dimension':'living','note':'roof leaks'},"
                    "{'dimension':'living','note':'roof leaks'},{'dimension':'health'}]}";
    EXPECT_OK(act(g_et, &c, "visit", "field", v, T0));
    CU_ASSERT_EQUAL(c.needs->a.n, 2);
    EXPECT_OK(act(g_et, &c, "visit", "field", v, T0 + DAY));
    CU_ASSERT_EQUAL(c.needs->a.n, 2);
    CU_ASSERT(
        tval_eq(c.needs->a.items[0], "{'dimension':'living','note':'roof leaks','status':'open'}"));
    CU_ASSERT(tval_eq(c.needs->a.items[1], "{'dimension':'health','status':'open'}"));
    /* the same note under another dimension is another need */
    EXPECT_OK(act(g_et, &c, "visit", "field",
                  "{'findings':{},'needs':[{'dimension':'health','note':'roof leaks'}]}", T0));
    CU_ASSERT_EQUAL(c.needs->a.n, 3);
    uint32_t open[WF_NDIM];
    wf_case_needs_open(&c, open);
    CU_ASSERT(open[0] == 2 && open[1] == 1);
    wf_case_clear(&c);
}

static void test_team_and_level(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    /* a visit without team takes no team when the case has none */
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{}}", T0));
    CU_ASSERT_PTR_NULL(lb_map_get(c.visits->a.items[0], "team"));
    /* non-record data sets team and level */
    EXPECT_OK(act(g_et, &c, "touch", "field", "{'team':'mentor-3','level':'survive'}", T0));
    CU_ASSERT_STRING_EQUAL(c.team, "mentor-3");
    CU_ASSERT_STRING_EQUAL(c.level, "survive");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'level':'rich'}", T0), LB_EGUARD, "level");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'team':7}", T0), LB_EGUARD, "team");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'team':''}", T0), LB_EGUARD, "team");
    CU_ASSERT_STRING_EQUAL(c.team, "mentor-3");
    /* a visit's team defaults to the case's */
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{}}", T0 + 1));
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.visits->a.items[1], "team"), "mentor-3");
    CU_ASSERT_STRING_EQUAL(lb_map_str(g_out.event_data, "team"), "mentor-3");
    /* and an explicit one wins and becomes the case's */
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{},'team':'tambon-2'}", T0 + 2));
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.visits->a.items[2], "team"), "tambon-2");
    CU_ASSERT_STRING_EQUAL(c.team, "tambon-2");
    /* a follow-up's level is the case's level; any record may carry level */
    EXPECT_OK(act(g_et, &c, "follow", "field", "{'level':'sustainable'}", T0));
    CU_ASSERT_STRING_EQUAL(c.level, "sustainable");
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'x','level':'sufficient'}", T0));
    CU_ASSERT_STRING_EQUAL(c.level, "sufficient");
    wf_case_clear(&c);
}

static void test_records_ordered_by_at(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'third'}", T0 + 3));
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'first'}", T0 + 1));
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'second a'}", T0 + 2));
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'second b'}", T0 + 2));
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'fourth'}", T0 + 3));
    const char *want[] = {"first", "second a", "second b", "third", "fourth"};
    CU_ASSERT_EQUAL_FATAL(c.notes->a.n, 5);
    for (size_t i = 0; i < 5; i++)
        CU_ASSERT_STRING_EQUAL(lb_map_str(c.notes->a.items[i], "note"), want[i]);
    int64_t at = 0;
    CU_ASSERT_EQUAL(lb_map_int(c.notes->a.items[0], "at", &at), 0);
    CU_ASSERT_EQUAL(at, T0 + 1);
    wf_case_clear(&c);
}

static void test_scalar_data(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act(g_et, &c, "touch", "field", "{'why':'phone call','n':3,'f':1.5,'b':true}", T0));
    CU_ASSERT(tval_eq(g_out.event_data, "{'why':'phone call','n':3,'f':1.5,'b':true}"));
    CU_ASSERT_STRING_EQUAL(g_out.kind, "case");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'why':['a']}", T0), LB_EGUARD, "why");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'why':{'a':1}}", T0), LB_EGUARD, "why");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'ok':true,'why':null}", T0), LB_EGUARD, "why");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "'text'", T0), LB_EGUARD, "data");
    EXPECT_OK(act(g_et, &c, "touch", "field", "{}", T0));
    CU_ASSERT_PTR_NOT_NULL(g_out.event_data);
    EXPECT_OK(act(g_et, &c, "touch", "field", "null", T0));
    CU_ASSERT_PTR_NULL(g_out.event_data);
    wf_case_clear(&c);
}

/* The same as act() with the strict data rule on. */
static int act_strict(const wf_def_t *def, wf_case_t *c, const char *action, const char *role,
                      const char *data, int64_t at)
{
    wf_outcome_clear(&g_out);
    wf_act_t a = {.action = action,
                  .data = data ? tval_tmp(data) : NULL,
                  .role = role,
                  .actor = "tester",
                  .at = at,
                  .strict_data = true};
    return wf_apply(def, g_cat, c, &a, &g_out, &g_err);
}

/* strict_data: without a record, data holds team, level, reason and the require keys only. */
static void test_scalar_data_keys(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act_strict(g_et, &c, "touch", "field", "{'reason':'phone call','team':'t1'}", T0));
    CU_ASSERT(tval_eq(g_out.event_data, "{'reason':'phone call','team':'t1'}"));
    CU_ASSERT_STRING_EQUAL(g_out.kind, "case");
    EXPECT_ERR(act_strict(g_et, &c, "touch", "field", "{'why':'phone call'}", T0), LB_EGUARD,
               "why");
    EXPECT_ERR(act_strict(g_et, &c, "touch", "field", "{'reason':'r','note':'n'}", T0), LB_EGUARD,
               "note");
    /* reason is any scalar where no closed outcome constrains it; still scalars only. */
    const char *scalars[] = {"{'reason':3}", "{'reason':1.5}", "{'reason':true}"};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        EXPECT_OK(act_strict(g_et, &c, "touch", "field", scalars[i], T0));
        CU_ASSERT(tval_eq(g_out.event_data, scalars[i]));
    }
    EXPECT_ERR(act_strict(g_et, &c, "touch", "field", "{'reason':['a']}", T0), LB_EGUARD, "reason");
    EXPECT_ERR(act_strict(g_et, &c, "touch", "field", "{'team':'t','reason':null}", T0), LB_EGUARD,
               "reason");
    /* Record actions are checked by their record schema, as before. */
    EXPECT_ERR(act_strict(g_et, &c, "note", "committee", "{'note':'n','why':1}", T0), LB_EGUARD,
               "why");
    wf_case_clear(&c);

    new_case(&c, g_tp, NULL, T0);
    /* Unknown keys are named before missing ones (as arguments, PROTOCOL.md 9.5). */
    EXPECT_ERR(act_strict(g_tp, &c, "close", "committee", "{'why':'moved'}", T0), LB_EGUARD, "why");
    EXPECT_ERR(act_strict(g_tp, &c, "close", "committee", "{'team':'t'}", T0), LB_EGUARD, "reason");
    EXPECT_ERR(act_strict(g_tp, &c, "schedule_visit", "field", "{'team':'t','why':'x'}", T0),
               LB_EGUARD, "why");
    CU_ASSERT_EQUAL(c.team[0], '\0'); /* refused: nothing changed */
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    EXPECT_OK(act_strict(g_tp, &c, "schedule_visit", "field",
                         "{'team':'t','level':'survive','reason':'asked by the head'}", T0));
    wf_case_clear(&c);

    /* A key some other action requires is still unknown to this one. */
    new_case(&c, g_sm, NULL, T0);
    EXPECT_ERR(
        act_strict(g_sm, &c, "certify", "committee", "{'certified_by':'x','agency':'y'}", T0),
        LB_EGUARD, "agency");
    EXPECT_OK(act_strict(g_sm, &c, "certify", "committee", "{'certified_by':'x'}", T0));
    CU_ASSERT_STRING_EQUAL(c.state, "certified");
    wf_case_clear(&c);

    /* Strings keep the note limit (strict or not). */
    new_case(&c, g_et, NULL, T0);
    char *big = malloc(WF_TEXT_MAX + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'a', WF_TEXT_MAX + 1);
    big[WF_TEXT_MAX + 1] = '\0';
    lb_val_t *d = tval_tmp("{}");
    CU_ASSERT_EQUAL(lb_map_set(d, "why", lb_str(big)), 0);
    wf_act_t a = {.action = "touch", .data = d, .role = "field", .actor = "t", .at = T0};
    wf_outcome_clear(&g_out);
    EXPECT_ERR(wf_apply(g_et, g_cat, &c, &a, &g_out, &g_err), LB_EGUARD, "why");
    big[WF_TEXT_MAX] = '\0';
    CU_ASSERT_EQUAL(lb_map_set(d, "why", lb_str(big)), 0);
    EXPECT_OK(wf_apply(g_et, g_cat, &c, &a, &g_out, &g_err));
    free(big);
    wf_case_clear(&c);
}

/* A workflow whose closing actions append a record, for the cap's exemption. */
static const char cap_yaml[] = "workflow: cap-test\n"
                               "version: 1\n"
                               "initial: open\n"
                               "states:\n"
                               "  open:\n"
                               "  done: { terminal: true, outcome: closed }\n"
                               "actions:\n"
                               "  note: { from: [open], record: note }\n"
                               "  visit: { from: [open], record: visit }\n"
                               "  touch: { from: [open] }\n"
                               "  close_with_note: { from: [open], to: done, record: note }\n";

static int act_cap_val(const wf_def_t *def, wf_case_t *c, const char *action, const lb_val_t *data,
                       uint32_t cap)
{
    wf_outcome_clear(&g_out);
    wf_act_t a = {.action = action,
                  .data = data,
                  .role = "field",
                  .actor = "tester",
                  .at = T0,
                  .max_records = cap};
    return wf_apply(def, g_cat, c, &a, &g_out, &g_err);
}

static int act_cap(const wf_def_t *def, wf_case_t *c, const char *action, const char *data,
                   uint32_t cap)
{
    return act_cap_val(def, c, action, data ? tval_tmp(data) : NULL, cap);
}

/* Appends n notes with the default cap, all with one data value (wf_apply copies what it keeps). */
static void add_notes(const wf_def_t *def, wf_case_t *c, int n)
{
    const lb_val_t *note = tval_tmp("{'note':'n'}");
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL_FATAL(act_cap_val(def, c, "note", note, 0), 0);
        wf_outcome_clear(&g_out);
    }
}

static void test_record_cap(void)
{
    char err[256];
    wf_set_t *set = NULL;
    CU_ASSERT_EQUAL_FATAL(
        wf_set_load_text("cap.yaml", cap_yaml, strlen(cap_yaml), &set, err, sizeof(err)), 0);
    const wf_def_t *def = wf_set_get(set, "cap-test", 0);
    wf_case_t c;
    new_case(&c, def, NULL, T0);

    /* Every kind of record counts. */
    EXPECT_OK(act_cap(def, &c, "note", "{'note':'1'}", 3));
    EXPECT_OK(act_cap(def, &c, "visit", "{'findings':{}}", 3));
    CU_ASSERT_EQUAL(wf_case_records(&c), 2);
    EXPECT_OK(act_cap(def, &c, "note", "{'note':'2'}", 3));
    CU_ASSERT_EQUAL(wf_case_records(&c), 3);

    /* Full: a record is refused, naming the case; the case is unchanged. */
    EXPECT_ERR(act_cap(def, &c, "note", "{'note':'3'}", 3), LB_ETOOLARGE, "");
    CU_ASSERT_STRING_EQUAL(g_err.case_id, "C000000042");
    CU_ASSERT_PTR_NOT_NULL(strstr(g_err.message, "C000000042"));
    EXPECT_ERR(act_cap(def, &c, "visit", "{'findings':{}}", 3), LB_ETOOLARGE, "");
    CU_ASSERT_EQUAL(wf_case_records(&c), 3);
    CU_ASSERT_EQUAL(c.notes->a.n, 2);
    /* The cap comes before the data checks: even a bad record is refused as too large. */
    EXPECT_ERR(act_cap(def, &c, "note", "{'bogus':1}", 3), LB_ETOOLARGE, "");
    /* A larger cap admits it; other errors leave case_id empty. */
    EXPECT_OK(act_cap(def, &c, "note", "{'note':'3'}", 4));
    EXPECT_ERR(act_cap(def, &c, "note", "{'bogus':1}", 5), LB_EGUARD, "bogus");
    CU_ASSERT_STRING_EQUAL(g_err.case_id, "");
    CU_ASSERT_EQUAL(wf_case_records(&c), 4);

    /* Actions without a record still run on a full case. */
    EXPECT_OK(act_cap(def, &c, "touch", "{'reason':'r'}", 3));

    /* A closing action is exempt, even with a record. */
    EXPECT_OK(act_cap(def, &c, "close_with_note", "{'note':'closing'}", 3));
    CU_ASSERT_STRING_EQUAL(c.state, "done");
    CU_ASSERT_EQUAL(wf_case_records(&c), 5);
    wf_case_clear(&c);

    /* 0 = the default of 2,000. */
    new_case(&c, def, NULL, T0);
    add_notes(def, &c, WF_CASE_RECORDS_DEFAULT);
    EXPECT_ERR(act_cap(def, &c, "note", "{'note':'n'}", 0), LB_ETOOLARGE, "");
    EXPECT_OK(act_cap(def, &c, "close_with_note", "{'note':'closing'}", 0));
    CU_ASSERT_EQUAL(wf_case_records(&c), WF_CASE_RECORDS_DEFAULT + 1);
    wf_case_clear(&c);
    wf_set_destroy(&set);
}

/*
 * A case at the cap with a long history round-trips through msgpack with
 * the stored-case limits, though not with the request limits.
 */
static void test_case_decode_limits(void)
{
    char err[256];
    wf_set_t *set = NULL;
    CU_ASSERT_EQUAL_FATAL(
        wf_set_load_text("cap.yaml", cap_yaml, strlen(cap_yaml), &set, err, sizeof(err)), 0);
    const wf_def_t *def = wf_set_get(set, "cap-test", 0);
    wf_case_t c, d;
    new_case(&c, def, NULL, T0);
    add_notes(def, &c, WF_CASE_RECORDS_DEFAULT);
    CU_ASSERT_EQUAL_FATAL(act_cap(def, &c, "close_with_note", "{'note':'closing'}", 0), 0);
    /* Events beyond any record count: state changes, escalations, acknowledgements. */
    for (uint64_t seq = 1; seq <= 30000; seq++)
        CU_ASSERT_EQUAL_FATAL(wf_case_add_event(&c, seq), 0);

    lb_val_t *v = wf_case_to_val(&c);
    lb_buf_t buf;
    lb_buf_init(&buf);
    CU_ASSERT_EQUAL_FATAL(proto_pack(v, &buf), 0);
    lb_val_free(&v);

    proto_err_t perr;
    CU_ASSERT_EQUAL(proto_unpack(buf.p, buf.len, &proto_default_limits, &v, &perr), LB_ETOOLARGE);
    lb_val_free(&v);
    const proto_limits_t stored = {WF_CASE_DECODE_DEPTH, WF_CASE_DECODE_ITEMS, WF_CASE_DECODE_STR,
                                   WF_CASE_DECODE_NODES};
    CU_ASSERT_EQUAL_FATAL(proto_unpack(buf.p, buf.len, &stored, &v, &perr), 0);
    memset(&d, 0, sizeof(d));
    CU_ASSERT_EQUAL(wf_case_from_val(v, &d), 0);
    CU_ASSERT_EQUAL(wf_case_records(&d), WF_CASE_RECORDS_DEFAULT + 1);
    CU_ASSERT_EQUAL(d.history->a.n, 30000);
    lb_val_free(&v);

    /* A count larger than the bytes left is still refused before anything is allocated. */
    const uint8_t lying[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    CU_ASSERT_EQUAL(proto_unpack(lying, sizeof(lying), &stored, &v, &perr), LB_EBADREQ);
    CU_ASSERT_PTR_NULL(v);

    lb_buf_free(&buf);
    wf_case_clear(&d);
    wf_case_clear(&c);
    wf_set_destroy(&set);
}

static void test_outcome_kinds(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    struct {
        const char *action, *role, *data, *kind, *record;
    } k[] = {
        {"visit", "field", "{'findings':{}}", "visit", "visit"},
        {"assist", "field", "{'agency':'a','dimension':'living','kind':'housing'}", "assist",
         "assistance"},
        {"follow", "field", "{'level':'survive'}", "followup", "follow_up"},
        {"note", "committee", "{'note':'n'}", "note", "note"},
        {"touch", "field", NULL, "case", NULL},
    };
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        EXPECT_OK(act(g_et, &c, k[i].action, k[i].role, k[i].data, T0 + 7));
        CU_ASSERT_STRING_EQUAL(g_out.kind, k[i].kind);
        if (k[i].record) {
            CU_ASSERT_STRING_EQUAL(g_out.record, k[i].record);
            int64_t at = 0;
            CU_ASSERT_EQUAL(lb_map_int(g_out.event_data, "at", &at), 0);
            CU_ASSERT_EQUAL(at, T0 + 7);
        } else {
            CU_ASSERT_PTR_NULL(g_out.record);
        }
    }
    /* the event carries a copy of the stored record */
    CU_ASSERT(tval_eq(c.visits->a.items[0], "{'at':1700000000007,'findings':{}}"));
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{'income':['bmn20']}}", T0 + 8));
    CU_ASSERT(lb_val_equal(g_out.event_data, c.visits->a.items[1]));
    CU_ASSERT_PTR_NOT_NULL(lb_map_get(c.visits->a.items[0], "findings"));
    wf_case_clear(&c);
}

static void test_resolve_guard(void)
{
    wf_case_t c;
    tp_case_in(&c, "follow_up");
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", NULL, T0), LB_EGUARD, "level");
    EXPECT_ERR(act(g_tp, &c, "resolve", "field", "{'level':'sufficient'}", T0), LB_EFORBIDDEN, "");
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", "{'level':'sufficient'}", T0), LB_EGUARD,
               "follow_ups");
    EXPECT_OK(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive'}", T0 + 10 * DAY));
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", "{'level':'sufficient'}", T0), LB_EGUARD,
               "follow_ups");
    EXPECT_OK(act(g_tp, &c, "record_follow_up", "field", "{'level':'sufficient'}", T0 + 20 * DAY));
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", "{'level':'survive'}", T0), LB_EGUARD,
               "level");
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", "{'level':'wealthy'}", T0), LB_EGUARD,
               "level");
    CU_ASSERT_STRING_EQUAL(c.state, "follow_up");
    CU_ASSERT_STRING_EQUAL(c.level, "sufficient");
    EXPECT_OK(act(g_tp, &c, "resolve", "committee", "{'level':'sustainable'}", T0 + 30 * DAY));
    CU_ASSERT_STRING_EQUAL(c.state, "resolved");
    CU_ASSERT_STRING_EQUAL(c.level, "sustainable");
    CU_ASSERT_EQUAL(c.n_timers, 0);
    CU_ASSERT(g_out.state_changed);
    wf_case_clear(&c);

    /* the rule follows the target's outcome, not the action's name */
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act(g_et, &c, "start", "field", "{'team':'t'}", T0));
    EXPECT_ERR(act(g_et, &c, "finish", "committee", NULL, T0), LB_EGUARD, "follow_ups");
    EXPECT_OK(act(g_et, &c, "follow", "field", "{'level':'sustainable'}", T0));
    EXPECT_OK(act(g_et, &c, "finish", "committee", NULL, T0));
    CU_ASSERT_STRING_EQUAL(c.state, "done");
    wf_case_clear(&c);
}

static void test_close_reason(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_ERR(act(g_tp, &c, "close", "committee", "{'reason':'bored'}", T0), LB_EGUARD, "reason");
    EXPECT_ERR(act(g_tp, &c, "close", "committee", "{'reason':5}", T0), LB_EGUARD, "reason");
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    const char *ok[] = {"moved", "deceased", "refused", "duplicate", "not_poor"};
    for (size_t i = 0; i < 5; i++) {
        wf_case_t d;
        char data[64];
        new_case(&d, g_tp, NULL, T0);
        snprintf(data, sizeof(data), "{'reason':'%s'}", ok[i]);
        EXPECT_OK(act(g_tp, &d, "close", "committee", data, T0 + DAY));
        CU_ASSERT_STRING_EQUAL(d.state, "closed");
        CU_ASSERT_STRING_EQUAL(lb_map_str(g_out.event_data, "reason"), ok[i]);
        wf_case_clear(&d);
    }
    wf_case_clear(&c);

    /* a closed-outcome state without a reason in data is fine */
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act(g_et, &c, "drop", "committee", NULL, T0));
    CU_ASSERT_STRING_EQUAL(c.state, "dropped");
    wf_case_clear(&c);
    /* the reason rule is only for closed outcomes: elsewhere reason is free text */
    new_case(&c, g_sm, NULL, T0);
    EXPECT_OK(act(g_sm, &c, "certify", "committee", "{'certified_by':'village head'}", T0));
    EXPECT_OK(act(g_sm, &c, "return_for_correction", "committee", "{'reason':'no photo'}", T0));
    CU_ASSERT_STRING_EQUAL(c.state, "reported");
    EXPECT_ERR(act(g_sm, &c, "withdraw", "committee", "{'reason':'no photo'}", T0), LB_EGUARD,
               "reason");
    wf_case_clear(&c);
}

static void test_socialmap_path(void)
{
    wf_case_t c;
    new_case(&c, g_sm, NULL, T0);
    CU_ASSERT_STRING_EQUAL(c.state, "reported");
    CU_ASSERT_EQUAL(c.n_timers, 2);
    EXPECT_OK(
        act(g_sm, &c, "record_visit", "field", "{'findings':{'accessibility':['bmn27']}}", T0));
    EXPECT_OK(act(g_sm, &c, "certify", "committee", "{'certified_by':'kamnan'}", T0 + DAY));
    EXPECT_OK(act(g_sm, &c, "verify", "committee", NULL, T0 + 2 * DAY));
    EXPECT_ERR(act(g_sm, &c, "refer", "committee", NULL, T0), LB_EGUARD, "agency");
    EXPECT_OK(act(g_sm, &c, "refer", "committee", "{'agency':'PSDHS'}", T0 + 3 * DAY));
    EXPECT_OK(act(g_sm, &c, "record_assistance", "field",
                  "{'agency':'PSDHS','dimension':'accessibility','kind':'welfare_registration',"
                  "'meets':['bmn27']}",
                  T0 + 4 * DAY));
    EXPECT_OK(act(g_sm, &c, "mark_served", "field", NULL, T0 + 5 * DAY));
    EXPECT_OK(act(g_sm, &c, "close", "committee", NULL, T0 + 6 * DAY));
    CU_ASSERT_STRING_EQUAL(c.state, "closed");
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn27"), "met");
    wf_case_clear(&c);
}

static void test_fire_due(void)
{
    wf_case_t c;
    wf_escalation_t x;
    int64_t due = 0;
    new_case(&c, g_tp, NULL, T0);
    CU_ASSERT_EQUAL(wf_next_due(&c, &due), 1);
    CU_ASSERT_EQUAL(due, T0 + 7 * DAY);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 7 * DAY - 1, &x), 0);
    CU_ASSERT_EQUAL(c.n_esc, 0);
    /* the daemon was down for 20 days: two steps are due, fired one at a time, in order */
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 20 * DAY, &x), 1);
    CU_ASSERT(x.step == 0 && x.at == T0 + 7 * DAY && x.acked_at == 0);
    CU_ASSERT_STRING_EQUAL(x.level, "team");
    CU_ASSERT_STRING_EQUAL(x.state, "identified");
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 20 * DAY, &x), 1);
    CU_ASSERT(x.step == 1 && x.at == T0 + 14 * DAY);
    CU_ASSERT_STRING_EQUAL(x.level, "subdistrict");
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 20 * DAY, &x), 0);
    CU_ASSERT_EQUAL(c.fired_in_state, 2);
    CU_ASSERT(wf_case_overdue(&c));
    CU_ASSERT_EQUAL(c.n_timers, 1);
    CU_ASSERT_EQUAL(wf_next_due(&c, &due), 1);
    CU_ASSERT_EQUAL(due, T0 + 30 * DAY);
    CU_ASSERT_EQUAL(wf_case_latest_esc(&c)->step, 1);
    /* the last step fires exactly at its due time; then nothing is pending */
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 30 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_next_due(&c, &due), 0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, INT64_MAX, &x), 0);
    CU_ASSERT_EQUAL(c.n_esc, 3);

    /* entering a new state: fresh clock, not overdue, history kept */
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'t'}", T0 + 31 * DAY));
    CU_ASSERT_EQUAL(c.fired_in_state, 0);
    CU_ASSERT_FALSE(wf_case_overdue(&c));
    CU_ASSERT_EQUAL(c.n_esc, 3);
    CU_ASSERT_EQUAL(c.n_timers, 3);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 45 * DAY, &x), 1);
    CU_ASSERT_STRING_EQUAL(x.state, "visit_scheduled");
    CU_ASSERT_EQUAL(x.step, 0);
    wf_case_clear(&c);

    /* a state change dated in the past may leave steps already due */
    new_case(&c, g_tp, NULL, T0);
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'t'}", T0 + DAY));
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 100 * DAY, &x), 1);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 100 * DAY, &x), 1);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 100 * DAY, &x), 1);
    CU_ASSERT(x.step == 2 && x.at == T0 + 61 * DAY);
    CU_ASSERT_EQUAL(c.fired_in_state, 3);
    wf_case_clear(&c);
}

static void test_ack(void)
{
    wf_case_t c;
    wf_escalation_t x;
    new_case(&c, g_tp, NULL, T0);
    CU_ASSERT_EQUAL(wf_ack(&c, "committee-91", T0, &x), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 8 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_ack(&c, "committee-91", T0 + 9 * DAY, &x), 0);
    CU_ASSERT(x.step == 0 && x.acked_at == T0 + 9 * DAY);
    CU_ASSERT_STRING_EQUAL(x.acked_by, "committee-91");
    CU_ASSERT_STRING_EQUAL(x.level, "team");
    CU_ASSERT_EQUAL(wf_ack(&c, "committee-91", T0 + 9 * DAY, &x), LB_ECONFLICT);
    /* only the newest counts: a new step needs its own acknowledgement */
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 15 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_case_latest_esc(&c)->acked_at, 0);
    CU_ASSERT_EQUAL(wf_ack(&c, "district-9101", T0 + 16 * DAY, NULL), 0);
    CU_ASSERT_STRING_EQUAL(wf_case_latest_esc(&c)->acked_by, "district-9101");
    CU_ASSERT_EQUAL(c.esc[0].acked_at, T0 + 9 * DAY);
    /* acknowledging does not make the case less overdue */
    CU_ASSERT(wf_case_overdue(&c));
    wf_case_clear(&c);
}

static void test_case_roundtrip(void)
{
    wf_case_t c, d;
    new_case(&c, g_tp, "['bmn1','bmn20']", T0);
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'tambon-1'}", T0 + DAY));
    EXPECT_OK(act(g_tp, &c, "record_visit", "field",
                  "{'findings':{'health':['bmn4']},'needs':[{'dimension':'living','note':'roof'}]}",
                  T0 + 2 * DAY));
    EXPECT_OK(act(g_tp, &c, "plan_assistance", "field", "{'level':'survive'}", T0 + 3 * DAY));
    EXPECT_OK(act(g_tp, &c, "record_assistance", "field",
                  "{'agency':'DOAE','dimension':'income','kind':'occupation','amount_thb':2500,"
                  "'meets':['bmn20']}",
                  T0 + 4 * DAY));
    EXPECT_OK(act(g_tp, &c, "add_note", "committee", "{'note':'ok'}", T0 + 4 * DAY));
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 200 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_ack(&c, "committee", T0 + 201 * DAY, NULL), 0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 200 * DAY, NULL), 1);
    c.last_seq = 1234567;

    lb_val_t *v = wf_case_to_val(&c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_STRING_EQUAL(lb_map_str(v, "case_id"), "C000000042");
    CU_ASSERT_STRING_EQUAL(lb_map_str(v, "team"), "tambon-1");
    CU_ASSERT_STRING_EQUAL(lb_map_str(v, "level"), "survive");
    const lb_val_t *esc = lb_map_get(v, "escalations");
    CU_ASSERT_EQUAL_FATAL(esc->a.n, 2);
    CU_ASSERT_STRING_EQUAL(lb_map_str(esc->a.items[0], "acked_by"), "committee");
    CU_ASSERT_PTR_NULL(lb_map_get(esc->a.items[1], "acked_at"));
    CU_ASSERT_PTR_NULL(lb_map_get(esc->a.items[1], "acked_by"));
    CU_ASSERT_STRING_EQUAL(lb_map_str(esc->a.items[1], "state"), "assisting");

    CU_ASSERT_EQUAL_FATAL(wf_case_from_val(v, &d), 0);
    CU_ASSERT_EQUAL(d.id, 42);
    CU_ASSERT_STRING_EQUAL(d.case_id, c.case_id);
    CU_ASSERT_STRING_EQUAL(d.house_id, "91010000001");
    CU_ASSERT_STRING_EQUAL(d.area, "91010101");
    CU_ASSERT_STRING_EQUAL(d.workflow, "tpmap-household");
    CU_ASSERT_EQUAL(d.workflow_version, 1);
    CU_ASSERT_STRING_EQUAL(d.state, "assisting");
    CU_ASSERT(d.entered_at == c.entered_at && d.opened_at == T0 && d.timers_base == c.timers_base);
    CU_ASSERT_STRING_EQUAL(d.source, "tpmap");
    CU_ASSERT_STRING_EQUAL(d.team, "tambon-1");
    CU_ASSERT_STRING_EQUAL(d.level, "survive");
    CU_ASSERT(lb_val_equal(d.needs, c.needs) && lb_val_equal(d.visits, c.visits) &&
              lb_val_equal(d.assistance, c.assistance) && lb_val_equal(d.notes, c.notes) &&
              lb_val_equal(d.follow_ups, c.follow_ups));
    CU_ASSERT_EQUAL_FATAL(d.n_esc, 2);
    CU_ASSERT(memcmp(d.esc, c.esc, 2 * sizeof(*c.esc)) == 0);
    CU_ASSERT_EQUAL_FATAL(d.n_timers, c.n_timers);
    CU_ASSERT(memcmp(d.timers, c.timers, c.n_timers * sizeof(*c.timers)) == 0);
    CU_ASSERT_EQUAL(d.fired_in_state, 2);
    CU_ASSERT_EQUAL(d.last_seq, 1234567);
    lb_val_t *w = wf_case_to_val(&d);
    CU_ASSERT(lb_val_equal(v, w));
    lb_val_free(&w);
    /* the lent form is the same value, and giving it back leaves the case's lists whole */
    w = wf_case_to_val_lent(&d);
    CU_ASSERT(lb_val_equal(v, w));
    CU_ASSERT_PTR_EQUAL(lb_map_get(w, "visits"), d.visits);
    wf_case_val_return(&w);
    CU_ASSERT_PTR_NULL(w);
    CU_ASSERT(lb_val_equal(d.visits, c.visits) && lb_val_equal(d.needs, c.needs));
    /* taking moves the lists out of the decoded value and leaves it freeable */
    wf_case_t e;
    lb_val_t *x = lb_val_dup(v);
    CU_ASSERT_EQUAL_FATAL(wf_case_from_val_take(x, &e), 0);
    CU_ASSERT(lb_val_equal(e.visits, c.visits) && lb_val_equal(e.history, d.history));
    CU_ASSERT_EQUAL(lb_map_get(x, "visits")->a.n, 0);
    lb_val_free(&x);
    wf_case_clear(&e);
    lb_val_free(&v);
    /* the restored case keeps working */
    EXPECT_OK(act(g_tp, &d, "start_follow_up", "field", NULL, T0 + 300 * DAY));
    wf_case_clear(&d);
    wf_case_clear(&c);

    /* no team, no level: the keys are left out */
    new_case(&c, g_tp, NULL, T0);
    v = wf_case_to_val(&c);
    CU_ASSERT_PTR_NULL(lb_map_get(v, "team"));
    CU_ASSERT_PTR_NULL(lb_map_get(v, "level"));
    CU_ASSERT_EQUAL(lb_map_get(v, "timers")->a.n, 3);
    CU_ASSERT_EQUAL(wf_case_from_val(v, &d), 0);
    CU_ASSERT(d.team[0] == '\0' && d.level[0] == '\0');
    wf_case_clear(&d);
    lb_val_free(&v);
    wf_case_clear(&c);
}

/* A stored case value, escalated once, to be spoilt by the corrupt-value tests. */
static lb_val_t *escalated_case_val(void)
{
    wf_case_t c;
    new_case(&c, g_tp, "['bmn1']", T0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 8 * DAY, NULL), 1);
    lb_val_t *good = wf_case_to_val(&c);
    wf_case_clear(&c);
    return good;
}

/* One key of a stored case set to a bad value. */
typedef struct {
    const char *key;
    const char *val; /* NULL: delete the key */
} corrupt_key_t;

static const corrupt_key_t corrupt_keys[] = {
    {"case_id", "'42'"},
    {"case_id", "'C42'"},
    {"case_id", NULL},
    {"state", NULL},
    {"state", "7"},
    {"entered_at", "'yesterday'"},
    {"workflow_version", "0"},
    {"house_id", "'123456789012'"},
    {"team", "'0123456789012345678901234567890123456789012345678901234567890123'"},
    {"level", "1"},
    {"needs", "{}"},
    {"needs", "[1]"},
    {"visits", NULL},
    {"escalations", "[{'step':0,'level':'team','state':'identified'}]"},
    {"escalations", "[{'step':-1,'level':'team','state':'identified','at':1}]"},
    {"escalations", "[{'step':0,'level':'team','state':'identified','at':1,'acked_at':'x'}]"},
    {"escalations", "[7]"},
    {"timers", "[{'due':1,'step':0}]"},
    {"timers", "[{'due':1,'step':0,'level':'team-level-too-long'}]"},
    {"timers", "'none'"},
    {"last_seq", "-1"},
    {"fired_in_state", "4294967296"},
};

/* good with one key spoilt must be refused, leaving the case zeroed. */
static void check_corrupt_key(const lb_val_t *good, const corrupt_key_t *bad)
{
    wf_case_t d;
    lb_val_t *v = lb_val_dup(good);
    if (bad->val) {
        lb_val_t *x = tval(bad->val);
        CU_ASSERT_EQUAL(lb_map_set(v, bad->key, x), 0);
    } else {
        CU_ASSERT_EQUAL(lb_map_del(v, bad->key), 0);
    }
    int rc = wf_case_from_val(v, &d);
    CU_ASSERT_EQUAL(rc, LB_ECORRUPT);
    if (rc != LB_ECORRUPT)
        fprintf(stderr, "\n  accepted %s = %s\n", bad->key, bad->val ? bad->val : "-");
    /* a refused value leaves the case zeroed */
    CU_ASSERT(d.needs == NULL && d.esc == NULL && d.n_timers == 0 && d.state[0] == '\0');
    wf_case_clear(&d);
    lb_val_free(&v);
}

static void test_case_from_val_corrupt(void)
{
    wf_case_t d;
    lb_val_t *good = escalated_case_val();
    CU_ASSERT_PTR_NOT_NULL_FATAL(good);

    CU_ASSERT_EQUAL(wf_case_from_val(NULL, &d), LB_ECORRUPT);
    CU_ASSERT_EQUAL(wf_case_from_val(tval_tmp("[]"), &d), LB_ECORRUPT);
    for (size_t i = 0; i < sizeof(corrupt_keys) / sizeof(corrupt_keys[0]); i++)
        check_corrupt_key(good, &corrupt_keys[i]);
    lb_val_free(&good);
}

/* Keys the stored form does not know (case.get's household) are ignored. */
static void test_case_from_val_unknown_keys(void)
{
    wf_case_t d;
    lb_val_t *v = escalated_case_val();
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(lb_map_set(v, "household", lb_map()), 0);
    CU_ASSERT_EQUAL(wf_case_from_val(v, &d), 0);
    CU_ASSERT_EQUAL(d.n_esc, 1);
    wf_case_clear(&d);
    lb_val_free(&v);
}

/* Writes text to a new temporary file; its path into path (removed by the caller). */
static void write_temp(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/wf-yaml-XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* ---------------------------------------------------------------------- */
/* Reloads: migrate                                                        */
/* ---------------------------------------------------------------------- */

#define MIG "tests/data/workflows-migrate/"

static void test_bad_migrate(void)
{
    expect_bad(MIG "bad-migrate-existing.yaml", 8, 3,
               "migrate: 'open' is a state of this workflow");
    expect_bad(MIG "bad-migrate-target.yaml", 8, 13,
               "migrate: 'reviewing' is not a state of this workflow");
    expect_bad(MIG "bad-migrate-list.yaml", 7, 10, "migrate must be a map");
    expect_bad(MIG "bad-migrate-name.yaml", 8, 3, "invalid state name 'Checking'");
    expect_bad(MIG "bad-migrate-value.yaml", 8, 13, "migrate target");
}

static wf_set_t *load_mig(const char *sub)
{
    char err[512] = "";
    wf_set_t *set = NULL;
    char path[256];
    snprintf(path, sizeof(path), MIG "%s", sub);
    int rc = wf_set_load(path, &set, err, sizeof(err));
    if (rc)
        fprintf(stderr, "\n  %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return set;
}

typedef struct {
    char got[512];
    int calls, stop_after;
} vanished_t;

static int vanished_cb(const char *state, int64_t old_version, const char *migrate_to, void *ctx)
{
    vanished_t *v = ctx;
    size_t n = strlen(v->got);
    snprintf(v->got + n, sizeof(v->got) - n, "%s%s@%lld->%s", n ? " " : "", state,
             (long long)old_version, migrate_to ? migrate_to : "-");
    if (++v->calls == v->stop_after)
        return 1;
    return 0;
}

static void expect_vanished(const wf_set_t *old_set, const wf_set_t *new_set, const char *name,
                            const char *want)
{
    vanished_t v = {.got = "", .calls = 0, .stop_after = 0};
    CU_ASSERT_EQUAL(wf_set_vanished(old_set, new_set, name, vanished_cb, &v), 0);
    CU_ASSERT_STRING_EQUAL(v.got, want);
    if (strcmp(v.got, want) != 0)
        fprintf(stderr, "\n  want '%s'\n  got  '%s'\n", want, v.got);
}

static void test_migrate_map(void)
{
    wf_set_t *v1 = load_mig("v1"), *v2 = load_mig("v2"), *part = load_mig("v2-partial");
    const wf_def_t *d1 = wf_set_get(v1, "mig-test", 0), *d2 = wf_set_get(v2, "mig-test", 0);
    CU_ASSERT_PTR_NULL(wf_def_migrate(d1, "checking")); /* no migrate map */
    CU_ASSERT_STRING_EQUAL(wf_def_migrate(d2, "checking"), "review");
    CU_ASSERT_STRING_EQUAL(wf_def_migrate(d2, "waiting"), "open");
    CU_ASSERT_PTR_NULL(wf_def_migrate(d2, "open"));
    CU_ASSERT_PTR_NULL(wf_def_migrate(d2, NULL));
    CU_ASSERT_PTR_NULL(wf_def_migrate(NULL, "checking"));
    CU_ASSERT_PTR_NULL(wf_def_migrate(wf_set_get(part, "mig-test", 0), "waiting"));

    /* workflow.get shows the map; workflow.list does not. */
    lb_val_t *full = wf_def_describe(d2, true), *brief = wf_def_describe(d2, false);
    CU_ASSERT(tval_eq(lb_map_get(full, "migrate"), "{'checking':'review','waiting':'open'}"));
    CU_ASSERT_PTR_NULL(lb_map_get(brief, "migrate"));
    lb_val_free(&full);
    lb_val_free(&brief);
    full = wf_def_describe(d1, true);
    CU_ASSERT_PTR_NULL(lb_map_get(full, "migrate"));
    lb_val_free(&full);

    wf_set_destroy(&v1);
    wf_set_destroy(&v2);
    wf_set_destroy(&part);
}

static void test_vanished_states(void)
{
    wf_set_t *v1 = load_mig("v1"), *v2 = load_mig("v2"), *part = load_mig("v2-partial");
    wf_set_t *other = load_mig("v2-renamed"), *both = NULL;
    char err[512];
    const char *files[] = {MIG "v1/mig-test.yaml", MIG "v2/mig-test.yaml"};
    CU_ASSERT_EQUAL_FATAL(wf_set_load_files(files, 2, &both, err, sizeof(err)), 0);

    /* Terminal states (archived) are never reported. */
    expect_vanished(v1, v2, "mig-test", "checking@1->review waiting@1->open");
    expect_vanished(v1, part, "mig-test", "checking@1->review waiting@1->-");
    /* The same set, or a reload that keeps version 1 loaded: nothing vanishes. */
    expect_vanished(v1, v1, "mig-test", "");
    expect_vanished(v1, both, "mig-test", "");
    /* Version 1 dropped from a set that had both: only its cases move. */
    expect_vanished(both, v2, "mig-test", "checking@1->review waiting@1->open");
    /* Back from 2 to 1: review vanishes and version 1 has no map for it. */
    expect_vanished(v2, v1, "mig-test", "review@2->-");
    /* The workflow is gone altogether, or the set is empty. */
    expect_vanished(v1, other, "mig-test", "open@1->- checking@1->- waiting@1->-");
    expect_vanished(v1, NULL, "mig-test", "open@1->- checking@1->- waiting@1->-");
    /* A name the old set does not have, or no old set: nothing. */
    expect_vanished(v1, v2, "nope", "");
    expect_vanished(NULL, v2, "mig-test", "");

    /* fn stops the walk with > 0, fails it with < 0. */
    vanished_t v = {.got = "", .calls = 0, .stop_after = 1};
    CU_ASSERT_EQUAL(wf_set_vanished(v1, v2, "mig-test", vanished_cb, &v), 0);
    CU_ASSERT_STRING_EQUAL(v.got, "checking@1->review");
    CU_ASSERT_EQUAL(wf_set_vanished(v1, v2, NULL, vanished_cb, &v), LB_EINTERNAL);
    CU_ASSERT_EQUAL(wf_set_vanished(v1, v2, "mig-test", NULL, NULL), LB_EINTERNAL);

    wf_set_destroy(&v1);
    wf_set_destroy(&v2);
    wf_set_destroy(&part);
    wf_set_destroy(&other);
    wf_set_destroy(&both);
}

static void test_case_migrate(void)
{
    wf_set_t *v1 = load_mig("v1"), *v2 = load_mig("v2"), *part = load_mig("v2-partial");
    const wf_def_t *d1 = wf_set_get(v1, "mig-test", 0), *d2 = wf_set_get(v2, "mig-test", 0);
    const wf_def_t *dp = wf_set_get(part, "mig-test", 0);
    wf_case_t c;

    /* A case in checking with a fired escalation moves to review with review's timers. */
    new_case(&c, d1, NULL, T0);
    EXPECT_OK(act(d1, &c, "check", "field", NULL, T0 + HOUR));
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 2 * DAY, NULL), 1);
    CU_ASSERT_TRUE(wf_case_overdue(&c));
    CU_ASSERT_EQUAL(wf_case_migrate(d2, &c, T0 + 3 * DAY), 1);
    CU_ASSERT_STRING_EQUAL(c.state, "review");
    CU_ASSERT_EQUAL(c.workflow_version, 2);
    CU_ASSERT_EQUAL(c.entered_at, T0 + 3 * DAY);
    CU_ASSERT_EQUAL(c.timers_base, T0 + 3 * DAY);
    CU_ASSERT_FALSE(wf_case_overdue(&c));
    CU_ASSERT_EQUAL(c.n_esc, 1); /* history of escalations kept */
    CU_ASSERT_EQUAL_FATAL(c.n_timers, 2);
    CU_ASSERT_EQUAL(c.timers[0].due, T0 + 5 * DAY);
    CU_ASSERT_STRING_EQUAL(c.timers[1].level, "district");
    /* Now it fits: nothing more to do, and it acts under version 2. */
    CU_ASSERT_EQUAL(wf_case_migrate(d2, &c, T0 + 4 * DAY), 0);
    CU_ASSERT_EQUAL(c.entered_at, T0 + 3 * DAY);
    EXPECT_OK(act(d2, &c, "finish", "field", NULL, T0 + 4 * DAY));
    wf_case_clear(&c);

    /* waiting -> open: a clock set back in time never moves entered_at back. */
    new_case(&c, d1, NULL, T0);
    EXPECT_OK(act(d1, &c, "check", "field", NULL, T0 + DAY));
    EXPECT_OK(act(d1, &c, "wait", "field", NULL, T0 + 2 * DAY));
    CU_ASSERT_EQUAL(wf_case_migrate(d2, &c, T0), 1);
    CU_ASSERT_STRING_EQUAL(c.state, "open");
    CU_ASSERT_EQUAL(c.entered_at, T0 + 2 * DAY);
    CU_ASSERT_EQUAL(c.n_timers, 0);
    wf_case_clear(&c);

    /* Unmapped: LB_ENOTFOUND, the case unchanged. */
    new_case(&c, d1, NULL, T0);
    EXPECT_OK(act(d1, &c, "check", "field", NULL, T0 + DAY));
    EXPECT_OK(act(d1, &c, "wait", "field", NULL, T0 + 2 * DAY));
    CU_ASSERT_EQUAL(wf_case_migrate(dp, &c, T0 + 3 * DAY), LB_ENOTFOUND);
    CU_ASSERT_STRING_EQUAL(c.state, "waiting");
    CU_ASSERT_EQUAL(c.workflow_version, 1);
    CU_ASSERT_EQUAL(c.entered_at, T0 + 2 * DAY);
    CU_ASSERT_EQUAL(wf_case_migrate(NULL, &c, T0), LB_EINTERNAL);
    wf_case_clear(&c);

    wf_set_destroy(&v1);
    wf_set_destroy(&v2);
    wf_set_destroy(&part);
}

static void test_yaml_load_val(void)
{
    char path[64], err[256], want[128];
    lb_val_t *v = NULL;

    write_temp(path, "a: 1\nb: [x, 'y']\nc:\nd: {e: true}\n");
    CU_ASSERT_EQUAL_FATAL(wf_yaml_load_val(path, &v, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(v->type, LB_MAP);
    CU_ASSERT_STRING_EQUAL(lb_map_str(v, "a"), "1"); /* scalars stay strings */
    const lb_val_t *b = lb_map_get(v, "b");
    CU_ASSERT_FATAL(b && b->type == LB_ARR && b->a.n == 2);
    CU_ASSERT_STRING_EQUAL(b->a.items[1]->s.p, "y");
    CU_ASSERT_STRING_EQUAL(lb_map_str(v, "c"), "");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(v, "d"), "e"), "true");
    lb_val_free(&v);
    remove(path);

    write_temp(path, "a: 1\nb:\n  c: 2\n  c: 3\n");
    CU_ASSERT_EQUAL(wf_yaml_load_val(path, &v, err, sizeof err), LB_ECONFIG);
    CU_ASSERT_PTR_NULL(v);
    snprintf(want, sizeof want, "%s:4:3: duplicate key 'c' (first at line 3)", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    remove(path);

    write_temp(path, "a: [1, 2\n");
    CU_ASSERT_EQUAL(wf_yaml_load_val(path, &v, err, sizeof err), LB_ECONFIG);
    snprintf(want, sizeof want, "%s:2:1: syntax error:", path);
    CU_ASSERT_NSTRING_EQUAL(err, want, strlen(want));
    remove(path);

    CU_ASSERT_EQUAL(wf_yaml_load_val(path, &v, err, sizeof err), LB_ECONFIG); /* gone */
    CU_ASSERT_NSTRING_EQUAL(err, path, strlen(path));
}

/* ---------------------------------------------------------------------- */

typedef struct {
    const char *name;
    CU_TestFunc fn;
} test_t;

static const test_t tests[] = {
    {"load shipped workflows", test_load_shipped},
    {"load versions from a folder", test_load_versions},
    {"load from text", test_load_text},
    {"load the indicator catalog", test_load_catalog},
    {"catalog errors", test_catalog_errors},
    {"refuse syntax errors and non-map top level", test_bad_syntax},
    {"refuse unknown keys", test_bad_unknown_keys},
    {"refuse duplicate keys", test_bad_duplicate_key},
    {"refuse bad name and version", test_bad_name_version},
    {"refuse missing or unknown initial", test_bad_initial},
    {"refuse unknown states in from/to", test_bad_from_to},
    {"refuse bad escalation steps", test_bad_escalation},
    {"refuse escalating or acting terminal states", test_bad_terminal},
    {"refuse unknown roles", test_bad_role},
    {"refuse bad durations", test_bad_durations},
    {"refuse bad record, outcome, restart_timers", test_bad_record_outcome_restart},
    {"refuse bad names and empty states", test_bad_names_and_states},
    {"refuse the same name and version twice", test_duplicate_name_version},
    {"durations", test_parse_duration},
    {"describe", test_describe},
    {"open", test_open},
    {"open with bad deprived", test_open_bad_deprived},
    {"unknown action, invalid transition", test_unknown_action_and_transition},
    {"roles, admin override", test_roles},
    {"required keys", test_require},
    {"state change resets timers", test_state_change},
    {"self-loop is no state change", test_self_loop},
    {"restart_timers", test_restart_timers},
    {"from * and terminal states", test_from_star_and_terminal},
    {"visit record schema", test_visit_record},
    {"catalog dimension mismatch", test_catalog_dimension_mismatch},
    {"assistance record schema", test_assistance_record},
    {"follow-up and note record schemas", test_follow_up_and_note_records},
    {"needs opened, met, reopened", test_needs},
    {"needs without indicator", test_needs_without_indicator},
    {"team and level", test_team_and_level},
    {"records ordered by at", test_records_ordered_by_at},
    {"non-record data is scalars", test_scalar_data},
    {"strict non-record data: team, level, reason, require keys", test_scalar_data_keys},
    {"record cap, closing actions exempt", test_record_cap},
    {"stored-case decode limits", test_case_decode_limits},
    {"outcome kinds and event data", test_outcome_kinds},
    {"resolve guard", test_resolve_guard},
    {"close reason", test_close_reason},
    {"socialmap referral path", test_socialmap_path},
    {"fire due timers in order", test_fire_due},
    {"acknowledge escalations", test_ack},
    {"case to_val/from_val round trip", test_case_roundtrip},
    {"case from_val refuses corrupt values", test_case_from_val_corrupt},
    {"case from_val ignores unknown keys", test_case_from_val_unknown_keys},
    {"YAML file as a value", test_yaml_load_val},
    {"refuse bad migrate maps", test_bad_migrate},
    {"migrate map and describe", test_migrate_map},
    {"states a reload strands", test_vanished_states},
    {"case migrate", test_case_migrate},
};

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite_with_setup_and_teardown("workflow", suite_init, suite_clean, NULL,
                                                       test_teardown);
    if (!s) {
        CU_cleanup_registry();
        return 2;
    }
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) {
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_suites_failed() +
                      CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
