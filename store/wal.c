/*
 * wal.c - the write-ahead log in front of LMDB: the write set of each
 * committed transaction is appended to a log file and fsynced off the
 * writer's thread, many transactions per fsync (group commit).
 *
 * Design (docs/DURABILITY.md has the long form):
 *  - LMDB runs with MDB_NOSYNC: a commit only writes pages into the page
 *    cache. That survives kill -9, not a power loss.
 *  - Every mutation of a write txn (store_db_put/del, meta puts, the event
 *    append, the idempotency MDB_RESERVE put, the prune's cursor delete, the
 *    counter flush) is captured into a buffer of the top txn as PUT(db, key,
 *    value) / DEL(db, key) entries. A nested txn remembers the buffer length
 *    at its begin and an abort truncates back to it; a map-full retry starts
 *    the buffer anew. Replaying the entries in order on the state before the
 *    txn gives the state after it.
 *  - One record per committed top txn (one ticket): {magic, payload length,
 *    seq, prev} payload sum, where prev is the sum of the record before
 *    (a chain) and sum a keyed SipHash-2-4 of header and payload. A record
 *    is valid only when magic, length, seq, prev and sum all hold; recovery
 *    stops at the first one that is not, so stale records left from an
 *    earlier life of a file are never replayed, even after a torn tail.
 *  - Per commit: room in the (preallocated) file is made first, where ENOSPC
 *    can still fail the txn with nothing committed; then mdb_txn_commit;
 *    then the record is sealed and copied into a pending batch with its
 *    file and offset, and the syncer is woken. No file I/O on the writer's
 *    thread: small pwrites are dear on ext4 (write_begin per call).
 *  - The syncer takes the whole pending batch (a swap under the mutex),
 *    pwrites it, one call per run contiguous in one file, in ticket order,
 *    then fdatasyncs every file it wrote (the old file's tail too, after a
 *    switch), then sets durable and signals the eventfd and the condvar.
 *    A pwrite or fdatasync error fails the log (the process must stop; the
 *    records were never durable). It drains the batch before it stops.
 *  - Two files, wal.0 and wal.1, used alternately: each checkpoint (ckpt.c)
 *    switches to the other, and a file is reused only after a checkpoint
 *    past its last record is durable.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define WAL_MAGIC 0x4c425731u /* "LBW1" */
#define WAL_PUT 1
#define WAL_DEL 2
#define WAL_PREALLOC ((uint64_t)16 << 20)
#define WAL_PREALLOC_MIN ((uint64_t)256 << 10)
#define WAL_REC_MAX ((uint64_t)1 << 31)
/* Pending bytes past which the writer waits for the syncer (a disk that falls behind). */
#define WAL_PEND_MAX ((size_t)64 << 20)

/* A fixed key: the sum detects damage and stale records, it is not a secret. */
static const uint8_t wal_key[crypto_shorthash_KEYBYTES] = "logbook-wal-v1!";

uint64_t store_wal_sum(const void *p, size_t n)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, p, n, wal_key);
    return store_get_be64(out);
}

/* ---- write-set capture ---- */

static bool wal_capturing(const store_t *s)
{
    return s->wal && !s->wal->replaying;
}

/* Room for n more bytes in the buffer; false (and oom marked) when it cannot grow. */
static bool wal_room(struct store_wal *w, size_t n)
{
    if (w->oom)
        return false;
    if (n > SIZE_MAX / 4 || w->n > SIZE_MAX / 4) {
        w->oom = true;
        return false;
    }
    size_t want = w->n + n + STORE_WAL_SUM;
    if (want <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < want) {
        if (cap > SIZE_MAX / 2) {
            w->oom = true;
            return false;
        }
        cap *= 2;
    }
    uint8_t *b = realloc(w->buf, cap);
    if (!b) {
        w->oom = true;
        return false;
    }
    w->buf = b;
    w->cap = cap;
    return true;
}

