/*
 * api.c - the JSON API of docs/API.md: sessions, reports, workflows, the
 * indicator catalog, and the dispatch to cases (api_cases.c) and events
 * (sse.c). Every daemon call is made as the logged-in person.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "http.h"

static bool is(web_req_t *r, const char *method)
{
    return strcmp(r->method, method) == 0;
}

static web_res_t not_allowed(web_req_t *r)
{
    return web_problem(r, 405, "bad_request", "method not allowed here", NULL);
}

/* {user, role, areas: [..], csrf} for who. */
static lb_val_t *session_view(const web_person_t *who)
{
    int rc = 0;
    lb_val_t *m = lb_map(), *areas = lb_arr();
    char buf[WEB_AREAS_MAX];
    snprintf(buf, sizeof buf, "%s", who->areas);
    for (char *save = NULL, *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save))
        lb_push(areas, lb_str(a), &rc);
    lb_put_str(m, "user", who->name, &rc);
    lb_put_str(m, "role", lb_role_name(who->role), &rc);
    lb_put(m, "areas", areas, &rc);
    lb_put_str(m, "csrf", who->csrf, &rc);
    if (rc)
        lb_val_free(&m);
    return m;
}

static void cookie(web_req_t *r, const char *token, int max_age, char *out, size_t cap)
{
    bool secure = r->w->tls || r->w->cfg.behind_tls_proxy;
    snprintf(out, cap, "lb_session=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", token,
             max_age, secure ? "; Secure" : "");
}

static web_res_t login(web_req_t *r)
{
    lb_val_t *body = NULL;
    char err[256] = "";
    int rc = web_json_parse((const char *)r->body.p, r->body.len, &body, err, sizeof err);
    if (rc)
        return web_problem_rc(r, rc, err, NULL);
    const char *name = lb_map_str(body, "name"), *pw = lb_map_str(body, "password");
    if (!name || !*name || strlen(name) >= LB_USER_NAME_MAX || !pw) {
        lb_val_free(&body);
        return web_problem(r, 400, "bad_request", "name and password are required",
                           !name ? "name" : "password");
    }
    int retry = 0;
    rc = web_people_login(r->w->people, name, pw, r->addr, &r->who, &retry);
    lb_val_t *pwv = lb_map_get(body, "password");
    sodium_memzero(pwv->s.p, pwv->s.n);
    lb_val_free(&body);
    if (rc == LB_ERATELIMIT) {
        char s[16];
        snprintf(s, sizeof s, "%d", retry);
        return web_problem_h(r, 429, "rate_limited", "too many failed logins; try later", NULL,
                             (const char *const[]){"Retry-After", s, NULL});
    }
    if (rc)
        return web_problem(r, 401, "unauthorized", "wrong name or password", NULL);
    if (web_session_new(r->w->people, &r->who))
        return web_problem(r, 503, "unavailable", "too many sessions", NULL);
    char c[256];
    cookie(r, r->who.token, WEB_SESSION_IDLE_S, c, sizeof c);
    lb_val_t *v = session_view(&r->who);
    web_res_t res = v ? web_json(r, 201, v, (const char *const[]){"Set-Cookie", c, NULL})
                      : web_problem_rc(r, LB_EINTERNAL, NULL, NULL);
    lb_val_free(&v);
    return res;
}

static web_res_t session(web_req_t *r)
{
    web_res_t res;
    if (is(r, "POST"))
        return login(r);
    if (is(r, "GET")) {
        if (!web_need_session(r, false, &res))
            return res;
        lb_val_t *v = session_view(&r->who);
        res = web_json(r, 200, v, NULL);
        lb_val_free(&v);
        return res;
    }
    if (is(r, "DELETE")) {
        if (!web_need_session(r, true, &res))
            return res;
        web_session_end(r->w->people, r->who.token);
        char c[256];
        cookie(r, "", 0, c, sizeof c);
        return web_respond(r, 204, NULL, NULL, 0, (const char *const[]){"Set-Cookie", c, NULL});
    }
    return not_allowed(r);
}

void web_arg_str(web_req_t *r, lb_val_t *args, const char *name, int *rc)
{
    const char *v = web_query(r, name);
    if (v && *v)
        lb_put_str(args, name, v, rc);
}

static web_res_t report(web_req_t *r)
{
    web_res_t res;
    if (!is(r, "GET"))
        return not_allowed(r);
    if (!web_need_session(r, false, &res))
        return res;
    int rc = 0;
    lb_val_t *args = lb_map(), *reply = NULL;
    web_arg_str(r, args, "area", &rc);
    const char *by = web_query(r, "by");
    lb_put_str(args, "by", by && *by ? by : "state", &rc);
    char err[256] = "";
    if (!rc)
        rc = web_call(r, NULL, "report.summary", args, &reply, err, sizeof err);
    res = web_reply(r, rc, reply, err, 200, false);
    lb_val_free(&args);
    lb_val_free(&reply);
    return res;
}

/* GET /api/workflows: every workflow's full definition (workflow.get), in one array. */
static web_res_t workflows(web_req_t *r)
{
    web_res_t res;
    if (!is(r, "GET"))
        return not_allowed(r);
    if (!web_need_session(r, false, &res))
        return res;
    web_forms_t forms;
    char err[256] = "";
    int rc = web_forms_build(r, &forms, err, sizeof err);
    if (rc)
        return web_problem_rc(r, rc, err, NULL);
    res = web_json(r, 200, forms.defs, NULL);
    web_forms_free(&forms);
    return res;
}

/* GET /api/indicators: the catalog the forms are made from. */
static web_res_t indicators(web_req_t *r)
{
    web_res_t res;
    if (!web_need_session(r, false, &res))
        return res;
    int rc = 0;
    lb_val_t *a = lb_arr();
    for (size_t i = 0; i < r->w->cat.n; i++) {
        const web_indicator_t *it = &r->w->cat.v[i];
        lb_val_t *m = lb_map();
        lb_put_str(m, "code", it->code, &rc);
        lb_put_str(m, "dimension", it->dimension, &rc);
        lb_put_str(m, "th", it->th, &rc);
        lb_put_str(m, "en", it->en, &rc);
        lb_push(a, m, &rc);
    }
    res = rc ? web_problem_rc(r, LB_EINTERNAL, NULL, NULL) : web_json(r, 200, a, NULL);
    lb_val_free(&a);
    return res;
}

web_res_t web_api(web_req_t *r)
{
    const char *p = r->url + 4; /* after "/api" */
    if (strcmp(p, "/session") == 0)
        return session(r);
    if (strcmp(p, "/cases") == 0 || strncmp(p, "/cases/", 7) == 0)
        return web_api_cases(r, p + 6);
    if (strcmp(p, "/report") == 0)
        return report(r);
    web_res_t res;
    if (web_casework(r, p, &res))
        return res;
    if (strcmp(p, "/workflows") == 0)
        return workflows(r);
    if (strcmp(p, "/indicators") == 0)
        return indicators(r);
    if (strcmp(p, "/events") == 0)
        return web_sse(r);
    return web_problem(r, 404, "not_found", "no such API path", NULL);
}
