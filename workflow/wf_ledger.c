/*
 * wf_ledger.c - the agency ledger's and the committee agenda's part of the
 * engine (PROTOCOL.md 9.19): record ids, pledges and their deliveries,
 * decision records, and the timers they set (a pledge not delivered in time
 * and a decision's due passing without a later record both escalate).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_internal.h"

#define WF_DECISION_MAX 4096 /* bytes of a decision's text */
#define DAY_MS (24LL * 3600 * 1000)
#define BANGKOK_MS (7LL * 3600 * 1000) /* UTC+7, no daylight saving */

static int lfail(wf_error_t *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lfail(wf_error_t *err, const char *field, const char *fmt, ...)
{
    if (err) {
        err->code = LB_EGUARD;
        snprintf(err->field, sizeof(err->field), "%s", field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return LB_EGUARD;
}

int64_t wf_def_deliver_within(const wf_def_t *def)
{
    return def && def->deliver_within > 0 ? def->deliver_within : WF_DELIVER_WITHIN_DEFAULT;
}

/* An action every state may run (from: "*"), such as close or add_note. */
static bool from_everywhere(const wf_def_t *def, const wf_action_t *a)
{
    for (size_t i = 0; i < def->nstates; i++)
        if (!a->from[i])
            return false;
    return true;
}

bool wf_def_committee_only(const wf_def_t *def, const char *state)
{
    int si = def ? wf_def_state_index(def, state) : -1;
    if (si < 0 || def->states[si].terminal)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < def->nactions; i++) {
        const wf_action_t *a = &def->actions[i];
        /* Moving on is going to a state written later in the file, not back nor everywhere. */
        if (!a->from[si] || a->to <= si || from_everywhere(def, a))
            continue;
        /* roles bits follow wf_roles: field committee reporter admin */
        if (!(a->roles & 2u) || (a->roles & 1u))
            return false;
        n++;
    }
    return n > 0;
}

/* ---------------------------------------------------------------------- */
/* Records by id                                                           */
/* ---------------------------------------------------------------------- */

static uint64_t rec_id(const lb_val_t *r)
{
    int64_t id = 0;
    return lb_map_int(r, "id", &id) == 0 && id > 0 ? (uint64_t)id : 0;
}

uint64_t wf_next_record_id(const wf_case_t *c)
{
    const lb_val_t *lists[] = {c->visits, c->assistance,     c->follow_ups,
                               c->notes,  c->member_changes, c->decisions};
    uint64_t max = 0;
    /* Records stored before ids existed have none: they count as none here. */
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (uint32_t i = 0; lists[l] && i < lists[l]->a.n; i++) {
            uint64_t id = rec_id(lists[l]->a.items[i]);
            max = id > max ? id : max;
        }
    return max + 1;
}

const lb_val_t *wf_case_record(const wf_case_t *c, uint64_t id)
{
    const lb_val_t *lists[] = {c->visits, c->assistance,     c->follow_ups,
                               c->notes,  c->member_changes, c->decisions};
    for (size_t l = 0; id && l < sizeof lists / sizeof lists[0]; l++)
        for (uint32_t i = 0; lists[l] && i < lists[l]->a.n; i++)
            if (rec_id(lists[l]->a.items[i]) == id)
                return lists[l]->a.items[i];
    return NULL;
}

bool wf_case_pledge_delivered(const wf_case_t *c, uint64_t id)
{
    for (uint32_t i = 0; c->assistance && i < c->assistance->a.n; i++) {
        int64_t p = 0;
        if (lb_map_int(c->assistance->a.items[i], "pledge", &p) == 0 && p > 0 && (uint64_t)p == id)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* Checks                                                                  */
/* ---------------------------------------------------------------------- */

bool wf_ledger_key(const char *key)
{
    return !strcmp(key, "status") || !strcmp(key, "pledge") || !strcmp(key, "decision") ||
           !strcmp(key, "due");
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/*
 * A decision's due: unix ms, or "YYYY-MM-DD", the end of that day in
 * Asia/Bangkok (a committee gives a date; it has passed once the day is over).
 */
static int parse_due(const lb_val_t *v, int64_t *ms)
{
    if (v && v->type == LB_INT && v->i > 0) {
        *ms = v->i;
        return 0;
    }
    int y, m, d, n = 0;
    if (!v || v->type != LB_STR || v->s.n != 10 ||
        sscanf(v->s.p, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || y < 1970 || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return LB_EGUARD;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return LB_EGUARD;
    *ms = (days_from_civil(y, m, d) + 1) * DAY_MS - BANGKOK_MS;
    return 0;
}

static int check_pledge(const lb_val_t *data, const wf_case_t *c, int64_t at, wf_error_t *err)
{
    const lb_val_t *p = lb_map_get(data, "pledge");
    const char *status = lb_map_str(data, "status");
    if (!status || strcmp(status, "delivered") != 0)
        return lfail(err, "pledge", "only a record with status delivered fulfils a pledge");
    if (p->type != LB_INT || p->i <= 0)
        return lfail(err, "pledge", "pledge must be the record_id of a pledge");
    const lb_val_t *r = wf_case_record(c, (uint64_t)p->i);
    const char *rs = r ? lb_map_str(r, "status") : NULL;
    bool is_assist = false;
    for (uint32_t i = 0; r && c->assistance && i < c->assistance->a.n; i++)
        is_assist = is_assist || c->assistance->a.items[i] == r;
    if (!is_assist || !rs || strcmp(rs, "pledged") != 0)
        return lfail(err, "pledge", "record %lld of case %s is not a pledge", (long long)p->i,
                     c->case_id);
    if (wf_case_pledge_delivered(c, (uint64_t)p->i))
        return lfail(err, "pledge", "pledge %lld of case %s is already delivered", (long long)p->i,
                     c->case_id);
    int64_t pat = 0;
    lb_map_int(r, "at", &pat);
    if (at < pat)
        return lfail(err, "pledge", "a delivery cannot precede its pledge");
    return 0;
}

int wf_ledger_check(int rec, const lb_val_t *data, const wf_case_t *c, int64_t at, wf_error_t *err)
{
    if (rec == WF_REC_ASSIST) {
        const lb_val_t *st = lb_map_get(data, "status");
        if (st && (st->type != LB_STR ||
                   (strcmp(st->s.p, "pledged") != 0 && strcmp(st->s.p, "delivered") != 0)))
            return lfail(err, "status", "status must be pledged or delivered");
        return lb_map_get(data, "pledge") ? check_pledge(data, c, at, err) : 0;
    }
    if (rec != WF_REC_DECISION)
        return 0;
    const lb_val_t *d = lb_map_get(data, "decision");
    if (d->type != LB_STR || d->s.n == 0 || d->s.n > WF_DECISION_MAX)
        return lfail(err, "decision", "decision must be text of 1 to %d bytes", WF_DECISION_MAX);
    int64_t due;
    if (parse_due(lb_map_get(data, "due"), &due))
        return lfail(err, "due", "due must be a date YYYY-MM-DD or unix milliseconds");
    if (due <= at)
        return lfail(err, "due", "due must be after the decision");
    return 0;
}

int wf_ledger_fix_due(lb_val_t *rec)
{
    int64_t due;
    if (parse_due(lb_map_get(rec, "due"), &due))
        return 0; /* checked before: cannot happen */
    return lb_map_set_int(rec, "due", due);
}

/* ---------------------------------------------------------------------- */
/* Timers                                                                  */
/* ---------------------------------------------------------------------- */

/* Removes the record timers of kind (and of record, when record is not 0). */
static void drop_timers(wf_case_t *c, const char *kind, uint64_t record)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n_timers; i++) {
        const wf_timer_t *t = &c->timers[i];
        if (strcmp(t->kind, kind) == 0 && (record == 0 || t->record == record))
            continue;
        c->timers[k++] = *t;
    }
    c->n_timers = k;
}

static int add_timer(wf_case_t *c, const char *kind, uint64_t record, int64_t due)
{
    wf_timer_t *t = realloc(c->timers, ((size_t)c->n_timers + 1) * sizeof(*t));
    if (!t)
        return LB_ENOMEM;
    c->timers = t;
    t = &c->timers[c->n_timers++];
    memset(t, 0, sizeof(*t));
    t->due = due;
    snprintf(t->level, sizeof(t->level), "%s", WF_RECORD_TIMER_LEVEL);
    snprintf(t->kind, sizeof(t->kind), "%s", kind);
    t->record = record;
    return 0;
}

int wf_ledger_after(const wf_def_t *def, wf_case_t *c, int kind, const lb_val_t *rec, uint64_t id)
{
    if (kind == WF_REC_NONE)
        return 0;
    /* Any later record answers a decision; a new decision sets its own clock. */
    drop_timers(c, "decision", 0);
    int64_t at = 0, v = 0;
    lb_map_int(rec, "at", &at);
    if (kind == WF_REC_DECISION && lb_map_int(rec, "due", &v) == 0)
        return add_timer(c, "decision", id, v);
    if (kind != WF_REC_ASSIST)
        return 0;
    const char *status = lb_map_str(rec, "status");
    if (status && strcmp(status, "pledged") == 0) {
        int64_t within = wf_def_deliver_within(def);
        int64_t due = at > INT64_MAX - within ? INT64_MAX : at + within;
        return add_timer(c, "pledge", id, due);
    }
    if (lb_map_int(rec, "pledge", &v) == 0 && v > 0)
        drop_timers(c, "pledge", (uint64_t)v);
    return 0;
}
