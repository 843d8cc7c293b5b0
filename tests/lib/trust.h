/*
 * trust.h - helpers for the test_trust_*.c suites (the "Trust" issue), on
 * top of testd.h, which they do not change:
 *  - config keys testd's generated logbookd.yaml cannot take through
 *    extra_config (its `limits:` and `security:` sections already exist, and
 *    a repeated YAML key is refused): trust_config_edit() inserts them into
 *    those sections of the file testd wrote;
 *  - starting a daemon without waiting for it to answer (to see it refuse to
 *    start, or to start without the files testd's readiness check needs);
 *  - a raw SUB socket, pipelined requests, calls with a given certificate.
 * Everything is polled with a bounded deadline; daemons are stopped by pid.
 */
#ifndef TRUST_H
#define TRUST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "testd.h"

/*
 * Rewrites t->config: `limits` (e.g. "case_records: 20, rate_per_key: 5") is
 * added inside the flow map `limits: { ... }`, `security` (e.g.
 * "bootstrap_admin: false") becomes lines of the `security:` block. Either may
 * be NULL. Takes effect at the next (re)start. 0 or -1.
 */
int trust_config_edit(testd_t *t, const char *limits, const char *security);

/*
 * testd_start, then stop, edit the config (trust_config_edit) and
 * testd_restart: the daemon runs with the extra keys. 0 or -1 (a daemon
 * that refuses the keys exits early and this returns -1).
 */
int trust_start(testd_t *t, const testd_opts_t *o, const char *limits, const char *security);

/* Starts logbookd on t's config without waiting (t->pid set). 0 or -1. */
int trust_spawn(testd_t *t);

/*
 * Waits up to timeout_ms for t->pid to exit; its exit code (128+signal when
 * killed), and t->pid = 0. -1 when it is still running (left running).
 */
int trust_wait_exit(testd_t *t, int timeout_ms);

/*
 * Waits up to timeout_ms until t->pid exits (its exit code, as
 * trust_wait_exit) or answers ping with the admin key (-1, left running).
 */
int trust_wait_exit_or_ready(testd_t *t, int timeout_ms);

/* Polls until path exists, up to timeout_ms. */
bool trust_wait_file(const char *path, int timeout_ms);

/* A client with cert (NULL = the generated admin) and a short timeout, no retries. */
lbc_t *trust_client(testd_t *t, const char *cert, int timeout_ms);

/* One call with a fresh client for cert (NULL = admin). Reply or NULL (no reply). */
lb_val_t *trust_call(testd_t *t, const char *cert, const char *op, const lb_val_t *args);

/* The reply's error message ("" when ok or absent). */
const char *trust_msg(const lb_val_t *reply);

/* An int from the reply's result, or def. */
int64_t trust_result_int(const lb_val_t *reply, const char *key, int64_t def);

/* admin.stats' counter `key`, or -1. */
int64_t trust_stat(testd_t *t, const char *key);

/* The daemon's last_seq (ping), or -1. */
int64_t trust_last_seq(testd_t *t);
/* report.summary {area, by} as admin: totals' counter key, or -1. */
int64_t trust_total(testd_t *t, const char *area, const char *by, const char *key);
/* admin.clock {advance_s: s}: the daemon's new clock, or -1. */
int64_t trust_advance(testd_t *t, int64_t s);

/* Opens a case for household n in area (admin); writes its id to out. 0 or -1. */
int trust_open_case(testd_t *t, const char *cert, unsigned long n, const char *area, char out[32]);

/* A keygen in t's folder + its registry line; see test files. 0 or -1. */
int trust_keygen(testd_t *t, const char *name, char pub[41], char *secret, size_t n);

/* ---- pipelining ---- */

typedef lb_val_t *(*trust_args_fn)(int i, void *ctx);
typedef void (*trust_reply_fn)(int i, const lb_val_t *reply, void *ctx);

/*
 * Sends n requests op / args(i) (a new map each, freed here) on c with ids
 * "PREFIX-i", at most `window` in flight, and hands each reply to on_reply
 * (may be NULL). With retry_limited, a `rate_limited` reply is sent again
 * (same id) after a short back-off, so a flood by one key still completes
 * under a per-key token bucket. Gives up when no reply came for timeout_ms.
 * Returns the number of requests answered (n when all were).
 */
int trust_pipeline(lbc_t *c, const char *prefix, int n, int window, const char *op,
                   trust_args_fn args, trust_reply_fn on_reply, void *ctx, bool retry_limited,
                   int timeout_ms);

/* Replies counted by whether they were ok: trust_tally_reply is a trust_reply_fn over one. */
typedef struct {
    int ok, other;
} trust_tally_t;
void trust_tally_reply(int i, const lb_val_t *r, void *ctx);

/* ---- events ---- */

typedef struct {
    void *ctx, *sock;
} trust_sub_t;

/* A SUB socket on t's events endpoint with cert's CURVE keys (NULL = admin), subscribed to "". */
int trust_sub_open(testd_t *t, const char *cert, trust_sub_t *s);

/*
 * The next message within timeout_ms: 1 with topic (NUL-terminated, cut to
 * tlen) and the decoded body (caller frees; may be NULL), 0 on timeout, -1
 * on error. raw (may be NULL) receives the body bytes.
 */
int trust_sub_recv(trust_sub_t *s, int timeout_ms, char *topic, size_t tlen, lb_val_t **body,
                   lb_buf_t *raw);

/* The next non-heartbeat event within timeout_ms (heartbeats skipped): as trust_sub_recv. */
int trust_sub_event(trust_sub_t *s, int timeout_ms, char *topic, size_t tlen, lb_val_t **body);

void trust_sub_close(trust_sub_t *s);

/* Milliseconds on the monotonic clock. */
int64_t trust_ms(void);

#endif
