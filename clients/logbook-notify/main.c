/*
 * logbook-notify.c - tells a committee about cases that sat too long: for
 * every fired escalation in its areas (at or above a ladder level) it runs a
 * command, or prints a line, once per event seq, resuming after any downtime
 * from a crash-safe cursor file. Exit codes: 0 stopped by SIGTERM/SIGINT,
 * 1 a runtime failure (systemd restarts it), 2 a usage or state-file error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../proto/lb.h"
#include "../lib/client.h"
#include "../lib/cursor.h"

extern char **environ;

enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2 };

#define AREAS_MAX 64
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
/* How long one lbc_sub_next waits: also the worst delay before a SIGTERM is seen when idle. */
#define POLL_MS 250
/* Progress over events that need no delivery is saved at most this often. */
#define PROGRESS_SAVE_MS 5000
#define DEFAULT_CMD_TIMEOUT_S 300
/* Short request timeouts keep a SIGTERM from waiting behind a daemon that is down. */
#define REQ_TIMEOUT_MS 3000
#define REQ_RETRIES 1

/* syslog priorities, used as journald's "<N>" line prefixes under systemd */
enum { PRIO_CRIT = 2, PRIO_ERR = 3, PRIO_WARNING = 4, PRIO_INFO = 6 };

/* The escalation ladder, lowest first: --level keeps this rank and above. */
static const char *const ladder[] = {"team", "subdistrict", "district", "province"};
#define LADDER_N (sizeof ladder / sizeof ladder[0])

typedef struct {
    const char *events_ep;
    const char *requests_ep;
    const char *cert;
    const char *server_cert;
    bool no_curve;
    const char *areas[AREAS_MAX];
    size_t nareas;
    int min_rank; /* index into ladder */
    const char *exec_cmd;
    const char *state_path;
    bool from_seq_set;
    uint64_t from_seq;
    uint32_t max_tries; /* 0 = unlimited */
    int cmd_timeout_s;  /* 0 = none */
} opts_t;

typedef struct {
    opts_t o;
    lbc_t *req;
    lbc_sub_t *sub;
    lbc_cursor_t saved; /* what the state file says now */
    int64_t saved_at;   /* monotonic ms of the last save */
    int lock_fd;
    sigset_t stop_set; /* SIGTERM, SIGINT */
    sigset_t wait_set; /* the same and SIGCHLD */
    bool stop;
} notifier_t;

/* ---------------------------------------------------------------------- */
/* Logging                                                                 */
/* ---------------------------------------------------------------------- */

static bool log_journal;

