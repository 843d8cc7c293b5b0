/*
 * bench_tx.c - part 1 of `make bench`: durable case.act add_note transitions,
 * 1 x 1 and 32 x 4 in flight, with the daemon's CPU, bytes written and syncs
 * per transition, and the CURVE share (the same 32 x 4 with CURVE off).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../../clients/lib/pipe.h"
#include "bench.h"

/* ---------------------------------------------------------------------- */
/* The driver                                                             */
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

/* One reply of a transitions run; the tag is when its request was sent. */
static void on_tx(void *user, uint64_t sent_ns, const lb_val_t *r)
{
    tx_thread_t *th = user;
    uint64_t t_now = bench_now_ns();
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
    th->t_start = bench_now_ns();
    while (!th->fail && atomic_fetch_sub(&run->budget, 1) > 0) {
        /* A free slot first, so that the time sent is taken when it is sent. */
        while (lbc_pipe_inflight(p) >= lbc_pipe_max(p) && lbc_pipe_recv_one(p) == 0)
            ;
        size_t k = atomic_fetch_add(&run->next_case, 1) % run->nids;
        lb_map_set_str(args, "case_id", run->ids[k]);
        if (lbc_pipe_send(p, "case.act", args, on_tx, th, bench_now_ns()))
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
        th->t_end = bench_now_ns();
    lbc_pipe_destroy(&p);
    lb_val_free(&args);
    lbc_destroy(&c);
    return NULL;
}

/* Whether name has one of the comma-separated parts (",lag,queue,"). */
static bool name_has(const char *name, const char *parts)
{
    char part[32];
    for (const char *p = parts; *p;) {
        size_t n = strcspn(p, ",");
        if (n && n < sizeof part) {
            memcpy(part, p, n);
            part[n] = '\0';
            if (strstr(name, part))
                return true;
        }
        p += n + (p[n] == ',');
    }
    return false;
}

static int64_t map_int_or(const lb_val_t *m, const char *key, int64_t def)
{
    int64_t v;
    return m && lb_map_int(m, key, &v) == 0 ? v : def;
}

/*
 * From admin.stats before and after a run: every counter named *_syncs as a rate (the
 * write-ahead log's and the data file's syncs, when the daemon reports them), and every
 * field about durability lag, queues and readers as its value at the end.
 */
static void stats_delta(const lb_val_t *before, const lb_val_t *after, double seconds,
                        bench_tx_t *res)
{
    const lb_val_t *a = after ? lbc_reply_result(after) : NULL;
    const lb_val_t *b = before ? lbc_reply_result(before) : NULL;
    size_t ns = 0, ng = 0;
    for (uint32_t i = 0; a && a->type == LB_MAP && i < a->m.n; i++) {
        const char *k = a->m.keys[i];
        const lb_val_t *v = a->m.vals[i];
        size_t kl = strlen(k);
        if (v->type != LB_INT)
            continue;
        size_t sroom = ns < sizeof res->syncs ? sizeof res->syncs - ns : 0;
        size_t groom = ng < sizeof res->gauges ? sizeof res->gauges - ng : 0;
        if (kl > 6 && strcmp(k + kl - 6, "_syncs") == 0 && seconds > 0 && sroom) {
            int64_t d = v->i - map_int_or(b, k, 0);
            ns += (size_t)snprintf(res->syncs + ns, sroom, "%s%s %s/s", ns ? ", " : "", k,
                                   bench_num((double)d / seconds));
        } else if (name_has(k, "lag,queue,depth,reader,pool,durable") && groom) {
            ng += (size_t)snprintf(res->gauges + ng, groom, "%s%s %s", ng ? ", " : "", k,
                                   bench_num((double)v->i));
        }
    }
}

bench_tx_t bench_tx_run(testd_t *t, char (*ids)[LB_CASE_ID_MAX], size_t nids, int conns,
                        int inflight, double seconds)
{
    bench_tx_t res = {0};
    tx_run_t run = {.t = t, .conns = conns, .inflight = inflight, .ids = ids, .nids = nids};
    run.zctx = zmq_ctx_new();
    atomic_init(&run.next_case, 0);
    atomic_init(&run.budget, bench_cfg.tx_max);
    pthread_barrier_init(&run.barrier, NULL, (unsigned)conns + 1);
    tx_thread_t *th = calloc((size_t)conns, sizeof *th);
    pthread_t *tid = calloc((size_t)conns, sizeof *tid);
    for (int i = 0; i < conns; i++) {
        th[i].run = &run;
        th[i].idx = i;
        pthread_create(&tid[i], NULL, tx_thread, &th[i]);
    }
    lb_val_t *st0 = bench_stats(t);
    const lb_val_t *s0 = st0 ? lbc_reply_result(st0) : NULL;
    int64_t w0 = map_int_or(s0, "writes", -1), c0 = map_int_or(s0, "commits", -1);
    int64_t ex0 = map_int_or(s0, "batch_exec_us", -1), cm0 = map_int_or(s0, "batch_commit_us", -1);
    pthread_barrier_wait(&run.barrier);
    uint64_t t0 = bench_now_ns();
    double dcpu0 = bench_proc_cpu_s(t->pid), bcpu0 = bench_proc_cpu_s(getpid());
    long long wchar0 = bench_proc_io(t->pid, "wchar");
    long long wb0 = bench_proc_io(t->pid, "write_bytes"), dev0 = bench_dev_written(t->data);
    /* Stop sending after the run's length; the threads drain what is in flight. */
    while (atomic_load(&run.budget) > 0 && (double)(bench_now_ns() - t0) / 1e9 < seconds) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&run.budget, 0);
    for (int i = 0; i < conns; i++)
        pthread_join(tid[i], NULL);
    double wall = (double)(bench_now_ns() - t0) / 1e9;
    double dcpu = bench_proc_cpu_s(t->pid) - dcpu0, bcpu = bench_proc_cpu_s(getpid()) - bcpu0;
    res.daemon_cores = dcpu / wall;
    res.bench_cores = bcpu / wall;
    res.seconds = wall;
    long long wchar1 = bench_proc_io(t->pid, "wchar");
    long long wb1 = bench_proc_io(t->pid, "write_bytes"), dev1 = bench_dev_written(t->data);
    lb_val_t *st1 = bench_stats(t);
    const lb_val_t *s1 = st1 ? lbc_reply_result(st1) : NULL;
    int64_t w1 = map_int_or(s1, "writes", -1), c1 = map_int_or(s1, "commits", -1);
    int64_t ex1 = map_int_or(s1, "batch_exec_us", -1), cm1 = map_int_or(s1, "batch_commit_us", -1);
    stats_delta(st0, st1, wall, &res);
    lb_val_free(&st0);
    lb_val_free(&st1);
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
    qsort(all, total, sizeof *all, bench_cmp_u64);
    res.n = total;
    res.per_s = end > start ? (double)total / ((double)(end - start) / 1e9) : 0;
    res.p50 = (double)bench_pct(all, total, 0.50) / 1e6;
    res.p99 = (double)bench_pct(all, total, 0.99) / 1e6;
    res.p999 = (double)bench_pct(all, total, 0.999) / 1e6;
    res.max = total ? (double)all[total - 1] / 1e6 : 0;
    res.mean_batch = (c1 > c0 && w0 >= 0) ? (double)(w1 - w0) / (double)(c1 - c0) : 0;
    res.kib_per_write = (wchar0 >= 0 && wchar1 >= wchar0 && total)
                            ? (double)(wchar1 - wchar0) / 1024.0 / (double)total
                            : -1;
    res.disk_kib_per_write =
        (wb0 >= 0 && wb1 >= wb0 && total) ? (double)(wb1 - wb0) / 1024.0 / (double)total : -1;
    res.dev_kib_per_write =
        (dev0 >= 0 && dev1 >= dev0 && total) ? (double)(dev1 - dev0) / 1024.0 / (double)total : -1;
    res.daemon_us = total ? dcpu * 1e6 / (double)total : 0;
    res.bench_us = total ? bcpu * 1e6 / (double)total : 0;
    res.lat = all;
    free(th);
    free(tid);
    pthread_barrier_destroy(&run.barrier);
    zmq_ctx_term(run.zctx);
    return res;
}

