/*
 * test_casework.c - PROTOCOL.md 9.17 against a real logbookd: case.transfer
 * (scopes, the clock started again, one event under both areas' topics, both
 * areas' counters), case.reassign (expect_count, scope, one event per case)
 * and admin.remap (slices resumed across a restart), each with idempotent
 * retries and admin.verify still ok afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"
#include "../lib/cu.h"
#include "../lib/testd.h"
#include "../lib/trust.h"
#include "../lib/tval.h"

static testd_t D;
/* committees of 6501 (events), 6601 and all areas (events), a field key of 6501 */
static char c6501[400], c6601[400], national[400], f6501[400];

#define DAY_MS (24LL * 3600 * 1000)

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o))
        return -1;
    char p[4][41], yaml[2048];
    if (testd_keygen(&D, "c6501", p[0], c6501, sizeof c6501) ||
        testd_keygen(&D, "c6601", p[1], c6601, sizeof c6601) ||
        testd_keygen(&D, "national", p[2], national, sizeof national) ||
        testd_keygen(&D, "f6501", p[3], f6501, sizeof f6501))
        return -1;
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: c6501, public_key: \"%s\", role: committee, areas: [\"6501\"], "
             "events: true }\n"
             "  - { name: c6601, public_key: \"%s\", role: committee, areas: [\"6601\"] }\n"
             "  - { name: national, public_key: \"%s\", role: committee, areas: [\"*\"], "
             "events: true }\n"
             "  - { name: f6501, public_key: \"%s\", role: field, areas: [\"6501\"] }\n",
             p[0], p[1], p[2], p[3]);
    return testd_set_clients(&D, yaml);
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static void teardown(void)
{
    tval_tmp_free();
}

/* ---- helpers ---- */

/* op with args written as text, as cert (NULL = admin). The reply is the caller's. */
static lb_val_t *call(const char *cert, const char *op, const char *args)
{
    return trust_call(&D, cert, op, args ? tval_tmp(args) : NULL);
}

/* The same request id sent twice by one key: both replies (the caller's). */
static void call_twice(const char *cert, const char *id, const char *op, const char *args,
                       lb_val_t **first, lb_val_t **second)
{
    lbc_t *c = trust_client(&D, cert, 5000);
    char err[256];
    *first = *second = NULL;
    if (!c)
        return;
    lbc_call_id(c, id, op, tval_tmp(args), first, err, sizeof err);
    lbc_call_id(c, id, op, tval_tmp(args), second, err, sizeof err);
    lbc_destroy(&c);
}

/* Opens a case for house n in area with team (NULL: none); its id in out. */
static void open_case(unsigned long n, const char *area, const char *team, char out[32])
{
    char args[256];
    if (team)
        snprintf(args, sizeof args, "{'household':{'house_id':'%011lu','area':'%s'},'team':'%s'}",
                 n, area, team);
    else
        snprintf(args, sizeof args, "{'household':{'house_id':'%011lu','area':'%s'}}", n, area);
    lb_val_t *r = call(NULL, "case.open", args);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    snprintf(out, 32, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&r);
}

static lb_val_t *get_case(const char *cert, const char *cid)
{
    char args[256];
    snprintf(args, sizeof args, "{'case_id':'%s'}", cid);
    return call(cert, "case.get", args);
}

static void assert_verify_ok(void)
{
    lb_val_t *r = call(NULL, "admin.verify", NULL);
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'ok':true}}"));
    lb_val_free(&r);
}

/* events.since after seq as cert (NULL = admin): the reply (the caller's); *ev its events. */
static lb_val_t *events_after(const char *cert, int64_t seq, const lb_val_t **ev)
{
    char args[64];
    snprintf(args, sizeof args, "{'seq':%lld}", (long long)seq);
    lb_val_t *r = call(cert, "events.since", args);
    static const lb_val_t none = {.type = LB_ARR};
    const lb_val_t *v = lb_map_get(lbc_reply_result(r), "events");
    *ev = v && v->type == LB_ARR ? v : &none;
    return r;
}

/* Waits for a heartbeat: the subscription is live. */
static bool sub_ready(trust_sub_t *s)
{
    int64_t end = trust_ms() + 5000;
    while (trust_ms() < end) {
        char topic[64];
        if (trust_sub_recv(s, 500, topic, sizeof topic, NULL, NULL) == 1 &&
            strcmp(topic, "hb") == 0)
            return true;
    }
    return false;
}

