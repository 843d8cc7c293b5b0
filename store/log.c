/*
 * log.c - the time-ordered parts of the store: the event log and its chain
 * tip, the escalation timers (one pending timer a case, walked by due time)
 * and the idempotency records with their pruning index.
 */
#include "store_int.h"

#include <string.h>

#define STORE_REQ_ID_MAX 255 /* keeps idem keys well under LMDB's 511 bytes */
#define STORE_CHAIN 32
#define STORE_DIGEST 32 /* request digest of an idempotency record */

/* ---- events ---- */

int store_event_tip(store_txn_t *txn, uint64_t *seq, uint8_t chain[32])
{
    const void *p;
    size_t len;

    if (!txn || !seq || !chain)
        return LB_EINTERNAL;
    /* A write transaction keeps the tip once known (store_tips_t): no meta reads per event. */
    const store_tips_t *tp = txn->rdonly ? NULL : store_tips_ev(txn);
    if (tp) {
        *seq = tp->ev_seq;
        memcpy(chain, tp->ev_chain, STORE_CHAIN);
        return 0;
    }
    int ret = store_meta_get_u64(txn, "event_seq", seq);
    if (ret)
        return ret;
    ret = store_meta_get(txn, "event_chain", &p, &len);
    if (ret == LB_ENOTFOUND) {
        memset(chain, 0, STORE_CHAIN);
        ret = 0;
    } else if (ret == 0 && len != STORE_CHAIN) {
        ret = LB_ECORRUPT;
    } else if (ret == 0) {
        memcpy(chain, p, STORE_CHAIN);
    }
    if (ret == 0 && !txn->rdonly) {
        txn->tips.ev_seq = *seq;
        memcpy(txn->tips.ev_chain, chain, STORE_CHAIN);
        txn->tips.ev_have = true;
    }
    return ret;
}

int store_event_append(store_txn_t *txn, uint64_t seq, const void *body, size_t len,
                       const uint8_t chain[32])
{
    uint8_t key[8], tipchain[STORE_CHAIN];
    uint64_t tip;

    int ret = store_txn_writable(txn);
    if (ret)
        return ret;
    if ((!body && len) || !chain)
        return LB_EINTERNAL;
    ret = store_event_tip(txn, &tip, tipchain);
    if (ret)
        return ret;
    /* A gap or a repeat would break the subscribers' gap repair. */
    if (tip == UINT64_MAX || seq != tip + 1)
        return LB_EINTERNAL;
    store_be64(key, seq);
    MDB_val k = {8, key}, v = {len, len ? (void *)body : tipchain};
    /* Seqs only grow: MDB_APPEND fills pages to the end instead of splitting. */
    ret =
        store_lmdb_err(txn->s, mdb_put(txn->txn, txn->s->dbi[STORE_DB_EVENTS], &k, &v, MDB_APPEND));
    if (ret)
        return ret;
    store_wal_put(txn, STORE_DB_EVENTS, key, 8, v.mv_data, v.mv_size);
    /* The new tip reaches meta (event_seq, event_chain) when the top transaction commits. */
    txn->tips.ev_seq = seq;
    memcpy(txn->tips.ev_chain, chain, STORE_CHAIN);
    txn->tips.ev_have = txn->tips.ev_dirty = true;
    return 0;
}

int store_event_get(store_txn_t *txn, uint64_t seq, const void **body, size_t *len)
{
    uint8_t key[8];
    if (!txn || !body || !len)
        return LB_EINTERNAL;
    store_be64(key, seq);
    return store_db_get(txn, STORE_DB_EVENTS, key, 8, body, len);
}

int store_events(store_txn_t *txn, uint64_t after,
                 int (*fn)(uint64_t seq, const void *body, size_t len, void *ctx), void *ctx)
{
    if (!txn || !fn)
        return LB_EINTERNAL;
    return store_db_each_u64(txn, STORE_DB_EVENTS, after, fn, ctx);
}

int store_event_overwrite_for_test(store_txn_t *txn, uint64_t seq, const void *body, size_t len)
{
    uint8_t key[8];
    const void *old;
    size_t oldlen;

    int ret = store_txn_writable(txn);
    if (ret)
        return ret;
    if (!body && len)
        return LB_EINTERNAL;
    store_be64(key, seq);
    ret = store_db_get(txn, STORE_DB_EVENTS, key, 8, &old, &oldlen);
    if (ret == 0)
        ret = store_db_put(txn, STORE_DB_EVENTS, key, 8, body, len);
    return ret;
}

