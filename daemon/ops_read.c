/*
 * ops_read.c - the read operations: ping, workflows, case.get/find/history/
 * list, report.summary and events.since. Each runs in a read snapshot.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

/* ---------------------------------------------------------------------- */
/* ping, workflows                                                         */
/* ---------------------------------------------------------------------- */

int lbd_op_ping(lbd_ctx_t *ctx)
{
    int64_t mono = lbd_mono_ms();
    uint64_t seq = 0;
    uint8_t chain[32];
    int rc = store_event_tip(ctx->txn, &seq, chain);
    if (rc)
        return rc;
    if ((rc = lbd_result_map(ctx)))
        return rc;
    lb_put_str(ctx->result, "version", LBD_VERSION, &rc);
    lb_put_int(ctx->result, "uptime_s", (mono - ctx->d->started_ms) / 1000, &rc);
    lb_put_int(ctx->result, "last_seq", (int64_t)seq, &rc);
    return rc ? LB_ENOMEM : 0;
}

int lbd_op_workflow_list(lbd_ctx_t *ctx)
{
    ctx->result = lb_arr();
    if (!ctx->result)
        return LB_ENOMEM;
    for (size_t i = 0; i < wf_set_count(ctx->d->wfs); i++)
        if (lb_arr_push(ctx->result, wf_def_describe(wf_set_at(ctx->d->wfs, i), false)))
            return LB_ENOMEM;
    return 0;
}

int lbd_op_workflow_get(lbd_ctx_t *ctx)
{
    const char *name = lb_map_str(ctx->req->args, "name");
    const wf_def_t *def = wf_set_get(ctx->d->wfs, name, 0);
    if (!def)
        return lbd_fail(ctx, LB_ENOTFOUND, "name", "no workflow '%s'", name);
    ctx->result = wf_def_describe(def, true);
    return ctx->result ? 0 : LB_ENOMEM;
}

/* ---------------------------------------------------------------------- */
/* reading cases                                                           */
/* ---------------------------------------------------------------------- */

/* Removes what a role may not see from a decrypted household. */
static void household_redact(lb_val_t *h, lbd_role_t role)
{
    if (role != LBD_ROLE_REPORTER)
        return;
    lb_map_del(h, "head");
    lb_map_del(h, "address");
    lb_val_t *members = lb_map_get(h, "members");
    for (uint32_t i = 0; members && members->type == LB_ARR && i < members->a.n; i++) {
        lb_map_del(members->a.items[i], "nid");
        lb_map_del(members->a.items[i], "name");
    }
}

int lbd_op_case_get(lbd_ctx_t *ctx)
{
    wf_case_t c;
    lbd_case_snap_t snap;
    int rc = lbd_load_arg_case(ctx, &c, &snap);
    if (rc)
        return rc;
    ctx->result = wf_case_to_val(&c);
    if (!ctx->result) {
        rc = LB_ENOMEM;
        goto out;
    }
    lb_map_del(ctx->result, "timers_base");
    lb_map_del(ctx->result, "fired_in_state");
    lb_map_del(ctx->result, "history"); /* that is what case.history is for */
    rc = lb_map_set_bool(ctx->result, "overdue", snap.meta.overdue);
    const void *sealed;
    size_t n;
    lb_val_t *h = NULL;
    if (rc == 0 && store_pii_get(ctx->txn, c.id, &sealed, &n) == 0) {
        if ((rc = lbd_pii_open(&ctx->d->keys, c.case_id, sealed, n, &h))) {
            lbd_log(LBD_LOG_ERROR, "request %s: personal data of %s does not open: %s",
                    ctx->req->id, c.case_id, lb_strerror(rc));
            goto out;
        }
        lb_map_del(h, "deprived");
        household_redact(h, ctx->client->role);
        rc = lb_map_set(ctx->result, "household", h);
    }
out:
    wf_case_clear(&c);
    return rc;
}

typedef struct {
    lbd_ctx_t *ctx;
    lb_val_t *ids;
    int rc;
} find_t;

static int find_cb(uint64_t id, void *arg)
{
    find_t *f = arg;
    wf_case_t c;
    int rc = lbd_case_load(f->ctx->d, f->ctx->txn, id, &c, NULL);
    if (rc) {
        f->rc = rc;
        return 1;
    }
    if (lbd_client_covers(f->ctx->client, c.area) &&
        lb_arr_push(f->ids, lb_str(c.case_id))) {
        f->rc = LB_ENOMEM;
        wf_case_clear(&c);
        return 1;
    }
    wf_case_clear(&c);
    return 0;
}

