/*
 * ckpt.c - checkpoints: how LMDB, run with MDB_NOSYNC, still becomes durable
 * and keeps the write-ahead log short, and recovery after a crash or a
 * power loss (docs/DURABILITY.md).
 *
 * DIR/ckpt holds two fixed slots written alternately (pwrite + fdatasync; a
 * torn slot leaves the other valid). A slot names a snapshot T of data.mdb:
 * the WAL seq of its last txn, the chain (the sum of record seq), LMDB's txn
 * id, where record seq + 1 goes (WAL file and offset), and the raw bytes of
 * data.mdb's two meta pages as they were right after T's commit.
 *
 * The pin: a read txn keeps T alive until a newer checkpoint is durable, so
 * LMDB never reuses T's pages and they stay intact on disk whatever later
 * unsynced commits did. A checkpoint begins on the writer's thread right
 * after a commit (pin, meta pages from the page cache, WAL switch) and ends
 * on the checkpoint thread (fdatasync data.mdb, the slot, fdatasync ckpt,
 * the old pin released, the old WAL file free).
 *
 * Recovery (a writable open whose newest slot is not "clean"): the slot's
 * meta pages are written back over data.mdb and synced before LMDB opens it
 * (undoing any meta page of an unsynced commit), T is pinned, the log is
 * replayed from the slot's position (then from the other file's start), and
 * a checkpoint is taken synchronously before anything else is written.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define CK_MAGIC 0x4c42434bu /* "LBCK" */
#define CK_VERSION 1
#define CK_SLOT 32768 /* slot stride in the file */
#define CK_HDR 64
#define CK_PSIZE_MAX ((CK_SLOT - CK_HDR - 8) / 2)
/* LMDB 0.9's meta page: a 16-byte page header, then mm_magic ... mm_txnid (64-bit builds). */
#define MDB_META_MAGIC 0xBEEFC0DEu
#define META_MAGIC_OFF 16
#define META_TXNID_OFF 144

static uint64_t ck_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int ck_pread(int fd, void *p, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)p + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return LB_EIO;
        done += (size_t)r;
    }
    return 0;
}

/* ---- slots ---- */

typedef struct {
    store_ckpt_t ck;
    uint64_t gen;
    uint32_t psize;
} ck_slot_t;

static void ck_encode(uint8_t *b, const store_ckpt_t *ck, uint64_t gen, uint32_t psize)
{
    memset(b, 0, CK_HDR);
    store_be32(b, CK_MAGIC);
    store_be32(b + 4, CK_VERSION);
    store_be64(b + 8, gen);
    store_be64(b + 16, ck->seq);
    store_be64(b + 24, ck->chain);
    store_be64(b + 32, ck->txnid);
    store_be64(b + 40, ck->off);
    store_be32(b + 48, ck->file);
    store_be32(b + 52, psize);
    store_be32(b + 56, ck->clean ? 1 : 0);
    memcpy(b + CK_HDR, ck->metas, 2 * (size_t)psize);
    store_be64(b + CK_HDR + 2 * (size_t)psize, store_wal_sum(b, CK_HDR + 2 * (size_t)psize));
}

/* A valid slot from its CK_SLOT bytes into *out (metas point into b); false when not. */
static bool ck_decode(uint8_t *b, ck_slot_t *out)
{
    uint32_t psize = store_get_be32(b + 52);
    if (store_get_be32(b) != CK_MAGIC || store_get_be32(b + 4) != CK_VERSION || psize == 0 ||
        psize > CK_PSIZE_MAX || store_get_be32(b + 48) > 1)
        return false;
    size_t n = CK_HDR + 2 * (size_t)psize;
    if (store_get_be64(b + n) != store_wal_sum(b, n))
        return false;
    memset(out, 0, sizeof *out);
    out->gen = store_get_be64(b + 8);
    out->ck.seq = store_get_be64(b + 16);
    out->ck.chain = store_get_be64(b + 24);
    out->ck.txnid = store_get_be64(b + 32);
    out->ck.off = store_get_be64(b + 40);
    out->ck.file = store_get_be32(b + 48);
    out->psize = psize;
    out->ck.clean = store_get_be32(b + 56) != 0;
    out->ck.metas = b + CK_HDR;
    return true;
}

/*
 * The valid slot of the highest generation of the file: 1 with *out (its
 * metas copied into a buffer the caller frees), 0 when none; LB_ENOMEM.
 */
