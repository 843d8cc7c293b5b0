/*
 * lb.c - the shared vocabulary of lb.h: error texts, the growable byte buffer,
 * the dynamic value tree (maps are small insertion-ordered arrays), JSON output,
 * UTF-8 validation, crash-safe file replacement and the identifier formats of
 * DOMAIN.md. libc and POSIX only: this file must not include msgpack, ZeroMQ
 * or LMDB, so every module can link it.
 */
#include "lb.h"
#include "proto_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

const char *lb_strerror(int err)
{
    switch (err) {
    case LB_OK:
        return "success";
    case LB_EBADREQ:
        return "bad request";
    case LB_EBADVER:
        return "unsupported protocol version";
    case LB_EUNKNOWNOP:
        return "unknown operation";
    case LB_ENOTFOUND:
        return "not found";
    case LB_ECONFLICT:
        return "conflict";
    case LB_EINVALID:
        return "transition not allowed from the current state";
    case LB_EGUARD:
        return "required data missing or invalid";
    case LB_EFORBIDDEN:
        return "forbidden";
    case LB_ETOOLARGE:
        return "too large";
    case LB_EUNAVAIL:
        return "unavailable";
    case LB_EINTERNAL:
        return "internal error";
    case LB_ERATELIMIT:
        return "too many requests; retry later";
    case LB_ENOMEM:
        return "out of memory";
    case LB_EIO:
        return "I/O error";
    case LB_ECORRUPT:
        return "stored data is corrupt";
    case LB_EVERSION:
        return "data format newer than this build";
    case LB_ECONFIG:
        return "invalid configuration";
    case LB_EEXIST:
        return "already exists";
    case LB_EMAPFULL:
        return "database map full";
    case LB_EDISKFULL:
        return "disk full";
    default:
        return "unknown error";
    }
}

const char *lb_errcode(int err)
{
    switch (err) {
    case LB_OK:
        return "ok";
    case LB_EBADREQ:
        return "bad_request";
    case LB_EBADVER:
        return "bad_version";
    case LB_EUNKNOWNOP:
        return "unknown_op";
    case LB_ENOTFOUND:
        return "not_found";
    case LB_ECONFLICT:
        return "conflict";
    case LB_EINVALID:
        return "invalid_transition";
    case LB_EGUARD:
        return "guard_failed";
    case LB_EFORBIDDEN:
        return "forbidden";
    case LB_ETOOLARGE:
        return "too_large";
    case LB_EUNAVAIL:
        return "unavailable";
    case LB_ERATELIMIT:
        return "rate_limited";
    case LB_EEXIST:
        return "conflict";
    /* The store could not take the write: the client may retry later. */
    case LB_EIO:
    case LB_EMAPFULL:
    case LB_EDISKFULL:
        return "unavailable";
    default:
        return "internal";
    }
}

void lb_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* Byte buffer                                                             */
/* ---------------------------------------------------------------------- */

