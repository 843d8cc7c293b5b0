/*
 * workflow/outcomes.c - the engine: outcome kinds, guards, close reasons, the referral path, due
 * timers and acknowledgements.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

static void test_outcome_kinds(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    struct {
        const char *action, *role, *data, *kind, *record;
    } k[] = {
        {"visit", "field", "{'findings':{}}", "visit", "visit"},
        {"assist", "field", "{'agency':'a','dimension':'living','kind':'housing'}", "assist",
         "assistance"},
        {"follow", "field", "{'level':'survive'}", "followup", "follow_up"},
        {"note", "committee", "{'note':'n'}", "note", "note"},
        {"touch", "field", NULL, "case", NULL},
    };
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        EXPECT_OK(act(g_et, &c, k[i].action, k[i].role, k[i].data, T0 + 7));
        CU_ASSERT_STRING_EQUAL(g_out.kind, k[i].kind);
        if (k[i].record) {
            CU_ASSERT_STRING_EQUAL(g_out.record, k[i].record);
            int64_t at = 0;
            CU_ASSERT_EQUAL(lb_map_int(g_out.event_data, "at", &at), 0);
            CU_ASSERT_EQUAL(at, T0 + 7);
        } else {
            CU_ASSERT_PTR_NULL(g_out.record);
        }
    }
    /* the event carries a copy of the stored record */
    CU_ASSERT(tval_eq(c.visits->a.items[0], "{'at':1700000000007,'id':1,'findings':{}}"));
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{'income':['bmn20']}}", T0 + 8));
    CU_ASSERT(lb_val_equal(g_out.event_data, c.visits->a.items[1]));
    CU_ASSERT_PTR_NOT_NULL(lb_map_get(c.visits->a.items[0], "findings"));
    wf_case_clear(&c);
}

static void test_resolve_guard(void)
{
    wf_case_t c;
    tp_case_in(&c, "follow_up");
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", NULL, T0), LB_EGUARD, "level");
    EXPECT_ERR(act(g_tp, &c, "resolve", "field", "{'level':'sufficient'}", T0), LB_EFORBIDDEN, "");
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", "{'level':'sufficient'}", T0), LB_EGUARD,
               "follow_ups");
    EXPECT_OK(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive'}", T0 + 10 * DAY));
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", "{'level':'sufficient'}", T0), LB_EGUARD,
               "follow_ups");
    EXPECT_OK(act(g_tp, &c, "record_follow_up", "field", "{'level':'sufficient'}", T0 + 20 * DAY));
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", "{'level':'survive'}", T0), LB_EGUARD,
               "level");
    EXPECT_ERR(act(g_tp, &c, "resolve", "committee", "{'level':'wealthy'}", T0), LB_EGUARD,
               "level");
    CU_ASSERT_STRING_EQUAL(c.state, "follow_up");
    CU_ASSERT_STRING_EQUAL(c.level, "sufficient");
    EXPECT_OK(act(g_tp, &c, "resolve", "committee", "{'level':'sustainable'}", T0 + 30 * DAY));
    CU_ASSERT_STRING_EQUAL(c.state, "resolved");
    CU_ASSERT_STRING_EQUAL(c.level, "sustainable");
    CU_ASSERT_EQUAL(c.n_timers, 0);
    CU_ASSERT(g_out.state_changed);
    wf_case_clear(&c);

    /* the rule follows the target's outcome, not the action's name */
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act(g_et, &c, "start", "field", "{'team':'t'}", T0));
    EXPECT_ERR(act(g_et, &c, "finish", "committee", NULL, T0), LB_EGUARD, "follow_ups");
    EXPECT_OK(act(g_et, &c, "follow", "field", "{'level':'sustainable'}", T0));
    EXPECT_OK(act(g_et, &c, "finish", "committee", NULL, T0));
    CU_ASSERT_STRING_EQUAL(c.state, "done");
    wf_case_clear(&c);
}

