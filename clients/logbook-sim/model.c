/*
 * model.c - the simulated field teams and committees: the visit, assistance
 * and follow-up records they write, and the case's next action and its round
 * after each one the daemon took (see model.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* ---------------------------------------------------------------------- */
/* Vocabularies and agencies                                               */
/* ---------------------------------------------------------------------- */
enum {
    K_CASH,
    K_GOODS,
    K_OCCUPATION,
    K_TRAINING,
    K_LOAN,
    K_HOUSING,
    K_HEALTH,
    K_EDUCATION,
    K_WELFARE,
    K_REFERRAL,
    NKIND
};
static const char *const kind_names[NKIND] = {"cash",
                                              "goods",
                                              "occupation",
                                              "training",
                                              "loan",
                                              "housing",
                                              "health_service",
                                              "education_support",
                                              "welfare_registration",
                                              "referral"};

/* Where an agency sits decides the place its name carries. */
enum { AT_PROVINCE, AT_DISTRICT, AT_SUBDISTRICT, AT_NONE };

typedef struct {
    int dim;
    const char *th; /* printf format: the province, district or subdistrict goes in %s */
    const char *en;
    int at;
    const char *only; /* the indicators it answers ("bmn8 bmn9"), NULL = its whole dimension */
    int kinds[NKIND]; /* weight of each kind of help it brings */
    double meets;     /* chance one visit of it meets the need it came for */
} agency_t;

static const agency_t agencies[] = {
    {DIM_INCOME,
     "สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด%s",
     "Provincial Social Development Office",
     AT_PROVINCE,
     "bmn21 bmn22",
     {[K_CASH] = 60, [K_WELFARE] = 40},
     0.55},
    {DIM_INCOME,
     "สำนักงานเกษตรอำเภอ%s",
     "District Agriculture Office",
     AT_DISTRICT,
     NULL,
     {[K_OCCUPATION] = 70, [K_GOODS] = 30},
     0.6},
    {DIM_INCOME,
     "สำนักงานพัฒนาชุมชนอำเภอ%s",
     "District Community Development Office",
     AT_DISTRICT,
     NULL,
     {[K_OCCUPATION] = 50, [K_LOAN] = 30, [K_TRAINING] = 20},
     0.6},
    {DIM_INCOME,
     "สำนักงานจัดหางานจังหวัด%s",
     "Provincial Employment Office",
     AT_PROVINCE,
     "bmn20 bmn22",
     {[K_TRAINING] = 60, [K_REFERRAL] = 40},
     0.45},
    {DIM_INCOME,
     "สำนักงานปศุสัตว์อำเภอ%s",
     "District Livestock Office",
     AT_DISTRICT,
     "bmn20 bmn21 bmn22",
     {[K_OCCUPATION] = 100},
     0.6},
    {DIM_EDUCATION,
     "กศน.อำเภอ%s",
     "Non-formal education office",
     AT_DISTRICT,
     "bmn17 bmn19",
     {[K_EDUCATION] = 60, [K_TRAINING] = 40},
     0.7},
    {DIM_EDUCATION,
     "กองทุนเพื่อความเสมอภาคทางการศึกษา (กสศ.)",
     "Equitable Education Fund",
     AT_NONE,
     "bmn15 bmn16 bmn17",
     {[K_CASH] = 70, [K_EDUCATION] = 30},
     0.75},
    {DIM_EDUCATION,
     "สำนักงานเขตพื้นที่การศึกษาประถมศึกษา%s",
     "Primary Educational Service Area Office",
     AT_PROVINCE,
     "bmn15 bmn16",
     {[K_EDUCATION] = 60, [K_REFERRAL] = 40},
     0.7},
    {DIM_LIVING,
     "อบต. ต.%s",
     "Subdistrict Administrative Organization",
     AT_SUBDISTRICT,
     NULL,
     {[K_GOODS] = 60, [K_HOUSING] = 40},
     0.7},
    {DIM_LIVING,
     "สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด%s",
     "Provincial Social Development Office",
     AT_PROVINCE,
     "bmn8",
     {[K_HOUSING] = 100},
     0.8},
    {DIM_HEALTH,
     "โรงพยาบาลส่งเสริมสุขภาพตำบล ต.%s",
     "Subdistrict Health Promoting Hospital",
     AT_SUBDISTRICT,
     NULL,
     {[K_HEALTH] = 80, [K_REFERRAL] = 20},
     0.75},
    {DIM_HEALTH,
     "สำนักงานสาธารณสุขอำเภอ%s",
     "District Public Health Office",
     AT_DISTRICT,
     NULL,
     {[K_HEALTH] = 60, [K_GOODS] = 40},
     0.7},
    {DIM_ACCESS,
     "สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด%s",
     "Provincial Social Development Office",
     AT_PROVINCE,
     NULL,
     {[K_WELFARE] = 60, [K_CASH] = 40},
     0.8},
    {DIM_ACCESS,
     "อบต. ต.%s",
     "Subdistrict Administrative Organization",
     AT_SUBDISTRICT,
     NULL,
     {[K_WELFARE] = 100},
     0.8},
    {DIM_ACCESS,
     "โรงพยาบาลส่งเสริมสุขภาพตำบล ต.%s",
     "Subdistrict Health Promoting Hospital",
     AT_SUBDISTRICT,
     "bmn27 bmn28",
     {[K_HEALTH] = 100},
     0.7},
};

