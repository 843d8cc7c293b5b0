/*
 * http.c - libmicrohttpd glue: reading bodies with a size cap, the
 * dispatcher, responses with the security headers, RFC 9457 problems with
 * the daemon's code and field, and who is asking (a session cookie with its
 * CSRF token, or HTTP Basic where OpenRosa needs it).
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "http.h"

/* No inline script or style anywhere: the front-end loads its files from 'self'. */
static const char web_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

const char *const web_security_headers[] = {
    "Content-Security-Policy",
    web_csp,
    "X-Content-Type-Options",
    "nosniff",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    "Cache-Control",
    "no-store",
    NULL,
};

web_res_t web_respond(web_req_t *r, unsigned status, const char *ctype, const void *body,
                      size_t len, const char *const *headers)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    for (size_t i = 0; web_security_headers[i]; i += 2)
        MHD_add_response_header(resp, web_security_headers[i], web_security_headers[i + 1]);
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    for (size_t i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    web_res_t res = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return res;
}

unsigned web_status(int rc)
{
    switch (rc) {
    case 0:
        return 200;
    case LB_EBADREQ:
    case LB_EBADVER:
    case LB_EUNKNOWNOP:
        return 400;
    case LB_EFORBIDDEN:
        return 403;
    case LB_ENOTFOUND:
        return 404;
    case LB_ECONFLICT:
    case LB_EEXIST:
    case LB_EINVALID:
    case LB_EGUARD:
        return 409;
    case LB_ETOOLARGE:
        return 413;
    case LB_ERATELIMIT:
        return 429;
    case LB_EUNAVAIL:
    case LB_EIO:
    case LB_EDISKFULL:
        return 503;
    default:
        return 500;
    }
}

