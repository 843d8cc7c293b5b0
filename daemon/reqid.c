/*
 * reqid.c - what a request id means: one request. The digest of a write is
 * kept with its idempotency record, so the same key reusing the id for a
 * different op or different args is told so instead of getting the old reply.
 */
#include <sodium.h>
#include <string.h>

#include "internal.h"

int lbd_req_digest(const proto_req_t *req, lb_buf_t *scratch, uint8_t out[32])
{
    const char *op = proto_op_name(req->op);
    if (!op || !req->args)
        return LB_EINTERNAL;
    /* The args as proto_pack writes them: the same value always gives the same bytes. They are
     * packed into the caller's scratch buffer, kept from request to request: no malloc each. */
    scratch->len = 0;
    int rc = proto_pack(req->args, scratch);
    if (rc == 0) {
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, 32);
        crypto_generichash_update(&st, (const unsigned char *)op, strlen(op) + 1);
        crypto_generichash_update(&st, scratch->p, scratch->len);
        crypto_generichash_final(&st, out, 32);
    }
    return rc;
}
