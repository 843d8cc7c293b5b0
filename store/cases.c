/*
 * cases.c - cases and what is kept in step with them in the same
 * transaction: list summaries, the area/state index, households,
 * house_cases and the report counters; also personal data, the national-id
 * hash index and the walks behind case.list and report.summary. Built on
 * store.c's transaction layer; counter changes go to its counter cache.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#define STORE_AREA_MAX 8   /* village code, the deepest scope */
#define STORE_STATE_MAX 63 /* store_case_meta_t.state */
#define STORE_HOUSE_MAX 11
#define STORE_NAME_MAX (STORE_COUNTER_NAME_MAX + 1) /* a counter name and its NUL */
#define STORE_AS_KEY_MAX (STORE_AREA_MAX + 1 + STORE_STATE_MAX + 1 + 8)
#define STORE_CNT_MAX (20 + STORE_EXTRA_MAX) /* counters one case contributes, per scope */

/* Scope prefix lengths; a case counts in each one its area is long enough for. */
static const size_t store_scope_lens[] = {0, 2, 4, 6, 8};
#define STORE_NSCOPES (sizeof store_scope_lens / sizeof store_scope_lens[0])

/* ---- small helpers ---- */

static bool store_str_ok(const char *s, size_t size, bool nonempty)
{
    size_t n = strnlen(s, size);
    return n < size && (!nonempty || n > 0);
}

static bool store_extra_ok(const store_case_meta_t *m)
{
    if (m->n_extra > STORE_EXTRA_MAX)
        return false;
    for (uint32_t i = 0; i < m->n_extra; i++)
        if (!store_str_ok(m->extra[i].name, sizeof m->extra[i].name, true))
            return false;
    return true;
}

static bool store_meta_ok(const store_case_meta_t *m)
{
    return store_str_ok(m->area, sizeof m->area, true) &&
           store_str_ok(m->state, sizeof m->state, true) &&
           store_str_ok(m->house_id, sizeof m->house_id, false) &&
           store_str_ok(m->outcome, sizeof m->outcome, false) &&
           store_str_ok(m->level, sizeof m->level, false) &&
           store_str_ok(m->esc_level, sizeof m->esc_level, false) && store_extra_ok(m);
}

/* area | 0 | state | 0 | id */
static size_t store_as_key(uint8_t *k, const char *area, const char *state, uint64_t id)
{
    size_t al = strlen(area), sl = strlen(state);
    memcpy(k, area, al);
    k[al] = 0;
    memcpy(k + al + 1, state, sl);
    k[al + 1 + sl] = 0;
    store_be64(k + al + sl + 2, id);
    return al + sl + 10;
}

/* Splits an area_state key; LB_ECORRUPT when it has not that shape. */
static int store_as_parse(const MDB_val *k, char area[STORE_AREA_MAX + 1],
                          char state[STORE_STATE_MAX + 1], uint64_t *id)
{
    const uint8_t *p = k->mv_data;
    size_t n = k->mv_size;
    const uint8_t *z1 =
        n > 0 ? memchr(p, 0, n < STORE_AREA_MAX + 1 ? n : STORE_AREA_MAX + 1) : NULL;
    if (!z1)
        return LB_ECORRUPT;
    size_t al = (size_t)(z1 - p);
    size_t rest = n - al - 1;
    if (rest < 9)
        return LB_ECORRUPT;
    size_t sl = rest - 9;
    if (sl > STORE_STATE_MAX || p[al + 1 + sl] != 0 || memchr(p + al + 1, 0, sl))
        return LB_ECORRUPT;
    memcpy(area, p, al);
    area[al] = '\0';
    memcpy(state, p + al + 1, sl);
    state[sl] = '\0';
    *id = store_get_be64(p + n - 8);
    return 0;
}

/* memcmp order with shorter-first, which is LMDB's default key order. */
static int store_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static bool store_has_prefix(const MDB_val *k, const void *prefix, size_t plen)
{
    return k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0;
}

/* Positions cur at the first key >= k; LMDB refuses an empty key to seek. */
static int store_seek(MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
    return mdb_cursor_get(cur, k, v, k->mv_size ? MDB_SET_RANGE : MDB_FIRST);
}

/* ---- counters ---- */

/*
 * A counter's name is prefix + name, both pointing into the store_case_meta_t
 * (or static text) it was made from: no copies, so a set is small enough for
 * the stack and nothing is allocated per case.
 */
typedef struct {
    const char *pre, *name;
    uint16_t pl, nl;
    int64_t v;
} store_cnt_t;

typedef struct {
    store_cnt_t c[2 * STORE_CNT_MAX];
    int n;
} store_cntset_t;

static void store_cnt_add(store_cntset_t *set, const char *prefix, const char *name, int64_t v)
{
    if (v == 0)
        return;
    store_cnt_t *c = &set->c[set->n++];
    /* Both parts are bounded by store_case_meta_t's field sizes. */
    c->pre = prefix;
    c->pl = (uint16_t)strlen(prefix);
    c->name = name;
    c->nl = (uint16_t)strlen(name);
    c->v = v;
}

