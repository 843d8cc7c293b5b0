/*
 * server.c - logbookd's loop: group commit, the reader pool's requests, replies
 * held until their writes are durable, timers, heartbeats, signals and reload
 * (start.c sets the process up, zap.c authenticates). The loop thread does all
 * socket work in a fixed order (drain, execute, commit, queue, reply and
 * publish once durable); read-only requests run on reader threads (readers.c)
 * and come back to it. libzmq's own I/O threads start after signals are blocked.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#include "loop.h"

#define HEARTBEAT_MS 1000
#define IDEM_PRUNE_PER_TXN 500 /* per loop turn, while records older than 24 h remain */

volatile sig_atomic_t lbd_stop_flag;
volatile sig_atomic_t lbd_reload_flag;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------------- */
/* one received request                                                    */
/* ---------------------------------------------------------------------- */

void lbd_pending_clear(lbd_pending_t *p)
{
    for (int i = 0; i < p->nframes; i++)
        zmq_msg_close(&p->frames[i]);
    p->nframes = 0;
    proto_req_clear(&p->req);
    lb_buf_free(&p->reply);
}

/* Sends the reply with the envelope the request came with. */
void lbd_send_reply(lbd_t *d, lbd_pending_t *p)
{
    /* The envelope frames go themselves, not copies: a pending is answered once, and what is
     * left of it afterwards (lbd_pending_clear) never reads them. A sent frame is left empty. */
    for (int i = 0; i + 1 < p->nframes; i++)
        if (zmq_msg_send(&p->frames[i], d->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return; /* peer gone: the reply is lost, a retry gets it from the idempotency store */
    zmq_send(d->router, p->reply.p, p->reply.len, ZMQ_DONTWAIT);
    p->answered = true;
}

static bool same_peer(const lbd_pending_t *a, const lbd_pending_t *b)
{
    return zmq_msg_size((zmq_msg_t *)&a->frames[0]) == zmq_msg_size((zmq_msg_t *)&b->frames[0]) &&
           memcmp(zmq_msg_data((zmq_msg_t *)&a->frames[0]),
                  zmq_msg_data((zmq_msg_t *)&b->frames[0]),
                  zmq_msg_size((zmq_msg_t *)&a->frames[0])) == 0;
}

static void encode_error(lbd_pending_t *p, int code, const char *msg, const char *field,
                         const char *case_id)
{
    p->reply.len = 0;
    if (proto_reply_error(p->req.id, code, msg, field, case_id, &p->reply)) {
        p->reply.len = 0;
        proto_reply_error(p->req.id, LB_EINTERNAL, "out of memory", NULL, NULL, &p->reply);
    }
}

/*
 * Moves p's envelope, request and reply into q (uninitialised), fixing the
 * client pointer when it pointed into p; p is left answered and empty.
 */
void lbd_pending_take(lbd_pending_t *q, lbd_pending_t *p)
{
    *q = *p;
    for (int i = 0; i < p->nframes; i++) {
        zmq_msg_init(&q->frames[i]);
        zmq_msg_move(&q->frames[i], &p->frames[i]);
        zmq_msg_close(&p->frames[i]);
    }
    if (p->client == &p->anon)
        q->client = &q->anon;
    else if (p->client == &p->as_client)
        q->client = &q->as_client;
    p->nframes = 0;
    memset(&p->req, 0, sizeof p->req);
    memset(&p->reply, 0, sizeof p->reply);
    p->answered = true;
}

/* Turns a handler's return into the reply bytes; *nerr counts a failure. Any thread. */
void lbd_finish(lbd_pending_t *p, lbd_ctx_t *ctx, int rc, uint64_t *nerr)
{
    p->reply.len = 0;
    if (rc == 0) {
        if (proto_reply_ok(p->req.id, ctx->result, &p->reply) == 0)
            goto out;
        rc = LB_ENOMEM;
    }
    (*nerr)++;
    if (ctx->errmsg[0] == '\0' || rc <= LB_ENOMEM) {
        /* internal codes: log with the request id, tell the client only the class */
        lbd_log(LBD_LOG_ERROR, "request %s (%s): %s%s%s", p->req.id, proto_op_name(p->req.op),
                lb_strerror(rc), ctx->errmsg[0] ? ": " : "", ctx->errmsg);
        if (ctx->errmsg[0] == '\0' || rc <= LB_ENOMEM)
            snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", lb_strerror(rc));
    } else {
        lbd_log(LBD_LOG_DEBUG, "request %s (%s): %s: %s", p->req.id, proto_op_name(p->req.op),
                lb_errcode(rc), ctx->errmsg);
    }
    encode_error(p, rc, ctx->errmsg, ctx->errfield, ctx->errcase);
out:
    lb_val_free(&ctx->result);
}

/* ---------------------------------------------------------------------- */
/* receiving                                                               */
/* ---------------------------------------------------------------------- */

/* Receives one multipart message without blocking. 1 = got one, 0 = none. */
static int recv_one(lbd_t *d, lbd_pending_t *p)
{
    memset(p, 0, sizeof *p);
    p->dup_of = -1;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d->router, p->nframes ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (p->nframes == 0)
                return 0;
            lbd_pending_clear(p); /* a message cut short: drop what arrived of it */
            return -1;
        }
        int more = zmq_msg_more(&m);
        if (p->nframes < LBD_MAX_FRAMES) {
            p->frames[p->nframes++] = m;
        } else {
            zmq_msg_close(&m); /* absurd envelope: the message is dropped below */
            p->nframes = LBD_MAX_FRAMES + 1;
        }
        if (!more)
            break;
    }
    if (p->nframes > LBD_MAX_FRAMES) {
        p->nframes = LBD_MAX_FRAMES;
        lbd_pending_clear(p);
        return -1;
    }
    if (p->nframes < 2) {
        lbd_pending_clear(p); /* no envelope: nothing to answer */
        return -1;
    }
    return 1;
}

