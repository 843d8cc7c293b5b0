/*
 * ledger.c - logbook ledger, logbook agenda and record ids in `logbook act`
 * (PROTOCOL.md 9.19) through the command line.
 */
#include <stdio.h>
#include <string.h>

#include "cli_test.h"

void test_ledger_and_agenda(void)
{
    char cid[LB_CASE_ID_MAX];
    cli_open(cid, "67110000001", "67110101");
    CU_ASSERT_FATAL(cid[0] != '\0');
    run_t r;
    cli(&r, "act", cid, "record_visit", "findings.income=bmn22,");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    cli(&r, "act", cid, "plan_assistance");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    cli(&r, "act", cid, "record_assistance", "agency=cli-agency", "dimension=income", "kind=cash",
        "amount_thb=1200", "status=pledged");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, ", record 2")); /* the visit is record 1 */
    run_free(&r);

    cli(&r, "ledger", "--area", "6711");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "cli-agency"));
    CU_ASSERT_TRUE(contains(r.out, "1200.00"));
    CU_ASSERT_TRUE(contains(r.out, "(total)"));
    run_free(&r);
    cli(&r, "--json", "ledger", "--area", "6711", "--by", "dimension");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"income\""));
    run_free(&r);
    cli(&r, "ledger", "--by", "team");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);

    cli(&r, "act", cid, "start_follow_up");
    run_free(&r);
    cli(&r, "agenda", "--area", "6711", "--level", "district");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, cid));
    CU_ASSERT_TRUE(contains(r.out, "waiting for the committee"));
    run_free(&r);
    cli(&r, "agenda", "--area", "6711");
    CU_ASSERT_EQUAL(r.code, 2); /* --level is required */
    run_free(&r);

    cli(&r, "act", cid, "record_decision", "decision=refer to the PAO", "due=2099-01-31");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, ", record 3"));
    run_free(&r);
    cli(&r, "act", cid, "record_decision", "decision=x", "due=2099-02-30");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "guard_failed"));
    run_free(&r);
}
