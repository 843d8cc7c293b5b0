/*
 * bench.c - `make bench`: throughput and latency figures for logbookd.
 *
 * Starts its own daemons with tests/lib/testd (real clock, CURVE, fsync on
 * every commit as shipped), drives them over ZeroMQ with the client library
 * and PRINTS what it measured. It never asserts a timing: figures depend on
 * the machine and on what else runs on it (see docs/BENCHMARKS.md).
 *
 *   1. durable transitions (case.act add_note), 1 x 1 and 32 x 4 in flight
 *   2. case.import rate, 100,000 households in batches of 10,000
 *   3. case.list and report.summary times over those 100,000 cases
 *   4. start time and anonymous memory with 1,000,000 cases
 *
 * Environment:
 *   BENCH_QUICK=1       a small version of everything (smoke test, ~5 s)
 *   BENCH_CASES_BIG=N   cases for part 4 (default 1,000,000)
 *   BENCH_BATCH_MAX=N   the daemons' limits.batch_max (default 512)
 *   BENCH_SECONDS=S     length of each transitions run (default 5)
 *   BENCH_ONLY=LIST     comma-separated parts to run: tx,import,query,big
 *   LOGBOOKD=PATH       the daemon binary (default bin/logbookd)
 *   TESTD_KEEP=1        keep the scratch folders (testd)
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
#include "../lib/testd.h"

/* ---------------------------------------------------------------------- */
/* Settings                                                                */
/* ---------------------------------------------------------------------- */

static struct {
    bool quick;
    long big;          /* cases for part 4 */
    long mid;          /* cases for parts 2 and 3 */
    long import_batch; /* households per case.import */
    long tx_cases;     /* cases the transitions are spread over */
    double tx_seconds; /* length of one transitions run */
    long tx_max;       /* cap on requests of one transitions run */
    int query_runs;    /* runs per query, the median is printed */
    int batch_max;     /* 0 = the daemon's default (512) */
    const char *only;
    int nproc;
} S;

