/*
 * logbook-sim - a synthetic province for Logbook. Generates TPMAP target
 * households (default Phitsanulok, 65: 13,831 households in its 9 districts),
 * imports them, then drives simulated field teams and committees through
 * visits, assistance, follow-ups, resolutions, closures and escalation
 * acknowledgements month by month, moving a `--clock manual` daemon's clock.
 *
 * Requests are pipelined (lbc_pipe, --rate in flight). Every choice
 * comes from --seed through one random stream per household, never from the
 * order replies arrive in, so the same seed against a fresh daemon gives the
 * same figures. Exit: 0 done, 1 the daemon refused something the simulation
 * expected to work (or the run stopped), 2 usage, 3 the daemon cannot be reached.
 *
 * gen.c makes the province, model.c decides what the teams do, driver.c
 * talks to the daemon, output.c prints; this file is the command line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static void die_oom(void)
{
    fprintf(stderr, "logbook-sim: out of memory\n");
    exit(EX_REFUSED);
}

/* ---------------------------------------------------------------------- */
/* Command line                                                            */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
    lbc_paths_t p = lbc_default_paths();
    fprintf(
        f,
        "usage: logbook-sim [OPTIONS]\n\n"
        "Generates a synthetic province of TPMAP target households, imports them and\n"
        "drives simulated field teams and committees through visits, assistance,\n"
        "follow-ups, resolutions, closures and escalation acknowledgements, month by\n"
        "month. Against a daemon run with --clock manual each month moves its clock 30\n"
        "days (in three steps of 10), so escalations fire as they would.\n\n"
        "  -e, --endpoint EP       requests endpoint (%s)\n"
        "  -k, --cert FILE         client secret certificate, an admin key (%s)\n"
        "  -s, --server-cert FILE  server public certificate (%s)\n"
        "      --no-curve          plain connection (daemon with curve: false)\n"
        "      --province CODE     2-digit province (default 65, Phitsanulok; 91 Satun is\n"
        "                          built in too; others get districts PP01..PPnn)\n"
        "      --districts N       districts of a province without a built-in list (default 8)\n"
        "      --households N      target households (default 13831)\n"
        "      --months M          months to simulate (default 12)\n"
        "      --seed S            random seed; the same seed gives the same run (default 1)\n"
        "      --rate N            requests in flight (default %d)\n"
        "      --no-clock          never call admin.clock (act without moving time)\n"
        "      --html FILE         also write the month-by-month figures as an HTML page\n"
        "  -h, --help              this text\n\n"
        "exit status: 0 done, 1 the daemon refused an action (or the run stopped), 2 usage,\n"
        "3 the daemon cannot be reached\n",
        p.endpoint, p.client_cert, p.server_cert, DEFAULT_RATE);
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

enum {
    O_NOCURVE = 256,
    O_PROVINCE,
    O_DISTRICTS,
    O_HOUSEHOLDS,
    O_MONTHS,
    O_SEED,
    O_RATE,
    O_NOCLOCK,
    O_HTML
};

/*
 * The options with a number (and --province): the value into s, or
 * EX_USAGE after saying why.
 */
static int number_option(sim_t *s, int o, const char *arg)
{
    uint64_t v;
    switch (o) {
    case O_PROVINCE:
        if (strlen(arg) != 2 || !parse_u64(arg, 10, 96, &v)) {
            fprintf(stderr, "logbook-sim: --province wants a 2-digit code 10-96\n");
            return EX_USAGE;
        }
        snprintf(s->w.province, sizeof s->w.province, "%s", arg);
        return 0;
    case O_DISTRICTS:
        if (!parse_u64(arg, 1, 99, &v)) {
            fprintf(stderr, "logbook-sim: --districts wants 1-99\n");
            return EX_USAGE;
        }
        s->w.ndistricts_opt = (int)v;
        return 0;
    case O_HOUSEHOLDS:
        if (!parse_u64(arg, 1, HOUSEHOLDS_MAX, &v)) {
            fprintf(stderr, "logbook-sim: --households wants 1-%d\n", HOUSEHOLDS_MAX);
            return EX_USAGE;
        }
        s->w.n = (uint32_t)v;
        return 0;
    case O_MONTHS:
        if (!parse_u64(arg, 1, 120, &v)) {
            fprintf(stderr, "logbook-sim: --months wants 1-120\n");
            return EX_USAGE;
        }
        s->w.months = (int)v;
        return 0;
    case O_SEED:
        if (!parse_u64(arg, 0, UINT64_MAX, &v)) {
            fprintf(stderr, "logbook-sim: --seed wants a non-negative integer\n");
            return EX_USAGE;
        }
        s->w.seed = v;
        return 0;
    default: /* O_RATE */
        if (!parse_u64(arg, 1, 4096, &v)) {
            fprintf(stderr, "logbook-sim: --rate wants 1-4096 requests in flight\n");
            return EX_USAGE;
        }
        s->rate = (int)v;
        return 0;
    }
}

