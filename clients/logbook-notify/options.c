/*
 * options.c - logbook-notify's command line: the --help text and the
 * options, checked before anything connects.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "notify.h"

/* ---------------------------------------------------------------------- */
/* Usage                                                                   */
/* ---------------------------------------------------------------------- */

static const char usage_text[] =
    "Usage: logbook-notify -e EVENTS_ENDPOINT -r REQUESTS_ENDPOINT -k CERT -s SERVER_CERT\n"
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
    "store), is never guessed around: fix or remove it.\n";

void notify_usage(FILE *f)
{
    fputs(usage_text, f);
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

int notify_rank_of(const char *level)
{
    for (size_t i = 0; level && i < LB_NESC_LEVEL; i++)
        if (strcmp(level, lb_esc_levels[i]) == 0)
            return (int)i;
    return -1;
}

/* Applies option c with its value arg. 0, or EX_USAGE after saying why. */
static int set_option(int c, const char *arg, opts_t *o)
{
    uint64_t v;
    switch (c) {
    case 'e':
        o->conn.events_endpoint = arg;
        break;
    case 'r':
        o->conn.endpoint = arg;
        break;
    case 'k':
        o->conn.client_cert = arg;
        break;
    case 's':
        o->conn.server_cert = arg;
        break;
    case OPT_NO_CURVE:
        o->conn.no_curve = true;
        break;
    case OPT_AREA:
        if (!lb_valid_area(arg, false)) {
            fprintf(stderr, "logbook-notify: --area %s: an area is 2, 4, 6 or 8 digits\n", arg);
            return EX_USAGE;
        }
        if (o->nareas == AREAS_MAX) {
            fprintf(stderr, "logbook-notify: at most %d --area options\n", AREAS_MAX);
            return EX_USAGE;
        }
        o->areas[o->nareas++] = arg;
        break;
    case OPT_LEVEL:
        o->min_rank = notify_rank_of(arg);
        if (o->min_rank < 0) {
            fprintf(stderr,
                    "logbook-notify: --level %s: one of team, subdistrict, district, province\n",
                    arg);
            return EX_USAGE;
        }
        break;
    case OPT_EXEC:
        if (!*arg) {
            fprintf(stderr, "logbook-notify: --exec needs a command\n");
            return EX_USAGE;
        }
        o->exec_cmd = arg;
        break;
    case OPT_STATE:
        if (!*arg) {
            fprintf(stderr, "logbook-notify: --state needs a file name\n");
            return EX_USAGE;
        }
        o->state_path = arg;
        break;
    case OPT_FROM_SEQ:
        if (!parse_uint(arg, INT64_MAX, &v)) {
            fprintf(stderr, "logbook-notify: --from-seq %s: a seq number\n", arg);
            return EX_USAGE;
        }
        o->from_seq_set = true;
        o->from_seq = v;
        break;
    case OPT_MAX_TRIES:
        if (!parse_uint(arg, UINT32_MAX, &v)) {
            fprintf(stderr, "logbook-notify: --max-tries %s: a count (0 = unlimited)\n", arg);
            return EX_USAGE;
        }
        o->max_tries = (uint32_t)v;
        break;
    case OPT_TIMEOUT:
        if (!parse_uint(arg, 7 * 24 * 3600, &v)) {
            fprintf(stderr, "logbook-notify: --timeout %s: seconds, at most a week\n", arg);
            return EX_USAGE;
        }
        o->cmd_timeout_s = (int)v;
        break;
    default: /* not in long_opts: getopt_long says '?' for those first */
        return EX_USAGE;
    }
    return 0;
}

int notify_parse_opts(int argc, char **argv, opts_t *o, bool *help)
{
    memset(o, 0, sizeof *o);
    lbc_conn_opts_init(&o->conn);
    o->conn.timeout_ms = REQ_TIMEOUT_MS;
    o->conn.retries = REQ_RETRIES;
    o->cmd_timeout_s = DEFAULT_CMD_TIMEOUT_S;
    *help = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":e:r:k:s:h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            *help = true;
            return 0;
        }
        if (c == ':') {
            fprintf(stderr, "logbook-notify: %s needs a value\n", argv[optind - 1]);
            return EX_USAGE;
        }
        if (c == '?') {
            fprintf(stderr, "logbook-notify: unknown option %s\n", argv[optind - 1]);
            return EX_USAGE;
        }
        if (set_option(c, optarg, o) != 0)
            return EX_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "logbook-notify: unexpected argument %s\n", argv[optind]);
        return EX_USAGE;
    }
    if (!o->conn.events_endpoint || !*o->conn.events_endpoint || !o->conn.endpoint ||
        !*o->conn.endpoint) {
        fprintf(stderr, "logbook-notify: both endpoints (-e, -r) are needed\n");
        return EX_USAGE;
    }
    return 0;
}
