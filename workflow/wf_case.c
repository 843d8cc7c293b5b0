/*
 * wf_case.c - the case value: lifecycle, its stored form (wf_case_to_val /
 * wf_case_from_val, which the store keeps and case.get starts from), and the
 * escalation clock (firing due timers, acknowledging escalations).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_internal.h"

int wf_case_init(wf_case_t *c)
{
    memset(c, 0, sizeof(*c));
    c->needs = lb_arr();
    c->visits = lb_arr();
    c->assistance = lb_arr();
    c->follow_ups = lb_arr();
    c->notes = lb_arr();
    c->member_changes = lb_arr();
    c->decisions = lb_arr();
    c->history = lb_arr();
    if (!c->needs || !c->visits || !c->assistance || !c->follow_ups || !c->notes ||
        !c->member_changes || !c->decisions || !c->history) {
        wf_case_clear(c);
        return LB_ENOMEM;
    }
    return 0;
}

void wf_case_clear(wf_case_t *c)
{
    if (!c)
        return;
    lb_val_free(&c->needs);
    lb_val_free(&c->visits);
    lb_val_free(&c->assistance);
    lb_val_free(&c->follow_ups);
    lb_val_free(&c->notes);
    lb_val_free(&c->member_changes);
    lb_val_free(&c->decisions);
    lb_val_free(&c->history);
    free(c->esc);
    free(c->timers);
    memset(c, 0, sizeof(*c));
}

bool wf_case_overdue(const wf_case_t *c)
{
    return c->fired_in_state > 0;
}

uint32_t wf_case_records(const wf_case_t *c)
{
    const lb_val_t *lists[] = {c->visits, c->assistance,     c->follow_ups,
                               c->notes,  c->member_changes, c->decisions};
    uint64_t n = 0;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        if (lists[i] && lists[i]->type == LB_ARR)
            n += lists[i]->a.n;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

const wf_escalation_t *wf_case_latest_esc(const wf_case_t *c)
{
    return c->n_esc ? &c->esc[c->n_esc - 1] : NULL;
}

void wf_case_needs_open(const wf_case_t *c, uint32_t out[WF_NDIM])
{
    memset(out, 0, WF_NDIM * sizeof(out[0]));
    if (!c->needs || c->needs->type != LB_ARR)
        return;
    for (uint32_t i = 0; i < c->needs->a.n; i++) {
        const lb_val_t *need = c->needs->a.items[i];
        const char *status = lb_map_str(need, "status");
        int d = wf_dimension_index(lb_map_str(need, "dimension"));
        if (d >= 0 && status && strcmp(status, "open") == 0)
            out[d]++;
    }
}

/* ---------------------------------------------------------------------- */
/* Stored form                                                             */
/* ---------------------------------------------------------------------- */

static void put_dup(lb_val_t *m, const char *key, const lb_val_t *v, int *rc)
{
    lb_val_t *d = NULL;
    if (!*rc)
        d = v ? lb_val_dup(v) : lb_arr();
    lb_add(m, key, d, rc);
}

/*
 * The record lists go into the map by reference: a placeholder is inserted
 * (so a failed insert cannot free c's list) and then swapped for the list.
 */
static void put_lent(lb_val_t *m, const char *key, const lb_val_t *list, int *rc)
{
    if (*rc)
        return;
    if ((*rc = lb_map_put_new(m, key, lb_nil())))
        return;
    lb_val_t **slot = &m->m.vals[m->m.n - 1]; /* keys are unique here: it was appended */
    lb_val_free(slot);
    *slot = (lb_val_t *)list; /* only read through the map, and taken back before it is freed */
}

static const char *const lent_keys[] = {"needs", "visits",         "assistance", "follow_ups",
                                        "notes", "member_changes", "history",    "decisions"};

