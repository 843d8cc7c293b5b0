/*
 * cli.c - the report command that `logbook report` and `logbook-report`
 * share (cli.h): options, output to a file or standard output, --watch.
 * The report itself (fetch, model, rendering) is the client library's
 * report.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../lib/conn.h"
#include "cli.h"

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNREACHABLE = 3 };

void lbc_report_cli_init(lbc_report_cli_t *cli)
{
    lbc_paths_t p = lbc_default_paths();
    memset(cli, 0, sizeof *cli);
    cli->endpoint = p.endpoint;
    cli->events_endpoint = p.events_endpoint;
    cli->client_cert = p.client_cert;
    cli->server_cert = p.server_cert;
    cli->retries = -1;
}

typedef struct {
    lbc_report_cli_t c;
    const char *area, *by, *format, *output, *table;
    int watch_s;
    bool help;
} opts_t;

enum {
    O_AREA,
    O_BY,
    O_FORMAT,
    O_OUTPUT,
    O_TABLE,
    O_WATCH,
    O_ENDPOINT,
    O_EVENTS,
    O_CERT,
    O_SERVER,
    O_TIMEOUT,
    O_RETRIES,
    O_NOCURVE,
    O_JSON,
    O_HELP
};

static const struct {
    char s;        /* short form, or 0 */
    const char *l; /* long form without the dashes */
    int id;
    bool takes; /* takes a value */
} option_table[] = {
    {0, "area", O_AREA, true},           {0, "by", O_BY, true},
    {0, "format", O_FORMAT, true},       {'o', "output", O_OUTPUT, true},
    {0, "table", O_TABLE, true},         {0, "watch", O_WATCH, true},
    {'e', "endpoint", O_ENDPOINT, true}, {'E', "events-endpoint", O_EVENTS, true},
    {'k', "cert", O_CERT, true},         {'s', "server-cert", O_SERVER, true},
    {0, "timeout", O_TIMEOUT, true},     {0, "retries", O_RETRIES, true},
    {0, "no-curve", O_NOCURVE, false},   {0, "json", O_JSON, false},
    {'h', "help", O_HELP, false},
};

static void usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see: %s --help)\n", prog);
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* The option_table index of a (n: the long name's length, before any '='), or -1. */
static int find_option(const char *a, size_t n)
{
    for (size_t j = 0; j < sizeof option_table / sizeof option_table[0]; j++) {
        if ((a[1] != '-' && option_table[j].s && a[1] == option_table[j].s && !a[2]) ||
            (a[1] == '-' && strlen(option_table[j].l) == n &&
             strncmp(a + 2, option_table[j].l, n) == 0))
            return (int)j;
    }
    return -1;
}

/* Applies one option with its value (NULL for a flag). 0, or EX_USAGE after saying why. */
static int set_option(const char *prog, int id, const char *val, opts_t *o)
{
    switch (id) {
    case O_AREA:
        o->area = val && *val ? val : NULL;
        break;
    case O_BY:
        o->by = val;
        break;
    case O_FORMAT:
        o->format = val;
        break;
    case O_OUTPUT:
        o->output = val;
        break;
    case O_TABLE:
        o->table = val;
        break;
    case O_WATCH:
        if (!parse_int(val, 1, LBC_REPORT_WATCH_MAX, &o->watch_s)) {
            usage_error(prog, "--watch takes whole seconds from 1 to %d", LBC_REPORT_WATCH_MAX);
            return EX_USAGE;
        }
        break;
    case O_ENDPOINT:
        o->c.endpoint = val;
        break;
    case O_EVENTS:
        o->c.events_endpoint = val;
        break;
    case O_CERT:
        o->c.client_cert = val;
        break;
    case O_SERVER:
        o->c.server_cert = val;
        break;
    case O_TIMEOUT:
        if (!parse_int(val, 1, 3600 * 1000, &o->c.timeout_ms)) {
            usage_error(prog, "--timeout takes milliseconds");
            return EX_USAGE;
        }
        break;
    case O_RETRIES:
        if (!parse_int(val, 0, 100, &o->c.retries)) {
            usage_error(prog, "--retries takes a number from 0 to 100");
            return EX_USAGE;
        }
        break;
    case O_NOCURVE:
        o->c.no_curve = true;
        break;
    case O_JSON:
        o->c.json = true;
        break;
    default:
        o->help = true;
        break;
    }
    return 0;
}

/* -x VALUE, --long VALUE and --long=VALUE; no positional arguments. 0 or EX_USAGE. */
static int parse_opts(const char *prog, int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (a[0] != '-' || a[1] == '\0') {
            usage_error(prog, "unexpected argument '%s'", a);
            return EX_USAGE;
        }
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        int k = find_option(a, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
        if (k < 0) {
            usage_error(prog, "unknown option %s", a);
            return EX_USAGE;
        }
        if (option_table[k].takes) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                usage_error(prog, "%s needs a value", a);
                return EX_USAGE;
            }
        } else if (eq) {
            usage_error(prog, "--%s takes no value", option_table[k].l);
            return EX_USAGE;
        }
        if (set_option(prog, option_table[k].id, val, o) != 0)
            return EX_USAGE;
    }
    return 0;
}

