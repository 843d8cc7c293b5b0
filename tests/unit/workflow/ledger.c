/*
 * ledger.c - the engine's part of PROTOCOL.md 9.19: record ids (also on
 * cases stored without them), pledges and deliveries, decision due dates,
 * record timers kept across state changes and fired as escalations, the
 * stored form of those timers, and the committee-only states.
 */
#include "workflow_test.h"

#define PLEDGE                                                                                     \
    "{'agency':'a','dimension':'income','kind':'cash','amount_thb':10,'status':'pledged'}"

static const wf_timer_t *find_timer(const wf_case_t *c, const char *kind, uint64_t record)
{
    for (uint32_t i = 0; i < c->n_timers; i++)
        if (strcmp(c->timers[i].kind, kind) == 0 && c->timers[i].record == record)
            return &c->timers[i];
    return NULL;
}

static void test_record_ids(void)
{
    wf_case_t c;
    tp_case_in(&c, "assisting"); /* the visit is record 1 */
    EXPECT_OK(act(g_tp, &c, "add_note", "field", "{'note':'x'}", T0 + 3 * DAY));
    CU_ASSERT_EQUAL(g_out.record_id, 2);
    /* a case stored before ids: its records hold none, so counting starts above none */
    for (uint32_t i = 0; i < c.visits->a.n; i++)
        lb_map_del(c.visits->a.items[i], "id");
    EXPECT_OK(act(g_tp, &c, "add_note", "field", "{'note':'y'}", T0 + 3 * DAY));
    CU_ASSERT_EQUAL(g_out.record_id, 3);
    lb_map_del(c.notes->a.items[0], "id");
    lb_map_del(c.notes->a.items[1], "id");
    EXPECT_OK(act(g_tp, &c, "add_note", "field", "{'note':'z'}", T0 + 3 * DAY));
    CU_ASSERT_EQUAL(g_out.record_id, 1);
    /* no record: no id */
    EXPECT_OK(act(g_tp, &c, "start_follow_up", "field", NULL, T0 + 4 * DAY));
    CU_ASSERT_EQUAL(g_out.record_id, 0);
    wf_case_clear(&c);
}

static void test_pledge_delivery(void)
{
    wf_case_t c;
    tp_case_in(&c, "assisting");
    EXPECT_OK(act(g_tp, &c, "record_assistance", "field", PLEDGE, T0 + 3 * DAY));
    uint64_t p = g_out.record_id;
    const wf_timer_t *t = find_timer(&c, "pledge", p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->due, T0 + 3 * DAY + 90 * DAY); /* deliver_within: 90d */
    CU_ASSERT_STRING_EQUAL(t->level, "district");
    char d[256];
    snprintf(d, sizeof d,
             "{'agency':'a','dimension':'income','kind':'cash','status':'delivered','pledge':%llu}",
             (unsigned long long)p);
    /* a delivery cannot precede its pledge */
    EXPECT_ERR(act(g_tp, &c, "record_assistance", "field", d, T0 + 2 * DAY), LB_EGUARD, "pledge");
    EXPECT_ERR(act(g_tp, &c, "record_assistance", "field",
                   "{'agency':'a','dimension':'income','kind':'cash','pledge':2}", T0 + 4 * DAY),
               LB_EGUARD, "pledge");
    EXPECT_ERR(act(g_tp, &c, "record_assistance", "field",
                   "{'agency':'a','dimension':'income','kind':'cash','status':'delivered',"
                   "'pledge':1}",
                   T0 + 4 * DAY),
               LB_EGUARD, "pledge"); /* record 1 is the visit */
    EXPECT_OK(act(g_tp, &c, "record_assistance", "field", d, T0 + 4 * DAY));
    CU_ASSERT_PTR_NULL(find_timer(&c, "pledge", p));
    CU_ASSERT_TRUE(wf_case_pledge_delivered(&c, p));
    EXPECT_ERR(act(g_tp, &c, "record_assistance", "field", d, T0 + 5 * DAY), LB_EGUARD, "pledge");
    wf_case_clear(&c);
}

