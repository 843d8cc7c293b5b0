/*
 * test_sim_gen.c - CUnit tests of logbook-sim's pure generator
 * (clients/logbook-sim/gen.c): the same seed gives the same province, ids are
 * valid, households split over the districts exactly, and the figures look
 * like TPMAP's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../clients/logbook-sim/gen.h"
#include "../lib/cu.h"

/* A generated world of n households of province prov; CU fatal when it fails. */
static world_t make(const char *prov, uint32_t n, uint64_t seed)
{
    world_t w = {.n = n, .months = 12, .seed = seed};
    snprintf(w.province, sizeof w.province, "%s", prov);
    if (!gen_province_known(prov))
        w.ndistricts_opt = 8;
    int rc = gen_world(&w);
    CU_ASSERT_EQUAL(rc, 0);
    return w;
}

static void test_rng(void)
{
    rng_t r = rng_for(1, 2, 3), r2 = rng_for(1, 2, 3), r3 = rng_for(1, 2, 4);
    CU_ASSERT_EQUAL(rng_next(&r), rng_next(&r2));
    CU_ASSERT_NOT_EQUAL(rng_next(&r), rng_next(&r3));
    static const int w[] = {5, 0, 3, 0};
    int seen[4] = {0};
    for (int i = 0; i < 10000; i++) {
        CU_ASSERT_TRUE(rng_below(&r, 7) < 7);
        int x = rng_range(&r, -3, 3);
        CU_ASSERT_TRUE(x >= -3 && x <= 3);
        double u = rng_unit(&r);
        CU_ASSERT_TRUE(u >= 0 && u < 1);
        seen[rng_weighted(&r, w, 4)]++;
    }
    CU_ASSERT_EQUAL(rng_below(&r, 0), 0);
    CU_ASSERT_EQUAL(rng_range(&r, 5, 5), 5);
    CU_ASSERT_EQUAL(seen[1] + seen[3], 0); /* a zero weight is never picked */
    CU_ASSERT_TRUE(seen[0] > 5500 && seen[0] < 7000);
}

static void test_same_seed_same_world(void)
{
    world_t a = make("65", 2000, 7), b = make("65", 2000, 7), c = make("65", 2000, 8);
    CU_ASSERT_EQUAL_FATAL(a.nv, b.nv);
    CU_ASSERT_EQUAL(memcmp(a.v, b.v, a.nv * sizeof *a.v), 0);
    CU_ASSERT_EQUAL(memcmp(a.c, b.c, a.n * sizeof *a.c), 0);
    bool differs = a.nv != c.nv;
    for (uint32_t i = 0; !differs && i < a.n; i++)
        differs = a.c[i].house != c.c[i].house || a.c[i].village != c.c[i].village;
    CU_ASSERT_TRUE(differs);
    for (uint32_t i = 0; i < a.n; i += 97) {
        int rc1 = 0, rc2 = 0;
        lb_val_t *h1 = gen_household(&a, i, &rc1), *h2 = gen_household(&b, i, &rc2);
        CU_ASSERT_TRUE(rc1 == 0 && rc2 == 0 && lb_val_equal(h1, h2));
        lb_val_free(&h1);
        lb_val_free(&h2);
    }
    CU_ASSERT_EQUAL(a.people, b.people);
    world_free(&a);
    world_free(&b);
    world_free(&c);
}

