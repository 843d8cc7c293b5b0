/*
 * logbook-sim.c - a synthetic province for Logbook. Generates TPMAP target
 * households (default Phitsanulok, 65: 13,831 households in its 9 districts),
 * imports them, then drives simulated field teams and committees through
 * visits, assistance, follow-ups, resolutions, closures and escalation
 * acknowledgements month by month, moving a `--clock manual` daemon's clock.
 *
 * Requests are pipelined (lbc_send/lbc_recv, --rate in flight). Every choice
 * comes from --seed through one random stream per household, never from the
 * order replies arrive in, so the same seed against a fresh daemon gives the
 * same figures. Exit: 0 done, 1 the daemon refused something the simulation
 * expected to work (or the run stopped), 2 usage, 3 the daemon cannot be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../proto/proto.h"
#include "../lib/client.h"

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNREACHABLE = 3 };

#define WORKFLOW "tpmap-household"
/* Ages and birth years are counted from the survey year of the Phitsanulok figures. */
#define REF_YEAR 2021
/*
 * A month is three rounds of ten days: the month's work is spread over them
 * and the clock moves ten days after each, so an escalation fires only when
 * a case really sat still for its step (a single 30-day jump would fire the
 * 7- and 14-day steps of cases the teams picked up in the month's first week).
 */
#define ROUNDS_PER_MONTH 3
#define ROUND_S (30 * 86400 / ROUNDS_PER_MONTH)
/* case.import: at most 10,000 households, and under the daemon's default 1 MiB message limit. */
#define IMPORT_BATCH PROTO_IMPORT_MAX
#define IMPORT_BYTES (900 * 1024)
#define HOUSEHOLDS_MAX 1000000
#define MEMBERS_MAX 8
#define DEFAULT_RATE 256
/* admin.clock fires every due escalation in one transaction: give it time. */
#define TIMEOUT_MS 120000

/* ---------------------------------------------------------------------- */
/* Deterministic randomness                                                */
/* ---------------------------------------------------------------------- */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Stream `sub` of thing `id`: independent of every other stream for the same seed. */
static rng_t rng_for(uint64_t seed, uint64_t id, uint64_t sub)
{
    rng_t r = {mix64(seed ^ mix64(id * 0x100000001b3ULL + 1) ^ mix64(sub + 0x5eed))};
    return r;
}

