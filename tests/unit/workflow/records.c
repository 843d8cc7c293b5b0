/*
 * workflow/records.c - the engine: record schemas, needs, team and level, non-record data, the
 * record cap and stored-case decode limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

static void test_visit_record(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    const char *bad[][2] = {
        {NULL, "findings"},
        {"{'note':'no findings'}", "findings"},
        {"{'findings':{},'weather':'rain'}", "weather"},
        {"{'findings':{},'at':5}", "at"},
        {"{'findings':['bmn1']}", "findings"},
        {"{'findings':{'wealth':['bmn1']}}", "findings"},
        {"{'findings':{'health':['bmn99']}}", "findings"},
        {"{'findings':{'health':'bmn1'}}", "findings"},
        {"{'findings':{'health':[1]}}", "findings"},
        {"{'findings':{},'needs':{'dimension':'health'}}", "needs"},
        {"{'findings':{},'needs':[{'note':'x'}]}", "needs"},
        {"{'findings':{},'needs':[{'dimension':'sky'}]}", "needs"},
        {"{'findings':{},'needs':[{'dimension':'health','colour':'red'}]}", "needs"},
        {"{'findings':{},'needs':[{'dimension':'health','indicator':'bmn20'}]}", "needs"},
        {"{'findings':{},'needs':[{'dimension':'health','note':7}]}", "needs"},
        {"{'findings':{},'needs':['x']}", "needs"},
        {"{'findings':{},'note':12}", "note"},
        {"{'findings':{},'note':''}", "note"},
        {"{'findings':{},'team':''}", "team"},
        {"{'findings':{},'team':5}", "team"},
        {"{'findings':{},'team':'0123456789012345678901234567890123456789012345678901234567890123'"
         "}",
         "team"},
        {"{'findings':{},'level':'rich'}", "level"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(act(g_tp, &c, "record_visit", "field", bad[i][0], T0 + DAY), LB_EGUARD,
                   bad[i][1]);
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    CU_ASSERT_EQUAL(c.visits->a.n, 0);
    CU_ASSERT_EQUAL(c.needs->a.n, 0);
    /* 63 bytes of team is the most */
    EXPECT_OK(act(g_tp, &c, "record_visit", "field",
                  "{'findings':{'health':['bmn1']},'note':'ok','team':"
                  "'012345678901234567890123456789012345678901234567890123456789012'}",
                  T0 + DAY));
    CU_ASSERT_EQUAL(strlen(c.team), 63);
    wf_case_clear(&c);
}

static void test_catalog_dimension_mismatch(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    /* bmn8 is a living indicator, not a health one */
    EXPECT_ERR(act(g_tp, &c, "record_visit", "field", "{'findings':{'health':['bmn8']}}", T0),
               LB_EGUARD, "findings");
    CU_ASSERT_PTR_NOT_NULL(strstr(g_err.message, "bmn8"));
    EXPECT_OK(act(g_tp, &c, "record_visit", "field", "{'findings':{'living':['bmn8']}}", T0));
    wf_case_clear(&c);
}

