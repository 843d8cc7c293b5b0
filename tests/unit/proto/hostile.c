/*
 * hostile.c - test_proto: hostile request bytes: every truncated prefix, random buffers, random
 * mutations of valid requests (ASan and valgrind catch bad reads).
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

static void test_truncated_prefixes(void)
{
    for (size_t k = 0; k < valid_req_count(); k++) {
        lb_val_t *r = valid_req(k);
        lb_buf_t b;
        pack_or_die(r, &b);
        lb_val_free(&r);
        for (size_t n = 0; n < b.len; n++) {
            /* a heap copy of exactly n bytes, so ASan sees any read past the end */
            uint8_t *p = malloc(n ? n : 1);
            memcpy(p, b.p, n);
            proto_req_t req;
            proto_err_t err;
            int rc = proto_decode_request(p, n, NULL, &req, &err);
            CU_ASSERT_EQUAL(rc, LB_EBADREQ);
            CU_ASSERT_PTR_NULL(req.doc);
            proto_req_clear(&req);
            free(p);
        }
        lb_buf_free(&b);
    }
}

/* Bytes that are likely to build interesting structure. */
static uint8_t random_byte(void)
{
    static const uint8_t special[] = {0x80, 0x81, 0x82, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa1, 0xa3,
                                      0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xca,
                                      0xcb, 0xcc, 0xcf, 0xd0, 0xd3, 0xd4, 0xd9, 0xda, 0xdb, 0xdc,
                                      0xdd, 0xde, 0xdf, 0xff, 0x00, 0x01, 0x7f, 'v',  'i',  'd'};
    uint64_t x = rng();
    if (x % 3 == 0)
        return special[(x >> 8) % sizeof(special)];
    return (uint8_t)(x >> 16);
}

static void test_random_buffers(void)
{
    rng_state = 0x9e3779b97f4a7c15ULL;
    int accepted = 0;
    for (int i = 0; i < 4000; i++) {
        size_t n = (size_t)(rng() % 96);
        uint8_t *p = malloc(n ? n : 1);
        for (size_t k = 0; k < n; k++)
            p[k] = random_byte();
        proto_req_t req;
        proto_err_t err;
        int rc = proto_decode_request(p, n, NULL, &req, &err);
        CU_ASSERT(rc <= 0 && rc >= LB_ENOMEM);
        if (rc)
            CU_ASSERT(err.code == rc);
        proto_req_clear(&req);
        lb_val_t *v = NULL;
        rc = proto_unpack(p, n, NULL, &v, &err);
        if (rc == 0) {
            accepted++;
            /* whatever decodes re-encodes and decodes to the same value */
            lb_buf_t b;
            lb_val_t *back = NULL;
            pack_or_die(v, &b);
            CU_ASSERT_EQUAL(proto_unpack(b.p, b.len, NULL, &back, &err), 0);
            CU_ASSERT(lb_val_equal(v, back));
            lb_val_free(&back);
            lb_buf_free(&b);
        }
        lb_val_free(&v);
        uint8_t chain[32];
        CU_ASSERT_NOT_EQUAL(proto_event_check(p, n, NULL, chain), 0);
        free(p);
    }
    CU_ASSERT(accepted > 0);
}

static void test_random_mutations(void)
{
    rng_state = 0x1234567887654321ULL;
    int ok = 0, failed = 0;
    for (int i = 0; i < 4000; i++) {
        lb_val_t *r = valid_req((size_t)(rng() % valid_req_count()));
        lb_buf_t b;
        pack_or_die(r, &b);
        lb_val_free(&r);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits && b.len > 0; e++) {
            size_t at = (size_t)(rng() % b.len);
            switch (rng() % 4) {
            case 0:
                b.p[at] ^= (uint8_t)(1u << (rng() % 8));
                break;
            case 1:
                b.p[at] = random_byte();
                break;
            case 2: /* delete a byte */
                memmove(b.p + at, b.p + at + 1, b.len - at - 1);
                b.len--;
                break;
            case 3: { /* insert a byte */
                uint8_t x = random_byte();
                lb_buf_reserve(&b, 1);
                memmove(b.p + at + 1, b.p + at, b.len - at);
                b.p[at] = x;
                b.len++;
                break;
            }
            }
        }
        /* an exact-size copy so ASan catches reads past the end */
        uint8_t *p = malloc(b.len ? b.len : 1);
        memcpy(p, b.p, b.len);
        proto_req_t req;
        proto_err_t err;
        int rc = proto_decode_request(p, b.len, NULL, &req, &err);
        if (rc == 0) {
            ok++;
            CU_ASSERT(req.args && req.args->type == LB_MAP);
            CU_ASSERT((int)req.op >= 0 && req.op < PROTO_OP_COUNT);
        } else {
            failed++;
            CU_ASSERT(rc == LB_EBADREQ || rc == LB_EBADVER || rc == LB_EUNKNOWNOP ||
                      rc == LB_ETOOLARGE);
            CU_ASSERT(lb_utf8_valid(err.field, strlen(err.field)));
            CU_ASSERT(lb_utf8_valid(err.message, strlen(err.message)));
        }
        proto_req_clear(&req);
        free(p);
        lb_buf_free(&b);
    }
    CU_ASSERT(ok > 0 && failed > 0);
}

const cu_test_t proto_hostile_tests[] = {
    {"truncated prefixes", test_truncated_prefixes},
    {"random buffers", test_random_buffers},
    {"random mutations", test_random_mutations},
};
const size_t proto_hostile_count = CU_COUNT(proto_hostile_tests);
