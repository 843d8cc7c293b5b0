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
    lb_put_int(ctx->result, "now", lbd_now(ctx->d), &rc); /* the daemon's clock (added to v1) */
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
    if (rc == 0)
        rc = lbd_areas_put(ctx->d->areas, ctx->result, c.area);
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
        rc = lbd_member_view(ctx, h, ctx->result);
        if (rc == 0)
            rc = lb_map_set(ctx->result, "household", h);
        else
            lb_val_free(&h);
    }
    if (rc == 0)
        rc = lbd_redact(ctx, ctx->result);
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
    if (lbd_client_covers(f->ctx->client, c.area) && lb_arr_push(f->ids, lb_str(c.case_id))) {
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
    if (rc == 0)
        rc = lbd_redact(ctx, ctx->result);
    lb_val_free(&events);
    wf_case_clear(&c);
    return rc;
}

/* ---- case.list ---- */

typedef struct {
    lbd_ctx_t *ctx;
    const char *workflow, *team;
    bool overdue_only, unacked_only;
    int64_t limit;
    lb_val_t *cases;
    char last_area[9], last_state[64];
    uint64_t last_id;
    bool more;
    int rc;
} list_t;

/* true when m holds key as boolean true. */
static bool map_true(const lb_val_t *m, const char *key)
{
    const lb_val_t *v = lb_map_get(m, key);
    return v && v->type == LB_BOOL && v->b;
}

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
                (!l->overdue_only || (od && od->type == LB_BOOL && od->b)) &&
                (!l->unacked_only || map_true(s, "unacked"));
    if (keep) {
        if (lbd_areas_put(l->ctx->d->areas, s, area)) {
            lb_val_free(&s);
            l->rc = LB_ENOMEM;
            return 1;
        }
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
static size_t scope_prefixes(const lbd_client_t *cl, const char *area, const char **out, size_t max)
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

size_t lbd_scope_prefixes(const lbd_client_t *cl, const char *area, const char **out, size_t max)
{
    return scope_prefixes(cl, area, out, max);
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
    l.unacked_only = map_true(args, "unacked");
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
    return rc ? rc : lbd_redact(ctx, ctx->result);
}

/* ---- report.summary ---- */

/*
 * A national report by village has tens of thousands of rows (finding 6:
 * 75,000 villages took 15 s of one loop turn). So counters add into plain
 * structs found through a hash index, never by a search over the rows, and
 * each row becomes a value only to be packed, one at a time.
 */
#define ROW_NINT 8
static const char *const row_ints[ROW_NINT] = {"cases",    "open",   "visited", "assisted",
                                               "resolved", "closed", "overdue", "unacked"};

typedef struct {
    uint16_t state; /* index into report_t.states */
    int64_t n;
} row_state_t;

typedef struct {
    char key[9];
    int64_t ints[ROW_NINT];
    int64_t needs[LB_NDIM];
    int64_t levels[LB_NPROGRESS];
    row_state_t *st; /* by_state in the order the counters came */
    uint16_t nst, capst;
} row_t;

typedef struct {
    row_t *v;
    uint32_t n, cap;
    uint32_t *slot;  /* open addressing: 0 = empty, else index + 1 into v */
    uint32_t nslots; /* a power of two, kept at least twice n */
} rowtab_t;

#define REPORT_STATES_MAX 4096 /* distinct state names in one report */

typedef struct {
    rowtab_t tab;
    row_t totals;
    char *states[REPORT_STATES_MAX]; /* names of the by_state keys */
    uint32_t nstates;
    const char *by;
    /* names for rows by area, and for totals; NULL: codes only */
    const wf_areas_t *areas;
    const char *rekey; /* when set, every counter goes to this row (a scope inside the key) */
    int rc;
    row_t *last; /* the row of the previous counter: counters arrive grouped by scope */
    const lbd_trend_t *trend; /* months asked for: each area row gets its trend; else NULL */
} report_t;

static uint32_t key_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The slot where key is, or the empty slot where it would go. */
static uint32_t *rowtab_slot(const rowtab_t *t, const char *key)
{
    uint32_t mask = t->nslots - 1;
    for (uint32_t i = key_hash(key) & mask;; i = (i + 1) & mask) {
        uint32_t s = t->slot[i];
        if (s == 0 || strcmp(t->v[s - 1].key, key) == 0)
            return &t->slot[i];
    }
}

/* Makes room for one more row: the array and, at half load, the index. 0 or LB_ENOMEM. */
static int rowtab_reserve(rowtab_t *t)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        row_t *v = cap > t->cap ? realloc(t->v, cap * sizeof *v) : NULL;
        if (!v)
            return LB_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    if ((t->n + 1) * 2 <= t->nslots)
        return 0;
    uint32_t nslots = t->nslots ? t->nslots * 2 : 128;
    uint32_t *slot = nslots > t->nslots ? calloc(nslots, sizeof *slot) : NULL;
    if (!slot)
        return LB_ENOMEM;
    free(t->slot);
    t->slot = slot;
    t->nslots = nslots;
    for (uint32_t i = 0; i < t->n; i++)
        *rowtab_slot(t, t->v[i].key) = i + 1;
    return 0;
}