static void wal_entry(store_t *s, int op, int db, const void *k, size_t klen, const void *v,
                      size_t vlen)
{
    struct store_wal *w = s->wal;
    size_t need = 4 + (op == WAL_PUT ? 4 : 0) + klen + vlen;
    if (klen > UINT16_MAX || vlen > UINT32_MAX) {
        w->oom = true;
        return;
    }
    if (!wal_room(w, need))
        return;
    uint8_t *p = w->buf + w->n;
    p[0] = (uint8_t)op;
    p[1] = (uint8_t)db;
    p[2] = (uint8_t)(klen >> 8);
    p[3] = (uint8_t)klen;
    p += 4;
    if (op == WAL_PUT) {
        store_be32(p, (uint32_t)vlen);
        p += 4;
    }
    memcpy(p, k, klen);
    if (vlen)
        memcpy(p + klen, v, vlen);
    w->n += need;
}

void store_wal_put(store_txn_t *t, int db, const void *k, size_t klen, const void *v, size_t vlen)
{
    if (wal_capturing(t->s))
        wal_entry(t->s, WAL_PUT, db, k, klen, v, vlen);
}

void store_wal_del(store_txn_t *t, int db, const void *k, size_t klen)
{
    if (wal_capturing(t->s))
        wal_entry(t->s, WAL_DEL, db, k, klen, NULL, 0);
}

size_t store_wal_mark(const store_t *s)
{
    return s->wal ? s->wal->n : 0;
}

void store_wal_truncate(store_t *s, size_t mark)
{
    if (s->wal && mark >= STORE_WAL_HDR && mark <= s->wal->n)
        s->wal->n = mark;
}

void store_wal_reset(store_t *s)
{
    if (!s->wal)
        return;
    s->wal->n = STORE_WAL_HDR;
    s->wal->oom = false;
    s->wal->oom = !wal_room(s->wal, 0);
}

/* ---- appending ---- */

void store_wal_fail(store_t *s)
{
    struct store_wal *w = s->wal;
    uint64_t one = 1;
    atomic_store(&w->failed, 1);
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->done);
    pthread_cond_broadcast(&w->wake);
    pthread_cond_broadcast(&w->ckwake);
    pthread_mutex_unlock(&w->mu);
    if (write(w->efd, &one, sizeof one) < 0) {
        /* the counter is full: readable already */
    }
}

/* Gives file i at least size bytes on disk (posix_fallocate). */
static int wal_alloc(struct store_wal *w, int i, uint64_t size)
{
    if (w->size[i] >= size)
        return 0;
    int rc = posix_fallocate(w->fd[i], 0, (off_t)size);
    if (rc)
        return store_lmdb_err(NULL, rc);
    w->size[i] = size;
    return 0;
}

int store_wal_reserve(store_t *s)
{
    struct store_wal *w = s->wal;
    if (atomic_load(&w->failed))
        return LB_EIO;
    if (w->oom || !wal_room(w, 0))
        return LB_ENOMEM;
    uint64_t rec = w->n + STORE_WAL_SUM;
    if (rec > WAL_REC_MAX)
        return LB_ENOMEM;
    if (w->off + rec <= w->size[w->cur])
        return 0;
    uint64_t size = w->size[w->cur];
    while (size < w->off + rec)
        size += w->prealloc;
    return wal_alloc(w, w->cur, size);
}

/* Adds n bytes bound for file at off; LB_ENOMEM. */
static int wal_batch_add(store_wal_batch_t *b, int file, uint64_t off, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *nb = realloc(b->buf, cap);
        if (!nb)
            return LB_ENOMEM;
        b->buf = nb;
        b->cap = cap;
    }
    const store_wal_run_t *last = b->nruns ? &b->runs[b->nruns - 1] : NULL;
    if (!last || last->file != file || last->off + last->len != off) {
        if (!b->runs || b->nruns == b->runcap) {
            size_t cap = b->runs && b->runcap ? 2 * b->runcap : 8;
            store_wal_run_t *nr = realloc(b->runs, cap * sizeof *nr);
            if (!nr)
                return LB_ENOMEM;
            b->runs = nr;
            b->runcap = cap;
        }
        b->runs[b->nruns] = (store_wal_run_t){.file = file, .off = off, .at = b->n, .len = 0};
        b->nruns++;
    }
    memcpy(b->buf + b->n, p, n);
    b->n += n;
    b->runs[b->nruns - 1].len += n;
    return 0;
}

