/*
 * store.h - Logbook's LMDB store. One environment, named databases for cases,
 * households, events, the area/state index, timers, idempotency records,
 * encrypted personal data, counters and meta. It stores what it is given
 * inside a transaction it is handed and knows nothing of workflows or msgpack.
 *
 * Keys: integers big-endian, so cursors walk them in order.
 *   cases       case id (u64)                -> case bytes
 *   summaries   case id                      -> list summary bytes (case.list)
 *   area_state  area8 | 0 | state | 0 | id   -> ""   (prefix scans)
 *   overdue     the same keys, overdue cases only (case.list overdue=true)
 *   households  house id (11)                -> open case id
 *   house_cases house id | id                -> ""   (every case of a house)
 *   nid         hash (32) | id               -> ""   (keyed national-id hash)
 *   pii         case id                      -> sealed personal data
 *   events      seq (u64)                    -> body bytes as published
 *   timers      due (i64 biased) | id        -> step (u32)
 *   case_timer  id                           -> due (one pending timer a case)
 *   idem        client (32) | request id     -> [0 | at (i64) | digest (32) |] reply
 *                                              (or at | reply: a record without digest)
 *   idem_time   at | client | request id     -> ""   (pruning)
 *   counts      scope | 0 | counter name     -> u64  (report counters)
 *               scope | 0 | m:YYYY-MM:name   -> u64  (month counters, store_months)
 *   meta        name                         -> bytes (schema, tips, counters)
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../proto/lb.h"

#define STORE_SCHEMA_VERSION 1

/*
 * Conventions of every call below.
 *
 * Threads: a store_t is used by one thread at a time (the daemon's loop);
 * calls on it are not synchronised against each other, except read
 * transactions (store_read_begin, store_read_end, reads through them) and
 * the ticket calls, which any thread may use while the owner writes. The
 * store runs two threads of its own (the log's syncer and checkpoints),
 * with every signal blocked. A transaction
 * handle, too, belongs to one thread at a time; read transactions are not
 * tied to the thread that began them (MDB_NOTLS), so one may be handed on.
 * A write transaction exists only inside store_write's fn, on its thread.
 *
 * Memory: a pointer handed out of the store (a get's value, a callback's
 * bytes) points into the LMDB map. In a read transaction it stays valid
 * until the transaction ends; in a write transaction only until the next
 * write through it or the end of the transaction, whichever comes first.
 * It may never be written through. Strings a callback receives (area,
 * state, scope, name) are valid during that call only.
 *
 * Errors: 0 or a negative LB_E* code. Besides the codes a function lists,
 * any call that reads or writes the database can return the storage
 * errors, translated in one place (store_int.h): LB_ECORRUPT (LMDB found a
 * damaged page or file, or a stored entry has an impossible length),
 * LB_ENOMEM, LB_EIO (any other LMDB or system failure); a write can also
 * return LB_EMAPFULL (store_write grows the map and retries) and
 * LB_EDISKFULL (the file system is full). LB_EINTERNAL always means the
 * caller broke the contract: a NULL where an argument is required, a write
 * through a read transaction or through a parent whose nested child is
 * open. Out-parameters are left unspecified on error unless stated.
 */

typedef struct store store_t;
typedef struct store_txn store_txn_t;

typedef struct {
    size_t map_size; /* initial map size in bytes; 0 = 64 MiB */
    size_t map_max;  /* never grow beyond this; 0 = 1 TiB */
    bool read_only;  /* open without write access (tools) */
    /*
     * The write-ahead log (store/wal.c, docs/DURABILITY.md): bytes
     * preallocated for each of its two files (0 = 16 MiB, less on a small
     * file system; a bigger record extends the file), and the checkpoint
     * interval in ms (0 = 200; negative = only when a log file is half full,
     * at open and at close: for tests that need records left in the log).
     */
    size_t wal_size;
    int ckpt_ms;
} store_opts_t;

