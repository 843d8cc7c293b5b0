/*
 * internal.h - what the loop (server.c) and the operation handlers (case_io.c, ops_*.c, optable.c)
 * share: the daemon's state and one request's context. Not a public header.
 */
#ifndef LBD_INTERNAL_H
#define LBD_INTERNAL_H

#include "daemon.h"

#define LBD_VERSION "0.1.0"
#define LBD_IDEM_TTL_MS (24LL * 3600 * 1000)
#define LBD_FUTURE_SLACK_MS (5LL * 60 * 1000)
#define LBD_PAST_SLACK_MS (365LL * 24 * 3600 * 1000)

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

struct lbd {
    lbd_opts_t opts;
    lbd_config_t cfg;
    lbd_keys_t keys;
    lbd_registry_t reg;
    wf_set_t *wfs;
    wf_catalog_t *cat;
    store_t *store;

    void *zctx;
    void *router;
    void *pub;
    void *zap;
    int sigfd;

    void *batch; /* pending_t[batch_max] of server.c, reused by every batch */

    bool manual_clock;
    int64_t manual_now;
    int64_t started_ms; /* monotonic start, for uptime */
    uint64_t last_seq;  /* tip after the last commit */

    /* counters for admin.stats */
    uint64_t n_requests, n_writes, n_reads, n_commits, n_idem_hits, n_events, n_fired;
    uint64_t max_batch, n_errors;
    uint64_t us_exec, us_write; /* time running write batches, and that plus their commits */
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

/* The daemon's clock in unix ms (manual or real). */
int64_t lbd_now(const lbd_t *d);
int64_t lbd_real_ms(void);
int64_t lbd_mono_ms(void);

/* Loads the catalog and workflows the config names. */
int lbd_load_definitions(const lbd_config_t *cfg, wf_set_t **wfs, wf_catalog_t **cat, char *err,
                         size_t errlen);

/* Fails a request: sets the message (printf style) and returns code. */
int lbd_fail(lbd_ctx_t *ctx, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- the op table (optable.c) ---- */

typedef enum { LBD_OP_READ = 0, LBD_OP_WRITE } lbd_op_kind_t;

/* One row per op: everything the daemon knows about it. */
typedef struct {
    proto_op_t op;                 /* the row's own op: rows follow proto_op_t's order */
    const proto_schema_t *schema;  /* its arguments (proto's object, shared with clients) */
    int (*fn)(lbd_ctx_t *ctx);     /* the handler */
    unsigned roles;                /* bit (1 << lbd_role_t) set for each role that may run it */
    lbd_op_kind_t kind;            /* LBD_OP_WRITE: runs in the group-commit batch */
    bool events_stream;            /* also needs a client allowed on the events stream */
} lbd_op_t;

/* The row of op, or NULL when op is out of range. Static storage. */
const lbd_op_t *lbd_op_get(proto_op_t op);
/* true when op's row is LBD_OP_WRITE; false for an out-of-range op. */
bool lbd_op_writes(proto_op_t op);
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
/* Runs the handler of ctx->req->op (roles checked here). 0 or an LB_E* code. */
int lbd_execute(lbd_ctx_t *ctx);

/* Fires every timer due at `now`, at most max cases; *fired = escalations emitted. */
int lbd_fire_due(lbd_t *d, store_txn_t *txn, lbd_pubs_t *pubs, int64_t now, size_t max,
                 size_t *fired);

/* Reloads workflows, catalog and registry; on error keeps the old ones. */
int lbd_reload(lbd_t *d, char *err, size_t errlen);

/* Appends an encoded event to the store and to pubs. body has no seq/chain yet. */
int lbd_emit(store_txn_t *txn, lbd_pubs_t *pubs, lb_val_t *body, uint64_t *seq);

void lbd_pubs_reset(lbd_pubs_t *p);
void lbd_pubs_free(lbd_pubs_t *p);

#endif
