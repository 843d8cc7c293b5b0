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

/* An event body with the common keys, in the order of PROTOCOL.md section 7. */
lb_val_t *lbd_event_new(const wf_case_t *c, int64_t at, const char *kind, const char *type,
                        const char *actor);
const wf_def_t *lbd_case_def(const lbd_t *d, const wf_case_t *c);
int lbd_case_save(const lbd_t *d, store_txn_t *txn, const wf_case_t *c,
                  const lbd_case_snap_t *old);
int lbd_case_load(const lbd_t *d, store_txn_t *txn, uint64_t id, wf_case_t *c,
                  lbd_case_snap_t *snap);
int lbd_record_change(const lbd_t *d, store_txn_t *txn, lbd_pubs_t *pubs, wf_case_t *c,
                      const lbd_case_snap_t *old, lb_val_t *ev, uint64_t *seq);
int lbd_load_arg_case(lbd_ctx_t *ctx, wf_case_t *c, lbd_case_snap_t *snap);
int lbd_fail_wf(lbd_ctx_t *ctx, const wf_error_t *e);
int lbd_result_map(lbd_ctx_t *ctx);

/* ---- handlers (ops_read.c, ops_write.c, ops_admin.c) ---- */

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
