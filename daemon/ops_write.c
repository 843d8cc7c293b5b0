/*
 * ops_write.c - the write operations (case.open, case.import, case.act,
 * case.ack) and the escalation timers firing. Each runs in the request's own
 * nested transaction, so a failing request leaves no trace.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

/* ---------------------------------------------------------------------- */
/* opening cases                                                           */
/* ---------------------------------------------------------------------- */

/*
 * The household's open case, if it has one: LB_ECONFLICT. When the requester's
 * areas cover that case, ctx->errcase names it and `area` (may be NULL) gets its
 * area; when they do not, the failure names nothing of it, neither case id nor
 * area, so a key learns nothing about households outside its scope (PROTOCOL.md
 * 9.11). 0 when there is none; a load or store code otherwise.
 */
static int open_conflict(lbd_ctx_t *ctx, const char *house, char area[9])
{
    uint64_t id;
    int rc = store_household_open_case(ctx->txn, house, &id);
    if (rc)
        return rc == LB_ENOTFOUND ? 0 : rc;
    wf_case_t c;
    if ((rc = lbd_case_load(ctx->d, ctx->txn, id, &c, NULL)))
        return rc;
    bool visible = lbd_client_covers(ctx->client, c.area);
    if (visible && area)
        snprintf(area, 9, "%s", c.area);
    wf_case_clear(&c);
    /* A household that moved is a transfer of its case (9.17), not a second case. */
    if (!visible)
        return lbd_fail(ctx, LB_ECONFLICT, "household.house_id",
                        "household %s already has an open case; if the household moved, "
                        "the committee of that case's area can move it with case.transfer",
                        house);
    lb_case_id_format(id, ctx->errcase);
    return lbd_fail(ctx, LB_ECONFLICT, "household.house_id",
                    "household %s already has open case %s; if the household moved, move "
                    "that case with case.transfer",
                    house, ctx->errcase);
}

/*
 * Every check of opening a household's case, before anything is written: after
 * it passes, only the store itself can fail the writes (and that fails the
 * whole request). case.import relies on this to open thousands of households
 * without a nested transaction each.
 */
static int open_check(lbd_ctx_t *ctx, const lb_val_t *h, const char *wfname, char existing[9])
{
    const char *house = lb_map_str(h, "house_id");
    const char *area = lb_map_str(h, "area");
    if (!lbd_client_covers(ctx->client, area))
        return lbd_fail(ctx, LB_EFORBIDDEN, "household.area", "area %s is outside your areas",
                        area);
    int rc = lbd_areas_check(ctx, area, "household.area");
    if (rc)
        return rc;
    if (!wf_set_get(ctx->d->wfs, wfname, 0))
        return lbd_fail(ctx, LB_ENOTFOUND, "workflow", "no workflow '%s'", wfname);
    const lb_val_t *dep = lb_map_get(h, "deprived");
    for (uint32_t i = 0; dep && i < dep->a.n; i++)
        if (!wf_catalog_dimension(ctx->d->cat, dep->a.items[i]->s.p))
            return lbd_fail(ctx, LB_EBADREQ, "household.deprived",
                            "indicator '%s' is not in the catalog", dep->a.items[i]->s.p);
    return open_conflict(ctx, house, existing);
}

/*
 * The `opened` event of a case, built once per request and then only changed
 * where cases differ: case.import opens thousands of cases with the same
 * clock, actor, workflow and source, so only the case's own strings change.
 * The pointers name the template's values (owned by ev).
 */
typedef struct {
    lb_val_t *ev;
    lb_val_t *case_id, *house_id, *area, *workflow, *to;
} open_event_t;

static void open_event_free(open_event_t *oe)
{
    lb_val_free(&oe->ev);
    memset(oe, 0, sizeof *oe);
}

/* Sets the template's string v to s; a different length needs a new value under key. */
static int open_event_str(open_event_t *oe, lb_val_t **v, const char *key, const char *s)
{
    size_t n = strlen(s);
    if ((*v)->s.n == n) {
        memcpy((*v)->s.p, s, n);
        return 0;
    }
    int rc = lb_map_set_str(oe->ev, key, s);
    *v = rc ? NULL : lb_map_get(oe->ev, key);
    return rc;
}

/*
 * Makes oe->ev the `opened` event of c: built on first use (every field
 * checked: an allocation failure must fail the request, never append an event
 * to the audit chain with fields silently missing), then only its case's
 * strings replaced. On an error the template is dropped. 0 or LB_ENOMEM.
 */