static void say(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(int prio, const char *fmt, ...)
{
    static const char *const words[] = {"", "", "CRITICAL", "error", "warning", "", "info"};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* journald reads the priority from the prefix; a terminal gets a word instead. */
    if (log_journal)
        fprintf(stderr, "<%d>%s\n", prio, line);
    else
        fprintf(stderr, "logbook-notify: %s: %s\n", words[prio], line);
}

/* ---------------------------------------------------------------------- */
/* Usage                                                                   */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("Usage: logbook-notify -e EVENTS_ENDPOINT -r REQUESTS_ENDPOINT -k CERT -s SERVER_CERT\n"
          "                      [--area PREFIX]... [--level LEVEL] [--exec CMD] [--state FILE]\n"
          "                      [--from-seq N] [--max-tries N] [--timeout SECONDS]\n"
          "\n"
          "Runs CMD once for every escalation that fires in the given areas: the alert\n"
          "that a case stayed too long in a state and now concerns the committee at its\n"
          "level of the ladder team < subdistrict < district < province.\n"
          "\n"
          "Options\n"
          "  -e, --events EP        the daemon's events endpoint ($LOGBOOK_EVENTS_ENDPOINT,\n"
          "                         default " LBC_DEFAULT_EVENTS_ENDPOINT ")\n"
          "  -r, --requests EP      the requests endpoint, used for events.since (gap repair,\n"
          "                         catch-up) and ping ($LOGBOOK_ENDPOINT, default\n"
          "                         " LBC_DEFAULT_ENDPOINT ")\n"
          "  -k, --cert FILE        this client's secret certificate NAME.key_secret\n"
          "                         ($LOGBOOK_CERT); the key needs `events: true` in the\n"
          "                         daemon's clients registry (or role admin)\n"
          "  -s, --server-cert FILE the daemon's public certificate ($LOGBOOK_SERVER_CERT)\n"
          "      --no-curve         plain connection, for a daemon run with curve: false\n"
          "      --area PREFIX      only escalations of cases whose area starts with PREFIX\n"
          "                         (2, 4, 6 or 8 digits); repeat for several; none = all\n"
          "      --level LEVEL      only escalations at LEVEL or higher on the ladder:\n"
          "                         team, subdistrict, district, province. A district\n"
          "                         committee runs `--level district --area 6501` and hears\n"
          "                         of district and province alerts of district 6501\n"
          "      --exec CMD         run CMD with /bin/sh -c for each escalation; without it\n"
          "                         one line per escalation goes to standard output:\n"
          "                           SEQ AT LEVEL AREA CASE_ID HOUSE_ID STATE\n"
          "                         (AT in UTC, ISO 8601; a missing field prints as -)\n"
          "      --state FILE       the cursor file (see below); without it nothing\n"
          "                         survives a restart\n"
          "      --from-seq N       on a first start (no state file yet) deliver the\n"
          "                         escalations after seq N (0 = all of history); default:\n"
          "                         only those after the daemon's current last_seq. Ignored\n"
          "                         once the state file exists\n"
          "      --max-tries N      give up on an escalation after N failed runs of CMD and\n"
          "                         log it as CRITICAL (default 0: retry for ever, an alert\n"
          "                         must not be lost)\n"
          "      --timeout SECONDS  kill CMD (and its process group) after SECONDS; counts\n"
          "                         as a failure (default 300, 0 = no limit)\n"
          "  -h, --help             this text\n"
          "\n"
          "The command\n"
          "  CMD gets the event as one line of JSON on standard input (the body of\n"
          "  PROTOCOL.md section 7; `chain` as hex) and, in its environment:\n"
          "    LOGBOOK_SEQ       the event's seq: unique, use it to de-duplicate\n"
          "    LOGBOOK_CASE_ID   LOGBOOK_HOUSE_ID   LOGBOOK_AREA (8-digit village code)\n"
          "    LOGBOOK_LEVEL     team, subdistrict, district or province\n"
          "    LOGBOOK_STATE     the case state the escalation fired in\n"
          "    LOGBOOK_STEP      LOGBOOK_WORKFLOW   LOGBOOK_AT (unix ms)\n"
          "    LOGBOOK_ATTEMPT   1 for the first run for this seq; see below\n"
          "  Exit status 0 means delivered. Anything else (or a signal, or the timeout)\n"
          "  is retried after 1 s, 2 s, 4 s ... up to 60 s between runs, never skipped\n"
          "  unless --max-tries says so. Escalations are delivered one at a time, in seq\n"
          "  order; events that are not fired escalations at the requested level are\n"
          "  passed over.\n"
          "\n"
          "Delivery, restarts and duplicates\n"
          "  The state file records the last seq handled, and while CMD runs also the\n"
          "  seq it runs for (pending) and how many runs were started for it. Before each\n"
          "  run the file is rewritten with the seq marked pending and the run counted;\n"
          "  after CMD succeeds it is rewritten with the seq handled. Each write goes to a\n"
          "  temporary file that is fsynced and renamed over FILE, and the folder is\n"
          "  fsynced, so a crash leaves either the old or the new state.\n"
          "  So a seq is never run again once its success was recorded, and every event\n"
          "  after the recorded seq is fetched again on restart (events.since), so none\n"
          "  is lost to downtime, a crash or a dropped message. The one case the notifier\n"
          "  cannot settle is a crash (or SIGKILL, power loss) while CMD runs or between\n"
          "  CMD's exit and the write that records it: CMD may have delivered, or not.\n"
          "  Losing the alert is the worse outcome, so on restart that seq is run again,\n"
          "  with LOGBOOK_ATTEMPT greater than 1. LOGBOOK_ATTEMPT > 1 always means an\n"
          "  earlier run for this seq started and either failed or ended unrecorded: a\n"
          "  command that must deliver exactly once records LOGBOOK_SEQ where it delivers\n"
          "  (a ticket id, a message key) and, when LOGBOOK_ATTEMPT > 1, first checks\n"
          "  whether that seq already went out. With such a command delivery is exactly\n"
          "  once; without it, at least once, with at most one repeat per crash.\n"
          "  A lock (FILE.lock) keeps two notifiers from sharing one state file.\n"
          "\n"
          "Signals\n"
          "  SIGTERM, SIGINT: let the running CMD finish (its delivery is recorded), save\n"
          "  the cursor and exit 0. During a retry pause it exits at once; the seq stays\n"
          "  pending and is run first on the next start.\n"
          "\n"
          "Exit status: 0 stopped by a signal, 1 runtime failure, 2 usage or state file\n"
          "error: a damaged state file, or one ahead of the daemon's last seq (another\n"
          "store), is never guessed around: fix or remove it.\n",
          f);
}

/* ---------------------------------------------------------------------- */
/* Options                                                                 */
/* ---------------------------------------------------------------------- */

enum {
    OPT_NO_CURVE = 256,
    OPT_AREA,
    OPT_LEVEL,
    OPT_EXEC,
    OPT_STATE,
    OPT_FROM_SEQ,
    OPT_MAX_TRIES,
    OPT_TIMEOUT
};

