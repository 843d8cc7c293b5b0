/*
 * lookup.c - logbook commands that read cases: show (a case with its records and timers),
 * history (its events), find (by house or national id) and list (summaries, paged).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbook.h"

#define LIST_PAGE_MAX PROTO_LIST_MAX
#define HISTORY_PAGE 1000

/* ---- show ---- */

/* Prints a list of record maps as a table with the given columns (time keys formatted);
 * nothing when there are no columns or no records. */
static void print_records(const char *title, const lb_val_t *list, const char *const *keys,
                          const char *const *hdr, size_t ncols)
{
    if (ncols == 0 || !list || list->type != LB_ARR || list->a.n == 0)
        return;
    table_t t;
    table_init(&t, ncols, hdr);
    for (uint32_t i = 0; i < list->a.n; i++) {
        const lb_val_t *r = list->a.items[i];
        char **row = calloc(ncols, sizeof *row);
        if (!row)
            break;
        for (size_t c = 0; c < ncols; c++) {
            const char *k = keys[c];
            if (strcmp(k, "at") == 0 || strcmp(k, "due") == 0 || strcmp(k, "acked_at") == 0)
                row[c] = time_text(r, k);
            else if (strcmp(k, "findings") == 0)
                row[c] = findings_text(lb_map_get(r, k));
            else
                row[c] = val_text(lb_map_get(r, k));
        }
        table_add_owned(&t, row);
        free(row);
    }
    printf("\n%s (%u)\n", title, list->a.n);
    table_print(&t, stdout);
    table_free(&t);
}

#define CASE_LIST_COLS 7

/* The record lists show prints, each as a table with these columns (keys and headings). */
typedef struct {
    const char *title;
    const char *key;
    bool in_household; /* under "household" rather than the case itself */
    const char *keys[CASE_LIST_COLS];
    const char *hdr[CASE_LIST_COLS];
} case_list_t;

static const case_list_t case_lists[] = {
    {"members",
     "members",
     true,
     {"nid", "name", "birth_year", "sex"},
     {"NID", "NAME", "BORN", "SEX"}},
    {"needs",
     "needs",
     false,
     {"dimension", "indicator", "status", "note"},
     {"DIMENSION", "INDICATOR", "STATUS", "NOTE"}},
    {"visits",
     "visits",
     false,
     {"at", "team", "findings", "note"},
     {"AT", "TEAM", "FINDINGS", "NOTE"}},
    {"assistance",
     "assistance",
     false,
     {"at", "agency", "dimension", "kind", "amount_thb", "meets", "note"},
     {"AT", "AGENCY", "DIMENSION", "KIND", "THB", "MEETS", "NOTE"}},
    {"follow-ups",
     "follow_ups",
     false,
     {"at", "level", "met", "note"},
     {"AT", "LEVEL", "MET", "NOTE"}},
    {"notes", "notes", false, {"at", "note"}, {"AT", "NOTE"}},
    {"escalations",
     "escalations",
     false,
     {"step", "level", "at", "acked_at", "acked_by"},
     {"STEP", "LEVEL", "AT", "ACKED", "BY"}},
    {"timers", "timers", false, {"due", "step", "level"}, {"DUE", "STEP", "LEVEL"}},
};

