/*
 * core.c - what every logbook command stands on: option parsing, connecting, one request
 * with its error printing, and builders for request arguments.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logbook.h"

/* ---------------------------------------------------------------------- */
/* Arguments                                                               */
/* ---------------------------------------------------------------------- */

void usage_error(const char *cmd, const char *fmt, ...)
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
int global_opt(app_t *app, int argc, char **argv, int *i)
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
            app->installed_keys = false;
            break;
        case 2:
            app->server_cert = val;
            app->installed_keys = false;
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
    const char *after_opt = NULL; /* the spec of the option whose value argv[i - 1] was */
    bool dashdash = false;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (dashdash || s[0] != '-' || s[1] == '\0' || looks_negative_number(s)) {
            if (a->npos >= ARGS_MAX) {
                usage_error(cmd, "too many arguments");
                return EX_USAGE;
            }
            a->pos_after[a->npos] = i > 1 ? after_opt : NULL;
            a->pos_prev[a->npos] = i > 1 ? argv[i - 1] : "";
            a->pos[a->npos++] = s;
            after_opt = NULL;
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
        after_opt = NULL;
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
        after_opt = takes && !eq ? def : NULL;
    }
    return 0;
}

/* The value of option name (spec spelling without '='), or NULL; the last one wins. */
const char *opt(const args_t *a, const char *name)
{
    size_t n = strlen(name);
    const char *v = NULL;
    for (int k = 0; k < a->nopts; k++)
        if (strncmp(a->opt_name[k], name, n) == 0 &&
            (a->opt_name[k][n] == '=' || a->opt_name[k][n] == '\0'))
            v = a->opt_val[k] ? a->opt_val[k] : "";
    return v;
}

bool flag(const args_t *a, const char *name)
{
    return opt(a, name) != NULL;
}

/* Common prologue: parse, answer --help, check the positional count. */
int prologue(app_t *app, int argc, char **argv, const char *const *spec, args_t *a, int min_pos,
             int max_pos, bool *done)
{
    *done = false;
    int rc = parse_args(app, argc, argv, spec, a);
    if (rc)
        return rc;
    if (a->help) {
        *done = true;
        return show_help(argv[0]);
    }
    app->endpoint = endpoint_with_scheme(app->endpoint, app->ep_buf, sizeof app->ep_buf);
    app->events_endpoint =
        endpoint_with_scheme(app->events_endpoint, app->ev_buf, sizeof app->ev_buf);
    const command_t *c = find_command(argv[0]);
    const char *usage = c ? c->usage : argv[0];
    if (a->npos < min_pos || (max_pos >= 0 && a->npos > max_pos))
        return count_error(argv[0], usage, a, min_pos, max_pos);
    return check_positionals(argv[0], usage, a);
}

/* ---------------------------------------------------------------------- */
/* Connection and requests                                                 */
/* ---------------------------------------------------------------------- */

int app_connect(app_t *app)
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
    if (!app->no_curve && app->installed_keys)
        fprintf(stderr, "logbook: no %s here; using the installed daemon's %s and %s\n",
                LBC_DEFAULT_CERT, app->cert, app->server_cert);
    /*
     * First contact: a plain connect, bounded, says at once when nobody
     * listens. The request timeout and retries stay as they are, for links
     * that are slow but up (logbook(1), "Timeouts").
     */
    int probe_ms = app->timeout_ms > PROBE_TIMEOUT_MS ? app->timeout_ms : PROBE_TIMEOUT_MS;
    if (probe_endpoint(app->endpoint, probe_ms, err, sizeof err) != 0) {
        fprintf(stderr,
                "error: cannot reach logbookd at %s: is it running? (`make run`, or "
                "`systemctl status logbookd`) [%s]\n",
                app->endpoint, err);
        return EX_UNREACHABLE;
    }
    int rc = lbc_connect(&o, &app->c, err, sizeof err);
    if (rc == 0)
        return 0;
    fprintf(stderr, "error: cannot connect to %s: %s\n", app->endpoint, err);
    if ((rc == LB_EIO || rc == LB_ECONFIG) && strcmp(app->cert, LBC_DEFAULT_CERT) == 0 &&
        access("var/data", F_OK) != 0)
        fprintf(stderr,
                "hint: no var/data here (the folder `make run` keeps its data in), and no "
                "installed daemon's keys in %s\n",
                LBC_INSTALLED_CERT);
    if (rc == LB_EIO || rc == LB_ECONFIG)
        fprintf(stderr, "hint: set -k/-s (or $LOGBOOK_CERT, $LOGBOOK_SERVER_CERT) to the client "
                        "secret and server public certificates, or --no-curve\n");
    return rc == LB_EBADREQ ? EX_USAGE : EX_UNREACHABLE;
}

void print_error_reply(const lb_val_t *reply)
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
int request(app_t *app, const char *op, const lb_val_t *args, lb_val_t **reply)
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

int request_print(app_t *app, const char *op, const lb_val_t *args, text_fn text, const void *ctx)
{
    lb_val_t *reply = NULL;
    int rc = request(app, op, args, &reply);
    if (rc)
        return rc;
    const lb_val_t *res = lbc_reply_result(reply);
    if (app->json)
        print_json(res);
    else if (text)
        text(res, ctx);
    lb_val_free(&reply);
    return EX_OK;
}

/* ---------------------------------------------------------------------- */
/* Argument builders                                                       */
/* ---------------------------------------------------------------------- */

/* Appends the sep-separated items of s to arr (trimmed, empty ones dropped); sticky. */
void push_list(lb_val_t *arr, const char *s, char sep, int *rc)
{
    const char *p = s;
    if (!arr)
        lb_rc(rc, LB_ENOMEM);
    while (!*rc) {
        const char *end = strchr(p, sep);
        if (!end)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b)
            lb_push(arr, lb_strn(b, (size_t)(e - b)), rc);
        if (!*end)
            return;
        p = end + 1;
    }
}

void put_opt_str(lb_val_t *m, const char *key, const char *val, int *rc)
{
    if (val)
        lb_put_str(m, key, val, rc);
}

void put_opt_list(lb_val_t *m, const char *key, const char *val, int *rc)
{
    if (!val || *rc)
        return;
    lb_val_t *list = lb_arr();
    push_list(list, val, ',', rc);
    lb_put(m, key, list, rc); /* frees list after an error */
}

lb_val_t *case_args(const char *case_id)
{
    lb_val_t *args = lb_map();
    if (args && lb_map_set_str(args, "case_id", case_id))
        lb_val_free(&args);
    return args;
}

/* Sets "at" from --at when given. EX_USAGE on a bad time. */
int set_at(lb_val_t *m, const args_t *a, const char *cmd)
{
    const char *at = opt(a, "at");
    int64_t ms;
    if (!at)
        return 0;
    if (parse_time_arg(cmd, "--at", at, &ms) != 0)
        return EX_USAGE;
    return lb_map_set_int(m, "at", ms) ? EX_UNREACHABLE : 0;
}

bool parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}
