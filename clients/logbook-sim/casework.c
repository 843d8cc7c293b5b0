/*
 * casework.c - logbook-sim's committees at the end of a month (PROTOCOL.md
 * 9.17, 9.18): a few households being helped move to another village of
 * their district (case.transfer), and every third month the committee lists
 * the households that share a member (case.duplicates) and merges each pair
 * both of whose cases were visited (case.merge). Every choice comes from
 * the seed: a case's own stream for the month, and the daemon's pair list
 * in its order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* The chance, per month, that a household being assisted or followed up moves. */
#define MOVE_P 0.004

static void note_refusal(sim_t *s, const char *op, const lb_val_t *reply)
{
    const char *code, *msg, *field;
    lbc_reply_error(reply, &code, &msg, &field);
    s->casework_refused++;
    if (!s->first_refusal[0])
        snprintf(s->first_refusal, sizeof s->first_refusal, "%s: %s: %s", op, code, msg);
}

/* The tag carries the case index and, for a transfer, its new village. */
static void on_transfer(void *user, uint64_t tag, const lb_val_t *reply)
{
    sim_t *s = user;
    sim_case_t *c = &s->w.c[(uint32_t)tag];
    if (!lbc_reply_ok(reply)) {
        note_refusal(s, "case.transfer", reply);
        c->st = ST_FAILED; /* its view of the case is wrong now: leave it alone */
        c->next = A_NONE;
        return;
    }
    s->transfers++;
    c->village = (uint32_t)(tag >> 32);
    c->acked = 0; /* the transfer restarted the escalation clock */
}

/* Households being helped move, now and then, to another village of their district. */
static int transfers(sim_t *s, int month)
{
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < s->w.n; i++) {
        sim_case_t *c = &s->w.c[i];
        if (!c->cid || (c->st != ST_ASSISTING && c->st != ST_FOLLOW_UP))
            continue;
        rng_t r = rng_for(s->w.seed, i, 2000 + (uint64_t)month);
        if (!rng_chance(&r, MOVE_P))
            continue;
        const district_t *d = &s->w.d[s->w.v[c->village].district];
        if (d->nvillages < 2)
            continue;
        uint32_t to = d->first_village + rng_below(&r, d->nvillages - 1);
        if (to >= c->village)
            to++; /* any village of the district but its own */
        char cid[LB_CASE_ID_MAX];
        lb_case_id_format(c->cid, cid);
        lb_val_t *a = lb_map();
        rc = a ? 0 : LB_ENOMEM;
        lb_put_str(a, "case_id", cid, &rc);
        lb_put_str(a, "to_area", s->w.v[to].code, &rc);
        lb_put_str(a, "reason", "ย้ายไปอยู่กับญาติ / moved in with relatives", &rc);
        if (rc == 0)
            rc = lbc_pipe_send(s->pipe, "case.transfer", a, on_transfer, s, (uint64_t)to << 32 | i);
        lb_val_free(&a);
    }
    return rc ? rc : lbc_pipe_drain(s->pipe);
}

static bool visited(const sim_case_t *c)
{
    return c->st >= ST_VISITED && c->st < ST_RESOLVED;
}

/* The case index of a case id in the simulation, or false. */
static bool index_of(sim_t *s, const char *cid, uint32_t *i)
{
    uint64_t n;
    return cid && lb_case_id_parse(cid, &n) == 0 && umap_get(&s->by_cid, n, i);
}

/* The committee lists duplicate households and merges each visited pair into the older case. */
static int merges(sim_t *s)
{
    char err[256] = "";
    lb_val_t *a = lb_map(), *r = NULL;
    int rc = a ? 0 : LB_ENOMEM;
    lb_put_str(a, "area", s->w.province, &rc);
    if (rc == 0)
        rc = lbc_call(s->lbc, "case.duplicates", a, &r, err, sizeof err);
    s->requests++;
    lb_val_free(&a);
    if (rc || !lbc_reply_ok(r)) {
        if (rc)
            fprintf(stderr, "logbook-sim: case.duplicates: %s\n", err[0] ? err : lb_strerror(rc));
        else
            note_refusal(s, "case.duplicates", r);
        lb_val_free(&r);
        return rc;
    }
    const lb_val_t *pairs = lb_map_get(lbc_reply_result(r), "pairs");
    for (uint32_t k = 0; pairs && pairs->type == LB_ARR && k < pairs->a.n && rc == 0; k++) {
        const char *ka = lb_map_str(pairs->a.items[k], "a"),
                   *kb = lb_map_str(pairs->a.items[k], "b");
        uint32_t ia, ib;
        if (!index_of(s, ka, &ia) || !index_of(s, kb, &ib) || !visited(&s->w.c[ia]) ||
            !visited(&s->w.c[ib]))
            continue; /* not both visited yet: the committee waits for the teams */
        lb_val_t *m = lb_map(), *mr = NULL;
        rc = m ? 0 : LB_ENOMEM;
        lb_put_str(m, "keep", ka, &rc);
        lb_put_str(m, "drop", kb, &rc);
        if (rc == 0)
            rc = lbc_call(s->lbc, "case.merge", m, &mr, err, sizeof err);
        s->requests++;
        if (rc == 0 && lbc_reply_ok(mr)) {
            s->merges++;
            s->w.c[ib].st = ST_CLOSED;
            s->w.c[ib].next = A_NONE;
        } else if (rc == 0) {
            note_refusal(s, "case.merge", mr);
        }
        lb_val_free(&m);
        lb_val_free(&mr);
    }
    lb_val_free(&r);
    return rc;
}

int casework_round(sim_t *s, int month)
{
    int rc = transfers(s, month);
    if (rc == 0 && month % 3 == 2)
        rc = merges(s);
    return rc;
}
