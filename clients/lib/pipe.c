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

#include "pipe.h"

typedef struct {
    bool busy;
    lbc_pipe_cb cb;
    void *user;
    uint64_t tag;
} slot_t;

struct lbc_pipe {
    lbc_t *c;
    int cap, max, inflight, timeout_ms;
    slot_t *slots;
    int *free_slots, nfree;
    uint64_t counter;
    char run[LBC_ID_LEN + 1];
    int err; /* sticky: the first failure */
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

int lbc_pipe_recv_one(lbc_pipe_t *p)
{
    if (p->err || p->inflight == 0)
        return p->err;
    lb_val_t *r = NULL;
    int rc = lbc_recv(p->c, p->timeout_ms, &r);
    if (rc)
        return fail(p, rc, "no reply in %d s with %d requests in flight: %s",
                    p->timeout_ms / 1000, p->inflight, lb_strerror(rc));
    int slot = slot_of(p, lbc_reply_id(r));
    if (slot < 0) {
        const char *code = "", *msg = "";
        lbc_reply_error(r, &code, &msg, NULL);
        fail(p, LB_EINTERNAL, "unmatched reply (id '%s'): %s %s", lbc_reply_id(r), code, msg);
        lb_val_free(&r);
        return p->err;
    }
    slot_t sl = p->slots[slot];
    p->slots[slot].busy = false;
    p->free_slots[p->nfree++] = slot;
    p->inflight--;
    sl.cb(sl.user, sl.tag, r);
    lb_val_free(&r);
    return 0;
}

int lbc_pipe_send(lbc_pipe_t *p, const char *op, const lb_val_t *args, lbc_pipe_cb cb,
                  void *user, uint64_t tag)
{
    if (!p->err && (!op || !cb))
        return fail(p, LB_EBADREQ, "lbc_pipe_send: no op or no callback");
    while (!p->err && (p->inflight >= p->max || p->nfree == 0))
        lbc_pipe_recv_one(p);
    if (p->err)
        return p->err;
    int slot = p->free_slots[--p->nfree];
    char id[LBC_ID_LEN + 48];
    snprintf(id, sizeof id, "%s-%d-%" PRIx64, p->run, slot, p->counter++);
    int rc = lbc_send(p->c, id, op, args);
    if (rc) {
        p->free_slots[p->nfree++] = slot;
        return fail(p, rc, "sending %s failed: %s", op, lb_strerror(rc));
    }
    p->slots[slot] = (slot_t){true, cb, user, tag};
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
