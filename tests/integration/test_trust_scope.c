/*
 * test_trust_scope.c - the Trust issue, findings 2 (cross-area claims and the
 * existence oracle), 3 (revocation reaches live subscribers), 9 (events by
 * scope) and 10 (reporters see no identities), against a real logbookd.
 *
 * Interface decisions the fixers follow (the issue leaves them open):
 *  - Cross-area: a requester whose scope does not cover the existing open
 *    case gets `conflict` with NO `case_id` key in the error and a message
 *    that contains neither that case id nor its area (nor its district).
 *  - case.import by a key whose scope covers both areas: the result gains
 *    `existing: [{index, house_id, case_id, area}]`, one entry per household
 *    skipped because it already has an open case (additive to v1's
 *    `skipped` count). A household whose existing case is outside the key's
 *    scope is listed in `errors` with code `conflict` and no case id.
 *  - Events by scope: a key with `events: true` scoped to 6501 receives on
 *    the SUB socket (subscribed to "") only events whose area starts with
 *    6501, plus `hb` heartbeats; events.since returns only its areas'
 *    events. A national key ("*") gets all.
 *  - Revocation: after a reload removes a subscribed key (or sets its
 *    events: false), its existing SUB connection receives nothing within
 *    1 s of the confirmed reload; a still-allowed subscriber gets the next
 *    event (possibly after it reconnects) or can repair with events.since.
 *  - Reporters: case.get, case.list, case.history and events.since show a
 *    pseudonym instead of house_id (not equal to it, stable across calls and
 *    ops, not 11 digits), no member birth_year, no note texts (notes[].note,
 *    visit/assist/need `note`, ack notes), no actor names (`actor`,
 *    `acked_by` absent or the fixed "redacted").
 */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "../../proto/proto.h"
#include "../lib/testd.h"
#include "../lib/trust.h"

static testd_t D;
static char f9101[400], c91[400], c9102[400], rep[400], sub6501[400], national[400];
/* the names the registry gives the keys: a reporter must never see them */
#define FIELD_NAME "field-khuan-don-secretname"
#define COMMITTEE_NAME "committee-satun-secretname"

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o))
        return -1;
    char p[6][41];
    if (testd_keygen(&D, "f9101", p[0], f9101, sizeof f9101) ||
        testd_keygen(&D, "c91", p[1], c91, sizeof c91) ||
        testd_keygen(&D, "c9102", p[2], c9102, sizeof c9102) ||
        testd_keygen(&D, "rep", p[3], rep, sizeof rep) ||
        testd_keygen(&D, "sub6501", p[4], sub6501, sizeof sub6501) ||
        testd_keygen(&D, "national", p[5], national, sizeof national))
        return -1;
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: %s, public_key: \"%s\", role: field, areas: [\"9101\", \"6501\"] }\n"
             "  - { name: %s, public_key: \"%s\", role: committee, areas: [\"91\", \"65\"] }\n"
             "  - { name: c9102, public_key: \"%s\", role: committee, areas: [\"9102\"] }\n"
             "  - { name: rep, public_key: \"%s\", role: reporter, areas: [\"*\"], events: true }\n"
             "  - { name: sub6501, public_key: \"%s\", role: committee, areas: [\"6501\"], events: "
             "true }\n"
             "  - { name: national, public_key: \"%s\", role: committee, areas: [\"*\"], events: "
             "true }\n",
             FIELD_NAME, p[0], COMMITTEE_NAME, p[1], p[2], p[3], p[4], p[5]);
    return testd_set_clients(&D, yaml);
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static lb_val_t *open_as(const char *cert, const char *house, const char *area)
{
    lb_val_t *a = lb_map(), *h = lb_map();
    lb_map_set_str(h, "house_id", house);
    lb_map_set_str(h, "area", area);
    lb_map_set(a, "household", h);
    lb_val_t *r = trust_call(&D, cert, "case.open", a);
    lb_val_free(&a);
    return r;
}

static lb_val_t *import_as(const char *cert, const char *house, const char *area)
{
    lb_val_t *a = lb_map(), *hs = lb_arr(), *h = lb_map();
    lb_map_set_str(h, "house_id", house);
    lb_map_set_str(h, "area", area);
    lb_arr_push(hs, h);
    lb_map_set(a, "households", hs);
    lb_val_t *r = trust_call(&D, cert, "case.import", a);
    lb_val_free(&a);
    return r;
}

