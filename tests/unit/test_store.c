/*
 * test_store.c - CUnit tests of store/: persistence across reopen, the
 * schema check, cases and every index and counter kept with them, events,
 * timers, idempotency records, nested transactions, map growth, backup.
 * Each test works in its own folder under /tmp, removed when it ends.
 */
#include <CUnit/Basic.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../store/store.h"

/* ---- fixtures and helpers ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tmpdir_new(void)
{
    char tmpl[] = "/tmp/lbstore-XXXXXX";
    char *d = mkdtemp(tmpl);
    CU_ASSERT_PTR_NOT_NULL(d);
    return d ? strdup(d) : NULL;
}

static void tmpdir_free(char **d)
{
    if (*d) {
        rm_rf(*d);
        free(*d);
        *d = NULL;
    }
}

static store_t *open_store(const char *dir, size_t map_size)
{
    store_opts_t o = {.map_size = map_size};
    char err[256];
    store_t *s = NULL;
    int rc = store_open(dir, &o, &s, err, sizeof err);
    if (rc)
        fprintf(stderr, "store_open: %s\n", err);
    CU_ASSERT_EQUAL(rc, 0);
    return s;
}

static store_case_meta_t meta_of(const char *area, const char *state, const char *house, bool open)
{
    store_case_meta_t m;
    memset(&m, 0, sizeof m);
    snprintf(m.area, sizeof m.area, "%s", area);
    snprintf(m.state, sizeof m.state, "%s", state);
    snprintf(m.house_id, sizeof m.house_id, "%s", house);
    m.open = open;
    return m;
}

/* Writes case id with data "case:ID:STATE" and summary "sum:ID:STATE". */
static int put_case(store_txn_t *txn, uint64_t id, const store_case_meta_t *old,
                    const store_case_meta_t *m)
{
    char data[128], sum[128];
    snprintf(data, sizeof data, "case:%llu:%s", (unsigned long long)id, m->state);
    snprintf(sum, sizeof sum, "sum:%llu:%s", (unsigned long long)id, m->state);
    return store_case_put(txn, id, old, m, data, strlen(data), sum, strlen(sum));
}

/* One case write, as a store_write callback. */
typedef struct {
    uint64_t id;
    const store_case_meta_t *old;
    const store_case_meta_t *meta;
} case_op_t;

static int case_op_fn(store_txn_t *txn, void *ctx)
{
    case_op_t *op = ctx;
    return put_case(txn, op->id, op->old, op->meta);
}

static int write_case(store_t *s, uint64_t id, const store_case_meta_t *old,
                      const store_case_meta_t *m)
{
    case_op_t op = {id, old, m};
    return store_write(s, case_op_fn, &op);
}

/* Reads case id's bytes into buf as a string; LB_ENOTFOUND when absent. */
static int read_case(store_t *s, uint64_t id, char *buf, size_t n)
{
    store_txn_t *t = NULL;
    const void *p;
    size_t len;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    rc = store_case_get(t, id, &p, &len);
    if (rc == 0)
        snprintf(buf, n, "%.*s", (int)len, (const char *)p);
    store_read_end(&t);
    return rc;
}

/* Counter look-ups */
typedef struct {
    const char *name;
    uint64_t value;
    int seen;
    int total;
} count_q_t;

static int count_cb(const char *scope, const char *name, uint64_t value, void *ctx)
{
    count_q_t *q = ctx;
    (void)scope;
    q->total++;
    CU_ASSERT(value > 0);
    if (q->name && strcmp(name, q->name) == 0) {
        q->value = value;
        q->seen++;
    }
    return 0;
}

static uint64_t count_of(store_t *s, const char *scope, const char *name)
{
    store_txn_t *t = NULL;
    count_q_t q = {name, 0, 0, 0};
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_counts(t, scope, count_cb, &q), 0);
    store_read_end(&t);
    CU_ASSERT(q.seen <= 1);
    return q.value;
}

static int count_total(store_t *s, const char *scope)
{
    store_txn_t *t = NULL;
    count_q_t q = {NULL, 0, 0, 0};
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_counts(t, scope, count_cb, &q), 0);
    store_read_end(&t);
    return q.total;
}

/* Appends " s" (or s when dst is empty) to dst, truncating at cap. */
static void append(char *dst, size_t cap, const char *s)
{
    size_t used = strlen(dst);
    if (used && used + 1 < cap)
        dst[used++] = ' ';
    size_t n = strlen(s);
    if (n > cap - used - 1)
        n = cap - used - 1;
    memcpy(dst + used, s, n);
    dst[used + n] = '\0';
}

/* store_list collector: "id:area:state" joined by spaces. */
typedef struct {
    char out[4096];
    int n;
    int stop_after; /* 0 = never */
    uint64_t last_id;
    char last_area[9], last_state[64];
} list_q_t;

static int list_cb(uint64_t id, const char *area, const char *state, const void *summary,
                   size_t slen, void *ctx)
{
    list_q_t *q = ctx;
    char expect[128];
    snprintf(expect, sizeof expect, "sum:%llu:%s", (unsigned long long)id, state);
    CU_ASSERT_EQUAL(slen, strlen(expect));
    CU_ASSERT(slen == strlen(expect) && memcmp(summary, expect, slen) == 0);
    size_t used = strlen(q->out);
    snprintf(q->out + used, sizeof q->out - used, "%s%llu:%s:%s", used ? " " : "",
             (unsigned long long)id, area, state);
    q->n++;
    q->last_id = id;
    snprintf(q->last_area, sizeof q->last_area, "%s", area);
    snprintf(q->last_state, sizeof q->last_state, "%s", state);
    return (q->stop_after && q->n >= q->stop_after) ? 1 : 0;
}

