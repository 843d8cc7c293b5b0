/*
 * store/cases.c - cases and every index kept with them: area/state, overdue, households,
 * house_cases, national ids.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_test.h"

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

/* Personal data written out of id order, and over itself. */
static int pii_fill(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    static const struct {
        uint64_t id;
        const char *v;
    } w[] = {{5, "five"}, {3, "three"}, {5, "FIVE"}, {9, "nine"}, {3, ""}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        int rc = store_pii_put(txn, w[i].id, w[i].v, strlen(w[i].v));
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * A new case usually has the highest id and its keys are appended; one that
 * does not (ids given out of order) is put in its place all the same, and so
 * is personal data written again.
 */
static void test_put_out_of_order(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_store(dir, 0);
    store_txn_t *t = NULL;
    char buf[64];
    const void *p;
    size_t len;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    static const uint64_t ids[] = {20, 10, 30, 15};
    for (size_t i = 0; i < 4; i++) {
        char house[16];
        snprintf(house, sizeof house, "%011llu", (unsigned long long)ids[i]);
        store_case_meta_t m = meta_of("65010101", "identified", house, true);
        CU_ASSERT_EQUAL(write_case(s, ids[i], NULL, &m), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        char want[32];
        snprintf(want, sizeof want, "case:%llu:identified", (unsigned long long)ids[i]);
        CU_ASSERT_EQUAL(read_case(s, ids[i], buf, sizeof buf), 0);
        CU_ASSERT_STRING_EQUAL(buf, want);
    }
    list_q_t q;
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(list_all(s, "65", NULL, NULL, NULL, 0, &q), 0);
    CU_ASSERT_STRING_EQUAL(q.out, "10:65010101:identified 15:65010101:identified "
                                  "20:65010101:identified 30:65010101:identified");
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 4);

    CU_ASSERT_EQUAL(store_write(s, pii_fill, NULL), 0);
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_pii_get(t, 5, &p, &len), 0);
    CU_ASSERT(len == 4 && memcmp(p, "FIVE", 4) == 0);
    CU_ASSERT_EQUAL(store_pii_get(t, 3, &p, &len), 0);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(store_pii_get(t, 9, &p, &len), 0);
    CU_ASSERT(len == 4 && memcmp(p, "nine", 4) == 0);
    for (size_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(store_case_summary(t, ids[i], &p, &len), 0);
        snprintf(buf, sizeof buf, "sum:%llu:identified", (unsigned long long)ids[i]);
        CU_ASSERT(len == strlen(buf) && memcmp(p, buf, len) == 0);
    }
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&dir);
}

static const cu_test_t tests[] = {
    {"case put/get and ids", test_case_put_get},
    {"area/state index and store_list", test_index_and_list},
    {"store_list fn errors and bad input", test_list_fn_error},
    {"overdue index follows the case", test_overdue_index},
    {"households: one open case", test_households},
    {"house_cases", test_house_cases},
    {"nid add/find", test_nid},
    {"new cases and personal data out of id order", test_put_out_of_order},
};
const cu_suite_t store_cases_suite = {.name = "cases", .tests = tests, .n = CU_COUNT(tests)};