void lb_buf_init(lb_buf_t *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void lb_buf_free(lb_buf_t *b)
{
    if (!b)
        return;
    free(b->p);
    lb_buf_init(b);
}

int lb_buf_reserve(lb_buf_t *b, size_t n)
{
    if (n <= b->cap - b->len)
        return 0;
    if (n > SIZE_MAX - b->len)
        return LB_ENOMEM;
    size_t need = b->len + n;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return LB_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int lb_buf_append(lb_buf_t *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    int rc = lb_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Values                                                                  */
/* ---------------------------------------------------------------------- */

static _Thread_local long alloc_budget = -1;

void lb_test_fail_allocs(long after)
{
    alloc_budget = after;
}

/* false when the fault injector says this allocation fails. */
static bool alloc_ok(void)
{
    if (alloc_budget < 0)
        return true;
    if (alloc_budget == 0)
        return false;
    alloc_budget--;
    return true;
}

static lb_val_t *val_new(lb_type_t t)
{
    lb_val_t *v = alloc_ok() ? malloc(sizeof(*v)) : NULL;
    if (v)
        *v = (lb_val_t){.type = t};
    return v;
}

lb_val_t *lb_nil(void)
{
    return val_new(LB_NIL);
}

lb_val_t *lb_bool(bool b)
{
    lb_val_t *v = val_new(LB_BOOL);
    if (v)
        v->b = b;
    return v;
}

lb_val_t *lb_int(int64_t i)
{
    lb_val_t *v = val_new(LB_INT);
    if (v)
        v->i = i;
    return v;
}

lb_val_t *lb_float(double f)
{
    lb_val_t *v = val_new(LB_FLOAT);
    if (v)
        v->f = f;
    return v;
}

/*
 * STR and BIN share the layout; both get a trailing NUL for convenience. The bytes follow the
 * node in one allocation: half the mallocs of a decoded document's strings.
 */
static lb_val_t *bytes_new(lb_type_t t, const void *p, size_t n)
{
    if (n > UINT32_MAX || (n && !p))
        return NULL;
    lb_val_t *v = alloc_ok() ? malloc(sizeof(*v) + n + 1) : NULL;
    if (!v)
        return NULL;
    *v = (lb_val_t){.type = t, .s_inline = true};
    v->s.p = (char *)(v + 1);
    if (n)
        memcpy(v->s.p, p, n);
    v->s.p[n] = '\0';
    v->s.n = (uint32_t)n;
    return v;
}

lb_val_t *lb_str(const char *s)
{
    if (!s)
        return NULL;
    return bytes_new(LB_STR, s, strlen(s));
}

lb_val_t *lb_strn(const char *s, size_t n)
{
    return bytes_new(LB_STR, s, n);
}

lb_val_t *lb_bin(const void *p, size_t n)
{
    return bytes_new(LB_BIN, p, n);
}

lb_val_t *lb_raw(const void *p, size_t n)
{
    return bytes_new(LB_RAW, p, n);
}

lb_val_t *lb_arr(void)
{
    return val_new(LB_ARR);
}

lb_val_t *lb_map(void)
{
    return val_new(LB_MAP);
}

void lb_val_free(lb_val_t **pv)
{
    if (!pv || !*pv)
        return;
    lb_val_t *v = *pv;
    switch (v->type) {
    case LB_STR:
    case LB_BIN:
    case LB_RAW:
        if (!v->s_inline)
            free(v->s.p);
        break;
    case LB_ARR:
        for (uint32_t i = 0; i < v->a.n; i++)
            lb_val_free(&v->a.items[i]);
        free(v->a.items);
        break;
    case LB_MAP:
        for (uint32_t i = 0; i < v->m.n; i++) {
            if (!v->m_block)
                free(v->m.keys[i]);
            lb_val_free(&v->m.vals[i]);
        }
        if (!v->m_block) {
            free(v->m.keys);
            free(v->m.vals);
        }
        break;
    default:
        break;
    }
    if (!v->in_block)
        free(v);
    *pv = NULL;
}

/* Next capacity for a growing array of n entries; 0 when it cannot grow. */
static uint32_t grow_cap(uint32_t cap)
{
    if (cap == 0)
        return 4;
    if (cap >= UINT32_MAX / 2)
        return cap == UINT32_MAX ? 0 : UINT32_MAX;
    return cap * 2;
}

int lb_arr_push(lb_val_t *a, lb_val_t *item)
{
    if (!a || a->type != LB_ARR || !item) {
        lb_val_free(&item);
        return a && a->type == LB_ARR ? LB_ENOMEM : LB_EINTERNAL;
    }
    if (a->a.n == a->a.cap) {
        uint32_t cap = grow_cap(a->a.cap);
        lb_val_t **items =
            cap && alloc_ok() ? realloc(a->a.items, (size_t)cap * sizeof(*items)) : NULL;
        if (!items) {
            lb_val_free(&item);
            return LB_ENOMEM;
        }
        a->a.items = items;
        a->a.cap = cap;
    }
    a->a.items[a->a.n++] = item;
    return 0;
}

static int map_find(const lb_val_t *m, const char *key)
{
    for (uint32_t i = 0; i < m->m.n; i++)
        if (strcmp(m->m.keys[i], key) == 0)
            return (int)i;
    return -1;
}

/* The checks of lb_map_set and lb_map_put_new: 0, or the error (val freed). */
static int map_args(lb_val_t *m, const char *key, lb_val_t **val)
{
    if (!m || m->type != LB_MAP || !key || !*val) {
        lb_val_free(val);
        /* A NULL val is what a failed constructor hands us: report ENOMEM. */
        return m && m->type == LB_MAP && key ? LB_ENOMEM : LB_EINTERNAL;
    }
    return 0;
}

lb_val_t *lb_map_block(uint32_t n, const char *keys, const uint32_t *off, size_t keybytes,
                       lb_val_t *const *vals, const lb_val_t *scalars)
{
    size_t arrays = (size_t)n * (sizeof(char *) + sizeof(lb_val_t *));
    size_t nsc = 0, text = keybytes;
    for (uint32_t i = 0; i < n; i++) {
        if (vals[i])
            continue;
        nsc++;
        if (scalars[i].type == LB_STR || scalars[i].type == LB_BIN)
            text += (size_t)scalars[i].s.n + 1;
    }
    lb_val_t *m = alloc_ok() ? malloc(sizeof(*m) + arrays + nsc * sizeof(*m) + text) : NULL;
    if (!m)
        return NULL;
    *m = (lb_val_t){.type = LB_MAP, .m_block = n > 0};
    if (n == 0)
        return m;
    m->m.keys = (char **)(m + 1);
    m->m.vals = (lb_val_t **)(m->m.keys + n);
    lb_val_t *node = (lb_val_t *)(m->m.vals + n);
    char *p = (char *)(node + nsc);
    memcpy(p, keys, keybytes);
    for (uint32_t i = 0; i < n; i++)
        m->m.keys[i] = p + off[i];
    p += keybytes;
    for (uint32_t i = 0; i < n; i++) {
        if (vals[i]) {
            m->m.vals[i] = vals[i];
            continue;
        }
        *node = scalars[i];
        node->in_block = true;
        if (node->type == LB_STR || node->type == LB_BIN) {
            node->s_inline = true;
            if (node->s.n)
                memcpy(p, scalars[i].s.p, node->s.n);
            p[node->s.n] = '\0';
            node->s.p = p;
            p += (size_t)node->s.n + 1;
        }
        m->m.vals[i] = node++;
    }
    m->m.n = m->m.cap = n;
    return m;
}

/* Gives a block map (m_block) arrays and keys of its own, so it can grow. */
static int map_unblock(lb_val_t *m)
{
    uint32_t cap = m->m.cap ? m->m.cap : 1;
    char **keys = alloc_ok() ? malloc((size_t)cap * sizeof(*keys)) : NULL;
    lb_val_t **vals = keys ? malloc((size_t)cap * sizeof(*vals)) : NULL;
    uint32_t i = 0;
    for (; vals && i < m->m.n; i++)
        if (!(keys[i] = strdup(m->m.keys[i])))
            break;
    if (!vals || i < m->m.n) {
        while (i > 0)
            free(keys[--i]);
        free(keys);
        free(vals);
        return LB_ENOMEM;
    }
    memcpy(vals, m->m.vals, (size_t)m->m.n * sizeof(*vals));
    /* the old arrays and key texts stay in the node's block until the node is freed */
    m->m.keys = keys;
    m->m.vals = vals;
    m->m.cap = cap;
    m->m_block = false;
    return 0;
}

/* Appends key -> val after the last key (val freed on failure). */
static int map_append(lb_val_t *m, const char *key, lb_val_t *val)
{
    if (m->m_block && map_unblock(m)) {
        lb_val_free(&val);
        return LB_ENOMEM;
    }
    if (m->m.n == m->m.cap) {
        uint32_t cap = grow_cap(m->m.cap);
        if (!cap) {
            lb_val_free(&val);
            return LB_ENOMEM;
        }
        char **keys = alloc_ok() ? realloc(m->m.keys, (size_t)cap * sizeof(*keys)) : NULL;
        if (!keys) {
            lb_val_free(&val);
            return LB_ENOMEM;
        }
        m->m.keys = keys;
        lb_val_t **vals = realloc(m->m.vals, (size_t)cap * sizeof(*vals));
        if (!vals) {
            lb_val_free(&val);
            return LB_ENOMEM;
        }
        m->m.vals = vals;
        m->m.cap = cap;
    }
    char *k = alloc_ok() ? strdup(key) : NULL;
    if (!k) {
        lb_val_free(&val);
        return LB_ENOMEM;
    }
    m->m.keys[m->m.n] = k;
    m->m.vals[m->m.n] = val;
    m->m.n++;
    return 0;
}

int lb_map_set(lb_val_t *m, const char *key, lb_val_t *val)
{
    int rc = map_args(m, key, &val);
    if (rc)
        return rc;
    int at = map_find(m, key);
    /* at < n always; said again so that clang-tidy's analyzer, which does not follow map_find
     * here, sees the index is within the map. */
    if (at >= 0 && (uint32_t)at < m->m.n) {
        lb_val_free(&m->m.vals[at]);
        m->m.vals[at] = val;
        return 0;
    }
    return map_append(m, key, val);
}

int lb_map_put_new(lb_val_t *m, const char *key, lb_val_t *val)
{
    int rc = map_args(m, key, &val);
    return rc ? rc : map_append(m, key, val);
}

int lb_map_del(lb_val_t *m, const char *key)
{
    if (!m || m->type != LB_MAP || !key)
        return LB_ENOTFOUND;
    int at = map_find(m, key);
    if (at < 0)
        return LB_ENOTFOUND;
    if (!m->m_block) /* a block map's key text goes with its node */
        free(m->m.keys[at]);
    lb_val_free(&m->m.vals[at]);
    /* Shift down: insertion order is part of the contract (encoding order). */
    uint32_t rest = m->m.n - (uint32_t)at - 1;
    memmove(&m->m.keys[at], &m->m.keys[at + 1], rest * sizeof(*m->m.keys));
    memmove(&m->m.vals[at], &m->m.vals[at + 1], rest * sizeof(*m->m.vals));
    m->m.n--;
    return 0;
}

lb_val_t *lb_map_get(const lb_val_t *m, const char *key)
{
    if (!m || m->type != LB_MAP || !key)
        return NULL;
    int at = map_find(m, key);
    return at < 0 ? NULL : m->m.vals[at];
}

const char *lb_map_str(const lb_val_t *m, const char *key)
{
    const lb_val_t *v = lb_map_get(m, key);
    return v && v->type == LB_STR ? v->s.p : NULL;
}

int lb_map_int(const lb_val_t *m, const char *key, int64_t *out)
{
    const lb_val_t *v = lb_map_get(m, key);
    if (!v || v->type != LB_INT)
        return LB_ENOTFOUND;
    if (out)
        *out = v->i;
    return 0;
}

int lb_map_set_str(lb_val_t *m, const char *key, const char *s)
{
    return lb_map_set(m, key, lb_str(s));
}

int lb_map_set_int(lb_val_t *m, const char *key, int64_t i)
{
    return lb_map_set(m, key, lb_int(i));
}

int lb_map_set_bool(lb_val_t *m, const char *key, bool b)
{
    return lb_map_set(m, key, lb_bool(b));
}

void lb_rc(int *rc, int code)
{
    if (!*rc && code)
        *rc = code;
}

void lb_put(lb_val_t *m, const char *key, lb_val_t *v, int *rc)
{
    if (*rc) {
        lb_val_free(&v);
        return;
    }
    *rc = lb_map_set(m, key, v);
}

void lb_add(lb_val_t *m, const char *key, lb_val_t *v, int *rc)
{
    if (*rc) {
        lb_val_free(&v);
        return;
    }
    *rc = lb_map_put_new(m, key, v);
}

void lb_add_str(lb_val_t *m, const char *key, const char *s, int *rc)
{
    lb_add(m, key, *rc ? NULL : lb_str(s), rc);
}

void lb_add_int(lb_val_t *m, const char *key, int64_t i, int *rc)
{
    lb_add(m, key, *rc ? NULL : lb_int(i), rc);
}

void lb_add_bool(lb_val_t *m, const char *key, bool b, int *rc)
{
    lb_add(m, key, *rc ? NULL : lb_bool(b), rc);
}

void lb_put_str(lb_val_t *m, const char *key, const char *s, int *rc)
{
    lb_put(m, key, *rc ? NULL : lb_str(s), rc);
}

void lb_put_int(lb_val_t *m, const char *key, int64_t i, int *rc)
{
    lb_put(m, key, *rc ? NULL : lb_int(i), rc);
}

void lb_put_bool(lb_val_t *m, const char *key, bool b, int *rc)
{
    lb_put(m, key, *rc ? NULL : lb_bool(b), rc);
}

void lb_push(lb_val_t *a, lb_val_t *v, int *rc)
{
    if (*rc) {
        lb_val_free(&v);
        return;
    }
    *rc = lb_arr_push(a, v);
}

lb_val_t *lb_val_dup(const lb_val_t *v)
{
    if (!v)
        return NULL;
    switch (v->type) {
    case LB_NIL:
        return lb_nil();
    case LB_BOOL:
        return lb_bool(v->b);
    case LB_INT:
        return lb_int(v->i);
    case LB_FLOAT:
        return lb_float(v->f);
    case LB_STR:
        return lb_strn(v->s.p, v->s.n);
    case LB_BIN:
        return lb_bin(v->s.p, v->s.n);
    case LB_RAW:
        return lb_raw(v->s.p, v->s.n);
    case LB_ARR: {
        lb_val_t *a = lb_arr();
        if (!a)
            return NULL;
        for (uint32_t i = 0; i < v->a.n; i++) {
            if (lb_arr_push(a, lb_val_dup(v->a.items[i]))) {
                lb_val_free(&a);
                return NULL;
            }
        }
        return a;
    }
    case LB_MAP: {
        lb_val_t *m = lb_map();
        if (!m)
            return NULL;
        for (uint32_t i = 0; i < v->m.n; i++) { /* v's keys are unique: appended */
            if (lb_map_put_new(m, v->m.keys[i], lb_val_dup(v->m.vals[i]))) {
                lb_val_free(&m);
                return NULL;
            }
        }
        return m;
    }
    }
    return NULL;
}

bool lb_val_equal(const lb_val_t *a, const lb_val_t *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->type != b->type)
        return false;
    switch (a->type) {
    case LB_NIL:
        return true;
    case LB_BOOL:
        return a->b == b->b;
    case LB_INT:
        return a->i == b->i;
    /* Two NaNs count as equal so that a decoded copy equals its source. */
    case LB_FLOAT:
        return a->f == b->f || (isnan(a->f) && isnan(b->f));
    case LB_STR:
    case LB_BIN:
    case LB_RAW:
        return a->s.n == b->s.n && memcmp(a->s.p, b->s.p, a->s.n) == 0;
    case LB_ARR:
        if (a->a.n != b->a.n)
            return false;
        for (uint32_t i = 0; i < a->a.n; i++)
            if (!lb_val_equal(a->a.items[i], b->a.items[i]))
                return false;
        return true;
    case LB_MAP:
        /* Keys are unique, so same count + every key of a in b means same key set. */
        if (a->m.n != b->m.n)
            return false;
        for (uint32_t i = 0; i < a->m.n; i++) {
            const lb_val_t *bv = lb_map_get(b, a->m.keys[i]);
            if (!bv || !lb_val_equal(a->m.vals[i], bv))
                return false;
        }
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* JSON                                                                    */
/* ---------------------------------------------------------------------- */

static int buf_puts(lb_buf_t *b, const char *s)
{
    return lb_buf_append(b, s, strlen(s));
}

static int json_string(lb_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = lb_buf_append(b, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            elen = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
            elen = 2;
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2);
            elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if (elen) {
            rc = lb_buf_append(b, s + run, i - run);
            if (rc == 0)
                rc = lb_buf_append(b, esc, elen);
            run = i + 1;
        }
    }
    if (rc == 0)
        rc = lb_buf_append(b, s + run, n - run);
    if (rc == 0)
        rc = lb_buf_append(b, "\"", 1);
    return rc;
}

static int json_hex(lb_buf_t *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (n > (SIZE_MAX - 2) / 2)
        return LB_ENOMEM;
    int rc = lb_buf_append(b, "\"", 1);
    if (rc == 0)
        rc = lb_buf_reserve(b, 2 * n + 1);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        b->p[b->len++] = (uint8_t)hex[p[i] >> 4];
        b->p[b->len++] = (uint8_t)hex[p[i] & 15];
    }
    b->p[b->len++] = '"';
    return 0;
}

static int json_float(lb_buf_t *b, double f)
{
    /* JSON has no NaN or infinities. */
    if (!isfinite(f))
        return buf_puts(b, "null");
    char tmp[40];
    /* Shortest of %.15g / %.17g that reads back as the same double. */
    snprintf(tmp, sizeof(tmp), "%.15g", f);
    if (strtod(tmp, NULL) != f)
        snprintf(tmp, sizeof(tmp), "%.17g", f);
    return buf_puts(b, tmp);
}

static int json_newline(lb_buf_t *b, int indent, int level)
{
    if (indent <= 0)
        return 0;
    int rc = lb_buf_append(b, "\n", 1);
    size_t n = (size_t)indent * (size_t)level;
    if (rc == 0 && n) {
        rc = lb_buf_reserve(b, n);
        if (rc == 0) {
            memset(b->p + b->len, ' ', n);
            b->len += n;
        }
    }
    return rc;
}

static int json_val(const lb_val_t *v, int indent, int level, lb_buf_t *b)
{
    char tmp[32];
    int rc = 0;
    if (!v)
        return buf_puts(b, "null");
    switch (v->type) {
    case LB_NIL:
        return buf_puts(b, "null");
    case LB_BOOL:
        return buf_puts(b, v->b ? "true" : "false");
    case LB_INT:
        snprintf(tmp, sizeof(tmp), "%" PRId64, v->i);
        return buf_puts(b, tmp);
    case LB_FLOAT:
        return json_float(b, v->f);
    case LB_STR:
        return json_string(b, v->s.p, v->s.n);
    case LB_BIN:
    case LB_RAW:
        return json_hex(b, (const uint8_t *)v->s.p, v->s.n);
    case LB_ARR:
        if (v->a.n == 0)
            return buf_puts(b, "[]");
        rc = buf_puts(b, "[");
        for (uint32_t i = 0; rc == 0 && i < v->a.n; i++) {
            if (i)
                rc = buf_puts(b, indent > 0 ? "," : ", ");
            if (rc == 0)
                rc = json_newline(b, indent, level + 1);
            if (rc == 0)
                rc = json_val(v->a.items[i], indent, level + 1, b);
        }
        if (rc == 0)
            rc = json_newline(b, indent, level);
        return rc ? rc : buf_puts(b, "]");
    case LB_MAP:
        if (v->m.n == 0)
            return buf_puts(b, "{}");
        rc = buf_puts(b, "{");
        for (uint32_t i = 0; rc == 0 && i < v->m.n; i++) {
            if (i)
                rc = buf_puts(b, indent > 0 ? "," : ", ");
            if (rc == 0)
                rc = json_newline(b, indent, level + 1);
            if (rc == 0)
                rc = json_string(b, v->m.keys[i], strlen(v->m.keys[i]));
            if (rc == 0)
                rc = buf_puts(b, ": ");
            if (rc == 0)
                rc = json_val(v->m.vals[i], indent, level + 1, b);
        }
        if (rc == 0)
            rc = json_newline(b, indent, level);
        return rc ? rc : buf_puts(b, "}");
    }
    return LB_EINTERNAL;
}

int lb_val_to_json(const lb_val_t *v, int indent, lb_buf_t *out)
{
    /* On failure out keeps its previous length: no half-written document. */
    size_t mark = out->len;
    int rc = json_val(v, indent, 0, out);
    if (rc)
        out->len = mark;
    return rc;
}

/* Writes the document without a trailing newline; LB_EIO when the stream fails. */
int lb_val_fprint_json(const lb_val_t *v, int indent, FILE *f)
{
    lb_buf_t b;
    lb_buf_init(&b);
    int rc = lb_val_to_json(v, indent, &b);
    if (rc == 0 && b.len && fwrite(b.p, 1, b.len, f) != b.len)
        rc = LB_EIO;
    lb_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* UTF-8                                                                   */
/* ---------------------------------------------------------------------- */

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
bool lb_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    if (n && !s)
        return false;
    while (i < n) {
        /* Eight ASCII bytes without NUL at a time: most text on the wire is such. */
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            const uint64_t high = UINT64_C(0x8080808080808080), ones = UINT64_C(0x0101010101010101);
            if (((w | ((w - ones) & ~w)) & high) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The sequence of Mosquitto's persist_write.c. */
int lb_file_replace(const char *path, const void *data, size_t len, mode_t mode, char *err,
                    size_t errlen)
{
    int rc = 0, fd = -1, dfd = -1, e = 0;
    bool created = false, renamed = false;
    char *dir = NULL, *tmp = NULL;
    const char *step = "";
    const char *slash = path ? strrchr(path, '/') : NULL;
    const char *base = slash ? slash + 1 : path;
    if (!path || !*base) {
        lb_set_err(err, errlen, "'%s' is not a file name", path ? path : "");
        errno = EINVAL;
        return LB_EBADREQ;
    }
    if (len && !data) {
        lb_set_err(err, errlen, "%s: no data to write", path);
        errno = EINVAL;
        return LB_EBADREQ;
    }
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    size_t dirlen = (size_t)(base - path); /* with its '/' */
    /* Hidden and next to the target, so the rename stays within one file system. */
    size_t tmplen = dirlen + 1 + strlen(base) + sizeof ".tmp." + 3 * sizeof(long);
    tmp = malloc(tmplen);
    if (!dir || !tmp) {
        rc = LB_ENOMEM;
        e = ENOMEM;
        goto done;
    }
    snprintf(tmp, tmplen, "%.*s.%s.tmp.%ld", (int)dirlen, path, base, (long)getpid());
    unlink(tmp); /* left by a crashed process that had our pid */
    step = "create";
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        goto fail;
    created = true;
    /* open() narrowed mode by the umask; the caller asked for exactly mode. */
    step = "set the mode of";
    if (fchmod(fd, mode) != 0)
        goto fail;
    step = "write";
    if (write_all(fd, data, len) != 0)
        goto fail;
    /* Without this fsync the rename could reach the disk before the data does. */
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    step = "close";
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0)
        goto fail;
    step = "rename";
    if (rename(tmp, path) != 0)
        goto fail;
    renamed = true;
    /* The rename lives in the folder: fsync it, or a crash may bring the old file back. */
    step = "open the folder";
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        goto fail;
    step = "fsync the folder";
    if (fsync(dfd) != 0)
        goto fail;
    goto done;
fail:
    e = errno;
    lb_set_err(err, errlen, "%s: %s %s: %s", path, step, renamed ? dir : tmp, strerror(e));
    rc = (e == ENOSPC || e == EDQUOT) ? LB_EDISKFULL : LB_EIO;
done:
    if (fd >= 0)
        close(fd);
    if (created && !renamed)
        unlink(tmp);
    if (dfd >= 0)
        close(dfd);
    free(dir);
    free(tmp);
    if (rc)
        errno = e;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Identifiers                                                             */
/* ---------------------------------------------------------------------- */

/* Length of the run of ASCII digits at s (stops at the first non-digit). */
static size_t digit_run(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

const char *const lb_dimensions[LB_NDIM] = {"health", "living", "education", "income",
                                            "accessibility"};
const char *const lb_esc_levels[LB_NESC_LEVEL] = {"team", "subdistrict", "district", "province"};
const char *const lb_progress_levels[LB_NPROGRESS] = {"survive", "sufficient", "sustainable"};

bool lb_valid_house_id(const char *s)
{
    return s && digit_run(s) == 11 && s[11] == '\0';
}

bool lb_valid_area(const char *s, bool exact8)
{
    if (!s)
        return false;
    size_t n = digit_run(s);
    if (s[n] != '\0')
        return false;
    if (exact8)
        return n == 8;
    return n == 2 || n == 4 || n == 6 || n == 8;
}

bool lb_valid_nid(const char *s)
{
    if (!s || digit_run(s) != 13 || s[13] != '\0')
        return false;
    if (s[0] < '1' || s[0] > '8')
        return false;
    int sum = 0;
    for (int i = 0; i < 12; i++)
        sum += (s[i] - '0') * (13 - i);
    int check = (11 - sum % 11) % 10;
    return s[12] - '0' == check;
}

void lb_case_id_format(uint64_t n, char out[LB_CASE_ID_MAX])
{
    snprintf(out, LB_CASE_ID_MAX, "C%09" PRIu64, n);
}

int lb_case_id_parse(const char *s, uint64_t *out)
{
    if (!s || s[0] != 'C')
        return LB_EBADREQ;
    size_t n = digit_run(s + 1);
    /* 9 digits minimum; 20 is the most a uint64 needs. */
    if (n < 9 || n > 20 || s[1 + n] != '\0')
        return LB_EBADREQ;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[1 + i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return LB_EBADREQ;
        v = v * 10 + d;
    }
    /* Only the canonical spelling is an id: "C0000000042" is not "C000000042". */
    if (n > 9 && s[1] == '0')
        return LB_EBADREQ;
    if (out)
        *out = v;
    return 0;
}