static int list_all(store_t *s, const char *prefix, const char *state, const char *after_area,
                    const char *after_state, uint64_t after_id, list_q_t *q)
{
    store_txn_t *t = NULL;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    rc = store_list(t, prefix, state, after_area, after_state, after_id, list_cb, q);
    store_read_end(&t);
    return rc;
}

/* Id collectors for house_cases and nid_find. */
typedef struct {
    uint64_t ids[64];
    int n;
    int stop_after;
} ids_q_t;

static int ids_cb(uint64_t id, void *ctx)
{
    ids_q_t *q = ctx;
    if (q->n < 64)
        q->ids[q->n] = id;
    q->n++;
    return (q->stop_after && q->n >= q->stop_after) ? 1 : 0;
}

/* ---- open, reopen, schema ---- */

static int basic_fill(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    uint64_t id;
    uint8_t chain[32];
    store_case_meta_t m = meta_of("65010101", "identified", "12345678901", true);
    int rc = store_next_case_id(txn, &id);
    if (rc)
        return rc;
    CU_ASSERT_EQUAL(id, 1);
    rc = put_case(txn, id, NULL, &m);
    memset(chain, 0xab, sizeof chain);
    if (rc == 0)
        rc = store_event_append(txn, 1, "ev1", 3, chain);
    if (rc == 0)
        rc = store_timer_set(txn, id, 1000, 2);
    if (rc == 0)
        rc = store_pii_put(txn, id, "sealed", 6);
    if (rc == 0)
        rc = store_meta_put(txn, "blob", "xyz", 3);
    return rc;
}

