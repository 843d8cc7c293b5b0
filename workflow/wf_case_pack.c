/*
 * wf_case_pack.c - the stored case as bytes without a value tree for the
 * whole of it: wf_case_pack writes exactly the bytes of
 * proto_pack(wf_case_to_val(c)); wf_case_unpack reads them back, straight
 * into the case for what the writer writes, and through proto_unpack and
 * wf_case_from_val for anything else (old or odd stored forms), so the two
 * decoders never disagree on what a stored case is.
 */
#include <stdlib.h>
#include <string.h>

#include "../proto/mp.h"
#include "wf_internal.h"

/* ---------------------------------------------------------------------- */
/* Writing                                                                 */
/* ---------------------------------------------------------------------- */

static void w_key_str(proto_w_t *w, const char *key, const char *s)
{
    proto_w_str(w, key);
    proto_w_str(w, s);
}

static void w_key_int(proto_w_t *w, const char *key, int64_t i)
{
    proto_w_str(w, key);
    proto_w_int(w, i);
}

/* A record list; a missing one is written as an empty array, as wf_case_to_val does. */
static void w_list(proto_w_t *w, const char *key, const lb_val_t *list)
{
    proto_w_str(w, key);
    if (list)
        proto_w_val(w, list);
    else
        proto_w_arr(w, 0);
}

static void w_kind(proto_w_t *w, const char *kind, uint64_t record)
{
    if (!kind[0])
        return;
    w_key_str(w, "kind", kind);
    w_key_int(w, "record", (int64_t)record);
}

static void w_escalation(proto_w_t *w, const wf_escalation_t *x)
{
    uint32_t n = 4;
    if (x->acked_at)
        n += x->acked_by[0] ? 2 : 1;
    if (x->kind[0])
        n += 2;
    proto_w_map(w, n);
    w_key_int(w, "step", x->step);
    w_key_str(w, "level", x->level);
    w_key_str(w, "state", x->state);
    w_key_int(w, "at", x->at);
    if (x->acked_at) {
        w_key_int(w, "acked_at", x->acked_at);
        if (x->acked_by[0])
            w_key_str(w, "acked_by", x->acked_by);
    }
    w_kind(w, x->kind, x->record);
}

static void w_timer(proto_w_t *w, const wf_timer_t *t)
{
    proto_w_map(w, t->kind[0] ? 5 : 3);
    w_key_int(w, "due", t->due);
    w_key_int(w, "step", t->step);
    w_key_str(w, "level", t->level);
    w_kind(w, t->kind, t->record);
}

