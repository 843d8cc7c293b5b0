/*
 * workflow/members.c - the engine's part of PROTOCOL.md 9.18: the member
 * record's schema (references only), the stored form without the list,
 * absorbing a duplicate's records in time order, closing it as merged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

#define REF_A "M0123456789abcdef0123456789abcdef"
#define REF_B "Mfedcba9876543210fedcba9876543210"

static void test_member_record(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    const char *bad[][2] = {
        {NULL, "change"},
        {"{'member':'" REF_A "'}", "change"},
        {"{'change':'join'}", "member"},
        {"{'change':'adopt','member':'" REF_A "'}", "change"},
        {"{'change':'join','member':'1234567890123'}", "member"},
        {"{'change':'join','member':'M0123'}", "member"},
        {"{'change':'join','member':'M0123456789ABCDEF0123456789ABCDEF'}", "member"},
        {"{'change':'leave','member':'" REF_A "','new_head':5}", "new_head"},
        {"{'change':'join','member':'" REF_A "','nid':'1234567890121'}", "nid"},
        {"{'change':'join','member':'" REF_A "','name':'Somchai'}", "name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(act(g_tp, &c, "update_members", "field", bad[i][0], T0 + DAY), LB_EGUARD,
                   bad[i][1]);
    CU_ASSERT_EQUAL(c.member_changes->a.n, 0);
    EXPECT_OK(act(g_tp, &c, "update_members", "field",
                  "{'change':'leave','member':'" REF_A "','new_head':'" REF_B "'}", T0 + 2 * DAY));
    EXPECT_OK(act(g_tp, &c, "update_members", "committee", "{'change':'join','member':'" REF_A "'}",
                  T0 + DAY));
    CU_ASSERT_STRING_EQUAL(g_out.kind, "member");
    CU_ASSERT_STRING_EQUAL(g_out.record, "member");
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    /* ordered by at: the join (a day) before the leave (two days); ids in the order appended */
    CU_ASSERT_TRUE(tval_eq(c.member_changes,
                           "[{'at':1700086400000,'id':2,'change':'join','member':'" REF_A
                           "'},{'at':1700172800000,'id':1,'change':'leave','member':'" REF_A
                           "','new_head':'" REF_B "'}]"));
    CU_ASSERT_EQUAL(wf_case_records(&c), 2);
    CU_ASSERT_STRING_EQUAL(wf_def_action_record(g_tp, "update_members"), "member");
    CU_ASSERT_PTR_NULL(wf_def_action_record(g_tp, "schedule_visit"));
    CU_ASSERT_PTR_NULL(wf_def_action_record(g_tp, "no_such_action"));
    wf_case_clear(&c);
}

static void test_stored_form_without_members(void)
{
    wf_case_t c, back;
    new_case(&c, g_tp, NULL, T0);
    lb_val_t *v = wf_case_to_val(&c);
    CU_ASSERT_PTR_NULL(lb_map_get(v, "merged_into"));
    lb_map_del(v, "member_changes"); /* a case stored before member records */
    EXPECT_OK(wf_case_from_val(v, &back));
    CU_ASSERT_TRUE(back.member_changes && back.member_changes->a.n == 0);
    lb_val_free(&v);
    wf_case_clear(&back);
    wf_case_clear(&c);
}

static void test_absorb_and_close(void)
{
    wf_case_t keep, drop;
    new_case(&keep, g_tp, "['bmn1']", T0);
    new_case(&drop, g_tp, "['bmn1','bmn4']", T0);
    snprintf(drop.case_id, sizeof drop.case_id, "C000000043");
    EXPECT_OK(act(g_tp, &keep, "add_note", "field", "{'note':'k2'}", T0 + 2 * DAY));
    EXPECT_OK(act(g_tp, &drop, "add_note", "field", "{'note':'d1'}", T0 + DAY));
    EXPECT_OK(act(g_tp, &drop, "add_note", "field", "{'note':'d3'}", T0 + 3 * DAY));
    uint32_t added = 0;
    wf_error_t err;
    /* too many records: nothing changes */
    CU_ASSERT_EQUAL(wf_case_absorb(&keep, &drop, 2, &added, &err), LB_ETOOLARGE);
    CU_ASSERT_STRING_EQUAL(err.case_id, keep.case_id);
    CU_ASSERT_EQUAL(keep.notes->a.n, 1);
    CU_ASSERT_EQUAL(wf_case_absorb(&keep, &drop, 0, &added, &err), 0);
    CU_ASSERT_EQUAL(added, 2);
    CU_ASSERT_EQUAL(keep.notes->a.n, 3);
    const char *order[] = {"d1", "k2", "d3"};
    for (int i = 0; i < 3; i++)
        CU_ASSERT_STRING_EQUAL(lb_map_str(keep.notes->a.items[i], "note"), order[i]);
    CU_ASSERT_EQUAL(keep.needs->a.n, 2); /* bmn1 once, bmn4 copied */
    CU_ASSERT_STRING_EQUAL(need_status(&keep, "bmn4"), "open");
    CU_ASSERT_EQUAL(drop.notes->a.n, 2); /* drop is only read */
    CU_ASSERT_STRING_EQUAL(wf_def_closed_state(g_tp), "closed");
    CU_ASSERT_EQUAL(wf_case_close_merged(g_tp, &drop, keep.case_id, T0 + 4 * DAY), 0);
    CU_ASSERT_STRING_EQUAL(drop.state, "closed");
    CU_ASSERT_STRING_EQUAL(drop.merged_into, keep.case_id);
    CU_ASSERT_EQUAL(drop.n_timers, 0);
    CU_ASSERT_EQUAL(drop.entered_at, T0 + 4 * DAY);
    lb_val_t *v = wf_case_to_val(&drop);
    CU_ASSERT_STRING_EQUAL(lb_map_str(v, "merged_into"), keep.case_id);
    lb_val_free(&v);
    wf_case_clear(&keep);
    wf_case_clear(&drop);
}

static const cu_test_t tests[] = {
    {"member record", test_member_record},
    {"stored form without member records", test_stored_form_without_members},
    {"absorb and close as merged", test_absorb_and_close},
};

const cu_suite_t workflow_members_suite = {.name = "members",
                                           .init = wf_suite_init,
                                           .clean = wf_suite_clean,
                                           .teardown = wf_test_teardown,
                                           .tests = tests,
                                           .n = CU_COUNT(tests)};
