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
 *   idem        client (32) | request id     -> at (i64) | reply bytes
 *   idem_time   at | client | request id     -> ""   (pruning)
 *   counts      scope | 0 | counter name     -> u64  (report counters)
 *   meta        name                         -> bytes (schema, tips, counters)
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../proto/lb.h"

#define STORE_SCHEMA_VERSION 1

typedef struct store store_t;
typedef struct store_txn store_txn_t;

typedef struct {
    size_t map_size;      /* initial map size in bytes; 0 = 64 MiB */
    size_t map_max;       /* never grow beyond this; 0 = 1 TiB */
    bool read_only;       /* open without write access (tools) */
} store_opts_t;

/*
 * Opens (creating if needed) the environment in folder dir (which must
 * exist). Refuses a store whose schema version is newer than
 * STORE_SCHEMA_VERSION with LB_EVERSION and a message naming both versions.
 * The map size is at least what the file already uses. err gets a message.
 */
int store_open(const char *dir, const store_opts_t *opts, store_t **out, char *err, size_t errlen);
/* Closes; no transaction may be open. Sets *s to NULL; safe on NULL. */
void store_close(store_t **s);

/* ---- transactions ---- */

/*
 * Runs fn inside one write transaction and commits it (one fsync). When fn
 * or the commit meets a full map (LB_EMAPFULL), the transaction is aborted,
 * the map doubled (up to map_max) and fn run again from the start: fn must
 * have no effects outside the transaction until store_write returns. Any
 * other error from fn aborts and is returned. A disk that is really full
 * returns LB_EDISKFULL. Returns 0 when committed.
 * A full map is also retried when fn swallowed the LB_EMAPFULL of a store
 * call (say in an aborted nested transaction) and returned 0. Growing needs
 * every read transaction of this process ended (LB_EINTERNAL otherwise); a
 * map at map_max gives LB_EMAPFULL. Calling store_write from fn is
 * LB_EINTERNAL.
 */
int store_write(store_t *s, int (*fn)(store_txn_t *txn, void *ctx), void *ctx);

/*
 * A nested transaction inside txn (one per request): commit merges into the
 * parent, abort discards everything it did. The parent must not be used
 * while the child is open.
 */
int store_nested_begin(store_txn_t *parent, store_txn_t **child);
int store_nested_commit(store_txn_t **child);
void store_nested_abort(store_txn_t **child);

/* A read-only snapshot of the last commit. */
int store_read_begin(store_t *s, store_txn_t **txn);
void store_read_end(store_txn_t **txn);

/*
 * Doubles the map now (bounded by map_max: LB_EMAPFULL there). No
 * transaction of this process may be open: LB_EINTERNAL inside store_write
 * or while a read transaction is open.
 */
int store_grow(store_t *s);

/* ---- meta ---- */

/* Reads a u64 meta value; *v = 0 and 0 returned when absent. */
int store_meta_get_u64(store_txn_t *txn, const char *name, uint64_t *v);
int store_meta_put_u64(store_txn_t *txn, const char *name, uint64_t v);
/* Blob meta. get: LB_ENOTFOUND when absent; *p valid until the txn ends. */
int store_meta_get(store_txn_t *txn, const char *name, const void **p, size_t *len);
int store_meta_put(store_txn_t *txn, const char *name, const void *p, size_t len);

/* Allocates the next case id (1, 2, ...). */
int store_next_case_id(store_txn_t *txn, uint64_t *id);

/* ---- cases ---- */

/*
 * What the store must know about a case to keep its indexes and counters.
 * The caller computes it from the case before and after a change.
 */
typedef struct {
    char area[9];
    char state[64];
    char house_id[12];
    bool open;            /* not in a terminal state */
    bool visited;         /* has a visit record */
    bool assisted;        /* has an assistance record */
    bool overdue;         /* an escalation fired in the current state */
    bool unacked;         /* newest escalation not acknowledged */
    char outcome[16];     /* "resolved", "closed" or "" when open */
    char level[16];       /* progress level or "" */
    char esc_level[16];   /* level of the newest escalation in state, or "" */
    uint32_t needs_open[LB_NDIM]; /* per dimension, lb_dimensions order */
} store_case_meta_t;

/*
 * Writes a case: case bytes, its list summary bytes, the area/state index,
 * the households map (open case id, removed when !open), house_cases, and
 * the counters of every scope the area belongs to ("" = all, then 2, 4, 6, 8
 * digit prefixes). old is the meta as last written (NULL for a new case).
 * summary NULL (slen 0) keeps the stored summary as it is (an update that
 * changes nothing a list shows writes one page less); a new case needs one.
 * LB_EEXIST (nothing written) when meta is open and the household's open
 * case is another one; LB_ECORRUPT when old does not match the indexes
 * (an index entry missing, a counter that would go below zero).
 */
int store_case_put(store_txn_t *txn, uint64_t id, const store_case_meta_t *old,
                   const store_case_meta_t *meta, const void *data, size_t len,
                   const void *summary, size_t slen);
/* Case bytes, valid until the transaction ends. LB_ENOTFOUND. */
int store_case_get(store_txn_t *txn, uint64_t id, const void **data, size_t *len);
int store_case_summary(store_txn_t *txn, uint64_t id, const void **data, size_t *len);

/* The open case of a household: 0 and *id, or LB_ENOTFOUND. */
int store_household_open_case(store_txn_t *txn, const char *house_id, uint64_t *id);
/*
 * Every case of a household, oldest first; fn returns non-zero to stop, and
 * a negative value is returned as the error.
 */