static const char *const visit_notes[] = {
    "พบหัวหน้าครัวเรือน ยืนยันปัญหาตามข้อมูล TPMAP", "ครัวเรือนต้องการอาชีพเสริม",
    "สมาชิกส่วนใหญ่ทำงานต่างจังหวัด สัมภาษณ์ผู้สูงอายุในบ้าน", "บ้านชำรุด หลังคารั่ว", "ทีมพี่เลี้ยงร่วมลงพื้นที่"};
static const char *const followup_notes[] = {"รายได้ดีขึ้นจากอาชีพเสริม", "ยังต้องการความช่วยเหลือต่อเนื่อง",
                                             "ครัวเรือนพึ่งพาตนเองได้มากขึ้น", "บุตรกลับเข้าเรียนแล้ว"};

const char *const state_names[NSTATE] = {"identified", "visit_scheduled", "visited", "assisting",
                                         "follow_up",  "resolved",        "closed"};
const char *const act_names[NACT + 1] = {"schedule_visit",  "record_visit",
                                         "plan_assistance", "record_assistance",
                                         "start_follow_up", "record_follow_up",
                                         "resolve",         "reopen",
                                         "close",           "ack"};

enum { LVL_NONE, LVL_SURVIVE, LVL_SUFFICIENT, LVL_SUSTAINABLE };

enum { R_MOVED, R_DECEASED, R_REFUSED, R_DUPLICATE, R_NOT_POOR, NREASON };
static const char *const reason_names[NREASON] = {"moved", "deceased", "refused", "duplicate",
                                                  "not_poor"};

/* LVL_* to its wire name (lb_progress_levels), "" for LVL_NONE. */
static const char *level_name(int level)
{
    return level > LVL_NONE && level <= LB_NPROGRESS ? lb_progress_levels[level - 1] : "";
}

int state_index(const char *name)
{
    for (int i = 0; name && i < NSTATE; i++)
        if (strcmp(state_names[i], name) == 0)
            return i;
    return -1;
}

