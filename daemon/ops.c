/*
 * ops.c - the v1 operations (PROTOCOL.md section 3). Each handler runs inside
 * a transaction it is handed: a read snapshot for reads, the request's own
 * nested transaction for writes, so a failing request leaves no trace.
 * Roles and area scopes are checked here, before any handler runs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ---------------------------------------------------------------------- */
/* small helpers                                                           */
/* ---------------------------------------------------------------------- */

int lbd_fail(lbd_ctx_t *ctx, int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    snprintf(ctx->errfield, sizeof ctx->errfield, "%s", field ? field : "");
    return code;
}

void lbd_pubs_reset(lbd_pubs_t *p)
{
    p->n = 0;
    p->bytes.len = 0;
}

void lbd_pubs_free(lbd_pubs_t *p)
{
    free(p->v);
    lb_buf_free(&p->bytes);
    memset(p, 0, sizeof *p);
}

int lbd_emit(store_txn_t *txn, lbd_pubs_t *pubs, lb_val_t *body, uint64_t *seq_out)
{
    uint64_t seq;
    uint8_t prev[32], chain[32];
    int rc = store_event_tip(txn, &seq, prev);
    if (rc)
        return rc;
    seq++;
    if ((rc = lb_map_set_int(body, "seq", (int64_t)seq)))
        return rc;
    if (pubs->n == pubs->cap) {
        size_t cap = pubs->cap ? pubs->cap * 2 : 64;
        lbd_pub_t *v = realloc(pubs->v, cap * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        pubs->v = v;
        pubs->cap = cap;
    }
    size_t off = pubs->bytes.len;
    if ((rc = proto_event_encode(body, prev, &pubs->bytes, chain)))
        return rc;
    if ((rc = store_event_append(txn, seq, pubs->bytes.p + off, pubs->bytes.len - off, chain))) {
        pubs->bytes.len = off;
        return rc;
    }
    lbd_pub_t *p = &pubs->v[pubs->n++];
    snprintf(p->topic, sizeof p->topic, "%s.%s", lb_map_str(body, "kind"),
             lb_map_str(body, "area"));
    p->off = off;
    p->len = pubs->bytes.len - off;
    p->seq = seq;
    if (seq_out)
        *seq_out = seq;
    return 0;
}

/* An event body with the common keys, in the order of PROTOCOL.md section 7. */
static lb_val_t *event_new(const wf_case_t *c, int64_t at, const char *kind, const char *type,
                           const char *actor)
{
    lb_val_t *b = lb_map();
    if (!b)
        return NULL;
    int rc = lb_map_set_int(b, "v", 1);
    rc |= lb_map_set_int(b, "seq", 0);
    rc |= lb_map_set_int(b, "at", at);
    rc |= lb_map_set_str(b, "kind", kind);
    rc |= lb_map_set_str(b, "type", type);
    rc |= lb_map_set_str(b, "case_id", c->case_id);
    rc |= lb_map_set_str(b, "house_id", c->house_id);
    rc |= lb_map_set_str(b, "area", c->area);
    rc |= lb_map_set_str(b, "workflow", c->workflow);
    rc |= lb_map_set_str(b, "actor", actor);
    if (rc)
        lb_val_free(&b);
    return b;
}

static const wf_def_t *case_def(const lbd_t *d, const wf_case_t *c)
{
    const wf_def_t *def = wf_set_get(d->wfs, c->workflow, c->workflow_version);
    /* A version no longer shipped runs under the newest definition of its name. */
    return def ? def : wf_set_get(d->wfs, c->workflow, 0);
}

static void case_meta(const lbd_t *d, const wf_case_t *c, store_case_meta_t *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->area, sizeof m->area, "%s", c->area);
    snprintf(m->state, sizeof m->state, "%s", c->state);
    snprintf(m->house_id, sizeof m->house_id, "%s", c->house_id);
    const wf_def_t *def = case_def(d, c);
    const char *outcome = NULL;
    bool terminal = def && wf_def_is_terminal(def, c->state, &outcome);
    m->open = !terminal;
    if (terminal)
        snprintf(m->outcome, sizeof m->outcome, "%s", outcome ? outcome : "closed");
    m->visited = c->visits && c->visits->a.n > 0;
    m->assisted = c->assistance && c->assistance->a.n > 0;
    m->overdue = !terminal && wf_case_overdue(c);
    const wf_escalation_t *e = wf_case_latest_esc(c);
    m->unacked = !terminal && e && e->acked_at == 0;
    snprintf(m->level, sizeof m->level, "%s", c->level);
    if (m->overdue && e)
        snprintf(m->esc_level, sizeof m->esc_level, "%s", e->level);
    if (!terminal)
        wf_case_needs_open(c, m->needs_open);
}

