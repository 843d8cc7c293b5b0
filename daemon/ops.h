/*
 * ops.h - what the operation handlers (case_io.c, ops_*.c, optable.c) share:
 * case I/O, event building and the handlers themselves. Not a public header;
 * the request loop (server.c) sees only internal.h.
 */
#ifndef LBD_OPS_H
#define LBD_OPS_H

#include "internal.h"

/*
 * What a stored case looked like when it was loaded: its meta (for the
 * counters and indexes), and what the list summary and the pending timer
 * were made of, so that a save writes only what changed.
 */
typedef struct {
    store_case_meta_t meta;
    int64_t entered_at;
    char team[WF_NAME_MAX];
    bool has_timer;
    int64_t due;
    uint32_t step;
} lbd_case_snap_t;

/* ---- case I/O (case_io.c) ---- */

/*
 * An event body with the common keys, in the order of PROTOCOL.md section 7
 * (seq 0 until lbd_emit). The caller's (lb_val_free); NULL on LB_ENOMEM,
 * never a partial body. Handlers add their keys with lb_put* and must check
 * the sticky code before emitting.
 */
lb_val_t *lbd_event_new(const wf_case_t *c, int64_t at, const char *kind, const char *type,
                        const char *actor);
/* The definition a case runs under (its version, else the newest of its name), or NULL. */
const wf_def_t *lbd_case_def(const lbd_t *d, const wf_case_t *c);
/*
 * Writes c with its indexes, counters, list summary and pending timer; old
 * is c as loaded (NULL for a new case), so only what changed is rewritten.
 * 0, LB_ENOMEM or a store code (abort txn).
 */
int lbd_case_save(const lbd_t *d, store_txn_t *txn, const wf_case_t *c,
                  const lbd_case_snap_t *old);
/*
 * Loads case id into *c (the caller's: wf_case_clear) and, when snap is not
 * NULL, what lbd_case_save needs to compare. 0; LB_ENOTFOUND; LB_ECORRUPT
 * (the stored record does not decode); LB_ENOMEM; a store code. *c is
 * cleared on error.
 */
int lbd_case_load(const lbd_t *d, store_txn_t *txn, uint64_t id, wf_case_t *c,
                  lbd_case_snap_t *snap);
/*
 * A change is its event and the case recording it as last_seq, always both:
 * emits ev (still the caller's), adds its seq to c and saves c. 0, or an
 * error after which txn must be aborted.
 */
int lbd_record_change(const lbd_t *d, store_txn_t *txn, lbd_pubs_t *pubs, wf_case_t *c,
                      const lbd_case_snap_t *old, lb_val_t *ev, uint64_t *seq);
/*
 * Loads the case args.case_id names and checks the client covers its area:
 * 0 with *c the caller's; else ctx is failed (LB_EBADREQ, LB_ENOTFOUND,
 * LB_EFORBIDDEN, or the load's code) and *c holds nothing.
 */
int lbd_load_arg_case(lbd_ctx_t *ctx, wf_case_t *c, lbd_case_snap_t *snap);
/*
 * admin.verify's check that every stored case decodes (a timer of one that
 * does not is kept and retried, see lbd_fire_due): appends the ids of the
 * first max unreadable cases to the array out, as strings, and sets *n to
 * how many there are. Loads every case: O(cases). 0; LB_ENOMEM; a store code.
 */
int lbd_verify_unreadable(const lbd_t *d, store_txn_t *txn, lb_val_t *out, size_t max,
                          uint64_t *n);
/* Fails ctx with the workflow engine's error; returns its code. */
int lbd_fail_wf(lbd_ctx_t *ctx, const wf_error_t *e);
/* Sets ctx->result to an empty map. 0 or LB_ENOMEM. */
int lbd_result_map(lbd_ctx_t *ctx);

/* ---- bulk ops (bulk.c) ---- */

/* What a bulk op does with one item; see lbd_bulk_run. */
typedef struct {
    /*
     * Every check of the item, before anything is written: 0 to apply it,
     * LB_ECONFLICT with ctx->errcase set to skip it (already done, and the
     * key may see what is there), a request-level code (bad request,
     * forbidden, not found, a conflict with errcase empty: what is there is
     * outside the key's scope) with a message in msg to report it in
     * `errors`, or an internal code (<= LB_ENOMEM) to fail the whole request.
     */
    int (*check)(lbd_ctx_t *ctx, const lb_val_t *item, void *arg, char *msg, size_t msglen);
    /* Applies a checked item; any error fails the whole request. */
    int (*apply)(lbd_ctx_t *ctx, const lb_val_t *item, void *arg);
    /*
     * Describes a skipped item for the result's `existing` list, right after
     * check skipped it: adds keys to entry (a map that already holds `index`).
     * 0 or LB_ENOMEM. NULL: skipped items are only counted.
     */
    int (*existing)(lbd_ctx_t *ctx, const lb_val_t *item, void *arg, lb_val_t *entry);
    const char *done_key; /* the result's count of applied items ("opened") */
} lbd_bulk_t;

