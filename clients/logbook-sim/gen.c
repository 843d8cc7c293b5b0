/*
 * gen.c - the synthetic province of logbook-sim: real district lists for
 * Phitsanulok and Satun, villages, TPMAP target households with 1-3 failing
 * indicators and members to match. Pure: every choice comes from the seed.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/* ---------------------------------------------------------------------- */
/* Deterministic randomness                                                */
/* ---------------------------------------------------------------------- */

uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

rng_t rng_for(uint64_t seed, uint64_t id, uint64_t sub)
{
    rng_t r = {mix64(seed ^ mix64(id * 0x100000001b3ULL + 1) ^ mix64(sub + 0x5eed))};
    return r;
}

uint64_t rng_next(rng_t *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint32_t rng_below(rng_t *r, uint32_t n)
{
    return n ? (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32) : 0;
}

double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

bool rng_chance(rng_t *r, double p)
{
    return rng_unit(r) < p;
}

int rng_range(rng_t *r, int lo, int hi)
{
    return hi <= lo ? lo : lo + (int)rng_below(r, (uint32_t)(hi - lo + 1));
}

int rng_weighted(rng_t *r, const int *w, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    int x = (int)rng_below(r, (uint32_t)total);
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

const char *rng_pick(rng_t *r, const char *const *list, int n)
{
    return list[rng_below(r, (uint32_t)n)];
}

/* ---------------------------------------------------------------------- */
/* Geography                                                               */
/* ---------------------------------------------------------------------- */

typedef struct {
    const char *code, *th, *en;
    int ntambon; /* subdistricts (tambon) */
    int weight;  /* share of the province's target households */
} district_def_t;

/* The real district list; weights follow population with more poverty in the rural districts. */
static const district_def_t phitsanulok[] = {
    {"6501", "เมืองพิษณุโลก", "Mueang Phitsanulok", 20, 18},
    {"6502", "นครไทย", "Nakhon Thai", 11, 13},
    {"6503", "ชาติตระการ", "Chat Trakan", 6, 8},
    {"6504", "บางระกำ", "Bang Rakam", 11, 14},
    {"6505", "บางกระทุ่ม", "Bang Krathum", 9, 7},
    {"6506", "พรหมพิราม", "Phrom Phiram", 12, 11},
    {"6507", "วัดโบสถ์", "Wat Bot", 6, 7},
    {"6508", "วังทอง", "Wang Thong", 11, 13},
    {"6509", "เนินมะปราง", "Noen Maprang", 7, 9},
};

/* DOMAIN.md's fixture province: 7 districts, 36 subdistricts. */
static const district_def_t satun[] = {
    {"9101", "เมืองสตูล", "Mueang Satun", 12, 35},
    {"9102", "ควนโดน", "Khuan Don", 4, 8},
    {"9103", "ควนกาหลง", "Khuan Kalong", 3, 8},
    {"9104", "ท่าแพ", "Tha Phae", 4, 8},
    {"9105", "ละงู", "La-ngu", 6, 18},
    {"9106", "ทุ่งหว้า", "Thung Wa", 5, 7},
    {"9107", "มะนัง", "Manang", 2, 5},
};

static const struct {
    const char *code, *th, *en;
    const district_def_t *d;
    uint16_t nd; /* districts (at most 99) */
} provinces[] = {
    {"65", "พิษณุโลก", "Phitsanulok", phitsanulok, sizeof phitsanulok / sizeof phitsanulok[0]},
    {"91", "สตูล", "Satun", satun, sizeof satun / sizeof satun[0]},
};

/* ---------------------------------------------------------------------- */
/* Indicators, names, agencies                                             */
/* ---------------------------------------------------------------------- */

/* Income first, then education (bmn17, bmn19), living, health, accessibility: TPMAP's pattern. */
const indicator_t ind[NIND] = {
    {"bmn1", DIM_HEALTH, 10, NEED_NEWBORN},     {"bmn4", DIM_HEALTH, 25, NEED_NONE},
    {"bmn5", DIM_HEALTH, 15, NEED_NONE},        {"bmn7", DIM_HEALTH, 30, NEED_NONE},
    {"bmn8", DIM_LIVING, 55, NEED_NONE},        {"bmn9", DIM_LIVING, 30, NEED_NONE},
    {"bmn10", DIM_LIVING, 30, NEED_NONE},       {"bmn11", DIM_LIVING, 25, NEED_NONE},
    {"bmn15", DIM_EDUCATION, 15, NEED_CHILD35}, {"bmn16", DIM_EDUCATION, 25, NEED_CHILD614},
    {"bmn17", DIM_EDUCATION, 110, NEED_TEEN},   {"bmn19", DIM_EDUCATION, 95, NEED_ADULT},
    {"bmn20", DIM_INCOME, 60, NEED_ADULT},      {"bmn21", DIM_INCOME, 45, NEED_ELDER},
    {"bmn22", DIM_INCOME, 300, NEED_NONE},      {"bmn27", DIM_ACCESS, 20, NEED_ELDER},
    {"bmn28", DIM_ACCESS, 20, NEED_DISABLED},
};

static const char *const male_names[] = {
    "สมชาย", "สมศักดิ์", "ประเสริฐ", "บุญมี",   "สมบัติ", "วิชัย",    "สุรชัย", "ประยูร",  "ทองดี", "บุญเรือง",
    "สมพงษ์", "ชัยวัฒน์", "อนุชา",    "ธนากร", "ณัฐพล", "กิตติพงษ์", "สุริยา", "จักรพันธ์", "มานพ", "เฉลิม"};
static const char *const female_names[] = {
    "สมหญิง", "สมศรี",   "บุญเรือน", "มาลี",    "ประไพ",  "สุนีย์",   "วันเพ็ญ", "ทองใบ",  "อำไพ", "จันทร์เพ็ญ",
    "สุภาพร", "นงลักษณ์", "ศิริพร",   "กาญจนา", "พิมพ์ชนก", "ณัฐธิดา", "อรอุมา", "ละเอียด", "บัวผัน", "คำปุ่น"};
static const char *const surnames[] = {
    "ใจดี",     "แก้วมณี",  "ทองคำ",  "บุญมา",   "ศรีสุข",    "มีสุข",    "พรหมมา",  "จันทร์แก้ว",
    "อินทร์ทอง", "สุขเจริญ", "วงศ์ใหญ่", "ปานทอง", "ทองอินทร์", "คงสวัสดิ์", "แสงจันทร์", "เพชรรัตน์",
    "พึ่งบุญ",    "นาคสุข",  "ดวงดี",   "สีดา",    "อ่อนศรี",   "พูลสวัสดิ์"};

/* ---------------------------------------------------------------------- */
/* A u64 -> u32 map (house ids and case numbers to case indexes)           */
/* ---------------------------------------------------------------------- */

int umap_init(umap_t *m, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->mask = cap - 1;
    return m->keys && m->vals ? 0 : LB_ENOMEM;
}

void umap_free(umap_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

void umap_put(umap_t *m, uint64_t key, uint32_t val)
{
    size_t i = mix64(key) & m->mask;
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & m->mask;
    m->keys[i] = key;
    m->vals[i] = val;
}

bool umap_get(const umap_t *m, uint64_t key, uint32_t *val)
{
    size_t i = mix64(key) & m->mask;
    while (m->keys[i]) {
        if (m->keys[i] == key) {
            *val = m->vals[i];
            return true;
        }
        i = (i + 1) & m->mask;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* Generating the province                                                 */
/* ---------------------------------------------------------------------- */

int district_of_case(const world_t *w, const sim_case_t *c)
{
    return w->v[c->village].district;
}

void tambon_of(const world_t *w, const sim_case_t *c, char out[7])
{
    memcpy(out, w->v[c->village].code, 6);
    out[6] = '\0';
}

bool gen_province_known(const char *code)
{
    for (int i = 0; i < NELEMS(provinces); i++)
        if (strcmp(provinces[i].code, code) == 0)
            return true;
    return false;
}

int gen_districts(world_t *s)
{
    int pi = -1;
    for (int i = 0; i < NELEMS(provinces); i++)
        if (strcmp(provinces[i].code, s->province) == 0)
            pi = i;
    rng_t r = rng_for(s->seed, 0xd157, 0);
    if (pi >= 0) {
        s->nd = (uint16_t)provinces[pi].nd;
        snprintf(s->prov_th, sizeof s->prov_th, "%s", provinces[pi].th);
        snprintf(s->prov_en, sizeof s->prov_en, "%s", provinces[pi].en);
    } else {
        s->nd = (uint16_t)s->ndistricts_opt;
        snprintf(s->prov_th, sizeof s->prov_th, "จังหวัด %s", s->province);
        snprintf(s->prov_en, sizeof s->prov_en, "Province %s", s->province);
    }
    s->d = calloc((size_t)s->nd, sizeof *s->d);
    if (!s->d)
        return LB_ENOMEM;
    for (int i = 0; i < s->nd; i++) {
        district_t *d = &s->d[i];
        if (pi >= 0) {
            const district_def_t *def = &provinces[pi].d[i];
            snprintf(d->code, sizeof d->code, "%s", def->code);
            snprintf(d->th, sizeof d->th, "%s", def->th);
            snprintf(d->en, sizeof d->en, "%s", def->en);
            d->ntambon = def->ntambon;
            d->weight = def->weight;
        } else {
            snprintf(d->code, sizeof d->code, "%.2s%02u", s->province, (unsigned)(i + 1) % 100u);
            snprintf(d->th, sizeof d->th, "ที่ %d", i + 1);
            snprintf(d->en, sizeof d->en, "District %d", i + 1);
            d->ntambon = rng_range(&r, 4, 14);
            d->weight = rng_range(&r, 5, 15);
        }
    }
    return 0;
}

int gen_villages(world_t *s)
{
    uint32_t cap = 0;
    for (int i = 0; i < s->nd; i++)
        cap += (uint32_t)s->d[i].ntambon * 20;
    s->v = calloc(cap, sizeof *s->v);
    if (!s->v)
        return LB_ENOMEM;
    for (int i = 0; i < s->nd; i++) {
        district_t *d = &s->d[i];
        rng_t r = rng_for(s->seed, 0x7a3b, (uint64_t)i);
        d->first_village = s->nv;
        for (int t = 1; t <= d->ntambon; t++) {
            int nv = rng_range(&r, 6, 18);
            for (int m = 1; m <= nv; m++) {
                village_t *v = &s->v[s->nv++];
                snprintf(v->code, sizeof v->code, "%.4s%02u%02u", d->code, (unsigned)t % 100u,
                         (unsigned)m % 100u);
                v->district = (uint16_t)i;
            }
        }
        d->nvillages = s->nv - d->first_village;
        s->ntambon += d->ntambon;
    }
    return 0;
}

/* Splits n over the districts by weight (largest remainder): the same every run. */
int gen_apportion(world_t *s)
{
    int wsum = 0;
    for (int i = 0; i < s->nd; i++)
        wsum += s->d[i].weight;
    uint32_t given = 0;
    double *rem = calloc((size_t)s->nd, sizeof *rem);
    if (!rem)
        return LB_ENOMEM;
    for (int i = 0; i < s->nd; i++) {
        double share = (double)s->n * s->d[i].weight / wsum;
        s->d[i].nhouseholds = (uint32_t)share;
        rem[i] = share - s->d[i].nhouseholds;
        given += s->d[i].nhouseholds;
    }
    while (given < s->n) {
        int best = 0;
        for (int i = 1; i < s->nd; i++)
            if (rem[i] > rem[best])
                best = i;
        s->d[best].nhouseholds++;
        rem[best] = -1;
        given++;
    }
    free(rem);
    return 0;
}

/* 1-3 failing indicators by TPMAP's weights, no repeats. */
static void gen_deprivations(rng_t *r, sim_case_t *c)
{
    static const int nw[] = {55, 32, 13};
    int w[NIND];
    for (int i = 0; i < NIND; i++)
        w[i] = ind[i].weight;
    c->ndep = (uint8_t)(rng_weighted(r, nw, 3) + 1);
    for (int k = 0; k < c->ndep; k++) {
        int i = rng_weighted(r, w, NIND);
        c->dep[k] = (uint8_t)i;
        w[i] = 0;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Phitsanulok: all visited. */
int visit_horizon(const world_t *s)
{
    int rounds = s->months * ROUNDS_PER_MONTH;
    int h = rounds / 2; /* visits spread over the first half of the run */
    return h < 1 ? 1 : h > rounds ? rounds : h;
}

int gen_households(world_t *s)
{
    s->c = calloc(s->n, sizeof *s->c);
    uint32_t *vil = malloc(sizeof *vil * (s->n ? s->n : 1));
    if (!s->c || !vil) {
        free(vil);
        return LB_ENOMEM;
    }
    uint32_t k = 0;
    int horizon = visit_horizon(s);
    for (int di = 0; di < s->nd; di++) {
        district_t *d = &s->d[di];
        rng_t r = rng_for(s->seed, 0x4011, (uint64_t)di);
        /* Villages differ in size: a weight per village, then one village per household. */
        int *vw = malloc(sizeof *vw * (d->nvillages ? d->nvillages : 1));
        if (!vw) {
            free(vil);
            return LB_ENOMEM;
        }
        for (uint32_t i = 0; i < d->nvillages; i++)
            vw[i] = rng_range(&r, 1, 6);
        for (uint32_t i = 0; i < d->nhouseholds; i++)
            vil[i] = d->first_village + (uint32_t)rng_weighted(&r, vw, (int)d->nvillages);
        free(vw);
        qsort(vil, d->nhouseholds, sizeof *vil, cmp_u32);
        /* House ids: the registration office (the district code), then a serial with gaps. */
        uint64_t gap = 9000000ULL / (d->nhouseholds + 1);
        gap = gap < 1 ? 1 : gap > 40 ? 40 : gap;
        uint64_t serial = (uint64_t)rng_range(&r, 1000, 20000);
        for (uint32_t i = 0; i < d->nhouseholds; i++, k++) {
            sim_case_t *c = &s->c[k];
            serial += 1 + rng_below(&r, (uint32_t)gap);
            c->house = strtoull(d->code, NULL, 10) * 10000000ULL + serial % 10000000ULL;
            c->village = vil[i];
            c->rng = rng_for(s->seed, k, 1);
            gen_deprivations(&c->rng, c);
            /* Front-loaded over the horizon: teams start with most of the list. */
            double u = rng_unit(&c->rng);
            c->visit_round = (int16_t)((double)horizon * (1.0 - sqrt(1.0 - u)));
            if (c->visit_round >= horizon)
                c->visit_round = (int16_t)(horizon - 1);
            c->st = ST_IDENTIFIED;
            /* Most visits are scheduled first, some up to 20 days ahead (the 10bd step
             * fires); a quarter of households are seen when the team happens by. */
            if (rng_chance(&c->rng, 0.75)) {
                static const int lead_w[] = {40, 35, 25};
                int lead = rng_weighted(&c->rng, lead_w, 3);
                c->next = A_SCHEDULE;
                c->when = (int16_t)(c->visit_round > lead ? c->visit_round - lead : 0);
            } else {
                c->next = A_VISIT;
                c->when = c->visit_round;
            }
        }
    }
    free(vil);
    return 0;
}

/* The check digit is the mod-11 one of DOMAIN.md. */
void make_nid(char out[14], int type, const char *office, uint64_t person, uint64_t seed)
{
    /* 7919 is prime to 10^7, so different people below 10^7 get different serials. */
    uint64_t serial = (person * 7919ULL + mix64(seed) % 10000000ULL) % 10000000ULL;
    snprintf(out, 14, "%d%.4s%07" PRIu64, type, office, serial);
    int sum = 0;
    for (int i = 0; i < 12; i++)
        sum += (out[i] - '0') * (13 - i);
    out[12] = (char)('0' + (11 - sum % 11) % 10);
    out[13] = '\0';
}

typedef struct {
    int age;
    char sex;
} person_t;

/*
 * Members consistent with the deprivations: an elder for bmn21/bmn27, a child of the
 * right age for bmn1/bmn15/bmn16/bmn17, an adult for bmn19/bmn20. Returns the count.
 */
static int gen_people(rng_t *r, const sim_case_t *c, person_t p[MEMBERS_MAX])
{
    bool need[NEED_ADULT + 1] = {false};
    for (int k = 0; k < c->ndep; k++)
        need[ind[c->dep[k]].need] = true;
    int n = 0;
    bool elder_head = need[NEED_ELDER] && (!need[NEED_ADULT] || rng_chance(r, 0.4));
    if (!elder_head && !need[NEED_ADULT] && rng_chance(r, 0.25))
        elder_head = true; /* many poor households are headed by grandparents */
    p[n].age = elder_head ? rng_range(r, 60, 84) : rng_range(r, 26, 59);
    p[n].sex = rng_chance(r, elder_head ? 0.45 : 0.6) ? 'm' : 'f';
    n++;
    static const struct {
        int need, lo, hi;
    } req[] = {{NEED_ELDER, 60, 88},   {NEED_DISABLED, 20, 80}, {NEED_CHILD35, 3, 5},
               {NEED_CHILD614, 6, 14}, {NEED_TEEN, 15, 17},     {NEED_NEWBORN, 0, 0}};
    for (int k = 0; k < NELEMS(req); k++) {
        if (!need[req[k].need] || (req[k].need == NEED_ELDER && elder_head))
            continue;
        p[n].age = rng_range(r, req[k].lo, req[k].hi);
        p[n].sex = rng_chance(r, 0.5) ? 'm' : 'f';
        n++;
    }
    static const int size_w[] = {12, 22, 24, 20, 13, 9};
    int size = rng_weighted(r, size_w, 6) + 1;
    if (n < size && n < MEMBERS_MAX && rng_chance(r, 0.75)) {
        /* a spouse */
        int age = p[0].age + rng_range(r, -6, 6);
        p[n].age = age < 18 ? 18 : age;
        p[n].sex = p[0].sex == 'm' ? 'f' : 'm';
        n++;
    }
    while (n < size && n < MEMBERS_MAX) {
        int kind = rng_range(r, 0, 9);
        p[n].age = kind < 6   ? rng_range(r, 0, 17)
                   : kind < 8 ? rng_range(r, 18, 45)
                              : rng_range(r, 60, 85);
        p[n].sex = rng_chance(r, 0.5) ? 'm' : 'f';
        n++;
    }
    return n;
}

lb_val_t *gen_household(world_t *s, uint32_t i, int *rc)
{
    const sim_case_t *c = &s->c[i];
    const village_t *v = &s->v[c->village];
    const district_t *d = &s->d[v->district];
    rng_t r = rng_for(s->seed, i, 2);
    person_t p[MEMBERS_MAX];
    int n = gen_people(&r, c, p);
    char house[16], addr[300], name[200], nid[14];
    snprintf(house, sizeof house, "%011" PRIu64, c->house);
    snprintf(addr, sizeof addr, "%d หมู่ %d ต.%.6s อ.%s จ.%s", rng_range(&r, 1, 250),
             atoi(v->code + 6), v->code, d->th, s->prov_th);
    const char *surname = rng_pick(&r, surnames, NELEMS(surnames));
    lb_val_t *h = lb_map(), *members = lb_arr(), *dep = lb_arr();
    int e = h && members && dep ? 0 : LB_ENOMEM; /* sticky: members and dep pass to h below */
    lb_put_str(h, "house_id", house, &e);
    lb_put_str(h, "area", v->code, &e);
    lb_put_str(h, "address", addr, &e);
    for (int k = 0; k < n; k++) {
        const char *first = p[k].sex == 'm' ? rng_pick(&r, male_names, NELEMS(male_names))
                                            : rng_pick(&r, female_names, NELEMS(female_names));
        /* a spouse keeps her or his own family name now and then */
        const char *family =
            k == 1 && rng_chance(&r, 0.3) ? rng_pick(&r, surnames, NELEMS(surnames)) : surname;
        snprintf(name, sizeof name, "%s %s", first, family);
        if (k == 0)
            lb_put_str(h, "head", name, &e);
        /* born before 1984: type 3 (registered then); after: type 1 */
        int birth = REF_YEAR - p[k].age;
        make_nid(nid, birth < 1984 ? 3 : 1, d->code, (uint64_t)i * MEMBERS_MAX + (uint64_t)k,
                 s->seed);
        lb_val_t *m = lb_map();
        int me = m ? 0 : LB_ENOMEM;
        lb_put_str(m, "nid", nid, &me);
        lb_put_str(m, "name", name, &me);
        lb_put_int(m, "birth_year", birth, &me);
        lb_put_str(m, "sex", p[k].sex == 'm' ? "m" : "f", &me);
        if (me)
            lb_val_free(&m); /* lb_push records the NULL as LB_ENOMEM */
        lb_push(members, m, &e);
        s->people++;
    }
    /*
     * Registers list one person in two households now and then: one household in 250 also
     * lists the head of the household before it (its own stream, so no other choice moves).
     */
    rng_t rd = rng_for(s->seed, i, 3);
    if (i > 0 && n < MEMBERS_MAX && rng_chance(&rd, DUPLICATE_P)) {
        uint64_t people = s->people;
        lb_val_t *other = gen_household(s, i - 1, &e);
        s->people = people + 1;
        const lb_val_t *om = lb_map_get(other, "members");
        if (om && om->type == LB_ARR && om->a.n)
            lb_push(members, lb_val_dup(om->a.items[0]), &e);
        lb_val_free(&other);
    }
    for (int k = 0; k < c->ndep; k++)
        lb_push(dep, lb_str(ind[c->dep[k]].code), &e);
    lb_put(h, "members", members, &e);
    lb_put(h, "deprived", dep, &e);
    if (e) {
        lb_val_free(&h);
        *rc = e;
    }
    return h;
}

int gen_world(world_t *w)
{
    int rc = gen_districts(w);
    if (rc == 0 && w->nd == 0)
        rc = LB_EBADREQ;
    if (rc == 0)
        rc = gen_villages(w);
    if (rc == 0)
        rc = gen_apportion(w);
    if (rc == 0)
        rc = gen_households(w);
    return rc;
}

void world_free(world_t *w)
{
    free(w->c);
    free(w->v);
    free(w->d);
    w->c = NULL;
    w->v = NULL;
    w->d = NULL;
    w->nd = 0;
    w->nv = 0;
    w->ntambon = 0;
    w->people = 0;
}
