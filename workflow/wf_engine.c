/*
 * wf_engine.c - the pure state machine: opening a case and applying one
 * action (PROTOCOL.md sections 4 and 5). Every check runs before the case is
 * touched, so a refused action leaves the case as it was unless memory runs
 * out half-way (the header tells the caller to discard the case then).
 *
 * Two rules are the engine's own, on top of the YAML schema (which stays
 * exactly as PROTOCOL.md section 5 has it, with no guard keys):
 *  - resolution guard: an action whose target is a terminal state with
 *    outcome "resolved" needs the case to have a follow-up record at level
 *    sufficient or sustainable (else guard_failed, field "follow_ups"), and a
 *    data.level it carries must itself be sufficient or sustainable. TPMAP
 *    counts a household as helped only once a follow-up has seen it stand.
 *  - closure reasons: when the target state's outcome is "closed" and data has
 *    "reason", it must be moved, deceased, refused, duplicate or not_poor
 *    (else guard_failed, field "reason"), so reports can count why cases end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_internal.h"

#define WF_AGENCY_MAX 256 /* bytes of an agency name */
#define WF_LIST_MAX 1024  /* items of findings, needs, meets, met */

static const char *const record_kinds[WF_NREC] = {"visit", "assist", "followup",
                                                  "note",  "member", "decision"};

static const char *const visit_keys[] = {"team", "level", "findings", "needs", "note", NULL};
static const char *const visit_required[] = {"findings", NULL};
static const char *const assist_keys[] = {"team",   "level",      "agency", "dimension",
                                          "kind",   "amount_thb", "note",   "meets",
                                          "status", "pledge",     NULL};
static const char *const assist_required[] = {"agency", "dimension", "kind", NULL};
static const char *const followup_keys[] = {"team", "level", "met", "note", NULL};
static const char *const followup_required[] = {"level", NULL};
static const char *const note_keys[] = {"team", "level", "note", NULL};
static const char *const note_required[] = {"note", NULL};
/* A member record holds references only (PROTOCOL.md 9.18): the daemon keeps the rest sealed. */
static const char *const member_keys[] = {"team", "level", "change", "member", "new_head", NULL};
static const char *const member_required[] = {"change", "member", NULL};
static const char *const decision_keys[] = {"team", "level", "decision", "agency",
                                            "due",  "note",  NULL};
static const char *const decision_required[] = {"decision", "due", NULL};
static const char *const need_keys[] = {"dimension", "indicator", "note", NULL};
/* What data of an action without record may hold besides its require keys. */
static const char *const scalar_keys[] = {"team", "level", "reason", NULL};

static const char *const *const record_keys[WF_NREC] = {visit_keys, assist_keys, followup_keys,
                                                        note_keys,  member_keys, decision_keys};
static const char *const *const record_required[WF_NREC] = {visit_required,    assist_required,
                                                            followup_required, note_required,
                                                            member_required,   decision_required};

#define WF_NKIND 11
static const char *const assist_kinds[WF_NKIND] = {"cash",
                                                   "goods",
                                                   "occupation",
                                                   "training",
                                                   "loan",
                                                   "housing",
                                                   "health_service",
                                                   "education_support",
                                                   "welfare_registration",
                                                   "referral",
                                                   "other"};

#define WF_NREASON 5
static const char *const close_reasons[WF_NREASON] = {"moved", "deceased", "refused", "duplicate",
                                                      "not_poor"};