static void test_assistance_record(void)
{
    wf_case_t c;
    tp_case_in(&c, "assisting");
    const char *bad[][2] = {
        {NULL, "agency"},
        {"{'dimension':'income','kind':'cash'}", "agency"},
        {"{'agency':'','dimension':'income','kind':'cash'}", "agency"},
        {"{'agency':'PSDHS','kind':'cash'}", "dimension"},
        {"{'agency':'PSDHS','dimension':'money','kind':'cash'}", "dimension"},
        {"{'agency':'PSDHS','dimension':'income'}", "kind"},
        {"{'agency':'PSDHS','dimension':'income','kind':'gift'}", "kind"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','amount_thb':-1}", "amount_thb"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','amount_thb':-0.5}", "amount_thb"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','amount_thb':'3000'}", "amount_thb"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','meets':['bmn99']}", "meets"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','meets':'bmn22'}", "meets"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','via':'bank'}", "via"},
        {"{'agency':'PSDHS','dimension':'income','kind':'cash','note':false}", "note"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(act(g_tp, &c, "record_assistance", "field", bad[i][0], T0 + 5 * DAY), LB_EGUARD,
                   bad[i][1]);
    CU_ASSERT_EQUAL(c.assistance->a.n, 0);
    const char *kinds[] = {"cash",
                           "goods",
                           "occupation",
                           "training",
                           "loan",
                           "housing",
                           "health_service",
                           "education_support",
                           "welfare_registration",
                           "referral",
                           "other"};
    for (size_t i = 0; i < 11; i++) {
        char data[200];
        snprintf(data, sizeof(data),
                 "{'agency':'PSDHS Satun','dimension':'income','kind':'%s','amount_thb':%s}",
                 kinds[i], i % 2 ? "1500.5" : "3000");
        EXPECT_OK(act(g_tp, &c, "record_assistance", "committee", data, T0 + 5 * DAY));
        CU_ASSERT_FALSE(g_out.state_changed);
    }
    CU_ASSERT_EQUAL(c.assistance->a.n, 11);
    CU_ASSERT_STRING_EQUAL(c.state, "assisting");
    wf_case_clear(&c);
}

static void test_follow_up_and_note_records(void)
{
    wf_case_t c;
    tp_case_in(&c, "follow_up");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{}", T0), LB_EGUARD, "level");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':'rich'}", T0), LB_EGUARD,
               "level");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':3}", T0), LB_EGUARD, "level");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive','met':['bmn0']}", T0),
               LB_EGUARD, "met");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive','note':[]}", T0),
               LB_EGUARD, "note");
    EXPECT_ERR(act(g_tp, &c, "record_follow_up", "field", "{'level':'survive','meets':[]}", T0),
               LB_EGUARD, "meets");
    CU_ASSERT_EQUAL(c.follow_ups->a.n, 0);
    CU_ASSERT_EQUAL(c.level[0], '\0');

    EXPECT_ERR(act(g_tp, &c, "add_note", "field", NULL, T0), LB_EGUARD, "note");
    EXPECT_ERR(act(g_tp, &c, "add_note", "field", "{'note':''}", T0), LB_EGUARD, "note");
    EXPECT_ERR(act(g_tp, &c, "add_note", "field", "{'note':'x','tags':'a'}", T0), LB_EGUARD,
               "tags");
    EXPECT_OK(act(g_tp, &c, "add_note", "field", "{'note':'ลูกชายได้งานที่โรงงาน'}", T0 + 9 * DAY));
    CU_ASSERT_EQUAL(c.notes->a.n, 1);
    CU_ASSERT(
        tval_eq(c.notes->a.items[0], "{'at':1700777600000,'id':2,'note':'ลูกชายได้งานที่โรงงาน'}"));
    wf_case_clear(&c);
}

