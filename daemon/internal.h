/*
 * internal.h - what the loop (server.c) and the operation handlers (case_io.c,
 * ops_*.c, optable.c, bulk.c) share: the daemon's state and one request's
 * context. Not a public header. Calls run one way: server.c -> optable.c ->
 * ops_*.c -> case_io.c -> state.c; the handlers never call into server.c.
 * One back edge is intended and is data, not a call: admin.clock moves
 * d->manual_now inside a write batch, and server.c restores it when
 * store_write re-runs or fails the batch. Everything here is for the daemon's
 * loop thread, except what the reader threads (readers.h) use while they run
 * a read: the definitions, registry, users, areas, calendar, keys and store
 * (the loop quiesces the pool before it swaps or frees any of them) and
 * lbd_now (manual_now is atomic).
 */
#ifndef LBD_INTERNAL_H
#define LBD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "daemon.h"
#include "ratelimit.h"
#include "readers.h"
#include "users.h"

#define LBD_VERSION "0.1.0"
#define LBD_IDEM_TTL_MS (24LL * 3600 * 1000)
#define LBD_FUTURE_SLACK_MS (5LL * 60 * 1000)
#define LBD_PAST_SLACK_MS (365LL * 24 * 3600 * 1000)
/* Cases whose due timers fire in one transaction: one slice per loop turn (server.c). */
#define LBD_FIRE_SLICE 1000

/* One event ready to publish after commit. */
typedef struct {
    char topic[48];
    size_t off, len; /* bytes in the batch's event buffer */
    uint64_t seq;
} lbd_pub_t;

typedef struct {
    lbd_pub_t *v;
    size_t n, cap;
    lb_buf_t bytes;
} lbd_pubs_t;

typedef struct lbd_audit lbd_audit_t; /* audit.c */

struct lbd {
    lbd_opts_t opts;
    lbd_config_t cfg;
    lbd_keys_t keys;
    lbd_registry_t reg;
    /* Registries an admin.reload replaced during the batch in hand: its requests still
     * point at their clients, so they are freed when the batch ends (lbd_retired_free). */
    lbd_registry_t *retired;
    size_t n_retired;
    lbd_users_t users; /* the people gateway keys act for (users.c) */
    wf_set_t *wfs;
    wf_catalog_t *cat;
    wf_calendar_t *cal; /* the holidays file (calendar.c); NULL = none: Monday to Friday */
    wf_areas_t *areas;  /* the gazetteer; NULL without one (cfg.areas "") */
    store_t *store;
    lbd_audit_t *audit; /* the audit key and the signed tip file */
    /* lbd_audit_sign caches the last head it signed: the loop's heartbeat and admin.verify on
     * a reader thread sign under this lock (lbd_sign_head). */
    pthread_mutex_t audit_mu;

    void *zctx;
    void *router;
    void *pub;
    void *zap;
    int sigfd;
    lbd_fdmon_t *fdmon; /* logs accepts that fail for want of descriptors */
    void *ev_mon;       /* PAIR receiving the events socket's monitor (listeners closed) */
    char **ev_bound;    /* the events endpoints as bound (cfg.n_ev), for a re-bind */
    bool ev_rebind;     /* a reload changed who may receive which events: re-bind (events.c) */

    void *batch;  /* pending_t[batch_max] of server.c, reused by every batch */
    void *held;   /* admin.clock replies waiting for the timers they made due (server.c) */
    void *outbox; /* replies and events waiting for their writes to be durable */
    lbd_readers_t *readers;  /* the reader threads; NULL with `readers: 0` */
    uint64_t n_reads_pooled; /* reads run on a reader thread */

    bool manual_clock;
    _Atomic int64_t manual_now; /* written by the loop, read by lbd_now on any thread */
    int64_t started_ms;         /* monotonic start, for uptime */
    uint64_t last_seq;          /* tip after the last commit */

