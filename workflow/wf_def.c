/*
 * wf_def.c - workflow definitions (PROTOCOL.md section 5): validating a YAML
 * tree into a wf_def_t, sets of definitions loaded from files or a folder,
 * and the workflow.list / workflow.get views. Every refusal names the file,
 * line and column of the node at fault, because the people who write these
 * files are programme staff, not the daemon's authors.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wf_internal.h"

#define WF_DIR_FILES_MAX 1024

static const char *const top_keys[] = {"workflow", "version", "title",          "initial", "states",
                                       "actions",  "migrate", "deliver_within", NULL};
static const char *const top_required[] = {"workflow", "version", "initial", "states", NULL};
static const char *const state_keys[] = {"title", "terminal", "outcome", "escalate", NULL};
static const char *const step_keys[] = {"after", "to", NULL};
static const char *const action_keys[] = {"from",           "to", "roles", "require", "record",
                                          "restart_timers", NULL};
static const char *const action_required[] = {"from", NULL};

/* Actions that name no roles are for the two roles that act (PROTOCOL.md 6). */
#define WF_ROLES_DEFAULT (1u << 0 | 1u << 1)

static void def_free(wf_def_t **pdef)
{
    if (!pdef || !*pdef)
        return;
    wf_def_t *def = *pdef;
    for (size_t i = 0; i < def->nstates; i++) {
        free(def->states[i].title);
        free(def->states[i].steps);
    }
    for (size_t i = 0; i < def->nactions; i++) {
        free(def->actions[i].from);
        free(def->actions[i].require);
    }
    free(def->states);
    free(def->actions);
    free(def->migrate);
    free(def->title);
    free(def->file);
    free(def);
    *pdef = NULL;
}

int wf_def_state_index(const wf_def_t *def, const char *name)
{
    for (size_t i = 0; name && i < def->nstates; i++)
        if (strcmp(def->states[i].name, name) == 0)
            return (int)i;
    return -1;
}

