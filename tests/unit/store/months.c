/*
 * store/months.c - the month counters: counted in the case write's own
 * transaction in Asia/Bangkok months, only ever growing, read back by
 * store_months for a range of months, and left out of store_counts and
 * store_counts_verify.
 */
#include <stdio.h>
#include <string.h>

#include "store_test.h"

/* 2026-01-31 17:00 UTC is 2026-02-01 00:00 in Bangkok. */
#define JAN_31_16H_UTC INT64_C(1769875200000) /* 2026-01-31 16:00:00 UTC */
#define FEB_1_BKK INT64_C(1769878800000)      /* 2026-01-31 17:00:00 UTC */
#define MAR_10 INT64_C(1773100800000)         /* 2026-03-10 00:00:00 UTC */

typedef struct {
    char out[2048];
    uint64_t sum[8]; /* by name: opened visited assisted resolved closed escalated */
} month_q_t;

static const char *const names[] = {"opened",   "visited", "assisted",
                                    "resolved", "closed",  "escalated"};

static int month_cb(const char *scope, const char *month, const char *name, uint64_t value,
                    void *ctx)
{
    month_q_t *q = ctx;
    char one[64];
    (void)scope;
    snprintf(one, sizeof one, "%s/%s=%llu", month, name, (unsigned long long)value);
    append(q->out, sizeof q->out, one);
    for (int i = 0; i < 6; i++)
        if (strcmp(name, names[i]) == 0)
            q->sum[i] += value;
    return 0;
}

static int months_of(store_t *s, const char *scope, const char *from, const char *to, month_q_t *q)
{
    store_txn_t *t = NULL;
    memset(q, 0, sizeof *q);
    int rc = store_read_begin(s, &t);
    if (rc == 0)
        rc = store_months(t, scope, from, to, month_cb, q);
    store_read_end(&t);
    return rc;
}

static void test_month_of(void)
{
    char m[8];
    store_month_of(JAN_31_16H_UTC, m);
    CU_ASSERT_STRING_EQUAL(m, "2026-01");
    store_month_of(FEB_1_BKK - 1, m);
    CU_ASSERT_STRING_EQUAL(m, "2026-01");
    store_month_of(FEB_1_BKK, m);
    CU_ASSERT_STRING_EQUAL(m, "2026-02");
    store_month_of(0, m);
    CU_ASSERT_STRING_EQUAL(m, "1970-01");
    store_month_of(INT64_C(951782400000), m); /* 2000-02-29 00:00 UTC */
    CU_ASSERT_STRING_EQUAL(m, "2000-02");
    store_month_of(INT64_C(-1000), m); /* 1969-12-31 23:59:59 UTC: 06:59 in Bangkok */
    CU_ASSERT_STRING_EQUAL(m, "1970-01");
}

