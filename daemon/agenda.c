/*
 * agenda.c - report.agenda (PROTOCOL.md 9.19): what needs a committee at one
 * escalation level in an area: escalations at that level not yet
 * acknowledged, cases waiting in a state only a committee can move them on
 * from, and pledges overdue. It reads the open cases of the area.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define AGENDA_DEFAULT_LIMIT 200

typedef struct {
    uint64_t *ids;
    size_t n, cap;
    const lbd_t *d;
    int rc;
} open_ids_t;

/* Collects the ids of open cases from the area/state index (the summary names the workflow). */
static int collect_open(uint64_t id, const char *area, const char *state, const void *summary,
                        size_t slen, void *arg)
{
    open_ids_t *o = arg;
    lb_val_t *s = NULL;
    proto_err_t perr;
    (void)area;
    if (proto_unpack(summary, slen, &proto_default_limits, &s, &perr) != 0)
        return LB_ECORRUPT;
    const wf_def_t *def = wf_set_get(o->d->wfs, lb_map_str(s, "workflow"), 0);
    bool terminal = def && wf_def_is_terminal(def, state, NULL);
    lb_val_free(&s);
    if (terminal)
        return 0;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        uint64_t *p = realloc(o->ids, cap * sizeof *p);
        if (!p)
            return LB_ENOMEM;
        o->ids = p;
        o->cap = cap;
    }
    o->ids[o->n++] = id;
    return 0;
}

static lb_val_t *item_new(const wf_case_t *c, const char *kind)
{
    int rc = 0;
    lb_val_t *m = lb_map();
    if (!m)
        return NULL;
    lb_put_str(m, "kind", kind, &rc);
    lb_put_str(m, "case_id", c->case_id, &rc);
    lb_put_str(m, "area", c->area, &rc);
    lb_put_str(m, "state", c->state, &rc);
    if (rc)
        lb_val_free(&m);
    return m;
}

/* The newest escalation, when at level and not acknowledged. */
static int item_escalation(const wf_case_t *c, const char *level, lb_val_t *items)
{
    const wf_escalation_t *e = wf_case_latest_esc(c);
    if (!e || e->acked_at || strcmp(e->level, level) != 0)
        return 0;
    int rc = 0;
    lb_val_t *m = item_new(c, "escalation");
    if (!m)
        return LB_ENOMEM;
    lb_put_str(m, "level", e->level, &rc);
    lb_put_int(m, "step", e->step, &rc);
    lb_put_int(m, "at", e->at, &rc);
    if (e->kind[0]) {
        lb_put_str(m, "timer", e->kind, &rc);
        lb_put_int(m, "record_id", (int64_t)e->record, &rc);
    }
    lb_push(items, m, &rc);
    return rc;
}

/* Each pledge whose timer fired and that is still not delivered, once. */
static int item_pledges(const wf_case_t *c, lb_val_t *items)
{
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < c->n_esc; i++) {
        const wf_escalation_t *e = &c->esc[i];
        if (strcmp(e->kind, "pledge") != 0 || wf_case_pledge_delivered(c, e->record))
            continue;
        bool seen = false;
        for (uint32_t j = 0; j < i; j++)
            seen = seen || (strcmp(c->esc[j].kind, "pledge") == 0 && c->esc[j].record == e->record);
        const lb_val_t *rec = wf_case_record(c, e->record);
        if (seen || !rec)
            continue;
        lb_val_t *m = item_new(c, "pledge");
        if (!m)
            return LB_ENOMEM;
        int64_t at = 0;
        lb_map_int(rec, "at", &at);
        lb_put_int(m, "record_id", (int64_t)e->record, &rc);
        lb_put_str(m, "agency", lb_map_str(rec, "agency"), &rc);
        lb_put_str(m, "dimension", lb_map_str(rec, "dimension"), &rc);
        const lb_val_t *amt = lb_map_get(rec, "amount_thb");
        if (amt)
            lb_put(m, "amount_thb", lb_val_dup(amt), &rc);
        lb_put_int(m, "pledged_at", at, &rc);
        lb_put_int(m, "due", e->at, &rc);
        lb_push(items, m, &rc);
    }
    return rc;
}

static int case_items(const lbd_t *d, const wf_case_t *c, const char *level, lb_val_t *items)
{
    int rc = item_escalation(c, level, items);
    if (rc == 0 && wf_def_committee_only(lbd_case_def(d, c), c->state)) {
        lb_val_t *m = item_new(c, "waiting");
        if (!m)
            return LB_ENOMEM;
        lb_put_int(m, "entered_at", c->entered_at, &rc);
        lb_push(items, m, &rc);
    }
    if (rc == 0)
        rc = item_pledges(c, items);
    return rc;
}

int lbd_op_report_agenda(lbd_ctx_t *ctx)
{
    const lb_val_t *args = ctx->req->args;
    const char *area = lb_map_str(args, "area"), *level = lb_map_str(args, "level");
    int64_t limit = AGENDA_DEFAULT_LIMIT;
    lb_map_int(args, "limit", &limit);
    if (area && !lbd_client_covers(ctx->client, area))
        return lbd_fail(ctx, LB_EFORBIDDEN, "area", "area %s is outside your areas", area);
    open_ids_t o = {.d = ctx->d};
    lb_val_t *items = lb_arr();
    int rc = items ? 0 : LB_ENOMEM;
    const char *prefixes[64];
    size_t np = lbd_scope_prefixes(ctx->client, area, prefixes, 64);
    for (size_t i = 0; rc == 0 && i < np; i++)
        rc = store_list(ctx->txn, prefixes[i], NULL, NULL, NULL, 0, collect_open, &o);
    bool truncated = false;
    for (size_t i = 0; rc == 0 && i < o.n && !truncated; i++) {
        wf_case_t c;
        int lrc = lbd_case_load(ctx->d, ctx->txn, o.ids[i], &c, NULL);
        if (lrc == 0)
            rc = case_items(ctx->d, &c, level, items);
        else if (lrc != LB_ECORRUPT && lrc != LB_ENOTFOUND)
            rc = lrc; /* an unreadable case is admin.verify's to name, not the agenda's */
        wf_case_clear(&c);
        if (rc == 0 && items->a.n > (uint32_t)limit) {
            truncated = true;
            while (items->a.n > (uint32_t)limit) {
                lb_val_t *last = items->a.items[--items->a.n];
                lb_val_free(&last);
            }
        }
    }
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_put_str(ctx->result, "level", level, &rc);
        lb_put(ctx->result, "items", items, &rc);
        items = NULL;
        lb_put_bool(ctx->result, "truncated", truncated, &rc);
    }
    lb_val_free(&items);
    free(o.ids);
    return rc;
}
