/*
 * bench_report.c - part 5 of `make bench`: how much longer a write waits while
 * a national report by village runs on another connection. Households are
 * spread one a village over bench_cfg.villages villages of the shipped
 * gazetteer (config/areas.tsv), which the daemon loads, as in production.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bench.h"

/* Subdistrict codes (6 digits) of the gazetteer; village n is subdistrict n % n_sub with the
 * number 1 + n / n_sub, so every household gets a village of its own. */
typedef struct {
    char (*sub)[8];
    size_t n;
    char buf[16];
} villages_t;

static int load_subdistricts(const char *path, villages_t *v)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        size_t k = strspn(line, "0123456789");
        if (k != 6 || line[6] != '\t')
            continue;
        if (v->n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            char(*ns)[8] = realloc(v->sub, nc * sizeof *ns);
            if (!ns)
                break;
            v->sub = ns;
            cap = nc;
        }
        memcpy(v->sub[v->n], line, 6);
        v->sub[v->n++][6] = '\0';
    }
    fclose(f);
    return v->n ? 0 : -1;
}

static const char *village_of(uint64_t n, void *user)
{
    villages_t *v = user;
    snprintf(v->buf, sizeof v->buf, "%s%02u", v->sub[n % v->n], (unsigned)(1 + n / v->n));
    return v->buf;
}

typedef struct {
    testd_t *t;
    atomic_int stop;
    double *ms; /* one per report */
    size_t n, cap;
    int64_t rows;
    char err[96];
} reporter_t;

/* One report.summary {by: village} over everything; its round trip in ms, or -1. */
static double one_report(lbc_t *c, reporter_t *rp)
{
    lb_val_t *args = lb_map(), *r = NULL;
    lb_map_set_str(args, "by", "village");
    char err[256] = "";
    uint64_t t0 = bench_now_ns();
    int rc = lbc_call(c, "report.summary", args, &r, err, sizeof err);
    double dt = bench_ms_since(t0);
    const lb_val_t *res = rc == 0 && r ? lbc_reply_result(r) : NULL;
    const lb_val_t *rows = res ? lb_map_get(res, "rows") : NULL;
    if (rows && rows->type == LB_ARR)
        rp->rows = rows->a.n;
    else if (!rp->err[0])
        snprintf(rp->err, sizeof rp->err, "%s", rc ? err : testd_code(r));
    lb_val_free(&r);
    lb_val_free(&args);
    return res ? dt : -1;
}

static void add_ms(reporter_t *rp, double v)
{
    if (rp->n == rp->cap) {
        size_t nc = rp->cap ? rp->cap * 2 : 256;
        double *nm = realloc(rp->ms, nc * sizeof *nm);
        if (!nm)
            return;
        rp->ms = nm;
        rp->cap = nc;
    }
    rp->ms[rp->n++] = v;
}

/* The reporter thread: reports back to back on a connection of its own until stop. */
static void *reporter(void *arg)
{
    reporter_t *rp = arg;
    void *z = zmq_ctx_new();
    lbc_t *c = bench_client(rp->t, z, 120000);
    while (c && !atomic_load(&rp->stop)) {
        double v = one_report(c, rp);
        if (v < 0)
            break;
        add_ms(rp, v);
    }
    lbc_destroy(&c);
    zmq_ctx_term(z);
    return NULL;
}

static void summarize(const char *label, double *v, size_t n, int64_t rows)
{
    if (!n) {
        printf("  %-34s no report completed\n", label);
        return;
    }
    qsort(v, n, sizeof *v, bench_cmp_dbl);
    printf("  %-34s median %-10s (min %s, max %s; %s reports of %s rows)\n", label,
           bench_ms(v[n / 2]), bench_ms(v[0]), bench_ms(v[n - 1]), bench_num((double)n),
           bench_num((double)rows));
}

static void print_write(const char *label, const bench_tx_t *r)
{
    printf("  %-34s p50 %-10s p99 %-10s p99.9 %-10s max %-9s (%s requests%s)\n", label,
           bench_ms(r->p50), bench_ms(r->p99), bench_ms(r->p999), bench_ms(r->max),
           bench_num((double)r->n), r->errors ? ", ERRORS" : "");
}

/* The latencies of several 1x1 runs, merged. */
typedef struct {
    uint64_t *lat;
    size_t n, cap;
    double seconds;
    uint64_t errors;
    int fail;
} merged_t;

/* Adds r's latencies to m and frees them. */
static void merge(merged_t *m, bench_tx_t *r)
{
    if (m->n + r->n > m->cap) {
        size_t nc = (m->n + r->n) * 2;
        uint64_t *nl = realloc(m->lat, nc * sizeof *nl);
        if (!nl) {
            m->fail = 1;
            free(r->lat);
            r->lat = NULL;
            return;
        }
        m->lat = nl;
        m->cap = nc;
    }
    if (r->n)
        memcpy(m->lat + m->n, r->lat, r->n * sizeof *m->lat);
    m->n += r->n;
    m->seconds += r->seconds;
    m->errors += r->errors;
    m->fail |= r->fail;
    free(r->lat);
    r->lat = NULL;
}

