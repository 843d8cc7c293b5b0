/*
 * test_trust_flood.c - the Trust issue, findings 4 (floods fill the disk),
 * 5 (a reused request id returns the old reply), 6 (unbounded work in one
 * loop turn) and 14 (report.summary {by: state} rows with an empty key),
 * plus the per-key token bucket of the "Deliver" list.
 *
 * Interface decisions the fixers follow (the issue leaves them open):
 *  - New error code `rate_limited` (wire string). limits.rate_per_key
 *    (default 200 requests/s) and limits.burst_per_key (default 400) size a
 *    per-key token bucket; every request of the key takes a token, and a key
 *    the daemon has not seen yet starts with a full bucket (the burst).
 *    rate_limited is answered before anything runs (no idempotency record).
 *  - Refused-before-execute requests (bad_request, forbidden, not_found,
 *    unknown_op, bad_version, too_large, rate_limited) store no
 *    idempotency record; admin.stats `idem_records` counts the records.
 *    Records older than 24 h (daemon clock) are pruned continuously, not
 *    once a minute.
 *  - A non-record action's `data` accepts only `team`, `level`, `reason` and
 *    the keys in the action's `require`; an unknown key is guard_failed with
 *    field `data.KEY`.
 *  - A request id means one request: the same key reusing an id with a
 *    different op or different args gets `conflict`, message containing
 *    "request id reused for a different request"; the identical request
 *    again returns the stored reply.
 *  - No unbounded work in one loop turn: a report over thousands of villages
 *    is right; thousands of timers falling due at once do not stop replies
 *    and heartbeats (checked by seq order, not by time).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../proto/proto.h"
#include "../lib/testd.h"
#include "../lib/trust.h"

static testd_t D;
static char field_sec[400], field2_sec[400], flooder_sec[400];
static char case6501[32], case6502[32];

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o))
        return -1;
    char p1[41], p2[41], p3[41], yaml[1024];
    if (testd_keygen(&D, "field", p1, field_sec, sizeof field_sec) ||
        testd_keygen(&D, "field2", p2, field2_sec, sizeof field2_sec) ||
        testd_keygen(&D, "flooder", p3, flooder_sec, sizeof flooder_sec))
        return -1;
    /* flooder: used by the token-bucket test only, so its bucket starts full */
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: field, public_key: \"%s\", role: field, areas: [\"6501\"] }\n"
             "  - { name: field2, public_key: \"%s\", role: field, areas: [\"6501\"] }\n"
             "  - { name: flooder, public_key: \"%s\", role: field, areas: [\"6501\"] }\n",
             p1, p2, p3);
    if (testd_set_clients(&D, yaml))
        return -1;
    if (trust_open_case(&D, NULL, 66600000001UL, "65010101", case6501) ||
        trust_open_case(&D, NULL, 66600000002UL, "65020101", case6502))
        return -1;
    return 0;
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

typedef struct {
    const char *case_id;
    int counts[8]; /* ok, forbidden, not_found, bad_request, rate_limited, conflict, other */
} tally_t;

static void count_reply(int i, const lb_val_t *r, void *ctx)
{
    (void)i;
    static const char *const codes[] = {
        "", "forbidden", "not_found", "bad_request", "rate_limited", "conflict"};
    tally_t *t = ctx;
    for (int k = 0; k < 6; k++)
        if (strcmp(testd_code(r), codes[k]) == 0) {
            t->counts[k]++;
            return;
        }
    t->counts[6]++;
}

static lb_val_t *note_on(int i, void *ctx)
{
    tally_t *t = ctx;
    lb_val_t *a = lb_map(), *d = lb_map();
    char text[32];
    snprintf(text, sizeof text, "n%d", i);
    lb_map_set_str(d, "note", text);
    lb_map_set_str(a, "case_id", t->case_id);
    lb_map_set_str(a, "action", "add_note");
    lb_map_set(a, "data", d);
    return a;
}

