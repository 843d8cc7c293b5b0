/*
 * requests.c - test_daemon: CURVE admission, case.open/get/find, bad requests, transitions,
 * idempotent retries, the event stream.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_test.h"

/* ---- tests ---- */

void test_ping_over_curve(void)
{
    lb_val_t *r = testd_call(&D, "ping", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_TRUE(lbc_reply_ok(r));
    CU_ASSERT_STRING_EQUAL(result_str(r, "version"), "0.1.0");
    CU_ASSERT_TRUE(result_int(r, "uptime_s") >= 0);
    CU_ASSERT_TRUE(result_int(r, "last_seq") >= 0);
    lb_val_free(&r);
    /* key files as generated on first start, secrets 0600 */
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/keys/admin.key_secret", D.data);
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/keys/server.key_secret", D.data);
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/keys/pii.key", D.data);
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
}

void test_unknown_key_gets_no_answer(void)
{
    char pub[41], secret[400];
    CU_ASSERT_EQUAL_FATAL(testd_keygen(&D, "stranger", pub, secret, sizeof secret), 0);
    lbc_t *c = testd_client(&D, secret, 300, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *r = NULL;
    char err[256];
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &r, err, sizeof err), LB_EUNAVAIL);
    CU_ASSERT_PTR_NULL(r);
    lbc_destroy(&c);
}

void test_plain_client_gets_no_answer(void)
{
    lbc_opts_t o;
    lbc_opts_init(&o);
    o.endpoint = D.req_ep;
    o.timeout_ms = 300;
    o.retries = 0;
    lbc_t *c = NULL;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    lb_val_t *r = NULL;
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &r, err, sizeof err), LB_EUNAVAIL);
    lbc_destroy(&c);
}

