/*
 * cases.c - logbook commands that change a case: open, act, ack, and the shortcuts
 * (schedule, visit, assist, followup, close, resolve) that find the fitting action.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbook.h"

/* ---- open ---- */

/* The household of open's arguments, or NULL when out of memory. */
static lb_val_t *open_household(const args_t *a)
{
    lb_val_t *hh = lb_map(), *members = NULL, *deprived = NULL;
    int e = hh ? 0 : LB_ENOMEM;
    lb_put_str(hh, "house_id", a->pos[0], &e);
    lb_put_str(hh, "area", a->pos[1], &e);
    put_opt_str(hh, "head", opt(a, "head"), &e);
    for (int k = 0; !e && k < a->nopts; k++) {
        const char *v = a->opt_val[k];
        if (strcmp(a->opt_name[k], "member=*") == 0) {
            const char *colon = strchr(v, ':');
            size_t nl = colon ? (size_t)(colon - v) : strlen(v);
            lb_val_t *mem = lb_map();
            if (!mem)
                lb_rc(&e, LB_ENOMEM);
            if (nl)
                lb_put(mem, "nid", lb_strn(v, nl), &e);
            if (colon && colon[1])
                lb_put_str(mem, "name", colon + 1, &e);
            if (!members)
                members = lb_arr();
            lb_push(members, mem, &e);
        } else if (strcmp(a->opt_name[k], "deprived=*") == 0) {
            if (!deprived)
                deprived = lb_arr();
            push_list(deprived, v, ',', &e);
        }
    }
    if (members)
        lb_put(hh, "members", members, &e);
    if (deprived)
        lb_put(hh, "deprived", deprived, &e);
    if (e)
        lb_val_free(&hh);
    return hh;
}

/* ctx: the house id. */
static void opened_text(const lb_val_t *res, const void *ctx)
{
    int64_t seq = 0;
    lb_map_int(res, "seq", &seq);
    printf("opened %s for house %s (state %s, seq %" PRId64 ")\n", map_str_or(res, "case_id", "?"),
           (const char *)ctx, map_str_or(res, "state", "?"), seq);
}

int cmd_open(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"workflow=", "head=", "member=*", "deprived=*",
                                       "source=",   "team=", NULL};
    PROLOGUE(spec, 2, 2)
    for (int k = 0; k < a.nopts; k++) {
        const char *v = a.opt_val[k];
        size_t nl = strcspn(v, ":");
        char nid[32];
        if (strcmp(a.opt_name[k], "member=*") != 0 || nl == 0)
            continue;
        snprintf(nid, sizeof nid, "%.*s", (int)(nl < sizeof nid - 1 ? nl : sizeof nid - 1), v);
        if ((rc = check_nid(argv[0], nid)) != 0)
            return rc;
    }
    lb_val_t *args = lb_map();
    int e = args ? 0 : LB_ENOMEM;
    lb_put(args, "household", open_household(&a), &e);
    put_opt_str(args, "workflow", opt(&a, "workflow"), &e);
    put_opt_str(args, "source", opt(&a, "source"), &e);
    put_opt_str(args, "team", opt(&a, "team"), &e);
    if (e)
        fprintf(stderr, "error: out of memory\n");
    rc = e ? EX_UNREACHABLE : request_print(app, "case.open", args, opened_text, a.pos[0]);
    lb_val_free(&args);
    return rc;
}

/* ---- act and its shortcuts ---- */

/* What acted_text prints the result of. */
typedef struct {
    const char *case_id, *action;
} act_t;

static void acted_text(const lb_val_t *res, const void *ctx)
{
    const act_t *act = ctx;
    int64_t seq = 0;
    int64_t rid = 0;
    const char *level = lb_map_str(res, "level");
    lb_map_int(res, "seq", &seq);
    lb_map_int(res, "record_id", &rid);
    printf("%s: %s -> state %s%s%s (seq %" PRId64 ")", act->case_id, act->action,
           map_str_or(res, "state", "?"), level ? ", level " : "", level ? level : "", seq);
    if (rid)
        printf(", record %" PRId64, rid);
    printf("\n");
}