static int case_summary(const wf_case_t *c, const store_case_meta_t *m, lb_buf_t *out)
{
    lb_val_t *s = lb_map();
    if (!s)
        return LB_ENOMEM;
    int rc = lb_map_set_str(s, "case_id", c->case_id);
    rc |= lb_map_set_str(s, "house_id", c->house_id);
    rc |= lb_map_set_str(s, "area", c->area);
    rc |= lb_map_set_str(s, "workflow", c->workflow);
    rc |= lb_map_set_str(s, "state", c->state);
    rc |= lb_map_set_int(s, "entered_at", c->entered_at);
    if (c->team[0])
        rc |= lb_map_set_str(s, "team", c->team);
    rc |= lb_map_set_bool(s, "overdue", m->overdue);
    if (m->esc_level[0])
        rc |= lb_map_set_str(s, "escalation", m->esc_level);
    if (rc == 0)
        rc = proto_pack(s, out);
    lb_val_free(&s);
    return rc ? LB_ENOMEM : 0;
}

/*
 * What a stored case looked like when it was loaded: its meta (for the
 * counters and indexes), and what the list summary and the pending timer
 * were made of, so that a save writes only what changed.
 */
typedef struct {
    store_case_meta_t meta;
    int64_t entered_at;
    char team[WF_NAME_MAX];
    bool has_timer;
    int64_t due;
    uint32_t step;
} case_snap_t;

static bool pending_timer(const store_case_meta_t *m, const wf_case_t *c, int64_t *due,
                          uint32_t *step)
{
    if (!m->open || wf_next_due(c, due) != 1)
        return false;
    *step = c->timers[0].step;
    return true;
}

static void case_snap(const lbd_t *d, const wf_case_t *c, case_snap_t *s)
{
    case_meta(d, c, &s->meta);
    s->entered_at = c->entered_at;
    snprintf(s->team, sizeof s->team, "%s", c->team);
    s->has_timer = pending_timer(&s->meta, c, &s->due, &s->step);
}

/* Writes a case, its indexes, counters and pending timer. old: as loaded, or NULL. */
static int case_save(const lbd_t *d, store_txn_t *txn, const wf_case_t *c, const case_snap_t *old)
{
    store_case_meta_t m;
    case_meta(d, c, &m);
    lb_buf_t body = {0}, sum = {0};
    lb_val_t *v = wf_case_to_val_lent(c); /* encoded at once: no copy of the record lists */
    int rc = v ? proto_pack(v, &body) : LB_ENOMEM;
    wf_case_val_return(&v);
    /* The summary shows state, entered_at, team, overdue and escalation; the rest never changes. */
    bool same_summary = old && strcmp(old->meta.state, m.state) == 0 &&
                        old->meta.overdue == m.overdue &&
                        strcmp(old->meta.esc_level, m.esc_level) == 0 &&
                        old->entered_at == c->entered_at && strcmp(old->team, c->team) == 0;
    if (rc == 0 && !same_summary)
        rc = case_summary(c, &m, &sum);
    if (rc == 0)
        rc = store_case_put(txn, c->id, old ? &old->meta : NULL, &m, body.p, body.len,
                            same_summary ? NULL : sum.p, same_summary ? 0 : sum.len);
    if (rc == 0) {
        int64_t due;
        uint32_t step;
        bool has = pending_timer(&m, c, &due, &step);
        bool same_timer = old && old->has_timer == has && (!has || (old->due == due && old->step == step));
        if (!same_timer)
            rc = has ? store_timer_set(txn, c->id, due, step) : store_timer_clear(txn, c->id);
    }
    lb_buf_free(&body);
    lb_buf_free(&sum);
    return rc;
}

/* Loads a case by id; *snap as stored (for case_save), may be NULL. */
static int case_load(const lbd_t *d, store_txn_t *txn, uint64_t id, wf_case_t *c,
                     case_snap_t *snap)
{
    const void *p;
    size_t n;
    memset(c, 0, sizeof *c);
    int rc = store_case_get(txn, id, &p, &n);
    if (rc)
        return rc;
    lb_val_t *v = NULL;
    proto_err_t perr;
    rc = proto_unpack(p, n, &proto_default_limits, &v, &perr);
    if (rc == 0)
        rc = wf_case_from_val_take(v, c); /* v is freed next: move its lists, don't copy */
    lb_val_free(&v);
    if (rc) {
        wf_case_clear(c);
        return LB_ECORRUPT;
    }
    if (snap)
        case_snap(d, c, snap);
    return 0;
}

/* A change is its event and the case that records it as last_seq: always both, in this order. */
static int record_change(const lbd_t *d, store_txn_t *txn, lbd_pubs_t *pubs, wf_case_t *c,
                         const case_snap_t *old, lb_val_t *ev, uint64_t *seq)
{
    int rc = lbd_emit(txn, pubs, ev, seq);
    if (rc == 0)
        rc = wf_case_add_event(c, *seq);
    if (rc == 0) {
        c->last_seq = *seq;
        rc = case_save(d, txn, c, old);
    }
    return rc;
}

