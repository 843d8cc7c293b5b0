/*
 * members.c - household membership and duplicate households (PROTOCOL.md 9.18):
 * logbook member (a member record through the workflow's update_members action),
 * logbook duplicates (case.duplicates) and logbook merge (case.merge).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbook.h"

/* Prints the case ids a reply flags as probable duplicates, on stderr: a warning, not a failure. */
static void warn_duplicates(const lb_val_t *res)
{
    const lb_val_t *d = lb_map_get(res, "duplicates");
    if (!d || d->type != LB_ARR || d->a.n == 0)
        return;
    char *s = val_text(d);
    fprintf(stderr, "note: this national id is also a member of open case(s) %s\n", s ? s : "");
    free(s);
}

static void member_text(const lb_val_t *res, const void *ctx)
{
    int64_t seq = 0;
    lb_map_int(res, "seq", &seq);
    printf("%s: %s recorded (seq %lld)\n", lb_map_str(res, "case_id") ?: "?", (const char *)ctx,
           (long long)seq);
    warn_duplicates(res);
}

int cmd_member(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {
        "name=", "birth-year=", "sex=", "new-head=", "action=", "at=", NULL};
    PROLOGUE(spec, 3, 3)
    if ((rc = check_positionals(argv[0], find_command(argv[0])->usage, &a)))
        return rc;
    const char *change = a.pos[1], *nid = a.pos[2], *sex = opt(&a, "sex");
    const char *new_head = opt(&a, "new-head"), *by = opt(&a, "birth-year");
    if (strcmp(change, "join") != 0 && strcmp(change, "leave") != 0 &&
        strcmp(change, "head") != 0 && strcmp(change, "deceased") != 0) {
        usage_error(argv[0], "the change is join, leave, head or deceased, not '%s'", change);
        return EX_USAGE;
    }
    if ((rc = check_nid(argv[0], nid)) || (new_head && (rc = check_nid(argv[0], new_head))))
        return rc;
    int64_t year = 0;
    if (by && !parse_count(by, 1850, 2200, &year)) {
        usage_error(argv[0], "--birth-year is a year from 1850 to 2200, not '%s'", by);
        return EX_USAGE;
    }
    if (sex && strcmp(sex, "m") != 0 && strcmp(sex, "f") != 0) {
        usage_error(argv[0], "--sex is m or f");
        return EX_USAGE;
    }
    lb_val_t *data = lb_map(), *args = case_args(a.pos[0]);
    int e = data && args ? 0 : LB_ENOMEM;
    lb_put_str(data, "change", change, &e);
    lb_put_str(data, "nid", nid, &e);
    put_opt_str(data, "name", opt(&a, "name"), &e);
    if (by)
        lb_put_int(data, "birth_year", year, &e);
    put_opt_str(data, "sex", sex, &e);
    put_opt_str(data, "new_head", new_head, &e);
    const char *action = opt(&a, "action");
    lb_put_str(args, "action", action ? action : "update_members", &e);
    lb_put(args, "data", data, &e);
    data = NULL;
    rc = e ? EX_UNREACHABLE : set_at(args, &a, argv[0]);
    if (rc == EX_OK)
        rc = request_print(app, "case.act", args, member_text, change);
    lb_val_free(&args);
    return rc;
}

static void pairs_text(const lb_val_t *res, const void *ctx)
{
    const lb_val_t *pairs = lb_map_get(res, "pairs");
    (void)ctx;
    if (!pairs || pairs->type != LB_ARR || pairs->a.n == 0) {
        fprintf(stderr, "no duplicates\n");
        return;
    }
    for (uint32_t i = 0; i < pairs->a.n; i++)
        printf("%s %s\n", lb_map_str(pairs->a.items[i], "a") ?: "?",
               lb_map_str(pairs->a.items[i], "b") ?: "?");
    const lb_val_t *t = lb_map_get(res, "truncated");
    if (t && t->type == LB_BOOL && t->b)
        fprintf(stderr, "more pairs than one answer holds: narrow with --area\n");
}

int cmd_duplicates(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"area=", NULL};
    PROLOGUE(spec, 0, 0)
    lb_val_t *args = lb_map();
    int e = args ? 0 : LB_ENOMEM;
    put_opt_str(args, "area", opt(&a, "area"), &e);
    rc = e ? EX_UNREACHABLE : request_print(app, "case.duplicates", args, pairs_text, NULL);
    lb_val_free(&args);
    return rc;
}

static void merged_text(const lb_val_t *res, const void *ctx)
{
    int64_t n = 0;
    (void)ctx;
    lb_map_int(res, "records", &n);
    printf("%s merged into %s (%lld records moved); %s is closed as a duplicate\n",
           lb_map_str(res, "dropped") ?: "?", lb_map_str(res, "case_id") ?: "?", (long long)n,
           lb_map_str(res, "dropped") ?: "?");
}

int cmd_merge(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 2, 2)
    for (int i = 0; i < 2; i++) {
        uint64_t id;
        /* Case ids are written in capitals; a lower-case c is a common slip. */
        if (a.pos[i][0] == 'c')
            ((char *)a.pos[i])[0] = 'C';
        if (lb_case_id_parse(a.pos[i], &id)) {
            usage_error(argv[0], "'%s' is not a case id (C and at least 9 digits)", a.pos[i]);
            return EX_USAGE;
        }
    }
    lb_val_t *args = lb_map();
    int e = args ? 0 : LB_ENOMEM;
    lb_put_str(args, "keep", a.pos[0], &e);
    lb_put_str(args, "drop", a.pos[1], &e);
    rc = e ? EX_UNREACHABLE : request_print(app, "case.merge", args, merged_text, NULL);
    lb_val_free(&args);
    return rc;
}