/* A record timer's kind and record id; nothing for a state step. */
static void put_kind(lb_val_t *e, const char *kind, uint64_t record, int *rc)
{
    if (!kind[0])
        return;
    lb_add_str(e, "kind", kind, rc);
    lb_add_int(e, "record", (int64_t)record, rc);
}

static lb_val_t *case_to_val(const wf_case_t *c, bool lend)
{
    int rc = 0;
    lb_val_t *m = lb_map();
    if (!m)
        return NULL;
    lb_add_str(m, "case_id", c->case_id, &rc);
    lb_add_str(m, "house_id", c->house_id, &rc);
    lb_add_str(m, "area", c->area, &rc);
    lb_add_str(m, "workflow", c->workflow, &rc);
    lb_add_int(m, "workflow_version", c->workflow_version, &rc);
    lb_add_str(m, "state", c->state, &rc);
    lb_add_int(m, "entered_at", c->entered_at, &rc);
    lb_add_int(m, "opened_at", c->opened_at, &rc);
    lb_add_str(m, "source", c->source, &rc);
    if (c->team[0])
        lb_add_str(m, "team", c->team, &rc);
    if (c->level[0])
        lb_add_str(m, "level", c->level, &rc);
    if (c->merged_into[0])
        lb_add_str(m, "merged_into", c->merged_into, &rc);
    const lb_val_t *lists[] = {c->needs, c->visits,         c->assistance, c->follow_ups,
                               c->notes, c->member_changes, c->history,    c->decisions};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        if (lend && lists[i])
            put_lent(m, lent_keys[i], lists[i], &rc);
        else
            put_dup(m, lent_keys[i], lists[i], &rc);
    }

    lb_val_t *esc = rc ? NULL : lb_arr();
    for (uint32_t i = 0; esc && !rc && i < c->n_esc; i++) {
        const wf_escalation_t *x = &c->esc[i];
        lb_val_t *e = lb_map();
        if (!e) {
            rc = LB_ENOMEM;
            break;
        }
        lb_add_int(e, "step", x->step, &rc);
        lb_add_str(e, "level", x->level, &rc);
        lb_add_str(e, "state", x->state, &rc);
        lb_add_int(e, "at", x->at, &rc);
        if (x->acked_at) {
            lb_add_int(e, "acked_at", x->acked_at, &rc);
            if (x->acked_by[0])
                lb_add_str(e, "acked_by", x->acked_by, &rc);
        }
        put_kind(e, x->kind, x->record, &rc);
        lb_push(esc, e, &rc);
    }
    lb_add(m, "escalations", esc, &rc);

    lb_val_t *timers = rc ? NULL : lb_arr();
    for (uint32_t i = 0; timers && !rc && i < c->n_timers; i++) {
        const wf_timer_t *t = &c->timers[i];
        lb_val_t *e = lb_map();
        if (!e) {
            rc = LB_ENOMEM;
            break;
        }
        lb_add_int(e, "due", t->due, &rc);
        lb_add_int(e, "step", t->step, &rc);
        lb_add_str(e, "level", t->level, &rc);
        put_kind(e, t->kind, t->record, &rc);
        lb_push(timers, e, &rc);
    }
    lb_add(m, "timers", timers, &rc);

    lb_add_int(m, "last_seq", (int64_t)c->last_seq, &rc);
    lb_add_int(m, "timers_base", c->timers_base, &rc);
    lb_add_int(m, "fired_in_state", c->fired_in_state, &rc);
    if (rc) {
        if (lend)
            wf_case_val_return(&m);
        lb_val_free(&m);
    }
    return m;
}

lb_val_t *wf_case_to_val(const wf_case_t *c)
{
    return case_to_val(c, false);
}

lb_val_t *wf_case_to_val_lent(const wf_case_t *c)
{
    return case_to_val(c, true);
}