static const struct option long_opts[] = {
    {"events", required_argument, NULL, 'e'},
    {"requests", required_argument, NULL, 'r'},
    {"cert", required_argument, NULL, 'k'},
    {"server-cert", required_argument, NULL, 's'},
    {"no-curve", no_argument, NULL, OPT_NO_CURVE},
    {"area", required_argument, NULL, OPT_AREA},
    {"level", required_argument, NULL, OPT_LEVEL},
    {"exec", required_argument, NULL, OPT_EXEC},
    {"state", required_argument, NULL, OPT_STATE},
    {"from-seq", required_argument, NULL, OPT_FROM_SEQ},
    {"max-tries", required_argument, NULL, OPT_MAX_TRIES},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* A decimal integer in [0, max], digits only. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static int rank_of(const char *level)
{
    for (size_t i = 0; level && i < LADDER_N; i++)
        if (strcmp(level, ladder[i]) == 0)
            return (int)i;
    return -1;
}

/* Returns 0, or EX_USAGE after saying why; *help set for --help. */
static int parse_opts(int argc, char **argv, opts_t *o, bool *help)
{
    lbc_paths_t p = lbc_default_paths();
    memset(o, 0, sizeof *o);
    o->events_ep = p.events_endpoint;
    o->requests_ep = p.endpoint;
    o->cert = p.client_cert;
    o->server_cert = p.server_cert;
    o->cmd_timeout_s = DEFAULT_CMD_TIMEOUT_S;
    *help = false;
    uint64_t v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":e:r:k:s:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            o->events_ep = optarg;
            break;
        case 'r':
            o->requests_ep = optarg;
            break;
        case 'k':
            o->cert = optarg;
            break;
        case 's':
            o->server_cert = optarg;
            break;
        case OPT_NO_CURVE:
            o->no_curve = true;
            break;
        case OPT_AREA:
            if (!lb_valid_area(optarg, false)) {
                fprintf(stderr, "logbook-notify: --area %s: an area is 2, 4, 6 or 8 digits\n",
                        optarg);
                return EX_USAGE;
            }
            if (o->nareas == AREAS_MAX) {
                fprintf(stderr, "logbook-notify: at most %d --area options\n", AREAS_MAX);
                return EX_USAGE;
            }
            o->areas[o->nareas++] = optarg;
            break;
        case OPT_LEVEL:
            if (rank_of(optarg) < 0) {
                fprintf(stderr,
                        "logbook-notify: --level %s: one of team, subdistrict, district, "
                        "province\n",
                        optarg);
                return EX_USAGE;
            }
            o->min_rank = rank_of(optarg);
            break;
        case OPT_EXEC:
            if (!*optarg) {
                fprintf(stderr, "logbook-notify: --exec needs a command\n");
                return EX_USAGE;
            }
            o->exec_cmd = optarg;
            break;
        case OPT_STATE:
            if (!*optarg) {
                fprintf(stderr, "logbook-notify: --state needs a file name\n");
                return EX_USAGE;
            }
            o->state_path = optarg;
            break;
        case OPT_FROM_SEQ:
            if (!parse_uint(optarg, INT64_MAX, &v)) {
                fprintf(stderr, "logbook-notify: --from-seq %s: a seq number\n", optarg);
                return EX_USAGE;
            }
            o->from_seq_set = true;
            o->from_seq = v;
            break;
        case OPT_MAX_TRIES:
            if (!parse_uint(optarg, UINT32_MAX, &v)) {
                fprintf(stderr, "logbook-notify: --max-tries %s: a count (0 = unlimited)\n",
                        optarg);
                return EX_USAGE;
            }
            o->max_tries = (uint32_t)v;
            break;
        case OPT_TIMEOUT:
            if (!parse_uint(optarg, 7 * 24 * 3600, &v)) {
                fprintf(stderr, "logbook-notify: --timeout %s: seconds, at most a week\n", optarg);
                return EX_USAGE;
            }
            o->cmd_timeout_s = (int)v;
            break;
        case 'h':
            *help = true;
            return 0;
        case ':':
            fprintf(stderr, "logbook-notify: %s needs a value\n", argv[optind - 1]);
            return EX_USAGE;
        default:
            fprintf(stderr, "logbook-notify: unknown option %s\n", argv[optind - 1]);
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "logbook-notify: unexpected argument %s\n", argv[optind]);
        return EX_USAGE;
    }
    if (!o->events_ep || !*o->events_ep || !o->requests_ep || !*o->requests_ep) {
        fprintf(stderr, "logbook-notify: both endpoints (-e, -r) are needed\n");
        return EX_USAGE;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Signals and waiting                                                     */
/* ---------------------------------------------------------------------- */

/*
 * Signals are blocked in every thread (before libzmq starts its own) and
 * taken with sigtimedwait, so no handler runs inside library code and a
 * SIGTERM can wake the retry pause or the wait for CMD at once.
 */
static int signals_setup(notifier_t *n)
{
    sigemptyset(&n->stop_set);
    sigaddset(&n->stop_set, SIGTERM);
    sigaddset(&n->stop_set, SIGINT);
    n->wait_set = n->stop_set;
    sigaddset(&n->wait_set, SIGCHLD);
    if (pthread_sigmask(SIG_BLOCK, &n->wait_set, NULL) != 0)
        return LB_EIO;
    /* A closed stdout must be an error from write, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static bool stop_requested(notifier_t *n)
{
    struct timespec zero = {0, 0};
    while (sigtimedwait(&n->stop_set, NULL, &zero) > 0)
        n->stop = true;
    return n->stop;
}

/* Waits ms, or less when SIGTERM/SIGINT arrives. Returns true when told to stop. */
static bool pause_ms(notifier_t *n, int64_t ms)
{
    int64_t end = lbc_mono_ms() + ms;
    while (!stop_requested(n)) {
        int64_t left = end - lbc_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        if (sigtimedwait(&n->stop_set, NULL, &ts) > 0)
            n->stop = true;
    }
    return n->stop;
}

static int64_t next_backoff(int64_t ms)
{
    return ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : ms * 2;
}

/* ---------------------------------------------------------------------- */
/* State                                                                   */
/* ---------------------------------------------------------------------- */

/* One save; 0 or the LB_E* of lbc_cursor_save (logged). */
static int save_once(notifier_t *n, const lbc_cursor_t *c)
{
    char err[512] = "";
    if (n->o.state_path) {
        int rc = lbc_cursor_save(n->o.state_path, c, err, sizeof err);
        if (rc) {
            say(PRIO_ERR, "cannot save the cursor: %s", err);
            return rc;
        }
    }
    n->saved = *c;
    n->saved_at = lbc_mono_ms();
    return 0;
}

/*
 * Saves, retrying with backoff while the disk refuses: going on without the
 * record would break the promise the file makes. Returns 0, or 1 when told
 * to stop before it could save.
 */
static int save(notifier_t *n, const lbc_cursor_t *c)
{
    int64_t backoff = BACKOFF_FIRST_MS;
    while (save_once(n, c) != 0) {
        if (pause_ms(n, backoff))
            return 1;
        backoff = next_backoff(backoff);
    }
    return 0;
}

/*
 * Records progress over events that needed no delivery, at most every
 * PROGRESS_SAVE_MS unless forced, so a restart does not fetch them again.
 */
static int save_progress(notifier_t *n, bool force)
{
    uint64_t cur = lbc_sub_cursor(n->sub);
    if (cur <= n->saved.seq || (!force && lbc_mono_ms() - n->saved_at < PROGRESS_SAVE_MS))
        return 0;
    lbc_cursor_t c = {.seq = cur};
    /* A pending seq left by the last run that the stream has not reached yet stays pending. */
    if (n->saved.pending > cur) {
        c.pending = n->saved.pending;
        c.attempts = n->saved.attempts;
    }
    return force ? save(n, &c) : save_once(n, &c);
}

/* ---------------------------------------------------------------------- */
/* Delivery                                                                */
/* ---------------------------------------------------------------------- */

static const char *str_or(const lb_val_t *m, const char *key, const char *dflt)
{
    const char *s = lb_map_str(m, key);
    return s ? s : dflt;
}

/* true for a fired escalation at or above the requested level. */
static bool wanted(const notifier_t *n, const lb_val_t *body)
{
    const char *kind = lb_map_str(body, "kind"), *type = lb_map_str(body, "type");
    if (!kind || strcmp(kind, "escalation") != 0 || !type || strcmp(type, "fired") != 0)
        return false;
    if (n->o.min_rank > 0 && rank_of(lb_map_str(body, "level")) < n->o.min_rank)
        return false;
    /* The subscription filters by topic already; the body is what the command sees. */
    if (n->o.nareas == 0)
        return true;
    const char *area = str_or(body, "area", "");
    for (size_t i = 0; i < n->o.nareas; i++)
        if (strncmp(area, n->o.areas[i], strlen(n->o.areas[i])) == 0)
            return true;
    return false;
}

/* Prints one line for the event. 0, or LB_EIO when stdout fails. */
static int print_line(uint64_t seq, const lb_val_t *body)
{
    int64_t at = 0;
    char when[32] = "-";
    if (lb_map_int(body, "at", &at) == 0) {
        time_t t = (time_t)(at / 1000);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    const lb_val_t *data = lb_map_get(body, "data");
    printf("%" PRIu64 " %s %s %s %s %s %s\n", seq, when, str_or(body, "level", "-"),
           str_or(body, "area", "-"), str_or(body, "case_id", "-"), str_or(body, "house_id", "-"),
           str_or(data, "state", "-"));
    if (fflush(stdout) != 0 || ferror(stdout))
        return LB_EIO;
    return 0;
}

typedef struct {
    char **v; /* NULL-terminated, each entry malloc'd */
    size_t n, cap;
} envv_t;

static void env_free(envv_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    memset(e, 0, sizeof *e);
}

static int env_add(envv_t *e, const char *name, const char *value)
{
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        char **v = realloc(e->v, cap * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    size_t nl = strlen(name), vl = strlen(value);
    char *s = malloc(nl + vl + 2);
    if (!s)
        return LB_ENOMEM;
    memcpy(s, name, nl);
    s[nl] = '=';
    memcpy(s + nl + 1, value, vl + 1);
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
    return 0;
}

/*
 * The command's environment: the notifier's own (so PATH, LOGBOOK_CERT and
 * the like reach a command that calls `logbook ack`) with the event's
 * variables put first and any inherited copies of them left out.
 */
static int env_build(envv_t *e, uint64_t seq, const lb_val_t *body, uint32_t attempt)
{
    const lb_val_t *data = lb_map_get(body, "data");
    char seqs[24], steps[24] = "", ats[24] = "", atts[16];
    int64_t v;
    snprintf(seqs, sizeof seqs, "%" PRIu64, seq);
    snprintf(atts, sizeof atts, "%" PRIu32, attempt);
    if (lb_map_int(body, "step", &v) == 0)
        snprintf(steps, sizeof steps, "%" PRId64, v);
    if (lb_map_int(body, "at", &v) == 0)
        snprintf(ats, sizeof ats, "%" PRId64, v);
    const char *vars[][2] = {
        {"LOGBOOK_SEQ", seqs},
        {"LOGBOOK_CASE_ID", str_or(body, "case_id", "")},
        {"LOGBOOK_HOUSE_ID", str_or(body, "house_id", "")},
        {"LOGBOOK_AREA", str_or(body, "area", "")},
        {"LOGBOOK_LEVEL", str_or(body, "level", "")},
        {"LOGBOOK_STATE", str_or(data, "state", "")},
        {"LOGBOOK_STEP", steps},
        {"LOGBOOK_WORKFLOW", str_or(body, "workflow", "")},
        {"LOGBOOK_AT", ats},
        {"LOGBOOK_ATTEMPT", atts},
    };
    size_t nvars = sizeof vars / sizeof vars[0];
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < nvars; i++)
        if (env_add(e, vars[i][0], vars[i][1]) != 0)
            goto fail;
    for (char **p = environ; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        if (!eq)
            continue;
        size_t nl = (size_t)(eq - *p);
        bool ours = false;
        for (size_t i = 0; i < nvars && !ours; i++)
            ours = strlen(vars[i][0]) == nl && strncmp(*p, vars[i][0], nl) == 0;
        if (ours)
            continue;
        char name[256];
        if (nl >= sizeof name)
            continue; /* not a name a shell could use */
        memcpy(name, *p, nl);
        name[nl] = '\0';
        if (env_add(e, name, eq + 1) != 0)
            goto fail;
    }
    return 0;
fail:
    env_free(e);
    return LB_ENOMEM;
}

/* The event as one line of JSON in an anonymous file, to be CMD's stdin. */
static int stdin_file(const lb_val_t *body, int *fd)
{
    lb_buf_t json;
    lb_buf_init(&json);
    int rc = lb_val_to_json(body, 0, &json);
    if (rc == 0)
        rc = lb_buf_append(&json, "\n", 1);
    if (rc) {
        lb_buf_free(&json);
        return rc;
    }
    /* A file, not a pipe: a command that never reads stdin cannot block the notifier. */
    *fd = memfd_create("logbook-event", MFD_CLOEXEC);
    if (*fd < 0) {
        lb_buf_free(&json);
        return LB_EIO;
    }
    size_t off = 0;
    while (off < json.len) {
        ssize_t w = write(*fd, json.p + off, json.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = LB_EIO;
            break;
        }
        off += (size_t)w;
    }
    lb_buf_free(&json);
    /* The child reads from the shared offset: start it at the beginning. */
    if (rc == 0 && lseek(*fd, 0, SEEK_SET) != 0)
        rc = LB_EIO;
    if (rc) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

/*
 * Runs CMD once and waits for it (a SIGTERM meanwhile is remembered, not
 * acted on: the delivery in hand is finished first). Returns 0 when it exited
 * 0, 1 when it failed (why says how), < 0 when it could not be prepared.
 */
static int run_command(notifier_t *n, uint64_t seq, const lb_val_t *body, uint32_t attempt,
                       char *why, size_t whylen)
{
    envv_t env = {0};
    int in = -1, rc;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_init = false, attr_init = false;
    rc = stdin_file(body, &in);
    if (rc == 0)
        rc = env_build(&env, seq, body, attempt);
    if (rc) {
        snprintf(why, whylen, "cannot prepare the command: %s", lb_strerror(rc));
        goto done;
    }
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGCHLD);
    fa_init = posix_spawn_file_actions_init(&fa) == 0;
    attr_init = posix_spawnattr_init(&attr) == 0;
    if (!fa_init || !attr_init || posix_spawn_file_actions_adddup2(&fa, in, 0) != 0 ||
        /* The child gets plain signals back (ours are blocked or ignored) and its own
         * process group: a terminal's Ctrl-C must not kill a delivery half done, and a
         * timeout kills everything the command started. */
        posix_spawnattr_setsigmask(&attr, &none) != 0 ||
        posix_spawnattr_setsigdefault(&attr, &dflt) != 0 ||
        posix_spawnattr_setpgroup(&attr, 0) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                            POSIX_SPAWN_SETPGROUP) != 0) {
        snprintf(why, whylen, "cannot prepare the command: posix_spawn attributes");
        rc = LB_ENOMEM;
        goto done;
    }
    char *argv[] = {"sh", "-c", (char *)n->o.exec_cmd, NULL};
    int e = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, env.v);
    if (e != 0) {
        /* EAGAIN and ENOMEM pass; treat as a failed run so it is retried with backoff. */
        snprintf(why, whylen, "cannot start /bin/sh: %s", strerror(e));
        pid = -1;
        rc = 1;
        goto done;
    }
    int64_t deadline = n->o.cmd_timeout_s ? lbc_mono_ms() + (int64_t)n->o.cmd_timeout_s * 1000 : -1;
    bool told = false, timed_out = false;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(why, whylen, "waitpid: %s", strerror(errno));
            rc = LB_EIO;
            goto done;
        }
        int64_t left = 1000;
        if (deadline >= 0) {
            left = deadline - lbc_mono_ms();
            if (left <= 0) {
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                    ;
                timed_out = true;
                break;
            }
            if (left > 1000)
                left = 1000;
        }
        /* SIGCHLD is blocked, so an exit between waitpid and here still wakes this. */
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        int sig = sigtimedwait(&n->wait_set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            n->stop = true;
            if (!told)
                say(PRIO_INFO, "stopping after the delivery of seq %" PRIu64 " in hand", seq);
            told = true;
        }
    }
    pid = -1;
    if (timed_out) {
        snprintf(why, whylen, "timed out after %d s and was killed", n->o.cmd_timeout_s);
        rc = 1;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = 0;
    } else if (WIFEXITED(status)) {
        snprintf(why, whylen, "exited with status %d", WEXITSTATUS(status));
        rc = 1;
    } else {
        snprintf(why, whylen, "was killed by signal %d",
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        rc = 1;
    }
done:
    if (attr_init)
        posix_spawnattr_destroy(&attr);
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (in >= 0)
        close(in);
    env_free(&env);
    return rc;
}