/* Loads the case named by args.case_id and checks the client's scope. */
static int load_arg_case(lbd_ctx_t *ctx, wf_case_t *c, case_snap_t *snap)
{
    const char *cid = lb_map_str(ctx->req->args, "case_id");
    uint64_t id;
    if (!cid || lb_case_id_parse(cid, &id))
        return lbd_fail(ctx, LB_EBADREQ, "case_id", "malformed case id");
    int rc = case_load(ctx->d, ctx->txn, id, c, snap);
    if (rc == LB_ENOTFOUND)
        return lbd_fail(ctx, LB_ENOTFOUND, "case_id", "no case %s", cid);
    if (rc)
        return lbd_fail(ctx, rc, NULL, "cannot read case %s: %s", cid, lb_strerror(rc));
    if (!lbd_client_covers(ctx->client, c->area)) {
        wf_case_clear(c);
        return lbd_fail(ctx, LB_EFORBIDDEN, "case_id", "case %s is outside your areas", cid);
    }
    return 0;
}

static int fail_wf(lbd_ctx_t *ctx, const wf_error_t *e)
{
    return lbd_fail(ctx, e->code, e->field[0] ? e->field : NULL, "%s", e->message);
}

static int result_map(lbd_ctx_t *ctx)
{
    ctx->result = lb_map();
    return ctx->result ? 0 : LB_ENOMEM;
}

/* ---------------------------------------------------------------------- */
/* ping, workflows                                                         */
/* ---------------------------------------------------------------------- */

static int op_ping(lbd_ctx_t *ctx)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t mono = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    uint64_t seq = 0;
    uint8_t chain[32];
    int rc = store_event_tip(ctx->txn, &seq, chain);
    if (rc)
        return rc;
    if ((rc = result_map(ctx)))
        return rc;
    rc = lb_map_set_str(ctx->result, "version", LBD_VERSION);
    rc |= lb_map_set_int(ctx->result, "uptime_s", (mono - ctx->d->started_ms) / 1000);
    rc |= lb_map_set_int(ctx->result, "last_seq", (int64_t)seq);
    return rc ? LB_ENOMEM : 0;
}

static int op_workflow_list(lbd_ctx_t *ctx)
{
    ctx->result = lb_arr();
    if (!ctx->result)
        return LB_ENOMEM;
    for (size_t i = 0; i < wf_set_count(ctx->d->wfs); i++)
        if (lb_arr_push(ctx->result, wf_def_describe(wf_set_at(ctx->d->wfs, i), false)))
            return LB_ENOMEM;
    return 0;
}

static int op_workflow_get(lbd_ctx_t *ctx)
{
    const char *name = lb_map_str(ctx->req->args, "name");
    const wf_def_t *def = wf_set_get(ctx->d->wfs, name, 0);
    if (!def)
        return lbd_fail(ctx, LB_ENOTFOUND, "name", "no workflow '%s'", name);
    ctx->result = wf_def_describe(def, true);
    return ctx->result ? 0 : LB_ENOMEM;
}

/* ---------------------------------------------------------------------- */
/* opening cases                                                           */
/* ---------------------------------------------------------------------- */

/*
 * Every check of opening a household's case, before anything is written: after
 * it passes, only the store itself can fail the writes (and that fails the
 * whole request). case.import relies on this to open thousands of households
 * without a nested transaction each.
 */
static int open_check(lbd_ctx_t *ctx, const lb_val_t *h, const char *wfname)
{
    const char *house = lb_map_str(h, "house_id");
    const char *area = lb_map_str(h, "area");
    if (!lbd_client_covers(ctx->client, area))
        return lbd_fail(ctx, LB_EFORBIDDEN, "household.area", "area %s is outside your areas",
                        area);
    if (!wf_set_get(ctx->d->wfs, wfname, 0))
        return lbd_fail(ctx, LB_ENOTFOUND, "workflow", "no workflow '%s'", wfname);
    const lb_val_t *dep = lb_map_get(h, "deprived");
    for (uint32_t i = 0; dep && i < dep->a.n; i++)
        if (!wf_catalog_dimension(ctx->d->cat, dep->a.items[i]->s.p))
            return lbd_fail(ctx, LB_EBADREQ, "household.deprived",
                            "indicator '%s' is not in the catalog", dep->a.items[i]->s.p);
    uint64_t existing;
    int rc = store_household_open_case(ctx->txn, house, &existing);
    if (rc == 0) {
        lb_case_id_format(existing, ctx->errcase);
        return lbd_fail(ctx, LB_ECONFLICT, "household.house_id",
                        "household %s already has open case %s", house, ctx->errcase);
    }
    return rc == LB_ENOTFOUND ? 0 : rc;
}

