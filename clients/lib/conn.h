/*
 * conn.h - the connection settings every command-line client takes (-e, -E,
 * -k, -s, --no-curve, --timeout, --retries): their defaults, connecting with
 * them, and asking the daemon how far its event log goes.
 */
#ifndef LBC_CONN_H
#define LBC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

typedef struct {
    const char *endpoint;        /* requests endpoint */
    const char *events_endpoint; /* events endpoint */
    const char *client_cert;     /* NAME.key_secret */
    const char *server_cert;     /* NAME.key */
    bool no_curve;               /* plain connection: the certificates are not used */
    int timeout_ms;              /* wait per try; <= 0 = LBC_DEFAULT_TIMEOUT_MS */
    int retries;                 /* resends after a timeout; < 0 = LBC_DEFAULT_RETRIES */
} lbc_conn_opts_t;

/*
 * Fills *o with lbc_default_paths() (the environment, else the built-in
 * defaults; the strings are borrowed as that function says), CURVE on, the
 * default timeout and retries (timeout_ms 0, retries -1).
 */
void lbc_conn_opts_init(lbc_conn_opts_t *o);

/*
 * lbc_connect to o->endpoint with o's certificates (none when no_curve),
 * timeout and retries. *out owned by the caller (lbc_destroy).
 * Returns as lbc_connect: 0; LB_EBADREQ; LB_EIO or LB_ECONFIG (a
 * certificate); LB_EIO; LB_ENOMEM; err says why.
 */
int lbc_conn_open(const lbc_conn_opts_t *o, lbc_t **out, char *err, size_t errlen);

/*
 * The daemon's last_seq, from ping: every event up to it is committed.
 * Returns 0 with *seq; lbc_call_ok's errors (LB_EUNAVAIL when the daemon
 * does not answer); LB_EINTERNAL with err when the result has no last_seq
 * of 0 or more. *seq is left alone on an error.
 */
int lbc_last_seq(lbc_t *c, uint64_t *seq, char *err, size_t errlen);

#endif