/*
 * Delivers one escalation: marks it pending with the run counted, runs CMD
 * (or prints), records it handled. Retries failures with backoff.
 * Returns 0 when handled (delivered, or given up after --max-tries); 1 when
 * told to stop first (it stays pending in the state file); < 0 on a fatal
 * error.
 */
static int deliver(notifier_t *n, uint64_t seq, const lb_val_t *body)
{
    /* Runs started by an earlier process for this seq count: LOGBOOK_ATTEMPT goes on from them. */
    uint32_t attempts = n->saved.pending == seq ? n->saved.attempts : 0;
    int64_t backoff = BACKOFF_FIRST_MS;
    const char *case_id = str_or(body, "case_id", "?");
    for (;;) {
        if (attempts < UINT32_MAX)
            attempts++;
        /* Everything before seq is handled: events are taken one by one in seq order. */
        lbc_cursor_t c = {.seq = seq - 1, .pending = seq, .attempts = attempts};
        if (save(n, &c))
            return 1;
        char why[256] = "";
        int rc;
        if (n->o.exec_cmd) {
            rc = run_command(n, seq, body, attempts, why, sizeof why);
            if (rc < 0) {
                say(PRIO_ERR, "seq %" PRIu64 ": %s", seq, why);
                return rc;
            }
        } else {
            rc = print_line(seq, body);
            if (rc) {
                say(PRIO_ERR, "cannot write to standard output: %s", strerror(errno));
                return rc;
            }
        }
        if (rc == 0) {
            /* The subscriber's cursor is >= seq: it also covers events after seq that
             * were not ours. */
            lbc_cursor_t done = {.seq = lbc_sub_cursor(n->sub)};
            if (done.seq < seq)
                done.seq = seq;
            return save(n, &done);
        }
        if (n->o.max_tries && attempts >= n->o.max_tries) {
            say(PRIO_CRIT,
                "GAVE UP on seq %" PRIu64 " (case %s, level %s, area %s) after %" PRIu32
                " failed runs, the last %s: this alert was NOT delivered",
                seq, case_id, str_or(body, "level", "?"), str_or(body, "area", "?"), attempts, why);
            lbc_cursor_t done = {.seq = lbc_sub_cursor(n->sub)};
            if (done.seq < seq)
                done.seq = seq;
            return save(n, &done);
        }
        say(PRIO_WARNING,
            "seq %" PRIu64 " (case %s): the command %s (run %" PRIu32 "); retrying in %" PRId64
            " s",
            seq, case_id, why, attempts, backoff / 1000);
        if (pause_ms(n, backoff))
            return 1;
        backoff = next_backoff(backoff);
    }
}

