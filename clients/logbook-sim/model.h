/*
 * model.h - what happens to the simulated cases month by month: the data a
 * team's visit, an agency's assistance or a follow-up records, and which
 * action comes next after the daemon took one. Pure: no I/O, no clock.
 */
#ifndef SIM_MODEL_H
#define SIM_MODEL_H

#include "gen.h"

/* The workflow the simulated cases follow. */
#define WORKFLOW "tpmap-household"

/* How a visited household is helped: by agencies, by itself, or not yet (sim_case_t.path). */
enum { PATH_AGENCY, PATH_SELF, PATH_WAIT };

/* The workflow's state names (ST_* order) and the action names (A_* order, then "ack"). */
extern const char *const state_names[NSTATE];
extern const char *const act_names[NACT + 1];

/* ST_* of a state name, or -1. */
int state_index(const char *name);
/* 1 (team) .. LB_NESC_LEVEL (province) for an escalation level's name, 0 for anything else. */
int esc_index(const char *level);

/*
 * case.act args for case c's next action (case_id, action, expect_state and
 * its data), drawn from c's stream; c->pend_* says what the case becomes if
 * the daemon takes it. NULL on LB_ENOMEM. Caller frees.
 */
lb_val_t *model_act_args(const world_t *w, sim_case_t *c);

/*
 * record_assistance args for c's pledge (status pledged, an agency answering
 * one of its needs, an amount), drawn from r so that c's own stream is left
 * as it was; notes the agency, kind, amount and village in c. And for its
 * delivery (status delivered, pledge c->pledge_id) by the same agency.
 * NULL on LB_ENOMEM. Caller frees.
 */
lb_val_t *model_pledge_args(const world_t *w, sim_case_t *c, rng_t *r);
lb_val_t *model_delivery_args(const world_t *w, const sim_case_t *c, rng_t *r);

/* The daemon took action a on c in `round`: update the view and pick what comes next. */
void model_advance(sim_case_t *c, int a, int round);

/*
 * Whether the committee acknowledges case i's escalation at `level` at the
 * end of `month`: its own stream per month, so the answer changes no other
 * choice.
 */
bool model_acks(const world_t *w, uint32_t i, int month, int level);

#endif
