/*
 * store_int.h - what the files of store/ share and nobody else sees: the
 * layout of store_t and store_txn_t, the named databases, key encoding
 * helpers and the one place LMDB and errno codes become LB_E* codes.
 *
 * Layering, one way only: store.c is the generic layer (environment,
 * transactions with their counter cache (txcache.c), the store_db_* wrappers, meta and
 * whole-store calls); cases.c (cases, indexes, counters, listing) and log.c
 * (events, timers, idempotency) are built on it. store.c calls nothing of
 * cases.c or log.c, and those two call nothing of each other; months.c
 * (the month counters) is cases.c's helper and calls only store.c. wal.c
 * (the write-ahead log) and ckpt.c (checkpoints, recovery) sit beside
 * store.c: it calls them at open, commit and close, and log.c captures its
 * raw LMDB writes into the log (store_wal_put/del).
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
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
    /*
     * Read transactions open or beginning now: the map may not be moved under
     * them. A growth sets grow_pending and waits (gmu, gcv) for readers to
     * drop to 0; store_read_begin waits while it is set.
     */
    atomic_int readers;
    atomic_bool grow_pending;
    pthread_mutex_t gmu;
    pthread_cond_t gcv;
    /* One reset read transaction kept for renewal (cheaper than begin). */
    _Atomic(store_txn_t *) rcache;
    /* Durability tickets (store.h): committed by the writer, durable by the syncer (wal.c). */
    _Atomic uint64_t committed, durable;
    /* The write-ahead log and checkpoints (wal.c, ckpt.c); NULL when read_only. */
    struct store_wal *wal;
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

/*
 * The event chain's tip and the last case id, kept in a write transaction
 * like the counters: read from meta once, then only in memory, handed to the
 * parent when a nested transaction commits and written to meta once, when
 * the top transaction commits (store.c). A lookup walks up to the parents, so
 * a nested transaction sees what its parent has not written yet.
 */
typedef struct {
    uint64_t ev_seq, case_seq;
    uint8_t ev_chain[32];
    bool ev_have, ev_dirty; /* ev_*: known (from meta or an append); not yet in meta */
    bool cs_have, cs_dirty; /* case_seq likewise */
} store_tips_t;