/* The row for key (at most 8 characters), made when it is new; NULL on LB_ENOMEM. */
static row_t *rowtab_get(rowtab_t *t, const char *key)
{
    if (rowtab_reserve(t))
        return NULL;
    uint32_t *s = rowtab_slot(t, key);
    if (*s == 0) {
        row_t *r = &t->v[t->n++];
        memset(r, 0, sizeof *r);
        snprintf(r->key, sizeof r->key, "%s", key);
        *s = t->n;
    }
    return &t->v[*s - 1];
}

static void rowtab_free(rowtab_t *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(t->v[i].st);
    free(t->v);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* Adds n to row's by_state entry for state; 0 or LB_ENOMEM. */
static int row_add_state(report_t *r, row_t *row, const char *state, int64_t n)
{
    uint32_t s = 0;
    while (s < r->nstates && strcmp(r->states[s], state) != 0)
        s++;
    if (s == r->nstates) {
        if (s == REPORT_STATES_MAX || !(r->states[s] = strdup(state)))
            return LB_ENOMEM;
        r->nstates++;
    }
    for (uint16_t i = 0; i < row->nst; i++)
        if (row->st[i].state == s) {
            row->st[i].n += n;
            return 0;
        }
    if (row->nst == row->capst) {
        uint16_t cap = row->capst ? row->capst * 2 : 4;
        row_state_t *st = realloc(row->st, cap * sizeof *st);
        if (!st)
            return LB_ENOMEM;
        row->st = st;
        row->capst = cap;
    }
    row->st[row->nst++] = (row_state_t){(uint16_t)s, n};
    return 0;
}

/* Adds one counter (a store counter name: "open", "state:visited", "need:health"...) to row. */
static int row_add(report_t *r, row_t *row, const char *name, int64_t value)
{
    int i;
    if (strncmp(name, "state:", 6) == 0)
        return row_add_state(r, row, name + 6, value);
    if (strncmp(name, "need:", 5) == 0) {
        if ((i = name_index(lb_dimensions, LB_NDIM, name + 5)) >= 0)
            row->needs[i] += value;
    } else if (strncmp(name, "level:", 6) == 0) {
        if ((i = name_index(lb_progress_levels, LB_NPROGRESS, name + 6)) >= 0)
            row->levels[i] += value;
    } else if ((i = name_index(row_ints, ROW_NINT, name)) >= 0) {
        row->ints[i] += value;
    }
    return 0; /* esc:LEVEL and future counters are not part of a row */
}

/* The row as the wire has it (PROTOCOL.md section 3), with key. NULL on LB_ENOMEM. */
static lb_val_t *row_val(const report_t *r, const row_t *row, const char *key)
{
    lb_val_t *v = lb_map(), *st = lb_map(), *needs = lb_map(), *levels = lb_map();
    int rc = v && st && needs && levels ? 0 : LB_ENOMEM;
    lb_put_str(v, "key", key, &rc);
    for (int i = 0; i < ROW_NINT; i++)
        lb_put_int(v, row_ints[i], row->ints[i], &rc);
    for (uint16_t i = 0; i < row->nst; i++)
        lb_put_int(st, r->states[row->st[i].state], row->st[i].n, &rc);
    for (int i = 0; i < LB_NDIM; i++)
        lb_put_int(needs, lb_dimensions[i], row->needs[i], &rc);
    for (int i = 0; i < LB_NPROGRESS; i++)
        lb_put_int(levels, lb_progress_levels[i], row->levels[i], &rc);
    lb_put(v, "by_state", st, &rc);
    lb_put(v, "needs_open", needs, &rc);
    lb_put(v, "levels", levels, &rc);
    if (rc)
        lb_val_free(&v);
    return v;
}

/* Adds a counter to the row keyed by the grouping of `by` (areas), or by r->rekey. */
static int report_cb(const char *scope, const char *name, uint64_t value, void *arg)
{
    report_t *r = arg;
    const char *key = r->rekey ? r->rekey : scope;
    row_t *row = r->last && strcmp(r->last->key, key) == 0 ? r->last : rowtab_get(&r->tab, key);
    if (!row || (r->rc = row_add(r, row, name, (int64_t)value)) != 0) {
        r->rc = LB_ENOMEM;
        return 1;
    }
    r->last = row;
    return 0;
}

static int totals_cb(const char *scope, const char *name, uint64_t value, void *arg)
{
    report_t *r = arg;
    (void)scope;
    if ((r->rc = row_add(r, &r->totals, name, (int64_t)value)) != 0)
        return 1;
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
    return strcmp(((const row_t *)a)->key, ((const row_t *)b)->key);
}

/*
 * One row value reused for every row of a report by area: the ints are set
 * in place and only by_state is made anew, so packing a row allocates almost
 * nothing. PROTOCOL.md section 3 has the row's keys.
 */
typedef struct {
    lb_val_t *v;
    lb_val_t *key; /* LB_STR made with room for 8 digits */
    lb_val_t *ints[ROW_NINT], *needs[LB_NDIM], *levels[LB_NPROGRESS];
} row_tmpl_t;

static int row_tmpl_init(const report_t *r, row_tmpl_t *t)
{
    const row_t zero = {0};
    memset(t, 0, sizeof *t);
    if (!(t->v = row_val(r, &zero, "00000000")))
        return LB_ENOMEM;
    t->key = lb_map_get(t->v, "key");
    for (int i = 0; i < ROW_NINT; i++)
        t->ints[i] = lb_map_get(t->v, row_ints[i]);
    for (int i = 0; i < LB_NDIM; i++)
        t->needs[i] = lb_map_get(lb_map_get(t->v, "needs_open"), lb_dimensions[i]);
    for (int i = 0; i < LB_NPROGRESS; i++)
        t->levels[i] = lb_map_get(lb_map_get(t->v, "levels"), lb_progress_levels[i]);
    return 0;
}

/* Packs row into out (appended). 0 or LB_ENOMEM. */
static int row_tmpl_pack(const report_t *r, row_tmpl_t *t, const row_t *row, lb_buf_t *out)
{
    size_t kn = strlen(row->key); /* at most 8: the key node has room for it */
    memcpy(t->key->s.p, row->key, kn + 1);
    t->key->s.n = (uint32_t)kn;
    for (int i = 0; i < ROW_NINT; i++)
        t->ints[i]->i = row->ints[i];
    for (int i = 0; i < LB_NDIM; i++)
        t->needs[i]->i = row->needs[i];
    for (int i = 0; i < LB_NPROGRESS; i++)
        t->levels[i]->i = row->levels[i];
    lb_val_t *st = lb_map();
    int rc = st ? 0 : LB_ENOMEM;
    for (uint16_t i = 0; i < row->nst; i++)
        lb_put_int(st, r->states[row->st[i].state], row->st[i].n, &rc);
    lb_put(t->v, "by_state", st, &rc);
    if (rc == 0)
        rc = lbd_areas_put(r->areas, t->v, row->key);
    if (r->trend)
        lb_put(t->v, "trend", lbd_trend_row(r->trend, row->key, &rc), &rc);
    return rc ? rc : proto_pack(t->v, out);
}

/* by area: the rows sorted by key, each packed as it is made (no tree of every row at once). */
static int rows_from_tab(report_t *r, lb_val_t *out)
{
    rowtab_t *t = &r->tab;
    if (t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, cmp_rows); /* the index is stale from here on */
    row_tmpl_t tmpl;
    lb_buf_t b = {0};
    int rc = row_tmpl_init(r, &tmpl);
    for (uint32_t i = 0; rc == 0 && i < t->n; i++) {
        b.len = 0;
        rc = row_tmpl_pack(r, &tmpl, &t->v[i], &b);
        if (rc == 0)
            rc = lb_arr_push(out, lb_raw(b.p, b.len));
    }
    lb_val_free(&tmpl.v);
    lb_buf_free(&b);
    return rc;
}

/* by state/dimension/level: one row per key of the totals' sub-map, counted in `cases`. */
static int rows_from_totals(report_t *r, lb_val_t *out)
{
    const row_t *t = &r->totals;
    int n = strcmp(r->by, "state") == 0       ? t->nst
            : strcmp(r->by, "dimension") == 0 ? LB_NDIM
                                              : LB_NPROGRESS;
    for (int i = 0; i < n; i++) {
        row_t row = {0};
        row_state_t st;
        const char *key;
        if (strcmp(r->by, "state") == 0) {
            if (!t->st)
                break; /* nst states counted means st holds them; never NULL here */
            st = t->st[i];
            row.st = &st;
            row.nst = 1;
            row.ints[0] = st.n;
            key = r->states[st.state];
        } else if (strcmp(r->by, "dimension") == 0) {
            row.ints[0] = row.needs[i] = t->needs[i];
            key = lb_dimensions[i];
        } else {
            row.ints[0] = row.levels[i] = t->levels[i];
            key = lb_progress_levels[i];
        }
        if (lb_arr_push(out, row_val(r, &row, key)))
            return LB_ENOMEM;
    }
    return 0;
}

/* Counts the client's scope (or area) into r: totals, and rows when `by` is an area level. */
static int report_count(lbd_ctx_t *ctx, report_t *r, const char *const *prefixes, size_t np)
{
    int digits = by_digits(r->by), rc = 0;
    for (size_t i = 0; rc == 0 && i < np; i++) {
        const char *p = prefixes[i];
        rc = store_counts(ctx->txn, p, totals_cb, r);
        if (rc == 0 && digits && (int)strlen(p) >= digits) {
            /* The grouping is coarser than the scope: the row holds only the scope's part. */
            char key[9];
            snprintf(key, sizeof key, "%.*s", digits, p);
            r->rekey = key;
            rc = store_counts(ctx->txn, p, report_cb, r);
            r->rekey = NULL;
        } else if (rc == 0 && digits) {
            rc = store_counts_children(ctx->txn, p, digits, report_cb, r);
        }
        if (rc == 0)
            rc = r->rc;
    }
    return rc;
}

int lbd_op_report_summary(lbd_ctx_t *ctx)
{
    const char *area = lb_map_str(ctx->req->args, "area");
    if (area && !lbd_client_covers(ctx->client, area))
        return lbd_fail(ctx, LB_EFORBIDDEN, "area", "area %s is outside your areas", area);
    report_t *r = calloc(1, sizeof *r);
    lb_val_t *rows = lb_arr(), *totals = NULL;
    const char *prefixes[64];
    size_t np = scope_prefixes(ctx->client, area, prefixes, 64);
    int64_t months = 0;
    lbd_trend_t trend;
    int rc = r && rows ? 0 : LB_ENOMEM;
    if (rc == 0) {
        r->by = lb_map_str(ctx->req->args, "by");
        r->areas = ctx->d->areas;
        rc = report_count(ctx, r, prefixes, np);
    }
    /* months (additive): each area row and the totals get their monthly trend. */
    if (rc == 0 && lb_map_int(ctx->req->args, "months", &months) == 0 && months > 0) {
        rc = lbd_trend_init(&trend, ctx->txn, lbd_now(ctx->d), (int)months, prefixes, np,
                            by_digits(r->by));
        r->trend = rc == 0 ? &trend : NULL;
    }
    if (rc == 0)
        rc = by_digits(r->by) ? rows_from_tab(r, rows) : rows_from_totals(r, rows);
    if (rc == 0 && !(totals = row_val(r, &r->totals, area ? area : "")))
        rc = LB_ENOMEM;
    if (rc == 0 && area)
        rc = lbd_areas_put(r->areas, totals, area);
    if (rc == 0 && r->trend)
        lb_put(totals, "trend", lbd_trend_totals(r->trend, &rc), &rc);
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        lb_put(ctx->result, "rows", rows, &rc);
        rows = NULL;
        lb_put(ctx->result, "totals", totals, &rc);
        totals = NULL;
    }
    if (r) {
        rowtab_free(&r->tab);
        free(r->totals.st);
        for (uint32_t i = 0; i < r->nstates; i++)
            free(r->states[i]);
        free(r);
    }
    lb_val_free(&rows);
    lb_val_free(&totals);
    return rc;
}