static void show_case(const lb_val_t *cs, const void *ctx)
{
    (void)ctx;
    char *s;
    kv_line("case", lb_map_str(cs, "case_id"));
    kv_line("house", lb_map_str(cs, "house_id"));
    s = area_text(cs);
    kv_line("area", s);
    free(s);
    int64_t wv = 0;
    char buf[160];
    if (lb_map_str(cs, "workflow")) {
        if (lb_map_int(cs, "workflow_version", &wv) == 0)
            snprintf(buf, sizeof buf, "%s v%" PRId64, lb_map_str(cs, "workflow"), wv);
        else
            snprintf(buf, sizeof buf, "%s", lb_map_str(cs, "workflow"));
        kv_line("workflow", buf);
    }
    s = time_text(cs, "entered_at");
    snprintf(buf, sizeof buf, "%s%s%s", map_str_or(cs, "state", "?"), s && *s ? " since " : "",
             s ? s : "");
    kv_line("state", buf);
    free(s);
    s = time_text(cs, "opened_at");
    kv_line("opened", s);
    free(s);
    kv_line("source", lb_map_str(cs, "source"));
    kv_line("team", lb_map_str(cs, "team"));
    kv_line("level", lb_map_str(cs, "level"));
    const lb_val_t *hh = lb_map_get(cs, "household");
    kv_line("head", lb_map_str(hh, "head"));
    kv_line("address", lb_map_str(hh, "address"));
    s = val_text(lb_map_get(hh, "deprived"));
    kv_line("deprived", s);
    free(s);
    int64_t last = 0;
    if (lb_map_int(cs, "last_seq", &last) == 0) {
        snprintf(buf, sizeof buf, "%" PRId64, last);
        kv_line("last seq", buf);
    }

    for (size_t i = 0; i < sizeof case_lists / sizeof case_lists[0]; i++) {
        const case_list_t *l = &case_lists[i];
        const lb_val_t *list = lb_map_get(l->in_household ? hh : cs, l->key);
        size_t ncols = 0;
        while (ncols < CASE_LIST_COLS && l->keys[ncols])
            ncols++;
        print_records(l->title, list, l->keys, l->hdr, ncols);
    }
}

int cmd_show(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 1, 1)
    lb_val_t *args = case_args(a.pos[0]);
    rc = args ? request_print(app, "case.get", args, show_case, NULL) : EX_UNREACHABLE;
    lb_val_free(&args);
    return rc;
}

/* ---- history ---- */

/* Prints {key: list} (and next: cursor when not NULL) as JSON, taking list over. */
static void print_json_list(const char *key, lb_val_t *list, const char *next)
{
    lb_val_t *res = lb_map();
    int e = res ? 0 : LB_ENOMEM;
    lb_put(res, key, list, &e);
    put_opt_str(res, "next", next, &e);
    if (!e)
        print_json(res);
    lb_val_free(&res);
}

/*
 * Appends the case's events after seq after to all. Pages until a short
 * page: a long-lived case may have more events than one reply holds.
 */
static int history_fetch(app_t *app, const char *case_id, int64_t after, lb_val_t *all)
{
    lb_val_t *args = NULL, *reply = NULL;
    int rc = EX_OK;
    for (;;) {
        args = case_args(case_id);
        int e = args ? 0 : LB_ENOMEM;
        if (after > 0)
            lb_put_int(args, "after_seq", after, &e);
        lb_put_int(args, "limit", HISTORY_PAGE, &e);
        rc = e ? EX_UNREACHABLE : request(app, "case.history", args, &reply);
        if (rc)
            break;
        const lb_val_t *evs = lb_map_get(lbc_reply_result(reply), "events");
        uint32_t n = evs && evs->type == LB_ARR ? evs->a.n : 0;
        int64_t last = after;
        for (uint32_t i = 0; !rc && i < n; i++) {
            int64_t s;
            if (lb_map_int(evs->a.items[i], "seq", &s) == 0 && s > last)
                last = s;
            if (lb_arr_push(all, lb_val_dup(evs->a.items[i])))
                rc = EX_UNREACHABLE;
        }
        lb_val_free(&args);
        lb_val_free(&reply);
        if (rc || n < HISTORY_PAGE || last <= after)
            break;
        after = last;
    }
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

static void history_print_table(const lb_val_t *all)
{
    static const char *const hdr[] = {"SEQ",    "AT",    "KIND",  "TYPE",
                                      "ACTION", "STATE", "ACTOR", "DATA"};
    table_t t;
    table_init(&t, 8, hdr);
    for (uint32_t i = 0; i < all->a.n; i++) {
        const lb_val_t *ev = all->a.items[i];
        char *row[8];
        const char *from = lb_map_str(ev, "from"), *to = lb_map_str(ev, "to");
        const char *step_level = lb_map_str(ev, "level");
        row[0] = val_text(lb_map_get(ev, "seq"));
        row[1] = time_text(ev, "at");
        row[2] = val_text(lb_map_get(ev, "kind"));
        row[3] = val_text(lb_map_get(ev, "type"));
        row[4] = val_text(lb_map_get(ev, "action"));
        if (from && to && strcmp(from, to) != 0) {
            if (asprintf(&row[5], "%s -> %s", from, to) < 0)
                row[5] = NULL;
        } else {
            row[5] = strdup(to ? to : (step_level ? step_level : ""));
        }
        row[6] = val_text(lb_map_get(ev, "actor"));
        const lb_val_t *d = lb_map_get(ev, "data");
        row[7] = d ? val_text(d) : strdup("");
        table_add_owned(&t, row);
    }
    table_print(&t, stdout);
    table_free(&t);
}

int cmd_history(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"after=", NULL};
    PROLOGUE(spec, 1, 1)
    int64_t after = 0;
    if (opt(&a, "after") && !parse_count(opt(&a, "after"), 0, INT64_MAX, &after)) {
        usage_error(argv[0], "--after must be a seq number");
        return EX_USAGE;
    }
    lb_val_t *all = lb_arr();
    if (!all)
        return EX_UNREACHABLE;
    rc = history_fetch(app, a.pos[0], after, all);
    if (rc == EX_OK && app->json) {
        print_json_list("events", all, NULL);
        all = NULL;
    } else if (rc == EX_OK) {
        history_print_table(all);
    }
    lb_val_free(&all);
    return rc;
}

