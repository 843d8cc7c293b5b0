/*
 * shim.c - an LD_PRELOAD library that records, for the files under
 * $LOGBOOK_CRASH_DIR, every call that changes them (opens, writes,
 * truncations, syncs, renames, unlinks, folders, closes) into
 * $LOGBOOK_CRASH_LOG (crashlog.h), for the crash test's rebuild model.
 *
 * Threads: one recursive mutex is held around each recorded call and its
 * record, so the log's order is an order the calls really happened in; a
 * sync's record is appended after the real call returned, still under the
 * mutex, so every write before it in the log was finished when it started.
 * Calls on descriptors that are not recorded go straight to libc.
 * A shared writable mapping of a recorded file cannot be recorded: abort.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crashlog.h"

#define MAX_FD (1 << 20)

enum { FD_REC = 1, FD_SYNC = 2, FD_APPEND = 4, FD_LOCK = 8 };

static pthread_mutex_t mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static char root[PATH_MAX];
static size_t rootlen;
static int logfd = -1;
static uint64_t next_seq;
static _Atomic unsigned char fdflags[MAX_FD];

/* The real functions (dlsym(RTLD_NEXT)), resolved once in the constructor. */
static int (*r_open)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev2)(int, const struct iovec *, int, off_t, int);
static void (*r_sync)(void);
static int (*r_syncfs)(int);
static int (*r_ftruncate)(int, off_t);
static int (*r_truncate)(const char *, off_t);
static int (*r_fallocate)(int, int, off_t, off_t);
static int (*r_posix_fallocate)(int, off_t, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_sync_file_range)(int, off_t, off_t, unsigned int);
static int (*r_rename)(const char *, const char *);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*r_unlink)(const char *);
static int (*r_unlinkat)(int, const char *, int);
static int (*r_rmdir)(const char *);
static int (*r_mkdirat)(int, const char *, mode_t);
static int (*r_close)(int);
static int (*r_dup)(int);
static int (*r_dup2)(int, int);
static int (*r_dup3)(int, int, int);
static void *(*r_mmap)(void *, size_t, int, int, int, off_t);
static FILE *(*r_fopen)(const char *, const char *);

static void die(const char *what);

/* dlsym(RTLD_NEXT) of name, or abort. */
static void *real(const char *name);

/*
 * Resolves every real function at once, on first use: a sanitizer runtime
 * calls some (mmap) before this library's constructor has run.
 */
static void init_real(void)
{
    r_open = real("open");
    r_openat = real("openat");
    r_write = real("write");
    r_pwrite = real("pwrite");
    r_writev = real("writev");
    r_pwritev = real("pwritev");
    r_pwritev2 = real("pwritev2");
    r_sync = real("sync");
    r_syncfs = real("syncfs");
    r_ftruncate = real("ftruncate");
    r_truncate = real("truncate");
    r_fallocate = real("fallocate");
    r_posix_fallocate = real("posix_fallocate");
    r_fsync = real("fsync");
    r_fdatasync = real("fdatasync");
    r_sync_file_range = real("sync_file_range");
    r_rename = real("rename");
    r_renameat = real("renameat");
    r_renameat2 = real("renameat2");
    r_unlink = real("unlink");
    r_unlinkat = real("unlinkat");
    r_rmdir = real("rmdir");
    r_mkdirat = real("mkdirat");
    r_close = real("close");
    r_dup = real("dup");
    r_dup2 = real("dup2");
    r_dup3 = real("dup3");
    r_mmap = real("mmap");
    r_fopen = real("fopen");
}

#define R(name) (r_##name ? r_##name : (init_real(), r_##name))

static void die(const char *what)
{
    char msg[600];
    int n = snprintf(msg, sizeof msg, "crash shim: %s\n", what);
    if (n > 0 && r_write)
        (void)!r_write(2, msg, (size_t)n);
    abort();
}

static void *real(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        char msg[200];
        snprintf(msg, sizeof msg, "no real %s", name);
        die(msg);
    }
    return p;
}