/* ---------------------------------------------------------------------- */
/* Main                                                                    */
/* ---------------------------------------------------------------------- */

/* Opens the subscription; on a first start without a daemon it keeps trying. 0, 1 stop, < 0. */
static int open_sub(notifier_t *n, uint64_t after)
{
    const char *topics[AREAS_MAX];
    char bufs[AREAS_MAX][32];
    size_t nt = 0;
    static const char *const all[] = {"escalation."};
    for (size_t i = 0; i < n->o.nareas; i++) {
        snprintf(bufs[i], sizeof bufs[i], "escalation.%s", n->o.areas[i]);
        topics[nt++] = bufs[i];
    }
    lbc_sub_opts_t so = {
        .endpoint = n->o.events_ep,
        .topics = nt ? topics : all,
        .ntopics = nt ? nt : 1,
        .after_seq = after,
    };
    int64_t backoff = BACKOFF_FIRST_MS;
    bool warned = false;
    for (;;) {
        char err[512] = "";
        int rc = lbc_sub_open(n->req, &so, &n->sub, err, sizeof err);
        if (rc == 0)
            return 0;
        if (rc != LB_EUNAVAIL) {
            say(PRIO_ERR, "cannot subscribe to %s: %s (%s)", n->o.events_ep, err, lb_strerror(rc));
            return rc;
        }
        if (!warned)
            say(PRIO_WARNING, "cannot reach the daemon at %s: %s; retrying", n->o.requests_ep, err);
        warned = true;
        if (pause_ms(n, backoff))
            return 1;
        backoff = next_backoff(backoff);
    }
}