    /* counters for admin.stats */
    uint64_t n_requests, n_writes, n_reads, n_commits, n_idem_hits, n_events, n_fired;
    uint64_t max_batch, n_errors;
    uint64_t n_timers_deferred; /* timers of unreadable cases pushed back (ops_write.c) */
    uint64_t n_rate_limited;    /* requests refused by the per-key token bucket */
    lbd_rl_t *rl;               /* the token bucket; NULL without CURVE (no keys to tell apart) */
    lbd_pubs_t late_pubs;       /* events committed outside a batch (reload migrations) */
    uint64_t us_exec, us_write; /* time running write batches, and that plus their commits */
    lb_buf_t digest_buf;        /* loop thread: lbd_req_digest's scratch, reused per request */
    char last_uid[41];          /* loop thread: the last ZAP User-Id decoded (Z85), "" at first */
    uint8_t last_uid_key[32];   /* and the key it decodes to: one connection sends many requests */
};

/* One request being answered. */
typedef struct {
    lbd_t *d;
    const lbd_client_t *client;
    proto_req_t *req;
    int64_t now;
    store_txn_t *txn; /* read snapshot or the request's nested write txn */
    lbd_pubs_t *pubs; /* where events go (write requests) */
    lb_val_t *result; /* set by a successful handler */
    /* error detail, set by a failing handler */
    char errmsg[256];
    char errfield[64];
    char errcase[LB_CASE_ID_MAX];
} lbd_ctx_t;

/* ---- state (state.c) ---- */

/* The daemon's clock in unix ms: d->manual_now on the manual clock, else the real one. Any thread.
 */
int64_t lbd_now(const lbd_t *d);
/* CLOCK_REALTIME and CLOCK_MONOTONIC in ms. Never fail. */
int64_t lbd_real_ms(void);
int64_t lbd_mono_ms(void);

/*
 * Loads the catalog and workflows cfg names and checks default_workflow is
 * among them. 0 with *wfs and *cat the caller's (wf_set_destroy,
 * wf_catalog_destroy); LB_ECONFIG (reason in err) or LB_ENOMEM with both
 * NULL.
 */
int lbd_load_definitions(const lbd_config_t *cfg, wf_set_t **wfs, wf_catalog_t **cat, char *err,
                         size_t errlen);

/*
 * Loads the holidays file cfg names (calendar.c): 0 with *cal the caller's
 * (wf_calendar_destroy), NULL when the key is "" (no holidays); logs a
 * warning when the file does not cover the year of now (or the next one
 * within 60 days). LB_ECONFIG with file:line:column in err; LB_ENOMEM.
 */
int lbd_calendar_load(const lbd_config_t *cfg, int64_t now, wf_calendar_t **cal, char *err,
                      size_t errlen);

/*
 * Reloads workflows, catalog, holidays, gazetteer and registry. 0 when swapped in: every wf_def_t,
 * lbd_client_t and catalog pointer taken from d before is then dangling, so
 * call it only between requests (the loop, or admin.reload, whose request
 * holds no such pointer after it). LB_ECONFIG/LB_ENOMEM with the reason in
 * err (and logged): the old definitions stay; also when open cases are in a
 * state the new definitions lack and their `migrate` does not map
 * (lbd_reload_check). The mapped cases move after the swap; LB_EUNAVAIL when
 * that failed part way (the new definitions are in, err says what is left).
 */
int lbd_reload(lbd_t *d, char *err, size_t errlen);

/* ---- the gazetteer (areas.c, PROTOCOL.md 9.16) ---- */

/*
 * Loads cfg->areas: 0 with *out the caller's (wf_areas_destroy), or with
 * *out NULL when cfg names no gazetteer; wf_areas_load's errors otherwise
 * (LB_ECONFIG with "file:line: reason" in err, LB_ENOMEM), *out NULL.
 */
int lbd_areas_load(const lbd_config_t *cfg, wf_areas_t **out, char *err, size_t errlen);
/*
 * Sets `area_name` and `area_name_en` in map m to the names of code
 * (wf_areas_label: a village is its subdistrict's name and number), or
 * removes both when areas is NULL or does not name code, so a map reused
 * for another area keeps no stale name. The names are copied. 0 or LB_ENOMEM.
 */
