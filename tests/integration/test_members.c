/*
 * test_members.c - household membership as records and duplicate households
 * (issue 12, deliverables 3 and 4; PROTOCOL.md 9.18) against a real logbookd:
 * the member record and its head rules, duplicates flagged by case.open,
 * case.import and joins within the requester's scope, case.duplicates,
 * case.merge, and that no national id or name reaches the store in plaintext.
 */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cu.h"
#include "../lib/testd.h"
#include "../lib/trust.h"
#include "../lib/tval.h"

static testd_t D;
static char field65[400], field6502[400], comm65[400], comm6502[400], rep[400];
static char nid_a[14], nid_b[14], nid_c[14], nid_d[14];
#define NAME_A "Somsri Secretname"

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o))
        return -1;
    char p[5][41];
    if (testd_keygen(&D, "field65", p[0], field65, sizeof field65) ||
        testd_keygen(&D, "field6502", p[1], field6502, sizeof field6502) ||
        testd_keygen(&D, "comm65", p[2], comm65, sizeof comm65) ||
        testd_keygen(&D, "comm6502", p[3], comm6502, sizeof comm6502) ||
        testd_keygen(&D, "rep", p[4], rep, sizeof rep))
        return -1;
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: field65, public_key: \"%s\", role: field, areas: [\"65\"] }\n"
             "  - { name: field6502, public_key: \"%s\", role: field, areas: [\"6502\"] }\n"
             "  - { name: comm65, public_key: \"%s\", role: committee, areas: [\"65\"] }\n"
             "  - { name: comm6502, public_key: \"%s\", role: committee, areas: [\"6502\"] }\n"
             "  - { name: rep, public_key: \"%s\", role: reporter, areas: [\"*\"] }\n",
             p[0], p[1], p[2], p[3], p[4]);
    testd_nid(100000000001ULL, nid_a);
    testd_nid(100000000002ULL, nid_b);
    testd_nid(100000000003ULL, nid_c);
    testd_nid(100000000004ULL, nid_d);
    return testd_set_clients(&D, yaml);
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* One call as cert (NULL = admin) with args written as tval text. */
static lb_val_t *callf(const char *cert, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static lb_val_t *callf(const char *cert, const char *op, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    lb_val_t *args = tval(text);
    lb_val_t *r = trust_call(&D, cert, op, args);
    lb_val_free(&args);
    return r;
}

/* Opens a case for house n in area with the given members (tval text of a list); id into out. */
static void open_with(const char *cert, unsigned long n, const char *area, const char *members,
                      char out[32], lb_val_t **reply)
{
    lb_val_t *r = callf(cert, "case.open",
                        "{'household': {'house_id': '%011lu', 'area': '%s', "
                        "'members': %s}}",
                        n, area, members);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    snprintf(out, 32, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    if (reply)
        *reply = r;
    else
        lb_val_free(&r);
}

static lb_val_t *member(const char *cert, const char *cid, const char *data)
{
    return callf(cert, "case.act", "{'case_id': '%s', 'action': 'update_members', 'data': %s}", cid,
                 data);
}

static lb_val_t *get_case(const char *cert, const char *cid)
{
    lb_val_t *r = callf(cert, "case.get", "{'case_id': '%s'}", cid);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    return r;
}

/* The nid of the member marked head in a case.get reply, or "". */
static const char *head_of(const lb_val_t *r)
{
    const lb_val_t *ms = lb_map_get(lb_map_get(lbc_reply_result(r), "household"), "members");
    for (uint32_t i = 0; ms && i < ms->a.n; i++) {
        const lb_val_t *h = lb_map_get(ms->a.items[i], "head");
        if (h && h->type == LB_BOOL && h->b)
            return lb_map_str(ms->a.items[i], "nid") ?: "";
    }
    return "";
}

static uint32_t n_members(const lb_val_t *r)
{
    const lb_val_t *ms = lb_map_get(lb_map_get(lbc_reply_result(r), "household"), "members");
    return ms ? ms->a.n : 0;
}

static bool has_str(const lb_val_t *arr, const char *s)
{
    for (uint32_t i = 0; arr && arr->type == LB_ARR && i < arr->a.n; i++)
        if (arr->a.items[i]->type == LB_STR && strcmp(arr->a.items[i]->s.p, s) == 0)
            return true;
    return false;
}

/* The event with this seq (admin's events.since). */
static lb_val_t *event_at(int64_t seq)
{
    lb_val_t *r = callf(NULL, "events.since", "{'seq': %lld, 'limit': 1}", (long long)seq - 1);
    const lb_val_t *evs = lb_map_get(lbc_reply_result(r), "events");
    lb_val_t *ev = evs && evs->a.n == 1 ? lb_val_dup(evs->a.items[0]) : NULL;
    lb_val_free(&r);
    return ev;
}

static void assert_verify_ok(void)
{
    lb_val_t *r = testd_call(&D, "admin.verify", NULL);
    const lb_val_t *ok = lb_map_get(lbc_reply_result(r), "ok");
    CU_ASSERT_TRUE(ok && ok->type == LB_BOOL && ok->b);
    if (!(ok && ok->b))
        fprintf(stderr, "admin.verify: %s\n", tval_json(r));
    lb_val_free(&r);
}

/* ---------------------------------------------------------------------- */

static void test_head_rules(void)
{
    char cid[32];
    open_with(field65, 71000000001UL, "65010101", "[]", cid, NULL);
    lb_val_t *r = get_case(field65, cid);
    CU_ASSERT_STRING_EQUAL(head_of(r), "");
    lb_val_free(&r);
    /* the first member to join a household without a head becomes its head */
    char data[512];
    snprintf(data, sizeof data,
             "{'change': 'join', 'nid': '%s', 'name': '" NAME_A "', 'birth_year': 1970, "
             "'sex': 'f'}",
             nid_a);
    r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    CU_ASSERT(tval_match(lbc_reply_result(r), "{'duplicates': []}"));
    int64_t seq = trust_result_int(r, "seq", -1);
    lb_val_free(&r);
    snprintf(data, sizeof data, "{'change': 'join', 'nid': '%s', 'name': 'B'}", nid_b);
    r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    r = get_case(field65, cid);
    CU_ASSERT_STRING_EQUAL(head_of(r), nid_a);
    CU_ASSERT_EQUAL(n_members(r), 2);
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(lbc_reply_result(r), "household"), "head") ?: "",
                           NAME_A);
    lb_val_free(&r);
    /* the head leaves while B remains: new_head is needed */
    snprintf(data, sizeof data, "{'change': 'leave', 'nid': '%s'}", nid_a);
    r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(r, "error"), "field") ?: "", "data.new_head");
    lb_val_free(&r);
    snprintf(data, sizeof data, "{'change': 'leave', 'nid': '%s', 'new_head': '%s'}", nid_a, nid_c);
    r = member(field65, cid, data); /* C is no member */
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    snprintf(data, sizeof data, "{'change': 'leave', 'nid': '%s', 'new_head': '%s'}", nid_a, nid_b);
    r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    /* join, then `head` names C; B dies: no new head needed as B is not the head */
    snprintf(data, sizeof data, "{'change': 'join', 'nid': '%s'}", nid_c);
    lb_val_free((r = member(field65, cid, data), &r));
    snprintf(data, sizeof data, "{'change': 'head', 'nid': '%s'}", nid_c);
    r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    snprintf(data, sizeof data, "{'change': 'deceased', 'nid': '%s'}", nid_b);
    r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    r = get_case(field65, cid);
    CU_ASSERT_STRING_EQUAL(head_of(r), nid_c);
    CU_ASSERT_EQUAL(n_members(r), 1);
    /* the history: six records, each naming its member for a field key */
    const lb_val_t *hist = lb_map_get(lbc_reply_result(r), "member_changes");
    CU_ASSERT_TRUE_FATAL(hist && hist->a.n == 6);
    CU_ASSERT_STRING_EQUAL(lb_map_str(hist->a.items[0], "change") ?: "", "join");
    CU_ASSERT_STRING_EQUAL(lb_map_str(hist->a.items[0], "nid") ?: "", nid_a);
    CU_ASSERT_STRING_EQUAL(lb_map_str(hist->a.items[2], "new_head_nid") ?: "", nid_b);
    CU_ASSERT_STRING_EQUAL(lb_map_str(hist->a.items[5], "change") ?: "", "deceased");
    lb_val_free(&r);
    /* the last member leaves: no head, no members */
    snprintf(data, sizeof data, "{'change': 'leave', 'nid': '%s'}", nid_c);
    r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    r = get_case(field65, cid);
    CU_ASSERT_STRING_EQUAL(head_of(r), "");
    CU_ASSERT_EQUAL(n_members(r), 0);
    lb_val_free(&r);
    /* the event is a `member` event in the case's area, with references only */
    lb_val_t *ev = event_at(seq);
    CU_ASSERT_STRING_EQUAL(lb_map_str(ev, "kind") ?: "", "member");
    CU_ASSERT_STRING_EQUAL(lb_map_str(ev, "area") ?: "", "65010101");
    const lb_val_t *d = lb_map_get(ev, "data");
    CU_ASSERT_PTR_NULL(lb_map_get(d, "nid"));
    CU_ASSERT_PTR_NULL(lb_map_get(d, "name"));
    CU_ASSERT_PTR_NULL(lb_map_get(d, "birth_year"));
    const char *ref = lb_map_str(d, "member") ?: "";
    CU_ASSERT(strlen(ref) == 33 && ref[0] == 'M');
    CU_ASSERT_PTR_NULL(strstr(tval_json(ev), nid_a));
    lb_val_free(&ev);
    assert_verify_ok();
}