int lbd_op_case_find(lbd_ctx_t *ctx)
{
    find_t f = {ctx, lb_arr(), 0};
    if (!f.ids)
        return LB_ENOMEM;
    const char *house = lb_map_str(ctx->req->args, "house_id");
    const char *nid = lb_map_str(ctx->req->args, "nid");
    int rc;
    if (house) {
        rc = store_house_cases(ctx->txn, house, find_cb, &f);
    } else {
        if (ctx->client->role == LBD_ROLE_REPORTER) {
            lb_val_free(&f.ids);
            return lbd_fail(ctx, LB_EFORBIDDEN, "nid", "reporters may not look up national ids");
        }
        uint8_t hash[32];
        lbd_nid_hash(&ctx->d->keys, nid, hash);
        rc = store_nid_find(ctx->txn, hash, find_cb, &f);
    }
    if (rc == 0)
        rc = f.rc;
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        rc = lb_map_set(ctx->result, "cases", f.ids);
        f.ids = NULL;
    }
    lb_val_free(&f.ids);
    return rc;
}

int lbd_op_case_history(lbd_ctx_t *ctx)
{
    wf_case_t c;
    int rc = lbd_load_arg_case(ctx, &c, NULL);
    if (rc)
        return rc;
    int64_t after = 0, limit = 1000;
    lb_map_int(ctx->req->args, "after_seq", &after);
    lb_map_int(ctx->req->args, "limit", &limit);
    lb_val_t *events = lb_arr();
    rc = events ? 0 : LB_ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < c.history->a.n && (int64_t)events->a.n < limit; i++) {
        int64_t seq = c.history->a.items[i]->i;
        if (seq <= after)
            continue;
        const void *body;
        size_t len;
        lb_val_t *v = NULL;
        proto_err_t perr;
        /* an event the case names but the log lacks means the store was damaged */
        if ((rc = store_event_get(ctx->txn, (uint64_t)seq, &body, &len)))
            rc = rc == LB_ENOTFOUND ? LB_ECORRUPT : rc;
        else if (proto_unpack(body, len, &proto_default_limits, &v, &perr))
            rc = LB_ECORRUPT;
        if (rc == 0) {
            lb_map_del(v, "chain");
            rc = lb_arr_push(events, v);
        }
    }
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        rc = lb_map_set(ctx->result, "events", events);
        events = NULL;
    }
    lb_val_free(&events);
    wf_case_clear(&c);
    return rc;
}

/* ---- case.list ---- */

typedef struct {
    lbd_ctx_t *ctx;
    const char *workflow, *team;
    bool overdue_only;
    int64_t limit;
    lb_val_t *cases;
    char last_area[9], last_state[64];
    uint64_t last_id;
    bool more;
    int rc;
} list_t;

static int list_cb(uint64_t id, const char *area, const char *state, const void *summary,
                   size_t slen, void *arg)
{
    list_t *l = arg;
    if ((int64_t)l->cases->a.n >= l->limit) {
        l->more = true;
        return 1;
    }
    lb_val_t *s = NULL;
    proto_err_t perr;
    if (proto_unpack(summary, slen, &proto_default_limits, &s, &perr)) {
        l->rc = LB_ECORRUPT;
        return 1;
    }
    snprintf(l->last_area, sizeof l->last_area, "%s", area);
    snprintf(l->last_state, sizeof l->last_state, "%s", state);
    l->last_id = id;
    const char *wf = lb_map_str(s, "workflow");
    const char *team = lb_map_str(s, "team");
    lb_val_t *od = lb_map_get(s, "overdue");
    bool keep = (!l->workflow || (wf && strcmp(wf, l->workflow) == 0)) &&
                (!l->team || (team && strcmp(team, l->team) == 0)) &&
                (!l->overdue_only || (od && od->type == LB_BOOL && od->b));
    if (keep) {
        if (lb_arr_push(l->cases, s)) {
            l->rc = LB_ENOMEM;
            return 1;
        }
    } else {
        lb_val_free(&s);
    }
    return 0;
}

