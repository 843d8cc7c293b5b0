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
int lbd_case_save(const lbd_t *d, store_txn_t *txn, const wf_case_t *c, const lbd_case_snap_t *old);
/*
 * Loads case id into *c (the caller's: wf_case_clear) and, when snap is not
 * NULL, what lbd_case_save needs to compare. 0; LB_ENOTFOUND; LB_ECORRUPT
 * (the stored record does not decode); LB_ENOMEM; a store code. *c is
 * cleared on error.
 */
/*
 * admin.verify's counters check: recomputes every maintained report counter
 * from the stored cases (store_counts_verify, every scope) and compares. 0
 * when all agree; 1 with *diff naming the first that differs; LB_ECORRUPT
 * when a case does not decode (the unreadable-cases check names it);
 * LB_ENOMEM; store codes. A full scan: for admin.verify only.
 */
int lbd_verify_counters(const lbd_t *d, store_txn_t *txn, store_count_diff_t *diff);
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
int lbd_verify_unreadable(const lbd_t *d, store_txn_t *txn, lb_val_t *out, size_t max, uint64_t *n);
/* Fails ctx with the workflow engine's error; returns its code. */
int lbd_fail_wf(lbd_ctx_t *ctx, const wf_error_t *e);
/*
 * With a gazetteer loaded, fails ctx with LB_EBADREQ, field, and
 * wf_areas_check's message (the nearest valid parent named) when area does
 * not name a place; 0 when it does or no gazetteer is loaded (areas.c).
 */
int lbd_areas_check(lbd_ctx_t *ctx, const char *area, const char *field);
/* Sets ctx->result to an empty map. 0 or LB_ENOMEM. */
int lbd_result_map(lbd_ctx_t *ctx);

/* ---- report.summary's months (report_trend.c) ---- */

#define LBD_TREND_MONTHS_MAX 36
#define LBD_TREND_NNAMES 6
/* opened visited assisted resolved closed escalated: a trend entry's keys after `month`. */
extern const char *const lbd_trend_names[LBD_TREND_NNAMES];

/* The months asked for and the scopes a report counts (borrowed, valid while it is used). */
typedef struct {
    store_txn_t *txn;
    int n;    /* months, 1..LBD_TREND_MONTHS_MAX */
    int last; /* the newest month: year * 12 + month - 1 */
    const char *const *scopes;
    size_t nscopes;
    int digits; /* the rows' key length; 0 when rows are not areas */
} lbd_trend_t;

/* The window of `months` months ending in now's month (Asia/Bangkok). 0; LB_EBADREQ. */
int lbd_trend_init(lbd_trend_t *t, store_txn_t *txn, int64_t now, int months,
                   const char *const *scopes, size_t nscopes, int digits);
/*
 * [{month, opened, visited, assisted, resolved, closed, escalated}], oldest
 * first, every month present: the totals sum every scope; a row (an area
 * key) sums the scopes inside it, else the key's own counters. The
 * caller's (lb_val_free); NULL with *rc set (a store code, LB_ENOMEM), or
 * NULL at once when *rc is already set.
 */
lb_val_t *lbd_trend_totals(const lbd_trend_t *t, int *rc);
lb_val_t *lbd_trend_row(const lbd_trend_t *t, const char *key, int *rc);

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

/* ---- household membership and duplicates (members.c, PROTOCOL.md 9.18) ---- */

/* A member's reference: "M" and 32 hex digits, keyed with a key derived from the nid key. */
void lbd_member_ref(const lbd_keys_t *keys, const char *nid, char out[WF_MEMBER_REF_LEN + 1]);
/*
 * The case's decrypted household (the caller's, lb_val_free), with a
 * `members` array even when it was opened without one. 0; LB_ECORRUPT (no
 * sealed data, or it does not open); LB_ENOMEM; a store code.
 */
int lbd_household_get(const lbd_t *d, store_txn_t *txn, const wf_case_t *c, lb_val_t **h);
/* Seals h and stores it as the case's personal data. 0, LB_ENOMEM or a store code. */
int lbd_household_put(const lbd_t *d, store_txn_t *txn, const wf_case_t *c, const lb_val_t *h);
/* The index of the head in h's members, or -1 when it has none (9.18 says who it is). */
int lbd_household_head(const lb_val_t *h);
/* Whether nid is one of h's current members. */
bool lbd_household_has(const lb_val_t *h, const char *nid);

/* What a member record's case.act carries between its steps; zeroed by prepare. */
typedef struct {
    bool active;          /* the action appends a member record */
    const lb_val_t *wire; /* data as sent (borrowed from the request) */
    lb_val_t *stored;     /* data as the engine keeps it: references only */
    lb_val_t *dups;       /* a join's duplicates: case ids */
} lbd_member_t;

