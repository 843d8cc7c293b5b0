/*
 * store_int.h - what the files of store/ share and nobody else sees: the
 * layout of store_t and store_txn_t, the named databases, key encoding
 * helpers and the one place LMDB and errno codes become LB_E* codes.
 *
 * Layering, one way only: store.c is the generic layer (environment,
 * transactions with their counter cache, the store_db_* wrappers, meta and
 * whole-store calls); cases.c (cases, indexes, counters, listing) and log.c
 * (events, timers, idempotency) are built on it. store.c calls nothing of
 * cases.c or log.c, and those two call nothing of each other; months.c
 * (the month counters) is cases.c's helper and calls only store.c.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <lmdb.h>
#include <stdatomic.h>

#include "store.h"

/* The named databases; order is the order they are opened in. */
enum {
    STORE_DB_CASES,
    STORE_DB_SUMMARIES,
    STORE_DB_AREA_STATE,
    STORE_DB_HOUSEHOLDS,
    STORE_DB_HOUSE_CASES,
    STORE_DB_NID,
    STORE_DB_PII,
    STORE_DB_EVENTS,
    STORE_DB_TIMERS,
    STORE_DB_CASE_TIMER,
    STORE_DB_IDEM,
    STORE_DB_IDEM_TIME,
    STORE_DB_COUNTS,
    STORE_DB_META,
    STORE_DB_OVERDUE,
    STORE_DB_COUNT
};

struct store {
    MDB_env *env;
    MDB_dbi dbi[STORE_DB_COUNT];
    size_t map_max;
    bool read_only;
    /*
     * Sticky for the running write transaction: some call met MDB_MAP_FULL.
     * store_write then grows and retries even if fn swallowed the error, so
     * a full map never turns into a failed request.
     */
    bool w_mapfull;
    /* store_write is running: a nested call would wait on LMDB's writer lock forever. */
    bool in_write;
    /* Read transactions open now: the map may not be moved under them. */
    atomic_int readers;
    /* One reset read transaction kept for renewal (cheaper than begin). */
    _Atomic(store_txn_t *) rcache;
    /* Durability tickets (store.h); a stand-in until the log: every commit is synced. */
    _Atomic uint64_t committed, durable;
    char path[4096]; /* DIR/data.mdb */
};

/*
 * Counter changes of a write transaction, summed in memory and written once
 * when the top transaction commits: an import of 10,000 households into a few
 * hundred villages touches each counter key once instead of once a household.
 */
typedef struct {
    uint8_t key[8 + 1 + STORE_COUNTER_NAME_MAX]; /* scope | 0 | name */
    uint16_t klen;
    int64_t delta;
} store_cdelta_t;

typedef struct {
    store_cdelta_t *v;
    uint32_t n, cap;
    uint32_t *slot; /* open addressing over v: index + 1, 0 = empty */
    uint32_t nslot; /* a power of two, at least twice n */
} store_cdeltas_t;

struct store_txn {
    store_t *s;
    MDB_txn *txn;
    store_cdeltas_t cnt; /* write transactions only */
    store_txn_t *child;  /* open nested transaction, if any */
    store_txn_t *parent;
    bool rdonly;
};

/*
 * The one translation of LMDB and errno codes into LB_E* (0 stays 0). s may
 * be NULL; when given, MDB_MAP_FULL marks the running write transaction.
 */
int store_lmdb_err(store_t *s, int rc);

/*
 * Adds delta to the u64 counter under key (scope | 0 | name) of the counts
 * database, in t's counter cache: the sum is written when the top write
 * transaction commits (store.c), so readers of t do not see it before.
 * LB_EINTERNAL when klen exceeds the cache's key size, LB_ENOMEM.
 */
int store_cnt_add_delta(store_txn_t *t, const uint8_t *key, size_t klen, int64_t delta);

/*
 * The same sum on a map of its own (zero-initialised; store_cdeltas_free
 * after): used to recompute counters for verification. A delta of 0 adds
 * nothing. LB_EINTERNAL (klen over the key size), LB_ENOMEM.
 */
int store_cdeltas_add(store_cdeltas_t *m, const uint8_t *key, size_t klen, int64_t delta);
void store_cdeltas_free(store_cdeltas_t *m);

/* Write access check for the mutating calls: LB_EINTERNAL on a read txn. */
int store_txn_writable(const store_txn_t *t);

/*
 * Thin wrappers over mdb_* on database db of t's store, with the error
 * translated; a get's value is valid until the transaction ends.
 */
int store_db_cursor(store_txn_t *t, int db, MDB_cursor **cur);
int store_db_put(store_txn_t *t, int db, const void *k, size_t klen, const void *v, size_t vlen);
int store_db_get(store_txn_t *t, int db, const void *k, size_t klen, const void **v, size_t *vlen);
int store_db_del(store_txn_t *t, int db, const void *k, size_t klen);
/* The number of entries of db in t's view (O(1): LMDB keeps it in the tree's root). */
int store_db_entries(store_txn_t *t, int db, uint64_t *n);
/*
 * Calls fn for each entry of db, whose keys are 8-byte big-endian numbers, from key after + 1
 * on in key order, until fn returns non-zero: a negative return is the result, a positive one
 * stops with 0. LB_ECORRUPT for a key of another size; LMDB's errors translated.
 */
int store_db_each_u64(store_txn_t *t, int db, uint64_t after,
                      int (*fn)(uint64_t key, const void *val, size_t len, void *ctx), void *ctx);

/* ---- month counters (months.c, called by cases.c) ---- */

#define STORE_MONTH_AREA_MAX 8  /* the deepest scope */
#define STORE_MONTH_NAME_MAX 32 /* "m:YYYY-MM:escalated" and room */

/*
 * Counts in t's counter cache what the change from old (NULL: a new case)
 * to meta did in meta->at's month, in every scope of meta's area (store.h,
 * store_months). 0 when meta->at is 0. LB_EINTERNAL, LB_ENOMEM.
 */
int store_months_count(store_txn_t *t, const store_case_meta_t *old, const store_case_meta_t *meta);
/* true when a counter name (n bytes, not terminated) is a month counter's: "m:...". */
bool store_is_month_name(const void *name, size_t n);

/* Big-endian integers and the order-preserving signed encoding. */
static inline void store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t store_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t store_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Flipping the sign bit makes the unsigned byte order the numeric order. */
static inline void store_i64(uint8_t *p, int64_t v)
{
    store_be64(p, (uint64_t)v ^ (UINT64_C(1) << 63));
}

static inline int64_t store_get_i64(const uint8_t *p)
{
    return (int64_t)(store_get_be64(p) ^ (UINT64_C(1) << 63));
}

#endif
