/*
 * ops_admin.c - the admin operations: stats, backup, reload, verify (the
 * audit chain) and the manual clock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ops.h"

/* ---------------------------------------------------------------------- */
/* admin                                                                   */
/* ---------------------------------------------------------------------- */

int lbd_op_admin_stats(lbd_ctx_t *ctx)
{
    lbd_t *d = ctx->d;
    store_stats_t st;
    int rc = store_stats(d->store, &st);
    if (rc)
        return rc;
    if ((rc = lbd_result_map(ctx)))
        return rc;
    lb_val_t *r = ctx->result;
    lb_put_int(r, "cases", (int64_t)st.cases, &rc);
    lb_put_int(r, "events", (int64_t)st.events, &rc);
    lb_put_int(r, "db_bytes", (int64_t)st.db_bytes, &rc);
    lb_put_int(r, "map_bytes", (int64_t)st.map_bytes, &rc);
    lb_put_int(r, "timers", (int64_t)st.timers, &rc);
    lb_put_int(r, "idem_records", (int64_t)st.idem, &rc);
    lb_put_int(r, "requests", (int64_t)d->n_requests, &rc);
    lb_put_int(r, "writes", (int64_t)d->n_writes, &rc);
    lb_put_int(r, "reads", (int64_t)d->n_reads, &rc);
    lb_put_int(r, "commits", (int64_t)d->n_commits, &rc);
    lb_put_int(r, "max_batch", (int64_t)d->max_batch, &rc);
    lb_put_int(r, "idem_hits", (int64_t)d->n_idem_hits, &rc);
    lb_put_int(r, "events_published", (int64_t)d->n_events, &rc);
    lb_put_int(r, "escalations_fired", (int64_t)d->n_fired, &rc);
    lb_put_int(r, "errors", (int64_t)d->n_errors, &rc);
    lb_put_int(r, "rate_limited", (int64_t)d->n_rate_limited, &rc);
    lb_put_int(r, "timers_deferred", (int64_t)d->n_timers_deferred, &rc);
    /* where write batches spend their time: executing requests, and committing (fsync) */
    lb_put_int(r, "batch_exec_us", (int64_t)d->us_exec, &rc);
    lb_put_int(r, "batch_commit_us", (int64_t)(d->us_write - d->us_exec), &rc);
    lb_put_int(r, "now", lbd_now(d), &rc);
    lb_put_bool(r, "manual_clock", d->manual_clock, &rc);
    lb_put_int(r, "workflows", (int64_t)wf_set_count(d->wfs), &rc);
    lb_put_int(r, "clients", (int64_t)d->reg.n, &rc);
    /* the reader threads (PROTOCOL.md 8, `readers`) */
    lbd_readers_stats_t rs;
    lbd_readers_stats(d->readers, &rs);
    lb_put_int(r, "reader_threads", (int64_t)rs.threads, &rc);
    lb_put_int(r, "reader_queue", (int64_t)rs.queued, &rc);
    lb_put_int(r, "reader_busy", (int64_t)rs.busy, &rc);
    lb_put_int(r, "reads_pooled", (int64_t)d->n_reads_pooled, &rc);
    /* the durability path: commits, what of them is on disk, and the syncs it took */
    lb_put_int(r, "committed", (int64_t)st.committed, &rc);
    lb_put_int(r, "durable", (int64_t)st.durable, &rc);
    lb_put_int(r, "durable_lag", (int64_t)(st.committed - st.durable), &rc);
    lb_put_int(r, "log_syncs", (int64_t)st.log_syncs, &rc);
    lb_put_int(r, "log_bytes", (int64_t)st.log_bytes, &rc);
    lb_put_int(r, "data_syncs", (int64_t)st.data_syncs, &rc);
    lb_put_int(r, "checkpoints", (int64_t)st.checkpoints, &rc);
    return rc ? LB_ENOMEM : 0;
}

int lbd_op_admin_backup(lbd_ctx_t *ctx)
{
    const char *path = lb_map_str(ctx->req->args, "path");
    uint64_t bytes = 0;
    /* LMDB creates the copy 0666 less the umask: a copy of every household's data must be
     * the daemon's alone, so the umask is 077 while it writes (one thread creates files). */
    mode_t mask = umask(077);
    int rc = store_backup(ctx->d->store, path, &bytes);
    umask(mask);
    if (rc)
        return lbd_fail(ctx, rc == LB_EEXIST ? LB_ECONFLICT : LB_EUNAVAIL, "path",
                        "backup to %s failed: %s", path, lb_strerror(rc));
    lbd_log(LBD_LOG_INFO, "backup written to %s (%llu bytes)", path, (unsigned long long)bytes);
    if ((rc = lbd_result_map(ctx)))
        return rc;
    return lb_map_set_int(ctx->result, "bytes", (int64_t)bytes);
}

int lbd_op_admin_reload(lbd_ctx_t *ctx)
{
    char err[512];
    int rc = lbd_reload(ctx->d, err, sizeof err);
    if (rc == LB_EUNAVAIL) /* swapped in, but cases were left unmoved */
        return lbd_fail(ctx, rc, NULL, "%s", err);
    if (rc)
        return lbd_fail(ctx, LB_EBADREQ, NULL, "reload refused, old definitions kept: %s", err);
    if ((rc = lbd_result_map(ctx)))
        return rc;
    lb_put_int(ctx->result, "workflows", (int64_t)wf_set_count(ctx->d->wfs), &rc);
    lb_put_int(ctx->result, "clients", (int64_t)ctx->d->reg.n, &rc);
    return rc ? LB_ENOMEM : 0;
}