/* ---- timers ---- */

/* Deletes the timers entry that case_timer says the case has, if any. */
static int store_timer_drop(store_txn_t *t, const uint8_t id[8], bool *had)
{
    uint8_t tk[16];
    const void *v;
    size_t vlen;

    *had = false;
    int ret = store_db_get(t, STORE_DB_CASE_TIMER, id, 8, &v, &vlen);
    if (ret == LB_ENOTFOUND)
        return 0;
    if (ret)
        return ret;
    if (vlen != 12)
        return LB_ECORRUPT;
    *had = true;
    memcpy(tk, v, 8);
    memcpy(tk + 8, id, 8);
    ret = store_db_del(t, STORE_DB_TIMERS, tk, sizeof tk);
    /* case_timer named an entry that is not there: the two disagree. */
    return ret == LB_ENOTFOUND ? LB_ECORRUPT : ret;
}

/* What setting and clearing start with: write access, the case's key, its timer entry dropped. */
static int store_timer_unset(store_txn_t *txn, uint64_t id, uint8_t key[8], bool *had)
{
    int ret = store_txn_writable(txn);
    if (ret)
        return ret;
    store_be64(key, id);
    return store_timer_drop(txn, key, had);
}

int store_timer_set(store_txn_t *txn, uint64_t id, int64_t due, uint32_t step)
{
    uint8_t key[8], tk[16], sv[4], ct[12];

    int ret = store_txn_writable(txn);
    if (ret)
        return ret;
    store_be64(key, id);
    store_i64(tk, due);
    memcpy(tk + 8, key, 8);
    store_be32(sv, step);
    memcpy(ct, tk, 8);
    memcpy(ct + 8, sv, 4);
    /* A new case has no timer yet: the case_timer put finds an old entry itself
     * (MDB_NOOVERWRITE hands it back) instead of a get before it. */
    MDB_val k = {8, key}, v = {sizeof ct, ct};
    int mrc = mdb_put(txn->txn, txn->s->dbi[STORE_DB_CASE_TIMER], &k, &v, MDB_NOOVERWRITE);
    if (mrc == MDB_KEYEXIST) {
        uint8_t old[16];
        if (v.mv_size != 12)
            return LB_ECORRUPT;
        memcpy(old, v.mv_data, 8);
        memcpy(old + 8, key, 8);
        ret = store_db_del(txn, STORE_DB_TIMERS, old, sizeof old);
        if (ret)
            /* case_timer named an entry that is not there: the two disagree. */
            return ret == LB_ENOTFOUND ? LB_ECORRUPT : ret;
        ret = store_db_put(txn, STORE_DB_CASE_TIMER, key, 8, ct, sizeof ct);
    } else {
        ret = store_lmdb_err(txn->s, mrc);
        if (ret == 0)
            store_wal_put(txn, STORE_DB_CASE_TIMER, key, 8, ct, sizeof ct);
    }
    if (ret == 0)
        ret = store_db_put(txn, STORE_DB_TIMERS, tk, sizeof tk, sv, sizeof sv);
    return ret;
}

int store_timer_clear(store_txn_t *txn, uint64_t id)
{
    uint8_t key[8];
    bool had;

    int ret = store_timer_unset(txn, id, key, &had);
    if (ret == 0 && had)
        ret = store_db_del(txn, STORE_DB_CASE_TIMER, key, 8);
    return ret;
}

int store_timer_first(store_txn_t *txn, int64_t *due, uint64_t *id, uint32_t *step)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int ret;

    if (!txn || !due || !id || !step)
        return LB_EINTERNAL;
    ret = store_db_cursor(txn, STORE_DB_TIMERS, &cur);
    if (ret)
        goto done;
    ret = store_lmdb_err(txn->s, mdb_cursor_get(cur, &k, &v, MDB_FIRST));
    if (ret)
        goto done;
    if (k.mv_size != 16 || v.mv_size != 4) {
        ret = LB_ECORRUPT;
        goto done;
    }
    *due = store_get_i64(k.mv_data);
    *id = store_get_be64((const uint8_t *)k.mv_data + 8);
    *step = store_get_be32(v.mv_data);
done:
    if (cur)
        mdb_cursor_close(cur);
    return ret;
}

/* ---- idempotency ---- */

