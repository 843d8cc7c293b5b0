/*
 * lb.h - the vocabulary every Logbook module shares: one error space, a
 * growable byte buffer, a small dynamic value tree (the in-memory form of a
 * msgpack document) and crash-safe file replacement. No dependency beyond
 * libc and POSIX, so workflow/ and store/ may include it without pulling in
 * msgpack or ZeroMQ.
 */
#ifndef LB_H
#define LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * Errors. Functions return 0 or one of these negative codes. The first block
 * maps one to one onto the wire error codes of PROTOCOL.md section 2; the
 * second block is internal and maps onto "internal" or "unavailable".
 */
enum {
    LB_OK = 0,
    LB_EBADREQ = -1,     /* bad_request */
    LB_EBADVER = -2,     /* bad_version */
    LB_EUNKNOWNOP = -3,  /* unknown_op */
    LB_ENOTFOUND = -4,   /* not_found */
    LB_ECONFLICT = -5,   /* conflict */
    LB_EINVALID = -6,    /* invalid_transition */
    LB_EGUARD = -7,      /* guard_failed */
    LB_EFORBIDDEN = -8,  /* forbidden */
    LB_ETOOLARGE = -9,   /* too_large */
    LB_EUNAVAIL = -10,   /* unavailable */
    LB_EINTERNAL = -11,  /* internal */
    LB_ERATELIMIT = -12, /* rate_limited: the key sent more than its rate allows */

    LB_ENOMEM = -20,   /* allocation failed (wire: internal) */
    LB_EIO = -21,      /* I/O error, errno-like (wire: unavailable) */
    LB_ECORRUPT = -22, /* stored data fails a check (wire: internal) */
    LB_EVERSION = -23, /* on-disk format newer than this build (wire: internal) */
    LB_ECONFIG = -24,  /* invalid configuration or definition file */
    LB_EEXIST = -25,   /* key already present (wire: conflict) */
    LB_EMAPFULL = -26, /* LMDB map full: grow and retry the transaction */
    LB_EDISKFULL = -27 /* the disk itself is full (wire: unavailable) */
};

/* Human-readable text for an error code. Never NULL; static storage. */
const char *lb_strerror(int err);

/* The wire error code ("bad_request", ...) for an error. Never NULL. */
const char *lb_errcode(int err);

/*
 * Formats a reason into err[0..errlen) like snprintf (truncated to fit,
 * always NUL-terminated). A no-op when err is NULL or errlen is 0, so a
 * function may take an optional (err, errlen) pair and report through it
 * unconditionally.
 */
void lb_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A growable byte buffer. Zero-initialise, or lb_buf_init(). */
typedef struct {
    uint8_t *p;
    size_t len;
    size_t cap;
} lb_buf_t;

void lb_buf_init(lb_buf_t *b);
/* Frees the storage and re-initialises; safe on an initialised empty buffer. */
void lb_buf_free(lb_buf_t *b);
/* Ensures room for n more bytes. LB_ENOMEM on failure (b unchanged). */
int lb_buf_reserve(lb_buf_t *b, size_t n);
/* Appends n bytes. LB_ENOMEM on failure (b unchanged). */
int lb_buf_append(lb_buf_t *b, const void *data, size_t n);

/* ---------------------------------------------------------------------- */
/* Dynamic values                                                          */
/* ---------------------------------------------------------------------- */

typedef enum {
    LB_NIL = 0,
    LB_BOOL,
    LB_INT,   /* any msgpack integer that fits int64_t */
    LB_FLOAT, /* float32 or float64 */
    LB_STR,   /* UTF-8 text; s.p is NUL-terminated (may contain no NUL in valid input) */
    LB_BIN,   /* raw bytes; s.p is also NUL-terminated for convenience */
    LB_ARR,
    LB_MAP, /* string keys only, insertion order kept, keys unique */
    LB_RAW  /* one already-encoded msgpack value, spliced as-is by proto_pack
               (events.since serves stored event bodies byte for byte); s.p/s.n
               hold the bytes; never produced by proto_unpack */
} lb_type_t;

typedef struct lb_val lb_val_t;