static void test_needs(void)
{
    wf_case_t c;
    uint32_t open[WF_NDIM];
    new_case(&c, g_tp, "['bmn1','bmn8']", T0);
    EXPECT_OK(act(g_tp, &c, "record_visit", "field",
                  "{'findings':{'health':['bmn1','bmn4'],'living':[]},"
                  "'needs':[{'dimension':'income','indicator':'bmn22','note':'debt'}]}",
                  T0 + DAY));
    CU_ASSERT_EQUAL(c.needs->a.n, 4); /* bmn1 not repeated */
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn4"), "open");
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.needs->a.items[3], "note"), "debt");
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.needs->a.items[3], "dimension"), "income");
    wf_case_needs_open(&c, open);
    CU_ASSERT(open[0] == 2 && open[1] == 1 && open[3] == 1);

    EXPECT_OK(act(g_tp, &c, "plan_assistance", "field", NULL, T0 + 2 * DAY));
    /* bmn28 has no need: ignored */
    EXPECT_OK(act(g_tp, &c, "record_assistance", "field",
                  "{'agency':'Subdistrict health promoting hospital','dimension':'health',"
                  "'kind':'health_service','meets':['bmn1','bmn28']}",
                  T0 + 3 * DAY));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn1"), "met");
    CU_ASSERT_PTR_NULL(need_status(&c, "bmn28"));
    CU_ASSERT_EQUAL(c.needs->a.n, 4);
    EXPECT_OK(act(g_tp, &c, "start_follow_up", "field", NULL, T0 + 4 * DAY));
    EXPECT_OK(act(g_tp, &c, "record_follow_up", "field",
                  "{'level':'sufficient','met':['bmn8','bmn22']}", T0 + 5 * DAY));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn8"), "met");
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn22"), "met");
    wf_case_needs_open(&c, open);
    CU_ASSERT(open[0] == 1 && open[1] == 0 && open[3] == 0);
    wf_case_clear(&c);

    /* a met need found again opens again, without a second entry */
    new_case(&c, g_et, "['bmn1']", T0);
    EXPECT_OK(act(g_et, &c, "assist", "field",
                  "{'agency':'a','dimension':'health','kind':'goods','meets':['bmn1']}", T0));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn1"), "met");
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{'health':['bmn1']}}", T0 + DAY));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn1"), "open");
    CU_ASSERT_EQUAL(c.needs->a.n, 1);
    EXPECT_OK(act(g_et, &c, "assist", "field",
                  "{'agency':'a','dimension':'health','kind':'goods','meets':['bmn1']}", T0));
    EXPECT_OK(act(g_et, &c, "visit", "field",
                  "{'findings':{},'needs':[{'dimension':'health','indicator':'bmn1'}]}", T0));
    CU_ASSERT_STRING_EQUAL(need_status(&c, "bmn1"), "open");
    CU_ASSERT_EQUAL(c.needs->a.n, 1);
    wf_case_clear(&c);
}

static void test_needs_without_indicator(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    const char *v = "{'findings':{},'needs':[{'dimension':'living','note':'roof leaks'},"
                    "{'dimension':'living','note':'roof leaks'},{'dimension':'health'}]}";
    EXPECT_OK(act(g_et, &c, "visit", "field", v, T0));
    CU_ASSERT_EQUAL(c.needs->a.n, 2);
    EXPECT_OK(act(g_et, &c, "visit", "field", v, T0 + DAY));
    CU_ASSERT_EQUAL(c.needs->a.n, 2);
    CU_ASSERT(
        tval_eq(c.needs->a.items[0], "{'dimension':'living','note':'roof leaks','status':'open'}"));
    CU_ASSERT(tval_eq(c.needs->a.items[1], "{'dimension':'health','status':'open'}"));
    /* the same note under another dimension is another need */
    EXPECT_OK(act(g_et, &c, "visit", "field",
                  "{'findings':{},'needs':[{'dimension':'health','note':'roof leaks'}]}", T0));
    CU_ASSERT_EQUAL(c.needs->a.n, 3);
    uint32_t open[WF_NDIM];
    wf_case_needs_open(&c, open);
    CU_ASSERT(open[0] == 2 && open[1] == 1);
    wf_case_clear(&c);
}

static void test_team_and_level(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    /* a visit without team takes no team when the case has none */
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{}}", T0));
    CU_ASSERT_PTR_NULL(lb_map_get(c.visits->a.items[0], "team"));
    /* non-record data sets team and level */
    EXPECT_OK(act(g_et, &c, "touch", "field", "{'team':'mentor-3','level':'survive'}", T0));
    CU_ASSERT_STRING_EQUAL(c.team, "mentor-3");
    CU_ASSERT_STRING_EQUAL(c.level, "survive");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'level':'rich'}", T0), LB_EGUARD, "level");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'team':7}", T0), LB_EGUARD, "team");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'team':''}", T0), LB_EGUARD, "team");
    CU_ASSERT_STRING_EQUAL(c.team, "mentor-3");
    /* a visit's team defaults to the case's */
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{}}", T0 + 1));
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.visits->a.items[1], "team"), "mentor-3");
    CU_ASSERT_STRING_EQUAL(lb_map_str(g_out.event_data, "team"), "mentor-3");
    /* and an explicit one wins and becomes the case's */
    EXPECT_OK(act(g_et, &c, "visit", "field", "{'findings':{},'team':'tambon-2'}", T0 + 2));
    CU_ASSERT_STRING_EQUAL(lb_map_str(c.visits->a.items[2], "team"), "tambon-2");
    CU_ASSERT_STRING_EQUAL(c.team, "tambon-2");
    /* a follow-up's level is the case's level; any record may carry level */
    EXPECT_OK(act(g_et, &c, "follow", "field", "{'level':'sustainable'}", T0));
    CU_ASSERT_STRING_EQUAL(c.level, "sustainable");
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'x','level':'sufficient'}", T0));
    CU_ASSERT_STRING_EQUAL(c.level, "sufficient");
    wf_case_clear(&c);
}