/* 9101's field key opening a house id that has an open case in 9102 learns nothing about it. */
static void test_cross_area_conflict_reveals_nothing(void)
{
    lb_val_t *r = open_as(NULL, "55500000001", "91020101");
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    char theirs[32];
    snprintf(theirs, sizeof theirs, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&r);
    r = open_as(f9101, "55500000001", "91010101");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "conflict");
    const lb_val_t *e = lb_map_get(r, "error");
    CU_ASSERT_PTR_NULL(lb_map_get(e, "case_id"));
    const char *msg = trust_msg(r);
    CU_ASSERT_PTR_NULL(strstr(msg, theirs));
    CU_ASSERT_PTR_NULL(strstr(msg, "91020101"));
    CU_ASSERT_PTR_NULL(strstr(msg, "9102"));
    lb_val_free(&r);
    /* a committee whose scope covers the other case is told which case it is */
    r = open_as(c91, "55500000001", "91010101");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "conflict");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(r, "error"), "case_id") ?: "", theirs);
    lb_val_free(&r);
}

/* A claim made first by another district's field key is shown to the committee that imports. */
static void test_claim_first_is_visible_to_import(void)
{
    lb_val_t *r = open_as(f9101, "55500000002", "91010101"); /* the claim, in its own village */
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    char claim[32];
    snprintf(claim, sizeof claim, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&r);
    /* the committee covering both districts imports the real 9102 household */
    r = import_as(c91, "55500000002", "91020101");
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    const lb_val_t *res = lbc_reply_result(r);
    CU_ASSERT_EQUAL(trust_result_int(r, "skipped", -1), 1);
    const lb_val_t *ex = lb_map_get(res, "existing");
    CU_ASSERT_TRUE_FATAL(ex && ex->type == LB_ARR && ex->a.n == 1);
    const lb_val_t *e0 = ex->a.items[0];
    int64_t idx = -1;
    lb_map_int(e0, "index", &idx);
    CU_ASSERT_EQUAL(idx, 0);
    CU_ASSERT_STRING_EQUAL(lb_map_str(e0, "house_id") ?: "", "55500000002");
    CU_ASSERT_STRING_EQUAL(lb_map_str(e0, "case_id") ?: "", claim);
    CU_ASSERT_STRING_EQUAL(lb_map_str(e0, "area") ?: "", "91010101");
    lb_val_free(&r);
    /* the 9102 committee, which cannot see the claim: an error without case id or area */
    r = import_as(c9102, "55500000002", "91020101");
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    res = lbc_reply_result(r);
    const lb_val_t *errs = lb_map_get(res, "errors");
    CU_ASSERT_TRUE_FATAL(errs && errs->type == LB_ARR && errs->a.n == 1);
    const lb_val_t *err0 = errs->a.items[0];
    CU_ASSERT_STRING_EQUAL(lb_map_str(err0, "code") ?: "", "conflict");
    CU_ASSERT_PTR_NULL(lb_map_get(err0, "case_id"));
    const char *msg = lb_map_str(err0, "message") ?: "";
    CU_ASSERT_PTR_NULL(strstr(msg, claim));
    CU_ASSERT_PTR_NULL(strstr(msg, "91010101"));
    const lb_val_t *ex2 = lb_map_get(res, "existing");
    CU_ASSERT_TRUE(!ex2 || (ex2->type == LB_ARR && ex2->a.n == 0));
    CU_ASSERT_EQUAL(trust_result_int(r, "opened", -1), 0);
    lb_val_free(&r);
}

/* Reads events until the one for case_id (true) or the deadline; counts events outside prefix. */
static bool read_until_case(trust_sub_t *s, const char *case_id, const char *prefix, int *outside,
                            int timeout_ms)
{
    int64_t end = trust_ms() + timeout_ms;
    while (trust_ms() < end) {
        char topic[64];
        lb_val_t *b = NULL;
        if (trust_sub_event(s, (int)(end - trust_ms()), topic, sizeof topic, &b) != 1)
            return false;
        const char *area = lb_map_str(b, "area") ?: "";
        if (strncmp(area, prefix, strlen(prefix)) != 0)
            (*outside)++;
        bool hit = strcmp(lb_map_str(b, "case_id") ?: "", case_id) == 0;
        lb_val_free(&b);
        if (hit)
            return true;
    }
    return false;
}

/* A heartbeat arrived: the subscription is live. */
static bool wait_hb(trust_sub_t *s)
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

