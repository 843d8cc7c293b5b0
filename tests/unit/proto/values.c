/*
 * values.c - test_proto: the lb.h value tree, buffers, JSON output, UTF-8 and identifiers.
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
/* lb.h                                                                    */
/* ---------------------------------------------------------------------- */

static void test_errors(void)
{
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EBADREQ), "bad_request");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EBADVER), "bad_version");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EUNKNOWNOP), "unknown_op");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_ENOTFOUND), "not_found");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_ECONFLICT), "conflict");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EINVALID), "invalid_transition");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EGUARD), "guard_failed");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EFORBIDDEN), "forbidden");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_ETOOLARGE), "too_large");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EUNAVAIL), "unavailable");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EINTERNAL), "internal");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_ENOMEM), "internal");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_ECORRUPT), "internal");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EDISKFULL), "unavailable");
    CU_ASSERT_STRING_EQUAL(lb_errcode(LB_EEXIST), "conflict");
    CU_ASSERT_STRING_EQUAL(lb_errcode(-999), "internal");
    for (int e = 0; e >= -30; e--)
        CU_ASSERT_PTR_NOT_NULL(lb_strerror(e));
    CU_ASSERT_STRING_EQUAL(lb_strerror(12345), "unknown error");
}

static void test_buf(void)
{
    lb_buf_t b;
    lb_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(lb_buf_append(&b, "abc", 3), 0);
    CU_ASSERT_EQUAL(b.len, 3000);
    CU_ASSERT(memcmp(b.p + 2997, "abc", 3) == 0);
    CU_ASSERT_EQUAL(lb_buf_reserve(&b, 10000), 0);
    CU_ASSERT(b.cap >= b.len + 10000);
    CU_ASSERT_EQUAL(lb_buf_reserve(&b, SIZE_MAX), LB_ENOMEM);
    CU_ASSERT_EQUAL(b.len, 3000);
    lb_buf_free(&b);
    CU_ASSERT_PTR_NULL(b.p);
    CU_ASSERT_EQUAL(b.len, 0);
    lb_buf_free(&b);
}

