/*
 * bench_util.c - see bench.h: the settings, formatting, /proc readings,
 * daemons and households the parts of `make bench` share.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../../clients/lib/pipe.h"
#include "bench.h"

bench_cfg_t bench_cfg;

uint64_t bench_now_ns(void)
{
    return lbc_mono_ns();
}

double bench_ms_since(uint64_t t0)
{
    return (double)(bench_now_ns() - t0) / 1e6;
}

const char *bench_num(double v)
{
    static char bufs[8][LBC_COUNT_LEN];
    static int k;
    return lbc_fmt_count((int64_t)(v < 0 ? v - 0.5 : v + 0.5), bufs[k++ & 7]);
}

const char *bench_ms(double v)
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

void bench_loadavg(char *out, size_t n)
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

long bench_proc_status_kb(pid_t pid, const char *key)
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

/* utime + stime (+ cutime + cstime with children) in seconds, from /proc/PID/stat. */
static double proc_cpu(pid_t pid, bool children)
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
    unsigned long long ut, st, cut, cst;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut,
                     &st, &cut, &cst) != 4)
        return -1;
    return (double)(ut + st + (children ? cut + cst : 0)) / (double)sysconf(_SC_CLK_TCK);
}

double bench_proc_cpu_s(pid_t pid)
{
    return proc_cpu(pid, false);
}

double bench_proc_cpu_all_s(pid_t pid)
{
    return proc_cpu(pid, true);
}

long long bench_proc_io(pid_t pid, const char *key)
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

int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int bench_cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

uint64_t bench_pct(const uint64_t *v, size_t n, double p)
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

int64_t bench_stat_int(testd_t *t, const char *key)
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

lb_val_t *bench_stats(testd_t *t)
{
    lb_val_t *r = testd_call(t, "admin.stats", NULL);
    if (r && !lbc_reply_result(r))
        lb_val_free(&r);
    return r;
}

int bench_start_daemon(testd_t *t, const char *what, bool curve_off, const char *extra_config)
{
    /* The bench is one key at full speed: the per-key token bucket must not be what it measures. */
    testd_opts_t o = {.batch_max = bench_cfg.batch_max,
                      .rate_per_key = 5000000,
                      .curve_off = curve_off,
                      .extra_config = extra_config};
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

/* House id 10000000000 + n, 1-3 distinct deprived indicators picked from n. */
lb_val_t *bench_household_in(uint64_t n, const char *area)
{
    uint64_t h = mix64(n);
    char house[16];
    snprintf(house, sizeof house, "%011llu", (unsigned long long)(10000000000ULL + n));
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

/* The village 65DDSSVV: district DD in 01..09 (round robin), 4 subdistricts and 5 villages
 * each. */
lb_val_t *bench_household(uint64_t n)
{
    uint64_t h = mix64(n);
    char area[16];
    snprintf(area, sizeof area, "65%02u%02u%02u", (unsigned)(1 + n % 9),
             (unsigned)(1 + (h >> 8) % 4), (unsigned)(1 + (h >> 16) % 5));
    return bench_household_in(n, area);
}

int bench_import_range(testd_t *t, uint64_t first, uint64_t count, uint64_t batch,
                       bench_import_t *res, bool progress)
{
    return bench_import_areas(t, first, count, batch, NULL, NULL, res, progress);
}

int bench_import_areas(testd_t *t, uint64_t first, uint64_t count, uint64_t batch,
                       bench_area_fn area_fn, void *user, bench_import_t *res, bool progress)
{
    memset(res, 0, sizeof *res);
    uint64_t w0 = bench_now_ns(), last_report = w0;
    for (uint64_t off = 0; off < count; off += batch) {
        uint64_t n = count - off < batch ? count - off : batch;
        lb_val_t *args = lb_map(), *hs = lb_arr();
        for (uint64_t i = 0; i < n; i++)
            lb_arr_push(
                hs, area_fn ? bench_household_in(first + off + i, area_fn(first + off + i, user))
                            : bench_household(first + off + i));
        lb_map_set(args, "households", hs);
        uint64_t c0 = bench_now_ns();
        lb_val_t *r = testd_call(t, "case.import", args);
        double dt = bench_ms_since(c0);
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
        if (progress && bench_now_ns() - last_report > 10000000000ULL) {
            last_report = bench_now_ns();
            fprintf(stderr, "  ... imported %s of %s (%s households/s so far)\n",
                    bench_num((double)(off + n)), bench_num((double)count),
                    bench_num((double)(off + n) / (res->call_ms / 1e3)));
        }
    }
    res->wall_ms = bench_ms_since(w0);
    return res->failed ? -1 : 0;
}

lbc_t *bench_client(testd_t *t, void *zctx, int timeout_ms)
{
    char admin[400], server[400], err[256];
    snprintf(admin, sizeof admin, "%s/keys/admin.key_secret", t->data);
    snprintf(server, sizeof server, "%s/keys/server.key", t->data);
    lbc_opts_t o;
    lbc_opts_init(&o);
    o.endpoint = t->req_ep;
    o.client_cert = t->curve_off ? NULL : admin;
    o.server_cert = t->curve_off ? NULL : server;
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

size_t bench_list_ids(testd_t *t, const char *area, char (*ids)[LB_CASE_ID_MAX], size_t max)
{
    size_t n = 0;
    char *after = NULL;
    while (n < max) {
        lb_val_t *a = lb_map();
        if (area)
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
long long bench_dev_written(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    char sys[96];
    snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u/stat", major(st.st_dev), minor(st.st_dev));
    FILE *f = fopen(sys, "r");
    if (!f)
        return -1;
    unsigned long long sectors;
    int n = fscanf(f, "%*u %*u %*u %*u %*u %*u %llu", &sectors);
    fclose(f);
    return n == 1 ? (long long)sectors * 512 : -1;
}

bool bench_port_open(int port)
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

bool bench_part_on(const char *name)
{
    if (!bench_cfg.only || !*bench_cfg.only)
        return true;
    size_t n = strlen(name);
    for (const char *p = bench_cfg.only; (p = strstr(p, name)) != NULL; p += n)
        if ((p == bench_cfg.only || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}
