/*
 * outbox.c - replies and events that wait for their writes to be durable
 * (store_durable, the write-ahead log synced): write replies and each
 * batch's events in batch order, read replies each on the commits its
 * snapshot may show; and the admin.clock replies held until the timers they
 * made due have fired. Loop thread only.
 */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "loop.h"

/* Write batches whose replies may wait for durability at once; then the loop stops draining. */
#define OUTBOX_BATCHES 4

static void hold_reply(lbd_t *d, lbd_pending_t *p);
static void publish(lbd_t *d, const lbd_pubs_t *pubs);

/*
 * A reply goes out only when everything it may show is durable: a write's
 * once its batch's ticket is (store_durable >= ticket), a read's once the
 * commits its snapshot saw are. Write replies and events wait in batch order;
 * read replies each on their own ticket.
 */
typedef struct {
    lbd_pending_t p; /* envelope and reply only */
    uint64_t ticket; /* store_durable must reach it */
    bool hold;       /* admin.clock: on to the held replies (lbd_release_held) instead of out */
} waiting_t;

typedef struct {
    lbd_pubs_t pubs;
    uint64_t ticket;
} waiting_pubs_t;

typedef struct {
    waiting_t *w; /* write replies, in batch order (tickets rise): w[w0] to w[nw - 1] */
    size_t w0, nw, capw;
    waiting_pubs_t *e; /* each write batch's events, in order */
    size_t ne, cape;
    waiting_t *r; /* read replies, any tickets */
    size_t nr, capr;
    bool to_held; /* a release moved an admin.clock reply to the held ones */
} outbox_t;

static outbox_t *outbox(lbd_t *d)
{
    if (!d->outbox)
        d->outbox = calloc(1, sizeof(outbox_t));
    return d->outbox;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, c * size);
    if (!nv)
        return LB_ENOMEM;
    *v = nv;
    *cap = c;
    return 0;
}

/*
 * Room for one more write reply. Released replies leave the front (w0 rises)
 * without moving the rest: the queue is moved down only once half of it is
 * free in front, so each reply is moved at most about once.
 */
static int w_room(outbox_t *ob)
{
    if (ob->nw < ob->capw)
        return 0;
    if (ob->w0 == 0 || ob->w0 < ob->capw / 2)
        return grow((void **)&ob->w, &ob->capw, ob->nw, sizeof *ob->w);
    memmove(ob->w, ob->w + ob->w0, (ob->nw - ob->w0) * sizeof *ob->w);
    ob->nw -= ob->w0;
    ob->w0 = 0;
    return 0;
}

/* Waits for ticket when a reply cannot be queued (out of memory): slower, still in order. */
void lbd_wait_durable(lbd_t *d, uint64_t ticket)
{
    if (store_wait_durable(d->store, ticket))
        lbd_log(LBD_LOG_ERROR, "the write-ahead log failed: stopping");
}

/*
 * Without memory to queue a reply: waits for the log to make ticket durable,
 * and sends what waited before it, so the reply in hand goes out in order.
 */
static void wait_then_release(lbd_t *d, uint64_t ticket)
{
    lbd_wait_durable(d, ticket);
    lbd_release_durable(d);
}

/* Sends p's reply once store_durable reaches ticket (queued until then); p is left empty. */
void lbd_reply_after(lbd_t *d, lbd_pending_t *p, uint64_t ticket)
{
    outbox_t *ob = outbox(d);
    if (!lbd_outbox_empty(d))
        lbd_release_durable(d); /* an earlier write's reply, durable now, goes first */
    if (store_durable(d->store) >= ticket) {
        lbd_send_reply(d, p);
        return;
    }
    if (!ob || grow((void **)&ob->r, &ob->capr, ob->nr, sizeof *ob->r)) {
        wait_then_release(d, ticket);
        if (!store_log_failed(d->store))
            lbd_send_reply(d, p);
        return;
    }
    waiting_t *w = &ob->r[ob->nr++];
    lbd_pending_take(&w->p, p);
    w->ticket = ticket;
    w->hold = false;
}

/* Queues a write's reply behind the earlier batches' (hold: admin.clock's). */
void lbd_queue_write_reply(lbd_t *d, lbd_pending_t *p, uint64_t ticket, bool hold)
{
    outbox_t *ob = outbox(d);
    bool now = store_durable(d->store) >= ticket && ob && ob->nw == ob->w0;
    if (!now && (!ob || w_room(ob))) {
        wait_then_release(d, ticket);
        now = !store_log_failed(d->store);
        if (!now)
            return;
    }
    if (now) {
        if (hold)
            hold_reply(d, p);
        else
            lbd_send_reply(d, p);
        return;
    }
    waiting_t *w = &ob->w[ob->nw++];
    lbd_pending_take(&w->p, p);
    w->ticket = ticket;
    w->hold = hold;
}

/* Queues a batch's events (moved out of *pubs) to publish once ticket is durable. */
void lbd_queue_pubs(lbd_t *d, lbd_pubs_t *pubs, uint64_t ticket)
{
    outbox_t *ob = outbox(d);
    bool now = store_durable(d->store) >= ticket && ob && ob->ne == 0;
    if (!now && (!ob || grow((void **)&ob->e, &ob->cape, ob->ne, sizeof *ob->e))) {
        wait_then_release(d, ticket);
        now = !store_log_failed(d->store);
        if (!now) {
            lbd_pubs_free(pubs);
            return;
        }
    }
    if (now) {
        publish(d, pubs);
        lbd_pubs_free(pubs);
        return;
    }
    waiting_pubs_t *e = &ob->e[ob->ne++];
    e->pubs = *pubs;
    e->ticket = ticket;
    memset(pubs, 0, sizeof *pubs);
}

