/*
 * report/ledger.c - the committee report's agency ledger (report.ledger by
 * agency, PROTOCOL.md 9.19) in text and HTML: an honest empty state while
 * the fixture has no pledge, then pledged against delivered with the open
 * pledges once a household of its own gets two pledges and one delivery.
 * Runs after report/where.c (it adds a case of its own).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/tval.h"
#include "report_test.h"

/* case.act as admin; the result's record_id (0 when refused). */
static int64_t act(const char *cid, const char *action, const char *data)
{
    lb_val_t *a = tvalf("{'case_id':'%s','action':'%s','data':%s}", cid, action, data);
    lb_val_t *r = testd_call(&D, "case.act", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    int64_t id = 0;
    lb_map_int(lbc_reply_result(r), "record_id", &id);
    lb_val_free(&r);
    lb_val_free(&a);
    return id;
}

static void test_ledger_empty(void)
{
    char *out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", END), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "Agency ledger"));
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "No pledges yet"));
    free(out);
    out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "65", "--format", "html", END), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "Agency ledger"));
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "No pledges yet"));
    CU_ASSERT_PTR_NULL(out && strstr(out, "<table class=\"ledger\">"));
    free(out);
}

static void test_ledger_rows(void)
{
    lb_val_t *a = lb_map();
    lb_map_set(a, "household", testd_household(30000009001UL, "65090101"));
    lb_val_t *r = testd_call(&D, "case.open", a);
    lb_val_free(&a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    char cid[LB_CASE_ID_MAX];
    snprintf(cid, sizeof cid, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&r);
    act(cid, "record_visit", "{'findings':{}}");
    act(cid, "plan_assistance", "{}");
    int64_t p1 = act(cid, "record_assistance",
                     "{'agency':'Office A&B','dimension':'income','kind':'cash',"
                     "'amount_thb':3000,'status':'pledged'}");
    act(cid, "record_assistance",
        "{'agency':'Office A&B','dimension':'income','kind':'goods','amount_thb':1500.5,"
        "'status':'pledged'}");
    CU_ASSERT_FATAL(p1 > 0);
    char data[300];
    snprintf(data, sizeof data,
             "{'agency':'Office A&B','dimension':'income','kind':'cash','amount_thb':2800,"
             "'status':'delivered','pledge':%lld}",
             (long long)p1);
    act(cid, "record_assistance", data);

    char *out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_REPORT, NULL, &out, "--area", "6509", END), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_PTR_NULL(strstr(out, "No pledges yet"));
    const char *row = strstr(out, "Office A&B");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    /* pledged 2 (4,501 baht: 4,500.5 rounded), delivered 1 (2,800), open 1 (1,501) */
    char line[400];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(row, "\n"), row);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, " 2 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "4,501"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "2,800"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "1,501"));
    free(out);
    out = NULL;
    CU_ASSERT_EQUAL(run_report(VIA_LOGBOOK, NULL, &out, "--area", "6509", "--format", "html", END),
                    0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<table class=\"ledger\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Office A&amp;B"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<td data-col=\"pledged\">2</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<td data-col=\"delivered_thb\">2,800</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<td data-col=\"open\">1</td>"));
    free(out);
}

const cu_test_t report_ledger_tests[REPORT_LEDGER_NTESTS] = {
    {"agency ledger: an honest empty state", test_ledger_empty},
    {"agency ledger: pledged against delivered, the open pledges", test_ledger_rows},
};