static void print_help(const char *prog, FILE *f)
{
    fprintf(f,
            "Usage: %s [--area A] [--by LEVEL] [--format text|csv|html|json] [-o FILE|DIR/]\n"
            "       [--table areas|trend|cases] [--watch SECONDS] [GLOBAL OPTIONS]\n"
            "\n"
            "The committee's report for an area, answering where to act first: the child\n"
            "areas (district, subdistrict or village) ranked worst first by overdue cases,\n"
            "then unacknowledged escalations; the cases to act on, oldest first, with their\n"
            "days in state, escalation level and team; the month-by-month trend of cases\n"
            "opened, visited, assisted, resolved, closed and escalated (the last %d months,\n"
            "Asia/Bangkok); then progress (visited, assisted, resolved with percentages),\n"
            "open needs per dimension and the level the households reached. The numbers are\n"
            "the daemon's counters; the date is the daemon's clock. `logbook report` and\n"
            "`logbook-report` print the same. Areas are shown as codes with their names\n"
            "when the daemon sends them.\n"
            "\n"
            "Options:\n"
            "      --area A            2, 4, 6 or 8-digit area code (default: every area the\n"
            "                          client key may read)\n"
            "      --by LEVEL          province, district, subdistrict or village; default the\n"
            "                          level below the area (no area: province; 2 digits:\n"
            "                          district; 4: subdistrict; 6 or 8: village)\n"
            "      --format FORMAT     text (default), csv, html or json (the daemon's result)\n"
            "  -o, --output FILE       write FILE instead of standard output, atomically (a\n"
            "                          temporary file in the same folder, then rename)\n"
            "  -o, --output DIR/       HTML pages that drill down: DIR/index.html for the\n"
            "                          area, DIR/KEY.html for each child area with cases down\n"
            "                          to the subdistricts, linked both ways (at most %d)\n"
            "      --table TABLE       with --format csv: areas (default), trend (key,month,\n"
            "                          opened,...,escalated) or cases (the cases to act on)\n"
            "      --watch SECONDS     with -o: keep FILE current from the events stream:\n"
            "                          write it at start, then, when events arrived, at most\n"
            "                          every SECONDS (1-%d); an HTML page reloads itself as\n"
            "                          often. Stops cleanly on SIGINT or SIGTERM. A key that\n"
            "                          may not subscribe to events polls instead.\n"
            "  -h, --help              this text\n"
            "\n"
            "Global options:\n"
            "  -e, --endpoint EP          requests endpoint ($LOGBOOK_ENDPOINT, %s)\n"
            "  -E, --events-endpoint EP   events endpoint for --watch ($LOGBOOK_EVENTS_ENDPOINT,\n"
            "                             %s)\n"
            "  -k, --cert FILE            client secret certificate ($LOGBOOK_CERT,\n"
            "                             %s)\n"
            "  -s, --server-cert FILE     server public certificate ($LOGBOOK_SERVER_CERT,\n"
            "                             %s)\n"
            "      --no-curve             plain connection, for a daemon run with curve: false\n"
            "      --json                 the same as --format json\n"
            "      --timeout MS           wait per try (default %d)\n"
            "      --retries N            resends after a timeout (default %d)\n"
            "\n"
            "CSV columns:\n"
            "  A header row, then one row per area ranked worst first (overdue, then\n"
            "  unacked, then key), LF line ends, no totals row. The columns, in order:\n"
            "  key                  the area code\n"
            "  cases                households targeted (cases opened)\n"
            "  open                 cases not yet in a terminal state\n"
            "  visited              cases with at least one visit record\n"
            "  assisted             cases with at least one assistance record\n"
            "  resolved             cases resolved (at level sufficient or sustainable)\n"
            "  closed               cases closed without resolution\n"
            "  overdue              open cases with an escalation step fired in their\n"
            "                       current state\n"
            "  needs_health         open needs (failed indicators not yet met) of open cases\n"
            "  needs_living         in each dimension\n"
            "  needs_education\n"
            "  needs_income\n"
            "  needs_accessibility\n"
            "  unacked              open cases whose latest escalation is not acknowledged\n"
            "  level_survive        cases whose household reached each level (its latest\n"
            "  level_sufficient     level; resolved cases included)\n"
            "  level_sustainable\n"
            "  area_name            the area's Thai and English names, when the daemon has\n"
            "  area_name_en         them (else empty)\n"
            "\n"
            "Text and HTML:\n"
            "  Text: aligned tables: where to act, the cases to act on (the first %d),\n"
            "  the monthly trend, progress with percentages, open needs and level reached.\n"
            "  HTML: one self-contained page (no external resources, no script) with inline\n"
            "  SVG charts: overdue and unacknowledged per area ranked worst first, the trend\n"
            "  as lines (the totals, then one small chart per area), progress, open needs\n"
            "  and levels; labels in Thai beside English, laid out to print on A4. Sections\n"
            "  with nothing to show say so (no escalations yet, no follow-ups yet).\n"
            "\n"
            "Environment:\n"
            "  LOGBOOK_ENDPOINT, LOGBOOK_EVENTS_ENDPOINT, LOGBOOK_CERT, LOGBOOK_SERVER_CERT\n"
            "                       defaults for -e, -E, -k and -s\n"
            "  SOURCE_DATE_EPOCH    the 'generated' time in unix seconds (reproducible output)\n"
            "\n"
            "Exit status:\n"
            "  0 done (also when --watch is stopped by a signal), 1 refused by the daemon or\n"
            "  the output could not be written, 2 usage error, 3 daemon unreachable.\n"
            "\n"
            "Examples:\n"
            "  %s --area 65 --format csv -o phitsanulok.csv\n"
            "  %s --area 6501 --format html -o /srv/www/6501.html --watch 60\n"
            "  %s --area 65 -o /srv/www/report/\n",
            prog, LBC_REPORT_MONTHS, LBC_REPORT_PAGES_MAX, LBC_REPORT_WATCH_MAX,
            LBC_DEFAULT_ENDPOINT, LBC_DEFAULT_EVENTS_ENDPOINT, LBC_DEFAULT_CERT,
            LBC_DEFAULT_SERVER_CERT, LBC_DEFAULT_TIMEOUT_MS, LBC_DEFAULT_RETRIES,
            LBC_REPORT_ACT_SHOWN, prog, prog, prog);
}

