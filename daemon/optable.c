/*
 * optable.c - the op table: one row per op with its argument schema, handler,
 * allowed roles and read/write kind, and the two places that read it: the
 * request decoder (schema) and lbd_execute (roles, then the handler). The
 * loop asks lbd_op_writes for the kind.
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"

#define R_FIELD (1u << LBD_ROLE_FIELD)
#define R_COMMITTEE (1u << LBD_ROLE_COMMITTEE)
#define R_REPORTER (1u << LBD_ROLE_REPORTER)
#define R_ADMIN (1u << LBD_ROLE_ADMIN)
#define R_ALL (R_FIELD | R_COMMITTEE | R_REPORTER | R_ADMIN)
#define R_WRITERS (R_FIELD | R_COMMITTEE | R_ADMIN)
#define R_COMMITTEES (R_COMMITTEE | R_ADMIN)
/* Runs on a reader thread (lbd_op_t.pooled): audited to read only its txn, its ctx, and what
 * the loop swaps with the pool quiesced. admin.stats reads loop counters, admin.backup sets
 * the process umask and admin.reload swaps definitions: they stay on the loop. */
#define P .pooled = true

/*
 * A new op touches:
 *   proto/proto.h    its PROTO_OP_* (before PROTO_OP_COUNT) and proto_schema_* declaration;
 *   proto/proto.c    its argument spec, proto_schema_* object and op_defs row (wire name,
 *                    writes flag for clients);
 *   here             one row, in enum order (the _Static_assert below fails the build when
 *                    a row is missing; lbd_optable_check, run by lbd_new, names it);
 *   daemon/ops.h     the handler's declaration, and the handler in ops_read.c,
 *                    ops_write.c or ops_admin.c;
 *   proto/PROTOCOL.md, and tests: tests/unit/test_proto.c (args), tests/unit/test_lbd.c
 *                    (the table), tests/integration/ (the handler).
 * Rows are positional, not designated, so a row in the wrong place is caught
 * by its .op field rather than silently shifting every op after it.
 */
static const lbd_op_t optable[] = {
    {PROTO_OP_PING, &proto_schema_ping, lbd_op_ping, R_ALL, LBD_OP_READ, P},
    {PROTO_OP_WORKFLOW_LIST, &proto_schema_workflow_list, lbd_op_workflow_list, R_ALL, LBD_OP_READ,
     P},
    {PROTO_OP_WORKFLOW_GET, &proto_schema_workflow_get, lbd_op_workflow_get, R_ALL, LBD_OP_READ, P},
    {PROTO_OP_CASE_OPEN, &proto_schema_case_open, lbd_op_case_open, R_WRITERS, LBD_OP_WRITE},
    {PROTO_OP_CASE_IMPORT, &proto_schema_case_import, lbd_op_case_import, R_COMMITTEES,
     LBD_OP_WRITE},
    {PROTO_OP_CASE_ACT, &proto_schema_case_act, lbd_op_case_act, R_WRITERS, LBD_OP_WRITE},
    {PROTO_OP_CASE_ACK, &proto_schema_case_ack, lbd_op_case_ack, R_COMMITTEES, LBD_OP_WRITE},
    {PROTO_OP_CASE_GET, &proto_schema_case_get, lbd_op_case_get, R_ALL, LBD_OP_READ, P},
    {PROTO_OP_CASE_FIND, &proto_schema_case_find, lbd_op_case_find, R_ALL, LBD_OP_READ, P},
    {PROTO_OP_CASE_HISTORY, &proto_schema_case_history, lbd_op_case_history, R_ALL, LBD_OP_READ, P},
    {PROTO_OP_CASE_LIST, &proto_schema_case_list, lbd_op_case_list, R_ALL, LBD_OP_READ, P},
    {PROTO_OP_REPORT_SUMMARY, &proto_schema_report_summary, lbd_op_report_summary, R_ALL,
     LBD_OP_READ, P},
    /* The events stream is for keys allowed to subscribe; events.since is the same stream. */
    {PROTO_OP_EVENTS_SINCE, &proto_schema_events_since, lbd_op_events_since, R_ALL, LBD_OP_READ,
     .events_stream = true, P},
    {PROTO_OP_ADMIN_STATS, &proto_schema_admin_stats, lbd_op_admin_stats, R_ADMIN, LBD_OP_READ},
    {PROTO_OP_ADMIN_BACKUP, &proto_schema_admin_backup, lbd_op_admin_backup, R_ADMIN, LBD_OP_READ},
    {PROTO_OP_ADMIN_RELOAD, &proto_schema_admin_reload, lbd_op_admin_reload, R_ADMIN, LBD_OP_READ},
    {PROTO_OP_ADMIN_VERIFY, &proto_schema_admin_verify, lbd_op_admin_verify, R_ADMIN, LBD_OP_READ,
     P},
    /* Advancing the clock fires due timers, which append escalation events. */
    {PROTO_OP_ADMIN_CLOCK, &proto_schema_admin_clock, lbd_op_admin_clock, R_ADMIN, LBD_OP_WRITE},
    {PROTO_OP_CASE_TRANSFER, &proto_schema_case_transfer, lbd_op_case_transfer, R_COMMITTEES,
     LBD_OP_WRITE},
    {PROTO_OP_CASE_REASSIGN, &proto_schema_case_reassign, lbd_op_case_reassign, R_COMMITTEES,
     LBD_OP_WRITE},
    {PROTO_OP_ADMIN_REMAP, &proto_schema_admin_remap, lbd_op_admin_remap, R_ADMIN, LBD_OP_WRITE},
    {PROTO_OP_CASE_DUPLICATES, &proto_schema_case_duplicates, lbd_op_case_duplicates, R_COMMITTEES,
     LBD_OP_READ, P},
    {PROTO_OP_CASE_MERGE, &proto_schema_case_merge, lbd_op_case_merge, R_COMMITTEES, LBD_OP_WRITE},
    {PROTO_OP_REPORT_LEDGER, &proto_schema_report_ledger, lbd_op_report_ledger, R_ALL, LBD_OP_READ,
     P},
    {PROTO_OP_REPORT_AGENDA, &proto_schema_report_agenda, lbd_op_report_agenda, R_COMMITTEES,
     LBD_OP_READ, P},
};