/* Copies c's full name (not NUL-terminated) to out; returns its length. */
static size_t store_cnt_name(const store_cnt_t *c, uint8_t *out)
{
    memcpy(out, c->pre, c->pl);
    memcpy(out + c->pl, c->name, c->nl);
    return (size_t)c->pl + c->nl;
}

/* Whether a and b name the same counter (their full names are equal, however split). */
static bool store_cnt_same(const store_cnt_t *a, const store_cnt_t *b)
{
    if (a->pl + a->nl != b->pl + b->nl)
        return false;
    if (a->pl == b->pl)
        return memcmp(a->pre, b->pre, a->pl) == 0 && memcmp(a->name, b->name, a->nl) == 0;
    uint8_t x[STORE_NAME_MAX], y[STORE_NAME_MAX];
    size_t n = store_cnt_name(a, x);
    store_cnt_name(b, y);
    return memcmp(x, y, n) == 0;
}

/* The counters one case adds to every scope it belongs to. */
static void store_cnt_of(const store_case_meta_t *m, store_cntset_t *set)
{
    set->n = 0;
    store_cnt_add(set, "", "cases", 1);
    store_cnt_add(set, "", "open", m->open);
    store_cnt_add(set, "", "visited", m->visited);
    store_cnt_add(set, "", "assisted", m->assisted);
    store_cnt_add(set, "", "resolved", strcmp(m->outcome, "resolved") == 0);
    store_cnt_add(set, "", "closed", strcmp(m->outcome, "closed") == 0);
    store_cnt_add(set, "", "overdue", m->overdue);
    store_cnt_add(set, "", "unacked", m->unacked);
    store_cnt_add(set, "state:", m->state, 1);
    for (int i = 0; i < LB_NDIM; i++)
        store_cnt_add(set, "need:", lb_dimensions[i], m->needs_open[i]);
    if (m->level[0])
        store_cnt_add(set, "level:", m->level, 1);
    if (m->esc_level[0] && m->open)
        store_cnt_add(set, "esc:", m->esc_level, 1);
    for (uint32_t i = 0; i < m->n_extra && i < STORE_EXTRA_MAX; i++)
        store_cnt_add(set, "", m->extra[i].name, (int64_t)m->extra[i].v);
}

static const store_cnt_t *store_cnt_find(const store_cntset_t *set, const store_cnt_t *c)
{
    for (int i = 0; i < set->n; i++)
        if (store_cnt_same(&set->c[i], c))
            return &set->c[i];
    return NULL;
}

/* d = n - o, only the counters that change. */
static void store_cnt_diff(const store_cntset_t *o, const store_cntset_t *n, store_cntset_t *d)
{
    d->n = 0;
    for (int i = 0; i < n->n; i++) {
        const store_cnt_t *oc = store_cnt_find(o, &n->c[i]);
        int64_t v = n->c[i].v - (oc ? oc->v : 0);
        if (v)
            d->c[d->n] = n->c[i], d->c[d->n++].v = v;
    }
    for (int i = 0; i < o->n; i++)
        if (!store_cnt_find(n, &o->c[i]))
            d->c[d->n] = o->c[i], d->c[d->n++].v = -o->c[i].v;
}

/* Adds sign * each counter's value to counter scope|0|name in the transaction's cache (written
 * at commit); the scope part of the key is written once for the set. */
static int store_cnt_apply_set(store_txn_t *t, const char *scope, size_t slen,
                               const store_cntset_t *set, int sign)
{
    uint8_t k[STORE_AREA_MAX + 1 + STORE_NAME_MAX];

    memcpy(k, scope, slen);
    k[slen] = 0;
    for (int i = 0; i < set->n; i++) {
        size_t kl = slen + 1 + store_cnt_name(&set->c[i], k + slen + 1);
        int ret = store_cnt_add_delta(t, k, kl, sign * set->c[i].v);
        if (ret)
            return ret;
    }
    return 0;
}

/*
 * Moves the counters from old to meta. Scopes both belong to get only the
 * difference (for a plain state change, two counters a scope); a scope only
 * one of them belongs to (the area changed) loses or gains the whole case.
 */