static int ck_read_best(int fd, ck_slot_t *out)
{
    uint8_t *b = malloc(2 * CK_SLOT);
    ck_slot_t sl[2];
    bool ok[2];
    if (!b)
        return LB_ENOMEM;
    for (int i = 0; i < 2; i++) {
        ok[i] = ck_pread(fd, b + i * CK_SLOT, CK_SLOT, (uint64_t)i * CK_SLOT) == 0 &&
                ck_decode(b + i * CK_SLOT, &sl[i]);
    }
    int best = -1;
    if (ok[0])
        best = 0;
    if (ok[1] && (best < 0 || sl[1].gen > sl[0].gen))
        best = 1;
    if (best < 0) {
        free(b);
        return 0;
    }
    *out = sl[best];
    size_t mlen = 2 * (size_t)out->psize;
    out->ck.metas = malloc(mlen);
    if (!out->ck.metas) {
        free(b);
        return LB_ENOMEM;
    }
    memcpy(out->ck.metas, sl[best].ck.metas, mlen);
    free(b);
    return 1;
}

/* ---- taking a checkpoint ---- */

/*
 * Writer's thread, right after a commit (or with no write running): pins the
 * last commit, copies data.mdb's meta pages, checks one of them is that
 * commit, and (sw) switches the log to the other file. Fills w->ck.
 * LB_ECORRUPT when the meta layout is not the one expected; storage errors.
 */
static int ck_prepare(store_t *s, bool sw, bool clean)
{
    struct store_wal *w = s->wal;
    store_ckpt_t *ck = &w->ck;
    MDB_txn *pin = NULL;
    size_t mlen = 2 * (size_t)w->psize;

    int ret = store_lmdb_err(NULL, mdb_txn_begin(s->env, NULL, MDB_RDONLY, &pin));
    if (ret)
        return ret;
    uint64_t txnid = (uint64_t)mdb_txn_id(pin);
    ret = ck_pread(w->datafd, ck->metas, mlen, 0);
    if (ret == 0) {
        bool found = false;
        for (int i = 0; i < 2; i++) {
            const uint8_t *m = ck->metas + (size_t)i * w->psize;
            uint32_t magic;
            uint64_t id;
            memcpy(&magic, m + META_MAGIC_OFF, sizeof magic);
            memcpy(&id, m + META_TXNID_OFF, sizeof id);
            if (magic != MDB_META_MAGIC) {
                ret = LB_ECORRUPT;
                break;
            }
            found = found || id == txnid;
        }
        if (ret == 0 && !found)
            ret = LB_ECORRUPT;
    }
    if (ret) {
        mdb_txn_abort(pin);
        return ret;
    }
    if (sw) {
        w->cur ^= 1;
        w->off = 0;
    }
    ck->seq = w->base + atomic_load(&s->committed);
    ck->chain = w->chain;
    ck->txnid = txnid;
    ck->file = (uint32_t)w->cur;
    ck->off = w->off;
    ck->clean = clean;
    ck->pin = pin;
    return 0;
}

/*
 * Makes w->ck durable: data.mdb synced, the slot written and synced, then
 * the older pin released. Any thread, one at a time.
 */
static int ck_finish(store_t *s)
{
    struct store_wal *w = s->wal;
    uint8_t *b = malloc(CK_SLOT);
    int ret = 0;

    if (!b)
        return LB_ENOMEM;
    if (store_fdatasync(w->datafd) != 0)
        ret = LB_EIO;
    atomic_fetch_add(&w->data_syncs, 1);
    if (ret == 0) {
        uint64_t gen = w->gen + 1;
        memset(b, 0, CK_SLOT);
        ck_encode(b, &w->ck, gen, w->psize);
        ret = store_pwrite_all(w->ckfd, b, CK_SLOT, (gen & 1) * CK_SLOT);
        if (ret == 0 && store_fdatasync(w->ckfd) != 0)
            ret = LB_EIO;
        if (ret == 0)
            w->gen = gen;
    }
    free(b);
    if (ret)
        return ret;
    if (w->pin)
        mdb_txn_abort(w->pin);
    w->pin = w->ck.pin;
    w->ck.pin = NULL;
    atomic_fetch_add(&w->checkpoints, 1);
    return 0;
}

/* Waits until no checkpoint is running. */
static void ck_wait_idle(struct store_wal *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->ck_busy)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* A checkpoint of the last commit on the calling thread (writer). */
static int ck_sync_now(store_t *s, bool sw, bool clean)
{
    ck_wait_idle(s->wal);
    int ret = ck_prepare(s, sw, clean);
    if (ret == 0)
        ret = ck_finish(s);
    if (ret && s->wal->ck.pin) {
        mdb_txn_abort(s->wal->ck.pin);
        s->wal->ck.pin = NULL;
    }
    return ret;
}

