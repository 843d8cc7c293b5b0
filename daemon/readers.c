/*
 * readers.c - the reader thread pool (readers.h): a FIFO of jobs under one
 * mutex, workers waiting on a condition variable, and a done list the loop
 * takes after an eventfd wakes its poll. Quiescing waits on a second
 * condition until nothing is queued or running.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../proto/lb.h"
#include "readers.h"

struct lbd_readers {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was queued, or stop */
    pthread_cond_t idle; /* a job finished (quiesce waits on it) */
    lbd_job_t *head, *tail;
    lbd_job_t *done_head, *done_tail;
    size_t queued, busy;
    uint64_t ndone;
    bool stop;
    unsigned paused; /* lbd_readers_pause depth: no job starts while > 0 */
    int efd;
    unsigned n;
    pthread_t *threads;
};

static void *worker(void *arg)
{
    lbd_readers_t *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && (!r->head || r->paused))
            pthread_cond_wait(&r->work, &r->mu);
        if (r->stop)
            break;
        lbd_job_t *j = r->head;
        r->head = j->next;
        if (!r->head)
            r->tail = NULL;
        r->queued--;
        r->busy++;
        pthread_mutex_unlock(&r->mu);
        j->next = NULL;
        j->run(j);
        pthread_mutex_lock(&r->mu);
        r->busy--;
        r->ndone++;
        if (r->done_tail)
            r->done_tail->next = j;
        else
            r->done_head = j;
        r->done_tail = j;
        uint64_t one = 1;
        /* An eventfd write fails only when the counter would overflow: it is readable then. */
        ssize_t w = write(r->efd, &one, sizeof one);
        (void)w;
        pthread_cond_broadcast(&r->idle);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int lbd_readers_new(unsigned n, lbd_readers_t **out)
{
    if (!out || n == 0 || n > 64)
        return LB_EINTERNAL;
    *out = NULL;
    lbd_readers_t *r = calloc(1, sizeof *r);
    if (!r)
        return LB_ENOMEM;
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->threads = calloc(n, sizeof *r->threads);
    if (r->efd < 0 || !r->threads) {
        int rc = r->efd < 0 ? LB_EIO : LB_ENOMEM;
        if (r->efd >= 0)
            close(r->efd);
        free(r->threads);
        free(r);
        return rc;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->idle, NULL);
    /* The workers take no signal: the loop reads them from its signalfd. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (; r->n < n; r->n++)
        if (pthread_create(&r->threads[r->n], NULL, worker, r) != 0) {
            rc = LB_EIO;
            break;
        }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        lbd_readers_destroy(&r, NULL);
        return rc;
    }
    *out = r;
    return 0;
}

void lbd_readers_submit(lbd_readers_t *r, lbd_job_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&r->mu);
    if (r->tail)
        r->tail->next = job;
    else
        r->head = job;
    r->tail = job;
    r->queued++;
    pthread_cond_signal(&r->work);
    pthread_mutex_unlock(&r->mu);
}

lbd_job_t *lbd_readers_done(lbd_readers_t *r)
{
    uint64_t v;
    ssize_t got = read(r->efd, &v, sizeof v); /* EAGAIN: nothing to clear; the list counts */
    (void)got;
    pthread_mutex_lock(&r->mu);
    lbd_job_t *j = r->done_head;
    r->done_head = r->done_tail = NULL;
    pthread_mutex_unlock(&r->mu);
    return j;
}

int lbd_readers_fd(const lbd_readers_t *r)
{
    return r ? r->efd : -1;
}

void lbd_readers_quiesce(lbd_readers_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    while (r->queued || r->busy)
        pthread_cond_wait(&r->idle, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

void lbd_readers_pause(lbd_readers_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->paused++;
    while (r->busy)
        pthread_cond_wait(&r->idle, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

void lbd_readers_resume(lbd_readers_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->paused && --r->paused == 0)
        pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->mu);
}

void lbd_readers_stats(lbd_readers_t *r, lbd_readers_stats_t *st)
{
    *st = (lbd_readers_stats_t){0};
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    st->threads = r->n;
    st->queued = r->queued;
    st->busy = r->busy;
    st->done = r->ndone;
    pthread_mutex_unlock(&r->mu);
}

static void free_list(lbd_job_t *j, void (*fn)(lbd_job_t *job))
{
    while (j) {
        lbd_job_t *next = j->next;
        if (fn)
            fn(j);
        j = next;
    }
}

void lbd_readers_destroy(lbd_readers_t **rp, void (*fn)(lbd_job_t *job))
{
    lbd_readers_t *r = rp ? *rp : NULL;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->mu);
    for (unsigned i = 0; i < r->n; i++)
        pthread_join(r->threads[i], NULL);
    free_list(r->head, fn);
    free_list(r->done_head, fn);
    pthread_cond_destroy(&r->idle);
    pthread_cond_destroy(&r->work);
    pthread_mutex_destroy(&r->mu);
    close(r->efd);
    free(r->threads);
    free(r);
    *rp = NULL;
}
