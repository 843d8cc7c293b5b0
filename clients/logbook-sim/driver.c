/*
 * driver.c - logbook-sim talking to the daemon: requests pipelined with
 * lbc_pipe, the import and the walk that finds each household's case, the
 * rounds of actions, the committees' acknowledgements, the clock, snapshots.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* ---------------------------------------------------------------------- */
/* Requests                                                                */
/* ---------------------------------------------------------------------- */

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

static void on_import(void *user, uint64_t first, const lb_val_t *reply)
{
    sim_t *s = user;
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
                    idx >= 0 ? s->w.c[first + (uint64_t)idx].house : 0,
                    lb_map_str(errs->a.items[k], "code"), lb_map_str(errs->a.items[k], "message"));
    }
}

static lb_val_t *import_args(lb_val_t *households)
{
    lb_val_t *a = lb_map();
    int rc = a ? 0 : LB_ENOMEM;
    lb_put(a, "households", households, &rc);
    lb_put_str(a, "workflow", WORKFLOW, &rc);
    lb_put_str(a, "source", "tpmap", &rc);
    if (rc)
        lb_val_free(&a);
    return a;
}

/*
 * case.import in batches of at most 10,000 households and IMPORT_BYTES, two
 * in flight so the next batch is built while the daemon commits one.
 */
