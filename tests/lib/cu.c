/*
 * cu.c - the shared CUnit runner behind cu.h: registers tables of tests,
 * runs them verbosely, and turns every kind of failure into exit status 1.
 */
#include "cu.h"

#include <CUnit/Basic.h>
#include <stdio.h>

static int outside;

void cu_fail_outside(const char *what)
{
    fprintf(stderr, "\n  FAILED outside a test assertion: %s\n", what ? what : "(no detail)");
    outside++;
}

int cu_outside_failures(void)
{
    return outside;
}

int cu_run_registered(void)
{
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_ErrorCode rc = CU_basic_run_tests();
    const CU_RunSummary *sum = CU_get_run_summary();
    int failed = rc != CUE_SUCCESS || CU_get_number_of_failures() ||
                 CU_get_number_of_tests_failed() || (sum && sum->nSuitesFailed) || outside;
    if (outside)
        printf("\n%d failure(s) outside test assertions\n", outside);
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

static int add_suite(const cu_suite_t *s)
{
    CU_pSuite suite =
        CU_add_suite_with_setup_and_teardown(s->name, s->init, s->clean, s->setup, s->teardown);
    if (!suite)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        if (!CU_add_test(suite, s->tests[i].name, s->tests[i].fn))
            return -1;
    return 0;
}

int cu_run_suites(const cu_suite_t *suites, size_t n)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        return 2;
    }
    for (size_t i = 0; i < n; i++) {
        if (add_suite(&suites[i])) {
            fprintf(stderr, "CUnit: suite %s: %s\n", suites[i].name, CU_get_error_msg());
            CU_cleanup_registry();
            return 2;
        }
    }
    return cu_run_registered();
}

int cu_run(const char *suite, CU_InitializeFunc init, CU_CleanupFunc clean, const cu_test_t *tests,
           size_t n)
{
    const cu_suite_t s = {.name = suite, .init = init, .clean = clean, .tests = tests, .n = n};
    return cu_run_suites(&s, 1);
}
