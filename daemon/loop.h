/*
 * loop.h - what the loop's files share: one received request (lbd_pending_t)
 * and the calls that answer it. server.c drains, executes writes and runs the
 * loop; reads.c runs reads (on the loop or a reader thread); outbox.c holds
 * replies and events until their writes are durable. Not a public header.
 * Loop thread only, unless a function says otherwise.
 */
#ifndef LBD_LOOP_H
#define LBD_LOOP_H

#include <zmq.h>

#include "internal.h"

#define LBD_MAX_FRAMES 8 /* routing envelope frames we keep (REQ through proxies) */

/* One received request, from its frames to its reply. */
typedef struct {
    zmq_msg_t frames[LBD_MAX_FRAMES]; /* envelope frames, then the body last */
    int nframes;
    proto_req_t req;
    int decode_rc;
    proto_err_t perr;
    lbd_client_t anon;      /* the client when CURVE is off */
    lbd_client_t as_client; /* the person a gateway key acts for (lbd_act_as) */
    const lbd_client_t *client;
    uint8_t key[32];
    lb_buf_t reply;
    bool write;
    bool answered;
    bool has_digest; /* digest holds the request's (lbd_req_digest) */
    uint8_t digest[32];
    int dup_of; /* index of an earlier request in the batch with the same client and id, or -1 */
    uint64_t id_hash; /* key and request id hashed (known_id): most of a batch told apart in one
                         compare */
} lbd_pending_t;

/* Closes the frames, frees the request and the reply; p may be reused. Any thread. */
void lbd_pending_clear(lbd_pending_t *p);
/*
 * Moves p's envelope, request and reply into q (uninitialised), fixing the
 * client pointer when it pointed into p; p is left answered and empty. Any thread.
 */
void lbd_pending_take(lbd_pending_t *q, lbd_pending_t *p);
/* Sends the reply with the envelope the request came with; a gone peer loses it. */
void lbd_send_reply(lbd_t *d, lbd_pending_t *p);
/* Turns a handler's return into the reply bytes; *nerr counts a failure. Any thread. */
void lbd_finish(lbd_pending_t *p, lbd_ctx_t *ctx, int rc, uint64_t *nerr);

/* ---- outbox.c: replies and events that wait for durability ---- */

/*
 * Sends p's reply once store_durable reaches ticket (at once when it has,
 * after any earlier write reply that is durable too); p is left empty.
 * Without memory to queue it, waits for the log.
 */
void lbd_reply_after(lbd_t *d, lbd_pending_t *p, uint64_t ticket);
/* Queues a write's reply behind the earlier batches' (hold: admin.clock's, held after). */
void lbd_queue_write_reply(lbd_t *d, lbd_pending_t *p, uint64_t ticket, bool hold);
/* Queues a batch's events, moved out of *pubs (left empty), for when ticket is durable. */
void lbd_queue_pubs(lbd_t *d, lbd_pubs_t *pubs, uint64_t ticket);
/*
 * Sends and publishes, in order, what became durable; nothing once the log
 * has failed (what is not durable may be lost, so nobody is told of it).
 */
void lbd_release_durable(lbd_t *d);
/* Publishes events a synchronous store_write committed, after every earlier batch's. */
void lbd_publish_now(lbd_t *d, const lbd_pubs_t *pubs);
/* Waits for the log to make ticket durable; logs when the log failed. */
void lbd_wait_durable(lbd_t *d, uint64_t ticket);
/*
 * true when so many replies wait for the log, or so many reads for a reader
 * thread, that the loop should stop draining requests until they shrink.
 */
bool lbd_outbox_full(lbd_t *d);
/* true when nothing waits. */
bool lbd_outbox_empty(lbd_t *d);
/* true (once) when a release moved an admin.clock reply to the held ones: fire timers. */
bool lbd_outbox_to_held(lbd_t *d);
/* Frees what waits, unsent. */
void lbd_outbox_free(lbd_t *d);
/* Sends the held admin.clock replies (every timer they waited for has fired). */
void lbd_release_held(lbd_t *d);
/* Frees the held replies, unsent. */
void lbd_free_held(lbd_t *d);

/* ---- reads.c ---- */

/* The loop's read snapshot, shared by the reads of one batch, and what was committed then. */
typedef struct {
    store_txn_t *txn;
    uint64_t committed; /* store_committed just after the txn began: what it may show */
} lbd_snap_t;

/* Begins s's txn unless it is open: 0 or store_read_begin's code. */
int lbd_snap_begin(lbd_t *d, lbd_snap_t *s);
/*
 * Runs a read: on a reader thread when there are some and its op may (p is
 * moved out, left answered), else now in s. Its reply waits for durability.
 */
void lbd_dispatch_read(lbd_t *d, lbd_pending_t *p, lbd_snap_t *s);
/* Answers the reads the reader threads finished. */
void lbd_take_done(lbd_t *d);
/* Frees a read job the pool hands back unfinished (lbd_readers_destroy). */
void lbd_read_job_free(lbd_job_t *job);

#endif