static void wal_batch_free(store_wal_batch_t *b)
{
    free(b->buf);
    free(b->runs);
    memset(b, 0, sizeof *b);
}

int store_wal_append(store_t *s, uint64_t *ticket)
{
    struct store_wal *w = s->wal;
    uint64_t t = atomic_load(&s->committed) + 1;
    size_t len = w->n - STORE_WAL_HDR;
    uint8_t *h = w->buf;

    store_be32(h, WAL_MAGIC);
    store_be32(h + 4, (uint32_t)len);
    store_be64(h + 8, w->base + t);
    store_be64(h + 16, w->chain);
    uint64_t sum = store_wal_sum(h, w->n);
    store_be64(h + w->n, sum);
    size_t total = w->n + STORE_WAL_SUM;

    pthread_mutex_lock(&w->mu);
    /* Bounded memory when the disk falls behind: wait for the syncer to take the batch. */
    while (w->threads && w->pend.n >= WAL_PEND_MAX && !atomic_load(&w->failed))
        pthread_cond_wait(&w->done, &w->mu);
    int ret = atomic_load(&w->failed) ? LB_EIO : wal_batch_add(&w->pend, w->cur, w->off, h, total);
    if (ret == 0) {
        w->written = t;
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->mu);
    if (ret) {
        /* Committed but not logged: it can never become durable. */
        store_wal_fail(s);
        return LB_EIO;
    }
    w->off += total;
    w->chain = sum;
    atomic_fetch_add(&w->log_bytes, total);
    atomic_store(&s->committed, t);
    *ticket = t;
    return 0;
}

/* ---- the syncer ---- */

int store_fdatasync(int fd)
{
    int rc;
    do
        rc = fdatasync(fd);
    while (rc != 0 && errno == EINTR);
    return rc;
}

int store_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const uint8_t *)p + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? store_lmdb_err(NULL, errno) : LB_EIO;
        done += (size_t)r;
    }
    return 0;
}

/* Writes the batch's runs in order and syncs the files written; 0 or -1. */
static int wal_flush(struct store_wal *w, store_wal_batch_t *b)
{
    bool dirty[2] = {false, false};
    for (size_t i = 0; i < b->nruns; i++) {
        const store_wal_run_t *r = &b->runs[i];
        if (store_pwrite_all(w->fd[r->file], b->buf + r->at, r->len, r->off) != 0)
            return -1;
        dirty[r->file] = true;
    }
    b->n = b->nruns = 0;
    for (int i = 0; i < 2; i++) {
        if (!dirty[i])
            continue;
        if (store_fdatasync(w->fd[i]) != 0)
            return -1;
        atomic_fetch_add(&w->log_syncs, 1);
    }
    return 0;
}

