/*
 * logbook.c - the command-line client for field teams, committees and
 * admins: one subcommand per operation of PROTOCOL.md, human tables by
 * default and JSON with --json. Exit codes: 0 done, 1 refused by the daemon
 * (or a failed check), 2 usage error, 3 the daemon cannot be reached.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../proto/proto.h"
#include "../lib/client.h"
#include "../lib/csv.h"

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNREACHABLE = 3 };

/* Requests stay under the daemon's default 1 MiB message limit with room to spare. */
#define IMPORT_BATCH_BYTES (900 * 1024)
#define IMPORT_FILE_MAX ((size_t)2 * 1024 * 1024 * 1024)
#define LIST_PAGE_MAX PROTO_LIST_MAX
#define HISTORY_PAGE 1000

typedef struct {
    const char *endpoint;
    const char *events_endpoint;
    const char *cert;
    const char *server_cert;
    bool json;
    bool no_curve;
    int timeout_ms;
    int retries;
    lbc_t *c; /* connected on first use */
} app_t;

/* ---------------------------------------------------------------------- */
/* Arguments                                                               */
/* ---------------------------------------------------------------------- */

#define ARGS_MAX 256

typedef struct {
    int npos;
    const char *pos[ARGS_MAX];
    int nopts;
    const char *opt_name[ARGS_MAX];
    const char *opt_val[ARGS_MAX];
    bool help;
} args_t;

static void usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "logbook%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see: logbook %s%s--help)\n", cmd ? cmd : "", cmd ? " " : "");
}

/* Looks name up in spec ("name" flag, "name=" takes a value, "name=*" repeatable). */
static const char *spec_find(const char *const *spec, const char *name, size_t n)
{
    for (size_t i = 0; spec && spec[i]; i++)
        if (strncmp(spec[i], name, n) == 0 && (spec[i][n] == '\0' || spec[i][n] == '='))
            return spec[i];
    return NULL;
}

static bool looks_negative_number(const char *s)
{
    return s[0] == '-' && s[1] >= '0' && s[1] <= '9';
}

/*
 * Global options, wherever they appear. Returns 1 when argv[*i] was one
 * (consuming its value), 0 when not, -1 on a missing value.
 */
static int global_opt(app_t *app, int argc, char **argv, int *i)
{
    static const struct {
        char s;
        const char *l;
        int which;
    } g[] = {{'e', "endpoint", 0},        {'k', "cert", 1},  {'s', "server-cert", 2},
             {'E', "events-endpoint", 3}, {0, "timeout", 4}, {0, "retries", 5}};
    const char *a = argv[*i];
    if (strcmp(a, "--json") == 0) {
        app->json = true;
        return 1;
    }
    if (strcmp(a, "--no-curve") == 0) {
        app->no_curve = true;
        return 1;
    }
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        const char *val = NULL;
        size_t ll = strlen(g[k].l);
        if (g[k].s && a[0] == '-' && a[1] == g[k].s && a[2] == '\0') {
            if (*i + 1 >= argc)
                return -1;
            val = argv[++*i];
        } else if (a[0] == '-' && a[1] == '-' && strncmp(a + 2, g[k].l, ll) == 0) {
            if (a[2 + ll] == '=') {
                val = a + 3 + ll;
            } else if (a[2 + ll] == '\0') {
                if (*i + 1 >= argc)
                    return -1;
                val = argv[++*i];
            } else {
                continue;
            }
        } else {
            continue;
        }
        switch (g[k].which) {
        case 0:
            app->endpoint = val;
            break;
        case 1:
            app->cert = val;
            break;
        case 2:
            app->server_cert = val;
            break;
        case 3:
            app->events_endpoint = val;
            break;
        case 4:
            app->timeout_ms = atoi(val);
            break;
        default:
            app->retries = atoi(val);
            break;
        }
        return 1;
    }
    return 0;
}

/* Splits argv[1..] (argv[0] is the command) into options by spec and positionals. */
static int parse_args(app_t *app, int argc, char **argv, const char *const *spec, args_t *a)
{
    const char *cmd = argv[0];
    bool dashdash = false;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (dashdash || s[0] != '-' || s[1] == '\0' || looks_negative_number(s)) {
            if (a->npos >= ARGS_MAX) {
                usage_error(cmd, "too many arguments");
                return EX_USAGE;
            }
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            dashdash = true;
            continue;
        }
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            a->help = true;
            continue;
        }
        int g = global_opt(app, argc, argv, &i);
        if (g < 0) {
            usage_error(cmd, "%s needs a value", s);
            return EX_USAGE;
        }
        if (g > 0)
            continue;
        if (s[1] != '-') {
            usage_error(cmd, "unknown option %s", s);
            return EX_USAGE;
        }
        const char *name = s + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        const char *def = spec_find(spec, name, n);
        if (!def) {
            usage_error(cmd, "unknown option --%.*s", (int)n, name);
            return EX_USAGE;
        }
        bool takes = def[n] == '=';
        bool repeat = takes && def[n + 1] == '*';
        const char *val = NULL;
        if (takes) {
            if (eq) {
                val = eq + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                usage_error(cmd, "--%s needs a value", def);
                return EX_USAGE;
            }
        } else if (eq) {
            usage_error(cmd, "--%.*s takes no value", (int)n, name);
            return EX_USAGE;
        }
        if (!repeat) {
            for (int k = 0; k < a->nopts; k++) {
                if (strncmp(a->opt_name[k], def, n) == 0 && a->opt_name[k][n] == '=') {
                    usage_error(cmd, "--%.*s given twice", (int)n, name);
                    return EX_USAGE;
                }
                if (strcmp(a->opt_name[k], def) == 0 && !takes) {
                    usage_error(cmd, "--%s given twice", def);
                    return EX_USAGE;
                }
            }
        }
        if (a->nopts >= ARGS_MAX) {
            usage_error(cmd, "too many options");
            return EX_USAGE;
        }
        a->opt_name[a->nopts] = def;
        a->opt_val[a->nopts] = val;
        a->nopts++;
    }
    return 0;
}

/* The value of option name (spec spelling without '='), or NULL; the last one wins. */
static const char *opt(const args_t *a, const char *name)
{
    size_t n = strlen(name);
    const char *v = NULL;
    for (int k = 0; k < a->nopts; k++)
        if (strncmp(a->opt_name[k], name, n) == 0 &&
            (a->opt_name[k][n] == '=' || a->opt_name[k][n] == '\0'))
            v = a->opt_val[k] ? a->opt_val[k] : "";
    return v;
}

static bool flag(const args_t *a, const char *name)
{
    return opt(a, name) != NULL;
}

/* ---------------------------------------------------------------------- */
/* Connection and requests                                                 */
/* ---------------------------------------------------------------------- */

static int app_connect(app_t *app)
{
    char err[512] = "";
    lbc_opts_t o;
    if (app->c)
        return 0;
    lbc_opts_init(&o);
    o.endpoint = app->endpoint;
    if (!app->no_curve) {
        o.client_cert = app->cert;
        o.server_cert = app->server_cert;
    }
    if (app->timeout_ms > 0)
        o.timeout_ms = app->timeout_ms;
    if (app->retries >= 0)
        o.retries = app->retries;
    int rc = lbc_connect(&o, &app->c, err, sizeof err);
    if (rc == 0)
        return 0;
    fprintf(stderr, "error: cannot connect to %s: %s\n", app->endpoint, err);
    if (rc == LB_EIO || rc == LB_ECONFIG)
        fprintf(stderr, "hint: set -k/-s (or $LOGBOOK_CERT, $LOGBOOK_SERVER_CERT) to the client "
                        "secret and server public certificates, or --no-curve\n");
    return rc == LB_EBADREQ ? EX_USAGE : EX_UNREACHABLE;
}

static void print_error_reply(const lb_val_t *reply)
{
    const char *code, *msg, *field;
    lbc_reply_error(reply, &code, &msg, &field);
    const char *case_id = lb_map_str(lb_map_get(reply, "error"), "case_id");
    fprintf(stderr, "error: %s: %s", code, msg);
    if (*field)
        fprintf(stderr, " (field: %s)", field);
    if (case_id && *case_id)
        fprintf(stderr, " (case %s)", case_id);
    fputc('\n', stderr);
}

/*
 * One request. Returns EX_OK with *reply (an ok reply; caller frees),
 * EX_REFUSED after printing an error reply, EX_UNREACHABLE.
 */
static int request(app_t *app, const char *op, const lb_val_t *args, lb_val_t **reply)
{
    char err[512] = "";
    *reply = NULL;
    int rc = app_connect(app);
    if (rc)
        return rc;
    rc = lbc_call(app->c, op, args, reply, err, sizeof err);
    if (rc) {
        fprintf(stderr, "error: cannot reach the daemon: %s\n", err);
        return rc == LB_EBADREQ ? EX_USAGE : EX_UNREACHABLE;
    }
    if (!lbc_reply_ok(*reply)) {
        print_error_reply(*reply);
        lb_val_free(reply);
        return EX_REFUSED;
    }
    return EX_OK;
}