/*
 * Opens (creating if needed) the environment in folder dir, which must
 * exist; opts may be NULL (defaults). A writable open locks the store
 * against other writers, recovers its write-ahead log after a crash and
 * takes a checkpoint (docs/DURABILITY.md). The map size is at least what the file
 * already uses. *out is owned by the caller until store_close; NULL on error.
 * err (may be NULL) gets a message naming dir on every error.
 * Errors: LB_EINTERNAL (dir or out NULL); LB_ECONFIG (dir too long for a
 * path); LB_ENOTFOUND (read_only and dir holds no logbook store);
 * LB_EVERSION (schema version newer than STORE_SCHEMA_VERSION: the message
 * names both); LB_ECORRUPT (schema version missing, malformed or 0, or not an
 * LMDB file, or the log's checkpoint does not match data.mdb); LB_EIO (dir
 * missing or not accessible, lock file trouble, another process has the
 * store open for writing, or read_only and the store was not shut down
 * cleanly: "the store was not shut down cleanly; start logbookd once on it
 * to recover its write-ahead log"); LB_EDISKFULL; LB_ENOMEM.
 */
int store_open(const char *dir, const store_opts_t *opts, store_t **out, char *err, size_t errlen);
/*
 * Closes and frees. Every transaction must have ended (read transactions
 * with store_read_end; no store_write running). Waits until every commit is
 * durable and takes a final checkpoint (unless the log has failed), so the
 * next open has nothing to recover. Sets *s to NULL; safe on NULL and *s
 * NULL. Pointers obtained from the store become invalid.
 */
void store_close(store_t **s);

/* ---- transactions ---- */

/*
 * Runs fn inside one write transaction, commits it and waits until it is
 * durable (store_write_async, then store_wait_durable: the log's fsync). fn
 * returns 0 to commit; any other value aborts and is returned as it is. The
 * txn handed to fn is valid only until fn returns, on the calling thread.
 * When fn or the commit meets a full map (LB_EMAPFULL), the transaction is
 * aborted, the map doubled (up to map_max) and fn run again from the start:
 * fn must have no effects outside the transaction until store_write returns.
 * A full map is also retried when fn swallowed the LB_EMAPFULL of a store
 * call (say in an aborted nested transaction) and returned 0. Counter changes
 * (store_case_put) are written just before the commit.
 * Returns 0 when committed and durable. Errors: fn's own code; LB_EINTERNAL (s
 * or fn NULL, called from inside fn, fn left a nested transaction open, or the
 * map must grow and a read transaction of this process stays open for over a
 * second: growth waits for open ones to end and holds new ones back); LB_EMAPFULL
 * (the map is at map_max); LB_ECORRUPT (a counter would go below zero: an
 * old meta given to store_case_put was not what was written); LB_EIO (also
 * a store opened read_only, and once the log has failed); LB_EDISKFULL (also
 * no room in the log); LB_ENOMEM. Nothing is committed on any error, except
 * LB_EIO from a failed log write or sync: the transaction may be visible to
 * readers but was never durable and is lost at the next open.
 */
int store_write(store_t *s, int (*fn)(store_txn_t *txn, void *ctx), void *ctx);

/*
 * Durability tickets (the write-ahead log, store/wal.c). Every committed
 * write transaction gets the next ticket, 1, 2, ...; store_durable is the
 * highest ticket whose writes (and every earlier one's) are on disk.
 * store_write returns only when its own ticket is durable; store_write_async
 * returns as soon as the transaction is committed (visible to read
 * transactions begun after it) with *ticket set, and the caller must not
 * tell anyone it happened before store_durable(s) >= *ticket.
 * store_write_async has store_write's errors and its retry on a full map.
 */
int store_write_async(store_t *s, int (*fn)(store_txn_t *txn, void *ctx), void *ctx,
                      uint64_t *ticket);
/* The last committed ticket and the last durable one; any thread may call these. */
uint64_t store_committed(const store_t *s);
uint64_t store_durable(const store_t *s);
/*
 * A descriptor that polls readable when store_durable has advanced (or the
 * log failed): read 8 bytes from it to clear it (an eventfd). -1 when s is
 * NULL or read_only.
 */
