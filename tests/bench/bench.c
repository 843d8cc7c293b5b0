/*
 * bench.c - `make bench`: throughput and latency figures for logbookd.
 *
 * Starts its own daemons with tests/lib/testd (real clock, CURVE, fsync on
 * every commit as shipped), drives them over ZeroMQ with the client library
 * and PRINTS what it measured. It never asserts a timing: figures depend on
 * the machine and on what else runs on it (see docs/BENCHMARKS.md).
 *
 *   1. durable transitions (case.act add_note), 1 x 1 and 32 x 4 in flight,
 *      with CPU, bytes written and syncs per transition (bench_tx.c)
 *   2. PostgreSQL 15 running the same transaction with pgbench, when it is
 *      installed (bench_pg.c), and the CURVE share (32 x 4, CURVE off)
 *   3. case.import rate, 100,000 households in batches of 10,000
 *   4. case.list and report.summary times over those 100,000 cases
 *   5. a write's extra wait while a national report by village (75,000
 *      villages) runs on another connection (bench_report.c)
 *   6. start time and anonymous memory with 1,000,000 cases
 *
 * Environment:
 *   BENCH_QUICK=1       a small version of everything (smoke test, ~10 s)
 *   BENCH_CASES_BIG=N   cases for part 6 (default 1,000,000)
 *   BENCH_BATCH_MAX=N   the daemons' limits.batch_max (default 512)
 *   BENCH_SECONDS=S     length of each transitions run (default 5)
 *   BENCH_VILLAGES=N    villages of part 5 (default 75,000)
 *   BENCH_ONLY=LIST     comma-separated parts to run: tx,pg,curve,import,query,report,big
 *   LOGBOOKD=PATH       the daemon binary (default bin/logbookd)
 *   TESTD_KEEP=1        keep the scratch folders (testd, and PostgreSQL's)
 * Run from the repository root (testd finds config/ relative to it).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../../clients/lib/pipe.h"
#include "bench.h"

/* ---------------------------------------------------------------------- */
/* Settings                                                                */
/* ---------------------------------------------------------------------- */

static long env_long(const char *name, long def)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v <= 0) {
        fprintf(stderr, "bench: %s=%s is not a positive integer, using %ld\n", name, s, def);
        return def;
    }
    return v;
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */
/* ---------------------------------------------------------------------- */
/* ---------------------------------------------------------------------- */
/* 3 and 4. Import and reads over bench_cfg.mid cases                              */
/* ---------------------------------------------------------------------- */

typedef struct {
    double med, min, max;
    int64_t items; /* cases or rows in the last reply */
    const char *err;
} qres_t;

static qres_t time_query(testd_t *t, const char *op, lb_val_t *args, const char *list_key)
{
    qres_t q = {0};
    double *v = calloc((size_t)bench_cfg.query_runs, sizeof *v);
    int n = 0;
    for (int i = 0; i < bench_cfg.query_runs; i++) {
        uint64_t t0 = bench_now_ns();
        lb_val_t *r = testd_call(t, op, args);
        double dt = bench_ms_since(t0);
        const lb_val_t *res = r ? lbc_reply_result(r) : NULL;
        if (!res) {
            static char code[64];
            snprintf(code, sizeof code, "%s", testd_code(r));
            q.err = code;
            lb_val_free(&r);
            break;
        }
        const lb_val_t *items = lb_map_get(res, list_key);
        q.items = items && items->type == LB_ARR ? (int64_t)items->a.n : -1;
        v[n++] = dt;
        lb_val_free(&r);
    }
    if (n) {
        qsort(v, (size_t)n, sizeof *v, bench_cmp_dbl);
        q.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        q.min = v[0];
        q.max = v[n - 1];
    }
    free(v);
    lb_val_free(&args);
    return q;
}

static void print_q(const char *label, const qres_t *q, const char *unit)
{
    if (q->err)
        printf("  %-44s FAILED: %s\n", label, q->err);
    else
        printf("  %-44s median %-10s (min %s, max %s; %lld %s)\n", label, bench_ms(q->med),
               bench_ms(q->min), bench_ms(q->max), (long long)q->items, unit);
    fflush(stdout);
}

static lb_val_t *list_args(const char *area, const char *state, bool overdue)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "area", area);
    if (state)
        lb_map_set_str(a, "state", state);
    if (overdue)
        lb_map_set_bool(a, "overdue", true);
    lb_map_set_int(a, "limit", 100);
    return a;
}