static void test_ids_valid(void)
{
    world_t w = make("65", 3000, 1);
    umap_t seen;
    CU_ASSERT_EQUAL_FATAL(umap_init(&seen, w.n), 0);
    for (uint32_t i = 0; i < w.n; i++) {
        const sim_case_t *c = &w.c[i];
        char house[24];
        snprintf(house, sizeof house, "%011" PRIu64, c->house);
        CU_ASSERT_TRUE(lb_valid_house_id(house));
        uint32_t dup;
        CU_ASSERT_FALSE(umap_get(&seen, c->house, &dup)); /* one household per house id */
        umap_put(&seen, c->house, i);
        const char *area = w.v[c->village].code;
        CU_ASSERT_TRUE(lb_valid_area(area, true));
        CU_ASSERT_EQUAL(strncmp(area, "65", 2), 0);
        CU_ASSERT_EQUAL(strncmp(house, area, 4), 0); /* the district's registration office */
    }
    umap_free(&seen);
    for (uint32_t i = 0; i < w.n; i += 13) {
        int rc = 0;
        lb_val_t *h = gen_household(&w, i, &rc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        CU_ASSERT_TRUE(lb_valid_house_id(lb_map_str(h, "house_id")));
        const lb_val_t *m = lb_map_get(h, "members");
        CU_ASSERT_TRUE_FATAL(m && m->type == LB_ARR && m->a.n >= 1 && m->a.n <= MEMBERS_MAX);
        CU_ASSERT_STRING_EQUAL(lb_map_str(h, "head"), lb_map_str(m->a.items[0], "name"));
        for (uint32_t k = 0; k < m->a.n; k++) {
            const char *nid = lb_map_str(m->a.items[k], "nid");
            CU_ASSERT_TRUE(nid && lb_valid_nid(nid));
        }
        const lb_val_t *dep = lb_map_get(h, "deprived");
        CU_ASSERT_TRUE(dep && dep->type == LB_ARR && dep->a.n >= 1 && dep->a.n <= 3);
        lb_val_free(&h);
    }
    char nid[14];
    for (uint64_t p = 0; p < 1000; p++) {
        make_nid(nid, p % 2 ? 1 : 3, "6501", p, 42);
        CU_ASSERT_TRUE(lb_valid_nid(nid));
    }
    world_free(&w);
}

static void test_apportion_sums(void)
{
    static const uint32_t ns[] = {1, 2, 7, 9, 100, 13831, 50001};
    static const char *const provs[] = {"65", "91", "33"};
    for (size_t p = 0; p < 3; p++)
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            world_t w = make(provs[p], ns[k], 3);
            uint32_t sum = 0;
            for (int i = 0; i < w.nd; i++)
                sum += w.d[i].nhouseholds;
            CU_ASSERT_EQUAL(sum, ns[k]);
            world_free(&w);
        }
    world_t w = make("65", 13831, 1);
    CU_ASSERT_EQUAL(w.nd, 9);
    for (int i = 1; i < w.nd; i++) /* Mueang Phitsanulok has the most target households */
        CU_ASSERT_TRUE(w.d[0].nhouseholds >= w.d[i].nhouseholds);
    world_free(&w);
    w = make("91", 100, 1);
    CU_ASSERT_EQUAL(w.nd, 7);
    world_free(&w);
    w = make("33", 100, 1);
    CU_ASSERT_EQUAL(w.nd, 8);
    CU_ASSERT_STRING_EQUAL(w.d[7].code, "3308");
    world_free(&w);
}

static void test_distributions(void)
{
    world_t w = make("65", 13831, 1);
    int64_t per_dim[NDIM] = {0}, ndep = 0, scheduled = 0;
    int horizon = visit_horizon(&w);
    for (uint32_t i = 0; i < w.n; i++) {
        const sim_case_t *c = &w.c[i];
        CU_ASSERT_TRUE(c->ndep >= 1 && c->ndep <= 3);
        for (int k = 0; k < c->ndep; k++, ndep++) {
            per_dim[ind[c->dep[k]].dim]++;
            for (int j = 0; j < k; j++)
                CU_ASSERT_NOT_EQUAL(c->dep[j], c->dep[k]); /* no repeats */
        }
        CU_ASSERT_TRUE(c->visit_round >= 0 && c->visit_round < horizon);
        CU_ASSERT_TRUE(c->when >= 0 && c->when <= c->visit_round);
        CU_ASSERT_EQUAL(c->st, ST_IDENTIFIED);
        CU_ASSERT_TRUE(c->next == A_SCHEDULE || c->next == A_VISIT);
        scheduled += c->next == A_SCHEDULE;
    }
    double mean = (double)ndep / w.n;
    CU_ASSERT_TRUE(mean > 1.4 && mean < 1.8); /* 55% one, 32% two, 13% three */
    for (int d = 0; d < NDIM; d++)            /* income first, as in TPMAP */
        if (d != DIM_INCOME)
            CU_ASSERT_TRUE(per_dim[DIM_INCOME] > per_dim[d]);
    CU_ASSERT_TRUE(per_dim[DIM_EDUCATION] > per_dim[DIM_HEALTH]);
    CU_ASSERT_TRUE(scheduled > w.n * 70 / 100 && scheduled < w.n * 80 / 100);
    CU_ASSERT_TRUE(w.nv > (uint32_t)w.ntambon * 6 && w.nv <= (uint32_t)w.ntambon * 18);
    for (int i = 0; i < NIND; i++)
        CU_ASSERT_TRUE(ind[i].code && ind[i].dim >= 0 && ind[i].dim < NDIM);
    world_free(&w);
}

static const cu_test_t tests[] = {
    {"random streams", test_rng},
    {"same seed, same world", test_same_seed_same_world},
    {"house ids, areas and national ids are valid", test_ids_valid},
    {"households split over districts exactly", test_apportion_sums},
    {"plausible distributions", test_distributions},
};

int main(void)
{
    return cu_run("sim generator", NULL, NULL, tests, CU_COUNT(tests));
}