static void test_months_count(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    month_q_t q;

    /* Two cases opened in January (Bangkok), one of them on the last evening. */
    store_case_meta_t a = meta_of("65010101", "identified", "70000000001", true);
    store_case_meta_t b = meta_of("65010202", "identified", "70000000002", true);
    a.at = JAN_31_16H_UTC;
    b.at = JAN_31_16H_UTC - 86400000;
    CU_ASSERT_EQUAL(write_case(s, 1, NULL, &a), 0);
    CU_ASSERT_EQUAL(write_case(s, 2, NULL, &b), 0);

    /* February: a visited, escalated; a change without at is not counted by month. */
    store_case_meta_t a2 = a;
    a2.at = FEB_1_BKK;
    a2.visited = true;
    snprintf(a2.state, sizeof a2.state, "visited");
    CU_ASSERT_EQUAL(write_case(s, 1, &a, &a2), 0);
    store_case_meta_t a3 = a2;
    a3.overdue = a3.unacked = true;
    snprintf(a3.esc_level, sizeof a3.esc_level, "district");
    CU_ASSERT_EQUAL(write_case(s, 1, &a2, &a3), 0);
    /* The same escalation written again (an acknowledgement) counts nothing more. */
    store_case_meta_t a4 = a3;
    a4.unacked = false;
    CU_ASSERT_EQUAL(write_case(s, 1, &a3, &a4), 0);
    store_case_meta_t b2 = b;
    b2.at = 0;
    b2.visited = true;
    CU_ASSERT_EQUAL(write_case(s, 2, &b, &b2), 0);

    /* March: a assisted and resolved in one change. */
    store_case_meta_t a5 = a4;
    a5.at = MAR_10;
    a5.assisted = true;
    a5.open = a5.overdue = false;
    a5.esc_level[0] = '\0';
    snprintf(a5.outcome, sizeof a5.outcome, "resolved");
    snprintf(a5.state, sizeof a5.state, "resolved");
    CU_ASSERT_EQUAL(write_case(s, 1, &a4, &a5), 0);

    CU_ASSERT_EQUAL(months_of(s, "", "2025-01", "2026-12", &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "2026-01/opened=2 2026-02/escalated=1 2026-02/visited=1 "
                                  "2026-03/assisted=1 2026-03/resolved=1");
    CU_ASSERT_EQUAL(months_of(s, "6501", "2026-02", "2026-02", &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "2026-02/escalated=1 2026-02/visited=1");
    CU_ASSERT_EQUAL(months_of(s, "65010202", "2026-01", "2026-03", &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "2026-01/opened=1");
    CU_ASSERT_EQUAL(months_of(s, "66", "2026-01", "2026-03", &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "");

    /* The months add up to the counters while every change had its time. */
    CU_ASSERT_EQUAL(months_of(s, "650101", "2000-01", "2099-12", &q), 0);
    CU_ASSERT_EQUAL(q.sum[0], count_of(s, "650101", "cases"));
    CU_ASSERT_EQUAL(q.sum[1], count_of(s, "650101", "visited"));
    CU_ASSERT_EQUAL(q.sum[2], count_of(s, "650101", "assisted"));
    CU_ASSERT_EQUAL(q.sum[3], count_of(s, "650101", "resolved"));

    /* store_counts never shows them: the village's counters are the usual ones. */
    CU_ASSERT_EQUAL(count_of(s, "65010101", "m:2026-01:opened"), 0);
    CU_ASSERT_EQUAL(count_total(s, "65010101"), 5); /* cases visited assisted resolved state */
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_months_errors(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    month_q_t q;
    CU_ASSERT_EQUAL(months_of(s, "", "2026-1", "2026-12", &q), LB_EBADREQ);
    CU_ASSERT_EQUAL(months_of(s, "", "2026-00", "2026-12", &q), LB_EBADREQ);
    CU_ASSERT_EQUAL(months_of(s, "", "2026-01", "2026-13", &q), LB_EBADREQ);
    CU_ASSERT_EQUAL(months_of(s, "650101011", "2026-01", "2026-12", &q), LB_EBADREQ);
    store_txn_t *t = NULL;
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_months(t, "", "2026-01", "2026-02", NULL, NULL), LB_EINTERNAL);
    CU_ASSERT_EQUAL(store_months(NULL, "", "2026-01", "2026-02", month_cb, &q), LB_EINTERNAL);
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

/* What verify recomputes from the cases has no months: it must not call them missing. */
static int verify_one(uint64_t id, const void *data, size_t len, store_case_meta_t *meta, void *ctx)
{
    (void)id;
    (void)data;
    (void)len;
    *meta = *(const store_case_meta_t *)ctx;
    return 0;
}

static void test_months_verify(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_case_meta_t a = meta_of("65010101", "identified", "70000000003", true);
    a.at = MAR_10;
    CU_ASSERT_EQUAL(write_case(s, 1, NULL, &a), 0);
    store_txn_t *t = NULL;
    store_count_diff_t d;
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    for (int digits = 0; digits <= 8; digits += 2)
        CU_ASSERT_EQUAL(store_counts_verify(t, digits, verify_one, &a, &d), 0);
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

static const cu_test_t tests[] = {
    {"a month in Bangkok time", test_month_of},
    {"month counters counted and read back", test_months_count},
    {"month ranges and arguments refused", test_months_errors},
    {"month counters left out of verification", test_months_verify},
};

const cu_suite_t store_months_suite = {.name = "months", .tests = tests, .n = CU_COUNT(tests)};