/* Opens one household's case. Errors are request errors (ctx filled). */
static int open_one(lbd_ctx_t *ctx, const lb_val_t *h, const char *wfname, const char *source,
                    const char *team, uint64_t *seq_out, wf_case_t *c)
{
    lbd_t *d = ctx->d;
    const char *house = lb_map_str(h, "house_id");
    const char *area = lb_map_str(h, "area");
    int rc = open_check(ctx, h, wfname);
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
    snprintf(c->house_id, sizeof c->house_id, "%s", house);
    snprintf(c->area, sizeof c->area, "%s", area);
    snprintf(c->source, sizeof c->source, "%s", source);
    snprintf(c->team, sizeof c->team, "%s", team ? team : "");
    wf_error_t werr = {0};
    if ((rc = wf_open(def, d->cat, c, lb_map_get(h, "deprived"), ctx->now, &werr))) {
        if (rc == LB_EBADREQ && strcmp(werr.field, "deprived") == 0)
            snprintf(werr.field, sizeof werr.field, "household.deprived");
        return fail_wf(ctx, &werr);
    }
    /* Personal data: sealed beside the case, national ids also as keyed hashes. */
    lb_buf_t sealed = {0};
    rc = lbd_pii_seal(&d->keys, c->case_id, h, &sealed);
    if (rc == 0)
        rc = store_pii_put(ctx->txn, id, sealed.p, sealed.len);
    lb_buf_free(&sealed);
    const lb_val_t *members = lb_map_get(h, "members");
    for (uint32_t i = 0; rc == 0 && members && i < members->a.n; i++) {
        const char *nid = lb_map_str(members->a.items[i], "nid");
        if (nid) {
            uint8_t hash[32];
            lbd_nid_hash(&d->keys, nid, hash);
            rc = store_nid_add(ctx->txn, hash, id);
        }
    }
    if (rc)
        return rc;
    lb_val_t *ev = event_new(c, ctx->now, "case", "opened", ctx->client->name);
    if (!ev)
        return LB_ENOMEM;
    rc = lb_map_set_str(ev, "to", c->state);
    lb_val_t *data = lb_map();
    if (data) {
        lb_map_set_str(data, "source", c->source);
        if (c->team[0])
            lb_map_set_str(data, "team", c->team);
    }
    rc |= lb_map_set(ev, "data", data);
    if (rc == 0)
        rc = record_change(d, ctx->txn, ctx->pubs, c, NULL, ev, seq_out);
    lb_val_free(&ev);
    return rc;
}

static const char *arg_str(const lbd_ctx_t *ctx, const char *key, const char *def)
{
    const char *s = lb_map_str(ctx->req->args, key);
    return s ? s : def;
}

static int op_case_open(lbd_ctx_t *ctx)
{
    wf_case_t c = {0};
    uint64_t seq = 0;
    int rc = open_one(ctx, lb_map_get(ctx->req->args, "household"),
                      arg_str(ctx, "workflow", ctx->d->cfg.default_workflow),
                      arg_str(ctx, "source", "tpmap"), arg_str(ctx, "team", NULL), &seq, &c);
    if (rc == 0 && (rc = result_map(ctx)) == 0) {
        rc = lb_map_set_str(ctx->result, "case_id", c.case_id);
        rc |= lb_map_set_str(ctx->result, "state", c.state);
        rc |= lb_map_set_int(ctx->result, "seq", (int64_t)seq);
    }
    wf_case_clear(&c);
    return rc;
}

static int op_case_import(lbd_ctx_t *ctx)
{
    const lb_val_t *hs = lb_map_get(ctx->req->args, "households");
    const char *wfname = arg_str(ctx, "workflow", ctx->d->cfg.default_workflow);
    const char *source = arg_str(ctx, "source", "tpmap");
    if (!wf_set_get(ctx->d->wfs, wfname, 0))
        return lbd_fail(ctx, LB_ENOTFOUND, "workflow", "no workflow '%s'", wfname);
    lb_val_t *errors = lb_arr();
    if (!errors)
        return LB_ENOMEM;
    int64_t opened = 0, skipped = 0;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < hs->a.n; i++) {
        const lb_val_t *h = hs->a.items[i];
        proto_err_t perr = {0};
        ctx->errmsg[0] = '\0';
        int code = proto_check_household(h, &perr);
        const char *msg = perr.message;
        if (code == 0) {
            code = open_check(ctx, h, wfname);
            msg = ctx->errmsg;
        }
        if (code == 0) {
            /* Checked: from here only the store can fail, and that fails the request. */
            wf_case_t c = {0};
            uint64_t seq;
            rc = open_one(ctx, h, wfname, source, NULL, &seq, &c);
            wf_case_clear(&c);
            opened++;
        } else if (code == LB_ECONFLICT) {
            skipped++;
        } else if (code <= LB_ENOMEM) {
            rc = code; /* the store, not the household */
        } else {
            lb_val_t *e = lb_map();
            int r = e ? 0 : LB_ENOMEM;
            r |= lb_map_set_int(e, "index", i);
            r |= lb_map_set_str(e, "code", lb_errcode(code));
            r |= lb_map_set_str(e, "message", msg[0] ? msg : lb_strerror(code));
            if (r == 0)
                r = lb_arr_push(errors, e);
            else
                lb_val_free(&e);
            if (r)
                rc = LB_ENOMEM;
        }
    }
    ctx->errmsg[0] = '\0';
    ctx->errfield[0] = '\0';
    ctx->errcase[0] = '\0';
    if (rc == 0 && (rc = result_map(ctx)) == 0) {
        rc = lb_map_set_int(ctx->result, "opened", opened);
        rc |= lb_map_set_int(ctx->result, "skipped", skipped);
        rc |= lb_map_set(ctx->result, "errors", errors);
        errors = NULL;
    }
    lb_val_free(&errors);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* acting on cases                                                         */
