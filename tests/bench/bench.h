/*
 * bench.h - what the parts of `make bench` share: its settings, number
 * formatting, /proc readings, daemons with 10,000s of households, and the
 * transitions driver. Single-threaded unless a function says otherwise;
 * nothing here asserts a timing (see docs/BENCHMARKS.md).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../clients/lib/client.h"
#include "../lib/testd.h"

/* The run's settings, filled by main() from the environment before any part runs. */
typedef struct {
    bool quick;
    long big;          /* cases for the start/memory part */
    long mid;          /* cases for the import and reads parts */
    long import_batch; /* households per case.import */
    long tx_cases;     /* cases the transitions are spread over */
    double tx_seconds; /* length of one transitions run */
    long tx_max;       /* cap on requests of one transitions run */
    int query_runs;    /* runs per query, the median is printed */
    int batch_max;     /* 0 = the daemon's default (512) */
    long villages;     /* villages (one household each) of the report-wait part */
    const char *only;  /* BENCH_ONLY, or NULL for every part */
    int nproc;
} bench_cfg_t;

extern bench_cfg_t bench_cfg;

/* Whether BENCH_ONLY names the part (or is unset). */
bool bench_part_on(const char *name);

/* ---- numbers and time (the formatters use rotating static buffers: a few per printf) ---- */

uint64_t bench_now_ns(void);
double bench_ms_since(uint64_t t0_ns);
/* 1234567 -> "1,234,567". */
const char *bench_num(double v);
/* Milliseconds with sensible precision: "0.412 ms", "3.1 ms", "14 ms". */
const char *bench_ms(double v);
/* "a, b, c" from /proc/loadavg, or "?". */
void bench_loadavg(char *out, size_t n);
int bench_cmp_u64(const void *a, const void *b);
int bench_cmp_dbl(const void *a, const void *b);
/* The p-quantile (nearest rank) of sorted v[0..n); 0 when n is 0. */
uint64_t bench_pct(const uint64_t *v, size_t n, double p);

/* ---- /proc ---- */

/* A "Name:   123 kB" line of /proc/PID/status, in kB; -1 when absent. */
long bench_proc_status_kb(pid_t pid, const char *key);
/* utime + stime of a process in seconds; with children, also cutime + cstime (reaped
 * children); -1 when unreadable. */
double bench_proc_cpu_s(pid_t pid);
double bench_proc_cpu_all_s(pid_t pid);
/* A "key: value" line of /proc/PID/io (bytes; includes reaped children); -1 when unreadable. */
long long bench_proc_io(pid_t pid, const char *key);
/* Bytes the block device holding path has written since boot (every process's writes, from
 * /sys/dev/block/MAJ:MIN/stat), or -1. */
long long bench_dev_written(const char *path);
/* Whether something accepts TCP connections on 127.0.0.1:port. */
bool bench_port_open(int port);

/* ---- daemons ---- */

/* An integer field of admin.stats; -1 when absent or the call failed. */
int64_t bench_stat_int(testd_t *t, const char *key);
/* admin.stats' result (caller frees with lb_val_free), or NULL. */
lb_val_t *bench_stats(testd_t *t);
/*
 * Starts a daemon as shipped (real clock, CURVE unless curve_off, fsync per commit) with
 * the bench's batch_max and a per-key rate it cannot reach; extra_config (or NULL) is
 * appended to its config. Its admin client gets a 600 s timeout. 0, or -1 with a message
 * on stderr (t still needs testd_cleanup).
 */
int bench_start_daemon(testd_t *t, const char *what, bool curve_off, const char *extra_config);
/* A client of t with the admin certificate (none when t runs without CURVE), on zctx (or
 * its own context when NULL), no retries. NULL with a message on stderr. */
lbc_t *bench_client(testd_t *t, void *zctx, int timeout_ms);

/* ---- households ---- */

/* Household n: house id 10000000000 + n, a village of province 65 (180 villages), 1-3
 * deprived indicators. Caller frees. */