static void test_events_follow_scope(void)
{
    trust_sub_t s1, sn;
    CU_ASSERT_EQUAL_FATAL(trust_sub_open(&D, sub6501, &s1), 0);
    CU_ASSERT_EQUAL_FATAL(trust_sub_open(&D, national, &sn), 0);
    CU_ASSERT_TRUE_FATAL(wait_hb(&s1) && wait_hb(&sn));
    int64_t seq0 = trust_last_seq(&D);
    char other[32], mine[32];
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&D, NULL, 55500000010UL, "65020101", other), 0);
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&D, NULL, 55500000011UL, "65010101", mine), 0);
    int outside = 0;
    CU_ASSERT_TRUE(read_until_case(&s1, mine, "6501", &outside, 5000));
    CU_ASSERT_EQUAL(outside, 0); /* the 6502 event came first and must not have arrived */
    int64_t end = trust_ms() + 5000;
    bool saw_other = false, saw_mine = false;
    while (trust_ms() < end && !(saw_other && saw_mine)) {
        char topic[64];
        lb_val_t *b = NULL;
        if (trust_sub_event(&sn, 500, topic, sizeof topic, &b) == 1) {
            const char *cid = lb_map_str(b, "case_id") ?: "";
            saw_other |= strcmp(cid, other) == 0;
            saw_mine |= strcmp(cid, mine) == 0;
        }
        lb_val_free(&b);
    }
    CU_ASSERT_TRUE(saw_other && saw_mine); /* a national key gets all */
    trust_sub_close(&s1);
    trust_sub_close(&sn);
    /* events.since: only the key's areas for sub6501, everything for national */
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "seq", seq0);
    const char *certs[2] = {sub6501, national};
    for (int k = 0; k < 2; k++) {
        lb_val_t *r = trust_call(&D, certs[k], "events.since", a);
        CU_ASSERT_STRING_EQUAL(testd_code(r), "");
        const lb_val_t *evs = lb_map_get(lbc_reply_result(r), "events");
        int out = 0, mine_n = 0, other_n = 0;
        for (uint32_t i = 0; evs && evs->type == LB_ARR && i < evs->a.n; i++) {
            const char *area = lb_map_str(evs->a.items[i], "area") ?: "";
            const char *cid = lb_map_str(evs->a.items[i], "case_id") ?: "";
            out += strncmp(area, "6501", 4) != 0;
            mine_n += strcmp(cid, mine) == 0;
            other_n += strcmp(cid, other) == 0;
        }
        CU_ASSERT_EQUAL(mine_n, 1);
        if (k == 0) {
            CU_ASSERT_EQUAL(out, 0);
            CU_ASSERT_EQUAL(other_n, 0);
        } else {
            CU_ASSERT_EQUAL(other_n, 1);
        }
        lb_val_free(&r);
    }
    lb_val_free(&a);
}

/* A SUB socket like trust_sub_open's, subscribed to the given v1 prefixes only. */
static int sub_open_topics(const char *cert, const char *const *topics, int n, trust_sub_t *s)
{
    char server[400], err[256];
    snprintf(server, sizeof server, "%s/keys/server.key", D.data);
    lb_cert_t *ck = NULL, *sk = NULL;
    memset(s, 0, sizeof *s);
    if (lb_cert_load(cert, &ck, err, sizeof err) || lb_cert_load(server, &sk, err, sizeof err)) {
        lb_cert_destroy(&ck);
        return -1;
    }
    s->ctx = zmq_ctx_new();
    s->sock = zmq_socket(s->ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->sock, ZMQ_CURVE_SERVERKEY, sk->public_key, 32);
    zmq_setsockopt(s->sock, ZMQ_CURVE_PUBLICKEY, ck->public_key, 32);
    zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, ck->secret_key, 32);
    for (int i = 0; i < n; i++)
        zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, topics[i], strlen(topics[i]));
    int rc = zmq_connect(s->sock, D.ev_ep);
    lb_cert_destroy(&ck);
    lb_cert_destroy(&sk);
    return rc ? -1 : 0;
}