typedef struct {
    uint8_t chain[32];
    uint64_t n, expect, first_bad;
} verify_t;

static int verify_cb(uint64_t seq, const void *body, size_t len, void *arg)
{
    verify_t *v = arg;
    v->n++;
    if (seq != v->expect || proto_event_check(body, len, v->chain, v->chain) != 0) {
        v->first_bad = seq;
        return 1;
    }
    v->expect++;
    return 0;
}

/* {seq, chain, sig}: the store's tip signed with the audit key (9.12); NULL on ENOMEM. */
static lb_val_t *verify_head(lbd_t *d, uint64_t seq, const uint8_t chain[32])
{
    uint8_t sig[64];
    lbd_sign_head(d, seq, chain, sig);
    lb_val_t *h = lb_map();
    int rc = h ? 0 : LB_ENOMEM;
    lb_put_int(h, "seq", (int64_t)seq, &rc);
    lb_put(h, "chain", lb_bin(chain, 32), &rc);
    lb_put(h, "sig", lb_bin(sig, 64), &rc);
    if (rc)
        lb_val_free(&h);
    return h;
}

int lbd_op_admin_verify(lbd_ctx_t *ctx)
{
    verify_t v = {.expect = 1};
    uint64_t tip;
    uint8_t tip_chain[32];
    int rc = store_event_tip(ctx->txn, &tip, tip_chain);
    if (rc == 0)
        rc = store_events(ctx->txn, 0, verify_cb, &v);
    if (rc)
        return rc;
    /* The stored tip must be where the chain ends, or events were cut off the end. */
    if (!v.first_bad && (v.expect != tip + 1 || memcmp(v.chain, tip_chain, 32) != 0))
        v.first_bad = v.expect <= tip ? v.expect : tip;
    if (v.first_bad)
        lbd_log(LBD_LOG_ERROR, "audit chain broken at seq %llu", (unsigned long long)v.first_bad);
    /* The cases against their events, the unreadable ones and the counters: one scan. */
    lbd_verify_t cv = {.unreadable = lb_arr(), .max_unreadable = 100};
    rc = cv.unreadable ? lbd_verify_scan(ctx->d, ctx->txn, &cv) : LB_ENOMEM;
    lb_val_t *unreadable = cv.unreadable;
    const char *bad_case = cv.bad_case, *why = cv.why;
    uint64_t ncases = cv.checked, n_unreadable = cv.n_unreadable;
    int counters_bad = cv.counters_bad;
    const store_count_diff_t cdiff = cv.cdiff;
    if (rc == 0 && bad_case[0])
        lbd_log(LBD_LOG_ERROR, "case %s disagrees with its events: %s", bad_case, why);
    if (counters_bad)
        lbd_log(LBD_LOG_ERROR, "counter %s of scope '%s' is %llu, the cases make %llu", cdiff.name,
                cdiff.scope, (unsigned long long)cdiff.stored, (unsigned long long)cdiff.computed);
    if (rc == 0)
        rc = lbd_result_map(ctx);
    if (rc) {
        lb_val_free(&unreadable);
        return rc;
    }
    lb_put_int(ctx->result, "events", (int64_t)v.n, &rc);
    lb_put_bool(ctx->result, "ok",
                v.first_bad == 0 && !bad_case[0] && n_unreadable == 0 && !counters_bad, &rc);
    if (counters_bad) {
        lb_val_t *bc = lb_map();
        lb_put_str(bc, "scope", cdiff.scope, &rc);
        lb_put_str(bc, "name", cdiff.name, &rc);
        lb_put_int(bc, "stored", (int64_t)cdiff.stored, &rc);
        lb_put_int(bc, "computed", (int64_t)cdiff.computed, &rc);
        lb_put(ctx->result, "bad_counter", bc, &rc);
    }
    lb_put(ctx->result, "unreadable_cases", unreadable, &rc);
    if (v.first_bad)
        lb_put_int(ctx->result, "first_bad_seq", (int64_t)v.first_bad, &rc);
    lb_put_int(ctx->result, "cases", (int64_t)ncases, &rc);
    if (bad_case[0]) {
        lb_put_str(ctx->result, "first_bad_case", bad_case, &rc);
        lb_put_str(ctx->result, "case_problem", why, &rc);
    }
    lb_put(ctx->result, "head", verify_head(ctx->d, tip, tip_chain), &rc);
    return rc ? LB_ENOMEM : 0;
}

int lbd_op_admin_clock(lbd_ctx_t *ctx)
{
    lbd_t *d = ctx->d;
    if (!d->manual_clock)
        return lbd_fail(ctx, LB_EFORBIDDEN, NULL, "the daemon does not run with --clock manual");
    int64_t adv = 0;
    lb_map_int(ctx->req->args, "advance_s", &adv);
    int64_t now = d->manual_now + adv * 1000;
    size_t fired = 0;
    /* The first slice of timers due at the new time fires in this transaction; the loop
     * fires the rest between request batches and holds the reply until none is due. */
    int rc = lbd_fire_due(d, ctx->txn, ctx->pubs, now, LBD_FIRE_SLICE, &fired);
    if (rc)
        return rc;
    d->manual_now = now; /* the batch is re-run from the start if the map grows: see server.c */
    d->n_fired += fired;
    if ((rc = lbd_result_map(ctx)))
        return rc;
    return lb_map_set_int(ctx->result, "now", now);
}
