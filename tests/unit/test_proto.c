/*
 * test_proto.c - CUnit tests of proto/: the lb.h value tree, JSON and
 * identifiers, strict msgpack decoding (limits, truncation, random and mutated
 * input), request schemas for every op and error code, replies, and the event
 * audit chain. Run under ASan and valgrind as well: the fuzz-style tests rely
 * on them to catch leaks and out-of-bounds reads.
 */
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/lb.h"
#include "../../proto/proto.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

/*
 * A tiny JSON reader for building test values; single quotes also delimit
 * strings so literals need no escaping. A parse error is a bug in the test.
 */
static lb_val_t *jval(const char **s);

static void jws(const char **s)
{
    while (isspace((unsigned char)**s))
        (*s)++;
}

static char *jstr(const char **s)
{
    char q = **s;
    if (q != '\'' && q != '"') {
        fprintf(stderr, "test JSON: string expected at '%s'\n", *s);
        abort();
    }
    const char *start = ++(*s);
    while (**s && **s != q)
        (*s)++;
    if (!**s)
        abort();
    char *out = strndup(start, (size_t)(*s - start));
    (*s)++;
    return out;
}

static lb_val_t *jval(const char **s)
{
    jws(s);
    char c = **s;
    if (c == '{') {
        lb_val_t *m = lb_map();
        (*s)++;
        jws(s);
        if (**s == '}') {
            (*s)++;
            return m;
        }
        for (;;) {
            jws(s);
            char *k = jstr(s);
            jws(s);
            if (**s != ':')
                abort();
            (*s)++;
            if (lb_map_set(m, k, jval(s)))
                abort();
            free(k);
            jws(s);
            if (**s == ',') {
                (*s)++;
                continue;
            }
            if (**s == '}') {
                (*s)++;
                return m;
            }
            abort();
        }
    }
    if (c == '[') {
        lb_val_t *a = lb_arr();
        (*s)++;
        jws(s);
        if (**s == ']') {
            (*s)++;
            return a;
        }
        for (;;) {
            if (lb_arr_push(a, jval(s)))
                abort();
            jws(s);
            if (**s == ',') {
                (*s)++;
                continue;
            }
            if (**s == ']') {
                (*s)++;
                return a;
            }
            abort();
        }
    }
    if (c == '\'' || c == '"') {
        char *str = jstr(s);
        lb_val_t *v = lb_str(str);
        free(str);
        return v;
    }
    if (strncmp(*s, "true", 4) == 0) {
        *s += 4;
        return lb_bool(true);
    }
    if (strncmp(*s, "false", 5) == 0) {
        *s += 5;
        return lb_bool(false);
    }
    if (strncmp(*s, "null", 4) == 0) {
        *s += 4;
        return lb_nil();
    }
    const char *e = *s;
    if (*e == '-')
        e++;
    while (isdigit((unsigned char)*e))
        e++;
    if (*e == '.' || *e == 'e') {
        char *end;
        double d = strtod(*s, &end);
        *s = end;
        return lb_float(d);
    }
    if (e == *s)
        abort();
    long long i = strtoll(*s, NULL, 10);
    *s = e;
    return lb_int(i);
}

static lb_val_t *J(const char *text)
{
    lb_val_t *v = jval(&text);
    jws(&text);
    if (*text)
        abort();
    return v;
}

/* {v:1, id:"req-1", op, args} with args as JSON (NULL: no args key). */
static lb_val_t *R(const char *op, const char *args)
{
    lb_val_t *r = lb_map();
    lb_map_set_int(r, "v", 1);
    lb_map_set_str(r, "id", "req-1");
    lb_map_set_str(r, "op", op);
    if (args)
        lb_map_set(r, "args", J(args));
    return r;
}

static void pack_or_die(const lb_val_t *v, lb_buf_t *b)
{
    lb_buf_init(b);
    if (proto_pack(v, b) != 0)
        abort();
}

/* Packs doc (consumed), decodes it and checks the result code and error field. */
static void expect_at(lb_val_t *doc, int code, const char *field, const proto_limits_t *lim,
                      int line)
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
#define EXPECT(doc, code, field) expect_at((doc), (code), (field), NULL, __LINE__)