/*
 * Two record formats live side by side in idem:
 *   1 (before request digests):  at (8) | reply
 *   2:                           STORE_IDEM_V2 | at (8) | digest (32) | reply
 * Format 1's first byte is the top byte of the biased at, which is 0 only for
 * times before 292 million BC, so a leading 0 marks format 2. Old records stay
 * readable (without digest) until pruning removes them.
 */
#define STORE_IDEM_V2 0x00
#define STORE_IDEM_V2_HDR (1 + 8 + STORE_DIGEST)

/* client | request id; the length of req_id is checked here. */
static int store_idem_key(uint8_t *k, const uint8_t client[32], const char *req_id, size_t *klen)
{
    if (!client || !req_id)
        return LB_EINTERNAL;
    size_t rl = strnlen(req_id, STORE_REQ_ID_MAX + 1);
    if (rl == 0 || rl > STORE_REQ_ID_MAX)
        return LB_EBADREQ;
    memcpy(k, client, 32);
    memcpy(k + 32, req_id, rl);
    *klen = 32 + rl;
    return 0;
}

/* Splits a stored record of either format; LB_ECORRUPT when it is too short for its format. */
static int store_idem_parse(const void *v, size_t vlen, store_idem_rec_t *rec)
{
    const uint8_t *p = v;
    memset(rec, 0, sizeof *rec);
    if (vlen >= 1 && p[0] == STORE_IDEM_V2) {
        if (vlen < STORE_IDEM_V2_HDR)
            return LB_ECORRUPT;
        rec->at = store_get_i64(p + 1);
        rec->has_digest = true;
        memcpy(rec->digest, p + 9, STORE_DIGEST);
        rec->reply = p + STORE_IDEM_V2_HDR;
        rec->len = vlen - STORE_IDEM_V2_HDR;
        return 0;
    }
    if (vlen < 8)
        return LB_ECORRUPT;
    rec->at = store_get_i64(p);
    rec->reply = p + 8;
    rec->len = vlen - 8;
    return 0;
}

int store_idem_find(store_txn_t *txn, const uint8_t client[32], const char *req_id,
                    int64_t not_before, store_idem_rec_t *rec)
{
    uint8_t k[32 + STORE_REQ_ID_MAX];
    size_t klen;
    const void *v;
    size_t vlen;

    if (!txn || !rec)
        return LB_EINTERNAL;
    int ret = store_idem_key(k, client, req_id, &klen);
    if (ret == 0)
        ret = store_db_get(txn, STORE_DB_IDEM, k, klen, &v, &vlen);
    if (ret == 0)
        ret = store_idem_parse(v, vlen, rec);
    if (ret == 0 && rec->at < not_before)
        ret = LB_ENOTFOUND;
    if (ret)
        memset(rec, 0, sizeof *rec);
    return ret;
}

int store_idem_get(store_txn_t *txn, const uint8_t client[32], const char *req_id,
                   int64_t not_before, const void **reply, size_t *len)
{
    store_idem_rec_t rec;

    if (!reply || !len)
        return LB_EINTERNAL;
    int ret = store_idem_find(txn, client, req_id, not_before, &rec);
    if (ret)
        return ret;
    *reply = rec.reply;
    *len = rec.len;
    return 0;
}