/* Reads s until n events of case cid arrived (5 s at most); their topics, joined by ' '. */
static int sub_topics(trust_sub_t *s, const char *cid, int n, char *out, size_t outlen,
                      int64_t *seq)
{
    int got = 0;
    out[0] = '\0';
    int64_t end = trust_ms() + 5000;
    while (got < n && trust_ms() < end) {
        char topic[64];
        lb_val_t *b = NULL;
        if (trust_sub_event(s, (int)(end - trust_ms()), topic, sizeof topic, &b) != 1)
            break;
        if (strcmp(lb_map_str(b, "case_id") ?: "", cid) == 0 &&
            strcmp(lb_map_str(b, "type") ?: "", "transferred") == 0) {
            size_t len = strlen(out);
            snprintf(out + len, outlen - len, "%s%s", len ? " " : "", topic);
            lb_map_int(b, "seq", seq);
            got++;
        }
        lb_val_free(&b);
    }
    return got;
}

/* ---- case.transfer ---- */

/* Who may transfer: the source area's committee or admin; not a field key, not another area. */
static void test_transfer_scope(void)
{
    char cid[32];
    open_case(1, "65010101", NULL, cid);
    char args[160];
    snprintf(args, sizeof args, "{'case_id':'%s','to_area':'66010101','reason':'moved'}", cid);
    lb_val_t *r = call(f6501, "case.transfer", args);
    CU_ASSERT(tval_match(r, "{'ok':false,'error':{'code':'forbidden','field':'op'}}"));
    lb_val_free(&r);
    r = call(c6601, "case.transfer", args);
    CU_ASSERT(tval_match(r, "{'ok':false,'error':{'code':'forbidden','field':'case_id'}}"));
    lb_val_free(&r);
    snprintf(args, sizeof args, "{'case_id':'%s','to_area':'65010101','reason':'x'}", cid);
    r = call(c6501, "case.transfer", args);
    CU_ASSERT(tval_match(r, "{'ok':false,'error':{'code':'conflict','field':'to_area'}}"));
    lb_val_free(&r);
    r = call(c6501, "case.transfer", "{'case_id':'C000000001','to_area':'6601','reason':'x'}");
    CU_ASSERT(tval_match(r, "{'ok':false,'error':{'code':'bad_request','field':'to_area'}}"));
    lb_val_free(&r);
    /* a closed case stays where it was closed */
    snprintf(args, sizeof args, "{'case_id':'%s','action':'close','data':{'reason':'moved'}}", cid);
    r = call(NULL, "case.act", args);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    snprintf(args, sizeof args, "{'case_id':'%s','to_area':'66010101','reason':'moved'}", cid);
    r = call(c6501, "case.transfer", args);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "invalid_transition");
    lb_val_free(&r);
}

