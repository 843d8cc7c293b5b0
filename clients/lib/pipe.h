/*
 * pipe.h - request pipelining over one connection of the client library: up
 * to `max` requests in flight, each reply handed to the callback given with
 * its request. logbook-sim and the benchmark drive the daemon through it.
 *
 * Thread rule: a pipe belongs to the thread that uses its lbc_t; callbacks
 * run on that thread, inside lbc_pipe_send, lbc_pipe_recv_one and
 * lbc_pipe_drain. Send plain requests (lbc_call) on that lbc_t only while
 * nothing is in flight: their replies would be taken for the pipe's.
 */
#ifndef LBC_PIPE_H
#define LBC_PIPE_H

#include <stdint.h>

#include "../../proto/lb.h"
#include "client.h"

#define LBC_PIPE_MAX 65536 /* requests in flight on one pipe at most */

typedef struct lbc_pipe lbc_pipe_t;

/*
 * Called once for each reply, ok or error, with the user and tag given to
 * lbc_pipe_send. reply is borrowed for the call only. A callback may not
 * call lbc_pipe_* on its own pipe.
 */
typedef void (*lbc_pipe_cb)(void *user, uint64_t tag, const lb_val_t *reply);

/*
 * A pipe of up to max (1..LBC_PIPE_MAX) requests in flight on c, waiting at
 * most timeout_ms (> 0) for each reply. Request ids are "RUN-SLOT-COUNTER"
 * with RUN fresh from lbc_new_id, so they never repeat against the daemon's
 * idempotency records when a program runs again. c is borrowed and must
 * outlive the pipe. *out owned by the caller (lbc_pipe_destroy).
 * Returns 0; LB_EBADREQ (c or out NULL, max or timeout_ms out of range);
 * LB_ENOMEM.
 */
int lbc_pipe_new(lbc_t *c, int max, int timeout_ms, lbc_pipe_t **out);

/* Frees the pipe (replies still in flight are abandoned), sets *p NULL. Safe on NULL. */
void lbc_pipe_destroy(lbc_pipe_t **p);

/*
 * Sends op with args (borrowed; NULL = none); cb(user, tag, reply) gets the
 * reply later. Waits for replies first while max are in flight, calling
 * their callbacks.
 * Returns 0; the pipe's sticky error when it has one (nothing is sent after
 * the first failure); otherwise what lbc_send or lbc_pipe_recv_one failed
 * with, which becomes the sticky error: LB_EBADREQ (op NULL, cb NULL),
 * LB_EUNAVAIL, LB_EIO, LB_ENOMEM, LB_EINTERNAL.
 */
int lbc_pipe_send(lbc_pipe_t *p, const char *op, const lb_val_t *args, lbc_pipe_cb cb, void *user,
                  uint64_t tag);

/*
 * Waits for one reply and calls its callback; returns 0 at once when
 * nothing is in flight. A `rate_limited` reply does not reach the callback:
 * the request (its args copied at send) goes again with the same id after a
 * jittered pause (25 ms doubling to 1 s while refusals go on); a call may
 * then only resend, or wait out the pause, and return 0.
 * Returns 0; the sticky error; LB_EUNAVAIL (no reply in timeout_ms) or
 * LB_EIO from lbc_recv; LB_EINTERNAL for a reply to nothing in flight (the
 * daemon could not read the id). Each of these becomes the sticky error.
 */
int lbc_pipe_recv_one(lbc_pipe_t *p);

/* Waits for every reply in flight: 0, or the sticky error as lbc_pipe_recv_one. */
int lbc_pipe_drain(lbc_pipe_t *p);

/*
 * Changes how many may be in flight: 1 .. the max given to lbc_pipe_new.
 * A lower figure takes effect as replies arrive. Returns 0; LB_EBADREQ.
 */
int lbc_pipe_set_max(lbc_pipe_t *p, int max);
int lbc_pipe_max(const lbc_pipe_t *p);

/* Requests in flight now. */
int lbc_pipe_inflight(const lbc_pipe_t *p);
/* Requests sent since lbc_pipe_new. */
uint64_t lbc_pipe_sent(const lbc_pipe_t *p);

/*
 * The sticky error (0 when none) and, when msg is not NULL, a sentence
 * saying what failed (static to the pipe, valid until it is destroyed; ""
 * when none).
 */
int lbc_pipe_error(const lbc_pipe_t *p, const char **msg);

/* ---------------------------------------------------------------------- */
/* Small helpers the pipelining programs share                             */
/* ---------------------------------------------------------------------- */

#define LBC_COUNT_LEN 32

/* v with thousands separators ("-1,234,567") into out; returns out. */
char *lbc_fmt_count(int64_t v, char out[LBC_COUNT_LEN]);

/* The monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
uint64_t lbc_mono_ns(void);

#endif
