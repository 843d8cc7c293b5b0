/*
 * proto.c - wire v1 requests, replies and events (PROTOCOL.md sections 2, 3
 * and 7): the envelope, one argument schema table per operation, reply
 * encoding and the BLAKE2b-256 audit chain over event bodies. The byte-level
 * msgpack work is in pack.c.
 */
#include "proto_priv.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

static int arg_fail(proto_err_t *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills err (field = the dotted argument path) and returns code. */
static int arg_fail(proto_err_t *err, int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    proto_err_fix(err);
    return code;
}

/* Appends s to out[*n] (capacity cap, room kept for the NUL), cut to fit. */
static void path_put(char *out, size_t cap, size_t *n, const char *s)
{
    size_t l = strnlen(s, cap - 1 - *n);
    memcpy(out + *n, s, l);
    *n += l;
}

/*
 * base + "." + seg into out (sizeof proto_err_t.field), truncated on overflow.
 * By hand rather than snprintf: every field of every request item is joined.
 */
static void path_join(char *out, size_t cap, const char *base, const char *seg)
{
    size_t n = 0;
    if (base[0]) {
        path_put(out, cap, &n, base);
        path_put(out, cap, &n, ".");
    }
    path_put(out, cap, &n, seg);
    out[n] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Argument schemas                                                        */
/* ---------------------------------------------------------------------- */

typedef enum { A_STR = 1, A_INT, A_BOOL, A_MAP, A_ARR } arg_type_t;

typedef struct arg_spec arg_spec_t;

/* A format rule beyond type and length: NULL when v passes, else why not. */
typedef const char *(*arg_check_fn)(const lb_val_t *v);

struct arg_spec {
    const char *key;
    arg_type_t type;
    bool required;
    int64_t min, max;         /* A_STR: bytes; A_INT: value; A_ARR: items (over max: too_large) */
    bool over_is_too_large;   /* A_INT: above max is a limit (too_large), not a bad value */
    arg_check_fn check;       /* extra rule, or NULL */
    const arg_spec_t *fields; /* A_MAP: the keys it may hold (NULL: any map) */
    const arg_spec_t *item;   /* A_ARR: rule for each item (NULL: checked elsewhere) */
};

/* Seconds in ten 365-day years: the furthest admin.clock may jump at once. */
#define PROTO_CLOCK_ADVANCE_MAX (10LL * 365 * 86400)
/* Times are unix milliseconds that a double can still carry exactly (JavaScript clients). */
#define PROTO_TIME_MAX (1LL << 53)
/* Nesting of case.act's data: a map of scalars is depth 1. */
#define PROTO_DATA_DEPTH_MAX 6

static const char *chk_house_id(const lb_val_t *v)
{
    return lb_valid_house_id(v->s.p) ? NULL : "must be an 11-digit house id";
}

static const char *chk_area8(const lb_val_t *v)
{
    return lb_valid_area(v->s.p, true) ? NULL : "must be an 8-digit village code";
}

static const char *chk_area_prefix(const lb_val_t *v)
{
    return lb_valid_area(v->s.p, false) ? NULL : "must be an area code of 2, 4, 6 or 8 digits";
}

static const char *chk_nid(const lb_val_t *v)
{
    return lb_valid_nid(v->s.p) ? NULL
                                : "must be a 13-digit national id (first digit 1-8) with a "
                                  "valid check digit";
}

static const char *chk_case_id(const lb_val_t *v)
{
    return lb_case_id_parse(v->s.p, NULL) == 0 ? NULL
                                               : "must be a case id (C and 9 or more digits)";
}

static const char *chk_workflow_name(const lb_val_t *v)
{
    for (const char *p = v->s.p; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return "must be a workflow name of a-z, 0-9 and -";
    return NULL;
}

static bool str_in(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

static const char *chk_source(const lb_val_t *v)
{
    static const char *const set[] = {"tpmap", "socialmap", "field", NULL};
    return str_in(v->s.p, set) ? NULL : "must be one of tpmap, socialmap, field";
}

static const char *chk_sex(const lb_val_t *v)
{
    static const char *const set[] = {"m", "f", NULL};
    return str_in(v->s.p, set) ? NULL : "must be m or f";
}

static const char *chk_report_by(const lb_val_t *v)
{
    static const char *const set[] = {"province", "district",  "subdistrict", "village",
                                      "state",    "dimension", "level",       NULL};
    return str_in(v->s.p, set)
               ? NULL
               : "must be one of province, district, subdistrict, village, state, dimension, level";
}

/* Nesting depth of v: scalars 0, a container one more than its deepest child. */
static uint32_t val_depth(const lb_val_t *v)
{
    uint32_t d = 0, c;
    if (v->type == LB_ARR) {
        for (uint32_t i = 0; i < v->a.n; i++)
            if ((c = val_depth(v->a.items[i])) > d)
                d = c;
        return d + 1;
    }
    if (v->type == LB_MAP) {
        for (uint32_t i = 0; i < v->m.n; i++)
            if ((c = val_depth(v->m.vals[i])) > d)
                d = c;
        return d + 1;
    }
    return 0;
}

static const char *chk_data_depth(const lb_val_t *v)
{
    return val_depth(v) <= PROTO_DATA_DEPTH_MAX ? NULL : "nested more than 6 levels deep";
}

/* One person is one member: the same national id twice in a household is a data error. */
static const char *chk_members_unique(const lb_val_t *v)
{
    for (uint32_t i = 0; i < v->a.n; i++) {
        const char *a = lb_map_str(v->a.items[i], "nid");
        for (uint32_t j = 0; a && j < i; j++) {
            const char *b = lb_map_str(v->a.items[j], "nid");
            if (b && strcmp(a, b) == 0)
                return "lists the same national id twice";
        }
    }
    return NULL;
}

/* case.find: a rule across keys. */
static int find_one_of(const lb_val_t *args, proto_err_t *err)
{
    bool h = lb_map_get(args, "house_id") != NULL, n = lb_map_get(args, "nid") != NULL;
    if (h && n)
        return arg_fail(err, LB_EBADREQ, "nid", "give house_id or nid, not both");
    if (!h && !n)
        return arg_fail(err, LB_EBADREQ, "house_id", "house_id or nid is required");
    return 0;
}

/* Reusable rules. */
#define ARG_CASE_ID                                                                                \
    {                                                                                              \
        .key = "case_id", .type = A_STR, .required = true, .min = 10, .max = LB_CASE_ID_MAX - 1,   \
        .check = chk_case_id                                                                       \
    }
#define ARG_WORKFLOW(req)                                                                          \
    {                                                                                              \
        .key = "workflow", .type = A_STR, .required = (req), .min = 1, .max = 63,                  \
        .check = chk_workflow_name                                                                 \
    }
#define ARG_NAME(k, req)                                                                           \
    {                                                                                              \
        .key = (k), .type = A_STR, .required = (req), .min = 1, .max = 63                          \
    }
#define ARG_SOURCE                                                                                 \
    {                                                                                              \
        .key = "source", .type = A_STR, .min = 1, .max = 16, .check = chk_source                   \
    }
#define ARG_AREA_PREFIX                                                                            \
    {                                                                                              \
        .key = "area", .type = A_STR, .min = 2, .max = 8, .check = chk_area_prefix                 \
    }
#define ARG_LIMIT(mx)                                                                              \
    {                                                                                              \
        .key = "limit", .type = A_INT, .min = 1, .max = (mx), .over_is_too_large = true            \
    }
#define ARG_END                                                                                    \
    {                                                                                              \
        .key = NULL                                                                                \
    }

static const arg_spec_t member_fields[] = {
    {.key = "nid", .type = A_STR, .min = 13, .max = 13, .check = chk_nid},
    {.key = "name", .type = A_STR, .min = 0, .max = 256},
    {.key = "birth_year", .type = A_INT, .min = 1850, .max = 2200},
    {.key = "sex", .type = A_STR, .min = 1, .max = 1, .check = chk_sex},
    ARG_END,
};
static const arg_spec_t member_item = {.key = "", .type = A_MAP, .fields = member_fields};

static const arg_spec_t indicator_item = {.key = "", .type = A_STR, .min = 1, .max = 16};

static const arg_spec_t household_fields[] = {
    {.key = "house_id",
     .type = A_STR,
     .required = true,
     .min = 11,
     .max = 11,
     .check = chk_house_id},
    {.key = "area", .type = A_STR, .required = true, .min = 8, .max = 8, .check = chk_area8},
    {.key = "address", .type = A_STR, .min = 0, .max = 1024},
    {.key = "head", .type = A_STR, .min = 0, .max = 256},
    {.key = "members",
     .type = A_ARR,
     .min = 0,
     .max = 64,
     .item = &member_item,
     .check = chk_members_unique},
    {.key = "deprived", .type = A_ARR, .min = 0, .max = 64, .item = &indicator_item},
    ARG_END,
};
static const arg_spec_t household_spec = {.key = "", .type = A_MAP, .fields = household_fields};

static const arg_spec_t args_none[] = {ARG_END};

static const arg_spec_t args_workflow_get[] = {
    {.key = "name",
     .type = A_STR,
     .required = true,
     .min = 1,
     .max = 63,
     .check = chk_workflow_name},
    ARG_END,
};

static const arg_spec_t args_case_open[] = {
    {.key = "household", .type = A_MAP, .required = true, .fields = household_fields},
    ARG_WORKFLOW(false),
    ARG_SOURCE,
    ARG_NAME("team", false),
    ARG_END,
};

/* Items are checked one by one by the daemon (proto_check_household) so one bad item fails alone.
 */
static const arg_spec_t args_case_import[] = {
    {.key = "households", .type = A_ARR, .required = true, .min = 0, .max = PROTO_IMPORT_MAX},
    ARG_WORKFLOW(false),
    ARG_SOURCE,
    ARG_END,
};

static const arg_spec_t args_case_act[] = {
    ARG_CASE_ID,
    ARG_NAME("action", true),
    {.key = "data", .type = A_MAP, .check = chk_data_depth},
    ARG_NAME("expect_state", false),
    {.key = "at", .type = A_INT, .min = 0, .max = PROTO_TIME_MAX},
    ARG_END,
};

static const arg_spec_t args_case_ack[] = {
    ARG_CASE_ID,
    {.key = "note", .type = A_STR, .min = 0, .max = 4096},
    ARG_END,
};

static const arg_spec_t args_case_get[] = {ARG_CASE_ID, ARG_END};

static const arg_spec_t args_case_find[] = {
    {.key = "house_id", .type = A_STR, .min = 11, .max = 11, .check = chk_house_id},
    {.key = "nid", .type = A_STR, .min = 13, .max = 13, .check = chk_nid},
    ARG_END,
};

static const arg_spec_t args_case_history[] = {
    ARG_CASE_ID,
    {.key = "after_seq", .type = A_INT, .min = 0, .max = INT64_MAX},
    ARG_LIMIT(PROTO_HISTORY_MAX),
    ARG_END,
};

static const arg_spec_t args_case_list[] = {
    ARG_AREA_PREFIX,
    ARG_NAME("state", false),
    ARG_WORKFLOW(false),
    ARG_NAME("team", false),
    {.key = "overdue", .type = A_BOOL},
    {.key = "unacked", .type = A_BOOL},
    ARG_LIMIT(PROTO_LIST_MAX),
    {.key = "after", .type = A_STR, .min = 1, .max = 256},
    ARG_END,
};

static const arg_spec_t args_report_summary[] = {
    ARG_AREA_PREFIX,
    {.key = "by", .type = A_STR, .required = true, .min = 1, .max = 16, .check = chk_report_by},
    {.key = "months", .type = A_INT, .min = 1, .max = 36},
    ARG_END,
};

static const arg_spec_t args_events_since[] = {
    {.key = "seq", .type = A_INT, .required = true, .min = 0, .max = INT64_MAX},
    ARG_LIMIT(PROTO_EVENTS_MAX),
    ARG_END,
};

static const arg_spec_t args_admin_backup[] = {
    {.key = "path", .type = A_STR, .required = true, .min = 1, .max = 4096},
    ARG_END,
};

static const arg_spec_t args_admin_clock[] = {
    {.key = "advance_s", .type = A_INT, .required = true, .min = 0, .max = PROTO_CLOCK_ADVANCE_MAX},
    ARG_END,
};

/* ---- casework (PROTOCOL.md 9.17) ---- */

/* admin.remap's map: {old prefix: new prefix}, same length, no code on both sides. */
static const char *chk_remap(const lb_val_t *v)
{
    if (v->m.n == 0)
        return "needs at least one pair";
    if (v->m.n > PROTO_REMAP_PAIRS_MAX)
        return "has more than 1000 pairs";
    for (uint32_t i = 0; i < v->m.n; i++) {
        const char *k = v->m.keys[i];
        const lb_val_t *to = v->m.vals[i];
        if (!lb_valid_area(k, false))
            return "keys must be area codes of 2, 4, 6 or 8 digits";
        if (to->type != LB_STR || !lb_valid_area(to->s.p, false) || strlen(to->s.p) != strlen(k))
            return "values must be area codes as long as their keys";
        if (strcmp(k, to->s.p) == 0)
            return "maps a code to itself";
        /* A case moved by one pair must not match another: each moves once, in any order. */
        for (uint32_t j = 0; j < v->m.n; j++) {
            const char *o = v->m.keys[j];
            size_t n = strlen(o) < strlen(k) ? strlen(o) : strlen(k);
            if ((j != i && strncmp(o, k, n) == 0) || strncmp(o, to->s.p, n) == 0)
                return "has codes that overlap (one inside another, or a new code inside an old "
                       "one)";
        }
    }
    return NULL;
}

static const arg_spec_t args_case_transfer[] = {
    ARG_CASE_ID,
    {.key = "to_area", .type = A_STR, .required = true, .min = 8, .max = 8, .check = chk_area8},
    {.key = "reason", .type = A_STR, .required = true, .min = 1, .max = 1024},
    ARG_END,
};

static const arg_spec_t reassign_filter[] = {
    ARG_AREA_PREFIX,
    ARG_NAME("team", false),
    ARG_NAME("state", false),
    ARG_END,
};

static const arg_spec_t args_case_reassign[] = {
    {.key = "filter", .type = A_MAP, .required = true, .fields = reassign_filter},
    ARG_NAME("to_team", true),
    {.key = "expect_count", .type = A_INT, .min = 0, .max = PROTO_REASSIGN_MAX},
    ARG_END,
};

static const arg_spec_t args_admin_remap[] = {
    {.key = "map", .type = A_MAP, .required = true, .check = chk_remap},
    ARG_LIMIT(PROTO_REMAP_SLICE_MAX),
    ARG_END,
};

static const arg_spec_t args_case_duplicates[] = {ARG_AREA_PREFIX, ARG_END};

static const arg_spec_t args_case_merge[] = {
    {.key = "keep",
     .type = A_STR,
     .required = true,
     .min = 10,
     .max = LB_CASE_ID_MAX - 1,
     .check = chk_case_id},
    {.key = "drop",
     .type = A_STR,
     .required = true,
     .min = 10,
     .max = LB_CASE_ID_MAX - 1,
     .check = chk_case_id},
    ARG_END,
};

struct proto_schema {
    const arg_spec_t *args;
    int (*extra)(const lb_val_t *args, proto_err_t *err); /* rules across keys, or NULL */
};

const proto_schema_t proto_schema_ping = {args_none, NULL};
const proto_schema_t proto_schema_workflow_list = {args_none, NULL};
const proto_schema_t proto_schema_workflow_get = {args_workflow_get, NULL};
const proto_schema_t proto_schema_case_open = {args_case_open, NULL};
const proto_schema_t proto_schema_case_import = {args_case_import, NULL};
const proto_schema_t proto_schema_case_act = {args_case_act, NULL};
const proto_schema_t proto_schema_case_ack = {args_case_ack, NULL};
const proto_schema_t proto_schema_case_get = {args_case_get, NULL};
const proto_schema_t proto_schema_case_find = {args_case_find, find_one_of};
const proto_schema_t proto_schema_case_history = {args_case_history, NULL};
const proto_schema_t proto_schema_case_list = {args_case_list, NULL};
const proto_schema_t proto_schema_report_summary = {args_report_summary, NULL};
const proto_schema_t proto_schema_events_since = {args_events_since, NULL};
const proto_schema_t proto_schema_admin_stats = {args_none, NULL};
const proto_schema_t proto_schema_admin_backup = {args_admin_backup, NULL};
const proto_schema_t proto_schema_admin_reload = {args_none, NULL};
const proto_schema_t proto_schema_admin_verify = {args_none, NULL};
const proto_schema_t proto_schema_admin_clock = {args_admin_clock, NULL};
const proto_schema_t proto_schema_case_transfer = {args_case_transfer, NULL};
const proto_schema_t proto_schema_case_reassign = {args_case_reassign, NULL};
const proto_schema_t proto_schema_admin_remap = {args_admin_remap, NULL};
const proto_schema_t proto_schema_case_duplicates = {args_case_duplicates, NULL};
const proto_schema_t proto_schema_case_merge = {args_case_merge, NULL};

static const char *chk_ledger_by(const lb_val_t *v)
{
    static const char *const set[] = {"agency", "dimension", NULL};
    return str_in(v->s.p, set) ? NULL : "must be agency or dimension";
}

static const char *chk_esc_level(const lb_val_t *v)
{
    for (int i = 0; i < LB_NESC_LEVEL; i++)
        if (strcmp(v->s.p, lb_esc_levels[i]) == 0)
            return NULL;
    return "must be team, subdistrict, district or province";
}

static const arg_spec_t args_report_ledger[] = {
    ARG_AREA_PREFIX,
    {.key = "by", .type = A_STR, .required = true, .min = 1, .max = 16, .check = chk_ledger_by},
    ARG_END,
};

static const arg_spec_t args_report_agenda[] = {
    ARG_AREA_PREFIX,
    {.key = "level", .type = A_STR, .required = true, .min = 1, .max = 16, .check = chk_esc_level},
    ARG_LIMIT(PROTO_LIST_MAX),
    ARG_END,
};

const proto_schema_t proto_schema_report_ledger = {args_report_ledger, NULL};
const proto_schema_t proto_schema_report_agenda = {args_report_agenda, NULL};

typedef struct {
    const char *name;
    bool writes;
    const proto_schema_t *schema;
} op_def_t;

static const op_def_t op_defs[PROTO_OP_COUNT] = {
    [PROTO_OP_PING] = {"ping", false, &proto_schema_ping},
    [PROTO_OP_WORKFLOW_LIST] = {"workflow.list", false, &proto_schema_workflow_list},
    [PROTO_OP_WORKFLOW_GET] = {"workflow.get", false, &proto_schema_workflow_get},
    [PROTO_OP_CASE_OPEN] = {"case.open", true, &proto_schema_case_open},
    [PROTO_OP_CASE_IMPORT] = {"case.import", true, &proto_schema_case_import},
    [PROTO_OP_CASE_ACT] = {"case.act", true, &proto_schema_case_act},
    [PROTO_OP_CASE_ACK] = {"case.ack", true, &proto_schema_case_ack},
    [PROTO_OP_CASE_GET] = {"case.get", false, &proto_schema_case_get},
    [PROTO_OP_CASE_FIND] = {"case.find", false, &proto_schema_case_find},
    [PROTO_OP_CASE_HISTORY] = {"case.history", false, &proto_schema_case_history},
    [PROTO_OP_CASE_LIST] = {"case.list", false, &proto_schema_case_list},
    [PROTO_OP_REPORT_SUMMARY] = {"report.summary", false, &proto_schema_report_summary},
    [PROTO_OP_EVENTS_SINCE] = {"events.since", false, &proto_schema_events_since},
    [PROTO_OP_ADMIN_STATS] = {"admin.stats", false, &proto_schema_admin_stats},
    [PROTO_OP_ADMIN_BACKUP] = {"admin.backup", false, &proto_schema_admin_backup},
    [PROTO_OP_ADMIN_RELOAD] = {"admin.reload", false, &proto_schema_admin_reload},
    [PROTO_OP_ADMIN_VERIFY] = {"admin.verify", false, &proto_schema_admin_verify},
    /* Advancing the clock fires due timers, which append escalation events. */
    [PROTO_OP_ADMIN_CLOCK] = {"admin.clock", true, &proto_schema_admin_clock},
    [PROTO_OP_CASE_TRANSFER] = {"case.transfer", true, &proto_schema_case_transfer},
    [PROTO_OP_CASE_REASSIGN] = {"case.reassign", true, &proto_schema_case_reassign},
    [PROTO_OP_ADMIN_REMAP] = {"admin.remap", true, &proto_schema_admin_remap},
    [PROTO_OP_CASE_DUPLICATES] = {"case.duplicates", false, &proto_schema_case_duplicates},
    [PROTO_OP_CASE_MERGE] = {"case.merge", true, &proto_schema_case_merge},
    [PROTO_OP_REPORT_LEDGER] = {"report.ledger", false, &proto_schema_report_ledger},
    [PROTO_OP_REPORT_AGENDA] = {"report.agenda", false, &proto_schema_report_agenda},
};

const char *proto_op_name(proto_op_t op)
{
    if ((int)op < 0 || (int)op >= PROTO_OP_COUNT)
        return NULL;
    return op_defs[op].name;
}

int proto_op_lookup(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < PROTO_OP_COUNT; i++)
        if (strcmp(op_defs[i].name, name) == 0)
            return i;
    return -1;
}

bool proto_op_writes(proto_op_t op)
{
    if ((int)op < 0 || (int)op >= PROTO_OP_COUNT)
        return false;
    return op_defs[op].writes;
}

const proto_schema_t *proto_op_schema(proto_op_t op)
{
    if ((int)op < 0 || (int)op >= PROTO_OP_COUNT)
        return NULL;
    return op_defs[op].schema;
}

static const char *type_name(arg_type_t t)
{
    switch (t) {
    case A_STR:
        return "a string";
    case A_INT:
        return "an integer";
    case A_BOOL:
        return "a boolean";
    case A_MAP:
        return "a map";
    case A_ARR:
        return "an array";
    }
    return "?";
}

static bool type_matches(arg_type_t t, const lb_val_t *v)
{
    switch (t) {
    case A_STR:
        return v->type == LB_STR;
    case A_INT:
        return v->type == LB_INT;
    case A_BOOL:
        return v->type == LB_BOOL;
    case A_MAP:
        return v->type == LB_MAP;
    case A_ARR:
        return v->type == LB_ARR;
    }
    return false;
}

static int check_map(const arg_spec_t *fields, const lb_val_t *m, const char *path,
                     proto_err_t *err);

/* Checks v against spec s; path is v's dotted argument path. */
static int check_value(const arg_spec_t *s, const lb_val_t *v, const char *path, proto_err_t *err)
{
    const char *shown = path[0] ? path : "value";
    if (!type_matches(s->type, v))
        return arg_fail(err, LB_EBADREQ, path, "%s must be %s", shown, type_name(s->type));
    switch (s->type) {
    case A_STR:
        if ((int64_t)v->s.n < s->min || (int64_t)v->s.n > s->max) {
            /* An id's rule says digits, which a person counts; bytes are for free text. */
            const char *why = s->check ? s->check(v) : NULL;
            if (why)
                return arg_fail(err, LB_EBADREQ, path, "%s %s", shown, why);
            if (s->min == s->max)
                return arg_fail(err, LB_EBADREQ, path, "%s must be %lld bytes long", shown,
                                (long long)s->min);
            return arg_fail(err, LB_EBADREQ, path, "%s must be %lld to %lld bytes long", shown,
                            (long long)s->min, (long long)s->max);
        }
        break;
    case A_INT:
        if (v->i < s->min)
            return arg_fail(err, LB_EBADREQ, path, "%s must be at least %lld", shown,
                            (long long)s->min);
        if (v->i > s->max)
            return arg_fail(err, s->over_is_too_large ? LB_ETOOLARGE : LB_EBADREQ, path,
                            "%s must be at most %lld", shown, (long long)s->max);
        break;
    case A_ARR:
        if ((int64_t)v->a.n < s->min)
            return arg_fail(err, LB_EBADREQ, path, "%s needs at least %lld items", shown,
                            (long long)s->min);
        if ((int64_t)v->a.n > s->max)
            return arg_fail(err, LB_ETOOLARGE, path, "%s has more than %lld items", shown,
                            (long long)s->max);
        if (s->item) {
            for (uint32_t i = 0; i < v->a.n; i++) {
                char seg[16], sub[sizeof(err->field)], *d = seg + sizeof seg - 1;
                *d = '\0';
                uint32_t x = i;
                do /* "%u" by hand */
                    *--d = (char)('0' + x % 10);
                while (x /= 10);
                path_join(sub, sizeof(sub), path, d);
                int rc = check_value(s->item, v->a.items[i], sub, err);
                if (rc)
                    return rc;
            }
        }
        break;
    case A_MAP:
        if (s->fields) {
            int rc = check_map(s->fields, v, path, err);
            if (rc)
                return rc;
        }
        break;
    case A_BOOL:
        break;
    }
    if (s->check) {
        const char *why = s->check(v);
        if (why)
            return arg_fail(err, LB_EBADREQ, path, "%s %s", shown, why);
    }
    return 0;
}

static const arg_spec_t *spec_find(const arg_spec_t *fields, const char *key)
{
    for (; fields->key; fields++)
        if (strcmp(fields->key, key) == 0)
            return fields;
    return NULL;
}

/*
 * Unknown keys are reported before missing ones: a misspelt required key is
 * then named as the typo the client made.
 */
static int check_map(const arg_spec_t *fields, const lb_val_t *m, const char *path,
                     proto_err_t *err)
{
    char sub[sizeof(err->field)];
    for (uint32_t i = 0; i < m->m.n; i++) {
        path_join(sub, sizeof(sub), path, m->m.keys[i]);
        const arg_spec_t *s = spec_find(fields, m->m.keys[i]);
        if (!s)
            return arg_fail(err, LB_EBADREQ, sub, "unknown argument %s", sub);
        int rc = check_value(s, m->m.vals[i], sub, err);
        if (rc)
            return rc;
    }
    for (const arg_spec_t *s = fields; s->key; s++) {
        if (s->required && !lb_map_get(m, s->key)) {
            path_join(sub, sizeof(sub), path, s->key);
            return arg_fail(err, LB_EBADREQ, sub, "missing required argument %s", sub);
        }
    }
    return 0;
}

int proto_check_household(const lb_val_t *h, proto_err_t *err)
{
    proto_err_t scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof(*err));
    if (!h)
        return arg_fail(err, LB_EBADREQ, "", "household must be a map");
    if (h->type != LB_MAP)
        return arg_fail(err, LB_EBADREQ, "", "household must be a map");
    return check_value(&household_spec, h, "", err);
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */
/* ---------------------------------------------------------------------- */

/* Unpack errors name paths from the document root; argument paths start below args. */
static void strip_args_prefix(proto_err_t *err)
{
    if (strncmp(err->field, "args.", 5) == 0)
        memmove(err->field, err->field + 5, strlen(err->field + 5) + 1);
}

static bool envelope_key(const char *k)
{
    return strcmp(k, "v") == 0 || strcmp(k, "id") == 0 || strcmp(k, "op") == 0 ||
           strcmp(k, "args") == 0 || strcmp(k, "as") == 0;
}

int proto_check_args(const proto_schema_t *schema, const lb_val_t *args, proto_err_t *err)
{
    proto_err_t scratch;
    if (!err)
        err = &scratch;
    if (!schema || !args || args->type != LB_MAP)
        return arg_fail(err, LB_EINTERNAL, "", "no schema or args not a map");
    int rc = check_map(schema->args, args, "", err);
    if (rc == 0 && schema->extra)
        rc = schema->extra(args, err);
    return rc;
}

int proto_decode_request(const void *buf, size_t len, const proto_limits_t *lim, proto_req_t *req,
                         proto_err_t *err)
{
    proto_err_t scratch;
    if (!err)
        err = &scratch;
    int rc = proto_decode_envelope(buf, len, lim, req, err);
    if (rc == 0)
        rc = proto_check_args(op_defs[req->op].schema, req->args, err);
    return rc;
}

int proto_decode_envelope(const void *buf, size_t len, const proto_limits_t *lim, proto_req_t *req,
                          proto_err_t *err)
{
    proto_err_t scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof(*err));
    memset(req, 0, sizeof(*req));
    req->op = PROTO_OP_COUNT;

    int rc = proto_unpack_id(buf, len, lim, &req->doc, err, req->id);
    if (rc) {
        strip_args_prefix(err);
        return rc;
    }
    const lb_val_t *doc = req->doc;
    if (doc->type != LB_MAP)
        return arg_fail(err, LB_EBADREQ, "", "a request must be a msgpack map");

    /*
     * The version comes first: a request from a newer protocol may carry
     * keys or ops this one does not know, and the honest answer is the version.
     */
    const lb_val_t *v = lb_map_get(doc, "v");
    if (v && v->type == LB_INT && v->i != PROTO_VERSION)
        return arg_fail(err, LB_EBADVER, "v", "protocol version %lld is not supported (only 1)",
                        (long long)v->i);

    const lb_val_t *id = lb_map_get(doc, "id");
    if (!id)
        return arg_fail(err, LB_EBADREQ, "id", "missing request id");
    if (id->type != LB_STR || id->s.n < 1 || id->s.n > PROTO_ID_MAX)
        return arg_fail(err, LB_EBADREQ, "id", "id must be a string of 1 to %d bytes",
                        PROTO_ID_MAX);

    for (uint32_t i = 0; i < doc->m.n; i++)
        if (!envelope_key(doc->m.keys[i]))
            return arg_fail(err, LB_EBADREQ, doc->m.keys[i], "unknown request key %s",
                            doc->m.keys[i]);

    if (!v)
        return arg_fail(err, LB_EBADREQ, "v", "missing protocol version v");
    if (v->type != LB_INT)
        return arg_fail(err, LB_EBADREQ, "v", "v must be an integer");

    const lb_val_t *op = lb_map_get(doc, "op");
    if (!op)
        return arg_fail(err, LB_EBADREQ, "op", "missing op");
    if (op->type != LB_STR)
        return arg_fail(err, LB_EBADREQ, "op", "op must be a string");
    int o = proto_op_lookup(op->s.p);
    if (o < 0)
        return arg_fail(err, LB_EUNKNOWNOP, "op", "unknown op %.64s", op->s.p);
    req->op = (proto_op_t)o;

    /* Who a gateway acts for: checked against the users file by the daemon, not here. */
    const lb_val_t *as = lb_map_get(doc, "as");
    if (as && (as->type != LB_STR || as->s.n < 1 || as->s.n > PROTO_AS_MAX))
        return arg_fail(err, LB_EBADREQ, "as", "as must be a user name of 1 to %d bytes",
                        PROTO_AS_MAX);
    if (as)
        memcpy(req->as, as->s.p, as->s.n + 1);

    lb_val_t *args = lb_map_get(doc, "args");
    if (!args) {
        rc = lb_map_set(req->doc, "args", lb_map());
        if (rc)
            return arg_fail(err, rc, "", "out of memory");
        args = lb_map_get(doc, "args");
    } else if (args->type != LB_MAP) {
        return arg_fail(err, LB_EBADREQ, "args", "args must be a map");
    }
    req->args = args;
    return 0;
}

void proto_req_clear(proto_req_t *req)
{
    if (!req)
        return;
    lb_val_free(&req->doc);
    req->args = NULL;
    req->id[0] = '\0';
    req->as[0] = '\0';
    req->op = PROTO_OP_COUNT;
}

/* ---------------------------------------------------------------------- */
/* Replies                                                                 */
/* ---------------------------------------------------------------------- */

static int reply_write_cb(void *data, const char *p, size_t n)
{
    return lb_buf_append(data, p, n) ? -1 : 0;
}

/* Packs s as a str, cut to its longest valid UTF-8 prefix so a reply always decodes. */
static int pack_text(msgpack_packer *pk, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n && !lb_utf8_valid(s, n))
        n--;
    return msgpack_pack_str_with_body(pk, s ? s : "", n);
}

static int pack_key(msgpack_packer *pk, const char *k)
{
    return msgpack_pack_str_with_body(pk, k, strlen(k));
}

int proto_reply_ok(const char *id, const lb_val_t *result, lb_buf_t *out)
{
    /* What does not change from one ok reply to the next, as msgpack_pack_* writes it: a map
     * of 4, "v", the version (a positive fixint), "id"; then "ok", true, "result". Every
     * durable write is answered with one: two appends instead of seven packer calls. */
    _Static_assert(PROTO_VERSION >= 0 && PROTO_VERSION < 128, "the version is a positive fixint");
    static const uint8_t head[] = {0x84, 0xa1, 'v', PROTO_VERSION, 0xa2, 'i', 'd'};
    static const uint8_t mid[] = {0xa2, 'o', 'k', 0xc3, 0xa6, 'r', 'e', 's', 'u', 'l', 't'};
    msgpack_packer pk;
    size_t mark = out->len;
    msgpack_packer_init(&pk, out, reply_write_cb);
    int bad = lb_buf_append(out, head, sizeof head) || pack_text(&pk, id) ||
              lb_buf_append(out, mid, sizeof mid);
    if (!bad)
        bad = result ? proto_pack(result, out) != 0 : msgpack_pack_map(&pk, 0) != 0;
    if (bad) {
        out->len = mark;
        return LB_ENOMEM;
    }
    return 0;
}

int proto_reply_error(const char *id, int code, const char *message, const char *field,
                      const char *case_id, lb_buf_t *out)
{
    msgpack_packer pk;
    size_t mark = out->len;
    bool has_field = field && field[0], has_case = case_id && case_id[0];
    if (!message || !message[0])
        message = lb_strerror(code);
    msgpack_packer_init(&pk, out, reply_write_cb);
    int bad = msgpack_pack_map(&pk, 4) || pack_key(&pk, "v") ||
              msgpack_pack_int(&pk, PROTO_VERSION) || pack_key(&pk, "id") || pack_text(&pk, id) ||
              pack_key(&pk, "ok") || msgpack_pack_false(&pk) || pack_key(&pk, "error") ||
              msgpack_pack_map(&pk, 2 + (size_t)has_field + (size_t)has_case) ||
              pack_key(&pk, "code") || pack_text(&pk, lb_errcode(code)) ||
              pack_key(&pk, "message") || pack_text(&pk, message);
    if (!bad && has_field)
        bad = pack_key(&pk, "field") || pack_text(&pk, field);
    if (!bad && has_case)
        bad = pack_key(&pk, "case_id") || pack_text(&pk, case_id);
    if (bad) {
        out->len = mark;
        return LB_ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Events and the audit chain                                              */
/* ---------------------------------------------------------------------- */

/* The canonical (shortest) msgpack map header for n entries; returns its length. */
static size_t map_header(uint8_t h[5], uint32_t n)
{
    if (n < 16) {
        h[0] = (uint8_t)(0x80 | n);
        return 1;
    }
    if (n <= 0xffff) {
        h[0] = 0xde;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        return 3;
    }
    h[0] = 0xdf;
    h[1] = (uint8_t)(n >> 24);
    h[2] = (uint8_t)(n >> 16);
    h[3] = (uint8_t)(n >> 8);
    h[4] = (uint8_t)n;
    return 5;
}

/* The last entry of every event body: fixstr "chain", then bin8 of 32 bytes. */
static const uint8_t chain_entry_head[8] = {0xa5, 'c', 'h', 'a', 'i', 'n', 0xc4, 32};
#define CHAIN_ENTRY_LEN (sizeof(chain_entry_head) + 32)

/* BLAKE2b-256(prev || hdr || entries); prev NULL counts as 32 zero bytes (the first event). */
static int chain_hash(const uint8_t prev[32], const uint8_t *hdr, size_t hl, const uint8_t *entries,
                      size_t el, uint8_t out[32])
{
    static const uint8_t zero[32];
    crypto_generichash_state st;
    if (sodium_init() < 0)
        return LB_EINTERNAL;
    if (crypto_generichash_init(&st, NULL, 0, 32) ||
        crypto_generichash_update(&st, prev ? prev : zero, 32) ||
        crypto_generichash_update(&st, hdr, hl) || crypto_generichash_update(&st, entries, el) ||
        crypto_generichash_final(&st, out, 32))
        return LB_EINTERNAL;
    return 0;
}

int proto_event_encode(const lb_val_t *body, const uint8_t prev[32], lb_buf_t *out,
                       uint8_t chain_out[32])
{
    /* The caller builds the body: a non-map or one already chained is a bug, not input. */
    if (!body || body->type != LB_MAP || lb_map_get(body, "chain") || body->m.n == UINT32_MAX)
        return LB_EINTERNAL;
    uint8_t hdr[5], chain[32];
    size_t mark = out->len;
    /* Packed straight into out (one event after another: no buffer of its own per event). */
    int rc = proto_pack(body, out);
    if (rc)
        goto done;
    size_t len = out->len - mark;
    /* Re-derive the header rather than trust the packer's choice of form. */
    size_t hl = map_header(hdr, body->m.n);
    if (len < hl || memcmp(out->p + mark, hdr, hl) != 0) {
        rc = LB_EINTERNAL;
        goto done;
    }
    rc = chain_hash(prev, out->p + mark, hl, out->p + mark + hl, len - hl, chain);
    if (rc)
        goto done;
    /* One more entry may move the header from fixmap to map16 (15 -> 16) or map16 to map32. */
    size_t hl2 = map_header(hdr, body->m.n + 1);
    if ((rc = lb_buf_reserve(out, hl2 - hl + CHAIN_ENTRY_LEN)))
        goto done;
    if (hl2 != hl)
        memmove(out->p + mark + hl2, out->p + mark + hl, len - hl);
    memcpy(out->p + mark, hdr, hl2);
    out->len = mark + hl2 + (len - hl);
    lb_buf_append(out, chain_entry_head, sizeof(chain_entry_head));
    lb_buf_append(out, chain, 32);
    if (chain_out)
        memcpy(chain_out, chain, 32);
done:
    if (rc)
        out->len = mark;
    return rc;
}

int proto_event_check(const void *body, size_t len, const uint8_t prev[32], uint8_t chain_out[32])
{
    const uint8_t *p = body;
    lb_val_t *doc = NULL;
    proto_err_t err;
    uint8_t hdr[5], chain[32];
    int rc = LB_ECORRUPT;

    if (!p || len < 1 + CHAIN_ENTRY_LEN)
        return LB_ECORRUPT;
    /* A full strict parse first: the bytes are one well-formed map with unique keys. */
    int urc = proto_unpack(p, len, NULL, &doc, &err);
    if (urc)
        return urc == LB_ENOMEM ? LB_ENOMEM : LB_ECORRUPT;
    if (doc->type != LB_MAP || doc->m.n < 1 || strcmp(doc->m.keys[doc->m.n - 1], "chain") != 0)
        goto done;
    /* Only the canonical forms hash back to the same bytes, so only they are accepted. */
    size_t hl = map_header(hdr, doc->m.n);
    if (memcmp(p, hdr, hl) != 0 || len < hl + CHAIN_ENTRY_LEN)
        goto done;
    const uint8_t *tail = p + len - CHAIN_ENTRY_LEN;
    if (memcmp(tail, chain_entry_head, sizeof(chain_entry_head)) != 0)
        goto done;
    size_t hl0 = map_header(hdr, doc->m.n - 1);
    if ((rc = chain_hash(prev, hdr, hl0, p + hl, (size_t)(tail - (p + hl)), chain)))
        goto done;
    if (sodium_memcmp(chain, tail + sizeof(chain_entry_head), 32) != 0) {
        rc = LB_ECORRUPT;
        goto done;
    }
    if (chain_out)
        memcpy(chain_out, chain, 32);
    rc = 0;
done:
    lb_val_free(&doc);
    return rc;
}