int store_idem_put_digest(store_txn_t *txn, const uint8_t client[32], const char *req_id,
                          int64_t at, const uint8_t digest[32], const void *reply, size_t len)
{
    uint8_t k[32 + STORE_REQ_ID_MAX], tk[8 + 32 + STORE_REQ_ID_MAX];
    size_t klen, hdr = digest ? STORE_IDEM_V2_HDR : 8;
    const void *old;
    size_t oldlen;
    store_idem_rec_t orec;

    int ret = store_txn_writable(txn);
    if (ret)
        return ret;
    if ((!reply && len) || len > SIZE_MAX - hdr)
        return LB_EINTERNAL;
    ret = store_idem_key(k, client, req_id, &klen);
    if (ret)
        return ret;
    memcpy(tk + 8, k, klen);

    /* MDB_RESERVE: the record is assembled in place, no temporary copy. A request id is almost
     * always new, so the put itself looks for an old record (MDB_NOOVERWRITE hands it back)
     * instead of a get before it. */
    MDB_val key = {klen, k}, val = {hdr + len, NULL};
    MDB_dbi dbi = txn->s->dbi[STORE_DB_IDEM];
    int mrc = mdb_put(txn->txn, dbi, &key, &val, MDB_RESERVE | MDB_NOOVERWRITE);
    if (mrc == MDB_KEYEXIST) {
        /* A replaced record leaves no stale entry in the pruning index. */
        old = val.mv_data;
        oldlen = val.mv_size;
        if ((ret = store_idem_parse(old, oldlen, &orec)))
            return ret;
        store_i64(tk, orec.at);
        ret = store_db_del(txn, STORE_DB_IDEM_TIME, tk, 8 + klen);
        if (ret && ret != LB_ENOTFOUND)
            return ret;
        val = (MDB_val){hdr + len, NULL};
        mrc = mdb_put(txn->txn, dbi, &key, &val, MDB_RESERVE);
    }
    if ((ret = store_lmdb_err(txn->s, mrc)))
        return ret;
    uint8_t *p = val.mv_data;
    if (digest) {
        p[0] = STORE_IDEM_V2;
        store_i64(p + 1, at);
        memcpy(p + 9, digest, STORE_DIGEST);
    } else {
        store_i64(p, at);
    }
    if (len)
        memcpy(p + hdr, reply, len);
    store_wal_put(txn, STORE_DB_IDEM, k, klen, p, hdr + len);

    store_i64(tk, at);
    return store_db_put(txn, STORE_DB_IDEM_TIME, tk, 8 + klen, NULL, 0);
}

int store_idem_put(store_txn_t *txn, const uint8_t client[32], const char *req_id, int64_t at,
                   const void *reply, size_t len)
{
    return store_idem_put_digest(txn, client, req_id, at, NULL, reply, len);
}

int store_idem_count(store_txn_t *txn, uint64_t *n)
{
    if (!txn || !n)
        return LB_EINTERNAL;
    return store_db_entries(txn, STORE_DB_IDEM, n);
}

int store_idem_oldest(store_txn_t *txn, int64_t *at)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;

    if (!txn || !at)
        return LB_EINTERNAL;
    int ret = store_db_cursor(txn, STORE_DB_IDEM_TIME, &cur);
    if (ret)
        return ret;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == MDB_NOTFOUND)
        ret = LB_ENOTFOUND;
    else if ((ret = store_lmdb_err(txn->s, rc)) == 0 && k.mv_size <= 8 + 32)
        ret = LB_ECORRUPT;
    if (ret == 0)
        *at = store_get_i64(k.mv_data);
    mdb_cursor_close(cur);
    return ret;
}

int store_idem_prune(store_txn_t *txn, int64_t before, size_t max, size_t *removed)
{
    uint8_t ik[32 + STORE_REQ_ID_MAX];
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t n = 0;
    int ret;

    if (!removed)
        return LB_EINTERNAL;
    *removed = 0;
    ret = store_txn_writable(txn);
    if (ret)
        return ret;
    ret = store_db_cursor(txn, STORE_DB_IDEM_TIME, &cur);
    if (ret)
        goto done;
    while (n < max) {
        /* Deleting moves the next entry to the front: always take the first. */
        int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc == MDB_NOTFOUND)
            break;
        ret = store_lmdb_err(txn->s, rc);
        if (ret)
            goto done;
        if (k.mv_size <= 8 + 32) {
            ret = LB_ECORRUPT;
            goto done;
        }
        if (store_get_i64(k.mv_data) >= before)
            break;
        if (k.mv_size > sizeof ik + 8) {
            ret = LB_ECORRUPT;
            goto done;
        }
        /* A copy: the key's page may move while the other database changes. */
        size_t iklen = k.mv_size - 8;
        memcpy(ik, (const uint8_t *)k.mv_data + 8, iklen);
        uint8_t tkey[sizeof ik + 8];
        size_t tklen = k.mv_size;
        memcpy(tkey, k.mv_data, tklen);
        ret = store_lmdb_err(txn->s, mdb_cursor_del(cur, 0));
        if (ret)
            goto done;
        store_wal_del(txn, STORE_DB_IDEM_TIME, tkey, tklen);
        ret = store_db_del(txn, STORE_DB_IDEM, ik, iklen);
        if (ret == LB_ENOTFOUND)
            ret = 0;
        if (ret)
            goto done;
        n++;
    }
    *removed = n;
done:
    if (cur)
        mdb_cursor_close(cur);
    return ret;
}
