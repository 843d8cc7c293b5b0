/*
 * test_model.c - the crash test's rebuild model (model.c) on hand-written
 * logs: what a file fsynced, a folder fsynced, a torn write, an O_DSYNC
 * write and a crash-safe replace (temp file, fsync, rename) may become
 * after a power loss, over many seeds.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cu.h"
#include "model.h"

static char dir[64];
static FILE *logw;
static uint64_t seq;

/* Appends one record to the log being written. */
static void rec(uint32_t type, int64_t fd, int64_t arg, uint64_t off, const char *p1,
                const char *p2, const void *data, uint64_t len, uint32_t bits)
{
    crash_rec_t h = {.magic = CRASH_MAGIC,
                     .type = type,
                     .seq = seq,
                     .fd = fd,
                     .arg = arg,
                     .off = off,
                     .len = len,
                     .bits = bits};
    seq++;
    h.plen = p1 ? (uint32_t)strlen(p1) : 0;
    h.p2len = p2 ? (uint32_t)strlen(p2) : 0;
    fwrite(&h, sizeof h, 1, logw);
    if (h.plen)
        fwrite(p1, 1, h.plen, logw);
    if (h.p2len)
        fwrite(p2, 1, h.p2len, logw);
    if (type == CRASH_WRITE)
        fwrite(data, 1, len, logw);
}

static void log_begin(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/log", dir);
    logw = fopen(path, "wb");
    seq = 0;
}

static crash_log_t *log_end(void)
{
    char path[128], err[256];
    fclose(logw);
    snprintf(path, sizeof path, "%s/log", dir);
    crash_log_t *l = NULL;
    CU_ASSERT_EQUAL(crash_log_load(path, &l, err, sizeof err), 0);
    return l;
}

/* Rebuilds at cut with seed into dir/out; the file name's content in buf (-1: missing). */
static long rebuild(const crash_log_t *l, size_t cut, uint64_t seed, const char *name,
                    unsigned char *buf, size_t n)
{
    char out[128], path[256], err[256], cmd[300];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir '%s'", out, out);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL_FATAL(crash_rebuild(l, cut, seed, out, NULL, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/%s", out, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, buf, n);
    close(fd);
    return (long)got;
}

static int suite_init(void)
{
    snprintf(dir, sizeof dir, "/tmp/logbook-model-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int suite_clean(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A new file written and fsynced, its folder not: it may be missing, never partial. */
static void test_file_sync_without_folder(void)
{
    char data[6000];
    memset(data, 'a', sizeof data);
    log_begin();
    rec(CRASH_OPEN, 3, O_CREAT | O_WRONLY, 0, "f", NULL, NULL, 0, CRASH_B_CREATED);
    rec(CRASH_WRITE, 3, 0, 0, NULL, NULL, data, sizeof data, 0);
    rec(CRASH_FSYNC, 3, 0, 0, NULL, NULL, NULL, 0, 0);
    crash_log_t *l = log_end();
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    int missing = 0, whole = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        unsigned char buf[8000];
        long n = rebuild(l, 3, seed, "f", buf, sizeof buf);
        if (n < 0)
            missing++;
        else if (n == (long)sizeof data && memcmp(buf, data, sizeof data) == 0)
            whole++;
    }
    CU_ASSERT(missing > 0);
    CU_ASSERT(whole > 0);
    CU_ASSERT_EQUAL(missing + whole, 40);
    crash_log_destroy(&l);
}

/* With the folder fsynced too, the file is always there and whole. */
static void test_file_and_folder_sync(void)
{
    char data[5000];
    memset(data, 'b', sizeof data);
    log_begin();
    rec(CRASH_OPEN, 3, O_CREAT | O_WRONLY, 0, "f", NULL, NULL, 0, CRASH_B_CREATED);
    rec(CRASH_WRITE, 3, 0, 0, NULL, NULL, data, sizeof data, 0);
    rec(CRASH_FSYNC, 3, 0, 0, NULL, NULL, NULL, 0, 0);
    rec(CRASH_OPEN, 4, O_RDONLY, 0, "", NULL, NULL, 0, CRASH_B_DIR);
    rec(CRASH_FSYNC, 4, 0, 0, NULL, NULL, NULL, 0, 0);
    crash_log_t *l = log_end();
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        unsigned char buf[8000];
        CU_ASSERT_EQUAL(rebuild(l, 5, seed, "f", buf, sizeof buf), (long)sizeof data);
        CU_ASSERT_EQUAL(memcmp(buf, data, sizeof data), 0);
    }
    crash_log_destroy(&l);
}