static const char *kib(double v)
{
    static char bufs[4][32];
    static int k;
    char *out = bufs[k++ & 3];
    if (v < 0)
        snprintf(out, 32, "n/a");
    else
        snprintf(out, 32, "%.1f", v);
    return out;
}

void bench_tx_print(const char *label, const bench_tx_t *r)
{
    printf("transitions %-5s %9s/s  p50 %-10s p99 %-10s p99.9 %-10s max %-9s (%s requests, "
           "%.1f per commit%s%s)\n",
           label, bench_num(r->per_s), bench_ms(r->p50), bench_ms(r->p99), bench_ms(r->p999),
           bench_ms(r->max), bench_num((double)r->n), r->mean_batch, r->errors ? ", ERRORS " : "",
           r->errors ? bench_num((double)r->errors) : "");
    printf("  CPU during the run: daemon %.2f cores, bench clients %.2f cores (of %d); daemon "
           "wrote %.1f KiB to files per request\n",
           r->daemon_cores, r->bench_cores, bench_cfg.nproc, r->kib_per_write);
    printf("  per transition: CPU daemon %.0f us, bench clients %.0f us; daemon dirtied %s KiB "
           "of page cache (write_bytes), the disk wrote %s KiB (its device, every process); "
           "fsyncs %s%s%s\n",
           r->daemon_us, r->bench_us, kib(r->disk_kib_per_write), kib(r->dev_kib_per_write),
           r->syncs[0] ? r->syncs : "n/a (admin.stats has no log_syncs/data_syncs)",
           r->gauges[0] ? "; " : "", r->gauges);
    if (r->exec_ms >= 0)
        printf("  daemon time per commit (admin.stats): executing the batch %s, committing it "
               "(writing pages + fsync) %s\n",
               bench_ms(r->exec_ms), bench_ms(r->commit_ms));
    if (r->fail)
        printf("  (the run did not complete cleanly: see stderr)\n");
    fflush(stdout);
}