int store_durable_fd(const store_t *s);
/*
 * Waits until ticket is durable. 0; LB_EIO when the log cannot be written
 * or synced (the process must stop: what was not durable may be lost, and
 * the store recovers from its log on the next open).
 */
int store_wait_durable(store_t *s, uint64_t ticket);
/* LB_EIO once the log has failed (see store_wait_durable), else 0; any thread. */
int store_log_failed(const store_t *s);

/*
 * A nested transaction inside txn (one per request): commit merges into the
 * parent, abort discards everything it did. The parent must not be used
 * while the child is open, and the child must be committed or aborted
 * before fn returns. *child is owned by the caller until then; NULL on error.
 * begin errors: LB_EINTERNAL (child NULL, parent NULL, a read transaction or
 * already has an open child); LB_ENOMEM; storage errors.
 */
int store_nested_begin(store_txn_t *parent, store_txn_t **child);
/*
 * Commits the child into its parent. Frees it and sets *child to NULL in
 * every case. Errors: LB_EINTERNAL (child NULL, or it had an open child of its
 * own: everything it did is discarded); storage errors from the commit
 * (nothing merged, the child discarded); LB_ENOMEM merging its counter
 * changes after the commit: the parent then holds the child's writes but not
 * all its counter changes, so the caller must fail the whole store_write.
 */
int store_nested_commit(store_txn_t **child);
/* Discards the child and everything it did; sets *child to NULL; safe on NULL and *child NULL. */
void store_nested_abort(store_txn_t **child);

/*
 * A read-only snapshot of the last commit (a reset handle is reused when
 * one is cached). *txn is owned by the caller until store_read_end; NULL on
 * error. While it is open the map cannot grow: a growth waits up to a second
 * for it to end (store_write fails with LB_EINTERNAL if it does not), and
 * store_read_begin waits while a growth is pending. Keep them short.
 * Errors: LB_EINTERNAL (s or txn NULL); LB_ENOMEM; LB_EIO (e.g. LMDB's
 * reader table is full); other storage errors.
 */
int store_read_begin(store_t *s, store_txn_t **txn);
/*
 * Ends a read transaction: every pointer obtained through it becomes
 * invalid. Sets *txn to NULL; safe on NULL and *txn NULL.
 */
void store_read_end(store_txn_t **txn);

/*
 * Doubles the map now (bounded by map_max). Errors: LB_EINTERNAL (s NULL,
 * inside store_write, or a read transaction stays open for over a second);
 * LB_EMAPFULL (already at map_max); LB_EIO.
 */
int store_grow(store_t *s);

/* ---- meta ---- */

/*
 * Reads a u64 meta value: 0 with *v, or 0 and *v = 0 when absent.
 * Errors: LB_EINTERNAL (an argument NULL, name empty); LB_ECORRUPT (the value
 * is not 8 bytes); storage errors.
 */
int store_meta_get_u64(store_txn_t *txn, const char *name, uint64_t *v);
/* Writes a u64 meta value (write txn). Errors: LB_EINTERNAL; storage errors. */
int store_meta_put_u64(store_txn_t *txn, const char *name, uint64_t v);
/*
 * Blob meta. get: 0 with *p and *len (*p valid as the conventions say);
 * LB_ENOTFOUND when absent; LB_EINTERNAL (an argument NULL, name empty);
 * storage errors. put (write txn; the bytes are copied): LB_EINTERNAL (also p
 * NULL with len > 0); storage errors.
 */
int store_meta_get(store_txn_t *txn, const char *name, const void **p, size_t *len);
int store_meta_put(store_txn_t *txn, const char *name, const void *p, size_t len);

/*
 * Allocates the next case id (1, 2, ...) in a write transaction; an aborted
 * transaction gives the id back. Errors: LB_EINTERNAL (id NULL, a read txn,
 * the ids are exhausted); LB_ECORRUPT; storage errors.
 */
int store_next_case_id(store_txn_t *txn, uint64_t *id);

/* ---- cases ---- */

/*
 * Longest counter name, NUL excluded ("ledger:delivered_satang:agency:" and
 * an agency of 256 bytes), and the most extra counters one case adds.
 */