/* 0, or EX_USAGE after saying why. */
static int parse_options(sim_t *s, int argc, char **argv)
{
    static const struct option longs[] = {{"endpoint", required_argument, NULL, 'e'},
                                          {"cert", required_argument, NULL, 'k'},
                                          {"server-cert", required_argument, NULL, 's'},
                                          {"no-curve", no_argument, NULL, O_NOCURVE},
                                          {"province", required_argument, NULL, O_PROVINCE},
                                          {"districts", required_argument, NULL, O_DISTRICTS},
                                          {"households", required_argument, NULL, O_HOUSEHOLDS},
                                          {"months", required_argument, NULL, O_MONTHS},
                                          {"seed", required_argument, NULL, O_SEED},
                                          {"rate", required_argument, NULL, O_RATE},
                                          {"no-clock", no_argument, NULL, O_NOCLOCK},
                                          {"html", required_argument, NULL, O_HTML},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "e:k:s:h", longs, NULL)) != -1) {
        switch (o) {
        case 'e':
            s->conn.endpoint = optarg;
            break;
        case 'k':
            s->conn.client_cert = optarg;
            break;
        case 's':
            s->conn.server_cert = optarg;
            break;
        case O_NOCURVE:
            s->conn.no_curve = true;
            break;
        case O_NOCLOCK:
            s->no_clock = true;
            break;
        case O_HTML:
            s->html = optarg;
            break;
        case O_PROVINCE:
        case O_DISTRICTS:
        case O_HOUSEHOLDS:
        case O_MONTHS:
        case O_SEED:
        case O_RATE:
            if (number_option(s, o, optarg))
                return EX_USAGE;
            break;
        case 'h':
            usage(stdout);
            exit(EX_OK);
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "logbook-sim: unexpected argument '%s'\n", argv[optind]);
        return EX_USAGE;
    }
    bool builtin = gen_province_known(s->w.province);
    if (builtin && s->w.ndistricts_opt) {
        fprintf(stderr,
                "logbook-sim: province %s has its real districts; --districts is for "
                "other provinces\n",
                s->w.province);
        return EX_USAGE;
    }
    if (!builtin && !s->w.ndistricts_opt)
        s->w.ndistricts_opt = 8;
    return 0;
}

/*
 * Connects s->lbc for the run, after a short first ping on a connection of its own so that a
 * daemon that is not there is said at once. 0, or EX_UNREACHABLE after saying why.
 */
static int connect_daemon(sim_t *s)
{
    char err[512] = "";
    lbc_conn_opts_t probe = s->conn;
    probe.timeout_ms = 3000;
    probe.retries = 1;
    int rc = lbc_conn_open(&probe, &s->lbc, err, sizeof err);
    if (rc == 0) {
        lb_val_t *r = NULL;
        rc = lbc_call(s->lbc, "ping", NULL, &r, err, sizeof err);
        lb_val_free(&r);
        lbc_destroy(&s->lbc);
        if (rc) {
            fprintf(stderr, "logbook-sim: %s does not answer: %s\n", s->conn.endpoint, err);
            return EX_UNREACHABLE;
        }
        s->conn.timeout_ms = TIMEOUT_MS;
        rc = lbc_conn_open(&s->conn, &s->lbc, err, sizeof err);
    }
    if (rc) {
        fprintf(stderr, "logbook-sim: cannot connect to %s: %s\n", s->conn.endpoint, err);
        return EX_UNREACHABLE;
    }
    return 0;
}