void *store_ckpt_thread(void *arg)
{
    store_t *s = arg;
    struct store_wal *w = s->wal;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && !w->ck_queued)
            pthread_cond_wait(&w->ckwake, &w->mu);
        if (!w->ck_queued)
            break;
        pthread_mutex_unlock(&w->mu);
        int ret = ck_finish(s);
        if (ret)
            store_wal_fail(s);
        pthread_mutex_lock(&w->mu);
        w->ck_queued = false;
        w->ck_busy = false;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void store_ckpt_maybe(store_t *s)
{
    struct store_wal *w = s->wal;
    if (!w || atomic_load(&w->failed))
        return;
    pthread_mutex_lock(&w->mu);
    bool busy = w->ck_busy;
    pthread_mutex_unlock(&w->mu);
    if (busy)
        return;
    uint64_t now = ck_now_ns();
    bool due = w->ck_interval_ns >= 0 && now - w->ck_last_ns >= (uint64_t)w->ck_interval_ns;
    if (!due && w->off < w->prealloc / 2)
        return;
    w->ck_last_ns = now;
    if (ck_prepare(s, true, false) != 0) {
        store_wal_fail(s);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->ck_busy = w->ck_queued = true;
    pthread_cond_signal(&w->ckwake);
    pthread_mutex_unlock(&w->mu);
}

/* ---- open, recovery, close ---- */

static void ck_msg(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b);
}

int store_ckpt_open(store_t *s, const char *dir, store_ckpt_t *ck, bool *have, char *err,
                    size_t errlen)
{
    struct store_wal *w = s->wal;
    char path[4200];
    ck_slot_t best;
    bool created = false;

    memset(ck, 0, sizeof *ck);
    *have = false;
    snprintf(path, sizeof path, "%s/ckpt", dir);
    w->ckfd = open(path, O_RDWR | O_CLOEXEC);
    if (w->ckfd < 0 && errno == ENOENT) {
        w->ckfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        created = true;
    }
    if (w->ckfd < 0) {
        ck_msg(err, errlen, "open %s: %s", path, strerror(errno));
        return store_lmdb_err(NULL, errno);
    }
    /* flock: one writable store at a time; read-only opens check it (store_ckpt_check_ro). */
    if (flock(w->ckfd, LOCK_EX | LOCK_NB) != 0) {
        ck_msg(err, errlen, "store %s is in use by another process (%s)", dir, strerror(errno));
        return LB_EIO;
    }
    if (created) {
        int rc = posix_fallocate(w->ckfd, 0, 2 * CK_SLOT);
        if (rc == 0 && fsync(w->ckfd) != 0)
            rc = errno;
        if (rc == 0 && store_sync_dir(dir) != 0)
            rc = errno;
        if (rc) {
            ck_msg(err, errlen, "create %s: %s", path, strerror(rc));
            return store_lmdb_err(NULL, rc);
        }
        return 0;
    }
    int r = ck_read_best(w->ckfd, &best);
    if (r <= 0)
        return r;
    w->gen = best.gen;
    *ck = best.ck;
    if (ck->clean) {
        /* Everything was synced at the close; tools may have changed data.mdb since. */
        free(ck->metas);
        ck->metas = NULL;
        return 0;
    }
    *have = true;
    w->psize = best.psize;

    /* Undo the meta pages of unsynced commits: T's pages are intact (pinned). */
    size_t mlen = 2 * (size_t)best.psize;
    uint8_t *cur = malloc(mlen);
    int fd = open(s->path, O_RDWR | O_CLOEXEC);
    int ret = 0;
    if (!cur)
        ret = LB_ENOMEM;
    else if (fd < 0) {
        ck_msg(err, errlen, "%s: %s (a checkpoint exists: the store is damaged)", s->path,
               strerror(errno));
        ret = LB_ECORRUPT;
    } else if (ck_pread(fd, cur, mlen, 0) != 0 || memcmp(cur, ck->metas, mlen) != 0) {
        ret = store_pwrite_all(fd, ck->metas, mlen, 0);
        if (ret == 0 && store_fdatasync(fd) != 0)
            ret = LB_EIO;
        if (ret)
            ck_msg(err, errlen, "restore the checkpoint's meta pages of %s: %s", s->path,
                   lb_strerror(ret));
    }
    if (fd >= 0)
        close(fd);
    free(cur);
    return ret;
}

int store_ckpt_pin(store_t *s, const store_ckpt_t *ck, bool have, char *err, size_t errlen)
{
    struct store_wal *w = s->wal;
    if (!have)
        return 0;
    int ret = store_lmdb_err(NULL, mdb_txn_begin(s->env, NULL, MDB_RDONLY, &w->pin));
    if (ret)
        return ret;
    if ((uint64_t)mdb_txn_id(w->pin) != ck->txnid) {
        ck_msg(err, errlen,
               "%s does not hold the snapshot its checkpoint names (a data.mdb put back from a "
               "backup needs ckpt, wal.0 and wal.1 removed beside it)%s",
               s->path, "");
        return LB_ECORRUPT;
    }
    return 0;
}