/* Runs action on the case with data (copied; NULL or empty: none), expecting state expect. */
static int do_act(app_t *app, const char *case_id, const char *action, lb_val_t *data,
                  const char *expect, const args_t *a, const char *cmd)
{
    lb_val_t *args = case_args(case_id);
    int e = args ? 0 : LB_ENOMEM;
    lb_put_str(args, "action", action, &e);
    if (data && data->m.n > 0)
        lb_put(args, "data", lb_val_dup(data), &e);
    put_opt_str(args, "expect_state", expect, &e);
    int rc = e ? EX_UNREACHABLE : set_at(args, a, cmd);
    if (rc == EX_OK) {
        act_t act = {case_id, action};
        rc = request_print(app, "case.act", args, acted_text, &act);
    }
    lb_val_free(&args);
    return rc;
}

int cmd_act(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"at=", "expect=", NULL};
    PROLOGUE(spec, 2, -1)
    lb_val_t *data = lb_map();
    char err[256];
    if (!data)
        return EX_UNREACHABLE;
    for (int i = 2; i < a.npos; i++) {
        int e = lbc_kv_parse(data, a.pos[i], err, sizeof err);
        if (e) {
            usage_error(argv[0], "%s", e == LB_ENOMEM ? "out of memory" : err);
            lb_val_free(&data);
            return EX_USAGE;
        }
    }
    rc = do_act(app, a.pos[0], a.pos[1], data, opt(&a, "expect"), &a, argv[0]);
    lb_val_free(&data);
    return rc;
}

typedef enum {
    SC_SCHEDULE,
    SC_VISIT,
    SC_ASSIST,
    SC_FOLLOWUP,
    SC_CLOSE,
    SC_RESOLVE,
    SC_NOTE
} shortcut_t;

static const struct {
    const char *word;     /* preferred when several actions fit */
    const char *fallback; /* the bundled workflow's name, when none fits */
    const char *what;
} shortcuts[] = {
    [SC_SCHEDULE] = {"schedule", "schedule_visit", "schedules a team"},
    [SC_VISIT] = {"visit", "record_visit", "records a visit"},
    [SC_ASSIST] = {"assist", "record_assistance", "records assistance"},
    [SC_FOLLOWUP] = {"follow", "record_follow_up", "records a follow-up"},
    [SC_CLOSE] = {"close", "close", "closes the case"},
    [SC_RESOLVE] = {"resolve", "resolve", "resolves the case"},
    [SC_NOTE] = {"note", "add_note", "adds a note"},
};

static bool list_has(const lb_val_t *l, const char *s)
{
    if (l && l->type == LB_STR)
        return strcmp(l->s.p, s) == 0 || strcmp(l->s.p, "*") == 0;
    for (uint32_t i = 0; l && l->type == LB_ARR && i < l->a.n; i++)
        if (l->a.items[i]->type == LB_STR && strcmp(l->a.items[i]->s.p, s) == 0)
            return true;
    return false;
}

static bool action_fits(shortcut_t sc, const lb_val_t *act, const lb_val_t *states)
{
    const char *record = lb_map_str(act, "record");
    const char *to = lb_map_str(act, "to");
    const lb_val_t *tostate = to ? lb_map_get(states, to) : NULL;
    const lb_val_t *term = lb_map_get(tostate, "terminal");
    bool terminal = term && term->type == LB_BOOL && term->b;
    const char *outcome = lb_map_str(tostate, "outcome");
    switch (sc) {
    case SC_SCHEDULE:
        return !record && list_has(lb_map_get(act, "require"), "team") && !terminal;
    case SC_VISIT:
        return record && strcmp(record, "visit") == 0;
    case SC_ASSIST:
        return record && strcmp(record, "assistance") == 0;
    case SC_FOLLOWUP:
        return record && strcmp(record, "follow_up") == 0;
    case SC_CLOSE:
        return terminal && (!outcome || strcmp(outcome, "closed") == 0);
    case SC_RESOLVE:
        return terminal && outcome && strcmp(outcome, "resolved") == 0;
    case SC_NOTE:
        return record && strcmp(record, "note") == 0;
    }
    return false;
}

/*
 * Finds the action of the case's workflow that does what the shortcut means,
 * from the case's current state, so the shortcuts work for any workflow.
 * Falls back to the bundled workflow's action name (the daemon then says
 * what is wrong). *state gets the case's state (for expect_state).
 */