/* The client's area prefixes, sorted, without those inside another (scope walk order). */
static size_t scope_prefixes(const lbd_client_t *cl, const char *area, const char **out,
                             size_t max)
{
    if (area) {
        out[0] = area;
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < cl->n_areas && n < max; i++) {
        const char *p = cl->areas[i];
        bool inside = false;
        for (size_t j = 0; j < cl->n_areas; j++) {
            const char *q = cl->areas[j];
            size_t qn = strlen(q);
            if (j != i && strncmp(p, q, qn) == 0 && (qn < strlen(p) || j < i))
                inside = true;
        }
        if (!inside)
            out[n++] = p;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(out[j - 1], out[j]) > 0; j--) {
            const char *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static int parse_cursor(const char *s, char area[9], char state[64], uint64_t *id)
{
    /* area8 "." state "." decimal id */
    const char *d1 = strchr(s, '.');
    const char *d2 = d1 ? strrchr(s, '.') : NULL;
    if (!d1 || d2 == d1 || d1 - s != 8 || (size_t)(d2 - d1 - 1) >= 64)
        return LB_EBADREQ;
    memcpy(area, s, 8);
    area[8] = '\0';
    if (!lb_valid_area(area, true))
        return LB_EBADREQ;
    snprintf(state, 64, "%.*s", (int)(d2 - d1 - 1), d1 + 1);
    char *end;
    unsigned long long v = strtoull(d2 + 1, &end, 10);
    if (*end || end == d2 + 1)
        return LB_EBADREQ;
    *id = v;
    return 0;
}

int lbd_op_case_list(lbd_ctx_t *ctx)
{
    const lb_val_t *args = ctx->req->args;
    const char *area = lb_map_str(args, "area");
    if (area && !lbd_client_covers(ctx->client, area))
        return lbd_fail(ctx, LB_EFORBIDDEN, "area", "area %s is outside your areas", area);
    list_t l = {.ctx = ctx,
                .workflow = lb_map_str(args, "workflow"),
                .team = lb_map_str(args, "team"),
                .limit = 100,
                .cases = lb_arr()};
    if (!l.cases)
        return LB_ENOMEM;
    lb_val_t *od = lb_map_get(args, "overdue");
    l.overdue_only = od && od->type == LB_BOOL && od->b;
    lb_map_int(args, "limit", &l.limit);
    const char *state = lb_map_str(args, "state");
    char c_area[9] = "", c_state[64] = "";
    uint64_t c_id = 0;
    const char *cursor = lb_map_str(args, "after");
    int rc = 0;
    if (cursor && parse_cursor(cursor, c_area, c_state, &c_id)) {
        lb_val_free(&l.cases);
        return lbd_fail(ctx, LB_EBADREQ, "after", "malformed cursor");
    }
    const char *prefixes[64];
    size_t np = scope_prefixes(ctx->client, area, prefixes, 64);
    for (size_t i = 0; rc == 0 && i < np && !l.more && l.rc == 0; i++) {
        const char *p = prefixes[i];
        size_t pn = strlen(p);
        const char *after = NULL;
        if (cursor) {
            int cmp = strncmp(c_area, p, pn);
            if (cmp > 0)
                continue; /* this prefix lies wholly before the cursor */
            if (cmp == 0)
                after = c_area;
        }
        /* overdue=true walks the overdue index, not every case of the area */
        rc = (l.overdue_only ? store_list_overdue : store_list)(ctx->txn, p, state, after, c_state,
                                                                c_id, list_cb, &l);
    }
    if (rc == 0)
        rc = l.rc;
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        rc = lb_map_set(ctx->result, "cases", l.cases);
        l.cases = NULL;
        if (rc == 0 && l.more) {
            char next[96];
            snprintf(next, sizeof next, "%s.%s.%llu", l.last_area, l.last_state,
                     (unsigned long long)l.last_id);
            rc = lb_map_set_str(ctx->result, "next", next);
        }
    }
    lb_val_free(&l.cases);
    return rc;
}

/* ---- report.summary ---- */

typedef struct {
    lb_val_t *rows; /* map key -> row, insertion order then sorted on output */
    lb_val_t *totals;
    const char *by;
    int rc;
    lb_val_t *last; /* the row of the previous counter: counters arrive grouped by scope */
} report_t;

static lb_val_t *row_new(const char *key)
{
    static const char *const ints[] = {"cases",    "open",   "visited", "assisted",
                                       "resolved", "closed", "overdue", "unacked"};
    lb_val_t *r = lb_map();
    int rc = r ? 0 : LB_ENOMEM;
    lb_put_str(r, "key", key, &rc);
    for (size_t i = 0; i < 8; i++)
        lb_put_int(r, ints[i], 0, &rc);
    lb_put(r, "by_state", lb_map(), &rc);
    lb_val_t *needs = lb_map();
    if (!needs)
        lb_rc(&rc, LB_ENOMEM);
    for (int i = 0; i < LB_NDIM; i++)
        lb_put_int(needs, lb_dimensions[i], 0, &rc);
    lb_put(r, "needs_open", needs, &rc);
    lb_val_t *levels = lb_map();
    if (!levels)
        lb_rc(&rc, LB_ENOMEM);
    for (int i = 0; i < LB_NPROGRESS; i++)
        lb_put_int(levels, lb_progress_levels[i], 0, &rc);
    lb_put(r, "levels", levels, &rc);
    if (rc)
        lb_val_free(&r);
    return r;
}

static int row_add(lb_val_t *row, const char *name, uint64_t value)
{
    const char *colon = strchr(name, ':');
    lb_val_t *target = row;
    const char *key = name;
    if (colon) {
        static const struct {
            const char *prefix, *field;
        } sub[] = {{"state", "by_state"}, {"need", "needs_open"}, {"level", "levels"}};
        target = NULL;
        for (size_t i = 0; i < 3; i++)
            if (strncmp(name, sub[i].prefix, (size_t)(colon - name)) == 0 &&
                strlen(sub[i].prefix) == (size_t)(colon - name))
                target = lb_map_get(row, sub[i].field);
        if (!target)
            return 0; /* esc:LEVEL and future counters are not part of a row */
        key = colon + 1;
    }
    lb_val_t *cur = lb_map_get(target, key);
    if (!cur && target == row)
        return 0;
    int64_t base = cur && cur->type == LB_INT ? cur->i : 0;
    return lb_map_set_int(target, key, base + (int64_t)value);
}

/* Adds a counter to the row keyed by the grouping of `by` (areas) or to totals. */
static int report_cb(const char *scope, const char *name, uint64_t value, void *arg)
{
    report_t *r = arg;
    /* A national report by village has tens of thousands of rows: look up only on a new scope. */
    const char *last_key = r->last ? lb_map_str(r->last, "key") : NULL;
    lb_val_t *row = last_key && strcmp(last_key, scope) == 0 ? r->last : lb_map_get(r->rows, scope);
    if (!row) {
        row = row_new(scope);
        if (!row || lb_map_set(r->rows, scope, row)) {
            r->rc = LB_ENOMEM;
            return 1;
        }
    }
    r->last = row;
    if (row_add(row, name, value)) {
        r->rc = LB_ENOMEM;
        return 1;
    }
    return 0;
}

static int totals_cb(const char *scope, const char *name, uint64_t value, void *arg)
{
    report_t *r = arg;
    (void)scope;
    if (row_add(r->totals, name, value)) {
        r->rc = LB_ENOMEM;
        return 1;
    }
    return 0;
}

static int by_digits(const char *by)
{
    static const char *const levels[] = {"province", "district", "subdistrict", "village"};
    for (int i = 0; i < 4; i++)
        if (strcmp(by, levels[i]) == 0)
            return 2 * (i + 1);
    return 0;
}

static int cmp_rows(const void *a, const void *b)
{
    const lb_val_t *x = *(lb_val_t *const *)a, *y = *(lb_val_t *const *)b;
    return strcmp(lb_map_str(x, "key"), lb_map_str(y, "key"));
}

/* by state/dimension/level: one row per key of the totals' sub-map. */
static int rows_from_totals(report_t *r, lb_val_t *out)
{
    const char *field = strcmp(r->by, "state") == 0       ? "by_state"
                        : strcmp(r->by, "dimension") == 0 ? "needs_open"
                                                          : "levels";
    const lb_val_t *sub = lb_map_get(r->totals, field);
    for (uint32_t i = 0; sub && i < sub->m.n; i++) {
        lb_val_t *row = row_new(sub->m.keys[i]);
        int64_t n = sub->m.vals[i]->i;
        int rc = row ? 0 : LB_ENOMEM;
        lb_put_int(row, "cases", n, &rc);
        lb_val_t *s = lb_map_get(row, field);
        lb_put_int(s, sub->m.keys[i], n, &rc);
        lb_push(out, row, &rc); /* out owns row now, or it was freed */
        if (rc)
            return LB_ENOMEM;
    }
    return 0;
}

int lbd_op_report_summary(lbd_ctx_t *ctx)
{
    const char *area = lb_map_str(ctx->req->args, "area");
    if (area && !lbd_client_covers(ctx->client, area))
        return lbd_fail(ctx, LB_EFORBIDDEN, "area", "area %s is outside your areas", area);
    report_t r = {lb_map(), row_new(""), lb_map_str(ctx->req->args, "by"), 0};
    lb_val_t *rows = lb_arr();
    int rc = r.rows && r.totals && rows ? 0 : LB_ENOMEM;
    const char *prefixes[64];
    size_t np = scope_prefixes(ctx->client, area, prefixes, 64);
    int digits = by_digits(r.by);
    for (size_t i = 0; rc == 0 && i < np; i++) {
        const char *p = prefixes[i];
        rc = store_counts(ctx->txn, p, totals_cb, &r);
        if (rc == 0 && digits) {
            if ((int)strlen(p) >= digits) {
                /* The grouping is coarser than the scope: the row holds only the scope's part. */
                char key[9];
                snprintf(key, sizeof key, "%.*s", digits, p);
                lb_val_t *tmp = lb_map();
                report_t sub = {tmp, NULL, r.by, 0};
                rc = tmp ? store_counts(ctx->txn, p, report_cb, &sub) : LB_ENOMEM;
                lb_val_t *part = tmp ? lb_map_get(tmp, p) : NULL;
                for (uint32_t k = 0; rc == 0 && part && k < part->m.n; k++) {
                    const lb_val_t *v = part->m.vals[k];
                    if (v->type == LB_INT)
                        rc = report_cb(key, part->m.keys[k], (uint64_t)v->i, &r);
                    else if (v->type == LB_MAP) {
                        const char *pre = strcmp(part->m.keys[k], "by_state") == 0 ? "state:"
                                          : strcmp(part->m.keys[k], "levels") == 0 ? "level:"
                                                                                   : "need:";
                        for (uint32_t j = 0; j < v->m.n; j++) {
                            char name[96];
                            snprintf(name, sizeof name, "%s%s", pre, v->m.keys[j]);
                            report_cb(key, name, (uint64_t)v->m.vals[j]->i, &r);
                        }
                    }
                }
                lb_val_free(&tmp);
            } else {
                rc = store_counts_children(ctx->txn, p, digits, report_cb, &r);
            }
        }
        if (rc == 0)
            rc = r.rc;
    }
    if (rc == 0 && digits) {
        /* rows, kept in a map while counters arrive, go out as an array sorted by key */
        for (uint32_t i = 0; rc == 0 && i < r.rows->m.n; i++)
            rc = lb_arr_push(rows, lb_val_dup(r.rows->m.vals[i]));
        if (rc == 0 && rows->a.n > 1) /* no rows: items is NULL, which qsort may not get */
            qsort(rows->a.items, rows->a.n, sizeof *rows->a.items, cmp_rows);
    } else if (rc == 0) {
        rc = rows_from_totals(&r, rows);
    }
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_put_str(r.totals, "key", area ? area : "", &rc);
        lb_put(ctx->result, "rows", rows, &rc);
        rows = NULL;
        lb_put(ctx->result, "totals", r.totals, &rc);
        r.totals = NULL;
    }
    lb_val_free(&r.rows);
    lb_val_free(&r.totals);
    lb_val_free(&rows);
    return rc;
}

