/*
 * cu.h - the one CUnit main for every test binary: a table of tests (or of
 * suites) in, an exit status out. A test file ends with its table and a
 * three-line main() instead of its own registry code.
 *
 *     static const cu_test_t tests[] = {{"round trip", test_round_trip}, ...};
 *     int main(void) { return cu_run("proto", NULL, NULL, tests, CU_COUNT(tests)); }
 */
#ifndef CU_H
#define CU_H

#include <CUnit/CUnit.h>
#include <stddef.h>

typedef struct {
    const char *name;
    CU_TestFunc fn;
} cu_test_t;

/* One suite: its init/clean run once around its tests, setup/teardown around each (all may be
 * NULL). */
typedef struct {
    const char *name;
    CU_InitializeFunc init;
    CU_CleanupFunc clean;
    const cu_test_t *tests;
    size_t n;
    CU_SetUpFunc setup;
    CU_TearDownFunc teardown;
} cu_suite_t;

#define CU_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#ifdef __clang_analyzer__
/*
 * For clang-tidy only: a failed _FATAL assertion longjmps out of the test,
 * which the analyzer cannot see, so it reports a NULL dereference right after
 * CU_ASSERT_PTR_NOT_NULL_FATAL(p). Here such an assertion ends the path.
 */
#include <stdlib.h>
#undef CU_assertImplementation
#define CU_assertImplementation(value, line, cond, file, fn, fatal)                                \
    ((!(value) && (fatal)) ? (abort(), CU_FALSE) : CU_TRUE)
#endif

/*
 * Registers one suite of n tests, runs it verbosely and cleans the registry
 * up. Returns the process's exit status: 0 when everything passed; 1 when
 * anything failed (an assertion, a test, the suite's init or clean, or a
 * failure counted with cu_fail_outside); 2 when CUnit could not register.
 */
int cu_run(const char *suite, CU_InitializeFunc init, CU_CleanupFunc clean, const cu_test_t *tests,
           size_t n);

/* cu_run for several suites, run in the order given. Same exit status. */
int cu_run_suites(const cu_suite_t *suites, size_t n);

/*
 * Runs whatever is registered already (for mains that still call
 * CU_add_suite themselves), cleans the registry up; the same exit status.
 */
int cu_run_registered(void);

/*
 * Counts a failure that no assertion saw (a daemon that exited non-zero
 * while a test stopped it, a sanitizer report in a child): printed now, and
 * the run's exit status becomes 1.
 */
void cu_fail_outside(const char *what);

/* Failures counted with cu_fail_outside so far. */
int cu_outside_failures(void);

#endif