static void test_val_map_array(void)
{
    lb_val_t *m = lb_map();
    CU_ASSERT_EQUAL(lb_map_set_str(m, "b", "x"), 0);
    CU_ASSERT_EQUAL(lb_map_set_int(m, "a", 7), 0);
    CU_ASSERT_EQUAL(lb_map_set_bool(m, "c", true), 0);
    CU_ASSERT_EQUAL(m->m.n, 3);
    CU_ASSERT_STRING_EQUAL(m->m.keys[0], "b"); /* insertion order */
    CU_ASSERT_STRING_EQUAL(lb_map_str(m, "b"), "x");
    CU_ASSERT_PTR_NULL(lb_map_str(m, "a"));
    int64_t i = 0;
    CU_ASSERT_EQUAL(lb_map_int(m, "a", &i), 0);
    CU_ASSERT_EQUAL(i, 7);
    CU_ASSERT_EQUAL(lb_map_int(m, "b", &i), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(lb_map_int(m, "zz", &i), LB_ENOTFOUND);
    /* replace keeps the position and frees the old value */
    CU_ASSERT_EQUAL(lb_map_set_str(m, "b", "y"), 0);
    CU_ASSERT_EQUAL(m->m.n, 3);
    CU_ASSERT_STRING_EQUAL(m->m.keys[0], "b");
    CU_ASSERT_STRING_EQUAL(lb_map_str(m, "b"), "y");
    CU_ASSERT_EQUAL(lb_map_del(m, "a"), 0);
    CU_ASSERT_EQUAL(lb_map_del(m, "a"), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(m->m.n, 2);
    CU_ASSERT_STRING_EQUAL(m->m.keys[1], "c");
    /* many keys: growth */
    for (int k = 0; k < 100; k++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", k);
        CU_ASSERT_EQUAL(lb_map_set_int(m, key, k), 0);
    }
    CU_ASSERT_EQUAL(m->m.n, 102);
    CU_ASSERT_EQUAL(lb_map_int(m, "k99", &i), 0);
    CU_ASSERT_EQUAL(i, 99);

    /* failure paths free what they were given (valgrind/ASan check the leak) */
    lb_val_t *a = lb_arr();
    CU_ASSERT_NOT_EQUAL(lb_map_set(a, "k", lb_str("leak?")), 0);
    CU_ASSERT_NOT_EQUAL(lb_arr_push(m, lb_str("leak?")), 0);
    CU_ASSERT_NOT_EQUAL(lb_map_set(m, "k", NULL), 0);
    CU_ASSERT_NOT_EQUAL(lb_arr_push(a, NULL), 0);
    CU_ASSERT_NOT_EQUAL(lb_map_set(NULL, "k", lb_int(1)), 0);
    CU_ASSERT_PTR_NULL(lb_map_get(a, "k"));
    for (int k = 0; k < 50; k++)
        CU_ASSERT_EQUAL(lb_arr_push(a, lb_int(k)), 0);
    CU_ASSERT_EQUAL(a->a.n, 50);
    CU_ASSERT_EQUAL(a->a.items[49]->i, 49);
    CU_ASSERT_EQUAL(lb_map_set(m, "arr", a), 0);
    lb_val_free(&m);
    CU_ASSERT_PTR_NULL(m);
    lb_val_free(&m);
    lb_val_free(NULL);

    CU_ASSERT_PTR_NULL(lb_str(NULL));
    lb_val_t *s = lb_strn("ab\0cd", 5);
    CU_ASSERT_EQUAL(s->s.n, 5);
    CU_ASSERT_EQUAL(s->s.p[5], '\0');
    lb_val_free(&s);
    lb_val_t *bin = lb_bin("\x00\x01", 2);
    CU_ASSERT_EQUAL(bin->type, LB_BIN);
    CU_ASSERT_EQUAL(bin->s.p[2], '\0');
    lb_val_free(&bin);
}

/* lb_map_put_new appends without a search; lb_map_set still replaces; strings live in their node.
 */
static void test_val_put_new(void)
{
    lb_val_t *m = lb_map();
    int rc = 0;
    lb_add_str(m, "a", "x", &rc);
    lb_add_int(m, "b", 2, &rc);
    lb_add_bool(m, "c", true, &rc);
    lb_add(m, "d", lb_arr(), &rc);
    for (int i = 0; i < 20; i++) { /* grows past the first capacities */
        char k[16];                /* room for any int (format-truncation under make asan) */
        snprintf(k, sizeof k, "k%d", i);
        lb_add_int(m, k, i, &rc);
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL_FATAL(m->m.n, 24);
    CU_ASSERT_STRING_EQUAL(m->m.keys[0], "a");
    CU_ASSERT_STRING_EQUAL(m->m.keys[23], "k19");
    CU_ASSERT_STRING_EQUAL(lb_map_str(m, "a"), "x");
    CU_ASSERT_EQUAL(lb_map_set_str(m, "a", "y"), 0); /* replaces, in place */
    CU_ASSERT_EQUAL(m->m.n, 24);
    CU_ASSERT_STRING_EQUAL(m->m.keys[0], "a");
    CU_ASSERT_STRING_EQUAL(lb_map_str(m, "a"), "y");
    /* a failed constructor (NULL) is ENOMEM; not a map is EINTERNAL; both free what they got */
    CU_ASSERT_EQUAL(lb_map_put_new(m, "z", NULL), LB_ENOMEM);
    lb_val_t *a = lb_arr();
    CU_ASSERT_EQUAL(lb_map_put_new(a, "z", lb_int(1)), LB_EINTERNAL);
    lb_add_int(m, "z", 1, &rc);
    rc = LB_ENOMEM; /* sticky: nothing more is added */
    lb_add_int(m, "w", 1, &rc);
    CU_ASSERT_PTR_NULL(lb_map_get(m, "w"));
    CU_ASSERT_EQUAL(rc, LB_ENOMEM);
    /* a string's bytes may be changed in place within its length */
    lb_val_t *s = lb_str("abc");
    CU_ASSERT(s->s_inline);
    s->s.p[0] = 'x';
    lb_val_t *d = lb_val_dup(s);
    CU_ASSERT_STRING_EQUAL(d->s.p, "xbc");
    CU_ASSERT(lb_val_equal(s, d));
    lb_val_free(&s);
    lb_val_free(&d);
    lb_val_free(&a);
    lb_val_free(&m);
}

/* A decoded small map is one allocation (m_block) and still behaves as any map when changed. */
static void test_val_block_map(void)
{
    lb_val_t *src = tval("{'a':1,'bb':'x','ccc':[1,{'d':2}]}");
    lb_buf_t b = {0};
    CU_ASSERT_EQUAL_FATAL(proto_pack(src, &b), 0);
    lb_val_t *m = NULL;
    proto_err_t err;
    CU_ASSERT_EQUAL_FATAL(proto_unpack(b.p, b.len, NULL, &m, &err), 0);
    CU_ASSERT(m->m_block);
    CU_ASSERT(lb_val_equal(m, src));
    lb_val_t *d = lb_val_dup(m); /* copies are ordinary maps */
    CU_ASSERT(!d->m_block && lb_val_equal(d, m));
    CU_ASSERT_EQUAL(lb_map_set_int(m, "a", 5), 0); /* replacing a value keeps the block */
    CU_ASSERT(m->m_block);
    CU_ASSERT_EQUAL(lb_map_del(m, "bb"), 0); /* so does removing a key */
    CU_ASSERT(m->m_block);
    CU_ASSERT_EQUAL(m->m.n, 2);
    CU_ASSERT_STRING_EQUAL(m->m.keys[1], "ccc");
    CU_ASSERT_EQUAL(lb_map_set_str(m, "e", "new"), 0); /* a new key moves it out */
    CU_ASSERT(!m->m_block);
    CU_ASSERT_EQUAL_FATAL(m->m.n, 3);
    CU_ASSERT_STRING_EQUAL(m->m.keys[0], "a");
    CU_ASSERT_STRING_EQUAL(m->m.keys[1], "ccc");
    CU_ASSERT_STRING_EQUAL(m->m.keys[2], "e");
    for (int i = 0; i < 10; i++) {
        char k[16]; /* room for any int (format-truncation under make asan) */
        snprintf(k, sizeof k, "k%d", i);
        CU_ASSERT_EQUAL(lb_map_set_int(m, k, i), 0);
    }
    CU_ASSERT_EQUAL(lb_map_del(m, "ccc"), 0);
    lb_val_t *want = tval("{'a':5,'e':'new','k0':0,'k1':1,'k2':2,'k3':3,'k4':4,'k5':5,'k6':6,"
                          "'k7':7,'k8':8,'k9':9}");
    CU_ASSERT(lb_val_equal(m, want));
    /* the same bytes back out, in the same order */
    lb_buf_t b2 = {0};
    CU_ASSERT_EQUAL(proto_pack(d, &b2), 0);
    CU_ASSERT(b2.len == b.len && memcmp(b2.p, b.p, b.len) == 0);
    /* its scalars live in the block too: replacing, removing and copying them still works */
    lb_val_t *sc = tval("{'s':'text','n':-5,'f':1.5,'t':true,'z':null,'big':12345678901,"
                        "'u':'\xe0\xb8\x81','e':'','l':[1,'x'],'m':{'k':'v'}}");
    lb_val_t *bin = lb_bin("\x00\x01\xff", 3);
    CU_ASSERT_EQUAL(lb_map_set(sc, "b", bin), 0);
    lb_buf_t b4 = {0};
    CU_ASSERT_EQUAL_FATAL(proto_pack(sc, &b4), 0);
    lb_val_t *got = NULL;
    CU_ASSERT_EQUAL_FATAL(proto_unpack(b4.p, b4.len, NULL, &got, &err), 0);
    CU_ASSERT(got->m_block && lb_val_equal(got, sc));
    const lb_val_t *gs = lb_map_get(got, "s");
    CU_ASSERT(gs && gs->in_block && gs->s_inline && gs->s.p[gs->s.n] == '\0');
    CU_ASSERT(!lb_map_get(got, "l")->in_block); /* containers are nodes of their own */
    const lb_val_t *gb = lb_map_get(got, "b");
    CU_ASSERT(gb && gb->type == LB_BIN && gb->s.n == 3 && memcmp(gb->s.p, "\x00\x01\xff", 3) == 0);
    lb_val_t *copy = lb_val_dup(lb_map_get(got, "s"));
    CU_ASSERT(copy && !copy->in_block && strcmp(copy->s.p, "text") == 0);
    lb_val_free(&copy);
    CU_ASSERT_EQUAL(lb_map_set_str(got, "s", "other"), 0);
    CU_ASSERT_EQUAL(lb_map_del(got, "n"), 0);
    CU_ASSERT_EQUAL(lb_map_set_int(got, "new", 1), 0);
    CU_ASSERT_STRING_EQUAL(lb_map_str(got, "s"), "other");
    CU_ASSERT_STRING_EQUAL(lb_map_str(got, "u"), "\xe0\xb8\x81");
    CU_ASSERT_PTR_NULL(lb_map_get(got, "n"));
    lb_val_free(&got);
    lb_val_free(&sc);
    lb_buf_free(&b4);

    /* empty maps and one with a long key (over the decoder's stack room for key text) */
    lb_val_t *e = NULL;
    CU_ASSERT_EQUAL(proto_unpack("\x80", 1, NULL, &e, &err), 0);
    CU_ASSERT(e && e->type == LB_MAP && e->m.n == 0);
    lb_val_free(&e);
    char longkey[600];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    lb_val_t *lk = lb_map();
    CU_ASSERT_EQUAL(lb_map_set_int(lk, "x", 1), 0);
    CU_ASSERT_EQUAL(lb_map_set_int(lk, longkey, 2), 0);
    lb_buf_t b3 = {0};
    CU_ASSERT_EQUAL(proto_pack(lk, &b3), 0);
    CU_ASSERT_EQUAL(proto_unpack(b3.p, b3.len, NULL, &e, &err), 0);
    CU_ASSERT(e && e->m_block && lb_val_equal(e, lk));
    lb_val_free(&e);
    lb_val_free(&lk);
    lb_buf_free(&b3);
    lb_buf_free(&b2);
    lb_val_free(&want);
    lb_val_free(&d);
    lb_val_free(&m);
    lb_val_free(&src);
    lb_buf_free(&b);
}

static void test_val_dup_equal(void)
{
    lb_val_t *a = tval("{'x':[1,2.5,'s',true,null,{'y':{}}],'z':-3}");
    lb_map_set(a, "b", lb_bin("\x01\x02\x03", 3));
    lb_val_t *b = lb_val_dup(a);
    CU_ASSERT(lb_val_equal(a, b));
    CU_ASSERT(lb_val_equal(b, a));
    lb_val_t *c = tval("{'z':-3,'x':[1,2.5,'s',true,null,{'y':{}}]}");
    lb_map_set(c, "b", lb_bin("\x01\x02\x03", 3));
    CU_ASSERT(lb_val_equal(a, c)); /* key order ignored */
    lb_map_set_int(c, "z", -4);
    CU_ASSERT(!lb_val_equal(a, c));
    lb_map_set_int(c, "z", -3);
    lb_map_set(c, "b", lb_str("\x01\x02\x03")); /* same bytes, other type */
    CU_ASSERT(!lb_val_equal(a, c));
    lb_val_t *d = tval("[1,2]"), *e = tval("[2,1]"), *f = tval("[1,2,3]");
    CU_ASSERT(!lb_val_equal(d, e));
    CU_ASSERT(!lb_val_equal(d, f));
    CU_ASSERT(!lb_val_equal(d, NULL));
    CU_ASSERT(lb_val_equal(NULL, NULL));
    CU_ASSERT_PTR_NULL(lb_val_dup(NULL));
    lb_val_t *n1 = lb_float(NAN), *n2 = lb_float(NAN);
    CU_ASSERT(lb_val_equal(n1, n2));
    lb_val_t *i1 = lb_int(1), *f1 = lb_float(1.0);
    CU_ASSERT(!lb_val_equal(i1, f1));
    lb_val_t *vals[] = {a, b, c, d, e, f, n1, n2, i1, f1};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        lb_val_free(&vals[i]);
}

static char *json_of(const lb_val_t *v, int indent)
{
    lb_buf_t b;
    lb_buf_init(&b);
    CU_ASSERT_EQUAL(lb_val_to_json(v, indent, &b), 0);
    lb_buf_append(&b, "", 1);
    return (char *)b.p;
}

static void test_json(void)
{
    lb_val_t *v = tval("{'a':1,'b':[true,false,null],'c':'x\"y','d':{},'e':[],'f':-2.5}");
    lb_map_set(v, "g", lb_bin("\xde\xad", 2));
    lb_map_set(v, "h", lb_str("tab\there\nnl\\ \x01 \xe0\xb8\x81"));
    lb_map_set(v, "i", lb_float(NAN));
    lb_map_set(v, "j", lb_int(INT64_MIN));
    char *s = json_of(v, 0);
    CU_ASSERT_STRING_EQUAL(s,
                           "{\"a\": 1, \"b\": [true, false, null], \"c\": \"x\\\"y\", \"d\": {}, "
                           "\"e\": [], \"f\": -2.5, \"g\": \"dead\", "
                           "\"h\": \"tab\\there\\nnl\\\\ \\u0001 \xe0\xb8\x81\", \"i\": null, "
                           "\"j\": -9223372036854775808}");
    free(s);
    lb_val_t *p = tval("{'a':[1,{'b':2}]}");
    s = json_of(p, 2);
    CU_ASSERT_STRING_EQUAL(s, "{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ]\n}");
    free(s);
    lb_val_t *f = lb_float(0.1);
    s = json_of(f, 0);
    CU_ASSERT_STRING_EQUAL(s, "0.1");
    free(s);
    FILE *tmp = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
    CU_ASSERT_EQUAL(lb_val_fprint_json(p, 0, tmp), 0);
    CU_ASSERT_EQUAL(ftell(tmp), (long)strlen("{\"a\": [1, {\"b\": 2}]}"));
    fclose(tmp);
    lb_val_free(&v);
    lb_val_free(&p);
    lb_val_free(&f);
}

static void test_utf8(void)
{
    CU_ASSERT(lb_utf8_valid("", 0));
    CU_ASSERT(lb_utf8_valid("hello", 5));
    CU_ASSERT(lb_utf8_valid("\xe0\xb8\x9a\xe0\xb9\x89\xe0\xb8\xb2\xe0\xb8\x99", 12)); /* Thai */
    CU_ASSERT(lb_utf8_valid("\xc2\xa9", 2));
    CU_ASSERT(lb_utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
    CU_ASSERT(lb_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    CU_ASSERT(!lb_utf8_valid("a\0b", 3));             /* NUL */
    CU_ASSERT(!lb_utf8_valid("\x80", 1));             /* lone continuation */
    CU_ASSERT(!lb_utf8_valid("\xc0\xaf", 2));         /* overlong / */
    CU_ASSERT(!lb_utf8_valid("\xc1\xbf", 2));         /* overlong */
    CU_ASSERT(!lb_utf8_valid("\xe0\x80\xaf", 3));     /* overlong 3-byte */
    CU_ASSERT(!lb_utf8_valid("\xf0\x80\x80\xaf", 4)); /* overlong 4-byte */
    CU_ASSERT(!lb_utf8_valid("\xed\xa0\x80", 3));     /* surrogate D800 */
    CU_ASSERT(!lb_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CU_ASSERT(!lb_utf8_valid("\xf5\x80\x80\x80", 4));
    CU_ASSERT(!lb_utf8_valid("\xff", 1));
    CU_ASSERT(!lb_utf8_valid("\xe0\xb8", 2));     /* truncated */
    CU_ASSERT(!lb_utf8_valid("\xe0\xb8\x41", 3)); /* bad continuation */
    CU_ASSERT(!lb_utf8_valid("\xc2", 1));
    /* eight bytes at a time for ASCII: what falls in or after such a run is still seen */
    CU_ASSERT(lb_utf8_valid("abcdefgh", 8));
    CU_ASSERT(lb_utf8_valid("abcdefghijklmnopq", 17));
    CU_ASSERT(lb_utf8_valid("abcdefg\xe0\xb8\x81"
                            "abcdefgh",
                            18));
    CU_ASSERT(!lb_utf8_valid("abcdefgh\0ijk", 12));
    CU_ASSERT(!lb_utf8_valid("abc\0efghijk", 12));
    CU_ASSERT(!lb_utf8_valid("abcdefg\x80", 8));
    CU_ASSERT(!lb_utf8_valid("abcdefghijklmno\xff", 16));
    CU_ASSERT(!lb_utf8_valid("abcdefgh\xe0\xb8", 10));
    CU_ASSERT(!lb_utf8_valid("\x01\x01\x01\x01\x01\x01\x01\0", 8));
    CU_ASSERT(lb_utf8_valid("\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f", 8));
}

static void test_ids_house_area(void)
{
    CU_ASSERT(lb_valid_house_id("65010000001"));
    CU_ASSERT(!lb_valid_house_id("6501000000"));
    CU_ASSERT(!lb_valid_house_id("650100000012"));
    CU_ASSERT(!lb_valid_house_id("6501000000a"));
    CU_ASSERT(!lb_valid_house_id(""));
    CU_ASSERT(!lb_valid_house_id(NULL));
    CU_ASSERT(lb_valid_area("65", false));
    CU_ASSERT(lb_valid_area("6501", false));
    CU_ASSERT(lb_valid_area("650101", false));
    CU_ASSERT(lb_valid_area("65010101", false));
    CU_ASSERT(!lb_valid_area("6", false));
    CU_ASSERT(!lb_valid_area("650", false));
    CU_ASSERT(!lb_valid_area("650101011", false));
    CU_ASSERT(!lb_valid_area("65x1", false));
    CU_ASSERT(!lb_valid_area("", false));
    CU_ASSERT(lb_valid_area("65010101", true));
    CU_ASSERT(!lb_valid_area("650101", true));
    CU_ASSERT(!lb_valid_area(NULL, true));
}

/* Builds a valid nid from its first 12 digits (the DOMAIN.md rule, written independently). */
static void make_nid(const char *first12, char out[14])
{
    int sum = 0;
    for (int i = 0; i < 12; i++)
        sum += (first12[i] - '0') * (13 - i);
    memcpy(out, first12, 12);
    out[12] = (char)('0' + (11 - sum % 11) % 10);
    out[13] = '\0';
}

static void test_nid(void)
{
    CU_ASSERT(lb_valid_nid("1234567890121"));
    CU_ASSERT(!lb_valid_nid("1234567890122")); /* bad check digit */
    CU_ASSERT(!lb_valid_nid("1234567890120"));
    char nid[14];
    for (int first = 0; first <= 9; first++) {
        char base[32];
        snprintf(base, sizeof(base), "%d10170020345", first);
        make_nid(base, nid);
        CU_ASSERT_EQUAL(lb_valid_nid(nid), first >= 1 && first <= 8);
        /* every other last digit is wrong */
        for (int d = '0'; d <= '9'; d++) {
            if (d == nid[12])
                continue;
            char bad[14];
            memcpy(bad, nid, 14);
            bad[12] = (char)d;
            CU_ASSERT(!lb_valid_nid(bad));
        }
    }
    /* sums with sum mod 11 = 0 and 1 exercise both ends of the mod 10 */
    int seen0 = 0, seen1 = 0;
    for (int k = 0; k < 200; k++) {
        char base[32];
        snprintf(base, sizeof(base), "3%011d", k * 7919);
        int sum = 0;
        for (int i = 0; i < 12; i++)
            sum += (base[i] - '0') * (13 - i);
        seen0 |= sum % 11 == 0;
        seen1 |= sum % 11 == 1;
        make_nid(base, nid);
        CU_ASSERT(lb_valid_nid(nid));
    }
    CU_ASSERT(seen0 && seen1);
    CU_ASSERT(!lb_valid_nid("123456789012"));
    CU_ASSERT(!lb_valid_nid("12345678901211"));
    CU_ASSERT(!lb_valid_nid("12345678901a1"));
    CU_ASSERT(!lb_valid_nid(""));
    CU_ASSERT(!lb_valid_nid(NULL));
}

static void test_case_id(void)
{
    char id[LB_CASE_ID_MAX];
    lb_case_id_format(42, id);
    CU_ASSERT_STRING_EQUAL(id, "C000000042");
    lb_case_id_format(0, id);
    CU_ASSERT_STRING_EQUAL(id, "C000000000");
    lb_case_id_format(1234567890, id);
    CU_ASSERT_STRING_EQUAL(id, "C1234567890");
    lb_case_id_format(UINT64_MAX, id);
    CU_ASSERT_STRING_EQUAL(id, "C18446744073709551615");
    uint64_t n = 0;
    CU_ASSERT_EQUAL(lb_case_id_parse("C000000042", &n), 0);
    CU_ASSERT_EQUAL(n, 42);
    CU_ASSERT_EQUAL(lb_case_id_parse("C18446744073709551615", &n), 0);
    CU_ASSERT_EQUAL(n, UINT64_MAX);
    for (uint64_t k = 1; k < UINT64_MAX / 3; k = k * 3 + 1) {
        lb_case_id_format(k, id);
        CU_ASSERT_EQUAL(lb_case_id_parse(id, &n), 0);
        CU_ASSERT_EQUAL(n, k);
    }
    CU_ASSERT_EQUAL(lb_case_id_parse("C18446744073709551616", &n), LB_EBADREQ); /* overflow */
    CU_ASSERT_EQUAL(lb_case_id_parse("C00000042", &n), LB_EBADREQ);             /* 8 digits */
    CU_ASSERT_EQUAL(lb_case_id_parse("C0000000042", &n), LB_EBADREQ);           /* not canonical */
    CU_ASSERT_EQUAL(lb_case_id_parse("c000000042", &n), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_case_id_parse("C00000004x", &n), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_case_id_parse("C000000042 ", &n), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_case_id_parse("", &n), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_case_id_parse(NULL, &n), LB_EBADREQ);
}

/* tests/lib/tval.h: the helper every test file builds its values with. */
static void test_tval_helper(void)
{
    lb_val_t *v = tval("{'a':[1,-2.5e3,\"x\\n\\u0e01\",true,null,{}],'b':{'c':'it\\'s'}}");
    CU_ASSERT_EQUAL_FATAL(v->type, LB_MAP);
    const lb_val_t *a = lb_map_get(v, "a");
    CU_ASSERT_EQUAL_FATAL(a->a.n, 6);
    CU_ASSERT_EQUAL(a->a.items[0]->type, LB_INT);
    CU_ASSERT_EQUAL(a->a.items[1]->type, LB_FLOAT);
    CU_ASSERT_STRING_EQUAL(a->a.items[2]->s.p, "x\n\xe0\xb8\x81");
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(v, "b"), "c"), "it's");
    CU_ASSERT(tval_eq(v, "{'b':{'c':\"it's\"},'a':[1,-2500.0,'x\\n\u0e01',true,null,{}]}"));
    CU_ASSERT(tval_match(v, "{'b':{}}"));
    fprintf(stderr, "(two mismatches printed on purpose:)");
    CU_ASSERT(!tval_eq(v, "{'b':{'c':\"it's\"}}"));
    CU_ASSERT(!tval_match(v, "{'a':[1]}"));
    lb_val_free(&v);
    v = tvalf("[%d,'%s']", 7, "seven");
    CU_ASSERT(tval_eq(v, "[7,'seven']"));
    lb_val_free(&v);

    CU_ASSERT_TRUE(
        tval_json_ok("{\"a\": [1, -2.5e3, \"x\\n\\u0e01\", true, null, {}], \"b\": {}}\n"));
    CU_ASSERT_FALSE(tval_json_ok("{\"a\": 1,}"));
    CU_ASSERT_FALSE(tval_json_ok("{\"a\" 1}"));
    CU_ASSERT_FALSE(tval_json_ok("[1, 2"));
    CU_ASSERT_FALSE(tval_json_ok("{} {}"));
    CU_ASSERT_FALSE(tval_json_ok("01"));
    CU_ASSERT_FALSE(tval_json_ok("{'a': 1}"));
    CU_ASSERT_FALSE(tval_json_ok(NULL));
    CU_ASSERT_TRUE(tval_json_lines_ok("{}\n[1]\n\n2\n"));
    CU_ASSERT_FALSE(tval_json_lines_ok("{}\n[1\n"));
}

const cu_test_t proto_values_tests[] = {
    {"errors", test_errors},
    {"buf", test_buf},
    {"val map and array", test_val_map_array},
    {"val put_new appends", test_val_put_new},
    {"val decoded maps in one block", test_val_block_map},
    {"val dup and equal", test_val_dup_equal},
    {"json", test_json},
    {"utf8", test_utf8},
    {"house id and area", test_ids_house_area},
    {"national id", test_nid},
    {"case id", test_case_id},
    {"tval test helper", test_tval_helper},
};
const size_t proto_values_count = CU_COUNT(proto_values_tests);
