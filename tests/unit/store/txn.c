/*
 * store/txn.c - transactions (nested, aborted, read snapshots), map growth, backup and stats.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_test.h"

/* ---- transactions ---- */

static int nested_fn(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    store_txn_t *c1 = NULL, *c2 = NULL, *g = NULL;
    store_case_meta_t m1 = meta_of("65010101", "identified", "50000000001", true);
    store_case_meta_t m2 = meta_of("65010101", "identified", "50000000002", true);
    uint8_t chain[32] = {0};

    /* Request 1 writes a case, an event and a timer, then fails. */
    int rc = store_nested_begin(txn, &c1);
    if (rc)
        return rc;
    CU_ASSERT_EQUAL(store_nested_begin(txn, &c2), LB_EINTERNAL); /* parent busy */
    CU_ASSERT_PTR_NULL(c2);
    CU_ASSERT_EQUAL(put_case(c1, 1, NULL, &m1), 0);
    CU_ASSERT_EQUAL(store_event_append(c1, 1, "a", 1, chain), 0);
    CU_ASSERT_EQUAL(store_timer_set(c1, 1, 10, 1), 0);
    store_nested_abort(&c1);
    CU_ASSERT_PTR_NULL(c1);

    /* Request 2 does the same with a nested level of its own, and commits. */
    rc = store_nested_begin(txn, &c2);
    if (rc)
        return rc;
    CU_ASSERT_EQUAL(put_case(c2, 2, NULL, &m2), 0);
    CU_ASSERT_EQUAL(store_event_append(c2, 1, "b", 1, chain), 0);
    CU_ASSERT_EQUAL(store_nested_begin(c2, &g), 0);
    CU_ASSERT_EQUAL(store_timer_set(g, 2, 20, 1), 0);
    CU_ASSERT_EQUAL(store_nested_commit(&g), 0);
    CU_ASSERT_PTR_NULL(g);
    rc = store_nested_commit(&c2);
    CU_ASSERT_PTR_NULL(c2);
    return rc;
}

