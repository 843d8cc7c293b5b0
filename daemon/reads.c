/*
 * reads.c - running read requests: on the loop in its shared snapshot, or
 * on a reader thread (readers.c) in a snapshot of its own; either way the
 * reply waits (outbox.c) until what the snapshot may show is durable.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"

int lbd_snap_begin(lbd_t *d, lbd_snap_t *s)
{
    if (s->txn)
        return 0;
    int rc = store_read_begin(d->store, &s->txn);
    s->committed = store_committed(d->store);
    return rc;
}

static void run_read(lbd_t *d, lbd_pending_t *p, lbd_snap_t *s)
{
    lbd_ctx_t ctx = {.d = d, .client = p->client, .req = &p->req, .now = lbd_now(d)};
    int rc = 0;
    uint64_t ticket = s->committed;
    if (p->req.op == PROTO_OP_ADMIN_RELOAD) {
        store_read_end(&s->txn); /* it commits case migrations: reads after it must see them */
        lbd_readers_quiesce(d->readers); /* no reader may hold a definition it frees */
    } else {
        rc = lbd_snap_begin(d, s);
        ticket = s->committed;
    }
    if (rc == 0) {
        ctx.txn = s->txn;
        rc = lbd_execute(&ctx);
    }
    if (p->req.op == PROTO_OP_ADMIN_RELOAD)
        ticket = store_committed(d->store);
    d->n_reads++;
    lbd_finish(p, &ctx, rc, &d->n_errors);
    lbd_reply_after(d, p, ticket);
}

/* A read handed to the reader pool: the request moved out of the batch, and its answer. */
typedef struct {
    lbd_job_t job; /* first: the pool hands back &job */
    lbd_t *d;
    lbd_pending_t p;
    int64_t now;        /* the daemon's clock at dispatch */
    uint64_t committed; /* store_committed just after its txn began */
    uint64_t nerr;
} read_job_t;

/*
 * readers_hold_for_test (PROTOCOL.md 8, tests only): each pooled
 * report.summary first takes one byte from the FIFO at path, so a test
 * decides when it runs.
 */
static void hold_for_test(const char *path)
{
    for (;;) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return;
        char c;
        ssize_t n = read(fd, &c, 1);
        close(fd);
        if (n != 0)
            return; /* a byte, or an error: go on */
    }
}

/* On a reader thread: its own snapshot, the handler, the encoded reply. */
static void read_job_run(lbd_job_t *job)
{
    read_job_t *j = (read_job_t *)job;
    lbd_t *d = j->d;
    if (j->p.req.op == PROTO_OP_REPORT_SUMMARY && d->cfg.readers_hold && d->cfg.readers_hold[0])
        hold_for_test(d->cfg.readers_hold);
    lbd_ctx_t ctx = {.d = d, .client = j->p.client, .req = &j->p.req, .now = j->now};
    store_txn_t *txn = NULL;
    int rc = store_read_begin(d->store, &txn);
    /* After the begin: the snapshot shows at most this, maybe less (waiting longer is safe). */
    j->committed = store_committed(d->store);
    if (rc == 0) {
        ctx.txn = txn;
        rc = lbd_execute(&ctx);
    }
    lbd_finish(&j->p, &ctx, rc, &j->nerr); /* encoded while the txn still holds what it shows */
    store_read_end(&txn);
}

void lbd_read_job_free(lbd_job_t *job)
{
    read_job_t *j = (read_job_t *)job;
    lbd_pending_clear(&j->p);
    free(j);
}

/* Runs a read: on a reader thread when there are some and its op may, else here. */
void lbd_dispatch_read(lbd_t *d, lbd_pending_t *p, lbd_snap_t *s)
{
    if (d->readers && lbd_op_pooled(p->req.op)) {
        read_job_t *j = calloc(1, sizeof *j);
        if (j) {
            j->job.run = read_job_run;
            j->d = d;
            j->now = lbd_now(d);
            lbd_pending_take(&j->p, p);
            d->n_reads_pooled++;
            lbd_readers_submit(d->readers, &j->job);
            return;
        }
    }
    run_read(d, p, s);
}

/* Answers the reads the pool finished (each once what it saw is durable). */
void lbd_take_done(lbd_t *d)
{
    if (!d->readers)
        return;
    lbd_job_t *job = lbd_readers_done(d->readers);
    while (job) {
        lbd_job_t *next = job->next;
        read_job_t *j = (read_job_t *)job;
        d->n_reads++;
        d->n_errors += j->nerr;
        lbd_reply_after(d, &j->p, j->committed);
        lbd_read_job_free(job);
        job = next;
    }
}

/* The pool's quiesce, for lbd_users_t.before_swap. */
static void quiesce_cb(void *arg)
{
    lbd_readers_quiesce(arg);
}

int lbd_readers_start(lbd_t *d)
{
    if (d->cfg.readers <= 0)
        return 0;
    int rc = lbd_readers_new((unsigned)d->cfg.readers, &d->readers);
    if (rc == 0) {
        d->users.before_swap = quiesce_cb;
        d->users.swap_arg = d->readers;
    }
    return rc;
}
