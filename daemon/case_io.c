/*
 * case_io.c - what every operation handler shares: loading and saving a case
 * with its indexes, counters and timer, building and emitting events onto the
 * audit chain, and failing a request with detail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

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

/* An event body with the common keys, in the order of PROTOCOL.md section 7 (each set once, so
 * appended without a search). */
lb_val_t *lbd_event_new(const wf_case_t *c, int64_t at, const char *kind, const char *type,
                        const char *actor)
{
    lb_val_t *b = lb_map();
    if (!b)
        return NULL;
    int rc = 0;
    lb_add_int(b, "v", 1, &rc);
    lb_add_int(b, "seq", 0, &rc);
    lb_add_int(b, "at", at, &rc);
    lb_add_str(b, "kind", kind, &rc);
    lb_add_str(b, "type", type, &rc);
    lb_add_str(b, "case_id", c->case_id, &rc);
    lb_add_str(b, "house_id", c->house_id, &rc);
    lb_add_str(b, "area", c->area, &rc);
    lb_add_str(b, "workflow", c->workflow, &rc);
    lb_add_str(b, "actor", actor, &rc);
    if (rc)
        lb_val_free(&b);
    return b;
}

const wf_def_t *lbd_case_def(const lbd_t *d, const wf_case_t *c)
{
    const wf_def_t *def = wf_set_get(d->wfs, c->workflow, c->workflow_version);
    /* A version no longer shipped runs under the newest definition of its name. */
    return def ? def : wf_set_get(d->wfs, c->workflow, 0);
}

static void case_meta(const lbd_t *d, const wf_case_t *c, store_case_meta_t *m)
{
    /* Not the extra counters (24 KB): the store reads only the n_extra that ledger_meta fills. */
    memset(m, 0, offsetof(store_case_meta_t, extra));
    snprintf(m->area, sizeof m->area, "%s", c->area);
    snprintf(m->state, sizeof m->state, "%s", c->state);
    snprintf(m->house_id, sizeof m->house_id, "%s", c->house_id);
    const wf_def_t *def = lbd_case_def(d, c);
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
    m->at = lbd_now(d); /* the month counters count a change in the daemon's month */
    lbd_ledger_meta(c, m);
}

static int case_summary(const wf_case_t *c, const store_case_meta_t *m, lb_buf_t *out)
{
    lb_val_t *s = lb_map();
    if (!s)
        return LB_ENOMEM;
    int rc = 0;
    lb_add_str(s, "case_id", c->case_id, &rc);
    lb_add_str(s, "house_id", c->house_id, &rc);
    lb_add_str(s, "area", c->area, &rc);
    lb_add_str(s, "workflow", c->workflow, &rc);
    lb_add_str(s, "state", c->state, &rc);
    lb_add_int(s, "entered_at", c->entered_at, &rc);
    if (c->team[0])
        lb_add_str(s, "team", c->team, &rc);
    lb_add_bool(s, "overdue", m->overdue, &rc);
    lb_add_bool(s, "unacked", m->unacked, &rc);
    if (m->esc_level[0])
        lb_add_str(s, "escalation", m->esc_level, &rc);
    if (rc == 0)
        rc = proto_pack(s, out);
    lb_val_free(&s);
    return rc ? LB_ENOMEM : 0;
}

static bool pending_timer(const store_case_meta_t *m, const wf_case_t *c, int64_t *due,
                          uint32_t *step)
{
    if (!m->open || wf_next_due(c, due) != 1)
        return false;
    *step = c->timers[0].step;
    return true;
}

static void case_snap(const lbd_t *d, const wf_case_t *c, lbd_case_snap_t *s)
{
    case_meta(d, c, &s->meta);
    s->entered_at = c->entered_at;
    snprintf(s->team, sizeof s->team, "%s", c->team);
    s->has_timer = pending_timer(&s->meta, c, &s->due, &s->step);
}

/*
 * lbd_case_save's buffers, kept from one call to the next on the thread that writes (the store
 * copies what it is given), and let go when a large case grew them past CASE_BUF_KEEP.
 */
#define CASE_BUF_KEEP (64u << 10)
static _Thread_local lb_buf_t case_body, case_sum;

static void case_buf_done(lb_buf_t *b)
{
    if (b->cap > CASE_BUF_KEEP)
        lb_buf_free(b);
    else
        b->len = 0;
}

/* Writes a case, its indexes, counters and pending timer. old: as loaded, or NULL. */
int lbd_case_save(const lbd_t *d, store_txn_t *txn, const wf_case_t *c, const lbd_case_snap_t *old)
{
    store_case_meta_t m;
    case_meta(d, c, &m);
    lb_buf_t *body = &case_body, *sum = &case_sum;
    body->len = sum->len = 0;
    int rc = wf_case_pack(c, body);
    /* The summary shows area, state, entered_at, team, overdue, unacked and escalation; the
     * rest (case, house and workflow) never changes. A moved case (transfer, remap) is new. */
    bool same_summary = old && strcmp(old->meta.area, m.area) == 0 &&
                        strcmp(old->meta.state, m.state) == 0 && old->meta.overdue == m.overdue &&
                        old->meta.unacked == m.unacked &&
                        strcmp(old->meta.esc_level, m.esc_level) == 0 &&
                        old->entered_at == c->entered_at && strcmp(old->team, c->team) == 0;
    if (rc == 0 && !same_summary)
        rc = case_summary(c, &m, sum);
    if (rc == 0)
        rc = store_case_put(txn, c->id, old ? &old->meta : NULL, &m, body->p, body->len,
                            same_summary ? NULL : sum->p, same_summary ? 0 : sum->len);
    if (rc == 0) {
        int64_t due;
        uint32_t step;
        bool has = pending_timer(&m, c, &due, &step);
        bool same_timer =
            old && old->has_timer == has && (!has || (old->due == due && old->step == step));
        if (!same_timer)
            rc = has ? store_timer_set(txn, c->id, due, step) : store_timer_clear(txn, c->id);
    }
    case_buf_done(body);
    case_buf_done(sum);
    return rc;
}

