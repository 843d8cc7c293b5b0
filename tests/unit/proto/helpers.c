/*
 * helpers.c - what the proto test files share: requests built from JSON-ish
 * text, pack-and-decode checks, a canonical household, a reproducible RNG.
 */
#include <CUnit/CUnit.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_test.h"

/* {v:1, id:"req-1", op, args} with args as JSON (NULL: no args key). */
lb_val_t *R(const char *op, const char *args)
{
    lb_val_t *r = lb_map();
    lb_map_set_int(r, "v", 1);
    lb_map_set_str(r, "id", "req-1");
    lb_map_set_str(r, "op", op);
    if (args)
        lb_map_set(r, "args", tval(args));
    return r;
}

void pack_or_die(const lb_val_t *v, lb_buf_t *b)
{
    lb_buf_init(b);
    if (proto_pack(v, b) != 0)
        abort();
}

/* Packs doc (consumed), decodes it and checks the result code and error field. */
void expect_at(lb_val_t *doc, int code, const char *field, const proto_limits_t *lim, int line)
{
    lb_buf_t b;
    proto_req_t req;
    proto_err_t err;
    pack_or_die(doc, &b);
    lb_val_free(&doc);
    int rc = proto_decode_request(b.p, b.len, lim, &req, &err);
    bool ok =
        rc == code && (rc == 0 || err.code == code) && (!field || strcmp(err.field, field) == 0);
    if (!ok)
        printf("\n  line %d: rc %d (want %d) field '%s' (want '%s') message '%s'\n", line, rc, code,
               err.field, field ? field : "*", err.message);
    CU_assertImplementation(ok, (unsigned)line, "decode result", __FILE__, "", CU_FALSE);
    if (rc == 0)
        CU_assertImplementation(req.args && req.args->type == LB_MAP, (unsigned)line,
                                "args is a map", __FILE__, "", CU_FALSE);
    proto_req_clear(&req);
    lb_buf_free(&b);
}

/* Decodes raw bytes with proto_unpack; returns the code and frees the result. */
int unpack_raw(const void *p, size_t n, const proto_limits_t *lim, proto_err_t *err)
{
    lb_val_t *v = NULL;
    int rc = proto_unpack(p, n, lim, &v, err);
    if (rc)
        CU_ASSERT(v == NULL);
    lb_val_free(&v);
    return rc;
}

const char *const HH =
    "{'house_id':'65010000001','area':'65010101','address':'1 Moo 1','head':'Somchai',"
    "'members':[{'nid':'1234567890121','name':'Somchai','birth_year':1970,'sex':'m'},"
    "{'name':'Malee','sex':'f'}],'deprived':['bmn1','bmn7']}";

/* case.open args with the household given as JSON. */
lb_val_t *open_req(const char *household)
{
    char args[2048];
    snprintf(args, sizeof(args), "{'household':%s}", household);
    return R("case.open", args);
}

uint64_t rng_state;
uint64_t rng(void)
{
    /* xorshift64*: deterministic across runs, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
