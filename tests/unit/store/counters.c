/*
 * store/counters.c - report counters across scopes and their children, and their verification
 * against the cases.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_test.h"

/* ---- counters ---- */

/* Children collector: "scope/name=value" joined by spaces. */
typedef struct {
    char out[2048];
    int n;
    int stop_after;
} child_q_t;

static int child_cb(const char *scope, const char *name, uint64_t value, void *ctx)
{
    child_q_t *q = ctx;
    if (strcmp(name, "cases") != 0)
        return 0;
    size_t used = strlen(q->out);
    snprintf(q->out + used, sizeof q->out - used, "%s%s=%llu", used ? " " : "", scope,
             (unsigned long long)value);
    q->n++;
    return (q->stop_after && q->n >= q->stop_after) ? 1 : 0;
}

static void children(store_t *s, const char *parent, int digits, child_q_t *q, int expect_rc)
{
    store_txn_t *t = NULL;
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_counts_children(t, parent, digits, child_cb, q), expect_rc);
    store_read_end(&t);
}

/*
 * Three open cases: a (65010101, two health needs and one income need,
 * escalated to district, unacknowledged), b (65010202, one health need) and
 * c (66010101, visited).
 */
static void three_cases(store_t *s, store_case_meta_t *a, store_case_meta_t *b,
                        store_case_meta_t *c)
{
    *a = meta_of("65010101", "identified", "30000000001", true);
    a->needs_open[0] = 2; /* health */
    a->needs_open[3] = 1; /* income */
    snprintf(a->esc_level, sizeof a->esc_level, "district");
    a->overdue = a->unacked = true;
    *b = meta_of("65010202", "identified", "30000000002", true);
    b->needs_open[0] = 1;
    *c = meta_of("66010101", "visited", "30000000003", true);
    c->visited = true;
    CU_ASSERT_EQUAL(write_case(s, 1, NULL, a), 0);
    CU_ASSERT_EQUAL(write_case(s, 2, NULL, b), 0);
    CU_ASSERT_EQUAL(write_case(s, 3, NULL, c), 0);
}