/*
 * Runs bulk over the array items (NULL: none) and sets ctx->result to
 * {done_key: n, skipped: n, errors: [{index, code, message}], existing:
 * [{index, ...bulk->existing's keys}]}. 0, or the
 * first internal code (the request fails and its nested transaction is
 * aborted by the caller, so items applied before it leave no trace);
 * LB_ENOMEM. ctx's error detail is cleared: item errors are not the
 * request's. arg is passed to both callbacks.
 */
int lbd_bulk_run(lbd_ctx_t *ctx, const lb_val_t *items, const lbd_bulk_t *bulk, void *arg);

/* ---- admin.verify's case check (verify.c) ---- */

/*
 * Compares every stored case, by id, with what its own events say: state,
 * area, household, workflow, the appended records, escalations, last_seq.
 * 0 with *checked cases compared and bad_case the id of the first that
 * disagrees (why says how), or "" when all agree; LB_ENOMEM or a store code.
 */
int lbd_verify_cases(const lbd_t *d, store_txn_t *txn, uint64_t *checked,
                     char bad_case[LB_CASE_ID_MAX], char *why, size_t whylen);

/* ---- what reporters see (redact.c) ---- */

#define LBD_PSEUDONYM_MAX 34    /* "P", 32 hex digits, NUL */
#define LBD_REDACTED "redacted" /* what a reporter sees for an actor */

/*
 * For a reporter key (PROTOCOL.md 9.14), rewrites v (a read's result) in
 * place: every house_id becomes its pseudonym, actor and acked_by become
 * LBD_REDACTED, and note, address, head, name, nid, birth_year, birth_date
 * and chain are removed at any depth; LB_RAW items (stored events) are
 * decoded and then treated the same. A no-op for every other role. 0;
 * LB_ENOMEM; LB_ECORRUPT (a stored event that does not decode).
 */
int lbd_redact(const lbd_ctx_t *ctx, lb_val_t *v);
/*
 * The pseudonym of a house id: "P" and 32 hex digits of BLAKE2b-128 keyed
 * with a key derived from the nid key. Stable while the nid key is; not
 * reversible without it. Never fails.
 */
void lbd_pseudonym(const lbd_keys_t *keys, const char *house_id, char out[LBD_PSEUDONYM_MAX]);

/* ---- handlers (ops_read.c, ops_write.c, ops_admin.c) ---- */

/* ---- the agency ledger and the committee agenda (ledger.c, agenda.c) ---- */

/* Sets m->extra to c's ledger counters (PROTOCOL.md 9.19); m->open must be set. */
void lbd_ledger_meta(const wf_case_t *c, store_case_meta_t *m);
/*
 * The client's area prefixes (or area alone when given), sorted, none inside
 * another: the scopes whose counters a report sums. At most max; borrowed.
 */
size_t lbd_scope_prefixes(const lbd_client_t *cl, const char *area, const char **out, size_t max);
int lbd_op_report_ledger(lbd_ctx_t *ctx);
int lbd_op_report_agenda(lbd_ctx_t *ctx);

int lbd_op_ping(lbd_ctx_t *ctx);
int lbd_op_workflow_list(lbd_ctx_t *ctx);
int lbd_op_workflow_get(lbd_ctx_t *ctx);
int lbd_op_case_open(lbd_ctx_t *ctx);
int lbd_op_case_import(lbd_ctx_t *ctx);
int lbd_op_case_act(lbd_ctx_t *ctx);
int lbd_op_case_ack(lbd_ctx_t *ctx);
int lbd_op_case_get(lbd_ctx_t *ctx);
int lbd_op_case_find(lbd_ctx_t *ctx);
int lbd_op_case_history(lbd_ctx_t *ctx);
int lbd_op_case_list(lbd_ctx_t *ctx);
int lbd_op_report_summary(lbd_ctx_t *ctx);
int lbd_op_events_since(lbd_ctx_t *ctx);
int lbd_op_admin_stats(lbd_ctx_t *ctx);
int lbd_op_admin_backup(lbd_ctx_t *ctx);
int lbd_op_admin_reload(lbd_ctx_t *ctx);
int lbd_op_admin_verify(lbd_ctx_t *ctx);
int lbd_op_admin_clock(lbd_ctx_t *ctx);

#endif