int lbd_areas_put(const wf_areas_t *areas, lb_val_t *m, const char *code);

/* ---- the events socket (events.c) ---- */

/*
 * Makes d->pub (an XPUB socket, options set) a manual-mode publisher, starts
 * its monitor and binds cfg's events endpoints. 0; LB_EIO (an option, the
 * monitor), LB_ECONFIG (a bind; reason in err), LB_ENOMEM. What was made is
 * freed by lbd_events_close.
 */
int lbd_events_bind(lbd_t *d, char *err, size_t errlen);
/*
 * Takes the subscription messages waiting on d->pub and subscribes each peer
 * to the part of its request inside its key's areas (every topic for a
 * national key, `hb` for every admitted key, nothing for a key not allowed
 * events). Unsubscriptions are not applied. Never fails (a refused option is
 * logged).
 */
void lbd_events_handle(lbd_t *d);
/*
 * Unbinds every events endpoint, which closes every subscriber's connection,
 * waits (at most a second) until the listeners are closed and binds them
 * again; subscribers reconnect through the ZAP handler. Clears d->ev_rebind.
 * 0, or LB_EIO when an endpoint could not be bound again (logged).
 */
int lbd_events_rebind(lbd_t *d);
/* true when a key allowed events in old lost them, or its role or areas changed, in now. */
bool lbd_events_scopes_changed(const lbd_registry_t *old, const lbd_registry_t *now);
/* Closes the monitor and frees the bound endpoints; before zmq_ctx_term. Safe twice. */
void lbd_events_close(lbd_t *d);

/*
 * Starts cfg.readers reader threads (none for 0) and hooks the users file's swaps to quiesce
 * them (server.c). Call after signals are blocked. 0; lbd_readers_new's codes.
 */
int lbd_readers_start(lbd_t *d);

/* Answers the ZAP requests waiting on d->zap (zap.c): admits registered CURVE keys. */
void lbd_zap_handle(lbd_t *d);

/* Allocates the loop's batch of pending requests (server.c owns its type): 0 or LB_ENOMEM. */
int lbd_batch_alloc(lbd_t *d);

/* Frees the registries retired by reloads since the last call. Between batches only. */
void lbd_retired_free(lbd_t *d);

/* ---- lists of case ids (case_io.c) ---- */

/* A growable list of case ids; zero-initialise. */
typedef struct {
    uint64_t *v;
    size_t n, cap;
} lbd_ids_t;

/* Frees the ids and zeroes v; safe on a zeroed v. */
void lbd_ids_free(lbd_ids_t *v);
/* Appends id: 0, or LB_ENOMEM (v unchanged). */
int lbd_ids_push(lbd_ids_t *v, uint64_t id);
/* A store_list callback that appends every id to the lbd_ids_t arg: 0 or LB_ENOMEM. */
int lbd_ids_collect(uint64_t id, const char *area, const char *state, const void *summary,
                    size_t slen, void *arg);

/* ---- reloads that never strand a case (reload.c, called by lbd_reload) ---- */
/*
 * Before new_set replaces d->wfs: counts, per workflow and old version, the
 * open cases in the states new_set lacks (wf_set_vanished). 0 with the ids of
 * the cases new_set's migrate maps appended to *move (the caller frees it);
 * LB_ECONFIG when a state with open cases is not mapped (err: "N open cases
 * are in state S, which workflow W version V no longer has; map it with
 * migrate: {S: NEW}"); LB_ENOMEM or a store code (err says so).
 */
int lbd_reload_check(lbd_t *d, const wf_set_t *new_set, lbd_ids_t *move, char *err, size_t errlen);
/*
 * After the swap: moves the cases of ids into their mapped states, at most
 * 256 a transaction, each with an event {type: migrated, from, to, data:
 * {from_version, version}} queued on d->late_pubs for the loop to publish.
 * *moved = cases moved. 0, or LB_EUNAVAIL when a transaction failed (err
 * says how many cases were left; the committed ones stay moved).
 */
