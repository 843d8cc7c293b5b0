/*
 * reload.c - reloads that never strand a case (PROTOCOL.md 9.10). Before new
 * definitions replace the old ones, the open cases in states the new ones
 * lack are counted: the reload is refused unless the new file's `migrate`
 * map names those states; after the swap those cases move, in bounded
 * transactions, each with a "migrated" event. lbd_reload (state.c) calls in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define MIGRATE_PER_TXN 256 /* cases moved per transaction */

/* ---------------------------------------------------------------------- */
/* the check, before the swap                                              */
/* ---------------------------------------------------------------------- */

typedef struct {
    lbd_t *d;
    const wf_set_t *new_set;
    store_txn_t *txn;
    const char *name; /* the workflow looked at */
    lbd_ids_t cand;   /* cases in the state, any workflow's (scratch) */
    lbd_ids_t *move;
    char *err;
    size_t errlen;
} check_t;

/* Cases in the state: the summary names the workflow, so only those of ours are loaded. */
static int state_cb(uint64_t id, const char *area, const char *state, const void *summary,
                    size_t slen, void *arg)
{
    check_t *k = arg;
    (void)area;
    (void)state;
    lb_val_t *v = NULL;
    proto_err_t perr;
    bool ours = true; /* a summary that does not decode: look at the case itself */
    if (proto_unpack(summary, slen, &proto_default_limits, &v, &perr) == 0) {
        const char *wf = lb_map_str(v, "workflow");
        ours = !wf || strcmp(wf, k->name) == 0;
    }
    lb_val_free(&v);
    return ours ? lbd_ids_push(&k->cand, id) : 0;
}

/* Counts the open cases of (name, old_version) in state; refuses when there are any unmapped. */
static int vanished_cb(const char *state, int64_t old_version, const char *migrate_to, void *arg)
{
    check_t *k = arg;
    k->cand.n = 0;
    int rc = store_list(k->txn, NULL, state, NULL, NULL, 0, state_cb, k);
    size_t count = 0;
    for (size_t i = 0; rc == 0 && i < k->cand.n; i++) {
        wf_case_t c;
        rc = lbd_case_load(k->d, k->txn, k->cand.v[i], &c, NULL);
        if (rc == LB_ENOTFOUND || rc == LB_ECORRUPT) {
            rc = 0; /* admin.verify names unreadable cases; they cannot be moved either */
            continue;
        }
        /* The version whose definition ran the case until now (lbd_case_def, old set). */
        const wf_def_t *def = rc ? NULL : lbd_case_def(k->d, &c);
        if (def && strcmp(c.workflow, k->name) == 0 && wf_def_version(def) == old_version) {
            count++;
            if (migrate_to)
                rc = lbd_ids_push(k->move, c.id);
        }
        wf_case_clear(&c);
    }
    if (rc || count == 0 || migrate_to)
        return rc;
    const wf_def_t *next = wf_set_get(k->new_set, k->name, old_version);
    if (!next)
        next = wf_set_get(k->new_set, k->name, 0);
    if (next)
        snprintf(k->err, k->errlen,
                 "%zu open cases are in state %s, which workflow %s version %lld no longer has; "
                 "map it with migrate: {%s: NEW}",
                 count, state, k->name, (long long)wf_def_version(next), state);
    else
        snprintf(k->err, k->errlen, "%zu open cases run workflow %s, which is no longer loaded",
                 count, k->name);
    return LB_ECONFIG;
}

int lbd_reload_check(lbd_t *d, const wf_set_t *new_set, lbd_ids_t *move, char *err, size_t errlen)
{
    check_t k = {.d = d, .new_set = new_set, .move = move, .err = err, .errlen = errlen};
    int rc = store_read_begin(d->store, &k.txn);
    const char *prev = NULL;
    for (size_t i = 0; rc == 0 && i < wf_set_count(d->wfs); i++) {
        k.name = wf_def_name(wf_set_at(d->wfs, i));
        if (prev && strcmp(prev, k.name) == 0)
            continue; /* sorted by name: each name once, wf_set_vanished looks at every version */
        prev = k.name;
        rc = wf_set_vanished(d->wfs, new_set, k.name, vanished_cb, &k);
    }
    store_read_end(&k.txn);
    lbd_ids_free(&k.cand);
    if (rc && rc != LB_ECONFIG)
        snprintf(err, errlen, "cannot count the cases a reload would strand: %s", lb_strerror(rc));
    return rc;
}