#define STORE_COUNTER_NAME_MAX 295
#define STORE_EXTRA_MAX 78

/* A counter a case adds beyond the fixed ones (the daemon's ledger, PROTOCOL.md 9.19). */
typedef struct {
    char name[STORE_COUNTER_NAME_MAX + 1];
    uint64_t v;
} store_extra_cnt_t;

/*
 * What the store must know about a case to keep its indexes and counters.
 * The caller computes it from the case before and after a change. Every
 * string is NUL-terminated within its field.
 */
typedef struct {
    char area[9];
    char state[64];
    char house_id[12];
    bool open;                    /* not in a terminal state */
    bool visited;                 /* has a visit record */
    bool assisted;                /* has an assistance record */
    bool overdue;                 /* an escalation fired in the current state */
    bool unacked;                 /* newest escalation not acknowledged */
    char outcome[16];             /* "resolved", "closed" or "" when open */
    char level[16];               /* progress level or "" */
    char esc_level[16];           /* level of the newest escalation in state, or "" */
    uint32_t needs_open[LB_NDIM]; /* per dimension, lb_dimensions order */
    /*
     * When this change happens, unix ms (the daemon's clock): the month
     * counters count it in that month in Asia/Bangkok time. 0 = the change
     * is not counted by month. Read from the new meta only.
     */
    int64_t at;
    /* Counters beyond the fixed ones, each named once; zeros are skipped. */
    uint32_t n_extra; /* at most STORE_EXTRA_MAX */
    store_extra_cnt_t extra[STORE_EXTRA_MAX];
} store_case_meta_t;

/*
 * Writes a case (write txn): case bytes, its list summary bytes, the
 * area/state and overdue indexes, the households map (open case id, removed
 * when !open), house_cases, and the counters of every scope the area belongs
 * to ("" = all, then 2, 4, 6, 8 digit prefixes). old is the meta as last
 * written (NULL for a new case). summary NULL (slen 0) keeps the stored
 * summary as it is (an update that changes nothing a list shows writes one
 * page less); a new case needs one. The bytes are copied.
 * Errors: LB_EEXIST (nothing written) when meta is open and the household's
 * open case is another one; LB_ECORRUPT when old does not match the indexes
 * (an index entry missing); LB_EINTERNAL (a read txn, id 0, meta NULL, a meta
 * string not terminated or area/state empty, data or summary NULL with a
 * length, a new case without summary); storage errors. Other errors may
 * leave part of the case written: abort the (nested) transaction. A counter
 * that would go below zero (old wrong) is found when the counters are
 * written: store_write then fails with LB_ECORRUPT.
 */
int store_case_put(store_txn_t *txn, uint64_t id, const store_case_meta_t *old,
                   const store_case_meta_t *meta, const void *data, size_t len, const void *summary,
                   size_t slen);
/*
 * A case's bytes (get) or its list summary bytes (summary): 0 with *data and
 * *len (valid as the conventions say); LB_ENOTFOUND; LB_EINTERNAL (an
 * argument NULL); storage errors.
 */
int store_case_get(store_txn_t *txn, uint64_t id, const void **data, size_t *len);
int store_case_summary(store_txn_t *txn, uint64_t id, const void **data, size_t *len);

/*
 * The open case of a household: 0 and *id; LB_ENOTFOUND when it has none;
 * LB_EBADREQ (house_id empty or over 11 bytes); LB_EINTERNAL (an argument
 * NULL); LB_ECORRUPT; storage errors.
 */
int store_household_open_case(store_txn_t *txn, const char *house_id, uint64_t *id);
/*
 * Every case of a household, oldest first; fn returns 0 to go on, > 0 to
 * stop (0 returned), < 0 an error returned as it is. fn must not write
 * through txn. 0 also when the household has no case. Errors: LB_EBADREQ
 * (house_id empty or over 11 bytes); LB_EINTERNAL; fn's; storage errors.
 */
int store_house_cases(store_txn_t *txn, const char *house_id, int (*fn)(uint64_t id, void *ctx),
                      void *ctx);

/* ---- personal data ---- */

