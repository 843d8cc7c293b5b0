/*
 * events.c - test_proto: replies and the event audit chain: round trip, tampering, header boundary.
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

/* Replies                                                                 */
/* ---------------------------------------------------------------------- */

static lb_val_t *decode_reply(const lb_buf_t *b)
{
    lb_val_t *v = NULL;
    proto_err_t err;
    CU_ASSERT_EQUAL(proto_unpack(b->p, b->len, NULL, &v, &err), 0);
    return v;
}

static void test_replies(void)
{
    lb_buf_t b;
    lb_buf_init(&b);
    lb_val_t *res = tval("{'version':'1.0','uptime_s':5,'last_seq':0}");
    CU_ASSERT_EQUAL(proto_reply_ok("req-1", res, &b), 0);
    lb_val_t *v = decode_reply(&b);
    lb_val_t *want =
        tval("{'v':1,'id':'req-1','ok':true,'result':{'version':'1.0','uptime_s':5,'last_seq':0}}");
    CU_ASSERT(lb_val_equal(v, want));
    CU_ASSERT_STRING_EQUAL(v->m.keys[0], "v");
    lb_val_free(&v);
    lb_val_free(&want);
    lb_buf_free(&b);

    CU_ASSERT_EQUAL(proto_reply_ok(NULL, NULL, &b), 0);
    v = decode_reply(&b);
    want = tval("{'v':1,'id':'','ok':true,'result':{}}");
    CU_ASSERT(lb_val_equal(v, want));
    lb_val_free(&v);
    lb_val_free(&want);
    lb_buf_free(&b);

    CU_ASSERT_EQUAL(
        proto_reply_error("r9", LB_ECONFLICT, "household has an open case", NULL, "C000000042", &b),
        0);
    v = decode_reply(&b);
    want = tval("{'v':1,'id':'r9','ok':false,'error':{'code':'conflict',"
                "'message':'household has an open case','case_id':'C000000042'}}");
    CU_ASSERT(lb_val_equal(v, want));
    lb_val_free(&v);
    lb_val_free(&want);
    lb_buf_free(&b);

    CU_ASSERT_EQUAL(proto_reply_error("", LB_EBADREQ, NULL, "household.area", "", &b), 0);
    v = decode_reply(&b);
    want = tval("{'v':1,'id':'','ok':false,'error':{'code':'bad_request',"
                "'message':'bad request','field':'household.area'}}");
    CU_ASSERT(lb_val_equal(v, want));
    lb_val_free(&v);
    lb_val_free(&want);
    lb_buf_free(&b);

    /* internal codes map onto wire codes; broken UTF-8 in a message is cut, never sent */
    CU_ASSERT_EQUAL(proto_reply_error("x", LB_EDISKFULL, "disk \xe0\xb8", NULL, NULL, &b), 0);
    v = decode_reply(&b);
    lb_val_t *e = lb_map_get(v, "error");
    CU_ASSERT_STRING_EQUAL(lb_map_str(e, "code"), "unavailable");
    CU_ASSERT_STRING_EQUAL(lb_map_str(e, "message"), "disk ");
    lb_val_free(&v);
    lb_buf_free(&b);

    /* appending: existing bytes are kept */
    lb_buf_append(&b, "XY", 2);
    CU_ASSERT_EQUAL(proto_reply_ok("a", res, &b), 0);
    CU_ASSERT(memcmp(b.p, "XY", 2) == 0);
    lb_val_t *back = NULL;
    CU_ASSERT_EQUAL(proto_unpack(b.p + 2, b.len - 2, NULL, &back, NULL), 0);
    lb_val_free(&back);
    lb_buf_free(&b);
    lb_val_free(&res);
}

/* ---------------------------------------------------------------------- */
/* Events                                                                  */
/* ---------------------------------------------------------------------- */

static lb_val_t *event_body(int64_t seq)
{
    lb_val_t *b =
        tval("{'v':1,'at':1700000000000,'kind':'case','type':'open','case_id':'C000000001',"
             "'house_id':'65010000001','area':'65010101','workflow':'tpmap-household',"
             "'actor':'admin','to':'identified','data':{'team':'t1'}}");
    lb_map_set_int(b, "seq", seq);
    return b;
}

