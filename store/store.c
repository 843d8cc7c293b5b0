/*
 * store.c - the generic layer of the store: the LMDB environment (open and
 * close, the schema check), the error translation, write transactions with
 * map growth and retry, nested and read transactions with the counter cache
 * they carry (txcache.c), the store_db_* wrappers, meta values, stats and hot backup.
 * It knows nothing of cases or events (cases.c and log.c sit on top). Every
 * write goes through the write-ahead log (wal.c, ckpt.c): the wrappers
 * capture each mutation, store_write_async logs the commit, and store_open
 * and store_close recover and checkpoint.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_DEFAULT_MAP ((size_t)64 << 20)
#define STORE_DEFAULT_MAP_MAX ((size_t)1 << 40)
#define STORE_MAX_DBS 20

static const char *const store_db_names[STORE_DB_COUNT] = {
    [STORE_DB_CASES] = "cases",
    [STORE_DB_SUMMARIES] = "summaries",
    [STORE_DB_AREA_STATE] = "area_state",
    [STORE_DB_HOUSEHOLDS] = "households",
    [STORE_DB_HOUSE_CASES] = "house_cases",
    [STORE_DB_NID] = "nid",
    [STORE_DB_PII] = "pii",
    [STORE_DB_EVENTS] = "events",
    [STORE_DB_TIMERS] = "timers",
    [STORE_DB_CASE_TIMER] = "case_timer",
    [STORE_DB_IDEM] = "idem",
    [STORE_DB_IDEM_TIME] = "idem_time",
    [STORE_DB_COUNTS] = "counts",
    [STORE_DB_META] = "meta",
    [STORE_DB_OVERDUE] = "overdue",
};

int store_lmdb_err(store_t *s, int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return LB_ENOTFOUND;
    case MDB_KEYEXIST:
    case EEXIST:
        return LB_EEXIST;
    case MDB_MAP_FULL:
        if (s)
            s->w_mapfull = true;
        return LB_EMAPFULL;
    case ENOSPC:
    case EDQUOT:
        return LB_EDISKFULL;
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return LB_ECORRUPT;
    case ENOMEM:
        return LB_ENOMEM;
    default:
        return LB_EIO;
    }
}

/*
 * Frees the wrappers of nested transactions a caller left open under t (a
 * bug on their side); LMDB releases the transactions with their parent.
 */
static void store_free_children(store_txn_t *t)
{
    store_txn_t *c = t->child;
    while (c) {
        store_txn_t *next = c->child;
        store_cnt_free(c);
        free(c);
        c = next;
    }
    t->child = NULL;
}

int store_txn_writable(const store_txn_t *t)
{
    return (t && t->txn && !t->rdonly && !t->child) ? 0 : LB_EINTERNAL;
}

/* Zero-length values still need a valid pointer for LMDB's memcpy. */
static uint8_t store_empty[1];

int store_db_cursor(store_txn_t *t, int db, MDB_cursor **cur)
{
    return store_lmdb_err(t->s, mdb_cursor_open(t->txn, t->s->dbi[db], cur));
}

int store_db_put(store_txn_t *t, int db, const void *k, size_t klen, const void *v, size_t vlen)
{
    MDB_val key = {klen, (void *)k}, val = {vlen, vlen ? (void *)v : store_empty};
    int ret = store_lmdb_err(t->s, mdb_put(t->txn, t->s->dbi[db], &key, &val, 0));
    if (ret == 0)
        store_wal_put(t, db, k, klen, v, vlen);
    return ret;
}

int store_db_get(store_txn_t *t, int db, const void *k, size_t klen, const void **v, size_t *vlen)
{
    MDB_val key = {klen, (void *)k}, val;
    int ret = store_lmdb_err(t->s, mdb_get(t->txn, t->s->dbi[db], &key, &val));
    if (ret == 0) {
        *v = val.mv_data;
        *vlen = val.mv_size;
    }
    return ret;
}

int store_db_del(store_txn_t *t, int db, const void *k, size_t klen)
{
    MDB_val key = {klen, (void *)k};
    int ret = store_lmdb_err(t->s, mdb_del(t->txn, t->s->dbi[db], &key, NULL));
    if (ret == 0)
        store_wal_del(t, db, k, klen);
    return ret;
}