/* ---------------------------------------------------------------------- */
/* the move, after the swap                                                */
/* ---------------------------------------------------------------------- */

typedef struct {
    lbd_t *d;
    const lbd_ids_t *ids;
    size_t done, moved, moved_before;
    size_t npubs, nbytes; /* d->late_pubs at the slice's start: a re-run starts there again */
    int64_t now;
} migrate_t;

static int migrate_one(lbd_t *d, store_txn_t *txn, uint64_t id, int64_t now, size_t *moved)
{
    wf_case_t c;
    lbd_case_snap_t old;
    int rc = lbd_case_load(d, txn, id, &c, &old);
    if (rc == LB_ENOTFOUND || rc == LB_ECORRUPT)
        return 0;
    if (rc)
        return rc;
    char from[WF_NAME_MAX];
    int64_t from_version = c.workflow_version;
    snprintf(from, sizeof from, "%s", c.state);
    const wf_def_t *def = lbd_case_def(d, &c);
    rc = def ? wf_case_migrate(def, d->cal, &c, now) : LB_ENOTFOUND;
    lb_val_t *ev = NULL;
    if (rc == 1) {
        ev = lbd_event_new(&c, now, "case", "migrated", "logbookd");
        rc = ev ? 0 : LB_ENOMEM;
        lb_put_str(ev, "from", from, &rc);
        lb_put_str(ev, "to", c.state, &rc);
        lb_val_t *data = lb_map();
        if (!data)
            lb_rc(&rc, LB_ENOMEM);
        lb_put_int(data, "from_version", from_version, &rc);
        lb_put_int(data, "version", c.workflow_version, &rc);
        lb_put(ev, "data", data, &rc);
        uint64_t seq;
        if (rc == 0)
            rc = lbd_record_change(d, txn, &d->late_pubs, &c, &old, ev, &seq);
        if (rc == 0)
            (*moved)++;
    } else if (rc == LB_ENOTFOUND) {
        lbd_log(LBD_LOG_ERROR, "case %s stays in state %s: no migrate entry for it", c.case_id,
                from);
        rc = 0;
    }
    lb_val_free(&ev);
    wf_case_clear(&c);
    return rc;
}

static int migrate_fn(store_txn_t *txn, void *arg)
{
    migrate_t *m = arg;
    m->d->late_pubs.n = m->npubs; /* re-runnable: store_write may call again after growing */
    m->d->late_pubs.bytes.len = m->nbytes;
    m->moved = m->moved_before;
    size_t end = m->done + MIGRATE_PER_TXN < m->ids->n ? m->done + MIGRATE_PER_TXN : m->ids->n;
    int rc = 0;
    for (size_t i = m->done; rc == 0 && i < end; i++)
        rc = migrate_one(m->d, txn, m->ids->v[i], m->now, &m->moved);
    return rc;
}

int lbd_reload_migrate(lbd_t *d, const lbd_ids_t *ids, size_t *moved, char *err, size_t errlen)
{
    migrate_t m = {.d = d, .ids = ids, .now = lbd_now(d)};
    int rc = 0;
    while (rc == 0 && m.done < ids->n) {
        m.npubs = d->late_pubs.n;
        m.nbytes = d->late_pubs.bytes.len;
        m.moved_before = m.moved;
        rc = store_write(d->store, migrate_fn, &m);
        if (rc == 0) {
            d->n_commits++;
            m.done += MIGRATE_PER_TXN;
        }
    }
    if (rc) {
        m.moved = m.moved_before;
        d->late_pubs.n = m.npubs;
        d->late_pubs.bytes.len = m.nbytes;
        snprintf(err, errlen, "reloaded, but %zu of %zu cases were not moved: %s", ids->n - m.done,
                 ids->n, lb_strerror(rc));
    }
    *moved = m.moved;
    return rc ? LB_EUNAVAIL : 0;
}
