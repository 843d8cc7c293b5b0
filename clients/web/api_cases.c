/*
 * api_cases.c - /api/cases: list, read, open, act, acknowledge, history.
 * Writes need the session's CSRF token and honour an Idempotency-Key: joined
 * with the person's name it becomes the daemon request id, so a phone's
 * retry is applied once and two people's keys never collide; the same key
 * with a different body is refused (422).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "http.h"

/*
 * The request id for a write: "" (a fresh one) without Idempotency-Key. false
 * when a problem was queued (a bad key, or a key reused with another body).
 */
static bool write_id(web_req_t *r, char id[65], web_res_t *res)
{
    const char *key = web_header(r, "Idempotency-Key");
    id[0] = '\0';
    if (!key)
        return true;
    if (web_request_id(r->who.name, key, id)) {
        *res = web_problem(r, 400, "bad_request", "Idempotency-Key: 1-256 visible characters",
                           "Idempotency-Key");
        return false;
    }
    uint8_t digest[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof digest);
    crypto_generichash_update(&st, (const uint8_t *)r->url, strlen(r->url) + 1);
    crypto_generichash_update(&st, r->body.p ? r->body.p : (const uint8_t *)"", r->body.len);
    crypto_generichash_final(&st, digest, sizeof digest);
    if (web_idem_check(r->w->idem, id, digest)) {
        *res = web_problem(r, 422, "conflict",
                           "this Idempotency-Key was used with a different request",
                           "Idempotency-Key");
        return false;
    }
    return true;
}

/* Runs a write op as the person and answers with ok_status. */
web_res_t web_write_op(web_req_t *r, const char *op, const lb_val_t *args, unsigned ok_status,
                       bool case_scoped)
{
    web_res_t res;
    char id[65];
    if (!write_id(r, id, &res))
        return res;
    lb_val_t *reply = NULL;
    char err[256] = "";
    int rc = web_call(r, id[0] ? id : NULL, op, args, &reply, err, sizeof err);
    res = web_reply(r, rc, reply, err, ok_status, case_scoped);
    lb_val_free(&reply);
    return res;
}

web_res_t web_read_op(web_req_t *r, const char *op, const lb_val_t *args, bool case_scoped)
{
    lb_val_t *reply = NULL;
    char err[256] = "";
    int rc = web_call(r, NULL, op, args, &reply, err, sizeof err);
    web_res_t res = web_reply(r, rc, reply, err, 200, case_scoped);
    lb_val_free(&reply);
    return res;
}

/* Parses the body as a JSON object; false when a problem was queued. */
bool web_body_json(web_req_t *r, lb_val_t **out, web_res_t *res)
{
    char err[256] = "";
    int rc = web_json_parse((const char *)r->body.p, r->body.len, out, err, sizeof err);
    if (rc)
        *res = web_problem_rc(r, rc, err, NULL);
    return rc == 0;
}

/* true when the case's newest fired escalation has not been acknowledged. */
static bool case_unacked(web_req_t *r, const char *case_id)
{
    lb_val_t *args = lb_map(), *reply = NULL;
    char err[128];
    bool unacked = false;
    if (args && lb_map_set_str(args, "case_id", case_id) == 0 &&
        web_call(r, NULL, "case.get", args, &reply, err, sizeof err) == 0) {
        const lb_val_t *esc = lb_map_get(lbc_reply_result(reply), "escalations");
        if (esc && esc->type == LB_ARR && esc->a.n)
            unacked = !lb_map_get(esc->a.items[esc->a.n - 1], "acked_at");
    }
    lb_val_free(&args);
    lb_val_free(&reply);
    return unacked;
}