/* Writes a failed LMDB call and its message into err. */
static void store_errmsg(char *err, size_t errlen, const char *what, const char *dir, int rc)
{
    if (err && errlen)
        snprintf(err, errlen, "%s %s: %s", what, dir, mdb_strerror(rc));
}

/*
 * Opens every named database in one transaction (creating them and the
 * schema record on a new writable store) and checks the schema version.
 */
static int store_open_dbs(store_t *s, const char *dir, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    int rc, ret = 0;
    unsigned int flags = s->read_only ? 0 : MDB_CREATE;

    rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc) {
        store_errmsg(err, errlen, "begin transaction in", dir, rc);
        ret = store_lmdb_err(NULL, rc);
        goto done;
    }
    for (int i = 0; i < STORE_DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, store_db_names[i], flags, &s->dbi[i]);
        if (rc == MDB_NOTFOUND) {
            if (err && errlen)
                snprintf(err, errlen, "%s is not a logbook store (no \"%s\" database)", dir,
                         store_db_names[i]);
            ret = LB_ENOTFOUND;
            goto done;
        }
        if (rc) {
            store_errmsg(err, errlen, "open database in", dir, rc);
            ret = store_lmdb_err(NULL, rc);
            goto done;
        }
    }

    MDB_val k = {6, "schema"}, v;
    uint8_t buf[8];
    rc = mdb_get(txn, s->dbi[STORE_DB_META], &k, &v);
    if (rc == MDB_NOTFOUND && !s->read_only) {
        store_be64(buf, STORE_SCHEMA_VERSION);
        v.mv_data = buf;
        v.mv_size = sizeof buf;
        rc = mdb_put(txn, s->dbi[STORE_DB_META], &k, &v, 0);
        if (rc) {
            store_errmsg(err, errlen, "write schema version in", dir, rc);
            ret = store_lmdb_err(NULL, rc);
            goto done;
        }
    } else if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != 8)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: store schema version missing or malformed", dir);
        ret = LB_ECORRUPT;
        goto done;
    } else if (rc) {
        store_errmsg(err, errlen, "read schema version in", dir, rc);
        ret = store_lmdb_err(NULL, rc);
        goto done;
    } else {
        uint64_t ver = store_get_be64(v.mv_data);
        if (ver > STORE_SCHEMA_VERSION) {
            if (err && errlen)
                snprintf(err, errlen,
                         "store schema version %llu is newer than this logbookd supports (%d); "
                         "upgrade logbookd",
                         (unsigned long long)ver, STORE_SCHEMA_VERSION);
            ret = LB_EVERSION;
            goto done;
        }
        if (ver == 0) {
            if (err && errlen)
                snprintf(err, errlen, "%s: store schema version 0 is invalid", dir);
            ret = LB_ECORRUPT;
            goto done;
        }
    }

    /* Committing (also a read txn) keeps the database handles for later txns. */
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) {
        store_errmsg(err, errlen, "commit new store in", dir, rc);
        ret = store_lmdb_err(NULL, rc);
    }
done:
    if (txn)
        mdb_txn_abort(txn);
    return ret;
}

