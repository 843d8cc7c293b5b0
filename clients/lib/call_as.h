/*
 * call_as.h - a request made on behalf of a person: the envelope carries the
 * top-level key `as` (PROTOCOL.md 9.3), which only a key with role gateway
 * may send. logbook-web is its one user; other clients keep lbc_call.
 */
#ifndef LBC_CALL_AS_H
#define LBC_CALL_AS_H

#include "client.h"

#define LBC_AS_MAX 63 /* bytes of a user name */

/*
 * lbc_call_id with `as: USER` added to the request: {v, id, op, args?, as}.
 * as NULL sends no `as` (exactly lbc_call_id). Retries resend the same id and
 * the same `as`. Same returns and ownership as lbc_call_id, plus LB_EBADREQ
 * when as is "" or over LBC_AS_MAX bytes.
 */
int lbc_call_as(lbc_t *c, const char *as, const char *id, const char *op, const lb_val_t *args,
                lb_val_t **reply, char *err, size_t errlen);

#endif