static void test_refusals(void)
{
    char cid[32], data[256];
    open_with(field65, 71000000002UL, "65010102", "[]", cid, NULL);
    snprintf(data, sizeof data, "{'change': 'join', 'nid': '%s', 'colour': 'red'}", nid_a);
    lb_val_t *r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "guard_failed");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(r, "error"), "field") ?: "", "data.colour");
    lb_val_free(&r);
    r = member(field65, cid, "{'change': 'join', 'nid': '1234567890123'}"); /* bad checksum */
    CU_ASSERT_STRING_EQUAL(testd_code(r), "guard_failed");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(r, "error"), "field") ?: "", "data.nid");
    lb_val_free(&r);
    snprintf(data, sizeof data, "{'change': 'adopt', 'nid': '%s'}", nid_a);
    r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "guard_failed");
    lb_val_free(&r);
    snprintf(data, sizeof data, "{'change': 'leave', 'nid': '%s'}", nid_a);
    r = member(field65, cid, data); /* not a member */
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    snprintf(data, sizeof data, "{'change': 'join', 'nid': '%s'}", nid_a);
    r = member(field6502, cid, data); /* outside the key's areas */
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = member(rep, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    /* a retry with the same request id is answered from the store: one event */
    lbc_t *c = trust_client(&D, field65, 3000);
    lb_val_t *args = tvalf("{'case_id': '%s', 'action': 'update_members', 'data': %s}", cid, data);
    lb_val_t *r1 = NULL, *r2 = NULL;
    char err[256];
    CU_ASSERT_EQUAL(lbc_call_id(c, "member-retry-1", "case.act", args, &r1, err, sizeof err), 0);
    int64_t last = trust_last_seq(&D);
    CU_ASSERT_EQUAL(lbc_call_id(c, "member-retry-1", "case.act", args, &r2, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r1), "");
    CU_ASSERT_TRUE(r1 && r2 && lb_val_equal(r1, r2));
    CU_ASSERT_EQUAL(trust_last_seq(&D), last);
    lb_val_free(&r1);
    lb_val_free(&r2);
    /* joining twice with a new id is refused */
    r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    lb_val_free(&args);
    lbc_destroy(&c);
}

