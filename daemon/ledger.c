/*
 * ledger.c - the agency ledger (PROTOCOL.md 9.19): the counters a case's
 * pledges and deliveries add to the store's counter scheme, and
 * report.ledger, which reads them back per agency or dimension without
 * reading a case.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* A case's ledger rows: at most LEDGER_AGENCIES agencies (the rest as "(other)"), the dimensions.
 */
#define LEDGER_AGENCIES 8
#define LEDGER_ROWS (LEDGER_AGENCIES + LB_NDIM)
#define LEDGER_OTHER "(other)"

enum { M_PLEDGED, M_PLEDGED_S, M_DELIVERED, M_DELIVERED_S, M_OPEN, M_OPEN_S, M_N };
/* Counter names: "ledger:" metric ":" by ":" key; amounts in satang (1/100 baht). */
static const char *const metrics[M_N] = {"pledged",          "pledged_satang", "delivered",
                                         "delivered_satang", "open",           "open_satang"};

_Static_assert(LEDGER_ROWS *M_N <= STORE_EXTRA_MAX, "the ledger needs more extra counters");

typedef struct {
    const char *agency; /* borrowed from the case; NULL for a dimension row */
    int dim;            /* lb_dimensions index, or -1 */
    int64_t v[M_N];
} lrow_t;

static int64_t satang(const lb_val_t *rec)
{
    const lb_val_t *a = lb_map_get(rec, "amount_thb");
    if (a && a->type == LB_INT)
        return a->i > INT64_MAX / 100 ? INT64_MAX : a->i * 100;
    if (a && a->type == LB_FLOAT && isfinite(a->f) && a->f >= 0 && a->f < 9e16)
        return (int64_t)llround(a->f * 100);
    return 0;
}

static lrow_t *agency_row(lrow_t *rows, const char *agency)
{
    for (int i = 0; i < LEDGER_AGENCIES; i++) {
        if (!rows[i].agency) {
            rows[i].agency = i == LEDGER_AGENCIES - 1 ? LEDGER_OTHER : agency;
            return &rows[i];
        }
        if (strcmp(rows[i].agency, agency) == 0 || i == LEDGER_AGENCIES - 1)
            return &rows[i];
    }
    return NULL; /* not reached */
}

static void add(lrow_t *r, int m, int64_t n, int64_t s)
{
    r->v[m] += n;
    r->v[m + 1] += s;
}

static void put_extra(store_case_meta_t *m, const char *metric, const char *by, const char *key,
                      int64_t v)
{
    if (v <= 0 || m->n_extra >= STORE_EXTRA_MAX)
        return;
    store_extra_cnt_t *e = &m->extra[m->n_extra++];
    snprintf(e->name, sizeof e->name, "ledger:%s:%s:%s", metric, by, key);
    e->v = (uint64_t)v;
}

void lbd_ledger_meta(const wf_case_t *c, store_case_meta_t *m)
{
    /* A case merged into another (9.18) keeps copies of records that now count in that one. */
    if (c->merged_into[0]) {
        m->n_extra = 0;
        return;
    }
    lrow_t rows[LEDGER_ROWS];
    memset(rows, 0, sizeof rows);
    for (int d = 0; d < LB_NDIM; d++)
        rows[LEDGER_AGENCIES + d].dim = d;
    for (uint32_t i = 0; c->assistance && i < c->assistance->a.n; i++) {
        const lb_val_t *r = c->assistance->a.items[i];
        const char *status = lb_map_str(r, "status"), *agency = lb_map_str(r, "agency");
        int d = wf_dimension_index(lb_map_str(r, "dimension"));
        if (!status || !agency || d < 0)
            continue;
        lrow_t *ra = agency_row(rows, agency), *rd = &rows[LEDGER_AGENCIES + d];
        int64_t s = satang(r), id = 0;
        int metric = strcmp(status, "pledged") == 0 ? M_PLEDGED : M_DELIVERED;
        add(ra, metric, 1, s);
        add(rd, metric, 1, s);
        /* An open pledge is one of an open case that no delivery names yet. */
        if (metric == M_PLEDGED && m->open && lb_map_int(r, "id", &id) == 0 &&
            !wf_case_pledge_delivered(c, (uint64_t)id)) {
            add(ra, M_OPEN, 1, s);
            add(rd, M_OPEN, 1, s);
        }
    }
    m->n_extra = 0;
    for (int i = 0; i < LEDGER_ROWS; i++) {
        const lrow_t *r = &rows[i];
        if (i < LEDGER_AGENCIES && !r->agency)
            continue;
        for (int k = 0; k < M_N; k++)
            put_extra(m, metrics[k], r->agency ? "agency" : "dimension",
                      r->agency ? r->agency : lb_dimensions[r->dim], r->v[k]);
    }
}