/* The merged runs as one result; it takes m's latencies. */
static bench_tx_t merged(merged_t *m)
{
    bench_tx_t r = {0};
    if (m->lat)
        qsort(m->lat, m->n, sizeof *m->lat, bench_cmp_u64);
    r.n = m->n;
    r.errors = m->errors;
    r.fail = m->fail;
    r.seconds = m->seconds;
    r.per_s = m->seconds > 0 ? (double)m->n / m->seconds : 0;
    r.p50 = (double)bench_pct(m->lat, m->n, 0.50) / 1e6;
    r.p99 = (double)bench_pct(m->lat, m->n, 0.99) / 1e6;
    r.p999 = (double)bench_pct(m->lat, m->n, 0.999) / 1e6;
    r.max = m->n ? (double)m->lat[m->n - 1] / 1e6 : 0;
    r.lat = m->lat;
    m->lat = NULL;
    return r;
}

/* The measurements on a daemon holding one household in each village. */
static int measure(testd_t *t, size_t nvill, double import_ms)
{
    size_t max = 2000;
    char(*ids)[LB_CASE_ID_MAX] = calloc(max, sizeof *ids);
    size_t nids = ids ? bench_list_ids(t, NULL, ids, max) : 0;
    if (nids == 0) {
        fprintf(stderr, "bench: no cases to act on\n");
        free(ids);
        return -1;
    }
    reporter_t alone = {.t = t};
    void *z = zmq_ctx_new();
    lbc_t *c = bench_client(t, z, 120000);
    for (int i = 0; c && i < (bench_cfg.quick ? 3 : 5); i++) {
        double v = one_report(c, &alone);
        if (v < 0)
            break;
        add_ms(&alone, v);
    }
    lbc_destroy(&c);
    zmq_ctx_term(z);
    char la[64];
    bench_loadavg(la, sizeof la);
    printf(
        "a write during a national report: report.summary {by: village}, no area, over %s "
        "villages (one household each, imported in %s), looped on a second connection while "
        "case.act add_note runs 1x1 over %s of the cases, 1 s without and 1 s with reports, %.0f "
        "times (load average %s):\n",
        bench_num((double)nvill), bench_ms(import_ms), bench_num((double)nids),
        bench_cfg.tx_seconds, la);
    if (alone.err[0])
        printf("  report.summary FAILED: %s\n", alone.err);
    summarize("report alone (no writes)", alone.ms, alone.n, alone.rows);

    /* Alternating 1 s without and 1 s with reports, so both see the same machine. */
    merged_t mq = {0}, mb = {0};
    reporter_t rp = {.t = t};
    int segs = bench_cfg.tx_seconds < 1 ? 1 : (int)bench_cfg.tx_seconds;
    for (int i = 0; i < segs; i++) {
        bench_tx_t q = bench_tx_run(t, ids, nids, 1, 1, 1.0);
        merge(&mq, &q);
        atomic_init(&rp.stop, 0);
        pthread_t tid;
        int started = pthread_create(&tid, NULL, reporter, &rp) == 0;
        bench_tx_t b = bench_tx_run(t, ids, nids, 1, 1, 1.0);
        atomic_store(&rp.stop, 1);
        if (started)
            pthread_join(tid, NULL);
        merge(&mb, &b);
    }
    bench_tx_t quiet = merged(&mq), busy = merged(&mb);
    print_write("add_note 1x1, no report running", &quiet);
    print_write("add_note 1x1, reports running", &busy);
    summarize("report while writes run", rp.ms, rp.n, rp.rows);
    if (rp.err[0])
        printf("  report.summary FAILED: %s\n", rp.err);
    printf("  a write's extra wait while reports run: p50 %+.3f ms, p99 %+.3f ms, p99.9 %+.3f ms, "
           "max %+.3f ms (writes/s %s alone, %s with reports)\n",
           busy.p50 - quiet.p50, busy.p99 - quiet.p99, busy.p999 - quiet.p999, busy.max - quiet.max,
           bench_num(quiet.per_s), bench_num(busy.per_s));
    fflush(stdout);
    int rc = quiet.fail || busy.fail || alone.err[0] || rp.err[0] ? -1 : 0;
    free(quiet.lat);
    free(busy.lat);
    free(alone.ms);
    free(rp.ms);
    free(ids);
    return rc;
}

int bench_part_report_wait(void)
{
    char cwd[256], path[400], extra[512];
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    snprintf(path, sizeof path, "%s/config/areas.tsv", cwd);
    villages_t v = {0};
    if (load_subdistricts(path, &v)) {
        fprintf(stderr, "bench: cannot read subdistricts from %s\n", path);
        return -1;
    }
    size_t nvill = (size_t)bench_cfg.villages;
    if (nvill > v.n * 99)
        nvill = v.n * 99;
    snprintf(extra, sizeof extra, "areas: %s\n", path);
    testd_t t = {0};
    int rc = bench_start_daemon(&t, "the report wait", false, extra);
    bench_import_t ir;
    if (rc == 0)
        rc = bench_import_areas(&t, 0, nvill, (uint64_t)bench_cfg.import_batch, village_of, &v, &ir,
                                false);
    if (rc == 0 && ir.opened != nvill) {
        fprintf(stderr, "bench: opened %llu of %zu households\n", (unsigned long long)ir.opened,
                nvill);
        rc = -1;
    }
    if (rc == 0)
        rc = measure(&t, nvill, ir.call_ms);
    free(v.sub);
    testd_stop(&t);
    testd_cleanup(&t);
    return rc;
}