static void print_json(const lb_val_t *v)
{
    lb_val_fprint_json(v, 2, stdout);
    fputc('\n', stdout);
}

/* ---------------------------------------------------------------------- */
/* Text output                                                             */
/* ---------------------------------------------------------------------- */

/* A value as table text, newly allocated: scalars plainly, lists joined, maps as JSON. */
static char *val_text(const lb_val_t *v)
{
    char *s = NULL;
    if (!v)
        return strdup("");
    switch (v->type) {
    case LB_NIL:
        return strdup("");
    case LB_BOOL:
        return strdup(v->b ? "yes" : "no");
    case LB_INT:
        if (asprintf(&s, "%" PRId64, v->i) < 0)
            s = NULL;
        return s;
    case LB_FLOAT:
        if (asprintf(&s, "%g", v->f) < 0)
            s = NULL;
        return s;
    case LB_STR:
        return strdup(v->s.p);
    default:
        break;
    }
    bool scalars = v->type == LB_ARR;
    for (uint32_t i = 0; scalars && i < v->a.n; i++)
        scalars = v->a.items[i]->type != LB_ARR && v->a.items[i]->type != LB_MAP;
    lb_buf_t b;
    lb_buf_init(&b);
    if (scalars) {
        for (uint32_t i = 0; i < v->a.n; i++) {
            char *t = val_text(v->a.items[i]);
            if (i)
                lb_buf_append(&b, ", ", 2);
            if (t)
                lb_buf_append(&b, t, strlen(t));
            free(t);
        }
    } else {
        lb_val_to_json(v, 0, &b);
    }
    if (lb_buf_append(&b, "", 1) != 0) {
        lb_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

/* A time in ms under key, as local time text ("" when absent). */
static char *time_text(const lb_val_t *m, const char *key)
{
    int64_t ms;
    char buf[32];
    if (lb_map_int(m, key, &ms) != 0)
        return strdup("");
    lbc_format_time(ms, buf, sizeof buf);
    return strdup(buf);
}

/* {dimension: [indicator...]} as "income: bmn22, bmn20; health: bmn4". */
static char *findings_text(const lb_val_t *f)
{
    if (!f || f->type != LB_MAP)
        return val_text(f);
    lb_buf_t b;
    lb_buf_init(&b);
    for (uint32_t i = 0; i < f->m.n; i++) {
        char *t = val_text(f->m.vals[i]);
        if (i)
            lb_buf_append(&b, "; ", 2);
        lb_buf_append(&b, f->m.keys[i], strlen(f->m.keys[i]));
        lb_buf_append(&b, ": ", 2);
        if (t)
            lb_buf_append(&b, t, strlen(t));
        free(t);
    }
    if (lb_buf_append(&b, "", 1) != 0) {
        lb_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

typedef struct {
    size_t ncols;
    size_t nrows; /* including the header row */
    size_t cap;
    char **cells; /* row-major, owned */
} table_t;

static void table_init(table_t *t, size_t ncols, const char *const *hdr)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    char **row = calloc(ncols, sizeof *row);
    for (size_t i = 0; row && i < ncols; i++)
        row[i] = strdup(hdr[i]);
    if (row) {
        t->cells = row;
        t->nrows = 1;
        t->cap = 1;
    }
}

/* Appends a row of ncols strings, taking them over (NULL cells print empty). */
static void table_add_owned(table_t *t, char **vals)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **cells = realloc(t->cells, cap * t->ncols * sizeof *cells);
        if (!cells) {
            for (size_t i = 0; i < t->ncols; i++)
                free(vals[i]);
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    memcpy(t->cells + t->nrows * t->ncols, vals, t->ncols * sizeof *vals);
    t->nrows++;
}

static void table_print(const table_t *t, FILE *f)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t dw = s ? lbc_display_width(s) : 0;
            if (dw > w[c])
                w[c] = dw;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        /* Trailing empty cells would only leave trailing blanks. */
        size_t last = t->ncols;
        while (last > 1 &&
               !(t->cells[r * t->ncols + last - 1] && *t->cells[r * t->ncols + last - 1]))
            last--;
        for (size_t c = 0; c < last; c++) {
            const char *s = t->cells[r * t->ncols + c];
            if (!s)
                s = "";
            fputs(s, f);
            if (c + 1 < last)
                for (size_t k = lbc_display_width(s); k < w[c] + 2; k++)
                    fputc(' ', f);
        }
        fputc('\n', f);
    }
    free(w);
}

static void table_free(table_t *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* Prints "label  value" lines with labels padded to one width. */
static void kv_line(const char *label, const char *value)
{
    if (!value || !*value)
        return;
    printf("%-12s %s\n", label, value);
}

/* ---------------------------------------------------------------------- */
/* Argument builders                                                       */
/* ---------------------------------------------------------------------- */

/* Appends the comma-separated items of s to arr (trimmed, empty ones dropped). */
static int push_list(lb_val_t *arr, const char *s, char sep)
{
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, sep);
        if (!end)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b && lb_arr_push(arr, lb_strn(b, (size_t)(e - b))) != 0)
            return LB_ENOMEM;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

static int set_opt_str(lb_val_t *m, const char *key, const char *val)
{
    return val ? lb_map_set_str(m, key, val) : 0;
}

/* Sets key to the list of val's comma-separated items, when val (an option) is given. */
static int set_opt_list(lb_val_t *m, const char *key, const char *val)
{
    if (!val)
        return 0;
    lb_val_t *list = lb_arr();
    int e = list ? push_list(list, val, ',') : LB_ENOMEM;
    if (e) {
        lb_val_free(&list);
        return e;
    }
    return lb_map_set(m, key, list); /* frees list on failure */
}

/* Sets "at" from --at when given. EX_USAGE on a bad time. */
static int set_at(lb_val_t *m, const args_t *a, const char *cmd)
{
    const char *at = opt(a, "at");
    int64_t ms;
    if (!at)
        return 0;
    if (lbc_parse_time(at, &ms) != 0) {
        usage_error(cmd, "--at: '%s' is neither unix ms nor an ISO-8601 date/time", at);
        return EX_USAGE;
    }
    return lb_map_set_int(m, "at", ms) ? EX_UNREACHABLE : 0;
}

static bool parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* ---------------------------------------------------------------------- */
/* Commands                                                                */
/* ---------------------------------------------------------------------- */

typedef int (*cmd_fn)(app_t *app, int argc, char **argv);

typedef struct {
    const char *name;
    cmd_fn fn;
    const char *usage;
    const char *summary;
} command_t;

static const command_t *find_command(const char *name);

static int show_help(const char *name)
{
    const command_t *c = find_command(name);
    if (c)
        printf("usage: logbook [GLOBAL OPTIONS] %s\n\n%s\n", c->usage, c->summary);
    return EX_OK;
}

/* Common prologue: parse, answer --help, check the positional count. */
static int prologue(app_t *app, int argc, char **argv, const char *const *spec, args_t *a,
                    int min_pos, int max_pos, bool *done)
{
    *done = false;
    int rc = parse_args(app, argc, argv, spec, a);
    if (rc)
        return rc;
    if (a->help) {
        *done = true;
        return show_help(argv[0]);
    }
    if (a->npos < min_pos || (max_pos >= 0 && a->npos > max_pos)) {
        const command_t *c = find_command(argv[0]);
        fprintf(stderr, "usage: logbook %s\n", c ? c->usage : argv[0]);
        return EX_USAGE;
    }
    return 0;
}

#define PROLOGUE(spec, min, max)                                                                   \
    args_t a;                                                                                      \
    bool done_;                                                                                    \
    int rc = prologue(app, argc, argv, spec, &a, min, max, &done_);                                \
    if (rc || done_)                                                                               \
        return rc;

/* ---- ping ---- */

static int cmd_ping(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 0, 0)
    lb_val_t *reply = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = request(app, "ping", NULL, &reply);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc)
        return rc;
    const lb_val_t *res = lbc_reply_result(reply);
    if (app->json) {
        print_json(res);
    } else {
        int64_t up = 0, last = 0;
        const char *ver = lb_map_str(res, "version");
        lb_map_int(res, "uptime_s", &up);
        lb_map_int(res, "last_seq", &last);
        double ms =
            (double)(t1.tv_sec - t0.tv_sec) * 1000.0 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("logbookd %s at %s: up %" PRId64 "d %02" PRId64 ":%02" PRId64 ":%02" PRId64
               ", last seq %" PRId64 ", round trip %.1f ms\n",
               ver ? ver : "?", app->endpoint, up / 86400, up / 3600 % 24, up / 60 % 60, up % 60,
               last, ms);
    }
    lb_val_free(&reply);
    return EX_OK;
}

/* ---- open ---- */