/* ---------------------------------------------------------------------- */

static int op_case_act(lbd_ctx_t *ctx)
{
    wf_case_t c;
    case_snap_t old;
    int rc = load_arg_case(ctx, &c, &old);
    if (rc)
        return rc;
    const lb_val_t *args = ctx->req->args;
    wf_outcome_t out = {0};
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
        rc = lbd_fail(ctx, LB_EBADREQ, "at", "at is more than 5 minutes ahead of the daemon's clock");
        goto out;
    }
    /* Teams that opened a case offline sync its earlier work late, so `at` may precede
     * opened_at; a year before it is a wrong clock, not late syncing. */
    if (at < c.opened_at - LBD_PAST_SLACK_MS) {
        rc = lbd_fail(ctx, LB_EBADREQ, "at", "at is more than a year before case %s was opened",
                      c.case_id);
        goto out;
    }
    const wf_def_t *def = case_def(ctx->d, &c);
    if (!def) {
        rc = lbd_fail(ctx, LB_ENOTFOUND, "case_id", "workflow '%s' of case %s is not loaded",
                      c.workflow, c.case_id);
        goto out;
    }
    wf_act_t act = {.action = lb_map_str(args, "action"),
                    .data = lb_map_get(args, "data"),
                    .role = lbd_role_name(ctx->client->role),
                    .actor = ctx->client->name,
                    .at = at};
    wf_error_t werr = {0};
    if ((rc = wf_apply(def, ctx->d->cat, &c, &act, &out, &werr))) {
        /* The engine names fields inside data; on the wire paths are relative to args. */
        if (rc == LB_EGUARD && werr.field[0]) {
            char path[WF_NAME_MAX + 8];
            snprintf(path, sizeof path, "data.%s", werr.field);
            snprintf(werr.field, sizeof werr.field, "%.*s", (int)sizeof werr.field - 1, path);
        }
        rc = fail_wf(ctx, &werr);
        goto out;
    }
    ev = event_new(&c, ctx->now, out.kind, "acted", ctx->client->name);
    rc = ev ? 0 : LB_ENOMEM;
    if (rc == 0 && out.state_changed) {
        rc |= lb_map_set_str(ev, "from", out.from);
        rc |= lb_map_set_str(ev, "to", out.to);
    }
    if (rc == 0)
        rc = lb_map_set_str(ev, "action", act.action);
    if (rc == 0 && out.event_data) {
        rc = lb_map_set(ev, "data", out.event_data);
        out.event_data = NULL;
    }
    uint64_t seq = 0;
    if (rc == 0)
        rc = record_change(ctx->d, ctx->txn, ctx->pubs, &c, &old, ev, &seq);
    if (rc == 0 && (rc = result_map(ctx)) == 0) {
        rc = lb_map_set_str(ctx->result, "case_id", c.case_id);
        rc |= lb_map_set_str(ctx->result, "state", c.state);
        rc |= lb_map_set_int(ctx->result, "seq", (int64_t)seq);
        if (c.level[0])
            rc |= lb_map_set_str(ctx->result, "level", c.level);
    }
out:
    lb_val_free(&ev);
    wf_outcome_clear(&out);
    wf_case_clear(&c);
    return rc;
}

