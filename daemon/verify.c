/*
 * verify.c - admin.verify's second half: one walk over the stored cases, each
 * decoded once, compares every case with what its own events say (state,
 * area, household, workflow, the appended records, escalations), so a case
 * record edited in data.mdb is named even though the event chain is intact;
 * lists the cases that do not decode; and recomputes the report counters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define NKINDS 6
static const char *const rec_kinds[NKINDS] = {"visit", "assist", "followup",
                                              "note",  "member", "decision"};
#define MERGE_DEPTH 16 /* merged cases that had absorbed others, followed this deep */

/* What a case's events say it must hold. */
typedef struct {
    char state[WF_NAME_MAX];
    char area[9];          /* where its events put it: opened there, then moved (9.17) */
    lb_buf_t recs[NKINDS]; /* the records' encodings, one after another (counted by lens_t) */
    uint32_t fired, acked;
    uint64_t last;
} replay_t;

/* One encoded record: where it sits in a buffer. */
typedef struct {
    const uint8_t *p;
    size_t n;
} span_t;

static int span_cmp(const void *a, const void *b)
{
    const span_t *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Splits n consecutive msgpack values of buf into sorted spans; NULL on ENOMEM. */
static span_t *spans_of(const lb_buf_t *buf, size_t n, const size_t *lens)
{
    span_t *s = calloc(n ? n : 1, sizeof *s);
    if (!s)
        return NULL;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        s[i].p = (const uint8_t *)buf->p + off;
        s[i].n = lens[i];
        off += lens[i];
    }
    qsort(s, n, sizeof *s, span_cmp);
    return s;
}

/*
 * Whether the case's record list holds the same records as the events, in
 * any order (the case keeps them ordered by at, the events by seq). Both
 * come from one value copied, so their encodings are equal byte for byte.
 * 1 same, 0 not, LB_ENOMEM.
 */
static int same_records(const lb_val_t *list, const lb_buf_t *ev, const size_t *evlens, size_t nev)
{
    size_t n = list && list->type == LB_ARR ? list->a.n : 0;
    if (n != nev)
        return 0;
    lb_buf_t mine = {0};
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    span_t *a = NULL, *b = NULL;
    int rc = lens ? 0 : LB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t before = mine.len;
        rc = proto_pack(list->a.items[i], &mine);
        lens[i] = mine.len - before;
    }
    if (rc == 0 && (!(a = spans_of(&mine, n, lens)) || !(b = spans_of(ev, nev, evlens))))
        rc = LB_ENOMEM;
    int same = 1;
    for (size_t i = 0; rc == 0 && same && i < n; i++)
        same = span_cmp(&a[i], &b[i]) == 0;
    free(a);
    free(b);
    free(lens);
    lb_buf_free(&mine);
    return rc ? rc : same;
}

/* Record lengths are kept beside the bytes: each kind's list of sizes, n the kind's count. */
typedef struct {
    size_t *v;
    size_t n, cap;
} lens_t;

static int lens_push(lens_t *l, size_t n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        size_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
    return 0;
}

/*
 * A record event's data joins r's records of its kind, its record ids raised
 * by offset (those of a merged case's records, wf_case_absorb): 0 or
 * LB_ENOMEM (other kinds: 0).
 */
static int add_record(const lb_val_t *ev, const char *kind, uint64_t offset, replay_t *r,
                      lens_t *lens)
{
    for (int k = 0; k < NKINDS; k++) {
        if (strcmp(kind, rec_kinds[k]) != 0)
            continue;
        const lb_val_t *data = lb_map_get(ev, "data");
        lb_val_t *raised = NULL;
        if (data && offset) {
            if (!(raised = lb_val_dup(data)) || wf_record_renumber(raised, offset)) {
                lb_val_free(&raised);
                return LB_ENOMEM;
            }
            data = raised;
        }
        size_t before = r->recs[k].len;
        int rc = data ? proto_pack(data, &r->recs[k]) : 0;
        if (rc == 0 && data)
            rc = lens_push(&lens[k], r->recs[k].len - before);
        lb_val_free(&raised);
        return rc ? LB_ENOMEM : 0;
    }
    return 0;
}