/* v1 subscriptions by prefix keep working: narrowed to a key's areas, whole for a national key. */
static void test_v1_prefixes_follow_scope(void)
{
    static const char *const topics[] = {"hb", "case.65"};
    trust_sub_t s1, sn;
    CU_ASSERT_EQUAL_FATAL(sub_open_topics(sub6501, topics, 2, &s1), 0);
    CU_ASSERT_EQUAL_FATAL(sub_open_topics(national, topics, 2, &sn), 0);
    CU_ASSERT_TRUE_FATAL(wait_hb(&s1) && wait_hb(&sn));
    char other[32], mine[32], far[32];
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&D, NULL, 55500000040UL, "91010101", far), 0);
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&D, NULL, 55500000041UL, "65020101", other), 0);
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&D, NULL, 55500000042UL, "65010101", mine), 0);
    int outside = 0;
    CU_ASSERT_TRUE(read_until_case(&s1, mine, "6501", &outside, 5000));
    CU_ASSERT_EQUAL(outside, 0);
    outside = 0;
    CU_ASSERT_TRUE(read_until_case(&sn, other, "65", &outside, 5000));
    CU_ASSERT_TRUE(read_until_case(&sn, mine, "65", &outside, 5000));
    CU_ASSERT_EQUAL(outside, 0); /* the 9101 case is not under case.65 */
    trust_sub_close(&s1);
    trust_sub_close(&sn);
}

/* ---- reporters ---- */

static char *json_of(const lb_val_t *v)
{
    lb_buf_t b = {0};
    lb_val_to_json(v, 0, &b);
    lb_buf_append(&b, "", 1);
    return (char *)b.p;
}

#define SECRET_NOTE "note-text-the-reporter-must-not-read"
#define SECRET_VISIT "visit-note-the-reporter-must-not-read"
#define SECRET_NEED "need-note-the-reporter-must-not-read"
#define SECRET_ACK "ack-note-the-reporter-must-not-read"
#define HOUSE "55500000020"

/* A json text shows no identity: house id, birth year, note texts, actor names. */
static void assert_no_identity(const char *what, const char *j)
{
    static const char *const bad[] = {HOUSE,          "birth_year", "1957",     SECRET_NOTE,
                                      SECRET_VISIT,   SECRET_NEED,  SECRET_ACK, FIELD_NAME,
                                      COMMITTEE_NAME, "\"admin\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (strstr(j, bad[i]))
            fprintf(stderr, "\n  reporter's %s shows %s\n", what, bad[i]);
        CU_ASSERT_PTR_NULL(strstr(j, bad[i]));
    }
}

static lb_val_t *act_as(const char *cert, const char *cid, const char *action, lb_val_t *data)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", cid);
    lb_map_set_str(a, "action", action);
    if (data)
        lb_map_set(a, "data", data);
    lb_val_t *r = trust_call(&D, cert, "case.act", a);
    lb_val_free(&a);
    return r;
}

/* A case with every kind of identity: head, members, birth year, notes, visit, ack. */
static int identity_case(char cid[32], int64_t *seq0)
{
    *seq0 = trust_last_seq(&D);
    lb_val_t *a = lb_map(), *h = lb_map(), *ms = lb_arr(), *m = lb_map();
    lb_map_set_str(h, "house_id", HOUSE);
    lb_map_set_str(h, "area", "65010101");
    lb_map_set_str(h, "head", "Head Secretname");
    lb_map_set_int(m, "birth_year", 1957);
    lb_map_set_str(m, "sex", "f");
    lb_arr_push(ms, m);
    lb_map_set(h, "members", ms);
    lb_map_set(a, "household", h);
    lb_val_t *r = trust_call(&D, c91, "case.open", a);
    int rc = lbc_reply_ok(r) ? 0 : -1;
    snprintf(cid, 32, "%s", lb_map_str(lbc_reply_result(r), "case_id") ?: "");
    lb_val_free(&r);
    lb_val_free(&a);
    lb_val_t *d = lb_map();
    lb_map_set_str(d, "note", SECRET_NOTE);
    r = act_as(f9101, cid, "add_note", d);
    if (!lbc_reply_ok(r))
        rc = -1;
    lb_val_free(&r);
    d = lb_map();
    lb_val_t *fi = lb_map(), *inc = lb_arr(), *needs = lb_arr(), *need = lb_map();
    lb_arr_push(inc, lb_str("bmn22"));
    lb_map_set(fi, "income", inc);
    lb_map_set(d, "findings", fi);
    lb_map_set_str(need, "dimension", "living");
    lb_map_set_str(need, "note", SECRET_NEED);
    lb_arr_push(needs, need);
    lb_map_set(d, "needs", needs);
    lb_map_set_str(d, "team", "team-x");
    lb_map_set_str(d, "note", SECRET_VISIT);
    r = act_as(f9101, cid, "record_visit", d);
    if (!lbc_reply_ok(r))
        rc = -1;
    if (!lbc_reply_ok(r))
        fprintf(stderr, "\n  record_visit: %s %s\n", testd_code(r), trust_msg(r));
    lb_val_free(&r);
    /* an escalation (visited: 14 days) acknowledged with a note */
    a = lb_map();
    lb_map_set_int(a, "advance_s", 15 * 86400);
    r = testd_call(&D, "admin.clock", a);
    lb_val_free(&r);
    lb_val_free(&a);
    a = lb_map();
    lb_map_set_str(a, "case_id", cid);
    lb_map_set_str(a, "note", SECRET_ACK);
    r = trust_call(&D, c91, "case.ack", a);
    if (!lbc_reply_ok(r))
        rc = -1;
    lb_val_free(&r);
    lb_val_free(&a);
    return rc;
}