/*
 * The sealed personal data of a case: put (write txn, bytes copied,
 * replacing any earlier) and get (0 with *sealed valid as the conventions
 * say; LB_ENOTFOUND). Errors of both: LB_EINTERNAL (an argument NULL, a read
 * txn for put, sealed NULL with len > 0); storage errors.
 */
int store_pii_put(store_txn_t *txn, uint64_t id, const void *sealed, size_t len);
int store_pii_get(store_txn_t *txn, uint64_t id, const void **sealed, size_t *len);
/* Files case id under a national-id hash (write txn; idempotent). Errors: LB_EINTERNAL; storage. */
int store_nid_add(store_txn_t *txn, const uint8_t hash[32], uint64_t id);
/*
 * Every case id filed under hash, in id order; fn and its returns as for
 * store_house_cases. Errors: LB_EINTERNAL (an argument NULL); fn's; storage.
 */
int store_nid_find(store_txn_t *txn, const uint8_t hash[32], int (*fn)(uint64_t id, void *ctx),
                   void *ctx);

/* ---- listing ---- */

/*
 * Walks the area/state index in (area, state, id) order over cases whose area
 * starts with area_prefix (NULL or "" = all) and, when state is non-NULL,
 * whose state equals it, starting strictly after the position (after_area,
 * after_state, after_id) when after_area is non-NULL (after_state NULL =
 * ""). fn gets the case id, its area and state (valid during the call) and
 * the summary bytes (valid as the conventions say); it returns 0 to go on, >
 * 0 to stop (0 returned), < 0 an error returned as it is. fn must not write
 * through txn.
 * Errors: LB_EBADREQ (area_prefix or after_area over 8 bytes, state empty or
 * over 63 bytes, after_state over 63 bytes); LB_EINTERNAL (txn or fn NULL);
 * LB_ECORRUPT (a malformed index key, an indexed case without summary); fn's;
 * storage errors.
 */
typedef int (*store_list_fn)(uint64_t id, const char *area, const char *state, const void *summary,
                             size_t slen, void *ctx);
int store_list(store_txn_t *txn, const char *area_prefix, const char *state, const char *after_area,
               const char *after_state, uint64_t after_id, store_list_fn fn, void *ctx);
/* The same walk over the overdue cases only (meta.overdue), in the same order, same errors. */
int store_list_overdue(store_txn_t *txn, const char *area_prefix, const char *state,
                       const char *after_area, const char *after_state, uint64_t after_id,
                       store_list_fn fn, void *ctx);

/* ---- counters ---- */

/*
 * Counters per scope ("" = everything, else an area prefix of 2/4/6/8 digits):
 *   cases open visited assisted resolved closed overdue unacked
 *   state:NAME  need:DIMENSION  level:LEVEL  esc:LEVEL
 * fn(scope, name, value) for every non-zero counter of scope (NULL = ""), in
 * name order; scope and name are valid during the call; fn returns 0 to go
 * on, > 0 to stop (0 returned), < 0 an error returned as it is.
 * Counter changes are summed in memory and written when the write
 * transaction commits, so a write transaction does not see its own changes
 * here.
 * Errors: LB_EBADREQ (scope over 8 bytes); LB_EINTERNAL (txn or fn NULL);
 * LB_ECORRUPT (a malformed counter entry); fn's; storage errors.
 */
typedef int (*store_count_fn)(const char *scope, const char *name, uint64_t value, void *ctx);
int store_counts(store_txn_t *txn, const char *scope, store_count_fn fn, void *ctx);
/*
 * The same for every child scope of parent (NULL = "") with digits total
 * length (parent "65", digits 4: every district of province 65), in scope
 * order. Errors as store_counts, and LB_EBADREQ when digits is not greater
 * than parent's length or over 8.
 */
int store_counts_children(store_txn_t *txn, const char *parent, int digits, store_count_fn fn,
                          void *ctx);

