/*
 * ops_casework.c - moving cases between areas and teams (PROTOCOL.md 9.17):
 * case.transfer (a household moved to another area), case.reassign (every
 * case a team held goes to another team) and the move both case.transfer and
 * admin.remap (ops_remap.c) share, whose one stored event is published under
 * the old area's topic and the new one's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* ---------------------------------------------------------------------- */
/* moving a case to another area                                           */
/* ---------------------------------------------------------------------- */

/*
 * Queues the event just emitted (the last of pubs) once more under topic: the
 * same stored bytes and seq, so the chain holds one event and subscribers of
 * either area see it. 0 or LB_ENOMEM.
 */
static int pub_again(lbd_pubs_t *pubs, const char *topic)
{
    if (pubs->n == 0)
        return LB_EINTERNAL;
    if (pubs->n == pubs->cap) {
        size_t cap = pubs->cap * 2;
        lbd_pub_t *v = realloc(pubs->v, cap * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        pubs->v = v;
        pubs->cap = cap;
    }
    lbd_pub_t *p = &pubs->v[pubs->n];
    *p = pubs->v[pubs->n - 1];
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    pubs->n++;
    return 0;
}

int lbd_case_move(lbd_ctx_t *ctx, wf_case_t *c, const lbd_case_snap_t *old, const char *to,
                  const char *type, bool restart, const char *note, uint64_t *seq)
{
    char from[sizeof c->area], from_team[sizeof c->team];
    snprintf(from, sizeof from, "%s", c->area);
    snprintf(from_team, sizeof from_team, "%s", c->team);
    int rc = 0;
    if (restart) {
        /* Another area's committees take over: their clock starts now, with no team yet. */
        const wf_def_t *def = lbd_case_def(ctx->d, c);
        rc = def ? wf_case_restart_clock(def, ctx->d->cal, c, ctx->now) : 0;
        if (rc == LB_ENOTFOUND)
            rc = 0; /* a state its definition lacks: its timers stay as they are */
        if (rc)
            return rc;
        c->team[0] = '\0';
    }
    snprintf(c->area, sizeof c->area, "%s", to);
    lb_val_t *ev = lbd_event_new(c, ctx->now, "case", type, ctx->client->name);
    lb_val_t *data = lb_map();
    if (!ev || !data)
        lb_rc(&rc, LB_ENOMEM);
    lb_put_str(data, "from_area", from, &rc);
    lb_put_str(data, "to_area", to, &rc);
    if (restart && from_team[0])
        lb_put_str(data, "from_team", from_team, &rc);
    if (note)
        lb_put_str(data, "note", note, &rc);
    lb_put(ev, "data", data, &rc); /* ev owns data now, or it was freed */
    if (rc == 0)
        rc = lbd_record_change(ctx->d, ctx->txn, ctx->pubs, c, old, ev, seq);
    if (rc == 0) {
        char topic[sizeof ctx->pubs->v[0].topic];
        snprintf(topic, sizeof topic, "case.%s", from);
        rc = pub_again(ctx->pubs, topic);
    }
    lb_val_free(&ev);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* case.transfer                                                           */
/* ---------------------------------------------------------------------- */

int lbd_op_case_transfer(lbd_ctx_t *ctx)
{
    wf_case_t c;
    lbd_case_snap_t old;
    int rc = lbd_load_arg_case(ctx, &c, &old); /* the source area must be the requester's */
    if (rc)
        return rc;
    const char *to = lb_map_str(ctx->req->args, "to_area");
    char from[sizeof c.area];
    snprintf(from, sizeof from, "%s", c.area);
    uint64_t seq = 0;
    if (!old.meta.open) {
        rc = lbd_fail(ctx, LB_EINVALID, "case_id",
                      "case %s is closed (state %s): a closed case stays where it was closed",
                      c.case_id, c.state);
    } else if (strcmp(to, c.area) == 0) {
        snprintf(ctx->errcase, sizeof ctx->errcase, "%s", c.case_id);
        rc = lbd_fail(ctx, LB_ECONFLICT, "to_area", "case %s is in area %s already", c.case_id, to);
    } else {
        rc = lbd_case_move(ctx, &c, &old, to, "transferred", true,
                           lb_map_str(ctx->req->args, "reason"), &seq);
    }
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_put_str(ctx->result, "case_id", c.case_id, &rc);
        lb_put_str(ctx->result, "from_area", from, &rc);
        lb_put_str(ctx->result, "area", c.area, &rc);
        lb_put_str(ctx->result, "state", c.state, &rc);
        lb_put_int(ctx->result, "seq", (int64_t)seq, &rc);
        /* The requester may have just handed the case out of its own sight. */
        lb_put_bool(ctx->result, "visible", lbd_client_covers(ctx->client, c.area), &rc);
    }
    wf_case_clear(&c);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* case.reassign                                                           */
/* ---------------------------------------------------------------------- */

typedef struct {
    lbd_ctx_t *ctx;
    const char *team; /* the filter's team, or NULL */
    lbd_ids_t ids;    /* the open cases matched, in walk order */
    bool over;        /* more than PROTO_REASSIGN_MAX matched */
    int rc;
} reassign_t;

static int reassign_push(reassign_t *r, uint64_t id)
{
    if (r->ids.n == PROTO_REASSIGN_MAX) {
        r->over = true;
        return 1;
    }
    return lbd_ids_push(&r->ids, id);
}

/* One indexed case: matched when it is its household's open case and on the filter's team. */
static int reassign_cb(uint64_t id, const char *area, const char *state, const void *summary,
                       size_t slen, void *arg)
{
    reassign_t *r = arg;
    (void)area;
    (void)state;
    lb_val_t *s = NULL;
    proto_err_t perr;
    int rc = proto_unpack(summary, slen, &proto_default_limits, &s, &perr);
    if (rc)
        return rc == LB_ENOMEM ? LB_ENOMEM : LB_ECORRUPT;
    const char *team = lb_map_str(s, "team");
    const char *house = lb_map_str(s, "house_id");
    bool keep = !r->team || (team && strcmp(team, r->team) == 0);
    uint64_t open_id = 0;
    if (keep && house) {
        rc = store_household_open_case(r->ctx->txn, house, &open_id);
        if (rc == LB_ENOTFOUND)
            rc = 0;
    }
    lb_val_free(&s);
    if (rc)
        return rc;
    return keep && open_id == id ? reassign_push(r, id) : 0;
}

/*
 * Walks the filter's area, or each of the key's prefixes not inside another
 * (every case once), collecting the matches in r.
 */
static int reassign_collect(lbd_ctx_t *ctx, const char *area, const char *state, reassign_t *r)
{
    if (area)
        return store_list(ctx->txn, area, state, NULL, NULL, 0, reassign_cb, r);
    const lbd_client_t *cl = ctx->client;
    int rc = 0;
    for (size_t i = 0; rc == 0 && !r->over && i < cl->n_areas; i++) {
        const char *p = cl->areas[i];
        bool inside = false;
        for (size_t j = 0; j < cl->n_areas && !inside; j++) {
            size_t qn = strlen(cl->areas[j]);
            inside = j != i && strncmp(p, cl->areas[j], qn) == 0 && (qn < strlen(p) || j < i);
        }
        if (!inside)
            rc = store_list(ctx->txn, p, state, NULL, NULL, 0, reassign_cb, r);
    }
    return rc;
}

/* Appends {case_id, code, message} for a case that could not be read. 0 or LB_ENOMEM. */
static int reassign_error(lb_val_t *errors, const char *cid, int code)
{
    lb_val_t *e = lb_map();
    int rc = e ? 0 : LB_ENOMEM;
    lb_put_str(e, "case_id", cid, &rc);
    lb_put_str(e, "code", lb_errcode(code), &rc);
    lb_put_str(e, "message", "the stored case cannot be read", &rc);
    lb_push(errors, e, &rc);
    return rc ? LB_ENOMEM : 0;
}

/*
 * Gives case id to_team: an event {kind: case, type: reassigned, data:
 * {from_team?, to_team}} and an entry {case_id, from_team?} in done; a case
 * already on to_team is counted in *same; one that cannot be read goes to
 * errors. 0, or an internal code that fails the request.
 */
static int reassign_one(lbd_ctx_t *ctx, uint64_t id, const char *to_team, lb_val_t *done,
                        lb_val_t *errors, int64_t *same)
{
    wf_case_t c;
    lbd_case_snap_t old;
    char cid[LB_CASE_ID_MAX];
    lb_case_id_format(id, cid);
    int rc = lbd_case_load(ctx->d, ctx->txn, id, &c, &old);
    if (rc == LB_ECORRUPT)
        return reassign_error(errors, cid, LB_EINTERNAL);
    if (rc)
        return rc;
    if (strcmp(c.team, to_team) == 0) {
        (*same)++;
        wf_case_clear(&c);
        return 0;
    }
    char from[sizeof c.team];
    snprintf(from, sizeof from, "%s", c.team);
    snprintf(c.team, sizeof c.team, "%s", to_team);
    lb_val_t *ev = lbd_event_new(&c, ctx->now, "case", "reassigned", ctx->client->name);
    lb_val_t *data = lb_map(), *entry = lb_map();
    if (!ev || !data || !entry)
        lb_rc(&rc, LB_ENOMEM);
    if (from[0])
        lb_put_str(data, "from_team", from, &rc);
    lb_put_str(data, "to_team", to_team, &rc);
    lb_put(ev, "data", data, &rc);
    uint64_t seq = 0;
    if (rc == 0)
        rc = lbd_record_change(ctx->d, ctx->txn, ctx->pubs, &c, &old, ev, &seq);
    lb_put_str(entry, "case_id", cid, &rc);
    if (from[0])
        lb_put_str(entry, "from_team", from, &rc);
    lb_put_int(entry, "seq", (int64_t)seq, &rc);
    lb_push(done, entry, &rc);
    lb_val_free(&ev);
    wf_case_clear(&c);
    return rc;
}

/* Moves every collected case to to_team and sets the result. 0 or an internal code. */
static int reassign_apply(lbd_ctx_t *ctx, const reassign_t *r, const char *to_team)
{
    lb_val_t *done = lb_arr(), *errors = lb_arr();
    int rc = done && errors ? 0 : LB_ENOMEM;
    int64_t same = 0;
    for (size_t i = 0; rc == 0 && i < r->ids.n; i++)
        rc = reassign_one(ctx, r->ids.v[i], to_team, done, errors, &same);
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_put_int(ctx->result, "matched", (int64_t)r->ids.n, &rc);
        lb_put_int(ctx->result, "reassigned", (int64_t)done->a.n, &rc);
        lb_put_int(ctx->result, "unchanged", same, &rc);
        lb_put(ctx->result, "cases", done, &rc);
        done = NULL;
        lb_put(ctx->result, "errors", errors, &rc);
        errors = NULL;
    }
    lb_val_free(&done);
    lb_val_free(&errors);
    return rc;
}

int lbd_op_case_reassign(lbd_ctx_t *ctx)
{
    const lb_val_t *filter = lb_map_get(ctx->req->args, "filter");
    const char *area = lb_map_str(filter, "area");
    const char *to_team = lb_map_str(ctx->req->args, "to_team");
    if (area && !lbd_client_covers(ctx->client, area))
        return lbd_fail(ctx, LB_EFORBIDDEN, "filter.area", "area %s is outside your areas", area);
    reassign_t r = {.ctx = ctx, .team = lb_map_str(filter, "team")};
    int rc = reassign_collect(ctx, area, lb_map_str(filter, "state"), &r);
    int64_t expect = -1;
    if (rc == 0 && r.over)
        rc = lbd_fail(ctx, LB_ETOOLARGE, "filter",
                      "the filter matches more than %d open cases; narrow it", PROTO_REASSIGN_MAX);
    else if (rc == 0 && lb_map_int(ctx->req->args, "expect_count", &expect) == 0 &&
             expect != (int64_t)r.ids.n)
        rc = lbd_fail(ctx, LB_ECONFLICT, "expect_count",
                      "the filter matches %zu open cases, not %lld; nothing was reassigned",
                      r.ids.n, (long long)expect);
    else if (rc == 0)
        rc = reassign_apply(ctx, &r, to_team);
    lbd_ids_free(&r.ids);
    return rc;
}
