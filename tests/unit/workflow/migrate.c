/*
 * workflow/migrate.c - YAML files as values, and reloads: migrate maps, states a reload strands,
 * case migration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

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
    CU_ASSERT_EQUAL(wf_case_migrate(d2, NULL, &c, T0 + 3 * DAY), 1);
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
    CU_ASSERT_EQUAL(wf_case_migrate(d2, NULL, &c, T0 + 4 * DAY), 0);
    CU_ASSERT_EQUAL(c.entered_at, T0 + 3 * DAY);
    EXPECT_OK(act(d2, &c, "finish", "field", NULL, T0 + 4 * DAY));
    wf_case_clear(&c);

    /* waiting -> open: a clock set back in time never moves entered_at back. */
    new_case(&c, d1, NULL, T0);
    EXPECT_OK(act(d1, &c, "check", "field", NULL, T0 + DAY));
    EXPECT_OK(act(d1, &c, "wait", "field", NULL, T0 + 2 * DAY));
    CU_ASSERT_EQUAL(wf_case_migrate(d2, NULL, &c, T0), 1);
    CU_ASSERT_STRING_EQUAL(c.state, "open");
    CU_ASSERT_EQUAL(c.entered_at, T0 + 2 * DAY);
    CU_ASSERT_EQUAL(c.n_timers, 0);
    wf_case_clear(&c);

    /* Unmapped: LB_ENOTFOUND, the case unchanged. */
    new_case(&c, d1, NULL, T0);
    EXPECT_OK(act(d1, &c, "check", "field", NULL, T0 + DAY));
    EXPECT_OK(act(d1, &c, "wait", "field", NULL, T0 + 2 * DAY));
    CU_ASSERT_EQUAL(wf_case_migrate(dp, NULL, &c, T0 + 3 * DAY), LB_ENOTFOUND);
    CU_ASSERT_STRING_EQUAL(c.state, "waiting");
    CU_ASSERT_EQUAL(c.workflow_version, 1);
    CU_ASSERT_EQUAL(c.entered_at, T0 + 2 * DAY);
    CU_ASSERT_EQUAL(wf_case_migrate(NULL, NULL, &c, T0), LB_EINTERNAL);
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

static const cu_test_t tests[] = {
    {"YAML file as a value", test_yaml_load_val},
    {"refuse bad migrate maps", test_bad_migrate},
    {"migrate map and describe", test_migrate_map},
    {"states a reload strands", test_vanished_states},
    {"case migrate", test_case_migrate},
};
const cu_suite_t workflow_migrate_suite = {.name = "migrate",
                                           .init = wf_suite_init,
                                           .clean = wf_suite_clean,
                                           .teardown = wf_test_teardown,
                                           .tests = tests,
                                           .n = CU_COUNT(tests)};