/*
 * Month counters: what happened in a month, per scope (the same scopes as
 * above), kept by store_case_put in the same transaction from old and meta
 * at meta->at (a change with at 0 is not counted):
 *   opened     a new case (old NULL)
 *   visited    the first visit record (visited false -> true)
 *   assisted   the first assistance record
 *   resolved   outcome becomes "resolved"; closed: outcome becomes "closed"
 *   escalated  an escalation fired (esc_level set, and new in level or state)
 * They only ever grow: an undone visit or a case that moves to another area
 * leaves the months as they were, so a scope's months add up to its
 * counters (cases, visited, ...) while cases neither move nor go back.
 * store_counts and admin.verify's sums leave them out; they cannot be
 * recomputed from the cases.
 *
 * fn(scope, month, name, value) for every non-zero month counter of scope
 * (NULL = "") whose month lies in [from, to] ("YYYY-MM", inclusive), in
 * (month, name) order; strings are valid during the call; fn returns as
 * for store_counts. Errors: LB_EBADREQ (scope over 8 bytes, from or to not
 * YYYY-MM); LB_EINTERNAL (txn or fn NULL); LB_ECORRUPT (a malformed
 * entry); fn's; storage errors.
 */
typedef int (*store_month_fn)(const char *scope, const char *month, const char *name,
                              uint64_t value, void *ctx);
int store_months(store_txn_t *txn, const char *scope, const char *from, const char *to,
                 store_month_fn fn, void *ctx);
/*
 * The month ("YYYY-MM" and its NUL) of unix ms at in Asia/Bangkok time
 * (UTC+7, no daylight saving): the bucket store_case_put counts a change
 * at `at` in. Pure; never fails (years outside 0..9999 are clamped).
 */
void store_month_of(int64_t at, char out[8]);

/* ---- verification (admin.verify) ---- */

/*
 * Every case with id > after, in id order: fn(id, bytes, len, ctx), the
 * bytes valid as the conventions say. fn returns 0 to go on, > 0 to stop (0
 * returned), < 0 an error returned as it is; it must not write through txn.
 * A full scan: for verification and tools, not for requests. With it a
 * caller checks cases against events (each seq of a case's history is an
 * event of that case; last_seq is the newest) through store_event_get.
 * Errors: LB_EINTERNAL (txn or fn NULL); LB_ECORRUPT (a case key not 8
 * bytes); fn's; storage errors.
 */
int store_cases_each(store_txn_t *txn, uint64_t after,
                     int (*fn)(uint64_t id, const void *data, size_t len, void *ctx), void *ctx);

/*
 * The meta of a stored case, as the caller would give it to store_case_put:
 * fills *meta (zeroed before the call) from the case's bytes. 0, or a
 * negative code that ends the verification and is returned as it is (say
 * LB_ECORRUPT for bytes that do not decode). Never > 0: the sums need
 * every case.
 */
typedef int (*store_meta_fn)(uint64_t id, const void *data, size_t len, store_case_meta_t *meta,
                             void *ctx);

/* The first counter whose stored value is not what the cases make. */
typedef struct {
    char scope[9];                         /* "" = everything, else an area prefix */
    char name[STORE_COUNTER_NAME_MAX + 1]; /* as store_counts names it: "open", ... */
    uint64_t stored;                       /* what the counts database holds (0 = absent) */
    uint64_t computed;                     /* what the cases make */
} store_count_diff_t;

/*
 * Recomputes the report counters from the cases and compares them with the
 * stored ones, for every scope of at most digits characters (0 = only "",
 * 2 = also provinces, ..., 8 = every scope). Each case's meta comes from fn;
 * its counters are what store_case_put would add for it, summed in memory
 * (memory grows with the number of distinct scope/counter pairs: a smaller
 * digits bounds it). Returns 0 when every counter agrees; 1 when one differs,
 * with *diff naming the first in (scope, name) byte order; else an error,
 * *diff zeroed: LB_EBADREQ (digits outside 0..8); LB_EINTERNAL (txn, fn or
 * diff NULL, fn returned > 0 or a meta that store_case_put would refuse);
 * LB_ECORRUPT (a malformed counter entry); LB_ENOMEM; fn's; storage errors.
 * A full scan of cases and counters, in txn's view: use a read transaction.
 */