/*
 * Before wf_apply: when act's action appends a member record, checks data
 * as sent (guard_failed with data.KEY) and points act->data at the stored
 * form. 0 (also for any other action) or ctx failed.
 */
int lbd_member_prepare(lbd_ctx_t *ctx, const wf_def_t *def, wf_act_t *act, lbd_member_t *m);
/*
 * After wf_apply, before the change is recorded: applies the change to the
 * sealed household under the head rules (bad_request with data.nid or
 * data.new_head; too_large past 64 members), files a joining nid in the nid
 * index and finds its duplicates. 0 or ctx failed / a store code.
 */
int lbd_member_apply(lbd_ctx_t *ctx, const wf_case_t *c, int64_t at, lbd_member_t *m);
/* Adds `duplicates` to ctx->result for a member record. 0 or LB_ENOMEM. */
int lbd_member_result(lbd_ctx_t *ctx, lbd_member_t *m);
void lbd_member_clear(lbd_member_t *m);
/*
 * Appends to out (an array) the ids of open cases other than self, inside
 * the requester's areas, that have nid among their current members (each
 * once). 0, LB_ENOMEM or a store code.
 */
int lbd_duplicates_of(lbd_ctx_t *ctx, uint64_t self, const char *nid, lb_val_t *out);
/* The same for every member nid of household, into a new array *out (the caller's). */
int lbd_household_duplicates(lbd_ctx_t *ctx, uint64_t self, const lb_val_t *household,
                             lb_val_t **out);
/* The members a household may list (case.open, case.import: PROTOCOL.md 9.18). */
#define LBD_MEMBERS_MAX 64
/* case.import's duplicates: {index, case_id, duplicates: [case_id...]} per flagged household. */
typedef struct {
    const lb_val_t *items; /* the request's households (borrowed) */
    uint32_t pos;          /* where the last item applied was found in items */
    lb_val_t *list;
    /* lbd_nid_hash of each member national id of the household opened last, in member
     * order (members without one skipped): filled by whoever indexed them, n_nid of them. */
    uint8_t nid_hash[LBD_MEMBERS_MAX][32];
    uint32_t n_nid;
} lbd_import_dups_t;
/*
 * After household h (an item of items) opened as case c, with x->nid_hash
 * holding its members' hashes. 0, LB_ENOMEM or a store code.
 */
int lbd_import_dups_add(lbd_ctx_t *ctx, lbd_import_dups_t *x, const lb_val_t *h,
                        const wf_case_t *c);
/* Adds `duplicates` to the result when rc (the bulk run's) is 0; frees x. rc or LB_ENOMEM. */
int lbd_import_dups_done(lbd_ctx_t *ctx, lbd_import_dups_t *x, int rc);

/*
 * case.get: marks the head among h's members (`head: true`), drops its
 * bookkeeping keys, and, for roles other than reporter, adds `nid` (and
 * `new_head_nid`) to the member records in result. 0 or LB_ENOMEM.
 */
int lbd_member_view(const lbd_ctx_t *ctx, lb_val_t *h, lb_val_t *result);

/* ---- handlers (ops_read.c, ops_write.c, ops_admin.c, ops_casework.c) ---- */

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
int lbd_op_case_duplicates(lbd_ctx_t *ctx);
int lbd_op_case_merge(lbd_ctx_t *ctx);

/* ---- casework (ops_casework.c, ops_remap.c; PROTOCOL.md 9.17) ---- */

/*
 * Moves the loaded case c (old: as loaded) to area `to` and records it: one
 * event {kind: case, type, area: to, data: {from_area, to_area, from_team?,
 * note?}} stored once and queued for publication under both case.TO and
 * case.FROM; the counters of both areas move with the save. restart: the
 * escalation clock of the current state starts again at ctx->now and the
 * team is cleared (from_team names it; a transfer); without it timers and
 * team stay (a remap). note (may be NULL) is free text. *seq = the event's
 * seq. 0, LB_ENOMEM or a store code (abort the txn).
 */
int lbd_case_move(lbd_ctx_t *ctx, wf_case_t *c, const lbd_case_snap_t *old, const char *to,
                  const char *type, bool restart, const char *note, uint64_t *seq);

int lbd_op_case_transfer(lbd_ctx_t *ctx);
int lbd_op_case_reassign(lbd_ctx_t *ctx);
int lbd_op_admin_remap(lbd_ctx_t *ctx);

#endif