/* The transfer itself: counters, team, clock, sight, events, retry, verify. */
static void test_transfer(void)
{
    char cid[32], args[200];
    open_case(2, "65010102", "team-a", cid);
    trust_advance(&D, 8 * 24 * 3600); /* step 0 (7d, team) fires: the case is overdue */
    lb_val_t *r = get_case(NULL, cid);
    CU_ASSERT(tval_match(r, "{'result':{'overdue':true,'team':'team-a'}}"));
    lb_val_free(&r);
    int64_t cases65 = trust_total(&D, "6501", "village", "cases"),
            open65 = trust_total(&D, "6501", "village", "open");
    int64_t over65 = trust_total(&D, "6501", "village", "overdue"),
            cases66 = trust_total(&D, "6601", "village", "cases");
    CU_ASSERT(cases65 >= 1 && over65 >= 1);

    trust_sub_t s65, snat;
    CU_ASSERT_FATAL(trust_sub_open(&D, c6501, &s65) == 0);
    CU_ASSERT_FATAL(trust_sub_open(&D, national, &snat) == 0);
    CU_ASSERT(sub_ready(&s65) && sub_ready(&snat));

    int64_t now = trust_advance(&D, 0);
    snprintf(args, sizeof args,
             "{'case_id':'%s','to_area':'66010203','reason':'moved to her daughter'}", cid);
    lb_val_t *r2;
    call_twice(c6501, "transfer-1", "case.transfer", args, &r, &r2);
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'area':'66010203','from_area':'65010102',"
                            "'visible':false}}"));
    /* the retry is the stored reply: the same seq, nothing new */
    CU_ASSERT(r && r2 && lb_val_equal(r, r2));
    int64_t seq = trust_result_int(r, "seq", -1);
    CU_ASSERT_EQUAL(trust_last_seq(&D), seq);
    lb_val_free(&r);
    lb_val_free(&r2);

    /* both areas' counters moved */
    CU_ASSERT_EQUAL(trust_total(&D, "6501", "village", "cases"), cases65 - 1);
    CU_ASSERT_EQUAL(trust_total(&D, "6501", "village", "open"), open65 - 1);
    CU_ASSERT_EQUAL(trust_total(&D, "6501", "village", "overdue"), over65 - 1);
    CU_ASSERT_EQUAL(trust_total(&D, "6601", "village", "cases"), cases66 + 1);
    CU_ASSERT_EQUAL(trust_total(&D, "6601", "village", "overdue"), 0);

    /* the requester lost sight; the new area sees it, without team, its clock started again */
    r = get_case(c6501, cid);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = get_case(c6601, cid);
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'area':'66010203','overdue':false}}"));
    const lb_val_t *res = lbc_reply_result(r);
    CU_ASSERT_PTR_NULL(lb_map_get(res, "team"));
    const lb_val_t *timers = lb_map_get(res, "timers");
    int64_t due = -1;
    CU_ASSERT_FATAL(timers && timers->type == LB_ARR && timers->a.n == 3);
    lb_map_int(timers->a.items[0], "due", &due);
    CU_ASSERT_EQUAL(due, now + 7 * DAY_MS);
    lb_val_free(&r);

    /* one stored event; published under both areas' topics */
    char topics[256];
    int64_t got_seq = -1;
    CU_ASSERT_EQUAL(sub_topics(&s65, cid, 1, topics, sizeof topics, &got_seq), 1);
    CU_ASSERT_STRING_EQUAL(topics, "case.65010102");
    CU_ASSERT_EQUAL(got_seq, seq);
    CU_ASSERT_EQUAL(sub_topics(&snat, cid, 2, topics, sizeof topics, &got_seq), 2);
    CU_ASSERT_STRING_EQUAL(topics, "case.66010203 case.65010102");
    trust_sub_close(&s65);
    trust_sub_close(&snat);
    const lb_val_t *ev;
    lb_val_t *er = events_after(NULL, seq - 1, &ev);
    CU_ASSERT_FATAL(ev->a.n == 1);
    CU_ASSERT(tval_match(ev->a.items[0],
                         "{'kind':'case','type':'transferred','area':'66010203','actor':'c6501',"
                         "'data':{'from_area':'65010102','to_area':'66010203','from_team':"
                         "'team-a','note':'moved to her daughter'}}"));
    lb_val_free(&er);
    /* the old area's events.since still shows it the case left */
    er = events_after(c6501, seq - 1, &ev);
    CU_ASSERT_EQUAL(ev->a.n, 1);
    lb_val_free(&er);
    assert_verify_ok();
}