static void test_open_reopen(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    char buf[128], path[4200];
    store_txn_t *t = NULL;
    const void *p;
    size_t len;
    uint64_t v, seq;
    uint8_t chain[32], want[32];

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    CU_ASSERT_STRING_EQUAL(store_path(s), path);
    CU_ASSERT_EQUAL(store_write(s, basic_fill, NULL), 0);
    store_close(&s);
    CU_ASSERT_PTR_NULL(s);
    store_close(&s); /* safe on NULL */

    s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(read_case(s, 1, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "case:1:identified");
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_meta_get_u64(t, "schema", &v), 0);
    CU_ASSERT_EQUAL(v, STORE_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(store_meta_get_u64(t, "case_seq", &v), 0);
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_EQUAL(store_event_tip(t, &seq, chain), 0);
    memset(want, 0xab, sizeof want);
    CU_ASSERT_EQUAL(seq, 1);
    CU_ASSERT(memcmp(chain, want, 32) == 0);
    CU_ASSERT_EQUAL(store_pii_get(t, 1, &p, &len), 0);
    CU_ASSERT(len == 6 && memcmp(p, "sealed", 6) == 0);
    CU_ASSERT_EQUAL(store_meta_get(t, "blob", &p, &len), 0);
    CU_ASSERT(len == 3 && memcmp(p, "xyz", 3) == 0);
    CU_ASSERT_EQUAL(store_meta_get(t, "nope", &p, &len), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(store_meta_get_u64(t, "nope", &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(store_household_open_case(t, "12345678901", &v), 0);
    CU_ASSERT_EQUAL(v, 1);
    int64_t due;
    uint32_t step;
    CU_ASSERT_EQUAL(store_timer_first(t, &due, &v, &step), 0);
    CU_ASSERT(due == 1000 && v == 1 && step == 2);
    /* A u64 meta read of a blob of another length is corruption, not a value. */
    CU_ASSERT_EQUAL(store_meta_get_u64(t, "blob", &v), LB_ECORRUPT);
    /* Writes through a read transaction are refused. */
    CU_ASSERT_EQUAL(store_meta_put_u64(t, "x", 1), LB_EINTERNAL);
    store_read_end(&t);
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 1);
    store_close(&s);
    tmpdir_free(&dir);
}

static int schema7_fn(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    return store_meta_put_u64(txn, "schema", 7);
}

static void test_newer_schema_refused(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    char err[256];
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_write(s, schema7_fn, NULL), 0);
    store_close(&s);

    store_t *s2 = (store_t *)&err; /* must be reset to NULL */
    CU_ASSERT_EQUAL(store_open(dir, NULL, &s2, err, sizeof err), LB_EVERSION);
    CU_ASSERT_PTR_NULL(s2);
    CU_ASSERT_STRING_EQUAL(err, "store schema version 7 is newer than this logbookd supports "
                                "(1); upgrade logbookd");
    store_opts_t ro = {.read_only = true};
    CU_ASSERT_EQUAL(store_open(dir, &ro, &s2, err, sizeof err), LB_EVERSION);
    CU_ASSERT_PTR_NULL(s2);
    tmpdir_free(&dir);
}

/* Copies the file src to dst; 0 or -1. */
static int copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[4096];
    size_t n;
    int rc = (in && out) ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

static void test_damaged_files(void)
{
    char *dir = tmpdir_new();
    char file[4200], fixture[4200], err[256];
    const char *data = getenv("LOGBOOK_TESTDATA");
    store_t *s = NULL;

    /* A file that is not LMDB at all (fixture). */
    snprintf(fixture, sizeof fixture, "%s/store/not-lmdb.mdb", data ? data : "tests/data");
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    CU_ASSERT_EQUAL_FATAL(copy_file(fixture, file), 0);
    CU_ASSERT_EQUAL(store_open(dir, NULL, &s, err, sizeof err), LB_ECORRUPT);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT(strlen(err) > 0);
    rm_rf(dir);

    /* A real store cut short. */
    CU_ASSERT_EQUAL(mkdir(dir, 0700), 0);
    s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_write(s, basic_fill, NULL), 0);
    store_close(&s);
    CU_ASSERT_EQUAL(truncate(file, 100), 0);
    CU_ASSERT_EQUAL(store_open(dir, NULL, &s, err, sizeof err), LB_ECORRUPT);
    CU_ASSERT_PTR_NULL(s);

    /* A folder that does not exist. */
    CU_ASSERT_NOT_EQUAL(store_open("/nonexistent/lbstore", NULL, &s, err, sizeof err), 0);
    CU_ASSERT_PTR_NULL(s);
    tmpdir_free(&dir);
}

static void test_read_only(void)
{
    char *dir = tmpdir_new();
    char err[256], buf[64];
    store_opts_t ro = {.read_only = true};
    store_t *s = NULL;

    /* Nothing to open read-only in an empty folder, and nothing created. */
    CU_ASSERT_NOT_EQUAL(store_open(dir, &ro, &s, err, sizeof err), 0);
    CU_ASSERT_PTR_NULL(s);

    s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_write(s, basic_fill, NULL), 0);
    store_close(&s);

    CU_ASSERT_EQUAL(store_open(dir, &ro, &s, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(read_case(s, 1, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "case:1:identified");
    CU_ASSERT_NOT_EQUAL(store_write(s, schema7_fn, NULL), 0);
    store_close(&s);
    tmpdir_free(&dir);
}

/* ---- cases and indexes ---- */

static int next_ids_fn(store_txn_t *txn, void *ctx)
{
    uint64_t *ids = ctx;
    for (int i = 0; i < 3; i++) {
        int rc = store_next_case_id(txn, &ids[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static void test_case_put_get(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL;
    uint64_t ids[3];
    const void *p;
    size_t len;
    char buf[64];

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_write(s, next_ids_fn, ids), 0);
    CU_ASSERT(ids[0] == 1 && ids[1] == 2 && ids[2] == 3);
    CU_ASSERT_EQUAL(store_write(s, next_ids_fn, ids), 0);
    CU_ASSERT(ids[0] == 4 && ids[2] == 6);

    store_case_meta_t a = meta_of("65010101", "identified", "10000000001", true);
    store_case_meta_t b = meta_of("65010101", "visited", "10000000001", true);
    CU_ASSERT_EQUAL(write_case(s, 7, NULL, &a), 0);
    CU_ASSERT_EQUAL(read_case(s, 7, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "case:7:identified");
    CU_ASSERT_EQUAL(write_case(s, 7, &a, &b), 0);
    CU_ASSERT_EQUAL(read_case(s, 7, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "case:7:visited");
    CU_ASSERT_EQUAL(read_case(s, 8, buf, sizeof buf), LB_ENOTFOUND);

    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_case_summary(t, 7, &p, &len), 0);
    CU_ASSERT(len == 13 && memcmp(p, "sum:7:visited", 13) == 0);
    CU_ASSERT_EQUAL(store_case_summary(t, 8, &p, &len), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(store_pii_get(t, 7, &p, &len), LB_ENOTFOUND);
    store_read_end(&t);

    /* A malformed meta is a caller bug, refused before writing. */
    store_case_meta_t bad = a;
    memset(bad.state, 'x', sizeof bad.state);
    CU_ASSERT_EQUAL(write_case(s, 9, NULL, &bad), LB_EINTERNAL);
    CU_ASSERT_EQUAL(write_case(s, 0, NULL, &a), LB_EINTERNAL);
    store_close(&s);
    tmpdir_free(&dir);
}

/* Cases of the index test: id, area, state. */
static const struct {
    uint64_t id;
    const char *area, *state;
} idx_cases[] = {
    {1, "65010101", "identified"}, {2, "65010101", "visited"},    {3, "65010102", "identified"},
    {4, "65020101", "identified"}, {5, "66010101", "identified"}, {6, "65010101", "identified"},
    {7, "65010102", "assisting"},
};
#define N_IDX (sizeof idx_cases / sizeof idx_cases[0])

static int idx_fill(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < N_IDX; i++) {
        char house[24];
        snprintf(house, sizeof house, "%011llu", (unsigned long long)idx_cases[i].id);
        store_case_meta_t m = meta_of(idx_cases[i].area, idx_cases[i].state, house, true);
        int rc = put_case(txn, idx_cases[i].id, NULL, &m);
        if (rc)
            return rc;
    }
    return 0;
}

static void test_index_and_list(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_write(s, idx_fill, NULL), 0);

    list_q_t q;
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "", NULL, NULL, NULL, 0, &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "1:65010101:identified 6:65010101:identified "
                                  "2:65010101:visited 7:65010102:assisting "
                                  "3:65010102:identified 4:65020101:identified "
                                  "5:66010101:identified");

    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "6501", NULL, NULL, NULL, 0, &q), 0);
    CU_ASSERT_EQUAL(q.n, 5);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "66", NULL, NULL, NULL, 0, &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "5:66010101:identified");
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "67", NULL, NULL, NULL, 0, &q), 0);
    CU_ASSERT_EQUAL(q.n, 0);

    /* State filter, across areas. */
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "65", "identified", NULL, NULL, 0, &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "1:65010101:identified 6:65010101:identified "
                                  "3:65010102:identified 4:65020101:identified");

    /* Cursor continuation: pages of two, without and with a state. */
    char all[4096] = "";
    memset(&q, 0, sizeof q);
    q.stop_after = 2;
    CU_ASSERT_EQUAL(list_all(s, "65", NULL, NULL, NULL, 0, &q), 0);
    snprintf(all, sizeof all, "%s", q.out);
    for (int guard = 0; guard < 10 && q.n == 2; guard++) {
        char a[9], st[64];
        uint64_t id = q.last_id;
        snprintf(a, sizeof a, "%s", q.last_area);
        snprintf(st, sizeof st, "%s", q.last_state);
        memset(&q, 0, sizeof q);
        q.stop_after = 2;
        CU_ASSERT_EQUAL(list_all(s, "65", NULL, a, st, id, &q), 0);
        if (q.n)
            append(all, sizeof all, q.out);
    }
    CU_ASSERT_STRING_EQUAL(all, "1:65010101:identified 6:65010101:identified "
                                "2:65010101:visited 7:65010102:assisting "
                                "3:65010102:identified 4:65020101:identified");

    all[0] = '\0';
    memset(&q, 0, sizeof q);
    q.stop_after = 1;
    CU_ASSERT_EQUAL(list_all(s, "65", "identified", NULL, NULL, 0, &q), 0);
    snprintf(all, sizeof all, "%s", q.out);
    for (int guard = 0; guard < 10 && q.n == 1; guard++) {
        char a[9], st[64];
        uint64_t id = q.last_id;
        snprintf(a, sizeof a, "%s", q.last_area);
        snprintf(st, sizeof st, "%s", q.last_state);
        memset(&q, 0, sizeof q);
        q.stop_after = 1;
        CU_ASSERT_EQUAL(list_all(s, "65", "identified", a, st, id, &q), 0);
        if (q.n)
            append(all, sizeof all, q.out);
    }
    CU_ASSERT_STRING_EQUAL(all, "1:65010101:identified 6:65010101:identified "
                                "3:65010102:identified 4:65020101:identified");

    /* A cursor before the prefix starts at the prefix; after it, nothing. */
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "66", NULL, "65", "", 0, &q), 0);
    CU_ASSERT_EQUAL(q.n, 1);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "65", NULL, "66", "", 0, &q), 0);
    CU_ASSERT_EQUAL(q.n, 0);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "65", "visited", "65010101", "zzz", 0, &q), 0);
    CU_ASSERT_EQUAL(q.n, 0);

    /* State changes move a case in the index and nothing else moves. */
    store_case_meta_t o = meta_of("65010101", "identified", "00000000001", true);
    store_case_meta_t n = meta_of("65010101", "visited", "00000000001", true);
    CU_ASSERT_EQUAL(write_case(s, 1, &o, &n), 0);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "65010101", NULL, NULL, NULL, 0, &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "6:65010101:identified 1:65010101:visited "
                                  "2:65010101:visited");
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "", "visited", NULL, NULL, 0, &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "1:65010101:visited 2:65010101:visited");
    CU_ASSERT_EQUAL(count_of(s, "", "state:visited"), 2);
    CU_ASSERT_EQUAL(count_of(s, "", "state:identified"), 4);
    store_close(&s);
    tmpdir_free(&dir);
}