int store_open(const char *dir, const store_opts_t *opts, store_t **out, char *err, size_t errlen)
{
    store_opts_t o = {0};
    store_t *s = NULL;
    MDB_envinfo info;
    store_ckpt_t ck = {0}; /* the checkpoint to recover from (writable) */
    bool have_ck = false;
    int rc, ret = 0;

    if (err && errlen)
        err[0] = '\0';
    if (!out || !dir) {
        ret = LB_EINTERNAL;
        goto done;
    }
    *out = NULL;
    if (opts)
        o = *opts;
    size_t want = o.map_size ? o.map_size : STORE_DEFAULT_MAP;
    size_t max = o.map_max ? o.map_max : STORE_DEFAULT_MAP_MAX;
    if (want > max)
        want = max;

    s = calloc(1, sizeof *s);
    if (!s) {
        ret = LB_ENOMEM;
        goto done;
    }
    s->map_max = max;
    s->read_only = o.read_only;
    atomic_init(&s->readers, 0);
    atomic_init(&s->grow_pending, false);
    pthread_mutex_init(&s->gmu, NULL);
    pthread_cond_init(&s->gcv, NULL);
    atomic_init(&s->rcache, NULL);
    atomic_init(&s->committed, 0);
    atomic_init(&s->durable, 0);
    if ((size_t)snprintf(s->path, sizeof s->path, "%s/data.mdb", dir) >= sizeof s->path) {
        if (err && errlen)
            snprintf(err, errlen, "store folder path too long");
        ret = LB_ECONFIG;
        goto done;
    }

    if (o.read_only) {
        ret = store_ckpt_check_ro(dir, err, errlen);
        if (ret)
            goto done;
    } else {
        ret = store_wal_new(s);
        if (ret == 0) {
            s->wal->prealloc = o.wal_size;
            s->wal->ck_interval_ns =
                o.ckpt_ms < 0 ? -1 : (int64_t)(o.ckpt_ms ? o.ckpt_ms : 200) * 1000000;
        }
        if (ret == 0)
            ret = store_ckpt_open(s, dir, &ck, &have_ck, err, errlen);
        if (ret)
            goto done;
    }

    rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, STORE_MAX_DBS);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, want);
    if (rc) {
        store_errmsg(err, errlen, "create environment for", dir, rc);
        ret = store_lmdb_err(NULL, rc);
        goto done;
    }
    /* MDB_NOTLS: read transactions are not tied to the thread that began them. */
    rc = mdb_env_open(s->env, dir, MDB_NOTLS | (o.read_only ? MDB_RDONLY : 0), 0600);
    if (rc) {
        store_errmsg(err, errlen, "open store", dir, rc);
        ret = store_lmdb_err(NULL, rc);
        goto done;
    }
    /*
     * A store grown earlier records its larger map in the file: size 0 adopts
     * it, then the configured size wins only when it is bigger.
     */
    rc = mdb_env_set_mapsize(s->env, 0);
    if (rc == 0)
        rc = mdb_env_info(s->env, &info);
    if (rc == 0 && info.me_mapsize < want)
        rc = mdb_env_set_mapsize(s->env, want);
    if (rc) {
        store_errmsg(err, errlen, "set map size of", dir, rc);
        ret = store_lmdb_err(NULL, rc);
        goto done;
    }

    /* The snapshot to recover from is pinned before anything is written (open_dbs may). */
    if (s->wal)
        ret = store_ckpt_pin(s, &ck, have_ck, err, errlen);
    if (ret == 0)
        ret = store_open_dbs(s, dir, err, errlen);
    if (ret == 0 && s->wal)
        ret = store_wal_open(s, dir, err, errlen);
    if (ret == 0 && s->wal)
        ret = store_ckpt_recover(s, &ck, have_ck, err, errlen);
    if (ret)
        goto done;
    *out = s;
    s = NULL;
done:
    if (ret && err && errlen && !err[0])
        snprintf(err, errlen, "open store %s: %s", dir ? dir : "(null)", lb_strerror(ret));
    free(ck.metas);
    store_close(&s);
    return ret;
}

void store_close(store_t **ps)
{
    if (!ps || !*ps)
        return;
    store_t *s = *ps;
    store_txn_t *t = atomic_exchange(&s->rcache, NULL);
    if (t) {
        mdb_txn_abort(t->txn);
        free(t);
    }
    if (s->wal) {
        store_ckpt_close(s);
        store_wal_free(s);
    }
    if (s->env)
        mdb_env_close(s->env);
    pthread_mutex_destroy(&s->gmu);
    pthread_cond_destroy(&s->gcv);
    free(s);
    *ps = NULL;
}

const char *store_path(const store_t *s)
{
    return s ? s->path : NULL;
}

/* ---- transactions ---- */

/*
 * Begins a top-level transaction. Another process (a tool, or a daemon
 * that grew the map) may have enlarged the map: adopt the new size and
 * begin again.
 */
