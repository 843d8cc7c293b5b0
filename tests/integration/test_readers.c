/*
 * test_readers.c - the reader threads (PROTOCOL.md 8, `readers`): a write is
 * answered while a long read is in flight (held deterministically on the
 * test-only FIFO of readers_hold_for_test, never timed), a client reads its
 * own writes from any connection, admin.stats shows the pool, reloads while
 * reads run leave the daemon whole, and `readers: 0` still serves.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cu.h"
#include "../lib/testd.h"
#include "../lib/trust.h"

static testd_t D;
static char fifo_dir[64], fifo[96];
static char case_id[32];

static int suite_init(void)
{
    snprintf(fifo_dir, sizeof fifo_dir, "/tmp/lbd-readers-XXXXXX");
    if (!mkdtemp(fifo_dir))
        return -1;
    snprintf(fifo, sizeof fifo, "%s/hold", fifo_dir);
    if (mkfifo(fifo, 0600))
        return -1;
    char extra[256];
    snprintf(extra, sizeof extra, "readers: 2\nreaders_hold_for_test: %s\n", fifo);
    testd_opts_t o = {.manual_clock = true, .extra_config = extra};
    if (testd_start(&D, &o))
        return -1;
    return trust_open_case(&D, NULL, 1, "65010101", case_id) ? -1 : 0;
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    unlink(fifo);
    rmdir(fifo_dir);
    return rc == 0 ? 0 : -1;
}

static lb_val_t *note_args(const char *text)
{
    lb_val_t *a = lb_map(), *d = lb_map();
    lb_map_set_str(d, "note", text);
    lb_map_set_str(a, "case_id", case_id);
    lb_map_set_str(a, "action", "add_note");
    lb_map_set(a, "data", d);
    return a;
}

static lb_val_t *report_args(void)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "by", "province");
    return a;
}

/* Lets one held report.summary run: blocks until a reader thread has the FIFO open. */
static int release_one(void)
{
    int fd = open(fifo, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = write(fd, "x", 1) == 1 ? 0 : -1;
    close(fd);
    return rc;
}

/* Polls admin.stats until `key` reaches want (bounded): true when it did. */
static bool wait_stat(const char *key, int64_t want)
{
    for (int i = 0; i < 2000; i++) {
        if (trust_stat(&D, key) == want)
            return true;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* The write's reply arrives while the report is held on a reader thread, the report's after. */
static void test_write_during_read(void)
{
    lbc_t *reader = trust_client(&D, NULL, 20000), *writer = trust_client(&D, NULL, 20000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(reader);
    CU_ASSERT_PTR_NOT_NULL_FATAL(writer);
    char rid[LBC_ID_LEN + 1];
    lbc_new_id(rid);
    lb_val_t *ra = report_args();
    CU_ASSERT_EQUAL_FATAL(lbc_send(reader, rid, "report.summary", ra), 0);
    lb_val_free(&ra);
    /* The report is on a reader thread, waiting on the FIFO. */
    CU_ASSERT_TRUE_FATAL(wait_stat("reader_busy", 1));

    lb_val_t *wa = note_args("while a report runs"), *wr = NULL;
    char err[256];
    CU_ASSERT_EQUAL(lbc_call(writer, "case.act", wa, &wr, err, sizeof err), 0);
    CU_ASSERT_TRUE(wr && lbc_reply_ok(wr));
    int64_t seq = trust_result_int(wr, "seq", -1);
    CU_ASSERT_TRUE(seq > 0);
    lb_val_free(&wa);
    lb_val_free(&wr);

    /* The write was answered; the report is still held, so it has no reply yet. */
    lb_val_t *rr = NULL;
    CU_ASSERT_EQUAL(lbc_recv(reader, 0, &rr), LB_EUNAVAIL);
    lb_val_free(&rr);
    CU_ASSERT_EQUAL(trust_stat(&D, "reader_busy"), 1);

    CU_ASSERT_EQUAL_FATAL(release_one(), 0);
    CU_ASSERT_EQUAL(lbc_recv(reader, 20000, &rr), 0);
    CU_ASSERT_TRUE(rr && lbc_reply_ok(rr));
    CU_ASSERT_STRING_EQUAL(rr ? lbc_reply_id(rr) : "", rid);
    lb_val_free(&rr);
    lbc_destroy(&reader);
    lbc_destroy(&writer);
}

/* case.get's last_seq through c, or -1. */
static int64_t case_last_seq(lbc_t *c)
{
    lb_val_t *a = lb_map(), *r = NULL;
    lb_map_set_str(a, "case_id", case_id);
    char err[256];
    int64_t v = -1;
    if (lbc_call(c, "case.get", a, &r, err, sizeof err) == 0 && lbc_reply_ok(r))
        lb_map_int(lbc_reply_result(r), "last_seq", &v);
    lb_val_free(&a);
    lb_val_free(&r);
    return v;
}

/* A write, then at once a read from the same and from another connection: both see it. */
static void test_read_your_writes(void)
{
    lbc_t *a = trust_client(&D, NULL, 20000), *b = trust_client(&D, NULL, 20000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    int seen_a = 0, seen_b = 0, seen_pipe = 0;
    for (int i = 0; i < 40; i++) {
        char text[32];
        snprintf(text, sizeof text, "ryw %d", i);
        lb_val_t *wa = note_args(text), *wr = NULL;
        char err[256];
        int64_t seq = -1;
        if (lbc_call(a, "case.act", wa, &wr, err, sizeof err) == 0 && lbc_reply_ok(wr))
            seq = trust_result_int(wr, "seq", -1);
        lb_val_free(&wr);
        seen_a += seq > 0 && case_last_seq(a) >= seq;
        seen_b += seq > 0 && case_last_seq(b) >= seq;

        /* Pipelined: the read is sent before the write is answered, on the same connection. */
        char wid[LBC_ID_LEN + 1], rid[LBC_ID_LEN + 1];
        lbc_new_id(wid);
        lbc_new_id(rid);
        lb_val_t *ga = lb_map();
        lb_map_set_str(ga, "case_id", case_id);
        lb_val_t *wa2 = note_args("pipelined");
        int sent = lbc_send(a, wid, "case.act", wa2) == 0 && lbc_send(a, rid, "case.get", ga) == 0;
        lb_val_free(&wa2);
        lb_val_free(&ga);
        int64_t wseq = -1, rseq = -1;
        for (int k = 0; sent && k < 2; k++) {
            lb_val_t *r = NULL;
            if (lbc_recv(a, 20000, &r) != 0)
                break;
            if (strcmp(lbc_reply_id(r), wid) == 0)
                wseq = trust_result_int(r, "seq", -1);
            else if (lbc_reply_ok(r))
                lb_map_int(lbc_reply_result(r), "last_seq", &rseq);
            lb_val_free(&r);
        }
        seen_pipe += wseq > 0 && rseq >= wseq;
        lb_val_free(&wa);
    }
    CU_ASSERT_EQUAL(seen_a, 40);
    CU_ASSERT_EQUAL(seen_b, 40);
    CU_ASSERT_EQUAL(seen_pipe, 40);
    lbc_destroy(&a);
    lbc_destroy(&b);
}

/* admin.stats names the pool and the durability path. */
static void test_stats(void)
{
    CU_ASSERT_EQUAL(trust_stat(&D, "reader_threads"), 2);
    CU_ASSERT_EQUAL(trust_stat(&D, "reader_queue"), 0);
    CU_ASSERT_TRUE(trust_stat(&D, "reads_pooled") > 0);
    int64_t committed = trust_stat(&D, "committed"), durable = trust_stat(&D, "durable");
    CU_ASSERT_TRUE(committed > 0);
    CU_ASSERT_TRUE(durable > 0 && durable <= committed);
    CU_ASSERT_TRUE(trust_stat(&D, "durable_lag") >= 0);
    CU_ASSERT_TRUE(trust_stat(&D, "log_syncs") >= 0);
    CU_ASSERT_TRUE(trust_stat(&D, "checkpoints") >= 0);
    /* admin.verify runs on a reader thread too, and finds everything whole. */
    int64_t pooled = trust_stat(&D, "reads_pooled");
    lb_val_t *r = testd_call(&D, "admin.verify", NULL);
    CU_ASSERT_TRUE(r && lbc_reply_ok(r));
    lb_val_t *ok = r ? lb_map_get(lbc_reply_result(r), "ok") : NULL;
    CU_ASSERT_TRUE(ok && ok->type == LB_BOOL && ok->b);
    CU_ASSERT_TRUE(trust_result_int(r, "cases", 0) >= 1);
    lb_val_free(&r);
    CU_ASSERT_EQUAL(trust_stat(&D, "reads_pooled"), pooled + 1);
}

static lb_val_t *get_args(int i, void *ctx)
{
    (void)i;
    (void)ctx;
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_id);
    return a;
}

typedef struct {
    trust_tally_t tally;
    int answered;
} flood_t;

static void *flood(void *arg)
{
    flood_t *f = arg;
    lbc_t *c = trust_client(&D, NULL, 20000);
    if (!c)
        return NULL;
    f->answered = trust_pipeline(c, "rd", 2000, 64, "case.get", get_args, trust_tally_reply,
                                 &f->tally, true, 20000);
    lbc_destroy(&c);
    return NULL;
}

/* admin.reload while reads stream through the reader threads: all answered, the daemon whole. */
static void test_reload_during_reads(void)
{
    flood_t f = {0};
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, flood, &f), 0);
    int reloads = 0;
    for (int i = 0; i < 30; i++) {
        lb_val_t *r = testd_call(&D, "admin.reload", NULL);
        bool ok = r && lbc_reply_ok(r);
        lb_val_free(&r);
        if (!ok)
            break;
        reloads++;
    }
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(reloads, 30);
    CU_ASSERT_EQUAL(f.answered, 2000);
    CU_ASSERT_EQUAL(f.tally.ok, 2000);
    CU_ASSERT_EQUAL(f.tally.other, 0);
    /* SIGHUP too: the same reload from the loop. */
    CU_ASSERT_EQUAL(kill(D.pid, SIGHUP), 0);
    lb_val_t *r = testd_call(&D, "ping", NULL);
    CU_ASSERT_TRUE(r && lbc_reply_ok(r));
    lb_val_free(&r);
}

/* `readers: 0`: every read on the loop, as before. */
static void test_no_readers(void)
{
    testd_t z;
    testd_opts_t o = {.extra_config = "readers: 0\n"};
    CU_ASSERT_EQUAL_FATAL(testd_start(&z, &o), 0);
    char cid[32];
    CU_ASSERT_EQUAL(trust_open_case(&z, NULL, 7, "65010101", cid), 0);
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", cid);
    lb_val_t *r = testd_call(&z, "case.get", a);
    CU_ASSERT_TRUE(r && lbc_reply_ok(r));
    lb_val_free(&r);
    lb_val_free(&a);
    r = testd_call(&z, "admin.verify", NULL);
    CU_ASSERT_TRUE(r && lbc_reply_ok(r));
    lb_val_free(&r);
    CU_ASSERT_EQUAL(trust_stat(&z, "reader_threads"), 0);
    CU_ASSERT_EQUAL(trust_stat(&z, "reads_pooled"), 0);
    CU_ASSERT_TRUE(trust_stat(&z, "reads") >= 2);
    CU_ASSERT_EQUAL(testd_stop(&z), 0);
    testd_cleanup(&z);
}

/*
 * admin.verify's one scan (on a reader thread): a case record that does not
 * decode is listed in unreadable_cases and named first_bad_case, the others
 * are checked, and the counters are not judged while a case cannot be read.
 */
static void test_verify_unreadable(void)
{
    testd_t z;
    testd_opts_t o = {.extra_config = "readers: 2\n"};
    CU_ASSERT_EQUAL_FATAL(testd_start(&z, &o), 0);
    char first[32], cid[32];
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&z, NULL, 11, "65010101", first), 0);
    for (unsigned long i = 12; i < 14; i++)
        CU_ASSERT_EQUAL_FATAL(trust_open_case(&z, NULL, i, "65010102", cid), 0);
    CU_ASSERT_EQUAL_FATAL(testd_stop(&z), 0);
    /* The first case's record (the first value of the cases database) becomes nil. */
    char cmd[2500];
    snprintf(cmd, sizeof cmd,
             "mdb_dump -s cases '%s' | awk '/^HEADER=END/{print; d=1; next} /^DATA=END/{d=0} "
             "d && ++n == 2 {print \" c0\"; next} {print}' > '%s/cases.dump' && "
             "mdb_load -s cases -f '%s/cases.dump' '%s'",
             z.data, z.dir, z.dir, z.data);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL_FATAL(testd_restart(&z), 0);
    lb_val_t *r = testd_call(&z, "admin.verify", NULL);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    const lb_val_t *res = lbc_reply_result(r);
    const lb_val_t *ok = lb_map_get(res, "ok"), *un = lb_map_get(res, "unreadable_cases");
    CU_ASSERT_TRUE(ok && ok->type == LB_BOOL && !ok->b);
    CU_ASSERT_TRUE_FATAL(un && un->type == LB_ARR && un->a.n == 1);
    CU_ASSERT_STRING_EQUAL(un->a.items[0]->type == LB_STR ? un->a.items[0]->s.p : "", first);
    CU_ASSERT_STRING_EQUAL(lb_map_str(res, "first_bad_case") ?: "", first);
    CU_ASSERT_STRING_EQUAL(lb_map_str(res, "case_problem") ?: "", "its record does not decode");
    CU_ASSERT_EQUAL(trust_result_int(r, "cases", -1), 1);
    CU_ASSERT_PTR_NULL(lb_map_get(res, "bad_counter"));
    lb_val_free(&r);
    CU_ASSERT_EQUAL(trust_stat(&z, "reads_pooled") >= 1, 1);
    CU_ASSERT_EQUAL(testd_stop(&z), 0);
    testd_cleanup(&z);
}

int main(void)
{
    static const cu_test_t tests[] = {
        {"a write is answered while a long read is in flight", test_write_during_read},
        {"a write is read at once from the same and another connection", test_read_your_writes},
        {"admin.stats shows the reader pool and the durability path", test_stats},
        {"admin.reload and SIGHUP while reads run on reader threads", test_reload_during_reads},
        {"readers: 0 serves every read on the loop", test_no_readers},
        {"admin.verify lists an unreadable case in its one scan", test_verify_unreadable},
    };
    return cu_run("readers", suite_init, suite_clean, tests, CU_COUNT(tests));
}
