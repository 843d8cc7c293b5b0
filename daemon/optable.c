/*
 * optable.c - which handler runs each op and who may run it; roles and the
 * events permission are checked here, before any handler runs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

/* ---------------------------------------------------------------------- */
/* dispatch                                                                */
/* ---------------------------------------------------------------------- */

#define R_FIELD (1u << LBD_ROLE_FIELD)
#define R_COMMITTEE (1u << LBD_ROLE_COMMITTEE)
#define R_REPORTER (1u << LBD_ROLE_REPORTER)
#define R_ADMIN (1u << LBD_ROLE_ADMIN)
#define R_ALL (R_FIELD | R_COMMITTEE | R_REPORTER | R_ADMIN)

static const struct {
    int (*fn)(lbd_ctx_t *);
    unsigned roles;
} handlers[PROTO_OP_COUNT] = {
    [PROTO_OP_PING] = {lbd_op_ping, R_ALL},
    [PROTO_OP_WORKFLOW_LIST] = {lbd_op_workflow_list, R_ALL},
    [PROTO_OP_WORKFLOW_GET] = {lbd_op_workflow_get, R_ALL},
    [PROTO_OP_CASE_OPEN] = {lbd_op_case_open, R_FIELD | R_COMMITTEE | R_ADMIN},
    [PROTO_OP_CASE_IMPORT] = {lbd_op_case_import, R_COMMITTEE | R_ADMIN},
    [PROTO_OP_CASE_ACT] = {lbd_op_case_act, R_FIELD | R_COMMITTEE | R_ADMIN},
    [PROTO_OP_CASE_ACK] = {lbd_op_case_ack, R_COMMITTEE | R_ADMIN},
    [PROTO_OP_CASE_GET] = {lbd_op_case_get, R_ALL},
    [PROTO_OP_CASE_FIND] = {lbd_op_case_find, R_ALL},
    [PROTO_OP_CASE_HISTORY] = {lbd_op_case_history, R_ALL},
    [PROTO_OP_CASE_LIST] = {lbd_op_case_list, R_ALL},
    [PROTO_OP_REPORT_SUMMARY] = {lbd_op_report_summary, R_ALL},
    [PROTO_OP_EVENTS_SINCE] = {lbd_op_events_since, R_ALL},
    [PROTO_OP_ADMIN_STATS] = {lbd_op_admin_stats, R_ADMIN},
    [PROTO_OP_ADMIN_BACKUP] = {lbd_op_admin_backup, R_ADMIN},
    [PROTO_OP_ADMIN_RELOAD] = {lbd_op_admin_reload, R_ADMIN},
    [PROTO_OP_ADMIN_VERIFY] = {lbd_op_admin_verify, R_ADMIN},
    [PROTO_OP_ADMIN_CLOCK] = {lbd_op_admin_clock, R_ADMIN},
};

int lbd_execute(lbd_ctx_t *ctx)
{
    proto_op_t op = ctx->req->op;
    if ((unsigned)op >= PROTO_OP_COUNT || !handlers[op].fn)
        return lbd_fail(ctx, LB_EUNKNOWNOP, "op", "unknown op");
    if (!(handlers[op].roles & (1u << ctx->client->role)))
        return lbd_fail(ctx, LB_EFORBIDDEN, "op", "role %s may not run %s",
                        lbd_role_name(ctx->client->role), proto_op_name(op));
    /* The events stream is for keys allowed to subscribe; events.since is the same stream. */
    if (op == PROTO_OP_EVENTS_SINCE && !ctx->client->events && ctx->client->role != LBD_ROLE_ADMIN)
        return lbd_fail(ctx, LB_EFORBIDDEN, "op", "client %s may not read the event stream",
                        ctx->client->name);
    return handlers[op].fn(ctx);
}
