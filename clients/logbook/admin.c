/*
 * admin.c - logbook commands about the daemon rather than one case: ping, watch (events),
 * keygen, verify, admin (stats, backup, reload, clock), workflows and report.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../logbook-report/cli.h"
#include "logbook.h"

/* ---- ping ---- */

typedef struct {
    const char *endpoint;
    struct timespec sent;
} ping_t;

/* Called as soon as the reply is in, so the round trip ends here. */
static void pong_text(const lb_val_t *res, const void *ctx)
{
    const ping_t *p = ctx;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t up = 0, last = 0;
    lb_map_int(res, "uptime_s", &up);
    lb_map_int(res, "last_seq", &last);
    double ms = (double)(now.tv_sec - p->sent.tv_sec) * 1000.0 +
                (double)(now.tv_nsec - p->sent.tv_nsec) / 1e6;
    printf("logbookd %s at %s: up %" PRId64 "d %02" PRId64 ":%02" PRId64 ":%02" PRId64
           ", last seq %" PRId64 ", round trip %.1f ms\n",
           map_str_or(res, "version", "?"), p->endpoint, up / 86400, up / 3600 % 24, up / 60 % 60,
           up % 60, last, ms);
}

int cmd_ping(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 0, 0)
    ping_t p = {.endpoint = app->endpoint};
    clock_gettime(CLOCK_MONOTONIC, &p.sent);
    return request_print(app, "ping", NULL, pong_text, &p);
}

/* ---- watch ---- */

volatile sig_atomic_t cli_stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    cli_stop_flag = 1;
}

/*
 * Subscribes to topics (ntopics of them; none = everything) after seq after
 * (LBC_SEQ_NOW: from now on). Ctrl-C and SIGTERM set cli_stop_flag: the handlers
 * are in place first, and the signals are blocked while libzmq starts its
 * threads so that only this thread takes them (STYLE.md). Returns an exit code.
 */
int cli_subscribe(app_t *app, const char *const *topics, size_t ntopics, uint64_t after,
                  lbc_sub_t **sub)
{
    char err[512] = "";
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
    int rc = app_connect(app);
    lbc_sub_opts_t so = {
        .endpoint = app->events_endpoint,
        .topics = topics,
        .ntopics = ntopics,
        .after_seq = after,
    };
    int e = rc ? 0 : lbc_sub_open(app->c, &so, sub, err, sizeof err);
    pthread_sigmask(SIG_SETMASK, &oldset, NULL);
    if (rc)
        return rc;
    if (e) {
        fprintf(stderr, "error: cannot subscribe to %s: %s\n", app->events_endpoint, err);
        return e == LB_EUNAVAIL || e == LB_EIO ? EX_UNREACHABLE : EX_REFUSED;
    }
    return EX_OK;
}

/* One event as one line: seq, time, topic, case, type, action, state change, level, actor. */
static void print_event(uint64_t seq, const lb_val_t *body)
{
    char topic[128] = "", when[32];
    int64_t at = 0;
    lbc_event_topic(body, topic, sizeof topic);
    lb_map_int(body, "at", &at);
    lbc_format_time(at, when, sizeof when);
    const char *from = lb_map_str(body, "from"), *to = lb_map_str(body, "to");
    const char *action = lb_map_str(body, "action"), *level = lb_map_str(body, "level");
    printf("%" PRIu64 "  %s  %-22s %s  %s", seq, when, topic, map_str_or(body, "case_id", "?"),
           map_str_or(body, "type", ""));
    if (action)
        printf("  %s", action);
    if (from && to && strcmp(from, to) != 0)
        printf("  %s -> %s", from, to);
    if (level)
        printf("  level %s", level);
    printf("  by %s\n", map_str_or(body, "actor", "?"));
}

int cmd_watch(app_t *app, int argc, char **argv)
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
    rc = cli_subscribe(app, (const char *const *)a.pos, (size_t)a.npos,
                       after >= 0 ? (uint64_t)after : LBC_SEQ_NOW, &sub);
    if (rc)
        return rc;
    if (!app->json)
        fprintf(stderr, "watching %s from seq %llu (Ctrl-C to stop)\n", app->events_endpoint,
                (unsigned long long)lbc_sub_cursor(sub));
    while (!cli_stop_flag) {
        uint64_t seq = 0;
        int e = lbc_sub_next(sub, 500, &seq, &body, NULL, err, sizeof err);
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
            print_event(seq, body);
        }
        fflush(stdout);
        lb_val_free(&body);
    }
    if (cli_stop_flag && !app->json)
        fprintf(stderr, "stopped at seq %llu (resume with --after %llu)\n",
                (unsigned long long)lbc_sub_cursor(sub), (unsigned long long)lbc_sub_cursor(sub));
    lb_val_free(&body);
    lbc_sub_destroy(&sub);
    return rc;
}