static void *wal_syncer(void *arg)
{
    store_t *s = arg;
    struct store_wal *w = s->wal;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && !atomic_load(&w->failed) && w->written <= atomic_load(&s->durable))
            pthread_cond_wait(&w->wake, &w->mu);
        /* A stop still writes and syncs what was appended before it. */
        if (atomic_load(&w->failed) || w->written <= atomic_load(&s->durable))
            break;
        uint64_t target = w->written;
        store_wal_batch_t b = w->flush;
        w->flush = w->pend;
        w->pend = b;
        pthread_cond_broadcast(&w->done); /* a writer waiting for room */
        pthread_mutex_unlock(&w->mu);
        if (wal_flush(w, &w->flush) != 0) {
            store_wal_fail(s);
            pthread_mutex_lock(&w->mu);
            break;
        }
        uint64_t one = 1;
        pthread_mutex_lock(&w->mu);
        atomic_store_explicit(&s->durable, target, memory_order_release);
        pthread_cond_broadcast(&w->done);
        if (write(w->efd, &one, sizeof one) < 0) {
            /* the counter is full: readable already */
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int store_wal_start(store_t *s)
{
    struct store_wal *w = s->wal;
    sigset_t all, old;
    int ret = 0;

    /* The store's threads take no signals: the daemon's own handling stays as it is. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&w->syncer, NULL, wal_syncer, s) != 0) {
        ret = LB_EIO;
    } else if (pthread_create(&w->ckthr, NULL, store_ckpt_thread, s) != 0) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->wake);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->syncer, NULL);
        ret = LB_EIO;
    } else {
        w->threads = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ret;
}

/* ---- files ---- */

int store_wal_new(store_t *s)
{
    struct store_wal *w = calloc(1, sizeof *w);
    if (!w)
        return LB_ENOMEM;
    w->fd[0] = w->fd[1] = w->efd = w->ckfd = w->datafd = -1;
    atomic_init(&w->failed, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->ckwake, NULL);
    pthread_cond_init(&w->done, NULL);
    s->wal = w;
    return 0;
}

/* fsync of the folder, so files created in it survive a power loss. */
int store_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int store_wal_open(store_t *s, const char *dir, char *err, size_t errlen)
{
    struct store_wal *w = s->wal;
    struct statvfs vfs;
    bool created = false;

    /* A small file system (a test's tmpfs) gets small files: they extend as needed. */
    if (!w->prealloc) {
        w->prealloc = WAL_PREALLOC;
        if (statvfs(dir, &vfs) == 0) {
            uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize / 16;
            if (avail < w->prealloc)
                w->prealloc = avail < WAL_PREALLOC_MIN ? WAL_PREALLOC_MIN : avail;
        }
    }
    for (int i = 0; i < 2; i++) {
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/wal.%d", dir, i);
        w->fd[i] = open(path, O_RDWR | O_CLOEXEC, 0600);
        if (w->fd[i] < 0 && errno == ENOENT) {
            w->fd[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            created = true;
        }
        if (w->fd[i] < 0 || fstat(w->fd[i], &st) != 0) {
            int e = errno;
            if (err && errlen)
                snprintf(err, errlen, "open %s: %s", path, strerror(e));
            return store_lmdb_err(NULL, e);
        }
        w->size[i] = (uint64_t)st.st_size;
        int ret = wal_alloc(w, i, w->prealloc);
        if (ret == 0 && created && fsync(w->fd[i]) != 0)
            ret = LB_EIO;
        if (ret) {
            if (err && errlen)
                snprintf(err, errlen, "preallocate %s: %s", path, lb_strerror(ret));
            return ret;
        }
    }
    if (created && store_sync_dir(dir) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "sync folder %s: %s", dir, strerror(errno));
        return LB_EIO;
    }
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        if (err && errlen)
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
        return LB_EIO;
    }
    return 0;
}

void store_wal_free(store_t *s)
{
    struct store_wal *w = s->wal;
    if (!w)
        return;
    if (w->threads) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->wake);
        pthread_cond_broadcast(&w->ckwake);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->syncer, NULL);
        pthread_join(w->ckthr, NULL);
        w->threads = false;
    }
    if (w->ck.pin)
        mdb_txn_abort(w->ck.pin);
    if (w->pin)
        mdb_txn_abort(w->pin);
    free(w->ck.metas);
    for (int i = 0; i < 2; i++)
        if (w->fd[i] >= 0)
            close(w->fd[i]);
    if (w->efd >= 0)
        close(w->efd);
    if (w->ckfd >= 0)
        close(w->ckfd); /* drops the flock */
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->ckwake);
    pthread_cond_destroy(&w->done);
    wal_batch_free(&w->pend);
    wal_batch_free(&w->flush);
    free(w->buf);
    free(w);
    s->wal = NULL;
}

/* ---- reading records (recovery) ---- */

/* pread of exactly n bytes; 0, or -1 (short: the file ends). */
static int wal_pread(int fd, void *p, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)p + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/*
 * Reads the record at off when it is valid and is record seq after prev:
 * 1 with its bytes in *buf (header, payload, sum) and *len (the payload's);
 * 0 when it is not (the log ends there); LB_ENOMEM.
 */