int store_house_cases(store_txn_t *txn, const char *house_id,
                      int (*fn)(uint64_t id, void *ctx), void *ctx);

/* ---- personal data ---- */

int store_pii_put(store_txn_t *txn, uint64_t id, const void *sealed, size_t len);
int store_pii_get(store_txn_t *txn, uint64_t id, const void **sealed, size_t *len);
int store_nid_add(store_txn_t *txn, const uint8_t hash[32], uint64_t id);
/* Every case id filed under hash, in id order; fn as for store_house_cases. */
int store_nid_find(store_txn_t *txn, const uint8_t hash[32], int (*fn)(uint64_t id, void *ctx),
                   void *ctx);

/* ---- listing ---- */

/*
 * Walks the area/state index in (area, state, id) order over cases whose area
 * starts with area_prefix ("" = all) and, when state is non-NULL, whose state
 * equals it, starting strictly after the position (after_area, after_state,
 * after_id) when after_area is non-NULL. fn gets the case id, its area and
 * state and the summary bytes; it returns 0 to go on, 1 to stop, <0 error.
 */
typedef int (*store_list_fn)(uint64_t id, const char *area, const char *state,
                             const void *summary, size_t slen, void *ctx);
int store_list(store_txn_t *txn, const char *area_prefix, const char *state,
               const char *after_area, const char *after_state, uint64_t after_id,
               store_list_fn fn, void *ctx);
/* The same walk over the overdue cases only (meta.overdue), in the same order. */
int store_list_overdue(store_txn_t *txn, const char *area_prefix, const char *state,
                       const char *after_area, const char *after_state, uint64_t after_id,
                       store_list_fn fn, void *ctx);

/* ---- counters ---- */

/*
 * Counters per scope ("" = everything, else an area prefix of 2/4/6/8 digits):
 *   cases open visited assisted resolved closed overdue unacked
 *   state:NAME  need:DIMENSION  level:LEVEL  esc:LEVEL
 * fn(scope, name, value) for every non-zero counter of scope, in name order;
 * fn returns 0 to go on, >0 to stop (0 returned), <0 an error returned.
 */
/* Counter changes are summed in memory and written when the write transaction commits,
 * so a write transaction does not see its own changes here. */
typedef int (*store_count_fn)(const char *scope, const char *name, uint64_t value, void *ctx);
int store_counts(store_txn_t *txn, const char *scope, store_count_fn fn, void *ctx);
/*
 * The same for every child scope of parent with digits total length
 * (parent "65", digits 4: every district of province 65), in scope order.
 */
int store_counts_children(store_txn_t *txn, const char *parent, int digits, store_count_fn fn,
                          void *ctx);

/* ---- events ---- */

/* The last seq (0 when none) and its chain value (zeros when none). */
int store_event_tip(store_txn_t *txn, uint64_t *seq, uint8_t chain[32]);
/*
 * Appends an event; seq must be tip + 1 (else LB_EINTERNAL). chain is the
 * new chain value, kept as the tip for the next append.
 */
int store_event_append(store_txn_t *txn, uint64_t seq, const void *body, size_t len,
                       const uint8_t chain[32]);
int store_event_get(store_txn_t *txn, uint64_t seq, const void **body, size_t *len);
/* Events with seq > after in order; fn returns 0 go on, 1 stop, <0 error. */
int store_events(store_txn_t *txn, uint64_t after,
                 int (*fn)(uint64_t seq, const void *body, size_t len, void *ctx), void *ctx);
/* Overwrites a stored body (tests of tamper detection only). */
int store_event_overwrite_for_test(store_txn_t *txn, uint64_t seq, const void *body, size_t len);

/* ---- timers ---- */

/* Sets the one pending timer of a case (replacing any previous one). */
int store_timer_set(store_txn_t *txn, uint64_t id, int64_t due, uint32_t step);
/* Removes the pending timer of a case (no error when none). */
int store_timer_clear(store_txn_t *txn, uint64_t id);
/* The earliest timer: 0 with due, id and step, or LB_ENOTFOUND. */
int store_timer_first(store_txn_t *txn, int64_t *due, uint64_t *id, uint32_t *step);

/* ---- idempotency ---- */

/*
 * The stored reply for (client, request id), when stored at or after
 * not_before: 0 with reply valid until the txn ends, or LB_ENOTFOUND.
 */
int store_idem_get(store_txn_t *txn, const uint8_t client[32], const char *req_id,
                   int64_t not_before, const void **reply, size_t *len);
int store_idem_put(store_txn_t *txn, const uint8_t client[32], const char *req_id, int64_t at,
                   const void *reply, size_t len);
/* Removes records stored before `before`, at most max of them; *removed. */
int store_idem_prune(store_txn_t *txn, int64_t before, size_t max, size_t *removed);

/* ---- whole-store ---- */

typedef struct {
    uint64_t cases;
    uint64_t events;
    uint64_t db_bytes;  /* pages in use * page size */
    uint64_t map_bytes; /* current map size */
    uint64_t timers;
    uint64_t idem;
} store_stats_t;
int store_stats(store_t *s, store_stats_t *st);

/*
 * A consistent, compacted copy of the environment into folder path (created
 * when missing, must be empty); *bytes = size of the copy. LB_EEXIST when
 * the folder already holds a data.mdb.
 */
int store_backup(store_t *s, const char *path, uint64_t *bytes);

/* The LMDB data file path, for tools and tests. */
const char *store_path(const store_t *s);

#endif