static int cmd_open(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"workflow=", "head=", "member=*", "deprived=*",
                                       "source=",   "team=", NULL};
    PROLOGUE(spec, 2, 2)
    lb_val_t *args = lb_map(), *hh = lb_map(), *reply = NULL;
    lb_val_t *members = NULL, *deprived = NULL;
    int e = (!args || !hh) ? LB_ENOMEM : 0;
    if (!e)
        e = lb_map_set_str(hh, "house_id", a.pos[0]);
    if (!e)
        e = lb_map_set_str(hh, "area", a.pos[1]);
    if (!e)
        e = set_opt_str(hh, "head", opt(&a, "head"));
    for (int k = 0; !e && k < a.nopts; k++) {
        if (strcmp(a.opt_name[k], "member=*") == 0) {
            const char *v = a.opt_val[k], *colon = strchr(v, ':');
            lb_val_t *mem = lb_map();
            if (!members)
                members = lb_arr();
            size_t nl = colon ? (size_t)(colon - v) : strlen(v);
            if (!mem || !members) {
                lb_val_free(&mem);
                e = LB_ENOMEM;
                break;
            }
            if (nl)
                e = lb_map_set(mem, "nid", lb_strn(v, nl));
            if (!e && colon && colon[1])
                e = lb_map_set_str(mem, "name", colon + 1);
            if (!e)
                e = lb_arr_push(members, mem);
            else
                lb_val_free(&mem);
        } else if (strcmp(a.opt_name[k], "deprived=*") == 0) {
            if (!deprived)
                deprived = lb_arr();
            e = deprived ? push_list(deprived, a.opt_val[k], ',') : LB_ENOMEM;
        }
    }
    if (!e && members) {
        e = lb_map_set(hh, "members", members);
        members = NULL;
    }
    if (!e && deprived) {
        e = lb_map_set(hh, "deprived", deprived);
        deprived = NULL;
    }
    if (!e) {
        e = lb_map_set(args, "household", hh);
        hh = NULL;
    }
    if (!e)
        e = set_opt_str(args, "workflow", opt(&a, "workflow"));
    if (!e)
        e = set_opt_str(args, "source", opt(&a, "source"));
    if (!e)
        e = set_opt_str(args, "team", opt(&a, "team"));
    if (e) {
        fprintf(stderr, "error: out of memory\n");
        rc = EX_UNREACHABLE;
        goto done;
    }
    rc = request(app, "case.open", args, &reply);
    if (rc)
        goto done;
    const lb_val_t *res = lbc_reply_result(reply);
    if (app->json) {
        print_json(res);
    } else {
        int64_t seq = 0;
        lb_map_int(res, "seq", &seq);
        printf("opened %s for house %s (state %s, seq %" PRId64 ")\n",
               lb_map_str(res, "case_id") ? lb_map_str(res, "case_id") : "?", a.pos[0],
               lb_map_str(res, "state") ? lb_map_str(res, "state") : "?", seq);
    }
done:
    lb_val_free(&members);
    lb_val_free(&deprived);
    lb_val_free(&hh);
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

/* ---- act and its shortcuts ---- */

static int do_act(app_t *app, const char *case_id, const char *action, lb_val_t *data,
                  const char *expect, const args_t *a, const char *cmd)
{
    lb_val_t *args = lb_map(), *reply = NULL;
    int rc = 0;
    if (!args || lb_map_set_str(args, "case_id", case_id) ||
        lb_map_set_str(args, "action", action)) {
        rc = EX_UNREACHABLE;
        goto done;
    }
    if (data && data->m.n > 0) {
        if (lb_map_set(args, "data", lb_val_dup(data))) {
            rc = EX_UNREACHABLE;
            goto done;
        }
    }
    if (expect && lb_map_set_str(args, "expect_state", expect)) {
        rc = EX_UNREACHABLE;
        goto done;
    }
    rc = set_at(args, a, cmd);
    if (rc)
        goto done;
    rc = request(app, "case.act", args, &reply);
    if (rc)
        goto done;
    const lb_val_t *res = lbc_reply_result(reply);
    if (app->json) {
        print_json(res);
    } else {
        int64_t seq = 0;
        const char *level = lb_map_str(res, "level");
        lb_map_int(res, "seq", &seq);
        printf("%s: %s -> state %s%s%s (seq %" PRId64 ")\n", case_id, action,
               lb_map_str(res, "state") ? lb_map_str(res, "state") : "?", level ? ", level " : "",
               level ? level : "", seq);
    }
done:
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

static int cmd_act(app_t *app, int argc, char **argv)
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

typedef enum { SC_SCHEDULE, SC_VISIT, SC_ASSIST, SC_FOLLOWUP, SC_CLOSE, SC_RESOLVE } shortcut_t;

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
    lb_val_t *args = lb_map(), *reply = NULL, *wreply = NULL;
    int rc = 0;
    *action = NULL;
    *state = NULL;
    if (!args || lb_map_set_str(args, "case_id", case_id)) {
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

static int cmd_schedule(app_t *app, int argc, char **argv)
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

static int cmd_visit(app_t *app, int argc, char **argv)
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
        char *dim = strndup(a.pos[i], (size_t)(eq - a.pos[i]));
        lb_val_t *codes = lb_map_get(findings, dim ? dim : "");
        if (dim && !codes) {
            e = lb_map_set(findings, dim, lb_arr());
            codes = lb_map_get(findings, dim);
        }
        if (!e)
            e = codes ? push_list(codes, eq + 1, ',') : LB_ENOMEM;
        free(dim);
    }
    if (!e) {
        e = lb_map_set(data, "findings", findings);
        findings = NULL;
    }
    if (!e)
        e = set_opt_str(data, "team", opt(&a, "team"));
    if (!e)
        e = set_opt_str(data, "note", opt(&a, "note"));
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

static int cmd_assist(app_t *app, int argc, char **argv)
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
    if (!e)
        e = lb_map_set_str(data, "agency", agency);
    if (!e)
        e = lb_map_set_str(data, "dimension", dim);
    if (!e)
        e = lb_map_set_str(data, "kind", kind);
    if (!e && amount)
        e = lb_map_set_int(data, "amount_thb", thb);
    if (!e)
        e = set_opt_list(data, "meets", meets);
    if (!e)
        e = set_opt_str(data, "note", opt(&a, "note"));
    rc = e ? EX_UNREACHABLE : run_shortcut(app, &a, argv[0], SC_ASSIST, a.pos[0], data);
    lb_val_free(&data);
    return rc;
}

static int cmd_followup(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"met=", "note=", "at=", NULL};
    PROLOGUE(spec, 2, 2)
    lb_val_t *data = lb_map();
    int e = data ? lb_map_set_str(data, "level", a.pos[1]) : LB_ENOMEM;
    if (!e)
        e = set_opt_list(data, "met", opt(&a, "met"));
    if (!e)
        e = set_opt_str(data, "note", opt(&a, "note"));
    rc = e ? EX_UNREACHABLE : run_shortcut(app, &a, argv[0], SC_FOLLOWUP, a.pos[0], data);
    lb_val_free(&data);
    return rc;
}

static int cmd_close_resolve(app_t *app, int argc, char **argv, shortcut_t sc, const char *key)
{
    static const char *const spec[] = {"at=", "note=", NULL};
    PROLOGUE(spec, 2, 2)
    lb_val_t *data = lb_map();
    int e = data ? lb_map_set_str(data, key, a.pos[1]) : LB_ENOMEM;
    if (!e)
        e = set_opt_str(data, "note", opt(&a, "note"));
    rc = e ? EX_UNREACHABLE : run_shortcut(app, &a, argv[0], sc, a.pos[0], data);
    lb_val_free(&data);
    return rc;
}

static int cmd_close(app_t *app, int argc, char **argv)
{
    return cmd_close_resolve(app, argc, argv, SC_CLOSE, "reason");
}

static int cmd_resolve(app_t *app, int argc, char **argv)
{
    return cmd_close_resolve(app, argc, argv, SC_RESOLVE, "level");
}

/* ---- ack ---- */

static int cmd_ack(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"note=", NULL};
    PROLOGUE(spec, 1, 1)
    lb_val_t *args = lb_map(), *reply = NULL;
    if (!args || lb_map_set_str(args, "case_id", a.pos[0]) ||
        set_opt_str(args, "note", opt(&a, "note"))) {
        lb_val_free(&args);
        return EX_UNREACHABLE;
    }
    rc = request(app, "case.ack", args, &reply);
    if (rc == 0) {
        const lb_val_t *res = lbc_reply_result(reply);
        if (app->json) {
            print_json(res);
        } else {
            int64_t step = 0;
            lb_map_int(res, "step", &step);
            printf("%s: acknowledged escalation step %" PRId64 " (level %s)\n", a.pos[0], step,
                   lb_map_str(res, "level") ? lb_map_str(res, "level") : "?");
        }
    }
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

/* ---- show ---- */

