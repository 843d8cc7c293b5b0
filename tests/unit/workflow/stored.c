/*
 * workflow/stored.c - the stored case form: to_val/from_val round trip, corrupt values refused,
 * unknown keys ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

/* Member by member: the struct has padding, which memcmp would compare too. */
static bool esc_equal(const wf_escalation_t *a, const wf_escalation_t *b)
{
    return a->step == b->step && memcmp(a->level, b->level, sizeof a->level) == 0 &&
           memcmp(a->state, b->state, sizeof a->state) == 0 && a->at == b->at &&
           a->acked_at == b->acked_at && memcmp(a->acked_by, b->acked_by, sizeof a->acked_by) == 0;
}

static void test_case_roundtrip(void)
{
    wf_case_t c, d;
    new_case(&c, g_tp, "['bmn1','bmn20']", T0);
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'tambon-1'}", T0 + DAY));
    EXPECT_OK(act(g_tp, &c, "record_visit", "field",
                  "{'findings':{'health':['bmn4']},'needs':[{'dimension':'living','note':'roof'}]}",
                  T0 + 2 * DAY));
    EXPECT_OK(act(g_tp, &c, "plan_assistance", "field", "{'level':'survive'}", T0 + 3 * DAY));
    EXPECT_OK(act(g_tp, &c, "record_assistance", "field",
                  "{'agency':'DOAE','dimension':'income','kind':'occupation','amount_thb':2500,"
                  "'meets':['bmn20']}",
                  T0 + 4 * DAY));
    EXPECT_OK(act(g_tp, &c, "add_note", "committee", "{'note':'ok'}", T0 + 4 * DAY));
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 200 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_ack(&c, "committee", T0 + 201 * DAY, NULL), 0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 200 * DAY, NULL), 1);
    c.last_seq = 1234567;

    lb_val_t *v = wf_case_to_val(&c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_STRING_EQUAL(lb_map_str(v, "case_id"), "C000000042");
    CU_ASSERT_STRING_EQUAL(lb_map_str(v, "team"), "tambon-1");
    CU_ASSERT_STRING_EQUAL(lb_map_str(v, "level"), "survive");
    const lb_val_t *esc = lb_map_get(v, "escalations");
    CU_ASSERT_EQUAL_FATAL(esc->a.n, 2);
    CU_ASSERT_STRING_EQUAL(lb_map_str(esc->a.items[0], "acked_by"), "committee");
    CU_ASSERT_PTR_NULL(lb_map_get(esc->a.items[1], "acked_at"));
    CU_ASSERT_PTR_NULL(lb_map_get(esc->a.items[1], "acked_by"));
    CU_ASSERT_STRING_EQUAL(lb_map_str(esc->a.items[1], "state"), "assisting");

    CU_ASSERT_EQUAL_FATAL(wf_case_from_val(v, &d), 0);
    CU_ASSERT_EQUAL(d.id, 42);
    CU_ASSERT_STRING_EQUAL(d.case_id, c.case_id);
    CU_ASSERT_STRING_EQUAL(d.house_id, "91010000001");
    CU_ASSERT_STRING_EQUAL(d.area, "91010101");
    CU_ASSERT_STRING_EQUAL(d.workflow, "tpmap-household");
    CU_ASSERT_EQUAL(d.workflow_version, 1);
    CU_ASSERT_STRING_EQUAL(d.state, "assisting");
    CU_ASSERT(d.entered_at == c.entered_at && d.opened_at == T0 && d.timers_base == c.timers_base);
    CU_ASSERT_STRING_EQUAL(d.source, "tpmap");
    CU_ASSERT_STRING_EQUAL(d.team, "tambon-1");
    CU_ASSERT_STRING_EQUAL(d.level, "survive");
    CU_ASSERT(lb_val_equal(d.needs, c.needs) && lb_val_equal(d.visits, c.visits) &&
              lb_val_equal(d.assistance, c.assistance) && lb_val_equal(d.notes, c.notes) &&
              lb_val_equal(d.follow_ups, c.follow_ups));
    CU_ASSERT_EQUAL_FATAL(d.n_esc, 2);
    CU_ASSERT(esc_equal(&d.esc[0], &c.esc[0]) && esc_equal(&d.esc[1], &c.esc[1]));
    CU_ASSERT_EQUAL_FATAL(d.n_timers, c.n_timers);
    CU_ASSERT(memcmp(d.timers, c.timers, c.n_timers * sizeof(*c.timers)) == 0);
    CU_ASSERT_EQUAL(d.fired_in_state, 2);
    CU_ASSERT_EQUAL(d.last_seq, 1234567);
    lb_val_t *w = wf_case_to_val(&d);
    CU_ASSERT(lb_val_equal(v, w));
    lb_val_free(&w);
    /* the lent form is the same value, and giving it back leaves the case's lists whole */
    w = wf_case_to_val_lent(&d);
    CU_ASSERT(lb_val_equal(v, w));
    CU_ASSERT_PTR_EQUAL(lb_map_get(w, "visits"), d.visits);
    wf_case_val_return(&w);
    CU_ASSERT_PTR_NULL(w);
    CU_ASSERT(lb_val_equal(d.visits, c.visits) && lb_val_equal(d.needs, c.needs));
    /* taking moves the lists out of the decoded value and leaves it freeable */
    wf_case_t e;
    lb_val_t *x = lb_val_dup(v);
    CU_ASSERT_EQUAL_FATAL(wf_case_from_val_take(x, &e), 0);
    CU_ASSERT(lb_val_equal(e.visits, c.visits) && lb_val_equal(e.history, d.history));
    CU_ASSERT_EQUAL(lb_map_get(x, "visits")->a.n, 0);
    lb_val_free(&x);
    wf_case_clear(&e);
    lb_val_free(&v);
    /* the restored case keeps working */
    EXPECT_OK(act(g_tp, &d, "start_follow_up", "field", NULL, T0 + 300 * DAY));
    wf_case_clear(&d);
    wf_case_clear(&c);

    /* no team, no level: the keys are left out */
    new_case(&c, g_tp, NULL, T0);
    v = wf_case_to_val(&c);
    CU_ASSERT_PTR_NULL(lb_map_get(v, "team"));
    CU_ASSERT_PTR_NULL(lb_map_get(v, "level"));
    CU_ASSERT_EQUAL(lb_map_get(v, "timers")->a.n, 3);
    CU_ASSERT_EQUAL(wf_case_from_val(v, &d), 0);
    CU_ASSERT(d.team[0] == '\0' && d.level[0] == '\0');
    wf_case_clear(&d);
    lb_val_free(&v);
    wf_case_clear(&c);
}

