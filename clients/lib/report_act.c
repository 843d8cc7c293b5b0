/*
 * report_act.c - the report's cases to act on: case.list {overdue: true}
 * and {unacked: true} paged through, each case kept once, oldest first,
 * and added to the JSON result as act_on. A province may have thousands:
 * at most LBC_REPORT_ACT_MAX are fetched, and the rest only counted as
 * "more" when the daemon's cursor says so.
 */
#include "report_int.h"

#define ACT_PAGE 1000 /* case.list's largest page */

static int act_push(lbc_report_t *r, size_t *cap, const lb_val_t *s)
{
    if (r->nact == *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        lbc_report_case_t *v = realloc(r->act, n * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        r->act = v;
        *cap = n;
    }
    lbc_report_case_t *c = &r->act[r->nact++];
    const char *id = lb_map_str(s, "case_id"), *area = lb_map_str(s, "area"),
               *state = lb_map_str(s, "state"), *team = lb_map_str(s, "team"),
               *esc = lb_map_str(s, "escalation");
    const lb_val_t *od = lb_map_get(s, "overdue"), *ua = lb_map_get(s, "unacked");
    memset(c, 0, sizeof *c);
    snprintf(c->case_id, sizeof c->case_id, "%s", id ? id : "");
    snprintf(c->area, sizeof c->area, "%s", area ? area : "");
    snprintf(c->state, sizeof c->state, "%s", state ? state : "");
    snprintf(c->team, sizeof c->team, "%s", team ? team : "");
    snprintf(c->escalation, sizeof c->escalation, "%s", esc ? esc : "");
    lb_map_int(s, "entered_at", &c->entered_at);
    c->overdue = od && od->type == LB_BOOL && od->b;
    c->unacked = ua && ua->type == LB_BOOL && ua->b;
    return 0;
}

/* One filter (overdue or unacked), page by page; *more when the cap cut it short. */
static int act_walk(lbc_t *c, lbc_report_t *r, const char *flag, size_t *cap, bool *more, char *err,
                    size_t errlen)
{
    char *cursor = NULL;
    int rc = 0;
    for (;;) {
        lb_val_t *args = lb_map(), *reply = NULL;
        int e = args ? 0 : LB_ENOMEM;
        if (r->area[0])
            lb_put_str(args, "area", r->area, &e);
        lb_put_bool(args, flag, true, &e);
        lb_put_int(args, "limit", ACT_PAGE, &e);
        if (cursor)
            lb_put_str(args, "after", cursor, &e);
        rc = e ? e : lbc_call_ok(c, "case.list", args, &reply, err, errlen);
        lb_val_free(&args);
        const lb_val_t *res = rc ? NULL : lbc_reply_result(reply);
        const lb_val_t *cases = lb_map_get(res, "cases");
        for (uint32_t i = 0; !rc && cases && cases->type == LB_ARR && i < cases->a.n; i++)
            rc = act_push(r, cap, cases->a.items[i]);
        const char *next = lb_map_str(res, "next");
        free(cursor);
        cursor = next ? strdup(next) : NULL;
        if (next && !cursor && !rc)
            rc = LB_ENOMEM;
        bool empty = !cases || cases->type != LB_ARR || cases->a.n == 0;
        lb_val_free(&reply);
        if (rc || !cursor || empty)
            break;
        if (r->nact >= LBC_REPORT_ACT_MAX) {
            *more = true;
            break;
        }
    }
    free(cursor);
    return rc;
}

static int cmp_case_id(const void *a, const void *b)
{
    const lbc_report_case_t *x = a, *y = b;
    size_t xl = strlen(x->case_id), yl = strlen(y->case_id);
    return xl != yl ? (xl < yl ? -1 : 1) : strcmp(x->case_id, y->case_id);
}

/* A case both overdue and unacknowledged came from both lists: keep it once. */
static void act_unique(lbc_report_t *r)
{
    size_t k = 0;
    if (r->nact > 1)
        qsort(r->act, r->nact, sizeof *r->act, cmp_case_id);
    for (size_t i = 0; i < r->nact; i++)
        if (k == 0 || strcmp(r->act[k - 1].case_id, r->act[i].case_id) != 0)
            r->act[k++] = r->act[i];
    r->nact = k;
}

/* act_on: {total, more: bool, cases: [{case_id, area, state, team?, escalation?, ...}]}. */
static int act_json(lbc_report_t *r, bool more)
{
    lb_val_t *act = lb_map(), *cases = lb_arr();
    int rc = act && cases ? 0 : LB_ENOMEM;
    for (size_t i = 0; !rc && i < r->nact; i++) {
        const lbc_report_case_t *c = &r->act[i];
        lb_val_t *m = lb_map();
        rc = m ? 0 : LB_ENOMEM;
        lb_put_str(m, "case_id", c->case_id, &rc);
        lb_put_str(m, "area", c->area, &rc);
        lb_put_str(m, "state", c->state, &rc);
        if (c->team[0])
            lb_put_str(m, "team", c->team, &rc);
        if (c->escalation[0])
            lb_put_str(m, "escalation", c->escalation, &rc);
        lb_put_int(m, "entered_at", c->entered_at, &rc);
        lb_put_bool(m, "overdue", c->overdue, &rc);
        lb_put_bool(m, "unacked", c->unacked, &rc);
        if (!rc && lb_arr_push(cases, m))
            rc = LB_ENOMEM;
        else if (rc)
            lb_val_free(&m);
    }
    lb_put_int(act, "total", (int64_t)r->act_total, &rc);
    lb_put_bool(act, "more", more, &rc);
    lb_put(act, "cases", cases, &rc);
    cases = NULL;
    if (!rc)
        rc = lb_map_set(r->result, "act_on", act);
    else
        lb_val_free(&act);
    lb_val_free(&cases);
    return rc;
}

int lbc_report_fetch_act(lbc_t *c, lbc_report_t *r, char *err, size_t errlen)
{
    size_t cap = r->nact;
    bool more = false;
    int rc = act_walk(c, r, "overdue", &cap, &more, err, errlen);
    if (!rc && !more)
        rc = act_walk(c, r, "unacked", &cap, &more, err, errlen);
    if (rc)
        return rc;
    act_unique(r);
    r->act_total = r->nact;
    lbc_report_rank(r);
    return r->result ? act_json(r, more) : 0;
}