static int connect_client(const char *prog, const opts_t *o, lbc_t **c)
{
    char err[512] = "";
    const lbc_conn_opts_t co = {
        .endpoint = o->c.endpoint,
        .client_cert = o->c.client_cert,
        .server_cert = o->c.server_cert,
        .no_curve = o->c.no_curve,
        .timeout_ms = o->c.timeout_ms,
        .retries = o->c.retries,
    };
    int rc = lbc_conn_open(&co, c, err, sizeof err);
    if (rc == 0)
        return EX_OK;
    fprintf(stderr, "%s: cannot connect to %s: %s\n", prog, o->c.endpoint, err);
    if (rc == LB_EIO || rc == LB_ECONFIG)
        fprintf(stderr, "hint: set -k/-s (or $LOGBOOK_CERT, $LOGBOOK_SERVER_CERT) to the client "
                        "secret and server public certificates, or --no-curve\n");
    return rc == LB_EBADREQ ? EX_USAGE : EX_UNREACHABLE;
}

static int exit_for(int rc)
{
    return rc == LB_EUNAVAIL || rc == LB_EIO ? EX_UNREACHABLE : EX_REFUSED;
}

/*
 * The process's umask. Reading it means setting it, so it is 0 for an
 * instant; harmless here, as no other thread of a client program creates
 * files (ZeroMQ's threads only connect).
 */
static mode_t current_umask(void)
{
    mode_t m = umask(0);
    umask(m);
    return m;
}

