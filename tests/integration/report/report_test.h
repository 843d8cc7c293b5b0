/*
 * report_test.h - what test_report.c shares with its files in
 * tests/integration/report/: the test daemon with its fixture, the
 * commands run as subprocesses, and each file's tests.
 */
#ifndef REPORT_TEST_H
#define REPORT_TEST_H

#include <stddef.h>

#include "../../../clients/lib/csv.h"
#include "../../lib/cu.h"
#include "../../lib/testd.h"

enum { VIA_REPORT = 0, VIA_LOGBOOK = 1 };

/* The sentinel of run_report's argument list (a bare NULL may be a plain 0 in varargs). */
#define END ((const char *)NULL)

/* The daemon (manual clock) holding the fixture of test_report.c. */
extern testd_t D;
/* Runs argv, collecting stdout into *out (NUL-terminated, caller frees); the exit status. */
int run_argv(const char **argv, char **out);
/* logbook-report (VIA_REPORT) or `logbook report` with the daemon's endpoints, cert (NULL:
 * admin) and the extra arguments up to END; the exit status. */
int run_report(int via, const char *cert, char **out, ...);
/* How often needle occurs in hay. */
size_t count_of(const char *hay, const char *needle);
/* A file's contents (caller frees), NULL when unreadable. */
char *slurp(const char *path);

#define REPORT_WHERE_NTESTS 7
extern const cu_test_t report_where_tests[REPORT_WHERE_NTESTS];

#define REPORT_LEDGER_NTESTS 2
extern const cu_test_t report_ledger_tests[REPORT_LEDGER_NTESTS];

#endif