static void test_duplicates_flagged_in_scope(void)
{
    char x[32], y[32], z[32], w[32], members[128];
    snprintf(members, sizeof members, "[{'nid': '%s', 'name': 'D'}]", nid_d);
    open_with(field65, 72000000001UL, "65010201", members, x, NULL);
    lb_val_t *r = NULL;
    open_with(field65, 72000000002UL, "65020201", members, y, &r);
    const lb_val_t *dups = lb_map_get(lbc_reply_result(r), "duplicates");
    CU_ASSERT_TRUE(dups && dups->a.n == 1 && has_str(dups, x));
    lb_val_free(&r);
    /* a key of district 6502 does not learn of the 6501 case */
    open_with(field6502, 72000000003UL, "65020202", members, z, &r);
    dups = lb_map_get(lbc_reply_result(r), "duplicates");
    CU_ASSERT_TRUE(dups && dups->a.n == 1 && has_str(dups, y) && !has_str(dups, x));
    lb_val_free(&r);
    /* a join flags every open case in scope holding the nid */
    open_with(field65, 72000000004UL, "65010202", "[]", w, NULL);
    char data[128];
    snprintf(data, sizeof data, "{'change': 'join', 'nid': '%s'}", nid_d);
    r = member(field65, w, data);
    dups = lb_map_get(lbc_reply_result(r), "duplicates");
    CU_ASSERT_TRUE(dups && dups->a.n == 3 && has_str(dups, x) && has_str(dups, y) &&
                   has_str(dups, z));
    lb_val_free(&r);
    /* case.import: per household */
    r = callf(comm65, "case.import",
              "{'households': [{'house_id': '72000000005', 'area': '65010203'}, "
              "{'house_id': '72000000006', 'area': '65010203', 'members': %s}]}",
              members);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    const lb_val_t *list = lb_map_get(lbc_reply_result(r), "duplicates");
    CU_ASSERT_TRUE_FATAL(list && list->a.n == 1);
    int64_t idx = -1;
    lb_map_int(list->a.items[0], "index", &idx);
    CU_ASSERT_EQUAL(idx, 1);
    CU_ASSERT_EQUAL(lb_map_get(list->a.items[0], "duplicates")->a.n, 4);
    lb_val_free(&r);
    /* a member who left is no longer a duplicate */
    snprintf(data, sizeof data, "{'change': 'leave', 'nid': '%s'}", nid_d);
    lb_val_free((r = member(field65, w, data), &r));
    open_with(field65, 72000000007UL, "65010204", members, x, &r);
    CU_ASSERT_FALSE(has_str(lb_map_get(lbc_reply_result(r), "duplicates"), w));
    CU_ASSERT_EQUAL(lb_map_get(lbc_reply_result(r), "duplicates")->a.n, 4);
    lb_val_free(&r);
}

