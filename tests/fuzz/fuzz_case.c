/*
 * fuzz_case.c - libFuzzer target for the stored-case decoder
 * (workflow/wf_case_pack.c): the input is the bytes of one stored case as
 * LMDB would hand them back, damaged or not. wf_case_unpack must agree with
 * the general decoder (proto_unpack with the WF_CASE_DECODE_* limits, then
 * wf_case_from_val) on whether the bytes are a case and on the case; whatever
 * its direct reader accepts, the general decoder must accept as the same
 * case; and a case read back writes the same bytes with wf_case_pack as with
 * proto_pack(wf_case_to_val). Also built with gcc into replay_case for
 * `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"
#include "../../workflow/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const proto_limits_t stored = {WF_CASE_DECODE_DEPTH, WF_CASE_DECODE_ITEMS,
                                      WF_CASE_DECODE_STR, WF_CASE_DECODE_NODES};

/* The case's value, or abort (the fuzzer does not inject allocation failures). */
static lb_val_t *val_of(const wf_case_t *c)
{
    lb_val_t *v = wf_case_to_val(c);
    if (!v)
        abort();
    return v;
}

static void same_or_abort(const wf_case_t *a, const wf_case_t *b)
{
    lb_val_t *va = val_of(a), *vb = val_of(b);
    if (!lb_val_equal(va, vb) || a->id != b->id)
        abort();
    lb_val_free(&va);
    lb_val_free(&vb);
}

/* Both encoders write the same bytes for c. */
static void same_bytes_or_abort(const wf_case_t *c)
{
    lb_buf_t a, b;
    lb_buf_init(&a);
    lb_buf_init(&b);
    lb_val_t *v = val_of(c);
    if (proto_pack(v, &a) != 0 || wf_case_pack(c, &b) != 0 || a.len != b.len ||
        memcmp(a.p, b.p, a.len) != 0)
        abort();
    lb_val_free(&v);
    lb_buf_free(&a);
    lb_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wf_case_t old, got, direct;
    lb_val_t *v = NULL;
    proto_err_t perr;
    memset(&old, 0, sizeof old);
    int orc = proto_unpack(data, size, &stored, &v, &perr);
    if (orc == 0)
        orc = wf_case_from_val(v, &old);
    lb_val_free(&v);
    int rc = wf_case_unpack(data, size, &got);
    int drc = wf_case_unpack_direct(data, size, &direct);
    if ((rc == 0) != (orc == 0) || (rc && rc != LB_ECORRUPT))
        abort();
    if (drc && drc != LB_ECORRUPT)
        abort();
    if (drc == 0 && orc != 0)
        abort();
    if (rc == 0) {
        same_or_abort(&got, &old);
        same_bytes_or_abort(&got);
    }
    if (drc == 0)
        same_or_abort(&direct, &old);
    if (rc && (got.needs || got.esc || got.timers || got.state[0]))
        abort(); /* a refused case is left zeroed */
    wf_case_clear(&old);
    wf_case_clear(&got);
    wf_case_clear(&direct);
    return 0;
}
