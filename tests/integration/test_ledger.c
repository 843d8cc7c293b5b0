/*
 * test_ledger.c - PROTOCOL.md 9.19 against a real logbookd: record ids in
 * case.act's result, pledges and their deliveries, report.ledger's counters
 * before and after, a pledge not delivered in time escalating, decisions
 * whose due passes without a later record, report.agenda, scopes, idempotent
 * retries and admin.verify afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"
#include "../lib/cu.h"
#include "../lib/testd.h"
#include "../lib/trust.h"
#include "../lib/tval.h"

#define DAY_S (24LL * 3600)

static testd_t D;
static char field[400], comm[400], comm66[400];
static unsigned long next_house = 70000000001UL;

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o))
        return -1;
    char p[3][41];
    if (testd_keygen(&D, "field", p[0], field, sizeof field) ||
        testd_keygen(&D, "comm", p[1], comm, sizeof comm) ||
        testd_keygen(&D, "comm66", p[2], comm66, sizeof comm66))
        return -1;
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: field, public_key: \"%s\", role: field, areas: [\"6501\"] }\n"
             "  - { name: comm, public_key: \"%s\", role: committee, areas: [\"6501\"] }\n"
             "  - { name: comm66, public_key: \"%s\", role: committee, areas: [\"66\"] }\n",
             p[0], p[1], p[2]);
    return testd_set_clients(&D, yaml);
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* One call as cert (NULL = admin) with args written as tval text; the reply is the caller's. */
static lb_val_t *call(const char *cert, const char *op, const char *args)
{
    lb_val_t *a = tval(args);
    lb_val_t *r = trust_call(&D, cert, op, a);
    lb_val_free(&a);
    return r;
}

/* case.act; returns the record_id of the reply (or -1) and checks the reply's code. */
static int64_t act(const char *cert, const char *cid, const char *action, const char *data,
                   const char *code)
{
    char args[2048];
    snprintf(args, sizeof args, "{'case_id':'%s','action':'%s','data':%s}", cid, action, data);
    lb_val_t *r = call(cert, "case.act", args);
    CU_ASSERT_STRING_EQUAL(testd_code(r), code);
    if (strcmp(testd_code(r), code) != 0)
        fprintf(stderr, "%s %s: %s\n", action, data, tval_json(r));
    int64_t id = trust_result_int(r, "record_id", -1);
    lb_val_free(&r);
    return id;
}

