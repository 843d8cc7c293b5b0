/*
 * casework.c - logbook commands that move cases between areas and teams
 * (PROTOCOL.md 9.17): transfer (case.transfer), reassign (case.reassign) and
 * admin remap (admin.remap, called slice after slice until it is done).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbook.h"

/* ---- transfer ---- */

static void transferred_text(const lb_val_t *res, const void *ctx)
{
    (void)ctx;
    const lb_val_t *vis = lb_map_get(res, "visible");
    printf("%s: moved from area %s to %s (state %s, team cleared)\n",
           map_str_or(res, "case_id", "?"), map_str_or(res, "from_area", "?"),
           map_str_or(res, "area", "?"), map_str_or(res, "state", "?"));
    if (vis && vis->type == LB_BOOL && !vis->b)
        printf("the new area is outside your areas: you no longer see this case\n");
}

int cmd_transfer(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"reason=", NULL};
    PROLOGUE(spec, 2, 2)
    if (!opt(&a, "reason") || !opt(&a, "reason")[0]) {
        usage_error(argv[0], "--reason is required (why the household moved)");
        return EX_USAGE;
    }
    lb_val_t *args = case_args(a.pos[0]);
    int e = args ? 0 : LB_ENOMEM;
    lb_put_str(args, "to_area", a.pos[1], &e);
    lb_put_str(args, "reason", opt(&a, "reason"), &e);
    rc = e ? EX_UNREACHABLE : request_print(app, "case.transfer", args, transferred_text, NULL);
    lb_val_free(&args);
    return rc;
}

/* ---- reassign ---- */

static void reassigned_text(const lb_val_t *res, const void *ctx)
{
    int64_t matched = 0, moved = 0, same = 0;
    lb_map_int(res, "matched", &matched);
    lb_map_int(res, "reassigned", &moved);
    lb_map_int(res, "unchanged", &same);
    printf("%" PRId64 " cases matched: %" PRId64 " reassigned to %s, %" PRId64 " already there\n",
           matched, moved, (const char *)ctx, same);
    const lb_val_t *errs = lb_map_get(res, "errors");
    for (uint32_t i = 0; errs && errs->type == LB_ARR && i < errs->a.n; i++)
        printf("  %s: %s\n", map_str_or(errs->a.items[i], "case_id", "?"),
               map_str_or(errs->a.items[i], "message", "?"));
}

int cmd_reassign(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"area=", "team=", "state=", "to=", "expect=", NULL};
    PROLOGUE(spec, 0, 0)
    const char *to = opt(&a, "to");
    int64_t expect = -1;
    if (!to || !to[0]) {
        usage_error(argv[0], "--to TEAM is required");
        return EX_USAGE;
    }
    if (!opt(&a, "area") && !opt(&a, "team") && !opt(&a, "state")) {
        usage_error(argv[0], "give at least one of --area, --team, --state");
        return EX_USAGE;
    }
    if (opt(&a, "expect") && !parse_count(opt(&a, "expect"), 0, 10000, &expect)) {
        usage_error(argv[0], "--expect must be a count from 0 to 10000");
        return EX_USAGE;
    }
    lb_val_t *args = lb_map(), *filter = lb_map();
    int e = args && filter ? 0 : LB_ENOMEM;
    put_opt_str(filter, "area", opt(&a, "area"), &e);
    put_opt_str(filter, "team", opt(&a, "team"), &e);
    put_opt_str(filter, "state", opt(&a, "state"), &e);
    lb_put(args, "filter", filter, &e);
    lb_put_str(args, "to_team", to, &e);
    if (expect >= 0)
        lb_put_int(args, "expect_count", expect, &e);
    rc = e ? EX_UNREACHABLE : request_print(app, "case.reassign", args, reassigned_text, to);
    lb_val_free(&args);
    return rc;
}

/* ---- admin remap ---- */

/* {OLD: NEW} from the words OLD=NEW; NULL after printing why. */
static lb_val_t *remap_map(const char *cmd, const args_t *a)
{
    lb_val_t *map = lb_map();
    for (int i = 1; map && i < a->npos; i++) {
        const char *eq = strchr(a->pos[i], '=');
        char from[16];
        if (!eq || eq == a->pos[i] || (size_t)(eq - a->pos[i]) >= sizeof from) {
            usage_error(cmd, "remap: '%s' is not OLD=NEW (like 6501=6599)", a->pos[i]);
            lb_val_free(&map);
            return NULL;
        }
        snprintf(from, sizeof from, "%.*s", (int)(eq - a->pos[i]), a->pos[i]);
        if (lb_map_get(map, from)) {
            usage_error(cmd, "remap: %s is given twice", from);
            lb_val_free(&map);
            return NULL;
        }
        if (lb_map_set_str(map, from, eq + 1))
            lb_val_free(&map); /* out of memory */
    }
    return map;
}

int admin_remap(app_t *app, const char *cmd, const args_t *a)
{
    lb_val_t *map = remap_map(cmd, a);
    if (!map)
        return EX_USAGE;
    lb_val_t *args = lb_map();
    int e = args ? 0 : LB_ENOMEM;
    lb_put(args, "map", map, &e);
    int rc = e ? EX_UNREACHABLE : EX_OK;
    int64_t total = 0;
    bool finished = false;
    /* One slice a call: each commits on its own, so an interrupted remap resumes by running
     * the same command again. */
    while (rc == EX_OK && !finished) {
        lb_val_t *reply = NULL;
        rc = request(app, "admin.remap", args, &reply);
        if (rc == EX_OK) {
            const lb_val_t *res = lbc_reply_result(reply);
            int64_t moved = 0, left = 0;
            const lb_val_t *done = lb_map_get(res, "done");
            lb_map_int(res, "moved", &moved);
            lb_map_int(res, "remaining", &left);
            finished = !done || done->type != LB_BOOL || done->b;
            total += moved;
            if (app->json)
                print_json(res);
            else
                printf("moved %" PRId64 " cases, %" PRId64 " remaining\n", moved, left);
        }
        lb_val_free(&reply);
    }
    if (rc == EX_OK && !app->json)
        printf("remap done: %" PRId64 " cases moved\n", total);
    lb_val_free(&args);
    return rc;
}