/* ---- events.since ---- */

#define SINCE_SCAN_MAX 100000 /* events read per call for a key that sees only some areas */

typedef struct {
    lb_val_t *events;
    int64_t limit;
    int rc;
    const lbd_client_t *scope; /* whose areas the events must lie in; NULL: every area */
    int64_t left;              /* events still to read in this call */
    uint64_t scanned;          /* the last seq read */
} since_t;

/* true when the stored event lies in s->scope's areas (s->rc set when it does not decode). */
static bool since_in_scope(since_t *s, const void *body, size_t len)
{
    lb_val_t *v = NULL;
    proto_err_t perr;
    int rc = proto_unpack(body, len, &proto_default_limits, &v, &perr);
    const char *area = rc == 0 ? lb_map_str(v, "area") : NULL;
    /* A case moved out of the scope (9.17) was published under its old area's topic too. */
    const char *type = rc == 0 ? lb_map_str(v, "type") : NULL;
    const char *from = lb_map_str(lb_map_get(v, "data"), "from_area");
    bool moved = type && (strcmp(type, "transferred") == 0 || strcmp(type, "remapped") == 0);
    bool in = (area && lbd_client_covers(s->scope, area)) ||
              (moved && from && lbd_client_covers(s->scope, from));
    if (rc)
        s->rc = rc == LB_ENOMEM ? LB_ENOMEM : LB_ECORRUPT;
    lb_val_free(&v);
    return in;
}