static void test_records_ordered_by_at(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'third'}", T0 + 3));
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'first'}", T0 + 1));
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'second a'}", T0 + 2));
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'second b'}", T0 + 2));
    EXPECT_OK(act(g_et, &c, "note", "committee", "{'note':'fourth'}", T0 + 3));
    const char *want[] = {"first", "second a", "second b", "third", "fourth"};
    CU_ASSERT_EQUAL_FATAL(c.notes->a.n, 5);
    for (size_t i = 0; i < 5; i++)
        CU_ASSERT_STRING_EQUAL(lb_map_str(c.notes->a.items[i], "note"), want[i]);
    int64_t at = 0;
    CU_ASSERT_EQUAL(lb_map_int(c.notes->a.items[0], "at", &at), 0);
    CU_ASSERT_EQUAL(at, T0 + 1);
    wf_case_clear(&c);
}

static void test_scalar_data(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act(g_et, &c, "touch", "field", "{'why':'phone call','n':3,'f':1.5,'b':true}", T0));
    CU_ASSERT(tval_eq(g_out.event_data, "{'why':'phone call','n':3,'f':1.5,'b':true}"));
    CU_ASSERT_STRING_EQUAL(g_out.kind, "case");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'why':['a']}", T0), LB_EGUARD, "why");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'why':{'a':1}}", T0), LB_EGUARD, "why");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "{'ok':true,'why':null}", T0), LB_EGUARD, "why");
    EXPECT_ERR(act(g_et, &c, "touch", "field", "'text'", T0), LB_EGUARD, "data");
    EXPECT_OK(act(g_et, &c, "touch", "field", "{}", T0));
    CU_ASSERT_PTR_NOT_NULL(g_out.event_data);
    EXPECT_OK(act(g_et, &c, "touch", "field", "null", T0));
    CU_ASSERT_PTR_NULL(g_out.event_data);
    wf_case_clear(&c);
}

/* The same as act() with the strict data rule on. */
static int act_strict(const wf_def_t *def, wf_case_t *c, const char *action, const char *role,
                      const char *data, int64_t at)
{
    wf_outcome_clear(&g_out);
    wf_act_t a = {.action = action,
                  .data = data ? tval_tmp(data) : NULL,
                  .role = role,
                  .actor = "tester",
                  .at = at,
                  .strict_data = true};
    return wf_apply(def, g_cat, c, &a, &g_out, &g_err);
}

