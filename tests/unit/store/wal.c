/*
 * store/wal.c - the write-ahead log and checkpoints: tickets becoming
 * durable, recovery of a copy taken while the store was open (the files as a
 * crash leaves them), torn and stale records, nested aborts, map growth and
 * big records, read-only opens of a store that was not shut down cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_test.h"

#define AREA "65010101"

static store_t *open_opts(const char *dir, size_t map_size, int ckpt_ms, size_t wal_size)
{
    store_opts_t o = {.map_size = map_size, .ckpt_ms = ckpt_ms, .wal_size = wal_size};
    char err[256];
    store_t *s = NULL;
    int rc = store_open(dir, &o, &s, err, sizeof err);
    if (rc)
        fprintf(stderr, "store_open: %s\n", err);
    CU_ASSERT_EQUAL(rc, 0);
    return s;
}

static store_case_meta_t case_meta(uint64_t id)
{
    char house[12];
    snprintf(house, sizeof house, "%011llu", (unsigned long long)(10000000000ull + id));
    return meta_of(AREA, "identified", house, true);
}

/* Writes cases from..to, one store_write each. */
static void write_cases(store_t *s, uint64_t from, uint64_t to)
{
    for (uint64_t id = from; id <= to; id++) {
        store_case_meta_t m = case_meta(id);
        CU_ASSERT_EQUAL(write_case(s, id, NULL, &m), 0);
    }
}

static bool has_case(store_t *s, uint64_t id)
{
    char buf[64], want[64];
    snprintf(want, sizeof want, "case:%llu:identified", (unsigned long long)id);
    return read_case(s, id, buf, sizeof buf) == 0 && strcmp(buf, want) == 0;
}

static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char buf[65536];
    ssize_t n;
    int rc = (in >= 0 && out >= 0) ? 0 : -1;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* The files of a store as they are now (what a crash leaves), into a new folder. */
static char *crash_copy(const char *dir)
{
    static const char *const files[] = {"data.mdb", "ckpt", "wal.0", "wal.1"};
    char *to = tmpdir_new();
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char a[4200], b[4200];
        snprintf(a, sizeof a, "%s/%s", dir, files[i]);
        snprintf(b, sizeof b, "%s/%s", to, files[i]);
        CU_ASSERT_EQUAL(copy_file(a, b), 0);
    }
    return to;
}

/* The offset after the first k records of a log file (each: 24-byte header, payload, 8-byte sum).
 */
static off_t rec_end(const char *dir, int file, int k)
{
    char path[4200];
    uint8_t h[8];
    off_t off = 0;
    snprintf(path, sizeof path, "%s/wal.%d", dir, file);
    int fd = open(path, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0);
    for (int i = 0; i < k; i++) {
        CU_ASSERT_EQUAL(pread(fd, h, sizeof h, off), (ssize_t)sizeof h);
        uint32_t len =
            ((uint32_t)h[4] << 24) | ((uint32_t)h[5] << 16) | ((uint32_t)h[6] << 8) | h[7];
        off += 24 + (off_t)len + 8;
    }
    close(fd);
    return off;
}

static void patch(const char *dir, int file, off_t off, const void *p, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/wal.%d", dir, file);
    int fd = open(path, O_WRONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, p, n, off), (ssize_t)n);
    close(fd);
}

static store_stats_t stats_of(store_t *s)
{
    store_stats_t st;
    CU_ASSERT_EQUAL(store_stats(s, &st), 0);
    return st;
}

/* ---- tests ---- */

