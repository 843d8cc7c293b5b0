/*
 * lb_val.c - the dynamic value tree of lb.h: constructors, maps (small
 * insertion-ordered arrays) and arrays, copies, equality and the sticky
 * builders, plus the one-allocation forms the decoder makes (strings with
 * their node, small maps with their keys and scalars). libc only, like lb.c.
 */
#include "lb.h"
#include "proto_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