static int resolve_shortcut(app_t *app, const char *case_id, shortcut_t sc, char **action,
                            char **state)
{
    lb_val_t *args = case_args(case_id), *reply = NULL, *wreply = NULL;
    int rc = 0;
    *action = NULL;
    *state = NULL;
    if (!args) {
        rc = EX_UNREACHABLE;
        goto done;
    }
    rc = request(app, "case.get", args, &reply);
    if (rc)
        goto done;
    const lb_val_t *cs = lbc_reply_result(reply);
    const char *st = lb_map_str(cs, "state"), *wf = lb_map_str(cs, "workflow");
    if (st)
        *state = strdup(st);
    lb_val_free(&args);
    args = lb_map();
    if (!args || !wf || !st || lb_map_set_str(args, "name", wf)) {
        rc = args ? EX_OK : EX_UNREACHABLE;
        goto done;
    }
    rc = request(app, "workflow.get", args, &wreply);
    if (rc)
        goto done;
    const lb_val_t *def = lbc_reply_result(wreply);
    const lb_val_t *acts = lb_map_get(def, "actions"), *states = lb_map_get(def, "states");
    const char *pick = NULL;
    int fits = 0;
    for (uint32_t i = 0; acts && acts->type == LB_MAP && i < acts->m.n; i++) {
        const lb_val_t *act = acts->m.vals[i];
        if (!list_has(lb_map_get(act, "from"), st) || !action_fits(sc, act, states))
            continue;
        fits++;
        if (!pick ||
            (strstr(acts->m.keys[i], shortcuts[sc].word) && !strstr(pick, shortcuts[sc].word)))
            pick = acts->m.keys[i];
    }
    if (fits > 1 && !strstr(pick, shortcuts[sc].word)) {
        fprintf(stderr,
                "error: several actions of workflow %s fit from state %s; use: logbook act %s "
                "ACTION ...\n",
                wf, st, case_id);
        rc = EX_REFUSED;
        goto done;
    }
    if (pick)
        *action = strdup(pick);
done:
    if (rc == EX_OK && !*action)
        *action = strdup(shortcuts[sc].fallback);
    lb_val_free(&args);
    lb_val_free(&reply);
    lb_val_free(&wreply);
    return rc;
}

static int run_shortcut(app_t *app, const args_t *a, const char *cmd, shortcut_t sc,
                        const char *case_id, lb_val_t *data)
{
    char *action = NULL, *state = NULL;
    int rc = resolve_shortcut(app, case_id, sc, &action, &state);
    if (rc == EX_OK) {
        if (!action) {
            fprintf(stderr, "error: out of memory\n");
            rc = EX_UNREACHABLE;
        } else {
            /* The action was chosen for this state: refuse if it changed meanwhile. */
            rc = do_act(app, case_id, action, data, state, a, cmd);
        }
    }
    free(action);
    free(state);
    return rc;
}

int cmd_schedule(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"at=", NULL};
    PROLOGUE(spec, 2, 2)
    lb_val_t *data = lb_map();
    if (!data || lb_map_set_str(data, "team", a.pos[1])) {
        lb_val_free(&data);
        return EX_UNREACHABLE;
    }
    rc = run_shortcut(app, &a, argv[0], SC_SCHEDULE, a.pos[0], data);
    lb_val_free(&data);
    return rc;
}

int cmd_visit(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"at=", "team=", "note=", NULL};
    PROLOGUE(spec, 2, -1)
    lb_val_t *data = lb_map(), *findings = lb_map();
    int e = (!data || !findings) ? LB_ENOMEM : 0;
    for (int i = 1; !e && i < a.npos; i++) {
        const char *eq = strchr(a.pos[i], '=');
        if (!eq || eq == a.pos[i] || !eq[1]) {
            usage_error(argv[0], "expected DIMENSION=CODE[,CODE...], got '%s'", a.pos[i]);
            rc = EX_USAGE;
            goto done;
        }
        /* Repeating a dimension adds to its codes. */
        char *dim = strndup(a.pos[i], (size_t)(eq - a.pos[i]));
        lb_val_t *codes = dim ? lb_map_get(findings, dim) : NULL;
        if (dim && !codes) {
            lb_put(findings, dim, lb_arr(), &e);
            codes = lb_map_get(findings, dim);
        }
        push_list(codes, eq + 1, ',', &e);
        free(dim);
    }
    lb_put(data, "findings", findings, &e);
    findings = NULL;
    put_opt_str(data, "team", opt(&a, "team"), &e);
    put_opt_str(data, "note", opt(&a, "note"), &e);
    if (e) {
        rc = EX_UNREACHABLE;
        goto done;
    }
    rc = run_shortcut(app, &a, argv[0], SC_VISIT, a.pos[0], data);
