/*
 * pack.c - msgpack <-> lb_val_t. Encoding goes through msgpack-c's packer
 * into an lb_buf_t. Decoding is a small reader of our own rather than
 * msgpack-c's unpacker, because every length must be checked against the
 * bytes that remain and against the limits before it sizes an allocation,
 * and that is easiest to guarantee when each read is in plain sight.
 */
#include "proto_priv.h"
#include "mp.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const proto_limits_t proto_default_limits = {
    .max_depth = 16,
    .max_items = 10000,
    .max_str = 65536,
    .max_nodes = 2000000,
};

/* Whatever the caller's limits say, recursion never goes deeper than this. */
#define PROTO_DEPTH_HARD_MAX 64

/* ---------------------------------------------------------------------- */
/* Encoding                                                                */
/* ---------------------------------------------------------------------- */

static int buf_write_cb(void *data, const char *p, size_t n)
{
    lb_buf_t *b = data;
    if (n == 0)
        return 0;
    /* The packer writes a header and a body per value, mostly a few bytes: room is the rule. */
    if (n <= b->cap - b->len) {
        memcpy(b->p + b->len, p, n);
        b->len += n;
        return 0;
    }
    return lb_buf_append(b, p, n) ? -1 : 0;
}

static int pack_val(msgpack_packer *pk, const lb_val_t *v)
{
    if (!v)
        return msgpack_pack_nil(pk);
    switch (v->type) {
    case LB_NIL:
        return msgpack_pack_nil(pk);
    case LB_BOOL:
        return v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case LB_INT:
        return msgpack_pack_int64(pk, v->i);
    case LB_FLOAT:
        return msgpack_pack_double(pk, v->f);
    case LB_STR:
        return msgpack_pack_str_with_body(pk, v->s.p, v->s.n);
    case LB_BIN:
        return msgpack_pack_bin_with_body(pk, v->s.p, v->s.n);
    case LB_RAW:
        /* pre-encoded bytes go through the packer's writer untouched */
        return pk->callback(pk->data, v->s.p, v->s.n);
    case LB_ARR:
        if (msgpack_pack_array(pk, v->a.n))
            return -1;
        for (uint32_t i = 0; i < v->a.n; i++)
            if (pack_val(pk, v->a.items[i]))
                return -1;
        return 0;
    case LB_MAP:
        if (msgpack_pack_map(pk, v->m.n))
            return -1;
        for (uint32_t i = 0; i < v->m.n; i++) {
            const char *k = v->m.keys[i];
            if (msgpack_pack_str_with_body(pk, k, strlen(k)) || pack_val(pk, v->m.vals[i]))
                return -1;
        }
        return 0;
    }
    return -1;
}

