/*
 * sim.h - logbook-sim's driver: the run's state and the parts that talk to
 * the daemon (driver.c: pipelined requests, import, rounds, acknowledgements,
 * the clock) and print the figures (output.c). main.c holds the command line.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../proto/proto.h"
#include "../lib/client.h"
#include "../lib/conn.h"
#include "../lib/pipe.h"
#include "../lib/report.h"
#include "gen.h"
#include "model.h"

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNREACHABLE = 3 };

#define ROUND_S (30 * 86400 / ROUNDS_PER_MONTH)
/* case.import: at most 10,000 households, and under the daemon's default 1 MiB message limit. */
#define IMPORT_BATCH PROTO_IMPORT_MAX
#define IMPORT_BYTES (900 * 1024)
#define DEFAULT_RATE 256
/* admin.clock fires every due escalation in one transaction: give it time. */
#define TIMEOUT_MS 120000

typedef struct {
    int64_t now;
    int64_t by_state[NSTATE];
    lbc_report_row_t totals; /* report.summary's totals row */
    int64_t fired;           /* escalation steps fired during the month (-1: unknown) */
    int64_t acked;
} month_t;

typedef struct {
    /* options */
    lbc_conn_opts_t conn; /* -e, -k, -s, --no-curve; the timeout is the run's */
    const char *html;
    bool no_clock;
    int rate;

    /* the province, as generated (its inputs are options too) */
    world_t w;

    /* the run */
    lbc_t *lbc;
    lbc_pipe_t *pipe;
    bool manual;
    int64_t now;
    int64_t fired_total; /* admin.stats escalations_fired at the last look, -1 unknown */
    int round;
    umap_t by_cid;
    uint64_t ok[NACT + 1], refused[NACT + 1], ack_conflicts;
    uint64_t requests; /* plain calls; s->pipe counts the piped ones */
    char first_refusal[320];
    int64_t opened, skipped, import_errors, foreign;
    int64_t transfers, merges, casework_refused; /* casework.c */
    int64_t pledges, deliveries, ledger_refused; /* ledger.c */
    month_t *mon;
    int nmon;
    lb_val_t *final; /* report.summary by district at the end (the reply) */
    double wall_s;
} sim_t;

/* driver.c */
int import_all(sim_t *s);
int map_cases(sim_t *s);
int run_round(sim_t *s);
int ack_round(sim_t *s, int month);
int advance_clock(sim_t *s);
int read_stats(sim_t *s, bool *manual);
int summary(sim_t *s, const char *by, lb_val_t **reply);
int snapshot(sim_t *s, month_t *m);

/* casework.c: the committees' transfers and merges at the end of `month` */
int casework_round(sim_t *s, int month);

/* ledger.c: the agencies' pledges and deliveries after round s->round */
int ledger_round(sim_t *s);

/* output.c */
const char *num(int64_t v);
double pct(int64_t a, int64_t b);
int64_t row_int(const lb_val_t *row, const char *key);
void print_generated(const sim_t *s);
void print_header(void);
void print_month(int month, const month_t *m, double secs);
void print_summary(const sim_t *s);
int write_html(const sim_t *s, const char *path);

#endif
