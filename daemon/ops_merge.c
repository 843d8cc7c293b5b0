/*
 * ops_merge.c - duplicate households (PROTOCOL.md 9.18): case.duplicates
 * lists pairs of open cases that share a member's national id, case.merge
 * folds one into the other and closes it as a duplicate, with an event on
 * each case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define PAIRS_MAX 1000 /* pairs in one case.duplicates answer; more sets `truncated` */

/* ---------------------------------------------------------------------- */
/* case.duplicates                                                         */
/* ---------------------------------------------------------------------- */

typedef struct {
    uint64_t (*v)[2];
    size_t n;
    bool truncated;
} pairs_t;

/* Adds the pair {a, b} (in id order) once. 0 or LB_ENOMEM. */
static int pair_add(pairs_t *p, uint64_t a, uint64_t b)
{
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i][0] == lo && p->v[i][1] == hi)
            return 0;
    if (p->n == PAIRS_MAX) {
        p->truncated = true;
        return 0;
    }
    if (!p->v && !(p->v = calloc(PAIRS_MAX, sizeof *p->v)))
        return LB_ENOMEM;
    p->v[p->n][0] = lo;
    p->v[p->n][1] = hi;
    p->n++;
    return 0;
}

/* The pairs case id (open, inside the key's areas) makes with others. */
static int pairs_of(lbd_ctx_t *ctx, uint64_t id, pairs_t *pairs)
{
    wf_case_t c;
    lb_val_t *h = NULL, *dups = NULL;
    int rc = lbd_case_load(ctx->d, ctx->txn, id, &c, NULL);
    if (rc)
        return rc == LB_ENOTFOUND || rc == LB_ECORRUPT ? 0 : rc;
    const wf_def_t *def = lbd_case_def(ctx->d, &c);
    if (def && !wf_def_is_terminal(def, c.state, NULL) && lbd_client_covers(ctx->client, c.area)) {
        rc = lbd_household_get(ctx->d, ctx->txn, &c, &h);
        if (rc == 0)
            rc = lbd_household_duplicates(ctx, id, h, &dups);
        for (uint32_t i = 0; rc == 0 && i < dups->a.n; i++) {
            uint64_t other;
            if (lb_case_id_parse(dups->a.items[i]->s.p, &other) == 0)
                rc = pair_add(pairs, id, other);
        }
        if (rc == LB_ECORRUPT)
            rc = 0; /* personal data that does not open: admin.verify's business */
    }
    lb_val_free(&dups);
    lb_val_free(&h);
    wf_case_clear(&c);
    return rc;
}

int lbd_op_case_duplicates(lbd_ctx_t *ctx)
{
    lbd_ids_t ids = {0};
    pairs_t pairs = {0};
    int rc = store_list(ctx->txn, lb_map_str(ctx->req->args, "area"), NULL, NULL, NULL, 0,
                        lbd_ids_collect, &ids);
    for (size_t i = 0; rc == 0 && i < ids.n && !pairs.truncated; i++)
        rc = pairs_of(ctx, ids.v[i], &pairs);
    lb_val_t *list = rc ? NULL : lb_arr();
    if (rc == 0 && !list)
        rc = LB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < pairs.n; i++) {
        char a[LB_CASE_ID_MAX], b[LB_CASE_ID_MAX];
        lb_case_id_format(pairs.v[i][0], a);
        lb_case_id_format(pairs.v[i][1], b);
        lb_val_t *e = lb_map();
        if (!e)
            rc = LB_ENOMEM;
        lb_put_str(e, "a", a, &rc);
        lb_put_str(e, "b", b, &rc);
        lb_push(list, e, &rc);
    }
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_put(ctx->result, "pairs", list, &rc);
        list = NULL;
        if (pairs.truncated)
            lb_put_bool(ctx->result, "truncated", true, &rc);
    }
    lb_val_free(&list);
    free(pairs.v);
    lbd_ids_free(&ids);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* case.merge                                                              */
/* ---------------------------------------------------------------------- */

/* Loads the case an argument names, inside the key's areas and open; ctx failed otherwise. */
static int load_open(lbd_ctx_t *ctx, const char *key, wf_case_t *c, lbd_case_snap_t *snap)
{
    const char *cid = lb_map_str(ctx->req->args, key);
    uint64_t id;
    if (!cid || lb_case_id_parse(cid, &id))
        return lbd_fail(ctx, LB_EBADREQ, key, "malformed case id");
    int rc = lbd_case_load(ctx->d, ctx->txn, id, c, snap);
    if (rc == LB_ENOTFOUND)
        return lbd_fail(ctx, rc, key, "no case %s", cid);
    if (rc)
        return lbd_fail(ctx, rc, NULL, "cannot read case %s: %s", cid, lb_strerror(rc));
    if (!lbd_client_covers(ctx->client, c->area))
        rc = lbd_fail(ctx, LB_EFORBIDDEN, key, "case %s is outside your areas", cid);
    else if (!snap->meta.open) {
        snprintf(ctx->errcase, sizeof ctx->errcase, "%s", c->case_id);
        rc = c->merged_into[0] ? lbd_fail(ctx, LB_ECONFLICT, key, "case %s was merged into %s", cid,
                                          c->merged_into)
                               : lbd_fail(ctx, LB_ECONFLICT, key, "case %s is closed", cid);
    }
    if (rc)
        wf_case_clear(c);
    return rc;
}