static double secs_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Everything after the households exist: import, the months, the summary. */
static int simulate(sim_t *s)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool manual = false;
    if (read_stats(s, &manual))
        fprintf(stderr, "logbook-sim: admin.stats refused (not an admin key?): running without "
                        "moving the clock or counting escalations\n");
    s->manual = manual && !s->no_clock;
    int rc = import_all(s);
    if (rc == 0)
        rc = map_cases(s);
    if (rc)
        return rc;
    printf("imported %s households (%s opened, %s already open, %s refused) in %.1f s%s\n",
           num(s->w.n), num(s->opened), num(s->skipped), num(s->import_errors), secs_since(&t0),
           s->foreign ? "; households already in progress are left alone" : "");
    if (!s->manual)
        printf("the daemon's clock is %s: months pass without time moving, so no escalation "
               "fires\n",
               manual ? "not moved (--no-clock)" : "real");
    print_header();
    s->mon = calloc((size_t)s->w.months, sizeof *s->mon);
    if (!s->mon)
        return LB_ENOMEM;
    for (int m = 0; m < s->w.months && rc == 0; m++) {
        struct timespec tm;
        clock_gettime(CLOCK_MONOTONIC, &tm);
        for (int r = 0; r < ROUNDS_PER_MONTH && rc == 0; r++) {
            s->round = m * ROUNDS_PER_MONTH + r;
            rc = run_round(s);
            if (rc == 0)
                rc = ledger_round(s);
            if (rc == 0)
                rc = advance_clock(s);
        }
        uint64_t acks = s->ok[A_ACK];
        if (rc == 0)
            rc = casework_round(s, m);
        if (rc == 0)
            rc = ack_round(s, m);
        s->mon[m].acked = (int64_t)(s->ok[A_ACK] - acks);
        if (rc == 0)
            rc = snapshot(s, &s->mon[m]);
        if (rc == 0) {
            s->nmon = m + 1;
            print_month(m, &s->mon[m], secs_since(&tm));
        }
    }
    if (rc == 0)
        rc = summary(s, "district", &s->final);
    s->wall_s = secs_since(&t0);
    s->requests += lbc_pipe_sent(s->pipe);
    if (rc == 0)
        print_summary(s);
    if (rc == 0 && s->html && (rc = write_html(s, s->html)) == 0)
        printf("  html       %s\n", s->html);
    return rc;
}

int main(int argc, char **argv)
{
    sim_t s = {.w = {.province = "65", .n = 13831, .months = 12, .seed = 1},
               .rate = DEFAULT_RATE,
               .fired_total = -1};
    lbc_conn_opts_init(&s.conn);
    int rc = parse_options(&s, argc, argv);
    if (rc)
        return rc;
    if (gen_world(&s.w))
        die_oom();
    print_generated(&s);
    int ex = connect_daemon(&s);
    if (ex)
        goto out;
    if (lbc_pipe_new(s.lbc, s.rate, TIMEOUT_MS, &s.pipe))
        die_oom();
    rc = simulate(&s);
    uint64_t refused = 0;
    for (int a = 0; a <= NACT; a++)
        refused += s.refused[a];
    ex = rc == LB_EUNAVAIL || rc == LB_EIO  ? EX_UNREACHABLE
         : rc || refused || s.import_errors ? EX_REFUSED
                                            : EX_OK;
    const char *why = "";
    if (rc && lbc_pipe_error(s.pipe, &why))
        fprintf(stderr, "logbook-sim: %s\n", why);
    if (rc)
        fprintf(stderr, "logbook-sim: stopped: %s\n", lb_strerror(rc));
    else if (ex)
        fprintf(stderr,
                "logbook-sim: the daemon refused %s action%s the simulation expected to "
                "work%s%s\n",
                num((int64_t)refused + s.import_errors),
                refused + (uint64_t)s.import_errors == 1 ? "" : "s",
                s.first_refusal[0] ? "; first: " : "", s.first_refusal);
out:
    lbc_pipe_destroy(&s.pipe);
    lbc_destroy(&s.lbc);
    lb_val_free(&s.final);
    umap_free(&s.by_cid);
    free(s.mon);
    world_free(&s.w);
    return ex;
}
