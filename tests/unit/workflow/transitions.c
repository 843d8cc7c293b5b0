/*
 * workflow/transitions.c - the engine: open, actions and transitions, roles, required keys, state
 * changes and timer restarts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

/* ---------------------------------------------------------------------- */
/* Engine                                                                  */
/* ---------------------------------------------------------------------- */

static void test_open(void)
{
    wf_case_t c;
    new_case(&c, g_tp, "['bmn1','bmn8','bmn1']", T0);
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    CU_ASSERT_STRING_EQUAL(c.workflow, "tpmap-household");
    CU_ASSERT_EQUAL(c.workflow_version, 1);
    CU_ASSERT(c.opened_at == T0 && c.entered_at == T0 && c.timers_base == T0);
    CU_ASSERT_EQUAL(c.needs->a.n, 2); /* duplicates collapse */
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.needs->a.items[0], "dimension"), "health");
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.needs->a.items[1], "dimension"), "living");
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn8"), "open");
    uint32_t open[WF_NDIM];
    wf_case_needs_open(&c, open);
    CU_ASSERT(open[0] == 1 && open[1] == 1 && open[2] == 0 && open[3] == 0 && open[4] == 0);
    CU_ASSERT_EQUAL_FATAL(c.n_timers, 3);
    CU_ASSERT(c.timers[0].due == T0 + 7 * DAY && c.timers[0].step == 0);
    CU_ASSERT_STRING_EQUAL(c.timers[0].level, "team");
    /* subdistrict and district count working days: from a Wednesday, two and four weeks */
    CU_ASSERT(c.timers[1].due == T0 + 14 * DAY && c.timers[1].step == 1);
    CU_ASSERT_STRING_EQUAL(c.timers[1].level, "subdistrict");
    CU_ASSERT(c.timers[2].due == T0 + 28 * DAY && c.timers[2].step == 2);
    CU_ASSERT_STRING_EQUAL(c.timers[2].level, "district");
    CU_ASSERT_FALSE(wf_case_overdue(&c));
    CU_ASSERT_PTR_NULL(wf_case_latest_esc(&c));
    wf_case_clear(&c);

    new_case(&c, g_tp, NULL, T0);
    CU_ASSERT_EQUAL(c.needs->a.n, 0);
    wf_case_clear(&c);
    wf_case_clear(&c); /* safe on a cleared case */
}

static void test_open_bad_deprived(void)
{
    wf_case_t c;
    CU_ASSERT_FATAL(wf_case_init(&c) == 0);
    EXPECT_ERR(wf_open(g_tp, g_cat, NULL, &c, tval_tmp("['bmn1','bmn99']"), T0, &g_err), LB_EBADREQ,
               "deprived");
    CU_ASSERT_PTR_NOT_NULL(strstr(g_err.message, "bmn99"));
    EXPECT_ERR(wf_open(g_tp, g_cat, NULL, &c, tval_tmp("[1]"), T0, &g_err), LB_EBADREQ, "deprived");
    EXPECT_ERR(wf_open(g_tp, g_cat, NULL, &c, tval_tmp("'bmn1'"), T0, &g_err), LB_EBADREQ,
               "deprived");
    wf_case_clear(&c);
}

static void test_unknown_action_and_transition(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_ERR(act(g_tp, &c, "fly", "admin", NULL, T0), LB_EINVALID, "action");
    CU_ASSERT_STRING_EQUAL(g_err.message, "no action fly in workflow tpmap-household");
    /* plan_assistance is only from visited */
    EXPECT_ERR(act(g_tp, &c, "plan_assistance", "committee", NULL, T0), LB_EINVALID, "action");
    /* the state check comes before the role check */
    EXPECT_ERR(act(g_tp, &c, "plan_assistance", "reporter", NULL, T0), LB_EINVALID, "action");
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    wf_case_clear(&c);
}