int import_all(sim_t *s)
{
    int saved = lbc_pipe_max(s->pipe);
    lbc_pipe_set_max(s->pipe, saved < 2 ? saved : 2);
    lb_val_t *batch = NULL;
    size_t bytes = 0;
    uint32_t first = 0;
    int rc = 0;
    lb_buf_t b;
    lb_buf_init(&b);
    for (uint32_t i = 0; i <= s->w.n && rc == 0; i++) {
        lb_val_t *h = NULL;
        if (i < s->w.n) {
            if (!(h = gen_household(&s->w, i, &rc)))
                break;
            b.len = 0;
            if ((rc = proto_pack(h, &b))) {
                lb_val_free(&h);
                break;
            }
        }
        bool full =
            batch && (i == s->w.n || batch->a.n >= IMPORT_BATCH || bytes + b.len > IMPORT_BYTES);
        if (full) {
            lb_val_t *a = import_args(batch);
            batch = NULL;
            rc = a ? lbc_pipe_send(s->pipe, "case.import", a, on_import, s, first) : LB_ENOMEM;
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
        rc = lbc_pipe_drain(s->pipe);
    lbc_pipe_set_max(s->pipe, saved);
    return rc;
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
    lb_put_str(a, "area", s->w.province, &rc);
    lb_put_str(a, "workflow", WORKFLOW, &rc);
    if (overdue)
        lb_put_bool(a, "overdue", true, &rc);
    lb_put_int(a, "limit", PROTO_LIST_MAX, &rc);
    if (after[0])
        lb_put_str(a, "after", after, &rc);
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
int map_cases(sim_t *s)
{
    umap_t by_house;
    int rc = umap_init(&by_house, s->w.n);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < s->w.n; i++)
        umap_put(&by_house, s->w.c[i].house, i);
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
            s->w.c[i].cid = n;
            if (st != ST_IDENTIFIED) {
                s->w.c[i].st = ST_FOREIGN;
                s->w.c[i].next = A_NONE;
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
    if ((rc = umap_init(&s->by_cid, s->w.n)))
        return rc;
    for (uint32_t i = 0; i < s->w.n; i++) {
        sim_case_t *c = &s->w.c[i];
        if (c->cid)
            umap_put(&s->by_cid, c->cid, i);
        else
            c->st = ST_FAILED, c->next = A_NONE; /* refused at import */
        if (c->st == ST_FOREIGN)
            s->foreign++;
    }
    return 0;
}

/* A case's tag: the action (or level) in the high half, the case index in the low. */
static uint64_t tag_of(uint32_t i, int a)
{
    return (uint64_t)a << 32 | i;
}

static void on_act(void *user, uint64_t tag, const lb_val_t *reply)
{
    sim_t *s = user;
    uint32_t i = (uint32_t)tag;
    int a = (int)(tag >> 32);
    sim_case_t *c = &s->w.c[i];
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
    model_advance(c, a, s->round);
}

/* Every action due this round, phase by phase (see the A_* order). */
int run_round(sim_t *s)
{
    for (int a = 0; a < NACT; a++) {
        for (uint32_t i = 0; i < s->w.n; i++) {
            sim_case_t *c = &s->w.c[i];
            if (c->next != a || c->when != s->round)
                continue;
            lb_val_t *args = model_act_args(&s->w, c);
            if (!args)
                return LB_ENOMEM;
            int rc = lbc_pipe_send(s->pipe, "case.act", args, on_act, s, tag_of(i, a));
            lb_val_free(&args);
            if (rc)
                return rc;
        }
        int rc = lbc_pipe_drain(s->pipe);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Committees acknowledging escalations                                    */
/* ---------------------------------------------------------------------- */

static void on_ack(void *user, uint64_t tag, const lb_val_t *reply)
{
    sim_t *s = user;
    uint32_t i = (uint32_t)tag;
    int level = (int)(tag >> 32);
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
    s->w.c[i].acked = (uint8_t)level;
}

/*
 * At the end of a month the committees go through the overdue cases and
 * acknowledge some escalations: the higher the level, the likelier. The rest
 * stay unacknowledged, as on a real dashboard.
 */
int ack_round(sim_t *s, int month)
{
    static const double p_ack[] = {0, 0.30, 0.45, 0.60, 0.75};
    uint32_t *picked = malloc(sizeof *picked * (s->w.n ? s->w.n : 1));
    uint8_t *lvl = malloc(s->w.n ? s->w.n : 1);
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
            sim_case_t *c = &s->w.c[i];
            if (c->st >= NSTATE || c->acked >= level)
                continue;
            /* its own stream per month: whether it is acknowledged changes no other choice */
            rng_t r1 = rng_for(s->w.seed, i, 1000 + (uint64_t)month);
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
        lb_case_id_format(s->w.c[picked[k]].cid, cid);
        lb_val_t *a = lb_map();
        rc = a ? 0 : LB_ENOMEM;
        lb_put_str(a, "case_id", cid, &rc);
        lb_put_str(a, "note", "ศจพ. รับทราบแล้ว / seen by the command centre", &rc);
        if (rc == 0)
            rc = lbc_pipe_send(s->pipe, "case.ack", a, on_ack, s, tag_of(picked[k], lvl[k]));
        lb_val_free(&a);
    }
    if (rc == 0)
        rc = lbc_pipe_drain(s->pipe);
    free(picked);
    free(lvl);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The clock and the figures                                               */
/* ---------------------------------------------------------------------- */

int advance_clock(sim_t *s)
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
int read_stats(sim_t *s, bool *manual)
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

/* report.summary of the province by `by`; *reply: caller frees. */
int summary(sim_t *s, const char *by, lb_val_t **reply)
{
    lb_val_t *a = lb_map();
    int rc = a ? 0 : LB_ENOMEM;
    lb_put_str(a, "area", s->w.province, &rc);
    lb_put_str(a, "by", by, &rc);
    if (rc == 0 && (rc = call(s, "report.summary", a, reply)) != 0 && *reply)
        print_refusal("report.summary", *reply);
    lb_val_free(&a);
    return rc;
}

int snapshot(sim_t *s, month_t *m)
{
    lb_val_t *r = NULL;
    int rc = summary(s, "state", &r);
    if (rc == 0) {
        const lb_val_t *t = lb_map_get(lbc_reply_result(r), "totals");
        const lb_val_t *bs = lb_map_get(t, "by_state");
        for (int i = 0; i < NSTATE; i++)
            m->by_state[i] = row_int(bs, state_names[i]);
        lbc_report_row_parse(t, &m->totals);
    }
    lb_val_free(&r);
    int64_t before = s->fired_total;
    if (rc == 0)
        read_stats(s, NULL);
    m->fired = before >= 0 && s->fired_total >= 0 ? s->fired_total - before : -1;
    m->now = s->now;
    return rc;
}