/* Prints a list of record maps as a table with the given columns (time keys formatted). */
static void print_records(const char *title, const lb_val_t *list, const char *const *keys,
                          const char *const *hdr, size_t ncols)
{
    if (!list || list->type != LB_ARR || list->a.n == 0)
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

static void show_case(const lb_val_t *cs)
{
    char *s;
    kv_line("case", lb_map_str(cs, "case_id"));
    kv_line("house", lb_map_str(cs, "house_id"));
    kv_line("area", lb_map_str(cs, "area"));
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
    snprintf(buf, sizeof buf, "%s%s%s", lb_map_str(cs, "state") ? lb_map_str(cs, "state") : "?",
             s && *s ? " since " : "", s ? s : "");
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

    static const char *const mk[] = {"nid", "name", "birth_year", "sex"};
    static const char *const mh[] = {"NID", "NAME", "BORN", "SEX"};
    print_records("members", lb_map_get(hh, "members"), mk, mh, 4);
    static const char *const nk[] = {"dimension", "indicator", "status", "note"};
    static const char *const nh[] = {"DIMENSION", "INDICATOR", "STATUS", "NOTE"};
    print_records("needs", lb_map_get(cs, "needs"), nk, nh, 4);
    static const char *const vk[] = {"at", "team", "findings", "note"};
    static const char *const vh[] = {"AT", "TEAM", "FINDINGS", "NOTE"};
    print_records("visits", lb_map_get(cs, "visits"), vk, vh, 4);
    static const char *const ak[] = {"at",         "agency", "dimension", "kind",
                                     "amount_thb", "meets",  "note"};
    static const char *const ah[] = {"AT", "AGENCY", "DIMENSION", "KIND", "THB", "MEETS", "NOTE"};
    print_records("assistance", lb_map_get(cs, "assistance"), ak, ah, 7);
    static const char *const fk[] = {"at", "level", "met", "note"};
    static const char *const fh[] = {"AT", "LEVEL", "MET", "NOTE"};
    print_records("follow-ups", lb_map_get(cs, "follow_ups"), fk, fh, 4);
    static const char *const ok[] = {"at", "note"};
    static const char *const oh[] = {"AT", "NOTE"};
    print_records("notes", lb_map_get(cs, "notes"), ok, oh, 2);
    static const char *const ek[] = {"step", "level", "at", "acked_at", "acked_by"};
    static const char *const eh[] = {"STEP", "LEVEL", "AT", "ACKED", "BY"};
    print_records("escalations", lb_map_get(cs, "escalations"), ek, eh, 5);
    static const char *const tk[] = {"due", "step", "level"};
    static const char *const th[] = {"DUE", "STEP", "LEVEL"};
    print_records("timers", lb_map_get(cs, "timers"), tk, th, 3);
}

static int cmd_show(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 1, 1)
    lb_val_t *args = lb_map(), *reply = NULL;
    if (!args || lb_map_set_str(args, "case_id", a.pos[0])) {
        lb_val_free(&args);
        return EX_UNREACHABLE;
    }
    rc = request(app, "case.get", args, &reply);
    if (rc == 0) {
        if (app->json)
            print_json(lbc_reply_result(reply));
        else
            show_case(lbc_reply_result(reply));
    }
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

/* ---- history ---- */

static int cmd_history(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"after=", NULL};
    PROLOGUE(spec, 1, 1)
    int64_t after = 0;
    if (opt(&a, "after") && !parse_count(opt(&a, "after"), 0, INT64_MAX, &after)) {
        usage_error(argv[0], "--after must be a seq number");
        return EX_USAGE;
    }
    lb_val_t *all = lb_arr(), *args = NULL, *reply = NULL;
    if (!all)
        return EX_UNREACHABLE;
    /* Page until a short page: a long-lived case may have more events than one reply holds. */
    for (;;) {
        args = lb_map();
        if (!args || lb_map_set_str(args, "case_id", a.pos[0]) ||
            (after > 0 && lb_map_set_int(args, "after_seq", after)) ||
            lb_map_set_int(args, "limit", HISTORY_PAGE)) {
            rc = EX_UNREACHABLE;
            goto done;
        }
        rc = request(app, "case.history", args, &reply);
        if (rc)
            goto done;
        const lb_val_t *evs = lb_map_get(lbc_reply_result(reply), "events");
        uint32_t n = evs && evs->type == LB_ARR ? evs->a.n : 0;
        int64_t last = after;
        for (uint32_t i = 0; i < n; i++) {
            int64_t s;
            if (lb_map_int(evs->a.items[i], "seq", &s) == 0 && s > last)
                last = s;
            if (lb_arr_push(all, lb_val_dup(evs->a.items[i]))) {
                rc = EX_UNREACHABLE;
                goto done;
            }
        }
        lb_val_free(&args);
        lb_val_free(&reply);
        if (n < HISTORY_PAGE || last <= after)
            break;
        after = last;
    }
    if (app->json) {
        lb_val_t *res = lb_map();
        if (res && lb_map_set(res, "events", all) == 0)
            print_json(res);
        all = NULL;
        lb_val_free(&res);
        goto done;
    }
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
done:
    lb_val_free(&all);
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

/* ---- find ---- */

static int cmd_find(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"house=", "nid=", NULL};
    PROLOGUE(spec, 0, 0)
    const char *house = opt(&a, "house"), *nid = opt(&a, "nid");
    if (!house == !nid) {
        usage_error(argv[0], "give exactly one of --house HOUSE_ID and --nid NATIONAL_ID");
        return EX_USAGE;
    }
    lb_val_t *args = lb_map(), *reply = NULL;
    if (!args || lb_map_set_str(args, house ? "house_id" : "nid", house ? house : nid)) {
        lb_val_free(&args);
        return EX_UNREACHABLE;
    }
    rc = request(app, "case.find", args, &reply);
    if (rc == 0) {
        const lb_val_t *res = lbc_reply_result(reply), *cases = lb_map_get(res, "cases");
        if (app->json) {
            print_json(res);
        } else if (!cases || cases->type != LB_ARR || cases->a.n == 0) {
            fprintf(stderr, "no cases\n");
        } else {
            for (uint32_t i = 0; i < cases->a.n; i++) {
                char *s = val_text(cases->a.items[i]);
                printf("%s\n", s ? s : "");
                free(s);
            }
        }
    }
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

/* ---- list ---- */

static int cmd_list(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {
        "area=", "state=", "team=", "workflow=", "overdue", "limit=", NULL};
    PROLOGUE(spec, 0, 0)
    int64_t limit = 100;
    if (opt(&a, "limit") && !parse_count(opt(&a, "limit"), 1, INT64_MAX, &limit)) {
        usage_error(argv[0], "--limit must be a positive number");
        return EX_USAGE;
    }
    lb_val_t *all = lb_arr(), *args = NULL, *reply = NULL;
    char *cursor = NULL;
    if (!all)
        return EX_UNREACHABLE;
    while ((int64_t)all->a.n < limit) {
        int64_t want = limit - (int64_t)all->a.n;
        args = lb_map();
        int e = args ? 0 : LB_ENOMEM;
        if (!e)
            e = set_opt_str(args, "area", opt(&a, "area"));
        if (!e)
            e = set_opt_str(args, "state", opt(&a, "state"));
        if (!e)
            e = set_opt_str(args, "team", opt(&a, "team"));
        if (!e)
            e = set_opt_str(args, "workflow", opt(&a, "workflow"));
        if (!e && flag(&a, "overdue"))
            e = lb_map_set_bool(args, "overdue", true);
        if (!e)
            e = lb_map_set_int(args, "limit", want > LIST_PAGE_MAX ? LIST_PAGE_MAX : want);
        if (!e && cursor)
            e = lb_map_set_str(args, "after", cursor);
        if (e) {
            rc = EX_UNREACHABLE;
            goto done;
        }
        rc = request(app, "case.list", args, &reply);
        if (rc)
            goto done;
        const lb_val_t *res = lbc_reply_result(reply);
        const lb_val_t *cases = lb_map_get(res, "cases");
        for (uint32_t i = 0; cases && cases->type == LB_ARR && i < cases->a.n; i++)
            if ((int64_t)all->a.n < limit && lb_arr_push(all, lb_val_dup(cases->a.items[i]))) {
                rc = EX_UNREACHABLE;
                goto done;
            }
        free(cursor);
        cursor = lb_map_str(res, "next") ? strdup(lb_map_str(res, "next")) : NULL;
        bool empty = !cases || cases->type != LB_ARR || cases->a.n == 0;
        lb_val_free(&args);
        lb_val_free(&reply);
        if (!cursor || empty)
            break;
    }
    if (app->json) {
        lb_val_t *res = lb_map();
        if (res && lb_map_set(res, "cases", all) == 0 &&
            (!cursor || !lb_map_set_str(res, "next", cursor)))
            print_json(res);
        all = NULL;
        lb_val_free(&res);
        goto done;
    }
    if (all->a.n == 0) {
        fprintf(stderr, "no cases\n");
        goto done;
    }
    static const char *const hdr[] = {"CASE",  "HOUSE", "AREA",    "WORKFLOW",  "STATE",
                                      "SINCE", "TEAM",  "OVERDUE", "ESCALATION"};
    table_t t;
    table_init(&t, 9, hdr);
    for (uint32_t i = 0; i < all->a.n; i++) {
        const lb_val_t *s = all->a.items[i];
        const lb_val_t *od = lb_map_get(s, "overdue");
        char *row[9] = {
            val_text(lb_map_get(s, "case_id")),
            val_text(lb_map_get(s, "house_id")),
            val_text(lb_map_get(s, "area")),
            val_text(lb_map_get(s, "workflow")),
            val_text(lb_map_get(s, "state")),
            time_text(s, "entered_at"),
            val_text(lb_map_get(s, "team")),
            strdup(od && od->type == LB_BOOL && od->b ? "overdue" : ""),
            val_text(lb_map_get(s, "escalation")),
        };
        table_add_owned(&t, row);
    }
    table_print(&t, stdout);
    table_free(&t);
    if (cursor)
        fprintf(stderr, "(more cases: raise --limit)\n");
done:
    free(cursor);
    lb_val_free(&all);
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

/* ---- import ---- */

typedef struct {
    size_t line;
    char *code;
    char *message;
} import_err_t;

typedef struct {
    app_t *app;
    const char *workflow, *source;
    size_t batch_max;
    lb_val_t *args;  /* the case.import arguments of the batch in hand */
    lb_val_t *batch; /* its households list (inside args) */
    size_t *lines;   /* the file line of each */
    size_t bytes;    /* their encoded size */
    int64_t opened, skipped;
    import_err_t *errs;
    size_t nerrs, caperrs;
    bool progress;
    size_t done_bytes, total_bytes;
} import_t;

static int import_add_err(import_t *im, size_t line, const char *code, const char *msg)
{
    if (im->nerrs == im->caperrs) {
        size_t cap = im->caperrs ? im->caperrs * 2 : 16;
        import_err_t *e = realloc(im->errs, cap * sizeof *e);
        if (!e)
            return LB_ENOMEM;
        im->errs = e;
        im->caperrs = cap;
    }
    import_err_t *e = &im->errs[im->nerrs];
    e->line = line;
    e->code = strdup(code);
    e->message = strdup(msg);
    if (!e->code || !e->message) {
        free(e->code);
        free(e->message);
        return LB_ENOMEM;
    }
    im->nerrs++;
    return 0;
}

static void import_progress(const import_t *im, bool final)
{
    if (!im->progress)
        return;
    if (final) {
        fprintf(stderr, "\r%79s\r", "");
        return;
    }
    int pct = im->total_bytes ? (int)(im->done_bytes * 100 / im->total_bytes) : 100;
    int bars = pct * 30 / 100;
    fprintf(stderr, "\rimport [%.*s%*s] %3d%%  opened %" PRId64 "  skipped %" PRId64 "  errors %zu",
            bars, "##############################", 30 - bars, "", pct, im->opened, im->skipped,
            im->nerrs);
    fflush(stderr);
}

/* Removes item i of the batch (its line too). */
static void batch_remove(import_t *im, uint32_t i)
{
    lb_val_t *b = im->batch;
    lb_val_free(&b->a.items[i]);
    memmove(&b->a.items[i], &b->a.items[i + 1], (b->a.n - i - 1) * sizeof *b->a.items);
    memmove(&im->lines[i], &im->lines[i + 1], (b->a.n - i - 1) * sizeof *im->lines);
    b->a.n--;
}

/* Starts an empty batch: fresh case.import arguments. */
static int import_new_batch(import_t *im)
{
    lb_val_free(&im->args);
    im->batch = NULL;
    im->bytes = 0;
    im->args = lb_map();
    if (!im->args || lb_map_set(im->args, "households", lb_arr()) ||
        set_opt_str(im->args, "workflow", im->workflow) ||
        set_opt_str(im->args, "source", im->source))
        return LB_ENOMEM;
    im->batch = lb_map_get(im->args, "households");
    return 0;
}

/*
 * Sends the batch with case.import. An item the daemon refuses as a whole
 * request (field "households.N...") is listed as that row's error and the
 * rest is sent again, so one bad row never sinks its batch.
 */
static int import_flush(import_t *im)
{
    int rc = 0;
    lb_val_t *reply = NULL;
    char err[512];
    while (im->batch->a.n > 0) {
        rc = app_connect(im->app);
        if (rc)
            goto done;
        int e = lbc_call(im->app->c, "case.import", im->args, &reply, err, sizeof err);
        if (e) {
            fprintf(stderr, "%serror: cannot reach the daemon: %s\n", im->progress ? "\n" : "",
                    err);
            rc = e == LB_EBADREQ ? EX_USAGE : EX_UNREACHABLE;
            goto done;
        }
        if (lbc_reply_ok(reply)) {
            const lb_val_t *res = lbc_reply_result(reply);
            int64_t n = 0;
            if (lb_map_int(res, "opened", &n) == 0)
                im->opened += n;
            if (lb_map_int(res, "skipped", &n) == 0)
                im->skipped += n;
            const lb_val_t *errs = lb_map_get(res, "errors");
            for (uint32_t i = 0; errs && errs->type == LB_ARR && i < errs->a.n; i++) {
                const lb_val_t *x = errs->a.items[i];
                int64_t idx = -1;
                lb_map_int(x, "index", &idx);
                const char *code = lb_map_str(x, "code"), *msg = lb_map_str(x, "message");
                const char *field = lb_map_str(x, "field");
                char full[600];
                snprintf(full, sizeof full, "%s%s%s", field && *field ? field : "",
                         field && *field ? ": " : "", msg ? msg : "");
                size_t line = (idx >= 0 && (uint64_t)idx < im->batch->a.n) ? im->lines[idx] : 0;
                if (import_add_err(im, line, code ? code : "internal", full)) {
                    rc = EX_UNREACHABLE;
                    goto done;
                }
            }
            break;
        }
        const char *code, *msg, *field;
        lbc_reply_error(reply, &code, &msg, &field);
        unsigned long idx;
        int used = 0;
        if (strncmp(field, "households.", 11) == 0 &&
            sscanf(field + 11, "%lu%n", &idx, &used) == 1 && idx < im->batch->a.n) {
            const char *rest = field + 11 + used;
            char full[600];
            snprintf(full, sizeof full, "%s%s%s", *rest == '.' ? rest + 1 : "",
                     *rest == '.' ? ": " : "", msg);
            if (import_add_err(im, im->lines[idx], code, full)) {
                rc = EX_UNREACHABLE;
                goto done;
            }
            /* Different content, so lbc_call gives the next try a new request id. */
            batch_remove(im, (uint32_t)idx);
            lb_val_free(&reply);
            continue;
        }
        if (im->progress)
            fputc('\n', stderr);
        print_error_reply(reply);
        rc = EX_REFUSED;
        goto done;
    }
    if (import_new_batch(im))
        rc = EX_UNREACHABLE;
done:
    lb_val_free(&reply);
    return rc;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

enum { COL_HOUSE, COL_AREA, COL_HEAD, COL_NID, COL_DEPRIVED, COL_COUNT };
static const char *const col_names[COL_COUNT] = {"house_id", "area", "head", "nid", "deprived"};

/* A household map from one CSV row, by the header's column positions. */
static lb_val_t *row_household(lbc_csv_row_t *row, const int *col)
{
    lb_val_t *hh = lb_map();
    int e = hh ? 0 : LB_ENOMEM;
    const char *v[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++)
        v[c] = col[c] >= 0 ? trim(row->fields[col[c]]) : "";
    if (!e)
        e = lb_map_set_str(hh, "house_id", v[COL_HOUSE]);
    if (!e)
        e = lb_map_set_str(hh, "area", v[COL_AREA]);
    if (!e && *v[COL_HEAD])
        e = lb_map_set_str(hh, "head", v[COL_HEAD]);
    if (!e && *v[COL_NID]) {
        lb_val_t *members = lb_arr(), *m = lb_map();
        if (!members || !m || lb_map_set_str(m, "nid", v[COL_NID])) {
            lb_val_free(&members);
            lb_val_free(&m);
            e = LB_ENOMEM;
        } else {
            e = lb_arr_push(members, m);
            if (!e)
                e = lb_map_set(hh, "members", members);
            else
                lb_val_free(&members);
        }
    }
    if (!e && *v[COL_DEPRIVED]) {
        lb_val_t *d = lb_arr();
        e = d ? push_list(d, v[COL_DEPRIVED], ';') : LB_ENOMEM;
        if (!e)
            e = lb_map_set(hh, "deprived", d);
        else
            lb_val_free(&d);
    }
    if (e)
        lb_val_free(&hh);
    return hh;
}

static int read_file(const char *path, char **data, size_t *len)
{
    int rc = 0;
    char *buf = NULL;
    size_t n = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = -errno;
        goto done;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > IMPORT_FILE_MAX) {
        rc = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
        goto done;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto done;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            goto done;
        }
        n += (size_t)r;
    }
done:
    if (fd >= 0)
        close(fd);
    if (rc) {
        free(buf);
        buf = NULL;
    }
    *data = buf;
    *len = n;
    return rc;
}

static int cmp_err(const void *x, const void *y)
{
    const import_err_t *a = x, *b = y;
    return a->line < b->line ? -1 : a->line > b->line;
}

static int cmd_import(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"workflow=", "source=", "batch=", NULL};
    PROLOGUE(spec, 1, 1)
    import_t im = {.app = app,
                   .workflow = opt(&a, "workflow"),
                   .source = opt(&a, "source"),
                   .batch_max = PROTO_IMPORT_MAX};
    char *data = NULL;
    size_t len = 0;
    lbc_csv_t r;
    lbc_csv_row_t row = {0};
    lb_buf_t scratch;
    char err[256];
    int col[COL_COUNT];
    int64_t bm;
    lb_buf_init(&scratch);
    if (opt(&a, "batch")) {
        if (!parse_count(opt(&a, "batch"), 1, PROTO_IMPORT_MAX, &bm)) {
            usage_error(argv[0], "--batch must be 1-%d", PROTO_IMPORT_MAX);
            return EX_USAGE;
        }
        im.batch_max = (size_t)bm;
    }
    int e = read_file(a.pos[0], &data, &len);
    if (e) {
        fprintf(stderr, "error: %s: %s\n", a.pos[0], strerror(-e));
        return EX_USAGE;
    }
    im.lines = calloc(im.batch_max, sizeof *im.lines);
    if (!im.lines || import_new_batch(&im)) {
        rc = EX_UNREACHABLE;
        goto done;
    }
    im.progress = isatty(STDERR_FILENO);
    im.total_bytes = len;

    lbc_csv_init(&r, data, len);
    e = lbc_csv_next(&r, &row, err, sizeof err);
    if (e) {
        fprintf(stderr, "error: %s: %s\n", a.pos[0],
                e == LB_ENOTFOUND ? "empty file, expected a header line" : err);
        rc = EX_USAGE;
        goto done;
    }
    for (int c = 0; c < COL_COUNT; c++)
        col[c] = -1;
    for (size_t i = 0; i < row.n; i++) {
        char *name = trim(row.fields[i]);
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int found = -1;
        for (int c = 0; c < COL_COUNT; c++)
            if (strcmp(name, col_names[c]) == 0)
                found = c;
        if (found < 0 || col[found] >= 0) {
            fprintf(stderr,
                    "error: %s: line %zu: %s column '%s' (expected house_id, area, head, "
                    "nid, deprived)\n",
                    a.pos[0], row.line, found < 0 ? "unknown" : "repeated", name);
            rc = EX_USAGE;
            goto done;
        }
        col[found] = (int)i;
    }
    if (col[COL_HOUSE] < 0 || col[COL_AREA] < 0) {
        fprintf(stderr, "error: %s: the header needs house_id and area columns\n", a.pos[0]);
        rc = EX_USAGE;
        goto done;
    }
    size_t ncols = row.n;

    for (;;) {
        e = lbc_csv_next(&r, &row, err, sizeof err);
        if (e == LB_ENOTFOUND)
            break;
        if (e == LB_ENOMEM) {
            rc = EX_UNREACHABLE;
            goto done;
        }
        const char *msg = err;
        char buf[160];
        if (e == 0 && row.n != ncols) {
            snprintf(buf, sizeof buf, "line %zu: expected %zu fields, found %zu", row.line, ncols,
                     row.n);
            msg = buf;
            e = LB_EBADREQ;
        }
        if (e) {
            /* "line N: why" -> the line goes in its own field */
            const char *why = strstr(msg, ": ");
            if (import_add_err(&im, row.line, "bad_request", why ? why + 2 : msg)) {
                rc = EX_UNREACHABLE;
                goto done;
            }
            continue;
        }
        lb_val_t *hh = row_household(&row, col);
        scratch.len = 0;
        if (!hh || proto_pack(hh, &scratch) != 0) {
            lb_val_free(&hh);
            rc = EX_UNREACHABLE;
            goto done;
        }
        if (im.batch->a.n > 0 && im.bytes + scratch.len > IMPORT_BATCH_BYTES) {
            im.done_bytes = r.pos;
            rc = import_flush(&im);
            import_progress(&im, false);
            if (rc) {
                lb_val_free(&hh);
                goto done;
            }
        }
        im.lines[im.batch->a.n] = row.line;
        if (lb_arr_push(im.batch, hh)) {
            rc = EX_UNREACHABLE;
            goto done;
        }
        im.bytes += scratch.len;
        if (im.batch->a.n >= im.batch_max) {
            im.done_bytes = r.pos;
            rc = import_flush(&im);
            import_progress(&im, false);
            if (rc)
                goto done;
        }
    }
    if (im.batch->a.n > 0) {
        rc = import_flush(&im);
        if (rc)
            goto done;
    }
    import_progress(&im, true);
    qsort(im.errs, im.nerrs, sizeof *im.errs, cmp_err);
    if (app->json) {
        lb_val_t *res = lb_map(), *errs = lb_arr();
        int je = (!res || !errs) ? LB_ENOMEM : 0;
        for (size_t i = 0; !je && i < im.nerrs; i++) {
            lb_val_t *x = lb_map();
            je = x ? 0 : LB_ENOMEM;
            if (!je)
                je = lb_map_set_int(x, "line", (int64_t)im.errs[i].line);
            if (!je)
                je = lb_map_set_str(x, "code", im.errs[i].code);
            if (!je)
                je = lb_map_set_str(x, "message", im.errs[i].message);
            if (!je)
                je = lb_arr_push(errs, x);
            else
                lb_val_free(&x);
        }
        if (!je)
            je = lb_map_set_int(res, "opened", im.opened);
        if (!je)
            je = lb_map_set_int(res, "skipped", im.skipped);
        if (!je) {
            je = lb_map_set(res, "errors", errs);
            errs = NULL;
        }
        if (!je)
            print_json(res);
        lb_val_free(&errs);
        lb_val_free(&res);
    } else {
        printf("opened %" PRId64 ", skipped %" PRId64 " (already open), errors %zu\n", im.opened,
               im.skipped, im.nerrs);
        for (size_t i = 0; i < im.nerrs; i++)
            printf("line %zu: %s: %s\n", im.errs[i].line, im.errs[i].code, im.errs[i].message);
    }
    /* Rows that were not imported make the run a failure for scripts. */
    rc = im.nerrs ? EX_REFUSED : EX_OK;
done:
    if (rc && rc != EX_REFUSED && (im.opened || im.skipped))
        fprintf(stderr,
                "note: %" PRId64 " households were opened and %" PRId64
                " skipped before the import stopped; running it again skips them\n",
                im.opened, im.skipped);
    for (size_t i = 0; i < im.nerrs; i++) {
        free(im.errs[i].code);
        free(im.errs[i].message);
    }
    free(im.errs);
    free(im.lines);
    lb_val_free(&im.args);
    lbc_csv_row_free(&row);
    lb_buf_free(&scratch);
    free(data);
    return rc;
}