static void test_roles(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_ERR(act(g_tp, &c, "add_note", "reporter", "{'note':'x'}", T0), LB_EFORBIDDEN, "");
    EXPECT_ERR(act(g_tp, &c, "add_note", "mayor", "{'note':'x'}", T0), LB_EFORBIDDEN, "");
    EXPECT_ERR(act(g_tp, &c, "add_note", NULL, "{'note':'x'}", T0), LB_EFORBIDDEN, "");
    /* the role check comes before the require check */
    EXPECT_ERR(act(g_tp, &c, "close", "field", NULL, T0), LB_EFORBIDDEN, "");
    /* admin may run anything */
    EXPECT_OK(act(g_tp, &c, "record_visit", "admin", "{'findings':{}}", T0));
    CU_ASSERT_STRING_EQUAL(c.state, "visited");
    EXPECT_ERR(act(g_tp, &c, "record_assistance", "reporter", NULL, T0), LB_EINVALID, "action");
    wf_case_clear(&c);

    new_case(&c, g_et, NULL, T0);
    EXPECT_ERR(act(g_et, &c, "audit", "committee", NULL, T0), LB_EFORBIDDEN, "");
    EXPECT_OK(act(g_et, &c, "audit", "admin", NULL, T0));
    EXPECT_OK(act(g_et, &c, "start", "field", "{'team':'t1'}", T0));
    /* no roles listed: field and committee */
    EXPECT_ERR(act(g_et, &c, "back", "reporter", NULL, T0), LB_EFORBIDDEN, "");
    EXPECT_OK(act(g_et, &c, "back", "committee", NULL, T0));
    wf_case_clear(&c);
}

static void test_require(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_ERR(act(g_tp, &c, "schedule_visit", "field", NULL, T0), LB_EGUARD, "team");
    EXPECT_ERR(act(g_tp, &c, "schedule_visit", "field", "{}", T0), LB_EGUARD, "team");
    EXPECT_ERR(act(g_tp, &c, "schedule_visit", "field", "{'team':null}", T0), LB_EGUARD, "team");
    EXPECT_ERR(act(g_tp, &c, "schedule_visit", "field", "['team']", T0), LB_EGUARD, "data");
    EXPECT_ERR(act(g_tp, &c, "close", "committee", "{'why':'moved'}", T0), LB_EGUARD, "reason");
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    CU_ASSERT_EQUAL(c.team[0], '\0');
    wf_case_clear(&c);
}

static void test_state_change(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'tambon-9101-1'}", T0 + 2 * DAY));
    CU_ASSERT(g_out.state_changed && g_out.timers_changed);
    CU_ASSERT_STRING_EQUAL(g_out.from, "identified");
    CU_ASSERT_STRING_EQUAL(g_out.to, "visit_scheduled");
    CU_ASSERT_STRING_EQUAL(g_out.kind, "case");
    CU_ASSERT_PTR_NULL(g_out.record);
    CU_ASSERT(tval_eq(g_out.event_data, "{'team':'tambon-9101-1'}"));
    CU_ASSERT_STRING_EQUAL(c.state, "visit_scheduled");
    CU_ASSERT_STRING_EQUAL(c.team, "tambon-9101-1");
    CU_ASSERT(c.entered_at == T0 + 2 * DAY && c.timers_base == T0 + 2 * DAY);
    CU_ASSERT(c.opened_at == T0);
    /* the old state's timers are gone, the new state's run from entering it */
    CU_ASSERT_EQUAL_FATAL(c.n_timers, 3);
    CU_ASSERT(c.timers[0].due == T0 + 16 * DAY && c.timers[0].step == 0);
    CU_ASSERT_STRING_EQUAL(c.timers[0].level, "subdistrict");
    CU_ASSERT(c.timers[2].due == T0 + 62 * DAY);
    CU_ASSERT_STRING_EQUAL(c.timers[2].level, "province");
    wf_case_clear(&c);

    /* a late-synced action cannot move entered_at back before the state began */
    new_case(&c, g_tp, NULL, T0);
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'t'}", T0 - 5 * DAY));
    CU_ASSERT(c.entered_at == T0 && c.timers_base == T0);
    CU_ASSERT(c.timers[0].due == T0 + 14 * DAY);
    wf_case_clear(&c);
}

static void test_self_loop(void)
{
    wf_case_t c;
    wf_escalation_t x;
    new_case(&c, g_et, NULL, T0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + DAY, &x), 1);
    EXPECT_OK(act(g_et, &c, "again", "field", NULL, T0 + 5 * DAY));
    CU_ASSERT_FALSE(g_out.state_changed);
    CU_ASSERT_FALSE(g_out.timers_changed);
    CU_ASSERT_STRING_EQUAL(g_out.from, "open");
    CU_ASSERT_STRING_EQUAL(g_out.to, "open");
    CU_ASSERT_PTR_NULL(g_out.event_data);
    CU_ASSERT(c.entered_at == T0 && c.timers_base == T0);
    CU_ASSERT_EQUAL(c.fired_in_state, 1);
    CU_ASSERT_EQUAL(c.n_timers, 2);
    wf_case_clear(&c);
}