static void test_pledge_timer_survives_and_fires(void)
{
    wf_case_t c;
    tp_case_in(&c, "assisting");
    EXPECT_OK(act(g_tp, &c, "record_assistance", "field", PLEDGE, T0 + 3 * DAY));
    uint64_t p = g_out.record_id;
    EXPECT_OK(act(g_tp, &c, "start_follow_up", "field", NULL, T0 + 4 * DAY));
    CU_ASSERT_PTR_NOT_NULL(find_timer(&c, "pledge", p)); /* kept across the state change */
    /* stored and read back with its kind and record */
    lb_val_t *v = wf_case_to_val(&c);
    wf_case_t back;
    CU_ASSERT_EQUAL_FATAL(wf_case_from_val(v, &back), 0);
    CU_ASSERT_PTR_NOT_NULL(find_timer(&back, "pledge", p));
    wf_case_clear(&back);
    lb_val_free(&v);
    wf_escalation_t e;
    bool seen = false;
    while (wf_fire_due(&c, T0 + 200 * DAY, &e) == 1)
        if (strcmp(e.kind, "pledge") == 0 && e.record == p)
            seen = true;
    CU_ASSERT_TRUE(seen);
    CU_ASSERT_TRUE(wf_case_overdue(&c));
    wf_case_clear(&c);
}

static void test_decision(void)
{
    wf_case_t c;
    tp_case_in(&c, "assisting");
    EXPECT_ERR(act(g_tp, &c, "record_decision", "field", "{'decision':'x','due':'2030-01-01'}",
                   T0 + 3 * DAY),
               LB_EFORBIDDEN, "");
    EXPECT_ERR(act(g_tp, &c, "record_decision", "committee", "{'decision':'x','due':'2023-02-29'}",
                   T0 + 3 * DAY),
               LB_EGUARD, "due");
    EXPECT_ERR(act(g_tp, &c, "record_decision", "committee", "{'decision':'','due':'2030-01-01'}",
                   T0 + 3 * DAY),
               LB_EGUARD, "decision");
    /* 2024-02-29 ends at 2024-03-01T00:00+07:00 = 2024-02-29T17:00Z */
    EXPECT_OK(act(g_tp, &c, "record_decision", "committee",
                  "{'decision':'refer','agency':'PAO','due':'2024-02-29'}", T0 + 3 * DAY));
    uint64_t d = g_out.record_id;
    const wf_timer_t *t = find_timer(&c, "decision", d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->due, INT64_C(1709226000000));
    int64_t due = 0;
    CU_ASSERT_EQUAL(lb_map_int(c.decisions->a.items[0], "due", &due), 0);
    CU_ASSERT_EQUAL(due, INT64_C(1709226000000));
    /* a later record answers it */
    EXPECT_OK(act(g_tp, &c, "add_note", "field", "{'note':'done'}", T0 + 4 * DAY));
    CU_ASSERT_PTR_NULL(find_timer(&c, "decision", d));
    wf_case_clear(&c);
}

/* Whether every record of c that holds an id holds its own. */
static bool ids_unique(const wf_case_t *c)
{
    const lb_val_t *lists[] = {c->visits, c->assistance,     c->follow_ups,
                               c->notes,  c->member_changes, c->decisions};
    uint64_t seen[64];
    size_t n = 0;
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (uint32_t i = 0; lists[l] && i < lists[l]->a.n; i++) {
            int64_t id = 0;
            if (lb_map_int(lists[l]->a.items[i], "id", &id) != 0)
                continue;
            for (size_t k = 0; k < n; k++)
                if (seen[k] == (uint64_t)id)
                    return false;
            if (n < 64)
                seen[n++] = (uint64_t)id;
        }
    return true;
}