/* case.open of a household whose case lies elsewhere points at case.transfer. */
static void test_open_conflict_names_transfer(void)
{
    char cid[32];
    open_case(3, "66010101", NULL, cid);
    lb_val_t *r =
        call(f6501, "case.open", "{'household':{'house_id':'00000000003','area':'65010101'}}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "conflict");
    CU_ASSERT_PTR_NOT_NULL(strstr(trust_msg(r), "case.transfer"));
    CU_ASSERT_PTR_NULL(strstr(trust_msg(r), cid));
    lb_val_free(&r);
}

/* ---- case.reassign ---- */

static void test_reassign(void)
{
    char ids[6][32], args[256];
    open_case(101, "65010201", "old", ids[0]);
    open_case(102, "65010202", "old", ids[1]);
    open_case(103, "65010203", "old", ids[2]);
    open_case(104, "65010204", "other", ids[3]);
    open_case(105, "65010205", "old", ids[4]); /* closed below: not moved */
    open_case(106, "66010206", "old", ids[5]); /* outside the requester's scope */
    snprintf(args, sizeof args, "{'case_id':'%s','action':'close','data':{'reason':'refused'}}",
             ids[4]);
    lb_val_t *r = call(NULL, "case.act", args);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    int64_t cases = trust_total(&D, "6501", "village", "cases");

    r = call(f6501, "case.reassign", "{'filter':{'team':'old'},'to_team':'new'}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = call(c6501, "case.reassign", "{'filter':{'area':'66'},'to_team':'new'}");
    CU_ASSERT(tval_match(r, "{'ok':false,'error':{'code':'forbidden','field':'filter.area'}}"));
    lb_val_free(&r);
    r = call(c6501, "case.reassign", "{'filter':{'team':'old','shade':1},'to_team':'new'}");
    CU_ASSERT(tval_match(r, "{'ok':false,'error':{'code':'bad_request','field':'filter.shade'}}"));
    lb_val_free(&r);

    /* a count that differs: conflict, and nothing changed */
    int64_t before = trust_last_seq(&D);
    r = call(c6501, "case.reassign", "{'filter':{'team':'old'},'to_team':'new','expect_count':2}");
    CU_ASSERT(tval_match(r, "{'ok':false,'error':{'code':'conflict','field':'expect_count'}}"));
    lb_val_free(&r);
    CU_ASSERT_EQUAL(trust_last_seq(&D), before);

    lb_val_t *r2;
    call_twice(c6501, "reassign-1", "case.reassign",
               "{'filter':{'team':'old'},'to_team':'new','expect_count':3}", &r, &r2);
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'matched':3,'reassigned':3,'unchanged':0,"
                            "'errors':[]}}"));
    CU_ASSERT(r && r2 && lb_val_equal(r, r2));
    const lb_val_t *done = lb_map_get(lbc_reply_result(r), "cases");
    CU_ASSERT_FATAL(done && done->type == LB_ARR && done->a.n == 3);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_STRING_EQUAL(lb_map_str(done->a.items[i], "case_id") ?: "", ids[i]);
    CU_ASSERT(tval_match(done->a.items[0], "{'from_team':'old'}"));
    lb_val_free(&r);
    lb_val_free(&r2);
    CU_ASSERT_EQUAL(trust_last_seq(&D), before + 3);

    /* one event per case, on its own area's topic */
    const lb_val_t *ev;
    lb_val_t *er = events_after(NULL, before, &ev);
    CU_ASSERT_FATAL(ev->a.n == 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(tval_match(ev->a.items[i], "{'kind':'case','type':'reassigned','actor':'c6501',"
                                             "'data':{'from_team':'old','to_team':'new'}}"));
        CU_ASSERT_STRING_EQUAL(lb_map_str(ev->a.items[i], "case_id") ?: "", ids[i]);
    }
    lb_val_free(&er);
    /* untouched: another team, a closed case, another area */
    const char *kept[] = {"other", "old", "old"};
    for (int i = 3; i < 6; i++) {
        r = get_case(NULL, ids[i]);
        CU_ASSERT_STRING_EQUAL(lb_map_str(lbc_reply_result(r), "team") ?: "", kept[i - 3]);
        lb_val_free(&r);
    }
    r = get_case(NULL, ids[0]);
    CU_ASSERT_STRING_EQUAL(lb_map_str(lbc_reply_result(r), "team") ?: "", "new");
    lb_val_free(&r);

    /* a second run of the same filter finds nothing left: conflict with the old count */
    r = call(c6501, "case.reassign", "{'filter':{'team':'old'},'to_team':'new','expect_count':3}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "conflict");
    lb_val_free(&r);
    /* a case already on to_team is matched but unchanged */
    r = call(c6501, "case.reassign",
             "{'filter':{'area':'650102','state':'identified'},"
             "'to_team':'new'}");
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'matched':4,'reassigned':1,'unchanged':3}}"));
    lb_val_free(&r);
    CU_ASSERT_EQUAL(trust_total(&D, "6501", "village", "cases"), cases);
    assert_verify_ok();
}

/* ---- admin.remap ---- */