/* ---- events.since ---- */

typedef struct {
    lb_val_t *events;
    int64_t limit;
    int rc;
} since_t;

static int since_cb(uint64_t seq, const void *body, size_t len, void *arg)
{
    since_t *s = arg;
    (void)seq;
    /* The stored bytes go out as they are: byte-identical to what was published. */
    if (lb_arr_push(s->events, lb_raw(body, len))) {
        s->rc = LB_ENOMEM;
        return 1;
    }
    return (int64_t)s->events->a.n >= s->limit ? 1 : 0;
}

int lbd_op_events_since(lbd_ctx_t *ctx)
{
    int64_t seq = 0, limit = 1000;
    lb_map_int(ctx->req->args, "seq", &seq);
    lb_map_int(ctx->req->args, "limit", &limit);
    since_t s = {lb_arr(), limit, 0};
    uint64_t tip;
    uint8_t chain[32];
    int rc = s.events ? store_event_tip(ctx->txn, &tip, chain) : LB_ENOMEM;
    if (rc == 0)
        rc = store_events(ctx->txn, (uint64_t)seq, since_cb, &s);
    if (rc == 0)
        rc = s.rc;
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        rc = lb_map_set(ctx->result, "events", s.events);
        s.events = NULL;
        lb_put_int(ctx->result, "last_seq", (int64_t)tip, &rc);
    }
    lb_val_free(&s.events);
    return rc;
}