struct lb_val {
    lb_type_t type;
    /* LB_STR, LB_BIN, LB_RAW made by the constructors: s.p lies in the node's own allocation (one
     * malloc for both), so it is freed with the node and never on its own. Its bytes may be
     * changed in place; the pointer may not be taken over. */
    bool s_inline;
    /* LB_MAP decoded by proto_unpack: the node, its key and value arrays and its key strings are
     * one allocation. The first change that needs room (lb_map_set of a new key) moves the
     * arrays and keys out to their own allocations; values may be replaced in place. */
    bool m_block;
    /* A scalar (nil, bool, int, float, str, bin) decoded into a block map: the node lives in
     * the map's allocation and goes with it; lb_val_free of it alone frees nothing. Such a node
     * may not be moved out of its map (only copied). */
    bool in_block;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            char *p;
            uint32_t n;
        } s; /* LB_STR, LB_BIN, LB_RAW */
        struct {
            lb_val_t **items;
            uint32_t n, cap;
        } a; /* LB_ARR */
        struct {
            char **keys;
            lb_val_t **vals;
            uint32_t n, cap;
        } m; /* LB_MAP */
    };
};

/* Constructors: return a new value owned by the caller, or NULL on ENOMEM. */
lb_val_t *lb_nil(void);
lb_val_t *lb_bool(bool b);
lb_val_t *lb_int(int64_t i);
lb_val_t *lb_float(double f);
lb_val_t *lb_str(const char *s); /* s NULL: NULL returned */
lb_val_t *lb_strn(const char *s, size_t n);
lb_val_t *lb_bin(const void *p, size_t n);
/* n bytes that are one complete msgpack value (the caller vouches for it). */
lb_val_t *lb_raw(const void *p, size_t n);
lb_val_t *lb_arr(void);
lb_val_t *lb_map(void);

/* Frees v and everything below it, sets *v to NULL. Safe on NULL and *v NULL. */
void lb_val_free(lb_val_t **v);
/* Deep copy, NULL on ENOMEM or when v is NULL. */
lb_val_t *lb_val_dup(const lb_val_t *v);
/* Deep equality (map key order ignored). */
bool lb_val_equal(const lb_val_t *a, const lb_val_t *b);

/*
 * Appends item to array a; ownership of item passes to a on success. On
 * failure (a not an array, item NULL, ENOMEM) item is freed and an error is
 * returned, so builder code may chain without leaking.
 */
int lb_arr_push(lb_val_t *a, lb_val_t *item);

/*
 * Sets key in map m to val (replacing and freeing a previous value). Ownership
 * of val passes to m; on failure val is freed and an error returned.
 */
int lb_map_set(lb_val_t *m, const char *key, lb_val_t *val);
/*
 * Appends key -> val to map m without looking for key first: for builders
 * that set each of their keys once, where lb_map_set's search would make
 * building a map of n keys cost n^2/2 comparisons. The caller guarantees key
 * is not in m (a map with a key twice breaks the LB_MAP contract: it would
 * encode to a document proto_unpack refuses). Ownership and errors as
 * lb_map_set.
 */
int lb_map_put_new(lb_val_t *m, const char *key, lb_val_t *val);
/* Removes key from m (freeing its value). 0, or LB_ENOTFOUND. */
int lb_map_del(lb_val_t *m, const char *key);
/* The value under key, or NULL (also when m is not a map). Borrowed. */
lb_val_t *lb_map_get(const lb_val_t *m, const char *key);
/* The string under key, or NULL when missing or not a string. Borrowed. */
const char *lb_map_str(const lb_val_t *m, const char *key);
/* The integer under key into *out: 0, or LB_ENOTFOUND (missing or not int). */
int lb_map_int(const lb_val_t *m, const char *key, int64_t *out);

/* Convenience setters; same ownership rules as lb_map_set. */
int lb_map_set_str(lb_val_t *m, const char *key, const char *s);
int lb_map_set_int(lb_val_t *m, const char *key, int64_t i);
int lb_map_set_bool(lb_val_t *m, const char *key, bool b);

/*
 * Sticky builders: collect the first error of a run of sets into *rc, so a
 * builder can make many calls and check once. While *rc is non-zero each call
 * does nothing but free v (ownership of v always passes). A constructor that
 * failed hands NULL, which records LB_ENOMEM. Never combine codes with `|=`:
 * OR-ing two negative codes makes a third.
 *
 *     int rc = 0;
 *     lb_put_str(m, "area", area, &rc);
 *     lb_put_int(m, "at", at, &rc);
 *     if (rc) ...
 */