static int store_begin(store_t *s, unsigned int flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, flags, txn);
    /* A reader counts itself while it begins (store_read_begin). */
    int self = (flags & MDB_RDONLY) ? 1 : 0;
    if (rc == MDB_MAP_RESIZED && atomic_load(&s->readers) == self) {
        rc = mdb_env_set_mapsize(s->env, 0);
        if (rc == 0)
            rc = mdb_txn_begin(s->env, NULL, flags, txn);
    }
    return store_lmdb_err(NULL, rc);
}

/*
 * Doubles the map (bounded by map_max); no transaction of ours that reads
 * pages may be open. The checkpoint's pin (ckpt.c) is a read txn too, but it
 * never reads a page: LMDB 0.9 remaps under it safely (its reader slot
 * lives in the lock file, not the map), so it stays across growth.
 */
int store_grow_map(store_t *s)
{
    MDB_envinfo info;
    int rc, ret;

    /*
     * Remapping would pull the pages from under an open reader: new readers
     * wait (store_read_begin) while those open end, for at most a second
     * (one of them may belong to this very thread).
     */
    atomic_store(&s->grow_pending, true);
    /*
     * One sight of no reader is enough: a reader counts itself before it
     * looks at grow_pending (store_reader_enter), so one that comes later
     * sees the growth and backs off; its count is then only passing. Looking
     * again after that sight could catch such a passing count and fail a
     * growth for nothing (test_store's reader-threads test did, 1 run in 30).
     */
    bool clear = atomic_load(&s->readers) == 0;
    if (!clear) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&s->gmu);
        while (!(clear = atomic_load(&s->readers) == 0))
            if (pthread_cond_timedwait(&s->gcv, &s->gmu, &until) == ETIMEDOUT) {
                clear = atomic_load(&s->readers) == 0;
                break;
            }
        pthread_mutex_unlock(&s->gmu);
    }
    if (!clear) {
        ret = LB_EINTERNAL;
        goto done;
    }
    rc = mdb_env_info(s->env, &info);
    if (rc) {
        ret = store_lmdb_err(NULL, rc);
        goto done;
    }
    size_t cur = info.me_mapsize;
    if (cur >= s->map_max) {
        ret = LB_EMAPFULL;
        goto done;
    }
    size_t next = cur > s->map_max / 2 ? s->map_max : cur * 2;
    ret = store_lmdb_err(NULL, mdb_env_set_mapsize(s->env, next));
done:
    pthread_mutex_lock(&s->gmu);
    atomic_store(&s->grow_pending, false);
    pthread_cond_broadcast(&s->gcv);
    pthread_mutex_unlock(&s->gmu);
    return ret;
}

/* Counts a reader in, waiting while a growth is pending (store_grow_map). */
static void store_reader_enter(store_t *s)
{
    atomic_fetch_add(&s->readers, 1);
    while (atomic_load(&s->grow_pending)) {
        pthread_mutex_lock(&s->gmu);
        atomic_fetch_sub(&s->readers, 1);
        pthread_cond_broadcast(&s->gcv);
        while (atomic_load(&s->grow_pending))
            pthread_cond_wait(&s->gcv, &s->gmu);
        pthread_mutex_unlock(&s->gmu);
        atomic_fetch_add(&s->readers, 1);
    }
}

static void store_reader_leave(store_t *s)
{
    atomic_fetch_sub(&s->readers, 1);
    if (atomic_load(&s->grow_pending)) {
        pthread_mutex_lock(&s->gmu);
        pthread_cond_broadcast(&s->gcv);
        pthread_mutex_unlock(&s->gmu);
    }
}

int store_grow(store_t *s)
{
    if (!s || s->in_write)
        return LB_EINTERNAL;
    return store_grow_map(s);
}