static int wal_read(int fd, uint64_t off, uint64_t seq, uint64_t prev, uint8_t **buf, size_t *cap,
                    size_t *len, uint64_t *sum)
{
    uint8_t h[STORE_WAL_HDR];
    struct stat st;

    if (fd < 0 || fstat(fd, &st) != 0 || wal_pread(fd, h, sizeof h, off) != 0)
        return 0;
    uint64_t n = store_get_be32(h + 4);
    if (store_get_be32(h) != WAL_MAGIC || store_get_be64(h + 8) != seq ||
        store_get_be64(h + 16) != prev)
        return 0;
    uint64_t total = STORE_WAL_HDR + n + STORE_WAL_SUM;
    if (off + total > (uint64_t)st.st_size || total > WAL_REC_MAX)
        return 0;
    if (*cap < total) {
        uint8_t *b = realloc(*buf, total);
        if (!b)
            return LB_ENOMEM;
        *buf = b;
        *cap = total;
    }
    if (wal_pread(fd, *buf, total, off) != 0)
        return 0;
    uint64_t want = store_wal_sum(*buf, STORE_WAL_HDR + n);
    if (store_get_be64(*buf + STORE_WAL_HDR + n) != want)
        return 0;
    *len = n;
    *sum = want;
    return 1;
}

bool store_wal_has_next(int fd, uint64_t off, uint64_t seq, uint64_t chain)
{
    uint8_t *buf = NULL;
    size_t cap = 0, len;
    uint64_t sum;
    int r = wal_read(fd, off, seq + 1, chain, &buf, &cap, &len, &sum);
    free(buf);
    return r != 0;
}

/* Applies one record's entries in txn. LB_ECORRUPT when they do not parse or apply. */
static int wal_apply(store_t *s, MDB_txn *txn, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (n - i < 4)
            return LB_ECORRUPT;
        int op = p[i], db = p[i + 1];
        size_t klen = ((size_t)p[i + 2] << 8) | p[i + 3], vlen = 0;
        i += 4;
        if (db >= STORE_DB_COUNT || (op != WAL_PUT && op != WAL_DEL))
            return LB_ECORRUPT;
        if (op == WAL_PUT) {
            if (n - i < 4)
                return LB_ECORRUPT;
            vlen = store_get_be32(p + i);
            i += 4;
        }
        if (n - i < klen || n - i - klen < vlen)
            return LB_ECORRUPT;
        MDB_val k = {klen, (void *)(p + i)}, v = {vlen, (void *)(p + i + klen)};
        int rc = op == WAL_PUT ? mdb_put(txn, s->dbi[db], &k, &v, 0)
                               : mdb_del(txn, s->dbi[db], &k, NULL);
        if (rc == MDB_NOTFOUND)
            return LB_ECORRUPT;
        if (rc)
            return store_lmdb_err(NULL, rc);
        i += klen + vlen;
    }
    return 0;
}

/* One record in a write txn of its own; the map grows when it is full. */
static int wal_replay_one(store_t *s, const uint8_t *p, size_t n)
{
    for (;;) {
        MDB_txn *txn = NULL;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc)
            return store_lmdb_err(NULL, rc);
        int ret = wal_apply(s, txn, p, n);
        if (ret == 0)
            ret = store_lmdb_err(NULL, mdb_txn_commit(txn));
        else
            mdb_txn_abort(txn);
        if (ret != LB_EMAPFULL)
            return ret;
        ret = store_grow_map(s);
        if (ret)
            return ret;
    }
}

int store_wal_replay(store_t *s, uint32_t file, uint64_t off, uint64_t seq, uint64_t chain,
                     uint64_t *last, uint64_t *last_chain)
{
    struct store_wal *w = s->wal;
    uint8_t *buf = NULL;
    size_t cap = 0, len;
    uint64_t sum;
    bool switched = false;
    int ret = 0;

    w->replaying = true;
    while (file < 2) {
        int r = wal_read(w->fd[file], off, seq + 1, chain, &buf, &cap, &len, &sum);
        if (r < 0) {
            ret = r;
            break;
        }
        if (r == 0) {
            /* After a switch whose checkpoint was not durable: go on in the other file. */
            if (switched)
                break;
            switched = true;
            file ^= 1;
            off = 0;
            continue;
        }
        ret = wal_replay_one(s, buf + STORE_WAL_HDR, len);
        if (ret)
            break;
        seq++;
        w->replayed++;
        chain = sum;
        off += STORE_WAL_HDR + len + STORE_WAL_SUM;
    }
    w->replaying = false;
    free(buf);
    *last = seq;
    *last_chain = chain;
    return ret;
}