static bool truthy(const char *v)
{
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* GET /api/cases: case.list, and unacked=true keeps the cases with an open escalation. */
static web_res_t list(web_req_t *r)
{
    int rc = 0;
    lb_val_t *args = lb_map(), *reply = NULL;
    web_arg_str(r, args, "area", &rc);
    web_arg_str(r, args, "state", &rc);
    web_arg_str(r, args, "team", &rc);
    web_arg_str(r, args, "workflow", &rc);
    web_arg_str(r, args, "after", &rc);
    const char *lim = web_query(r, "limit");
    if (lim && *lim)
        lb_put_int(args, "limit", strtoll(lim, NULL, 10), &rc);
    if (truthy(web_query(r, "overdue")))
        lb_put_bool(args, "overdue", true, &rc);
    char err[256] = "";
    if (!rc)
        rc = web_call(r, NULL, "case.list", args, &reply, err, sizeof err);
    lb_val_free(&args);
    lb_val_t *cases = rc ? NULL : lb_map_get(lbc_reply_result(reply), "cases");
    if (cases && cases->type == LB_ARR && truthy(web_query(r, "unacked"))) {
        for (uint32_t i = cases->a.n; i-- > 0;) {
            const lb_val_t *s = cases->a.items[i];
            if (!lb_map_get(s, "escalation") || !case_unacked(r, lb_map_str(s, "case_id"))) {
                lb_val_free(&cases->a.items[i]);
                memmove(&cases->a.items[i], &cases->a.items[i + 1],
                        (cases->a.n - i - 1) * sizeof *cases->a.items);
                cases->a.n--;
            }
        }
    }
    web_res_t res = web_reply(r, rc, reply, err, 200, false);
    lb_val_free(&reply);
    return res;
}

/* {data, at, expect_state} of an action's body into case.act's args. */
static int action_args(const lb_val_t *body, lb_val_t *args, char *err, size_t errlen,
                       const char **field)
{
    int rc = 0;
    for (uint32_t i = 0; i < body->m.n; i++) {
        const char *k = body->m.keys[i];
        const lb_val_t *v = body->m.vals[i];
        if (strcmp(k, "at") == 0 && v->type == LB_STR) {
            int64_t ms;
            if (lbc_parse_time(v->s.p, &ms)) {
                lb_set_err(err, errlen, "at: a time (unix ms or ISO 8601)");
                *field = "at";
                return LB_EBADREQ;
            }
            lb_put_int(args, "at", ms, &rc);
        } else if (strcmp(k, "data") == 0 || strcmp(k, "at") == 0 ||
                   strcmp(k, "expect_state") == 0) {
            lb_put(args, k, lb_val_dup(v), &rc);
        } else {
            lb_set_err(err, errlen, "unknown key %s", k);
            *field = k;
            return LB_EBADREQ;
        }
    }
    return rc;
}

static web_res_t act(web_req_t *r, const char *case_id, const char *action)
{
    web_res_t res;
    lb_val_t *body = NULL;
    if (!web_body_json(r, &body, &res))
        return res;
    int rc = 0;
    const char *field = NULL;
    char err[256] = "";
    lb_val_t *args = lb_map();
    lb_put_str(args, "case_id", case_id, &rc);
    lb_put_str(args, "action", action, &rc);
    if (!rc)
        rc = action_args(body, args, err, sizeof err, &field);
    res = rc ? web_problem_rc(r, rc, err, field) : web_write_op(r, "case.act", args, 200, true);
    lb_val_free(&body);
    lb_val_free(&args);
    return res;
}

static web_res_t ack(web_req_t *r, const char *case_id)
{
    web_res_t res;
    lb_val_t *body = NULL;
    if (r->body.len == 0)
        body = lb_map();
    else if (!web_body_json(r, &body, &res))
        return res;
    int rc = 0;
    const char *note = lb_map_str(body, "note");
    lb_val_t *args = lb_map();
    lb_put_str(args, "case_id", case_id, &rc);
    if (note)
        lb_put_str(args, "note", note, &rc);
    res = rc ? web_problem_rc(r, rc, NULL, NULL) : web_write_op(r, "case.ack", args, 200, true);
    lb_val_free(&body);
    lb_val_free(&args);
    return res;
}

/* GET /api/cases/{id} and /api/cases/{id}/history. */
static web_res_t get_case(web_req_t *r, const char *case_id, bool history)
{
    int rc = 0;
    lb_val_t *args = lb_map();
    lb_put_str(args, "case_id", case_id, &rc);
    const char *after = history ? web_query(r, "after_seq") : NULL;
    if (after && *after)
        lb_put_int(args, "after_seq", strtoll(after, NULL, 10), &rc);
    web_res_t res = rc ? web_problem_rc(r, rc, NULL, NULL)
                       : web_read_op(r, history ? "case.history" : "case.get", args, true);
    lb_val_free(&args);
    return res;
}

web_res_t web_api_cases(web_req_t *r, const char *rest)
{
    web_res_t res;
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    if (!get && !post)
        return web_problem(r, 405, "bad_request", "method not allowed here", NULL);
    if (!web_need_session(r, post, &res))
        return res;
    if (!*rest) {
        if (get)
            return list(r);
        lb_val_t *body = NULL;
        if (!web_body_json(r, &body, &res))
            return res;
        res = web_write_op(r, "case.open", body, 201, false);
        lb_val_free(&body);
        return res;
    }
    char id[LB_CASE_ID_MAX], action[64];
    int n = 0;
    uint64_t num;
    if (sscanf(rest, "/%23[A-Za-z0-9]%n", id, &n) != 1 || lb_case_id_parse(id, &num))
        return web_problem(r, 404, "not_found", "no such case", "case_id");
    const char *tail = rest + n;
    if (!*tail && get)
        return get_case(r, id, false);
    if (strcmp(tail, "/history") == 0 && get)
        return get_case(r, id, true);
    if (strcmp(tail, "/ack") == 0 && post)
        return ack(r, id);
    if (strcmp(tail, "/transfer") == 0 && post)
        return web_casework_transfer(r, id);
    if (sscanf(tail, "/actions/%63[a-z0-9_-]%n", action, &n) == 1 && !tail[n] && post)
        return act(r, id, action);
    return web_problem(r, 404, "not_found", "no such API path", NULL);
}