static const char *pseudonym_of(const lb_val_t *r, char out[64])
{
    snprintf(out, 64, "%s", lb_map_str(lbc_reply_result(r), "house_id") ?: "");
    return out;
}

static void test_reporter_sees_no_identities(void)
{
    char cid[32], p1[64], p2[64], pl[64] = "";
    int64_t seq0;
    CU_ASSERT_EQUAL_FATAL(identity_case(cid, &seq0), 0);
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", cid);
    lb_val_t *r = trust_call(&D, rep, "case.get", a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    char *j = json_of(r);
    assert_no_identity("case.get", j);
    free(j);
    pseudonym_of(r, p1);
    lb_val_free(&r);
    r = trust_call(&D, rep, "case.get", a);
    pseudonym_of(r, p2);
    lb_val_free(&r);
    CU_ASSERT_TRUE(p1[0] != '\0');
    CU_ASSERT_STRING_NOT_EQUAL(p1, HOUSE);
    CU_ASSERT_STRING_EQUAL(p1, p2); /* stable */
    size_t digits = 0;
    while (isdigit((unsigned char)p1[digits]))
        digits++;
    CU_ASSERT_FALSE(digits == 11 && strlen(p1) == 11);
    r = trust_call(&D, rep, "case.history", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    j = json_of(r);
    assert_no_identity("case.history", j);
    free(j);
    lb_val_free(&r);
    lb_val_free(&a);
    a = lb_map();
    lb_map_set_str(a, "area", "65010101");
    lb_map_set_int(a, "limit", 1000);
    r = trust_call(&D, rep, "case.list", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    j = json_of(r);
    assert_no_identity("case.list", j);
    free(j);
    const lb_val_t *cs = lb_map_get(lbc_reply_result(r), "cases");
    for (uint32_t i = 0; cs && cs->type == LB_ARR && i < cs->a.n; i++)
        if (strcmp(lb_map_str(cs->a.items[i], "case_id") ?: "", cid) == 0)
            snprintf(pl, sizeof pl, "%s", lb_map_str(cs->a.items[i], "house_id") ?: "");
    CU_ASSERT_STRING_EQUAL(pl, p1); /* the same pseudonym in every op */
    lb_val_free(&r);
    lb_val_free(&a);
    a = lb_map();
    lb_map_set_int(a, "seq", seq0);
    r = trust_call(&D, rep, "events.since", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    j = json_of(r);
    assert_no_identity("events.since", j);
    free(j);
    lb_val_free(&r);
    lb_val_free(&a);
    /* the published stream cannot be redacted per subscriber: a reporter gets no SUB at all,
     * events: true or not (PROTOCOL.md 9.14); admitted subscribers get a heartbeat a second */
    trust_sub_t rs;
    CU_ASSERT_EQUAL_FATAL(trust_sub_open(&D, rep, &rs), 0);
    char topic[64];
    CU_ASSERT_EQUAL(trust_sub_recv(&rs, 2500, topic, sizeof topic, NULL, NULL), 0);
    trust_sub_close(&rs);
    /* the committee still sees the real house id */
    a = lb_map();
    lb_map_set_str(a, "case_id", cid);
    r = trust_call(&D, c91, "case.get", a);
    CU_ASSERT_STRING_EQUAL(lb_map_str(lbc_reply_result(r), "house_id") ?: "", HOUSE);
    lb_val_free(&r);
    lb_val_free(&a);
}

/* ---- revocation (own daemon: the registry changes) ---- */

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_revocation_reaches_live_subscribers(void)
{
    testd_t t;
    CU_ASSERT_EQUAL_FATAL(testd_start(&t, NULL), 0);
    char pa[41], pb[41], pc[41], sa[400], sb[400], sc[400], yaml[1024];
    CU_ASSERT_FATAL(!testd_keygen(&t, "suba", pa, sa, sizeof sa) &&
                    !testd_keygen(&t, "subb", pb, sb, sizeof sb) &&
                    !testd_keygen(&t, "subc", pc, sc, sizeof sc));
    const char *fmt =
        "clients:\n"
        "  - { name: subb, public_key: \"%s\", role: committee, areas: [\"*\"], events: true }\n"
        "  - { name: subc, public_key: \"%s\", role: committee, areas: [\"*\"], events: %s }\n"
        "%s%s%s";
    char line_a[200];
    snprintf(
        line_a, sizeof line_a,
        "  - { name: suba, public_key: \"%s\", role: committee, areas: [\"*\"], events: true }\n",
        pa);
    snprintf(yaml, sizeof yaml, fmt, pb, pc, "true", line_a, "", "");
    CU_ASSERT_EQUAL_FATAL(testd_set_clients(&t, yaml), 0);
    trust_sub_t s[3];
    const char *certs[3] = {sa, sb, sc};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(trust_sub_open(&t, certs[i], &s[i]), 0);
        char topic[64];
        int64_t end = trust_ms() + 5000;
        bool hb = false;
        while (!hb && trust_ms() < end)
            hb = trust_sub_recv(&s[i], 500, topic, sizeof topic, NULL, NULL) == 1;
        CU_ASSERT_TRUE_FATAL(hb);
    }
    /* suba removed, subc's events: false; subb stays */
    snprintf(yaml, sizeof yaml, fmt, pb, pc, "false", "", "", "");
    CU_ASSERT_EQUAL_FATAL(testd_set_clients(&t, yaml), 0);
    nap(1000); /* the bound: revocation takes effect within one second */
    char topic[64];
    for (int i = 0; i < 3; i += 2) /* drop what was queued before the bound */
        while (trust_sub_recv(&s[i], 0, topic, sizeof topic, NULL, NULL) == 1)
            ;
    char cid[32];
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&t, NULL, 55500000030UL, "65010101", cid), 0);
    for (int i = 0; i < 3; i += 2) {
        int got = 0, events = 0;
        int64_t end = trust_ms() + 1500;
        while (trust_ms() < end)
            if (trust_sub_recv(&s[i], (int)(end - trust_ms()), topic, sizeof topic, NULL, NULL) ==
                1) {
                got++;
                events += strcmp(topic, "hb") != 0;
            }
        CU_ASSERT_EQUAL(events, 0); /* no case event on a revoked subscription */
        CU_ASSERT_EQUAL(got, 0);    /* not even heartbeats */
    }
    /* the allowed subscriber gets it live, or repairs with events.since */
    int out = 0;
    bool live = read_until_case(&s[1], cid, "", &out, 5000);
    if (!live) {
        lb_val_t *a = lb_map();
        lb_map_set_int(a, "seq", 0);
        lb_val_t *r = trust_call(&t, sb, "events.since", a);
        char *j = json_of(r);
        live = lbc_reply_ok(r) && strstr(j, cid) != NULL;
        free(j);
        lb_val_free(&r);
        lb_val_free(&a);
    }
    CU_ASSERT_TRUE(live);
    for (int i = 0; i < 3; i++)
        trust_sub_close(&s[i]);
    CU_ASSERT_EQUAL(testd_stop(&t), 0);
    testd_cleanup(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("trust: scope", suite_init, suite_clean);
    CU_add_test(s, "finding 2: cross-area conflict names no case, area or district",
                test_cross_area_conflict_reveals_nothing);
    CU_add_test(s, "finding 2: a claim made first shows in case.import's existing",
                test_claim_first_is_visible_to_import);
    CU_add_test(s, "finding 9: events on SUB and events.since follow area scopes",
                test_events_follow_scope);
    CU_add_test(s, "finding 9: v1 prefix subscriptions (hb, case.65) keep working under scopes",
                test_v1_prefixes_follow_scope);
    CU_add_test(s, "finding 10: reporters see no house id, birth year, notes or actors",
                test_reporter_sees_no_identities);
    CU_pSuite r = CU_add_suite("trust: revocation", NULL, NULL);
    CU_add_test(r, "finding 3: a removed or events:false key's live SUB gets nothing after 1 s",
                test_revocation_reaches_live_subscribers);
    return testd_run_all();
}