/* ---- find ---- */

static void found_text(const lb_val_t *res, const void *ctx)
{
    const lb_val_t *cases = lb_map_get(res, "cases");
    (void)ctx;
    if (!cases || cases->type != LB_ARR || cases->a.n == 0) {
        fprintf(stderr, "no cases\n");
        return;
    }
    for (uint32_t i = 0; i < cases->a.n; i++) {
        char *s = val_text(cases->a.items[i]);
        printf("%s\n", s ? s : "");
        free(s);
    }
}

int cmd_find(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"house=", "nid=", NULL};
    PROLOGUE(spec, 0, 0)
    const char *house = opt(&a, "house"), *nid = opt(&a, "nid");
    if (!house == !nid) {
        usage_error(argv[0], "give exactly one of --house HOUSE_ID and --nid NATIONAL_ID");
        return EX_USAGE;
    }
    rc = house ? check_digits(argv[0], "a house id", house, 11, "65010000001")
               : check_nid(argv[0], nid);
    if (rc)
        return rc;
    lb_val_t *args = lb_map();
    int e = args ? 0 : LB_ENOMEM;
    lb_put_str(args, house ? "house_id" : "nid", house ? house : nid, &e);
    rc = e ? EX_UNREACHABLE : request_print(app, "case.find", args, found_text, NULL);
    lb_val_free(&args);
    return rc;
}

/* ---- list ---- */

/* case.list arguments for one page of at most want summaries after cursor; NULL on ENOMEM. */
static lb_val_t *list_page_args(const args_t *a, int64_t want, const char *cursor)
{
    lb_val_t *args = lb_map();
    int e = args ? 0 : LB_ENOMEM;
    put_opt_str(args, "area", opt(a, "area"), &e);
    put_opt_str(args, "state", opt(a, "state"), &e);
    put_opt_str(args, "team", opt(a, "team"), &e);
    put_opt_str(args, "workflow", opt(a, "workflow"), &e);
    if (flag(a, "overdue"))
        lb_put_bool(args, "overdue", true, &e);
    if (flag(a, "unacked"))
        lb_put_bool(args, "unacked", true, &e);
    lb_put_int(args, "limit", want > LIST_PAGE_MAX ? LIST_PAGE_MAX : want, &e);
    put_opt_str(args, "after", cursor, &e);
    if (e)
        lb_val_free(&args);
    return args;
}