static int op_case_ack(lbd_ctx_t *ctx)
{
    wf_case_t c;
    case_snap_t old;
    int rc = load_arg_case(ctx, &c, &old);
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
        rc = lbd_fail(ctx, rc, "case_id", "the latest escalation of case %s is already acknowledged",
                      c.case_id);
        goto out;
    }
    if (rc)
        goto out;
    ev = event_new(&c, ctx->now, "escalation", "acked", ctx->client->name);
    rc = ev ? 0 : LB_ENOMEM;
    if (rc == 0) {
        rc |= lb_map_set_str(ev, "level", e.level);
        rc |= lb_map_set_int(ev, "step", e.step);
        const char *note = lb_map_str(ctx->req->args, "note");
        if (note) {
            lb_val_t *data = lb_map();
            rc |= lb_map_set_str(data, "note", note);
            rc |= lb_map_set(ev, "data", data);
        }
    }
    uint64_t seq = 0;
    if (rc == 0)
        rc = record_change(ctx->d, ctx->txn, ctx->pubs, &c, &old, ev, &seq);
    if (rc == 0 && (rc = result_map(ctx)) == 0) {
        rc = lb_map_set_str(ctx->result, "case_id", c.case_id);
        rc |= lb_map_set_int(ctx->result, "step", e.step);
        rc |= lb_map_set_str(ctx->result, "level", e.level);
    }