static void test_close_reason(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_ERR(act(g_tp, &c, "close", "committee", "{'reason':'bored'}", T0), LB_EGUARD, "reason");
    EXPECT_ERR(act(g_tp, &c, "close", "committee", "{'reason':5}", T0), LB_EGUARD, "reason");
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    const char *ok[] = {"moved", "deceased", "refused", "duplicate", "not_poor"};
    for (size_t i = 0; i < 5; i++) {
        wf_case_t d;
        char data[64];
        new_case(&d, g_tp, NULL, T0);
        snprintf(data, sizeof(data), "{'reason':'%s'}", ok[i]);
        EXPECT_OK(act(g_tp, &d, "close", "committee", data, T0 + DAY));
        CU_ASSERT_STRING_EQUAL(d.state, "closed");
        CU_ASSERT_STRING_EQUAL(lb_map_str(g_out.event_data, "reason"), ok[i]);
        wf_case_clear(&d);
    }
    wf_case_clear(&c);

    /* a closed-outcome state without a reason in data is fine */
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act(g_et, &c, "drop", "committee", NULL, T0));
    CU_ASSERT_STRING_EQUAL(c.state, "dropped");
    wf_case_clear(&c);
    /* the reason rule is only for closed outcomes: elsewhere reason is free text */
    new_case(&c, g_sm, NULL, T0);
    EXPECT_OK(act(g_sm, &c, "certify", "committee", "{'certified_by':'village head'}", T0));
    EXPECT_OK(act(g_sm, &c, "return_for_correction", "committee", "{'reason':'no photo'}", T0));
    CU_ASSERT_STRING_EQUAL(c.state, "reported");
    EXPECT_ERR(act(g_sm, &c, "withdraw", "committee", "{'reason':'no photo'}", T0), LB_EGUARD,
               "reason");
    wf_case_clear(&c);
}

static void test_socialmap_path(void)
{
    wf_case_t c;
    new_case(&c, g_sm, NULL, T0);
    CU_ASSERT_STRING_EQUAL(c.state, "reported");
    CU_ASSERT_EQUAL(c.n_timers, 2);
    EXPECT_OK(
        act(g_sm, &c, "record_visit", "field", "{'findings':{'accessibility':['bmn27']}}", T0));
    EXPECT_OK(act(g_sm, &c, "certify", "committee", "{'certified_by':'kamnan'}", T0 + DAY));
    EXPECT_OK(act(g_sm, &c, "verify", "committee", NULL, T0 + 2 * DAY));
    EXPECT_ERR(act(g_sm, &c, "refer", "committee", NULL, T0), LB_EGUARD, "agency");
    EXPECT_OK(act(g_sm, &c, "refer", "committee", "{'agency':'PSDHS'}", T0 + 3 * DAY));
    EXPECT_OK(act(g_sm, &c, "record_assistance", "field",
                  "{'agency':'PSDHS','dimension':'accessibility','kind':'welfare_registration',"
                  "'meets':['bmn27']}",
                  T0 + 4 * DAY));
    EXPECT_OK(act(g_sm, &c, "mark_served", "field", NULL, T0 + 5 * DAY));
    EXPECT_OK(act(g_sm, &c, "close", "committee", NULL, T0 + 6 * DAY));
    CU_ASSERT_STRING_EQUAL(c.state, "closed");
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn27"), "met");
    wf_case_clear(&c);
}