int store_counts_verify(store_txn_t *txn, int digits, store_meta_fn fn, void *ctx,
                        store_count_diff_t *diff);

/* ---- events ---- */

/*
 * The last seq (0 when none) and its chain value (zeros when none).
 * Errors: LB_EINTERNAL (an argument NULL); LB_ECORRUPT; storage errors.
 */
int store_event_tip(store_txn_t *txn, uint64_t *seq, uint8_t chain[32]);
/*
 * Appends an event (write txn; bytes copied); chain is the new chain value,
 * kept as the tip for the next append. Errors: LB_EINTERNAL (seq is not tip
 * + 1, body NULL with len > 0, chain NULL, a read txn); LB_ECORRUPT; storage
 * errors.
 */
int store_event_append(store_txn_t *txn, uint64_t seq, const void *body, size_t len,
                       const uint8_t chain[32]);
/*
 * An event's body as published: 0 with *body valid as the conventions say;
 * LB_ENOTFOUND; LB_EINTERNAL (an argument NULL); storage errors.
 */
int store_event_get(store_txn_t *txn, uint64_t seq, const void **body, size_t *len);
/*
 * Events with seq > after in order; body valid as the conventions say; fn
 * returns 0 go on, > 0 stop (0 returned), < 0 an error returned as it is; fn
 * must not write through txn. Errors: LB_EINTERNAL (txn or fn NULL);
 * LB_ECORRUPT; fn's; storage errors.
 */
int store_events(store_txn_t *txn, uint64_t after,
                 int (*fn)(uint64_t seq, const void *body, size_t len, void *ctx), void *ctx);
/*
 * Overwrites a stored body (tests of tamper detection only; write txn).
 * Errors: LB_ENOTFOUND (no such event); LB_EINTERNAL; storage errors.
 */
int store_event_overwrite_for_test(store_txn_t *txn, uint64_t seq, const void *body, size_t len);

/* ---- timers ---- */

/*
 * Sets the one pending timer of a case, replacing any previous one (write
 * txn). Errors: LB_EINTERNAL; LB_ECORRUPT (the timer indexes disagree);
 * storage errors.
 */
int store_timer_set(store_txn_t *txn, uint64_t id, int64_t due, uint32_t step);
/* Removes the pending timer of a case (write txn; 0 when none). Errors as store_timer_set. */
int store_timer_clear(store_txn_t *txn, uint64_t id);
/*
 * The earliest timer, by (due, case id): 0 with due, id and step;
 * LB_ENOTFOUND when none; LB_EINTERNAL (an argument NULL); LB_ECORRUPT;
 * storage errors.
 */
int store_timer_first(store_txn_t *txn, int64_t *due, uint64_t *id, uint32_t *step);

/* ---- idempotency ---- */

/*
 * One idempotency record: a request's reply, when it was stored and, for
 * records written by store_idem_put_digest, a digest of the request (the
 * daemon's BLAKE2b-256 of op and canonical args; the store only keeps it).
 * Records written without one (store_idem_put, or by a store before
 * digests existed) have has_digest false: the request they answered is
 * unknown, so a caller should accept a retry as the same request.
 */
typedef struct {
    int64_t at;         /* when it was stored */
    bool has_digest;    /* false: no digest kept (old record) */
    uint8_t digest[32]; /* valid when has_digest */
    const void *reply;  /* the reply bytes, valid as the conventions say */
    size_t len;
} store_idem_rec_t;

/*
 * The record for (client, request id) when stored at or after not_before:
 * 0 with *rec filled (rec->reply valid as the conventions say); LB_ENOTFOUND
 * (none, or older); LB_EBADREQ (req_id empty or over 255 bytes);
 * LB_EINTERNAL (an argument NULL); LB_ECORRUPT (a record too short for its
 * format); storage errors. *rec is zeroed on every error.
 */
int store_idem_find(store_txn_t *txn, const uint8_t client[32], const char *req_id,
                    int64_t not_before, store_idem_rec_t *rec);
/*
 * store_idem_find's reply only: 0 with *reply and *len. Same errors. Kept
 * for callers that do not check digests.
 */
