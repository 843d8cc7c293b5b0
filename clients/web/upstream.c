/*
 * upstream.c - the gateway's connections to logbookd: a pool of client
 * library connections (one per concurrent request, reused), each call made
 * `as` a person, and the counters /metrics reports for them
 * (logbook_requests_total{op,code}, logbook_request_duration_seconds).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "../lib/call_as.h"
#include "web.h"

#define POOL_MAX 64

static const char *const ops[] = {
    "ping",         "workflow.list",  "workflow.get", "case.open",   "case.import",
    "case.act",     "case.ack",       "case.get",     "case.find",   "case.history",
    "case.list",    "report.summary", "events.since", "admin.stats", "admin.backup",
    "admin.reload", "admin.verify",   "admin.clock",  "other",
};
#define NOPS (sizeof ops / sizeof ops[0])
/* The wire's error codes, "ok" first and "unreachable" (no reply) last. */
static const char *const codes[] = {
    "ok",          "bad_request",        "bad_version",  "unknown_op",  "not_found",
    "conflict",    "invalid_transition", "guard_failed", "forbidden",   "too_large",
    "unavailable", "internal",           "rate_limited", "unreachable",
};
#define NCODES (sizeof codes / sizeof codes[0])
static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct web_up {
    lbc_opts_t opts;
    lb_cert_t *ckey, *skey;
    void *zctx;
    pthread_mutex_t mu;
    lbc_t *idle[POOL_MAX];
    size_t n_idle;
    uint64_t count[NOPS][NCODES];
    uint64_t hist[NOPS][NBUCKETS + 1]; /* the last is +Inf */
    double sum[NOPS];
};

int web_up_new(const web_config_t *cfg, web_up_t **out, char *err, size_t errlen)
{
    web_up_t *u = calloc(1, sizeof *u);
    *out = NULL;
    if (!u)
        return LB_ENOMEM;
    int rc = lb_cert_load(cfg->cert, &u->ckey, err, errlen);
    if (!rc)
        rc = lb_cert_load(cfg->server_cert, &u->skey, err, errlen);
    if (rc) {
        lb_cert_destroy(&u->ckey);
        free(u);
        return rc;
    }
    lbc_opts_init(&u->opts);
    u->opts.endpoint = strdup(cfg->endpoint);
    u->opts.client_key = u->ckey;
    u->opts.server_key = u->skey;
    u->opts.timeout_ms = 5000;
    u->opts.retries = 1;
    u->zctx = zmq_ctx_new();
    u->opts.zmq_ctx = u->zctx;
    pthread_mutex_init(&u->mu, NULL);
    if (!u->opts.endpoint || !u->zctx) {
        web_up_destroy(&u);
        return LB_ENOMEM;
    }
    *out = u;
    return 0;
}

void web_up_destroy(web_up_t **pu)
{
    web_up_t *u = pu ? *pu : NULL;
    if (!u)
        return;
    for (size_t i = 0; i < u->n_idle; i++)
        lbc_destroy(&u->idle[i]);
    free((char *)u->opts.endpoint);
    if (u->zctx)
        zmq_ctx_term(u->zctx);
    lb_cert_destroy(&u->ckey);
    lb_cert_destroy(&u->skey);
    pthread_mutex_destroy(&u->mu);
    free(u);
    *pu = NULL;
}

static size_t op_index(const char *op)
{
    for (size_t i = 0; i + 1 < NOPS; i++)
        if (strcmp(ops[i], op) == 0)
            return i;
    return NOPS - 1;
}

static size_t code_index(int rc, const lb_val_t *reply)
{
    const char *code = "unreachable";
    if (rc == 0 && lbc_reply_ok(reply))
        code = "ok";
    else if (rc == 0)
        lbc_reply_error(reply, &code, NULL, NULL);
    for (size_t i = 0; i < NCODES; i++)
        if (strcmp(codes[i], code) == 0)
            return i;
    return NCODES - 1;
}

static void count(web_up_t *u, const char *op, int rc, const lb_val_t *reply, double secs)
{
    size_t o = op_index(op), c = code_index(rc, reply), b = 0;
    while (b < NBUCKETS && secs > buckets[b])
        b++;
    pthread_mutex_lock(&u->mu);
    u->count[o][c]++;
    u->hist[o][b]++;
    u->sum[o] += secs;
    pthread_mutex_unlock(&u->mu);
}

int web_up_call(web_up_t *u, const char *user, const char *id, const char *op, const lb_val_t *args,
                lb_val_t **reply, char *err, size_t errlen)
{
    lbc_t *c = NULL;
    int rc = 0;
    pthread_mutex_lock(&u->mu);
    if (u->n_idle)
        c = u->idle[--u->n_idle];
    pthread_mutex_unlock(&u->mu);
    if (!c && (rc = lbc_connect(&u->opts, &c, err, errlen)))
        return rc;
    char fresh[LBC_ID_LEN + 1];
    if (!id) {
        lbc_new_id(fresh);
        id = fresh;
    }
    int64_t t0 = lbc_mono_ms();
    rc = lbc_call_as(c, user, id, op, args, reply, err, errlen);
    count(u, op, rc, rc ? NULL : *reply, (double)(lbc_mono_ms() - t0) / 1000.0);
    pthread_mutex_lock(&u->mu);
    if (u->n_idle < POOL_MAX)
        u->idle[u->n_idle++] = c;
    else
        lbc_destroy(&c);
    pthread_mutex_unlock(&u->mu);
    return rc;
}

static int out(lb_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int out(lb_buf_t *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return LB_EINTERNAL;
    return lb_buf_append(b, line, (size_t)n);
}

int web_up_metrics(web_up_t *u, lb_buf_t *b)
{
    int rc = 0;
    pthread_mutex_lock(&u->mu);
    rc = out(b, "# HELP logbook_requests_total Requests the gateway sent to logbookd, by op and "
                "reply code.\n# TYPE logbook_requests_total counter\n");
    for (size_t o = 0; !rc && o < NOPS; o++)
        for (size_t c = 0; !rc && c < NCODES; c++)
            if (u->count[o][c])
                rc = out(b, "logbook_requests_total{op=\"%s\",code=\"%s\"} %llu\n", ops[o],
                         codes[c], (unsigned long long)u->count[o][c]);
    if (!rc)
        rc = out(b, "# HELP logbook_request_duration_seconds Time from sending a request to "
                    "its reply.\n# TYPE logbook_request_duration_seconds histogram\n");
    for (size_t o = 0; !rc && o < NOPS; o++) {
        uint64_t total = 0;
        for (size_t k = 0; k <= NBUCKETS; k++)
            total += u->hist[o][k];
        if (!total)
            continue;
        uint64_t cum = 0;
        for (size_t k = 0; !rc && k < NBUCKETS; k++) {
            cum += u->hist[o][k];
            rc = out(b, "logbook_request_duration_seconds_bucket{op=\"%s\",le=\"%g\"} %llu\n",
                     ops[o], buckets[k], (unsigned long long)cum);
        }
        if (!rc)
            rc = out(b,
                     "logbook_request_duration_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n"
                     "logbook_request_duration_seconds_sum{op=\"%s\"} %.6f\n"
                     "logbook_request_duration_seconds_count{op=\"%s\"} %llu\n",
                     ops[o], (unsigned long long)total, ops[o], u->sum[o], ops[o],
                     (unsigned long long)total);
    }
    pthread_mutex_unlock(&u->mu);
    return rc;
}