static void test_merge_renumbers_ids(void)
{
    wf_case_t keep, drop;
    tp_case_in(&keep, "assisting"); /* its visit is record 1 */
    EXPECT_OK(act(g_tp, &keep, "add_note", "field", "{'note':'k'}", T0 + 3 * DAY)); /* 2 */
    tp_case_in(&drop, "assisting");
    snprintf(drop.case_id, sizeof drop.case_id, "C000000043");
    EXPECT_OK(act(g_tp, &drop, "record_assistance", "field", PLEDGE, T0 + 3 * DAY));
    uint64_t p = g_out.record_id; /* 2: open */
    EXPECT_OK(act(g_tp, &drop, "record_assistance", "field", PLEDGE, T0 + 3 * DAY));
    uint64_t q = g_out.record_id; /* 3: delivered in drop */
    char d[256];
    snprintf(d, sizeof d,
             "{'agency':'a','dimension':'income','kind':'cash','status':'delivered','pledge':%llu}",
             (unsigned long long)q);
    EXPECT_OK(act(g_tp, &drop, "record_assistance", "field", d, T0 + 4 * DAY));
    CU_ASSERT_EQUAL_FATAL(p, 2);

    uint64_t off = wf_case_last_record_id(&keep);
    CU_ASSERT_EQUAL(off, 2);
    uint32_t added = 0;
    wf_error_t err;
    CU_ASSERT_EQUAL_FATAL(wf_case_absorb(&keep, &drop, 0, &added, &err), 0);
    CU_ASSERT_EQUAL(added, 4);
    CU_ASSERT_TRUE(ids_unique(&keep));
    CU_ASSERT_EQUAL(wf_case_last_record_id(&keep), 4 + off);
    /* the open pledge under its new id, with its timer; the delivery names its pledge's new id */
    const lb_val_t *r = wf_case_record(&keep, p + off);
    CU_ASSERT_STRING_EQUAL(r ? lb_map_str(r, "status") : "", "pledged");
    CU_ASSERT_PTR_NOT_NULL(find_timer(&keep, "pledge", p + off));
    CU_ASSERT_PTR_NULL(find_timer(&keep, "pledge", p));
    CU_ASSERT_TRUE(wf_case_pledge_delivered(&keep, q + off));
    CU_ASSERT_FALSE(wf_case_pledge_delivered(&keep, p + off));
    /* drop is only read: its records keep their ids */
    CU_ASSERT_STRING_EQUAL(lb_map_str(wf_case_record(&drop, p), "status"), "pledged");
    CU_ASSERT_EQUAL(wf_case_close_merged(g_tp, &drop, keep.case_id, T0 + 5 * DAY), 0);

    /* after the merge: the old id names keep's note, the new one the pledge */
    snprintf(d, sizeof d,
             "{'agency':'a','dimension':'income','kind':'cash','status':'delivered','pledge':%llu}",
             (unsigned long long)p);
    EXPECT_ERR(act(g_tp, &keep, "record_assistance", "field", d, T0 + 5 * DAY), LB_EGUARD,
               "pledge");
    snprintf(d, sizeof d,
             "{'agency':'a','dimension':'income','kind':'cash','status':'delivered','pledge':%llu}",
             (unsigned long long)p + off);
    EXPECT_OK(act(g_tp, &keep, "record_assistance", "field", d, T0 + 5 * DAY));
    CU_ASSERT_EQUAL(g_out.record_id, 4 + off + 1);
    CU_ASSERT_TRUE(wf_case_pledge_delivered(&keep, p + off));
    CU_ASSERT_PTR_NULL(find_timer(&keep, "pledge", p + off));
    CU_ASSERT_TRUE(ids_unique(&keep));

    /* renumbering itself: id and pledge raised, nothing else; offset 0 changes nothing */
    lb_val_t *rec = tval("{'id':3,'pledge':2,'at':5}");
    CU_ASSERT_EQUAL(wf_record_renumber(rec, 0), 0);
    CU_ASSERT(tval_match(rec, "{'id':3,'pledge':2,'at':5}"));
    CU_ASSERT_EQUAL(wf_record_renumber(rec, 10), 0);
    CU_ASSERT(tval_match(rec, "{'id':13,'pledge':12,'at':5}"));
    lb_val_free(&rec);
    wf_case_clear(&keep);
    wf_case_clear(&drop);
}

static void test_committee_only(void)
{
    CU_ASSERT_TRUE(wf_def_committee_only(g_tp, "follow_up"));
    CU_ASSERT_FALSE(wf_def_committee_only(g_tp, "assisting"));
    CU_ASSERT_FALSE(wf_def_committee_only(g_tp, "identified"));
    CU_ASSERT_FALSE(wf_def_committee_only(g_tp, "resolved"));
    CU_ASSERT_FALSE(wf_def_committee_only(g_tp, "nope"));
    CU_ASSERT_TRUE(wf_def_committee_only(g_sm, "certified"));
    CU_ASSERT_FALSE(wf_def_committee_only(g_sm, "referred"));
    CU_ASSERT_EQUAL(wf_def_deliver_within(g_tp), 90 * DAY);
}

static const cu_test_t tests[] = {
    {"record ids", test_record_ids},
    {"pledge and delivery", test_pledge_delivery},
    {"pledge timer survives a state change and fires", test_pledge_timer_survives_and_fires},
    {"decision due", test_decision},
    {"case.merge renumbers record ids and moves pledge timers", test_merge_renumbers_ids},
    {"committee-only states", test_committee_only},
};
const cu_suite_t workflow_ledger_suite = {.name = "ledger",
                                          .init = wf_suite_init,
                                          .clean = wf_suite_clean,
                                          .teardown = wf_test_teardown,
                                          .tests = tests,
                                          .n = CU_COUNT(tests)};
