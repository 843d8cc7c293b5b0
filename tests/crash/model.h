/*
 * model.h - the crash test's rebuild model: reads the shim's log
 * (crashlog.h) and writes, for a cut after any event, a folder as a power
 * loss at that moment could have left it (docs/CRASHTEST.md).
 *
 * Errors: 0, or -1 with a reason in err. Threads: a crash_log_t is read-only
 * after crash_log_load and may be shared by threads that rebuild.
 */
#ifndef CRASH_MODEL_H
#define CRASH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "crashlog.h"

typedef struct crash_log crash_log_t;

/*
 * Reads the whole log at path. *out is the caller's (crash_log_destroy).
 * A torn last record (the process was killed while appending) is left out.
 * -1 with err when the file cannot be read or a record is malformed.
 */
int crash_log_load(const char *path, crash_log_t **out, char *err, size_t errlen);

/* Frees, sets *l NULL; safe on NULL. */
void crash_log_destroy(crash_log_t **l);

/* How many events the log holds. */
size_t crash_log_count(const crash_log_t *l);

/* Event i's header (borrowed from l, valid until it is destroyed); i < count. */
const crash_rec_t *crash_log_event(const crash_log_t *l, size_t i);

/* The log's size in bytes up to the end of event i (what a stat of it read then). */
uint64_t crash_log_end(const crash_log_t *l, size_t i);

/* What one rebuild kept and dropped, for the report. */
typedef struct {
    size_t files, dirs;             /* in the rebuilt folder */
    size_t pieces_kept, pieces_cut; /* pieces of writes not yet durable at the cut */
    size_t meta_pending, meta_kept; /* metadata operations not yet durable, and the prefix kept */
} crash_stats_t;

/*
 * Replays events [0, cut) and writes into outdir (which must exist and be
 * empty) each surviving file: its durable image plus a random subset of the
 * 4 KiB-aligned pieces of its writes not yet durable; names and folders that
 * are durable plus a random prefix (in order) of those that are not. lock.mdb
 * is never written. seed makes the choice reproducible. st may be NULL.
 */
int crash_rebuild(const crash_log_t *l, size_t cut, uint64_t seed, const char *outdir,
                  crash_stats_t *st, char *err, size_t errlen);

#endif