done:
    lb_val_free(&findings);
    lb_val_free(&data);
    return rc;
}

int cmd_assist(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {
        "agency=", "dimension=", "kind=", "amount=", "meets=", "note=", "at=", NULL};
    PROLOGUE(spec, 1, 1)
    const char *agency = opt(&a, "agency"), *dim = opt(&a, "dimension"), *kind = opt(&a, "kind");
    const char *amount = opt(&a, "amount"), *meets = opt(&a, "meets");
    int64_t thb = 0;
    if (!agency || !dim || !kind) {
        usage_error(argv[0], "--agency, --dimension and --kind are required");
        return EX_USAGE;
    }
    if (amount && !parse_count(amount, 0, INT64_MAX / 2, &thb)) {
        usage_error(argv[0], "--amount must be a whole number of baht");
        return EX_USAGE;
    }
    lb_val_t *data = lb_map();
    int e = data ? 0 : LB_ENOMEM;
    lb_put_str(data, "agency", agency, &e);
    lb_put_str(data, "dimension", dim, &e);
    lb_put_str(data, "kind", kind, &e);
    if (amount)
        lb_put_int(data, "amount_thb", thb, &e);
    put_opt_list(data, "meets", meets, &e);
    put_opt_str(data, "note", opt(&a, "note"), &e);
    rc = e ? EX_UNREACHABLE : run_shortcut(app, &a, argv[0], SC_ASSIST, a.pos[0], data);
    lb_val_free(&data);
    return rc;
}

int cmd_followup(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"met=", "note=", "at=", NULL};
    PROLOGUE(spec, 2, 2)
    lb_val_t *data = lb_map();
    int e = data ? 0 : LB_ENOMEM;
    lb_put_str(data, "level", a.pos[1], &e);
    put_opt_list(data, "met", opt(&a, "met"), &e);
    put_opt_str(data, "note", opt(&a, "note"), &e);
    rc = e ? EX_UNREACHABLE : run_shortcut(app, &a, argv[0], SC_FOLLOWUP, a.pos[0], data);
    lb_val_free(&data);
    return rc;
}

static int cmd_close_resolve(app_t *app, int argc, char **argv, shortcut_t sc, const char *key)
{
    static const char *const spec[] = {"at=", "note=", NULL};
    PROLOGUE(spec, 2, 2)
    lb_val_t *data = lb_map();
    int e = data ? 0 : LB_ENOMEM;
    lb_put_str(data, key, a.pos[1], &e);
    /* A closing action's data takes only its own keys (PROTOCOL.md 9.10): the note goes
     * first, as a note record, while the case can still take one. */
    lb_val_t *note = opt(&a, "note") ? lb_map() : NULL;
    put_opt_str(note, "note", opt(&a, "note"), &e);
    rc = e ? EX_UNREACHABLE : EX_OK;
    if (rc == EX_OK && note)
        rc = run_shortcut(app, &a, argv[0], SC_NOTE, a.pos[0], note);
    if (rc == EX_OK)
        rc = run_shortcut(app, &a, argv[0], sc, a.pos[0], data);
    lb_val_free(&note);
    lb_val_free(&data);
    return rc;
}

int cmd_close(app_t *app, int argc, char **argv)
{
    return cmd_close_resolve(app, argc, argv, SC_CLOSE, "reason");
}

int cmd_resolve(app_t *app, int argc, char **argv)
{
    return cmd_close_resolve(app, argc, argv, SC_RESOLVE, "level");
}

/* ---- ack ---- */

/* ctx: the case id. */
static void acked_text(const lb_val_t *res, const void *ctx)
{
    int64_t step = 0;
    lb_map_int(res, "step", &step);
    printf("%s: acknowledged escalation step %" PRId64 " (level %s)\n", (const char *)ctx, step,
           map_str_or(res, "level", "?"));
}

int cmd_ack(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"note=", NULL};
    PROLOGUE(spec, 1, 1)
    lb_val_t *args = case_args(a.pos[0]);
    int e = args ? 0 : LB_ENOMEM;
    put_opt_str(args, "note", opt(&a, "note"), &e);
    rc = e ? EX_UNREACHABLE : request_print(app, "case.ack", args, acked_text, a.pos[0]);
    lb_val_free(&args);
    return rc;
}