/* The id_offset of a merged event's data (0 for merges made before record ids). */
static uint64_t merged_offset(const lb_val_t *ev)
{
    int64_t v = 0;
    return lb_map_int(lb_map_get(ev, "data"), "id_offset", &v) == 0 && v > 0 ? (uint64_t)v : 0;
}

/* Applies one event of the case to r: 0, 1 when it cannot be the case's (why set), LB_ENOMEM. */
static int replay_event(const wf_case_t *c, const lb_val_t *ev, bool first, replay_t *r,
                        lens_t *lens, char *why, size_t whylen)
{
    const char *cid = lb_map_str(ev, "case_id"), *type = lb_map_str(ev, "type");
    const char *kind = lb_map_str(ev, "kind"), *to = lb_map_str(ev, "to");
    if (!cid || strcmp(cid, c->case_id) != 0 || !type || !kind) {
        snprintf(why, whylen, "its history names an event of another case");
        return 1;
    }
    const char *area = lb_map_str(ev, "area");
    if (first) {
        const char *house = lb_map_str(ev, "house_id");
        const char *wf = lb_map_str(ev, "workflow");
        if (strcmp(type, "opened") != 0 || !area || !house || strcmp(house, c->house_id) != 0 ||
            !wf || strcmp(wf, c->workflow) != 0) {
            snprintf(why, whylen,
                     "its area, household or workflow is not the one it was opened "
                     "with");
            return 1;
        }
        snprintf(r->area, sizeof r->area, "%s", area);
    } else if (!area || strcmp(area, r->area) != 0) {
        /* Only a transfer or a remap moves a case, and it names where from. */
        const char *from = lb_map_str(lb_map_get(ev, "data"), "from_area");
        bool move = strcmp(type, "transferred") == 0 || strcmp(type, "remapped") == 0;
        if (!area || !move || !from || strcmp(from, r->area) != 0) {
            snprintf(why, whylen, "its event %llu moves it to another area without a transfer",
                     (unsigned long long)r->last);
            return 1;
        }
        snprintf(r->area, sizeof r->area, "%s", area);
    }
    if (to)
        snprintf(r->state, sizeof r->state, "%s", to);
    if (strcmp(kind, "escalation") == 0) {
        r->fired += strcmp(type, "fired") == 0;
        r->acked += strcmp(type, "acked") == 0;
        return 0;
    }
    return add_record(ev, kind, 0, r, lens);
}

/*
 * case.merge (PROTOCOL.md 9.18): the kept case holds the records the merged
 * case's events appended before the merge, and those of cases merged into
 * that one in turn, their record ids raised by offset (the merges' id_offset
 * summed). 0, 1 (why set), LB_ENOMEM or a store code.
 */
static int replay_absorbed(const lbd_t *d, store_txn_t *txn, const char *from, uint64_t before,
                           uint64_t offset, int depth, replay_t *r, lens_t *lens, char *why,
                           size_t whylen)
{
    uint64_t id;
    wf_case_t m;
    if (!from || lb_case_id_parse(from, &id) || depth >= MERGE_DEPTH ||
        lbd_case_load(d, txn, id, &m, NULL) != 0) {
        snprintf(why, whylen, "a case merged into it cannot be read");
        return 1;
    }
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && m.history && i < m.history->a.n; i++) {
        uint64_t seq = (uint64_t)m.history->a.items[i]->i;
        const void *body;
        size_t len;
        lb_val_t *ev = NULL;
        proto_err_t perr;
        if (seq >= before)
            break;
        if ((rc = store_event_get(txn, seq, &body, &len)))
            break;
        if (proto_unpack(body, len, &proto_default_limits, &ev, &perr) != 0) {
            snprintf(why, whylen, "an event of a case merged into it does not decode");
            rc = 1;
            break;
        }
        const char *kind = lb_map_str(ev, "kind"), *type = lb_map_str(ev, "type");
        const char *sub = lb_map_str(lb_map_get(ev, "data"), "merged_from");
        if (kind && type && strcmp(type, "merged") == 0 && sub)
            rc = replay_absorbed(d, txn, sub, seq, offset + merged_offset(ev), depth + 1, r, lens,
                                 why, whylen);
        else if (kind)
            rc = add_record(ev, kind, offset, r, lens);
        lb_val_free(&ev);
    }
    wf_case_clear(&m);
    if (rc == LB_ENOTFOUND) {
        snprintf(why, whylen, "an event of a case merged into it is missing");
        return 1;
    }
    return rc;
}