/* BLAKE2b-256(prev || msgpack(body)) computed here without proto's help. */
static void expected_chain(const lb_val_t *body, const uint8_t prev[32], uint8_t out[32])
{
    lb_buf_t b;
    pack_or_die(body, &b);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, prev, 32);
    crypto_generichash_update(&st, b.p, b.len);
    crypto_generichash_final(&st, out, 32);
    lb_buf_free(&b);
}

static void test_event_roundtrip(void)
{
    uint8_t prev[32] = {0}, chain[32], checked[32], want[32];
    for (int64_t seq = 1; seq <= 5; seq++) {
        lb_val_t *body = event_body(seq);
        lb_buf_t out;
        lb_buf_init(&out);
        CU_ASSERT_EQUAL_FATAL(proto_event_encode(body, prev, &out, chain), 0);
        expected_chain(body, prev, want);
        CU_ASSERT(memcmp(chain, want, 32) == 0);
        CU_ASSERT_EQUAL(proto_event_check(out.p, out.len, prev, checked), 0);
        CU_ASSERT(memcmp(chain, checked, 32) == 0);
        /* the published body is the original map plus chain, last */
        lb_val_t *v = NULL;
        CU_ASSERT_EQUAL(proto_unpack(out.p, out.len, NULL, &v, NULL), 0);
        CU_ASSERT_EQUAL(v->m.n, body->m.n + 1);
        CU_ASSERT_STRING_EQUAL(v->m.keys[v->m.n - 1], "chain");
        lb_val_t *c = lb_map_get(v, "chain");
        CU_ASSERT(c && c->type == LB_BIN && c->s.n == 32 && memcmp(c->s.p, chain, 32) == 0);
        lb_map_del(v, "chain");
        CU_ASSERT(lb_val_equal(v, body));
        /* the wrong previous value is corruption */
        uint8_t other[32];
        memcpy(other, prev, 32);
        other[31] ^= 1;
        CU_ASSERT_EQUAL(proto_event_check(out.p, out.len, other, checked), LB_ECORRUPT);
        memcpy(prev, chain, 32);
        lb_val_free(&v);
        lb_val_free(&body);
        lb_buf_free(&out);
    }
    /* NULL prev means 32 zero bytes (the first event) */
    uint8_t zero[32] = {0}, c1[32], c2[32];
    lb_val_t *body = event_body(1);
    lb_buf_t o1, o2;
    lb_buf_init(&o1);
    lb_buf_init(&o2);
    CU_ASSERT_EQUAL(proto_event_encode(body, NULL, &o1, c1), 0);
    CU_ASSERT_EQUAL(proto_event_encode(body, zero, &o2, c2), 0);
    CU_ASSERT(o1.len == o2.len && memcmp(o1.p, o2.p, o1.len) == 0 && memcmp(c1, c2, 32) == 0);
    CU_ASSERT_EQUAL(proto_event_check(o1.p, o1.len, NULL, NULL), 0);
    lb_buf_free(&o1);
    lb_buf_free(&o2);
    /* bodies the caller must not pass */
    lb_map_set(body, "chain", lb_bin(zero, 32));
    CU_ASSERT_EQUAL(proto_event_encode(body, zero, &o1, c1), LB_EINTERNAL);
    CU_ASSERT_EQUAL(o1.len, 0);
    lb_val_t *arr = lb_arr();
    CU_ASSERT_EQUAL(proto_event_encode(arr, zero, &o1, c1), LB_EINTERNAL);
    lb_buf_free(&o1);
    lb_val_free(&arr);
    lb_val_free(&body);
}

