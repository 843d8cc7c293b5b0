/*
 * store/open.c - open, reopen, the schema check, damaged files and read-only opens.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_test.h"

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

static const cu_test_t tests[] = {
    {"create, close, reopen keeps everything", test_open_reopen},
    {"newer schema refused with LB_EVERSION", test_newer_schema_refused},
    {"damaged files refused", test_damaged_files},
    {"read-only open", test_read_only},
};
const cu_suite_t store_open_suite = {.name = "open", .tests = tests, .n = CU_COUNT(tests)};
