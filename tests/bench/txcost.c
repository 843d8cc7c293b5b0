/*
 * txcost.c - `make txcost`: what one durable transition costs the daemon, in
 * instructions (callgrind) and in CPU time, rather than in wall time: the
 * figures stay comparable on a busy machine.
 *
 * Starts a daemon with tests/lib/testd, imports TXCOST_CASES households, adds
 * TXCOST_WARM notes to each (cases of a realistic size), then sends
 * TXCOST_N case.act add_note requests round robin, TXCOST_INFLIGHT in flight
 * on one connection, and prints the daemon's CPU time (utime + stime from
 * /proc) per transition. With TXCOST_CALLGRIND=FILE the daemon runs under
 * `valgrind --tool=callgrind` with instrumentation off until the measured
 * part, which is dumped to FILE.N (read it with `callgrind_annotate
 * --inclusive=yes`; divide by TXCOST_N).
 *
 * Environment: TXCOST_CASES (200), TXCOST_WARM (10), TXCOST_N (2000),
 * TXCOST_INFLIGHT (64), TXCOST_CALLGRIND, LOGBOOKD (bin/logbookd).
 * Run from the repository root. Prints; never fails on a figure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../clients/lib/pipe.h"
#include "../lib/testd.h"
#include "cost.h"

static int errors;

static void on_reply(void *user, uint64_t tag, const lb_val_t *r)
{
    (void)user;
    (void)tag;
    if (!lbc_reply_ok(r) && errors++ < 3)
        fprintf(stderr, "txcost: error reply: %s\n", testd_code(r));
}

/* n add_notes round robin over ids, inflight at a time: 0 or -1. */
static int add_notes(testd_t *t, char (*ids)[LB_CASE_ID_MAX], long nids, long n, int inflight)
{
    lbc_t *c = testd_client(t, NULL, 600000, 0);
    lbc_pipe_t *p = NULL;
    lb_val_t *args = lb_map(), *data = lb_map();
    int rc = 0;
    lb_put_str(data, "note", "bench", &rc);
    lb_put_str(args, "action", "add_note", &rc);
    lb_put(args, "data", data, &rc);
    if (!c || rc || lbc_pipe_new(c, inflight, 600000, &p))
        rc = -1;
    for (long i = 0; rc == 0 && i < n; i++) {
        lb_map_set_str(args, "case_id", ids[i % nids]);
        rc = lbc_pipe_send(p, "case.act", args, on_reply, NULL, 0) ? -1 : 0;
    }
    if (rc == 0 && lbc_pipe_drain(p))
        rc = -1;
    lbc_pipe_destroy(&p);
    lb_val_free(&args);
    lbc_destroy(&c);
    return rc;
}

int main(void)
{
    long ncases = cost_env_long("TXCOST_CASES", 200), warm = cost_env_long("TXCOST_WARM", 10);
    long n = cost_env_long("TXCOST_N", 2000);
    int inflight = (int)cost_env_long("TXCOST_INFLIGHT", 64);
    const char *cg = getenv("TXCOST_CALLGRIND");
    char wrapper[128] = "";
    if (ncases < 1 || n < 1 || inflight < 1 ||
        (cg && cost_callgrind_wrapper("txcost", cg, wrapper, sizeof wrapper))) {
        fprintf(stderr, "txcost: bad settings\n");
        return 2;
    }
    testd_t t;
    memset(&t, 0, sizeof t);
    testd_opts_t o = {.rate_per_key = 5000000}; /* one key at full speed, as the bench */
    if (testd_start(&t, &o)) {
        fprintf(stderr, "txcost: could not start logbookd\n");
        return 1;
    }
    lbc_destroy(&t.admin);
    t.admin = testd_client(&t, NULL, 600000, 0);
    lb_val_t *hs = lb_arr(), *a = lb_map();
    for (long i = 0; i < ncases; i++)
        lb_arr_push(hs, testd_household((unsigned long)(1000 + i), "65010101"));
    lb_map_set(a, "households", hs);
    lb_val_t *r = testd_call(&t, "case.import", a);
    int rc = r && lbc_reply_ok(r) ? 0 : 1;
    lb_val_free(&r);
    lb_val_free(&a);
    char(*ids)[LB_CASE_ID_MAX] = calloc((size_t)ncases, LB_CASE_ID_MAX);
    for (long i = 0; ids && i < ncases; i++) /* a fresh store numbers its cases from 1 */
        lb_case_id_format((uint64_t)i + 1, ids[i]);
    if (rc || !ids || (warm && add_notes(&t, ids, ncases, warm * ncases, inflight))) {
        fprintf(stderr, "txcost: import or warm-up failed\n");
        rc = 1;
    }
    if (rc == 0) {
        if (cg) {
            cost_callgrind_ctl("txcost", t.pid, "-z");
            cost_callgrind_ctl("txcost", t.pid, "-i on");
        }
        double c0 = cost_cpu_s(t.pid);
        rc = add_notes(&t, ids, ncases, n, inflight) ? 1 : 0;
        double c1 = cost_cpu_s(t.pid);
        if (cg) {
            cost_callgrind_ctl("txcost", t.pid, "-d");
            cost_callgrind_ctl("txcost", t.pid, "-i off");
        }
        printf("txcost: %ld add_note transitions over %ld cases (%ld notes each before), %d in "
               "flight: daemon CPU %.3f s, %.1f us per transition, %d error replies%s\n",
               n, ncases, warm, inflight, c1 - c0, (c1 - c0) * 1e6 / (double)n, errors,
               cg ? " (under callgrind: see its dump)" : "");
    }
    testd_stop(&t);
    testd_cleanup(&t);
    if (wrapper[0])
        unlink(wrapper);
    free(ids);
    return rc || errors ? 1 : 0;
}
