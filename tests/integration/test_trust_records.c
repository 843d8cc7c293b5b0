/*
 * test_trust_records.c - the Trust issue, finding 1: one field key must not
 * be able to make a case unreadable (and so unclosable, its household never
 * openable again, its escalation timer dropped) by appending records.
 *
 * Interface decisions the fixers follow (the issue leaves them open):
 *  - limits.case_records (default 2000) caps a case's records (visits,
 *    assistance, follow-ups, notes). An action that would append one more is
 *    answered too_large with error.case_id = the case id.
 *  - A closing action (one whose `to` is a terminal state, e.g. close or
 *    resolve in config/workflows/tpmap-household.yaml) still works at the cap.
 *  - A timer is never dropped because its case could not be read: a case at
 *    its cap still escalates.
 *  - Per-key rate limiting (limits.rate_per_key 200/s, burst_per_key 400,
 *    error `rate_limited`) may refuse part of a flood: the flood test counts
 *    rate_limited replies as refusals too.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"
#include "../lib/testd.h"
#include "../lib/trust.h"

static char field_sec[400], committee_sec[400];

/* The test's daemon: a test stopped by a fatal assertion leaves it to the next reset(). */
static testd_t T;

static void reset(void)
{
    if (T.dir[0])
        testd_cleanup(&T);
    memset(&T, 0, sizeof T);
}

static int suite_clean(void)
{
    reset();
    return 0;
}

/* Registers a field key (6501) and a committee key (65) on t. */
static int add_keys(testd_t *t)
{
    char fpub[41], cpub[41], yaml[1024];
    if (testd_keygen(t, "field", fpub, field_sec, sizeof field_sec) ||
        testd_keygen(t, "committee", cpub, committee_sec, sizeof committee_sec))
        return -1;
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: field, public_key: \"%s\", role: field, areas: [\"6501\"] }\n"
             "  - { name: committee, public_key: \"%s\", role: committee, areas: [\"65\"] }\n",
             fpub, cpub);
    return testd_set_clients(t, yaml);
}

typedef struct {
    const char *case_id;
    int ok, too_large, limited, other, case_id_named;
} tally_t;

static lb_val_t *note_args(int i, void *ctx)
{
    tally_t *t = ctx;
    lb_val_t *a = lb_map(), *d = lb_map();
    char text[64];
    snprintf(text, sizeof text, "note %d", i);
    lb_map_set_str(d, "note", text);
    lb_map_set_str(a, "case_id", t->case_id);
    lb_map_set_str(a, "action", "add_note");
    lb_map_set(a, "data", d);
    return a;
}

static void note_reply(int i, const lb_val_t *r, void *ctx)
{
    (void)i;
    tally_t *t = ctx;
    const char *code = testd_code(r);
    if (!*code) {
        t->ok++;
    } else if (strcmp(code, "too_large") == 0) {
        t->too_large++;
        const char *cid = lb_map_str(lb_map_get(r, "error"), "case_id");
        if (cid && strcmp(cid, t->case_id) == 0)
            t->case_id_named++;
    } else if (strcmp(code, "rate_limited") == 0) {
        t->limited++;
    } else {
        if (t->other++ < 3)
            fprintf(stderr, "\n  add_note: %s %s\n", code, trust_msg(r));
    }
}

/* case.get as cert (NULL = admin): the reply's error code ("" = readable), and the note count. */
static const char *get_case(testd_t *t, const char *cert, const char *case_id, int *notes)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_id);
    lb_val_t *r = trust_call(t, cert, "case.get", a);
    static char code[64];
    snprintf(code, sizeof code, "%s", testd_code(r));
    const lb_val_t *n = lb_map_get(lbc_reply_result(r), "notes");
    if (notes)
        *notes = n && n->type == LB_ARR ? (int)n->a.n : -1;
    lb_val_free(&r);
    lb_val_free(&a);
    return code;
}

/* Number of escalations case.get shows for the case (-1 when unreadable). */
static int escalations(testd_t *t, const char *case_id)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_id);
    lb_val_t *r = testd_call(t, "case.get", a);
    const lb_val_t *e = lb_map_get(lbc_reply_result(r), "escalations");
    int n = e && e->type == LB_ARR ? (int)e->a.n : -1;
    lb_val_free(&r);
    lb_val_free(&a);
    return n;
}

static lb_val_t *act(testd_t *t, const char *cert, const char *case_id, const char *action,
                     const char *key, const char *val)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_id);
    lb_map_set_str(a, "action", action);
    if (key) {
        lb_val_t *d = lb_map();
        lb_map_set_str(d, key, val);
        lb_map_set(a, "data", d);
    }
    lb_val_t *r = trust_call(t, cert, "case.act", a);
    lb_val_free(&a);
    return r;
}

static void advance_days(testd_t *t, int days)
{
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "advance_s", (int64_t)days * 86400);
    lb_val_t *r = testd_call(t, "admin.clock", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
}

