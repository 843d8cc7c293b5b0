/*
 * store_test.h - shared by test_store.c and its files in tests/unit/store/:
 * the fixtures and collectors of helpers.c and each file's suite. Each test
 * works in its own folder under /tmp, removed when it ends.
 */
#ifndef STORE_TEST_H
#define STORE_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../store/store.h"
#include "../../lib/cu.h"

/* store_list collector: "id:area:state" joined by spaces. */
typedef struct {
    char out[4096];
    int n;
    int stop_after; /* 0 = never */
    uint64_t last_id;
    char last_area[9], last_state[64];
} list_q_t;

/* Id collectors for house_cases and nid_find. */
typedef struct {
    uint64_t ids[64];
    int n;
    int stop_after;
} ids_q_t;

/* rm -rf path (no symlinks followed). */
void rm_rf(const char *path);
/* A new folder /tmp/lbstore-XXXXXX (the caller frees it with tmpdir_free). */
char *tmpdir_new(void);
/* Removes the folder and its contents, frees the name, sets *d to NULL. */
void tmpdir_free(char **d);
/* store_open with map_size (0: the default); asserts it succeeds. */
store_t *open_store(const char *dir, size_t map_size);
store_case_meta_t meta_of(const char *area, const char *state, const char *house, bool open);
/* Writes case id with data "case:ID:STATE" and summary "sum:ID:STATE". */
int put_case(store_txn_t *txn, uint64_t id, const store_case_meta_t *old,
             const store_case_meta_t *m);
/* put_case in a store_write of its own. */
int write_case(store_t *s, uint64_t id, const store_case_meta_t *old, const store_case_meta_t *m);
/* Reads case id's bytes into buf as a string; LB_ENOTFOUND when absent. */
int read_case(store_t *s, uint64_t id, char *buf, size_t n);
/* Counter name of scope (0 when absent); the number of counters of scope. */
uint64_t count_of(store_t *s, const char *scope, const char *name);
int count_total(store_t *s, const char *scope);
/* Appends " s" (or s when dst is empty) to dst, truncating at cap. */
void append(char *dst, size_t cap, const char *s);
/* store_list collector into a list_q_t, checking each summary. */
int list_cb(uint64_t id, const char *area, const char *state, const void *summary, size_t slen,
            void *ctx);
/* store_list in a read transaction of its own. */
int list_all(store_t *s, const char *prefix, const char *state, const char *after_area,
             const char *after_state, uint64_t after_id, list_q_t *q);
/* Collects ids into an ids_q_t. */
int ids_cb(uint64_t id, void *ctx);

/* Events ev_ctx_t.from..to with bodies "event-SEQ", as a store_write callback. */
typedef struct {
    uint64_t from, to; /* append seqs from..to */
} ev_ctx_t;
int ev_fill(store_txn_t *txn, void *ctx);

/* Timer sets and clears, run in one store_write. */
typedef struct {
    int op; /* 0 set, 1 clear */
    uint64_t id;
    int64_t due;
    uint32_t step;
} timer_op_t;
int run_timers(store_t *s, const timer_op_t *ops, int n);

/* An idempotency record put or prune, as a store_write callback (ctx: idem_op_t). */
typedef struct {
    int op; /* 0 put, 1 prune */
    int client;
    const char *req;
    int64_t at;
    const char *reply;
    size_t max;
    size_t removed;
} idem_op_t;
int idem_fn(store_txn_t *txn, void *ctx);
/* The reply stored for client's req (not older than not_before) as a string into out. */
int idem_get(store_t *s, int client, const char *req, int64_t not_before, char *out, size_t n);

extern const cu_suite_t store_open_suite;
extern const cu_suite_t store_cases_suite;
extern const cu_suite_t store_counters_suite;
extern const cu_suite_t store_events_suite;
extern const cu_suite_t store_idem_suite;
extern const cu_suite_t store_txn_suite;
extern const cu_suite_t store_months_suite;
extern const cu_suite_t store_wal_suite;

#endif