out:
    lb_val_free(&ev);
    wf_case_clear(&c);
    return rc;
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
        case_snap_t old;
        if ((rc = case_load(d, txn, id, &c, &old))) {
            /* A timer without its case cannot fire; drop it rather than spin on it. */
            lbd_log(LBD_LOG_ERROR, "timer for missing case %llu dropped: %s",
                    (unsigned long long)id, lb_strerror(rc));
            if ((rc = store_timer_clear(txn, id)))
                return rc;
            continue;
        }
        wf_escalation_t e;
        while (rc == 0 && wf_fire_due(&c, now, &e) == 1) {
            lb_val_t *ev = event_new(&c, now, "escalation", "fired", "logbookd");
            rc = ev ? 0 : LB_ENOMEM;
            if (rc == 0) {
                rc |= lb_map_set_str(ev, "level", e.level);
                rc |= lb_map_set_int(ev, "step", e.step);
                lb_val_t *data = lb_map();
                rc |= lb_map_set_str(data, "state", e.state);
                rc |= lb_map_set_int(data, "due", e.at);
                rc |= lb_map_set(ev, "data", data);
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
            rc = case_save(d, txn, &c, &old);
        wf_case_clear(&c);
        if (rc)
            return rc;
    }
    return 0;
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

static int op_case_get(lbd_ctx_t *ctx)
{
    wf_case_t c;
    case_snap_t snap;
    int rc = load_arg_case(ctx, &c, &snap);
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
    int rc = case_load(f->ctx->d, f->ctx->txn, id, &c, NULL);
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

static int op_case_find(lbd_ctx_t *ctx)
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
    if (rc == 0 && (rc = result_map(ctx)) == 0) {
        rc = lb_map_set(ctx->result, "cases", f.ids);
        f.ids = NULL;
    }
    lb_val_free(&f.ids);
    return rc;
}

static int op_case_history(lbd_ctx_t *ctx)
{
    wf_case_t c;
    int rc = load_arg_case(ctx, &c, NULL);
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
    if (rc == 0 && (rc = result_map(ctx)) == 0) {
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

static int op_case_list(lbd_ctx_t *ctx)
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
    if (rc == 0 && (rc = result_map(ctx)) == 0) {
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
    rc |= lb_map_set_str(r, "key", key);
    for (size_t i = 0; i < 8; i++)
        rc |= lb_map_set_int(r, ints[i], 0);
    rc |= lb_map_set(r, "by_state", lb_map());
    lb_val_t *needs = lb_map();
    for (int i = 0; i < WF_NDIM; i++)
        rc |= lb_map_set_int(needs, wf_dimensions[i], 0);
    rc |= lb_map_set(r, "needs_open", needs);
    lb_val_t *levels = lb_map();
    for (int i = 0; i < WF_NPROGRESS; i++)
        rc |= lb_map_set_int(levels, wf_progress_levels[i], 0);
    rc |= lb_map_set(r, "levels", levels);
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
        rc |= lb_map_set_int(row, "cases", n);
        rc |= row_add(row, strcmp(field, "by_state") == 0   ? "state:"
                           : strcmp(field, "levels") == 0 ? "level:"
                                                           : "need:",
                      0);
        lb_val_t *s = lb_map_get(row, field);
        rc |= lb_map_set_int(s, sub->m.keys[i], n);
        if (rc || lb_arr_push(out, row))
            return LB_ENOMEM;
    }
    return 0;
}

static int op_report_summary(lbd_ctx_t *ctx)
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
    if (rc == 0 && (rc = result_map(ctx)) == 0) {
        lb_map_set_str(r.totals, "key", area ? area : "");
        rc = lb_map_set(ctx->result, "rows", rows);
        rows = NULL;
        rc |= lb_map_set(ctx->result, "totals", r.totals);
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

static int op_events_since(lbd_ctx_t *ctx)
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
    if (rc == 0 && (rc = result_map(ctx)) == 0) {
        rc = lb_map_set(ctx->result, "events", s.events);
        s.events = NULL;
        rc |= lb_map_set_int(ctx->result, "last_seq", (int64_t)tip);
    }
    lb_val_free(&s.events);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* admin                                                                   */
/* ---------------------------------------------------------------------- */

static int op_admin_stats(lbd_ctx_t *ctx)
{
    lbd_t *d = ctx->d;
    store_stats_t st;
    int rc = store_stats(d->store, &st);
    if (rc)
        return rc;
    if ((rc = result_map(ctx)))
        return rc;
    lb_val_t *r = ctx->result;
    rc = lb_map_set_int(r, "cases", (int64_t)st.cases);
    rc |= lb_map_set_int(r, "events", (int64_t)st.events);
    rc |= lb_map_set_int(r, "db_bytes", (int64_t)st.db_bytes);
    rc |= lb_map_set_int(r, "map_bytes", (int64_t)st.map_bytes);
    rc |= lb_map_set_int(r, "timers", (int64_t)st.timers);
    rc |= lb_map_set_int(r, "idem_records", (int64_t)st.idem);
    rc |= lb_map_set_int(r, "requests", (int64_t)d->n_requests);
    rc |= lb_map_set_int(r, "writes", (int64_t)d->n_writes);
    rc |= lb_map_set_int(r, "reads", (int64_t)d->n_reads);
    rc |= lb_map_set_int(r, "commits", (int64_t)d->n_commits);
    rc |= lb_map_set_int(r, "max_batch", (int64_t)d->max_batch);
    rc |= lb_map_set_int(r, "idem_hits", (int64_t)d->n_idem_hits);
    rc |= lb_map_set_int(r, "events_published", (int64_t)d->n_events);
    rc |= lb_map_set_int(r, "escalations_fired", (int64_t)d->n_fired);
    rc |= lb_map_set_int(r, "errors", (int64_t)d->n_errors);
    /* where write batches spend their time: executing requests, and committing (fsync) */
    rc |= lb_map_set_int(r, "batch_exec_us", (int64_t)d->us_exec);
    rc |= lb_map_set_int(r, "batch_commit_us", (int64_t)(d->us_write - d->us_exec));
    rc |= lb_map_set_int(r, "now", lbd_now(d));
    rc |= lb_map_set_bool(r, "manual_clock", d->manual_clock);
    rc |= lb_map_set_int(r, "workflows", (int64_t)wf_set_count(d->wfs));
    rc |= lb_map_set_int(r, "clients", (int64_t)d->reg.n);
    return rc ? LB_ENOMEM : 0;
}

static int op_admin_backup(lbd_ctx_t *ctx)
{
    const char *path = lb_map_str(ctx->req->args, "path");
    uint64_t bytes = 0;
    int rc = store_backup(ctx->d->store, path, &bytes);
    if (rc)
        return lbd_fail(ctx, rc == LB_EEXIST ? LB_ECONFLICT : LB_EUNAVAIL, "path",
                        "backup to %s failed: %s", path, lb_strerror(rc));
    lbd_log(LBD_LOG_INFO, "backup written to %s (%llu bytes)", path, (unsigned long long)bytes);
    if ((rc = result_map(ctx)))
        return rc;
    return lb_map_set_int(ctx->result, "bytes", (int64_t)bytes);
}

static int op_admin_reload(lbd_ctx_t *ctx)
{
    char err[512];
    int rc = lbd_reload(ctx->d, err, sizeof err);
    if (rc)
        return lbd_fail(ctx, LB_EBADREQ, NULL, "reload refused, old definitions kept: %s", err);
    if ((rc = result_map(ctx)))
        return rc;
    rc = lb_map_set_int(ctx->result, "workflows", (int64_t)wf_set_count(ctx->d->wfs));
    rc |= lb_map_set_int(ctx->result, "clients", (int64_t)ctx->d->reg.n);
    return rc ? LB_ENOMEM : 0;
}

typedef struct {
    uint8_t chain[32];
    uint64_t n, expect, first_bad;
} verify_t;

static int verify_cb(uint64_t seq, const void *body, size_t len, void *arg)
{
    verify_t *v = arg;
    v->n++;
    if (seq != v->expect || proto_event_check(body, len, v->chain, v->chain) != 0) {
        v->first_bad = seq;
        return 1;
    }
    v->expect++;
    return 0;
}

static int op_admin_verify(lbd_ctx_t *ctx)
{
    verify_t v = {.expect = 1};
    uint64_t tip;
    uint8_t tip_chain[32];
    int rc = store_event_tip(ctx->txn, &tip, tip_chain);
    if (rc == 0)
        rc = store_events(ctx->txn, 0, verify_cb, &v);
    if (rc)
        return rc;
    /* The stored tip must be where the chain ends, or events were cut off the end. */
    if (!v.first_bad && (v.expect != tip + 1 || memcmp(v.chain, tip_chain, 32) != 0))
        v.first_bad = v.expect <= tip ? v.expect : tip;
    if (v.first_bad)
        lbd_log(LBD_LOG_ERROR, "audit chain broken at seq %llu", (unsigned long long)v.first_bad);
    if ((rc = result_map(ctx)))
        return rc;
    rc = lb_map_set_int(ctx->result, "events", (int64_t)v.n);
    rc |= lb_map_set_bool(ctx->result, "ok", v.first_bad == 0);
    if (v.first_bad)
        rc |= lb_map_set_int(ctx->result, "first_bad_seq", (int64_t)v.first_bad);
    return rc ? LB_ENOMEM : 0;
}

static int op_admin_clock(lbd_ctx_t *ctx)
{
    lbd_t *d = ctx->d;
    if (!d->manual_clock)
        return lbd_fail(ctx, LB_EFORBIDDEN, NULL, "the daemon does not run with --clock manual");
    int64_t adv = 0;
    lb_map_int(ctx->req->args, "advance_s", &adv);
    int64_t now = d->manual_now + adv * 1000;
    size_t fired = 0;
    /* Timers due at the new time fire in this transaction, before the reply. */
    int rc = lbd_fire_due(d, ctx->txn, ctx->pubs, now, SIZE_MAX, &fired);
    if (rc)
        return rc;
    d->manual_now = now; /* the batch is re-run from the start if the map grows: see server.c */
    d->n_fired += fired;
    if ((rc = result_map(ctx)))
        return rc;
    return lb_map_set_int(ctx->result, "now", now);
}

/* ---------------------------------------------------------------------- */
/* dispatch                                                                */
/* ---------------------------------------------------------------------- */

#define R_FIELD (1u << LBD_ROLE_FIELD)
#define R_COMMITTEE (1u << LBD_ROLE_COMMITTEE)
#define R_REPORTER (1u << LBD_ROLE_REPORTER)
#define R_ADMIN (1u << LBD_ROLE_ADMIN)
#define R_ALL (R_FIELD | R_COMMITTEE | R_REPORTER | R_ADMIN)

static const struct {
    int (*fn)(lbd_ctx_t *);
    unsigned roles;
} handlers[PROTO_OP_COUNT] = {
    [PROTO_OP_PING] = {op_ping, R_ALL},
    [PROTO_OP_WORKFLOW_LIST] = {op_workflow_list, R_ALL},
    [PROTO_OP_WORKFLOW_GET] = {op_workflow_get, R_ALL},
    [PROTO_OP_CASE_OPEN] = {op_case_open, R_FIELD | R_COMMITTEE | R_ADMIN},
    [PROTO_OP_CASE_IMPORT] = {op_case_import, R_COMMITTEE | R_ADMIN},
    [PROTO_OP_CASE_ACT] = {op_case_act, R_FIELD | R_COMMITTEE | R_ADMIN},
    [PROTO_OP_CASE_ACK] = {op_case_ack, R_COMMITTEE | R_ADMIN},
    [PROTO_OP_CASE_GET] = {op_case_get, R_ALL},
    [PROTO_OP_CASE_FIND] = {op_case_find, R_ALL},
    [PROTO_OP_CASE_HISTORY] = {op_case_history, R_ALL},
    [PROTO_OP_CASE_LIST] = {op_case_list, R_ALL},
    [PROTO_OP_REPORT_SUMMARY] = {op_report_summary, R_ALL},
    [PROTO_OP_EVENTS_SINCE] = {op_events_since, R_ALL},
    [PROTO_OP_ADMIN_STATS] = {op_admin_stats, R_ADMIN},
    [PROTO_OP_ADMIN_BACKUP] = {op_admin_backup, R_ADMIN},
    [PROTO_OP_ADMIN_RELOAD] = {op_admin_reload, R_ADMIN},
    [PROTO_OP_ADMIN_VERIFY] = {op_admin_verify, R_ADMIN},
    [PROTO_OP_ADMIN_CLOCK] = {op_admin_clock, R_ADMIN},
};

int lbd_execute(lbd_ctx_t *ctx)
{
    proto_op_t op = ctx->req->op;
    if ((unsigned)op >= PROTO_OP_COUNT || !handlers[op].fn)
        return lbd_fail(ctx, LB_EUNKNOWNOP, "op", "unknown op");
    if (!(handlers[op].roles & (1u << ctx->client->role)))
        return lbd_fail(ctx, LB_EFORBIDDEN, "op", "role %s may not run %s",
                        lbd_role_name(ctx->client->role), proto_op_name(op));
    /* The events stream is for keys allowed to subscribe; events.since is the same stream. */
    if (op == PROTO_OP_EVENTS_SINCE && !ctx->client->events && ctx->client->role != LBD_ROLE_ADMIN)
        return lbd_fail(ctx, LB_EFORBIDDEN, "op", "client %s may not read the event stream",
                        ctx->client->name);
    return handlers[op].fn(ctx);
}