/* Replays the case's history: 0, 1 (why set), LB_ENOMEM or a store code. */
static int replay(const lbd_t *d, store_txn_t *txn, const wf_case_t *c, replay_t *r, lens_t *lens,
                  char *why, size_t whylen)
{
    const lb_val_t *h = c->history;
    for (uint32_t i = 0; i < h->a.n; i++) {
        const lb_val_t *s = h->a.items[i];
        const void *body;
        size_t len;
        if (s->type != LB_INT || s->i <= 0 || (i > 0 && (uint64_t)s->i <= r->last)) {
            snprintf(why, whylen, "its history is not a rising list of seqs");
            return 1;
        }
        r->last = (uint64_t)s->i;
        int rc = store_event_get(txn, r->last, &body, &len);
        if (rc == LB_ENOTFOUND) {
            snprintf(why, whylen, "its event %llu is missing", (unsigned long long)r->last);
            return 1;
        }
        if (rc)
            return rc;
        lb_val_t *ev = NULL;
        proto_err_t perr;
        if (proto_unpack(body, len, &proto_default_limits, &ev, &perr) != 0) {
            snprintf(why, whylen, "its event %llu does not decode", (unsigned long long)r->last);
            return 1;
        }
        rc = replay_event(c, ev, i == 0, r, lens, why, whylen);
        const char *from = lb_map_str(lb_map_get(ev, "data"), "merged_from");
        if (rc == 0 && from && strcmp(lb_map_str(ev, "type"), "merged") == 0)
            rc = replay_absorbed(d, txn, from, r->last, merged_offset(ev), 0, r, lens, why, whylen);
        lb_val_free(&ev);
        if (rc)
            return rc;
    }
    return 0;
}

/* Compares the case with its replayed events: 0 same, 1 not (why set), LB_ENOMEM. */
static int compare(const wf_case_t *c, const replay_t *r, const lens_t *lens, char *why,
                   size_t whylen)
{
    const lb_val_t *lists[NKINDS] = {c->visits, c->assistance,     c->follow_ups,
                                     c->notes,  c->member_changes, c->decisions};
    uint32_t acked = 0;
    for (uint32_t i = 0; i < c->n_esc; i++)
        acked += c->esc[i].acked_at != 0;
    if (strcmp(r->area, c->area) != 0) {
        snprintf(why, whylen, "its area is %s, its events say %s", c->area, r->area);
        return 1;
    }
    if (strcmp(r->state, c->state) != 0) {
        snprintf(why, whylen, "its state is %s, its events say %s", c->state, r->state);
        return 1;
    }
    if (r->fired != c->n_esc || r->acked != acked) {
        snprintf(why, whylen, "its escalations do not match its events");
        return 1;
    }
    if (c->last_seq != r->last) {
        snprintf(why, whylen, "its last_seq is not its newest event");
        return 1;
    }
    for (int k = 0; k < NKINDS; k++) {
        int same = same_records(lists[k], &r->recs[k], lens[k].v, lens[k].n);
        if (same < 0)
            return same;
        if (!same) {
            snprintf(why, whylen, "its %s records are not the ones its events appended",
                     rec_kinds[k]);
            return 1;
        }
    }
    return 0;
}

