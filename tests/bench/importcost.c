/*
 * importcost.c - `make importcost`: what case.import costs the daemon per
 * household, in instructions (callgrind) and CPU time rather than wall time,
 * like txcost.c for transitions.
 *
 * Starts a daemon with tests/lib/testd, imports IMPCOST_WARM households (a
 * store that is not empty), then IMPCOST_N more in batches of IMPCOST_BATCH,
 * and prints the daemon's CPU time per household. Households are like the
 * bench's: 180 villages of province 65, 1-3 deprived indicators. With
 * IMPCOST_CALLGRIND=FILE the daemon runs under callgrind with instrumentation
 * on for the measured batches only, dumped to FILE.N (divide by IMPCOST_N).
 *
 * Environment: IMPCOST_WARM (2000), IMPCOST_N (5000), IMPCOST_BATCH (1000),
 * IMPCOST_CALLGRIND, LOGBOOKD (bin/logbookd). Run from the repository root.
 * Prints; never fails on a figure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/testd.h"
#include "cost.h"

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static const char *const INDICATORS[] = {"bmn1",  "bmn4",  "bmn5",  "bmn7",  "bmn8",  "bmn9",
                                         "bmn10", "bmn11", "bmn15", "bmn16", "bmn17", "bmn19",
                                         "bmn20", "bmn21", "bmn22", "bmn27", "bmn28"};
#define NIND (sizeof INDICATORS / sizeof INDICATORS[0])

/* The bench's household n (tests/bench/bench_util.c). */
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
    unsigned step = 1 + (unsigned)((h >> 40) % (NIND - 1));
    for (unsigned i = 0; i < k; i++)
        lb_arr_push(dep, lb_str(INDICATORS[(first + i * step) % NIND]));
    lb_map_set(m, "deprived", dep);
    return m;
}

/* Imports households [first, first + count) in batches; 0 or -1. */
static int import_range(testd_t *t, uint64_t first, uint64_t count, uint64_t batch)
{
    for (uint64_t off = 0; off < count; off += batch) {
        uint64_t n = count - off < batch ? count - off : batch;
        lb_val_t *args = lb_map(), *hs = lb_arr();
        for (uint64_t i = 0; i < n; i++)
            lb_arr_push(hs, household(first + off + i));
        lb_map_set(args, "households", hs);
        lb_val_t *r = testd_call(t, "case.import", args);
        const lb_val_t *out = r ? lbc_reply_result(r) : NULL;
        int64_t opened = -1;
        if (!out || lb_map_int(out, "opened", &opened) || opened != (int64_t)n) {
            fprintf(stderr, "importcost: case.import failed: %s\n", testd_code(r));
            lb_val_free(&r);
            lb_val_free(&args);
            return -1;
        }
        lb_val_free(&r);
        lb_val_free(&args);
    }
    return 0;
}

int main(void)
{
    long warm = cost_env_long("IMPCOST_WARM", 2000), n = cost_env_long("IMPCOST_N", 5000);
    long batch = cost_env_long("IMPCOST_BATCH", 1000);
    const char *cg = getenv("IMPCOST_CALLGRIND");
    char wrapper[128] = "";
    if (warm < 0 || n < 1 || batch < 1 ||
        (cg && cost_callgrind_wrapper("importcost", cg, wrapper, sizeof wrapper))) {
        fprintf(stderr, "importcost: bad settings\n");
        return 2;
    }
    testd_t t;
    memset(&t, 0, sizeof t);
    testd_opts_t o = {.rate_per_key = 5000000};
    if (testd_start(&t, &o)) {
        fprintf(stderr, "importcost: could not start logbookd\n");
        return 1;
    }
    lbc_destroy(&t.admin);
    t.admin = testd_client(&t, NULL, 600000, 0);
    int rc = import_range(&t, 0, (uint64_t)warm, (uint64_t)batch) ? 1 : 0;
    if (rc == 0) {
        if (cg) {
            cost_callgrind_ctl("importcost", t.pid, "-z");
            cost_callgrind_ctl("importcost", t.pid, "-i on");
        }
        double c0 = cost_cpu_s(t.pid);
        rc = import_range(&t, (uint64_t)warm, (uint64_t)n, (uint64_t)batch) ? 1 : 0;
        double c1 = cost_cpu_s(t.pid);
        if (cg) {
            cost_callgrind_ctl("importcost", t.pid, "-d");
            cost_callgrind_ctl("importcost", t.pid, "-i off");
        }
        printf("importcost: %ld households in batches of %ld after %ld: daemon CPU %.3f s, %.2f us "
               "per household%s\n",
               n, batch, warm, c1 - c0, (c1 - c0) * 1e6 / (double)n,
               cg ? " (under callgrind: see its dump)" : "");
    }
    testd_stop(&t);
    testd_cleanup(&t);
    if (wrapper[0])
        unlink(wrapper);
    return rc;
}