void test_open_get_conflict(void)
{
    unsigned long house = next_house++;
    lb_val_t *a = open_args(house, AREA);
    lb_val_t *h = lb_map_get(a, "household");
    lb_map_set_str(h, "head", "สมชาย ใจดี");
    lb_val_t *members = lb_arr();
    lb_val_t *m = lb_map();
    char nid[14];
    testd_nid(123456789012ULL, nid);
    lb_map_set_str(m, "nid", nid);
    lb_map_set_str(m, "name", "สมหญิง ใจดี");
    lb_arr_push(members, m);
    lb_map_set(h, "members", members);
    lb_val_t *dep = lb_arr();
    lb_arr_push(dep, lb_str("bmn22"));
    lb_arr_push(dep, lb_str("bmn8"));
    lb_map_set(h, "deprived", dep);
    lb_val_t *r = testd_call(&D, "case.open", a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    char cid[LB_CASE_ID_MAX];
    snprintf(cid, sizeof cid, "%s", result_str(r, "case_id"));
    CU_ASSERT_STRING_EQUAL(result_str(r, "state"), "identified");
    int64_t open_seq = result_int(r, "seq");
    CU_ASSERT_TRUE(open_seq > 0);
    lb_val_free(&r);

    r = get_case(&D, cid);
    CU_ASSERT_EQUAL(result_int(r, "last_seq"), open_seq);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    const lb_val_t *c = lbc_reply_result(r);
    CU_ASSERT_STRING_EQUAL(lb_map_str(c, "state"), "identified");
    CU_ASSERT_STRING_EQUAL(lb_map_str(c, "area"), AREA);
    CU_ASSERT_STRING_EQUAL(lb_map_str(c, "source"), "tpmap");
    const lb_val_t *hh = lb_map_get(c, "household");
    CU_ASSERT_PTR_NOT_NULL_FATAL(hh);
    CU_ASSERT_STRING_EQUAL(lb_map_str(hh, "head"), "สมชาย ใจดี");
    const lb_val_t *needs = lb_map_get(c, "needs");
    CU_ASSERT_EQUAL(needs->a.n, 2);
    const lb_val_t *timers = lb_map_get(c, "timers");
    CU_ASSERT_TRUE(timers && timers->a.n >= 1);
    lb_val_free(&r);

    /* the same household again: conflict naming the open case */
    r = testd_call(&D, "case.open", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "conflict");
    const lb_val_t *e = lb_map_get(r, "error");
    CU_ASSERT_STRING_EQUAL(lb_map_str(e, "case_id"), cid);
    lb_val_free(&r);
    lb_val_free(&a);

    /* find by house and by national id */
    a = args_new();
    char hid[12];
    snprintf(hid, sizeof hid, "%011lu", house);
    lb_map_set_str(a, "house_id", hid);
    r = testd_call(&D, "case.find", a);
    const lb_val_t *cases = lb_map_get(lbc_reply_result(r), "cases");
    CU_ASSERT_TRUE_FATAL(cases && cases->a.n == 1);
    CU_ASSERT_STRING_EQUAL(cases->a.items[0]->s.p, cid);
    lb_val_free(&r);
    lb_val_free(&a);
    a = args_new();
    lb_map_set_str(a, "nid", nid);
    r = testd_call(&D, "case.find", a);
    cases = lb_map_get(lbc_reply_result(r), "cases");
    CU_ASSERT_TRUE_FATAL(cases && cases->a.n == 1);
    lb_val_free(&r);
    lb_val_free(&a);
}

void test_bad_requests(void)
{
    lb_buf_t b = {0};
    /* unknown op */
    lb_val_t *doc = request_doc("r1", 1, "case.explode", NULL);
    proto_pack(doc, &b);
    lb_val_t *r = testd_raw(&D, b.p, b.len, 3000);
    CU_ASSERT_STRING_EQUAL(reply_code(r), "unknown_op");
    CU_ASSERT_STRING_EQUAL(lb_map_str(r, "id"), "r1");
    lb_val_free(&r);
    lb_val_free(&doc);
    /* bad version */
    b.len = 0;
    doc = request_doc("r2", 2, "ping", NULL);
    proto_pack(doc, &b);
    r = testd_raw(&D, b.p, b.len, 3000);
    CU_ASSERT_STRING_EQUAL(reply_code(r), "bad_version");
    lb_val_free(&r);
    lb_val_free(&doc);
    /* not msgpack */
    r = testd_raw(&D, "\xc1garbage", 8, 3000);
    CU_ASSERT_STRING_EQUAL(reply_code(r), "bad_request");
    CU_ASSERT_STRING_EQUAL(lb_map_str(r, "id"), "");
    lb_val_free(&r);
    /* unknown argument is named */
    b.len = 0;
    lb_val_t *args = lb_map();
    lb_map_set_str(args, "case_id", "C000000001");
    lb_map_set_str(args, "colour", "blue");
    doc = request_doc("r3", 1, "case.get", args);
    proto_pack(doc, &b);
    r = testd_raw(&D, b.p, b.len, 3000);
    CU_ASSERT_STRING_EQUAL(reply_code(r), "bad_request");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(r, "error"), "field"), "colour");
    lb_val_free(&r);
    lb_val_free(&doc);
    /* malformed house id */
    lb_val_t *a = open_args(1, AREA);
    lb_map_set_str(lb_map_get(a, "household"), "house_id", "12345");
    r = testd_call(&D, "case.open", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    lb_val_free(&a);
    /* indicator not in the catalog */
    a = open_args(next_house++, AREA);
    lb_val_t *dep = lb_arr();
    lb_arr_push(dep, lb_str("bmn99"));
    lb_map_set(lb_map_get(a, "household"), "deprived", dep);
    r = testd_call(&D, "case.open", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    lb_val_free(&a);
    /* unknown workflow, missing case */
    a = open_args(next_house++, AREA);
    lb_map_set_str(a, "workflow", "no-such-flow");
    r = testd_call(&D, "case.open", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "not_found");
    lb_val_free(&r);
    lb_val_free(&a);
    r = get_case(&D, "C999999999");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "not_found");
    lb_val_free(&r);
    /* too many households in one import */
    a = args_new();
    lb_val_t *hs = lb_arr();
    for (int i = 0; i < 10001; i++)
        lb_arr_push(hs, testd_household(1, AREA));
    lb_map_set(a, "households", hs);
    r = testd_call(&D, "case.import", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "too_large");
    lb_val_free(&r);
    lb_val_free(&a);
    lb_buf_free(&b);
}