void wf_case_val_return(lb_val_t **v)
{
    if (!v || !*v)
        return;
    for (size_t k = 0; k < sizeof lent_keys / sizeof lent_keys[0]; k++)
        for (uint32_t i = 0; i < (*v)->m.n; i++)
            if (strcmp((*v)->m.keys[i], lent_keys[k]) == 0)
                (*v)->m.vals[i] = NULL; /* the case's own list: not ours to free */
    lb_val_free(v);
}

/* A string under key copied into buf: LB_ECORRUPT when missing, mistyped or too long. */
static int get_str(const lb_val_t *m, const char *key, char *buf, size_t size, bool required)
{
    const lb_val_t *v = lb_map_get(m, key);
    if (!v) {
        buf[0] = '\0';
        return required ? LB_ECORRUPT : 0;
    }
    if (v->type != LB_STR || v->s.n >= size || memchr(v->s.p, '\0', v->s.n))
        return LB_ECORRUPT;
    memcpy(buf, v->s.p, v->s.n);
    buf[v->s.n] = '\0';
    return 0;
}

static int get_int(const lb_val_t *m, const char *key, int64_t *out, int64_t min, int64_t max)
{
    const lb_val_t *v = lb_map_get(m, key);
    if (!v || v->type != LB_INT || v->i < min || v->i > max)
        return LB_ECORRUPT;
    *out = v->i;
    return 0;
}

/*
 * An array whose items are all of type item (the record and needs lists:
 * maps; the history: ints), copied, or moved out of m when take is set.
 */
static int get_list(lb_val_t *m, const char *key, lb_type_t item, bool take, lb_val_t **out)
{
    lb_val_t *v = lb_map_get(m, key);
    if (!v || v->type != LB_ARR)
        return LB_ECORRUPT;
    for (uint32_t i = 0; i < v->a.n; i++)
        if (v->a.items[i]->type != item)
            return LB_ECORRUPT;
    if (!take) {
        *out = lb_val_dup(v);
        return *out ? 0 : LB_ENOMEM;
    }
    /* m's slot keeps an empty array, so m stays a well-formed value for its owner to free */
    lb_val_t *empty = lb_arr();
    if (!empty)
        return LB_ENOMEM;
    for (uint32_t i = 0; i < m->m.n; i++)
        if (m->m.vals[i] == v)
            m->m.vals[i] = empty;
    *out = v;
    return 0;
}

static int get_records(lb_val_t *m, const char *key, bool take, lb_val_t **out)
{
    return get_list(m, key, LB_MAP, take, out);
}

/* A record timer's kind and record (both absent for a state step). */
static int get_kind(const lb_val_t *e, char kind[WF_SHORT_MAX], uint64_t *record)
{
    int64_t r = 0;
    if (get_str(e, "kind", kind, WF_SHORT_MAX, false))
        return LB_ECORRUPT;
    if (kind[0] && get_int(e, "record", &r, 1, INT64_MAX))
        return LB_ECORRUPT;
    *record = (uint64_t)r;
    return 0;
}

static int get_escalations(const lb_val_t *m, wf_case_t *c)
{
    const lb_val_t *v = lb_map_get(m, "escalations");
    if (!v || v->type != LB_ARR)
        return LB_ECORRUPT;
    if (v->a.n == 0)
        return 0;
    c->esc = calloc(v->a.n, sizeof(*c->esc));
    if (!c->esc)
        return LB_ENOMEM;
    for (uint32_t i = 0; i < v->a.n; i++) {
        const lb_val_t *e = v->a.items[i];
        wf_escalation_t *x = &c->esc[i];
        int64_t step;
        if (!e || e->type != LB_MAP || get_int(e, "step", &step, 0, UINT32_MAX) ||
            get_str(e, "level", x->level, sizeof(x->level), true) ||
            get_str(e, "state", x->state, sizeof(x->state), true) ||
            get_int(e, "at", &x->at, INT64_MIN, INT64_MAX) ||
            get_str(e, "acked_by", x->acked_by, sizeof(x->acked_by), false) ||
            get_kind(e, x->kind, &x->record))
            return LB_ECORRUPT;
        x->step = (uint32_t)step;
        if (lb_map_get(e, "acked_at") && get_int(e, "acked_at", &x->acked_at, 1, INT64_MAX))
            return LB_ECORRUPT;
        c->n_esc++;
    }
    return 0;
}

