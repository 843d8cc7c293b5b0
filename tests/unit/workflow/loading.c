/*
 * workflow/loading.c - the shipped workflows and catalog load, and every refusal of the loaders
 * points at the right file:line:column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

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

static const cu_test_t tests[] = {
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
};
const cu_suite_t workflow_loading_suite = {.name = "loading",
                                           .init = wf_suite_init,
                                           .clean = wf_suite_clean,
                                           .teardown = wf_test_teardown,
                                           .tests = tests,
                                           .n = CU_COUNT(tests)};