static bool part_on(const char *name)
{
    if (!S.only || !*S.only)
        return true;
    size_t n = strlen(name);
    for (const char *p = S.only; (p = strstr(p, name)) != NULL; p += n)
        if ((p == S.only || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

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

static uint64_t now_ns(void)
{
    return lbc_mono_ns();
}

static double ms_since(uint64_t t0)
{
    return (double)(now_ns() - t0) / 1e6;
}

/* 1234567 -> "1,234,567" (rotating static buffers: a few per printf). */
static const char *num(double v)
{
    static char bufs[8][LBC_COUNT_LEN];
    static int k;
    return lbc_fmt_count((int64_t)(v < 0 ? v - 0.5 : v + 0.5), bufs[k++ & 7]);
}

/* Milliseconds with sensible precision: "0.412 ms", "3.1 ms", "14 ms". */
static const char *ms(double v)
{
    static char bufs[8][32];
    static int k;
    char *out = bufs[k++ & 7];
    if (v < 1)
        snprintf(out, 32, "%.3f ms", v);
    else if (v < 10)
        snprintf(out, 32, "%.2f ms", v);
    else if (v < 100)
        snprintf(out, 32, "%.1f ms", v);
    else
        snprintf(out, 32, "%.0f ms", v);
    return out;
}

static void loadavg(char *out, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;
    if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(out, n, "%.2f, %.2f, %.2f", a, b, c);
    else
        snprintf(out, n, "?");
    if (f)
        fclose(f);
}

/* A "Name:   123 kB" line of /proc/PID/status, in kB; -1 when absent. */
static long proc_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* utime + stime of a process in seconds (from /proc/PID/stat); -1 when unreadable. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "key: value" line of /proc/PID/io (bytes); -1 when unreadable. */
static long long proc_io(pid_t pid, const char *key)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtoll(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-quantile (nearest rank) of sorted v[0..n). */
static uint64_t pct(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t r = (size_t)(p * (double)n + 0.999999);
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    return v[r - 1];
}

static int64_t stat_int(testd_t *t, const char *key)
{
    lb_val_t *r = testd_call(t, "admin.stats", NULL);
    int64_t v = -1;
    if (r)
        lb_map_int(lbc_reply_result(r), key, &v);
    lb_val_free(&r);
    return v;
}

/* ---------------------------------------------------------------------- */
/* Daemons                                                                 */
/* ---------------------------------------------------------------------- */

static int start_daemon(testd_t *t, const char *what)
{
    /* The bench is one key at full speed: the per-key token bucket must not be what it measures. */
    testd_opts_t o = {.batch_max = S.batch_max, .rate_per_key = 5000000};
    if (testd_start(t, &o) != 0) {
        fprintf(stderr, "bench: could not start logbookd for %s\n", what);
        return -1;
    }
    /* The admin client's default 5 s is too short for 10,000-household imports. */
    lbc_destroy(&t->admin);
    t->admin = testd_client(t, NULL, 600000, 0);
    return t->admin ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Households                                                              */
/* ---------------------------------------------------------------------- */

static const char *const INDICATORS[] = {"bmn1",  "bmn4",  "bmn5",  "bmn7",  "bmn8",  "bmn9",
                                         "bmn10", "bmn11", "bmn15", "bmn16", "bmn17", "bmn19",
                                         "bmn20", "bmn21", "bmn22", "bmn27", "bmn28"};
#define NIND (sizeof INDICATORS / sizeof INDICATORS[0])

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/*
 * Household n: house id 10000000000 + n; village 65DDSSVV with the district
 * DD in 01..09 (round robin), 4 subdistricts and 5 villages each; 1-3
 * distinct deprived indicators.
 */
static lb_val_t *household(uint64_t n)
{
    uint64_t h = mix64(n);
    char house[16], area[16];
    snprintf(house, sizeof house, "%011llu", (unsigned long long)(10000000000ULL + n));
    snprintf(area, sizeof area, "65%02u%02u%02u", (unsigned)(1 + n % 9),
             (unsigned)(1 + (h >> 8) % 4), (unsigned)(1 + (h >> 16) % 5));
    lb_val_t *m = lb_map();
    lb_map_set_str(m, "house_id", house);
    lb_map_set_str(m, "area", area);
    lb_val_t *dep = lb_arr();
    unsigned k = 1 + (unsigned)((h >> 24) % 3);
    unsigned first = (unsigned)((h >> 32) % NIND);
    unsigned step = 1 + (unsigned)((h >> 40) % (NIND - 1)); /* NIND is prime: distinct codes */
    for (unsigned i = 0; i < k; i++)
        lb_arr_push(dep, lb_str(INDICATORS[(first + i * step) % NIND]));
    lb_map_set(m, "deprived", dep);
    return m;
}

typedef struct {
    uint64_t opened, skipped, errors;
    double call_ms;  /* sum of case.import round trips */
    double wall_ms;  /* including building the batches in the client */
    double worst_ms; /* slowest batch */
    int failed;      /* calls without an ok reply */
} import_res_t;

/* Imports households first .. first+count-1 in batches; progress on stderr when asked. */
static int import_range(testd_t *t, uint64_t first, uint64_t count, uint64_t batch,
                        import_res_t *res, bool progress)
{
    memset(res, 0, sizeof *res);
    uint64_t w0 = now_ns(), last_report = w0;
    for (uint64_t off = 0; off < count; off += batch) {
        uint64_t n = count - off < batch ? count - off : batch;
        lb_val_t *args = lb_map(), *hs = lb_arr();
        for (uint64_t i = 0; i < n; i++)
            lb_arr_push(hs, household(first + off + i));
        lb_map_set(args, "households", hs);
        uint64_t c0 = now_ns();
        lb_val_t *r = testd_call(t, "case.import", args);
        double dt = ms_since(c0);
        res->call_ms += dt;
        if (dt > res->worst_ms)
            res->worst_ms = dt;
        const lb_val_t *out = r ? lbc_reply_result(r) : NULL;
        if (!out) {
            if (res->failed++ == 0)
                fprintf(stderr, "bench: case.import failed: %s\n", testd_code(r));
        } else {
            int64_t v;
            if (lb_map_int(out, "opened", &v) == 0)
                res->opened += (uint64_t)v;
            if (lb_map_int(out, "skipped", &v) == 0)
                res->skipped += (uint64_t)v;
            const lb_val_t *errs = lb_map_get(out, "errors");
            if (errs && errs->type == LB_ARR) {
                if (errs->a.n && res->errors == 0)
                    fprintf(stderr, "bench: case.import item error: %s\n",
                            lb_map_str(errs->a.items[0], "message"));
                res->errors += errs->a.n;
            }
        }
        lb_val_free(&r);
        lb_val_free(&args);
        if (progress && now_ns() - last_report > 10000000000ULL) {
            last_report = now_ns();
            fprintf(stderr, "  ... imported %s of %s (%s households/s so far)\n",
                    num((double)(off + n)), num((double)count),
                    num((double)(off + n) / (res->call_ms / 1e3)));
        }
    }
    res->wall_ms = ms_since(w0);
    return res->failed ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* 1. Durable transitions                                                  */
/* ---------------------------------------------------------------------- */

typedef struct {
    testd_t *t;
    void *zctx;
    int conns, inflight;
    char (*ids)[LB_CASE_ID_MAX];
    size_t nids;
    atomic_size_t next_case;
    atomic_long budget; /* requests left to send */
    pthread_barrier_t barrier;
} tx_run_t;

typedef struct {
    tx_run_t *run;
    int idx;
    uint64_t *lat; /* ns, one per answered request */
    size_t n, cap;
    uint64_t errors, lost;
    char first_err[96];
    uint64_t t_start, t_end;
    int fail;
} tx_thread_t;

static lbc_t *bench_client(testd_t *t, void *zctx, int timeout_ms)
{
    char admin[400], server[400], err[256];
    snprintf(admin, sizeof admin, "%s/keys/admin.key_secret", t->data);
    snprintf(server, sizeof server, "%s/keys/server.key", t->data);
    lbc_opts_t o;
    lbc_opts_init(&o);
    o.endpoint = t->req_ep;
    o.client_cert = admin;
    o.server_cert = server;
    o.timeout_ms = timeout_ms;
    o.retries = 0;
    o.zmq_ctx = zctx;
    lbc_t *c = NULL;
    if (lbc_connect(&o, &c, err, sizeof err)) {
        fprintf(stderr, "bench: connect: %s\n", err);
        return NULL;
    }
    return c;
}

/* One reply of a transitions run; the tag is when its request was sent. */
static void on_tx(void *user, uint64_t sent_ns, const lb_val_t *r)
{
    tx_thread_t *th = user;
    uint64_t t_now = now_ns();
    if (th->n == th->cap) {
        size_t nc = th->cap ? th->cap * 2 : 4096;
        uint64_t *nl = realloc(th->lat, nc * sizeof *nl);
        if (!nl) {
            th->fail = 1;
            return;
        }
        th->lat = nl;
        th->cap = nc;
    }
    th->lat[th->n++] = t_now - sent_ns;
    if (!lbc_reply_ok(r) && th->errors++ == 0)
        snprintf(th->first_err, sizeof th->first_err, "%s", testd_code(r));
    th->t_end = t_now;
}

/* A client with one round trip done, so the CURVE handshake is not part of the figures. */
static lbc_t *tx_client(tx_thread_t *th)
{
    lbc_t *c = bench_client(th->run->t, th->run->zctx, 30000);
    lb_val_t *r = NULL;
    char err[256] = "";
    if (c && (lbc_call(c, "ping", NULL, &r, err, sizeof err) || !lbc_reply_ok(r))) {
        fprintf(stderr, "bench: thread %d: ping failed: %s\n", th->idx, err);
        lbc_destroy(&c);
    }
    lb_val_free(&r);
    return c;
}

static void *tx_thread(void *arg)
{
    tx_thread_t *th = arg;
    tx_run_t *run = th->run;
    lbc_t *c = tx_client(th);
    lbc_pipe_t *p = NULL;
    lb_val_t *args = lb_map(), *data = lb_map();
    int rc = 0;
    lb_put_str(data, "note", "bench", &rc);
    lb_put_str(args, "action", "add_note", &rc);
    lb_put(args, "data", data, &rc);
    if (!c || rc || lbc_pipe_new(c, run->inflight, 30000, &p))
        th->fail = 1;
    pthread_barrier_wait(&run->barrier);
    th->t_start = now_ns();
    while (!th->fail && atomic_fetch_sub(&run->budget, 1) > 0) {
        /* A free slot first, so that the time sent is taken when it is sent. */
        while (lbc_pipe_inflight(p) >= lbc_pipe_max(p) && lbc_pipe_recv_one(p) == 0)
            ;
        size_t k = atomic_fetch_add(&run->next_case, 1) % run->nids;
        lb_map_set_str(args, "case_id", run->ids[k]);
        if (lbc_pipe_send(p, "case.act", args, on_tx, th, now_ns()))
            break;
    }
    const char *why;
    if (p && lbc_pipe_drain(p)) {
        lbc_pipe_error(p, &why);
        fprintf(stderr, "bench: thread %d: %s\n", th->idx, why);
        th->lost += (uint64_t)lbc_pipe_inflight(p);
        th->fail = 1;
    }
    if (!th->t_end)
        th->t_end = now_ns();
    lbc_pipe_destroy(&p);
    lb_val_free(&args);
    lbc_destroy(&c);
    return NULL;
}

typedef struct {
    double per_s;
    uint64_t n, errors;
    double p50, p99, p999, max, mean_batch;
    double daemon_cores, bench_cores; /* CPU seconds per second of the run */
    double kib_per_write;             /* bytes the daemon wrote to files, per request */
    double exec_ms, commit_ms;        /* per commit, from admin.stats when it has them, else -1 */
    int fail;
} tx_res_t;

/*
 * Runs conns threads with inflight requests each for S.tx_seconds (or
 * S.tx_max requests, whichever comes first).
 */
static tx_res_t tx_bench(testd_t *t, char (*ids)[LB_CASE_ID_MAX], size_t nids, int conns,
                         int inflight)
{
    tx_res_t res = {0};
    tx_run_t run = {.t = t, .conns = conns, .inflight = inflight, .ids = ids, .nids = nids};
    run.zctx = zmq_ctx_new();
    atomic_init(&run.next_case, 0);
    atomic_init(&run.budget, S.tx_max);
    pthread_barrier_init(&run.barrier, NULL, (unsigned)conns + 1);
    tx_thread_t *th = calloc((size_t)conns, sizeof *th);
    pthread_t *tid = calloc((size_t)conns, sizeof *tid);
    for (int i = 0; i < conns; i++) {
        th[i].run = &run;
        th[i].idx = i;
        pthread_create(&tid[i], NULL, tx_thread, &th[i]);
    }
    int64_t w0 = stat_int(t, "writes"), c0 = stat_int(t, "commits");
    int64_t ex0 = stat_int(t, "batch_exec_us"), cm0 = stat_int(t, "batch_commit_us");
    pthread_barrier_wait(&run.barrier);
    uint64_t t0 = now_ns();
    double dcpu0 = proc_cpu_s(t->pid), bcpu0 = proc_cpu_s(getpid());
    long long wchar0 = proc_io(t->pid, "wchar");
    /* Stop sending after the run's length; the threads drain what is in flight. */
    while (atomic_load(&run.budget) > 0 && (double)(now_ns() - t0) / 1e9 < S.tx_seconds) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&run.budget, 0);
    for (int i = 0; i < conns; i++)
        pthread_join(tid[i], NULL);
    double wall = (double)(now_ns() - t0) / 1e9;
    res.daemon_cores = (proc_cpu_s(t->pid) - dcpu0) / wall;
    res.bench_cores = (proc_cpu_s(getpid()) - bcpu0) / wall;
    long long wchar1 = proc_io(t->pid, "wchar");
    int64_t w1 = stat_int(t, "writes"), c1 = stat_int(t, "commits");
    int64_t ex1 = stat_int(t, "batch_exec_us"), cm1 = stat_int(t, "batch_commit_us");
    res.exec_ms = res.commit_ms = -1;
    if (ex0 >= 0 && ex1 >= ex0 && cm0 >= 0 && cm1 >= cm0 && c1 > c0) {
        res.exec_ms = (double)(ex1 - ex0) / 1e3 / (double)(c1 - c0);
        res.commit_ms = (double)(cm1 - cm0) / 1e3 / (double)(c1 - c0);
    }
    uint64_t start = UINT64_MAX, end = 0;
    size_t total = 0;
    for (int i = 0; i < conns; i++) {
        total += th[i].n;
        res.errors += th[i].errors;
        res.fail |= th[i].fail;
        if (th[i].t_start < start)
            start = th[i].t_start;
        if (th[i].t_end > end)
            end = th[i].t_end;
        if (th[i].errors)
            fprintf(stderr, "bench: thread %d: %llu error replies, first: %s\n", i,
                    (unsigned long long)th[i].errors, th[i].first_err);
    }
    uint64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, th[i].lat, th[i].n * sizeof *all);
        k += th[i].n;
        free(th[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_u64);
    res.n = total;
    res.per_s = end > start ? (double)total / ((double)(end - start) / 1e9) : 0;
    res.p50 = (double)pct(all, total, 0.50) / 1e6;
    res.p99 = (double)pct(all, total, 0.99) / 1e6;
    res.p999 = (double)pct(all, total, 0.999) / 1e6;
    res.max = total ? (double)all[total - 1] / 1e6 : 0;
    res.mean_batch = (c1 > c0 && w0 >= 0) ? (double)(w1 - w0) / (double)(c1 - c0) : 0;
    res.kib_per_write = (wchar0 >= 0 && wchar1 >= wchar0 && total)
                            ? (double)(wchar1 - wchar0) / 1024.0 / (double)total
                            : -1;
    free(all);
    free(th);
    free(tid);
    pthread_barrier_destroy(&run.barrier);
    zmq_ctx_term(run.zctx);
    return res;
}

/* Case ids of every case under area, in case.list order. */
static size_t list_ids(testd_t *t, const char *area, char (*ids)[LB_CASE_ID_MAX], size_t max)
{
    size_t n = 0;
    char *after = NULL;
    while (n < max) {
        lb_val_t *a = lb_map();
        lb_map_set_str(a, "area", area);
        lb_map_set_int(a, "limit", 1000);
        if (after)
            lb_map_set_str(a, "after", after);
        lb_val_t *r = testd_call(t, "case.list", a);
        lb_val_free(&a);
        free(after);
        after = NULL;
        const lb_val_t *res = r ? lbc_reply_result(r) : NULL;
        const lb_val_t *cases = lb_map_get(res, "cases");
        if (!cases || cases->type != LB_ARR) {
            fprintf(stderr, "bench: case.list failed: %s\n", testd_code(r));
            lb_val_free(&r);
            break;
        }
        for (uint32_t i = 0; i < cases->a.n && n < max; i++) {
            const char *id = lb_map_str(cases->a.items[i], "case_id");
            if (id)
                snprintf(ids[n++], LB_CASE_ID_MAX, "%s", id);
        }
        const char *nx = lb_map_str(res, "next");
        if (nx)
            after = strdup(nx);
        lb_val_free(&r);
        if (!after)
            break;
    }
    free(after);
    return n;
}

static void print_tx(const char *label, const tx_res_t *r)
{
    printf("transitions %-5s %9s/s  p50 %-10s p99 %-10s p99.9 %-10s max %-9s (%s requests, "
           "%.1f per commit%s%s)\n",
           label, num(r->per_s), ms(r->p50), ms(r->p99), ms(r->p999), ms(r->max), num((double)r->n),
           r->mean_batch, r->errors ? ", ERRORS " : "", r->errors ? num((double)r->errors) : "");
    printf("  CPU during the run: daemon %.2f cores, bench clients %.2f cores (of %d); daemon "
           "wrote %.1f KiB to files per request\n",
           r->daemon_cores, r->bench_cores, S.nproc, r->kib_per_write);
    if (r->exec_ms >= 0)
        printf("  daemon time per commit (admin.stats): executing the batch %s, committing it "
               "(writing pages + fsync) %s\n",
               ms(r->exec_ms), ms(r->commit_ms));
    if (r->fail)
        printf("  (the run did not complete cleanly: see stderr)\n");
    fflush(stdout);
}

static int part_transitions(void)
{
    testd_t t;
    if (start_daemon(&t, "transitions")) {
        testd_cleanup(&t);
        return -1;
    }
    import_res_t ir;
    int rc = import_range(&t, 0, (uint64_t)S.tx_cases, (uint64_t)S.import_batch, &ir, false);
    char(*ids)[LB_CASE_ID_MAX] = calloc((size_t)S.tx_cases, sizeof *ids);
    size_t nids = rc == 0 ? list_ids(&t, "65", ids, (size_t)S.tx_cases) : 0;
    if (nids == 0) {
        fprintf(stderr, "bench: no cases to act on\n");
        free(ids);
        testd_cleanup(&t);
        return -1;
    }
    printf("durable case.act add_note over %s cases, round robin, %.0f s per run (or %s "
           "requests)\n",
           num((double)nids), S.tx_seconds, num((double)S.tx_max));
    tx_res_t a = tx_bench(&t, ids, nids, 1, 1);
    print_tx("1x1", &a);
    tx_res_t b = tx_bench(&t, ids, nids, 32, 4);
    print_tx("32x4", &b);
    int64_t maxb = stat_int(&t, "max_batch");
    printf("  (largest group commit seen: %lld writes)\n", (long long)maxb);
    free(ids);
    testd_stop(&t);
    testd_cleanup(&t);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* 2 and 3. Import and reads over S.mid cases                              */
/* ---------------------------------------------------------------------- */

typedef struct {
    double med, min, max;
    int64_t items; /* cases or rows in the last reply */
    const char *err;
} qres_t;

static qres_t time_query(testd_t *t, const char *op, lb_val_t *args, const char *list_key)
{
    qres_t q = {0};
    double *v = calloc((size_t)S.query_runs, sizeof *v);
    int n = 0;
    for (int i = 0; i < S.query_runs; i++) {
        uint64_t t0 = now_ns();
        lb_val_t *r = testd_call(t, op, args);
        double dt = ms_since(t0);
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
        qsort(v, (size_t)n, sizeof *v, cmp_dbl);
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
        printf("  %-44s median %-10s (min %s, max %s; %lld %s)\n", label, ms(q->med), ms(q->min),
               ms(q->max), (long long)q->items, unit);
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
    size_t max = (size_t)S.mid;
    char(*ids)[LB_CASE_ID_MAX] = calloc(max, sizeof *ids);
    size_t n = list_ids(t, "65", ids, max);
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
    testd_t t;
    if (start_daemon(&t, "import")) {
        testd_cleanup(&t);
        return -1;
    }
    import_res_t ir;
    int rc = import_range(&t, 0, (uint64_t)S.mid, (uint64_t)S.import_batch, &ir, false);
    if (do_import_fig) {
        long batches = (S.mid + S.import_batch - 1) / S.import_batch; /* the last may be short */
        printf("import %s households in batches of %s: %s households/s  (%s per batch, slowest "
               "%s; %s/s counting the client building batches; opened %s, skipped %s, errors "
               "%s)\n",
               num((double)S.mid), num((double)S.import_batch),
               num((double)S.mid / (ir.call_ms / 1e3)), ms(ir.call_ms / (double)batches),
               ms(ir.worst_ms), num((double)S.mid / (ir.wall_ms / 1e3)), num((double)ir.opened),
               num((double)ir.skipped), num((double)ir.errors));
        fflush(stdout);
    }
    if (rc == 0 && do_query) {
        long step = 100;
        uint64_t s0 = now_ns();
        long moved = schedule_some(&t, step);
        printf("reads over %s cases (median of %d runs; %s cases moved to visit_scheduled in "
               "%s for the state filter):\n",
               num((double)S.mid), S.query_runs, num((double)moved), ms(ms_since(s0)));
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
               num((double)proc_status_kb(t.pid, "RssAnon")));
    }
    testd_stop(&t);
    testd_cleanup(&t);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* 4. Start time and memory with many cases                                */
/* ---------------------------------------------------------------------- */

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

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
    uint64_t t0 = now_ns();
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
    while (!port_open(t->req_port)) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            t->pid = 0;
            fprintf(stderr, "bench: logbookd exited at start, log %s\n", t->log);
            return -1;
        }
        if (ms_since(t0) > 120000) {
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
        dt = ms_since(t0);
    lb_val_free(&r);
    lbc_destroy(&t->admin);
    t->admin = c;
    return dt;
}

static int part_big(void)
{
    testd_t t;
    if (start_daemon(&t, "start/memory")) {
        testd_cleanup(&t);
        return -1;
    }
    long before = proc_status_kb(t.pid, "RssAnon");
    fprintf(stderr, "bench: importing %s households for the start/memory figures...\n",
            num((double)S.big));
    import_res_t ir;
    int rc = import_range(&t, 0, (uint64_t)S.big, (uint64_t)S.import_batch, &ir, true);
    int64_t cases = stat_int(&t, "cases"), dbb = stat_int(&t, "db_bytes");
    long after_import = proc_status_kb(t.pid, "RssAnon");
    printf("with %s cases (imported at %s households/s; db %s MiB):\n", num((double)cases),
           num((double)S.big / (ir.call_ms / 1e3)), num((double)dbb / 1048576.0));
    printf("  RssAnon of the first daemon: %s kB at start, %s kB after the import\n",
           num((double)before), num((double)after_import));
    uint64_t s0 = now_ns();
    int st = testd_stop(&t);
    printf("  stop (SIGTERM to exit): %s, exit status %d\n", ms(ms_since(s0)), st);
    double start_ms = rc == 0 ? timed_start(&t) : -1;
    if (start_ms < 0) {
        printf("  start: FAILED (log %s)\n", t.log);
        testd_cleanup(&t);
        return -1;
    }
    long anon_ping = proc_status_kb(t.pid, "RssAnon");
    long file_ping = proc_status_kb(t.pid, "RssFile");
    uint64_t q0 = now_ns();
    lb_val_t *a = summary_args(NULL, "district");
    lb_val_t *r = testd_call(&t, "report.summary", a);
    double qms = ms_since(q0);
    const char *code = testd_code(r);
    lb_val_free(&r);
    lb_val_free(&a);
    long anon_rep = proc_status_kb(t.pid, "RssAnon");
    long file_rep = proc_status_kb(t.pid, "RssFile");
    printf("  start (exec to first answered ping): %s\n", ms(start_ms));
    printf("  RssAnon after the first ping:     %s kB (%.1f MiB; RssFile %s kB)\n",
           num((double)anon_ping), (double)anon_ping / 1024.0, num((double)file_ping));
    printf("  RssAnon after report.summary:     %s kB (%.1f MiB; RssFile %s kB; the cold "
           "report took %s%s%s)\n",
           num((double)anon_rep), (double)anon_rep / 1024.0, num((double)file_rep), ms(qms),
           *code ? ", FAILED: " : "", code);
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
    S.quick = quick && strcmp(quick, "0") != 0;
    S.big = env_long("BENCH_CASES_BIG", S.quick ? 20000 : 1000000);
    S.mid = S.quick ? 10000 : 100000;
    S.import_batch = S.quick ? 2000 : 10000;
    S.tx_cases = S.quick ? 2000 : 10000;
    S.tx_seconds = (double)env_long("BENCH_SECONDS", S.quick ? 1 : 5);
    S.tx_max = S.quick ? 20000 : 1000000;
    S.query_runs = S.quick ? 5 : 21;
    S.batch_max = (int)env_long("BENCH_BATCH_MAX", 0);
    S.only = getenv("BENCH_ONLY");
    S.nproc = (int)sysconf(_SC_NPROCESSORS_ONLN);

    char la[64], host[256] = "?", when[64];
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(host, sizeof host, "%s %s %s", u.nodename, u.sysname, u.release);
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", localtime(&now));
    loadavg(la, sizeof la);
    long mem_kb = -1;
    FILE *mi = fopen("/proc/meminfo", "r");
    if (mi) {
        char line[256];
        while (fgets(line, sizeof line, mi))
            if (sscanf(line, "MemTotal: %ld kB", &mem_kb) == 1)
                break;
        fclose(mi);
    }
    printf("logbook bench: %s%s\n", argv[0], S.quick ? " (BENCH_QUICK: small sizes)" : "");
    printf("  %s, %s\n", when, host);
    printf("  nproc %d, memory %.1f GiB, load average at start %s\n", S.nproc,
           (double)mem_kb / 1048576.0, la);
    printf("  daemon %s, batch_max %d, real clock, CURVE on, fsync per commit\n",
           getenv("LOGBOOKD") ? getenv("LOGBOOKD") : "bin/logbookd",
           S.batch_max ? S.batch_max : 512);
    printf("\n");

    int fails = 0;
    if (part_on("tx"))
        fails += part_transitions() != 0;
    if (part_on("import") || part_on("query")) {
        printf("\n");
        fails += part_import_query(part_on("import"), part_on("query")) != 0;
    }
    if (part_on("big")) {
        printf("\n");
        fails += part_big() != 0;
    }
    loadavg(la, sizeof la);
    printf("\nload average at end %s%s\n", la, fails ? "; some parts FAILED (see stderr)" : "");
    return fails ? 1 : 0;
}
