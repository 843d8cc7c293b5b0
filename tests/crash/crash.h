/*
 * crash.h - the crash test harness's own parts (not a library): the
 * workload that drives a recorded daemon (workload.c) and the checks run
 * against a daemon started on a rebuilt folder (check.c).
 */
#ifndef CRASH_H
#define CRASH_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/testd.h"

enum ack_kind { ACK_OPEN, ACK_NOTE, ACK_ACT, ACK_IMPORT };

/* One write the daemon acknowledged (ok: true). */
typedef struct {
    uint64_t logsize; /* the shim log's size when the reply arrived */
    enum ack_kind kind;
    char case_id[24]; /* ACK_OPEN/NOTE/ACT */
    uint64_t seq;     /* the event the reply named (0 for ACK_IMPORT) */
    char state[32];   /* the case's state after it */
    char text[48];    /* ACK_NOTE: the note; ACK_IMPORT: house ids, space-separated */
} crash_ack_t;

typedef struct {
    crash_ack_t *a;
    size_t n, cap;
} crash_acks_t;

/*
 * Runs `clients` threads, each with its own connection to t, until `writes`
 * writes are acknowledged in all: case.open, case.act (add_note and state
 * transitions) and case.import of three households, each with a distinct
 * request id. logpath is the shim's log, stat'ed after each reply.
 * Acks are appended to *out (the caller frees out->a). 0, or -1 after
 * printing why (a request that failed or timed out).
 */
int crash_workload(testd_t *t, const char *logpath, int writes, int clients, uint64_t seed,
                   crash_acks_t *out);

/* Writes/reads the acks as text lines (for --replay). 0 or -1. */
int crash_acks_save(const crash_acks_t *acks, const char *path);
int crash_acks_load(const char *path, crash_acks_t *out);

/*
 * Checks the daemon t, started on a folder rebuilt at a cut whose log size
 * is `cutoff`: admin.verify ok, every ack with logsize <= cutoff present
 * (the case, its state or the one its next request set, its notes, its
 * events; imported households found). Prints each failure; returns how
 * many there were. *acked gets the number of acks before the cut.
 */
int crash_check(testd_t *t, const crash_acks_t *acks, uint64_t cutoff, size_t *acked);

#endif