/* strict_data: without a record, data holds team, level, reason and the require keys only. */
static void test_scalar_data_keys(void)
{
    wf_case_t c;
    new_case(&c, g_et, NULL, T0);
    EXPECT_OK(act_strict(g_et, &c, "touch", "field", "{'reason':'phone call','team':'t1'}", T0));
    CU_ASSERT(tval_eq(g_out.event_data, "{'reason':'phone call','team':'t1'}"));
    CU_ASSERT_STRING_EQUAL(g_out.kind, "case");
    EXPECT_ERR(act_strict(g_et, &c, "touch", "field", "{'why':'phone call'}", T0), LB_EGUARD,
               "why");
    EXPECT_ERR(act_strict(g_et, &c, "touch", "field", "{'reason':'r','note':'n'}", T0), LB_EGUARD,
               "note");
    /* reason is any scalar where no closed outcome constrains it; still scalars only. */
    const char *scalars[] = {"{'reason':3}", "{'reason':1.5}", "{'reason':true}"};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        EXPECT_OK(act_strict(g_et, &c, "touch", "field", scalars[i], T0));
        CU_ASSERT(tval_eq(g_out.event_data, scalars[i]));
    }
    EXPECT_ERR(act_strict(g_et, &c, "touch", "field", "{'reason':['a']}", T0), LB_EGUARD, "reason");
    EXPECT_ERR(act_strict(g_et, &c, "touch", "field", "{'team':'t','reason':null}", T0), LB_EGUARD,
               "reason");
    /* Record actions are checked by their record schema, as before. */
    EXPECT_ERR(act_strict(g_et, &c, "note", "committee", "{'note':'n','why':1}", T0), LB_EGUARD,
               "why");
    wf_case_clear(&c);

    new_case(&c, g_tp, NULL, T0);
    /* Unknown keys are named before missing ones (as arguments, PROTOCOL.md 9.5). */
    EXPECT_ERR(act_strict(g_tp, &c, "close", "committee", "{'why':'moved'}", T0), LB_EGUARD, "why");
    EXPECT_ERR(act_strict(g_tp, &c, "close", "committee", "{'team':'t'}", T0), LB_EGUARD, "reason");
    EXPECT_ERR(act_strict(g_tp, &c, "schedule_visit", "field", "{'team':'t','why':'x'}", T0),
               LB_EGUARD, "why");
    CU_ASSERT_EQUAL(c.team[0], '\0'); /* refused: nothing changed */
    CU_ASSERT_STRING_EQUAL(c.state, "identified");
    EXPECT_OK(act_strict(g_tp, &c, "schedule_visit", "field",
                         "{'team':'t','level':'survive','reason':'asked by the head'}", T0));
    wf_case_clear(&c);

    /* A key some other action requires is still unknown to this one. */
    new_case(&c, g_sm, NULL, T0);
    EXPECT_ERR(
        act_strict(g_sm, &c, "certify", "committee", "{'certified_by':'x','agency':'y'}", T0),
        LB_EGUARD, "agency");
    EXPECT_OK(act_strict(g_sm, &c, "certify", "committee", "{'certified_by':'x'}", T0));
    CU_ASSERT_STRING_EQUAL(c.state, "certified");
    wf_case_clear(&c);

    /* Strings keep the note limit (strict or not). */
    new_case(&c, g_et, NULL, T0);
    char *big = malloc(WF_TEXT_MAX + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'a', WF_TEXT_MAX + 1);
    big[WF_TEXT_MAX + 1] = '\0';
    lb_val_t *d = tval_tmp("{}");
    CU_ASSERT_EQUAL(lb_map_set(d, "why", lb_str(big)), 0);
    wf_act_t a = {.action = "touch", .data = d, .role = "field", .actor = "t", .at = T0};
    wf_outcome_clear(&g_out);
    EXPECT_ERR(wf_apply(g_et, g_cat, &c, &a, &g_out, &g_err), LB_EGUARD, "why");
    big[WF_TEXT_MAX] = '\0';
    CU_ASSERT_EQUAL(lb_map_set(d, "why", lb_str(big)), 0);
    EXPECT_OK(wf_apply(g_et, g_cat, &c, &a, &g_out, &g_err));
    free(big);
    wf_case_clear(&c);
}

/* A workflow whose closing actions append a record, for the cap's exemption. */
static const char cap_yaml[] = "workflow: cap-test\n"
                               "version: 1\n"
                               "initial: open\n"
                               "states:\n"
                               "  open:\n"
                               "  done: { terminal: true, outcome: closed }\n"
                               "actions:\n"
                               "  note: { from: [open], record: note }\n"
                               "  visit: { from: [open], record: visit }\n"
                               "  touch: { from: [open] }\n"
                               "  close_with_note: { from: [open], to: done, record: note }\n";