static void test_duplicates_op(void)
{
    char a[32], b[32], c[32], members[128], nid[14];
    testd_nid(100000000099ULL, nid); /* a fresh nid for this test */
    snprintf(members, sizeof members, "[{'nid': '%s'}]", nid);
    open_with(field65, 73000000001UL, "65030101", members, a, NULL);
    open_with(field65, 73000000002UL, "65030102", members, b, NULL);
    open_with(field65, 73000000003UL, "65040101", members, c, NULL);
    lb_val_t *r = callf(comm65, "case.duplicates", "{'area': '6503'}");
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    const lb_val_t *pairs = lb_map_get(lbc_reply_result(r), "pairs");
    /* a-b, a-c and b-c: a pair with one case outside the area filter is listed too */
    CU_ASSERT_EQUAL(pairs ? pairs->a.n : 0, 3);
    char want[128];
    snprintf(want, sizeof want, "{'a': '%s', 'b': '%s'}", a, b);
    bool found = false;
    for (uint32_t i = 0; pairs && i < pairs->a.n; i++)
        found = found || tval_eq(pairs->a.items[i], want);
    CU_ASSERT_TRUE(found);
    lb_val_free(&r);
    /* a committee of 6502 sees none of them; a field key may not ask */
    r = callf(comm6502, "case.duplicates", "{}");
    pairs = lb_map_get(lbc_reply_result(r), "pairs");
    for (uint32_t i = 0; pairs && i < pairs->a.n; i++)
        CU_ASSERT_STRING_NOT_EQUAL(lb_map_str(pairs->a.items[i], "a"), a);
    lb_val_free(&r);
    r = callf(field65, "case.duplicates", "{}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = callf(comm65, "case.duplicates", "{'area': '6x'}");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
}

static void test_merge(void)
{
    char keep[32], drop[32], m1[128], m2[128], data[256];
    char nid_k[14], nid_x[14];
    testd_nid(100000000201ULL, nid_k);
    testd_nid(100000000202ULL, nid_x);
    snprintf(m1, sizeof m1, "[{'nid': '%s', 'name': 'K'}]", nid_k);
    snprintf(m2, sizeof m2, "[{'nid': '%s', 'name': 'K'}, {'nid': '%s', 'name': 'X'}]", nid_k,
             nid_x);
    open_with(field65, 74000000001UL, "65050101", m1, keep, NULL);
    open_with(field65, 74000000002UL, "65050102", m2, drop, NULL);
    lb_val_t *r = callf(NULL, "admin.clock", "{'advance_s': 3600}");
    lb_val_free(&r);
    /* notes: the dropped case's is older than the kept case's */
    r = callf(NULL, "case.get", "{'case_id': '%s'}", keep);
    int64_t opened = 0;
    lb_map_int(lbc_reply_result(r), "opened_at", &opened);
    lb_val_free(&r);
    r = callf(field65, "case.act",
              "{'case_id': '%s', 'action': 'add_note', 'data': {'note': 'second'}, 'at': %lld}",
              keep, (long long)opened + 2000);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    r = callf(field65, "case.act",
              "{'case_id': '%s', 'action': 'add_note', 'data': {'note': 'first'}, 'at': %lld}",
              drop, (long long)opened + 1000);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    int64_t open0 = trust_total(&D, "6505", "village", "open"),
            closed0 = trust_total(&D, "6505", "village", "closed");
    CU_ASSERT_EQUAL(open0, 2);
    /* who may merge */
    r = callf(field65, "case.merge", "{'keep': '%s', 'drop': '%s'}", keep, drop);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = callf(comm6502, "case.merge", "{'keep': '%s', 'drop': '%s'}", keep, drop);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = callf(comm65, "case.merge", "{'keep': '%s', 'drop': '%s'}", keep, keep);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    /* the merge, and its retry with the same id */
    lbc_t *c = trust_client(&D, comm65, 3000);
    lb_val_t *args = tvalf("{'keep': '%s', 'drop': '%s'}", keep, drop), *r2 = NULL;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(lbc_call_id(c, "merge-1", "case.merge", args, &r, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    int64_t seq = trust_result_int(r, "seq", -1), last = trust_last_seq(&D);
    CU_ASSERT_EQUAL(seq, last);
    CU_ASSERT_EQUAL(lbc_call_id(c, "merge-1", "case.merge", args, &r2, err, sizeof err), 0);
    CU_ASSERT_TRUE(r2 && lb_val_equal(r, r2));
    CU_ASSERT_EQUAL(trust_last_seq(&D), last);
    lb_val_free(&r);
    lb_val_free(&r2);
    lb_val_free(&args);
    lbc_destroy(&c);
    /* a second merge of the dropped case is a conflict naming it */
    r = callf(comm65, "case.merge", "{'keep': '%s', 'drop': '%s'}", keep, drop);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "conflict");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(r, "error"), "case_id") ?: "", drop);
    lb_val_free(&r);
    /* the events: the dropped case closed as a duplicate, the kept one naming it */
    lb_val_t *ek = event_at(seq), *ed = event_at(seq - 1);
    CU_ASSERT(tval_match(ek, "{'kind': 'case', 'type': 'merged', 'area': '65050101'}"));
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(ek, "data"), "merged_from") ?: "", drop);
    CU_ASSERT(tval_match(ed, "{'kind': 'case', 'type': 'merged', 'to': 'closed', "
                             "'area': '65050102', 'data': {'reason': 'duplicate'}}"));
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(ed, "data"), "merged_into") ?: "", keep);
    lb_val_free(&ek);
    lb_val_free(&ed);
    /* the kept case: notes in time order, the dropped case's member; the dropped one closed */
    r = get_case(field65, keep);
    const lb_val_t *notes = lb_map_get(lbc_reply_result(r), "notes");
    CU_ASSERT_TRUE_FATAL(notes && notes->a.n == 2);
    CU_ASSERT_STRING_EQUAL(lb_map_str(notes->a.items[0], "note") ?: "", "first");
    CU_ASSERT_STRING_EQUAL(lb_map_str(notes->a.items[1], "note") ?: "", "second");
    CU_ASSERT_EQUAL(n_members(r), 2);
    CU_ASSERT_STRING_EQUAL(head_of(r), nid_k);
    lb_val_free(&r);
    r = get_case(field65, drop);
    CU_ASSERT(tval_match(lbc_reply_result(r), "{'state': 'closed'}"));
    CU_ASSERT_STRING_EQUAL(lb_map_str(lbc_reply_result(r), "merged_into") ?: "", keep);
    lb_val_free(&r);
    /* counters moved in the same transaction */
    CU_ASSERT_EQUAL(trust_total(&D, "6505", "village", "open"), open0 - 1);
    CU_ASSERT_EQUAL(trust_total(&D, "6505", "village", "closed"), closed0 + 1);
    /* the kept case holds the dropped one's records: the audit still agrees */
    assert_verify_ok();
    /* a member record after the merge, then verify again */
    snprintf(data, sizeof data, "{'change': 'head', 'nid': '%s'}", nid_x);
    r = member(comm65, keep, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    assert_verify_ok();
}