/* A stored case value, escalated once, to be spoilt by the corrupt-value tests. */
static lb_val_t *escalated_case_val(void)
{
    wf_case_t c;
    new_case(&c, g_tp, "['bmn1']", T0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 8 * DAY, NULL), 1);
    lb_val_t *good = wf_case_to_val(&c);
    wf_case_clear(&c);
    return good;
}

/* One key of a stored case set to a bad value. */
typedef struct {
    const char *key;
    const char *val; /* NULL: delete the key */
} corrupt_key_t;

static const corrupt_key_t corrupt_keys[] = {
    {"case_id", "'42'"},
    {"case_id", "'C42'"},
    {"case_id", NULL},
    {"state", NULL},
    {"state", "7"},
    {"entered_at", "'yesterday'"},
    {"workflow_version", "0"},
    {"house_id", "'123456789012'"},
    {"team", "'0123456789012345678901234567890123456789012345678901234567890123'"},
    {"level", "1"},
    {"needs", "{}"},
    {"needs", "[1]"},
    {"visits", NULL},
    {"escalations", "[{'step':0,'level':'team','state':'identified'}]"},
    {"escalations", "[{'step':-1,'level':'team','state':'identified','at':1}]"},
    {"escalations", "[{'step':0,'level':'team','state':'identified','at':1,'acked_at':'x'}]"},
    {"escalations", "[7]"},
    {"timers", "[{'due':1,'step':0}]"},
    {"timers", "[{'due':1,'step':0,'level':'team-level-too-long'}]"},
    {"timers", "'none'"},
    {"last_seq", "-1"},
    {"fired_in_state", "4294967296"},
};

/* good with one key spoilt must be refused, leaving the case zeroed. */
static void check_corrupt_key(const lb_val_t *good, const corrupt_key_t *bad)
{
    wf_case_t d;
    lb_val_t *v = lb_val_dup(good);
    if (bad->val) {
        lb_val_t *x = tval(bad->val);
        CU_ASSERT_EQUAL(lb_map_set(v, bad->key, x), 0);
    } else {
        CU_ASSERT_EQUAL(lb_map_del(v, bad->key), 0);
    }
    int rc = wf_case_from_val(v, &d);
    CU_ASSERT_EQUAL(rc, LB_ECORRUPT);
    if (rc != LB_ECORRUPT)
        fprintf(stderr, "\n  accepted %s = %s\n", bad->key, bad->val ? bad->val : "-");
    /* a refused value leaves the case zeroed */
    CU_ASSERT(d.needs == NULL && d.esc == NULL && d.n_timers == 0 && d.state[0] == '\0');
    wf_case_clear(&d);
    lb_val_free(&v);
}

static void test_case_from_val_corrupt(void)
{
    wf_case_t d;
    lb_val_t *good = escalated_case_val();
    CU_ASSERT_PTR_NOT_NULL_FATAL(good);

    CU_ASSERT_EQUAL(wf_case_from_val(NULL, &d), LB_ECORRUPT);
    CU_ASSERT_EQUAL(wf_case_from_val(tval_tmp("[]"), &d), LB_ECORRUPT);
    for (size_t i = 0; i < sizeof(corrupt_keys) / sizeof(corrupt_keys[0]); i++)
        check_corrupt_key(good, &corrupt_keys[i]);
    lb_val_free(&good);
}

/* Keys the stored form does not know (case.get's household) are ignored. */
static void test_case_from_val_unknown_keys(void)
{
    wf_case_t d;
    lb_val_t *v = escalated_case_val();
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(lb_map_set(v, "household", lb_map()), 0);
    CU_ASSERT_EQUAL(wf_case_from_val(v, &d), 0);
    CU_ASSERT_EQUAL(d.n_esc, 1);
    wf_case_clear(&d);
    lb_val_free(&v);
}

static const cu_test_t tests[] = {
    {"case to_val/from_val round trip", test_case_roundtrip},
    {"case from_val refuses corrupt values", test_case_from_val_corrupt},
    {"case from_val ignores unknown keys", test_case_from_val_unknown_keys},
};
const cu_suite_t workflow_stored_suite = {.name = "stored",
                                          .init = wf_suite_init,
                                          .clean = wf_suite_clean,
                                          .teardown = wf_test_teardown,
                                          .tests = tests,
                                          .n = CU_COUNT(tests)};
