/*
 * ledger.c - logbook-sim's agencies and their promises (PROTOCOL.md 9.19):
 * after each round, now and then an agency pledges help to a household it
 * is assisting (record_assistance with status pledged, an agency and an
 * amount), and most pledges are delivered some rounds later (status
 * delivered, pledge = the record_id the pledge's case.act answered), at the
 * latest in the round before the case leaves assisting. About one in five
 * is never delivered: it stays open past the workflow's deliver_within and
 * escalates. Every choice comes from the seed (a case's own stream for the
 * round), never from the case's main stream, so the rest of the run is what
 * it would be without them.
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"

/* The chance, per round, that an agency assisting a household pledges to it (once per case). */
#define PLEDGE_P 0.1
/* The chance that a pledge is never delivered. */
#define NEVER_P 0.2

static void note_refusal(sim_t *s, const char *what, const lb_val_t *reply)
{
    const char *code, *msg, *field;
    lbc_reply_error(reply, &code, &msg, &field);
    s->ledger_refused++;
    if (!s->first_refusal[0])
        snprintf(s->first_refusal, sizeof s->first_refusal, "%s: %s: %s", what, code, msg);
}

static void on_pledge(void *user, uint64_t tag, const lb_val_t *reply)
{
    sim_t *s = user;
    sim_case_t *c = &s->w.c[(uint32_t)tag];
    int64_t id = 0;
    if (!lbc_reply_ok(reply) || lb_map_int(lbc_reply_result(reply), "record_id", &id) || id <= 0 ||
        id > UINT32_MAX) {
        if (lbc_reply_ok(reply))
            s->ledger_refused++; /* taken, but without a record id: a daemon before 9.19 */
        else
            note_refusal(s, "pledge", reply);
        c->pledge_id = 0;
        return;
    }
    s->pledges++;
    c->pledge_id = (uint32_t)id;
}

static void on_delivery(void *user, uint64_t tag, const lb_val_t *reply)
{
    sim_t *s = user;
    sim_case_t *c = &s->w.c[(uint32_t)tag];
    if (!lbc_reply_ok(reply)) {
        note_refusal(s, "delivery", reply);
        c->deliver_round = -1; /* not again: it stays open */
        return;
    }
    s->deliveries++;
    c->pledge_id = 0;
}

/*
 * The case may leave assisting in the coming round: its next action moves it
 * on, or is its last assistance (the follow-up can start in the same round).
 */
static bool leaving(const sim_case_t *c, int round)
{
    if (c->next == A_NONE || c->when > round + 1)
        return false;
    return c->next != A_ASSIST || c->assists_left <= 1;
}

int ledger_round(sim_t *s)
{
    int rc = 0;
    int round = s->round;
    for (uint32_t i = 0; rc == 0 && i < s->w.n; i++) {
        sim_case_t *c = &s->w.c[i];
        if (!c->cid || c->st != ST_ASSISTING)
            continue;
        rng_t r = rng_for(s->w.seed, i, 3000 + (uint64_t)round);
        lb_val_t *a = NULL;
        lbc_pipe_cb fn = NULL;
        if (c->pledge_id) {
            if (c->deliver_round < 0 || (round < c->deliver_round && !leaving(c, round)))
                continue;
            a = model_delivery_args(&s->w, c, &r);
            fn = on_delivery;
        } else if (!c->pledged && c->path == PATH_AGENCY && !leaving(c, round) &&
                   rng_chance(&r, PLEDGE_P)) {
            c->pledged = 1;
            c->deliver_round =
                (int16_t)(rng_chance(&r, NEVER_P) ? -1 : round + rng_range(&r, 1, 4));
            a = model_pledge_args(&s->w, c, &r);
            fn = on_pledge;
        } else {
            continue;
        }
        rc = a ? lbc_pipe_send(s->pipe, "case.act", a, fn, s, i) : LB_ENOMEM;
        lb_val_free(&a);
    }
    return rc ? rc : lbc_pipe_drain(s->pipe);
}