/* Opens a case in area and brings it to state assisting; its id into cid. */
static void open_assisting(const char *area, char cid[LB_CASE_ID_MAX])
{
    lb_val_t *a = lb_map();
    lb_map_set(a, "household", testd_household(next_house++, area));
    lb_val_t *r = testd_call(&D, "case.open", a);
    lb_val_free(&a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    snprintf(cid, LB_CASE_ID_MAX, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&r);
    act(NULL, cid, "record_visit", "{'findings':{}}", "");
    act(NULL, cid, "plan_assistance", "{}", "");
}

/* The ledger row of key (a copy: the caller's), or NULL. */
static lb_val_t *ledger_row(const char *cert, const char *area, const char *by, const char *key)
{
    char args[128];
    snprintf(args, sizeof args, "{'area':'%s','by':'%s'}", area, by);
    lb_val_t *r = call(cert, "report.ledger", args), *row = NULL;
    const lb_val_t *rows = lb_map_get(lbc_reply_result(r), "rows");
    for (uint32_t i = 0; rows && i < rows->a.n; i++)
        if (strcmp(lb_map_str(rows->a.items[i], "key"), key) == 0)
            row = lb_val_dup(rows->a.items[i]);
    lb_val_free(&r);
    return row;
}

static void verify_ok(void)
{
    lb_val_t *r = call(NULL, "admin.verify", "{}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    CU_ASSERT(tval_match(lbc_reply_result(r), "{'ok':true}"));
    lb_val_free(&r);
}

/* The agenda items of kind for case cid. */
static int agenda_count(const char *cert, const char *level, const char *cid, const char *kind)
{
    char args[128];
    snprintf(args, sizeof args, "{'area':'6501','level':'%s'}", level);
    lb_val_t *r = call(cert, "report.agenda", args);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    const lb_val_t *items = lb_map_get(lbc_reply_result(r), "items");
    int n = 0;
    for (uint32_t i = 0; items && i < items->a.n; i++)
        n += strcmp(lb_map_str(items->a.items[i], "case_id"), cid) == 0 &&
             strcmp(lb_map_str(items->a.items[i], "kind"), kind) == 0;
    lb_val_free(&r);
    return n;
}

#define PLEDGE                                                                                                 \
    "{'agency':'อบต.ควนโดน','dimension':'income','kind':'cash','amount_thb':3000,'status':'" \
    "pledged'}"

static void test_pledge_and_delivery(void)
{
    char cid[LB_CASE_ID_MAX];
    open_assisting("65010101", cid);
    lb_val_t *before = ledger_row(comm, "6501", "agency", "อบต.ควนโดน");
    CU_ASSERT_PTR_NULL(before);
    int64_t assisted = trust_total(&D, "6501", "state", "assisted");

    int64_t pid = act(field, cid, "record_assistance", PLEDGE, "");
    CU_ASSERT(pid >= 2); /* the visit holds an id before it */
    lb_val_t *row = ledger_row(comm, "6501", "agency", "อบต.ควนโดน");
    CU_ASSERT(tval_match(row, "{'pledged':1,'pledged_thb':3000.0,'delivered':0,"
                              "'delivered_thb':0.0,'open':1,'open_thb':3000.0}"));
    lb_val_free(&row);
    CU_ASSERT_EQUAL(trust_total(&D, "6501", "state", "assisted"), assisted + 1);

    /* per-item errors: not a pledge, not delivered, unknown status, no such record */
    char data[512];
    snprintf(data, sizeof data,
             "{'agency':'อบต.ควนโดน','dimension':'income','kind':'cash','status':'pledged',"
             "'pledge':%lld}",
             (long long)pid);
    act(field, cid, "record_assistance", data, "guard_failed");
    act(field, cid, "record_assistance",
        "{'agency':'a','dimension':'income','kind':'cash','status':'delivered','pledge':999}",
        "guard_failed");
    act(field, cid, "record_assistance",
        "{'agency':'a','dimension':'income','kind':'cash','status':'promised'}", "guard_failed");

    snprintf(data, sizeof data,
             "{'agency':'อบต.ควนโดน','dimension':'income','kind':'cash','amount_thb':2500.5,"
             "'status':'delivered','pledge':%lld}",
             (long long)pid);
    int64_t did = act(field, cid, "record_assistance", data, "");
    CU_ASSERT(did > pid);
    act(field, cid, "record_assistance", data, "guard_failed"); /* delivered already */
    row = ledger_row(comm, "6501", "agency", "อบต.ควนโดน");
    CU_ASSERT(tval_match(row, "{'pledged':1,'pledged_thb':3000.0,'delivered':1,"
                              "'delivered_thb':2500.5,'open':0,'open_thb':0.0}"));
    lb_val_free(&row);
    row = ledger_row(comm, "6501", "dimension", "income");
    CU_ASSERT(tval_match(row, "{'pledged':1,'delivered':1,'open':0}"));
    lb_val_free(&row);
    /* the province's scope sums the same counters */
    row = ledger_row(NULL, "65", "agency", "อบต.ควนโดน");
    CU_ASSERT(tval_match(row, "{'pledged':1,'delivered':1}"));
    lb_val_free(&row);
    verify_ok();
}

static void test_ledger_scope_and_retry(void)
{
    lb_val_t *r = call(comm66, "report.ledger", "{'area':'6501','by':'agency'}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = call(comm, "report.ledger", "{'area':'6501','by':'team'}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    r = call(comm66, "report.ledger", "{'by':'agency'}"); /* its own scope: nothing of 6501 */
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    CU_ASSERT(tval_match(lbc_reply_result(r), "{'rows':[]}"));
    lb_val_free(&r);

    /* a retried pledge (same request id) is applied once and answers the same record_id */
    char cid[LB_CASE_ID_MAX];
    open_assisting("65010102", cid);
    lb_val_t *args =
        tvalf("{'case_id':'%s','action':'record_assistance','data':{'agency':"
              "'retry-agency','dimension':'health','kind':'goods','status':'pledged'}}",
              cid);
    lb_val_t *r1 = NULL, *r2 = NULL;
    char err[256];
    CU_ASSERT_EQUAL(lbc_call_id(D.admin, "ledger-retry-1", "case.act", args, &r1, err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(lbc_call_id(D.admin, "ledger-retry-1", "case.act", args, &r2, err, sizeof err),
                    0);
    CU_ASSERT(trust_result_int(r1, "record_id", -1) > 0);
    CU_ASSERT_EQUAL(trust_result_int(r1, "record_id", -1), trust_result_int(r2, "record_id", -2));
    lb_val_t *row = ledger_row(NULL, "6501", "agency", "retry-agency");
    CU_ASSERT(tval_match(row, "{'pledged':1,'open':1}"));
    lb_val_free(&row);
    lb_val_free(&r1);
    lb_val_free(&r2);
    lb_val_free(&args);
}

/* The events of case cid of kind since seq 0, counted; with timer, only escalations of it. */
static int events_of(const char *cid, const char *kind, const char *timer)
{
    lb_val_t *r = call(NULL, "events.since", "{'seq':0,'limit':10000}");
    const lb_val_t *evs = lb_map_get(lbc_reply_result(r), "events");
    int n = 0;
    for (uint32_t i = 0; evs && i < evs->a.n; i++) {
        const lb_val_t *x = evs->a.items[i];
        const char *t = lb_map_str(lb_map_get(x, "data"), "timer");
        if (strcmp(lb_map_str(x, "case_id"), cid) == 0 &&
            strcmp(lb_map_str(x, "kind"), kind) == 0 &&
            strcmp(lb_map_str(x, "area"), "65010103") == 0 && (!timer || (t && !strcmp(t, timer))))
            n++;
    }
    lb_val_free(&r);
    return n;
}

static void test_pledge_overdue_escalates(void)
{
    char cid[LB_CASE_ID_MAX];
    open_assisting("65010103", cid);
    int64_t pid = act(comm, cid, "record_assistance", PLEDGE, "");
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL(events_of(cid, "assist", NULL), 1);
    CU_ASSERT_EQUAL(agenda_count(comm, "district", cid, "pledge"), 0);
    trust_advance(&D, 89 * DAY_S);
    CU_ASSERT_EQUAL(events_of(cid, "escalation", "pledge"), 0);
    trust_advance(&D, 2 * DAY_S); /* past deliver_within (90d) */
    CU_ASSERT_EQUAL(events_of(cid, "escalation", "pledge"), 1);
    CU_ASSERT_EQUAL(agenda_count(comm, "district", cid, "pledge"), 1);
    /* the district committee of another province sees none of it */
    lb_val_t *r = call(comm66, "report.agenda", "{'area':'6501','level':'district'}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = call(field, "report.agenda", "{'area':'6501','level':'district'}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    /* delivered late: off the agenda, and the ledger holds no open pledge of it */
    char data[512];
    snprintf(data, sizeof data,
             "{'agency':'อบต.ควนโดน','dimension':'income','kind':'cash','status':'delivered',"
             "'pledge':%lld}",
             (long long)pid);
    act(comm, cid, "record_assistance", data, "");
    CU_ASSERT_EQUAL(agenda_count(comm, "district", cid, "pledge"), 0);
    verify_ok();
}

static void test_decision_due(void)
{
    char a[LB_CASE_ID_MAX], b[LB_CASE_ID_MAX];
    open_assisting("65010104", a);
    open_assisting("65010104", b);
    int64_t now = trust_advance(&D, 0);
    char data[256];
    snprintf(data, sizeof data, "{'decision':'refer to the PAO','agency':'อบจ.สตูล','due':%lld}",
             (long long)(now + 10 * DAY_S * 1000));
    act(field, a, "record_decision", data, "forbidden"); /* committees decide */
    int64_t da = act(comm, a, "record_decision", data, "");
    int64_t db = act(comm, b, "record_decision", data, "");
    CU_ASSERT(da > 0 && db > 0);
    act(comm, a, "record_decision", "{'decision':'x','due':'2026-02-30'}", "guard_failed");
    act(comm, a, "record_decision", "{'decision':'x','due':'1999-01-01'}", "guard_failed");
    act(comm, a, "record_decision", "{'decision':'x'}", "guard_failed");
    /* b gets a later record: its decision is answered */
    act(field, b, "add_note", "{'note':'the PAO called back'}", "");
    trust_advance(&D, 11 * DAY_S);
    lb_val_t *r = NULL;
    int fired_a = 0, fired_b = 0;
    for (int k = 0; k < 2; k++) {
        lb_val_t *args = tvalf("{'case_id':'%s'}", k ? b : a);
        r = trust_call(&D, NULL, "case.get", args);
        const lb_val_t *esc = lb_map_get(lbc_reply_result(r), "escalations");
        for (uint32_t i = 0; esc && i < esc->a.n; i++) {
            const char *kind = lb_map_str(esc->a.items[i], "kind");
            if (kind && strcmp(kind, "decision") == 0)
                *(k ? &fired_b : &fired_a) += 1;
        }
        lb_val_free(&r);
        lb_val_free(&args);
    }
    CU_ASSERT_EQUAL(fired_a, 1);
    CU_ASSERT_EQUAL(fired_b, 0);
    verify_ok();
}

static void test_waiting_state_on_agenda(void)
{
    char cid[LB_CASE_ID_MAX];
    open_assisting("65010105", cid);
    CU_ASSERT_EQUAL(agenda_count(comm, "district", cid, "waiting"), 0);
    act(field, cid, "start_follow_up", "{}", "");
    /* follow_up moves on only by resolve, a committee action */
    CU_ASSERT_EQUAL(agenda_count(comm, "district", cid, "waiting"), 1);
    CU_ASSERT_EQUAL(agenda_count(comm, "province", cid, "waiting"), 1);
    lb_val_t *r = call(comm, "report.agenda", "{'area':'6501','level':'ministry'}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
}

/*
 * case.merge (9.18) raises the dropped case's record ids above the kept
 * case's: its open pledge is delivered in the kept case under the new id,
 * the ledger counts it once, and admin.verify follows the renumbering.
 */
static void test_merge_renumbers_pledges(void)
{
    char keep[LB_CASE_ID_MAX], drop[LB_CASE_ID_MAX];
    open_assisting("65010106", keep); /* visit: record 1 */
    act(field, keep, "add_note", "{'note':'kept'}", "");
    open_assisting("65010106", drop);
    int64_t pid = act(field, drop, "record_assistance",
                      "{'agency':'merge-agency','dimension':'income','kind':'cash',"
                      "'amount_thb':700,'status':'pledged'}",
                      "");
    CU_ASSERT_EQUAL_FATAL(pid, 2);
    lb_val_t *row = ledger_row(comm, "6501", "agency", "merge-agency");
    CU_ASSERT(tval_match(row, "{'pledged':1,'open':1}"));
    lb_val_free(&row);

    char args[256];
    snprintf(args, sizeof args, "{'keep':'%s','drop':'%s'}", keep, drop);
    lb_val_t *r = call(comm, "case.merge", args);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    CU_ASSERT(tval_match(lbc_reply_result(r), "{'records':2,'id_offset':2}"));
    lb_val_free(&r);
    /* counted once: in the kept case, not in the closed duplicate too */
    row = ledger_row(comm, "6501", "agency", "merge-agency");
    CU_ASSERT(tval_match(row, "{'pledged':1,'open':1,'delivered':0}"));
    lb_val_free(&row);

    char data[512];
    /* the old id is keep's note now */
    snprintf(data, sizeof data,
             "{'agency':'merge-agency','dimension':'income','kind':'cash','status':'delivered',"
             "'pledge':%lld}",
             (long long)pid);
    act(comm, keep, "record_assistance", data, "guard_failed");
    snprintf(data, sizeof data,
             "{'agency':'merge-agency','dimension':'income','kind':'cash','amount_thb':700,"
             "'status':'delivered','pledge':%lld}",
             (long long)pid + 2);
    CU_ASSERT_EQUAL(act(comm, keep, "record_assistance", data, ""), 5);
    row = ledger_row(comm, "6501", "agency", "merge-agency");
    CU_ASSERT(tval_match(row, "{'pledged':1,'open':0,'delivered':1,'delivered_thb':700.0}"));
    lb_val_free(&row);
    /* the pledge's timer moved with it and went with its delivery */
    lb_val_t *a = tvalf("{'case_id':'%s'}", keep);
    r = trust_call(&D, NULL, "case.get", a);
    const lb_val_t *timers = lb_map_get(lbc_reply_result(r), "timers");
    int pledge_timers = 0;
    for (uint32_t i = 0; timers && i < timers->a.n; i++) {
        const char *kind = lb_map_str(timers->a.items[i], "kind");
        pledge_timers += kind && strcmp(kind, "pledge") == 0;
    }
    CU_ASSERT_EQUAL(pledge_timers, 0);
    lb_val_free(&r);
    lb_val_free(&a);
    verify_ok();
}

int main(void)
{
    static const cu_test_t tests[] = {
        {"pledge and delivery", test_pledge_and_delivery},
        {"ledger scope and retry", test_ledger_scope_and_retry},
        {"pledge overdue escalates", test_pledge_overdue_escalates},
        {"decision due", test_decision_due},
        {"waiting state on agenda", test_waiting_state_on_agenda},
        {"a merged case's pledge is delivered under its new id", test_merge_renumbers_pledges},
    };
    return cu_run("ledger", suite_init, suite_clean, tests, CU_COUNT(tests));
}
