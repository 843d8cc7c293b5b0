/*
 * msgpack.c - test_proto: strict msgpack encoding and decoding: round trips, scalars, keys, limits,
 * depth.
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

/* ---------------------------------------------------------------------- */
/* msgpack                                                                 */
/* ---------------------------------------------------------------------- */

static void roundtrip(lb_val_t *v)
{
    lb_buf_t b;
    proto_err_t err;
    lb_val_t *back = NULL;
    pack_or_die(v, &b);
    int rc = proto_unpack(b.p, b.len, NULL, &back, &err);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
        printf("\n  unpack failed: %s (%s)\n", err.message, err.field);
    CU_ASSERT(lb_val_equal(v, back));
    lb_val_free(&back);
    lb_buf_free(&b);
    lb_val_free(&v);
}

static void test_roundtrip_types(void)
{
    static const int64_t ints[] = {
        0,         1,  127, 128, 255,  256,  65535,  65536,  4294967295LL, 4294967296LL,
        INT64_MAX, -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN,    (int64_t)INT32_MIN - 1,
        INT64_MIN};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        roundtrip(lb_int(ints[i]));
    roundtrip(lb_nil());
    roundtrip(lb_bool(true));
    roundtrip(lb_bool(false));
    roundtrip(lb_float(0.0));
    roundtrip(lb_float(-1.5e300));
    roundtrip(lb_float(INFINITY));
    roundtrip(lb_float(NAN));
    static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char *s = malloc(lens[i] + 1);
        memset(s, 'x', lens[i]);
        s[lens[i]] = 0;
        roundtrip(lb_strn(s, lens[i]));
        roundtrip(lb_bin(s, lens[i]));
        free(s);
    }
    roundtrip(lb_str("\xe0\xb8\x81\xe0\xb8\x82"));
    static const uint32_t counts[] = {0, 1, 15, 16, 17, 65535, 65536};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        proto_limits_t lim = proto_default_limits;
        lim.max_items = 70000;
        lb_val_t *a = lb_arr(), *m = lb_map();
        for (uint32_t k = 0; k < counts[i]; k++) {
            char key[16];
            snprintf(key, sizeof(key), "k%u", k);
            lb_arr_push(a, lb_int(k));
            if (counts[i] < 20 || k % 4096 == 0) /* huge maps via the limit test below */
                lb_map_set_int(m, key, k);
        }
        lb_buf_t b;
        lb_val_t *back = NULL;
        pack_or_die(a, &b);
        CU_ASSERT_EQUAL(proto_unpack(b.p, b.len, &lim, &back, NULL), 0);
        CU_ASSERT(lb_val_equal(a, back));
        lb_val_free(&back);
        lb_buf_free(&b);
        lb_val_free(&a);
        roundtrip(m);
    }
    roundtrip(tval("{'a':{'b':{'c':[1,[2,[3,{'d':'e'}]]]}},'f':[],'g':{}}"));
}