static const char *status_title(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

web_res_t web_problem_h(web_req_t *r, unsigned status, const char *code, const char *detail,
                        const char *field, const char *const *headers)
{
    int rc = 0;
    lb_val_t *p = lb_map();
    lb_put_str(p, "type", "about:blank", &rc);
    lb_put_str(p, "title", status_title(status), &rc);
    lb_put_int(p, "status", status, &rc);
    lb_put_str(p, "code", code, &rc);
    if (detail && *detail)
        lb_put_str(p, "detail", detail, &rc);
    if (field && *field)
        lb_put_str(p, "field", field, &rc);
    lb_buf_t b;
    lb_buf_init(&b);
    if (!rc && p)
        rc = lb_val_to_json(p, 0, &b);
    lb_val_free(&p);
    web_res_t res =
        rc ? MHD_NO : web_respond(r, status, "application/problem+json", b.p, b.len, headers);
    lb_buf_free(&b);
    return res;
}

web_res_t web_problem(web_req_t *r, unsigned status, const char *code, const char *detail,
                      const char *field)
{
    return web_problem_h(r, status, code, detail, field, NULL);
}

web_res_t web_problem_rc(web_req_t *r, int rc, const char *detail, const char *field)
{
    if (rc == LB_ENOMEM || rc == LB_ECORRUPT || rc == LB_EVERSION)
        rc = LB_EINTERNAL;
    if (rc == LB_EIO || rc == LB_EDISKFULL)
        rc = LB_EUNAVAIL;
    if (rc == LB_EEXIST)
        rc = LB_ECONFLICT;
    return web_problem(r, web_status(rc), lb_errcode(rc), detail, field);
}

web_res_t web_json(web_req_t *r, unsigned status, const lb_val_t *v, const char *const *headers)
{
    lb_buf_t b;
    lb_buf_init(&b);
    int rc = v ? lb_val_to_json(v, 0, &b) : lb_buf_append(&b, "null", 4);
    web_res_t res = rc ? web_problem_rc(r, LB_EINTERNAL, "encoding the reply", NULL)
                       : web_respond(r, status, "application/json", b.p, b.len, headers);
    lb_buf_free(&b);
    return res;
}

web_res_t web_reply(web_req_t *r, int rc, const lb_val_t *reply, const char *err,
                    unsigned ok_status, bool case_scoped)
{
    if (rc)
        return web_problem_rc(r, rc == LB_EUNAVAIL ? LB_EUNAVAIL : rc, err, NULL);
    if (lbc_reply_ok(reply))
        return web_json(r, ok_status, lbc_reply_result(reply), NULL);
    const char *code = "", *message = "", *field = "";
    int erc = lbc_reply_error(reply, &code, &message, &field);
    /* A case outside the person's areas does not exist for them. */
    if (case_scoped && erc == LB_EFORBIDDEN &&
        (!strcmp(field, "case_id") || !strcmp(field, "keep") || !strcmp(field, "drop")))
        return web_problem(r, 404, "not_found", "no such case", field);
    if (erc == LB_ERATELIMIT)
        return web_problem_h(r, 429, code, message, field,
                             (const char *const[]){"Retry-After", "1", NULL});
    return web_problem(r, web_status(erc), code, message, field);
}

const char *web_header(web_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *web_query(web_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int web_call(web_req_t *r, const char *id, const char *op, const lb_val_t *args, lb_val_t **reply,
             char *err, size_t errlen)
{
    return web_up_call(r->w->up, r->who.name, id, op, args, reply, err, errlen);
}

/* ---------------------------------------------------------------------- */
/* Who is asking                                                           */
/* ---------------------------------------------------------------------- */

bool web_need_session(web_req_t *r, bool csrf, web_res_t *res)
{
    const char *token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "lb_session");
    if (!token || web_session_get(r->w->people, token, &r->who) != 0) {
        *res = web_problem(r, 401, "unauthorized", "log in first (POST /api/session)", NULL);
        return false;
    }
    if (csrf) {
        const char *t = web_header(r, "X-CSRF-Token");
        if (!t || strlen(t) != WEB_TOKEN_HEX || sodium_memcmp(t, r->who.csrf, WEB_TOKEN_HEX)) {
            *res =
                web_problem(r, 403, "forbidden", "missing or wrong X-CSRF-Token", "X-CSRF-Token");
            return false;
        }
    }
    return true;
}

static web_res_t challenge(web_req_t *r, const char *detail)
{
    static const char *const h[] = {"WWW-Authenticate",
                                    "Basic realm=\"Logbook\", charset=\"UTF-8\"",
                                    "X-OpenRosa-Version", "1.0", NULL};
    return web_problem_h(r, 401, "unauthorized", detail, NULL, h);
}

bool web_need_basic(web_req_t *r, web_res_t *res)
{
    if (!r->w->tls && !r->w->cfg.behind_tls_proxy) {
        *res = web_problem(r, 403, "forbidden",
                           "Basic authentication is accepted only over TLS "
                           "(or behind_tls_proxy: true)",
                           NULL);
        return false;
    }
    const char *h = web_header(r, "Authorization");
    if (!h || strncasecmp(h, "Basic ", 6) != 0) {
        *res = challenge(r, "credentials needed");
        return false;
    }
    char dec[512];
    size_t n = 0;
    if (sodium_base642bin((unsigned char *)dec, sizeof dec - 1, h + 6, strlen(h + 6), NULL, &n,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        *res = challenge(r, "malformed credentials");
        return false;
    }
    dec[n] = '\0';
    char *colon = strchr(dec, ':');
    if (!colon || memchr(dec, '\0', n)) {
        sodium_memzero(dec, sizeof dec);
        *res = challenge(r, "malformed credentials");
        return false;
    }
    *colon = '\0';
    int retry = 0;
    int rc = web_people_login(r->w->people, dec, colon + 1, r->addr, &r->who, &retry);
    sodium_memzero(dec, sizeof dec);
    if (rc == LB_ERATELIMIT) {
        char s[16];
        snprintf(s, sizeof s, "%d", retry);
        *res = web_problem_h(r, 429, "rate_limited", "too many failed logins; try later", NULL,
                             (const char *const[]){"Retry-After", s, NULL});
        return false;
    }
    if (rc) {
        *res = challenge(r, "wrong name or password");
        return false;
    }
    return true;
}

bool web_need_person(web_req_t *r, web_res_t *res)
{
    if (MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "lb_session"))
        return web_need_session(r, false, res);
    return web_need_basic(r, res);
}

/* ---------------------------------------------------------------------- */
/* The dispatcher                                                          */
/* ---------------------------------------------------------------------- */

static void peer_address(web_req_t *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(r->addr, sizeof r->addr, "?");
    if (ci && ci->client_addr)
        getnameinfo(ci->client_addr,
                    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in),
                    r->addr, sizeof r->addr, NULL, 0, NI_NUMERICHOST);
    const char *xff = r->w->cfg.behind_tls_proxy ? web_header(r, "X-Forwarded-For") : NULL;
    if (xff) {
        /* The proxy appends the address it saw: the last entry is the one it vouches for. */
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ')
            last++;
        snprintf(r->addr, sizeof r->addr, "%.63s", last);
    }
}

static web_res_t route(web_req_t *r)
{
    const char *u = r->url;
    if (strncmp(u, "/api/", 5) == 0)
        return web_api(r);
    if (strcmp(u, "/metrics") == 0)
        return web_metrics(r);
    if (strcmp(u, "/formList") == 0 || strcmp(u, "/submission") == 0 ||
        strncmp(u, "/forms/", 7) == 0)
        return web_openrosa(r);
    return web_static(r);
}

static size_t body_limit(const char *url)
{
    return strcmp(url, "/submission") == 0 ? WEB_SUBMISSION_MAX : WEB_BODY_MAX;
}

web_res_t web_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                     const char *version, const char *upload, size_t *upload_size, void **con_cls);
web_res_t web_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                     const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    web_req_t *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->w = cls;
        r->conn = conn;
        r->url = url;
        r->method = method;
        r->limit = body_limit(url);
        lb_buf_init(&r->body);
        peer_address(r);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Over the limit, or no memory to hold it: either way the body is refused. */
        if (r->body.len + *upload_size > r->limit ||
            lb_buf_append(&r->body, upload, *upload_size) != 0)
            r->too_large = true;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return web_problem(r, 413, "too_large", "the body is too large", NULL);
    return route(r);
}

void web_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                   enum MHD_RequestTerminationCode toe);
void web_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                   enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    web_req_t *r = *con_cls;
    if (!r)
        return;
    lb_buf_free(&r->body);
    sodium_memzero(&r->who, sizeof r->who);
    free(r);
    *con_cls = NULL;
}