struct store_txn {
    store_t *s;
    MDB_txn *txn;
    store_cdeltas_t cnt; /* write transactions only */
    store_tips_t tips;   /* write transactions only */
    store_txn_t *child;  /* open nested transaction, if any */
    store_txn_t *parent;
    size_t wal_mark; /* nested: the log buffer's length when it began (wal.c) */
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
 * The transaction's caches (txcache.c), for store.c's transaction layer: merge
 * a committed child's counter deltas and tips into its parent (LB_ENOMEM),
 * write them before the top commit (storage errors, LB_ECORRUPT for a counter
 * below zero), free the deltas.
 */
int store_cnt_merge(store_txn_t *parent, const store_txn_t *child);
int store_cnt_flush(store_txn_t *t);
void store_cnt_free(store_txn_t *t);
void store_tips_merge(store_tips_t *p, const store_tips_t *c);
int store_tips_flush(store_txn_t *t);

/*
 * The nearest tips of t or its parents whose event tip (ev) or case id (cs)
 * is known, or NULL (then meta holds the value). Write transactions only.
 */
store_tips_t *store_tips_ev(store_txn_t *t);
store_tips_t *store_tips_cs(store_txn_t *t);

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

/* ---- the write-ahead log (wal.c) and checkpoints (ckpt.c) ---- */

/*
 * One WAL record: a header {magic, payload length, seq, prev} (24 bytes), the
 * payload, and a trailing checksum (8 bytes) over header and payload.
 */
#define STORE_WAL_HDR 24
#define STORE_WAL_SUM 8

/*
 * Records finished by the writer and not yet in their file: the bytes, and
 * runs of them that are contiguous in one file (a new run at each switch).
 */
typedef struct {
    int file;     /* 0 or 1: wal.0, wal.1 */
    uint64_t off; /* where the run begins in the file */
    size_t at;    /* where it begins in the batch's bytes */
    size_t len;
} store_wal_run_t;

typedef struct {
    uint8_t *buf;
    size_t n, cap;
    store_wal_run_t *runs;
    size_t nruns, runcap;
} store_wal_batch_t;

/*
 * A checkpoint, prepared on the writer's thread (store_ckpt_prepare) and
 * made durable by ck_finish on the checkpoint thread or synchronously.
 */
typedef struct {
    uint64_t seq;   /* the WAL seq of the snapshot */
    uint64_t chain; /* the checksum of record seq (0 for seq 0) */
    uint64_t txnid; /* LMDB's txn id of the snapshot */
    uint64_t off;   /* where record seq + 1 goes: file and offset */
    uint32_t file;
    bool clean;     /* written by store_close: nothing beyond it, data.mdb synced */
    MDB_txn *pin;   /* a read txn holding the snapshot's pages */
    uint8_t *metas; /* the two meta pages of data.mdb (2 * psize) */
} store_ckpt_t;

/*
 * Everything of the durability path. Fields marked (w) belong to the writer's
 * thread; (mu) are guarded by mu; atomics may be read by any thread.
 */
struct store_wal {
    char dir[4096];
    int fd[2];         /* wal.0, wal.1 */
    uint64_t size[2];  /* (w) allocated bytes of each */
    uint64_t prealloc; /* the size a file is given (store_opts_t.wal_size, or 0 until opened) */
    int64_t ck_interval_ns; /* < 0: checkpoints only when a file is half full */
    uint64_t replayed;      /* records replayed by the open */
    int cur;                /* (w) the file taking records */
    uint64_t off;           /* (w) where the next record goes in it */
    uint64_t base;          /* the WAL seq of ticket 0 */
    uint64_t chain;         /* (w) the checksum of the last record written */
    /* (w) the running top txn's records, after STORE_WAL_HDR bytes of room */
    uint8_t *buf;
    size_t n, cap;
    bool oom;       /* (w) a record could not be kept: the txn fails with LB_ENOMEM */
    bool replaying; /* (w) recovery applies records: nothing is captured */
    /* the syncer */
    pthread_mutex_t mu;
    pthread_cond_t wake;   /* the syncer waits on it */
    pthread_cond_t ckwake; /* the checkpoint thread waits on it */
    pthread_cond_t done;   /* durable advanced, a checkpoint ended, or the log failed */
    pthread_t syncer, ckthr;
    bool threads;            /* both threads run */
    bool stop;               /* (mu) the threads should end */
    uint64_t written;        /* (mu) the last ticket appended (in pend or written) */
    store_wal_batch_t pend;  /* (mu) appended records the syncer has not taken yet */
    store_wal_batch_t flush; /* (syncer) the records being written and synced */
    atomic_int failed;
    int efd; /* eventfd: store_durable_fd */
    _Atomic uint64_t log_syncs, log_bytes, data_syncs, checkpoints;
    /* checkpoints */
    int ckfd;            /* DIR/ckpt, flocked exclusively while open */
    int datafd;          /* LMDB's descriptor of data.mdb */
    uint32_t psize;      /* LMDB's page size */
    uint64_t gen;        /* the last slot generation written */
    MDB_txn *pin;        /* the snapshot of the durable checkpoint */
    bool ck_busy;        /* (mu) a checkpoint is prepared and not yet durable */
    bool ck_queued;      /* (mu) ck is waiting for the checkpoint thread */
    store_ckpt_t ck;     /* (mu) the running checkpoint */
    uint64_t ck_last_ns; /* (w) when the last checkpoint began (CLOCK_MONOTONIC) */
};

/*
 * Write-set capture (wal.c): every successful mutation of a write txn adds a
 * record to the log buffer of the running top txn. Nothing is captured
 * without a log (read_only) or during recovery. Never fails: a buffer that
 * cannot grow marks the txn (store_write fails with LB_ENOMEM).
 */
void store_wal_put(store_txn_t *t, int db, const void *k, size_t klen, const void *v, size_t vlen);
void store_wal_del(store_txn_t *t, int db, const void *k, size_t klen);
/* The buffer's length now (nested begin) and back to it (nested abort). */
size_t store_wal_mark(const store_t *s);
void store_wal_truncate(store_t *s, size_t mark);
/* Empties the buffer for a new top txn (and a retry). */
void store_wal_reset(store_t *s);

/*
 * Before the LMDB commit: makes room in the log for the buffer's record
 * (extending the file). 0; LB_ENOMEM (the buffer could not grow); LB_EIO
 * (the log has failed); LB_EDISKFULL (no room: nothing may be committed).
 */
int store_wal_reserve(store_t *s);
/*
 * After the LMDB commit: seals the record, copies it into the syncer's
 * pending batch (bound for the room reserved), takes the next ticket into
 * *ticket and wakes the syncer, which writes and syncs it. LB_EIO when it
 * cannot be kept: the log has failed (the txn is committed but will not
 * survive a restart; it was never durable).
 */
int store_wal_append(store_t *s, uint64_t *ticket);

/*
 * Opens the log of a writable store in dir (the ckpt lock held): the two
 * files, preallocated, the eventfd. LB_EIO, LB_EDISKFULL, LB_ENOMEM.
 */
int store_wal_open(store_t *s, const char *dir, char *err, size_t errlen);
/* Allocates s->wal (no files yet). LB_ENOMEM. */
int store_wal_new(store_t *s);
/*
 * Doubles the map (bounded by map_max). LB_EINTERNAL while a read txn of
 * store_read_begin is open; LB_EMAPFULL at map_max; LB_EIO.
 */
int store_grow_map(store_t *s);
/* Starts the syncer and checkpoint threads. LB_EIO/LB_ENOMEM. */
int store_wal_start(store_t *s);
/* Stops the threads (after durability is reached) and frees the log. */
void store_wal_free(store_t *s);
/* fdatasync, retried on EINTR: 0 or -1 with errno (wal.c; the log and checkpoints). */
int store_fdatasync(int fd);
/* pwrite of all n bytes at off, retried on EINTR and short writes: 0, or an LB_E* code. */
int store_pwrite_all(int fd, const void *p, size_t n, uint64_t off);

/* fsync of folder dir (new files in it survive a power loss): 0, or -1 with errno. */
int store_sync_dir(const char *dir);
/* The checksum of n bytes (keyed SipHash-2-4, a fixed key). */
uint64_t store_wal_sum(const void *p, size_t n);
/*
 * Replays the records after (seq, chain) from file at off, then from the
 * other file at 0, applying each in a write txn of its own (the map grows
 * when full). *last and *last_chain: the last record applied (or seq, chain).
 * LB_ECORRUPT (a valid record that does not apply); storage errors.
 */
int store_wal_replay(store_t *s, uint32_t file, uint64_t off, uint64_t seq, uint64_t chain,
                     uint64_t *last, uint64_t *last_chain);
/*
 * true when file at off holds a valid record seq + 1 after chain (a read-only
 * check of a store's log, no store needed). fd < 0 is false.
 */
bool store_wal_has_next(int fd, uint64_t off, uint64_t seq, uint64_t chain);
/* Marks the log failed and wakes every waiter. */
void store_wal_fail(store_t *s);

/* The syncer and the checkpoint thread's loop (ckpt.c). */
void *store_ckpt_thread(void *arg);
/*
 * Before mdb_env_open (writable): opens and locks DIR/ckpt, reads its valid
 * slot, and restores its meta pages over data.mdb unless it was clean.
 * *have: a checkpoint to recover from (into *ck, metas allocated).
 * LB_EIO (the store is in use by another process: the message says so),
 * LB_ECORRUPT, LB_ENOMEM.
 */
int store_ckpt_open(store_t *s, const char *dir, store_ckpt_t *ck, bool *have, char *err,
                    size_t errlen);
/*
 * Right after the environment is open (writable), before anything is
 * written: pins the snapshot of the checkpoint to recover from (have) and
 * checks it is the one data.mdb now holds. LB_ECORRUPT (with the message)
 * when it is not; storage errors. 0 without doing anything when !have.
 */
int store_ckpt_pin(store_t *s, const store_ckpt_t *ck, bool have, char *err, size_t errlen);
/*
 * After the databases are open (writable): replays the log after the pinned
 * checkpoint (have), takes a synchronous checkpoint and starts the threads.
 */
int store_ckpt_recover(store_t *s, store_ckpt_t *ck, bool have, char *err, size_t errlen);
/*
 * Read-only open: 0 when the store may be read as it is; LB_EIO with the
 * message when it was not shut down cleanly and no process holds it.
 */
int store_ckpt_check_ro(const char *dir, char *err, size_t errlen);
/* After a commit (writer): begins a checkpoint when one is due. */
void store_ckpt_maybe(store_t *s);
/* store_close: durability, a final clean checkpoint, the threads stopped. */
void store_ckpt_close(store_t *s);

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