static void test_round_trip(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_opts(dir, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_stats_t st = stats_of(s);
    CU_ASSERT_EQUAL(st.checkpoints, 1); /* the one of the open */
    CU_ASSERT_EQUAL(st.replayed, 0);
    write_cases(s, 1, 3);
    st = stats_of(s);
    CU_ASSERT_EQUAL(st.committed, 3);
    CU_ASSERT_EQUAL(st.durable, 3); /* store_write waits for it */
    CU_ASSERT_TRUE(st.log_syncs >= 1 && st.log_syncs <= 3);
    CU_ASSERT_TRUE(st.log_bytes > 3 * 32);
    CU_ASSERT_TRUE(st.data_syncs >= 1);
    CU_ASSERT_TRUE(store_durable_fd(s) >= 0);
    CU_ASSERT_EQUAL(store_log_failed(s), 0);
    store_close(&s);

    /* A clean close leaves nothing to replay. */
    s = open_opts(dir, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    st = stats_of(s);
    CU_ASSERT_EQUAL(st.replayed, 0);
    CU_ASSERT_EQUAL(st.committed, 0);
    for (uint64_t id = 1; id <= 3; id++)
        CU_ASSERT_TRUE(has_case(s, id));
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 3);
    store_close(&s);
    tmpdir_free(&dir);
}

typedef struct {
    uint64_t id;
} one_case_t;

static int one_case_fn(store_txn_t *txn, void *ctx)
{
    const one_case_t *c = ctx;
    store_case_meta_t m = case_meta(c->id);
    return put_case(txn, c->id, NULL, &m);
}

static void test_async_tickets(void)
{
    enum { N = 64 };
    char *dir = tmpdir_new();
    store_t *s = open_opts(dir, 0, 0, 0);
    uint64_t ticket, last = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_stats_t st0 = stats_of(s);
    for (uint64_t id = 1; id <= N; id++) {
        one_case_t c = {id};
        CU_ASSERT_EQUAL(store_write_async(s, one_case_fn, &c, &ticket), 0);
        CU_ASSERT_EQUAL(ticket, last + 1);
        last = ticket;
    }
    CU_ASSERT_EQUAL(store_committed(s), N);
    /* A ticket not yet given out cannot be waited for. */
    CU_ASSERT_EQUAL(store_wait_durable(s, N + 1), LB_EINTERNAL);

    /* The descriptor turns readable as durability advances: poll it until all are durable. */
    struct pollfd p = {.fd = store_durable_fd(s), .events = POLLIN};
    for (int round = 0; store_durable(s) < N && round < 1000; round++) {
        CU_ASSERT_EQUAL_FATAL(poll(&p, 1, 10000), 1);
        uint64_t v;
        CU_ASSERT_EQUAL(read(p.fd, &v, sizeof v), (ssize_t)sizeof v);
    }
    CU_ASSERT_EQUAL(store_durable(s), N);
    CU_ASSERT_EQUAL(store_wait_durable(s, N), 0);
    store_stats_t st = stats_of(s);
    uint64_t syncs = st.log_syncs - st0.log_syncs, bytes = st.log_bytes - st0.log_bytes;
    CU_ASSERT_TRUE(syncs >= 1 && syncs <= N);

    /* The same number of synchronous writes: each waits for its own fsync. */
    write_cases(s, N + 1, 2 * N);
    store_stats_t st2 = stats_of(s);
    fprintf(stderr,
            "\n  %d async commits: %llu log fsyncs; %d sync commits: %llu log fsyncs, "
            "%llu data fsyncs in all; %llu bytes a record (one new case)\n",
            N, (unsigned long long)syncs, N, (unsigned long long)(st2.log_syncs - st.log_syncs),
            (unsigned long long)st2.data_syncs, (unsigned long long)(bytes / N));
    store_close(&s);
    tmpdir_free(&dir);
}

/*
 * A burst of async commits (the syncer writes them, the writer only queues
 * them), across log switches when ckpt_ms is 0: once the last ticket is
 * durable, a crash copy holds every one of them.
 */
static void burst_then_crash(int ckpt_ms)
{
    enum { N = 300 };
    char *dir = tmpdir_new();
    store_t *s = open_opts(dir, 0, ckpt_ms, 0);
    uint64_t ticket = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (uint64_t id = 1; id <= N; id++) {
        one_case_t c = {id};
        CU_ASSERT_EQUAL(store_write_async(s, one_case_fn, &c, &ticket), 0);
    }
    CU_ASSERT_EQUAL(ticket, N);
    CU_ASSERT_EQUAL(store_wait_durable(s, ticket), 0);
    CU_ASSERT_EQUAL(store_log_failed(s), 0);
    char *copy = crash_copy(dir);
    store_close(&s);

    s = open_opts(copy, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (ckpt_ms < 0)
        CU_ASSERT_EQUAL(stats_of(s).replayed, N);
    for (uint64_t id = 1; id <= N; id++)
        CU_ASSERT_TRUE(has_case(s, id));
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), N);
    store_close(&s);
    tmpdir_free(&copy);
    tmpdir_free(&dir);
}

