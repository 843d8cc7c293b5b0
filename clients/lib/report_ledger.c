/*
 * report_ledger.c - the report's agency ledger (PROTOCOL.md 9.19):
 * report.ledger {area?, by: agency}, pledged against delivered per agency
 * with the pledges still open. A daemon without the op answers unknown_op:
 * the report then has no ledger and leaves the section out.
 */
#include <math.h>

#include "report_int.h"

static double num_of(const lb_val_t *m, const char *key)
{
    const lb_val_t *v = lb_map_get(m, key);
    if (!v)
        return 0;
    double d = v->type == LB_FLOAT ? v->f : v->type == LB_INT ? (double)v->i : 0;
    return isfinite(d) && d > 0 ? d : 0;
}

static int64_t count_of(const lb_val_t *m, const char *key)
{
    int64_t v = 0;
    return lb_map_int(m, key, &v) == 0 && v > 0 ? v : 0;
}

static void ledger_row_parse(const lb_val_t *m, lbc_report_ledger_row_t *w)
{
    w->pledged = count_of(m, "pledged");
    w->delivered = count_of(m, "delivered");
    w->open = count_of(m, "open");
    w->pledged_thb = num_of(m, "pledged_thb");
    w->delivered_thb = num_of(m, "delivered_thb");
    w->open_thb = num_of(m, "open_thb");
}

/* Most open pledges first, then most pledged baht, then the agency's text. */
static int ledger_cmp(const void *a, const void *b)
{
    const lbc_report_ledger_row_t *x = a, *y = b;
    if (x->open != y->open)
        return x->open > y->open ? -1 : 1;
    if (x->pledged_thb != y->pledged_thb)
        return x->pledged_thb > y->pledged_thb ? -1 : 1;
    return strcmp(x->key, y->key);
}

int lbc_report_ledger_parse(lbc_report_t *r, const lb_val_t *result)
{
    const lb_val_t *rows = lb_map_get(result, "rows");
    if (!r || !rows || rows->type != LB_ARR)
        return LB_EBADREQ;
    lbc_report_ledger_row_t *v = rows->a.n ? calloc(rows->a.n, sizeof *v) : NULL;
    if (rows->a.n && !v)
        return LB_ENOMEM;
    size_t n = 0;
    for (uint32_t i = 0; i < rows->a.n; i++) {
        const lb_val_t *m = rows->a.items[i];
        const char *key = lb_map_str(m, "key");
        if (!key)
            continue;
        if (!(v[n].key = strdup(key))) {
            for (size_t k = 0; k < n; k++)
                free(v[k].key);
            free(v);
            return LB_ENOMEM;
        }
        ledger_row_parse(m, &v[n++]);
    }
    if (n > 1)
        qsort(v, n, sizeof *v, ledger_cmp);
    for (size_t k = 0; k < r->nledger; k++)
        free(r->ledger[k].key);
    free(r->ledger);
    r->ledger = v;
    r->nledger = n;
    memset(&r->ledger_totals, 0, sizeof r->ledger_totals);
    ledger_row_parse(lb_map_get(result, "totals"), &r->ledger_totals);
    r->has_ledger = true;
    return 0;
}

int lbc_report_fetch_ledger(lbc_t *c, lbc_report_t *r, char *err, size_t errlen)
{
    lb_val_t *args = lb_map(), *reply = NULL;
    int rc = args ? 0 : LB_ENOMEM;
    if (!rc && r->area[0])
        rc = lb_map_set_str(args, "area", r->area);
    if (!rc)
        rc = lb_map_set_str(args, "by", "agency");
    if (!rc)
        rc = lbc_call(c, "report.ledger", args, &reply, err, errlen);
    if (!rc && !lbc_reply_ok(reply)) {
        const char *code, *msg, *field;
        rc = lbc_reply_error(reply, &code, &msg, &field);
        if (strcmp(code, "unknown_op") == 0)
            rc = 0; /* a daemon before the ledger: no section */
        else
            lb_set_err(err, errlen, "report.ledger: %s: %s", code, msg);
    } else if (!rc) {
        rc = lbc_report_ledger_parse(r, lbc_reply_result(reply));
        if (rc == LB_EBADREQ) {
            lb_set_err(err, errlen, "the daemon's report.ledger result has no rows");
            rc = LB_EINTERNAL;
        }
    }
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}
