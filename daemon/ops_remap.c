/*
 * ops_remap.c - admin.remap (PROTOCOL.md 9.17): when areas are merged or
 * split, every case under an old code moves to the new one, a bounded slice
 * per call. The caller calls again until `done`; a slice is one transaction,
 * so a large remap never holds the write batch for long, and an interrupted
 * one is resumed by calling again with the same map.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define REMAP_SLICE_DEFAULT 1000

typedef struct {
    lbd_ids_t ids;
    size_t want; /* collect at most this many; one more sets `more` */
    bool more;
} remap_ids_t;

static int remap_cb(uint64_t id, const char *area, const char *state, const void *summary,
                    size_t slen, void *arg)
{
    remap_ids_t *r = arg;
    (void)area;
    (void)state;
    (void)summary;
    (void)slen;
    if (r->ids.n == r->want) {
        r->more = true;
        return 1;
    }
    return lbd_ids_push(&r->ids, id);
}

/* The `cases` counter of one scope as of the last commit. */
static int cases_cb(const char *scope, const char *name, uint64_t value, void *arg)
{
    (void)scope;
    if (strcmp(name, "cases") == 0) {
        *(uint64_t *)arg += value;
        return 1;
    }
    return 0;
}

/* Moves the cases of ids from prefix `from` to `to` (same length). 0 or an internal code. */
static int remap_move(lbd_ctx_t *ctx, const remap_ids_t *r, const char *from, const char *to)
{
    size_t plen = strlen(from);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->ids.n; i++) {
        wf_case_t c;
        lbd_case_snap_t old;
        rc = lbd_case_load(ctx->d, ctx->txn, r->ids.v[i], &c, &old);
        if (rc)
            break; /* a case that cannot be read cannot be moved: the remap stops here */
        char area[sizeof c.area];
        snprintf(area, sizeof area, "%s%s", to, c.area + plen);
        uint64_t seq;
        rc = lbd_case_move(ctx, &c, &old, area, "remapped", false, NULL, &seq);
        wf_case_clear(&c);
    }
    return rc;
}

int lbd_op_admin_remap(lbd_ctx_t *ctx)
{
    const lb_val_t *map = lb_map_get(ctx->req->args, "map");
    int64_t limit = REMAP_SLICE_DEFAULT;
    lb_map_int(ctx->req->args, "limit", &limit);
    size_t moved = 0;
    uint64_t before = 0;
    bool more = false;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < map->m.n; i++) {
        const char *from = map->m.keys[i], *to = map->m.vals[i]->s.p;
        if ((rc = store_counts(ctx->txn, from, cases_cb, &before)))
            break;
        /* A full slice still looks for one case under the pair: `done` must be exact. */
        remap_ids_t r = {.want = (size_t)limit - moved};
        rc = store_list(ctx->txn, from, NULL, NULL, NULL, 0, remap_cb, &r);
        if (rc == 0)
            rc = remap_move(ctx, &r, from, to);
        if (rc == LB_ECORRUPT || rc == LB_ENOTFOUND)
            rc = lbd_fail(ctx, LB_EINTERNAL, "map",
                          "a case under %s cannot be read; see "
                          "admin.verify",
                          from);
        moved += r.ids.n;
        more = more || r.more;
        lbd_ids_free(&r.ids);
    }
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        /* The counters are the last commit's: exact when no other write of this batch
         * touched the old areas; `done` is exact always. */
        uint64_t left = before > moved ? before - moved : 0;
        if (more && left == 0)
            left = 1;
        lb_put_int(ctx->result, "moved", (int64_t)moved, &rc);
        lb_put_int(ctx->result, "remaining", more ? (int64_t)left : 0, &rc);
        lb_put_bool(ctx->result, "done", !more, &rc);
    }
    return rc;
}
