/*
 * gen.h - logbook-sim's pure generator: a seeded random stream per thing, and
 * the synthetic province it makes (districts, villages, target households and
 * their people). No I/O and no ZeroMQ: the same seed always gives the same world.
 */
#ifndef SIM_GEN_H
#define SIM_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../proto/lb.h"

/* Ages and birth years are counted from the survey year of the Phitsanulok figures. */
#define REF_YEAR 2021
/*
 * A month is three rounds of ten days: the month's work is spread over them
 * and the clock moves ten days after each, so an escalation fires only when
 * a case really sat still for its step (a single 30-day jump would fire the
 * 7- and 14-day steps of cases the teams picked up in the month's first week).
 */
#define ROUNDS_PER_MONTH 3
#define HOUSEHOLDS_MAX 1000000
#define MEMBERS_MAX 8
/* The share of households that also list the previous household's head (a duplicate). */
#define DUPLICATE_P 0.004
#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---------------------------------------------------------------------- */
/* Deterministic randomness                                                */
/* ---------------------------------------------------------------------- */

typedef struct {
    uint64_t s;
} rng_t;

/* SplitMix64's finaliser: a well-mixed 64-bit hash of z. */
uint64_t mix64(uint64_t z);
/* Stream `sub` of thing `id`: independent of every other stream for the same seed. */
rng_t rng_for(uint64_t seed, uint64_t id, uint64_t sub);
uint64_t rng_next(rng_t *r);
/* 0..n-1; 0 when n is 0. */
uint32_t rng_below(rng_t *r, uint32_t n);
/* [0, 1) */
double rng_unit(rng_t *r);
bool rng_chance(rng_t *r, double p);
/* lo..hi inclusive; lo when hi <= lo. */
int rng_range(rng_t *r, int lo, int hi);
/* An index 0..n-1 with probability w[i] / sum(w); the weights sum to more than 0. */
int rng_weighted(rng_t *r, const int *w, int n);
/* One element of list[0..n-1]. */
const char *rng_pick(rng_t *r, const char *const *list, int n);

/* ---------------------------------------------------------------------- */
/* Indicators                                                              */
/* ---------------------------------------------------------------------- */

/* The dimensions in lb_dimensions order (PROTOCOL.md section 4). */
enum { DIM_HEALTH, DIM_LIVING, DIM_EDUCATION, DIM_INCOME, DIM_ACCESS, NDIM = LB_NDIM };

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

typedef struct {
    const char *code;
    int dim;
    int weight; /* how often TPMAP finds it failing, per mille of findings */
    int need;   /* the member a failing household must have */
} indicator_t;

#define NIND 17
extern const indicator_t ind[NIND];

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
    /* its one pledge (ledger.c): the agency's promise, kept to deliver it under the same name */
    uint8_t pledged;         /* 1 once a pledge was sent (taken or not) */
    uint8_t pledge_agency;   /* index in model.c's agency table */
    uint8_t pledge_kind;     /* K_* of model.c */
    int16_t deliver_round;   /* round the agency delivers from; -1: never (it stays open) */
    uint32_t pledge_id;      /* the pledge's record_id while undelivered, else 0 */
    uint32_t pledge_village; /* where the household lived when it was pledged */
    int32_t pledge_amount;   /* baht */
} sim_case_t;

/* ---------------------------------------------------------------------- */
/* The province                                                            */
/* ---------------------------------------------------------------------- */

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

typedef struct {
    /* what to make: set before gen_world */
    char province[3];   /* 2-digit code */
    int ndistricts_opt; /* districts of a province without a built-in list */
    uint32_t n;         /* target households */
    int months;         /* months the run lasts: spreads the visits */
    uint64_t seed;

    /* what gen_world made (owned; world_free) */
    char prov_th[64], prov_en[48];
    district_t *d;
    uint16_t nd; /* districts (at most 99) */
    village_t *v;
    uint32_t nv;
    int ntambon;
    sim_case_t *c;   /* n households, district by district */
    uint64_t people; /* members made by gen_household so far */
} world_t;

/* True for a province with a built-in list of real districts (65, 91). */
bool gen_province_known(const char *code);

/*
 * Makes the districts, villages and households of w's inputs (province,
 * ndistricts_opt for an unknown province, n, months, seed). On failure the
 * parts made so far stay in w for world_free.
 * Returns 0; LB_EBADREQ (no districts: an unknown province with
 * ndistricts_opt 0); LB_ENOMEM.
 */
int gen_world(world_t *w);

/* Frees what gen_world made; the inputs stay. Safe on a zeroed world. */
void world_free(world_t *w);

/* The parts of gen_world, in the order it calls them; each 0 or LB_ENOMEM. */
int gen_districts(world_t *w);
int gen_villages(world_t *w);
int gen_apportion(world_t *w);
int gen_households(world_t *w);

/* The last round by which every household has been visited. */
int visit_horizon(const world_t *w);
int district_of_case(const world_t *w, const sim_case_t *c);
/* Subdistrict code (6 digits) of a case into out. */
void tambon_of(const world_t *w, const sim_case_t *c, char out[7]);

/* A valid national id: person type, registration office (4 digits), a serial unique per person. */
void make_nid(char out[14], int type, const char *office, uint64_t person, uint64_t seed);

/*
 * Household i as the map case.import takes (house_id, area, address, head,
 * members, deprived); its personal data comes from its own stream, so it is
 * the same whenever it is built. Adds its members to w->people.
 * Returns the map (caller frees), or NULL with *rc = LB_ENOMEM.
 */
lb_val_t *gen_household(world_t *w, uint32_t i, int *rc);

/* ---------------------------------------------------------------------- */
/* A u64 -> u32 map (house ids and case numbers to case indexes)           */
/* ---------------------------------------------------------------------- */

typedef struct {
    uint64_t *keys; /* 0 = empty */
    uint32_t *vals;
    size_t mask;
} umap_t;

/* Room for n keys. 0, or LB_ENOMEM. */
int umap_init(umap_t *m, size_t n);
void umap_free(umap_t *m);
/* key != 0; the map is sized for every key it will get, so it never fills. */
void umap_put(umap_t *m, uint64_t key, uint32_t val);
bool umap_get(const umap_t *m, uint64_t key, uint32_t *val);

#endif