/* An unsynced overwrite of two pages tears at 4 KiB: each page old or new on its own. */
static void test_torn_write(void)
{
    static char old[8192], neu[8192];
    memset(old, 'o', sizeof old);
    memset(neu, 'n', sizeof neu);
    log_begin();
    rec(CRASH_OPEN, 3, O_CREAT | O_WRONLY, 0, "f", NULL, NULL, 0, CRASH_B_CREATED);
    rec(CRASH_WRITE, 3, 0, 0, NULL, NULL, old, sizeof old, 0);
    rec(CRASH_FSYNC, 3, 0, 0, NULL, NULL, NULL, 0, 0);
    rec(CRASH_OPEN, 4, O_RDONLY, 0, "", NULL, NULL, 0, CRASH_B_DIR);
    rec(CRASH_FSYNC, 4, 0, 0, NULL, NULL, NULL, 0, 0);
    rec(CRASH_WRITE, 3, 0, 0, NULL, NULL, neu, sizeof neu, 0);
    crash_log_t *l = log_end();
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    int seen[4] = {0};
    for (uint64_t seed = 1; seed <= 64; seed++) {
        unsigned char buf[9000];
        CU_ASSERT_EQUAL_FATAL(rebuild(l, 6, seed, "f", buf, sizeof buf), 8192);
        bool first = buf[0] == 'n', second = buf[4096] == 'n';
        CU_ASSERT(buf[4095] == buf[0] && buf[8191] == buf[4096]);
        seen[first * 2 + second]++;
    }
    for (int i = 0; i < 4; i++)
        CU_ASSERT(seen[i] > 0);
    /* the same cut and seed, the same folder */
    unsigned char a[9000], b[9000];
    CU_ASSERT_EQUAL(rebuild(l, 6, 7, "f", a, sizeof a), rebuild(l, 6, 7, "f", b, sizeof b));
    CU_ASSERT_EQUAL(memcmp(a, b, 8192), 0);
    crash_log_destroy(&l);
}

/* A write through an O_DSYNC descriptor is there at every cut after it. */
static void test_dsync_write(void)
{
    log_begin();
    rec(CRASH_OPEN, 3, O_CREAT | O_WRONLY, 0, "f", NULL, NULL, 0, CRASH_B_CREATED);
    rec(CRASH_OPEN, 4, O_RDONLY, 0, "", NULL, NULL, 0, CRASH_B_DIR);
    rec(CRASH_FSYNC, 4, 0, 0, NULL, NULL, NULL, 0, 0);
    rec(CRASH_OPEN, 5, O_WRONLY | O_DSYNC, 0, "f", NULL, NULL, 0, CRASH_B_SYNC);
    rec(CRASH_WRITE, 5, 0, 100, NULL, NULL, "meta", 4, 0);
    crash_log_t *l = log_end();
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        unsigned char buf[200];
        CU_ASSERT_EQUAL_FATAL(rebuild(l, 5, seed, "f", buf, sizeof buf), 104);
        CU_ASSERT_EQUAL(memcmp(buf + 100, "meta", 4), 0);
    }
    crash_log_destroy(&l);
}