static void test_nested(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL;
    char buf[64];
    uint64_t id;
    int64_t due;
    uint32_t step;
    const void *p;
    size_t len;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_write(s, nested_fn, NULL), 0);

    CU_ASSERT_EQUAL(read_case(s, 1, buf, sizeof buf), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(read_case(s, 2, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_household_open_case(t, "50000000001", &id), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(store_event_get(t, 1, &p, &len), 0);
    CU_ASSERT(len == 1 && memcmp(p, "b", 1) == 0);
    CU_ASSERT_EQUAL(store_timer_first(t, &due, &id, &step), 0);
    CU_ASSERT(due == 20 && id == 2);
    store_read_end(&t);
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 1);
    store_close(&s);
    tmpdir_free(&dir);
}

static int fail_fn(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    store_case_meta_t m = meta_of("65010101", "identified", "60000000001", true);
    int rc = put_case(txn, 1, NULL, &m);
    if (rc == 0)
        rc = store_meta_put_u64(txn, "x", 5);
    return rc ? rc : LB_ECONFLICT;
}

static int leave_open_fn(store_txn_t *txn, void *ctx)
{
    store_txn_t **child = ctx;
    int rc = store_nested_begin(txn, child);
    if (rc == 0)
        rc = store_meta_put_u64(*child, "x", 6);
    return rc;
}

static int snap_fn(store_txn_t *txn, void *ctx)
{
    return store_meta_put_u64(txn, "snap", *(uint64_t *)ctx);
}

static int reenter_fn(store_txn_t *txn, void *ctx)
{
    store_t *s = ctx;
    /* A write inside a write would wait on LMDB's writer lock forever. */
    CU_ASSERT_EQUAL(store_write(s, snap_fn, NULL), LB_EINTERNAL);
    CU_ASSERT_EQUAL(store_grow(s), LB_EINTERNAL);
    return store_meta_put_u64(txn, "x", 7);
}

static void test_write_error_aborts(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL, *child = NULL;
    char buf[64];
    uint64_t v = 1;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    CU_ASSERT_EQUAL(store_write(s, fail_fn, NULL), LB_ECONFLICT);
    CU_ASSERT_EQUAL(read_case(s, 1, buf, sizeof buf), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(count_total(s, ""), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_meta_get_u64(t, "x", &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    store_read_end(&t);

    /* Re-entering store_write from fn is refused; the outer write goes on. */
    CU_ASSERT_EQUAL(store_write(s, reenter_fn, s), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_meta_get_u64(t, "x", &v), 0);
    CU_ASSERT_EQUAL(v, 7);
    store_read_end(&t);

    /* A nested transaction left open is a bug: everything is discarded. */
    CU_ASSERT_EQUAL(store_write(s, leave_open_fn, &child), LB_EINTERNAL);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_meta_get_u64(t, "x", &v), 0);
    CU_ASSERT_EQUAL(v, 7);
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_read_snapshot(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *r1 = NULL, *r2 = NULL;
    uint64_t v = 1, got;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    CU_ASSERT_EQUAL(store_write(s, snap_fn, &v), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &r1), 0);
    v = 2;
    CU_ASSERT_EQUAL(store_write(s, snap_fn, &v), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &r2), 0);
    CU_ASSERT_EQUAL(store_meta_get_u64(r1, "snap", &got), 0);
    CU_ASSERT_EQUAL(got, 1);
    CU_ASSERT_EQUAL(store_meta_get_u64(r2, "snap", &got), 0);
    CU_ASSERT_EQUAL(got, 2);
    /* The map cannot move while readers hold pages. */
    CU_ASSERT_EQUAL(store_grow(s), LB_EINTERNAL);
    store_read_end(&r1);
    store_read_end(&r2);
    CU_ASSERT_PTR_NULL(r1);
    /* A renewed (cached) handle sees the newest commit. */
    v = 3;
    CU_ASSERT_EQUAL(store_write(s, snap_fn, &v), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &r1), 0);
    CU_ASSERT_EQUAL(store_meta_get_u64(r1, "snap", &got), 0);
    CU_ASSERT_EQUAL(got, 3);
    store_read_end(&r1);
    store_read_end(&r1); /* safe on NULL */
    store_close(&s);
    tmpdir_free(&dir);
}

/* ---- map growth ---- */

#define GROW_CASES 5000
#define GROW_BATCH 100

typedef struct {
    uint64_t first;
    int nested;  /* one nested transaction per case, like the daemon */
    int swallow; /* the nested error is swallowed, not returned */
    int runs;
} grow_ctx_t;

static void grow_meta(uint64_t id, store_case_meta_t *m)
{
    char area[9], house[24];
    snprintf(area, sizeof area, "65%02u%02u%02u", (unsigned)(id % 7), (unsigned)(id % 5),
             (unsigned)(id % 3));
    snprintf(house, sizeof house, "%011llu", (unsigned long long)id);
    *m = meta_of(area, id % 2 ? "identified" : "visited", house, true);
    m->needs_open[id % 5] = 1;
}

static int grow_fn(store_txn_t *txn, void *ctx)
{
    grow_ctx_t *g = ctx;
    g->runs++;
    for (uint64_t id = g->first; id < g->first + GROW_BATCH; id++) {
        store_case_meta_t m;
        char blob[200];
        grow_meta(id, &m);
        memset(blob, 'a' + (int)(id % 26), sizeof blob);
        if (!g->nested) {
            int rc = store_case_put(txn, id, NULL, &m, blob, sizeof blob, blob, 50);
            if (rc)
                return rc;
            continue;
        }
        store_txn_t *c = NULL;
        int rc = store_nested_begin(txn, &c);
        if (rc)
            return rc;
        rc = store_case_put(c, id, NULL, &m, blob, sizeof blob, blob, 50);
        if (rc) {
            store_nested_abort(&c);
            if (g->swallow)
                continue; /* the request would be answered with an error */
            return rc;
        }
        rc = store_nested_commit(&c);
        if (rc && !g->swallow)
            return rc;
    }
    return 0;
}

static void grow_check(store_t *s, uint64_t n)
{
    store_txn_t *t = NULL;
    const void *p;
    size_t len;
    int bad = 0;
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    for (uint64_t id = 1; id <= n; id++) {
        if (store_case_get(t, id, &p, &len) != 0 || len != 200 ||
            ((const char *)p)[199] != 'a' + (int)(id % 26))
            bad++;
    }
    store_read_end(&t);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), n);
    CU_ASSERT_EQUAL(count_of(s, "", "state:identified"), (n + 1) / 2);
}

static void grow_run(int nested, int swallow)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 32 * 1024);
    store_stats_t st0, st1;
    int runs = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_stats(s, &st0), 0);
    CU_ASSERT(st0.map_bytes <= 64 * 1024);

    for (uint64_t first = 1; first <= GROW_CASES; first += GROW_BATCH) {
        grow_ctx_t g = {first, nested, swallow, 0};
        CU_ASSERT_EQUAL(store_write(s, grow_fn, &g), 0);
        runs += g.runs;
    }
    CU_ASSERT_EQUAL(store_stats(s, &st1), 0);
    CU_ASSERT(st1.map_bytes > st0.map_bytes);
    CU_ASSERT(st1.map_bytes >= st1.db_bytes);
    CU_ASSERT_EQUAL(st1.cases, GROW_CASES);
    CU_ASSERT(runs > GROW_CASES / GROW_BATCH); /* some batches were retried */
    grow_check(s, GROW_CASES);

    /* Reopening with the small size keeps the grown map. */
    store_close(&s);
    s = open_store(dir, 32 * 1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_stats(s, &st0), 0);
    CU_ASSERT_EQUAL(st0.map_bytes, st1.map_bytes);
    grow_check(s, GROW_CASES);
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_map_growth(void)
{
    grow_run(0, 0);
}