int esc_index(const char *level)
{
    for (int i = 0; level && i < LB_NESC_LEVEL; i++)
        if (strcmp(lb_esc_levels[i], level) == 0)
            return i + 1;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* What the teams and committees send                                      */
/* ---------------------------------------------------------------------- */

static void team_of(const world_t *s, const sim_case_t *c, char out[24])
{
    char t[7];
    tambon_of(s, c, t);
    snprintf(out, 24, "team-%s", t);
}

/* tmpl with its one "%s" replaced by place (the agency tables are data, not formats). */
static void fill(char *out, size_t n, const char *tmpl, const char *place)
{
    const char *p = strstr(tmpl, "%s");
    if (p)
        snprintf(out, n, "%.*s%s%s", (int)(p - tmpl), tmpl, place, p + 2);
    else
        snprintf(out, n, "%s", tmpl);
}

static bool covers(const char *only, const char *code)
{
    if (!only)
        return true;
    size_t n = strlen(code);
    for (const char *p = only; (p = strstr(p, code)) != NULL; p += n)
        if ((p == only || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return true;
    return false;
}

static int open_count(uint32_t open)
{
    int n = 0;
    for (; open; open &= open - 1)
        n++;
    return n;
}

/* The k-th set bit of open. */
static int nth_bit(uint32_t open, int k)
{
    for (int i = 0; i < NIND; i++)
        if ((open >> i & 1) && k-- == 0)
            return i;
    return -1;
}

static lb_val_t *codes_of(uint32_t set)
{
    lb_val_t *a = lb_arr();
    for (int i = 0; a && i < NIND; i++)
        if ((set >> i & 1) && lb_arr_push(a, lb_str(ind[i].code)))
            lb_val_free(&a);
    return a;
}

/* A visit's findings: the household's deprivations, now and then one more the team sees. */
static lb_val_t *visit_data(const world_t *s, sim_case_t *c)
{
    uint32_t found = 0;
    for (int k = 0; k < c->ndep; k++)
        found |= 1u << c->dep[k];
    if (rng_chance(&c->rng, 0.12)) {
        int w[NIND];
        for (int i = 0; i < NIND; i++)
            w[i] = (found >> i & 1) ? 0 : ind[i].weight;
        found |= 1u << rng_weighted(&c->rng, w, NIND);
    }
    c->pend_open = c->open | found;
    lb_val_t *d = lb_map(), *f = lb_map();
    int rc = d && f ? 0 : LB_ENOMEM;
    for (int dim = 0; rc == 0 && dim < NDIM; dim++) {
        uint32_t in = 0;
        for (int i = 0; i < NIND; i++)
            if (ind[i].dim == dim)
                in |= found & (1u << i);
        if (in)
            rc = lb_map_set(f, lb_dimensions[dim], codes_of(in));
    }
    if (rc == 0) {
        rc = lb_map_set(d, "findings", f);
        f = NULL;
    }
    if (rc == 0 && c->st == ST_IDENTIFIED) {
        char team[24];
        team_of(s, c, team); /* an unscheduled visit: the team that came takes the case */
        rc = lb_map_set_str(d, "team", team);
    }
    if (rc == 0 && rng_chance(&c->rng, 0.3))
        rc = lb_map_set_str(d, "note", rng_pick(&c->rng, visit_notes, NELEMS(visit_notes)));
    lb_val_free(&f);
    if (rc)
        lb_val_free(&d);
    return d;
}

static int amount_for(rng_t *r, int kind)
{
    switch (kind) {
    case K_CASH:
        return rng_range(r, 1, 6) * 500;
    case K_GOODS:
        return rng_range(r, 5, 50) * 100;
    case K_OCCUPATION:
        return rng_range(r, 2, 10) * 1000;
    case K_LOAN:
        return rng_range(r, 10, 50) * 1000;
    case K_HOUSING:
        return rng_range(r, 15, 80) * 1000;
    case K_EDUCATION:
        return rng_range(r, 10, 40) * 100;
    default:
        return -1; /* services, training, registration: no money changes hands */
    }
}

/* An agency (its index) answering need *target, one of the household's open needs, drawn from r. */
static int pick_agency(const sim_case_t *c, rng_t *r, int *target)
{
    uint32_t pool = c->open;
    if (!pool)
        for (int k = 0; k < c->ndep; k++)
            pool |= 1u << c->dep[k];
    *target = nth_bit(pool, (int)rng_below(r, (uint32_t)open_count(pool)));
    int cand[NELEMS(agencies)], nc = 0;
    for (int k = 0; k < NELEMS(agencies); k++)
        if (agencies[k].dim == ind[*target].dim && covers(agencies[k].only, ind[*target].code))
            cand[nc++] = k;
    /* The table covers every indicator; should it ever not, any agency of the dimension
     * (or the first one) still gives a valid record rather than an out-of-range pick. */
    for (int k = 0; nc == 0 && k < NELEMS(agencies); k++)
        if (agencies[k].dim == ind[*target].dim)
            cand[nc++] = k;
    if (nc == 0)
        cand[nc++] = 0;
    return cand[rng_below(r, (uint32_t)nc)];
}

/* Agency k's name ("Thai / English") for a household of village v. */
static void agency_name(const world_t *s, const sim_case_t *c, uint32_t v, int k, char out[400])
{
    const agency_t *ag = &agencies[k];
    sim_case_t at = *c;
    at.village = v;
    const district_t *d = &s->d[district_of_case(s, &at)];
    char place[80], th[256];
    if (ag->at == AT_PROVINCE)
        snprintf(place, sizeof place, "%s", s->prov_th);
    else if (ag->at == AT_DISTRICT)
        snprintf(place, sizeof place, "%s", d->th);
    else
        tambon_of(s, &at, place);
    fill(th, sizeof th, ag->th, place);
    snprintf(out, 400, "%s / %s", th, ag->en);
}

/* An agency answering one of the household's open needs, with kind, dimension and meets. */
static lb_val_t *assist_data(const world_t *s, sim_case_t *c)
{
    int target;
    const agency_t *ag = &agencies[pick_agency(c, &c->rng, &target)];
    int kind = rng_weighted(&c->rng, ag->kinds, NKIND);
    char agency[400];
    agency_name(s, c, c->village, (int)(ag - agencies), agency);
    uint32_t meets = 0;
    if ((c->open >> target & 1) && rng_chance(&c->rng, ag->meets))
        meets |= 1u << target;
    for (int i = 0; i < NIND; i++)
        if (i != target && (c->open >> i & 1) && ind[i].dim == ag->dim &&
            covers(ag->only, ind[i].code) && rng_chance(&c->rng, 0.3))
            meets |= 1u << i;
    c->pend_open = c->open & ~meets;
    lb_val_t *data = lb_map();
    int rc = data ? 0 : LB_ENOMEM;
    lb_put_str(data, "agency", agency, &rc);
    lb_put_str(data, "dimension", lb_dimensions[ag->dim], &rc);
    lb_put_str(data, "kind", kind_names[kind], &rc);
    int amount = amount_for(&c->rng, kind);
    if (amount >= 0)
        lb_put_int(data, "amount_thb", amount, &rc);
    if (meets)
        lb_put(data, "meets", codes_of(meets), &rc);
    if (rc)
        lb_val_free(&data);
    return data;
}

/* case.act args of record_assistance in state assisting with data; NULL on LB_ENOMEM. */
static lb_val_t *assist_args(const sim_case_t *c, lb_val_t *data)
{
    char cid[LB_CASE_ID_MAX];
    lb_case_id_format(c->cid, cid);
    lb_val_t *a = lb_map();
    int rc = a && data ? 0 : LB_ENOMEM;
    lb_put_str(a, "case_id", cid, &rc);
    lb_put_str(a, "action", act_names[A_ASSIST], &rc);
    lb_put_str(a, "expect_state", state_names[ST_ASSISTING], &rc);
    lb_put(a, "data", data, &rc);
    if (rc)
        lb_val_free(&a);
    return a;
}

lb_val_t *model_pledge_args(const world_t *w, sim_case_t *c, rng_t *r)
{
    int target;
    int k = pick_agency(c, r, &target);
    int kind = rng_weighted(r, agencies[k].kinds, NKIND);
    int amount = amount_for(r, kind);
    if (amount < 0) /* a promise worth recording in the ledger carries money */
        amount = rng_range(r, 2, 20) * 500;
    c->pledge_agency = (uint8_t)k;
    c->pledge_kind = (uint8_t)kind;
    c->pledge_amount = amount;
    c->pledge_village = c->village;
    char agency[400];
    agency_name(w, c, c->village, k, agency);
    lb_val_t *data = lb_map();
    int rc = data ? 0 : LB_ENOMEM;
    lb_put_str(data, "agency", agency, &rc);
    lb_put_str(data, "dimension", lb_dimensions[agencies[k].dim], &rc);
    lb_put_str(data, "kind", kind_names[kind], &rc);
    lb_put_int(data, "amount_thb", amount, &rc);
    lb_put_str(data, "status", "pledged", &rc);
    lb_put_str(data, "note", "สัญญาว่าจะช่วยเหลือ / pledged at the committee meeting", &rc);
    if (rc)
        lb_val_free(&data);
    return assist_args(c, data);
}

lb_val_t *model_delivery_args(const world_t *w, const sim_case_t *c, rng_t *r)
{
    char agency[400];
    agency_name(w, c, c->pledge_village, c->pledge_agency, agency);
    /* now and then the agency delivers less than it promised */
    int amount = c->pledge_amount;
    if (amount > 0 && rng_chance(r, 0.15))
        amount = amount * rng_range(r, 5, 9) / 10;
    lb_val_t *data = lb_map();
    int rc = data ? 0 : LB_ENOMEM;
    lb_put_str(data, "agency", agency, &rc);
    lb_put_str(data, "dimension", lb_dimensions[agencies[c->pledge_agency].dim], &rc);
    lb_put_str(data, "kind", kind_names[c->pledge_kind], &rc);
    if (amount >= 0)
        lb_put_int(data, "amount_thb", amount, &rc);
    lb_put_str(data, "status", "delivered", &rc);
    lb_put_int(data, "pledge", c->pledge_id, &rc);
    if (rc)
        lb_val_free(&data);
    return assist_args(c, data);
}

/* survive -> sufficient -> sustainable over time, with the odd step back. */
static int next_level(rng_t *r, int cur)
{
    static const int first_w[] = {55, 40, 5};
    double u = rng_unit(r);
    switch (cur) {
    case LVL_NONE:
        return LVL_SURVIVE + rng_weighted(r, first_w, 3);
    case LVL_SURVIVE:
        return u < 0.45 ? LVL_SUFFICIENT : LVL_SURVIVE;
    case LVL_SUFFICIENT:
        return u < 0.30 ? LVL_SUSTAINABLE : u < 0.35 ? LVL_SURVIVE : LVL_SUFFICIENT;
    default:
        return u < 0.10 ? LVL_SUFFICIENT : LVL_SUSTAINABLE;
    }
}

static lb_val_t *followup_data(sim_case_t *c)
{
    static const double met_p[] = {0, 0.15, 0.5, 0.8};
    c->pend_level = (uint8_t)next_level(&c->rng, c->level);
    uint32_t met = 0;
    for (int i = 0; i < NIND; i++)
        if ((c->open >> i & 1) && rng_chance(&c->rng, met_p[c->pend_level]))
            met |= 1u << i;
    c->pend_open = c->open & ~met;
    lb_val_t *data = lb_map();
    int rc = data ? 0 : LB_ENOMEM;
    lb_put_str(data, "level", level_name(c->pend_level), &rc);
    if (met)
        lb_put(data, "met", codes_of(met), &rc);
    if (rng_chance(&c->rng, 0.25))
        lb_put_str(data, "note", rng_pick(&c->rng, followup_notes, NELEMS(followup_notes)), &rc);
    if (rc)
        lb_val_free(&data);
    return data;
}

lb_val_t *model_act_args(const world_t *s, sim_case_t *c)
{
    char cid[LB_CASE_ID_MAX], team[24];
    lb_case_id_format(c->cid, cid);
    lb_val_t *a = lb_map(), *data = NULL;
    int rc = a ? 0 : LB_ENOMEM;
    lb_put_str(a, "case_id", cid, &rc);
    lb_put_str(a, "action", act_names[c->next], &rc);
    /* The simulation's view of the case must be the daemon's: a mismatch is a conflict. */
    lb_put_str(a, "expect_state", state_names[c->st], &rc);
    switch (c->next) {
    case A_SCHEDULE:
        team_of(s, c, team);
        data = lb_map();
        lb_rc(&rc, data ? 0 : LB_ENOMEM);
        lb_put_str(data, "team", team, &rc);
        break;
    case A_VISIT:
        data = visit_data(s, c);
        break;
    case A_ASSIST:
        data = assist_data(s, c);
        break;
    case A_FOLLOWUP:
        data = followup_data(c);
        break;
    case A_RESOLVE:
        data = lb_map();
        lb_rc(&rc, data ? 0 : LB_ENOMEM);
        lb_put_str(data, "level", level_name(c->level), &rc);
        break;
    case A_REOPEN:
        data = lb_map();
        lb_rc(&rc, data ? 0 : LB_ENOMEM);
        /* reopen appends no record: its data takes team, level, reason and its require keys */
        lb_put_str(data, "reason", "ปัญหากลับมาอีก ต้องการความช่วยเหลือเพิ่ม", &rc);
        break;
    case A_CLOSE:
        data = lb_map();
        lb_rc(&rc, data ? 0 : LB_ENOMEM);
        lb_put_str(data, "reason", reason_names[c->reason], &rc);
        break;
    default:
        break;
    }
    if (c->next != A_PLAN && c->next != A_START_FU)
        lb_put(a, "data", data, &rc); /* a NULL data (out of memory) is recorded */
    if (rc)
        lb_val_free(&a);
    return a;
}
/* ---------------------------------------------------------------------- */
/* What happens next                                                       */
/* ---------------------------------------------------------------------- */

/* Sets c's next action `delay` rounds on; one not after `done` in a round waits a round. */
static void set_next(int round, sim_case_t *c, int done, int next, int delay)
{
    if (next <= done && delay < 1)
        delay = 1;
    c->next = (uint8_t)next;
    c->when = (int16_t)(round + delay);
}

static void close_later(int round, sim_case_t *c, int done, int lo, int hi)
{
    static const int reason_w[NREASON] = {
        [R_MOVED] = 25, [R_DECEASED] = 15, [R_REFUSED] = 15, [R_DUPLICATE] = 10, [R_NOT_POOR] = 35};
    c->reason = (uint8_t)rng_weighted(&c->rng, reason_w, NREASON);
    set_next(round, c, done, A_CLOSE, rng_range(&c->rng, lo, hi));
}

/* Rounds between follow-ups: mostly one to two months, sometimes a gap past the 90-day step. */
static int followup_gap(rng_t *r)
{
    return rng_chance(r, 0.12) ? rng_range(r, 9, 12) : rng_range(r, 2, 5);
}

static void after_visit(int round, sim_case_t *c)
{
    static const int path_w[] = {[PATH_AGENCY] = 22, [PATH_SELF] = 21, [PATH_WAIT] = 57};
    static const int plan_w[] = {30, 30, 20, 20};
    if (rng_chance(&c->rng, 0.015)) {
        close_later(round, c, A_VISIT, 1, 4);
        return;
    }
    c->path = (uint8_t)rng_weighted(&c->rng, path_w, 3);
    if (c->path == PATH_WAIT) {
        /* no plan yet: the case waits in `visited` and escalates; a third get one later */
        if (rng_chance(&c->rng, 0.35)) {
            c->path = rng_chance(&c->rng, 0.5) ? PATH_AGENCY : PATH_SELF;
            set_next(round, c, A_VISIT, A_PLAN, rng_range(&c->rng, 6, 24));
        } else {
            c->next = A_NONE;
        }
        return;
    }
    int d = rng_weighted(&c->rng, plan_w, 4);
    set_next(round, c, A_VISIT, A_PLAN, d < 3 ? d : rng_range(&c->rng, 3, 8));
}

void model_advance(sim_case_t *c, int a, int round)
{
    int old = c->st;
    switch (a) {
    case A_SCHEDULE:
        c->st = ST_SCHEDULED;
        set_next(round, c, a, A_VISIT, c->visit_round - round);
        break;
    case A_VISIT:
        c->st = ST_VISITED;
        c->open = c->pend_open;
        after_visit(round, c);
        break;
    case A_PLAN:
        c->st = ST_ASSISTING;
        if (c->path == PATH_AGENCY) {
            static const int n_w[] = {55, 33, 12}, d_w[] = {15, 35, 25, 25};
            c->assists_left = (uint8_t)(rng_weighted(&c->rng, n_w, 3) + 1);
            int d = rng_weighted(&c->rng, d_w, 4);
            set_next(round, c, a, A_ASSIST, d < 3 ? d : rng_range(&c->rng, 3, 8));
        } else {
            set_next(round, c, a, A_START_FU, rng_range(&c->rng, 1, 3));
        }
        break;
    case A_ASSIST:
        c->open = c->pend_open;
        if (c->assists_left > 0)
            c->assists_left--;
        if (c->assists_left > 0)
            set_next(round, c, a, A_ASSIST, rng_range(&c->rng, 1, 4));
        else
            set_next(round, c, a, A_START_FU, rng_range(&c->rng, 0, 3));
        break;
    case A_START_FU:
        c->st = ST_FOLLOW_UP;
        set_next(round, c, a, A_FOLLOWUP, followup_gap(&c->rng));
        break;
    case A_FOLLOWUP:
        c->open = c->pend_open;
        c->level = c->pend_level;
        c->acked = 0; /* the follow-up restarted the escalation clock */
        if (c->level == LVL_SURVIVE && !c->reopened && rng_chance(&c->rng, 0.12))
            set_next(round, c, a, A_REOPEN, rng_range(&c->rng, 0, 2));
        else if (c->level >= LVL_SUFFICIENT && rng_chance(&c->rng, c->open ? 0.12 : 0.3))
            set_next(round, c, a, A_RESOLVE, rng_range(&c->rng, 1, 3)); /* the committee meets */
        else if (rng_chance(&c->rng, 0.01))
            close_later(round, c, a, 1, 3);
        else
            set_next(round, c, a, A_FOLLOWUP, followup_gap(&c->rng));
        break;
    case A_REOPEN:
        c->st = ST_ASSISTING;
        c->reopened = 1;
        c->path = PATH_AGENCY;
        c->assists_left = 1;
        set_next(round, c, a, A_ASSIST, rng_range(&c->rng, 1, 3));
        break;
    case A_RESOLVE:
        c->st = ST_RESOLVED;
        c->next = A_NONE;
        break;
    case A_CLOSE:
        c->st = ST_CLOSED;
        c->next = A_NONE;
        break;
    default:
        break;
    }
    if (c->st != old)
        c->acked = 0;
}

bool model_acks(const world_t *w, uint32_t i, int month, int level)
{
    static const double p_ack[] = {0, 0.30, 0.45, 0.60, 0.75};
    rng_t r = rng_for(w->seed, i, 1000 + (uint64_t)month);
    return level > 0 && level < NELEMS(p_ack) && rng_chance(&r, p_ack[level]);
}