__attribute__((constructor)) static void shim_init(void)
{
    init_real();
    const char *dir = getenv("LOGBOOK_CRASH_DIR");
    const char *log = getenv("LOGBOOK_CRASH_LOG");
    if (!dir || !log)
        return; /* not recording: every call goes straight through */
    if (!realpath(dir, root))
        die("LOGBOOK_CRASH_DIR does not exist");
    rootlen = strlen(root);
    /* Far above the daemon's descriptors, so closing "everything" leaves it alone. */
    int fd = R(open)(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        die("cannot open LOGBOOK_CRASH_LOG");
    logfd = fcntl(fd, F_DUPFD_CLOEXEC, 900);
    R(close)(fd);
    if (logfd < 0)
        die("cannot move the log descriptor");
}

static bool recording(void)
{
    return logfd >= 0;
}

/*
 * The path relative to the folder ("" for the folder itself) in out, or false
 * when path is outside it. The parent is resolved with realpath (the last
 * component may not exist yet); dirfd as in openat.
 */
static bool inside(int dirfd, const char *path, char out[PATH_MAX])
{
    char abs[PATH_MAX * 2], parent[PATH_MAX], rp[PATH_MAX];
    if (!path || !*path)
        return false;
    if (path[0] == '/') {
        snprintf(abs, sizeof abs, "%s", path);
    } else {
        char base[PATH_MAX];
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base))
                return false;
        } else {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
            ssize_t n = readlink(link, base, sizeof base - 1);
            if (n <= 0)
                return false;
            base[n] = '\0';
        }
        snprintf(abs, sizeof abs, "%s/%s", base, path);
    }
    size_t n = strlen(abs);
    while (n > 1 && abs[n - 1] == '/')
        abs[--n] = '\0';
    const char *slash = strrchr(abs, '/');
    const char *last = slash + 1;
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - abs), abs);
    if (!parent[0])
        snprintf(parent, sizeof parent, "/");
    char full[PATH_MAX * 2];
    if (strcmp(last, ".") == 0 || strcmp(last, "..") == 0) {
        if (!realpath(abs, rp))
            return false;
        snprintf(full, sizeof full, "%s", rp);
    } else if (realpath(parent, rp)) {
        snprintf(full, sizeof full, "%s/%s", strcmp(rp, "/") == 0 ? "" : rp, last);
    } else {
        snprintf(full, sizeof full, "%s", abs);
    }
    if (strncmp(full, root, rootlen) != 0 || (full[rootlen] != '/' && full[rootlen] != '\0'))
        return false;
    snprintf(out, PATH_MAX, "%s", full[rootlen] == '/' ? full + rootlen + 1 : "");
    return true;
}

static bool is_lock(const char *rel)
{
    const char *b = strrchr(rel, '/');
    return strcmp(b ? b + 1 : rel, "lock.mdb") == 0;
}

static void put(const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = R(write)(logfd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("cannot append to LOGBOOK_CRASH_LOG");
        c += w;
        n -= (size_t)w;
    }
}

/* Appends one record; iov holds the data of a write (may be NULL). Under mu; errno kept. */
static void emit(crash_rec_t *h, const char *p1, const char *p2, const struct iovec *iov,
                 int iovcnt)
{
    int e = errno;
    h->magic = CRASH_MAGIC;
    h->seq = next_seq++;
    h->plen = p1 ? (uint32_t)strlen(p1) : 0;
    h->p2len = p2 ? (uint32_t)strlen(p2) : 0;
    put(h, sizeof *h);
    if (h->plen)
        put(p1, h->plen);
    if (h->p2len)
        put(p2, h->p2len);
    uint64_t left = h->type == CRASH_WRITE ? h->len : 0;
    for (int i = 0; i < iovcnt && left > 0; i++) {
        size_t n = iov[i].iov_len < left ? iov[i].iov_len : (size_t)left;
        put(iov[i].iov_base, n);
        left -= n;
    }
    errno = e;
}

static unsigned char flags_of(int fd)
{
    return fd >= 0 && fd < MAX_FD ? atomic_load_explicit(&fdflags[fd], memory_order_relaxed) : 0;
}

