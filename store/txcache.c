/*
 * txcache.c - what a write transaction sums in memory and writes once, at
 * its top commit (store.c calls these): counter deltas and the tips (the
 * event chain's tip and the last case id). Part of store.c's transaction
 * layer, kept in a file of its own.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Part of the transaction layer: counter deltas are summed per transaction,
 * folded into the parent when a nested transaction commits and written to
 * the counts database just before the top transaction commits. cases.c
 * decides which counters a case moves (store_cnt_add_delta); this file
 * owns when they reach the disk. The event chain's tip and the last case id
 * (store_tips_t) ride along: merged into the parent and written to meta at
 * the same points.
 */

/*
 * Eight key bytes a multiply (an import adds some 30 counters a case, keys of
 * 10-30 bytes). Only slots depend on it: the deltas are written in the order
 * they were first added, whatever the hash.
 */
static uint32_t store_cnt_hash(const uint8_t *k, size_t n)
{
    const uint64_t m = 0xff51afd7ed558ccdULL;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    for (; n >= 8; k += 8, n -= 8) {
        memcpy(&w, k, 8);
        h = (h ^ w) * m;
        h ^= h >> 32;
    }
    for (w = 0; n; n--)
        w = (w << 8) | k[n - 1];
    h = (h ^ w) * m;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return (uint32_t)(h >> 32);
}

static int store_cnt_rehash(store_cdeltas_t *m, uint32_t nslot)
{
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot)
        return LB_ENOMEM;
    for (uint32_t i = 0; i < m->n; i++) {
        uint32_t h = store_cnt_hash(m->v[i].key, m->v[i].klen) & (nslot - 1);
        while (slot[h])
            h = (h + 1) & (nslot - 1);
        slot[h] = i + 1;
    }
    free(m->slot);
    m->slot = slot;
    m->nslot = nslot;
    return 0;
}

int store_cnt_add_delta(store_txn_t *t, const uint8_t *key, size_t klen, int64_t delta)
{
    return store_cdeltas_add(&t->cnt, key, klen, delta);
}

int store_cdeltas_add(store_cdeltas_t *m, const uint8_t *key, size_t klen, int64_t delta)
{
    if (klen > sizeof m->v[0].key)
        return LB_EINTERNAL;
    if (delta == 0)
        return 0;
    if (2 * (m->n + 1) > m->nslot) {
        int ret = store_cnt_rehash(m, m->nslot ? m->nslot * 2 : 64);
        if (ret)
            return ret;
    }
    uint32_t h = store_cnt_hash(key, klen) & (m->nslot - 1);
    for (; m->slot[h]; h = (h + 1) & (m->nslot - 1)) {
        store_cdelta_t *e = &m->v[m->slot[h] - 1];
        if (e->klen == klen && memcmp(e->key, key, klen) == 0) {
            e->delta += delta;
            return 0;
        }
    }
    if (m->n == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 64;
        store_cdelta_t *v = realloc(m->v, cap * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        m->v = v;
        m->cap = cap;
    }
    store_cdelta_t *e = &m->v[m->n];
    memcpy(e->key, key, klen);
    e->klen = (uint16_t)klen;
    e->delta = delta;
    m->slot[h] = ++m->n;
    return 0;
}

store_tips_t *store_tips_ev(store_txn_t *t)
{
    for (; t; t = t->parent)
        if (t->tips.ev_have)
            return &t->tips;
    return NULL;
}

store_tips_t *store_tips_cs(store_txn_t *t)
{
    for (; t; t = t->parent)
        if (t->tips.cs_have)
            return &t->tips;
    return NULL;
}

/* A committed nested transaction's tips become its parent's (dirty stays dirty). */
void store_tips_merge(store_tips_t *p, const store_tips_t *c)
{
    if (c->ev_have) {
        p->ev_seq = c->ev_seq;
        memcpy(p->ev_chain, c->ev_chain, sizeof p->ev_chain);
        p->ev_have = true;
        p->ev_dirty = p->ev_dirty || c->ev_dirty;
    }
    if (c->cs_have) {
        p->case_seq = c->case_seq;
        p->cs_have = true;
        p->cs_dirty = p->cs_dirty || c->cs_dirty;
    }
}

/* Writes the tips the top transaction changed to meta. */
int store_tips_flush(store_txn_t *t)
{
    int ret = 0;
    if (t->tips.ev_dirty) {
        ret = store_meta_put_u64(t, "event_seq", t->tips.ev_seq);
        if (ret == 0)
            ret = store_meta_put(t, "event_chain", t->tips.ev_chain, sizeof t->tips.ev_chain);
    }
    if (ret == 0 && t->tips.cs_dirty)
        ret = store_meta_put_u64(t, "case_seq", t->tips.case_seq);
    if (ret == 0)
        t->tips.ev_dirty = t->tips.cs_dirty = false;
    return ret;
}

int store_cnt_merge(store_txn_t *parent, const store_txn_t *child)
{
    store_tips_merge(&parent->tips, &child->tips);
    for (uint32_t i = 0; i < child->cnt.n; i++) {
        const store_cdelta_t *e = &child->cnt.v[i];
        int ret = store_cnt_add_delta(parent, e->key, e->klen, e->delta);
        if (ret)
            return ret;
    }
    return 0;
}

void store_cdeltas_free(store_cdeltas_t *m)
{
    free(m->v);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

void store_cnt_free(store_txn_t *t)
{
    store_cdeltas_free(&t->cnt);
}

/* One counter key's stored value plus delta. */
static int store_cnt_write(store_txn_t *t, const uint8_t *k, size_t klen, int64_t delta)
{
    uint8_t vbuf[8];
    const void *v;
    size_t vlen;
    uint64_t cur = 0;
    int ret = store_db_get(t, STORE_DB_COUNTS, k, klen, &v, &vlen);
    if (ret == 0) {
        if (vlen != 8)
            return LB_ECORRUPT;
        cur = store_get_be64(v);
    } else if (ret != LB_ENOTFOUND) {
        return ret;
    }
    if (delta < 0 && cur < (uint64_t)(-delta))
        return LB_ECORRUPT;
    cur += (uint64_t)delta;
    if (cur == 0)
        return ret == 0 ? store_db_del(t, STORE_DB_COUNTS, k, klen) : 0;
    store_be64(vbuf, cur);
    return store_db_put(t, STORE_DB_COUNTS, k, klen, vbuf, sizeof vbuf);
}

/* Writes every cached delta; a counter reaching 0 is deleted, below 0 is corruption. */
int store_cnt_flush(store_txn_t *t)
{
    int tr = store_tips_flush(t);
    if (tr)
        return tr;
    for (uint32_t i = 0; i < t->cnt.n; i++) {
        const store_cdelta_t *e = &t->cnt.v[i];
        if (e->delta == 0)
            continue;
        int ret = store_cnt_write(t, e->key, e->klen, e->delta);
        if (ret)
            return ret;
    }
    t->cnt.n = 0;
    if (t->cnt.slot)
        memset(t->cnt.slot, 0, t->cnt.nslot * sizeof *t->cnt.slot);
    return 0;
}