void lb_put(lb_val_t *m, const char *key, lb_val_t *v, int *rc);
void lb_put_str(lb_val_t *m, const char *key, const char *s, int *rc);
void lb_put_int(lb_val_t *m, const char *key, int64_t i, int *rc);
void lb_put_bool(lb_val_t *m, const char *key, bool b, int *rc);
/* The same, appending with lb_map_put_new: only for keys not yet in m. */
void lb_add(lb_val_t *m, const char *key, lb_val_t *v, int *rc);
void lb_add_str(lb_val_t *m, const char *key, const char *s, int *rc);
void lb_add_int(lb_val_t *m, const char *key, int64_t i, int *rc);
void lb_add_bool(lb_val_t *m, const char *key, bool b, int *rc);
/* Appends v to array a, sticky like lb_put. */
void lb_push(lb_val_t *a, lb_val_t *v, int *rc);
/* Records code in *rc unless an earlier error is there already. */
void lb_rc(int *rc, int code);

/*
 * Fault injection for tests: after `after` more successful value
 * allocations in this thread, every value allocation (constructors, string
 * copies, array and map growth) fails until the next call. -1 (the default)
 * turns it off. Not for production use.
 */
void lb_test_fail_allocs(long after);

/*
 * Writes v as JSON (UTF-8 passed through, control characters escaped, BIN as
 * a hex string). indent 0 = one line, >0 = pretty with that many spaces.
 */
int lb_val_to_json(const lb_val_t *v, int indent, lb_buf_t *out);
int lb_val_fprint_json(const lb_val_t *v, int indent, FILE *f);

/* True when s[0..n) is valid UTF-8 without NUL bytes. */
bool lb_utf8_valid(const char *s, size_t n);

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

/*
 * Replaces the file at path with len bytes of data so that after a crash the
 * path holds either the old or the new content in full: writes a temporary
 * file ".NAME.tmp.PID" in path's folder, fsyncs it, renames it over path and
 * fsyncs the folder. The temporary file is created close-on-exec and
 * exclusively (a leftover of a crashed process with the same pid is removed
 * first; a link or a file someone else planted is never written through) and
 * gets exactly mode, whatever the umask: 0600 for secrets, so they are never
 * readable by others, even briefly.
 * Returns 0; LB_EBADREQ (path NULL, empty or ending in '/'; data NULL with
 * len > 0); LB_ENOMEM; LB_EDISKFULL (ENOSPC or EDQUOT); LB_EIO (any other
 * failure). On failure the temporary file is removed, errno is that of the
 * failing call, and err (may be NULL) gets "PATH: STEP FILE: REASON" naming
 * the step; when only the folder's fsync failed, path already holds the new
 * content but a crash may still bring the old one back.
 */
int lb_file_replace(const char *path, const void *data, size_t len, mode_t mode, char *err,
                    size_t errlen);

/* ---------------------------------------------------------------------- */
/* Identifiers (DOMAIN.md)                                                 */
/* ---------------------------------------------------------------------- */

/*
 * The fixed vocabularies of PROTOCOL.md section 4, in their wire order: the
 * one list every module and client uses.
 */
#define LB_NDIM 5
#define LB_NESC_LEVEL 4
#define LB_NPROGRESS 3
/* "health", "living", "education", "income", "accessibility" */
extern const char *const lb_dimensions[LB_NDIM];
/* "team", "subdistrict", "district", "province": the escalation ladder */
extern const char *const lb_esc_levels[LB_NESC_LEVEL];
/* "survive", "sufficient", "sustainable" */
extern const char *const lb_progress_levels[LB_NPROGRESS];

/* 11 ASCII digits. */
bool lb_valid_house_id(const char *s);
/* 2, 4, 6 or 8 ASCII digits (a prefix filter); exact8: only 8 digits. */
bool lb_valid_area(const char *s, bool exact8);
/* 13 digits, first 1-8, mod-11 check digit valid. */
bool lb_valid_nid(const char *s);

/* Case ids are "C" followed by at least 9 digits of a 64-bit counter. */
#define LB_CASE_ID_MAX 24
void lb_case_id_format(uint64_t n, char out[LB_CASE_ID_MAX]);
/* Parses a case id; 0 on success, LB_EBADREQ when malformed. */
int lb_case_id_parse(const char *s, uint64_t *out);

#endif