/* Who sent it: the ZAP user id is the client's Z85 public key. */
static int identify(lbd_t *d, lbd_pending_t *p)
{
    zmq_msg_t *body = &p->frames[p->nframes - 1];
    if (!d->cfg.curve) {
        /* Without CURVE there is no identity: development mode, everything is admin. */
        memset(&p->anon, 0, sizeof p->anon);
        snprintf(p->anon.name, sizeof p->anon.name, "anonymous");
        p->anon.role = LBD_ROLE_ADMIN;
        static char *all[] = {""};
        p->anon.areas = all;
        p->anon.n_areas = 1;
        p->anon.events = true;
        p->client = &p->anon;
        memset(p->key, 0, 32);
        return 0;
    }
    const char *uid = zmq_msg_gets(body, "User-Id");
    if (!uid || strlen(uid) != 40)
        return -1;
    if (memcmp(uid, d->last_uid, 40) == 0) {
        memcpy(p->key, d->last_uid_key, 32);
    } else {
        if (!zmq_z85_decode(p->key, uid))
            return -1;
        memcpy(d->last_uid, uid, 41);
        memcpy(d->last_uid_key, p->key, 32);
    }
    p->client = lbd_registry_by_key(&d->reg, p->key);
    return p->client ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* executing                                                               */
/* ---------------------------------------------------------------------- */

/*
 * The map can only grow while no read transaction is open: with reader
 * threads, grow it ahead (paused readers) once it is half used, so a write
 * rarely has to grow it itself.
 */
static void ensure_headroom(lbd_t *d)
{
    store_stats_t st;
    if (!d->readers || store_stats(d->store, &st) || st.db_bytes <= st.map_bytes / 2)
        return;
    lbd_readers_pause(d->readers);
    int rc = store_grow(d->store);
    lbd_readers_resume(d->readers);
    if (rc && rc != LB_EMAPFULL)
        lbd_log(LBD_LOG_WARN, "cannot grow the map ahead: %s", lb_strerror(rc));
}

/*
 * store_write / store_write_async (ticket non-NULL) with the reader threads
 * in mind: a write that must grow the map while a reader's transaction is
 * open fails with LB_EINTERNAL, and runs again with the readers paused.
 */
static int write_txn(lbd_t *d, int (*fn)(store_txn_t *txn, void *ctx), void *ctx, uint64_t *ticket)
{
    ensure_headroom(d);
    int rc = ticket ? store_write_async(d->store, fn, ctx, ticket) : store_write(d->store, fn, ctx);
    if (rc == LB_EINTERNAL && d->readers) {
        lbd_readers_pause(d->readers);
        rc = ticket ? store_write_async(d->store, fn, ctx, ticket) : store_write(d->store, fn, ctx);
        lbd_readers_resume(d->readers);
    }
    return rc;
}

typedef struct {
    lbd_t *d;
    lbd_pending_t *batch;
    size_t n;
    lbd_pubs_t pubs;
    int64_t now;
    int64_t clock_before; /* manual clock at batch start: restored when the batch re-runs */
    int64_t exec_end;     /* monotonic us when the requests were done, before the commit */
} batch_t;

/*
 * Whether a failed request's reply is stored for retries: only a request that
 * ran and was turned down by the case's own state (PROTOCOL.md 9.10). What was
 * refused before it ran (bad_request, forbidden, not_found, too_large...)
 * stores nothing, so floods of refused writes cost no disk.
 */
static bool storable_error(int rc)
{
    return rc == LB_ECONFLICT || rc == LB_EINVALID || rc == LB_EGUARD;
}

static int batch_fn(store_txn_t *txn, void *arg)
{
    batch_t *b = arg;
    lbd_t *d = b->d;
    /* Re-runnable from the start: store_write calls this again after growing the map. */
    lbd_pubs_reset(&b->pubs);
    d->manual_now = b->clock_before;
    for (size_t i = 0; i < b->n; i++) {
        lbd_pending_t *p = &b->batch[i];
        if (!p->write || p->dup_of >= 0)
            continue;
        store_txn_t *child;
        int rc = store_nested_begin(txn, &child);
        if (rc)
            return rc;
        lbd_ctx_t ctx = {.d = d,
                         .client = p->client,
                         .req = &p->req,
                         .now = lbd_now(d),
                         .txn = child,
                         .pubs = &b->pubs};
        size_t npubs = b->pubs.n, nbytes = b->pubs.bytes.len;
        rc = lbd_execute(&ctx);
        if (rc == LB_EMAPFULL) {
            store_nested_abort(&child);
            lb_val_free(&ctx.result);
            return rc;
        }
        lbd_finish(p, &ctx, rc, &d->n_errors);
        if (rc == 0) {
            rc = store_idem_put_digest(child, p->key, p->req.id, b->now,
                                       p->has_digest ? p->digest : NULL, p->reply.p, p->reply.len);
            if (rc == 0)
                rc = store_nested_commit(&child);
            else
                store_nested_abort(&child);
            if (rc == LB_EMAPFULL)
                return rc;
            if (rc) {
                b->pubs.n = npubs;
                b->pubs.bytes.len = nbytes;
                lbd_fail(&ctx, rc, NULL, "%s", lb_strerror(rc));
                lbd_finish(p, &ctx, rc, &d->n_errors);
            }
        } else {
            store_nested_abort(&child);
            b->pubs.n = npubs;
            b->pubs.bytes.len = nbytes;
            if (storable_error(rc)) {
                rc = store_idem_put_digest(txn, p->key, p->req.id, b->now,
                                           p->has_digest ? p->digest : NULL, p->reply.p,
                                           p->reply.len);
                if (rc == LB_EMAPFULL)
                    return rc;
            }
        }
    }
    b->exec_end = mono_us();
    return 0;
}

/* Publishes the events a reload's migrations committed (synchronously), before any newer ones. */
static void publish_late(lbd_t *d)
{
    if (d->late_pubs.n)
        lbd_publish_now(d, &d->late_pubs);
    lbd_pubs_reset(&d->late_pubs);
}

/*
 * Commits the batch's writes in one transaction and queues its replies and
 * events for when the commit is durable (the loop goes on meanwhile).
 */
static void run_writes(lbd_t *d, lbd_pending_t *batch, size_t n, size_t nwrites)
{
    publish_late(d);
    batch_t b = {.d = d, .batch = batch, .n = n, .now = lbd_now(d), .clock_before = d->manual_now};
    int64_t t0 = mono_us();
    uint64_t ticket = 0;
    int rc = write_txn(d, batch_fn, &b, &ticket);
    int64_t t1 = mono_us();
    d->us_write += (uint64_t)(t1 - t0);
    d->us_exec += (uint64_t)(b.exec_end - t0);
    d->n_writes += nwrites;
    if (rc == 0) {
        d->n_commits++;
    } else {
        /* LMDB reports a short write on a full disk as EIO: look at the disk to say which. */
        struct statvfs vfs;
        if (rc == LB_EIO && statvfs(d->cfg.data_dir, &vfs) == 0 &&
            (uint64_t)vfs.f_bavail * vfs.f_frsize < 16u << 20)
            rc = LB_EDISKFULL;
        lbd_log(LBD_LOG_ERROR, "batch of %zu writes not committed: %s", nwrites, lb_strerror(rc));
        ticket = store_committed(d->store); /* nothing to wait for but the earlier batches */
        d->manual_now = b.clock_before;
        lbd_pubs_reset(&b.pubs);
        for (size_t i = 0; i < n; i++)
            if (batch[i].write && batch[i].dup_of < 0)
                encode_error(&batch[i], LB_EUNAVAIL,
                             rc == LB_EDISKFULL ? "the disk is full; writes are refused, reads work"
                                                : "the store cannot take writes right now",
                             NULL, NULL);
    }
    if (nwrites > d->max_batch)
        d->max_batch = nwrites;
    for (size_t i = 0; i < n; i++)
        if (batch[i].write && batch[i].dup_of >= 0)
            lb_buf_append(&batch[i].reply, batch[batch[i].dup_of].reply.p,
                          batch[batch[i].dup_of].reply.len);
    for (size_t i = 0; i < n; i++) {
        lbd_pending_t *p = &batch[i];
        if (p->write)
            lbd_queue_write_reply(d, p, ticket, p->req.op == PROTO_OP_ADMIN_CLOCK && rc == 0);
    }
    lbd_queue_pubs(d, &b.pubs, ticket);
    lbd_pubs_free(&b.pubs);
}

/* Answers p once ticket is durable (0: at once): 1 when answered (p is then done with). */
static int answer_after(lbd_t *d, lbd_pending_t *p, int code, const char *msg, uint64_t ticket)
{
    d->n_errors++;
    encode_error(p, code, msg, NULL, NULL);
    lbd_reply_after(d, p, ticket);
    return 1;
}

/* Answers p at once: 1 when answered (p is then done with), 0 to go on. */
static int answer_now(lbd_t *d, lbd_pending_t *p, int code, const char *msg)
{
    return answer_after(d, p, code, msg, 0);
}

/*
 * The per-key token bucket, before any decoding: an empty bucket is answered
 * rate_limited (only the envelope is decoded, for the id the reply echoes)
 * and stored nowhere. 1 when refused and answered.
 */
static int rate_limited(lbd_t *d, lbd_pending_t *p, const char *as)
{
    bool full = false;
    uint8_t bucket[32];
    /* A gateway key carries many people: its buckets are per person (as), taken after the
     * envelope names the person, so one person's flood does not stop the others. */
    if (p->client->role == LBD_ROLE_GATEWAY && !as)
        return 0;
    memcpy(bucket, p->key, 32);
    if (as)
        crypto_generichash(bucket, sizeof bucket, (const uint8_t *)as, strlen(as), p->key, 32);
    if (!d->rl || lbd_rl_take(d->rl, bucket, lbd_mono_ms(), &full)) {
        if (full)
            lbd_log(LBD_LOG_WARN, "rate limiter full: a key is served without a bucket");
        return 0;
    }
    d->n_rate_limited++;
    zmq_msg_t *body = &p->frames[p->nframes - 1];
    if (!as) /* with as, the request is decoded already */
        proto_decode_envelope(zmq_msg_data(body), zmq_msg_size(body), &proto_default_limits,
                              &p->req, &p->perr);
    return answer_now(d, p, LB_ERATELIMIT, "too many requests (limits.rate_per_key); retry later");
}

/* FNV-1a over a client key and a request id: equal for the same pair, rarely for two others. */
static uint64_t id_hash(const uint8_t key[32], const char *id)
{
    uint64_t h = 14695981039346656037u;
    for (int i = 0; i < 32; i++)
        h = (h ^ key[i]) * 1099511628211u;
    for (const unsigned char *c = (const unsigned char *)id; *c; c++)
        h = (h ^ *c) * 1099511628211u;
    return h;
}

/*
 * Request ids already used by this key (PROTOCOL.md 9.10): a write answered
 * before gets its stored reply; a copy of a write earlier in this batch is
 * marked dup_of; the id reused for a different op or args, in the store or
 * in this batch, is `conflict`. 1 when p was answered, 0 to run it.
 */
static int known_id(lbd_t *d, lbd_pending_t *p, lbd_pending_t *batch, size_t n, lbd_snap_t *snap,
                    int64_t now)
{
    static const char reused[] = "request id reused for a different request";
    bool write = lbd_op_writes(p->req.op);
    if (write)
        p->has_digest = lbd_req_digest(&p->req, &d->digest_buf, p->digest) == 0;
    p->id_hash = id_hash(p->key, p->req.id);
    for (size_t i = 0; i < n; i++) {
        lbd_pending_t *q = &batch[i];
        /* Usually one key sends a whole batch: the hash, not the key, tells its requests apart. */
        if (!q->write || q->dup_of >= 0 || q->id_hash != p->id_hash ||
            memcmp(q->key, p->key, 32) != 0 || strcmp(q->req.id, p->req.id) != 0)
            continue;
        if (write && p->has_digest && q->has_digest && memcmp(q->digest, p->digest, 32) == 0) {
            p->dup_of = (int)i;
            d->n_idem_hits++;
            return 0;
        }
        return answer_now(d, p, LB_ECONFLICT, reused);
    }
    store_idem_rec_t rec;
    if (lbd_snap_begin(d, snap) ||
        store_idem_find(snap->txn, p->key, p->req.id, now - LBD_IDEM_TTL_MS, &rec))
        return 0;
    /* A record without digest (from before digests) answered a write we cannot tell apart. */
    if (rec.has_digest && (!write || !p->has_digest || memcmp(rec.digest, p->digest, 32) != 0))
        return answer_after(d, p, LB_ECONFLICT, reused, snap->committed);
    if (!write)
        return 0;
    d->n_idem_hits++;
    lb_buf_append(&p->reply, rec.reply, rec.len);
    lbd_reply_after(d, p, snap->committed); /* stored by a batch that may not be durable yet */
    return 1;
}

int lbd_batch_alloc(lbd_t *d)
{
    d->batch = calloc((size_t)d->cfg.batch_max, sizeof(lbd_pending_t));
    return d->batch ? 0 : LB_ENOMEM;
}

/* Drains up to batch_max requests and answers them all. */
static void serve_batch(lbd_t *d)
{
    size_t max = (size_t)d->cfg.batch_max;
    lbd_pending_t *batch = d->batch; /* allocated once: a batch is drained often, at high rates */
    size_t n = 0, nwrites = 0;
    lbd_snap_t snap = {0};
    int64_t now = lbd_now(d);
    while (n < max) {
        lbd_pending_t *p = &batch[n];
        int got = recv_one(d, p);
        if (got == 0)
            break;
        if (got < 0)
            continue;
        d->n_requests++;
        if (identify(d, p)) {
            /* A key removed from the registry since it connected: refused, answered. */
            snprintf(p->req.id, sizeof p->req.id, "%s", "");
            encode_error(p, LB_EFORBIDDEN, "this client key is not registered", NULL, NULL);
            lbd_send_reply(d, p);
            lbd_pending_clear(p);
            continue;
        }
        zmq_msg_t *body = &p->frames[p->nframes - 1];
        if (rate_limited(d, p, NULL)) {
            lbd_pending_clear(p);
            continue;
        }
        p->decode_rc =
            lbd_request_decode(zmq_msg_data(body), zmq_msg_size(body), &p->req, &p->perr);
        if (p->decode_rc == 0 && p->client->role == LBD_ROLE_GATEWAY && p->req.as[0] &&
            rate_limited(d, p, p->req.as)) {
            lbd_pending_clear(p);
            continue;
        }
        if (p->decode_rc == 0)
            p->decode_rc =
                lbd_act_as(&d->users, p->client, p->req.as, &p->as_client, &p->client, &p->perr);
        if (p->decode_rc) {
            d->n_errors++;
            lbd_log(LBD_LOG_DEBUG, "request '%s' refused: %s", p->req.id, p->perr.message);
            encode_error(p, p->decode_rc, p->perr.message, p->perr.field, NULL);
            lbd_send_reply(d, p);
            lbd_pending_clear(p);
            continue;
        }
        if (known_id(d, p, batch, n, &snap, now)) {
            lbd_pending_clear(p);
            continue;
        }
        if (!lbd_op_writes(p->req.op)) {
            /* A read waits for the commit only when its sender has a write in this batch. */
            bool after_write = false;
            for (size_t i = 0; i < n && !after_write; i++)
                after_write = batch[i].write && same_peer(&batch[i], p);
            if (!after_write) {
                lbd_dispatch_read(d, p, &snap);
                lbd_pending_clear(p);
                continue;
            }
            n++;
            continue;
        }
        p->write = true;
        if (p->dup_of < 0)
            nwrites++;
        n++;
    }
    store_read_end(&snap.txn);
    if (nwrites)
        run_writes(d, batch, n, nwrites);
    /* Reads that had to wait for their sender's writes (committed now: a new snapshot). */
    for (size_t i = 0; i < n; i++) {
        if (!batch[i].write && !batch[i].answered)
            lbd_dispatch_read(d, &batch[i], &snap);
        lbd_pending_clear(&batch[i]);
    }
    store_read_end(&snap.txn);
    publish_late(d);
    if (d->n_retired)
        lbd_readers_quiesce(d->readers); /* pooled reads of this batch may hold old clients */
    lbd_retired_free(d);                 /* no request of this batch points into them any more */
}

/* ---------------------------------------------------------------------- */
/* timers, heartbeat, housekeeping                                         */
/* ---------------------------------------------------------------------- */

typedef struct {
    lbd_t *d;
    lbd_pubs_t pubs;
    int64_t now;
    size_t fired;
} fire_t;

static int fire_fn(store_txn_t *txn, void *arg)
{
    fire_t *f = arg;
    lbd_pubs_reset(&f->pubs);
    return lbd_fire_due(f->d, txn, &f->pubs, f->now, LBD_FIRE_SLICE, &f->fired);
}

/* The first timer's due time, INT64_MAX when none; on a store error, now + a heartbeat. */
static int64_t first_due(lbd_t *d, int64_t now)
{
    store_txn_t *r;
    if (store_read_begin(d->store, &r))
        return now + HEARTBEAT_MS;
    int64_t due = INT64_MAX;
    uint64_t id;
    uint32_t step;
    int rc = store_timer_first(r, &due, &id, &step);
    store_read_end(&r);
    return rc ? INT64_MAX : due;
}

/*
 * Fires one slice of due timers (LBD_FIRE_SLICE cases in one transaction)
 * and returns the next due time: at most now while more are due, so the
 * loop serves a request batch and a heartbeat before the next slice and a
 * storm of escalations never holds the loop for long; nothing due is
 * skipped. When none is due any more, held admin.clock replies go out.
 */
static int64_t fire_timers(lbd_t *d)
{
    int64_t now = lbd_now(d), due = first_due(d, now);
    if (due <= now) {
        fire_t f = {.d = d, .now = now};
        int rc = write_txn(d, fire_fn, &f, NULL);
        if (rc) {
            lbd_log(LBD_LOG_ERROR, "escalation timers not fired: %s", lb_strerror(rc));
            lbd_pubs_free(&f.pubs);
            lbd_release_held(d); /* the clock moved; its timers fire on a later try */
            return now + HEARTBEAT_MS;
        }
        d->n_commits++;
        d->n_fired += f.fired;
        lbd_publish_now(d, &f.pubs);
        lbd_pubs_free(&f.pubs);
        if (f.fired)
            lbd_log(LBD_LOG_DEBUG, "%zu escalation steps fired", f.fired);
        due = first_due(d, now);
    }
    if (due > now)
        lbd_release_held(d);
    return due;
}

/* {seq, at, chain, sig}: the signed head (PROTOCOL.md 9.12), recorded in the tip file first. */
static void heartbeat(lbd_t *d)
{
    uint64_t seq = d->last_seq;
    uint8_t chain[32], sig[64];
    store_txn_t *r;
    /* Only a durable head is signed: wait for the log (the loop is the only writer, so no
     * commit comes between this and the tip read), and publish its events first. */
    uint64_t committed = store_committed(d->store);
    if (store_durable(d->store) < committed && store_wait_durable(d->store, committed))
        return; /* the log failed: lbd_run stops */
    lbd_release_durable(d);
    if (store_read_begin(d->store, &r))
        return;
    int rc = store_event_tip(r, &seq, chain);
    store_read_end(&r);
    if (rc || lbd_audit_record(d->audit, seq, chain))
        return;
    lbd_sign_head(d, seq, chain, sig);
    lb_val_t *hb = lb_map();
    lb_buf_t b = {0};
    lb_rc(&rc, hb ? 0 : LB_ENOMEM);
    lb_put_int(hb, "seq", (int64_t)seq, &rc);
    lb_put_int(hb, "at", lbd_now(d), &rc);
    lb_put(hb, "chain", lb_bin(chain, 32), &rc);
    lb_put(hb, "sig", lb_bin(sig, 64), &rc);
    if (rc == 0 && proto_pack(hb, &b) == 0) {
        zmq_send(d->pub, "hb", 2, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(d->pub, b.p, b.len, ZMQ_DONTWAIT);
    }
    lb_val_free(&hb);
    lb_buf_free(&b);
}

typedef struct {
    int64_t before;
    size_t removed;
} prune_t;

static int prune_fn(store_txn_t *txn, void *arg)
{
    prune_t *p = arg;
    return store_idem_prune(txn, p->before, IDEM_PRUNE_PER_TXN, &p->removed);
}

/*
 * Prunes one bounded slice of records older than 24 h, every loop turn; a
 * read of the oldest record's time first, so a turn with nothing due costs
 * no write. true when a full slice went (more may be due: poll without
 * waiting).
 */
static bool prune_idem(lbd_t *d)
{
    prune_t p = {.before = lbd_now(d) - LBD_IDEM_TTL_MS};
    store_txn_t *r;
    int64_t oldest = INT64_MAX;
    if (store_read_begin(d->store, &r))
        return false;
    int rc = store_idem_oldest(r, &oldest);
    store_read_end(&r);
    if (rc || oldest >= p.before)
        return false;
    uint64_t ticket; /* nobody is told of a prune: it need not wait for the log */
    if (write_txn(d, prune_fn, &p, &ticket) != 0)
        return false;
    lbd_log(LBD_LOG_DEBUG, "%zu idempotency records pruned", p.removed);
    return p.removed == IDEM_PRUNE_PER_TXN;
}

/* systemd's readiness protocol without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void sd_notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= 108)
        return;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
    close(fd);
}

static void handle_signals(lbd_t *d)
{
    struct signalfd_siginfo si;
    while (read(d->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP)
            lbd_reload_flag = 1;
        else
            lbd_stop_flag = 1;
    }
}

/* Clears the store's durability eventfd (8 bytes: an eventfd counter). */
static void clear_fd(int fd)
{
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v); /* EAGAIN: it was cleared already */
    (void)n;
}

/*
 * Before a stop: the pool's reads finish and are answered, and the log is
 * synced so every queued reply and event goes out. LB_EIO when the log failed.
 */
static int drain(lbd_t *d)
{
    lbd_readers_quiesce(d->readers);
    lbd_take_done(d);
    uint64_t committed = store_committed(d->store);
    if (store_durable(d->store) < committed && store_wait_durable(d->store, committed))
        return LB_EIO;
    lbd_release_durable(d);
    return store_log_failed(d->store) ? LB_EIO : 0;
}

int lbd_run(lbd_t *d)
{
    lbd_log(LBD_LOG_INFO,
            "logbookd %s serving %s (events %s), %zu workflows, %zu clients, "
            "last seq %llu%s, %lld reader threads",
            LBD_VERSION, d->cfg.req_endpoints[0], d->cfg.ev_endpoints[0], wf_set_count(d->wfs),
            d->reg.n, (unsigned long long)d->last_seq, d->manual_clock ? ", manual clock" : "",
            (long long)d->cfg.readers);
    /* Steps that fell due while the daemon was down fire now, before serving. */
    int64_t next_due;
    while ((next_due = fire_timers(d)) <= lbd_now(d) && !lbd_stop_flag)
        ;
    sd_notify("READY=1");
    int64_t next_hb = lbd_mono_ms();
    int status = 0;
    int dfd = store_durable_fd(d->store), rfd = lbd_readers_fd(d->readers);
    while (!lbd_stop_flag) {
        int64_t now_m = lbd_mono_ms();
        if (now_m >= next_hb) {
            heartbeat(d);
            next_hb = now_m + HEARTBEAT_MS;
        }
        if (store_log_failed(d->store))
            break;
        bool more_prune = prune_idem(d);
        int64_t wait = more_prune ? 0 : next_hb - now_m;
        if (d->cfg.users[0] && wait > LBD_USERS_POLL_MS)
            wait = LBD_USERS_POLL_MS; /* the users file is watched by polling */
        int64_t until_due = next_due == INT64_MAX ? INT64_MAX : next_due - lbd_now(d);
        if (until_due <= 0)
            wait = 0; /* a slice of due timers is left: poll, serve, and come back to it */
        else if (!d->manual_clock && until_due < wait)
            wait = until_due;
        if (dfd < 0 && !lbd_outbox_empty(d))
            wait = 0; /* no descriptor tells when the log is synced: look again at once */
        /* With too many replies waiting for the log, requests wait in their queue. */
        bool full = lbd_outbox_full(d);
        zmq_pollitem_t items[6] = {
            {d->router, 0, full ? 0 : ZMQ_POLLIN, 0},
            {NULL, d->sigfd, ZMQ_POLLIN, 0},
            {d->pub, 0, ZMQ_POLLIN, 0}, /* subscriptions (events.c) */
            {d->zap, 0, ZMQ_POLLIN, 0},
        };
        int nitems = d->zap ? 4 : 3, idur = -1, iread = -1;
        if (dfd >= 0) {
            idur = nitems;
            items[nitems++] = (zmq_pollitem_t){NULL, dfd, ZMQ_POLLIN, 0};
        }
        if (rfd >= 0) {
            iread = nitems;
            items[nitems++] = (zmq_pollitem_t){NULL, rfd, ZMQ_POLLIN, 0};
        }
        if (zmq_poll(items, nitems, (long)wait) < 0 && zmq_errno() != EINTR) {
            lbd_log(LBD_LOG_ERROR, "zmq_poll: %s", zmq_strerror(zmq_errno()));
            status = LB_EIO; /* a failure, not a clean stop: let the supervisor restart us */
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            handle_signals(d);
        if (d->zap && (items[3].revents & ZMQ_POLLIN))
            lbd_zap_handle(d);
        if (items[2].revents & ZMQ_POLLIN)
            lbd_events_handle(d);
        if (idur >= 0 && (items[idur].revents & ZMQ_POLLIN))
            clear_fd(dfd);
        if (store_log_failed(d->store))
            break;
        if (dfd < 0 && !lbd_outbox_empty(d))
            lbd_wait_durable(d, store_committed(d->store));
        lbd_release_durable(d);
        if (iread >= 0 && (items[iread].revents & ZMQ_POLLIN))
            lbd_take_done(d);
        if (lbd_reload_flag) {
            lbd_reload_flag = 0;
            char err[512];
            lbd_readers_quiesce(d->readers); /* no reader may hold what the reload frees */
            lbd_reload(d, err, sizeof err);
            publish_late(d);
        }
        lbd_users_poll(&d->users, d->cfg.users, lbd_mono_ms());
        if (!full && (items[0].revents & ZMQ_POLLIN)) {
            serve_batch(d);
            next_due = 0; /* a write may have set an earlier timer */
        }
        if (d->ev_rebind) /* a reload (SIGHUP or admin.reload) revoked or changed events */
            lbd_events_rebind(d);
        if (lbd_outbox_to_held(d))
            next_due = 0; /* an admin.clock reply waits for its timers: see to them */
        if (next_due <= lbd_now(d) || next_due == 0)
            next_due = fire_timers(d);
    }
    if (store_log_failed(d->store) || drain(d)) {
        /* What was not durable may be lost: nobody was told of it. The store recovers from
         * its log on the next start; the supervisor restarts us. */
        lbd_log(LBD_LOG_ERROR, "the write-ahead log cannot be written or synced: stopping");
        sd_notify("STOPPING=1");
        return LB_EIO;
    }
    lbd_log(LBD_LOG_INFO,
            "shutting down (last seq %llu): %llu requests, %llu writes in %llu commits, "
            "%.1f s executing and %.1f s committing write batches, %llu reads pooled",
            (unsigned long long)d->last_seq, (unsigned long long)d->n_requests,
            (unsigned long long)d->n_writes, (unsigned long long)d->n_commits,
            (double)d->us_exec / 1e6, (double)(d->us_write - d->us_exec) / 1e6,
            (unsigned long long)d->n_reads_pooled);
    heartbeat(d); /* records the last head: a store cut below it refuses to start */
    sd_notify("STOPPING=1");
    return status;
}

void lbd_destroy(lbd_t **dp)
{
    lbd_t *d = dp ? *dp : NULL;
    if (!d)
        return;
    /* Fixed order: reader threads (they use the store), queued replies, sockets, then the
     * context (joins libzmq's threads), then the store. */
    lbd_readers_destroy(&d->readers, lbd_read_job_free);
    lbd_outbox_free(d);
    lbd_free_held(d);
    if (d->router)
        zmq_close(d->router);
    if (d->pub)
        zmq_close(d->pub);
    if (d->zap)
        zmq_close(d->zap);
    lbd_events_close(d);
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    lbd_fdmon_join(&d->fdmon);
    store_close(&d->store);
    if (d->sigfd >= 0)
        close(d->sigfd);
    wf_set_destroy(&d->wfs);
    wf_catalog_destroy(&d->cat);
    wf_calendar_destroy(&d->cal);
    wf_areas_destroy(&d->areas);
    lbd_registry_clear(&d->reg);
    lbd_retired_free(d);
    lbd_users_free(&d->users);
    lbd_keys_clear(&d->keys);
    lbd_audit_destroy(&d->audit);
    pthread_mutex_destroy(&d->audit_mu);
    lbd_config_clear(&d->cfg);
    free(d->batch);
    lbd_rl_destroy(&d->rl);
    lbd_pubs_free(&d->late_pubs);
    lb_buf_free(&d->digest_buf);
    free(d);
    *dp = NULL;
}