static void test_fire_due(void)
{
    wf_case_t c;
    wf_escalation_t x;
    int64_t due = 0;
    new_case(&c, g_tp, NULL, T0);
    CU_ASSERT_EQUAL(wf_next_due(&c, &due), 1);
    CU_ASSERT_EQUAL(due, T0 + 7 * DAY);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 7 * DAY - 1, &x), 0);
    CU_ASSERT_EQUAL(c.n_esc, 0);
    /* the daemon was down for 20 days: two steps are due, fired one at a time, in order */
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 20 * DAY, &x), 1);
    CU_ASSERT(x.step == 0 && x.at == T0 + 7 * DAY && x.acked_at == 0);
    CU_ASSERT_STRING_EQUAL(x.level, "team");
    CU_ASSERT_STRING_EQUAL(x.state, "identified");
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 20 * DAY, &x), 1);
    CU_ASSERT(x.step == 1 && x.at == T0 + 14 * DAY);
    CU_ASSERT_STRING_EQUAL(x.level, "subdistrict");
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 20 * DAY, &x), 0);
    CU_ASSERT_EQUAL(c.fired_in_state, 2);
    CU_ASSERT(wf_case_overdue(&c));
    CU_ASSERT_EQUAL(c.n_timers, 1);
    CU_ASSERT_EQUAL(wf_next_due(&c, &due), 1);
    /* district: 20 working days; T0 is a Wednesday in Bangkok, so four weeks */
    CU_ASSERT_EQUAL(due, T0 + 28 * DAY);
    CU_ASSERT_EQUAL(wf_case_latest_esc(&c)->step, 1);
    /* the last step fires exactly at its due time; then nothing is pending */
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 28 * DAY - 1, NULL), 0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 28 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_next_due(&c, &due), 0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, INT64_MAX, &x), 0);
    CU_ASSERT_EQUAL(c.n_esc, 3);

    /* entering a new state: fresh clock, not overdue, history kept */
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'t'}", T0 + 31 * DAY));
    CU_ASSERT_EQUAL(c.fired_in_state, 0);
    CU_ASSERT_FALSE(wf_case_overdue(&c));
    CU_ASSERT_EQUAL(c.n_esc, 3);
    CU_ASSERT_EQUAL(c.n_timers, 3);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 45 * DAY, &x), 1);
    CU_ASSERT_STRING_EQUAL(x.state, "visit_scheduled");
    CU_ASSERT_EQUAL(x.step, 0);
    wf_case_clear(&c);

    /* a state change dated in the past may leave steps already due */
    new_case(&c, g_tp, NULL, T0);
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'t'}", T0 + DAY));
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 100 * DAY, &x), 1);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 100 * DAY, &x), 1);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 100 * DAY, &x), 1);
    CU_ASSERT(x.step == 2 && x.at == T0 + 61 * DAY);
    CU_ASSERT_EQUAL(c.fired_in_state, 3);
    wf_case_clear(&c);
}

static void test_ack(void)
{
    wf_case_t c;
    wf_escalation_t x;
    new_case(&c, g_tp, NULL, T0);
    CU_ASSERT_EQUAL(wf_ack(&c, "committee-91", T0, &x), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 8 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_ack(&c, "committee-91", T0 + 9 * DAY, &x), 0);
    CU_ASSERT(x.step == 0 && x.acked_at == T0 + 9 * DAY);
    CU_ASSERT_STRING_EQUAL(x.acked_by, "committee-91");
    CU_ASSERT_STRING_EQUAL(x.level, "team");
    CU_ASSERT_EQUAL(wf_ack(&c, "committee-91", T0 + 9 * DAY, &x), LB_ECONFLICT);
    /* only the newest counts: a new step needs its own acknowledgement */
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 15 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_case_latest_esc(&c)->acked_at, 0);
    CU_ASSERT_EQUAL(wf_ack(&c, "district-9101", T0 + 16 * DAY, NULL), 0);
    CU_ASSERT_STRING_EQUAL(wf_case_latest_esc(&c)->acked_by, "district-9101");
    CU_ASSERT_EQUAL(c.esc[0].acked_at, T0 + 9 * DAY);
    /* acknowledging does not make the case less overdue */
    CU_ASSERT(wf_case_overdue(&c));
    wf_case_clear(&c);
}

static const cu_test_t tests[] = {
    {"outcome kinds and event data", test_outcome_kinds},
    {"resolve guard", test_resolve_guard},
    {"close reason", test_close_reason},
    {"socialmap referral path", test_socialmap_path},
    {"fire due timers in order", test_fire_due},
    {"acknowledge escalations", test_ack},
};
const cu_suite_t workflow_outcomes_suite = {.name = "outcomes",
                                            .init = wf_suite_init,
                                            .clean = wf_suite_clean,
                                            .teardown = wf_test_teardown,
                                            .tests = tests,
                                            .n = CU_COUNT(tests)};
