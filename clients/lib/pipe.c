/*
 * pipe.c - request pipelining (pipe.h): a slot per request in flight, found
 * again from the reply's id, and a sticky first error after which nothing
 * more is sent. Also the few helpers the pipelining programs share.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "pipe.h"

typedef struct {
    bool busy;
    bool resend; /* answered rate_limited: sent again when the pause is over */
    lbc_pipe_cb cb;
    void *user;
    uint64_t tag;
    char id[LBC_ID_LEN + 48];
    char op[48];
    lb_val_t *args; /* a copy, for a resend */
} slot_t;

struct lbc_pipe {
    lbc_t *c;
    int cap, max, inflight, timeout_ms;
    slot_t *slots;
    int *free_slots, nfree;
    uint64_t counter;
    char run[LBC_ID_LEN + 1];
    int err;             /* sticky: the first failure */
    int nresend;         /* slots waiting to be sent again */
    int64_t pause_until; /* monotonic ms: no resend before (the daemon said rate_limited) */
    int64_t backoff_ms;  /* the next pause's upper bound: 25 ms doubling to 1 s */
    char errmsg[200];
};

static int fail(lbc_pipe_t *p, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(lbc_pipe_t *p, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    p->err = rc;
    return rc;
}

int lbc_pipe_new(lbc_t *c, int max, int timeout_ms, lbc_pipe_t **out)
{
    if (!out)
        return LB_EBADREQ;
    *out = NULL;
    if (!c || max < 1 || max > LBC_PIPE_MAX || timeout_ms <= 0)
        return LB_EBADREQ;
    lbc_pipe_t *p = calloc(1, sizeof *p);
    if (!p)
        return LB_ENOMEM;
    p->slots = calloc((size_t)max, sizeof *p->slots);
    p->free_slots = calloc((size_t)max, sizeof *p->free_slots);
    if (!p->slots || !p->free_slots) {
        lbc_pipe_destroy(&p);
        return LB_ENOMEM;
    }
    p->c = c;
    p->cap = p->max = max;
    p->timeout_ms = timeout_ms;
    p->backoff_ms = 25;
    for (int i = max - 1; i >= 0; i--)
        p->free_slots[p->nfree++] = i;
    lbc_new_id(p->run);
    *out = p;
    return 0;
}

void lbc_pipe_destroy(lbc_pipe_t **pp)
{
    if (!pp || !*pp)
        return;
    for (int i = 0; (*pp)->slots && i < (*pp)->cap; i++)
        lb_val_free(&(*pp)->slots[i].args);
    free((*pp)->slots);
    free((*pp)->free_slots);
    free(*pp);
    *pp = NULL;
}

/* The slot a reply id "RUN-SLOT-COUNTER" names, or -1. */
static int slot_of(const lbc_pipe_t *p, const char *id)
{
    size_t rl = strlen(p->run);
    if (!id || strncmp(id, p->run, rl) != 0 || id[rl] != '-')
        return -1;
    char *end;
    long slot = strtol(id + rl + 1, &end, 10);
    if (end == id + rl + 1 || *end != '-' || slot < 0 || slot >= p->cap || !p->slots[slot].busy)
        return -1;
    return (int)slot;
}

/* Sends every slot marked for resending again, with its own id. */
static int resend_all(lbc_pipe_t *p)
{
    for (int i = 0; i < p->cap && p->nresend > 0; i++) {
        slot_t *sl = &p->slots[i];
        if (!sl->busy || !sl->resend)
            continue;
        int rc = lbc_send(p->c, sl->id, sl->op, sl->args);
        if (rc)
            return fail(p, rc, "sending %s again failed: %s", sl->op, lb_strerror(rc));
        sl->resend = false;
        p->nresend--;
    }
    return 0;
}

/*
 * rate_limited (the daemon's per-key token bucket): the request is kept for
 * a resend after a pause of half to all of backoff_ms (jitter), which doubles
 * while refusals go on; one pause covers every refusal that comes during it.
 */
static void rate_limited(lbc_pipe_t *p, int slot)
{
    if (!p->slots[slot].resend) {
        p->slots[slot].resend = true;
        p->nresend++;
    }
    int64_t now = lbc_mono_ms();
    if (p->pause_until > now)
        return;
    int64_t b = p->backoff_ms;
    p->pause_until = now + b / 2 + (int64_t)randombytes_uniform((uint32_t)(b / 2 + 1));
    p->backoff_ms = b < 1000 ? b * 2 : 1000;
}

static bool is_rate_limited(const lb_val_t *r)
{
    const char *code = lb_map_str(lb_map_get(r, "error"), "code");
    return code && strcmp(code, "rate_limited") == 0;
}

int lbc_pipe_recv_one(lbc_pipe_t *p)
{
    if (p->err || p->inflight == 0)
        return p->err;
    int timeout = p->timeout_ms;
    if (p->nresend) {
        int64_t wait = p->pause_until - lbc_mono_ms();
        if (wait > 0 && p->nresend == p->inflight) {
            struct timespec ts = {wait / 1000, (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL); /* nothing else to wait for */
            wait = 0;
        }
        if (wait <= 0)
            return resend_all(p);
        timeout = wait < timeout ? (int)wait : timeout;
    }
    lb_val_t *r = NULL;
    int rc = lbc_recv(p->c, timeout, &r);
    if (rc == LB_EUNAVAIL && timeout < p->timeout_ms)
        return 0; /* the pause is over: resend next */
    if (rc)
        return fail(p, rc, "no reply in %d s with %d requests in flight: %s", p->timeout_ms / 1000,
                    p->inflight, lb_strerror(rc));
    int slot = slot_of(p, lbc_reply_id(r));
    if (slot >= 0 && is_rate_limited(r)) {
        rate_limited(p, slot);
        lb_val_free(&r);
        return 0;
    }
    if (slot >= 0)
        p->backoff_ms = 25;
    if (slot < 0) {
        const char *code = "", *msg = "";
        lbc_reply_error(r, &code, &msg, NULL);
        fail(p, LB_EINTERNAL, "unmatched reply (id '%s'): %s %s", lbc_reply_id(r), code, msg);
        lb_val_free(&r);
        return p->err;
    }
    slot_t sl = p->slots[slot];
    p->slots[slot].busy = false;
    p->slots[slot].args = NULL;
    p->free_slots[p->nfree++] = slot;
    p->inflight--;
    sl.cb(sl.user, sl.tag, r);
    lb_val_free(&sl.args);
    lb_val_free(&r);
    return 0;
}

int lbc_pipe_send(lbc_pipe_t *p, const char *op, const lb_val_t *args, lbc_pipe_cb cb, void *user,
                  uint64_t tag)
{
    if (!p->err && (!op || !cb))
        return fail(p, LB_EBADREQ, "lbc_pipe_send: no op or no callback");
    while (!p->err && (p->inflight >= p->max || p->nfree == 0))
        lbc_pipe_recv_one(p);
    if (p->err)
        return p->err;
    int slot = p->free_slots[--p->nfree];
    slot_t *sl = &p->slots[slot];
    snprintf(sl->id, sizeof sl->id, "%s-%d-%" PRIx64, p->run, slot, p->counter++);
    snprintf(sl->op, sizeof sl->op, "%s", op);
    sl->args = args ? lb_val_dup(args) : NULL;
    int rc = args && !sl->args ? LB_ENOMEM : lbc_send(p->c, sl->id, op, args);
    if (rc) {
        lb_val_free(&sl->args);
        p->free_slots[p->nfree++] = slot;
        return fail(p, rc, "sending %s failed: %s", op, lb_strerror(rc));
    }
    sl->busy = true;
    sl->resend = false;
    sl->cb = cb;
    sl->user = user;
    sl->tag = tag;
    p->inflight++;
    return 0;
}

int lbc_pipe_drain(lbc_pipe_t *p)
{
    while (!p->err && p->inflight > 0)
        lbc_pipe_recv_one(p);
    return p->err;
}

int lbc_pipe_set_max(lbc_pipe_t *p, int max)
{
    if (max < 1 || max > p->cap)
        return LB_EBADREQ;
    p->max = max;
    return 0;
}

int lbc_pipe_max(const lbc_pipe_t *p)
{
    return p->max;
}

int lbc_pipe_inflight(const lbc_pipe_t *p)
{
    return p->inflight;
}

uint64_t lbc_pipe_sent(const lbc_pipe_t *p)
{
    return p->counter;
}

int lbc_pipe_error(const lbc_pipe_t *p, const char **msg)
{
    if (msg)
        *msg = p->errmsg;
    return p->err;
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */
/* ---------------------------------------------------------------------- */

char *lbc_fmt_count(int64_t v, char out[LBC_COUNT_LEN])
{
    char tmp[32];
    /* through uint64_t: -INT64_MIN does not fit an int64_t */
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(tmp, sizeof tmp, "%" PRIu64, mag);
    size_t n = strlen(tmp), o = 0;
    if (v < 0)
        out[o++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = '\0';
    return out;
}

uint64_t lbc_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