int proto_pack(const lb_val_t *v, lb_buf_t *out)
{
    msgpack_packer pk;
    size_t mark = out->len;
    msgpack_packer_init(&pk, out, buf_write_cb);
    if (pack_val(&pk, v)) {
        out->len = mark; /* no half-written document */
        return LB_ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                                */
/* ---------------------------------------------------------------------- */

/* The reader of mp.h; id_out: proto_decode_request's, where to put the top-level "id" as soon as it
 * is read. */
typedef proto_r_t rd_t;

static void err_set(proto_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err_set(proto_err_t *err, int code, const char *fmt, ...)
{
    va_list ap;
    err->code = code;
    err->field[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

/*
 * Puts seg in front of the error's field path. The path is built while the
 * recursion unwinds, so the success path pays nothing for it.
 */
static void err_prefix(proto_err_t *err, const char *seg)
{
    char tmp[sizeof(err->field)];
    size_t sl = strlen(seg), fl = strlen(err->field);
    size_t cap = sizeof(tmp) - 1;
    size_t n = sl < cap ? sl : cap;
    memcpy(tmp, seg, n);
    if (fl && n < cap)
        tmp[n++] = '.';
    size_t rest = cap - n;
    size_t m = fl < rest ? fl : rest;
    memcpy(tmp + n, err->field, m);
    tmp[n + m] = '\0';
    memcpy(err->field, tmp, n + m + 1);
}

static void utf8_trim(char *s)
{
    size_t n = strlen(s);
    while (n && !lb_utf8_valid(s, n))
        s[--n] = '\0';
}

void proto_err_fix(proto_err_t *err)
{
    utf8_trim(err->field);
    utf8_trim(err->message);
}

static int rd_truncated(rd_t *r)
{
    err_set(r->err, LB_EBADREQ, "msgpack document truncated at byte %zu", r->pos);
    return LB_EBADREQ;
}

/* Reads an n-byte big-endian unsigned integer (n = 1, 2, 4, 8). */
static int rd_uint(rd_t *r, size_t n, uint64_t *out)
{
    if (r->len - r->pos < n)
        return rd_truncated(r);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | r->p[r->pos + i];
    r->pos += n;
    *out = v;
    return 0;
}

/* The length of a str/bin whose header byte b was just read (and its extra length bytes). */
static int rd_str_len(rd_t *r, uint8_t b, uint64_t *n)
{
    if (b >= 0xa0 && b <= 0xbf) {
        *n = b & 0x1f;
        return 0;
    }
    switch (b) {
    case 0xc4:
    case 0xd9:
        return rd_uint(r, 1, n);
    case 0xc5:
    case 0xda:
        return rd_uint(r, 2, n);
    case 0xc6:
    case 0xdb:
        return rd_uint(r, 4, n);
    }
    return LB_EINTERNAL;
}

/*
 * Checks a declared str/bin length against the bytes left and the limit,
 * before anything is allocated for it.
 */
static int rd_check_bytes(rd_t *r, uint64_t n)
{
    if (n > r->len - r->pos)
        return rd_truncated(r);
    if (n > r->lim.max_str) {
        err_set(r->err, LB_ETOOLARGE, "string of %llu bytes over the limit of %u",
                (unsigned long long)n, r->lim.max_str);
        return LB_ETOOLARGE;
    }
    return 0;
}

static int rd_nomem(rd_t *r)
{
    err_set(r->err, LB_ENOMEM, "out of memory");
    return LB_ENOMEM;
}

/* Container counts: bounded by the bytes left (each item takes at least min_bytes), then the
 * limits. */
static int rd_check_count(rd_t *r, uint64_t n, uint64_t min_bytes, uint32_t depth)
{
    if (n > (r->len - r->pos) / min_bytes)
        return rd_truncated(r);
    if (n > r->lim.max_items) {
        err_set(r->err, LB_ETOOLARGE, "%llu elements over the limit of %u", (unsigned long long)n,
                r->lim.max_items);
        return LB_ETOOLARGE;
    }
    if (depth > r->lim.max_depth) {
        err_set(r->err, LB_ETOOLARGE, "nesting deeper than %u", r->lim.max_depth);
        return LB_ETOOLARGE;
    }
    return 0;
}

static int rd_value(rd_t *r, uint32_t depth, lb_val_t **out);
static bool rd_is_scalar(uint8_t b);
static int rd_scalar(rd_t *r, lb_val_t *out);

static int rd_array(rd_t *r, uint64_t n, uint32_t depth, lb_val_t **out)
{
    int rc = rd_check_count(r, n, 1, depth);
    if (rc)
        return rc;
    lb_val_t *a = lb_arr();
    if (!a)
        return rd_nomem(r);
    if (n) {
        a->a.items = malloc((size_t)n * sizeof(*a->a.items));
        if (!a->a.items) {
            lb_val_free(&a);
            return rd_nomem(r);
        }
        a->a.cap = (uint32_t)n;
    }
    for (uint32_t i = 0; i < n; i++) {
        rc = rd_value(r, depth, &a->a.items[i]);
        if (rc) {
            char seg[16];
            snprintf(seg, sizeof(seg), "%u", i);
            err_prefix(r->err, seg);
            lb_val_free(&a);
            return rc;
        }
        a->a.n = i + 1;
    }
    *out = a;
    return 0;
}

static int cmp_keys(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Small maps are checked pairwise as keys arrive; large ones by sorting once at the end. */
#define MAP_PAIRWISE_MAX 16

static int rd_dup_key(rd_t *r, const char *key)
{
    err_set(r->err, LB_EBADREQ, "duplicate map key");
    err_prefix(r->err, key);
    return LB_EBADREQ;
}

/* A map key (a str) at the cursor: *ks points into the input, kn bytes, checked; moves past it. */
static int rd_key(rd_t *r, const char **ks, uint64_t *kn)
{
    if (r->pos >= r->len)
        return rd_truncated(r);
    uint8_t b = r->p[r->pos++];
    if (!((b >= 0xa0 && b <= 0xbf) || b == 0xd9 || b == 0xda || b == 0xdb)) {
        err_set(r->err, LB_EBADREQ, "map key is not a string");
        return LB_EBADREQ;
    }
    if (++r->nodes > r->lim.max_nodes) {
        err_set(r->err, LB_ETOOLARGE, "more than %u values", r->lim.max_nodes);
        return LB_ETOOLARGE;
    }
    int rc = rd_str_len(r, b, kn);
    if (rc == 0)
        rc = rd_check_bytes(r, *kn);
    if (rc)
        return rc;
    *ks = (const char *)r->p + r->pos;
    if (!lb_utf8_valid(*ks, (size_t)*kn)) {
        err_set(r->err, LB_EBADREQ, "string is not valid UTF-8 or contains NUL");
        return LB_EBADREQ;
    }
    r->pos += (size_t)*kn;
    return 0;
}

/* The top-level "id" of a request, copied to id_out as soon as it is read (proto_unpack_id). */
static void rd_note_id(rd_t *r, uint32_t depth, const char *key, const lb_val_t *val)
{
    if (depth == 1 && r->id_out && strcmp(key, "id") == 0 && val->type == LB_STR && val->s.n >= 1 &&
        val->s.n <= PROTO_ID_MAX) {
        memcpy(r->id_out, val->s.p, (size_t)val->s.n); /* s.p may point into the input */
        r->id_out[val->s.n] = '\0';
    }
}

/* Key texts of a small map while its values are read: on the stack unless they are long. */
typedef struct {
    char stack[256];
    char *p; /* stack, or heap once that is too small */
    size_t len, cap;
} rd_keys_t;

static int rd_keys_add(rd_keys_t *k, const char *s, size_t n, uint32_t *off)
{
    if (n + 1 > k->cap - k->len) {
        size_t cap = (k->cap + n + 1) * 2;
        char *p = malloc(cap);
        if (!p)
            return LB_ENOMEM;
        memcpy(p, k->p, k->len);
        if (k->p != k->stack)
            free(k->p);
        k->p = p;
        k->cap = cap;
    }
    *off = (uint32_t)k->len;
    memcpy(k->p + k->len, s, n);
    k->p[k->len + n] = '\0';
    k->len += n + 1;
    return 0;
}

/*
 * A map of at most MAP_PAIRWISE_MAX pairs (records, requests): read into locals, then made one
 * allocation with lb_map_block, its scalar values included, instead of one per key, one per
 * value and two for the arrays.
 */
static int rd_map_small(rd_t *r, uint32_t n, uint32_t depth, lb_val_t **out)
{
    lb_val_t *vals[MAP_PAIRWISE_MAX], scalars[MAP_PAIRWISE_MAX];
    uint32_t off[MAP_PAIRWISE_MAX];
    rd_keys_t keys;
    keys.p = keys.stack;
    keys.len = 0;
    keys.cap = sizeof keys.stack;
    uint32_t i = 0;
    int rc = 0;
    for (; i < n; i++) {
        const char *ks;
        uint64_t kn;
        if ((rc = rd_key(r, &ks, &kn)))
            break;
        if ((rc = rd_keys_add(&keys, ks, (size_t)kn, &off[i]))) {
            rc = rd_nomem(r);
            break;
        }
        const char *key = keys.p + off[i];
        for (uint32_t j = 0; j < i && rc == 0; j++)
            if (strcmp(keys.p + off[j], key) == 0)
                rc = rd_dup_key(r, key);
        vals[i] = NULL; /* NULL: a scalar, in scalars[i] */
        scalars[i] = (lb_val_t){.type = LB_NIL};
        if (rc == 0) {
            bool scalar = r->pos < r->len && rd_is_scalar(r->p[r->pos]);
            rc = scalar ? rd_scalar(r, &scalars[i]) : rd_value(r, depth, &vals[i]);
            if (rc)
                err_prefix(r->err, key);
        }
        if (rc)
            break;
        rd_note_id(r, depth, key, vals[i] ? vals[i] : &scalars[i]);
    }
    if (rc == 0 && !(*out = lb_map_block(n, keys.p, off, keys.len, vals, scalars)))
        rc = rd_nomem(r);
    if (rc)
        while (i > 0)
            lb_val_free(&vals[--i]);
    if (keys.p != keys.stack)
        free(keys.p);
    return rc;
}

static int rd_map(rd_t *r, uint64_t n, uint32_t depth, lb_val_t **out)
{
    int rc = rd_check_count(r, n, 2, depth);
    if (rc)
        return rc;
    if (n <= MAP_PAIRWISE_MAX)
        return rd_map_small(r, (uint32_t)n, depth, out);
    lb_val_t *m = lb_map();
    if (!m)
        return rd_nomem(r);
    if (n) {
        m->m.keys = malloc((size_t)n * sizeof(*m->m.keys));
        m->m.vals = malloc((size_t)n * sizeof(*m->m.vals));
        if (!m->m.keys || !m->m.vals) {
            rc = rd_nomem(r);
            goto fail;
        }
        m->m.cap = (uint32_t)n;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *ks;
        uint64_t kn;
        if ((rc = rd_key(r, &ks, &kn)))
            goto fail;
        /* The map owns its keys as plain strings: one malloc, no value around them. */
        char *key = malloc((size_t)kn + 1);
        if (!key) {
            rc = rd_nomem(r);
            goto fail;
        }
        memcpy(key, ks, (size_t)kn);
        key[kn] = '\0';
        if (n <= MAP_PAIRWISE_MAX) {
            for (uint32_t j = 0; j < i; j++) {
                if (strcmp(m->m.keys[j], key) == 0) {
                    rc = rd_dup_key(r, key);
                    free(key);
                    goto fail;
                }
            }
        }
        lb_val_t *val = NULL;
        rc = rd_value(r, depth, &val);
        if (rc) {
            err_prefix(r->err, key);
            free(key);
            goto fail;
        }
        m->m.keys[i] = key;
        m->m.vals[i] = val;
        m->m.n = i + 1;
        rd_note_id(r, depth, key, val);
    }
    if (n > MAP_PAIRWISE_MAX) {
        char **sorted = malloc((size_t)n * sizeof(*sorted));
        if (!sorted) {
            rc = rd_nomem(r);
            goto fail;
        }
        memcpy(sorted, m->m.keys, (size_t)n * sizeof(*sorted));
        qsort(sorted, (size_t)n, sizeof(*sorted), cmp_keys);
        for (uint32_t j = 1; j < n; j++) {
            if (strcmp(sorted[j - 1], sorted[j]) == 0) {
                rc = rd_dup_key(r, sorted[j]);
                break;
            }
        }
        free(sorted);
        if (rc)
            goto fail;
    }
    *out = m;
    return 0;
fail:
    lb_val_free(&m);
    return rc;
}

/* The float or integer whose header byte b (0xca to 0xd3) was just read, into *out. */
static int rd_number(rd_t *r, uint8_t b, lb_val_t *out)
{
    uint64_t u;
    int rc;
    if (b == 0xca || b == 0xcb) {
        if ((rc = rd_uint(r, b == 0xca ? 4 : 8, &u)))
            return rc;
        *out = (lb_val_t){.type = LB_FLOAT};
        if (b == 0xca) {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, sizeof(f));
            out->f = f;
        } else {
            memcpy(&out->f, &u, sizeof(out->f));
        }
        return 0;
    }
    if (b < 0xcc || b > 0xd3)
        return LB_EINTERNAL;
    if ((rc = rd_uint(r, (size_t)1 << ((b - 0xcc) & 3), &u)))
        return rc;
    *out = (lb_val_t){.type = LB_INT};
    if (b <= 0xcf) {
        if (u > (uint64_t)INT64_MAX) {
            err_set(r->err, LB_EBADREQ, "integer does not fit int64");
            return LB_EBADREQ;
        }
        out->i = (int64_t)u;
    } else if (b <= 0xd2) {
        /* int8, int16, int32: sign-extend from the top bit of their width */
        unsigned bits = 8u << (b - 0xd0);
        int64_t v = (int64_t)u;
        out->i = (u >> (bits - 1)) & 1 ? v - ((int64_t)1 << bits) : v;
    } else {
        memcpy(&out->i, &u, sizeof(out->i)); /* two's complement reinterpretation */
    }
    return 0;
}

/* True when b starts a scalar rd_scalar reads: nil, bool, int, float, str or bin. */
static bool rd_is_scalar(uint8_t b)
{
    return b <= 0x7f || b >= 0xe0 || (b >= 0xa0 && b <= 0xbf) || b == 0xc0 || b == 0xc2 ||
           b == 0xc3 || (b >= 0xc4 && b <= 0xc6) || (b >= 0xca && b <= 0xd3) ||
           (b >= 0xd9 && b <= 0xdb);
}

/*
 * The scalar at the cursor into *out by value, counted and checked as rd_value does; a str or
 * bin is left in the input (out->s.p points there, not NUL-terminated). The caller has made
 * sure the cursor is on a scalar (rd_is_scalar).
 */
static int rd_scalar(rd_t *r, lb_val_t *out)
{
    if (++r->nodes > r->lim.max_nodes) {
        err_set(r->err, LB_ETOOLARGE, "more than %u values", r->lim.max_nodes);
        return LB_ETOOLARGE;
    }
    uint8_t b = r->p[r->pos++];
    if (b <= 0x7f || b >= 0xe0) {
        *out = (lb_val_t){.type = LB_INT, .i = b <= 0x7f ? (int64_t)b : (int64_t)b - 256};
        return 0;
    }
    if (b == 0xc0 || b == 0xc2 || b == 0xc3) {
        *out = (lb_val_t){.type = b == 0xc0 ? LB_NIL : LB_BOOL, .b = b == 0xc3};
        return 0;
    }
    if (b >= 0xca && b <= 0xd3)
        return rd_number(r, b, out);
    uint64_t n;
    bool is_str = !(b >= 0xc4 && b <= 0xc6);
    int rc = b <= 0xbf ? (n = b & 0x1f, 0) : rd_str_len(r, b, &n);
    if (rc == 0)
        rc = rd_check_bytes(r, n);
    if (rc)
        return rc;
    const char *s = (const char *)r->p + r->pos;
    if (is_str && !lb_utf8_valid(s, (size_t)n)) {
        err_set(r->err, LB_EBADREQ, "string is not valid UTF-8 or contains NUL");
        return LB_EBADREQ;
    }
    r->pos += (size_t)n;
    *out = (lb_val_t){.type = is_str ? LB_STR : LB_BIN};
    out->s.p = (char *)s; /* copied by lb_map_block or bytes_new before the input goes */
    out->s.n = (uint32_t)n;
    return 0;
}

/* depth: nesting of the container that holds this value (0 at the top). */
static int rd_value(rd_t *r, uint32_t depth, lb_val_t **out)
{
    uint64_t n;
    int rc;
    *out = NULL;
    if (r->pos < r->len && rd_is_scalar(r->p[r->pos])) {
        lb_val_t v;
        if ((rc = rd_scalar(r, &v)))
            return rc;
        switch (v.type) {
        case LB_STR:
            *out = lb_strn(v.s.p, v.s.n);
            break;
        case LB_BIN:
            *out = lb_bin(v.s.p, v.s.n);
            break;
        case LB_INT:
            *out = lb_int(v.i);
            break;
        case LB_FLOAT:
            *out = lb_float(v.f);
            break;
        case LB_BOOL:
            *out = lb_bool(v.b);
            break;
        default:
            *out = lb_nil();
            break;
        }
        return *out ? 0 : rd_nomem(r);
    }
    if (++r->nodes > r->lim.max_nodes) {
        err_set(r->err, LB_ETOOLARGE, "more than %u values", r->lim.max_nodes);
        return LB_ETOOLARGE;
    }
    if (r->pos >= r->len)
        return rd_truncated(r);
    uint8_t b = r->p[r->pos++];

    /* Scalars were read above: what is left is a container, an ext type or 0xc1. */
    if (b >= 0x80 && b <= 0x8f)
        return rd_map(r, b & 0x0f, depth + 1, out);
    if (b >= 0x90 && b <= 0x9f)
        return rd_array(r, b & 0x0f, depth + 1, out);
    switch (b) {
    case 0xdc:
    case 0xdd:
        if ((rc = rd_uint(r, b == 0xdc ? 2 : 4, &n)))
            return rc;
        return rd_array(r, n, depth + 1, out);
    case 0xde:
    case 0xdf:
        if ((rc = rd_uint(r, b == 0xde ? 2 : 4, &n)))
            return rc;
        return rd_map(r, n, depth + 1, out);
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        err_set(r->err, LB_EBADREQ, "msgpack ext types are not accepted");
        return LB_EBADREQ;
    default: /* 0xc1: never used */
        err_set(r->err, LB_EBADREQ, "invalid msgpack byte 0x%02x", b);
        return LB_EBADREQ;
    }
}

/* A zero field means "the default", so a zero-initialised struct is usable. */
static void rd_limits(rd_t *r, const proto_limits_t *lim)
{
    if (!lim)
        lim = &proto_default_limits;
    r->lim.max_depth = lim->max_depth ? lim->max_depth : proto_default_limits.max_depth;
    r->lim.max_items = lim->max_items ? lim->max_items : proto_default_limits.max_items;
    r->lim.max_str = lim->max_str ? lim->max_str : proto_default_limits.max_str;
    r->lim.max_nodes = lim->max_nodes ? lim->max_nodes : proto_default_limits.max_nodes;
    if (r->lim.max_depth > PROTO_DEPTH_HARD_MAX)
        r->lim.max_depth = PROTO_DEPTH_HARD_MAX;
}

int proto_unpack_id(const void *buf, size_t len, const proto_limits_t *lim, lb_val_t **out,
                    proto_err_t *err, char *id_out)
{
    proto_err_t scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof(*err));
    *out = NULL;
    rd_t r = {.p = buf, .len = buf ? len : 0, .err = err, .id_out = id_out};
    rd_limits(&r, lim);

    if (r.len == 0) {
        err_set(err, LB_EBADREQ, "empty message");
        return LB_EBADREQ;
    }
    lb_val_t *v = NULL;
    int rc = rd_value(&r, 0, &v);
    if (rc) {
        proto_err_fix(err);
        return rc;
    }
    if (r.pos != r.len) {
        lb_val_free(&v);
        err_set(err, LB_EBADREQ, "%zu trailing bytes after the msgpack document", r.len - r.pos);
        return LB_EBADREQ;
    }
    *out = v;
    return 0;
}

int proto_unpack(const void *buf, size_t len, const proto_limits_t *lim, lb_val_t **out,
                 proto_err_t *err)
{
    return proto_unpack_id(buf, len, lim, out, err, NULL);
}

/* ---------------------------------------------------------------------- */
/* Piecewise writing and reading (mp.h)                                    */
/* ---------------------------------------------------------------------- */

void proto_w_init(proto_w_t *w, lb_buf_t *out)
{
    w->out = out;
    w->rc = 0;
}

/* The packer is two pointers: one per call costs nothing and keeps proto_w_t free of msgpack. */
#define W_PACK(w, call)                                                                            \
    do {                                                                                           \
        if ((w)->rc)                                                                               \
            return;                                                                                \
        msgpack_packer pk;                                                                         \
        msgpack_packer_init(&pk, (w)->out, buf_write_cb);                                          \
        if (call)                                                                                  \
            (w)->rc = LB_ENOMEM;                                                                   \
    } while (0)

void proto_w_map(proto_w_t *w, uint32_t n)
{
    W_PACK(w, msgpack_pack_map(&pk, n));
}

void proto_w_arr(proto_w_t *w, uint32_t n)
{
    W_PACK(w, msgpack_pack_array(&pk, n));
}

void proto_w_str(proto_w_t *w, const char *s)
{
    W_PACK(w, msgpack_pack_str_with_body(&pk, s, strlen(s)));
}

void proto_w_int(proto_w_t *w, int64_t i)
{
    W_PACK(w, msgpack_pack_int64(&pk, i));
}

void proto_w_val(proto_w_t *w, const lb_val_t *v)
{
    W_PACK(w, pack_val(&pk, v));
}

void proto_r_init(proto_r_t *r, const void *p, size_t len, const proto_limits_t *lim)
{
    r->p = p;
    r->len = p ? len : 0;
    r->pos = 0;
    r->nodes = 0;
    r->id_out = NULL;
    r->err = &r->err_store;
    r->err_store.code = 0;
    r->err_store.field[0] = '\0';
    r->err_store.message[0] = '\0';
    rd_limits(r, lim);
}

bool proto_r_done(const proto_r_t *r)
{
    return r->pos == r->len;
}

static int rd_mismatch(rd_t *r, const char *want)
{
    err_set(r->err, LB_EBADREQ, "byte %zu: not %s", r->pos, want);
    return LB_EBADREQ;
}

/* Counts one more value against max_nodes, as rd_value does. */
static int rd_node(rd_t *r)
{
    if (++r->nodes > r->lim.max_nodes) {
        err_set(r->err, LB_ETOOLARGE, "more than %u values", r->lim.max_nodes);
        return LB_ETOOLARGE;
    }
    return 0;
}

/* A map (is_map) or array header, checked as rd_map and rd_array check theirs. */
static int rd_header(rd_t *r, bool is_map, uint32_t depth, uint32_t *n)
{
    if (r->pos >= r->len)
        return rd_truncated(r);
    uint8_t b = r->p[r->pos];
    uint8_t fix = is_map ? 0x80 : 0x90, b16 = is_map ? 0xde : 0xdc;
    uint64_t cnt;
    int rc;
    if (b >= fix && b <= fix + 0x0f) {
        cnt = b & 0x0f;
        r->pos++;
    } else if (b == b16 || b == b16 + 1) {
        r->pos++;
        if ((rc = rd_uint(r, b == b16 ? 2 : 4, &cnt)))
            return rc;
    } else {
        return rd_mismatch(r, is_map ? "a map" : "an array");
    }
    if ((rc = rd_node(r)) || (rc = rd_check_count(r, cnt, is_map ? 2 : 1, depth + 1)))
        return rc;
    *n = (uint32_t)cnt;
    return 0;
}

int proto_r_map(proto_r_t *r, uint32_t depth, uint32_t *n)
{
    return rd_header(r, true, depth, n);
}

int proto_r_arr(proto_r_t *r, uint32_t depth, uint32_t *n)
{
    return rd_header(r, false, depth, n);
}

int proto_r_str(proto_r_t *r, const char **s, uint32_t *n)
{
    if (r->pos >= r->len)
        return rd_truncated(r);
    uint8_t b = r->p[r->pos];
    if (!((b >= 0xa0 && b <= 0xbf) || b == 0xd9 || b == 0xda || b == 0xdb))
        return rd_mismatch(r, "a string");
    r->pos++;
    uint64_t len;
    int rc;
    if ((rc = rd_node(r)) || (rc = rd_str_len(r, b, &len)) || (rc = rd_check_bytes(r, len)))
        return rc;
    const char *p = (const char *)r->p + r->pos;
    if (!lb_utf8_valid(p, (size_t)len)) {
        err_set(r->err, LB_EBADREQ, "string is not valid UTF-8 or contains NUL");
        return LB_EBADREQ;
    }
    r->pos += (size_t)len;
    *s = p;
    *n = (uint32_t)len;
    return 0;
}

int proto_r_int(proto_r_t *r, int64_t *i)
{
    if (r->pos >= r->len)
        return rd_truncated(r);
    uint8_t b = r->p[r->pos];
    if (b <= 0x7f || b >= 0xe0) {
        r->pos++;
        *i = b <= 0x7f ? (int64_t)b : (int64_t)(int8_t)b;
        return rd_node(r);
    }
    if (b < 0xcc || b > 0xd3)
        return rd_mismatch(r, "an integer");
    r->pos++;
    uint64_t u;
    int rc = rd_node(r);
    if (rc == 0)
        rc = rd_uint(r, (size_t)1 << ((b - 0xcc) & 3), &u);
    if (rc)
        return rc;
    if (b <= 0xcf) {
        if (u > (uint64_t)INT64_MAX) {
            err_set(r->err, LB_EBADREQ, "integer does not fit int64");
            return LB_EBADREQ;
        }
        *i = (int64_t)u;
    } else if (b <= 0xd2) {
        /* int8, int16, int32: sign-extend from the top bit of their width */
        unsigned bits = 8u << (b - 0xd0);
        int64_t v = (int64_t)u;
        *i = (u >> (bits - 1)) & 1 ? v - ((int64_t)1 << bits) : v;
    } else {
        memcpy(i, &u, sizeof *i); /* two's complement reinterpretation */
    }
    return 0;
}

int proto_r_val(proto_r_t *r, uint32_t depth, lb_val_t **out)
{
    return rd_value(r, depth, out);
}