/* ---- keygen ---- */

int cmd_keygen(app_t *app, int argc, char **argv)
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

int cmd_verify(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"witness=", "audit-key=", NULL};
    PROLOGUE(spec, 0, 0)
    lb_val_t *reply = NULL;
    rc = request(app, "admin.verify", NULL, &reply);
    if (rc)
        return rc;
    const lb_val_t *res = lbc_reply_result(reply), *ok = lb_map_get(res, "ok");
    bool good = ok && ok->type == LB_BOOL && ok->b;
    int64_t events = 0, bad = 0;
    const char *bad_case = lb_map_str(res, "first_bad_case");
    lb_map_int(res, "events", &events);
    if (app->json) {
        print_json(res);
    } else if (good) {
        printf("audit chain ok: %" PRId64 " events\n", events);
    } else if (lb_map_int(res, "first_bad_seq", &bad) == 0) {
        printf("audit chain BROKEN: first bad seq %" PRId64 " (of %" PRId64 " events)\n", bad,
               events);
    } else if (!bad_case) {
        printf("audit chain BROKEN (%" PRId64 " events)\n", events);
    }
    if (bad_case && !app->json)
        printf("case %s does NOT match its events: %s\n", bad_case,
               map_str_or(res, "case_problem", "?"));
    lb_val_free(&reply);
    char why[300] = "";
    int w = opt(&a, "witness") ? witness_verify_file(app, &a, opt(&a, "witness"), why, sizeof why)
                               : EX_OK;
    if (w == EX_REFUSED)
        printf("witnessed head NOT in the store: %s\n", why);
    else if (w == EX_OK && opt(&a, "witness") && !app->json)
        printf("witnessed head is in the store\n");
    return w != EX_OK ? w : good ? EX_OK : EX_REFUSED;
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

static void stats_text(const lb_val_t *res, const void *ctx)
{
    (void)ctx;
    for (uint32_t i = 0; res && res->type == LB_MAP && i < res->m.n; i++) {
        char *s = val_text(res->m.vals[i]);
        printf("%-20s %s\n", res->m.keys[i], s ? s : "");
        free(s);
    }
}

/* ctx: the backup's path. */
static void backup_text(const lb_val_t *res, const void *ctx)
{
    int64_t bytes = 0;
    lb_map_int(res, "bytes", &bytes);
    printf("backup written to %s (%" PRId64 " bytes)\n", (const char *)ctx, bytes);
}

static void clock_text(const lb_val_t *res, const void *ctx)
{
    int64_t now = 0;
    char when[32];
    (void)ctx;
    lb_map_int(res, "now", &now);
    lbc_format_time(now, when, sizeof when);
    printf("daemon clock now %s (%" PRId64 " ms)\n", when, now);
}

static void reload_text(const lb_val_t *res, const void *ctx)
{
    (void)res;
    (void)ctx;
    printf("reloaded workflows and clients registry\n");
}

int cmd_admin(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 1, -1)
    const char *sub = a.pos[0];
    if (strcmp(sub, "remap") == 0 && a.npos >= 2)
        return admin_remap(app, argv[0], &a);
    lb_val_t *args = NULL;
    char *abs = NULL;
    const char *op;
    text_fn text;
    if (strcmp(sub, "stats") == 0 && a.npos == 1) {
        op = "admin.stats";
        text = stats_text;
    } else if (strcmp(sub, "reload") == 0 && a.npos == 1) {
        op = "admin.reload";
        text = reload_text;
    } else if (strcmp(sub, "backup") == 0 && a.npos == 2) {
        op = "admin.backup";
        text = backup_text;
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
        text = clock_text;
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
    rc = request_print(app, op, args, text, lb_map_str(args, "path"));
done:
    free(abs);
    lb_val_free(&args);
    return rc;
}

/* ---- workflows ---- */

static void workflows_text(const lb_val_t *res, const void *ctx)
{
    static const char *const hdr[] = {"WORKFLOW", "VERSION", "INITIAL", "STATES"};
    table_t t;
    (void)ctx;
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

int cmd_workflows(app_t *app, int argc, char **argv)
{
    PROLOGUE(NULL, 0, 0)
    return request_print(app, "workflow.list", NULL, workflows_text, NULL);
}

/* ---- report ---- */

/* The same code as logbook-report, so both print the same thing. */
int cmd_report(app_t *app, int argc, char **argv)
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