static void test_remap_refusals(void)
{
    const char *bad[] = {"{'map':{'6701':'67'}}",
                         "{'map':{'6701':'6701'}}",
                         "{'map':{'67':'68','6801':'6901'}}",
                         "{'map':{'67':'68','6701':'6901'}}",
                         "{'map':{}}",
                         "{'map':{'6x':'68'}}"};
    for (size_t i = 0; i < CU_COUNT(bad); i++) {
        lb_val_t *r = call(NULL, "admin.remap", bad[i]);
        CU_ASSERT(tval_match(r, "{'ok':false,'error':{'code':'bad_request','field':'map'}}"));
        lb_val_free(&r);
    }
    lb_val_t *r = call(national, "admin.remap", "{'map':{'67':'68'}}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
}

/* One slice of admin.remap 6701 -> 6799; its result. */
static lb_val_t *remap_slice(const char *id)
{
    lbc_t *c = trust_client(&D, NULL, 5000);
    lb_val_t *r = NULL;
    char err[256];
    if (c)
        lbc_call_id(c, id, "admin.remap", tval_tmp("{'map':{'6701':'6799'},'limit':2}"), &r, err,
                    sizeof err);
    lbc_destroy(&c);
    return r;
}

static void test_remap_resumed(void)
{
    char ids[6][32];
    for (int i = 0; i < 5; i++) {
        char area[24];
        snprintf(area, sizeof area, "670101%02d", i + 1);
        open_case(201 + (unsigned long)i, area, "t", ids[i]);
    }
    open_case(206, "67020101", NULL, ids[5]);
    int64_t before = trust_last_seq(&D), c6702 = trust_total(&D, "6702", "village", "cases");
    CU_ASSERT_EQUAL(trust_total(&D, "6701", "village", "cases"), 5);

    lb_val_t *r = remap_slice("remap-1");
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'moved':2,'remaining':3,'done':false}}"));
    lb_val_free(&r);
    /* resumed after a restart: the next call goes on from what the first committed */
    CU_ASSERT_EQUAL_FATAL(testd_stop(&D), 0);
    CU_ASSERT_EQUAL_FATAL(testd_restart(&D), 0);
    r = remap_slice("remap-1"); /* a retry of the first call: its stored reply */
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'moved':2,'remaining':3,'done':false}}"));
    lb_val_free(&r);
    CU_ASSERT_EQUAL(trust_last_seq(&D), before + 2);
    r = remap_slice("remap-2");
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'moved':2,'remaining':1,'done':false}}"));
    lb_val_free(&r);
    r = remap_slice("remap-3");
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'moved':1,'remaining':0,'done':true}}"));
    lb_val_free(&r);
    r = remap_slice("remap-4");
    CU_ASSERT(tval_match(r, "{'ok':true,'result':{'moved':0,'remaining':0,'done':true}}"));
    lb_val_free(&r);

    CU_ASSERT_EQUAL(trust_total(&D, "6701", "village", "cases"), 0);
    CU_ASSERT_EQUAL(trust_total(&D, "6799", "village", "cases"), 5);
    CU_ASSERT_EQUAL(trust_total(&D, "6799", "village", "open"), 5);
    CU_ASSERT_EQUAL(trust_total(&D, "6702", "village", "cases"), c6702);
    for (int i = 0; i < 5; i++) {
        char want[80];
        snprintf(want, sizeof want, "{'result':{'area':'679901%02d','team':'t'}}", i + 1);
        r = get_case(NULL, ids[i]);
        CU_ASSERT(tval_match(r, want));
        lb_val_free(&r);
    }
    /* case.list shows the new area too (its summary was kept when only the area changed) */
    r = call(NULL, "case.list", "{'area':'6799'}");
    const lb_val_t *items = lb_map_get(lb_map_get(r, "result"), "cases");
    CU_ASSERT_FATAL(items && items->type == LB_ARR && items->a.n == 5);
    for (uint32_t i = 0; i < items->a.n; i++) {
        const char *area = lb_map_str(items->a.items[i], "area");
        CU_ASSERT(area && strncmp(area, "6799", 4) == 0);
    }
    lb_val_free(&r);
    /* one event per case */
    const lb_val_t *ev;
    lb_val_t *er = events_after(NULL, before, &ev);
    CU_ASSERT_FATAL(ev->a.n == 5);
    for (uint32_t i = 0; i < 5; i++)
        CU_ASSERT(tval_match(ev->a.items[i], "{'kind':'case','type':'remapped'}"));
    CU_ASSERT(
        tval_match(ev->a.items[0],
                   "{'area':'67990101','data':{'from_area':'67010101','to_area':'67990101'}}"));
    lb_val_free(&er);
    assert_verify_ok();
}

static const cu_test_t tests[] = {
    {"transfer: who may", test_transfer_scope},
    {"transfer: counters, clock, sight, events, retry", test_transfer},
    {"case.open conflict names case.transfer", test_open_conflict_names_transfer},
    {"reassign: expect_count, scope, events, retry", test_reassign},
    {"remap: refusals", test_remap_refusals},
    {"remap: slices resumed after a restart", test_remap_resumed},
};

int main(void)
{
    cu_suite_t s = {"casework", suite_init, suite_clean, tests, CU_COUNT(tests), NULL, teardown};
    return cu_run_suites(&s, 1);
}