int wf_def_action_index(const wf_def_t *def, const char *name)
{
    for (size_t i = 0; name && i < def->nactions; i++)
        if (strcmp(def->actions[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Validation                                                              */
/* ---------------------------------------------------------------------- */

static int parse_steps(const wf_ectx_t *e, const wf_ynode_t *list, wf_state_t *st)
{
    if (wf_yis_null(list))
        return 0;
    if (list->kind != WF_Y_SEQ)
        return wf_ynerr(e, list, "escalate must be a list");
    if (list->nkids == 0)
        return 0;
    /* Escalating out of a state the case never leaves would alert forever. */
    if (st->terminal)
        return wf_ynerr(e, list, "terminal state '%s' cannot have escalations", st->name);
    if (list->nkids > WF_STEPS_MAX)
        return wf_ynerr(e, list, "more than %d escalation steps", WF_STEPS_MAX);
    st->steps = calloc(list->nkids, sizeof(*st->steps));
    if (!st->steps)
        return LB_ENOMEM;
    for (size_t i = 0; i < list->nkids; i++) {
        const wf_ynode_t *sn = list->kids[i];
        int rc = wf_ymap_check(e, sn, "an escalation step", step_keys, step_keys);
        if (rc)
            return rc;
        const wf_ynode_t *an = wf_ymap_get(sn, "after"), *tn = wf_ymap_get(sn, "to");
        const char *after, *to;
        if ((rc = wf_ystr(e, an, "after", &after)) || (rc = wf_ystr(e, tn, "to", &to)))
            return rc;
        wf_step_t *step = &st->steps[st->nsteps];
        if (strlen(after) >= sizeof(step->after) ||
            wf_parse_after(after, &step->after_ms, &step->after_bd))
            return wf_ynerr(e, an,
                            "bad duration '%s' (want an integer > 0 followed by s, m, h or d, "
                            "or 1 to %d followed by bd for working days)",
                            after, WF_BD_MAX);
        if (i > 0 && step->after_ms <= st->steps[i - 1].after_ms)
            return wf_ynerr(e, an,
                            "escalation steps out of order: '%s' is not after '%s' (each step's "
                            "after must be larger than the one before)",
                            after, st->steps[i - 1].after);
        snprintf(step->after, sizeof(step->after), "%s", after);
        step->level = wf_name_index(wf_esc_levels, WF_NLEVEL, to);
        if (step->level < 0)
            return wf_ynerr(e, tn,
                            "unknown escalation level '%s' (want team, subdistrict, district or "
                            "province)",
                            to);
        st->nsteps++;
    }
    return 0;
}

static int parse_state(const wf_ectx_t *e, const wf_ynode_t *body, wf_state_t *st)
{
    char what[WF_NAME_MAX + 16];
    int rc;

    /* "visited:" with nothing after it is the natural way to write a plain state. */
    if (wf_yis_null(body))
        return 0;
    snprintf(what, sizeof(what), "state '%s'", st->name);
    if ((rc = wf_ymap_check(e, body, what, state_keys, NULL)))
        return rc;
    const wf_ynode_t *n;
    if ((n = wf_ymap_get(body, "title"))) {
        const char *title;
        if ((rc = wf_ystr(e, n, "title", &title)))
            return rc;
        if (!(st->title = strdup(title)))
            return LB_ENOMEM;
    }
    if ((n = wf_ymap_get(body, "terminal")) && (rc = wf_ybool(e, n, "terminal", &st->terminal)))
        return rc;
    if ((n = wf_ymap_get(body, "outcome"))) {
        const char *outcome;
        if ((rc = wf_ystr(e, n, "outcome", &outcome)))
            return rc;
        if (strcmp(outcome, "resolved") == 0)
            st->outcome = "resolved";
        else if (strcmp(outcome, "closed") == 0)
            st->outcome = "closed";
        else
            return wf_ynerr(e, n, "unknown outcome '%s' (want resolved or closed)", outcome);
        if (!st->terminal)
            return wf_ynerr(e, n, "outcome on non-terminal state '%s'", st->name);
    }
    if (st->terminal && !st->outcome)
        st->outcome = "closed";
    if ((n = wf_ymap_get(body, "escalate")) && (rc = parse_steps(e, n, st)))
        return rc;
    return 0;
}

static int parse_states(const wf_ectx_t *e, const wf_ynode_t *sn, wf_def_t *def)
{
    if (sn->kind != WF_Y_MAP)
        return wf_ynerr(e, sn, "states must be a map");
    size_t n = sn->nkids / 2;
    if (n == 0)
        return wf_ynerr(e, sn, "no states");
    if (n > WF_STATES_MAX)
        return wf_ynerr(e, sn, "more than %d states", WF_STATES_MAX);
    def->states = calloc(n, sizeof(*def->states));
    if (!def->states)
        return LB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const wf_ynode_t *key = sn->kids[2 * i];
        if (!wf_valid_name(key->s, "_"))
            return wf_ynerr(e, key, "invalid state name '%s' (want [a-z0-9_], 1 to 63 characters)",
                            key->s);
        wf_state_t *st = &def->states[def->nstates++];
        snprintf(st->name, sizeof(st->name), "%s", key->s);
        int rc = parse_state(e, sn->kids[2 * i + 1], st);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_from(const wf_ectx_t *e, const wf_ynode_t *fn, const wf_def_t *def,
                      wf_action_t *act)
{
    act->from = calloc(def->nstates, sizeof(*act->from));
    if (!act->from)
        return LB_ENOMEM;
    if (fn->kind == WF_Y_SCALAR && strcmp(fn->s, "*") == 0) {
        for (size_t i = 0; i < def->nstates; i++)
            act->from[i] = !def->states[i].terminal;
        return 0;
    }
    if (fn->kind != WF_Y_SEQ)
        return wf_ynerr(e, fn, "from must be a list of states or \"*\"");
    if (fn->nkids == 0)
        return wf_ynerr(e, fn, "action '%s' has no from-states", act->name);
    for (size_t i = 0; i < fn->nkids; i++) {
        const char *s;
        int rc = wf_ystr(e, fn->kids[i], "a from-state", &s);
        if (rc)
            return rc;
        int k = wf_def_state_index(def, s);
        if (k < 0)
            return wf_ynerr(e, fn->kids[i], "unknown state '%s'", s);
        /* A terminal state is final: no action may take a case out of it. */
        if (def->states[k].terminal)
            return wf_ynerr(e, fn->kids[i], "action '%s' cannot start in terminal state '%s'",
                            act->name, s);
        if (act->from[k])
            return wf_ynerr(e, fn->kids[i], "state '%s' listed twice", s);
        act->from[k] = true;
    }
    return 0;
}

static int parse_roles(const wf_ectx_t *e, const wf_ynode_t *rn, wf_action_t *act)
{
    if (rn->kind != WF_Y_SEQ)
        return wf_ynerr(e, rn, "roles must be a list");
    act->roles = 0;
    for (size_t i = 0; i < rn->nkids; i++) {
        const char *s;
        int rc = wf_ystr(e, rn->kids[i], "a role", &s);
        if (rc)
            return rc;
        int k = wf_name_index(wf_roles, 4, s);
        if (k < 0)
            return wf_ynerr(e, rn->kids[i],
                            "unknown role '%s' (want field, committee, reporter or admin)", s);
        if (act->roles & (1u << k))
            return wf_ynerr(e, rn->kids[i], "role '%s' listed twice", s);
        act->roles |= 1u << k;
    }
    return 0;
}

static int parse_require(const wf_ectx_t *e, const wf_ynode_t *qn, wf_action_t *act)
{
    if (qn->kind != WF_Y_SEQ)
        return wf_ynerr(e, qn, "require must be a list");
    if (qn->nkids > WF_REQUIRE_MAX)
        return wf_ynerr(e, qn, "more than %d required keys", WF_REQUIRE_MAX);
    if (qn->nkids == 0)
        return 0;
    act->require = calloc(qn->nkids, sizeof(*act->require));
    if (!act->require)
        return LB_ENOMEM;
    for (size_t i = 0; i < qn->nkids; i++) {
        const char *s;
        int rc = wf_ystr(e, qn->kids[i], "a required key", &s);
        if (rc)
            return rc;
        if (!wf_valid_name(s, "_"))
            return wf_ynerr(e, qn->kids[i],
                            "invalid key name '%s' (want [a-z0-9_], 1 to 63 characters)", s);
        for (size_t j = 0; j < act->nrequire; j++)
            if (strcmp(act->require[j], s) == 0)
                return wf_ynerr(e, qn->kids[i], "key '%s' listed twice", s);
        snprintf(act->require[act->nrequire++], WF_NAME_MAX, "%s", s);
    }
    return 0;
}

static int parse_action(const wf_ectx_t *e, const wf_ynode_t *body, const wf_def_t *def,
                        wf_action_t *act)
{
    char what[WF_NAME_MAX + 16];
    const wf_ynode_t *n;
    const char *s;
    int rc;

    snprintf(what, sizeof(what), "action '%s'", act->name);
    if ((rc = wf_ymap_check(e, body, what, action_keys, action_required)))
        return rc;
    act->to = -1;
    act->record = WF_REC_NONE;
    act->roles = WF_ROLES_DEFAULT;
    if ((rc = parse_from(e, wf_ymap_get(body, "from"), def, act)))
        return rc;
    if ((n = wf_ymap_get(body, "to"))) {
        if ((rc = wf_ystr(e, n, "to", &s)))
            return rc;
        act->to = wf_def_state_index(def, s);
        if (act->to < 0)
            return wf_ynerr(e, n, "unknown state '%s'", s);
    }
    if ((n = wf_ymap_get(body, "roles")) && (rc = parse_roles(e, n, act)))
        return rc;
    if ((n = wf_ymap_get(body, "require")) && (rc = parse_require(e, n, act)))
        return rc;
    if ((n = wf_ymap_get(body, "record"))) {
        if ((rc = wf_ystr(e, n, "record", &s)))
            return rc;
        act->record = wf_name_index(wf_record_names, WF_NREC, s);
        if (act->record < 0)
            return wf_ynerr(e, n,
                            "unknown record '%s' (want visit, assistance, follow_up, note, member "
                            "or decision)",
                            s);
    }
    if ((n = wf_ymap_get(body, "restart_timers")) &&
        (rc = wf_ybool(e, n, "restart_timers", &act->restart_timers)))
        return rc;
    return 0;
}

static int parse_actions(const wf_ectx_t *e, const wf_ynode_t *an, wf_def_t *def)
{
    if (!an || wf_yis_null(an))
        return 0;
    if (an->kind != WF_Y_MAP)
        return wf_ynerr(e, an, "actions must be a map");
    size_t n = an->nkids / 2;
    if (n > WF_ACTIONS_MAX)
        return wf_ynerr(e, an, "more than %d actions", WF_ACTIONS_MAX);
    if (n == 0)
        return 0;
    def->actions = calloc(n, sizeof(*def->actions));
    if (!def->actions)
        return LB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const wf_ynode_t *key = an->kids[2 * i];
        if (!wf_valid_name(key->s, "_"))
            return wf_ynerr(e, key, "invalid action name '%s' (want [a-z0-9_], 1 to 63 characters)",
                            key->s);
        wf_action_t *act = &def->actions[def->nactions++];
        snprintf(act->name, sizeof(act->name), "%s", key->s);
        int rc = parse_action(e, an->kids[2 * i + 1], def, act);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * migrate: {old_state: new_state}: where the cases of a state that an earlier
 * version had and this one has not go when this file replaces it. A key that
 * is a state here would never be consulted, and a value that is not one
 * would strand the cases again, so both are refused.
 */
static int parse_migrate(const wf_ectx_t *e, const wf_ynode_t *mn, wf_def_t *def)
{
    if (!mn || wf_yis_null(mn))
        return 0;
    if (mn->kind != WF_Y_MAP)
        return wf_ynerr(e, mn, "migrate must be a map of old state to new state");
    size_t n = mn->nkids / 2;
    if (n == 0)
        return 0;
    if (n > WF_STATES_MAX)
        return wf_ynerr(e, mn, "more than %d migrate entries", WF_STATES_MAX);
    def->migrate = calloc(n, sizeof(*def->migrate));
    if (!def->migrate)
        return LB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const wf_ynode_t *key = mn->kids[2 * i], *val = mn->kids[2 * i + 1];
        const char *to;
        int rc;
        if (!wf_valid_name(key->s, "_"))
            return wf_ynerr(e, key, "invalid state name '%s' (want [a-z0-9_], 1 to 63 characters)",
                            key->s);
        if (wf_def_state_index(def, key->s) >= 0)
            return wf_ynerr(e, key,
                            "migrate: '%s' is a state of this workflow; only states it "
                            "no longer has can be migrated",
                            key->s);
        if ((rc = wf_ystr(e, val, "migrate target", &to)))
            return rc;
        int ti = wf_def_state_index(def, to);
        if (ti < 0)
            return wf_ynerr(e, val, "migrate: '%s' is not a state of this workflow", to);
        wf_migrate_t *m = &def->migrate[def->nmigrate++];
        snprintf(m->from, sizeof(m->from), "%s", key->s);
        m->to = ti;
    }
    return 0;
}

static int def_build(const wf_ectx_t *e, const wf_ynode_t *root, wf_def_t *def)
{
    const wf_ynode_t *n;
    const char *s;
    int rc;

    if (root->kind != WF_Y_MAP)
        return wf_ynerr(e, root, "the top level must be a map");
    if ((rc = wf_ymap_check(e, root, "the workflow", top_keys, top_required)))
        return rc;

    n = wf_ymap_get(root, "workflow");
    if ((rc = wf_ystr(e, n, "workflow", &s)))
        return rc;
    if (!wf_valid_name(s, "-"))
        return wf_ynerr(e, n, "invalid workflow name '%s' (want [a-z0-9-], 1 to 63 characters)", s);
    snprintf(def->name, sizeof(def->name), "%s", s);

    n = wf_ymap_get(root, "version");
    if (wf_yint(e, n, "version", &def->version) || def->version < 1)
        return wf_ynerr(e, n, "version must be an integer >= 1");
    def->vline = n->line;
    def->vcol = n->col;

    if ((n = wf_ymap_get(root, "title"))) {
        if ((rc = wf_ystr(e, n, "title", &s)))
            return rc;
        if (!(def->title = strdup(s)))
            return LB_ENOMEM;
    }

    if ((rc = parse_states(e, wf_ymap_get(root, "states"), def)))
        return rc;

    n = wf_ymap_get(root, "initial");
    if ((rc = wf_ystr(e, n, "initial", &s)))
        return rc;
    def->initial = wf_def_state_index(def, s);
    if (def->initial < 0)
        return wf_ynerr(e, n, "initial state '%s' is not a state", s);
    /* A case opened straight into a terminal state could never be worked. */
    if (def->states[def->initial].terminal)
        return wf_ynerr(e, n, "initial state '%s' is terminal", s);

    if ((rc = parse_actions(e, wf_ymap_get(root, "actions"), def)))
        return rc;
    if ((n = wf_ymap_get(root, "deliver_within"))) {
        if ((rc = wf_ystr(e, n, "deliver_within", &s)))
            return rc;
        if (strlen(s) >= sizeof def->deliver_within_text ||
            wf_parse_duration(s, &def->deliver_within))
            return wf_ynerr(e, n, "deliver_within must be a duration such as 90d");
        snprintf(def->deliver_within_text, sizeof def->deliver_within_text, "%s", s);
    }
    return parse_migrate(e, wf_ymap_get(root, "migrate"), def);
}

/* One definition from YAML text; file names it in messages. */
static int def_parse(const char *file, const char *text, size_t len, wf_def_t **out, char *err,
                     size_t errlen)
{
    wf_ectx_t e = {file, err, errlen};
    wf_ynode_t *root = NULL;
    wf_def_t *def = NULL;
    int rc;

    *out = NULL;
    rc = wf_yaml_parse(&e, text, len, &root);
    if (rc)
        goto cleanup;
    def = calloc(1, sizeof(*def));
    if (!def || !(def->file = strdup(file))) {
        rc = LB_ENOMEM;
        goto cleanup;
    }
    rc = def_build(&e, root, def);
    if (rc)
        goto cleanup;
    *out = def;
    def = NULL;

cleanup:
    if (rc == LB_ENOMEM && err && errlen)
        snprintf(err, errlen, "%s: out of memory", file);
    def_free(&def);
    wf_ynode_free(&root);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Sets                                                                    */
/* ---------------------------------------------------------------------- */

void wf_set_destroy(wf_set_t **pset)
{
    if (!pset || !*pset)
        return;
    wf_set_t *set = *pset;
    for (size_t i = 0; i < set->n; i++)
        def_free(&set->defs[i]);
    free(set->defs);
    free(set);
    *pset = NULL;
}

static int def_cmp(const void *a, const void *b)
{
    const wf_def_t *x = *(wf_def_t *const *)a, *y = *(wf_def_t *const *)b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->version < y->version ? -1 : x->version > y->version;
}

/* Adds def (ownership passes to set, also on failure). */
static int set_add(wf_set_t *set, wf_def_t *def, size_t cap, char *err, size_t errlen)
{
    for (size_t i = 0; i < set->n; i++) {
        const wf_def_t *o = set->defs[i];
        if (strcmp(o->name, def->name) == 0 && o->version == def->version) {
            if (err && errlen)
                snprintf(err, errlen,
                         "%s:%u:%u: workflow '%s' version %" PRId64 " is already defined in %s",
                         def->file, def->vline, def->vcol, def->name, def->version, o->file);
            def_free(&def);
            return LB_ECONFIG;
        }
    }
    if (set->n == cap) {
        def_free(&def);
        return LB_EINTERNAL;
    }
    set->defs[set->n++] = def;
    return 0;
}

int wf_set_load_files(const char *const *paths, size_t n, wf_set_t **out, char *err, size_t errlen)
{
    wf_set_t *set = NULL;
    char *text = NULL;
    int rc = 0;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    set = calloc(1, sizeof(*set));
    if (!set || (n && !(set->defs = calloc(n, sizeof(*set->defs))))) {
        rc = LB_ENOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len;
        wf_def_t *def;
        if ((rc = wf_read_file(paths[i], &text, &len, err, errlen)))
            goto cleanup;
        if ((rc = def_parse(paths[i], text, len, &def, err, errlen)))
            goto cleanup;
        free(text);
        text = NULL;
        if ((rc = set_add(set, def, n, err, errlen)))
            goto cleanup;
    }
    if (set->n > 1)
        qsort(set->defs, set->n, sizeof(*set->defs), def_cmp);
    *out = set;
    set = NULL;

cleanup:
    free(text);
    wf_set_destroy(&set);
    return rc;
}

int wf_set_load_text(const char *name, const char *text, size_t len, wf_set_t **out, char *err,
                     size_t errlen)
{
    wf_set_t *set = NULL;
    wf_def_t *def = NULL;
    int rc;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    rc = def_parse(name, text, len, &def, err, errlen);
    if (rc)
        goto cleanup;
    set = calloc(1, sizeof(*set));
    if (!set || !(set->defs = calloc(1, sizeof(*set->defs)))) {
        rc = LB_ENOMEM;
        goto cleanup;
    }
    set->defs[set->n++] = def;
    def = NULL;
    *out = set;
    set = NULL;

cleanup:
    def_free(&def);
    wf_set_destroy(&set);
    return rc;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_yaml_name(const char *name)
{
    size_t n = strlen(name);
    /* Hidden files are editors' and package managers' leftovers, not definitions. */
    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

int wf_set_load(const char *path, wf_set_t **out, char *err, size_t errlen)
{
    struct stat st;
    DIR *dir = NULL;
    char **files = NULL;
    size_t nfiles = 0;
    int rc = 0;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return LB_ECONFIG;
    }
    if (!S_ISDIR(st.st_mode))
        return wf_set_load_files(&path, 1, out, err, errlen);

    dir = opendir(path);
    if (!dir) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return LB_ECONFIG;
    }
    files = calloc(WF_DIR_FILES_MAX, sizeof(*files));
    if (!files) {
        rc = LB_ENOMEM;
        goto cleanup;
    }
    const struct dirent *de;
    while ((de = readdir(dir))) {
        if (!is_yaml_name(de->d_name))
            continue;
        if (nfiles == WF_DIR_FILES_MAX) {
            snprintf(err, errlen, "%s: more than %d workflow files", path, WF_DIR_FILES_MAX);
            rc = LB_ECONFIG;
            goto cleanup;
        }
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        char *full = malloc(len);
        if (!full) {
            rc = LB_ENOMEM;
            goto cleanup;
        }
        bool slash = path[0] && path[strlen(path) - 1] == '/';
        snprintf(full, len, "%s%s%s", path, slash ? "" : "/", de->d_name);
        files[nfiles++] = full;
    }
    if (nfiles == 0) {
        snprintf(err, errlen, "%s: no *.yaml workflow files", path);
        rc = LB_ECONFIG;
        goto cleanup;
    }
    /* Sorted, so that the first error reported does not depend on the file system. */
    qsort(files, nfiles, sizeof(*files), str_cmp);
    rc = wf_set_load_files((const char *const *)files, nfiles, out, err, errlen);

cleanup:
    if (rc == LB_ENOMEM && err && errlen)
        snprintf(err, errlen, "%s: out of memory", path);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    if (dir)
        closedir(dir);
    return rc;
}

const wf_def_t *wf_set_get(const wf_set_t *set, const char *name, int64_t version)
{
    const wf_def_t *best = NULL;
    for (size_t i = 0; set && name && i < set->n; i++) {
        const wf_def_t *d = set->defs[i];
        if (strcmp(d->name, name) != 0)
            continue;
        if (version == 0 ? (!best || d->version > best->version) : d->version == version)
            best = d;
    }
    return best;
}

size_t wf_set_count(const wf_set_t *set)
{
    return set ? set->n : 0;
}

const wf_def_t *wf_set_at(const wf_set_t *set, size_t i)
{
    return set && i < set->n ? set->defs[i] : NULL;
}

const char *wf_def_name(const wf_def_t *def)
{
    return def->name;
}

int64_t wf_def_version(const wf_def_t *def)
{
    return def->version;
}

const char *wf_def_initial(const wf_def_t *def)
{
    return def->states[def->initial].name;
}

bool wf_def_is_terminal(const wf_def_t *def, const char *state, const char **outcome)
{
    int k = wf_def_state_index(def, state);
    if (k < 0 || !def->states[k].terminal)
        return false;
    if (outcome)
        *outcome = def->states[k].outcome;
    return true;
}

bool wf_def_has_state(const wf_def_t *def, const char *state)
{
    return wf_def_state_index(def, state) >= 0;
}

const char *wf_def_migrate(const wf_def_t *def, const char *old_state)
{
    for (size_t i = 0; def && old_state && i < def->nmigrate; i++)
        if (strcmp(def->migrate[i].from, old_state) == 0)
            return def->states[def->migrate[i].to].name;
    return NULL;
}

/* The definition that runs a case of (name, version) in set (PROTOCOL.md 9.9). */
static const wf_def_t *runner(const wf_set_t *set, const char *name, int64_t version)
{
    const wf_def_t *d = wf_set_get(set, name, version);
    return d ? d : wf_set_get(set, name, 0);
}

int wf_set_vanished(const wf_set_t *old_set, const wf_set_t *new_set, const char *name,
                    wf_vanished_fn fn, void *ctx)
{
    if (!name || !fn)
        return LB_EINTERNAL;
    for (size_t i = 0; old_set && i < old_set->n; i++) {
        const wf_def_t *od = old_set->defs[i];
        if (strcmp(od->name, name) != 0)
            continue;
        const wf_def_t *nd = runner(new_set, name, od->version);
        for (size_t k = 0; k < od->nstates; k++) {
            const wf_state_t *st = &od->states[k];
            /* A case in a terminal state never acts again: it needs no state to act from. */
            if (st->terminal || (nd && wf_def_state_index(nd, st->name) >= 0))
                continue;
            int rc = fn(st->name, od->version, nd ? wf_def_migrate(nd, st->name) : NULL, ctx);
            if (rc)
                return rc < 0 ? rc : 0;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Views                                                                   */
/* ---------------------------------------------------------------------- */

static lb_val_t *describe_state(const wf_state_t *st)
{
    int rc = 0;
    lb_val_t *m = lb_map();
    if (!m)
        return NULL;
    if (st->title)
        lb_put_str(m, "title", st->title, &rc);
    lb_put_bool(m, "terminal", st->terminal, &rc);
    if (st->outcome)
        lb_put_str(m, "outcome", st->outcome, &rc);
    lb_val_t *steps = rc ? NULL : lb_arr();
    for (size_t i = 0; steps && !rc && i < st->nsteps; i++) {
        lb_val_t *s = lb_map();
        if (!s) {
            rc = LB_ENOMEM;
            break;
        }
        lb_put_int(s, "after_ms", st->steps[i].after_ms, &rc);
        lb_put_str(s, "after", st->steps[i].after, &rc);
        if (st->steps[i].after_bd)
            lb_put_int(s, "business_days", st->steps[i].after_bd, &rc);
        lb_put_str(s, "to", wf_esc_levels[st->steps[i].level], &rc);
        lb_push(steps, s, &rc);
    }
    lb_put(m, "escalate", steps, &rc);
    if (rc)
        lb_val_free(&m);
    return m;
}

static lb_val_t *describe_action(const wf_def_t *def, const wf_action_t *act)
{
    int rc = 0;
    lb_val_t *m = lb_map(), *from = lb_arr(), *roles = lb_arr(), *req = lb_arr();
    if (!m || !from || !roles || !req)
        rc = LB_ENOMEM;
    for (size_t i = 0; !rc && i < def->nstates; i++)
        if (act->from[i])
            lb_push(from, lb_str(def->states[i].name), &rc);
    for (int i = 0; !rc && i < 4; i++)
        if (act->roles & (1u << i))
            lb_push(roles, lb_str(wf_roles[i]), &rc);
    for (size_t i = 0; !rc && i < act->nrequire; i++)
        lb_push(req, lb_str(act->require[i]), &rc);
    lb_put(m, "from", from, &rc);
    from = NULL;
    if (act->to >= 0)
        lb_put_str(m, "to", def->states[act->to].name, &rc);
    lb_put(m, "roles", roles, &rc);
    roles = NULL;
    lb_put(m, "require", req, &rc);
    req = NULL;
    if (act->record != WF_REC_NONE)
        lb_put_str(m, "record", wf_record_names[act->record], &rc);
    lb_put_bool(m, "restart_timers", act->restart_timers, &rc);
    if (rc)
        lb_val_free(&m);
    return m;
}

lb_val_t *wf_def_describe(const wf_def_t *def, bool full)
{
    int rc = 0;
    lb_val_t *m = lb_map(), *terminal = lb_arr(), *states = full ? lb_map() : lb_arr();
    if (!m || !terminal || !states)
        rc = LB_ENOMEM;
    lb_put_str(m, "name", def->name, &rc);
    lb_put_int(m, "version", def->version, &rc);
    if (full && def->title)
        lb_put_str(m, "title", def->title, &rc);
    lb_put_str(m, "initial", def->states[def->initial].name, &rc);
    for (size_t i = 0; !rc && i < def->nstates; i++) {
        const wf_state_t *st = &def->states[i];
        if (full)
            lb_put(states, st->name, describe_state(st), &rc);
        else
            lb_push(states, lb_str(st->name), &rc);
        if (st->terminal)
            lb_push(terminal, lb_str(st->name), &rc);
    }
    lb_put(m, "states", states, &rc);
    lb_put(m, "terminal", terminal, &rc);
    if (full) {
        lb_val_t *actions = rc ? NULL : lb_map();
        if (!rc && !actions)
            rc = LB_ENOMEM;
        for (size_t i = 0; !rc && i < def->nactions; i++)
            lb_put(actions, def->actions[i].name, describe_action(def, &def->actions[i]), &rc);
        lb_put(m, "actions", actions, &rc);
        if (def->nmigrate) {
            lb_val_t *mig = rc ? NULL : lb_map();
            if (!rc && !mig)
                rc = LB_ENOMEM;
            for (size_t i = 0; !rc && i < def->nmigrate; i++)
                lb_put_str(mig, def->migrate[i].from, def->states[def->migrate[i].to].name, &rc);
            lb_put(m, "migrate", mig, &rc);
        }
        if (def->deliver_within_text[0])
            lb_put_str(m, "deliver_within", def->deliver_within_text, &rc);
    }
    if (rc)
        lb_val_free(&m);
    return m;
}