static int get_timers(const lb_val_t *m, wf_case_t *c)
{
    const lb_val_t *v = lb_map_get(m, "timers");
    if (!v || v->type != LB_ARR)
        return LB_ECORRUPT;
    if (v->a.n == 0)
        return 0;
    c->timers = calloc(v->a.n, sizeof(*c->timers));
    if (!c->timers)
        return LB_ENOMEM;
    for (uint32_t i = 0; i < v->a.n; i++) {
        const lb_val_t *e = v->a.items[i];
        wf_timer_t *t = &c->timers[i];
        int64_t step;
        if (!e || e->type != LB_MAP || get_int(e, "due", &t->due, INT64_MIN, INT64_MAX) ||
            get_int(e, "step", &step, 0, UINT32_MAX) ||
            get_str(e, "level", t->level, sizeof(t->level), true) ||
            get_kind(e, t->kind, &t->record))
            return LB_ECORRUPT;
        t->step = (uint32_t)step;
        c->n_timers++;
    }
    return 0;
}

static int case_from_val(lb_val_t *v, bool take, wf_case_t *c)
{
    int64_t last_seq, fired;
    int rc = LB_ECORRUPT;

    memset(c, 0, sizeof(*c));
    if (!v || v->type != LB_MAP)
        goto cleanup;
    if (get_str(v, "case_id", c->case_id, sizeof(c->case_id), true) ||
        lb_case_id_parse(c->case_id, &c->id) ||
        get_str(v, "house_id", c->house_id, sizeof(c->house_id), true) ||
        get_str(v, "area", c->area, sizeof(c->area), true) ||
        get_str(v, "workflow", c->workflow, sizeof(c->workflow), true) ||
        get_int(v, "workflow_version", &c->workflow_version, 1, INT64_MAX) ||
        get_str(v, "state", c->state, sizeof(c->state), true) ||
        get_int(v, "entered_at", &c->entered_at, INT64_MIN, INT64_MAX) ||
        get_int(v, "opened_at", &c->opened_at, INT64_MIN, INT64_MAX) ||
        get_str(v, "source", c->source, sizeof(c->source), true) ||
        get_str(v, "team", c->team, sizeof(c->team), false) ||
        get_str(v, "level", c->level, sizeof(c->level), false) ||
        get_str(v, "merged_into", c->merged_into, sizeof(c->merged_into), false) ||
        get_int(v, "last_seq", &last_seq, 0, INT64_MAX) ||
        get_int(v, "timers_base", &c->timers_base, INT64_MIN, INT64_MAX) ||
        get_int(v, "fired_in_state", &fired, 0, UINT32_MAX))
        goto cleanup;
    c->last_seq = (uint64_t)last_seq;
    c->fired_in_state = (uint32_t)fired;
    if ((rc = get_records(v, "needs", take, &c->needs)) ||
        (rc = get_records(v, "visits", take, &c->visits)) ||
        (rc = get_records(v, "assistance", take, &c->assistance)) ||
        (rc = get_records(v, "follow_ups", take, &c->follow_ups)) ||
        (rc = get_records(v, "notes", take, &c->notes)) || (rc = get_escalations(v, c)) ||
        (rc = get_timers(v, c)))
        goto cleanup;
    /* Cases written before member records existed have none: an empty list. */
    if (lb_map_get(v, "member_changes"))
        rc = get_records(v, "member_changes", take, &c->member_changes);
    else
        rc = (c->member_changes = lb_arr()) ? 0 : LB_ENOMEM;
    if (rc)
        goto cleanup;
    /* Cases written before decisions existed have none: an empty list. */
    if (lb_map_get(v, "decisions"))
        rc = get_records(v, "decisions", take, &c->decisions);
    else
        rc = (c->decisions = lb_arr()) ? 0 : LB_ENOMEM;
    if (rc)
        goto cleanup;
    /* Cases written before the history was kept have none: an empty one. */
    if (lb_map_get(v, "history"))
        rc = get_list(v, "history", LB_INT, take, &c->history);
    else
        rc = (c->history = lb_arr()) ? 0 : LB_ENOMEM;

cleanup:
    if (rc)
        wf_case_clear(c);
    return rc;
}