static int since_cb(uint64_t seq, const void *body, size_t len, void *arg)
{
    since_t *s = arg;
    s->scanned = seq;
    s->left--;
    if (s->scope && !since_in_scope(s, body, len))
        return s->rc || s->left <= 0 ? 1 : 0;
    /* The stored bytes go out as they are: byte-identical to what was published. */
    if (lb_arr_push(s->events, lb_raw(body, len))) {
        s->rc = LB_ENOMEM;
        return 1;
    }
    return (int64_t)s->events->a.n >= s->limit || s->left <= 0 ? 1 : 0;
}

/*
 * Events after seq in the caller's areas (PROTOCOL.md 9.11). `scanned` says how
 * far the stream was read, so a key that sees few areas can go on from there.
 */
int lbd_op_events_since(lbd_ctx_t *ctx)
{
    int64_t seq = 0, limit = 1000;
    lb_map_int(ctx->req->args, "seq", &seq);
    lb_map_int(ctx->req->args, "limit", &limit);
    bool all = lbd_client_covers(ctx->client, "");
    since_t s = {.events = lb_arr(),
                 .limit = limit,
                 .scope = all ? NULL : ctx->client,
                 .left = all ? INT64_MAX : SINCE_SCAN_MAX,
                 .scanned = (uint64_t)seq};
    uint64_t tip;
    uint8_t chain[32];
    int rc = s.events ? store_event_tip(ctx->txn, &tip, chain) : LB_ENOMEM;
    if (rc == 0)
        rc = store_events(ctx->txn, (uint64_t)seq, since_cb, &s);
    if (rc == 0)
        rc = s.rc;
    /* Read to the end without stopping: nothing up to the tip is left for this key. */
    if (rc == 0 && (int64_t)s.events->a.n < limit && s.left > 0 && tip > s.scanned)
        s.scanned = tip;
    if (rc == 0 && (rc = lbd_result_map(ctx)) == 0) {
        rc = lb_map_set(ctx->result, "events", s.events);
        s.events = NULL;
        lb_put_int(ctx->result, "last_seq", (int64_t)tip, &rc);
        lb_put_int(ctx->result, "scanned", (int64_t)s.scanned, &rc);
    }
    lb_val_free(&s.events);
    /* a reporter gets decoded, redacted copies without chain, not the published bytes */
    return rc ? rc : lbd_redact(ctx, ctx->result);
}