/*
 * A daemon whose last_seq is behind the cursor has a different store (restored
 * from an old backup, or new): its seqs below the cursor would be taken for
 * delivered ones and their alerts lost without a word. Returns true when that
 * is so; a daemon that cannot be asked now is not held against it.
 */
static bool daemon_behind(notifier_t *n)
{
    lb_val_t *reply = NULL;
    char err[256] = "";
    int64_t last = -1;
    if (lbc_call(n->req, "ping", NULL, &reply, err, sizeof err) == 0 && lbc_reply_ok(reply))
        lb_map_int(lbc_reply_result(reply), "last_seq", &last);
    lb_val_free(&reply);
    if (last < 0 || (uint64_t)last >= n->saved.seq)
        return false;
    say(PRIO_CRIT,
        "the daemon's last seq is %" PRId64 " but %s says seq %" PRIu64
        " was handled: is this another store? Not starting; remove the state file (with "
        "--from-seq N if needed) once you know where to resume",
        last, n->o.state_path, n->saved.seq);
    return true;
}

static int run(notifier_t *n)
{
    char err[512] = "";
    int rc;
    bool first_start = true;
    if (n->o.state_path) {
        rc = lbc_cursor_lock(n->o.state_path, &n->lock_fd, err, sizeof err);
        if (rc) {
            say(PRIO_ERR, "%s%s", err,
                rc == LB_ECONFLICT ? ": is another logbook-notify using this state file?" : "");
            return EX_FAIL;
        }
        rc = lbc_cursor_load(n->o.state_path, &n->saved, err, sizeof err);
        if (rc == 0) {
            first_start = false;
        } else if (rc == LB_ECORRUPT) {
            say(PRIO_ERR,
                "%s; not guessing where to resume: fix the file, or remove it to start from "
                "the daemon's last seq (or --from-seq)",
                err);
            return EX_USAGE;
        } else if (rc != LB_ENOTFOUND) {
            say(PRIO_ERR, "%s", err);
            return EX_FAIL;
        }
        if (!first_start && n->o.from_seq_set)
            say(PRIO_INFO, "state file %s exists: --from-seq ignored", n->o.state_path);
    }
    lbc_opts_t co;
    lbc_opts_init(&co);
    co.endpoint = n->o.requests_ep;
    if (!n->o.no_curve) {
        co.client_cert = n->o.cert;
        co.server_cert = n->o.server_cert;
    }
    co.timeout_ms = REQ_TIMEOUT_MS;
    co.retries = REQ_RETRIES;
    rc = lbc_connect(&co, &n->req, err, sizeof err);
    if (rc) {
        say(PRIO_ERR, "cannot connect to %s: %s", n->o.requests_ep, err);
        return rc == LB_EBADREQ || rc == LB_ECONFIG ? EX_USAGE : EX_FAIL;
    }
    if (!first_start && daemon_behind(n))
        return EX_USAGE;
    uint64_t after = first_start ? (n->o.from_seq_set ? n->o.from_seq : LBC_SEQ_NOW) : n->saved.seq;
    rc = open_sub(n, after);
    if (rc == 1)
        return EX_OK;
    if (rc)
        return EX_FAIL;
    /* Record the starting point at once: alerts fired from now on must survive a crash. */
    if (first_start) {
        /* With --from-seq the catch-up queue is not delivered yet: the cursor stops before it. */
        lbc_cursor_t c = {.seq = lbc_sub_cursor(n->sub)};
        if (save(n, &c))
            return EX_OK;
    }
    char where[AREAS_MAX * 10 + 16] = "";
    for (size_t i = 0; i < n->o.nareas; i++) {
        size_t l = strlen(where);
        snprintf(where + l, sizeof where - l, "%s%s", i ? "," : " in ", n->o.areas[i]);
    }
    say(PRIO_INFO, "delivering escalations at level %s or higher%s after seq %" PRIu64 "%s",
        ladder[n->o.min_rank], where, n->saved.seq,
        n->saved.pending ? " (one delivery pending from the last run)" : "");
    bool unreachable = false;
    int64_t backoff = BACKOFF_FIRST_MS;
    int exit_code = EX_OK;
    bool inflight = false;
    while (!stop_requested(n)) {
        uint64_t seq = 0;
        lb_val_t *body = NULL;
        rc = lbc_sub_next(n->sub, POLL_MS, &seq, &body, NULL, err, sizeof err);
        if (rc == LB_ENOTFOUND) {
            save_progress(n, false);
            continue;
        }
        if (rc == LB_EUNAVAIL) {
            if (!unreachable)
                say(PRIO_WARNING, "cannot reach the daemon: %s; retrying", err);
            unreachable = true;
            continue; /* lbc_call waited its timeout already */
        }
        if (rc == LB_ECORRUPT) {
            say(PRIO_ERR, "event stream: %s", err);
            pause_ms(n, backoff);
            backoff = next_backoff(backoff);
            continue;
        }
        if (rc) {
            say(PRIO_ERR, "event stream: %s (%s)", err, lb_strerror(rc));
            exit_code = EX_FAIL;
            break;
        }
        if (unreachable)
            say(PRIO_INFO, "the daemon answers again");
        unreachable = false;
        backoff = BACKOFF_FIRST_MS;
        if (seq <= n->saved.seq) {
            /* The file says it was handled: never again, whatever the stream says. */
            say(PRIO_WARNING, "seq %" PRIu64 " came again after seq %" PRIu64 "; ignored", seq,
                n->saved.seq);
        } else if (wanted(n, body)) {
            rc = deliver(n, seq, body);
            if (rc == 1)
                inflight = true;
            else if (rc < 0)
                exit_code = EX_FAIL;
        } else {
            save_progress(n, false);
        }
        lb_val_free(&body);
        if (inflight || exit_code != EX_OK)
            break;
    }
    /* A seq abandoned mid-retry stays pending in the file: it is the first thing run next time. */
    if (!inflight && exit_code == EX_OK)
        save_progress(n, true);
    say(PRIO_INFO, "stopped; cursor at seq %" PRIu64 "%s", n->saved.seq,
        n->saved.pending ? " (one delivery pending)" : "");
    return exit_code;
}

int main(int argc, char **argv)
{
    notifier_t n;
    bool help;
    memset(&n, 0, sizeof n);
    n.lock_fd = -1;
    log_journal = getenv("JOURNAL_STREAM") != NULL;
    int rc = parse_opts(argc, argv, &n.o, &help);
    if (rc) {
        fprintf(stderr, "(see: logbook-notify --help)\n");
        return rc;
    }
    if (help) {
        usage(stdout);
        return EX_OK;
    }
    if (signals_setup(&n) != 0) {
        say(PRIO_ERR, "cannot block signals");
        return EX_FAIL;
    }
    rc = run(&n);
    lbc_sub_destroy(&n.sub);
    lbc_destroy(&n.req);
    lbc_cursor_unlock(&n.lock_fd);
    return rc;
}