/* Decodes raw bytes with proto_unpack; returns the code and frees the result. */
static int unpack_raw(const void *p, size_t n, const proto_limits_t *lim, proto_err_t *err)
{
    lb_val_t *v = NULL;
    int rc = proto_unpack(p, n, lim, &v, err);
    if (rc)
        CU_ASSERT(v == NULL);
    lb_val_free(&v);
    return rc;
}

static const char *HH =
    "{'house_id':'65010000001','area':'65010101','address':'1 Moo 1','head':'Somchai',"
    "'members':[{'nid':'1234567890121','name':'Somchai','birth_year':1970,'sex':'m'},"
    "{'name':'Malee','sex':'f'}],'deprived':['bmn1','bmn7']}";

/* case.open args with the household given as JSON. */
static lb_val_t *open_req(const char *household)
{
    char args[2048];
    snprintf(args, sizeof(args), "{'household':%s}", household);
    return R("case.open", args);
}

static uint64_t rng_state;
static uint64_t rng(void)
{
    /* xorshift64*: deterministic across runs, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

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

static void test_val_dup_equal(void)
{
    lb_val_t *a = J("{'x':[1,2.5,'s',true,null,{'y':{}}],'z':-3}");
    lb_map_set(a, "b", lb_bin("\x01\x02\x03", 3));
    lb_val_t *b = lb_val_dup(a);
    CU_ASSERT(lb_val_equal(a, b));
    CU_ASSERT(lb_val_equal(b, a));
    lb_val_t *c = J("{'z':-3,'x':[1,2.5,'s',true,null,{'y':{}}]}");
    lb_map_set(c, "b", lb_bin("\x01\x02\x03", 3));
    CU_ASSERT(lb_val_equal(a, c)); /* key order ignored */
    lb_map_set_int(c, "z", -4);
    CU_ASSERT(!lb_val_equal(a, c));
    lb_map_set_int(c, "z", -3);
    lb_map_set(c, "b", lb_str("\x01\x02\x03")); /* same bytes, other type */
    CU_ASSERT(!lb_val_equal(a, c));
    lb_val_t *d = J("[1,2]"), *e = J("[2,1]"), *f = J("[1,2,3]");
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
    lb_val_t *v = J("{'a':1,'b':[true,false,null],'c':'x\"y','d':{},'e':[],'f':-2.5}");
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
    lb_val_t *p = J("{'a':[1,{'b':2}]}");
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
        for (char d = '0'; d <= '9'; d++) {
            if (d == nid[12])
                continue;
            char bad[14];
            memcpy(bad, nid, 14);
            bad[12] = d;
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
    roundtrip(J("{'a':{'b':{'c':[1,[2,[3,{'d':'e'}]]]}},'f':[],'g':{}}"));
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
    lb_val_t *m = J("{'a':1,'b':2,'c':3}"); /* 7 values with the keys */
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

/* ---------------------------------------------------------------------- */
/* Requests                                                                */
/* ---------------------------------------------------------------------- */

static void test_op_names(void)
{
    for (int i = 0; i < PROTO_OP_COUNT; i++) {
        const char *n = proto_op_name((proto_op_t)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(n);
        CU_ASSERT_EQUAL(proto_op_lookup(n), i);
    }
    CU_ASSERT_PTR_NULL(proto_op_name(PROTO_OP_COUNT));
    CU_ASSERT_PTR_NULL(proto_op_name((proto_op_t)-1));
    CU_ASSERT_EQUAL(proto_op_lookup("case.opem"), -1);
    CU_ASSERT_EQUAL(proto_op_lookup(""), -1);
    CU_ASSERT_EQUAL(proto_op_lookup(NULL), -1);
    CU_ASSERT(proto_op_writes(PROTO_OP_CASE_OPEN));
    CU_ASSERT(proto_op_writes(PROTO_OP_CASE_IMPORT));
    CU_ASSERT(proto_op_writes(PROTO_OP_CASE_ACT));
    CU_ASSERT(proto_op_writes(PROTO_OP_CASE_ACK));
    CU_ASSERT(!proto_op_writes(PROTO_OP_CASE_GET));
    CU_ASSERT(!proto_op_writes(PROTO_OP_PING));
    CU_ASSERT(!proto_op_writes(PROTO_OP_EVENTS_SINCE));
    CU_ASSERT(!proto_op_writes(PROTO_OP_COUNT));
}

static const struct {
    const char *op;
    const char *args;
    proto_op_t want;
} valid_reqs[] = {
    {"ping", NULL, PROTO_OP_PING},
    {"ping", "{}", PROTO_OP_PING},
    {"workflow.list", NULL, PROTO_OP_WORKFLOW_LIST},
    {"workflow.get", "{'name':'tpmap-household'}", PROTO_OP_WORKFLOW_GET},
    {"case.open", NULL /* built from HH */, PROTO_OP_CASE_OPEN},
    {"case.import",
     "{'households':[{'house_id':'65010000001','area':'65010101'},"
     "{'house_id':'65010000002','area':'65010101'}],'source':'socialmap',"
     "'workflow':'tpmap-household'}",
     PROTO_OP_CASE_IMPORT},
    {"case.act",
     "{'case_id':'C000000042','action':'record_visit','data':{'team':'t1',"
     "'findings':{'health':['bmn1']},'needs':[{'dimension':'income'}]},"
     "'expect_state':'identified','at':1700000000000}",
     PROTO_OP_CASE_ACT},
    {"case.act", "{'case_id':'C000000042','action':'close'}", PROTO_OP_CASE_ACT},
    {"case.ack", "{'case_id':'C000000042','note':'seen by the committee'}", PROTO_OP_CASE_ACK},
    {"case.ack", "{'case_id':'C000000042'}", PROTO_OP_CASE_ACK},
    {"case.get", "{'case_id':'C1234567890'}", PROTO_OP_CASE_GET},
    {"case.find", "{'house_id':'65010000001'}", PROTO_OP_CASE_FIND},
    {"case.find", "{'nid':'1234567890121'}", PROTO_OP_CASE_FIND},
    {"case.history", "{'case_id':'C000000001','after_seq':0,'limit':10000}", PROTO_OP_CASE_HISTORY},
    {"case.history", "{'case_id':'C000000001'}", PROTO_OP_CASE_HISTORY},
    {"case.list",
     "{'area':'6501','state':'identified','workflow':'tpmap-household',"
     "'team':'team-a','overdue':true,'limit':1000,'after':'opaque'}",
     PROTO_OP_CASE_LIST},
    {"case.list", "{}", PROTO_OP_CASE_LIST},
    {"report.summary", "{'area':'65','by':'district'}", PROTO_OP_REPORT_SUMMARY},
    {"report.summary", "{'by':'level'}", PROTO_OP_REPORT_SUMMARY},
    {"events.since", "{'seq':0,'limit':10000}", PROTO_OP_EVENTS_SINCE},
    {"events.since", "{'seq':9007199254740993}", PROTO_OP_EVENTS_SINCE},
    {"admin.stats", NULL, PROTO_OP_ADMIN_STATS},
    {"admin.backup", "{'path':'/var/backups/logbook'}", PROTO_OP_ADMIN_BACKUP},
    {"admin.reload", "{}", PROTO_OP_ADMIN_RELOAD},
    {"admin.verify", NULL, PROTO_OP_ADMIN_VERIFY},
    {"admin.clock", "{'advance_s':0}", PROTO_OP_ADMIN_CLOCK},
    {"admin.clock", "{'advance_s':315360000}", PROTO_OP_ADMIN_CLOCK},
};
#define N_VALID (sizeof(valid_reqs) / sizeof(valid_reqs[0]))

static lb_val_t *valid_req(size_t i)
{
    if (strcmp(valid_reqs[i].op, "case.open") == 0) {
        char args[2048];
        snprintf(args, sizeof(args),
                 "{'household':%s,'workflow':'tpmap-household','source':'field','team':'t-1'}", HH);
        return R("case.open", args);
    }
    return R(valid_reqs[i].op, valid_reqs[i].args);
}

static void test_every_op_valid(void)
{
    bool seen[PROTO_OP_COUNT] = {false};
    for (size_t i = 0; i < N_VALID; i++) {
        lb_val_t *r = valid_req(i);
        lb_buf_t b;
        pack_or_die(r, &b);
        proto_req_t req;
        proto_err_t err;
        int rc = proto_decode_request(b.p, b.len, NULL, &req, &err);
        if (rc)
            printf("\n  %s: %s (%s)\n", valid_reqs[i].op, err.message, err.field);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(req.op, valid_reqs[i].want);
        CU_ASSERT_STRING_EQUAL(req.id, "req-1");
        CU_ASSERT_PTR_NOT_NULL(req.args);
        if (req.args) {
            CU_ASSERT_EQUAL(req.args->type, LB_MAP);
            CU_ASSERT_PTR_EQUAL(req.args, lb_map_get(req.doc, "args"));
            if (valid_reqs[i].args)
                CU_ASSERT(lb_val_equal(req.args, lb_map_get(r, "args")));
        }
        seen[valid_reqs[i].want] = true;
        proto_req_clear(&req);
        CU_ASSERT_PTR_NULL(req.doc);
        proto_req_clear(&req);
        lb_buf_free(&b);
        lb_val_free(&r);
    }
    for (int i = 0; i < PROTO_OP_COUNT; i++)
        CU_ASSERT(seen[i]);
}

static void test_envelope_errors(void)
{
    lb_val_t *r;
    /* not a map */
    EXPECT(J("[1,2]"), LB_EBADREQ, "");
    EXPECT(J("'ping'"), LB_EBADREQ, "");
    /* version */
    r = R("ping", NULL);
    lb_map_set_int(r, "v", 2);
    EXPECT(r, LB_EBADVER, "v");
    r = R("ping", NULL);
    lb_map_set_int(r, "v", 0);
    EXPECT(r, LB_EBADVER, "v");
    r = R("no.such.op", "{'unknown':1}");
    lb_map_set_int(r, "v", 3); /* the version wins over everything else */
    EXPECT(r, LB_EBADVER, "v");
    r = R("ping", NULL);
    lb_map_del(r, "v");
    EXPECT(r, LB_EBADREQ, "v");
    r = R("ping", NULL);
    lb_map_set_str(r, "v", "1");
    EXPECT(r, LB_EBADREQ, "v");
    r = R("ping", NULL);
    lb_map_set(r, "v", lb_float(1.0));
    EXPECT(r, LB_EBADREQ, "v");
    /* id */
    r = R("ping", NULL);
    lb_map_del(r, "id");
    EXPECT(r, LB_EBADREQ, "id");
    r = R("ping", NULL);
    lb_map_set_str(r, "id", "");
    EXPECT(r, LB_EBADREQ, "id");
    r = R("ping", NULL);
    lb_map_set_int(r, "id", 5);
    EXPECT(r, LB_EBADREQ, "id");
    r = R("ping", NULL);
    lb_map_set_str(r, "id", "0123456789012345678901234567890123456789012345678901234567890123");
    EXPECT(r, 0, NULL); /* 64 bytes */
    r = R("ping", NULL);
    lb_map_set_str(r, "id", "01234567890123456789012345678901234567890123456789012345678901234");
    EXPECT(r, LB_EBADREQ, "id"); /* 65 */
    /* op */
    r = R("ping", NULL);
    lb_map_del(r, "op");
    EXPECT(r, LB_EBADREQ, "op");
    r = R("ping", NULL);
    lb_map_set_int(r, "op", 1);
    EXPECT(r, LB_EBADREQ, "op");
    EXPECT(R("case.delete", "{}"), LB_EUNKNOWNOP, "op");
    EXPECT(R("", NULL), LB_EUNKNOWNOP, "op");
    /* args */
    r = R("ping", NULL);
    lb_map_set(r, "args", J("[]"));
    EXPECT(r, LB_EBADREQ, "args");
    r = R("ping", NULL);
    lb_map_set(r, "args", lb_nil());
    EXPECT(r, LB_EBADREQ, "args");
    EXPECT(R("ping", "{'x':1}"), LB_EBADREQ, "x");
    /* unknown envelope key */
    r = R("ping", NULL);
    lb_map_set_int(r, "extra", 1);
    EXPECT(r, LB_EBADREQ, "extra");
    /* missing args where an argument is required */
    EXPECT(R("case.get", NULL), LB_EBADREQ, "case_id");
}

static void test_id_echoed_on_errors(void)
{
    struct {
        lb_val_t *doc;
        int code;
    } cases[] = {
        {R("nope", NULL), LB_EUNKNOWNOP},
        {R("case.get", "{'case_id':'X1'}"), LB_EBADREQ},
        {R("case.list", "{'limit':5000}"), LB_ETOOLARGE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lb_buf_t b;
        proto_req_t req;
        proto_err_t err;
        pack_or_die(cases[i].doc, &b);
        CU_ASSERT_EQUAL(proto_decode_request(b.p, b.len, NULL, &req, &err), cases[i].code);
        CU_ASSERT_STRING_EQUAL(req.id, "req-1");
        proto_req_clear(&req);
        lb_buf_free(&b);
        lb_val_free(&cases[i].doc);
    }
    /* v:2 with a good id: bad_version, id echoed */
    lb_val_t *r = R("ping", NULL);
    lb_map_set_int(r, "v", 2);
    lb_buf_t b;
    proto_req_t req;
    proto_err_t err;
    pack_or_die(r, &b);
    CU_ASSERT_EQUAL(proto_decode_request(b.p, b.len, NULL, &req, &err), LB_EBADVER);
    CU_ASSERT_STRING_EQUAL(req.id, "req-1");
    proto_req_clear(&req);
    lb_buf_free(&b);
    lb_val_free(&r);
    /* the id is read before a later malformed value breaks the document */
    const uint8_t raw[] = {0x84, 0xa1, 'v', 0x01, 0xa2, 'i',  'd', 0xa3, 'a',  'b',
                           'c',  0xa2, 'o', 'p',  0xa4, 'p',  'i', 'n',  'g',  0xa4,
                           'a',  'r',  'g', 's',  0x81, 0xa1, 'x', 0xa2, 0xc3, 0x28};
    CU_ASSERT_EQUAL(proto_decode_request(raw, sizeof(raw), NULL, &req, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(req.id, "abc");
    CU_ASSERT_STRING_EQUAL(err.field, "x"); /* args-relative */
    proto_req_clear(&req);
    /* a bad id is never echoed */
    const uint8_t rawbad[] = {0x82, 0xa2, 'i', 'd', 0xa0, 0xa1, 'v', 0x01};
    CU_ASSERT_EQUAL(proto_decode_request(rawbad, sizeof(rawbad), NULL, &req, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(req.id, "");
    proto_req_clear(&req);
    /* garbage: empty id */
    CU_ASSERT_EQUAL(proto_decode_request("\xc1", 1, NULL, &req, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(req.id, "");
    proto_req_clear(&req);
}

static void test_case_open_errors(void)
{
    char hh[1024];
    EXPECT(R("case.open", "{}"), LB_EBADREQ, "household");
    EXPECT(R("case.open", "{'household':[]}"), LB_EBADREQ, "household");
    EXPECT(open_req("{'area':'65010101'}"), LB_EBADREQ, "household.house_id");
    EXPECT(open_req("{'house_id':'65010000001'}"), LB_EBADREQ, "household.area");
    EXPECT(open_req("{'house_id':'6501000000','area':'65010101'}"), LB_EBADREQ,
           "household.house_id");
    EXPECT(open_req("{'house_id':'6501000000x','area':'65010101'}"), LB_EBADREQ,
           "household.house_id");
    EXPECT(open_req("{'house_id':65010000001,'area':'65010101'}"), LB_EBADREQ,
           "household.house_id");
    EXPECT(open_req("{'house_id':'65010000001','area':'650101'}"), LB_EBADREQ, "household.area");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','colour':'red'}"), LB_EBADREQ,
           "household.colour");
    EXPECT(open_req(
               "{'house_id':'65010000001','area':'65010101','members':[{'nid':'1234567890122'}]}"),
           LB_EBADREQ, "household.members.0.nid");
    EXPECT(
        open_req(
            "{'house_id':'65010000001','area':'65010101','members':[{},{'nid':'0234567890121'}]}"),
        LB_EBADREQ, "household.members.1.nid");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','members':[{'sex':'x'}]}"),
           LB_EBADREQ, "household.members.0.sex");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','members':[{'birth_year':1700}]}"),
           LB_EBADREQ, "household.members.0.birth_year");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','members':[{'age':3}]}"),
           LB_EBADREQ, "household.members.0.age");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','members':['x']}"), LB_EBADREQ,
           "household.members.0");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','deprived':['']}"), LB_EBADREQ,
           "household.deprived.0");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','deprived':'bmn1'}"), LB_EBADREQ,
           "household.deprived");
    /* 65 members: too_large */
    size_t n =
        (size_t)snprintf(hh, sizeof(hh), "{'house_id':'65010000001','area':'65010101','members':[");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(hh + n, sizeof(hh) - n, "%s{}", i ? "," : "");
    snprintf(hh + n, sizeof(hh) - n, "]}");
    EXPECT(open_req(hh), LB_ETOOLARGE, "household.members");
    hh[n - 3] = ']'; /* 64 members: fine */
    hh[n - 2] = '}';
    hh[n - 1] = '\0';
    EXPECT(open_req(hh), 0, NULL);
    /* other arguments */
    char args[1024];
    snprintf(args, sizeof(args), "{'household':%s,'source':'facebook'}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "source");
    snprintf(args, sizeof(args), "{'household':%s,'workflow':'Bad_Name'}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "workflow");
    snprintf(args, sizeof(args), "{'household':%s,'team':''}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "team");
    snprintf(args, sizeof(args), "{'household':%s,'team':null}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "team");
    snprintf(args, sizeof(args), "{'household':%s,'priority':1}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "priority");
}

static void test_check_household(void)
{
    proto_err_t err;
    lb_val_t *h = J(HH);
    CU_ASSERT_EQUAL(proto_check_household(h, &err), 0);
    CU_ASSERT_EQUAL(proto_check_household(h, NULL), 0);
    lb_map_set_str(h, "area", "6501");
    CU_ASSERT_EQUAL(proto_check_household(h, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "area");
    lb_val_free(&h);
    h = J("{'house_id':'65010000001','area':'65010101','members':[{'nid':'1234567890120'}]}");
    CU_ASSERT_EQUAL(proto_check_household(h, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "members.0.nid");
    lb_val_free(&h);
    /* the same person twice */
    h = J("{'house_id':'65010000001','area':'65010101','members':[{'nid':'1101700203450'},"
          "{'name':'x'},{'nid':'1101700203450'}]}");
    CU_ASSERT_EQUAL(proto_check_household(h, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "members");
    lb_val_free(&h);
    h = J("'not a map'");
    CU_ASSERT_EQUAL(proto_check_household(h, &err), LB_EBADREQ);
    CU_ASSERT_EQUAL(proto_check_household(NULL, &err), LB_EBADREQ);
    lb_val_free(&h);
}

static void test_case_import(void)
{
    /* items are not checked by the decoder: one bad household must not fail the batch */
    EXPECT(R("case.import",
             "{'households':[{'house_id':'bad'},7,{'house_id':'65010000001','area':'65010101'}]}"),
           0, NULL);
    EXPECT(R("case.import", "{}"), LB_EBADREQ, "households");
    EXPECT(R("case.import", "{'households':{}}"), LB_EBADREQ, "households");
    EXPECT(R("case.import", "{'households':[],'team':'x'}"), LB_EBADREQ, "team");
    EXPECT(R("case.import", "{'households':[],'source':'nope'}"), LB_EBADREQ, "source");
    /* 10,000 is the limit */
    for (int count = 10000; count <= 10001; count++) {
        lb_val_t *r = R("case.import", "{'households':[]}");
        lb_val_t *hs = lb_map_get(lb_map_get(r, "args"), "households");
        for (int i = 0; i < count; i++)
            lb_arr_push(hs, lb_map());
        lb_val_t *copy = lb_val_dup(r);
        EXPECT(r, count == 10000 ? 0 : LB_ETOOLARGE, count == 10000 ? NULL : "households");
        /* with a larger document limit the schema's own limit still says too_large */
        proto_limits_t lim = proto_default_limits;
        lim.max_items = 20000;
        expect_at(copy, count == 10000 ? 0 : LB_ETOOLARGE, count == 10000 ? NULL : "households",
                  &lim, __LINE__);
    }
}

static void test_case_act_errors(void)
{
    EXPECT(R("case.act", "{'action':'visit'}"), LB_EBADREQ, "case_id");
    EXPECT(R("case.act", "{'case_id':'C000000001'}"), LB_EBADREQ, "action");
    EXPECT(R("case.act", "{'case_id':'C1','action':'visit'}"), LB_EBADREQ, "case_id");
    EXPECT(R("case.act", "{'case_id':'000000001','action':'visit'}"), LB_EBADREQ, "case_id");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':''}"), LB_EBADREQ, "action");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','data':[1]}"), LB_EBADREQ, "data");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':-1}"), LB_EBADREQ, "at");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':9007199254740992}"), 0, NULL);
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':9007199254740993}"), LB_EBADREQ,
           "at");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':1.5}"), LB_EBADREQ, "at");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':'now'}"), LB_EBADREQ, "at");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','expect_state':''}"), LB_EBADREQ,
           "expect_state");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','date':1}"), LB_EBADREQ, "date");
    /* data may hold anything a record needs, including floats */
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','data':{'amount_thb':1500.5}}"), 0,
           NULL);
}

static void test_other_op_errors(void)
{
    EXPECT(R("workflow.get", "{}"), LB_EBADREQ, "name");
    EXPECT(R("workflow.get", "{'name':'Has Space'}"), LB_EBADREQ, "name");
    EXPECT(R("case.ack", "{'note':'x'}"), LB_EBADREQ, "case_id");
    EXPECT(R("case.get", "{'case_id':'C000000001','x':1}"), LB_EBADREQ, "x");
    EXPECT(R("case.find", "{}"), LB_EBADREQ, "house_id");
    EXPECT(R("case.find", "{'house_id':'65010000001','nid':'1234567890121'}"), LB_EBADREQ, "nid");
    EXPECT(R("case.find", "{'nid':'1234567890122'}"), LB_EBADREQ, "nid");
    EXPECT(R("case.find", "{'nid':'9234567890121'}"), LB_EBADREQ, "nid");
    EXPECT(R("case.history", "{'case_id':'C000000001','after_seq':-1}"), LB_EBADREQ, "after_seq");
    EXPECT(R("case.history", "{'case_id':'C000000001','limit':10001}"), LB_ETOOLARGE, "limit");
    EXPECT(R("case.history", "{'case_id':'C000000001','limit':0}"), LB_EBADREQ, "limit");
    EXPECT(R("case.list", "{'limit':1001}"), LB_ETOOLARGE, "limit");
    EXPECT(R("case.list", "{'limit':0}"), LB_EBADREQ, "limit");
    EXPECT(R("case.list", "{'limit':-5}"), LB_EBADREQ, "limit");
    EXPECT(R("case.list", "{'area':'650'}"), LB_EBADREQ, "area");
    EXPECT(R("case.list", "{'overdue':1}"), LB_EBADREQ, "overdue");
    EXPECT(R("case.list", "{'after':''}"), LB_EBADREQ, "after");
    char args[400];
    int n = snprintf(args, sizeof(args), "{'after':'");
    memset(args + n, 'c', 257);
    snprintf(args + n + 257, sizeof(args) - (size_t)n - 257, "'}");
    EXPECT(R("case.list", args), LB_EBADREQ, "after");
    EXPECT(R("report.summary", "{}"), LB_EBADREQ, "by");
    EXPECT(R("report.summary", "{'by':'country'}"), LB_EBADREQ, "by");
    EXPECT(R("report.summary", "{'by':'state','area':'6'}"), LB_EBADREQ, "area");
    EXPECT(R("events.since", "{}"), LB_EBADREQ, "seq");
    EXPECT(R("events.since", "{'seq':-1}"), LB_EBADREQ, "seq");
    EXPECT(R("events.since", "{'seq':0,'limit':10001}"), LB_ETOOLARGE, "limit");
    EXPECT(R("events.since", "{'seq':0,'limit':0}"), LB_EBADREQ, "limit");
    EXPECT(R("admin.backup", "{}"), LB_EBADREQ, "path");
    EXPECT(R("admin.backup", "{'path':''}"), LB_EBADREQ, "path");
    EXPECT(R("admin.clock", "{}"), LB_EBADREQ, "advance_s");
    EXPECT(R("admin.clock", "{'advance_s':-1}"), LB_EBADREQ, "advance_s");
    EXPECT(R("admin.clock", "{'advance_s':315360001}"), LB_EBADREQ, "advance_s");
    EXPECT(R("admin.stats", "{'verbose':true}"), LB_EBADREQ, "verbose");
    EXPECT(R("admin.verify", "{'x':1}"), LB_EBADREQ, "x");
    EXPECT(R("admin.reload", "{'x':1}"), LB_EBADREQ, "x");
    EXPECT(R("workflow.list", "{'x':1}"), LB_EBADREQ, "x");
    /* a long unknown key is named, truncated to fit, and still valid UTF-8 */
    lb_val_t *r = R("ping", "{}");
    char key[200] = "";
    for (int i = 0; i < 60; i++)
        strcat(key, "\xe0\xb8\x81"); /* Thai ko kai, 3 bytes */
    lb_map_set_int(lb_map_get(r, "args"), key, 1);
    lb_buf_t b;
    proto_req_t req;
    proto_err_t err;
    pack_or_die(r, &b);
    CU_ASSERT_EQUAL(proto_decode_request(b.p, b.len, NULL, &req, &err), LB_EBADREQ);
    CU_ASSERT(strlen(err.field) > 0 && strlen(err.field) < sizeof(err.field));
    CU_ASSERT(lb_utf8_valid(err.field, strlen(err.field)));
    CU_ASSERT(lb_utf8_valid(err.message, strlen(err.message)));
    proto_req_clear(&req);
    lb_buf_free(&b);
    lb_val_free(&r);
}

static void test_truncated_prefixes(void)
{
    for (size_t k = 0; k < N_VALID; k++) {
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
        lb_val_t *r = valid_req((size_t)(rng() % N_VALID));
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

/* ---------------------------------------------------------------------- */
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
    lb_val_t *res = J("{'version':'1.0','uptime_s':5,'last_seq':0}");
    CU_ASSERT_EQUAL(proto_reply_ok("req-1", res, &b), 0);
    lb_val_t *v = decode_reply(&b);
    lb_val_t *want =
        J("{'v':1,'id':'req-1','ok':true,'result':{'version':'1.0','uptime_s':5,'last_seq':0}}");
    CU_ASSERT(lb_val_equal(v, want));
    CU_ASSERT_STRING_EQUAL(v->m.keys[0], "v");
    lb_val_free(&v);
    lb_val_free(&want);
    lb_buf_free(&b);

    CU_ASSERT_EQUAL(proto_reply_ok(NULL, NULL, &b), 0);
    v = decode_reply(&b);
    want = J("{'v':1,'id':'','ok':true,'result':{}}");
    CU_ASSERT(lb_val_equal(v, want));
    lb_val_free(&v);
    lb_val_free(&want);
    lb_buf_free(&b);

    CU_ASSERT_EQUAL(
        proto_reply_error("r9", LB_ECONFLICT, "household has an open case", NULL, "C000000042", &b),
        0);
    v = decode_reply(&b);
    want = J("{'v':1,'id':'r9','ok':false,'error':{'code':'conflict',"
             "'message':'household has an open case','case_id':'C000000042'}}");
    CU_ASSERT(lb_val_equal(v, want));
    lb_val_free(&v);
    lb_val_free(&want);
    lb_buf_free(&b);

    CU_ASSERT_EQUAL(proto_reply_error("", LB_EBADREQ, NULL, "household.area", "", &b), 0);
    v = decode_reply(&b);
    want = J("{'v':1,'id':'','ok':false,'error':{'code':'bad_request',"
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
    lb_val_t *b = J("{'v':1,'at':1700000000000,'kind':'case','type':'open','case_id':'C000000001',"
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

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"errors", test_errors},
        {"buf", test_buf},
        {"val map and array", test_val_map_array},
        {"val dup and equal", test_val_dup_equal},
        {"json", test_json},
        {"utf8", test_utf8},
        {"house id and area", test_ids_house_area},
        {"national id", test_nid},
        {"case id", test_case_id},
        {"roundtrip every type", test_roundtrip_types},
        {"unpack scalars", test_unpack_scalars_raw},
        {"unpack ext rejected", test_unpack_ext_rejected},
        {"unpack keys and duplicates", test_unpack_keys},
        {"unpack utf8 and NUL", test_unpack_utf8_nul},
        {"unpack trailing bytes", test_unpack_trailing},
        {"unpack huge lengths and limits", test_unpack_huge_lengths},
        {"unpack depth", test_unpack_depth},
        {"op names", test_op_names},
        {"every op valid", test_every_op_valid},
        {"envelope errors", test_envelope_errors},
        {"id echoed on errors", test_id_echoed_on_errors},
        {"case.open errors", test_case_open_errors},
        {"check household", test_check_household},
        {"case.import", test_case_import},
        {"case.act errors", test_case_act_errors},
        {"other op errors", test_other_op_errors},
        {"truncated prefixes", test_truncated_prefixes},
        {"random buffers", test_random_buffers},
        {"random mutations", test_random_mutations},
        {"replies", test_replies},
        {"event roundtrip", test_event_roundtrip},
        {"event tamper", test_event_tamper},
        {"event header boundary", test_event_header_boundary},
    };
    CU_pSuite s = CU_add_suite("proto", NULL, NULL);
    if (!s) {
        CU_cleanup_registry();
        return 2;
    }
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) {
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int rc = CU_get_number_of_failures() || CU_get_number_of_tests_failed() ? 1 : 0;
    CU_cleanup_registry();
    return rc;
}