int store_ckpt_recover(store_t *s, store_ckpt_t *ck, bool have, char *err, size_t errlen)
{
    struct store_wal *w = s->wal;
    MDB_stat st;
    int fd, ret;

    ret = store_lmdb_err(NULL, mdb_env_get_fd(s->env, &fd));
    if (ret == 0)
        ret = store_lmdb_err(NULL, mdb_env_stat(s->env, &st));
    if (ret)
        return ret;
    w->datafd = fd;
    if (st.ms_psize > CK_PSIZE_MAX || (have && st.ms_psize != w->psize)) {
        ck_msg(err, errlen, "%s: page size %s not supported by the checkpoint file", s->path, "");
        return LB_ECORRUPT;
    }
    w->psize = st.ms_psize;
    w->ck.metas = malloc(2 * (size_t)w->psize);
    if (!w->ck.metas)
        return LB_ENOMEM;

    uint64_t seq = ck->seq, chain = ck->chain;
    /* From here on commits only reach the page cache: the log and checkpoints sync. */
    ret = store_lmdb_err(NULL, mdb_env_set_flags(s->env, MDB_NOSYNC, 1));
    if (ret)
        return ret;
    if (have) {
        ret = store_wal_replay(s, ck->file, ck->off, ck->seq, ck->chain, &seq, &chain);
        if (ret) {
            ck_msg(err, errlen, "replay the write-ahead log of %s: %s", s->path, lb_strerror(ret));
            return ret;
        }
    }
    /*
     * A fresh chain value for this life: the first record's prev is checked
     * against the slot's chain, so no record of an earlier life (nor of a
     * log whose ckpt was lost) can follow this checkpoint.
     */
    (void)chain;
    w->base = seq;
    randombytes_buf(&w->chain, sizeof w->chain);
    w->cur = 0;
    w->off = 0;
    ret = ck_sync_now(s, false, false);
    if (ret) {
        ck_msg(err, errlen, "checkpoint %s: %s", s->path, lb_strerror(ret));
        return ret;
    }
    w->ck_last_ns = ck_now_ns();
    return store_wal_start(s);
}

int store_ckpt_check_ro(const char *dir, char *err, size_t errlen)
{
    char path[4200];
    ck_slot_t best;
    int ret = 0;

    snprintf(path, sizeof path, "%s/ckpt", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* a store of an older logbookd, or none: LMDB decides */
    /* A running logbookd holds it: its page cache is the truth, read it as it is. */
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        close(fd);
        return 0;
    }
    int r = ck_read_best(fd, &best);
    if (r > 0 && !best.ck.clean) {
        size_t mlen = 2 * (size_t)best.psize;
        uint8_t *cur = malloc(mlen);
        char data[4200], wal[4200];
        snprintf(data, sizeof data, "%s/data.mdb", dir);
        snprintf(wal, sizeof wal, "%s/wal.%u", dir, (unsigned)best.ck.file);
        int dfd = open(data, O_RDONLY | O_CLOEXEC);
        int wfd = open(wal, O_RDONLY | O_CLOEXEC);
        snprintf(wal, sizeof wal, "%s/wal.%u", dir, (unsigned)best.ck.file ^ 1);
        int wfd2 = open(wal, O_RDONLY | O_CLOEXEC);
        bool dirty = !cur || dfd < 0 || ck_pread(dfd, cur, mlen, 0) != 0 ||
                     memcmp(cur, best.ck.metas, mlen) != 0 ||
                     store_wal_has_next(wfd, best.ck.off, best.ck.seq, best.ck.chain) ||
                     store_wal_has_next(wfd2, 0, best.ck.seq, best.ck.chain);
        if (dirty) {
            ck_msg(err, errlen,
                   "%s: the store was not shut down cleanly; start logbookd once on it to "
                   "recover its write-ahead log%s",
                   dir, "");
            ret = LB_EIO;
        }
        free(cur);
        if (dfd >= 0)
            close(dfd);
        if (wfd >= 0)
            close(wfd);
        if (wfd2 >= 0)
            close(wfd2);
    }
    if (r > 0)
        free(best.ck.metas);
    else if (r < 0)
        ret = r;
    close(fd);
    return ret;
}

void store_ckpt_close(store_t *s)
{
    struct store_wal *w = s->wal;
    if (!w || !w->threads)
        return;
    uint64_t last = atomic_load(&s->committed);
    if (store_wait_durable(s, last) == 0 && !atomic_load(&w->failed))
        (void)ck_sync_now(s, false, true);
    ck_wait_idle(w);
}