/* Decodes a stored case: 0, LB_ENOMEM or LB_ECORRUPT (c cleared). */
static int case_decode(const void *p, size_t n, wf_case_t *c)
{
    return wf_case_unpack(p, n, c);
}

/* Loads a case by id; *snap as stored (for case_save), may be NULL. */
int lbd_case_load(const lbd_t *d, store_txn_t *txn, uint64_t id, wf_case_t *c,
                  lbd_case_snap_t *snap)
{
    const void *p;
    size_t n;
    memset(c, 0, sizeof *c);
    int rc = store_case_get(txn, id, &p, &n);
    if (rc == 0)
        rc = case_decode(p, n, c);
    if (rc)
        return rc;
    if (snap)
        case_snap(d, c, snap);
    return 0;
}

/* store_counts_verify's view of one stored case: the meta case_save would give it. */
static int verify_meta(uint64_t id, const void *data, size_t len, store_case_meta_t *meta,
                       void *ctx)
{
    (void)id;
    wf_case_t c;
    int rc = case_decode(data, len, &c);
    if (rc == LB_ECORRUPT)
        return LB_ECORRUPT; /* admin.verify lists unreadable cases on its own */
    if (rc)
        return rc;
    case_meta(ctx, &c, meta);
    meta->at = 0; /* month counters only grow: they are not recomputed */
    wf_case_clear(&c);
    return 0;
}

int lbd_verify_counters(const lbd_t *d, store_txn_t *txn, store_count_diff_t *diff)
{
    return store_counts_verify(txn, 8, verify_meta, (void *)d, diff);
}

/* A change is its event and the case that records it as last_seq: always both, in this order. */
int lbd_record_change(const lbd_t *d, store_txn_t *txn, lbd_pubs_t *pubs, wf_case_t *c,
                      const lbd_case_snap_t *old, lb_val_t *ev, uint64_t *seq)
{
    int rc = lbd_emit(txn, pubs, ev, seq);
    if (rc == 0)
        rc = wf_case_add_event(c, *seq);
    if (rc == 0) {
        c->last_seq = *seq;
        rc = lbd_case_save(d, txn, c, old);
    }
    return rc;
}

/* Loads the case named by args.case_id and checks the client's scope. */
int lbd_load_arg_case(lbd_ctx_t *ctx, wf_case_t *c, lbd_case_snap_t *snap)
{
    const char *cid = lb_map_str(ctx->req->args, "case_id");
    uint64_t id;
    if (!cid || lb_case_id_parse(cid, &id))
        return lbd_fail(ctx, LB_EBADREQ, "case_id", "malformed case id");
    int rc = lbd_case_load(ctx->d, ctx->txn, id, c, snap);
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

int lbd_fail_wf(lbd_ctx_t *ctx, const wf_error_t *e)
{
    if (e->case_id[0]) /* the case itself is the cause (too_large: it is full) */
        snprintf(ctx->errcase, sizeof ctx->errcase, "%s", e->case_id);
    return lbd_fail(ctx, e->code, e->field[0] ? e->field : NULL, "%s", e->message);
}

int lbd_result_map(lbd_ctx_t *ctx)
{
    ctx->result = lb_map();
    return ctx->result ? 0 : LB_ENOMEM;
}

/* ---------------------------------------------------------------------- */
/* unreadable cases (admin.verify)                                         */
/* ---------------------------------------------------------------------- */

void lbd_ids_free(lbd_ids_t *v)
{
    free(v->v);
    memset(v, 0, sizeof *v);
}

int lbd_ids_push(lbd_ids_t *v, uint64_t id)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        uint64_t *p = realloc(v->v, cap * sizeof *p);
        if (!p)
            return LB_ENOMEM;
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = id;
    return 0;
}

int lbd_ids_collect(uint64_t id, const char *area, const char *state, const void *summary,
                    size_t slen, void *arg)
{
    (void)area;
    (void)state;
    (void)summary;
    (void)slen;
    return lbd_ids_push(arg, id);
}

int lbd_verify_unreadable(const lbd_t *d, store_txn_t *txn, lb_val_t *out, size_t max, uint64_t *n)
{
    lbd_ids_t v = {0};
    *n = 0;
    int rc = store_list(txn, NULL, NULL, NULL, NULL, 0, lbd_ids_collect, &v);
    for (size_t i = 0; rc == 0 && i < v.n; i++) {
        wf_case_t c;
        int lrc = lbd_case_load(d, txn, v.v[i], &c, NULL);
        wf_case_clear(&c);
        if (lrc == LB_ECORRUPT) {
            char cid[LB_CASE_ID_MAX];
            lb_case_id_format(v.v[i], cid);
            lbd_log(LBD_LOG_ERROR, "case %s cannot be read", cid);
            if ((*n)++ < max)
                rc = lb_arr_push(out, lb_str(cid));
        } else if (lrc && lrc != LB_ENOTFOUND) {
            rc = lrc;
        }
    }
    lbd_ids_free(&v);
    return rc;
}