/* A daemon with tx_cases cases and their ids; 0 or -1 (t still needs testd_cleanup). */
static int tx_daemon(testd_t *t, const char *what, bool curve_off, char (**ids)[LB_CASE_ID_MAX],
                     size_t *nids)
{
    *ids = NULL;
    *nids = 0;
    if (bench_start_daemon(t, what, curve_off, NULL))
        return -1;
    bench_import_t ir;
    if (bench_import_range(t, 0, (uint64_t)bench_cfg.tx_cases, (uint64_t)bench_cfg.import_batch,
                           &ir, false))
        return -1;
    *ids = calloc((size_t)bench_cfg.tx_cases, sizeof **ids);
    *nids = *ids ? bench_list_ids(t, "65", *ids, (size_t)bench_cfg.tx_cases) : 0;
    if (*nids == 0) {
        fprintf(stderr, "bench: no cases to act on\n");
        return -1;
    }
    return 0;
}

int bench_part_tx(bench_tx_t *one, bench_tx_t *many)
{
    testd_t t = {0};
    char(*ids)[LB_CASE_ID_MAX] = NULL;
    size_t nids = 0;
    if (tx_daemon(&t, "transitions", false, &ids, &nids)) {
        free(ids);
        testd_cleanup(&t);
        return -1;
    }
    printf("durable case.act add_note over %s cases, round robin, %.0f s per run (or %s "
           "requests)\n",
           bench_num((double)nids), bench_cfg.tx_seconds, bench_num((double)bench_cfg.tx_max));
    bench_tx_t a = bench_tx_run(&t, ids, nids, 1, 1, bench_cfg.tx_seconds);
    bench_tx_print("1x1", &a);
    bench_tx_t b = bench_tx_run(&t, ids, nids, 32, 4, bench_cfg.tx_seconds);
    bench_tx_print("32x4", &b);
    int64_t maxb = bench_stat_int(&t, "max_batch");
    printf("  (largest group commit seen: %lld writes)\n", (long long)maxb);
    free(a.lat);
    free(b.lat);
    a.lat = b.lat = NULL;
    if (one)
        *one = a;
    if (many)
        *many = b;
    free(ids);
    testd_stop(&t);
    testd_cleanup(&t);
    return 0;
}

int bench_part_curve(const bench_tx_t *with_curve)
{
    testd_t t = {0};
    char(*ids)[LB_CASE_ID_MAX] = NULL;
    size_t nids = 0;
    if (tx_daemon(&t, "the CURVE share", true, &ids, &nids)) {
        free(ids);
        testd_cleanup(&t);
        return -1;
    }
    double secs = bench_cfg.tx_seconds < 3 ? bench_cfg.tx_seconds : 3;
    bench_tx_t r = bench_tx_run(&t, ids, nids, 32, 4, secs);
    printf("CURVE share: the same 32x4 for %.0f s on a daemon with security.curve false\n", secs);
    bench_tx_print("32x4", &r);
    if (with_curve && with_curve->n && r.n)
        printf("  CURVE on (above) / off: %s/s / %s/s; daemon CPU per transition %.0f us / "
               "%.0f us, so CURVE costs the daemon %.0f us (%.0f %%) and the clients %.0f us "
               "per transition\n",
               bench_num(with_curve->per_s), bench_num(r.per_s), with_curve->daemon_us, r.daemon_us,
               with_curve->daemon_us - r.daemon_us,
               with_curve->daemon_us > 0
                   ? 100.0 * (with_curve->daemon_us - r.daemon_us) / with_curve->daemon_us
                   : 0.0,
               with_curve->bench_us - r.bench_us);
    fflush(stdout);
    free(r.lat);
    free(ids);
    testd_stop(&t);
    testd_cleanup(&t);
    return r.fail ? -1 : 0;
}