int lbd_reload_migrate(lbd_t *d, const lbd_ids_t *ids, size_t *moved, char *err, size_t errlen);

/* ---- admin.verify's scan of the cases (verify.c) ---- */

typedef struct {
    uint64_t checked; /* cases compared with their events, the first bad one included */
    char bad_case[LB_CASE_ID_MAX]; /* the first case that disagrees with its events, or "" */
    char why[200];                 /* how it disagrees */
    lb_val_t *unreadable;          /* the caller's array: ids (strings) of unreadable cases */
    size_t max_unreadable;         /* at most this many are listed */
    uint64_t n_unreadable;         /* how many there are */
    bool counters_bad;             /* a report counter differs (judged only when all read) */
    store_count_diff_t cdiff;      /* the first that differs, when counters_bad */
} lbd_verify_t;
/*
 * One walk over every stored case, each read and decoded once, for the three
 * checks of admin.verify: the case against its events (lbd_verify_cases), the
 * cases that do not decode (logged and listed), and the maintained counters
 * recomputed from the cases (every scope to 8 digits). Fills *v (set
 * unreadable and max_unreadable first). 0; LB_ENOMEM or a store code. Only
 * reads txn: any thread.
 */
int lbd_verify_scan(const lbd_t *d, store_txn_t *txn, lbd_verify_t *v);

/* ---- requests ---- */

/*
 * The digest a request id is bound to (reqid.c): BLAKE2b-256 over the op
 * name (with its NUL) and proto_pack of the args, packed into scratch
 * (emptied first, kept allocated for the next call; the caller frees it).
 * 0; LB_ENOMEM; LB_EINTERNAL (a request that did not decode).
 */
int lbd_req_digest(const proto_req_t *req, lb_buf_t *scratch, uint8_t out[32]);

/*
 * Fails a request: sets ctx's message (printf style, truncated at 255 bytes)
 * and field (NULL: none) and returns code, so handlers `return lbd_fail(...)`.
 */