static lb_val_t *summary_args(const char *area, const char *by)
{
    lb_val_t *a = lb_map();
    if (area)
        lb_map_set_str(a, "area", area);
    lb_map_set_str(a, "by", by);
    return a;
}

/* Moves every step-th case under area to visit_scheduled, pipelined; returns how many moved. */
static long schedule_some(testd_t *t, long step)
{
    size_t max = (size_t)bench_cfg.mid;
    char(*ids)[LB_CASE_ID_MAX] = calloc(max, sizeof *ids);
    size_t n = bench_list_ids(t, "65", ids, max);
    void *z = zmq_ctx_new();
    lbc_t *c = bench_client(t, z, 30000);
    long moved = 0, sent = 0, pending = 0;
    lb_val_t *args = lb_map(), *data = lb_map();
    lb_map_set_str(data, "team", "team-bench-1");
    lb_map_set_str(args, "case_id", ids[0]);
    lb_map_set_str(args, "action", "schedule_visit");
    lb_map_set(args, "data", data);
    for (size_t i = 0; c && (i < n || pending > 0);) {
        while (i < n && pending < 64) {
            char id[32];
            lb_map_set_str(args, "case_id", ids[i]);
            snprintf(id, sizeof id, "sv-%zu", i);
            i += (size_t)step;
            if (lbc_send(c, id, "case.act", args))
                break;
            sent++;
            pending++;
        }
        if (i >= n && pending == 0)
            break;
        lb_val_t *r = NULL;
        if (lbc_recv(c, 30000, &r))
            break;
        pending--;
        if (lbc_reply_ok(r))
            moved++;
        lb_val_free(&r);
    }
    lb_val_free(&args);
    lbc_destroy(&c);
    zmq_ctx_term(z);
    free(ids);
    return moved;
}

static int part_import_query(bool do_import_fig, bool do_query)
{
    testd_t t = {0};
    if (bench_start_daemon(&t, "import", false, NULL)) {
        testd_cleanup(&t);
        return -1;
    }
    bench_import_t ir;
    int rc = bench_import_range(&t, 0, (uint64_t)bench_cfg.mid, (uint64_t)bench_cfg.import_batch,
                                &ir, false);
    if (do_import_fig) {
        long batches = (bench_cfg.mid + bench_cfg.import_batch - 1) /
                       bench_cfg.import_batch; /* the last may be short */
        printf("import %s households in batches of %s: %s households/s  (%s per batch, slowest "
               "%s; %s/s counting the client building batches; opened %s, skipped %s, errors "
               "%s)\n",
               bench_num((double)bench_cfg.mid), bench_num((double)bench_cfg.import_batch),
               bench_num((double)bench_cfg.mid / (ir.call_ms / 1e3)),
               bench_ms(ir.call_ms / (double)batches), bench_ms(ir.worst_ms),
               bench_num((double)bench_cfg.mid / (ir.wall_ms / 1e3)), bench_num((double)ir.opened),
               bench_num((double)ir.skipped), bench_num((double)ir.errors));
        fflush(stdout);
    }
    if (rc == 0 && do_query) {
        long step = 100;
        uint64_t s0 = bench_now_ns();
        long moved = schedule_some(&t, step);
        printf("reads over %s cases (median of %d runs; %s cases moved to visit_scheduled in "
               "%s for the state filter):\n",
               bench_num((double)bench_cfg.mid), bench_cfg.query_runs, bench_num((double)moved),
               bench_ms(bench_ms_since(s0)));
        qres_t q;
        q = time_query(&t, "case.list", list_args("65", NULL, false), "cases");
        print_q("case.list area 65, first page of 100", &q, "cases");
        q = time_query(&t, "case.list", list_args("65", "identified", false), "cases");
        print_q("case.list area 65 state identified", &q, "cases");
        q = time_query(&t, "case.list", list_args("65", "visit_scheduled", false), "cases");
        print_q("case.list area 65 state visit_scheduled", &q, "cases");
        q = time_query(&t, "case.list", list_args("65", NULL, true), "cases");
        print_q("case.list area 65 overdue=true", &q, "cases");
        q = time_query(&t, "case.list", list_args("6505", NULL, false), "cases");
        print_q("case.list area 6505 (district), first page", &q, "cases");
        q = time_query(&t, "report.summary", summary_args("65", "district"), "rows");
        print_q("report.summary by district, area 65", &q, "rows");
        q = time_query(&t, "report.summary", summary_args(NULL, "district"), "rows");
        print_q("report.summary by district, no area", &q, "rows");
        q = time_query(&t, "report.summary", summary_args("6505", "village"), "rows");
        print_q("report.summary by village, area 6505", &q, "rows");
        q = time_query(&t, "report.summary", summary_args("65", "dimension"), "rows");
        print_q("report.summary by dimension, area 65", &q, "rows");
        printf("  daemon RssAnon after these reads: %s kB\n",
               bench_num((double)bench_proc_status_kb(t.pid, "RssAnon")));
    }
    testd_stop(&t);
    testd_cleanup(&t);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* 6. Start time and memory with many cases                                */
/* ---------------------------------------------------------------------- */

/*
 * Starts the daemon on t's folder (as testd does) and returns the ms from
 * fork/exec to the first answered ping, or -1. Polls the port every 1 ms
 * rather than testd's 20 ms so the figure is not rounded up.
 */
static double timed_start(testd_t *t)
{
    const char *bin = getenv("LOGBOOKD");
    if (!bin)
        bin = "bin/logbookd";
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(bin, "logbookd", "--config", t->config, "--foreground", (char *)NULL);
        _exit(127);
    }
    t->pid = pid;
    while (!bench_port_open(t->req_port)) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            t->pid = 0;
            fprintf(stderr, "bench: logbookd exited at start, log %s\n", t->log);
            return -1;
        }
        if (bench_ms_since(t0) > 120000) {
            fprintf(stderr, "bench: logbookd did not listen in 120 s\n");
            return -1;
        }
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* Listening: the first ping is answered once the loop runs. */
    lbc_t *c = testd_client(t, NULL, 120000, 0);
    lb_val_t *r = NULL;
    char err[256];
    double dt = -1;
    if (c && lbc_call(c, "ping", NULL, &r, err, sizeof err) == 0 && lbc_reply_ok(r))
        dt = bench_ms_since(t0);
    lb_val_free(&r);
    lbc_destroy(&t->admin);
    t->admin = c;
    return dt;
}

