/*
 * store/helpers.c - what the store test files share: temporary folders, opening a store, writing
 * and reading cases, counter and list collectors.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_test.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tmpdir_new(void)
{
    char tmpl[] = "/tmp/lbstore-XXXXXX";
    char *d = mkdtemp(tmpl);
    CU_ASSERT_PTR_NOT_NULL(d);
    return d ? strdup(d) : NULL;
}

void tmpdir_free(char **d)
{
    if (*d) {
        rm_rf(*d);
        free(*d);
        *d = NULL;
    }
}

store_t *open_store(const char *dir, size_t map_size)
{
    store_opts_t o = {.map_size = map_size};
    char err[256];
    store_t *s = NULL;
    int rc = store_open(dir, &o, &s, err, sizeof err);
    if (rc)
        fprintf(stderr, "store_open: %s\n", err);
    CU_ASSERT_EQUAL(rc, 0);
    return s;
}

store_case_meta_t meta_of(const char *area, const char *state, const char *house, bool open)
{
    store_case_meta_t m;
    memset(&m, 0, sizeof m);
    snprintf(m.area, sizeof m.area, "%s", area);
    snprintf(m.state, sizeof m.state, "%s", state);
    snprintf(m.house_id, sizeof m.house_id, "%s", house);
    m.open = open;
    return m;
}

/* Writes case id with data "case:ID:STATE" and summary "sum:ID:STATE". */
int put_case(store_txn_t *txn, uint64_t id, const store_case_meta_t *old,
             const store_case_meta_t *m)
{
    char data[128], sum[128];
    snprintf(data, sizeof data, "case:%llu:%s", (unsigned long long)id, m->state);
    snprintf(sum, sizeof sum, "sum:%llu:%s", (unsigned long long)id, m->state);
    return store_case_put(txn, id, old, m, data, strlen(data), sum, strlen(sum));
}

/* One case write, as a store_write callback. */
/* Counter look-ups */
typedef struct {
    const char *name;
    uint64_t value;
    int seen;
    int total;
} count_q_t;

typedef struct {
    uint64_t id;
    const store_case_meta_t *old;
    const store_case_meta_t *meta;
} case_op_t;

static int case_op_fn(store_txn_t *txn, void *ctx)
{
    case_op_t *op = ctx;
    return put_case(txn, op->id, op->old, op->meta);
}

int write_case(store_t *s, uint64_t id, const store_case_meta_t *old, const store_case_meta_t *m)
{
    case_op_t op = {id, old, m};
    return store_write(s, case_op_fn, &op);
}

/* Reads case id's bytes into buf as a string; LB_ENOTFOUND when absent. */
int read_case(store_t *s, uint64_t id, char *buf, size_t n)
{
    store_txn_t *t = NULL;
    const void *p;
    size_t len;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    rc = store_case_get(t, id, &p, &len);
    if (rc == 0)
        snprintf(buf, n, "%.*s", (int)len, (const char *)p);
    store_read_end(&t);
    return rc;
}

static int count_cb(const char *scope, const char *name, uint64_t value, void *ctx)
{
    count_q_t *q = ctx;
    (void)scope;
    q->total++;
    CU_ASSERT(value > 0);
    if (q->name && strcmp(name, q->name) == 0) {
        q->value = value;
        q->seen++;
    }
    return 0;
}

uint64_t count_of(store_t *s, const char *scope, const char *name)
{
    store_txn_t *t = NULL;
    count_q_t q = {name, 0, 0, 0};
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_counts(t, scope, count_cb, &q), 0);
    store_read_end(&t);
    CU_ASSERT(q.seen <= 1);
    return q.value;
}

int count_total(store_t *s, const char *scope)
{
    store_txn_t *t = NULL;
    count_q_t q = {NULL, 0, 0, 0};
    CU_ASSERT_EQUAL(store_read_begin(s, &t), 0);
    CU_ASSERT_EQUAL(store_counts(t, scope, count_cb, &q), 0);
    store_read_end(&t);
    return q.total;
}