static int fail(wf_error_t *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(wf_error_t *err, int code, const char *field, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Escalation durations are bounded at load time, but a due time must never wrap. */
static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    return a + b;
}

void wf_outcome_clear(wf_outcome_t *o)
{
    if (!o)
        return;
    lb_val_free(&o->event_data);
    memset(o, 0, sizeof(*o));
}

/*
 * Replaces c's state timers by st's steps measured from c->timers_base,
 * working days counted with cal; the timers of records (pledges, decisions)
 * stay unless st is terminal. A step never falls due before the one listed
 * before it: mixed units (10bd, then 14d) could otherwise swap them.
 */
static int set_timers(wf_case_t *c, const wf_state_t *st, const wf_calendar_t *cal)
{
    uint32_t keep = 0;
    for (uint32_t i = 0; !st->terminal && i < c->n_timers; i++)
        if (c->timers[i].kind[0])
            c->timers[keep++] = c->timers[i];
    size_t n = keep + (st->terminal ? 0 : st->nsteps);
    c->n_timers = keep;
    if (n == 0) {
        free(c->timers);
        c->timers = NULL;
        return 0;
    }
    wf_timer_t *all = realloc(c->timers, n * sizeof(*all));
    if (!all)
        return LB_ENOMEM;
    c->timers = all;
    memset(&all[keep], 0, (n - keep) * sizeof(*all));
    for (size_t i = 0; i < n - keep; i++) {
        wf_timer_t *t = &c->timers[keep + i];
        const wf_step_t *sp = &st->steps[i];
        t->due = sp->after_bd ? wf_calendar_add_bd(cal, c->timers_base, sp->after_bd)
                              : add_sat(c->timers_base, sp->after_ms);
        if (i > 0 && t->due < t[-1].due)
            t->due = t[-1].due;
        t->step = (uint32_t)i;
        snprintf(t->level, sizeof(t->level), "%s", wf_esc_levels[st->steps[i].level]);
    }
    c->n_timers = (uint32_t)n;
    return 0;
}

/* A case built by hand may lack its lists; the engine never trips over that. */
static int ensure_lists(wf_case_t *c)
{
    lb_val_t **lists[] = {&c->needs, &c->visits,         &c->assistance, &c->follow_ups,
                          &c->notes, &c->member_changes, &c->decisions};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        if (!*lists[i] && !(*lists[i] = lb_arr()))
            return LB_ENOMEM;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Needs                                                                   */
/* ---------------------------------------------------------------------- */

static lb_val_t *find_need(const lb_val_t *needs, const char *indicator)
{
    for (uint32_t i = 0; i < needs->a.n; i++) {
        const char *ind = lb_map_str(needs->a.items[i], "indicator");
        if (ind && strcmp(ind, indicator) == 0)
            return needs->a.items[i];
    }
    return NULL;
}

/* Appends {dimension, indicator, note, status: open} (indicator and note left out when NULL). */
static int push_open_need(lb_val_t *needs, const char *dim, const char *indicator, const char *note)
{
    int rc = 0;
    lb_val_t *need = lb_map();
    if (!need)
        return LB_ENOMEM;
    lb_put_str(need, "dimension", dim, &rc);
    if (indicator)
        lb_put_str(need, "indicator", indicator, &rc);
    if (note)
        lb_put_str(need, "note", note, &rc);
    lb_put_str(need, "status", "open", &rc);
    if (rc) {
        lb_val_free(&need);
        return rc;
    }
    return lb_arr_push(needs, need);
}

/* One need per indicator: a met one opens again when the problem is found again. */
static int open_need(lb_val_t *needs, const char *dim, const char *indicator, const char *note)
{
    lb_val_t *need = find_need(needs, indicator);
    if (need) {
        const char *status = lb_map_str(need, "status");
        if (status && strcmp(status, "open") == 0)
            return 0;
        return lb_map_set_str(need, "status", "open");
    }
    return push_open_need(needs, dim, indicator, note);
}

/* A need without indicator is one per note: identical open ones are not repeated. */
static int open_note_need(lb_val_t *needs, const char *dim, const char *note)
{
    for (uint32_t i = 0; i < needs->a.n; i++) {
        const lb_val_t *n = needs->a.items[i];
        const char *d = lb_map_str(n, "dimension"), *s = lb_map_str(n, "status");
        const char *nn = lb_map_str(n, "note");
        if (lb_map_get(n, "indicator") || !d || strcmp(d, dim) != 0 || !s || strcmp(s, "open") != 0)
            continue;
        if ((!nn && !note) || (nn && note && strcmp(nn, note) == 0))
            return 0;
    }
    return push_open_need(needs, dim, NULL, note);
}

/* Marks the needs of the listed indicator codes met; codes with no need are ignored. */
static int meet_needs(lb_val_t *needs, const lb_val_t *codes)
{
    for (uint32_t i = 0; codes && i < codes->a.n; i++) {
        lb_val_t *need = find_need(needs, codes->a.items[i]->s.p);
        if (need) {
            int rc = lb_map_set_str(need, "status", "met");
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int visit_needs(lb_val_t *needs, const lb_val_t *rec, const wf_catalog_t *cat)
{
    const lb_val_t *findings = lb_map_get(rec, "findings");
    for (uint32_t i = 0; findings && i < findings->m.n; i++) {
        const lb_val_t *codes = findings->m.vals[i];
        for (uint32_t j = 0; j < codes->a.n; j++) {
            int rc = open_need(needs, findings->m.keys[i], codes->a.items[j]->s.p, NULL);
            if (rc)
                return rc;
        }
    }
    const lb_val_t *list = lb_map_get(rec, "needs");
    for (uint32_t i = 0; list && i < list->a.n; i++) {
        const lb_val_t *n = list->a.items[i];
        const char *dim = lb_map_str(n, "dimension"), *ind = lb_map_str(n, "indicator");
        const char *note = lb_map_str(n, "note");
        int rc = ind ? open_need(needs, wf_catalog_dimension(cat, ind), ind, note)
                     : open_note_need(needs, dim, note);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Data checks                                                             */
/* ---------------------------------------------------------------------- */

static int check_text(const lb_val_t *v, const char *field, size_t max, wf_error_t *err)
{
    if (!v || v->type != LB_STR || v->s.n == 0 || v->s.n > max)
        return fail(err, LB_EGUARD, field, "%s must be a string of 1 to %zu bytes", field, max);
    return 0;
}

static int check_enum(const lb_val_t *v, const char *field, const char *const *names, size_t n,
                      wf_error_t *err)
{
    if (!v || v->type != LB_STR || wf_name_index(names, n, v->s.p) < 0) {
        char want[320] = "";
        size_t len = 0;
        for (size_t i = 0; i < n && len < sizeof(want); i++)
            len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s",
                                    i == 0 ? "" : (i + 1 == n ? " or " : ", "), names[i]);
        return fail(err, LB_EGUARD, field, "%s must be %s", field, want);
    }
    return 0;
}

static int check_team_level(const lb_val_t *data, wf_error_t *err)
{
    const lb_val_t *v;
    int rc;
    if ((v = lb_map_get(data, "team")) && (rc = check_text(v, "team", WF_NAME_MAX - 1, err)))
        return rc;
    if ((v = lb_map_get(data, "level")) &&
        (rc = check_enum(v, "level", wf_progress_levels, WF_NPROGRESS, err)))
        return rc;
    return 0;
}

/* An indicator code: in the catalog and, when dim is given, filed under it. */
static int check_code(const lb_val_t *v, const char *field, const char *dim,
                      const wf_catalog_t *cat, wf_error_t *err)
{
    if (!v || v->type != LB_STR)
        return fail(err, LB_EGUARD, field, "%s: indicator codes must be strings", field);
    const char *d = wf_catalog_dimension(cat, v->s.p);
    if (!d)
        return fail(err, LB_EGUARD, field, "%s: unknown indicator '%s'", field, v->s.p);
    if (dim && strcmp(d, dim) != 0)
        return fail(err, LB_EGUARD, field, "%s: indicator '%s' is under '%s', not '%s'", field,
                    v->s.p, d, dim);
    return 0;
}

static int check_codes(const lb_val_t *v, const char *field, const char *dim,
                       const wf_catalog_t *cat, wf_error_t *err)
{
    if (!v || v->type != LB_ARR)
        return fail(err, LB_EGUARD, field, "%s must be a list of indicator codes", field);
    if (v->a.n > WF_LIST_MAX)
        return fail(err, LB_EGUARD, field, "%s has more than %d items", field, WF_LIST_MAX);
    for (uint32_t i = 0; i < v->a.n; i++) {
        int rc = check_code(v->a.items[i], field, dim, cat, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_findings(const lb_val_t *v, const wf_catalog_t *cat, wf_error_t *err)
{
    if (!v || v->type != LB_MAP)
        return fail(err, LB_EGUARD, "findings",
                    "findings must be a map of dimension to indicator codes");
    for (uint32_t i = 0; i < v->m.n; i++) {
        if (wf_dimension_index(v->m.keys[i]) < 0)
            return fail(err, LB_EGUARD, "findings", "findings: unknown dimension '%s'",
                        v->m.keys[i]);
        int rc = check_codes(v->m.vals[i], "findings", v->m.keys[i], cat, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_need_list(const lb_val_t *v, const wf_catalog_t *cat, wf_error_t *err)
{
    if (!v || v->type != LB_ARR)
        return fail(err, LB_EGUARD, "needs", "needs must be a list of maps");
    if (v->a.n > WF_LIST_MAX)
        return fail(err, LB_EGUARD, "needs", "needs has more than %d items", WF_LIST_MAX);
    for (uint32_t i = 0; i < v->a.n; i++) {
        const lb_val_t *n = v->a.items[i];
        if (n->type != LB_MAP)
            return fail(err, LB_EGUARD, "needs", "needs must be a list of maps");
        for (uint32_t k = 0; k < n->m.n; k++)
            if (!in_list(need_keys, n->m.keys[k]))
                return fail(err, LB_EGUARD, "needs", "needs: unknown key '%s'", n->m.keys[k]);
        const lb_val_t *dim = lb_map_get(n, "dimension"), *ind = lb_map_get(n, "indicator");
        const lb_val_t *note = lb_map_get(n, "note");
        if (!dim || dim->type != LB_STR || wf_dimension_index(dim->s.p) < 0)
            return fail(err, LB_EGUARD, "needs", "needs: each need must have a known dimension");
        int rc;
        if (ind && (rc = check_code(ind, "needs", dim->s.p, cat, err)))
            return rc;
        if (note && (note->type != LB_STR || note->s.n == 0 || note->s.n > WF_TEXT_MAX))
            return fail(err, LB_EGUARD, "needs", "needs: note must be a non-empty string");
    }
    return 0;
}

static int check_amount(const lb_val_t *v, wf_error_t *err)
{
    bool ok = v && ((v->type == LB_INT && v->i >= 0) ||
                    (v->type == LB_FLOAT && isfinite(v->f) && v->f >= 0));
    return ok ? 0 : fail(err, LB_EGUARD, "amount_thb", "amount_thb must be a number >= 0");
}

/* data is the record: keys checked against its schema (PROTOCOL.md section 4). */
static int check_record(int rec, const lb_val_t *data, const wf_catalog_t *cat, wf_error_t *err)
{
    const char *const *keys = record_keys[rec];
    int rc;

    for (uint32_t i = 0; data && i < data->m.n; i++)
        if (!in_list(keys, data->m.keys[i]))
            return fail(err, LB_EGUARD, data->m.keys[i], "unknown key '%s' in a %s record",
                        data->m.keys[i], wf_record_names[rec]);
    for (size_t i = 0; record_required[rec][i]; i++) {
        const lb_val_t *v = lb_map_get(data, record_required[rec][i]);
        if (!v || v->type == LB_NIL)
            return fail(err, LB_EGUARD, record_required[rec][i], "missing '%s' in a %s record",
                        record_required[rec][i], wf_record_names[rec]);
    }
    for (uint32_t i = 0; data && i < data->m.n; i++) {
        const char *k = data->m.keys[i];
        const lb_val_t *v = data->m.vals[i];
        if (!strcmp(k, "team") || !strcmp(k, "level") || wf_ledger_key(k))
            continue; /* check_team_level and wf_ledger_check check these */
        if (!strcmp(k, "note"))
            rc = check_text(v, k, WF_TEXT_MAX, err);
        else if (!strcmp(k, "findings"))
            rc = check_findings(v, cat, err);
        else if (!strcmp(k, "needs"))
            rc = check_need_list(v, cat, err);
        else if (!strcmp(k, "agency"))
            rc = check_text(v, k, WF_AGENCY_MAX, err);
        else if (!strcmp(k, "dimension"))
            rc = check_enum(v, k, wf_dimensions, WF_NDIM, err);
        else if (!strcmp(k, "kind"))
            rc = check_enum(v, k, assist_kinds, WF_NKIND, err);
        else if (!strcmp(k, "amount_thb"))
            rc = check_amount(v, err);
        else if (!strcmp(k, "change"))
            rc = check_enum(v, k, wf_member_changes, WF_NMEMBER_CHANGE, err);
        else if (!strcmp(k, "member") || !strcmp(k, "new_head"))
            rc = wf_member_ref_valid(v->type == LB_STR ? v->s.p : NULL)
                     ? 0
                     : fail(err, LB_EGUARD, k, "%s must be a member reference", k);
        else /* meets, met */
            rc = check_codes(v, k, NULL, cat, err);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * Without a record, data is a small map of scalars kept with the event: team,
 * level, reason and the keys the action requires, nothing else, so that what
 * an event carries is what the workflow declared.
 */
static int check_scalar_keys(const wf_action_t *a, const lb_val_t *data, wf_error_t *err)
{
    for (uint32_t i = 0; data && i < data->m.n; i++) {
        const char *k = data->m.keys[i];
        bool ok = in_list(scalar_keys, k);
        for (size_t r = 0; !ok && r < a->nrequire; r++)
            ok = strcmp(a->require[r], k) == 0;
        if (!ok)
            return fail(err, LB_EGUARD, k,
                        "unknown key '%s': action %s appends no record, so data may hold only "
                        "team, level, reason and the keys it requires",
                        k, a->name);
    }
    return 0;
}

static int check_scalars(const lb_val_t *data, wf_error_t *err)
{
    for (uint32_t i = 0; data && i < data->m.n; i++) {
        const lb_val_t *v = data->m.vals[i];
        if (v->type != LB_STR && v->type != LB_INT && v->type != LB_FLOAT && v->type != LB_BOOL)
            return fail(err, LB_EGUARD, data->m.keys[i], "%s must be a string, number or boolean",
                        data->m.keys[i]);
        if (v->type == LB_STR && v->s.n > WF_TEXT_MAX)
            return fail(err, LB_EGUARD, data->m.keys[i], "%s is longer than %d bytes",
                        data->m.keys[i], WF_TEXT_MAX);
    }
    return 0;
}

static bool has_standing_follow_up(const wf_case_t *c)
{
    for (uint32_t i = 0; c->follow_ups && i < c->follow_ups->a.n; i++) {
        const char *lvl = lb_map_str(c->follow_ups->a.items[i], "level");
        /* Any level above the first ("survive") is standing. */
        if (wf_name_index(lb_progress_levels, LB_NPROGRESS, lvl) > 0)
            return true;
    }
    return false;
}

/* The engine's own rules for entering a terminal state (see the top of the file). */
static int check_terminal(const wf_state_t *target, const wf_case_t *c, const lb_val_t *data,
                          wf_error_t *err)
{
    if (!target->terminal)
        return 0;
    if (strcmp(target->outcome, "closed") == 0) {
        const lb_val_t *reason = lb_map_get(data, "reason");
        if (reason)
            return check_enum(reason, "reason", close_reasons, WF_NREASON, err);
        return 0;
    }
    const char *level = lb_map_str(data, "level");
    if (level && strcmp(level, "survive") == 0)
        return fail(err, LB_EGUARD, "level",
                    "a case is resolved only at level sufficient or sustainable");
    if (!has_standing_follow_up(c))
        return fail(err, LB_EGUARD, "follow_ups",
                    "resolving needs a follow-up record at level sufficient or sustainable");
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Opening and acting                                                      */
/* ---------------------------------------------------------------------- */

int wf_open(const wf_def_t *def, const wf_catalog_t *cat, const wf_calendar_t *cal, wf_case_t *c,
            const lb_val_t *deprived, int64_t now, wf_error_t *err)
{
    int rc;

    if (err)
        memset(err, 0, sizeof(*err));
    if (deprived && deprived->type != LB_ARR && deprived->type != LB_NIL)
        return fail(err, LB_EBADREQ, "deprived", "deprived must be a list of indicator codes");
    if (deprived && deprived->type == LB_NIL)
        deprived = NULL;
    for (uint32_t i = 0; deprived && i < deprived->a.n; i++) {
        const lb_val_t *v = deprived->a.items[i];
        if (v->type != LB_STR)
            return fail(err, LB_EBADREQ, "deprived", "deprived must be a list of indicator codes");
        if (!wf_catalog_dimension(cat, v->s.p))
            return fail(err, LB_EBADREQ, "deprived", "unknown indicator '%s'", v->s.p);
    }
    if ((rc = ensure_lists(c)))
        return fail(err, rc, "", "out of memory");

    const wf_state_t *st = &def->states[def->initial];
    snprintf(c->workflow, sizeof(c->workflow), "%s", def->name);
    c->workflow_version = def->version;
    snprintf(c->state, sizeof(c->state), "%s", st->name);
    c->opened_at = c->entered_at = c->timers_base = now;
    c->fired_in_state = 0;
    for (uint32_t i = 0; deprived && i < deprived->a.n; i++) {
        const char *code = deprived->a.items[i]->s.p;
        /* open_need collapses duplicates: one need per indicator. */
        if ((rc = open_need(c->needs, wf_catalog_dimension(cat, code), code, NULL)))
            return fail(err, rc, "", "out of memory");
    }
    if ((rc = set_timers(c, st, cal)))
        return fail(err, rc, "", "out of memory");
    return 0;
}

static lb_val_t **record_list(wf_case_t *c, int rec)
{
    switch (rec) {
    case WF_REC_VISIT:
        return &c->visits;
    case WF_REC_ASSIST:
        return &c->assistance;
    case WF_REC_FOLLOWUP:
        return &c->follow_ups;
    case WF_REC_MEMBER:
        return &c->member_changes;
    case WF_REC_DECISION:
        return &c->decisions;
    default:
        return &c->notes;
    }
}

/* Inserts rec (owned) into list keeping it ordered by at; equal at goes last. */
static int insert_by_at(lb_val_t *list, lb_val_t *rec, int64_t at)
{
    uint32_t pos = list->a.n;
    while (pos > 0) {
        int64_t prev = INT64_MIN;
        lb_map_int(list->a.items[pos - 1], "at", &prev);
        if (prev <= at)
            break;
        pos--;
    }
    int rc = lb_arr_push(list, rec);
    if (rc)
        return rc;
    memmove(&list->a.items[pos + 1], &list->a.items[pos],
            (list->a.n - 1 - pos) * sizeof(*list->a.items));
    list->a.items[pos] = rec;
    return 0;
}

/* The stored record: {at, id, ...data}, a visit's team defaulting to the case's. */
static lb_val_t *make_record(int rec, const lb_val_t *data, const wf_case_t *c, int64_t at,
                             uint64_t id)
{
    int rc = 0;
    lb_val_t *r = lb_map();
    if (!r)
        return NULL;
    lb_put_int(r, "at", at, &rc);
    lb_put_int(r, "id", (int64_t)id, &rc);
    for (uint32_t i = 0; data && i < data->m.n; i++)
        lb_put(r, data->m.keys[i], rc ? NULL : lb_val_dup(data->m.vals[i]), &rc);
    if (rec == WF_REC_VISIT && !lb_map_get(data, "team") && c->team[0])
        lb_put_str(r, "team", c->team, &rc);
    if (rc == 0 && rec == WF_REC_DECISION)
        rc = wf_ledger_fix_due(r);
    if (rc)
        lb_val_free(&r);
    return r;
}

/* What wf_apply's checks resolved: the action, the states it moves between, its data. */
typedef struct {
    const wf_action_t *a;
    int si, ti;           /* state now, state after (same index when it stays) */
    const lb_val_t *data; /* a map or NULL */
} wf_plan_t;

/*
 * The actions that may run in state si, comma-separated into out ("none" when
 * none, e.g. a terminal state); an overlong list ends in "...", never cut mid-name.
 */
static void allowed_actions(const wf_def_t *def, int si, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; si >= 0 && i < def->nactions; i++) {
        if (!def->actions[i].from[si])
            continue;
        size_t need = strlen(def->actions[i].name) + (n ? 2 : 0);
        if (n + need + 4 >= outlen) { /* room for "..." and the NUL */
            snprintf(out + n, outlen - n, "%s...", n ? ", " : "");
            return;
        }
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", def->actions[i].name);
    }
    if (n == 0)
        snprintf(out, outlen, "none");
}

/* The checks of wf_apply, in its documented order; nothing of c changes. */
static int plan_action(const wf_def_t *def, const wf_catalog_t *cat, const wf_case_t *c,
                       const wf_act_t *act, wf_plan_t *p, wf_error_t *err)
{
    int rc;

    /* 1. The action exists. */
    int ai = wf_def_action_index(def, act->action);
    if (ai < 0)
        return fail(err, LB_EINVALID, "action", "no action %s in workflow %s",
                    act->action ? act->action : "(none)", def->name);
    const wf_action_t *a = &def->actions[ai];

    /* 2. It may run in the case's state. */
    int si = wf_def_state_index(def, c->state);
    if (si < 0 || !a->from[si]) {
        char allowed[160];
        allowed_actions(def, si, allowed, sizeof allowed);
        return fail(err, LB_EINVALID, "action",
                    "action %s is not allowed in state %s; allowed there: %s", a->name, c->state,
                    allowed);
    }

    /* 3. The role may run it; admin always may. */
    int role = wf_name_index(wf_roles, 4, act->role);
    if (role != 3 && (role < 0 || !(a->roles & (1u << role))))
        return fail(err, LB_EFORBIDDEN, "", "role %s may not run action %s",
                    act->role ? act->role : "(none)", a->name);

    /* 4. The case has room for the record, unless the action closes it. */
    int ti = a->to >= 0 ? a->to : si;
    uint32_t cap = act->max_records ? act->max_records : WF_CASE_RECORDS_DEFAULT;
    uint32_t held = wf_case_records(c);
    if (a->record != WF_REC_NONE && !def->states[ti].terminal && held >= cap) {
        if (err)
            snprintf(err->case_id, sizeof(err->case_id), "%s", c->case_id);
        return fail(err, LB_ETOOLARGE, "",
                    "case %s holds %u records, the most a case may hold: "
                    "only an action closing it may add one",
                    c->case_id, held);
    }

    /* 5. data is a map; without a record, of known keys only; required keys are present. */
    const lb_val_t *data = act->data;
    if (data && data->type == LB_NIL)
        data = NULL;
    if (data && data->type != LB_MAP)
        return fail(err, LB_EGUARD, "data", "data must be a map");
    if (a->record == WF_REC_NONE && act->strict_data && (rc = check_scalar_keys(a, data, err)))
        return rc;
    for (size_t i = 0; i < a->nrequire; i++) {
        const lb_val_t *v = lb_map_get(data, a->require[i]);
        if (!v || v->type == LB_NIL)
            return fail(err, LB_EGUARD, a->require[i], "missing %s", a->require[i]);
    }

    /* 6. The record (or the scalar map) is valid, and the engine's own rules hold. */
    rc = a->record != WF_REC_NONE ? check_record(a->record, data, cat, err)
                                  : check_scalars(data, err);
    if (rc == 0 && a->record != WF_REC_NONE)
        rc = wf_ledger_check(a->record, data, c, act->at, err);
    if (rc)
        return rc;
    if ((rc = check_team_level(data, err)))
        return rc;
    if ((rc = check_terminal(&def->states[ti], c, data, err)))
        return rc;

    p->a = a;
    p->si = si;
    p->ti = ti;
    p->data = data;
    return 0;
}

/*
 * Appends the action's record to its list (kept ordered by at) and updates
 * the needs it opens or meets; *evdata gets the event's data (a copy of the
 * record, or of the scalar map). Checked already: only memory can fail.
 */
static int apply_record(const wf_def_t *def, const wf_plan_t *p, const wf_catalog_t *cat,
                        wf_case_t *c, int64_t at, lb_val_t **evdata, uint64_t *id)
{
    if (!p->a)
        return LB_EINTERNAL; /* a plan always names its action */
    int rec_kind = p->a->record, rc = 0;

    if (rec_kind == WF_REC_NONE) {
        if (p->data && !(*evdata = lb_val_dup(p->data)))
            return LB_ENOMEM;
        return 0;
    }
    *id = wf_next_record_id(c);
    lb_val_t *rec = make_record(rec_kind, p->data, c, at, *id);
    *evdata = rec ? lb_val_dup(rec) : NULL;
    if (!*evdata) {
        lb_val_free(&rec);
        return LB_ENOMEM;
    }
    if (rec_kind == WF_REC_VISIT)
        rc = visit_needs(c->needs, rec, cat);
    else if (rec_kind == WF_REC_ASSIST)
        rc = meet_needs(c->needs, lb_map_get(rec, "meets"));
    else if (rec_kind == WF_REC_FOLLOWUP)
        rc = meet_needs(c->needs, lb_map_get(rec, "met"));
    if (rc == 0)
        rc = wf_ledger_after(def, c, rec_kind, rec, *id);
    if (rc) {
        lb_val_free(&rec);
        return rc;
    }
    /* rec is owned by the list, or freed by a failed insert. */
    return insert_by_at(*record_list(c, rec_kind), rec, at);
}

/* Enters the target state (new timers), or restarts the clock in place when the action says so. */
static int apply_state(const wf_def_t *def, const wf_plan_t *p, wf_case_t *c, int64_t at,
                       const wf_calendar_t *cal, wf_outcome_t *out)
{
    int rc;

    if (p->ti != p->si) {
        /* A late-synced action cannot move the clock back before the state began. */
        snprintf(c->state, sizeof(c->state), "%s", def->states[p->ti].name);
        c->entered_at = max64(at, c->entered_at);
        c->timers_base = c->entered_at;
        c->fired_in_state = 0;
        if ((rc = set_timers(c, &def->states[p->ti], cal)))
            return rc;
        out->state_changed = out->timers_changed = true;
    } else if (p->a->restart_timers && at > c->timers_base) {
        /* Only a newer action restarts the clock: a late-synced older one would move it
         * back and re-fire steps that already fired. */
        c->timers_base = at;
        c->fired_in_state = 0;
        if ((rc = set_timers(c, &def->states[p->si], cal)))
            return rc;
        out->timers_changed = true;
    }
    return 0;
}

int wf_apply(const wf_def_t *def, const wf_catalog_t *cat, wf_case_t *c, const wf_act_t *act,
             wf_outcome_t *out, wf_error_t *err)
{
    lb_val_t *evdata = NULL;
    wf_plan_t p = {.a = NULL};
    int rc;

    memset(out, 0, sizeof(*out));
    if (err)
        memset(err, 0, sizeof(*err));
    if ((rc = plan_action(def, cat, c, act, &p, err)))
        return rc;

    /* Every check passed: from here on only memory can fail. */
    if ((rc = ensure_lists(c)))
        goto cleanup;
    const char *team = lb_map_str(p.data, "team"), *level = lb_map_str(p.data, "level");
    if (team)
        snprintf(c->team, sizeof(c->team), "%s", team);
    if (level)
        snprintf(c->level, sizeof(c->level), "%s", level);
    if ((rc = apply_record(def, &p, cat, c, act->at, &evdata, &out->record_id)))
        goto cleanup;

    snprintf(out->from, sizeof(out->from), "%s", c->state);
    if ((rc = apply_state(def, &p, c, act->at, act->calendar, out)))
        goto cleanup;
    snprintf(out->to, sizeof(out->to), "%s", c->state);
    out->kind = p.a->record != WF_REC_NONE ? record_kinds[p.a->record] : "case";
    out->record = p.a->record != WF_REC_NONE ? wf_record_names[p.a->record] : NULL;
    out->event_data = evdata;
    evdata = NULL;

cleanup:
    lb_val_free(&evdata);
    if (rc)
        fail(err, rc, "", "out of memory");
    return rc;
}

int wf_case_migrate(const wf_def_t *def, const wf_calendar_t *cal, wf_case_t *c, int64_t now)
{
    if (!def || !c)
        return LB_EINTERNAL;
    if (wf_def_state_index(def, c->state) >= 0)
        return 0;
    const char *to = wf_def_migrate(def, c->state);
    if (!to)
        return LB_ENOTFOUND;
    const wf_state_t *st = &def->states[wf_def_state_index(def, to)];
    /* As entering a state by an action: the clock never runs back before the old state began. */
    int64_t base = max64(now, c->entered_at);
    c->timers_base = base;
    int rc = set_timers(c, st, cal);
    if (rc)
        return rc;
    snprintf(c->state, sizeof(c->state), "%s", st->name);
    snprintf(c->workflow, sizeof(c->workflow), "%s", def->name);
    c->workflow_version = def->version;
    c->entered_at = base;
    c->fired_in_state = 0;
    return 1;
}

int wf_case_restart_clock(const wf_def_t *def, const wf_calendar_t *cal, wf_case_t *c, int64_t now)
{
    if (!def || !c)
        return LB_EINTERNAL;
    int si = wf_def_state_index(def, c->state);
    if (si < 0)
        return LB_ENOTFOUND;
    /* Never back before the clock's own start: steps that fired would fire again. */
    c->timers_base = max64(now, c->timers_base);
    c->fired_in_state = 0;
    return set_timers(c, &def->states[si], cal);
}