static int open_event(lbd_ctx_t *ctx, const wf_case_t *c, open_event_t *oe)
{
    int rc = 0;
    if (oe->ev) {
        lb_val_t **vs[] = {&oe->case_id, &oe->house_id, &oe->area, &oe->workflow, &oe->to};
        const char *keys[] = {"case_id", "house_id", "area", "workflow", "to"};
        const char *now[] = {c->case_id, c->house_id, c->area, c->workflow, c->state};
        for (size_t i = 0; rc == 0 && i < sizeof vs / sizeof vs[0]; i++)
            rc = open_event_str(oe, vs[i], keys[i], now[i]);
        if (rc)
            open_event_free(oe);
        return rc;
    }
    lb_val_t *ev = lbd_event_new(c, ctx->now, "case", "opened", ctx->client->name);
    if (!ev)
        return LB_ENOMEM;
    lb_put_str(ev, "to", c->state, &rc);
    lb_val_t *data = lb_map();
    if (!data)
        lb_rc(&rc, LB_ENOMEM);
    lb_put_str(data, "source", c->source, &rc);
    if (c->team[0])
        lb_put_str(data, "team", c->team, &rc);
    lb_put(ev, "data", data, &rc);
    if (rc) {
        lb_val_free(&ev);
        return rc;
    }
    *oe = (open_event_t){ev,
                         lb_map_get(ev, "case_id"),
                         lb_map_get(ev, "house_id"),
                         lb_map_get(ev, "area"),
                         lb_map_get(ev, "workflow"),
                         lb_map_get(ev, "to")};
    return 0;
}