static void test_event_tamper(void)
{
    uint8_t prev[32], chain[32];
    for (int i = 0; i < 32; i++)
        prev[i] = (uint8_t)(i * 7);
    lb_val_t *body = event_body(77);
    lb_buf_t out;
    lb_buf_init(&out);
    CU_ASSERT_EQUAL_FATAL(proto_event_encode(body, prev, &out, chain), 0);
    /* every single flipped bit anywhere in the body is detected */
    for (size_t at = 0; at < out.len; at++) {
        for (int bit = 0; bit < 8; bit += 3) {
            uint8_t *p = malloc(out.len);
            memcpy(p, out.p, out.len);
            p[at] ^= (uint8_t)(1u << bit);
            int rc = proto_event_check(p, out.len, prev, NULL);
            CU_ASSERT_EQUAL(rc, LB_ECORRUPT);
            if (rc != LB_ECORRUPT)
                printf("\n  flip at %zu bit %d: rc %d\n", at, bit, rc);
            free(p);
        }
    }
    /* truncation and extension */
    for (size_t n = 0; n < out.len; n++)
        CU_ASSERT_EQUAL(proto_event_check(out.p, n, prev, NULL), LB_ECORRUPT);
    lb_buf_append(&out, "\x00", 1);
    CU_ASSERT_EQUAL(proto_event_check(out.p, out.len, prev, NULL), LB_ECORRUPT);
    out.len--;
    CU_ASSERT_EQUAL(proto_event_check(out.p, out.len, prev, NULL), 0);
    /* a map without chain, or chain not last, is corrupt */
    lb_buf_t plain;
    pack_or_die(body, &plain);
    CU_ASSERT_EQUAL(proto_event_check(plain.p, plain.len, prev, NULL), LB_ECORRUPT);
    lb_buf_free(&plain);
    lb_val_t *moved = NULL;
    CU_ASSERT_EQUAL(proto_unpack(out.p, out.len, NULL, &moved, NULL), 0);
    lb_val_t *cv = lb_val_dup(lb_map_get(moved, "chain"));
    lb_map_del(moved, "chain");
    lb_val_t *re = lb_map();
    lb_map_set(re, "chain", cv);
    for (uint32_t i = 0; i < moved->m.n; i++)
        lb_map_set(re, moved->m.keys[i], lb_val_dup(moved->m.vals[i]));
    pack_or_die(re, &plain);
    CU_ASSERT_EQUAL(proto_event_check(plain.p, plain.len, prev, NULL), LB_ECORRUPT);
    lb_buf_free(&plain);
    lb_val_free(&re);
    lb_val_free(&moved);
    lb_val_free(&body);
    lb_buf_free(&out);
}

static void test_event_header_boundary(void)
{
    /* 14 -> 15 entries stays fixmap; 15 -> 16 crosses to map16; 16 -> 17 stays map16 */
    for (uint32_t n = 13; n <= 17; n++) {
        lb_val_t *body = lb_map();
        for (uint32_t k = 0; k < n; k++) {
            char key[16];
            snprintf(key, sizeof(key), "k%02u", k);
            lb_map_set_int(body, key, k * 1000);
        }
        uint8_t prev[32], chain[32], want[32], checked[32];
        memset(prev, 0xab, sizeof(prev));
        lb_buf_t out;
        lb_buf_init(&out);
        CU_ASSERT_EQUAL_FATAL(proto_event_encode(body, prev, &out, chain), 0);
        expected_chain(body, prev, want);
        CU_ASSERT(memcmp(chain, want, 32) == 0);
        if (n + 1 < 16) {
            CU_ASSERT_EQUAL(out.p[0], 0x80 | (n + 1));
        } else {
            CU_ASSERT_EQUAL(out.p[0], 0xde);
            CU_ASSERT_EQUAL(out.p[1], 0);
            CU_ASSERT_EQUAL(out.p[2], n + 1);
        }
        CU_ASSERT_EQUAL(proto_event_check(out.p, out.len, prev, checked), 0);
        CU_ASSERT(memcmp(chain, checked, 32) == 0);
        /* a non-canonical (map16) header for a small map is refused */
        if (n + 1 < 16) {
            uint8_t *p = malloc(out.len + 2);
            p[0] = 0xde;
            p[1] = 0;
            p[2] = (uint8_t)(n + 1);
            memcpy(p + 3, out.p + 1, out.len - 1);
            CU_ASSERT_EQUAL(proto_event_check(p, out.len + 2, prev, NULL), LB_ECORRUPT);
            free(p);
        }
        lb_buf_free(&out);
        lb_val_free(&body);
    }
}

const cu_test_t proto_events_tests[] = {
    {"replies", test_replies},
    {"event roundtrip", test_event_roundtrip},
    {"event tamper", test_event_tamper},
    {"event header boundary", test_event_header_boundary},
};
const size_t proto_events_count = CU_COUNT(proto_events_tests);
