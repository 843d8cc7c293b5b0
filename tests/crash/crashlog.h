/*
 * crashlog.h - the record format the crash shim (shim.c) appends and the
 * rebuild model (model.c) reads: one fixed header per event, then the path,
 * the second path and the data bytes it announces. Native byte order: the
 * log is read back on the machine that wrote it.
 */
#ifndef CRASHLOG_H
#define CRASHLOG_H

#include <stdint.h>

#define CRASH_MAGIC 0x4c42434cu /* "LBCL" */

enum crash_type {
    CRASH_OPEN = 1,  /* fd, arg = open flags, bits CRASH_B_CREATED/CRASH_B_DIR, path */
    CRASH_WRITE,     /* fd, off, len bytes of data (the count the call returned) */
    CRASH_TRUNC,     /* fd (or -1 with path), off = new length */
    CRASH_FALLOC,    /* fd, arg = mode, off, len */
    CRASH_FSYNC,     /* fd; appended after the real call returned: a durability point */
    CRASH_FDATASYNC, /* the same, for fdatasync */
    CRASH_SFR,       /* sync_file_range: recorded, not a durability point */
    CRASH_RENAME,    /* path -> path2; a path outside the folder is "" */
    CRASH_UNLINK,    /* path */
    CRASH_MKDIR,     /* path */
    CRASH_RMDIR,     /* path */
    CRASH_CLOSE,     /* fd */
    CRASH_DUP,       /* fd -> arg (the new descriptor) */
    CRASH_SYNCALL,   /* sync() or syncfs(): everything so far is durable */
};

#define CRASH_B_CREATED 1u /* CRASH_OPEN: the call created the file */
#define CRASH_B_DIR 2u     /* CRASH_OPEN: the descriptor is a folder */
#define CRASH_B_SYNC                                                                               \
    4u /* CRASH_OPEN: O_SYNC or O_DSYNC, writes are durable on return;                             \
          CRASH_WRITE: this write was (pwritev2 RWF_SYNC/RWF_DSYNC) */

typedef struct {
    uint32_t magic; /* CRASH_MAGIC */
    uint32_t type;  /* enum crash_type */
    uint64_t seq;   /* global event number, from 0 */
    int64_t fd;
    int64_t arg;
    uint64_t off;
    uint64_t len;   /* data bytes after the paths (CRASH_WRITE), else the length argument */
    uint32_t plen;  /* bytes of path (relative to the folder, no NUL) */
    uint32_t p2len; /* bytes of path2 */
    uint32_t bits;
    uint32_t pad;
} crash_rec_t;

#endif