static int list_fail_cb(uint64_t id, const char *area, const char *state, const void *summary,
                        size_t slen, void *ctx)
{
    (void)id, (void)area, (void)state, (void)summary, (void)slen, (void)ctx;
    return LB_ECONFLICT;
}

static int list_overdue_all(store_t *s, const char *prefix, list_q_t *q)
{
    store_txn_t *t = NULL;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    rc = store_list_overdue(t, prefix, NULL, NULL, NULL, 0, list_cb, q);
    store_read_end(&t);
    return rc;
}

static void test_overdue_index(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_case_meta_t a = meta_of("65010101", "identified", "11111111111", true);
    store_case_meta_t b = meta_of("65020101", "identified", "22222222222", true);
    CU_ASSERT_EQUAL(write_case(s, 1, NULL, &a), 0);
    CU_ASSERT_EQUAL(write_case(s, 2, NULL, &b), 0);
    list_q_t q = {0};
    CU_ASSERT_EQUAL(list_overdue_all(s, "", &q), 0);
    CU_ASSERT_EQUAL(q.n, 0);
    /* case 1 becomes overdue */
    store_case_meta_t a2 = a;
    a2.overdue = true;
    CU_ASSERT_EQUAL(write_case(s, 1, &a, &a2), 0);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_overdue_all(s, "65", &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "1:65010101:identified");
    /* stays overdue in a new state (escalated again there): the entry moves */
    store_case_meta_t a3 = a2;
    snprintf(a3.state, sizeof a3.state, "visited");
    CU_ASSERT_EQUAL(write_case(s, 1, &a2, &a3), 0);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_overdue_all(s, "6501", &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "1:65010101:visited");
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_overdue_all(s, "6502", &q), 0);
    CU_ASSERT_EQUAL(q.n, 0);
    /* no longer overdue: gone */
    store_case_meta_t a4 = a3;
    a4.overdue = false;
    CU_ASSERT_EQUAL(write_case(s, 1, &a3, &a4), 0);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_overdue_all(s, "", &q), 0);
    CU_ASSERT_EQUAL(q.n, 0);
    /* an old meta that claims overdue without an index entry is corruption */
    CU_ASSERT_EQUAL(write_case(s, 1, &a3, &a4), LB_ECORRUPT);
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_list_fn_error(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_write(s, idx_fill, NULL), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_list(t, "", NULL, NULL, NULL, 0, list_fail_cb, NULL), LB_ECONFLICT);
    CU_ASSERT_EQUAL(store_list(t, "", "visited", NULL, NULL, 0, list_fail_cb, NULL), LB_ECONFLICT);
    CU_ASSERT_EQUAL(store_list(t, "123456789", NULL, NULL, NULL, 0, list_fail_cb, NULL),
                    LB_EBADREQ);
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_households(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL;
    uint64_t id;
    char buf[64];
    const char *h = "11111111111";
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    store_case_meta_t a1 = meta_of("65010101", "identified", h, true);
    store_case_meta_t a2 = meta_of("65010101", "visited", h, true);
    store_case_meta_t a3 = meta_of("65010101", "resolved", h, false);
    snprintf(a3.outcome, sizeof a3.outcome, "resolved");
    CU_ASSERT_EQUAL(write_case(s, 1, NULL, &a1), 0);

    /* A second open case for the household is refused and leaves no trace. */
    store_case_meta_t b1 = meta_of("65010101", "identified", h, true);
    CU_ASSERT_EQUAL(write_case(s, 2, NULL, &b1), LB_EEXIST);
    CU_ASSERT_EQUAL(read_case(s, 2, buf, sizeof buf), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 1);

    /* Moving the open case along keeps the household on it. */
    CU_ASSERT_EQUAL(write_case(s, 1, &a1, &a2), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_household_open_case(t, h, &id), 0);
    CU_ASSERT_EQUAL(id, 1);
    store_read_end(&t);

    /* Closing frees the household for a new case. */
    CU_ASSERT_EQUAL(write_case(s, 1, &a2, &a3), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_household_open_case(t, h, &id), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(store_household_open_case(t, "", &id), LB_EBADREQ);
    store_read_end(&t);
    CU_ASSERT_EQUAL(write_case(s, 2, NULL, &b1), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_household_open_case(t, h, &id), 0);
    CU_ASSERT_EQUAL(id, 2);
    store_read_end(&t);

    /* Rewriting the closed case 1 does not take the household from case 2. */
    store_case_meta_t a4 = a3;
    a4.visited = true;
    CU_ASSERT_EQUAL(write_case(s, 1, &a3, &a4), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_household_open_case(t, h, &id), 0);
    CU_ASSERT_EQUAL(id, 2);
    store_read_end(&t);
    CU_ASSERT_EQUAL(count_of(s, "", "open"), 1);
    CU_ASSERT_EQUAL(count_of(s, "", "resolved"), 1);
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 2);
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_house_cases(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL;
    ids_q_t q;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    /* Three closed cases of one house, one of another, written out of order. */
    const uint64_t order[] = {300, 2, 41};
    for (int i = 0; i < 3; i++) {
        store_case_meta_t m = meta_of("65010101", "closed", "22222222222", false);
        CU_ASSERT_EQUAL(write_case(s, order[i], NULL, &m), 0);
    }
    store_case_meta_t o = meta_of("65010101", "identified", "22222222223", true);
    CU_ASSERT_EQUAL(write_case(s, 5, NULL, &o), 0);

    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(store_house_cases(t, "22222222222", ids_cb, &q), 0);
    CU_ASSERT_EQUAL(q.n, 3);
    CU_ASSERT(q.ids[0] == 2 && q.ids[1] == 41 && q.ids[2] == 300);
    memset(&q, 0, sizeof q);
    q.stop_after = 1;
    CU_ASSERT_EQUAL(store_house_cases(t, "22222222222", ids_cb, &q), 0);
    CU_ASSERT_EQUAL(q.n, 1);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(store_house_cases(t, "22222222223", ids_cb, &q), 0);
    CU_ASSERT(q.n == 1 && q.ids[0] == 5);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(store_house_cases(t, "99999999999", ids_cb, &q), 0);
    CU_ASSERT_EQUAL(q.n, 0);
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

static int nid_fill(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    uint8_t h1[32], h2[32];
    memset(h1, 0x11, 32);
    memset(h2, 0x11, 32);
    h2[31] = 0x12;
    int rc = store_nid_add(txn, h1, 9);
    if (rc == 0)
        rc = store_nid_add(txn, h1, 3);
    if (rc == 0)
        rc = store_nid_add(txn, h2, 4);
    if (rc == 0)
        rc = store_nid_add(txn, h1, 3); /* again: no duplicate */
    return rc;
}

static void test_nid(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL;
    ids_q_t q;
    uint8_t h1[32], h3[32];
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(store_write(s, nid_fill, NULL), 0);
    memset(h1, 0x11, 32);
    memset(h3, 0x10, 32);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(store_nid_find(t, h1, ids_cb, &q), 0);
    CU_ASSERT(q.n == 2 && q.ids[0] == 3 && q.ids[1] == 9);
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(store_nid_find(t, h3, ids_cb, &q), 0);
    CU_ASSERT_EQUAL(q.n, 0);
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

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

/* ---- events ---- */

typedef struct {
    uint64_t from, to; /* append seqs from..to */
} ev_ctx_t;

static int ev_fill(store_txn_t *txn, void *ctx)
{
    ev_ctx_t *e = ctx;
    for (uint64_t q = e->from; q <= e->to; q++) {
        char body[32];
        uint8_t chain[32];
        memset(chain, (int)q, sizeof chain);
        snprintf(body, sizeof body, "event-%llu", (unsigned long long)q);
        int rc = store_event_append(txn, q, body, strlen(body), chain);
        if (rc)
            return rc;
    }
    return 0;
}

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

/* ---- timers ---- */

typedef struct {
    int op; /* 0 set, 1 clear */
    uint64_t id;
    int64_t due;
    uint32_t step;
} timer_op_t;

typedef struct {
    const timer_op_t *ops;
    int n;
} timer_ctx_t;

static int timer_fn(store_txn_t *txn, void *ctx)
{
    timer_ctx_t *c = ctx;
    for (int i = 0; i < c->n; i++) {
        const timer_op_t *o = &c->ops[i];
        int rc = o->op == 0 ? store_timer_set(txn, o->id, o->due, o->step)
                            : store_timer_clear(txn, o->id);
        if (rc)
            return rc;
    }
    return 0;
}

static int run_timers(store_t *s, const timer_op_t *ops, int n)
{
    timer_ctx_t c = {ops, n};
    return store_write(s, timer_fn, &c);
}

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
    int64_t due;
    uint64_t id;
    uint32_t step;
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

/* ---- idempotency ---- */

typedef struct {
    int op; /* 0 put, 1 prune */
    int client;
    const char *req;
    int64_t at;
    const char *reply;
    size_t max;
    size_t removed;
} idem_op_t;

static int idem_fn(store_txn_t *txn, void *ctx)
{
    idem_op_t *o = ctx;
    uint8_t client[32];
    memset(client, o->client, sizeof client);
    if (o->op == 0)
        return store_idem_put(txn, client, o->req, o->at, o->reply, strlen(o->reply));
    return store_idem_prune(txn, o->at, o->max, &o->removed);
}

static int idem_get(store_t *s, int client, const char *req, int64_t not_before, char *out,
                    size_t n)
{
    store_txn_t *t = NULL;
    uint8_t c[32];
    const void *p;
    size_t len;
    memset(c, client, sizeof c);
    int rc = store_read_begin(s, &t);
    if (rc == 0)
        rc = store_idem_get(t, c, req, not_before, &p, &len);
    if (rc == 0)
        snprintf(out, n, "%.*s", (int)len, (const char *)p);
    store_read_end(&t);
    return rc;
}

static void test_idem(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    char buf[64];
    store_stats_t st;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);

    idem_op_t puts[] = {
        {0, 1, "r1", 100, "reply-a", 0, 0},
        {0, 1, "r2", 200, "reply-b", 0, 0},
        {0, 2, "r1", 150, "reply-c", 0, 0},
        {0, 3, "r9", 400, "", 0, 0},
    };
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(store_write(s, idem_fn, &puts[i]), 0);

    CU_ASSERT_EQUAL(idem_get(s, 1, "r1", 0, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "reply-a");
    CU_ASSERT_EQUAL(idem_get(s, 2, "r1", 150, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "reply-c");
    CU_ASSERT_EQUAL(idem_get(s, 2, "r1", 151, buf, sizeof buf), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(idem_get(s, 1, "r3", 0, buf, sizeof buf), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(idem_get(s, 3, "r9", 0, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(idem_get(s, 1, "", 0, buf, sizeof buf), LB_EBADREQ);

    /* Re-storing r1 at a later time moves it in the pruning order. */
    idem_op_t again = {0, 1, "r1", 300, "reply-a2", 0, 0};
    CU_ASSERT_EQUAL(store_write(s, idem_fn, &again), 0);
    CU_ASSERT_EQUAL(idem_get(s, 1, "r1", 250, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "reply-a2");

    /* Prune before 350 at most 1: the oldest (client 2 r1 @150) goes. */
    idem_op_t pr = {1, 0, NULL, 350, NULL, 1, 0};
    CU_ASSERT_EQUAL(store_write(s, idem_fn, &pr), 0);
    CU_ASSERT_EQUAL(pr.removed, 1);
    CU_ASSERT_EQUAL(idem_get(s, 2, "r1", 0, buf, sizeof buf), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(idem_get(s, 1, "r2", 0, buf, sizeof buf), 0);

    pr.max = 100;
    CU_ASSERT_EQUAL(store_write(s, idem_fn, &pr), 0);
    CU_ASSERT_EQUAL(pr.removed, 2); /* r2 @200, r1 @300; r9 @400 stays */
    CU_ASSERT_EQUAL(idem_get(s, 1, "r1", 0, buf, sizeof buf), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(idem_get(s, 3, "r9", 0, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(store_stats(s, &st), 0);
    CU_ASSERT_EQUAL(st.idem, 1);

    pr.at = 1000;
    CU_ASSERT_EQUAL(store_write(s, idem_fn, &pr), 0);
    CU_ASSERT_EQUAL(pr.removed, 1);
    CU_ASSERT_EQUAL(store_write(s, idem_fn, &pr), 0);
    CU_ASSERT_EQUAL(pr.removed, 0);
    CU_ASSERT_EQUAL(store_stats(s, &st), 0);
    CU_ASSERT_EQUAL(st.idem, 0);
    store_close(&s);
    tmpdir_free(&dir);
}

typedef struct {
    int client;
    const char *req;
    int64_t at;
    const uint8_t *digest; /* NULL: put without one */
    const char *reply;
} idem_dput_t;

static int idem_dput_fn(store_txn_t *txn, void *ctx)
{
    const idem_dput_t *o = ctx;
    uint8_t client[32];
    memset(client, o->client, sizeof client);
    uint64_t before = 0, after = 0;
    int rc = store_idem_count(txn, &before);
    if (rc == 0)
        rc = store_idem_put_digest(txn, client, o->req, o->at, o->digest, o->reply,
                                   strlen(o->reply));
    /* A write transaction sees its own records in the count. */
    if (rc == 0)
        rc = store_idem_count(txn, &after);
    CU_ASSERT_TRUE(rc != 0 || after == before || after == before + 1);
    return rc;
}

static int idem_find(store_t *s, int client, const char *req, store_idem_rec_t *rec, char *out,
                     size_t n)
{
    store_txn_t *t = NULL;
    uint8_t c[32];
    memset(c, client, sizeof c);
    int rc = store_read_begin(s, &t);
    if (rc == 0)
        rc = store_idem_find(t, c, req, 0, rec);
    if (rc == 0)
        snprintf(out, n, "%.*s", (int)rec->len, (const char *)rec->reply);
    store_read_end(&t);
    return rc;
}

static uint64_t idem_count(store_t *s)
{
    store_txn_t *t = NULL;
    uint64_t n = UINT64_MAX;
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_idem_count(t, &n), 0);
    store_read_end(&t);
    return n;
}

static int idem_oldest(store_t *s, int64_t *at)
{
    store_txn_t *t = NULL;
    int rc = store_read_begin(s, &t);
    if (rc == 0)
        rc = store_idem_oldest(t, at);
    store_read_end(&t);
    return rc;
}

static void test_idem_digest(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    char buf[64];
    store_idem_rec_t rec;
    uint8_t d1[32], d2[32];
    int64_t at = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memset(d1, 0xd1, sizeof d1);
    memset(d2, 0xd2, sizeof d2);

    CU_ASSERT_EQUAL(idem_count(s), 0);
    CU_ASSERT_EQUAL(idem_oldest(s, &at), LB_ENOTFOUND);

    /* With a digest: it comes back with the reply. */
    idem_dput_t a = {1, "r1", 100, d1, "reply-a"};
    CU_ASSERT_EQUAL(store_write(s, idem_dput_fn, &a), 0);
    CU_ASSERT_EQUAL(idem_find(s, 1, "r1", &rec, buf, sizeof buf), 0);
    CU_ASSERT_TRUE(rec.has_digest);
    CU_ASSERT_EQUAL(memcmp(rec.digest, d1, 32), 0);
    CU_ASSERT_EQUAL(rec.at, 100);
    CU_ASSERT_STRING_EQUAL(buf, "reply-a");
    /* store_idem_get reads the same record, reply only. */
    CU_ASSERT_EQUAL(idem_get(s, 1, "r1", 0, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "reply-a");

    /* Without one (the format written before digests): has_digest false. */
    idem_dput_t b = {1, "r2", 200, NULL, "reply-b"};
    CU_ASSERT_EQUAL(store_write(s, idem_dput_fn, &b), 0);
    CU_ASSERT_EQUAL(idem_find(s, 1, "r2", &rec, buf, sizeof buf), 0);
    CU_ASSERT_FALSE(rec.has_digest);
    CU_ASSERT_EQUAL(rec.at, 200);
    CU_ASSERT_STRING_EQUAL(buf, "reply-b");
    /* An empty reply with a digest. */
    idem_dput_t e = {2, "r1", 150, d2, ""};
    CU_ASSERT_EQUAL(store_write(s, idem_dput_fn, &e), 0);
    CU_ASSERT_EQUAL(idem_find(s, 2, "r1", &rec, buf, sizeof buf), 0);
    CU_ASSERT_TRUE(rec.has_digest);
    CU_ASSERT_EQUAL(rec.len, 0);
    CU_ASSERT_EQUAL(idem_count(s), 3);

    /* Replacing an old-format record by a new one, and back: one record, one index entry. */
    idem_dput_t b2 = {1, "r2", 250, d2, "reply-b2"};
    CU_ASSERT_EQUAL(store_write(s, idem_dput_fn, &b2), 0);
    CU_ASSERT_EQUAL(idem_find(s, 1, "r2", &rec, buf, sizeof buf), 0);
    CU_ASSERT_TRUE(rec.has_digest);
    CU_ASSERT_EQUAL(memcmp(rec.digest, d2, 32), 0);
    CU_ASSERT_STRING_EQUAL(buf, "reply-b2");
    idem_dput_t a2 = {1, "r1", 300, NULL, "reply-a2"};
    CU_ASSERT_EQUAL(store_write(s, idem_dput_fn, &a2), 0);
    CU_ASSERT_EQUAL(idem_find(s, 1, "r1", &rec, buf, sizeof buf), 0);
    CU_ASSERT_FALSE(rec.has_digest);
    CU_ASSERT_EQUAL(idem_count(s), 3);
    CU_ASSERT_EQUAL(idem_oldest(s, &at), 0);
    CU_ASSERT_EQUAL(at, 150);

    /* Errors: *rec zeroed. */
    memset(&rec, 0x55, sizeof rec);
    CU_ASSERT_EQUAL(idem_find(s, 9, "r1", &rec, buf, sizeof buf), LB_ENOTFOUND);
    CU_ASSERT_FALSE(rec.has_digest);
    CU_ASSERT_PTR_NULL(rec.reply);
    CU_ASSERT_EQUAL(idem_find(s, 1, "", &rec, buf, sizeof buf), LB_EBADREQ);

    /* Pruning in slices of one: each removes the oldest, the count follows. */
    idem_op_t pr = {1, 0, NULL, 1000, NULL, 1, 0};
    int64_t want[] = {250, 300};
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(store_write(s, idem_fn, &pr), 0);
        CU_ASSERT_EQUAL(pr.removed, 1);
        CU_ASSERT_EQUAL(idem_oldest(s, &at), 0);
        CU_ASSERT_EQUAL(at, want[i]);
        CU_ASSERT_EQUAL(idem_count(s), (uint64_t)(2 - i));
    }
    CU_ASSERT_EQUAL(store_write(s, idem_fn, &pr), 0);
    CU_ASSERT_EQUAL(idem_oldest(s, &at), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(idem_count(s), 0);

    store_txn_t *t = NULL;
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_idem_count(t, NULL), LB_EINTERNAL);
    CU_ASSERT_EQUAL(store_idem_oldest(t, NULL), LB_EINTERNAL);
    CU_ASSERT_EQUAL(store_idem_find(t, d1, "r1", 0, NULL), LB_EINTERNAL);
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

/*
 * Many records pruned continuously: each call removes a bounded slice, the
 * records kept are exactly those not older than the cutoff.
 */
typedef struct {
    int n;
    int64_t base;
} idem_many_t;

static int idem_many_fn(store_txn_t *txn, void *ctx)
{
    const idem_many_t *m = ctx;
    uint8_t client[32], d[32];
    char req[32];
    memset(client, 7, sizeof client);
    for (int i = 0; i < m->n; i++) {
        memset(d, i, sizeof d);
        snprintf(req, sizeof req, "req-%05d", i);
        /* Stored in reverse time order, so key order and time order differ. */
        int rc = store_idem_put_digest(txn, client, req, m->base + (m->n - i), d, "x", 1);
        if (rc)
            return rc;
    }
    return 0;
}

static void test_idem_prune_slices(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    idem_many_t m = {3000, 1000};
    CU_ASSERT_EQUAL(store_write(s, idem_many_fn, &m), 0);
    CU_ASSERT_EQUAL(idem_count(s), 3000);

    /* Cutoff: everything stored before base + 2001 (2000 records) goes, 16 a call. */
    idem_op_t pr = {1, 0, NULL, 1000 + 2001, NULL, 16, 0};
    int calls = 0;
    size_t total = 0;
    do {
        CU_ASSERT_EQUAL_FATAL(store_write(s, idem_fn, &pr), 0);
        CU_ASSERT_TRUE(pr.removed <= 16);
        total += pr.removed;
        calls++;
    } while (pr.removed == 16 && calls < 1000);
    CU_ASSERT_EQUAL(total, 2000);
    CU_ASSERT_EQUAL(calls, 126); /* 125 full slices, then one that finds none left */
    CU_ASSERT_EQUAL(idem_count(s), 1000);
    int64_t at = 0;
    CU_ASSERT_EQUAL(idem_oldest(s, &at), 0);
    CU_ASSERT_EQUAL(at, 1000 + 2001);
    store_close(&s);
    tmpdir_free(&dir);
}

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

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"create, close, reopen keeps everything", test_open_reopen},
        {"newer schema refused with LB_EVERSION", test_newer_schema_refused},
        {"damaged files refused", test_damaged_files},
        {"read-only open", test_read_only},
        {"case put/get and ids", test_case_put_get},
        {"area/state index and store_list", test_index_and_list},
        {"store_list fn errors and bad input", test_list_fn_error},
        {"overdue index follows the case", test_overdue_index},
        {"households: one open case", test_households},
        {"house_cases", test_house_cases},
        {"nid add/find", test_nid},
        {"counters across scopes", test_counters},
        {"counters of child scopes", test_counters_children},
        {"counters refuse an old meta that was never written", test_counters_corrupt_old},
        {"counters when the area changes", test_counters_area_move},
        {"counters recomputed from the cases", test_counts_verify},
        {"every case in id order", test_cases_each},
        {"events: append, contiguity, tip, iteration", test_events},
        {"timers: order, replace, clear, first", test_timers},
        {"idempotency records and pruning", test_idem},
        {"idempotency digests, old-format records, count, oldest", test_idem_digest},
        {"idempotency pruning in bounded slices", test_idem_prune_slices},
        {"nested transactions", test_nested},
        {"store_write fn error aborts", test_write_error_aborts},
        {"read snapshots and renewal", test_read_snapshot},
        {"map growth from 32 KiB", test_map_growth},
        {"map growth through nested transactions", test_map_growth_nested},
        {"map_max bounds growth", test_map_max},
        {"backup and stats", test_backup_and_stats},
    };
    unsigned failed = 1;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("store", NULL, NULL);
    if (!suite)
        goto done;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            goto done;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_basic_run_tests() != CUE_SUCCESS)
        goto done;
    failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
done:
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