/* Copies s into dst[size], cut to fit, as snprintf(dst, size, "%s", s) would. */
static void copy_str(char *dst, size_t size, const char *s)
{
    size_t n = strnlen(s, size - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/*
 * Opens one household's case. Errors are request errors (ctx filled). oe: the
 * request's `opened` event template (every case of it has the same source and
 * team), or NULL to build one for this case only. checked: open_check passed
 * for h in this transaction already (case.import checks every item first).
 * dups: where the members' national-id hashes go for the duplicates check
 * (case.import), or NULL.
 */
static int open_one(lbd_ctx_t *ctx, const lb_val_t *h, const char *wfname, const char *source,
                    const char *team, uint64_t *seq_out, wf_case_t *c, open_event_t *oe,
                    bool checked, lbd_import_dups_t *dups)
{
    lbd_t *d = ctx->d;
    const char *house = lb_map_str(h, "house_id");
    const char *area = lb_map_str(h, "area");
    int rc = checked ? 0 : open_check(ctx, h, wfname, NULL);
    if (rc)
        return rc;
    const wf_def_t *def = wf_set_get(d->wfs, wfname, 0);
    uint64_t id;
    if ((rc = store_next_case_id(ctx->txn, &id)))
        return rc;
    if ((rc = wf_case_init(c)))
        return rc;
    c->id = id;
    lb_case_id_format(id, c->case_id);
    copy_str(c->house_id, sizeof c->house_id, house);
    copy_str(c->area, sizeof c->area, area);
    copy_str(c->source, sizeof c->source, source);
    copy_str(c->team, sizeof c->team, team ? team : "");
    wf_error_t werr = {0};
    if ((rc = wf_open(def, d->cat, d->cal, c, lb_map_get(h, "deprived"), ctx->now, &werr))) {
        if (rc == LB_EBADREQ && strcmp(werr.field, "deprived") == 0)
            snprintf(werr.field, sizeof werr.field, "household.deprived");
        return lbd_fail_wf(ctx, &werr);
    }
    /* Personal data: sealed beside the case, national ids also as keyed hashes. */
    lb_buf_t sealed = {0};
    rc = lbd_pii_seal(&d->keys, c->case_id, h, &sealed);
    if (rc == 0)
        rc = store_pii_put(ctx->txn, id, sealed.p, sealed.len);
    lb_buf_free(&sealed);
    const lb_val_t *members = lb_map_get(h, "members");
    if (dups)
        dups->n_nid = 0;
    for (uint32_t i = 0; rc == 0 && members && i < members->a.n; i++) {
        const char *nid = lb_map_str(members->a.items[i], "nid");
        if (nid) {
            uint8_t mine[32];
            uint8_t *hash =
                dups && dups->n_nid < LBD_MEMBERS_MAX ? dups->nid_hash[dups->n_nid++] : mine;
            lbd_nid_hash(&d->keys, nid, hash);
            rc = store_nid_add(ctx->txn, hash, id);
        }
    }
    if (rc)
        return rc;
    open_event_t own = {0};
    if (!oe)
        oe = &own;
    if ((rc = open_event(ctx, c, oe)))
        return rc;
    rc = lbd_record_change(d, ctx->txn, ctx->pubs, c, NULL, oe->ev, seq_out);
    open_event_free(&own);
    return rc;
}

static const char *arg_str(const lbd_ctx_t *ctx, const char *key, const char *def)
{
    const char *s = lb_map_str(ctx->req->args, key);
    return s ? s : def;
}

int lbd_op_case_open(lbd_ctx_t *ctx)
{
    wf_case_t c = {0};
    uint64_t seq = 0;
    int rc = open_one(ctx, lb_map_get(ctx->req->args, "household"),
                      arg_str(ctx, "workflow", ctx->d->cfg.default_workflow),
                      arg_str(ctx, "source", "tpmap"), arg_str(ctx, "team", NULL), &seq, &c, NULL,
                      false, NULL);
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_put_str(ctx->result, "case_id", c.case_id, &rc);
        lb_put_str(ctx->result, "state", c.state, &rc);
        lb_put_int(ctx->result, "seq", (int64_t)seq, &rc);
    }
    lb_val_t *dups = NULL; /* PROTOCOL.md 9.18 */
    const lb_val_t *h = lb_map_get(ctx->req->args, "household");
    if (rc == 0 && (rc = lbd_household_duplicates(ctx, c.id, h, &dups)) == 0)
        rc = lb_map_set(ctx->result, "duplicates", dups);
    wf_case_clear(&c);
    return rc;
}

typedef struct {
    const char *wfname, *source;
    char existing_area[9]; /* the area of the open case the last checked item ran into */
    lbd_import_dups_t dups;
    open_event_t ev; /* the `opened` event, reused from case to case */
} import_t;

static int import_check(lbd_ctx_t *ctx, const lb_val_t *h, void *arg, char *msg, size_t msglen)
{
    import_t *im = arg;
    proto_err_t perr = {0};
    int code = proto_check_household(h, &perr);
    if (code) {
        snprintf(msg, msglen, "%s", perr.message);
        return code;
    }
    code = open_check(ctx, h, im->wfname, im->existing_area);
    if (code)
        snprintf(msg, msglen, "%s", ctx->errmsg);
    return code;
}

/* A household skipped for its open case, which the key may see: {house_id, case_id, area}. */
static int import_existing(lbd_ctx_t *ctx, const lb_val_t *h, void *arg, lb_val_t *entry)
{
    const import_t *im = arg;
    int rc = 0;
    lb_put_str(entry, "house_id", lb_map_str(h, "house_id"), &rc);
    lb_put_str(entry, "case_id", ctx->errcase, &rc);
    lb_put_str(entry, "area", im->existing_area, &rc);
    return rc;
}

static int import_apply(lbd_ctx_t *ctx, const lb_val_t *h, void *arg)
{
    import_t *im = arg;
    wf_case_t c = {0};
    uint64_t seq;
    /* lbd_bulk_run applies an item right after import_check passed it: checked. */
    int rc = open_one(ctx, h, im->wfname, im->source, NULL, &seq, &c, &im->ev, true, &im->dups);
    if (rc == 0)
        rc = lbd_import_dups_add(ctx, &im->dups, h, &c);
    wf_case_clear(&c);
    return rc;
}

int lbd_op_case_import(lbd_ctx_t *ctx)
{
    const lb_val_t *items = lb_map_get(ctx->req->args, "households");
    import_t im = {arg_str(ctx, "workflow", ctx->d->cfg.default_workflow),
                   arg_str(ctx, "source", "tpmap"),
                   "",
                   {.items = items}};
    if (!wf_set_get(ctx->d->wfs, im.wfname, 0))
        return lbd_fail(ctx, LB_ENOTFOUND, "workflow", "no workflow '%s'", im.wfname);
    static const lbd_bulk_t bulk = {import_check, import_apply, import_existing, "opened"};
    int rc = lbd_bulk_run(ctx, items, &bulk, &im);
    open_event_free(&im.ev);
    return lbd_import_dups_done(ctx, &im.dups, rc);
}

/* ---------------------------------------------------------------------- */
/* acting on cases                                                         */
/* ---------------------------------------------------------------------- */

int lbd_op_case_act(lbd_ctx_t *ctx)
{
    wf_case_t c;
    lbd_case_snap_t old;
    int rc = lbd_load_arg_case(ctx, &c, &old);
    if (rc)
        return rc;
    const lb_val_t *args = ctx->req->args;
    wf_outcome_t out = {0};
    lbd_member_t mem = {0};
    lb_val_t *ev = NULL;
    const char *expect = lb_map_str(args, "expect_state");
    if (expect && strcmp(expect, c.state) != 0) {
        snprintf(ctx->errcase, sizeof ctx->errcase, "%s", c.case_id);
        rc = lbd_fail(ctx, LB_ECONFLICT, "expect_state", "case %s is in state %s, not %s",
                      c.case_id, c.state, expect);
        goto out;
    }
    int64_t at = ctx->now;
    if (lb_map_int(args, "at", &at) == 0 && at > ctx->now + LBD_FUTURE_SLACK_MS) {
        rc = lbd_fail(ctx, LB_EBADREQ, "at",
                      "at is more than 5 minutes ahead of the daemon's clock");
        goto out;
    }
    /* Teams that opened a case offline sync its earlier work late, so `at` may precede
     * opened_at; a year before it is a wrong clock, not late syncing. */
    if (at < c.opened_at - LBD_PAST_SLACK_MS) {
        rc = lbd_fail(ctx, LB_EBADREQ, "at", "at is more than a year before case %s was opened",
                      c.case_id);
        goto out;
    }
    const wf_def_t *def = lbd_case_def(ctx->d, &c);
    if (!def) {
        rc = lbd_fail(ctx, LB_ENOTFOUND, "case_id", "workflow '%s' of case %s is not loaded",
                      c.workflow, c.case_id);
        goto out;
    }
    wf_act_t act = {.action = lb_map_str(args, "action"),
                    .data = lb_map_get(args, "data"),
                    .role = lbd_role_name(ctx->client->role),
                    .actor = ctx->client->name,
                    .at = at,
                    .max_records = (uint32_t)ctx->d->cfg.case_records,
                    .strict_data = true,
                    .calendar = ctx->d->cal};
    if ((rc = lbd_member_prepare(ctx, def, &act, &mem))) /* 9.18: data becomes references */
        goto out;
    wf_error_t werr = {0};
    if ((rc = wf_apply(def, ctx->d->cat, &c, &act, &out, &werr))) {
        /* The engine names fields inside data; on the wire paths are relative to args. */
        if (rc == LB_EGUARD && werr.field[0]) {
            char path[WF_NAME_MAX + 8];
            snprintf(path, sizeof path, "data.%s", werr.field);
            snprintf(werr.field, sizeof werr.field, "%.*s", (int)sizeof werr.field - 1, path);
        }
        rc = lbd_fail_wf(ctx, &werr);
        goto out;
    }
    ev = lbd_event_new(&c, ctx->now, out.kind, "acted", ctx->client->name);
    rc = ev ? 0 : LB_ENOMEM;
    if (rc == 0 && out.state_changed) {
        lb_add_str(ev, "from", out.from, &rc); /* keys lbd_event_new does not set */
        lb_add_str(ev, "to", out.to, &rc);
    }
    lb_add_str(ev, "action", act.action, &rc);
    if (rc == 0)
        rc = lbd_member_apply(ctx, &c, at, &mem);
    if (out.event_data) {
        lb_add(ev, "data", out.event_data, &rc); /* ev owns it now, or it was freed */
        out.event_data = NULL;
    }
    uint64_t seq = 0;
    if (rc == 0)
        rc = lbd_record_change(ctx->d, ctx->txn, ctx->pubs, &c, &old, ev, &seq);
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_add_str(ctx->result, "case_id", c.case_id, &rc); /* a new map: appended */
        lb_add_str(ctx->result, "state", c.state, &rc);
        lb_add_int(ctx->result, "seq", (int64_t)seq, &rc);
        if (c.level[0])
            lb_add_str(ctx->result, "level", c.level, &rc);
        if (rc == 0)
            rc = lbd_member_result(ctx, &mem);
        if (out.record_id)
            lb_put_int(ctx->result, "record_id", (int64_t)out.record_id, &rc);
    }
out:
    lbd_member_clear(&mem);
    lb_val_free(&ev);
    wf_outcome_clear(&out);
    wf_case_clear(&c);
    return rc;
}