/* ---- watch ---- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int cmd_watch(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"after=", NULL};
    PROLOGUE(spec, 0, -1)
    int64_t after = -1;
    char err[512] = "";
    lbc_sub_t *sub = NULL;
    lb_val_t *body = NULL;
    if (opt(&a, "after") && !parse_count(opt(&a, "after"), 0, INT64_MAX, &after)) {
        usage_error(argv[0], "--after must be a seq number");
        return EX_USAGE;
    }
    /* Ctrl-C and SIGTERM stop the loop below: the handlers are in place first, and the
     * signals are blocked while libzmq starts its threads so that only this thread
     * takes them (STYLE.md). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigset_t stopset, oldset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopset, &oldset);
    rc = app_connect(app);
    lbc_sub_opts_t so = {
        .endpoint = app->events_endpoint,
        .topics = a.pos,
        .ntopics = (size_t)a.npos,
        .after_seq = after >= 0 ? (uint64_t)after : LBC_SEQ_NOW,
    };
    int e = rc ? 0 : lbc_sub_open(app->c, &so, &sub, err, sizeof err);
    pthread_sigmask(SIG_SETMASK, &oldset, NULL);
    if (rc)
        return rc;
    if (e) {
        fprintf(stderr, "error: cannot subscribe to %s: %s\n", app->events_endpoint, err);
        return e == LB_EUNAVAIL || e == LB_EIO ? EX_UNREACHABLE : EX_REFUSED;
    }
    if (!app->json)
        fprintf(stderr, "watching %s from seq %llu (Ctrl-C to stop)\n", app->events_endpoint,
                (unsigned long long)lbc_sub_cursor(sub));
    while (!stop_flag) {
        uint64_t seq = 0;
        e = lbc_sub_next(sub, 500, &seq, &body, NULL, err, sizeof err);
        if (e == LB_ENOTFOUND)
            continue;
        if (e == LB_EUNAVAIL || e == LB_ECORRUPT) {
            /* Keep watching: the repair is retried on the next call. */
            fprintf(stderr, "warning: %s\n", err);
            continue;
        }
        if (e) {
            fprintf(stderr, "error: %s\n", err);
            rc = e == LB_EIO ? EX_UNREACHABLE : EX_REFUSED;
            break;
        }
        if (app->json) {
            lb_val_fprint_json(body, 0, stdout);
            fputc('\n', stdout);
        } else {
            char topic[128] = "", when[32];
            int64_t at = 0;
            lbc_event_topic(body, topic, sizeof topic);
            lb_map_int(body, "at", &at);
            lbc_format_time(at, when, sizeof when);
            const char *from = lb_map_str(body, "from"), *to = lb_map_str(body, "to");
            const char *action = lb_map_str(body, "action"), *level = lb_map_str(body, "level");
            printf("%" PRIu64 "  %s  %-22s %s  %s", seq, when, topic,
                   lb_map_str(body, "case_id") ? lb_map_str(body, "case_id") : "?",
                   lb_map_str(body, "type") ? lb_map_str(body, "type") : "");
            if (action)
                printf("  %s", action);
            if (from && to && strcmp(from, to) != 0)
                printf("  %s -> %s", from, to);
            if (level)
                printf("  level %s", level);
            printf("  by %s\n", lb_map_str(body, "actor") ? lb_map_str(body, "actor") : "?");
        }
        fflush(stdout);
        lb_val_free(&body);
    }
    if (stop_flag && !app->json)
        fprintf(stderr, "stopped at seq %llu (resume with --after %llu)\n",
                (unsigned long long)lbc_sub_cursor(sub), (unsigned long long)lbc_sub_cursor(sub));
    lb_val_free(&body);
    lbc_sub_destroy(&sub);
    return rc;
}