int lbd_fail(lbd_ctx_t *ctx, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- the op table (optable.c) ---- */

typedef enum { LBD_OP_READ = 0, LBD_OP_WRITE } lbd_op_kind_t;

/* One row per op: everything the daemon knows about it. */
typedef struct {
    proto_op_t op;                /* the row's own op: rows follow proto_op_t's order */
    const proto_schema_t *schema; /* its arguments (proto's object, shared with clients) */
    int (*fn)(lbd_ctx_t *ctx);    /* the handler */
    unsigned roles;               /* bit (1 << lbd_role_t) set for each role that may run it */
    lbd_op_kind_t kind;           /* LBD_OP_WRITE: runs in the group-commit batch */
    /* A read that may run on a reader thread: it reads only its txn, ctx and what the loop
     * swaps only with the pool quiesced (definitions, registry, keys, areas), never loop
     * state (counters, sockets, the rate limiter) and writes nothing outside ctx. */
    bool pooled;
    bool events_stream; /* also needs a client allowed on the events stream */
} lbd_op_t;

/* The row of op, or NULL when op is out of range. Static storage. */
const lbd_op_t *lbd_op_get(proto_op_t op);
/* true when op's row is LBD_OP_WRITE; false for an out-of-range op. */
bool lbd_op_writes(proto_op_t op);
/* true when op's row may run on a reader thread (lbd_op_t.pooled); false out of range. */
bool lbd_op_pooled(proto_op_t op);
/*
 * Checks every row (in place, has a handler, proto's schema, some role, the
 * same kind as proto_op_writes). 0, or LB_EINTERNAL with the row named in
 * err. lbd_new refuses to start on a failure.
 */
int lbd_optable_check(char *err, size_t errlen);
/*
 * Decodes a request body: proto's envelope, then the args against the op's
 * row schema (proto_default_limits). Errors and rules as proto_decode_request;
 * call proto_req_clear afterwards in every case.
 */
int lbd_request_decode(const void *buf, size_t len, proto_req_t *req, proto_err_t *err);
/*
 * Runs the handler of ctx->req->op in ctx->txn: LB_EUNKNOWNOP for an op
 * without a row, LB_EFORBIDDEN when the client's role (or its events
 * permission) does not allow it, else what the handler returns. 0 with
 * ctx->result set (the caller frees it); a request error (> LB_ENOMEM) with
 * ctx's error detail set; an internal code (<= LB_ENOMEM, LB_EMAPFULL
 * included: re-run the batch) when the store or memory failed. ctx->result
 * may be set on error too and is the caller's to free. On any error the
 * caller must abort ctx->txn: a handler may have written part of its work.
 */
int lbd_execute(lbd_ctx_t *ctx);

/*
 * Fires every timer due at `now` in txn, at most max cases: appends an
 * escalation event per step (to the store and to pubs) and saves each case.
 * *fired = events emitted. A timer whose case is missing or corrupt is
 * kept: pushed back by a few minutes, logged with the case id and counted
 * in d->n_timers_deferred. 0, or a store code / LB_ENOMEM: abort txn then, since
 * some cases may be half fired.
 */
int lbd_fire_due(lbd_t *d, store_txn_t *txn, lbd_pubs_t *pubs, int64_t now, size_t max,
                 size_t *fired);

/*
 * Sets body's seq to the store's tip + 1, encodes it with the audit chain,
 * appends it to the store (txn) and to pubs (bytes and topic KIND.AREA).
 * body stays the caller's (it gets the seq key). *seq = the new seq (may be
 * NULL). 0; LB_ENOMEM; a store code (pubs unchanged then, but txn must be
 * aborted); LB_EINTERNAL when body is not a chainable map.
 */
int lbd_emit(store_txn_t *txn, lbd_pubs_t *pubs, lb_val_t *body, uint64_t *seq);

/* Forgets the queued events, keeps the memory (a batch re-run). */
void lbd_pubs_reset(lbd_pubs_t *p);
/* Frees the queue and zeroes p; safe on a zeroed p. */
void lbd_pubs_free(lbd_pubs_t *p);

/* ---- the audit key and the signed tip (audit.c, PROTOCOL.md 9.12) ---- */

/* lbd_audit_sign(d->audit, ...) under d->audit_mu: any thread (state.c). */
void lbd_sign_head(lbd_t *d, uint64_t seq, const uint8_t chain[32], uint8_t sig[64]);

/*
 * Loads the Ed25519 audit key from keys_dir/audit.secret (its 32-byte seed),
 * creating it (0600) when missing, and writes keys_dir/audit.pub (0644, the
 * public key in the ZeroMQ certificate format) when that is missing or does
 * not match; then reads the signed tip file keys_dir/audit.tip when there is
 * one. 0 with *out the caller's (lbd_audit_destroy); LB_ECONFIG (a file
 * cannot be read or written, or the tip file is not signed by this key;
 * reason in err); LB_ENOMEM; LB_EINTERNAL.
 */
int lbd_audit_open(const char *keys_dir, lbd_audit_t **out, char *err, size_t errlen);
/*
 * Refuses a store that cannot be the one whose heads were published: the
 * event at the store's own tip is missing or does not carry the tip's chain,
 * the tip is below the recorded signed head, or the event at the recorded
 * seq has another chain. 0, LB_ECONFIG with the seqs and what to do in err,
 * or a store code.
 */
int lbd_audit_check_store(const lbd_audit_t *a, store_t *s, char *err, size_t errlen);
/* sig = Ed25519 over be64(seq) || chain. Never fails. */
void lbd_audit_sign(lbd_audit_t *a, uint64_t seq, const uint8_t chain[32], uint8_t sig[64]);
/*
 * Records (seq, chain) signed in the tip file (lb_file_replace), unless it is
 * what the file holds already. Call before publishing that head. 0, or
 * lb_file_replace's code (logged).
 */
int lbd_audit_record(lbd_audit_t *a, uint64_t seq, const uint8_t chain[32]);
/* Wipes and frees, sets *a NULL; safe on NULL. */
void lbd_audit_destroy(lbd_audit_t **a);

#endif