_Static_assert(sizeof optable / sizeof optable[0] == PROTO_OP_COUNT,
               "daemon/optable.c needs exactly one row per PROTO_OP_*");

const lbd_op_t *lbd_op_get(proto_op_t op)
{
    if ((unsigned)op >= PROTO_OP_COUNT)
        return NULL;
    return &optable[op];
}

bool lbd_op_writes(proto_op_t op)
{
    const lbd_op_t *row = lbd_op_get(op);
    return row && row->kind == LBD_OP_WRITE;
}

bool lbd_op_pooled(proto_op_t op)
{
    const lbd_op_t *row = lbd_op_get(op);
    return row && row->pooled;
}

int lbd_optable_check(char *err, size_t errlen)
{
    for (unsigned i = 0; i < PROTO_OP_COUNT; i++) {
        const lbd_op_t *row = &optable[i];
        const char *name = proto_op_name((proto_op_t)i);
        const char *why = NULL;
        if ((unsigned)row->op != i)
            why = "is in the wrong place (rows follow the order of proto_op_t)";
        else if (!row->fn)
            why = "has no handler";
        else if (!row->schema || row->schema != proto_op_schema(row->op))
            why = "does not point at proto's schema for the op";
        else if (!row->roles)
            why = "allows no role";
        else if ((row->kind == LBD_OP_WRITE) != proto_op_writes(row->op))
            why = "disagrees with proto_op_writes on the read/write kind";
        else if (row->pooled && row->kind == LBD_OP_WRITE)
            why = "is a write marked to run on a reader thread";
        if (why) {
            lb_set_err(err, errlen, "op table: row %u (%s) %s", i, name ? name : "?", why);
            return LB_EINTERNAL;
        }
    }
    return 0;
}

int lbd_request_decode(const void *buf, size_t len, proto_req_t *req, proto_err_t *err)
{
    int rc = proto_decode_envelope(buf, len, &proto_default_limits, req, err);
    if (rc == 0)
        rc = proto_check_args(optable[req->op].schema, req->args, err);
    return rc;
}

int lbd_execute(lbd_ctx_t *ctx)
{
    const lbd_op_t *row = lbd_op_get(ctx->req->op);
    if (!row || !row->fn)
        return lbd_fail(ctx, LB_EUNKNOWNOP, "op", "unknown op");
    if (!(row->roles & (1u << ctx->client->role)))
        return lbd_fail(ctx, LB_EFORBIDDEN, "op", "role %s may not run %s",
                        lbd_role_name(ctx->client->role), proto_op_name(row->op));
    if (row->events_stream && !ctx->client->events && ctx->client->role != LBD_ROLE_ADMIN)
        return lbd_fail(ctx, LB_EFORBIDDEN, "op", "client %s may not read the event stream",
                        ctx->client->name);
    return row->fn(ctx);
}