/* ---- keygen ---- */

static int cmd_keygen(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"dir=", "force", NULL};
    PROLOGUE(spec, 1, 1)
    const char *dir = opt(&a, "dir") ? opt(&a, "dir") : ".";
    const char *name = a.pos[0];
    char pub[4096], sec[4096], err[512] = "";
    lb_cert_t *c = NULL;
    if (strchr(name, '/') || !*name) {
        usage_error(argv[0], "NAME must not contain '/' (use --dir)");
        return EX_USAGE;
    }
    snprintf(pub, sizeof pub, "%s/%s.key", dir, name);
    snprintf(sec, sizeof sec, "%s/%s.key_secret", dir, name);
    /* Replacing a secret key locks its owner out: only on request. */
    if (!flag(&a, "force") && (access(pub, F_OK) == 0 || access(sec, F_OK) == 0)) {
        fprintf(stderr, "error: %s already exists (use --force to replace it)\n",
                access(sec, F_OK) == 0 ? sec : pub);
        return EX_REFUSED;
    }
    int e = lb_cert_generate(&c);
    if (e == 0)
        e = lb_cert_save_files(c, pub, sec, err, sizeof err);
    if (e) {
        fprintf(stderr, "error: %s\n", *err ? err : lb_strerror(e));
        lb_cert_destroy(&c);
        return EX_REFUSED;
    }
    if (app->json) {
        lb_val_t *res = lb_map();
        if (res && !lb_map_set_str(res, "public_key", c->public_z85) &&
            !lb_map_set_str(res, "public_file", pub) && !lb_map_set_str(res, "secret_file", sec))
            print_json(res);
        lb_val_free(&res);
    } else {
        printf("wrote %s and %s (mode 0600)\n", pub, sec);
        printf("public key: %s\n\n", c->public_z85);
        printf("to admit it, add to the daemon's clients registry and reload:\n"
               "  - name: %s\n    public_key: \"%s\"\n    role: field\n    areas: [\"...\"]\n",
               name, c->public_z85);
    }
    lb_cert_destroy(&c);
    return EX_OK;
}