static int store_counters(store_txn_t *t, const store_case_meta_t *old,
                          const store_case_meta_t *meta)
{
    store_cntset_t oset, nset, diff; /* about 5 KiB each: names are pointers into the metas */
    size_t oal = old ? strlen(old->area) : 0, nal = strlen(meta->area);
    int ret = 0;

    oset.n = 0;
    if (old)
        store_cnt_of(old, &oset);
    store_cnt_of(meta, &nset);
    diff.n = 0;
    if (old) /* a new case adds nset everywhere */
        store_cnt_diff(&oset, &nset, &diff);

    for (size_t i = 0; i < STORE_NSCOPES; i++) {
        size_t l = store_scope_lens[i];
        bool in_old = old && l <= oal, in_new = l <= nal;
        if (in_old && in_new && memcmp(old->area, meta->area, l) == 0) {
            ret = store_cnt_apply_set(t, meta->area, l, &diff, 1);
        } else {
            if (in_old)
                ret = store_cnt_apply_set(t, old->area, l, &oset, -1);
            if (ret == 0 && in_new)
                ret = store_cnt_apply_set(t, meta->area, l, &nset, 1);
        }
        if (ret)
            break;
    }
    return ret;
}

/* ---- cases ---- */

static int store_get_id(store_txn_t *t, int db, const void *k, size_t klen, uint64_t *id)
{
    const void *v;
    size_t vlen;
    int ret = store_db_get(t, db, k, klen, &v, &vlen);
    if (ret)
        return ret;
    if (vlen != 8)
        return LB_ECORRUPT;
    *id = store_get_be64(v);
    return 0;
}

/*
 * Puts k -> v where k (a new case's big-endian id) normally sorts after every
 * key of db: MDB_APPEND then goes straight to the last page and fills pages to
 * the end instead of splitting them in half. A key that does not sort last
 * (MDB_KEYEXIST, returned before anything is touched) is put the usual way.
 */