/* Fetches, renders and writes once. Returns an exit status; *seq gets the report's last_seq. */
static int produce(const char *prog, const opts_t *o, lbc_t *c, lbc_report_format_t fmt,
                   int refresh_s, uint64_t *seq)
{
    char err[512] = "";
    lbc_report_t *r = NULL;
    lb_buf_t out;
    lb_buf_init(&out);
    int rc = lbc_report_fetch(c, o->area, o->by, &r, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s%s\n", prog,
                exit_for(rc) == EX_UNREACHABLE ? "cannot reach the daemon: " : "", err);
        return exit_for(rc);
    }
    if (seq)
        *seq = r->last_seq;
    int ex = EX_OK;
    lbc_report_table_t table = LBC_REPORT_TABLE_AREAS;
    lbc_report_table_parse(o->table, &table); /* checked by lbc_report_main */
    int e = fmt == LBC_REPORT_CSV ? lbc_report_render_csv(r, table, &out)
                                  : lbc_report_render(r, fmt, refresh_s, &out);
    if (e != 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        ex = EX_REFUSED;
    } else if (o->output) {
        /* Like any file a user asks for: 0666 less the umask. */
        mode_t mode = 0666 & ~current_umask();
        if (lb_file_replace(o->output, out.p, out.len, mode, err, sizeof err) != 0) {
            fprintf(stderr, "%s: cannot write %s\n", prog, err);
            ex = EX_REFUSED;
        }
    } else if ((out.len && fwrite(out.p, 1, out.len, stdout) != out.len) || fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write the report: %s\n", prog, strerror(errno));
        ex = EX_REFUSED;
    }
    lbc_report_destroy(&r);
    lb_buf_free(&out);
    return ex;
}

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* The daemon's last_seq, or 0 when it cannot be asked. */
static uint64_t daemon_seq(lbc_t *c)
{
    char err[256];
    uint64_t last = 0;
    lbc_last_seq(c, &last, err, sizeof err);
    return last;
}

/*
 * Whether the key may read events. The ZAP handler gives a key without
 * events access no connection on the events socket at all, which a
 * subscriber cannot tell from a quiet day, so ask events.since (same
 * admission) once. Returns 0, LB_EFORBIDDEN, or another LB_E* with err.
 */
