/*
 * store/idem.c - idempotency records: replies, digests, old-format records, pruning.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_test.h"

/* ---- idempotency ---- */

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
    store_idem_rec_t rec = {0};
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

static const cu_test_t tests[] = {
    {"idempotency records and pruning", test_idem},
    {"idempotency digests, old-format records, count, oldest", test_idem_digest},
    {"idempotency pruning in bounded slices", test_idem_prune_slices},
};
const cu_suite_t store_idem_suite = {.name = "idem", .tests = tests, .n = CU_COUNT(tests)};