/* ---- verify ---- */

static int cmd_verify(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 0, 0)
    lb_val_t *reply = NULL;
    rc = request(app, "admin.verify", NULL, &reply);
    if (rc)
        return rc;
    const lb_val_t *res = lbc_reply_result(reply), *ok = lb_map_get(res, "ok");
    bool good = ok && ok->type == LB_BOOL && ok->b;
    int64_t events = 0, bad = 0;
    lb_map_int(res, "events", &events);
    if (app->json) {
        print_json(res);
    } else if (good) {
        printf("audit chain ok: %" PRId64 " events\n", events);
    } else if (lb_map_int(res, "first_bad_seq", &bad) == 0) {
        printf("audit chain BROKEN: first bad seq %" PRId64 " (of %" PRId64 " events)\n", bad,
               events);
    } else {
        printf("audit chain BROKEN (%" PRId64 " events)\n", events);
    }
    lb_val_free(&reply);
    return good ? EX_OK : EX_REFUSED;
}

/* ---- admin ---- */

/* The admin.clock limit: ten 365-day years (PROTOCOL.md 9.4). */
#define CLOCK_ADVANCE_MAX INT64_C(315360000)

/* "8d", "12h", "30m", "45s" or plain seconds, as seconds; false when malformed or too far. */
static bool parse_advance(const char *s, int64_t *secs)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int64_t unit = 1;
    if (*end && !end[1]) {
        switch (*end) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            return false;
        }
    } else if (*end) {
        return false;
    }
    if (errno || v < 0 || v > CLOCK_ADVANCE_MAX / unit)
        return false;
    *secs = (int64_t)v * unit;
    return true;
}

static int cmd_admin(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 1, 2)
    const char *sub = a.pos[0];
    lb_val_t *args = NULL, *reply = NULL;
    char *abs = NULL;
    const char *op;
    if (strcmp(sub, "stats") == 0 && a.npos == 1) {
        op = "admin.stats";
    } else if (strcmp(sub, "reload") == 0 && a.npos == 1) {
        op = "admin.reload";
    } else if (strcmp(sub, "backup") == 0 && a.npos == 2) {
        op = "admin.backup";
        const char *path = a.pos[1];
        /* The daemon writes the file; a relative path means relative to here, not to it. */
        if (path[0] != '/') {
            char cwd[4096];
            if (!getcwd(cwd, sizeof cwd) || asprintf(&abs, "%s/%s", cwd, path) < 0) {
                fprintf(stderr, "error: cannot resolve %s\n", path);
                return EX_USAGE;
            }
            path = abs;
        }
        args = lb_map();
        if (!args || lb_map_set_str(args, "path", path)) {
            rc = EX_UNREACHABLE;
            goto done;
        }
    } else if (strcmp(sub, "clock") == 0 && a.npos == 2) {
        op = "admin.clock";
        int64_t secs;
        if (!parse_advance(a.pos[1], &secs)) {
            usage_error(argv[0],
                        "clock: ADVANCE must be like 8d, 12h, 30m, 45s or plain seconds, "
                        "at most %" PRId64 " seconds",
                        CLOCK_ADVANCE_MAX);
            return EX_USAGE;
        }
        args = lb_map();
        if (!args || lb_map_set_int(args, "advance_s", secs)) {
            rc = EX_UNREACHABLE;
            goto done;
        }
    } else {
        fprintf(stderr, "usage: logbook %s\n", find_command("admin")->usage);
        return EX_USAGE;
    }
    rc = request(app, op, args, &reply);
    if (rc)
        goto done;
    const lb_val_t *res = lbc_reply_result(reply);
    if (app->json) {
        print_json(res);
    } else if (strcmp(op, "admin.stats") == 0) {
        for (uint32_t i = 0; res && res->type == LB_MAP && i < res->m.n; i++) {
            char *s = val_text(res->m.vals[i]);
            printf("%-20s %s\n", res->m.keys[i], s ? s : "");
            free(s);
        }
    } else if (strcmp(op, "admin.backup") == 0) {
        int64_t bytes = 0;
        lb_map_int(res, "bytes", &bytes);
        printf("backup written to %s (%" PRId64 " bytes)\n", lb_map_str(args, "path"), bytes);
    } else if (strcmp(op, "admin.clock") == 0) {
        int64_t now = 0;
        char when[32];
        lb_map_int(res, "now", &now);
        lbc_format_time(now, when, sizeof when);
        printf("daemon clock now %s (%" PRId64 " ms)\n", when, now);
    } else {
        printf("reloaded workflows and clients registry\n");
    }
done:
    free(abs);
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

/* ---- workflows ---- */