/*
 * Sends and publishes, in order, what became durable. Nothing once the log
 * has failed: what is not durable may be lost, so nobody is told of it.
 */
void lbd_release_durable(lbd_t *d)
{
    outbox_t *ob = d->outbox;
    if (!ob || store_log_failed(d->store))
        return;
    uint64_t dur = store_durable(d->store);
    size_t k = ob->w0;
    for (; k < ob->nw && ob->w[k].ticket <= dur; k++) {
        if (ob->w[k].hold) {
            hold_reply(d, &ob->w[k].p);
            ob->to_held = true;
        } else {
            lbd_send_reply(d, &ob->w[k].p);
        }
        lbd_pending_clear(&ob->w[k].p);
    }
    ob->w0 = k;
    if (ob->w0 == ob->nw)
        ob->w0 = ob->nw = 0;
    for (k = 0; k < ob->ne && ob->e[k].ticket <= dur; k++) {
        publish(d, &ob->e[k].pubs);
        lbd_pubs_free(&ob->e[k].pubs);
    }
    if (k)
        memmove(ob->e, ob->e + k, (ob->ne - k) * sizeof *ob->e);
    ob->ne -= k;
    size_t keep = 0;
    for (size_t i = 0; i < ob->nr; i++) {
        if (ob->r[i].ticket <= dur) {
            lbd_send_reply(d, &ob->r[i].p);
            lbd_pending_clear(&ob->r[i].p);
        } else {
            ob->r[keep++] = ob->r[i];
        }
    }
    ob->nr = keep;
}

/*
 * Whether the loop should stop draining requests until some replies went out
 * (replies waiting for the log) or the reader threads caught up (reads queued
 * for them): either bounds what a slow disk or a flood of reports can pile up.
 */
bool lbd_outbox_full(lbd_t *d)
{
    const outbox_t *ob = d->outbox;
    size_t bound = OUTBOX_BATCHES * (size_t)d->cfg.batch_max;
    if (ob && ob->nw - ob->w0 + ob->nr >= bound)
        return true;
    lbd_readers_stats_t rs;
    lbd_readers_stats(d->readers, &rs);
    return rs.queued >= bound;
}

bool lbd_outbox_empty(lbd_t *d)
{
    const outbox_t *ob = d->outbox;
    return !ob || (ob->nw == ob->w0 && ob->ne == 0 && ob->nr == 0);
}

bool lbd_outbox_to_held(lbd_t *d)
{
    outbox_t *ob = d->outbox;
    bool was = ob && ob->to_held;
    if (was)
        ob->to_held = false;
    return was;
}

void lbd_outbox_free(lbd_t *d)
{
    outbox_t *ob = d->outbox;
    if (!ob)
        return;
    for (size_t i = ob->w0; i < ob->nw; i++)
        lbd_pending_clear(&ob->w[i].p);
    for (size_t i = 0; i < ob->nr; i++)
        lbd_pending_clear(&ob->r[i].p);
    for (size_t i = 0; i < ob->ne; i++)
        lbd_pubs_free(&ob->e[i].pubs);
    free(ob->w);
    free(ob->r);
    free(ob->e);
    free(ob);
    d->outbox = NULL;
}

/* Publishes events committed by a synchronous store_write: after every earlier batch's. */
void lbd_publish_now(lbd_t *d, const lbd_pubs_t *pubs)
{
    lbd_release_durable(d); /* store_write waited for its ticket: every earlier one is durable */
    publish(d, pubs);
}

static void publish(lbd_t *d, const lbd_pubs_t *pubs)
{
    for (size_t i = 0; i < pubs->n; i++) {
        const lbd_pub_t *e = &pubs->v[i];
        zmq_send(d->pub, e->topic, strlen(e->topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(d->pub, pubs->bytes.p + e->off, e->len, ZMQ_DONTWAIT);
        d->last_seq = e->seq;
        d->n_events++;
    }
}

/*
 * admin.clock replies wait until every timer due at the new time has fired:
 * the handler fires one slice, the loop the rest between request batches.
 */
typedef struct {
    lbd_pending_t *v;
    size_t n, cap;
} held_t;

/* Keeps p's envelope and reply for lbd_release_held; p is left empty. Sent at once on ENOMEM. */
static void hold_reply(lbd_t *d, lbd_pending_t *p)
{
    held_t *h = d->held;
    if (!h && (h = d->held = calloc(1, sizeof *h)) == NULL) {
        lbd_send_reply(d, p);
        return;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4;
        lbd_pending_t *v = realloc(h->v, cap * sizeof *v);
        if (!v) {
            lbd_send_reply(d, p);
            return;
        }
        h->v = v;
        h->cap = cap;
    }
    lbd_pending_t *q = &h->v[h->n++];
    memset(q, 0, sizeof *q);
    for (int i = 0; i < p->nframes; i++) {
        zmq_msg_init(&q->frames[i]);
        zmq_msg_move(&q->frames[i], &p->frames[i]);
    }
    q->nframes = p->nframes;
    q->reply = p->reply;
    memset(&p->reply, 0, sizeof p->reply);
    p->answered = true;
}

/* Sends the held replies (every timer they waited for has fired) and forgets them. */
void lbd_release_held(lbd_t *d)
{
    held_t *h = d->held;
    for (size_t i = 0; h && i < h->n; i++) {
        lbd_send_reply(d, &h->v[i]);
        lbd_pending_clear(&h->v[i]);
    }
    if (h)
        h->n = 0;
}

void lbd_free_held(lbd_t *d)
{
    held_t *h = d->held;
    for (size_t i = 0; h && i < h->n; i++)
        lbd_pending_clear(&h->v[i]);
    if (h)
        free(h->v);
    free(h);
    d->held = NULL;
}
