/*
 * report_trend.c - report.summary's `months` (PROTOCOL.md section 3): the
 * month counters the store keeps with every case write (store_months),
 * summed over the scopes a row or the totals cover, one entry a month from
 * the oldest to the daemon's current month. Reads counters only, never
 * events or cases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

const char *const lbd_trend_names[LBD_TREND_NNAMES] = {"opened",   "visited", "assisted",
                                                       "resolved", "closed",  "escalated"};

static int month_index(const char *m)
{
    int y = 0, mo = 0;
    if (sscanf(m, "%4d-%2d", &y, &mo) != 2)
        return -1;
    return y * 12 + mo - 1;
}

static void month_name(int idx, char out[8])
{
    unsigned y = (unsigned)(idx / 12) % 10000u, m = (unsigned)(idx % 12) % 12u + 1u;
    snprintf(out, 8, "%04u-%02u", y, m);
}

int lbd_trend_init(lbd_trend_t *t, store_txn_t *txn, int64_t now, int months,
                   const char *const *scopes, size_t nscopes, int digits)
{
    char to[8];
    memset(t, 0, sizeof *t);
    if (months < 1 || months > LBD_TREND_MONTHS_MAX)
        return LB_EBADREQ;
    store_month_of(now, to);
    t->txn = txn;
    t->n = months;
    t->last = month_index(to);
    t->scopes = scopes;
    t->nscopes = nscopes;
    t->digits = digits;
    return 0;
}

typedef struct {
    const lbd_trend_t *t;
    int64_t v[LBD_TREND_MONTHS_MAX][LBD_TREND_NNAMES];
} trend_sum_t;

static int trend_cb(const char *scope, const char *month, const char *name, uint64_t value,
                    void *arg)
{
    trend_sum_t *s = arg;
    (void)scope;
    int i = month_index(month) - (s->t->last - s->t->n + 1);
    if (i < 0 || i >= s->t->n)
        return 0;
    for (int j = 0; j < LBD_TREND_NNAMES; j++)
        if (strcmp(name, lbd_trend_names[j]) == 0)
            s->v[i][j] += (int64_t)value;
    return 0; /* a counter this daemon does not know yet is left out */
}

/* The sums as the wire has them: [{month, opened, ...}], oldest first. */
static lb_val_t *trend_val(const lbd_trend_t *t, const trend_sum_t *s, int *rc)
{
    lb_val_t *arr = lb_arr();
    if (!arr && !*rc)
        *rc = LB_ENOMEM;
    for (int i = 0; !*rc && i < t->n; i++) {
        char m[8];
        lb_val_t *e = lb_map();
        month_name(t->last - t->n + 1 + i, m);
        if (!e) {
            *rc = LB_ENOMEM;
            break;
        }
        lb_put_str(e, "month", m, rc);
        for (int j = 0; j < LBD_TREND_NNAMES; j++)
            lb_put_int(e, lbd_trend_names[j], s->v[i][j], rc);
        if (!*rc && lb_arr_push(arr, e))
            *rc = LB_ENOMEM;
        else if (*rc)
            lb_val_free(&e);
    }
    if (*rc)
        lb_val_free(&arr);
    return arr;
}

static int trend_add(const lbd_trend_t *t, const char *scope, trend_sum_t *s)
{
    char from[8], to[8];
    month_name(t->last - t->n + 1, from);
    month_name(t->last, to);
    return store_months(t->txn, scope, from, to, trend_cb, s);
}

lb_val_t *lbd_trend_totals(const lbd_trend_t *t, int *rc)
{
    trend_sum_t *s = calloc(1, sizeof *s);
    if (!s) {
        *rc = LB_ENOMEM;
        return NULL;
    }
    s->t = t;
    for (size_t i = 0; !*rc && i < t->nscopes; i++)
        *rc = trend_add(t, t->scopes[i], s);
    lb_val_t *v = *rc ? NULL : trend_val(t, s, rc);
    free(s);
    return v;
}

lb_val_t *lbd_trend_row(const lbd_trend_t *t, const char *key, int *rc)
{
    trend_sum_t *s = calloc(1, sizeof *s);
    size_t kl = strlen(key), inside = 0;
    if (!s) {
        *rc = LB_ENOMEM;
        return NULL;
    }
    s->t = t;
    /* A row coarser than the key's scopes holds only their part (PROTOCOL.md 9.9 Reports). */
    for (size_t i = 0; !*rc && i < t->nscopes; i++)
        if (strlen(t->scopes[i]) >= kl && strncmp(t->scopes[i], key, kl) == 0) {
            *rc = trend_add(t, t->scopes[i], s);
            inside++;
        }
    if (!*rc && inside == 0)
        *rc = trend_add(t, key, s);
    lb_val_t *v = *rc ? NULL : trend_val(t, s, rc);
    free(s);
    return v;
}