static void test_map_growth_nested(void)
{
    grow_run(1, 0);
    /* Even when fn swallows the nested LB_EMAPFULL, nothing is lost. */
    grow_run(1, 1);
}

static void test_map_max(void)
{
    char *dir = tmpdir_new();
    store_opts_t o = {.map_size = 64 * 1024, .map_max = 256 * 1024};
    store_t *s = NULL;
    char err[256];
    int rc = 0;
    CU_ASSERT_EQUAL_FATAL(store_open(dir, &o, &s, err, sizeof err), 0);
    for (uint64_t first = 1; first <= GROW_CASES && rc == 0; first += GROW_BATCH) {
        grow_ctx_t g = {first, 0, 0, 0};
        rc = store_write(s, grow_fn, &g);
    }
    CU_ASSERT_EQUAL(rc, LB_EMAPFULL);
    store_stats_t st;
    CU_ASSERT_EQUAL(store_stats(s, &st), 0);
    CU_ASSERT_EQUAL(st.map_bytes, 256 * 1024);
    CU_ASSERT(st.cases > 0 && st.cases % GROW_BATCH == 0);
    CU_ASSERT_EQUAL(store_grow(s), LB_EMAPFULL);
    store_close(&s);
    tmpdir_free(&dir);

    /* A full map cannot grow while a reader of this process holds pages. */
    dir = tmpdir_new();
    s = open_store(dir, 32 * 1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_txn_t *r = NULL;
    CU_ASSERT_EQUAL(store_read_begin(s, &r), 0);
    grow_ctx_t g = {1, 0, 0, 0};
    CU_ASSERT_EQUAL(store_write(s, grow_fn, &g), LB_EINTERNAL);
    store_read_end(&r);
    CU_ASSERT_EQUAL(store_write(s, grow_fn, &g), 0);
    store_close(&s);
    tmpdir_free(&dir);
}

/* ---- backup and stats ---- */

static void test_backup_and_stats(void)
{
    char *dir = tmpdir_new();
    char bdir[4200], buf[64];
    store_t *s = open_store(dir, 0), *b = NULL;
    store_stats_t st, bst;
    uint64_t bytes = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    for (uint64_t first = 1; first <= 1000; first += GROW_BATCH) {
        grow_ctx_t g = {first, 0, 0, 0};
        CU_ASSERT_EQUAL(store_write(s, grow_fn, &g), 0);
    }
    ev_ctx_t e = {1, 10};
    CU_ASSERT_EQUAL(store_write(s, ev_fill, &e), 0);
    const timer_op_t set[] = {{0, 1, 5000, 1}, {0, 2, 300, 7}};
    CU_ASSERT_EQUAL(run_timers(s, set, 2), 0);
    idem_op_t put = {0, 1, "r1", 100, "reply-a", 0, 0};
    CU_ASSERT_EQUAL(store_write(s, idem_fn, &put), 0);

    CU_ASSERT_EQUAL(store_stats(s, &st), 0);
    CU_ASSERT_EQUAL(st.cases, 1000);
    CU_ASSERT_EQUAL(st.events, 10);
    CU_ASSERT_EQUAL(st.timers, 2);
    CU_ASSERT_EQUAL(st.idem, 1);
    CU_ASSERT(st.db_bytes > 1000 * 200);
    CU_ASSERT(st.map_bytes >= st.db_bytes);
    CU_ASSERT_EQUAL(st.map_bytes, 64u << 20);

    snprintf(bdir, sizeof bdir, "%s/backup", dir);
    CU_ASSERT_EQUAL(store_backup(s, bdir, &bytes), 0);
    CU_ASSERT(bytes > 0 && bytes <= st.db_bytes);
    /* The folder now holds a copy: a second backup there is refused. */
    uint64_t bytes2 = 1;
    CU_ASSERT_EQUAL(store_backup(s, bdir, &bytes2), LB_EEXIST);
    CU_ASSERT_EQUAL(bytes2, 0);
    store_close(&s);

    b = open_store(bdir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(store_stats(b, &bst), 0);
    CU_ASSERT_EQUAL(bst.cases, 1000);
    CU_ASSERT_EQUAL(bst.events, 10);
    CU_ASSERT_EQUAL(bst.timers, 2);
    CU_ASSERT_EQUAL(bst.idem, 1);
    grow_check(b, 1000);
    CU_ASSERT_EQUAL(read_case(b, 1001, buf, sizeof buf), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(idem_get(b, 1, "r1", 0, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "reply-a");
    store_close(&b);
    tmpdir_free(&dir);
}

static const cu_test_t tests[] = {
    {"nested transactions", test_nested},
    {"store_write fn error aborts", test_write_error_aborts},
    {"read snapshots and renewal", test_read_snapshot},
    {"map growth from 32 KiB", test_map_growth},
    {"map growth through nested transactions", test_map_growth_nested},
    {"map_max bounds growth", test_map_max},
    {"backup and stats", test_backup_and_stats},
};
const cu_suite_t store_txn_suite = {.name = "txn", .tests = tests, .n = CU_COUNT(tests)};