/*
 * Appends up to limit summaries to all, page by page, following the
 * daemon's cursor. *cursor: where the next page would start when more cases
 * remain, else NULL (caller frees either way). Returns an exit code.
 */
static int list_fetch(app_t *app, const args_t *a, int64_t limit, lb_val_t *all, char **cursor)
{
    lb_val_t *args = NULL, *reply = NULL;
    int rc = EX_OK;
    *cursor = NULL;
    while ((int64_t)all->a.n < limit) {
        args = list_page_args(a, limit - (int64_t)all->a.n, *cursor);
        if (!args) {
            rc = EX_UNREACHABLE;
            break;
        }
        rc = request(app, "case.list", args, &reply);
        if (rc)
            break;
        const lb_val_t *res = lbc_reply_result(reply);
        const lb_val_t *cases = lb_map_get(res, "cases");
        for (uint32_t i = 0; !rc && cases && cases->type == LB_ARR && i < cases->a.n; i++)
            if ((int64_t)all->a.n < limit && lb_arr_push(all, lb_val_dup(cases->a.items[i])))
                rc = EX_UNREACHABLE;
        if (rc)
            break;
        free(*cursor);
        *cursor = lb_map_str(res, "next") ? strdup(lb_map_str(res, "next")) : NULL;
        bool empty = !cases || cases->type != LB_ARR || cases->a.n == 0;
        lb_val_free(&args);
        lb_val_free(&reply);
        if (!*cursor || empty)
            break;
    }
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

static void list_print_table(const lb_val_t *all)
{
    static const char *const hdr[] = {"CASE",  "HOUSE", "AREA",    "WORKFLOW",   "STATE",
                                      "SINCE", "TEAM",  "OVERDUE", "ESCALATION", "ACKED"};
    table_t t;
    table_init(&t, 10, hdr);
    for (uint32_t i = 0; i < all->a.n; i++) {
        const lb_val_t *s = all->a.items[i];
        const lb_val_t *od = lb_map_get(s, "overdue");
        const lb_val_t *un = lb_map_get(s, "unacked");
        bool unacked = un && un->type == LB_BOOL && un->b;
        /* "no": the latest escalation waits for a committee; "yes": the one shown was acked */
        const char *acked = unacked ? "no" : lb_map_str(s, "escalation") ? "yes" : "";
        char *row[10] = {
            val_text(lb_map_get(s, "case_id")),
            val_text(lb_map_get(s, "house_id")),
            area_text(s),
            val_text(lb_map_get(s, "workflow")),
            val_text(lb_map_get(s, "state")),
            time_text(s, "entered_at"),
            val_text(lb_map_get(s, "team")),
            strdup(od && od->type == LB_BOOL && od->b ? "overdue" : ""),
            val_text(lb_map_get(s, "escalation")),
            strdup(acked),
        };
        table_add_owned(&t, row);
    }
    table_print(&t, stdout);
    table_free(&t);
}

int cmd_list(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {
        "area=", "state=", "team=", "workflow=", "overdue", "unacked", "limit=", NULL};
    PROLOGUE(spec, 0, 0)
    int64_t limit = 100;
    if (opt(&a, "limit") && !parse_count(opt(&a, "limit"), 1, INT64_MAX, &limit)) {
        usage_error(argv[0], "--limit must be a positive number");
        return EX_USAGE;
    }
    lb_val_t *all = lb_arr();
    char *cursor = NULL;
    if (!all)
        return EX_UNREACHABLE;
    rc = list_fetch(app, &a, limit, all, &cursor);
    if (rc)
        goto done;
    if (app->json) {
        print_json_list("cases", all, cursor);
        all = NULL;
    } else if (all->a.n == 0) {
        fprintf(stderr, "no cases\n");
    } else {
        list_print_table(all);
        if (cursor)
            fprintf(stderr, "(more cases: raise --limit)\n");
    }
done:
    free(cursor);
    lb_val_free(&all);
    return rc;
}