/* drop's current members that keep lacks join keep's household (the nid index follows). */
static int merge_households(lbd_ctx_t *ctx, const wf_case_t *keep, const wf_case_t *drop)
{
    lb_val_t *hk = NULL, *hd = NULL;
    int rc = lbd_household_get(ctx->d, ctx->txn, keep, &hk);
    if (rc == 0)
        rc = lbd_household_get(ctx->d, ctx->txn, drop, &hd);
    if (rc) {
        rc = lbd_fail(ctx, rc, NULL, "personal data cannot be read: %s", lb_strerror(rc));
        goto out;
    }
    lb_val_t *mk = lb_map_get(hk, "members");
    const lb_val_t *md = lb_map_get(hd, "members");
    bool headless = lbd_household_head(hk) < 0;
    int drop_head = lbd_household_head(hd);
    for (uint32_t i = 0; rc == 0 && i < md->a.n; i++) {
        const char *nid = lb_map_str(md->a.items[i], "nid");
        if (nid && lbd_household_has(hk, nid))
            continue;
        if (mk->a.n >= 64) {
            rc = lbd_fail(ctx, LB_ETOOLARGE, "drop",
                          "the merged household would have over 64 members");
            break;
        }
        lb_push(mk, lb_val_dup(md->a.items[i]), &rc);
        if (rc == 0 && nid) {
            uint8_t hash[32];
            lbd_nid_hash(&ctx->d->keys, nid, hash);
            rc = store_nid_add(ctx->txn, hash, keep->id);
        }
    }
    /* A household without a head takes the dropped one's. */
    if (rc == 0 && headless && drop_head >= 0)
        rc = lb_map_set_str(hk, "head_nid", lb_map_str(md->a.items[drop_head], "nid"));
    if (rc == 0)
        rc = lbd_household_put(ctx->d, ctx->txn, keep, hk);
out:
    lb_val_free(&hk);
    lb_val_free(&hd);
    return rc;
}

/* The two events: drop closed as a duplicate, keep holding its records. */
static int merge_events(lbd_ctx_t *ctx, wf_case_t *keep, const lbd_case_snap_t *ks, wf_case_t *drop,
                        const lbd_case_snap_t *ds, const char *drop_from, uint32_t added,
                        uint64_t id_offset, uint64_t *seq)
{
    int rc = 0;
    uint64_t dseq;
    lb_val_t *ev = lbd_event_new(drop, ctx->now, "case", "merged", ctx->client->name);
    lb_val_t *data = lb_map();
    if (!ev || !data)
        rc = LB_ENOMEM;
    lb_put_str(ev, "from", drop_from, &rc);
    lb_put_str(ev, "to", drop->state, &rc);
    lb_put_str(data, "reason", "duplicate", &rc);
    lb_put_str(data, "merged_into", keep->case_id, &rc);
    lb_put(ev, "data", data, &rc);
    if (rc == 0)
        rc = lbd_record_change(ctx->d, ctx->txn, ctx->pubs, drop, ds, ev, &dseq);
    lb_val_free(&ev);
    if (rc)
        return rc;
    ev = lbd_event_new(keep, ctx->now, "case", "merged", ctx->client->name);
    data = lb_map();
    if (!ev || !data)
        rc = LB_ENOMEM;
    lb_put_str(data, "merged_from", drop->case_id, &rc);
    lb_put_int(data, "records", added, &rc);
    lb_put_int(data, "id_offset", (int64_t)id_offset, &rc);
    lb_put(ev, "data", data, &rc);
    if (rc == 0)
        rc = lbd_record_change(ctx->d, ctx->txn, ctx->pubs, keep, ks, ev, seq);
    lb_val_free(&ev);
    return rc;
}

int lbd_op_case_merge(lbd_ctx_t *ctx)
{
    wf_case_t keep = {0}, drop = {0};
    lbd_case_snap_t ks, ds;
    if (strcmp(lb_map_str(ctx->req->args, "keep"), lb_map_str(ctx->req->args, "drop")) == 0)
        return lbd_fail(ctx, LB_EBADREQ, "drop", "a case cannot be merged into itself");
    int rc = load_open(ctx, "keep", &keep, &ks);
    if (rc)
        return rc;
    if ((rc = load_open(ctx, "drop", &drop, &ds)))
        goto out;
    const wf_def_t *def = lbd_case_def(ctx->d, &drop);
    if (!def || !wf_def_closed_state(def)) {
        rc = lbd_fail(ctx, LB_EBADREQ, "drop", "workflow '%s' of case %s has no closed state",
                      drop.workflow, drop.case_id);
        goto out;
    }
    uint32_t added = 0;
    wf_error_t werr;
    /* drop's record ids are raised by this in keep (9.18, 9.19) */
    uint64_t id_offset = wf_case_last_record_id(&keep);
    if ((rc = wf_case_absorb(&keep, &drop, (uint32_t)ctx->d->cfg.case_records, &added, &werr))) {
        rc = lbd_fail_wf(ctx, &werr);
        goto out;
    }
    char from[WF_NAME_MAX];
    snprintf(from, sizeof from, "%s", drop.state);
    if ((rc = wf_case_close_merged(def, &drop, keep.case_id, ctx->now)))
        goto out;
    if ((rc = merge_households(ctx, &keep, &drop)))
        goto out;
    uint64_t seq = 0;
    if ((rc = merge_events(ctx, &keep, &ks, &drop, &ds, from, added, id_offset, &seq)))
        goto out;
    if ((rc = lbd_result_map(ctx)) == 0) {
        lb_put_str(ctx->result, "case_id", keep.case_id, &rc);
        lb_put_str(ctx->result, "state", keep.state, &rc);
        lb_put_int(ctx->result, "seq", (int64_t)seq, &rc);
        lb_put_str(ctx->result, "dropped", drop.case_id, &rc);
        lb_put_int(ctx->result, "records", added, &rc);
        lb_put_int(ctx->result, "id_offset", (int64_t)id_offset, &rc);
    }
out:
    wf_case_clear(&keep);
    wf_case_clear(&drop);
    return rc;
}