/* Appends " s" (or s when dst is empty) to dst, truncating at cap. */
void append(char *dst, size_t cap, const char *s)
{
    size_t used = strlen(dst);
    if (used && used + 1 < cap)
        dst[used++] = ' ';
    size_t n = strlen(s);
    if (n > cap - used - 1)
        n = cap - used - 1;
    memcpy(dst + used, s, n);
    dst[used + n] = '\0';
}

int list_cb(uint64_t id, const char *area, const char *state, const void *summary, size_t slen,
            void *ctx)
{
    list_q_t *q = ctx;
    char expect[128];
    snprintf(expect, sizeof expect, "sum:%llu:%s", (unsigned long long)id, state);
    CU_ASSERT_EQUAL(slen, strlen(expect));
    CU_ASSERT(slen == strlen(expect) && memcmp(summary, expect, slen) == 0);
    size_t used = strlen(q->out);
    snprintf(q->out + used, sizeof q->out - used, "%s%llu:%s:%s", used ? " " : "",
             (unsigned long long)id, area, state);
    q->n++;
    q->last_id = id;
    snprintf(q->last_area, sizeof q->last_area, "%s", area);
    snprintf(q->last_state, sizeof q->last_state, "%s", state);
    return (q->stop_after && q->n >= q->stop_after) ? 1 : 0;
}

int list_all(store_t *s, const char *prefix, const char *state, const char *after_area,
             const char *after_state, uint64_t after_id, list_q_t *q)
{
    store_txn_t *t = NULL;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    rc = store_list(t, prefix, state, after_area, after_state, after_id, list_cb, q);
    store_read_end(&t);
    return rc;
}

int ids_cb(uint64_t id, void *ctx)
{
    ids_q_t *q = ctx;
    if (q->n < 64)
        q->ids[q->n] = id;
    q->n++;
    return (q->stop_after && q->n >= q->stop_after) ? 1 : 0;
}

/* Events, timers and idempotency records, for their tests and the backup test. */

int ev_fill(store_txn_t *txn, void *ctx)
{
    ev_ctx_t *e = ctx;
    for (uint64_t q = e->from; q <= e->to; q++) {
        char body[32];
        uint8_t chain[32];
        memset(chain, (int)q, sizeof chain);
        snprintf(body, sizeof body, "event-%llu", (unsigned long long)q);
        int rc = store_event_append(txn, q, body, strlen(body), chain);
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct {
    const timer_op_t *ops;
    int n;
} timer_ctx_t;

static int timer_fn(store_txn_t *txn, void *ctx)
{
    timer_ctx_t *c = ctx;
    for (int i = 0; i < c->n; i++) {
        const timer_op_t *o = &c->ops[i];
        int rc = o->op == 0 ? store_timer_set(txn, o->id, o->due, o->step)
                            : store_timer_clear(txn, o->id);
        if (rc)
            return rc;
    }
    return 0;
}

int run_timers(store_t *s, const timer_op_t *ops, int n)
{
    timer_ctx_t c = {ops, n};
    return store_write(s, timer_fn, &c);
}

int idem_fn(store_txn_t *txn, void *ctx)
{
    idem_op_t *o = ctx;
    uint8_t client[32];
    memset(client, o->client, sizeof client);
    if (o->op == 0)
        return store_idem_put(txn, client, o->req, o->at, o->reply, strlen(o->reply));
    return store_idem_prune(txn, o->at, o->max, &o->removed);
}

int idem_get(store_t *s, int client, const char *req, int64_t not_before, char *out, size_t n)
{
    store_txn_t *t = NULL;
    uint8_t c[32];
    const void *p;
    size_t len;
    memset(c, client, sizeof c);
    int rc = store_read_begin(s, &t);
    if (rc == 0)
        rc = store_idem_get(t, c, req, not_before, &p, &len);
    if (rc == 0)
        snprintf(out, n, "%.*s", (int)len, (const char *)p);
    store_read_end(&t);
    return rc;
}