int store_write_async(store_t *s, int (*fn)(store_txn_t *txn, void *ctx), void *ctx,
                      uint64_t *ticket)
{
    store_txn_t t;
    int ret;

    if (!s || !fn || !ticket || s->in_write)
        return LB_EINTERNAL;
    *ticket = 0;
    if (s->wal && atomic_load(&s->wal->failed))
        return LB_EIO;
    s->in_write = true;
    for (;;) {
        memset(&t, 0, sizeof t);
        t.s = s;
        s->w_mapfull = false;
        store_wal_reset(s);
        ret = store_begin(s, 0, &t.txn);
        if (ret)
            break;
        ret = fn(&t, ctx);
        if (t.child) {
            /* fn left a nested transaction open: a bug; discard everything. */
            store_free_children(&t);
            ret = LB_EINTERNAL;
        }
        if (ret == 0 && !s->w_mapfull)
            ret = store_cnt_flush(&t);
        store_cnt_free(&t);
        /* Room in the log first: a full disk must fail the txn before it commits. */
        if (ret == 0 && !s->w_mapfull && s->wal)
            ret = store_wal_reserve(s);
        if (ret == 0 && !s->w_mapfull) {
            int rc = mdb_txn_commit(t.txn);
            t.txn = NULL;
            ret = store_lmdb_err(s, rc);
            if (ret == 0 && s->wal) {
                ret = store_wal_append(s, ticket);
                if (ret == 0)
                    store_ckpt_maybe(s);
            } else if (ret == 0) {
                /* read_only cannot commit; kept for a store without log */
                *ticket = atomic_fetch_add(&s->committed, 1) + 1;
                atomic_store(&s->durable, *ticket);
            }
            if (ret != LB_EMAPFULL)
                break;
        }
        if (t.txn)
            mdb_txn_abort(t.txn);
        if (ret != LB_EMAPFULL && !s->w_mapfull)
            break;
        /* fn runs again from the start in a bigger map. */
        ret = store_grow_map(s);
        if (ret)
            break;
    }
    s->in_write = false;
    return ret;
}

int store_write(store_t *s, int (*fn)(store_txn_t *txn, void *ctx), void *ctx)
{
    uint64_t ticket;
    int ret = store_write_async(s, fn, ctx, &ticket);
    return ret ? ret : store_wait_durable(s, ticket);
}

uint64_t store_committed(const store_t *s)
{
    return s ? atomic_load(&((store_t *)s)->committed) : 0;
}

uint64_t store_durable(const store_t *s)
{
    return s ? atomic_load(&((store_t *)s)->durable) : 0;
}

int store_durable_fd(const store_t *s)
{
    return s && s->wal ? s->wal->efd : -1;
}

int store_wait_durable(store_t *s, uint64_t ticket)
{
    if (!s || ticket > store_committed(s))
        return LB_EINTERNAL;
    struct store_wal *w = s->wal;
    if (!w || ticket <= store_durable(s))
        return w && atomic_load(&w->failed) && ticket > store_durable(s) ? LB_EIO : 0;
    pthread_mutex_lock(&w->mu);
    while (atomic_load(&s->durable) < ticket && !atomic_load(&w->failed))
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return atomic_load(&s->durable) >= ticket ? 0 : LB_EIO;
}

int store_log_failed(const store_t *s)
{
    return s && s->wal && atomic_load(&s->wal->failed) ? LB_EIO : 0;
}

int store_nested_begin(store_txn_t *parent, store_txn_t **child)
{
    store_txn_t *c = NULL;
    int ret = 0;

    if (!child) {
        ret = LB_EINTERNAL;
        goto done;
    }
    *child = NULL;
    ret = store_txn_writable(parent);
    if (ret)
        goto done;
    c = calloc(1, sizeof *c);
    if (!c) {
        ret = LB_ENOMEM;
        goto done;
    }
    c->s = parent->s;
    c->parent = parent;
    c->wal_mark = store_wal_mark(parent->s);
    ret = store_lmdb_err(parent->s, mdb_txn_begin(parent->s->env, parent->txn, 0, &c->txn));
    if (ret)
        goto done;
    parent->child = c;
    *child = c;
    c = NULL;
done:
    free(c);
    return ret;
}

int store_nested_commit(store_txn_t **child)
{
    if (!child || !*child)
        return LB_EINTERNAL;
    store_txn_t *c = *child;
    int ret = LB_EINTERNAL;
    if (!c->child) {
        /* LMDB frees the transaction whether or not the commit succeeds. */
        ret = store_lmdb_err(c->s, mdb_txn_commit(c->txn));
        if (ret == 0)
            ret = store_cnt_merge(c->parent, c);
        else
            store_wal_truncate(c->s, c->wal_mark);
    } else {
        store_free_children(c);
        mdb_txn_abort(c->txn);
        store_wal_truncate(c->s, c->wal_mark);
    }
    c->parent->child = NULL;
    store_cnt_free(c);
    free(c);
    *child = NULL;
    return ret;
}