/* The attack as reported: 10,005 pipelined add_note on one case by a field key. */
static void test_note_flood_leaves_case_readable_and_closable(void)
{
    reset();
    testd_opts_t o = {.manual_clock = true};
    CU_ASSERT_EQUAL_FATAL(testd_start(&T, &o), 0);
    CU_ASSERT_EQUAL_FATAL(add_keys(&T), 0);
    char cid[32];
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&T, NULL, 40100000001UL, "65010101", cid), 0);
    lbc_t *c = trust_client(&T, field_sec, 60000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    tally_t tl = {.case_id = cid};
    int answered = trust_pipeline(c, "flood", 10005, 1000, "case.act", note_args, note_reply, &tl,
                                  false, 120000);
    lbc_destroy(&c);
    fprintf(stderr,
            "\n  flood: ok %d, too_large %d (naming the case %d), rate_limited %d, other %d\n",
            tl.ok, tl.too_large, tl.case_id_named, tl.limited, tl.other);
    CU_ASSERT_EQUAL(answered, 10005);
    CU_ASSERT_EQUAL(tl.other, 0);
    CU_ASSERT_TRUE(tl.ok <= 2000);                   /* limits.case_records default */
    CU_ASSERT_EQUAL(tl.case_id_named, tl.too_large); /* every too_large names the case */
    CU_ASSERT_TRUE(tl.too_large + tl.limited >= 10005 - 2000);
    /* readable for admin, committee and the field key itself, with every accepted note */
    int notes = -1;
    CU_ASSERT_STRING_EQUAL(get_case(&T, NULL, cid, &notes), "");
    CU_ASSERT_EQUAL(notes, tl.ok);
    CU_ASSERT_STRING_EQUAL(get_case(&T, committee_sec, cid, NULL), "");
    CU_ASSERT_STRING_EQUAL(get_case(&T, field_sec, cid, NULL), "");
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", cid);
    lb_map_set_int(a, "limit", 10);
    lb_val_t *r = testd_call(&T, "case.history", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
    /* its escalation timer (identified: 7 days) still fires */
    advance_days(&T, 8);
    CU_ASSERT_TRUE(escalations(&T, cid) >= 1);
    /* the committee can still close it, and the household can be opened again */
    r = act(&T, committee_sec, cid, "close", "reason", "duplicate");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lbc_reply_result(r), "state") ?: "", "closed");
    lb_val_free(&r);
    char again[32] = "";
    CU_ASSERT_EQUAL(trust_open_case(&T, NULL, 40100000001UL, "65010101", again), 0);
    CU_ASSERT_STRING_NOT_EQUAL(again, cid);
    CU_ASSERT_EQUAL(testd_stop(&T), 0);
    reset();
}

/* limits.case_records: N exactly; too_large names the case; closing still works; timers fire. */
static void test_configured_cap_exact(void)
{
    reset();
    testd_opts_t o = {.manual_clock = true};
    CU_ASSERT_EQUAL_FATAL(trust_start(&T, &o, "case_records: 20", NULL), 0);
    CU_ASSERT_EQUAL_FATAL(add_keys(&T), 0);
    char cid[32];
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&T, NULL, 40100000002UL, "65010101", cid), 0);
    lbc_t *c = trust_client(&T, field_sec, 20000);
    tally_t tl = {.case_id = cid};
    CU_ASSERT_EQUAL(
        trust_pipeline(c, "cap", 25, 25, "case.act", note_args, note_reply, &tl, true, 20000), 25);
    lbc_destroy(&c);
    CU_ASSERT_EQUAL(tl.ok, 20);
    CU_ASSERT_EQUAL(tl.too_large, 5);
    CU_ASSERT_EQUAL(tl.case_id_named, 5);
    /* the cap holds for admin too, and a visit is a record like a note */
    lb_val_t *r = act(&T, NULL, cid, "add_note", "note", "admin");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "too_large");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(r, "error"), "case_id") ?: "", cid);
    lb_val_free(&r);
    int notes = -1;
    CU_ASSERT_STRING_EQUAL(get_case(&T, NULL, cid, &notes), "");
    CU_ASSERT_EQUAL(notes, 20);
    /* timers of a case at its cap fire */
    advance_days(&T, 8);
    CU_ASSERT_TRUE(escalations(&T, cid) >= 1);
    /* a closing action still works at the cap */
    r = act(&T, committee_sec, cid, "close", "reason", "refused");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    CU_ASSERT_EQUAL(testd_stop(&T), 0);
    reset();
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("trust: case records (finding 1)", NULL, suite_clean);
    CU_add_test(s, "10,005 pipelined notes: case stays readable, escalates, closes, reopens",
                test_note_flood_leaves_case_readable_and_closable);
    CU_add_test(s, "limits.case_records: exact cap, too_large names the case, close works",
                test_configured_cap_exact);
    return testd_run_all();
}