/* ---------------------------------------------------------------------- */
/* report.ledger                                                           */
/* ---------------------------------------------------------------------- */

typedef struct {
    const char *by;
    lb_val_t *rows; /* map key -> [M_N] ints, in first-seen order */
    int64_t tot[M_N];
    int rc;
} lreport_t;

static int ledger_cb(const char *scope, const char *name, uint64_t value, void *arg)
{
    lreport_t *r = arg;
    (void)scope;
    if (strncmp(name, "ledger:", 7) != 0)
        return 0;
    const char *p = name + 7, *colon = strchr(p, ':');
    if (!colon)
        return 0;
    int k = 0;
    while (k < M_N && !(strlen(metrics[k]) == (size_t)(colon - p) &&
                        strncmp(metrics[k], p, (size_t)(colon - p)) == 0))
        k++;
    size_t bl = strlen(r->by);
    if (k == M_N || strncmp(colon + 1, r->by, bl) != 0 || colon[1 + bl] != ':')
        return 0;
    const char *key = colon + 2 + bl;
    lb_val_t *row = lb_map_get(r->rows, key);
    if (!row) {
        row = lb_arr();
        for (int i = 0; row && i < M_N && r->rc == 0; i++)
            lb_push(row, lb_int(0), &r->rc);
        lb_put(r->rows, key, row, &r->rc);
        if (r->rc || !row)
            return 1;
    }
    row->a.items[k]->i += (int64_t)value;
    r->tot[k] += (int64_t)value;
    return 0;
}

/* {key?, pledged, pledged_thb, delivered, delivered_thb, open, open_thb} */
static lb_val_t *ledger_row(const char *key, const int64_t v[M_N])
{
    int rc = 0;
    lb_val_t *m = lb_map();
    if (!m)
        return NULL;
    if (key)
        lb_put_str(m, "key", key, &rc);
    for (int k = 0; k < M_N; k += 2) {
        char thb[32];
        snprintf(thb, sizeof thb, "%s_thb", metrics[k]);
        lb_put_int(m, metrics[k], v[k], &rc);
        lb_put(m, thb, lb_float((double)v[k + 1] / 100.0), &rc);
    }
    if (rc)
        lb_val_free(&m);
    return m;
}

static int ledger_result(lbd_ctx_t *ctx, lreport_t *r)
{
    int rc = lbd_result_map(ctx);
    lb_val_t *rows = rc ? NULL : lb_arr();
    for (uint32_t i = 0; rows && rc == 0 && i < r->rows->m.n; i++) {
        int64_t v[M_N];
        for (int k = 0; k < M_N; k++)
            v[k] = r->rows->m.vals[i]->a.items[k]->i;
        lb_push(rows, ledger_row(r->rows->m.keys[i], v), &rc);
    }
    if (rc == 0 && !rows)
        rc = LB_ENOMEM;
    lb_put_str(ctx->result, "by", r->by, &rc);
    lb_put(ctx->result, "rows", rows, &rc);
    lb_put(ctx->result, "totals", rc ? NULL : ledger_row(NULL, r->tot), &rc);
    return rc;
}

int lbd_op_report_ledger(lbd_ctx_t *ctx)
{
    const char *area = lb_map_str(ctx->req->args, "area");
    if (area && !lbd_client_covers(ctx->client, area))
        return lbd_fail(ctx, LB_EFORBIDDEN, "area", "area %s is outside your areas", area);
    lreport_t r = {.by = lb_map_str(ctx->req->args, "by"), .rows = lb_map()};
    int rc = r.rows ? 0 : LB_ENOMEM;
    const char *prefixes[64];
    size_t np = lbd_scope_prefixes(ctx->client, area, prefixes, 64);
    for (size_t i = 0; rc == 0 && i < np; i++) {
        rc = store_counts(ctx->txn, prefixes[i], ledger_cb, &r);
        if (rc == 0)
            rc = r.rc;
    }
    if (rc == 0)
        rc = ledger_result(ctx, &r);
    lb_val_free(&r.rows);
    return rc;
}
