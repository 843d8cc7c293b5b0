/*
 * casework.c - logbook transfer, reassign and admin remap (PROTOCOL.md 9.17)
 * through the CLI, against test_cli's daemon: what they print, what --json
 * gives, and their usage errors.
 */
#include <stdio.h>
#include <string.h>

#include "cli_test.h"

void test_casework(void)
{
    char a[LB_CASE_ID_MAX], b[LB_CASE_ID_MAX];
    cli_open(a, "71000000001", "71010101");
    cli_open(b, "71000000002", "71010102");
    run_t r;
    cli(&r, "transfer", a, "71020101");
    CU_ASSERT_EQUAL(r.code, 2); /* --reason is required */
    CU_ASSERT(contains(r.err, "--reason"));
    run_free(&r);
    cli(&r, "transfer", a, "7102", "--reason", "moved");
    CU_ASSERT_EQUAL(r.code, 2); /* a village code is 8 digits */
    run_free(&r);
    cli(&r, "transfer", a, "71020101", "--reason", "moved to the district town");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(contains(r.out, "moved from area 71010101 to 71020101"));
    run_free(&r);

    cli(&r, "schedule", b, "old");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    cli(&r, "reassign", "--area", "71", "--team", "old", "--to", "new", "--expect", "2");
    CU_ASSERT_EQUAL(r.code, 1); /* conflict: one case matches */
    CU_ASSERT(contains(r.err, "conflict"));
    run_free(&r);
    cli(&r, "reassign", "--area", "71", "--team", "old", "--to", "new", "--expect", "1");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(contains(r.out, "1 cases matched: 1 reassigned to new"));
    run_free(&r);
    cli(&r, "reassign", "--to", "new");
    CU_ASSERT_EQUAL(r.code, 2); /* no filter at all */
    run_free(&r);

    cli(&r, "admin", "remap", "7101=7199", "7102=7198");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(contains(r.out, "remap done: 2 cases moved"));
    run_free(&r);
    cli(&r, "--json", "show", a);
    CU_ASSERT(contains(r.out, "\"area\": \"71980101\""));
    run_free(&r);
    cli(&r, "admin", "remap", "7101");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "admin", "remap", "71=7");
    CU_ASSERT_EQUAL(r.code, 1); /* the daemon refuses the map: bad_request */
    CU_ASSERT(contains(r.err, "bad_request"));
    run_free(&r);
}