/* lb_file_replace's sequence without the folder's fsync: the old file or the new, whole. */
static void test_replace(void)
{
    log_begin();
    rec(CRASH_OPEN, 3, O_CREAT | O_WRONLY, 0, "tip", NULL, NULL, 0, CRASH_B_CREATED);
    rec(CRASH_WRITE, 3, 0, 0, NULL, NULL, "old", 3, 0);
    rec(CRASH_FSYNC, 3, 0, 0, NULL, NULL, NULL, 0, 0);
    rec(CRASH_CLOSE, 3, 0, 0, NULL, NULL, NULL, 0, 0);
    rec(CRASH_OPEN, 4, O_RDONLY, 0, "", NULL, NULL, 0, CRASH_B_DIR);
    rec(CRASH_FSYNC, 4, 0, 0, NULL, NULL, NULL, 0, 0);
    rec(CRASH_OPEN, 3, O_CREAT | O_WRONLY, 0, ".tip.tmp", NULL, NULL, 0, CRASH_B_CREATED);
    rec(CRASH_WRITE, 3, 0, 0, NULL, NULL, "new!", 4, 0);
    rec(CRASH_FSYNC, 3, 0, 0, NULL, NULL, NULL, 0, 0);
    rec(CRASH_CLOSE, 3, 0, 0, NULL, NULL, NULL, 0, 0);
    rec(CRASH_RENAME, -1, 0, 0, ".tip.tmp", "tip", NULL, 0, 0);
    rec(CRASH_OPEN, 5, O_CREAT | O_RDWR, 0, "lock.mdb", NULL, NULL, 0, CRASH_B_CREATED);
    crash_log_t *l = log_end();
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    int olds = 0, news = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        unsigned char buf[16];
        long n = rebuild(l, crash_log_count(l), seed, "tip", buf, sizeof buf);
        if (n == 3 && memcmp(buf, "old", 3) == 0)
            olds++;
        else if (n == 4 && memcmp(buf, "new!", 4) == 0)
            news++;
        CU_ASSERT_EQUAL(rebuild(l, crash_log_count(l), seed, "lock.mdb", buf, sizeof buf), -1);
    }
    CU_ASSERT(olds > 0);
    CU_ASSERT(news > 0);
    CU_ASSERT_EQUAL(olds + news, 40);
    crash_log_destroy(&l);
}

/* A record torn by the kill is left out; a log that is not one is refused. */
static void test_torn_log(void)
{
    log_begin();
    rec(CRASH_OPEN, 3, O_CREAT | O_WRONLY, 0, "f", NULL, NULL, 0, CRASH_B_CREATED);
    rec(CRASH_WRITE, 3, 0, 0, NULL, NULL, "abcdef", 6, 0);
    fflush(logw);
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/log", dir);
    CU_ASSERT_EQUAL(truncate(path, (off_t)(2 * sizeof(crash_rec_t) + 1 + 3)), 0);
    fclose(logw);
    crash_log_t *l = NULL;
    CU_ASSERT_EQUAL_FATAL(crash_log_load(path, &l, err, sizeof err), 0);
    CU_ASSERT_EQUAL(crash_log_count(l), 1);
    crash_log_destroy(&l);
    FILE *f = fopen(path, "wb");
    fputs("this is not a crash log, but it is long enough to hold a record header ......", f);
    fclose(f);
    CU_ASSERT_EQUAL(crash_log_load(path, &l, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(l);
}

static const cu_test_t tests[] = {
    {"a file fsynced in a folder never fsynced", test_file_sync_without_folder},
    {"a file and its folder fsynced", test_file_and_folder_sync},
    {"an unsynced write tears at 4 KiB", test_torn_write},
    {"an O_DSYNC write is durable", test_dsync_write},
    {"temp file, fsync, rename: old or new", test_replace},
    {"a torn log record", test_torn_log},
};

int main(void)
{
    return cu_run("crash model", suite_init, suite_clean, tests, CU_COUNT(tests));
}