int lbd_op_case_ack(lbd_ctx_t *ctx)
{
    wf_case_t c;
    lbd_case_snap_t old;
    int rc = lbd_load_arg_case(ctx, &c, &old);
    if (rc)
        return rc;
    wf_escalation_t e;
    lb_val_t *ev = NULL;
    rc = wf_ack(&c, ctx->client->name, ctx->now, &e);
    if (rc == LB_ENOTFOUND) {
        rc = lbd_fail(ctx, rc, "case_id", "case %s has no escalation to acknowledge", c.case_id);
        goto out;
    }
    if (rc == LB_ECONFLICT) {
        snprintf(ctx->errcase, sizeof ctx->errcase, "%s", c.case_id);
        rc = lbd_fail(ctx, rc, "case_id",
                      "the latest escalation of case %s is already acknowledged", c.case_id);
        goto out;
    }
    if (rc)
        goto out;
    ev = lbd_event_new(&c, ctx->now, "escalation", "acked", ctx->client->name);
    rc = ev ? 0 : LB_ENOMEM;
    if (rc == 0) {
        lb_put_str(ev, "level", e.level, &rc);
        lb_put_int(ev, "step", e.step, &rc);
        const char *note = lb_map_str(ctx->req->args, "note");
        if (note) {
            lb_val_t *data = lb_map();
            if (!data)
                lb_rc(&rc, LB_ENOMEM);
            lb_put_str(data, "note", note, &rc);
            lb_put(ev, "data", data, &rc);
        }
    }
    uint64_t seq = 0;
    if (rc == 0)
        rc = lbd_record_change(ctx->d, ctx->txn, ctx->pubs, &c, &old, ev, &seq);
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_put_str(ctx->result, "case_id", c.case_id, &rc);
        lb_put_int(ctx->result, "step", e.step, &rc);
        lb_put_str(ctx->result, "level", e.level, &rc);
    }