static void test_restart_timers(void)
{
    wf_case_t c;
    wf_escalation_t x;
    new_case(&c, g_et, NULL, T0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + DAY, &x), 1);
    CU_ASSERT(wf_case_overdue(&c));
    EXPECT_OK(act(g_et, &c, "touch", "field", NULL, T0 + DAY + HOUR));
    CU_ASSERT_FALSE(g_out.state_changed);
    CU_ASSERT(g_out.timers_changed);
    CU_ASSERT(c.timers_base == T0 + DAY + HOUR && c.entered_at == T0);
    CU_ASSERT_EQUAL(c.fired_in_state, 0);
    CU_ASSERT_FALSE(wf_case_overdue(&c));
    CU_ASSERT_EQUAL_FATAL(c.n_timers, 3);
    CU_ASSERT(c.timers[0].due == T0 + 2 * DAY + HOUR && c.timers[0].step == 0);
    CU_ASSERT(c.timers[2].due == T0 + 4 * DAY + HOUR);
    CU_ASSERT_EQUAL(c.n_esc, 1); /* history is kept */
    /* a late-synced action older than the running clock leaves it alone (no re-firing) */
    EXPECT_OK(act(g_et, &c, "touch", "field", NULL, T0 - DAY));
    CU_ASSERT_FALSE(g_out.timers_changed);
    CU_ASSERT(c.timers_base == T0 + DAY + HOUR && c.timers[0].due == T0 + 2 * DAY + HOUR);

    /* restart_timers together with a state change: the state change rules */
    EXPECT_OK(act(g_et, &c, "start", "field", "{'team':'t'}", T0 + 3 * DAY));
    EXPECT_OK(act(g_et, &c, "back", "field", NULL, T0 + 4 * DAY));
    CU_ASSERT(g_out.state_changed && g_out.timers_changed);
    CU_ASSERT(c.entered_at == T0 + 4 * DAY && c.timers_base == T0 + 4 * DAY);
    CU_ASSERT(c.n_timers == 3 && c.timers[0].due == T0 + 5 * DAY);
    wf_case_clear(&c);

    /* tpmap: each follow-up restarts the follow-up clock */
    tp_case_in(&c, "follow_up");
    CU_ASSERT(c.timers[0].due == T0 + 93 * DAY);
    EXPECT_OK(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive'}", T0 + 50 * DAY));
    CU_ASSERT(g_out.timers_changed && !g_out.state_changed);
    CU_ASSERT(c.timers_base == T0 + 50 * DAY && c.timers[0].due == T0 + 140 * DAY);
    wf_case_clear(&c);
}

static void test_from_star_and_terminal(void)
{
    const char *path[] = {"identified", "visited", "assisting", "follow_up"};
    for (size_t i = 0; i < 4; i++) {
        wf_case_t c;
        if (i < 2) {
            new_case(&c, g_tp, NULL, T0);
            if (i == 1)
                EXPECT_OK(act(g_tp, &c, "record_visit", "field", "{'findings':{}}", T0));
        } else {
            tp_case_in(&c, path[i]);
        }
        CU_ASSERT_STRING_EQUAL(c.state, path[i]);
        EXPECT_OK(act(g_tp, &c, "add_note", "committee", "{'note':'seen'}", T0 + 10 * DAY));
        EXPECT_OK(act(g_tp, &c, "close", "committee", "{'reason':'moved'}", T0 + 10 * DAY));
        CU_ASSERT(g_out.state_changed && g_out.timers_changed);
        CU_ASSERT_STRING_EQUAL(c.state, "closed");
        /* a terminal state has no timers, and "*" never includes it */
        CU_ASSERT_EQUAL(c.n_timers, 0);
        CU_ASSERT_EQUAL(wf_next_due(&c, NULL), 0);
        EXPECT_ERR(act(g_tp, &c, "add_note", "committee", "{'note':'x'}", T0), LB_EINVALID,
                   "action");
        EXPECT_ERR(act(g_tp, &c, "close", "admin", "{'reason':'moved'}", T0), LB_EINVALID,
                   "action");
        wf_case_clear(&c);
    }
}

static const cu_test_t tests[] = {
    {"open", test_open},
    {"open with bad deprived", test_open_bad_deprived},
    {"unknown action, invalid transition", test_unknown_action_and_transition},
    {"roles, admin override", test_roles},
    {"required keys", test_require},
    {"state change resets timers", test_state_change},
    {"self-loop is no state change", test_self_loop},
    {"restart_timers", test_restart_timers},
    {"from * and terminal states", test_from_star_and_terminal},
};
const cu_suite_t workflow_transitions_suite = {.name = "transitions",
                                               .init = wf_suite_init,
                                               .clean = wf_suite_clean,
                                               .teardown = wf_test_teardown,
                                               .tests = tests,
                                               .n = CU_COUNT(tests)};