int wf_case_from_val(const lb_val_t *v, wf_case_t *c)
{
    /* Without take nothing of v is changed, so dropping const here is safe. */
    return case_from_val((lb_val_t *)v, false, c);
}

int wf_case_from_val_take(lb_val_t *v, wf_case_t *c)
{
    return case_from_val(v, true, c);
}

int wf_case_add_event(wf_case_t *c, uint64_t seq)
{
    if (!c->history && !(c->history = lb_arr()))
        return LB_ENOMEM;
    return lb_arr_push(c->history, lb_int((int64_t)seq));
}

/* ---------------------------------------------------------------------- */
/* Escalation clock                                                        */
/* ---------------------------------------------------------------------- */

/* Index of the earliest pending timer (lowest step on a tie), or -1. */
static int earliest_timer(const wf_case_t *c)
{
    int best = -1;
    for (uint32_t i = 0; i < c->n_timers; i++) {
        const wf_timer_t *t = &c->timers[i];
        if (best < 0 || t->due < c->timers[best].due ||
            (t->due == c->timers[best].due && t->step < c->timers[best].step))
            best = (int)i;
    }
    return best;
}

int wf_next_due(const wf_case_t *c, int64_t *due)
{
    int k = earliest_timer(c);
    if (k < 0)
        return 0;
    if (due)
        *due = c->timers[k].due;
    return 1;
}

int wf_fire_due(wf_case_t *c, int64_t now, wf_escalation_t *fired)
{
    int k = earliest_timer(c);
    if (k < 0 || c->timers[k].due > now)
        return 0;
    if (c->n_esc == UINT32_MAX)
        return LB_ETOOLARGE;
    wf_escalation_t *esc = realloc(c->esc, ((size_t)c->n_esc + 1) * sizeof(*esc));
    if (!esc)
        return LB_ENOMEM;
    c->esc = esc;
    wf_timer_t t = c->timers[k];
    memmove(&c->timers[k], &c->timers[k + 1], (c->n_timers - (uint32_t)k - 1) * sizeof(*c->timers));
    c->n_timers--;

    wf_escalation_t *x = &c->esc[c->n_esc++];
    memset(x, 0, sizeof(*x));
    x->step = t.step;
    memcpy(x->level, t.level, sizeof(x->level));
    memcpy(x->kind, t.kind, sizeof(x->kind));
    x->record = t.record;
    snprintf(x->state, sizeof(x->state), "%s", c->state);
    /* The step happened when it fell due, even if the daemon was down then. */
    x->at = t.due;
    c->fired_in_state++;
    if (fired)
        *fired = *x;
    return 1;
}

int wf_ack(wf_case_t *c, const char *actor, int64_t now, wf_escalation_t *acked)
{
    if (c->n_esc == 0)
        return LB_ENOTFOUND;
    wf_escalation_t *x = &c->esc[c->n_esc - 1];
    if (x->acked_at)
        return LB_ECONFLICT;
    /* acked_at 0 means "not acknowledged", so a clock at the epoch still records an ack. */
    x->acked_at = now > 0 ? now : 1;
    snprintf(x->acked_by, sizeof(x->acked_by), "%s", actor ? actor : "");
    if (acked)
        *acked = *x;
    return 0;
}