void store_nested_abort(store_txn_t **child)
{
    if (!child || !*child)
        return;
    store_txn_t *c = *child;
    store_free_children(c);
    mdb_txn_abort(c->txn);
    store_wal_truncate(c->s, c->wal_mark);
    c->parent->child = NULL;
    store_cnt_free(c);
    free(c);
    *child = NULL;
}

int store_read_begin(store_t *s, store_txn_t **out)
{
    store_txn_t *t = NULL;
    bool entered = false;
    int ret = 0;

    if (!out || !s) {
        ret = LB_EINTERNAL;
        goto done;
    }
    *out = NULL;
    store_reader_enter(s);
    entered = true;
    t = atomic_exchange(&s->rcache, NULL);
    if (t) {
        int rc = mdb_txn_renew(t->txn);
        if (rc == MDB_MAP_RESIZED && atomic_load(&s->readers) == 1) {
            rc = mdb_env_set_mapsize(s->env, 0);
            if (rc == 0)
                rc = mdb_txn_renew(t->txn);
        }
        if (rc) {
            mdb_txn_abort(t->txn);
            t->txn = NULL;
            ret = store_lmdb_err(NULL, rc);
            goto done;
        }
    } else {
        t = calloc(1, sizeof *t);
        if (!t) {
            ret = LB_ENOMEM;
            goto done;
        }
        t->s = s;
        t->rdonly = true;
        ret = store_begin(s, MDB_RDONLY, &t->txn);
        if (ret)
            goto done;
    }
    *out = t;
    t = NULL;
done:
    if (ret && entered)
        store_reader_leave(s);
    free(t);
    return ret;
}

void store_read_end(store_txn_t **pt)
{
    if (!pt || !*pt)
        return;
    store_txn_t *t = *pt;
    store_txn_t *expected = NULL;
    store_t *s = t->s;

    mdb_txn_reset(t->txn);
    store_reader_leave(s);
    /* Keep the handle for the next reader unless one is cached already. */
    if (!atomic_compare_exchange_strong(&s->rcache, &expected, t)) {
        mdb_txn_abort(t->txn);
        free(t);
    }
    *pt = NULL;
}

/* ---- meta ---- */

