/*
 * conn.c - the command-line clients' connection settings (conn.h), so that
 * logbook-report and logbook-notify take and apply them in one way.
 */
#include "conn.h"

void lbc_conn_opts_init(lbc_conn_opts_t *o)
{
    lbc_paths_t p = lbc_default_paths();
    *o = (lbc_conn_opts_t){
        .endpoint = p.endpoint,
        .events_endpoint = p.events_endpoint,
        .client_cert = p.client_cert,
        .server_cert = p.server_cert,
        .retries = -1,
    };
}

int lbc_conn_open(const lbc_conn_opts_t *o, lbc_t **out, char *err, size_t errlen)
{
    lbc_opts_t lo;
    lbc_opts_init(&lo);
    lo.endpoint = o->endpoint;
    if (!o->no_curve) {
        lo.client_cert = o->client_cert;
        lo.server_cert = o->server_cert;
    }
    if (o->timeout_ms > 0)
        lo.timeout_ms = o->timeout_ms;
    if (o->retries >= 0)
        lo.retries = o->retries;
    return lbc_connect(&lo, out, err, errlen);
}

int lbc_last_seq(lbc_t *c, uint64_t *seq, char *err, size_t errlen)
{
    lb_val_t *reply = NULL;
    int64_t last = -1;
    int rc = lbc_call_ok(c, "ping", NULL, &reply, err, errlen);
    if (rc == 0 && (lb_map_int(lbc_reply_result(reply), "last_seq", &last) != 0 || last < 0)) {
        lb_set_err(err, errlen, "the daemon's ping result has no last_seq");
        rc = LB_EINTERNAL;
    }
    if (rc == 0)
        *seq = (uint64_t)last;
    lb_val_free(&reply);
    return rc;
}
