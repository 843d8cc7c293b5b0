/*
 * store/events.c - events with the audit chain, and timers.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_test.h"

/* ---- events ---- */

typedef struct {
    uint64_t seqs[64];
    int n, stop_after;
} ev_q_t;

static int ev_cb(uint64_t seq, const void *body, size_t len, void *ctx)
{
    ev_q_t *q = ctx;
    char expect[32];
    snprintf(expect, sizeof expect, "event-%llu", (unsigned long long)seq);
    CU_ASSERT(len == strlen(expect) && memcmp(body, expect, len) == 0);
    if (q->n < 64)
        q->seqs[q->n] = seq;
    q->n++;
    return (q->stop_after && q->n >= q->stop_after) ? 1 : 0;
}

static int ev_tamper(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    int rc = store_event_overwrite_for_test(txn, 2, "evil", 4);
    CU_ASSERT_EQUAL(store_event_overwrite_for_test(txn, 99, "evil", 4), LB_ENOTFOUND);
    return rc;
}

static void test_events(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL;
    uint64_t seq;
    uint8_t chain[32], zero[32] = {0};
    const void *p;
    size_t len;
    ev_q_t q;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_event_tip(t, &seq, chain), 0);
    CU_ASSERT(seq == 0 && memcmp(chain, zero, 32) == 0);
    store_read_end(&t);

    ev_ctx_t e = {1, 5};
    CU_ASSERT_EQUAL(store_write(s, ev_fill, &e), 0);
    ev_ctx_t gap = {7, 7}, again = {5, 5}, zero_seq = {0, 0};
    CU_ASSERT_EQUAL(store_write(s, ev_fill, &gap), LB_EINTERNAL);
    CU_ASSERT_EQUAL(store_write(s, ev_fill, &again), LB_EINTERNAL);
    CU_ASSERT_EQUAL(store_write(s, ev_fill, &zero_seq), LB_EINTERNAL);
    store_close(&s);

    s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_event_tip(t, &seq, chain), 0);
    CU_ASSERT_EQUAL(seq, 5);
    CU_ASSERT_EQUAL(chain[0], 5);
    CU_ASSERT_EQUAL(store_event_get(t, 3, &p, &len), 0);
    CU_ASSERT(len == 7 && memcmp(p, "event-3", 7) == 0);
    CU_ASSERT_EQUAL(store_event_get(t, 6, &p, &len), LB_ENOTFOUND);
    store_read_end(&t);

    e.from = 6;
    e.to = 8;
    CU_ASSERT_EQUAL(store_write(s, ev_fill, &e), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(store_events(t, 0, ev_cb, &q), 0);
    CU_ASSERT_EQUAL(q.n, 8);
    CU_ASSERT(q.seqs[0] == 1 && q.seqs[7] == 8);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(store_events(t, 5, ev_cb, &q), 0);
    CU_ASSERT(q.n == 3 && q.seqs[0] == 6);
    memset(&q, 0, sizeof q);
    q.stop_after = 2;
    CU_ASSERT_EQUAL(store_events(t, 2, ev_cb, &q), 0);
    CU_ASSERT(q.n == 2 && q.seqs[0] == 3 && q.seqs[1] == 4);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(store_events(t, 8, ev_cb, &q), 0);
    CU_ASSERT_EQUAL(q.n, 0);
    CU_ASSERT_EQUAL(store_events(t, UINT64_MAX, ev_cb, &q), 0);
    store_read_end(&t);

    CU_ASSERT_EQUAL(store_write(s, ev_tamper, NULL), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_event_get(t, 2, &p, &len), 0);
    CU_ASSERT(len == 4 && memcmp(p, "evil", 4) == 0);
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

/* The tips a write transaction keeps in memory (event chain, case ids) follow nested
 * transactions: an aborted one's appends are forgotten, a committed one's are the parent's. */
static int ev_nested(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    store_txn_t *c = NULL;
    uint64_t seq, id;
    uint8_t chain[32], mark[32];
    memset(mark, 9, sizeof mark);
    CU_ASSERT_EQUAL(store_event_tip(txn, &seq, chain), 0);
    CU_ASSERT_EQUAL(seq, 8);
    CU_ASSERT_EQUAL(store_next_case_id(txn, &id), 0);
    CU_ASSERT_EQUAL(id, 1);

    CU_ASSERT_EQUAL_FATAL(store_nested_begin(txn, &c), 0);
    CU_ASSERT_EQUAL(store_event_append(c, 9, "event-9", 7, mark), 0);
    CU_ASSERT_EQUAL(store_next_case_id(c, &id), 0);
    CU_ASSERT_EQUAL(id, 2);
    store_nested_abort(&c);
    CU_ASSERT_EQUAL(store_event_tip(txn, &seq, chain), 0);
    CU_ASSERT(seq == 8 && chain[0] == 8);
    CU_ASSERT_EQUAL_FATAL(store_nested_begin(txn, &c), 0);
    CU_ASSERT_EQUAL(store_event_tip(c, &seq, chain), 0);
    CU_ASSERT_EQUAL(seq, 8);
    CU_ASSERT_EQUAL(store_event_append(c, 9, "event-9", 7, mark), 0);
    CU_ASSERT_EQUAL(store_next_case_id(c, &id), 0);
    CU_ASSERT_EQUAL(id, 2);
    CU_ASSERT_EQUAL(store_nested_commit(&c), 0);
    CU_ASSERT_EQUAL(store_event_tip(txn, &seq, chain), 0);
    CU_ASSERT(seq == 9 && chain[0] == 9);
    CU_ASSERT_EQUAL(store_event_append(txn, 9, "event-9", 7, mark), LB_EINTERNAL);
    CU_ASSERT_EQUAL(store_next_case_id(txn, &id), 0);
    CU_ASSERT_EQUAL(id, 3);
    return 0;
}

static void test_events_nested(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL;
    uint64_t seq, id;
    uint8_t chain[32];
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ev_ctx_t e = {1, 8};
    CU_ASSERT_EQUAL(store_write(s, ev_fill, &e), 0);
    CU_ASSERT_EQUAL(store_write(s, ev_nested, NULL), 0);
    store_close(&s);

    s = open_store(dir, 0); /* what reached meta at commit */
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_event_tip(t, &seq, chain), 0);
    CU_ASSERT(seq == 9 && chain[0] == 9);
    CU_ASSERT_EQUAL(store_meta_get_u64(t, "case_seq", &id), 0);
    CU_ASSERT_EQUAL(id, 3);
    store_read_end(&t);
    e = (ev_ctx_t){10, 10};
    CU_ASSERT_EQUAL(store_write(s, ev_fill, &e), 0);
    store_close(&s);
    tmpdir_free(&dir);
}