static void test_counters(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_case_meta_t a, b, c;
    three_cases(s, &a, &b, &c);

    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 3);
    CU_ASSERT_EQUAL(count_of(s, "", "open"), 3);
    CU_ASSERT_EQUAL(count_of(s, "", "visited"), 1);
    CU_ASSERT_EQUAL(count_of(s, "", "need:health"), 3);
    CU_ASSERT_EQUAL(count_of(s, "", "need:income"), 1);
    CU_ASSERT_EQUAL(count_of(s, "", "need:living"), 0);
    CU_ASSERT_EQUAL(count_of(s, "65", "cases"), 2);
    CU_ASSERT_EQUAL(count_of(s, "6501", "state:identified"), 2);
    CU_ASSERT_EQUAL(count_of(s, "650101", "cases"), 1);
    CU_ASSERT_EQUAL(count_of(s, "65010101", "esc:district"), 1);
    CU_ASSERT_EQUAL(count_of(s, "65010101", "overdue"), 1);
    CU_ASSERT_EQUAL(count_of(s, "65010202", "esc:district"), 0);
    CU_ASSERT_EQUAL(count_of(s, "66", "state:visited"), 1);
    CU_ASSERT_EQUAL(count_of(s, "67", "cases"), 0);

    /* Progress: visited, level set, one need met, escalation acknowledged. */
    store_case_meta_t a2 = a;
    snprintf(a2.state, sizeof a2.state, "visited");
    a2.visited = true;
    snprintf(a2.level, sizeof a2.level, "survive");
    a2.needs_open[0] = 1;
    a2.unacked = false;
    CU_ASSERT_EQUAL(write_case(s, 1, &a, &a2), 0);
    CU_ASSERT_EQUAL(count_of(s, "6501", "state:identified"), 1);
    CU_ASSERT_EQUAL(count_of(s, "6501", "state:visited"), 1);
    CU_ASSERT_EQUAL(count_of(s, "", "state:visited"), 2);
    CU_ASSERT_EQUAL(count_of(s, "650101", "level:survive"), 1);
    CU_ASSERT_EQUAL(count_of(s, "", "need:health"), 2);
    CU_ASSERT_EQUAL(count_of(s, "65010101", "unacked"), 0);
    CU_ASSERT_EQUAL(count_of(s, "65010101", "esc:district"), 1);

    /* Closing: open and esc drop, closed appears; zero counters vanish. */
    store_case_meta_t a3 = a2;
    snprintf(a3.state, sizeof a3.state, "closed");
    snprintf(a3.outcome, sizeof a3.outcome, "closed");
    a3.open = false;
    a3.overdue = false;
    memset(a3.needs_open, 0, sizeof a3.needs_open);
    CU_ASSERT_EQUAL(write_case(s, 1, &a2, &a3), 0);
    CU_ASSERT_EQUAL(count_of(s, "65010101", "open"), 0);
    CU_ASSERT_EQUAL(count_of(s, "65010101", "esc:district"), 0);
    CU_ASSERT_EQUAL(count_of(s, "", "closed"), 1);
    CU_ASSERT_EQUAL(count_of(s, "", "open"), 2);
    /* cases, visited, closed, state:closed, level:survive: nothing else left. */
    CU_ASSERT_EQUAL(count_total(s, "65010101"), 5);
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_counters_children(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_case_meta_t a, b, c;
    three_cases(s, &a, &b, &c);

    /* Children: provinces, then districts of 65, then villages of 650102. */
    child_q_t q;
    memset(&q, 0, sizeof q);
    children(s, "", 2, &q, 0);
    CU_ASSERT_STRING_EQUAL(q.out, "65=2 66=1");
    memset(&q, 0, sizeof q);
    children(s, "65", 4, &q, 0);
    CU_ASSERT_STRING_EQUAL(q.out, "6501=2");
    memset(&q, 0, sizeof q);
    children(s, "65", 6, &q, 0);
    CU_ASSERT_STRING_EQUAL(q.out, "650101=1 650102=1");
    memset(&q, 0, sizeof q);
    children(s, "", 8, &q, 0);
    CU_ASSERT_STRING_EQUAL(q.out, "65010101=1 65010202=1 66010101=1");
    memset(&q, 0, sizeof q);
    q.stop_after = 1;
    children(s, "", 8, &q, 0);
    CU_ASSERT_STRING_EQUAL(q.out, "65010101=1");
    memset(&q, 0, sizeof q);
    children(s, "67", 4, &q, 0);
    CU_ASSERT_EQUAL(q.n, 0);
    children(s, "65", 2, &q, LB_EBADREQ);
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_counters_corrupt_old(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_case_meta_t a, b, c;
    three_cases(s, &a, &b, &c);

    /* A decrement below zero means old was not what was written. */
    store_case_meta_t bogus = meta_of("67010101", "identified", "30000000009", false);
    store_case_meta_t bogus2 = bogus;
    snprintf(bogus2.state, sizeof bogus2.state, "visited");
    CU_ASSERT_EQUAL(write_case(s, 3, &c, &c), 0); /* no change at all is fine */
    /* The index has no entry for case 9 under its old state. */
    CU_ASSERT_EQUAL(write_case(s, 9, &bogus, &bogus2), LB_ECORRUPT);
    CU_ASSERT_EQUAL(count_total(s, "67"), 0);
    /* Case 3 was never overdue: taking it out of "overdue" goes below 0. */
    store_case_meta_t c_over = c;
    c_over.overdue = true;
    CU_ASSERT_EQUAL(write_case(s, 3, &c_over, &c), LB_ECORRUPT);
    /* The refused write left every counter as it was: only case 1 is overdue. */
    CU_ASSERT_EQUAL(count_of(s, "", "overdue"), 1);
    CU_ASSERT_EQUAL(count_of(s, "66", "overdue"), 0);
    CU_ASSERT_EQUAL(count_of(s, "66", "cases"), 1);
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_counters_area_move(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    list_q_t q;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    store_case_meta_t a = meta_of("65010101", "identified", "40000000001", true);
    a.needs_open[1] = 3;
    store_case_meta_t b = a;
    snprintf(b.area, sizeof b.area, "65020101");
    snprintf(b.state, sizeof b.state, "visited");
    CU_ASSERT_EQUAL(write_case(s, 1, NULL, &a), 0);
    CU_ASSERT_EQUAL(write_case(s, 1, &a, &b), 0);
    CU_ASSERT_EQUAL(count_total(s, "6501"), 0);
    CU_ASSERT_EQUAL(count_total(s, "65010101"), 0);
    CU_ASSERT_EQUAL(count_of(s, "6502", "cases"), 1);
    CU_ASSERT_EQUAL(count_of(s, "65020101", "need:living"), 3);
    CU_ASSERT_EQUAL(count_of(s, "65", "cases"), 1);
    CU_ASSERT_EQUAL(count_of(s, "65", "state:visited"), 1);
    CU_ASSERT_EQUAL(count_of(s, "65", "state:identified"), 0);
    CU_ASSERT_EQUAL(count_of(s, "", "need:living"), 3);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "", NULL, NULL, NULL, 0, &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "1:65020101:visited");
    store_close(&s);
    tmpdir_free(&dir);
}

/* ---- verification ---- */

/* What the verifier's caller would decode from each case: here a table by id. */
typedef struct {
    store_case_meta_t m[4]; /* index = case id */
    int fail_id;            /* fn fails with LB_ECORRUPT on this id */
    int seen;
} verify_ctx_t;

static int verify_meta(uint64_t id, const void *data, size_t len, store_case_meta_t *meta,
                       void *ctx)
{
    verify_ctx_t *v = ctx;
    char want[32];
    snprintf(want, sizeof want, "case:%llu:", (unsigned long long)id);
    CU_ASSERT_TRUE(len > strlen(want) && memcmp(data, want, strlen(want)) == 0);
    v->seen++;
    if ((int)id == v->fail_id)
        return LB_ECORRUPT;
    CU_ASSERT_FATAL(id < 4);
    *meta = v->m[id];
    return 0;
}

static int verify(store_t *s, int digits, verify_ctx_t *v, store_count_diff_t *d)
{
    store_txn_t *t = NULL;
    int rc = store_read_begin(s, &t);
    v->seen = 0;
    if (rc == 0)
        rc = store_counts_verify(t, digits, verify_meta, v, d);
    store_read_end(&t);
    return rc;
}

static void test_counts_verify(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    verify_ctx_t v = {.fail_id = 0};
    store_count_diff_t d;
    three_cases(s, &v.m[1], &v.m[2], &v.m[3]);

    /* The metas as written: every scope agrees. */
    for (int digits = 0; digits <= 8; digits++)
        CU_ASSERT_EQUAL(verify(s, digits, &v, &d), 0);
    CU_ASSERT_EQUAL(v.seen, 3);
    CU_ASSERT_STRING_EQUAL(d.name, "");

    /* Case 2 is in fact visited: "" sorts first, so its counter is named. */
    v.m[2].visited = true;
    CU_ASSERT_EQUAL(verify(s, 8, &v, &d), 1);
    CU_ASSERT_STRING_EQUAL(d.scope, "");
    CU_ASSERT_STRING_EQUAL(d.name, "visited");
    CU_ASSERT_EQUAL(d.stored, 1);
    CU_ASSERT_EQUAL(d.computed, 2);
    v.m[2].visited = false;

    /* A counter the cases make and the store lacks (it sorts after cases ... overdue). */
    snprintf(v.m[3].level, sizeof v.m[3].level, "sufficient");
    CU_ASSERT_EQUAL(verify(s, 0, &v, &d), 1);
    CU_ASSERT_STRING_EQUAL(d.scope, "");
    CU_ASSERT_STRING_EQUAL(d.name, "level:sufficient");
    CU_ASSERT_EQUAL(d.stored, 0);
    CU_ASSERT_EQUAL(d.computed, 1);
    v.m[3].level[0] = '\0';

    /* A stored counter no case makes: case 1's overdue flag was lost. */
    v.m[1].overdue = false;
    CU_ASSERT_EQUAL(verify(s, 2, &v, &d), 1);
    CU_ASSERT_STRING_EQUAL(d.scope, "");
    CU_ASSERT_STRING_EQUAL(d.name, "overdue");
    CU_ASSERT_EQUAL(d.stored, 1);
    CU_ASSERT_EQUAL(d.computed, 0);
    v.m[1].overdue = true;

    /* Case 2 really lives in the next village: only the 8-digit scopes differ. */
    snprintf(v.m[2].area, sizeof v.m[2].area, "65010203");
    CU_ASSERT_EQUAL(verify(s, 6, &v, &d), 0);
    CU_ASSERT_EQUAL(verify(s, 8, &v, &d), 1);
    CU_ASSERT_STRING_EQUAL(d.scope, "65010202");
    CU_ASSERT_STRING_EQUAL(d.name, "cases");
    CU_ASSERT_EQUAL(d.stored, 1);
    CU_ASSERT_EQUAL(d.computed, 0);
    snprintf(v.m[2].area, sizeof v.m[2].area, "65010202");

    /* Errors: fn's own, a meta the store would refuse, bad digits, NULLs. */
    v.fail_id = 2;
    CU_ASSERT_EQUAL(verify(s, 8, &v, &d), LB_ECORRUPT);
    CU_ASSERT_EQUAL(v.seen, 2);
    v.fail_id = 0;
    v.m[3].state[0] = '\0';
    CU_ASSERT_EQUAL(verify(s, 8, &v, &d), LB_EINTERNAL);
    snprintf(v.m[3].state, sizeof v.m[3].state, "visited");
    CU_ASSERT_EQUAL(verify(s, 9, &v, &d), LB_EBADREQ);
    CU_ASSERT_EQUAL(verify(s, -1, &v, &d), LB_EBADREQ);
    store_txn_t *t = NULL;
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_counts_verify(t, 8, NULL, &v, &d), LB_EINTERNAL);
    CU_ASSERT_EQUAL(store_counts_verify(t, 8, verify_meta, &v, NULL), LB_EINTERNAL);
    store_read_end(&t);
    CU_ASSERT_EQUAL(verify(s, 8, &v, &d), 0);

    /* An empty store agrees with itself. */
    store_close(&s);
    tmpdir_free(&dir);
    dir = tmpdir_new();
    s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(verify(s, 8, &v, &d), 0);
    CU_ASSERT_EQUAL(v.seen, 0);
    store_close(&s);
    tmpdir_free(&dir);
}

