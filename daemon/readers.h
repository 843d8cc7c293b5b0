/*
 * readers.h - the reader thread pool (config key `readers`, PROTOCOL.md 8):
 * threads that run jobs (read-only requests) off the loop thread, so a long
 * report never holds up a write. The pool knows nothing of requests: a job is
 * a struct embedding lbd_job_t with a run function; the loop hands jobs in
 * (lbd_readers_submit), workers run them, and finished jobs come back to the
 * loop in the order they finished (lbd_readers_done), signalled through an
 * eventfd the loop polls. Only the loop thread calls these functions.
 */
#ifndef LBD_READERS_H
#define LBD_READERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct lbd_job lbd_job_t;
struct lbd_job {
    lbd_job_t *next; /* the pool's, while the job is queued or done */
    /* Runs on a worker thread; must not touch anything the loop changes meanwhile. */
    void (*run)(lbd_job_t *job);
};

typedef struct lbd_readers lbd_readers_t;

/*
 * Starts n (1..64) worker threads, with every signal blocked in them (they
 * inherit the caller's mask: call after the loop's signals are blocked).
 * 0 with *out the caller's (lbd_readers_destroy); LB_EINTERNAL (n out of
 * range, out NULL); LB_EIO (eventfd or a thread could not be made);
 * LB_ENOMEM. *out NULL on error, no thread left running.
 */
int lbd_readers_new(unsigned n, lbd_readers_t **out);
/*
 * Queues job (owned by the pool until lbd_readers_done hands it back; never
 * freed by the pool) for the next free worker. Never fails. A job is held,
 * not started, while the pool is quiesced (lbd_readers_quiesce).
 */
void lbd_readers_submit(lbd_readers_t *r, lbd_job_t *job);
/*
 * Takes every finished job, oldest first (linked by next, NULL-terminated;
 * NULL when none), and clears the eventfd. The jobs are the caller's again.
 */
lbd_job_t *lbd_readers_done(lbd_readers_t *r);
/* The eventfd that polls readable while finished jobs wait for lbd_readers_done. */
int lbd_readers_fd(const lbd_readers_t *r);
/*
 * Waits until no job is queued or running: every job submitted before has
 * finished (and waits on the done list). Not while paused (it would wait for
 * ever on the queued jobs). After it, the loop may free or swap
 * what jobs read (definitions, the registry, users). Safe on NULL.
 */
void lbd_readers_quiesce(lbd_readers_t *r);
/*
 * Pauses the pool: no queued job starts until lbd_readers_resume, and this
 * waits until the running ones have finished, so no read transaction of the
 * pool is open (the store may remap its file: store_grow). Queued jobs stay
 * queued. Pauses nest. Safe on NULL.
 */
void lbd_readers_pause(lbd_readers_t *r);
/* Ends one lbd_readers_pause; jobs start again after the last. Safe on NULL. */
void lbd_readers_resume(lbd_readers_t *r);
/* Threads, jobs waiting to start, jobs running now, and jobs run since start. */
typedef struct {
    unsigned threads;
    size_t queued, busy;
    uint64_t done;
} lbd_readers_stats_t;
/* Fills *st (zeros for NULL r). */
void lbd_readers_stats(lbd_readers_t *r, lbd_readers_stats_t *st);
/*
 * Lets running jobs finish, stops and joins the threads, and hands every job
 * that never ran or was not taken back to fn (may be NULL) to free; then
 * frees the pool and sets *r NULL. Safe on NULL and *r NULL.
 */
void lbd_readers_destroy(lbd_readers_t **r, void (*fn)(lbd_job_t *job));

#endif