static int part_big(void)
{
    testd_t t = {0};
    if (bench_start_daemon(&t, "start/memory", false, NULL)) {
        testd_cleanup(&t);
        return -1;
    }
    long before = bench_proc_status_kb(t.pid, "RssAnon");
    fprintf(stderr, "bench: importing %s households for the start/memory figures...\n",
            bench_num((double)bench_cfg.big));
    bench_import_t ir;
    int rc = bench_import_range(&t, 0, (uint64_t)bench_cfg.big, (uint64_t)bench_cfg.import_batch,
                                &ir, true);
    int64_t cases = bench_stat_int(&t, "cases"), dbb = bench_stat_int(&t, "db_bytes");
    long after_import = bench_proc_status_kb(t.pid, "RssAnon");
    printf("with %s cases (imported at %s households/s; db %s MiB):\n", bench_num((double)cases),
           bench_num((double)bench_cfg.big / (ir.call_ms / 1e3)),
           bench_num((double)dbb / 1048576.0));
    printf("  RssAnon of the first daemon: %s kB at start, %s kB after the import\n",
           bench_num((double)before), bench_num((double)after_import));
    uint64_t s0 = bench_now_ns();
    int st = testd_stop(&t);
    printf("  stop (SIGTERM to exit): %s, exit status %d\n", bench_ms(bench_ms_since(s0)), st);
    double start_ms = rc == 0 ? timed_start(&t) : -1;
    if (start_ms < 0) {
        printf("  start: FAILED (log %s)\n", t.log);
        testd_cleanup(&t);
        return -1;
    }
    long anon_ping = bench_proc_status_kb(t.pid, "RssAnon");
    long file_ping = bench_proc_status_kb(t.pid, "RssFile");
    uint64_t q0 = bench_now_ns();
    lb_val_t *a = summary_args(NULL, "district");
    lb_val_t *r = testd_call(&t, "report.summary", a);
    double qms = bench_ms_since(q0);
    const char *code = testd_code(r);
    lb_val_free(&r);
    lb_val_free(&a);
    long anon_rep = bench_proc_status_kb(t.pid, "RssAnon");
    long file_rep = bench_proc_status_kb(t.pid, "RssFile");
    printf("  start (exec to first answered ping): %s\n", bench_ms(start_ms));
    printf("  RssAnon after the first ping:     %s kB (%.1f MiB; RssFile %s kB)\n",
           bench_num((double)anon_ping), (double)anon_ping / 1024.0, bench_num((double)file_ping));
    printf("  RssAnon after report.summary:     %s kB (%.1f MiB; RssFile %s kB; the cold "
           "report took %s%s%s)\n",
           bench_num((double)anon_rep), (double)anon_rep / 1024.0, bench_num((double)file_rep),
           bench_ms(qms), *code ? ", FAILED: " : "", code);
    fflush(stdout);
    testd_stop(&t);
    testd_cleanup(&t);
    return 0;
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    (void)argc;
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *quick = getenv("BENCH_QUICK");
    bench_cfg.quick = quick && strcmp(quick, "0") != 0;
    bench_cfg.big = env_long("BENCH_CASES_BIG", bench_cfg.quick ? 20000 : 1000000);
    bench_cfg.mid = bench_cfg.quick ? 10000 : 100000;
    bench_cfg.import_batch = bench_cfg.quick ? 2000 : 10000;
    bench_cfg.tx_cases = bench_cfg.quick ? 2000 : 10000;
    bench_cfg.tx_seconds = (double)env_long("BENCH_SECONDS", bench_cfg.quick ? 1 : 5);
    bench_cfg.tx_max = bench_cfg.quick ? 20000 : 1000000;
    bench_cfg.query_runs = bench_cfg.quick ? 5 : 21;
    bench_cfg.batch_max = (int)env_long("BENCH_BATCH_MAX", 0);
    bench_cfg.villages = env_long("BENCH_VILLAGES", bench_cfg.quick ? 5000 : 75000);
    bench_cfg.only = getenv("BENCH_ONLY");
    bench_cfg.nproc = (int)sysconf(_SC_NPROCESSORS_ONLN);

    char la[64], host[256] = "?", when[64];
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(host, sizeof host, "%s %s %s", u.nodename, u.sysname, u.release);
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", localtime(&now));
    bench_loadavg(la, sizeof la);
    long mem_kb = -1;
    FILE *mi = fopen("/proc/meminfo", "r");
    if (mi) {
        char line[256];
        while (fgets(line, sizeof line, mi))
            if (sscanf(line, "MemTotal: %ld kB", &mem_kb) == 1)
                break;
        fclose(mi);
    }
    printf("logbook bench: %s%s\n", argv[0], bench_cfg.quick ? " (BENCH_QUICK: small sizes)" : "");
    printf("  %s, %s\n", when, host);
    printf("  nproc %d, memory %.1f GiB, load average at start %s\n", bench_cfg.nproc,
           (double)mem_kb / 1048576.0, la);
    printf("  daemon %s, batch_max %d, real clock, CURVE on, replies after the log fsync\n",
           getenv("LOGBOOKD") ? getenv("LOGBOOKD") : "bin/logbookd",
           bench_cfg.batch_max ? bench_cfg.batch_max : 512);
    printf("\n");

    int fails = 0;
    bench_tx_t one = {0}, many = {0};
    if (bench_part_on("tx"))
        fails += bench_part_tx(&one, &many) != 0;
    if (bench_part_on("pg")) {
        printf("\n");
        fails += bench_part_pg(one.n ? &one : NULL, many.n ? &many : NULL) != 0;
    }
    if (bench_part_on("curve")) {
        printf("\n");
        fails += bench_part_curve(many.n ? &many : NULL) != 0;
    }
    if (bench_part_on("import") || bench_part_on("query")) {
        printf("\n");
        fails += part_import_query(bench_part_on("import"), bench_part_on("query")) != 0;
    }
    if (bench_part_on("report")) {
        printf("\n");
        fails += bench_part_report_wait() != 0;
    }
    if (bench_part_on("big")) {
        printf("\n");
        fails += part_big() != 0;
    }
    bench_loadavg(la, sizeof la);
    printf("\nload average at end %s%s\n", la, fails ? "; some parts FAILED (see stderr)" : "");
    return fails ? 1 : 0;
}