static void test_unpack_scalars_raw(void)
{
    proto_err_t err;
    lb_val_t *v = NULL;
    /* float32 */
    const uint8_t f32[] = {0xca, 0x3f, 0xc0, 0x00, 0x00};
    CU_ASSERT_EQUAL(proto_unpack(f32, sizeof(f32), NULL, &v, &err), 0);
    CU_ASSERT(v && v->type == LB_FLOAT && v->f == 1.5);
    lb_val_free(&v);
    /* uint64 above INT64_MAX is refused, INT64_MAX accepted */
    const uint8_t big[] = {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(unpack_raw(big, sizeof(big), NULL, &err), LB_EBADREQ);
    const uint8_t max[] = {0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CU_ASSERT_EQUAL(proto_unpack(max, sizeof(max), NULL, &v, &err), 0);
    CU_ASSERT(v && v->type == LB_INT && v->i == INT64_MAX);
    lb_val_free(&v);
    /* non-canonical forms are still accepted on input */
    const uint8_t u8[] = {0xcc, 0x05}, i16[] = {0xd1, 0xff, 0xfe}, s8[] = {0xd9, 0x01, 'a'};
    CU_ASSERT_EQUAL(proto_unpack(u8, sizeof(u8), NULL, &v, &err), 0);
    CU_ASSERT(v && v->i == 5);
    lb_val_free(&v);
    CU_ASSERT_EQUAL(proto_unpack(i16, sizeof(i16), NULL, &v, &err), 0);
    CU_ASSERT(v && v->i == -2);
    lb_val_free(&v);
    CU_ASSERT_EQUAL(proto_unpack(s8, sizeof(s8), NULL, &v, &err), 0);
    CU_ASSERT(v && v->type == LB_STR && strcmp(v->s.p, "a") == 0);
    lb_val_free(&v);
    /* 0xc1 is never used; empty input */
    const uint8_t c1[] = {0xc1};
    CU_ASSERT_EQUAL(unpack_raw(c1, 1, NULL, &err), LB_EBADREQ);
    CU_ASSERT_EQUAL(unpack_raw(c1, 0, NULL, &err), LB_EBADREQ);
    CU_ASSERT_EQUAL(unpack_raw(NULL, 0, NULL, &err), LB_EBADREQ);
}

static void test_unpack_ext_rejected(void)
{
    proto_err_t err;
    const uint8_t cases[][8] = {
        {0xd4, 1, 0},    {0xd5, 1, 0, 0},    {0xd6, 1, 0, 0, 0, 0},    {0xd7, 1, 0, 0, 0, 0, 0, 0},
        {0xc7, 1, 1, 0}, {0xc8, 0, 1, 1, 0}, {0xc9, 0, 0, 0, 1, 1, 0},
    };
    const size_t lens[] = {3, 4, 6, 8, 4, 5, 7};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        CU_ASSERT_EQUAL(unpack_raw(cases[i], lens[i], NULL, &err), LB_EBADREQ);
        CU_ASSERT(strstr(err.message, "ext") != NULL);
    }
    uint8_t fixext16[18] = {0xd8, 1};
    CU_ASSERT_EQUAL(unpack_raw(fixext16, sizeof(fixext16), NULL, &err), LB_EBADREQ);
    /* inside a map value, the path names it */
    const uint8_t inmap[] = {0x81, 0xa1, 'x', 0xd4, 1, 0};
    CU_ASSERT_EQUAL(unpack_raw(inmap, sizeof(inmap), NULL, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "x");
}

static void test_unpack_keys(void)
{
    proto_err_t err;
    const uint8_t intkey[] = {0x81, 0x01, 0x02};
    CU_ASSERT_EQUAL(unpack_raw(intkey, sizeof(intkey), NULL, &err), LB_EBADREQ);
    const uint8_t binkey[] = {0x81, 0xc4, 0x01, 'a', 0x02};
    CU_ASSERT_EQUAL(unpack_raw(binkey, sizeof(binkey), NULL, &err), LB_EBADREQ);
    const uint8_t nilkey[] = {0x81, 0xc0, 0x02};
    CU_ASSERT_EQUAL(unpack_raw(nilkey, sizeof(nilkey), NULL, &err), LB_EBADREQ);
    /* duplicate keys, small map */
    const uint8_t dup[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02};
    CU_ASSERT_EQUAL(unpack_raw(dup, sizeof(dup), NULL, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "a");
    /* duplicate keys in a nested map: path */
    const uint8_t dup2[] = {0x81, 0xa1, 'o', 0x82, 0xa1, 'k', 0x01, 0xa1, 'k', 0x02};
    CU_ASSERT_EQUAL(unpack_raw(dup2, sizeof(dup2), NULL, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "o.k");
    /* duplicate keys in a large map (sorted check) */
    lb_buf_t b;
    lb_buf_init(&b);
    const uint8_t hdr[] = {0xde, 0x00, 40};
    lb_buf_append(&b, hdr, 3);
    for (int k = 0; k < 40; k++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "k%02d", k == 33 ? 7 : k);
        uint8_t h = (uint8_t)(0xa0 | n);
        lb_buf_append(&b, &h, 1);
        lb_buf_append(&b, key, (size_t)n);
        lb_buf_append(&b, "\x01", 1);
    }
    CU_ASSERT_EQUAL(unpack_raw(b.p, b.len, NULL, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "k07");
    b.p[3 + 33 * 5 + 3] = '3'; /* k07 -> k33: now unique */
    b.p[3 + 33 * 5 + 2] = '3';
    CU_ASSERT_EQUAL(unpack_raw(b.p, b.len, NULL, &err), 0);
    lb_buf_free(&b);
}

static void test_unpack_utf8_nul(void)
{
    proto_err_t err;
    const uint8_t bad[] = {0xa2, 0xc3, 0x28};
    CU_ASSERT_EQUAL(unpack_raw(bad, sizeof(bad), NULL, &err), LB_EBADREQ);
    const uint8_t nul[] = {0xa3, 'a', 0x00, 'b'};
    CU_ASSERT_EQUAL(unpack_raw(nul, sizeof(nul), NULL, &err), LB_EBADREQ);
    const uint8_t badkey[] = {0x81, 0xa1, 0xff, 0x01};
    CU_ASSERT_EQUAL(unpack_raw(badkey, sizeof(badkey), NULL, &err), LB_EBADREQ);
    const uint8_t nulkey[] = {0x81, 0xa2, 'a', 0x00, 0x01};
    CU_ASSERT_EQUAL(unpack_raw(nulkey, sizeof(nulkey), NULL, &err), LB_EBADREQ);
    const uint8_t surrogate[] = {0xa3, 0xed, 0xa0, 0x80};
    CU_ASSERT_EQUAL(unpack_raw(surrogate, sizeof(surrogate), NULL, &err), LB_EBADREQ);
    /* bin may hold anything */
    const uint8_t bin[] = {0xc4, 0x03, 0x00, 0xff, 0xc3};
    CU_ASSERT_EQUAL(unpack_raw(bin, sizeof(bin), NULL, &err), 0);
    /* in a request: bad_request naming the argument */
    lb_val_t *r = R("case.ack", "{'case_id':'C000000001'}");
    lb_map_set(lb_map_get(r, "args"), "note", lb_strn("ok\0no", 5));
    EXPECT(r, LB_EBADREQ, "note");
    r = R("case.ack", "{'case_id':'C000000001'}");
    lb_map_set(lb_map_get(r, "args"), "note", lb_str("\xc3\x28"));
    EXPECT(r, LB_EBADREQ, "note");
}

static void test_unpack_trailing(void)
{
    proto_err_t err;
    const uint8_t two[] = {0x01, 0x02};
    CU_ASSERT_EQUAL(unpack_raw(two, sizeof(two), NULL, &err), LB_EBADREQ);
    lb_buf_t b;
    lb_val_t *r = R("ping", NULL);
    pack_or_die(r, &b);
    lb_val_free(&r);
    lb_buf_append(&b, "\xc0", 1);
    proto_req_t req;
    CU_ASSERT_EQUAL(proto_decode_request(b.p, b.len, NULL, &req, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(req.id, "req-1"); /* the id was readable */
    proto_req_clear(&req);
    lb_buf_free(&b);
}

static void test_unpack_huge_lengths(void)
{
    proto_err_t err;
    /* 4 billion items declared in a 10-byte buffer: refused before any allocation */
    const uint8_t arr32[10] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05};
    CU_ASSERT_NOT_EQUAL(unpack_raw(arr32, sizeof(arr32), NULL, &err), 0);
    const uint8_t map32[10] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'a', 0x01};
    CU_ASSERT_NOT_EQUAL(unpack_raw(map32, sizeof(map32), NULL, &err), 0);
    const uint8_t str32[10] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b'};
    CU_ASSERT_NOT_EQUAL(unpack_raw(str32, sizeof(str32), NULL, &err), 0);
    const uint8_t bin32[10] = {0xc6, 0xff, 0xff, 0xff, 0xff, 'a', 'b'};
    CU_ASSERT_NOT_EQUAL(unpack_raw(bin32, sizeof(bin32), NULL, &err), 0);
    const uint8_t arr16[4] = {0xdc, 0xff, 0xff, 0x01};
    CU_ASSERT_NOT_EQUAL(unpack_raw(arr16, sizeof(arr16), NULL, &err), 0);
    /* nested: an array32 header deep inside a map */
    const uint8_t nested[] = {0x81, 0xa1, 'x', 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x00};
    CU_ASSERT_NOT_EQUAL(unpack_raw(nested, sizeof(nested), NULL, &err), 0);
    /* a real array over max_items is too_large */
    proto_limits_t lim = proto_default_limits;
    lim.max_items = 100;
    lb_val_t *a = lb_arr();
    for (int i = 0; i < 101; i++)
        lb_arr_push(a, lb_int(i));
    lb_buf_t b;
    pack_or_die(a, &b);
    CU_ASSERT_EQUAL(unpack_raw(b.p, b.len, &lim, &err), LB_ETOOLARGE);
    lim.max_items = 101;
    CU_ASSERT_EQUAL(unpack_raw(b.p, b.len, &lim, &err), 0);
    lb_buf_free(&b);
    lb_val_free(&a);
    /* a string over max_str is too_large */
    lim = proto_default_limits;
    lim.max_str = 10;
    lb_val_t *s = lb_str("01234567890");
    pack_or_die(s, &b);
    CU_ASSERT_EQUAL(unpack_raw(b.p, b.len, &lim, &err), LB_ETOOLARGE);
    lim.max_str = 11;
    CU_ASSERT_EQUAL(unpack_raw(b.p, b.len, &lim, &err), 0);
    lb_buf_free(&b);
    lb_val_free(&s);
    /* max_nodes */
    lim = proto_default_limits;
    lim.max_nodes = 5;
    lb_val_t *m = tval("{'a':1,'b':2,'c':3}"); /* 7 values with the keys */
    pack_or_die(m, &b);
    CU_ASSERT_EQUAL(unpack_raw(b.p, b.len, &lim, &err), LB_ETOOLARGE);
    lim.max_nodes = 7;
    CU_ASSERT_EQUAL(unpack_raw(b.p, b.len, &lim, &err), 0);
    lb_buf_free(&b);
    lb_val_free(&m);
}

static void test_unpack_depth(void)
{
    proto_err_t err;
    uint8_t buf[200000];
    /* 16 nested arrays around an int: exactly the default depth */
    memset(buf, 0x91, 16);
    buf[16] = 0x01;
    CU_ASSERT_EQUAL(unpack_raw(buf, 17, NULL, &err), 0);
    memset(buf, 0x91, 17);
    buf[17] = 0x01;
    CU_ASSERT_EQUAL(unpack_raw(buf, 18, NULL, &err), LB_ETOOLARGE);
    /* very deep input never recurses deeply, whatever the limit says */
    memset(buf, 0x91, sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = 0x01;
    proto_limits_t lim = proto_default_limits;
    lim.max_depth = UINT32_MAX;
    CU_ASSERT_EQUAL(unpack_raw(buf, sizeof(buf), &lim, &err), LB_ETOOLARGE);
    CU_ASSERT_EQUAL(unpack_raw(buf, sizeof(buf), NULL, &err), LB_ETOOLARGE);
    /* nested maps: {"a": {"a": ...}} */
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        buf[n++] = 0x81;
        buf[n++] = 0xa1;
        buf[n++] = 'a';
    }
    buf[n++] = 0xc0;
    CU_ASSERT_EQUAL(unpack_raw(buf, n, NULL, &err), LB_ETOOLARGE);
    /* in a request the data argument has its own depth limit of 6 */
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'note',"
                         "'data':{'a':{'b':{'c':{'d':{'e':{'f':1}}}}}}}"),
           0, NULL);
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'note',"
                         "'data':{'a':{'b':{'c':{'d':{'e':{'f':[1]}}}}}}}"),
           LB_EBADREQ, "data");
}

const cu_test_t proto_msgpack_tests[] = {
    {"roundtrip every type", test_roundtrip_types},
    {"unpack scalars", test_unpack_scalars_raw},
    {"unpack ext rejected", test_unpack_ext_rejected},
    {"unpack keys and duplicates", test_unpack_keys},
    {"unpack utf8 and NUL", test_unpack_utf8_nul},
    {"unpack trailing bytes", test_unpack_trailing},
    {"unpack huge lengths and limits", test_unpack_huge_lengths},
    {"unpack depth", test_unpack_depth},
};
const size_t proto_msgpack_count = CU_COUNT(proto_msgpack_tests);