static void set_flags(int fd, unsigned char f)
{
    if (fd >= MAX_FD && f)
        die("descriptor number too large to track");
    if (fd >= 0 && fd < MAX_FD)
        atomic_store_explicit(&fdflags[fd], f, memory_order_relaxed);
}

static bool recorded(int fd)
{
    return recording() && (flags_of(fd) & FD_REC) && !(flags_of(fd) & FD_LOCK);
}

/* ---- opens ---- */

static int after_open(int fd, const char *rel, int flags, bool existed)
{
    if (fd < 0)
        return fd;
    struct stat st;
    bool isdir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    unsigned char f = FD_REC;
    if (flags & (O_SYNC | O_DSYNC))
        f |= FD_SYNC;
    if (flags & O_APPEND)
        f |= FD_APPEND;
    if (is_lock(rel))
        f |= FD_LOCK;
    set_flags(fd, f);
    if (f & FD_LOCK)
        return fd;
    crash_rec_t h = {.type = CRASH_OPEN, .fd = fd, .arg = flags};
    h.bits = (!existed ? CRASH_B_CREATED : 0) | (isdir ? CRASH_B_DIR : 0) |
             ((f & FD_SYNC) ? CRASH_B_SYNC : 0);
    emit(&h, rel, NULL, NULL, 0);
    return fd;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    char rel[PATH_MAX];
    if (!recording() || !inside(dirfd, path, rel))
        return R(openat)(dirfd, path, flags, mode);
    pthread_mutex_lock(&mu);
    struct stat st;
    bool existed = fstatat(dirfd, path, &st, 0) == 0;
    int fd = R(openat)(dirfd, path, flags, mode);
    after_open(fd, rel, flags, existed);
    pthread_mutex_unlock(&mu);
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(AT_FDCWD, path, flags, m);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(AT_FDCWD, path, flags, m);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(dirfd, path, flags, m);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(dirfd, path, flags, m);
}

int __open_2(const char *path, int flags)
{
    return do_openat(AT_FDCWD, path, flags, 0);
}

int __open64_2(const char *path, int flags)
{
    return do_openat(AT_FDCWD, path, flags, 0);
}

int __openat_2(int dirfd, const char *path, int flags)
{
    return do_openat(dirfd, path, flags, 0);
}

