/*
 * casework.c - the casework ops of PROTOCOL.md 9.17 and 9.18 in the JSON API
 * (docs/API.md): POST /api/cases/{id}/transfer, POST /api/reassign, GET
 * /api/duplicates, POST /api/merge, and the reads of 9.19: GET /api/ledger
 * (report.ledger) and GET /api/agenda (report.agenda). Writes go through web_write_op (CSRF
 * checked by the caller or here, Idempotency-Key honoured); a case outside
 * the person's areas is 404, as everywhere.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* POST /api/cases/{id}/transfer {to_area, reason}: case.transfer. */
web_res_t web_casework_transfer(web_req_t *r, const char *case_id)
{
    web_res_t res;
    lb_val_t *body = NULL;
    if (!web_body_json(r, &body, &res))
        return res;
    int rc = 0;
    lb_val_t *args = lb_map();
    lb_put_str(args, "case_id", case_id, &rc);
    for (uint32_t i = 0; !rc && i < body->m.n; i++) {
        const char *k = body->m.keys[i];
        if (strcmp(k, "to_area") != 0 && strcmp(k, "reason") != 0) {
            res = web_problem(r, 400, "bad_request", "unknown key", k);
            lb_val_free(&body);
            lb_val_free(&args);
            return res;
        }
        lb_put(args, k, lb_val_dup(body->m.vals[i]), &rc);
    }
    res =
        rc ? web_problem_rc(r, rc, NULL, NULL) : web_write_op(r, "case.transfer", args, 200, true);
    lb_val_free(&body);
    lb_val_free(&args);
    return res;
}

/* A write whose body is the op's args as they are (the daemon checks them). */
static web_res_t body_op(web_req_t *r, const char *op, bool case_scoped)
{
    web_res_t res;
    lb_val_t *body = NULL;
    if (!web_body_json(r, &body, &res))
        return res;
    res = web_write_op(r, op, body, 200, case_scoped);
    lb_val_free(&body);
    return res;
}

/*
 * GET /api/duplicates?area=: case.duplicates; GET /api/ledger?area=&by=:
 * report.ledger (by defaults to agency); GET /api/agenda?area=&level=&limit=:
 * report.agenda. The daemon checks the arguments, roles and scopes.
 */
static web_res_t read_op(web_req_t *r, const char *op)
{
    int rc = 0;
    lb_val_t *args = lb_map();
    if (!args)
        return web_problem_rc(r, LB_ENOMEM, NULL, NULL);
    web_arg_str(r, args, "area", &rc);
    if (strcmp(op, "report.ledger") == 0) {
        const char *by = web_query(r, "by");
        lb_put_str(args, "by", by && *by ? by : "agency", &rc);
    } else if (strcmp(op, "report.agenda") == 0) {
        web_arg_str(r, args, "level", &rc);
        const char *lim = web_query(r, "limit");
        if (lim && *lim) {
            char *end;
            long long n = strtoll(lim, &end, 10);
            if (*end) {
                lb_val_free(&args);
                return web_problem(r, 400, "bad_request", "limit is not a number", "limit");
            }
            lb_put_int(args, "limit", n, &rc);
        }
    }
    web_res_t res = rc ? web_problem_rc(r, rc, NULL, NULL) : web_read_op(r, op, args, false);
    lb_val_free(&args);
    return res;
}

bool web_casework(web_req_t *r, const char *path, web_res_t *res)
{
    static const struct {
        const char *path, *method, *op;
    } routes[] = {
        {"/reassign", "POST", "case.reassign"},    {"/merge", "POST", "case.merge"},
        {"/duplicates", "GET", "case.duplicates"}, {"/ledger", "GET", "report.ledger"},
        {"/agenda", "GET", "report.agenda"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(path, routes[i].path) != 0)
            continue;
        bool post = strcmp(routes[i].method, "POST") == 0;
        if (strcmp(r->method, routes[i].method) != 0)
            *res = web_problem(r, 405, "bad_request", "method not allowed here", NULL);
        else if (web_need_session(r, post, res))
            *res = post ? body_op(r, routes[i].op, strcmp(routes[i].op, "case.merge") == 0)
                        : read_op(r, routes[i].op);
        return true;
    }
    return false;
}