/* ---- timers ---- */

static int first_timer(store_t *s, int64_t *due, uint64_t *id, uint32_t *step)
{
    store_txn_t *t = NULL;
    int rc = store_read_begin(s, &t);
    if (rc == 0)
        rc = store_timer_first(t, due, id, step);
    store_read_end(&t);
    return rc;
}

static void test_timers(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    int64_t due = 0;
    uint64_t id = 0;
    uint32_t step = 0;
    store_stats_t st;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    CU_ASSERT_EQUAL(first_timer(s, &due, &id, &step), LB_ENOTFOUND);
    const timer_op_t set[] = {
        {0, 1, 5000, 1}, {0, 2, 300, 7}, {0, 3, -20, 2}, {0, 4, 300, 3}, {0, 5, INT64_MAX, 9},
    };
    CU_ASSERT_EQUAL(run_timers(s, set, 5), 0);
    /* Negative times sort before positive ones. */
    CU_ASSERT_EQUAL(first_timer(s, &due, &id, &step), 0);
    CU_ASSERT(due == -20 && id == 3 && step == 2);

    /* Replace: case 3 moves later; ties on due go by case id. */
    const timer_op_t repl[] = {{0, 3, 400, 4}};
    CU_ASSERT_EQUAL(run_timers(s, repl, 1), 0);
    CU_ASSERT_EQUAL(first_timer(s, &due, &id, &step), 0);
    CU_ASSERT(due == 300 && id == 2 && step == 7);
    CU_ASSERT_EQUAL(store_stats(s, &st), 0);
    CU_ASSERT_EQUAL(st.timers, 5);

    /* Clear: 2, then 4 (twice: no error), leaves 3 first. */
    const timer_op_t clr[] = {{1, 2, 0, 0}, {1, 4, 0, 0}, {1, 4, 0, 0}, {1, 77, 0, 0}};
    CU_ASSERT_EQUAL(run_timers(s, clr, 4), 0);
    CU_ASSERT_EQUAL(first_timer(s, &due, &id, &step), 0);
    CU_ASSERT(due == 400 && id == 3 && step == 4);
    CU_ASSERT_EQUAL(store_stats(s, &st), 0);
    CU_ASSERT_EQUAL(st.timers, 3);

    const timer_op_t rest[] = {{1, 3, 0, 0}, {1, 1, 0, 0}};
    CU_ASSERT_EQUAL(run_timers(s, rest, 2), 0);
    CU_ASSERT_EQUAL(first_timer(s, &due, &id, &step), 0);
    CU_ASSERT(due == INT64_MAX && id == 5 && step == 9);
    const timer_op_t last[] = {{1, 5, 0, 0}};
    CU_ASSERT_EQUAL(run_timers(s, last, 1), 0);
    CU_ASSERT_EQUAL(first_timer(s, &due, &id, &step), LB_ENOTFOUND);
    store_close(&s);
    tmpdir_free(&dir);
}

static const cu_test_t tests[] = {
    {"events: append, contiguity, tip, iteration", test_events},
    {"events: tips and case ids across nested transactions", test_events_nested},
    {"timers: order, replace, clear, first", test_timers},
};
const cu_suite_t store_events_suite = {.name = "events", .tests = tests, .n = CU_COUNT(tests)};