lb_val_t *bench_household(uint64_t n);
/* Household n in the given village (8 digits). Caller frees. */
lb_val_t *bench_household_in(uint64_t n, const char *area);
/* The village of household n, or NULL for bench_household()'s own spread. */
typedef const char *(*bench_area_fn)(uint64_t n, void *user);

typedef struct {
    uint64_t opened, skipped, errors;
    double call_ms;  /* sum of case.import round trips */
    double wall_ms;  /* including building the batches in the client */
    double worst_ms; /* slowest batch */
    int failed;      /* calls without an ok reply */
} bench_import_t;

/* Imports households first .. first+count-1 in batches (areas from area_fn when not NULL);
 * progress on stderr every 10 s when asked. 0, or -1 when a call failed. */
int bench_import_range(testd_t *t, uint64_t first, uint64_t count, uint64_t batch,
                       bench_import_t *res, bool progress);
int bench_import_areas(testd_t *t, uint64_t first, uint64_t count, uint64_t batch,
                       bench_area_fn area_fn, void *user, bench_import_t *res, bool progress);
/* Case ids of every case under area (NULL: all), in case.list order; how many were found. */
size_t bench_list_ids(testd_t *t, const char *area, char (*ids)[LB_CASE_ID_MAX], size_t max);

/* ---- durable transitions (bench_tx.c) ---- */

typedef struct {
    double per_s;
    uint64_t n, errors;
    double p50, p99, p999, max, mean_batch;
    double daemon_cores, bench_cores; /* CPU seconds per second of the run */
    double daemon_us, bench_us;       /* CPU microseconds per request */
    double kib_per_write;             /* bytes the daemon wrote to files (wchar), per request */
    double disk_kib_per_write;        /* page cache it dirtied (write_bytes), or -1 */
    double dev_kib_per_write;  /* the data folder's block device wrote (all processes), or -1 */
    double exec_ms, commit_ms; /* per commit, from admin.stats when it has them, else -1 */
    char syncs[256];           /* "log_syncs 123/s, ..." from admin.stats, or "" */
    char gauges[256];          /* durable lag, queue depths from admin.stats, or "" */
    double seconds;            /* length of the run */
    uint64_t *lat;             /* the n latencies (ns), sorted; the caller frees */
    int fail;
} bench_tx_t;

/*
 * Runs conns threads (each its own connection) with inflight case.act add_note requests
 * each, round robin over ids, for seconds (or bench_cfg.tx_max requests). Threads: its own.
 * The result's lat is the caller's to free.
 */
bench_tx_t bench_tx_run(testd_t *t, char (*ids)[LB_CASE_ID_MAX], size_t nids, int conns,
                        int inflight, double seconds);
/* Prints a run in the "transitions LABEL ..." format. */
void bench_tx_print(const char *label, const bench_tx_t *r);
/* Part 1: the 1x1 and 32x4 runs on a daemon with tx_cases cases; their results go to
 * one and many (either may be NULL). 0, or -1 when the part could not run. */
int bench_part_tx(bench_tx_t *one, bench_tx_t *many);
/* The CURVE share: a short 32x4 run on a daemon without CURVE, compared with with_curve
 * (the 32x4 run above, or NULL). 0, or -1. */
int bench_part_curve(const bench_tx_t *with_curve);

/* ---- PostgreSQL 15 (bench_pg.c) ---- */

/* The same transaction with pgbench, 32 clients (and 1), compared with the logbookd runs
 * (either may be NULL). Prints one line and returns 0 when PostgreSQL 15 is not
 * installed; -1 when it is but the comparison could not run. Starts and stops (by pid) a
 * cluster of its own in a scratch folder. */
int bench_part_pg(const bench_tx_t *one, const bench_tx_t *many);

/* ---- a write during a national report (bench_report.c) ---- */

/* Writes 1x1 alone and while another connection loops report.summary {by: village} over
 * bench_cfg.villages villages. 0, or -1. */
int bench_part_report_wait(void);

#endif
