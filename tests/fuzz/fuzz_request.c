/*
 * fuzz_request.c - libFuzzer target for the request decoder (proto/): every
 * input goes through proto_decode_request as the daemon would take it off the
 * wire, the error reply built from the failure must itself decode, and any
 * msgpack document that decodes must survive a proto_pack/proto_unpack round
 * trip unchanged. Also built with gcc into replay_request for `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A reply the daemon sends must be a msgpack map its own clients can read back. */
static void check_reply_decodes(const lb_buf_t *reply)
{
    lb_val_t *v = NULL;
    proto_err_t err;
    if (proto_unpack(reply->p, reply->len, NULL, &v, &err) != 0 || v->type != LB_MAP)
        abort();
    lb_val_free(&v);
}

static void check_error_reply(const char *id, const proto_err_t *err)
{
    lb_buf_t reply;
    lb_buf_init(&reply);
    if (proto_reply_error(id, err->code, err->message, err->field, NULL, &reply) != 0)
        abort();
    check_reply_decodes(&reply);
    lb_buf_free(&reply);
}

/* What the daemon does with a decoded request before it reaches the store. */
static void fuzz_decode_request(const uint8_t *data, size_t size)
{
    proto_req_t req;
    proto_err_t err;
    int rc = proto_decode_request(data, size, &proto_default_limits, &req, &err);
    if (strlen(req.id) > PROTO_ID_MAX)
        abort();
    if (rc != 0) {
        if (err.code != rc || req.op > PROTO_OP_COUNT)
            abort();
        check_error_reply(req.id, &err);
    } else {
        /* The contract: a known op, a readable id, args always a map. */
        if (req.op >= PROTO_OP_COUNT || !proto_op_name(req.op) || req.id[0] == '\0' || !req.args ||
            req.args->type != LB_MAP || !req.doc)
            abort();
        if (req.op == PROTO_OP_CASE_IMPORT) {
            /* case.import checks only the outer shape; each item is checked on its own. */
            const lb_val_t *hs = lb_map_get(req.args, "households");
            if (!hs || hs->type != LB_ARR)
                abort();
            for (uint32_t i = 0; i < hs->a.n; i++) {
                proto_err_t herr;
                int hrc = proto_check_household(hs->a.items[i], &herr);
                if (hrc != 0) {
                    if (herr.code != hrc)
                        abort();
                    check_error_reply(req.id, &herr);
                }
            }
        }
        lb_buf_t reply;
        lb_buf_init(&reply);
        if (proto_reply_ok(req.id, req.args, &reply) != 0)
            abort();
        check_reply_decodes(&reply);
        lb_buf_free(&reply);
    }
    proto_req_clear(&req);
}

/*
 * Any document that decodes re-encodes to the canonical form, which decodes to
 * an equal value and is a fixed point: encoding it again gives the same bytes.
 */
static void fuzz_round_trip(const uint8_t *data, size_t size)
{
    lb_val_t *v1 = NULL, *v2 = NULL;
    lb_buf_t b1, b2, json;
    proto_err_t err;
    lb_buf_init(&b1);
    lb_buf_init(&b2);
    lb_buf_init(&json);

    if (proto_unpack(data, size, &proto_default_limits, &v1, &err) != 0) {
        if (v1 || err.code == 0)
            abort();
        return;
    }
    if (proto_pack(v1, &b1) != 0)
        abort();
    if (proto_unpack(b1.p, b1.len, &proto_default_limits, &v2, &err) != 0)
        abort();
    if (!lb_val_equal(v1, v2) || !lb_val_equal(v2, v1))
        abort();
    if (proto_pack(v2, &b2) != 0)
        abort();
    if (b1.len != b2.len || memcmp(b1.p, b2.p, b1.len) != 0)
        abort();
    /* The CLI prints decoded replies as JSON. */
    if (lb_val_to_json(v1, 2, &json) != 0)
        abort();

    lb_val_free(&v1);
    lb_val_free(&v2);
    lb_buf_free(&b1);
    lb_buf_free(&b2);
    lb_buf_free(&json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_decode_request(data, size);
    fuzz_round_trip(data, size);
    return 0;
}