int store_idem_get(store_txn_t *txn, const uint8_t client[32], const char *req_id,
                   int64_t not_before, const void **reply, size_t *len);
/*
 * Stores (or replaces) the record for (client, request id) at time at with
 * the request's digest (32 bytes; NULL = none, read back with has_digest
 * false) and reply (write txn; bytes copied). A replaced record moves to its
 * new time in the pruning order. Errors: LB_EBADREQ (req_id empty or over 255
 * bytes); LB_EINTERNAL (client, req_id NULL, reply NULL with len > 0, a read
 * txn); LB_ECORRUPT (the record replaced was malformed); storage errors.
 */
int store_idem_put_digest(store_txn_t *txn, const uint8_t client[32], const char *req_id,
                          int64_t at, const uint8_t digest[32], const void *reply, size_t len);
/* store_idem_put_digest without digest. Same errors. */
int store_idem_put(store_txn_t *txn, const uint8_t client[32], const char *req_id, int64_t at,
                   const void *reply, size_t len);
/*
 * The number of idempotency records in txn's view (a write txn sees its
 * own puts and prunes) into *n, in O(1): LMDB keeps the count, so it never
 * drifts from the records and needs no upgrade for old stores.
 * Errors: LB_EINTERNAL (an argument NULL); storage errors.
 */
int store_idem_count(store_txn_t *txn, uint64_t *n);
/*
 * The time of the oldest record (the first of the pruning index) into *at,
 * in O(log n): lets a caller decide in a read transaction whether a prune
 * is due. LB_ENOTFOUND when there is none; LB_EINTERNAL (an argument NULL);
 * LB_ECORRUPT (a malformed index key); storage errors.
 */
int store_idem_oldest(store_txn_t *txn, int64_t *at);
/*
 * Removes records stored before `before`, oldest first, at most max of them
 * (write txn); *removed = how many (0 on error). Walks the pruning index by
 * time, so a call costs O(max log n) whatever the number of records: meant
 * to be called with a small max every loop turn (or whenever
 * store_idem_oldest says a record is due), so that every record older than
 * the cutoff goes continuously. *removed < max means none older is left.
 * Errors: LB_EINTERNAL (removed NULL, a read txn); LB_ECORRUPT; storage
 * errors.
 */
int store_idem_prune(store_txn_t *txn, int64_t before, size_t max, size_t *removed);

/* ---- whole-store ---- */

typedef struct {
    uint64_t cases;
    uint64_t events;
    uint64_t db_bytes;  /* pages in use * page size */
    uint64_t map_bytes; /* current map size */
    uint64_t timers;
    uint64_t idem;
    /* the durability path since open (store/wal.c) */
    uint64_t committed;   /* store_committed */
    uint64_t durable;     /* store_durable */
    uint64_t log_syncs;   /* fsyncs of the write-ahead log */
    uint64_t log_bytes;   /* bytes appended to the write-ahead log */
    uint64_t data_syncs;  /* fsyncs of data.mdb (checkpoints) */
    uint64_t checkpoints; /* checkpoints completed */
    uint64_t replayed;    /* log records replayed by store_open (crash recovery) */
} store_stats_t;
/*
 * Sizes of the last commit, in a read transaction of its own (so not inside
 * store_write's view). Errors: LB_EINTERNAL (an argument NULL); the errors of
 * store_read_begin; storage errors. *st is zeroed first.
 */
int store_stats(store_t *s, store_stats_t *st);

/*
 * A consistent, compacted copy of the last commit into folder path (created
 * 0700 when missing); *bytes = size of the copy (0 on error). Writes may go
 * on meanwhile. Errors: LB_EEXIST (the folder already holds a data.mdb);
 * LB_EBADREQ (path too long); LB_EINTERNAL (an argument NULL, path empty);
 * LB_EIO (the folder cannot be created, e.g. its parent is missing);
 * LB_EDISKFULL; storage errors.
 */
int store_backup(store_t *s, const char *path, uint64_t *bytes);

/* The LMDB data file path, for tools and tests: valid until store_close; NULL when s is NULL. */
const char *store_path(const store_t *s);

#endif