int wf_case_pack(const wf_case_t *c, lb_buf_t *out)
{
    size_t mark = out->len;
    proto_w_t w;
    proto_w_init(&w, out);
    /* The keys of case_to_val (wf_case.c), in its order: 22 always, three when set. */
    proto_w_map(&w, 22 + (c->team[0] != 0) + (c->level[0] != 0) + (c->merged_into[0] != 0));
    w_key_str(&w, "case_id", c->case_id);
    w_key_str(&w, "house_id", c->house_id);
    w_key_str(&w, "area", c->area);
    w_key_str(&w, "workflow", c->workflow);
    w_key_int(&w, "workflow_version", c->workflow_version);
    w_key_str(&w, "state", c->state);
    w_key_int(&w, "entered_at", c->entered_at);
    w_key_int(&w, "opened_at", c->opened_at);
    w_key_str(&w, "source", c->source);
    if (c->team[0])
        w_key_str(&w, "team", c->team);
    if (c->level[0])
        w_key_str(&w, "level", c->level);
    if (c->merged_into[0])
        w_key_str(&w, "merged_into", c->merged_into);
    w_list(&w, "needs", c->needs);
    w_list(&w, "visits", c->visits);
    w_list(&w, "assistance", c->assistance);
    w_list(&w, "follow_ups", c->follow_ups);
    w_list(&w, "notes", c->notes);
    w_list(&w, "member_changes", c->member_changes);
    w_list(&w, "history", c->history);
    w_list(&w, "decisions", c->decisions);
    proto_w_str(&w, "escalations");
    proto_w_arr(&w, c->n_esc);
    for (uint32_t i = 0; i < c->n_esc; i++)
        w_escalation(&w, &c->esc[i]);
    proto_w_str(&w, "timers");
    proto_w_arr(&w, c->n_timers);
    for (uint32_t i = 0; i < c->n_timers; i++)
        w_timer(&w, &c->timers[i]);
    w_key_int(&w, "last_seq", (int64_t)c->last_seq);
    w_key_int(&w, "timers_base", c->timers_base);
    w_key_int(&w, "fired_in_state", c->fired_in_state);
    if (w.rc)
        out->len = mark; /* no half-written case */
    return w.rc;
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                 */
/* ---------------------------------------------------------------------- */

/*
 * The direct reader gives up (LB_ECORRUPT) on anything the writer would not
 * write: a missing, duplicate or unknown key, a value of another type or out
 * of range. wf_case_unpack then asks the general decoder, which alone decides
 * whether the bytes are a case; so what the direct reader accepts must be a
 * subset of what wf_case_from_val accepts, with the same result.
 */
#define GIVE_UP LB_ECORRUPT

typedef struct {
    const char *name;
    uint32_t len;
} ckey_t;

#define KEY(s)                                                                                     \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }

static int key_index(const ckey_t *keys, int n, const char *s, uint32_t len)
{
    for (int i = 0; i < n; i++)
        if (keys[i].len == len && memcmp(keys[i].name, s, len) == 0)
            return i;
    return -1;
}

/* A reader failure: out of memory stays that, anything else is the general decoder's to judge. */
static int r_fail(int rc)
{
    return rc == LB_ENOMEM ? LB_ENOMEM : GIVE_UP;
}

/* The next key of a map, as an index into keys, each at most once (seen). */
static int r_key(proto_r_t *r, const ckey_t *keys, int n, uint32_t *seen, int *k)
{
    const char *s;
    uint32_t len;
    int rc = proto_r_str(r, &s, &len);
    if (rc)
        return r_fail(rc);
    *k = key_index(keys, n, s, len);
    if (*k < 0 || (*seen & (1u << *k)))
        return GIVE_UP;
    *seen |= 1u << *k;
    return 0;
}

/* A string that fits buf with its NUL (get_str of wf_case.c). */
static int r_str(proto_r_t *r, char *buf, size_t size)
{
    const char *s;
    uint32_t n;
    int rc = proto_r_str(r, &s, &n);
    if (rc)
        return r_fail(rc);
    if (n >= size)
        return GIVE_UP;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

static int r_int(proto_r_t *r, int64_t *out, int64_t min, int64_t max)
{
    int64_t i;
    int rc = proto_r_int(r, &i);
    if (rc)
        return r_fail(rc);
    if (i < min || i > max)
        return GIVE_UP;
    *out = i;
    return 0;
}

/* An array whose items are all of type item (maps, or ints for the history), at depth 1. */
static int r_list(proto_r_t *r, lb_type_t item, lb_val_t **out)
{
    uint32_t n;
    int rc = proto_r_arr(r, 1, &n);
    if (rc)
        return r_fail(rc);
    lb_val_t *a = lb_arr();
    if (!a)
        return LB_ENOMEM;
    if (n && !(a->a.items = malloc((size_t)n * sizeof *a->a.items))) {
        lb_val_free(&a);
        return LB_ENOMEM;
    }
    a->a.cap = n;
    for (uint32_t i = 0; i < n; i++) {
        lb_val_t *v = NULL;
        if ((rc = proto_r_val(r, 2, &v))) {
            rc = r_fail(rc);
            break;
        }
        a->a.items[a->a.n++] = v;
        if (v->type != item) {
            rc = GIVE_UP;
            break;
        }
    }
    if (rc) {
        lb_val_free(&a);
        return rc;
    }
    *out = a;
    return 0;
}

/* A timer's or escalation's kind and record (get_kind of wf_case.c). */
static int kind_done(char kind[WF_SHORT_MAX], bool has_record, int64_t rec, uint64_t *record)
{
    if (!kind[0]) {
        *record = 0; /* the record of a state step is not read */
        return 0;
    }
    if (!has_record || rec < 1)
        return GIVE_UP;
    *record = (uint64_t)rec;
    return 0;
}

enum { E_STEP, E_LEVEL, E_STATE, E_AT, E_ACKED_AT, E_ACKED_BY, E_KIND, E_RECORD, E_N };
static const ckey_t esc_keys[E_N] = {KEY("step"),     KEY("level"),    KEY("state"), KEY("at"),
                                     KEY("acked_at"), KEY("acked_by"), KEY("kind"),  KEY("record")};
#define E_REQUIRED ((1u << E_STEP) | (1u << E_LEVEL) | (1u << E_STATE) | (1u << E_AT))

static int r_escalation(proto_r_t *r, wf_escalation_t *x)
{
    uint32_t n, seen = 0;
    int64_t step = 0, rec = 0;
    int rc = proto_r_map(r, 2, &n);
    if (rc)
        return r_fail(rc);
    for (uint32_t i = 0; i < n; i++) {
        int k;
        if ((rc = r_key(r, esc_keys, E_N, &seen, &k)))
            return rc;
        switch (k) {
        case E_STEP:
            rc = r_int(r, &step, 0, UINT32_MAX);
            break;
        case E_LEVEL:
            rc = r_str(r, x->level, sizeof x->level);
            break;
        case E_STATE:
            rc = r_str(r, x->state, sizeof x->state);
            break;
        case E_AT:
            rc = r_int(r, &x->at, INT64_MIN, INT64_MAX);
            break;
        case E_ACKED_AT:
            rc = r_int(r, &x->acked_at, 1, INT64_MAX);
            break;
        case E_ACKED_BY:
            rc = r_str(r, x->acked_by, sizeof x->acked_by);
            break;
        case E_KIND:
            rc = r_str(r, x->kind, sizeof x->kind);
            break;
        default:
            rc = r_int(r, &rec, INT64_MIN, INT64_MAX);
            break;
        }
        if (rc)
            return rc;
    }
    if ((seen & E_REQUIRED) != E_REQUIRED)
        return GIVE_UP;
    x->step = (uint32_t)step;
    return kind_done(x->kind, seen & (1u << E_RECORD), rec, &x->record);
}

enum { T_DUE, T_STEP, T_LEVEL, T_KIND, T_RECORD, T_N };
static const ckey_t timer_keys[T_N] = {KEY("due"), KEY("step"), KEY("level"), KEY("kind"),
                                       KEY("record")};
#define T_REQUIRED ((1u << T_DUE) | (1u << T_STEP) | (1u << T_LEVEL))

static int r_timer(proto_r_t *r, wf_timer_t *t)
{
    uint32_t n, seen = 0;
    int64_t step = 0, rec = 0;
    int rc = proto_r_map(r, 2, &n);
    if (rc)
        return r_fail(rc);
    for (uint32_t i = 0; i < n; i++) {
        int k;
        if ((rc = r_key(r, timer_keys, T_N, &seen, &k)))
            return rc;
        switch (k) {
        case T_DUE:
            rc = r_int(r, &t->due, INT64_MIN, INT64_MAX);
            break;
        case T_STEP:
            rc = r_int(r, &step, 0, UINT32_MAX);
            break;
        case T_LEVEL:
            rc = r_str(r, t->level, sizeof t->level);
            break;
        case T_KIND:
            rc = r_str(r, t->kind, sizeof t->kind);
            break;
        default:
            rc = r_int(r, &rec, INT64_MIN, INT64_MAX);
            break;
        }
        if (rc)
            return rc;
    }
    if ((seen & T_REQUIRED) != T_REQUIRED)
        return GIVE_UP;
    t->step = (uint32_t)step;
    return kind_done(t->kind, seen & (1u << T_RECORD), rec, &t->record);
}

/* The escalations (esc) or timers array: calloc'd like get_escalations/get_timers do. */
static int r_steps(proto_r_t *r, wf_case_t *c, bool esc)
{
    uint32_t n;
    int rc = proto_r_arr(r, 1, &n);
    if (rc)
        return r_fail(rc);
    if (n == 0)
        return 0;
    void *v = calloc(n, esc ? sizeof *c->esc : sizeof *c->timers);
    if (!v)
        return LB_ENOMEM;
    if (esc)
        c->esc = v;
    else
        c->timers = v;
    for (uint32_t i = 0; i < n; i++) {
        if (esc && (rc = r_escalation(r, &c->esc[i])) == 0)
            c->n_esc++;
        else if (!esc && (rc = r_timer(r, &c->timers[i])) == 0)
            c->n_timers++;
        if (rc)
            return rc;
    }
    return 0;
}

enum {
    K_CASE_ID,
    K_HOUSE_ID,
    K_AREA,
    K_WORKFLOW,
    K_WORKFLOW_VERSION,
    K_STATE,
    K_ENTERED_AT,
    K_OPENED_AT,
    K_SOURCE,
    K_TEAM,
    K_LEVEL,
    K_MERGED_INTO,
    K_NEEDS,
    K_VISITS,
    K_ASSISTANCE,
    K_FOLLOW_UPS,
    K_NOTES,
    K_MEMBER_CHANGES,
    K_HISTORY,
    K_DECISIONS,
    K_ESCALATIONS,
    K_TIMERS,
    K_LAST_SEQ,
    K_TIMERS_BASE,
    K_FIRED_IN_STATE,
    K_N
};
static const ckey_t case_keys[K_N] = {KEY("case_id"),
                                      KEY("house_id"),
                                      KEY("area"),
                                      KEY("workflow"),
                                      KEY("workflow_version"),
                                      KEY("state"),
                                      KEY("entered_at"),
                                      KEY("opened_at"),
                                      KEY("source"),
                                      KEY("team"),
                                      KEY("level"),
                                      KEY("merged_into"),
                                      KEY("needs"),
                                      KEY("visits"),
                                      KEY("assistance"),
                                      KEY("follow_ups"),
                                      KEY("notes"),
                                      KEY("member_changes"),
                                      KEY("history"),
                                      KEY("decisions"),
                                      KEY("escalations"),
                                      KEY("timers"),
                                      KEY("last_seq"),
                                      KEY("timers_base"),
                                      KEY("fired_in_state")};
/* Keys a case written before member records, decisions or the history existed goes without. */
#define K_OPTIONAL                                                                                 \
    ((1u << K_TEAM) | (1u << K_LEVEL) | (1u << K_MERGED_INTO) | (1u << K_MEMBER_CHANGES) |         \
     (1u << K_HISTORY) | (1u << K_DECISIONS))
#define K_ALL ((1u << K_N) - 1)

/* The record list a key names, or NULL. */
static lb_val_t **case_list(wf_case_t *c, int k)
{
    switch (k) {
    case K_NEEDS:
        return &c->needs;
    case K_VISITS:
        return &c->visits;
    case K_ASSISTANCE:
        return &c->assistance;
    case K_FOLLOW_UPS:
        return &c->follow_ups;
    case K_NOTES:
        return &c->notes;
    case K_MEMBER_CHANGES:
        return &c->member_changes;
    case K_HISTORY:
        return &c->history;
    case K_DECISIONS:
        return &c->decisions;
    default:
        return NULL;
    }
}

static int r_case_key(proto_r_t *r, wf_case_t *c, int k, int64_t *last_seq, int64_t *fired)
{
    lb_val_t **list = case_list(c, k);
    if (list)
        return r_list(r, k == K_HISTORY ? LB_INT : LB_MAP, list);
    switch (k) {
    case K_CASE_ID:
        return r_str(r, c->case_id, sizeof c->case_id);
    case K_HOUSE_ID:
        return r_str(r, c->house_id, sizeof c->house_id);
    case K_AREA:
        return r_str(r, c->area, sizeof c->area);
    case K_WORKFLOW:
        return r_str(r, c->workflow, sizeof c->workflow);
    case K_WORKFLOW_VERSION:
        return r_int(r, &c->workflow_version, 1, INT64_MAX);
    case K_STATE:
        return r_str(r, c->state, sizeof c->state);
    case K_ENTERED_AT:
        return r_int(r, &c->entered_at, INT64_MIN, INT64_MAX);
    case K_OPENED_AT:
        return r_int(r, &c->opened_at, INT64_MIN, INT64_MAX);
    case K_SOURCE:
        return r_str(r, c->source, sizeof c->source);
    case K_TEAM:
        return r_str(r, c->team, sizeof c->team);
    case K_LEVEL:
        return r_str(r, c->level, sizeof c->level);
    case K_MERGED_INTO:
        return r_str(r, c->merged_into, sizeof c->merged_into);
    case K_ESCALATIONS:
        return r_steps(r, c, true);
    case K_TIMERS:
        return r_steps(r, c, false);
    case K_LAST_SEQ:
        return r_int(r, last_seq, 0, INT64_MAX);
    case K_TIMERS_BASE:
        return r_int(r, &c->timers_base, INT64_MIN, INT64_MAX);
    default:
        return r_int(r, fired, 0, UINT32_MAX);
    }
}

int wf_case_unpack_direct(const void *p, size_t n, wf_case_t *c)
{
    static const proto_limits_t stored = {WF_CASE_DECODE_DEPTH, WF_CASE_DECODE_ITEMS,
                                          WF_CASE_DECODE_STR, WF_CASE_DECODE_NODES};
    proto_r_t r;
    uint32_t pairs, seen = 0;
    int64_t last_seq = 0, fired = 0;
    memset(c, 0, sizeof *c);
    proto_r_init(&r, p, n, &stored);
    int rc = proto_r_map(&r, 0, &pairs);
    rc = rc ? r_fail(rc) : 0;
    for (uint32_t i = 0; rc == 0 && i < pairs; i++) {
        int k;
        if ((rc = r_key(&r, case_keys, K_N, &seen, &k)) == 0)
            rc = r_case_key(&r, c, k, &last_seq, &fired);
    }
    if (rc == 0 &&
        (!proto_r_done(&r) || (seen | K_OPTIONAL) != K_ALL || lb_case_id_parse(c->case_id, &c->id)))
        rc = GIVE_UP;
    /* Lists the case was written without are empty ones. */
    for (int k = K_NEEDS; rc == 0 && k <= K_DECISIONS; k++) {
        lb_val_t **list = case_list(c, k);
        if (!*list && !(*list = lb_arr()))
            rc = LB_ENOMEM;
    }
    if (rc) {
        wf_case_clear(c);
        return rc;
    }
    c->last_seq = (uint64_t)last_seq;
    c->fired_in_state = (uint32_t)fired;
    return 0;
}

int wf_case_unpack(const void *p, size_t n, wf_case_t *c)
{
    int rc = wf_case_unpack_direct(p, n, c);
    if (rc != GIVE_UP)
        return rc;
    /* Not the writer's shape: the general decoder decides. */
    static const proto_limits_t stored = {WF_CASE_DECODE_DEPTH, WF_CASE_DECODE_ITEMS,
                                          WF_CASE_DECODE_STR, WF_CASE_DECODE_NODES};
    lb_val_t *v = NULL;
    proto_err_t perr;
    rc = proto_unpack(p, n, &stored, &v, &perr);
    if (rc == 0)
        rc = wf_case_from_val_take(v, c); /* v is freed next: move its lists, don't copy */
    lb_val_free(&v);
    if (rc) {
        wf_case_clear(c);
        /* Out of memory is not damage: a retry may work, and nobody should restore a backup. */
        return rc == LB_ENOMEM ? LB_ENOMEM : LB_ECORRUPT;
    }
    return 0;
}