out:
    lb_val_free(&ev);
    wf_case_clear(&c);
    return rc;
}

/*
 * A timer whose case cannot be read (missing, or its bytes do not decode) is
 * never dropped: the case would then never escalate again. It moves back by
 * TIMER_BACKOFF_MS, so the loop does not spin on it, is counted
 * (admin.stats timers_deferred) and logged with the case id; admin.verify
 * names such cases (lbd_verify_unreadable).
 */
#define TIMER_BACKOFF_MS (5LL * 60 * 1000)

static int defer_timer(lbd_t *d, store_txn_t *txn, uint64_t id, uint32_t step, int64_t now, int why)
{
    char cid[LB_CASE_ID_MAX];
    lb_case_id_format(id, cid);
    lbd_log(LBD_LOG_ERROR, "timer of case %s kept, retried in %lld s: the case cannot be read: %s",
            cid, TIMER_BACKOFF_MS / 1000, lb_strerror(why));
    d->n_timers_deferred++;
    return store_timer_set(txn, id, now + TIMER_BACKOFF_MS, step);
}

int lbd_fire_due(lbd_t *d, store_txn_t *txn, lbd_pubs_t *pubs, int64_t now, size_t max,
                 size_t *fired)
{
    *fired = 0;
    for (size_t n = 0; n < max; n++) {
        int64_t due;
        uint64_t id;
        uint32_t step;
        int rc = store_timer_first(txn, &due, &id, &step);
        if (rc == LB_ENOTFOUND || (rc == 0 && due > now))
            return 0;
        if (rc)
            return rc;
        wf_case_t c;
        lbd_case_snap_t old;
        rc = lbd_case_load(d, txn, id, &c, &old);
        if (rc && rc != LB_ENOTFOUND && rc != LB_ECORRUPT)
            return rc; /* out of memory, I/O: the timer stays for the next try */
        if (rc) {
            if ((rc = defer_timer(d, txn, id, step, now, rc)))
                return rc;
            continue;
        }
        wf_escalation_t e;
        while (rc == 0 && wf_fire_due(&c, now, &e) == 1) {
            lb_val_t *ev = lbd_event_new(&c, now, "escalation", "fired", "logbookd");
            rc = ev ? 0 : LB_ENOMEM;
            if (rc == 0) {
                lb_put_str(ev, "level", e.level, &rc);
                lb_put_int(ev, "step", e.step, &rc);
                lb_val_t *data = lb_map();
                if (!data)
                    lb_rc(&rc, LB_ENOMEM);
                lb_put_str(data, "state", e.state, &rc);
                lb_put_int(data, "due", e.at, &rc);
                if (e.kind[0]) { /* a pledge's or decision's timer (PROTOCOL.md 9.19) */
                    lb_put_str(data, "timer", e.kind, &rc);
                    lb_put_int(data, "record_id", (int64_t)e.record, &rc);
                }
                lb_put(ev, "data", data, &rc);
            }
            uint64_t seq = 0;
            if (rc == 0)
                rc = lbd_emit(txn, pubs, ev, &seq);
            if (rc == 0)
                rc = wf_case_add_event(&c, seq);
            lb_val_free(&ev);
            c.last_seq = seq;
            (*fired)++;
        }
        if (rc == 0)
            rc = lbd_case_save(d, txn, &c, &old);
        wf_case_clear(&c);
        if (rc)
            return rc;
    }
    return 0;
}