static void test_reporter_and_store(void)
{
    char cid[32], data[256];
    open_with(field65, 75000000001UL, "65060101", "[]", cid, NULL);
    snprintf(data, sizeof data, "{'change': 'join', 'nid': '%s', 'name': '" NAME_A "'}", nid_a);
    lb_val_t *r = member(field65, cid, data);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    r = get_case(rep, cid);
    const char *json = tval_json(lbc_reply_result(r));
    CU_ASSERT_PTR_NULL(strstr(json, nid_a));
    CU_ASSERT_PTR_NULL(strstr(json, NAME_A));
    const lb_val_t *hist = lb_map_get(lbc_reply_result(r), "member_changes");
    CU_ASSERT_TRUE(hist && hist->a.n == 1 && lb_map_str(hist->a.items[0], "member"));
    lb_val_free(&r);
    /* neither the national id nor the name is anywhere in the store's file */
    char path[400];
    snprintf(path, sizeof path, "%s/data.mdb", D.data);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    CU_ASSERT_FATAL(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    CU_ASSERT_PTR_NULL(memmem(buf, (size_t)n, nid_a, 13));
    CU_ASSERT_PTR_NULL(memmem(buf, (size_t)n, NAME_A, strlen(NAME_A)));
    free(buf);
}

int main(void)
{
    static const cu_test_t tests[] = {
        {"head rules", test_head_rules},
        {"refusals and retries", test_refusals},
        {"duplicates flagged in scope", test_duplicates_flagged_in_scope},
        {"case.duplicates", test_duplicates_op},
        {"case.merge", test_merge},
        {"reporter and store", test_reporter_and_store},
    };
    return cu_run("members", suite_init, suite_clean, tests, CU_COUNT(tests));
}
