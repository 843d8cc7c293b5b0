/*
 * bulk.c - the skeleton of a bulk write op (case.import today): every item is
 * checked first, one bad item is reported in `errors` and fails alone, an
 * item that is already there is skipped (and listed in `existing` when the key
 * may see it), and only the store failing (an internal code) fails the whole
 * request.
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"

/* Appends {index, code, message} to errors. 0 or LB_ENOMEM. */
static int bulk_item_error(lb_val_t *errors, uint32_t index, int code, const char *msg)
{
    lb_val_t *e = lb_map();
    int rc = e ? 0 : LB_ENOMEM;
    lb_put_int(e, "index", index, &rc);
    lb_put_str(e, "code", lb_errcode(code), &rc);
    lb_put_str(e, "message", msg[0] ? msg : lb_strerror(code), &rc);
    lb_push(errors, e, &rc); /* errors owns e now, or it was freed */
    return rc ? LB_ENOMEM : 0;
}

/* Appends {index, ...} (bulk->existing's keys) to existing. 0 or LB_ENOMEM. */
static int bulk_item_existing(lbd_ctx_t *ctx, lb_val_t *existing, uint32_t index,
                              const lb_val_t *item, const lbd_bulk_t *bulk, void *arg)
{
    lb_val_t *e = lb_map();
    int rc = e ? 0 : LB_ENOMEM;
    lb_put_int(e, "index", index, &rc);
    if (rc == 0 && bulk->existing(ctx, item, arg, e))
        rc = LB_ENOMEM;
    lb_push(existing, e, &rc);
    return rc ? LB_ENOMEM : 0;
}

int lbd_bulk_run(lbd_ctx_t *ctx, const lb_val_t *items, const lbd_bulk_t *bulk, void *arg)
{
    lb_val_t *errors = lb_arr(), *existing = lb_arr();
    if (!errors || !existing) {
        lb_val_free(&errors);
        lb_val_free(&existing);
        return LB_ENOMEM;
    }
    int64_t done = 0, skipped = 0;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && items && i < items->a.n; i++) {
        const lb_val_t *item = items->a.items[i];
        char msg[sizeof ctx->errmsg] = "";
        ctx->errmsg[0] = '\0';
        ctx->errcase[0] = '\0';
        int code = bulk->check(ctx, item, arg, msg, sizeof msg);
        if (code == 0) {
            /* Checked: from here only the store can fail, and that fails the request. */
            rc = bulk->apply(ctx, item, arg);
            done++;
        } else if (code == LB_ECONFLICT && ctx->errcase[0]) {
            skipped++;
            if (bulk->existing)
                rc = bulk_item_existing(ctx, existing, i, item, bulk, arg);
        } else if (code <= LB_ENOMEM) {
            rc = code; /* the store, not the item */
        } else {
            rc = bulk_item_error(errors, i, code, msg);
        }
    }
    /* Item errors went into `errors`; none of them is the request's. */
    ctx->errmsg[0] = '\0';
    ctx->errfield[0] = '\0';
    ctx->errcase[0] = '\0';
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_put_int(ctx->result, bulk->done_key, done, &rc);
        lb_put_int(ctx->result, "skipped", skipped, &rc);
        lb_put(ctx->result, "errors", errors, &rc);
        errors = NULL;
        lb_put(ctx->result, "existing", existing, &rc);
        existing = NULL;
    }
    lb_val_free(&errors);
    lb_val_free(&existing);
    return rc;
}