static int cmd_workflows(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 0, 0)
    lb_val_t *reply = NULL;
    rc = request(app, "workflow.list", NULL, &reply);
    if (rc)
        return rc;
    const lb_val_t *res = lbc_reply_result(reply);
    if (app->json) {
        print_json(res);
    } else {
        static const char *const hdr[] = {"WORKFLOW", "VERSION", "INITIAL", "STATES"};
        table_t t;
        table_init(&t, 4, hdr);
        for (uint32_t i = 0; res && res->type == LB_ARR && i < res->a.n; i++) {
            const lb_val_t *w = res->a.items[i];
            char *row[4] = {val_text(lb_map_get(w, "name")), val_text(lb_map_get(w, "version")),
                            val_text(lb_map_get(w, "initial")), val_text(lb_map_get(w, "states"))};
            table_add_owned(&t, row);
        }
        table_print(&t, stdout);
        table_free(&t);
    }
    lb_val_free(&reply);
    return EX_OK;
}

/* ---- report ---- */

/* Kept with the command it serves: the rest of this file does not use it. */
#include "../logbook-report/cli.h"

/* The same code as logbook-report, so both print the same thing. */
static int cmd_report(app_t *app, int argc, char **argv)
{
    lbc_report_cli_t cli = {
        .endpoint = app->endpoint,
        .events_endpoint = app->events_endpoint,
        .client_cert = app->cert,
        .server_cert = app->server_cert,
        .no_curve = app->no_curve,
        .json = app->json,
        .timeout_ms = app->timeout_ms,
        .retries = app->retries,
    };
    return lbc_report_main("logbook report", &cli, argc, argv);
}

/* ---------------------------------------------------------------------- */

static const command_t commands[] = {
    {"ping", cmd_ping, "ping", "Checks that the daemon answers; prints its version and last seq."},
    {"open", cmd_open,
     "open HOUSE_ID AREA [--workflow W] [--head NAME] [--member NID[:NAME]]... "
     "[--deprived CODE,...] [--source tpmap|socialmap|field] [--team T]",
     "Opens a case for a household (11-digit house id, 8-digit village code)."},
    {"act", cmd_act, "act CASE ACTION [KEY=VALUE...] [--at TIME] [--expect STATE]",
     "Runs a workflow action. KEY=VALUE pairs form its data: dotted keys nest\n"
     "(findings.income=bmn22,bmn20), a comma makes a list (x, = one-item list),\n"
     "whole numbers stay numbers, \"...\" keeps text as is. TIME is unix ms or\n"
     "ISO-8601 (2024-03-01, 2024-03-01T14:30, ...Z or +07:00; local time otherwise)."},
    {"schedule", cmd_schedule, "schedule CASE TEAM [--at TIME]",
     "Schedules a visit by TEAM (the workflow's action that requires a team)."},
    {"visit", cmd_visit,
     "visit CASE DIMENSION=CODE[,CODE...]... [--team T] [--note TEXT] [--at TIME]",
     "Records a visit and its findings, e.g. visit C000000001 income=bmn22 health=bmn4,bmn7."},
    {"assist", cmd_assist,
     "assist CASE --agency A --dimension D --kind K [--amount THB] [--meets CODE,...] "
     "[--note TEXT] [--at TIME]",
     "Records assistance; kind is cash, goods, occupation, training, loan, housing,\n"
     "health_service, education_support, welfare_registration, referral or other."},
    {"followup", cmd_followup, "followup CASE LEVEL [--met CODE,...] [--note TEXT] [--at TIME]",
     "Records a follow-up at LEVEL survive, sufficient or sustainable."},
    {"close", cmd_close, "close CASE REASON [--note TEXT] [--at TIME]",
     "Closes the case without resolution (moved, deceased, refused, duplicate, not_poor)."},
    {"resolve", cmd_resolve, "resolve CASE LEVEL [--note TEXT] [--at TIME]",
     "Resolves the case at LEVEL sufficient or sustainable."},
    {"ack", cmd_ack, "ack CASE [--note TEXT]",
     "Acknowledges the case's latest escalation (committee)."},
    {"show", cmd_show, "show CASE", "Shows a case with its records, escalations and timers."},
    {"history", cmd_history, "history CASE [--after SEQ]", "Lists a case's events."},
    {"find", cmd_find, "find --house HOUSE_ID | --nid NATIONAL_ID", "Finds cases of a household."},
    {"list", cmd_list,
     "list [--area A] [--state S] [--team T] [--workflow W] [--overdue] [--limit N]",
     "Lists case summaries (default limit 100), following the daemon's cursor."},
    {"import", cmd_import, "import FILE.csv [--workflow W] [--source S] [--batch N]",
     "Opens cases from a CSV file with the header house_id,area,head,nid,deprived\n"
     "(deprived codes separated by ';'). UTF-8, with or without BOM, CRLF or LF.\n"
     "Prints opened/skipped counts and every refused row with its line; exits 1\n"
     "when any row was refused. Running it again skips the households already open."},
    {"watch", cmd_watch, "watch [TOPIC_PREFIX...] [--after SEQ] [-E EVENTS_ENDPOINT]",
     "Prints events as they happen, one per line (topic = KIND.AREA, e.g.\n"
     "escalation.6501), with gaps repaired. --after replays from a seq on."},
    {"keygen", cmd_keygen, "keygen NAME [--dir D] [--force]",
     "Writes a CURVE certificate pair D/NAME.key and D/NAME.key_secret (0600)."},
    {"verify", cmd_verify, "verify",
     "Recomputes the audit chain (admin.verify); exits 1 when it is broken."},
    {"admin", cmd_admin, "admin stats | admin backup PATH | admin reload | admin clock ADVANCE",
     "Daemon statistics, a hot backup to PATH (on the daemon's machine), a reload\n"
     "of workflows and the clients registry, or moving the clock of a daemon run\n"
     "with --clock manual forward by ADVANCE (8d, 12h, 30m, 45s or plain seconds;\n"
     "escalations due by then fire at once); prints the daemon's new time."},
    {"workflows", cmd_workflows, "workflows", "Lists the loaded workflows."},
    {"report", cmd_report,
     "report [--area A] [--by LEVEL] [--format text|csv|html|json] [-o FILE] [--watch SECONDS]",
     "The committee's report: per child area the households targeted, visited, assisted,\n"
     "resolved, open needs per dimension, overdue, unacknowledged escalations and levels\n"
     "reached, as text, CSV or one HTML page (logbook report --help for the details)."},
};

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; name && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void main_usage(FILE *f)
{
    fprintf(f,
            "usage: logbook [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
            "global options (also accepted after the command):\n"
            "  -e, --endpoint EP         requests endpoint ($LOGBOOK_ENDPOINT, %s)\n"
            "  -E, --events-endpoint EP  events endpoint ($LOGBOOK_EVENTS_ENDPOINT, %s)\n"
            "  -k, --cert FILE           client secret certificate ($LOGBOOK_CERT, %s)\n"
            "  -s, --server-cert FILE    server public certificate ($LOGBOOK_SERVER_CERT, %s)\n"
            "      --no-curve            plain connection, for a daemon run with curve: false\n"
            "      --json                print results as JSON\n"
            "      --timeout MS          wait per try (default %d); --retries N (default %d)\n"
            "  -h, --help                this text; COMMAND --help for a command\n\n"
            "commands:\n",
            LBC_DEFAULT_ENDPOINT, LBC_DEFAULT_EVENTS_ENDPOINT, LBC_DEFAULT_CERT,
            LBC_DEFAULT_SERVER_CERT, LBC_DEFAULT_TIMEOUT_MS, LBC_DEFAULT_RETRIES);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f,
            "\nexit status: 0 ok, 1 refused by the daemon, 2 usage error, 3 daemon unreachable\n");
}

int main(int argc, char **argv)
{
    lbc_paths_t p = lbc_default_paths();
    app_t app = {
        .endpoint = p.endpoint,
        .events_endpoint = p.events_endpoint,
        .cert = p.client_cert,
        .server_cert = p.server_cert,
        .timeout_ms = 0,
        .retries = -1,
    };
    int i = 1;
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            main_usage(stdout);
            return EX_OK;
        }
        int g = global_opt(&app, argc, argv, &i);
        if (g <= 0) {
            fprintf(stderr, "logbook: %s %s\n", argv[i],
                    g < 0 ? "needs a value" : "is not a global option");
            main_usage(stderr);
            return EX_USAGE;
        }
        i++;
    }
    if (i >= argc) {
        main_usage(stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 < argc && find_command(argv[i + 1]))
            return show_help(argv[i + 1]);
        main_usage(stdout);
        return EX_OK;
    }
    const command_t *cmd = find_command(argv[i]);
    if (!cmd) {
        fprintf(stderr, "logbook: unknown command '%s'\n", argv[i]);
        main_usage(stderr);
        return EX_USAGE;
    }
    int rc = cmd->fn(&app, argc - i, argv + i);
    lbc_destroy(&app.c);
    return rc;
}