static int act_cap_val(const wf_def_t *def, wf_case_t *c, const char *action, const lb_val_t *data,
                       uint32_t cap)
{
    wf_outcome_clear(&g_out);
    wf_act_t a = {.action = action,
                  .data = data,
                  .role = "field",
                  .actor = "tester",
                  .at = T0,
                  .max_records = cap};
    return wf_apply(def, g_cat, c, &a, &g_out, &g_err);
}

static int act_cap(const wf_def_t *def, wf_case_t *c, const char *action, const char *data,
                   uint32_t cap)
{
    return act_cap_val(def, c, action, data ? tval_tmp(data) : NULL, cap);
}

/* Appends n notes with the default cap, all with one data value (wf_apply copies what it keeps). */
static void add_notes(const wf_def_t *def, wf_case_t *c, int n)
{
    const lb_val_t *note = tval_tmp("{'note':'n'}");
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL_FATAL(act_cap_val(def, c, "note", note, 0), 0);
        wf_outcome_clear(&g_out);
    }
}

static void test_record_cap(void)
{
    char err[256];
    wf_set_t *set = NULL;
    CU_ASSERT_EQUAL_FATAL(
        wf_set_load_text("cap.yaml", cap_yaml, strlen(cap_yaml), &set, err, sizeof(err)), 0);
    const wf_def_t *def = wf_set_get(set, "cap-test", 0);
    wf_case_t c;
    new_case(&c, def, NULL, T0);

    /* Every kind of record counts. */
    EXPECT_OK(act_cap(def, &c, "note", "{'note':'1'}", 3));
    EXPECT_OK(act_cap(def, &c, "visit", "{'findings':{}}", 3));
    CU_ASSERT_EQUAL(wf_case_records(&c), 2);
    EXPECT_OK(act_cap(def, &c, "note", "{'note':'2'}", 3));
    CU_ASSERT_EQUAL(wf_case_records(&c), 3);

    /* Full: a record is refused, naming the case; the case is unchanged. */
    EXPECT_ERR(act_cap(def, &c, "note", "{'note':'3'}", 3), LB_ETOOLARGE, "");
    CU_ASSERT_STRING_EQUAL(g_err.case_id, "C000000042");
    CU_ASSERT_PTR_NOT_NULL(strstr(g_err.message, "C000000042"));
    EXPECT_ERR(act_cap(def, &c, "visit", "{'findings':{}}", 3), LB_ETOOLARGE, "");
    CU_ASSERT_EQUAL(wf_case_records(&c), 3);
    CU_ASSERT_EQUAL(c.notes->a.n, 2);
    /* The cap comes before the data checks: even a bad record is refused as too large. */
    EXPECT_ERR(act_cap(def, &c, "note", "{'bogus':1}", 3), LB_ETOOLARGE, "");
    /* A larger cap admits it; other errors leave case_id empty. */
    EXPECT_OK(act_cap(def, &c, "note", "{'note':'3'}", 4));
    EXPECT_ERR(act_cap(def, &c, "note", "{'bogus':1}", 5), LB_EGUARD, "bogus");
    CU_ASSERT_STRING_EQUAL(g_err.case_id, "");
    CU_ASSERT_EQUAL(wf_case_records(&c), 4);

    /* Actions without a record still run on a full case. */
    EXPECT_OK(act_cap(def, &c, "touch", "{'reason':'r'}", 3));

    /* A closing action is exempt, even with a record. */
    EXPECT_OK(act_cap(def, &c, "close_with_note", "{'note':'closing'}", 3));
    CU_ASSERT_STRING_EQUAL(c.state, "done");
    CU_ASSERT_EQUAL(wf_case_records(&c), 5);
    wf_case_clear(&c);

    /* 0 = the default of 2,000. */
    new_case(&c, def, NULL, T0);
    add_notes(def, &c, WF_CASE_RECORDS_DEFAULT);
    EXPECT_ERR(act_cap(def, &c, "note", "{'note':'n'}", 0), LB_ETOOLARGE, "");
    EXPECT_OK(act_cap(def, &c, "close_with_note", "{'note':'closing'}", 0));
    CU_ASSERT_EQUAL(wf_case_records(&c), WF_CASE_RECORDS_DEFAULT + 1);
    wf_case_clear(&c);
    wf_set_destroy(&set);
}

