/*
 * ledger.c - logbook ledger and logbook agenda (PROTOCOL.md 9.19): the
 * agency ledger (pledged against delivered) and a committee's agenda, as
 * tables for people or JSON with --json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbook.h"

static char *int_text(const lb_val_t *m, const char *key)
{
    int64_t v = 0;
    char buf[32];
    lb_map_int(m, key, &v);
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return strdup(buf);
}

static char *thb_text(const lb_val_t *m, const char *key)
{
    const lb_val_t *v = lb_map_get(m, key);
    double d = v && v->type == LB_FLOAT ? v->f : v && v->type == LB_INT ? (double)v->i : 0;
    char buf[48];
    snprintf(buf, sizeof buf, "%.2f", d);
    return strdup(buf);
}

static void ledger_add(table_t *t, const lb_val_t *row, const char *key)
{
    char *cells[7] = {strdup(key),
                      int_text(row, "pledged"),
                      thb_text(row, "pledged_thb"),
                      int_text(row, "delivered"),
                      thb_text(row, "delivered_thb"),
                      int_text(row, "open"),
                      thb_text(row, "open_thb")};
    table_add_owned(t, cells);
}

static void ledger_text(const lb_val_t *res, const void *ctx)
{
    (void)ctx;
    const lb_val_t *rows = lb_map_get(res, "rows");
    if (!rows || rows->type != LB_ARR || rows->a.n == 0) {
        fprintf(stderr, "no pledges or deliveries\n");
        return;
    }
    static const char *const hdr[7] = {"KEY", "PLEDGED", "THB", "DELIVERED", "THB", "OPEN", "THB"};
    table_t t;
    table_init(&t, 7, hdr);
    for (uint32_t i = 0; i < rows->a.n; i++)
        ledger_add(&t, rows->a.items[i], map_str_or(rows->a.items[i], "key", "?"));
    ledger_add(&t, lb_map_get(res, "totals"), "(total)");
    table_print(&t, stdout);
    table_free(&t);
}

int cmd_ledger(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"area=", "by=", NULL};
    PROLOGUE(spec, 0, 0)
    const char *by = opt(&a, "by") ? opt(&a, "by") : "agency";
    if (strcmp(by, "agency") != 0 && strcmp(by, "dimension") != 0) {
        usage_error(argv[0], "--by must be agency or dimension");
        return EX_USAGE;
    }
    lb_val_t *args = lb_map();
    put_opt_str(args, "area", opt(&a, "area"), &rc);
    lb_put_str(args, "by", by, &rc);
    if (rc == 0)
        rc = request_print(app, "report.ledger", args, ledger_text, NULL);
    else
        rc = EX_UNREACHABLE;
    lb_val_free(&args);
    return rc;
}

/* What an agenda item is about, in a few words. */
static char *item_text(const lb_val_t *it)
{
    const char *kind = map_str_or(it, "kind", "");
    char buf[512];
    int64_t rid = 0;
    lb_map_int(it, "record_id", &rid);
    if (strcmp(kind, "escalation") == 0)
        snprintf(buf, sizeof buf, "%s escalation%s%s", map_str_or(it, "level", "?"),
                 lb_map_str(it, "timer") ? " of a " : "", map_str_or(it, "timer", ""));
    else if (strcmp(kind, "pledge") == 0)
        snprintf(buf, sizeof buf, "pledge %lld of %s not delivered", (long long)rid,
                 map_str_or(it, "agency", "?"));
    else
        snprintf(buf, sizeof buf, "waiting for the committee");
    return strdup(buf);
}

static void agenda_text(const lb_val_t *res, const void *ctx)
{
    (void)ctx;
    const lb_val_t *items = lb_map_get(res, "items");
    if (!items || items->type != LB_ARR || items->a.n == 0) {
        fprintf(stderr, "nothing on the agenda\n");
        return;
    }
    static const char *const hdr[5] = {"CASE", "AREA", "STATE", "KIND", "WHAT"};
    table_t t;
    table_init(&t, 5, hdr);
    for (uint32_t i = 0; i < items->a.n; i++) {
        const lb_val_t *it = items->a.items[i];
        char *cells[5] = {strdup(map_str_or(it, "case_id", "")), strdup(map_str_or(it, "area", "")),
                          strdup(map_str_or(it, "state", "")), strdup(map_str_or(it, "kind", "")),
                          item_text(it)};
        table_add_owned(&t, cells);
    }
    table_print(&t, stdout);
    table_free(&t);
    const lb_val_t *tr = lb_map_get(res, "truncated");
    if (tr && tr->type == LB_BOOL && tr->b)
        fprintf(stderr, "(more items: raise --limit or narrow --area)\n");
}

int cmd_agenda(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"area=", "level=", "limit=", NULL};
    PROLOGUE(spec, 0, 0)
    if (!opt(&a, "level")) {
        usage_error(argv[0], "--level is required (team, subdistrict, district or province)");
        return EX_USAGE;
    }
    int64_t limit = 0;
    if (opt(&a, "limit") && !parse_count(opt(&a, "limit"), 1, PROTO_LIST_MAX, &limit)) {
        usage_error(argv[0], "--limit must be a number from 1 to %d", PROTO_LIST_MAX);
        return EX_USAGE;
    }
    lb_val_t *args = lb_map();
    put_opt_str(args, "area", opt(&a, "area"), &rc);
    lb_put_str(args, "level", opt(&a, "level"), &rc);
    if (limit)
        lb_put_int(args, "limit", limit, &rc);
    if (rc == 0)
        rc = request_print(app, "report.agenda", args, agenda_text, NULL);
    else
        rc = EX_UNREACHABLE;
    lb_val_free(&args);
    return rc;
}