int store_meta_get(store_txn_t *txn, const char *name, const void **p, size_t *len)
{
    if (!txn || !name || !*name || !p || !len)
        return LB_EINTERNAL;
    MDB_val k = {strlen(name), (void *)name}, v;
    int ret = store_lmdb_err(txn->s, mdb_get(txn->txn, txn->s->dbi[STORE_DB_META], &k, &v));
    if (ret)
        return ret;
    *p = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int store_meta_put(store_txn_t *txn, const char *name, const void *p, size_t len)
{
    int ret = store_txn_writable(txn);
    if (ret)
        return ret;
    if (!name || !*name || (!p && len))
        return LB_EINTERNAL;
    return store_db_put(txn, STORE_DB_META, name, strlen(name), p, len);
}

int store_meta_get_u64(store_txn_t *txn, const char *name, uint64_t *v)
{
    const void *p;
    size_t len;

    if (!v)
        return LB_EINTERNAL;
    *v = 0;
    int ret = store_meta_get(txn, name, &p, &len);
    if (ret == LB_ENOTFOUND)
        return 0;
    if (ret)
        return ret;
    if (len != 8)
        return LB_ECORRUPT;
    *v = store_get_be64(p);
    return 0;
}

int store_meta_put_u64(store_txn_t *txn, const char *name, uint64_t v)
{
    uint8_t buf[8];
    store_be64(buf, v);
    return store_meta_put(txn, name, buf, sizeof buf);
}

int store_next_case_id(store_txn_t *txn, uint64_t *id)
{
    uint64_t last;
    int ret;

    if (!id)
        return LB_EINTERNAL;
    ret = store_txn_writable(txn);
    if (ret)
        return ret;
    /* Read from meta once a transaction; store_tips_flush writes the last one at commit. */
    const store_tips_t *tp = store_tips_cs(txn);
    if (tp)
        last = tp->case_seq;
    else if ((ret = store_meta_get_u64(txn, "case_seq", &last)))
        return ret;
    if (last == UINT64_MAX)
        return LB_EINTERNAL;
    txn->tips.case_seq = last + 1;
    txn->tips.cs_have = txn->tips.cs_dirty = true;
    *id = last + 1;
    return 0;
}

/* ---- whole-store ---- */

int store_db_entries(store_txn_t *t, int db, uint64_t *n)
{
    MDB_stat st;
    int ret = store_lmdb_err(NULL, mdb_stat(t->txn, t->s->dbi[db], &st));
    if (ret == 0)
        *n = st.ms_entries;
    return ret;
}

int store_db_each_u64(store_txn_t *t, int db, uint64_t after,
                      int (*fn)(uint64_t key, const void *val, size_t len, void *ctx), void *ctx)
{
    uint8_t seek[8];
    MDB_cursor *cur = NULL;

    if (after == UINT64_MAX)
        return 0;
    int ret = store_db_cursor(t, db, &cur);
    if (ret)
        return ret;
    store_be64(seek, after + 1);
    MDB_val k = {8, seek}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        if (k.mv_size != 8) {
            ret = LB_ECORRUPT;
            goto done;
        }
        int r = fn(store_get_be64(k.mv_data), v.mv_data, v.mv_size, ctx);
        if (r) {
            ret = r < 0 ? r : 0;
            goto done;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND)
        ret = store_lmdb_err(t->s, rc);
done:
    mdb_cursor_close(cur);
    return ret;
}

int store_stats(store_t *s, store_stats_t *st)
{
    store_txn_t *t = NULL;
    MDB_envinfo info;
    MDB_stat est;
    int ret;

    if (!s || !st)
        return LB_EINTERNAL;
    memset(st, 0, sizeof *st);
    ret = store_read_begin(s, &t);
    if (ret)
        goto done;
    ret = store_db_entries(t, STORE_DB_CASES, &st->cases);
    if (ret == 0)
        ret = store_db_entries(t, STORE_DB_EVENTS, &st->events);
    if (ret == 0)
        ret = store_db_entries(t, STORE_DB_TIMERS, &st->timers);
    if (ret == 0)
        ret = store_db_entries(t, STORE_DB_IDEM, &st->idem);
    if (ret)
        goto done;
    ret = store_lmdb_err(NULL, mdb_env_info(s->env, &info));
    if (ret == 0)
        ret = store_lmdb_err(NULL, mdb_env_stat(s->env, &est));
    if (ret)
        goto done;
    st->db_bytes = ((uint64_t)info.me_last_pgno + 1) * est.ms_psize;
    st->map_bytes = info.me_mapsize;
    st->committed = store_committed(s);
    st->durable = store_durable(s);
    if (s->wal) {
        st->log_syncs = atomic_load(&s->wal->log_syncs);
        st->log_bytes = atomic_load(&s->wal->log_bytes);
        st->data_syncs = atomic_load(&s->wal->data_syncs);
        st->checkpoints = atomic_load(&s->wal->checkpoints);
        st->replayed = s->wal->replayed;
    }
done:
    store_read_end(&t);
    return ret;
}

int store_backup(store_t *s, const char *path, uint64_t *bytes)
{
    char file[4096];
    struct stat sb;

    if (!s || !path || !*path || !bytes)
        return LB_EINTERNAL;
    *bytes = 0;
    if ((size_t)snprintf(file, sizeof file, "%s/data.mdb", path) >= sizeof file)
        return LB_EBADREQ;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return store_lmdb_err(NULL, errno);
    /* LMDB creates data.mdb exclusively: an existing copy is LB_EEXIST. */
    int ret = store_lmdb_err(NULL, mdb_env_copy2(s->env, path, MDB_CP_COMPACT));
    if (ret)
        return ret;
    if (stat(file, &sb) != 0)
        return store_lmdb_err(NULL, errno);
    *bytes = (uint64_t)sb.st_size;
    return 0;
}