static uint64_t rng_next(rng_t *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rng_below(rng_t *r, uint32_t n)
{
    return n ? (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32) : 0;
}

static double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static bool rng_chance(rng_t *r, double p)
{
    return rng_unit(r) < p;
}

/* lo..hi inclusive */
static int rng_range(rng_t *r, int lo, int hi)
{
    return hi <= lo ? lo : lo + (int)rng_below(r, (uint32_t)(hi - lo + 1));
}

static int rng_weighted(rng_t *r, const int *w, int n)
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

typedef struct {
    char code[5];
    char th[64];
    char en[48];
    int ntambon, weight;
    uint32_t first_village, nvillages;
    uint32_t nhouseholds;
} district_t;

typedef struct {
    char code[9]; /* PPAATTMM */
    uint16_t district;
} village_t;

/* ---------------------------------------------------------------------- */
/* Indicators, names, agencies                                             */
/* ---------------------------------------------------------------------- */

enum {
    NEED_NONE = 0,
    NEED_ELDER,
    NEED_DISABLED,
    NEED_CHILD35,
    NEED_CHILD614,
    NEED_TEEN,
    NEED_NEWBORN,
    NEED_ADULT
};

enum { DIM_HEALTH, DIM_LIVING, DIM_EDUCATION, DIM_INCOME, DIM_ACCESS, NDIM };
static const char *const dim_names[NDIM] = {"health", "living", "education", "income",
                                            "accessibility"};

typedef struct {
    const char *code;
    int dim;
    int weight; /* how often TPMAP finds it failing, per mille of findings */
    int need;   /* the member a failing household must have */
} indicator_t;

/* Income first, then education (bmn17, bmn19), living, health, accessibility: TPMAP's pattern. */
static const indicator_t ind[] = {
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
#define NIND ((int)(sizeof ind / sizeof ind[0]))

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
#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

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

/* ---------------------------------------------------------------------- */
/* The simulated cases                                                     */
/* ---------------------------------------------------------------------- */

enum {
    ST_IDENTIFIED,
    ST_SCHEDULED,
    ST_VISITED,
    ST_ASSISTING,
    ST_FOLLOW_UP,
    ST_RESOLVED,
    ST_CLOSED,
    NSTATE,
    ST_FOREIGN = NSTATE,
    ST_FAILED
};
static const char *const state_names[NSTATE] = {
    "identified", "visit_scheduled", "visited", "assisting", "follow_up", "resolved", "closed"};

/* In the order they run within a round: a case's next action never comes earlier in it. */
enum {
    A_SCHEDULE,
    A_VISIT,
    A_PLAN,
    A_ASSIST,
    A_START_FU,
    A_FOLLOWUP,
    A_RESOLVE,
    A_REOPEN,
    A_CLOSE,
    NACT,
    A_ACK = NACT,
    A_NONE
};
static const char *const act_names[NACT + 1] = {"schedule_visit",  "record_visit",
                                                "plan_assistance", "record_assistance",
                                                "start_follow_up", "record_follow_up",
                                                "resolve",         "reopen",
                                                "close",           "ack"};

enum { PATH_AGENCY, PATH_SELF, PATH_WAIT };
enum { LVL_NONE, LVL_SURVIVE, LVL_SUFFICIENT, LVL_SUSTAINABLE };
static const char *const level_names[] = {"", "survive", "sufficient", "sustainable"};
static const char *const esc_levels[] = {"", "team", "subdistrict", "district", "province"};

enum { R_MOVED, R_DECEASED, R_REFUSED, R_DUPLICATE, R_NOT_POOR, NREASON };
static const char *const reason_names[NREASON] = {"moved", "deceased", "refused", "duplicate",
                                                  "not_poor"};

typedef struct {
    uint64_t house; /* 11-digit house id */
    uint64_t cid;   /* case number once known, 0 before */
    rng_t rng;      /* this household's own decisions */
    uint32_t village;
    uint32_t open;      /* needs the team believes open: one bit per indicator */
    uint32_t pend_open; /* what `open` becomes when the action in flight succeeds */
    int16_t when;       /* round of the next action */
    int16_t visit_round;
    uint8_t dep[3], ndep;
    uint8_t st, next, path, level, pend_level;
    uint8_t assists_left, acked, reopened, reason;
} sim_case_t;

/* ---------------------------------------------------------------------- */
/* A u64 -> u32 map (house ids and case numbers to case indexes)           */
/* ---------------------------------------------------------------------- */

typedef struct {
    uint64_t *keys; /* 0 = empty */
    uint32_t *vals;
    size_t mask;
} umap_t;

static int umap_init(umap_t *m, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->mask = cap - 1;
    return m->keys && m->vals ? 0 : LB_ENOMEM;
}

static void umap_free(umap_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* key != 0; the map is sized for every key it will get, so it never fills. */
static void umap_put(umap_t *m, uint64_t key, uint32_t val)
{
    size_t i = mix64(key) & m->mask;
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & m->mask;
    m->keys[i] = key;
    m->vals[i] = val;
}

static bool umap_get(const umap_t *m, uint64_t key, uint32_t *val)
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
/* The simulation's state                                                  */
/* ---------------------------------------------------------------------- */

typedef struct {
    int64_t now;
    int64_t by_state[NSTATE];
    int64_t cases, visited, assisted, resolved, closed, overdue, unacked;
    int64_t fired; /* escalation steps fired during the month (-1: unknown) */
    int64_t acked;
} month_t;

typedef struct pipe pipe_t;

typedef struct {
    /* options */
    const char *endpoint, *cert, *server_cert, *html;
    bool no_curve, no_clock;
    char province[3];
    int ndistricts_opt;
    uint32_t nhouseholds;
    int months;
    uint64_t seed;
    int rate;

    /* the province */
    char prov_th[64], prov_en[48];
    district_t *d;
    uint16_t nd; /* districts (at most 99) */
    village_t *v;
    uint32_t nv;
    int ntambon;
    sim_case_t *c;
    uint32_t n;
    uint64_t people;

    /* the run */
    lbc_t *lbc;
    pipe_t *pipe;
    char run_id[LBC_ID_LEN + 1];
    bool manual;
    int64_t now;
    int64_t fired_total; /* admin.stats escalations_fired at the last look, -1 unknown */
    int round;
    umap_t by_cid;
    uint64_t ok[NACT + 1], refused[NACT + 1], ack_conflicts;
    uint64_t requests;
    char first_refusal[320];
    int64_t opened, skipped, import_errors, foreign;
    month_t *mon;
    int nmon;
    lb_val_t *final; /* report.summary by district at the end (the reply) */
    double wall_s;
} sim_t;

static void die_oom(void)
{
    fprintf(stderr, "logbook-sim: out of memory\n");
    exit(EX_REFUSED);
}

/* 1234567 -> "1,234,567" (rotating static buffers: a few per printf). */
static const char *num(int64_t v)
{
    static char bufs[16][32];
    static unsigned k;
    char *out = bufs[k++ & 15], tmp[32];
    snprintf(tmp, sizeof tmp, "%" PRId64, v < 0 ? -v : v);
    size_t n = strlen(tmp), o = 0;
    if (v < 0)
        out[o++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = '\0';
    return out;
}

static double pct(int64_t a, int64_t b)
{
    return b > 0 ? 100.0 * (double)a / (double)b : 0.0;
}

static void date_of(int64_t ms, char out[16])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !localtime_r(&t, &tm))
        snprintf(out, 16, "-");
    else
        strftime(out, 16, "%Y-%m-%d", &tm);
}

/* ---------------------------------------------------------------------- */
/* Generating the province                                                 */
/* ---------------------------------------------------------------------- */

static int district_of_case(const sim_t *s, const sim_case_t *c)
{
    return s->v[c->village].district;
}

/* Subdistrict code (6 digits) of a case into out. */
static void tambon_of(const sim_t *s, const sim_case_t *c, char out[7])
{
    memcpy(out, s->v[c->village].code, 6);
    out[6] = '\0';
}

static void gen_districts(sim_t *s)
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
        die_oom();
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
}

static void gen_villages(sim_t *s)
{
    uint32_t cap = 0;
    for (int i = 0; i < s->nd; i++)
        cap += (uint32_t)s->d[i].ntambon * 20;
    s->v = calloc(cap, sizeof *s->v);
    if (!s->v)
        die_oom();
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
}

/* Splits n over the districts by weight (largest remainder): the same every run. */
static void apportion(sim_t *s)
{
    int wsum = 0;
    for (int i = 0; i < s->nd; i++)
        wsum += s->d[i].weight;
    uint32_t given = 0;
    double *rem = calloc((size_t)s->nd, sizeof *rem);
    if (!rem)
        die_oom();
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

/* The last round by which every household has been visited (Phitsanulok: all visited). */
static int visit_horizon(const sim_t *s)
{
    int rounds = s->months * ROUNDS_PER_MONTH;
    int h = rounds / 2; /* visits spread over the first half of the run */
    return h < 1 ? 1 : h > rounds ? rounds : h;
}

static void gen_households(sim_t *s)
{
    s->c = calloc(s->n, sizeof *s->c);
    uint32_t *vil = malloc(sizeof *vil * (s->n ? s->n : 1));
    if (!s->c || !vil)
        die_oom();
    uint32_t k = 0;
    int horizon = visit_horizon(s);
    for (int di = 0; di < s->nd; di++) {
        district_t *d = &s->d[di];
        rng_t r = rng_for(s->seed, 0x4011, (uint64_t)di);
        /* Villages differ in size: a weight per village, then one village per household. */
        int *vw = malloc(sizeof *vw * d->nvillages);
        if (!vw)
            die_oom();
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
            /* Most visits are scheduled first, some up to 20 days ahead (the 14-day step
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
}

/* A valid national id: person type, registration office, a serial unique per person, check. */
static void make_nid(char out[14], int type, const char *office, uint64_t person, uint64_t seed)
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

static const char *pick(rng_t *r, const char *const *list, int n)
{
    return list[rng_below(r, (uint32_t)n)];
}

/* The household map case.import takes; personal data comes from its own stream. */
static lb_val_t *build_household(sim_t *s, uint32_t i, int *rc)
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
    const char *surname = pick(&r, surnames, NELEMS(surnames));
    lb_val_t *h = lb_map(), *members = lb_arr(), *dep = lb_arr();
    if (!h || !members || !dep) {
        lb_val_free(&h);
        lb_val_free(&members);
        lb_val_free(&dep);
        *rc = LB_ENOMEM;
        return NULL;
    }
    int e = lb_map_set_str(h, "house_id", house);
    e |= lb_map_set_str(h, "area", v->code);
    e |= lb_map_set_str(h, "address", addr);
    for (int k = 0; k < n; k++) {
        const char *first = p[k].sex == 'm' ? pick(&r, male_names, NELEMS(male_names))
                                            : pick(&r, female_names, NELEMS(female_names));
        /* a spouse keeps her or his own family name now and then */
        const char *family =
            k == 1 && rng_chance(&r, 0.3) ? pick(&r, surnames, NELEMS(surnames)) : surname;
        snprintf(name, sizeof name, "%s %s", first, family);
        if (k == 0)
            e |= lb_map_set_str(h, "head", name);
        /* born before 1984: type 3 (registered then); after: type 1 */
        int birth = REF_YEAR - p[k].age;
        make_nid(nid, birth < 1984 ? 3 : 1, d->code, (uint64_t)i * MEMBERS_MAX + (uint64_t)k,
                 s->seed);
        lb_val_t *m = lb_map();
        int me = m ? 0 : LB_ENOMEM;
        me |= lb_map_set_str(m, "nid", nid);
        me |= lb_map_set_str(m, "name", name);
        me |= lb_map_set_int(m, "birth_year", birth);
        me |= lb_map_set_str(m, "sex", p[k].sex == 'm' ? "m" : "f");
        e |= me ? (lb_val_free(&m), me) : lb_arr_push(members, m);
        s->people++;
    }
    for (int k = 0; k < c->ndep; k++)
        e |= lb_arr_push(dep, lb_str(ind[c->dep[k]].code));
    e |= lb_map_set(h, "members", members);
    e |= lb_map_set(h, "deprived", dep);
    if (e) {
        lb_val_free(&h);
        *rc = LB_ENOMEM;
    }
    return h;
}

/* ---------------------------------------------------------------------- */
/* Pipelined requests                                                      */
/* ---------------------------------------------------------------------- */

typedef void (*pipe_cb)(sim_t *s, uint32_t tag, int act, const lb_val_t *reply);

typedef struct {
    bool busy;
    uint32_t tag;
    int act;
    pipe_cb cb;
} slot_t;

/*
 * Up to `max` requests in flight on one DEALER. A reply finds its slot through
 * its id ("RUN-SLOT-COUNTER"): RUN is random per run, so ids never repeat
 * against the daemon's 24-hour idempotency store when the simulation runs
 * again.
 */
struct pipe {
    sim_t *s;
    int max, inflight;
    slot_t *slots;
    int *free_slots, nfree;
    uint64_t counter;
    int err; /* sticky: the first failure; nothing more is sent after it */
};

static pipe_t *pipe_new(sim_t *s, int max)
{
    pipe_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->s = s;
    p->max = max;
    p->slots = calloc((size_t)max, sizeof *p->slots);
    p->free_slots = calloc((size_t)max, sizeof *p->free_slots);
    if (!p->slots || !p->free_slots) {
        free(p->slots);
        free(p->free_slots);
        free(p);
        return NULL;
    }
    for (int i = max - 1; i >= 0; i--)
        p->free_slots[p->nfree++] = i;
    return p;
}

static void pipe_destroy(pipe_t **pp)
{
    if (!pp || !*pp)
        return;
    free((*pp)->slots);
    free((*pp)->free_slots);
    free(*pp);
    *pp = NULL;
}

/* Waits for one reply and hands it to its slot's callback. */
static int pipe_recv_one(pipe_t *p)
{
    lb_val_t *r = NULL;
    int rc = lbc_recv(p->s->lbc, TIMEOUT_MS, &r);
    if (rc) {
        fprintf(stderr, "logbook-sim: no reply in %d s with %d requests in flight: %s\n",
                TIMEOUT_MS / 1000, p->inflight, lb_strerror(rc));
        p->err = rc;
        return rc;
    }
    const char *id = lbc_reply_id(r);
    size_t rl = strlen(p->s->run_id);
    int slot = -1;
    if (strncmp(id, p->s->run_id, rl) == 0 && id[rl] == '-')
        slot = atoi(id + rl + 1);
    if (slot < 0 || slot >= p->max || !p->slots[slot].busy) {
        /* the daemon could not read the id, or a reply to nothing we sent: a bug either way */
        const char *code = "", *msg = "", *field = "";
        lbc_reply_error(r, &code, &msg, &field);
        fprintf(stderr, "logbook-sim: unmatched reply (id '%s'): %s %s\n", id, code, msg);
        lb_val_free(&r);
        p->err = LB_EINTERNAL;
        return p->err;
    }
    slot_t sl = p->slots[slot];
    p->slots[slot].busy = false;
    p->free_slots[p->nfree++] = slot;
    p->inflight--;
    sl.cb(p->s, sl.tag, sl.act, r);
    lb_val_free(&r);
    return 0;
}

/* Sends op with args (borrowed); cb gets the reply later. Blocks while `max` are in flight. */
static int pipe_send(pipe_t *p, const char *op, const lb_val_t *args, pipe_cb cb, uint32_t tag,
                     int act)
{
    while (!p->err && p->inflight >= p->max)
        pipe_recv_one(p);
    if (p->err)
        return p->err;
    int slot = p->free_slots[--p->nfree];
    char id[LBC_ID_LEN + 48];
    snprintf(id, sizeof id, "%s-%d-%" PRIx64, p->s->run_id, slot, p->counter++);
    int rc = lbc_send(p->s->lbc, id, op, args);
    if (rc) {
        p->free_slots[p->nfree++] = slot;
        fprintf(stderr, "logbook-sim: sending %s failed: %s\n", op, lb_strerror(rc));
        return p->err = rc;
    }
    p->slots[slot] = (slot_t){true, tag, act, cb};
    p->inflight++;
    p->s->requests++;
    return 0;
}

/* Waits for every reply in flight. */
static int pipe_drain(pipe_t *p)
{
    while (!p->err && p->inflight > 0)
        pipe_recv_one(p);
    return p->err;
}

/* One request, waited for (reads between phases, the clock). *reply: caller frees. */
static int call(sim_t *s, const char *op, const lb_val_t *args, lb_val_t **reply)
{
    char err[256] = "";
    *reply = NULL;
    int rc = lbc_call(s->lbc, op, args, reply, err, sizeof err);
    s->requests++;
    if (rc) {
        fprintf(stderr, "logbook-sim: %s: %s\n", op, err[0] ? err : lb_strerror(rc));
        return rc;
    }
    if (!lbc_reply_ok(*reply)) {
        const char *code, *msg, *field;
        rc = lbc_reply_error(*reply, &code, &msg, &field);
        return rc ? rc : LB_EINTERNAL;
    }
    return 0;
}

static void print_refusal(const char *op, const lb_val_t *reply)
{
    const char *code, *msg, *field;
    lbc_reply_error(reply, &code, &msg, &field);
    fprintf(stderr, "logbook-sim: %s refused: %s: %s%s%s\n", op, code, msg, *field ? " field " : "",
            field);
}

/* ---------------------------------------------------------------------- */
/* Import, and finding the case each household got                         */
/* ---------------------------------------------------------------------- */

static void on_import(sim_t *s, uint32_t first, int act, const lb_val_t *reply)
{
    (void)act;
    const lb_val_t *res = lbc_reply_result(reply);
    if (!res) {
        print_refusal("case.import", reply);
        s->import_errors += 1;
        return;
    }
    int64_t opened = 0, skipped = 0;
    lb_map_int(res, "opened", &opened);
    lb_map_int(res, "skipped", &skipped);
    s->opened += opened;
    s->skipped += skipped;
    const lb_val_t *errs = lb_map_get(res, "errors");
    for (uint32_t k = 0; errs && errs->type == LB_ARR && k < errs->a.n; k++) {
        int64_t idx = -1;
        lb_map_int(errs->a.items[k], "index", &idx);
        if (s->import_errors++ < 5)
            fprintf(stderr, "logbook-sim: household %" PRIu64 " refused: %s: %s\n",
                    idx >= 0 ? s->c[first + (uint32_t)idx].house : 0,
                    lb_map_str(errs->a.items[k], "code"), lb_map_str(errs->a.items[k], "message"));
    }
}

static lb_val_t *import_args(lb_val_t *households)
{
    lb_val_t *a = lb_map();
    int rc = a ? 0 : LB_ENOMEM;
    rc |= lb_map_set(a, "households", households);
    rc |= lb_map_set_str(a, "workflow", WORKFLOW);
    rc |= lb_map_set_str(a, "source", "tpmap");
    if (rc)
        lb_val_free(&a);
    return a;
}

/*
 * case.import in batches of at most 10,000 households and IMPORT_BYTES, two
 * in flight so the next batch is built while the daemon commits one.
 */
static int import_all(sim_t *s)
{
    int saved = s->pipe->max;
    s->pipe->max = saved < 2 ? saved : 2;
    lb_val_t *batch = NULL;
    size_t bytes = 0;
    uint32_t first = 0;
    int rc = 0;
    lb_buf_t b;
    lb_buf_init(&b);
    for (uint32_t i = 0; i <= s->n && rc == 0; i++) {
        lb_val_t *h = NULL;
        if (i < s->n) {
            if (!(h = build_household(s, i, &rc)))
                break;
            b.len = 0;
            if ((rc = proto_pack(h, &b))) {
                lb_val_free(&h);
                break;
            }
        }
        bool full =
            batch && (i == s->n || batch->a.n >= IMPORT_BATCH || bytes + b.len > IMPORT_BYTES);
        if (full) {
            lb_val_t *a = import_args(batch);
            batch = NULL;
            rc = a ? pipe_send(s->pipe, "case.import", a, on_import, first, A_NONE) : LB_ENOMEM;
            lb_val_free(&a);
        }
        if (rc || !h) {
            lb_val_free(&h);
            continue; /* the loop ends on rc */
        }
        if (!batch) {
            batch = lb_arr();
            bytes = 64;
            first = i;
        }
        bytes += b.len;
        if (rc == 0 && (rc = lb_arr_push(batch, h)) != 0)
            break;
    }
    lb_val_free(&batch);
    lb_buf_free(&b);
    if (rc == 0)
        rc = pipe_drain(s->pipe);
    s->pipe->max = saved;
    return rc;
}

static int state_index(const char *name)
{
    for (int i = 0; name && i < NSTATE; i++)
        if (strcmp(state_names[i], name) == 0)
            return i;
    return -1;
}

/*
 * One page of case.list over the province's cases of WORKFLOW (only the
 * overdue ones when asked), after the cursor `after` ("" = from the start).
 * Returns 0 or call()'s error, the refusal printed; *r: caller frees, either way.
 */
static int list_page(sim_t *s, const char *after, bool overdue, lb_val_t **r)
{
    lb_val_t *a = lb_map();
    int rc = a ? 0 : LB_ENOMEM;
    rc |= lb_map_set_str(a, "area", s->province);
    rc |= lb_map_set_str(a, "workflow", WORKFLOW);
    if (overdue)
        rc |= lb_map_set_bool(a, "overdue", true);
    rc |= lb_map_set_int(a, "limit", PROTO_LIST_MAX);
    if (after[0])
        rc |= lb_map_set_str(a, "after", after);
    if (rc == 0 && (rc = call(s, "case.list", a, r)) != 0 && *r)
        print_refusal("case.list", *r);
    lb_val_free(&a);
    return rc;
}

/*
 * case.import answers counts, not ids: walk case.list over the province and
 * match house ids. A household that already had an open case in another state
 * (the simulation ran against this daemon before) is left alone.
 */
static int map_cases(sim_t *s)
{
    umap_t by_house;
    int rc = umap_init(&by_house, s->n);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < s->n; i++)
        umap_put(&by_house, s->c[i].house, i);
    char after[300] = "";
    for (;;) {
        lb_val_t *r = NULL;
        rc = list_page(s, after, false, &r);
        if (rc) {
            lb_val_free(&r);
            break;
        }
        const lb_val_t *res = lbc_reply_result(r), *cases = lb_map_get(res, "cases");
        for (uint32_t k = 0; cases && cases->type == LB_ARR && k < cases->a.n; k++) {
            const lb_val_t *sm = cases->a.items[k];
            const char *house = lb_map_str(sm, "house_id"), *cid = lb_map_str(sm, "case_id");
            int st = state_index(lb_map_str(sm, "state"));
            uint32_t i;
            uint64_t n;
            if (!house || !cid || lb_case_id_parse(cid, &n) ||
                !umap_get(&by_house, strtoull(house, NULL, 10), &i))
                continue;
            if (st == ST_RESOLVED || st == ST_CLOSED)
                continue; /* an earlier case of the household */
            s->c[i].cid = n;
            if (st != ST_IDENTIFIED) {
                s->c[i].st = ST_FOREIGN;
                s->c[i].next = A_NONE;
            }
        }
        const char *next = lb_map_str(res, "next");
        snprintf(after, sizeof after, "%s", next ? next : "");
        lb_val_free(&r);
        if (!after[0])
            break;
    }
    umap_free(&by_house);
    if (rc)
        return rc;
    if ((rc = umap_init(&s->by_cid, s->n)))
        return rc;
    for (uint32_t i = 0; i < s->n; i++) {
        sim_case_t *c = &s->c[i];
        if (c->cid)
            umap_put(&s->by_cid, c->cid, i);
        else
            c->st = ST_FAILED, c->next = A_NONE; /* refused at import */
        if (c->st == ST_FOREIGN)
            s->foreign++;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* What the teams and committees send                                      */
/* ---------------------------------------------------------------------- */

static void team_of(const sim_t *s, const sim_case_t *c, char out[24])
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
static lb_val_t *visit_data(sim_t *s, sim_case_t *c)
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
            rc = lb_map_set(f, dim_names[dim], codes_of(in));
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
        rc = lb_map_set_str(d, "note", pick(&c->rng, visit_notes, NELEMS(visit_notes)));
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

/* An agency answering one of the household's open needs, with kind, dimension and meets. */
static lb_val_t *assist_data(sim_t *s, sim_case_t *c)
{
    uint32_t pool = c->open;
    if (!pool)
        for (int k = 0; k < c->ndep; k++)
            pool |= 1u << c->dep[k];
    int target = nth_bit(pool, (int)rng_below(&c->rng, (uint32_t)open_count(pool)));
    int cand[NELEMS(agencies)], nc = 0;
    for (int k = 0; k < NELEMS(agencies); k++)
        if (agencies[k].dim == ind[target].dim && covers(agencies[k].only, ind[target].code))
            cand[nc++] = k;
    /* The table covers every indicator; should it ever not, any agency of the dimension
     * (or the first one) still gives a valid record rather than an out-of-range pick. */
    for (int k = 0; nc == 0 && k < NELEMS(agencies); k++)
        if (agencies[k].dim == ind[target].dim)
            cand[nc++] = k;
    if (nc == 0)
        cand[nc++] = 0;
    const agency_t *ag = &agencies[cand[rng_below(&c->rng, (uint32_t)nc)]];
    int kind = rng_weighted(&c->rng, ag->kinds, NKIND);
    const district_t *d = &s->d[district_of_case(s, c)];
    char place[80], th[256], agency[400];
    if (ag->at == AT_PROVINCE)
        snprintf(place, sizeof place, "%s", s->prov_th);
    else if (ag->at == AT_DISTRICT)
        snprintf(place, sizeof place, "%s", d->th);
    else
        tambon_of(s, c, place);
    fill(th, sizeof th, ag->th, place);
    snprintf(agency, sizeof agency, "%s / %s", th, ag->en);
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
    rc |= lb_map_set_str(data, "agency", agency);
    rc |= lb_map_set_str(data, "dimension", dim_names[ag->dim]);
    rc |= lb_map_set_str(data, "kind", kind_names[kind]);
    int amount = amount_for(&c->rng, kind);
    if (amount >= 0)
        rc |= lb_map_set_int(data, "amount_thb", amount);
    if (meets)
        rc |= lb_map_set(data, "meets", codes_of(meets));
    if (rc)
        lb_val_free(&data);
    return data;
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
    rc |= lb_map_set_str(data, "level", level_names[c->pend_level]);
    if (met)
        rc |= lb_map_set(data, "met", codes_of(met));
    if (rng_chance(&c->rng, 0.25))
        rc |= lb_map_set_str(data, "note", pick(&c->rng, followup_notes, NELEMS(followup_notes)));
    if (rc)
        lb_val_free(&data);
    return data;
}

/* case.act args for case c's next action; NULL on ENOMEM. */
static lb_val_t *act_args(sim_t *s, sim_case_t *c)
{
    char cid[LB_CASE_ID_MAX], team[24];
    lb_case_id_format(c->cid, cid);
    lb_val_t *a = lb_map(), *data = NULL;
    int rc = a ? 0 : LB_ENOMEM;
    rc |= lb_map_set_str(a, "case_id", cid);
    rc |= lb_map_set_str(a, "action", act_names[c->next]);
    /* The simulation's view of the case must be the daemon's: a mismatch is a conflict. */
    rc |= lb_map_set_str(a, "expect_state", state_names[c->st]);
    switch (c->next) {
    case A_SCHEDULE:
        team_of(s, c, team);
        data = lb_map();
        rc |= data ? lb_map_set_str(data, "team", team) : LB_ENOMEM;
        break;
    case A_VISIT:
        data = visit_data(s, c);
        rc |= data ? 0 : LB_ENOMEM;
        break;
    case A_ASSIST:
        data = assist_data(s, c);
        rc |= data ? 0 : LB_ENOMEM;
        break;
    case A_FOLLOWUP:
        data = followup_data(c);
        rc |= data ? 0 : LB_ENOMEM;
        break;
    case A_RESOLVE:
        data = lb_map();
        rc |= data ? lb_map_set_str(data, "level", level_names[c->level]) : LB_ENOMEM;
        break;
    case A_REOPEN:
        data = lb_map();
        rc |= data ? lb_map_set_str(data, "note", "ปัญหากลับมาอีก ต้องการความช่วยเหลือเพิ่ม") : LB_ENOMEM;
        break;
    case A_CLOSE:
        data = lb_map();
        rc |= data ? lb_map_set_str(data, "reason", reason_names[c->reason]) : LB_ENOMEM;
        break;
    default:
        break;
    }
    if (data) {
        rc |= lb_map_set(a, "data", data);
        data = NULL;
    }
    if (rc)
        lb_val_free(&a);
    return a;
}

/* ---------------------------------------------------------------------- */
/* What happens next                                                       */
/* ---------------------------------------------------------------------- */

/* Sets c's next action `delay` rounds on; one not after `done` in a round waits a round. */
static void set_next(const sim_t *s, sim_case_t *c, int done, int next, int delay)
{
    if (next <= done && delay < 1)
        delay = 1;
    c->next = (uint8_t)next;
    c->when = (int16_t)(s->round + delay);
}

static void close_later(const sim_t *s, sim_case_t *c, int done, int lo, int hi)
{
    static const int reason_w[NREASON] = {
        [R_MOVED] = 25, [R_DECEASED] = 15, [R_REFUSED] = 15, [R_DUPLICATE] = 10, [R_NOT_POOR] = 35};
    c->reason = (uint8_t)rng_weighted(&c->rng, reason_w, NREASON);
    set_next(s, c, done, A_CLOSE, rng_range(&c->rng, lo, hi));
}

/* Rounds between follow-ups: mostly one to two months, sometimes a gap past the 90-day step. */
static int followup_gap(rng_t *r)
{
    return rng_chance(r, 0.12) ? rng_range(r, 9, 12) : rng_range(r, 2, 5);
}

static void after_visit(sim_t *s, sim_case_t *c)
{
    static const int path_w[] = {[PATH_AGENCY] = 22, [PATH_SELF] = 21, [PATH_WAIT] = 57};
    static const int plan_w[] = {30, 30, 20, 20};
    if (rng_chance(&c->rng, 0.015)) {
        close_later(s, c, A_VISIT, 1, 4);
        return;
    }
    c->path = (uint8_t)rng_weighted(&c->rng, path_w, 3);
    if (c->path == PATH_WAIT) {
        /* no plan yet: the case waits in `visited` and escalates; a third get one later */
        if (rng_chance(&c->rng, 0.35)) {
            c->path = rng_chance(&c->rng, 0.5) ? PATH_AGENCY : PATH_SELF;
            set_next(s, c, A_VISIT, A_PLAN, rng_range(&c->rng, 6, 24));
        } else {
            c->next = A_NONE;
        }
        return;
    }
    int d = rng_weighted(&c->rng, plan_w, 4);
    set_next(s, c, A_VISIT, A_PLAN, d < 3 ? d : rng_range(&c->rng, 3, 8));
}

/* The daemon took action a on case i: update the simulation's view and decide what comes next. */
static void advance(sim_t *s, sim_case_t *c, int a)
{
    int old = c->st;
    switch (a) {
    case A_SCHEDULE:
        c->st = ST_SCHEDULED;
        set_next(s, c, a, A_VISIT, c->visit_round - s->round);
        break;
    case A_VISIT:
        c->st = ST_VISITED;
        c->open = c->pend_open;
        after_visit(s, c);
        break;
    case A_PLAN:
        c->st = ST_ASSISTING;
        if (c->path == PATH_AGENCY) {
            static const int n_w[] = {55, 33, 12}, d_w[] = {15, 35, 25, 25};
            c->assists_left = (uint8_t)(rng_weighted(&c->rng, n_w, 3) + 1);
            int d = rng_weighted(&c->rng, d_w, 4);
            set_next(s, c, a, A_ASSIST, d < 3 ? d : rng_range(&c->rng, 3, 8));
        } else {
            set_next(s, c, a, A_START_FU, rng_range(&c->rng, 1, 3));
        }
        break;
    case A_ASSIST:
        c->open = c->pend_open;
        if (c->assists_left > 0)
            c->assists_left--;
        if (c->assists_left > 0)
            set_next(s, c, a, A_ASSIST, rng_range(&c->rng, 1, 4));
        else
            set_next(s, c, a, A_START_FU, rng_range(&c->rng, 0, 3));
        break;
    case A_START_FU:
        c->st = ST_FOLLOW_UP;
        set_next(s, c, a, A_FOLLOWUP, followup_gap(&c->rng));
        break;
    case A_FOLLOWUP:
        c->open = c->pend_open;
        c->level = c->pend_level;
        c->acked = 0; /* the follow-up restarted the escalation clock */
        if (c->level == LVL_SURVIVE && !c->reopened && rng_chance(&c->rng, 0.12))
            set_next(s, c, a, A_REOPEN, rng_range(&c->rng, 0, 2));
        else if (c->level >= LVL_SUFFICIENT && rng_chance(&c->rng, c->open ? 0.12 : 0.3))
            set_next(s, c, a, A_RESOLVE, rng_range(&c->rng, 1, 3)); /* the committee meets */
        else if (rng_chance(&c->rng, 0.01))
            close_later(s, c, a, 1, 3);
        else
            set_next(s, c, a, A_FOLLOWUP, followup_gap(&c->rng));
        break;
    case A_REOPEN:
        c->st = ST_ASSISTING;
        c->reopened = 1;
        c->path = PATH_AGENCY;
        c->assists_left = 1;
        set_next(s, c, a, A_ASSIST, rng_range(&c->rng, 1, 3));
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

static void on_act(sim_t *s, uint32_t i, int a, const lb_val_t *reply)
{
    sim_case_t *c = &s->c[i];
    if (!lbc_reply_ok(reply)) {
        const char *code, *msg, *field;
        lbc_reply_error(reply, &code, &msg, &field);
        if (s->refused[a]++ == 0 && !s->first_refusal[0]) {
            char cid[LB_CASE_ID_MAX];
            lb_case_id_format(c->cid, cid);
            snprintf(s->first_refusal, sizeof s->first_refusal, "%s %s: %s: %s%s%s", cid,
                     act_names[a], code, msg, *field ? " (field " : "", *field ? field : "");
            if (*field)
                strncat(s->first_refusal, ")",
                        sizeof s->first_refusal - strlen(s->first_refusal) - 1);
        }
        c->st = ST_FAILED; /* its view of the case is wrong now: leave it alone */
        c->next = A_NONE;
        return;
    }
    s->ok[a]++;
    advance(s, c, a);
}

/* Every action due this round, phase by phase (see the A_* order). */
static int run_round(sim_t *s)
{
    for (int a = 0; a < NACT; a++) {
        for (uint32_t i = 0; i < s->n; i++) {
            sim_case_t *c = &s->c[i];
            if (c->next != a || c->when != s->round)
                continue;
            lb_val_t *args = act_args(s, c);
            if (!args)
                return LB_ENOMEM;
            int rc = pipe_send(s->pipe, "case.act", args, on_act, i, a);
            lb_val_free(&args);
            if (rc)
                return rc;
        }
        int rc = pipe_drain(s->pipe);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Committees acknowledging escalations                                    */
/* ---------------------------------------------------------------------- */

static int esc_index(const char *level)
{
    for (int i = 1; level && i < NELEMS(esc_levels); i++)
        if (strcmp(esc_levels[i], level) == 0)
            return i;
    return 0;
}

static void on_ack(sim_t *s, uint32_t i, int level, const lb_val_t *reply)
{
    const char *code = "", *msg, *field;
    lbc_reply_error(reply, &code, &msg, &field);
    if (lbc_reply_ok(reply)) {
        s->ok[A_ACK]++;
    } else if (strcmp(code, "conflict") == 0) {
        s->ack_conflicts++; /* someone acknowledged it already: nothing lost */
    } else {
        if (s->refused[A_ACK]++ == 0 && !s->first_refusal[0])
            snprintf(s->first_refusal, sizeof s->first_refusal, "ack: %s: %s", code, msg);
        return;
    }
    s->c[i].acked = (uint8_t)level;
}

/*
 * At the end of a month the committees go through the overdue cases and
 * acknowledge some escalations: the higher the level, the likelier. The rest
 * stay unacknowledged, as on a real dashboard.
 */
static int ack_round(sim_t *s, int month)
{
    static const double p_ack[] = {0, 0.30, 0.45, 0.60, 0.75};
    uint32_t *picked = malloc(sizeof *picked * (s->n ? s->n : 1));
    uint8_t *lvl = malloc(s->n ? s->n : 1);
    uint32_t npicked = 0;
    char after[300] = "";
    int rc = picked && lvl ? 0 : LB_ENOMEM;
    while (rc == 0) {
        lb_val_t *r = NULL;
        rc = list_page(s, after, true, &r);
        const lb_val_t *res = rc ? NULL : lbc_reply_result(r), *cases = lb_map_get(res, "cases");
        for (uint32_t k = 0; cases && cases->type == LB_ARR && k < cases->a.n; k++) {
            const lb_val_t *sm = cases->a.items[k];
            const char *cid = lb_map_str(sm, "case_id");
            int level = esc_index(lb_map_str(sm, "escalation"));
            uint64_t n;
            uint32_t i;
            if (!cid || lb_case_id_parse(cid, &n) || !umap_get(&s->by_cid, n, &i) || !level)
                continue;
            sim_case_t *c = &s->c[i];
            if (c->st >= NSTATE || c->acked >= level)
                continue;
            /* its own stream per month: whether it is acknowledged changes no other choice */
            rng_t r1 = rng_for(s->seed, i, 1000 + (uint64_t)month);
            if (rng_chance(&r1, p_ack[level])) {
                picked[npicked] = i;
                lvl[npicked++] = (uint8_t)level;
            }
        }
        const char *next = res ? lb_map_str(res, "next") : NULL;
        snprintf(after, sizeof after, "%s", next ? next : "");
        lb_val_free(&r);
        if (!after[0])
            break;
    }
    for (uint32_t k = 0; rc == 0 && k < npicked; k++) {
        char cid[LB_CASE_ID_MAX];
        lb_case_id_format(s->c[picked[k]].cid, cid);
        lb_val_t *a = lb_map();
        rc = a ? 0 : LB_ENOMEM;
        rc |= lb_map_set_str(a, "case_id", cid);
        rc |= lb_map_set_str(a, "note", "ศจพ. รับทราบแล้ว / seen by the command centre");
        if (rc == 0)
            rc = pipe_send(s->pipe, "case.ack", a, on_ack, picked[k], lvl[k]);
        lb_val_free(&a);
    }
    if (rc == 0)
        rc = pipe_drain(s->pipe);
    free(picked);
    free(lvl);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The clock and the figures                                               */
/* ---------------------------------------------------------------------- */

static int advance_clock(sim_t *s)
{
    if (!s->manual)
        return 0;
    lb_val_t *a = lb_map(), *r = NULL;
    int rc = a ? lb_map_set_int(a, "advance_s", ROUND_S) : LB_ENOMEM;
    if (rc == 0 && (rc = call(s, "admin.clock", a, &r)) != 0 && r)
        print_refusal("admin.clock", r);
    if (rc == 0)
        lb_map_int(lbc_reply_result(r), "now", &s->now);
    lb_val_free(&a);
    lb_val_free(&r);
    return rc;
}

/* admin.stats: the daemon's clock and its escalation counter (admin keys only). */
static int read_stats(sim_t *s, bool *manual)
{
    lb_val_t *r = NULL;
    int rc = call(s, "admin.stats", NULL, &r);
    if (rc == 0) {
        const lb_val_t *res = lbc_reply_result(r), *mc = lb_map_get(res, "manual_clock");
        if (manual)
            *manual = mc && mc->type == LB_BOOL && mc->b;
        lb_map_int(res, "now", &s->now);
        if (lb_map_int(res, "escalations_fired", &s->fired_total))
            s->fired_total = -1;
    } else {
        s->fired_total = -1;
        if (manual)
            *manual = false;
    }
    lb_val_free(&r);
    return rc;
}

static int64_t row_int(const lb_val_t *row, const char *key)
{
    int64_t v = 0;
    lb_map_int(row, key, &v);
    return v;
}

/* report.summary of the province by `by`; *reply: caller frees. */
static int summary(sim_t *s, const char *by, lb_val_t **reply)
{
    lb_val_t *a = lb_map();
    int rc = a ? 0 : LB_ENOMEM;
    rc |= lb_map_set_str(a, "area", s->province);
    rc |= lb_map_set_str(a, "by", by);
    if (rc == 0 && (rc = call(s, "report.summary", a, reply)) != 0 && *reply)
        print_refusal("report.summary", *reply);
    lb_val_free(&a);
    return rc;
}

static int snapshot(sim_t *s, month_t *m)
{
    lb_val_t *r = NULL;
    int rc = summary(s, "state", &r);
    if (rc == 0) {
        const lb_val_t *t = lb_map_get(lbc_reply_result(r), "totals");
        const lb_val_t *bs = lb_map_get(t, "by_state");
        for (int i = 0; i < NSTATE; i++)
            m->by_state[i] = row_int(bs, state_names[i]);
        m->cases = row_int(t, "cases");
        m->visited = row_int(t, "visited");
        m->assisted = row_int(t, "assisted");
        m->resolved = row_int(t, "resolved");
        m->closed = row_int(t, "closed");
        m->overdue = row_int(t, "overdue");
        m->unacked = row_int(t, "unacked");
    }
    lb_val_free(&r);
    int64_t before = s->fired_total;
    if (rc == 0)
        read_stats(s, NULL);
    m->fired = before >= 0 && s->fired_total >= 0 ? s->fired_total - before : -1;
    m->now = s->now;
    return rc;
}

static void print_header(void)
{
    printf("%5s %-10s %10s %9s %8s %9s %9s %8s %7s %8s %8s %9s %8s %8s %7s %6s\n", "month", "date",
           "identified", "scheduled", "visited", "assisting", "follow_up", "resolved", "closed",
           "visited%", "assisted%", "escalated", "overdue", "unacked", "acked", "secs");
}

static void print_month(int month, const month_t *m, double secs)
{
    char date[16];
    date_of(m->now, date);
    printf("%5d %-10s %10s %9s %8s %9s %9s %8s %7s %7.1f%% %8.1f%% %9s %8s %8s %7s %6.1f\n",
           month + 1, date, num(m->by_state[ST_IDENTIFIED]), num(m->by_state[ST_SCHEDULED]),
           num(m->by_state[ST_VISITED]), num(m->by_state[ST_ASSISTING]),
           num(m->by_state[ST_FOLLOW_UP]), num(m->by_state[ST_RESOLVED]),
           num(m->by_state[ST_CLOSED]), pct(m->visited, m->cases), pct(m->assisted, m->cases),
           m->fired >= 0 ? num(m->fired) : "-", num(m->overdue), num(m->unacked), num(m->acked),
           secs);
    fflush(stdout);
}

/* ---------------------------------------------------------------------- */
/* The final summary and the HTML page                                     */
/* ---------------------------------------------------------------------- */

static const district_t *district_by_code(const sim_t *s, const char *code)
{
    for (int i = 0; code && i < s->nd; i++)
        if (strcmp(s->d[i].code, code) == 0)
            return &s->d[i];
    return NULL;
}

/* Pads a UTF-8 label to `width` terminal columns (Thai combining marks take none). */
static void print_padded(const char *text, size_t width)
{
    size_t w = lbc_display_width(text);
    fputs(text, stdout);
    for (; w < width; w++)
        putchar(' ');
}

static void print_summary(const sim_t *s)
{
    const lb_val_t *res = lbc_reply_result(s->final), *t = lb_map_get(res, "totals");
    const lb_val_t *rows = lb_map_get(res, "rows");
    int64_t cases = row_int(t, "cases");
    char date[16];
    date_of(s->now, date);
    printf("\nsummary after %d month%s (%s), province %s %s (%s):\n", s->months,
           s->months == 1 ? "" : "s", s->manual ? date : "clock not moved", s->province, s->prov_th,
           s->prov_en);
    printf("  households %s in %d districts, %d subdistricts, %s villages (%s people)\n", num(s->n),
           s->nd, s->ntambon, num(s->nv), num((int64_t)s->people));
    printf("  imported   %s opened, %s already open, %s refused\n", num(s->opened), num(s->skipped),
           num(s->import_errors));
    bool phit = strcmp(s->province, "65") == 0 && s->n == 13831;
    printf("  cases      %s\n", num(cases));
    printf("  visited    %s (%.1f%%)%s\n", num(row_int(t, "visited")),
           pct(row_int(t, "visited"), cases), phit ? "   Phitsanulok 2021: 13,831 (100%)" : "");
    printf("  assisted   %s (%.1f%%)%s\n", num(row_int(t, "assisted")),
           pct(row_int(t, "assisted"), cases), phit ? "   Phitsanulok 2021: 4,533 (32.8%)" : "");
    printf("  resolved   %s (%.1f%%)\n", num(row_int(t, "resolved")),
           pct(row_int(t, "resolved"), cases));
    printf("  closed     %s (%.1f%%)\n", num(row_int(t, "closed")),
           pct(row_int(t, "closed"), cases));
    printf("  open       %s, overdue %s, unacknowledged %s\n", num(row_int(t, "open")),
           num(row_int(t, "overdue")), num(row_int(t, "unacked")));
    const lb_val_t *lv = lb_map_get(t, "levels"), *no = lb_map_get(t, "needs_open");
    printf("  levels     survive %s, sufficient %s, sustainable %s\n", num(row_int(lv, "survive")),
           num(row_int(lv, "sufficient")), num(row_int(lv, "sustainable")));
    printf("  open needs");
    for (int d = 0; d < NDIM; d++)
        printf(" %s %s%s", dim_names[d], num(row_int(no, dim_names[d])), d + 1 < NDIM ? "," : "\n");
    int64_t fired = 0;
    for (int m = 0; m < s->nmon; m++)
        fired += s->mon[m].fired > 0 ? s->mon[m].fired : 0;
    printf("  escalations fired %s, acknowledged %s (%s already acknowledged)\n", num(fired),
           num((int64_t)s->ok[A_ACK]), num((int64_t)s->ack_conflicts));
    printf("\n  ");
    print_padded("district", 40);
    printf("%8s %8s %8s %8s %7s %8s %8s\n", "cases", "visited", "assisted", "resolved", "closed",
           "overdue", "unacked");
    for (uint32_t k = 0; rows && rows->type == LB_ARR && k < rows->a.n; k++) {
        const lb_val_t *row = rows->a.items[k];
        const char *key = lb_map_str(row, "key");
        const district_t *d = district_by_code(s, key);
        char label[160];
        snprintf(label, sizeof label, "%s %s (%s)", key ? key : "?", d ? d->th : "",
                 d ? d->en : "");
        printf("  ");
        print_padded(label, 40);
        printf("%8s %8s %8s %8s %7s %8s %8s\n", num(row_int(row, "cases")),
               num(row_int(row, "visited")), num(row_int(row, "assisted")),
               num(row_int(row, "resolved")), num(row_int(row, "closed")),
               num(row_int(row, "overdue")), num(row_int(row, "unacked")));
    }
    printf("\n  actions    ");
    uint64_t refused = 0;
    for (int a = 0; a <= NACT; a++) {
        printf("%s %s%s", act_names[a], num((int64_t)s->ok[a]), a < NACT ? ", " : "\n");
        refused += s->refused[a];
    }
    printf("  requests   %s in %.1f s (%s/s), refused %s\n", num((int64_t)s->requests), s->wall_s,
           num((int64_t)((double)s->requests / (s->wall_s > 0 ? s->wall_s : 1))),
           num((int64_t)refused));
    if (s->first_refusal[0])
        printf("  first refusal: %s\n", s->first_refusal);
}

static void html_text(FILE *f, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*p, f);
        }
    }
}

static const char *const state_colour[NSTATE] = {"#d9534f", "#f0ad4e", "#f7dc6f", "#5bc0de",
                                                 "#5b8def", "#3c9d5d", "#999999"};
static const char *const state_short[NSTATE] = {"identified", "scheduled", "visited", "assisting",
                                                "follow-up",  "resolved",  "closed"};

/* A stacked bar of the states, one line per month. */
static void html_bar(FILE *f, const month_t *m)
{
    fputs("<div class=bar>", f);
    for (int i = 0; i < NSTATE; i++)
        if (m->by_state[i] > 0)
            fprintf(f,
                    "<span style=\"width:%.2f%%;background:%s\" title=\"%s %" PRId64 "\"></span>",
                    pct(m->by_state[i], m->cases), state_colour[i], state_names[i], m->by_state[i]);
    fputs("</div>", f);
}

static int write_html(const sim_t *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "logbook-sim: %s: %s\n", path, strerror(errno));
        return LB_EIO;
    }
    const lb_val_t *res = lbc_reply_result(s->final), *t = lb_map_get(res, "totals");
    const lb_val_t *rows = lb_map_get(res, "rows");
    int64_t cases = row_int(t, "cases");
    fprintf(f, "<!DOCTYPE html>\n<html lang=th><head><meta charset=utf-8>\n<title>Logbook "
               "simulation: ");
    html_text(f, s->prov_en);
    fputs("</title>\n<style>body{font-family:sans-serif;margin:2em;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}td,th{padding:.2em "
          ".5em;font-size:.92em;border-bottom:1px "
          "solid "
          "#ddd;text-align:right;white-space:nowrap}td:first-child,th:first-child{text-align:left}"
          ".bar{display:flex;width:12em;height:1em}.bar span{display:block;height:100%}"
          ".k{display:inline-block;width:1em;height:1em;vertical-align:middle}</style></head>"
          "<body>\n",
          f);
    fprintf(f, "<h1>Logbook simulation: จังหวัด");
    html_text(f, s->prov_th);
    fprintf(f, " (");
    html_text(f, s->prov_en);
    fprintf(f,
            ", %s)</h1>\n<p>%s target households in %d districts, %d subdistricts and %s "
            "villages, followed for %d months (seed %" PRIu64 ", %s). Figures from the daemon's "
            "<code>report.summary</code>.</p>\n",
            s->province, num(s->n), s->nd, s->ntambon, num(s->nv), s->months, s->seed,
            s->manual ? "manual clock, 3 rounds of 10 days a month" : "real clock");
    fprintf(f,
            "<table><tr><th>cases</th><th>visited</th><th>assisted</th><th>resolved</th>"
            "<th>closed</th><th>open</th><th>overdue</th><th>unacknowledged</th></tr>\n"
            "<tr><td>%s</td><td>%s (%.1f%%)</td><td>%s (%.1f%%)</td><td>%s (%.1f%%)</td>"
            "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr></table>\n",
            num(cases), num(row_int(t, "visited")), pct(row_int(t, "visited"), cases),
            num(row_int(t, "assisted")), pct(row_int(t, "assisted"), cases),
            num(row_int(t, "resolved")), pct(row_int(t, "resolved"), cases),
            num(row_int(t, "closed")), num(row_int(t, "open")), num(row_int(t, "overdue")),
            num(row_int(t, "unacked")));
    if (strcmp(s->province, "65") == 0)
        fputs("<p>For comparison, Phitsanulok 2021: 13,831 target households, all visited; "
              "4,533 given assistance.</p>\n",
              f);
    fputs("<h2>Month by month</h2>\n<p>", f);
    for (int i = 0; i < NSTATE; i++)
        fprintf(f, "<span class=k style=\"background:%s\"></span> %s &nbsp; ", state_colour[i],
                state_names[i]);
    fputs("</p>\n<table><tr><th>month</th><th>date</th><th>cases by state</th>", f);
    for (int i = 0; i < NSTATE; i++)
        fprintf(f, "<th>%s</th>", state_short[i]);
    fputs("<th>ever<br>visited</th><th>ever<br>assisted</th><th>escalations<br>fired</th>"
          "<th>overdue</th><th>un&shy;acked</th><th>acked</th></tr>\n",
          f);
    for (int m = 0; m < s->nmon; m++) {
        const month_t *mm = &s->mon[m];
        char date[16];
        date_of(mm->now, date);
        fprintf(f, "<tr><td>%d</td><td>%s</td><td>", m + 1, date);
        html_bar(f, mm);
        fputs("</td>", f);
        for (int i = 0; i < NSTATE; i++)
            fprintf(f, "<td>%s</td>", num(mm->by_state[i]));
        fprintf(f, "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                num(mm->visited), num(mm->assisted), mm->fired >= 0 ? num(mm->fired) : "-",
                num(mm->overdue), num(mm->unacked), num(mm->acked));
    }
    fputs(
        "</table>\n<h2>By district</h2>\n<table><tr><th>district</th><th>cases</th><th>visited</th>"
        "<th>assisted</th><th>resolved</th><th>closed</th><th>overdue</th><th>unacked</th>"
        "<th>survive</th><th>sufficient</th><th>sustainable</th></tr>\n",
        f);
    for (uint32_t k = 0; rows && rows->type == LB_ARR && k < rows->a.n; k++) {
        const lb_val_t *row = rows->a.items[k], *lv = lb_map_get(row, "levels");
        const char *key = lb_map_str(row, "key");
        const district_t *d = district_by_code(s, key);
        fputs("<tr><td>", f);
        html_text(f, key);
        fputc(' ', f);
        html_text(f, d ? d->th : "");
        fputs(" (", f);
        html_text(f, d ? d->en : "");
        fprintf(f,
                ")</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                num(row_int(row, "cases")), num(row_int(row, "visited")),
                num(row_int(row, "assisted")), num(row_int(row, "resolved")),
                num(row_int(row, "closed")), num(row_int(row, "overdue")),
                num(row_int(row, "unacked")), num(row_int(lv, "survive")),
                num(row_int(lv, "sufficient")), num(row_int(lv, "sustainable")));
    }
    const lb_val_t *no = lb_map_get(t, "needs_open");
    fputs("</table>\n<h2>Open needs by dimension</h2>\n<table><tr>", f);
    for (int d = 0; d < NDIM; d++)
        fprintf(f, "<th>%s</th>", dim_names[d]);
    fputs("</tr><tr>", f);
    for (int d = 0; d < NDIM; d++)
        fprintf(f, "<td>%s</td>", num(row_int(no, dim_names[d])));
    fputs("</tr></table>\n<h2>Actions</h2>\n<table><tr><th>action</th><th>done</th>"
          "<th>refused</th></tr>\n",
          f);
    for (int a = 0; a <= NACT; a++)
        fprintf(f, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n", act_names[a],
                num((int64_t)s->ok[a]), num((int64_t)s->refused[a]));
    fprintf(f, "</table>\n<p>%s requests in %.1f s.</p>\n</body></html>\n",
            num((int64_t)s->requests), s->wall_s);
    if (fclose(f)) {
        fprintf(stderr, "logbook-sim: %s: %s\n", path, strerror(errno));
        return LB_EIO;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Command line                                                            */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
    lbc_paths_t p = lbc_default_paths();
    fprintf(
        f,
        "usage: logbook-sim [OPTIONS]\n\n"
        "Generates a synthetic province of TPMAP target households, imports them and\n"
        "drives simulated field teams and committees through visits, assistance,\n"
        "follow-ups, resolutions, closures and escalation acknowledgements, month by\n"
        "month. Against a daemon run with --clock manual each month moves its clock 30\n"
        "days (in three steps of 10), so escalations fire as they would.\n\n"
        "  -e, --endpoint EP       requests endpoint (%s)\n"
        "  -k, --cert FILE         client secret certificate, an admin key (%s)\n"
        "  -s, --server-cert FILE  server public certificate (%s)\n"
        "      --no-curve          plain connection (daemon with curve: false)\n"
        "      --province CODE     2-digit province (default 65, Phitsanulok; 91 Satun is\n"
        "                          built in too; others get districts PP01..PPnn)\n"
        "      --districts N       districts of a province without a built-in list (default 8)\n"
        "      --households N      target households (default 13831)\n"
        "      --months M          months to simulate (default 12)\n"
        "      --seed S            random seed; the same seed gives the same run (default 1)\n"
        "      --rate N            requests in flight (default %d)\n"
        "      --no-clock          never call admin.clock (act without moving time)\n"
        "      --html FILE         also write the month-by-month figures as an HTML page\n"
        "  -h, --help              this text\n\n"
        "exit status: 0 done, 1 the daemon refused an action (or the run stopped), 2 usage,\n"
        "3 the daemon cannot be reached\n",
        p.endpoint, p.client_cert, p.server_cert, DEFAULT_RATE);
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* 0, or EX_USAGE after saying why. */
static int parse_options(sim_t *s, int argc, char **argv)
{
    enum {
        O_NOCURVE = 256,
        O_PROVINCE,
        O_DISTRICTS,
        O_HOUSEHOLDS,
        O_MONTHS,
        O_SEED,
        O_RATE,
        O_NOCLOCK,
        O_HTML
    };
    static const struct option longs[] = {{"endpoint", required_argument, NULL, 'e'},
                                          {"cert", required_argument, NULL, 'k'},
                                          {"server-cert", required_argument, NULL, 's'},
                                          {"no-curve", no_argument, NULL, O_NOCURVE},
                                          {"province", required_argument, NULL, O_PROVINCE},
                                          {"districts", required_argument, NULL, O_DISTRICTS},
                                          {"households", required_argument, NULL, O_HOUSEHOLDS},
                                          {"months", required_argument, NULL, O_MONTHS},
                                          {"seed", required_argument, NULL, O_SEED},
                                          {"rate", required_argument, NULL, O_RATE},
                                          {"no-clock", no_argument, NULL, O_NOCLOCK},
                                          {"html", required_argument, NULL, O_HTML},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    uint64_t v;
    int o;
    while ((o = getopt_long(argc, argv, "e:k:s:h", longs, NULL)) != -1) {
        switch (o) {
        case 'e':
            s->endpoint = optarg;
            break;
        case 'k':
            s->cert = optarg;
            break;
        case 's':
            s->server_cert = optarg;
            break;
        case O_NOCURVE:
            s->no_curve = true;
            break;
        case O_NOCLOCK:
            s->no_clock = true;
            break;
        case O_HTML:
            s->html = optarg;
            break;
        case O_PROVINCE:
            if (strlen(optarg) != 2 || !parse_u64(optarg, 10, 96, &v)) {
                fprintf(stderr, "logbook-sim: --province wants a 2-digit code 10-96\n");
                return EX_USAGE;
            }
            snprintf(s->province, sizeof s->province, "%s", optarg);
            break;
        case O_DISTRICTS:
            if (!parse_u64(optarg, 1, 99, &v)) {
                fprintf(stderr, "logbook-sim: --districts wants 1-99\n");
                return EX_USAGE;
            }
            s->ndistricts_opt = (int)v;
            break;
        case O_HOUSEHOLDS:
            if (!parse_u64(optarg, 1, HOUSEHOLDS_MAX, &v)) {
                fprintf(stderr, "logbook-sim: --households wants 1-%d\n", HOUSEHOLDS_MAX);
                return EX_USAGE;
            }
            s->nhouseholds = (uint32_t)v;
            break;
        case O_MONTHS:
            if (!parse_u64(optarg, 1, 120, &v)) {
                fprintf(stderr, "logbook-sim: --months wants 1-120\n");
                return EX_USAGE;
            }
            s->months = (int)v;
            break;
        case O_SEED:
            if (!parse_u64(optarg, 0, UINT64_MAX, &v)) {
                fprintf(stderr, "logbook-sim: --seed wants a non-negative integer\n");
                return EX_USAGE;
            }
            s->seed = v;
            break;
        case O_RATE:
            if (!parse_u64(optarg, 1, 4096, &v)) {
                fprintf(stderr, "logbook-sim: --rate wants 1-4096 requests in flight\n");
                return EX_USAGE;
            }
            s->rate = (int)v;
            break;
        case 'h':
            usage(stdout);
            exit(EX_OK);
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "logbook-sim: unexpected argument '%s'\n", argv[optind]);
        return EX_USAGE;
    }
    bool builtin = false;
    for (int i = 0; i < NELEMS(provinces); i++)
        builtin |= strcmp(provinces[i].code, s->province) == 0;
    if (builtin && s->ndistricts_opt) {
        fprintf(stderr,
                "logbook-sim: province %s has its real districts; --districts is for "
                "other provinces\n",
                s->province);
        return EX_USAGE;
    }
    if (!builtin && !s->ndistricts_opt)
        s->ndistricts_opt = 8;
    return 0;
}

static int connect_daemon(sim_t *s)
{
    char err[512] = "";
    lbc_opts_t o;
    lbc_opts_init(&o);
    o.endpoint = s->endpoint;
    if (!s->no_curve) {
        o.client_cert = s->cert;
        o.server_cert = s->server_cert;
    }
    o.timeout_ms = TIMEOUT_MS;
    int rc = lbc_connect(&o, &s->lbc, err, sizeof err);
    if (rc) {
        fprintf(stderr, "logbook-sim: cannot connect to %s: %s\n", s->endpoint, err);
        return EX_UNREACHABLE;
    }
    /* A short first look, so a daemon that is not there is said at once. */
    lbc_destroy(&s->lbc);
    o.timeout_ms = 3000;
    o.retries = 1;
    lb_val_t *r = NULL;
    if ((rc = lbc_connect(&o, &s->lbc, err, sizeof err)) == 0)
        rc = lbc_call(s->lbc, "ping", NULL, &r, err, sizeof err);
    lb_val_free(&r);
    lbc_destroy(&s->lbc);
    if (rc) {
        fprintf(stderr, "logbook-sim: %s does not answer: %s\n", s->endpoint, err);
        return EX_UNREACHABLE;
    }
    o.timeout_ms = TIMEOUT_MS;
    o.retries = LBC_DEFAULT_RETRIES;
    if ((rc = lbc_connect(&o, &s->lbc, err, sizeof err))) {
        fprintf(stderr, "logbook-sim: cannot connect to %s: %s\n", s->endpoint, err);
        return EX_UNREACHABLE;
    }
    return 0;
}

static double secs_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void print_generated(const sim_t *s)
{
    int64_t per_dim[NDIM] = {0}, ndep = 0;
    for (uint32_t i = 0; i < s->n; i++)
        for (int k = 0; k < s->c[i].ndep; k++, ndep++)
            per_dim[ind[s->c[i].dep[k]].dim]++;
    printf("province %s %s (%s): %s target households in %d districts, %d subdistricts, %s "
           "villages\n  deprivations (%.2f per household):",
           s->province, s->prov_th, s->prov_en, num(s->n), s->nd, s->ntambon, num(s->nv),
           s->n ? (double)ndep / s->n : 0.0);
    static const int order[] = {DIM_INCOME, DIM_EDUCATION, DIM_LIVING, DIM_HEALTH, DIM_ACCESS};
    for (int k = 0; k < NDIM; k++)
        printf(" %s %.0f%%%s", dim_names[order[k]], pct(per_dim[order[k]], ndep),
               k + 1 < NDIM ? "," : "\n");
}

/* Everything after the households exist: import, the months, the summary. */
static int simulate(sim_t *s)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool manual = false;
    if (read_stats(s, &manual))
        fprintf(stderr, "logbook-sim: admin.stats refused (not an admin key?): running without "
                        "moving the clock or counting escalations\n");
    s->manual = manual && !s->no_clock;
    int rc = import_all(s);
    if (rc == 0)
        rc = map_cases(s);
    if (rc)
        return rc;
    printf("imported %s households (%s opened, %s already open, %s refused) in %.1f s%s\n",
           num(s->n), num(s->opened), num(s->skipped), num(s->import_errors), secs_since(&t0),
           s->foreign ? "; households already in progress are left alone" : "");
    if (!s->manual)
        printf("the daemon's clock is %s: months pass without time moving, so no escalation "
               "fires\n",
               manual ? "not moved (--no-clock)" : "real");
    print_header();
    s->mon = calloc((size_t)s->months, sizeof *s->mon);
    if (!s->mon)
        return LB_ENOMEM;
    for (int m = 0; m < s->months && rc == 0; m++) {
        struct timespec tm;
        clock_gettime(CLOCK_MONOTONIC, &tm);
        for (int r = 0; r < ROUNDS_PER_MONTH && rc == 0; r++) {
            s->round = m * ROUNDS_PER_MONTH + r;
            rc = run_round(s);
            if (rc == 0)
                rc = advance_clock(s);
        }
        uint64_t acks = s->ok[A_ACK];
        if (rc == 0)
            rc = ack_round(s, m);
        s->mon[m].acked = (int64_t)(s->ok[A_ACK] - acks);
        if (rc == 0)
            rc = snapshot(s, &s->mon[m]);
        if (rc == 0) {
            s->nmon = m + 1;
            print_month(m, &s->mon[m], secs_since(&tm));
        }
    }
    if (rc == 0)
        rc = summary(s, "district", &s->final);
    s->wall_s = secs_since(&t0);
    if (rc == 0)
        print_summary(s);
    if (rc == 0 && s->html && (rc = write_html(s, s->html)) == 0)
        printf("  html       %s\n", s->html);
    return rc;
}

int main(int argc, char **argv)
{
    lbc_paths_t p = lbc_default_paths();
    sim_t s = {.endpoint = p.endpoint,
               .cert = p.client_cert,
               .server_cert = p.server_cert,
               .province = "65",
               .nhouseholds = 13831,
               .months = 12,
               .seed = 1,
               .rate = DEFAULT_RATE,
               .fired_total = -1};
    int rc = parse_options(&s, argc, argv);
    if (rc)
        return rc;
    s.n = s.nhouseholds;
    gen_districts(&s);
    gen_villages(&s);
    apportion(&s);
    gen_households(&s);
    print_generated(&s);
    int ex = connect_daemon(&s);
    if (ex)
        goto out;
    lbc_new_id(s.run_id);
    s.pipe = pipe_new(&s, s.rate);
    if (!s.pipe)
        die_oom();
    rc = simulate(&s);
    uint64_t refused = 0;
    for (int a = 0; a <= NACT; a++)
        refused += s.refused[a];
    ex = rc == LB_EUNAVAIL || rc == LB_EIO  ? EX_UNREACHABLE
         : rc || refused || s.import_errors ? EX_REFUSED
                                            : EX_OK;
    if (rc)
        fprintf(stderr, "logbook-sim: stopped: %s\n", lb_strerror(rc));
    else if (ex)
        fprintf(stderr,
                "logbook-sim: the daemon refused %s action%s the simulation expected to "
                "work%s%s\n",
                num((int64_t)refused + s.import_errors),
                refused + (uint64_t)s.import_errors == 1 ? "" : "s",
                s.first_refusal[0] ? "; first: " : "", s.first_refusal);
out:
    pipe_destroy(&s.pipe);
    lbc_destroy(&s.lbc);
    lb_val_free(&s.final);
    umap_free(&s.by_cid);
    free(s.mon);
    free(s.c);
    free(s.v);
    free(s.d);
    return ex;
}
