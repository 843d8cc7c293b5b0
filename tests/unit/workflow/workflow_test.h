/*
 * workflow_test.h - shared by test_workflow.c and its files in
 * tests/unit/workflow/: the sets, catalog and outcome every suite uses (loaded
 * by wf_suite_init), the helpers of helpers.c and each file's suite. Runs from
 * the repository root; fixtures are under tests/data/workflows.
 */
#ifndef WORKFLOW_TEST_H
#define WORKFLOW_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../../proto/proto.h"
#include "../../../workflow/workflow.h"
#include "../../lib/cu.h"
#include "../../lib/tval.h"

#define FIX "tests/data/workflows/"
#define T0 INT64_C(1700000000000)
#define SEC INT64_C(1000)
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)

extern wf_set_t *g_set;  /* config/workflows */
extern wf_set_t *g_test; /* tests/data/workflows/good */
extern wf_catalog_t *g_cat;
extern const wf_def_t *g_tp, *g_sm, *g_et; /* tpmap-household, socialmap-referral, engine-test 1 */
extern wf_outcome_t g_out;                 /* cleared by act() and the per-test teardown */
extern wf_error_t g_err;

/* A suite's init and clean: load and free the sets and catalog above. */
int wf_suite_init(void);
int wf_suite_clean(void);
/* Per-test teardown: frees the values of tval_tmp() and clears g_out. */
void wf_test_teardown(void);

/*
 * Loading path is refused: LB_ECONFIG, no set, and err starts with
 * file:line:col: (file is the one inside path when path is a folder).
 */
void expect_bad_in(const char *path, const char *file, unsigned line, unsigned col,
                   const char *text);
void expect_bad(const char *path, unsigned line, unsigned col, const char *text);
void expect_bad_catalog(const char *path, unsigned line, unsigned col, const char *text);
/* Case 42 (C000000042) of def opened at now with the deprived indicators as text. */
void new_case(wf_case_t *c, const wf_def_t *def, const char *deprived, int64_t now);
/* Runs one action; the outcome stays in g_out, an error in g_err. */
int act(const wf_def_t *def, wf_case_t *c, const char *action, const char *role, const char *data,
        int64_t at);
/* The status of the need for indicator, NULL when the case has none. */
const char *need_status(const wf_case_t *c, const char *indicator);
/* A tpmap case moved to assisting (and on to follow_up when asked). */
void tp_case_in(wf_case_t *c, const char *state);

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

extern const cu_suite_t workflow_loading_suite;
extern const cu_suite_t workflow_transitions_suite;
extern const cu_suite_t workflow_records_suite;
extern const cu_suite_t workflow_outcomes_suite;
extern const cu_suite_t workflow_stored_suite;
extern const cu_suite_t workflow_packed_suite;
extern const cu_suite_t workflow_migrate_suite;
/* areas.c: the gazetteer (wf_areas_*); its init loads config/areas.tsv. */
extern const cu_suite_t workflow_areas_suite;
extern const cu_suite_t workflow_holidays_suite;
extern const cu_suite_t workflow_members_suite;
extern const cu_suite_t workflow_ledger_suite;

#endif