/* finding 4: 500 forbidden writes (and not_found ones) by a field key store nothing */
static void test_refused_writes_store_nothing(void)
{
    int64_t before = trust_stat(&D, "idem_records");
    CU_ASSERT_TRUE_FATAL(before >= 0);
    lbc_t *c = trust_client(&D, field_sec, 20000);
    tally_t t = {.case_id = case6502}; /* another district's case */
    CU_ASSERT_EQUAL(
        trust_pipeline(c, "forbid", 500, 500, "case.act", note_on, count_reply, &t, false, 20000),
        500);
    CU_ASSERT_EQUAL(t.counts[1] + t.counts[4], 500); /* forbidden (or rate_limited) */
    tally_t nf = {.case_id = "C099999999"};
    CU_ASSERT_EQUAL(
        trust_pipeline(c, "nf", 50, 50, "case.act", note_on, count_reply, &nf, false, 20000), 50);
    CU_ASSERT_EQUAL(nf.counts[2] + nf.counts[4], 50);
    lbc_destroy(&c);
    int64_t after = trust_stat(&D, "idem_records");
    fprintf(stderr, "\n  idem_records %lld -> %lld\n", (long long)before, (long long)after);
    CU_ASSERT_EQUAL(after, before);
}

/* finding 4: a non-record action takes only team, level, reason and its require keys */
static void test_action_data_only_known_keys(void)
{
    int64_t seq0 = trust_last_seq(&D);
    lb_val_t *a = lb_map(), *d = lb_map();
    lb_map_set_str(a, "case_id", case6501);
    lb_map_set_str(a, "action", "schedule_visit");
    lb_map_set_str(d, "team", "team-1");
    lb_map_set_str(d, "junk", "x");
    lb_map_set(a, "data", d);
    lb_val_t *r = trust_call(&D, field_sec, "case.act", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "guard_failed");
    const char *code, *msg, *field;
    lbc_reply_error(r, &code, &msg, &field);
    CU_ASSERT_STRING_EQUAL(field, "data.junk");
    lb_val_free(&r);
    /* 128 KiB of unrelated keys: refused, nothing written */
    d = lb_map();
    lb_map_set_str(d, "team", "team-1");
    char key[32], val[64];
    memset(val, 'v', 63);
    val[63] = '\0';
    for (int i = 0; i < 2048; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        lb_map_set_str(d, key, val);
    }
    lb_map_set(a, "data", d);
    r = trust_call(&D, field_sec, "case.act", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "guard_failed");
    lb_val_free(&r);
    CU_ASSERT_EQUAL(trust_last_seq(&D), seq0);
    /* the keys the action may take are fine */
    d = lb_map();
    lb_map_set_str(d, "team", "team-1");
    lb_map_set_str(d, "reason", "planned");
    lb_map_set(a, "data", d);
    r = trust_call(&D, field_sec, "case.act", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
}

/* finding 5: one request id, one request */
static void test_request_id_means_one_request(void)
{
    lbc_t *c = trust_client(&D, field_sec, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *a = lb_map(), *d = lb_map(), *r = NULL, *r2 = NULL;
    lb_map_set_str(a, "case_id", case6501);
    lb_map_set_str(a, "action", "add_note");
    lb_map_set_str(d, "note", "first");
    lb_map_set(a, "data", d);
    char err[256];
    CU_ASSERT_EQUAL(lbc_call_id(c, "reuse-1", "case.act", a, &r, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    int64_t seq = trust_result_int(r, "seq", -1), last = trust_last_seq(&D);
    /* the identical request: the stored reply */
    CU_ASSERT_EQUAL(lbc_call_id(c, "reuse-1", "case.act", a, &r2, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r2), "");
    CU_ASSERT_EQUAL(trust_result_int(r2, "seq", -2), seq);
    lb_val_free(&r2);
    /* same id, different args */
    lb_map_set_str(lb_map_get(a, "data"), "note", "second");
    CU_ASSERT_EQUAL(lbc_call_id(c, "reuse-1", "case.act", a, &r2, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r2), "conflict");
    CU_ASSERT_PTR_NOT_NULL(strstr(trust_msg(r2), "request id reused for a different request"));
    lb_val_free(&r2);
    /* same id, different op */
    lb_val_t *g = lb_map();
    lb_map_set_str(g, "case_id", case6501);
    CU_ASSERT_EQUAL(lbc_call_id(c, "reuse-1", "case.get", g, &r2, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r2), "conflict");
    CU_ASSERT_PTR_NOT_NULL(strstr(trust_msg(r2), "request id reused for a different request"));
    lb_val_free(&r2);
    CU_ASSERT_EQUAL(lbc_call_id(c, "reuse-1", "case.open", NULL, &r2, err, sizeof err), 0);
    CU_ASSERT_STRING_NOT_EQUAL(testd_code(r2), "");
    lb_val_free(&r2);
    CU_ASSERT_EQUAL(trust_last_seq(&D), last); /* nothing new written */
    lb_val_free(&g);
    lb_val_free(&r);
    lb_val_free(&a);
    lbc_destroy(&c);
}

/* the per-key token bucket: a flood by one key is cut, another key is still served */
static void test_rate_limit_per_key(void)
{
    lbc_t *c = trust_client(&D, flooder_sec, 20000);
    tally_t t = {0};
    int64_t start = trust_ms();
    CU_ASSERT_EQUAL(
        trust_pipeline(c, "rl", 2000, 2000, "ping", NULL, count_reply, &t, false, 20000), 2000);
    int64_t elapsed = trust_ms() - start;
    lbc_destroy(&c);
    fprintf(stderr, "\n  2000 pings in %lld ms: ok %d, rate_limited %d\n", (long long)elapsed,
            t.counts[0], t.counts[4]);
    CU_ASSERT_EQUAL(t.counts[0] + t.counts[4], 2000);
    CU_ASSERT_TRUE(t.counts[0] >= 400); /* the burst */
    /* at most the burst plus what 200/s refilled while the flood lasted */
    CU_ASSERT_TRUE(t.counts[0] <= 400 + 200 * (elapsed / 1000 + 1));
    lb_val_t *r = trust_call(&D, field2_sec, "ping", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), ""); /* another key is not limited */
    lb_val_free(&r);
}

/* finding 4: idempotency records older than 24 h go, without a restart */
static void test_idem_records_pruned_after_24h(void)
{
    lbc_t *c = trust_client(&D, field_sec, 20000);
    tally_t t = {.case_id = case6501};
    CU_ASSERT_EQUAL(
        trust_pipeline(c, "old", 50, 50, "case.act", note_on, count_reply, &t, true, 20000), 50);
    lbc_destroy(&c);
    int64_t full = trust_stat(&D, "idem_records");
    CU_ASSERT_TRUE(full >= 50);
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "advance_s", 25 * 3600);
    lb_val_t *r = testd_call(&D, "admin.clock", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
    int64_t end = trust_ms() + 10000, now;
    for (;;) {
        now = trust_stat(&D, "idem_records");
        if ((now >= 0 && now <= full - 50) || trust_ms() > end)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000}; /* poll interval; the condition is re-checked */
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "\n  idem_records %lld, 25 h later %lld\n", (long long)full, (long long)now);
    CU_ASSERT_TRUE(now >= 0 && now <= full - 50);
}

/* finding 14 */
static void test_summary_by_state_has_no_empty_key(void)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "by", "state");
    lb_val_t *r = testd_call(&D, "report.summary", a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    const lb_val_t *rows = lb_map_get(lbc_reply_result(r), "rows");
    CU_ASSERT_TRUE_FATAL(rows && rows->type == LB_ARR && rows->a.n >= 2);
    for (uint32_t i = 0; i < rows->a.n; i++) {
        const char *k = lb_map_str(rows->a.items[i], "key");
        CU_ASSERT_TRUE(k && k[0]);
        const lb_val_t *bs = lb_map_get(rows->a.items[i], "by_state");
        for (uint32_t j = 0; bs && bs->type == LB_MAP && j < bs->m.n; j++)
            CU_ASSERT_TRUE(bs->m.keys[j][0] != '\0');
    }
    const lb_val_t *bs = lb_map_get(lb_map_get(lbc_reply_result(r), "totals"), "by_state");
    for (uint32_t j = 0; bs && bs->type == LB_MAP && j < bs->m.n; j++)
        CU_ASSERT_TRUE(bs->m.keys[j][0] != '\0');
    lb_val_free(&r);
    lb_val_free(&a);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("trust: floods", suite_init, suite_clean);
    CU_add_test(s, "finding 4: refused writes store no idempotency record",
                test_refused_writes_store_nothing);
    CU_add_test(s, "finding 4: non-record action data takes only known keys",
                test_action_data_only_known_keys);
    CU_add_test(s, "finding 5: a reused request id with another op or args is conflict",
                test_request_id_means_one_request);
    CU_add_test(s, "floods cost the flooder: per-key token bucket, rate_limited",
                test_rate_limit_per_key);
    CU_add_test(s, "finding 4: idempotency records older than 24 h are pruned continuously",
                test_idem_records_pruned_after_24h);
    CU_add_test(s, "finding 14: report.summary {by: state} has no empty key",
                test_summary_by_state_has_no_empty_key);
    return testd_run_all();
}