void test_transitions_and_errors(void)
{
    char cid[LB_CASE_ID_MAX];
    open_case(&D, AREA, cid);
    CU_ASSERT_FATAL(cid[0] != '\0');
    /* require: team */
    lb_val_t *r = act(&D, cid, "schedule_visit", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "guard_failed");
    lb_val_free(&r);
    /* not allowed from identified */
    r = act(&D, cid, "resolve", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "invalid_transition");
    lb_val_free(&r);
    r = act(&D, cid, "schedule_visit", team_data("team-a"));
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    CU_ASSERT_STRING_EQUAL(result_str(r, "state"), "visit_scheduled");
    lb_val_free(&r);
    /* expect_state guards a stale view */
    lb_val_t *a = args_new();
    lb_map_set_str(a, "case_id", cid);
    lb_map_set_str(a, "action", "add_note");
    lb_map_set_str(a, "expect_state", "identified");
    lb_val_t *note = lb_map();
    lb_map_set_str(note, "note", "เยี่ยมบ้านแล้ว");
    lb_map_set(a, "data", note);
    r = testd_call(&D, "case.act", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "conflict");
    lb_val_free(&r);
    /* at more than 5 minutes ahead */
    lb_map_set_str(a, "expect_state", "visit_scheduled");
    lb_val_t *p = testd_call(&D, "admin.stats", NULL);
    int64_t now = result_int(p, "now");
    lb_val_free(&p);
    lb_map_set_int(a, "at", now + 10 * 60 * 1000);
    r = testd_call(&D, "case.act", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    /* a wrong clock (two years back) is refused; days in the past is fine (offline teams) */
    lb_map_set_int(a, "at", now - 2 * 365LL * 24 * 3600 * 1000);
    r = testd_call(&D, "case.act", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    lb_map_set_int(a, "at", now - 3LL * 24 * 3600 * 1000);
    r = testd_call(&D, "case.act", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
    /* a visit with findings */
    lb_val_t *visit = lb_map();
    lb_val_t *findings = lb_map();
    lb_val_t *inc = lb_arr();
    lb_arr_push(inc, lb_str("bmn22"));
    lb_map_set(findings, "income", inc);
    lb_map_set(visit, "findings", findings);
    r = act(&D, cid, "record_visit", visit);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    CU_ASSERT_STRING_EQUAL(result_str(r, "state"), "visited");
    lb_val_free(&r);
    /* indicator under the wrong dimension */
    r = get_case(&D, cid);
    const lb_val_t *visits = lb_map_get(lbc_reply_result(r), "visits");
    CU_ASSERT_TRUE(visits && visits->a.n == 1);
    int64_t last = result_int(r, "last_seq");
    lb_val_free(&r);
    /* the case's history: its own events, in seq order, ending at last_seq */
    a = args_new();
    lb_map_set_str(a, "case_id", cid);
    r = testd_call(&D, "case.history", a);
    const lb_val_t *evs = lb_map_get(lbc_reply_result(r), "events");
    CU_ASSERT_TRUE_FATAL(evs && evs->a.n == 4); /* opened, schedule_visit, add_note, record_visit */
    int64_t prev = 0, first = 0, seq = 0;
    for (uint32_t i = 0; i < evs->a.n; i++) {
        CU_ASSERT_STRING_EQUAL(lb_map_str(evs->a.items[i], "case_id"), cid);
        CU_ASSERT_PTR_NULL(lb_map_get(evs->a.items[i], "chain"));
        lb_map_int(evs->a.items[i], "seq", &seq);
        CU_ASSERT_TRUE(seq > prev);
        if (i == 0)
            first = seq;
        prev = seq;
    }
    CU_ASSERT_EQUAL(seq, last);
    lb_val_free(&r);
    lb_map_set_int(a, "after_seq", first);
    lb_map_set_int(a, "limit", 2);
    r = testd_call(&D, "case.history", a);
    evs = lb_map_get(lbc_reply_result(r), "events");
    CU_ASSERT_TRUE_FATAL(evs && evs->a.n == 2);
    lb_map_int(evs->a.items[0], "seq", &seq);
    CU_ASSERT_TRUE(seq > first);
    lb_val_free(&r);
    lb_val_free(&a);
}

void test_idempotent_retry(void)
{
    char cid[LB_CASE_ID_MAX];
    open_case(&D, AREA, cid);
    lb_val_t *p = testd_call(&D, "ping", NULL);
    int64_t seq0 = result_int(p, "last_seq");
    lb_val_free(&p);
    lb_val_t *a = args_new();
    lb_map_set_str(a, "case_id", cid);
    lb_map_set_str(a, "action", "schedule_visit");
    lb_map_set(a, "data", team_data("team-x"));
    lb_val_t *r1 = NULL, *r2 = NULL;
    char err[256];
    CU_ASSERT_EQUAL(lbc_call_id(D.admin, "same-id-1", "case.act", a, &r1, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_call_id(D.admin, "same-id-1", "case.act", a, &r2, err, sizeof err), 0);
    CU_ASSERT_TRUE(lbc_reply_ok(r1));
    CU_ASSERT_TRUE(lb_val_equal(r1, r2));
    p = testd_call(&D, "ping", NULL);
    CU_ASSERT_EQUAL(result_int(p, "last_seq"), seq0 + 1); /* one event, not two */
    lb_val_free(&p);
    lb_val_free(&r1);
    lb_val_free(&r2);
    lb_val_free(&a);
}

void test_events_contiguous_and_since(void)
{
    lbc_sub_opts_t so = {.endpoint = D.ev_ep, .after_seq = LBC_SEQ_NOW};
    lbc_sub_t *sub = NULL;
    char err[256];
    lb_val_t *p = testd_call(&D, "ping", NULL);
    uint64_t start = (uint64_t)result_int(p, "last_seq");
    lb_val_free(&p);
    so.after_seq = start;
    CU_ASSERT_EQUAL_FATAL(lbc_sub_open(D.admin, &so, &sub, err, sizeof err), 0);
    char cid[LB_CASE_ID_MAX];
    for (int i = 0; i < 5; i++)
        open_case(&D, AREA, cid);
    lb_val_t *r = act(&D, cid, "schedule_visit", team_data("t"));
    lb_val_free(&r);
    uint64_t expect = start + 1;
    lb_buf_t raw = {0};
    for (int i = 0; i < 6; i++) {
        uint64_t seq = 0;
        lb_val_t *body = NULL;
        raw.len = 0;
        CU_ASSERT_EQUAL_FATAL(lbc_sub_next(sub, 5000, &seq, &body, &raw, err, sizeof err), 0);
        CU_ASSERT_EQUAL(seq, expect);
        expect++;
        int64_t v;
        CU_ASSERT_EQUAL(lb_map_int(body, "v", &v), 0);
        CU_ASSERT_PTR_NOT_NULL(lb_map_get(body, "chain"));
        CU_ASSERT_PTR_NULL(lb_map_get(body, "household"));
        if (i == 5) {
            CU_ASSERT_STRING_EQUAL(lb_map_str(body, "kind"), "case");
            CU_ASSERT_STRING_EQUAL(lb_map_str(body, "from"), "identified");
            CU_ASSERT_STRING_EQUAL(lb_map_str(body, "to"), "visit_scheduled");
            /* events.since returns the same bytes that were published */
            lb_val_t *a = args_new();
            lb_map_set_int(a, "seq", (int64_t)seq - 1);
            lb_map_set_int(a, "limit", 1);
            lb_val_t *s = testd_call(&D, "events.since", a);
            const lb_val_t *evs = lb_map_get(lbc_reply_result(s), "events");
            CU_ASSERT_TRUE_FATAL(evs && evs->a.n == 1);
            lb_buf_t again = {0};
            proto_pack(evs->a.items[0], &again);
            CU_ASSERT_EQUAL(again.len, raw.len);
            CU_ASSERT_TRUE(again.len == raw.len && memcmp(again.p, raw.p, raw.len) == 0);
            lb_buf_free(&again);
            lb_val_free(&s);
            lb_val_free(&a);
        }
        lb_val_free(&body);
    }
    lb_buf_free(&raw);
    lbc_sub_destroy(&sub);
}
