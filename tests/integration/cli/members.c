/*
 * members.c - logbook member, duplicates and merge (PROTOCOL.md 9.18)
 * against the suite's daemon.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "cli_test.h"

void test_member_duplicates_merge(void)
{
    char a[LB_CASE_ID_MAX], b[LB_CASE_ID_MAX], nid[14], nid2[14];
    testd_nid(430100200300ULL, nid);
    testd_nid(430100200301ULL, nid2);
    cli_open(a, "65010000081", "65010181");
    cli_open(b, "65010000082", "65010182");
    run_t r;
    cli(&r, "member", a, "join", nid, "--name", "สมศรี", "--birth-year", "1970", "--sex", "f");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "join recorded"));
    CU_ASSERT_FALSE(contains(r.err, "also a member"));
    run_free(&r);
    /* the same person in a second household: accepted, with a note naming the first */
    cli(&r, "member", b, "join", nid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.err, a));
    run_free(&r);
    cli(&r, "member", a, "join", nid2);
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    /* the head leaving while another remains needs --new-head: refused, exit 1 */
    cli(&r, "member", a, "leave", nid);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "bad_request"));
    run_free(&r);
    cli(&r, "member", a, "leave", nid, "--new-head", nid2);
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    cli(&r, "member", a, "adopt", nid);
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "member", a, "join", "1234567890123");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    /* b still has nid, a no longer: join it back to a, then list and merge */
    cli(&r, "member", a, "join", nid);
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    char pair[64];
    snprintf(pair, sizeof pair, "%s %s\n", a, b);
    cli(&r, "duplicates", "--area", "650101");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, pair));
    run_free(&r);
    cli(&r, "merge", a, b);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "closed as a duplicate"));
    run_free(&r);
    cli(&r, "duplicates", "--area", "650101");
    CU_ASSERT_FALSE(contains(r.out, pair));
    run_free(&r);
    cli(&r, "merge", a, b);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "conflict"));
    run_free(&r);
    cli(&r, "merge", a);
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
}