typedef struct {
    uint64_t ids[8];
    int n, stop_at;
} each_ctx_t;

static int each_fn(uint64_t id, const void *data, size_t len, void *ctx)
{
    each_ctx_t *e = ctx;
    (void)data;
    (void)len;
    e->ids[e->n++] = id;
    if (e->n == e->stop_at)
        return 1;
    return e->n >= 8 ? -99 : 0;
}

static void test_cases_each(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_case_meta_t a, b, c;
    three_cases(s, &a, &b, &c);
    store_txn_t *t = NULL;
    CU_ASSERT_EQUAL_FATAL(store_read_begin(s, &t), 0);

    each_ctx_t e = {.n = 0};
    CU_ASSERT_EQUAL(store_cases_each(t, 0, each_fn, &e), 0);
    CU_ASSERT_EQUAL(e.n, 3);
    CU_ASSERT(e.ids[0] == 1 && e.ids[1] == 2 && e.ids[2] == 3);
    e = (each_ctx_t){.n = 0};
    CU_ASSERT_EQUAL(store_cases_each(t, 1, each_fn, &e), 0);
    CU_ASSERT(e.n == 2 && e.ids[0] == 2);
    e = (each_ctx_t){.n = 0, .stop_at = 1};
    CU_ASSERT_EQUAL(store_cases_each(t, 0, each_fn, &e), 0);
    CU_ASSERT_EQUAL(e.n, 1);
    e = (each_ctx_t){.n = 7};
    CU_ASSERT_EQUAL(store_cases_each(t, 0, each_fn, &e), -99);
    e = (each_ctx_t){.n = 0};
    CU_ASSERT_EQUAL(store_cases_each(t, 3, each_fn, &e), 0);
    CU_ASSERT_EQUAL(store_cases_each(t, UINT64_MAX, each_fn, &e), 0);
    CU_ASSERT_EQUAL(e.n, 0);
    CU_ASSERT_EQUAL(store_cases_each(t, 0, NULL, &e), LB_EINTERNAL);
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

static const cu_test_t tests[] = {
    {"counters across scopes", test_counters},
    {"counters of child scopes", test_counters_children},
    {"counters refuse an old meta that was never written", test_counters_corrupt_old},
    {"counters when the area changes", test_counters_area_move},
    {"counters recomputed from the cases", test_counts_verify},
    {"every case in id order", test_cases_each},
};
const cu_suite_t store_counters_suite = {.name = "counters", .tests = tests, .n = CU_COUNT(tests)};