static int events_allowed(lbc_t *c, char *err, size_t errlen)
{
    lb_val_t *args = lb_map(), *reply = NULL;
    int rc = args ? 0 : LB_ENOMEM;
    if (!rc)
        rc = lb_map_set_int(args, "seq", (int64_t)daemon_seq(c));
    if (!rc)
        rc = lb_map_set_int(args, "limit", 1);
    if (!rc)
        rc = lbc_call_ok(c, "events.since", args, &reply, err, errlen);
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

/*
 * --watch: subscribed before the first write, so no event between that
 * write and the subscription can be missed; then rewrites when events came,
 * at most every watch_s seconds. Keys without events access poll ping's
 * last_seq instead.
 */
static int watch(const char *prog, const opts_t *o, lbc_t *c, lbc_report_format_t fmt)
{
    static const char *const kinds[] = {"case",     "visit", "assist",
                                        "followup", "note",  "escalation"};
    char topics[6][32], err[512] = "";
    const char *tp[6];
    lbc_sub_t *sub = NULL;
    lb_val_t *body = NULL;
    bool polling = false;
    uint64_t written_seq = 0;
    /* Every kind can move a counter (any action's data.level sets the level). */
    for (int i = 0; i < 6; i++) {
        snprintf(topics[i], sizeof topics[i], "%s.%s", kinds[i], o->area ? o->area : "");
        tp[i] = topics[i];
    }
    lbc_sub_opts_t so = {
        .endpoint = o->c.events_endpoint,
        .topics = o->area ? tp : NULL,
        .ntopics = o->area ? 6 : 0,
        .after_seq = LBC_SEQ_NOW,
    };
    int e = events_allowed(c, err, sizeof err);
    if (e == 0)
        e = lbc_sub_open(c, &so, &sub, err, sizeof err);
    if (e == LB_EFORBIDDEN) {
        fprintf(stderr, "%s: this key may not read events (%s); polling every %d s instead\n", prog,
                err, o->watch_s);
        polling = true;
    } else if (e) {
        fprintf(stderr, "%s: cannot subscribe to %s: %s\n", prog, o->c.events_endpoint, err);
        return exit_for(e);
    }
    int rc = produce(prog, o, c, fmt, o->watch_s, &written_seq);
    int64_t last_write = lbc_mono_ms();
    bool dirty = false;
    while (rc == EX_OK && !stop_flag) {
        if (polling) {
            /* Short sleeps, so a signal is seen within a tenth of a second. */
            if (lbc_mono_ms() - last_write < (int64_t)o->watch_s * 1000) {
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
                continue;
            }
            uint64_t s = daemon_seq(c);
            dirty = s != 0 && s != written_seq;
            if (!dirty)
                last_write = lbc_mono_ms();
        } else {
            uint64_t seq = 0;
            e = lbc_sub_next(sub, 250, &seq, &body, NULL, err, sizeof err);
            lb_val_free(&body);
            if (e == 0) {
                dirty = true;
            } else if (e == LB_EUNAVAIL || e == LB_ECORRUPT) {
                /* The subscriber keeps its place; the repair is tried again next call. */
                fprintf(stderr, "%s: warning: %s\n", prog, err);
            } else if (e != LB_ENOTFOUND) {
                fprintf(stderr, "%s: events: %s\n", prog, err);
                rc = exit_for(e);
                break;
            }
        }
        if (dirty && !stop_flag && lbc_mono_ms() - last_write >= (int64_t)o->watch_s * 1000) {
            /* A daemon that went away is no reason to stop: keep the old page, try later. */
            if (produce(prog, o, c, fmt, o->watch_s, &written_seq) == EX_OK)
                dirty = false;
            last_write = lbc_mono_ms();
        }
    }
    lbc_sub_destroy(&sub);
    return rc;
}

int lbc_report_main(const char *prog, const lbc_report_cli_t *cli, int argc, char **argv)
{
    opts_t o = {.c = *cli};
    lbc_t *c = NULL;
    const char *by;
    char err[512] = "";
    sigset_t stopset, oldset;
    int rc = parse_opts(prog, argc, argv, &o);
    if (rc)
        return rc;
    if (o.help) {
        print_help(prog, stdout);
        return EX_OK;
    }
    lbc_report_format_t fmt = o.c.json ? LBC_REPORT_JSON : LBC_REPORT_TEXT;
    if (o.format && lbc_report_format_parse(o.format, &fmt) != 0) {
        usage_error(prog, "--format must be text, csv, html or json, not '%s'", o.format);
        return EX_USAGE;
    }
    if (lbc_report_resolve_by(o.area, o.by, &by, err, sizeof err) != 0) {
        usage_error(prog, "%s", err);
        return EX_USAGE;
    }
    lbc_report_table_t table;
    if (o.table && (lbc_report_table_parse(o.table, &table) != 0 || fmt != LBC_REPORT_CSV)) {
        usage_error(prog, "--table takes areas, trend or cases, with --format csv");
        return EX_USAGE;
    }
    size_t ol = o.output ? strlen(o.output) : 0;
    struct stat st;
    bool folder =
        ol && (o.output[ol - 1] == '/' || (stat(o.output, &st) == 0 && S_ISDIR(st.st_mode)));
    if (folder && (o.watch_s || (o.format && fmt != LBC_REPORT_HTML))) {
        usage_error(prog, "-o DIR/ writes HTML pages once: no --watch, no other --format");
        return EX_USAGE;
    }
    if (o.watch_s && !o.output) {
        usage_error(prog, "--watch needs -o FILE (the file it keeps current)");
        return EX_USAGE;
    }
    if (o.watch_s) {
        /*
         * Blocked before ZeroMQ starts its threads, which inherit the mask, so
         * SIGINT/SIGTERM reach this thread's handler and its short waits.
         */
        sigemptyset(&stopset);
        sigaddset(&stopset, SIGINT);
        sigaddset(&stopset, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stopset, &oldset);
    }
    rc = connect_client(prog, &o, &c);
    if (o.watch_s) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        stop_flag = 0;
        pthread_sigmask(SIG_SETMASK, &oldset, NULL);
    }
    if (rc == EX_OK && folder)
        rc = lbc_report_folder(prog, c, o.output, o.area, by) ? EX_REFUSED : EX_OK;
    else if (rc == EX_OK)
        rc = o.watch_s ? watch(prog, &o, c, fmt) : produce(prog, &o, c, fmt, 0, NULL);
    lbc_destroy(&c);
    return rc;
}