static void test_async_burst_crash(void)
{
    burst_then_crash(-1); /* no checkpoint: all from the log */
    burst_then_crash(0);  /* a checkpoint and a switch whenever none runs */
}

static void test_crash_replay(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_opts(dir, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    write_cases(s, 1, 10);
    char *copy = crash_copy(dir);
    write_cases(s, 11, 12); /* after the crash: not in the copy */
    store_close(&s);

    s = open_opts(copy, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_stats_t st = stats_of(s);
    CU_ASSERT_EQUAL(st.replayed, 10);
    for (uint64_t id = 1; id <= 10; id++)
        CU_ASSERT_TRUE(has_case(s, id));
    CU_ASSERT_FALSE(has_case(s, 11));
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 10);
    CU_ASSERT_EQUAL(count_of(s, AREA, "open"), 10);
    /* It goes on from there, and the next open has nothing to replay. */
    write_cases(s, 11, 11);
    store_close(&s);
    s = open_opts(copy, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(stats_of(s).replayed, 0);
    CU_ASSERT_TRUE(has_case(s, 11));
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 11);
    store_close(&s);
    tmpdir_free(&copy);
    tmpdir_free(&dir);
}

static void test_torn_tail(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_opts(dir, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    write_cases(s, 1, 5);
    char *garbage = crash_copy(dir), *torn = crash_copy(dir);
    store_close(&s);

    /* Garbage after the last record is not a record. */
    char junk[300];
    memset(junk, 0x5a, sizeof junk);
    patch(garbage, 0, rec_end(garbage, 0, 5), junk, sizeof junk);
    s = open_opts(garbage, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(stats_of(s).replayed, 5);
    CU_ASSERT_TRUE(has_case(s, 5));
    store_close(&s);

    /* A torn last record is not replayed; those before it are. */
    patch(torn, 0, rec_end(torn, 0, 4) + 30, "\xff\xfe", 2);
    s = open_opts(torn, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(stats_of(s).replayed, 4);
    CU_ASSERT_TRUE(has_case(s, 4));
    CU_ASSERT_FALSE(has_case(s, 5));
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 4);
    store_close(&s);
    tmpdir_free(&garbage);
    tmpdir_free(&torn);
    tmpdir_free(&dir);
}

static void test_stale_record_not_replayed(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_opts(dir, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    write_cases(s, 1, 2);
    char *c1 = crash_copy(dir);
    write_cases(s, 3, 4);
    char *c2 = crash_copy(dir); /* records 1..4 of the first life */
    store_close(&s);

    /* A second life of c1: recovered (1, 2), then a different record 3. */
    s = open_opts(c1, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(stats_of(s).replayed, 2);
    write_cases(s, 103, 103);
    char *c3 = crash_copy(c1);
    store_close(&s);

    /* After it, the first life's record 4: the right seq, but it follows another 3. */
    off_t a = rec_end(c2, 0, 3), b = rec_end(c2, 0, 4);
    char *rec = malloc((size_t)(b - a)), path[4200];
    CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
    snprintf(path, sizeof path, "%s/wal.0", c2);
    int fd = open(path, O_RDONLY);
    CU_ASSERT_EQUAL(pread(fd, rec, (size_t)(b - a), a), b - a);
    close(fd);
    patch(c3, 0, rec_end(c3, 0, 1), rec, (size_t)(b - a));
    free(rec);

    s = open_opts(c3, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(stats_of(s).replayed, 1);
    CU_ASSERT_TRUE(has_case(s, 103));
    CU_ASSERT_FALSE(has_case(s, 4));
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 3);
    store_close(&s);
    tmpdir_free(&c1);
    tmpdir_free(&c2);
    tmpdir_free(&c3);
    tmpdir_free(&dir);
}

/* A nested txn writing case 1 and aborted; with keep, case 2 written in the parent. */
static int nested_abort_fn(store_txn_t *txn, void *ctx)
{
    const bool *keep = ctx;
    store_txn_t *c = NULL;
    store_case_meta_t m = case_meta(1);
    int rc = store_nested_begin(txn, &c);
    if (rc)
        return rc;
    CU_ASSERT_EQUAL(put_case(c, 1, NULL, &m), 0);
    store_nested_abort(&c);
    if (!*keep)
        return 0;
    m = case_meta(2);
    return put_case(txn, 2, NULL, &m);
}

static void test_nested_abort_not_logged(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_opts(dir, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    bool keep = false;
    uint64_t before = stats_of(s).log_bytes;
    CU_ASSERT_EQUAL(store_write(s, nested_abort_fn, &keep), 0);
    /* An empty record: header and sum only. */
    CU_ASSERT_EQUAL(stats_of(s).log_bytes - before, 32);
    keep = true;
    CU_ASSERT_EQUAL(store_write(s, nested_abort_fn, &keep), 0);
    char *copy = crash_copy(dir);
    store_close(&s);

    s = open_opts(copy, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(stats_of(s).replayed, 2);
    CU_ASSERT_FALSE(has_case(s, 1));
    CU_ASSERT_TRUE(has_case(s, 2));
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 1);
    store_close(&s);
    tmpdir_free(&copy);
    tmpdir_free(&dir);
}

/* A 200 KiB meta blob of bytes i * 7. */
static int blob_fn(store_txn_t *txn, void *ctx)
{
    (void)ctx;
    enum { BLOB = 200 << 10 };
    uint8_t *b = malloc(BLOB);
    if (!b)
        return LB_ENOMEM;
    for (size_t i = 0; i < BLOB; i++)
        b[i] = (uint8_t)(i * 7);
    int rc = store_meta_put(txn, "blob", b, BLOB);
    free(b);
    return rc;
}

static void test_growth_while_pinned(void)
{
    enum { N = 300 };
    char *dir = tmpdir_new();
    /* A 32 KiB map grows many times while the checkpoint's snapshot is pinned. */
    store_t *s = open_opts(dir, 32 << 10, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    write_cases(s, 1, N);
    CU_ASSERT_TRUE(stats_of(s).map_bytes > (32 << 10));
    char *copy = crash_copy(dir);
    store_close(&s);

    s = open_opts(copy, 32 << 10, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(stats_of(s).replayed, N); /* the replay grows the map too */
    for (uint64_t id = 1; id <= N; id++)
        CU_ASSERT_TRUE(has_case(s, id));
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), N);
    store_close(&s);
    tmpdir_free(&copy);
    tmpdir_free(&dir);
}

typedef struct {
    store_t *s;
    atomic_bool stop;
    int errors;
    unsigned long reads;
} reader_ctx_t;

/* Reads case 1 in read transactions of its own until stopped. */
static void *reader_loop(void *arg)
{
    reader_ctx_t *r = arg;
    while (!atomic_load(&r->stop)) {
        store_txn_t *t = NULL;
        const void *p;
        size_t len;
        if (store_read_begin(r->s, &t) != 0 || store_case_get(t, 1, &p, &len) != 0)
            r->errors++;
        store_read_end(&t);
        r->reads++;
    }
    return NULL;
}

static void test_growth_with_reader_threads(void)
{
    enum { N = 300, READERS = 2 };
    char *dir = tmpdir_new();
    store_t *s = open_opts(dir, 32 << 10, 0, 0);
    pthread_t th[READERS];
    reader_ctx_t r[READERS];
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    write_cases(s, 1, 1);
    for (int i = 0; i < READERS; i++) {
        r[i] = (reader_ctx_t){.s = s};
        atomic_init(&r[i].stop, false);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, reader_loop, &r[i]), 0);
    }
    /* Each growth waits for the open readers and holds new ones back. */
    write_cases(s, 2, N);
    for (int i = 0; i < READERS; i++) {
        atomic_store(&r[i].stop, true);
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(r[i].errors, 0);
    }
    CU_ASSERT_TRUE(stats_of(s).map_bytes > (32 << 10));
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), N);
    store_close(&s);
    tmpdir_free(&dir);
}

static void test_big_records(void)
{
    char *dir = tmpdir_new();
    store_t *s = open_opts(dir, 0, -1, 16 << 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* Over half of 16 KiB: checkpoints switch files. They end on the checkpoint thread, and
     * one that is still running when a file is half full defers the next: write on (at least
     * 40 cases) until one more than the opening checkpoint has ended, whatever the load. */
    uint64_t n = 0;
    while (n < 40 || (stats_of(s).checkpoints <= 1 && n < 100000)) {
        n++;
        write_cases(s, n, n);
    }
    CU_ASSERT_TRUE(stats_of(s).checkpoints > 1);
    /* A record bigger than the 16 KiB a log file was given extends it. */
    CU_ASSERT_EQUAL(store_write(s, blob_fn, NULL), 0);
    char *copy = crash_copy(dir);
    store_close(&s);

    s = open_opts(copy, 0, -1, 16 << 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), n);
    store_txn_t *t = NULL;
    const void *p;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_meta_get(t, "blob", &p, &len), 0);
    CU_ASSERT_EQUAL(len, 200 << 10);
    if (len == (200 << 10))
        CU_ASSERT_EQUAL(((const uint8_t *)p)[12345], (uint8_t)(12345 * 7));
    store_read_end(&t);
    store_close(&s);
    tmpdir_free(&copy);
    tmpdir_free(&dir);
}

static void test_read_only_unclean(void)
{
    char *dir = tmpdir_new();
    char err[512];
    store_opts_t ro = {.read_only = true};
    store_t *s = open_opts(dir, 0, -1, 0), *r = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    write_cases(s, 1, 3);
    /* While the writer holds the store, a reader sees what it committed. */
    CU_ASSERT_EQUAL(store_open(dir, &ro, &r, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_TRUE(has_case(r, 3));
    store_close(&r);
    /* A second writer is refused. */
    CU_ASSERT_EQUAL(store_open(dir, NULL, &r, err, sizeof err), LB_EIO);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "in use"));
    char *copy = crash_copy(dir);
    store_close(&s);

    CU_ASSERT_EQUAL(store_open(copy, &ro, &r, err, sizeof err), LB_EIO);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "the store was not shut down cleanly; start logbookd once "
                                       "on it to recover its write-ahead log"));
    s = open_opts(copy, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    store_close(&s);
    CU_ASSERT_EQUAL(store_open(copy, &ro, &r, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_TRUE(has_case(r, 3));
    store_close(&r);
    tmpdir_free(&copy);
    tmpdir_free(&dir);
}

static void test_store_without_ckpt(void)
{
    static const char *const logfiles[] = {"ckpt", "wal.0", "wal.1"};
    char *dir = tmpdir_new();
    char path[4200];
    store_t *s = open_opts(dir, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    write_cases(s, 1, 3);
    store_close(&s);
    /* What an older logbookd left: data.mdb alone (its commits were synced). */
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, logfiles[i]);
        CU_ASSERT_EQUAL(unlink(path), 0);
    }
    s = open_opts(dir, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(stats_of(s).replayed, 0);
    CU_ASSERT_EQUAL(stats_of(s).checkpoints, 1);
    CU_ASSERT_EQUAL(count_of(s, "", "cases"), 3);
    write_cases(s, 4, 4);
    char *copy = crash_copy(dir);
    store_close(&s);
    for (int i = 0; i < 3; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, logfiles[i]);
        CU_ASSERT_EQUAL(stat(path, &st), 0);
        CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    }
    /* From then on it recovers like any other. */
    s = open_opts(copy, 0, -1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(stats_of(s).replayed, 1);
    CU_ASSERT_TRUE(has_case(s, 4));
    store_close(&s);
    tmpdir_free(&copy);
    tmpdir_free(&dir);
}

static const cu_test_t tests[] = {
    {"log round trip, clean reopen replays nothing", test_round_trip},
    {"async tickets become durable (eventfd)", test_async_tickets},
    {"crash copy: committed and logged writes recovered", test_crash_replay},
    {"crash copy after a burst of async commits: all durable ones recovered",
     test_async_burst_crash},
    {"torn or garbage tail ignored", test_torn_tail},
    {"stale record after another life not replayed (chain)", test_stale_record_not_replayed},
    {"nested abort leaves nothing in the log", test_nested_abort_not_logged},
    {"map growth while pinned, and in the replay", test_growth_while_pinned},
    {"map growth while reader threads come and go", test_growth_with_reader_threads},
    {"records bigger than a log file, file switches", test_big_records},
    {"read-only open of an unclean store refused", test_read_only_unclean},
    {"a store without ckpt (older logbookd) is taken as it is", test_store_without_ckpt},
};
const cu_suite_t store_wal_suite = {.name = "wal", .tests = tests, .n = CU_COUNT(tests)};