/* One loaded case against its events: 0 agrees, 1 does not (why set), or an error. */
static int verify_loaded(const lbd_t *d, store_txn_t *txn, const wf_case_t *c, char *why,
                         size_t whylen)
{
    replay_t r = {.last = 0};
    lens_t lens[NKINDS] = {{0}};
    int rc = 0;
    /* Cases written before the history was kept have none: nothing to compare them with. */
    if (c->history && c->history->a.n > 0) {
        rc = replay(d, txn, c, &r, lens, why, whylen);
        if (rc == 0)
            rc = compare(c, &r, lens, why, whylen);
    }
    for (int k = 0; k < NKINDS; k++) {
        lb_buf_free(&r.recs[k]);
        free(lens[k].v);
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* admin.verify's one scan of the cases                                   */
/* ---------------------------------------------------------------------- */

typedef struct {
    const lbd_t *d;
    store_txn_t *txn;
    lbd_verify_t *v;
} scan_t;

/*
 * store_counts_verify's view of one case, and the other two checks on the
 * same decoded case: each case is read and decoded once for all three.
 */
static int scan_case(uint64_t id, const void *data, size_t len, store_case_meta_t *meta, void *arg)
{
    (void)data; /* lbd_case_load reads it again by id (a B-tree look-up): it decodes it once */
    (void)len;
    scan_t *sc = arg;
    lbd_verify_t *v = sc->v;
    wf_case_t c;
    lbd_case_snap_t *snap = malloc(sizeof *snap); /* a snap holds a meta: large for the stack */
    if (!snap)
        return LB_ENOMEM;
    int rc = lbd_case_load(sc->d, sc->txn, id, &c, snap);
    char cid[LB_CASE_ID_MAX];
    lb_case_id_format(id, cid);
    if (rc == LB_ECORRUPT) {
        lbd_log(LBD_LOG_ERROR, "case %s cannot be read", cid);
        if (v->n_unreadable++ < v->max_unreadable)
            rc = lb_arr_push(v->unreadable, lb_str(cid));
        else
            rc = 0;
        if (!v->bad_case[0]) {
            v->checked++;
            snprintf(v->bad_case, sizeof v->bad_case, "%s", cid);
            snprintf(v->why, sizeof v->why, "its record does not decode");
        }
        /* Its counters cannot be known: the counters are not judged (n_unreadable > 0), so
         * any meta the store accepts keeps the walk going. */
        snprintf(meta->area, sizeof meta->area, "00");
        snprintf(meta->state, sizeof meta->state, "unreadable");
        free(snap);
        return rc;
    }
    if (rc) {
        free(snap);
        return rc;
    }
    if (!v->bad_case[0]) {
        v->checked++;
        rc = verify_loaded(sc->d, sc->txn, &c, v->why, sizeof v->why);
        if (rc == 1) {
            snprintf(v->bad_case, sizeof v->bad_case, "%s", cid);
            rc = 0;
        }
    }
    if (rc == 0) {
        *meta = snap->meta;
        meta->at = 0; /* month counters only grow: they are not recomputed */
    }
    wf_case_clear(&c);
    free(snap);
    return rc;
}

int lbd_verify_scan(const lbd_t *d, store_txn_t *txn, lbd_verify_t *v)
{
    v->checked = 0;
    v->bad_case[0] = '\0';
    v->why[0] = '\0';
    v->n_unreadable = 0;
    v->counters_bad = false;
    memset(&v->cdiff, 0, sizeof v->cdiff);
    scan_t sc = {.d = d, .txn = txn, .v = v};
    int rc = store_counts_verify(txn, 8, scan_case, &sc, &v->cdiff);
    if (rc == 1) {
        v->counters_bad = v->n_unreadable == 0;
        rc = 0;
    }
    if (!v->counters_bad)
        memset(&v->cdiff, 0, sizeof v->cdiff);
    return rc;
}

int lbd_verify_cases(const lbd_t *d, store_txn_t *txn, uint64_t *checked,
                     char bad_case[LB_CASE_ID_MAX], char *why, size_t whylen)
{
    lbd_verify_t v = {.unreadable = NULL, .max_unreadable = 0};
    int rc = lbd_verify_scan(d, txn, &v);
    *checked = v.checked;
    snprintf(bad_case, LB_CASE_ID_MAX, "%s", rc ? "" : v.bad_case);
    snprintf(why, whylen, "%s", v.why);
    return rc;
}