static int store_put_last(store_txn_t *t, int db, const void *k, size_t klen, const void *v,
                          size_t vlen)
{
    static uint8_t empty[1]; /* LMDB's memcpy wants a pointer even for no bytes */
    MDB_val key = {klen, (void *)k}, val = {vlen, vlen ? (void *)v : empty};
    int rc = mdb_put(t->txn, t->s->dbi[db], &key, &val, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        return store_db_put(t, db, k, klen, v, vlen);
    if (rc == 0) /* every change reaches the write-ahead log (wal.c), appended ones too */
        store_wal_put(t, db, k, klen, v, vlen);
    return store_lmdb_err(t->s, rc);
}

/* Removes house -> id from households when it still names this case. */
static int store_household_release(store_txn_t *t, const char *house, uint64_t id)
{
    uint64_t cur;
    size_t hl = strlen(house);
    int ret = store_get_id(t, STORE_DB_HOUSEHOLDS, house, hl, &cur);
    if (ret == LB_ENOTFOUND)
        return 0;
    if (ret == 0 && cur == id)
        ret = store_db_del(t, STORE_DB_HOUSEHOLDS, house, hl);
    return ret;
}

int store_case_put(store_txn_t *txn, uint64_t id, const store_case_meta_t *old,
                   const store_case_meta_t *meta, const void *data, size_t len, const void *summary,
                   size_t slen)
{
    uint8_t key[8], ok[STORE_AS_KEY_MAX], nk[STORE_AS_KEY_MAX], hk[STORE_HOUSE_MAX + 8];
    int ret = store_txn_writable(txn);

    if (ret)
        return ret;
    if (id == 0 || !meta || !store_meta_ok(meta) || (old && !store_meta_ok(old)) ||
        (!data && len) || (!summary && slen) || (!summary && !old))
        return LB_EINTERNAL;
    store_be64(key, id);
    bool same_house = old && strcmp(old->house_id, meta->house_id) == 0;

    /* The household is claimed first so a conflict writes nothing; the put itself finds a
     * case that holds it (MDB_NOOVERWRITE hands it back) instead of a get before it. */
    if (meta->open && meta->house_id[0] && !(old && old->open && same_house)) {
        MDB_val hkey = {strlen(meta->house_id), (void *)meta->house_id}, hval = {8, key};
        int mrc =
            mdb_put(txn->txn, txn->s->dbi[STORE_DB_HOUSEHOLDS], &hkey, &hval, MDB_NOOVERWRITE);
        if (mrc == MDB_KEYEXIST) {
            if (hval.mv_size != 8)
                return LB_ECORRUPT;
            if (store_get_be64(hval.mv_data) != id)
                return LB_EEXIST;
        } else if ((ret = store_lmdb_err(txn->s, mrc))) {
            return ret;
        } else {
            store_wal_put(txn, STORE_DB_HOUSEHOLDS, hkey.mv_data, hkey.mv_size, key, 8);
        }
    }

    /* A new case has the highest id so far (store_next_case_id): its keys go last. */
    ret = old ? store_db_put(txn, STORE_DB_CASES, key, 8, data, len)
              : store_put_last(txn, STORE_DB_CASES, key, 8, data, len);
    if (ret == 0 && summary)
        ret = old ? store_db_put(txn, STORE_DB_SUMMARIES, key, 8, summary, slen)
                  : store_put_last(txn, STORE_DB_SUMMARIES, key, 8, summary, slen);
    if (ret)
        return ret;

    if (!old || strcmp(old->area, meta->area) != 0 || strcmp(old->state, meta->state) != 0) {
        if (old) {
            ret = store_db_del(txn, STORE_DB_AREA_STATE, ok,
                               store_as_key(ok, old->area, old->state, id));
            if (ret == LB_ENOTFOUND)
                ret = LB_ECORRUPT; /* the index lost a case: old is not what was written */
            if (ret)
                return ret;
        }
        ret = store_db_put(txn, STORE_DB_AREA_STATE, nk,
                           store_as_key(nk, meta->area, meta->state, id), NULL, 0);
        if (ret)
            return ret;
    }

    /* The overdue index: same keys as area_state, only while the case is overdue. */
    bool moved =
        old && (strcmp(old->area, meta->area) != 0 || strcmp(old->state, meta->state) != 0);
    bool was = old && old->overdue;
    if (was && (!meta->overdue || moved)) {
        ret = store_db_del(txn, STORE_DB_OVERDUE, ok, store_as_key(ok, old->area, old->state, id));
        if (ret == LB_ENOTFOUND)
            ret = LB_ECORRUPT;
        if (ret)
            return ret;
    }
    if (meta->overdue && (!was || moved)) {
        ret = store_db_put(txn, STORE_DB_OVERDUE, nk, store_as_key(nk, meta->area, meta->state, id),
                           NULL, 0);
        if (ret)
            return ret;
    }

    if (old && old->open && old->house_id[0] && (!same_house || !meta->open)) {
        ret = store_household_release(txn, old->house_id, id);
        if (ret)
            return ret;
    }
    if (!same_house) {
        if (old && old->house_id[0]) {
            size_t hl = strlen(old->house_id);
            memcpy(hk, old->house_id, hl);
            memcpy(hk + hl, key, 8);
            ret = store_db_del(txn, STORE_DB_HOUSE_CASES, hk, hl + 8);
            if (ret && ret != LB_ENOTFOUND)
                return ret;
        }
        if (meta->house_id[0]) {
            size_t hl = strlen(meta->house_id);
            memcpy(hk, meta->house_id, hl);
            memcpy(hk + hl, key, 8);
            ret = store_db_put(txn, STORE_DB_HOUSE_CASES, hk, hl + 8, NULL, 0);
            if (ret)
                return ret;
        }
    }

    ret = store_counters(txn, old, meta);
    return ret ? ret : store_months_count(txn, old, meta);
}

int store_case_get(store_txn_t *txn, uint64_t id, const void **data, size_t *len)
{
    uint8_t key[8];
    if (!txn || !data || !len)
        return LB_EINTERNAL;
    store_be64(key, id);
    return store_db_get(txn, STORE_DB_CASES, key, 8, data, len);
}

int store_case_summary(store_txn_t *txn, uint64_t id, const void **data, size_t *len)
{
    uint8_t key[8];
    if (!txn || !data || !len)
        return LB_EINTERNAL;
    store_be64(key, id);
    return store_db_get(txn, STORE_DB_SUMMARIES, key, 8, data, len);
}

static int store_house_len(const char *house_id, size_t *hl)
{
    if (!house_id)
        return LB_EINTERNAL;
    *hl = strnlen(house_id, STORE_HOUSE_MAX + 1);
    return (*hl == 0 || *hl > STORE_HOUSE_MAX) ? LB_EBADREQ : 0;
}

int store_household_open_case(store_txn_t *txn, const char *house_id, uint64_t *id)
{
    size_t hl;
    if (!txn || !id)
        return LB_EINTERNAL;
    int ret = store_house_len(house_id, &hl);
    if (ret)
        return ret;
    return store_get_id(txn, STORE_DB_HOUSEHOLDS, house_id, hl, id);
}

/*
 * Calls fn with the trailing u64 of every key of db that is prefix + 8
 * bytes: the shape of house_cases and nid. fn: 0 go on, >0 stop, <0 error.
 */
static int store_prefix_ids(store_txn_t *t, int db, const void *prefix, size_t plen,
                            int (*fn)(uint64_t id, void *ctx), void *ctx)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {plen, (void *)prefix}, v;
    int ret = store_db_cursor(t, db, &cur);
    if (ret)
        goto done;
    int rc = store_seek(cur, &k, &v);
    while (rc == 0 && store_has_prefix(&k, prefix, plen)) {
        if (k.mv_size == plen + 8) {
            int r = fn(store_get_be64((const uint8_t *)k.mv_data + plen), ctx);
            if (r) {
                ret = r < 0 ? r : 0;
                goto done;
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND)
        ret = store_lmdb_err(t->s, rc);
done:
    if (cur)
        mdb_cursor_close(cur);
    return ret;
}

int store_house_cases(store_txn_t *txn, const char *house_id, int (*fn)(uint64_t id, void *ctx),
                      void *ctx)
{
    size_t hl;
    if (!txn || !fn)
        return LB_EINTERNAL;
    int ret = store_house_len(house_id, &hl);
    if (ret)
        return ret;
    return store_prefix_ids(txn, STORE_DB_HOUSE_CASES, house_id, hl, fn, ctx);
}

/* ---- personal data ---- */

int store_pii_put(store_txn_t *txn, uint64_t id, const void *sealed, size_t len)
{
    uint8_t key[8];
    int ret = store_txn_writable(txn);
    if (ret)
        return ret;
    if (!sealed && len)
        return LB_EINTERNAL;
    store_be64(key, id);
    /* Mostly a case just opened, whose id is the highest; a later change goes in its place. */
    return store_put_last(txn, STORE_DB_PII, key, 8, sealed, len);
}

int store_pii_get(store_txn_t *txn, uint64_t id, const void **sealed, size_t *len)
{
    uint8_t key[8];
    if (!txn || !sealed || !len)
        return LB_EINTERNAL;
    store_be64(key, id);
    return store_db_get(txn, STORE_DB_PII, key, 8, sealed, len);
}

int store_nid_add(store_txn_t *txn, const uint8_t hash[32], uint64_t id)
{
    uint8_t key[40];
    int ret = store_txn_writable(txn);
    if (ret)
        return ret;
    if (!hash)
        return LB_EINTERNAL;
    memcpy(key, hash, 32);
    store_be64(key + 32, id);
    return store_db_put(txn, STORE_DB_NID, key, sizeof key, NULL, 0);
}

int store_nid_find(store_txn_t *txn, const uint8_t hash[32], int (*fn)(uint64_t id, void *ctx),
                   void *ctx)
{
    if (!txn || !hash || !fn)
        return LB_EINTERNAL;
    return store_prefix_ids(txn, STORE_DB_NID, hash, 32, fn, ctx);
}

/* ---- listing ---- */

/* Hands one area_state entry with its summary to fn. */
static int store_list_emit(store_txn_t *t, const MDB_val *k, store_list_fn fn, void *ctx)
{
    char area[STORE_AREA_MAX + 1], state[STORE_STATE_MAX + 1];
    uint8_t key[8];
    uint64_t id;
    const void *sum;
    size_t slen;

    int ret = store_as_parse(k, area, state, &id);
    if (ret)
        return ret;
    store_be64(key, id);
    ret = store_db_get(t, STORE_DB_SUMMARIES, key, 8, &sum, &slen);
    if (ret == LB_ENOTFOUND)
        return LB_ECORRUPT; /* indexed but never written */
    if (ret)
        return ret;
    return fn(id, area, state, sum, slen, ctx);
}

/*
 * Walks entries from the first key >= start while they begin with prefix,
 * skipping an entry equal to skip (the strictly-after position). *stopped
 * is set when fn asked to stop.
 */
static int store_list_run(store_txn_t *t, MDB_cursor *cur, const void *start, size_t startlen,
                          const void *prefix, size_t plen, const void *skip, size_t skiplen,
                          store_list_fn fn, void *ctx, bool *stopped)
{
    MDB_val k = {startlen, (void *)start}, v;
    int rc = store_seek(cur, &k, &v);
    while (rc == 0 && store_has_prefix(&k, prefix, plen)) {
        if (!skip || store_keycmp(k.mv_data, k.mv_size, skip, skiplen) != 0) {
            int r = store_list_emit(t, &k, fn, ctx);
            if (r) {
                *stopped = true;
                return r < 0 ? r : 0;
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : store_lmdb_err(t->s, rc);
}

/*
 * With a state: visits each distinct area under the prefix and seeks
 * straight to area|0|state|0, so the entries of other states are never read.
 */
static int store_list_state(store_txn_t *t, MDB_cursor *cur, const char *prefix, const char *state,
                            const char *after_area, const char *after_state, uint64_t after_id,
                            store_list_fn fn, void *ctx)
{
    uint8_t seek[STORE_AS_KEY_MAX], start[STORE_AS_KEY_MAX], skip[STORE_AS_KEY_MAX];
    size_t pl = strlen(prefix), seeklen;
    bool stopped = false;

    /* Areas before the cursor's area are done already. */
    if (after_area && strcmp(after_area, prefix) > 0) {
        seeklen = strlen(after_area);
        memcpy(seek, after_area, seeklen);
    } else {
        seeklen = pl;
        memcpy(seek, prefix, pl);
    }
    for (;;) {
        MDB_val k = {seeklen, seek}, v;
        int rc = store_seek(cur, &k, &v);
        if (rc == MDB_NOTFOUND || (rc == 0 && !store_has_prefix(&k, prefix, pl)))
            return 0;
        if (rc)
            return store_lmdb_err(t->s, rc);
        const uint8_t *z = memchr(k.mv_data, 0, k.mv_size);
        size_t al = z ? (size_t)(z - (const uint8_t *)k.mv_data) : k.mv_size;
        if (!z || al > STORE_AREA_MAX)
            return LB_ECORRUPT;
        char area[STORE_AREA_MAX + 1];
        memcpy(area, k.mv_data, al);
        area[al] = '\0';

        int acmp = after_area ? strcmp(area, after_area) : 1;
        int scmp = acmp == 0 ? strcmp(state, after_state) : 1;
        if (acmp >= 0 && scmp >= 0) {
            size_t startlen = store_as_key(start, area, state, 0) - 8;
            size_t skiplen = 0;
            if (scmp == 0) {
                skiplen = store_as_key(skip, area, state, after_id);
                int ret = store_list_run(t, cur, skip, skiplen, start, startlen, skip, skiplen, fn,
                                         ctx, &stopped);
                if (ret || stopped)
                    return ret;
            } else {
                int ret = store_list_run(t, cur, start, startlen, start, startlen, NULL, 0, fn, ctx,
                                         &stopped);
                if (ret || stopped)
                    return ret;
            }
        }
        /* area | 0x01 sorts after every area | 0 | ... key of this area. */
        memcpy(seek, area, al);
        seek[al] = 1;
        seeklen = al + 1;
    }
}

static int store_list_db(store_txn_t *txn, int db, const char *area_prefix, const char *state,
                         const char *after_area, const char *after_state, uint64_t after_id,
                         store_list_fn fn, void *ctx)
{
    uint8_t after[STORE_AS_KEY_MAX];
    size_t afterlen = 0;
    MDB_cursor *cur = NULL;
    bool stopped = false;
    int ret;

    if (!txn || !fn)
        return LB_EINTERNAL;
    if (!area_prefix)
        area_prefix = "";
    if (after_area && !after_state)
        after_state = "";
    size_t pl = strlen(area_prefix);
    if (pl > STORE_AREA_MAX || (state && (!*state || strlen(state) > STORE_STATE_MAX)) ||
        (after_area &&
         (strlen(after_area) > STORE_AREA_MAX || strlen(after_state) > STORE_STATE_MAX)))
        return LB_EBADREQ;

    ret = store_db_cursor(txn, db, &cur);
    if (ret)
        goto done;
    if (state) {
        ret = store_list_state(txn, cur, area_prefix, state, after_area, after_state, after_id, fn,
                               ctx);
        goto done;
    }
    if (after_area) {
        afterlen = store_as_key(after, after_area, after_state, after_id);
        if (store_keycmp(after, afterlen, area_prefix, pl) >= 0)
            ret = store_list_run(txn, cur, after, afterlen, area_prefix, pl, after, afterlen, fn,
                                 ctx, &stopped);
        else
            ret = store_list_run(txn, cur, area_prefix, pl, area_prefix, pl, NULL, 0, fn, ctx,
                                 &stopped);
    } else {
        ret =
            store_list_run(txn, cur, area_prefix, pl, area_prefix, pl, NULL, 0, fn, ctx, &stopped);
    }
done:
    if (cur)
        mdb_cursor_close(cur);
    return ret;
}

int store_list(store_txn_t *txn, const char *area_prefix, const char *state, const char *after_area,
               const char *after_state, uint64_t after_id, store_list_fn fn, void *ctx)
{
    return store_list_db(txn, STORE_DB_AREA_STATE, area_prefix, state, after_area, after_state,
                         after_id, fn, ctx);
}

int store_list_overdue(store_txn_t *txn, const char *area_prefix, const char *state,
                       const char *after_area, const char *after_state, uint64_t after_id,
                       store_list_fn fn, void *ctx)
{
    return store_list_db(txn, STORE_DB_OVERDUE, area_prefix, state, after_area, after_state,
                         after_id, fn, ctx);
}

/* ---- counter walks ---- */

/*
 * Emits every counter of the scope whose keys start at the cursor's current
 * entry k, v (scope | 0 | name); leaves the cursor past them. *stopped when
 * fn asked to stop.
 */
static int store_counts_scope(store_txn_t *t, MDB_cursor *cur, MDB_val *k, MDB_val *v,
                              const char *scope, size_t sl, store_count_fn fn, void *ctx,
                              bool *stopped)
{
    uint8_t prefix[STORE_AREA_MAX + 1];
    char name[STORE_NAME_MAX];
    int rc = 0;

    memcpy(prefix, scope, sl);
    prefix[sl] = 0;
    while (rc == 0 && store_has_prefix(k, prefix, sl + 1)) {
        size_t nl = k->mv_size - sl - 1;
        if (store_is_month_name((const uint8_t *)k->mv_data + sl + 1, nl)) {
            /* The month counters are store_months'; "m;" sorts right after them all. */
            uint8_t past[STORE_AREA_MAX + 3];
            memcpy(past, prefix, sl + 1);
            memcpy(past + sl + 1, "m;", 2);
            k->mv_size = sl + 3;
            k->mv_data = past;
            rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
            continue;
        }
        if (nl == 0 || nl >= sizeof name || v->mv_size != 8)
            return LB_ECORRUPT;
        memcpy(name, (const uint8_t *)k->mv_data + sl + 1, nl);
        name[nl] = '\0';
        int r = fn(scope, name, store_get_be64(v->mv_data), ctx);
        if (r) {
            *stopped = true;
            return r < 0 ? r : 0;
        }
        rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    }
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : store_lmdb_err(t->s, rc);
}

int store_counts(store_txn_t *txn, const char *scope, store_count_fn fn, void *ctx)
{
    uint8_t seek[STORE_AREA_MAX + 1];
    MDB_cursor *cur = NULL;
    bool stopped = false;
    int ret;

    if (!txn || !fn)
        return LB_EINTERNAL;
    if (!scope)
        scope = "";
    size_t sl = strlen(scope);
    if (sl > STORE_AREA_MAX)
        return LB_EBADREQ;
    ret = store_db_cursor(txn, STORE_DB_COUNTS, &cur);
    if (ret)
        goto done;
    memcpy(seek, scope, sl);
    seek[sl] = 0;
    MDB_val k = {sl + 1, seek}, v;
    int rc = store_seek(cur, &k, &v);
    if (rc == MDB_NOTFOUND)
        goto done;
    ret = store_lmdb_err(txn->s, rc);
    if (ret == 0)
        ret = store_counts_scope(txn, cur, &k, &v, scope, sl, fn, ctx, &stopped);
done:
    if (cur)
        mdb_cursor_close(cur);
    return ret;
}

/* The smallest byte string greater than every string starting with p[0..n). */
static bool store_successor(uint8_t *p, size_t *n)
{
    while (*n > 0 && p[*n - 1] == 0xff)
        (*n)--;
    if (*n == 0)
        return false;
    p[*n - 1]++;
    return true;
}

int store_counts_children(store_txn_t *txn, const char *parent, int digits, store_count_fn fn,
                          void *ctx)
{
    uint8_t seek[STORE_AREA_MAX + 1];
    size_t seeklen;
    MDB_cursor *cur = NULL;
    bool stopped = false;
    int ret;

    if (!txn || !fn)
        return LB_EINTERNAL;
    if (!parent)
        parent = "";
    size_t pl = strlen(parent);
    if (digits <= 0 || digits > STORE_AREA_MAX || (size_t)digits <= pl)
        return LB_EBADREQ;
    size_t dl = (size_t)digits;
    ret = store_db_cursor(txn, STORE_DB_COUNTS, &cur);
    if (ret)
        goto done;
    memcpy(seek, parent, pl);
    seeklen = pl;
    while (!stopped) {
        MDB_val k = {seeklen, seek}, v;
        int rc = store_seek(cur, &k, &v);
        if (rc == MDB_NOTFOUND || (rc == 0 && !store_has_prefix(&k, parent, pl)))
            break;
        ret = store_lmdb_err(txn->s, rc);
        if (ret)
            goto done;
        const uint8_t *z = memchr(k.mv_data, 0, k.mv_size);
        size_t scl = z ? (size_t)(z - (const uint8_t *)k.mv_data) : k.mv_size;
        if (!z || scl > STORE_AREA_MAX) {
            ret = LB_ECORRUPT;
            goto done;
        }
        if (scl < dl) {
            /* The parent or a level in between: jump past its counters. */
            memcpy(seek, k.mv_data, scl);
            seek[scl] = 1;
            seeklen = scl + 1;
            continue;
        }
        /* Next round starts at the next child: deeper scopes are not wanted. */
        memcpy(seek, k.mv_data, dl);
        seeklen = dl;
        if (scl == dl) {
            char scope[STORE_AREA_MAX + 1];
            memcpy(scope, seek, dl);
            scope[dl] = '\0';
            ret = store_counts_scope(txn, cur, &k, &v, scope, dl, fn, ctx, &stopped);
            if (ret)
                goto done;
        }
        if (!store_successor(seek, &seeklen))
            break;
    }
done:
    if (cur)
        mdb_cursor_close(cur);
    return ret;
}

/* ---- verification ---- */

int store_cases_each(store_txn_t *txn, uint64_t after,
                     int (*fn)(uint64_t id, const void *data, size_t len, void *ctx), void *ctx)
{
    if (!txn || !fn)
        return LB_EINTERNAL;
    return store_db_each_u64(txn, STORE_DB_CASES, after, fn, ctx);
}

typedef struct {
    store_cdeltas_t sum; /* key scope | 0 | name -> the value the cases make */
    int digits;
    store_meta_fn fn;
    void *ctx;
    store_cntset_t *set; /* one case's counters, reused for every case */
} store_tally_t;

/* Adds one case's counters to every scope up to digits long that its area belongs to. */
static int store_tally_case(uint64_t id, const void *data, size_t len, void *ctx)
{
    store_tally_t *t = ctx;
    store_case_meta_t m;
    store_cntset_t *set = t->set;

    memset(&m, 0, sizeof m);
    int ret = t->fn(id, data, len, &m, t->ctx);
    /* fn may not stop the walk: the sums need every case. */
    if (ret)
        return ret < 0 ? ret : LB_EINTERNAL;
    if (!store_meta_ok(&m))
        return LB_EINTERNAL;
    store_cnt_of(&m, set);
    size_t al = strlen(m.area);
    for (size_t i = 0; i < STORE_NSCOPES; i++) {
        size_t l = store_scope_lens[i];
        if (l > al || l > (size_t)t->digits)
            break;
        for (int j = 0; j < set->n; j++) {
            uint8_t k[STORE_AREA_MAX + 1 + STORE_NAME_MAX];
            memcpy(k, m.area, l);
            k[l] = 0;
            size_t nl = store_cnt_name(&set->c[j], k + l + 1);
            if ((ret = store_cdeltas_add(&t->sum, k, l + 1 + nl, set->c[j].v)))
                return ret;
        }
    }
    return 0;
}

static int store_cdelta_cmp(const void *a, const void *b)
{
    const store_cdelta_t *x = a, *y = b;
    return store_keycmp(x->key, x->klen, y->key, y->klen);
}

/* Fills diff from a counter key and its two values; returns 1 (they differ). */
static int store_diff_set(store_count_diff_t *diff, const uint8_t *k, size_t klen, uint64_t stored,
                          uint64_t computed)
{
    const uint8_t *z = memchr(k, 0, klen);
    memset(diff, 0, sizeof *diff);
    if (!z) /* a counter key is scope \0 name */
        return LB_ECORRUPT;
    size_t sl = (size_t)(z - k), nl = klen - sl - 1;
    if (sl >= sizeof diff->scope || nl >= sizeof diff->name)
        return LB_ECORRUPT;
    memcpy(diff->scope, k, sl);
    memcpy(diff->name, z + 1, nl);
    diff->stored = stored;
    diff->computed = computed;
    return 1;
}

int store_counts_verify(store_txn_t *txn, int digits, store_meta_fn fn, void *ctx,
                        store_count_diff_t *diff)
{
    store_tally_t t = {.digits = digits, .fn = fn, .ctx = ctx};
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint32_t i = 0;

    if (!txn || !fn || !diff)
        return LB_EINTERNAL;
    memset(diff, 0, sizeof *diff);
    if (digits < 0 || digits > STORE_AREA_MAX)
        return LB_EBADREQ;
    int ret = (t.set = malloc(sizeof *t.set)) ? 0 : LB_ENOMEM;
    if (ret == 0)
        ret = store_cases_each(txn, 0, store_tally_case, &t);
    if (ret)
        goto done;
    /* Both sides in key order: one merge walk finds the first counter that differs. */
    if (t.sum.n)
        qsort(t.sum.v, t.sum.n, sizeof *t.sum.v, store_cdelta_cmp);
    if ((ret = store_db_cursor(txn, STORE_DB_COUNTS, &cur)))
        goto done;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *z = memchr(k.mv_data, 0, k.mv_size);
        if (!z || v.mv_size != 8) {
            ret = LB_ECORRUPT;
            goto done;
        }
        size_t zl = (size_t)(z - (const uint8_t *)k.mv_data);
        if ((int)zl > digits || store_is_month_name(z + 1, k.mv_size - zl - 1))
            continue; /* a deeper scope than asked for, or a month counter (not recomputable) */
        uint64_t stored = store_get_be64(v.mv_data);
        int c =
            i < t.sum.n ? store_keycmp(t.sum.v[i].key, t.sum.v[i].klen, k.mv_data, k.mv_size) : 1;
        if (c < 0) {
            /* The cases make a counter, sorting before this one, that the store does not hold. */
            ret = store_diff_set(diff, t.sum.v[i].key, t.sum.v[i].klen, 0,
                                 (uint64_t)t.sum.v[i].delta);
            goto done;
        }
        uint64_t computed = (i < t.sum.n && c == 0) ? (uint64_t)t.sum.v[i++].delta : 0;
        if (stored != computed) {
            ret = store_diff_set(diff, k.mv_data, k.mv_size, stored, computed);
            goto done;
        }
    }
    if (rc != MDB_NOTFOUND) {
        ret = store_lmdb_err(txn->s, rc);
        goto done;
    }
    if (i < t.sum.n)
        ret = store_diff_set(diff, t.sum.v[i].key, t.sum.v[i].klen, 0, (uint64_t)t.sum.v[i].delta);
done:
    if (cur)
        mdb_cursor_close(cur);
    store_cdeltas_free(&t.sum);
    free(t.set);
    return ret;
}
