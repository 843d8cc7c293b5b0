/*
 * wf_members.c - household membership and merging (PROTOCOL.md 9.18): the
 * member record's vocabulary and references, and folding a duplicate case's
 * records into the case that is kept. Pure, like the rest of the engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_internal.h"

const char *const wf_member_changes[WF_NMEMBER_CHANGE] = {"join", "leave", "head", "deceased"};

bool wf_member_ref_valid(const char *s)
{
    if (!s || s[0] != 'M' || strlen(s) != WF_MEMBER_REF_LEN)
        return false;
    for (size_t i = 1; i < WF_MEMBER_REF_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

const char *wf_def_action_record(const wf_def_t *def, const char *action)
{
    int ai = def ? wf_def_action_index(def, action) : -1;
    if (ai < 0 || def->actions[ai].record == WF_REC_NONE)
        return NULL;
    return wf_record_names[def->actions[ai].record];
}

static int64_t rec_at(const lb_val_t *rec)
{
    int64_t at = INT64_MIN;
    lb_map_int(rec, "at", &at);
    return at;
}

uint64_t wf_case_last_record_id(const wf_case_t *c)
{
    return wf_next_record_id(c) - 1;
}

/* Raises a value of rec's key by offset when it is a record id (an integer > 0). */
static int raise_id(lb_val_t *rec, const char *key, uint64_t offset)
{
    int64_t v = 0;
    if (lb_map_int(rec, key, &v) != 0 || v <= 0)
        return 0;
    return lb_map_set_int(
        rec, key, (uint64_t)v > (uint64_t)INT64_MAX - offset ? INT64_MAX : v + (int64_t)offset);
}

int wf_record_renumber(lb_val_t *rec, uint64_t offset)
{
    if (offset == 0 || !rec || rec->type != LB_MAP)
        return 0;
    int rc = raise_id(rec, "id", offset);
    return rc ? rc : raise_id(rec, "pledge", offset);
}

/*
 * keep's list and a copy of drop's, merged by at into a new array (*out), or
 * LB_ENOMEM; the copies of drop's records get their ids raised by offset.
 */
static int merge_list(const lb_val_t *keep, const lb_val_t *drop, uint64_t offset, lb_val_t **out)
{
    uint32_t nk = keep ? keep->a.n : 0, nd = drop ? drop->a.n : 0, i = 0, j = 0;
    lb_val_t *m = lb_arr();
    int rc = m ? 0 : LB_ENOMEM;
    while (rc == 0 && (i < nk || j < nd)) {
        bool from_keep =
            j == nd || (i < nk && rec_at(keep->a.items[i]) <= rec_at(drop->a.items[j]));
        lb_val_t *item = lb_val_dup(from_keep ? keep->a.items[i++] : drop->a.items[j++]);
        if (item && !from_keep && wf_record_renumber(item, offset))
            lb_val_free(&item);
        lb_push(m, item, &rc);
    }
    if (rc)
        lb_val_free(&m);
    *out = m;
    return rc;
}

/* Whether needs already holds a need for what n is about (its indicator, else dimension and note).
 */
static bool has_need(const lb_val_t *needs, const lb_val_t *n)
{
    const char *ind = lb_map_str(n, "indicator"), *dim = lb_map_str(n, "dimension");
    const char *note = lb_map_str(n, "note");
    for (uint32_t i = 0; needs && i < needs->a.n; i++) {
        const lb_val_t *x = needs->a.items[i];
        const char *xi = lb_map_str(x, "indicator"), *xd = lb_map_str(x, "dimension");
        const char *xn = lb_map_str(x, "note");
        if (ind ? (xi && strcmp(xi, ind) == 0)
                : (!xi && xd && dim && strcmp(xd, dim) == 0 && xn && note && strcmp(xn, note) == 0))
            return true;
    }
    return false;
}

int wf_case_absorb(wf_case_t *keep, const wf_case_t *drop, uint32_t max_records, uint32_t *added,
                   wf_error_t *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
    *added = 0;
    uint32_t cap = max_records ? max_records : WF_CASE_RECORDS_DEFAULT;
    uint64_t total = (uint64_t)wf_case_records(keep) + wf_case_records(drop);
    if (total > cap) {
        if (err) {
            err->code = LB_ETOOLARGE;
            snprintf(err->case_id, sizeof(err->case_id), "%s", keep->case_id);
            snprintf(err->message, sizeof(err->message),
                     "case %s would hold %llu records after the merge, more than %u", keep->case_id,
                     (unsigned long long)total, cap);
        }
        return LB_ETOOLARGE;
    }
    /* Ids are unique only within a case: drop's go above every id keep holds. */
    uint64_t offset = wf_case_last_record_id(keep);
    lb_val_t **mine[] = {&keep->visits, &keep->assistance,     &keep->follow_ups,
                         &keep->notes,  &keep->member_changes, &keep->decisions};
    const lb_val_t *theirs[] = {drop->visits, drop->assistance,     drop->follow_ups,
                                drop->notes,  drop->member_changes, drop->decisions};
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < sizeof mine / sizeof mine[0]; k++) {
        lb_val_t *merged = NULL;
        if ((rc = merge_list(*mine[k], theirs[k], offset, &merged)))
            break;
        lb_val_free(mine[k]);
        *mine[k] = merged;
    }
    /* The timers of drop's pledges and decisions go on in keep, under the new ids. */
    for (uint32_t i = 0; rc == 0 && i < drop->n_timers; i++) {
        const wf_timer_t *t = &drop->timers[i];
        if (!t->kind[0])
            continue;
        wf_timer_t *all = realloc(keep->timers, ((size_t)keep->n_timers + 1) * sizeof(*all));
        if (!all) {
            rc = LB_ENOMEM;
            break;
        }
        keep->timers = all;
        all[keep->n_timers] = *t;
        all[keep->n_timers].record = t->record + offset;
        keep->n_timers++;
    }
    for (uint32_t i = 0; rc == 0 && drop->needs && i < drop->needs->a.n; i++)
        if (!has_need(keep->needs, drop->needs->a.items[i]))
            lb_push(keep->needs, lb_val_dup(drop->needs->a.items[i]), &rc);
    if (rc == 0)
        *added = wf_case_records(drop);
    else if (err) {
        err->code = rc;
        snprintf(err->message, sizeof(err->message), "out of memory");
    }
    return rc;
}

const char *wf_def_closed_state(const wf_def_t *def)
{
    for (size_t i = 0; def && i < def->nstates; i++)
        if (def->states[i].terminal && strcmp(def->states[i].outcome, "closed") == 0)
            return def->states[i].name;
    return NULL;
}

int wf_case_close_merged(const wf_def_t *def, wf_case_t *c, const char *into, int64_t now)
{
    const char *st = wf_def_closed_state(def);
    if (!st || !into || strlen(into) >= sizeof(c->merged_into))
        return LB_EINTERNAL;
    snprintf(c->state, sizeof(c->state), "%s", st);
    /* As entering a state by an action: the clock never runs back before the old state began. */
    c->entered_at = c->timers_base = now > c->entered_at ? now : c->entered_at;
    c->fired_in_state = 0;
    free(c->timers);
    c->timers = NULL;
    c->n_timers = 0;
    snprintf(c->merged_into, sizeof(c->merged_into), "%s", into);
    return 0;
}