int creat(const char *path, mode_t mode)
{
    return do_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
    return do_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

/* stdio writes go through libc's internal write, which this library cannot see. */
FILE *fopen(const char *path, const char *how)
{
    char rel[PATH_MAX];
    if (recording() && strpbrk(how, "wa+") && inside(AT_FDCWD, path, rel))
        die("fopen for writing under LOGBOOK_CRASH_DIR cannot be recorded (use open/write)");
    return R(fopen)(path, how);
}

FILE *fopen64(const char *path, const char *how)
{
    return fopen(path, how);
}

/* ---- writes ---- */

/* The offset a write on fd starts at: the size for O_APPEND, else the file position. */
static off_t cur_off(int fd)
{
    if (flags_of(fd) & FD_APPEND) {
        struct stat st;
        return fstat(fd, &st) == 0 ? st.st_size : 0;
    }
    return lseek(fd, 0, SEEK_CUR);
}

/* rwf: -1 for the calls without flags, else pwritev2's flags (off -1: the file position). */
static ssize_t rec_write(int fd, const struct iovec *iov, int cnt, off_t off, bool positional,
                         int rwf)
{
    pthread_mutex_lock(&mu);
    off_t at = positional ? off : cur_off(fd);
    ssize_t n;
    if (rwf >= 0)
        n = R(pwritev2)(fd, iov, cnt, positional ? off : -1, rwf);
    else if (positional)
        n = cnt == 1 ? R(pwrite)(fd, iov[0].iov_base, iov[0].iov_len, off)
                     : R(pwritev)(fd, iov, cnt, off);
    else
        n = cnt == 1 ? R(write)(fd, iov[0].iov_base, iov[0].iov_len) : R(writev)(fd, iov, cnt);
    if (n > 0) {
        crash_rec_t h = {.type = CRASH_WRITE, .fd = fd, .off = (uint64_t)at, .len = (uint64_t)n};
        if (rwf > 0 && (rwf & (RWF_SYNC | RWF_DSYNC)))
            h.bits = CRASH_B_SYNC;
        emit(&h, NULL, NULL, iov, cnt);
    }
    pthread_mutex_unlock(&mu);
    return n;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (!recorded(fd))
        return R(write)(fd, buf, n);
    struct iovec v = {(void *)buf, n};
    return rec_write(fd, &v, 1, 0, false, -1);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (!recorded(fd))
        return R(pwrite)(fd, buf, n, off);
    struct iovec v = {(void *)buf, n};
    return rec_write(fd, &v, 1, off, true, -1);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (!recorded(fd) || cnt <= 0)
        return R(writev)(fd, iov, cnt);
    return rec_write(fd, iov, cnt, 0, false, -1);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (!recorded(fd) || cnt <= 0)
        return R(pwritev)(fd, iov, cnt, off);
    return rec_write(fd, iov, cnt, off, true, -1);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return pwritev(fd, iov, cnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int fl)
{
    if (!recorded(fd) || cnt <= 0)
        return R(pwritev2)(fd, iov, cnt, off, fl);
    if (fl & RWF_APPEND)
        die("pwritev2 with RWF_APPEND cannot be recorded");
    return rec_write(fd, iov, cnt, off, off != -1, fl);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int fl)
{
    return pwritev2(fd, iov, cnt, off, fl);
}

/* ---- sizes ---- */

int ftruncate(int fd, off_t len)
{
    if (!recorded(fd))
        return R(ftruncate)(fd, len);
    pthread_mutex_lock(&mu);
    int rc = R(ftruncate)(fd, len);
    if (rc == 0) {
        crash_rec_t h = {.type = CRASH_TRUNC, .fd = fd, .off = (uint64_t)len};
        emit(&h, NULL, NULL, NULL, 0);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int ftruncate64(int fd, off_t len)
{
    return ftruncate(fd, len);
}

int truncate(const char *path, off_t len)
{
    char rel[PATH_MAX];
    if (!recording() || !inside(AT_FDCWD, path, rel))
        return R(truncate)(path, len);
    pthread_mutex_lock(&mu);
    int rc = R(truncate)(path, len);
    if (rc == 0) {
        crash_rec_t h = {.type = CRASH_TRUNC, .fd = -1, .off = (uint64_t)len};
        emit(&h, rel, NULL, NULL, 0);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

static int rec_falloc(int fd, int mode, off_t off, off_t len, bool posix)
{
    pthread_mutex_lock(&mu);
    int rc = posix ? R(posix_fallocate)(fd, off, len) : R(fallocate)(fd, mode, off, len);
    if (rc == 0) {
        crash_rec_t h = {.type = CRASH_FALLOC,
                         .fd = fd,
                         .arg = mode,
                         .off = (uint64_t)off,
                         .len = (uint64_t)len};
        emit(&h, NULL, NULL, NULL, 0);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    return recorded(fd) ? rec_falloc(fd, mode, off, len, false) : R(fallocate)(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
    return fallocate(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    return recorded(fd) ? rec_falloc(fd, 0, off, len, true) : R(posix_fallocate)(fd, off, len);
}

int posix_fallocate64(int fd, off_t off, off_t len)
{
    return posix_fallocate(fd, off, len);
}

/* ---- syncs ---- */

static int rec_sync(int fd, int type)
{
    pthread_mutex_lock(&mu);
    int rc = type == CRASH_FSYNC ? R(fsync)(fd) : R(fdatasync)(fd);
    if (rc == 0) {
        crash_rec_t h = {.type = (uint32_t)type, .fd = fd};
        emit(&h, NULL, NULL, NULL, 0);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int fsync(int fd)
{
    return recorded(fd) ? rec_sync(fd, CRASH_FSYNC) : R(fsync)(fd);
}

int fdatasync(int fd)
{
    return recorded(fd) ? rec_sync(fd, CRASH_FDATASYNC) : R(fdatasync)(fd);
}

/* sync() and syncfs(): everything written so far is durable (syncfs of any file system). */
void sync(void)
{
    if (!recording()) {
        R(sync)();
        return;
    }
    pthread_mutex_lock(&mu);
    R(sync)();
    crash_rec_t h = {.type = CRASH_SYNCALL, .fd = -1};
    emit(&h, NULL, NULL, NULL, 0);
    pthread_mutex_unlock(&mu);
}

int syncfs(int fd)
{
    if (!recording())
        return R(syncfs)(fd);
    pthread_mutex_lock(&mu);
    int rc = R(syncfs)(fd);
    crash_rec_t h = {.type = CRASH_SYNCALL, .fd = fd};
    if (rc == 0)
        emit(&h, NULL, NULL, NULL, 0);
    pthread_mutex_unlock(&mu);
    return rc;
}

int sync_file_range(int fd, off_t off, off_t n, unsigned int how)
{
    if (!recorded(fd))
        return R(sync_file_range)(fd, off, n, how);
    pthread_mutex_lock(&mu);
    int rc = R(sync_file_range)(fd, off, n, how);
    crash_rec_t h = {.type = CRASH_SFR, .fd = fd, .off = (uint64_t)off, .len = (uint64_t)n};
    if (rc == 0)
        emit(&h, NULL, NULL, NULL, 0);
    pthread_mutex_unlock(&mu);
    return rc;
}

/* ---- names ---- */

static int rec_rename(int ofd, const char *from, int nfd, const char *to, unsigned int fl, int how)
{
    char a[PATH_MAX], b[PATH_MAX];
    bool ia = recording() && inside(ofd, from, a), ib = recording() && inside(nfd, to, b);
    if (!ia && !ib)
        return how == 0   ? R(rename)(from, to)
               : how == 1 ? R(renameat)(ofd, from, nfd, to)
                          : R(renameat2)(ofd, from, nfd, to, fl);
    if (!ia)
        die("a rename into LOGBOOK_CRASH_DIR from outside cannot be recorded");
    if (fl)
        die("renameat2 flags cannot be recorded");
    pthread_mutex_lock(&mu);
    int rc = how == 0   ? R(rename)(from, to)
             : how == 1 ? R(renameat)(ofd, from, nfd, to)
                        : R(renameat2)(ofd, from, nfd, to, fl);
    if (rc == 0) {
        crash_rec_t h = {.type = CRASH_RENAME};
        emit(&h, a, ib ? b : "", NULL, 0);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int rename(const char *from, const char *to)
{
    return rec_rename(AT_FDCWD, from, AT_FDCWD, to, 0, 0);
}

int renameat(int ofd, const char *from, int nfd, const char *to)
{
    return rec_rename(ofd, from, nfd, to, 0, 1);
}

int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned int fl)
{
    return rec_rename(ofd, from, nfd, to, fl, 2);
}

/* how: 0 unlink, 1 rmdir, 2 unlinkat */
static int rec_unlink(int dirfd, const char *path, int fl, int how)
{
    char rel[PATH_MAX];
    if (!recording() || !inside(dirfd, path, rel))
        return how == 0   ? R(unlink)(path)
               : how == 1 ? R(rmdir)(path)
                          : R(unlinkat)(dirfd, path, fl);
    pthread_mutex_lock(&mu);
    int rc = how == 0 ? R(unlink)(path) : how == 1 ? R(rmdir)(path) : R(unlinkat)(dirfd, path, fl);
    if (rc == 0) {
        bool dir = how == 1 || (how == 2 && (fl & AT_REMOVEDIR));
        crash_rec_t h = {.type = dir ? CRASH_RMDIR : CRASH_UNLINK};
        emit(&h, rel, NULL, NULL, 0);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int unlink(const char *path)
{
    return rec_unlink(AT_FDCWD, path, 0, 0);
}

int rmdir(const char *path)
{
    return rec_unlink(AT_FDCWD, path, 0, 1);
}

int unlinkat(int dirfd, const char *path, int fl)
{
    return rec_unlink(dirfd, path, fl, 2);
}

static int rec_mkdir(int dirfd, const char *path, mode_t mode)
{
    char rel[PATH_MAX];
    if (!recording() || !inside(dirfd, path, rel))
        return R(mkdirat)(dirfd, path, mode);
    pthread_mutex_lock(&mu);
    int rc = R(mkdirat)(dirfd, path, mode);
    if (rc == 0) {
        crash_rec_t h = {.type = CRASH_MKDIR};
        emit(&h, rel, NULL, NULL, 0);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int mkdir(const char *path, mode_t mode)
{
    return rec_mkdir(AT_FDCWD, path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    return rec_mkdir(dirfd, path, mode);
}

/* ---- descriptors ---- */

int close(int fd)
{
    if (recording() && fd == logfd)
        return 0; /* the log outlives a daemon that closes every descriptor */
    if (!recording() || !(flags_of(fd) & FD_REC))
        return R(close)(fd);
    pthread_mutex_lock(&mu);
    bool lock = flags_of(fd) & FD_LOCK;
    set_flags(fd, 0);
    int rc = R(close)(fd);
    if (!lock) {
        crash_rec_t h = {.type = CRASH_CLOSE, .fd = fd};
        emit(&h, NULL, NULL, NULL, 0);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* After newfd became a copy of fd (or a plain close of newfd's old file). */
static void after_dup(int fd, int newfd)
{
    unsigned char was = flags_of(newfd), f = flags_of(fd);
    if ((was & FD_REC) && !(was & FD_LOCK)) {
        crash_rec_t c = {.type = CRASH_CLOSE, .fd = newfd};
        emit(&c, NULL, NULL, NULL, 0);
    }
    set_flags(newfd, f);
    if ((f & FD_REC) && !(f & FD_LOCK)) {
        crash_rec_t h = {.type = CRASH_DUP, .fd = fd, .arg = newfd};
        emit(&h, NULL, NULL, NULL, 0);
    }
}

int dup(int fd)
{
    if (!recording() || !(flags_of(fd) & FD_REC))
        return R(dup)(fd);
    pthread_mutex_lock(&mu);
    int n = R(dup)(fd);
    if (n >= 0)
        after_dup(fd, n);
    pthread_mutex_unlock(&mu);
    return n;
}

static int rec_dup23(int fd, int newfd, int fl, bool three)
{
    if (recording() && newfd == logfd)
        die("the daemon replaced the crash log's descriptor");
    if (!recording() || (!(flags_of(fd) & FD_REC) && !(flags_of(newfd) & FD_REC)))
        return three ? R(dup3)(fd, newfd, fl) : R(dup2)(fd, newfd);
    pthread_mutex_lock(&mu);
    int n = three ? R(dup3)(fd, newfd, fl) : R(dup2)(fd, newfd);
    if (n >= 0 && fd != newfd)
        after_dup(fd, newfd);
    pthread_mutex_unlock(&mu);
    return n;
}

int dup2(int fd, int newfd)
{
    return rec_dup23(fd, newfd, 0, false);
}

int dup3(int fd, int newfd, int fl)
{
    return rec_dup23(fd, newfd, fl, true);
}

/* ---- mappings ---- */

void *mmap(void *addr, size_t len, int prot, int fl, int fd, off_t off)
{
    if (recorded(fd) && (prot & PROT_WRITE) && (fl & MAP_SHARED))
        die("a shared writable mapping of a file under LOGBOOK_CRASH_DIR cannot be recorded "
            "(LMDB's MDB_WRITEMAP?)");
    if (!r_mmap && !recording()) /* early, inside a sanitizer's start: no dlsym yet */
        return (void *)syscall(SYS_mmap, addr, len, prot, fl, fd, off);
    return R(mmap)(addr, len, prot, fl, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int fl, int fd, off_t off)
{
    return mmap(addr, len, prot, fl, fd, off);
}