/*
 * A case at the cap with a long history round-trips through msgpack with
 * the stored-case limits, though not with the request limits.
 */
static void test_case_decode_limits(void)
{
    char err[256];
    wf_set_t *set = NULL;
    CU_ASSERT_EQUAL_FATAL(
        wf_set_load_text("cap.yaml", cap_yaml, strlen(cap_yaml), &set, err, sizeof(err)), 0);
    const wf_def_t *def = wf_set_get(set, "cap-test", 0);
    wf_case_t c, d;
    new_case(&c, def, NULL, T0);
    add_notes(def, &c, WF_CASE_RECORDS_DEFAULT);
    CU_ASSERT_EQUAL_FATAL(act_cap(def, &c, "close_with_note", "{'note':'closing'}", 0), 0);
    /* Events beyond any record count: state changes, escalations, acknowledgements. */
    for (uint64_t seq = 1; seq <= 30000; seq++)
        CU_ASSERT_EQUAL_FATAL(wf_case_add_event(&c, seq), 0);

    lb_val_t *v = wf_case_to_val(&c);
    lb_buf_t buf;
    lb_buf_init(&buf);
    CU_ASSERT_EQUAL_FATAL(proto_pack(v, &buf), 0);
    lb_val_free(&v);

    proto_err_t perr;
    CU_ASSERT_EQUAL(proto_unpack(buf.p, buf.len, &proto_default_limits, &v, &perr), LB_ETOOLARGE);
    lb_val_free(&v);
    const proto_limits_t stored = {WF_CASE_DECODE_DEPTH, WF_CASE_DECODE_ITEMS, WF_CASE_DECODE_STR,
                                   WF_CASE_DECODE_NODES};
    CU_ASSERT_EQUAL_FATAL(proto_unpack(buf.p, buf.len, &stored, &v, &perr), 0);
    memset(&d, 0, sizeof(d));
    CU_ASSERT_EQUAL(wf_case_from_val(v, &d), 0);
    CU_ASSERT_EQUAL(wf_case_records(&d), WF_CASE_RECORDS_DEFAULT + 1);
    CU_ASSERT_EQUAL(d.history->a.n, 30000);
    lb_val_free(&v);

    /* A count larger than the bytes left is still refused before anything is allocated. */
    const uint8_t lying[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    CU_ASSERT_EQUAL(proto_unpack(lying, sizeof(lying), &stored, &v, &perr), LB_EBADREQ);
    CU_ASSERT_PTR_NULL(v);

    lb_buf_free(&buf);
    wf_case_clear(&d);
    wf_case_clear(&c);
    wf_set_destroy(&set);
}

static const cu_test_t tests[] = {
    {"visit record schema", test_visit_record},
    {"catalog dimension mismatch", test_catalog_dimension_mismatch},
    {"assistance record schema", test_assistance_record},
    {"follow-up and note record schemas", test_follow_up_and_note_records},
    {"needs opened, met, reopened", test_needs},
    {"needs without indicator", test_needs_without_indicator},
    {"team and level", test_team_and_level},
    {"records ordered by at", test_records_ordered_by_at},
    {"non-record data is scalars", test_scalar_data},
    {"strict non-record data: team, level, reason, require keys", test_scalar_data_keys},
    {"record cap, closing actions exempt", test_record_cap},
    {"stored-case decode limits", test_case_decode_limits},
};
const cu_suite_t workflow_records_suite = {.name = "records",
                                           .init = wf_suite_init,
                                           .clean = wf_suite_clean,
                                           .teardown = wf_test_teardown,
                                           .tests = tests,
                                           .n = CU_COUNT(tests)};
